//! Benchmark (not a test) of a session's start on a host: the time from `session/new` to a running
//! session and to the agent's first reply, on a test host without a warm pool (every start
//! connects, pushes the repository and opens the host's session) and on one with a warm place
//! per start, in the same run, beside a session on this machine as the baseline.
//!
//! Needs root (the test host is a network namespace running Debian's OpenSSH server):
//! `cargo run --release -p arbor-tests --bin host-bench -- [rounds]`

use std::time::{Duration, Instant};

use arbor_protocol::{Session, SessionEvent, SessionStatus, method};
use arbor_tests::ssh_hosts::{HostSetup, TestHosts, unavailable};
use arbor_tests::{Client, TestEnv};
use serde_json::json;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Waits until the host has made `count` worktrees (every start's and the warm places'), and a
/// moment more for the last place's session to be in the pool.
async fn wait_for_places(hosts: &TestHosts, count: usize) {
    let dir = hosts.host("far").data_dir().join("worktrees");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(&dir).map(|entries| entries.count()).unwrap_or(0) < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
}

/// One start: (to running, to the first reply chunk).
async fn start(client: &mut Client, repo: &std::path::Path, host: &str) -> (Duration, Duration) {
    let started = Instant::now();
    let params =
        json!({ "cwd": repo, "agent": "scripted", "prompt": "go", "config": { "script": "say hi", "host": host } });
    let session: Session = serde_json::from_value(client.call(method::SESSION_NEW, params).await).expect("a session");
    client.subscribe(session.id, 0).await;
    client
        .wait_event(session.id, |event| {
            matches!(event, SessionEvent::StatusChanged { status: SessionStatus::Running, .. })
        })
        .await;
    let running = started.elapsed();
    client.wait_event(session.id, |event| matches!(event, SessionEvent::AgentMessageChunk { .. })).await;
    let replied = started.elapsed();
    client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await;
    (running, replied)
}

async fn measure(warm: bool, rounds: usize) -> Vec<(String, Duration, Duration)> {
    let env = TestEnv::new();
    let mut hosts = TestHosts::new(&env.root.join("hosts"));
    hosts.add("far", HostSetup::default());
    let mut far = json!({ "name": "far", "ssh": "far", "maxRunning": 64, "agents": ["scripted"] });
    if warm {
        far["warm"] = json!({ "scripted": 1 });
    }
    env.write_config(json!({ "sshCommand": hosts.ssh_command(), "hosts": [far] }));
    let repo = env.repo("repo");
    let _daemon = env.daemon().await;
    let mut client = env.socket_client().await;
    let mut results = Vec::new();
    if !warm {
        let (mut running, mut replied) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let (to_running, to_reply) = start(&mut client, &repo, "local").await;
            running.push(to_running);
            replied.push(to_reply);
        }
        results.push(("this machine (baseline)".to_string(), median(running), median(replied)));
    }
    // The first start on a host is always cold; with a warm pool it leaves a place behind.
    start(&mut client, &repo, "far").await;
    let (mut running, mut replied) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        if warm {
            // Time for the pool to prepare the place this start takes (it refills after each
            // start, in well under this).
            wait_for_places(&hosts, 2 + running.len()).await;
        }
        let (to_running, to_reply) = start(&mut client, &repo, "far").await;
        running.push(to_running);
        replied.push(to_reply);
    }
    let label = if warm { "host, warm place" } else { "host, cold start" };
    results.push((label.to_string(), median(running), median(replied)));
    results
}

#[tokio::main]
async fn main() {
    if let Some(reason) = unavailable() {
        eprintln!("host-bench cannot run here: {reason}");
        std::process::exit(2);
    }
    let rounds = std::env::args().nth(1).map(|value| value.parse::<usize>().expect("a number")).unwrap_or(7);
    let mut rows = measure(false, rounds).await;
    rows.extend(measure(true, rounds).await);
    println!("start of a scripted session, median of {rounds} (session/new to running | to the first reply):");
    let baseline = rows[0].2;
    for (label, running, replied) in &rows {
        println!(
            "{label:>24}: {:>7.1} ms | {:>7.1} ms  ({:.2}x this machine)",
            ms(*running),
            ms(*replied),
            replied.as_secs_f64() / baseline.as_secs_f64()
        );
    }
}
