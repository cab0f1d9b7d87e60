//! The methods on a session's record: list, get, events, configure and delete.

use std::path::PathBuf;
use std::sync::Arc;

use arbor_protocol::{
    ConfigureParams, ConfigureResult, DeleteParams, DeleteResult, EventsParams, EventsResult, Isolation,
    ListSessionsParams, ListSessionsResult, Session, SessionIdParams, TitleSource,
};
use uuid::Uuid;

use crate::clock::now_millis;
use crate::git;
use crate::policy;
use crate::service::{Result, Service, ServiceError, dirs, pins};

/// Default and largest page of `session/events`.
const EVENTS_PAGE_DEFAULT: u32 = 500;
const EVENTS_PAGE_MAX: u32 = 5000;

impl Service {
    /// `session/list`.
    pub async fn session_list(&self, params: ListSessionsParams) -> Result<ListSessionsResult> {
        let offset = params.offset.unwrap_or(0);
        let (sessions, total) = self.store.list_sessions(params).await?;
        let end = offset.saturating_add(sessions.len() as u32);
        Ok(ListSessionsResult { sessions, total, next_offset: (end < total).then_some(end) })
    }

    /// `session/get`.
    pub async fn session_get(&self, params: SessionIdParams) -> Result<Session> {
        self.load(params.session_id).await
    }

    /// `session/events`.
    pub async fn session_events(&self, params: EventsParams) -> Result<EventsResult> {
        let session = self.load(params.session_id).await?;
        let limit = params.limit.unwrap_or(EVENTS_PAGE_DEFAULT).clamp(1, EVENTS_PAGE_MAX);
        let mut events = self.store.events_after(params.session_id, params.after_seq.unwrap_or(0), limit + 1).await?;
        let has_more = events.len() > limit as usize;
        events.truncate(limit as usize);
        let last_seq = events.last().map_or(session.last_seq, |event| event.seq.max(session.last_seq));
        Ok(EventsResult { events, has_more, last_seq })
    }

    /// `session/configure`. Pinning beyond the config's `maxPinnedSessions` unpins the session
    /// pinned longest ago, named in the answer.
    pub async fn session_configure(&self, params: ConfigureParams) -> Result<ConfigureResult> {
        let title = match params.title.as_deref().map(str::trim) {
            Some("") => return Err(ServiceError::InvalidArgument("title is empty".into())),
            other => other.map(str::to_string),
        };
        let current = self.load(params.session_id).await?;
        if let Some(rules) = &params.permissions {
            policy::validate(rules)?;
        }
        let additional_dirs = match &params.additional_dirs {
            Some(dirs) => Some(dirs::check(dirs, &self.agents.get(&current.agent)?.info(), &self.paths)?),
            None => None,
        };
        let newly_pinned = params.pinned == Some(true) && !current.pinned;
        let pin_order = if newly_pinned { Some(self.next_pin_order().await?) } else { None };
        let source = params.title_source.unwrap_or(TitleSource::User);
        let (pinned, hidden, permissions) = (params.pinned, params.hidden, params.permissions);
        let (permission_mode, model) = (params.permission_mode, params.model);
        let change = move |session: &mut Session| {
            if let Some(title) = title.clone() {
                // A title only replaces one from an equal or lower source.
                if session.title_source.is_none_or(|current| source >= current) {
                    session.title = Some(title);
                    session.title_source = Some(source);
                }
            }
            match pinned {
                Some(true) if !session.pinned => {
                    session.pinned = true;
                    session.pinned_at = Some(now_millis());
                    session.pin_order = pin_order;
                }
                Some(false) => pins::unpin(session),
                _ => {}
            }
            if let Some(dirs) = additional_dirs.clone() {
                session.additional_dirs = dirs;
            }
            if let Some(hidden) = hidden {
                session.hidden = hidden;
            }
            if let Some(rules) = permissions.clone() {
                session.permissions = rules;
            }
            if permission_mode.is_some() {
                session.config.permission_mode = permission_mode;
            }
            if model.is_some() {
                session.model = model.clone();
            }
        };
        let session = self.update_session(params.session_id, Arc::new(change)).await?;
        let unpinned = if newly_pinned { self.make_room_for_pin(session.id).await? } else { Vec::new() };
        Ok(ConfigureResult { session, unpinned })
    }

    /// Applies `change` to a session: through its actor when live, else to the stored record.
    pub(in crate::service) async fn update_session(
        &self,
        id: Uuid,
        change: Arc<dyn Fn(&mut Session) + Send + Sync>,
    ) -> Result<Session> {
        if self.sessions.is_live(id) {
            let forwarded = change.clone();
            if let Some(result) = self.sessions.update(id, Box::new(move |session| forwarded(session))).await {
                let session = result?;
                // The actor queued the write before answering; flushing makes it readable.
                self.store.flush().await?;
                return Ok(session);
            }
            // The actor ended between the check and the send: change the stored record instead.
            self.sessions.wait_until_gone(id).await;
        }
        self.store.flush().await?;
        let mut session = self.load(id).await?;
        change(&mut session);
        session.updated_at = now_millis();
        self.store.update_session(session.clone()).await?;
        self.store.flush().await?;
        Ok(session)
    }

    /// `session/delete`: stops the session, keeps its work (a snapshot commit of uncommitted
    /// changes on its branch), removes its worktree, and deletes the branch only when asked and
    /// merged (or forced).
    pub async fn session_delete(&self, params: DeleteParams) -> Result<DeleteResult> {
        let _lifecycle = self.lifecycle.hold(params.session_id).await;
        self.load(params.session_id).await?;
        let session = self.stop_session(params.session_id, Some("the session is being deleted".into())).await?;
        let title = session.title.clone().unwrap_or_else(|| "untitled session".into());
        // A worktree shared with another session (see resume as a new session) stays for it.
        let shared = self.store.other_sessions_in(session.cwd.clone(), session.id).await? > 0;
        let owned_worktree = session.isolation == Isolation::Worktree && !shared;
        let (repo_root, cwd, branch, base_branch) = (
            PathBuf::from(&session.repo_root),
            PathBuf::from(&session.cwd),
            session.branch.clone(),
            session.base_branch.clone(),
        );
        let (delete_branch, force) = (params.delete_branch, params.force);
        // A pull request merged on the forge merged the branch as it was then, whatever the
        // local base holds (a squash or rebase merge leaves other commits there).
        let merged_on_forge = session
            .pull_request
            .as_ref()
            .filter(|pull| pull.state == arbor_protocol::PullRequestState::Merged)
            .map(|pull| pull.head_commit.clone());
        let outcome = tokio::task::spawn_blocking(move || -> Result<DeleteResult> {
            if !owned_worktree {
                return Ok(DeleteResult { kept_branch: None, snapshot_commit: None });
            }
            let branch = branch.ok_or_else(|| ServiceError::Internal("worktree session without a branch".into()))?;
            let base = base_branch.unwrap_or_default();
            if delete_branch && !force {
                // Refuse before touching anything, so a refusal changes nothing.
                if cwd.is_dir() && git::has_uncommitted_changes(&cwd)? {
                    return Err(git::GitError::NotMerged { branch, base }.into());
                }
                let tip_was_merged =
                    merged_on_forge.is_some_and(|head| git::branch_tip(&repo_root, &branch).ok() == Some(head));
                if !tip_was_merged {
                    git::check_merged(&repo_root, &branch, &base)?;
                }
            }
            let snapshot_commit = if cwd.is_dir() {
                git::snapshot_uncommitted(&cwd, &format!("arbor: snapshot of \"{title}\" before deleting the session"))?
            } else {
                None
            };
            git::remove_worktree(&repo_root, &cwd)?;
            if delete_branch {
                git::delete_branch(&repo_root, &branch)?;
                Ok(DeleteResult { kept_branch: None, snapshot_commit: None })
            } else {
                Ok(DeleteResult { kept_branch: Some(branch), snapshot_commit })
            }
        })
        .await??;
        self.store.delete_session(session).await?;
        self.store.flush().await?;
        Ok(outcome)
    }
}
