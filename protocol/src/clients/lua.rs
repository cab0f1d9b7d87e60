//! `editors/nvim/lua/arbor/protocol.lua`: the method and notification names as constants, and
//! LuaCATS annotations (`---@class`, `---@alias`) of every wire type, so that the plugin's calls
//! name methods through the table and lua-language-server knows the params and results.

use heck::ToSnakeCase;
use serde_json::{Map, Value};

use super::types::{self, Field, Spelling};
use super::{HEADER, Methods};

struct Lua;

impl Spelling for Lua {
    const STRING: &'static str = "string";
    const INTEGER: &'static str = "integer";
    const NUMBER: &'static str = "number";
    const BOOLEAN: &'static str = "boolean";
    const NULL: &'static str = "nil";
    const UNKNOWN: &'static str = "any";

    fn reference(&self, name: &str) -> String {
        format!("arbor.{name}")
    }

    fn array(&self, item: &str) -> String {
        format!("{item}[]")
    }

    fn map(&self, value: &str) -> String {
        format!("table<string, {value}>")
    }

    // LuaCATS writes a table type on one line.
    fn object(&self, fields: &[Field], _indent: usize) -> String {
        let fields: Vec<String> = fields
            .iter()
            .map(|field| format!("{}{}: {}", field.name, if field.optional { "?" } else { "" }, field.ty))
            .collect();
        format!("{{ {} }}", fields.join(", "))
    }
}

/// `doc` on one line (LuaCATS descriptions end at the line's end).
fn one_line(doc: &str) -> String {
    doc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One definition of the schema as a class (an object with fields) or an alias.
fn definition(name: &str, schema: &Value, definitions: &Map<String, Value>) -> String {
    let mut text = String::new();
    if let Some(doc) = types::description(schema) {
        text.push_str(&format!("--- {}\n", one_line(doc)));
    }
    if let Some(alternatives) = types::alternatives(schema) {
        text.push_str(&format!("---@alias arbor.{name}\n"));
        for alternative in alternatives {
            let doc = types::description(alternative).map(|doc| format!(" # {}", one_line(doc))).unwrap_or_default();
            text.push_str(&format!("---| {}{doc}\n", types::render(&Lua, alternative, 0).text));
        }
    } else if types::has_fields(schema) || schema.get("type").and_then(Value::as_str) == Some("object") {
        let base = types::base_of(name, schema, definitions);
        let fields = match base {
            Some(base) => {
                text.push_str(&format!("---@class arbor.{name} : arbor.{base}\n"));
                types::own_fields(&Lua, schema, &definitions[base], 0)
            }
            None => {
                text.push_str(&format!("---@class arbor.{name}\n"));
                types::fields(&Lua, schema, 0)
            }
        };
        for field in fields {
            let doc = field.doc.map(|doc| format!(" {}", one_line(&doc))).unwrap_or_default();
            text.push_str(&format!(
                "---@field {}{} {}{doc}\n",
                field.name,
                if field.optional { "?" } else { "" },
                field.ty
            ));
        }
    } else {
        text.push_str(&format!("---@alias arbor.{name} {}\n", types::render(&Lua, schema, 0).text));
    }
    text
}

/// The whole file.
pub fn lua(schema: &Value, methods: &Methods) -> String {
    let mut text = format!("-- {HEADER}\n");
    let definitions = schema["$defs"].as_object().cloned().unwrap_or_default();
    for (name, definition_schema) in &definitions {
        text.push('\n');
        text.push_str(&definition(name, definition_schema, &definitions));
    }
    text.push_str(
        "\nlocal M = {}\n\n--- The protocol version this client speaks; the server reports its own in `initialize`.\n",
    );
    text.push_str(&format!("M.PROTOCOL_VERSION = {}\n\n", crate::PROTOCOL_VERSION));
    text.push_str("--- Every request of the protocol, by its name in the method table.\nM.method = {\n");
    for request in &methods.requests {
        let params = types::render(&Lua, request.params, 0).text;
        let result = types::render(&Lua, request.result, 0).text;
        text.push_str(&format!("  -- {} Params: {params}; result: {result}.\n", request.doc));
        text.push_str(&format!("  {} = '{}',\n", request.ident.to_snake_case(), request.name));
    }
    text.push_str(
        "}\n\n--- Every notification the server sends, by its name in the method table.\nM.notification = {\n",
    );
    for notification in &methods.notifications {
        let params = types::render(&Lua, notification.params, 0).text;
        text.push_str(&format!("  -- {} Params: {params}.\n", notification.doc));
        text.push_str(&format!("  {} = '{}',\n", notification.ident.to_snake_case(), notification.name));
    }
    text.push_str("}\n\nreturn M\n");
    text
}
