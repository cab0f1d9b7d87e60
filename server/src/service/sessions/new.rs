//! `session/new`: checking the request, placing the session (its branch and worktree), and
//! starting it, directly or after a task's setup command.

use std::path::{Path, PathBuf};

use arbor_protocol::{
    Isolation, NewSessionParams, PermissionRule, Session, SessionConfig, SessionEvent, SessionStatus, TitleSource,
    ToolCallContent, ToolCallStatus, ToolKind,
};
use uuid::Uuid;

use super::naming::branch_and_worktree;
use super::settings::validate_config;
use crate::clock::now_millis;
use crate::git;
use crate::policy;
use crate::sandbox;
use crate::service::{Progress, Record, Result, Service, ServiceError, dirs, workflows};

impl Service {
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

    /// Checks the request, places the session (cloning its repository when given a URL), and
    /// starts it.
    async fn create_session(
        &self,
        mut params: NewSessionParams,
        progress: &Progress,
        origin: Origin,
    ) -> Result<Session> {
        self.apply_profile(&mut params)?;
        let mut checked = self.check_new_session(&params)?;
        let not_sent = crate::sessions::placement::NotSent {
            setup_files: params.setup_files.as_ref().is_some_and(|files| !files.is_empty())
                && checked.isolation == Isolation::Worktree,
            setup_command: origin.setup_command.is_some(),
            profile_memory: self.profile_has_memory(params.profile.as_deref()),
            additional_dirs: !checked.additional_dirs.is_empty(),
        };
        crate::sessions::placement::keep_here(&self.config.hosts, &mut checked.config, not_sent)
            .map_err(ServiceError::InvalidArgument)?;
        let id = Uuid::new_v4();
        let title = checked.title.as_deref().or(params.prompt.as_deref()).unwrap_or("session");
        let (branch, worktree) = branch_and_worktree(&self.paths, id, title);
        let cwd = self.repository_of(&params, progress).await?;
        progress.report("Creating the session's branch and worktree", 50).await;
        let (isolation, base_branch) = (checked.isolation, params.base_branch.clone());
        let placement =
            tokio::task::spawn_blocking(move || place_session(&cwd, isolation, base_branch, branch, &worktree))
                .await??;
        if let Some(files) =
            params.setup_files.clone().filter(|files| !files.is_empty() && isolation == Isolation::Worktree)
        {
            progress.report("Copying setup files", 80).await;
            copy_setup_files(&placement, files).await?;
        }
        let prompt = self.compose_prompt(&params, &placement)?;
        let session = new_session_record(id, &params, checked, placement, &origin);
        match origin.setup_command {
            Some(command) => self.run_setup_command(session, &command, prompt).await,
            None => self.launch(session, Record::New, None, prompt).await,
        }
    }

    /// Whether profile `name` gives its sessions memory or skills, which are laid out on this
    /// machine only.
    pub(in crate::service) fn profile_has_memory(&self, name: Option<&str>) -> bool {
        name.and_then(|name| self.config.profile(name))
            .is_some_and(|profile| profile.memory.is_some() || !profile.skills.is_empty())
    }

    /// Fills what the request leaves out from the profile it names.
    fn apply_profile(&self, params: &mut NewSessionParams) -> Result<()> {
        let Some(name) = params.profile.clone() else { return Ok(()) };
        let profile = self.config.profile(&name).ok_or_else(|| {
            ServiceError::NotFound(format!("no agent profile named '{name}' in {}", self.paths.config_file.display()))
        })?;
        if params.agent.is_empty() {
            params.agent = profile.agent.clone();
        }
        params.model = params.model.take().or(profile.model.clone());
        params.config = params.config.take().or(profile.config.clone());
        if params.additional_dirs.is_none() && !profile.additional_dirs.is_empty() {
            params.additional_dirs = Some(profile.additional_dirs.clone());
        }
        Ok(())
    }

    /// Refuses a request that cannot work before anything is created, and answers the settings
    /// the session will have.
    fn check_new_session(&self, params: &NewSessionParams) -> Result<CheckedSettings> {
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
        crate::sessions::placement::check(&self.config.hosts, &params.agent, &config)
            .map_err(ServiceError::InvalidArgument)?;
        let additional_dirs = dirs::check(params.additional_dirs.as_deref().unwrap_or_default(), &agent, &self.paths)?;
        let permissions = params.permissions.clone().unwrap_or_default();
        policy::validate(&permissions)?;
        let title = match params.title.as_deref().map(str::trim) {
            Some("") => return Err(ServiceError::InvalidArgument("title is empty".into())),
            other => other.map(str::to_string),
        };
        // Refused before anything is created, so a bad list leaves no branch or worktree behind.
        for file in params.setup_files.iter().flatten() {
            git::review::confine(file)?;
        }
        Ok(CheckedSettings {
            config,
            additional_dirs,
            permissions,
            title,
            isolation: params.isolation.unwrap_or_default(),
        })
    }

    /// The directory the session starts from: `cwd`, or the clone of `repositoryUrl` (made or
    /// brought up to date).
    async fn repository_of(&self, params: &NewSessionParams, progress: &Progress) -> Result<PathBuf> {
        let Some(url) = &params.repository_url else { return Ok(PathBuf::from(&params.cwd)) };
        let url = git::RepositoryUrl::parse(url);
        progress.report(&format!("Cloning {}", url.shown()), 10).await;
        let (branch, parent) = (params.base_branch.clone(), self.paths.repositories());
        Ok(tokio::task::spawn_blocking(move || git::clone_or_fetch(&url, branch.as_deref(), &parent)).await??)
    }

    /// The first prompt: the request's, inside the workflow's when it names one.
    fn compose_prompt(&self, params: &NewSessionParams, placement: &Placement) -> Result<Option<String>> {
        let Some(name) = &params.workflow else { return Ok(params.prompt.clone()) };
        let workflow = workflows::find(&self.paths, Path::new(&placement.repo_root), name)?;
        Ok(Some(workflows::compose(&workflow, params.prompt.as_deref())))
    }

    /// Stores a pending session and starts its actor, which starts the agent (resuming the
    /// agent's conversation `resume` when given) and sends `prompt` once it is ready.
    pub(in crate::service) async fn launch(
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
    branch: String,
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

/// A new session's settings, checked.
struct CheckedSettings {
    config: SessionConfig,
    additional_dirs: Vec<String>,
    permissions: Vec<PermissionRule>,
    title: Option<String>,
    isolation: Isolation,
}

/// Copies the request's setup files into the new worktree; when that fails, the branch and
/// worktree are removed again, so a session that cannot start leaves nothing behind.
async fn copy_setup_files(placement: &Placement, files: Vec<String>) -> Result<()> {
    let (root, target) = (PathBuf::from(&placement.repo_root), PathBuf::from(&placement.cwd));
    let branch = placement.branch.clone().unwrap_or_default();
    tokio::task::spawn_blocking(move || {
        git::copy_setup_files(&root, &target, &files).inspect_err(|_| {
            if let Err(cleanup) = git::remove_new_worktree(&root, &branch, &target) {
                tracing::warn!(%cleanup, worktree = %target.display(), "could not remove a half-made worktree");
            }
        })
    })
    .await??;
    Ok(())
}

/// A new session's record before it starts: pending and created now, with nothing run yet (no
/// agent conversation, history, usage, pin, queue place, pull request or host). `session/new` and
/// `session/fork` fill in what the session is (its agent, repository, branch and settings) with
/// struct update syntax, so a field added to [`Session`] starts empty in both.
pub(crate) fn pending_session(id: Uuid) -> Session {
    let now = now_millis();
    Session { id, status: SessionStatus::Pending, created_at: now, updated_at: now, ..Session::default() }
}

/// The record of a new session, pending, as the request, its checked settings and its place
/// make it.
fn new_session_record(
    id: Uuid,
    params: &NewSessionParams,
    checked: CheckedSettings,
    placement: Placement,
    origin: &Origin,
) -> Session {
    Session {
        agent: params.agent.clone(),
        model: params.model.clone(),
        title_source: checked.title.as_ref().map(|_| TitleSource::User),
        title: checked.title,
        repo_root: placement.repo_root,
        cwd: placement.cwd,
        isolation: checked.isolation,
        branch: placement.branch,
        base_branch: placement.base_branch,
        base_commit: Some(placement.base_commit.clone()),
        config: checked.config,
        additional_dirs: checked.additional_dirs,
        profile: params.profile.clone(),
        permissions: checked.permissions,
        head_commit: Some(placement.base_commit),
        task_id: origin.task_id,
        trial_id: origin.trial_id,
        workflow: params.workflow.clone(),
        ..pending_session(id)
    }
}
