//! The files that tie a worktree to its repository: the worktree's `.git` file and, in the
//! worktree's admin directory, `commondir` and `gitdir`. An agent that rewrote them would point
//! git (Arbor's checkpoints and commits, and the user's own git commands later) at a repository of
//! its choosing, with its own config and hooks. bwrap and the container bind them read-only;
//! Landlock cannot take back a file inside a writable directory, so for every backend Arbor keeps
//! their bytes from before the agent started and puts them back whenever they changed, before each
//! checkpoint and while the agent runs.

use std::path::{Path, PathBuf};

/// The links of one worktree, with the bytes they must hold.
#[derive(Debug, Default)]
pub struct GitLinks {
    links: Vec<(PathBuf, Vec<u8>)>,
}

impl GitLinks {
    /// The links of the worktree at `cwd` as they are now; none when `cwd` is not a linked
    /// worktree (an `in_place` session works in the repository itself).
    pub fn of(cwd: &Path) -> GitLinks {
        let Ok(repository) = git2::Repository::open(cwd) else { return GitLinks::default() };
        if !repository.is_worktree() {
            return GitLinks::default();
        }
        let links = link_paths(cwd, repository.path()).into_iter();
        GitLinks { links: links.filter_map(|path| std::fs::read(&path).ok().map(|bytes| (path, bytes))).collect() }
    }

    /// Puts back every link that no longer holds its bytes, and names each one put back.
    pub fn restore(&self) -> Vec<PathBuf> {
        let mut restored = Vec::new();
        for (path, bytes) in &self.links {
            if std::fs::symlink_metadata(path).is_ok_and(|metadata| metadata.is_file())
                && std::fs::read(path).is_ok_and(|now| now == *bytes)
            {
                continue;
            }
            // Whatever took the link's place (a link, a directory of the agent's own repository) goes.
            let _ = std::fs::remove_dir_all(path).or_else(|_| std::fs::remove_file(path));
            match std::fs::write(path, bytes) {
                Ok(()) => restored.push(path.clone()),
                Err(error) => tracing::error!(path = %path.display(), %error, "could not put back a git link"),
            }
        }
        restored
    }
}

/// The worktree's `.git` file and its admin directory's `commondir` and `gitdir`.
pub fn link_paths(cwd: &Path, admin: &Path) -> Vec<PathBuf> {
    vec![cwd.join(".git"), admin.join("commondir"), admin.join("gitdir")]
}
