//! The wire types as a client language writes them: one walk over the part of JSON Schema that
//! schemars emits for the protocol (`$ref`, `const`, `oneOf`/`anyOf`, lists of types, objects,
//! arrays and maps), spelt by the language it is given.

use serde_json::{Map, Value};

/// How one client language spells types.
pub(super) trait Spelling {
    /// The type of any string.
    const STRING: &'static str;
    /// The type of a whole number.
    const INTEGER: &'static str;
    /// The type of any number.
    const NUMBER: &'static str;
    /// The type of `true` and `false`.
    const BOOLEAN: &'static str;
    /// The type of JSON's `null`.
    const NULL: &'static str;
    /// The type of any JSON value.
    const UNKNOWN: &'static str;

    /// The type defined as `name` in the schema.
    fn reference(&self, name: &str) -> String;
    /// The type of exactly `value`.
    fn literal(&self, value: &Value) -> String {
        value.to_string()
    }
    /// A list of `item`s.
    fn array(&self, item: &str) -> String;
    /// An object with any keys, each holding a `value`.
    fn map(&self, value: &str) -> String;
    /// An object with these fields, written at `indent` levels.
    fn object(&self, fields: &[Field], indent: usize) -> String;
}

/// One property of an object type.
pub(super) struct Field {
    pub name: String,
    pub ty: String,
    /// The field may be absent.
    pub optional: bool,
    pub doc: Option<String>,
}

/// A rendered type, and whether it is a union (which needs parentheses inside an array).
pub(super) struct Type {
    pub text: String,
    union: bool,
}

impl Type {
    fn single(text: impl Into<String>) -> Self {
        Type { text: text.into(), union: false }
    }

    fn union(parts: impl IntoIterator<Item = Type>) -> Self {
        let mut texts: Vec<String> = Vec::new();
        for part in parts {
            if !texts.contains(&part.text) {
                texts.push(part.text);
            }
        }
        Type { union: texts.len() > 1, text: texts.join(" | ") }
    }

    fn grouped(&self) -> String {
        if self.union { format!("({})", self.text) } else { self.text.clone() }
    }
}

/// The name a `$ref` points at.
pub(super) fn referenced(schema: &Value) -> Option<&str> {
    schema.get("$ref")?.as_str()?.strip_prefix("#/$defs/")
}

/// The alternatives of a union schema (`oneOf` or `anyOf`), if it is one.
pub(super) fn alternatives(schema: &Value) -> Option<&Vec<Value>> {
    schema.get("oneOf").or_else(|| schema.get("anyOf"))?.as_array()
}

/// The schema's description, if it has one.
pub(super) fn description(schema: &Value) -> Option<&str> {
    schema.get("description").and_then(Value::as_str)
}

/// The type `schema` describes, written at `indent` levels.
pub(super) fn render<S: Spelling>(spelling: &S, schema: &Value, indent: usize) -> Type {
    if let Some(name) = referenced(schema) {
        return Type::single(spelling.reference(name));
    }
    if let Some(value) = schema.get("const") {
        return Type::single(spelling.literal(value));
    }
    if let Some(alternatives) = alternatives(schema) {
        return Type::union(alternatives.iter().map(|alternative| render(spelling, alternative, indent)));
    }
    if let Some(Value::Array(values)) = schema.get("enum") {
        return Type::union(values.iter().map(|value| Type::single(spelling.literal(value))));
    }
    match schema.get("type") {
        Some(Value::Array(types)) => Type::union(types.iter().map(|ty| {
            let mut one = schema.clone();
            one["type"] = ty.clone();
            render(spelling, &one, indent)
        })),
        Some(Value::String(ty)) => match ty.as_str() {
            "string" => Type::single(S::STRING),
            "integer" => Type::single(S::INTEGER),
            "number" => Type::single(S::NUMBER),
            "boolean" => Type::single(S::BOOLEAN),
            "null" => Type::single(S::NULL),
            "array" => Type::single(spelling.array(&render(spelling, &schema["items"], indent).grouped())),
            "object" => object(spelling, schema, indent),
            _ => Type::single(S::UNKNOWN),
        },
        _ => Type::single(S::UNKNOWN),
    }
}

/// The fields of an object schema, in the schema's order, their types written at `indent` levels.
pub(super) fn fields<S: Spelling>(spelling: &S, schema: &Value, indent: usize) -> Vec<Field> {
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else { return Vec::new() };
    properties
        .iter()
        .map(|(name, property)| Field {
            name: name.clone(),
            ty: render(spelling, property, indent).text,
            optional: !required.contains(&name.as_str()),
            doc: description(property).map(str::to_string),
        })
        .collect()
}

/// The definition `schema` extends, if any: another object definition whose every field
/// `schema` has with the same schema and the same optionality, and which makes up more than half
/// of `schema`'s fields (what a `#[serde(flatten)]` of it leaves in the schema); the largest such.
/// The clients then write `schema` as that one plus its own fields instead of repeating them.
pub(super) fn base_of<'a>(name: &str, schema: &Value, definitions: &'a Map<String, Value>) -> Option<&'a str> {
    let properties = schema.get("properties").and_then(Value::as_object)?;
    let required = |schema: &Value, field: &str| {
        schema.get("required").and_then(Value::as_array).is_some_and(|names| names.iter().any(|name| name == field))
    };
    definitions
        .iter()
        .filter(|(other, base)| *other != name && has_fields(base) && alternatives(base).is_none())
        .filter_map(|(other, base)| {
            let fields = base.get("properties").and_then(Value::as_object)?;
            let covered = fields.len() < properties.len()
                && fields.len() * 2 > properties.len()
                && fields.iter().all(|(field, field_schema)| {
                    properties.get(field) == Some(field_schema) && required(base, field) == required(schema, field)
                });
            covered.then_some((other.as_str(), fields.len()))
        })
        .max_by_key(|(_, count)| *count)
        .map(|(other, _)| other)
}

/// The fields of `schema` that its base (`base_of`) does not have.
pub(super) fn own_fields<S: Spelling>(spelling: &S, schema: &Value, base: &Value, indent: usize) -> Vec<Field> {
    let inherited = base.get("properties").and_then(Value::as_object);
    fields(spelling, schema, indent)
        .into_iter()
        .filter(|field| !inherited.is_some_and(|inherited| inherited.contains_key(&field.name)))
        .collect()
}

/// True when `schema` is an object with named fields (a class or interface, not a map).
pub(super) fn has_fields(schema: &Value) -> bool {
    schema.get("properties").and_then(Value::as_object).is_some_and(|properties| !properties.is_empty())
}

fn object<S: Spelling>(spelling: &S, schema: &Value, indent: usize) -> Type {
    if has_fields(schema) {
        return Type::single(spelling.object(&fields(spelling, schema, indent + 1), indent));
    }
    match schema.get("additionalProperties") {
        Some(value @ Value::Object(_)) => Type::single(spelling.map(&render(spelling, value, indent).text)),
        _ => Type::single(spelling.map(S::UNKNOWN)),
    }
}

/// schemars writes a newtype variant of an internally tagged enum (`SessionEvent::Checkpoint`) as
/// a `$ref` with the tag beside it, which neither a TypeScript object type nor a LuaCATS table
/// type can say; the referenced type's fields are put inline beside the tag instead.
pub(super) fn inline_tagged_references(schema: &mut Value) {
    let definitions = schema["$defs"].clone();
    inline(schema, &definitions);
}

fn inline(value: &mut Value, definitions: &Value) {
    match value {
        Value::Object(object) => {
            let tagged = object.contains_key("properties");
            if let Some(name) = referenced(&Value::Object(object.clone())).filter(|_| tagged).map(str::to_string) {
                object.remove("$ref");
                let target = &definitions[&name];
                if let (Some(Value::Object(properties)), Some(Value::Object(more))) =
                    (object.get_mut("properties"), target.get("properties"))
                {
                    for (field, property) in more {
                        properties.entry(field.clone()).or_insert_with(|| property.clone());
                    }
                }
                if let (Some(Value::Array(required)), Some(Value::Array(more))) =
                    (object.get_mut("required"), target.get("required"))
                {
                    required.extend(more.iter().cloned());
                }
            }
            object.values_mut().for_each(|value| inline(value, definitions));
        }
        Value::Array(items) => items.iter_mut().for_each(|value| inline(value, definitions)),
        _ => {}
    }
}
