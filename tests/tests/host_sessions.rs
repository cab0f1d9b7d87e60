//! Sessions placed on other machines: test hosts made on this machine (network namespaces running
//! Debian's OpenSSH server; see `arbor_tests::ssh_hosts`), each running its own Arbor daemon that
//! the local daemon reaches with `ssh HOST arbor lsp`.

use std::path::Path;
use std::time::Duration;

use arbor_protocol::{
    HostListResult, MergeResult, ReviewDiff, Session, SessionEvent, SessionStatus, StopReason, method,
};
use arbor_tests::ssh_hosts::{HostSetup, TestHosts, loadavg_per_processor, unavailable};
use arbor_tests::{TestEnv, files_holding, git, wait_until};
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

/// `host/list`, asked again until `ready` holds for its answer.
async fn host_list_until(
    client: &arbor_tests::Client,
    what: &str,
    ready: impl Fn(&HostListResult) -> bool,
) -> HostListResult {
    let deadline = tokio::time::Instant::now() + arbor_tests::WAIT;
    loop {
        let list: HostListResult = serde_json::from_value(client.call(method::HOST_LIST, Value::Null).await).unwrap();
        if ready(&list) {
            return list;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}: {list:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Each host's reported load per processor, to two places (the figure is a division), or None.
fn host_loads(list: &HostListResult) -> Vec<Option<String>> {
    list.hosts.iter().map(|host| host.load.map(|load| format!("{load:.2}"))).collect()
}

/// Where a new session is placed: it is started, and asked once its first turn has run.
async fn placed_session(client: &mut arbor_tests::Client, repo: &Path, prompt: &str) -> Option<String> {
    let session = new_session(client, repo, prompt, json!({ "script": WRITE_NOTE })).await;
    client.subscribe(session.id, 0).await;
    client.wait_turns(session.id, 1).await;
    client.get(session.id).await.host
}

#[tokio::test]
async fn on_equal_shares_a_session_goes_to_the_host_reporting_the_lower_load() {
    require_test_hosts!();
    let env = TestEnv::new();
    let (busy, idle) = (loadavg_per_processor(0.95), loadavg_per_processor(0.0));
    let mut hosts = TestHosts::new(&env.root.join("hosts"));
    hosts.add("h1", HostSetup { loadavg: Some(busy.clone()), ..HostSetup::default() });
    hosts.add("h2", HostSetup { loadavg: Some(idle.clone()), ..HostSetup::default() });
    env.write_config(json!({
        "limits": { "maxRunning": 1 },
        "sshCommand": hosts.ssh_command(),
        "hosts": [host_entry("h1", 2), host_entry("h2", 2)],
    }));
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;

    // The daemon asks the hosts as it starts (and every 15 s after); placement uses what it
    // knows, so the test waits until it knows both.
    let known = host_list_until(client, "the daemon knows both hosts' loads", |list| {
        list.hosts.iter().all(|host| host.load.is_some())
    })
    .await;
    assert_eq!(host_loads(&known), [Some("0.95".to_string()), Some("0.00".to_string())]);
    assert!(known.local.load.is_some(), "this machine's own load is read in the same round: {known:?}");
    let described: Vec<(&str, &str, usize, u32, u32)> = known
        .hosts
        .iter()
        .map(|host| (host.name.as_str(), host.ssh.as_str(), host.agents.len(), host.max_running, host.running))
        .collect();
    assert_eq!(described, [("h1", "h1", 1, 2, 0), ("h2", "h2", 1, 2, 0)]);

    // This machine's one slot is taken first. The session is pinned here: this machine's real
    // load is whatever the machine running the test has, and must not decide the rest.
    let first = new_session(client, &repo, "first", json!({ "script": WRITE_NOTE, "host": "local" })).await;
    client.subscribe(first.id, 0).await;
    client.wait_turns(first.id, 1).await;
    assert_eq!(client.get(first.id).await.host, None);

    // Both hosts have 0 of 2 in use: h2 reports the lower load, so it wins over h1, which a tie
    // would give the session to (it is listed first).
    assert_eq!(placed_session(client, &repo, "second").await.as_deref(), Some("h2"));
    // Now h1 has the smaller share of its limit in use, which decides before its load.
    assert_eq!(placed_session(client, &repo, "third").await.as_deref(), Some("h1"));
    let list: HostListResult = serde_json::from_value(client.call(method::HOST_LIST, Value::Null).await).unwrap();
    assert_eq!((list.local.running, list.local.max_running), (1, 1), "{list:?}");
    assert_eq!(list.hosts.iter().map(|host| host.running).collect::<Vec<_>>(), [1, 1], "{list:?}");

    // The loads change places; once the daemon has read them again (at its next poll), the
    // next session on equal shares goes to h1, where with the old readings it would go to h2.
    hosts.host("h1").set_loadavg(&idle);
    hosts.host("h2").set_loadavg(&busy);
    host_list_until(client, "the daemon reads the changed loads", |list| {
        host_loads(list) == [Some("0.00".to_string()), Some("0.95".to_string())]
    })
    .await;
    assert_eq!(placed_session(client, &repo, "fourth").await.as_deref(), Some("h1"));
    let list: HostListResult = serde_json::from_value(client.call(method::HOST_LIST, Value::Null).await).unwrap();
    assert_eq!(list.hosts.iter().map(|host| host.running).collect::<Vec<_>>(), [2, 1], "{list:?}");
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
    // The first session on the host was a cold start; one more is opened there beside it. Its
    // worktree is made before its agent runs, and the place is ready only once the host's
    // session runs (a session started before that starts cold).
    let prepared = wait_for_worktrees(&hosts, "far", 2).await;
    let first_here = format!("arbor-{}", &remote_id(client, first.id).await[..8]);
    let place = prepared.iter().find(|name| **name != first_here).expect("the prepared place's worktree");
    let place_id = place.trim_start_matches("arbor-").to_string();
    wait_until("the prepared place's session runs on the host", || {
        hosts.status_on("far", &place_id).as_deref() == Some("running")
    })
    .await;

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

/// The host's own id of a session placed there (its `agentSessionId` is `HOST/ID/SEQ`).
async fn remote_id(client: &arbor_tests::Client, id: uuid::Uuid) -> String {
    let conversation = client.get(id).await.agent_session_id.expect("the host's session");
    conversation.split('/').nth(1).expect("HOST/ID/SEQ").to_string()
}

fn has_notice(client: &arbor_tests::Client, id: uuid::Uuid, start: &str) -> bool {
    client.events.iter().any(|event| {
        event.session_id == id && matches!(&event.event, SessionEvent::Notice { message } if message.starts_with(start))
    })
}

#[tokio::test]
async fn a_session_with_what_hosts_are_not_sent_stays_here_and_a_pin_of_it_to_a_host_is_refused() {
    require_test_hosts!();
    let env = TestEnv::new();
    let hosts = TestHosts::started(&env.root.join("hosts"), &["h1"]);
    let memory = env.root.join("memory.md");
    std::fs::write(&memory, "Remember the milk.\n").unwrap();
    let extra = env.root.join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    let mut h1 = host_entry("h1", 2);
    h1["warm"] = json!({ "scripted": 1 });
    h1["labels"] = json!(["gpu"]);
    env.write_config(json!({
        "limits": { "maxRunning": 1 },
        "sshCommand": hosts.ssh_command(),
        "hosts": [h1],
        "profiles": { "remembering": { "agent": "scripted", "memory": memory } },
    }));
    let repo = env.repo("repo");
    std::fs::write(repo.join(".env"), "SECRET=here\n").unwrap();
    let mut server = env.standalone().await;
    let client = &mut server.client;

    // This machine's one slot is taken, so a session free to go anywhere would go to h1.
    let first = new_session(client, &repo, "first", json!({ "script": "say {prompt} done" })).await;
    client.subscribe(first.id, 0).await;
    client.wait_turns(first.id, 1).await;
    assert_eq!(client.get(first.id).await.host, None);

    let with = |extra_params: Value, config: Value| {
        let mut params = json!({ "cwd": &repo, "agent": "scripted", "prompt": "hello", "config": config });
        params.as_object_mut().unwrap().extend(extra_params.as_object().unwrap().clone());
        params
    };
    let script = json!({ "script": "run cat .env\nsay {prompt} done" });
    let kept: Session = serde_json::from_value(
        client.call(method::SESSION_NEW, with(json!({ "setupFiles": [".env"] }), script.clone())).await,
    )
    .unwrap();
    assert_eq!(kept.config.host.as_deref(), Some("local"), "the session is kept on this machine");
    client.subscribe(kept.id, 0).await;
    let waiting = waiting_reason(client, kept.id).await;
    assert!(waiting.status_reason.unwrap_or_default().contains("local 1/1"), "it waits for this machine");

    // Pinned to the host, each of what cannot go there is refused by name.
    let pinned = json!({ "script": "say hi", "host": "h1" });
    let cases = [
        (json!({ "setupFiles": [".env"] }), "its set-up files (setupFiles) cannot go to a host"),
        (json!({ "additionalDirs": [&extra] }), "its additionalDirs cannot go to a host"),
        (json!({ "profile": "remembering" }), "its profile's memory and skills cannot go to a host"),
    ];
    for (params, expected) in cases {
        let error = client.try_call(method::SESSION_NEW, with(params, pinned.clone())).await.unwrap_err();
        assert!(error.message.contains("this session cannot run on host h1"), "{error:?}");
        assert!(error.message.contains(expected), "{error:?}");
    }
    let error = client
        .try_call(method::SESSION_NEW, with(json!({ "additionalDirs": [&extra] }), json!({ "hostLabels": ["gpu"] })))
        .await
        .unwrap_err();
    assert!(error.message.contains("leave out hostLabels"), "{error:?}");

    // A session kept here cannot be moved to a host either.
    let dirs: Session = serde_json::from_value(
        client
            .call(method::SESSION_NEW, with(json!({ "additionalDirs": [&extra] }), json!({ "script": "say hi" })))
            .await,
    )
    .unwrap();
    client.call(method::SESSION_STOP, json!({ "sessionId": dirs.id })).await;
    let error = client.try_call(method::SESSION_RESUME, json!({ "sessionId": dirs.id, "host": "h1" })).await;
    assert!(error.unwrap_err().message.contains("its additionalDirs cannot go to a host"));

    // A trial of a task with a set-up command, pinned to the host, is refused before any starts.
    let task = client
        .call(
            method::TASK_NEW,
            json!({ "title": "Prepared", "cwd": &repo, "setupCommand": "echo prepared > .prepared" }),
        )
        .await;
    let trials = json!([{ "agent": "scripted", "config": { "script": "say hi", "host": "h1" } }]);
    let error = client.try_call(method::TRIAL_NEW, json!({ "taskId": task["id"], "trials": trials })).await;
    assert!(error.unwrap_err().message.contains("its task's set-up command (setupCommand) cannot go to a host"));

    // Once this machine has room the kept session runs here, with its set-up file.
    client.call(method::SESSION_STOP, json!({ "sessionId": first.id })).await;
    client.wait_turns(kept.id, 1).await;
    assert_eq!(client.get(kept.id).await.host, None);
    assert_eq!(client.command_results(kept.id), [("SECRET=here\n".to_string(), Some(0))]);
    assert!(host_worktrees(&hosts, "h1").is_empty(), "nothing was opened on the host, warm or not");
}

#[tokio::test]
async fn a_move_stops_the_session_on_the_host_it_leaves_and_says_when_it_cannot() {
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

    let session = new_session(client, &repo, "first", json!({ "script": "say {prompt} done", "host": "h1" })).await;
    client.subscribe(session.id, 0).await;
    client.wait_turns(session.id, 1).await;
    let on_h1 = remote_id(client, session.id).await;
    assert_eq!(hosts.status_on("h1", &on_h1).as_deref(), Some("running"));

    // The link is cut: the session is dead here while h1 keeps its session running.
    hosts.host("h1").set_link(false);
    client.wait_status(session.id, |status| status == SessionStatus::Dead).await;
    hosts.host("h1").set_link(true);
    assert_eq!(hosts.status_on("h1", &on_h1).as_deref(), Some("running"));

    client.call(method::SESSION_RESUME, json!({ "sessionId": session.id, "host": "h2", "prompt": "second" })).await;
    client.wait_turns(session.id, 2).await;
    assert_eq!(client.get(session.id).await.host.as_deref(), Some("h2"));
    assert_eq!(hosts.status_on("h1", &on_h1).as_deref(), Some("stopped"), "the session left h1");
    assert!(has_notice(client, session.id, "stopped its session on host h1, which it leaves"));

    // A host that cannot be reached keeps its session, and the log says so.
    let on_h2 = remote_id(client, session.id).await;
    hosts.host("h2").set_link(false);
    client.wait_status(session.id, |status| status == SessionStatus::Dead).await;
    client.call(method::SESSION_RESUME, json!({ "sessionId": session.id, "host": "h1", "prompt": "third" })).await;
    client.wait_turns(session.id, 3).await;
    assert_eq!(client.get(session.id).await.host.as_deref(), Some("h1"));
    assert!(has_notice(client, session.id, "could not stop its session on host h2"));
    hosts.host("h2").set_link(true);
    assert_eq!(hosts.status_on("h2", &on_h2).as_deref(), Some("running"), "h2 was not reached");
}

#[tokio::test]
async fn an_edit_made_here_to_a_host_sessions_worktree_goes_to_the_host_with_the_next_prompt() {
    require_test_hosts!();
    let env = TestEnv::new();
    let hosts = TestHosts::started(&env.root.join("hosts"), &["h1"]);
    env.write_config(json!({ "sshCommand": hosts.ssh_command(), "hosts": [host_entry("h1", 2)] }));
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;

    // The first turn writes a file; the second shows what the host's worktree holds of the user's.
    let script = "write NOTE.md <<EOF\nwritten on the host\nEOF\nsay Done with {prompt}.\nturn\nrun cat MINE.md\nrun cat README.md\nsay Done with {prompt}.\n";
    let session = new_session(client, &repo, "first", json!({ "script": script, "host": "h1" })).await;
    client.subscribe(session.id, 0).await;
    client.wait_turns(session.id, 1).await;
    let cwd = Path::new(&client.get(session.id).await.cwd).to_path_buf();
    assert_eq!(std::fs::read_to_string(cwd.join("NOTE.md")).unwrap(), "written on the host\n");

    // The user edits the session's worktree here between turns: a new file and a removed one.
    std::fs::write(cwd.join("MINE.md"), "the user's edit\n").unwrap();
    std::fs::remove_file(cwd.join("README.md")).unwrap();
    client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "second" })).await;
    client.wait_turns(session.id, 2).await;

    let results = client.command_results(session.id);
    let said: Vec<&SessionEvent> = client
        .events
        .iter()
        .filter(|event| event.session_id == session.id)
        .map(|event| &event.event)
        .filter(|event| matches!(event, SessionEvent::Notice { .. } | SessionEvent::Error { .. }))
        .collect();
    assert_eq!(results.len(), 2, "{results:?} {said:?}");
    assert_eq!(results[0], ("the user's edit\n".to_string(), Some(0)), "the host's turn saw the edit");
    assert_ne!(results[1].1, Some(0), "and the removal: {results:?}");
    assert!(has_notice(client, session.id, "sent the changes made here since the last turn (2 files) to host h1"));
    // The host's turn came home without undoing the edit.
    assert_eq!(std::fs::read_to_string(cwd.join("MINE.md")).unwrap(), "the user's edit\n");
    assert!(!cwd.join("README.md").exists(), "the removal held");
    assert_eq!(std::fs::read_to_string(cwd.join("NOTE.md")).unwrap(), "written on the host\n");
    assert!(client.reply_text(session.id).ends_with("Done with second."), "{}", client.reply_text(session.id));

    // An edit that cannot reach the host (its worktree there is gone) refuses the prompt and
    // stays here.
    std::fs::write(cwd.join("MINE.md"), "a later edit\n").unwrap();
    for worktree in host_worktrees(&hosts, "h1") {
        std::fs::remove_dir_all(hosts.host("h1").data_dir().join("worktrees").join(worktree)).unwrap();
    }
    client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "third" })).await;
    client.wait_turns(session.id, 3).await;
    assert_eq!(client.stop_reasons(session.id).last(), Some(&StopReason::Error));
    let refused = client.events.iter().any(|event| {
        event.session_id == session.id
            && matches!(&event.event, SessionEvent::Error { message, .. }
                if message.starts_with("the prompt was not sent to host h1: the changes made here since its last turn could not be sent there (")
                    && message.ends_with("they are kept here"))
    });
    assert!(refused, "the refusal says why");
    assert_eq!(std::fs::read_to_string(cwd.join("MINE.md")).unwrap(), "a later edit\n");
}

#[tokio::test]
async fn an_edit_made_here_while_the_hosts_turn_runs_is_merged_with_its_work_or_kept_with_a_word() {
    require_test_hosts!();
    let env = TestEnv::new();
    let hosts = TestHosts::started(&env.root.join("hosts"), &["h1"]);
    env.write_config(json!({ "sshCommand": hosts.ssh_command(), "hosts": [host_entry("h1", 2)] }));
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;

    // Each turn writes NOTE.md on the host, says it started, and runs on a while.
    let script = "write NOTE.md <<EOF\nfrom the host\nEOF\nsay started one\npause 2500\nsay one.\nturn\n\
                  write NOTE.md <<EOF\nthe host again\nEOF\nsay started two\npause 2500\nsay two.\n";
    let session = new_session(client, &repo, "first", json!({ "script": script, "host": "h1" })).await;
    client.subscribe(session.id, 0).await;
    let started = |wanted: &'static str| move |event: &SessionEvent| matches!(event, SessionEvent::AgentMessageChunk { text, .. } if text.contains(wanted));
    client.wait_event(session.id, started("one")).await;
    let cwd = Path::new(&client.get(session.id).await.cwd).to_path_buf();
    // A file of the user's own, made while the host's turn runs, is kept beside the host's work.
    std::fs::write(cwd.join("LOCAL.md"), "mine\n").unwrap();
    client.wait_turns(session.id, 1).await;
    assert_eq!(std::fs::read_to_string(cwd.join("NOTE.md")).unwrap(), "from the host\n");
    assert_eq!(std::fs::read_to_string(cwd.join("LOCAL.md")).unwrap(), "mine\n", "the edit made meanwhile stays");
    assert!(has_notice(client, session.id, "the turn's work came home from host h1 beside the changes made here"));

    // An edit of the file the host's next turn changes too is kept here, and the log says so.
    client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "second" })).await;
    client.wait_event(session.id, started("two")).await;
    std::fs::write(cwd.join("NOTE.md"), "the user's during the turn\n").unwrap();
    client.wait_turns(session.id, 2).await;
    assert_eq!(std::fs::read_to_string(cwd.join("NOTE.md")).unwrap(), "the user's during the turn\n");
    assert_eq!(std::fs::read_to_string(cwd.join("LOCAL.md")).unwrap(), "mine\n");
    let kept = client.events.iter().any(|event| {
        event.session_id == session.id
            && matches!(&event.event, SessionEvent::Error { message, .. }
                if message.contains("changes what was changed here during the turn, so the worktree here keeps its changes"))
    });
    assert!(kept, "the overlap is said");
}
