//! The committed JSON Schema must match the Rust types. Regenerate it with
//! `UPDATE_SCHEMA=1 cargo test -p arbor-protocol --test schema_drift`.

use std::path::Path;

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
