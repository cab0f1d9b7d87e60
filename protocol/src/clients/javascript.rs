//! `server/src/web/page/protocol.js`: the method and notification names for the web companion,
//! as two frozen objects the page's script (loaded after it) uses.

use super::{HEADER, Methods};

/// The whole file.
pub fn javascript(methods: &Methods) -> String {
    let mut text = format!("// {HEADER}\n'use strict';\n\n/** Every request of the protocol, by its name in the method table. */\n");
    text.push_str("const Method = Object.freeze({\n");
    for request in &methods.requests {
        text.push_str(&format!("  /** {} */\n  {}: '{}',\n", request.doc, request.ident, request.name));
    }
    text.push_str("});\n\n/** Every notification the server sends, by its name in the method table. */\n");
    text.push_str("const Notification = Object.freeze({\n");
    for notification in &methods.notifications {
        text.push_str(&format!("  /** {} */\n  {}: '{}',\n", notification.doc, notification.ident, notification.name));
    }
    text.push_str("});\n");
    text
}
