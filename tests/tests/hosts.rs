//! Other machines as hosts: `arbor host add|list|check|remove` against test hosts made on this
//! machine (network namespaces running Debian's OpenSSH server; see `arbor_tests::ssh_hosts`).

use arbor_tests::TestEnv;
use arbor_tests::ssh_hosts::{HostSetup, TestHosts, loadavg_per_processor, unavailable};
use serde_json::{Value, json};

/// `arbor ARGS` with the test's directories: (succeeded, stdout, stderr).
async fn arbor(env: &TestEnv, args: &[&str]) -> (bool, String, String) {
    let output = env.command().args(args).env_remove("RUST_BACKTRACE").output().await.expect("run arbor");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// Skips the test (with the reason) where test hosts cannot be made.
macro_rules! require_test_hosts {
    () => {
        if let Some(reason) = unavailable() {
            eprintln!("skipped: {reason}");
            return;
        }
    };
}

#[tokio::test]
async fn hosts_are_added_listed_checked_and_removed() {
    require_test_hosts!();
    let env = TestEnv::new();
    let mut hosts = TestHosts::new(&env.root.join("hosts"));
    hosts.add("ready", HostSetup::default());
    hosts.add("bare", HostSetup { arbor: false, ..HostSetup::default() });
    // The file's other settings must survive every edit.
    env.write_config(json!({ "limits": { "maxRunning": 3 }, "sshCommand": hosts.ssh_command() }));

    let (ok, out, err) =
        arbor(&env, &["host", "add", "ready", "ready", "--agent", "scripted", "--max-running", "2"]).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("added host ready"), "{out}");
    let (ok, _, err) = arbor(&env, &["host", "add", "bare", "bare", "--agent", "scripted", "--label", "big"]).await;
    assert!(ok, "{err}");

    // Mistakes are refused with the reason, and the file is left as it was.
    let before = std::fs::read_to_string(env.config_file()).unwrap();
    let (ok, _, err) = arbor(&env, &["host", "add", "ready", "elsewhere"]).await;
    assert!(!ok && err.contains("\"ready\" is configured twice"), "{err}");
    let (ok, _, err) = arbor(&env, &["host", "add", "evil", "--", "-oProxyCommand=touch /tmp/owned"]).await;
    assert!(!ok && err.contains("must be user@host"), "{err}");
    let (ok, _, err) = arbor(&env, &["host", "add", "zero", "x", "--max-running", "0"]).await;
    assert!(!ok && err.contains("maxRunning must be at least 1"), "{err}");
    assert_eq!(std::fs::read_to_string(env.config_file()).unwrap(), before);
    let config: Value = serde_json::from_str(&before).unwrap();
    assert_eq!(config["limits"]["maxRunning"], 3);
    assert_eq!(
        config["hosts"][0],
        json!({"name": "ready", "ssh": "ready", "maxRunning": 2, "agents": ["scripted"], "labels": []})
    );

    let (ok, out, _) = arbor(&env, &["host", "list"]).await;
    assert!(ok);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("NAME") && lines[1].starts_with("ready ") && lines[2].starts_with("bare "), "{out}");
    assert!(lines[2].contains("scripted") && lines[2].ends_with("big"), "{out}");

    // The check speaks Arbor's protocol to each host over ssh.
    let (ok, out, err) = arbor(&env, &["host", "check"]).await;
    assert!(!ok && err.contains("1 of 2 hosts cannot run sessions"), "{out}{err}");
    let version = env!("CARGO_PKG_VERSION");
    assert!(out.contains("ready (ready): ready"), "{out}");
    assert!(out.contains(&format!("  arbor {version}")), "{out}");
    assert!(out.contains("  agents: scripted"), "{out}");
    assert!(out.contains("bare (bare): cannot run sessions"), "{out}");
    assert!(out.contains("missing: arbor is not installed on the host"), "{out}");

    let (ok, out, err) = arbor(&env, &["host", "check", "ready", "--json"]).await;
    assert!(ok, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let report = &report[0];
    assert_eq!(report["ready"], true, "{report}");
    assert_eq!(report["arborVersion"], version);
    // The hosts link /usr/bin/git, which need not be the git first on this PATH.
    let git = std::process::Command::new("/usr/bin/git").arg("--version").output().unwrap();
    let git = String::from_utf8_lossy(&git.stdout).trim().trim_start_matches("git version ").to_string();
    assert_eq!(report["gitVersion"], git.as_str());
    let scripted = report["agents"].as_array().unwrap().iter().find(|agent| agent["id"] == "scripted").unwrap();
    assert_eq!(scripted["available"], true);
    // The load placement reads: the test host shares this machine's kernel, so its load per
    // processor is this machine's (loosely: the two readings are moments apart).
    let load = report["load"].as_f64().expect("the host's load");
    let here: f64 =
        std::fs::read_to_string("/proc/loadavg").unwrap().split_whitespace().next().unwrap().parse().unwrap();
    let here = here / std::thread::available_parallelism().unwrap().get() as f64;
    assert!(load >= 0.0 && (load - here).abs() < 1.0, "the host's load {load} beside this machine's {here}");
    // The host's Arbor kept to its own home: nothing of it in the test's data directory.
    assert!(hosts.host("ready").dir.join("home/.local/share/arbor").is_dir());

    let (ok, out, _) = arbor(&env, &["host", "remove", "bare"]).await;
    assert!(ok && out.contains("removed host bare"), "{out}");
    let (ok, _, err) = arbor(&env, &["host", "remove", "bare"]).await;
    assert!(!ok && err.contains("no host named \"bare\""), "{err}");
    let (ok, out, _) = arbor(&env, &["host", "check"]).await;
    assert!(ok, "{out}");
}

#[tokio::test]
async fn a_host_with_an_unknown_key_or_a_cut_link_is_reported_not_trusted_blindly() {
    require_test_hosts!();
    let env = TestEnv::new();
    let mut hosts = TestHosts::new(&env.root.join("hosts"));
    hosts.add("impostor", HostSetup { wrong_host_key: true, ..HostSetup::default() });
    hosts.add("far", HostSetup::default());
    env.write_config(json!({
        "sshCommand": hosts.ssh_command(),
        "hosts": [
            { "name": "impostor", "ssh": "impostor", "agents": ["scripted"] },
            { "name": "far", "ssh": "far", "agents": ["scripted", "nonesuch"] },
        ],
    }));

    let (ok, out, _) = arbor(&env, &["host", "check", "impostor"]).await;
    assert!(!ok, "{out}");
    assert!(out.contains("missing: cannot reach impostor over ssh: Host key verification failed."), "{out}");

    // An agent the host lacks is named.
    let (ok, out, _) = arbor(&env, &["host", "check", "far"]).await;
    assert!(!ok, "{out}");
    assert!(out.contains("missing: the host's arbor does not know the agent nonesuch"), "{out}");

    hosts.host("far").set_link(false);
    let (ok, out, _) = arbor(&env, &["host", "check", "far"]).await;
    assert!(!ok, "{out}");
    assert!(out.contains("missing: cannot reach far over ssh:"), "{out}");
    assert!(!out.contains("arbor "), "nothing is reported from a host that was not reached: {out}");
    hosts.host("far").set_link(true);
    let (_, out, _) = arbor(&env, &["host", "check", "far", "--json"]).await;
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report[0]["problems"], json!(["the host's arbor does not know the agent nonesuch"]), "{out}");
}

/// The columns of host `name`'s line of `arbor host list`: name, ssh, running, load, agents.
fn host_line(listed: &str, name: &str) -> Vec<String> {
    let line = listed.lines().find(|line| line.split_whitespace().next() == Some(name));
    line.unwrap_or_else(|| panic!("no line for {name} in {listed}")).split_whitespace().map(str::to_string).collect()
}

#[tokio::test]
async fn host_list_shows_each_hosts_running_sessions_and_reported_load_as_the_daemon_knows_them() {
    require_test_hosts!();
    let env = TestEnv::new();
    let mut hosts = TestHosts::new(&env.root.join("hosts"));
    hosts.add("busy", HostSetup { loadavg: Some(loadavg_per_processor(0.95)), ..HostSetup::default() });
    // A host whose key the client does not trust never answers the daemon's question.
    hosts.add("impostor", HostSetup { wrong_host_key: true, ..HostSetup::default() });
    env.write_config(json!({
        "sshCommand": hosts.ssh_command(),
        "hosts": [
            { "name": "busy", "ssh": "busy", "agents": ["scripted"] },
            { "name": "impostor", "ssh": "impostor", "agents": ["scripted"] },
        ],
    }));

    // No daemon runs: nothing runs anywhere and no load is known, and listing starts none.
    let (ok, out, err) = arbor(&env, &["host", "list"]).await;
    assert!(ok, "{out}{err}");
    assert!(out.lines().next().unwrap().split_whitespace().eq(["NAME", "SSH", "RUNNING", "LOAD", "AGENTS", "LABELS"]));
    assert_eq!(host_line(&out, "busy"), ["busy", "busy", "0/4", "-", "scripted"]);
    assert!(!env.runtime_dir().join("arbor.sock").exists(), "no daemon was started");

    let _daemon = env.daemon().await;
    let client = env.socket_client().await;
    let repo = env.repo("repo");
    let session = client
        .call(
            arbor_protocol::method::SESSION_NEW,
            json!({ "cwd": repo, "agent": "scripted", "prompt": "hi", "config": { "script": "say hi", "host": "busy" } }),
        )
        .await;
    let id: uuid::Uuid = serde_json::from_value(session["id"].clone()).unwrap();
    let deadline = tokio::time::Instant::now() + arbor_tests::WAIT;
    let listed = loop {
        let (ok, out, err) = arbor(&env, &["host", "list"]).await;
        assert!(ok, "{out}{err}");
        if host_line(&out, "busy")[2..4] == ["1/4", "0.95/cpu"] {
            break out;
        }
        assert!(tokio::time::Instant::now() < deadline, "the daemon never reported the session and load: {out}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(host_line(&listed, "busy"), ["busy", "busy", "1/4", "0.95/cpu", "scripted"]);
    assert_eq!(host_line(&listed, "impostor"), ["impostor", "impostor", "0/4", "-", "scripted"], "unknown load");
    assert_eq!(client.get(id).await.host.as_deref(), Some("busy"));
}
