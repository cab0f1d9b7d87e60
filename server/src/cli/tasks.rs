//! `arbor task …` and `arbor trial …`: one function a subcommand.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use arbor_protocol::{
    CheckResult, CompareResult, MergeStrategy, PromoteParams, PromoteResult, PushResult, SessionConfig, Task,
    TaskDetail, TaskIdParams, TaskNewParams, TrialIdParams, TrialNewParams, TrialNewResult, TrialPushParams, TrialSpec,
    method,
};
use clap::{Args, Subcommand};

use super::{Cli, print_pushed, status_name};
use crate::paths::Paths;
use crate::render::cost_text;

/// `arbor task` subcommands.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Create a task.
    New(TaskNewArgs),
    /// List tasks, newest first.
    List,
    /// A task with its trials.
    Show {
        /// Task id (or a unique prefix).
        id: String,
    },
}

/// `arbor task new`'s options.
#[derive(Debug, Args)]
pub struct TaskNewArgs {
    /// Short title.
    #[arg(long)]
    pub title: String,
    /// What is wanted (the default prompt of its trials).
    #[arg(long)]
    pub description: Option<String>,
    /// A directory in the repository.
    #[arg(long, default_value = ".")]
    pub cwd: PathBuf,
    /// Base branch (default: the current branch).
    #[arg(long)]
    pub base: Option<String>,
    /// Check command run in a trial's worktree, such as the test suite.
    #[arg(long)]
    pub check: Option<String>,
    /// Setup command run in each new trial worktree.
    #[arg(long)]
    pub setup: Option<String>,
    /// Workflow attached to the trials.
    #[arg(long)]
    pub workflow: Option<String>,
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

/// `arbor task …`.
pub async fn task(paths: &Paths, command: TaskCommand) -> anyhow::Result<()> {
    let mut cli = Cli::connect(paths).await?;
    match command {
        TaskCommand::New(args) => new_task(&mut cli, args).await?,
        TaskCommand::List => list_task(&mut cli).await?,
        TaskCommand::Show { id } => show_task(&mut cli, id).await?,
    }
    let _ = cli.client.shutdown().await;
    Ok(())
}

/// `arbor task new`.
async fn new_task(cli: &mut Cli, args: TaskNewArgs) -> anyhow::Result<()> {
    let TaskNewArgs { title, description, cwd, base, check, setup, workflow } = args;
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
    Ok(())
}

/// `arbor task list`.
async fn list_task(cli: &mut Cli) -> anyhow::Result<()> {
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
    Ok(())
}

/// `arbor task show`.
async fn show_task(cli: &mut Cli, id: String) -> anyhow::Result<()> {
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
    Ok(())
}

/// `arbor trial …`.
pub async fn trial(paths: &Paths, command: TrialCommand) -> anyhow::Result<()> {
    let mut cli = Cli::connect(paths).await?;
    match command {
        TrialCommand::New { task, agent, profile, prompt, script } => {
            new_trial(&mut cli, task, agent, profile, prompt, script).await?
        }
        TrialCommand::Compare { task } => compare_trial(&mut cli, task).await?,
        TrialCommand::Check { trial } => check_trial(&mut cli, trial).await?,
        TrialCommand::Push { trial, remote } => push_trial(&mut cli, trial, remote).await?,
        TrialCommand::Promote { trial, squash } => promote_trial(&mut cli, trial, squash).await?,
    }
    let _ = cli.client.shutdown().await;
    Ok(())
}

/// `arbor trial new`.
async fn new_trial(
    cli: &mut Cli,
    task: String,
    agent: Vec<String>,
    profile: Vec<String>,
    prompt: Option<String>,
    script: Option<PathBuf>,
) -> anyhow::Result<()> {
    let task_id = cli.resolve_task(&task).await?;
    let script = match script {
        Some(path) => Some(std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?),
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
    let result: TrialNewResult = cli.client.call(method::TRIAL_NEW, &TrialNewParams { task_id, trials }).await?;
    for trial in result.trials {
        let branch = trial.sessions.first().and_then(|session| session.branch.clone()).unwrap_or_default();
        writeln!(
            cli.out,
            "started trial {} ({}) {} on {branch}",
            trial.trial.number, trial.trial.agent, trial.trial.id
        )?;
    }
    Ok(())
}

/// `arbor trial compare`.
async fn compare_trial(cli: &mut Cli, task: String) -> anyhow::Result<()> {
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
    Ok(())
}

/// `arbor trial check`.
async fn check_trial(cli: &mut Cli, trial: String) -> anyhow::Result<()> {
    let trial_id = cli.resolve_trial(&trial).await?;
    let result: CheckResult = cli.client.call(method::TRIAL_CHECK, &TrialIdParams { trial_id }).await?;
    let verdict = if result.passed { "passed" } else { "FAILED" };
    writeln!(cli.out, "check {verdict} in {:.1} s: {}", result.duration_ms as f64 / 1000.0, result.summary)?;
    Ok(())
}

/// `arbor trial push`.
async fn push_trial(cli: &mut Cli, trial: String, remote: Option<String>) -> anyhow::Result<()> {
    let trial_id = cli.resolve_trial(&trial).await?;
    let pushed: PushResult = cli.client.call(method::TRIAL_PUSH, &TrialPushParams { trial_id, remote }).await?;
    if let Some(commit) = &pushed.committed {
        writeln!(cli.out, "committed the remaining work as {commit}")?;
    }
    print_pushed(&mut cli.out, &pushed)?;
    Ok(())
}

/// `arbor trial promote`.
async fn promote_trial(cli: &mut Cli, trial: String, squash: bool) -> anyhow::Result<()> {
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
    Ok(())
}
