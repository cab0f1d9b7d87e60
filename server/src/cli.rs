//! `arbor session …` and `arbor agents`: using Arbor from a terminal, through the daemon.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use arbor_protocol::{
    AgentState, AgentsListResult, ArchiveResult, CheckResult, CompareResult, EventsParams, EventsResult,
    ExportEncoding, ExportResult, Isolation, ListSessionsParams, ListSessionsResult, MergeStrategy, NewSessionParams,
    PromoteParams, PromoteResult, PromptMode, PromptParams, PromptResult, PullRequest, PullRequestParams, PushParams,
    PushResult, RespondParams, ResumeParams, SendReviewResult, Session, SessionConfig, SessionEvent,
    SessionEventNotification, SessionIdParams, SessionStatus, SubscribeParams, SubscribeResult, Task, TaskDetail,
    TaskIdParams, TaskListParams, TaskListResult, TaskNewParams, TrialIdParams, TrialNewParams, TrialNewResult,
    TrialPushParams, TrialSpec, method,
};
use base64::Engine as _;
use clap::Subcommand;
use serde_json::json;
use tokio::sync::mpsc;
use uuid::Uuid;

use self::ask::OpenRequests;
use crate::client::{Notification, RpcClient};
use crate::paths::Paths;
use crate::render::{EventPrinter, cost_text, usage_text};
use crate::rpc::bridge;

mod ask;
pub mod gc;
pub mod memory;

pub use ask::location_flags;

/// `arbor session` subcommands.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List sessions: pinned first, then the most recent.
    List {
        /// Only sessions whose title, path or first prompt contains this text.
        #[arg(long)]
        query: Option<String>,
        /// Only sessions of this agent.
        #[arg(long)]
        agent: Option<String>,
        /// Only sessions in this status (repeatable).
        #[arg(long)]
        status: Vec<String>,
        /// Include hidden sessions.
        #[arg(long)]
        all: bool,
    },
    /// Print a session's details and its whole history.
    Show {
        /// Session id (or a unique prefix of it).
        id: String,
    },
    /// Export a session's conversation (Markdown, HTML, JSON or PDF) to a file or stdout.
    Export {
        /// Session id (or a unique prefix).
        id: String,
        /// markdown (default), html, json or pdf.
        #[arg(long, default_value = "markdown")]
        format: String,
        /// File to write (default: stdout).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Start a session.
    New {
        /// Agent id (see `arbor agents`).
        #[arg(long, default_value = "scripted")]
        agent: String,
        /// The first prompt.
        #[arg(long)]
        prompt: Option<String>,
        /// A directory in the repository to work on.
        #[arg(long, default_value = ".")]
        cwd: PathBuf,
        /// Title (otherwise taken from the prompt).
        #[arg(long)]
        title: Option<String>,
        /// Model, for agents that take one.
        #[arg(long)]
        model: Option<String>,
        /// Branch to start from (default: the current branch).
        #[arg(long)]
        base: Option<String>,
        /// Work directly in the repository instead of a new branch and worktree.
        #[arg(long)]
        in_place: bool,
        /// Script file for the scripted agent.
        #[arg(long)]
        script: Option<PathBuf>,
        /// Stream the session until its first turn ends.
        #[arg(long)]
        wait: bool,
    },
    /// Send a message.
    Prompt {
        /// Session id (or a unique prefix).
        id: String,
        /// The message.
        text: String,
        /// Interrupt the current turn instead of queueing behind it.
        #[arg(long)]
        interrupt: bool,
        /// Stream the session until the turn ends.
        #[arg(long)]
        wait: bool,
    },
    /// Answer a permission request: `respond ID REQUEST OPTION`, or `respond ID OPTION` for the
    /// one request waiting, or `respond ID` to be asked at a terminal.
    Respond {
        /// Session id (or a unique prefix).
        id: String,
        /// The request's id as printed with the request (optional when only one is waiting), then
        /// the chosen option's id, such as `allow` or `reject`, or `accept`, `decline` or `cancel`
        /// for a question (asked for at a terminal when left out).
        #[arg(num_args = 0..=2, value_name = "[REQUEST] OPTION")]
        answer: Vec<String>,
        /// A question's answer: a JSON object of its form's values, sent with `accept`.
        #[arg(long)]
        content: Option<String>,
    },
    /// Interrupt the current turn.
    Cancel {
        /// Session id (or a unique prefix).
        id: String,
    },
    /// Stop a session (it can be resumed).
    Stop {
        /// Session id (or a unique prefix).
        id: String,
    },
    /// Resume a stopped, dead, failed or timed-out session.
    Resume {
        /// Session id (or a unique prefix).
        id: String,
        /// A message to send once it is back.
        #[arg(long)]
        prompt: Option<String>,
        /// Stream the session until the turn ends.
        #[arg(long)]
        wait: bool,
    },
    /// Push a session's branch (its committed work) to the repository's remote.
    Push {
        /// Session id (or a unique prefix).
        id: String,
        /// The remote (default: the base branch's upstream remote, else the only one, else origin).
        #[arg(long)]
        remote: Option<String>,
    },
    /// Push a session's branch and open a pull request for it on GitHub.
    Pr {
        /// Session id (or a unique prefix).
        id: String,
        /// Open it as a draft.
        #[arg(long)]
        draft: bool,
        /// Title (default: the session's title).
        #[arg(long)]
        title: Option<String>,
        /// The remote to push to.
        #[arg(long)]
        remote: Option<String>,
        /// The repository on GitHub, owner/name (default: from the remote's URL).
        #[arg(long)]
        repository: Option<String>,
    },
    /// Send the pull request's review comments to the session's agent.
    SendReview {
        /// Session id (or a unique prefix).
        id: String,
    },
    /// Archive a session: commit its leftovers, remove its worktree, keep branch, checkpoints
    /// and history (`arbor session resume` brings the worktree back).
    Archive {
        /// Session id (or a unique prefix).
        id: String,
    },
    /// Delete a session. Its branch is kept unless --delete-branch is given.
    Delete {
        /// Session id (or a unique prefix).
        id: String,
        /// Also delete the branch (refused when its work is not merged, unless --force).
        #[arg(long)]
        delete_branch: bool,
        /// Delete the branch even when unmerged.
        #[arg(long)]
        force: bool,
    },
}

/// `arbor task` subcommands.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Create a task.
    New {
        /// Short title.
        #[arg(long)]
        title: String,
        /// What is wanted (the default prompt of its trials).
        #[arg(long)]
        description: Option<String>,
        /// A directory in the repository.
        #[arg(long, default_value = ".")]
        cwd: PathBuf,
        /// Base branch (default: the current branch).
        #[arg(long)]
        base: Option<String>,
        /// Check command run in a trial's worktree, such as the test suite.
        #[arg(long)]
        check: Option<String>,
        /// Setup command run in each new trial worktree.
        #[arg(long)]
        setup: Option<String>,
        /// Workflow attached to the trials.
        #[arg(long)]
        workflow: Option<String>,
    },
    /// List tasks, newest first.
    List,
    /// A task with its trials.
    Show {
        /// Task id (or a unique prefix).
        id: String,
    },
}

/// `arbor trial` subcommands.
#[derive(Debug, Subcommand)]
pub enum TrialCommand {
    /// Start trials of a task: one per --agent (or --profile).
    New {
        /// Task id (or a unique prefix).
        task: String,
        /// Agent of a trial (repeat for several trials).
        #[arg(long)]
        agent: Vec<String>,
        /// Profile of a trial (repeat for several trials).
        #[arg(long)]
        profile: Vec<String>,
        /// Prompt (default: the task's description).
        #[arg(long)]
        prompt: Option<String>,
        /// Script file for scripted trials.
        #[arg(long)]
        script: Option<PathBuf>,
    },
    /// Compare a task's trials.
    Compare {
        /// Task id (or a unique prefix).
        task: String,
    },
    /// Run the task's check command in a trial's worktree.
    Check {
        /// Trial id (or a unique prefix).
        trial: String,
    },
    /// Commit a trial's remaining work and push its branch.
    Push {
        /// Trial id (or a unique prefix).
        trial: String,
        /// The remote to push to.
        #[arg(long)]
        remote: Option<String>,
    },
    /// Merge a trial into the task's base and abandon the others.
    Promote {
        /// Trial id (or a unique prefix).
        trial: String,
        /// Squash into one commit instead of a merge commit.
        #[arg(long)]
        squash: bool,
    },
}

struct Cli {
    client: Arc<RpcClient>,
    notifications: mpsc::UnboundedReceiver<Notification>,
    out: std::io::Stdout,
    /// The location flags the commands this prints carry (see [`ask::location_flags`]).
    location_flags: String,
}

impl Cli {
    async fn connect(paths: &Paths) -> anyhow::Result<Cli> {
        let stream = bridge::connect_or_start(paths).await?;
        let (read, write) = stream.into_split();
        let (client, notifications) = RpcClient::new(read, write);
        client.initialize().await?;
        Ok(Cli { client, notifications, out: std::io::stdout(), location_flags: String::new() })
    }

    /// Resolves a full id or a unique prefix of one.
    async fn resolve(&self, id: &str) -> anyhow::Result<Uuid> {
        if let Ok(id) = Uuid::parse_str(id) {
            return Ok(id);
        }
        let list: ListSessionsResult = self
            .client
            .call(
                method::SESSION_LIST,
                &ListSessionsParams { include_hidden: true, limit: Some(1000), ..Default::default() },
            )
            .await?;
        let matches: Vec<&Session> =
            list.sessions.iter().filter(|session| session.id.to_string().starts_with(id)).collect();
        match matches.as_slice() {
            [one] => Ok(one.id),
            [] => bail!("no session id starts with '{id}'"),
            _ => bail!("'{id}' matches {} sessions; give more of the id", matches.len()),
        }
    }

    /// Prints events until `done` says the awaited moment has come, or the session waits for an
    /// answer that cannot be asked here. At a terminal each permission request is asked and
    /// answered as it comes; elsewhere the wait ends, printing the commands that answer it.
    async fn stream_until(&mut self, mut done: impl FnMut(&SessionEvent) -> bool) -> anyhow::Result<()> {
        let mut printer = EventPrinter::for_stdout();
        let mut open = OpenRequests::default();
        let interactive = ask::interactive();
        while let Some(notification) = self.notifications.recv().await {
            if notification.method != method::NOTIFY_SESSION_EVENT {
                continue;
            }
            let event: SessionEventNotification = serde_json::from_value(notification.params)?;
            printer.print(&event, &mut self.out)?;
            open.observe(&event.event);
            if done(&event.event) {
                return Ok(());
            }
            // Only once the session says it waits is a request the user's to answer: the
            // permission policy may have answered it first.
            if !matches!(event.event, SessionEvent::StatusChanged { agent_state: Some(AgentState::WaitingInput), .. }) {
                continue;
            }
            while let Some(request) = open.oldest().cloned() {
                let answer = if interactive { ask::ask(&request).await? } else { None };
                let Some(answer) = answer else {
                    write!(self.out, "{}", ask::respond_commands(event.session_id, &request, &self.location_flags))?;
                    return Ok(());
                };
                self.respond(event.session_id, &request.request_id, answer).await?;
                open.close(&request.request_id);
            }
        }
        bail!("the connection to the daemon closed")
    }

    async fn respond(&self, session_id: Uuid, request_id: &str, answer: ask::Answer) -> anyhow::Result<()> {
        let params = RespondParams {
            session_id,
            request_id: request_id.to_string(),
            option_id: Some(answer.option_id),
            content: answer.content,
        };
        self.client.request(method::SESSION_RESPOND, serde_json::to_value(params)?).await?;
        Ok(())
    }

    /// Every event of a session, oldest first.
    async fn history(&self, session_id: Uuid) -> anyhow::Result<Vec<SessionEventNotification>> {
        let mut events = Vec::new();
        loop {
            let after_seq = events.last().map_or(0, |event: &SessionEventNotification| event.seq);
            let page: EventsResult = self
                .client
                .call(
                    method::SESSION_EVENTS,
                    &EventsParams { session_id, after_seq: Some(after_seq), limit: Some(1000) },
                )
                .await?;
            events.extend(page.events);
            if !page.has_more {
                return Ok(events);
            }
        }
    }

    /// `session respond`: `answer` is `[REQUEST] [OPTION]`; a left-out request is the one waiting,
    /// a left-out option is asked at a terminal.
    async fn answer_request(
        &mut self,
        session_id: Uuid,
        answer: Vec<String>,
        content: Option<serde_json::Value>,
    ) -> anyhow::Result<()> {
        let (request_id, answer) = match <[String; 2]>::try_from(answer) {
            Ok([request, option_id]) => (request, ask::Answer { option_id, content }),
            Err(answer) => {
                let mut open = OpenRequests::default();
                for event in self.history(session_id).await? {
                    open.observe(&event.event);
                }
                let request = ask::only_waiting(session_id, &open)?;
                let answer = match answer.into_iter().next() {
                    Some(option_id) => ask::Answer { option_id, content },
                    None if ask::interactive() => match ask::ask(request).await? {
                        Some(answer) => answer,
                        None => bail!("no answer given"),
                    },
                    None => bail!(
                        "give the option to answer with:\n{}",
                        ask::respond_commands(session_id, request, &self.location_flags)
                    ),
                };
                (request.request_id.clone(), answer)
            }
        };
        let option_id = answer.option_id.clone();
        self.respond(session_id, &request_id, answer).await?;
        writeln!(self.out, "answered {request_id} with {option_id}")?;
        Ok(())
    }

    async fn subscribe(&self, session_id: Uuid, after_seq: u64) -> anyhow::Result<()> {
        let _: SubscribeResult = self
            .client
            .call(method::SESSION_SUBSCRIBE, &SubscribeParams { session_id, after_seq: Some(after_seq) })
            .await?;
        Ok(())
    }

    async fn get(&self, session_id: Uuid) -> anyhow::Result<Session> {
        Ok(self.client.call(method::SESSION_GET, &SessionIdParams { session_id }).await?)
    }

    fn print_session(&mut self, session: &Session) -> anyhow::Result<()> {
        let out = &mut self.out;
        writeln!(out, "session   {}", session.id)?;
        writeln!(out, "title     {}", session.title.as_deref().unwrap_or("(none)"))?;
        writeln!(
            out,
            "agent     {}{}",
            session.agent,
            session.model.as_ref().map(|model| format!(" ({model})")).unwrap_or_default()
        )?;
        let state = session
            .agent_state
            .map(|state| format!(", {}", json!(state).as_str().unwrap_or_default()))
            .unwrap_or_default();
        writeln!(out, "status    {}{state}", session.status.as_str())?;
        if let Some(reason) = &session.status_reason {
            writeln!(out, "reason    {reason}")?;
        }
        let place = match session.isolation {
            Isolation::Worktree => "worktree",
            Isolation::InPlace => "in place",
        };
        writeln!(out, "directory {} ({place})", session.cwd)?;
        writeln!(
            out,
            "branch    {} (from {})",
            session.branch.as_deref().unwrap_or("-"),
            session.base_branch.as_deref().unwrap_or("-")
        )?;
        writeln!(out, "usage     {}", usage_text(&session.usage))?;
        if let Some(pull) = &session.pull_request {
            writeln!(out, "pull req  {} {}", pull.summary(), pull.url)?;
        }
        if let Some(resumed_from) = session.resumed_from {
            writeln!(out, "resumed   from {resumed_from}")?;
        }
        Ok(())
    }
}

impl Cli {
    async fn tasks(&self) -> anyhow::Result<Vec<Task>> {
        let list: TaskListResult = self.client.call(method::TASK_LIST, &TaskListParams::default()).await?;
        Ok(list.tasks)
    }

    async fn resolve_task(&self, id: &str) -> anyhow::Result<Uuid> {
        let tasks = self.tasks().await?;
        unique(id, tasks.iter().map(|task| task.id), "task")
    }

    async fn resolve_trial(&self, id: &str) -> anyhow::Result<Uuid> {
        let mut trials = Vec::new();
        for task in self.tasks().await? {
            let detail: TaskDetail = self.client.call(method::TASK_GET, &TaskIdParams { task_id: task.id }).await?;
            trials.extend(detail.trials.into_iter().map(|trial| trial.trial.id));
        }
        unique(id, trials.into_iter(), "trial")
    }
}

/// The one id that is `wanted` or starts with it.
fn unique(wanted: &str, ids: impl Iterator<Item = Uuid>, kind: &str) -> anyhow::Result<Uuid> {
    let matches: Vec<Uuid> = ids.filter(|id| id.to_string().starts_with(wanted)).collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => bail!("no {kind} id starts with '{wanted}'"),
        _ => bail!("'{wanted}' matches {} {kind}s; give more of the id", matches.len()),
    }
}

fn status_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|value| value.as_str().map(str::to_string)).unwrap_or_default()
}

/// `arbor task …`.
pub async fn task(paths: &Paths, command: TaskCommand) -> anyhow::Result<()> {
    let mut cli = Cli::connect(paths).await?;
    match command {
        TaskCommand::New { title, description, cwd, base, check, setup, workflow } => {
            let cwd = cwd.canonicalize().with_context(|| format!("{} does not exist", cwd.display()))?;
            let params = TaskNewParams {
                title,
                description,
                cwd: cwd.display().to_string(),
                base_branch: base,
                check_command: check,
                setup_command: setup,
                workflow,
                permissions: Vec::new(),
            };
            let task: Task = cli.client.call(method::TASK_NEW, &params).await?;
            writeln!(cli.out, "created task {} ({} on {})", task.id, task.title, task.base_branch)?;
        }
        TaskCommand::List => {
            let tasks = cli.tasks().await?;
            writeln!(cli.out, "{:<8}  {:<9}  {:<40}  PROJECT", "ID", "STATUS", "TITLE")?;
            for task in &tasks {
                let title: String = task.title.chars().take(40).collect();
                writeln!(
                    cli.out,
                    "{:<8}  {:<9}  {:<40}  {}",
                    &task.id.to_string()[..8],
                    status_name(&task.status),
                    title,
                    task.project
                )?;
            }
            writeln!(cli.out, "{} tasks", tasks.len())?;
        }
        TaskCommand::Show { id } => {
            let task_id = cli.resolve_task(&id).await?;
            let detail: TaskDetail = cli.client.call(method::TASK_GET, &TaskIdParams { task_id }).await?;
            let task = &detail.task;
            writeln!(
                cli.out,
                "task      {}\ntitle     {}\nstatus    {}\nproject   {} (base {})",
                task.id,
                task.title,
                status_name(&task.status),
                task.project,
                task.base_branch
            )?;
            writeln!(cli.out, "check     {}", task.check_command.as_deref().unwrap_or("(none)"))?;
            for trial in &detail.trials {
                let session = trial.sessions.last();
                writeln!(
                    cli.out,
                    "trial {}  {:<9} {:<10} {}  session {}",
                    trial.trial.number,
                    status_name(&trial.trial.status),
                    trial.trial.agent,
                    &trial.trial.id.to_string()[..8],
                    session.map(|session| session.id.to_string()[..8].to_string()).unwrap_or_default()
                )?;
            }
        }
    }
    let _ = cli.client.shutdown().await;
    Ok(())
}

/// `arbor trial …`.
pub async fn trial(paths: &Paths, command: TrialCommand) -> anyhow::Result<()> {
    let mut cli = Cli::connect(paths).await?;
    match command {
        TrialCommand::New { task, agent, profile, prompt, script } => {
            let task_id = cli.resolve_task(&task).await?;
            let script = match script {
                Some(path) => {
                    Some(std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?)
                }
                None => None,
            };
            let config = script.map(|script| SessionConfig { script: Some(script), ..SessionConfig::default() });
            let mut trials: Vec<TrialSpec> = agent
                .into_iter()
                .map(|agent| TrialSpec {
                    agent: Some(agent),
                    prompt: prompt.clone(),
                    config: config.clone(),
                    ..TrialSpec::default()
                })
                .collect();
            trials.extend(profile.into_iter().map(|profile| TrialSpec {
                profile: Some(profile),
                prompt: prompt.clone(),
                ..TrialSpec::default()
            }));
            if trials.is_empty() {
                bail!("give at least one --agent or --profile");
            }
            let result: TrialNewResult =
                cli.client.call(method::TRIAL_NEW, &TrialNewParams { task_id, trials }).await?;
            for trial in result.trials {
                let branch = trial.sessions.first().and_then(|session| session.branch.clone()).unwrap_or_default();
                writeln!(
                    cli.out,
                    "started trial {} ({}) {} on {branch}",
                    trial.trial.number, trial.trial.agent, trial.trial.id
                )?;
            }
        }
        TrialCommand::Compare { task } => {
            let task_id = cli.resolve_task(&task).await?;
            let compare: CompareResult = cli.client.call(method::TRIAL_COMPARE, &TaskIdParams { task_id }).await?;
            writeln!(
                cli.out,
                "{:>5}  {:<9}  {:<10}  {:>5}  {:>6}  {:>6}  {:>8}  {:>9}  {:>8}  CHECK",
                "TRIAL", "STATUS", "AGENT", "FILES", "+LINES", "-LINES", "TOKENS", "COST", "TIME"
            )?;
            for row in &compare.rows {
                let check = row.check.as_ref().map_or("-".to_string(), |check| {
                    format!("{} ({})", if check.passed { "pass" } else { "FAIL" }, check.summary)
                });
                writeln!(
                    cli.out,
                    "{:>5}  {:<9}  {:<10}  {:>5}  {:>6}  {:>6}  {:>8}  {:>9}  {:>7.1}s  {check}",
                    row.number,
                    status_name(&row.status),
                    row.agent,
                    row.files_changed,
                    row.additions,
                    row.deletions,
                    row.usage.input_tokens + row.usage.output_tokens,
                    cost_text(&row.usage),
                    row.wall_time_ms as f64 / 1000.0
                )?;
            }
            for shared in &compare.shared_files {
                let trials: Vec<String> = shared.trials.iter().map(u32::to_string).collect();
                writeln!(cli.out, "changed by trials {}: {}", trials.join(", "), shared.path)?;
            }
        }
        TrialCommand::Check { trial } => {
            let trial_id = cli.resolve_trial(&trial).await?;
            let result: CheckResult = cli.client.call(method::TRIAL_CHECK, &TrialIdParams { trial_id }).await?;
            let verdict = if result.passed { "passed" } else { "FAILED" };
            writeln!(cli.out, "check {verdict} in {:.1} s: {}", result.duration_ms as f64 / 1000.0, result.summary)?;
        }
        TrialCommand::Push { trial, remote } => {
            let trial_id = cli.resolve_trial(&trial).await?;
            let pushed: PushResult = cli.client.call(method::TRIAL_PUSH, &TrialPushParams { trial_id, remote }).await?;
            if let Some(commit) = &pushed.committed {
                writeln!(cli.out, "committed the remaining work as {commit}")?;
            }
            print_pushed(&mut cli.out, &pushed)?;
        }
        TrialCommand::Promote { trial, squash } => {
            let trial_id = cli.resolve_trial(&trial).await?;
            let strategy = Some(if squash { MergeStrategy::Squash } else { MergeStrategy::Merge });
            let result: PromoteResult =
                cli.client.call(method::TRIAL_PROMOTE, &PromoteParams { trial_id, strategy, message: None }).await?;
            if result.merge.merged {
                writeln!(
                    cli.out,
                    "promoted into {} as {}; {} other trials abandoned (branches kept)",
                    result.merge.base_branch,
                    result.merge.commit.unwrap_or_default(),
                    result.abandoned.len()
                )?;
            } else {
                writeln!(cli.out, "not merged: conflicts in {}", result.merge.conflicts.join(", "))?;
            }
        }
    }
    let _ = cli.client.shutdown().await;
    Ok(())
}

fn print_pushed(out: &mut impl Write, pushed: &PushResult) -> anyhow::Result<()> {
    writeln!(out, "pushed {} to {} ({}) at {}", pushed.branch, pushed.remote, pushed.remote_url, pushed.commit)?;
    Ok(())
}

/// Ends of a turn that `--wait` stops at.
fn turn_or_session_ended(event: &SessionEvent) -> bool {
    match event {
        SessionEvent::TurnEnded { .. } => true,
        SessionEvent::StatusChanged { status, .. } => !status.is_live(),
        _ => false,
    }
}

/// `arbor agents`.
pub async fn agents(paths: &Paths) -> anyhow::Result<()> {
    let mut cli = Cli::connect(paths).await?;
    let result: AgentsListResult = cli.client.call(method::AGENTS_LIST, &()).await?;
    for agent in result.agents {
        let availability = if agent.available { "available" } else { "not available" };
        writeln!(
            cli.out,
            "{:<12} {:<14} {} — {}",
            agent.id,
            availability,
            agent.version.unwrap_or_default(),
            agent.description
        )?;
        if let Some(hint) = agent.install_hint.filter(|_| !agent.available) {
            writeln!(cli.out, "{:<12} install: {hint}", "")?;
        }
    }
    let sandbox = result.sandbox;
    let auto = sandbox.auto.map_or("none", |backend| backend.as_str());
    writeln!(cli.out, "\nsandbox: auto picks {auto}; limits by {}", sandbox.limits)?;
    for status in sandbox.backends {
        let availability = if status.available { "available" } else { "not available" };
        writeln!(cli.out, "{:<12} {:<14} {}", status.backend.as_str(), availability, status.detail)?;
    }
    if let Some(reason) = sandbox.reason {
        writeln!(cli.out, "{reason}")?;
    }
    Ok(())
}

/// `arbor session …`.
pub async fn session(paths: &Paths, location_flags: String, command: SessionCommand) -> anyhow::Result<()> {
    let mut cli = Cli::connect(paths).await?;
    cli.location_flags = location_flags;
    match command {
        SessionCommand::List { query, agent, status, all } => {
            let status = status
                .iter()
                .map(|name| SessionStatus::parse(name).with_context(|| format!("unknown status '{name}'")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let params = ListSessionsParams {
                query,
                agent,
                status: (!status.is_empty()).then_some(status),
                include_hidden: all,
                limit: Some(1000),
                offset: None,
            };
            let list: ListSessionsResult = cli.client.call(method::SESSION_LIST, &params).await?;
            writeln!(cli.out, "{:<8}  {:<9}  {:<10}  {:>8}  {:<40}  BRANCH", "ID", "STATUS", "AGENT", "COST", "TITLE")?;
            for session in &list.sessions {
                let pin = if session.pinned { "* " } else { "" };
                let title: String =
                    format!("{pin}{}", session.title.as_deref().unwrap_or("(untitled)")).chars().take(40).collect();
                writeln!(
                    cli.out,
                    "{:<8}  {:<9}  {:<10}  {:>8}  {:<40}  {}",
                    &session.id.to_string()[..8],
                    session.status.as_str(),
                    session.agent,
                    cost_text(&session.usage),
                    title,
                    session.branch.as_deref().unwrap_or("-")
                )?;
            }
            writeln!(cli.out, "{} of {} sessions", list.sessions.len(), list.total)?;
        }
        SessionCommand::Show { id } => {
            let session_id = cli.resolve(&id).await?;
            let session = cli.get(session_id).await?;
            cli.print_session(&session)?;
            writeln!(cli.out)?;
            let mut printer = EventPrinter::for_stdout();
            for event in cli.history(session_id).await? {
                printer.print(&event, &mut cli.out)?;
            }
            writeln!(cli.out)?;
        }
        SessionCommand::Export { id, format, output } => {
            let session_id = cli.resolve(&id).await?;
            let result: ExportResult =
                cli.client.call(method::SESSION_EXPORT, &json!({ "sessionId": session_id, "format": format })).await?;
            let bytes = match result.encoding {
                ExportEncoding::Text => result.content.into_bytes(),
                ExportEncoding::Base64 => base64::engine::general_purpose::STANDARD
                    .decode(&result.content)
                    .context("the server's export is not valid base64")?,
            };
            match output {
                Some(path) => {
                    std::fs::write(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
                    writeln!(cli.out, "exported to {}", path.display())?;
                }
                None => cli.out.write_all(&bytes)?,
            }
        }
        SessionCommand::New { agent, prompt, cwd, title, model, base, in_place, script, wait } => {
            let script = match script {
                Some(path) => {
                    Some(std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?)
                }
                None => None,
            };
            let cwd = cwd.canonicalize().with_context(|| format!("{} does not exist", cwd.display()))?;
            let has_prompt = prompt.is_some();
            let params = NewSessionParams {
                cwd: cwd.display().to_string(),
                agent,
                model,
                title,
                prompt,
                base_branch: base,
                isolation: Some(if in_place { Isolation::InPlace } else { Isolation::Worktree }),
                config: script.map(|script| SessionConfig { script: Some(script), ..SessionConfig::default() }),
                ..NewSessionParams::default()
            };
            let session: Session = cli.client.call(method::SESSION_NEW, &params).await?;
            writeln!(
                cli.out,
                "started session {} on {}",
                session.id,
                session.branch.as_deref().unwrap_or("the current branch")
            )?;
            if wait {
                cli.subscribe(session.id, 0).await?;
                if has_prompt {
                    cli.stream_until(turn_or_session_ended).await?;
                } else {
                    cli.stream_until(|event| {
                        matches!(event, SessionEvent::StatusChanged { status, agent_state, .. }
                        if *status != SessionStatus::Creating && (agent_state.is_some() || !status.is_live()))
                    })
                    .await?;
                }
                let session = cli.get(session.id).await?;
                writeln!(cli.out)?;
                cli.print_session(&session)?;
            }
        }
        SessionCommand::Prompt { id, text, interrupt, wait } => {
            let session_id = cli.resolve(&id).await?;
            if wait {
                let session = cli.get(session_id).await?;
                cli.subscribe(session_id, session.last_seq).await?;
            }
            let mode = Some(if interrupt { PromptMode::Interrupt } else { PromptMode::Queue });
            let result: PromptResult =
                cli.client.call(method::SESSION_PROMPT, &PromptParams { session_id, text, mode }).await?;
            if result.queued {
                writeln!(cli.out, "queued behind the running turn")?;
            }
            if wait {
                // A queued prompt runs after the current turn, so wait for its own user_message first.
                let mut started = !result.queued;
                cli.stream_until(|event| {
                    if matches!(event, SessionEvent::UserMessage { .. }) {
                        started = true;
                    }
                    (started && matches!(event, SessionEvent::TurnEnded { .. }))
                        || matches!(event, SessionEvent::StatusChanged { status, .. } if !status.is_live())
                })
                .await?;
            }
        }
        SessionCommand::Respond { id, answer, content } => {
            let session_id = cli.resolve(&id).await?;
            let content =
                content.map(|text| serde_json::from_str(&text).context("--content is not JSON")).transpose()?;
            cli.answer_request(session_id, answer, content).await?;
        }
        SessionCommand::Cancel { id } => {
            let session_id = cli.resolve(&id).await?;
            cli.client.request(method::SESSION_CANCEL, json!({ "sessionId": session_id })).await?;
        }
        SessionCommand::Stop { id } => {
            let session_id = cli.resolve(&id).await?;
            let session: Session = cli.client.call(method::SESSION_STOP, &SessionIdParams { session_id }).await?;
            writeln!(cli.out, "session {} is {}", session.id, session.status.as_str())?;
        }
        SessionCommand::Resume { id, prompt, wait } => {
            let session_id = cli.resolve(&id).await?;
            let before = cli.get(session_id).await?;
            if wait {
                cli.subscribe(session_id, before.last_seq).await?;
            }
            let has_prompt = prompt.is_some();
            let session: Session = cli
                .client
                .call(method::SESSION_RESUME, &ResumeParams { session_id, prompt, as_new_session: false })
                .await?;
            writeln!(cli.out, "resumed session {}", session.id)?;
            if wait && has_prompt {
                cli.stream_until(turn_or_session_ended).await?;
            }
        }
        SessionCommand::Push { id, remote } => {
            let session_id = cli.resolve(&id).await?;
            let pushed: PushResult = cli.client.call(method::SESSION_PUSH, &PushParams { session_id, remote }).await?;
            print_pushed(&mut cli.out, &pushed)?;
        }
        SessionCommand::Pr { id, draft, title, remote, repository } => {
            let session_id = cli.resolve(&id).await?;
            let params = PullRequestParams { session_id, draft, title, body: None, remote, repository };
            let pull: PullRequest = cli.client.call(method::SESSION_PR, &params).await?;
            writeln!(cli.out, "opened pull request #{} ({}): {}", pull.number, pull.state.as_str(), pull.url)?;
        }
        SessionCommand::SendReview { id } => {
            let session_id = cli.resolve(&id).await?;
            let sent: SendReviewResult =
                cli.client.call(method::SESSION_SEND_REVIEW, &SessionIdParams { session_id }).await?;
            let when = if sent.queued { "after the current turn" } else { "now" };
            writeln!(cli.out, "sent {} review comments to the agent ({when})", sent.comments)?;
        }
        SessionCommand::Archive { id } => {
            let session_id = cli.resolve(&id).await?;
            let result: ArchiveResult =
                cli.client.call(method::SESSION_ARCHIVE, &SessionIdParams { session_id }).await?;
            writeln!(
                cli.out,
                "session {} is archived; its work is on branch {} ({} freed)",
                result.session.id,
                result.session.branch.as_deref().unwrap_or("-"),
                crate::service::human_bytes(result.freed_bytes)
            )?;
        }
        SessionCommand::Delete { id, delete_branch, force } => {
            let session_id = cli.resolve(&id).await?;
            let result: arbor_protocol::DeleteResult = cli
                .client
                .call(method::SESSION_DELETE, &arbor_protocol::DeleteParams { session_id, delete_branch, force })
                .await?;
            writeln!(cli.out, "deleted session {session_id}")?;
            if let Some(commit) = result.snapshot_commit {
                writeln!(cli.out, "uncommitted work was saved as commit {commit}")?;
            }
            if let Some(branch) = result.kept_branch {
                writeln!(cli.out, "its work is kept on branch {branch}")?;
            }
        }
    }
    let _ = cli.client.shutdown().await;
    Ok(())
}
