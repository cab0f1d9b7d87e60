//! The daemon on its Unix socket: started by the editor bridge, shared by clients, surviving the
//! editor, surviving its own SIGKILL without losing an acknowledged event, and ending every agent
//! on a clean shutdown.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use arbor_protocol::{SessionEvent, SessionStatus, StopReason, method};
use arbor_tests::{TestEnv, WAIT, process_alive, scripted_agent_pids, wait_until};
use serde_json::json;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A reply long enough to still be streaming when the test acts on it.
fn slow_script(words: usize, delay_ms: u64) -> String {
    format!("chunk-delay {delay_ms}\nsay {}\nturn\nsay back again after {{prompt}}", "word ".repeat(words).trim_end())
}

#[tokio::test]
async fn the_bridge_starts_one_private_daemon_that_sessions_outlive_editors_on() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut first = env.bridge().await;

    let runtime = env.runtime_dir();
    assert_eq!(mode(&runtime), 0o700);
    assert_eq!(mode(&runtime.join("arbor.sock")), 0o600);
    assert_eq!(mode(&runtime.join("daemon.json")), 0o600);
    let daemon_pid = env.daemon_pid().expect("discovery file names the daemon");
    assert_ne!(daemon_pid as u32, first.child.id().unwrap(), "the daemon is its own process, not the bridge");
    let discovery: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(runtime.join("daemon.json")).unwrap()).unwrap();
    assert_eq!(discovery["socket"], runtime.join("arbor.sock").display().to_string());

    let session = first.client.scripted_session(&repo, "pause 60000", Some("wait for a long time")).await;
    first.client.wait_status(session.id, |status| status == SessionStatus::Running).await;

    // A second editor reaches the same daemon and sees the same session.
    let second = env.bridge().await;
    assert_eq!(env.daemon_pid(), Some(daemon_pid));
    let listed = second.client.call(method::SESSION_LIST, json!({})).await;
    assert_eq!(listed["sessions"][0]["id"], session.id.to_string());

    // The first editor goes away; the session keeps running in the daemon.
    first.client.rpc.shutdown().await.unwrap();
    tokio::time::timeout(WAIT, first.child.wait()).await.expect("the bridge exits after exit").unwrap();
    assert_eq!(second.client.get(session.id).await.status, SessionStatus::Running);
    assert_eq!(scripted_agent_pids(&env.root).len(), 1);

    // A clean daemon shutdown stops the session (resumable) and ends its agent.
    arbor_tests::terminate(daemon_pid);
    assert!(!process_alive(daemon_pid));
    wait_until("no agent process is left", || scripted_agent_pids(&env.root).is_empty()).await;
    assert!(!runtime.join("arbor.sock").exists() && !runtime.join("daemon.json").exists());
    let _daemon = env.daemon().await;
    let client = env.socket_client().await;
    let after = client.get(session.id).await;
    assert_eq!(after.status, SessionStatus::Stopped);
    assert!(after.status_reason.unwrap_or_default().contains("shut down"));
}

#[tokio::test]
async fn a_second_daemon_refuses_to_start() {
    let env = TestEnv::new();
    let mut daemon = env.daemon().await;
    let output = env.command().arg("daemon").output().await.unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("already running"));
    assert!(env.runtime_dir().join("arbor.sock").exists(), "the running daemon's socket is untouched");
    daemon.start_kill().unwrap();
}

#[tokio::test]
async fn sigkill_mid_stream_loses_no_event_and_the_session_resumes() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut daemon = env.daemon().await;
    let mut client = env.socket_client().await;
    let session = client.scripted_session(&repo, &slow_script(600, 25), Some("stream slowly")).await;
    client.subscribe(session.id, 0).await;
    client.wait_chunks(session.id, 10).await;

    daemon.start_kill().unwrap();
    daemon.wait().await.unwrap();
    let received = client.events.clone();
    wait_until("the orphaned agent exits", || scripted_agent_pids(&env.root).is_empty()).await;

    let _daemon = env.daemon().await;
    let mut client = env.socket_client().await;
    let dead = client.get(session.id).await;
    assert_eq!(dead.status, SessionStatus::Dead, "never shown as running after a crash");
    assert!(dead.status_reason.unwrap().contains("stopped while this session was running"));
    let stored = client.call(method::SESSION_EVENTS, json!({ "sessionId": session.id, "limit": 5000 })).await;
    let stored: Vec<serde_json::Value> = stored["events"].as_array().unwrap().clone();
    for event in &received {
        let seq = event.seq as usize;
        assert_eq!(
            stored[seq - 1],
            serde_json::to_value(event).unwrap(),
            "event {seq} a client saw is stored as it was"
        );
    }
    assert!(stored.len() > received.len());
    assert_eq!(stored.last().unwrap()["event"]["status"], "dead");

    client.call(method::SESSION_RESUME, json!({ "sessionId": session.id, "prompt": "the crash" })).await;
    client.subscribe(session.id, dead.last_seq).await;
    client
        .wait_event(session.id, |event| matches!(event, SessionEvent::TurnEnded { stop_reason: StopReason::EndTurn }))
        .await;
    assert!(client.reply_text(session.id).ends_with("back again after the crash"));
    assert_eq!(client.get(session.id).await.status, SessionStatus::Running);
}

#[tokio::test]
async fn subscribers_see_the_same_events_in_order_and_late_ones_get_no_gap() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let _daemon = env.daemon().await;
    let mut first = env.socket_client().await;
    let mut second = env.socket_client().await;
    let mut late = env.socket_client().await;
    let session = first.scripted_session(&repo, &slow_script(1500, 2), Some("stream")).await;
    first.subscribe(session.id, 0).await;
    second.subscribe(session.id, 0).await;

    // The late client joins mid-stream, asking for everything after seq 30.
    first.wait_event(session.id, |event| matches!(event, SessionEvent::AgentMessageChunk { .. })).await;
    let mut seen = 0;
    first
        .wait_event(session.id, |_| {
            seen += 1;
            seen >= 60
        })
        .await;
    late.subscribe(session.id, 30).await;

    for client in [&mut first, &mut second, &mut late] {
        client.wait_turns(session.id, 1).await;
    }
    let last = first.seqs(session.id).last().copied().unwrap();
    assert_eq!(first.seqs(session.id), (1..=last).collect::<Vec<_>>());
    assert_eq!(late.seqs(session.id), (31..=last).collect::<Vec<_>>(), "replay then live with no gap and no duplicate");
    assert_eq!(first.events, second.events, "two subscribers see the same events in the same order");
    assert_eq!(first.events[30..], late.events[..]);
    assert_eq!(first.reply_text(session.id).split_whitespace().count(), 1500);

    // Unsubscribing stops the flow.
    second.call(method::SESSION_UNSUBSCRIBE, json!({ "sessionId": session.id })).await;
    second.drain();
    let before = second.events.len();
    first.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "more" })).await;
    first.wait_turns(session.id, 2).await;
    second.call(method::AGENTS_LIST, serde_json::Value::Null).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    second.drain();
    assert_eq!(second.events.len(), before, "no events after unsubscribing");
}

/// A read half that can be held shut: while it is, the client reads nothing, as an editor busy
/// rendering would, and the daemon's side of the socket fills.
struct Gate<R> {
    inner: R,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Gate<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
        buffer: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if !self.open.load(std::sync::atomic::Ordering::SeqCst) {
            // Asked again soon: the test opens the gate without a waker of its own.
            let waker = context.waker().clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                waker.wake();
            });
            return std::task::Poll::Pending;
        }
        std::pin::Pin::new(&mut self.inner).poll_read(context, buffer)
    }
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_through_a_flood_gets_every_event_once_in_order_as_stored() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let _daemon = env.daemon().await;
    let mut driver = env.socket_client().await;
    let stream = tokio::net::UnixStream::connect(env.runtime_dir().join("arbor.sock")).await.unwrap();
    let (read, write) = stream.into_split();
    let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut stalled = arbor_tests::Client::new(Gate { inner: read, open: open.clone() }, write);
    stalled.initialize().await;

    // Far more events than the live channel holds (1,024) while the client reads nothing, so its
    // subscription falls behind and must catch up from the store. The reply and the thinking
    // alternate, a chunk of three words each, so no two chunks can be joined into one event.
    let script = "say word word word\nthink word word word\n".repeat(3_000);
    let session = driver.scripted_session(&repo, &script, None).await;
    driver.wait_status(session.id, |status| status == SessionStatus::Running).await;
    stalled.subscribe(session.id, 0).await;
    driver.subscribe(session.id, 0).await;
    open.store(false, std::sync::atomic::Ordering::SeqCst);
    driver.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "flood" })).await;
    driver.wait_turns(session.id, 1).await;
    open.store(true, std::sync::atomic::Ordering::SeqCst);
    stalled.wait_turns(session.id, 1).await;

    // Events after the turn's end (files changed, a checkpoint) may still be arriving: compare
    // everything up to the last seq stored now.
    let last = driver.get(session.id).await.last_seq;
    assert!(last > 6_000, "the flood was {last} events");
    let count = last as usize;
    wait_until("both clients have every stored event", || {
        stalled.drain();
        driver.drain();
        stalled.events.len() >= count && driver.events.len() >= count
    })
    .await;
    assert_eq!(stalled.seqs(session.id)[..count], (1..=last).collect::<Vec<_>>(), "every seq once, in order");
    let mut stored = Vec::new();
    while stored.len() < count {
        let page = driver
            .call(method::SESSION_EVENTS, json!({ "sessionId": session.id, "afterSeq": stored.len(), "limit": 1000 }))
            .await;
        let page: Vec<arbor_protocol::SessionEventNotification> =
            serde_json::from_value(page["events"].clone()).unwrap();
        stored.extend(page);
    }
    assert!(stalled.events[..count] == stored[..count], "what the client saw is what the store holds");
    assert!(driver.events[..count] == stored[..count]);
}

#[tokio::test]
async fn chunks_streamed_back_to_back_reach_every_client_whole_in_order_and_as_stored() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let _daemon = env.daemon().await;
    let mut live = env.socket_client().await;
    // One reply of 18,000 words with no pause between its chunks: those that wait together are
    // stored joined, which must change nothing a client can see but the number of events.
    let words: Vec<String> = (1..=18_000).map(|n| format!("w{n}")).collect();
    let session = live.scripted_session(&repo, &format!("say {}", words.join(" ")), None).await;
    live.wait_status(session.id, |status| status == SessionStatus::Running).await;
    live.subscribe(session.id, 0).await;
    live.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "go" })).await;
    live.wait_turns(session.id, 1).await;
    assert_eq!(live.reply_text(session.id).split_whitespace().collect::<Vec<_>>(), words, "every word once, in order");

    let last = live.get(session.id).await.last_seq;
    wait_until("the live client has every stored event", || {
        live.drain();
        live.events.len() >= last as usize
    })
    .await;
    assert_eq!(live.seqs(session.id)[..last as usize], (1..=last).collect::<Vec<_>>(), "every seq once, in order");
    // A client opening the session afterwards replays exactly what the live one saw.
    let mut later = env.socket_client().await;
    later.subscribe(session.id, 0).await;
    wait_until("the later client has replayed the session", || {
        later.drain();
        later.events.len() >= last as usize
    })
    .await;
    assert!(later.events[..last as usize] == live.events[..last as usize], "the replay is what was seen live");
    assert_eq!(later.reply_text(session.id), live.reply_text(session.id));
}
