//! A session's extra directories (`additionalDirs`): checked before they are stored, so that an
//! agent is never handed Arbor's own files or another session's worktree.

use std::path::{Path, PathBuf};

use arbor_protocol::AgentInfo;

use super::ServiceError;
use crate::paths::Paths;

/// The directories as they will be stored and given to the agent: each absolute, existing and a
/// directory, links resolved, duplicates dropped; never inside Arbor's data directory (where
/// every session's worktree lives) nor holding it.
pub(super) fn check(dirs: &[String], agent: &AgentInfo, paths: &Paths) -> Result<Vec<String>, ServiceError> {
    if dirs.is_empty() {
        return Ok(Vec::new());
    }
    if !agent.capabilities.additional_dirs {
        return Err(ServiceError::InvalidArgument(format!(
            "the {} agent cannot be given directories beyond its worktree; leave additionalDirs out",
            agent.name
        )));
    }
    let invalid = |dir: &str, why: &str| ServiceError::InvalidArgument(format!("additionalDirs: {dir} {why}"));
    let data_dir = paths.data_dir.canonicalize().unwrap_or_else(|_| paths.data_dir.clone());
    let worktrees = paths.worktrees().canonicalize().unwrap_or_else(|_| paths.worktrees());
    let mut checked: Vec<String> = Vec::new();
    for dir in dirs {
        if !Path::new(dir).is_absolute() {
            return Err(invalid(dir, "is not an absolute path"));
        }
        let real: PathBuf = Path::new(dir).canonicalize().map_err(|_| invalid(dir, "does not exist"))?;
        if !real.is_dir() {
            return Err(invalid(dir, "is not a directory"));
        }
        if real.starts_with(&worktrees) {
            return Err(invalid(dir, "is inside a session's worktree"));
        }
        if real.starts_with(&data_dir) {
            return Err(invalid(dir, "is inside Arbor's data directory"));
        }
        if data_dir.starts_with(&real) {
            return Err(invalid(dir, "holds Arbor's data directory, and with it every session's worktree"));
        }
        let real = real.display().to_string();
        if !checked.contains(&real) {
            checked.push(real);
        }
    }
    Ok(checked)
}
