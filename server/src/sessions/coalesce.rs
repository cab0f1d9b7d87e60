//! Joining the chunks of one message that are already waiting into one event. An agent that
//! streams faster than its session's events are stored leaves its chunks queued in the driver's
//! channel; taking those that wait together as one event (their texts joined, in order) makes a
//! flood cost one seq, one stored row and one notification per batch rather than per chunk. A
//! chunk that arrives alone is an event of its own, so nothing waits to be joined and the
//! latency of a slow stream is unchanged. The join happens before seqs are given, so the log's
//! seqs, order and gap-free resumption are exactly those of the events as stored.

use arbor_protocol::SessionEvent;
use tokio::sync::mpsc;

use crate::agents::{AgentOutput, MAX_JOINED_TEXT_BYTES};

/// What is joined: the message or the thinking, never one with the other.
#[derive(Clone, Copy, PartialEq)]
enum Stream {
    Message,
    Thought,
}

fn split(event: SessionEvent) -> Result<(Stream, String), SessionEvent> {
    match event {
        SessionEvent::AgentMessageChunk { text } => Ok((Stream::Message, text)),
        SessionEvent::AgentThoughtChunk { text } => Ok((Stream::Thought, text)),
        other => Err(other),
    }
}

fn joined(stream: Stream, text: String) -> SessionEvent {
    match stream {
        Stream::Message => SessionEvent::AgentMessageChunk { text },
        Stream::Thought => SessionEvent::AgentThoughtChunk { text },
    }
}

/// `first`, joined with the chunks of the same stream waiting behind it in `outputs`. Returns
/// the event and the first output taken that could not be joined, which the caller handles next.
pub(super) fn with_waiting(
    first: SessionEvent,
    outputs: &mut mpsc::Receiver<AgentOutput>,
) -> (SessionEvent, Option<AgentOutput>) {
    let (stream, mut text) = match split(first) {
        Ok(chunk) => chunk,
        Err(other) => return (other, None),
    };
    while text.len() < MAX_JOINED_TEXT_BYTES {
        let Ok(next) = outputs.try_recv() else { break };
        let AgentOutput::Event(event) = next else { return (joined(stream, text), Some(next)) };
        match split(event) {
            Ok((next_stream, more)) if next_stream == stream && text.len() + more.len() <= MAX_JOINED_TEXT_BYTES => {
                text.push_str(&more)
            }
            Ok((next_stream, more)) => {
                return (joined(stream, text), Some(AgentOutput::Event(joined(next_stream, more))));
            }
            Err(other) => return (joined(stream, text), Some(AgentOutput::Event(other))),
        }
    }
    (joined(stream, text), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> AgentOutput {
        AgentOutput::Event(SessionEvent::AgentMessageChunk { text: text.into() })
    }

    fn thought(text: &str) -> AgentOutput {
        AgentOutput::Event(SessionEvent::AgentThoughtChunk { text: text.into() })
    }

    fn queued(outputs: Vec<AgentOutput>) -> mpsc::Receiver<AgentOutput> {
        let (sender, receiver) = mpsc::channel(outputs.len().max(1));
        for output in outputs {
            sender.try_send(output).unwrap();
        }
        receiver
    }

    fn text_of(event: &SessionEvent) -> &str {
        match event {
            SessionEvent::AgentMessageChunk { text } | SessionEvent::AgentThoughtChunk { text } => text,
            other => panic!("not a chunk: {other:?}"),
        }
    }

    #[test]
    fn waiting_chunks_of_one_message_become_one_event_in_order() {
        let mut outputs = queued(vec![message("b"), message("c")]);
        let (event, held) = with_waiting(SessionEvent::AgentMessageChunk { text: "a".into() }, &mut outputs);
        assert_eq!(event, SessionEvent::AgentMessageChunk { text: "abc".into() });
        assert!(held.is_none());
        assert!(outputs.try_recv().is_err());
    }

    #[test]
    fn a_different_output_ends_the_join_and_is_handed_back() {
        let mut outputs = queued(vec![message("b"), thought("t"), message("c")]);
        let (event, held) = with_waiting(SessionEvent::AgentMessageChunk { text: "a".into() }, &mut outputs);
        assert_eq!(text_of(&event), "ab");
        assert!(matches!(held, Some(AgentOutput::Event(SessionEvent::AgentThoughtChunk { ref text })) if text == "t"));
        // What followed it is still queued, for the next join.
        assert!(matches!(outputs.try_recv(), Ok(AgentOutput::Event(SessionEvent::AgentMessageChunk { .. }))));

        let mut outputs = queued(vec![AgentOutput::Title("t".into()), message("c")]);
        let (event, held) = with_waiting(SessionEvent::AgentMessageChunk { text: "a".into() }, &mut outputs);
        assert_eq!(text_of(&event), "a");
        assert!(matches!(held, Some(AgentOutput::Title(_))));
    }

    #[test]
    fn other_events_are_never_joined() {
        let mut outputs = queued(vec![message("b")]);
        let notice = SessionEvent::Notice { message: "n".into() };
        let (event, held) = with_waiting(notice.clone(), &mut outputs);
        assert_eq!(event, notice);
        assert!(held.is_none());
        assert!(outputs.try_recv().is_ok(), "the chunk behind a notice stays queued");
    }

    #[test]
    fn a_joined_event_stays_under_the_size_limit() {
        let piece = "x".repeat(MAX_JOINED_TEXT_BYTES / 4 + 1);
        let mut outputs = queued((0..8).map(|_| message(&piece)).collect());
        let (first, held) = with_waiting(SessionEvent::AgentMessageChunk { text: piece.clone() }, &mut outputs);
        assert_eq!(text_of(&first).len(), piece.len() * 3);
        let Some(AgentOutput::Event(next)) = held else { panic!("the chunk that did not fit is handed back") };
        let (second, _) = with_waiting(next, &mut outputs);
        assert_eq!(text_of(&second).len(), piece.len() * 3);
    }
}
