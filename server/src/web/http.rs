//! The routes of the network listener: the web companion's files, the login link, and the
//! WebSocket. Every request passes the site check (`Host`, `Origin`, the rate limit) first.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::gate::{Gate, LOGIN_COOKIE, Refusal};
use super::listener::Peer;
use super::page;
use crate::rpc::framing::MAX_FRAME_BYTES;
use crate::service::Service;

/// What every route needs.
pub struct WebState {
    /// The service, shared with the Unix socket.
    pub service: Arc<Service>,
    /// Who may come in.
    pub gate: Arc<Gate>,
    /// The daemon's connection tasks, waited for at shutdown.
    pub tracker: TaskTracker,
    /// Cancelled at shutdown.
    pub closing: CancellationToken,
    /// Whether the listener uses TLS (the login cookie is then `Secure`).
    pub secure: bool,
}

/// The router, with the site check in front of every route.
pub fn router(state: Arc<WebState>) -> Router {
    Router::new()
        .route("/", get(|| async { page::serve(page::INDEX) }))
        .route("/protocol.js", get(|| async { page::serve(page::PROTOCOL) }))
        .route("/app.js", get(|| async { page::serve(page::SCRIPT) }))
        .route("/app.css", get(|| async { page::serve(page::STYLE) }))
        .route("/login", get(login))
        .route("/ws", get(upgrade))
        .layer(middleware::from_fn_with_state(state.clone(), check_site))
        .with_state(state)
}

fn refused(refusal: Refusal) -> Response {
    (refusal.status(), refusal.to_string()).into_response()
}

/// `Host` must name the daemon, `Origin` (when sent) must be its own, and an address that
/// failed too often lately is turned away before anything else is looked at.
async fn check_site(
    State(state): State<Arc<WebState>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    request: Request,
    next: Next,
) -> Response {
    if state.gate.is_throttled(peer.ip()) {
        return refused(Refusal::RateLimited);
    }
    if let Err(refusal) = state.gate.check_site(request.headers()) {
        state.gate.record_refusal(peer.ip(), request.uri().path(), refusal);
        return refused(refusal);
    }
    next.run(request).await
}

/// `/login?code=…`: a one-time code from `arbor web` becomes an HttpOnly, SameSite=Strict
/// cookie, and the browser goes on to the page.
async fn login(
    State(state): State<Arc<WebState>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let code = query.get("code").map(String::as_str).unwrap_or_default();
    match state.gate.log_in(code) {
        Ok(cookie) => {
            let secure = if state.secure { "; Secure" } else { "" };
            let set_cookie = format!("{LOGIN_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/{secure}", cookie.expose());
            let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
            if let Ok(value) = HeaderValue::from_str(&set_cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(refusal) => {
            state.gate.record_refusal(peer.ip(), "/login", refusal);
            refused(refusal)
        }
    }
}

/// `/ws`: the protocol, once the token or a login cookie is shown.
async fn upgrade(
    State(state): State<Arc<WebState>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Err(refusal) = state.gate.check_credentials(&headers) {
        state.gate.record_refusal(peer.ip(), "/ws", refusal);
        return refused(refusal);
    }
    tracing::debug!(%peer, "web client connected");
    let service = state.service.clone();
    let rotations = state.gate.rotations();
    let closing = state.closing.clone();
    let tracker = state.tracker.clone();
    upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| tracker.track_future(super::socket::serve(service, socket, rotations, closing)))
}
