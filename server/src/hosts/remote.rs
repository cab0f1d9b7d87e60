//! A session placed on a host: its agent is a session of the host's own Arbor, reached with
//! `ssh HOST arbor lsp` (which connects to the host's daemon, starting it when none runs) and
//! driven over Arbor's own protocol. The session's actor, log and record stay on this machine:
//! the host's events come back as the driver's outputs and are stored here before any client
//! sees them. The host's daemon keeps its session running through a cut link; on resume the
//! driver asks for the events after the last one it passed on, so none is lost or seen twice.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arbor_protocol::{
    AgentInfo, ConfigureParams, NewSessionParams, PromptMode, PromptParams, RespondParams, ResumeParams, Session,
    SessionConfig, SessionEvent, SessionEventNotification, SessionIdParams, SessionStatus, StopReason, SubscribeParams,
    SubscribeResult, method,
};
use serde_json::Value;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::warm::{self, WarmPool};
use super::{HostConfig, Ssh, mirror};
use crate::agents::process::{GroupSlot, ProcessGroup};
use crate::agents::{AgentCommand, AgentDriver, AgentError, AgentHandle, AgentOutput, StartFuture, StartSpec};
use crate::client::{Notification, RpcClient, RpcError};

/// Outputs the driver may have in flight to the session's actor.
const OUTPUT_CAPACITY: usize = 256;
/// Commands the actor may have in flight to the driver.
const COMMAND_CAPACITY: usize = 32;
/// How long one request to the host may take once connected.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The driver of one session placed on `host`.
pub fn driver(
    host: HostConfig,
    ssh: Ssh,
    warm: Arc<WarmPool>,
    info: AgentInfo,
    session: Session,
) -> Arc<dyn AgentDriver> {
    Arc::new(RemoteDriver { host, ssh, warm, info, session })
}

#[derive(Clone)]
struct RemoteDriver {
    host: HostConfig,
    ssh: Ssh,
    /// Sessions opened on hosts ahead of need.
    warm: Arc<WarmPool>,
    /// The local description of the session's agent.
    info: AgentInfo,
    /// The local session as it was placed.
    session: Session,
}

/// An open connection to a host's Arbor: ssh's process (the leader of its own group) and the
/// protocol client over its pipes.
pub struct Connection {
    child: tokio::process::Child,
    group: ProcessGroup,
    /// The client speaking Arbor's protocol to the host.
    pub client: Arc<RpcClient>,
    notifications: mpsc::UnboundedReceiver<Notification>,
    /// Where ssh writes why it failed.
    log_path: PathBuf,
}

impl Connection {
    /// Closes the connection and ends ssh.
    pub async fn end(mut self) {
        let _ = self.client.shutdown().await;
        self.group.terminate(Duration::from_secs(2)).await;
        let _ = self.child.wait().await;
    }
}

/// Connects to the host's Arbor with `ssh HOST arbor lsp` (stderr to `log`) and initializes.
/// ssh carries `session_id` in its environment when the connection is a session's from the
/// start, which is how crash recovery knows a leftover group as that session's (a warm place's
/// connection has no session yet, so it carries none).
pub async fn open_link(
    host: &HostConfig,
    ssh: &Ssh,
    session_id: Option<Uuid>,
    log: std::fs::File,
    log_path: PathBuf,
) -> Result<Connection, AgentError> {
    let mut command = ssh.connection(&host.ssh, &["arbor", "lsp"]);
    command.stderr(log);
    if let Some(session_id) = session_id {
        command.env(crate::agents::process::SESSION_ID_ENV, session_id.to_string());
    }
    let (mut child, group) =
        ProcessGroup::spawn_leader(&mut command).map_err(|source| AgentError::Spawn { agent: "ssh".into(), source })?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(handshake(host, "connecting", "ssh's pipes are missing"));
    };
    let (client, notifications) = RpcClient::new(stdout, stdin);
    let connection = Connection { child, group, client, notifications, log_path };
    if let Err(error) = connection.client.initialize().await {
        let said = lost(&connection.log_path, error);
        connection.end().await;
        return Err(handshake(host, "reaching Arbor", said));
    }
    Ok(connection)
}

/// Why a host's session could not be stopped from this machine.
#[derive(Debug, thiserror::Error)]
pub enum StopThereError {
    /// The host is no longer configured, so this machine cannot reach it.
    #[error("host {0} is no longer in the config file")]
    Unknown(String),
    /// The session's conversation is not one of that host.
    #[error("{conversation} is not a conversation on host {host}")]
    NotThere { conversation: String, host: String },
    /// The host could not be reached.
    #[error(transparent)]
    Connect(#[from] AgentError),
    /// The host's Arbor refused.
    #[error("host {host} did not stop it: {message}")]
    Refused { host: String, message: String },
}

/// Stops the host's session of `conversation` (`HOST/HOST-SESSION-ID/SEQ`) on `host`, for a
/// session that moves away from it: left running there, it would hold one of the host's slots
/// and go on with work nothing brings home any more. ssh writes to `log_path`.
pub async fn stop_there(
    host: &HostConfig,
    ssh: &Ssh,
    conversation: &str,
    log_path: PathBuf,
) -> Result<(), StopThereError> {
    let not_there = || StopThereError::NotThere { conversation: conversation.to_string(), host: host.name.clone() };
    let there = Conversation::parse(conversation).filter(|parsed| parsed.host == host.name).ok_or_else(not_there)?;
    let log = crate::paths::open_private_log(&log_path)
        .map_err(|source| AgentError::Spawn { agent: "ssh".into(), source })?;
    let connection = open_link(host, ssh, None, log, log_path).await?;
    let params = SessionIdParams { session_id: there.session_id };
    let stopped =
        tokio::time::timeout(REQUEST_TIMEOUT, connection.client.call::<_, Value>(method::SESSION_STOP, &params)).await;
    connection.end().await;
    let refused = |message: String| StopThereError::Refused { host: host.name.clone(), message };
    match stopped {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(refused(error.message)),
        Err(_) => Err(refused(format!("no answer in {} s", REQUEST_TIMEOUT.as_secs()))),
    }
}

/// Where a session's conversation is on a host, as its `agentSessionId` records it:
/// `HOST/HOST-SESSION-ID/SEQ`, the seq being that of the host's last event passed on.
#[derive(Debug, Clone, PartialEq)]
struct Conversation {
    host: String,
    session_id: Uuid,
    seq: u64,
}

impl Conversation {
    fn parse(text: &str) -> Option<Conversation> {
        let mut parts = text.rsplitn(3, '/');
        let seq = parts.next()?.parse().ok()?;
        let session_id = parts.next()?.parse().ok()?;
        let host = parts.next()?.to_string();
        Some(Conversation { host, session_id, seq })
    }

    fn shown(&self) -> String {
        format!("{}/{}/{}", self.host, self.session_id, self.seq)
    }
}

impl AgentDriver for RemoteDriver {
    fn info(&self) -> AgentInfo {
        self.info.clone()
    }

    fn start(&self, spec: StartSpec) -> StartFuture {
        let driver = self.clone();
        Box::pin(async move {
            let limit = spec.startup_timeout;
            match tokio::time::timeout(limit, driver.connect(spec)).await {
                Ok(result) => result,
                Err(_) => Err(AgentError::StartupTimeout(limit.as_secs())),
            }
        })
    }
}

/// An error of the host, said as a failed start.
fn handshake(host: &HostConfig, what: &str, error: impl std::fmt::Display) -> AgentError {
    AgentError::Handshake(format!("{what} on host {}: {error}", host.name))
}

impl RemoteDriver {
    /// Connects to the host (or takes a warm place there), opens or finds again the host's
    /// session and starts passing its events on.
    async fn connect(self, spec: StartSpec) -> Result<AgentHandle, AgentError> {
        let RemoteDriver { host, ssh, warm, info, session } = self;
        let resume = match spec.resume.as_deref() {
            Some(text) => match Conversation::parse(text) {
                // A conversation on another host is not there to resume: the actor then starts a
                // new one with a recap of this one.
                Some(conversation) if conversation.host == host.name => Some(conversation),
                _ => return Err(AgentError::ConversationLost(text.to_string())),
            },
            None => None,
        };
        // A new conversation starts from the local worktree's state, with these settings there.
        let key = warm::Key {
            host: host.name.clone(),
            agent: session.agent.clone(),
            repo_root: session.repo_root.clone().into(),
        };
        let fresh = match resume {
            Some(_) => None,
            None => {
                let commit = mirror::state_of(&spec.cwd)
                    .await
                    .map_err(|error| handshake(&host, "reading the worktree", error))?;
                Some(warm::Start { commit, config: settings_there(&spec.config, &info), model: spec.model.clone() })
            }
        };
        let (connection, remote, after_seq) = match fresh.as_ref().and_then(|start| warm.take(&key, start)) {
            Some(place) => {
                let after_seq =
                    adopt(&place, &session).await.map_err(|error| handshake(&host, "taking a warm place", error))?;
                (place.connection, place.remote, after_seq)
            }
            None => {
                let log = crate::paths::open_private_log(&spec.log_path)
                    .map_err(|source| AgentError::Spawn { agent: session.agent.clone(), source })?;
                let connection = open_link(&host, &ssh, Some(spec.session_id), log, spec.log_path.clone()).await?;
                let opened = match (&resume, &fresh) {
                    (Some(conversation), _) => resume_there(&connection.client, &host, conversation)
                        .await
                        .map(|remote| (remote, conversation.seq)),
                    (None, Some(start)) => {
                        open_there(&connection.client, &host, &ssh, &session, start).await.map(|remote| (remote, 0))
                    }
                    (None, None) => unreachable!("a start is either a resume or fresh"),
                };
                match opened {
                    Ok((remote, after_seq)) => (connection, remote, after_seq),
                    Err(error) => {
                        connection.end().await;
                        return Err(error);
                    }
                }
            }
        };
        // What the host's worktree is known to hold: the state a new conversation starts from,
        // else the last checkpoint brought home (None when no turn of a resumed one came home).
        let baseline = match &fresh {
            Some(start) => Some(start.commit.clone()),
            None => mirror::last_fetched(Path::new(&session.repo_root), session.id).await,
        };
        spec.ledger.record(connection.group).await;
        if let Some(start) = fresh {
            let log = spec.log_path.with_file_name(format!("warm-{}.log", host.name));
            warm.refill(&host, &ssh, &info, key, start, log);
        }
        if let Err(error) = attach(&connection.client, &host, remote.id, after_seq).await {
            connection.end().await;
            return Err(error);
        }
        tracing::debug!(session = %spec.session_id, host = %host.name, remote = %remote.id, after_seq, "attached to the host's session");
        let Connection { mut child, group, client, notifications, log_path } = connection;

        let (commands, command_receiver) = mpsc::channel(COMMAND_CAPACITY);
        let (outputs, output_receiver) = mpsc::channel(OUTPUT_CAPACITY);
        let conversation = Conversation { host: host.name.clone(), session_id: remote.id, seq: after_seq };
        let _ = outputs.send(AgentOutput::AgentSessionId(conversation.shown())).await;
        let closing = Arc::new(AtomicBool::new(false));
        let link = Link {
            host,
            ssh,
            client: client.clone(),
            remote: remote.clone(),
            local: (PathBuf::from(&session.repo_root), PathBuf::from(&spec.cwd), session.id),
            log_path,
            baseline: Arc::new(tokio::sync::Mutex::new(baseline)),
        };
        tokio::spawn(forward_commands(link.clone(), command_receiver, outputs.clone(), closing.clone()));
        tokio::spawn(async move {
            pass_events(link, notifications, outputs, conversation, closing).await;
            // ssh ends with the connection; waiting reaps it.
            let _ = child.wait().await;
        });
        // The host's agent is given no profile, so the briefing goes with the first prompt.
        Ok(AgentHandle { commands, outputs: output_receiver, process_group: GroupSlot::with(group), briefed: false })
    }
}

/// Subscribes to the host's session `id` after `after_seq` and waits until it runs. The host
/// admits its session in its own time (it may wait there for a slot), and a prompt sent before it
/// runs would be refused, so the start ends when it runs; what it says meanwhile waits in the
/// subscription for `pass_events`. An end before it runs is a failed start.
async fn attach(client: &RpcClient, host: &HostConfig, id: Uuid, after_seq: u64) -> Result<(), AgentError> {
    let _: SubscribeResult = client
        .call(method::SESSION_SUBSCRIBE, &SubscribeParams { session_id: id, after_seq: Some(after_seq) })
        .await
        .map_err(|error| handshake(host, "subscribing to the session", error))?;
    loop {
        let there: Session = client
            .call(method::SESSION_GET, &SessionIdParams { session_id: id })
            .await
            .map_err(|error| handshake(host, "following the session's start", error))?;
        match there.status {
            SessionStatus::Running => return Ok(()),
            SessionStatus::Pending | SessionStatus::Creating => tokio::time::sleep(Duration::from_millis(25)).await,
            other => {
                let reason = there.status_reason.map(|reason| format!(": {reason}")).unwrap_or_default();
                return Err(handshake(host, "starting the session", format!("it is {}{reason}", other.as_str())));
            }
        }
    }
}

/// Makes a warm place's host session this session's: titled like it. Returns the host seq to
/// pass events on after (what the place did while it waited is its own).
async fn adopt(place: &warm::Place, session: &Session) -> Result<u64, RpcError> {
    let client = &place.connection.client;
    if let Some(title) = &session.title {
        let params = ConfigureParams { session_id: place.remote.id, title: Some(title.clone()), ..Default::default() };
        client.call::<_, Value>(method::SESSION_CONFIGURE, &params).await?;
    }
    let there: Session = client.call(method::SESSION_GET, &SessionIdParams { session_id: place.remote.id }).await?;
    Ok(there.last_seq)
}

/// What a failed handshake says: the error, and the last line ssh wrote (why it could not
/// connect) when the connection closed.
fn lost(log_path: &std::path::Path, error: RpcError) -> String {
    match last_log_line(log_path) {
        Some(line) if error.code == 0 => format!("{error}: {line}"),
        _ => error.to_string(),
    }
}

fn last_log_line(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().rev().find(|line| !line.trim().is_empty()).map(|line| line.trim().to_string())
}

/// The settings the host's session gets: the local session's, less what this machine's actor
/// enforces itself (the whole-session limit, stopping when idle) and the placement, which would
/// mean nothing there. A sandbox is used when the host has one, whatever this machine's default.
/// A system prompt goes only to an agent that takes one: the host refuses a setting its agent
/// would ignore, and the one a recap adds is not the user's.
fn settings_there(config: &SessionConfig, agent: &AgentInfo) -> SessionConfig {
    let takes_system_prompt = agent.capabilities.settings.iter().any(|setting| setting == "systemPrompt");
    SessionConfig {
        system_prompt: config.system_prompt.clone().filter(|_| takes_system_prompt),
        host: None,
        host_labels: None,
        session_timeout_secs: None,
        stop_when_idle: None,
        sandbox: Some(config.sandbox.unwrap_or(arbor_protocol::SandboxChoice::Auto)),
        ..config.clone()
    }
}

/// Pushes the session's starting point to the host and opens the host's session on it.
async fn open_there(
    client: &RpcClient,
    host: &HostConfig,
    ssh: &Ssh,
    session: &Session,
    start: &warm::Start,
) -> Result<Session, AgentError> {
    let branch = mirror::home_branch(session.id);
    let mirror = mirror::publish_commit(ssh, &host.ssh, session.repo_root.as_ref(), &start.commit, &branch)
        .await
        .map_err(|error| handshake(host, "sending the repository", error))?;
    let params = NewSessionParams {
        cwd: String::new(),
        repository_url: Some(mirror),
        setup_files: None,
        work_done_token: None,
        agent: session.agent.clone(),
        model: start.model.clone(),
        title: session.title.clone(),
        prompt: None,
        base_branch: Some(branch),
        isolation: None,
        config: Some(start.config.clone()),
        profile: None,
        permissions: None,
        workflow: None,
        additional_dirs: None,
    };
    client.call(method::SESSION_NEW, &params).await.map_err(|error| handshake(host, "opening the session", error))
}

/// Finds the host's session again: still running (the link was cut, not the session), or
/// resumed.
async fn resume_there(
    client: &RpcClient,
    host: &HostConfig,
    conversation: &Conversation,
) -> Result<Session, AgentError> {
    let id = SessionIdParams { session_id: conversation.session_id };
    let there: Session =
        client.call(method::SESSION_GET, &id).await.map_err(|_| AgentError::ConversationLost(conversation.shown()))?;
    if matches!(there.status, SessionStatus::Running | SessionStatus::Creating | SessionStatus::Pending) {
        return Ok(there);
    }
    let params = ResumeParams { session_id: conversation.session_id, prompt: None, as_new_session: false, host: None };
    client.call(method::SESSION_RESUME, &params).await.map_err(|error| handshake(host, "resuming the session", error))
}

/// What the driver's tasks share: the connection and both ends of the session.
#[derive(Clone)]
struct Link {
    host: HostConfig,
    ssh: Ssh,
    client: Arc<RpcClient>,
    /// The host's session as it was opened.
    remote: Session,
    /// This machine's repository, worktree and session id.
    local: (PathBuf, PathBuf, Uuid),
    log_path: PathBuf,
    /// The commit whose files the host's worktree holds as far as this machine knows: the
    /// state sent there or the checkpoint last brought home from there. Locked while either
    /// changes, so a prompt never compares the local worktree with a fetch half done.
    baseline: Arc<tokio::sync::Mutex<Option<String>>>,
}

/// Sends what was changed in the local worktree since the host's worktree last matched it
/// (the user's edits, a rewind, a rejected hunk), so the host's next turn starts from it
/// rather than overwriting it when its work is brought home. A change that cannot be sent
/// refuses the prompt, keeping the change here.
async fn send_local_edits(link: &Link, outputs: &mpsc::Sender<AgentOutput>) -> Result<(), String> {
    let mut baseline = link.baseline.lock().await;
    let Some(known) = baseline.clone() else { return Ok(()) };
    let (repo_root, worktree, session_id) = &link.local;
    let refused = |error: mirror::MirrorError| {
        format!(
            "the prompt was not sent to host {}: the changes made here since its last turn could not be sent \
             there ({error}); they are kept here",
            link.host.name
        )
    };
    let Some(edits) = mirror::local_edits(worktree, &known).await.map_err(refused)? else { return Ok(()) };
    mirror::send_edits(&link.ssh, &link.host.ssh, repo_root, &link.remote.cwd, *session_id, &edits)
        .await
        .map_err(refused)?;
    *baseline = Some(edits.commit.clone());
    let message = format!(
        "sent the changes made here since the last turn ({} file{}) to host {} before the prompt",
        edits.changed,
        if edits.changed == 1 { "" } else { "s" },
        link.host.name
    );
    let _ = outputs.send(AgentOutput::Event(SessionEvent::Notice { message })).await;
    Ok(())
}

/// Turns the actor's commands into requests to the host's session, one at a time and in order.
async fn forward_commands(
    link: Link,
    mut commands: mpsc::Receiver<AgentCommand>,
    outputs: mpsc::Sender<AgentOutput>,
    closing: Arc<AtomicBool>,
) {
    let session_id = link.remote.id;
    while let Some(command) = commands.recv().await {
        let answered = match command {
            AgentCommand::Prompt(text) => {
                let params = PromptParams { session_id, text, mode: Some(PromptMode::Queue) };
                let sent = match send_local_edits(&link, &outputs).await {
                    Ok(()) => request(&link, method::SESSION_PROMPT, &params).await,
                    Err(message) => Err(message),
                };
                if let Err(message) = &sent {
                    // The turn the actor started never began there.
                    let _ = outputs.send(AgentOutput::Event(error_event(&link, message))).await;
                    let _ = outputs.send(AgentOutput::TurnEnded(StopReason::Error)).await;
                    continue;
                }
                sent
            }
            AgentCommand::Cancel => request(&link, method::SESSION_CANCEL, &SessionIdParams { session_id }).await,
            AgentCommand::Respond { request_id, option_id } => {
                let params = RespondParams { session_id, request_id, option_id, content: None };
                request(&link, method::SESSION_RESPOND, &params).await
            }
            AgentCommand::Answer { request_id, action, content } => {
                let option_id = serde_json::to_value(action).ok().and_then(|value| value.as_str().map(str::to_string));
                let params = RespondParams { session_id, request_id, option_id, content };
                request(&link, method::SESSION_RESPOND, &params).await
            }
            AgentCommand::Configure { permission_mode, model } => {
                let params = ConfigureParams { session_id, permission_mode, model, ..Default::default() };
                request(&link, method::SESSION_CONFIGURE, &params).await
            }
            AgentCommand::Close { closed } => {
                closing.store(true, Ordering::SeqCst);
                let stopped = request(&link, method::SESSION_STOP, &SessionIdParams { session_id }).await;
                let _ = link.client.shutdown().await;
                drop(closed);
                stopped
            }
        };
        if let Err(message) = answered {
            let _ = outputs.send(AgentOutput::Event(error_event(&link, &message))).await;
        }
    }
}

async fn request<P: serde::Serialize>(link: &Link, method: &str, params: &P) -> Result<(), String> {
    match tokio::time::timeout(REQUEST_TIMEOUT, link.client.call::<P, Value>(method, params)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(format!("{method} failed on host {}: {}", link.host.name, error.message)),
        Err(_) => {
            Err(format!("{method} had no answer from host {} in {} s", link.host.name, REQUEST_TIMEOUT.as_secs()))
        }
    }
}

fn error_event(link: &Link, message: &str) -> SessionEvent {
    let message = if message.contains(&link.host.name) {
        message.to_string()
    } else {
        format!("on host {}: {message}", link.host.name)
    };
    SessionEvent::Error { message, fatal: false }
}

/// What one of the host session's events becomes here.
enum Passed {
    /// Passed on as it is.
    Event(SessionEvent),
    /// Not passed on: this machine's actor makes its own (the prompt, status, answers, file
    /// changes and checkpoints of the local worktree).
    Dropped,
    /// A checkpoint of the host's worktree, to bring home when the turn ends.
    Checkpoint { reference: String, commit: String },
    /// Usage of the turn.
    Usage(arbor_protocol::Usage),
    /// The turn ended.
    TurnEnded(StopReason),
    /// The host's session ended by itself.
    Ended { status: SessionStatus, reason: Option<String> },
}

fn translate(event: SessionEvent) -> Passed {
    match event {
        SessionEvent::Checkpoint(checkpoint) => {
            Passed::Checkpoint { reference: checkpoint.reference, commit: checkpoint.commit }
        }
        SessionEvent::Usage { turn, .. } => Passed::Usage(turn),
        SessionEvent::TurnEnded { stop_reason } => Passed::TurnEnded(stop_reason),
        SessionEvent::StatusChanged { status, reason, .. } => match status {
            SessionStatus::Stopped
            | SessionStatus::Completed
            | SessionStatus::Failed
            | SessionStatus::Timeout
            | SessionStatus::Dead => Passed::Ended { status, reason },
            _ => Passed::Dropped,
        },
        // A fatal error there ends the host's session, which this machine's actor reports in
        // its own words when the status change follows.
        SessionEvent::Error { message, .. } => Passed::Event(SessionEvent::Error { message, fatal: false }),
        SessionEvent::UserMessage { .. }
        | SessionEvent::PermissionResolved { .. }
        | SessionEvent::QuestionAnswered { .. }
        | SessionEvent::FilesChanged { .. }
        | SessionEvent::Rewound { .. }
        | SessionEvent::ExternalChange { .. }
        | SessionEvent::PrOpened { .. }
        | SessionEvent::PrUpdated { .. } => Passed::Dropped,
        other => Passed::Event(other),
    }
}

/// Passes the host session's events on as outputs until the connection or the session ends.
async fn pass_events(
    link: Link,
    mut notifications: mpsc::UnboundedReceiver<Notification>,
    outputs: mpsc::Sender<AgentOutput>,
    mut conversation: Conversation,
    closing: Arc<AtomicBool>,
) {
    let mut checkpoint: Option<(String, String)> = None;
    let ending = loop {
        let Some(notification) = notifications.recv().await else { break None };
        if notification.method != method::NOTIFY_SESSION_EVENT {
            continue;
        }
        let Ok(notification) = serde_json::from_value::<SessionEventNotification>(notification.params) else {
            continue;
        };
        // Each seq once, in order: a replay after a reconnect starts after the last one passed.
        if notification.session_id != link.remote.id || notification.seq <= conversation.seq {
            continue;
        }
        conversation.seq = notification.seq;
        let output = match translate(notification.event) {
            Passed::Event(event) => AgentOutput::Event(event),
            Passed::Dropped => continue,
            Passed::Checkpoint { reference, commit } => {
                checkpoint = Some((reference, commit));
                continue;
            }
            Passed::Usage(usage) => AgentOutput::Usage(usage),
            Passed::TurnEnded(stop_reason) => {
                if let Some((reference, commit)) = checkpoint.take() {
                    let (repo_root, worktree, session_id) = &link.local;
                    let host_repo = link.remote.repo_root.as_str();
                    let local = (repo_root.as_path(), worktree.as_path(), *session_id);
                    let mut baseline = link.baseline.lock().await;
                    let fetched = mirror::bring_home(
                        &link.ssh,
                        &link.host.ssh,
                        host_repo,
                        &reference,
                        &commit,
                        local,
                        baseline.as_deref(),
                    )
                    .await;
                    match fetched {
                        Ok(laid) => {
                            let said = match laid {
                                mirror::LaidIn::Restored => None,
                                mirror::LaidIn::Merged => Some(SessionEvent::Notice {
                                    message: format!(
                                        "the turn's work came home from host {} beside the changes made here \
                                         during the turn",
                                        link.host.name
                                    ),
                                }),
                                mirror::LaidIn::Conflict => Some(SessionEvent::Error {
                                    message: format!(
                                        "the turn's work on host {} changes what was changed here during the \
                                         turn, so the worktree here keeps its changes; the host's work is commit \
                                         {commit} (refs/arbor/hosts/{session_id}), and the next prompt sends the \
                                         worktree as it is here",
                                        link.host.name
                                    ),
                                    fatal: false,
                                }),
                            };
                            if let Some(event) = said {
                                let _ = outputs.send(AgentOutput::Event(event)).await;
                            }
                            *baseline = Some(commit);
                        }
                        Err(error) => {
                            let message =
                                format!("could not bring the turn's work home from host {}: {error}", link.host.name);
                            let _ =
                                outputs.send(AgentOutput::Event(SessionEvent::Error { message, fatal: false })).await;
                        }
                    }
                }
                AgentOutput::TurnEnded(stop_reason)
            }
            Passed::Ended { status, reason } => break Some((status, reason)),
        };
        // Stored with the seq it came at, so a resume after a cut or a crash of this machine's
        // daemon asks only for what came later.
        let relayed = AgentOutput::Relayed { conversation: conversation.shown(), output: Box::new(output) };
        if outputs.send(relayed).await.is_err() {
            return;
        }
    };
    let _ = outputs.send(AgentOutput::AgentSessionId(conversation.shown())).await;
    let exit = match ending {
        _ if closing.load(Ordering::SeqCst) => AgentOutput::Exited { clean: true, message: "stopped".into() },
        Some((status, reason)) => AgentOutput::Exited {
            clean: status == SessionStatus::Completed,
            message: format!(
                "the session on host {} ended {}{}",
                link.host.name,
                status.as_str(),
                reason.map(|reason| format!(": {reason}")).unwrap_or_default()
            ),
        },
        None => {
            // ssh's last words say why (a timeout, a reset); give it a moment to write them.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let said = last_log_line(&link.log_path).map(|line| format!(" ({line})")).unwrap_or_default();
            AgentOutput::Exited {
                clean: false,
                message: format!("lost the connection to host {}{said}", link.host.name),
            }
        }
    };
    let _ = outputs.send(exit).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_reads_back_as_it_was_written() {
        let conversation = Conversation { host: "build-1".into(), session_id: Uuid::new_v4(), seq: 42 };
        assert_eq!(Conversation::parse(&conversation.shown()), Some(conversation));
        assert_eq!(Conversation::parse("claude-session-id"), None);
        assert_eq!(Conversation::parse("a/not-a-uuid/3"), None);
    }

    #[test]
    fn the_hosts_own_bookkeeping_is_not_passed_on() {
        assert!(matches!(translate(SessionEvent::UserMessage { text: "hi".into() }), Passed::Dropped));
        assert!(matches!(
            translate(SessionEvent::Error { message: "boom".into(), fatal: true }),
            Passed::Event(SessionEvent::Error { fatal: false, .. })
        ));
        assert!(matches!(
            translate(SessionEvent::TurnEnded { stop_reason: StopReason::EndTurn }),
            Passed::TurnEnded(StopReason::EndTurn)
        ));
    }
}
