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

/// A method of the table with the schema of its params and, for a request, of its result
/// (`R` is `&Value` for a request and `()` for a notification, which has none).
struct Entry<'a, R> {
    name: &'static str,
    ident: &'static str,
    doc: &'static str,
    params: &'a Value,
    result: R,
}

/// A request of the table.
type Request<'a> = Entry<'a, &'a Value>;
/// A notification of the table.
type Notification<'a> = Entry<'a, ()>;

impl Request<'_> {
    /// True for the methods that take no params, which clients call without any.
    fn takes_no_params(&self) -> bool {
        types::referenced(self.params) == Some("NoParams")
    }
}

/// The table, in its order, with each method's schemas.
struct Methods<'a> {
    requests: Vec<Request<'a>>,
    notifications: Vec<Notification<'a>>,
}

impl<'a> Methods<'a> {
    fn of(schema: &'a Value) -> Self {
        Methods {
            requests: entries(method::REQUESTS, &schema["methods"], |entry| &entry["result"]),
            notifications: entries(method::NOTIFICATIONS, &schema["notifications"], |_| ()),
        }
    }
}

/// The entries of `docs`, each with its schemas from `table` (the schema's `methods` or
/// `notifications`).
fn entries<'a, R>(docs: &[MethodDoc], table: &'a Value, result: impl Fn(&'a Value) -> R) -> Vec<Entry<'a, R>> {
    docs.iter()
        .map(|doc| {
            let entry = &table[doc.name];
            Entry {
                name: doc.name,
                ident: doc.ident,
                doc: doc.summary(),
                params: &entry["params"],
                result: result(entry),
            }
        })
        .collect()
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
