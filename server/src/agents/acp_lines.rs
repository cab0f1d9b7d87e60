//! Reading an Agent Client Protocol agent's stdout: each line becomes an [`Incoming`] on the
//! reader task. Most of what a streaming agent writes is one shape, a `session/update` carrying a
//! chunk of its message or thinking as text; that shape is read straight into its text, without
//! building the line's JSON tree (at an agent's full speed, building and dropping that tree was
//! most of the daemon's work). Every other line, and any chunk line the fast path does not take
//! whole, is read as JSON and sorted by [`route`], so both paths give the same result.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

use super::MAX_JOINED_TEXT_BYTES;
use super::acp::{Incoming, RpcError};
use super::stdio::{Line, parse_line};

/// Which of the agent's streams a text chunk belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ChunkStream {
    /// `agent_message_chunk`: the reply.
    Message,
    /// `agent_thought_chunk`: the visible thinking.
    Thought,
}

/// A notification carrying a text chunk, as the fast path reads it. An `id` makes it a request,
/// which the fast path leaves to [`route`].
#[derive(Deserialize)]
struct ChunkNotification<'a> {
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(default)]
    id: Option<IgnoredAny>,
    #[serde(borrow)]
    params: ChunkParams<'a>,
}

#[derive(Deserialize)]
struct ChunkParams<'a> {
    #[serde(borrow)]
    update: ChunkUpdate<'a>,
}

#[derive(Deserialize)]
struct ChunkUpdate<'a> {
    #[serde(rename = "sessionUpdate", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    content: ChunkContent<'a>,
}

/// A content block as the fast path takes it: a text one (`type` absent or `text`) with its text.
#[derive(Deserialize)]
struct ChunkContent<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Cow<'a, str>,
}

/// Adds one line of the agent's stdout to the messages read with it (nothing for a blank line).
/// A text chunk of the stream the message before it is a chunk of is joined to it, as the driver
/// joins the chunks that wait together (up to [`MAX_JOINED_TEXT_BYTES`]), without a string of
/// its own on the way.
pub fn read_incoming(bytes: &[u8], batch: &mut Vec<Incoming>) {
    let Some((stream, text)) = text_chunk(bytes) else {
        batch.extend(parse_other(bytes));
        return;
    };
    match batch.last_mut() {
        Some(Incoming::Text { stream: last, text: joined })
            if *last == stream && joined.len() + text.len() <= MAX_JOINED_TEXT_BYTES =>
        {
            joined.push_str(&text)
        }
        _ => batch.push(Incoming::Text { stream, text: text.into_owned() }),
    }
}

/// One line of the agent's stdout as the driver takes it; None for a blank line.
pub fn parse_incoming(bytes: &[u8]) -> Option<Incoming> {
    match text_chunk(bytes) {
        Some((stream, text)) => Some(Incoming::Text { stream, text: text.into_owned() }),
        None => parse_other(bytes),
    }
}

/// A line the fast path does not take, read as JSON.
fn parse_other(bytes: &[u8]) -> Option<Incoming> {
    parse_line(bytes).map(|line| match line {
        Line::Json(message) => route(message),
        Line::Malformed(text) => Incoming::Malformed(text),
    })
}

/// The fast path: a line that is exactly a text chunk notification, as its stream and text.
fn text_chunk(bytes: &[u8]) -> Option<(ChunkStream, Cow<'_, str>)> {
    // Checked as UTF-8 once, whole: serde_json checks each string of a byte slice on its own,
    // which made reading a chunk line a third slower.
    let notification: ChunkNotification = serde_json::from_str(std::str::from_utf8(bytes).ok()?).ok()?;
    if notification.method != "session/update" || notification.id.is_some() {
        return None;
    }
    let update = notification.params.update;
    if update.content.kind.as_deref().is_some_and(|kind| kind != "text") {
        return None;
    }
    let stream = match &*update.kind {
        "agent_message_chunk" => ChunkStream::Message,
        "agent_thought_chunk" => ChunkStream::Thought,
        _ => return None,
    };
    Some((stream, update.content.text))
}

/// Sorts one JSON object from the agent into a response, a request or a notification.
pub fn route(mut message: Value) -> Incoming {
    let method = message["method"].as_str().map(str::to_string);
    let id = message.get("id").cloned();
    match (method, id) {
        (Some(method), Some(id)) => Incoming::Request { id, method, params: take_member(&mut message, "params") },
        (Some(method), None) => Incoming::Notification { method, params: take_member(&mut message, "params") },
        (None, Some(id)) => match id.as_u64() {
            Some(id) => {
                let result = match message.get("error") {
                    Some(error) => Err(RpcError {
                        code: error["code"].as_i64().unwrap_or_default(),
                        message: error["message"].as_str().unwrap_or("the agent reported an error").to_string(),
                        data: error["data"].clone(),
                    }),
                    None => Ok(take_member(&mut message, "result")),
                };
                Incoming::Response { id, result }
            }
            None => Incoming::Malformed(message.to_string()),
        },
        (None, None) => Incoming::Malformed(message.to_string()),
    }
}

/// Moves a member out of a message the router owns: at an agent's full speed, copying each
/// update's params was the largest cost of reading its output.
fn take_member(message: &mut Value, key: &str) -> Value {
    message.get_mut(key).map(Value::take).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(incoming: Option<Incoming>) -> Option<(ChunkStream, String)> {
        match incoming? {
            Incoming::Text { stream, text } => Some((stream, text)),
            _ => None,
        }
    }

    #[test]
    fn a_text_chunk_is_read_straight_into_its_text() {
        let line = br#"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"a \"quoted\" \u00e9"}}}}"#;
        assert_eq!(text_of(parse_incoming(line)), Some((ChunkStream::Message, "a \"quoted\" é".to_string())));
        let line = br#"{"method":"session/update","params":{"update":{"content":{"text":"t"},"sessionUpdate":"agent_thought_chunk"}}}"#;
        assert_eq!(text_of(parse_incoming(line)), Some((ChunkStream::Thought, "t".to_string())));
    }

    #[test]
    fn chunks_read_together_are_joined_while_they_are_of_one_stream() {
        let chunk = |kind: &str, text: &str| {
            format!(
                r#"{{"method":"session/update","params":{{"update":{{"sessionUpdate":"{kind}","content":{{"type":"text","text":"{text}"}}}}}}}}"#
            )
        };
        let big = "x".repeat(MAX_JOINED_TEXT_BYTES - 3);
        let lines = [
            chunk("agent_message_chunk", "a"),
            chunk("agent_message_chunk", "b"),
            chunk("agent_thought_chunk", "c"),
            chunk("agent_thought_chunk", "d"),
            r#"{"id":3,"result":{}}"#.to_string(),
            chunk("agent_thought_chunk", "e"),
            chunk("agent_thought_chunk", &big),
            chunk("agent_thought_chunk", "over"),
            String::new(),
            chunk("agent_thought_chunk", "f"),
        ];
        let mut batch = Vec::new();
        for line in &lines {
            read_incoming(line.as_bytes(), &mut batch);
        }
        let read: Vec<String> = batch
            .into_iter()
            .map(|incoming| match incoming {
                Incoming::Text { stream, text } if text.len() > 100 => format!("{stream:?} {} bytes", text.len()),
                Incoming::Text { stream, text } => format!("{stream:?} {text}"),
                Incoming::Response { id, .. } => format!("response {id}"),
                _ => "other".to_string(),
            })
            .collect();
        let expected = [
            "Message ab",
            "Thought cd",
            "response 3",
            &format!("Thought {} bytes", MAX_JOINED_TEXT_BYTES - 2),
            "Thought overf",
        ];
        assert_eq!(read, expected, "joined up to the limit, never across another stream or message");
    }

    #[test]
    fn every_other_line_takes_the_json_path() {
        let cases: [&[u8]; 6] = [
            // A request with the chunk's shape is still a request.
            br#"{"jsonrpc":"2.0","id":4,"method":"session/update","params":{"update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"x"}}}}"#,
            // Not a text block.
            br#"{"method":"session/update","params":{"update":{"sessionUpdate":"agent_message_chunk","content":{"type":"image","text":"x"}}}}"#,
            // Another update.
            br#"{"method":"session/update","params":{"update":{"sessionUpdate":"plan","content":{"text":"x"}}}}"#,
            // Another method.
            br#"{"method":"other","params":{"update":{"sessionUpdate":"agent_message_chunk","content":{"text":"x"}}}}"#,
            // A duplicated member, which the JSON path reads as its last value.
            br#"{"method":"session/update","params":{"update":{"sessionUpdate":"agent_message_chunk","content":{"text":"x","text":"y"}}}}"#,
            // Not UTF-8: the JSON path reads it with the bad byte replaced.
            b"{\"method\":\"session/update\",\"params\":{\"update\":{\"sessionUpdate\":\"agent_message_chunk\",\"content\":{\"text\":\"\xff\"}}}}",
        ];
        for line in cases {
            assert!(text_of(parse_incoming(line)).is_none(), "{}", String::from_utf8_lossy(line));
        }
        assert!(matches!(parse_incoming(b"not json"), Some(Incoming::Malformed(text)) if text == "not json"));
        assert!(parse_incoming(b"   ").is_none());
        assert!(matches!(parse_incoming(br#"{"id":3,"result":{}}"#), Some(Incoming::Response { id: 3, .. })));
    }
}
