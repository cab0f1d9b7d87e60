//! Agents are untrusted: one that floods its stdout with a line that never ends, one that closes
//! its stdout and keeps running, the server being stopped by a signal while agents and their
//! children run, and the server being killed outright — none of them may cost unbounded memory,
//! show a session working that is not, or leave a process behind.

use std::path::Path;
use std::time::Duration;

use arbor_protocol::{Session, SessionEvent, SessionStatus, StopReason, method};
use arbor_tests::{Client, Server, TestEnv, WAIT, pids_working_in, process_alive, wait_until};
use serde_json::json;

/// A stand-in for `claude` that answers the handshake, then acts on each prompt: "flood" writes
/// a line of 1 GiB with no newline until its end, then a proper reply; "close" closes its stdout
/// and keeps running, with a child.
const HOSTILE_CLAUDE: &str = r#"#!/bin/sh
read -r init
echo '{"type":"control_response","response":{"subtype":"success","request_id":"arbor-init","response":{}}}'
while read -r line; do
  case "$line" in
    *flood*) head -c 1073741824 /dev/zero | tr '\0' x; echo ;;
    *close*) exec >&-; sleep 119 & wait; exit 0 ;;
  esac
  echo '{"type":"stream_event","parent_tool_use_id":null,"event":{"type":"content_block_delta","delta":{"type":"text_delta","text":"survived"}}}'
  echo '{"type":"result","subtype":"success","is_error":false,"total_cost_usd":0,"usage":{"input_tokens":1,"output_tokens":1}}'
done
"#;

/// A stand-in for `codex` whose turn process announces its thread, then closes its stdout and
/// keeps running, with a child.
const HOSTILE_CODEX: &str = r#"#!/bin/sh
case "$1" in --version) echo "codex-cli 0.0.0"; exit 0 ;; esac
echo '{"type":"thread.started","thread_id":"hostile-thread"}'
exec >&-
sleep 118 &
wait
"#;

/// A script whose first turn starts `sleep SECONDS` in the background from a shell command (as
/// a tool call would), says so and then waits.
fn background_sleep_script(seconds: u32) -> String {
    format!("run sleep {seconds} >/dev/null 2>&1 &\nsay the sleeper runs\npause 600000")
}

/// Pids of `sleep SECONDS` processes working inside `dir`.
fn sleepers(dir: &Path, seconds: u32) -> Vec<i32> {
    pids_working_in(dir)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| cmdline == format!("sleep\0{seconds}\0").as_bytes())
        })
        .collect()
}

/// The peak resident memory of a process, in bytes (`VmHWM` in `/proc/<pid>/status`).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// A standalone server with a session of `agent` played by the hostile `script`, which has been
/// sent `prompt`.
async fn hostile_session(env: &TestEnv, agent: &str, script: &str, prompt: &str) -> (Server, Session) {
    let repo = env.repo("repo");
    let fake = env.root.join(format!("hostile-{agent}"));
    std::fs::write(&fake, script).unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    env.write_config(json!({ "agents": { agent: { "command": fake } } }));
    let server = env.standalone().await;
    let session = server.client.agent_session(&repo, agent, None, json!({})).await;
    server.client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": prompt })).await;
    (server, session)
}

fn send_signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) on a process this test started.
    unsafe {
        libc::kill(pid as i32, signal);
    }
}

#[tokio::test]
async fn a_line_that_never_ends_costs_the_server_no_more_than_the_line_limit() {
    // The line limit (16 MiB) above a baseline of about 25 MiB, with room to spare.
    const BOUND: u64 = 96 * 1024 * 1024;
    let env = TestEnv::new();
    let (mut server, session) = hostile_session(&env, "claude", HOSTILE_CLAUDE, "flood").await;
    let client = &mut server.client;
    client.wait_turns_within(session.id, 1, Duration::from_secs(120)).await;

    let too_long = client.events.iter().any(|event| {
        matches!(&event.event, SessionEvent::Error { message, fatal: false } if message.contains("a line longer than"))
    });
    assert!(too_long, "an error event says a line was too long");
    assert_eq!(client.reply_text(session.id), "survived", "the session carries on after the long line");
    let peak = peak_rss(server.child.id().unwrap());
    assert!(peak < BOUND, "the server peaked at {} MiB reading a 1 GiB line", peak / (1024 * 1024));

    client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "again" })).await;
    client.wait_turns(session.id, 2).await;
    assert_eq!(client.reply_text(session.id), "survivedsurvived");
}

#[tokio::test]
async fn an_agent_that_closes_its_stdout_is_ended_not_shown_working() {
    let env = TestEnv::new();
    let (mut server, session) = hostile_session(&env, "claude", HOSTILE_CLAUDE, "close").await;
    let client = &mut server.client;

    let dead = tokio::time::timeout(WAIT, client.wait_status(session.id, |status| status == SessionStatus::Dead))
        .await
        .expect("the session ends well before the turn's time limit");
    let reason = dead.status_reason.unwrap_or_default();
    assert!(reason.contains("closed its stdout"), "{reason}");
    wait_until("the agent and its child are ended", || pids_working_in(Path::new(&session.cwd)).is_empty()).await;
}

#[tokio::test]
async fn a_codex_turn_whose_process_closes_its_stdout_ends_with_an_error() {
    let env = TestEnv::new();
    let (mut server, session) = hostile_session(&env, "codex", HOSTILE_CODEX, "close").await;
    let client = &mut server.client;
    client.wait_turns(session.id, 1).await;
    assert_eq!(client.stop_reasons(session.id), vec![StopReason::Error]);
    let said = client.events.iter().any(|event| {
        matches!(&event.event, SessionEvent::Error { message, fatal: false } if message.contains("closed its stdout"))
    });
    assert!(said, "an error event says the turn's process closed its stdout");
    wait_until("the turn's process and its child are ended", || pids_working_in(Path::new(&session.cwd)).is_empty())
        .await;
    assert_eq!(client.get(session.id).await.status, SessionStatus::Running, "the session takes the next prompt");
}

/// Starts a scripted session whose agent has a `sleep` child, and waits until it runs.
async fn session_with_a_sleeping_child(client: &mut Client, repo: &Path, seconds: u32) -> Session {
    let session = client.scripted_session(repo, &background_sleep_script(seconds), Some("go")).await;
    client.subscribe(session.id, 0).await;
    client.wait_event(session.id, |event| matches!(event, SessionEvent::AgentMessageChunk { .. })).await;
    assert_eq!(sleepers(Path::new(&session.cwd), seconds).len(), 1, "the agent's child runs");
    session
}

#[tokio::test]
async fn sigint_or_sigterm_to_a_standalone_server_stops_its_sessions_and_their_children() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let env = TestEnv::new();
        let repo = env.repo("repo");
        let mut server = env.standalone().await;
        let session = session_with_a_sleeping_child(&mut server.client, &repo, 113).await;
        send_signal(server.child.id().unwrap(), signal);
        let status = tokio::time::timeout(WAIT, server.child.wait()).await.expect("the server exits").unwrap();
        assert!(status.success(), "signal {signal}: {status}");
        assert!(pids_working_in(Path::new(&session.cwd)).is_empty(), "signal {signal}: an agent process is left");
        assert!(sleepers(&env.root, 113).is_empty(), "signal {signal}: the agent's child is left");
    }
}

#[tokio::test]
async fn sigint_to_the_daemon_stops_its_sessions_and_their_children() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut daemon = env.daemon().await;
    let mut client = env.socket_client().await;
    let session = session_with_a_sleeping_child(&mut client, &repo, 114).await;
    send_signal(daemon.id().unwrap(), libc::SIGINT);
    let status = tokio::time::timeout(WAIT, daemon.wait()).await.expect("the daemon exits").unwrap();
    assert!(status.success(), "{status}");
    assert!(pids_working_in(Path::new(&session.cwd)).is_empty(), "an agent process is left");

    let _daemon = env.daemon().await;
    let stopped = env.socket_client().await.get(session.id).await;
    assert_eq!(stopped.status, SessionStatus::Stopped, "stopped as by a shutdown, so resumable");
}

#[tokio::test]
async fn the_next_daemon_ends_what_a_killed_one_left_running() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut daemon = env.daemon().await;
    let mut client = env.socket_client().await;
    let session = session_with_a_sleeping_child(&mut client, &repo, 117).await;
    let cwd = Path::new(&session.cwd).to_path_buf();
    let daemon_pid = daemon.id().unwrap();

    daemon.start_kill().unwrap();
    daemon.wait().await.unwrap();
    assert!(!process_alive(daemon_pid as i32));
    let left = sleepers(&cwd, 117);
    assert_eq!(left.len(), 1, "the dead daemon left the agent's child running");

    let _daemon = env.daemon().await;
    wait_until("the next daemon ended the child", || !process_alive(left[0])).await;
    assert!(pids_working_in(&cwd).is_empty(), "nothing of the session's agent is left");
    let dead = env.socket_client().await.get(session.id).await;
    assert_eq!(dead.status, SessionStatus::Dead);
}
