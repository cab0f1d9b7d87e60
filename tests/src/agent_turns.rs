//! Checks of a real ACP agent's turns, shared by the tests of the Claude and Codex adapters and
//! of Gemini CLI: the slash commands it offers, the usage and cost a turn shows against what the
//! mock model API answered, and an interrupt that leaves the agent running for the next prompt.

use arbor_protocol::{SessionEvent, SessionStatus, SlashCommand, StopReason, Usage, method};
use serde_json::json;

use crate::agents::SLOW_WORDS;
use crate::agents::last_user_turn;
use crate::mock_api::{
    CACHE_READ_TOKENS, CACHE_WRITE_TOKENS, MockApi, OPENAI_CACHED_TOKENS, Request, TEXT_INPUT_TOKENS,
    TEXT_OUTPUT_TOKENS,
};
use crate::{Client, process_alive, session_pids};

/// Waits for the session's agent to offer slash commands naming `name` (the latest
/// `available_commands` event is the list) and returns them.
pub async fn offered_commands(client: &mut Client, session_id: uuid::Uuid, name: &str) -> Vec<SlashCommand> {
    let offers = |event: &SessionEvent| matches!(event, SessionEvent::AvailableCommands { commands } if commands.iter().any(|command| command.name == name));
    let SessionEvent::AvailableCommands { commands } = client.wait_event(session_id, offers).await.event else {
        unreachable!()
    };
    commands
}

/// Sends `text` as the session's `nth` turn and returns the text the agent answered with in it.
pub async fn answer_to(client: &mut Client, session_id: uuid::Uuid, text: &str, nth: usize) -> String {
    let before = client.reply_text(session_id);
    client.prompt_and_wait(session_id, text, nth).await;
    client.reply_text(session_id)[before.len()..].to_string()
}

/// What one model request the mock answered with a text reply costs in tokens, as the agent's
/// API shape reports it: Anthropic's input excludes its cache reads and writes, OpenAI's includes
/// its cached tokens (which ACP agents report apart), Gemini's has no cache figures.
#[derive(Debug, Clone, Copy)]
pub enum ApiShape {
    Anthropic,
    OpenAi,
    Gemini,
}

impl ApiShape {
    /// The usage of `requests` text replies.
    pub fn usage_of(self, requests: u64) -> Usage {
        let (input, cache_read, cache_write) = match self {
            ApiShape::Anthropic => (TEXT_INPUT_TOKENS, CACHE_READ_TOKENS, CACHE_WRITE_TOKENS),
            ApiShape::OpenAi => (TEXT_INPUT_TOKENS - OPENAI_CACHED_TOKENS, OPENAI_CACHED_TOKENS, 0),
            ApiShape::Gemini => (TEXT_INPUT_TOKENS, 0, 0),
        };
        Usage {
            input_tokens: input * requests,
            output_tokens: TEXT_OUTPUT_TOKENS * requests,
            cache_read_tokens: cache_read * requests,
            cache_write_tokens: cache_write * requests,
            ..Usage::default()
        }
    }

    /// The path of the model API's requests.
    pub fn path(self) -> &'static str {
        match self {
            ApiShape::Anthropic => "/v1/messages",
            ApiShape::OpenAi => "/v1/responses",
            ApiShape::Gemini => ":streamGenerateContent",
        }
    }
}

/// What a turn showed: the usage and context events it added and the agent's model requests the
/// mock answered meanwhile.
#[derive(Debug)]
pub struct TurnUsage {
    /// The turn's own figures, summed over its `usage` events.
    pub turn: Usage,
    /// How many `usage` events the turn added.
    pub usage_events: usize,
    /// The session's totals after the turn, as `session/get` shows them.
    pub total: Usage,
    /// The last context figures (used, size) the agent reported (`context_usage`).
    pub context: Option<(u64, u64)>,
    /// The last running cost the agent reported (`context_usage`), if it reports one.
    pub reported_cost: Option<f64>,
    /// The agent's own model requests of the turn: those offering it tools (side requests, such
    /// as the title Codex and Claude Code ask a model for, offer none and are not the turn's).
    pub requests: u64,
    /// The last user turn of every model request of the turn, for messages.
    pub seen: Vec<String>,
}

/// Sends `text` (answered by the mock with text) as the `nth` turn and collects the usage it
/// showed.
pub async fn turn_usage(
    client: &mut Client,
    mock: &MockApi,
    shape: ApiShape,
    session_id: uuid::Uuid,
    text: &str,
    nth: usize,
) -> TurnUsage {
    let requests_before = mock.requests_to(shape.path()).len();
    let events_before = client.events.len();
    client.prompt_and_wait(session_id, text, nth).await;
    let turn_requests = mock.requests_to(shape.path()).split_off(requests_before);
    let offers_tools = |request: &&Request| request.body["tools"].as_array().is_some_and(|tools| !tools.is_empty());
    let mut usage = TurnUsage {
        turn: Usage::default(),
        usage_events: 0,
        total: client.get(session_id).await.usage,
        context: None,
        reported_cost: None,
        requests: turn_requests.iter().filter(offers_tools).count() as u64,
        seen: turn_requests.iter().map(|request| last_user_turn(request).0).collect(),
    };
    for event in client.events[events_before..].iter().filter(|event| event.session_id == session_id) {
        match &event.event {
            SessionEvent::Usage { turn, total } => {
                usage.turn.add(turn);
                usage.usage_events += 1;
                assert_eq!(total, &usage.total, "the session shows the totals its events carry");
            }
            SessionEvent::ContextUsage { used, size, cost_usd } => {
                usage.context = Some((*used, *size));
                usage.reported_cost = cost_usd.or(usage.reported_cost);
            }
            _ => {}
        }
    }
    usage
}

/// The tokens of `usage`, without its cost.
pub fn tokens(usage: &Usage) -> Usage {
    Usage { cost_usd: 0.0, cost_estimated: false, ..*usage }
}

/// The cost Arbor estimates for `usage` at `price` (input, output, cache read, cache write, in
/// US dollars per million tokens).
pub fn priced(usage: &Usage, price: [f64; 4]) -> f64 {
    let counts = [usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens];
    counts.iter().zip(price).map(|(count, per_million)| *count as f64 * per_million / 1_000_000.0).sum()
}

/// Interrupts the session's `nth` turn, a reply the mock streams slowly, with `session/cancel`
/// once some of it has arrived; then checks that the turn ended `cancelled`, that the agent's
/// process (the one Arbor started, [`agent_process`]) is the one that ran before and still runs, and that the next prompt is answered by it. Returns the turns the session has had.
///
/// `stale` is for an agent that answers the prompt after an interrupt with the interrupted turn's
/// end (the `@zed-industries` Claude adapter): that prompt's turn ends at once with no answer, and
/// its answer opens the next turn, which is checked too.
pub async fn interrupt_keeps_the_agent(client: &mut Client, session_id: uuid::Uuid, nth: usize, stale: bool) -> usize {
    let agent = agent_process(session_id);
    client.call(method::SESSION_PROMPT, json!({ "sessionId": session_id, "text": "slow" })).await;
    let mut streamed = 0;
    client
        .wait_event(session_id, |event| {
            streamed += usize::from(matches!(event, SessionEvent::AgentMessageChunk { text } if text.contains("slow")));
            streamed >= 3
        })
        .await;
    client.call(method::SESSION_CANCEL, json!({ "sessionId": session_id })).await;
    client.wait_turns(session_id, nth).await;
    assert_eq!(client.stop_reasons(session_id).get(nth - 1), Some(&StopReason::Cancelled));
    let streamed = client.reply_text(session_id).matches("slow").count();
    assert!(streamed < SLOW_WORDS, "the reply was cut short ({streamed} of {SLOW_WORDS} words)");
    assert!(process_alive(agent), "the agent outlives the interrupt");
    assert_eq!(client.get(session_id).await.status, SessionStatus::Running);

    let mut turn = nth + 1;
    let answer = answer_to(client, session_id, "after the cancel", turn).await;
    if stale {
        assert_eq!(answer, "", "the interrupted turn's end answers the next prompt");
        turn += 1;
        let answer = answer_to(client, session_id, "once more", turn).await;
        // Whether this turn also gets to its own answer depends on timing; the late one comes first.
        assert!(answer.starts_with("Echo: after the cancel"), "{answer:?}");
    } else {
        assert!(answer.ends_with("Echo: after the cancel"), "the next prompt is answered: {answer:?}");
    }
    assert_eq!(client.stop_reasons(session_id).get(turn - 1), Some(&StopReason::EndTurn));
    assert!(process_alive(agent), "and answers");
    assert_eq!(agent_process(session_id), agent, "the same process");
    turn
}

/// The process Arbor started for the session's agent (the sandbox's keeper, when there is one,
/// which lives exactly as long as the agent): the one of the session's processes whose parent is
/// not one of them. The others come and go with the agent's work (Codex runs shells of its own).
fn agent_process(session_id: uuid::Uuid) -> i32 {
    let pids = session_pids(session_id);
    let parent = |pid: i32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The fields after the command's closing parenthesis: state, then the parent's pid.
        stat.rsplit(')').next().unwrap_or_default().split_whitespace().nth(1).and_then(|ppid| ppid.parse::<i32>().ok())
    };
    let roots: Vec<i32> =
        pids.iter().copied().filter(|pid| parent(*pid).is_none_or(|ppid| !pids.contains(&ppid))).collect();
    assert_eq!(roots.len(), 1, "one process started the session's agent: {roots:?} of {pids:?}");
    roots[0]
}
