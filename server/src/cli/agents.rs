//! `arbor agents`: the agents and sandboxes this machine has.

use std::io::Write;

use arbor_protocol::{AgentsListResult, method};

use super::Cli;
use crate::paths::Paths;

/// `arbor agents`.
pub async fn agents(paths: &Paths) -> anyhow::Result<()> {
    let mut cli = Cli::connect(paths).await?;
    let result: AgentsListResult = cli.client.call(method::AGENTS_LIST, &()).await?;
    for agent in result.agents {
        let availability = if agent.available { "available" } else { "not available" };
        writeln!(
            cli.out,
            "{:<12} {:<14} {} — {}",
            agent.id,
            availability,
            agent.version.unwrap_or_default(),
            agent.description
        )?;
        if let Some(hint) = agent.install_hint.filter(|_| !agent.available) {
            writeln!(cli.out, "{:<12} install: {hint}", "")?;
        }
    }
    let sandbox = result.sandbox;
    let auto = sandbox.auto.map_or("none", |backend| backend.as_str());
    writeln!(cli.out, "\nsandbox: auto picks {auto}; limits by {}", sandbox.limits)?;
    for status in sandbox.backends {
        let availability = if status.available { "available" } else { "not available" };
        writeln!(cli.out, "{:<12} {:<14} {}", status.backend.as_str(), availability, status.detail)?;
    }
    if let Some(reason) = sandbox.reason {
        writeln!(cli.out, "{reason}")?;
    }
    Ok(())
}
