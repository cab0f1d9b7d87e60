//! The plumbing every agent process shares: spawning it in its own recorded process group,
//! newline-delimited JSON on stdin and stdout, stderr into the session's log (with a tail kept
//! for error events), and its exit status.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

use super::process::{ProcessGroup, SESSION_ID_ENV};
use super::{AgentError, StartSpec};

/// Lines of an agent's stderr kept for error events.
const STDERR_TAIL_LINES: usize = 30;
/// Bound of the stdin line channel.
const CHANNEL_CAPACITY: usize = 256;
/// Bound of the stdout channel, in batches (each the lines of one read, at most
/// [`READ_BUFFER_BYTES`] of them and one line over the limit at most).
const BATCH_CHANNEL_CAPACITY: usize = 4;
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

/// Makes a driver's message of one line of an agent's stdout (without its newline) and adds it to
/// the batch of messages read together, which it may also join with the message before it (or
/// skip the line). A line over the length limit reaches it as a text saying so, which is no JSON.
pub type ParseLine<M> = fn(&[u8], &mut Vec<M>);

/// A started agent process's pipes.
pub struct AgentPipes<M = Line> {
    /// Its process group.
    pub group: ProcessGroup,
    /// Lines to write to its stdin (a newline is added).
    pub stdin: mpsc::Sender<String>,
    /// Its stdout, line by line, as the driver's parser made them.
    pub lines: Lines<M>,
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
    spawn_agent_parsing(command, stdin, agent, spec, |line, batch| batch.extend(parse_line(line))).await
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
        let (batches_tx, batches) = mpsc::channel(BATCH_CHANNEL_CAPACITY);
        tokio::spawn(read_stdout(stdout, batches_tx, parse));
        let lines = Lines { batches, ready: VecDeque::new() };
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

    /// Sends what the loop held back of the agent's output to join it with what follows (see
    /// the ACP driver's text chunks). The loop calls it whenever every message read so far has
    /// been handled, before a command and before the agent's exit is told, so nothing is held
    /// while the loop waits and outputs keep the order the agent and the actor gave them.
    fn flush_held(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }

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
    mut messages: Lines<L::Message>,
    mut exit: oneshot::Receiver<std::io::Result<std::process::ExitStatus>>,
    stderr_closed: oneshot::Receiver<()>,
) {
    loop {
        if !messages.has_ready() {
            state.flush_held().await;
        }
        tokio::select! {
            command = commands.recv() => match command {
                Some(command) => {
                    state.flush_held().await;
                    state.handle_command(command).await
                }
                // The actor dropped its handle: it is terminating the process group itself.
                None => return,
            },
            message = messages.recv() => match message {
                Some(message) => state.handle_message(message).await,
                // An agent that closed its stdout can no longer be heard, whether or not it runs.
                None => {
                    state.flush_held().await;
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
                state.flush_held().await;
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

/// The messages of an agent's stdout, one at a time, as its reader sent them: a batch for each
/// read, so that an agent writing many short lines costs one channel send per read, not per line.
pub struct Lines<M> {
    batches: mpsc::Receiver<Vec<M>>,
    ready: VecDeque<M>,
}

impl<M> Lines<M> {
    /// Whether a message read already waits to be taken.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The next message; None once stdout has ended and every message was taken. Cancel-safe:
    /// a batch is taken whole or not at all.
    pub async fn recv(&mut self) -> Option<M> {
        if let Some(message) = self.ready.pop_front() {
            return Some(message);
        }
        self.ready.extend(self.batches.recv().await?);
        self.ready.pop_front()
    }
}

/// One line found by a [`LineSplitter`].
enum Split<'a> {
    /// A whole line, without its newline.
    Line(&'a [u8]),
    /// A line longer than the limit, as its first `limit` bytes: the rest was thrown away as it
    /// came.
    TooLong(&'a [u8]),
}

/// Cuts a byte stream into lines, keeping at most `limit` bytes of one: the rest of a longer line
/// is discarded as it arrives, so an agent writing endlessly without a newline costs no memory
/// beyond the limit. Lines whole in one read are handed on straight from the read buffer.
struct LineSplitter {
    limit: usize,
    /// The start of a line that the last read ended inside.
    partial: Vec<u8>,
    too_long: bool,
}

impl LineSplitter {
    fn new(limit: usize) -> Self {
        LineSplitter { limit, partial: Vec::new(), too_long: false }
    }

    /// Hands each line that `read` completes to `each`, keeping the start of an unfinished one.
    fn split(&mut self, mut read: &[u8], mut each: impl FnMut(Split<'_>)) {
        while let Some(newline) = memchr::memchr(b'\n', read) {
            let (line, rest) = (&read[..newline], &read[newline + 1..]);
            if self.partial.is_empty() && !self.too_long {
                each(if line.len() > self.limit { Split::TooLong(&line[..self.limit]) } else { Split::Line(line) });
            } else {
                self.keep(line);
                self.finish_line(&mut each);
            }
            read = rest;
        }
        self.keep(read);
    }

    /// Hands on the unfinished line of a stream that ended without a newline.
    fn end(&mut self, mut each: impl FnMut(Split<'_>)) {
        if !self.partial.is_empty() || self.too_long {
            self.finish_line(&mut each);
        }
    }

    fn keep(&mut self, part: &[u8]) {
        let room = self.limit - self.partial.len();
        self.too_long |= part.len() > room;
        self.partial.extend_from_slice(&part[..part.len().min(room)]);
    }

    fn finish_line(&mut self, each: &mut impl FnMut(Split<'_>)) {
        each(if self.too_long { Split::TooLong(&self.partial) } else { Split::Line(&self.partial) });
        self.partial.clear();
        self.too_long = false;
    }
}

async fn read_stdout<M>(stdout: tokio::process::ChildStdout, batches: mpsc::Sender<Vec<M>>, parse: ParseLine<M>) {
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, stdout);
    let mut splitter = LineSplitter::new(MAX_LINE_BYTES);
    let too_long = format!("(a line longer than {MAX_LINE_BYTES} bytes, skipped)");
    let parsed = |batch: &mut Vec<M>, split: Split<'_>| {
        let line = match split {
            Split::Line(line) => line,
            Split::TooLong(_) => too_long.as_bytes(),
        };
        parse(line, batch);
    };
    loop {
        let mut batch = Vec::new();
        let ended = match reader.fill_buf().await {
            Ok([]) | Err(_) => true,
            Ok(read) => {
                let length = read.len();
                splitter.split(read, |split| parsed(&mut batch, split));
                reader.consume(length);
                false
            }
        };
        if ended {
            splitter.end(|split| parsed(&mut batch, split));
        }
        if !batch.is_empty() && batches.send(batch).await.is_err() || ended {
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
    let mut splitter = LineSplitter::new(MAX_STDERR_LINE_BYTES);
    let text = |split: Split<'_>| match split {
        Split::Line(line) => String::from_utf8_lossy(line).trim_end_matches('\r').to_string(),
        Split::TooLong(start) => format!("{}… (cut at {MAX_STDERR_LINE_BYTES} bytes)", String::from_utf8_lossy(start)),
    };
    loop {
        let mut lines = Vec::new();
        let ended = match reader.fill_buf().await {
            Ok([]) | Err(_) => true,
            Ok(read) => {
                let length = read.len();
                splitter.split(read, |split| lines.push(text(split)));
                reader.consume(length);
                false
            }
        };
        if ended {
            splitter.end(|split| lines.push(text(split)));
        }
        for line in lines {
            if let Some(file) = log.as_mut() {
                let _ = file.write_all(format!("{line}\n").as_bytes()).await;
            }
            let mut tail = tail.lock().expect("stderr tail poisoned");
            if tail.len() == STDERR_TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
        if ended {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a splitter with `limit` makes of `reads`, each line as text or `TOO LONG(start)`.
    fn lines_of(limit: usize, reads: &[&[u8]]) -> Vec<String> {
        let mut splitter = LineSplitter::new(limit);
        let mut lines = Vec::new();
        let mut shown = |split: Split<'_>| {
            lines.push(match split {
                Split::Line(line) => String::from_utf8_lossy(line).to_string(),
                Split::TooLong(start) => format!("TOO LONG({})", String::from_utf8_lossy(start)),
            })
        };
        for read in reads {
            splitter.split(read, &mut shown);
        }
        splitter.end(&mut shown);
        lines
    }

    #[test]
    fn lines_are_whole_wherever_the_reads_cut_them() {
        assert_eq!(
            lines_of(100, &[b"one\ntwo\nthr", b"ee\n", b"\nfo", b"u", b"r"]),
            ["one", "two", "three", "", "four"]
        );
        assert_eq!(lines_of(100, &[b"a\n"]), ["a"]);
        assert!(lines_of(100, &[]).is_empty());
    }

    #[test]
    fn a_line_over_the_limit_keeps_only_its_start_and_the_next_line_is_whole() {
        // Whole in one read, and across reads: the same result.
        assert_eq!(lines_of(4, &[b"abcdefgh\nok\n"]), ["TOO LONG(abcd)", "ok"]);
        assert_eq!(lines_of(4, &[b"abc", b"defg", b"h\nok\n"]), ["TOO LONG(abcd)", "ok"]);
        // A line of exactly the limit is not too long; an endless one ends as too long.
        assert_eq!(lines_of(4, &[b"abcd\n", b"xxxxxxxx", b"xxxx"]), ["abcd", "TOO LONG(xxxx)"]);
    }
}
