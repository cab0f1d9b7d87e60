//! Agent drivers: one per agent family behind [`AgentDriver`], each turning its agent's own
//! protocol into Arbor's [`AgentOutput`]s.
//!
//! A driver starts the agent process (in its own process group) and returns an [`AgentHandle`]:
//! commands go in, outputs come out, both over bounded channels. The session actor owns the
//! handle; the driver's task owns the process.

pub mod acp;
pub mod acp_facts;
pub mod acp_lines;
pub mod acp_settings;
pub mod acp_terminal;
pub mod claude;
pub mod codex;
pub mod discovery;
pub mod process;
pub mod scripted;
pub mod stdio;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use arbor_protocol::{
    AgentCapabilities, AgentInfo, PermissionMode, QuestionAction, SessionConfig, SessionEvent, StopReason, Usage,
};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::config::Config;
use crate::paths::Paths;

/// The most text one event of joined chunks carries (see `sessions/coalesce.rs`): a chunk that
/// would take it past this starts the next event, so one event stays a size every client renders
/// at once.
pub const MAX_JOINED_TEXT_BYTES: usize = 64 * 1024;

/// What most agents can do: one persistent process a session that resumes its conversation,
/// interrupts a turn, asks before it acts, shows its thinking, reports usage and works in extra
/// directories; none forks a conversation or takes agent-specific settings. Each driver states
/// only where its agent differs, so the common answer is written once.
pub(crate) fn typical_capabilities() -> AgentCapabilities {
    AgentCapabilities {
        persistent_process: true,
        resume: true,
        interrupt: true,
        fork: false,
        permissions: true,
        thinking: true,
        usage: true,
        settings: Vec::new(),
        additional_dirs: true,
    }
}

/// Errors of starting or talking to an agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// No such agent id.
    #[error("unknown agent '{0}'; agents/list names the agents this server knows")]
    Unknown(String),
    /// The agent is known but cannot run here.
    #[error("agent '{agent}' is not available: {hint}")]
    Unavailable { agent: String, hint: String },
    /// The agent process could not be started.
    #[error("could not start agent '{agent}': {source}")]
    Spawn { agent: String, source: std::io::Error },
    /// The agent started but its handshake failed.
    #[error("agent handshake failed: {0}")]
    Handshake(String),
    /// The agent was asked to resume a conversation it has no record of (its transcript was
    /// never written, or was removed).
    #[error("the agent has no record of conversation {0}")]
    ConversationLost(String),
    /// The agent did not finish starting within the start-up limit.
    #[error("the agent did not start within {0} s")]
    StartupTimeout(u64),
    /// The agent refused to open a session until the user logs in.
    #[error("{0}")]
    LoginRequired(String),
    /// A login the agent does not offer, or not one Arbor can do for the user.
    #[error("{0}")]
    LoginMethod(String),
    /// The agent failed to log in.
    #[error("the login failed: {0}")]
    LoginFailed(String),
    /// The agent's private configuration directory, where its memory lies, could not be made.
    #[error("could not lay out the agent's memory: {0}")]
    Memory(#[from] crate::memory::MemoryError),
    /// The agent's sandbox could not be set up.
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
}

/// What a driver needs to start an agent for a session.
#[derive(Debug, Clone)]
pub struct StartSpec {
    /// Arbor's session id.
    pub session_id: Uuid,
    /// Directory the agent works in.
    pub cwd: PathBuf,
    /// Model requested, if any.
    pub model: Option<String>,
    /// The session's settings.
    pub config: SessionConfig,
    /// Directories beyond `cwd` the agent may read and write (the session's `additionalDirs`).
    pub additional_dirs: Vec<PathBuf>,
    /// The agent's own conversation id to resume, if resuming.
    pub resume: Option<String>,
    /// The agent's own conversation id to fork into a new one, for a forked session whose agent
    /// can fork (otherwise the new session starts a conversation of its own).
    pub fork: Option<String>,
    /// File that receives the agent's stderr.
    pub log_path: PathBuf,
    /// Limit on spawning the agent and completing its handshake; the agent is ended when exceeded.
    pub startup_timeout: std::time::Duration,
    /// Where the agent's process groups are recorded, for recovery after a crash.
    pub ledger: process::GroupLedger,
    /// The session's sandbox: every agent command goes through its `wrap`.
    pub sandbox: Arc<crate::sandbox::Sandbox>,
    /// The memory and skills of the session's profile, when it has them.
    pub memory: Option<crate::memory::Delivery>,
}

/// The names of the `config` fields that only some agents take (`AgentCapabilities::settings`);
/// every other field is applied by Arbor itself, for every agent.
pub mod setting {
    use arbor_protocol::SessionConfig;

    pub const SYSTEM_PROMPT: &str = "systemPrompt";
    pub const TEMPERATURE: &str = "temperature";
    pub const MAX_TOKENS: &str = "maxTokens";
    pub const SCRIPT: &str = "script";

    /// Those of the agent-specific fields that `config` sets.
    pub fn given(config: &SessionConfig) -> Vec<&'static str> {
        [
            (SYSTEM_PROMPT, config.system_prompt.is_some()),
            (TEMPERATURE, config.temperature.is_some()),
            (MAX_TOKENS, config.max_tokens.is_some()),
            (SCRIPT, config.script.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }

    /// A list of names as `settings` holds them.
    pub fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }
}

/// `path` relative to `cwd` when it is inside it, as agents' paths are shown; else unchanged.
pub fn relative(cwd: &Path, path: &str) -> String {
    Path::new(path)
        .strip_prefix(cwd)
        .map(|relative| relative.display().to_string())
        .unwrap_or_else(|_| path.to_string())
}

/// Commands from the session actor to the driver.
#[derive(Debug)]
pub enum AgentCommand {
    /// Start a turn with this prompt.
    Prompt(String),
    /// Interrupt the current turn.
    Cancel,
    /// Answer a permission request (None cancels it).
    Respond { request_id: String, option_id: Option<String> },
    /// Change the agent's permission mode or model (whichever is given) mid-session.
    Configure { permission_mode: Option<PermissionMode>, model: Option<String> },
    /// Answer a question the agent asked (a `question` event).
    Answer { request_id: String, action: QuestionAction, content: Option<Value> },
    /// Close the agent's session before its process is ended (ACP's `session/close`, for agents
    /// that offer it). `closed` is dropped once the agent has answered, or at once by drivers
    /// with nothing to close.
    Close { closed: oneshot::Sender<()> },
}

/// What a driver reports, in the order it happened.
#[derive(Debug)]
pub enum AgentOutput {
    /// An event for the session's log.
    Event(SessionEvent),
    /// The id under which the agent can resume its conversation, reported once the agent has a
    /// conversation to resume (Claude Code and Gemini CLI only after their first prompt).
    AgentSessionId(String),
    /// The agent's permission mode and model as it reports them, shown on the session.
    Settings(acp_settings::Current),
    /// A title the agent gives the conversation (source `auto`).
    Title(String),
    /// Usage figures to add to the session's totals.
    Usage(Usage),
    /// The current turn ended.
    TurnEnded(StopReason),
    /// The agent's API refused the turn for a rate or usage limit; it may be retried after
    /// `retry_after`. The turn has not ended.
    RateLimited { retry_after: std::time::Duration, message: String },
    /// The agent process ended. `clean` is true for a zero exit status.
    Exited { clean: bool, message: String },
    /// `output`, relayed from another Arbor's session, after which that session's conversation
    /// stands at `conversation` (the `agentSessionId` to resume it from). It is stored with the
    /// first event the output makes, so a reconnect after any crash asks for what came later.
    Relayed { conversation: String, output: Box<AgentOutput> },
}

/// A running agent, as seen by its session actor.
pub struct AgentHandle {
    /// Commands to the driver.
    pub commands: mpsc::Sender<AgentCommand>,
    /// Outputs of the driver.
    pub outputs: mpsc::Receiver<AgentOutput>,
    /// The agent's process group (if a process runs now), ended as a whole on stop.
    pub process_group: process::GroupSlot,
    /// Whether the agent was given the profile's memory briefing (`Delivery::briefing`) in its
    /// system prompt, so that its first prompt goes without it.
    pub briefed: bool,
}

/// Future returned by [`AgentDriver::start`].
pub type StartFuture = Pin<Box<dyn Future<Output = Result<AgentHandle, AgentError>> + Send>>;
/// Future returned by [`AgentDriver::authenticate`].
pub type LoginFuture = Pin<Box<dyn Future<Output = Result<(), AgentError>> + Send>>;

/// One agent family.
pub trait AgentDriver: Send + Sync {
    /// The agent's id, availability, version and capabilities, as `agents/list` shows them.
    fn info(&self) -> AgentInfo;
    /// Starts the agent for a session (a new conversation, or the one in `spec.resume`) and
    /// completes its handshake.
    fn start(&self, spec: StartSpec) -> StartFuture;
    /// Has the agent log in with `method_id`, one of its login methods that needs no terminal
    /// (ACP's `authenticate`). Agents without such logins refuse.
    fn authenticate(&self, method_id: &str) -> LoginFuture {
        let message = format!("{} offers no login through Arbor (asked for `{method_id}`)", self.info().name);
        Box::pin(std::future::ready(Err(AgentError::LoginMethod(message))))
    }
}

/// Every driver this server has, keyed by agent id.
#[derive(Clone)]
pub struct AgentRegistry {
    drivers: Vec<Arc<dyn AgentDriver>>,
}

impl AgentRegistry {
    /// The drivers of a server using `paths` and `config`: the scripted agent, the built-in CLI
    /// drivers (available when their CLI is found) and the configured ACP agents.
    pub fn new(paths: &Paths, config: &Config) -> Self {
        let overrides = |id: &str| config.agents.get(id).cloned().unwrap_or_default();
        let claude = overrides(claude::AGENT_ID);
        let codex = overrides(codex::AGENT_ID);
        let gemini = overrides(acp::GEMINI_ID);
        let mut drivers: Vec<Arc<dyn AgentDriver>> = vec![
            Arc::new(scripted::driver(paths)),
            Arc::new(claude::ClaudeDriver::new(claude.command.as_deref(), claude.env)),
            Arc::new(codex::CodexDriver::new(codex.command.as_deref(), codex.acp_command.as_deref(), codex.env)),
            Arc::new(acp::gemini(gemini.command.as_deref(), gemini.env)),
        ];
        for (id, agent) in &config.acp_agents {
            drivers.push(Arc::new(acp::configured(id, agent)));
        }
        Self { drivers }
    }

    /// Every agent's info. Only an agent that is not available says how to install it.
    pub fn list(&self) -> Vec<AgentInfo> {
        self.drivers
            .iter()
            .map(|driver| {
                let mut info = driver.info();
                if info.available {
                    info.install_hint = None;
                }
                info
            })
            .collect()
    }

    /// What this server knows of agent `id`, whether or not it can run here: a session placed on
    /// a host is described (and its settings checked) by the local driver of its agent. An agent
    /// unknown here is described as typical.
    pub fn info_of(&self, id: &str) -> AgentInfo {
        self.drivers.iter().map(|driver| driver.info()).find(|info| info.id == id).unwrap_or_else(|| AgentInfo {
            id: id.to_string(),
            name: id.to_string(),
            description: String::new(),
            available: true,
            version: None,
            install_hint: None,
            capabilities: typical_capabilities(),
            models: Vec::new(),
        })
    }

    /// The driver for `id`, if it is known and available.
    pub fn get(&self, id: &str) -> Result<Arc<dyn AgentDriver>, AgentError> {
        let driver = self
            .drivers
            .iter()
            .find(|driver| driver.info().id == id)
            .ok_or_else(|| AgentError::Unknown(id.to_string()))?;
        let info = driver.info();
        if !info.available {
            return Err(AgentError::Unavailable {
                agent: id.to_string(),
                hint: info.install_hint.unwrap_or_else(|| "it was not found on this machine".into()),
            });
        }
        Ok(driver.clone())
    }
}
