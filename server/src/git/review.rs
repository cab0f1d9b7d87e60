//! Review: the session's changes (base commit against the worktree, untracked files included),
//! with hunk ids that stay stable while a file's change is unchanged, and accepting (staging) or
//! rejecting (reverting) hunks and whole files.
//!
//! A hunk's id hashes its file, its position in the base and its lines, not its position in the
//! worktree, so other edits in the same file do not change it. A hunk is `accepted` when the
//! same change is in the worktree's index: the base-to-index diff has a hunk with the same id.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use arbor_protocol::{DiffLine, DiffStats, FileDiff, FileStatus, Hunk, HunkState, LineKind, ReviewFile};
use git2::{
    ApplyLocation, ApplyOptions, Delta, Diff, DiffFindOptions, DiffOptions, Index, IndexEntry, IndexTime, Oid, Patch,
    Repository,
};

use super::GitError;
use super::stat_scan::ScanMemory;
use super::worktree_files::{Content, WorktreeFiles};
use super::{open_repos, plain_patches, stat_scan};

/// A diff of the session, before rejected hunks are added by the caller.
#[derive(Debug, Clone)]
pub struct SessionDiff {
    /// Changed files.
    pub files: Vec<FileDiff>,
    /// Totals.
    pub stats: DiffStats,
    /// True when hunks were left out because of the byte cap.
    pub truncated: bool,
}

/// Refuses paths that are absolute or climb out of the worktree.
pub fn confine(path: &str) -> Result<PathBuf, GitError> {
    let relative = Path::new(path);
    let escapes = relative.is_absolute()
        || path.is_empty()
        || relative.components().any(|component| !matches!(component, Component::Normal(_) | Component::CurDir));
    if escapes {
        return Err(GitError::OutsideWorktree(path.to_string()));
    }
    Ok(relative.to_path_buf())
}

fn diff_options() -> DiffOptions {
    let mut options = DiffOptions::new();
    options.include_untracked(true).recurse_untracked_dirs(true).show_untracked_content(true).include_typechange(true);
    options
}

fn find_renames(diff: &mut Diff) -> Result<(), GitError> {
    let mut find = DiffFindOptions::new();
    find.renames(true).for_untracked(true);
    diff.find_similar(Some(&mut find))?;
    Ok(())
}

fn stable_id(path: &str, old_start: u32, old_lines: u32, lines: &[DiffLine]) -> String {
    // FNV-1a: stable across runs and versions, unlike the standard library's hasher.
    let mut hash: u64 = 0xcbf29ce484222325;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x100000001b3);
        }
    };
    feed(path.as_bytes());
    feed(&old_start.to_le_bytes());
    feed(&old_lines.to_le_bytes());
    for line in lines {
        feed(match line.kind {
            LineKind::Context => b" ",
            LineKind::Added => b"+",
            LineKind::Removed => b"-",
        });
        feed(line.text.as_bytes());
        feed(b"\n");
    }
    format!("{hash:016x}")
}

/// The hunks of one patch, with stable ids.
fn hunks_of(patch: &Patch, path: &str) -> Result<Vec<Hunk>, GitError> {
    let mut hunks = Vec::with_capacity(patch.num_hunks());
    for hunk_index in 0..patch.num_hunks() {
        let (hunk, line_count) = patch.hunk(hunk_index)?;
        let mut lines = Vec::with_capacity(line_count);
        for line_index in 0..line_count {
            let line = patch.line_in_hunk(hunk_index, line_index)?;
            let kind = match line.origin() {
                '+' => LineKind::Added,
                '-' => LineKind::Removed,
                ' ' => LineKind::Context,
                // "No newline at end of file" markers.
                _ => continue,
            };
            let text = String::from_utf8_lossy(line.content()).trim_end_matches(['\n', '\r']).to_string();
            lines.push(DiffLine { kind, text });
        }
        let header = String::from_utf8_lossy(hunk.header()).trim_end().to_string();
        hunks.push(Hunk {
            id: stable_id(path, hunk.old_start(), hunk.old_lines(), &lines),
            header,
            old_start: hunk.old_start(),
            old_lines: hunk.old_lines(),
            new_start: hunk.new_start(),
            new_lines: hunk.new_lines(),
            lines,
            state: HunkState::Pending,
        });
    }
    Ok(hunks)
}

/// Ids of the hunks of the base-to-index diff: the changes that are accepted.
fn accepted_ids(repo: &Repository, base_tree: &git2::Tree) -> Result<HashSet<String>, GitError> {
    let mut diff = repo.diff_tree_to_index(Some(base_tree), None, Some(&mut DiffOptions::new()))?;
    find_renames(&mut diff)?;
    let mut ids = HashSet::new();
    for index in 0..diff.deltas().len() {
        if let Some(patch) = Patch::from_diff(&diff, index)? {
            let (path, _) = paths_of(&patch.delta());
            ids.extend(hunks_of(&patch, &path)?.into_iter().map(|hunk| hunk.id));
        }
    }
    Ok(ids)
}

/// The session's changes: `base_commit` against the worktree.
pub fn diff(worktree: &Path, base_commit: &str, stats_only: bool, max_bytes: u64) -> Result<SessionDiff, GitError> {
    open_repos::with_repository(worktree, |repo, memory| {
        diff_of(repo, memory, worktree, base_commit, stats_only, max_bytes)
    })
}

fn diff_of(
    repo: &Repository,
    memory: &mut ScanMemory,
    worktree: &Path,
    base_commit: &str,
    stats_only: bool,
    max_bytes: u64,
) -> Result<SessionDiff, GitError> {
    let base_tree = repo.find_commit(Oid::from_str(base_commit)?)?.tree()?;
    // Nothing accepted yet (the index still holds the base, as its cached tree tells at once):
    // the index against the worktree is the whole diff, as `git diff` takes it, and the base's
    // trees need not be walked twice.
    let mut index = repo.index()?;
    // (An index with conflicts has no tree: the long way then.)
    let nothing_accepted = index.write_tree().is_ok_and(|tree| tree == base_tree.id());
    let mut diff =
        worktree_diff(repo, &index, &base_tree, nothing_accepted, stat_scan::candidates(repo, &index, memory)?)?;
    find_renames(&mut diff)?;
    let accepted = if stats_only || nothing_accepted { HashSet::new() } else { accepted_ids(repo, &base_tree)? };
    let mut changes = Vec::new();
    for (index, delta) in diff.deltas().enumerate() {
        let status = match delta.status() {
            Delta::Added | Delta::Untracked => FileStatus::Added,
            Delta::Deleted => FileStatus::Deleted,
            Delta::Renamed => FileStatus::Renamed,
            Delta::Typechange => FileStatus::TypeChanged,
            Delta::Modified | Delta::Copied => FileStatus::Modified,
            _ => continue,
        };
        changes.push(Change { index, status, delta });
    }
    let patches = file_patches(repo, worktree, &diff, &changes, !stats_only, max_bytes)?;
    let mut files = Vec::new();
    let mut stats = DiffStats::default();
    let mut bytes = 0u64;
    let mut truncated = false;
    for (Change { status, delta, .. }, patch) in changes.into_iter().zip(patches) {
        // libgit2 makes no patch of a delta it skips.
        let Some(patch) = patch else { continue };
        let (path, old_path) = paths_of(&delta);
        stats.files_changed += 1;
        stats.additions += patch.additions as u32;
        stats.deletions += patch.deletions as u32;
        let hunks = if stats_only || patch.binary || truncated {
            None
        } else {
            match patch.hunks {
                Some(mut hunks) => {
                    let size = plain_patches::hunk_bytes(&hunks);
                    if bytes + size > max_bytes {
                        truncated = true;
                        None
                    } else {
                        bytes += size;
                        for hunk in &mut hunks {
                            if accepted.contains(&hunk.id) {
                                hunk.state = HunkState::Accepted;
                            }
                        }
                        Some(hunks)
                    }
                }
                // Left out by a worker past the cap: past it in this order too.
                None => {
                    truncated = true;
                    None
                }
            }
        };
        files.push(FileDiff {
            path,
            old_path,
            status,
            binary: patch.binary,
            additions: patch.additions as u32,
            deletions: patch.deletions as u32,
            hunks,
        });
    }
    Ok(SessionDiff { files, stats, truncated })
}

/// The base (or, with `nothing_accepted`, the index) against the worktree. With `candidates` (the
/// paths [`stat_scan`] found may differ from the index) libgit2 is asked about those paths
/// alone, and about the paths the index changed from the base; without, it scans the worktree
/// whole.
fn worktree_diff<'repo>(
    repo: &'repo Repository,
    index: &Index,
    base_tree: &git2::Tree,
    nothing_accepted: bool,
    candidates: Option<Vec<Vec<u8>>>,
) -> Result<Diff<'repo>, GitError> {
    let mut options = diff_options();
    if let Some(mut paths) = candidates {
        if !nothing_accepted {
            paths.extend(staged_paths(repo, Some(base_tree), index)?);
        }
        if paths.is_empty() {
            // An empty path list would mean every path to libgit2: nothing changed, so no diff.
            return Ok(repo.diff_tree_to_tree(None, None, None)?);
        }
        options.disable_pathspec_match(true);
        for path in paths {
            options.pathspec(path);
        }
    }
    Ok(if nothing_accepted {
        repo.diff_index_to_workdir(Some(index), Some(&mut options))?
    } else {
        repo.diff_tree_to_workdir_with_index(Some(base_tree), Some(&mut options))?
    })
}

/// The paths (both sides of each change) where `index` differs from `tree`.
fn staged_paths(repo: &Repository, tree: Option<&git2::Tree>, index: &Index) -> Result<Vec<Vec<u8>>, GitError> {
    let mut paths = Vec::new();
    for delta in repo.diff_tree_to_index(tree, Some(index), None)?.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            paths.extend(file.path_bytes().map(<[u8]>::to_vec));
        }
    }
    Ok(paths)
}

/// A changed file of the scan: its delta, at `index` in the diff, and its status in the review.
struct Change<'diff> {
    index: usize,
    status: FileStatus,
    delta: git2::DiffDelta<'diff>,
}

/// A delta's path (the new side's, or the base's when deleted) and, for a rename, its old path.
fn paths_of(delta: &git2::DiffDelta) -> (String, Option<String>) {
    let new_path = delta.new_file().path().map(|path| path.display().to_string());
    let old_path = delta.old_file().path().map(|path| path.display().to_string());
    let path = new_path.or_else(|| old_path.clone()).unwrap_or_default();
    let old_path = if delta.status() == Delta::Renamed { old_path } else { None };
    (path, old_path)
}

/// The patch of each change, in order: from the sides' bytes on every processor when the
/// repository lets git read files as their bytes (see `plain_patches`), else libgit2's own.
fn file_patches(
    repo: &Repository,
    worktree: &Path,
    diff: &Diff,
    changes: &[Change],
    want_hunks: bool,
    max_bytes: u64,
) -> Result<Vec<Option<plain_patches::FilePatch>>, GitError> {
    let plain_modes = changes.iter().all(|Change { status, delta, .. }| {
        *status != FileStatus::TypeChanged
            && (delta.old_file().id().is_zero() || plain_patches::plain_mode(delta.old_file().mode()))
            && (*status == FileStatus::Deleted || plain_patches::plain_mode(delta.new_file().mode()))
    });
    if plain_modes {
        let files = WorktreeFiles::open(worktree)?;
        let paths: Vec<(String, Option<String>)> = changes.iter().map(|change| paths_of(&change.delta)).collect();
        let all_paths: Vec<&str> =
            paths.iter().flat_map(|(path, old)| std::iter::once(path.as_str()).chain(old.as_deref())).collect();
        if plain_patches::reads_plainly(repo, &files, &all_paths)? {
            let plain: Vec<plain_patches::PlainChange> = changes
                .iter()
                .zip(paths)
                .map(|(change, (path, old_path))| plain_patches::PlainChange {
                    path,
                    old_id: change.delta.old_file().id(),
                    old_path,
                    deleted: change.status == FileStatus::Deleted,
                })
                .collect();
            let patches = plain_patches::patches(worktree, &plain, want_hunks, max_bytes, hunks_of)?;
            return Ok(patches.into_iter().map(Some).collect());
        }
    }
    let mut patches = Vec::with_capacity(changes.len());
    let mut made = 0u64;
    for change in changes {
        let Some(patch) = Patch::from_diff(diff, change.index)? else {
            patches.push(None);
            continue;
        };
        let (path, _) = paths_of(&patch.delta());
        patches.push(Some(plain_patches::FilePatch::of(&patch, &path, want_hunks, max_bytes, &mut made, hunks_of)?));
    }
    Ok(patches)
}

fn text_or_none(bytes: &[u8]) -> Option<String> {
    if bytes.contains(&0) { None } else { String::from_utf8(bytes.to_vec()).ok() }
}

/// A file's text at the base commit and in the worktree.
pub fn file(worktree: &Path, base_commit: &str, path: &str) -> Result<ReviewFile, GitError> {
    let relative = confine(path)?;
    let repo = Repository::open(worktree)?;
    let base_tree = repo.find_commit(Oid::from_str(base_commit)?)?.tree()?;
    let base_bytes = match base_tree.get_path(&relative) {
        Ok(entry) => Some(repo.find_blob(entry.id())?.content().to_vec()),
        Err(_) => None,
    };
    let current_bytes = WorktreeFiles::open(worktree)?.read(&relative)?.map(|content| content.bytes().to_vec());
    if base_bytes.is_none() && current_bytes.is_none() {
        return Err(GitError::NoSuchFile(path.to_string()));
    }
    let base_text = base_bytes.as_deref().map(text_or_none);
    let current_text = current_bytes.as_deref().map(text_or_none);
    let binary = matches!(base_text, Some(None)) || matches!(current_text, Some(None));
    Ok(ReviewFile {
        path: path.to_string(),
        base_text: base_text.flatten(),
        current_text: current_text.flatten(),
        binary,
    })
}

/// Where the chosen hunks are applied.
enum Target {
    /// Stage: index → worktree hunks applied to the index.
    Stage,
    /// Unstage: the reverse of base → index hunks applied to the index.
    Unstage,
    /// Revert: the reverse of index → worktree hunks applied to the worktree.
    Revert,
}

/// Applies the hunks of a diff whose signature (path and changed lines) is in `wanted`.
fn apply_matching(
    repo: &Repository,
    diff: &Diff,
    wanted: &HashSet<(String, Signature)>,
    location: ApplyLocation,
) -> Result<usize, GitError> {
    // Collect, per delta, which hunk positions match.
    let mut chosen: Vec<Vec<bool>> = Vec::new();
    let mut count = 0;
    for index in 0..diff.deltas().len() {
        let mut flags = Vec::new();
        if let Some(patch) = Patch::from_diff(diff, index)? {
            let (path, _) = paths_of(&patch.delta());
            for hunk in hunks_of(&patch, &path)? {
                let matched = wanted.contains(&(path.clone(), signature_of(&hunk)));
                count += usize::from(matched);
                flags.push(matched);
            }
        }
        chosen.push(flags);
    }
    if count == 0 {
        return Ok(0);
    }
    let delta_index = std::cell::Cell::new(usize::MAX);
    let hunk_index = std::cell::Cell::new(0usize);
    let mut options = ApplyOptions::new();
    options.delta_callback(|_| {
        delta_index.set(delta_index.get().wrapping_add(1));
        hunk_index.set(0);
        chosen[delta_index.get()].iter().any(|flag| *flag)
    });
    options.hunk_callback(|_| {
        let position = hunk_index.get();
        hunk_index.set(position + 1);
        chosen[delta_index.get()].get(position).copied().unwrap_or(false)
    });
    repo.apply(diff, location, Some(&mut options))?;
    Ok(count)
}

/// A hunk's change without positions or context, (removed lines, added lines): what matches it
/// across diffs. A reversed diff has the two sides swapped.
type Signature = (Vec<String>, Vec<String>);

fn signature_of(hunk: &Hunk) -> Signature {
    let side =
        |kind: LineKind| hunk.lines.iter().filter(|line| line.kind == kind).map(|line| line.text.clone()).collect();
    (side(LineKind::Removed), side(LineKind::Added))
}

fn apply_to(
    repo: &Repository,
    base_tree: &git2::Tree,
    hunks: &[(String, Hunk)],
    target: Target,
) -> Result<usize, GitError> {
    let mut options = diff_options();
    // Only the hunks' own files: libgit2 removes a deleted file's index entry for every deleted
    // delta of the diff it applies to the index, including the ones its callbacks skip, so a
    // wider diff would stage a deletion (or unstage a new file) nobody chose.
    options.disable_pathspec_match(true);
    for (path, _) in hunks {
        options.pathspec(path);
    }
    let (diff, location, reverse) = match target {
        Target::Stage => (repo.diff_index_to_workdir(None, Some(&mut options))?, ApplyLocation::Index, false),
        Target::Unstage => {
            options.reverse(true);
            (repo.diff_tree_to_index(Some(base_tree), None, Some(&mut options))?, ApplyLocation::Index, true)
        }
        Target::Revert => {
            options.reverse(true);
            (repo.diff_index_to_workdir(None, Some(&mut options))?, ApplyLocation::WorkDir, true)
        }
    };
    let wanted: HashSet<(String, Signature)> = hunks
        .iter()
        .map(|(path, hunk)| {
            let (removed, added) = signature_of(hunk);
            (path.clone(), if reverse { (added, removed) } else { (removed, added) })
        })
        .collect();
    apply_matching(repo, &diff, &wanted, location)
}

/// Stages the given hunks (each with its file path). New files are staged whole.
pub fn accept_hunks(worktree: &Path, hunks: &[(String, Hunk)]) -> Result<(), GitError> {
    let repo = Repository::open(worktree)?;
    let files = WorktreeFiles::open(worktree)?;
    let mut index = repo.index()?;
    let (untracked, tracked): (Vec<_>, Vec<_>) =
        hunks.iter().cloned().partition(|(path, _)| index.get_path(Path::new(path), 0).is_none());
    for (path, _) in &untracked {
        stage(&mut index, &files, &confine(path)?)?;
    }
    index.write()?;
    if !tracked.is_empty() {
        let base_tree = repo.head()?.peel_to_tree()?;
        apply_to(&repo, &base_tree, &tracked, Target::Stage)?;
    }
    Ok(())
}

/// Reverts the given hunks in the worktree, unstaging them first if they were accepted. New
/// files are removed whole.
pub fn reject_hunks(worktree: &Path, base_commit: &str, hunks: &[(String, Hunk)]) -> Result<(), GitError> {
    let repo = Repository::open(worktree)?;
    let base_tree = repo.find_commit(Oid::from_str(base_commit)?)?.tree()?;
    let accepted: Vec<(String, Hunk)> =
        hunks.iter().filter(|(_, hunk)| hunk.state == HunkState::Accepted).cloned().collect();
    if !accepted.is_empty() {
        apply_to(&repo, &base_tree, &accepted, Target::Unstage)?;
    }
    let files = WorktreeFiles::open(worktree)?;
    let mut index = repo.index()?;
    index.read(true)?;
    let mut tracked = Vec::new();
    for (path, hunk) in hunks {
        let relative = confine(path)?;
        let in_base = base_tree.get_path(&relative).is_ok();
        if !in_base && index.get_path(&relative, 0).is_none() {
            // A new, unstaged file: rejecting its (only) hunk removes it.
            files.remove(&relative)?;
        } else {
            // libgit2 writes the reverted file: the directories on its way must be real ones.
            files.make_parents(&relative)?;
            tracked.push((path.clone(), hunk.clone()));
        }
    }
    if !tracked.is_empty() {
        apply_to(&repo, &base_tree, &tracked, Target::Revert)?;
    }
    Ok(())
}

/// Unstages the given hunks where they were accepted, leaving the worktree as it is; a new file
/// accepted whole leaves the index whole.
pub fn unstage_hunks(worktree: &Path, base_commit: &str, hunks: &[(String, Hunk)]) -> Result<(), GitError> {
    let repo = Repository::open(worktree)?;
    let base_tree = repo.find_commit(Oid::from_str(base_commit)?)?.tree()?;
    let accepted = hunks.iter().filter(|(_, hunk)| hunk.state == HunkState::Accepted);
    let (new_files, tracked): (Vec<_>, Vec<_>) =
        accepted.cloned().partition(|(path, _)| base_tree.get_path(Path::new(path)).is_err());
    if !tracked.is_empty() {
        apply_to(&repo, &base_tree, &tracked, Target::Unstage)?;
    }
    if !new_files.is_empty() {
        let paths: Vec<String> = new_files.into_iter().map(|(path, _)| path).collect();
        unstage_files(worktree, base_commit, &paths)?;
    }
    Ok(())
}

/// Puts whole files back in the index as they are at the base commit (a file new in the session
/// leaves the index), leaving the worktree as it is.
pub fn unstage_files(worktree: &Path, base_commit: &str, paths: &[String]) -> Result<(), GitError> {
    restore_base(worktree, base_commit, paths, None)
}

/// Puts whole files back in the index, and in `files` when given, as they are at the base commit;
/// a file new in the session leaves the index (and is removed from `files`).
fn restore_base(
    worktree: &Path,
    base_commit: &str,
    paths: &[String],
    files: Option<WorktreeFiles>,
) -> Result<(), GitError> {
    let repo = Repository::open(worktree)?;
    let base_tree = repo.find_commit(Oid::from_str(base_commit)?)?.tree()?;
    let mut index = repo.index()?;
    for path in paths {
        let relative = confine(path)?;
        match base_tree.get_path(&relative) {
            Ok(entry) => {
                let content = Content::from_git(entry.filemode(), repo.find_blob(entry.id())?.content().to_vec());
                if let Some(files) = &files {
                    files.write(&relative, &content)?;
                }
                index.add_frombuffer(&index_entry(&relative, &content), content.bytes())?;
            }
            Err(_) => {
                if let Some(files) = &files {
                    files.remove(&relative)?;
                }
                let _ = index.remove_path(&relative);
            }
        }
    }
    index.write()?;
    Ok(())
}

/// Stages `relative` as the worktree holds it, read by Arbor without following links (so libgit2
/// never reads through one); a path that holds nothing is staged as deleted.
fn stage(index: &mut Index, files: &WorktreeFiles, relative: &Path) -> Result<(), GitError> {
    match files.read(relative)? {
        Some(content) => index.add_frombuffer(&index_entry(relative, &content), content.bytes())?,
        None => index.remove_path(relative)?,
    }
    Ok(())
}

/// An index entry for `content` at `relative`. Without stat data git re-reads the file the next
/// time it compares the worktree with the index, which is what makes this entry safe to write.
fn index_entry(relative: &Path, content: &Content) -> IndexEntry {
    use std::os::unix::ffi::OsStrExt;
    IndexEntry {
        ctime: IndexTime::new(0, 0),
        mtime: IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode: content.git_mode(),
        uid: 0,
        gid: 0,
        file_size: content.bytes().len() as u32,
        id: Oid::ZERO_SHA1,
        flags: 0,
        flags_extended: 0,
        path: relative.as_os_str().as_bytes().to_vec(),
    }
}

/// Stages whole files as they are in the worktree (a deleted file is staged as deleted).
pub fn accept_files(worktree: &Path, paths: &[String]) -> Result<(), GitError> {
    let repo = Repository::open(worktree)?;
    let files = WorktreeFiles::open(worktree)?;
    let mut index = repo.index()?;
    for path in paths {
        stage(&mut index, &files, &confine(path)?)?;
    }
    index.write()?;
    Ok(())
}

/// Puts whole files back as they are at the base commit, in the worktree and the index (a file
/// new in the session is removed).
pub fn reject_files(worktree: &Path, base_commit: &str, paths: &[String]) -> Result<(), GitError> {
    restore_base(worktree, base_commit, paths, Some(WorktreeFiles::open(worktree)?))
}

/// The paths whose state differs from HEAD in the worktree, with a fingerprint of each (status
/// bits, size and modification time), to tell when files changed between two looks.
pub fn status_fingerprint(worktree: &Path) -> Result<Vec<(String, String)>, GitError> {
    open_repos::with_repository(worktree, |repo, memory| {
        let candidates = stat_scan::candidates(repo, &repo.index()?, memory)?;
        fingerprint_of(repo, worktree, candidates)
    })
}

/// [`status_fingerprint`] of the paths the stat scan found (with those the index changed from
/// HEAD), or of the whole worktree without them.
fn fingerprint_of(
    repo: &Repository,
    worktree: &Path,
    candidates: Option<Vec<Vec<u8>>>,
) -> Result<Vec<(String, String)>, GitError> {
    let mut options = git2::StatusOptions::new();
    options.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false);
    if let Some(mut paths) = candidates {
        let head = repo.head().ok().and_then(|head| head.peel_to_tree().ok());
        paths.extend(staged_paths(repo, head.as_ref(), &repo.index()?)?);
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        options.disable_pathspec_match(true);
        for path in paths {
            options.pathspec(path);
        }
    }
    let mut entries = Vec::new();
    for entry in repo.statuses(Some(&mut options))?.iter() {
        let Ok(path) = entry.path() else { continue };
        let stamp = std::fs::symlink_metadata(worktree.join(path))
            .map(|metadata| {
                let modified =
                    metadata.modified().ok().and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok());
                format!("{}:{}", metadata.len(), modified.map_or(0, |time| time.as_nanos()))
            })
            .unwrap_or_else(|_| "gone".into());
        entries.push((path.to_string(), format!("{:?}:{stamp}", entry.status())));
    }
    entries.sort();
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use git2::{Oid, Repository};

    use super::{ScanMemory, confine, fingerprint_of, stat_scan, worktree_diff};

    fn git(dir: &Path, args: &[&str]) {
        let status = Command::new("git").args(args).current_dir(dir).status().unwrap();
        assert!(status.success(), "git {args:?}");
    }

    fn head_of(worktree: &Path) -> String {
        let output = Command::new("git").args(["rev-parse", "HEAD"]).current_dir(worktree).output().unwrap();
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    /// Each delta as (status, old path, new path, new mode), libgit2's whole scan beside the
    /// stat scan's candidates.
    fn both_ways(worktree: &Path, base: &str, nothing_accepted: bool) -> (Vec<String>, Vec<String>, Vec<Vec<u8>>) {
        let repo = Repository::open(worktree).unwrap();
        let base_tree = repo.find_commit(Oid::from_str(base).unwrap()).unwrap().tree().unwrap();
        let index = repo.index().unwrap();
        let candidates =
            stat_scan::candidates(&repo, &index, &mut ScanMemory::default()).unwrap().expect("the stat scan answers");
        let listed = |candidates| {
            let diff = worktree_diff(&repo, &index, &base_tree, nothing_accepted, candidates).unwrap();
            diff.deltas()
                .map(|delta| {
                    format!(
                        "{:?} {:?} {:?} {:o}",
                        delta.status(),
                        delta.old_file().path(),
                        delta.new_file().path(),
                        u32::from(delta.new_file().mode())
                    )
                })
                .collect::<Vec<_>>()
        };
        let whole_fingerprint = fingerprint_of(&repo, worktree, None).unwrap();
        let scanned_fingerprint = fingerprint_of(&repo, worktree, Some(candidates.clone())).unwrap();
        assert_eq!(scanned_fingerprint, whole_fingerprint, "the status fingerprint is the same both ways");
        (listed(None), listed(Some(candidates.clone())), candidates)
    }

    #[test]
    fn the_stat_scan_finds_every_change_libgit2_finds_and_never_follows_a_link_out() {
        let dir = tempfile::tempdir().unwrap();
        let (worktree, outside) = (dir.path().join("worktree"), dir.path().join("outside"));
        std::fs::create_dir_all(worktree.join("keep")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret.txt"), "outside").unwrap();
        let write = |path: &str, text: &str| {
            let path = worktree.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        for index in 0..50 {
            write(&format!("keep/file{index}.txt"), &format!("unchanged {index}\n"));
        }
        for path in ["same_size.txt", "grow.txt", "gone.txt", "run.sh", "to_link.txt", "file_to_dir.txt", "touched.txt"]
        {
            write(path, &format!("{path}\n"));
        }
        for path in
            ["dir_to_file/x.txt", "dir_to_file/y.txt", "dir_to_link/z.txt", "deleted_dir/q.txt", "deep/a/b/c.txt"]
        {
            write(path, &format!("{path}\n"));
        }
        write(".gitignore", "build/\n*.log\n");
        std::os::unix::fs::symlink("keep/file1.txt", worktree.join("link")).unwrap();
        git(&worktree, &["init", "-q", "-b", "main"]);
        git(&worktree, &["add", "-A"]);
        git(&worktree, &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base"]);
        let base = head_of(&worktree);

        // Every kind of change an agent makes, and things that are no change.
        write("same_size.txt", "SAME_SIZE.TXT\n");
        write("grow.txt", "grow.txt and more\n");
        std::fs::remove_file(worktree.join("gone.txt")).unwrap();
        std::fs::set_permissions(worktree.join("run.sh"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        std::fs::remove_file(worktree.join("to_link.txt")).unwrap();
        std::os::unix::fs::symlink("keep/file2.txt", worktree.join("to_link.txt")).unwrap();
        std::fs::remove_file(worktree.join("file_to_dir.txt")).unwrap();
        write("file_to_dir.txt/inner.txt", "inner\n");
        std::fs::remove_dir_all(worktree.join("dir_to_file")).unwrap();
        write("dir_to_file", "now a file\n");
        std::fs::remove_dir_all(worktree.join("dir_to_link")).unwrap();
        std::os::unix::fs::symlink(&outside, worktree.join("dir_to_link")).unwrap();
        std::fs::remove_dir_all(worktree.join("deleted_dir")).unwrap();
        write("touched.txt", "touched.txt\n");
        std::fs::remove_file(worktree.join("link")).unwrap();
        std::os::unix::fs::symlink("keep/file3.txt", worktree.join("link")).unwrap();
        write("new.txt", "new\n");
        write("keep/new_in_tracked.txt", "new\n");
        write("deep/a/new.txt", "new\n");
        write("fresh/deep/er/f.txt", "new\n");
        write("fresh/g.txt", "new\n");
        write("build/out.bin", "ignored\n");
        write("keep/debug.log", "ignored\n");
        write("fresh/ignored.log", "ignored\n");

        let (whole, scanned, candidates) = both_ways(&worktree, &base, true);
        assert_eq!(scanned, whole, "the candidates' diff is the whole scan's");
        assert!(whole.len() >= 15, "every change is in the diff: {whole:#?}");
        assert!(
            !whole.iter().any(|delta| delta.contains("touched.txt")),
            "a file written with its own content is no change"
        );
        assert!(candidates.len() < 40, "only candidates are handed on, not the worktree: {candidates:?}");
        assert!(
            !candidates.iter().any(|path| path.ends_with(b"secret.txt")),
            "the link out was not followed: {candidates:?}"
        );
        assert!(!candidates.iter().any(|path| path.starts_with(b"build")), "an ignored directory is not listed");

        // With a change accepted (the index no longer the base) the base against the worktree
        // through the index is the same both ways, the staged paths included.
        git(&worktree, &["add", "same_size.txt", "new.txt"]);
        write("grow.txt", "grown again, a little more\n");
        let (whole, scanned, _) = both_ways(&worktree, &base, false);
        assert_eq!(scanned, whole, "the candidates' diff is the whole scan's with changes accepted");
        assert!(whole.iter().any(|delta| delta.contains("same_size.txt")), "{whole:#?}");

        // Nothing changed: an empty diff, not every path.
        git(&worktree, &["add", "-A"]);
        git(&worktree, &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "all"]);
        let head = head_of(&worktree);
        let (whole, scanned, _) = both_ways(&worktree, &head, true);
        assert_eq!((whole.len(), scanned.len()), (0, 0), "{scanned:#?}");

        // A repository of its own in a new directory is left to libgit2.
        write("nested/inner.txt", "inner\n");
        git(&worktree.join("nested"), &["init", "-q"]);
        let repo = Repository::open(&worktree).unwrap();
        assert!(stat_scan::candidates(&repo, &repo.index().unwrap(), &mut ScanMemory::default()).unwrap().is_none());
    }

    /// The candidates of a scan that remembers earlier looks, beside those of one that does not.
    fn remembered_and_fresh(worktree: &Path, memory: &mut ScanMemory) -> (Vec<String>, Vec<String>) {
        let repo = Repository::open(worktree).unwrap();
        let index = repo.index().unwrap();
        let scan = |memory: &mut ScanMemory| {
            let paths = stat_scan::candidates(&repo, &index, memory).unwrap().expect("the stat scan answers");
            paths.iter().map(|path| String::from_utf8_lossy(path).into_owned()).collect::<Vec<_>>()
        };
        (scan(memory), scan(&mut ScanMemory::default()))
    }

    #[test]
    fn a_remembered_listing_is_used_only_while_its_directory_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let worktree = dir.path().to_path_buf();
        for path in ["a/one.txt", "a/two.txt", "b/c/three.txt", "top.txt"] {
            std::fs::create_dir_all(worktree.join(path).parent().unwrap()).unwrap();
            std::fs::write(worktree.join(path), path).unwrap();
        }
        std::fs::write(worktree.join("a/untracked.txt"), "new").unwrap();
        git(&worktree, &["init", "-q", "-b", "main"]);
        git(&worktree, &["add", "top.txt", "a/one.txt", "a/two.txt", "b/c/three.txt"]);
        // Past the clock tick the directories were last changed in, so that their listings are
        // kept.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut memory = ScanMemory::default();
        let (remembered, fresh) = remembered_and_fresh(&worktree, &mut memory);
        assert_eq!(remembered, ["a/untracked.txt"]);
        assert_eq!(remembered, fresh);
        assert_eq!(memory.kept_listings(), 4, "every directory's listing is kept (the top, a, b and b/c)");

        // Each kind of change to a directory's entries, each seen at the next look.
        let changes: [(&str, &dyn Fn()); 5] = [
            ("a file added", &|| std::fs::write(worktree.join("b/c/added.txt"), "x").unwrap()),
            ("a file removed", &|| std::fs::remove_file(worktree.join("a/untracked.txt")).unwrap()),
            ("a file renamed", &|| {
                std::fs::rename(worktree.join("b/c/added.txt"), worktree.join("b/c/moved.txt")).unwrap()
            }),
            ("a directory added", &|| std::fs::create_dir_all(worktree.join("b/new/deeper")).unwrap()),
            ("a link added", &|| std::os::unix::fs::symlink("top.txt", worktree.join("link")).unwrap()),
        ];
        for (change, make) in changes {
            make();
            let (remembered, fresh) = remembered_and_fresh(&worktree, &mut memory);
            assert_eq!(remembered, fresh, "{change} shows");
        }
        std::fs::write(worktree.join("b/new/deeper/file.txt"), "x").unwrap();
        let (remembered, fresh) = remembered_and_fresh(&worktree, &mut memory);
        assert_eq!(remembered, fresh, "a file in a new directory shows, though its parent is unchanged");
        assert!(remembered.contains(&"b/new/deeper/file.txt".to_string()), "{remembered:?}");

        // A directory changed in the clock tick its look began in (here, any time after the
        // epoch) is read again at the next look: with coarse file times, another change in the
        // same tick would not show in its stamp.
        let repo = Repository::open(&worktree).unwrap();
        let mut memory = ScanMemory::default();
        stat_scan::candidates_since(&repo, &repo.index().unwrap(), &mut memory, (0, 0)).unwrap();
        assert_eq!(memory.kept_listings(), 0, "no listing is kept of a directory changed since the look began");
        // And changes quicker than a tick apart, each seen.
        for round in 0..20 {
            std::fs::write(worktree.join(format!("a/quick{round}.txt")), "x").unwrap();
            let (remembered, fresh) = remembered_and_fresh(&worktree, &mut memory);
            assert_eq!(remembered, fresh, "the file made in round {round} shows");
        }
    }

    #[test]
    fn paths_must_stay_inside_the_worktree() {
        assert!(confine("src/main.rs").is_ok());
        assert!(confine("../outside").is_err());
        assert!(confine("/etc/passwd").is_err());
        assert!(confine("a/../../b").is_err());
        assert!(confine("").is_err());
    }
}
