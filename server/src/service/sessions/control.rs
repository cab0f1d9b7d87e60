//! The methods that drive a session's agent: prompt, cancel, respond, stop and resume.

use std::path::Path;

use arbor_protocol::{
    Ack, PromptParams, PromptResult, RespondParams, ResumeParams, Session, SessionEvent, SessionIdParams,
    SessionStatus, Usage,
};
use uuid::Uuid;

use crate::clock::now_millis;
use crate::service::{Record, Result, Service, ServiceError};

impl Service {
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
    pub(in crate::service) async fn stop_session(&self, id: Uuid, reason: Option<String>) -> Result<Session> {
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
        let moving = params
            .host
            .as_deref()
            .is_some_and(|host| host != previous.host.as_deref().unwrap_or(crate::sessions::placement::LOCAL));
        let mut config = previous.config.clone();
        if let Some(host) = &params.host {
            config.host = Some(host.clone());
            crate::sessions::placement::check(&self.config.hosts, &previous.agent, &config)
                .map_err(ServiceError::InvalidArgument)?;
            // What the session was given at its creation that hosts are not sent keeps it here,
            // as it did then. The set-up files it was given are not recorded, so only what is
            // (its task's set-up command, its profile and additionalDirs) is checked.
            let setup_command = match previous.task_id {
                Some(task_id) => self.store.get_task(task_id).await?.is_some_and(|task| task.setup_command.is_some()),
                None => false,
            };
            let not_sent = crate::sessions::placement::NotSent {
                setup_files: false,
                setup_command,
                profile_memory: self.profile_has_memory(previous.profile.as_deref()),
                additional_dirs: !previous.additional_dirs.is_empty(),
            };
            crate::sessions::placement::keep_here(&self.config.hosts, &mut config, not_sent)
                .map_err(ServiceError::InvalidArgument)?;
        }
        // Refused here, before anything changes, rather than by the agent's handshake later. A
        // session that moves starts a new conversation, so its agent need not resume one.
        if !moving && previous.agent_session_id.is_some() && !driver.info().capabilities.resume {
            return Err(ServiceError::InvalidState(format!(
                "the {} agent cannot resume a conversation (it offers neither session/resume nor session/load); \
                 start a new session instead",
                previous.agent
            )));
        }
        let mut session = previous.clone();
        session.config = config;
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
        if moving {
            self.leave_host(&previous).await?;
        }
        let record = if params.as_new_session { Record::New } else { Record::Stored };
        self.launch(session, record, previous.agent_session_id.clone(), params.prompt).await
    }

    /// Ends the conversation on the host a moving session leaves, best effort: a host that
    /// cannot be reached keeps its session until it is stopped there, and the session's log
    /// says which happened.
    async fn leave_host(&self, previous: &Session) -> Result<()> {
        let (Some(host), Some(conversation)) = (previous.host.as_deref(), previous.agent_session_id.as_deref()) else {
            return Ok(());
        };
        let message = match self.sessions.stop_on_host(previous.id, host, conversation).await {
            Ok(()) => format!("stopped its session on host {host}, which it leaves"),
            Err(error) => {
                tracing::warn!(session = %previous.id, host, %error, "could not stop the session on the host it leaves");
                format!("could not stop its session on host {host} ({error}); it runs on there until stopped there")
            }
        };
        self.append_events(previous.id, vec![SessionEvent::Notice { message }]).await
    }

    /// Marks a session that never started (it was taken out of the queue) as stopped.
    pub(in crate::service) async fn mark_stopped(&self, id: Uuid, reason: &str) -> Result<()> {
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

    /// `session/respond`.
    pub async fn session_respond(&self, params: RespondParams) -> Result<Ack> {
        match self.sessions.respond(params.session_id, params.request_id, params.option_id, params.content).await {
            Some(result) => result.map(|()| Ack {}).map_err(Into::into),
            None => Err(self.not_live(params.session_id).await),
        }
    }
}
