//! The plumbing every agent process shares: spawning it in its own recorded process group,
//! newline-delimited JSON on stdin and stdout, stderr into the session's log (with a tail kept
//! for error events), and its exit status.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

use super::process::{ProcessGroup, SESSION_ID_ENV};
use super::{AgentError, StartSpec};

/// Lines of an agent's stderr kept for error events.
const STDERR_TAIL_LINES: usize = 30;
/// Bound of the line channels.
const CHANNEL_CAPACITY: usize = 256;
/// Longest line accepted from an agent; a longer one is reported and skipped.
const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// Longest line of an agent's stderr kept (in its log and in error messages); the rest is cut.
const MAX_STDERR_LINE_BYTES: usize = 64 * 1024;
/// Read buffer of an agent's stdout and stderr.
const READ_BUFFER_BYTES: usize = 64 * 1024;
/// How long an agent that closed its stdout has to exit before it is taken for ended, and how
/// long output still buffered after an exit is read for (a child of the agent may hold its stdout
/// open long after the agent has gone).
const END_GRACE: Duration = Duration::from_secs(2);

/// One line of an agent's stdout.
#[derive(Debug)]
pub enum Line {
    /// A JSON object.
    Json(Value),
    /// Anything else, as text.
    Malformed(String),
}

/// Makes a driver's message of one line of an agent's stdout (without its newline); None skips
/// the line. A line over the length limit reaches it as a text saying so, which is no JSON.
pub type ParseLine<M> = fn(&[u8]) -> Option<M>;

/// A started agent process's pipes.
pub struct AgentPipes<M = Line> {
    /// Its process group.
    pub group: ProcessGroup,
    /// Lines to write to its stdin (a newline is added).
    pub stdin: mpsc::Sender<String>,
    /// Its stdout, line by line, as the driver's parser made them.
    pub lines: mpsc::Receiver<M>,
    /// Its exit status, once it has exited.
    pub exit: oneshot::Receiver<std::io::Result<std::process::ExitStatus>>,
    /// The last lines of its stderr.
    pub stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// Completes when its stderr has been read to the end.
    pub stderr_closed: oneshot::Receiver<()>,
}

/// Spawns `command` as `agent`'s process for the session in `spec`, the one place every agent
/// process starts: in the session's directory, through the session's sandbox, in a process group
/// of its own that is recorded in the store, with its session's id in its environment, stdout and
/// stderr piped and `stdin` as given (piped, or null for an agent that reads nothing).
pub async fn spawn_agent(
    command: Command,
    stdin: Stdio,
    agent: &str,
    spec: &StartSpec,
) -> Result<AgentPipes, AgentError> {
    spawn_agent_parsing(command, stdin, agent, spec, parse_line).await
}

/// [`spawn_agent`] with each line of stdout made into a message by `parse`, on the reader task:
/// a driver whose agent streams fast parses there, without a [`Line`] in between.
pub async fn spawn_agent_parsing<M: Send + 'static>(
    mut command: Command,
    stdin: Stdio,
    agent: &str,
    spec: &StartSpec,
    parse: ParseLine<M>,
) -> Result<AgentPipes<M>, AgentError> {
    command.current_dir(&spec.cwd).env(SESSION_ID_ENV, spec.session_id.to_string());
    if let Some(memory) = &spec.memory {
        command.env(crate::memory::MEMORY_FILE_ENV, &memory.file);
    }
    let mut command = spec.sandbox.wrap(command)?;
    command.stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let (child, group) = ProcessGroup::spawn_leader(&mut command)
        .map_err(|source| AgentError::Spawn { agent: agent.to_string(), source })?;
    spec.ledger.record(group).await;
    Ok(AgentPipes::start(child, group, spec.log_path.clone(), parse))
}

impl<M: Send + 'static> AgentPipes<M> {
    /// Wires up a child spawned with piped stdout and stderr (and stdin, unless it runs with stdin
    /// closed) as the leader of `group`.
    fn start(mut child: Child, group: ProcessGroup, log_path: PathBuf, parse: ParseLine<M>) -> AgentPipes<M> {
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
        tokio::spawn(read_stdout(stdout, lines_tx, parse));
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
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(command) => state.handle_command(command).await,
                // The actor dropped its handle: it is terminating the process group itself.
                None => return,
            },
            message = messages.recv() => match message {
                Some(message) => state.handle_message(message).await,
                // An agent that closed its stdout can no longer be heard, whether or not it runs.
                None => {
                    let (clean, message) = ended_after_stdout_closed(&mut exit).await;
                    let exited = super::AgentOutput::Exited { clean, message: with_stderr(message, state.stderr_tail()) };
                    state.output(exited).await;
                    return;
                }
            },
            status = &mut exit => {
                // What the agent printed before it ended is handled first, for as long as its
                // stdout stays open: a child of the agent may hold it open long after.
                let _ = tokio::time::timeout(END_GRACE, async {
                    while let Some(message) = messages.recv().await {
                        state.handle_message(message).await;
                    }
                })
                .await;
                stderr_drained(stderr_closed).await;
                let (clean, message) = describe_exit(status);
                let exited = super::AgentOutput::Exited { clean, message: with_stderr(message, state.stderr_tail()) };
                state.output(exited).await;
                return;
            }
        }
    }
}

/// How an agent that closed its stdout ended: its exit, if it exits within [`END_GRACE`];
/// otherwise it counts as ended all the same (unclean), and its session ends its process group.
pub async fn ended_after_stdout_closed(
    exit: &mut oneshot::Receiver<std::io::Result<std::process::ExitStatus>>,
) -> (bool, String) {
    match tokio::time::timeout(END_GRACE, exit).await {
        Ok(status) => describe_exit(status),
        Err(_) => (false, "the agent closed its stdout but kept running, so Arbor ended it".to_string()),
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

/// One line read by [`read_line`].
enum Read {
    /// A whole line (without its newline) is in the buffer.
    Line,
    /// A line longer than the limit was read: its first `limit` bytes are in the buffer, the rest
    /// was thrown away.
    TooLong,
    /// The stream ended.
    End,
}

/// Reads the next line into `buffer`, keeping at most `limit` bytes of it: the rest of a longer
/// line is discarded as it arrives, so an agent writing endlessly without a newline costs no
/// memory beyond the limit.
async fn read_line(
    reader: &mut (impl AsyncBufRead + Unpin),
    buffer: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<Read> {
    buffer.clear();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(match (too_long, buffer.is_empty()) {
                (true, _) => Read::TooLong,
                (false, true) => Read::End,
                (false, false) => Read::Line,
            });
        }
        let newline = available.iter().position(|byte| *byte == b'\n');
        let part = &available[..newline.unwrap_or(available.len())];
        let room = limit - buffer.len();
        too_long |= part.len() > room;
        buffer.extend_from_slice(&part[..part.len().min(room)]);
        let used = newline.map_or(available.len(), |at| at + 1);
        reader.consume(used);
        if newline.is_some() {
            return Ok(if too_long { Read::TooLong } else { Read::Line });
        }
    }
}

async fn read_stdout<M>(stdout: tokio::process::ChildStdout, lines: mpsc::Sender<M>, parse: ParseLine<M>) {
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, stdout);
    let mut buffer = Vec::new();
    let too_long = format!("(a line longer than {MAX_LINE_BYTES} bytes, skipped)");
    loop {
        let parsed = match read_line(&mut reader, &mut buffer, MAX_LINE_BYTES).await {
            Ok(Read::End) | Err(_) => return,
            Ok(Read::TooLong) => parse(too_long.as_bytes()),
            Ok(Read::Line) => parse(&buffer),
        };
        let Some(line) = parsed else { continue };
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
    // Agent output can quote prompts and secrets the agent read: owner-only, like every Arbor file.
    let mut log = tokio::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&log_path).await.ok();
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, stderr);
    let mut buffer = Vec::new();
    loop {
        let line = match read_line(&mut reader, &mut buffer, MAX_STDERR_LINE_BYTES).await {
            Ok(Read::End) | Err(_) => return,
            Ok(Read::TooLong) => {
                format!("{}… (cut at {MAX_STDERR_LINE_BYTES} bytes)", String::from_utf8_lossy(&buffer))
            }
            Ok(Read::Line) => String::from_utf8_lossy(&buffer).trim_end_matches('\r').to_string(),
        };
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
