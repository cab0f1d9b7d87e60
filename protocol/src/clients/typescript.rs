//! `editors/vscode/src/protocol.ts`: every wire type as a TypeScript type, and every method of
//! the table as a vscode-languageclient descriptor (`RequestType<P, R>`, `NotificationType<P>`),
//! so that `connection.request(Method.SessionNew, params)` is typed end to end.

use serde_json::{Map, Value};

use super::types::{self, Field, Spelling};
use super::{HEADER, Methods};

struct TypeScript;

impl Spelling for TypeScript {
    const STRING: &'static str = "string";
    const INTEGER: &'static str = "number";
    const NUMBER: &'static str = "number";
    const BOOLEAN: &'static str = "boolean";
    const NULL: &'static str = "null";
    const UNKNOWN: &'static str = "unknown";

    fn reference(&self, name: &str) -> String {
        name.to_string()
    }

    fn literal(&self, value: &Value) -> String {
        match value.as_str() {
            Some(text) => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'")),
            None => value.to_string(),
        }
    }

    fn array(&self, item: &str) -> String {
        format!("{item}[]")
    }

    fn map(&self, value: &str) -> String {
        format!("Record<string, {value}>")
    }

    fn object(&self, fields: &[Field], indent: usize) -> String {
        let inner = "  ".repeat(indent + 1);
        let mut text = String::from("{\n");
        for field in fields {
            text.push_str(&doc_comment(field.doc.as_deref(), &inner));
            let optional = if field.optional { "?" } else { "" };
            text.push_str(&format!("{inner}{}{optional}: {};\n", field.name, field.ty));
        }
        text.push_str(&"  ".repeat(indent));
        text.push('}');
        text
    }
}

/// `doc` as a `/** … */` comment at `indent`, or nothing.
fn doc_comment(doc: Option<&str>, indent: &str) -> String {
    let Some(doc) = doc else { return String::new() };
    let lines: Vec<&str> = doc.lines().collect();
    if let [line] = lines.as_slice() {
        return format!("{indent}/** {} */\n", line.replace("*/", "* /"));
    }
    let mut text = format!("{indent}/**\n");
    for line in lines {
        text.push_str(&format!("{indent} * {}\n", line.replace("*/", "* /")).replace(" * \n", " *\n"));
    }
    text.push_str(&format!("{indent} */\n"));
    text
}

/// One definition of the schema as an `export`.
fn definition(name: &str, schema: &Value, definitions: &Map<String, Value>) -> String {
    let mut text = doc_comment(types::description(schema), "");
    if let Some(base) = types::base_of(name, schema, definitions) {
        let own = types::own_fields(&TypeScript, schema, &definitions[base], 1);
        text.push_str(&format!("export interface {name} extends {base} {}\n", TypeScript.object(&own, 0)));
    } else if types::has_fields(schema) && types::alternatives(schema).is_none() {
        text.push_str(&format!(
            "export interface {name} {}\n",
            TypeScript.object(&types::fields(&TypeScript, schema, 1), 0)
        ));
    } else if let Some(alternatives) = types::alternatives(schema) {
        text.push_str(&format!("export type {name} =\n"));
        for alternative in alternatives {
            text.push_str(&doc_comment(types::description(alternative), "  "));
            text.push_str(&format!("  | {}\n", types::render(&TypeScript, alternative, 1).text));
        }
        text.pop();
        text.push_str(";\n");
    } else {
        text.push_str(&format!("export type {name} = {};\n", types::render(&TypeScript, schema, 0).text));
    }
    text
}

/// The whole file.
pub fn typescript(schema: &Value, methods: &Methods) -> String {
    let mut text = format!("// {HEADER}\n\n");
    text.push_str("import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';\n\n");
    text.push_str("/** The protocol version this client speaks; the server reports its own in `initialize`. */\n");
    text.push_str(&format!("export const PROTOCOL_VERSION = {};\n", crate::PROTOCOL_VERSION));
    let definitions = schema["$defs"].as_object().cloned().unwrap_or_default();
    for (name, definition_schema) in &definitions {
        text.push('\n');
        text.push_str(&definition(name, definition_schema, &definitions));
    }
    text.push_str(
        "\n/** Every request of the protocol, by its name in the method table. */\nexport const Method = {\n",
    );
    for request in &methods.requests {
        text.push_str(&doc_comment(Some(request.doc), "  "));
        let result = types::render(&TypeScript, request.result, 0).text;
        let descriptor = if request.takes_no_params() {
            format!("new RequestType0<{result}, void>")
        } else {
            format!("new RequestType<{}, {result}, void>", types::render(&TypeScript, request.params, 0).text)
        };
        text.push_str(&format!("  {}: {descriptor}('{}'),\n", request.ident, request.name));
    }
    text.push_str("} as const;\n\n/** Every notification the server sends, by its name in the method table. */\nexport const Notification = {\n");
    for notification in &methods.notifications {
        text.push_str(&doc_comment(Some(notification.doc), "  "));
        let params = types::render(&TypeScript, notification.params, 0).text;
        text.push_str(&format!("  {}: new NotificationType<{params}>('{}'),\n", notification.ident, notification.name));
    }
    text.push_str("} as const;\n");
    text
}
