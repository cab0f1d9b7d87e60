//! `arbor demo`: a scratch repository, one session with the scripted agent, its stream printed
//! as it happens, the resulting diffstat, and where everything lives.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use anyhow::Context;
use arbor_protocol::{
    NewSessionParams, PromptParams, RespondParams, ServerNotification, SessionEvent, SessionIdParams, SubscribeParams,
};
use tokio::sync::mpsc;

use crate::paths::Paths;
use crate::render::{EventPrinter, usage_text};
use crate::service::{ClientSink, Connection, Service};
use crate::{agents, git};

/// Forwards notifications to the demo's loop.
struct ChannelSink(mpsc::UnboundedSender<ServerNotification>);

impl ClientSink for ChannelSink {
    fn notify(&self, notification: ServerNotification) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let _ = self.0.send(notification);
        Box::pin(async {})
    }
}

/// Creates a repository with one commit on `main`.
fn create_scratch_repository(path: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(path)?;
    let repo = git2::Repository::init_opts(path, git2::RepositoryInitOptions::new().initial_head("main"))?;
    std::fs::write(path.join("README.md"), "# Demo project\n\nA scratch repository made by `arbor demo`.\n")?;
    let mut index = repo.index()?;
    index.add_path(Path::new("README.md"))?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let signature = git2::Signature::now("Arbor demo", "demo@arbor.invalid")?;
    repo.commit(Some("HEAD"), &signature, &signature, "Initial commit", &tree, &[])?;
    Ok(())
}

/// Runs the demo in `root` (a new scratch directory when None).
pub async fn run(root: Option<PathBuf>) -> anyhow::Result<()> {
    let root = match root {
        Some(root) => root,
        None => std::env::temp_dir().join(format!("arbor-demo-{}", uuid::Uuid::new_v4().simple())),
    };
    let repository = root.join("project");
    create_scratch_repository(&repository).context("cannot create the scratch repository")?;
    let paths = Paths::resolve(Some(root.join("data")), Some(root.join("run")), Some(root.join("config.json")));
    let service = Service::start(paths.clone())?;
    let (sink, mut notifications) = mpsc::unbounded_channel();
    let connection = Connection::new(service.clone(), Arc::new(ChannelSink(sink)));
    let mut out = std::io::stdout();

    writeln!(out, "Arbor demo: a session with the built-in scripted agent (a deterministic script, no model).")?;
    writeln!(out, "Repository: {}\n", repository.display())?;

    let prompts = ["Add a greeting script with a check that it works.", "Thanks! Anything else?"];
    let session = service
        .session_new(
            NewSessionParams {
                cwd: repository.display().to_string(),
                agent: agents::scripted::AGENT_ID.into(),
                prompt: Some(prompts[0].into()),
                ..NewSessionParams::default()
            },
            crate::service::Progress::none(),
        )
        .await?;
    writeln!(out, "Session {} on branch {}", session.id, session.branch.as_deref().unwrap_or("?"))?;
    writeln!(out, "Worktree {}\n", session.cwd)?;
    connection.session_subscribe(SubscribeParams { session_id: session.id, after_seq: None }).await?;

    let mut printer = EventPrinter::for_stdout();
    let mut turns_done = 0;
    while let Some(notification) = notifications.recv().await {
        let ServerNotification::SessionEvent(notification) = notification else {
            continue;
        };
        printer.print(&notification, &mut out)?;
        match &notification.event {
            SessionEvent::PermissionRequest { request_id, options, .. } => {
                let allow = options.iter().find(|option| option.option_id == "allow").or(options.first());
                writeln!(
                    out,
                    "  (the demo answers as a user would: {})",
                    allow.map_or("nothing", |option| option.name.as_str())
                )?;
                service
                    .session_respond(RespondParams {
                        session_id: session.id,
                        request_id: request_id.clone(),
                        option_id: allow.map(|option| option.option_id.clone()),
                        content: None,
                    })
                    .await?;
            }
            SessionEvent::TurnEnded { .. } => {
                turns_done += 1;
                match prompts.get(turns_done) {
                    Some(prompt) => {
                        service
                            .session_prompt(PromptParams {
                                session_id: session.id,
                                text: prompt.to_string(),
                                mode: None,
                            })
                            .await?;
                    }
                    None => break,
                }
            }
            SessionEvent::Error { fatal: true, .. } => break,
            _ => {}
        }
    }

    let stopped = service.session_stop(SessionIdParams { session_id: session.id }).await?;
    let base = stopped.base_commit.clone().unwrap_or_default();
    let worktree = PathBuf::from(&stopped.cwd);
    let files = tokio::task::spawn_blocking(move || git::diffstat(&worktree, &base)).await??;
    writeln!(
        out,
        "\nChanges on {} against {}:",
        stopped.branch.as_deref().unwrap_or("?"),
        stopped.base_branch.as_deref().unwrap_or("?")
    )?;
    let (mut added, mut removed) = (0, 0);
    for file in &files {
        writeln!(out, "  {:<24} +{} -{}", file.path, file.insertions, file.deletions)?;
        added += file.insertions;
        removed += file.deletions;
    }
    writeln!(out, "  {} files changed, {added} insertions(+), {removed} deletions(-)", files.len())?;
    writeln!(out, "\nSession {} is {}; usage: {}", stopped.id, stopped.status.as_str(), usage_text(&stopped.usage))?;
    writeln!(out, "\nWhere the data lives:")?;
    writeln!(out, "  store (SQLite)   {}", paths.database().display())?;
    writeln!(out, "  worktrees        {}", paths.worktrees().display())?;
    writeln!(
        out,
        "  agent logs       {}",
        paths.session_log(&stopped.id).parent().map(Path::display).map(|path| path.to_string()).unwrap_or_default()
    )?;
    writeln!(out, "  scratch repo     {}", repository.display())?;
    writeln!(
        out,
        "\nReplay it: arbor --data-dir {} --runtime-dir {} session show {}",
        paths.data_dir.display(),
        paths.runtime_dir.display(),
        stopped.id
    )?;
    drop(connection);
    service.shutdown().await;
    Ok(())
}
