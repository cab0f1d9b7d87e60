//! Live sessions: a registry of actor handles. Each live session is one [`actor::SessionActor`]
//! task; the map holds only the handles, so no lock is ever held across an await. Sessions reach
//! it through the admission scheduler (`admission`), which enforces the running limits. Every
//! actor runs in one task tracker that shutdown drains, under a supervisor that turns a panicked
//! actor into a failed session and frees its slot.

mod actor;
mod admission;
mod coalesce;
pub mod placement;
pub mod worktree;

use std::sync::Arc;
use std::time::Duration;

use arbor_protocol::{
    Checkpoint, PromptMode, PromptResult, Session, SessionEvent, SessionEventNotification, SessionStatus,
};
use dashmap::DashMap;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use tokio_util::task::TaskTracker;

use crate::agents::{AgentDriver, AgentRegistry};
use crate::clock::now_millis;
use crate::config::Config;
use crate::hub::Hub;
use crate::paths::Paths;
use crate::policy::StandingRules;
use crate::store::{QueueEntry, Store, StoreError};
use actor::{ActorCommand, SessionActor, SharedGroup, Start};

pub use actor::{DEFAULT_STARTUP_TIMEOUT, DEFAULT_TURN_TIMEOUT};

/// Fault-injection hook for tests, read once at start-up: when this environment variable is set,
/// a prompt containing its value makes the session's actor panic. It exists to prove that a
/// panicked actor becomes a failed session that frees its slot; nothing else reads it.
pub const FAULT_PANIC_ON_PROMPT: &str = "ARBOR_FAULT_PANIC_ON_PROMPT";

/// How long shutdown waits for the actors to finish after asking them to stop.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(15);

/// Errors of talking to a live session.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The session has no running agent.
    #[error("the session is {}, not running; resume it first", .0.as_str())]
    NotRunning(SessionStatus),
    /// The session's events cannot be stored now, so it takes no new work until they can.
    #[error("the session's events cannot be stored ({0}); it carries on once the store can write again")]
    StoreUnavailable(String),
    /// No pending permission request has this id.
    #[error("no pending permission request or question '{0}' in this session")]
    NoSuchRequest(String),
    /// An answer that does not fit the request.
    #[error("{0}")]
    BadAnswer(String),
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

/// A live actor's handle, its agent (limits are per agent) and its task.
struct ActorEntry {
    commands: mpsc::Sender<ActorCommand>,
    agent: String,
    /// The host it runs on; None for this machine.
    host: Option<String>,
    task_id: Option<Uuid>,
}

/// What starting a session needs.
struct Context {
    store: Store,
    hub: Arc<Hub>,
    paths: Paths,
    agents: AgentRegistry,
    /// The config file's and the profiles' permission rules.
    rules: StandingRules,
    /// The fault-injection marker from [`FAULT_PANIC_ON_PROMPT`], if set.
    panic_marker: Option<String>,
    /// Prices for the cost of agents that report none.
    prices: crate::pricing::PriceTable,
    /// The profiles' memory and skills.
    memory: Arc<crate::memory::Memory>,
    /// The hosts sessions can be placed on, and how they are reached.
    hosts: Vec<crate::hosts::HostConfig>,
    ssh: crate::hosts::Ssh,
    /// Sessions opened on hosts ahead of need.
    warm: Arc<crate::hosts::warm::WarmPool>,
    /// The places' reported load, for placement.
    loads: Arc<crate::hosts::load::Loads>,
}

/// Handles of every live session actor, and the way in for new ones.
#[derive(Clone)]
pub struct SessionManager {
    actors: Arc<DashMap<Uuid, ActorEntry>>,
    context: Arc<Context>,
    scheduler: mpsc::UnboundedSender<admission::Message>,
    /// Set at shutdown: nothing more starts, so waiting sessions stay in the persisted queue.
    closing: Arc<std::sync::atomic::AtomicBool>,
    /// Every actor and its supervisor, drained at shutdown.
    tasks: TaskTracker,
}

impl SessionManager {
    /// A manager with its admission scheduler running under `limits`.
    pub fn start(
        store: Store,
        hub: Arc<Hub>,
        paths: Paths,
        agents: AgentRegistry,
        config: &Config,
        memory: crate::memory::Memory,
    ) -> SessionManager {
        let (scheduler, messages) = mpsc::unbounded_channel();
        let rules = config.standing_rules();
        let panic_marker = std::env::var(FAULT_PANIC_ON_PROMPT).ok().filter(|marker| !marker.is_empty());
        let manager = SessionManager {
            actors: Arc::default(),
            context: Arc::new(Context {
                store,
                hub,
                paths,
                agents,
                rules,
                panic_marker,
                prices: crate::pricing::PriceTable::new(&config.prices),
                memory: Arc::new(memory),
                hosts: config.hosts.clone(),
                ssh: crate::hosts::Ssh::new(config.ssh_command.as_deref()),
                warm: Arc::default(),
                loads: Arc::default(),
            }),
            scheduler,
            closing: Arc::default(),
            tasks: TaskTracker::new(),
        };
        manager.context.loads.watch(manager.context.hosts.clone(), manager.context.ssh.clone());
        tokio::spawn(admission::Scheduler::new(config.limits.clone(), manager.clone()).run(messages));
        manager
    }

    /// The profiles' memory and skills.
    pub fn memory(&self) -> &crate::memory::Memory {
        &self.context.memory
    }

    /// Puts the sessions left in the persisted queue back in line (at start-up).
    pub async fn restore_queue(&self) -> Result<usize, StoreError> {
        let entries = self.context.store.queue().await?;
        let count = entries.len();
        for entry in entries {
            let _ = self.scheduler.send(admission::Message::Enqueue(entry));
        }
        Ok(count)
    }

    /// Asks for `session` to start (resuming the agent's conversation `resume`, then sending
    /// `prompt`) as soon as the running limits allow. The request is persisted first.
    pub async fn admit(
        &self,
        session: &Session,
        resume: Option<String>,
        prompt: Option<String>,
    ) -> Result<(), StoreError> {
        let entry = QueueEntry {
            session_id: session.id,
            agent: session.agent.clone(),
            resume,
            prompt,
            enqueued_at: now_millis(),
        };
        self.context.store.enqueue_session(entry.clone()).await?;
        self.context.store.flush().await?;
        let _ = self.scheduler.send(admission::Message::Enqueue(entry));
        Ok(())
    }

    /// Takes a waiting session out of the queue, through the scheduler (which alone starts
    /// sessions, so afterwards the session either has a live actor or will never start from this
    /// request); true when it was waiting.
    pub async fn withdraw(&self, id: Uuid) -> Result<bool, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.scheduler.send(admission::Message::Withdraw { session_id: id, reply }).map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)
    }

    /// Removes a session from the persisted queue; true when it was there.
    async fn dequeue_stored(&self, id: Uuid) -> bool {
        let store = &self.context.store;
        let stored = store.queue().await.is_ok_and(|queue| queue.iter().any(|entry| entry.session_id == id));
        if stored {
            let _ = store.dequeue_session(id).await;
            if let Err(error) = store.flush().await {
                tracing::error!(session = %id, %error, "could not take the session off the stored queue");
            }
        }
        stored
    }

    /// Starts a session the scheduler let through on `host` (None for this machine); false when
    /// it cannot start (deleted, or its agent is gone — then it is marked failed).
    async fn start_queued(&self, entry: QueueEntry, host: Option<String>) -> bool {
        if self.closing.load(std::sync::atomic::Ordering::SeqCst) {
            return false;
        }
        let store = &self.context.store;
        let waiting = store.queue().await.map(|queue| queue.iter().any(|queued| queued.session_id == entry.session_id));
        if !matches!(waiting, Ok(true)) {
            // Withdrawn (stopped or deleted) while it waited.
            return false;
        }
        let _ = store.dequeue_session(entry.session_id).await;
        let Ok(Some(mut session)) = store.get_session(entry.session_id).await else { return false };
        if session.status != SessionStatus::Pending {
            return false;
        }
        session.queue_position = None;
        session.status_reason = None;
        let driver = match &host {
            None => self.context.agents.get(&session.agent),
            Some(name) => match self.context.hosts.iter().find(|configured| &configured.name == name) {
                Some(configured) => Ok(crate::hosts::remote::driver(
                    configured.clone(),
                    self.context.ssh.clone(),
                    self.context.warm.clone(),
                    self.context.agents.info_of(&session.agent),
                    session.clone(),
                )),
                None => Err(crate::agents::AgentError::Unavailable {
                    agent: session.agent.clone(),
                    hint: format!("host {name} is no longer in the config file"),
                }),
            },
        };
        // A resume placed elsewhere than the session last ran is a move.
        let moved_from = (entry.resume.is_some() && session.host != host)
            .then(|| session.host.clone().unwrap_or_else(|| placement::LOCAL.to_string()));
        session.host = host;
        match driver {
            Ok(driver) => {
                self.spawn(session, driver, Start { resume: entry.resume, prompt: entry.prompt, moved_from });
                true
            }
            Err(error) => {
                session.status = SessionStatus::Failed;
                session.status_reason = Some(error.to_string());
                let _ = store.update_session_if(session, SessionStatus::Pending).await;
                false
            }
        }
    }

    /// Shows a waiting session's place in the queue and why it waits.
    async fn show_queue_position(&self, id: Uuid, position: u32, reason: String) {
        let store = &self.context.store;
        let Ok(Some(mut session)) = store.get_session(id).await else { return };
        if session.queue_position != Some(position) || session.status_reason.as_deref() != Some(reason.as_str()) {
            session.queue_position = Some(position);
            session.status_reason = Some(reason);
            session.updated_at = now_millis();
            // Only while it still waits: a stop or start meanwhile must not be undone.
            let _ = store.update_session_if(session, SessionStatus::Pending).await;
        }
    }

    /// Stops session `id`'s conversation `conversation` on host `host`, which the session
    /// leaves (a move).
    pub async fn stop_on_host(
        &self,
        id: Uuid,
        host: &str,
        conversation: &str,
    ) -> Result<(), crate::hosts::remote::StopThereError> {
        let Some(configured) = self.context.hosts.iter().find(|configured| configured.name == host) else {
            return Err(crate::hosts::remote::StopThereError::Unknown(host.to_string()));
        };
        let log = self.context.paths.session_log(&id).with_file_name(format!("{id}-stop-{host}.log"));
        crate::hosts::remote::stop_there(configured, &self.context.ssh, conversation, log).await
    }

    /// Holds `agent`'s queue for `duration` (it reported a rate limit).
    pub fn pause_agent(&self, agent: &str, duration: Duration) {
        let message = admission::Message::Pause {
            agent: agent.to_string(),
            until: tokio::time::Instant::now() + duration,
            wall_until_ms: now_millis() + duration.as_millis() as i64,
        };
        let _ = self.scheduler.send(message);
    }

    /// Sessions with a live actor.
    pub fn live_count(&self) -> usize {
        self.actors.len()
    }

    /// Sessions with a live actor on `host` (None for this machine).
    pub fn live_count_on(&self, host: Option<&str>) -> usize {
        self.actors.iter().filter(|entry| entry.host.as_deref() == host).count()
    }

    /// The last one-minute load average per processor `host` reported (None for this machine),
    /// if known: what placement weighs on equal shares of the places' limits.
    pub fn load_of(&self, host: Option<&str>) -> Option<f64> {
        self.context.loads.of(host)
    }

    /// Sessions of `agent` with a live actor.
    pub fn live_count_of(&self, agent: &str) -> usize {
        self.actors.iter().filter(|entry| entry.agent == agent).count()
    }

    /// Starts the actor of `session` with the agent `driver`, under a supervisor.
    fn spawn(&self, session: Session, driver: Arc<dyn AgentDriver>, start: Start) {
        let id = session.id;
        let (commands, receiver) = mpsc::channel(actor::COMMAND_CAPACITY);
        let entry =
            ActorEntry { commands, agent: session.agent.clone(), host: session.host.clone(), task_id: session.task_id };
        self.actors.insert(id, entry);
        let group = SharedGroup::default();
        let actor = SessionActor::new(session, receiver, self.clone(), group.clone());
        let running = self.tasks.spawn(actor.run(driver, start));
        let manager = self.clone();
        self.tasks.spawn(async move {
            if let Err(error) = running.await
                && error.is_panic()
            {
                manager.actor_panicked(id, panic_message(error.into_panic()), group).await;
            }
        });
    }

    /// Turns a session whose actor panicked into a failed session: ends its agent, records the
    /// failure in its log and record, and frees its slot. No actor writes the log any more, so
    /// this appends after the stored events.
    async fn actor_panicked(&self, id: Uuid, panic: String, group: SharedGroup) {
        tracing::error!(session = %id, %panic, "a session actor panicked; the session is marked failed");
        let slot = group.lock().expect("agent group cell poisoned").take();
        if let Some(process_group) = slot.and_then(|slot| slot.get()) {
            process_group.terminate(actor::STOP_GRACE).await;
        }
        // The group has ended, so crash recovery has nothing left to end.
        if let Err(error) = self.context.store.clear_process_group(id).await {
            tracing::error!(session = %id, %error, "could not clear the agent's process group record");
        }
        let reason = format!("Arbor failed inside this session ({panic}); resume it to continue");
        if let Err(error) = self.record_failure(id, reason).await {
            tracing::error!(session = %id, %error, "could not record the failure of a panicked session");
        }
        self.remove(id);
    }

    async fn record_failure(&self, id: Uuid, reason: String) -> Result<(), StoreError> {
        let store = &self.context.store;
        // What the actor queued goes in first, so the failure follows the last stored event.
        let _ = store.flush().await;
        let Some(mut session) = store.get_session(id).await? else { return Ok(()) };
        let events = [
            SessionEvent::Error { message: reason.clone(), fatal: true },
            SessionEvent::StatusChanged {
                status: SessionStatus::Failed,
                agent_state: None,
                reason: Some(reason.clone()),
            },
        ];
        for event in events {
            session.last_seq += 1;
            let notification =
                SessionEventNotification { session_id: id, seq: session.last_seq, at: now_millis(), event };
            store.append_event(Arc::new(notification)).await?;
        }
        session.status = SessionStatus::Failed;
        session.agent_state = None;
        session.status_reason = Some(reason);
        session.queue_position = None;
        session.updated_at = now_millis();
        store.update_session(session).await?;
        store.flush().await
    }

    /// Has every live session of `task_id` but `except` decide its waiting permission requests
    /// again, after the task's rules changed. Sent without waiting, so that one actor never waits
    /// on another's queue.
    pub(crate) fn recheck_permissions(&self, task_id: Uuid, except: Uuid) {
        for entry in self.actors.iter().filter(|entry| entry.task_id == Some(task_id) && *entry.key() != except) {
            let commands = entry.commands.clone();
            tokio::spawn(async move { commands.send(ActorCommand::RecheckPermissions).await });
        }
    }

    /// Whether the session has a live actor.
    pub fn is_live(&self, id: Uuid) -> bool {
        self.actors.contains_key(&id)
    }

    pub(crate) fn remove(&self, id: Uuid) {
        self.actors.remove(&id);
        let _ = self.scheduler.send(admission::Message::Wake);
    }

    fn sender(&self, id: Uuid) -> Option<mpsc::Sender<ActorCommand>> {
        self.actors.get(&id).map(|entry| entry.commands.clone())
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

    /// Answers a permission request or a question; None when the session is not live.
    pub async fn respond(
        &self,
        id: Uuid,
        request_id: String,
        option_id: Option<String>,
        content: Option<serde_json::Value>,
    ) -> Option<Result<(), SessionError>> {
        self.ask(id, |reply| ActorCommand::Respond { request_id, option_id, content, reply })
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

    /// Stops every live session (resumable) and waits for them. Sessions waiting in the queue
    /// stay there, to start after the next start-up.
    pub async fn stop_all(&self, reason: &str) {
        self.closing.store(true, std::sync::atomic::Ordering::SeqCst);
        let ids: Vec<Uuid> = self.actors.iter().map(|entry| *entry.key()).collect();
        let mut stopping = tokio::task::JoinSet::new();
        for id in ids {
            let manager = self.clone();
            let reason = Some(reason.to_string());
            stopping.spawn(async move { manager.stop(id, reason).await });
        }
        // Every actor and supervisor is waited for, not only the ones asked to stop, so no
        // session is still writing when the store is flushed for the last time.
        self.tasks.close();
        let drained = async {
            while stopping.join_next().await.is_some() {}
            self.tasks.wait().await;
        };
        if tokio::time::timeout(SHUTDOWN_DRAIN, drained).await.is_err() {
            tracing::warn!("some session actors had not finished when shutdown stopped waiting");
        }
        if tokio::time::timeout(SHUTDOWN_DRAIN, self.context.warm.close_all()).await.is_err() {
            tracing::warn!("some warm places on hosts had not stopped when shutdown stopped waiting");
        }
    }
}

/// The text of a panic's payload (a `&str` or a `String` for `panic!` with a message).
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload.downcast_ref::<&str>().map_or_else(|| "a panic".to_string(), |text| text.to_string()),
    }
}
