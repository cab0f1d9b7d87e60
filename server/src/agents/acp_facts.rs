//! What an ACP agent says about itself in its `initialize` answer (`agentInfo`,
//! `agentCapabilities`, `authMethods`), learned once in the background when the server starts and
//! again at every session's handshake, so that `agents/list` reports the agent's own version and
//! what it really supports.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// How long the background `initialize` may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// ACP protocol version this client speaks.
pub const ACP_PROTOCOL_VERSION: u64 = 1;

/// What one `initialize` answer says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentFacts {
    /// `agentInfo.name` and `agentInfo.version`, as one line.
    pub version: Option<String>,
    /// `agentCapabilities.loadSession`.
    pub load_session: bool,
    /// `sessionCapabilities.resume`.
    pub resume: bool,
    /// `sessionCapabilities.close`.
    pub close: bool,
    /// `sessionCapabilities.fork`.
    pub fork: bool,
    /// The ways the agent offers to log in (`authMethods`), as "name: description".
    pub auth_methods: Vec<String>,
}

impl AgentFacts {
    /// The facts in an `initialize` result.
    pub fn of(initialized: &Value) -> Self {
        let info = &initialized["agentInfo"];
        let version = info["version"].as_str().map(|version| match info["name"].as_str() {
            Some(name) => format!("{name} {version}"),
            None => version.to_string(),
        });
        let capabilities = &initialized["agentCapabilities"];
        let session = &capabilities["sessionCapabilities"];
        let auth_methods = initialized["authMethods"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|method| {
                let name = method["name"].as_str().or(method["id"].as_str())?;
                Some(match method["description"].as_str() {
                    Some(description) => format!("{name}: {description}"),
                    None => name.to_string(),
                })
            })
            .collect();
        Self {
            version,
            load_session: capabilities["loadSession"].as_bool().unwrap_or(false),
            resume: session.get("resume").is_some_and(|value| !value.is_null()),
            close: session.get("close").is_some_and(|value| !value.is_null()),
            fork: session.get("fork").is_some_and(|value| !value.is_null()),
            auth_methods,
        }
    }

    /// Whether a stopped conversation can be continued (`session/resume` or `session/load`).
    pub fn can_continue(&self) -> bool {
        self.load_session || self.resume
    }
}

/// The latest facts learned about an agent, shared by its driver and its sessions' handshakes.
#[derive(Clone, Default)]
pub struct LearnedFacts(Arc<Mutex<Option<AgentFacts>>>);

impl LearnedFacts {
    /// Keeps `facts` as the latest.
    pub fn set(&self, facts: AgentFacts) {
        *self.0.lock().expect("agent facts poisoned") = Some(facts);
    }

    /// The latest facts, once any are known.
    pub fn get(&self) -> Option<AgentFacts> {
        self.0.lock().expect("agent facts poisoned").clone()
    }

    /// Starts the agent on a thread, in the environment it gets for sessions, sends it
    /// `initialize` and keeps what it answers; the agent is then ended with its process group.
    pub fn probe(program: &Path, arguments: &[String], env: &[(String, String)]) -> LearnedFacts {
        let learned = LearnedFacts::default();
        let slot = learned.clone();
        let mut command = Command::new(program);
        command
            .args(arguments)
            .env_clear()
            .envs(env.iter().cloned())
            // No session's directory exists yet; initialize reads and writes no files.
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        std::thread::spawn(move || {
            let Ok(mut child) = command.spawn() else { return };
            let group = child.id() as i32;
            let request =
                json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize_params(false) });
            let written = child.stdin.as_mut().map(|stdin| writeln!(stdin, "{request}"));
            if let (Some(Ok(())), Some(stdout)) = (written, child.stdout.take()) {
                let (done, wait) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    let answer = BufReader::new(stdout)
                        .lines()
                        .map_while(Result::ok)
                        .filter_map(|line| serde_json::from_str::<Value>(&line).ok())
                        .find(|message| message["id"] == 1 && message.get("method").is_none());
                    let _ = done.send(answer);
                });
                if let Ok(Some(answer)) = wait.recv_timeout(PROBE_TIMEOUT) {
                    slot.set(AgentFacts::of(&answer["result"]));
                }
            }
            // SAFETY: kill(2) with a negative pid signals the probe's own process group.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
            let _ = child.wait();
        });
        learned
    }
}

/// The `initialize` params Arbor sends: its client capabilities and its name. `client_side` offers
/// Arbor's file system and terminals, which agents that keep their own (Gemini CLI) go without.
pub fn initialize_params(client_side: bool) -> Value {
    json!({
        "protocolVersion": ACP_PROTOCOL_VERSION,
        "clientCapabilities": {
            "fs": { "readTextFile": client_side, "writeTextFile": client_side },
            "terminal": client_side,
            "elicitation": { "form": {} },
        },
        "clientInfo": { "name": "arbor", "version": env!("CARGO_PKG_VERSION") },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_come_from_the_initialize_answer() {
        let answer = json!({
            "agentInfo": { "name": "@agentclientprotocol/claude-agent-acp", "version": "0.101.0" },
            "agentCapabilities": { "loadSession": true, "sessionCapabilities": { "resume": {}, "close": {}, "fork": {} } },
            "authMethods": [{ "id": "api-key", "name": "API Key", "description": "Use an API key" }],
        });
        let facts = AgentFacts::of(&answer);
        assert_eq!(facts.version.as_deref(), Some("@agentclientprotocol/claude-agent-acp 0.101.0"));
        assert!(facts.load_session && facts.resume && facts.close && facts.fork && facts.can_continue());
        assert_eq!(facts.auth_methods, ["API Key: Use an API key"]);
        assert!(!AgentFacts::of(&json!({})).can_continue());
    }
}
