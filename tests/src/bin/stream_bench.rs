//! Benchmark (not a test): streams events from N concurrent scripted sessions through the daemon
//! to one subscribed client and prints events/s, p50/p99 delivery latency and the daemon's memory,
//! beside a baseline measured in the same run: the same N scripted agents' output read straight
//! from their stdout pipes, with no Arbor in between.
//!
//! `cargo run --release -p arbor-tests --bin stream-bench -- [sessions] [chunks per session]`

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
fn memory_mib(pid: i32) -> (f64, f64) {
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

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
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

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let sessions: usize = args.next().and_then(|value| value.parse().ok()).unwrap_or(8);
    let chunks: usize = args.next().and_then(|value| value.parse().ok()).unwrap_or(2000);
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
            received += 1;
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

    println!(
        "stream-bench: {sessions} concurrent scripted sessions x {chunks} chunks, through the daemon to one client"
    );
    println!(
        "  baseline  {sessions} raw pipes (agent stdout read directly, no Arbor): {baseline_events} events in {:.3} s = {baseline_rate:.0} events/s",
        baseline_time.as_secs_f64()
    );
    println!(
        "  arbor     {received} events in {:.3} s = {rate:.0} events/s ({:.2} x baseline)",
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
