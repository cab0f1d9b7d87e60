//! The parts of the benchmark that run flood agents through the daemon: throughput beside the raw
//! pipes, replay of a long session, fairness under a flood, latency at steady load and memory per
//! live session.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use arbor_protocol::{SessionStatus, method};
use arbor_tests::{Client, TestEnv};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use uuid::Uuid;

use crate::counter::Counter;
use crate::flood_agent::{Load, now_micros};
use crate::{memory_mib, percentile};

/// A daemon whose configuration offers the flood agent (this binary) with room for many sessions.
struct Bench {
    env: TestEnv,
    daemon: tokio::process::Child,
    client: Client,
    repo: PathBuf,
}

impl Bench {
    async fn start() -> Bench {
        let env = TestEnv::new();
        let agent = std::env::current_exe().expect("the benchmark's own path");
        env.write_config(json!({
            "limits": { "maxRunning": 10_000 },
            "acpAgents": { "flood": { "name": "Flood agent", "command": [agent, "flood-agent"] } },
        }));
        let daemon = env.daemon().await;
        let client = env.socket_client().await;
        let repo = env.repo("repo");
        Bench { env, daemon, client, repo }
    }

    fn pid(&self) -> i32 {
        self.daemon.id().expect("the daemon runs") as i32
    }

    async fn counter(&self) -> Counter {
        Counter::connect(&self.env.runtime_dir().join("arbor.sock")).await
    }

    /// Starts `count` flood sessions and waits until each one's agent runs.
    async fn sessions(&self, count: usize) -> Vec<Uuid> {
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            let session = self.client.call(method::SESSION_NEW, json!({ "cwd": self.repo, "agent": "flood" })).await;
            ids.push(session["id"].as_str().expect("an id").parse().expect("a uuid"));
        }
        for id in &ids {
            self.client.wait_status(*id, |status| status == SessionStatus::Running).await;
        }
        ids
    }

    async fn prompt(&self, session_id: Uuid, load: Load) {
        self.client.call(method::SESSION_PROMPT, json!({ "sessionId": session_id, "text": load.prompt() })).await;
    }
}

/// What a counter received until each of the sessions it waited for ended a turn.
#[derive(Default)]
struct Received {
    /// Session events.
    events: usize,
    /// Agent updates those events carried (see [`crate::counter::Seen::updates`]).
    updates: usize,
    /// The latency of every stamped chunk among them, in microseconds.
    latencies: Vec<f64>,
}

/// What a counter receives until each of `sessions` ends a turn.
async fn until_turns_end(counter: &mut Counter, sessions: &[Uuid]) -> Received {
    let mut waiting: std::collections::HashSet<Uuid> = sessions.iter().copied().collect();
    let mut received = Received::default();
    while !waiting.is_empty() {
        let seen = counter.next_event().await;
        if !waiting.contains(&seen.session_id) {
            continue;
        }
        received.events += 1;
        received.updates += seen.updates;
        let now = now_micros();
        received.latencies.extend(seen.stamped_micros.iter().map(|stamped| now.saturating_sub(*stamped) as f64));
        if seen.turn_ended {
            waiting.remove(&seen.session_id);
        }
    }
    received
}

/// The baseline: one flood agent driven over ACP directly, its updates counted off its pipe.
async fn raw_flood_pipe(root: PathBuf, chunks: usize) -> usize {
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("the benchmark's own path"))
        .arg("flood-agent")
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the flood agent");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::with_capacity(1 << 16, child.stdout.take().expect("stdout"));
    let requests = [
        json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "protocolVersion": 1 } }),
        json!({ "jsonrpc": "2.0", "id": 2, "method": "session/new", "params": { "cwd": "/", "mcpServers": [] } }),
        json!({ "jsonrpc": "2.0", "id": 3, "method": "session/prompt", "params": { "sessionId": "flood",
            "prompt": [{ "type": "text", "text": Load::Flood(chunks).prompt() }] } }),
    ];
    for request in requests {
        stdin.write_all(format!("{request}\n").as_bytes()).await.expect("write to the agent");
    }
    let (mut updates, mut line) = (0, Vec::new());
    loop {
        line.clear();
        if stdout.read_until(b'\n', &mut line).await.expect("read the agent") == 0 {
            return updates;
        }
        if line.windows(16).any(|window| window == b"\"session/update\"") {
            updates += 1;
        } else if line.windows(7).any(|window| window == b"\"id\":3,") {
            return updates;
        }
    }
}

/// `flood S N`: S agents flooding N chunks each, through the daemon to one client, beside their
/// pipes read directly.
pub async fn flood(sessions: usize, chunks: usize) {
    let bench = Bench::start().await;
    let started = Instant::now();
    let mut pipes = tokio::task::JoinSet::new();
    for _ in 0..sessions {
        pipes.spawn(raw_flood_pipe(bench.env.root.clone(), chunks));
    }
    let mut baseline_events = 0;
    while let Some(updates) = pipes.join_next().await {
        baseline_events += updates.expect("a baseline pipe");
    }
    let baseline_rate = baseline_events as f64 / started.elapsed().as_secs_f64();

    let ids = bench.sessions(sessions).await;
    let mut counter = bench.counter().await;
    for id in &ids {
        counter.subscribe(*id, 0).await;
    }
    let (idle_rss, _) = memory_mib(bench.pid());
    let started = Instant::now();
    for id in &ids {
        bench.prompt(*id, Load::Flood(chunks)).await;
    }
    let received = until_turns_end(&mut counter, &ids).await;
    let elapsed = started.elapsed().as_secs_f64();
    let (_, peak_rss) = memory_mib(bench.pid());
    let rate = received.updates as f64 / elapsed;
    println!("flood: {sessions} flood agents x {chunks} chunks, through the daemon to one client");
    println!(
        "  baseline  {sessions} raw pipes (read directly, no Arbor): {baseline_events} updates = {baseline_rate:.0} updates/s"
    );
    println!(
        "  arbor     {} updates in {elapsed:.3} s = {rate:.0} updates/s ({:.3} x baseline; goal >= 200000 and >= 0.25 x), \
         stored and delivered as {} events",
        received.updates,
        rate / baseline_rate,
        received.events
    );
    println!("  daemon    RSS before {idle_rss:.1} MiB, peak {peak_rss:.1} MiB");
}

/// `replay N`: a session of N stored chunks delivered to a client subscribing from the start.
pub async fn replay(chunks: usize) {
    let bench = Bench::start().await;
    let ids = bench.sessions(1).await;
    let mut live = bench.counter().await;
    live.subscribe(ids[0], 0).await;
    // Chunks that alternate between the message and the thinking are never joined, so the
    // session has as many stored events as the agent wrote chunks.
    bench.prompt(ids[0], Load::Alternating(chunks)).await;
    until_turns_end(&mut live, &ids).await;
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let mut counter = bench.counter().await;
        let started = Instant::now();
        let last_seq = counter.subscribe(ids[0], 0).await;
        while counter.next_event().await.seq < last_seq {}
        rounds.push(started.elapsed().as_secs_f64());
    }
    let events = bench.client.get(ids[0]).await.last_seq;
    let best = rounds.iter().copied().fold(f64::MAX, f64::min);
    println!("replay: a stored session of {events} events, subscribed from seq 0 by a new client (3 rounds)");
    println!(
        "  arbor     {} s = {:.0} events/s (goal < 0.25 s)",
        rounds.iter().map(|round| format!("{round:.3}")).collect::<Vec<_>>().join(" / "),
        events as f64 / best
    );
}

fn summary(samples: &mut [f64]) -> String {
    samples.sort_by(|a, b| a.total_cmp(b));
    format!(
        "p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms ({} samples)",
        percentile(samples, 0.5) / 1000.0,
        percentile(samples, 0.99) / 1000.0,
        percentile(samples, 0.999) / 1000.0,
        samples.last().copied().unwrap_or(0.0) / 1000.0,
        samples.len()
    )
}

/// `fairness N`: while one session floods N chunks, a quiet session writes 100 stamped chunks a
/// second (seen by the flood's own client and by another one), and a third client asks
/// `session/get` every 10 ms.
pub async fn fairness(chunks: usize) {
    let bench = Bench::start().await;
    let ids = bench.sessions(2).await;
    let (flooding, quiet) = (ids[0], ids[1]);
    let mut shared = bench.counter().await;
    shared.subscribe(flooding, 0).await;
    shared.subscribe(quiet, 0).await;
    let mut own = bench.counter().await;
    own.subscribe(quiet, 0).await;
    let requests = bench.env.socket_client().await;

    // The clients read from the start: a chunk waiting in a socket nobody reads yet would count
    // as a delivery delay (the 0.3 s "stall at the flood's start" once measured was that).
    let shared_task = tokio::spawn(async move { until_turns_end(&mut shared, &[flooding, quiet]).await });
    let own_task = tokio::spawn(async move { until_turns_end(&mut own, &[quiet]).await });
    let quiet_load = Load::Steady { rate: 100, seconds: 4.0 };
    bench.prompt(quiet, quiet_load).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    bench.prompt(flooding, Load::Flood(chunks)).await;
    let mut request_latencies = Vec::new();
    while !shared_task.is_finished() {
        let asked = Instant::now();
        requests.call(method::SESSION_GET, json!({ "sessionId": quiet })).await;
        request_latencies.push(asked.elapsed().as_secs_f64() * 1e6);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut shared_latencies = shared_task.await.expect("the shared client").latencies;
    let flood_time = started.elapsed().as_secs_f64();
    let mut own_latencies = own_task.await.expect("the quiet session's own client").latencies;
    println!(
        "fairness: one session floods {chunks} chunks while a quiet one writes 100 chunks/s for 4 s ({flood_time:.2} s in all)"
    );
    println!("  quiet, on the flood's client  {} (goal p99 < 10 ms)", summary(&mut shared_latencies));
    println!("  quiet, on its own client      {} (goal p99 < 10 ms)", summary(&mut own_latencies));
    println!("  session/get, a third client   {} (goal p99 < 20 ms)", summary(&mut request_latencies));
}

/// `steady S RATE SECONDS`: S sessions writing RATE stamped chunks a second each to one client.
pub async fn steady(sessions: usize, rate: usize, seconds: f64) {
    let bench = Bench::start().await;
    let ids = bench.sessions(sessions).await;
    let mut counter = bench.counter().await;
    for id in &ids {
        counter.subscribe(*id, 0).await;
    }
    // The counter reads from the first prompt on, so no chunk waits for it to start.
    let waited = ids.clone();
    let counting = tokio::spawn(async move { until_turns_end(&mut counter, &waited).await });
    for id in &ids {
        bench.prompt(*id, Load::Steady { rate, seconds }).await;
    }
    let mut latencies = counting.await.expect("the counter").latencies;
    println!(
        "steady: {sessions} sessions x {rate} chunks/s for {seconds} s = {} events/s, agent write -> client read",
        sessions * rate
    );
    println!("  latency   {} (goal p99 < 5 ms)", summary(&mut latencies));
}

/// `memory S`: the daemon's resident memory idle, with one live session, then with S more live
/// sessions waiting for a prompt.
pub async fn memory(sessions: usize) {
    let bench = Bench::start().await;
    let (idle, _) = memory_mib(bench.pid());
    // The first session loads what every session shares (the agent's facts, the store's pages).
    bench.sessions(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (one, _) = memory_mib(bench.pid());
    bench.sessions(sessions).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (live, peak) = memory_mib(bench.pid());
    println!("memory: the daemon idle, with 1 live session, then with {} live sessions", sessions + 1);
    println!(
        "  daemon    RSS idle {idle:.1} MiB (goal < 30), {one:.1} MiB with one, {live:.1} MiB with {} (peak {peak:.1}): {:.3} MiB per live session (goal < 0.2)",
        sessions + 1,
        (live - one) / sessions as f64
    );
}
