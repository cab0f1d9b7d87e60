//! Benchmark (not a test) of a sandbox's start-up overhead: the time from `session/new` to a
//! running scripted agent (its process started, the ACP handshake done), unsandboxed and in each
//! backend that works on this machine, in the same run.
//!
//! `cargo run --release -p arbor-tests --bin sandbox-bench -- [rounds]`

use std::time::{Duration, Instant};

use arbor_protocol::{SessionEvent, SessionStatus, method};
use arbor_tests::TestEnv;
use serde_json::{Value, json};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main]
async fn main() {
    let rounds = std::env::args().nth(1).map(|value| value.parse::<usize>().expect("a number")).unwrap_or(15);
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let _daemon = env.daemon().await;
    let mut client = env.socket_client().await;
    let report = client.call(method::AGENTS_LIST, Value::Null).await["sandbox"].clone();
    let mut backends = vec![("none".to_string(), "off", "unsandboxed".to_string())];
    for status in report["backends"].as_array().expect("backends") {
        let name = status["backend"].as_str().expect("a name").to_string();
        if status["available"] == true {
            let detail = status["detail"].as_str().unwrap_or_default().to_string();
            // With bwrap, `model_api` adds the forwarder process in front of the agent.
            for network in ["off", "model_api"] {
                backends.push((name.clone(), network, detail.clone()));
            }
        } else {
            println!("{name:>10}: not available here ({})", status["detail"]);
        }
    }
    println!("start-up of the scripted agent, median of {rounds} (session/new to a running agent):");
    let mut baseline = None;
    for (backend, network, detail) in backends {
        let mut samples = Vec::new();
        for _ in 0..rounds {
            let started = Instant::now();
            let params = json!({ "cwd": repo, "agent": "scripted", "config": { "script": "say hi", "sandbox": backend, "network": network } });
            let session: arbor_protocol::Session =
                serde_json::from_value(client.call(method::SESSION_NEW, params).await).expect("a session");
            client.subscribe(session.id, 0).await;
            client
                .wait_event(session.id, |event| {
                    matches!(event, SessionEvent::StatusChanged { status: SessionStatus::Running, .. })
                })
                .await;
            samples.push(started.elapsed());
            client
                .call(method::SESSION_DELETE, json!({ "sessionId": session.id, "deleteBranch": true, "force": true }))
                .await;
        }
        let median = median(samples);
        let base = *baseline.get_or_insert(median);
        let overhead = median.as_secs_f64() * 1000.0 - base.as_secs_f64() * 1000.0;
        let name = format!("{backend} ({network})");
        println!("{name:>22}: {:7.1} ms ({overhead:+6.1} ms)  {detail}", median.as_secs_f64() * 1000.0);
    }
}
