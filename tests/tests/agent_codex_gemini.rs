//! Codex CLI and Gemini CLI, the real CLIs, driven through `arbor` against mocks of the OpenAI
//! Responses API and the Gemini API: edits in the worktree, follow-ups, stop and resume with the
//! history, interrupts, API errors that leave the session usable, and usage; each inside the
//! sandbox `auto` picks, reaching the mock through the model API forwarder; and Gemini CLI's
//! slash commands, usage and estimated cost, and an interrupt that leaves it running.

use arbor_protocol::{SessionEvent, SessionStatus, StopReason, ToolCallStatus, method};
use arbor_tests::TestEnv;
use arbor_tests::agent_turns::{
    ApiShape, answer_to, interrupt_keeps_the_agent, offered_commands, priced, tokens, turn_usage,
};
use arbor_tests::agents::{
    assert_sandboxed_as_auto, codex_shell, codex_write, conversation, gemini_shell, gemini_write,
};
use arbor_tests::mock_api::MockApi;
use serde_json::json;

/// The same journey for each CLI: edit, follow up, fail and recover, interrupt, stop and resume.
async fn journey(agent: &str, model: Option<&str>, env: TestEnv, mock: MockApi, history_marker: &str) {
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = client.agent_session(&repo, agent, model, json!({ "permissionMode": "bypass_permissions" })).await;
    assert_sandboxed_as_auto(client, &session).await;
    let worktree = std::path::PathBuf::from(&session.cwd);

    client.prompt_and_wait(session.id, "write notes.txt written by the agent", 1).await;
    let written = std::fs::read_to_string(worktree.join("notes.txt"));
    assert!(
        written.as_deref().ok() == Some("written by the agent\n"),
        "the agent did not write the file: {written:?}\nevents: {:#?}\nrequests: {:?}",
        client.events.iter().map(|event| &event.event).collect::<Vec<_>>(),
        mock.requests.lock().unwrap().iter().map(arbor_tests::agents::last_user_turn).collect::<Vec<_>>()
    );
    assert!(client.events.iter().any(|event| matches!(&event.event, SessionEvent::ToolCall { locations, .. } if locations.iter().any(|path| path.ends_with("notes.txt")))), "the edit is a tool call naming the file");
    assert!(client.events.iter().any(|event| matches!(
        &event.event,
        SessionEvent::ToolCallUpdate { status: Some(ToolCallStatus::Completed), .. }
    )));
    assert_eq!(client.reply_text(session.id), "All done.");
    let first = client.get(session.id).await;
    assert!(first.agent_session_id.is_some());
    assert!(
        first.usage.input_tokens + first.usage.cache_read_tokens > 0 && first.usage.output_tokens > 0,
        "{:?}",
        first.usage
    );

    client.prompt_and_wait(session.id, "run echo shell > shell.txt", 2).await;
    assert_eq!(std::fs::read_to_string(worktree.join("shell.txt")).unwrap(), "shell\n");

    client.prompt_and_wait(session.id, "fail", 3).await;
    assert_eq!(client.stop_reasons(session.id)[2], StopReason::Error);
    assert!(
        client.events.iter().any(|event| matches!(&event.event, SessionEvent::Error { fatal: false, .. })),
        "the API error is visible"
    );
    client.prompt_and_wait(session.id, "after the failure", 4).await;
    assert!(
        client.reply_text(session.id).ends_with("Echo: after the failure"),
        "still usable: {}",
        client.reply_text(session.id)
    );

    client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "slow" })).await;
    let mut chunks = 0;
    client
        .wait_event(session.id, |event| {
            chunks +=
                usize::from(matches!(event, SessionEvent::AgentMessageChunk { .. } | SessionEvent::UserMessage { .. }));
            chunks >= 6
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    client.call(method::SESSION_CANCEL, json!({ "sessionId": session.id })).await;
    client.wait_turns(session.id, 5).await;
    assert_eq!(client.stop_reasons(session.id)[4], StopReason::Cancelled);

    client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await;
    let reply_before = client.reply_text(session.id);
    client.call(method::SESSION_RESUME, json!({ "sessionId": session.id, "prompt": "remember me" })).await;
    // Gemini CLI cannot resume a session in the minute its file was started; Arbor waits for the
    // next minute, so this step may take up to a minute.
    client.wait_turns_within(session.id, 6, std::time::Duration::from_secs(120)).await;
    assert_eq!(
        client.reply_text(session.id),
        format!("{reply_before}Echo: remember me"),
        "only the new answer, not a replay of the conversation"
    );
    let last = mock.requests.lock().unwrap().last().cloned().unwrap();
    assert!(last.body.to_string().contains(history_marker), "the resumed conversation carries the history");
    assert_eq!(client.get(session.id).await.agent_session_id, first.agent_session_id, "resumed by the agent's own id");
}

#[tokio::test]
async fn codex_edits_follows_up_fails_cleanly_is_interrupted_and_resumes() {
    let env = TestEnv::new();
    let mock = MockApi::start(conversation(env.data_dir().join("worktrees"), codex_write, codex_shell)).await;
    env.configure_codex(&mock.url);
    journey("codex", None, env, mock, "after the failure").await;
}

#[tokio::test]
async fn gemini_edits_follows_up_fails_cleanly_is_interrupted_and_resumes() {
    let (env, mock) = gemini_env().await;
    journey("gemini", Some("gemini-2.5-flash"), env, mock, "after the failure").await;
}

/// A scratch environment configured for Gemini CLI against a mock that plays `conversation`.
async fn gemini_env() -> (TestEnv, MockApi) {
    let env = TestEnv::new();
    let mock = MockApi::start(conversation(env.data_dir().join("worktrees"), gemini_write, gemini_shell)).await;
    env.configure_gemini(&mock.url);
    (env, mock)
}

#[tokio::test]
async fn a_gemini_session_stopped_before_its_first_prompt_resumes() {
    // The mock is kept for the session to reach.
    let (env, _mock) = gemini_env().await;
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = client.agent_session(&repo, "gemini", None, json!({ "permissionMode": "bypass_permissions" })).await;
    client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await;
    let stopped = client.wait_status(session.id, |status| status == SessionStatus::Stopped).await;
    assert_eq!(stopped.agent_session_id, None, "Gemini keeps no session before its first prompt");

    client.resume_and_wait(session.id, "hello", 1).await;
    assert_eq!(client.reply_text(session.id), "Echo: hello");
    assert_eq!(client.stop_reasons(session.id), vec![StopReason::EndTurn]);
    assert!(client.get(session.id).await.agent_session_id.is_some(), "kept once Gemini took the prompt");
}

#[tokio::test]
async fn gemini_offers_and_runs_its_commands_shows_usage_with_an_estimated_cost_and_outlives_an_interrupt() {
    let (env, mock) = gemini_env().await;
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let bypass = json!({ "permissionMode": "bypass_permissions" });
    let session = client.agent_session(&repo, "gemini", Some("gemini-2.5-flash"), bypass).await;
    let commands = offered_commands(client, session.id, "about").await;
    eprintln!("MEASURE commands {:?}", commands.iter().map(|command| &command.name).collect::<Vec<_>>());

    let usage = turn_usage(client, &mock, ApiShape::Gemini, session.id, "count my tokens", 1).await;
    eprintln!("MEASURE usage {usage:?}");
    assert_eq!(tokens(&usage.turn), ApiShape::Gemini.usage_of(usage.requests), "{usage:?}");
    // The shipped price of gemini-2.5-flash (server/src/pricing.rs).
    let estimate = priced(&usage.turn, [0.3, 2.5, 0.075, 0.3]);
    assert!(usage.total.cost_estimated && (usage.turn.cost_usd - estimate).abs() < 1e-12, "{usage:?}");

    let requests = mock.requests.lock().unwrap().len();
    let answer = answer_to(client, session.id, "/about", 2).await;
    eprintln!("MEASURE about {answer:?}");
    assert!(answer.contains("Version: 0.61.0") && answer.contains("gemini-2.5-flash"), "{answer:?}");
    assert_eq!(mock.requests.lock().unwrap().len(), requests, "Gemini CLI answers /about itself");

    interrupt_keeps_the_agent(client, session.id, 3, false).await;
}
