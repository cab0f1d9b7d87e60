//! LSP base framing (`Content-Length` headers) and a guard in front of tower-lsp-server.
//!
//! tower-lsp-server's reader stops serving a connection after the first frame it cannot decode.
//! An editor plugin with a bug must not take the whole connection down with it, so every incoming
//! frame passes through [`guard`] first: frames whose body is a JSON object go on to the server,
//! anything else is answered here with a JSON-RPC parse error, and the connection carries on.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc;

use arbor_protocol::error_code;

/// Largest frame body accepted; a larger one is skipped and answered with an error.
pub const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;
/// Buffer size of the in-process pipes between the guard and the server.
const PIPE_BYTES: usize = 256 * 1024;

/// What reading one frame produced.
#[derive(Debug)]
pub enum Frame {
    /// A frame body.
    Body(Vec<u8>),
    /// A header block that could not be used; the reader has moved past it.
    BadHeader(String),
}

/// Reads one frame; None at the end of the stream.
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> std::io::Result<Option<Frame>> {
    let mut length: Option<Result<usize, String>> = None;
    let mut saw_header = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            if saw_header {
                break;
            }
            continue;
        }
        saw_header = true;
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length =
                Some(value.trim().parse::<usize>().map_err(|_| format!("invalid Content-Length '{}'", value.trim())));
        }
    }
    let length = match length {
        None => {
            return Ok(Some(Frame::BadHeader("missing Content-Length header".into())));
        }
        Some(Err(message)) => return Ok(Some(Frame::BadHeader(message))),
        Some(Ok(length)) => length,
    };
    if length > MAX_FRAME_BYTES {
        tokio::io::copy(&mut reader.take(length as u64), &mut tokio::io::sink()).await?;
        return Ok(Some(Frame::BadHeader(format!("frame of {length} bytes exceeds the limit of {MAX_FRAME_BYTES}"))));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(Some(Frame::Body(body)))
}

/// Writes one frame.
pub async fn write_frame<W: AsyncWrite + Unpin + ?Sized>(writer: &mut W, body: &[u8]) -> std::io::Result<()> {
    writer.write_all(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes()).await?;
    writer.write_all(body).await?;
    writer.flush().await
}

fn parse_error(detail: &str) -> Vec<u8> {
    json!({ "jsonrpc": "2.0", "id": null, "error": { "code": error_code::PARSE_ERROR, "message": format!("Parse error: {detail}") } })
        .to_string()
        .into_bytes()
}

/// Runs `serve` on guarded pipes in place of `input`/`output`, until the server ends (after the
/// client's `exit`) or the input ends and the server has answered everything.
pub async fn guard<I, O, F, Fut>(input: I, mut output: O, serve: F)
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
        let mut reader = BufReader::new(input);
        loop {
            let frame = match read_frame(&mut reader).await {
                Ok(Some(frame)) => frame,
                Ok(None) | Err(_) => break,
            };
            match frame {
                Frame::Body(body) => match serde_json::from_slice::<Value>(&body) {
                    Ok(Value::Object(_)) => {
                        if write_frame(&mut to_server, &body).await.is_err() {
                            break;
                        }
                    }
                    Ok(_) => {
                        let _ = errors.send(parse_error("a message must be a JSON object")).await;
                    }
                    Err(error) => {
                        let _ = errors.send(parse_error(&error.to_string())).await;
                    }
                },
                Frame::BadHeader(message) => {
                    let _ = errors.send(parse_error(&message)).await;
                }
            }
        }
        // Dropping `to_server` ends the server's input, so it finishes and closes its output.
    };

    let write_output = async move {
        let mut from_server = BufReader::new(from_server);
        loop {
            tokio::select! {
                frame = read_frame(&mut from_server) => match frame {
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
