//! `arbor gc`: session worktrees' disk use, and what the retention policy and the orphan sweep
//! free (only said with --dry-run): archived sessions, orphaned worktrees and orphaned session
//! branches.

use std::io::Write;

use arbor_protocol::{GcActionKind, GcParams, GcResult, method};

use super::Cli;
use crate::paths::Paths;
use crate::service::human_bytes;

/// `arbor gc [--dry-run] [--orphans] [--force]`.
pub async fn run(paths: &Paths, params: GcParams) -> anyhow::Result<()> {
    let mut cli = Cli::connect(paths).await?;
    let result: GcResult = cli.client.call(method::WORKTREE_GC, &params).await?;
    let out = &mut cli.out;
    writeln!(out, "{} in {} session worktrees", human_bytes(result.total_bytes), result.sessions.len())?;
    for entry in &result.sessions {
        let state = if entry.archived { " (archived)" } else { "" };
        let title = entry.title.as_deref().unwrap_or("untitled");
        writeln!(out, "  {:>9}  {}  {title}{state}", human_bytes(entry.bytes), &entry.session_id.to_string()[..8])?;
    }
    let verb = if result.dry_run { "would free" } else { "freed" };
    writeln!(out, "{verb} {}", human_bytes(result.freed_bytes))?;
    for action in &result.actions {
        let what = match action.kind {
            GcActionKind::ArchiveSession => "archive",
            GcActionKind::RemoveOrphan => "remove orphan",
            GcActionKind::DeleteBranch => "delete branch",
        };
        match &action.branch {
            Some(branch) => writeln!(out, "  {what} {branch} in {}: {}", action.path, action.reason)?,
            None => writeln!(out, "  {what} {} ({}): {}", action.path, human_bytes(action.bytes), action.reason)?,
        }
    }
    for kept in &result.kept {
        match &kept.branch {
            Some(branch) => writeln!(out, "kept branch {branch} in {}: {}", kept.path, kept.reason)?,
            None => writeln!(out, "kept {}: {}", kept.path, kept.reason)?,
        }
        for commit in &kept.unmerged_commits {
            writeln!(out, "    {commit}")?;
        }
    }
    if result.actions.is_empty() && result.kept.is_empty() {
        writeln!(out, "nothing to free (set retention.archiveAfterDays in the config, or pass --orphans)")?;
    }
    Ok(())
}
