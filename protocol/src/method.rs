//! The one table of the protocol: every request (method name, params type, result type, doc) and
//! every server → client notification. Everything else that names a method is generated from it:
//! the constants and marker types below, [`crate::ServerNotification`], the schema's method table
//! ([`crate::schema`]), the server's registrations (which fail to compile when a method has no
//! handler), the documentation coverage test and the editors' generated clients.
//!
//! The table is kept in two callback macros, [`arbor_requests!`](crate::arbor_requests) and
//! [`arbor_notifications!`](crate::arbor_notifications): each calls the macro it is given with
//! every entry, so a crate can generate its own code (registrations, dispatch) from the same
//! list. An entry reads
//!
//! ```text
//! /// Doc.
//! CONSTANT, MarkerType, handler_name = "wire/name" (ParamsType) -> ResultType;
//! ```
//!
//! and a notification entry `CONSTANT, Variant = "wire/name" (ParamsType);`.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Calls `$callback!` with every request of the protocol.
#[macro_export]
macro_rules! arbor_requests {
    ($callback:ident) => {
        $callback! {
            /// Agents found on this machine.
            AGENTS_LIST, AgentsList, agents_list = "agents/list" ($crate::NoParams) -> $crate::AgentsListResult;
            /// Have an agent log in with one of its login methods that needs no terminal.
            AGENTS_AUTHENTICATE, AgentsAuthenticate, agents_authenticate = "agents/authenticate"
                ($crate::AuthenticateParams) -> $crate::Ack;
            /// This machine and the configured hosts: their limits, running sessions and last reported load.
            HOST_LIST, HostList, host_list = "host/list" ($crate::NoParams) -> $crate::HostListResult;
            /// Create and start a session.
            SESSION_NEW, SessionNew, session_new = "session/new" ($crate::NewSessionParams) -> $crate::Session;
            /// List sessions with filters.
            SESSION_LIST, SessionList, session_list = "session/list"
                ($crate::ListSessionsParams) -> $crate::ListSessionsResult;
            /// Read one session.
            SESSION_GET, SessionGet, session_get = "session/get" ($crate::SessionIdParams) -> $crate::Session;
            /// Send a message to a session's agent.
            SESSION_PROMPT, SessionPrompt, session_prompt = "session/prompt"
                ($crate::PromptParams) -> $crate::PromptResult;
            /// Interrupt the current turn.
            SESSION_CANCEL, SessionCancel, session_cancel = "session/cancel"
                ($crate::SessionIdParams) -> $crate::Ack;
            /// Stop a session gracefully; it can be resumed later.
            SESSION_STOP, SessionStop, session_stop = "session/stop" ($crate::SessionIdParams) -> $crate::Session;
            /// Start a stopped, dead, failed or timed-out session again.
            SESSION_RESUME, SessionResume, session_resume = "session/resume"
                ($crate::ResumeParams) -> $crate::Session;
            /// Change a session's title, pin, hidden flag, permission mode, model or extra directories.
            SESSION_CONFIGURE, SessionConfigure, session_configure = "session/configure"
                ($crate::ConfigureParams) -> $crate::ConfigureResult;
            /// Put pinned sessions in an order.
            SESSION_PIN_ORDER, SessionPinOrder, session_pin_order = "session/pinOrder"
                ($crate::PinOrderParams) -> $crate::PinOrderResult;
            /// Remove a session.
            SESSION_DELETE, SessionDelete, session_delete = "session/delete"
                ($crate::DeleteParams) -> $crate::DeleteResult;
            /// Read a page of a session's event history.
            SESSION_EVENTS, SessionEvents, session_events = "session/events"
                ($crate::EventsParams) -> $crate::EventsResult;
            /// Replay a session's history after a seq, then receive its live events.
            SESSION_SUBSCRIBE, SessionSubscribe, session_subscribe = "session/subscribe"
                ($crate::SubscribeParams) -> $crate::SubscribeResult;
            /// Stop receiving a session's live events.
            SESSION_UNSUBSCRIBE, SessionUnsubscribe, session_unsubscribe = "session/unsubscribe"
                ($crate::SessionIdParams) -> $crate::Ack;
            /// Answer a permission request.
            SESSION_RESPOND, SessionRespond, session_respond = "session/respond"
                ($crate::RespondParams) -> $crate::Ack;
            /// Export a session's conversation (Markdown, HTML, JSON or PDF).
            SESSION_EXPORT, SessionExport, session_export = "session/export"
                ($crate::ExportParams) -> $crate::ExportResult;
            /// List a session's checkpoints.
            SESSION_CHECKPOINTS, SessionCheckpoints, session_checkpoints = "session/checkpoints"
                ($crate::SessionIdParams) -> $crate::CheckpointsResult;
            /// Start a new session from a checkpoint of another.
            SESSION_FORK, SessionFork, session_fork = "session/fork" ($crate::ForkParams) -> $crate::Session;
            /// Start a new session with the same settings and a fresh history.
            SESSION_CLONE, SessionClone, session_clone = "session/clone" ($crate::CloneParams) -> $crate::Session;
            /// Reset a session's worktree to a checkpoint.
            SESSION_REWIND, SessionRewind, session_rewind = "session/rewind"
                ($crate::RewindParams) -> $crate::RewindResult;
            /// Merge a session's branch into its base branch.
            SESSION_MERGE, SessionMerge, session_merge = "session/merge"
                ($crate::MergeParams) -> $crate::MergeResult;
            /// Push a session's branch to the repository's remote.
            SESSION_PUSH, SessionPush, session_push = "session/push" ($crate::PushParams) -> $crate::PushResult;
            /// Push the session's branch and open a pull request for it on the forge.
            SESSION_PR, SessionPr, session_pr = "session/pr" ($crate::PullRequestParams) -> $crate::PullRequest;
            /// Send the pull request's reviews and review comments to the session's agent as a prompt.
            SESSION_SEND_REVIEW, SessionSendReview, session_send_review = "session/sendReview"
                ($crate::SessionIdParams) -> $crate::SendReviewResult;
            /// A session's changes against its base.
            REVIEW_DIFF, ReviewDiff, review_diff = "review/diff" ($crate::DiffParams) -> $crate::ReviewDiff;
            /// A file's base and current text.
            REVIEW_FILE, ReviewFile, review_file = "review/file" ($crate::FileParams) -> $crate::ReviewFile;
            /// Accept or reject hunks or files.
            REVIEW_APPLY, ReviewApply, review_apply = "review/apply" ($crate::ApplyParams) -> $crate::ReviewDiff;
            /// Commit a session's worktree on its branch.
            REVIEW_COMMIT, ReviewCommit, review_commit = "review/commit"
                ($crate::CommitParams) -> $crate::CommitResult;
            /// Worktrees no session accounts for.
            WORKTREE_ORPHANS, WorktreeOrphans, worktree_orphans = "worktree/orphans"
                ($crate::NoParams) -> $crate::OrphansResult;
            /// Stop a session, commit its leftovers and remove its worktree, keeping branch and history.
            SESSION_ARCHIVE, SessionArchive, session_archive = "session/archive"
                ($crate::SessionIdParams) -> $crate::ArchiveResult;
            /// Disk use of session worktrees, and archiving by the retention policy (optionally orphans).
            WORKTREE_GC, WorktreeGc, worktree_gc = "worktree/gc" ($crate::GcParams) -> $crate::GcResult;
            /// Create a task.
            TASK_NEW, TaskNew, task_new = "task/new" ($crate::TaskNewParams) -> $crate::Task;
            /// List tasks.
            TASK_LIST, TaskList, task_list = "task/list" ($crate::TaskListParams) -> $crate::TaskListResult;
            /// A task with its trials and their sessions.
            TASK_GET, TaskGet, task_get = "task/get" ($crate::TaskIdParams) -> $crate::TaskDetail;
            /// Start one or several trials of a task.
            TRIAL_NEW, TrialNew, trial_new = "trial/new" ($crate::TrialNewParams) -> $crate::TrialNewResult;
            /// A follow-up session in a trial.
            TRIAL_RETRY, TrialRetry, trial_retry = "trial/retry" ($crate::TrialRetryParams) -> $crate::TrialDetail;
            /// Run the task's check command in a trial's worktree.
            TRIAL_CHECK, TrialCheck, trial_check = "trial/check" ($crate::TrialIdParams) -> $crate::CheckResult;
            /// Compare a task's trials.
            TRIAL_COMPARE, TrialCompare, trial_compare = "trial/compare"
                ($crate::TaskIdParams) -> $crate::CompareResult;
            /// Commit a trial's remaining work and push its branch.
            TRIAL_PUSH, TrialPush, trial_push = "trial/push" ($crate::TrialPushParams) -> $crate::PushResult;
            /// Merge a trial into the task's base and abandon the others.
            TRIAL_PROMOTE, TrialPromote, trial_promote = "trial/promote"
                ($crate::PromoteParams) -> $crate::PromoteResult;
            /// Workflows available to a repository.
            WORKFLOW_LIST, WorkflowList, workflow_list = "workflow/list"
                ($crate::WorkflowListParams) -> $crate::WorkflowListResult;
            /// Agent profiles from the config file.
            PROFILE_LIST, ProfileList, profile_list = "profile/list" ($crate::NoParams) -> $crate::ProfileListResult;
            /// A profile's memory and its saved versions.
            PROFILE_MEMORY, ProfileMemory, profile_memory = "profile/memory"
                ($crate::ProfileMemoryParams) -> $crate::ProfileMemoryResult;
            /// Make an earlier version of a profile's memory the current one again.
            PROFILE_MEMORY_RESTORE, ProfileMemoryRestore, profile_memory_restore = "profile/memoryRestore"
                ($crate::MemoryRestoreParams) -> $crate::ProfileMemoryResult;
        }
    };
}

/// Calls `$callback!` with every notification the server sends to its clients.
#[macro_export]
macro_rules! arbor_notifications {
    ($callback:ident) => {
        $callback! {
            /// One event of a subscribed session.
            NOTIFY_SESSION_EVENT, SessionEvent = "session/event" ($crate::SessionEventNotification);
            /// A session's summary changed (status, agent state, title, usage …) or it was deleted.
            NOTIFY_SESSION_CHANGED, SessionChanged = "session/changed" ($crate::SessionChangedNotification);
            /// A task changed (its status follows its trials).
            NOTIFY_TASK_CHANGED, TaskChanged = "task/changed" ($crate::TaskChangedNotification);
            /// LSP work-done progress of a long request that was given a `workDoneToken`.
            NOTIFY_PROGRESS, Progress = "$/progress" ($crate::ProgressNotification);
        }
    };
}

/// A request of the protocol: its wire name and the types of its params and result.
pub trait Request {
    /// The method name on the wire.
    const METHOD: &'static str;
    /// The params the client sends.
    type Params: Serialize + DeserializeOwned + Send + 'static;
    /// The result the server answers with.
    type Result: Serialize + DeserializeOwned + Send + 'static;
}

/// A method's wire name, its name in code and its one-line description, as listed in
/// [`REQUESTS`] and [`NOTIFICATIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodDoc {
    /// The method name on the wire.
    pub name: &'static str,
    /// The table's name for it in code: the request's marker type or the notification's
    /// [`ServerNotification`] variant (`SessionNew`, `SessionEvent`); the generated clients name
    /// their descriptors after it.
    pub ident: &'static str,
    /// The table's doc comment, as the compiler hands it over (each line with its leading space).
    doc: &'static str,
}

impl MethodDoc {
    /// What the method does, in the table's words.
    pub fn summary(&self) -> &'static str {
        self.doc.trim()
    }
}

macro_rules! define_requests {
    ($( $(#[doc = $doc:literal])* $konst:ident, $marker:ident, $handler:ident = $name:literal ($params:ty) -> $result:ty; )*) => {
        $(
            $(#[doc = $doc])*
            pub const $konst: &str = $name;

            $(#[doc = $doc])*
            #[derive(Debug)]
            pub enum $marker {}

            impl Request for $marker {
                const METHOD: &'static str = $name;
                type Params = $params;
                type Result = $result;
            }
        )*

        /// Every request of the protocol, in the table's order.
        pub const REQUESTS: &[MethodDoc] =
            &[$(MethodDoc { name: $name, ident: stringify!($marker), doc: concat!($($doc),*) }),*];

        /// Every request method name, in the table's order.
        pub const ALL_REQUESTS: &[&str] = &[$($name),*];
    };
}

macro_rules! define_notifications {
    ($( $(#[doc = $doc:literal])* $konst:ident, $variant:ident = $name:literal ($params:ty); )*) => {
        $(
            $(#[doc = $doc])*
            pub const $konst: &str = $name;
        )*

        /// Every notification the server sends, in the table's order.
        pub const NOTIFICATIONS: &[MethodDoc] =
            &[$(MethodDoc { name: $name, ident: stringify!($variant), doc: concat!($($doc),*) }),*];

        /// A notification from the server to a client, typed by the table.
        // Each notification is built once and consumed at once by the sink, so the size of its
        // largest variant costs nothing worth a box.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone)]
        pub enum ServerNotification {
            $( $(#[doc = $doc])* $variant($params), )*
        }

        impl ServerNotification {
            /// The method name on the wire.
            pub fn method(&self) -> &'static str {
                match self {
                    $( Self::$variant(_) => $name, )*
                }
            }

            /// The params as JSON.
            pub fn params(&self) -> serde_json::Value {
                let params = match self {
                    $( Self::$variant(params) => serde_json::to_value(params), )*
                };
                params.expect("notification params serialise")
            }
        }
    };
}

crate::arbor_requests!(define_requests);
crate::arbor_notifications!(define_notifications);
