//! Running the real agent CLIs in tests: where the installed CLIs are, the offline settings each
//! needs against the mock model API, and a responder that plays a conversation by looking at
//! what each request asks for.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::TestEnv;
use crate::mock_api::{Block, Reply, Request, Responder};

/// The installed CLI `name`, from the directory holding the installed CLIs (`node_modules/.bin`):
/// `$ARBOR_AGENT_CLIS`, or `.ci-cache/agents/node_modules/.bin` in the workspace (where
/// `scripts/install-agents` puts them). Tests fail with a clear message when a CLI is missing:
/// they must not pass by skipping.
pub fn cli(name: &str) -> PathBuf {
    installed("ARBOR_AGENT_CLIS", "agents", name)
}

/// `name` from `$variable`, or from `.ci-cache/<prefix>/node_modules/.bin` in the workspace.
fn installed(variable: &str, prefix: &str, name: &str) -> PathBuf {
    let dir = match std::env::var_os(variable) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci-cache").join(prefix).join("node_modules/.bin"),
    };
    let path = dir.join(name);
    assert!(path.exists(), "the {name} CLI is not installed at {}; run scripts/install-agents first", path.display());
    path
}

/// A release line of the Claude and Codex ACP adapters: the current `@agentclientprotocol`
/// packages, or their `@zed-industries` predecessors (installed in `.ci-cache/agents-legacy`, or
/// `$ARBOR_LEGACY_AGENT_CLIS`, since they install the same command names).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AdapterLine {
    Current,
    Legacy,
}

impl AdapterLine {
    /// This line's `claude-agent-acp` or `codex-acp`.
    pub fn cli(self, name: &str) -> PathBuf {
        match self {
            AdapterLine::Current => cli(name),
            AdapterLine::Legacy => installed("ARBOR_LEGACY_AGENT_CLIS", "agents-legacy", name),
        }
    }

    /// What the Claude adapter's `initialize` answer names it.
    pub fn claude_version(self) -> &'static str {
        match self {
            AdapterLine::Current => "@agentclientprotocol/claude-agent-acp 0.101.0",
            AdapterLine::Legacy => "@zed-industries/claude-agent-acp 0.23.1",
        }
    }

    /// What the Codex adapter's `initialize` answer names it.
    pub fn codex_version(self) -> &'static str {
        match self {
            AdapterLine::Current => "@agentclientprotocol/codex-acp 2.6.0",
            AdapterLine::Legacy => "codex-acp 0.16.0",
        }
    }
}

/// The text of the newest user turn of a request, and whether it carries tool results, for each
/// API's request shape.
pub fn last_user_turn(request: &Request) -> (String, bool) {
    let body = &request.body;
    if let Some(messages) = body["messages"].as_array() {
        // Anthropic: content is a string or a list of blocks.
        let Some(last) = messages.iter().rev().find(|message| message["role"] == "user") else {
            return (String::new(), false);
        };
        return match &last["content"] {
            Value::String(text) => (text.clone(), false),
            Value::Array(blocks) => {
                // Claude Code may put a new prompt in the same message as the last tool result:
                // only what follows the last tool result counts.
                let after =
                    blocks.iter().rposition(|block| block["type"] == "tool_result").map_or(0, |index| index + 1);
                let text =
                    blocks[after..].iter().filter_map(|block| block["text"].as_str()).collect::<Vec<_>>().join("\n");
                (text, after == blocks.len() && after > 0)
            }
            _ => (String::new(), false),
        };
    }
    if let Some(input) = body["input"].as_array() {
        // OpenAI Responses: items; a function_call_output after the last user message means a tool ran.
        let last_user = input.iter().rposition(|item| item["role"] == "user");
        let tool_result = input
            .iter()
            .skip(last_user.map_or(0, |index| index + 1))
            .any(|item| item["type"].as_str().is_some_and(|kind| kind.ends_with("_output")));
        let text = last_user.map(|index| joined_text(&input[index]["content"])).unwrap_or_default();
        return (text, tool_result);
    }
    if let Some(contents) = body["contents"].as_array() {
        // Gemini: the last content's parts; a functionResponse means a tool ran.
        let Some(last) = contents.last() else { return (String::new(), false) };
        let parts = last["parts"].as_array().cloned().unwrap_or_default();
        let tool_result = parts.iter().any(|part| part.get("functionResponse").is_some());
        let last_user = contents.iter().rev().find(|content| {
            content["role"] == "user"
                && content["parts"].as_array().is_some_and(|parts| parts.iter().any(|part| part.get("text").is_some()))
        });
        let text = last_user.map(|content| joined_text(&content["parts"])).unwrap_or_default();
        return (text, tool_result);
    }
    (String::new(), false)
}

/// The `text` of every part in a list of message parts, one per line.
fn joined_text(parts: &Value) -> String {
    parts.as_array().into_iter().flatten().filter_map(|part| part["text"].as_str()).collect::<Vec<_>>().join("\n")
}

/// The first session worktree named anywhere in a request (agents put their working directory
/// in their system prompt).
pub fn worktree_in(request: &Request, worktrees: &Path) -> Option<PathBuf> {
    let text = request.body.to_string();
    let prefix = worktrees.join("arbor-").display().to_string();
    let start = text.find(&prefix)?;
    // The worktree's own directory ends at the first character a worktree's name cannot hold: a
    // path inside it (named before the worktree itself by some agents) is cut back to it.
    let rest = &text[start + prefix.len()..];
    let end = rest
        .find(|character: char| !(character.is_ascii_alphanumeric() || "-_.".contains(character)))
        .unwrap_or(rest.len());
    Some(PathBuf::from(&text[start..start + prefix.len() + end]))
}

/// How many words the slow reply streams, 25 ms apart.
pub const SLOW_WORDS: usize = 400;

/// How the conversation goes, by what the user says:
/// - after a tool ran: "All done." (or the tool's follow-up text);
/// - "write <file> <text>": a call of `write_tool` writing `<text>` to `<file>` in the worktree;
/// - "run <command>": a call of `shell_tool`;
/// - "slow": a long slow stream (to interrupt);
/// - "fail": HTTP 500; "limit": HTTP 429;
/// - anything else: "Echo: <text>", a word every 15 ms.
pub fn conversation(
    worktrees: PathBuf,
    write_tool: fn(&Path, &str) -> (String, Value),
    shell_tool: fn(&str) -> (String, Value),
) -> Responder {
    // A prompt answered with a tool call is not answered with another: when a CLI repeats the
    // prompt beside a refused tool's result, the conversation moves on.
    let tool_prompts = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    Arc::new(move |request: &Request| {
        let (text, tool_result) = last_user_turn(request);
        let said = text
            .lines()
            .rfind(|line| !line.trim().is_empty() && !line.contains("system-reminder") && !line.starts_with("<"))
            .unwrap_or_default()
            .trim()
            .to_string();
        let repeated = tool_prompts.lock().expect("prompts poisoned").contains(&said);
        if tool_result || repeated {
            return Reply::text("All done.");
        }
        if said.starts_with("write ") || said.starts_with("run ") {
            tool_prompts.lock().expect("prompts poisoned").insert(said.clone());
        }
        if let Some(rest) = said.strip_prefix("write ") {
            let (file, content) = rest.split_once(' ').unwrap_or((rest, ""));
            let worktree = worktree_in(request, &worktrees).unwrap_or_else(|| worktrees.clone());
            let (name, input) = write_tool(&worktree.join(file), &format!("{content}\n"));
            return Reply::Turn {
                blocks: vec![Block::Thinking("I should write the file.".into()), Block::Tool { name, input }],
                input_tokens: 40,
                output_tokens: 12,
                chunk_delay: Duration::ZERO,
            };
        }
        if let Some(command) = said.strip_prefix("run ") {
            let (name, input) = shell_tool(command);
            return Reply::tool(&name, input);
        }
        match said.as_str() {
            "slow" => Reply::slow(SLOW_WORDS, Duration::from_millis(25)),
            "fail" => Reply::Error { status: 500, message: "the mock model is down".into(), retry_after: None },
            "limit" => Reply::Error { status: 429, message: "rate limited by the mock".into(), retry_after: Some(1) },
            // Paced, so that the tests can see an answer stream in chunks.
            _ => Reply::paced(&format!("Echo: {said}"), Duration::from_millis(15)),
        }
    })
}

/// Claude Code's Write and Bash tools.
pub fn claude_write(path: &Path, content: &str) -> (String, Value) {
    ("Write".into(), json!({ "file_path": path, "content": content }))
}

/// Claude Code's Bash tool.
pub fn claude_bash(command: &str) -> (String, Value) {
    ("Bash".into(), json!({ "command": command, "description": "run a command" }))
}

/// Codex's apply_patch tool (freeform) adding a file.
pub fn codex_write(path: &Path, content: &str) -> (String, Value) {
    let lines: String = content.lines().map(|line| format!("+{line}\n")).collect();
    (
        "apply_patch".into(),
        Value::String(format!("*** Begin Patch\n*** Add File: {}\n{lines}*** End Patch\n", path.display())),
    )
}

/// Codex's exec_command tool.
pub fn codex_shell(command: &str) -> (String, Value) {
    ("exec_command".into(), json!({ "cmd": command }))
}

/// Gemini CLI's write_file tool.
pub fn gemini_write(path: &Path, content: &str) -> (String, Value) {
    ("write_file".into(), json!({ "file_path": path, "content": content }))
}

/// Gemini CLI's run_shell_command tool.
pub fn gemini_shell(command: &str) -> (String, Value) {
    ("run_shell_command".into(), json!({ "command": command, "description": "run a command" }))
}

impl TestEnv {
    /// A scratch HOME for an agent CLI, so it never reads or writes the real one.
    pub fn agent_home(&self, agent: &str) -> PathBuf {
        let home = self.root.join(format!("home-{agent}"));
        std::fs::create_dir_all(&home).expect("create agent home");
        home
    }

    /// Writes the config file so Arbor runs Codex offline against `mock_url`, with its own
    /// CODEX_HOME holding a mock model provider.
    pub fn configure_codex(&self, mock_url: &str) {
        let (home, codex_home) =
            self.codex_home("codex", mock_url, "approval_policy = \"never\"\nsandbox_mode = \"danger-full-access\"\n");
        // The mock provider's URL lives in Codex's own config file, where the sandbox's model API
        // forwarder reads it (docs/sandbox.md), so these sessions are sandboxed as any other.
        self.write_config(json!({ "agents": { "codex": { "command": cli("codex"), "env": {
            "HOME": home, "CODEX_HOME": codex_home, "MOCK_KEY": "mock-key",
        } } } }));
    }

    /// A HOME (named `name`) and CODEX_HOME for Codex with a mock model provider at `mock_url`,
    /// and `settings` (TOML lines) in its config.
    fn codex_home(&self, name: &str, mock_url: &str, settings: &str) -> (PathBuf, PathBuf) {
        let home = self.agent_home(name);
        let codex_home = home.join("codex-home");
        std::fs::create_dir_all(&codex_home).expect("create CODEX_HOME");
        let config = format!(
            "model = \"gpt-5.5\"\nmodel_provider = \"mock\"\n{settings}\
             check_for_update_on_startup = false\n\n[model_providers.mock]\nname = \"mock\"\nbase_url = \"{mock_url}/v1\"\n\
             env_key = \"MOCK_KEY\"\nwire_api = \"responses\"\nrequest_max_retries = 0\nstream_max_retries = 0\n\n\
             [features]\nplugins = false\n"
        );
        std::fs::write(codex_home.join("config.toml"), config).expect("write codex config");
        (home, codex_home)
    }

    /// Writes the config file so Arbor runs the Claude and Codex ACP adapters of `line`
    /// (`claude-acp`, `codex-acp`) offline against `mock_url`, and the built-in `codex` agent with
    /// that Codex adapter for its sessions in `ask` mode; Codex's approvals and sandbox are left to
    /// the adapter's modes.
    pub fn configure_acp_adapters(&self, mock_url: &str, line: AdapterLine) {
        let codex_env = |name: &str| {
            let (home, codex_home) = self.codex_home(name, mock_url, "");
            json!({ "HOME": home, "CODEX_HOME": codex_home, "MOCK_KEY": "mock-key" })
        };
        self.write_config(json!({
            // Each Codex keeps a state database in its CODEX_HOME that one process at a time opens.
            "agents": { "codex": { "command": cli("codex"), "acpCommand": line.cli("codex-acp"), "env": codex_env("codex") } },
            "acpAgents": {
                "claude-acp": { "name": "Claude Agent", "command": [line.cli("claude-agent-acp")], "env": self.claude_env(mock_url) },
                "codex-acp": { "name": "Codex", "command": [line.cli("codex-acp")], "env": codex_env("codex-acp") },
            },
        }));
    }

    /// Writes the config file so Arbor runs Gemini CLI offline against `mock_url`.
    pub fn configure_gemini(&self, mock_url: &str) {
        let home = self.agent_home("gemini");
        std::fs::create_dir_all(home.join(".gemini")).expect("create .gemini");
        let settings = json!({
            "security": { "auth": { "selectedType": "gemini-api-key" }, "folderTrust": { "enabled": false } },
            "privacy": { "usageStatisticsEnabled": false },
            "general": { "maxAttempts": 1 },
        });
        std::fs::write(home.join(".gemini/settings.json"), settings.to_string()).expect("write gemini settings");
        self.write_config(json!({ "agents": { "gemini": { "command": cli("gemini"), "env": {
            "HOME": home, "GOOGLE_GEMINI_BASE_URL": mock_url, "GEMINI_API_KEY": "mock-key", "TMPDIR": home,
        } } } }));
    }

    /// The environment Claude Code needs to run offline against `mock_url`.
    pub fn claude_env(&self, mock_url: &str) -> Value {
        let home = self.agent_home("claude");
        json!({
            "HOME": home, "ANTHROPIC_BASE_URL": mock_url, "ANTHROPIC_API_KEY": "mock-key",
            "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "IS_SANDBOX": "1", "CLAUDE_CODE_MAX_RETRIES": "0",
            "CLAUDE_CODE_TMPDIR": home.join("tmp"),
        })
    }

    /// Writes the config file so Arbor runs Claude Code offline against `mock_url`.
    pub fn configure_claude(&self, mock_url: &str, extra: Value) {
        let mut config =
            json!({ "agents": { "claude": { "command": cli("claude"), "env": self.claude_env(mock_url) } } });
        if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
            for (key, value) in extra {
                config.insert(key.clone(), value.clone());
            }
        }
        self.write_config(config);
    }
}

/// Asserts that `session` runs in the backend `auto` picks on this machine (`agents/list`), so
/// a test of a real CLI also proves it works confined; prints why when no backend works here.
pub async fn assert_sandboxed_as_auto(client: &crate::Client, session: &arbor_protocol::Session) {
    let report = client.call(arbor_protocol::method::AGENTS_LIST, Value::Null).await["sandbox"].clone();
    let auto: Option<arbor_protocol::SandboxBackend> = serde_json::from_value(report["auto"].clone()).expect("auto");
    if auto.is_none() {
        eprintln!("NOTE: no sandbox backend works here, so this runs unconfined: {}", report["reason"]);
    }
    let backend = session.sandbox.as_ref().map(|sandbox| sandbox.backend);
    assert_eq!(backend, Some(auto.unwrap_or(arbor_protocol::SandboxBackend::None)), "{report}");
}
