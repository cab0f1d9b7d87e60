//! The committed JSON Schema and the generated clients must match the Rust types and the method
//! table, and no client names a method by a string of its own. Regenerate every committed file
//! with `UPDATE_SCHEMA=1 cargo test -p arbor-protocol --test schema_drift`.

use std::path::{Path, PathBuf};

#[test]
fn committed_schema_matches_the_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/arbor.schema.json");
    let generated = arbor_protocol::schema::protocol_schema_text();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "protocol/schema/arbor.schema.json is out of date with the types in arbor-protocol; \
         regenerate it with UPDATE_SCHEMA=1 cargo test -p arbor-protocol --test schema_drift"
    );
}

#[test]
fn every_method_and_notification_of_the_table_is_in_the_schema() {
    let schema = arbor_protocol::schema::protocol_schema();
    for entry in arbor_protocol::method::REQUESTS {
        let method = &schema["methods"][entry.name];
        assert!(method["result"].is_object(), "{} missing from the schema", entry.name);
        assert_eq!(method["description"], entry.summary(), "{} is described by the table's doc", entry.name);
    }
    for entry in arbor_protocol::method::NOTIFICATIONS {
        assert!(schema["notifications"][entry.name]["params"].is_object(), "{} missing from the schema", entry.name);
    }
    assert_eq!(schema["methods"].as_object().unwrap().len(), arbor_protocol::method::REQUESTS.len());
}

#[test]
fn the_protocol_document_covers_every_method_event_and_error_code() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol.md"))
        .expect("docs/protocol.md");
    let table = arbor_protocol::method::REQUESTS.iter().chain(arbor_protocol::method::NOTIFICATIONS);
    for entry in table {
        let name = entry.name;
        assert!(doc.contains(&format!("### `{name}`")), "docs/protocol.md has no section for {name}");
    }
    // The other way round too: a method documented but missing from the table (so not served)
    // fails here rather than at a client's first call.
    let named: Vec<&str> = arbor_protocol::method::REQUESTS
        .iter()
        .chain(arbor_protocol::method::NOTIFICATIONS)
        .map(|entry| entry.name)
        .collect();
    for line in doc.lines().filter(|line| line.starts_with("### `")) {
        let section = line.trim_start_matches("### `").split('`').next().unwrap_or_default();
        assert!(named.contains(&section), "docs/protocol.md documents {section}, which the protocol's table lacks");
    }
    let schema = arbor_protocol::schema::protocol_schema();
    let variants = schema["$defs"]["SessionEvent"]["oneOf"].as_array().expect("SessionEvent variants");
    assert!(variants.len() >= 12, "every event kind is a variant");
    for variant in variants {
        let kind = variant["properties"]["kind"]["const"].as_str().expect("a kind");
        assert!(doc.contains(&format!("| `{kind}` |")), "docs/protocol.md does not describe event kind {kind}");
    }
    let source = include_str!("../src/error_code.rs");
    for line in source.lines().filter(|line| line.starts_with("pub const")) {
        let code = line.rsplit('=').next().unwrap().trim().trim_end_matches(';');
        assert!(doc.contains(&format!("| {code} |")), "docs/protocol.md does not describe error code {code}");
    }
}

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

/// Each generated client: where it is committed and what it must hold.
fn clients() -> [(&'static str, String); 3] {
    use arbor_protocol::clients;
    [
        ("editors/vscode/src/protocol.ts", clients::typescript()),
        ("editors/nvim/lua/arbor/protocol.lua", clients::lua()),
        ("server/src/web/page/protocol.js", clients::javascript()),
    ]
}

#[test]
fn committed_clients_match_the_table_and_the_types() {
    let mut stale = Vec::new();
    for (path, generated) in clients() {
        let path_in_tree = root().join(path);
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path_in_tree, &generated).expect("write a client");
        } else if std::fs::read_to_string(&path_in_tree).unwrap_or_default() != generated {
            stale.push(path);
        }
    }
    assert!(
        stale.is_empty(),
        "{} out of date with the method table and the types in arbor-protocol; regenerate with \
         UPDATE_SCHEMA=1 cargo test -p arbor-protocol --test schema_drift",
        stale.join(", ")
    );
}

/// The editors' and the web page's sources, their tests included, beside the generated files.
fn client_sources() -> Vec<PathBuf> {
    let generated: Vec<PathBuf> = clients().iter().map(|(path, _)| root().join(path)).collect();
    let folders =
        ["editors/vscode/src", "editors/vscode/media", "editors/vscode/test", "editors/nvim", "server/src/web/page", "tests/web"];
    let mut pending: Vec<PathBuf> = folders.iter().map(|folder| root().join(folder)).collect();
    let mut files = Vec::new();
    while let Some(path) = pending.pop() {
        if path.is_dir() && !path.ends_with("node_modules") {
            pending.extend(std::fs::read_dir(&path).expect("a source folder").map(|entry| entry.expect("an entry").path()));
        } else if ["ts", "js", "mjs", "lua", "html"].iter().any(|ext| path.extension().is_some_and(|found| found == *ext))
            && !generated.contains(&path)
        {
            files.push(path);
        }
    }
    files
}

#[test]
fn no_client_source_names_a_method_by_a_string_of_its_own() {
    let table = arbor_protocol::method::REQUESTS.iter().chain(arbor_protocol::method::NOTIFICATIONS);
    let names: Vec<&str> = table.map(|entry| entry.name).collect();
    let sources = client_sources();
    assert!(sources.len() > 20, "the editors' sources are found ({})", sources.len());
    let mut found = Vec::new();
    for path in sources {
        let text = std::fs::read_to_string(&path).expect("a source file");
        for (number, line) in text.lines().enumerate() {
            for name in &names {
                if ['\'', '"'].iter().any(|quote| line.contains(&format!("{quote}{name}{quote}"))) {
                    found.push(format!("{}:{}: {name}", path.strip_prefix(root()).unwrap().display(), number + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "method names typed by hand; use the generated clients' constants instead:\n{}",
        found.join("\n")
    );
}
