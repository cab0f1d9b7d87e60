//! Every type that crosses the wire between Arbor and its clients.
//!
//! The editor plugins, the CLI and the tests all speak this protocol: LSP base framing and
//! lifecycle, plus the custom methods and notifications of the one table in [`method`]. Field
//! names are camelCase on the wire; enum values are snake_case.
//!
//! `schema/arbor.schema.json` is generated from these types by [`schema::protocol_schema`] and is
//! checked for drift by this crate's tests, so the schema and the code cannot disagree.

pub mod clients;
pub mod error_code;
pub mod events;
pub mod forge;
pub mod method;
pub mod permissions;
pub mod review;
pub mod sandbox;
pub mod schema;
pub mod tasks;
pub mod types;

pub use events::*;
pub use forge::*;
pub use method::{Request, ServerNotification};
pub use permissions::*;
pub use review::*;
pub use sandbox::*;
pub use tasks::*;
pub use types::*;

/// The version of the Arbor protocol spoken by this crate. It is bumped whenever a change could
/// break an existing client; clients compare it with the value in the `initialize` result.
pub const PROTOCOL_VERSION: u32 = 1;
