//! Method and notification names, in one place so that the server, the clients and the
//! documentation cannot drift apart.

/// Agents found on this machine.
pub const AGENTS_LIST: &str = "agents/list";
/// Create and start a session.
pub const SESSION_NEW: &str = "session/new";
/// List sessions with filters.
pub const SESSION_LIST: &str = "session/list";
/// Read one session.
pub const SESSION_GET: &str = "session/get";
/// Send a message to a session's agent.
pub const SESSION_PROMPT: &str = "session/prompt";
/// Interrupt the current turn.
pub const SESSION_CANCEL: &str = "session/cancel";
/// Stop a session gracefully; it can be resumed later.
pub const SESSION_STOP: &str = "session/stop";
/// Start a stopped, dead, failed or timed-out session again.
pub const SESSION_RESUME: &str = "session/resume";
/// Change a session's title, pin or hidden flag.
pub const SESSION_CONFIGURE: &str = "session/configure";
/// Remove a session.
pub const SESSION_DELETE: &str = "session/delete";
/// Read a page of a session's event history.
pub const SESSION_EVENTS: &str = "session/events";
/// Replay a session's history after a seq, then receive its live events.
pub const SESSION_SUBSCRIBE: &str = "session/subscribe";
/// Stop receiving a session's live events.
pub const SESSION_UNSUBSCRIBE: &str = "session/unsubscribe";
/// Answer a permission request.
pub const SESSION_RESPOND: &str = "session/respond";
/// Export a session's conversation (Markdown, HTML or JSON).
pub const SESSION_EXPORT: &str = "session/export";
/// List a session's checkpoints.
pub const SESSION_CHECKPOINTS: &str = "session/checkpoints";
/// Start a new session from a checkpoint of another.
pub const SESSION_FORK: &str = "session/fork";
/// Start a new session with the same settings and a fresh history.
pub const SESSION_CLONE: &str = "session/clone";
/// Reset a session's worktree to a checkpoint.
pub const SESSION_REWIND: &str = "session/rewind";
/// Merge a session's branch into its base branch.
pub const SESSION_MERGE: &str = "session/merge";
/// Push a session's branch to the repository's remote.
pub const SESSION_PUSH: &str = "session/push";
/// Push the session's branch and open a pull request for it on the forge.
pub const SESSION_PR: &str = "session/pr";
/// Send the pull request's reviews and review comments to the session's agent as a prompt.
pub const SESSION_SEND_REVIEW: &str = "session/sendReview";
/// A session's changes against its base.
pub const REVIEW_DIFF: &str = "review/diff";
/// A file's base and current text.
pub const REVIEW_FILE: &str = "review/file";
/// Accept or reject hunks or files.
pub const REVIEW_APPLY: &str = "review/apply";
/// Commit a session's worktree on its branch.
pub const REVIEW_COMMIT: &str = "review/commit";
/// Worktrees no session accounts for.
pub const WORKTREE_ORPHANS: &str = "worktree/orphans";
/// Create a task.
pub const TASK_NEW: &str = "task/new";
/// List tasks.
pub const TASK_LIST: &str = "task/list";
/// A task with its trials and their sessions.
pub const TASK_GET: &str = "task/get";
/// Start one or several trials of a task.
pub const TRIAL_NEW: &str = "trial/new";
/// A follow-up session in a trial.
pub const TRIAL_RETRY: &str = "trial/retry";
/// Run the task's check command in a trial's worktree.
pub const TRIAL_CHECK: &str = "trial/check";
/// Compare a task's trials.
pub const TRIAL_COMPARE: &str = "trial/compare";
/// Commit a trial's remaining work and push its branch.
pub const TRIAL_PUSH: &str = "trial/push";
/// Merge a trial into the task's base and abandon the others.
pub const TRIAL_PROMOTE: &str = "trial/promote";
/// Workflows available to a repository.
pub const WORKFLOW_LIST: &str = "workflow/list";
/// Agent profiles from the config file.
pub const PROFILE_LIST: &str = "profile/list";

/// Every request method above, for documentation and schema generation.
pub const ALL_REQUESTS: &[&str] = &[
    AGENTS_LIST,
    SESSION_NEW,
    SESSION_LIST,
    SESSION_GET,
    SESSION_PROMPT,
    SESSION_CANCEL,
    SESSION_STOP,
    SESSION_RESUME,
    SESSION_CONFIGURE,
    SESSION_DELETE,
    SESSION_EVENTS,
    SESSION_SUBSCRIBE,
    SESSION_UNSUBSCRIBE,
    SESSION_RESPOND,
    SESSION_EXPORT,
    SESSION_CHECKPOINTS,
    SESSION_FORK,
    SESSION_CLONE,
    SESSION_REWIND,
    SESSION_MERGE,
    SESSION_PUSH,
    SESSION_PR,
    SESSION_SEND_REVIEW,
    REVIEW_DIFF,
    REVIEW_FILE,
    REVIEW_APPLY,
    REVIEW_COMMIT,
    WORKTREE_ORPHANS,
    TASK_NEW,
    TASK_LIST,
    TASK_GET,
    TRIAL_NEW,
    TRIAL_RETRY,
    TRIAL_CHECK,
    TRIAL_COMPARE,
    TRIAL_PUSH,
    TRIAL_PROMOTE,
    WORKFLOW_LIST,
    PROFILE_LIST,
];

/// Server → client: one event of a subscribed session.
pub const NOTIFY_SESSION_EVENT: &str = "session/event";
/// Server → client: a session's summary changed (status, agent state, title, usage …).
pub const NOTIFY_SESSION_CHANGED: &str = "session/changed";
/// Server → client: a task changed (its status follows its trials).
pub const NOTIFY_TASK_CHANGED: &str = "task/changed";
