//! Harness for the end-to-end tests: scratch directories and git repositories, the real `arbor`
//! binary started over stdio or as a daemon on its socket, and a protocol client with helpers to
//! wait for what a user would see.

pub mod agent_turns;
pub mod agents;
pub mod git_http;
pub mod http;
pub mod mock_api;
pub mod mock_github;
pub mod mock_gitlab;
pub mod mock_rest;
pub mod ssh_hosts;
pub mod sshd;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arbor_protocol::{
    Session, SessionEvent, SessionEventNotification, SessionStatus, StopReason, TaskDetail, TrialStatus, method,
};
use arbor_server::client::{Notification, RpcClient, RpcError};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// How long a test waits for something that should happen in well under a second.
pub const WAIT: Duration = Duration::from_secs(30);

/// The `arbor` binary under test: `$ARBOR_BIN`, or the one cargo built beside this test, brought
/// up to date on first use. It is built the way the test command builds it (every binary of the
/// workspace), so that both resolve dependency features alike and neither rebuilds the other's
/// binary.
pub fn arbor_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("ARBOR_BIN") {
            return PathBuf::from(path);
        }
        let exe = std::env::current_exe().expect("test executable path");
        // Tests run from target/<profile>/deps, binaries (the benchmark) from target/<profile>.
        let exe_dir = exe.parent().expect("executable directory");
        let profile_dir = if exe_dir.ends_with("deps") { exe_dir.parent().expect("target/<profile>") } else { exe_dir };
        let bin = profile_dir.join("arbor");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build.args(["build", "--workspace", "--bins"]);
        if profile_dir.file_name().is_some_and(|name| name == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build");
        assert!(status.success(), "building the arbor binary failed");
        bin
    })
    .clone()
}

/// A scratch directory removed when dropped.
pub struct TestEnv {
    /// Root of everything this test creates.
    pub root: PathBuf,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // A daemon started by a bridge or the CLI outlives them by design; this test's one ends here.
        if let Some(pid) = self.daemon_pid() {
            terminate(pid);
        }
        // ARBOR_KEEP_TEST_DIRS keeps the scratch directory for a look after a failure.
        if std::env::var_os("ARBOR_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// Sends SIGTERM to `pid` and waits (up to the test timeout) for it to exit.
pub fn terminate(pid: i32) {
    // SAFETY: kill(2) with a pid this test started.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let deadline = std::time::Instant::now() + WAIT;
    while process_alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a process exists and is not a zombie.
pub fn process_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// The files under `dir` whose bytes hold `needle`, read as bytes so a secret in the store, a log or a git file is found.
pub fn files_holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            } else if std::fs::read(&path)
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|window| window == needle.as_bytes()))
            {
                found.push(path);
            }
        }
    }
    found
}

/// Runs git with arguments in `dir` and returns its trimmed stdout; panics when git fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .output()
        .expect("run git");
    assert!(output.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

impl TestEnv {
    /// A fresh scratch directory under the system temp directory (short, for socket paths).
    pub fn new() -> Self {
        let root = std::env::temp_dir().join(format!("arbor-t-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]));
        std::fs::create_dir_all(&root).expect("create scratch dir");
        Self { root }
    }

    /// Arbor's data directory for this test.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Arbor's configuration file for this test (absent unless the test writes it).
    pub fn config_file(&self) -> PathBuf {
        self.root.join("config").join("config.json")
    }

    /// Writes this test's configuration file.
    pub fn write_config(&self, config: Value) {
        std::fs::create_dir_all(self.root.join("config")).expect("create config dir");
        std::fs::write(self.config_file(), config.to_string()).expect("write config");
    }

    /// Arbor's runtime directory for this test.
    pub fn runtime_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    /// Writes `files` (path, content) into `repo` and commits them on its current branch.
    pub fn commit_files(&self, repo: &Path, files: &[(&str, &str)], message: &str) {
        for (path, content) in files {
            let full = repo.join(path);
            std::fs::create_dir_all(full.parent().expect("a parent")).expect("create dirs");
            std::fs::write(full, content).expect("write file");
            git(repo, &["add", path]);
        }
        git(repo, &["commit", "-q", "-m", message]);
    }

    /// The pid in the daemon's discovery file, if a daemon announced itself.
    pub fn daemon_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.runtime_dir().join("daemon.json")).ok()?;
        serde_json::from_str::<Value>(&text).ok()?["pid"].as_i64().map(|pid| pid as i32)
    }

    /// A git repository with one commit (README.md) on `main`.
    pub fn repo(&self, name: &str) -> PathBuf {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).expect("create repo dir");
        git(&dir, &["init", "-q", "-b", "main"]);
        std::fs::write(dir.join("README.md"), "# test repository\n").expect("write README");
        git(&dir, &["add", "README.md"]);
        git(&dir, &["commit", "-q", "-m", "initial"]);
        dir
    }

    /// `arbor` with this test's directories, killed when dropped. It runs in the test's root, so
    /// nothing it or its agents write lands in the source tree.
    pub fn command(&self) -> Command {
        let mut command = Command::new(arbor_bin());
        command
            .current_dir(&self.root)
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--runtime-dir")
            .arg(self.runtime_dir())
            .arg("--config")
            .arg(self.config_file())
            .env("NO_COLOR", "1")
            .kill_on_drop(true);
        command
    }

    /// Runs `arbor ARGS` (the command line, through the daemon it starts) and returns its
    /// standard output; fails the test when it fails.
    pub async fn cli(&self, args: &[&str]) -> String {
        let output = self.command().args(args).output().await.expect("run arbor");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            output.status.success(),
            "arbor {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// `arbor lsp --standalone` on stdio, initialized.
    pub async fn standalone(&self) -> Server {
        self.spawn_lsp(&["lsp", "--standalone"]).await
    }

    /// `arbor lsp --standalone` on stdio with extra environment variables, initialized.
    pub async fn standalone_with_env(&self, vars: &[(&str, &str)]) -> Server {
        let mut command = self.command();
        command.args(["lsp", "--standalone"]).envs(vars.iter().copied());
        Self::start_lsp(command).await
    }

    /// `arbor lsp --standalone` with extra environment variables and its log (at debug level)
    /// written to `log`, so a test can read what Arbor logged.
    pub async fn standalone_logged(&self, vars: &[(&str, &str)], log: &Path) -> Server {
        let mut command = self.command();
        command.args(["lsp", "--standalone"]).env("ARBOR_LOG", "debug").envs(vars.iter().copied());
        command.stderr(std::fs::File::create(log).expect("create the log file"));
        Self::spawn_initialized(command).await
    }

    /// `arbor lsp` (the bridge to the daemon, starting it if needed), initialized.
    pub async fn bridge(&self) -> Server {
        self.spawn_lsp(&["lsp"]).await
    }

    async fn spawn_lsp(&self, args: &[&str]) -> Server {
        let mut command = self.command();
        command.args(args);
        Self::start_lsp(command).await
    }

    async fn start_lsp(mut command: Command) -> Server {
        command.stderr(Stdio::inherit());
        Self::spawn_initialized(command).await
    }

    async fn spawn_initialized(command: Command) -> Server {
        let server = Self::spawn_server(command);
        server.client.initialize().await;
        server
    }

    /// `arbor lsp --standalone`, not initialized yet: for tests of the handshake itself.
    pub fn standalone_uninitialized(&self) -> Server {
        let mut command = self.command();
        command.args(["lsp", "--standalone"]).stderr(Stdio::inherit());
        Self::spawn_server(command)
    }

    /// `command` started with a client on its stdio.
    fn spawn_server(mut command: Command) -> Server {
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("spawn arbor");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        Server { child, client: Client::new(stdout, stdin) }
    }

    /// `arbor daemon`, waited for until its socket answers.
    pub async fn daemon(&self) -> Child {
        let child = self
            .command()
            .arg("daemon")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn daemon");
        let socket = self.runtime_dir().join("arbor.sock");
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::net::UnixStream::connect(&socket).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "the daemon did not open its socket");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child
    }

    /// `arbor daemon --listen 127.0.0.1:0` (a free port) with `args`, waited for until its
    /// socket answers and its discovery file names its web listener; its stderr (the log) goes to
    /// `daemon.log` in the test's root.
    pub async fn listening_daemon(&self, args: &[&str]) -> Child {
        self.listening_daemon_with_env(args, &[]).await
    }

    /// [`TestEnv::listening_daemon`] with extra environment variables.
    pub async fn listening_daemon_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Child {
        let log = std::fs::File::create(self.root.join("daemon.log")).expect("create the daemon log");
        let child = self
            .command()
            .args(["daemon", "--listen", "127.0.0.1:0"])
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn daemon");
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.web_url().is_none() {
            assert!(tokio::time::Instant::now() < deadline, "the daemon did not announce its web listener");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child
    }

    /// The daemon's web origin from its discovery file (`http://127.0.0.1:PORT`).
    pub fn web_url(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.runtime_dir().join("daemon.json")).ok()?;
        serde_json::from_str::<Value>(&text).ok()?["webUrl"].as_str().map(str::to_string)
    }

    /// The daemon's WebSocket URL (`ws://127.0.0.1:PORT/ws`).
    pub fn ws_url(&self) -> String {
        format!("{}/ws", self.web_url().expect("a web listener").replacen("http", "ws", 1))
    }

    /// The token file of this test's runtime directory.
    pub fn token_file(&self) -> PathBuf {
        self.runtime_dir().join("token")
    }

    /// The token the daemon accepts now.
    pub fn token(&self) -> String {
        std::fs::read_to_string(self.token_file()).expect("read the token").trim().to_string()
    }

    /// `arbor lsp --connect` to this test's daemon's WebSocket, run from `client`'s directories
    /// (so it is another runtime directory than the daemon's), initialized.
    pub async fn remote_bridge(&self, client: &TestEnv) -> Server {
        let mut command = client.command();
        command.arg("lsp").arg("--connect").arg(self.ws_url()).arg("--token-file").arg(self.token_file());
        Self::start_lsp(command).await
    }

    /// A client connected straight to the daemon's socket, initialized.
    pub async fn socket_client(&self) -> Client {
        let stream = tokio::net::UnixStream::connect(self.runtime_dir().join("arbor.sock"))
            .await
            .expect("connect to the daemon");
        let (read, write) = stream.into_split();
        let client = Client::new(read, write);
        client.initialize().await;
        client
    }
}

/// An `arbor` process serving on stdio, with its client.
pub struct Server {
    /// The process.
    pub child: Child,
    /// The client on its stdio.
    pub client: Client,
}

/// A protocol client with the notifications it received.
pub struct Client {
    /// The raw client.
    pub rpc: Arc<RpcClient>,
    notifications: mpsc::UnboundedReceiver<Notification>,
    /// Events received so far, in arrival order.
    pub events: Vec<SessionEventNotification>,
    /// Sessions from session/changed notifications, in arrival order.
    pub changes: Vec<Session>,
    /// Every other notification (such as `$/progress`), in arrival order.
    pub others: Vec<Notification>,
}

impl Client {
    /// A client on a byte stream.
    pub fn new<R, W>(read: R, write: W) -> Self
    where
        R: tokio::io::AsyncRead + Send + Unpin + 'static,
        W: tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        let (rpc, notifications) = RpcClient::new(read, write);
        Self { rpc, notifications, events: Vec::new(), changes: Vec::new(), others: Vec::new() }
    }

    /// The LSP handshake; returns the initialize result.
    pub async fn initialize(&self) -> Value {
        self.rpc.initialize().await.expect("initialize")
    }

    /// A request that must succeed.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        match self.rpc.request(method, params.clone()).await {
            Ok(result) => result,
            Err(error) => panic!("{method} {params} failed: {error}"),
        }
    }

    /// A request that may fail.
    pub async fn try_call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        self.rpc.request(method, params).await
    }

    /// Starts a scripted session in `repo` with `script` and `prompt`.
    pub async fn scripted_session(&self, repo: &Path, script: &str, prompt: Option<&str>) -> Session {
        let result = self
            .call(
                method::SESSION_NEW,
                json!({ "cwd": repo, "agent": "scripted", "prompt": prompt, "config": { "script": script } }),
            )
            .await;
        serde_json::from_value(result).expect("a Session")
    }

    /// Starts a session of `agent` in `repo` with `model` and `config`, subscribes to it from the
    /// start and waits until its agent is running.
    pub async fn agent_session(&self, repo: &Path, agent: &str, model: Option<&str>, config: Value) -> Session {
        let result = self
            .call(method::SESSION_NEW, json!({ "cwd": repo, "agent": agent, "model": model, "config": config }))
            .await;
        let session: Session = serde_json::from_value(result).expect("a Session");
        self.subscribe(session.id, 0).await;
        self.wait_status(session.id, |status| status == SessionStatus::Running).await;
        session
    }

    /// Sends `text` to the session and receives notifications until its `nth` (1-based) turn ends.
    pub async fn prompt_and_wait(&mut self, session_id: uuid::Uuid, text: &str, nth: usize) {
        self.call(method::SESSION_PROMPT, json!({ "sessionId": session_id, "text": text })).await;
        self.wait_turns(session_id, nth).await;
    }

    /// Resumes the session with `prompt` and receives notifications until its `nth` (1-based)
    /// turn ends.
    pub async fn resume_and_wait(&mut self, session_id: uuid::Uuid, prompt: &str, nth: usize) {
        self.call(method::SESSION_RESUME, json!({ "sessionId": session_id, "prompt": prompt })).await;
        self.wait_turns(session_id, nth).await;
    }

    /// Subscribes to a session from `after_seq`.
    pub async fn subscribe(&self, session_id: uuid::Uuid, after_seq: u64) -> Value {
        self.call(method::SESSION_SUBSCRIBE, json!({ "sessionId": session_id, "afterSeq": after_seq })).await
    }

    /// The session as the server reports it now.
    pub async fn get(&self, session_id: uuid::Uuid) -> Session {
        serde_json::from_value(self.call(method::SESSION_GET, json!({ "sessionId": session_id })).await)
            .expect("a Session")
    }

    fn absorb(&mut self, notification: Notification) {
        match notification.method.as_str() {
            method::NOTIFY_SESSION_EVENT => {
                self.events.push(serde_json::from_value(notification.params).expect("a session event"))
            }
            method::NOTIFY_SESSION_CHANGED => {
                self.changes.push(serde_json::from_value(notification.params["session"].clone()).expect("a session"))
            }
            _ => self.others.push(notification),
        }
    }

    /// Waits until `count` of the session's message chunks have arrived (those received before
    /// included): its agent is streaming.
    pub async fn wait_chunks(&mut self, session_id: uuid::Uuid, count: usize) {
        let mut chunks = 0;
        self.wait_event(session_id, |event| {
            chunks += usize::from(matches!(event, SessionEvent::AgentMessageChunk { .. }));
            chunks >= count
        })
        .await;
    }

    /// Returns the first event of `session_id` satisfying `predicate`, looking first at the events
    /// already received, then receiving notifications until one arrives.
    pub async fn wait_event(
        &mut self,
        session_id: uuid::Uuid,
        predicate: impl FnMut(&SessionEvent) -> bool,
    ) -> SessionEventNotification {
        self.wait_event_within(session_id, WAIT, predicate).await
    }

    /// [`Client::wait_event`] with its own time limit.
    pub async fn wait_event_within(
        &mut self,
        session_id: uuid::Uuid,
        limit: Duration,
        mut predicate: impl FnMut(&SessionEvent) -> bool,
    ) -> SessionEventNotification {
        if let Some(found) = self.events.iter().find(|event| event.session_id == session_id && predicate(&event.event))
        {
            return found.clone();
        }
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notification = tokio::time::timeout_at(deadline, self.notifications.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "timed out waiting for an event; events so far: {:#?}",
                        self.events.iter().map(|event| &event.event).collect::<Vec<_>>()
                    )
                })
                .expect("the connection closed while waiting for an event");
            let is_event = notification.method == method::NOTIFY_SESSION_EVENT;
            self.absorb(notification);
            if is_event {
                let last = self.events.last().expect("just pushed");
                if last.session_id == session_id && predicate(&last.event) {
                    return last.clone();
                }
            }
        }
    }

    /// Takes in every notification that has already arrived, without waiting.
    pub fn drain(&mut self) {
        while let Ok(notification) = self.notifications.try_recv() {
            self.absorb(notification);
        }
    }

    /// Receives notifications until `session_id`'s turn with `nth` (1-based) turn_ended.
    pub async fn wait_turns(&mut self, session_id: uuid::Uuid, nth: usize) {
        self.wait_turns_within(session_id, nth, WAIT).await;
    }

    /// [`Client::wait_turns`] with its own time limit.
    pub async fn wait_turns_within(&mut self, session_id: uuid::Uuid, nth: usize, limit: Duration) {
        let mut seen = 0;
        self.wait_event_within(session_id, limit, |event| {
            if matches!(event, SessionEvent::TurnEnded { .. }) {
                seen += 1;
            }
            seen >= nth
        })
        .await;
    }

    /// Polls session/get until the status satisfies `predicate`.
    pub async fn wait_status(&self, session_id: uuid::Uuid, predicate: impl Fn(SessionStatus) -> bool) -> Session {
        self.wait_session(session_id, |session| predicate(session.status)).await
    }

    /// Polls session/get until the session satisfies `predicate`.
    pub async fn wait_session(&self, session_id: uuid::Uuid, predicate: impl Fn(&Session) -> bool) -> Session {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let session = self.get(session_id).await;
            if predicate(&session) {
                return session;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "session stayed {:?} ({}), its agent {:?}",
                session.status,
                session.status_reason.unwrap_or_default(),
                session.agent_state
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until every trial of the task has left pending and running and none of their
    /// sessions is live.
    pub async fn wait_trials_settled(&self, task_id: uuid::Uuid) -> TaskDetail {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let detail: TaskDetail =
                serde_json::from_value(self.call(method::TASK_GET, json!({ "taskId": task_id })).await).unwrap();
            let settled = detail
                .trials
                .iter()
                .all(|trial| !matches!(trial.trial.status, TrialStatus::Pending | TrialStatus::Running));
            if settled
                && detail.trials.iter().all(|trial| trial.sessions.iter().all(|session| !session.status.is_live()))
            {
                return detail;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "trials did not settle: {:?}",
                detail.trials.iter().map(|trial| trial.trial.status).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The session's text reply: every agent_message_chunk received so far, joined.
    pub fn reply_text(&self, session_id: uuid::Uuid) -> String {
        self.events
            .iter()
            .filter(|event| event.session_id == session_id)
            .filter_map(|event| match &event.event {
                SessionEvent::AgentMessageChunk { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The terminal output and exit code of every command the session's agent ran, in order.
    pub fn command_results(&self, session_id: uuid::Uuid) -> Vec<(String, Option<i32>)> {
        self.events
            .iter()
            .filter(|event| event.session_id == session_id)
            .filter_map(|event| match &event.event {
                SessionEvent::ToolCallUpdate { content: Some(content), .. } => {
                    content.iter().find_map(|item| match item {
                        arbor_protocol::ToolCallContent::Terminal { output, exit_code } => {
                            Some((output.clone(), *exit_code))
                        }
                        _ => None,
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// Why each of the session's turns received so far ended, in order.
    pub fn stop_reasons(&self, session_id: uuid::Uuid) -> Vec<StopReason> {
        self.events
            .iter()
            .filter(|event| event.session_id == session_id)
            .filter_map(|event| match event.event {
                SessionEvent::TurnEnded { stop_reason } => Some(stop_reason),
                _ => None,
            })
            .collect()
    }

    /// Seqs of the events received for a session, in arrival order.
    pub fn seqs(&self, session_id: uuid::Uuid) -> Vec<u64> {
        self.events.iter().filter(|event| event.session_id == session_id).map(|event| event.seq).collect()
    }
}

/// Polls `condition` until it holds, failing the test after [`WAIT`] with what was awaited.
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Pids of the live processes this test can see, from /proc; a zombie has exited and is left
/// out (only its parent has yet to collect it).
fn live_pids() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
        })
        .collect()
}

/// Pids of live scripted-agent processes whose command line mentions `marker` (a test's
/// directory).
pub fn scripted_agent_pids(marker: &Path) -> Vec<i32> {
    let marker = marker.display().to_string();
    live_pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                cmdline.contains("scripted-agent") && cmdline.contains(&marker)
            })
        })
        .collect()
}

/// Pids of the live processes of a session's agent: every process whose environment carries
/// the session's `ARBOR_SESSION_ID` (inside a sandbox too, whose processes work where the test
/// cannot see).
pub fn session_pids(session_id: uuid::Uuid) -> Vec<i32> {
    let marker = format!("ARBOR_SESSION_ID={session_id}");
    live_pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|environ| environ.split(|byte| *byte == 0).any(|entry| entry == marker.as_bytes()))
        })
        .collect()
}

/// Pids of live processes working inside `dir`: in a test, the agents Arbor started in the
/// test's worktrees and whatever they started there.
pub fn pids_working_in(dir: &Path) -> Vec<i32> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    live_pids()
        .into_iter()
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(&dir)))
        .collect()
}
