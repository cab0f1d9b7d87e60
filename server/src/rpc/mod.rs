//! Transports. Each is a thin adapter over [`crate::service`]: LSP-framed JSON-RPC on stdio or on
//! the daemon's Unix socket (tower-lsp-server), the stdio-to-socket bridge used by `arbor lsp`,
//! and `remote`, the same bridge to a daemon's WebSocket (`arbor lsp --connect`);
//! `signals` is how the serving ones learn they must shut down; `pending` is the map of requests
//! awaiting answers that every JSON-RPC peer Arbor runs keeps.

pub mod bridge;
pub mod daemon;
pub mod envelope;
pub mod framing;
pub mod guard;
pub mod lsp;
pub mod params;
pub mod pending;
pub mod remote;
pub mod signals;
