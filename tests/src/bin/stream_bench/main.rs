//! Benchmark (not a test) of events from agents through the daemon to subscribed clients, each
//! figure beside its baseline or goal in the same run:
//! - `scripted S N`: S scripted sessions of N chunks to one client, beside the same scripted
//!   agents' stdout read directly;
//! - `flood S N`: S flood agents (ACP agents writing pre-rendered updates as fast as the pipe
//!   takes them, `flood_agent.rs`) to one client, beside the same agents' pipes read directly;
//! - `replay N`: a stored session of N events delivered to a client subscribing from the start;
//! - `fairness N`: a quiet session's delivery latency and another client's request latency while
//!   one session floods N chunks;
//! - `steady S RATE SECONDS`: delivery latency percentiles, in microseconds, of S sessions writing
//!   RATE chunks a second each;
//! - `memory S`: the daemon's resident memory idle and with S live (idle) sessions.
//!
//! With no arguments every part runs with the defaults in [`main`].
//! `cargo run --release -p arbor-tests --bin stream-bench -- [part args…]`

mod counter;
mod flood_agent;
mod load;

use std::collections::HashSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use arbor_protocol::{SessionEvent, method};
use arbor_tests::{TestEnv, arbor_bin};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn script(chunks: usize) -> String {
    // The scripted agent streams three words per chunk.
    format!("say {}", "word ".repeat(chunks * 3).trim_end())
}

/// Memory of a process from /proc: (resident now, peak resident), in MiB.
pub fn memory_mib(pid: i32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

pub fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * fraction).round() as usize]
}

/// The baseline: one scripted agent driven over ACP directly, its updates counted off the pipe.
async fn raw_pipe(root: std::path::PathBuf, chunks: usize, index: usize) -> (usize, Duration) {
    let script_path = root.join(format!("baseline-{index}.script"));
    std::fs::write(&script_path, script(chunks)).unwrap();
    let mut child = tokio::process::Command::new(arbor_bin())
        .args(["scripted-agent", "--state-dir"])
        .arg(root.join("baseline-state"))
        .arg("--script")
        .arg(&script_path)
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut send = async |message: Value| {
        stdin.write_all(format!("{message}\n").as_bytes()).await.unwrap();
    };
    send(json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "protocolVersion": 1 } })).await;
    send(json!({ "jsonrpc": "2.0", "id": 2, "method": "session/new", "params": { "cwd": root, "mcpServers": [] } }))
        .await;
    let mut session_id = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        let message: Value = serde_json::from_str(&line).unwrap();
        if message["id"] == 2 {
            session_id = message["result"]["sessionId"].as_str().unwrap().to_string();
            break;
        }
    }
    let started = Instant::now();
    send(json!({ "jsonrpc": "2.0", "id": 3, "method": "session/prompt", "params": { "sessionId": session_id, "prompt": [{ "type": "text", "text": "go" }] } }))
        .await;
    let mut updates = 0;
    while let Some(line) = lines.next_line().await.unwrap() {
        let message: Value = serde_json::from_str(&line).unwrap();
        if message["method"] == "session/update" {
            updates += 1;
        }
        if message["id"] == 3 {
            break;
        }
    }
    (updates, started.elapsed())
}

/// The scripted part: the scripted agent's own stream through the daemon to one client.
async fn scripted(sessions: usize, chunks: usize) {
    let env = TestEnv::new();
    let baseline_started = Instant::now();
    let mut baselines = tokio::task::JoinSet::new();
    for index in 0..sessions {
        baselines.spawn(raw_pipe(env.root.clone(), chunks, index));
    }
    let mut baseline_events = 0;
    while let Some(result) = baselines.join_next().await {
        baseline_events += result.unwrap().0;
    }
    let baseline_time = baseline_started.elapsed();
    let baseline_rate = baseline_events as f64 / baseline_time.as_secs_f64();

    let daemon = env.daemon().await;
    let daemon_pid = daemon.id().unwrap() as i32;
    let (idle_rss, _) = memory_mib(daemon_pid);
    let mut client = env.socket_client().await;
    let repo = env.repo("repo");
    let text = script(chunks);
    let started = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..sessions {
        let session = client.scripted_session(&repo, &text, Some("go")).await;
        client.subscribe(session.id, 0).await;
        ids.push(session.id);
    }
    let mut pending: HashSet<uuid::Uuid> = ids.iter().copied().collect();
    let mut latencies = Vec::new();
    let mut received = 0usize;
    let mut consumed = 0usize;
    while !pending.is_empty() {
        let Some(&any) = pending.iter().next() else {
            break;
        };
        // Wait for any event, then account for everything that arrived.
        client.wait_event(any, |_| true).await;
        client.drain();
        for event in &client.events[consumed..] {
            let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
            latencies.push((now_ms - event.at) as f64);
            // The daemon joins chunks that wait together into one event; the scripted agent
            // writes three words a chunk, so the chunks an event carries are counted by its words.
            received += match &event.event {
                SessionEvent::AgentMessageChunk { text } => text.split_whitespace().count().div_ceil(3),
                _ => 1,
            };
            if matches!(event.event, SessionEvent::TurnEnded { .. }) {
                pending.remove(&event.session_id);
            }
        }
        consumed = client.events.len();
        // Keep memory flat over long runs: forget what has been counted.
        if consumed > 100_000 {
            client.events.clear();
            consumed = 0;
        }
    }
    let elapsed = started.elapsed();
    let (rss, peak_rss) = memory_mib(daemon_pid);
    let _ = client.call(method::SESSION_LIST, json!({})).await;
    latencies.sort_by(|a, b| a.total_cmp(b));
    let rate = received as f64 / elapsed.as_secs_f64();

    println!("scripted: {sessions} concurrent scripted sessions x {chunks} chunks, through the daemon to one client");
    println!(
        "  baseline  {sessions} raw pipes (agent stdout read directly, no Arbor): {baseline_events} updates in {:.3} s = {baseline_rate:.0} updates/s",
        baseline_time.as_secs_f64()
    );
    println!(
        "  arbor     {received} updates in {:.3} s = {rate:.0} updates/s ({:.2} x baseline)",
        elapsed.as_secs_f64(),
        rate / baseline_rate
    );
    println!(
        "  latency   agent event recorded -> client received: p50 {:.0} ms, p99 {:.0} ms (millisecond clock)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    println!(
        "  daemon    RSS idle {idle_rss:.1} MiB, after {rss:.1} MiB, peak {peak_rss:.1} MiB ({:.2} MiB per session over idle)",
        (peak_rss - idle_rss) / sessions as f64
    );
}

fn arg(args: &[String], index: usize, default: f64) -> f64 {
    args.get(index).map(|value| value.parse().expect("a number")).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let part = args.first().map(String::as_str).unwrap_or("all");
    let number = |index: usize, default: f64| arg(&args, index, default);
    match part {
        // The hidden agent mode: the daemon runs this binary as its flood agent.
        "flood-agent" => flood_agent::run().expect("the flood agent's pipes"),
        "scripted" => scripted(number(1, 8.0) as usize, number(2, 2000.0) as usize).await,
        "flood" => load::flood(number(1, 4.0) as usize, number(2, 100_000.0) as usize).await,
        "replay" => load::replay(number(1, 100_000.0) as usize).await,
        "fairness" => load::fairness(number(1, 100_000.0) as usize).await,
        "steady" => load::steady(number(1, 50.0) as usize, number(2, 100.0) as usize, number(3, 10.0)).await,
        "memory" => load::memory(number(1, 500.0) as usize).await,
        "all" => {
            scripted(8, 2000).await;
            load::flood(4, 100_000).await;
            load::replay(100_000).await;
            load::fairness(100_000).await;
            load::steady(50, 100, 10.0).await;
            load::memory(500).await;
        }
        other => panic!("unknown part {other}: scripted, flood, replay, fairness, steady, memory or all"),
    }
}
