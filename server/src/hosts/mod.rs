//! Machines other than this one that sessions can run on (`docs/scaling.md` has the design): the
//! `hosts` of the configuration file, how each is reached (the user's own `ssh`, so keys,
//! `~/.ssh/config` and jump hosts work as they do for the user), and what each one offers.

mod check;
pub mod command;
pub mod load;
pub mod mirror;
pub mod remote;
pub mod warm;
mod ssh;

use serde::{Deserialize, Serialize};

pub use check::{HostAgent, HostReport, check};
pub use ssh::Ssh;

/// One machine sessions can be placed on.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostConfig {
    /// The name sessions and commands use for it.
    pub name: String,
    /// What `ssh` is given to reach it: `user@host`, or a `Host` alias of the user's ssh config.
    pub ssh: String,
    /// Sessions with a live agent on it at once. Default 4.
    #[serde(default = "default_max_running")]
    pub max_running: usize,
    /// The agents it must be able to run (checked by `arbor host check`).
    #[serde(default)]
    pub agents: Vec<String>,
    /// Labels a session can ask its host to have.
    #[serde(default)]
    pub labels: Vec<String>,
    /// How many sessions of each agent to keep opened there ahead of need, per repository a
    /// session of it ran there from (the warm pool, `warm.rs`). Default none.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub warm: std::collections::BTreeMap<String, usize>,
}

fn default_max_running() -> usize {
    4
}

/// Why a list of hosts is not valid, as one sentence naming the host.
pub fn validate(hosts: &[HostConfig]) -> Result<(), String> {
    let mut names = std::collections::BTreeSet::new();
    for host in hosts {
        let name_ok = !host.name.is_empty()
            && host.name.len() <= 64
            && host.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            return Err(format!(
                "host name {:?} must be 1–64 letters, digits, '-', '_' or '.'",
                host.name
            ));
        }
        if !names.insert(host.name.as_str()) {
            return Err(format!("host {:?} is configured twice", host.name));
        }
        // The target is handed to ssh after `--`, but one that looks like an option is refused
        // anyway: it is a mistake at best and an injected ssh option at worst.
        let target_ok = !host.ssh.is_empty()
            && !host.ssh.starts_with('-')
            && !host.ssh.chars().any(|c| c.is_whitespace() || c.is_control());
        if !target_ok {
            return Err(format!(
                "host {:?}: ssh target {:?} must be user@host or an ssh config alias (no spaces, not starting with '-')",
                host.name, host.ssh
            ));
        }
        if host.max_running == 0 {
            return Err(format!("host {:?}: maxRunning must be at least 1", host.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, ssh: &str) -> HostConfig {
        HostConfig { name: name.into(), ssh: ssh.into(), max_running: 1, agents: vec![], labels: vec![], warm: Default::default() }
    }

    #[test]
    fn names_and_targets_are_checked() {
        assert!(validate(&[host("build-1", "dev@build-1.example.com"), host("b2", "alias")]).is_ok());
        assert!(validate(&[host("a", "x"), host("a", "y")]).unwrap_err().contains("twice"));
        assert!(validate(&[host("a b", "x")]).unwrap_err().contains("host name"));
        assert!(validate(&[host("a", "-oProxyCommand=sh")]).unwrap_err().contains("ssh target"));
        assert!(validate(&[host("a", "x y")]).unwrap_err().contains("ssh target"));
        let mut zero = host("a", "x");
        zero.max_running = 0;
        assert!(validate(&[zero]).unwrap_err().contains("maxRunning"));
    }
}
