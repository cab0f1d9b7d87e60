//! The web companion's files, built into the binary (hand-written, no build step), served with
//! a strict content security policy: scripts and styles only from the daemon, connections only
//! back to it, and no framing by other pages.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// One file of the page.
pub struct Asset {
    content_type: &'static str,
    body: &'static str,
}

/// The page.
pub const INDEX: Asset = Asset { content_type: "text/html; charset=utf-8", body: include_str!("page/index.html") };
/// The method and notification names its script uses, generated from the method table.
pub const PROTOCOL: Asset =
    Asset { content_type: "text/javascript; charset=utf-8", body: include_str!("page/protocol.js") };
/// Its script.
pub const SCRIPT: Asset = Asset { content_type: "text/javascript; charset=utf-8", body: include_str!("page/app.js") };
/// Its style sheet.
pub const STYLE: Asset = Asset { content_type: "text/css; charset=utf-8", body: include_str!("page/app.css") };

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                      img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// `asset` with its type and the page's security headers.
pub fn serve(asset: Asset) -> Response {
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
