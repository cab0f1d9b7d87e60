//! A mock of the parts of GitHub's REST API that Arbor uses, served over HTTP/1.1 on 127.0.0.1:
//! pull requests (create, list by head, read), their reviews, review comments and the check runs
//! of a commit. It keeps state like GitHub does, so a test can move a pull request through checks,
//! reviews and a merge; it answers conditional reads with `304 Not Modified` while nothing
//! changed; it refuses a wrong token with 401 and a second pull request for a branch with 422;
//! and a test can make it answer the next matching requests with any error (a 403 rate limit with
//! `Retry-After`). The head commit of a new pull request is read from the bare repository the
//! branch was pushed to, so a pull request can only be opened for a pushed branch.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Value, json};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::http::{RawRequest, read_request};

/// A request the mock received.
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
    /// GitHub's `message`.
    pub message: String,
    /// A `Retry-After` header, in seconds.
    pub retry_after: Option<u64>,
}

#[derive(Default)]
struct State {
    pulls: Vec<Value>,
    reviews: HashMap<u64, Vec<Value>>,
    comments: HashMap<u64, Vec<Value>>,
    check_runs: HashMap<String, Vec<Value>>,
    /// Bumped on every change; part of every `ETag`.
    version: u64,
    failures: VecDeque<Failure>,
    received: Vec<Received>,
}

/// A running mock of GitHub's API.
#[derive(Clone)]
pub struct MockGitHub {
    /// Its base URL, `http://127.0.0.1:PORT`: the `github.apiUrl` to configure.
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl MockGitHub {
    /// Starts the mock. Requests must carry `Authorization: Bearer TOKEN`; pull requests are
    /// opened for branches of the bare repository `remote`.
    pub async fn start(token: &str, remote: PathBuf) -> MockGitHub {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the mock GitHub");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let state: Arc<Mutex<State>> = Arc::default();
        let serving = Server { state: state.clone(), token: format!("Bearer {token}"), remote, url: url.clone() };
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = serving.clone();
                tokio::spawn(async move {
                    let _ = server.serve(stream).await;
                });
            }
        });
        MockGitHub { url, state }
    }

    /// Every request received, in order.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().expect("mock poisoned").received.clone()
    }

    /// The pull requests opened, as the mock keeps them.
    pub fn pulls(&self) -> Vec<Value> {
        self.state.lock().expect("mock poisoned").pulls.clone()
    }

    /// Answers the next request matching `failure` with it.
    pub fn fail_next(&self, failure: Failure) {
        self.state.lock().expect("mock poisoned").failures.push_back(failure);
    }

    /// Sets the check runs of pull request `number`'s head commit: (name, status, conclusion).
    pub fn set_checks(&self, number: u64, runs: &[(&str, &str, Option<&str>)]) {
        self.change(|state| {
            let sha = head_sha(state, number);
            let runs = runs
                .iter()
                .map(|(name, status, conclusion)| json!({ "name": name, "status": status, "conclusion": conclusion }))
                .collect();
            state.check_runs.insert(sha, runs);
        });
    }

    /// Adds a review: `state` is `APPROVED`, `CHANGES_REQUESTED` or `COMMENTED`.
    pub fn add_review(&self, number: u64, user: &str, state: &str, body: &str) {
        self.change(|mock| {
            let review = json!({ "user": { "login": user }, "state": state, "body": body });
            mock.reviews.entry(number).or_default().push(review);
        });
    }

    /// Adds a review comment on a line of the diff.
    pub fn add_comment(&self, number: u64, user: &str, path: &str, line: u64, body: &str) {
        self.change(|state| {
            let comment = json!({ "user": { "login": user }, "path": path, "line": line, "body": body });
            state.comments.entry(number).or_default().push(comment);
        });
    }

    /// Merges pull request `number`, as the merge button does.
    pub fn merge(&self, number: u64) {
        self.change(|state| {
            let pull = state.pulls.iter_mut().find(|pull| pull["number"] == number).expect("a pull request");
            pull["state"] = json!("closed");
            pull["merged"] = json!(true);
            pull["merged_at"] = json!("2026-01-01T00:00:00Z");
            pull["merge_commit_sha"] = json!("0123456789abcdef0123456789abcdef01234567");
        });
    }

    fn change(&self, change: impl FnOnce(&mut State)) {
        let mut state = self.state.lock().expect("mock poisoned");
        change(&mut state);
        state.version += 1;
    }
}

fn head_sha(state: &State, number: u64) -> String {
    let pull = state.pulls.iter().find(|pull| pull["number"] == number).expect("a pull request");
    pull["head"]["sha"].as_str().expect("a head commit").to_string()
}

#[derive(Clone)]
struct Server {
    state: Arc<Mutex<State>>,
    token: String,
    remote: PathBuf,
    url: String,
}

/// One answer: status, body, extra headers.
struct Answer {
    status: u16,
    body: Value,
    headers: Vec<(String, String)>,
}

impl Answer {
    fn json(status: u16, body: Value) -> Answer {
        Answer { status, body, headers: Vec::new() }
    }

    fn error(status: u16, message: &str) -> Answer {
        Answer::json(status, json!({ "message": message, "documentation_url": "https://docs.github.com/rest" }))
    }
}

impl Server {
    async fn serve(&self, stream: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream);
        while let Some(request) = read_request(&mut reader).await? {
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

    fn route(&self, state: &mut State, request: &RawRequest, body: &Value) -> Answer {
        let forced = state
            .failures
            .iter()
            .position(|failure| failure.method == request.method && request.path.contains(&failure.path_contains));
        if let Some(index) = forced {
            let failure = state.failures.remove(index).expect("a failure");
            let mut answer = Answer::error(failure.status, &failure.message);
            if let Some(seconds) = failure.retry_after {
                answer.headers.push(("retry-after".into(), seconds.to_string()));
                answer.headers.push(("x-ratelimit-remaining".into(), "0".into()));
            }
            return answer;
        }
        if request.header("authorization") != Some(self.token.as_str()) {
            return Answer::error(401, "Bad credentials");
        }
        let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let answer = match (request.method.as_str(), parts.as_slice()) {
            ("POST", ["repos", owner, name, "pulls"]) => self.create_pull(state, &format!("{owner}/{name}"), body),
            ("GET", ["repos", _, _, "pulls"]) => {
                let head = query.split('&').find_map(|pair| pair.strip_prefix("head=")).unwrap_or_default();
                let branch = head.split_once(':').map_or(head, |(_, branch)| branch);
                let open = state.pulls.iter().filter(|pull| pull["state"] == "open" && pull["head"]["ref"] == branch);
                Answer::json(200, Value::Array(open.cloned().collect()))
            }
            ("GET", ["repos", _, _, "pulls", number]) => match find(state, number) {
                Some(pull) => Answer::json(200, pull.clone()),
                None => Answer::error(404, "Not Found"),
            },
            ("GET", ["repos", _, _, "pulls", number, "reviews"]) => Answer::json(
                200,
                json!(number.parse().ok().and_then(|n: u64| state.reviews.get(&n)).cloned().unwrap_or_default()),
            ),
            ("GET", ["repos", _, _, "pulls", number, "comments"]) => Answer::json(
                200,
                json!(number.parse().ok().and_then(|n: u64| state.comments.get(&n)).cloned().unwrap_or_default()),
            ),
            ("GET", ["repos", _, _, "commits", sha, "check-runs"]) => {
                let runs = state.check_runs.get(*sha).cloned().unwrap_or_default();
                Answer::json(200, json!({ "total_count": runs.len(), "check_runs": runs }))
            }
            _ => Answer::error(404, "Not Found"),
        };
        if request.method != "GET" || answer.status != 200 {
            return answer;
        }
        let etag = format!("\"v{}-{:x}\"", state.version, request.path.len());
        if request.header("if-none-match") == Some(etag.as_str()) {
            return Answer { status: 304, body: Value::Null, headers: vec![("etag".into(), etag)] };
        }
        Answer { headers: vec![("etag".into(), etag)], ..answer }
    }

    fn create_pull(&self, state: &mut State, repository: &str, body: &Value) -> Answer {
        let (Some(head), Some(base), Some(title)) =
            (body["head"].as_str(), body["base"].as_str(), body["title"].as_str())
        else {
            return Answer::error(422, "Validation Failed");
        };
        if state.pulls.iter().any(|pull| pull["state"] == "open" && pull["head"]["ref"] == head) {
            let owner = repository.split('/').next().unwrap_or_default();
            return Answer::json(
                422,
                json!({ "message": "Validation Failed", "errors": [{ "resource": "PullRequest", "code": "custom",
                    "message": format!("A pull request already exists for {owner}:{head}.") }] }),
            );
        }
        let Some(sha) = branch_tip(&self.remote, head) else {
            return Answer::json(
                422,
                json!({ "message": "Validation Failed", "errors": [{ "resource": "PullRequest", "field": "head", "code": "invalid" }] }),
            );
        };
        let number = state.pulls.len() as u64 + 1;
        let pull = json!({
            "number": number,
            "html_url": format!("{}/{repository}/pull/{number}", self.url),
            "title": title,
            "body": body["body"],
            "state": "open",
            "draft": body["draft"].as_bool().unwrap_or(false),
            "merged": false,
            "merged_at": null,
            "merge_commit_sha": null,
            "head": { "ref": head, "sha": sha },
            "base": { "ref": base },
        });
        state.pulls.push(pull.clone());
        state.version += 1;
        Answer::json(201, pull)
    }
}

fn find<'a>(state: &'a State, number: &str) -> Option<&'a Value> {
    let number: u64 = number.parse().ok()?;
    state.pulls.iter().find(|pull| pull["number"] == number)
}

/// The commit `branch` points at in the bare repository, as the git CLI reads it.
fn branch_tip(remote: &PathBuf, branch: &str) -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "--verify", "--quiet", &format!("refs/heads/{branch}")])
        .current_dir(remote)
        .output()
        .ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}
