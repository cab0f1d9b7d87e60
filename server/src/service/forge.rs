//! From session to pull request (a merge request on GitLab): `session/push`, `trial/push`,
//! `session/pr`, `session/sendReview`, and the task that follows open pull requests on their
//! forge (state, reviews, checks, merge) while a client is connected or their session is live.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use arbor_protocol::{
    CommitParams, Isolation, ListSessionsParams, PromptMode, PullRequest, PullRequestParams, PullRequestState,
    PushParams, PushResult, ResumeParams, SendReviewResult, Session, SessionEvent, SessionIdParams, SuggestedAction,
    TrialPushParams, method,
};
use serde_json::json;
use tokio::time::Instant;
use uuid::Uuid;

use super::{Result, Service, ServiceError};
use crate::forge::{self, ForgeError, ForgeKind, NewPull, body, pull};
use crate::git;

/// A pull request that keeps failing to sync is read again after at most this long.
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// Sessions read per page when the watcher looks for open pull requests at start-up.
const LIST_PAGE: u32 = 1000;

impl Service {
    /// `session/push`: pushes the session's branch (committed work only) to its remote.
    pub async fn session_push(&self, params: PushParams) -> Result<PushResult> {
        let session = self.load(params.session_id).await?;
        let pushed = self.push_branch(&session, params.remote).await?;
        Ok(pushed)
    }

    /// `trial/push`: commits what the trial's latest session left uncommitted, then pushes its
    /// branch.
    pub async fn trial_push(&self, params: TrialPushParams) -> Result<PushResult> {
        let (trial, _) = self.trial_and_task(params.trial_id).await?;
        let session = self.latest_session(&trial).await?;
        let cwd = PathBuf::from(&session.cwd);
        let dirty = tokio::task::spawn_blocking(move || git::has_uncommitted_changes(&cwd)).await??;
        let committed = if dirty {
            let commit = CommitParams { session_id: session.id, message: None, accepted_only: false };
            Some(self.review_commit(commit).await?.commit)
        } else {
            None
        };
        let mut pushed = self.push_branch(&session, params.remote).await?;
        pushed.committed = committed;
        Ok(pushed)
    }

    /// Pushes a session's branch and records it in the session's log.
    async fn push_branch(&self, session: &Session, remote: Option<String>) -> Result<PushResult> {
        let branch = session.branch.clone().ok_or_else(|| {
            ServiceError::InvalidState("the session has no branch to push (HEAD was detached)".into())
        })?;
        let cwd = PathBuf::from(&session.cwd);
        if !cwd.is_dir() {
            return Err(ServiceError::InvalidState(format!(
                "the session's directory {} no longer exists",
                session.cwd
            )));
        }
        // In place, the checkout is the user's own: what is uncommitted there is not the session's
        // to hold back a push.
        if session.isolation == Isolation::Worktree
            && tokio::task::spawn_blocking(move || git::has_uncommitted_changes(&cwd)).await??
        {
            return Err(ServiceError::InvalidState(
                "the session has uncommitted changes; commit them first (review/commit) so they are part of the push"
                    .into(),
            ));
        }
        let repo_root = PathBuf::from(&session.repo_root);
        let (remote, url) = self.remote_of(session, remote).await?;
        let token = self.forge.push_token(&url).await;
        let pushed_branch = branch.clone();
        let pushed =
            tokio::task::spawn_blocking(move || git::push::push(&repo_root, &pushed_branch, &remote, token)).await??;
        let notice = format!(
            "Pushed {branch} to {} ({}) at {}",
            pushed.remote,
            pushed.remote_url,
            &pushed.commit[..pushed.commit.len().min(12)]
        );
        self.append_events(session.id, vec![SessionEvent::Notice { message: notice }]).await?;
        Ok(PushResult {
            remote: pushed.remote,
            remote_url: pushed.remote_url,
            branch,
            commit: pushed.commit,
            committed: None,
        })
    }

    /// The remote a session's branch goes to (`named`, else as [`git::push::choose_remote`]
    /// picks) and its URL as configured.
    async fn remote_of(&self, session: &Session, named: Option<String>) -> Result<(String, String)> {
        let (root, base) = (PathBuf::from(&session.repo_root), session.base_branch.clone());
        let resolved =
            tokio::task::spawn_blocking(move || git::push::resolve_remote(&root, base.as_deref(), named.as_deref()))
                .await??;
        Ok(resolved)
    }

    /// `session/pr`: pushes the session's branch and opens a pull request for it against its
    /// base branch (a merge request when the remote is on GitLab); the session then follows it
    /// (`pullRequest`, `pr_opened`, `pr_updated`).
    pub async fn session_pr(&self, params: PullRequestParams) -> Result<PullRequest> {
        let session = self.load(params.session_id).await?;
        if let Some(open) = session.pull_request.as_ref().filter(|pull| pull.state.is_open()) {
            return Err(ServiceError::InvalidState(format!(
                "the session already has {} ({})",
                ForgeKind::named(&open.forge).reference(open.number),
                open.url
            )));
        }
        let (_, url) = self.remote_of(&session, params.remote.clone()).await?;
        let kind = self.forge.kind_of(&url);
        let base = session.base_branch.clone().ok_or_else(|| {
            ServiceError::InvalidState(format!("the session has no base branch to open a {} against", kind.noun()))
        })?;
        if let Some(repository) = &params.repository
            && !forge::valid_repository(kind, repository)
        {
            return Err(ServiceError::InvalidArgument(format!("repository must be owner/name, not {repository:?}")));
        }
        let title = match params.title.as_deref().map(str::trim) {
            Some("") => return Err(ServiceError::InvalidArgument("the title is empty".into())),
            Some(title) => title.to_string(),
            None => default_title(&session),
        };
        // Without a token nothing is pushed: the request fails before it changes anything.
        self.forge.token(kind).await?;
        let pushed = self.push_branch(&session, params.remote.clone()).await?;
        if pushed.commit == session.base_commit.clone().unwrap_or_default() {
            return Err(ServiceError::InvalidState(format!(
                "{} has no commits beyond {base}; there is nothing to open a {} for",
                pushed.branch,
                kind.noun()
            )));
        }
        let repository = match params.repository.clone() {
            Some(repository) => repository,
            None => forge::repository_from_url(&pushed.remote_url)
                .ok_or_else(|| ForgeError::UnknownRepository { forge: kind, url: pushed.remote_url.clone() })?,
        };
        let body = match params.body.clone() {
            Some(body) => body,
            None => self.pull_request_body(&session).await?,
        };
        let pull = NewPull {
            repository: &repository,
            title: &title,
            body: &body,
            head: &pushed.branch,
            base: &base,
            draft: params.draft,
        };
        let opened = self.forge.open(kind, &pull).await?;
        self.record_pull_request(session.id, opened.clone()).await?;
        let message = format!("Opened {} on {repository}: {}", kind.reference(opened.number), opened.url);
        let event = SessionEvent::PrOpened { pull_request: Box::new(opened.clone()), message };
        self.append_events(session.id, vec![event]).await?;
        self.watched_pull_requests.lock().expect("watch list poisoned").insert(session.id);
        Ok(opened)
    }

    /// `session/sendReview`: the pull request's reviews and review comments (a merge request's
    /// notes), sent to the agent as a prompt (resuming a session that is not running).
    pub async fn session_send_review(&self, params: SessionIdParams) -> Result<SendReviewResult> {
        let session = self.load(params.session_id).await?;
        let pull = session.pull_request.clone().ok_or_else(|| {
            ServiceError::InvalidState("the session has no pull request; open one first (session/pr)".into())
        })?;
        let reference = ForgeKind::named(&pull.forge).reference(pull.number);
        let notes = self.forge.review_notes(&pull).await?;
        let (prompt, count) = body::review_prompt(&reference, &pull.url, &notes)
            .ok_or_else(|| ServiceError::InvalidState(format!("{reference} has no review comments to send yet")))?;
        let queued = if self.sessions.is_live(session.id) {
            let sent = self.sessions.prompt(session.id, prompt.clone(), PromptMode::Queue).await;
            match sent {
                Some(result) => result?.queued,
                None => return Err(self.not_live(session.id).await),
            }
        } else {
            let resume = ResumeParams {
                session_id: session.id,
                prompt: Some(prompt.clone()),
                as_new_session: false,
                host: None,
            };
            self.session_resume(resume).await?;
            false
        };
        Ok(SendReviewResult { prompt, comments: count, queued })
    }

    /// Sets the session's `pullRequest`.
    async fn record_pull_request(&self, id: Uuid, pull: PullRequest) -> Result<Session> {
        self.update_session(id, Arc::new(move |session: &mut Session| session.pull_request = Some(pull.clone()))).await
    }

    /// The pull request's body: the session's prompts, the agent's last reply, the files, the
    /// trial's check, tokens and cost.
    async fn pull_request_body(&self, session: &Session) -> Result<String> {
        let conversation = self.conversation(session.id).await?;
        let (cwd, base) = (PathBuf::from(&session.cwd), session.base_commit.clone().unwrap_or_default());
        let files = tokio::task::spawn_blocking(move || git::diffstat(&cwd, &base)).await??;
        let check = match session.trial_id {
            Some(trial_id) => self.store.get_trial(trial_id).await?.and_then(|trial| trial.check),
            None => None,
        };
        Ok(body::pull_request_body(&body::BodyFacts {
            session,
            prompts: &conversation.prompts,
            last_reply: conversation.last_reply.as_deref(),
            files: &files,
            check: check.as_ref(),
        }))
    }

    /// Starts the task that follows open pull requests: every `github.pollIntervalSecs` (or
    /// `gitlab.pollIntervalSecs`, the shorter), while a client is connected or a followed session
    /// is live, each is read again (conditionally, so an unchanged one costs no rate limit). A
    /// rate limit pauses every read for as long as the forge asks; a pull request that fails
    /// otherwise is read less and less often.
    pub(super) fn watch_pull_requests(self: Arc<Self>) {
        tokio::spawn(async move {
            if let Err(error) = self.watch_open_pull_requests().await {
                tracing::warn!(%error, "could not read the sessions with open pull requests");
            }
            let interval =
                Duration::from_secs(self.config.github.poll_interval_secs.min(self.config.gitlab.poll_interval_secs));
            let mut backoff = Backoff::new(interval);
            let mut paused_until = Instant::now();
            let mut told_of_rate_limit = HashSet::new();
            loop {
                tokio::time::sleep_until(paused_until.max(Instant::now() + interval)).await;
                let watched: Vec<Uuid> =
                    self.watched_pull_requests.lock().expect("watch list poisoned").iter().copied().collect();
                let anyone_looking =
                    self.clients.load(Ordering::Relaxed) > 0 || watched.iter().any(|id| self.sessions.is_live(*id));
                if !anyone_looking {
                    continue;
                }
                for id in watched {
                    if !backoff.due(id) {
                        continue;
                    }
                    match self.sync_pull_request(id).await {
                        Ok(()) => {
                            backoff.succeeded(id);
                            told_of_rate_limit.remove(&id);
                        }
                        Err(ServiceError::Forge(ForgeError::RateLimited { forge, retry_after_secs })) => {
                            paused_until = Instant::now() + Duration::from_secs(retry_after_secs);
                            if told_of_rate_limit.insert(id) {
                                let message = format!(
                                    "{forge}'s rate limit is reached; Arbor reads the {} again in {retry_after_secs} s",
                                    forge.noun()
                                );
                                let _ = self.append_events(id, vec![SessionEvent::Notice { message }]).await;
                            }
                            break;
                        }
                        Err(ServiceError::SessionNotFound(_)) => {
                            self.watched_pull_requests.lock().expect("watch list poisoned").remove(&id);
                        }
                        Err(error) => {
                            let wait = backoff.failed(id);
                            tracing::warn!(session = %id, %error, retry_in_secs = wait.as_secs(), "could not sync the pull request");
                        }
                    }
                }
            }
        });
    }

    /// Puts every session whose pull request is still open on the watch list.
    async fn watch_open_pull_requests(&self) -> Result<()> {
        let mut offset = 0;
        loop {
            let filter = ListSessionsParams {
                include_hidden: true,
                limit: Some(LIST_PAGE),
                offset: Some(offset),
                ..Default::default()
            };
            let (sessions, total) = self.store.list_sessions(filter).await?;
            let open = sessions
                .iter()
                .filter(|session| session.pull_request.as_ref().is_some_and(|pull| pull.state.is_open()));
            self.watched_pull_requests.lock().expect("watch list poisoned").extend(open.map(|session| session.id));
            offset += sessions.len() as u32;
            if sessions.is_empty() || offset >= total {
                return Ok(());
            }
        }
    }

    /// Reads a session's pull request again; when something a user cares about changed, the
    /// session's `pullRequest` is updated and a `pr_updated` event says what.
    async fn sync_pull_request(&self, id: Uuid) -> Result<()> {
        let session = self.load(id).await?;
        let Some(before) = session.pull_request.clone().filter(|pull| pull.state.is_open()) else {
            self.watched_pull_requests.lock().expect("watch list poisoned").remove(&id);
            return Ok(());
        };
        let after = self.forge.read(&before).await?;
        let changes = pull::changes(&before, &after);
        if changes.is_empty() {
            return Ok(());
        }
        if !after.state.is_open() {
            self.watched_pull_requests.lock().expect("watch list poisoned").remove(&id);
        }
        let actions = suggested_actions(id, &before, &after);
        let kind = ForgeKind::named(&after.forge);
        let message = match after.state {
            PullRequestState::Merged => {
                let mut reference = kind.reference(after.number);
                reference[..1].make_ascii_uppercase();
                format!("{reference} was merged on {kind}; the session's branch and worktree can be deleted")
            }
            _ => format!("{}: {}", after.summary(), changes.join(", ")),
        };
        self.record_pull_request(id, after.clone()).await?;
        let event = SessionEvent::PrUpdated { pull_request: Box::new(after), changes, message, actions };
        self.append_events(id, vec![event]).await
    }
}

/// What a client can offer after a pull request changed: deleting the session with its branch
/// and worktree once merged, sending new review comments to the agent.
fn suggested_actions(id: Uuid, before: &PullRequest, after: &PullRequest) -> Vec<SuggestedAction> {
    let mut actions = Vec::new();
    if after.state == PullRequestState::Merged {
        actions.push(SuggestedAction {
            id: "delete_session".into(),
            label: "Delete the branch and worktree".into(),
            method: method::SESSION_DELETE.into(),
            params: json!({ "sessionId": id, "deleteBranch": true }),
        });
    } else if after.review_comments > before.review_comments {
        actions.push(SuggestedAction {
            id: "send_review".into(),
            label: "Send the review to the agent".into(),
            method: method::SESSION_SEND_REVIEW.into(),
            params: json!({ "sessionId": id }),
        });
    }
    actions
}

/// The title a pull request gets when none is given: the session's, else its first prompt's
/// first line, else its branch.
fn default_title(session: &Session) -> String {
    let from_prompt = session.first_prompt.as_deref().and_then(|prompt| prompt.lines().next()).map(str::trim);
    session
        .title
        .clone()
        .or(from_prompt.filter(|line| !line.is_empty()).map(str::to_string))
        .or(session.branch.clone())
        .unwrap_or_else(|| "Arbor session".into())
}

/// When each followed pull request is read next after failures: the poll interval, doubled
/// after each failure up to [`MAX_BACKOFF`].
struct Backoff {
    interval: Duration,
    failing: HashMap<Uuid, (u32, Instant)>,
}

impl Backoff {
    fn new(interval: Duration) -> Backoff {
        Backoff { interval, failing: HashMap::new() }
    }

    fn due(&self, id: Uuid) -> bool {
        self.failing.get(&id).is_none_or(|(_, next)| *next <= Instant::now())
    }

    fn succeeded(&mut self, id: Uuid) {
        self.failing.remove(&id);
    }

    /// Records a failure; returns how long until the next read.
    fn failed(&mut self, id: Uuid) -> Duration {
        let failures = self.failing.get(&id).map_or(1, |(failures, _)| failures + 1);
        let wait = self.interval.saturating_mul(1 << failures.min(16)).min(MAX_BACKOFF);
        self.failing.insert(id, (failures, Instant::now() + wait));
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_up_to_a_limit() {
        let mut backoff = Backoff::new(Duration::from_secs(60));
        let id = Uuid::new_v4();
        assert!(backoff.due(id));
        assert_eq!(backoff.failed(id), Duration::from_secs(120));
        assert!(!backoff.due(id));
        assert_eq!(backoff.failed(id), Duration::from_secs(240));
        for _ in 0..20 {
            backoff.failed(id);
        }
        assert_eq!(backoff.failed(id), MAX_BACKOFF);
        backoff.succeeded(id);
        assert!(backoff.due(id));
    }
}
