//! ACP's terminal client methods (`terminal/create`, `terminal/output`, `terminal/wait_for_exit`,
//! `terminal/kill`, `terminal/release`): commands an agent runs through Arbor rather than itself.
//! Each runs in the session's directory (or a directory inside it), through the session's
//! sandbox, in a process group of its own that is ended when the terminal is killed or released
//! or the agent's connection ends. Its output is kept up to a bound (the agent's
//! `outputByteLimit`, at most [`MAX_OUTPUT_BYTES`]), dropping the oldest bytes first, and streams
//! into the tool call that shows the terminal.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arbor_protocol::{SessionEvent, ToolCallContent};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, watch};

use super::AgentOutput;
use super::discovery::agent_command;
use super::process::{ProcessGroup, SESSION_ID_ENV};
use crate::sandbox::Sandbox;

/// The most output a terminal keeps, whatever the agent asks for.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;
/// The most output one live update of the session carries (its latest part).
const LIVE_OUTPUT_BYTES: usize = 64 * 1024;
/// How often a running terminal's new output is shown in its tool call.
const LIVE_EVERY: Duration = Duration::from_millis(200);

/// A JSON-RPC error answer: its code and message.
pub type Refusal = (i64, String);

/// How a terminal's command ended.
#[derive(Debug, Clone, PartialEq)]
struct Exit {
    code: Option<i32>,
    signal: Option<String>,
}

impl Exit {
    fn of(status: std::io::Result<std::process::ExitStatus>) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match status {
            Ok(status) => Exit { code: status.code(), signal: status.signal().map(signal_name) },
            Err(_) => Exit { code: None, signal: None },
        }
    }

    fn to_json(&self) -> Value {
        json!({ "exitCode": self.code, "signal": self.signal })
    }
}

fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGINT => "SIGINT".into(),
        other => format!("signal {other}"),
    }
}

/// The latest output of a command, at most `limit` bytes.
#[derive(Debug)]
struct Output {
    bytes: Vec<u8>,
    limit: usize,
    truncated: bool,
}

impl Output {
    fn push(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
        if self.bytes.len() > self.limit {
            let excess = self.bytes.len() - self.limit;
            self.bytes.drain(..excess);
            self.truncated = true;
        }
    }

    /// The last `at_most` bytes as text, starting on a character boundary.
    fn text(&self, at_most: usize) -> String {
        let mut start = self.bytes.len().saturating_sub(at_most);
        // A UTF-8 continuation byte is never where a character starts.
        while start < self.bytes.len() && self.bytes[start] & 0b1100_0000 == 0b1000_0000 {
            start += 1;
        }
        String::from_utf8_lossy(&self.bytes[start..]).into_owned()
    }
}

/// One running (or finished) command.
struct Terminal {
    group: ProcessGroup,
    output: Arc<Mutex<Output>>,
    exit: watch::Receiver<Option<Exit>>,
    /// The tool call showing this terminal, once the agent names it in one.
    tool_call: Arc<Mutex<Option<String>>>,
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if self.exit.borrow().is_none() {
            self.group.signal(libc::SIGKILL);
        }
    }
}

/// The terminals of one agent connection.
pub struct Terminals {
    session_id: uuid::Uuid,
    cwd: PathBuf,
    sandbox: Arc<Sandbox>,
    /// Where live output goes: the session, as tool call updates.
    outputs: mpsc::Sender<AgentOutput>,
    terminals: HashMap<String, Terminal>,
    next_id: u64,
}

impl Terminals {
    /// Terminals for the session `session_id` working in `cwd`, confined by `sandbox`.
    pub fn new(
        session_id: uuid::Uuid,
        cwd: PathBuf,
        sandbox: Arc<Sandbox>,
        outputs: mpsc::Sender<AgentOutput>,
    ) -> Self {
        Self { session_id, cwd, sandbox, outputs, terminals: HashMap::new(), next_id: 1 }
    }

    /// `terminal/create`: starts the command and answers its terminal id.
    pub fn create(&mut self, params: &Value) -> Result<Value, Refusal> {
        let program = params["command"].as_str().filter(|command| !command.is_empty());
        let program = program.ok_or((-32602, "terminal/create needs a command".to_string()))?;
        let cwd = match params["cwd"].as_str() {
            Some(cwd) => super::acp::confine(&self.cwd, cwd).map_err(|message| (-32602, message))?,
            None => self.cwd.clone(),
        };
        let env: BTreeMap<String, String> = params["env"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|pair| Some((pair["name"].as_str()?.to_string(), pair["value"].as_str()?.to_string())))
            .collect();
        let mut command = agent_command(program, &env);
        command.args(params["args"].as_array().into_iter().flatten().filter_map(Value::as_str));
        command.current_dir(&cwd).env(SESSION_ID_ENV, self.session_id.to_string());
        let mut command = self.sandbox.wrap(command).map_err(|error| (-32603, error.to_string()))?;
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let (mut child, group) = ProcessGroup::spawn_leader(&mut command)
            .map_err(|error| (-32603, format!("could not run {program}: {error}")))?;
        let limit = params["outputByteLimit"].as_u64().map_or(MAX_OUTPUT_BYTES, |limit| limit as usize);
        let output =
            Arc::new(Mutex::new(Output { bytes: Vec::new(), limit: limit.min(MAX_OUTPUT_BYTES), truncated: false }));
        let (exit_tx, exit) = watch::channel(None);
        let readers = [
            child.stdout.take().map(|pipe| tokio::spawn(collect(pipe, output.clone()))),
            child.stderr.take().map(|pipe| tokio::spawn(collect(pipe, output.clone()))),
        ];
        tokio::spawn(async move {
            let status = child.wait().await;
            for reader in readers.into_iter().flatten() {
                let _ = reader.await;
            }
            let _ = exit_tx.send(Some(Exit::of(status)));
        });
        let id = format!("term-{}", self.next_id);
        self.next_id += 1;
        let terminal = Terminal { group, output, exit, tool_call: Arc::default() };
        tokio::spawn(show_live(
            terminal.output.clone(),
            terminal.exit.clone(),
            terminal.tool_call.clone(),
            self.outputs.clone(),
        ));
        self.terminals.insert(id.clone(), terminal);
        Ok(json!({ "terminalId": id }))
    }

    fn get(&self, params: &Value) -> Result<&Terminal, Refusal> {
        let id = params["terminalId"].as_str().unwrap_or_default();
        self.terminals.get(id).ok_or_else(|| (-32602, format!("no terminal '{id}'")))
    }

    /// `terminal/output`: the output so far, and the exit status once the command has ended.
    pub fn output(&self, params: &Value) -> Result<Value, Refusal> {
        let terminal = self.get(params)?;
        let output = terminal.output.lock().expect("terminal output poisoned");
        let exit = terminal.exit.borrow().as_ref().map(Exit::to_json);
        Ok(json!({ "output": output.text(output.limit), "truncated": output.truncated, "exitStatus": exit }))
    }

    /// `terminal/wait_for_exit`: a future answering once the command has ended, so the caller
    /// can wait without holding up the connection.
    pub fn wait_for_exit(&self, params: &Value) -> Result<impl Future<Output = Value> + Send + 'static, Refusal> {
        let mut exit = self.get(params)?.exit.clone();
        Ok(async move {
            match exit.wait_for(Option::is_some).await {
                Ok(exit) => exit.as_ref().map(Exit::to_json).unwrap_or_default(),
                Err(_) => json!({ "exitCode": null, "signal": null }),
            }
        })
    }

    /// `terminal/kill`: ends the command (its whole process group); the terminal stays readable.
    pub fn kill(&self, params: &Value) -> Result<Value, Refusal> {
        let terminal = self.get(params)?;
        if terminal.exit.borrow().is_none() {
            terminal.group.signal(libc::SIGKILL);
        }
        Ok(Value::Null)
    }

    /// `terminal/release`: ends the command if it still runs and forgets the terminal.
    pub fn release(&mut self, params: &Value) -> Result<Value, Refusal> {
        self.get(params)?;
        let id = params["terminalId"].as_str().unwrap_or_default();
        self.terminals.remove(id);
        Ok(Value::Null)
    }

    /// The terminal `terminal_id` as tool call content: its output so far and its exit code.
    pub fn content(&self, terminal_id: &str) -> Option<ToolCallContent> {
        let terminal = self.terminals.get(terminal_id)?;
        Some(content_of(&terminal.output, &terminal.exit.borrow()))
    }

    /// Streams the terminal `terminal_id`'s output into the tool call `tool_call_id` from now on
    /// (once the session has that call, so no update comes before it).
    pub fn show_in(&self, terminal_id: &str, tool_call_id: &str) {
        if let Some(terminal) = self.terminals.get(terminal_id) {
            *terminal.tool_call.lock().expect("terminal tool call poisoned") = Some(tool_call_id.to_string());
        }
    }
}

fn content_of(output: &Mutex<Output>, exit: &Option<Exit>) -> ToolCallContent {
    let output = output.lock().expect("terminal output poisoned").text(LIVE_OUTPUT_BYTES);
    ToolCallContent::Terminal { output, exit_code: exit.as_ref().and_then(|exit| exit.code) }
}

async fn collect(mut pipe: impl tokio::io::AsyncRead + Unpin, output: Arc<Mutex<Output>>) {
    let mut buffer = vec![0u8; 16 * 1024];
    while let Ok(read) = pipe.read(&mut buffer).await {
        if read == 0 {
            return;
        }
        output.lock().expect("terminal output poisoned").push(&buffer[..read]);
    }
}

/// Shows a terminal's output in its tool call while the command runs, and once when it ends.
async fn show_live(
    output: Arc<Mutex<Output>>,
    mut exit: watch::Receiver<Option<Exit>>,
    tool_call: Arc<Mutex<Option<String>>>,
    outputs: mpsc::Sender<AgentOutput>,
) {
    let mut shown = (0usize, false);
    loop {
        let ended = tokio::time::timeout(LIVE_EVERY, exit.wait_for(Option::is_some)).await.is_ok();
        let length = output.lock().expect("terminal output poisoned").bytes.len();
        let tool_call_id = tool_call.lock().expect("terminal tool call poisoned").clone();
        if let Some(tool_call_id) = tool_call_id
            && (length, ended) != shown
        {
            shown = (length, ended);
            let content = content_of(&output, &exit.borrow());
            let update = SessionEvent::ToolCallUpdate {
                tool_call_id,
                status: None,
                title: None,
                content: Some(vec![content]),
                details: Default::default(),
            };
            if outputs.send(AgentOutput::Event(update)).await.is_err() {
                return;
            }
        }
        if ended {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Output;

    #[test]
    fn output_keeps_the_latest_bytes_on_a_character_boundary() {
        let mut output = Output { bytes: Vec::new(), limit: 4, truncated: false };
        output.push("abé".as_bytes());
        assert!(!output.truncated);
        output.push("éz".as_bytes());
        assert!(output.truncated);
        assert_eq!(output.bytes.len(), 4);
        // The first kept byte is the second half of an "é": the text starts after it.
        assert_eq!(output.text(4), "éz");
    }
}
