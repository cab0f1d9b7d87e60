//! What a permission request is about, which rules' patterns match: the command of an execute
//! request, the path of a file request, the URL of a fetch, the query of a search. Agents name
//! these fields differently (ACP agents in `rawInput`, Claude Code in its tool input), so every
//! known name is tried.

use std::path::Path;

use arbor_protocol::ToolKind;
use serde_json::Value;

use crate::agents::relative;

const COMMAND_FIELDS: &[&str] = &["command", "cmd"];
const PATH_FIELDS: &[&str] = &["file_path", "filePath", "path", "notebook_path", "absolute_path", "source"];
const OTHER_FIELDS: &[&str] = &["url", "pattern", "query"];

/// The subject of a request for an action of `kind` with tool input `input`, touching
/// `locations`; paths inside `cwd` are made relative to it.
pub fn subject_of(kind: ToolKind, input: &Value, locations: &[String], cwd: &Path) -> Option<String> {
    let field = |names: &[&str]| names.iter().find_map(|name| text(&input[*name]));
    let path = || locations.first().cloned().or_else(|| field(PATH_FIELDS)).map(|path| relative(cwd, &path));
    match kind {
        ToolKind::Execute => field(COMMAND_FIELDS).or_else(path),
        ToolKind::Read | ToolKind::Edit | ToolKind::Delete | ToolKind::Move => path(),
        _ => field(OTHER_FIELDS).or_else(|| field(COMMAND_FIELDS)).or_else(path),
    }
}

/// A string field, or an argument vector joined with spaces.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => {
            let parts: Option<Vec<&str>> = parts.iter().map(Value::as_str).collect();
            parts.map(|parts| parts.join(" "))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_kind_takes_its_own_field() {
        let cwd = Path::new("/home/me/tree");
        let command = json!({ "command": ["npm", "test"], "path": "x" });
        assert_eq!(subject_of(ToolKind::Execute, &command, &[], cwd).as_deref(), Some("npm test"));
        let edit = json!({ "file_path": "/home/me/tree/src/lib.rs" });
        assert_eq!(subject_of(ToolKind::Edit, &edit, &[], cwd).as_deref(), Some("src/lib.rs"));
        let located = ["/elsewhere/a.txt".to_string()];
        assert_eq!(subject_of(ToolKind::Read, &Value::Null, &located, cwd).as_deref(), Some("/elsewhere/a.txt"));
        let fetch = json!({ "url": "https://example.com" });
        assert_eq!(subject_of(ToolKind::Fetch, &fetch, &[], cwd).as_deref(), Some("https://example.com"));
        assert_eq!(subject_of(ToolKind::Think, &Value::Null, &[], cwd), None);
    }
}
