//! The one transport-agnostic API: every protocol method is one async fn here (or on
//! [`Connection`] for the per-client subscription methods). Transports only decode params, call
//! these, and encode results and errors.

mod archive;
pub(crate) use archive::human_bytes;
mod connection;
mod dirs;
mod error;
mod forge;
mod lifecycle;
mod pins;
pub mod progress;
mod review;
mod tasks;
pub mod workflows;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arbor_protocol::{
    Ack, AgentInfo, AgentsListResult, ArborCapabilities, AuthenticateParams, ConfigureParams, ConfigureResult,
    DeleteParams, DeleteResult, EventsParams, EventsResult, Isolation, ListSessionsParams, ListSessionsResult,
    NewSessionParams, NoParams, PROTOCOL_VERSION, PromptParams, PromptResult, RespondParams, ResumeParams, Session,
    SessionConfig, SessionEvent, SessionIdParams, SessionStatus, TitleSource, ToolCallContent, ToolCallStatus, ToolKind,
    Usage,
};
use uuid::Uuid;

pub use connection::{ClientSink, Connection};
pub use error::ServiceError;
pub use progress::Progress;

use crate::agents::{AgentRegistry, process, scripted, setting};
use crate::clock::now_millis;
use crate::config::Config;
use crate::git;
use crate::hub::Hub;
use crate::memory::Memory;
use crate::paths::Paths;
use crate::policy;
use crate::sandbox;
use crate::sessions::SessionManager;
use crate::store::Store;

/// Default and largest page of `session/events`.
const EVENTS_PAGE_DEFAULT: u32 = 500;
const EVENTS_PAGE_MAX: u32 = 5000;

type Result<T> = std::result::Result<T, ServiceError>;

/// The server's state, shared by every connection and transport.
pub struct Service {
    paths: Paths,
    store: Store,
    hub: Arc<Hub>,
    agents: AgentRegistry,
    sessions: SessionManager,
    config: Config,
    lifecycle: lifecycle::LifecycleLocks,
    forge: crate::forge::Forge,
    /// Sessions whose pull request is open, which the forge watcher reads again and again.
    watched_pull_requests: std::sync::Mutex<std::collections::HashSet<Uuid>>,
    /// Connected clients; open pull requests are followed while there is one (or their session
    /// is live).
    clients: std::sync::atomic::AtomicUsize,
}

/// Whether [`Service::launch`] stores a new session record or updates the stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Record {
    /// The session is not stored yet.
    New,
    /// The session's record is stored; a deleted one is not brought back.
    Stored,
}

impl Service {
    /// Opens the store (marking sessions a crashed server left running as dead) and gets ready to
    /// serve.
    pub fn start(paths: Paths) -> anyhow::Result<Arc<Service>> {
        crate::paths::prepare_data_dir(&paths).map_err(|error| {
            anyhow::anyhow!("cannot prepare the data directory {}: {error}", paths.data_dir.display())
        })?;
        let hub = Arc::new(Hub::default());
        let (store, recovered) = Store::open(&paths.database(), hub.clone())?;
        for session in &recovered.sessions {
            tracing::warn!(session = %session.id, "session was live when the server last stopped; marked dead");
        }
        process::end_leftover_groups(&recovered.process_groups);
        let config = Config::load(&paths.config_file)?;
        let host = sandbox::Host::get();
        sandbox::limits::recover(host, &paths);
        let agents = AgentRegistry::new(&paths, &config);
        let memory = Memory::new(config.profiles.values().cloned().collect(), &paths.data_dir, &config.memory_store)?;
        let sessions = SessionManager::start(store.clone(), hub.clone(), paths.clone(), agents.clone(), &config, memory);
        let restoring = sessions.clone();
        tokio::spawn(async move {
            match restoring.restore_queue().await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "sessions waiting in the admission queue were put back in line"),
                Err(error) => tracing::error!(%error, "could not read the admission queue"),
            }
        });
        let forge = crate::forge::Forge::new(&config)?;
        let service = Arc::new(Service {
            paths,
            store,
            hub,
            agents,
            sessions,
            config,
            lifecycle: Default::default(),
            forge,
            watched_pull_requests: Default::default(),
            clients: Default::default(),
        });
        service.clone().watch_tasks();
        service.clone().watch_pull_requests();
        Ok(service)
    }

    /// The configuration file it read at start-up.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where this server keeps its data.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// What goes under `capabilities.experimental.arbor` in the `initialize` result.
    pub fn capabilities(&self) -> ArborCapabilities {
        ArborCapabilities {
            protocol_version: PROTOCOL_VERSION,
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            agents: self.agents.list(),
        }
    }

    /// Stops every live session (they stay resumable), ends every agent process group and
    /// flushes the store.
    pub async fn shutdown(&self) {
        self.sessions.stop_all("the Arbor server shut down").await;
        process::kill_all_groups();
        if let Err(error) = self.store.flush().await {
            tracing::error!(%error, "could not flush the store at shutdown");
        }
    }

    /// `agents/list`.
    pub async fn agents_list(&self, _: NoParams) -> Result<AgentsListResult> {
        Ok(AgentsListResult { agents: self.agents.list(), sandbox: sandbox::Host::get().report() })
    }

    /// `agents/authenticate`: the agent logs in with a method it does by itself.
    pub async fn agents_authenticate(&self, params: AuthenticateParams) -> Result<Ack> {
        self.agents.get(&params.agent)?.authenticate(&params.method_id).await?;
        Ok(Ack {})
    }

    /// `session/new`, reporting the set-up to `progress`.
    pub async fn session_new(&self, params: NewSessionParams, progress: Progress) -> Result<Session> {
        self.session_new_for(params, progress, Origin::default()).await
    }

    /// `session/new` for a task's trial (or for nothing, with the default origin).
    pub(crate) async fn session_new_for(
        &self,
        params: NewSessionParams,
        progress: Progress,
        origin: Origin,
    ) -> Result<Session> {
        progress.begin("Starting an Arbor session").await;
        let result = self.create_session(params, &progress, origin).await;
        match &result {
            Ok(session) => {
                progress.end(&format!("Session ready on {}", session.branch.as_deref().unwrap_or(&session.cwd))).await
            }
            Err(error) => progress.end(&format!("Could not start the session: {error}")).await,
        }
        result
    }

    async fn create_session(
        &self,
        mut params: NewSessionParams,
        progress: &Progress,
        origin: Origin,
    ) -> Result<Session> {
        if let Some(name) = params.profile.clone() {
            let profile = self.config.profile(&name).ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "no agent profile named '{name}' in {}",
                    self.paths.config_file.display()
                ))
            })?;
            if params.agent.is_empty() {
                params.agent = profile.agent.clone();
            }
            params.model = params.model.or(profile.model.clone());
            params.config = params.config.or(profile.config.clone());
            if params.additional_dirs.is_none() && !profile.additional_dirs.is_empty() {
                params.additional_dirs = Some(profile.additional_dirs.clone());
            }
        }
        if params.agent.is_empty() {
            return Err(ServiceError::InvalidArgument("name an agent (see agents/list) or a profile".into()));
        }
        let agent = self.agents.get(&params.agent)?.info();
        match (params.cwd.trim().is_empty(), &params.repository_url) {
            (true, None) => {
                return Err(ServiceError::InvalidArgument(
                    "give cwd (a directory inside a git repository) or repositoryUrl".into(),
                ));
            }
            (false, Some(_)) => {
                return Err(ServiceError::InvalidArgument("give either cwd or repositoryUrl, not both".into()));
            }
            _ => {}
        }
        if let Some(prompt) = &params.prompt
            && prompt.trim().is_empty()
        {
            return Err(ServiceError::InvalidArgument("prompt is empty; leave it out to start without one".into()));
        }
        let config = params.config.clone().unwrap_or_default();
        validate_config(&agent, &config)?;
        let additional_dirs = dirs::check(params.additional_dirs.as_deref().unwrap_or_default(), &agent, &self.paths)?;
        let permissions = params.permissions.clone().unwrap_or_default();
        policy::validate(&permissions)?;
        let title = match params.title.as_deref().map(str::trim) {
            Some("") => return Err(ServiceError::InvalidArgument("title is empty".into())),
            other => other.map(str::to_string),
        };
        let isolation = params.isolation.unwrap_or_default();
        // Refused before anything is created, so a bad list leaves no branch or worktree behind.
        for file in params.setup_files.iter().flatten() {
            git::review::confine(file)?;
        }
        let id = Uuid::new_v4();
        let short_id = id.simple().to_string()[..8].to_string();
        let slug = slug(title.as_deref().or(params.prompt.as_deref()).unwrap_or("session"));
        let worktree = self.paths.worktrees().join(format!("arbor-{short_id}"));
        let base_branch = params.base_branch.clone();
        let cwd = match &params.repository_url {
            Some(url) => {
                let url = git::RepositoryUrl::parse(url);
                progress.report(&format!("Cloning {}", url.shown()), 10).await;
                let (branch, parent) = (base_branch.clone(), self.paths.repositories());
                tokio::task::spawn_blocking(move || git::clone_or_fetch(&url, branch.as_deref(), &parent)).await??
            }
            None => PathBuf::from(&params.cwd),
        };
        progress.report("Creating the session's branch and worktree", 50).await;
        let placement = tokio::task::spawn_blocking(move || {
            place_session(&cwd, isolation, base_branch, &short_id, &slug, &worktree)
        })
        .await??;
        if let Some(files) =
            params.setup_files.clone().filter(|files| !files.is_empty() && isolation == Isolation::Worktree)
        {
            progress.report("Copying setup files", 80).await;
            let (root, target) = (PathBuf::from(&placement.repo_root), PathBuf::from(&placement.cwd));
            let branch = placement.branch.clone().unwrap_or_default();
            tokio::task::spawn_blocking(move || {
                git::copy_setup_files(&root, &target, &files).inspect_err(|_| {
                    // All or nothing: a session that cannot start leaves no branch or worktree.
                    if let Err(cleanup) = git::remove_new_worktree(&root, &branch, &target) {
                        tracing::warn!(%cleanup, worktree = %target.display(), "could not remove a half-made worktree");
                    }
                })
            })
            .await??;
        }
        let prompt = match &params.workflow {
            Some(name) => {
                let workflow = workflows::find(&self.paths, Path::new(&placement.repo_root), name)?;
                Some(workflows::compose(&workflow, params.prompt.as_deref()))
            }
            None => params.prompt.clone(),
        };

        let now = now_millis();
        let session = Session {
            id,
            agent_session_id: None,
            agent: params.agent.clone(),
            model: params.model.clone(),
            agent_mode: None,
            agent_model: None,
            title_source: title.as_ref().map(|_| TitleSource::User),
            title,
            first_prompt: None,
            status: SessionStatus::Pending,
            agent_state: None,
            status_reason: None,
            repo_root: placement.repo_root,
            cwd: placement.cwd,
            isolation,
            branch: placement.branch,
            base_branch: placement.base_branch,
            base_commit: Some(placement.base_commit.clone()),
            config,
            additional_dirs,
            profile: params.profile.clone(),
            permissions,
            resumed_from: None,
            forked_from: None,
            forked_at_seq: None,
            head_commit: Some(placement.base_commit.clone()),
            task_id: origin.task_id,
            trial_id: origin.trial_id,
            queue_position: None,
            workflow: params.workflow.clone(),
            pinned: false,
            pinned_at: None,
            pin_order: None,
            hidden: false,
            archived: false,
            usage: Usage::default(),
            sandbox: None,
            pull_request: None,
            last_seq: 0,
            created_at: now,
            updated_at: now,
        };
        match origin.setup_command {
            Some(command) => self.run_setup_command(session, &command, prompt).await,
            None => self.launch(session, Record::New, None, prompt).await,
        }
    }

    /// Stores a pending session and starts its actor, which starts the agent (resuming the
    /// agent's conversation `resume` when given) and sends `prompt` once it is ready.
    async fn launch(
        &self,
        mut session: Session,
        record: Record,
        resume: Option<String>,
        prompt: Option<String>,
    ) -> Result<Session> {
        session.sandbox = Some(sandbox::resolve(&session, self.config.sandbox, sandbox::Host::get())?);
        match record {
            Record::New => self.store.insert_session(session.clone()).await?,
            Record::Stored => self.store.update_session(session.clone()).await?,
        }
        self.store.flush().await?;
        self.sessions.admit(&session, resume, prompt).await?;
        Ok(session)
    }

    /// Marks a session that never started (it was taken out of the queue) as stopped.
    async fn mark_stopped(&self, id: Uuid, reason: &str) -> Result<()> {
        let mut session = self.load(id).await?;
        session.status = SessionStatus::Stopped;
        session.queue_position = None;
        session.status_reason = Some(reason.to_string());
        session.updated_at = now_millis();
        self.store.update_session_if(session, SessionStatus::Pending).await?;
        let event = SessionEvent::StatusChanged {
            status: SessionStatus::Stopped,
            agent_state: None,
            reason: Some(reason.to_string()),
        };
        self.append_events(id, vec![event]).await
    }

    /// Runs a task's setup command in a new session's worktree (recorded as a tool call in its
    /// log), then starts the agent, or marks the session failed when the command fails.
    async fn run_setup_command(&self, session: Session, command: &str, prompt: Option<String>) -> Result<Session> {
        self.store.insert_session(session.clone()).await?;
        self.store.flush().await?;
        let tool_call_id = "setup".to_string();
        let call = SessionEvent::ToolCall {
            tool_call_id: tool_call_id.clone(),
            title: format!("Setup: {command}"),
            tool_kind: ToolKind::Execute,
            status: ToolCallStatus::InProgress,
            raw_input: Some(serde_json::json!({ "command": command })),
            content: Vec::new(),
            locations: Vec::new(),
        };
        self.append_events(session.id, vec![call]).await?;
        let (output, exit_code) =
            self.run_streaming(Path::new(&session.cwd), command, session.id, &tool_call_id).await?;
        let status = if exit_code == Some(0) { ToolCallStatus::Completed } else { ToolCallStatus::Failed };
        let content = vec![ToolCallContent::Terminal { output, exit_code }];
        let update = SessionEvent::ToolCallUpdate {
            tool_call_id,
            status: Some(status),
            title: None,
            content: Some(content),
            details: Default::default(),
        };
        self.append_events(session.id, vec![update]).await?;
        let mut stored = self.load(session.id).await?;
        if exit_code == Some(0) {
            return self.launch(stored, Record::Stored, None, prompt).await;
        }
        let reason = format!(
            "the setup command failed (exit {})",
            exit_code.map_or("killed".to_string(), |code| code.to_string())
        );
        stored.status = SessionStatus::Failed;
        stored.status_reason = Some(reason.clone());
        stored.updated_at = now_millis();
        self.store.update_session(stored).await?;
        self.append_events(
            session.id,
            vec![SessionEvent::StatusChanged {
                status: SessionStatus::Failed,
                agent_state: None,
                reason: Some(reason),
            }],
        )
        .await?;
        self.load(session.id).await
    }

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

    async fn load(&self, id: Uuid) -> Result<Session> {
        self.store.get_session(id).await?.ok_or(ServiceError::SessionNotFound(id))
    }

    /// The error for a request that needs a live session, when the session is not live.
    async fn not_live(&self, id: Uuid) -> ServiceError {
        match self.load(id).await {
            Ok(session) => ServiceError::InvalidState(format!(
                "the session is {}, not running; resume it first",
                session.status.as_str()
            )),
            Err(error) => error,
        }
    }

    /// `session/prompt`.
    pub async fn session_prompt(&self, params: PromptParams) -> Result<PromptResult> {
        if params.text.trim().is_empty() {
            return Err(ServiceError::InvalidArgument("the prompt is empty".into()));
        }
        let mode = params.mode.unwrap_or_default();
        match self.sessions.prompt(params.session_id, params.text, mode).await {
            Some(result) => Ok(result?),
            None => Err(self.not_live(params.session_id).await),
        }
    }

    /// `session/cancel`. Cancelling a session with no running turn is not an error.
    pub async fn session_cancel(&self, params: SessionIdParams) -> Result<Ack> {
        match self.sessions.cancel(params.session_id).await {
            Some(result) => result.map(|()| Ack {}).map_err(Into::into),
            None => self.load(params.session_id).await.map(|_| Ack {}),
        }
    }

    /// `session/stop`. Waits until the agent has stopped; stopping a stopped session is not an
    /// error.
    pub async fn session_stop(&self, params: SessionIdParams) -> Result<Session> {
        let _lifecycle = self.lifecycle.hold(params.session_id).await;
        self.stop_session(params.session_id, None).await
    }

    /// Stops a session whether it waits in the admission queue or runs, and waits until it has
    /// stopped. The caller holds the session's lifecycle lock.
    async fn stop_session(&self, id: Uuid, reason: Option<String>) -> Result<Session> {
        // The scheduler is the only thing that starts sessions: once it has answered, the
        // session is either out of the queue for good or has a live actor to stop.
        if self.sessions.withdraw(id).await? {
            self.mark_stopped(id, reason.as_deref().unwrap_or("stopped while waiting for a free slot")).await?;
            return self.load(id).await;
        }
        if let Some(result) = self.sessions.stop(id, reason).await {
            return Ok(result?);
        }
        self.sessions.wait_until_gone(id).await;
        self.load(id).await
    }

    /// `session/resume`.
    pub async fn session_resume(&self, params: ResumeParams) -> Result<Session> {
        let _lifecycle = self.lifecycle.hold(params.session_id).await;
        if self.sessions.is_live(params.session_id) {
            return Err(ServiceError::InvalidState("the session is already running".into()));
        }
        let previous = self.load(params.session_id).await?;
        if previous.status.is_live() {
            return Err(ServiceError::InvalidState(format!("the session is {}", previous.status.as_str())));
        }
        if !previous.archived && !Path::new(&previous.cwd).is_dir() {
            return Err(ServiceError::InvalidState(format!(
                "the session's directory {} no longer exists",
                previous.cwd
            )));
        }
        if let Some(prompt) = &params.prompt
            && prompt.trim().is_empty()
        {
            return Err(ServiceError::InvalidArgument("prompt is empty; leave it out to resume without one".into()));
        }
        let driver = self.agents.get(&previous.agent)?;
        // Refused here, before anything changes, rather than by the agent's handshake later.
        if previous.agent_session_id.is_some() && !driver.info().capabilities.resume {
            return Err(ServiceError::InvalidState(format!(
                "the {} agent cannot resume a conversation (it offers neither session/resume nor session/load); \
                 start a new session instead",
                previous.agent
            )));
        }
        let mut session = previous.clone();
        if session.archived {
            self.unarchive(&mut session).await?;
        }
        if params.as_new_session {
            let now = now_millis();
            session.id = Uuid::new_v4();
            session.resumed_from = Some(previous.id);
            session.usage = Usage::default();
            session.last_seq = 0;
            session.pinned = false;
            session.pinned_at = None;
            session.pin_order = None;
            // The pull request stays with the session that opened it.
            session.pull_request = None;
            session.created_at = now;
        }
        session.status = SessionStatus::Pending;
        session.agent_state = None;
        session.status_reason = None;
        let record = if params.as_new_session { Record::New } else { Record::Stored };
        self.launch(session, record, previous.agent_session_id.clone(), params.prompt).await
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
    async fn update_session(&self, id: Uuid, change: Arc<dyn Fn(&mut Session) + Send + Sync>) -> Result<Session> {
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

    /// `session/respond`.
    pub async fn session_respond(&self, params: RespondParams) -> Result<Ack> {
        match self.sessions.respond(params.session_id, params.request_id, params.option_id, params.content).await {
            Some(result) => result.map(|()| Ack {}).map_err(Into::into),
            None => Err(self.not_live(params.session_id).await),
        }
    }
}

/// What a new session belongs to, for sessions started by a task's trial.
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    /// The task.
    pub task_id: Option<Uuid>,
    /// The trial.
    pub trial_id: Option<Uuid>,
    /// The task's setup command, run in the new worktree before the agent starts.
    pub setup_command: Option<String>,
}

/// Where a new session runs.
struct Placement {
    repo_root: String,
    cwd: String,
    branch: Option<String>,
    base_branch: Option<String>,
    base_commit: String,
}

/// Finds the repository and, for worktree isolation, creates the session's branch and worktree.
fn place_session(
    cwd: &Path,
    isolation: Isolation,
    base_branch: Option<String>,
    short_id: &str,
    slug: &str,
    worktree: &Path,
) -> Result<Placement> {
    let repo = git::discover(cwd)?;
    let base_branch = base_branch.or(repo.current_branch.clone());
    let base_commit = git::resolve_base(&repo.root, base_branch.as_deref())?;
    let repo_root = repo.root.display().to_string();
    match isolation {
        Isolation::InPlace => Ok(Placement {
            repo_root,
            cwd: cwd.canonicalize().map_err(git::GitError::from)?.display().to_string(),
            branch: repo.current_branch.clone(),
            base_branch,
            base_commit,
        }),
        Isolation::Worktree => {
            let branch = format!("{}{short_id}-{slug}", git::orphan_branches::SESSION_BRANCH_PREFIX);
            git::create_worktree(&repo.root, &branch, &base_commit, worktree)?;
            Ok(Placement {
                repo_root,
                cwd: worktree.display().to_string(),
                branch: Some(branch),
                base_branch,
                base_commit,
            })
        }
    }
}

/// The longest time limit a session's settings may give, in seconds.
const MAX_TIMEOUT_SECS: u64 = 365 * 24 * 60 * 60;
/// The whole-session time limit's range, in seconds, when one is set.
const SESSION_TIMEOUT_SECS: std::ops::RangeInclusive<u64> = 60..=1800;
/// The sampling temperature's range.
const TEMPERATURE: std::ops::RangeInclusive<f64> = 0.0..=2.0;
/// The output-token limit's range.
const MAX_TOKENS: std::ops::RangeInclusive<u64> = 100..=8000;

/// Rejects settings that cannot work before anything is created: values out of range, and the
/// settings `agent` would not receive (so that nothing is silently ignored).
pub(super) fn validate_config(agent: &AgentInfo, config: &SessionConfig) -> Result<()> {
    for (name, value) in [
        ("turnTimeoutSecs", config.turn_timeout_secs),
        ("sessionTimeoutSecs", config.session_timeout_secs),
        ("startupTimeoutSecs", config.startup_timeout_secs),
    ] {
        if value == Some(0) {
            return Err(ServiceError::InvalidArgument(format!("{name} must be at least 1")));
        }
        // A deadline is an instant plus this many seconds; beyond a year it would only overflow.
        if value.is_some_and(|secs| secs > MAX_TIMEOUT_SECS) {
            return Err(ServiceError::InvalidArgument(format!("{name} must be at most {MAX_TIMEOUT_SECS} (a year)")));
        }
    }
    if let Some(secs) = config.session_timeout_secs.filter(|secs| !SESSION_TIMEOUT_SECS.contains(secs)) {
        return Err(ServiceError::InvalidArgument(format!(
            "sessionTimeoutSecs is {secs}; a whole-session limit must be {} to {} seconds",
            SESSION_TIMEOUT_SECS.start(),
            SESSION_TIMEOUT_SECS.end()
        )));
    }
    if let Some(temperature) = config.temperature.filter(|value| !TEMPERATURE.contains(value)) {
        return Err(ServiceError::InvalidArgument(format!(
            "temperature is {temperature}; it must be {} to {}",
            TEMPERATURE.start(),
            TEMPERATURE.end()
        )));
    }
    if let Some(tokens) = config.max_tokens.filter(|tokens| !MAX_TOKENS.contains(tokens)) {
        return Err(ServiceError::InvalidArgument(format!(
            "maxTokens is {tokens}; it must be {} to {}",
            MAX_TOKENS.start(),
            MAX_TOKENS.end()
        )));
    }
    let supported = &agent.capabilities.settings;
    if let Some(refused) = setting::given(config).into_iter().find(|name| !supported.iter().any(|ok| ok == name)) {
        let takes = match supported.as_slice() {
            [] => "none of systemPrompt, temperature, maxTokens and script".to_string(),
            names => names.join(", "),
        };
        return Err(ServiceError::InvalidArgument(format!(
            "the {} agent does not take config.{refused}, so it would be ignored; of the agent-specific settings \
             it takes {takes}",
            agent.name
        )));
    }
    if let Some(script) = &config.script {
        scripted::script::Script::parse(script).map_err(|error| ServiceError::InvalidArgument(error.to_string()))?;
    }
    Ok(())
}

/// A branch-name-safe slug of a title or prompt: lowercase words joined by dashes, at most 30
/// characters.
pub(crate) fn slug(text: &str) -> String {
    let mut slug = String::new();
    for word in text.split(|character: char| !character.is_ascii_alphanumeric()).filter(|word| !word.is_empty()) {
        if slug.len() + word.len() + 1 > 30 {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(&word.to_ascii_lowercase());
    }
    if slug.is_empty() { "session".into() } else { slug }
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs_are_branch_safe() {
        assert_eq!(slug("Fix the login bug!"), "fix-the-login-bug");
        assert_eq!(slug("   ***   "), "session");
        assert!(slug(&"word ".repeat(40)).len() <= 30);
    }
}
