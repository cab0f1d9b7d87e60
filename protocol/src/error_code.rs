//! JSON-RPC error codes. The standard codes come from JSON-RPC 2.0; Arbor's own live in the
//! -33000 range so they never collide with LSP's reserved ranges.

/// The frame or its JSON could not be parsed.
pub const PARSE_ERROR: i64 = -32700;
/// The message is not a valid JSON-RPC request.
pub const INVALID_REQUEST: i64 = -32600;
/// No such method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// The params do not match the method's type.
pub const INVALID_PARAMS: i64 = -32602;
/// A bug or an unexpected failure inside the server.
pub const INTERNAL_ERROR: i64 = -32603;
/// A request arrived before `initialize`.
pub const SERVER_NOT_INITIALIZED: i64 = -32002;

/// No session has the given id.
pub const SESSION_NOT_FOUND: i64 = -33001;
/// The session's state does not allow this request (for example prompting a stopped session).
pub const INVALID_SESSION_STATE: i64 = -33002;
/// The given directory is not inside a git repository.
pub const NOT_A_GIT_REPOSITORY: i64 = -33003;
/// The requested agent is unknown or not installed.
pub const AGENT_UNAVAILABLE: i64 = -33004;
/// A git operation failed.
pub const GIT_ERROR: i64 = -33005;
/// The store could not read or write.
pub const STORE_ERROR: i64 = -33006;
/// The request names something that does not exist, other than a session (a permission request id,
/// a path …).
pub const NOT_FOUND: i64 = -33007;
/// The request is well formed but its values are not acceptable (an empty prompt, a bad script …).
pub const INVALID_ARGUMENT: i64 = -33008;
/// The forge (GitHub or GitLab) refused or failed the request: bad or missing token, rate limit, a pull
/// request that already exists … The message says which and what to do.
pub const FORGE_ERROR: i64 = -33009;
/// The client asked, in `initialize`, for a protocol version this server does not speak.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -33010;
