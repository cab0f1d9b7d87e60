//! Session events: the append-only history of a session, streamed live to subscribers.
//! The payload shapes follow the Agent Client Protocol's `session/update` where it has one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::forge::{PullRequest, SuggestedAction};
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
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, strum::EnumDiscriminants)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[strum_discriminants(
    name(EventKind),
    doc = "The kinds of [`SessionEvent`], named as on the wire.",
    derive(strum::IntoStaticStr, strum::EnumIter),
    strum(serialize_all = "snake_case")
)]
pub enum SessionEvent {
    /// A prompt sent by the user.
    UserMessage {
        /// The prompt text.
        text: String,
    },
    /// A piece of the agent's reply, in order; concatenated they form the reply. Pieces the
    /// agent sent back to back that waited together to be stored arrive joined as one.
    AgentMessageChunk {
        /// The text of this piece.
        text: String,
    },
    /// A piece of the agent's visible thinking, joined like the reply's.
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
    /// A change to an earlier tool call. Absent fields are unchanged; `content` and `locations`,
    /// when present, replace the call's.
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
        /// What the agent tells only later (kind, input, output, files), to merge into the call.
        #[serde(flatten, default)]
        details: ToolCallDetails,
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
    /// How full the agent's context window is, and what the session has cost so far, as the
    /// agent reports them (ACP's `usage_update`).
    #[serde(rename_all = "camelCase")]
    ContextUsage {
        /// Tokens in the context now.
        used: u64,
        /// The context window's size in tokens.
        size: u64,
        /// The session's cost so far in USD, when the agent reports one in USD.
        cost_usd: Option<f64>,
    },
    /// The slash commands the agent offers now (ACP's `available_commands_update`); the latest
    /// one is the current list.
    AvailableCommands {
        /// Every command, in the agent's order.
        commands: Vec<SlashCommand>,
    },
    /// The agent asks the user a structured question (ACP's `elicitation/create`); answer with
    /// `session/respond` (`optionId` `accept` with `content`, `decline` or `cancel`).
    #[serde(rename_all = "camelCase")]
    Question {
        /// Id to answer with.
        request_id: String,
        /// What the agent asks, in words.
        message: String,
        /// The form: a JSON Schema object whose properties are strings, numbers, integers,
        /// booleans or string arrays.
        schema: Value,
        /// The tool call the question belongs to, when there is one.
        tool_call_id: Option<String>,
    },
    /// A question was answered (by the user or a deny rule) or withdrawn.
    #[serde(rename_all = "camelCase")]
    QuestionAnswered {
        /// The question's id.
        request_id: String,
        /// The answer.
        action: QuestionAction,
        /// The values given, when accepted.
        content: Option<Value>,
        /// Who answered; null when the question was withdrawn (a cancelled or ended turn).
        by: Option<ResolvedBy>,
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
    /// A pull request was opened for the session's branch (`session/pr`).
    #[serde(rename_all = "camelCase")]
    PrOpened {
        /// The pull request as the forge answered (boxed: it is the largest event by far).
        pull_request: Box<PullRequest>,
        /// What happened, in words ("Opened PR #12 …").
        message: String,
    },
    /// The session's pull request changed on the forge: its state, reviews, checks or merge.
    #[serde(rename_all = "camelCase")]
    PrUpdated {
        /// The pull request as it is now.
        pull_request: Box<PullRequest>,
        /// What changed, one phrase each ("checks passed", "approved", "merged").
        changes: Vec<String>,
        /// All of it in one line a user can read.
        message: String,
        /// What a client can offer now: deleting the branch and worktree once merged, sending
        /// new review comments to the agent.
        #[serde(default)]
        actions: Vec<SuggestedAction>,
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
        // The tag serde writes: strum applies the same rule to the kinds, and tests/wire_names.rs
        // checks every kind against the schema serde describes.
        EventKind::from(self).into()
    }
}

/// Tool call fields an update fills in, for agents that know them only once the call has
/// started (the Claude adapters send `{}` as the first input and the real one in an update).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ToolCallDetails {
    /// The sort of action, now known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_kind: Option<ToolKind>,
    /// The tool's input, replacing the earlier one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_input: Option<Value>,
    /// The tool's output as the agent gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_output: Option<Value>,
    /// The files the call touches, replacing the earlier list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locations: Option<Vec<String>>,
}

/// One slash command an agent offers.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SlashCommand {
    /// The name, without the slash.
    pub name: String,
    /// What it does.
    pub description: String,
    /// A hint for its input, when it takes one.
    pub hint: Option<String>,
}

/// How a question was answered.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, strum::IntoStaticStr, strum::EnumIter)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum QuestionAction {
    /// Answered with the form's values.
    Accept,
    /// Refused.
    Decline,
    /// Dismissed, or withdrawn.
    Cancel,
}

impl QuestionAction {
    /// The action an answer's `optionId` names.
    pub fn parse(option_id: Option<&str>) -> Option<Self> {
        match option_id {
            Some("accept") => Some(Self::Accept),
            Some("decline") => Some(Self::Decline),
            None | Some("cancel") => Some(Self::Cancel),
            Some(_) => None,
        }
    }

    /// As on the wire.
    pub fn as_str(self) -> &'static str {
        // The name serde writes: strum applies the same rule, and tests/wire_names.rs checks
        // every variant against serde.
        self.into()
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
