//! `arbor lsp --connect ws[s]://HOST:PORT`: the editor bridge to a daemon on another machine (or
//! in another runtime directory), over its WebSocket. Each LSP frame from stdin goes out as one
//! text message (jsonrpsee's WebSocket transport, with the token as a Bearer header), and each
//! message received is written to stdout as one frame, so the editor sees exactly what the local
//! bridge would give it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use jsonrpsee::client_transport::ws::{HeaderMap, HeaderValue, Url, WsHandshakeError, WsTransportClientBuilder};
use jsonrpsee::core::client::{ReceivedMessage, TransportReceiverT, TransportSenderT};
use tokio::io::AsyncWriteExt;

use super::framing::{Frame, FrameReader, MAX_FRAME_BYTES, write_frame};
use crate::paths::Paths;
use crate::web::token;

/// How long connecting (TCP, TLS and the upgrade) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// The environment variable that may hold the token instead of a file.
const TOKEN_VARIABLE: &str = "ARBOR_TOKEN";

/// The token to present: from `token_file`, else `$ARBOR_TOKEN`, else this machine's token file.
fn token(paths: &Paths, token_file: Option<PathBuf>) -> anyhow::Result<token::Secret> {
    let path = match (token_file, std::env::var(TOKEN_VARIABLE)) {
        (Some(path), _) => path,
        (None, Ok(text)) if !text.trim().is_empty() => return Ok(token::Secret::from_text(text.trim())?),
        (None, _) => token::token_file(&paths.runtime_dir),
    };
    Ok(token::read(&path)?)
}

/// Bridges stdio to the daemon at `url` until either side ends.
pub async fn run(
    paths: &Paths,
    url: &str,
    token_file: Option<PathBuf>,
    ca_cert: Option<PathBuf>,
) -> anyhow::Result<()> {
    let mut url = Url::parse(url).with_context(|| format!("'{url}' is not a URL"))?;
    if !matches!(url.scheme(), "ws" | "wss") {
        bail!("--connect needs a ws:// or wss:// URL, not {}", url.scheme());
    }
    if url.path() == "/" || url.path().is_empty() {
        url.set_path("/ws");
    }
    let secret = token(paths, token_file)?;
    let mut headers = HeaderMap::new();
    let mut bearer = HeaderValue::from_str(&format!("Bearer {}", secret.expose())).context("the token is not valid")?;
    bearer.set_sensitive(true);
    headers.insert("authorization", bearer);
    let mut builder = WsTransportClientBuilder::default()
        .set_headers(headers)
        .connection_timeout(CONNECT_TIMEOUT)
        .max_request_size(MAX_FRAME_BYTES as u32)
        .max_response_size(u32::MAX)
        // One attempt, and no redirect followed: the token goes to the URL given and nowhere else.
        .max_redirections(1);
    if let Some(path) = ca_cert {
        builder = builder.with_custom_cert_store(crate::web::tls::client_config(&path)?);
    }
    let (mut sender, mut receiver) = builder.build(url.clone()).await.map_err(|error| refusal(&url, error))?;

    let upstream = tokio::spawn(async move {
        let mut frames = FrameReader::new(tokio::io::stdin(), MAX_FRAME_BYTES);
        loop {
            match frames.next_frame().await {
                Ok(Some(Frame::Body(body))) => {
                    // The daemon's guard answers a body that is not JSON; it must still be text.
                    let text = String::from_utf8_lossy(&body).into_owned();
                    if sender.send(text).await.is_err() {
                        return;
                    }
                }
                Ok(Some(Frame::BadHeader(problem))) => tracing::warn!(%problem, "dropped a frame from the editor"),
                Ok(None) | Err(_) => break,
            }
        }
        // The editor went away: say goodbye, so the daemon ends the connection at once.
        let _ = sender.close().await;
    });
    let mut stdout = tokio::io::stdout();
    let ended = loop {
        match receiver.receive().await {
            Ok(ReceivedMessage::Text(text)) => write_frame(&mut stdout, text.as_bytes()).await?,
            Ok(ReceivedMessage::Bytes(bytes)) => write_frame(&mut stdout, &bytes).await?,
            Ok(ReceivedMessage::Pong) => {}
            Err(error) => break error,
        }
    };
    let _ = stdout.flush().await;
    upstream.abort();
    tracing::info!(%ended, "the connection to the Arbor daemon ended");
    Ok(())
}

/// What a failed connection means for the user.
fn refusal(url: &Url, error: WsHandshakeError) -> anyhow::Error {
    let why = match &error {
        WsHandshakeError::Rejected { status_code: 401, .. } => "it refused the token (wrong, or rotated)".to_string(),
        WsHandshakeError::Rejected { status_code: 403, .. } => {
            "it does not answer to this host name (use a name it listens as: --allow-host)".to_string()
        }
        WsHandshakeError::Rejected { status_code: 429, .. } => "too many failed attempts; try again in a minute".into(),
        other => other.to_string(),
    };
    anyhow::anyhow!("cannot connect to the Arbor daemon at {url}: {why}")
}
