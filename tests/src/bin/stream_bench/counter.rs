//! A lean subscriber for measuring: one connection to the daemon's socket that reads frames and
//! decodes only what it counts (a session event's session, seq, kind and text), so that at
//! hundreds of thousands of events a second the benchmark's own client is not what is measured.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::path::Path;

use arbor_server::rpc::framing::{Frame, FrameReader, write_frame};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use uuid::Uuid;

/// One `session/event` as the counter saw it.
pub struct Seen {
    pub session_id: Uuid,
    pub seq: u64,
    pub turn_ended: bool,
    /// The agent updates the event carries: one for most events, and for a message chunk one
    /// per chunk the flood agent wrote, since the daemon joins chunks that wait together into
    /// one event. Each of the agent's chunks is one word ending in a space, so they are counted
    /// by their spaces.
    pub updates: usize,
    /// The microseconds a steady agent stamped in the chunks this event carries.
    pub stamped_micros: Vec<u64>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(default)]
    id: Option<u64>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventParams<'a> {
    session_id: Uuid,
    seq: u64,
    #[serde(borrow)]
    event: EventBody<'a>,
}

#[derive(Deserialize)]
struct EventBody<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

pub struct Counter {
    writer: OwnedWriteHalf,
    frames: FrameReader<OwnedReadHalf>,
    next_id: u64,
    /// Events that arrived while a request waited for its answer.
    backlog: VecDeque<Seen>,
}

impl Counter {
    /// Connects to the daemon's socket and completes the LSP handshake.
    pub async fn connect(socket: &Path) -> Counter {
        let (read, writer) = tokio::net::UnixStream::connect(socket).await.expect("connect to the daemon").into_split();
        let mut counter =
            Counter { writer, frames: FrameReader::new(read, usize::MAX), next_id: 1, backlog: VecDeque::new() };
        counter.request("initialize", json!({ "capabilities": {} })).await;
        counter.send(json!({ "jsonrpc": "2.0", "method": "initialized", "params": {} })).await;
        counter
    }

    async fn send(&mut self, message: Value) {
        write_frame(&mut self.writer, message.to_string().as_bytes()).await.expect("write to the daemon");
    }

    /// Sends a request and returns its result, keeping the events that arrive meanwhile.
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })).await;
        loop {
            let body = self.next_body().await;
            let message: Message = serde_json::from_slice(&body).expect("a JSON-RPC message");
            if let Some(seen) = event_of(&message) {
                self.backlog.push_back(seen);
            } else if message.method.is_none() && message.id == Some(id) {
                if let Some(error) = message.error {
                    panic!("{method} failed: {error}");
                }
                return message.result.map(|raw| serde_json::from_str(raw.get()).expect("JSON")).unwrap_or(Value::Null);
            }
        }
    }

    /// Subscribes to a session from `after_seq`; returns its last seq.
    pub async fn subscribe(&mut self, session_id: Uuid, after_seq: u64) -> u64 {
        let result = self.request("session/subscribe", json!({ "sessionId": session_id, "afterSeq": after_seq })).await;
        result["lastSeq"].as_u64().expect("lastSeq")
    }

    /// The next session event.
    pub async fn next_event(&mut self) -> Seen {
        if let Some(seen) = self.backlog.pop_front() {
            return seen;
        }
        loop {
            let body = self.next_body().await;
            let message: Message = serde_json::from_slice(&body).expect("a JSON-RPC message");
            if let Some(seen) = event_of(&message) {
                return seen;
            }
        }
    }

    async fn next_body(&mut self) -> Vec<u8> {
        loop {
            match self.frames.next_frame().await.expect("read from the daemon") {
                Some(Frame::Body(body)) => return body,
                Some(_) => continue,
                None => panic!("the daemon closed the connection"),
            }
        }
    }
}

fn event_of(message: &Message) -> Option<Seen> {
    if message.method.as_deref() != Some("session/event") {
        return None;
    }
    let params: EventParams = serde_json::from_str(message.params?.get()).expect("a session event");
    let (updates, stamped_micros) = match (&*params.event.kind, &params.event.text) {
        ("agent_message_chunk" | "agent_thought_chunk", Some(text)) => (
            text.bytes().filter(|byte| *byte == b' ').count(),
            text.split_whitespace().filter_map(|word| word.strip_prefix('t')?.parse().ok()).collect(),
        ),
        _ => (1, Vec::new()),
    };
    Some(Seen {
        session_id: params.session_id,
        seq: params.seq,
        turn_ended: params.event.kind == "turn_ended",
        updates,
        stamped_micros,
    })
}
