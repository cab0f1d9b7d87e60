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
fn every_request_method_is_in_the_schema() {
    let schema = arbor_protocol::schema::protocol_schema();
    for name in arbor_protocol::method::ALL_REQUESTS {
        assert!(schema["methods"].get(*name).is_some(), "{name} missing from the schema");
    }
}
