//! Landing a session's work: committing its worktree on its branch, and merging (or squashing)
//! the branch into its base only when asked — computed in memory first, so a conflict changes
//! nothing, and never rewriting a checkout of the base that has uncommitted changes.

use std::path::{Path, PathBuf};

use arbor_protocol::MergeStrategy;
use git2::{BranchType, IndexAddOption, Repository, StatusOptions, build::CheckoutBuilder};

use super::{GitError, signature};

/// A commit made on a session's branch.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    /// The commit.
    pub commit: String,
    /// Files it changed against its parent.
    pub files_changed: u32,
}

/// Commits the worktree on its checked-out branch: every change (untracked included, ignored
/// excluded), or only what is staged when `staged_only`.
pub fn commit(worktree: &Path, message: &str, staged_only: bool) -> Result<Committed, GitError> {
    let repo = Repository::open(worktree)?;
    let mut index = repo.index()?;
    if !staged_only {
        index.add_all(["*"], IndexAddOption::DEFAULT, None)?;
        index.update_all(["*"], None)?;
        index.write()?;
    }
    let tree = repo.find_tree(index.write_tree()?)?;
    let parent = repo.head()?.peel_to_commit()?;
    if tree.id() == parent.tree_id() {
        return Err(GitError::NothingToCommit);
    }
    let files_changed = repo.diff_tree_to_tree(Some(&parent.tree()?), Some(&tree), None)?.deltas().len() as u32;
    let signature = signature(&repo)?;
    let commit = repo.commit(Some("HEAD"), &signature, &signature, message, &tree, &[&parent])?;
    Ok(Committed { commit: commit.to_string(), files_changed })
}

/// What a merge did.
#[derive(Debug, Clone, PartialEq)]
pub enum Merged {
    /// The base branch now points at this commit.
    Done(String),
    /// These files conflict; nothing was changed.
    Conflicts(Vec<String>),
}

/// Directories where `branch` is checked out: the main working directory and linked worktrees.
fn checkouts_of(repo: &Repository, branch: &str) -> Result<Vec<PathBuf>, GitError> {
    let reference = format!("refs/heads/{branch}");
    let mut found = Vec::new();
    let on_branch = |candidate: &Repository| {
        candidate.head().ok().and_then(|head| head.name().ok().map(str::to_string)) == Some(reference.clone())
    };
    if !repo.is_bare() && on_branch(repo) {
        found.extend(repo.workdir().map(Path::to_path_buf));
    }
    for name in repo.worktrees()?.iter().flatten().flatten() {
        let Ok(worktree) = repo.find_worktree(name) else { continue };
        if worktree.validate().is_err() {
            continue;
        }
        if let Ok(linked) = Repository::open_from_worktree(&worktree)
            && on_branch(&linked)
        {
            found.push(worktree.path().to_path_buf());
        }
    }
    Ok(found)
}

fn has_tracked_changes(dir: &Path) -> Result<bool, GitError> {
    let repo = Repository::open(dir)?;
    let mut options = StatusOptions::new();
    options.include_untracked(false).include_ignored(false);
    Ok(!repo.statuses(Some(&mut options))?.is_empty())
}

/// Merges `branch` into `base_branch` as a merge commit or a squash commit.
pub fn merge(
    repo_root: &Path,
    branch: &str,
    base_branch: &str,
    strategy: MergeStrategy,
    message: &str,
) -> Result<Merged, GitError> {
    let repo = Repository::open(repo_root)?;
    let base = repo
        .find_branch(base_branch, BranchType::Local)
        .map_err(|_| GitError::NoSuchBranch(base_branch.to_string()))?
        .get()
        .peel_to_commit()?;
    let session = repo
        .find_branch(branch, BranchType::Local)
        .map_err(|_| GitError::NoSuchBranch(branch.to_string()))?
        .get()
        .peel_to_commit()?;
    if session.id() == base.id() || repo.graph_descendant_of(base.id(), session.id())? {
        return Err(GitError::NothingToMerge { branch: branch.to_string(), base: base_branch.to_string() });
    }
    let mut merged_index = repo.merge_commits(&base, &session, None)?;
    if merged_index.has_conflicts() {
        let mut conflicts: Vec<String> = merged_index
            .conflicts()?
            .flatten()
            .filter_map(|conflict| conflict.our.or(conflict.their).or(conflict.ancestor))
            .map(|entry| String::from_utf8_lossy(&entry.path).into_owned())
            .collect();
        conflicts.sort();
        conflicts.dedup();
        return Ok(Merged::Conflicts(conflicts));
    }
    let checkouts = checkouts_of(&repo, base_branch)?;
    for checkout in &checkouts {
        if has_tracked_changes(checkout)? {
            return Err(GitError::DirtyCheckout {
                branch: base_branch.to_string(),
                path: checkout.display().to_string(),
            });
        }
    }
    let tree = repo.find_tree(merged_index.write_tree_to(&repo)?)?;
    let signature = signature(&repo)?;
    let parents = match strategy {
        MergeStrategy::Merge => vec![&base, &session],
        MergeStrategy::Squash => vec![&base],
    };
    let commit = repo.commit(None, &signature, &signature, message, &tree, &parents)?;
    let reference = format!("refs/heads/{base_branch}");
    let moved = || GitError::BaseMoved { branch: base_branch.to_string() };
    if repo.refname_to_id(&reference)? != base.id() {
        return Err(moved());
    }
    // A clean checkout of the base follows the branch, so the user sees the merged files. Its
    // files are updated while HEAD still names the old commit (the baseline of a safe checkout),
    // then the branch moves.
    for checkout in &checkouts {
        check_out(checkout, &tree, CheckoutBuilder::new().safe())?;
    }
    // Compare and swap: the branch moves only if it still points where the merge started, so a
    // commit made on it meanwhile is never lost.
    match repo.reference_matching(&reference, commit, true, base.id(), message) {
        Ok(_) => Ok(Merged::Done(commit.to_string())),
        // Modified: it moved; Locked: someone is moving it right now.
        Err(error) if matches!(error.code(), git2::ErrorCode::Modified | git2::ErrorCode::Locked) => {
            // Put back the files of the checkouts updated above, the only change made so far.
            let changed = repo.diff_tree_to_tree(Some(&base.tree()?), Some(&tree), None)?;
            for checkout in &checkouts {
                let mut restore = CheckoutBuilder::new();
                restore.force();
                for delta in changed.deltas() {
                    restore.path(delta.new_file().path().or(delta.old_file().path()).unwrap_or(Path::new("")));
                }
                check_out(checkout, &base.tree()?, &mut restore)?;
            }
            Err(moved())
        }
        Err(error) => Err(error.into()),
    }
}

/// Checks `tree` out into the checkout at `dir`.
fn check_out(dir: &Path, tree: &git2::Tree, options: &mut CheckoutBuilder) -> Result<(), GitError> {
    let checkout_repo = Repository::open(dir)?;
    let tree = checkout_repo.find_tree(tree.id())?;
    checkout_repo.checkout_tree(tree.as_object(), Some(options))?;
    Ok(())
}
