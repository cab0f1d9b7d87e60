//! Moving work between this machine and a host with git over the user's ssh: the session's
//! starting point is pushed to a bare mirror on the host, from which the host's Arbor clones; the
//! host's checkpoints are fetched back and laid into the session's local worktree, so review,
//! commit and merge work on this machine exactly as for a local session.

use std::path::Path;

use git2::{Oid, Repository};
use uuid::Uuid;

use super::Ssh;
use crate::git::{self, GitError};

/// Errors of moving work to or from a host.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// A local git operation failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// git or ssh failed; the message is theirs.
    #[error("{what} failed: {message}")]
    Command { what: String, message: String },
}

/// The mirror of `repo_root` on a host, relative to the home directory there: the repository's
/// name (letters, digits, `-`, `_`, `.`) and a hash of its local path, so two repositories of one
/// name stay apart.
fn mirror_path(repo_root: &Path) -> String {
    let name: String = repo_root
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "repository".into())
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
        .collect();
    let hash = repo_root
        .to_string_lossy()
        .bytes()
        .fold(0xcbf29ce484222325u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100000001b3));
    format!(".arbor/mirrors/{}-{:08x}.git", name.trim_start_matches('.'), hash as u32)
}

/// The branch of the mirror that holds the starting point of local session `session_id`.
pub fn home_branch(session_id: Uuid) -> String {
    format!("arbor-home/{session_id}")
}

/// The local ref a host's newest checkpoint of session `session_id` is fetched into.
fn fetched_ref(session_id: Uuid) -> String {
    format!("refs/arbor/hosts/{session_id}")
}

/// A commit of the worktree's whole state: HEAD when nothing is uncommitted, else a commit on
/// top of HEAD (untracked files included, ignored ones not) that no branch points to. HEAD, the
/// index and the branch stay as they are.
fn state_commit(worktree: &Path) -> Result<String, GitError> {
    let tree_id = git::checkpoint::worktree_tree(worktree)?;
    let repo = Repository::open(worktree)?;
    let head = repo.head()?.peel_to_commit()?;
    if head.tree_id() == tree_id {
        return Ok(head.id().to_string());
    }
    let tree = repo.find_tree(tree_id)?;
    let signature = git::signature(&repo)?;
    let commit =
        repo.commit(None, &signature, &signature, "arbor: the session's work, moved to a host", &tree, &[&head])?;
    Ok(commit.to_string())
}

/// Runs a prepared git command; its stderr is the error.
async fn run_git(command: std::process::Command, what: &str) -> Result<String, MirrorError> {
    let output = tokio::process::Command::from(command)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|error| MirrorError::Command { what: what.into(), message: error.to_string() })?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).trim().to_string());
    }
    Err(MirrorError::Command { what: what.into(), message: String::from_utf8_lossy(&output.stderr).trim().to_string() })
}

/// The commit of the worktree's whole state (see `state_commit`), made off the async runtime.
pub async fn state_of(worktree: &Path) -> Result<String, MirrorError> {
    let worktree = worktree.to_path_buf();
    let commit = tokio::task::spawn_blocking(move || state_commit(&worktree))
        .await
        .map_err(|error| GitError::Io(std::io::Error::other(error)))??;
    Ok(commit)
}

/// Makes sure the host has the mirror of `repo_root` and pushes `commit` to it as `branch`;
/// returns the mirror's absolute path there.
pub async fn publish_commit(
    ssh: &Ssh,
    target: &str,
    repo_root: &Path,
    commit: &str,
    branch: &str,
) -> Result<String, MirrorError> {
    let relative = mirror_path(repo_root);
    let quoted = shlex::try_quote(&relative).map_err(|error| MirrorError::Command {
        what: "naming the host's mirror".into(),
        message: error.to_string(),
    })?;
    // ssh hands the words to the host's shell as one command line.
    let script = format!("git init -q --bare {quoted} && cd {quoted} && pwd");
    let output = ssh
        .command(target, &[&script])
        .output()
        .await
        .map_err(|error| MirrorError::Command { what: format!("reaching {target}"), message: error.to_string() })?;
    if !output.status.success() {
        return Err(MirrorError::Command {
            what: format!("making the mirror on {target}"),
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let mirror = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let mut push = git::cli::command(repo_root);
    push.env("GIT_SSH_COMMAND", ssh.for_git())
        .args(["push", "--quiet", "--force", "--no-verify"])
        .arg(format!("{target}:{mirror}"))
        .arg(format!("{commit}:refs/heads/{branch}"));
    run_git(push, &format!("pushing the session's work to {target}")).await?;
    Ok(mirror)
}

/// Fetches checkpoint `reference` (its commit `commit`) of the host's repository `host_repo`
/// into the local repository and makes the local worktree's files match it; HEAD, the index and
/// the branch stay, so the host's work shows as the session's uncommitted changes. `baseline` is
/// what the local worktree held when the turn began (as in `local_edits`): changes made here
/// since are kept, merged with the host's work (see `lay_in`).
pub async fn bring_home(
    ssh: &Ssh,
    target: &str,
    host_repo: &str,
    reference: &str,
    commit: &str,
    local: (&Path, &Path, Uuid),
    baseline: Option<&str>,
) -> Result<LaidIn, MirrorError> {
    let (repo_root, worktree, session_id) = local;
    let mut fetch = git::cli::command(repo_root);
    // The host is not trusted with the local repository: what it sends is checked as it arrives.
    fetch
        .env("GIT_SSH_COMMAND", ssh.for_git())
        .args(["-c", "fetch.fsckObjects=true", "fetch", "--quiet", "--no-tags", "--no-write-fetch-head"])
        .arg(format!("{target}:{host_repo}"))
        .arg(format!("+{reference}:{}", fetched_ref(session_id)));
    run_git(fetch, &format!("fetching the session's work from {target}")).await?;
    let mut parse = git::cli::command(repo_root);
    parse.args(["rev-parse", "--verify", "--quiet"]).arg(format!("{}^{{commit}}", fetched_ref(session_id)));
    let fetched = run_git(parse, "reading the fetched checkpoint").await?;
    if Oid::from_str(&fetched).ok() != Oid::from_str(commit).ok() {
        return Err(MirrorError::Command {
            what: format!("fetching the session's work from {target}"),
            message: format!("the host announced checkpoint {commit} but its {reference} is {fetched}"),
        });
    }
    let (worktree, commit, baseline) = (worktree.to_path_buf(), commit.to_string(), baseline.map(str::to_string));
    let laid = tokio::task::spawn_blocking(move || lay_in(&worktree, &commit, baseline.as_deref()))
        .await
        .map_err(|error| GitError::Io(std::io::Error::other(error)))??;
    Ok(laid)
}

/// How a host's turn came into the local worktree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LaidIn {
    /// Its files replaced the worktree's, which nothing had changed during the turn.
    Restored,
    /// The worktree had been changed here during the turn; the host's work was merged with it.
    Merged,
    /// The changes made here during the turn touch what the host's turn changed: the worktree
    /// keeps them, and the host's work is only in the fetched ref.
    Conflict,
}

/// Makes the worktree's files those of `commit`, keeping what was changed here since it held
/// `baseline`: the two sets of changes are merged (as git merges trees) when they do not
/// overlap, and an overlap leaves the worktree as it is, since a user's edit is never
/// overwritten without a word.
fn lay_in(worktree: &Path, commit: &str, baseline: Option<&str>) -> Result<LaidIn, GitError> {
    let Some(baseline) = baseline else {
        git::checkpoint::restore(worktree, commit)?;
        return Ok(LaidIn::Restored);
    };
    let here = git::checkpoint::worktree_tree(worktree)?;
    let repo = Repository::open(worktree)?;
    let base = repo.find_commit(Oid::from_str(baseline)?)?.tree()?;
    if base.id() == here {
        git::checkpoint::restore(worktree, commit)?;
        return Ok(LaidIn::Restored);
    }
    let theirs = repo.find_commit(Oid::from_str(commit)?)?;
    let mut merged = repo.merge_trees(&base, &repo.find_tree(here)?, &theirs.tree()?, None)?;
    if merged.has_conflicts() {
        return Ok(LaidIn::Conflict);
    }
    let tree = repo.find_tree(merged.write_tree_to(&repo)?)?;
    let signature = git::signature(&repo)?;
    let message = "arbor: the host's turn with the changes made here meanwhile";
    let both = repo.commit(None, &signature, &signature, message, &tree, &[&theirs])?;
    git::checkpoint::restore(worktree, &both.to_string())?;
    Ok(LaidIn::Merged)
}

/// The local worktree's changes since it last matched the host's worktree: its state as a
/// commit, and the files it no longer has.
#[derive(Debug, Clone)]
pub struct LocalEdits {
    /// A commit of the worktree's whole state (see `state_commit`).
    pub commit: String,
    /// Paths, relative to the worktree, that the state of `baseline` had and the worktree has
    /// no more.
    pub deleted: Vec<String>,
    /// How many files differ.
    pub changed: usize,
}

/// The checkpoint of session `session_id` last fetched from its host, if any.
pub async fn last_fetched(repo_root: &Path, session_id: Uuid) -> Option<String> {
    let mut parse = git::cli::command(repo_root);
    parse.args(["rev-parse", "--verify", "--quiet"]).arg(format!("{}^{{commit}}", fetched_ref(session_id)));
    run_git(parse, "reading the fetched checkpoint").await.ok().filter(|commit| !commit.is_empty())
}

fn edits_since(worktree: &Path, baseline: &str) -> Result<Option<LocalEdits>, GitError> {
    let tree_id = git::checkpoint::worktree_tree(worktree)?;
    let repo = Repository::open(worktree)?;
    let base_tree = repo.find_commit(Oid::from_str(baseline)?)?.tree()?;
    if base_tree.id() == tree_id {
        return Ok(None);
    }
    let tree = repo.find_tree(tree_id)?;
    let diff = repo.diff_tree_to_tree(Some(&base_tree), Some(&tree), None)?;
    let deleted = diff
        .deltas()
        .filter(|delta| delta.status() == git2::Delta::Deleted)
        .filter_map(|delta| delta.old_file().path().map(|path| path.to_string_lossy().into_owned()))
        .collect();
    let changed = diff.deltas().len();
    Ok(Some(LocalEdits { commit: state_commit(worktree)?, deleted, changed }))
}

/// The worktree's changes since it held commit `baseline` (the host's worktree as last sent
/// or fetched), None when it holds just that; made off the async runtime.
pub async fn local_edits(worktree: &Path, baseline: &str) -> Result<Option<LocalEdits>, MirrorError> {
    let (worktree, baseline) = (worktree.to_path_buf(), baseline.to_string());
    let edits = tokio::task::spawn_blocking(move || edits_since(&worktree, &baseline))
        .await
        .map_err(|error| GitError::Io(std::io::Error::other(error)))??;
    Ok(edits)
}

/// Lays `edits` of local session `session_id` into its host's worktree `host_worktree`: the
/// state is pushed to the mirror and its files written there (the host's HEAD and index stay,
/// as when a turn's work is brought home here), and the deleted files are removed there.
pub async fn send_edits(
    ssh: &Ssh,
    target: &str,
    repo_root: &Path,
    host_worktree: &str,
    session_id: Uuid,
    edits: &LocalEdits,
) -> Result<(), MirrorError> {
    let branch = format!("{}-edits", home_branch(session_id));
    let mirror = publish_commit(ssh, target, repo_root, &edits.commit, &branch).await?;
    let quote = |word: &str| {
        shlex::try_quote(word).map(|quoted| quoted.into_owned()).map_err(|error| MirrorError::Command {
            what: "naming a path on the host".into(),
            message: error.to_string(),
        })
    };
    let fetched = format!("refs/arbor/home/{session_id}");
    let mut script = format!(
        "cd {} && git fetch --quiet --no-tags {} +refs/heads/{branch}:{fetched} && git restore --source={fetched} --worktree -- :/",
        quote(host_worktree)?,
        quote(&mirror)?,
    );
    if !edits.deleted.is_empty() {
        let deleted: Result<Vec<String>, MirrorError> = edits.deleted.iter().map(|path| quote(path)).collect();
        script.push_str(&format!(" && rm -f -- {}", deleted?.join(" ")));
    }
    let output = ssh
        .command(target, &[&script])
        .output()
        .await
        .map_err(|error| MirrorError::Command { what: format!("reaching {target}"), message: error.to_string() })?;
    if !output.status.success() {
        return Err(MirrorError::Command {
            what: format!("writing the edits into the worktree on {target}"),
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_names_are_plain_and_distinct() {
        let one = mirror_path(Path::new("/home/me/my repo;rm -rf"));
        assert!(one.starts_with(".arbor/mirrors/my_repo_rm_-rf-") && one.ends_with(".git"), "{one}");
        assert_ne!(mirror_path(Path::new("/a/app")), mirror_path(Path::new("/b/app")));
        assert!(!mirror_path(Path::new("/x/..")).contains("/../"));
    }
}
