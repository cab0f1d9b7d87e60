//! Request params, results and the records they carry.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::permissions::PermissionRule;

/// What the server adds under `capabilities.experimental.arbor` in its `initialize` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ArborCapabilities {
    /// The protocol version the server speaks; see `PROTOCOL_VERSION`.
    pub protocol_version: u32,
    /// The server's own version (the `arbor` binary's crate version).
    pub server_version: String,
    /// The agents found on this machine, as `agents/list` reports them.
    pub agents: Vec<AgentInfo>,
}

/// One agent Arbor can run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AgentInfo {
    /// Stable id used in `session/new` (for example `scripted`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// One sentence on what this agent is; the scripted agent says plainly that it is scripted.
    pub description: String,
    /// Whether a session can be started with it on this machine now.
    pub available: bool,
    /// Version reported by the agent, when it could be found.
    pub version: Option<String>,
    /// How to make the agent available when it is not.
    pub install_hint: Option<String>,
    /// What the agent's driver supports.
    pub capabilities: AgentCapabilities,
    /// Model names the agent accepts; empty when the agent chooses its own.
    pub models: Vec<String>,
}

/// What a driver supports. Clients hide the actions an agent cannot do.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AgentCapabilities {
    /// One process serves many turns (otherwise a process is started per turn).
    pub persistent_process: bool,
    /// A stopped session can continue its conversation.
    pub resume: bool,
    /// A running turn can be interrupted.
    pub interrupt: bool,
    /// The conversation can be forked natively.
    pub fork: bool,
    /// The `config` fields that reach the agent itself, beyond the ones Arbor applies to every
    /// agent (time limits, permission mode, sandbox): some of `systemPrompt`, `temperature`,
    /// `maxTokens`, `script`. A session giving another one is refused.
    #[serde(default)]
    pub settings: Vec<String>,
    /// The agent can be given directories beyond its worktree (`additionalDirs`).
    #[serde(default)]
    pub additional_dirs: bool,
    /// The agent asks permission before acting.
    pub permissions: bool,
    /// The agent streams its thinking.
    pub thinking: bool,
    /// The agent reports token usage.
    pub usage: bool,
}

/// Lifecycle of a session. `pending → creating → running → (stopping → stopped) | completed |
/// failed | timeout | dead`.
// A new session starts pending, so that is the default.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum SessionStatus {
    /// Accepted, not yet being set up.
    #[default]
    Pending,
    /// Branch, worktree and agent process are being set up.
    Creating,
    /// The agent process is live; see `agentState` for what it is doing.
    Running,
    /// A graceful stop is under way.
    Stopping,
    /// Stopped on request; resumable.
    Stopped,
    /// The agent finished the conversation by itself.
    Completed,
    /// The agent or its setup failed; resumable when the agent has a resume id.
    Failed,
    /// A turn, the whole session or the start-up exceeded its time limit; resumable.
    Timeout,
    /// The agent process vanished, or the server crashed while the session ran; resumable.
    Dead,
}

impl SessionStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [SessionStatus; 9] = [
        Self::Pending,
        Self::Creating,
        Self::Running,
        Self::Stopping,
        Self::Stopped,
        Self::Completed,
        Self::Failed,
        Self::Timeout,
        Self::Dead,
    ];

    /// The wire name of the status.
    pub fn as_str(self) -> &'static str {
        // The name serde writes: strum applies the same rule, and tests/wire_names.rs checks
        // every variant against serde.
        self.into()
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }

    /// True while an agent process may be attached to the session.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Pending | Self::Creating | Self::Running | Self::Stopping)
    }
}

/// What a running agent is doing.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// A turn is in progress.
    Working,
    /// Waiting for the next prompt.
    Idle,
    /// Blocked on a permission request or question from the agent.
    WaitingInput,
}

/// Where a session's title came from. A title is replaced only by one from an equal or higher
/// source: (no title) < prompt < auto < user, so a user's title is never overwritten.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum TitleSource {
    /// Taken from the first prompt.
    Prompt,
    /// Proposed by the agent or the server.
    Auto,
    /// Set by the user.
    User,
}

/// How a session's files are isolated from the user's checkout.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Its own branch and worktree under Arbor's data directory (the default).
    #[default]
    Worktree,
    /// Directly in the given directory, on whatever is checked out there.
    InPlace,
}

/// How much the agent may do without asking.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum PermissionMode {
    /// Ask before every action that needs permission (the default).
    #[default]
    Ask,
    /// Allow file edits, ask for everything else.
    AcceptEdits,
    /// Allow everything without asking. Only ever chosen explicitly by the user.
    BypassPermissions,
}

impl PermissionMode {
    /// The wire name of the mode.
    pub fn as_str(self) -> &'static str {
        // The name serde writes: strum applies the same rule, and tests/wire_names.rs checks
        // every variant against serde.
        self.into()
    }
}

/// Per-session settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SessionConfig {
    /// Limit on one turn, in seconds; the turn is cancelled and the session marked `timeout` when
    /// exceeded. Default 1800.
    pub turn_timeout_secs: Option<u64>,
    /// Optional limit on the whole session's running time, in seconds. Default none.
    pub session_timeout_secs: Option<u64>,
    /// Limit on starting the agent process and its handshake, in seconds. Default 60.
    pub startup_timeout_secs: Option<u64>,
    /// Permission mode passed to the agent. Default `ask`.
    pub permission_mode: Option<PermissionMode>,
    /// Extra system prompt for agents that accept one.
    pub system_prompt: Option<String>,
    /// Sampling temperature for agents that accept one.
    pub temperature: Option<f64>,
    /// Output token limit for agents that accept one.
    pub max_tokens: Option<u64>,
    /// The script for the scripted agent, as text in the script format of `docs/scripted-agent.md`.
    /// Ignored by other agents. When absent the scripted agent runs its built-in demo script.
    pub script: Option<String>,
    /// Stop the session (resumable) when a turn ends with no prompt waiting, freeing its slot in
    /// the admission queue. Trials set this; default false.
    pub stop_when_idle: Option<bool>,
    /// The sandbox the agent runs in (`none`, `auto`, `bwrap`, `landlock`, `container`). Default:
    /// the config file's `sandbox`, else `auto` for trials and `bypass_permissions`, `none` for
    /// the rest. See `docs/sandbox.md`.
    pub sandbox: Option<crate::SandboxChoice>,
    /// What a sandboxed agent may reach: `off`, `model_api` (the default) or `on`.
    pub network: Option<crate::NetworkMode>,
    /// The most processes a sandboxed agent may run at once. Default 512.
    pub max_processes: Option<u32>,
    /// The most memory a sandboxed agent may use, in MiB. Default 8192.
    pub max_memory_mb: Option<u64>,
    /// Where the session runs: the name of one of the config file's `hosts`, or `local` for this
    /// machine. Pins the session there; default: the admission scheduler places it on the
    /// least-loaded place that can run its agent (see docs/scaling.md).
    #[serde(default)]
    pub host: Option<String>,
    /// Labels the host a session is placed on must have (the `labels` of a configured host); a
    /// session with labels never runs on this machine. Default none.
    #[serde(default)]
    pub host_labels: Option<Vec<String>>,
}

/// Token counts and cost.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Input tokens, not counting cache reads.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read_tokens: u64,
    /// Input tokens written to the prompt cache.
    pub cache_write_tokens: u64,
    /// Cost in US dollars: as reported by the agent, or estimated from the token counts and a
    /// price table when the agent reports tokens but no cost (then `costEstimated` is true).
    pub cost_usd: f64,
    /// True when some of `costUsd` is Arbor's estimate rather than a figure the agent reported.
    #[serde(default)]
    pub cost_estimated: bool,
}

impl Usage {
    /// Adds another usage figure to this one.
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.cost_usd += other.cost_usd;
        self.cost_estimated |= other.cost_estimated;
    }
}

/// A session: one agent conversation on one branch and worktree (or in place).
// Its `Default` is no session at all (a nil id, no agent, no repository): the empty base the
// server builds a new session's record on, filling in what the session is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// Arbor's id for the session; stable for its whole life.
    pub id: Uuid,
    /// The agent's own id for the conversation, once known; used to resume it.
    pub agent_session_id: Option<String>,
    /// Id of the agent running the session (see `agents/list`).
    pub agent: String,
    /// Model requested for the session, if any.
    pub model: Option<String>,
    /// The agent's own permission mode as it last reported it (for ACP agents, the id of the
    /// mode it is in, such as `default` or `read-only`); null until the agent says.
    #[serde(default)]
    pub agent_mode: Option<String>,
    /// The model the agent last reported it runs on; null until the agent says.
    #[serde(default)]
    pub agent_model: Option<String>,
    /// Title shown in lists.
    pub title: Option<String>,
    /// Where the title came from; null when there is no title.
    pub title_source: Option<TitleSource>,
    /// The first prompt sent to the session.
    pub first_prompt: Option<String>,
    /// Lifecycle status.
    pub status: SessionStatus,
    /// What the agent is doing; null unless the session is running.
    pub agent_state: Option<AgentState>,
    /// Why the session ended in its current status, when it did not end normally.
    pub status_reason: Option<String>,
    /// Root of the git repository the session works on.
    pub repo_root: String,
    /// Directory the agent runs in: the worktree, or the repository directory for in-place sessions.
    pub cwd: String,
    /// Worktree or in place.
    pub isolation: Isolation,
    /// The session's branch (`arbor/<short-id>-<slug>`), or the checked-out branch in place.
    pub branch: Option<String>,
    /// The branch the session started from.
    pub base_branch: Option<String>,
    /// The commit the session started from.
    pub base_commit: Option<String>,
    /// Settings the session was created with.
    pub config: SessionConfig,
    /// Directories outside the worktree the agent may also read and write (absolute, as given
    /// and checked at `session/new` or `session/configure`).
    #[serde(default)]
    pub additional_dirs: Vec<String>,
    /// The agent profile the session was started from, if any (its permission rules apply).
    #[serde(default)]
    pub profile: Option<String>,
    /// The session's own permission rules, the most specific level of the policy: those given to
    /// `session/new` or `session/configure`, and "allow always" answers.
    #[serde(default)]
    pub permissions: Vec<PermissionRule>,
    /// The session this one resumed, when it was started by `session/resume` with `asNewSession`.
    pub resumed_from: Option<Uuid>,
    /// The session this one was forked from, when it was started by `session/fork`.
    pub forked_from: Option<Uuid>,
    /// The seq of the parent's event the fork was taken at.
    pub forked_at_seq: Option<u64>,
    /// The worktree's HEAD commit as Arbor last saw or made it; a different HEAD means someone
    /// committed or checked out in the worktree outside Arbor.
    pub head_commit: Option<String>,
    /// The task the session works on, if any.
    pub task_id: Option<Uuid>,
    /// The trial of that task the session belongs to, if any.
    pub trial_id: Option<Uuid>,
    /// Place in the admission queue (1 = next) while the session waits for a free slot.
    pub queue_position: Option<u32>,
    /// The workflow attached to the session, if any.
    pub workflow: Option<String>,
    /// Pinned sessions are listed first.
    pub pinned: bool,
    /// When the session was pinned, milliseconds since the Unix epoch; when more sessions are
    /// pinned than the config's `maxPinnedSessions`, the one pinned longest ago is unpinned.
    pub pinned_at: Option<i64>,
    /// Place among the pinned sessions (0 first), as `session/pinOrder` set it; a new pin goes
    /// last. Null when the session is not pinned.
    #[serde(default)]
    pub pin_order: Option<u32>,
    /// Hidden sessions are left out of `session/list` unless asked for.
    pub hidden: bool,
    /// Archived by `session/archive` or the retention policy: its worktree is removed (its branch,
    /// checkpoints and history kept); `session/resume` recreates the worktree.
    #[serde(default)]
    pub archived: bool,
    /// Token usage and cost summed over the session.
    pub usage: Usage,
    /// How the agent is confined; null for a session that never started or runs unconfined by
    /// choice.
    #[serde(default)]
    pub sandbox: Option<crate::SessionSandbox>,
    /// The pull request opened for the session's branch, as last synced from the forge; null
    /// before `session/pr`.
    #[serde(default)]
    pub pull_request: Option<crate::PullRequest>,
    /// The configured host the session's agent runs on (see docs/scaling.md), as the admission
    /// scheduler placed it; null for this machine. Kept when the session ends, so a resume goes
    /// back to the same host.
    #[serde(default)]
    pub host: Option<String>,
    /// Seq of the session's newest event (0 when it has none).
    pub last_seq: u64,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Time of the last change, milliseconds since the Unix epoch.
    pub updated_at: i64,
}

/// `agents/list` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AgentsListResult {
    /// Every agent Arbor knows, available or not.
    pub agents: Vec<AgentInfo>,
    /// The sandbox backends that work on the server's machine.
    pub sandbox: crate::SandboxReport,
}

/// `host/list` result: the places sessions can run, as the admission scheduler sees them now.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HostListResult {
    /// This machine, which runs every agent it has and has no labels.
    pub local: LocalPlace,
    /// Every host of the config file's `hosts`, in the file's order (the order placement breaks
    /// ties by, after this machine).
    pub hosts: Vec<HostPlace>,
}

/// This machine as a place sessions run (`host/list`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LocalPlace {
    /// Sessions with a live agent here at once: the config file's `limits.maxRunning`.
    pub max_running: u32,
    /// Sessions whose agent runs here now.
    pub running: u32,
    /// This machine's one-minute load average per processor as placement last read it (every
    /// 15 s, only while hosts are configured); null while unknown.
    pub load: Option<f64>,
}

/// One configured host as a place sessions run (`host/list`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HostPlace {
    /// The name sessions and commands use for it (`config.host`, `Session.host`).
    pub name: String,
    /// What ssh is given to reach it: `user@host` or a `Host` alias of the user's ssh config.
    pub ssh: String,
    /// Labels a session can ask for (`config.hostLabels`).
    pub labels: Vec<String>,
    /// The agents it runs; empty for any.
    pub agents: Vec<String>,
    /// Sessions with a live agent on it at once.
    pub max_running: u32,
    /// Sessions of this daemon whose agent runs on it now.
    pub running: u32,
    /// Its one-minute load average per processor as it last reported it over ssh (asked every
    /// 15 s); null while unknown, as when it did not answer the last time.
    pub load: Option<f64>,
}

/// `agents/authenticate` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticateParams {
    /// The agent's id, as `agents/list` names it.
    pub agent: String,
    /// The id of one of the agent's login methods (ACP's `authMethods`), as the error of a
    /// session it refused names them.
    pub method_id: String,
}

/// `session/new` params.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NewSessionParams {
    /// A directory inside the git repository to work on. Leave empty when `repositoryUrl` is
    /// given.
    #[serde(default)]
    pub cwd: String,
    /// A repository to clone (a URL or a local path) into Arbor's data directory and work on,
    /// instead of `cwd`. `baseBranch` chooses the branch cloned; an earlier clone is fetched again.
    #[serde(default)]
    pub repository_url: Option<String>,
    /// Files (paths relative to the repository root, usually gitignored ones such as `.env`)
    /// copied from the repository into the new worktree.
    #[serde(default)]
    pub setup_files: Option<Vec<String>>,
    /// When given, the server reports the set-up as LSP `$/progress` notifications with this
    /// token (begin, report, end).
    #[serde(default)]
    pub work_done_token: Option<ProgressToken>,
    /// Agent id from `agents/list`; may be left out when `profile` names one.
    #[serde(default)]
    pub agent: String,
    /// Model name, when the agent accepts one.
    #[serde(default)]
    pub model: Option<String>,
    /// Title; recorded with source `user`. Without it, the first prompt gives the title.
    #[serde(default)]
    pub title: Option<String>,
    /// First prompt, sent as soon as the agent is ready.
    #[serde(default)]
    pub prompt: Option<String>,
    /// Branch to start from; default the repository's current branch.
    #[serde(default)]
    pub base_branch: Option<String>,
    /// Worktree (default) or in place.
    #[serde(default)]
    pub isolation: Option<Isolation>,
    /// Per-session settings.
    #[serde(default)]
    pub config: Option<SessionConfig>,
    /// An agent profile (agent, model and settings by name, from the config file) to use; the
    /// fields above override it.
    #[serde(default)]
    pub profile: Option<String>,
    /// The session's permission rules (see the protocol's permission policy).
    #[serde(default)]
    pub permissions: Option<Vec<PermissionRule>>,
    /// A workflow (a Markdown prompt plan from `.arbor/workflows/` or the user's config) whose
    /// text is sent to the agent ahead of the prompt.
    #[serde(default)]
    pub workflow: Option<String>,
    /// Directories outside the worktree the agent may also read and write: absolute paths of
    /// existing directories, outside Arbor's data directory (which holds every session's
    /// worktree). Refused for agents that cannot take them (`capabilities.additionalDirs`).
    #[serde(default)]
    pub additional_dirs: Option<Vec<String>>,
}

/// An LSP progress token: a number or a string chosen by the client.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum ProgressToken {
    /// A numeric token.
    Number(i64),
    /// A string token.
    String(String),
}

/// `$/progress`: one step of a long request's work-done progress, under the client's token.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProgressNotification {
    /// The token the client gave as `workDoneToken`.
    pub token: ProgressToken,
    /// The step.
    pub value: WorkDoneProgress,
}

/// LSP's work-done progress values, as Arbor sends them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkDoneProgress {
    /// The operation started.
    Begin {
        /// What is being done.
        title: String,
        /// Always false: Arbor's long requests cannot be cancelled half-way.
        cancellable: bool,
        /// Always 0.
        percentage: u32,
    },
    /// A step.
    Report {
        /// The step's description.
        message: String,
        /// How far the operation is, 0 to 100.
        percentage: u32,
    },
    /// The operation ended.
    End {
        /// How it ended.
        message: String,
    },
}

/// The params of a method that takes none: `{}` or `[]` (and, through the server's framing
/// guard, omitted or null params).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct NoParams {}

/// Params naming one session.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SessionIdParams {
    /// The session's Arbor id.
    pub session_id: Uuid,
}

/// `session/list` params.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ListSessionsParams {
    /// Case-insensitive text matched against title, repository path, working directory and first
    /// prompt.
    #[serde(default)]
    pub query: Option<String>,
    /// Only sessions of this agent.
    #[serde(default)]
    pub agent: Option<String>,
    /// Only sessions in one of these statuses.
    #[serde(default)]
    pub status: Option<Vec<SessionStatus>>,
    /// Include hidden sessions.
    #[serde(default)]
    pub include_hidden: bool,
    /// Page size; default 100, at most 1000.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Number of sessions to skip (from `nextOffset` of the previous page).
    #[serde(default)]
    pub offset: Option<u32>,
}

/// `session/list` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ListSessionsResult {
    /// Pinned sessions first (in pin order), then the most recently updated.
    pub sessions: Vec<Session>,
    /// Number of sessions matching the filter, over all pages.
    pub total: u32,
    /// Offset of the next page, or null on the last page.
    pub next_offset: Option<u32>,
}

/// Whether a prompt sent during a turn interrupts it or waits for it.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PromptMode {
    /// Send after the current turn ends (the default).
    #[default]
    Queue,
    /// Interrupt the current turn, then send.
    Interrupt,
}

/// `session/prompt` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PromptParams {
    /// The session's Arbor id.
    pub session_id: Uuid,
    /// The message.
    pub text: String,
    /// What to do when the agent is working; default `queue`.
    #[serde(default)]
    pub mode: Option<PromptMode>,
}

/// `session/prompt` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PromptResult {
    /// True when the prompt waits behind a running turn.
    pub queued: bool,
}

/// `session/resume` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResumeParams {
    /// The session to resume.
    pub session_id: Uuid,
    /// A prompt to send once the agent is back.
    #[serde(default)]
    pub prompt: Option<String>,
    /// Continue the conversation in a new session (with `resumedFrom` set) instead of in place;
    /// the old session keeps its history unchanged.
    #[serde(default)]
    pub as_new_session: bool,
    /// Move the session: the name of a configured host, or `local` for this machine, where it
    /// runs from now on (it becomes the session's `config.host` pin). The agent there starts from
    /// the work as of the session's last checkpoint with a new conversation that is given this
    /// session's transcript. Default: back where it ran.
    #[serde(default)]
    pub host: Option<String>,
}

/// `session/configure` params. Absent fields are left as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConfigureParams {
    /// The session to change.
    pub session_id: Uuid,
    /// New title. Applied only when `titleSource` is at least the current title's source.
    #[serde(default)]
    pub title: Option<String>,
    /// Source of the new title; default `user`.
    #[serde(default)]
    pub title_source: Option<TitleSource>,
    /// Pin or unpin.
    #[serde(default)]
    pub pinned: Option<bool>,
    /// Hide or show.
    #[serde(default)]
    pub hidden: Option<bool>,
    /// Replace the session's own permission rules.
    #[serde(default)]
    pub permissions: Option<Vec<PermissionRule>>,
    /// New permission mode, passed on to the running agent and used by later starts.
    #[serde(default)]
    pub permission_mode: Option<PermissionMode>,
    /// New model, passed on to the running agent and used by later starts.
    #[serde(default)]
    pub model: Option<String>,
    /// Replace the session's extra directories (checked as in `session/new`); the agent gets
    /// them when it next starts (resume).
    #[serde(default)]
    pub additional_dirs: Option<Vec<String>>,
}

/// `session/configure` result: the session, and the sessions unpinned to make room when it was
/// pinned beyond the config's `maxPinnedSessions`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConfigureResult {
    /// The session as changed.
    #[serde(flatten)]
    pub session: Session,
    /// Sessions unpinned to make room for this pin, oldest pin first; empty otherwise.
    #[serde(default)]
    pub unpinned: Vec<Uuid>,
}

/// `session/pinOrder` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PinOrderParams {
    /// Pinned sessions in the order wanted. Pinned sessions left out keep their relative order
    /// after these.
    pub pinned_order: Vec<Uuid>,
}

/// `session/pinOrder` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PinOrderResult {
    /// Every pinned session, in the new order.
    pub sessions: Vec<Session>,
}

/// `session/delete` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeleteParams {
    /// The session to remove.
    pub session_id: Uuid,
    /// Also delete the session's branch. Refused when the branch holds commits that are not in its
    /// base branch, unless `force` is set.
    #[serde(default)]
    pub delete_branch: bool,
    /// Delete the branch even when it is not merged.
    #[serde(default)]
    pub force: bool,
}

/// `session/delete` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeleteResult {
    /// The branch left in the repository, if any, so the user knows where the work is.
    pub kept_branch: Option<String>,
    /// The commit made of uncommitted worktree changes before the worktree was removed, if any.
    pub snapshot_commit: Option<String>,
}

/// `session/events` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EventsParams {
    /// The session to read.
    pub session_id: Uuid,
    /// Return events with a seq greater than this; default 0 (from the start).
    #[serde(default)]
    pub after_seq: Option<u64>,
    /// Page size; default 500, at most 5000.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `session/events` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EventsResult {
    /// Events in seq order.
    pub events: Vec<crate::SessionEventNotification>,
    /// True when more events follow this page.
    pub has_more: bool,
    /// The session's newest seq at the time of reading.
    pub last_seq: u64,
}

/// `session/subscribe` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeParams {
    /// The session to watch.
    pub session_id: Uuid,
    /// Replay events with a seq greater than this before the live ones; default 0 (everything).
    #[serde(default)]
    pub after_seq: Option<u64>,
}

/// `session/subscribe` result. The replayed and live events arrive as `session/event`
/// notifications, each seq exactly once and in order.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeResult {
    /// The session's newest seq when the subscription started; replay covers up to here.
    pub last_seq: u64,
}

/// `session/respond` params: the answer to a `permission_request` or a `question` event.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RespondParams {
    /// The session that asked.
    pub session_id: Uuid,
    /// `requestId` of the permission_request event.
    pub request_id: String,
    /// The chosen option's `optionId`; for a question `accept`, `decline` or `cancel`; null
    /// cancels the request.
    pub option_id: Option<String>,
    /// A question's answers (an object matching its schema), with `accept`.
    #[serde(default)]
    pub content: Option<Value>,
}

/// Result of requests that return nothing but success.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Ack {}
