//! Session transcripts for `session/export`: Markdown, a standalone HTML page, JSON, or that
//! page printed to PDF.
//!
//! The transcript is built once as a list of blocks (turns, replies, thinking, tool calls …) and
//! then written in the chosen format, so Markdown, HTML and PDF always say the same thing.

pub mod pdf;

use arbor_protocol::{ExportEncoding, ExportFormat, Session, SessionEvent, SessionEventNotification, ToolCallContent};
use base64::Engine;
use serde_json::json;

pub use pdf::PdfError;

use crate::render::usage_text;

/// One piece of the transcript.
#[derive(Debug, PartialEq)]
enum Block {
    User(String),
    Agent(String),
    Thinking(String),
    Tool { title: String, status: String, details: Vec<Detail> },
    Plan(Vec<String>),
    Note(String),
    Error(String),
}

/// Something inside a tool call.
#[derive(Debug, PartialEq)]
enum Detail {
    Text(String),
    Diff { path: String, text: String },
    Output(String),
}

fn details(content: &[ToolCallContent]) -> Vec<Detail> {
    content
        .iter()
        .map(|item| match item {
            ToolCallContent::Text { text } => Detail::Text(text.clone()),
            ToolCallContent::Diff { path, new_text, .. } => Detail::Diff { path: path.clone(), text: new_text.clone() },
            ToolCallContent::Terminal { output, exit_code } => match exit_code {
                Some(code) => Detail::Output(format!("{}\n(exit code {code})", output.trim_end())),
                None => Detail::Output(output.clone()),
            },
        })
        .collect()
}

fn status_name(status: arbor_protocol::ToolCallStatus) -> String {
    serde_json::to_value(status).ok().and_then(|value| value.as_str().map(str::to_string)).unwrap_or_default()
}

/// The transcript's blocks, in order: streamed chunks joined, tool calls with their final state.
fn blocks(events: &[SessionEventNotification]) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut tools: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for notification in events {
        match &notification.event {
            SessionEvent::UserMessage { text } => blocks.push(Block::User(text.clone())),
            SessionEvent::AgentMessageChunk { text } => match blocks.last_mut() {
                Some(Block::Agent(reply)) => reply.push_str(text),
                _ => blocks.push(Block::Agent(text.clone())),
            },
            SessionEvent::AgentThoughtChunk { text } => match blocks.last_mut() {
                Some(Block::Thinking(thought)) => thought.push_str(text),
                _ => blocks.push(Block::Thinking(text.clone())),
            },
            SessionEvent::ToolCall { tool_call_id, title, status, content, .. } => {
                tools.insert(tool_call_id.clone(), blocks.len());
                blocks.push(Block::Tool {
                    title: title.clone(),
                    status: status_name(*status),
                    details: details(content),
                });
            }
            SessionEvent::ToolCallUpdate { tool_call_id, status: new_status, title: new_title, content, .. } => {
                if let Some(Block::Tool { title, status, details: shown }) =
                    tools.get(tool_call_id).and_then(|index| blocks.get_mut(*index))
                {
                    if let Some(new_status) = new_status {
                        *status = status_name(*new_status);
                    }
                    if let Some(new_title) = new_title {
                        *title = new_title.clone();
                    }
                    if let Some(content) = content {
                        *shown = details(content);
                    }
                }
            }
            SessionEvent::Plan { entries } => blocks.push(Block::Plan(
                entries.iter().map(|entry| format!("{} ({})", entry.content, entry.status)).collect(),
            )),
            SessionEvent::PermissionRequest { title, .. } => {
                blocks.push(Block::Note(format!("Permission asked: {title}")))
            }
            SessionEvent::PermissionResolved { option_id, .. } => {
                blocks.push(Block::Note(format!("Answered: {}", option_id.as_deref().unwrap_or("cancelled"))))
            }
            SessionEvent::Question { message, .. } => blocks.push(Block::Note(format!("Question: {message}"))),
            SessionEvent::QuestionAnswered { action, content, .. } => blocks.push(Block::Note(match content {
                Some(content) => format!("Answered: {} {content}", action.as_str()),
                None => format!("Answered: {}", action.as_str()),
            })),
            SessionEvent::Error { message, .. } => blocks.push(Block::Error(message.clone())),
            SessionEvent::Notice { message }
            | SessionEvent::ExternalChange { message, .. }
            | SessionEvent::PrOpened { message, .. }
            | SessionEvent::PrUpdated { message, .. } => blocks.push(Block::Note(message.clone())),
            SessionEvent::Rewound { to_checkpoint, .. } => {
                blocks.push(Block::Note(format!("Worktree rewound to checkpoint {to_checkpoint}")))
            }
            SessionEvent::StatusChanged { .. }
            | SessionEvent::TurnEnded { .. }
            | SessionEvent::Usage { .. }
            | SessionEvent::ContextUsage { .. }
            | SessionEvent::AvailableCommands { .. }
            | SessionEvent::Checkpoint(_)
            | SessionEvent::FilesChanged { .. } => {}
        }
    }
    blocks
}

fn title(session: &Session) -> String {
    session.title.clone().unwrap_or_else(|| "Arbor session".into())
}

fn facts(session: &Session) -> Vec<(&'static str, String)> {
    vec![
        ("Session", session.id.to_string()),
        (
            "Agent",
            format!(
                "{}{}",
                session.agent,
                session.model.as_ref().map(|model| format!(" ({model})")).unwrap_or_default()
            ),
        ),
        ("Status", session.status.as_str().to_string()),
        ("Branch", session.branch.clone().unwrap_or_else(|| "-".into())),
        ("Usage", usage_text(&session.usage)),
    ]
}

/// A code fence longer than any run of backticks in `text`.
fn fence(text: &str) -> String {
    let longest = text.split(|character| character != '`').map(str::len).max().unwrap_or(0);
    "`".repeat((longest + 1).max(3))
}

fn markdown(session: &Session, blocks: &[Block]) -> String {
    let mut out = format!("# {}\n\n", title(session));
    for (name, value) in facts(session) {
        out.push_str(&format!("- **{name}:** {value}\n"));
    }
    for block in blocks {
        out.push('\n');
        match block {
            Block::User(text) => out.push_str(&format!("## You\n\n{text}\n")),
            Block::Agent(text) => out.push_str(&format!("**Agent:** {text}\n")),
            Block::Thinking(text) => out.push_str(&format!("> *Thinking:* {}\n", text.replace('\n', "\n> "))),
            Block::Tool { title, status, details } => {
                out.push_str(&format!("**{title}** ({status})\n"));
                for detail in details {
                    let (label, text) = match detail {
                        Detail::Text(text) => (String::new(), text),
                        Detail::Diff { path, text } => (format!("{path}\n"), text),
                        Detail::Output(text) => (String::new(), text),
                    };
                    let fence = fence(text);
                    out.push_str(&format!("\n{label}{fence}\n{}\n{fence}\n", text.trim_end()));
                }
            }
            Block::Plan(entries) => {
                out.push_str("**Plan:**\n");
                for (index, entry) in entries.iter().enumerate() {
                    out.push_str(&format!("{}. {entry}\n", index + 1));
                }
            }
            Block::Note(text) => out.push_str(&format!("*{text}*\n")),
            Block::Error(text) => out.push_str(&format!("**Error:** {text}\n")),
        }
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Whether the HTML page is for a screen (tool calls folded) or for printing (everything open,
/// long lines wrapped, page numbers at the foot).
#[derive(Clone, Copy, PartialEq)]
enum Medium {
    Screen,
    Print,
}

fn html(session: &Session, blocks: &[Block], medium: Medium) -> String {
    let open = if medium == Medium::Print { " open" } else { "" };
    let mut body = format!("<h1>{}</h1>\n<dl>\n", escape(&title(session)));
    for (name, value) in facts(session) {
        body.push_str(&format!("<dt>{name}</dt><dd>{}</dd>\n", escape(&value)));
    }
    body.push_str("</dl>\n");
    for block in blocks {
        match block {
            Block::User(text) => {
                body.push_str(&format!("<section class=\"user\"><h2>You</h2><p>{}</p></section>\n", escape(text)))
            }
            Block::Agent(text) => {
                body.push_str(&format!("<section class=\"agent\"><p>{}</p></section>\n", escape(text)))
            }
            Block::Thinking(text) => body.push_str(&format!(
                "<details class=\"thinking\"{open}><summary>Thinking</summary><p>{}</p></details>\n",
                escape(text)
            )),
            Block::Tool { title, status, details } => {
                body.push_str(&format!(
                    "<details class=\"tool {status}\"{open}><summary>{} ({status})</summary>\n",
                    escape(title)
                ));
                for detail in details {
                    match detail {
                        Detail::Text(text) | Detail::Output(text) => {
                            body.push_str(&format!("<pre>{}</pre>\n", escape(text)))
                        }
                        Detail::Diff { path, text } => body.push_str(&format!(
                            "<p class=\"path\">{}</p><pre class=\"diff\">{}</pre>\n",
                            escape(path),
                            escape(text)
                        )),
                    }
                }
                body.push_str("</details>\n");
            }
            Block::Plan(entries) => {
                body.push_str("<ol class=\"plan\">");
                for entry in entries {
                    body.push_str(&format!("<li>{}</li>", escape(entry)));
                }
                body.push_str("</ol>\n");
            }
            Block::Note(text) => body.push_str(&format!("<p class=\"note\"><em>{}</em></p>\n", escape(text))),
            Block::Error(text) => body.push_str(&format!("<p class=\"error\">Error: {}</p>\n", escape(text))),
        }
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n\
         body {{ font-family: sans-serif; max-width: 50em; margin: 2em auto; }}\n\
         .user {{ background: #eef; padding: 0.5em; }} .agent p, .user p {{ white-space: pre-wrap; }}\n\
         pre {{ background: #f6f6f6; padding: 0.5em; overflow-x: auto; }} .error {{ color: #b00; }} .note {{ color: #666; }}\n\
         pre.diff {{ border-left: 3px solid #2a7; }} .path {{ font-family: monospace; margin-bottom: 0; }}\n\
         @media print {{\n\
         body {{ max-width: none; margin: 0; font-size: 10pt; }}\n\
         pre {{ white-space: pre-wrap; overflow-wrap: anywhere; }}\n\
         h2, summary, .path {{ break-after: avoid; }}\n\
         @page {{ margin: 1.5cm; @bottom-center {{ content: \"{} \\2014  page \" counter(page) \" of \" counter(pages); \
         font-size: 8pt; color: #666; }} }}\n\
         }}\n\
         </style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(&title(session)),
        css_string(&title(session))
    )
}

/// `text` as the inside of a CSS string: quotes, backslashes and line ends escaped.
fn css_string(text: &str) -> String {
    text.chars()
        .map(|character| match character {
            '"' | '\\' | '<' | '>' | '&' => format!("\\{:x} ", character as u32),
            '\n' | '\r' => " ".into(),
            other => other.to_string(),
        })
        .collect()
}

/// A written export.
pub struct Exported {
    /// The export, as text or base64.
    pub content: String,
    /// Its MIME type.
    pub mime_type: &'static str,
    /// The file extension for it.
    pub extension: &'static str,
    /// How `content` is encoded.
    pub encoding: ExportEncoding,
}

/// The session as `format`.
pub async fn export(
    session: &Session,
    events: &[SessionEventNotification],
    format: ExportFormat,
) -> Result<Exported, PdfError> {
    let text = |content: String, mime_type, extension| Exported {
        content,
        mime_type,
        extension,
        encoding: ExportEncoding::Text,
    };
    Ok(match format {
        ExportFormat::Markdown => text(markdown(session, &blocks(events)), "text/markdown", "md"),
        ExportFormat::Html => text(html(session, &blocks(events), Medium::Screen), "text/html", "html"),
        ExportFormat::Json => {
            let document = json!({ "session": session, "events": events });
            text(serde_json::to_string_pretty(&document).expect("serialisable"), "application/json", "json")
        }
        ExportFormat::Pdf => {
            let bytes = pdf::print(&html(session, &blocks(events), Medium::Print)).await?;
            Exported {
                content: base64::engine::general_purpose::STANDARD.encode(bytes),
                mime_type: "application/pdf",
                extension: "pdf",
                encoding: ExportEncoding::Base64,
            }
        }
    })
}

/// A system-prompt preamble for an agent that lost its own record of this session's
/// conversation: the transcript so far as Markdown, cut from the front to at most `max_bytes` so
/// the most recent turns are the ones kept.
pub fn recap(session: &Session, events: &[SessionEventNotification], max_bytes: usize) -> String {
    let transcript = markdown(session, &blocks(events));
    let kept = last_bytes(&transcript, max_bytes);
    let cut = if kept.len() < transcript.len() { " (its beginning left out for length)" } else { "" };
    format!(
        "This session continues an earlier conversation whose record you no longer have. \
         Its transcript{cut} follows; carry on from it as if you remembered it.\n\n{kept}"
    )
}

/// The end of `text`, at most `max_bytes` long, starting on a character boundary.
fn last_bytes(text: &str, max_bytes: usize) -> &str {
    let mut start = text.len().saturating_sub(max_bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, event: SessionEvent) -> SessionEventNotification {
        SessionEventNotification { session_id: uuid::Uuid::nil(), seq, at: 0, event }
    }

    #[test]
    fn chunks_join_and_tool_calls_keep_their_final_state() {
        let events = vec![
            event(1, SessionEvent::UserMessage { text: "hi".into() }),
            event(2, SessionEvent::AgentMessageChunk { text: "Hel".into() }),
            event(3, SessionEvent::AgentMessageChunk { text: "lo".into() }),
            event(
                4,
                SessionEvent::ToolCall {
                    tool_call_id: "t".into(),
                    title: "Run ls".into(),
                    tool_kind: arbor_protocol::ToolKind::Execute,
                    status: arbor_protocol::ToolCallStatus::InProgress,
                    raw_input: None,
                    content: vec![],
                    locations: vec![],
                },
            ),
            event(
                5,
                SessionEvent::ToolCallUpdate {
                    tool_call_id: "t".into(),
                    status: Some(arbor_protocol::ToolCallStatus::Completed),
                    title: None,
                    content: Some(vec![ToolCallContent::Terminal { output: "a.txt\n```".into(), exit_code: Some(0) }]),
                    details: Default::default(),
                },
            ),
        ];
        let blocks = blocks(&events);
        assert_eq!(blocks[1], Block::Agent("Hello".into()));
        assert_eq!(
            blocks[2],
            Block::Tool {
                title: "Run ls".into(),
                status: "completed".into(),
                details: vec![Detail::Output("a.txt\n```\n(exit code 0)".into())]
            }
        );
        assert_eq!(fence("a ``` b"), "````");
    }

    #[test]
    fn a_recap_keeps_the_most_recent_text_whole_characters_only() {
        assert_eq!(last_bytes("short", 100), "short");
        assert_eq!(last_bytes("first turn, last turn", 9), "last turn");
        assert_eq!(last_bytes("ééé", 3), "é", "a cut inside a character moves past it");
    }
}
