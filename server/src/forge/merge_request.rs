//! GitLab's answers read into the session's [`PullRequest`] and into the review notes sent to the
//! agent. GitLab has no review verdicts like GitHub's: an approval makes it `approved`, notes by
//! people make it `commented`. Its checks are the latest pipeline of the head commit.

use arbor_protocol::{ChecksState, ChecksSummary, PullRequest, PullRequestState, ReviewDecision};
use serde_json::Value;

use super::body::ReviewNote;
use super::{ForgeError, ForgeKind};

static NULL: Value = Value::Null;

/// What Arbor reads about one merge request; `Null` for what was not read (a merge request just
/// opened has no approvals, pipelines or notes).
#[derive(Clone, Copy)]
pub struct Answers<'a> {
    /// `GET /projects/:id/merge_requests/:iid` (or the answer to creating it).
    pub merge_request: &'a Value,
    /// `…/approvals`.
    pub approvals: &'a Value,
    /// `…/pipelines`, newest first.
    pub pipelines: &'a Value,
    /// `…/notes`.
    pub notes: &'a Value,
}

impl Default for Answers<'_> {
    fn default() -> Self {
        Answers { merge_request: &NULL, approvals: &NULL, pipelines: &NULL, notes: &NULL }
    }
}

/// The merge request of `repository` that `answers` describe.
pub fn read(repository: &str, answers: Answers<'_>, now: i64) -> Result<PullRequest, ForgeError> {
    let mr = answers.merge_request;
    let unexpected = |what: &str| ForgeError::Unexpected { forge: ForgeKind::GitLab, what: what.to_string() };
    let text = |value: &Value, what: &str| value.as_str().map(str::to_string).ok_or_else(|| unexpected(what));
    let iid = mr["iid"].as_u64().ok_or_else(|| unexpected("iid"))?;
    let title = text(&mr["title"], "title")?;
    let draft = mr["draft"].as_bool().or(mr["work_in_progress"].as_bool()).unwrap_or(false);
    let state = match mr["state"].as_str() {
        Some("merged") => PullRequestState::Merged,
        Some("closed") => PullRequestState::Closed,
        _ if draft => PullRequestState::Draft,
        _ => PullRequestState::Open,
    };
    let head_commit = text(&mr["sha"], "head commit")?;
    let notes = review_notes(answers.notes);
    let approved = answers.approvals["approved_by"].as_array().is_some_and(|approvers| !approvers.is_empty());
    let review = match (approved, notes.is_empty()) {
        (true, _) => ReviewDecision::Approved,
        (false, false) => ReviewDecision::Commented,
        (false, true) => ReviewDecision::None,
    };
    let merge_commit = (state == PullRequestState::Merged)
        .then(|| mr["merge_commit_sha"].as_str().or(mr["squash_commit_sha"].as_str()).map(str::to_string))
        .flatten();
    Ok(PullRequest {
        forge: ForgeKind::GitLab.as_str().into(),
        repository: repository.to_string(),
        number: iid,
        url: text(&mr["web_url"], "address")?,
        title,
        state,
        head_branch: text(&mr["source_branch"], "source branch")?,
        base_branch: text(&mr["target_branch"], "target branch")?,
        checks: pipeline_checks(answers.pipelines, &head_commit),
        head_commit,
        review,
        review_comments: notes.len() as u32,
        merge_commit,
        synced_at: now,
    })
}

/// The latest pipeline of `head` as the checks: GitLab shows a merge request's state by it, and
/// an older, retried pipeline no longer counts.
fn pipeline_checks(pipelines: &Value, head: &str) -> ChecksSummary {
    let latest = pipelines
        .as_array()
        .into_iter()
        .flatten()
        .filter(|pipeline| pipeline["sha"].as_str() == Some(head))
        .max_by_key(|pipeline| pipeline["id"].as_u64().unwrap_or(0));
    let Some(pipeline) = latest else { return ChecksSummary::default() };
    let mut summary = ChecksSummary { total: 1, ..ChecksSummary::default() };
    summary.state = match pipeline["status"].as_str() {
        Some("success" | "skipped") => {
            summary.passed = 1;
            ChecksState::Success
        }
        Some("failed" | "canceled") => {
            summary.failed = 1;
            ChecksState::Failure
        }
        _ => {
            summary.pending = 1;
            ChecksState::Pending
        }
    };
    summary
}

/// The notes people wrote (GitLab's own, such as "approved this merge request", are left out),
/// those on a line of the diff with their place.
pub fn review_notes(notes: &Value) -> Vec<ReviewNote> {
    let by_people = notes.as_array().into_iter().flatten().filter(|note| !note["system"].as_bool().unwrap_or(false));
    by_people
        .filter_map(|note| {
            let position = &note["position"];
            let what = match (position["new_path"].as_str(), position["new_line"].as_u64()) {
                (Some(path), Some(line)) => format!("on {path}:{line}"),
                (Some(path), None) => format!("on {path}"),
                _ => "commented".to_string(),
            };
            ReviewNote::new(note["author"]["username"].as_str(), what, &note["body"])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_latest_pipeline_of_the_head_commit_is_the_check() {
        let pipelines = json!([
            { "id": 3, "sha": "old", "status": "failed" },
            { "id": 5, "sha": "head", "status": "success" },
            { "id": 4, "sha": "head", "status": "failed" },
        ]);
        let checks = pipeline_checks(&pipelines, "head");
        assert_eq!((checks.state, checks.passed, checks.total), (ChecksState::Success, 1, 1));
        assert_eq!(pipeline_checks(&json!([{ "id": 1, "sha": "head", "status": "running" }]), "head").pending, 1);
        assert_eq!(pipeline_checks(&Value::Null, "head").state, ChecksState::None);
    }

    #[test]
    fn system_notes_are_not_review_comments() {
        let notes = json!([
            { "body": "approved this merge request", "system": true, "author": { "username": "ana" } },
            { "body": "Rename this.", "system": false, "author": { "username": "bo" },
              "position": { "new_path": "src/lib.rs", "new_line": 3 } },
            { "body": "Looks close.", "system": false, "author": { "username": "ana" } },
        ]);
        let notes = review_notes(&notes);
        assert_eq!(notes.len(), 2);
        assert_eq!((notes[0].author.as_str(), notes[0].what.as_str()), ("@bo", "on src/lib.rs:3"));
        assert_eq!(notes[1].what, "commented");
    }
}
