//! The last few worktrees' repositories, kept open between requests so that a large index is
//! parsed once rather than at every look.
//!
//! Reading an index is most of what opening a repository costs: libgit2 parses every entry and
//! checks the whole file's SHA-1 (at 100,000 files, about a third of a `review/diff`). An editor
//! asks for the same worktree's review again and again while its agent works, and the agent's
//! edits change files, not the index. So a kept repository's index is only re-read when its file
//! changed: libgit2 compares the checksum the file ends with (every write of an index, by git or
//! by Arbor, ends with a new one), and an index file that is gone reads as empty, as it would when
//! opened afresh.
//!
//! Only what reads a worktree goes through here (the review's diff and the status fingerprint):
//! what changes an index opens its own repository, writes the file, and is seen at the next look.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use git2::Repository;

use super::GitError;

/// How many repositories stay open: enough for the sessions a user reviews in turn, few enough
/// that an index of a large repository (about 12 MB at 100,000 files) is not held per session.
const KEPT: usize = 4;

/// A kept repository, locked by whoever reads it.
type Kept = Arc<Mutex<Repository>>;

/// The kept repositories, the one used last at the end. Each has its own lock, so that two
/// worktrees are read at once; the list's lock is held only to find or add one.
static KEPT_OPEN: LazyLock<Mutex<Vec<(PathBuf, Kept)>>> = LazyLock::new(Mutex::default);

/// Runs `read` on the repository of `worktree` with its index as the file now holds it.
pub fn with_repository<T>(
    worktree: &Path,
    read: impl FnOnce(&Repository) -> Result<T, GitError>,
) -> Result<T, GitError> {
    let kept = kept(worktree)?;
    let repo = match kept.lock() {
        Ok(repo) => repo,
        // A reader panicked while holding it: what it left in memory is not to be trusted.
        Err(_) => {
            forget(worktree);
            return read(&Repository::open(worktree)?);
        }
    };
    if let Err(error) = refresh(worktree, &repo) {
        // The worktree moved or went: the next look opens it afresh, and says why it cannot.
        forget(worktree);
        return Err(error);
    }
    read(&repo)
}

/// The kept repository of `worktree`, opened and kept now if it was not.
fn kept(worktree: &Path) -> Result<Kept, GitError> {
    let mut open = KEPT_OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(at) = open.iter().position(|(path, _)| path == worktree) {
        let entry = open.remove(at);
        let repo = entry.1.clone();
        open.push(entry);
        return Ok(repo);
    }
    let repo = Arc::new(Mutex::new(Repository::open(worktree)?));
    open.push((worktree.to_path_buf(), repo.clone()));
    if open.len() > KEPT {
        open.remove(0);
    }
    Ok(repo)
}

fn forget(worktree: &Path) {
    KEPT_OPEN.lock().unwrap_or_else(PoisonError::into_inner).retain(|(path, _)| path != worktree);
}

/// Re-reads the repository's index when its file changed since it was read (and empties it when
/// the file is gone, which libgit2 does only when forced); an error when the worktree or its git
/// directory is gone, as opening it afresh would be.
fn refresh(worktree: &Path, repo: &Repository) -> Result<(), GitError> {
    if std::fs::symlink_metadata(worktree.join(".git")).is_err() || !repo.path().is_dir() {
        return Err(GitError::NotARepository(worktree.display().to_string()));
    }
    let mut index = repo.index()?;
    let on_disk = index.path().is_some_and(Path::exists);
    index.read(!on_disk)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use super::with_repository;

    fn git(dir: &Path, args: &[&str]) {
        let status = Command::new("git").args(args).current_dir(dir).status().unwrap();
        assert!(status.success(), "git {args:?}");
    }

    fn tracked(worktree: &Path) -> Vec<String> {
        with_repository(worktree, |repo| {
            Ok(repo.index()?.iter().map(|entry| String::from_utf8_lossy(&entry.path).into_owned()).collect())
        })
        .unwrap()
    }

    #[test]
    fn a_kept_repository_sees_every_change_of_its_index_and_its_worktree_going() {
        let dir = tempfile::tempdir().unwrap();
        let worktree = dir.path().join("repo");
        std::fs::create_dir(&worktree).unwrap();
        git(&worktree, &["init", "-q"]);
        std::fs::write(worktree.join("a.txt"), "a\n").unwrap();
        git(&worktree, &["add", "a.txt"]);
        assert_eq!(tracked(&worktree), ["a.txt"]);

        // Written by another process, as an agent's `git add` or Arbor's own accept would.
        std::fs::write(worktree.join("b.txt"), "b\n").unwrap();
        git(&worktree, &["add", "b.txt"]);
        assert_eq!(tracked(&worktree), ["a.txt", "b.txt"], "a rewritten index is read again");
        // The same size and entry count, written at once: only the content tells.
        git(&worktree, &["rm", "-q", "--cached", "b.txt"]);
        std::fs::rename(worktree.join("b.txt"), worktree.join("c.txt")).unwrap();
        git(&worktree, &["add", "c.txt"]);
        assert_eq!(tracked(&worktree), ["a.txt", "c.txt"]);

        std::fs::remove_file(worktree.join(".git/index")).unwrap();
        assert!(tracked(&worktree).is_empty(), "an index that is gone reads as empty");

        std::fs::remove_dir_all(&worktree).unwrap();
        assert!(with_repository(&worktree, |_| Ok(())).is_err(), "a worktree that is gone is an error");
        std::fs::create_dir(&worktree).unwrap();
        git(&worktree, &["init", "-q"]);
        std::fs::write(worktree.join("d.txt"), "d\n").unwrap();
        git(&worktree, &["add", "d.txt"]);
        assert_eq!(tracked(&worktree), ["d.txt"], "a worktree made again at the same place is opened afresh");
    }
}
