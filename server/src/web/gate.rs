//! Who may open the WebSocket: every request must name the daemon itself in `Host` (against DNS
//! rebinding), a browser's request must come from the daemon's own `Origin` (against any other
//! web page driving it), and an upgrade must carry the token (an `Authorization: Bearer` header)
//! or the cookie of a browser that logged in with a one-time link. Refusals are counted per
//! address and rate limited, and logged without the token.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use axum::http::{HeaderMap, StatusCode, header};
use tokio::sync::watch;

use super::token::{self, Secret, TokenError};

/// Refusals from one address tolerated per window before it is turned away unheard.
const MAX_FAILURES: u32 = 10;
/// The rate limit's window.
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// How long a login link works once `arbor web` made it.
pub const LOGIN_CODE_LIFETIME: Duration = Duration::from_secs(600);
/// The cookie a browser gets from a login link.
pub const LOGIN_COOKIE: &str = "arbor_login";

/// Why a request was turned away. The message is what the client sees; it names no secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// `Host` is not one of the daemon's own names (a rebinding attack, or a mistyped address).
    #[error("the Host header does not name this Arbor daemon")]
    Host,
    /// `Origin` is a page other than the daemon's own.
    #[error("connections from other web pages are not allowed")]
    Origin,
    /// Neither a token nor a login cookie was given.
    #[error("authentication required: send the token as a Bearer header, or open the login link from `arbor web`")]
    NoCredentials,
    /// The token or the cookie is not (or no longer) valid.
    #[error("the token or login is not valid (it may have been rotated)")]
    BadCredentials,
    /// The login link is unknown, used already, or expired.
    #[error("this login link is not valid: it may have been used already or expired; run `arbor web` for a new one")]
    BadLoginCode,
    /// Too many refusals from this address lately.
    #[error("too many failed attempts; try again in a minute")]
    RateLimited,
}

impl Refusal {
    /// The HTTP status the upgrade (or page request) is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::Host | Refusal::Origin => StatusCode::FORBIDDEN,
            Refusal::NoCredentials | Refusal::BadCredentials | Refusal::BadLoginCode => StatusCode::UNAUTHORIZED,
            Refusal::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        }
    }
}

/// Refusals from one address in the current window.
struct Failures {
    since: Instant,
    count: u32,
}

/// The listener's access rules and credentials.
pub struct Gate {
    token_path: PathBuf,
    login_dir: PathBuf,
    token: RwLock<Secret>,
    /// Cookie values of the browsers that logged in since the token was last rotated.
    browsers: Mutex<Vec<Secret>>,
    hosts: Vec<String>,
    origins: Vec<String>,
    failures: Mutex<HashMap<IpAddr, Failures>>,
    rotations: watch::Sender<u64>,
}

impl Gate {
    /// Rules for a listener reachable as each of `hosts` (`name:port`, lower case) over `scheme`,
    /// with the token in `token_path` (created when missing) and login codes in `login_dir`.
    pub fn new(token_path: &Path, login_dir: &Path, scheme: &str, hosts: Vec<String>) -> Result<Gate, TokenError> {
        let token = token::read_or_create(token_path)?;
        let origins = hosts.iter().map(|host| format!("{scheme}://{host}")).collect();
        Ok(Gate {
            token_path: token_path.to_path_buf(),
            login_dir: login_dir.to_path_buf(),
            token: RwLock::new(token),
            browsers: Mutex::new(Vec::new()),
            hosts,
            origins,
            failures: Mutex::new(HashMap::new()),
            rotations: watch::Sender::new(0),
        })
    }

    /// The daemon's own origin, as a browser names it (the first of its names).
    pub fn origin(&self) -> &str {
        &self.origins[0]
    }

    /// Completes (with a new value) each time the token is rotated; connections end then.
    pub fn rotations(&self) -> watch::Receiver<u64> {
        self.rotations.subscribe()
    }

    /// Checks `Host` (every request) and `Origin` (when a browser sent one).
    pub fn check_site(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let host = header_text(headers, header::HOST).ok_or(Refusal::Host)?.to_ascii_lowercase();
        if !self.hosts.contains(&host) {
            return Err(Refusal::Host);
        }
        match header_text(headers, header::ORIGIN) {
            None => Ok(()),
            Some(origin) if self.origins.iter().any(|own| own.eq_ignore_ascii_case(origin)) => Ok(()),
            Some(_) => Err(Refusal::Origin),
        }
    }

    /// Checks the request's credentials: the token as a Bearer header, or a login cookie.
    pub fn check_credentials(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        if let Some(authorization) = header_text(headers, header::AUTHORIZATION) {
            let token = authorization.strip_prefix("Bearer ").ok_or(Refusal::BadCredentials)?.trim();
            return if self.token.read().expect("token lock poisoned").matches(token) {
                Ok(())
            } else {
                Err(Refusal::BadCredentials)
            };
        }
        let cookie = login_cookie(headers).ok_or(Refusal::NoCredentials)?;
        let browsers = self.browsers.lock().expect("browser logins poisoned");
        // Every stored login is compared, so the time taken says nothing about which one is near.
        let known = browsers.iter().fold(false, |found, browser| browser.matches(cookie) | found);
        if known { Ok(()) } else { Err(Refusal::BadCredentials) }
    }

    /// Whether `peer` is turned away for now because of earlier refusals.
    pub fn is_throttled(&self, peer: IpAddr) -> bool {
        let failures = self.failures.lock().expect("failure counts poisoned");
        failures.get(&peer).is_some_and(|entry| entry.since.elapsed() < FAILURE_WINDOW && entry.count >= MAX_FAILURES)
    }

    /// Counts a refusal of `peer` and logs it (the reason, never what was sent).
    pub fn record_refusal(&self, peer: IpAddr, path: &str, refusal: Refusal) {
        tracing::warn!(%peer, path, reason = %refusal, "refused a web request");
        let mut failures = self.failures.lock().expect("failure counts poisoned");
        failures.retain(|_, entry| entry.since.elapsed() < FAILURE_WINDOW);
        let entry = failures.entry(peer).or_insert(Failures { since: Instant::now(), count: 0 });
        entry.count = entry.count.saturating_add(1);
    }

    /// Takes a one-time login code made by `arbor web` and returns the cookie value that now
    /// stands for this browser. A code works once, within its lifetime.
    pub fn log_in(&self, code: &str) -> Result<Secret, Refusal> {
        if !is_login_code(code) {
            return Err(Refusal::BadLoginCode);
        }
        let path = self.login_dir.join(code);
        let made = std::fs::symlink_metadata(&path)
            .ok()
            .filter(|metadata| metadata.is_file())
            .and_then(|metadata| metadata.modified().ok())
            .ok_or(Refusal::BadLoginCode)?;
        // Only one remover succeeds, so a code raced by two requests still logs in one browser.
        std::fs::remove_file(&path).map_err(|_| Refusal::BadLoginCode)?;
        let age = SystemTime::now().duration_since(made).unwrap_or_default();
        if age > LOGIN_CODE_LIFETIME {
            return Err(Refusal::BadLoginCode);
        }
        let cookie = Secret::generate().map_err(|error| {
            tracing::error!(%error, "cannot make a login cookie");
            Refusal::BadLoginCode
        })?;
        self.browsers.lock().expect("browser logins poisoned").push(cookie.clone());
        Ok(cookie)
    }

    /// Reads the token file again after `arbor token rotate`: every browser login and every
    /// open connection ends, and only the new token is accepted.
    pub fn reload(&self) -> Result<(), TokenError> {
        let token = token::read(&self.token_path)?;
        *self.token.write().expect("token lock poisoned") = token;
        self.browsers.lock().expect("browser logins poisoned").clear();
        self.rotations.send_modify(|generation| *generation += 1);
        Ok(())
    }
}

/// Whether `code` has the shape of a login code (as `token::Secret` makes them).
pub fn is_login_code(code: &str) -> bool {
    code.len() == 64 && code.bytes().all(|byte| byte.is_ascii_hexdigit())
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The login cookie's value among the request's cookies.
fn login_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .find_map(|cookie| cookie.trim().strip_prefix(LOGIN_COOKIE)?.strip_prefix('='))
}
