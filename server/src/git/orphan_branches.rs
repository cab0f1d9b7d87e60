//! Session branches that no session owns any more (their session was deleted, or its record
//! lost): found by Arbor's branch naming, and deleted only when every commit on them is
//! reachable from some other ref, unless forced.

use std::path::{Path, PathBuf};

use git2::{BranchType, Oid, Repository};

use super::{GitError, commit_line};

/// The prefix of every branch Arbor creates for a session (`arbor/<short id>-<slug>`).
pub const SESSION_BRANCH_PREFIX: &str = "arbor/";

/// How many commits at risk a branch names.
const COMMITS_SHOWN: usize = 50;

/// A session branch that no session owns.
#[derive(Debug, Clone, PartialEq)]
pub struct OrphanBranch {
    /// The branch's short name, such as `arbor/1b2c3d4e-add-a-readme`.
    pub name: String,
    /// Its commits that no other ref reaches ("short id summary"); empty when deleting it loses
    /// nothing.
    pub at_risk: Vec<String>,
    /// The worktree that has it checked out, when one does: such a branch is never deleted.
    pub checked_out_in: Option<PathBuf>,
}

/// The session branches of `repo_root` whose names are not in `owned`.
pub fn find(repo_root: &Path, owned: &[String]) -> Result<Vec<OrphanBranch>, GitError> {
    let repo = Repository::open(repo_root)?;
    let checkouts = checked_out_branches(&repo);
    let mut orphans = Vec::new();
    for branch in repo.branches(Some(BranchType::Local))? {
        let (branch, _) = branch?;
        let Some(name) = branch.name()?.map(str::to_string) else { continue };
        if !name.starts_with(SESSION_BRANCH_PREFIX) || owned.contains(&name) {
            continue;
        }
        let Some(tip) = branch.get().target() else { continue };
        let checked_out_in =
            checkouts.iter().find(|(checked_out, _)| checked_out == &name).map(|(_, path)| path.clone());
        orphans.push(OrphanBranch { at_risk: reachable_only_from(&repo, &name, tip)?, name, checked_out_in });
    }
    Ok(orphans)
}

/// Deletes the local branch `name` of `repo_root`.
pub fn delete(repo_root: &Path, name: &str) -> Result<(), GitError> {
    let repo = Repository::open(repo_root)?;
    repo.find_branch(name, BranchType::Local).map_err(|_| GitError::NoSuchBranch(name.to_string()))?.delete()?;
    Ok(())
}

/// The commits reachable from `tip` but from no ref other than the branch `name`.
fn reachable_only_from(repo: &Repository, name: &str, tip: Oid) -> Result<Vec<String>, GitError> {
    let own_ref = format!("refs/heads/{name}");
    let mut walk = repo.revwalk()?;
    walk.push(tip)?;
    for reference in repo.references()? {
        let reference = reference?;
        if reference.name().ok() == Some(own_ref.as_str()) {
            continue;
        }
        // A ref that does not point at a commit (an annotated tag of a tree) hides nothing.
        if let Ok(commit) = reference.peel_to_commit() {
            walk.hide(commit.id())?;
        }
    }
    let mut at_risk = Vec::new();
    for id in walk.take(COMMITS_SHOWN) {
        at_risk.push(commit_line(&repo.find_commit(id?)?));
    }
    Ok(at_risk)
}

/// Every branch checked out in the repository's main checkout or one of its worktrees, with the
/// directory it is checked out in.
fn checked_out_branches(repo: &Repository) -> Vec<(String, PathBuf)> {
    let head_of = |repo: &Repository, path: PathBuf| {
        let head = repo.head().ok().filter(git2::Reference::is_branch)?;
        Some((head.shorthand().ok()?.to_string(), path))
    };
    let mut checkouts: Vec<(String, PathBuf)> =
        head_of(repo, repo.workdir().unwrap_or(repo.path()).to_path_buf()).into_iter().collect();
    if let Ok(names) = repo.worktrees() {
        for name in names.iter().flatten().flatten() {
            if let Ok(worktree) = repo.find_worktree(name)
                && let Ok(opened) = Repository::open_from_worktree(&worktree)
            {
                checkouts.extend(head_of(&opened, worktree.path().to_path_buf()));
            }
        }
    }
    checkouts
}
