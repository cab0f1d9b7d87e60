//! `arbor memory PROFILE [--restore N]`: a profile's memory and its versions, and bringing an
//! earlier version back.

use std::io::Write;

use arbor_protocol::{MemoryRestoreParams, ProfileMemoryParams, ProfileMemoryResult, method};

use super::Cli;
use crate::paths::Paths;

/// Shows `profile`'s memory and versions, after restoring version `restore` when given.
pub async fn run(paths: &Paths, profile: String, restore: Option<u32>) -> anyhow::Result<()> {
    let mut cli = Cli::connect(paths).await?;
    let result: ProfileMemoryResult = match restore {
        Some(version) => {
            cli.client.call(method::PROFILE_MEMORY_RESTORE, &MemoryRestoreParams { profile, version }).await?
        }
        None => cli.client.call(method::PROFILE_MEMORY, &ProfileMemoryParams { profile }).await?,
    };
    let out = &mut cli.out;
    for version in &result.versions {
        let by = version.session_id.map(|id| format!(" in session {}", &id.to_string()[..8])).unwrap_or_default();
        writeln!(out, "version {}: {}{by}", version.version, version.note)?;
    }
    writeln!(out, "memory of profile {}:\n{}", result.profile, result.text)?;
    Ok(())
}
