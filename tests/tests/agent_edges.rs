//! What happens around the agents: a CLI that is not installed, one that prints garbage or dies
//! with a message on stderr, Arbor's own secrets kept from agents, any ACP agent added by
//! command line in the config file, and real agents ending with a killed daemon.

use arbor_protocol::{SessionEvent, SessionStatus, StopReason, error_code, method};
use arbor_tests::agents::{claude_bash, claude_write, conversation, gemini_shell, gemini_write};
use arbor_tests::mock_api::MockApi;
use arbor_tests::{TestEnv, arbor_bin, pids_working_in, wait_until};
use serde_json::json;

/// A stand-in for `claude` that answers the handshake, then for each prompt prints a line that is
/// not JSON, a truncated line and an unknown message before a proper result; it records its
/// environment, and on the prompt "die" writes to stderr and exits 3.
const FAKE_CLAUDE: &str = r#"#!/bin/sh
env > "$PWD/agent-env.txt"
read -r init
echo '{"type":"control_response","response":{"subtype":"success","request_id":"arbor-init","response":{}}}'
while read -r line; do
  case "$line" in
    *die*) echo "fatal: the fake agent gave up" >&2; exit 3 ;;
  esac
  echo 'this is not json'
  echo '{"type":"assistant","message":{"content":[{"type":"te'
  echo '{"type":"something_new","detail":1}'
  echo '{"type":"stream_event","parent_tool_use_id":null,"event":{"type":"content_block_delta","delta":{"type":"text_delta","text":"survived"}}}'
  echo '{"type":"result","subtype":"success","is_error":false,"total_cost_usd":0.5,"usage":{"input_tokens":3,"output_tokens":4}}'
done
"#;

#[tokio::test]
async fn an_agent_that_is_not_installed_says_how_to_install_it() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    env.write_config(json!({ "agents": { "claude": { "command": env.root.join("nowhere/claude") }, "codex": { "command": env.root.join("nowhere/codex") } } }));
    let server = env.standalone().await;
    let agents = server.client.call(method::AGENTS_LIST, serde_json::Value::Null).await;
    let claude = agents["agents"].as_array().unwrap().iter().find(|agent| agent["id"] == "claude").unwrap();
    assert_eq!(claude["available"], false);
    let refused =
        server.client.try_call(method::SESSION_NEW, json!({ "cwd": repo, "agent": "codex" })).await.unwrap_err();
    assert_eq!(refused.code, error_code::AGENT_UNAVAILABLE);
    assert!(refused.message.contains("npm install -g @openai/codex"), "{}", refused.message);
}

#[tokio::test]
async fn garbage_from_a_real_driver_is_reported_and_a_dying_agent_shows_its_stderr() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let fake = env.root.join("fake-claude");
    std::fs::write(&fake, FAKE_CLAUDE).unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    env.write_config(json!({ "agents": { "claude": { "command": fake } } }));
    let mut child = env
        .command()
        .args(["lsp", "--standalone"])
        .env("ARBOR_SECRET_TOKEN", "do-not-leak")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut client = arbor_tests::Client::new(child.stdout.take().unwrap(), child.stdin.take().unwrap());
    client.initialize().await;
    let session: arbor_protocol::Session = serde_json::from_value(
        client.call(method::SESSION_NEW, json!({ "cwd": repo, "agent": "claude", "prompt": "hello" })).await,
    )
    .unwrap();
    client.subscribe(session.id, 0).await;
    client.wait_turns(session.id, 1).await;
    let errors: Vec<String> = client
        .events
        .iter()
        .filter_map(|event| match &event.event {
            SessionEvent::Error { message, fatal: false } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("this is not json") && errors[1].contains(r#"{"type":"assistant""#));
    assert_eq!(client.reply_text(session.id), "survived");
    assert!((client.get(session.id).await.usage.cost_usd - 0.5).abs() < 1e-9);

    let agent_env = std::fs::read_to_string(std::path::Path::new(&session.cwd).join("agent-env.txt")).unwrap();
    assert!(!agent_env.contains("do-not-leak"), "Arbor's secrets are not passed to agents");
    assert!(agent_env.contains("DISABLE_AUTOUPDATER=1"));
    // The `--version` probe runs in the server's directory (the test root) on a background thread.
    let probe_env = env.root.join("agent-env.txt");
    wait_until("the version probe ran the fake claude", || probe_env.exists()).await;
    let probe_env = std::fs::read_to_string(probe_env).expect("the version probe ran the fake claude");
    assert!(!probe_env.contains("do-not-leak"), "nor to their version probe");

    client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "die" })).await;
    let dead = client.wait_status(session.id, |status| status == SessionStatus::Dead).await;
    assert!(dead.status_reason.unwrap().contains("the fake agent gave up"), "stderr is in the reason");
    client.wait_turns(session.id, 2).await;
    let log = std::fs::read_to_string(env.data_dir().join("logs").join(format!("{}.log", session.id))).unwrap();
    assert!(log.contains("fatal: the fake agent gave up"), "stderr goes to the session's log");
    assert_eq!(client.stop_reasons(session.id), vec![StopReason::EndTurn, StopReason::Error]);
}

#[tokio::test]
async fn any_acp_agent_can_be_added_by_command_line() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let script = env.root.join("configured.script");
    std::fs::write(&script, "say configured agent here\nwrite out.txt <<END\nvia fs/write_text_file\nEND\nwrite ../escape.txt <<END\nno\nEND").unwrap();
    env.write_config(json!({ "acpAgents": { "my-acp": {
        "name": "My ACP agent",
        "command": [arbor_bin(), "scripted-agent", "--state-dir", env.root.join("acp-state"), "--script", script],
    } } }));
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let agents = client.call(method::AGENTS_LIST, serde_json::Value::Null).await;
    let mine = agents["agents"].as_array().unwrap().iter().find(|agent| agent["id"] == "my-acp").unwrap().clone();
    assert_eq!((mine["available"].as_bool(), mine["name"].as_str()), (Some(true), Some("My ACP agent")));
    let session: arbor_protocol::Session = serde_json::from_value(
        client.call(method::SESSION_NEW, json!({ "cwd": repo, "agent": "my-acp", "prompt": "go" })).await,
    )
    .unwrap();
    client.subscribe(session.id, 0).await;
    client.wait_turns(session.id, 1).await;
    assert_eq!(client.reply_text(session.id), "configured agent here");
    assert_eq!(
        std::fs::read_to_string(std::path::Path::new(&session.cwd).join("out.txt")).unwrap(),
        "via fs/write_text_file\n"
    );
    assert!(
        !repo.parent().unwrap().join("escape.txt").exists()
            && !std::path::Path::new(&session.cwd).parent().unwrap().join("escape.txt").exists()
    );
    let refused = client.events.iter().any(|event| {
        matches!(&event.event, SessionEvent::ToolCallUpdate { content: Some(content), .. }
        if format!("{content:?}").contains("outside the session's directory"))
    });
    assert!(refused, "writes outside the worktree are refused");
}

/// Runs a turn of `agent` under a daemon, SIGKILLs the daemon and waits for the agent's processes
/// to end on their own (their stdin closes with the daemon); a new daemon then shows the session
/// dead, and it resumes with its history.
async fn agents_end_with_a_killed_daemon_and_resume(env: &TestEnv, agent: &str) {
    let repo = env.repo("repo");
    let mut daemon = env.daemon().await;
    let mut client = env.socket_client().await;
    let session = client.agent_session(&repo, agent, None, json!({ "permissionMode": "bypass_permissions" })).await;
    client.prompt_and_wait(session.id, "hello", 1).await;
    let worktrees = env.data_dir().join("worktrees");
    let agent_pids = pids_working_in(&worktrees);
    assert!(!agent_pids.is_empty(), "{agent} runs in the session's worktree");

    daemon.start_kill().unwrap();
    daemon.wait().await.unwrap();
    let ended = format!("{agent} (pids {agent_pids:?}) ends with the daemon");
    wait_until(&ended, || pids_working_in(&worktrees).is_empty()).await;

    let _daemon = env.daemon().await;
    let mut client = env.socket_client().await;
    let dead = client.get(session.id).await;
    assert_eq!(dead.status, SessionStatus::Dead);
    client.call(method::SESSION_RESUME, json!({ "sessionId": session.id, "prompt": "again" })).await;
    client.subscribe(session.id, dead.last_seq).await;
    client.wait_turns_within(session.id, 1, std::time::Duration::from_secs(120)).await;
    assert_eq!(client.reply_text(session.id), "Echo: again");
    assert_eq!(client.get(session.id).await.agent_session_id, dead.agent_session_id, "the same conversation");
}

#[tokio::test]
async fn claude_ends_with_a_killed_daemon_and_the_session_resumes() {
    let env = TestEnv::new();
    let mock = MockApi::start(conversation(env.data_dir().join("worktrees"), claude_write, claude_bash)).await;
    env.configure_claude(&mock.url, json!({}));
    agents_end_with_a_killed_daemon_and_resume(&env, "claude").await;
}

#[tokio::test]
async fn gemini_ends_with_a_killed_daemon_and_the_session_resumes() {
    let env = TestEnv::new();
    let mock = MockApi::start(conversation(env.data_dir().join("worktrees"), gemini_write, gemini_shell)).await;
    env.configure_gemini(&mock.url);
    agents_end_with_a_killed_daemon_and_resume(&env, "gemini").await;
}
