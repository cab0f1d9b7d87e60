//! Sessions placed on other machines: test hosts made on this machine (network namespaces running
//! Debian's OpenSSH server; see `arbor_tests::ssh_hosts`), each running its own Arbor daemon that
//! the local daemon reaches with `ssh HOST arbor lsp`.

use std::path::Path;
use std::time::Duration;

use arbor_protocol::{MergeResult, ReviewDiff, Session, SessionEvent, SessionStatus, StopReason, method};
use arbor_tests::ssh_hosts::{TestHosts, unavailable};
use arbor_tests::{TestEnv, files_holding, git};
use serde_json::{Value, json};

/// Skips the test (with the reason) where test hosts cannot be made.
macro_rules! require_test_hosts {
    () => {
        if let Some(reason) = unavailable() {
            eprintln!("skipped: {reason}");
            return;
        }
    };
}

const WRITE_NOTE: &str = "say Working on {prompt}.\nwrite NOTE.md <<EOF\nwritten where the agent ran\nEOF\nsay Done.\n";

fn host_entry(name: &str, max_running: usize) -> Value {
    json!({ "name": name, "ssh": name, "maxRunning": max_running, "agents": ["scripted"] })
}

async fn new_session(client: &arbor_tests::Client, repo: &Path, prompt: &str, config: Value) -> Session {
    let session = client
        .call(method::SESSION_NEW, json!({ "cwd": repo, "agent": "scripted", "prompt": prompt, "config": config }))
        .await;
    serde_json::from_value(session).unwrap()
}

/// The session once the scheduler has said why it waits.
async fn waiting_reason(client: &arbor_tests::Client, id: uuid::Uuid) -> Session {
    let deadline = tokio::time::Instant::now() + arbor_tests::WAIT;
    loop {
        let session = client.get(id).await;
        assert_eq!(session.status, SessionStatus::Pending, "{session:?}");
        if session.status_reason.is_some() || tokio::time::Instant::now() > deadline {
            return session;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn sessions_spread_over_the_hosts_least_loaded_and_each_hosts_limit_holds() {
    require_test_hosts!();
    let env = TestEnv::new();
    let hosts = TestHosts::started(&env.root.join("hosts"), &["h1", "h2"]);
    env.write_config(json!({
        "limits": { "maxRunning": 1 },
        "sshCommand": hosts.ssh_command(),
        "hosts": [host_entry("h1", 2), host_entry("h2", 2)],
    }));
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;

    let mut sessions = Vec::new();
    for index in 1..=6 {
        let session = new_session(client, &repo, &format!("task {index}"), json!({ "script": WRITE_NOTE })).await;
        client.subscribe(session.id, 0).await;
        // One at a time, so each placement sees the one before it running.
        if index < 6 {
            client.wait_turns(session.id, 1).await;
        }
        sessions.push(session.id);
    }
    let mut placed = Vec::new();
    for id in &sessions[..5] {
        let session = client.get(*id).await;
        assert_eq!(session.status, SessionStatus::Running, "{session:?}");
        placed.push(session.host.clone().unwrap_or_else(|| "local".into()));
    }
    // This machine first (a tie goes to it), then whichever host has the smaller share in use.
    assert_eq!(placed, ["local", "h1", "h2", "h1", "h2"]);
    let waiting = waiting_reason(client, sessions[5]).await;
    assert_eq!(
        waiting.status_reason.as_deref(),
        Some("waiting for a free slot (local 1/1, h1 2/2, h2 2/2 running)"),
        "every place is full"
    );

    // The host's agent worked on the host, and its work is in the local worktree and review.
    let on_h1 = client.get(sessions[1]).await;
    assert_eq!(client.reply_text(on_h1.id), "Working on task 2.Done.");
    let note = Path::new(&on_h1.cwd).join("NOTE.md");
    assert_eq!(std::fs::read_to_string(&note).unwrap(), "written where the agent ran\n");
    assert!(
        !files_holding(&hosts.host("h1").dir.join("home"), "written where the agent ran").is_empty(),
        "the file was written on the host"
    );
    assert!(files_holding(&hosts.host("h2").dir.join("home"), "task 2").is_empty(), "and not on the other host");
    let diff: ReviewDiff =
        serde_json::from_value(client.call(method::REVIEW_DIFF, json!({ "sessionId": on_h1.id })).await).unwrap();
    assert_eq!(diff.files.iter().map(|file| file.path.as_str()).collect::<Vec<_>>(), ["NOTE.md"]);

    // A slot freed on h1 goes to the waiting session.
    client.call(method::SESSION_STOP, json!({ "sessionId": on_h1.id })).await;
    client.wait_turns(sessions[5], 1).await;
    assert_eq!(client.get(sessions[5]).await.host.as_deref(), Some("h1"));

    // Commit and merge happen on this machine, into the user's repository.
    client.call(method::REVIEW_COMMIT, json!({ "sessionId": on_h1.id })).await;
    let merged: MergeResult =
        serde_json::from_value(client.call(method::SESSION_MERGE, json!({ "sessionId": on_h1.id })).await).unwrap();
    assert!(merged.merged, "{merged:?}");
    assert_eq!(std::fs::read_to_string(repo.join("NOTE.md")).unwrap(), "written where the agent ran\n");
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
}

#[tokio::test]
async fn a_pin_or_labels_nobody_has_are_refused_and_a_pinned_session_waits_for_its_host() {
    require_test_hosts!();
    let env = TestEnv::new();
    let hosts = TestHosts::started(&env.root.join("hosts"), &["solo"]);
    let mut solo = host_entry("solo", 1);
    solo["labels"] = json!(["big"]);
    env.write_config(json!({ "sshCommand": hosts.ssh_command(), "hosts": [solo] }));
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;

    let refused = |config: Value| json!({ "cwd": &repo, "agent": "scripted", "prompt": "hello", "config": config });
    let error = client.try_call(method::SESSION_NEW, refused(json!({ "host": "nowhere" }))).await.unwrap_err();
    assert!(error.message.contains("no host named 'nowhere' in the config file; the hosts are: solo"), "{error:?}");
    let error = client.try_call(method::SESSION_NEW, refused(json!({ "hostLabels": ["gpu"] }))).await.unwrap_err();
    assert!(error.message.contains("no host with the labels gpu runs the agent scripted"), "{error:?}");
    let error = client.try_call(method::SESSION_NEW, refused(json!({ "host": "solo", "hostLabels": ["gpu"] }))).await;
    assert!(error.unwrap_err().message.contains("host solo with the labels gpu does not run the agent scripted"));

    let script = json!({ "script": WRITE_NOTE, "hostLabels": ["big"] });
    let first = new_session(client, &repo, "first", script.clone()).await;
    client.subscribe(first.id, 0).await;
    client.wait_turns(first.id, 1).await;
    assert_eq!(client.get(first.id).await.host.as_deref(), Some("solo"), "the only host with the label");
    // This machine has room, but the label keeps the second session waiting for the host.
    let second = new_session(client, &repo, "second", script).await;
    client.subscribe(second.id, 0).await;
    let waiting = waiting_reason(client, second.id).await;
    assert!(waiting.status_reason.unwrap_or_default().contains("solo 1/1"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(client.get(second.id).await.status, SessionStatus::Pending);
    client.call(method::SESSION_STOP, json!({ "sessionId": first.id })).await;
    client.wait_turns(second.id, 1).await;
    assert_eq!(client.get(second.id).await.host.as_deref(), Some("solo"));
}

#[tokio::test]
async fn a_cut_link_makes_the_session_dead_and_a_resume_after_it_loses_no_event() {
    require_test_hosts!();
    let env = TestEnv::new();
    let hosts = TestHosts::started(&env.root.join("hosts"), &["far"]);
    env.write_config(json!({ "sshCommand": hosts.ssh_command(), "hosts": [host_entry("far", 2)] }));
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;

    let words: Vec<String> = (1..=60).map(|n| format!("w{n}")).collect();
    let script = format!(
        "chunk-delay 150\nsay {}\nwrite AFTER_CUT.md <<EOF\nthe turn went on\nEOF\nsay The end.\n",
        words.join(" ")
    );
    let session = new_session(client, &repo, "stream", json!({ "script": script, "host": "far" })).await;
    client.subscribe(session.id, 0).await;
    client.wait_event(session.id, |event| matches!(event, SessionEvent::AgentMessageChunk { .. })).await;

    hosts.host("far").set_link(false);
    let dead = client.wait_status(session.id, |status| status == SessionStatus::Dead).await;
    let reason = dead.status_reason.unwrap_or_default();
    assert!(reason.starts_with("lost the connection to host far"), "{reason}");
    client.wait_turns(session.id, 1).await;
    let before = client.reply_text(session.id);
    assert!(!before.contains("The end."), "the cut came mid-stream: {before}");
    assert_eq!(client.stop_reasons(session.id), [StopReason::Error], "the turn broken off by the cut");

    // The host went on while the link was down; after it returns, the rest comes, once each.
    hosts.host("far").set_link(true);
    client.call(method::SESSION_RESUME, json!({ "sessionId": session.id })).await;
    client.wait_turns(session.id, 2).await;
    let reply = client.reply_text(session.id);
    assert_eq!(reply, format!("{}The end.", words.join(" ")), "every chunk exactly once");
    let seqs = client.seqs(session.id);
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "the local log has no gap");
    assert_eq!(std::fs::read_to_string(Path::new(&dead.cwd).join("AFTER_CUT.md")).unwrap(), "the turn went on\n");
    let stored =
        client.call(method::SESSION_EVENTS, json!({ "sessionId": session.id, "afterSeq": 0, "limit": 5000 })).await;
    assert_eq!(stored["events"].as_array().unwrap().len(), seqs.len(), "what clients saw is what is stored");
}

#[tokio::test]
async fn a_session_moves_to_another_host_and_goes_on_from_its_last_checkpoint() {
    require_test_hosts!();
    let env = TestEnv::new();
    let hosts = TestHosts::started(&env.root.join("hosts"), &["h1", "h2"]);
    env.write_config(json!({
        "sshCommand": hosts.ssh_command(),
        "hosts": [host_entry("h1", 2), host_entry("h2", 2)],
    }));
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;

    // Each new conversation runs the script from its first turn: the `cat` shows what the
    // worktree it runs in holds before the turn writes.
    let script = "run cat NOTE.md\nwrite NOTE.md <<EOF\nwritten by the first turn\nEOF\nsay Done with {prompt}.\n";
    let session = new_session(client, &repo, "first", json!({ "script": script, "host": "h1" })).await;
    client.subscribe(session.id, 0).await;
    client.wait_turns(session.id, 1).await;
    assert_eq!(client.get(session.id).await.host.as_deref(), Some("h1"));
    client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await;
    client.wait_status(session.id, |status| status == SessionStatus::Stopped).await;

    let refused = client.try_call(method::SESSION_RESUME, json!({ "sessionId": session.id, "host": "h9" })).await;
    assert!(refused.unwrap_err().message.contains("no host named 'h9'"), "an unknown host is refused");
    let moved: Session = serde_json::from_value(
        client.call(method::SESSION_RESUME, json!({ "sessionId": session.id, "host": "h2", "prompt": "second" })).await,
    )
    .unwrap();
    assert_eq!(moved.config.host.as_deref(), Some("h2"), "the move pins the session to its new host");
    client.wait_turns(session.id, 2).await;
    let session_now = client.get(session.id).await;
    assert_eq!(session_now.host.as_deref(), Some("h2"));

    let moved_notice = client.events.iter().any(|event| {
        event.session_id == session.id
            && matches!(&event.event, SessionEvent::Notice { message } if message.starts_with("moved from h1 to h2"))
    });
    assert!(moved_notice, "the move is said in the log");
    // On h1 the file did not exist before the turn wrote it; on h2, before writing, the agent saw
    // what the turn on h1 wrote: the work as of the last checkpoint came along.
    let results = client.command_results(session.id);
    assert_eq!(results.len(), 2, "{results:?}");
    assert_ne!(results[0].1, Some(0), "{results:?}");
    assert_eq!(results[1], ("written by the first turn\n".to_string(), Some(0)), "{results:?}");
    assert_eq!(
        std::fs::read_to_string(Path::new(&session_now.cwd).join("NOTE.md")).unwrap(),
        "written by the first turn\n",
        "h2's turn came home to the local worktree"
    );
    assert!(client.reply_text(session.id).ends_with("Done with second."), "{}", client.reply_text(session.id));
}

#[tokio::test]
async fn a_daemon_restart_attaches_again_to_sessions_on_hosts_and_keeps_the_queue() {
    require_test_hosts!();
    let env = TestEnv::new();
    let hosts = TestHosts::started(&env.root.join("hosts"), &["far"]);
    env.write_config(json!({ "sshCommand": hosts.ssh_command(), "hosts": [host_entry("far", 1)] }));
    let repo = env.repo("repo");
    let mut daemon = env.daemon().await;
    let mut client = env.socket_client().await;

    let words: Vec<String> = (1..=50).map(|n| format!("w{n}")).collect();
    let script = format!("chunk-delay 100\nsay {}\nsay The end.\n", words.join(" "));
    let session = new_session(&client, &repo, "stream", json!({ "script": script, "host": "far" })).await;
    client.subscribe(session.id, 0).await;
    client.wait_chunks(session.id, 5).await;
    // The host's one slot is taken: a second session pinned there waits.
    let queued = new_session(&client, &repo, "queued", json!({ "script": "say queued ran", "host": "far" })).await;
    assert!(waiting_reason(&client, queued.id).await.status_reason.unwrap_or_default().contains("far 1/1"));

    daemon.start_kill().unwrap();
    daemon.wait().await.unwrap();
    let _daemon = env.daemon().await;
    let mut client = env.socket_client().await;
    client.subscribe(session.id, 0).await;
    client.wait_event(session.id, |event| matches!(event, SessionEvent::TurnEnded { .. })).await;
    let reply = client.reply_text(session.id);
    assert_eq!(reply, format!("{}The end.", words.join(" ")), "every chunk exactly once across the crash");
    let seqs = client.seqs(session.id);
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "no gap in the local log");
    let attached = client.get(session.id).await;
    assert_eq!((attached.status, attached.host.as_deref()), (SessionStatus::Running, Some("far")));

    // The queue came back with its placement: the waiting session still waits for its host
    // and runs there once the slot frees.
    assert_eq!(client.get(queued.id).await.status, SessionStatus::Pending);
    client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await;
    client.subscribe(queued.id, 0).await;
    client.wait_turns(queued.id, 1).await;
    assert_eq!(client.get(queued.id).await.host.as_deref(), Some("far"));
    let events: Vec<&SessionEvent> =
        client.events.iter().filter(|event| event.session_id == queued.id).map(|event| &event.event).collect();
    assert!(client.reply_text(queued.id).contains("queued ran"), "{events:#?}");
}

/// The names of the worktrees the host's Arbor has made (each `arbor-` and the first eight
/// characters of its session's id).
fn host_worktrees(hosts: &TestHosts, name: &str) -> Vec<String> {
    let dir = hosts.host(name).data_dir().join("worktrees");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries.filter_map(|entry| Some(entry.ok()?.file_name().to_string_lossy().into_owned())).collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

async fn wait_for_worktrees(hosts: &TestHosts, name: &str, count: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + arbor_tests::WAIT;
    loop {
        let names = host_worktrees(hosts, name);
        if names.len() >= count {
            return names;
        }
        assert!(tokio::time::Instant::now() < deadline, "the host has {names:?}, not {count} worktrees");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_warm_place_on_a_host_is_taken_by_the_next_session_and_refilled() {
    require_test_hosts!();
    let env = TestEnv::new();
    let hosts = TestHosts::started(&env.root.join("hosts"), &["far"]);
    let mut far = host_entry("far", 4);
    far["warm"] = json!({ "scripted": 1 });
    env.write_config(json!({ "sshCommand": hosts.ssh_command(), "hosts": [far] }));
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;

    let script = json!({ "script": "say {prompt} done", "host": "far" });
    let first = new_session(client, &repo, "first", script.clone()).await;
    client.subscribe(first.id, 0).await;
    client.wait_turns(first.id, 1).await;
    // The first session on the host was a cold start; one more is opened there beside it.
    let prepared = wait_for_worktrees(&hosts, "far", 2).await;

    let second = new_session(client, &repo, "second", script).await;
    client.subscribe(second.id, 0).await;
    client.wait_turns(second.id, 1).await;
    assert!(client.reply_text(second.id).contains("second done"), "{}", client.reply_text(second.id));
    let conversation = client.get(second.id).await.agent_session_id.expect("the host's session");
    let remote_id = conversation.split('/').nth(1).expect("HOST/ID/SEQ");
    let worktree = format!("arbor-{}", &remote_id[..8]);
    assert!(
        prepared.contains(&worktree),
        "the second session took the place prepared before it: {worktree} in {prepared:?}"
    );
    // And the pool is refilled for the next one.
    let after = wait_for_worktrees(&hosts, "far", 3).await;
    assert_eq!(after.len(), 3, "{after:?}");
}
