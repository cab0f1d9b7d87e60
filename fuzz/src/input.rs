//! What the targets are fed, as proptest strategies: arbitrary JSON, structure-aware mutations of
//! recorded messages (so inputs get past the first checks and deep into the parsers), lines cut
//! short, and raw bytes.

use proptest::prelude::*;
use serde_json::{Map, Value};

/// Strings that tend to break parsers and paths, and the names the recorded messages use (so a
/// mutation can swap one field's value for another's). `$OUTSIDE`, `$SESSION` and the other
/// `$` names are placeholders each target replaces with something real of its own.
const DICTIONARY: &[&str] = &[
    "",
    " ",
    "\n",
    "\r\n",
    "\u{0}",
    "é",
    "🦀",
    "\u{202e}",
    ".",
    "..",
    "../x",
    "a/../../b",
    "sub/",
    "-1",
    "1e400",
    "18446744073709551616",
    "9223372036854775808",
    "null",
    "{}",
    "[]",
    "00000000-0000-0000-0000-000000000000",
    "$OUTSIDE",
    "link/canary.txt",
    "$SESSION",
    "$TASK",
    "$TRIAL",
    "$REPO",
    "perm-1",
    "perm-2",
    "toolu_bash",
    "item_2",
    "text",
    "type",
    "id",
    "content",
    "result",
    "error",
    "success",
    "tool_use",
    "tool_result",
    "Bash",
    "TodoWrite",
    "MultiEdit",
    "session/update",
    "session/request_permission",
    "fs/read_text_file",
    "fs/write_text_file",
    "tool_call",
    "tool_call_update",
    "command_execution",
    "file_change",
    "todo_list",
];

/// Numbers at the edges of the types the protocol uses.
fn edge_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::from(0)),
        Just(Value::from(1)),
        Just(Value::from(-1)),
        Just(Value::from(i64::MAX)),
        Just(Value::from(i64::MIN)),
        Just(Value::from(u64::MAX)),
        Just(Value::from(1u64 << 63)),
        Just(Value::from(u64::from(u32::MAX))),
        Just(Value::from(u64::from(u32::MAX) + 1)),
        Just(Value::from(-0.0)),
        Just(Value::from(1.5)),
        Just(Value::from(1e308)),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("JSON has no NaN or infinity", |number| number.is_finite()).prop_map(Value::from),
    ]
}

/// A short string: from the dictionary, or any characters.
pub fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(DICTIONARY).prop_map(str::to_string),
        2 => proptest::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter),
        1 => (proptest::sample::select(DICTIONARY), 1usize..64).prop_map(|(word, times)| word.repeat(times)),
    ]
}

/// Any JSON value, a few levels deep.
pub fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        edge_number(),
        string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((string(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// One change to one node of a JSON value.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// The node becomes another value.
    Replace(Value),
    /// An object loses one of its keys, an array one of its items; a scalar becomes null.
    Remove(usize),
    /// An object gains a key, an array an item; a scalar is wrapped in an array with it.
    Insert(String, Value),
    /// A string is cut to this many characters (other values first become their JSON text).
    Truncate(usize),
    /// A string gets text appended (other values first become their JSON text).
    Append(String),
    /// The node is repeated this many times in an array.
    Repeat(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => json().prop_map(Mutation::Replace),
        2 => any::<usize>().prop_map(Mutation::Remove),
        2 => (string(), json()).prop_map(|(key, value)| Mutation::Insert(key, value)),
        1 => (0usize..40).prop_map(Mutation::Truncate),
        1 => string().prop_map(Mutation::Append),
        1 => (2usize..40).prop_map(Mutation::Repeat),
    ]
}

/// Mutations, each aimed at a node picked by its index in a pre-order walk.
pub fn mutations() -> impl Strategy<Value = Vec<(usize, Mutation)>> {
    prop_oneof![
        1 => Just(Vec::new()),
        3 => proptest::collection::vec((any::<usize>(), mutation()), 1..4),
    ]
}

/// Applies `mutations` to `value` in order.
pub fn mutate(value: &mut Value, mutations: &[(usize, Mutation)]) {
    for (at, mutation) in mutations {
        let nodes = count(value);
        if let Some(node) = nth(value, at % nodes) {
            apply(node, mutation);
        }
    }
}

fn count(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count).sum(),
        Value::Object(entries) => entries.values().map(count).sum(),
        _ => 0,
    }
}

fn nth(value: &mut Value, n: usize) -> Option<&mut Value> {
    if n == 0 {
        return Some(value);
    }
    let mut skipped = 1;
    let children: Box<dyn Iterator<Item = &mut Value>> = match value {
        Value::Array(items) => Box::new(items.iter_mut()),
        Value::Object(entries) => Box::new(entries.values_mut()),
        _ => return None,
    };
    for child in children {
        let size = count(child);
        if n < skipped + size {
            return nth(child, n - skipped);
        }
        skipped += size;
    }
    None
}

fn as_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn apply(node: &mut Value, mutation: &Mutation) {
    match mutation {
        Mutation::Replace(value) => *node = value.clone(),
        Mutation::Remove(index) => match node {
            Value::Object(entries) if !entries.is_empty() => {
                let key = entries.keys().nth(index % entries.len()).cloned().expect("index is in range");
                entries.remove(&key);
            }
            Value::Array(items) if !items.is_empty() => {
                items.remove(index % items.len());
            }
            other => *other = Value::Null,
        },
        Mutation::Insert(key, value) => match node {
            Value::Object(entries) => {
                entries.insert(key.clone(), value.clone());
            }
            Value::Array(items) => items.push(value.clone()),
            other => *other = Value::Array(vec![other.clone(), value.clone()]),
        },
        Mutation::Truncate(length) => *node = Value::String(as_text(node).chars().take(*length).collect()),
        Mutation::Append(text) => *node = Value::String(as_text(node) + text),
        Mutation::Repeat(times) => *node = Value::Array(vec![node.clone(); *times]),
    }
}

/// One line of an agent's output, or one command to the driver between lines.
#[derive(Debug, Clone)]
pub enum Piece {
    /// The next recorded message, mutated.
    Seed(Vec<(usize, Mutation)>),
    /// The next recorded message's text, cut after this many bytes.
    Cut(usize),
    /// Any JSON value.
    Json(Value),
    /// Any bytes (split into lines where they hold newlines).
    Bytes(Vec<u8>),
    /// A command from the session to the driver; targets read the number as they see fit.
    Command(u8),
}

/// A stretch of an agent's output: pieces that take recorded messages from `start` on.
#[derive(Debug, Clone)]
pub struct Stream {
    /// Index of the first recorded message used.
    pub start: usize,
    /// What comes out of the agent (and goes in to its driver), in order.
    pub pieces: Vec<Piece>,
}

/// What a stream is made of, in order: its lines as bytes, and commands.
#[derive(Debug)]
pub enum Step {
    /// One line of output, without its newline.
    Line(Vec<u8>),
    /// A command.
    Command(u8),
}

impl Stream {
    /// A strategy for streams of up to `length` pieces.
    pub fn strategy(length: usize) -> impl Strategy<Value = Stream> {
        let piece = prop_oneof![
            12 => mutations().prop_map(Piece::Seed),
            2 => any::<usize>().prop_map(Piece::Cut),
            2 => json().prop_map(Piece::Json),
            1 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(Piece::Bytes),
            3 => any::<u8>().prop_map(Piece::Command),
        ];
        (any::<usize>(), proptest::collection::vec(piece, 1..length))
            .prop_map(|(start, pieces)| Stream { start, pieces })
    }

    /// The stream's steps, taking recorded messages from `seeds` in order and filling
    /// placeholders with `lookup`.
    pub fn steps(&self, seeds: &[Value], lookup: &dyn Fn(&str) -> Option<String>) -> Vec<Step> {
        let mut next = self.start;
        let mut take = || {
            next += 1;
            seeds[(next - 1) % seeds.len()].clone()
        };
        let mut steps = Vec::new();
        for piece in &self.pieces {
            let bytes = match piece {
                Piece::Seed(mutations) => {
                    let mut value = take();
                    mutate(&mut value, mutations);
                    fill(&mut value, lookup);
                    value.to_string().into_bytes()
                }
                Piece::Cut(at) => {
                    let text = take().to_string().into_bytes();
                    text[..at % (text.len() + 1)].to_vec()
                }
                Piece::Json(value) => {
                    let mut value = value.clone();
                    fill(&mut value, lookup);
                    value.to_string().into_bytes()
                }
                Piece::Bytes(bytes) => bytes.clone(),
                Piece::Command(command) => {
                    steps.push(Step::Command(*command));
                    continue;
                }
            };
            steps.extend(bytes.split(|byte| *byte == b'\n').map(|line| Step::Line(line.to_vec())));
        }
        steps
    }
}

/// Parses a corpus of JSON lines, replacing `from` with `to` in its text first.
pub fn corpus(text: &str, from: &str, to: &str) -> Vec<Value> {
    text.replace(from, to)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("the corpus holds JSON lines"))
        .collect()
}

/// Replaces every string equal to a placeholder (`$NAME`) in `value` with what `lookup` gives.
pub fn fill(value: &mut Value, lookup: &dyn Fn(&str) -> Option<String>) {
    match value {
        Value::String(text) if text.starts_with('$') => {
            if let Some(real) = lookup(text) {
                *text = real;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| fill(item, lookup)),
        Value::Object(entries) => entries.values_mut().for_each(|item| fill(item, lookup)),
        _ => {}
    }
}
