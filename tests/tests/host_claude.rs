//! The real Claude Code on a test host: the host's own Arbor runs the CLI against a mock of the
//! Anthropic API served where the host reaches this machine, and the session streams, is
//! reviewed, committed and merged from this machine's daemon.

use std::path::Path;

use arbor_protocol::{MergeResult, ReviewDiff, SessionEvent, ToolCallStatus, method};
use arbor_tests::TestEnv;
use arbor_tests::agents::{claude_bash, claude_write, cli, conversation};
use arbor_tests::mock_api::MockApi;
use arbor_tests::ssh_hosts::{TestHosts, unavailable};
use serde_json::json;

#[tokio::test]
async fn claude_code_on_a_host_streams_and_its_work_is_reviewed_and_merged_here() {
    if let Some(reason) = unavailable() {
        eprintln!("skipped: {reason}");
        return;
    }
    if !cli("claude").exists() {
        panic!("Claude Code is not installed: run ./scripts/install-agents");
    }
    let env = TestEnv::new();
    let hosts = TestHosts::started(&env.root.join("hosts"), &["far"]);
    let far = hosts.host("far");
    // Claude Code is a Node program; the host's PATH holds only its own bin directory and
    // /usr/bin, where Debian's node is.
    let mock =
        MockApi::start_on(&far.gateway(), conversation(far.data_dir().join("worktrees"), claude_write, claude_bash))
            .await;
    far.write_config(json!({
        "agents": { "claude": { "command": cli("claude"), "env": env.claude_env(&mock.url) } },
    }));
    // This machine knows the agent too (its description places the session), but never runs it.
    env.configure_claude(
        "http://127.0.0.1:9",
        json!({
            "sshCommand": hosts.ssh_command(),
            "hosts": [{ "name": "far", "ssh": "far", "maxRunning": 2, "agents": ["claude"] }],
        }),
    );
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;

    let config = json!({ "permissionMode": "bypass_permissions", "host": "far" });
    let session = client.agent_session(&repo, "claude", None, config).await;
    client.prompt_and_wait(session.id, "write hello.txt hi from the host", 1).await;
    let placed = client.get(session.id).await;
    assert_eq!(placed.host.as_deref(), Some("far"));

    // The CLI ran on the host: the mock was asked from there, about the host's worktree.
    let asked = mock.requests_to("/v1/messages");
    assert!(!asked.is_empty(), "the mock model was asked");
    assert!(
        asked
            .iter()
            .any(|request| request.body.to_string().contains(&far.data_dir().join("worktrees").display().to_string())),
        "Claude Code worked in the host's worktree"
    );
    let write = client.events.iter().find_map(|event| match &event.event {
        SessionEvent::ToolCall { title, .. } if title.starts_with("Write") => Some(title.clone()),
        _ => None,
    });
    assert_eq!(write.as_deref(), Some("Write hello.txt"), "the tool call streamed here");
    assert!(client.events.iter().any(|event| matches!(
        &event.event,
        SessionEvent::ToolCallUpdate { status: Some(ToolCallStatus::Completed), .. }
    )));
    assert_eq!(client.reply_text(session.id), "All done.");
    assert!(placed.usage.input_tokens > 0 && placed.usage.cost_usd > 0.0, "usage came home: {:?}", placed.usage);

    // The turn's work came home: reviewed, committed and merged on this machine.
    let worktree = Path::new(&placed.cwd);
    assert_eq!(std::fs::read_to_string(worktree.join("hello.txt")).unwrap(), "hi from the host\n");
    let diff: ReviewDiff =
        serde_json::from_value(client.call(method::REVIEW_DIFF, json!({ "sessionId": session.id })).await).unwrap();
    assert_eq!(diff.files.iter().map(|file| file.path.as_str()).collect::<Vec<_>>(), ["hello.txt"]);
    client.call(method::REVIEW_COMMIT, json!({ "sessionId": session.id })).await;
    let merged: MergeResult =
        serde_json::from_value(client.call(method::SESSION_MERGE, json!({ "sessionId": session.id })).await).unwrap();
    assert!(merged.merged, "{merged:?}");
    assert_eq!(std::fs::read_to_string(repo.join("hello.txt")).unwrap(), "hi from the host\n");
}
