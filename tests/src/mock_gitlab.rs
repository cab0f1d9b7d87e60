//! A mock of the parts of GitLab's REST API (v4) that Arbor uses, on [`MockRest`] under
//! `/api/v4`: merge requests (create, list by source branch, read), their approvals, pipelines
//! and notes. It keeps state like GitLab does, so a test can move a merge request through a
//! pipeline, an approval and a merge; it refuses a second open merge request for a branch with
//! 409, and takes a title starting with `Draft:` as a draft. The head commit of a new merge
//! request is read from the bare repository the branch was pushed to.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::http::RawRequest;
use crate::mock_rest::{Answer, MockRest, Routes, branch_tip};
pub use crate::mock_rest::{Failure, Received};

#[derive(Default)]
struct State {
    merge_requests: Vec<Value>,
    approvers: HashMap<u64, Vec<String>>,
    pipelines: HashMap<u64, Vec<Value>>,
    notes: HashMap<u64, Vec<Value>>,
}

/// A running mock of GitLab's API.
#[derive(Clone)]
pub struct MockGitLab {
    /// Its API base URL, `http://127.0.0.1:PORT/api/v4`: the `gitlab.apiUrl` to configure.
    pub url: String,
    rest: MockRest<GitLabRoutes>,
}

impl MockGitLab {
    /// Starts the mock. Requests must carry `Authorization: Bearer TOKEN`; merge requests are
    /// opened for branches of the bare repository `remote`.
    pub async fn start(token: &str, remote: PathBuf) -> MockGitLab {
        let rest = MockRest::start(GitLabRoutes { remote }, token, "/api/v4").await;
        MockGitLab { url: rest.url.clone(), rest }
    }

    /// Every request received, in order (paths below `/api/v4`).
    pub fn received(&self) -> Vec<Received> {
        self.rest.received()
    }

    /// The merge requests opened, as the mock keeps them.
    pub fn merge_requests(&self) -> Vec<Value> {
        self.rest.read(|state| state.merge_requests.clone())
    }

    /// Answers the next request matching `failure` with it.
    pub fn fail_next(&self, failure: Failure) {
        self.rest.fail_next(failure);
    }

    /// Runs a pipeline for merge request `iid`'s head commit with `status` (`running`,
    /// `success`, `failed` …); a later pipeline replaces the earlier ones in GitLab's view.
    pub fn add_pipeline(&self, iid: u64, status: &str) {
        self.rest.change(|state| {
            let sha = find(state, iid).expect("a merge request")["sha"].clone();
            let pipelines = state.pipelines.entry(iid).or_default();
            let id = 100 + pipelines.len() as u64;
            pipelines.insert(0, json!({ "id": id, "sha": sha, "ref": "mr", "status": status }));
        });
    }

    /// `username` approves merge request `iid` (GitLab adds a system note saying so).
    pub fn approve(&self, iid: u64, username: &str) {
        self.rest.change(|state| {
            state.approvers.entry(iid).or_default().push(username.to_string());
            let note =
                json!({ "body": "approved this merge request", "system": true, "author": { "username": username } });
            state.notes.entry(iid).or_default().push(note);
        });
    }

    /// Adds a note by `username`, on a line of the diff when `line` is given.
    pub fn add_note(&self, iid: u64, username: &str, body: &str, line: Option<(&str, u64)>) {
        self.rest.change(|state| {
            let mut note = json!({ "body": body, "system": false, "author": { "username": username }, "type": null });
            if let Some((path, line)) = line {
                note["type"] = json!("DiffNote");
                note["position"] = json!({ "new_path": path, "new_line": line });
            }
            state.notes.entry(iid).or_default().push(note);
        });
    }

    /// Merges merge request `iid`, as the merge button does.
    pub fn merge(&self, iid: u64) {
        self.rest.change(|state| {
            let mr = state.merge_requests.iter_mut().find(|mr| mr["iid"] == iid).expect("a merge request");
            mr["state"] = json!("merged");
            mr["merge_commit_sha"] = json!("89abcdef0123456789abcdef0123456789abcdef");
        });
    }
}

fn find(state: &State, iid: u64) -> Option<&Value> {
    state.merge_requests.iter().find(|mr| mr["iid"] == iid)
}

#[derive(Clone)]
struct GitLabRoutes {
    remote: PathBuf,
}

impl Routes for GitLabRoutes {
    type State = State;

    const UNAUTHORIZED: &'static str = "401 Unauthorized";

    fn error(&self, status: u16, message: &str) -> Answer {
        Answer::json(status, json!({ "message": message }))
    }

    fn rate_limit_headers(&self) -> Vec<(String, String)> {
        vec![("ratelimit-remaining".into(), "0".into())]
    }

    fn route(&self, state: &mut State, url: &str, request: &RawRequest, body: &Value) -> Answer {
        let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let iid = |text: &str| text.parse::<u64>().ok();
        match (request.method.as_str(), parts.as_slice()) {
            ("POST", ["projects", project, "merge_requests"]) => {
                self.create(state, url, &project.replace("%2F", "/"), body)
            }
            ("GET", ["projects", _, "merge_requests"]) => {
                let branch = query.split('&').find_map(|pair| pair.strip_prefix("source_branch=")).unwrap_or_default();
                let open =
                    state.merge_requests.iter().filter(|mr| mr["state"] == "opened" && mr["source_branch"] == branch);
                Answer::json(200, Value::Array(open.cloned().collect()))
            }
            ("GET", ["projects", _, "merge_requests", number]) => match iid(number).and_then(|iid| find(state, iid)) {
                Some(mr) => Answer::json(200, mr.clone()),
                None => self.error(404, "404 Not found"),
            },
            ("GET", ["projects", _, "merge_requests", number, what]) => {
                let Some(iid) = iid(number).filter(|iid| find(state, *iid).is_some()) else {
                    return self.error(404, "404 Not found");
                };
                match *what {
                    "approvals" => {
                        let approvers = state.approvers.get(&iid).cloned().unwrap_or_default();
                        let approved_by: Vec<Value> =
                            approvers.iter().map(|name| json!({ "user": { "username": name } })).collect();
                        Answer::json(
                            200,
                            json!({ "approved": !approved_by.is_empty(), "approvals_required": 1,
                                "approvals_left": if approved_by.is_empty() { 1 } else { 0 }, "approved_by": approved_by }),
                        )
                    }
                    "pipelines" => Answer::json(200, json!(state.pipelines.get(&iid).cloned().unwrap_or_default())),
                    "notes" => Answer::json(200, json!(state.notes.get(&iid).cloned().unwrap_or_default())),
                    _ => self.error(404, "404 Not found"),
                }
            }
            _ => self.error(404, "404 Not found"),
        }
    }
}

impl GitLabRoutes {
    fn create(&self, state: &mut State, url: &str, project: &str, body: &Value) -> Answer {
        let (Some(source), Some(target), Some(title)) =
            (body["source_branch"].as_str(), body["target_branch"].as_str(), body["title"].as_str())
        else {
            return self.error(400, "400 Bad request - source_branch, target_branch, title are missing");
        };
        if let Some(open) =
            state.merge_requests.iter().find(|mr| mr["state"] == "opened" && mr["source_branch"] == source)
        {
            let message = format!("Another open merge request already exists for this source branch: !{}", open["iid"]);
            return Answer::json(409, json!({ "message": [message] }));
        }
        let Some(sha) = branch_tip(&self.remote, source) else {
            return Answer::json(422, json!({ "message": ["Source branch does not exist"] }));
        };
        let iid = state.merge_requests.len() as u64 + 1;
        let draft = title.starts_with("Draft:");
        let web = url.trim_end_matches("/api/v4");
        let mr = json!({
            "id": 1000 + iid,
            "iid": iid,
            "title": title,
            "description": body["description"],
            "state": "opened",
            "draft": draft,
            "work_in_progress": draft,
            "source_branch": source,
            "target_branch": target,
            "sha": sha,
            "merge_commit_sha": null,
            "squash_commit_sha": null,
            "web_url": format!("{web}/{project}/-/merge_requests/{iid}"),
        });
        state.merge_requests.push(mr.clone());
        Answer::json(201, mr)
    }
}
