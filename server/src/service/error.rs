//! The service's error type and its mapping to JSON-RPC error codes: the one place where domain
//! errors become wire errors.

use arbor_protocol::error_code;
use uuid::Uuid;

use crate::agents::AgentError;
use crate::export::PdfError;
use crate::forge::ForgeError;
use crate::git::GitError;
use crate::memory::MemoryError;
use crate::policy::PolicyError;
use crate::sandbox::SandboxError;
use crate::sessions::SessionError;
use crate::store::StoreError;

/// Why a protocol request failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No session has this id.
    #[error("no session with id {0}")]
    SessionNotFound(Uuid),
    /// The session's state does not allow the request.
    #[error("{0}")]
    InvalidState(String),
    /// A value in the request is not acceptable.
    #[error("{0}")]
    InvalidArgument(String),
    /// Something other than a session was not found.
    #[error("{0}")]
    NotFound(String),
    /// Starting or choosing an agent failed.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// A git operation failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A permission rule is not valid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A live session refused the request.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The sandbox asked for cannot be had.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// The forge (GitHub) refused or failed.
    #[error(transparent)]
    Forge(#[from] ForgeError),
    /// A PDF export could not be printed.
    #[error(transparent)]
    Pdf(#[from] PdfError),
    /// A profile's memory could not be read, saved or restored.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// The client asked for a protocol version this server does not speak.
    #[error(
        "this server speaks Arbor protocol {speaks}; the client asked for {0}: use a client and a server of the same protocol version",
        speaks = arbor_protocol::PROTOCOL_VERSION
    )]
    UnsupportedProtocolVersion(String),
    /// A background task failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// The JSON-RPC error code for this error.
    pub fn code(&self) -> i64 {
        match self {
            Self::SessionNotFound(_) => error_code::SESSION_NOT_FOUND,
            Self::InvalidState(_) => error_code::INVALID_SESSION_STATE,
            Self::InvalidArgument(_) | Self::Policy(_) => error_code::INVALID_ARGUMENT,
            Self::NotFound(_) => error_code::NOT_FOUND,
            Self::Agent(AgentError::Unknown(_) | AgentError::Unavailable { .. } | AgentError::LoginFailed(_)) => {
                error_code::AGENT_UNAVAILABLE
            }
            Self::Agent(AgentError::LoginMethod(_)) => error_code::INVALID_ARGUMENT,
            Self::Agent(_) => error_code::INTERNAL_ERROR,
            Self::Sandbox(SandboxError::Unavailable { .. }) => error_code::INVALID_ARGUMENT,
            Self::Sandbox(_) => error_code::INTERNAL_ERROR,
            Self::Git(error) => Self::git_code(error),
            Self::Store(_) | Self::Session(SessionError::StoreUnavailable(_)) => error_code::STORE_ERROR,
            Self::Session(SessionError::NotRunning(_) | SessionError::Ended | SessionError::Busy) => {
                error_code::INVALID_SESSION_STATE
            }
            Self::Session(SessionError::Git(error)) => Self::git_code(error),
            Self::Session(SessionError::NoSuchRequest(_)) => error_code::NOT_FOUND,
            Self::Session(SessionError::BadAnswer(_)) => error_code::INVALID_ARGUMENT,
            Self::Forge(_) => error_code::FORGE_ERROR,
            Self::Pdf(PdfError::NoRenderer) => error_code::NOT_FOUND,
            Self::Pdf(PdfError::Failed { .. }) => error_code::INTERNAL_ERROR,
            Self::Memory(MemoryError::NoMemory(_) | MemoryError::NoSuchVersion { .. }) => error_code::NOT_FOUND,
            Self::Memory(_) => error_code::INTERNAL_ERROR,
            Self::UnsupportedProtocolVersion(_) => error_code::UNSUPPORTED_PROTOCOL_VERSION,
            Self::Internal(_) => error_code::INTERNAL_ERROR,
        }
    }
}

impl ServiceError {
    fn git_code(error: &GitError) -> i64 {
        match error {
            GitError::NotARepository(_) | GitError::NoCommits(_) => error_code::NOT_A_GIT_REPOSITORY,
            GitError::NoSuchBranch(_) | GitError::OutsideWorktree(_) | GitError::NoSuchRemote(_) => {
                error_code::INVALID_ARGUMENT
            }
            GitError::NoSuchFile(_) => error_code::NOT_FOUND,
            _ => error_code::GIT_ERROR,
        }
    }
}

impl From<tokio::task::JoinError> for ServiceError {
    fn from(error: tokio::task::JoinError) -> Self {
        Self::Internal(error.to_string())
    }
}
