//! `arbor host check`: whether a host can run sessions, and what is missing when it cannot.
//!
//! The check speaks to the host the way sessions placed there will: `arbor lsp --standalone`
//! over ssh's stdio, Arbor's own protocol. So a host that passes has a working `arbor` on the
//! PATH of a non-interactive ssh session, not only a file of that name.

use std::time::Duration;

use arbor_protocol::{AgentsListResult, method};
use serde::Serialize;
use tokio::io::AsyncReadExt;

use super::HostConfig;
use super::ssh::{NOT_FOUND, SSH_FAILED, Ssh};
use crate::client::RpcClient;

/// How long one step of the check (a command, or the protocol handshake) may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// What a host has, as `arbor host check` reports it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HostReport {
    /// The host's name in the configuration.
    pub name: String,
    /// Its ssh target.
    pub ssh: String,
    /// True when nothing blocking is missing.
    pub ready: bool,
    /// The version of `arbor` on the host.
    pub arbor_version: Option<String>,
    /// `git --version` on the host.
    pub git_version: Option<String>,
    /// Every agent the host's Arbor knows.
    pub agents: Vec<HostAgent>,
    /// The sandbox backend `auto` picks there, or null when none works.
    pub sandbox: Option<String>,
    /// What keeps the host from running sessions, one sentence each.
    pub problems: Vec<String>,
    /// What does not block sessions but weakens them (no sandbox backend, for example).
    pub warnings: Vec<String>,
    /// Its one-minute load average per processor, as placement reads it; null when the host
    /// does not say.
    pub load: Option<f64>,
}

/// One agent as the host's Arbor reports it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HostAgent {
    /// Agent id.
    pub id: String,
    /// Whether it can run there.
    pub available: bool,
    /// Its version there.
    pub version: Option<String>,
}

/// Checks `host`: ssh reaches it, git and arbor are installed, and every agent it lists is
/// available there.
pub async fn check(ssh: &Ssh, host: &HostConfig) -> HostReport {
    let mut report = HostReport {
        name: host.name.clone(),
        ssh: host.ssh.clone(),
        ready: false,
        arbor_version: None,
        git_version: None,
        agents: Vec::new(),
        sandbox: None,
        problems: Vec::new(),
        warnings: Vec::new(),
        load: None,
    };
    match run(ssh, &host.ssh, &["git", "--version"]).await {
        Ok(output) => report.git_version = Some(output.trim().trim_start_matches("git version ").to_string()),
        Err(Failure::Unreachable(reason)) => {
            report.problems.push(format!("cannot reach {} over ssh: {reason}", host.ssh));
            return report;
        }
        Err(Failure::NotFound) => report.problems.push("git is not installed on the host".into()),
        Err(Failure::Other(reason)) => report.problems.push(format!("`git --version` failed on the host: {reason}")),
    }
    match arbor_facts(ssh, &host.ssh).await {
        Ok((version, agents)) => {
            report.arbor_version = version;
            for wanted in &host.agents {
                match agents.agents.iter().find(|agent| &agent.id == wanted) {
                    Some(agent) if agent.available => {}
                    Some(agent) => report.problems.push(format!(
                        "agent {wanted} is not available on the host{}",
                        agent.install_hint.as_deref().map(|hint| format!(" (install: {hint})")).unwrap_or_default()
                    )),
                    None => report.problems.push(format!("the host's arbor does not know the agent {wanted}")),
                }
            }
            report.sandbox = agents.sandbox.auto.map(|backend| backend.as_str().to_string());
            if report.sandbox.is_none() {
                let reason = agents.sandbox.reason.unwrap_or_else(|| "no backend works".into());
                report.warnings.push(format!("no sandbox backend works on the host: {reason}"));
            }
            report.agents = agents
                .agents
                .into_iter()
                .map(|agent| HostAgent { id: agent.id, available: agent.available, version: agent.version })
                .collect();
        }
        Err(Failure::NotFound) => report
            .problems
            .push("arbor is not installed on the host (not on the PATH of a non-interactive ssh session)".into()),
        Err(Failure::Unreachable(reason) | Failure::Other(reason)) => {
            report.problems.push(format!("arbor on the host does not answer: {reason}"))
        }
    }
    report.load = super::load::ask(ssh, host).await;
    report.ready = report.problems.is_empty();
    report
}

/// Why a step failed.
enum Failure {
    /// ssh could not connect or authenticate.
    Unreachable(String),
    /// The remote command does not exist there.
    NotFound,
    /// Anything else, with what the host said.
    Other(String),
}

/// Runs `remote` on `target` and returns its stdout.
async fn run(ssh: &Ssh, target: &str, remote: &[&str]) -> Result<String, Failure> {
    let child = ssh
        .command(target, remote)
        .spawn()
        .map_err(|error| Failure::Unreachable(format!("cannot run ssh: {error}")))?;
    let output = tokio::time::timeout(STEP_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| Failure::Unreachable(format!("no answer in {} s", STEP_TIMEOUT.as_secs())))?
        .map_err(|error| Failure::Other(error.to_string()))?;
    let stderr = last_line(&output.stderr);
    match output.status.code() {
        Some(0) => Ok(String::from_utf8_lossy(&output.stdout).to_string()),
        Some(SSH_FAILED) => Err(Failure::Unreachable(stderr)),
        Some(NOT_FOUND) => Err(Failure::NotFound),
        _ => Err(Failure::Other(stderr)),
    }
}

/// The host's arbor version and its `agents/list`, asked over the protocol.
async fn arbor_facts(ssh: &Ssh, target: &str) -> Result<(Option<String>, AgentsListResult), Failure> {
    let mut child = ssh
        .command(target, &["arbor", "lsp", "--standalone"])
        .spawn()
        .map_err(|error| Failure::Unreachable(format!("cannot run ssh: {error}")))?;
    let (Some(stdin), Some(stdout), Some(mut stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(Failure::Other("ssh's pipes are missing".into()));
    };
    let (client, _notifications) = RpcClient::new(stdout, stdin);
    let asked = tokio::time::timeout(STEP_TIMEOUT, async {
        let initialized = client.initialize().await?;
        let agents: AgentsListResult = client.call(method::AGENTS_LIST, &()).await?;
        client.shutdown().await?;
        Ok::<_, crate::client::RpcError>((initialized, agents))
    })
    .await;
    match asked {
        Ok(Ok((initialized, agents))) => {
            let version = initialized["serverInfo"]["version"].as_str().map(str::to_string);
            // The host's arbor exits after `exit`; one that does not is ended with ssh.
            let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
            Ok((version, agents))
        }
        Ok(Err(_)) | Err(_) => {
            let status = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
            let mut said = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(1), stderr.read_to_end(&mut said)).await;
            let said = last_line(&said);
            match status.ok().and_then(Result::ok).and_then(|status| status.code()) {
                Some(NOT_FOUND) => Err(Failure::NotFound),
                Some(SSH_FAILED) => Err(Failure::Unreachable(said)),
                _ if said.is_empty() => Err(Failure::Other(format!("no answer in {} s", STEP_TIMEOUT.as_secs()))),
                _ => Err(Failure::Other(said)),
            }
        }
    }
}

/// The last non-empty line a command wrote, which is where ssh and shells put the reason.
fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("").trim().to_string()
}
