//! The last few worktrees' repositories, kept open between requests so that a large index is
//! parsed once rather than at every look.
//!
//! Reading an index is most of what opening a repository costs: libgit2 parses every entry and
//! checks the whole file's SHA-1 (at 100,000 files, about a third of a `review/diff`). An editor
//! asks for the same worktree's review again and again while its agent works, and the agent's
//! edits change files, not the index. So a kept repository's index is read again only when its
//! file changed: its size, times, inode or closing checksum (every write of an index, by git or by
//! Arbor, ends with a new one) differ from what they were when it was last read, and an index file
//! that is gone reads as empty, as it would when opened afresh. What the stat scan learns of the
//! worktree is kept beside it, for as long as the index it was learned against.
//!
//! Only what reads a worktree goes through here (the review's diff and the status fingerprint):
//! what changes an index opens its own repository, writes the file, and is seen at the next look.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use git2::Repository;

use super::GitError;
use super::stat_scan::ScanMemory;

/// How many repositories stay open: enough for the sessions a user reviews in turn, few enough
/// that an index of a large repository (about 12 MB at 100,000 files) is not held per session.
const KEPT: usize = 4;

/// An open repository and what was learned of its worktree while its index stayed the same.
struct KeptRepository {
    repo: Repository,
    /// The index file as it was just before it was last read; None before the first read.
    index_read: Option<IndexStamp>,
    scan: ScanMemory,
}

/// A kept repository, locked by whoever reads it.
type Kept = Arc<Mutex<KeptRepository>>;

/// The kept repositories, the one used last at the end. Each has its own lock, so that two
/// worktrees are read at once; the list's lock is held only to find or add one.
static KEPT_OPEN: LazyLock<Mutex<Vec<(PathBuf, Kept)>>> = LazyLock::new(Mutex::default);

/// What tells one state of an index file from another without reading it whole.
#[derive(Debug, PartialEq, Eq)]
enum IndexStamp {
    Missing,
    File { size: u64, inode: u64, modified: (i64, i64), changed: (i64, i64), checksum: [u8; 32] },
}

impl IndexStamp {
    fn of(path: &Path) -> Result<IndexStamp, GitError> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(IndexStamp::Missing),
            Err(error) => return Err(error.into()),
        };
        let metadata = file.metadata()?;
        // The checksum closing the file (SHA-1 or SHA-256: the last 32 bytes hold either).
        let mut checksum = [0; 32];
        let tail = metadata.len().min(32);
        file.read_exact_at(&mut checksum[..tail as usize], metadata.len() - tail)?;
        Ok(IndexStamp::File {
            size: metadata.len(),
            inode: metadata.ino(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
            checksum,
        })
    }
}

/// Runs `read` on the repository of `worktree`, with its index as the file now holds it and the
/// stat scan's memory of that index.
pub fn with_repository<T>(
    worktree: &Path,
    read: impl FnOnce(&Repository, &mut ScanMemory) -> Result<T, GitError>,
) -> Result<T, GitError> {
    let kept = kept(worktree)?;
    let mut kept_repo = match kept.lock() {
        Ok(kept_repo) => kept_repo,
        // A reader panicked while holding it: what it left in memory is not to be trusted.
        Err(_) => {
            forget(worktree);
            return read(&Repository::open(worktree)?, &mut ScanMemory::default());
        }
    };
    if let Err(error) = refresh(worktree, &mut kept_repo) {
        // The worktree moved or went: the next look opens it afresh, and says why it cannot.
        forget(worktree);
        return Err(error);
    }
    let KeptRepository { repo, scan, .. } = &mut *kept_repo;
    read(repo, scan)
}

/// The kept repository of `worktree`, opened and kept now if it was not.
fn kept(worktree: &Path) -> Result<Kept, GitError> {
    let mut open = KEPT_OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(at) = open.iter().position(|(path, _)| path == worktree) {
        let entry = open.remove(at);
        let kept = entry.1.clone();
        open.push(entry);
        return Ok(kept);
    }
    let repo = Repository::open(worktree)?;
    let kept = Arc::new(Mutex::new(KeptRepository { repo, index_read: None, scan: ScanMemory::default() }));
    open.push((worktree.to_path_buf(), kept.clone()));
    if open.len() > KEPT {
        open.remove(0);
    }
    Ok(kept)
}

fn forget(worktree: &Path) {
    KEPT_OPEN.lock().unwrap_or_else(PoisonError::into_inner).retain(|(path, _)| path != worktree);
}

/// Reads the repository's index again when its file changed since it was last read (emptying it
/// when the file is gone), and then forgets what the stat scan learned; an error when the
/// worktree or its git directory is gone, as opening it afresh would be.
///
/// The stamp is taken before the read, so that a write racing the read leaves the stamp older
/// than what was read, and the next look reads it again rather than trusting it.
fn refresh(worktree: &Path, kept: &mut KeptRepository) -> Result<(), GitError> {
    if std::fs::symlink_metadata(worktree.join(".git")).is_err() || !kept.repo.path().is_dir() {
        return Err(GitError::NotARepository(worktree.display().to_string()));
    }
    let stamp = IndexStamp::of(&kept.repo.path().join("index"))?;
    if kept.index_read.as_ref() == Some(&stamp) {
        return Ok(());
    }
    // The first use of the repository's index reads it; later ones must be made to.
    let first_read = kept.index_read.is_none();
    let mut index = kept.repo.index()?;
    if !first_read {
        index.read(true)?;
    }
    kept.index_read = Some(stamp);
    kept.scan = ScanMemory::default();
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use super::super::stat_scan;
    use super::with_repository;

    fn git(dir: &Path, args: &[&str]) {
        let status = Command::new("git").args(args).current_dir(dir).status().unwrap();
        assert!(status.success(), "git {args:?}");
    }

    fn tracked(worktree: &Path) -> Vec<String> {
        with_repository(worktree, |repo, _| {
            Ok(repo.index()?.iter().map(|entry| String::from_utf8_lossy(&entry.path).into_owned()).collect())
        })
        .unwrap()
    }

    fn candidates(worktree: &Path) -> Vec<String> {
        with_repository(worktree, |repo, memory| stat_scan::candidates(repo, &repo.index()?, memory))
            .unwrap()
            .expect("the stat scan answers")
            .iter()
            .map(|path| String::from_utf8_lossy(path).into_owned())
            .collect()
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

        // What the stat scan kept goes with the index it was learned against: a file the index
        // no longer holds is new, though neither it nor its directory changed.
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(candidates(&worktree).is_empty());
        git(&worktree, &["rm", "-q", "--cached", "c.txt"]);
        assert_eq!(candidates(&worktree), ["c.txt"]);

        std::fs::remove_file(worktree.join(".git/index")).unwrap();
        assert!(tracked(&worktree).is_empty(), "an index that is gone reads as empty");

        std::fs::remove_dir_all(&worktree).unwrap();
        assert!(with_repository(&worktree, |_, _| Ok(())).is_err(), "a worktree that is gone is an error");
        std::fs::create_dir(&worktree).unwrap();
        git(&worktree, &["init", "-q"]);
        std::fs::write(worktree.join("d.txt"), "d\n").unwrap();
        git(&worktree, &["add", "d.txt"]);
        assert_eq!(tracked(&worktree), ["d.txt"], "a worktree made again at the same place is opened afresh");
    }
}
