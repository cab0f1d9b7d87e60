//! One WebSocket client served by the same connection code as the Unix socket: each text (or
//! binary) message is one JSON-RPC message, framed into the guard and tower-lsp-server exactly as
//! a socket client's bytes are, and each frame the server writes goes out as one text message.
//! Nothing here queues without bound: the pipes are fixed-size and a message to a client that
//! does not read waits, so the server's notifications wait too and its subscriptions fall back
//! to re-reading the store.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::rpc::framing::{Frame, FrameReader, write_frame};
use crate::service::Service;

/// Buffer size of the in-process pipes between the socket and the connection's server.
const PIPE_BYTES: usize = 256 * 1024;
/// How long a closing message may take before the connection is dropped anyway.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Close code sent when the access token was rotated (a private-use code).
pub const CLOSE_TOKEN_ROTATED: u16 = 4001;
/// Close code sent at shutdown ("going away").
const CLOSE_GOING_AWAY: u16 = 1001;

/// Serves `socket` until the client leaves, the token is rotated or the daemon shuts down.
pub async fn serve(
    service: Arc<Service>,
    socket: WebSocket,
    mut rotations: watch::Receiver<u64>,
    closing: CancellationToken,
) {
    let (mut to_client, mut from_client) = socket.split();
    let (server_input, mut to_server) = tokio::io::duplex(PIPE_BYTES);
    let (from_server, server_output) = tokio::io::duplex(PIPE_BYTES);

    let inbound = async move {
        while let Some(Ok(message)) = from_client.next().await {
            let body = match message {
                Message::Text(text) => text.as_bytes().to_vec(),
                Message::Binary(bytes) => bytes.to_vec(),
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            if write_frame(&mut to_server, &body).await.is_err() {
                break;
            }
        }
        // Dropping `to_server` ends the server's input, so it answers what it has and finishes.
    };

    let outbound = async move {
        let stop = async {
            tokio::select! {
                _ = closing.cancelled() => (CLOSE_GOING_AWAY, "the Arbor daemon is shutting down"),
                _ = rotations.changed() => (CLOSE_TOKEN_ROTATED, "the access token was rotated; log in again"),
            }
        };
        tokio::pin!(stop);
        // The server's own frames are trusted: no size limit on the way out.
        let mut frames = FrameReader::new(from_server, usize::MAX);
        let close = loop {
            let body = tokio::select! {
                frame = frames.next_frame() => match frame {
                    Ok(Some(Frame::Body(body))) => body,
                    Ok(Some(Frame::BadHeader(_))) => continue,
                    Ok(None) | Err(_) => break None,
                },
                reason = &mut stop => break Some(reason),
            };
            let Ok(text) = String::from_utf8(body) else { continue };
            tokio::select! {
                sent = to_client.send(Message::Text(Utf8Bytes::from(text))) => if sent.is_err() { break None },
                reason = &mut stop => break Some(reason),
            }
        };
        let frame = close.map(|(code, reason)| CloseFrame { code, reason: Utf8Bytes::from_static(reason) });
        let _ = tokio::time::timeout(CLOSE_GRACE, to_client.send(Message::Close(frame))).await;
    };

    let serving = async {
        tokio::join!(crate::rpc::lsp::serve(service, server_input, server_output), inbound);
    };
    // The connection is over when the outbound side ends: the server's output ended (the client
    // left, or sent `exit`, and the server finished; what it wrote last is still sent) or the
    // connection must close.
    tokio::pin!(outbound, serving);
    tokio::select! {
        () = &mut outbound => {}
        () = &mut serving => outbound.await,
    }
}
