//! The scripted agent process (`arbor scripted-agent`): the agent side of the Agent Client
//! Protocol, acting out a script instead of calling a model.
//!
//! Its conversation state (script and position) lives in `<state-dir>/<session id>.json`, so a
//! restarted process can `session/load` it: that is how resume works for it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot, watch};

use super::script::{Action, DEMO_SCRIPT, Script};
use crate::rpc::pending::PendingRequests;

/// What the agent remembers of a conversation between runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Conversation {
    id: String,
    script: String,
    next_turn: usize,
    cwd: PathBuf,
    total_cost_usd: f64,
    /// How many times a client closed the conversation (`session/close`).
    #[serde(default)]
    closes: u32,
    /// The directories beyond `cwd` the client gave (`additionalDirectories`), as of the latest
    /// session/new or session/load; `{dirs}` in a message shows them.
    #[serde(default)]
    additional_dirs: Vec<String>,
}

/// The `additionalDirectories` of a session/new or session/load.
fn additional_dirs(params: &Value) -> Vec<String> {
    params["additionalDirectories"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|dir| dir.as_str().map(str::to_string))
        .collect()
}

/// What the agent offers its client, from its command line.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Never ask permission: `ask` lines are skipped, as agents in that mode do.
    pub bypass_permissions: bool,
    /// Offer `loadSession` (resume).
    pub load_session: bool,
    /// Offer `session/close`.
    pub close: bool,
    /// Offer `session/fork`.
    pub fork: bool,
    /// Refuse sessions and prompts with ACP's `auth_required` until logged in, offering a login
    /// it does by itself (`authenticate`) and one run in a terminal (`--login`).
    pub require_auth: bool,
    /// Offer session modes (`default`, `acceptEdits`, `bypassPermissions`) and a model option.
    pub modes: bool,
}

/// ACP's error code for a request that needs the user to log in first.
const AUTH_REQUIRED: i64 = -32000;
/// The error code of every other failure (JSON-RPC's internal error).
const FAILED: i64 = -32603;
/// The login method the agent does by itself.
const SELF_LOGIN: &str = "scripted-token";
/// The models the agent offers when it offers modes.
const MODELS: [&str; 2] = ["scripted-small", "scripted-large"];

/// The file whose presence means the agent is logged in.
fn credentials(state_dir: &Path) -> PathBuf {
    state_dir.join("credentials")
}

/// Logs the agent in as its terminal login does (`arbor scripted-agent --login`).
pub fn log_in(state_dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(state_dir)?;
    std::fs::write(credentials(state_dir), "logged in\n")
}

/// An error answer to a request, with optional details (such as a rate limit's HTTP status).
struct TurnError {
    code: i64,
    message: String,
    data: Value,
}

impl From<String> for TurnError {
    fn from(message: String) -> Self {
        TurnError { code: FAILED, message, data: Value::Null }
    }
}

impl TurnError {
    fn auth_required() -> Self {
        TurnError { code: AUTH_REQUIRED, message: "Authentication required".into(), data: Value::Null }
    }
}

/// Lines written to stdout: JSON-RPC messages, or deliberately malformed text.
enum Outgoing {
    Message(Value),
    Raw(String),
}

#[derive(Clone)]
struct Agent {
    state_dir: PathBuf,
    script_path: Option<PathBuf>,
    out: mpsc::Sender<Outgoing>,
    /// The requests to the client waiting for its answer: the whole response message each.
    pending: Arc<PendingRequests<oneshot::Sender<Value>>>,
    conversation: Arc<Mutex<Option<Conversation>>>,
    turn: Arc<Mutex<Option<watch::Sender<bool>>>>,
    /// The client offered `fs/write_text_file`: files are written through it, as ACP intends.
    client_writes: Arc<std::sync::atomic::AtomicBool>,
    /// The client offered terminals: `terminal` lines run through it.
    client_terminals: Arc<std::sync::atomic::AtomicBool>,
    /// The current mode and model, when it offers them.
    settings: Arc<Mutex<Settings>>,
    options: Options,
}

/// The mode and model the agent is in.
#[derive(Debug, Clone)]
struct Settings {
    mode: String,
    model: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { mode: "default".into(), model: MODELS[0].into() }
    }
}

/// The model option as ACP's `configOptions` list carries it, with `model` current.
fn model_options(model: &str) -> Value {
    let values: Vec<Value> = MODELS.iter().map(|value| json!({ "value": value, "name": value })).collect();
    json!([{ "id": "model", "name": "Model", "category": "model", "type": "select",
        "currentValue": model, "options": values }])
}

/// Runs the agent on stdin/stdout until stdin closes.
pub async fn run(state_dir: PathBuf, script_path: Option<PathBuf>, options: Options) -> anyhow::Result<()> {
    std::fs::create_dir_all(&state_dir)?;
    if let Some(path) = &script_path {
        let script = Script::parse(&std::fs::read_to_string(path)?)?;
        if let Some(Action::StartupDelay(millis)) = script.turns.first().and_then(|turn| turn.first()) {
            tokio::time::sleep(Duration::from_millis(*millis)).await;
        }
    }
    let (out, mut outgoing) = mpsc::channel::<Outgoing>(256);
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(message) = outgoing.recv().await {
            let mut line = match message {
                Outgoing::Message(message) => message.to_string(),
                Outgoing::Raw(text) => text,
            };
            line.push('\n');
            if stdout.write_all(line.as_bytes()).await.is_err() || stdout.flush().await.is_err() {
                break;
            }
        }
    });
    let agent = Agent {
        state_dir,
        script_path,
        out,
        pending: Arc::default(),
        conversation: Arc::default(),
        turn: Arc::default(),
        client_writes: Arc::default(),
        client_terminals: Arc::default(),
        settings: Arc::default(),
        options,
    };
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        agent.handle(message).await;
    }
    // The client is gone (it closed our stdin or died): nobody can receive the rest of a running
    // turn, so end at once rather than finish it.
    drop(agent);
    let _ = tokio::time::timeout(Duration::from_millis(100), writer).await;
    std::process::exit(0);
}

impl Agent {
    async fn send(&self, message: Value) {
        let _ = self.out.send(Outgoing::Message(message)).await;
    }

    async fn reply(&self, id: Value, result: Result<Value, TurnError>) {
        let message = match result {
            Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
            Err(error) => json!({
                "jsonrpc": "2.0", "id": id,
                "error": { "code": error.code, "message": error.message, "data": error.data },
            }),
        };
        self.send(message).await;
    }

    async fn update(&self, session_id: &str, update: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": "session/update", "params": { "sessionId": session_id, "update": update } }))
            .await;
    }

    async fn handle(&self, message: Value) {
        let method = message["method"].as_str().unwrap_or_default().to_string();
        let id = message.get("id").cloned();
        let params = message["params"].clone();
        match (method.as_str(), id) {
            ("", Some(id)) => {
                if let Some(id) = id.as_u64() {
                    self.pending.resolve(id, message);
                }
            }
            ("initialize", Some(id)) => {
                let client = &params["clientCapabilities"];
                let offered = client["fs"]["writeTextFile"].as_bool().unwrap_or(false);
                self.client_writes.store(offered, std::sync::atomic::Ordering::Relaxed);
                let terminals = client["terminal"].as_bool().unwrap_or(false);
                self.client_terminals.store(terminals, std::sync::atomic::Ordering::Relaxed);
                let mut session = serde_json::Map::new();
                session.insert("additionalDirectories".into(), json!({}));
                if self.options.close {
                    session.insert("close".into(), json!({}));
                }
                if self.options.fork {
                    session.insert("fork".into(), json!({}));
                }
                let result = json!({
                    "protocolVersion": 1,
                    "agentCapabilities": {
                        "loadSession": self.options.load_session,
                        "promptCapabilities": {},
                        "sessionCapabilities": session,
                    },
                    "authMethods": self.auth_methods(),
                    "agentInfo": { "name": "arbor-scripted-agent", "version": env!("CARGO_PKG_VERSION") },
                });
                self.reply(id, Ok(result)).await;
            }
            ("authenticate", Some(id)) => {
                let result = match params["methodId"].as_str() {
                    Some(SELF_LOGIN) => log_in(&self.state_dir).map(|()| json!({})).map_err(|error| error.to_string()),
                    other => Err(format!("login method {other:?} is not done here: run this agent with --login")),
                };
                self.reply(id, result.map_err(TurnError::from)).await;
            }
            ("session/new" | "session/load" | "session/prompt", Some(id)) if self.needs_login() => {
                self.reply(id, Err(TurnError::auth_required())).await;
            }
            ("session/new", Some(id)) => {
                let result = self.new_conversation(&params).map_err(TurnError::from);
                let result = result.map(|mut answer| {
                    self.offer_settings(&mut answer);
                    answer
                });
                self.reply(id, result).await;
            }
            ("session/load", Some(id)) if self.options.load_session => {
                let result = self.load_conversation(&params).map_err(TurnError::from);
                self.reply(id, result).await;
            }
            ("session/set_mode", Some(id)) if self.options.modes => {
                let mode = params["modeId"].as_str().unwrap_or_default().to_string();
                self.settings.lock().expect("settings poisoned").mode = mode;
                self.reply(id, Ok(json!({}))).await;
            }
            ("session/set_config_option", Some(id)) if self.options.modes && params["configId"] == "model" => {
                let model = params["value"].as_str().unwrap_or_default().to_string();
                let result = match MODELS.contains(&model.as_str()) {
                    true => Ok(json!({ "configOptions": model_options(&model) })),
                    false => Err(TurnError::from(format!("no such model: {model}"))),
                };
                if result.is_ok() {
                    self.settings.lock().expect("settings poisoned").model = model;
                }
                self.reply(id, result).await;
            }
            ("session/close", Some(id)) if self.options.close => {
                let result = self.close_conversation(&params).map_err(TurnError::from);
                self.reply(id, result).await;
            }
            ("session/fork", Some(id)) if self.options.fork => {
                let result = self.fork_conversation(&params).map_err(TurnError::from);
                self.reply(id, result).await;
            }
            ("session/prompt", Some(id)) => self.start_turn(id, params).await,
            ("session/cancel", None) => {
                if let Some(cancel) = self.turn.lock().expect("turn poisoned").as_ref() {
                    let _ = cancel.send(true);
                }
            }
            (_, Some(id)) => {
                let message = json!({ "jsonrpc": "2.0", "id": id, "error": { "code": -32601, "message": format!("unknown method {method}") } });
                self.send(message).await;
            }
            _ => {}
        }
    }

    /// The login methods it offers: none unless it requires a login.
    fn auth_methods(&self) -> Value {
        match self.options.require_auth {
            true => json!([
                { "id": "scripted-login", "name": "Terminal login", "description": "Logs in interactively",
                  "type": "terminal", "args": ["--login"] },
                { "id": SELF_LOGIN, "name": "Built-in token", "description": "The agent logs itself in" },
            ]),
            false => json!([]),
        }
    }

    fn needs_login(&self) -> bool {
        self.options.require_auth && !credentials(&self.state_dir).exists()
    }

    /// Adds the modes and the model option it offers to a `session/new` answer.
    fn offer_settings(&self, answer: &mut Value) {
        if !self.options.modes {
            return;
        }
        let settings = self.settings.lock().expect("settings poisoned").clone();
        let modes: Vec<Value> =
            ["default", "acceptEdits", "bypassPermissions"].iter().map(|id| json!({ "id": id, "name": id })).collect();
        answer["modes"] = json!({ "currentModeId": settings.mode, "availableModes": modes });
        answer["configOptions"] = model_options(&settings.model);
    }

    /// Whether it asks no permission: run so, or switched to `bypassPermissions`.
    fn bypasses_permissions(&self) -> bool {
        self.options.bypass_permissions || self.settings.lock().expect("settings poisoned").mode == "bypassPermissions"
    }

    fn state_file(&self, id: &str) -> PathBuf {
        self.state_dir.join(format!("{id}.json"))
    }

    fn save(&self, conversation: &Conversation) {
        let path = self.state_file(&conversation.id);
        let temporary = path.with_extension("json.tmp");
        let text = serde_json::to_string(conversation).expect("conversation serialises");
        if std::fs::write(&temporary, text).and_then(|()| std::fs::rename(&temporary, &path)).is_err() {
            eprintln!("scripted agent: could not save {}", path.display());
        }
    }

    fn new_conversation(&self, params: &Value) -> Result<Value, String> {
        let script = match &self.script_path {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|error| format!("cannot read script {}: {error}", path.display()))?,
            None => DEMO_SCRIPT.to_string(),
        };
        Script::parse(&script).map_err(|error| error.to_string())?;
        let conversation = Conversation {
            id: format!("scripted-{}", uuid::Uuid::new_v4()),
            script,
            next_turn: 0,
            cwd: PathBuf::from(params["cwd"].as_str().unwrap_or(".")),
            total_cost_usd: 0.0,
            closes: 0,
            additional_dirs: additional_dirs(params),
        };
        self.save(&conversation);
        let id = conversation.id.clone();
        *self.conversation.lock().expect("conversation poisoned") = Some(conversation);
        Ok(json!({ "sessionId": id }))
    }

    fn read_conversation(&self, params: &Value) -> Result<Conversation, String> {
        let id = params["sessionId"].as_str().unwrap_or_default();
        let text = std::fs::read_to_string(self.state_file(id))
            .map_err(|_| format!("No conversation found with session ID {id}"))?;
        let mut conversation: Conversation = serde_json::from_str(&text).map_err(|error| error.to_string())?;
        if let Some(cwd) = params["cwd"].as_str() {
            conversation.cwd = PathBuf::from(cwd);
        }
        Ok(conversation)
    }

    fn load_conversation(&self, params: &Value) -> Result<Value, String> {
        let mut conversation = self.read_conversation(params)?;
        conversation.additional_dirs = additional_dirs(params);
        *self.conversation.lock().expect("conversation poisoned") = Some(conversation);
        Ok(Value::Null)
    }

    /// Records the close in the conversation's state, where it can be seen.
    fn close_conversation(&self, params: &Value) -> Result<Value, String> {
        let mut conversation = self.read_conversation(params)?;
        conversation.closes += 1;
        self.save(&conversation);
        *self.conversation.lock().expect("conversation poisoned") = None;
        Ok(Value::Null)
    }

    /// A new conversation carrying on from where the parent is.
    fn fork_conversation(&self, params: &Value) -> Result<Value, String> {
        let mut conversation = self.read_conversation(params)?;
        conversation.id = format!("scripted-{}", uuid::Uuid::new_v4());
        conversation.closes = 0;
        self.save(&conversation);
        let id = conversation.id.clone();
        *self.conversation.lock().expect("conversation poisoned") = Some(conversation);
        Ok(json!({ "sessionId": id }))
    }

    async fn start_turn(&self, id: Value, params: Value) {
        let (cancel_tx, cancel_rx) = watch::channel(false);
        {
            let mut turn = self.turn.lock().expect("turn poisoned");
            if turn.is_some() {
                drop(turn);
                let agent = self.clone();
                tokio::spawn(
                    async move { agent.reply(id, Err(String::from("a turn is already running").into())).await },
                );
                return;
            }
            *turn = Some(cancel_tx);
        }
        let conversation = {
            let mut guard = self.conversation.lock().expect("conversation poisoned");
            guard.as_mut().map(|conversation| {
                let snapshot = conversation.clone();
                conversation.next_turn += 1;
                snapshot
            })
        };
        let agent = self.clone();
        tokio::spawn(async move {
            let result = match conversation {
                None => Err(String::from("no session: call session/new or session/load first").into()),
                Some(conversation) => {
                    let prompt = params["prompt"][0]["text"].as_str().unwrap_or_default().to_string();
                    let mut advanced = conversation.clone();
                    advanced.next_turn += 1;
                    agent.save(&advanced);
                    let mut turn = Turn {
                        agent: &agent,
                        conversation,
                        prompt,
                        cancel: cancel_rx,
                        chunk_delay: 0,
                        tool_calls: 0,
                        skip_next: false,
                        usage: TurnUsage::default(),
                    };
                    turn.play().await
                }
            };
            *agent.turn.lock().expect("turn poisoned") = None;
            agent.reply(id, result).await;
        });
    }

    /// Sends a request to the client and waits for its answer: its result, or its error's
    /// message (None if the turn is cancelled).
    async fn request_full(
        &self,
        method: &str,
        params: Value,
        cancel: &mut watch::Receiver<bool>,
    ) -> Option<Result<Value, String>> {
        let (reply, response) = oneshot::channel();
        let id = self.pending.insert(reply);
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })).await;
        let answer = tokio::select! {
            answer = response => answer.ok()?,
            _ = until_cancelled(cancel) => return None,
        };
        Some(match answer.get("error") {
            Some(error) => Err(error["message"].as_str().unwrap_or("the client refused").to_string()),
            None => Ok(answer.get("result").cloned().unwrap_or(Value::Null)),
        })
    }

    /// Sends a request to the client and waits for its result (None if the turn is cancelled).
    async fn request(&self, method: &str, params: Value, cancel: &mut watch::Receiver<bool>) -> Option<Value> {
        // An error answer counts as no answer at all (the request is treated as refused).
        self.request_full(method, params, cancel).await.map(|answer| answer.unwrap_or(Value::Null))
    }
}

#[derive(Default)]
struct TurnUsage {
    input: u64,
    output: u64,
    cache_read: u64,
    cache_write: u64,
}

struct Turn<'a> {
    agent: &'a Agent,
    conversation: Conversation,
    prompt: String,
    cancel: watch::Receiver<bool>,
    chunk_delay: u64,
    tool_calls: u64,
    skip_next: bool,
    usage: TurnUsage,
}

/// How a turn's action ended.
enum Flow {
    Continue,
    Cancelled,
}

impl Turn<'_> {
    fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Sleeps, returning false when the turn was cancelled meanwhile.
    async fn sleep(&mut self, millis: u64) -> bool {
        if millis == 0 {
            return !self.cancelled();
        }
        let cancel = &mut self.cancel;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(millis)) => {}
            _ = until_cancelled(cancel) => return false,
        }
        !self.cancelled()
    }

    async fn play(&mut self) -> Result<Value, TurnError> {
        let script = Script::parse(&self.conversation.script).map_err(|error| TurnError::from(error.to_string()))?;
        let actions = match script.turns.get(self.conversation.next_turn) {
            Some(actions) => actions.clone(),
            None => vec![Action::Say("The script has no more turns.".into())],
        };
        let mut stop_reason = "end_turn";
        for (index, action) in actions.iter().cloned().enumerate() {
            if self.cancelled() {
                stop_reason = "cancelled";
                break;
            }
            if std::mem::take(&mut self.skip_next) && action.needs_permission() {
                continue;
            }
            if let Action::Ask(title) = &action {
                let asked_for = actions[index + 1..].iter().find(|next| next.needs_permission());
                match self.ask(title, asked_for).await {
                    Flow::Continue => continue,
                    Flow::Cancelled => {
                        stop_reason = "cancelled";
                        break;
                    }
                }
            }
            match self.act(action).await? {
                Flow::Continue => {}
                Flow::Cancelled => {
                    stop_reason = "cancelled";
                    break;
                }
            }
        }
        if self.cancelled() {
            stop_reason = "cancelled";
        }
        let usage = &self.usage;
        Ok(json!({
            "stopReason": stop_reason,
            "usage": {
                "inputTokens": usage.input,
                "outputTokens": usage.output,
                "cachedReadTokens": usage.cache_read,
                "cachedWriteTokens": usage.cache_write,
                "totalTokens": usage.input + usage.output + usage.cache_read + usage.cache_write,
            },
        }))
    }

    async fn stream(&mut self, kind: &str, text: &str) -> Flow {
        let session_id = self.conversation.id.clone();
        for chunk in chunks(text) {
            let update = json!({ "sessionUpdate": kind, "content": { "type": "text", "text": chunk } });
            self.agent.update(&session_id, update).await;
            if !self.sleep(self.chunk_delay).await {
                return Flow::Cancelled;
            }
        }
        Flow::Continue
    }

    fn next_tool_call_id(&self) -> String {
        format!("tool-{}-{}", self.conversation.next_turn + 1, self.tool_calls + 1)
    }

    async fn act(&mut self, action: Action) -> Result<Flow, TurnError> {
        let session_id = self.conversation.id.clone();
        let flow = match action {
            Action::Say(text) => {
                let text = text
                    .replace("{prompt}", &self.prompt)
                    .replace("{dirs}", &self.conversation.additional_dirs.join(", "));
                self.stream("agent_message_chunk", &text).await
            }
            Action::Think(text) => self.stream("agent_thought_chunk", &text).await,
            Action::Plan(steps) => {
                let entries: Vec<Value> = steps
                    .iter()
                    .map(|step| json!({ "content": step, "priority": "medium", "status": "pending" }))
                    .collect();
                self.agent.update(&session_id, json!({ "sessionUpdate": "plan", "entries": entries })).await;
                Flow::Continue
            }
            // Asked in `play`, which knows the action it asks for.
            Action::Ask(_) => Flow::Continue,
            Action::Write { path, content } => {
                self.tool_calls += 1;
                let tool_call_id = format!("tool-{}-{}", self.conversation.next_turn + 1, self.tool_calls);
                let absolute = self.conversation.cwd.join(&path);
                self.agent
                    .update(
                        &session_id,
                        json!({
                            "sessionUpdate": "tool_call", "toolCallId": tool_call_id, "title": format!("Write {path}"),
                            "kind": "edit", "status": "in_progress",
                            "locations": [{ "path": absolute }], "rawInput": { "path": path, "content": content },
                        }),
                    )
                    .await;
                let old_text = std::fs::read_to_string(&absolute).ok();
                let written = if self.agent.client_writes.load(std::sync::atomic::Ordering::Relaxed) {
                    let params = json!({ "sessionId": session_id, "path": absolute, "content": content });
                    let mut cancel = self.cancel.clone();
                    match self.agent.request_full("fs/write_text_file", params, &mut cancel).await {
                        Some(Ok(_)) => Ok(()),
                        Some(Err(message)) => Err(std::io::Error::other(message)),
                        None => return Ok(Flow::Cancelled),
                    }
                } else {
                    absolute
                        .parent()
                        .map(std::fs::create_dir_all)
                        .unwrap_or(Ok(()))
                        .and_then(|()| std::fs::write(&absolute, &content))
                };
                let update = match written {
                    Ok(()) => json!({
                        "sessionUpdate": "tool_call_update", "toolCallId": tool_call_id, "status": "completed",
                        "content": [{ "type": "diff", "path": absolute, "oldText": old_text, "newText": content }],
                    }),
                    Err(error) => json!({
                        "sessionUpdate": "tool_call_update", "toolCallId": tool_call_id, "status": "failed",
                        "content": [{ "type": "content", "content": { "type": "text", "text": format!("could not write {path}: {error}") } }],
                    }),
                };
                self.agent.update(&session_id, update).await;
                Flow::Continue
            }
            Action::Run(command) => self.run_command(&session_id, &command).await,
            Action::Terminal { command, limit } => {
                if self.agent.client_terminals.load(std::sync::atomic::Ordering::Relaxed) {
                    self.run_in_terminal(&session_id, &command, limit).await
                } else {
                    self.run_command(&session_id, &command).await
                }
            }
            Action::Title(title) => {
                self.agent.update(&session_id, json!({ "sessionUpdate": "session_info_update", "title": title })).await;
                Flow::Continue
            }
            Action::Commands(commands) => {
                let commands: Vec<Value> = commands
                    .iter()
                    .map(|(name, description)| json!({ "name": name, "description": description, "input": null }))
                    .collect();
                let update = json!({ "sessionUpdate": "available_commands_update", "availableCommands": commands });
                self.agent.update(&session_id, update).await;
                Flow::Continue
            }
            Action::Context { used, size } => {
                let update = json!({ "sessionUpdate": "usage_update", "used": used, "size": size });
                self.agent.update(&session_id, update).await;
                Flow::Continue
            }
            Action::Elicit(message) => self.elicit(&session_id, &message).await,
            Action::Mode(mode) => {
                self.agent.settings.lock().expect("settings poisoned").mode = mode.clone();
                let update = json!({ "sessionUpdate": "current_mode_update", "currentModeId": mode });
                self.agent.update(&session_id, update).await;
                Flow::Continue
            }
            Action::Model(model) => {
                self.agent.settings.lock().expect("settings poisoned").model = model.clone();
                let update = json!({ "sessionUpdate": "config_option_update", "configOptions": model_options(&model) });
                self.agent.update(&session_id, update).await;
                Flow::Continue
            }
            Action::EmptyChunks => {
                for kind in ["agent_message_chunk", "agent_thought_chunk"] {
                    let update = json!({ "sessionUpdate": kind, "content": { "type": "text", "text": "" } });
                    self.agent.update(&session_id, update).await;
                }
                Flow::Continue
            }
            Action::LateDetails(path) => {
                self.tool_calls += 1;
                let tool_call_id = format!("tool-{}-{}", self.conversation.next_turn + 1, self.tool_calls);
                let start = json!({ "sessionUpdate": "tool_call", "toolCallId": tool_call_id, "title": "Read",
                    "kind": "other", "status": "pending", "rawInput": {} });
                self.agent.update(&session_id, start).await;
                let absolute = self.conversation.cwd.join(&path);
                let update = json!({ "sessionUpdate": "tool_call_update", "toolCallId": tool_call_id,
                    "title": format!("Read {path}"), "kind": "read", "status": "completed",
                    "rawInput": { "file_path": absolute }, "locations": [{ "path": absolute }] });
                self.agent.update(&session_id, update).await;
                Flow::Continue
            }
            Action::Pause(millis) => {
                if self.sleep(millis).await {
                    Flow::Continue
                } else {
                    Flow::Cancelled
                }
            }
            Action::ChunkDelay(millis) => {
                self.chunk_delay = millis;
                Flow::Continue
            }
            Action::Usage { input, output, cache_read, cache_write, cost } => {
                self.usage.input += input;
                self.usage.output += output;
                self.usage.cache_read += cache_read;
                self.usage.cache_write += cache_write;
                let total_cost = {
                    let mut shared = self.agent.conversation.lock().expect("conversation poisoned");
                    let conversation = shared.as_mut().expect("a turn runs in a conversation");
                    conversation.total_cost_usd += cost;
                    self.agent.save(conversation);
                    conversation.total_cost_usd
                };
                let update = json!({ "sessionUpdate": "usage_update", "used": 0, "size": 0,
                    "cost": { "amount": total_cost, "currency": "USD" } });
                self.agent.update(&session_id, update).await;
                Flow::Continue
            }
            Action::Garbage(text) => {
                let _ = self.agent.out.send(Outgoing::Raw(text)).await;
                Flow::Continue
            }
            Action::Fail(message) => return Err(message.into()),
            Action::RateLimit(seconds) => {
                return Err(TurnError {
                    code: FAILED,
                    message: format!("rate limited (HTTP 429): retry after {seconds} s"),
                    data: json!({ "httpStatus": 429, "retryAfterSecs": seconds }),
                });
            }
            // Applied before the handshake, in `run`.
            Action::StartupDelay(_) => Flow::Continue,
            Action::Exit(code) => {
                // Give the writer a moment to flush what was already sent.
                tokio::time::sleep(Duration::from_millis(50)).await;
                std::process::exit(code);
            }
        };
        Ok(flow)
    }

    /// Asks permission for `action` (the next write or run) under `title`; a refusal skips it.
    /// The request describes the action as ACP's tool call does (kind, input, locations), which
    /// is what the client's permission rules match.
    async fn ask(&mut self, title: &str, action: Option<&Action>) -> Flow {
        if self.agent.bypasses_permissions() {
            return Flow::Continue;
        }
        let mut tool_call = json!({ "toolCallId": self.next_tool_call_id(), "title": title });
        match action {
            Some(Action::Run(command) | Action::Terminal { command, .. }) => {
                tool_call["kind"] = json!("execute");
                tool_call["rawInput"] = json!({ "command": command });
            }
            Some(Action::Write { path, .. }) => {
                tool_call["kind"] = json!("edit");
                tool_call["rawInput"] = json!({ "path": path });
                tool_call["locations"] = json!([{ "path": self.conversation.cwd.join(path) }]);
            }
            _ => {}
        }
        let params = json!({
            "sessionId": self.conversation.id,
            "toolCall": tool_call,
            "options": [
                { "optionId": "allow", "name": "Allow", "kind": "allow_once" },
                { "optionId": "allow_always", "name": "Allow always", "kind": "allow_always" },
                { "optionId": "reject", "name": "Reject", "kind": "reject_once" },
            ],
        });
        let mut cancel = self.cancel.clone();
        let Some(result) = self.agent.request("session/request_permission", params, &mut cancel).await else {
            return Flow::Cancelled;
        };
        let outcome = &result["outcome"];
        let allowed =
            outcome["outcome"] == "selected" && matches!(outcome["optionId"].as_str(), Some("allow" | "allow_always"));
        if outcome["outcome"] == "cancelled" {
            Flow::Cancelled
        } else if allowed {
            Flow::Continue
        } else {
            self.skip_next = true;
            self.stream("agent_message_chunk", "Permission refused, so I skipped that step. ").await
        }
    }

    /// Runs `sh -c command` in a client terminal shown in a tool call; a cancelled turn kills it.
    async fn run_in_terminal(&mut self, session_id: &str, command: &str, limit: Option<u64>) -> Flow {
        self.tool_calls += 1;
        let tool_call_id = format!("tool-{}-{}", self.conversation.next_turn + 1, self.tool_calls);
        let params = json!({ "sessionId": session_id, "command": "sh", "args": ["-c", command],
            "cwd": self.conversation.cwd, "outputByteLimit": limit });
        let mut cancel = self.cancel.clone();
        let created = match self.agent.request_full("terminal/create", params, &mut cancel).await {
            None => return Flow::Cancelled,
            Some(Err(message)) => {
                return self.stream("agent_message_chunk", &format!("The terminal did not start: {message}. ")).await;
            }
            Some(Ok(created)) => created,
        };
        let terminal = json!({ "sessionId": session_id, "terminalId": created["terminalId"] });
        let start = json!({ "sessionUpdate": "tool_call", "toolCallId": tool_call_id, "title": format!("Run {command}"),
            "kind": "execute", "status": "in_progress", "rawInput": { "command": command },
            "content": [{ "type": "terminal", "terminalId": created["terminalId"] }] });
        self.agent.update(session_id, start).await;
        let exited = self.agent.request_full("terminal/wait_for_exit", terminal.clone(), &mut cancel).await;
        let Some(Ok(exited)) = exited else {
            // Cancelled: the command is ended and the terminal given back. The turn is over, so
            // the requests go out without waiting for their answers.
            self.agent.request_full("terminal/kill", terminal.clone(), &mut cancel).await;
            self.agent.request_full("terminal/release", terminal, &mut cancel).await;
            return Flow::Cancelled;
        };
        let status = if exited["exitCode"] == 0 { "completed" } else { "failed" };
        let update = json!({ "sessionUpdate": "tool_call_update", "toolCallId": tool_call_id, "status": status,
            "content": [{ "type": "terminal", "terminalId": created["terminalId"] }] });
        self.agent.update(session_id, update).await;
        let output = self.agent.request("terminal/output", terminal.clone(), &mut cancel).await.unwrap_or_default();
        self.agent.request_full("terminal/release", terminal, &mut cancel).await;
        let summary = format!("The command printed {} bytes. ", output["output"].as_str().unwrap_or_default().len());
        self.stream("agent_message_chunk", &summary).await
    }

    /// Asks the client a question with one text field and says what came back.
    async fn elicit(&mut self, session_id: &str, message: &str) -> Flow {
        let params = json!({ "sessionId": session_id, "mode": "form", "message": message, "requestedSchema": {
            "type": "object", "properties": { "answer": { "type": "string", "title": "Answer" } },
            "required": ["answer"],
        } });
        let mut cancel = self.cancel.clone();
        let reply = match self.agent.request_full("elicitation/create", params, &mut cancel).await {
            None => return Flow::Cancelled,
            Some(Err(message)) => format!("The question failed: {message}. "),
            Some(Ok(answer)) => match answer["action"].as_str() {
                Some("accept") => format!("You answered: {}. ", answer["content"]["answer"].as_str().unwrap_or("")),
                Some("decline") => "You declined to answer. ".to_string(),
                _ => "The question was dismissed. ".to_string(),
            },
        };
        self.stream("agent_message_chunk", &reply).await
    }

    async fn run_command(&mut self, session_id: &str, command: &str) -> Flow {
        self.tool_calls += 1;
        let tool_call_id = format!("tool-{}-{}", self.conversation.next_turn + 1, self.tool_calls);
        self.agent
            .update(
                session_id,
                json!({
                    "sessionUpdate": "tool_call", "toolCallId": tool_call_id, "title": format!("Run {command}"),
                    "kind": "execute", "status": "in_progress", "rawInput": { "command": command },
                }),
            )
            .await;
        let (output, exit_code, flow) = match run_shell(&self.conversation.cwd, command, &mut self.cancel).await {
            Ok(Some((output, code))) => (output, Some(code), Flow::Continue),
            Ok(None) => ("(interrupted)".to_string(), None, Flow::Cancelled),
            Err(error) => (format!("could not run the command: {error}"), None, Flow::Continue),
        };
        let status = if exit_code == Some(0) { "completed" } else { "failed" };
        self.agent
            .update(
                session_id,
                json!({
                    "sessionUpdate": "tool_call_update", "toolCallId": tool_call_id, "status": status,
                    "rawOutput": { "output": output, "exitCode": exit_code },
                }),
            )
            .await;
        flow
    }
}

/// Completes when the turn is cancelled (the watch guard is dropped before returning, so the
/// future stays `Send`).
async fn until_cancelled(cancel: &mut watch::Receiver<bool>) {
    let _ = cancel.wait_for(|cancelled| *cancelled).await;
}

/// Runs `sh -c command` in `cwd`; None when cancelled (the command is killed).
async fn run_shell(
    cwd: &Path,
    command: &str,
    cancel: &mut watch::Receiver<bool>,
) -> std::io::Result<Option<(String, i32)>> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{command} 2>&1"))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut output = String::new();
    tokio::select! {
        result = async {
            stdout.read_to_string(&mut output).await?;
            child.wait().await
        } => {
            let status = result?;
            Ok(Some((output, status.code().unwrap_or(-1))))
        }
        _ = until_cancelled(cancel) => {
            let _ = child.kill().await;
            Ok(None)
        }
    }
}

/// Splits text into chunks of about three words, keeping every character.
fn chunks(text: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut words = 0;
    for piece in text.split_inclusive(' ') {
        current.push_str(piece);
        words += 1;
        if words == 3 {
            chunks.push(std::mem::take(&mut current));
            words = 0;
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::chunks;

    #[test]
    fn chunks_keep_every_character() {
        let text = "one two three four five";
        let pieces = chunks(text);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces.concat(), text);
    }
}
