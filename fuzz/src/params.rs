//! Every protocol method's params, dispatched through the server's real JSON-RPC service (the
//! same method registration and param decoding a connection uses) onto a real service: a store,
//! a git repository and agents in a directory of its own. Params are absent, arbitrary JSON, or
//! mutations of valid params (`corpus/params.json`) naming real sessions, tasks and trials.
//!
//! Contract: every request gets exactly one response, within a time limit, that is a result or
//! an error with one of the protocol's error codes; the service keeps serving.
//!
//! The service runs commands and clones repositories when asked to, so before dispatch the
//! target keeps those inside its directory: `checkCommand` and `setupCommand` become `true`,
//! and a `cwd` or `repositoryUrl` outside the directory is moved under it (keeping its text).
//! The one agent that can start, `fuzz`, is the `true` program, which exits at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use arbor_protocol::{error_code, method};
use arbor_server::paths::Paths;
use arbor_server::service::Service;
use futures::StreamExt;
use futures::future::BoxFuture;
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde_json::{Value, json};
use tower_lsp_server::ExitedError;
use tower_lsp_server::jsonrpc::{Request, Response};
use tower_service::Service as _;

use crate::Target;
use crate::input::{Mutation, fill, json, mutate, mutations};

/// Valid params of every method, with placeholders for the ids and paths of the target's world.
pub const CORPUS: &str = include_str!("../corpus/params.json");
/// Longest a request may take to be answered.
const ANSWER_LIMIT: Duration = Duration::from_secs(60);
/// Inputs between two looks at which sessions, tasks and trials exist, to name real ones.
const REFRESH_EVERY: u64 = 200;

/// Every code the protocol documents.
const KNOWN_CODES: &[i64] = &[
    error_code::PARSE_ERROR,
    error_code::INVALID_REQUEST,
    error_code::METHOD_NOT_FOUND,
    error_code::INVALID_PARAMS,
    error_code::INTERNAL_ERROR,
    error_code::SERVER_NOT_INITIALIZED,
    error_code::SESSION_NOT_FOUND,
    error_code::INVALID_SESSION_STATE,
    error_code::NOT_A_GIT_REPOSITORY,
    error_code::AGENT_UNAVAILABLE,
    error_code::GIT_ERROR,
    error_code::STORE_ERROR,
    error_code::NOT_FOUND,
    error_code::INVALID_ARGUMENT,
];

type Dispatch = Box<
    dyn tower_service::Service<
            Request,
            Response = Option<Response>,
            Error = ExitedError,
            Future = BoxFuture<'static, Result<Option<Response>, ExitedError>>,
        > + Send,
>;

/// What a request's params are.
#[derive(Debug, Clone)]
pub enum Params {
    /// No `params` member.
    Absent,
    /// One of the method's valid params, mutated.
    Seed(usize, Vec<(usize, Mutation)>),
    /// Any JSON value.
    Json(Value),
}

/// One request.
#[derive(Debug, Clone)]
pub struct Call {
    /// Index into the methods (one past the end is a method that does not exist).
    pub method: usize,
    /// Its params.
    pub params: Params,
    /// Picks which real session, task or trial a placeholder names.
    pub pick: usize,
}

/// The real sessions, tasks and trials placeholders name.
#[derive(Default)]
struct World {
    sessions: Vec<String>,
    tasks: Vec<String>,
    trials: Vec<String>,
}

struct State {
    dispatch: Dispatch,
    world: World,
    next_id: i64,
    calls: u64,
}

/// The params target.
pub struct MethodParams {
    root: PathBuf,
    repo: PathBuf,
    methods: Vec<&'static str>,
    seeds: BTreeMap<String, Vec<Value>>,
    runtime: tokio::runtime::Runtime,
    state: Mutex<State>,
}

impl MethodParams {
    /// The target, with a fresh data directory, config and git repository under the system's
    /// temporary directory.
    pub fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("arbor-fuzz-params-{}-{number}", std::process::id()));
        let repo = root.join("repo");
        make_repository(&repo);
        let config = root.join("config").join("config.json");
        std::fs::create_dir_all(config.parent().expect("the config file has a directory")).expect("create config dir");
        let settings = json!({
            "limits": { "maxRunning": 2 },
            "acpAgents": { "fuzz": { "name": "Fuzz", "command": ["true"] } },
            "profiles": { "fast": { "agent": "fuzz" } },
        });
        std::fs::write(&config, settings.to_string()).expect("write the config file");
        let paths = Paths::resolve(Some(root.join("data")), Some(root.join("run")), Some(config));
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
        let dispatch = runtime.block_on(async {
            let service = Service::start(paths).expect("the service starts");
            let (service, socket) = arbor_server::rpc::lsp::build(service);
            // Notifications to the client are not part of the contract here; they only must not
            // back up.
            tokio::spawn(socket.for_each(|_| async {}));
            let mut dispatch: Dispatch = Box::new(service);
            let initialize = Request::build("initialize").id(0).params(json!({ "capabilities": {} })).finish();
            call(&mut dispatch, initialize).await.expect("initialize is answered");
            call(&mut dispatch, Request::build("initialized").params(json!({})).finish())
                .await
                .expect("initialized is taken");
            dispatch
        });
        let corpus: BTreeMap<String, Vec<Value>> = serde_json::from_str(CORPUS).expect("the params corpus parses");
        let target = Self {
            root,
            repo,
            methods: method::ALL_REQUESTS.to_vec(),
            seeds: corpus,
            runtime,
            state: Mutex::new(State { dispatch, world: World::default(), next_id: 1, calls: 0 }),
        };
        target.refresh(&mut target.state.lock().expect("state lock"));
        target
    }

    fn placeholder(&self, world: &World, pick: usize, name: &str) -> Option<String> {
        let choose = |ids: &[String]| ids.get(pick % ids.len().max(1)).cloned();
        match name {
            "$REPO" => Some(self.repo.display().to_string()),
            "$OUTSIDE" => Some(self.root.join("outside").display().to_string()),
            "$SESSION" => choose(&world.sessions),
            "$TASK" => choose(&world.tasks),
            "$TRIAL" => choose(&world.trials),
            _ => None,
        }
    }

    /// Keeps commands harmless and paths inside the target's directory.
    fn confine(&self, value: &mut Value) {
        match value {
            Value::Object(entries) => {
                for (key, item) in entries.iter_mut() {
                    match (key.as_str(), &*item) {
                        ("checkCommand" | "setupCommand", Value::String(_)) => *item = Value::from("true"),
                        ("cwd" | "repositoryUrl", Value::String(path)) if !Path::new(path).starts_with(&self.root) => {
                            let moved = self.root.join("elsewhere").join(path.trim_start_matches('/'));
                            *item = Value::from(moved.display().to_string());
                        }
                        _ => self.confine(item),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.confine(item)),
            _ => {}
        }
    }

    /// Learns which sessions, tasks and trials exist, making one of each when there is none.
    fn refresh(&self, state: &mut State) {
        let repo = self.repo.display().to_string();
        self.runtime.block_on(async {
            let ids = |value: Option<Value>, list: &str, id: &str| -> Vec<String> {
                value
                    .and_then(|value| value[list].as_array().cloned())
                    .into_iter()
                    .flatten()
                    .filter_map(|item| item[id].as_str().map(str::to_string))
                    .collect()
            };
            let listed = ask(state, method::SESSION_LIST, json!({ "includeHidden": true, "limit": 20 })).await;
            state.world.sessions = ids(listed, "sessions", "id");
            if state.world.sessions.is_empty() {
                let created = ask(state, method::SESSION_NEW, json!({ "cwd": repo, "agent": "fuzz" })).await;
                state.world.sessions =
                    created.and_then(|session| session["id"].as_str().map(str::to_string)).into_iter().collect();
            }
            let tasks = ask(state, method::TASK_LIST, json!({})).await;
            state.world.tasks = ids(tasks, "tasks", "id");
            if state.world.tasks.is_empty() {
                let created =
                    ask(state, method::TASK_NEW, json!({ "title": "Fuzz", "cwd": repo, "checkCommand": "true" })).await;
                state.world.tasks =
                    created.and_then(|task| task["id"].as_str().map(str::to_string)).into_iter().collect();
            }
            let Some(task) = state.world.tasks.first().cloned() else { return };
            let detail = ask(state, method::TASK_GET, json!({ "taskId": task })).await;
            state.world.trials = detail
                .and_then(|detail| detail["trials"].as_array().cloned())
                .into_iter()
                .flatten()
                .filter_map(|trial| trial["trial"]["id"].as_str().map(str::to_string))
                .collect();
            if state.world.trials.is_empty() {
                let created =
                    ask(state, method::TRIAL_NEW, json!({ "taskId": task, "trials": [{ "agent": "fuzz" }] })).await;
                state.world.trials = created
                    .and_then(|result| result["trials"].as_array().cloned())
                    .into_iter()
                    .flatten()
                    .filter_map(|trial| trial["trial"]["id"].as_str().map(str::to_string))
                    .collect();
            }
        });
    }

    fn params(&self, method: &str, choice: &Params) -> Option<Value> {
        match choice {
            Params::Absent => None,
            Params::Json(value) => Some(value.clone()),
            Params::Seed(index, mutations) => {
                let seeds = self.seeds.get(method).filter(|seeds| !seeds.is_empty())?;
                let mut value = seeds[index % seeds.len()].clone();
                mutate(&mut value, mutations);
                Some(value)
            }
        }
    }
}

impl Default for MethodParams {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for MethodParams {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The result of one request made to learn about the world; None when it failed.
async fn ask(state: &mut State, method: &str, params: Value) -> Option<Value> {
    state.next_id += 1;
    let request = Request::build(method.to_string()).id(state.next_id).params(params).finish();
    call(&mut state.dispatch, request).await.ok().flatten().and_then(|response| response.into_parts().1.ok())
}

/// Sends one request once the service is ready for it.
async fn call(dispatch: &mut Dispatch, request: Request) -> Result<Option<Response>, ExitedError> {
    futures::future::poll_fn(|context| dispatch.poll_ready(context)).await?;
    dispatch.call(request).await
}

/// A git repository with one commit on `main`, a workflow and an ignored file to copy.
fn make_repository(repo: &Path) {
    std::fs::create_dir_all(repo.join(".arbor/workflows")).expect("create the repository");
    std::fs::write(repo.join("a.txt"), "one\ntwo\n").expect("write a file");
    std::fs::write(repo.join(".gitignore"), ".env\n").expect("write .gitignore");
    std::fs::write(repo.join(".env"), "SECRET=1\n").expect("write .env");
    std::fs::write(repo.join(".arbor/workflows/review.md"), "# Review\nLook closely.\n").expect("write a workflow");
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=Fuzz", "-c", "user.email=fuzz@example.invalid"])
            .args(args)
            .current_dir(repo)
            .output()
            .expect("run git");
        assert!(status.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&status.stderr));
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "first"]);
}

impl Target for MethodParams {
    type Input = Call;
    const NAME: &'static str = "params";

    fn strategy(&self) -> BoxedStrategy<Call> {
        let params = prop_oneof![
            1 => Just(Params::Absent),
            6 => (any::<usize>(), mutations()).prop_map(|(index, mutations)| Params::Seed(index, mutations)),
            2 => json().prop_map(Params::Json),
        ];
        (0..=self.methods.len(), params, any::<usize>())
            .prop_map(|(method, params, pick)| Call { method, params, pick })
            .boxed()
    }

    fn check(&self, input: &Call) -> Result<(), String> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.calls += 1;
        if state.calls.is_multiple_of(REFRESH_EVERY) {
            self.refresh(&mut state);
        }
        let method = self.methods.get(input.method).copied().unwrap_or("fuzz/no-such-method");
        let mut params = self.params(method, &input.params);
        if let Some(params) = params.as_mut() {
            fill(params, &|name| self.placeholder(&state.world, input.pick, name));
            self.confine(params);
        }
        state.next_id += 1;
        let id = state.next_id;
        let mut request = Request::build(method).id(id);
        if let Some(params) = params.clone() {
            request = request.params(params);
        }
        let request = request.finish();
        let response = self
            .runtime
            .block_on(async { tokio::time::timeout(ANSWER_LIMIT, call(&mut state.dispatch, request)).await });
        let response = match response {
            Err(_) => return Err(format!("{method} {params:?}: no answer within {} s", ANSWER_LIMIT.as_secs())),
            Ok(Err(_)) => return Err(format!("{method} {params:?}: the service stopped serving")),
            Ok(Ok(None)) => return Err(format!("{method} {params:?}: a request got no response")),
            Ok(Ok(Some(response))) => response,
        };
        let (answered, result) = response.into_parts();
        if answered != tower_lsp_server::jsonrpc::Id::Number(id) {
            return Err(format!("{method}: the response is for id {answered}, not {id}"));
        }
        match result {
            Ok(_) => Ok(()),
            Err(error) if KNOWN_CODES.contains(&error.code.code()) => Ok(()),
            Err(error) => Err(format!("{method} {params:?}: an error with an undocumented code: {error:?}")),
        }
    }
}
