//! One actor (tokio task) per live session. It owns the session record, the agent handle and the
//! session's event sequence, so every change to a live session happens in one place, in order.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arbor_protocol::{
    AgentState, Checkpoint, PermissionMode, PermissionOption, PermissionOptionKind, PromptMode, PromptResult,
    QuestionAction, ResolvedBy, Session, SessionChangedNotification, SessionEvent, SessionEventNotification,
    SessionStatus, StopReason, TitleSource, ToolCallStatus, ToolKind,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::coalesce;
use super::placement::LOCAL;
use super::{FAULT_PANIC_ON_PROMPT, SessionError, SessionManager, worktree};
use crate::agents::process::{GroupLedger, GroupSlot};
use crate::agents::{AgentCommand, AgentDriver, AgentError, AgentHandle, AgentOutput, StartSpec};
use crate::clock::now_millis;
use crate::hub::Hub;
use crate::paths::Paths;
use crate::policy::{self, Verdict};
use crate::sandbox::Sandbox;
use crate::store::{Ledger, Store};

/// Default limit on one turn.
pub const DEFAULT_TURN_TIMEOUT: Duration = Duration::from_secs(1800);
/// Default limit on starting the agent.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Extra time the actor allows beyond the driver's own start-up limit (a driver may wait before
/// it starts its agent, as the Gemini driver does for up to a minute).
const STARTUP_BACKSTOP: Duration = Duration::from_secs(75);
/// Bound on the transcript given to an agent that lost its conversation; argv (where Claude Code
/// takes its system prompt) holds at most 128 KiB per argument.
const RECAP_MAX_BYTES: usize = 48 * 1024;
/// How long an agent gets to exit after SIGTERM before SIGKILL.
pub(super) const STOP_GRACE: Duration = Duration::from_secs(3);
/// How long a stopped agent has to end on its own after its stdin closes, before SIGTERM.
const EXIT_ON_ITS_OWN: Duration = Duration::from_secs(2);
/// How long an agent may take to close its session on stop before its process is ended anyway.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// First and longest wait between attempts to store a held session's events.
const HOLD_RETRY_FIRST: Duration = Duration::from_millis(200);
const HOLD_RETRY_LONGEST: Duration = Duration::from_secs(2);
/// Bound of an actor's command queue.
pub(super) const COMMAND_CAPACITY: usize = 64;
/// Quiet time after a tool call before looking for changed files.
const FILES_DEBOUNCE: Duration = Duration::from_millis(250);
/// How often the sandbox's limit counters are read.
const LIMITS_CHECK_EVERY: Duration = Duration::from_millis(500);
/// Longest title taken from a prompt.
const PROMPT_TITLE_CHARS: usize = 80;

/// Requests to a session actor.
pub(super) enum ActorCommand {
    Prompt {
        text: String,
        mode: PromptMode,
        reply: oneshot::Sender<Result<PromptResult, SessionError>>,
    },
    Cancel {
        reply: oneshot::Sender<Result<(), SessionError>>,
    },
    Stop {
        reason: Option<String>,
        reply: oneshot::Sender<Session>,
    },
    Respond {
        request_id: String,
        option_id: Option<String>,
        content: Option<serde_json::Value>,
        reply: oneshot::Sender<Result<(), SessionError>>,
    },
    Update {
        change: Box<dyn FnOnce(&mut Session) + Send>,
        reply: oneshot::Sender<Session>,
    },
    Rewind {
        target: Checkpoint,
        reply: oneshot::Sender<Result<Checkpoint, SessionError>>,
    },
    Emit {
        events: Vec<SessionEvent>,
        reply: oneshot::Sender<()>,
    },
    /// The task's permission rules changed: decide waiting requests again.
    RecheckPermissions,
}

/// A permission request waiting for the user: what the policy matches on, and the answers.
struct PendingPermission {
    tool_kind: ToolKind,
    subject: Option<String>,
    options: Vec<PermissionOption>,
}

/// The agent's process group slot, shared with the actor's supervisor so it can end the agent of
/// an actor that panicked.
pub(super) type SharedGroup = Arc<std::sync::Mutex<Option<GroupSlot>>>;

/// How the actor begins.
pub(super) struct Start {
    /// Conversation id to resume, if any.
    pub resume: Option<String>,
    /// Prompt to send once the agent is ready.
    pub prompt: Option<String>,
    /// Where the session ran before, when it now runs somewhere else: the conversation to resume
    /// is there, so the agent here starts a new one given the transcript.
    pub moved_from: Option<String>,
}

pub(super) struct SessionActor {
    session: Session,
    store: Store,
    hub: Arc<Hub>,
    paths: Paths,
    manager: SessionManager,
    commands: mpsc::Receiver<ActorCommand>,
    /// What the writer reports about this session's writes.
    ledger: Arc<Ledger>,
    /// Events queued for the store and not yet known to be committed, oldest first: kept to be
    /// written again if the writer could not store them.
    unstored: VecDeque<Arc<SessionEventNotification>>,
    /// The ledger's failure count already handled.
    handled_failures: u64,
    /// Replies owed to stop requests, answered once the session has stopped.
    stop_replies: Vec<oneshot::Sender<Session>>,
    /// The fault-injection marker (see [`FAULT_PANIC_ON_PROMPT`]).
    panic_marker: Option<String>,
    group: SharedGroup,
    agent: Option<AgentHandle>,
    queued_prompts: VecDeque<String>,
    turn_running: bool,
    /// Permission requests waiting for the user, by request id.
    pending_permissions: HashMap<String, PendingPermission>,
    /// Questions (`question` events) waiting for the user, by request id.
    pending_questions: HashSet<String>,
    turn_deadline: Option<Instant>,
    session_deadline: Option<Instant>,
    /// Number the next checkpoint gets.
    next_checkpoint: u32,
    /// When to look for changed files (debounced after tool calls).
    files_check_at: Option<Instant>,
    /// The worktree's status at the last look.
    fingerprint: Vec<(String, String)>,
    /// Turns started by this actor (labels checkpoints).
    turns_started: u32,
    /// The prompt of the running turn, kept to retry it after a rate limit.
    current_prompt: Option<String>,
    /// When to retry the running turn's prompt after a rate limit.
    retry_at: Option<Instant>,
    /// Set when the session should stop once the current output is handled.
    stop_after: Option<String>,
    /// The agent's sandbox, watched for limits hit and torn down when the session ends.
    sandbox: Arc<Sandbox>,
    /// The profile's memory and skills as laid out for the agent, when it has them.
    memory: Option<crate::memory::SessionMemory>,
    /// What goes before the first prompt of a new conversation, for an agent that reads no
    /// memory or skills of its own and was not told of them in its system prompt.
    memory_preamble: Option<String>,
    /// Where a relayed session stands after the output being handled (see
    /// `AgentOutput::Relayed`), until the first event it makes is written.
    relayed_to: Option<String>,
    /// An output taken from the agent while joining waiting chunks (see `coalesce`) that was not
    /// one of them: it is handled before the next one is received.
    held_output: Option<AgentOutput>,
}

/// How the actor's main loop ended.
struct Ending {
    status: SessionStatus,
    reason: Option<String>,
}

impl SessionActor {
    pub(super) fn new(
        session: Session,
        commands: mpsc::Receiver<ActorCommand>,
        manager: SessionManager,
        group: SharedGroup,
    ) -> Self {
        let context = manager.context.clone();
        Self {
            ledger: Arc::new(Ledger::starting_at(session.last_seq)),
            session,
            store: context.store.clone(),
            hub: context.hub.clone(),
            paths: context.paths.clone(),
            manager,
            commands,
            unstored: VecDeque::new(),
            handled_failures: 0,
            stop_replies: Vec::new(),
            panic_marker: context.panic_marker.clone(),
            group,
            agent: None,
            queued_prompts: VecDeque::new(),
            turn_running: false,
            pending_permissions: HashMap::new(),
            pending_questions: HashSet::new(),
            turn_deadline: None,
            session_deadline: None,
            next_checkpoint: 1,
            files_check_at: None,
            fingerprint: Vec::new(),
            turns_started: 0,
            current_prompt: None,
            retry_at: None,
            stop_after: None,
            sandbox: Arc::new(Sandbox::none()),
            memory: None,
            memory_preamble: None,
            relayed_to: None,
            held_output: None,
        }
    }

    /// Appends an event to the session's log. The store publishes it once it is committed; until
    /// then it is kept, to be written again if the store could not take it.
    async fn emit(&mut self, event: SessionEvent) {
        let notification = self.next_event(event);
        // The first event written after a relayed output stores where the relay stands with it.
        let conversation = self.relayed_to.take();
        if let Some(conversation) = &conversation {
            self.session.agent_session_id = Some(conversation.clone());
        }
        self.send_event(notification, conversation).await;
    }

    /// Gives `event` the session's next seq and keeps it until it is known to be committed.
    fn next_event(&mut self, event: SessionEvent) -> Arc<SessionEventNotification> {
        let committed = self.ledger.committed();
        while self.unstored.front().is_some_and(|event| event.seq <= committed) {
            self.unstored.pop_front();
        }
        self.session.last_seq += 1;
        let notification = Arc::new(SessionEventNotification {
            session_id: self.session.id,
            seq: self.session.last_seq,
            at: now_millis(),
            event,
        });
        self.unstored.push_back(notification.clone());
        notification
    }

    async fn send_event(&self, notification: Arc<SessionEventNotification>, conversation: Option<String>) {
        if let Err(error) = self.store.append_event_to(notification, self.ledger.clone(), conversation).await {
            tracing::error!(session = %self.session.id, %error, "could not queue an event");
        }
    }

    /// Writes the session record; `session/changed` follows once it is committed.
    async fn save(&mut self) {
        self.session.updated_at = now_millis();
        self.send_record().await;
    }

    async fn send_record(&self) {
        if let Err(error) = self.store.update_session_of(self.session.clone(), self.ledger.clone()).await {
            tracing::error!(session = %self.session.id, %error, "could not queue the session record");
        }
    }

    /// Holds the session while the store cannot take its writes: the agent's output is not read
    /// (so nothing advances), requests that would add work are refused with a storage error, and
    /// the unstored events (with their seqs) and the record are written again, in order, until
    /// they commit. Clients see the hold in a `session/changed` (not stored: the store is what
    /// fails) and, once it is over, in a notice in the log.
    async fn hold_while_unstored(&mut self) {
        if self.ledger.failures() == self.handled_failures {
            return;
        }
        // Writes queued before now are all answered once this returns; later seqs than a failed
        // one are refused by the writer, so they are all in `unstored`.
        let _ = self.store.flush().await;
        let reason = self.ledger.last_failure().unwrap_or_else(|| "the store failed".into());
        tracing::error!(session = %self.session.id, %reason, "the session's writes failed; holding it");
        let mut shown = self.session.clone();
        shown.status_reason =
            Some(format!("events cannot be stored: {reason}; the session is held until the store can write again"));
        self.hub.publish_change(Arc::new(SessionChangedNotification { session: shown, deleted: false }));
        let held_at = Instant::now();
        let mut delay = HOLD_RETRY_FIRST;
        let mut held_events = 0;
        loop {
            self.refuse_work_for(delay, &reason).await;
            let failures = self.ledger.failures();
            let committed = self.ledger.committed();
            self.unstored.retain(|event| event.seq > committed);
            held_events = held_events.max(self.unstored.len());
            for event in self.unstored.clone() {
                self.send_event(event, None).await;
            }
            self.send_record().await;
            let _ = self.store.flush().await;
            if self.ledger.failures() == failures {
                self.handled_failures = failures;
                break;
            }
            delay = (delay * 2).min(HOLD_RETRY_LONGEST);
        }
        let committed = self.ledger.committed();
        self.unstored.retain(|event| event.seq > committed);
        tracing::info!(session = %self.session.id, "the store takes the session's writes again");
        let message = format!(
            "The store could not write for {} s ({reason}); this session was held meanwhile and the {held_events} \
             events it had then were stored once it could write again.",
            held_at.elapsed().as_secs()
        );
        let notice = self.next_event(SessionEvent::Notice { message });
        self.send_event(notice, None).await;
        self.session.updated_at = now_millis();
        self.send_record().await;
        // Rules may have changed while held.
        self.recheck_permissions().await;
    }

    /// Answers commands for `delay` while the session is held: nothing that adds work to the
    /// session is accepted, a stop is remembered for when the hold ends.
    async fn refuse_work_for(&mut self, delay: Duration, reason: &str) {
        let until = Instant::now() + delay;
        loop {
            let command = tokio::select! {
                _ = tokio::time::sleep_until(until) => return,
                command = self.commands.recv() => command,
            };
            let unavailable = || SessionError::StoreUnavailable(reason.to_string());
            match command {
                None => {
                    tokio::time::sleep_until(until).await;
                    return;
                }
                Some(ActorCommand::Prompt { reply, .. }) => {
                    let _ = reply.send(Err(unavailable()));
                }
                Some(ActorCommand::Respond { reply, .. }) => {
                    let _ = reply.send(Err(unavailable()));
                }
                Some(ActorCommand::Rewind { reply, .. }) => {
                    let _ = reply.send(Err(unavailable()));
                }
                Some(ActorCommand::Cancel { reply }) => {
                    if self.turn_running {
                        self.send_to_agent(AgentCommand::Cancel).await;
                    }
                    let _ = reply.send(Ok(()));
                }
                Some(ActorCommand::Update { change, reply }) => {
                    // Written with the record once the store takes writes again.
                    change(&mut self.session);
                    let _ = reply.send(self.session.clone());
                }
                Some(ActorCommand::Emit { events, reply }) => {
                    // Given their seqs now and written in order with the held events.
                    for event in events {
                        self.next_event(event);
                    }
                    let _ = reply.send(());
                }
                // The waiting requests are decided again when the hold ends.
                Some(ActorCommand::RecheckPermissions) => {}
                Some(ActorCommand::Stop { reason, reply }) => {
                    self.stop_replies.push(reply);
                    self.stop_after.get_or_insert_with(|| {
                        reason.unwrap_or_else(|| "stopped while its events could not be stored".into())
                    });
                }
            }
        }
    }

    async fn set_status(&mut self, status: SessionStatus, agent_state: Option<AgentState>, reason: Option<String>) {
        self.session.status = status;
        self.session.agent_state = agent_state;
        self.session.status_reason = reason.clone();
        // The record goes first, so a client that has seen the event reads the new status.
        self.save().await;
        self.emit(SessionEvent::StatusChanged { status, agent_state, reason }).await;
    }

    async fn set_agent_state(&mut self, agent_state: AgentState) {
        if self.session.agent_state != Some(agent_state) {
            self.set_status(SessionStatus::Running, Some(agent_state), None).await;
        }
    }

    /// The parent's agent conversation, for a forked session's first start when its agent can
    /// fork conversations.
    async fn conversation_to_fork(&self, driver: &dyn AgentDriver) -> Option<String> {
        let parent = self.session.forked_from.filter(|_| self.session.agent_session_id.is_none())?;
        if !driver.info().capabilities.fork {
            return None;
        }
        self.store.get_session(parent).await.ok().flatten()?.agent_session_id
    }

    pub(super) async fn run(mut self, driver: Arc<dyn AgentDriver>, start: Start) {
        self.set_status(SessionStatus::Creating, None, None).await;
        match self.store.checkpoints(self.session.id).await {
            Ok(existing) => {
                self.next_checkpoint = existing.last().map_or(1, |entry| entry.checkpoint.checkpoint_id + 1);
            }
            Err(error) => tracing::error!(session = %self.session.id, %error, "could not read checkpoints"),
        }
        self.fingerprint = worktree::fingerprint(&self.session).await.unwrap_or_default();
        let config = &self.session.config;
        let startup_timeout = config.startup_timeout_secs.map(Duration::from_secs).unwrap_or(DEFAULT_STARTUP_TIMEOUT);
        if let Some(limit) = config.session_timeout_secs {
            self.session_deadline = Some(Instant::now() + Duration::from_secs(limit));
        }
        let profile = self.session.profile.clone();
        match self.manager.context.memory.prepare(profile.as_deref(), self.session.id, &self.session.agent).await {
            Ok(memory) => self.memory = memory,
            Err(error) => {
                return self.fail_start(format!("could not lay out the profile's memory and skills: {error}")).await;
            }
        }
        let resume = if start.moved_from.is_some() { None } else { start.resume };
        if resume.is_none() {
            self.memory_preamble = self.memory.as_ref().and_then(|memory| memory.delivery.preamble());
        }
        // The agent reads and edits its memory directory, so its sandbox lets it in like an extra
        // directory.
        let memory_dir = self.memory.as_ref().map(|memory| memory.delivery.dir.clone());
        let sandbox = match Sandbox::prepare(&self.session, &self.paths, memory_dir) {
            Ok(sandbox) => Arc::new(sandbox),
            Err(error) => return self.fail_start(error.to_string()).await,
        };
        self.sandbox = sandbox.clone();
        let mut spec = StartSpec {
            session_id: self.session.id,
            cwd: self.session.cwd.clone().into(),
            model: self.session.model.clone(),
            config: self.agent_config(driver.info().capabilities.permissions).await,
            additional_dirs: self.session.additional_dirs.iter().map(PathBuf::from).collect(),
            resume,
            fork: self.conversation_to_fork(&*driver).await,
            log_path: self.paths.session_log(&self.session.id),
            startup_timeout,
            ledger: GroupLedger::new(self.store.clone(), self.session.id),
            sandbox,
            memory: self.memory.as_ref().map(|memory| memory.delivery.clone()),
        };
        if let Some(from) = start.moved_from {
            let to = self.session.host.as_deref().unwrap_or(LOCAL);
            let message = format!(
                "moved from {from} to {to}: {} there goes on from the work as of the last checkpoint, \
                 in a new conversation given this session's transcript",
                self.session.agent
            );
            self.emit(SessionEvent::Notice { message }).await;
            spec = self.recapped(&spec).await;
        }

        let ending = match self.start_agent(driver, spec, startup_timeout).await {
            Err(ending) => ending,
            Ok(()) => {
                self.set_status(SessionStatus::Running, Some(AgentState::Idle), None).await;
                // The first turn is the session's own prompt or, without one, the first prompt a
                // client sent while the agent was starting; the rest wait for the turn before.
                if let Some(prompt) = start.prompt.or_else(|| self.queued_prompts.pop_front()) {
                    self.start_turn(prompt).await;
                }
                self.serve().await
            }
        };
        self.finish(ending).await;
    }

    /// Ends a session whose agent cannot be started, with `message` as a fatal error.
    async fn fail_start(mut self, message: String) {
        self.emit(SessionEvent::Error { message: message.clone(), fatal: true }).await;
        self.finish(Ending { status: SessionStatus::Failed, reason: Some(message) }).await
    }

    /// The settings the agent starts with. Deny rules hold in `bypass_permissions` mode too: an
    /// agent that can ask is then started asking, and the policy allows whatever is not denied,
    /// so nobody is asked and every action still passes the rules.
    async fn agent_config(&mut self, agent_can_ask: bool) -> arbor_protocol::SessionConfig {
        let mut config = self.session.config.clone();
        if !self.manager.context.rules.policy_of(&self.session, &self.store).await.guards_bypass() {
            return config;
        }
        if agent_can_ask {
            config.permission_mode = Some(PermissionMode::Ask);
        } else {
            let message = format!(
                "{} cannot ask before it acts, so Arbor cannot hold its deny rules in bypass_permissions mode",
                self.session.agent
            );
            self.emit(SessionEvent::Notice { message }).await;
        }
        config
    }

    /// Starts the agent under the start-up watchdog, answering commands meanwhile.
    async fn start_agent(
        &mut self,
        driver: Arc<dyn AgentDriver>,
        spec: StartSpec,
        timeout: Duration,
    ) -> Result<(), Ending> {
        // The driver enforces the limit and ends what it started; this outer limit is a backstop
        // for a driver that hangs before it has a process to end.
        let starting = tokio::time::timeout(timeout + STARTUP_BACKSTOP, driver.start(spec.clone()));
        tokio::pin!(starting);
        let ledger = self.ledger.clone();
        loop {
            if let Some(reason) = self.stop_after.take() {
                return Err(Ending { status: SessionStatus::Stopped, reason: Some(reason) });
            }
            tokio::select! {
                started = &mut starting => {
                    return match started {
                        Ok(Ok(handle)) => {
                            // An agent briefed in its system prompt is not briefed again in its
                            // first prompt.
                            if handle.briefed {
                                self.memory_preamble = None;
                            }
                            *self.group.lock().expect("agent group cell poisoned") = Some(handle.process_group.clone());
                            self.agent = Some(handle);
                            Ok(())
                        }
                        Ok(Err(AgentError::ConversationLost(conversation))) => {
                            let message = format!(
                                "{} no longer has conversation {conversation} (its record was never written or was removed); \
                                 it starts a new one and is given this session's transcript",
                                self.session.agent
                            );
                            self.emit(SessionEvent::Notice { message }).await;
                            let fresh = self.recapped(&spec).await;
                            starting.set(tokio::time::timeout(timeout + STARTUP_BACKSTOP, driver.start(fresh)));
                            continue;
                        }
                        Ok(Err(error)) => {
                            let status = match error {
                                AgentError::StartupTimeout(_) => SessionStatus::Timeout,
                                _ => SessionStatus::Failed,
                            };
                            let message = error.to_string();
                            self.emit(SessionEvent::Error { message: message.clone(), fatal: true }).await;
                            Err(Ending { status, reason: Some(message) })
                        }
                        Err(_) => {
                            let message = format!("the agent did not start within {} s", timeout.as_secs());
                            self.emit(SessionEvent::Error { message: message.clone(), fatal: true }).await;
                            Err(Ending { status: SessionStatus::Timeout, reason: Some(message) })
                        }
                    };
                }
                _ = ledger.failed() => self.hold_while_unstored().await,
                command = self.commands.recv() => match command {
                    Some(ActorCommand::Stop { reason, reply }) => {
                        self.stop_replies.push(reply);
                        return Err(Ending { status: SessionStatus::Stopped, reason });
                    }
                    Some(ActorCommand::Prompt { text, reply, .. }) => {
                        self.queued_prompts.push_back(text);
                        let _ = reply.send(Ok(PromptResult { queued: true }));
                    }
                    Some(other) => self.answer_while_not_running(other).await,
                    None => return Err(Ending { status: SessionStatus::Stopped, reason: None }),
                },
            }
        }
    }

    /// `spec` for a new conversation in place of one the agent lost: no resume, and the session's
    /// transcript so far appended to the system prompt, so the agent knows what was said and done.
    async fn recapped(&self, spec: &StartSpec) -> StartSpec {
        let mut events = Vec::new();
        loop {
            let after = events.last().map_or(0, |event: &SessionEventNotification| event.seq);
            match self.store.events_after(self.session.id, after, 1000).await {
                Ok(page) if !page.is_empty() => events.extend(page),
                Ok(_) => break,
                Err(error) => {
                    tracing::error!(session = %self.session.id, %error, "could not read the transcript for a recap");
                    break;
                }
            }
        }
        let recap = crate::export::recap(&self.session, &events, RECAP_MAX_BYTES);
        let mut fresh = spec.clone();
        fresh.resume = None;
        fresh.config.system_prompt = Some(match &spec.config.system_prompt {
            Some(prompt) => format!("{prompt}\n\n{recap}"),
            None => recap,
        });
        fresh
    }

    /// Answers commands that need a running agent while there is none.
    async fn answer_while_not_running(&mut self, command: ActorCommand) {
        match command {
            ActorCommand::Cancel { reply } => {
                let _ = reply.send(Ok(()));
            }
            ActorCommand::Respond { request_id, reply, .. } => {
                let _ = reply.send(Err(SessionError::NoSuchRequest(request_id)));
            }
            ActorCommand::Update { change, reply } => {
                change(&mut self.session);
                self.save().await;
                let _ = reply.send(self.session.clone());
            }
            ActorCommand::Prompt { reply, .. } => {
                let _ = reply.send(Err(SessionError::NotRunning(self.session.status)));
            }
            ActorCommand::Stop { reply, .. } => {
                let _ = reply.send(self.session.clone());
            }
            ActorCommand::Rewind { reply, .. } => {
                let _ = reply.send(Err(SessionError::NotRunning(self.session.status)));
            }
            ActorCommand::Emit { events, reply } => {
                for event in events {
                    self.emit(event).await;
                }
                let _ = reply.send(());
            }
            ActorCommand::RecheckPermissions => {}
        }
    }

    /// The main loop while the agent runs.
    async fn serve(&mut self) -> Ending {
        let ledger = self.ledger.clone();
        let mut limits_check = tokio::time::interval(LIMITS_CHECK_EVERY);
        loop {
            let turn_deadline = self.turn_deadline;
            let session_deadline = self.session_deadline;
            if let Some(reason) = self.stop_after.take() {
                return Ending { status: SessionStatus::Stopped, reason: Some(reason) };
            }
            if let Some(output) = self.held_output.take() {
                match self.on_output(Some(output)).await {
                    Some(ending) => return ending,
                    None => continue,
                }
            }
            let files_check_at = self.files_check_at;
            let retry_at = self.retry_at;
            let agent = self.agent.as_mut().expect("serve runs with an agent");
            tokio::select! {
                _ = ledger.failed() => self.hold_while_unstored().await,
                command = self.commands.recv() => match command {
                    Some(ActorCommand::Stop { reason, reply }) => {
                        self.stop_replies.push(reply);
                        return Ending { status: SessionStatus::Stopped, reason };
                    }
                    Some(command) => self.handle_command(command).await,
                    None => return Ending { status: SessionStatus::Stopped, reason: None },
                },
                output = agent.outputs.recv() => if let Some(ending) = self.on_output(output).await {
                    return ending;
                },
                _ = sleep_until(files_check_at) => self.check_files().await,
                _ = limits_check.tick() => self.report_sandbox_hits().await,
                _ = sleep_until(retry_at) => self.retry_turn().await,
                _ = sleep_until(turn_deadline) => {
                    let limit = self.turn_timeout().as_secs();
                    return self.timed_out(format!("the turn exceeded its time limit of {limit} s")).await;
                }
                _ = sleep_until(session_deadline) => {
                    let limit = self.session.config.session_timeout_secs.unwrap_or_default();
                    return self.timed_out(format!("the session exceeded its time limit of {limit} s")).await;
                }
            }
        }
    }

    /// Tells the session what its agent ran into at the sandbox's edge: the limits it hit, and
    /// the git links it rewrote, which are put back first so that no git work follows them.
    async fn report_sandbox_hits(&mut self) {
        let messages = [self.sandbox.restored_git_links(), self.sandbox.new_limit_hits()].concat();
        for message in messages {
            self.emit(SessionEvent::Error { message, fatal: false }).await;
        }
    }

    fn turn_timeout(&self) -> Duration {
        self.session.config.turn_timeout_secs.map(Duration::from_secs).unwrap_or(DEFAULT_TURN_TIMEOUT)
    }

    async fn timed_out(&mut self, message: String) -> Ending {
        if self.turn_running {
            self.emit(SessionEvent::TurnEnded { stop_reason: StopReason::Timeout }).await;
            self.turn_running = false;
        }
        self.emit(SessionEvent::Error { message: message.clone(), fatal: true }).await;
        Ending { status: SessionStatus::Timeout, reason: Some(message) }
    }

    /// The agent's process ended. A clean exit completes the session between turns but fails it
    /// during one (the agent gave up on the turn's work); an unclean exit (a crash, a kill) leaves
    /// it dead. Every one of them can be resumed.
    async fn agent_exited(&mut self, clean: bool, message: String) -> Ending {
        let during_turn = self.turn_running;
        if during_turn {
            self.emit(SessionEvent::TurnEnded { stop_reason: StopReason::Error }).await;
            self.turn_running = false;
        }
        let (status, message) = match (clean, during_turn) {
            (true, false) => return Ending { status: SessionStatus::Completed, reason: Some(message) },
            (true, true) => (SessionStatus::Failed, format!("the agent exited during a turn: {message}")),
            (false, _) => (SessionStatus::Dead, message),
        };
        self.emit(SessionEvent::Error { message: message.clone(), fatal: true }).await;
        Ending { status, reason: Some(message) }
    }

    async fn handle_command(&mut self, command: ActorCommand) {
        match command {
            ActorCommand::Prompt { text, mode, reply } => {
                if !self.turn_running {
                    self.start_turn(text).await;
                    let _ = reply.send(Ok(PromptResult { queued: false }));
                    return;
                }
                match mode {
                    PromptMode::Queue => self.queued_prompts.push_back(text),
                    PromptMode::Interrupt => {
                        self.queued_prompts.push_front(text);
                        self.send_to_agent(AgentCommand::Cancel).await;
                    }
                }
                let _ = reply.send(Ok(PromptResult { queued: true }));
            }
            ActorCommand::Cancel { reply } => {
                if self.turn_running {
                    self.send_to_agent(AgentCommand::Cancel).await;
                }
                let _ = reply.send(Ok(()));
            }
            ActorCommand::Respond { request_id, option_id, content, reply } => {
                if self.pending_questions.contains(&request_id) {
                    let _ = reply.send(self.answer_question(request_id, option_id, content).await);
                    return;
                }
                let Some(pending) = self.pending_permissions.remove(&request_id) else {
                    let _ = reply.send(Err(SessionError::NoSuchRequest(request_id)));
                    return;
                };
                self.send_to_agent(AgentCommand::Respond {
                    request_id: request_id.clone(),
                    option_id: option_id.clone(),
                })
                .await;
                let always = pending.options.iter().any(|option| {
                    Some(&option.option_id) == option_id.as_ref() && option.kind == PermissionOptionKind::AllowAlways
                });
                self.emit(SessionEvent::PermissionResolved {
                    request_id,
                    option_id,
                    by: Some(ResolvedBy::User),
                    rule: None,
                })
                .await;
                if always {
                    self.remember_allowed(&pending).await;
                }
                self.back_to_work().await;
                let _ = reply.send(Ok(()));
            }
            ActorCommand::RecheckPermissions => self.recheck_permissions().await,
            ActorCommand::Update { change, reply } => {
                let before = (self.session.config.permission_mode, self.session.model.clone());
                change(&mut self.session);
                self.save().await;
                self.reconfigure_agent(before).await;
                // The change may have brought rules that answer a waiting request.
                self.recheck_permissions().await;
                let _ = reply.send(self.session.clone());
            }
            ActorCommand::Emit { events, reply } => {
                for event in events {
                    self.emit(event).await;
                }
                let _ = reply.send(());
            }
            ActorCommand::Rewind { target, reply } => {
                if self.turn_running {
                    let _ = reply.send(Err(SessionError::Busy));
                    return;
                }
                let _ = reply.send(self.rewind(target).await);
            }
            ActorCommand::Stop { .. } => unreachable!("stop is handled by the loop"),
        }
    }

    /// Emits `files_changed` when the worktree's files differ from the last look.
    async fn check_files(&mut self) {
        self.files_check_at = None;
        match worktree::fingerprint(&self.session).await {
            Ok(now) => {
                let paths = worktree::changed_paths(&self.fingerprint, &now);
                self.fingerprint = now;
                if !paths.is_empty() {
                    self.emit(SessionEvent::FilesChanged { paths }).await;
                }
            }
            Err(error) => tracing::warn!(session = %self.session.id, %error, "could not read the worktree's status"),
        }
    }

    /// Reports a commit or checkout made in the worktree outside Arbor, once.
    async fn notice_external_change(&mut self) {
        if let Some((event, head)) = worktree::external_change(&self.session).await {
            self.emit(event).await;
            self.session.head_commit = Some(head);
            self.save().await;
        }
    }

    async fn checkpoint_turn(&mut self) {
        let number = self.next_checkpoint;
        let label = format!("after turn {} of this run", self.turns_started);
        match worktree::take_checkpoint(&self.session, number, label).await {
            Ok(checkpoint) => {
                self.next_checkpoint += 1;
                self.emit(SessionEvent::Checkpoint(checkpoint)).await;
            }
            Err(error) => {
                let message = format!("could not take a checkpoint of the worktree: {error}");
                self.emit(SessionEvent::Error { message, fatal: false }).await;
            }
        }
    }

    async fn rewind(&mut self, target: Checkpoint) -> Result<Checkpoint, SessionError> {
        let saved_number = self.next_checkpoint;
        let saved = worktree::rewind(&self.session, &target, saved_number).await.map_err(SessionError::Git)?;
        self.next_checkpoint += 1;
        self.emit(SessionEvent::Checkpoint(saved.clone())).await;
        self.emit(SessionEvent::Rewound { to_checkpoint: target.checkpoint_id, saved_checkpoint: saved.checkpoint_id })
            .await;
        self.check_files().await;
        Ok(saved)
    }

    async fn send_to_agent(&mut self, command: AgentCommand) {
        if let Some(agent) = &self.agent {
            // A closed channel means the driver has ended; its exit arrives as an output.
            let _ = agent.commands.send(command).await;
        }
    }

    async fn start_turn(&mut self, text: String) {
        if let Some(marker) = &self.panic_marker
            && text.contains(marker.as_str())
        {
            panic!("fault injection: the prompt carries the {FAULT_PANIC_ON_PROMPT} marker");
        }
        if self.session.first_prompt.is_none() {
            self.session.first_prompt = Some(text.clone());
        }
        if self.session.title_source.is_none() {
            self.session.title = Some(title_from_prompt(&text));
            self.session.title_source = Some(TitleSource::Prompt);
        }
        self.emit(SessionEvent::UserMessage { text: text.clone() }).await;
        self.notice_external_change().await;
        self.turns_started += 1;
        self.turn_running = true;
        self.turn_deadline = Some(Instant::now() + self.turn_timeout());
        self.set_status(SessionStatus::Running, Some(AgentState::Working), None).await;
        let text = match self.memory_preamble.take() {
            Some(preamble) => format!("{preamble}{text}"),
            None => text,
        };
        self.current_prompt = Some(text.clone());
        self.send_to_agent(AgentCommand::Prompt(text)).await;
    }

    /// Saves the agent's edits to its memory file as a new version of the profile's memory, and
    /// shows the change.
    async fn save_memory(&mut self) {
        let Some(memory) = self.memory.as_mut() else { return };
        let message = match self.manager.context.memory.harvest(memory).await {
            Ok(None) => return,
            Ok(Some(change)) => {
                let version = change.version.version;
                let profile = self.session.profile.clone().unwrap_or_default();
                let undo = if version > 1 {
                    format!(
                        "; `arbor memory {profile} --restore {}` (profile/memoryRestore) brings back the text before",
                        version - 1
                    )
                } else {
                    String::new()
                };
                format!(
                    "The agent changed the memory of profile {profile}: saved as version {version}{undo}.\n{}",
                    change.diff
                )
            }
            Err(error) => format!("Could not save the agent's memory: {error}"),
        };
        self.emit(SessionEvent::Notice { message }).await;
    }

    /// Sends the running turn's prompt again after a rate limit.
    async fn retry_turn(&mut self) {
        self.retry_at = None;
        if let Some(prompt) = self.current_prompt.clone() {
            self.emit(SessionEvent::Notice {
                message: "Retrying the prompt now that the rate limit has passed.".into(),
            })
            .await;
            self.send_to_agent(AgentCommand::Prompt(prompt)).await;
        }
    }

    /// Passes a permission mode or model changed by `session/configure` on to the running agent,
    /// held to `ask` as at start when the policy guards bypass mode.
    async fn reconfigure_agent(&mut self, (mode_before, model_before): (Option<PermissionMode>, Option<String>)) {
        let mode = self.session.config.permission_mode.filter(|mode| Some(*mode) != mode_before);
        let model = self.session.model.clone().filter(|model| Some(model) != model_before.as_ref());
        if mode.is_none() && model.is_none() {
            return;
        }
        let guards_bypass = self.manager.context.rules.policy_of(&self.session, &self.store).await.guards_bypass();
        let permission_mode = mode.map(|mode| match mode {
            PermissionMode::BypassPermissions if guards_bypass => PermissionMode::Ask,
            other => other,
        });
        self.send_to_agent(AgentCommand::Configure { permission_mode, model }).await;
    }

    /// Handles one output of the agent (None: its driver has gone), with the chunks of the same
    /// message waiting behind it joined to it; returns how the session ends if this ends it.
    async fn on_output(&mut self, output: Option<AgentOutput>) -> Option<Ending> {
        let output = match output {
            Some(AgentOutput::Event(event)) => {
                let agent = self.agent.as_mut().expect("outputs come from a running agent");
                let (event, held) = coalesce::with_waiting(event, &mut agent.outputs);
                self.held_output = held;
                AgentOutput::Event(event)
            }
            Some(output) => self.unwrap_relayed(output),
            None => return Some(self.agent_exited(false, "the agent driver stopped".into()).await),
        };
        match output {
            AgentOutput::Exited { clean, message } => Some(self.agent_exited(clean, message).await),
            output => {
                self.handle_output(output).await;
                None
            }
        }
    }

    /// The output a relayed one carries, remembering where the relay stands after it.
    fn unwrap_relayed(&mut self, mut output: AgentOutput) -> AgentOutput {
        while let AgentOutput::Relayed { conversation, output: relayed } = output {
            self.relayed_to = Some(conversation);
            output = *relayed;
        }
        output
    }

    async fn handle_output(&mut self, output: AgentOutput) {
        match output {
            AgentOutput::Event(event) => {
                if matches!(
                    event,
                    SessionEvent::ToolCallUpdate {
                        status: Some(ToolCallStatus::Completed | ToolCallStatus::Failed),
                        ..
                    }
                ) {
                    self.files_check_at = Some(Instant::now() + FILES_DEBOUNCE);
                }
                if let SessionEvent::Question { request_id, message, .. } = &event {
                    let (request_id, message) = (request_id.clone(), message.clone());
                    self.pending_questions.insert(request_id.clone());
                    self.emit(event).await;
                    if !self.decline_by_policy(&request_id, &message).await {
                        self.set_agent_state(AgentState::WaitingInput).await;
                    }
                } else if let SessionEvent::PermissionRequest { request_id, tool_kind, subject, options, .. } = &event {
                    let request_id = request_id.clone();
                    let pending =
                        PendingPermission { tool_kind: *tool_kind, subject: subject.clone(), options: options.clone() };
                    self.pending_permissions.insert(request_id.clone(), pending);
                    self.emit(event).await;
                    if !self.decide_by_policy(&request_id).await {
                        self.set_agent_state(AgentState::WaitingInput).await;
                    }
                } else {
                    self.emit(event).await;
                }
            }
            AgentOutput::Settings(current) => {
                // A value that replaces one already shown (the agent switched, by itself or when
                // asked) is also said in the log; the first report at a start is only shown.
                let mut switched = Vec::new();
                let mut changed = |what: &str, shown: &mut Option<String>, reported: Option<String>| match reported {
                    Some(value) if shown.as_ref() != Some(&value) => {
                        if shown.replace(value.clone()).is_some() {
                            switched.push(format!("{what} `{value}`"));
                        }
                        true
                    }
                    _ => false,
                };
                let mode_changed = changed("mode", &mut self.session.agent_mode, current.mode);
                if changed("model", &mut self.session.agent_model, current.model) | mode_changed {
                    self.save().await;
                }
                if !switched.is_empty() {
                    let message = format!("{} switched to {}", self.session.agent, switched.join(" and "));
                    self.emit(SessionEvent::Notice { message }).await;
                }
            }
            AgentOutput::Title(title) => {
                // A title from the agent is `auto`: it replaces one taken from the prompt, never
                // the user's.
                if self.session.title_source < Some(TitleSource::User) && self.session.title.as_ref() != Some(&title) {
                    self.session.title = Some(title);
                    self.session.title_source = Some(TitleSource::Auto);
                    self.save().await;
                }
            }
            AgentOutput::AgentSessionId(id) => {
                if self.session.agent_session_id.as_deref() != Some(id.as_str()) {
                    self.session.agent_session_id = Some(id);
                    self.save().await;
                }
            }
            AgentOutput::Usage(usage) => {
                let usage = self.manager.context.prices.estimated(&self.session, usage);
                self.session.usage.add(&usage);
                let total = self.session.usage;
                self.emit(SessionEvent::Usage { turn: usage, total }).await;
                self.save().await;
            }
            AgentOutput::TurnEnded(stop_reason) => {
                self.turn_running = false;
                self.turn_deadline = None;
                self.withdraw_permissions().await;
                self.report_sandbox_hits().await;
                self.check_files().await;
                self.notice_external_change().await;
                self.checkpoint_turn().await;
                self.save_memory().await;
                self.emit(SessionEvent::TurnEnded { stop_reason }).await;
                self.current_prompt = None;
                match self.queued_prompts.pop_front() {
                    Some(next) => self.start_turn(next).await,
                    None => {
                        self.set_agent_state(AgentState::Idle).await;
                        if self.session.config.stop_when_idle == Some(true) {
                            self.stop_after =
                                Some("its turn is done; stopped to free a slot (resume to continue)".into());
                        }
                    }
                }
            }
            AgentOutput::RateLimited { retry_after, message } => {
                let seconds = retry_after.as_secs().max(1);
                let message =
                    format!("{message}; Arbor retries in {seconds} s and holds this agent's queue until then");
                self.emit(SessionEvent::Error { message, fatal: false }).await;
                self.retry_at = Some(Instant::now() + retry_after);
                if let Some(deadline) = self.turn_deadline.as_mut() {
                    *deadline += retry_after;
                }
                self.manager.pause_agent(&self.session.agent, retry_after);
            }
            AgentOutput::Exited { .. } | AgentOutput::Relayed { .. } => {
                unreachable!("exits and relays are taken apart by the loop")
            }
        }
    }

    /// Answers a waiting permission request when the policy decides it, without asking anyone;
    /// true when it did.
    async fn decide_by_policy(&mut self, request_id: &str) -> bool {
        let Some(pending) = self.pending_permissions.get(request_id) else { return false };
        let policy = self.manager.context.rules.policy_of(&self.session, &self.store).await;
        let Verdict::Decided { allow, rule } = policy.evaluate(pending.tool_kind, pending.subject.as_deref()) else {
            return false;
        };
        // An agent offering no answer of that sort is left to the user.
        let Some(option) = policy::option_for(&pending.options, allow) else { return false };
        let option_id = option.option_id.clone();
        self.pending_permissions.remove(request_id);
        let request_id = request_id.to_string();
        self.send_to_agent(AgentCommand::Respond {
            request_id: request_id.clone(),
            option_id: Some(option_id.clone()),
        })
        .await;
        self.emit(SessionEvent::PermissionResolved {
            request_id,
            option_id: Some(option_id),
            by: Some(ResolvedBy::Policy),
            rule: Some(rule),
        })
        .await;
        true
    }

    /// Decides the waiting permission requests again, after the rules changed.
    async fn recheck_permissions(&mut self) {
        let waiting: Vec<String> = self.pending_permissions.keys().cloned().collect();
        let mut decided = false;
        for request_id in waiting {
            decided |= self.decide_by_policy(&request_id).await;
        }
        if decided {
            self.back_to_work().await;
        }
    }

    /// The agent is working again once nothing it asked waits for an answer.
    async fn back_to_work(&mut self) {
        if self.pending_permissions.is_empty() && self.pending_questions.is_empty() && self.turn_running {
            self.set_agent_state(AgentState::Working).await;
        }
    }

    /// Answers a waiting question with the user's `option_id` (`accept`, `decline` or `cancel`)
    /// and `content`.
    async fn answer_question(
        &mut self,
        request_id: String,
        option_id: Option<String>,
        content: Option<serde_json::Value>,
    ) -> Result<(), SessionError> {
        let action = QuestionAction::parse(option_id.as_deref()).ok_or_else(|| {
            SessionError::BadAnswer(format!(
                "a question is answered with optionId accept, decline or cancel, not '{}'",
                option_id.unwrap_or_default()
            ))
        })?;
        if content.as_ref().is_some_and(|content| !content.is_object()) {
            return Err(SessionError::BadAnswer("a question's content is an object of its form's values".into()));
        }
        let content = content.filter(|_| action == QuestionAction::Accept);
        self.pending_questions.remove(&request_id);
        self.send_to_agent(AgentCommand::Answer { request_id: request_id.clone(), action, content: content.clone() })
            .await;
        self.emit(SessionEvent::QuestionAnswered { request_id, action, content, by: Some(ResolvedBy::User) }).await;
        self.back_to_work().await;
        Ok(())
    }

    /// Declines a question a deny rule covers (kind `other`, its message as the subject), so a
    /// user's rules hold for what agents ask as for what they do; true when it did.
    async fn decline_by_policy(&mut self, request_id: &str, message: &str) -> bool {
        let policy = self.manager.context.rules.policy_of(&self.session, &self.store).await;
        let Verdict::Decided { allow: false, .. } = policy.evaluate(ToolKind::Other, Some(message)) else {
            return false;
        };
        self.pending_questions.remove(request_id);
        let request_id = request_id.to_string();
        let action = QuestionAction::Decline;
        self.send_to_agent(AgentCommand::Answer { request_id: request_id.clone(), action, content: None }).await;
        self.emit(SessionEvent::QuestionAnswered { request_id, action, content: None, by: Some(ResolvedBy::Policy) })
            .await;
        true
    }

    /// Adds an "allow always" answer to the session's rules and, for a trial, to its task's, then
    /// has the task's other live sessions decide their waiting requests again.
    async fn remember_allowed(&mut self, pending: &PendingPermission) {
        let rule = policy::allow_always_rule(pending.tool_kind, pending.subject.as_deref());
        self.session.permissions.push(rule.clone());
        self.save().await;
        let Some(task_id) = self.session.task_id.filter(|_| self.session.trial_id.is_some()) else { return };
        let stored = match self.store.add_task_rules(task_id, vec![rule]).await {
            Ok(()) => self.store.flush().await,
            Err(error) => Err(error),
        };
        match stored {
            Ok(()) => self.manager.recheck_permissions(task_id, self.session.id),
            Err(error) => tracing::error!(session = %self.session.id, %error, "could not store the task's new rule"),
        }
    }

    /// Withdraws every waiting permission request and question (the turn or the session ended).
    async fn withdraw_permissions(&mut self) {
        for request_id in std::mem::take(&mut self.pending_permissions).into_keys() {
            self.emit(SessionEvent::PermissionResolved { request_id, option_id: None, by: None, rule: None }).await;
        }
        for request_id in std::mem::take(&mut self.pending_questions) {
            let action = QuestionAction::Cancel;
            self.emit(SessionEvent::QuestionAnswered { request_id, action, content: None, by: None }).await;
        }
    }

    /// Ends the agent, records the final status, and answers commands that raced with the end.
    async fn finish(mut self, ending: Ending) {
        if let Some(agent) = self.agent.take() {
            if ending.status == SessionStatus::Stopped {
                self.set_status(SessionStatus::Stopping, None, ending.reason.clone()).await;
                // An agent that can close its session frees it before its process is ended.
                let (closed, done) = oneshot::channel();
                if agent.commands.send(AgentCommand::Close { closed }).await.is_ok() {
                    let _ = tokio::time::timeout(CLOSE_GRACE, done).await;
                }
            }
            let group = agent.process_group.get();
            // Dropping the handle closes the agent's stdin: an agent that ends on its own then
            // saves its work first (Claude Code writes its transcript a moment after a turn,
            // and a SIGTERM at once lost it), so it gets a moment before it is told to end.
            drop(agent);
            if let Some(group) = group {
                group.wait_for_exit(EXIT_ON_ITS_OWN).await;
                group.terminate(STOP_GRACE).await;
            }
        }
        // Whatever the agent ran has ended (here, or in the driver when it failed to start), so
        // there is nothing left for crash recovery to end.
        if let Err(error) = self.store.clear_process_group(self.session.id).await {
            tracing::error!(session = %self.session.id, %error, "could not clear the agent's process group record");
        }
        self.report_sandbox_hits().await;
        self.save_memory().await;
        let sandbox = self.sandbox.clone();
        let _ = tokio::task::spawn_blocking(move || sandbox.teardown()).await;
        self.withdraw_permissions().await;
        self.set_status(ending.status, None, ending.reason).await;
        // Commands sent before the channel closed are answered as for a stopped session; after
        // that, senders find the channel closed and the service works on the stored record.
        self.commands.close();
        while let Some(command) = self.commands.recv().await {
            self.answer_while_not_running(command).await;
        }
        // The final state is not left half-written: a failed write holds the ending until it
        // is stored.
        let _ = self.store.flush().await;
        self.hold_while_unstored().await;
        let _ = self.store.flush().await;
        self.manager.remove(self.session.id);
        for reply in self.stop_replies.drain(..) {
            let _ = reply.send(self.session.clone());
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// A title from the first line of a prompt, shortened on a character boundary.
fn title_from_prompt(prompt: &str) -> String {
    let line = prompt.lines().find(|line| !line.trim().is_empty()).unwrap_or_default().trim();
    if line.chars().count() <= PROMPT_TITLE_CHARS {
        return line.to_string();
    }
    let mut title: String = line.chars().take(PROMPT_TITLE_CHARS - 1).collect();
    title.push('…');
    title
}

#[cfg(test)]
mod tests {
    use super::title_from_prompt;

    #[test]
    fn titles_come_from_the_first_non_empty_line() {
        assert_eq!(title_from_prompt("\n  Fix the login bug\nmore detail"), "Fix the login bug");
        let long = "é".repeat(200);
        assert_eq!(title_from_prompt(&long).chars().count(), 80);
    }
}
