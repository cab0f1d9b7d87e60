//! The Claude and Codex ACP adapters from npm (`@agentclientprotocol/claude-agent-acp`,
//! `@agentclientprotocol/codex-acp`), configured as `acpAgents` and driven through Arbor offline
//! against the mock model API: the session's permission mode and model reach them, and what
//! `agents/list` says of them comes from their own `initialize` answer.

use std::path::Path;

use arbor_protocol::{SessionEvent, method};
use arbor_tests::agents::{claude_bash, claude_write, codex_shell, codex_write, conversation, last_user_turn};
use arbor_tests::mock_api::MockApi;
use arbor_tests::{Client, TestEnv};
use serde_json::{Value, json};

/// Waits until `agents/list` reports `id` with the version its `initialize` answer gives.
async fn listed(client: &Client, id: &str) -> Value {
    let mut found = Value::Null;
    for _ in 0..200 {
        let agents = client.call(method::AGENTS_LIST, Value::Null).await;
        found = agents["agents"].as_array().unwrap().iter().find(|agent| agent["id"] == id).cloned().unwrap();
        if found["version"].is_string() {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("agents/list never reported {id}'s version: {found}");
}

/// Asks for a write in `ask` mode: the agent asks, nothing is written before the answer, and
/// the file is written once allowed.
async fn write_asks_and_waits(client: &mut Client, session_id: uuid::Uuid, worktree: &Path) {
    client.call(method::SESSION_PROMPT, json!({ "sessionId": session_id, "text": "write asked.txt yes" })).await;
    let asked = client.wait_event(session_id, |event| matches!(event, SessionEvent::PermissionRequest { .. })).await;
    let SessionEvent::PermissionRequest { request_id, options, .. } = asked.event else { unreachable!() };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!worktree.join("asked.txt").exists(), "nothing is written before the answer");
    let allow = options.iter().find(|option| option.option_id.contains("allow") || option.name.contains("Allow"));
    let allow = allow.or(options.first()).expect("an option").option_id.clone();
    client
        .call(method::SESSION_RESPOND, json!({ "sessionId": session_id, "requestId": request_id, "optionId": allow }))
        .await;
    client.wait_turns(session_id, 1).await;
    assert_eq!(std::fs::read_to_string(worktree.join("asked.txt")).unwrap(), "yes\n");
}

#[tokio::test]
async fn the_claude_adapter_asks_in_ask_mode_runs_the_chosen_model_and_reports_itself() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mock = MockApi::start(conversation(env.data_dir().join("worktrees"), claude_write, claude_bash)).await;
    env.configure_acp_adapters(&mock.url);
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let agent = listed(client, "claude-acp").await;
    assert_eq!(agent["version"], "@agentclientprotocol/claude-agent-acp 0.101.0", "{agent}");
    assert_eq!(agent["capabilities"]["resume"], true, "it offers loadSession");
    assert!(agent["installHint"].is_null(), "{agent}");

    let session = client.agent_session(&repo, "claude-acp", Some("haiku"), json!({ "permissionMode": "ask" })).await;
    write_asks_and_waits(client, session.id, Path::new(&session.cwd)).await;
    let models: Vec<String> = mock
        .requests_to("/v1/messages")
        .iter()
        .filter_map(|request| request.body["model"].as_str().map(str::to_string))
        .collect();
    assert!(!models.is_empty() && models.iter().all(|model| model.contains("haiku")), "{models:?}");
    let shown = client.get(session.id).await;
    assert_eq!(shown.agent_mode.as_deref(), Some("default"), "the adapter's asking mode, not its own auto");
    assert_eq!(shown.agent_model.as_deref(), Some("haiku"));
}

#[tokio::test]
async fn the_claude_adapter_does_not_ask_in_bypass_mode_and_changes_mode_mid_session() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mock = MockApi::start(conversation(env.data_dir().join("worktrees"), claude_write, claude_bash)).await;
    env.configure_acp_adapters(&mock.url);
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session =
        client.agent_session(&repo, "claude-acp", None, json!({ "permissionMode": "bypass_permissions" })).await;
    client.prompt_and_wait(session.id, "write free.txt no questions", 1).await;
    let worktree = Path::new(&session.cwd);
    assert_eq!(std::fs::read_to_string(worktree.join("free.txt")).unwrap(), "no questions\n");
    assert!(!client.events.iter().any(|event| matches!(event.event, SessionEvent::PermissionRequest { .. })));
    assert_eq!(client.get(session.id).await.agent_mode.as_deref(), Some("bypassPermissions"));

    // session/configure carries a new mode to the running agent, which then asks.
    client.call(method::SESSION_CONFIGURE, json!({ "sessionId": session.id, "permissionMode": "ask" })).await;
    let mut mode = None;
    for _ in 0..100 {
        mode = client.get(session.id).await.agent_mode;
        if mode.as_deref() == Some("default") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(mode.as_deref(), Some("default"), "the agent reports its new mode");
    client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "write later.txt asked" })).await;
    client.wait_event(session.id, |event| matches!(event, SessionEvent::PermissionRequest { .. })).await;
}

#[tokio::test]
async fn the_codex_adapter_asks_in_ask_mode_and_streams_its_messages() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mock = MockApi::start(conversation(env.data_dir().join("worktrees"), codex_write, codex_shell)).await;
    env.configure_acp_adapters(&mock.url);
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let agent = listed(client, "codex-acp").await;
    assert_eq!(agent["version"], "@agentclientprotocol/codex-acp 2.6.0", "{agent}");

    let session = client.agent_session(&repo, "codex-acp", Some("gpt-5.5"), json!({ "permissionMode": "ask" })).await;
    assert_eq!(client.get(session.id).await.agent_mode.as_deref(), Some("read-only"));
    write_asks_and_waits(client, session.id, Path::new(&session.cwd)).await;
    client.prompt_and_wait(session.id, "hello there", 2).await;
    let chunks = client
        .events
        .iter()
        .filter(|event| matches!(&event.event, SessionEvent::AgentMessageChunk { text } if !text.is_empty()))
        .count();
    assert!(chunks > 2, "messages stream in chunks ({chunks})");
    assert!(client.reply_text(session.id).ends_with("Echo: hello there"), "{}", client.reply_text(session.id));
    // Codex also asks a small model for side jobs (such as a title): the turns' requests count.
    let models: Vec<Value> = mock
        .requests_to("/v1/responses")
        .iter()
        .filter(|request| last_user_turn(request).0.contains("hello there"))
        .map(|request| request.body["model"].clone())
        .collect();
    assert!(!models.is_empty() && models.iter().all(|model| model == "gpt-5.5"), "{models:?}");
}
