//! Session events: the append-only history of a session, streamed live to subscribers.
//! The payload shapes follow the Agent Client Protocol's `session/update` where it has one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::permissions::{AppliedRule, ResolvedBy};
use crate::types::{AgentState, Session, SessionStatus, Usage};

/// `session/event` notification params, and one entry of `session/events`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SessionEventNotification {
    /// The session the event belongs to.
    pub session_id: Uuid,
    /// Position in the session's history: 1, 2, 3 … with no gaps.
    pub seq: u64,
    /// When the event was recorded, milliseconds since the Unix epoch.
    pub at: i64,
    /// The event itself.
    pub event: SessionEvent,
}

/// `session/changed` notification params: sent to every client whenever a session's summary
/// changes (status, agent state, title, pin, usage …).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SessionChangedNotification {
    /// The session as it is now; `deleted` sessions carry their last state.
    pub session: Session,
    /// True when the session was just deleted.
    #[serde(default)]
    pub deleted: bool,
}

/// One thing that happened in a session.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SessionEvent {
    /// A prompt sent by the user.
    UserMessage {
        /// The prompt text.
        text: String,
    },
    /// A piece of the agent's reply, in order; concatenated they form the reply.
    AgentMessageChunk {
        /// The text of this piece.
        text: String,
    },
    /// A piece of the agent's visible thinking.
    AgentThoughtChunk {
        /// The text of this piece.
        text: String,
    },
    /// The agent started a tool call.
    #[serde(rename_all = "camelCase")]
    ToolCall {
        /// Id unique within the session; later updates name it.
        tool_call_id: String,
        /// Human-readable summary, such as "Write src/lib.rs" or "Run cargo test".
        title: String,
        /// What sort of action the tool performs.
        tool_kind: ToolKind,
        /// Current status.
        status: ToolCallStatus,
        /// The tool's input as the agent gave it.
        raw_input: Option<Value>,
        /// Content produced so far.
        content: Vec<ToolCallContent>,
        /// Files the call touches, relative to the session's working directory.
        locations: Vec<String>,
    },
    /// A change to an earlier tool call. Absent fields are unchanged; `content`, when present,
    /// replaces the call's content.
    #[serde(rename_all = "camelCase")]
    ToolCallUpdate {
        /// The `toolCallId` of the call.
        tool_call_id: String,
        /// New status.
        status: Option<ToolCallStatus>,
        /// New title.
        title: Option<String>,
        /// New content, replacing the old.
        content: Option<Vec<ToolCallContent>>,
    },
    /// The agent's plan for the turn.
    Plan {
        /// Every entry of the plan as it now stands.
        entries: Vec<PlanEntry>,
    },
    /// The agent asks permission; answer with `session/respond`.
    #[serde(rename_all = "camelCase")]
    PermissionRequest {
        /// Id to answer with.
        request_id: String,
        /// The tool call the request is about, when there is one.
        tool_call_id: Option<String>,
        /// What the agent wants to do.
        title: String,
        /// The answers the user may choose from.
        options: Vec<PermissionOption>,
        /// The sort of action asked for, which permission rules match on.
        #[serde(default)]
        tool_kind: ToolKind,
        /// What permission rules' patterns match: the command, the path (relative to the
        /// session's directory when inside it), the URL or the query; null when the agent gave
        /// none.
        #[serde(default)]
        subject: Option<String>,
    },
    /// A permission request was answered (by the policy or a client) or withdrawn.
    #[serde(rename_all = "camelCase")]
    PermissionResolved {
        /// The request's id.
        request_id: String,
        /// The chosen option; null when the request was cancelled.
        option_id: Option<String>,
        /// Who answered; null when the request was withdrawn (a cancelled or ended turn).
        #[serde(default)]
        by: Option<ResolvedBy>,
        /// The rule that decided, when the policy answered.
        #[serde(default)]
        rule: Option<AppliedRule>,
    },
    /// The session's status or agent state changed.
    #[serde(rename_all = "camelCase")]
    StatusChanged {
        /// New status.
        status: SessionStatus,
        /// New agent state; null unless running.
        agent_state: Option<AgentState>,
        /// Why, when the change was not routine.
        reason: Option<String>,
    },
    /// A turn ended.
    #[serde(rename_all = "camelCase")]
    TurnEnded {
        /// Why it ended.
        stop_reason: StopReason,
    },
    /// Token usage reported by the agent.
    Usage {
        /// Usage of the turn (or the part of it) just reported.
        turn: Usage,
        /// The session's totals after adding it.
        total: Usage,
    },
    /// A snapshot of the worktree's full state (untracked files included, ignored ones excluded)
    /// was committed under `refs/arbor/checkpoints/…`, without touching HEAD, the index or any
    /// branch.
    Checkpoint(Checkpoint),
    /// Files in the worktree changed (after tool calls or a turn).
    FilesChanged {
        /// The paths whose state changed since the last report, relative to the worktree.
        paths: Vec<String>,
    },
    /// The worktree was reset to an earlier checkpoint.
    #[serde(rename_all = "camelCase")]
    Rewound {
        /// The checkpoint restored.
        to_checkpoint: u32,
        /// The checkpoint that saved the state the rewind left behind.
        saved_checkpoint: u32,
    },
    /// Someone changed the worktree's git state outside Arbor (a commit, a checkout).
    #[serde(rename_all = "camelCase")]
    ExternalChange {
        /// What changed, in words.
        message: String,
        /// The branch now checked out in the worktree (null when detached).
        branch: Option<String>,
        /// The commit now at HEAD.
        head: String,
    },
    /// Information for the user that is not part of the conversation (what a fork carries …).
    Notice {
        /// The information.
        message: String,
    },
    /// Something went wrong. The session carries on unless `fatal` is set.
    Error {
        /// What happened, in words a user can act on.
        message: String,
        /// True when the session could not continue.
        fatal: bool,
    },
}

impl SessionEvent {
    /// The event's `kind` as it appears on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UserMessage { .. } => "user_message",
            Self::AgentMessageChunk { .. } => "agent_message_chunk",
            Self::AgentThoughtChunk { .. } => "agent_thought_chunk",
            Self::ToolCall { .. } => "tool_call",
            Self::ToolCallUpdate { .. } => "tool_call_update",
            Self::Plan { .. } => "plan",
            Self::PermissionRequest { .. } => "permission_request",
            Self::PermissionResolved { .. } => "permission_resolved",
            Self::StatusChanged { .. } => "status_changed",
            Self::TurnEnded { .. } => "turn_ended",
            Self::Usage { .. } => "usage",
            Self::Checkpoint(_) => "checkpoint",
            Self::FilesChanged { .. } => "files_changed",
            Self::Rewound { .. } => "rewound",
            Self::ExternalChange { .. } => "external_change",
            Self::Notice { .. } => "notice",
            Self::Error { .. } => "error",
        }
    }
}

/// A checkpoint of a session's worktree.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// Number of the checkpoint within the session: 1, 2, 3 …
    pub checkpoint_id: u32,
    /// The snapshot commit.
    pub commit: String,
    /// The ref that keeps it, `refs/arbor/checkpoints/<session>/<n>`.
    pub reference: String,
    /// Why it was taken ("after turn 2", "before rewinding to checkpoint 1" …).
    pub label: String,
    /// Files that differ from the session's base commit at this checkpoint.
    pub files_changed: u32,
}

/// Why a turn ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The agent finished its reply.
    EndTurn,
    /// The turn was interrupted.
    Cancelled,
    /// The agent hit its output limit.
    MaxTokens,
    /// The agent refused.
    Refusal,
    /// The agent hit its limit of model requests for one turn.
    MaxTurnRequests,
    /// The turn failed; an `error` event says why.
    Error,
    /// The turn exceeded its time limit.
    Timeout,
}

/// The sort of action a tool performs (ACP's ToolKind).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    /// Reads files or data.
    Read,
    /// Modifies files.
    Edit,
    /// Deletes files.
    Delete,
    /// Moves or renames files.
    Move,
    /// Searches.
    Search,
    /// Runs a command.
    Execute,
    /// Thinks or plans.
    Think,
    /// Fetches from the network.
    Fetch,
    /// Anything else.
    #[default]
    Other,
}

/// Progress of a tool call.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ToolCallStatus {
    /// Not started (waiting for input or permission).
    Pending,
    /// Running.
    InProgress,
    /// Finished successfully.
    Completed,
    /// Failed or was refused.
    Failed,
}

/// Something a tool call produced.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolCallContent {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// A file change.
    #[serde(rename_all = "camelCase")]
    Diff {
        /// The file, relative to the session's working directory.
        path: String,
        /// The file before the change; null for a new file.
        old_text: Option<String>,
        /// The file after the change.
        new_text: String,
    },
    /// Output of a command.
    #[serde(rename_all = "camelCase")]
    Terminal {
        /// Combined stdout and stderr so far.
        output: String,
        /// The exit code, once the command has ended.
        exit_code: Option<i32>,
    },
}

/// One entry of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlanEntry {
    /// What the step is.
    pub content: String,
    /// `pending`, `in_progress` or `completed`.
    pub status: String,
}

/// One answer to a permission request.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PermissionOption {
    /// Id to send back in `session/respond`.
    pub option_id: String,
    /// Label for the button.
    pub name: String,
    /// What choosing it means.
    pub kind: PermissionOptionKind,
}

/// What a permission option means (ACP's PermissionOptionKind).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PermissionOptionKind {
    /// Allow this once.
    AllowOnce,
    /// Allow this and the same from now on.
    AllowAlways,
    /// Refuse this once.
    RejectOnce,
    /// Refuse this and the same from now on.
    RejectAlways,
}
