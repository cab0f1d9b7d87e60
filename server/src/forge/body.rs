//! Text made from a session for the forge (the pull request's body) and from the forge for the
//! agent (the review prompt).

use arbor_protocol::{CheckResult, Session};
use serde_json::Value;

use crate::git::FileStat;

/// The agent's last reply is quoted up to this many characters.
const REPLY_LIMIT: usize = 2000;
/// A prompt is quoted up to this many characters.
const PROMPT_LIMIT: usize = 500;

/// What a pull request's body is made of.
pub struct BodyFacts<'a> {
    /// The session.
    pub session: &'a Session,
    /// Its prompts, in order.
    pub prompts: &'a [String],
    /// The agent's last reply, as the summary of what changed.
    pub last_reply: Option<&'a str>,
    /// The files changed against the base.
    pub files: &'a [FileStat],
    /// The trial's latest check, for a trial's session.
    pub check: Option<&'a CheckResult>,
}

/// The pull request's body in Markdown.
pub fn pull_request_body(facts: &BodyFacts<'_>) -> String {
    let session = facts.session;
    let mut body = String::new();
    if let Some(reply) = facts.last_reply.map(str::trim).filter(|reply| !reply.is_empty()) {
        body.push_str("## Summary\n\n");
        body.push_str(&shorten(reply, REPLY_LIMIT));
        body.push_str("\n\n");
    }
    if !facts.prompts.is_empty() {
        body.push_str("## Prompts\n\n");
        for prompt in facts.prompts {
            body.push_str(&format!("- {}\n", shorten(prompt.trim(), PROMPT_LIMIT).replace('\n', "\n  ")));
        }
        body.push('\n');
    }
    let (added, removed) =
        facts.files.iter().fold((0, 0), |(added, removed), file| (added + file.insertions, removed + file.deletions));
    body.push_str(&format!("## Files ({} changed, +{added} −{removed})\n\n", facts.files.len()));
    for file in facts.files {
        body.push_str(&format!("- `{}` (+{} −{})\n", file.path, file.insertions, file.deletions));
    }
    body.push('\n');
    if let Some(check) = facts.check {
        let verdict = if check.passed { "passed" } else { "failed" };
        body.push_str(&format!("## Check\n\n`{}` {verdict}: {}\n\n", check.command, check.summary));
    }
    let usage = session.usage;
    body.push_str(&format!(
        "---\nMade with Arbor: {} agent{}, {} input and {} output tokens, ${:.4}.\n",
        session.agent,
        session.agent_model.as_ref().or(session.model.as_ref()).map(|model| format!(" ({model})")).unwrap_or_default(),
        usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens,
        usage.output_tokens,
        usage.cost_usd,
    ));
    body
}

/// One review or comment on a pull or merge request, as the agent is told it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewNote {
    /// `@login`, or "A reviewer" when the forge names no one.
    pub author: String,
    /// What the note is: "requested changes", "commented", "on src/lib.rs:3".
    pub what: String,
    /// Its text.
    pub text: String,
}

impl ReviewNote {
    /// A note by `login` with `body` as its text; None when the body is empty (a bare approval).
    pub fn new(login: Option<&str>, what: String, body: &Value) -> Option<ReviewNote> {
        let text = body.as_str().map(str::trim).filter(|text| !text.is_empty())?;
        let author = login.map(|login| format!("@{login}")).unwrap_or_else(|| "A reviewer".into());
        Some(ReviewNote { author, what, text: text.to_string() })
    }
}

/// The prompt that hands the review `notes` of `reference` ("pull request #12", "merge request
/// !12") to the agent, and how many it holds; None when there is nothing to send.
pub fn review_prompt(reference: &str, url: &str, notes: &[ReviewNote]) -> Option<(String, u32)> {
    if notes.is_empty() {
        return None;
    }
    let items: Vec<String> =
        notes.iter().map(|note| format!("- {} {}: {}", note.author, note.what, note.text.replace('\n', "\n  "))).collect();
    let prompt = format!(
        "The {reference} ({url}) was reviewed. Address these review comments, then reply with what you changed:\n\n{}\n",
        items.join("\n")
    );
    Some((prompt, notes.len() as u32))
}

fn shorten(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((end, _)) => format!("{} …", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_review_prompt_names_each_comment_and_its_place() {
        let reviews = json!([
            { "user": { "login": "ana" }, "state": "CHANGES_REQUESTED", "body": "Please add a test." },
            { "user": { "login": "bo" }, "state": "APPROVED", "body": "" },
        ]);
        let comments = json!([{ "user": { "login": "bo" }, "path": "src/lib.rs", "line": 3, "body": "Rename this." }]);
        let notes = crate::forge::pull::review_notes(&reviews, &comments);
        let (prompt, count) = review_prompt("pull request #7", "https://example.invalid/pull/7", &notes).unwrap();
        assert_eq!(count, 2);
        assert!(prompt.contains("@ana requested changes: Please add a test."), "{prompt}");
        assert!(prompt.contains("@bo on src/lib.rs:3: Rename this."), "{prompt}");
        assert!(prompt.starts_with("The pull request #7 (https://example.invalid/pull/7) was reviewed."), "{prompt}");
        assert!(review_prompt("pull request #7", "u", &[]).is_none());
    }
}
