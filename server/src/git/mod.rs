//! Git operations on the user's repositories, through libgit2 (git2), except the checkout of a
//! new worktree, which `cli` hands to the git CLI because it is twice as fast there.
//!
//! This module: find or clone the repository, give a session its own branch and worktree, copy
//! setup files, snapshot uncommitted work before a worktree is removed, delete a branch only when
//! its work is merged, read a worktree's HEAD, find orphaned worktrees, and a diffstat.
//! `orphan_branches` finds session branches no session owns.
//! `checkpoint` snapshots worktrees without touching HEAD, `review` diffs and applies hunks, and
//! `land` commits and merges. `open_repos` keeps the last few worktrees' repositories open for
//! the review's repeated looks.

pub mod checkpoint;
pub(crate) mod cli;
pub mod land;
pub(crate) mod open_repos;
pub mod orphan_branches;
pub(crate) mod plain_patches;
pub mod push;
pub mod review;
pub(crate) mod stat_scan;
pub mod worktree_files;

use std::path::{Path, PathBuf};

use git2::{BranchType, DiffOptions, IndexAddOption, Repository, Signature};
use worktree_files::WorktreeFiles;

/// Errors of the git layer.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The directory is not inside a git repository.
    #[error("{0} is not inside a git repository")]
    NotARepository(String),
    /// The repository has no commit yet, so there is nothing to branch from.
    #[error("the repository at {0} has no commits yet; commit something first")]
    NoCommits(String),
    /// The requested base branch does not exist.
    #[error("branch {0} does not exist")]
    NoSuchBranch(String),
    /// The branch holds work (commits or uncommitted changes) that its base does not.
    #[error("branch {branch} holds work that is not merged into {base}; pass force to delete it anyway")]
    NotMerged { branch: String, base: String },
    /// A path given by a client leaves the worktree.
    #[error("{0} is not a path inside the session's worktree")]
    OutsideWorktree(String),
    /// Neither the base nor the worktree has the file.
    #[error("{0} exists neither in the base commit nor in the worktree")]
    NoSuchFile(String),
    /// There is nothing to commit.
    #[error("there are no changes to commit")]
    NothingToCommit,
    /// The base branch already has everything on the session branch.
    #[error("{base} already contains everything on {branch}; commit the session's changes first (review/commit)")]
    NothingToMerge { branch: String, base: String },
    /// The base branch is checked out somewhere with uncommitted changes.
    #[error(
        "{branch} is checked out in {path} with uncommitted changes; commit or stash them first, Arbor will not overwrite them"
    )]
    DirtyCheckout { branch: String, path: String },
    /// The base branch moved while a merge was computed (a commit made on it meanwhile).
    #[error(
        "{branch} moved while the merge was prepared (a commit was made on it meanwhile); nothing was changed, merge again"
    )]
    BaseMoved { branch: String },
    /// The worktree is not on the session's branch.
    #[error("the worktree is on {actual}, not on the session's branch {expected} (it was changed outside Arbor)")]
    WrongBranch { expected: String, actual: String },
    /// The repository has no remote to push to.
    #[error("the repository has no remote to push to; add one (git remote add origin URL) or name one")]
    NoRemote,
    /// The remote named does not exist.
    #[error("the repository has no remote named {0}")]
    NoSuchRemote(String),
    /// Several remotes and none of them is `origin` nor the base branch's upstream.
    #[error("the repository has several remotes ({0}) and none is the base branch's upstream; name one")]
    AmbiguousRemote(String),
    /// The push was refused; nothing changed locally.
    #[error("pushing {branch} to {remote} was refused: {reason}")]
    PushRejected { branch: String, remote: String, reason: String },
    /// Cloning failed.
    #[error("could not clone {url}: {message}")]
    Clone { url: String, message: String },
    /// A git command failed; the message is git's own.
    #[error("{command} failed: {message}")]
    Command { command: String, message: String },
    /// libgit2 reported an error.
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    /// A file operation failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What Arbor needs to know about the repository a session works on.
#[derive(Debug, Clone)]
pub struct RepoInfo {
    /// The repository's working directory root.
    pub root: PathBuf,
    /// The checked-out branch, when HEAD is on a branch.
    pub current_branch: Option<String>,
}

/// Finds the repository containing `cwd`.
pub fn discover(cwd: &Path) -> Result<RepoInfo, GitError> {
    let display = cwd.display().to_string();
    if !cwd.is_dir() {
        return Err(GitError::NotARepository(display));
    }
    let repo = Repository::discover(cwd).map_err(|_| GitError::NotARepository(display.clone()))?;
    let root = repo.workdir().ok_or_else(|| GitError::NotARepository(display.clone()))?.to_path_buf();
    let current_branch = match repo.head() {
        Ok(head) if head.is_branch() => head.shorthand().ok().map(str::to_string),
        Ok(_) => None,
        Err(error) if error.code() == git2::ErrorCode::UnbornBranch => {
            return Err(GitError::NoCommits(display));
        }
        Err(error) => return Err(error.into()),
    };
    Ok(RepoInfo { root: root.canonicalize().unwrap_or(root), current_branch })
}

/// The commit a new session starts from: the tip of `base_branch`, or HEAD when none is given.
pub fn resolve_base(repo_root: &Path, base_branch: Option<&str>) -> Result<String, GitError> {
    let repo = Repository::open(repo_root)?;
    let commit = match base_branch {
        Some(name) => repo
            .find_branch(name, BranchType::Local)
            .map_err(|_| GitError::NoSuchBranch(name.to_string()))?
            .get()
            .peel_to_commit()?,
        None => repo.head()?.peel_to_commit()?,
    };
    Ok(commit.id().to_string())
}

/// Creates `branch` at `base_commit` and checks it out in a new worktree at `path`.
pub fn create_worktree(repo_root: &Path, branch: &str, base_commit: &str, path: &Path) -> Result<(), GitError> {
    let _admin = lock_worktree_admin();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let args = ["worktree", "add", "--quiet", "-b", branch].map(std::ffi::OsStr::new);
    cli::run(repo_root, &[&args[..], &[path.as_os_str(), std::ffi::OsStr::new(base_commit)]].concat())
}

/// Checks out an existing `branch` in a new worktree at `path`: how an archived session gets its
/// worktree back, holding exactly what the branch holds.
pub fn restore_worktree(repo_root: &Path, branch: &str, path: &Path) -> Result<(), GitError> {
    let _admin = lock_worktree_admin();
    let repo = Repository::open(repo_root)?;
    repo.find_branch(branch, BranchType::Local).map_err(|_| GitError::NoSuchBranch(branch.to_string()))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // A registration left behind by an earlier removal would make the name clash.
    if let Ok(stale) = repo.find_worktree(&worktree_name(path)) {
        let mut options = git2::WorktreePruneOptions::new();
        options.valid(true).working_tree(true);
        stale.prune(Some(&mut options))?;
    }
    let args = ["worktree", "add", "--quiet"].map(std::ffi::OsStr::new);
    cli::run(repo_root, &[&args[..], &[path.as_os_str(), std::ffi::OsStr::new(branch)]].concat())
}

/// The commits on `branch` that `base_branch` does not hold, newest first, as "short id summary"
/// (at most `limit`).
pub fn unmerged_commits(
    repo_root: &Path,
    branch: &str,
    base_branch: &str,
    limit: usize,
) -> Result<Vec<String>, GitError> {
    let repo = Repository::open(repo_root)?;
    let tip = repo.find_branch(branch, BranchType::Local)?.get().peel_to_commit()?.id();
    let mut walk = repo.revwalk()?;
    walk.push(tip)?;
    if let Ok(base) = repo.find_branch(base_branch, BranchType::Local) {
        walk.hide(base.get().peel_to_commit()?.id())?;
    }
    let mut commits = Vec::new();
    for id in walk.take(limit) {
        commits.push(commit_line(&repo.find_commit(id?)?));
    }
    Ok(commits)
}

/// What removing the orphaned directory `path` would lose: uncommitted changes, and commits on
/// its HEAD that no other local branch holds (as "short id summary"); files when it is not a git
/// worktree at all. Empty when removing it loses nothing.
pub fn work_only_in(path: &Path) -> Result<Vec<String>, GitError> {
    let Ok(repo) = Repository::open(path) else {
        let has_files = std::fs::read_dir(path)?.next().is_some();
        return Ok(if has_files { vec!["files outside any git repository".into()] } else { Vec::new() });
    };
    let mut at_risk = Vec::new();
    if has_uncommitted_changes(path)? {
        at_risk.push("uncommitted changes".to_string());
    }
    let Ok(head) = repo.head() else { return Ok(at_risk) };
    let own_branch = head.shorthand().ok().filter(|_| head.is_branch()).map(str::to_string);
    let mut walk = repo.revwalk()?;
    walk.push(head.peel_to_commit()?.id())?;
    for branch in repo.branches(Some(BranchType::Local))? {
        let (branch, _) = branch?;
        if branch.name()?.map(str::to_string) != own_branch
            && let Some(tip) = branch.get().target()
        {
            walk.hide(tip)?;
        }
    }
    for id in walk.take(50) {
        at_risk.push(commit_line(&repo.find_commit(id?)?));
    }
    Ok(at_risk)
}

/// Removes an orphaned directory: a worktree with its registration in its repository (the branch
/// stays), anything else as a plain directory.
pub fn remove_orphan(path: &Path) -> Result<(), GitError> {
    match Repository::open(path) {
        Ok(repo) => remove_worktree(repo.commondir(), path),
        Err(_) => Ok(std::fs::remove_dir_all(path)?),
    }
}

/// A commit as "short id summary".
pub(crate) fn commit_line(commit: &git2::Commit) -> String {
    format!("{} {}", &commit.id().to_string()[..12], commit.summary().ok().flatten().unwrap_or(""))
}

/// Bytes the files under `path` take, links not followed; 0 when it does not exist.
pub fn disk_bytes(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path).map(|entries| entries.flatten().map(|entry| disk_bytes(&entry.path())).sum()).unwrap_or(0)
}

/// Serialises adding and pruning worktrees. libgit2 checks that a branch is not checked out by
/// reading every worktree's administrative directory, and one being written or removed at that
/// moment by a concurrent request made it refuse a brand-new branch as "already checked out".
fn lock_worktree_admin() -> std::sync::MutexGuard<'static, ()> {
    static ADMIN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ADMIN.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// git names a worktree by the last component of its path.
fn worktree_name(path: &Path) -> String {
    path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_else(|| "arbor".into())
}

/// Commits every uncommitted change in the worktree (untracked included, ignored excluded) onto
/// its branch, so that removing the worktree loses nothing. Returns the new commit, or None when
/// the worktree was clean.
pub fn snapshot_uncommitted(worktree: &Path, message: &str) -> Result<Option<String>, GitError> {
    if !has_uncommitted_changes(worktree)? {
        return Ok(None);
    }
    let repo = Repository::open(worktree)?;
    let mut index = repo.index()?;
    index.add_all(["*"], IndexAddOption::DEFAULT, None)?;
    index.update_all(["*"], None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let parent = repo.head()?.peel_to_commit()?;
    let signature = signature(&repo)?;
    let commit = repo.commit(Some("HEAD"), &signature, &signature, message, &tree, &[&parent])?;
    Ok(Some(commit.to_string()))
}

pub(crate) fn signature(repo: &Repository) -> Result<Signature<'static>, GitError> {
    Ok(repo.signature().or_else(|_| Signature::now("Arbor", "arbor@localhost"))?)
}

/// Undoes [`create_worktree`]: removes the worktree and deletes the branch made for it.
pub fn remove_new_worktree(repo_root: &Path, branch: &str, path: &Path) -> Result<(), GitError> {
    remove_worktree(repo_root, path)?;
    delete_branch(repo_root, branch)
}

/// Removes a session worktree's directory and its registration in the repository. The branch stays.
pub fn remove_worktree(repo_root: &Path, path: &Path) -> Result<(), GitError> {
    let _admin = lock_worktree_admin();
    if path.exists() {
        std::fs::remove_dir_all(path)?;
    }
    let repo = Repository::open(repo_root)?;
    if let Ok(worktree) = repo.find_worktree(&worktree_name(path)) {
        let mut options = git2::WorktreePruneOptions::new();
        options.valid(true).working_tree(true);
        worktree.prune(Some(&mut options))?;
    }
    Ok(())
}

/// Whether the worktree has changes that are not committed (untracked files included, ignored
/// files excluded).
pub fn has_uncommitted_changes(worktree: &Path) -> Result<bool, GitError> {
    let repo = Repository::open(worktree)?;
    let mut status_options = git2::StatusOptions::new();
    status_options.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false);
    Ok(!repo.statuses(Some(&mut status_options))?.is_empty())
}

/// Succeeds when every commit on `branch` is reachable from `base_branch`.
pub fn check_merged(repo_root: &Path, branch: &str, base_branch: &str) -> Result<(), GitError> {
    let repo = Repository::open(repo_root)?;
    let tip = repo.find_branch(branch, BranchType::Local)?.get().peel_to_commit()?.id();
    let base = repo
        .find_branch(base_branch, BranchType::Local)
        .map_err(|_| GitError::NoSuchBranch(base_branch.to_string()))?
        .get()
        .peel_to_commit()?
        .id();
    if tip == base || repo.graph_descendant_of(base, tip)? {
        Ok(())
    } else {
        Err(GitError::NotMerged { branch: branch.to_string(), base: base_branch.to_string() })
    }
}

/// The commit a local branch points at.
pub fn branch_tip(repo_root: &Path, branch: &str) -> Result<String, GitError> {
    let repo = Repository::open(repo_root)?;
    let found = repo.find_branch(branch, BranchType::Local).map_err(|_| GitError::NoSuchBranch(branch.to_string()))?;
    Ok(found.get().peel_to_commit()?.id().to_string())
}

/// Deletes a local branch. Callers check [`check_merged`] first unless the user forced it.
pub fn delete_branch(repo_root: &Path, branch: &str) -> Result<(), GitError> {
    let repo = Repository::open(repo_root)?;
    repo.find_branch(branch, BranchType::Local)?.delete()?;
    Ok(())
}

/// One changed file of a diffstat.
#[derive(Debug, Clone, PartialEq)]
pub struct FileStat {
    /// Path relative to the worktree.
    pub path: String,
    /// Lines added.
    pub insertions: usize,
    /// Lines removed.
    pub deletions: usize,
}

/// Changes in `worktree` against `base_commit`, untracked files included.
pub fn diffstat(worktree: &Path, base_commit: &str) -> Result<Vec<FileStat>, GitError> {
    let repo = Repository::open(worktree)?;
    let base_tree = repo.find_commit(git2::Oid::from_str(base_commit)?)?.tree()?;
    let mut options = DiffOptions::new();
    options.include_untracked(true).recurse_untracked_dirs(true).show_untracked_content(true);
    let diff = repo.diff_tree_to_workdir_with_index(Some(&base_tree), Some(&mut options))?;
    let mut files = Vec::new();
    for index in 0..diff.deltas().len() {
        let Some(patch) = git2::Patch::from_diff(&diff, index)? else {
            continue;
        };
        let delta = patch.delta();
        let path = delta.new_file().path().or_else(|| delta.old_file().path()).map(|path| path.display().to_string());
        let (_, insertions, deletions) = patch.line_stats()?;
        files.push(FileStat { path: path.unwrap_or_default(), insertions, deletions });
    }
    Ok(files)
}

/// The branch checked out in a worktree (None when detached) and its HEAD commit.
pub fn head_state(worktree: &Path) -> Result<(Option<String>, String), GitError> {
    let repo = Repository::open(worktree)?;
    let head = repo.head()?;
    let branch = if head.is_branch() { head.shorthand().ok().map(str::to_string) } else { None };
    Ok((branch, head.peel_to_commit()?.id().to_string()))
}

/// Copies `files` (relative to the repository root) into the worktree, creating directories;
/// files that do not exist are skipped. Returns the files copied. Both sides are reached without
/// following links: a link is copied as a link, and a path through a link (in the repository or
/// in the worktree, where an agent or a commit may have put one) holds nothing, so nothing
/// outside either directory is read or written.
pub fn copy_setup_files(repo_root: &Path, worktree: &Path, files: &[String]) -> Result<Vec<String>, GitError> {
    let (source, target) = (WorktreeFiles::open(repo_root)?, WorktreeFiles::open(worktree)?);
    let mut copied = Vec::new();
    for file in files {
        let relative = review::confine(file)?;
        let Some(content) = source.read(&relative)? else { continue };
        target.write(&relative, &content)?;
        copied.push(file.clone());
    }
    Ok(copied)
}

/// A repository URL as given, split into the URL Arbor shows and stores (without userinfo)
/// and the credentials it carried, which are only handed to libgit2 when the server asks.
#[derive(Clone)]
pub struct RepositoryUrl {
    shown: String,
    credentials: Option<(String, String)>,
}

impl RepositoryUrl {
    /// Splits the userinfo (`user:password@`) off a `scheme://` URL. An ssh user name without a
    /// password is kept: it names the account (`ssh://git@host/…`) and is no secret.
    pub fn parse(url: &str) -> RepositoryUrl {
        let unchanged = RepositoryUrl { shown: url.to_string(), credentials: None };
        let Some((scheme, rest)) = url.split_once("://") else { return unchanged };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let Some(at) = rest[..authority_end].rfind('@') else { return unchanged };
        let (user, password) = match rest[..at].split_once(':') {
            Some((user, password)) => (user, Some(password)),
            None => (&rest[..at], None),
        };
        if password.is_none() && scheme.starts_with("ssh") {
            return unchanged;
        }
        RepositoryUrl {
            shown: format!("{scheme}://{}", &rest[at + 1..]),
            credentials: Some((percent_decode(user), percent_decode(password.unwrap_or_default()))),
        }
    }

    /// The URL without credentials: what messages, logs and the clone's config hold.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// `text` with the URL's secret replaced by `***`: the password, or the user name when it
    /// comes alone (a token given as the user, as GitHub accepts).
    fn redact(&self, text: &str) -> String {
        match &self.credentials {
            Some((user, password)) => {
                let secret = if password.is_empty() { user } else { password };
                if secret.is_empty() { text.to_string() } else { text.replace(secret.as_str(), "***") }
            }
            None => text.to_string(),
        }
    }

    /// Fetch options that answer the server's credential request once with the URL's
    /// credentials (a refusal is not retried for ever).
    fn fetch_options(&self) -> git2::FetchOptions<'static> {
        let mut options = git2::FetchOptions::new();
        if let Some((user, password)) = self.credentials.clone() {
            let mut offered = false;
            let mut callbacks = git2::RemoteCallbacks::new();
            callbacks.credentials(move |_url, _user_from_url, _allowed| {
                if std::mem::replace(&mut offered, true) {
                    return Err(git2::Error::from_str("the server refused the credentials in the repository URL"));
                }
                git2::Cred::userpass_plaintext(&user, &password)
            });
            options.remote_callbacks(callbacks);
        }
        options
    }
}

/// Decodes `%XX` escapes, which URLs use for `:` or `@` inside a user name or password.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes.get(index + 1..index + 3).and_then(|pair| std::str::from_utf8(pair).ok());
        match (bytes[index], hex.and_then(|hex| u8::from_str_radix(hex, 16).ok())) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Clones `url` (a URL or a local path) at `branch` into `parent`, or fetches into an earlier
/// clone of it; returns the clone's directory. Credentials in the URL reach libgit2 only through
/// its credential callback: the clone's config, its reflogs and every error name the URL without
/// them.
pub fn clone_or_fetch(url: &RepositoryUrl, branch: Option<&str>, parent: &Path) -> Result<PathBuf, GitError> {
    let failed =
        |error: git2::Error| GitError::Clone { url: url.shown().to_string(), message: url.redact(error.message()) };
    let shown = url.shown();
    let name = shown.trim_end_matches('/').rsplit(['/', ':']).next().unwrap_or("repository").trim_end_matches(".git");
    // FNV-1a of the URL keeps two repositories with the same name apart.
    let hash =
        shown.bytes().fold(0xcbf29ce484222325u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100000001b3));
    let dir = parent.join(format!("{name}-{:08x}", hash as u32));
    if dir.join(".git").exists() {
        let repo = Repository::open(&dir)?;
        let mut remote = repo.find_remote("origin")?;
        remote.fetch::<&str>(&[], Some(&mut url.fetch_options()), None).map_err(failed)?;

        if let Some(branch) = branch {
            let remote_tip = repo.find_reference(&format!("refs/remotes/origin/{branch}"))?.peel_to_commit()?;
            match repo.find_branch(branch, BranchType::Local) {
                Ok(local) => {
                    let local_tip = local.get().peel_to_commit()?.id();
                    // Only fast-forward: work on the local branch is never thrown away.
                    if local_tip != remote_tip.id() && repo.graph_descendant_of(remote_tip.id(), local_tip)? {
                        repo.reference(
                            &format!("refs/heads/{branch}"),
                            remote_tip.id(),
                            true,
                            "arbor: fast-forward from origin",
                        )?;
                    }
                }
                Err(_) => {
                    repo.branch(branch, &remote_tip, false)?;
                }
            }
        }
        return Ok(dir);
    }
    std::fs::create_dir_all(parent)?;
    let mut builder = git2::build::RepoBuilder::new();
    builder.fetch_options(url.fetch_options());
    if let Some(branch) = branch {
        builder.branch(branch);
    }
    builder.clone(shown, &dir).map_err(failed)?;
    Ok(dir)
}

/// Worktree directories under `worktrees_dir` that `known` does not list, and registered
/// worktrees of `repositories` whose directory is gone. Nothing is deleted.
pub fn find_orphans(worktrees_dir: &Path, known: &[PathBuf], repositories: &[PathBuf]) -> Vec<(PathBuf, String)> {
    let mut orphans = Vec::new();
    if let Ok(entries) = std::fs::read_dir(worktrees_dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && !known.iter().any(|known| known == &path) {
                orphans.push((path, "no session uses this worktree".to_string()));
            }
        }
    }
    for repo_root in repositories {
        let Ok(repo) = Repository::open(repo_root) else { continue };
        let Ok(names) = repo.worktrees() else { continue };
        for name in names.iter().flatten().flatten() {
            if let Ok(worktree) = repo.find_worktree(name)
                && !worktree.path().exists()
            {
                orphans.push((
                    worktree.path().to_path_buf(),
                    format!("registered in {} but its directory is gone", repo_root.display()),
                ));
            }
        }
    }
    orphans
}
