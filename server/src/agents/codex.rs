//! The Codex CLI driver: `codex exec --json` once per turn, and `codex exec resume --json
//! <thread id>` for the turns after the first, with stdin closed (exec waits on an open pipe).
//!
//! exec rather than `app-server`: exec's JSONL events are a small, documented, stable surface,
//! and a process per turn means nothing lingers between turns. What it costs: no text deltas
//! (an agent message arrives whole) and no interactive approvals (Codex's own config decides, or
//! the session's permission mode maps to its sandbox flags). Interrupt is SIGINT to the turn's
//! process group.
//!
//! Sessions in `ask` mode, which exec cannot serve, run through the Codex ACP adapter
//! (`codex-acp`, which drives Codex's app-server) when it is installed: Codex then asks through
//! `session/request_permission` like every ACP agent, and its messages stream in chunks.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use arbor_protocol::{
    AgentCapabilities, AgentInfo, PermissionMode, PlanEntry, SessionEvent, StopReason, ToolCallContent, ToolCallStatus,
    ToolKind, Usage,
};
use serde_json::Value;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};

use super::acp::{AcpDriver, by_command};
use super::acp_settings::Current;
use super::discovery::{AgentCli, agent_command, find_program};
use super::process::GroupSlot;
use super::stdio::{AgentPipes, Line, ended_after_stdout_closed, preview, spawn_agent, stderr_drained, with_stderr};
use super::{AgentCommand, AgentDriver, AgentError, AgentHandle, AgentOutput, StartFuture, StartSpec};

/// The Codex agent's id.
pub const AGENT_ID: &str = "codex";
/// Bound of the channels between the driver and the session actor.
const CHANNEL_CAPACITY: usize = 256;

/// The Codex CLI driver.
pub struct CodexDriver {
    cli: AgentCli,
    /// The Codex ACP adapter, for sessions that must ask; None when it is not installed.
    asking: Option<AcpDriver>,
}

impl CodexDriver {
    /// A driver for `codex` on PATH, or at `command`, with the Codex ACP adapter on PATH (or at
    /// `acp_command`) for sessions in `ask` mode.
    pub fn new(command: Option<&Path>, acp_command: Option<&Path>, env: BTreeMap<String, String>) -> Self {
        let asking = find_program("codex-acp", acp_command).map(|adapter| {
            let adapter = crate::config::AcpAgentConfig {
                name: "Codex".into(),
                command: vec![adapter.display().to_string()],
                env: env.clone(),
            };
            // Codex reports its own version; the adapter's is learned when a session starts.
            by_command(AGENT_ID, &adapter, false)
        });
        Self { cli: AgentCli::find("codex", command, env), asking }
    }
}

/// Whether a session starts in `ask` mode (the default).
fn asks(spec: &StartSpec) -> bool {
    spec.config.permission_mode.unwrap_or_default() == PermissionMode::Ask
}

impl AgentDriver for CodexDriver {
    fn info(&self) -> AgentInfo {
        AgentInfo {
            id: AGENT_ID.into(),
            name: "Codex CLI".into(),
            description: match self.asking {
                Some(_) => "OpenAI's Codex CLI: `codex exec --json` once per turn, and the Codex ACP adapter for \
                            sessions in ask mode."
                    .into(),
                None => "OpenAI's Codex CLI, run as `codex exec --json` once per turn.".into(),
            },
            available: self.cli.program.is_some(),
            version: self.cli.version.get(),
            install_hint: Some(
                "install it with `npm install -g @openai/codex` (or set agents.codex.command in the config file)"
                    .into(),
            ),
            capabilities: AgentCapabilities {
                persistent_process: false,
                // Only through the adapter can Codex ask before it acts.
                permissions: self.asking.is_some(),
                ..super::typical_capabilities()
            },
            models: Vec::new(),
        }
    }

    fn start(&self, spec: StartSpec) -> StartFuture {
        if let Some(adapter) = self.asking.as_ref().filter(|_| asks(&spec)) {
            return adapter.start(spec);
        }
        let program = self.cli.program.clone();
        let mut env = self.cli.env.clone();
        Box::pin(async move {
            for (name, value) in crate::memory::agent_home::private_env(AGENT_ID, &env, &spec)? {
                env.insert(name.into(), value.display().to_string());
            }
            let program = program.ok_or_else(|| AgentError::Unavailable {
                agent: AGENT_ID.into(),
                hint: "install it with `npm install -g @openai/codex`".into(),
            })?;
            let (commands_tx, commands_rx) = mpsc::channel(CHANNEL_CAPACITY);
            let (outputs_tx, outputs_rx) = mpsc::channel(CHANNEL_CAPACITY);
            let group = GroupSlot::default();
            if let Some(thread) = &spec.resume {
                let _ = outputs_tx.send(AgentOutput::AgentSessionId(thread.clone())).await;
            }
            let session = CodexSession::new(program, env, spec, outputs_tx, group.clone());
            tokio::spawn(session.run(commands_rx));
            Ok(AgentHandle { commands: commands_tx, outputs: outputs_rx, process_group: group, briefed: false })
        })
    }
}

/// The process running the current turn.
struct Turn {
    pipes: AgentPipes,
    ended: bool,
}

/// The driver's state for one Codex session: it starts a process per turn and turns each JSONL
/// event into session outputs. Public so the parser can be driven on its own (the fuzz targets
/// do), without a process.
pub struct CodexSession {
    program: PathBuf,
    env: BTreeMap<String, String>,
    thread_id: Option<String>,
    spec: StartSpec,
    outputs: mpsc::Sender<AgentOutput>,
    group: GroupSlot,
    turn: u32,
    cancelled: bool,
    /// Item ids whose tool call was already announced this turn.
    started_items: HashSet<String>,
}

impl CodexSession {
    /// State for sessions run with `program` and `env` as `spec` says, reporting to `outputs`;
    /// `group` holds the running turn's process group.
    pub fn new(
        program: PathBuf,
        env: BTreeMap<String, String>,
        spec: StartSpec,
        outputs: mpsc::Sender<AgentOutput>,
        group: GroupSlot,
    ) -> Self {
        Self {
            program,
            env,
            thread_id: spec.resume.clone(),
            spec,
            outputs,
            group,
            turn: 0,
            cancelled: false,
            started_items: HashSet::new(),
        }
    }

    async fn output(&self, output: AgentOutput) {
        let _ = self.outputs.send(output).await;
    }

    async fn event(&self, event: SessionEvent) {
        self.output(AgentOutput::Event(event)).await;
    }

    fn command(&self, prompt: &str) -> Command {
        let mut command = agent_command(&self.program, &self.env);
        command.arg("exec");
        if self.thread_id.is_some() {
            command.arg("resume");
        }
        command.args(["--json", "--skip-git-repo-check"]);
        if let Some(model) = &self.spec.model {
            command.arg("-m").arg(model);
        }
        match self.spec.config.permission_mode.unwrap_or_default() {
            PermissionMode::BypassPermissions => {
                command.arg("--dangerously-bypass-approvals-and-sandbox");
            }
            PermissionMode::AcceptEdits => {
                command.args(["--sandbox", "workspace-write"]);
            }
            // exec cannot ask: the user's Codex config decides approvals and sandbox.
            PermissionMode::Ask => {}
        }
        if !self.spec.additional_dirs.is_empty() {
            // The same override works for `exec` and `exec resume` (which has no --add-dir); a
            // JSON array of strings is a TOML array too.
            let roots = serde_json::to_string(&self.spec.additional_dirs).unwrap_or_default();
            command.arg("-c").arg(format!("sandbox_workspace_write.writable_roots={roots}"));
        }
        if let Some(thread) = &self.thread_id {
            command.arg(thread);
        }
        command.arg(prompt);
        command
    }

    async fn run(mut self, mut commands: mpsc::Receiver<AgentCommand>) {
        let mut turn: Option<Turn> = None;
        loop {
            let running = turn.is_some();
            tokio::select! {
                command = commands.recv() => match command {
                    Some(AgentCommand::Prompt(text)) => match spawn_agent(self.command(&text), Stdio::null(), AGENT_ID, &self.spec).await {
                        Ok(pipes) => {
                            self.turn += 1;
                            self.cancelled = false;
                            self.started_items.clear();
                            self.group.set(Some(pipes.group));
                            turn = Some(Turn { pipes, ended: false });
                        }
                        Err(error) => {
                            self.event(SessionEvent::Error { message: error.to_string(), fatal: false }).await;
                            self.output(AgentOutput::TurnEnded(StopReason::Error)).await;
                        }
                    },
                    Some(AgentCommand::Cancel) => {
                        if let Some(group) = self.group.get().filter(|_| running) {
                            self.cancelled = true;
                            group.signal(libc::SIGINT);
                        }
                    }
                    // `codex exec` neither asks nor keeps a session open between turns.
                    Some(AgentCommand::Respond { .. } | AgentCommand::Answer { .. } | AgentCommand::Close { .. }) => {}
                    // Each turn is a new process: the next one starts with the new settings.
                    Some(AgentCommand::Configure { permission_mode, model }) => {
                        if permission_mode.is_some() {
                            self.spec.config.permission_mode = permission_mode;
                        }
                        if model.is_some() {
                            self.spec.model = model.clone();
                        }
                        let mode = permission_mode.map(|mode| mode.as_str().to_string());
                        self.output(AgentOutput::Settings(Current { mode, model })).await;
                    }
                    None => {
                        if let Some(group) = self.group.get() {
                            group.terminate(std::time::Duration::from_secs(2)).await;
                        }
                        return;
                    }
                },
                line = async { turn.as_mut().expect("guarded").pipes.lines.recv().await }, if running => match line {
                    Some(line) => {
                        let ended = self.handle_line(line).await;
                        if let Some(current) = turn.as_mut() {
                            current.ended |= ended;
                        }
                    }
                    None => {
                        let mut finished = turn.take().expect("guarded");
                        let (_, message) = ended_after_stdout_closed(&mut finished.pipes.exit).await;
                        let (_, closed) = oneshot::channel();
                        stderr_drained(std::mem::replace(&mut finished.pipes.stderr_closed, closed)).await;
                        self.finish_turn(finished, message).await;
                    }
                },
            }
        }
    }

    /// Ends the turn whose process closed its stdout; `ending` says how the process ended.
    async fn finish_turn(&mut self, finished: Turn, ending: String) {
        finished.pipes.group.terminate(std::time::Duration::from_millis(200)).await;
        self.group.set(None);
        if finished.ended {
            return;
        }
        if self.cancelled {
            self.output(AgentOutput::TurnEnded(StopReason::Cancelled)).await;
            return;
        }
        let message =
            with_stderr(format!("codex ended the turn without finishing it: {ending}"), &finished.pipes.stderr_tail);
        self.event(SessionEvent::Error { message, fatal: false }).await;
        self.output(AgentOutput::TurnEnded(StopReason::Error)).await;
    }

    fn tool_call_id(&self, item_id: &str) -> String {
        format!("codex-{}-{item_id}", self.turn)
    }

    /// Handles one event line; true when it ended the turn.
    pub async fn handle_line(&mut self, line: Line) -> bool {
        let message = match line {
            Line::Json(message) => message,
            Line::Malformed(text) => {
                // Codex prints warnings as plain text on stdout at times; show them, carry on.
                self.event(SessionEvent::Error {
                    message: format!("codex printed a line that is not JSON: {}", preview(&text)),
                    fatal: false,
                })
                .await;
                return false;
            }
        };
        match message["type"].as_str().unwrap_or_default() {
            "thread.started" => {
                if let Some(thread) = message["thread_id"].as_str()
                    && self.thread_id.as_deref() != Some(thread)
                {
                    self.thread_id = Some(thread.to_string());
                    self.output(AgentOutput::AgentSessionId(thread.to_string())).await;
                }
            }
            "item.started" => self.item_started(&message["item"]).await,
            "item.updated" => self.item_updated(&message["item"]).await,
            "item.completed" => self.item_completed(&message["item"]).await,
            "turn.completed" => {
                let usage = &message["usage"];
                let count = |name: &str| usage[name].as_u64().unwrap_or(0);
                let cached = count("cached_input_tokens");
                self.output(AgentOutput::Usage(Usage {
                    input_tokens: count("input_tokens").saturating_sub(cached),
                    output_tokens: count("output_tokens"),
                    cache_read_tokens: cached,
                    cache_write_tokens: count("cache_write_input_tokens"),
                    ..Usage::default()
                }))
                .await;
                self.output(AgentOutput::TurnEnded(if self.cancelled {
                    StopReason::Cancelled
                } else {
                    StopReason::EndTurn
                }))
                .await;
                return true;
            }
            "turn.failed" => {
                let error = message["error"]["message"].as_str().unwrap_or("the turn failed").to_string();
                self.event(SessionEvent::Error { message: error, fatal: false }).await;
                self.output(AgentOutput::TurnEnded(StopReason::Error)).await;
                return true;
            }
            "error" => {
                let error = message["message"].as_str().unwrap_or("codex reported an error").to_string();
                self.event(SessionEvent::Error { message: error, fatal: false }).await;
            }
            _ => {}
        }
        false
    }

    fn relative(&self, path: &str) -> String {
        Path::new(path)
            .strip_prefix(&self.spec.cwd)
            .map(|relative| relative.display().to_string())
            .unwrap_or_else(|_| path.to_string())
    }

    /// Announces a tool item (once).
    async fn announce(&mut self, item: &Value) {
        let item_id = item["id"].as_str().unwrap_or_default().to_string();
        if !self.started_items.insert(item_id.clone()) {
            return;
        }
        let (title, kind, locations) = match item["type"].as_str().unwrap_or_default() {
            "command_execution" => {
                (format!("Run {}", item["command"].as_str().unwrap_or_default()), ToolKind::Execute, Vec::new())
            }
            "file_change" => {
                let paths: Vec<String> = item["changes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|change| change["path"].as_str())
                    .map(|path| self.relative(path))
                    .collect();
                (format!("Edit {}", paths.join(", ")), ToolKind::Edit, paths)
            }
            "web_search" => (
                format!("Search the web for {}", item["query"].as_str().unwrap_or_default()),
                ToolKind::Fetch,
                Vec::new(),
            ),
            "mcp_tool_call" => (
                format!(
                    "{} {}",
                    item["server"].as_str().unwrap_or_default(),
                    item["tool"].as_str().unwrap_or_default()
                ),
                ToolKind::Other,
                Vec::new(),
            ),
            _ => return,
        };
        self.event(SessionEvent::ToolCall {
            tool_call_id: self.tool_call_id(&item_id),
            title,
            tool_kind: kind,
            status: ToolCallStatus::InProgress,
            raw_input: Some(item.clone()),
            content: Vec::new(),
            locations,
        })
        .await;
    }

    async fn item_started(&mut self, item: &Value) {
        if item["type"] == "todo_list" {
            self.plan(item).await;
        } else {
            self.announce(item).await;
        }
    }

    async fn item_updated(&mut self, item: &Value) {
        match item["type"].as_str() {
            Some("todo_list") => self.plan(item).await,
            Some("command_execution") => {
                self.announce(item).await;
                let output = item["aggregated_output"].as_str().unwrap_or_default().to_string();
                let tool_call_id = self.tool_call_id(item["id"].as_str().unwrap_or_default());
                let content = Some(vec![ToolCallContent::Terminal { output, exit_code: None }]);
                self.event(SessionEvent::ToolCallUpdate {
                    tool_call_id,
                    status: None,
                    title: None,
                    content,
                    details: Default::default(),
                })
                .await;
            }
            _ => {}
        }
    }

    async fn plan(&self, item: &Value) {
        let entries = item["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|entry| PlanEntry {
                content: entry["text"].as_str().unwrap_or_default().to_string(),
                status: if entry["completed"].as_bool().unwrap_or(false) {
                    "completed".into()
                } else {
                    "pending".into()
                },
            })
            .collect();
        self.event(SessionEvent::Plan { entries }).await;
    }

    async fn item_completed(&mut self, item: &Value) {
        let item_type = item["type"].as_str().unwrap_or_default();
        match item_type {
            "agent_message" => {
                if let Some(text) = item["text"].as_str() {
                    self.event(SessionEvent::AgentMessageChunk { text: text.to_string() }).await;
                }
            }
            "reasoning" => {
                if let Some(text) = item["text"].as_str() {
                    self.event(SessionEvent::AgentThoughtChunk { text: text.to_string() }).await;
                }
            }
            "todo_list" => self.plan(item).await,
            "error" => {
                let message = item["message"].as_str().unwrap_or("codex reported an error").to_string();
                self.event(SessionEvent::Error { message, fatal: false }).await;
            }
            "command_execution" | "file_change" | "web_search" | "mcp_tool_call" => {
                self.announce(item).await;
                let failed = item["status"] == "failed" || item["exit_code"].as_i64().is_some_and(|code| code != 0);
                let content = match item_type {
                    "command_execution" => vec![ToolCallContent::Terminal {
                        output: item["aggregated_output"].as_str().unwrap_or_default().to_string(),
                        exit_code: item["exit_code"].as_i64().map(|code| code as i32),
                    }],
                    "file_change" => {
                        let changes: Vec<String> = item["changes"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|change| {
                                format!(
                                    "{} {}",
                                    change["kind"].as_str().unwrap_or("update"),
                                    self.relative(change["path"].as_str().unwrap_or_default())
                                )
                            })
                            .collect();
                        vec![ToolCallContent::Text { text: changes.join("\n") }]
                    }
                    _ => Vec::new(),
                };
                let tool_call_id = self.tool_call_id(item["id"].as_str().unwrap_or_default());
                let status = Some(if failed { ToolCallStatus::Failed } else { ToolCallStatus::Completed });
                self.event(SessionEvent::ToolCallUpdate {
                    tool_call_id,
                    status,
                    title: None,
                    content: Some(content),
                    details: Default::default(),
                })
                .await;
            }
            _ => {}
        }
    }
}
