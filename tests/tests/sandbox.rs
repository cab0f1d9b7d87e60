//! The sandbox per session, end to end through the real binary: the backends found at start-up,
//! the real Claude Code CLI working inside one against the mock model API through the forwarder,
//! and a real shell inside the same sandbox failing at every escape a user would fear.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use arbor_protocol::{SandboxBackend, Session, SessionEvent, SessionStatus, method};
use arbor_tests::agents::{claude_bash, claude_write, conversation};
use arbor_tests::mock_api::MockApi;
use arbor_tests::{Client, Server, TestEnv, pids_working_in, wait_until};
use serde_json::{Value, json};

/// `arbor lsp --standalone` whose own HOME is `home`, so a canary there stands for the user's
/// real home.
async fn server_with_home(env: &TestEnv, home: &Path) -> Server {
    let mut child = env
        .command()
        .args(["lsp", "--standalone"])
        .env("HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn arbor");
    let (stdin, stdout) = (child.stdin.take().expect("stdin"), child.stdout.take().expect("stdout"));
    let client = Client::new(stdout, stdin);
    client.initialize().await;
    Server { child, client }
}

/// Whether `backend` works here according to `agents/list`; when it does not, says so on stderr
/// with the server's reason, so a skipped test is never silent.
async fn backend_works(client: &Client, backend: &str) -> bool {
    let report = client.call(method::AGENTS_LIST, Value::Null).await["sandbox"].clone();
    let status = report["backends"].as_array().expect("backends").iter().find(|status| status["backend"] == backend);
    let status = status.unwrap_or_else(|| panic!("agents/list does not report the {backend} backend: {report}"));
    if status["available"] != true {
        eprintln!("SKIPPED: the {backend} sandbox is not available here: {}", status["detail"]);
    }
    status["available"] == true
}

/// Every backend, strongest first, as `agents/list` reports them.
const BACKENDS: [&str; 3] = ["bwrap", "landlock", "container"];

/// A scratch repository and a server, when `backend` works here (for the container, once its image
/// is built).
async fn server_for(backend: &str) -> Option<(TestEnv, PathBuf, Server)> {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    if backend == "container" && !container_image_built(&env).await {
        return None;
    }
    let server = env.standalone().await;
    backend_works(&server.client, backend).await.then_some((env, repo, server))
}

/// Stops the session and waits until no process or container of its sandbox is left.
async fn stop_and_expect_nothing_left(client: &Client, session: &Session) {
    client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await;
    wait_until("no process of the sandbox is left", || pids_working_in(Path::new(&session.cwd)).is_empty()).await;
    wait_until("no container of the sandbox is left", || containers_of(session).is_empty()).await;
}

struct Escapes {
    env: TestEnv,
    repo: PathBuf,
    home: PathBuf,
    listener: std::net::TcpListener,
}

impl Escapes {
    fn new() -> Escapes {
        let env = TestEnv::new();
        let repo = env.repo("repo");
        let home = env.root.join("real-home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::write(home.join(".ssh/id_canary"), "CANARY-SECRET\n").unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        Escapes { env, repo, home, listener }
    }

    /// A file in the system directories no run of this test has written before.
    fn system_file(&self) -> PathBuf {
        Path::new("/usr").join(format!("{}-escaped", self.env.root.file_name().unwrap().to_string_lossy()))
    }

    /// One turn of shell commands, each of which must fail inside the sandbox, after one that
    /// must work.
    fn script(&self, other_worktree: &Path) -> String {
        let port = self.listener.local_addr().unwrap().port();
        let data = self.env.data_dir();
        [
            "run echo inside > made-inside.txt && cat made-inside.txt".to_string(),
            format!("run touch {}/escaped.txt && echo ESCAPED", self.repo.display()),
            format!("run echo x > {} && echo ESCAPED", self.system_file().display()),
            format!("run cat {}/.ssh/id_canary", self.home.display()),
            format!("run ls {} && echo ESCAPED", other_worktree.display()),
            format!("run cat {}/arbor.db > /dev/null && echo ESCAPED", data.display()),
            format!("run bash -c 'echo hello > /dev/tcp/127.0.0.1/{port}' && echo ESCAPED"),
            "run mount -o remount,rw / && echo ESCAPED".to_string(),
            "run unshare -r true && echo ESCAPED".to_string(),
            "run grep CapEff /proc/self/status".to_string(),
            "run cat /etc/shadow | head -c 20 | grep -q . && echo ESCAPED".to_string(),
        ]
        .join("\n")
    }

    async fn check(&self, backend: &str) {
        let mut server = server_with_home(&self.env, &self.home).await;
        let client = &mut server.client;
        if !backend_works(client, backend).await {
            return;
        }
        let other = client.scripted_session(&self.repo, "say idle", None).await;
        let script = self.script(Path::new(&other.cwd));
        let config = json!({ "script": script, "sandbox": backend, "network": "model_api" });
        let session = client.agent_session(&self.repo, "scripted", None, config).await;
        let shown = session.sandbox.clone().expect("the session shows its sandbox");
        assert_eq!(serde_json::to_value(shown.backend).unwrap(), json!(backend));
        client.prompt_and_wait(session.id, "try to escape", 1).await;
        let results = client.command_results(session.id);
        assert_eq!(results.len(), 11, "{results:#?}");
        assert_eq!(results[0], ("inside\n".to_string(), Some(0)), "the worktree is writable");
        assert!(Path::new(&session.cwd).join("made-inside.txt").exists());
        // The user's checkout may appear as an empty mount point in the sandbox's private /tmp
        // (the test's directories live under /tmp); what matters is that nothing lands in it.
        assert!(!self.repo.join("escaped.txt").exists(), "writing to the user's checkout in {backend}");
        assert!(!self.system_file().exists(), "writing to the system in {backend}");
        let names = [
            "writing to the system",
            "reading a key in the real home",
            "listing another session's worktree",
            "reading the data directory",
            "reaching a listener on another local port",
            "remounting",
            "a new user namespace",
        ];
        for (name, (output, code)) in names.iter().zip(&results[2..9]) {
            assert_ne!(*code, Some(0), "{name} must fail in {backend}: {output}");
            assert!(!output.contains("ESCAPED") && !output.contains("CANARY"), "{name} in {backend}: {output}");
        }
        assert!(results[9].0.contains("CapEff:\t0000000000000000"), "no capabilities in {backend}: {:?}", results[9]);
        assert!(!results[10].0.contains("ESCAPED"), "the shadow file is hidden in {backend}: {:?}", results[10]);
        assert!(self.listener.set_nonblocking(true).is_ok() && self.listener.accept().is_err(), "nothing connected");

        stop_and_expect_nothing_left(client, &session).await;
    }
}

#[tokio::test]
async fn agents_list_reports_the_backends_that_work_here() {
    let env = TestEnv::new();
    let server = env.standalone().await;
    let report = server.client.call(method::AGENTS_LIST, Value::Null).await["sandbox"].clone();
    let backends: Vec<&str> =
        report["backends"].as_array().unwrap().iter().map(|status| status["backend"].as_str().unwrap()).collect();
    assert_eq!(backends, ["bwrap", "landlock", "container"], "strongest first: {report}");
    for status in report["backends"].as_array().unwrap() {
        assert!(!status["detail"].as_str().unwrap().is_empty(), "every backend says what was found: {status}");
    }
    let first_working = report["backends"].as_array().unwrap().iter().find(|status| status["available"] == true);
    match first_working {
        Some(status) => assert_eq!(report["auto"], status["backend"], "auto picks the strongest working backend"),
        None => assert!(report["reason"].as_str().is_some_and(|reason| !reason.is_empty()), "{report}"),
    }
    assert!(report["limits"] == "cgroup" || report["limits"] == "rlimit", "{report}");
}

#[tokio::test]
async fn a_shell_in_bwrap_cannot_escape() {
    Escapes::new().check("bwrap").await;
}

#[tokio::test]
async fn a_shell_under_landlock_cannot_escape() {
    Escapes::new().check("landlock").await;
}

/// Builds the container image with `arbor sandbox build-image` when a container engine is there
/// but the image is not; false (said on stderr) when there is no engine.
async fn container_image_built(env: &TestEnv) -> bool {
    let server = env.standalone().await;
    let report = server.client.call(method::AGENTS_LIST, Value::Null).await["sandbox"].clone();
    drop(server);
    let status = report["backends"].as_array().unwrap().iter().find(|status| status["backend"] == "container").cloned();
    let detail = status.as_ref().map(|status| status["detail"].to_string()).unwrap_or_default();
    if detail.contains("neither podman nor") {
        eprintln!("SKIPPED: no container engine here: {detail}");
        return false;
    }
    if !detail.contains("build-image") {
        return true;
    }
    let built = env.command().args(["sandbox", "build-image"]).output().await.expect("run build-image");
    assert!(built.status.success(), "build-image: {}", String::from_utf8_lossy(&built.stderr));
    assert!(String::from_utf8_lossy(&built.stdout).contains("built localhost/arbor-sandbox"), "{built:?}");
    true
}

/// The containers of `session` that still exist, running or not.
fn containers_of(session: &Session) -> Vec<String> {
    let listed = std::process::Command::new("podman").args(["ps", "-a", "--format", "{{.Names}}"]).output();
    let prefix = format!("arbor-{}", session.id.simple());
    let names = listed.map(|output| String::from_utf8_lossy(&output.stdout).into_owned()).unwrap_or_default();
    names.lines().filter(|name| name.starts_with(&prefix)).map(String::from).collect()
}

#[tokio::test]
async fn build_image_makes_the_container_backend_work_without_a_registry() {
    let env = TestEnv::new();
    if !container_image_built(&env).await {
        return;
    }
    let server = env.standalone().await;
    assert!(backend_works(&server.client, "container").await, "the container backend works once the image is built");
}

#[tokio::test]
async fn a_shell_in_a_container_cannot_escape() {
    let escapes = Escapes::new();
    if container_image_built(&escapes.env).await {
        escapes.check("container").await;
    }
}

#[tokio::test]
async fn an_unavailable_backend_is_refused_with_its_reason() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let server = env.standalone().await;
    let report = server.client.call(method::AGENTS_LIST, Value::Null).await["sandbox"].clone();
    let Some(unavailable) = report["backends"].as_array().unwrap().iter().find(|status| status["available"] == false)
    else {
        eprintln!("SKIPPED: every backend works here: {report}");
        return;
    };
    let backend = unavailable["backend"].as_str().unwrap();
    let params = json!({ "cwd": repo, "agent": "scripted", "config": { "sandbox": backend } });
    let error = server.client.try_call(method::SESSION_NEW, params).await.unwrap_err();
    assert_eq!(error.code, arbor_protocol::error_code::INVALID_ARGUMENT);
    assert!(error.message.contains(&format!("{backend} sandbox is not available")), "{}", error.message);
    assert!(error.message.contains(unavailable["detail"].as_str().unwrap()), "with its reason: {}", error.message);
}

#[tokio::test]
async fn trials_and_bypass_default_to_auto_and_ask_sessions_to_none() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let auto = client.call(method::AGENTS_LIST, Value::Null).await["sandbox"]["auto"].clone();
    let config = json!({ "script": "say hi", "permissionMode": "bypass_permissions" });
    let bypass = client.agent_session(&repo, "scripted", None, config).await;
    let expected = serde_json::from_value::<Option<SandboxBackend>>(auto).unwrap().unwrap_or(SandboxBackend::None);
    assert_eq!(bypass.sandbox.unwrap().backend, expected);
    let ask = client.agent_session(&repo, "scripted", None, json!({ "script": "say hi" })).await;
    assert_eq!(ask.sandbox.unwrap().backend, SandboxBackend::None);
}

#[tokio::test]
async fn the_sandbox_is_chosen_by_the_config_file_a_profile_or_a_trial_and_shown_on_the_session() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let probe = env.standalone().await;
    let auto = probe.client.call(method::AGENTS_LIST, Value::Null).await["sandbox"]["auto"].clone();
    drop(probe);
    let Some(backend) = serde_json::from_value::<Option<SandboxBackend>>(auto).unwrap() else {
        eprintln!("SKIPPED: no sandbox backend works here");
        return;
    };
    let unconfined = json!({ "agent": "scripted", "config": { "script": "say hi", "sandbox": "none" } });
    env.write_config(json!({ "sandbox": backend, "profiles": { "unconfined": unconfined } }));
    let server = env.standalone().await;
    let client = &server.client;
    let backend_of = |session: Value| serde_json::from_value::<Session>(session).unwrap().sandbox.unwrap().backend;
    let asked = json!({ "cwd": repo, "agent": "scripted", "config": { "script": "say hi" } });
    assert_eq!(backend_of(client.call(method::SESSION_NEW, asked).await), backend, "the config file's choice");
    let profiled = json!({ "cwd": repo, "profile": "unconfined" });
    assert_eq!(backend_of(client.call(method::SESSION_NEW, profiled).await), SandboxBackend::None, "the profile's");
    let task = client.call(method::TASK_NEW, json!({ "cwd": repo, "title": "choose", "description": "choose" })).await;
    let trials = json!([
        { "agent": "scripted", "config": { "script": "say hi" } },
        { "agent": "scripted", "config": { "script": "say hi", "sandbox": "none" } },
    ]);
    let started = client.call(method::TRIAL_NEW, json!({ "taskId": task["id"], "trials": trials })).await;
    let shown: Vec<SandboxBackend> =
        started["trials"].as_array().unwrap().iter().map(|trial| backend_of(trial["sessions"][0].clone())).collect();
    assert_eq!(shown, [backend, SandboxBackend::None], "a trial's own choice, else the config file's");
}

#[tokio::test]
async fn network_off_reaches_nothing_on_reaches_the_host_and_the_sandbox_sees_only_its_own_processes() {
    for backend in BACKENDS {
        let Some((_env, repo, mut server)) = server_for(backend).await else { continue };
        let client = &mut server.client;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connect = format!("run bash -c 'echo hello > /dev/tcp/127.0.0.1/{port}' && echo CONNECTED");
        let mut results = Vec::new();
        for network in ["off", "on"] {
            let script = format!("{connect}\nrun ls /proc | grep -c '^[0-9]'");
            let config = json!({ "script": script, "sandbox": backend, "network": network });
            let session = client.agent_session(&repo, "scripted", None, config).await;
            assert_eq!(serde_json::to_value(session.sandbox.as_ref().unwrap().network).unwrap(), json!(network));
            client.prompt_and_wait(session.id, "connect", 1).await;
            results.push(client.command_results(session.id));
            stop_and_expect_nothing_left(client, &session).await;
        }
        let (off, on) = (&results[0], &results[1]);
        assert!(off[0].1 != Some(0) && !off[0].0.contains("CONNECTED"), "network off in {backend}: {off:?}");
        assert_eq!(on[0], ("CONNECTED\n".to_string(), Some(0)), "network on in {backend}");
        listener.set_nonblocking(true).unwrap();
        assert!(listener.accept().is_ok(), "the connection reached the host's listener from {backend}");
        let processes: usize = off[1].0.trim().parse().unwrap();
        if backend == "landlock" {
            eprintln!("NOTE: Landlock has no PID namespace: the agent sees {processes} processes");
        } else {
            assert!(processes < 16, "{backend} shows only the sandbox's own processes: {processes}");
        }
    }
}

#[tokio::test]
async fn a_fork_bomb_is_held_by_the_limit_and_reported() {
    for backend in BACKENDS {
        let Some((_env, repo, mut server)) = server_for(backend).await else { continue };
        let client = &mut server.client;
        let script = "run i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done; echo started; wait";
        let config = json!({ "script": script, "sandbox": backend, "maxProcesses": 32 });
        let session = client.agent_session(&repo, "scripted", None, config).await;
        assert_eq!(session.sandbox.as_ref().unwrap().max_processes, 32);
        client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "fork" })).await;
        client
            .wait_event(
                session.id,
                |event| matches!(event, SessionEvent::Error { message, .. } if message.contains("limit of 32 processes")),
            )
            .await;
        let held = pids_working_in(Path::new(&session.cwd)).len();
        assert!(held <= 32, "the limit holds in {backend}: {held} processes");
        stop_and_expect_nothing_left(client, &session).await;
    }
}

/// The message a session shows when its agent outgrew its memory limit.
fn memory_limit_hit(event: &SessionEvent, megabytes: u64) -> bool {
    matches!(event, SessionEvent::Error { message, .. } if message.contains(&format!("memory limit of {megabytes} MiB")))
}

#[tokio::test]
async fn a_memory_hog_is_held_by_the_limit_and_reported_while_the_rest_carries_on() {
    for backend in BACKENDS {
        let Some((_env, repo, mut server)) = server_for(backend).await else { continue };
        let client = &mut server.client;
        let bystander = json!({ "script": "say still here", "sandbox": backend });
        let bystander = client.agent_session(&repo, "scripted", None, bystander).await;
        // A shell variable of 600 MB, read from a pipe, in a session bounded to 128 MiB.
        let script = "run x=$(head -c 600000000 /dev/zero | tr '\\0' a); echo ALLOCATED ${#x}";
        let config = json!({ "script": script, "sandbox": backend, "maxMemoryMb": 128 });
        let session = client.agent_session(&repo, "scripted", None, config).await;
        assert_eq!(session.sandbox.as_ref().unwrap().max_memory_mb, 128);
        client.prompt_and_wait(session.id, "allocate", 1).await;
        let results = client.command_results(session.id);
        assert_eq!(results.len(), 1, "{results:?}");
        assert!(
            !results[0].0.contains("ALLOCATED") && results[0].1 != Some(0),
            "the allocation failed in {backend}: {results:?}"
        );
        let limits = session.sandbox.as_ref().unwrap().limits_enforced_by.clone();
        if limits == "cgroup" {
            client.wait_event(session.id, |event| memory_limit_hit(event, 128)).await;
        } else {
            eprintln!("NOTE: limits are rlimits here ({limits}): a hit is not reported");
        }
        // The server and another session carry on.
        client.prompt_and_wait(bystander.id, "are you there?", 1).await;
        assert_eq!(client.reply_text(bystander.id), "still here");
        assert_eq!(client.get(session.id).await.status, SessionStatus::Running, "only the hog was killed in {backend}");
        assert!(
            !client.events.iter().any(|event| event.session_id == bystander.id && memory_limit_hit(&event.event, 128))
        );
        stop_and_expect_nothing_left(client, &session).await;
        stop_and_expect_nothing_left(client, &bystander).await;
    }
}

#[tokio::test]
async fn resume_keeps_the_private_home() {
    for backend in BACKENDS {
        let Some((env, repo, mut server)) = server_for(backend).await else { continue };
        let client = &mut server.client;
        let script = "run echo kept > $HOME/note && echo $HOME\nturn\nrun cat $HOME/note";
        let config = json!({ "script": script, "sandbox": backend });
        let session = client.agent_session(&repo, "scripted", None, config).await;
        client.prompt_and_wait(session.id, "one", 1).await;
        let home = client.command_results(session.id)[0].0.trim().to_string();
        let private = env.data_dir().join("sandboxes").join(session.id.to_string()).join("home");
        assert_eq!(Path::new(&home), private, "a private HOME under the data directory in {backend}");
        stop_and_expect_nothing_left(client, &session).await;
        client.resume_and_wait(session.id, "two", 2).await;
        let results = client.command_results(session.id);
        assert_eq!(results.last().unwrap(), &("kept\n".to_string(), Some(0)), "{backend}: {results:?}");
        stop_and_expect_nothing_left(client, &session).await;
    }
}

#[tokio::test]
async fn a_setuid_root_binary_gives_no_privilege() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: only root can prepare a setuid-root binary");
        return;
    }
    for backend in BACKENDS {
        let Some((_env, repo, mut server)) = server_for(backend).await else { continue };
        let client = &mut server.client;
        let script = [
            "run grep -E '^(Uid|CapEff|NoNewPrivs):' /proc/self/status",
            "run ./setuid-cat /proc/self/status | grep -E '^(Uid|CapEff|NoNewPrivs):'",
            "run su -c 'echo ESCAPED' root",
            "run ./setuid-cat /etc/shadow | grep -q . && echo ESCAPED",
        ]
        .join("\n");
        let session =
            client.agent_session(&repo, "scripted", None, json!({ "script": script, "sandbox": backend })).await;
        // A copy of cat that is setuid root, in the worktree, where the agent can run it.
        let setuid = Path::new(&session.cwd).join("setuid-cat");
        std::fs::copy("/bin/cat", &setuid).unwrap();
        std::fs::set_permissions(&setuid, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).unwrap();
        client.prompt_and_wait(session.id, "escalate", 1).await;
        let results = client.command_results(session.id);
        assert_eq!(results.len(), 4, "{results:#?}");
        let (before, after) = (&results[0].0, &results[1].0);
        assert_eq!(results[1].1, Some(0), "the setuid binary runs in {backend}: {after}");
        assert_eq!(after, before, "executing a setuid-root binary changes no credential in {backend}");
        let uids: Vec<&str> =
            after.lines().find_map(|line| line.strip_prefix("Uid:")).unwrap().split_whitespace().collect();
        assert!(
            uids.iter().all(|uid| *uid == uids[0]),
            "real, effective, saved and file uid are one in {backend}: {uids:?}"
        );
        assert!(after.contains("CapEff:\t0000000000000000") && after.contains("NoNewPrivs:\t1"), "{backend}: {after}");
        for (name, (output, code)) in
            ["su", "reading the shadow file through the setuid binary"].iter().zip(&results[2..])
        {
            assert!(*code != Some(0) && !output.contains("ESCAPED"), "{name} must fail in {backend}: {output}");
        }
        std::fs::remove_file(&setuid).unwrap();
        stop_and_expect_nothing_left(client, &session).await;
    }
}

/// Every file under `dir` with its bytes.
fn files_under(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    files
}

fn git(repo: &Path, arguments: &[&str]) -> String {
    let output = std::process::Command::new("git").arg("-C").arg(repo).args(arguments).output().unwrap();
    assert!(output.status.success(), "git {arguments:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[tokio::test]
async fn the_agent_cannot_rewrite_the_repositorys_config_or_hooks_and_arbors_git_work_goes_on() {
    for backend in BACKENDS {
        let Some((env, repo, mut server)) = server_for(backend).await else { continue };
        let client = &mut server.client;
        // What a planted hook or fsmonitor would create, on the host side.
        let pwned = env.root.join("pwned");
        let plant = format!("touch {}", pwned.display());
        let common = "$(sed -n 's/^gitdir: //p' .git)/../..";
        let attempts = [
            format!("run echo '[core] fsmonitor = {plant}' >> {common}/config && echo ESCAPED"),
            format!("run echo '{plant}' > {common}/hooks/pre-commit && echo ESCAPED"),
            format!("run rm {common}/hooks/pre-push.sample && echo ESCAPED"),
            "run git config core.hooksPath $TMPDIR && echo ESCAPED".to_string(),
            format!("run git config --worktree core.fsmonitor '{plant}' && echo ESCAPED"),
            format!("run git -C {} config core.fsmonitor '{plant}' && echo ESCAPED", repo.display()),
            format!("run echo '{plant}' > {}/.git/hooks/post-checkout && echo ESCAPED", repo.display()),
        ];
        // Pointing the worktree at a repository of the agent's own: held by a read-only bind, or
        // (Landlock) put back by Arbor.
        let redirections = [
            "run echo ../../../.. > $(sed -n 's/^gitdir: //p' .git)/commondir",
            "run git init -q --bare $TMPDIR/planted && echo gitdir: $TMPDIR/planted > .git",
        ];
        let script = ["run echo change > change.txt".to_string()]
            .into_iter()
            .chain(attempts.iter().cloned())
            .chain(redirections.map(String::from))
            .collect::<Vec<_>>()
            .join("\n");
        let config = json!({ "script": script, "sandbox": backend });
        let session = client.agent_session(&repo, "scripted", None, config).await;
        let worktree = PathBuf::from(&session.cwd);
        let (config_before, hooks_before) =
            (std::fs::read(repo.join(".git/config")).unwrap(), files_under(&repo.join(".git/hooks")));
        let link_before = std::fs::read(worktree.join(".git")).unwrap();
        client.prompt_and_wait(session.id, "rewrite git", 1).await;

        let results = client.command_results(session.id);
        assert_eq!(results.len(), 1 + attempts.len() + redirections.len(), "{results:#?}");
        assert_eq!(results[0].1, Some(0), "the worktree is writable in {backend}");
        for (attempt, (output, code)) in attempts.iter().zip(&results[1..]) {
            assert!(*code != Some(0) && !output.contains("ESCAPED"), "{attempt} must fail in {backend}: {output}");
        }
        assert_eq!(
            std::fs::read(repo.join(".git/config")).unwrap(),
            config_before,
            "the config is unchanged in {backend}"
        );
        assert_eq!(files_under(&repo.join(".git/hooks")), hooks_before, "the hooks are unchanged in {backend}");
        assert_eq!(std::fs::read(worktree.join(".git")).unwrap(), link_before, "the worktree's link in {backend}");
        let redirections_done: Vec<bool> =
            results[1 + attempts.len()..].iter().map(|(_, code)| *code == Some(0)).collect();
        if backend == "landlock" {
            // Landlock cannot make the links read-only: the agent rewrites them and Arbor puts
            // them back, saying so.
            assert_eq!(redirections_done, [true, true], "{results:#?}");
            let put_back = |event: &SessionEvent| matches!(event, SessionEvent::Error { message, .. } if message.contains("Arbor put it back"));
            client.wait_event(session.id, put_back).await;
        } else {
            assert_eq!(redirections_done, [false, false], "the links are read-only in {backend}: {results:#?}");
        }

        // Arbor's own checkpoint and commit, on the host side, land in the main repository.
        let checkpoint = client.events.iter().find_map(|event| match &event.event {
            SessionEvent::Checkpoint(checkpoint) if event.session_id == session.id => Some(checkpoint.clone()),
            _ => None,
        });
        let checkpoint = checkpoint.unwrap_or_else(|| panic!("a checkpoint after the turn in {backend}"));
        assert_eq!(git(&repo, &["show", &format!("{}:change.txt", checkpoint.commit)]), "change");
        let committed = client.call(method::REVIEW_COMMIT, json!({ "sessionId": session.id })).await;
        let branch = session.branch.clone().unwrap();
        assert_eq!(git(&repo, &["rev-parse", &branch]), committed["commit"].as_str().unwrap(), "{backend}");
        assert_eq!(git(&repo, &["show", &format!("{branch}:change.txt")]), "change");
        assert!(!pwned.exists(), "no hook or fsmonitor the agent planted ran");
        stop_and_expect_nothing_left(client, &session).await;
    }
}

#[tokio::test]
async fn killing_the_daemon_leaves_no_process_of_the_sandbox() {
    for backend in ["bwrap", "landlock", "container"] {
        let env = TestEnv::new();
        let repo = env.repo("repo");
        if backend == "container" && !container_image_built(&env).await {
            continue;
        }
        let mut daemon = env.daemon().await;
        let client = env.socket_client().await;
        if !backend_works(&client, backend).await {
            continue;
        }
        let script = "run sleep 300 & sleep 300";
        let config = json!({ "script": script, "sandbox": backend });
        let session = client.agent_session(&repo, "scripted", None, config).await;
        client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "sleep" })).await;
        let worktree = PathBuf::from(&session.cwd);
        wait_until("the sleeps run", || pids_working_in(&worktree).len() >= 3).await;
        daemon.start_kill().unwrap();
        daemon.wait().await.unwrap();
        drop(client);
        // Even without a PID namespace (Landlock), the keeper ends what the agent started in the
        // background, from the session's process group and cgroups, with no server running.
        wait_until("the sandbox ends with the daemon", || pids_working_in(&worktree).is_empty()).await;
        wait_until("no container is left", || containers_of(&session).is_empty()).await;
    }
}

/// A stand-in for `claude` that, like Claude Code, saves its conversation a moment after its
/// input ends (the real CLI writes its transcript on a timer just after a turn); a prompt saying
/// "linger" starts a process in the background, and the agent then ignores the end of its input.
const FAKE_CLAUDE_SAVING_LATE: &str = r#"#!/bin/sh
read -r init
echo '{"type":"control_response","response":{"subtype":"success","request_id":"arbor-init","response":{}}}'
linger=no
while read -r line; do
  case "$line" in *linger*) linger=yes; sleep 300 & ;; esac
  echo '{"type":"result","subtype":"success","is_error":false,"usage":{"input_tokens":1,"output_tokens":1}}'
done
if [ "$linger" = yes ]; then sleep 300; fi
sleep 0.5
echo saved > "$HOME/transcript"
"#;

#[tokio::test]
async fn a_killed_daemon_lets_the_sandboxed_agent_save_its_work_and_still_leaves_nothing_running() {
    for backend in ["bwrap", "landlock"] {
        let env = TestEnv::new();
        let repo = env.repo("repo");
        let fake = env.root.join("fake-claude");
        std::fs::write(&fake, FAKE_CLAUDE_SAVING_LATE).unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        env.write_config(json!({ "agents": { "claude": { "command": fake } } }));
        let mut daemon = env.daemon().await;
        let mut client = env.socket_client().await;
        if !backend_works(&client, backend).await {
            continue;
        }
        let config = json!({ "sandbox": backend, "permissionMode": "bypass_permissions" });
        let saver = client.agent_session(&repo, "claude", None, config.clone()).await;
        let lingerer = client.agent_session(&repo, "claude", None, config).await;
        client.prompt_and_wait(saver.id, "hello", 1).await;
        client.prompt_and_wait(lingerer.id, "linger", 1).await;
        let worktrees = env.data_dir().join("worktrees");
        wait_until("the lingering agent's sleeps run", || pids_working_in(Path::new(&lingerer.cwd)).len() >= 3).await;

        daemon.start_kill().unwrap();
        daemon.wait().await.unwrap();
        let killed = std::time::Instant::now();
        let transcript = env.data_dir().join("sandboxes").join(saver.id.to_string()).join("home/transcript");
        wait_until(&format!("the agent in {backend} saves its transcript"), || transcript.exists()).await;
        wait_until(&format!("nothing of the {backend} sandboxes is left"), || pids_working_in(&worktrees).is_empty())
            .await;
        let ended = killed.elapsed();
        assert!(ended < Duration::from_secs(6), "an agent ignoring its input's end is ended after a grace: {ended:?}");
    }
}

/// Real Claude Code in `backend` against the mock model API, with the sandbox's private HOME (the
/// config file gives it none): it writes in its worktree, reaches the mock through the forwarder
/// (Landlock: directly, on the mock's port only), cannot read a canary in the real home, leaves
/// nothing running when stopped, and resumes its conversation from the private HOME.
async fn claude_code_works_inside(backend: &str) {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    if backend == "container" && !container_image_built(&env).await {
        return;
    }
    let mock = MockApi::start(conversation(env.data_dir().join("worktrees"), claude_write, claude_bash)).await;
    env.configure_claude(&mock.url, json!({}));
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(env.config_file()).unwrap()).unwrap();
    // Nor a temporary directory of its own: the sandbox's TMPDIR is the one it can write.
    let claude_env = config["agents"]["claude"]["env"].as_object_mut().unwrap();
    claude_env.remove("HOME");
    claude_env.remove("CLAUDE_CODE_TMPDIR");
    env.write_config(config);
    let home = env.root.join("real-home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("canary"), "CANARY-SECRET\n").unwrap();
    let mut server = server_with_home(&env, &home).await;
    let client = &mut server.client;
    if !backend_works(client, backend).await {
        return;
    }
    let config = json!({ "permissionMode": "bypass_permissions", "sandbox": backend });
    let session = client.agent_session(&repo, "claude", None, config).await;
    let shown = session.sandbox.clone().unwrap();
    assert_eq!(
        (serde_json::to_value(shown.backend).unwrap(), serde_json::to_value(shown.network).unwrap()),
        (json!(backend), json!("model_api"))
    );
    client.prompt_and_wait(session.id, "write hello.txt hi from claude", 1).await;
    let worktree = Path::new(&session.cwd);
    assert_eq!(std::fs::read_to_string(worktree.join("hello.txt")).unwrap(), "hi from claude\n");
    assert_eq!(client.reply_text(session.id), "All done.");
    assert!(!mock.requests_to("/v1/messages").is_empty(), "the mock was reached from inside");
    let probe = format!("run (echo $ANTHROPIC_BASE_URL; echo $HOME; cat {}/canary) > probe.txt 2>&1", home.display());
    client.prompt_and_wait(session.id, &probe, 2).await;
    let probe = std::fs::read_to_string(worktree.join("probe.txt")).expect("Claude ran its Bash tool");
    let mut lines = probe.lines();
    let (base_url, agent_home) = (lines.next().unwrap_or_default(), lines.next().unwrap_or_default());
    let expected_url = if backend == "landlock" { mock.url.clone() } else { "http://127.0.0.1:41741".to_string() };
    assert!(base_url.starts_with(&expected_url), "the model API is reached through {expected_url}: {probe}");
    let private_home = env.data_dir().join("sandboxes").join(session.id.to_string()).join("home");
    assert_eq!(Path::new(agent_home), private_home, "Claude Code runs with the session's private HOME");
    assert!(!probe.contains("CANARY"), "the real home is invisible to Claude Code in {backend}: {probe}");

    stop_and_expect_nothing_left(client, &session).await;
    assert!(private_home.join(".claude").is_dir(), "Claude Code kept its state in the private HOME");
    client.resume_and_wait(session.id, "third message", 3).await;
    assert!(client.reply_text(session.id).ends_with("Echo: third message"), "{}", client.reply_text(session.id));
    let last = mock.requests_to("/v1/messages").last().cloned().unwrap();
    assert!(
        last.body["messages"].to_string().contains("write hello.txt"),
        "the resumed conversation carries the history"
    );
    stop_and_expect_nothing_left(client, &session).await;
}

#[tokio::test]
async fn claude_code_works_in_its_worktree_inside_bwrap_and_resumes_from_its_private_home() {
    claude_code_works_inside("bwrap").await;
}

#[tokio::test]
async fn claude_code_works_in_its_worktree_under_landlock_and_resumes_from_its_private_home() {
    claude_code_works_inside("landlock").await;
}

#[tokio::test]
async fn claude_code_works_in_its_worktree_in_a_container_and_resumes_from_its_private_home() {
    claude_code_works_inside("container").await;
}
