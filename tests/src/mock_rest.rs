//! What the mocks of the forges' REST APIs (`mock_github.rs`, `mock_gitlab.rs`) share: an
//! HTTP/1.1 server on 127.0.0.1 that records every request, refuses a wrong bearer token with
//! 401, answers the next request a test names with any error (a rate limit with `Retry-After`),
//! and answers a conditional read with `304 Not Modified` while nothing changed. What each
//! forge's paths mean is its [`Routes`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::http::{RawRequest, read_request};

/// A request a mock received.
#[derive(Debug, Clone)]
pub struct Received {
    /// HTTP method.
    pub method: String,
    /// Path with query.
    pub path: String,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// The `If-None-Match` header.
    pub if_none_match: Option<String>,
    /// The JSON body (Null when absent).
    pub body: Value,
    /// The status answered.
    pub status: u16,
    /// When it arrived.
    pub at: Instant,
}

/// An answer a test forces on the next request whose method and path match.
#[derive(Debug, Clone)]
pub struct Failure {
    /// `GET`, `POST` …
    pub method: String,
    /// A part of the path.
    pub path_contains: String,
    /// The status.
    pub status: u16,
    /// The forge's `message`.
    pub message: String,
    /// A `Retry-After` header, in seconds.
    pub retry_after: Option<u64>,
}

/// One answer: status, body, extra headers.
pub struct Answer {
    /// The status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
    /// Headers beyond the content type and length.
    pub headers: Vec<(String, String)>,
}

impl Answer {
    /// A JSON answer.
    pub fn json(status: u16, body: Value) -> Answer {
        Answer { status, body, headers: Vec::new() }
    }
}

/// What one forge's API answers.
pub trait Routes: Clone + Send + Sync + 'static {
    /// What the forge keeps (its pull or merge requests …).
    type State: Default + Send + 'static;

    /// The message of the forge's 401.
    const UNAUTHORIZED: &'static str;

    /// The answer to an authorized request; `url` is the mock's own base URL.
    fn route(&self, state: &mut Self::State, url: &str, request: &RawRequest, body: &Value) -> Answer;

    /// An error answer in the forge's shape.
    fn error(&self, status: u16, message: &str) -> Answer;

    /// The headers the forge sends with a rate limit, beyond `Retry-After`.
    fn rate_limit_headers(&self) -> Vec<(String, String)>;
}

/// A forge's state with what the mock itself keeps.
pub struct Shared<S> {
    /// The forge's state.
    pub forge: S,
    /// Bumped on every change; part of every `ETag`.
    version: u64,
    failures: VecDeque<Failure>,
    received: Vec<Received>,
}

/// A running mock of a forge's API.
pub struct MockRest<R: Routes> {
    /// Its base URL, `http://127.0.0.1:PORT` (with the forge's API path, if any).
    pub url: String,
    state: Arc<Mutex<Shared<R::State>>>,
}

impl<R: Routes> Clone for MockRest<R> {
    fn clone(&self) -> Self {
        MockRest { url: self.url.clone(), state: self.state.clone() }
    }
}

impl<R: Routes> MockRest<R> {
    /// Starts the mock at `http://127.0.0.1:PORT{prefix}`. Requests must carry
    /// `Authorization: Bearer TOKEN`.
    pub async fn start(routes: R, token: &str, prefix: &str) -> MockRest<R> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the mock forge");
        let url = format!("http://{}{prefix}", listener.local_addr().expect("local address"));
        let shared = Shared { forge: R::State::default(), version: 0, failures: VecDeque::new(), received: Vec::new() };
        let state = Arc::new(Mutex::new(shared));
        let server = Server {
            routes,
            state: state.clone(),
            token: format!("Bearer {token}"),
            url: url.clone(),
            prefix: prefix.to_string(),
        };
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = server.clone();
                tokio::spawn(async move {
                    let _ = server.serve(stream).await;
                });
            }
        });
        MockRest { url, state }
    }

    /// Every request received, in order (paths without the prefix).
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().expect("mock poisoned").received.clone()
    }

    /// Answers the next request matching `failure` with it.
    pub fn fail_next(&self, failure: Failure) {
        self.state.lock().expect("mock poisoned").failures.push_back(failure);
    }

    /// Reads the forge's state.
    pub fn read<T>(&self, read: impl FnOnce(&R::State) -> T) -> T {
        read(&self.state.lock().expect("mock poisoned").forge)
    }

    /// Changes the forge's state, so that conditional reads see a new `ETag`.
    pub fn change(&self, change: impl FnOnce(&mut R::State)) {
        let mut state = self.state.lock().expect("mock poisoned");
        change(&mut state.forge);
        state.version += 1;
    }
}

struct Server<R: Routes> {
    routes: R,
    state: Arc<Mutex<Shared<R::State>>>,
    token: String,
    url: String,
    prefix: String,
}

impl<R: Routes> Clone for Server<R> {
    fn clone(&self) -> Self {
        Server {
            routes: self.routes.clone(),
            state: self.state.clone(),
            token: self.token.clone(),
            url: self.url.clone(),
            prefix: self.prefix.clone(),
        }
    }
}

impl<R: Routes> Server<R> {
    async fn serve(&self, stream: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream);
        while let Some(mut request) = read_request(&mut reader).await? {
            if let Some(path) = request.path.strip_prefix(&self.prefix) {
                request.path = path.to_string();
            }
            let answer = self.answer(&request);
            let body = if answer.status == 304 { String::new() } else { answer.body.to_string() };
            let mut head = format!(
                "HTTP/1.1 {} Mock\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
                answer.status,
                body.len()
            );
            for (name, value) in &answer.headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let stream = reader.get_mut();
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body.as_bytes()).await?;
            stream.flush().await?;
        }
        Ok(())
    }

    fn answer(&self, request: &RawRequest) -> Answer {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let mut state = self.state.lock().expect("mock poisoned");
        let answer = self.route(&mut state, request, &body);
        state.received.push(Received {
            method: request.method.clone(),
            path: request.path.clone(),
            authorization: request.header("authorization").map(str::to_string),
            if_none_match: request.header("if-none-match").map(str::to_string),
            body,
            status: answer.status,
            at: Instant::now(),
        });
        answer
    }

    fn route(&self, state: &mut Shared<R::State>, request: &RawRequest, body: &Value) -> Answer {
        let forced = state
            .failures
            .iter()
            .position(|failure| failure.method == request.method && request.path.contains(&failure.path_contains));
        if let Some(index) = forced {
            let failure = state.failures.remove(index).expect("a failure");
            let mut answer = self.routes.error(failure.status, &failure.message);
            if let Some(seconds) = failure.retry_after {
                answer.headers.push(("retry-after".into(), seconds.to_string()));
                answer.headers.extend(self.routes.rate_limit_headers());
            }
            return answer;
        }
        if request.header("authorization") != Some(self.token.as_str()) {
            return self.routes.error(401, R::UNAUTHORIZED);
        }
        let before = state.version;
        let answer = self.routes.route(&mut state.forge, &self.url, request, body);
        if request.method != "GET" {
            state.version = before + 1;
            return answer;
        }
        if answer.status != 200 {
            return answer;
        }
        let etag = format!("\"v{}-{:x}\"", state.version, request.path.len());
        if request.header("if-none-match") == Some(etag.as_str()) {
            return Answer { status: 304, body: Value::Null, headers: vec![("etag".into(), etag)] };
        }
        Answer { headers: vec![("etag".into(), etag)], ..answer }
    }
}

/// The commit `branch` points at in the bare repository `remote`, as the git CLI reads it.
pub fn branch_tip(remote: &std::path::Path, branch: &str) -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "--verify", "--quiet", &format!("refs/heads/{branch}")])
        .current_dir(remote)
        .output()
        .ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}
