//! `arbor host add|remove|list|check`: the hosts of the configuration file, from the terminal.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use anyhow::{Context, bail};
use arbor_protocol::{HostListResult, HostPlace, NoParams, method};
use clap::Subcommand;
use serde_json::{Value, json};

use super::{HostConfig, HostReport, Ssh, check};
use crate::config::Config;
use crate::paths::Paths;

/// `arbor host …`.
#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// Add a host to the configuration file.
    Add {
        /// The name sessions and commands use for it.
        name: String,
        /// What ssh is given to reach it: USER@HOST, or a Host alias of your ssh config.
        ssh: String,
        /// Sessions with a live agent on it at once.
        #[arg(long, default_value_t = 4)]
        max_running: usize,
        /// An agent it must be able to run (repeatable).
        #[arg(long = "agent", value_name = "AGENT")]
        agents: Vec<String>,
        /// A label sessions can ask for (repeatable).
        #[arg(long = "label", value_name = "LABEL")]
        labels: Vec<String>,
    },
    /// Remove a host from the configuration file.
    Remove {
        /// The host's name.
        name: String,
    },
    /// List the configured hosts.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check that hosts can run sessions: ssh reaches them and arbor, git and their agents are
    /// installed there. Exits non-zero when one cannot.
    Check {
        /// Only this host (default: every configured host).
        name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one `arbor host` command.
pub async fn run(paths: &Paths, command: HostCommand) -> anyhow::Result<()> {
    let config = Config::load(&paths.config_file)?;
    let mut out = std::io::stdout().lock();
    match command {
        HostCommand::Add { name, ssh, max_running, agents, labels } => {
            let host = HostConfig { name: name.clone(), ssh, max_running, agents, labels, warm: Default::default() };
            edit_hosts(&paths.config_file, |hosts| {
                hosts.push(serde_json::to_value(&host).expect("a host serialises"));
            })?;
            writeln!(out, "added host {name}; `arbor host check {name}` checks it")?;
        }
        HostCommand::Remove { name } => {
            if !config.hosts.iter().any(|host| host.name == name) {
                bail!("no host named {name:?} is configured");
            }
            edit_hosts(&paths.config_file, |hosts| hosts.retain(|host| host["name"] != name.as_str()))?;
            writeln!(out, "removed host {name}")?;
        }
        HostCommand::List { json } => {
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&config.hosts)?)?;
            } else if config.hosts.is_empty() {
                writeln!(out, "no hosts configured; add one with `arbor host add NAME USER@HOST`")?;
            } else {
                let known = places_known_to_the_daemon(paths).await;
                writeln!(out, "{:<16} {:<28} {:>7}  {:<9} {:<20} LABELS", "NAME", "SSH", "RUNNING", "LOAD", "AGENTS")?;
                for host in &config.hosts {
                    let place = known.iter().find(|place| place.name == host.name);
                    let load =
                        place.and_then(|place| place.load).map_or("-".to_string(), |load| format!("{load:.2}/cpu"));
                    let line = format!(
                        "{:<16} {:<28} {:>7}  {:<9} {:<20} {}",
                        host.name,
                        host.ssh,
                        format!("{}/{}", place.map_or(0, |place| place.running), host.max_running),
                        load,
                        host.agents.join(","),
                        host.labels.join(",")
                    );
                    writeln!(out, "{}", line.trim_end())?;
                }
            }
        }
        HostCommand::Check { name, json } => {
            let hosts: Vec<&HostConfig> = match &name {
                Some(name) => vec![
                    config
                        .hosts
                        .iter()
                        .find(|host| &host.name == name)
                        .with_context(|| format!("no host named {name:?} is configured"))?,
                ],
                None if config.hosts.is_empty() => {
                    bail!("no hosts configured; add one with `arbor host add NAME USER@HOST`")
                }
                None => config.hosts.iter().collect(),
            };
            let ssh = Ssh::new(config.ssh_command.as_deref());
            // Every host at once: each check mostly waits on the network.
            let reports = futures::future::join_all(hosts.iter().map(|host| check(&ssh, host))).await;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&reports)?)?;
            } else {
                for report in &reports {
                    print_report(&mut out, report)?;
                }
            }
            let not_ready = reports.iter().filter(|report| !report.ready).count();
            if not_ready > 0 {
                bail!("{not_ready} of {} hosts cannot run sessions", reports.len());
            }
        }
    }
    Ok(())
}

/// The hosts as the daemon knows them now: the sessions running on each and the load each last
/// reported. Nothing runs anywhere when no daemon does, and no load has been asked for, so the
/// daemon is asked only when it already answers (listing the hosts never starts one), and an
/// empty list means nothing runs and no load is known.
async fn places_known_to_the_daemon(paths: &Paths) -> Vec<HostPlace> {
    let Ok(stream) = tokio::net::UnixStream::connect(paths.socket()).await else { return Vec::new() };
    let (read, write) = stream.into_split();
    let (client, _notifications) = crate::client::RpcClient::new(read, write);
    let listed = async {
        client.initialize().await?;
        client.call::<_, HostListResult>(method::HOST_LIST, &NoParams {}).await
    };
    match listed.await {
        Ok(list) => list.hosts,
        Err(error) => {
            tracing::warn!(%error, "could not ask the daemon which sessions run on the hosts and how loaded they are");
            Vec::new()
        }
    }
}

fn print_report(out: &mut impl std::io::Write, report: &HostReport) -> std::io::Result<()> {
    let state = if report.ready { "ready" } else { "cannot run sessions" };
    writeln!(out, "{} ({}): {state}", report.name, report.ssh)?;
    if let Some(version) = &report.arbor_version {
        writeln!(out, "  arbor {version}")?;
    }
    if let Some(version) = &report.git_version {
        writeln!(out, "  git {version}")?;
    }
    let available: Vec<String> = report
        .agents
        .iter()
        .filter(|agent| agent.available)
        .map(|agent| match &agent.version {
            Some(version) => format!("{} {version}", agent.id),
            None => agent.id.clone(),
        })
        .collect();
    if !report.agents.is_empty() {
        writeln!(out, "  agents: {}", if available.is_empty() { "none".into() } else { available.join(", ") })?;
        writeln!(out, "  sandbox: {}", report.sandbox.as_deref().unwrap_or("none"))?;
    }
    if let Some(load) = report.load {
        writeln!(out, "  load: {load:.2} per processor")?;
    }
    for problem in &report.problems {
        writeln!(out, "  missing: {problem}")?;
    }
    for warning in &report.warnings {
        writeln!(out, "  warning: {warning}")?;
    }
    Ok(())
}

/// Changes the `hosts` list of the configuration file, keeping everything else in it, and
/// writes the result only when Arbor can read it back: a command never leaves a configuration
/// the daemon would refuse to start with.
fn edit_hosts(path: &Path, edit: impl FnOnce(&mut Vec<Value>)) -> anyhow::Result<()> {
    let mut document: Value = match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    };
    let Some(object) = document.as_object_mut() else {
        bail!("{} is not a JSON object", path.display());
    };
    let hosts = object.entry("hosts").or_insert_with(|| json!([]));
    let Some(list) = hosts.as_array_mut() else {
        bail!("{}: `hosts` is not a list", path.display());
    };
    edit(list);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // Written beside the file and renamed over it, so a crash leaves the old file or the new
    // one; private, because the file can hold a GitHub token.
    let staged = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let write = || -> anyhow::Result<()> {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&staged)?;
        file.write_all(serde_json::to_string_pretty(&document)?.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        Config::load(&staged)?;
        std::fs::rename(&staged, path)?;
        Ok(())
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&staged);
    })
}
