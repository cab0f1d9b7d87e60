//! Finding agent CLIs and their versions, and the environment agents run with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long `--version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// The program `name` on PATH, or `configured` when given and executable.
pub fn find_program(name: &str, configured: Option<&Path>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |path: &Path| {
        path.metadata().is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
    };
    if let Some(path) = configured {
        return executable(path).then(|| path.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| executable(candidate))
}

/// An agent CLI: where it is (if found), its version (learned in the background) and the
/// environment variables configured for it.
pub struct AgentCli {
    /// The program, when found.
    pub program: Option<PathBuf>,
    /// Its version, once known.
    pub version: Version,
    /// Extra environment for it.
    pub env: BTreeMap<String, String>,
}

impl AgentCli {
    /// Looks for `name` on PATH (or at `configured`) and starts learning its version.
    pub fn find(name: &str, configured: Option<&Path>, env: BTreeMap<String, String>) -> AgentCli {
        let program = find_program(name, configured);
        let version = program.as_deref().map(|program| Version::probe(program, &env)).unwrap_or_default();
        AgentCli { program, version, env }
    }
}

/// A version learned in the background, so start-up never waits for an agent CLI.
#[derive(Clone, Default)]
pub struct Version(Arc<Mutex<Option<String>>>);

impl Version {
    /// Starts `program --version` on a thread, in the environment the agent itself gets (its
    /// configured `env`, never Arbor's own variables); the first line of its output becomes the
    /// version.
    pub fn probe(program: &Path, env: &BTreeMap<String, String>) -> Version {
        let version = Version::default();
        let slot = version.0.clone();
        let program = program.to_path_buf();
        let env = agent_env(env);
        std::thread::spawn(move || {
            let mut command = std::process::Command::new(&program);
            command
                .arg("--version")
                .env_clear()
                .envs(env)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .env("NO_COLOR", "1");
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
            let Ok(child) = command.spawn() else { return };
            let group = child.id() as i32;
            let (done, wait) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = done.send(child.wait_with_output());
            });
            match wait.recv_timeout(VERSION_TIMEOUT) {
                Ok(Ok(output)) => {
                    let text = String::from_utf8_lossy(&output.stdout);
                    if let Some(line) = text.lines().find(|line| !line.trim().is_empty()) {
                        *slot.lock().expect("version poisoned") = Some(line.trim().to_string());
                    }
                }
                Ok(Err(_)) => {}
                // SAFETY: the leader has not been reaped (its wait has not returned), so the group
                // id is still its own; kill(2) with a negative pid signals that group.
                Err(_) => unsafe {
                    libc::kill(-group, libc::SIGKILL);
                },
            }
        });
        version
    }

    /// The version, once known.
    pub fn get(&self) -> Option<String> {
        self.0.lock().expect("version poisoned").clone()
    }
}

/// The command that starts an agent program. Every driver builds its agent's command here, so no
/// agent of any kind inherits the server's environment: it gets [`agent_env`] instead.
pub fn agent_command(
    program: impl AsRef<std::ffi::OsStr>,
    extra: &BTreeMap<String, String>,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    command.env_clear().envs(agent_env(extra));
    command
}

/// Variables of the server's environment that hold credentials Arbor itself uses (the forge
/// token for pushes and pull requests); an agent gets one only when its config sets it.
const ARBOR_CREDENTIALS: [&str; 3] = ["GH_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN"];

/// The environment an agent runs with: the server's, minus Arbor's own variables and the
/// credentials Arbor uses (tokens meant for Arbor only), plus the agent's configured extras.
pub fn agent_env(extra: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(name, _)| !name.starts_with("ARBOR_") && !ARBOR_CREDENTIALS.contains(&name.as_str()))
        .collect();
    env.extend(extra.iter().map(|(name, value)| (name.clone(), value.clone())));
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arbor_variables_are_not_passed_to_agents() {
        // SAFETY: this test sets a variable only it reads.
        unsafe { std::env::set_var("ARBOR_TEST_SECRET", "token") };
        // SAFETY: as above; no other test reads GITHUB_TOKEN.
        unsafe { std::env::set_var("GITHUB_TOKEN", "forge-token") };
        let extra = BTreeMap::from([("AGENT_SETTING".to_string(), "1".to_string())]);
        let env = agent_env(&extra);
        assert!(!env.iter().any(|(name, _)| name == "ARBOR_TEST_SECRET" || name == "GITHUB_TOKEN"));
        assert!(env.contains(&("AGENT_SETTING".to_string(), "1".to_string())));
        let given = agent_env(&BTreeMap::from([("GITHUB_TOKEN".to_string(), "for-the-agent".to_string())]));
        assert!(
            given.contains(&("GITHUB_TOKEN".to_string(), "for-the-agent".to_string())),
            "unless its config gives one"
        );
    }

    #[test]
    fn programs_are_found_on_path_or_where_configured() {
        assert!(find_program("sh", None).is_some());
        assert!(find_program("surely-not-an-agent-cli", None).is_none());
        assert_eq!(find_program("ignored", Some(Path::new("/bin/sh"))), Some(PathBuf::from("/bin/sh")));
        assert_eq!(find_program("ignored", Some(Path::new("/nonexistent/claude"))), None);
    }
}
