//! `arbor session …`: one function a subcommand.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use arbor_protocol::{
    ArchiveResult, ExportEncoding, ExportResult, Isolation, ListSessionsParams, ListSessionsResult, NewSessionParams,
    PromptMode, PromptParams, PromptResult, PullRequest, PullRequestParams, PushParams, PushResult, ResumeParams,
    SendReviewResult, Session, SessionConfig, SessionEvent, SessionIdParams, SessionStatus, method,
};
use base64::Engine as _;
use clap::{Args, Subcommand};
use serde_json::json;

use super::{Cli, print_pushed};
use crate::paths::Paths;
use crate::render::{EventPrinter, cost_text};

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
    New(NewArgs),
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
        /// Move it to this host of the config file (or `local`): it goes on from its last
        /// checkpoint there, with its transcript given to a new conversation.
        #[arg(long)]
        host: Option<String>,
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

/// `arbor session new`'s options.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// Agent id (see `arbor agents`).
    #[arg(long, default_value = "scripted")]
    pub agent: String,
    /// The first prompt.
    #[arg(long)]
    pub prompt: Option<String>,
    /// A directory in the repository to work on.
    #[arg(long, default_value = ".")]
    pub cwd: PathBuf,
    /// Title (otherwise taken from the prompt).
    #[arg(long)]
    pub title: Option<String>,
    /// Model, for agents that take one.
    #[arg(long)]
    pub model: Option<String>,
    /// Branch to start from (default: the current branch).
    #[arg(long)]
    pub base: Option<String>,
    /// Work directly in the repository instead of a new branch and worktree.
    #[arg(long)]
    pub in_place: bool,
    /// Script file for the scripted agent.
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// Run it on this host of the config file (or `local` for this machine) instead of where the
    /// scheduler would place it.
    #[arg(long)]
    pub host: Option<String>,
    /// Run it only on a host with this label (repeatable).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Stream the session until its first turn ends.
    #[arg(long)]
    pub wait: bool,
}

/// `arbor session …`.
pub async fn session(paths: &Paths, location_flags: String, command: SessionCommand) -> anyhow::Result<()> {
    let mut cli = Cli::connect(paths).await?;
    cli.location_flags = location_flags;
    match command {
        SessionCommand::List { query, agent, status, all } => list(&mut cli, query, agent, status, all).await?,
        SessionCommand::Show { id } => show(&mut cli, id).await?,
        SessionCommand::Export { id, format, output } => export(&mut cli, id, format, output).await?,
        SessionCommand::New(args) => new(&mut cli, args).await?,
        SessionCommand::Prompt { id, text, interrupt, wait } => prompt(&mut cli, id, text, interrupt, wait).await?,
        SessionCommand::Respond { id, answer, content } => respond(&mut cli, id, answer, content).await?,
        SessionCommand::Cancel { id } => cancel(&mut cli, id).await?,
        SessionCommand::Stop { id } => stop(&mut cli, id).await?,
        SessionCommand::Resume { id, prompt, host, wait } => resume(&mut cli, id, prompt, host, wait).await?,
        SessionCommand::Push { id, remote } => push(&mut cli, id, remote).await?,
        SessionCommand::Pr { id, draft, title, remote, repository } => {
            pr(&mut cli, id, draft, title, remote, repository).await?
        }
        SessionCommand::SendReview { id } => send_review(&mut cli, id).await?,
        SessionCommand::Archive { id } => archive(&mut cli, id).await?,
        SessionCommand::Delete { id, delete_branch, force } => delete(&mut cli, id, delete_branch, force).await?,
    }
    let _ = cli.client.shutdown().await;
    Ok(())
}

/// `arbor session list`.
async fn list(
    cli: &mut Cli,
    query: Option<String>,
    agent: Option<String>,
    status: Vec<String>,
    all: bool,
) -> anyhow::Result<()> {
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
    // Where each session runs is a column only for users with hosts, whose sessions say it.
    let on_hosts = list.sessions.iter().any(|session| session.host.is_some());
    let host_heading = if on_hosts { "  HOST" } else { "" };
    let heading = format!(
        "{:<8}  {:<9}  {:<10}  {:>8}  {:<40}  {:<30}{host_heading}",
        "ID", "STATUS", "AGENT", "COST", "TITLE", "BRANCH"
    );
    writeln!(cli.out, "{}", heading.trim_end())?;
    for session in &list.sessions {
        let pin = if session.pinned { "* " } else { "" };
        let title: String =
            format!("{pin}{}", session.title.as_deref().unwrap_or("(untitled)")).chars().take(40).collect();
        let host = if on_hosts { format!("  {}", session.host.as_deref().unwrap_or("local")) } else { String::new() };
        let line = format!(
            "{:<8}  {:<9}  {:<10}  {:>8}  {:<40}  {:<30}{host}",
            &session.id.to_string()[..8],
            session.status.as_str(),
            session.agent,
            cost_text(&session.usage),
            title,
            session.branch.as_deref().unwrap_or("-")
        );
        writeln!(cli.out, "{}", line.trim_end())?;
    }
    writeln!(cli.out, "{} of {} sessions", list.sessions.len(), list.total)?;
    Ok(())
}

/// `arbor session show`.
async fn show(cli: &mut Cli, id: String) -> anyhow::Result<()> {
    let session_id = cli.resolve(&id).await?;
    let session = cli.get(session_id).await?;
    cli.print_session(&session)?;
    writeln!(cli.out)?;
    let mut printer = EventPrinter::for_stdout();
    for event in cli.history(session_id).await? {
        printer.print(&event, &mut cli.out)?;
    }
    writeln!(cli.out)?;
    Ok(())
}

/// `arbor session export`.
async fn export(cli: &mut Cli, id: String, format: String, output: Option<PathBuf>) -> anyhow::Result<()> {
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
    Ok(())
}

/// The settings `arbor session new` sends: a script and a placement, when given.
fn placed_config(script: Option<String>, host: Option<String>, labels: Vec<String>) -> Option<SessionConfig> {
    if script.is_none() && host.is_none() && labels.is_empty() {
        return None;
    }
    let host_labels = if labels.is_empty() { None } else { Some(labels) };
    Some(SessionConfig { script, host, host_labels, ..SessionConfig::default() })
}

/// `arbor session new`.
async fn new(cli: &mut Cli, args: NewArgs) -> anyhow::Result<()> {
    let NewArgs { agent, prompt, cwd, title, model, base, in_place, script, host, labels, wait } = args;
    let script = match script {
        Some(path) => Some(std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?),
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
        config: placed_config(script, host, labels),
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
    Ok(())
}

/// `arbor session prompt`.
async fn prompt(cli: &mut Cli, id: String, text: String, interrupt: bool, wait: bool) -> anyhow::Result<()> {
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
    Ok(())
}

/// `arbor session respond`.
async fn respond(cli: &mut Cli, id: String, answer: Vec<String>, content: Option<String>) -> anyhow::Result<()> {
    let session_id = cli.resolve(&id).await?;
    let content = content.map(|text| serde_json::from_str(&text).context("--content is not JSON")).transpose()?;
    cli.answer_request(session_id, answer, content).await?;
    Ok(())
}

/// `arbor session cancel`.
async fn cancel(cli: &mut Cli, id: String) -> anyhow::Result<()> {
    let session_id = cli.resolve(&id).await?;
    cli.client.request(method::SESSION_CANCEL, json!({ "sessionId": session_id })).await?;
    Ok(())
}

/// `arbor session stop`.
async fn stop(cli: &mut Cli, id: String) -> anyhow::Result<()> {
    let session_id = cli.resolve(&id).await?;
    let session: Session = cli.client.call(method::SESSION_STOP, &SessionIdParams { session_id }).await?;
    writeln!(cli.out, "session {} is {}", session.id, session.status.as_str())?;
    Ok(())
}

/// `arbor session resume`.
async fn resume(
    cli: &mut Cli,
    id: String,
    prompt: Option<String>,
    host: Option<String>,
    wait: bool,
) -> anyhow::Result<()> {
    let session_id = cli.resolve(&id).await?;
    let before = cli.get(session_id).await?;
    if wait {
        cli.subscribe(session_id, before.last_seq).await?;
    }
    let has_prompt = prompt.is_some();
    let params = ResumeParams { session_id, prompt, as_new_session: false, host };
    let session: Session = cli.client.call(method::SESSION_RESUME, &params).await?;
    writeln!(cli.out, "resumed session {}", session.id)?;
    if wait && has_prompt {
        cli.stream_until(turn_or_session_ended).await?;
    }
    Ok(())
}

/// `arbor session push`.
async fn push(cli: &mut Cli, id: String, remote: Option<String>) -> anyhow::Result<()> {
    let session_id = cli.resolve(&id).await?;
    let pushed: PushResult = cli.client.call(method::SESSION_PUSH, &PushParams { session_id, remote }).await?;
    print_pushed(&mut cli.out, &pushed)?;
    Ok(())
}

/// `arbor session pr`.
async fn pr(
    cli: &mut Cli,
    id: String,
    draft: bool,
    title: Option<String>,
    remote: Option<String>,
    repository: Option<String>,
) -> anyhow::Result<()> {
    let session_id = cli.resolve(&id).await?;
    let params = PullRequestParams { session_id, draft, title, body: None, remote, repository };
    let pull: PullRequest = cli.client.call(method::SESSION_PR, &params).await?;
    writeln!(cli.out, "opened pull request #{} ({}): {}", pull.number, pull.state.as_str(), pull.url)?;
    Ok(())
}

/// `arbor session send-review`.
async fn send_review(cli: &mut Cli, id: String) -> anyhow::Result<()> {
    let session_id = cli.resolve(&id).await?;
    let sent: SendReviewResult = cli.client.call(method::SESSION_SEND_REVIEW, &SessionIdParams { session_id }).await?;
    let when = if sent.queued { "after the current turn" } else { "now" };
    writeln!(cli.out, "sent {} review comments to the agent ({when})", sent.comments)?;
    Ok(())
}

/// `arbor session archive`.
async fn archive(cli: &mut Cli, id: String) -> anyhow::Result<()> {
    let session_id = cli.resolve(&id).await?;
    let result: ArchiveResult = cli.client.call(method::SESSION_ARCHIVE, &SessionIdParams { session_id }).await?;
    writeln!(
        cli.out,
        "session {} is archived; its work is on branch {} ({} freed)",
        result.session.id,
        result.session.branch.as_deref().unwrap_or("-"),
        crate::service::human_bytes(result.freed_bytes)
    )?;
    Ok(())
}

/// `arbor session delete`.
async fn delete(cli: &mut Cli, id: String, delete_branch: bool, force: bool) -> anyhow::Result<()> {
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
