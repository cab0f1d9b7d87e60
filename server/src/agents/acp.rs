//! The Agent Client Protocol driver: any agent that speaks ACP (newline-delimited JSON-RPC 2.0 on
//! stdio) as its client. Arbor's scripted agent speaks it, and so do Gemini CLI (`gemini --acp`)
//! and the ACP adapters of other agents.
//!
//! Flow: spawn → `initialize` → `session/new` (or `session/load` to resume) → one `session/prompt`
//! request per turn, with `session/update` notifications streaming the turn and
//! `session/request_permission` requests surfacing as permission_request events, and
//! `elicitation/create` requests as question events. File requests (`fs/read_text_file`,
//! `fs/write_text_file`) are served only inside the session's directory, and terminals
//! (`terminal/*`, `acp_terminal.rs`) run there inside the session's sandbox. On stop, an agent that
//! offers `session/close` is asked to close the session before its process is ended.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arbor_protocol::{
    AgentCapabilities, AgentInfo, PermissionMode, PermissionOption, PlanEntry, QuestionAction, SessionEvent,
    SlashCommand, StopReason, ToolCallContent, ToolCallDetails, ToolCallStatus, ToolKind, Usage,
};
use serde_json::{Value, json};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};

use super::acp_facts::{AgentFacts, AuthKind, LearnedFacts, converse, initialize_params, probe_command};
use super::acp_lines::{ChunkStream, read_incoming};
use super::acp_settings::{Change, Offered};
use super::acp_terminal::Terminals;
use super::discovery::{Version, agent_command, agent_env, find_program};
use super::process::GroupSlot;
use super::stdio::{AgentLoop, AgentPipes, Lines, preview, run_agent_loop, spawn_agent_parsing, with_stderr};
use super::{
    AgentCommand, AgentDriver, AgentError, AgentHandle, AgentOutput, LoginFuture, MAX_JOINED_TEXT_BYTES, StartFuture,
    StartSpec, relative,
};
use crate::config::AcpAgentConfig;
use crate::policy::subject_of;
use crate::rpc::pending::PendingRequests;

/// Bound of the channels between the driver and the session actor.
const CHANNEL_CAPACITY: usize = 256;
/// Wait before retrying a rate-limited turn when the agent gives no time.
const DEFAULT_RETRY_AFTER_SECS: u64 = 30;
/// How long an agent must stay quiet after answering `session/load` for its history replay to
/// count as over. Replayed updates follow each other within milliseconds.
const REPLAY_QUIET: Duration = Duration::from_millis(500);
/// ACP's error code for a method the client does not offer.
const METHOD_NOT_FOUND: i64 = -32601;
/// ACP's error code for a request the agent refuses until the user logs in (`auth_required`).
const AUTH_REQUIRED: i64 = -32000;
/// How long an agent may take to log in when asked (`authenticate`): a login it does by itself
/// may wait for the user in a browser.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

/// Builds the agent's command line for a session.
pub type Launcher = Box<dyn Fn(&StartSpec) -> Result<Command, AgentError> + Send + Sync>;

/// A driver for one ACP agent command.
pub struct AcpDriver {
    info: AgentInfo,
    version: Version,
    launcher: Arc<Launcher>,
    /// Whether to offer the agent Arbor's file system (`fs/read_text_file`, `fs/write_text_file`).
    client_fs: bool,
    /// How long to wait before starting the agent, for agents that need it (see [`gemini`]).
    delay_before: Option<Arc<DelayRule>>,
    /// What the agent's latest `initialize` answer said about it.
    facts: LearnedFacts,
    /// Whether the launcher puts the permission mode and model on the command line, so they are
    /// not set again through the protocol.
    settings_by_command: bool,
    /// The agent's command line, for login instructions.
    command_line: Vec<String>,
    /// How to start the agent outside a session, to log it in; None when Arbor cannot.
    standalone: Option<Arc<Standalone>>,
}

/// An agent's program, arguments and environment, to start it outside a session.
struct Standalone {
    program: PathBuf,
    arguments: Vec<String>,
    env: Vec<(String, String)>,
}

/// Decides a wait before an agent starts.
pub type DelayRule = dyn Fn(&StartSpec) -> Option<Duration> + Send + Sync;

impl AcpDriver {
    /// A driver reporting `info` and starting agents with `launcher`.
    pub fn new(info: AgentInfo, launcher: Launcher) -> Self {
        Self::with_version(info, Version::default(), launcher)
    }

    /// Like [`AcpDriver::new`], with the agent's version learned in the background.
    pub fn with_version(info: AgentInfo, version: Version, launcher: Launcher) -> Self {
        Self {
            info,
            version,
            launcher: Arc::new(launcher),
            client_fs: true,
            delay_before: None,
            facts: LearnedFacts::default(),
            settings_by_command: false,
            command_line: Vec::new(),
            standalone: None,
        }
    }

    /// Reports what `facts` learns (from a probe started by the caller) until a session learns more.
    pub fn with_facts(mut self, facts: LearnedFacts) -> Self {
        self.facts = facts;
        self
    }

    /// The agent runs as `command_line`; found, it can be started outside a session to log in.
    fn with_command_line(mut self, command_line: Vec<String>, standalone: Option<Standalone>) -> Self {
        self.command_line = command_line;
        self.standalone = standalone.map(Arc::new);
        self
    }

    /// The launcher applies the permission mode and model on the command line.
    pub fn with_settings_by_command(mut self) -> Self {
        self.settings_by_command = true;
        self
    }

    /// Waits as `rule` says before starting the agent.
    pub fn with_delay(mut self, rule: Box<DelayRule>) -> Self {
        self.delay_before = Some(Arc::from(rule));
        self
    }

    /// Stops offering the agent Arbor's file system: it reads and writes files itself.
    pub fn without_client_fs(mut self) -> Self {
        self.client_fs = false;
        self
    }
}

impl AgentDriver for AcpDriver {
    fn info(&self) -> AgentInfo {
        let mut info = self.info.clone();
        if let Some(version) = self.version.get() {
            info.version = Some(version);
        }
        if let Some(facts) = self.facts.get() {
            info.capabilities.resume = facts.can_continue();
            info.capabilities.fork = facts.fork;
            info.capabilities.additional_dirs = facts.additional_directories;
            // An agent offering sessionCapabilities.systemPrompt takes config.systemPrompt, so a
            // session asking for one is accepted before the agent runs.
            let system_prompt = super::setting::SYSTEM_PROMPT.to_string();
            if facts.system_prompt && !info.capabilities.settings.contains(&system_prompt) {
                info.capabilities.settings.push(system_prompt);
            }
            info.version = facts.version.or(info.version);
        }
        info
    }

    fn authenticate(&self, method_id: &str) -> LoginFuture {
        let facts = self.facts.clone();
        let standalone = self.standalone.clone();
        let name = self.info.name.clone();
        let command_line = self.command_line.clone();
        let method_id = method_id.to_string();
        Box::pin(async move {
            let Some(standalone) = standalone else {
                return Err(AgentError::LoginMethod(format!("{name} offers no login through Arbor")));
            };
            let known = facts.get().map(|facts| facts.auth_methods);
            match known.as_deref().map(|methods| methods.iter().find(|method| method.id == method_id)) {
                Some(None) => {
                    let offered = known.iter().flatten().map(|method| method.how(&command_line)).collect::<Vec<_>>();
                    return Err(AgentError::LoginMethod(format!(
                        "{name} offers no login method `{method_id}`; it offers: {}",
                        if offered.is_empty() { "none".to_string() } else { offered.join("; ") }
                    )));
                }
                Some(Some(method)) if method.kind != AuthKind::Agent => {
                    return Err(AgentError::LoginMethod(format!(
                        "{name}'s {} is not a login Arbor can do for you; {}",
                        method.name,
                        method.how(&command_line)
                    )));
                }
                _ => {}
            }
            let command = probe_command(&standalone.program, &standalone.arguments, &standalone.env);
            let requests =
                [("initialize", initialize_params(false)), ("authenticate", json!({ "methodId": method_id }))];
            let answers = tokio::task::spawn_blocking(move || converse(command, requests, LOGIN_TIMEOUT))
                .await
                .map_err(|error| AgentError::LoginFailed(format!("{name}: {error}")))?;
            let [initialized, _] = answers.map_err(|message| AgentError::LoginFailed(format!("{name}: {message}")))?;
            facts.set(AgentFacts::of(&initialized));
            Ok(())
        })
    }

    fn start(&self, spec: StartSpec) -> StartFuture {
        let agent = self.info.id.clone();
        let launcher = self.launcher.clone();
        let client_fs = self.client_fs;
        let facts = self.facts.clone();
        let settings_by_command = self.settings_by_command;
        let name = self.info.name.clone();
        let command_line = self.command_line.clone();
        let delay = self.delay_before.as_ref().and_then(|rule| rule(&spec));
        Box::pin(async move {
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            let pipes = spawn_agent_parsing(launcher(&spec)?, Stdio::piped(), &agent, &spec, read_incoming).await?;
            let setup = Setup { name, client_fs, facts, settings_by_command, command_line };
            start_connection(pipes, spec, setup).await
        })
    }
}

/// The Gemini CLI agent's id.
pub const GEMINI_ID: &str = "gemini";

/// Gemini CLI, which speaks ACP with `--acp`.
pub fn gemini(command: Option<&Path>, env: BTreeMap<String, String>) -> AcpDriver {
    let program = find_program("gemini", command);
    // Gemini CLI keeps its files under GEMINI_CLI_HOME when the config file sets it, else HOME.
    let home = env
        .get("GEMINI_CLI_HOME")
        .or_else(|| env.get("HOME"))
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
        .unwrap_or_default();
    let version = program.as_deref().map(|program| Version::probe(program, &env)).unwrap_or_default();
    let info = AgentInfo {
        id: GEMINI_ID.into(),
        name: "Gemini CLI".into(),
        description: "Google's Gemini CLI over the Agent Client Protocol (`gemini --acp`).".into(),
        available: program.is_some(),
        version: None,
        install_hint: Some(
            "install it with `npm install -g @google/gemini-cli` (or set agents.gemini.command in the config file)"
                .into(),
        ),
        capabilities: AgentCapabilities {
            // Gemini CLI offers no additionalDirectories in its initialize answer.
            additional_dirs: false,
            ..super::typical_capabilities()
        },
        models: vec!["gemini-2.5-pro".into(), "gemini-2.5-flash".into()],
    };
    // Gemini CLI cannot tell a missing file from a failed read when the client answers
    // fs/read_text_file (it stringifies the JSON-RPC error object), so new files fail to write:
    // it keeps its own file system, in the session's worktree all the same.
    AcpDriver::with_version(
        info,
        version,
        Box::new(move |spec: &StartSpec| {
            let program = program.clone().ok_or_else(|| AgentError::Unavailable {
                agent: GEMINI_ID.into(),
                hint: "install it with `npm install -g @google/gemini-cli`".into(),
            })?;
            let mut command = agent_command(program, &env);
            command.arg("--acp");
            if let Some(model) = &spec.model {
                command.arg("-m").arg(model);
            }
            match spec.config.permission_mode.unwrap_or_default() {
                PermissionMode::BypassPermissions => {
                    command.arg("--yolo");
                }
                PermissionMode::AcceptEdits => {
                    command.args(["--approval-mode", "auto_edit"]);
                }
                PermissionMode::Ask => {}
            }
            // Without this Gemini re-launches itself in a child process that signals do not reach.
            command.env("GEMINI_CLI_NO_RELAUNCH", "true");
            // A profile's memory is Gemini's global GEMINI.md, in a private GEMINI_CLI_HOME.
            command.envs(crate::memory::agent_home::private_env(GEMINI_ID, &env, spec)?);
            Ok(command)
        }),
    )
    .with_command_line(vec!["gemini".into()], None)
    .without_client_fs()
    .with_settings_by_command()
    .with_delay(Box::new(move |spec: &StartSpec| gemini_resume_delay(spec, &home)))
}

/// Gemini CLI names its session files by the minute (`session-<YYYY-MM-DDTHH-MM>-<id prefix>`)
/// and, when a session is loaded in the same minute its file was started, starts a fresh record
/// in that same file and then fails to find the history. Until the next minute, resuming waits.
/// A session with a profile's memory keeps its files in its private GEMINI_CLI_HOME, whose `tmp`
/// is the user's own when that existed as the session first started.
fn gemini_resume_delay(spec: &StartSpec, home: &Path) -> Option<Duration> {
    let id = spec.resume.as_deref()?;
    let home = spec.memory.as_ref().and_then(|memory| memory.agent_home.as_deref()).unwrap_or(home);
    let prefix: String = id.chars().take(8).collect();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?;
    let minute = crate::clock::utc_minute_stamp(now.as_secs());
    let pattern = format!("session-{minute}-{prefix}.jsonl");
    let projects = std::fs::read_dir(home.join(".gemini/tmp")).ok()?;
    let clash = projects.flatten().any(|project| project.path().join("chats").join(&pattern).exists());
    clash.then(|| Duration::from_secs(61 - now.as_secs() % 60))
}

/// A driver for an ACP agent from the config file's `acpAgents`, whose `initialize` answer is
/// asked in the background for `agents/list`.
pub fn configured(id: &str, agent: &AcpAgentConfig) -> AcpDriver {
    by_command(id, agent, true)
}

/// A driver for an ACP agent by command line; `probe` asks its `initialize` answer at once,
/// otherwise it is learned at the first session's handshake.
pub fn by_command(id: &str, agent: &AcpAgentConfig, probe: bool) -> AcpDriver {
    let program = agent
        .command
        .first()
        .and_then(|program| find_program(program, Path::new(program).is_absolute().then(|| Path::new(program))));
    let arguments: Vec<String> = agent.command.iter().skip(1).cloned().collect();
    // The agent's own initialize answer names it and its version: the command's first word may
    // be an interpreter (`node agent.js`) or lack a --version flag.
    let facts = program
        .as_deref()
        .filter(|_| probe)
        .map(|program| LearnedFacts::probe(program, &arguments, &agent_env(&agent.env)))
        .unwrap_or_default();
    let info = AgentInfo {
        id: id.to_string(),
        name: agent.name.clone(),
        description: format!("{} over the Agent Client Protocol ({})", agent.name, agent.command.join(" ")),
        available: program.is_some(),
        version: None,
        install_hint: Some(format!(
            "`{}` was not found on PATH; install it or fix acpAgents.{id}.command in the config file",
            agent.command.first().map(String::as_str).unwrap_or("")
        )),
        capabilities: AgentCapabilities {
            // Known once the agent's initialize answer says whether it can load sessions.
            resume: false,
            // Known once the agent's initialize answer says whether it takes them.
            additional_dirs: false,
            ..super::typical_capabilities()
        },
        models: Vec::new(),
    };
    let env = agent.env.clone();
    let agent_id = id.to_string();
    let standalone =
        program.clone().map(|program| Standalone { program, arguments: arguments.clone(), env: agent_env(&agent.env) });
    AcpDriver::new(
        info,
        // The permission mode and model are set through the protocol once the session exists.
        Box::new(move |spec: &StartSpec| {
            let program = program.clone().ok_or_else(|| AgentError::Unavailable {
                agent: agent_id.clone(),
                hint: "its command was not found".into(),
            })?;
            let mut command = agent_command(program, &env);
            command.args(&arguments);
            // The Codex adapter runs Codex, which reads its memory from its CODEX_HOME too.
            if agent_id == super::codex::AGENT_ID {
                command.envs(crate::memory::agent_home::private_env(super::codex::AGENT_ID, &env, spec)?);
            }
            Ok(command)
        }),
    )
    .with_facts(facts)
    .with_command_line(agent.command.clone(), standalone)
}

/// A JSON-RPC error from the agent.
#[derive(Debug)]
pub struct RpcError {
    pub(super) code: i64,
    pub(super) message: String,
    /// The error's `data`, where agents put details such as an HTTP status.
    pub(super) data: Value,
}

/// What the stdout reader hands on, in the order the agent wrote it. Responses travel in the same
/// queue as notifications, so a turn's end is never seen before the updates the agent sent first.
pub enum Incoming {
    /// A response to one of our requests.
    Response { id: u64, result: Result<Value, RpcError> },
    /// A request from the agent to the client.
    Request { id: Value, method: String, params: Value },
    /// A notification from the agent.
    Notification { method: String, params: Value },
    /// A `session/update` notification carrying a text chunk of the agent's message or
    /// thinking, read straight into its text (see `acp_lines`).
    Text { stream: ChunkStream, text: String },
    /// A line that is not a JSON-RPC message.
    Malformed(String),
}

/// What one of Arbor's requests to the agent is for, kept until its answer arrives. The answers
/// themselves come as [`Incoming::Response`], in order with the agent's other messages, so what
/// waits is a note of the request rather than a task.
enum Awaiting {
    /// A request of the handshake, which waits for its answer before going on.
    Setup,
    /// A turn's `session/prompt`.
    Turn,
    /// `session/close`; dropping the sender tells the session the agent has closed its session.
    Close(oneshot::Sender<()>),
    /// A request changing a setting mid-session.
    Change(Change),
}

/// The client side of one ACP connection: how messages get to the agent. A clone writes to the
/// same agent and keeps its requests with the original's.
#[derive(Clone)]
pub struct Connection {
    stdin: mpsc::Sender<String>,
    requests: Arc<PendingRequests<Awaiting>>,
}

impl Connection {
    /// A connection writing its messages, one per line, to `stdin`; request ids start at 1.
    pub fn new(stdin: mpsc::Sender<String>) -> Self {
        Self { stdin, requests: Arc::default() }
    }

    async fn send(&self, message: Value) {
        // A closed stdin means the agent is gone; the exit is reported by the process watcher.
        let _ = self.stdin.send(message.to_string()).await;
    }

    /// Sends a request for `awaiting`; its response arrives as [`Incoming::Response`] with the
    /// returned id, which [`Connection::answered`] turns back into what the request was for.
    async fn request(&self, method: &str, params: Value, awaiting: Awaiting) -> u64 {
        let id = self.requests.insert(awaiting);
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })).await;
        id
    }

    /// What the request `id` the agent answered was for; None for an id of no request of ours.
    fn answered(&self, id: u64) -> Option<Awaiting> {
        self.requests.take(id)
    }

    async fn notify(&self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params })).await;
    }

    async fn respond(&self, id: Value, result: Result<Value, (i64, String)>) {
        let message = match result {
            Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
            Err((code, message)) => {
                json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
            }
        };
        self.send(message).await;
    }

    /// Sends a request during the handshake and waits for its response. Updates the agent sends
    /// meanwhile (such as the history replayed by `session/load`) are not part of Arbor's log and
    /// are dropped, except the state [`SetupInbox`] holds for the session; requests are refused
    /// because no session is set up to answer them yet.
    async fn request_and_wait(
        &self,
        incoming: &mut SetupInbox,
        method: &str,
        params: Value,
    ) -> Result<Value, AgentError> {
        self.request_and_answer(incoming, method, params)
            .await?
            .map_err(|error| AgentError::Handshake(format!("{method}: {}", error.message)))
    }

    /// Like [`Connection::request_and_wait`], keeping the agent's error as it gave it.
    async fn request_and_answer(
        &self,
        incoming: &mut SetupInbox,
        method: &str,
        params: Value,
    ) -> Result<Result<Value, RpcError>, AgentError> {
        let expected = self.request(method, params, Awaiting::Setup).await;
        loop {
            match incoming.recv().await {
                Some(Incoming::Response { id, result }) if id == expected => {
                    self.answered(id);
                    return Ok(result);
                }
                Some(Incoming::Request { id, .. }) => self.refuse_during_setup(id).await,
                Some(_) => {}
                None => {
                    return Err(AgentError::Handshake(format!("the agent exited before answering {method}")));
                }
            }
        }
    }

    /// Refuses a request the agent makes before the session is set up to answer it.
    async fn refuse_during_setup(&self, id: Value) {
        self.respond(id, Err((-32002, "the session is still being set up".into()))).await;
    }

    /// Drops the history an agent replays after answering `session/load`, until it has been quiet
    /// for [`REPLAY_QUIET`]. ACP has the replay come before the answer, but Gemini CLI streams it
    /// afterwards without waiting; Arbor has its own copy of the history either way.
    async fn drain_replay(&self, incoming: &mut SetupInbox) -> Result<(), AgentError> {
        loop {
            match tokio::time::timeout(REPLAY_QUIET, incoming.recv()).await {
                Err(_) => return Ok(()),
                Ok(Some(Incoming::Request { id, .. })) => self.refuse_during_setup(id).await,
                Ok(Some(_)) => {}
                Ok(None) => return Err(AgentError::Handshake("the agent exited while loading its session".into())),
            }
        }
    }
}

/// The `session/update` kinds an agent may send while its session is being set up that are held
/// for the session rather than dropped: state, not history.
const HELD_DURING_SETUP: [&str; 2] = ["available_commands_update", "session_info_update"];

/// The agent's messages while its session is being set up. The state it announces meanwhile (its
/// slash commands, a title) is held for the session, since agents such as the Claude adapters
/// send their commands just after answering `session/new`, while Arbor is still setting the
/// session's mode and model. Everything else is the handshake's: the history `session/load`
/// replays is dropped, and the agent's mode and options are read from its answers.
struct SetupInbox {
    incoming: Lines<Incoming>,
    /// The updates held for the session, in the order the agent sent them.
    held: Vec<Value>,
}

impl SetupInbox {
    /// The next message that is not an update held for the session; None once the agent's output
    /// has ended.
    async fn recv(&mut self) -> Option<Incoming> {
        loop {
            match self.incoming.recv().await? {
                Incoming::Notification { method, params }
                    if method == "session/update"
                        && HELD_DURING_SETUP
                            .contains(&params["update"]["sessionUpdate"].as_str().unwrap_or_default()) =>
                {
                    self.held.push(params["update"].clone());
                }
                other => return Some(other),
            }
        }
    }
}

/// What the driver tells a connection about its agent.
struct Setup {
    /// The agent's name, for messages.
    name: String,
    client_fs: bool,
    /// Where the `initialize` answer is kept for `agents/list`.
    facts: LearnedFacts,
    settings_by_command: bool,
    /// The agent's command line, for login instructions.
    command_line: Vec<String>,
}

/// What the handshake leaves for the session.
struct Established {
    agent_session_id: String,
    offered: Offered,
    notices: Vec<String>,
    /// Whether the agent offers `session/close`.
    can_close: bool,
    /// How to log the agent in, when it offers logins.
    login_help: Option<String>,
    /// Whether the profile's memory briefing went into the agent's system prompt.
    briefed: bool,
}

/// Wires up the child's pipes, runs the handshake and starts the driver loop.
async fn start_connection(
    pipes: AgentPipes<Incoming>,
    spec: StartSpec,
    setup: Setup,
) -> Result<AgentHandle, AgentError> {
    let mut inbox = SetupInbox { incoming: pipes.lines, held: Vec::new() };
    let connection = Connection::new(pipes.stdin);
    let process_group = pipes.group;
    let stderr_tail = pipes.stderr_tail;

    let handshake = tokio::time::timeout(spec.startup_timeout, handshake(&connection, &mut inbox, &spec, &setup))
        .await
        .unwrap_or(Err(AgentError::StartupTimeout(spec.startup_timeout.as_secs())));
    let established = match handshake {
        Ok(established) => established,
        Err(error) => {
            process_group.terminate(Duration::from_secs(2)).await;
            return Err(match error {
                AgentError::Handshake(message) => AgentError::Handshake(with_stderr(message, &stderr_tail)),
                other => other,
            });
        }
    };

    let (commands_tx, commands_rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (outputs_tx, outputs_rx) = mpsc::channel(CHANNEL_CAPACITY);
    for message in established.notices {
        let _ = outputs_tx.send(AgentOutput::Event(SessionEvent::Notice { message })).await;
    }
    let _ = outputs_tx.send(AgentOutput::Settings(established.offered.current.clone())).await;
    let mut driver = DriverLoop::new(
        connection,
        established.agent_session_id,
        spec.resume.is_some(),
        spec.cwd.clone(),
        outputs_tx,
        stderr_tail,
    );
    driver.agent_name = setup.name;
    driver.additional_dirs = spec.additional_dirs.clone();
    driver.offered = established.offered;
    driver.can_close = established.can_close;
    driver.login_help = established.login_help;
    if setup.client_fs {
        driver.terminals =
            Some(Terminals::new(spec.session_id, spec.cwd.clone(), spec.sandbox.clone(), driver.outputs.clone()));
    }
    let SetupInbox { incoming, held } = inbox;
    tokio::spawn(async move {
        // What the agent announced during the handshake comes first, as it did on the wire.
        for update in held {
            driver.handle_update(&update).await;
        }
        run_agent_loop(driver, commands_rx, incoming, pipes.exit, pipes.stderr_closed).await
    });
    Ok(AgentHandle {
        commands: commands_tx,
        outputs: outputs_rx,
        process_group: GroupSlot::with(process_group),
        briefed: established.briefed,
    })
}

/// `initialize`, then `session/new`, `session/resume` or `session/load`, then the session's
/// permission mode and model.
async fn handshake(
    connection: &Connection,
    incoming: &mut SetupInbox,
    spec: &StartSpec,
    setup: &Setup,
) -> Result<Established, AgentError> {
    let initialized = connection.request_and_wait(incoming, "initialize", initialize_params(setup.client_fs)).await?;
    let facts = AgentFacts::of(&initialized);
    setup.facts.set(facts.clone());
    let cwd = spec.cwd.display().to_string();
    let login_help = login_help(&facts, &setup.command_line);
    // A refusal of the session is explained with the agent's logins, when it offers any.
    let open =
        |method: &'static str, error: RpcError| opening_refused(method, error, &setup.name, login_help.as_deref());
    if !spec.additional_dirs.is_empty() && !facts.additional_directories {
        return Err(AgentError::Handshake(format!(
            "{} does not take directories beyond its working directory (its initialize answer offers no \
             sessionCapabilities.additionalDirectories); remove the session's additionalDirs",
            setup.name
        )));
    }
    // An agent that takes a system prompt gets the session's and the profile's memory briefing
    // in it, rather than the briefing before its first prompt: it then holds for the whole
    // conversation, and a resumed conversation gets the memory's newest version.
    let briefing = spec.memory.as_ref().and_then(|memory| memory.briefing.as_deref()).filter(|_| facts.system_prompt);
    let system_prompt = [spec.config.system_prompt.as_deref().filter(|_| facts.system_prompt), briefing]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n\n");
    // Every session/new, load, resume and fork carries the extra directories and the system
    // prompt, which ACP's `append` mode adds to the agent's own.
    let session_params = |mut params: Value| {
        if !spec.additional_dirs.is_empty() {
            params["additionalDirectories"] = json!(spec.additional_dirs);
        }
        if !system_prompt.is_empty() {
            params["systemPrompt"] =
                json!({ "mode": "append", "content": [{ "type": "text", "text": system_prompt }] });
        }
        params
    };
    let mut notices = Vec::new();
    let (agent_session_id, answer) = match (&spec.resume, &spec.fork) {
        (None, Some(parent)) if facts.fork => {
            let params = session_params(json!({ "sessionId": parent, "cwd": cwd, "mcpServers": [] }));
            let forked = connection.request_and_wait(incoming, "session/fork", params).await?;
            let id = forked["sessionId"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| AgentError::Handshake("session/fork returned no sessionId".into()))?;
            notices
                .push(format!("{} forked the parent session's conversation: this session continues it.", setup.name));
            (id, forked)
        }
        (Some(agent_session_id), _) => {
            let params = session_params(json!({ "sessionId": agent_session_id, "cwd": cwd, "mcpServers": [] }));
            let answer = if facts.resume {
                // session/resume continues the conversation without replaying it.
                let method = "session/resume";
                connection.request_and_answer(incoming, method, params).await?.map_err(|error| open(method, error))?
            } else if facts.load_session {
                let method = "session/load";
                let answer = connection
                    .request_and_answer(incoming, method, params)
                    .await?
                    .map_err(|error| open(method, error))?;
                connection.drain_replay(incoming).await?;
                answer
            } else {
                return Err(AgentError::Handshake(
                    "this agent cannot resume a conversation (it offers neither session/resume nor loadSession)".into(),
                ));
            };
            (agent_session_id.clone(), answer)
        }
        (None, _) => {
            let params = session_params(json!({ "cwd": cwd, "mcpServers": [] }));
            let created = connection
                .request_and_answer(incoming, "session/new", params)
                .await?
                .map_err(|error| open("session/new", error))?;
            let id = created["sessionId"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| AgentError::Handshake("session/new returned no sessionId".into()))?;
            (id, created)
        }
    };
    let mut offered = Offered::of(&answer);
    let (mode, model) = match setup.settings_by_command {
        true => (None, None),
        false => (Some(spec.config.permission_mode.unwrap_or_default()), spec.model.as_deref()),
    };
    let plan = offered.plan(&setup.name, &agent_session_id, mode, model).map_err(AgentError::Handshake)?;
    for change in plan.changes {
        let answer = connection.request_and_wait(incoming, change.method, change.params.clone()).await?;
        offered.applied(&change, &answer);
    }
    notices.extend(plan.notices);
    let briefed = briefing.is_some();
    Ok(Established { agent_session_id, offered, notices, can_close: facts.close, login_help, briefed })
}

/// How to log in with each of the agent's login methods (ACP's `authMethods`), when it offers any.
fn login_help(facts: &AgentFacts, command_line: &[String]) -> Option<String> {
    let ways: Vec<String> = facts.auth_methods.iter().map(|method| method.how(command_line)).collect();
    (!ways.is_empty()).then(|| format!("it offers: {}", ways.join("; ")))
}

/// The error for an agent's refusal to open a session: one that asks for a login (ACP's
/// `auth_required`) says how to log in; any other refusal by an agent that offers logins names
/// them too, since agents do not all say why.
fn opening_refused(method: &str, error: RpcError, agent: &str, login_help: Option<&str>) -> AgentError {
    match login_help {
        Some(help) if error.code == AUTH_REQUIRED => AgentError::LoginRequired(format!(
            "{agent} needs you to log in ({method}: {}); {help}; then resume the session",
            error.message
        )),
        Some(help) => AgentError::Handshake(format!(
            "{method}: {}; the agent may need you to log in first: {help}",
            error.message
        )),
        None => AgentError::Handshake(format!("{method}: {}", error.message)),
    }
}

/// The client's state once a session is set up: it turns each message from the agent into session
/// outputs and serves the agent's requests. Public so the parser can be driven on its own (the
/// fuzz targets do), without a process.
pub struct DriverLoop {
    connection: Connection,
    agent_session_id: String,
    /// Whether Arbor has stored `agent_session_id` for resuming. Agents such as Gemini CLI keep
    /// a session only once it has taken a prompt, so the id is stored after the first one is sent.
    id_saved: bool,
    cwd: PathBuf,
    /// The session's directories beyond `cwd`, where file requests may also go.
    additional_dirs: Vec<PathBuf>,
    outputs: mpsc::Sender<AgentOutput>,
    /// Arbor request id → the agent's JSON-RPC id of a pending `session/request_permission`.
    permission_requests: HashMap<String, Value>,
    next_permission: u64,
    /// Cumulative cost already reported, so usage_update's running total becomes deltas.
    reported_cost: f64,
    /// Cost reported during the current turn, added to the turn's usage when it ends.
    turn_cost: f64,
    /// Id of the running turn's `session/prompt` request; the answer to an earlier prompt, which
    /// a retried one replaced, ends no turn.
    turn_request: Option<u64>,
    /// The agent's name, for messages.
    agent_name: String,
    /// The modes, models and options the agent offers, with its current mode and model.
    offered: Offered,
    /// Arbor request id → the agent's JSON-RPC id of a pending `elicitation/create`.
    questions: HashMap<String, Value>,
    next_question: u64,
    /// Whether the agent offers `session/close`.
    can_close: bool,
    /// The terminals the agent runs through Arbor; None when Arbor offers it none.
    terminals: Option<Terminals>,
    /// How to log the agent in, for a turn it refuses until the user does.
    login_help: Option<String>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// Text chunks of one stream read back to back, joined, held until the reader has nothing
    /// more waiting (`flush_held`): a flood of chunks then costs the session one output per read
    /// of the agent's stdout rather than one per chunk.
    held_text: Option<(ChunkStream, String)>,
}

impl AgentLoop for DriverLoop {
    type Message = Incoming;

    async fn handle_command(&mut self, command: AgentCommand) {
        match command {
            AgentCommand::Prompt(text) => {
                let params = json!({
                    "sessionId": self.agent_session_id,
                    "prompt": [{ "type": "text", "text": text }],
                });
                self.turn_request = Some(self.connection.request("session/prompt", params, Awaiting::Turn).await);
                if !self.id_saved {
                    self.id_saved = true;
                    self.output(AgentOutput::AgentSessionId(self.agent_session_id.clone())).await;
                }
            }
            AgentCommand::Cancel => self.cancel().await,
            AgentCommand::Respond { request_id, option_id } => self.answer_permission(&request_id, option_id).await,
            AgentCommand::Configure { permission_mode, model } => self.configure(permission_mode, model).await,
            AgentCommand::Answer { request_id, action, content } => {
                self.answer_question(&request_id, action, content).await
            }
            AgentCommand::Close { closed } => {
                if self.can_close {
                    let params = json!({ "sessionId": self.agent_session_id });
                    self.connection.request("session/close", params, Awaiting::Close(closed)).await;
                }
            }
        }
    }

    async fn handle_message(&mut self, message: Incoming) {
        // Held text came first: it goes before whatever this message makes.
        if !matches!(message, Incoming::Text { .. }) {
            self.flush_held().await;
        }
        match message {
            Incoming::Response { id, result } => match self.connection.answered(id) {
                Some(Awaiting::Turn) if self.turn_request == Some(id) => {
                    self.turn_request = None;
                    self.finish_turn(result).await;
                }
                Some(Awaiting::Close(closed)) => drop(closed),
                Some(Awaiting::Change(change)) => match result {
                    Ok(answer) => {
                        self.offered.applied(&change, &answer);
                        self.output(AgentOutput::Settings(self.offered.current.clone())).await;
                    }
                    Err(error) => {
                        let message = format!("{} refused {}: {}", self.agent_name, change.method, error.message);
                        self.output(AgentOutput::Event(SessionEvent::Error { message, fatal: false })).await;
                    }
                },
                // The answer to a prompt a retried one replaced, or to no request of ours.
                Some(Awaiting::Turn | Awaiting::Setup) | None => {}
            },
            Incoming::Notification { method, params } if method == "session/update" => {
                self.handle_update(&params["update"]).await;
            }
            Incoming::Notification { .. } => {}
            Incoming::Text { stream, text } => self.hold_text(stream, text).await,
            Incoming::Request { id, method, params } => self.handle_request(id, &method, params).await,
            Incoming::Malformed(line) => {
                let message = format!("the agent sent a line that is not a JSON-RPC message: {}", preview(&line));
                self.output(AgentOutput::Event(SessionEvent::Error { message, fatal: false })).await;
            }
        }
    }

    async fn flush_held(&mut self) {
        if let Some((stream, text)) = self.held_text.take() {
            let event = match stream {
                ChunkStream::Message => SessionEvent::AgentMessageChunk { text },
                ChunkStream::Thought => SessionEvent::AgentThoughtChunk { text },
            };
            self.output(AgentOutput::Event(event)).await;
        }
    }

    fn outputs(&self) -> &mpsc::Sender<AgentOutput> {
        &self.outputs
    }

    fn stderr_tail(&self) -> &Mutex<VecDeque<String>> {
        &self.stderr_tail
    }
}

impl DriverLoop {
    /// State for the agent's session `agent_session_id` (already stored for resuming when
    /// `id_saved`), serving files inside `cwd` and reporting to `outputs`.
    pub fn new(
        connection: Connection,
        agent_session_id: String,
        id_saved: bool,
        cwd: PathBuf,
        outputs: mpsc::Sender<AgentOutput>,
        stderr_tail: Arc<Mutex<VecDeque<String>>>,
    ) -> Self {
        Self {
            connection,
            agent_session_id,
            id_saved,
            cwd,
            additional_dirs: Vec::new(),
            outputs,
            permission_requests: HashMap::new(),
            next_permission: 1,
            reported_cost: 0.0,
            turn_cost: 0.0,
            turn_request: None,
            agent_name: "The agent".into(),
            offered: Offered::default(),
            questions: HashMap::new(),
            next_question: 1,
            can_close: false,
            terminals: None,
            login_help: None,
            stderr_tail,
            held_text: None,
        }
    }

    /// Changes the agent's permission mode or model mid-session, through what the agent offers;
    /// a change the agent cannot make is reported as an error event.
    async fn configure(&mut self, permission_mode: Option<PermissionMode>, model: Option<String>) {
        match self.offered.plan(&self.agent_name, &self.agent_session_id, permission_mode, model.as_deref()) {
            Ok(plan) => {
                for message in plan.notices {
                    self.output(AgentOutput::Event(SessionEvent::Notice { message })).await;
                }
                for change in plan.changes {
                    self.connection.request(change.method, change.params.clone(), Awaiting::Change(change)).await;
                }
            }
            Err(message) => self.output(AgentOutput::Event(SessionEvent::Error { message, fatal: false })).await,
        }
    }

    async fn cancel(&mut self) {
        self.connection.notify("session/cancel", json!({ "sessionId": self.agent_session_id })).await;
        // ACP: on cancel the client answers every pending permission request with "cancelled".
        let pending: Vec<String> = self.permission_requests.keys().cloned().collect();
        for request_id in pending {
            self.answer_permission(&request_id, None).await;
        }
        let questions: Vec<String> = self.questions.keys().cloned().collect();
        for request_id in questions {
            self.answer_question(&request_id, QuestionAction::Cancel, None).await;
        }
    }

    async fn answer_question(&mut self, request_id: &str, action: QuestionAction, content: Option<Value>) {
        let Some(rpc_id) = self.questions.remove(request_id) else {
            return;
        };
        let answer = match (action, content) {
            (QuestionAction::Accept, content) => json!({ "action": "accept", "content": content.unwrap_or(json!({})) }),
            (other, _) => json!({ "action": other.as_str() }),
        };
        self.connection.respond(rpc_id, Ok(answer)).await;
    }

    async fn answer_permission(&mut self, request_id: &str, option_id: Option<String>) {
        let Some(rpc_id) = self.permission_requests.remove(request_id) else {
            return;
        };
        let outcome = match option_id {
            Some(option_id) => json!({ "outcome": "selected", "optionId": option_id }),
            None => json!({ "outcome": "cancelled" }),
        };
        self.connection.respond(rpc_id, Ok(json!({ "outcome": outcome }))).await;
    }

    async fn finish_turn(&mut self, result: Result<Value, RpcError>) {
        let stop_reason = match result {
            Ok(response) => {
                let mut usage =
                    response.get("usage").map(usage_from_acp).or_else(|| quota_usage(&response)).unwrap_or_default();
                usage.cost_usd = std::mem::take(&mut self.turn_cost);
                if usage != Usage::default() {
                    self.output(AgentOutput::Usage(usage)).await;
                }
                parse_stop_reason(response["stopReason"].as_str().unwrap_or("end_turn"))
            }
            Err(error) if error.data["httpStatus"] == 429 => {
                // Rate limited: the turn is not over, the session retries it after the wait.
                let seconds = error.data["retryAfterSecs"].as_u64().unwrap_or(DEFAULT_RETRY_AFTER_SECS);
                let retry_after = Duration::from_secs(seconds);
                self.output(AgentOutput::RateLimited { retry_after, message: error.message }).await;
                return;
            }
            Err(error) => {
                let message = match &self.login_help {
                    Some(help) if error.code == AUTH_REQUIRED => format!(
                        "{} needs you to log in ({}); {help}; then prompt again",
                        self.agent_name, error.message
                    ),
                    _ => error.message,
                };
                self.output(AgentOutput::Event(SessionEvent::Error { message, fatal: false })).await;
                StopReason::Error
            }
        };
        self.output(AgentOutput::TurnEnded(stop_reason)).await;
    }

    /// Adds a text chunk to the held text, sending that first when the chunk is of the other
    /// stream or would take it past [`MAX_JOINED_TEXT_BYTES`]. Empty chunks (some agents open
    /// and close a message with them) say nothing.
    async fn hold_text(&mut self, stream: ChunkStream, text: String) {
        if text.is_empty() {
            return;
        }
        match &mut self.held_text {
            Some((held, joined)) if *held == stream && joined.len() + text.len() <= MAX_JOINED_TEXT_BYTES => {
                joined.push_str(&text)
            }
            _ => {
                self.flush_held().await;
                self.held_text = Some((stream, text));
            }
        }
    }

    async fn handle_update(&mut self, update: &Value) {
        let event = match update["sessionUpdate"].as_str().unwrap_or_default() {
            // Empty chunks (some agents open and close a message with them) say nothing.
            "agent_message_chunk" => text_of(&update["content"])
                .filter(|text| !text.is_empty())
                .map(|text| SessionEvent::AgentMessageChunk { text }),
            "agent_thought_chunk" => text_of(&update["content"])
                .filter(|text| !text.is_empty())
                .map(|text| SessionEvent::AgentThoughtChunk { text }),
            "tool_call" => Some(SessionEvent::ToolCall {
                tool_call_id: update["toolCallId"].as_str().unwrap_or_default().to_string(),
                title: update["title"].as_str().unwrap_or("Tool call").to_string(),
                tool_kind: parse_tool_kind(update["kind"].as_str()),
                status: parse_tool_status(update["status"].as_str()).unwrap_or(ToolCallStatus::Pending),
                raw_input: update.get("rawInput").cloned(),
                content: self.tool_content(update).unwrap_or_default(),
                locations: locations(update, &self.cwd),
            }),
            "tool_call_update" => Some(SessionEvent::ToolCallUpdate {
                tool_call_id: update["toolCallId"].as_str().unwrap_or_default().to_string(),
                status: parse_tool_status(update["status"].as_str()),
                title: update["title"].as_str().map(str::to_string),
                content: self.tool_content(update),
                details: ToolCallDetails {
                    tool_kind: update["kind"].as_str().map(|kind| parse_tool_kind(Some(kind))),
                    raw_input: update.get("rawInput").filter(|input| !input.is_null()).cloned(),
                    raw_output: update.get("rawOutput").filter(|output| !output.is_null()).cloned(),
                    locations: update["locations"].is_array().then(|| locations(update, &self.cwd)),
                },
            }),
            "plan" => Some(SessionEvent::Plan {
                entries: update["entries"]
                    .as_array()
                    .map(|entries| {
                        entries
                            .iter()
                            .map(|entry| PlanEntry {
                                content: entry["content"].as_str().unwrap_or_default().to_string(),
                                status: entry["status"].as_str().unwrap_or("pending").to_string(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
            "usage_update" => {
                let in_usd = update["cost"]["currency"].as_str().is_none_or(|currency| currency == "USD");
                let total_cost = update["cost"]["amount"].as_f64().filter(|_| in_usd);
                if let Some(total_cost) = total_cost {
                    self.turn_cost += (total_cost - self.reported_cost).max(0.0);
                    self.reported_cost = total_cost;
                }
                let (used, size) = (update["used"].as_u64(), update["size"].as_u64());
                // Agents that know no context figures send zeros; those say nothing.
                match (used, size) {
                    (Some(used), Some(size)) if size > 0 => {
                        Some(SessionEvent::ContextUsage { used, size, cost_usd: total_cost })
                    }
                    _ => None,
                }
            }
            "session_info_update" => {
                if let Some(title) = update["title"].as_str().map(str::trim).filter(|title| !title.is_empty()) {
                    self.output(AgentOutput::Title(title.to_string())).await;
                }
                None
            }
            "available_commands_update" => Some(SessionEvent::AvailableCommands {
                commands: update["availableCommands"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|command| {
                        Some(SlashCommand {
                            name: command["name"].as_str()?.to_string(),
                            description: command["description"].as_str().unwrap_or_default().to_string(),
                            hint: command["input"]["hint"].as_str().map(str::to_string),
                        })
                    })
                    .collect(),
            }),
            "current_mode_update" => {
                self.offered.current.mode = update["currentModeId"].as_str().map(str::to_string);
                self.output(AgentOutput::Settings(self.offered.current.clone())).await;
                None
            }
            "config_option_update" => {
                self.offered.update_options(&update["configOptions"]);
                self.output(AgentOutput::Settings(self.offered.current.clone())).await;
                None
            }
            // History replayed by session/load: Arbor has its own copy.
            _ => None,
        };
        if let Some(event) = event {
            self.output(AgentOutput::Event(event)).await;
        }
        if let (Some(terminals), Some(tool_call_id)) = (&self.terminals, update["toolCallId"].as_str()) {
            let shown = update["content"].as_array().into_iter().flatten();
            for terminal_id in
                shown.filter(|item| item["type"] == "terminal").filter_map(|item| item["terminalId"].as_str())
            {
                terminals.show_in(terminal_id, tool_call_id);
            }
        }
    }

    /// `requested` inside the session's directory, or inside one of its extra directories when
    /// it names one.
    fn confine(&self, requested: &str) -> Result<PathBuf, String> {
        let extra = self.additional_dirs.iter().find(|dir| Path::new(requested).starts_with(dir));
        confine(extra.unwrap_or(&self.cwd), requested)
    }

    async fn handle_request(&mut self, id: Value, method: &str, params: Value) {
        match method {
            "session/request_permission" => {
                let request_id = format!("perm-{}", self.next_permission);
                self.next_permission += 1;
                self.permission_requests.insert(request_id.clone(), id);
                let tool_call = &params["toolCall"];
                let options = params["options"]
                    .as_array()
                    .map(|options| {
                        options
                            .iter()
                            .filter_map(|option| serde_json::from_value::<PermissionOption>(option.clone()).ok())
                            .collect()
                    })
                    .unwrap_or_default();
                let tool_kind = parse_tool_kind(tool_call["kind"].as_str());
                let subject =
                    subject_of(tool_kind, &tool_call["rawInput"], &locations(tool_call, &self.cwd), &self.cwd);
                let event = SessionEvent::PermissionRequest {
                    request_id,
                    tool_call_id: tool_call["toolCallId"].as_str().map(str::to_string),
                    title: tool_call["title"].as_str().unwrap_or("The agent asks for permission").to_string(),
                    options,
                    tool_kind,
                    subject,
                };
                self.output(AgentOutput::Event(event)).await;
            }
            "fs/read_text_file" => {
                let result = self
                    .confine(params["path"].as_str().unwrap_or_default())
                    .and_then(|path| {
                        std::fs::read_to_string(&path).map_err(|error| format!("{}: {error}", path.display()))
                    })
                    .map(|content| json!({ "content": select_lines(&content, &params) }));
                self.connection.respond(id, result.map_err(|message| (-32002, message))).await;
            }
            "fs/write_text_file" => {
                let content = params["content"].as_str().unwrap_or_default().to_string();
                let result = self.confine(params["path"].as_str().unwrap_or_default()).and_then(|path| {
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent).map_err(|error| error.to_string())?;
                    }
                    std::fs::write(&path, content).map_err(|error| format!("{}: {error}", path.display()))
                });
                self.connection.respond(id, result.map(|()| Value::Null).map_err(|message| (-32002, message))).await;
            }
            "elicitation/create" if params["mode"].as_str().is_none_or(|mode| mode == "form") => {
                let request_id = format!("question-{}", self.next_question);
                self.next_question += 1;
                self.questions.insert(request_id.clone(), id);
                let event = SessionEvent::Question {
                    request_id,
                    message: params["message"].as_str().unwrap_or("The agent asks a question").to_string(),
                    schema: params["requestedSchema"].clone(),
                    tool_call_id: params["toolCallId"].as_str().map(str::to_string),
                };
                self.output(AgentOutput::Event(event)).await;
            }
            method if method.starts_with("terminal/") => self.serve_terminal(id, method, &params).await,
            other => {
                let message = format!("method not supported by Arbor: {other}");
                self.connection.respond(id, Err((METHOD_NOT_FOUND, message))).await;
            }
        }
    }

    /// Serves one `terminal/*` request; `terminal/wait_for_exit` is answered by a task of its own
    /// once the command ends, so the connection carries on meanwhile.
    async fn serve_terminal(&mut self, id: Value, method: &str, params: &Value) {
        let Some(terminals) = self.terminals.as_mut() else {
            let message = format!("Arbor offers this agent no terminals: {method}");
            return self.connection.respond(id, Err((METHOD_NOT_FOUND, message))).await;
        };
        let answer = match method {
            "terminal/create" => terminals.create(params),
            "terminal/output" => terminals.output(params),
            "terminal/kill" => terminals.kill(params),
            "terminal/release" => terminals.release(params),
            "terminal/wait_for_exit" => match terminals.wait_for_exit(params) {
                Ok(exited) => {
                    let connection = self.connection.clone();
                    tokio::spawn(async move { connection.respond(id, Ok(exited.await)).await });
                    return;
                }
                Err(refusal) => Err(refusal),
            },
            other => Err((METHOD_NOT_FOUND, format!("method not supported by Arbor: {other}"))),
        };
        self.connection.respond(id, answer).await;
    }

    /// Maps ACP tool call content. A terminal the agent runs through Arbor shows its output so
    /// far (and is linked to the call, which then streams it); command output reported in
    /// `rawOutput` (`output`, `exitCode`) becomes terminal content too.
    fn tool_content(&self, update: &Value) -> Option<Vec<ToolCallContent>> {
        let cwd = &self.cwd;
        let mut content: Option<Vec<ToolCallContent>> = update["content"].as_array().map(|items| {
            items
                .iter()
                .filter_map(|item| match item["type"].as_str() {
                    Some("content") => text_of(&item["content"]).map(|text| ToolCallContent::Text { text }),
                    Some("diff") => Some(ToolCallContent::Diff {
                        path: relative(cwd, item["path"].as_str().unwrap_or_default()),
                        old_text: item["oldText"].as_str().map(str::to_string),
                        new_text: item["newText"].as_str().unwrap_or_default().to_string(),
                    }),
                    Some("terminal") => {
                        self.terminals.as_ref().and_then(|terminals| terminals.content(item["terminalId"].as_str()?))
                    }
                    _ => None,
                })
                .collect()
        });
        if let Some(output) = update["rawOutput"]["output"].as_str() {
            let exit_code = update["rawOutput"]["exitCode"].as_i64().map(|code| code as i32);
            content
                .get_or_insert_with(Vec::new)
                .push(ToolCallContent::Terminal { output: output.to_string(), exit_code });
        }
        content
    }
}

/// Resolves an agent-supplied path and refuses anything outside `root`.
pub(super) fn confine(root: &Path, requested: &str) -> Result<PathBuf, String> {
    let requested_path = Path::new(requested);
    let joined = if requested_path.is_absolute() { requested_path.to_path_buf() } else { root.join(requested_path) };
    let mut normalised = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                normalised.pop();
            }
            Component::CurDir => {}
            other => normalised.push(other),
        }
    }
    // Resolve symlinks through the deepest existing ancestor so a link cannot lead outside.
    let mut existing = normalised.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name().map(|name| name.to_os_string()), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut resolved = existing.canonicalize().map_err(|error| format!("{requested}: {error}"))?;
    for name in rest.into_iter().rev() {
        resolved.push(name);
    }
    let root = root.canonicalize().map_err(|error| format!("{}: {error}", root.display()))?;
    if resolved.starts_with(&root) {
        Ok(resolved)
    } else {
        Err(format!("{requested} is outside the session's directory {}", root.display()))
    }
}

/// Applies ACP's optional `line` (1-based) and `limit` to a file's text.
fn select_lines(content: &str, params: &Value) -> String {
    let first = params["line"].as_u64().unwrap_or(1).max(1) as usize - 1;
    match params["limit"].as_u64() {
        None if first == 0 => content.to_string(),
        limit => content
            .lines()
            .skip(first)
            .take(limit.map(|limit| limit as usize).unwrap_or(usize::MAX))
            .map(|line| format!("{line}\n"))
            .collect(),
    }
}

fn text_of(content: &Value) -> Option<String> {
    match content["type"].as_str() {
        Some("text") | None => content["text"].as_str().map(str::to_string),
        _ => None,
    }
}

fn locations(update: &Value, cwd: &Path) -> Vec<String> {
    update["locations"]
        .as_array()
        .map(|locations| {
            locations.iter().filter_map(|location| location["path"].as_str()).map(|path| relative(cwd, path)).collect()
        })
        .unwrap_or_default()
}

fn parse_tool_kind(kind: Option<&str>) -> ToolKind {
    match kind {
        Some("read") => ToolKind::Read,
        Some("edit") => ToolKind::Edit,
        Some("delete") => ToolKind::Delete,
        Some("move") => ToolKind::Move,
        Some("search") => ToolKind::Search,
        Some("execute") => ToolKind::Execute,
        Some("think") => ToolKind::Think,
        Some("fetch") => ToolKind::Fetch,
        _ => ToolKind::Other,
    }
}

fn parse_tool_status(status: Option<&str>) -> Option<ToolCallStatus> {
    match status? {
        "pending" => Some(ToolCallStatus::Pending),
        "in_progress" => Some(ToolCallStatus::InProgress),
        "completed" => Some(ToolCallStatus::Completed),
        "failed" => Some(ToolCallStatus::Failed),
        _ => None,
    }
}

fn parse_stop_reason(reason: &str) -> StopReason {
    match reason {
        "cancelled" => StopReason::Cancelled,
        "max_tokens" => StopReason::MaxTokens,
        "refusal" => StopReason::Refusal,
        "max_turn_requests" => StopReason::MaxTurnRequests,
        _ => StopReason::EndTurn,
    }
}

/// Token counts Gemini CLI puts in the prompt response's `_meta.quota.token_count`.
fn quota_usage(response: &Value) -> Option<Usage> {
    let counts = response["_meta"]["quota"]["token_count"].as_object()?;
    let count = |name: &str| counts.get(name).and_then(Value::as_u64).unwrap_or(0);
    Some(Usage { input_tokens: count("input_tokens"), output_tokens: count("output_tokens"), ..Usage::default() })
}

/// Token usage in the shape of ACP's prompt response `usage`.
fn usage_from_acp(usage: &Value) -> Usage {
    let count = |name: &str| usage[name].as_u64().unwrap_or(0);
    Usage {
        input_tokens: count("inputTokens"),
        output_tokens: count("outputTokens"),
        cache_read_tokens: count("cachedReadTokens"),
        cache_write_tokens: count("cachedWriteTokens"),
        ..Usage::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confine_refuses_paths_outside_the_root() {
        let root = std::env::temp_dir().join(format!("arbor-confine-{}", std::process::id()));
        std::fs::create_dir_all(root.join("src")).unwrap();
        assert!(confine(&root, "src/new.rs").is_ok());
        assert!(confine(&root, &root.join("a/b.txt").display().to_string()).is_ok());
        assert!(confine(&root, "../escape.txt").unwrap_err().contains("outside"));
        assert!(confine(&root, "/etc/passwd").unwrap_err().contains("outside"));
        std::os::unix::fs::symlink("/etc", root.join("link")).unwrap();
        assert!(confine(&root, "link/passwd").unwrap_err().contains("outside"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn line_selection_follows_acp() {
        let text = "a\nb\nc\n";
        assert_eq!(select_lines(text, &json!({})), text);
        assert_eq!(select_lines(text, &json!({ "line": 2, "limit": 1 })), "b\n");
    }
}
