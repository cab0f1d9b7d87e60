//! The guard in front of tower-lsp-server.
//!
//! tower-lsp-server stops reading a connection after the first frame it cannot decode, and an
//! editor plugin with a bug (or a hostile client) must not take the connection, or a standalone
//! server with its sessions, down with it. So every incoming byte passes through
//! [`InboundGuard`] first: frames are cut with bounded memory ([`FrameDecoder`]), each body's
//! JSON-RPC envelope is checked in full ([`envelope::check`]), and only valid messages go on to
//! the server; everything else is answered (or, for notifications, dropped) here and the
//! connection carries on.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, DuplexStream};
use tokio::sync::mpsc;

use arbor_protocol::error_code;

use super::envelope::{self, Verdict};
use super::framing::{Frame, FrameDecoder, FrameReader, MAX_FRAME_BYTES, write_frame};

/// Buffer size of the in-process pipes between the guard and the server.
const PIPE_BYTES: usize = 256 * 1024;
/// How much is read from the client at a time.
const READ_CHUNK_BYTES: usize = 64 * 1024;

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
/// client's `exit`) or the input ends and the server has answered everything.
pub async fn guard<I, O, F, Fut>(mut input: I, mut output: O, serve: F)
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
    F: FnOnce(DuplexStream, DuplexStream) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (server_input, mut to_server) = tokio::io::duplex(PIPE_BYTES);
    let (from_server, server_output) = tokio::io::duplex(PIPE_BYTES);
    let (errors, mut error_frames) = mpsc::channel::<Vec<u8>>(64);

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
        let mut from_server = FrameReader::new(from_server, usize::MAX);
        loop {
            tokio::select! {
                frame = from_server.next_frame() => match frame {
                    Ok(Some(Frame::Body(body))) => {
                        if write_frame(&mut output, &body).await.is_err() {
                            return;
                        }
                    }
                    Ok(Some(Frame::BadHeader(_))) => {}
                    Ok(None) | Err(_) => return,
                },
                Some(body) = error_frames.recv() => {
                    if write_frame(&mut output, &body).await.is_err() {
                        return;
                    }
                }
            }
        }
    };

    let core = async { tokio::join!(serve(server_input, server_output), write_output) };
    tokio::pin!(core);
    tokio::select! {
        _ = &mut core => {}
        _ = read_input => {
            core.await;
        }
    }
}
