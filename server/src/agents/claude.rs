//! The Claude Code driver: one persistent `claude -p` process per running session, speaking
//! stream-json both ways. Our session UUID is passed as `--session-id` on first start and the
//! agent's own id with `--resume` once it has taken a prompt. Interrupts and permission questions go through the
//! stdin control protocol (`interrupt`, `can_use_tool`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arbor_protocol::{
    AgentCapabilities, AgentInfo, PermissionMode, PermissionOption, PermissionOptionKind, PlanEntry, SessionEvent,
    StopReason, ToolCallContent, ToolCallStatus, ToolKind, Usage,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::acp_settings::Current;
use super::discovery::{AgentCli, agent_command};
use super::process::GroupSlot;
use super::stdio::{
    AgentLoop, Line, Lines, preview, run_agent_loop, spawn_agent, stderr_drained, tail_text, with_stderr,
};
use super::{
    AgentCommand, AgentDriver, AgentError, AgentHandle, AgentOutput, StartFuture, StartSpec, relative, setting,
};
use crate::policy::subject_of;

/// The Claude Code agent's id.
pub const AGENT_ID: &str = "claude";
/// Bound of the channels between the driver and the session actor.
const CHANNEL_CAPACITY: usize = 256;

/// The Claude Code driver.
pub struct ClaudeDriver {
    cli: AgentCli,
}

impl ClaudeDriver {
    /// A driver for `claude` on PATH, or at `command`.
    pub fn new(command: Option<&Path>, env: BTreeMap<String, String>) -> Self {
        Self { cli: AgentCli::find("claude", command, env) }
    }
}

impl AgentDriver for ClaudeDriver {
    fn info(&self) -> AgentInfo {
        AgentInfo {
            id: AGENT_ID.into(),
            name: "Claude Code".into(),
            description: "Anthropic's Claude Code CLI, run as one persistent stream-json process per session.".into(),
            available: self.cli.program.is_some(),
            version: self.cli.version.get(),
            install_hint: Some("install it with `npm install -g @anthropic-ai/claude-code` (or set agents.claude.command in the config file)".into()),
            capabilities: AgentCapabilities {
                settings: setting::names(&[setting::SYSTEM_PROMPT, setting::MAX_TOKENS]),
                ..super::typical_capabilities()
            },
            models: vec!["sonnet".into(), "opus".into(), "haiku".into()],
        }
    }

    fn start(&self, spec: StartSpec) -> StartFuture {
        let program = self.cli.program.clone();
        let env = self.cli.env.clone();
        Box::pin(async move {
            let program = program.ok_or_else(|| AgentError::Unavailable {
                agent: AGENT_ID.into(),
                hint: "install it with `npm install -g @anthropic-ai/claude-code`".into(),
            })?;
            let mut command = agent_command(program, &env);
            command.args([
                "-p",
                "--input-format",
                "stream-json",
                "--output-format",
                "stream-json",
                "--verbose",
                "--include-partial-messages",
            ]);
            match &spec.resume {
                Some(id) => command.arg("--resume").arg(id),
                None => command.arg("--session-id").arg(spec.session_id.to_string()),
            };
            let mode = spec.config.permission_mode.unwrap_or_default();
            command.args(["--permission-mode", claude_mode(mode)]);
            if mode != PermissionMode::BypassPermissions {
                command.args(["--permission-prompt-tool", "stdio"]);
            }
            if let Some(model) = &spec.model {
                command.arg("--model").arg(model);
            }
            if let Some(prompt) = &spec.config.system_prompt {
                command.arg("--append-system-prompt").arg(prompt);
            }
            for dir in &spec.additional_dirs {
                command.arg("--add-dir").arg(dir);
            }
            // Claude Code loads the skills (`.claude/skills/`) of an extra directory, and its
            // `CLAUDE.md` as memory when told to; the user's own ~/.claude stays untouched.
            if let Some(memory) = &spec.memory {
                command.arg("--add-dir").arg(&memory.dir);
                command.env("CLAUDE_CODE_ADDITIONAL_DIRECTORIES_CLAUDE_MD", "1");
            }
            // Claude Code takes its output-token limit only from its environment.
            if let Some(tokens) = spec.config.max_tokens {
                command.env("CLAUDE_CODE_MAX_OUTPUT_TOKENS", tokens.to_string());
            }
            command
                // Arbor manages the process; it must not replace itself mid-session.
                .env("DISABLE_AUTOUPDATER", "1");
            let mut pipes = spawn_agent(command, Stdio::piped(), AGENT_ID, &spec).await?;
            let initialize = json!({ "type": "control_request", "request_id": "arbor-init", "request": { "subtype": "initialize" } });
            let _ = pipes.stdin.send(initialize.to_string()).await;
            let handshake = tokio::time::timeout(spec.startup_timeout, wait_for_initialize(&mut pipes.lines)).await;
            match handshake {
                Ok(Ok(())) => {}
                Ok(Err(message)) => {
                    pipes.group.terminate(Duration::from_secs(2)).await;
                    stderr_drained(pipes.stderr_closed).await;
                    if let Some(id) = spec.resume.as_ref().filter(|_| lost_conversation(&pipes.stderr_tail)) {
                        return Err(AgentError::ConversationLost(id.clone()));
                    }
                    return Err(AgentError::Handshake(with_stderr(message, &pipes.stderr_tail)));
                }
                Err(_) => {
                    pipes.group.terminate(Duration::from_secs(2)).await;
                    return Err(AgentError::StartupTimeout(spec.startup_timeout.as_secs()));
                }
            }
            let (commands_tx, commands_rx) = mpsc::channel(CHANNEL_CAPACITY);
            let (outputs_tx, outputs_rx) = mpsc::channel(CHANNEL_CAPACITY);
            let group = GroupSlot::with(pipes.group);
            let session =
                ClaudeSession::new(spec.cwd.clone(), spec.resume.clone(), pipes.stdin, outputs_tx, pipes.stderr_tail);
            tokio::spawn(run_agent_loop(session, commands_rx, pipes.lines, pipes.exit, pipes.stderr_closed));
            Ok(AgentHandle { commands: commands_tx, outputs: outputs_rx, process_group: group, briefed: false })
        })
    }
}

/// Whether Claude Code refused `--resume` because it has no transcript of the conversation: it
/// writes transcripts a moment after each turn, so an agent killed in that moment (a crash of the
/// machine or of Arbor) leaves none.
fn lost_conversation(stderr_tail: &Mutex<VecDeque<String>>) -> bool {
    tail_text(stderr_tail).contains("No conversation found with session ID")
}

/// The kind of one of Claude Code's tools.
fn tool_kind(name: &str) -> ToolKind {
    match name {
        "Bash" => ToolKind::Execute,
        "Read" => ToolKind::Read,
        "Edit" | "Write" | "MultiEdit" | "NotebookEdit" => ToolKind::Edit,
        "Grep" | "Glob" => ToolKind::Search,
        "WebFetch" | "WebSearch" => ToolKind::Fetch,
        _ => ToolKind::Other,
    }
}

/// Waits for the answer to the `initialize` control request.
async fn wait_for_initialize(lines: &mut Lines<Line>) -> Result<(), String> {
    while let Some(line) = lines.recv().await {
        if let Line::Json(message) = line
            && message["type"] == "control_response"
            && message["response"]["request_id"] == "arbor-init"
        {
            return match message["response"]["subtype"].as_str() {
                Some("success") => Ok(()),
                _ => Err(format!("Claude Code refused to initialise: {}", message["response"]["error"])),
            };
        }
    }
    Err("Claude Code exited before it was ready".into())
}

/// A permission question waiting for the user.
struct PendingPermission {
    claude_request_id: String,
    input: Value,
    suggestions: Value,
}

/// The driver's state for one Claude Code process: it turns each stream-json line into session
/// outputs and answers the CLI's control requests. Public so the parser can be driven on its own
/// (the fuzz targets do), without a process.
pub struct ClaudeSession {
    stdin: mpsc::Sender<String>,
    outputs: mpsc::Sender<AgentOutput>,
    cwd: PathBuf,
    /// The conversation id Arbor has stored for resuming, once Claude has one.
    saved_session_id: Option<String>,
    turn_running: bool,
    interrupted: bool,
    /// Claude reports the session's cumulative cost; this is what was already counted.
    reported_cost: f64,
    /// Arbor request id → the CLI's pending `can_use_tool` request.
    permissions: HashMap<String, PendingPermission>,
    next_request: u64,
    /// Tool names by tool_use id, to render results.
    tools: HashMap<String, String>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

impl AgentLoop for ClaudeSession {
    type Message = Line;

    async fn handle_command(&mut self, command: AgentCommand) {
        match command {
            AgentCommand::Prompt(text) => {
                self.turn_running = true;
                self.interrupted = false;
                let message = json!({ "type": "user", "message": { "role": "user", "content": [{ "type": "text", "text": text }] } });
                self.send(message).await;
            }
            AgentCommand::Cancel => {
                if !self.turn_running {
                    return;
                }
                self.interrupted = true;
                let request_id = self.next_id("arbor-interrupt");
                self.send(json!({ "type": "control_request", "request_id": request_id, "request": { "subtype": "interrupt" } })).await;
                let pending: Vec<String> = self.permissions.keys().cloned().collect();
                for request_id in pending {
                    self.answer_permission(&request_id, None).await;
                }
            }
            AgentCommand::Respond { request_id, option_id } => self.answer_permission(&request_id, option_id).await,
            AgentCommand::Configure { permission_mode, model } => self.configure(permission_mode, model).await,
            // Claude Code asks no questions and keeps nothing open that stdin's end does not close.
            AgentCommand::Answer { .. } | AgentCommand::Close { .. } => {}
        }
    }

    async fn handle_message(&mut self, line: Line) {
        let message = match line {
            Line::Json(message) => message,
            Line::Malformed(text) => {
                let message = format!("Claude Code printed a line that is not JSON: {}", preview(&text));
                self.event(SessionEvent::Error { message, fatal: false }).await;
                return;
            }
        };
        // Subagents' own streams (Task tool) are summarised by their tool call.
        let from_subagent = !message["parent_tool_use_id"].is_null();
        match message["type"].as_str().unwrap_or_default() {
            "system" => self.handle_system(&message).await,
            "stream_event" if !from_subagent => self.handle_stream_event(&message["event"]).await,
            "assistant" if !from_subagent => self.handle_assistant(&message["message"]).await,
            "user" if !from_subagent => self.handle_tool_results(&message).await,
            "result" => self.handle_result(&message).await,
            "control_request" => self.handle_control_request(&message).await,
            "stream_event" | "assistant" | "user" | "control_response" | "control_cancel_request" | "keep_alive" => {}
            other => tracing::debug!(kind = other, "ignored Claude Code message"),
        }
    }

    fn outputs(&self) -> &mpsc::Sender<AgentOutput> {
        &self.outputs
    }

    fn stderr_tail(&self) -> &Mutex<VecDeque<String>> {
        &self.stderr_tail
    }
}

impl ClaudeSession {
    /// State for a Claude Code process working in `cwd` (resuming conversation `resume`, if any)
    /// that reads its stdin lines from `stdin` and reports to `outputs`.
    pub fn new(
        cwd: PathBuf,
        resume: Option<String>,
        stdin: mpsc::Sender<String>,
        outputs: mpsc::Sender<AgentOutput>,
        stderr_tail: Arc<Mutex<VecDeque<String>>>,
    ) -> Self {
        Self {
            stdin,
            outputs,
            cwd,
            saved_session_id: resume,
            turn_running: false,
            interrupted: false,
            reported_cost: 0.0,
            permissions: HashMap::new(),
            next_request: 1,
            tools: HashMap::new(),
            stderr_tail,
        }
    }

    async fn send(&self, message: Value) {
        let _ = self.stdin.send(message.to_string()).await;
    }

    async fn event(&self, event: SessionEvent) {
        self.output(AgentOutput::Event(event)).await;
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.next_request += 1;
        format!("{prefix}-{}", self.next_request)
    }

    async fn answer_permission(&mut self, request_id: &str, option_id: Option<String>) {
        let Some(pending) = self.permissions.remove(request_id) else { return };
        let response = match option_id.as_deref() {
            Some("allow") => json!({ "behavior": "allow", "updatedInput": pending.input }),
            Some("allow_always") => {
                json!({ "behavior": "allow", "updatedInput": pending.input, "updatedPermissions": pending.suggestions })
            }
            _ => json!({ "behavior": "deny", "message": "The user refused this in Arbor." }),
        };
        let message = json!({ "type": "control_response", "response": { "subtype": "success", "request_id": pending.claude_request_id, "response": response } });
        self.send(message).await;
    }

    async fn handle_system(&mut self, message: &Value) {
        match message["subtype"].as_str() {
            Some("init") => {
                // Claude has a conversation to resume only once it takes a first prompt, which is
                // when it says init: a session stopped before that starts afresh next time.
                if let Some(id) =
                    message["session_id"].as_str().filter(|id| self.saved_session_id.as_deref() != Some(id))
                {
                    self.saved_session_id = Some(id.to_string());
                    self.output(AgentOutput::AgentSessionId(id.to_string())).await;
                }
            }
            Some("api_retry") => {
                let attempt =
                    message["attempt"].as_u64().map(|attempt| format!(" (attempt {attempt})")).unwrap_or_default();
                let error = message["error"]
                    .as_str()
                    .or(message["error_status"].as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| message["error_status"].to_string());
                let delay = message["retry_delay_ms"]
                    .as_u64()
                    .map(|ms| format!("; retrying in {} s", ms.div_ceil(1000)))
                    .unwrap_or_default();
                self.event(SessionEvent::Notice { message: format!("The model API failed{attempt}: {error}{delay}") })
                    .await;
            }
            _ => {}
        }
    }

    async fn handle_stream_event(&mut self, event: &Value) {
        if event["type"] != "content_block_delta" {
            return;
        }
        let delta = &event["delta"];
        match delta["type"].as_str() {
            Some("text_delta") => {
                if let Some(text) = delta["text"].as_str() {
                    self.event(SessionEvent::AgentMessageChunk { text: text.to_string() }).await;
                }
            }
            Some("thinking_delta") => {
                if let Some(text) = delta["thinking"].as_str() {
                    self.event(SessionEvent::AgentThoughtChunk { text: text.to_string() }).await;
                }
            }
            _ => {}
        }
    }

    async fn handle_assistant(&mut self, message: &Value) {
        let synthetic = message["model"] == "<synthetic>";
        for block in message["content"].as_array().into_iter().flatten() {
            match block["type"].as_str() {
                // An API error arrives as a synthetic assistant message: show it as an error.
                Some("text") if synthetic => {
                    let text = block["text"].as_str().unwrap_or("the model API failed").to_string();
                    self.event(SessionEvent::Error { message: text, fatal: false }).await;
                }
                Some("tool_use") => self.tool_use(block).await,
                // Text and thinking were streamed already as deltas.
                _ => {}
            }
        }
    }

    fn relative(&self, path: &str) -> String {
        relative(&self.cwd, path)
    }

    async fn tool_use(&mut self, block: &Value) {
        let id = block["id"].as_str().unwrap_or_default().to_string();
        let name = block["name"].as_str().unwrap_or("tool").to_string();
        let input = &block["input"];
        self.tools.insert(id.clone(), name.clone());
        if name == "TodoWrite" {
            let entries = input["todos"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|todo| PlanEntry {
                    content: todo["content"].as_str().unwrap_or_default().to_string(),
                    status: todo["status"].as_str().unwrap_or("pending").to_string(),
                })
                .collect();
            self.event(SessionEvent::Plan { entries }).await;
            return;
        }
        let path = input["file_path"].as_str().or(input["notebook_path"].as_str()).map(|path| self.relative(path));
        let title = match (name.as_str(), &path) {
            ("Bash", _) => format!("Run {}", input["command"].as_str().unwrap_or_default()),
            (_, Some(path)) => format!("{name} {path}"),
            ("Grep" | "Glob", None) => format!("{name} {}", input["pattern"].as_str().unwrap_or_default()),
            ("WebFetch", None) => format!("Fetch {}", input["url"].as_str().unwrap_or_default()),
            _ => name.clone(),
        };
        let kind = tool_kind(&name);
        let content = match (name.as_str(), &path) {
            ("Write", Some(path)) => vec![ToolCallContent::Diff {
                path: path.clone(),
                old_text: None,
                new_text: input["content"].as_str().unwrap_or_default().to_string(),
            }],
            ("Edit", Some(path)) => vec![ToolCallContent::Diff {
                path: path.clone(),
                old_text: input["old_string"].as_str().map(str::to_string),
                new_text: input["new_string"].as_str().unwrap_or_default().to_string(),
            }],
            ("MultiEdit", Some(path)) => input["edits"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|edit| ToolCallContent::Diff {
                    path: path.clone(),
                    old_text: edit["old_string"].as_str().map(str::to_string),
                    new_text: edit["new_string"].as_str().unwrap_or_default().to_string(),
                })
                .collect(),
            _ => Vec::new(),
        };
        self.event(SessionEvent::ToolCall {
            tool_call_id: id,
            title,
            tool_kind: kind,
            status: ToolCallStatus::InProgress,
            raw_input: Some(input.clone()),
            content,
            locations: path.into_iter().collect(),
        })
        .await;
    }

    async fn handle_tool_results(&mut self, message: &Value) {
        let summary = &message["tool_use_result"];
        for block in message["message"]["content"].as_array().into_iter().flatten() {
            if block["type"] != "tool_result" {
                continue;
            }
            let id = block["tool_use_id"].as_str().unwrap_or_default().to_string();
            let Some(name) = self.tools.get(&id).cloned() else { continue };
            if name == "TodoWrite" {
                continue;
            }
            let failed = block["is_error"].as_bool().unwrap_or(false);
            let text = match &block["content"] {
                Value::String(text) => text.clone(),
                Value::Array(parts) => {
                    parts.iter().filter_map(|part| part["text"].as_str()).collect::<Vec<_>>().join("\n")
                }
                _ => String::new(),
            };
            let content = if name == "Bash" {
                let stdout = summary["stdout"].as_str().unwrap_or_default();
                let stderr = summary["stderr"].as_str().unwrap_or_default();
                let output = if stdout.is_empty() && stderr.is_empty() { text } else { format!("{stdout}{stderr}") };
                vec![ToolCallContent::Terminal { output, exit_code: None }]
            } else if matches!(name.as_str(), "Edit" | "Write" | "MultiEdit") && !failed {
                // The diff was shown with the call; keep it and add the confirmation.
                vec![]
            } else {
                vec![ToolCallContent::Text { text }]
            };
            let status = if failed { ToolCallStatus::Failed } else { ToolCallStatus::Completed };
            let content = if content.is_empty() { None } else { Some(content) };
            self.event(SessionEvent::ToolCallUpdate {
                tool_call_id: id,
                status: Some(status),
                title: None,
                content,
                details: Default::default(),
            })
            .await;
        }
    }

    async fn handle_result(&mut self, message: &Value) {
        let usage = &message["usage"];
        let total_cost = message["total_cost_usd"].as_f64().unwrap_or(self.reported_cost);
        let cost = (total_cost - self.reported_cost).max(0.0);
        self.reported_cost = total_cost.max(self.reported_cost);
        let count = |name: &str| usage[name].as_u64().unwrap_or(0);
        self.output(AgentOutput::Usage(Usage {
            input_tokens: count("input_tokens"),
            output_tokens: count("output_tokens"),
            cache_read_tokens: count("cache_read_input_tokens"),
            cache_write_tokens: count("cache_creation_input_tokens"),
            cost_usd: cost,
            cost_estimated: false,
        }))
        .await;
        let is_error = message["is_error"].as_bool().unwrap_or(false);
        let subtype = message["subtype"].as_str().unwrap_or_default();
        let stop_reason = if self.interrupted {
            StopReason::Cancelled
        } else if subtype == "error_max_turns" {
            StopReason::MaxTurnRequests
        } else if is_error || subtype != "success" {
            let status =
                message["api_error_status"].as_u64().map(|status| format!(" (HTTP {status})")).unwrap_or_default();
            let detail = message["result"].as_str().unwrap_or(subtype);
            self.event(SessionEvent::Error { message: format!("the turn failed{status}: {detail}"), fatal: false })
                .await;
            StopReason::Error
        } else {
            StopReason::EndTurn
        };
        self.turn_running = false;
        self.interrupted = false;
        self.output(AgentOutput::TurnEnded(stop_reason)).await;
    }

    /// Changes the permission mode or model mid-session through the control protocol's
    /// `set_permission_mode` and `set_model` requests.
    async fn configure(&mut self, permission_mode: Option<PermissionMode>, model: Option<String>) {
        let mode = permission_mode.map(|mode| claude_mode(mode).to_string());
        if let Some(mode) = &mode {
            let request_id = self.next_id("arbor-mode");
            let request = json!({ "subtype": "set_permission_mode", "mode": mode });
            self.send(json!({ "type": "control_request", "request_id": request_id, "request": request })).await;
        }
        if let Some(model) = &model {
            let request_id = self.next_id("arbor-model");
            let request = json!({ "subtype": "set_model", "model": model });
            self.send(json!({ "type": "control_request", "request_id": request_id, "request": request })).await;
        }
        self.output(AgentOutput::Settings(Current { mode, model })).await;
    }

    async fn handle_control_request(&mut self, message: &Value) {
        let request = &message["request"];
        let claude_request_id = message["request_id"].as_str().unwrap_or_default().to_string();
        if request["subtype"] != "can_use_tool" {
            let reply = json!({ "type": "control_response", "response": { "subtype": "error", "request_id": claude_request_id, "error": "not supported by Arbor" } });
            self.send(reply).await;
            return;
        }
        let tool = request["display_name"].as_str().or(request["tool_name"].as_str()).unwrap_or("a tool").to_string();
        let input = request["input"].clone();
        let detail = input["command"]
            .as_str()
            .map(str::to_string)
            .or_else(|| input["file_path"].as_str().map(|path| self.relative(path)))
            .or_else(|| request["description"].as_str().map(str::to_string))
            .unwrap_or_default();
        let tool_kind = tool_kind(request["tool_name"].as_str().unwrap_or_default());
        let subject = subject_of(tool_kind, &input, &[], &self.cwd);
        let request_id = self.next_id("perm");
        self.permissions.insert(
            request_id.clone(),
            PendingPermission { claude_request_id, input, suggestions: request["permission_suggestions"].clone() },
        );
        let option = |id: &str, name: &str, kind| PermissionOption { option_id: id.into(), name: name.into(), kind };
        self.event(SessionEvent::PermissionRequest {
            request_id,
            tool_call_id: request["tool_use_id"].as_str().map(str::to_string),
            title: if detail.is_empty() { tool } else { format!("{tool}: {detail}") },
            options: vec![
                option("allow", "Allow", PermissionOptionKind::AllowOnce),
                option("allow_always", "Allow always", PermissionOptionKind::AllowAlways),
                option("reject", "Reject", PermissionOptionKind::RejectOnce),
            ],
            tool_kind,
            subject,
        })
        .await;
    }
}

/// Claude Code's name for a permission mode.
fn claude_mode(mode: PermissionMode) -> &'static str {
    match mode {
        PermissionMode::Ask => "default",
        PermissionMode::AcceptEdits => "acceptEdits",
        PermissionMode::BypassPermissions => "bypassPermissions",
    }
}
