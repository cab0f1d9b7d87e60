//! The editors' and the web page's clients, generated from the method table
//! ([`crate::method`]) and the schema of the wire types ([`crate::schema`]):
//!
//! - [`typescript`]: `editors/vscode/src/protocol.ts`, the wire types and a typed descriptor per
//!   method for the VS Code extension;
//! - [`lua`]: `editors/nvim/lua/arbor/protocol.lua`, the method and notification names and
//!   LuaCATS annotations of every type for the Neovim plugin;
//! - [`javascript`]: `server/src/web/page/protocol.js`, the method and notification names for
//!   the web companion.
//!
//! The files are committed; `tests/schema_drift.rs` fails when one is stale and rewrites them all
//! with `UPDATE_SCHEMA=1`.

mod javascript;
mod lua;
mod types;
mod typescript;

use serde_json::Value;

use crate::method::{self, MethodDoc};

/// The first line of every generated file.
const HEADER: &str = "Generated from the arbor-protocol crate's method table and wire types: do not edit. \
                      Regenerate with UPDATE_SCHEMA=1 cargo test -p arbor-protocol --test schema_drift.";

/// A request of the table with the schemas of its params and result.
struct Request<'a> {
    name: &'static str,
    ident: &'static str,
    doc: &'static str,
    params: &'a Value,
    result: &'a Value,
}

impl Request<'_> {
    /// True for the methods that take no params, which clients call without any.
    fn takes_no_params(&self) -> bool {
        types::referenced(self.params) == Some("NoParams")
    }
}

/// A notification of the table with the schema of its params.
struct Notification<'a> {
    name: &'static str,
    ident: &'static str,
    doc: &'static str,
    params: &'a Value,
}

/// The table, in its order, with each method's schemas.
struct Methods<'a> {
    requests: Vec<Request<'a>>,
    notifications: Vec<Notification<'a>>,
}

impl<'a> Methods<'a> {
    fn of(schema: &'a Value) -> Self {
        let entry = |table: &str, doc: &MethodDoc| &schema[table][doc.name];
        let requests = method::REQUESTS
            .iter()
            .map(|doc| Request {
                name: doc.name,
                ident: doc.ident,
                doc: doc.summary(),
                params: &entry("methods", doc)["params"],
                result: &entry("methods", doc)["result"],
            })
            .collect();
        let notifications = method::NOTIFICATIONS
            .iter()
            .map(|doc| Notification {
                name: doc.name,
                ident: doc.ident,
                doc: doc.summary(),
                params: &entry("notifications", doc)["params"],
            })
            .collect();
        Methods { requests, notifications }
    }
}

/// `editors/vscode/src/protocol.ts`.
pub fn typescript() -> String {
    generate(typescript::typescript)
}

/// `editors/nvim/lua/arbor/protocol.lua`.
pub fn lua() -> String {
    generate(lua::lua)
}

/// `server/src/web/page/protocol.js`.
pub fn javascript() -> String {
    generate(|_, methods| javascript::javascript(methods))
}

fn generate(client: impl Fn(&Value, &Methods) -> String) -> String {
    let mut schema = crate::schema::protocol_schema();
    types::inline_tagged_references(&mut schema);
    client(&schema, &Methods::of(&schema))
}
