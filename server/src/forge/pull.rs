//! GitHub's answers read into the session's [`PullRequest`] and into the review notes sent to the
//! agent, and what changed between two reads of a pull request (of either forge) in words.

use arbor_protocol::{ChecksState, ChecksSummary, PullRequest, PullRequestState, ReviewDecision};
use serde_json::Value;

use super::body::ReviewNote;
use super::{ForgeError, ForgeKind};

/// What Arbor reads about one pull request.
pub struct Answers<'a> {
    /// `GET /repos/{repository}/pulls/{number}` (or the answer to creating it).
    pub pull: &'a Value,
    /// Its reviews; `Null` when not read (a pull request just opened has none).
    pub reviews: &'a Value,
    /// Its review comments; `Null` when not read.
    pub comments: &'a Value,
    /// The check runs on its head commit; `Null` when not read.
    pub checks: &'a Value,
}

/// The pull request of `repository` that `answers` describe.
pub fn read(repository: &str, answers: Answers<'_>, now: i64) -> Result<PullRequest, ForgeError> {
    let pull = answers.pull;
    let text = |value: &Value, what: &str| {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ForgeError::Unexpected { forge: ForgeKind::GitHub, what: what.to_string() })
    };
    let number = pull["number"]
        .as_u64()
        .ok_or_else(|| ForgeError::Unexpected { forge: ForgeKind::GitHub, what: "number".into() })?;
    let merged = pull["merged"].as_bool().unwrap_or(false) || pull["merged_at"].is_string();
    let state = match (pull["state"].as_str(), merged, pull["draft"].as_bool().unwrap_or(false)) {
        (_, true, _) => PullRequestState::Merged,
        (Some("closed"), false, _) => PullRequestState::Closed,
        (_, false, true) => PullRequestState::Draft,
        _ => PullRequestState::Open,
    };
    let reviews = answers.reviews.as_array().map(Vec::as_slice).unwrap_or_default();
    let with_text = reviews.iter().filter(|review| review["body"].as_str().is_some_and(|body| !body.trim().is_empty()));
    let line_comments = answers.comments.as_array().map_or(0, Vec::len);
    Ok(PullRequest {
        forge: ForgeKind::GitHub.as_str().into(),
        repository: repository.to_string(),
        number,
        url: text(&pull["html_url"], "address")?,
        title: text(&pull["title"], "title")?,
        state,
        head_branch: text(&pull["head"]["ref"], "head branch")?,
        base_branch: text(&pull["base"]["ref"], "base branch")?,
        head_commit: text(&pull["head"]["sha"], "head commit")?,
        review: decision(reviews),
        checks: checks(answers.checks),
        review_comments: (with_text.count() + line_comments) as u32,
        merge_commit: merged.then(|| pull["merge_commit_sha"].as_str().map(str::to_string)).flatten(),
        synced_at: now,
    })
}

/// Each reviewer's latest verdict counts: any "changes requested" wins, then any approval.
fn decision(reviews: &[Value]) -> ReviewDecision {
    let mut latest: Vec<(&str, &str)> = Vec::new();
    for review in reviews {
        let (Some(user), Some(state)) = (review["user"]["login"].as_str(), review["state"].as_str()) else { continue };
        match state {
            "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED" => {
                latest.retain(|(reviewer, _)| *reviewer != user);
                latest.push((user, state));
            }
            "COMMENTED" if !latest.iter().any(|(reviewer, _)| *reviewer == user) => latest.push((user, state)),
            _ => {}
        }
    }
    let has = |wanted: &str| latest.iter().any(|(_, state)| *state == wanted);
    if has("CHANGES_REQUESTED") {
        ReviewDecision::ChangesRequested
    } else if has("APPROVED") {
        ReviewDecision::Approved
    } else if has("COMMENTED") {
        ReviewDecision::Commented
    } else {
        ReviewDecision::None
    }
}

/// The check runs counted: a run is pending until completed, and then passed or failed by its
/// conclusion.
fn checks(answer: &Value) -> ChecksSummary {
    let mut summary = ChecksSummary::default();
    for run in answer["check_runs"].as_array().into_iter().flatten() {
        summary.total += 1;
        match (run["status"].as_str(), run["conclusion"].as_str()) {
            (Some("completed"), Some("success" | "neutral" | "skipped")) => summary.passed += 1,
            (Some("completed"), _) => summary.failed += 1,
            _ => summary.pending += 1,
        }
    }
    summary.state = match summary {
        ChecksSummary { total: 0, .. } => ChecksState::None,
        ChecksSummary { failed: 1.., .. } => ChecksState::Failure,
        ChecksSummary { pending: 1.., .. } => ChecksState::Pending,
        _ => ChecksState::Success,
    };
    summary
}

/// The reviews with text, then the review comments on lines of the diff, as notes for the agent.
pub fn review_notes(reviews: &Value, comments: &Value) -> Vec<ReviewNote> {
    let mut notes = Vec::new();
    for review in reviews.as_array().into_iter().flatten() {
        let verdict = match review["state"].as_str() {
            Some("APPROVED") => "approved",
            Some("CHANGES_REQUESTED") => "requested changes",
            _ => "commented",
        };
        notes.extend(ReviewNote::new(author(review), verdict.to_string(), &review["body"]));
    }
    for comment in comments.as_array().into_iter().flatten() {
        let path = comment["path"].as_str().unwrap_or("the diff");
        let place = match comment["line"].as_u64().or_else(|| comment["original_line"].as_u64()) {
            Some(line) => format!("on {path}:{line}"),
            None => format!("on {path}"),
        };
        notes.extend(ReviewNote::new(author(comment), place, &comment["body"]));
    }
    notes
}

fn author(item: &Value) -> Option<&str> {
    item["user"]["login"].as_str()
}

/// What differs between two reads of a pull request, one phrase each; empty when nothing a
/// user cares about changed (the sync time always does).
pub fn changes(before: &PullRequest, after: &PullRequest) -> Vec<String> {
    let mut changes = Vec::new();
    if before.state != after.state {
        changes.push(match after.state {
            PullRequestState::Open if before.state == PullRequestState::Draft => "marked ready for review".to_string(),
            PullRequestState::Open => "reopened".to_string(),
            PullRequestState::Draft => "turned into a draft".to_string(),
            PullRequestState::Closed => "closed without merging".to_string(),
            PullRequestState::Merged => "merged".to_string(),
        });
    }
    if before.review != after.review {
        changes.push(match after.review {
            ReviewDecision::None => "reviews dismissed".to_string(),
            ReviewDecision::Commented => "reviewed with comments".to_string(),
            ReviewDecision::Approved => "approved".to_string(),
            ReviewDecision::ChangesRequested => "changes requested".to_string(),
        });
    }
    if before.checks != after.checks {
        let checks = after.checks;
        changes.push(match checks.state {
            ChecksState::None => "no checks".to_string(),
            ChecksState::Pending => format!("checks running ({} of {})", checks.pending, checks.total),
            ChecksState::Success => format!("checks passed ({} of {})", checks.passed, checks.total),
            ChecksState::Failure => format!("checks failed ({} of {})", checks.failed, checks.total),
        });
    }
    if after.review_comments > before.review_comments {
        changes.push(format!("{} new review comments", after.review_comments - before.review_comments));
    }
    if before.head_commit != after.head_commit {
        changes.push(format!("head moved to {}", &after.head_commit[..after.head_commit.len().min(12)]));
    }
    if before.title != after.title {
        changes.push(format!("retitled \"{}\"", after.title));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_latest_verdict_of_each_reviewer_counts() {
        let review = |user: &str, state: &str| json!({ "user": { "login": user }, "state": state, "body": "" });
        let reviews = [review("ana", "CHANGES_REQUESTED"), review("ana", "APPROVED"), review("bo", "COMMENTED")];
        assert_eq!(decision(&reviews), ReviewDecision::Approved);
        let reviews = [review("ana", "APPROVED"), review("bo", "CHANGES_REQUESTED")];
        assert_eq!(decision(&reviews), ReviewDecision::ChangesRequested);
        assert_eq!(decision(&[]), ReviewDecision::None);
    }

    #[test]
    fn checks_fail_as_soon_as_one_fails() {
        let runs = json!({ "check_runs": [
            { "status": "completed", "conclusion": "success" },
            { "status": "in_progress", "conclusion": null },
            { "status": "completed", "conclusion": "timed_out" },
        ] });
        let summary = checks(&runs);
        assert_eq!((summary.state, summary.passed, summary.pending, summary.failed), (ChecksState::Failure, 1, 1, 1));
        assert_eq!(checks(&Value::Null).state, ChecksState::None);
    }
}
