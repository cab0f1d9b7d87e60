//! The daemon's network listener (`arbor daemon --listen`): the protocol over WebSocket for
//! programs and browsers on other devices, and the web companion page, on one port.
//!
//! `listen` checks where to bind (loopback plain, anything else TLS), `tls` loads or generates
//! the certificate, `token` keeps the access token, `gate` decides who comes in (Host, Origin,
//! token or login cookie, rate limit), `listener` accepts connections (TLS handshakes in their
//! own tasks), `command` is `arbor web` and `arbor token`, `http` routes requests, `socket` serves one WebSocket through the same connection
//! code as the Unix socket, and `page` holds the companion's files.

pub mod command;
pub mod gate;
mod http;
pub mod listen;
mod listener;
mod page;
mod socket;
pub mod tls;
pub mod token;

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use listen::{Listen, ListenConfig, ListenError, Security};
pub use socket::CLOSE_TOKEN_ROTATED;

use crate::paths::{Paths, create_private_dir};
use crate::service::Service;

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The settings are not usable.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The token file could not be used.
    #[error(transparent)]
    Token(#[from] token::TokenError),
    /// Binding, or a directory of the listener's, failed.
    #[error("cannot listen on {what}: {source}")]
    Io { what: String, source: std::io::Error },
}

/// A listener that is serving.
#[derive(Debug, Clone)]
pub struct Bound {
    /// The daemon's own origin, such as `http://127.0.0.1:7420`.
    pub url: String,
    /// The port it is bound to.
    pub port: u16,
}

/// Where `arbor web` leaves one-time login codes for the daemon to take.
pub fn login_dir(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join("login")
}

/// Makes a one-time login code the daemon will accept (once, for a few minutes): a file named
/// after it in the private runtime directory, which only the user can write.
pub fn mint_login_code(runtime_dir: &Path) -> Result<String, WebError> {
    let dir = login_dir(runtime_dir);
    let io = |source| WebError::Io { what: dir.display().to_string(), source };
    create_private_dir(&dir).map_err(io)?;
    let code = token::Secret::generate()?.expose().to_string();
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(dir.join(&code)).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(code)
}

/// Binds the listener and serves it in tasks tracked by `tracker` until `closing` is
/// cancelled. SIGUSR1 (sent by `arbor token rotate`) makes it read the token file again and end
/// every web connection.
pub async fn start(
    listen: &Listen,
    paths: &Paths,
    service: Arc<Service>,
    tracker: TaskTracker,
    closing: CancellationToken,
) -> Result<Bound, WebError> {
    let tls = match &listen.security {
        Security::Plain => None,
        Security::Tls(files) => Some(tls::server_config(files)?),
        Security::TlsGenerated => {
            let files = tls::pinned_certificate(&paths.data_dir.join("tls"), &listen.certificate_names())?;
            Some(tls::server_config(&files)?)
        }
    };
    let tcp = tokio::net::TcpListener::bind(listen.address)
        .await
        .map_err(|source| WebError::Io { what: listen.address.to_string(), source })?;
    let port = tcp.local_addr().map_err(|source| WebError::Io { what: listen.address.to_string(), source })?.port();
    let login = login_dir(&paths.runtime_dir);
    create_private_dir(&login).map_err(|source| WebError::Io { what: login.display().to_string(), source })?;
    let gate =
        Arc::new(gate::Gate::new(&token::token_file(&paths.runtime_dir), &login, listen.scheme(), listen.hosts(port))?);
    let url = gate.origin().to_string();
    announce(listen, &url, paths);

    let mut rotate_signal =
        signal(SignalKind::user_defined1()).map_err(|source| WebError::Io { what: "SIGUSR1".into(), source })?;
    let reloading = gate.clone();
    let stop_reloading = closing.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                Some(()) = rotate_signal.recv() => match reloading.reload() {
                    Ok(()) => tracing::info!("access token rotated; web connections closed"),
                    Err(error) => tracing::error!(%error, "could not read the rotated token"),
                },
                () = stop_reloading.cancelled() => return,
            }
        }
    });

    let state = Arc::new(http::WebState {
        service,
        gate,
        tracker: tracker.clone(),
        closing: closing.clone(),
        secure: tls.is_some(),
    });
    let app = http::router(state).into_make_service_with_connect_info::<listener::Peer>();
    let listener = listener::WebListener::new(tcp, tls);
    tracker.spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(closing.cancelled_owned()).await;
        if let Err(error) = served {
            tracing::error!(%error, "the web listener stopped");
        }
    });
    Ok(Bound { url, port })
}

/// Says where the listener is; loudly when other machines can reach it.
fn announce(listen: &Listen, url: &str, paths: &Paths) {
    if listen.address.ip().is_loopback() {
        tracing::info!(%url, "listening for web clients on this machine only");
        return;
    }
    let certificate = match &listen.security {
        Security::Tls(files) => files.cert.display().to_string(),
        _ => paths.data_dir.join("tls").join("cert.pem").display().to_string(),
    };
    let warning = format!(
        "WARNING: Arbor is reachable from other machines at {url} (bound to {}). Anyone with the token in \
         {} can drive your agents. TLS certificate: {certificate} (clients trust exactly this file).",
        listen.address,
        token::token_file(&paths.runtime_dir).display()
    );
    tracing::warn!("{warning}");
    eprintln!("{warning}");
}
