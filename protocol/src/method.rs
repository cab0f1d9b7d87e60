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
];

/// Server → client: one event of a subscribed session.
pub const NOTIFY_SESSION_EVENT: &str = "session/event";
/// Server → client: a session's summary changed (status, agent state, title, usage …).
pub const NOTIFY_SESSION_CHANGED: &str = "session/changed";
