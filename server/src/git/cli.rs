//! Running the git CLI where it is much faster than libgit2 (checking out a new worktree) or does
//! what libgit2 cannot (pushing and fetching over the user's ssh, for hosts). git checks files out with the index preloaded (and in parallel where
//! `checkout.workers` asks for it); libgit2 writes them one by one and then re-reads every file
//! to build the index, which made session creation take twice as long as `git worktree add`.
//!
//! Hooks are switched off for these commands, so that checking out a session's worktree runs no
//! code from the repository (libgit2 never ran hooks either), and the variables by which a parent
//! git process would redirect the repository are removed from the child's environment.

use std::path::Path;
use std::process::Command;

use super::GitError;

/// The variables with which git would address another repository, index or work tree than the
/// one named on the command line.
const REDIRECTING_VARIABLES: [&str; 5] =
    ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY"];

/// `git` in `repo_root` with hooks off and no variable redirecting it elsewhere; the caller
/// adds the arguments.
pub fn command(repo_root: &Path) -> Command {
    let mut command = Command::new("git");
    command.current_dir(repo_root).args(["-c", "core.hooksPath=/dev/null"]);
    for variable in REDIRECTING_VARIABLES {
        command.env_remove(variable);
    }
    command
}

/// Runs `git <args>` in `repo_root` with hooks off; a failure carries git's own message.
pub fn run(repo_root: &Path, args: &[&std::ffi::OsStr]) -> Result<(), GitError> {
    let mut command = command(repo_root);
    command.args(args);
    let shown = || format!("git {}", args.iter().map(|arg| arg.to_string_lossy()).collect::<Vec<_>>().join(" "));
    let output = command.output().map_err(|error| GitError::Command {
        command: shown(),
        message: format!("git could not be started: {error}"),
    })?;
    if output.status.success() {
        return Ok(());
    }
    let message = String::from_utf8_lossy(&output.stderr).trim().to_string();
    Err(GitError::Command { command: shown(), message })
}
