//! Pushing a session's branch and its pull request on the forge (GitHub, or GitLab's merge
//! request): the `pullRequest` a
//! session carries, and the params and results of `session/push`, `trial/push`, `session/pr` and
//! `session/sendReview`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where a pull request stands on the forge.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, strum::IntoStaticStr, strum::EnumIter)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PullRequestState {
    /// Open and ready for review.
    Open,
    /// Open as a draft.
    Draft,
    /// Closed without being merged.
    Closed,
    /// Merged on the forge.
    Merged,
}

impl PullRequestState {
    /// The wire name of the state.
    pub fn as_str(self) -> &'static str {
        // The name serde writes: strum applies the same rule, and tests/wire_names.rs checks
        // every variant against serde.
        self.into()
    }

    /// True while the forge can still change it (open or draft), so it is worth following.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Open | Self::Draft)
    }
}

/// What the reviews of a pull request add up to: each reviewer's latest verdict counts.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// No reviewer has approved or asked for changes yet.
    None,
    /// Someone commented without a verdict.
    Commented,
    /// At least one reviewer approved and none asks for changes.
    Approved,
    /// At least one reviewer asks for changes.
    ChangesRequested,
}

/// The combined result of the check runs on the pull request's head commit.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ChecksState {
    /// No check runs on the head commit.
    None,
    /// Some are still queued or running, none failed yet.
    Pending,
    /// Every check run succeeded (or was skipped or neutral).
    Success,
    /// At least one failed, timed out, was cancelled or needs action.
    Failure,
}

/// The check runs on the pull request's head commit, counted.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ChecksSummary {
    /// What they add up to.
    pub state: ChecksState,
    /// Check runs in all.
    pub total: u32,
    /// Those that succeeded, were skipped or neutral.
    pub passed: u32,
    /// Those that failed, timed out, were cancelled or need action.
    pub failed: u32,
    /// Those still queued or running.
    pub pending: u32,
}

impl Default for ChecksSummary {
    fn default() -> Self {
        Self { state: ChecksState::None, total: 0, passed: 0, failed: 0, pending: 0 }
    }
}

/// A session's pull request as Arbor last saw it on the forge. Shown on the session
/// (`pullRequest`) and carried by the `pr_opened` and `pr_updated` events.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PullRequest {
    /// The forge (`github` or `gitlab`).
    pub forge: String,
    /// The repository on the forge, `owner/name`.
    pub repository: String,
    /// The pull request's number in that repository.
    pub number: u64,
    /// The page that shows it, for a link.
    pub url: String,
    /// Its title.
    pub title: String,
    /// Open, draft, closed or merged.
    pub state: PullRequestState,
    /// The branch it merges (the session's branch as pushed).
    pub head_branch: String,
    /// The branch it merges into.
    pub base_branch: String,
    /// The head commit the forge has for it.
    pub head_commit: String,
    /// What the reviews add up to.
    pub review: ReviewDecision,
    /// The check runs on the head commit.
    pub checks: ChecksSummary,
    /// Review comments and reviews with text, which `session/sendReview` hands to the agent.
    pub review_comments: u32,
    /// The merge commit, once merged.
    pub merge_commit: Option<String>,
    /// When Arbor last read it from the forge, milliseconds since the Unix epoch.
    pub synced_at: i64,
}

impl PullRequest {
    /// One line a user can read: "PR #12 open · review approved · checks 3/3 passed" (on GitLab
    /// "MR !12 …").
    pub fn summary(&self) -> String {
        let review = match self.review {
            ReviewDecision::None => "no review yet",
            ReviewDecision::Commented => "review comments",
            ReviewDecision::Approved => "approved",
            ReviewDecision::ChangesRequested => "changes requested",
        };
        let checks = match self.checks.state {
            ChecksState::None => "no checks".to_string(),
            ChecksState::Pending => format!("checks {}/{} running", self.checks.pending, self.checks.total),
            ChecksState::Success => format!("checks {}/{} passed", self.checks.passed, self.checks.total),
            ChecksState::Failure => format!("checks {}/{} failed", self.checks.failed, self.checks.total),
        };
        let reference = if self.forge == "gitlab" { "MR !" } else { "PR #" };
        format!("{reference}{} {} · {review} · {checks}", self.number, self.state.as_str())
    }
}

/// Something a client can offer the user after a pull request event, described fully enough to
/// be done without knowing the event: a label for a button and the request to send.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SuggestedAction {
    /// Stable id (`delete_session`, `send_review`, `open_pull_request`).
    pub id: String,
    /// Label for a button or menu entry.
    pub label: String,
    /// The request that does it.
    pub method: String,
    /// Its params.
    pub params: serde_json::Value,
}

/// `session/push` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PushParams {
    /// The session whose branch to push.
    pub session_id: Uuid,
    /// The remote to push to; default the base branch's upstream remote, else the repository's
    /// only remote, else `origin`.
    #[serde(default)]
    pub remote: Option<String>,
}

/// `trial/push` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrialPushParams {
    /// The trial whose latest session's branch to push (its remaining work committed first).
    pub trial_id: Uuid,
    /// The remote, as in `session/push`.
    #[serde(default)]
    pub remote: Option<String>,
}

/// `session/push` and `trial/push` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PushResult {
    /// The remote pushed to.
    pub remote: String,
    /// Its URL, without any credentials.
    pub remote_url: String,
    /// The branch pushed (the same name on the remote).
    pub branch: String,
    /// The commit the remote branch now points at.
    pub commit: String,
    /// The commit Arbor committed first (trials only), when there was remaining work.
    #[serde(default)]
    pub committed: Option<String>,
}

/// `session/pr` params.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestParams {
    /// The session to open a pull request for. Its branch is pushed first.
    pub session_id: Uuid,
    /// Open it as a draft; default false (ready for review).
    #[serde(default)]
    pub draft: bool,
    /// Title; default the session's title.
    #[serde(default)]
    pub title: Option<String>,
    /// Body; default one made from the session (its prompts, what changed, the files, the
    /// trial's check, tokens and cost).
    #[serde(default)]
    pub body: Option<String>,
    /// The remote to push to, as in `session/push`.
    #[serde(default)]
    pub remote: Option<String>,
    /// The repository on the forge, `owner/name`; default the last two parts of the remote's URL.
    #[serde(default)]
    pub repository: Option<String>,
}

/// `session/sendReview` result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SendReviewResult {
    /// The prompt sent to the agent: the reviews and review comments of the pull request.
    pub prompt: String,
    /// How many reviews and comments it holds.
    pub comments: u32,
    /// True when it waits behind a running turn.
    pub queued: bool,
}
