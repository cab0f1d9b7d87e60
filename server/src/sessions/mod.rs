//! Live sessions: a registry of actor handles. Each live session is one [`actor::SessionActor`]
//! task; the map holds only the handles, so no lock is ever held across an await.

mod actor;
pub mod worktree;

use std::sync::Arc;
use std::time::Duration;

use arbor_protocol::{Checkpoint, PromptMode, PromptResult, Session, SessionEvent, SessionStatus};
use dashmap::DashMap;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::agents::AgentDriver;
use crate::paths::Paths;
use crate::store::Store;
use actor::{ActorCommand, SessionActor, Start};

pub use actor::{DEFAULT_STARTUP_TIMEOUT, DEFAULT_TURN_TIMEOUT};

/// Errors of talking to a live session.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The session has no running agent.
    #[error("the session is {}, not running; resume it first", .0.as_str())]
    NotRunning(SessionStatus),
    /// No pending permission request has this id.
    #[error("no pending permission request '{0}' in this session")]
    NoSuchRequest(String),
    /// The actor ended while the request was in flight.
    #[error("the session ended while the request was being handled")]
    Ended,
    /// A turn is running; the request needs an idle session.
    #[error("the agent is working; wait for the turn to end or cancel it first")]
    Busy,
    /// A git operation on the session's worktree failed.
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
}

/// Handles of every live session actor.
#[derive(Clone, Default)]
pub struct SessionManager {
    actors: Arc<DashMap<Uuid, mpsc::Sender<ActorCommand>>>,
}

impl SessionManager {
    /// Starts the actor of `session` with the agent `driver`.
    pub fn spawn(
        &self,
        session: Session,
        driver: Arc<dyn AgentDriver>,
        store: Store,
        paths: Paths,
        resume: Option<String>,
        prompt: Option<String>,
    ) {
        let (commands, receiver) = mpsc::channel(actor::COMMAND_CAPACITY);
        self.actors.insert(session.id, commands);
        let actor = SessionActor::new(session, store, paths, self.clone());
        tokio::spawn(actor.run(driver, Start { resume, prompt }, receiver));
    }

    /// Whether the session has a live actor.
    pub fn is_live(&self, id: Uuid) -> bool {
        self.actors.contains_key(&id)
    }

    pub(crate) fn remove(&self, id: Uuid) {
        self.actors.remove(&id);
    }

    fn sender(&self, id: Uuid) -> Option<mpsc::Sender<ActorCommand>> {
        self.actors.get(&id).map(|entry| entry.value().clone())
    }

    /// Sends a command built around a reply channel; None when the session has no live actor.
    async fn ask<T>(
        &self,
        id: Uuid,
        command: impl FnOnce(oneshot::Sender<T>) -> ActorCommand,
    ) -> Option<Result<T, SessionError>> {
        let sender = self.sender(id)?;
        let (reply, answer) = oneshot::channel();
        if sender.send(command(reply)).await.is_err() {
            return None;
        }
        Some(answer.await.map_err(|_| SessionError::Ended))
    }

    /// Sends a prompt; None when the session is not live.
    pub async fn prompt(&self, id: Uuid, text: String, mode: PromptMode) -> Option<Result<PromptResult, SessionError>> {
        self.ask(id, |reply| ActorCommand::Prompt { text, mode, reply })
            .await
            .map(|result| result.and_then(|inner| inner))
    }

    /// Interrupts the current turn; None when the session is not live.
    pub async fn cancel(&self, id: Uuid) -> Option<Result<(), SessionError>> {
        self.ask(id, |reply| ActorCommand::Cancel { reply }).await.map(|result| result.and_then(|inner| inner))
    }

    /// Answers a permission request; None when the session is not live.
    pub async fn respond(
        &self,
        id: Uuid,
        request_id: String,
        option_id: Option<String>,
    ) -> Option<Result<(), SessionError>> {
        self.ask(id, |reply| ActorCommand::Respond { request_id, option_id, reply })
            .await
            .map(|result| result.and_then(|inner| inner))
    }

    /// Stops the session and waits until it has stopped; None when it is not live.
    pub async fn stop(&self, id: Uuid, reason: Option<String>) -> Option<Result<Session, SessionError>> {
        self.ask(id, |reply| ActorCommand::Stop { reason, reply }).await
    }

    /// Changes the live session's record through its actor; None when it is not live.
    pub async fn update(
        &self,
        id: Uuid,
        change: Box<dyn FnOnce(&mut Session) + Send>,
    ) -> Option<Result<Session, SessionError>> {
        self.ask(id, |reply| ActorCommand::Update { change, reply }).await
    }

    /// Rewinds a live, idle session's worktree; None when it is not live.
    pub async fn rewind(&self, id: Uuid, target: Checkpoint) -> Option<Result<Checkpoint, SessionError>> {
        self.ask(id, |reply| ActorCommand::Rewind { target, reply }).await.map(|result| result.and_then(|inner| inner))
    }

    /// Appends events to a live session's log through its actor; None when it is not live.
    pub async fn emit(&self, id: Uuid, events: Vec<SessionEvent>) -> Option<()> {
        self.ask(id, |reply| ActorCommand::Emit { events, reply }).await.and_then(Result::ok)
    }

    /// Waits (briefly) for an ending actor to finish writing and leave the registry.
    pub async fn wait_until_gone(&self, id: Uuid) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.is_live(id) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops every live session (resumable) and waits for them.
    pub async fn stop_all(&self, reason: &str) {
        let ids: Vec<Uuid> = self.actors.iter().map(|entry| *entry.key()).collect();
        let mut stopping = tokio::task::JoinSet::new();
        for id in ids {
            let manager = self.clone();
            let reason = Some(reason.to_string());
            stopping.spawn(async move { manager.stop(id, reason).await });
        }
        while stopping.join_next().await.is_some() {}
    }
}
