//! The agent stream parsers: Claude Code's stream-json, Codex's JSONL events and ACP messages,
//! each fed line by line (with the session's commands in between) to the real driver state, with
//! no process behind it. The recorded streams in `corpus/` are the seeds.
//!
//! Contract: every line and command is handled without a panic and without blocking; every event
//! serialises; everything written to the agent's stdin is one JSON object on one line. For ACP,
//! the agent's file requests never touch anything outside the session's directory, even through
//! a symlink planted in it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arbor_protocol::{SessionConfig, SessionEvent};
use arbor_server::agents::acp::{Connection, DriverLoop};
use arbor_server::agents::acp_lines;
use arbor_server::agents::claude::ClaudeSession;
use arbor_server::agents::codex::CodexSession;
use arbor_server::agents::process::{GroupLedger, GroupSlot};
use arbor_server::agents::stdio::{AgentLoop, parse_line};
use arbor_server::agents::{AgentCommand, AgentOutput, StartSpec};
use arbor_server::hub::Hub;
use arbor_server::store::Store;
use proptest::strategy::{BoxedStrategy, Strategy};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::Target;
use crate::input::{Step, Stream, corpus};

/// Longest one line or command may take to handle.
const STEP_LIMIT: Duration = Duration::from_secs(10);
/// Pieces per generated stream, at most.
const STREAM_LENGTH: usize = 12;
/// The working directory the recorded streams were made in; replaced by the target's own.
const RECORDED_CWD: &str = "/home/user/project";

/// The driver's ends of its channels, and what the checks learnt from them.
struct Outlets {
    outputs: mpsc::Receiver<AgentOutput>,
    stdin: mpsc::Receiver<String>,
    /// The newest permission request the driver raised, to answer it.
    permission: Option<String>,
}

impl Outlets {
    fn new() -> (Self, mpsc::Sender<String>, mpsc::Sender<AgentOutput>) {
        let (stdin_tx, stdin) = mpsc::channel(64);
        let (outputs_tx, outputs) = mpsc::channel(64);
        (Self { outputs, stdin, permission: None }, stdin_tx, outputs_tx)
    }

    /// Runs one step of a driver to its end, taking and checking what it sends meanwhile (the
    /// channels are bounded, so a step that sends much would block otherwise).
    async fn drive<T>(&mut self, step: impl Future<Output = T>) -> Result<T, String> {
        let step = tokio::time::timeout(STEP_LIMIT, step);
        tokio::pin!(step);
        loop {
            tokio::select! {
                biased;
                Some(output) = self.outputs.recv() => self.output(output)?,
                Some(line) = self.stdin.recv() => written(&line)?,
                done = &mut step => {
                    while let Ok(output) = self.outputs.try_recv() {
                        self.output(output)?;
                    }
                    while let Ok(line) = self.stdin.try_recv() {
                        written(&line)?;
                    }
                    return done.map_err(|_| format!("a step took longer than {} s", STEP_LIMIT.as_secs()));
                }
            }
        }
    }

    fn output(&mut self, output: AgentOutput) -> Result<(), String> {
        if let AgentOutput::Event(event) = &output {
            serde_json::to_value(event).map_err(|error| format!("an event does not serialise: {error}"))?;
            if let SessionEvent::PermissionRequest { request_id, .. } = event {
                self.permission = Some(request_id.clone());
            }
        }
        Ok(())
    }

    /// The command a generated number stands for: a prompt, a cancel, or an answer to the
    /// newest permission request (or to one that does not exist).
    fn command(&self, number: u8) -> AgentCommand {
        let request_id = self.permission.clone().unwrap_or_else(|| format!("perm-{number}"));
        let options = ["allow", "allow_always", "reject", "proceed_once"];
        match number % 4 {
            0 => AgentCommand::Prompt("fuzz".into()),
            1 => AgentCommand::Cancel,
            2 => AgentCommand::Respond {
                request_id,
                option_id: Some(options[usize::from(number / 4) % options.len()].into()),
            },
            _ => AgentCommand::Respond { request_id, option_id: None },
        }
    }
}

/// Checks one line the driver wrote to the agent's stdin.
fn written(line: &str) -> Result<(), String> {
    if line.contains('\n') {
        return Err(format!("a line written to the agent holds a newline: {line:?}"));
    }
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(_)) => Ok(()),
        _ => Err(format!("the driver wrote something other than a JSON object to the agent: {line}")),
    }
}

fn stderr_tail() -> Arc<Mutex<VecDeque<String>>> {
    Arc::new(Mutex::new(VecDeque::new()))
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

/// Feeds a stream to a long-lived driver (Claude Code, ACP), turning each line into its message.
async fn feed<L: AgentLoop>(
    state: &mut L,
    outlets: &mut Outlets,
    steps: Vec<Step>,
    parse: impl Fn(&[u8]) -> Option<L::Message>,
) -> Result<(), String> {
    for step in steps {
        match step {
            Step::Line(bytes) => {
                if let Some(message) = parse(&bytes) {
                    outlets.drive(state.handle_message(message)).await?;
                    // As the agent loop does once nothing more waits to be read.
                    outlets.drive(state.flush_held()).await?;
                }
            }
            Step::Command(number) => {
                let command = outlets.command(number);
                outlets.drive(state.handle_command(command)).await?;
            }
        }
    }
    Ok(())
}

fn no_placeholders(_: &str) -> Option<String> {
    None
}

/// Claude Code's stream-json, through the Claude driver.
pub struct Claude {
    seeds: Vec<Value>,
    runtime: tokio::runtime::Runtime,
}

impl Claude {
    /// The target, seeded with a recorded Claude Code stream and the shapes of its other messages.
    pub fn new() -> Self {
        let mut seeds = corpus(include_str!("../corpus/claude.jsonl"), "", "");
        seeds.extend(corpus(include_str!("../corpus/claude-shapes.jsonl"), "", ""));
        Self { seeds, runtime: current_thread() }
    }
}

impl Default for Claude {
    fn default() -> Self {
        Self::new()
    }
}

impl Target for Claude {
    type Input = Stream;
    const NAME: &'static str = "claude";

    fn strategy(&self) -> BoxedStrategy<Stream> {
        Stream::strategy(STREAM_LENGTH).boxed()
    }

    fn check(&self, stream: &Stream) -> Result<(), String> {
        let steps = stream.steps(&self.seeds, &no_placeholders);
        self.runtime.block_on(async {
            let (mut outlets, stdin, outputs) = Outlets::new();
            let mut session = ClaudeSession::new(RECORDED_CWD.into(), None, stdin, outputs, stderr_tail());
            feed(&mut session, &mut outlets, steps, parse_line).await
        })
    }
}

/// Codex's JSONL events, through the Codex driver.
pub struct Codex {
    seeds: Vec<Value>,
    runtime: tokio::runtime::Runtime,
    /// Holds the store the session's (never used) process group ledger writes to.
    root: PathBuf,
    ledger: GroupLedger,
}

impl Codex {
    /// The target, seeded with a recorded `codex exec --json` turn and the shapes of its other
    /// events.
    pub fn new() -> Self {
        let mut seeds = corpus(include_str!("../corpus/codex.jsonl"), "", "");
        seeds.extend(corpus(include_str!("../corpus/codex-shapes.jsonl"), "", ""));
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("arbor-fuzz-codex-{}-{number}", std::process::id()));
        let (store, _) = Store::open(&root.join("arbor.db"), Arc::new(Hub::default())).expect("open a store");
        let ledger = GroupLedger::new(store, uuid::Uuid::nil());
        Self { seeds, runtime: current_thread(), root, ledger }
    }
}

impl Drop for Codex {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Default for Codex {
    fn default() -> Self {
        Self::new()
    }
}

impl Target for Codex {
    type Input = Stream;
    const NAME: &'static str = "codex";

    fn strategy(&self) -> BoxedStrategy<Stream> {
        Stream::strategy(STREAM_LENGTH).boxed()
    }

    fn check(&self, stream: &Stream) -> Result<(), String> {
        let steps = stream.steps(&self.seeds, &no_placeholders);
        self.runtime.block_on(async {
            let (mut outlets, _stdin, outputs) = Outlets::new();
            let spec = StartSpec {
                session_id: uuid::Uuid::nil(),
                cwd: RECORDED_CWD.into(),
                model: None,
                config: SessionConfig::default(),
                additional_dirs: Vec::new(),
                resume: None,
                fork: None,
                log_path: PathBuf::from(RECORDED_CWD).join("codex.log"),
                startup_timeout: Duration::from_secs(1),
                ledger: self.ledger.clone(),
                sandbox: std::sync::Arc::new(arbor_server::sandbox::Sandbox::none()),
                memory: None,
            };
            let mut session = CodexSession::new("codex".into(), BTreeMap::new(), spec, outputs, GroupSlot::default());
            for step in steps {
                if let Step::Line(bytes) = step
                    && let Some(line) = parse_line(&bytes)
                {
                    outlets.drive(session.handle_line(line)).await?;
                }
            }
            Ok(())
        })
    }
}

/// ACP messages, through the ACP driver, in a directory of its own with a canary file outside it
/// and a symlink to the canary's directory planted inside.
pub struct Acp {
    seeds: Vec<Value>,
    root: PathBuf,
    cwd: PathBuf,
    canary: PathBuf,
    runtime: tokio::runtime::Runtime,
}

const CANARY_TEXT: &str = "canary\n";

impl Acp {
    /// The target, seeded with recorded ACP sessions of the scripted agent and Gemini CLI and the
    /// shapes of other messages, in a fresh directory under the system's temporary directory.
    pub fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("arbor-fuzz-acp-{}-{number}", std::process::id()));
        let cwd = root.join("project");
        let canary = root.join("outside").join("canary.txt");
        std::fs::create_dir_all(canary.parent().expect("the canary has a directory")).expect("create the sandbox");
        std::fs::write(&canary, CANARY_TEXT).expect("write the canary");
        let cwd_text = cwd.display().to_string();
        let mut seeds = Vec::new();
        for text in [
            include_str!("../corpus/scripted.jsonl"),
            include_str!("../corpus/gemini.jsonl"),
            include_str!("../corpus/acp-shapes.jsonl"),
        ] {
            seeds.extend(corpus(text, RECORDED_CWD, &cwd_text));
        }
        let acp = Self { seeds, root, cwd, canary, runtime: current_thread() };
        acp.reset_project().expect("set up the session's directory");
        acp
    }

    fn reset_project(&self) -> std::io::Result<()> {
        if self.cwd.exists() {
            std::fs::remove_dir_all(&self.cwd)?;
        }
        std::fs::create_dir_all(&self.cwd)?;
        std::fs::write(self.cwd.join("a.txt"), "one\ntwo\nthree\n")?;
        std::os::unix::fs::symlink(self.canary.parent().expect("the canary has a directory"), self.cwd.join("link"))
    }

    /// Checks nothing outside the session's directory changed, and puts the directory back as
    /// it was when requests changed it.
    fn check_confinement(&self) -> Result<(), String> {
        let names = |dir: &Path| -> BTreeSet<String> {
            std::fs::read_dir(dir)
                .map(|entries| {
                    entries.flatten().map(|entry| entry.file_name().to_string_lossy().into_owned()).collect()
                })
                .unwrap_or_default()
        };
        let outside = self.canary.parent().expect("the canary has a directory");
        if std::fs::read_to_string(&self.canary).ok().as_deref() != Some(CANARY_TEXT)
            || names(outside) != BTreeSet::from(["canary.txt".to_string()])
            || names(&self.root) != BTreeSet::from(["outside".to_string(), "project".to_string()])
        {
            return Err(format!("a file request reached outside the session's directory {}", self.cwd.display()));
        }
        if names(&self.cwd) != BTreeSet::from(["a.txt".to_string(), "link".to_string()]) {
            self.reset_project().map_err(|error| format!("resetting the session's directory: {error}"))?;
        }
        Ok(())
    }
}

impl Default for Acp {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Acp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Target for Acp {
    type Input = Stream;
    const NAME: &'static str = "acp";

    fn strategy(&self) -> BoxedStrategy<Stream> {
        Stream::strategy(STREAM_LENGTH).boxed()
    }

    fn check(&self, stream: &Stream) -> Result<(), String> {
        let canary = self.canary.display().to_string();
        let outside = move |name: &str| (name == "$OUTSIDE").then(|| canary.clone());
        let steps = stream.steps(&self.seeds, &outside);
        self.runtime.block_on(async {
            let (mut outlets, stdin, outputs) = Outlets::new();
            let mut driver =
                DriverLoop::new(Connection::new(stdin), "fuzz".into(), false, self.cwd.clone(), outputs, stderr_tail());
            feed(&mut driver, &mut outlets, steps, acp_lines::parse_incoming).await
        })?;
        self.check_confinement()
    }
}
