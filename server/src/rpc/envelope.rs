//! The JSON-RPC 2.0 envelope of one incoming frame, checked in full before tower-lsp-server sees
//! it.
//!
//! tower-lsp-server stops reading a connection after the first message it cannot decode, so only
//! valid messages may reach it: an object with `"jsonrpc": "2.0"`, a string `method`, an `id` that
//! is an integer, a string or null, and `params` that are an object, an array or null. Params are
//! not built into a tree here: they are walked once to count their values, limit their depth and
//! refuse duplicate keys, so what tower-lsp-server then builds is bounded. A valid message is
//! passed on re-encoded with only those four members.

use std::collections::HashSet;
use std::fmt;

use arbor_protocol::error_code;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// Most JSON values (scalars, keys, arrays and objects each count one) a message's params may
/// hold. A list of tens of thousands of hunk ids fits; a frame of millions of tiny elements,
/// which would grow to many times its size as a tree, does not.
pub const MAX_PARAMS_VALUES: usize = 100_000;
/// Deepest nesting of arrays and objects in params (real params nest a few levels).
pub const MAX_PARAMS_DEPTH: usize = 32;

/// LSP methods that take no params: tower-lsp-server refuses any params for them, so empty or
/// null params are dropped instead of passed on.
const PARAMLESS_LSP_METHODS: &[&str] = &["shutdown", "exit"];

/// What to do with one frame's body.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// A valid message, re-encoded, for the server.
    Forward(Vec<u8>),
    /// Not a valid request: this error response goes back to the client.
    Refuse(Vec<u8>),
    /// Nothing to answer (a bad notification, a response to a request the server never sent).
    Ignore(String),
}

/// A request id as JSON-RPC allows it (and tower-lsp-server can hold it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Id {
    Number(i64),
    String(String),
    Null,
}

/// The top-level members that matter, each kept as raw text; a member present with the value
/// null is `Some("null")`, told apart from one that is absent.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    jsonrpc: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    method: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    params: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    error: Option<&'a RawValue>,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

/// An error response.
pub fn error_response(id: Option<&Value>, code: i64, message: &str) -> Vec<u8> {
    json!({ "jsonrpc": "2.0", "id": id.cloned().unwrap_or(Value::Null), "error": { "code": code, "message": message } })
        .to_string()
        .into_bytes()
}

/// Checks one frame's body and says what to do with it.
pub fn check(body: &[u8]) -> Verdict {
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        Err(error) => {
            return refuse(None, error_code::PARSE_ERROR, &format!("Parse error: the body is not UTF-8: {error}"));
        }
    };
    if !text.trim_start().starts_with('{') {
        return match serde_json::from_str::<de::IgnoredAny>(text) {
            Err(error) => refuse(None, error_code::PARSE_ERROR, &format!("Parse error: {error}")),
            Ok(_) => refuse(None, error_code::INVALID_REQUEST, "Invalid request: a message must be a JSON object"),
        };
    }
    let envelope: Envelope = match serde_json::from_str(text) {
        Ok(envelope) => envelope,
        Err(error) if error.is_data() => {
            return refuse(None, error_code::INVALID_REQUEST, &format!("Invalid request: {error}"));
        }
        Err(error) => return refuse(None, error_code::PARSE_ERROR, &format!("Parse error: {error}")),
    };
    let id = envelope.id.map(|raw| serde_json::from_str::<Id>(raw.get()).ok());
    let Some(method) = envelope.method else {
        if id.is_some() && (envelope.result.is_some() || envelope.error.is_some()) {
            return Verdict::Ignore("a response, but the server sends no requests".into());
        }
        return refuse(id.flatten().as_ref(), error_code::INVALID_REQUEST, "Invalid request: no method");
    };
    let problem = if envelope.jsonrpc.is_none_or(|raw| raw.get() != r#""2.0""#) {
        Some(r#"Invalid request: "jsonrpc" must be "2.0""#.to_string())
    } else if matches!(id, Some(None)) {
        Some("Invalid request: an id must be an integer, a string or null".to_string())
    } else {
        None
    };
    let method = serde_json::from_str::<String>(method.get()).map_err(|_| "Invalid request: a method must be a string");
    let (method, problem) = match (method, problem) {
        (Ok(method), problem) => (method, problem),
        (Err(message), _) => (String::new(), Some(message.to_string())),
    };
    let Some(id) = id else {
        // A notification is never answered, even when it is wrong.
        return match problem.or_else(|| params_problem(envelope.params).err()) {
            Some(problem) => Verdict::Ignore(format!("notification {method:?}: {problem}")),
            None => Verdict::Forward(encode(None, &method, envelope.params)),
        };
    };
    if let Some(problem) = problem {
        return refuse(id.as_ref(), error_code::INVALID_REQUEST, &problem);
    }
    match params_problem(envelope.params) {
        Ok(()) => Verdict::Forward(encode(id.as_ref(), &method, envelope.params)),
        Err(problem) => refuse(id.as_ref(), error_code::INVALID_PARAMS, &problem),
    }
}

fn refuse(id: Option<&Id>, code: i64, message: &str) -> Verdict {
    let id = id.map(|id| serde_json::to_value(id).expect("an id serialises"));
    Verdict::Refuse(error_response(id.as_ref(), code, message))
}

/// The message as tower-lsp-server gets it. Omitted or null params become `{}` (so that "no
/// params", null and `{}` mean the same for every method), except for the LSP methods that
/// take none, which get none.
fn encode(id: Option<&Id>, method: &str, params: Option<&RawValue>) -> Vec<u8> {
    let params = params.map(RawValue::get).filter(|raw| *raw != "null");
    let params = if PARAMLESS_LSP_METHODS.contains(&method) {
        params.filter(|raw| !is_empty_structure(raw))
    } else {
        Some(params.unwrap_or("{}"))
    };
    let mut message = String::with_capacity(64 + method.len() + params.map_or(0, str::len));
    message.push_str(r#"{"jsonrpc":"2.0","method":"#);
    message.push_str(&serde_json::to_string(method).expect("a string serialises"));
    if let Some(id) = id {
        message.push_str(r#","id":"#);
        message.push_str(&serde_json::to_string(id).expect("an id serialises"));
    }
    if let Some(params) = params {
        message.push_str(r#","params":"#);
        message.push_str(params);
    }
    message.push('}');
    message.into_bytes()
}

fn is_empty_structure(raw: &str) -> bool {
    let inner = raw.trim();
    let inner = inner
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .or_else(|| inner.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')));
    inner.is_some_and(|inner| inner.trim().is_empty())
}

/// Why params cannot be passed on, if they cannot.
fn params_problem(params: Option<&RawValue>) -> Result<(), String> {
    let Some(params) = params else { return Ok(()) };
    let raw = params.get().trim_start();
    if !(raw.starts_with('{') || raw.starts_with('[') || raw == "null") {
        return Err("Invalid params: params must be an object, an array or null".into());
    }
    let mut values = 0;
    let mut deserializer = serde_json::Deserializer::from_str(raw);
    Census { values: &mut values, depth: 0 }
        .deserialize(&mut deserializer)
        .map_err(|error| format!("Invalid params: {error}"))
}

/// Walks a JSON value without building it: counts values, limits depth, refuses duplicate keys.
struct Census<'a> {
    values: &'a mut usize,
    depth: usize,
}

impl Census<'_> {
    fn count<E: de::Error>(&mut self) -> Result<(), E> {
        *self.values += 1;
        if *self.values > MAX_PARAMS_VALUES {
            return Err(E::custom(format_args!("params hold more than {MAX_PARAMS_VALUES} values")));
        }
        Ok(())
    }

    /// Counts an array or object and returns the depth of its members.
    fn enter<E: de::Error>(&mut self) -> Result<usize, E> {
        self.count()?;
        if self.depth >= MAX_PARAMS_DEPTH {
            return Err(E::custom(format_args!("params nest deeper than {MAX_PARAMS_DEPTH} levels")));
        }
        Ok(self.depth + 1)
    }
}

impl<'de> DeserializeSeed<'de> for Census<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Census<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(mut self, _: bool) -> Result<(), E> {
        self.count()
    }
    fn visit_i64<E: de::Error>(mut self, _: i64) -> Result<(), E> {
        self.count()
    }
    fn visit_u64<E: de::Error>(mut self, _: u64) -> Result<(), E> {
        self.count()
    }
    fn visit_f64<E: de::Error>(mut self, _: f64) -> Result<(), E> {
        self.count()
    }
    fn visit_str<E: de::Error>(mut self, _: &str) -> Result<(), E> {
        self.count()
    }
    fn visit_unit<E: de::Error>(mut self) -> Result<(), E> {
        self.count()
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let depth = self.enter()?;
        while seq.next_element_seed(Census { values: &mut *self.values, depth })?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let depth = self.enter()?;
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            self.count()?;
            if keys.contains(&key) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            map.next_value_seed(Census { values: &mut *self.values, depth })?;
            keys.insert(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(body: &str) -> Value {
        match check(body.as_bytes()) {
            Verdict::Refuse(reply) => serde_json::from_slice(&reply).unwrap(),
            other => panic!("{body} gave {other:?}"),
        }
    }

    fn forwarded(body: &str) -> Value {
        match check(body.as_bytes()) {
            Verdict::Forward(message) => serde_json::from_slice(&message).unwrap(),
            other => panic!("{body} gave {other:?}"),
        }
    }

    #[test]
    fn invalid_requests_are_refused_with_their_id_when_it_is_usable() {
        for (body, code, id) in [
            ("{}", error_code::INVALID_REQUEST, Value::Null),
            ("[1]", error_code::INVALID_REQUEST, Value::Null),
            ("{nope", error_code::PARSE_ERROR, Value::Null),
            (r#"{"jsonrpc":"1.0","id":3,"method":"agents/list"}"#, error_code::INVALID_REQUEST, json!(3)),
            (r#"{"jsonrpc":"2.0","id":1.5,"method":"agents/list"}"#, error_code::INVALID_REQUEST, Value::Null),
            (r#"{"jsonrpc":"2.0","id":[1],"method":"agents/list"}"#, error_code::INVALID_REQUEST, Value::Null),
            (r#"{"jsonrpc":"2.0","id":"a","method":5}"#, error_code::INVALID_REQUEST, json!("a")),
            (r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"x"}"#, error_code::INVALID_REQUEST, Value::Null),
            (r#"{"jsonrpc":"2.0","id":4,"method":"x","params":{"a":1,"a":2}}"#, error_code::INVALID_PARAMS, json!(4)),
            (r#"{"jsonrpc":"2.0","id":5,"method":"x","params":7}"#, error_code::INVALID_PARAMS, json!(5)),
            (r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"x"}"#, error_code::INVALID_REQUEST, Value::Null),
        ] {
            let reply = refused(body);
            assert_eq!(reply["error"]["code"], code, "{body}: {reply}");
            assert_eq!(reply["id"], id, "{body}: {reply}");
        }
    }

    #[test]
    fn bad_notifications_and_stray_responses_are_ignored() {
        for body in [
            r#"{"jsonrpc":"1.0","method":"initialized"}"#,
            r#"{"jsonrpc":"2.0","method":5}"#,
            r#"{"jsonrpc":"2.0","id":9,"result":null}"#,
        ] {
            assert!(matches!(check(body.as_bytes()), Verdict::Ignore(_)), "{body}");
        }
    }

    #[test]
    fn params_are_bounded() {
        let wide = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"x","params":[{}0]}}"#, "0,".repeat(MAX_PARAMS_VALUES));
        assert!(refused(&wide)["error"]["message"].as_str().unwrap().contains("more than"));
        let deep = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"x","params":{}{}}}"#, "[".repeat(40), "]".repeat(40));
        assert!(refused(&deep)["error"]["message"].as_str().unwrap().contains("deeper"));
    }

    #[test]
    fn valid_messages_are_passed_on_with_params_normalised() {
        let message = forwarded(r#"{"id":"x","extra":1,"jsonrpc":"2.0","method":"session/list"}"#);
        assert_eq!(message, json!({ "jsonrpc": "2.0", "id": "x", "method": "session/list", "params": {} }));
        let message = forwarded(r#"{"jsonrpc":"2.0","id":2,"method":"agents/list","params":null}"#);
        assert_eq!(message["params"], json!({}));
        let message = forwarded(r#"{"jsonrpc":"2.0","id":null,"method":"shutdown","params":{}}"#);
        assert_eq!(message, json!({ "jsonrpc": "2.0", "id": null, "method": "shutdown" }));
        let message = forwarded(r#"{"jsonrpc":"2.0","method":"exit","params":[ ]}"#);
        assert_eq!(message, json!({ "jsonrpc": "2.0", "method": "exit" }));
    }
}
