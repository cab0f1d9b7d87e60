//! The scripted agent: built in, offline and deterministic. It runs as its own process
//! (`arbor scripted-agent`) and speaks the Agent Client Protocol, so it goes through the same
//! driver, process group and crash handling as a real agent. It powers the demo and most tests,
//! and it says what it is wherever it appears.

pub mod agent;
pub mod script;

use arbor_protocol::{AgentCapabilities, AgentInfo, PermissionMode};

use super::acp::AcpDriver;
use super::discovery::agent_command;
use super::{AgentError, StartSpec};
use crate::paths::Paths;

/// The scripted agent's id in `agents/list` and `session/new`.
pub const AGENT_ID: &str = "scripted";

/// The driver for the scripted agent, started from this very binary.
pub fn driver(paths: &Paths) -> AcpDriver {
    let state_dir = paths.scripted_agent_state();
    let info = AgentInfo {
        id: AGENT_ID.into(),
        name: "Scripted agent".into(),
        description: "A built-in scripted agent for demos and tests: it follows a script (messages, thinking, \
                      file edits, shell commands, permission questions) and calls no model."
            .into(),
        available: true,
        version: Some(env!("CARGO_PKG_VERSION").into()),
        install_hint: None,
        capabilities: AgentCapabilities {
            settings: super::setting::names(&[super::setting::SCRIPT]),
            ..super::typical_capabilities()
        },
        models: vec!["scripted".into()],
    };
    AcpDriver::new(
        info,
        Box::new(move |spec: &StartSpec| {
            let program =
                std::env::current_exe().map_err(|source| AgentError::Spawn { agent: AGENT_ID.into(), source })?;
            // Sandboxed, the agent keeps its state in the session's private HOME, the only place
            // besides the worktree it can write.
            let state_dir =
                spec.sandbox.private_home().map_or_else(|| state_dir.clone(), |home| home.join("scripted-agent"));
            let mut command = agent_command(program, &Default::default());
            command.arg("scripted-agent").arg("--state-dir").arg(&state_dir);
            if spec.config.permission_mode == Some(PermissionMode::BypassPermissions) {
                command.arg("--bypass-permissions");
            }
            if let Some(script) = &spec.config.script {
                // The script travels in a file so that its size is not limited by argv.
                let path = state_dir.join("scripts").join(format!("{}.script", spec.session_id));
                std::fs::create_dir_all(path.parent().expect("script path has a parent"))
                    .and_then(|()| std::fs::write(&path, script))
                    .map_err(|source| AgentError::Spawn { agent: AGENT_ID.into(), source })?;
                command.arg("--script").arg(path);
            }
            Ok(command)
        }),
    )
}
