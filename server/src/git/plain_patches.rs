//! The patches of a review made from the two sides' bytes, on several threads, when nothing in
//! the repository could make git read a file other than as its bytes.
//!
//! libgit2 makes each file's patch of a workdir diff after looking up the file's attributes (for
//! its diff driver and for its filters), and each lookup resolves the file's directory with
//! `realpath`: one `readlink` per component of the worktree's path, for every changed file. On
//! 1,000 changed files that was most of `review/diff`'s time. Where no attribute file and no
//! end-of-line setting can apply, a file's patch is the diff of its base blob and its bytes in the
//! worktree, which needs neither the lookup nor the `Diff` it came from, and so can be made on
//! every processor at once.

use std::path::{Path, PathBuf};

use git2::{DiffOptions, FileMode, Oid, Patch, Repository};

use super::GitError;
use super::worktree_files::WorktreeFiles;

/// Makes the review's hunks of a patch of the file at the path given.
pub type HunksOf = fn(&Patch, &str) -> Result<Vec<arbor_protocol::Hunk>, GitError>;

/// One changed file, as the scan found it.
pub struct PlainChange {
    /// Its path in the worktree (the new side), or in the base when it was deleted.
    pub path: String,
    /// The base side's blob; zero when the file is new.
    pub old_id: Oid,
    /// The base side's path, for a rename.
    pub old_path: Option<String>,
    /// True when the file is gone from the worktree.
    pub deleted: bool,
}

/// What the review takes from one file's patch.
pub struct FilePatch {
    /// Git would show the file as binary.
    pub binary: bool,
    /// Lines added.
    pub additions: usize,
    /// Lines removed.
    pub deletions: usize,
    /// The hunks, or None when they were not asked for, the file is binary, or the worker had
    /// already made more than the byte cap of hunks (so this file is past the cap in any order).
    pub hunks: Option<Vec<arbor_protocol::Hunk>>,
}

/// True when no `.gitattributes` file (in the worktree or the index, in any directory holding a
/// changed path), no repository, user or system attributes file, and no `core.autocrlf` or
/// `core.eol` setting can change how git reads one of `paths`: then a file's bytes are what git
/// diffs.
pub fn reads_plainly(repo: &Repository, files: &WorktreeFiles, paths: &[&str]) -> Result<bool, GitError> {
    let config = repo.config()?.snapshot()?;
    let set = |name: &str| config.get_string(name).is_ok_and(|value| !value.is_empty());
    let autocrlf = config.get_string("core.autocrlf").map(|value| value.to_lowercase()).unwrap_or_default();
    if set("core.eol") || !matches!(autocrlf.as_str(), "" | "false") {
        return Ok(false);
    }
    let mut attribute_files: Vec<PathBuf> =
        vec![repo.path().join("info/attributes"), repo.commondir().join("info/attributes")];
    attribute_files.push(match config.get_path("core.attributesFile") {
        Ok(path) => path,
        Err(_) => match std::env::var_os("XDG_CONFIG_HOME").filter(|value| !value.is_empty()) {
            Some(config_home) => Path::new(&config_home).join("git/attributes"),
            None => {
                std::env::var_os("HOME").map(|home| Path::new(&home).join(".config/git/attributes")).unwrap_or_default()
            }
        },
    });
    attribute_files.push(PathBuf::from("/etc/gitattributes"));
    if attribute_files.iter().any(|path| !path.as_os_str().is_empty() && path.exists()) {
        return Ok(false);
    }
    let index = repo.index()?;
    if index.iter().any(|entry| entry.path == b".gitattributes" || entry.path.ends_with(b"/.gitattributes")) {
        return Ok(false);
    }
    // Untracked attribute files count too: git reads the worktree's first.
    let mut directories: Vec<&Path> = paths.iter().flat_map(|path| Path::new(path).ancestors().skip(1)).collect();
    directories.sort_unstable();
    directories.dedup();
    for directory in directories {
        if files.exists(&directory.join(".gitattributes"))? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether a file of this mode is diffed as its bytes (a file or a link; not a submodule).
pub fn plain_mode(mode: FileMode) -> bool {
    matches!(mode, FileMode::Blob | FileMode::BlobExecutable | FileMode::Link)
}

/// The patches of `changes`, in their order, made on up to one thread per processor, each
/// thread taking a run of consecutive files. `hunks_of` turns a patch into the review's hunks.
pub fn patches(
    worktree: &Path,
    changes: &[PlainChange],
    want_hunks: bool,
    max_bytes: u64,
    hunks_of: HunksOf,
) -> Result<Vec<FilePatch>, GitError> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(changes.len().div_ceil(64)).max(1);
    let run = changes.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = changes
            .chunks(run)
            .map(|chunk| scope.spawn(move || patches_of_run(worktree, chunk, want_hunks, max_bytes, hunks_of)))
            .collect();
        let mut all = Vec::with_capacity(changes.len());
        for worker in workers {
            all.extend(worker.join().expect("a patch worker panicked")?);
        }
        Ok(all)
    })
}

/// The patches of one run of consecutive files, with a repository and worktree handle of its
/// own (libgit2's objects belong to one thread).
fn patches_of_run(
    worktree: &Path,
    changes: &[PlainChange],
    want_hunks: bool,
    max_bytes: u64,
    hunks_of: HunksOf,
) -> Result<Vec<FilePatch>, GitError> {
    let repo = Repository::open(worktree)?;
    let files = WorktreeFiles::open(worktree)?;
    let mut made = 0u64;
    let mut out = Vec::with_capacity(changes.len());
    for change in changes {
        let old = if change.old_id.is_zero() { None } else { Some(repo.find_blob(change.old_id)?) };
        let new = if change.deleted { None } else { files.read(Path::new(&change.path))? };
        let old_bytes = old.as_ref().map_or(&[][..], |blob| blob.content());
        let new_bytes = new.as_ref().map_or(&[][..], |content| content.bytes());
        let old_path = change.old_path.as_deref().unwrap_or(&change.path);
        let mut options = DiffOptions::new();
        let patch = Patch::from_buffers(
            old_bytes,
            Some(Path::new(old_path)),
            new_bytes,
            Some(Path::new(&change.path)),
            Some(&mut options),
        )?;
        out.push(FilePatch::of(&patch, &change.path, want_hunks, max_bytes, &mut made, hunks_of)?);
    }
    Ok(out)
}

/// What hunks weigh against the review's byte cap: their lines' text and a newline each.
pub fn hunk_bytes(hunks: &[arbor_protocol::Hunk]) -> u64 {
    hunks.iter().flat_map(|hunk| &hunk.lines).map(|line| line.text.len() as u64 + 1).sum()
}

impl FilePatch {
    /// What the review takes from `patch` of `path`, the hunks only while `made` (the bytes of
    /// hunks made so far by this thread, in order) stays within `max_bytes`.
    pub fn of(
        patch: &Patch,
        path: &str,
        want_hunks: bool,
        max_bytes: u64,
        made: &mut u64,
        hunks_of: HunksOf,
    ) -> Result<FilePatch, GitError> {
        let binary = patch.delta().flags().is_binary();
        let (_, additions, deletions) = patch.line_stats()?;
        let hunks = if want_hunks && !binary && *made <= max_bytes {
            let hunks = hunks_of(patch, path)?;
            *made += hunk_bytes(&hunks);
            (*made <= max_bytes).then_some(hunks)
        } else {
            None
        };
        Ok(FilePatch { binary, additions, deletions, hunks })
    }
}
