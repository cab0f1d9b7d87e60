//! Durability and state under attack: sessions stopped or deleted while they wait, agents that
//! exit mid-turn, an actor that panics, a store that cannot write, and clients racing each other
//! over the same sessions.

use std::time::Duration;

use arbor_protocol::{Session, SessionEvent, SessionStatus, StopReason, error_code, method};
use arbor_tests::{Client, TestEnv, WAIT, pids_working_in, wait_until};
use serde_json::json;
use uuid::Uuid;

/// Every stored seq of a session, read back through `session/events`.
async fn stored_seqs(client: &Client, id: Uuid) -> Vec<u64> {
    let mut seqs = Vec::new();
    loop {
        let page = client
            .call(method::SESSION_EVENTS, json!({ "sessionId": id, "afterSeq": seqs.last().copied().unwrap_or(0) }))
            .await;
        let events = page["events"].as_array().expect("events").clone();
        seqs.extend(events.iter().map(|event| event["seq"].as_u64().expect("a seq")));
        if page["hasMore"] != true {
            return seqs;
        }
    }
}

/// Asserts a session's stored log is 1, 2, 3 … with nothing missing.
async fn assert_gap_free(client: &Client, id: Uuid) -> Vec<u64> {
    let seqs = stored_seqs(client, id).await;
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "session {id}'s log has a hole or a repeat");
    seqs
}

async fn new_session(client: &Client, repo: &std::path::Path, script: &str, prompt: Option<&str>) -> Session {
    serde_json::from_value(
        client
            .call(
                method::SESSION_NEW,
                json!({ "cwd": repo, "agent": "scripted", "prompt": prompt, "config": { "script": script } }),
            )
            .await,
    )
    .expect("a Session")
}

async fn wait_position(client: &Client, id: Uuid, position: Option<u32>) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let session = client.get(id).await;
        if session.queue_position == position {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "queue position stayed {:?}", session.queue_position);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_session_stopped_or_deleted_while_queued_leaves_the_queue_for_good() {
    let env = TestEnv::new();
    env.write_config(json!({ "limits": { "maxRunning": 1 } }));
    let repo = env.repo("repo");
    let daemon = env.daemon().await;
    let client = env.socket_client().await;
    let running = new_session(&client, &repo, "pause 60000", Some("go")).await;
    client.wait_status(running.id, |status| status == SessionStatus::Running).await;
    let stopped = new_session(&client, &repo, "say never", Some("go")).await;
    let deleted = new_session(&client, &repo, "say never", Some("go")).await;
    wait_position(&client, deleted.id, Some(2)).await;

    let answer: Session =
        serde_json::from_value(client.call(method::SESSION_STOP, json!({ "sessionId": stopped.id })).await).unwrap();
    assert_eq!((answer.status, answer.queue_position), (SessionStatus::Stopped, None));
    client.call(method::SESSION_DELETE, json!({ "sessionId": deleted.id })).await;
    // The scheduler refreshes every waiting session's position when a new one joins.
    let later = new_session(&client, &repo, "say later", Some("go")).await;
    wait_position(&client, later.id, Some(1)).await;
    for _ in 0..10 {
        let session = client.get(stopped.id).await;
        assert_eq!(
            (session.status, session.queue_position),
            (SessionStatus::Stopped, None),
            "the stopped session went back in line"
        );
        let gone = client.try_call(method::SESSION_GET, json!({ "sessionId": deleted.id })).await.unwrap_err();
        assert_eq!(gone.code, error_code::SESSION_NOT_FOUND, "the deleted session came back");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }

    // The stored queue lost them too: after a restart only the later session starts.
    arbor_tests::terminate(daemon.id().unwrap() as i32);
    let _daemon = env.daemon().await;
    let mut client = env.socket_client().await;
    client.subscribe(later.id, 0).await;
    client.wait_turns(later.id, 1).await;
    assert_eq!(client.get(stopped.id).await.status, SessionStatus::Stopped);
    assert!(client.try_call(method::SESSION_GET, json!({ "sessionId": deleted.id })).await.is_err());
    assert_gap_free(&client, stopped.id).await;
}

#[tokio::test]
async fn an_agent_that_exits_cleanly_mid_turn_fails_the_session_with_the_reason() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = new_session(client, &repo, "say half an answer\nexit 0", Some("go")).await;
    client.subscribe(session.id, 0).await;
    client.wait_turns(session.id, 1).await;
    assert_eq!(client.stop_reasons(session.id), vec![StopReason::Error]);
    let ended = client.wait_status(session.id, |status| !status.is_live()).await;
    assert_eq!(ended.status, SessionStatus::Failed, "an exit during a turn is a failure");
    assert!(ended.status_reason.as_deref().unwrap_or_default().contains("exited during a turn"), "{ended:?}");
    client
        .wait_event(session.id, |event| {
            matches!(event, SessionEvent::Error { message, fatal: true } if message.contains("exited during a turn"))
        })
        .await;
    assert_gap_free(client, session.id).await;
}

#[tokio::test]
async fn a_panicking_actor_fails_its_session_and_frees_its_slot() {
    let env = TestEnv::new();
    env.write_config(json!({ "limits": { "maxRunning": 1 } }));
    let repo = env.repo("repo");
    let marker = "fault-injection-marker";
    let mut server = env.standalone_with_env(&[("ARBOR_FAULT_PANIC_ON_PROMPT", marker)]).await;
    let client = &mut server.client;
    let doomed = new_session(client, &repo, "say resumed fine", None).await;
    client.subscribe(doomed.id, 0).await;
    let running = client.wait_status(doomed.id, |status| status == SessionStatus::Running).await;
    let waiting = new_session(client, &repo, "say my turn came", Some("go")).await;
    wait_position(client, waiting.id, Some(1)).await;
    wait_until("the doomed session's agent runs", || !pids_working_in(running.cwd.as_ref()).is_empty()).await;

    let prompt = json!({ "sessionId": doomed.id, "text": format!("please {marker}") });
    let refused = client.try_call(method::SESSION_PROMPT, prompt).await.unwrap_err();
    assert!(refused.message.contains("session ended"), "{refused:?}");
    let failed = client.wait_status(doomed.id, |status| status == SessionStatus::Failed).await;
    let reason = failed.status_reason.unwrap_or_default();
    assert!(reason.contains("fault injection"), "{reason}");
    client
        .wait_event(doomed.id, |event| {
            matches!(event, SessionEvent::StatusChanged { status: SessionStatus::Failed, .. })
        })
        .await;
    wait_until("the panicked session's agent is ended", || pids_working_in(running.cwd.as_ref()).is_empty()).await;
    assert_gap_free(client, doomed.id).await;

    // Its slot is free: the waiting session runs.
    client.subscribe(waiting.id, 0).await;
    client.wait_turns(waiting.id, 1).await;
    assert_eq!(client.reply_text(waiting.id), "my turn came");
    // And the failed session resumes.
    client.call(method::SESSION_STOP, json!({ "sessionId": waiting.id })).await;
    client.resume_and_wait(doomed.id, "again", 1).await;
    assert!(client.reply_text(doomed.id).contains("resumed fine"));
    assert_gap_free(client, doomed.id).await;
}

/// A small tmpfs mounted over a directory for the length of a test, so the test can fill it.
struct SmallDisk {
    dir: std::path::PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (such as "16m") on `dir`; None when this machine does not allow
    /// mounting (the test is then skipped).
    fn mount(dir: &std::path::Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(dir).expect("create the mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .is_ok_and(|output| output.status.success());
        mounted.then(|| SmallDisk { dir: dir.to_path_buf() })
    }

    /// Fills the disk with one file until a write fails for lack of space.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.dir.join("filler");
        let mut file = std::fs::File::create(&path).expect("create the filler");
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        let _ = file.write_all(&block[..512]);
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// Seqs of the events a client received for a session, checked to be 1, 2, 3 … in order.
fn assert_received_in_order(client: &Client, id: Uuid) -> u64 {
    let received = client.seqs(id);
    let expected: Vec<u64> = (1..=received.len() as u64).collect();
    assert_eq!(received, expected, "session {id}'s subscriber saw a hole or a repeat");
    received.len() as u64
}

#[tokio::test]
async fn a_full_disk_holds_sessions_with_a_clear_error_and_they_carry_on_without_gaps() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let Some(disk) = SmallDisk::mount(&env.data_dir(), "16m") else {
        eprintln!("SKIPPED: mounting a tmpfs is not permitted here, so a full disk cannot be made");
        return;
    };
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let words: Vec<String> = (1..=900).map(|number| format!("w{number}")).collect();
    let script = format!("say ready\nturn\nchunk-delay 15\nsay {}", words.join(" "));
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let session = new_session(client, &repo, &script, Some("warm up")).await;
        client.subscribe(session.id, 0).await;
        client.wait_turns(session.id, 1).await;
        sessions.push(session.id);
    }
    for id in &sessions {
        client.call(method::SESSION_PROMPT, json!({ "sessionId": id, "text": "stream" })).await;
    }
    let first = sessions[0];
    client
        .wait_event(first, |event| matches!(event, SessionEvent::AgentMessageChunk { text } if text.contains("w30")))
        .await;

    let filler = disk.fill();
    // Each session says it is held, and refuses new work with a storage error.
    let deadline = tokio::time::Instant::now() + WAIT;
    for id in &sessions {
        loop {
            client.drain();
            let held = client.changes.iter().any(|change| {
                change.id == *id
                    && change.status_reason.as_deref().is_some_and(|reason| reason.contains("cannot be stored"))
            });
            if held {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "session {id} never said its events cannot be stored");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let refused =
        client.try_call(method::SESSION_PROMPT, json!({ "sessionId": first, "text": "more" })).await.unwrap_err();
    assert_eq!(refused.code, error_code::STORE_ERROR, "{refused:?}");
    assert!(refused.message.contains("cannot be stored"), "{refused:?}");
    // Held sessions do not advance: nothing more arrives while the disk is full.
    tokio::time::sleep(Duration::from_millis(300)).await;
    client.drain();
    let seen_while_full: Vec<u64> = sessions.iter().map(|id| assert_received_in_order(client, *id)).collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    client.drain();
    for (id, seen) in sessions.iter().zip(&seen_while_full) {
        assert_eq!(
            assert_received_in_order(client, *id),
            *seen,
            "session {id} advanced while its events were not stored"
        );
    }

    std::fs::remove_file(filler).expect("free the disk");
    for id in &sessions {
        client.wait_turns_within(*id, 2, Duration::from_secs(60)).await;
        client
            .wait_event(
                *id,
                |event| matches!(event, SessionEvent::Notice { message } if message.contains("could not write")),
            )
            .await;
    }
    client.drain();
    for id in &sessions {
        let received = assert_received_in_order(client, *id);
        let stored = assert_gap_free(client, *id).await;
        assert!(stored.len() as u64 >= received, "an event a client saw is not in the store");
        assert!(client.reply_text(*id).ends_with("w900"), "the reply was cut: the agent's output was lost");
        let session = client.get(*id).await;
        assert_eq!(session.status, SessionStatus::Running);
        assert!(session.status_reason.is_none(), "{:?}", session.status_reason);
    }
    let database = rusqlite::Connection::open(env.data_dir().join("arbor.db")).expect("open the store");
    let integrity: String = database.query_row("PRAGMA integrity_check", [], |row| row.get(0)).expect("check");
    assert_eq!(integrity, "ok");
    drop(database);
    drop(server);
}

/// A small xorshift generator: the race needs variety, not quality.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % sides as u64) as usize
    }
}

/// Sessions the racing clients share: the live pool and the ones deleted (id, worktree).
#[derive(Default)]
struct Pool {
    sessions: Vec<Session>,
    deleted: Vec<Session>,
}

/// One client's part of the race: random stops, resumes, prompts and deletes on the shared
/// sessions until `until`, replacing each session it deletes. Returns the unexpected errors.
async fn race(
    client: Client,
    repo: std::path::PathBuf,
    pool: std::sync::Arc<std::sync::Mutex<Pool>>,
    seed: u64,
    until: tokio::time::Instant,
) -> Vec<String> {
    let mut dice = Dice(seed);
    let mut unexpected = Vec::new();
    while tokio::time::Instant::now() < until {
        let session = {
            let pool = pool.lock().unwrap();
            pool.sessions[dice.roll(pool.sessions.len())].clone()
        };
        let params = json!({ "sessionId": session.id });
        let (name, result) = match dice.roll(20) {
            0 => ("delete", client.try_call(method::SESSION_DELETE, params).await),
            1..=6 => ("stop", client.try_call(method::SESSION_STOP, params).await),
            7..=12 => (
                "resume",
                client.try_call(method::SESSION_RESUME, json!({ "sessionId": session.id, "prompt": "again" })).await,
            ),
            _ => (
                "prompt",
                client.try_call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "more" })).await,
            ),
        };
        match result {
            Ok(_) if name == "delete" => {
                let replacement = new_session(&client, &repo, RACE_SCRIPT, Some("go")).await;
                let mut pool = pool.lock().unwrap();
                pool.sessions.retain(|kept| kept.id != session.id);
                pool.sessions.push(replacement);
                pool.deleted.push(session);
            }
            Ok(_) => {}
            // Racing requests find sessions in every state, or already deleted by another client.
            Err(error) if [error_code::INVALID_SESSION_STATE, error_code::SESSION_NOT_FOUND].contains(&error.code) => {}
            Err(error) => unexpected.push(format!("{name} {}: {error:?}", session.id)),
        }
    }
    unexpected
}

const RACE_SCRIPT: &str = "say working on {prompt}\npause 40\nsay done";

#[tokio::test]
async fn racing_clients_never_resurrect_strand_or_tear_a_session() {
    // ARBOR_RACE_SECS lengthens the race (for example to 60) when hunting a rare interleaving.
    let seconds = std::env::var("ARBOR_RACE_SECS").ok().and_then(|text| text.parse().ok()).unwrap_or(20);
    let env = TestEnv::new();
    env.write_config(json!({ "limits": { "maxRunning": 3 } }));
    let repo = env.repo("repo");
    let _daemon = env.daemon().await;
    let setup = env.socket_client().await;
    let mut pool = Pool::default();
    for _ in 0..6 {
        pool.sessions.push(new_session(&setup, &repo, RACE_SCRIPT, Some("go")).await);
    }
    let pool = std::sync::Arc::new(std::sync::Mutex::new(pool));
    let until = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let mut racers = tokio::task::JoinSet::new();
    for seed in [0x9e37_79b9_7f4a_7c15, 0xbf58_476d_1ce4_e5b9, 0x94d0_49bb_1331_11eb] {
        let client = env.socket_client().await;
        racers.spawn(race(client, repo.clone(), pool.clone(), seed, until));
    }
    let mut unexpected = Vec::new();
    while let Some(errors) = racers.join_next().await {
        unexpected.extend(errors.expect("a racing client panicked"));
    }
    assert!(unexpected.is_empty(), "requests failed unexpectedly: {unexpected:#?}");

    let (sessions, deleted) = {
        let pool = pool.lock().unwrap();
        (pool.sessions.clone(), pool.deleted.clone())
    };
    let listed = setup.call(method::SESSION_LIST, json!({ "includeHidden": true, "limit": 1000 })).await;
    let listed: Vec<Uuid> = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|session| session["id"].as_str().unwrap().parse().unwrap())
        .collect();
    for session in &deleted {
        assert!(!listed.contains(&session.id), "deleted session {} is listed again", session.id);
        let gone = setup.try_call(method::SESSION_GET, json!({ "sessionId": session.id })).await.unwrap_err();
        assert_eq!(gone.code, error_code::SESSION_NOT_FOUND, "deleted session {} came back", session.id);
        wait_until("no agent runs in a deleted session's worktree", || {
            pids_working_in(session.cwd.as_ref()).is_empty()
        })
        .await;
    }
    // Nothing is stuck: once the requests stop, every session settles, and a waiting one has its
    // place in the queue.
    for session in &sessions {
        let settled = setup
            .wait_status(session.id, |status| !matches!(status, SessionStatus::Creating | SessionStatus::Stopping))
            .await;
        if settled.status == SessionStatus::Pending {
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                let now = setup.get(session.id).await;
                if now.status != SessionStatus::Pending || now.queue_position.is_some() {
                    break;
                }
                assert!(tokio::time::Instant::now() < deadline, "{} is pending but not in the queue", session.id);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    for session in &sessions {
        let stopped: Session =
            serde_json::from_value(setup.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await).unwrap();
        assert!(!stopped.status.is_live(), "{} is still {:?} after a stop", session.id, stopped.status);
    }
    for session in &sessions {
        assert!(!setup.get(session.id).await.status.is_live(), "{} started again after every stop", session.id);
        assert_gap_free(&setup, session.id).await;
        wait_until("no agent runs in a stopped session's worktree", || {
            pids_working_in(session.cwd.as_ref()).is_empty()
        })
        .await;
    }
    eprintln!("raced {seconds} s: {} sessions deleted, {} left, all gap-free", deleted.len(), sessions.len());
}
