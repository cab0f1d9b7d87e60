//! The user's configuration file (JSON): admission limits, agent profiles, permission rules and
//! the forges' (GitHub's, GitLab's) settings. Its path is
//! `--config`, `$ARBOR_CONFIG`, or `$XDG_CONFIG_HOME/arbor/config.json` (default
//! `~/.config/arbor/config.json`); a missing file means the defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arbor_protocol::{AgentProfile, PermissionRule, SandboxChoice};
use serde::Deserialize;

use crate::forge::Secret;
use crate::policy::{self, PolicyError, StandingRules};

/// Errors reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    /// The file is not valid configuration.
    #[error("{path} is not a valid Arbor configuration: {source}")]
    Parse { path: String, source: serde_json::Error },
    /// A value in the file is out of range.
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    /// A permission rule in the file is not valid.
    #[error("{path}: {source}")]
    Rule { path: String, source: PolicyError },
}

/// Limits on concurrently running sessions.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Sessions with a live agent process, over all agents. Default 8.
    #[serde(default = "default_max_running")]
    pub max_running: usize,
    /// Per agent id, a lower limit.
    #[serde(default)]
    pub per_agent: BTreeMap<String, usize>,
}

fn default_max_running() -> usize {
    8
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_running: default_max_running(), per_agent: BTreeMap::new() }
    }
}

/// Where to find a built-in agent's CLI and what to add to its environment.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentOverride {
    /// The CLI's path (default: found on PATH).
    #[serde(default)]
    pub command: Option<PathBuf>,
    /// Extra environment variables for the agent.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Codex only: the Codex ACP adapter, which runs its sessions in `ask` mode so that Codex
    /// asks before it acts (default: `codex-acp` on PATH).
    #[serde(default)]
    pub acp_command: Option<PathBuf>,
}

/// An agent that speaks the Agent Client Protocol, added by command line.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcpAgentConfig {
    /// Display name.
    pub name: String,
    /// Program and arguments, such as `["opencode", "acp"]`.
    pub command: Vec<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// Where pull requests are opened: GitHub or a GitHub Enterprise server.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GithubConfig {
    /// The REST API's base URL: `https://api.github.com` (the default), or
    /// `https://HOST/api/v3` for GitHub Enterprise.
    #[serde(default = "default_github_api")]
    pub api_url: String,
    /// A token; without it Arbor uses `GH_TOKEN`, `GITHUB_TOKEN` or `gh auth token`.
    #[serde(default)]
    pub token: Option<Secret>,
    /// How often open pull requests are read again, in seconds. Default 60.
    #[serde(default = "default_poll_interval")]
    pub poll_interval_secs: u64,
}

/// Where merge requests are opened: gitlab.com or a self-hosted GitLab.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitlabConfig {
    /// The REST API's base URL: `https://gitlab.com/api/v4` (the default), or
    /// `https://HOST/api/v4` for a self-hosted GitLab.
    #[serde(default = "default_gitlab_api")]
    pub api_url: String,
    /// A token; without it Arbor uses `GITLAB_TOKEN` or the GitLab CLI's login.
    #[serde(default)]
    pub token: Option<Secret>,
    /// How often open merge requests are read again, in seconds. Default 60.
    #[serde(default = "default_poll_interval")]
    pub poll_interval_secs: u64,
}

fn default_gitlab_api() -> String {
    "https://gitlab.com/api/v4".into()
}

impl Default for GitlabConfig {
    fn default() -> Self {
        Self { api_url: default_gitlab_api(), token: None, poll_interval_secs: default_poll_interval() }
    }
}

fn default_github_api() -> String {
    "https://api.github.com".into()
}

fn default_poll_interval() -> u64 {
    60
}

impl Default for GithubConfig {
    fn default() -> Self {
        Self { api_url: default_github_api(), token: None, poll_interval_secs: default_poll_interval() }
    }
}

/// When `worktree/gc` (and the daemon, hourly) archives sessions without being asked.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetentionConfig {
    /// Archive a stopped session whose branch is merged into its base (or holds no work of its
    /// own) once it has been idle this many days. A session with unmerged commits or uncommitted
    /// changes is never archived by the policy, only by `session/archive`.
    pub archive_after_days: u32,
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Admission limits.
    #[serde(default)]
    pub limits: Limits,
    /// Agent profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, AgentProfile>,
    /// Settings of the built-in agents (`claude`, `codex`, `gemini`) by id.
    #[serde(default)]
    pub agents: BTreeMap<String, AgentOverride>,
    /// More agents speaking the Agent Client Protocol, by id.
    #[serde(default)]
    pub acp_agents: BTreeMap<String, AcpAgentConfig>,
    /// Permission rules for every session, the least specific level of the policy.
    #[serde(default)]
    pub permissions: Vec<PermissionRule>,
    /// The sandbox of sessions that choose none themselves (see `docs/sandbox.md`).
    #[serde(default)]
    pub sandbox: Option<SandboxChoice>,
    /// The forge every remote is on (`github` or `gitlab`); when absent, each remote's host
    /// tells (GitLab for the GitLab API's host and hosts named `gitlab.…`, else GitHub).
    #[serde(default)]
    pub forge: Option<crate::forge::ForgeKind>,
    /// Where pull requests are opened.
    #[serde(default)]
    pub github: GithubConfig,
    /// Where merge requests are opened.
    #[serde(default)]
    pub gitlab: GitlabConfig,
    /// The daemon's network listener for WebSocket clients and the web companion (off when
    /// absent; `arbor daemon --listen` overrides it).
    #[serde(default)]
    pub listen: Option<crate::web::ListenConfig>,
    /// Other machines sessions can run on (`arbor host add`; see `docs/scaling.md`).
    #[serde(default)]
    pub hosts: Vec<crate::hosts::HostConfig>,
    /// The program and first arguments that reach hosts, such as `["ssh", "-F", "my_config"]`
    /// (default `["ssh"]`).
    #[serde(default)]
    pub ssh_command: Option<Vec<String>>,
    /// The most sessions pinned at once; pinning one more unpins the pin made longest ago.
    /// 0 means no limit. Default 20.
    #[serde(default = "default_max_pinned")]
    pub max_pinned_sessions: u32,
    /// Prices per million tokens by model, over the shipped table (`pricing.rs`), for the cost
    /// estimated for agents that report tokens but no cost.
    #[serde(default)]
    pub prices: BTreeMap<String, crate::pricing::Price>,
    /// The retention policy for session worktrees (none when absent).
    #[serde(default)]
    pub retention: Option<RetentionConfig>,
    /// Where the profiles' memory versions are kept (under the data directory when absent).
    #[serde(default)]
    pub memory_store: crate::memory::MemoryStoreConfig,
}

fn default_max_pinned() -> u32 {
    20
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            profiles: BTreeMap::new(),
            agents: BTreeMap::new(),
            acp_agents: BTreeMap::new(),
            permissions: Vec::new(),
            sandbox: None,
            forge: None,
            github: GithubConfig::default(),
            gitlab: GitlabConfig::default(),
            listen: None,
            hosts: Vec::new(),
            ssh_command: None,
            max_pinned_sessions: default_max_pinned(),
            prices: BTreeMap::new(),
            retention: None,
            memory_store: crate::memory::MemoryStoreConfig::default(),
        }
    }
}

impl Config {
    /// Reads `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => return Err(ConfigError::Read { path: path.display().to_string(), source }),
        };
        let mut config: Config = serde_json::from_str(&text)
            .map_err(|source| ConfigError::Parse { path: path.display().to_string(), source })?;
        let invalid = |source| ConfigError::Rule { path: path.display().to_string(), source };
        policy::validate(&config.permissions).map_err(invalid)?;
        for (name, interval) in
            [("github", config.github.poll_interval_secs), ("gitlab", config.gitlab.poll_interval_secs)]
        {
            if interval == 0 {
                return Err(ConfigError::Invalid {
                    path: path.display().to_string(),
                    message: format!("{name}.pollIntervalSecs must be at least 1"),
                });
            }
        }
        crate::hosts::validate(&config.hosts)
            .map_err(|message| ConfigError::Invalid { path: path.display().to_string(), message })?;
        if config.ssh_command.as_ref().is_some_and(Vec::is_empty) {
            return Err(ConfigError::Invalid {
                path: path.display().to_string(),
                message: "sshCommand must name a program".into(),
            });
        }
        if let Some(s3) = &config.memory_store.s3 {
            s3.validate().map_err(|message| ConfigError::Invalid { path: path.display().to_string(), message })?;
        }
        for (name, profile) in &mut config.profiles {
            profile.name = name.clone();
            policy::validate(&profile.permissions).map_err(invalid)?;
            crate::memory::validate(profile)
                .map_err(|message| ConfigError::Invalid { path: path.display().to_string(), message })?;
        }
        Ok(config)
    }

    /// The permission rules of the config file and of its profiles.
    pub fn standing_rules(&self) -> StandingRules {
        StandingRules {
            config: self.permissions.clone(),
            profiles: self.profiles.iter().map(|(name, profile)| (name.clone(), profile.permissions.clone())).collect(),
        }
    }

    /// The profiles, by name.
    pub fn profile(&self, name: &str) -> Option<&AgentProfile> {
        self.profiles.get(name)
    }
}

/// The default configuration directory: `$XDG_CONFIG_HOME/arbor` or `~/.config/arbor`.
pub fn default_config_dir() -> PathBuf {
    match std::env::var_os("XDG_CONFIG_HOME") {
        Some(dir) if !dir.is_empty() => Path::new(&dir).join("arbor"),
        _ => std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/")).join(".config/arbor"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_gives_defaults_and_bad_file_names_itself() {
        let dir = std::env::temp_dir().join(format!("arbor-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(Config::load(&dir.join("none.json")).unwrap(), Config::default());
        std::fs::write(dir.join("bad.json"), "{\"limits\": {\"maxRunnin\": 2}}").unwrap();
        let error = Config::load(&dir.join("bad.json")).unwrap_err().to_string();
        assert!(error.contains("bad.json") && error.contains("maxRunnin"), "{error}");
        std::fs::write(
            dir.join("good.json"),
            r#"{"limits":{"maxRunning":2,"perAgent":{"scripted":1}},"profiles":{"fast":{"agent":"scripted"}}}"#,
        )
        .unwrap();
        let config = Config::load(&dir.join("good.json")).unwrap();
        assert_eq!(config.limits.max_running, 2);
        assert_eq!(config.profile("fast").unwrap().name, "fast");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
