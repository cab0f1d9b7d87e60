//! Tasks and trials: creating them, starting trials (several at once), checking a trial with
//! the task's check command, comparing trials on facts, and promoting one. A trial's status
//! follows its latest session, and a task's follows its trials; `task/changed` is sent whenever
//! a session of a task changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbor_protocol::{
    CheckResult, CommitParams, CompareResult, CompareRow, DiffParams, Isolation, MergeParams, NewSessionParams,
    PromoteParams, PromoteResult, Session, SessionConfig, SessionEvent, SessionStatus, SharedFile, Task, TaskDetail,
    TaskIdParams, TaskListParams, TaskListResult, TaskNewParams, TaskStatus, ToolCallContent, ToolCallStatus, ToolKind,
    Trial, TrialDetail, TrialIdParams, TrialNewParams, TrialNewResult, TrialRetryParams, TrialStatus, Usage,
};
use serde_json::json;
use tokio::io::AsyncReadExt;
use uuid::Uuid;

use super::{Origin, Progress, Result, Service, ServiceError, workflows};
use crate::clock::now_millis;
use crate::git;

/// Longest a check command may run.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How often streamed check output is written to the session's log.
const CHECK_OUTPUT_INTERVAL: Duration = Duration::from_millis(250);
/// Most check output kept in an event (the end is kept).
const CHECK_OUTPUT_BYTES: usize = 64 * 1024;

/// A trial's status from its recorded outcome and its latest session.
fn trial_status(trial: &Trial, latest: Option<&Session>) -> TrialStatus {
    if matches!(trial.status, TrialStatus::Promoted | TrialStatus::Abandoned) {
        return trial.status;
    }
    let Some(session) = latest else { return TrialStatus::Pending };
    match session.status {
        SessionStatus::Pending | SessionStatus::Creating => TrialStatus::Pending,
        SessionStatus::Running => match session.agent_state {
            Some(arbor_protocol::AgentState::Idle) => TrialStatus::Done,
            _ => TrialStatus::Running,
        },
        SessionStatus::Stopping | SessionStatus::Stopped | SessionStatus::Completed => TrialStatus::Done,
        SessionStatus::Failed | SessionStatus::Timeout | SessionStatus::Dead => TrialStatus::Failed,
    }
}

/// A task's status from its trials.
fn task_status(trials: &[TrialStatus]) -> TaskStatus {
    if trials.is_empty() {
        TaskStatus::Open
    } else if trials.contains(&TrialStatus::Promoted) {
        TaskStatus::Promoted
    } else if trials.iter().any(|status| matches!(status, TrialStatus::Pending | TrialStatus::Running)) {
        TaskStatus::Running
    } else if trials.iter().all(|status| *status == TrialStatus::Abandoned) {
        TaskStatus::Abandoned
    } else {
        TaskStatus::Done
    }
}

/// Passed and failed test counts from a test runner's output (cargo test, cargo nextest, pytest,
/// jest, go test and the like), and the line that said so.
pub fn summarise_check(output: &str) -> (Option<u32>, Option<u32>, Option<String>) {
    let count_before = |line: &str, word: &str| -> Option<u32> {
        let tokens: Vec<&str> = line
            .split(|character: char| character.is_whitespace() || ",;:=()".contains(character))
            .filter(|token| !token.is_empty())
            .collect();
        tokens.windows(2).find(|pair| pair[1].starts_with(word)).and_then(|pair| pair[0].parse().ok())
    };
    // cargo test prints one "test result:" line per test binary: sum them.
    let cargo: Vec<&str> = output.lines().filter(|line| line.trim_start().starts_with("test result:")).collect();
    if !cargo.is_empty() {
        let passed = cargo.iter().filter_map(|line| count_before(line, "passed")).sum();
        let failed = cargo.iter().filter_map(|line| count_before(line, "failed")).sum();
        return (Some(passed), Some(failed), Some(format!("{passed} passed, {failed} failed (cargo test)")));
    }
    for line in output.lines().rev() {
        let passed = count_before(line, "passed");
        let failed = count_before(line, "failed");
        if passed.is_some() || failed.is_some() {
            let summary = line.trim().trim_matches('=').trim().to_string();
            return (Some(passed.unwrap_or(0)), Some(failed.unwrap_or(0)), Some(summary));
        }
    }
    (None, None, None)
}

impl Service {
    /// A task with its status recomputed from its trials.
    async fn task_detail(&self, task_id: Uuid) -> Result<TaskDetail> {
        let mut task = self
            .store
            .get_task(task_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no task with id {task_id}")))?;
        let mut trials = Vec::new();
        for mut trial in self.store.trials_of(task_id).await? {
            let mut sessions = Vec::new();
            for id in &trial.session_ids {
                if let Some(session) = self.store.get_session(*id).await? {
                    sessions.push(session);
                }
            }
            trial.status = trial_status(&trial, sessions.last());
            trials.push(TrialDetail { trial, sessions });
        }
        task.status = task_status(&trials.iter().map(|detail| detail.trial.status).collect::<Vec<_>>());
        Ok(TaskDetail { task, trials })
    }

    /// Sends `task/changed` (and stores a new status) whenever a session of a task changes.
    pub(super) fn watch_tasks(self: Arc<Self>) {
        let mut changes = self.hub.subscribe_changes();
        tokio::spawn(async move {
            loop {
                let change = match changes.recv().await {
                    Ok(change) => change,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                if let Some(task_id) = change.session.task_id {
                    self.task_changed(task_id).await;
                }
            }
        });
    }

    async fn task_changed(&self, task_id: Uuid) {
        let Ok(detail) = self.task_detail(task_id).await else { return };
        let stored = self.store.get_task(task_id).await.ok().flatten();
        if stored.is_some_and(|stored| stored.status == detail.task.status) {
            self.hub.publish_task(Arc::new(detail.task));
        } else {
            let mut task = detail.task;
            task.updated_at = now_millis();
            let _ = self.store.put_task(task).await;
        }
    }

    /// `task/new`.
    pub async fn task_new(&self, params: TaskNewParams) -> Result<Task> {
        let title = params.title.trim().to_string();
        if title.is_empty() {
            return Err(ServiceError::InvalidArgument("a task needs a title".into()));
        }
        let cwd = PathBuf::from(&params.cwd);
        let base = params.base_branch.clone();
        let (root, base_branch) = tokio::task::spawn_blocking(move || -> std::result::Result<_, git::GitError> {
            let repo = git::discover(&cwd)?;
            let base_branch = base
                .or(repo.current_branch.clone())
                .ok_or_else(|| git::GitError::NoSuchBranch("(detached HEAD)".into()))?;
            git::resolve_base(&repo.root, Some(&base_branch))?;
            Ok((repo.root, base_branch))
        })
        .await??;
        if let Some(name) = &params.workflow {
            workflows::find(&self.paths, &root, name)?;
        }
        let now = now_millis();
        let non_empty = |value: Option<String>| value.filter(|value| !value.trim().is_empty());
        let task = Task {
            id: Uuid::new_v4(),
            description: non_empty(params.description).unwrap_or_else(|| title.clone()),
            title,
            project: root.display().to_string(),
            base_branch,
            check_command: non_empty(params.check_command),
            setup_command: non_empty(params.setup_command),
            workflow: params.workflow,
            permissions: params.permissions,
            status: TaskStatus::Open,
            created_at: now,
            updated_at: now,
        };
        self.store.put_task(task.clone()).await?;
        self.store.add_task_rules(task.id, task.permissions.clone()).await?;
        self.store.flush().await?;
        Ok(task)
    }

    /// `task/list`.
    pub async fn task_list(&self, params: TaskListParams) -> Result<TaskListResult> {
        let mut tasks = Vec::new();
        for task in self.store.list_tasks().await? {
            let task = self.task_detail(task.id).await?.task;
            if params.status.as_ref().is_none_or(|wanted| wanted.contains(&task.status)) {
                tasks.push(task);
            }
        }
        Ok(TaskListResult { tasks })
    }

    /// `task/get`.
    pub async fn task_get(&self, params: TaskIdParams) -> Result<TaskDetail> {
        self.store.flush().await?;
        self.task_detail(params.task_id).await
    }

    /// Starts a session for a trial and records it in the trial.
    async fn start_trial_session(
        &self,
        task: &Task,
        trial: &mut Trial,
        config: Option<SessionConfig>,
    ) -> Result<Session> {
        let mut config = config.unwrap_or_default();
        // A trial is an attempt: once its turn is done it frees its slot (it stays resumable).
        config.stop_when_idle = config.stop_when_idle.or(Some(true));
        let params = NewSessionParams {
            cwd: task.project.clone(),
            agent: trial.agent.clone(),
            model: trial.model.clone(),
            title: Some(format!("{} — trial {}", task.title, trial.number)),
            prompt: Some(trial.prompt.clone()),
            base_branch: Some(task.base_branch.clone()),
            isolation: Some(Isolation::Worktree),
            config: Some(config),
            workflow: task.workflow.clone(),
            profile: trial.profile.clone(),
            ..NewSessionParams::default()
        };
        let origin =
            Origin { task_id: Some(task.id), trial_id: Some(trial.id), setup_command: task.setup_command.clone() };
        let session = self.session_new_for(params, Progress::none(), origin).await?;
        trial.session_ids.push(session.id);
        self.store.put_trial(trial.clone()).await?;
        self.store.flush().await?;
        Ok(session)
    }

    /// `trial/new`: one trial per spec, started at once (the admission queue orders them).
    pub async fn trial_new(&self, params: TrialNewParams) -> Result<TrialNewResult> {
        if params.trials.is_empty() {
            return Err(ServiceError::InvalidArgument("trials is empty; give at least one".into()));
        }
        let task = self
            .store
            .get_task(params.task_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no task with id {}", params.task_id)))?;
        // Validate every spec before starting any, so a bad one starts nothing.
        let mut resolved = Vec::new();
        for spec in &params.trials {
            let profile = match &spec.profile {
                Some(name) => Some(
                    self.config
                        .profile(name)
                        .cloned()
                        .ok_or_else(|| ServiceError::NotFound(format!("no agent profile named '{name}'")))?,
                ),
                None => None,
            };
            let agent = spec
                .agent
                .clone()
                .or(profile.as_ref().map(|profile| profile.agent.clone()))
                .ok_or_else(|| ServiceError::InvalidArgument("each trial needs an agent or a profile".into()))?;
            let info = self.agents.get(&agent)?.info();
            let model = spec.model.clone().or(profile.as_ref().and_then(|profile| profile.model.clone()));
            let config = spec.config.clone().or(profile.as_ref().and_then(|profile| profile.config.clone()));
            if let Some(config) = &config {
                super::validate_config(&info, config)?;
                crate::sessions::placement::check(&self.config.hosts, &agent, config)
                    .map_err(ServiceError::InvalidArgument)?;
                // The trial's session would be refused for this when it starts; refused here,
                // no trial of the request starts.
                let not_sent = crate::sessions::placement::NotSent {
                    setup_files: false,
                    setup_command: task.setup_command.is_some(),
                    profile_memory: self.profile_has_memory(spec.profile.as_deref()),
                    additional_dirs: profile.as_ref().is_some_and(|profile| !profile.additional_dirs.is_empty()),
                };
                crate::sessions::placement::keep_here(&self.config.hosts, &mut config.clone(), not_sent)
                    .map_err(ServiceError::InvalidArgument)?;
            }
            let prompt = spec
                .prompt
                .clone()
                .filter(|prompt| !prompt.trim().is_empty())
                .unwrap_or_else(|| task.description.clone());
            resolved.push((agent, model, spec.profile.clone(), prompt, config));
        }
        let existing = self.store.trials_of(task.id).await?.len() as u32;
        let mut started = Vec::new();
        for (offset, (agent, model, profile, prompt, config)) in resolved.into_iter().enumerate() {
            let mut trial = Trial {
                id: Uuid::new_v4(),
                task_id: task.id,
                number: existing + offset as u32 + 1,
                agent,
                model,
                profile,
                prompt,
                session_ids: Vec::new(),
                status: TrialStatus::Pending,
                check: None,
                created_at: now_millis(),
            };
            let session = self.start_trial_session(&task, &mut trial, config).await?;
            started.push(TrialDetail { trial, sessions: vec![session] });
        }
        self.task_changed(task.id).await;
        Ok(TrialNewResult { trials: started })
    }

    pub(super) async fn trial_and_task(&self, trial_id: Uuid) -> Result<(Trial, Task)> {
        let trial = self
            .store
            .get_trial(trial_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no trial with id {trial_id}")))?;
        let task = self
            .store
            .get_task(trial.task_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no task with id {}", trial.task_id)))?;
        Ok((trial, task))
    }

    /// `trial/retry`: a follow-up session in the same trial, fresh from the task's base.
    pub async fn trial_retry(&self, params: TrialRetryParams) -> Result<TrialDetail> {
        let (mut trial, task) = self.trial_and_task(params.trial_id).await?;
        if matches!(trial.status, TrialStatus::Promoted | TrialStatus::Abandoned) {
            return Err(ServiceError::InvalidState("the trial is already promoted or abandoned".into()));
        }
        if let Some(prompt) = params.prompt.filter(|prompt| !prompt.trim().is_empty()) {
            trial.prompt = prompt;
        }
        let previous = match trial.session_ids.last() {
            Some(id) => self.store.get_session(*id).await?,
            None => None,
        };
        self.start_trial_session(&task, &mut trial, previous.map(|session| session.config)).await?;
        self.task_changed(task.id).await;
        let detail = self.task_detail(task.id).await?;
        detail
            .trials
            .into_iter()
            .find(|detail| detail.trial.id == trial.id)
            .ok_or_else(|| ServiceError::Internal("trial vanished".into()))
    }

    pub(super) async fn latest_session(&self, trial: &Trial) -> Result<Session> {
        let id =
            trial.session_ids.last().ok_or_else(|| ServiceError::InvalidState("the trial has no session".into()))?;
        self.load(*id).await
    }

    /// `trial/check`: runs the task's check command in the trial's worktree, streaming its output
    /// into the trial's session as an execute tool call, and records the result on the trial.
    pub async fn trial_check(&self, params: TrialIdParams) -> Result<CheckResult> {
        let (mut trial, task) = self.trial_and_task(params.trial_id).await?;
        let command = task
            .check_command
            .clone()
            .ok_or_else(|| ServiceError::InvalidState("the task has no check command".into()))?;
        let session = self.latest_session(&trial).await?;
        let cwd = PathBuf::from(&session.cwd);
        if !cwd.is_dir() {
            return Err(ServiceError::InvalidState(format!("the trial's worktree {} no longer exists", session.cwd)));
        }
        let tool_call_id = format!("check-{}", now_millis());
        self.append_events(
            session.id,
            vec![SessionEvent::ToolCall {
                tool_call_id: tool_call_id.clone(),
                title: format!("Check: {command}"),
                tool_kind: ToolKind::Execute,
                status: ToolCallStatus::InProgress,
                raw_input: Some(json!({ "command": command })),
                content: Vec::new(),
                locations: Vec::new(),
            }],
        )
        .await?;
        let started = Instant::now();
        let (output, exit_code) = self.run_streaming(&cwd, &command, session.id, &tool_call_id).await?;
        let duration_ms = started.elapsed().as_millis() as u64;
        let passed = exit_code == Some(0);
        let status = if passed { ToolCallStatus::Completed } else { ToolCallStatus::Failed };
        self.append_events(
            session.id,
            vec![SessionEvent::ToolCallUpdate {
                tool_call_id,
                status: Some(status),
                title: None,
                content: Some(vec![ToolCallContent::Terminal { output: tail(&output), exit_code }]),
                details: Default::default(),
            }],
        )
        .await?;
        let (tests_passed, tests_failed, runner_summary) = summarise_check(&output);
        let summary = runner_summary.unwrap_or_else(|| {
            output.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("(no output)").trim().to_string()
        });
        let result = CheckResult {
            command,
            exit_code,
            passed,
            duration_ms,
            summary,
            tests_passed,
            tests_failed,
            at: now_millis(),
        };
        trial.check = Some(result.clone());
        self.store.put_trial(trial).await?;
        self.store.flush().await?;
        self.task_changed(task.id).await;
        Ok(result)
    }

    /// Runs `sh -c command` in `cwd` (its own process group, ended on timeout), streaming the
    /// output into `session_id`'s log as updates of `tool_call_id`. Returns the output and exit
    /// code (None when killed).
    pub(super) async fn run_streaming(
        &self,
        cwd: &Path,
        command: &str,
        session_id: Uuid,
        tool_call_id: &str,
    ) -> Result<(String, Option<i32>)> {
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(format!("exec 2>&1; {command}"))
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| ServiceError::Internal(format!("could not run the check command: {error}")))?;
        let group = crate::agents::process::ProcessGroup::register(child.id())
            .map_err(|error| ServiceError::Internal(format!("could not run the check command: {error}")))?;
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let mut output = Vec::new();
        let mut buffer = [0u8; 8192];
        let mut last_sent = 0;
        let deadline = tokio::time::Instant::now() + CHECK_TIMEOUT;
        let mut tick = tokio::time::interval(CHECK_OUTPUT_INTERVAL);
        let timed_out = loop {
            tokio::select! {
                read = stdout.read(&mut buffer) => match read {
                    Ok(0) | Err(_) => break false,
                    Ok(count) => output.extend_from_slice(&buffer[..count]),
                },
                _ = tick.tick() => {
                    if output.len() != last_sent {
                        last_sent = output.len();
                        let text = tail(&String::from_utf8_lossy(&output));
                        let update = SessionEvent::ToolCallUpdate {
                            tool_call_id: tool_call_id.to_string(),
                            status: None,
                            title: None,
                            content: Some(vec![ToolCallContent::Terminal { output: text, exit_code: None }]),
                            details: Default::default(),
                        };
                        self.append_events(session_id, vec![update]).await?;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => break true,
            }
        };
        let exit_code = if timed_out {
            group.terminate(Duration::from_secs(3)).await;
            output.extend_from_slice(
                format!("\n(arbor: the check exceeded {} s and was stopped)\n", CHECK_TIMEOUT.as_secs()).as_bytes(),
            );
            None
        } else {
            let status = child.wait().await.map_err(|error| ServiceError::Internal(error.to_string()))?;
            group.terminate(Duration::from_millis(100)).await;
            status.code()
        };
        Ok((String::from_utf8_lossy(&output).into_owned(), exit_code))
    }

    /// `trial/compare`: one row per trial, and the files two or more trials changed.
    pub async fn trial_compare(&self, params: TaskIdParams) -> Result<CompareResult> {
        self.store.flush().await?;
        let detail = self.task_detail(params.task_id).await?;
        let mut rows = Vec::new();
        let mut touched: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for TrialDetail { trial, sessions } in detail.trials {
            let latest = sessions.last();
            let (mut files, mut additions, mut deletions) = (Vec::new(), 0, 0);
            if let Some(session) = latest.filter(|session| Path::new(&session.cwd).is_dir()) {
                let diff =
                    self.review_diff(DiffParams { session_id: session.id, stats_only: true, max_bytes: None }).await?;
                files = diff.files.iter().map(|file| file.path.clone()).collect();
                additions = diff.stats.additions;
                deletions = diff.stats.deletions;
            }
            for file in &files {
                touched.entry(file.clone()).or_default().push(trial.number);
            }
            let mut usage = Usage::default();
            let mut wall_time_ms = 0;
            for session in &sessions {
                usage.add(&session.usage);
                let last = self.store.events_after(session.id, session.last_seq.saturating_sub(1), 1).await?;
                let end = last.first().map_or(session.updated_at, |event| event.at);
                wall_time_ms += (end - session.created_at).max(0) as u64;
            }
            rows.push(CompareRow {
                trial_id: trial.id,
                number: trial.number,
                status: trial.status,
                agent: trial.agent,
                model: trial.model,
                branch: latest.and_then(|session| session.branch.clone()),
                files_changed: files.len() as u32,
                additions,
                deletions,
                usage,
                wall_time_ms,
                check: trial.check,
                files,
            });
        }
        let shared_files = touched
            .into_iter()
            .filter(|(_, trials)| trials.len() > 1)
            .map(|(path, trials)| SharedFile { path, trials })
            .collect();
        Ok(CompareResult { task_id: params.task_id, rows, shared_files })
    }

    /// `trial/promote`: commits the trial's remaining work, merges its branch into the task's
    /// base, and marks the other trials abandoned (stopping them; their branches stay).
    pub async fn trial_promote(&self, params: PromoteParams) -> Result<PromoteResult> {
        let (mut trial, task) = self.trial_and_task(params.trial_id).await?;
        if trial.status == TrialStatus::Abandoned {
            return Err(ServiceError::InvalidState("the trial was abandoned".into()));
        }
        let session = self.latest_session(&trial).await?;
        let cwd = PathBuf::from(&session.cwd);
        let dirty = tokio::task::spawn_blocking(move || git::has_uncommitted_changes(&cwd)).await??;
        let committed = if dirty {
            Some(
                self.review_commit(CommitParams { session_id: session.id, message: None, accepted_only: false })
                    .await?
                    .commit,
            )
        } else {
            None
        };
        let merge = self
            .session_merge(MergeParams { session_id: session.id, strategy: params.strategy, message: params.message })
            .await?;
        let mut abandoned = Vec::new();
        if merge.merged {
            trial.status = TrialStatus::Promoted;
            self.store.put_trial(trial.clone()).await?;
            for mut other in self.store.trials_of(task.id).await? {
                if other.id == trial.id || matches!(other.status, TrialStatus::Promoted | TrialStatus::Abandoned) {
                    continue;
                }
                other.status = TrialStatus::Abandoned;
                self.store.put_trial(other.clone()).await?;
                for session_id in &other.session_ids {
                    if self.sessions.withdraw(*session_id).await? {
                        self.mark_stopped(*session_id, "another trial of the task was promoted").await?;
                    }
                    let _ =
                        self.sessions.stop(*session_id, Some("another trial of the task was promoted".into())).await;
                }
                abandoned.push(other.id);
            }
            self.store.flush().await?;
            self.task_changed(task.id).await;
        }
        Ok(PromoteResult { merge, committed, abandoned })
    }
}

/// The end of a long output, cut on a character boundary.
fn tail(output: &str) -> String {
    if output.len() <= CHECK_OUTPUT_BYTES {
        return output.to_string();
    }
    let mut start = output.len() - CHECK_OUTPUT_BYTES;
    while !output.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &output[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_common_test_runner_summaries() {
        let cargo =
            "test result: ok. 3 passed; 0 failed; 0 ignored\ntest result: FAILED. 2 passed; 1 failed; 0 ignored";
        assert_eq!(summarise_check(cargo).0, Some(5));
        assert_eq!(summarise_check(cargo).1, Some(1));
        let pytest = "collected 4 items\n\n===== 3 passed, 1 failed in 0.12s =====";
        assert_eq!(summarise_check(pytest), (Some(3), Some(1), Some("3 passed, 1 failed in 0.12s".into())));
        let jest = "Tests:       1 failed, 3 passed, 4 total\nTime: 1s";
        assert_eq!(&summarise_check(jest).0, &Some(3));
        let nextest = "     Summary [   4.7s] 32 tests run: 32 passed, 0 skipped";
        assert_eq!(summarise_check(nextest).0, Some(32));
        assert_eq!(summarise_check("all good\n"), (None, None, None));
    }

    #[test]
    fn task_status_follows_trials() {
        assert_eq!(task_status(&[]), TaskStatus::Open);
        assert_eq!(task_status(&[TrialStatus::Done, TrialStatus::Running]), TaskStatus::Running);
        assert_eq!(task_status(&[TrialStatus::Done, TrialStatus::Failed]), TaskStatus::Done);
        assert_eq!(task_status(&[TrialStatus::Abandoned, TrialStatus::Promoted]), TaskStatus::Promoted);
        assert_eq!(task_status(&[TrialStatus::Abandoned]), TaskStatus::Abandoned);
    }
}
