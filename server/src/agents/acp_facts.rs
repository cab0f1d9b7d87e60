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
    /// `sessionCapabilities.additionalDirectories`: the agent takes directories beyond `cwd`
    /// on session/new, load and resume.
    pub additional_directories: bool,
    /// `sessionCapabilities.systemPrompt`: the agent takes a system prompt of the client's on
    /// session/new, load, resume and fork, at least in `append` mode (added to its own).
    pub system_prompt: bool,
    /// The ways the agent offers to log in (`authMethods`).
    pub auth_methods: Vec<AuthMethod>,
}

/// One way an agent offers to log in (an entry of `authMethods`).
#[derive(Debug, Clone, PartialEq)]
pub struct AuthMethod {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// How the user logs in with it.
    pub kind: AuthKind,
}

/// What logging in with a method takes, from its `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthKind {
    /// The agent logs in by itself when asked (`authenticate`), needing no terminal: ACP's
    /// default type, `agent`.
    Agent,
    /// The user sets environment variables for the agent (`env_var`): their names.
    EnvVar(String),
    /// The user runs the agent's command with these arguments in a terminal (`terminal`).
    Terminal(Vec<String>),
}

impl AuthMethod {
    fn of(method: &Value) -> Option<Self> {
        let id = method["id"].as_str()?.to_string();
        let strings = |value: &Value| -> Vec<String> {
            value.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
        };
        let kind = match method["type"].as_str() {
            // The variables are listed in `vars` (older agents name one in `varName`).
            Some("env_var") => AuthKind::EnvVar(match method["varName"].as_str() {
                Some(name) => name.to_string(),
                None => {
                    strings(&method["vars"].as_array().into_iter().flatten().map(|var| var["name"].clone()).collect())
                        .join(", ")
                }
            }),
            Some("terminal") => AuthKind::Terminal(strings(&method["args"])),
            _ => AuthKind::Agent,
        };
        Some(Self {
            name: method["name"].as_str().unwrap_or(&id).to_string(),
            description: method["description"].as_str().map(str::to_string),
            id,
            kind,
        })
    }

    /// How to log in with this method, in a sentence fragment: what the agent says of it, and
    /// what the user does (`command` is the agent's command line, for terminal logins).
    pub fn how(&self, command: &[String]) -> String {
        let said = self.description.as_deref().map(|description| format!(" ({description})")).unwrap_or_default();
        let action = match &self.kind {
            AuthKind::Agent => format!("log in through Arbor with agents/authenticate, methodId `{}`", self.id),
            AuthKind::EnvVar(names) => format!("set {names} in the agent's env in the config file"),
            AuthKind::Terminal(args) => {
                format!("run `{}` in a terminal", command.iter().chain(args).cloned().collect::<Vec<_>>().join(" "))
            }
        };
        format!("{}{said}: {action}", self.name)
    }
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
        let auth_methods =
            initialized["authMethods"].as_array().into_iter().flatten().filter_map(AuthMethod::of).collect();
        Self {
            version,
            load_session: capabilities["loadSession"].as_bool().unwrap_or(false),
            resume: session.get("resume").is_some_and(|value| !value.is_null()),
            close: session.get("close").is_some_and(|value| !value.is_null()),
            fork: session.get("fork").is_some_and(|value| !value.is_null()),
            additional_directories: session.get("additionalDirectories").is_some_and(|value| !value.is_null()),
            system_prompt: session.get("systemPrompt").is_some_and(|value| !value.is_null()),
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
        let command = probe_command(program, arguments, env);
        std::thread::spawn(move || {
            if let Ok([initialized]) = converse(command, [("initialize", initialize_params(false))], PROBE_TIMEOUT) {
                slot.set(AgentFacts::of(&initialized));
            }
        });
        learned
    }
}

/// The command that starts an agent outside any session, to ask it something: in the environment
/// it gets for sessions and a process group of its own, in a directory where it finds nothing
/// (no session's directory exists for it; `initialize` and `authenticate` read no files).
pub fn probe_command(program: &Path, arguments: &[String], env: &[(String, String)]) -> Command {
    let mut command = Command::new(program);
    command
        .args(arguments)
        .env_clear()
        .envs(env.iter().cloned())
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command
}

/// Starts `command`, sends it the requests one after another, each once the previous one is
/// answered, and returns their results; then ends its process group. Blocks the thread: run it on
/// one of its own. Fails with the agent's error message, or when it is silent past `timeout`.
pub fn converse<const N: usize>(
    mut command: Command,
    requests: [(&str, Value); N],
    timeout: Duration,
) -> Result<[Value; N], String> {
    let mut child = command.spawn().map_err(|error| format!("could not start the agent: {error}"))?;
    let group = child.id() as i32;
    let (answers_tx, answers) = std::sync::mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let responses = BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|line| serde_json::from_str::<Value>(&line).ok())
                .filter(|message| message.get("method").is_none());
            for response in responses {
                if answers_tx.send(response).is_err() {
                    return;
                }
            }
        });
    }
    let mut stdin = child.stdin.take();
    let mut results = Vec::with_capacity(N);
    for (id, (method, params)) in requests.into_iter().enumerate() {
        let request = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let written = stdin.as_mut().map(|stdin| writeln!(stdin, "{request}"));
        if !matches!(written, Some(Ok(()))) {
            break;
        }
        let answer = loop {
            match answers.recv_timeout(timeout) {
                Ok(answer) if answer["id"] == id => break Ok(answer),
                Ok(_) => {}
                Err(_) => break Err(format!("the agent did not answer {method}")),
            }
        };
        match answer {
            Ok(answer) if answer.get("error").is_some() => {
                let message = answer["error"]["message"].as_str().unwrap_or("the agent refused").to_string();
                results.clear();
                results.push(Err(format!("{method}: {message}")));
                break;
            }
            Ok(answer) => results.push(Ok(answer["result"].clone())),
            Err(message) => {
                results.push(Err(message));
                break;
            }
        }
    }
    drop(stdin);
    // SAFETY: kill(2) with a negative pid signals the agent's own process group.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
    let _ = child.wait();
    let results: Result<Vec<Value>, String> = results.into_iter().collect();
    results?.try_into().map_err(|_| "the agent ended before answering".to_string())
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
            "agentCapabilities": { "loadSession": true, "sessionCapabilities": {
                "resume": {}, "close": {}, "fork": {}, "systemPrompt": { "mode": { "override": {} } },
            } },
            "authMethods": [{ "id": "api-key", "name": "API Key", "description": "Use an API key" }],
        });
        let facts = AgentFacts::of(&answer);
        assert_eq!(facts.version.as_deref(), Some("@agentclientprotocol/claude-agent-acp 0.101.0"));
        assert!(facts.load_session && facts.resume && facts.close && facts.fork && facts.can_continue());
        assert!(facts.system_prompt && !facts.additional_directories);
        assert_eq!(
            facts.auth_methods[0].how(&[]),
            "API Key (Use an API key): log in through Arbor with agents/authenticate, methodId `api-key`"
        );
        assert!(!AgentFacts::of(&json!({})).can_continue());
        assert!(
            !AgentFacts::of(&json!({ "agentCapabilities": { "sessionCapabilities": { "systemPrompt": null } } }))
                .system_prompt
        );
    }
}
