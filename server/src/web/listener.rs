//! The TCP listener behind axum, with the TLS handshake (when the listener uses TLS) done in its
//! own task per connection, so a client that stalls its handshake holds up nobody else.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::{IncomingStream, Listener};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;

/// How long a client has to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The address a request came from, for the rate limit and the log.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl axum::extract::connect_info::Connected<IncomingStream<'_, WebListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, WebListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// Accepted connections, plain or after their TLS handshake.
pub struct WebListener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl WebListener {
    /// Serves connections accepted on `tcp`, through TLS with `tls` when given.
    pub fn new(tcp: TcpListener, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        Self { tcp, tls: tls.map(TlsAcceptor::from), handshakes: JoinSet::new() }
    }
}

impl Listener for WebListener {
    type Io = Either<TcpStream, TlsStream<TcpStream>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, SocketAddr) {
        loop {
            tokio::select! {
                accepted = self.tcp.accept() => match accepted {
                    Ok((stream, peer)) => match &self.tls {
                        None => return (Either::Left(stream), peer),
                        Some(acceptor) => {
                            let acceptor = acceptor.clone();
                            self.handshakes.spawn(async move {
                                let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                                match handshake {
                                    Ok(Ok(stream)) => Some((stream, peer)),
                                    Ok(Err(error)) => {
                                        tracing::debug!(%peer, %error, "TLS handshake failed");
                                        None
                                    }
                                    Err(_) => None,
                                }
                            });
                        }
                    },
                    Err(error) => {
                        // Out of descriptors, most likely: wait a little rather than spin.
                        tracing::warn!(%error, "accepting a web connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    if let Ok(Some((stream, peer))) = done {
                        return (Either::Right(stream), peer);
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}
