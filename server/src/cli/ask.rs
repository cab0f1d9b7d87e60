//! Permission requests and questions on the command line: which ones wait for an answer, how to
//! answer them later, and asking at a terminal.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::bail;
use arbor_protocol::{PermissionOption, PermissionOptionKind, SessionEvent};
use serde_json::{Map, Value};
use uuid::Uuid;

/// A permission request or question asked and not yet answered.
#[derive(Debug, Clone)]
pub struct WaitingRequest {
    pub request_id: String,
    pub options: Vec<PermissionOption>,
    /// A question's form (a JSON Schema object), filled in when it is accepted.
    pub form: Option<Value>,
}

/// The option of a question that answers it with the form's values.
const ACCEPT: &str = "accept";

/// A choice and, for an accepted question, the form's values.
pub struct Answer {
    pub option_id: String,
    pub content: Option<Value>,
}

/// The options every question has.
fn question_options() -> Vec<PermissionOption> {
    [
        (ACCEPT, "Answer", PermissionOptionKind::AllowOnce),
        ("decline", "Decline", PermissionOptionKind::RejectOnce),
        ("cancel", "Cancel", PermissionOptionKind::RejectOnce),
    ]
    .into_iter()
    .map(|(id, name, kind)| PermissionOption { option_id: id.into(), name: name.into(), kind })
    .collect()
}

/// The form's fields: name and schema of each property, in the schema's order.
fn fields(form: &Value) -> Vec<(&String, &Value)> {
    form["properties"].as_object().map(|properties| properties.iter().collect()).unwrap_or_default()
}

/// A typed value for a form field from what the user wrote.
fn field_value(schema: &Value, text: &str) -> Option<Value> {
    let text = text.trim();
    match schema["type"].as_str() {
        Some("number") => text.parse::<f64>().ok().map(Value::from),
        Some("integer") => text.parse::<i64>().ok().map(Value::from),
        Some("boolean") => match text.to_ascii_lowercase().as_str() {
            "y" | "yes" | "true" => Some(Value::Bool(true)),
            "n" | "no" | "false" => Some(Value::Bool(false)),
            _ => None,
        },
        Some("array") => Some(Value::from(text.split(',').map(|item| item.trim().to_string()).collect::<Vec<_>>())),
        _ => Some(Value::from(text)),
    }
}

/// The requests still open after the events seen so far, oldest first.
#[derive(Default)]
pub struct OpenRequests(Vec<WaitingRequest>);

impl OpenRequests {
    /// Follows one event: a request opens one, its resolution closes it.
    pub fn observe(&mut self, event: &SessionEvent) {
        match event {
            SessionEvent::PermissionRequest { request_id, options, .. } => {
                self.0.push(WaitingRequest { request_id: request_id.clone(), options: options.clone(), form: None })
            }
            SessionEvent::Question { request_id, schema, .. } => self.0.push(WaitingRequest {
                request_id: request_id.clone(),
                options: question_options(),
                form: Some(schema.clone()),
            }),
            SessionEvent::PermissionResolved { request_id, .. } | SessionEvent::QuestionAnswered { request_id, .. } => {
                self.close(request_id)
            }
            _ => {}
        }
    }

    /// Forgets a request (answered from here, or by someone else).
    pub fn close(&mut self, request_id: &str) {
        self.0.retain(|request| request.request_id != request_id);
    }

    pub fn oldest(&self) -> Option<&WaitingRequest> {
        self.0.first()
    }

    pub fn all(&self) -> &[WaitingRequest] {
        &self.0
    }
}

/// Whether the user is at a terminal that can be asked: both stdin and stdout are terminals.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// The `--data-dir`, `--runtime-dir` and `--config` flags the user gave (or set through their
/// environment variables), shell-quoted, so that a printed command reaches the same daemon.
pub fn location_flags(data_dir: Option<&Path>, runtime_dir: Option<&Path>, config: Option<&Path>) -> String {
    [("--data-dir", data_dir), ("--runtime-dir", runtime_dir), ("--config", config)]
        .into_iter()
        .filter_map(|(flag, path)| path.map(|path| (flag, path.to_string_lossy())))
        .map(|(flag, path)| format!(" {flag} {}", shlex::try_quote(&path).unwrap_or_else(|_| path.clone())))
        .collect()
}

/// The commands that answer `request`, one per option, for a user who is not at a terminal;
/// `flags` (from [`location_flags`]) end each one.
pub fn respond_commands(session_id: Uuid, request: &WaitingRequest, flags: &str) -> String {
    let mut text = format!("session {session_id} is waiting for an answer to request {}:\n", request.request_id);
    for option in &request.options {
        let content = match &request.form {
            Some(form) if option.option_id == ACCEPT => {
                let example: Map<String, Value> =
                    fields(form).into_iter().map(|(name, _)| (name.clone(), Value::from("…"))).collect();
                format!(" --content '{}'", Value::Object(example))
            }
            _ => String::new(),
        };
        text.push_str(&format!(
            "  {:<24} arbor session respond {session_id} {} {}{content}{flags}\n",
            option.name, request.request_id, option.option_id
        ));
    }
    text
}

/// The option an answer names: its number in the list (from 1), its id or its name, ignoring case.
pub fn chosen<'a>(options: &'a [PermissionOption], answer: &str) -> Option<&'a PermissionOption> {
    let answer = answer.trim();
    if let Ok(number) = answer.parse::<usize>() {
        return number.checked_sub(1).and_then(|index| options.get(index));
    }
    options
        .iter()
        .find(|option| option.option_id.eq_ignore_ascii_case(answer) || option.name.eq_ignore_ascii_case(answer))
}

/// Shows `request`'s options and reads the user's choice from the terminal, asking again until it
/// names an option (and, for an accepted question, each field of its form). None when the input
/// ends first.
pub async fn ask(request: &WaitingRequest) -> anyhow::Result<Option<Answer>> {
    let request = request.clone();
    // Reading the terminal blocks, so it happens off the runtime's threads.
    tokio::task::spawn_blocking(move || -> anyhow::Result<Option<Answer>> {
        let mut terminal = Terminal { out: std::io::stdout(), input: std::io::stdin().lock() };
        for (index, option) in request.options.iter().enumerate() {
            writeln!(terminal.out, "    {}) {} [{}]", index + 1, option.name, option.option_id)?;
        }
        let prompt = format!("  answer (1-{}): ", request.options.len());
        let Some(option) = terminal.read_until(&prompt, |line| chosen(&request.options, line).cloned())? else {
            return Ok(None);
        };
        let form = request.form.as_ref().filter(|_| option.option_id == ACCEPT);
        let mut content = Map::new();
        for (name, schema) in form.map(fields).unwrap_or_default() {
            let label = schema["description"].as_str().or(schema["title"].as_str()).unwrap_or(name);
            let prompt = format!("  {label}: ");
            let Some(value) = terminal.read_until(&prompt, |line| field_value(schema, line))? else {
                return Ok(None);
            };
            content.insert(name.clone(), value);
        }
        Ok(Some(Answer { option_id: option.option_id, content: form.map(|_| Value::Object(content)) }))
    })
    .await?
}

/// The user's terminal, read a line at a time.
struct Terminal<'a> {
    out: std::io::Stdout,
    input: std::io::StdinLock<'a>,
}

impl Terminal<'_> {
    /// Shows `prompt` and reads lines until `accept` takes one. None when the input ends first.
    fn read_until<T>(&mut self, prompt: &str, accept: impl Fn(&str) -> Option<T>) -> anyhow::Result<Option<T>> {
        loop {
            write!(self.out, "{prompt}")?;
            self.out.flush()?;
            let mut line = String::new();
            if self.input.read_line(&mut line)? == 0 {
                writeln!(self.out)?;
                return Ok(None);
            }
            match accept(&line) {
                Some(value) => return Ok(Some(value)),
                None => writeln!(self.out, "  '{}' is not an answer here", line.trim())?,
            }
        }
    }
}

/// The one request that `session respond` without a request id answers.
pub fn only_waiting(session_id: Uuid, open: &OpenRequests) -> anyhow::Result<&WaitingRequest> {
    match open.all() {
        [one] => Ok(one),
        [] => bail!("session {session_id} has no permission request or question waiting for an answer"),
        several => {
            let ids: Vec<&str> = several.iter().map(|request| request.request_id.as_str()).collect();
            bail!("session {session_id} has {} requests waiting ({}); name one", several.len(), ids.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Vec<PermissionOption> {
        [("allow", "Allow", PermissionOptionKind::AllowOnce), ("reject", "Reject", PermissionOptionKind::RejectOnce)]
            .into_iter()
            .map(|(id, name, kind)| PermissionOption { option_id: id.into(), name: name.into(), kind })
            .collect()
    }

    #[test]
    fn an_answer_names_an_option_by_number_id_or_name() {
        let options = options();
        assert_eq!(chosen(&options, "2\n").map(|option| option.option_id.as_str()), Some("reject"));
        assert_eq!(chosen(&options, "allow").map(|option| option.option_id.as_str()), Some("allow"));
        assert_eq!(chosen(&options, " REJECT ").map(|option| option.option_id.as_str()), Some("reject"));
        assert!(chosen(&options, "0").is_none());
        assert!(chosen(&options, "3").is_none());
        assert!(chosen(&options, "maybe").is_none());
    }

    #[test]
    fn form_fields_take_values_of_their_type() {
        assert_eq!(field_value(&serde_json::json!({ "type": "integer" }), "42\n"), Some(Value::from(42)));
        assert_eq!(field_value(&serde_json::json!({ "type": "integer" }), "lots"), None);
        assert_eq!(field_value(&serde_json::json!({ "type": "boolean" }), "Yes"), Some(Value::Bool(true)));
        assert_eq!(field_value(&serde_json::json!({ "type": "array" }), "a, b"), Some(serde_json::json!(["a", "b"])));
        assert_eq!(field_value(&serde_json::json!({ "type": "string" }), " ARB-12\n"), Some(Value::from("ARB-12")));
    }
}
