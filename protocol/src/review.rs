//! Params and results of the git-facing methods: checkpoints, fork, clone, rewind, review,
//! commit and merge.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Session;
use crate::events::Checkpoint;

/// One checkpoint and where it sits in the session's history.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointEntry {
    /// Seq of the checkpoint event; forking at this checkpoint carries the history up to here.
    pub seq: u64,
    /// When it was taken, milliseconds since the Unix epoch.
    pub at: i64,
    /// The checkpoint.
    pub checkpoint: Checkpoint,
}

/// `session/checkpoints` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointsResult {
    /// Oldest first.
    pub checkpoints: Vec<CheckpointEntry>,
}

/// `session/fork` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ForkParams {
    /// The session to fork.
    pub session_id: Uuid,
    /// The checkpoint to fork at; default the latest.
    #[serde(default)]
    pub checkpoint_id: Option<u32>,
    /// Title of the new session; default the parent's with " (fork)".
    #[serde(default)]
    pub title: Option<String>,
    /// A prompt to send once the new session's agent is ready.
    #[serde(default)]
    pub prompt: Option<String>,
}

/// `session/clone` params: a new session with the same agent, model, settings and repository,
/// a fresh history and a fresh worktree from the same base branch.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CloneParams {
    /// The session to clone.
    pub session_id: Uuid,
    /// Title of the new session.
    #[serde(default)]
    pub title: Option<String>,
    /// First prompt of the new session.
    #[serde(default)]
    pub prompt: Option<String>,
}

/// `session/rewind` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RewindParams {
    /// The session whose worktree to reset.
    pub session_id: Uuid,
    /// The checkpoint to restore.
    pub checkpoint_id: u32,
}

/// `session/rewind` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RewindResult {
    /// The checkpoint restored.
    pub restored: Checkpoint,
    /// The checkpoint that keeps the state the rewind replaced.
    pub saved: Checkpoint,
}

/// `review/diff` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DiffParams {
    /// The session to review.
    pub session_id: Uuid,
    /// Only per-file figures, no hunks (for huge changes).
    #[serde(default)]
    pub stats_only: bool,
    /// Most bytes of hunk text to return; files beyond it come with stats only and `truncated`
    /// is set. Default 4 MiB.
    #[serde(default)]
    pub max_bytes: Option<u64>,
}

/// How a file differs from the base.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// New in the session (tracked or not).
    Added,
    /// Changed.
    Modified,
    /// Removed.
    Deleted,
    /// Moved, possibly with changes; `oldPath` names the original.
    Renamed,
    /// Changed between file, symlink or submodule.
    TypeChanged,
}

/// A line of a hunk.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// Unchanged context.
    Context,
    /// Added in the session.
    Added,
    /// Removed in the session.
    Removed,
}

/// One line of a hunk.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DiffLine {
    /// Context, added or removed.
    pub kind: LineKind,
    /// The line's text without its line break.
    pub text: String,
}

/// Review state of a hunk still in the diff.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HunkState {
    /// Not reviewed yet.
    Pending,
    /// Accepted: staged in the worktree's index (or already committed on the branch).
    Accepted,
}

/// A contiguous change in a file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Hunk {
    /// Id that stays the same while the file's change is the same; used by `review/apply`.
    pub id: String,
    /// The `@@ -a,b +c,d @@` header.
    pub header: String,
    /// First line in the base (1-based).
    pub old_start: u32,
    /// Lines in the base.
    pub old_lines: u32,
    /// First line in the worktree (1-based).
    pub new_start: u32,
    /// Lines in the worktree.
    pub new_lines: u32,
    /// The lines, in order.
    pub lines: Vec<DiffLine>,
    /// Pending or accepted.
    pub state: HunkState,
}

/// One changed file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FileDiff {
    /// Path in the worktree, relative to its root.
    pub path: String,
    /// Path in the base, for renames.
    pub old_path: Option<String>,
    /// How it differs.
    pub status: FileStatus,
    /// Binary files have no hunks; review them as whole files.
    pub binary: bool,
    /// Lines added.
    pub additions: u32,
    /// Lines removed.
    pub deletions: u32,
    /// The hunks; null in stats-only mode or beyond the byte cap.
    pub hunks: Option<Vec<Hunk>>,
}

/// Totals of a diff.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DiffStats {
    /// Files changed.
    pub files_changed: u32,
    /// Lines added.
    pub additions: u32,
    /// Lines removed.
    pub deletions: u32,
}

/// A hunk the user rejected (reverted in the worktree).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RejectedHunk {
    /// The hunk's id when it was rejected.
    pub id: String,
    /// Its file.
    pub path: String,
    /// Its header when it was rejected.
    pub header: String,
    /// When, milliseconds since the Unix epoch.
    pub at: i64,
}

/// `review/diff` (and `review/apply`) result: the session's changes against its base commit.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReviewDiff {
    /// The commit the session started from.
    pub base_commit: String,
    /// Changed files, by path.
    pub files: Vec<FileDiff>,
    /// Totals over every file.
    pub stats: DiffStats,
    /// True when hunks were left out because of `maxBytes`.
    pub truncated: bool,
    /// Hunks rejected so far, newest last.
    pub rejected: Vec<RejectedHunk>,
}

/// `review/file` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FileParams {
    /// The session.
    pub session_id: Uuid,
    /// Path relative to the worktree.
    pub path: String,
}

/// `review/file` result: a file's base and current text, for an editor's diff view.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReviewFile {
    /// The path asked for.
    pub path: String,
    /// Text at the base commit; null when the file is new (or binary).
    pub base_text: Option<String>,
    /// Text in the worktree; null when deleted (or binary).
    pub current_text: Option<String>,
    /// True when either side is not text.
    pub binary: bool,
}

/// What to do with hunks or files under review.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReviewAction {
    /// Stage the change.
    Accept,
    /// Revert the change in the worktree (and unstage it).
    Reject,
    /// Undo an accept: the change is unstaged and back to pending, the worktree untouched.
    Unstage,
}

/// `review/apply` params. Give hunk ids, whole files, or both.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplyParams {
    /// The session.
    pub session_id: Uuid,
    /// Accept, reject, or undo an accept.
    pub action: ReviewAction,
    /// Hunks, by id from `review/diff`.
    #[serde(default)]
    pub hunk_ids: Vec<String>,
    /// Whole files, relative to the worktree.
    #[serde(default)]
    pub paths: Vec<String>,
}

/// `review/commit` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CommitParams {
    /// The session.
    pub session_id: Uuid,
    /// Commit message; default one made from the session's title and prompts.
    #[serde(default)]
    pub message: Option<String>,
    /// Commit only what is accepted (staged) instead of every change in the worktree.
    #[serde(default)]
    pub accepted_only: bool,
}

/// `review/commit` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CommitResult {
    /// The new commit on the session's branch.
    pub commit: String,
    /// Its message.
    pub message: String,
    /// Files it changed against its parent.
    pub files_changed: u32,
}

/// How `session/merge` lands a branch.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MergeStrategy {
    /// A merge commit with both histories (the default).
    #[default]
    Merge,
    /// One new commit on the base with the session's combined changes.
    Squash,
}

/// `session/merge` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MergeParams {
    /// The session whose branch to merge into its base branch.
    pub session_id: Uuid,
    /// Merge (default) or squash.
    #[serde(default)]
    pub strategy: Option<MergeStrategy>,
    /// Commit message; default one naming the session.
    #[serde(default)]
    pub message: Option<String>,
}

/// `session/merge` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MergeResult {
    /// True when the base branch now has the session's work.
    pub merged: bool,
    /// The commit made on the base branch.
    pub commit: Option<String>,
    /// The branch merged into.
    pub base_branch: String,
    /// Files that conflict; when any, nothing was changed.
    pub conflicts: Vec<String>,
}

/// A worktree or registration that no session accounts for.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OrphanedWorktree {
    /// Its directory.
    pub path: String,
    /// Why it is listed.
    pub reason: String,
}

/// `worktree/orphans` result: found at start-up and left in place for the user to decide.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OrphansResult {
    /// What was found.
    pub orphans: Vec<OrphanedWorktree>,
}

/// `session/archive` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveResult {
    /// The session, now `archived`.
    pub session: Session,
    /// The commit made of uncommitted worktree changes before the worktree was removed, if any.
    pub snapshot_commit: Option<String>,
    /// Bytes the removed worktree took on disk.
    pub freed_bytes: u64,
}

/// `worktree/gc` params.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GcParams {
    /// Only say what would be done.
    #[serde(default)]
    pub dry_run: bool,
    /// Also remove orphaned worktrees (no session uses them) and delete orphaned session branches
    /// (named like a session's, owned by none).
    #[serde(default)]
    pub orphans: bool,
    /// Remove orphaned worktrees and branches even when they hold uncommitted changes or commits
    /// found nowhere else.
    #[serde(default)]
    pub force: bool,
}

/// One session worktree's disk use.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SessionDiskUse {
    /// The session.
    pub session_id: Uuid,
    /// Its title, if any.
    pub title: Option<String>,
    /// Its worktree.
    pub path: String,
    /// Bytes under the worktree (0 once archived).
    pub bytes: u64,
    /// Whether it is archived.
    pub archived: bool,
}

/// What `worktree/gc` does (or would do) to free space.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GcActionKind {
    /// Archive a session the retention policy covers.
    ArchiveSession,
    /// Remove an orphaned worktree.
    RemoveOrphan,
    /// Delete a session branch that no session owns.
    DeleteBranch,
}

/// One thing `worktree/gc` frees.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GcAction {
    /// What is done.
    pub kind: GcActionKind,
    /// The session archived, for `archive_session`.
    pub session_id: Option<Uuid>,
    /// The directory removed; for `delete_branch`, the repository the branch is in.
    pub path: String,
    /// The branch deleted, for `delete_branch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Bytes it takes.
    pub bytes: u64,
    /// Why it qualifies.
    pub reason: String,
}

/// Something `worktree/gc` leaves alone because removing it could lose work.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GcKept {
    /// The session, when it is one.
    pub session_id: Option<Uuid>,
    /// The directory; for an orphaned branch, its repository.
    pub path: String,
    /// The orphaned session branch kept, when it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Why it is kept.
    pub reason: String,
    /// Commits on its branch that are not in its base, newest first (id and summary).
    pub unmerged_commits: Vec<String>,
}

/// `worktree/gc` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GcResult {
    /// Whether this only said what would be done.
    pub dry_run: bool,
    /// Every session worktree's disk use, largest first.
    pub sessions: Vec<SessionDiskUse>,
    /// Bytes all session worktrees take.
    pub total_bytes: u64,
    /// What was (or would be) freed.
    pub actions: Vec<GcAction>,
    /// What was left alone, and why.
    pub kept: Vec<GcKept>,
    /// Bytes freed (or that would be).
    pub freed_bytes: u64,
}

/// Formats `session/export` writes.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// A readable Markdown transcript (the default).
    #[default]
    Markdown,
    /// A standalone HTML page.
    Html,
    /// The session record and every event, as JSON.
    Json,
    /// The HTML page printed to a paginated PDF (by headless Chromium), base64-encoded.
    Pdf,
}

/// How `session/export`'s `content` is encoded.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ExportEncoding {
    /// The text itself (Markdown, HTML and JSON).
    #[default]
    Text,
    /// The bytes in standard base64 (PDF).
    Base64,
}

impl ExportEncoding {
    fn is_text(&self) -> bool {
        *self == Self::Text
    }
}

/// `session/export` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExportParams {
    /// The session to export.
    pub session_id: Uuid,
    /// Markdown (default), HTML, JSON or PDF.
    #[serde(default)]
    pub format: Option<ExportFormat>,
}

/// `session/export` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExportResult {
    /// The format written.
    pub format: ExportFormat,
    /// Its MIME type.
    pub mime_type: String,
    /// A suggested file name.
    pub file_name: String,
    /// The export itself.
    pub content: String,
    /// How `content` is encoded: absent for text, `base64` for PDF.
    #[serde(default, skip_serializing_if = "ExportEncoding::is_text")]
    pub encoding: ExportEncoding,
}
