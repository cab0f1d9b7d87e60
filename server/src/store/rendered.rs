//! Committed events as clients receive them: each `session/event` notification is rendered to
//! its JSON-RPC body once, by the writer after the commit or by a replay straight from the stored
//! payload, and that one body is shared by every subscriber, so fanning an event out costs no
//! serialisation (and no copy) per client.

use uuid::Uuid;

use arbor_protocol::method;

/// One committed event, rendered as the whole `session/event` notification.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedEvent {
    /// The session it belongs to.
    pub session_id: Uuid,
    /// Its seq in the session's log.
    pub seq: u64,
    body: String,
}

/// What precedes the params in every rendered notification.
fn prefix() -> String {
    format!(r#"{{"jsonrpc":"2.0","method":"{}","params":"#, method::NOTIFY_SESSION_EVENT)
}

impl RenderedEvent {
    /// Renders an event from its parts; `payload` is the stored JSON of the event itself (the
    /// `SessionEvent`), which the store wrote with serde, so it is valid JSON.
    pub fn new(session_id: Uuid, seq: u64, at: i64, payload: &str) -> RenderedEvent {
        let body = format!(r#"{}{{"sessionId":"{session_id}","seq":{seq},"at":{at},"event":{payload}}}}}"#, prefix());
        RenderedEvent { session_id, seq, body }
    }

    /// The notification's JSON-RPC body.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The notification's params alone (a `SessionEventNotification` as JSON).
    pub fn params(&self) -> &str {
        &self.body[prefix().len()..self.body.len() - 1]
    }
}

impl AsRef<[u8]> for RenderedEvent {
    fn as_ref(&self) -> &[u8] {
        self.body.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use arbor_protocol::{SessionEvent, SessionEventNotification, StopReason};
    use serde_json::{Value, json};

    use super::*;

    /// The rendered body is exactly what serde makes of the notification, for events whose text
    /// needs escaping too.
    #[test]
    fn a_rendered_event_is_the_notification_serde_would_write() {
        let events = [
            SessionEvent::AgentMessageChunk { text: "quote \" backslash \\ newline \n tab \t é 🌳".into() },
            SessionEvent::UserMessage { text: String::new() },
            SessionEvent::TurnEnded { stop_reason: StopReason::EndTurn },
        ];
        for (index, event) in events.into_iter().enumerate() {
            let notification = SessionEventNotification {
                session_id: Uuid::new_v4(),
                seq: index as u64 + 1,
                at: 1_700_000_000_123,
                event,
            };
            let payload = serde_json::to_string(&notification.event).unwrap();
            let rendered = RenderedEvent::new(notification.session_id, notification.seq, notification.at, &payload);
            let body: Value = serde_json::from_str(rendered.body()).unwrap();
            let expected = json!({ "jsonrpc": "2.0", "method": "session/event", "params": notification });
            assert_eq!(body, expected);
            let params: SessionEventNotification = serde_json::from_str(rendered.params()).unwrap();
            assert_eq!(params, notification);
        }
    }
}
