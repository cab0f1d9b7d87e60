//! Tasks and trials: several attempts at one objective, compared side by side, the best one
//! promoted. Also workflows and agent profiles, which tasks and sessions can name.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::permissions::PermissionRule;
use crate::review::{MergeResult, MergeStrategy};
use crate::types::{Session, SessionConfig, Usage};

/// Where a task stands, following its trials.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// No trial yet.
    Open,
    /// At least one trial is waiting or working.
    Running,
    /// Every trial has finished; none promoted yet.
    Done,
    /// A trial was promoted into the base branch.
    Promoted,
    /// Every trial was abandoned.
    Abandoned,
}

/// An objective, such as "add E2E tests for the login flow".
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// Arbor's id for the task.
    pub id: Uuid,
    /// Short title.
    pub title: String,
    /// What is wanted; the default prompt of its trials.
    pub description: String,
    /// Root of the repository the task works on.
    pub project: String,
    /// Branch trials start from and the promoted trial merges into.
    pub base_branch: String,
    /// Command that checks a trial (such as the test suite), run in the trial's worktree.
    pub check_command: Option<String>,
    /// Command run in each new trial worktree before its agent starts.
    pub setup_command: Option<String>,
    /// Workflow attached to the task's trials.
    pub workflow: Option<String>,
    /// The task's permission rules, applied to every trial: those given to `task/new`, then
    /// "allow always" answers given in its trials, in order.
    #[serde(default)]
    pub permissions: Vec<PermissionRule>,
    /// Follows the trials.
    pub status: TaskStatus,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Time of the last change, milliseconds since the Unix epoch.
    pub updated_at: i64,
}

/// Where a trial stands, following its latest session.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TrialStatus {
    /// Its session waits to start.
    Pending,
    /// Its agent is working.
    Running,
    /// Its agent finished its turn.
    Done,
    /// Its session failed, timed out or died.
    Failed,
    /// It was promoted into the task's base branch.
    Promoted,
    /// Another trial was promoted, or it was given up.
    Abandoned,
}

/// The result of running a task's check command in a trial's worktree.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    /// The command run.
    pub command: String,
    /// Its exit code (null when it was killed).
    pub exit_code: Option<i32>,
    /// True when it exited with 0.
    pub passed: bool,
    /// How long it ran, in milliseconds.
    pub duration_ms: u64,
    /// One line: the runner's own summary when recognised, else the last line of output.
    pub summary: String,
    /// Tests passed, when the runner's summary was recognised.
    pub tests_passed: Option<u32>,
    /// Tests failed, when the runner's summary was recognised.
    pub tests_failed: Option<u32>,
    /// When it finished, milliseconds since the Unix epoch.
    pub at: i64,
}

/// One attempt at a task.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Trial {
    /// Arbor's id for the trial.
    pub id: Uuid,
    /// The task.
    pub task_id: Uuid,
    /// 1, 2, 3 … within the task.
    pub number: u32,
    /// Agent id.
    pub agent: String,
    /// Model, if chosen.
    pub model: Option<String>,
    /// Agent profile, if one was used.
    pub profile: Option<String>,
    /// The prompt given.
    pub prompt: String,
    /// Its sessions, oldest first (a follow-up session after a failed one joins the same trial).
    pub session_ids: Vec<Uuid>,
    /// Follows its latest session.
    pub status: TrialStatus,
    /// The latest check, if any.
    pub check: Option<CheckResult>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// `task/new` params.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaskNewParams {
    /// Short title.
    pub title: String,
    /// What is wanted; default the title.
    #[serde(default)]
    pub description: Option<String>,
    /// A directory inside the repository to work on.
    pub cwd: String,
    /// Base branch; default the repository's current branch.
    #[serde(default)]
    pub base_branch: Option<String>,
    /// Check command, such as `cargo test`.
    #[serde(default)]
    pub check_command: Option<String>,
    /// Setup command run in each new trial worktree.
    #[serde(default)]
    pub setup_command: Option<String>,
    /// Workflow attached to the task's trials.
    #[serde(default)]
    pub workflow: Option<String>,
    /// Permission rules for every trial of the task.
    #[serde(default)]
    pub permissions: Vec<PermissionRule>,
}

/// `task/list` params.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaskListParams {
    /// Only tasks in these statuses.
    #[serde(default)]
    pub status: Option<Vec<TaskStatus>>,
}

/// `task/list` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaskListResult {
    /// Newest first.
    pub tasks: Vec<Task>,
}

/// Params naming one task.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaskIdParams {
    /// The task.
    pub task_id: Uuid,
}

/// A trial with its sessions.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrialDetail {
    /// The trial.
    pub trial: Trial,
    /// Its sessions, oldest first.
    pub sessions: Vec<Session>,
}

/// `task/get` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaskDetail {
    /// The task.
    pub task: Task,
    /// Its trials, in order.
    pub trials: Vec<TrialDetail>,
}

/// One trial to start.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrialSpec {
    /// Agent id; may be left out when `profile` names one.
    #[serde(default)]
    pub agent: Option<String>,
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// Agent profile from the config file.
    #[serde(default)]
    pub profile: Option<String>,
    /// Prompt; default the task's description.
    #[serde(default)]
    pub prompt: Option<String>,
    /// Session settings (for the scripted agent, its script).
    #[serde(default)]
    pub config: Option<SessionConfig>,
}

/// `trial/new` params: one or several trials at once.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrialNewParams {
    /// The task.
    pub task_id: Uuid,
    /// The trials to start, e.g. the same prompt on three agents.
    pub trials: Vec<TrialSpec>,
}

/// `trial/new` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrialNewResult {
    /// The trials started, each with its first session.
    pub trials: Vec<TrialDetail>,
}

/// Params naming one trial.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrialIdParams {
    /// The trial.
    pub trial_id: Uuid,
}

/// `trial/retry` params: a follow-up session in the same trial, fresh from the base.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrialRetryParams {
    /// The trial.
    pub trial_id: Uuid,
    /// Prompt; default the trial's.
    #[serde(default)]
    pub prompt: Option<String>,
}

/// One row of `trial/compare`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CompareRow {
    /// The trial.
    pub trial_id: Uuid,
    /// Its number in the task.
    pub number: u32,
    /// Its status.
    pub status: TrialStatus,
    /// Agent id.
    pub agent: String,
    /// Model.
    pub model: Option<String>,
    /// The latest session's branch.
    pub branch: Option<String>,
    /// Files changed against the base.
    pub files_changed: u32,
    /// Lines added.
    pub additions: u32,
    /// Lines removed.
    pub deletions: u32,
    /// Tokens and cost over all the trial's sessions.
    pub usage: Usage,
    /// Wall time of the trial's sessions, from creation to their last event, in milliseconds.
    pub wall_time_ms: u64,
    /// The latest check.
    pub check: Option<CheckResult>,
    /// The files it changed.
    pub files: Vec<String>,
}

/// A file two or more trials changed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SharedFile {
    /// The file.
    pub path: String,
    /// The trials that changed it, by number.
    pub trials: Vec<u32>,
}

/// `trial/compare` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CompareResult {
    /// The task.
    pub task_id: Uuid,
    /// One row per trial, in order.
    pub rows: Vec<CompareRow>,
    /// Files that two or more trials changed.
    pub shared_files: Vec<SharedFile>,
}

/// `trial/promote` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PromoteParams {
    /// The trial to land.
    pub trial_id: Uuid,
    /// Merge (default) or squash.
    #[serde(default)]
    pub strategy: Option<MergeStrategy>,
    /// Commit message.
    #[serde(default)]
    pub message: Option<String>,
}

/// `trial/promote` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PromoteResult {
    /// The merge; on conflicts nothing changed and no trial was abandoned.
    pub merge: MergeResult,
    /// The commit made of the trial's uncommitted work before merging, if any.
    pub committed: Option<String>,
    /// Trials marked abandoned (their branches are kept).
    pub abandoned: Vec<Uuid>,
}

/// `task/changed` notification params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaskChangedNotification {
    /// The task as it is now.
    pub task: Task,
}

/// A named prompt plan.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Workflow {
    /// Its name (the file name without `.md`).
    pub name: String,
    /// Its first heading, or the name.
    pub title: String,
    /// The file it comes from.
    pub path: String,
    /// Its text.
    pub text: String,
}

/// `workflow/list` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowListParams {
    /// A directory in the repository whose `.arbor/workflows/` to read, besides the user's.
    #[serde(default)]
    pub cwd: Option<String>,
}

/// `workflow/list` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowListResult {
    /// Repository workflows first (they win over the user's of the same name).
    pub workflows: Vec<Workflow>,
}

/// A named agent, model and settings, from the config file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AgentProfile {
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Agent id.
    pub agent: String,
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// Settings (system prompt, permission mode …).
    #[serde(default)]
    pub config: Option<SessionConfig>,
    /// Permission rules for sessions started from the profile.
    #[serde(default)]
    pub permissions: Vec<PermissionRule>,
    /// Extra directories for sessions started from the profile (see `session/new`).
    #[serde(default)]
    pub additional_dirs: Vec<String>,
    /// Skills for the profile's sessions: directories each holding a `SKILL.md` (and any files
    /// it refers to), named by the directory.
    #[serde(default)]
    pub skills: Vec<String>,
    /// The profile's memory: a Markdown file whose text seeds it the first time. Arbor then keeps
    /// the memory's versions in its own store, saving the agent's edits after each turn; the
    /// file itself is only read.
    #[serde(default)]
    pub memory: Option<String>,
}

/// `profile/memory` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProfileMemoryParams {
    /// The profile's name.
    pub profile: String,
}

/// `profile/memoryRestore` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MemoryRestoreParams {
    /// The profile's name.
    pub profile: String,
    /// The version whose text becomes the memory again (saved as a new version).
    pub version: u32,
}

/// One saved version of a profile's memory.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MemoryVersion {
    /// 1, 2, … in the order they were saved.
    pub version: u32,
    /// When it was saved (ms since the Unix epoch).
    pub saved_at: i64,
    /// The session whose agent wrote it, when one did.
    pub session_id: Option<Uuid>,
    /// How it came to be: "seeded from …", "edited by the agent", "restored from version N".
    pub note: String,
}

/// `profile/memory` and `profile/memoryRestore` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProfileMemoryResult {
    /// The profile's name.
    pub profile: String,
    /// The memory's text now (the newest version's).
    pub text: String,
    /// Every version, oldest first.
    pub versions: Vec<MemoryVersion>,
}

/// `profile/list` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProfileListResult {
    /// Every profile in the config file, by name.
    pub profiles: Vec<AgentProfile>,
}
