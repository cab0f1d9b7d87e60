//! The plumbing every agent process shares: newline-delimited JSON on stdin and stdout, stderr
//! into the session's log (with a tail kept for error events), and its exit status.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Child;
use tokio::sync::{mpsc, oneshot};

use super::process::ProcessGroup;

/// Lines of an agent's stderr kept for error events.
const STDERR_TAIL_LINES: usize = 30;
/// Bound of the line channels.
const CHANNEL_CAPACITY: usize = 256;
/// Longest line accepted from an agent; a longer one is reported and skipped.
const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// One line of an agent's stdout.
#[derive(Debug)]
pub enum Line {
    /// A JSON object.
    Json(Value),
    /// Anything else, as text.
    Malformed(String),
}

/// A started agent process's pipes.
pub struct AgentPipes {
    /// Its process group.
    pub group: ProcessGroup,
    /// Lines to write to its stdin (a newline is added).
    pub stdin: mpsc::Sender<String>,
    /// Lines read from its stdout.
    pub lines: mpsc::Receiver<Line>,
    /// Its exit status, once it has exited.
    pub exit: oneshot::Receiver<std::io::Result<std::process::ExitStatus>>,
    /// The last lines of its stderr.
    pub stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// Completes when its stderr has been read to the end.
    pub stderr_closed: oneshot::Receiver<()>,
}

impl AgentPipes {
    /// Wires up a child spawned with piped stdout and stderr (and stdin, unless it runs with stdin
    /// closed) in its own process group.
    pub fn start(mut child: Child, log_path: PathBuf) -> AgentPipes {
        let group = ProcessGroup::register(child.id().unwrap_or_default());
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let (closed, stderr_closed) = oneshot::channel();
        let tail = stderr_tail.clone();
        tokio::spawn(async move {
            capture_stderr(stderr, log_path, tail).await;
            let _ = closed.send(());
        });
        let (stdin_tx, stdin_rx) = mpsc::channel(CHANNEL_CAPACITY);
        // An agent run with stdin closed (one process per turn) gets nothing written to it.
        if let Some(stdin) = stdin {
            tokio::spawn(write_stdin(stdin, stdin_rx));
        }
        let (lines_tx, lines) = mpsc::channel(CHANNEL_CAPACITY);
        tokio::spawn(read_stdout(stdout, lines_tx));
        let (exit_tx, exit) = oneshot::channel();
        tokio::spawn(async move {
            let _ = exit_tx.send(child.wait().await);
        });
        AgentPipes { group, stdin: stdin_tx, lines, exit, stderr_tail, stderr_closed }
    }
}

/// The stderr tail as one text.
pub fn tail_text(tail: &Mutex<VecDeque<String>>) -> String {
    tail.lock().expect("stderr tail poisoned").iter().cloned().collect::<Vec<_>>().join("\n")
}

/// A message, with the stderr tail appended when there is one.
pub fn with_stderr(message: String, tail: &Mutex<VecDeque<String>>) -> String {
    let tail = tail_text(tail);
    if tail.is_empty() { message } else { format!("{message}\nagent stderr:\n{tail}") }
}

/// Waits (briefly) until the last of an exited agent's stderr has been read, so error messages
/// carry its final words.
pub async fn stderr_drained(closed: oneshot::Receiver<()>) {
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), closed).await;
}

/// The state of a driver whose agent is one long-lived process: the actor's commands and the
/// agent's messages are handled one at a time, so the state needs no lock.
pub trait AgentLoop: Send + Sync {
    /// What the reader task makes of the agent's stdout.
    type Message: Send;

    /// Acts on a command from the session actor.
    fn handle_command(&mut self, command: super::AgentCommand) -> impl Future<Output = ()> + Send;

    /// Acts on one message from the agent.
    fn handle_message(&mut self, message: Self::Message) -> impl Future<Output = ()> + Send;

    /// Where the driver's outputs go.
    fn outputs(&self) -> &mpsc::Sender<super::AgentOutput>;

    /// Sends one output to the session actor. A closed channel means the actor has gone, which
    /// the loop learns when its commands close.
    fn output(&self, output: super::AgentOutput) -> impl Future<Output = ()> + Send {
        async move {
            let _ = self.outputs().send(output).await;
        }
    }

    /// The last lines of the agent's stderr.
    fn stderr_tail(&self) -> &Mutex<VecDeque<String>>;
}

/// Runs a driver until its actor drops the command channel or its agent exits. On exit, what the
/// agent printed before it ended is handled first, then the exit is reported with the last of its
/// stderr, so an agent's dying words reach the session.
pub async fn run_agent_loop<L: AgentLoop>(
    mut state: L,
    mut commands: mpsc::Receiver<super::AgentCommand>,
    mut messages: mpsc::Receiver<L::Message>,
    mut exit: oneshot::Receiver<std::io::Result<std::process::ExitStatus>>,
    stderr_closed: oneshot::Receiver<()>,
) {
    let mut messages_open = true;
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(command) => state.handle_command(command).await,
                // The actor dropped its handle: it is terminating the process group itself.
                None => return,
            },
            message = messages.recv(), if messages_open => match message {
                Some(message) => state.handle_message(message).await,
                None => messages_open = false,
            },
            status = &mut exit => {
                while let Some(message) = messages.recv().await {
                    state.handle_message(message).await;
                }
                stderr_drained(stderr_closed).await;
                let (clean, message) = describe_exit(status);
                let exited = super::AgentOutput::Exited { clean, message: with_stderr(message, state.stderr_tail()) };
                state.output(exited).await;
                return;
            }
        }
    }
}

/// Describes how a process ended.
pub fn describe_exit(
    status: Result<std::io::Result<std::process::ExitStatus>, oneshot::error::RecvError>,
) -> (bool, String) {
    match status {
        Ok(Ok(status)) if status.success() => (true, "the agent exited".to_string()),
        Ok(Ok(status)) => (false, format!("the agent process ended unexpectedly ({status})")),
        Ok(Err(error)) => (false, format!("could not wait for the agent process: {error}")),
        Err(_) => (false, "the process watcher stopped".to_string()),
    }
}

/// The start of a long line, for messages.
pub fn preview(line: &str) -> String {
    const LIMIT: usize = 200;
    if line.len() <= LIMIT {
        return line.to_string();
    }
    let mut end = LIMIT;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

async fn write_stdin(mut stdin: tokio::process::ChildStdin, mut lines: mpsc::Receiver<String>) {
    while let Some(mut line) = lines.recv().await {
        line.push('\n');
        if stdin.write_all(line.as_bytes()).await.is_err() || stdin.flush().await.is_err() {
            return;
        }
    }
}

async fn read_stdout(stdout: tokio::process::ChildStdout, lines: mpsc::Sender<Line>) {
    let mut reader = BufReader::new(stdout);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        let read = (&mut reader).take(MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut buffer).await;
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if buffer.len() > MAX_LINE_BYTES {
            let _ = lines.send(Line::Malformed(format!("(a line longer than {MAX_LINE_BYTES} bytes)"))).await;
            let mut rest = Vec::new();
            if reader.read_until(b'\n', &mut rest).await.is_err() {
                return;
            }
            continue;
        }
        let Some(line) = parse_line(&buffer) else { continue };
        if lines.send(line).await.is_err() {
            return;
        }
    }
}

/// What one line of an agent's stdout is: a JSON object, or text; None for a blank line.
pub fn parse_line(bytes: &[u8]) -> Option<Line> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => Line::Json(value),
        _ => Line::Malformed(text.to_string()),
    })
}

async fn capture_stderr(stderr: tokio::process::ChildStderr, log_path: PathBuf, tail: Arc<Mutex<VecDeque<String>>>) {
    if let Some(parent) = log_path.parent() {
        let _ = tokio::fs::create_dir_all(parent).await;
    }
    let mut log = tokio::fs::OpenOptions::new().create(true).append(true).open(&log_path).await.ok();
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(file) = log.as_mut() {
            let _ = file.write_all(format!("{line}\n").as_bytes()).await;
        }
        let mut tail = tail.lock().expect("stderr tail poisoned");
        if tail.len() == STDERR_TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}
