//! Checkpoints: commits of a worktree's full state kept under `refs/arbor/checkpoints/…`.
//!
//! A checkpoint is built in a private in-memory index (HEAD's tree plus every changed and
//! untracked file read from disk, ignored files excluded) and committed without updating any
//! branch, so HEAD, the worktree's index and the user's branches are never touched.

use std::path::Path;

use git2::{Index, IndexEntry, IndexTime, ObjectType, Oid, Repository, Status, StatusOptions};

use super::worktree_files::WorktreeFiles;
use super::{GitError, signature};

/// What a new checkpoint is.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The checkpoint commit.
    pub commit: String,
    /// The ref that keeps it.
    pub reference: String,
    /// Files that differ from `base_commit`.
    pub files_changed: u32,
}

/// The ref of a session's checkpoint `number`.
pub fn checkpoint_ref(session_id: &str, number: u32) -> String {
    format!("refs/arbor/checkpoints/{session_id}/{number}")
}

fn entry_for(repo: &Repository, worktree: &Path, relative: &str, plain: bool) -> Result<Option<IndexEntry>, GitError> {
    use std::os::unix::fs::PermissionsExt;
    let full = worktree.join(relative);
    let metadata = match std::fs::symlink_metadata(&full) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let (id, mode) = if metadata.file_type().is_symlink() {
        let target = std::fs::read_link(&full)?;
        (repo.blob(target.as_os_str().as_encoded_bytes())?, 0o120000)
    } else if metadata.is_file() {
        let executable = metadata.permissions().mode() & 0o111 != 0;
        // Without attributes or end-of-line settings the blob is the file's bytes; libgit2's
        // blob_path would look the attributes up (a realpath per file) to find no filter.
        let id = if plain { repo.blob(&std::fs::read(&full)?)? } else { repo.blob_path(&full)? };
        (id, if executable { 0o100755 } else { 0o100644 })
    } else {
        // Directories (nested repositories) and special files are not snapshotted.
        return Ok(None);
    };
    Ok(Some(IndexEntry {
        ctime: IndexTime::new(0, 0),
        mtime: IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        file_size: metadata.len() as u32,
        id,
        flags: 0,
        flags_extended: 0,
        path: relative.as_bytes().to_vec(),
    }))
}

/// Writes the tree of the worktree's current state (untracked included, ignored excluded) and
/// returns its id.
pub fn worktree_tree(worktree: &Path) -> Result<Oid, GitError> {
    let repo = Repository::open(worktree)?;
    let mut index = Index::new()?;
    if let Ok(head) = repo.head() {
        index.read_tree(&head.peel_to_tree()?)?;
    }
    let mut options = StatusOptions::new();
    options.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false).renames_head_to_index(false);
    let statuses = repo.statuses(Some(&mut options))?;
    let paths: Vec<String> = statuses.iter().filter_map(|entry| entry.path().ok().map(str::to_string)).collect();
    let plain = super::plain_patches::reads_plainly(
        &repo,
        &WorktreeFiles::open(worktree)?,
        &paths.iter().map(String::as_str).collect::<Vec<_>>(),
    )?;
    for entry in statuses.iter() {
        let Ok(relative) = entry.path() else { continue };
        if (entry.status().contains(Status::WT_DELETED) || entry.status().contains(Status::INDEX_DELETED))
            && !worktree.join(relative).exists()
        {
            index.remove_path(Path::new(relative))?;
            continue;
        }
        match entry_for(&repo, worktree, relative, plain)? {
            Some(index_entry) => index.add(&index_entry)?,
            None => {
                let _ = index.remove_path(Path::new(relative));
            }
        }
    }
    Ok(index.write_tree_to(&repo)?)
}

/// Commits the worktree's state as checkpoint `number` of `session_id`.
pub fn create(
    worktree: &Path,
    session_id: &str,
    number: u32,
    label: &str,
    base_commit: &str,
) -> Result<Snapshot, GitError> {
    let tree_id = worktree_tree(worktree)?;
    let repo = Repository::open(worktree)?;
    let tree = repo.find_tree(tree_id)?;
    let parents = match repo.head() {
        Ok(head) => vec![head.peel_to_commit()?],
        Err(_) => Vec::new(),
    };
    let parent_refs: Vec<&git2::Commit> = parents.iter().collect();
    let signature = signature(&repo)?;
    let message = format!("arbor checkpoint {number} of session {session_id}: {label}");
    let commit = repo.commit(None, &signature, &signature, &message, &tree, &parent_refs)?;
    let reference = checkpoint_ref(session_id, number);
    repo.reference(&reference, commit, true, &message)?;
    let base_tree = repo.find_commit(Oid::from_str(base_commit)?)?.tree()?;
    let files_changed = repo.diff_tree_to_tree(Some(&base_tree), Some(&tree), None)?.deltas().len() as u32;
    Ok(Snapshot { commit: commit.to_string(), reference, files_changed })
}

/// Makes the worktree's files match a checkpoint: files the checkpoint has are written, files it
/// lacks are removed (ignored files are left alone). HEAD, the branch and the index stay as they
/// are, so the difference from HEAD shows as uncommitted changes.
pub fn restore(worktree: &Path, commit: &str) -> Result<(), GitError> {
    let repo = Repository::open(worktree)?;
    let target = repo.find_commit(Oid::from_str(commit)?)?.tree()?;
    let current = repo.find_tree(worktree_tree(worktree)?)?;
    let diff = repo.diff_tree_to_tree(Some(&current), Some(&target), None)?;
    for delta in diff.deltas() {
        let new_file = delta.new_file();
        let path = new_file.path().or_else(|| delta.old_file().path()).expect("a delta has a path");
        let full = worktree.join(path);
        if new_file.id().is_zero() {
            if std::fs::symlink_metadata(&full).is_ok() {
                std::fs::remove_file(&full)?;
            }
            continue;
        }
        let object = repo.find_object(new_file.id(), Some(ObjectType::Blob))?;
        let blob = object.as_blob().expect("looked up as a blob");
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if std::fs::symlink_metadata(&full).is_ok() {
            std::fs::remove_file(&full)?;
        }
        if new_file.mode() == git2::FileMode::Link {
            let target =
                std::str::from_utf8(blob.content()).map_err(|error| GitError::Io(std::io::Error::other(error)))?;
            std::os::unix::fs::symlink(target, &full)?;
        } else {
            std::fs::write(&full, blob.content())?;
            if new_file.mode() == git2::FileMode::BlobExecutable {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&full, std::fs::Permissions::from_mode(0o755))?;
            }
        }
    }
    Ok(())
}

/// The commit a checkpoint was taken on top of (the worktree's HEAD at the time).
pub fn parent_of(repo_root: &Path, commit: &str) -> Result<String, GitError> {
    let repo = Repository::open(repo_root)?;
    let checkpoint = repo.find_commit(Oid::from_str(commit)?)?;
    Ok(checkpoint.parent_id(0)?.to_string())
}
