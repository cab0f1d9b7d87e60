//! `arbor session …` and `arbor agents`: using Arbor from a terminal, through the daemon.

use std::io::Write;
use std::sync::Arc;

use anyhow::bail;
use arbor_protocol::{
    AgentState, EventsParams, EventsResult, Isolation, ListSessionsParams, ListSessionsResult, PushResult,
    RespondParams, Session, SessionEvent, SessionEventNotification, SessionIdParams, SubscribeParams, SubscribeResult,
    Task, TaskDetail, TaskIdParams, TaskListParams, TaskListResult, method,
};
use serde_json::json;
use tokio::sync::mpsc;
use uuid::Uuid;

use self::ask::OpenRequests;
use crate::client::{Notification, RpcClient};
use crate::paths::Paths;
use crate::render::{EventPrinter, usage_text};
use crate::rpc::bridge;

mod agents;
mod ask;
pub mod gc;
pub mod memory;
mod sessions;
mod tasks;

pub use agents::agents;
pub use ask::location_flags;
pub use sessions::{NewArgs, SessionCommand, session};
pub use tasks::{TaskCommand, TaskNewArgs, TrialCommand, task, trial};

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
        if let Some(host) = &session.host {
            writeln!(out, "host      {host}")?;
        }
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

fn print_pushed(out: &mut impl Write, pushed: &PushResult) -> anyhow::Result<()> {
    writeln!(out, "pushed {} to {} ({}) at {}", pushed.branch, pushed.remote, pushed.remote_url, pushed.commit)?;
    Ok(())
}
