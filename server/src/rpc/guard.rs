//! The guard in front of tower-lsp-server.
//!
//! tower-lsp-server stops reading a connection after the first frame it cannot decode, and an
//! editor plugin with a bug (or a hostile client) must not take the connection, or a standalone
//! server with its sessions, down with it. So every incoming byte passes through
//! [`InboundGuard`] first: frames are cut with bounded memory ([`FrameDecoder`]), each body's
//! JSON-RPC envelope is checked in full ([`envelope::check`]), and only valid messages go on to
//! the server; everything else is answered (or, for notifications, dropped) here and the
//! connection carries on.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;

use arbor_protocol::error_code;

use super::envelope::{self, Verdict};
use super::framing::{Frame, FrameDecoder, MAX_FRAME_BYTES, SharedBody, append_frame, write_frame};

/// Buffer size of the in-process pipes between the guard and the server.
const PIPE_BYTES: usize = 256 * 1024;
/// How much is read from the client at a time.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Frames sent to the client by the service itself, not through the server, waiting to be
/// written; more wait in their senders, so a client that does not read holds them back.
const DIRECT_FRAMES: usize = 256;
/// Frames that are ready are gathered into one write of about this many bytes at most.
const WRITE_BATCH_BYTES: usize = 256 * 1024;

/// What the guard made of the client's bytes.
#[derive(Debug, PartialEq)]
pub enum Inbound {
    /// A valid message for the server.
    Forward(Vec<u8>),
    /// An error response for the client.
    Reply(Vec<u8>),
    /// Dropped, for this reason (a bad notification, a response to nothing).
    Ignored(String),
}

/// The client-side half of the guard as a plain state machine over bytes: [`feed`](Self::feed)
/// it what the client sent, in any pieces, then iterate it for the outcome of each frame.
#[derive(Debug)]
pub struct InboundGuard {
    frames: FrameDecoder,
}

impl Default for InboundGuard {
    fn default() -> Self {
        Self { frames: FrameDecoder::new(MAX_FRAME_BYTES) }
    }
}

impl InboundGuard {
    /// Consumes bytes from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.frames.feed(bytes);
    }
}

/// What each complete frame comes to, in order, once fed.
impl Iterator for InboundGuard {
    type Item = Inbound;

    fn next(&mut self) -> Option<Inbound> {
        Some(match self.frames.next()? {
            Frame::BadHeader(problem) => Inbound::Reply(envelope::error_response(
                None,
                error_code::PARSE_ERROR,
                &format!("Parse error: {problem}"),
            )),
            Frame::Body(body) => match envelope::check(&body) {
                Verdict::Forward(message) => Inbound::Forward(message),
                Verdict::Refuse(reply) => Inbound::Reply(reply),
                Verdict::Ignore(reason) => Inbound::Ignored(reason),
            },
        })
    }
}

/// Runs `serve` on guarded pipes in place of `input`/`output`, until the server ends (after the
/// client's `exit`) or the input ends and the server has answered everything. `serve` also gets
/// a sender of frame bodies that go to the client directly, beside the server's own frames (the
/// session events, rendered once for every client).
pub async fn guard<I, O, F, Fut>(mut input: I, mut output: O, serve: F)
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
    F: FnOnce(DuplexStream, DuplexStream, mpsc::Sender<SharedBody>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (server_input, mut to_server) = tokio::io::duplex(PIPE_BYTES);
    let (mut from_server, server_output) = tokio::io::duplex(PIPE_BYTES);
    let (errors, mut error_frames) = mpsc::channel::<Vec<u8>>(64);
    let (direct, mut direct_frames) = mpsc::channel::<SharedBody>(DIRECT_FRAMES);

    let read_input = async move {
        let mut inbound = InboundGuard::default();
        let mut chunk = vec![0; READ_CHUNK_BYTES];
        loop {
            match input.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(read) => inbound.feed(&chunk[..read]),
            }
            for outcome in &mut inbound {
                match outcome {
                    Inbound::Forward(message) => {
                        if write_frame(&mut to_server, &message).await.is_err() {
                            return;
                        }
                    }
                    Inbound::Reply(reply) => {
                        if errors.send(reply).await.is_err() {
                            return;
                        }
                    }
                    Inbound::Ignored(reason) => tracing::debug!(%reason, "ignored a message"),
                }
            }
        }
        // Dropping `to_server` ends the server's input, so it finishes and closes its output.
    };

    let write_output = async move {
        // The server's own frames are trusted: no size limit on the way out.
        let mut frames = FrameDecoder::new(usize::MAX);
        let mut chunk = vec![0; READ_CHUNK_BYTES];
        let mut batch = Vec::new();
        loop {
            tokio::select! {
                read = from_server.read(&mut chunk) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(read) => frames.feed(&chunk[..read]),
                },
                Some(body) = error_frames.recv() => append_frame(&mut batch, &body),
                Some(body) = direct_frames.recv() => append_frame(&mut batch, (*body).as_ref()),
            }
            while batch.len() < WRITE_BATCH_BYTES {
                match direct_frames.try_recv() {
                    Ok(body) => append_frame(&mut batch, (*body).as_ref()),
                    Err(_) => break,
                }
            }
            for frame in &mut frames {
                if let Frame::Body(body) = frame {
                    append_frame(&mut batch, &body);
                }
            }
            // Every frame complete so far leaves in one write: while a session floods, a write
            // (and a flush) per frame was most of what a notification cost.
            if !batch.is_empty() {
                if output.write_all(&batch).await.is_err() || output.flush().await.is_err() {
                    return;
                }
                batch.clear();
            }
        }
    };

    let core = async { tokio::join!(serve(server_input, server_output, direct), write_output) };
    tokio::pin!(core);
    tokio::select! {
        _ = &mut core => {}
        _ = read_input => {
            core.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll};

    use super::*;

    /// An output that records every write it is given.
    #[derive(Clone, Default)]
    struct Recorded(Arc<Mutex<Vec<Vec<u8>>>>);

    impl AsyncWrite for Recorded {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, bytes: &[u8]) -> Poll<std::io::Result<usize>> {
            self.0.lock().unwrap().push(bytes.to_vec());
            Poll::Ready(Ok(bytes.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn body(source: &str, index: usize) -> Vec<u8> {
        format!(r#"{{"jsonrpc":"2.0","method":"{source}","params":{index}}}"#).into_bytes()
    }

    /// Frames from the server and frames sent directly that are ready at the same time reach the
    /// client whole, each source in its order, in a write or two rather than one (or two) each.
    #[tokio::test]
    async fn frames_ready_together_leave_whole_and_in_order_in_few_writes() {
        let output = Recorded::default();
        guard(tokio::io::empty(), output.clone(), |_input, mut server_output, direct| async move {
            for index in 0..100 {
                direct.send(Arc::new(body("direct", index)) as SharedBody).await.unwrap();
            }
            let mut frames = Vec::new();
            for index in 0..100 {
                append_frame(&mut frames, &body("server", index));
            }
            server_output.write_all(&frames).await.unwrap();
        })
        .await;

        let writes = output.0.lock().unwrap().clone();
        let mut decoder = FrameDecoder::new(usize::MAX);
        decoder.feed(&writes.concat());
        let bodies: Vec<Vec<u8>> =
            decoder.filter_map(|frame| if let Frame::Body(body) = frame { Some(body) } else { None }).collect();
        for source in ["direct", "server"] {
            let received: Vec<&Vec<u8>> = bodies
                .iter()
                .filter(|body| body.windows(source.len()).any(|window| window == source.as_bytes()))
                .collect();
            let expected: Vec<Vec<u8>> = (0..100).map(|index| body(source, index)).collect();
            assert_eq!(received, expected.iter().collect::<Vec<_>>(), "{source} frames");
        }
        assert_eq!(bodies.len(), 200);
        assert!(writes.len() <= 2, "{} writes for 200 frames ready together", writes.len());
    }
}
