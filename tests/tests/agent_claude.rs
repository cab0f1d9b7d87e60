//! Claude Code, the real CLI, driven through `arbor` against the mock Anthropic API: edits with
//! diffs, follow-ups, stop and resume with history, interrupt, API errors, usage and cost, and a
//! permission round trip in ask mode.

use std::path::PathBuf;

use arbor_protocol::{Session, SessionEvent, SessionStatus, StopReason, ToolCallContent, ToolCallStatus, method};
use arbor_tests::agents::{claude_bash, claude_write, conversation, last_user_turn};
use arbor_tests::mock_api::MockApi;
use arbor_tests::{Server, TestEnv};
use serde_json::json;

#[tokio::test]
async fn claude_edits_follows_up_resumes_with_history_and_counts_usage() {
    let mut claude = Claude::start().await;
    let client = &mut claude.server.client;
    let agents = client.call(method::AGENTS_LIST, serde_json::Value::Null).await;
    let listed = agents["agents"].as_array().unwrap().iter().find(|agent| agent["id"] == "claude").unwrap().clone();
    assert_eq!(listed["available"], true);

    let session =
        client.agent_session(&claude.repo, "claude", None, json!({ "permissionMode": "bypass_permissions" })).await;
    client.prompt_and_wait(session.id, "write hello.txt hi from claude", 1).await;
    let worktree = std::path::Path::new(&session.cwd);
    assert_eq!(std::fs::read_to_string(worktree.join("hello.txt")).unwrap(), "hi from claude\n");
    let call = client.events.iter().find_map(|event| match &event.event {
        SessionEvent::ToolCall { title, content, .. } => Some((title.clone(), content.clone())),
        _ => None,
    });
    let (title, content) = call.expect("a tool call event");
    assert_eq!(title, "Write hello.txt");
    assert_eq!(
        content,
        vec![ToolCallContent::Diff { path: "hello.txt".into(), old_text: None, new_text: "hi from claude\n".into() }]
    );
    assert!(client.events.iter().any(|event| matches!(
        &event.event,
        SessionEvent::ToolCallUpdate { status: Some(ToolCallStatus::Completed), .. }
    )));
    assert!(
        client.events.iter().any(|event| matches!(&event.event, SessionEvent::AgentThoughtChunk { .. })),
        "thinking is streamed"
    );
    assert_eq!(client.reply_text(session.id), "All done.");
    let after = client.get(session.id).await;
    assert_eq!(after.agent_session_id, Some(session.id.to_string()), "our UUID is Claude's session id");
    assert!(
        after.usage.input_tokens >= 60 && after.usage.output_tokens >= 22 && after.usage.cost_usd > 0.0,
        "{:?}",
        after.usage
    );
    assert!(after.usage.cache_read_tokens > 0 && after.usage.cache_write_tokens > 0);

    client.prompt_and_wait(session.id, "second message", 2).await;
    assert!(client.reply_text(session.id).ends_with("Echo: second message"));

    // Stop, resume: the CLI continues the same conversation and the mock sees the history.
    client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await;
    client.resume_and_wait(session.id, "third message", 3).await;
    assert!(client.reply_text(session.id).ends_with("Echo: third message"));
    let last = claude.mock.requests_to("/v1/messages").last().cloned().unwrap();
    let history = last.body["messages"].to_string();
    assert!(
        history.contains("second message") && history.contains("write hello.txt"),
        "the resumed conversation carries the history"
    );
    assert!(last_user_turn(&last).0.contains("third message"));
    let resumed = client.get(session.id).await;
    assert!(resumed.usage.cost_usd > after.usage.cost_usd);
}

#[tokio::test]
async fn claude_is_interrupted_mid_stream_and_survives_an_api_error() {
    let mut claude = Claude::start().await;
    let session = claude.session("bypass_permissions").await;
    let client = &mut claude.server.client;

    client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "slow" })).await;
    client.wait_chunks(session.id, 5).await;
    client.call(method::SESSION_CANCEL, json!({ "sessionId": session.id })).await;
    client.wait_turns(session.id, 1).await;
    assert_eq!(client.stop_reasons(session.id), vec![StopReason::Cancelled]);
    let words = client.reply_text(session.id).split_whitespace().count();
    assert!(words < 400, "the stream was cut short ({words} words)");

    client.prompt_and_wait(session.id, "fail", 2).await;
    assert_eq!(client.stop_reasons(session.id)[1], StopReason::Error);
    let error = client.events.iter().rev().find_map(|event| match &event.event {
        SessionEvent::Error { message, .. } => Some(message.clone()),
        _ => None,
    });
    assert!(error.unwrap_or_default().contains("500"), "the API error is visible");

    client.prompt_and_wait(session.id, "still there?", 3).await;
    assert!(client.reply_text(session.id).ends_with("Echo: still there?"), "the session is still usable");
    assert_eq!(client.get(session.id).await.status, SessionStatus::Running);
}

#[tokio::test]
async fn claude_asks_permission_and_the_answer_decides() {
    let mut claude = Claude::start().await;
    let session = claude.session("ask").await;
    let client = &mut claude.server.client;
    let worktree = PathBuf::from(&session.cwd);

    client
        .call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "run echo allowed > allowed.txt" }))
        .await;
    let asked = client.wait_event(session.id, |event| matches!(event, SessionEvent::PermissionRequest { .. })).await;
    let SessionEvent::PermissionRequest { request_id, title, tool_call_id, .. } = asked.event else { unreachable!() };
    assert!(title.contains("echo allowed"), "{title}");
    assert!(tool_call_id.is_some());
    assert!(!worktree.join("allowed.txt").exists(), "nothing runs before the answer");
    client
        .call(method::SESSION_RESPOND, json!({ "sessionId": session.id, "requestId": request_id, "optionId": "allow" }))
        .await;
    client.wait_turns(session.id, 1).await;
    assert_eq!(std::fs::read_to_string(worktree.join("allowed.txt")).unwrap(), "allowed\n");

    client
        .call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "run echo denied > denied.txt" }))
        .await;
    let asked = client
        .wait_event(
            session.id,
            |event| matches!(event, SessionEvent::PermissionRequest { title, .. } if title.contains("denied")),
        )
        .await;
    let SessionEvent::PermissionRequest { request_id, .. } = asked.event else { unreachable!() };
    client
        .call(
            method::SESSION_RESPOND,
            json!({ "sessionId": session.id, "requestId": request_id, "optionId": "reject" }),
        )
        .await;
    client.wait_turns(session.id, 2).await;
    assert!(!worktree.join("denied.txt").exists(), "a refused tool does not run");
    assert!(client.events.iter().any(|event| matches!(
        &event.event,
        SessionEvent::ToolCallUpdate { status: Some(ToolCallStatus::Failed), .. }
    )));
}

#[tokio::test]
async fn a_claude_session_stopped_before_its_first_prompt_resumes() {
    let mut claude = Claude::start().await;
    let session = claude.session("bypass_permissions").await;
    let client = &mut claude.server.client;
    client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await;
    let stopped = client.wait_status(session.id, |status| status == SessionStatus::Stopped).await;
    assert_eq!(stopped.agent_session_id, None, "Claude has no conversation to resume before a prompt");

    client.resume_and_wait(session.id, "hello", 1).await;
    assert_eq!(client.reply_text(session.id), "Echo: hello");
    assert_eq!(client.stop_reasons(session.id), vec![StopReason::EndTurn]);
    assert_eq!(client.get(session.id).await.agent_session_id, Some(session.id.to_string()));
}

/// Claude Code writes a turn to its transcript a moment after the turn ends, so one killed in
/// that moment (with the machine, or with Arbor) has no record and refuses `--resume`. The session
/// still resumes: Arbor says what happened and starts a new conversation given the transcript
/// Arbor kept, so the agent knows what was said before.
#[tokio::test]
async fn a_claude_session_whose_conversation_was_lost_resumes_with_its_transcript() {
    let mut claude = Claude::start().await;
    let session = claude.session("bypass_permissions").await;
    let client = &mut claude.server.client;
    client.prompt_and_wait(session.id, "the password is pineapple", 1).await;
    client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await;
    client.wait_status(session.id, |status| status == SessionStatus::Stopped).await;
    let transcripts = transcripts_under(&claude.env.root);
    assert!(!transcripts.is_empty(), "Claude Code wrote its transcript");
    for transcript in transcripts {
        std::fs::remove_file(transcript).unwrap();
    }

    client.resume_and_wait(session.id, "what was the password", 2).await;
    let notice = client.events.iter().find_map(|event| match &event.event {
        SessionEvent::Notice { message } if message.contains("no longer has conversation") => Some(message.clone()),
        _ => None,
    });
    assert!(notice.is_some_and(|message| message.contains(&session.id.to_string())), "the user is told");
    assert!(client.reply_text(session.id).ends_with("Echo: what was the password"));
    let last = claude.mock.requests_to("/v1/messages").into_iter().last().expect("a model request");
    let system = last.body["system"].to_string();
    assert!(
        system.contains("the password is pineapple") && system.contains("Echo: the password is pineapple"),
        "the new conversation is given the earlier one: {system}"
    );
    assert_eq!(client.get(session.id).await.status, SessionStatus::Running);
}

/// What every test here starts from: a repository, and `arbor lsp --standalone` whose Claude Code
/// talks to a mock Anthropic API acting out the shared conversation. The fields end in the order
/// they are declared: the server before the mock it calls and the directory it works in.
struct Claude {
    server: Server,
    mock: MockApi,
    repo: PathBuf,
    env: TestEnv,
}

impl Claude {
    async fn start() -> Claude {
        let env = TestEnv::new();
        let repo = env.repo("repo");
        let mock = MockApi::start(conversation(env.data_dir().join("worktrees"), claude_write, claude_bash)).await;
        env.configure_claude(&mock.url, json!({}));
        Claude { server: env.standalone().await, mock, repo, env }
    }

    /// A Claude Code session in `permission_mode`, subscribed from the start and running.
    async fn session(&self, permission_mode: &str) -> Session {
        let config = json!({ "permissionMode": permission_mode });
        self.server.client.agent_session(&self.repo, "claude", None, config).await
    }
}

/// Every Claude Code transcript (`*.jsonl`) under `dir`.
fn transcripts_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "jsonl") {
                found.push(path);
            }
        }
    }
    found
}
