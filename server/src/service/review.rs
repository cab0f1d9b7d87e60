//! The git-facing methods: checkpoints, fork, clone, rewind, review, commit, merge and orphaned
//! worktrees.

use std::path::PathBuf;
use std::sync::Arc;

use arbor_protocol::{
    ApplyParams, CheckpointsResult, CloneParams, CommitParams, CommitResult, DiffParams, ExportParams, ExportResult,
    FileParams, ForkParams, Hunk, Isolation, MergeParams, MergeResult, MergeStrategy, NewSessionParams, NoParams,
    OrphanedWorktree, OrphansResult, RejectedHunk, ReviewAction, ReviewDiff, ReviewFile, RewindParams, RewindResult,
    Session, SessionEvent, SessionEventNotification, SessionIdParams, TitleSource,
};
use uuid::Uuid;

use super::progress::Progress;
use super::{Record, Result, Service, ServiceError, branch_and_worktree, pending_session};
use crate::clock::now_millis;
use crate::git::{self, GitError, checkpoint, land, review};
use crate::sessions::worktree;

/// Default cap on the hunk text `review/diff` returns.
const DEFAULT_DIFF_BYTES: u64 = 4 * 1024 * 1024;

/// What was said in a session.
#[derive(Debug, Default)]
pub(super) struct Conversation {
    /// The user's prompts, in order.
    pub prompts: Vec<String>,
    /// The agent's reply to the last prompt, when it said anything.
    pub last_reply: Option<String>,
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::result::Result<T, GitError> + Send + 'static,
) -> Result<T> {
    Ok(tokio::task::spawn_blocking(work).await??)
}

impl Service {
    /// A session whose worktree (or directory) still exists.
    async fn with_worktree(&self, id: Uuid) -> Result<(Session, PathBuf)> {
        let session = self.load(id).await?;
        let cwd = PathBuf::from(&session.cwd);
        if !cwd.is_dir() {
            return Err(ServiceError::InvalidState(format!(
                "the session's directory {} no longer exists",
                session.cwd
            )));
        }
        Ok((session, cwd))
    }

    /// Appends events to a session's log: through its actor when live, else directly (no actor
    /// is writing then).
    pub(super) async fn append_events(&self, id: Uuid, events: Vec<SessionEvent>) -> Result<()> {
        if self.sessions.is_live(id) && self.sessions.emit(id, events.clone()).await.is_some() {
            self.store.flush().await?;
            return Ok(());
        }
        self.sessions.wait_until_gone(id).await;
        self.store.flush().await?;
        let mut seq = self.load(id).await?.last_seq;
        for event in events {
            seq += 1;
            self.store
                .append_event(Arc::new(SessionEventNotification { session_id: id, seq, at: now_millis(), event }))
                .await?;
        }
        self.store.flush().await?;
        Ok(())
    }

    /// `session/export`.
    pub async fn session_export(&self, params: ExportParams) -> Result<ExportResult> {
        let session = self.load(params.session_id).await?;
        self.store.flush().await?;
        let mut events = Vec::new();
        loop {
            let page = self
                .store
                .events_after(session.id, events.last().map_or(0, |event: &SessionEventNotification| event.seq), 1000)
                .await?;
            if page.is_empty() {
                break;
            }
            events.extend(page);
        }
        let format = params.format.unwrap_or_default();
        let exported = crate::export::export(&session, &events, format).await?;
        let stem = super::slug(session.title.as_deref().unwrap_or("arbor-session"));
        Ok(ExportResult {
            format,
            mime_type: exported.mime_type.into(),
            file_name: format!("{stem}.{}", exported.extension),
            content: exported.content,
            encoding: exported.encoding,
        })
    }

    /// `session/checkpoints`.
    pub async fn session_checkpoints(&self, params: SessionIdParams) -> Result<CheckpointsResult> {
        self.load(params.session_id).await?;
        self.store.flush().await?;
        Ok(CheckpointsResult { checkpoints: self.store.checkpoints(params.session_id).await? })
    }

    /// `session/fork`: a new session whose branch starts where the checkpoint was taken and whose
    /// worktree holds the checkpoint's files, carrying the history up to the checkpoint.
    pub async fn session_fork(&self, params: ForkParams) -> Result<Session> {
        let parent = self.load(params.session_id).await?;
        self.store.flush().await?;
        let checkpoints = self.store.checkpoints(parent.id).await?;
        let entry = match params.checkpoint_id {
            Some(wanted) => checkpoints
                .into_iter()
                .find(|entry| entry.checkpoint.checkpoint_id == wanted)
                .ok_or_else(|| ServiceError::NotFound(format!("the session has no checkpoint {wanted}")))?,
            None => checkpoints.into_iter().last().ok_or_else(|| {
                ServiceError::InvalidState("the session has no checkpoints yet; one is taken after every turn".into())
            })?,
        };
        let forks_conversation = self.agents.get(&parent.agent)?.info().capabilities.fork;
        let title = match params.title.as_deref().map(str::trim) {
            Some("") => return Err(ServiceError::InvalidArgument("title is empty".into())),
            Some(title) => (title.to_string(), TitleSource::User),
            None => (format!("{} (fork)", parent.title.as_deref().unwrap_or("session")), TitleSource::Auto),
        };
        let id = Uuid::new_v4();
        let (branch, worktree_path) = branch_and_worktree(&self.paths, id, &title.0);
        let (repo_root, commit) = (PathBuf::from(&parent.repo_root), entry.checkpoint.commit.clone());
        let (branch_for_git, worktree_for_git) = (branch.clone(), worktree_path.clone());
        let start_commit = blocking(move || {
            let start = checkpoint::parent_of(&repo_root, &commit)?;
            git::create_worktree(&repo_root, &branch_for_git, &start, &worktree_for_git)?;
            checkpoint::restore(&worktree_for_git, &commit)?;
            Ok(start)
        })
        .await?;

        // What the fork keeps of its parent; everything else starts as in a new session.
        let session = Session {
            agent: parent.agent.clone(),
            model: parent.model.clone(),
            title: Some(title.0),
            title_source: Some(title.1),
            first_prompt: parent.first_prompt.clone(),
            repo_root: parent.repo_root.clone(),
            cwd: worktree_path.display().to_string(),
            isolation: Isolation::Worktree,
            branch: Some(branch),
            base_branch: parent.base_branch.clone(),
            base_commit: parent.base_commit.clone(),
            config: parent.config.clone(),
            additional_dirs: parent.additional_dirs.clone(),
            profile: parent.profile.clone(),
            permissions: parent.permissions.clone(),
            forked_from: Some(parent.id),
            forked_at_seq: Some(entry.seq),
            head_commit: Some(start_commit),
            task_id: parent.task_id,
            trial_id: parent.trial_id,
            workflow: parent.workflow.clone(),
            last_seq: entry.seq,
            ..pending_session(id)
        };
        let conversation = if forks_conversation && parent.agent_session_id.is_some() {
            format!(
                "The {} agent forks the parent's conversation (as it stands now, which may be later than this \
                 checkpoint), so this session continues it; the history above is copied from the parent.",
                parent.agent
            )
        } else {
            format!(
                "The {} agent cannot fork a conversation, so it starts a new one; the history above is copied from \
                 the parent for reference.",
                parent.agent
            )
        };
        let notice = format!(
            "Forked from \"{}\" at event {} (checkpoint {}): the worktree holds the files as they were then. \
             {conversation}",
            parent.title.as_deref().unwrap_or("session"),
            entry.seq,
            entry.checkpoint.checkpoint_id,
        );
        self.store.insert_session(session.clone()).await?;
        self.store.copy_events(parent.id, id, entry.seq).await?;
        self.store.flush().await?;
        self.append_events(id, vec![SessionEvent::Notice { message: notice }]).await?;
        let session = self.load(id).await?;
        self.launch(session, Record::Stored, None, params.prompt).await
    }

    /// `session/clone`.
    pub async fn session_clone(&self, params: CloneParams) -> Result<Session> {
        let parent = self.load(params.session_id).await?;
        let new = NewSessionParams {
            cwd: parent.repo_root.clone(),
            agent: parent.agent.clone(),
            model: parent.model.clone(),
            title: params.title,
            prompt: params.prompt,
            base_branch: parent.base_branch.clone(),
            isolation: Some(parent.isolation),
            config: Some(parent.config.clone()),
            profile: parent.profile.clone(),
            permissions: Some(parent.permissions.clone()),
            ..NewSessionParams::default()
        };
        self.session_new(new, Progress::none()).await
    }

    /// `session/rewind`.
    pub async fn session_rewind(&self, params: RewindParams) -> Result<RewindResult> {
        let (session, _) = self.with_worktree(params.session_id).await?;
        self.store.flush().await?;
        let checkpoints = self.store.checkpoints(session.id).await?;
        let target = checkpoints
            .iter()
            .find(|entry| entry.checkpoint.checkpoint_id == params.checkpoint_id)
            .map(|entry| entry.checkpoint.clone())
            .ok_or_else(|| ServiceError::NotFound(format!("the session has no checkpoint {}", params.checkpoint_id)))?;
        if let Some(result) = self.sessions.rewind(session.id, target.clone()).await {
            let saved = result?;
            self.store.flush().await?;
            return Ok(RewindResult { restored: target, saved });
        }
        self.sessions.wait_until_gone(session.id).await;
        let saved_number = checkpoints.last().map_or(1, |entry| entry.checkpoint.checkpoint_id + 1);
        let saved = worktree::rewind(&session, &target, saved_number).await?;
        let rewound =
            SessionEvent::Rewound { to_checkpoint: target.checkpoint_id, saved_checkpoint: saved.checkpoint_id };
        self.append_events(session.id, vec![SessionEvent::Checkpoint(saved.clone()), rewound]).await?;
        Ok(RewindResult { restored: target, saved })
    }

    /// `review/diff`.
    pub async fn review_diff(&self, params: DiffParams) -> Result<ReviewDiff> {
        let (session, cwd) = self.with_worktree(params.session_id).await?;
        let base = session.base_commit.clone().unwrap_or_default();
        let max_bytes = params.max_bytes.unwrap_or(DEFAULT_DIFF_BYTES);
        let stats_only = params.stats_only;
        let base_for_git = base.clone();
        let diff = blocking(move || review::diff(&cwd, &base_for_git, stats_only, max_bytes)).await?;
        let rejected = self.store.rejected_hunks(session.id).await?;
        Ok(ReviewDiff { base_commit: base, files: diff.files, stats: diff.stats, truncated: diff.truncated, rejected })
    }

    /// `review/file`.
    pub async fn review_file(&self, params: FileParams) -> Result<ReviewFile> {
        let (session, cwd) = self.with_worktree(params.session_id).await?;
        let base = session.base_commit.unwrap_or_default();
        blocking(move || review::file(&cwd, &base, &params.path)).await
    }

    /// `review/apply`: accept (stage) or reject (revert) hunks and whole files; returns the diff
    /// as it is afterwards.
    pub async fn review_apply(&self, params: ApplyParams) -> Result<ReviewDiff> {
        if params.hunk_ids.is_empty() && params.paths.is_empty() {
            return Err(ServiceError::InvalidArgument("name hunkIds, paths or both".into()));
        }
        for path in &params.paths {
            review::confine(path)?;
        }
        let session_id = params.session_id;
        let current = self.review_diff(DiffParams { session_id, stats_only: false, max_bytes: Some(u64::MAX) }).await?;
        let mut hunks: Vec<(String, Hunk)> = Vec::new();
        for wanted in &params.hunk_ids {
            let found = current
                .files
                .iter()
                .flat_map(|file| file.hunks.iter().flatten().map(move |hunk| (file.path.clone(), hunk.clone())))
                .find(|(_, hunk)| &hunk.id == wanted)
                .ok_or_else(|| {
                    ServiceError::NotFound(format!(
                        "no hunk {wanted} in the current diff; it may have changed, fetch review/diff again"
                    ))
                })?;
            hunks.push(found);
        }
        for path in &params.paths {
            if !current.files.iter().any(|file| &file.path == path) {
                return Err(ServiceError::NotFound(format!("{path} has no changes in this session")));
            }
        }
        let (session, cwd) = self.with_worktree(session_id).await?;
        let base = session.base_commit.clone().unwrap_or_default();
        let rejected: Vec<RejectedHunk> = if params.action == ReviewAction::Reject {
            let at = now_millis();
            let whole_files = current.files.iter().filter(|file| params.paths.contains(&file.path));
            let file_hunks = whole_files
                .flat_map(|file| file.hunks.iter().flatten().map(move |hunk| (file.path.clone(), hunk.clone())));
            hunks
                .iter()
                .cloned()
                .chain(file_hunks)
                .map(|(path, hunk)| RejectedHunk { id: hunk.id, path, header: hunk.header, at })
                .collect()
        } else {
            Vec::new()
        };
        let (action, paths) = (params.action, params.paths.clone());
        blocking(move || match action {
            ReviewAction::Accept => {
                review::accept_hunks(&cwd, &hunks)?;
                review::accept_files(&cwd, &paths)
            }
            ReviewAction::Reject => {
                review::reject_hunks(&cwd, &base, &hunks)?;
                review::reject_files(&cwd, &base, &paths)
            }
            ReviewAction::Unstage => {
                review::unstage_hunks(&cwd, &base, &hunks)?;
                review::unstage_files(&cwd, &base, &paths)
            }
        })
        .await?;
        if !rejected.is_empty() {
            self.store.reject_hunks(session_id, rejected).await?;
            self.store.flush().await?;
        }
        self.review_diff(DiffParams { session_id, stats_only: false, max_bytes: None }).await
    }

    /// A commit message from the session's title and prompts.
    async fn default_message(&self, session: &Session) -> Result<String> {
        let prompts = self.conversation(session.id).await?.prompts;
        let title = session.title.clone().unwrap_or_else(|| "Arbor session".into());
        let mut message = title;
        if !prompts.is_empty() {
            message.push_str("\n\nPrompts:\n");
            for prompt in prompts {
                let first_line = prompt.lines().next().unwrap_or_default();
                message.push_str(&format!("- {first_line}\n"));
            }
        }
        message.push_str(&format!("\nArbor session {} ({} agent)\n", session.id, session.agent));
        Ok(message)
    }

    /// A session's prompts and the agent's last reply, read from its whole log.
    pub(super) async fn conversation(&self, id: Uuid) -> Result<Conversation> {
        let mut conversation = Conversation::default();
        let mut reply = String::new();
        let mut after = 0;
        loop {
            let page = self.store.events_after(id, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for event in page {
                match event.event {
                    SessionEvent::UserMessage { text } => {
                        conversation.prompts.push(text);
                        reply.clear();
                    }
                    SessionEvent::AgentMessageChunk { text } => reply.push_str(&text),
                    _ => {}
                }
            }
        }
        conversation.last_reply = Some(reply).filter(|reply| !reply.trim().is_empty());
        Ok(conversation)
    }

    /// `review/commit`.
    pub async fn review_commit(&self, params: CommitParams) -> Result<CommitResult> {
        let (session, cwd) = self.with_worktree(params.session_id).await?;
        let message = match params.message.as_deref().map(str::trim) {
            Some("") => return Err(ServiceError::InvalidArgument("the commit message is empty".into())),
            Some(message) => message.to_string(),
            None => self.default_message(&session).await?,
        };
        let expected = session.branch.clone();
        let staged_only = params.accepted_only;
        let message_for_git = message.clone();
        let committed = blocking(move || {
            let (branch, _) = git::head_state(&cwd)?;
            if let Some(expected) = expected
                && branch.as_deref() != Some(expected.as_str())
            {
                return Err(GitError::WrongBranch {
                    expected,
                    actual: branch.unwrap_or_else(|| "a detached HEAD".into()),
                });
            }
            land::commit(&cwd, &message_for_git, staged_only)
        })
        .await?;
        let head = committed.commit.clone();
        self.update_session(
            session.id,
            Arc::new(move |session: &mut Session| session.head_commit = Some(head.clone())),
        )
        .await?;
        Ok(CommitResult { commit: committed.commit, message, files_changed: committed.files_changed })
    }

    /// `session/merge`.
    pub async fn session_merge(&self, params: MergeParams) -> Result<MergeResult> {
        let (session, cwd) = self.with_worktree(params.session_id).await?;
        let (Some(branch), Some(base_branch)) = (session.branch.clone(), session.base_branch.clone()) else {
            return Err(ServiceError::InvalidState("the session has no branch of its own to merge".into()));
        };
        if session.isolation == Isolation::InPlace {
            return Err(ServiceError::InvalidState(
                "an in-place session works on the checked-out branch; there is nothing to merge".into(),
            ));
        }
        if blocking(move || git::has_uncommitted_changes(&cwd)).await? {
            return Err(ServiceError::InvalidState(
                "the session has uncommitted changes; commit them first (review/commit) so they are part of the merge"
                    .into(),
            ));
        }
        let strategy = params.strategy.unwrap_or_default();
        let message = match params.message.as_deref().map(str::trim) {
            Some("") => return Err(ServiceError::InvalidArgument("the merge message is empty".into())),
            Some(message) => message.to_string(),
            None => match strategy {
                MergeStrategy::Merge => {
                    format!("Merge Arbor session \"{}\" ({branch})", session.title.as_deref().unwrap_or("untitled"))
                }
                MergeStrategy::Squash => self.default_message(&session).await?,
            },
        };
        let repo_root = PathBuf::from(&session.repo_root);
        let (branch_for_git, base_for_git) = (branch.clone(), base_branch.clone());
        let merged =
            blocking(move || land::merge(&repo_root, &branch_for_git, &base_for_git, strategy, &message)).await?;
        let result = match merged {
            land::Merged::Done(commit) => {
                let notice =
                    format!("Merged {branch} into {base_branch} ({}) as {}", strategy_name(strategy), &commit[..12]);
                self.append_events(session.id, vec![SessionEvent::Notice { message: notice }]).await?;
                MergeResult { merged: true, commit: Some(commit), base_branch, conflicts: Vec::new() }
            }
            land::Merged::Conflicts(conflicts) => MergeResult { merged: false, commit: None, base_branch, conflicts },
        };
        Ok(result)
    }

    /// `worktree/orphans`: worktrees no session accounts for, and registrations whose directory
    /// is gone. Reported only; nothing is deleted.
    pub async fn worktree_orphans(&self, _: NoParams) -> Result<OrphansResult> {
        let directories = self.store.session_directories().await?;
        let known: Vec<PathBuf> = directories.iter().map(|(cwd, _)| PathBuf::from(cwd)).collect();
        let mut repositories: Vec<PathBuf> = directories.iter().map(|(_, root)| PathBuf::from(root)).collect();
        repositories.sort();
        repositories.dedup();
        let worktrees = self.paths.worktrees();
        let orphans = tokio::task::spawn_blocking(move || git::find_orphans(&worktrees, &known, &repositories)).await?;
        Ok(OrphansResult {
            orphans: orphans
                .into_iter()
                .map(|(path, reason)| OrphanedWorktree { path: path.display().to_string(), reason })
                .collect(),
        })
    }
}

fn strategy_name(strategy: MergeStrategy) -> &'static str {
    match strategy {
        MergeStrategy::Merge => "merge commit",
        MergeStrategy::Squash => "squashed",
    }
}
