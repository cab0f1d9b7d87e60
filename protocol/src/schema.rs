//! Generation of `schema/arbor.schema.json`: one document with a definition for every wire type
//! and a table of methods and notifications naming their params and result types, both read
//! from the table in [`crate::method`].

use schemars::SchemaGenerator;
use serde_json::{Map, Value, json};

use crate::ArborCapabilities;

/// Builds the whole protocol schema as JSON.
pub fn protocol_schema() -> Value {
    let mut generator = SchemaGenerator::default();
    let mut methods = Map::new();
    let mut notifications = Map::new();

    macro_rules! request_schemas {
        ($( $(#[doc = $doc:literal])* $konst:ident, $marker:ident, $handler:ident = $name:literal ($params:ty) -> $result:ty; )*) => {
            $(
                let params = generator.subschema_for::<$params>().to_value();
                let result = generator.subschema_for::<$result>().to_value();
                let description = concat!($($doc),*).trim();
                methods.insert($name.to_string(), json!({ "description": description, "params": params, "result": result }));
            )*
        };
    }
    macro_rules! notification_schemas {
        ($( $(#[doc = $doc:literal])* $konst:ident, $variant:ident = $name:literal ($params:ty); )*) => {
            $(
                let params = generator.subschema_for::<$params>().to_value();
                let description = concat!($($doc),*).trim();
                notifications.insert($name.to_string(), json!({ "description": description, "params": params }));
            )*
        };
    }
    crate::arbor_requests!(request_schemas);
    crate::arbor_notifications!(notification_schemas);
    let capabilities = generator.subschema_for::<ArborCapabilities>().to_value();

    let definitions: Map<String, Value> =
        generator.definitions().iter().map(|(name, schema)| (name.clone(), schema.clone())).collect();

    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Arbor protocol",
        "description": "Wire types of the Arbor protocol. Generated from the arbor-protocol crate; do not edit.",
        "protocolVersion": crate::PROTOCOL_VERSION,
        "initializeCapability": capabilities,
        "methods": methods,
        "notifications": notifications,
        "$defs": definitions,
    })
}

/// The schema as the pretty-printed text committed in `schema/arbor.schema.json`.
pub fn protocol_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&protocol_schema()).expect("schema serialises");
    text.push('\n');
    text
}
