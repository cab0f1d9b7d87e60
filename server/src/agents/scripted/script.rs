//! The scripted agent's script format: one action per line, turns separated by `turn` lines.
//! `docs/scripted-agent.md` documents it for users.

/// One action of a turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Stream a reply, in chunks of a few words. `{prompt}` is replaced by the user's prompt.
    Say(String),
    /// Stream thinking.
    Think(String),
    /// Publish a plan.
    Plan(Vec<String>),
    /// Ask permission for the next action; if refused, that action is skipped.
    Ask(String),
    /// Write a file (relative to the working directory) with the given content.
    Write { path: String, content: String },
    /// Run a shell command in the working directory.
    Run(String),
    /// Run a shell command through the client's terminal (`terminal/*`), keeping at most
    /// `limit` bytes of output when given; like `Run` when the client offers no terminals.
    Terminal { command: String, limit: Option<u64> },
    /// Give the conversation a title (`session_info_update`).
    Title(String),
    /// Offer slash commands (`available_commands_update`): name and description of each.
    Commands(Vec<(String, String)>),
    /// Report how full the context window is (`usage_update`).
    Context { used: u64, size: u64 },
    /// Ask the user a question with one text field, `answer` (`elicitation/create`).
    Elicit(String),
    /// Start a tool call with an empty input and tell its kind, input and file only in an update,
    /// as the Claude adapters do.
    LateDetails(String),
    /// Switch to this mode by itself and say so (`current_mode_update`).
    Mode(String),
    /// Switch to this model by itself and say so (`config_option_update`).
    Model(String),
    /// Send an empty message chunk and an empty thought chunk, as some agents do around a message.
    EmptyChunks,
    /// Wait this many milliseconds (a turn can be cancelled while it waits).
    Pause(u64),
    /// Report usage figures.
    Usage { input: u64, output: u64, cache_read: u64, cache_write: u64, cost: f64 },
    /// Pause between streamed chunks, in milliseconds.
    ChunkDelay(u64),
    /// Print a line that is not JSON-RPC (to exercise the client's robustness).
    Garbage(String),
    /// End the turn with a JSON-RPC error.
    Fail(String),
    /// End the turn with a rate-limit error (HTTP 429) asking to retry after this many seconds.
    RateLimit(u64),
    /// Exit the process with this status.
    Exit(i32),
    /// Wait this many milliseconds before answering anything at all (a slow start, to exercise
    /// the start-up watchdog). Only meaningful as the script's first action.
    StartupDelay(u64),
}

impl Action {
    /// Whether the action is one an `ask` line asks permission for (and a refusal skips).
    pub fn needs_permission(&self) -> bool {
        matches!(self, Action::Write { .. } | Action::Run(_) | Action::Terminal { .. })
    }
}

/// A parsed script: its turns in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// The actions of each turn.
    pub turns: Vec<Vec<Action>>,
}

/// A script line that could not be understood.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("script line {line}: {message}")]
pub struct ScriptError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The script run when a session gives none: what the demo shows.
pub const DEMO_SCRIPT: &str = r#"# Arbor's built-in demo script: one turn that plans, writes two files and runs them.
chunk-delay 15
think The user wants a greeting module. I will write it, add a small check script, and run the check.
plan Write greeting.sh | Write check.sh | Run the check
say I'll add a greeting script and a check for it.
write greeting.sh <<EOF
#!/bin/sh
# Prints a greeting for the name given as the first argument.
echo "Hello, ${1:-world}!"
EOF
write check.sh <<EOF
#!/bin/sh
set -e
test "$(sh greeting.sh Arbor)" = "Hello, Arbor!"
echo "greeting ok"
EOF
ask Run the check script (sh check.sh)
run sh check.sh
usage input=1840 output=312 cache_read=1024 cache_write=256 cost=0.0123
say Done: `greeting.sh` prints a greeting and `check.sh` confirms it works.
turn
say You said: {prompt}. This scripted demo has no more work to do.
usage input=420 output=40 cost=0.0021
"#;

impl Script {
    /// Parses script text.
    pub fn parse(text: &str) -> Result<Script, ScriptError> {
        let mut turns = vec![Vec::new()];
        let mut lines = text.lines().enumerate();
        while let Some((index, raw)) = lines.next() {
            let number = index + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let rest = rest.trim();
            let error = |message: &str| ScriptError { line: number, message: message.to_string() };
            let action = match keyword {
                "turn" => {
                    turns.push(Vec::new());
                    continue;
                }
                "say" => Action::Say(unescape(rest)),
                "think" => Action::Think(unescape(rest)),
                "plan" => Action::Plan(
                    rest.split('|').map(|step| step.trim().to_string()).filter(|step| !step.is_empty()).collect(),
                ),
                "ask" => Action::Ask(rest.to_string()),
                "run" if !rest.is_empty() => Action::Run(rest.to_string()),
                "terminal" if !rest.is_empty() => parse_terminal(rest).map_err(|message| error(&message))?,
                "title" if !rest.is_empty() => Action::Title(rest.to_string()),
                "commands" => Action::Commands(
                    rest.split('|')
                        .filter_map(|entry| {
                            let (name, description) = entry.split_once(':').unwrap_or((entry, ""));
                            let name = name.trim().trim_start_matches('/');
                            (!name.is_empty()).then(|| (name.to_string(), description.trim().to_string()))
                        })
                        .collect(),
                ),
                "context" => {
                    let (used, size) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                    let used = parse_number(used.trim()).map_err(|message| error(&message))?;
                    Action::Context { used, size: parse_number(size.trim()).map_err(|message| error(&message))? }
                }
                "elicit" if !rest.is_empty() => Action::Elicit(rest.to_string()),
                "late-details" if !rest.is_empty() => Action::LateDetails(rest.to_string()),
                "mode" if !rest.is_empty() => Action::Mode(rest.to_string()),
                "model" if !rest.is_empty() => Action::Model(rest.to_string()),
                "empty-chunks" => Action::EmptyChunks,
                "pause" => Action::Pause(parse_number(rest).map_err(|message| error(&message))?),
                "chunk-delay" => Action::ChunkDelay(parse_number(rest).map_err(|message| error(&message))?),
                "garbage" => {
                    Action::Garbage(if rest.is_empty() { "this is not json".into() } else { rest.to_string() })
                }
                "rate-limit" => Action::RateLimit(parse_number(rest).map_err(|message| error(&message))?),
                "fail" => Action::Fail(if rest.is_empty() { "scripted failure".into() } else { rest.to_string() }),
                "startup-delay" => Action::StartupDelay(parse_number(rest).map_err(|message| error(&message))?),
                "exit" => Action::Exit(parse_number(rest).map_err(|message| error(&message))? as i32),
                "usage" => parse_usage(rest).map_err(|message| error(&message))?,
                "write" => {
                    let (path, marker) = match rest.split_once("<<") {
                        Some((path, marker)) => (path.trim(), Some(marker.trim())),
                        None => (rest, None),
                    };
                    if path.is_empty() {
                        return Err(error("write needs a path"));
                    }
                    let content = match marker {
                        Some(marker) if !marker.is_empty() => {
                            let mut content = String::new();
                            loop {
                                match lines.next() {
                                    Some((_, body)) if body.trim_end() == marker => break,
                                    Some((_, body)) => {
                                        content.push_str(body);
                                        content.push('\n');
                                    }
                                    None => {
                                        return Err(error(&format!("write block is not closed by {marker}")));
                                    }
                                }
                            }
                            content
                        }
                        _ => {
                            return Err(error("write needs a here-document: write PATH <<EOF … EOF"));
                        }
                    };
                    Action::Write { path: path.to_string(), content }
                }
                other => return Err(error(&format!("unknown action '{other}'"))),
            };
            turns.last_mut().expect("there is always a turn").push(action);
        }
        Ok(Script { turns })
    }
}

/// `\n` in one-line actions stands for a line break.
fn unescape(text: &str) -> String {
    text.replace("\\n", "\n")
}

fn parse_number(text: &str) -> Result<u64, String> {
    text.parse().map_err(|_| format!("expected a number, found '{text}'"))
}

/// `terminal [limit=N] COMMAND`.
fn parse_terminal(text: &str) -> Result<Action, String> {
    match text.strip_prefix("limit=") {
        Some(rest) => {
            let (limit, command) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            if command.trim().is_empty() {
                return Err("terminal needs a command after its limit".into());
            }
            Ok(Action::Terminal { command: command.trim().to_string(), limit: Some(parse_number(limit)?) })
        }
        None => Ok(Action::Terminal { command: text.to_string(), limit: None }),
    }
}

fn parse_usage(text: &str) -> Result<Action, String> {
    let (mut input, mut output, mut cache_read, mut cache_write, mut cost) = (0, 0, 0, 0, 0.0);
    for pair in text.split_whitespace() {
        let (key, value) = pair.split_once('=').ok_or_else(|| format!("expected key=value, found '{pair}'"))?;
        match key {
            "input" => input = parse_number(value)?,
            "output" => output = parse_number(value)?,
            "cache_read" => cache_read = parse_number(value)?,
            "cache_write" => cache_write = parse_number(value)?,
            "cost" => cost = value.parse().map_err(|_| format!("expected a cost in USD, found '{value}'"))?,
            other => return Err(format!("unknown usage field '{other}'")),
        }
    }
    Ok(Action::Usage { input, output, cache_read, cache_write, cost })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_script_parses() {
        let script = Script::parse(DEMO_SCRIPT).unwrap();
        assert_eq!(script.turns.len(), 2);
        assert!(
            script.turns[0].iter().any(|action| matches!(action, Action::Write { path, .. } if path == "greeting.sh"))
        );
    }

    #[test]
    fn turns_and_here_documents() {
        let script = Script::parse("say one\nwrite a.txt <<END\nx\ny\nEND\nturn\npause 5\n").unwrap();
        assert_eq!(
            script.turns,
            vec![
                vec![Action::Say("one".into()), Action::Write { path: "a.txt".into(), content: "x\ny\n".into() }],
                vec![Action::Pause(5)],
            ]
        );
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(Script::parse("say hi\nfly away").unwrap_err().line, 2);
        assert!(Script::parse("write a.txt <<EOF\nnever closed").unwrap_err().message.contains("not closed"));
        assert!(Script::parse("usage input=lots").unwrap_err().message.contains("number"));
        assert!(Script::parse("terminal limit=9").unwrap_err().message.contains("command"));
    }

    #[test]
    fn protocol_edge_actions() {
        let script =
            Script::parse("terminal limit=10 echo hi\ncommands /review: Review it | test\ncontext 5 100\n").unwrap();
        assert_eq!(
            script.turns[0],
            vec![
                Action::Terminal { command: "echo hi".into(), limit: Some(10) },
                Action::Commands(vec![("review".into(), "Review it".into()), ("test".into(), String::new())]),
                Action::Context { used: 5, size: 100 },
            ]
        );
    }
}
