//! Renders session events as readable terminal text, for `arbor demo` and `arbor session …`.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};

use arbor_protocol::{SessionEvent, SessionEventNotification, ToolCallContent, ToolCallStatus, Usage};

/// Longest command output shown per tool call, in lines.
const OUTPUT_LINES: usize = 12;

/// What the previous event left open on the current line.
#[derive(PartialEq)]
enum Line {
    Clean,
    Message,
    Thought,
}

/// Prints events one after another, joining streamed chunks into running text.
pub struct EventPrinter {
    line: Line,
    color: bool,
    /// Tool call titles by id, since updates usually carry only the id.
    tool_titles: HashMap<String, String>,
}

impl EventPrinter {
    /// A printer; `color` adds ANSI styling.
    pub fn new(color: bool) -> Self {
        Self { line: Line::Clean, color, tool_titles: HashMap::new() }
    }

    /// A printer for stdout, styled when stdout is a terminal and NO_COLOR is not set.
    pub fn for_stdout() -> Self {
        Self::new(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none())
    }

    fn style(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }

    fn open(&mut self, out: &mut dyn Write, kind: Line) -> std::io::Result<()> {
        if self.line == kind {
            return Ok(());
        }
        if self.line != Line::Clean {
            writeln!(out)?;
        }
        match kind {
            Line::Message => write!(out, "{} ", self.style("1;32", "agent:"))?,
            Line::Thought => write!(out, "{} ", self.style("2", "thinking:"))?,
            Line::Clean => {}
        }
        self.line = kind;
        Ok(())
    }

    /// Prints one event.
    pub fn print(&mut self, notification: &SessionEventNotification, out: &mut dyn Write) -> std::io::Result<()> {
        match &notification.event {
            SessionEvent::AgentMessageChunk { text } => {
                self.open(out, Line::Message)?;
                write!(out, "{text}")?;
            }
            SessionEvent::AgentThoughtChunk { text } => {
                self.open(out, Line::Thought)?;
                write!(out, "{}", self.style("2", text))?;
            }
            other => {
                self.open(out, Line::Clean)?;
                self.print_block(other, out)?;
            }
        }
        out.flush()
    }

    fn print_block(&mut self, event: &SessionEvent, out: &mut dyn Write) -> std::io::Result<()> {
        match event {
            SessionEvent::UserMessage { text } => writeln!(out, "{} {text}", self.style("1;36", "you:"))?,
            SessionEvent::ToolCall { tool_call_id, title, .. } => {
                self.tool_titles.insert(tool_call_id.clone(), title.clone());
                writeln!(out, "{} {title}", self.style("1;33", "▸"))?
            }
            SessionEvent::ToolCallUpdate { tool_call_id, status, title, content, .. } => {
                let name = title
                    .clone()
                    .or_else(|| self.tool_titles.get(tool_call_id).cloned())
                    .unwrap_or_else(|| tool_call_id.clone());
                match status {
                    Some(ToolCallStatus::Completed) => writeln!(out, "  {} {name}", self.style("32", "✓"))?,
                    Some(ToolCallStatus::Failed) => writeln!(out, "  {} {name}", self.style("31", "✗"))?,
                    _ => {}
                }
                for item in content.iter().flatten() {
                    self.print_content(item, out)?;
                }
            }
            SessionEvent::Plan { entries } => {
                writeln!(out, "{}", self.style("1", "plan:"))?;
                for (index, entry) in entries.iter().enumerate() {
                    writeln!(out, "  {}. {} ({})", index + 1, entry.content, entry.status)?;
                }
            }
            SessionEvent::PermissionRequest { request_id, title, options, .. } => {
                let choices: Vec<&str> = options.iter().map(|option| option.name.as_str()).collect();
                writeln!(
                    out,
                    "{} {title} [{}] {}",
                    self.style("1;35", "? permission:"),
                    choices.join(" / "),
                    self.style("2", &format!("(request {request_id})"))
                )?;
            }
            SessionEvent::PermissionResolved { option_id, .. } => {
                writeln!(out, "  → {}", option_id.as_deref().unwrap_or("cancelled"))?;
            }
            SessionEvent::StatusChanged { status, agent_state, reason } => {
                let state = agent_state
                    .map(|state| {
                        format!(" ({})", serde_json::to_value(state).unwrap_or_default().as_str().unwrap_or_default())
                    })
                    .unwrap_or_default();
                let reason = reason.as_ref().map(|reason| format!(": {reason}")).unwrap_or_default();
                writeln!(out, "{}", self.style("2", &format!("· {}{state}{reason}", status.as_str())))?;
            }
            SessionEvent::TurnEnded { stop_reason } => {
                let reason = serde_json::to_value(stop_reason).unwrap_or_default();
                writeln!(
                    out,
                    "{}",
                    self.style("2", &format!("· turn ended ({})", reason.as_str().unwrap_or_default()))
                )?;
            }
            SessionEvent::Usage { turn, total } => writeln!(
                out,
                "{}",
                self.style("2", &format!("· usage: {} (session: {})", usage_text(turn), usage_text(total)))
            )?,
            SessionEvent::ContextUsage { used, size, cost_usd } => {
                let cost = cost_usd.map(|cost| format!(", ${cost:.4} so far")).unwrap_or_default();
                writeln!(out, "{}", self.style("2", &format!("· context: {used} of {size} tokens{cost}")))?
            }
            SessionEvent::AvailableCommands { commands } => {
                let names: Vec<String> = commands.iter().map(|command| format!("/{}", command.name)).collect();
                writeln!(out, "{}", self.style("2", &format!("· commands: {}", names.join(" "))))?
            }
            SessionEvent::Question { request_id, message, .. } => writeln!(
                out,
                "{} {message} {}",
                self.style("1;35", "? question:"),
                self.style("2", &format!("(request {request_id})"))
            )?,
            SessionEvent::QuestionAnswered { action, .. } => writeln!(out, "  → {}", action.as_str())?,
            SessionEvent::Error { message, fatal } => {
                let label = if *fatal { "error (fatal):" } else { "error:" };
                writeln!(out, "{} {message}", self.style("1;31", label))?;
            }
            SessionEvent::Checkpoint(checkpoint) => writeln!(
                out,
                "{}",
                self.style(
                    "2",
                    &format!(
                        "· checkpoint {} ({}, {} files changed)",
                        checkpoint.checkpoint_id, checkpoint.label, checkpoint.files_changed
                    )
                )
            )?,
            SessionEvent::FilesChanged { paths } => {
                writeln!(out, "{}", self.style("2", &format!("· files changed: {}", paths.join(", "))))?
            }
            SessionEvent::Rewound { to_checkpoint, saved_checkpoint } => writeln!(
                out,
                "{} worktree rewound to checkpoint {to_checkpoint} (the replaced state is checkpoint {saved_checkpoint})",
                self.style("1;33", "↺")
            )?,
            SessionEvent::ExternalChange { message, .. } => writeln!(out, "{} {message}", self.style("1;33", "!"))?,
            SessionEvent::Notice { message } => writeln!(out, "{} {message}", self.style("2", "note:"))?,
            SessionEvent::PrOpened { message, .. } | SessionEvent::PrUpdated { message, .. } => {
                writeln!(out, "{} {message}", self.style("1;35", "PR"))?
            }
            SessionEvent::AgentMessageChunk { .. } | SessionEvent::AgentThoughtChunk { .. } => {}
        }
        Ok(())
    }

    fn print_content(&self, content: &ToolCallContent, out: &mut dyn Write) -> std::io::Result<()> {
        match content {
            ToolCallContent::Text { text } => writeln!(out, "    {text}"),
            ToolCallContent::Diff { path, old_text, new_text } => {
                let old_lines = old_text.as_deref().map_or(0, |text| text.lines().count());
                let verb = if old_text.is_none() { "created" } else { "edited" };
                writeln!(out, "    {verb} {path} ({} lines, was {old_lines})", new_text.lines().count())
            }
            ToolCallContent::Terminal { output, exit_code } => {
                let lines: Vec<&str> = output.lines().collect();
                for line in lines.iter().take(OUTPUT_LINES) {
                    writeln!(out, "    │ {line}")?;
                }
                if lines.len() > OUTPUT_LINES {
                    writeln!(out, "    │ … {} more lines", lines.len() - OUTPUT_LINES)?;
                }
                match exit_code {
                    Some(code) => writeln!(out, "    exit code {code}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Usage as one short phrase.
pub fn usage_text(usage: &Usage) -> String {
    format!(
        "{} in, {} out, {} cache read, {} cache write, {}",
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        cost_text(usage)
    )
}

/// The cost in dollars, marked "≈" when it is an estimate from token counts.
pub fn cost_text(usage: &Usage) -> String {
    let approximately = if usage.cost_estimated { "≈ " } else { "" };
    format!("{approximately}${:.4}", usage.cost_usd)
}
