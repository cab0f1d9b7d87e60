//! One actor (tokio task) per live session. It owns the session record, the agent handle and the
//! session's event sequence, so every change to a live session happens in one place, in order.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use arbor_protocol::{
    AgentState, Checkpoint, PermissionMode, PermissionOption, PermissionOptionKind, PromptMode, PromptResult,
    ResolvedBy, Session, SessionEvent, SessionEventNotification, SessionStatus, StopReason, TitleSource,
    ToolCallStatus, ToolKind,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::{SessionError, SessionManager, worktree};
use crate::agents::process::GroupLedger;
use crate::agents::{AgentCommand, AgentDriver, AgentError, AgentHandle, AgentOutput, StartSpec};
use crate::clock::now_millis;
use crate::paths::Paths;
use crate::policy::{self, Verdict};
use crate::store::Store;

/// Default limit on one turn.
pub const DEFAULT_TURN_TIMEOUT: Duration = Duration::from_secs(1800);
/// Default limit on starting the agent.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Extra time the actor allows beyond the driver's own start-up limit (a driver may wait before
/// it starts its agent, as the Gemini driver does for up to a minute).
const STARTUP_BACKSTOP: Duration = Duration::from_secs(75);
/// How long an agent gets to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// Bound of an actor's command queue.
pub(super) const COMMAND_CAPACITY: usize = 64;
/// Quiet time after a tool call before looking for changed files.
const FILES_DEBOUNCE: Duration = Duration::from_millis(250);
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

/// How the actor begins.
pub(super) struct Start {
    /// Conversation id to resume, if any.
    pub resume: Option<String>,
    /// Prompt to send once the agent is ready.
    pub prompt: Option<String>,
}

pub(super) struct SessionActor {
    session: Session,
    store: Store,
    paths: Paths,
    manager: SessionManager,
    agent: Option<AgentHandle>,
    queued_prompts: VecDeque<String>,
    turn_running: bool,
    /// Permission requests waiting for the user, by request id.
    pending_permissions: HashMap<String, PendingPermission>,
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
}

/// How the actor's main loop ended.
struct Ending {
    status: SessionStatus,
    reason: Option<String>,
    stop_reply: Option<oneshot::Sender<Session>>,
}

impl SessionActor {
    pub(super) fn new(session: Session, store: Store, paths: Paths, manager: SessionManager) -> Self {
        Self {
            session,
            store,
            paths,
            manager,
            agent: None,
            queued_prompts: VecDeque::new(),
            turn_running: false,
            pending_permissions: HashMap::new(),
            turn_deadline: None,
            session_deadline: None,
            next_checkpoint: 1,
            files_check_at: None,
            fingerprint: Vec::new(),
            turns_started: 0,
            current_prompt: None,
            retry_at: None,
            stop_after: None,
        }
    }

    /// Appends an event to the session's log. The store publishes it once it is committed.
    async fn emit(&mut self, event: SessionEvent) {
        self.session.last_seq += 1;
        let notification = SessionEventNotification {
            session_id: self.session.id,
            seq: self.session.last_seq,
            at: now_millis(),
            event,
        };
        if let Err(error) = self.store.append_event(Arc::new(notification)).await {
            tracing::error!(session = %self.session.id, %error, "could not store an event");
        }
    }

    /// Writes the session record; `session/changed` follows once it is committed.
    async fn save(&mut self) {
        self.session.updated_at = now_millis();
        if let Err(error) = self.store.put_session(self.session.clone()).await {
            tracing::error!(session = %self.session.id, %error, "could not store the session");
        }
    }

    async fn set_status(&mut self, status: SessionStatus, agent_state: Option<AgentState>, reason: Option<String>) {
        self.session.status = status;
        self.session.agent_state = agent_state;
        self.session.status_reason = reason.clone();
        self.emit(SessionEvent::StatusChanged { status, agent_state, reason }).await;
        self.save().await;
    }

    async fn set_agent_state(&mut self, agent_state: AgentState) {
        if self.session.agent_state != Some(agent_state) {
            self.set_status(SessionStatus::Running, Some(agent_state), None).await;
        }
    }

    pub(super) async fn run(
        mut self,
        driver: Arc<dyn AgentDriver>,
        start: Start,
        mut commands: mpsc::Receiver<ActorCommand>,
    ) {
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
        let spec = StartSpec {
            session_id: self.session.id,
            cwd: self.session.cwd.clone().into(),
            model: self.session.model.clone(),
            config: self.agent_config(driver.info().capabilities.permissions).await,
            resume: start.resume,
            log_path: self.paths.session_log(&self.session.id),
            startup_timeout,
            ledger: GroupLedger::new(self.store.clone(), self.session.id),
        };

        let ending = match self.start_agent(driver, spec, startup_timeout, &mut commands).await {
            Err(ending) => ending,
            Ok(()) => {
                self.set_status(SessionStatus::Running, Some(AgentState::Idle), None).await;
                if let Some(prompt) = start.prompt {
                    self.start_turn(prompt).await;
                }
                self.serve(&mut commands).await
            }
        };
        self.finish(ending, commands).await;
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
        commands: &mut mpsc::Receiver<ActorCommand>,
    ) -> Result<(), Ending> {
        // The driver enforces the limit and ends what it started; this outer limit is a backstop
        // for a driver that hangs before it has a process to end.
        let starting = tokio::time::timeout(timeout + STARTUP_BACKSTOP, driver.start(spec));
        tokio::pin!(starting);
        loop {
            tokio::select! {
                started = &mut starting => {
                    return match started {
                        Ok(Ok(handle)) => {
                            self.agent = Some(handle);
                            Ok(())
                        }
                        Ok(Err(error)) => {
                            let status = match error {
                                AgentError::StartupTimeout(_) => SessionStatus::Timeout,
                                _ => SessionStatus::Failed,
                            };
                            let message = error.to_string();
                            self.emit(SessionEvent::Error { message: message.clone(), fatal: true }).await;
                            Err(Ending { status, reason: Some(message), stop_reply: None })
                        }
                        Err(_) => {
                            let message = format!("the agent did not start within {} s", timeout.as_secs());
                            self.emit(SessionEvent::Error { message: message.clone(), fatal: true }).await;
                            Err(Ending { status: SessionStatus::Timeout, reason: Some(message), stop_reply: None })
                        }
                    };
                }
                command = commands.recv() => match command {
                    Some(ActorCommand::Stop { reason, reply }) => {
                        return Err(Ending { status: SessionStatus::Stopped, reason, stop_reply: Some(reply) });
                    }
                    Some(ActorCommand::Prompt { text, reply, .. }) => {
                        self.queued_prompts.push_back(text);
                        let _ = reply.send(Ok(PromptResult { queued: true }));
                    }
                    Some(other) => self.answer_while_not_running(other).await,
                    None => return Err(Ending { status: SessionStatus::Stopped, reason: None, stop_reply: None }),
                },
            }
        }
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
    async fn serve(&mut self, commands: &mut mpsc::Receiver<ActorCommand>) -> Ending {
        loop {
            let turn_deadline = self.turn_deadline;
            let session_deadline = self.session_deadline;
            if let Some(reason) = self.stop_after.take() {
                return Ending { status: SessionStatus::Stopped, reason: Some(reason), stop_reply: None };
            }
            let files_check_at = self.files_check_at;
            let retry_at = self.retry_at;
            let agent = self.agent.as_mut().expect("serve runs with an agent");
            tokio::select! {
                command = commands.recv() => match command {
                    Some(ActorCommand::Stop { reason, reply }) => {
                        return Ending { status: SessionStatus::Stopped, reason, stop_reply: Some(reply) };
                    }
                    Some(command) => self.handle_command(command).await,
                    None => return Ending { status: SessionStatus::Stopped, reason: None, stop_reply: None },
                },
                output = agent.outputs.recv() => match output {
                    Some(AgentOutput::Exited { clean, message }) => return self.agent_exited(clean, message).await,
                    None => return self.agent_exited(false, "the agent driver stopped".into()).await,
                    Some(output) => self.handle_output(output).await,
                },
                _ = sleep_until(files_check_at) => self.check_files().await,
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

    fn turn_timeout(&self) -> Duration {
        self.session.config.turn_timeout_secs.map(Duration::from_secs).unwrap_or(DEFAULT_TURN_TIMEOUT)
    }

    async fn timed_out(&mut self, message: String) -> Ending {
        if self.turn_running {
            self.emit(SessionEvent::TurnEnded { stop_reason: StopReason::Timeout }).await;
            self.turn_running = false;
        }
        self.emit(SessionEvent::Error { message: message.clone(), fatal: true }).await;
        Ending { status: SessionStatus::Timeout, reason: Some(message), stop_reply: None }
    }

    async fn agent_exited(&mut self, clean: bool, message: String) -> Ending {
        if self.turn_running {
            self.emit(SessionEvent::TurnEnded { stop_reason: StopReason::Error }).await;
            self.turn_running = false;
        }
        if clean && !self.turn_running {
            return Ending { status: SessionStatus::Completed, reason: Some(message), stop_reply: None };
        }
        self.emit(SessionEvent::Error { message: message.clone(), fatal: true }).await;
        Ending { status: SessionStatus::Dead, reason: Some(message), stop_reply: None }
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
            ActorCommand::Respond { request_id, option_id, reply } => {
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
                if self.pending_permissions.is_empty() && self.turn_running {
                    self.set_agent_state(AgentState::Working).await;
                }
                let _ = reply.send(Ok(()));
            }
            ActorCommand::RecheckPermissions => self.recheck_permissions().await,
            ActorCommand::Update { change, reply } => {
                change(&mut self.session);
                self.save().await;
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
        self.current_prompt = Some(text.clone());
        self.send_to_agent(AgentCommand::Prompt(text)).await;
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
                if let SessionEvent::PermissionRequest { request_id, tool_kind, subject, options, .. } = &event {
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
            AgentOutput::AgentSessionId(id) => {
                if self.session.agent_session_id.as_deref() != Some(id.as_str()) {
                    self.session.agent_session_id = Some(id);
                    self.save().await;
                }
            }
            AgentOutput::Usage(usage) => {
                self.session.usage.add(&usage);
                let total = self.session.usage;
                self.emit(SessionEvent::Usage { turn: usage, total }).await;
                self.save().await;
            }
            AgentOutput::TurnEnded(stop_reason) => {
                self.turn_running = false;
                self.turn_deadline = None;
                self.withdraw_permissions().await;
                self.check_files().await;
                self.notice_external_change().await;
                self.checkpoint_turn().await;
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
            AgentOutput::Exited { .. } => unreachable!("exits are handled by the loop"),
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
        if decided && self.pending_permissions.is_empty() && self.turn_running {
            self.set_agent_state(AgentState::Working).await;
        }
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

    /// Withdraws every waiting permission request (the turn or the session ended).
    async fn withdraw_permissions(&mut self) {
        for request_id in std::mem::take(&mut self.pending_permissions).into_keys() {
            self.emit(SessionEvent::PermissionResolved { request_id, option_id: None, by: None, rule: None }).await;
        }
    }

    /// Ends the agent, records the final status, and answers commands that raced with the end.
    async fn finish(mut self, ending: Ending, mut commands: mpsc::Receiver<ActorCommand>) {
        if let Some(agent) = self.agent.take() {
            if ending.status == SessionStatus::Stopped {
                self.set_status(SessionStatus::Stopping, None, ending.reason.clone()).await;
            }
            let group = agent.process_group.get();
            drop(agent);
            if let Some(group) = group {
                group.terminate(STOP_GRACE).await;
            }
        }
        // Whatever the agent ran has ended (here, or in the driver when it failed to start), so
        // there is nothing left for crash recovery to end.
        if let Err(error) = self.store.clear_process_group(self.session.id).await {
            tracing::error!(session = %self.session.id, %error, "could not clear the agent's process group record");
        }
        self.withdraw_permissions().await;
        self.set_status(ending.status, None, ending.reason).await;
        // Commands sent before the channel closed are answered as for a stopped session; after
        // that, senders find the channel closed and the service works on the stored record.
        commands.close();
        while let Some(command) = commands.recv().await {
            self.answer_while_not_running(command).await;
        }
        if let Err(error) = self.store.flush().await {
            tracing::error!(session = %self.session.id, %error, "could not flush the final session state");
        }
        self.manager.remove(self.session.id);
        if let Some(reply) = ending.stop_reply {
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
