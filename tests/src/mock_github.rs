//! A mock of the parts of GitHub's REST API that Arbor uses, on [`MockRest`]: pull requests
//! (create, list by head, read), their reviews, review comments and the check runs of a commit.
//! It keeps state like GitHub does, so a test can move a pull request through checks, reviews and
//! a merge; it refuses a second pull request for a branch with 422. The head commit of a new pull
//! request is read from the bare repository the branch was pushed to, so a pull request can only
//! be opened for a pushed branch.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::http::RawRequest;
use crate::mock_rest::{Answer, MockRest, Routes, branch_tip};
pub use crate::mock_rest::{Failure, Received};

#[derive(Default)]
struct State {
    pulls: Vec<Value>,
    reviews: HashMap<u64, Vec<Value>>,
    comments: HashMap<u64, Vec<Value>>,
    check_runs: HashMap<String, Vec<Value>>,
}

/// A running mock of GitHub's API.
#[derive(Clone)]
pub struct MockGitHub {
    /// Its base URL, `http://127.0.0.1:PORT`: the `github.apiUrl` to configure.
    pub url: String,
    rest: MockRest<GitHubRoutes>,
}

impl MockGitHub {
    /// Starts the mock. Requests must carry `Authorization: Bearer TOKEN`; pull requests are
    /// opened for branches of the bare repository `remote`.
    pub async fn start(token: &str, remote: PathBuf) -> MockGitHub {
        let rest = MockRest::start(GitHubRoutes { remote }, token, "").await;
        MockGitHub { url: rest.url.clone(), rest }
    }

    /// Every request received, in order.
    pub fn received(&self) -> Vec<Received> {
        self.rest.received()
    }

    /// The pull requests opened, as the mock keeps them.
    pub fn pulls(&self) -> Vec<Value> {
        self.rest.read(|state| state.pulls.clone())
    }

    /// Answers the next request matching `failure` with it.
    pub fn fail_next(&self, failure: Failure) {
        self.rest.fail_next(failure);
    }

    /// Sets the check runs of pull request `number`'s head commit: (name, status, conclusion).
    pub fn set_checks(&self, number: u64, runs: &[(&str, &str, Option<&str>)]) {
        self.rest.change(|state| {
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
        self.rest.change(|mock| {
            let review = json!({ "user": { "login": user }, "state": state, "body": body });
            mock.reviews.entry(number).or_default().push(review);
        });
    }

    /// Adds a review comment on a line of the diff.
    pub fn add_comment(&self, number: u64, user: &str, path: &str, line: u64, body: &str) {
        self.rest.change(|state| {
            let comment = json!({ "user": { "login": user }, "path": path, "line": line, "body": body });
            state.comments.entry(number).or_default().push(comment);
        });
    }

    /// Merges pull request `number`, as the merge button does.
    pub fn merge(&self, number: u64) {
        self.rest.change(|state| {
            let pull = state.pulls.iter_mut().find(|pull| pull["number"] == number).expect("a pull request");
            pull["state"] = json!("closed");
            pull["merged"] = json!(true);
            pull["merged_at"] = json!("2026-01-01T00:00:00Z");
            pull["merge_commit_sha"] = json!("0123456789abcdef0123456789abcdef01234567");
        });
    }
}

fn head_sha(state: &State, number: u64) -> String {
    let pull = state.pulls.iter().find(|pull| pull["number"] == number).expect("a pull request");
    pull["head"]["sha"].as_str().expect("a head commit").to_string()
}

#[derive(Clone)]
struct GitHubRoutes {
    remote: PathBuf,
}

impl Routes for GitHubRoutes {
    type State = State;

    const UNAUTHORIZED: &'static str = "Bad credentials";

    fn error(&self, status: u16, message: &str) -> Answer {
        Answer::json(status, json!({ "message": message, "documentation_url": "https://docs.github.com/rest" }))
    }

    fn rate_limit_headers(&self) -> Vec<(String, String)> {
        vec![("x-ratelimit-remaining".into(), "0".into())]
    }

    fn route(&self, state: &mut State, url: &str, request: &RawRequest, body: &Value) -> Answer {
        let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (request.method.as_str(), parts.as_slice()) {
            ("POST", ["repos", owner, name, "pulls"]) => self.create_pull(state, url, &format!("{owner}/{name}"), body),
            ("GET", ["repos", _, _, "pulls"]) => {
                let head = query.split('&').find_map(|pair| pair.strip_prefix("head=")).unwrap_or_default();
                let branch = head.split_once(':').map_or(head, |(_, branch)| branch);
                let open = state.pulls.iter().filter(|pull| pull["state"] == "open" && pull["head"]["ref"] == branch);
                Answer::json(200, Value::Array(open.cloned().collect()))
            }
            ("GET", ["repos", _, _, "pulls", number]) => match find(state, number) {
                Some(pull) => Answer::json(200, pull.clone()),
                None => self.error(404, "Not Found"),
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
            _ => self.error(404, "Not Found"),
        }
    }
}

impl GitHubRoutes {
    fn create_pull(&self, state: &mut State, url: &str, repository: &str, body: &Value) -> Answer {
        let (Some(head), Some(base), Some(title)) =
            (body["head"].as_str(), body["base"].as_str(), body["title"].as_str())
        else {
            return self.error(422, "Validation Failed");
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
            "html_url": format!("{url}/{repository}/pull/{number}"),
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
        Answer::json(201, pull)
    }
}

fn find<'a>(state: &'a State, number: &str) -> Option<&'a Value> {
    let number: u64 = number.parse().ok()?;
    state.pulls.iter().find(|pull| pull["number"] == number)
}
