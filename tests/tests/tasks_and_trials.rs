//! Tasks and trials on a real repository with the scripted agent: three trials in parallel,
//! checked, compared against what git and the scripts say, one promoted; the admission queue
//! (limits, order, restart, rate limits); workflows and profiles.

use std::path::{Path, PathBuf};

use arbor_protocol::{
    CheckResult, CompareResult, PromoteResult, Session, SessionEvent, SessionStatus, Task, TaskDetail, TaskStatus,
    TrialNewResult, TrialStatus, error_code, method,
};
use arbor_tests::{TestEnv, git};
use serde_json::json;

fn numstat(worktree: &Path, base: &str) -> (u32, u32, u32) {
    git(worktree, &["add", "-A", "--intent-to-add"]);
    let output = git(worktree, &["diff", "--numstat", base]);
    let mut totals = (0, 0, 0);
    for line in output.lines() {
        let mut fields = line.split_whitespace();
        totals.0 += 1;
        totals.1 += fields.next().unwrap().parse::<u32>().unwrap();
        totals.2 += fields.next().unwrap().parse::<u32>().unwrap();
    }
    totals
}

#[tokio::test]
async fn three_trials_run_are_checked_compared_and_one_is_promoted() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    env.commit_files(&repo, &[("check.sh", "test \"$(cat answer.txt 2>/dev/null)\" = 42 && echo '1 passed, 0 failed' || { echo '0 passed, 1 failed'; exit 1; }\n"), (".gitignore", ".prepared\n")], "check");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let task: Task = serde_json::from_value(
        client
            .call(method::TASK_NEW, json!({ "title": "Answer the question", "description": "Write the answer to answer.txt", "cwd": repo,
                                            "checkCommand": "sh check.sh", "setupCommand": "echo prepared > .prepared" }))
            .await,
    )
    .unwrap();
    assert_eq!((task.status, task.base_branch.as_str()), (TaskStatus::Open, "main"));

    let scripts = [
        "write answer.txt <<END\n42\nEND\nusage input=100 output=10 cost=0.10",
        "write answer.txt <<END\n41\nEND\nwrite notes.txt <<END\nclose\nEND\nusage input=200 output=20 cost=0.20",
        "write other.txt <<END\nunrelated\nline two\nEND\nusage input=300 output=30 cost=0.30",
    ];
    let trials: TrialNewResult = serde_json::from_value(
        client
            .call(method::TRIAL_NEW, json!({ "taskId": task.id, "trials": scripts.iter().map(|script| json!({ "agent": "scripted", "config": { "script": script } })).collect::<Vec<_>>() }))
            .await,
    )
    .unwrap();
    assert_eq!(trials.trials.len(), 3);
    assert_eq!(trials.trials.iter().map(|trial| trial.trial.number).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(
        trials.trials.iter().all(|trial| trial.trial.prompt == "Write the answer to answer.txt"),
        "the prompt defaults to the description"
    );
    let detail = client.wait_trials_settled(task.id).await;
    assert_eq!(detail.task.status, TaskStatus::Done);
    for trial in &detail.trials {
        assert_eq!(trial.trial.status, TrialStatus::Done);
        let session = &trial.sessions[0];
        assert_eq!((session.task_id, session.trial_id), (Some(task.id), Some(trial.trial.id)));
        assert_eq!(session.status, SessionStatus::Stopped, "a trial frees its slot when its turn is done");
        assert_eq!(
            std::fs::read_to_string(Path::new(&session.cwd).join(".prepared")).unwrap(),
            "prepared\n",
            "the setup command ran"
        );
    }

    // Checks: trial 1 passes, trial 2 fails; output is streamed into the trial's session.
    let first = &detail.trials[0];
    let passed: CheckResult =
        serde_json::from_value(client.call(method::TRIAL_CHECK, json!({ "trialId": first.trial.id })).await).unwrap();
    assert!(passed.passed && passed.exit_code == Some(0));
    assert_eq!((passed.tests_passed, passed.tests_failed), (Some(1), Some(0)));
    let failed: CheckResult =
        serde_json::from_value(client.call(method::TRIAL_CHECK, json!({ "trialId": detail.trials[1].trial.id })).await)
            .unwrap();
    assert!(!failed.passed && failed.exit_code == Some(1));
    assert_eq!(
        (failed.tests_passed, failed.tests_failed, failed.summary.as_str()),
        (Some(0), Some(1), "0 passed, 1 failed")
    );
    client.subscribe(first.sessions[0].id, 0).await;
    client
        .wait_event(
            first.sessions[0].id,
            |event| matches!(event, SessionEvent::ToolCall { title, .. } if title == "Check: sh check.sh"),
        )
        .await;

    // Compare: the figures match git and the scripted usage.
    let compare: CompareResult =
        serde_json::from_value(client.call(method::TRIAL_COMPARE, json!({ "taskId": task.id })).await).unwrap();
    assert_eq!(compare.rows.len(), 3);
    let base = first.sessions[0].base_commit.clone().unwrap();
    for (row, trial) in compare.rows.iter().zip(&detail.trials) {
        let (files, additions, deletions) = numstat(Path::new(&trial.sessions[0].cwd), &base);
        assert_eq!(
            (row.files_changed, row.additions, row.deletions),
            (files, additions, deletions),
            "trial {}",
            row.number
        );
        assert_eq!(row.agent, "scripted");
        assert!(row.wall_time_ms > 0);
    }
    assert_eq!(compare.rows.iter().map(|row| row.usage.input_tokens).collect::<Vec<_>>(), vec![100, 200, 300]);
    assert!((compare.rows[1].usage.cost_usd - 0.20).abs() < 1e-9);
    assert_eq!(compare.rows[0].check.as_ref().map(|check| check.passed), Some(true));
    assert_eq!(compare.rows[1].check.as_ref().map(|check| check.passed), Some(false));
    assert!(compare.rows[2].check.is_none());
    assert_eq!(compare.shared_files.len(), 1);
    assert_eq!(
        (compare.shared_files[0].path.as_str(), compare.shared_files[0].trials.clone()),
        ("answer.txt", vec![1, 2])
    );

    // A follow-up session joins a trial.
    let third = &detail.trials[2];
    let retried = client.call(method::TRIAL_RETRY, json!({ "trialId": third.trial.id, "prompt": "try again" })).await;
    assert_eq!(retried["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(retried["trial"]["prompt"], "try again");
    client.wait_trials_settled(task.id).await;

    // Promote trial 1: its work lands on main, the others are abandoned with branches kept.
    let promoted: PromoteResult =
        serde_json::from_value(client.call(method::TRIAL_PROMOTE, json!({ "trialId": first.trial.id })).await).unwrap();
    assert!(promoted.merge.merged && promoted.committed.is_some());
    assert_eq!(std::fs::read_to_string(repo.join("answer.txt")).unwrap(), "42\n");
    assert_eq!(promoted.abandoned.len(), 2);
    let after: TaskDetail =
        serde_json::from_value(client.call(method::TASK_GET, json!({ "taskId": task.id })).await).unwrap();
    assert_eq!(after.task.status, TaskStatus::Promoted);
    assert_eq!(
        after.trials.iter().map(|trial| trial.trial.status).collect::<Vec<_>>(),
        vec![TrialStatus::Promoted, TrialStatus::Abandoned, TrialStatus::Abandoned]
    );
    for trial in &after.trials[1..] {
        let branch = trial.sessions[0].branch.clone().unwrap();
        assert_eq!(
            git(&repo, &["branch", "--list", &branch]).trim_start_matches(['*', '+', ' ']),
            branch,
            "abandoned branches are kept"
        );
    }
    let listed = client.call(method::TASK_LIST, json!({ "status": ["promoted"] })).await;
    assert_eq!(listed["tasks"][0]["id"], task.id.to_string());
    client.drain();
    assert!(client.others.iter().any(|notification| notification.method == method::NOTIFY_TASK_CHANGED
        && notification.params["task"]["status"] == "promoted"));

    let closed = client.try_call(method::TRIAL_RETRY, json!({ "trialId": third.trial.id })).await.unwrap_err();
    assert_eq!(closed.code, error_code::INVALID_SESSION_STATE);
    let errors = client
        .try_call(method::TRIAL_NEW, json!({ "taskId": task.id, "trials": [{ "agent": "nobody" }] }))
        .await
        .unwrap_err();
    assert_eq!(errors.code, error_code::AGENT_UNAVAILABLE);
}

#[tokio::test]
async fn a_limit_of_two_runs_five_sessions_two_at_a_time_in_order() {
    five_sessions_under_a_limit_of_two(json!({ "limits": { "maxRunning": 2 } })).await;
}

#[tokio::test]
async fn a_per_agent_limit_holds_like_the_overall_one() {
    five_sessions_under_a_limit_of_two(json!({ "limits": { "maxRunning": 10, "perAgent": { "scripted": 2 } } })).await;
}

async fn five_sessions_under_a_limit_of_two(config: serde_json::Value) {
    let env = TestEnv::new();
    env.write_config(config);
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let mut ids = Vec::new();
    // Each session asks before it finishes, so the running ones hold their slots until the test
    // answers: the queue is looked at while it is certainly full, however slow the machine.
    for number in 0..5 {
        let session = client
            .call(
                method::SESSION_NEW,
                json!({ "cwd": repo, "agent": "scripted", "prompt": format!("job {number}"),
                        "config": { "script": "ask Go on?\nsay done", "stopWhenIdle": true } }),
            )
            .await;
        let id = serde_json::from_value::<Session>(session).unwrap().id;
        client.subscribe(id, 0).await;
        ids.push(id);
    }
    let waiting = client.wait_status(ids[4], |status| status == SessionStatus::Pending).await;
    let deadline = tokio::time::Instant::now() + arbor_tests::WAIT;
    let mut positions = Vec::new();
    while tokio::time::Instant::now() < deadline {
        positions = Vec::new();
        for id in &ids[2..] {
            positions.push(client.get(*id).await.queue_position);
        }
        if positions == vec![Some(1), Some(2), Some(3)] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(positions, vec![Some(1), Some(2), Some(3)], "the queue positions are visible");
    assert!(
        waiting.status_reason.unwrap_or_default().contains("waiting")
            || client.get(ids[4]).await.status_reason.unwrap().contains("waiting")
    );

    // Answered in order, each frees its slot for the next in the queue.
    for id in &ids {
        let asked = client.wait_event(*id, |event| matches!(event, SessionEvent::PermissionRequest { .. })).await;
        let SessionEvent::PermissionRequest { request_id, .. } = asked.event else { unreachable!() };
        client
            .call(method::SESSION_RESPOND, json!({ "sessionId": id, "requestId": request_id, "optionId": "allow" }))
            .await;
    }
    for id in &ids {
        client.wait_status(*id, |status| status == SessionStatus::Stopped).await;
    }
    // At no moment were more than two sessions running, and they started in order.
    let mut running = std::collections::HashSet::new();
    let mut peak = 0;
    let mut starts = Vec::new();
    client.drain();
    for change in &client.changes {
        if matches!(change.status, SessionStatus::Creating | SessionStatus::Running) {
            if running.insert(change.id) {
                starts.push(change.id);
            }
        } else if !change.status.is_live() || change.status == SessionStatus::Stopping {
            running.remove(&change.id);
        }
        peak = peak.max(running.len());
    }
    assert!(peak <= 2, "at most two ran at once (saw {peak})");
    assert_eq!(starts, ids, "sessions started in the order they were created");
}

#[tokio::test]
async fn the_queue_survives_a_daemon_restart() {
    let env = TestEnv::new();
    env.write_config(json!({ "limits": { "maxRunning": 1 } }));
    let repo = env.repo("repo");
    let daemon = env.daemon().await;
    let client = env.socket_client().await;
    let mut ids = Vec::new();
    for script in ["pause 60000", "say second", "say third"] {
        let session = client
            .call(
                method::SESSION_NEW,
                json!({ "cwd": repo, "agent": "scripted", "prompt": "go", "config": { "script": script } }),
            )
            .await;
        ids.push(serde_json::from_value::<Session>(session).unwrap().id);
    }
    client.wait_status(ids[0], |status| status == SessionStatus::Running).await;
    let deadline = tokio::time::Instant::now() + arbor_tests::WAIT;
    while client.get(ids[2]).await.queue_position != Some(2) {
        assert!(tokio::time::Instant::now() < deadline, "queue positions never appeared");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    arbor_tests::terminate(daemon.id().unwrap() as i32);

    let _daemon = env.daemon().await;
    let mut client = env.socket_client().await;
    assert_eq!(client.get(ids[0]).await.status, SessionStatus::Stopped, "the running one was stopped by the shutdown");
    // The waiting sessions were not marked dead: they start in order after the restart.
    client.subscribe(ids[1], 0).await;
    client.wait_turns(ids[1], 1).await;
    assert_eq!(client.reply_text(ids[1]), "second");
    client.call(method::SESSION_STOP, json!({ "sessionId": ids[1] })).await;
    client.subscribe(ids[2], 0).await;
    client.wait_turns(ids[2], 1).await;
    assert_eq!(client.reply_text(ids[2]), "third");
}

#[tokio::test]
async fn a_rate_limit_pauses_the_agents_queue_and_the_turn_is_retried() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let limited = client.scripted_session(&repo, "rate-limit 2\nturn\nsay recovered after the limit", Some("go")).await;
    client.subscribe(limited.id, 0).await;
    client.wait_event(limited.id, |event| matches!(event, SessionEvent::Error { message, fatal: false } if message.contains("retries in 2 s"))).await;

    // A session of the same agent created during the pause waits, saying why.
    let queued: Session = serde_json::from_value(
        client
            .call(
                method::SESSION_NEW,
                json!({ "cwd": repo, "agent": "scripted", "prompt": "hi", "config": { "script": "say queued one" } }),
            )
            .await,
    )
    .unwrap();
    let deadline = tokio::time::Instant::now() + arbor_tests::WAIT;
    loop {
        let session = client.get(queued.id).await;
        if session.status_reason.as_deref().is_some_and(|reason| reason.contains("rate limit")) {
            assert_eq!(session.status, SessionStatus::Pending);
            break;
        }
        assert!(
            session.status == SessionStatus::Pending,
            "the queued session started during the pause: {:?}",
            session.status
        );
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    client.wait_turns(limited.id, 1).await;
    assert!(client.reply_text(limited.id).contains("recovered after the limit"));
    assert!(
        client
            .events
            .iter()
            .any(|event| matches!(&event.event, SessionEvent::Notice { message } if message.contains("Retrying")))
    );
    client.subscribe(queued.id, 0).await;
    client.wait_turns(queued.id, 1).await;
    assert_eq!(client.reply_text(queued.id), "queued one");
}

#[tokio::test]
async fn workflows_and_profiles() {
    let env = TestEnv::new();
    env.write_config(json!({ "profiles": { "echo": { "agent": "scripted", "model": "scripted", "config": { "script": "say {prompt}" } } } }));
    let user_workflows = env.config_file().parent().unwrap().join("workflows");
    std::fs::create_dir_all(&user_workflows).unwrap();
    std::fs::write(user_workflows.join("triage.md"), "# Triage\n\nUser triage steps.\n").unwrap();
    let repo = env.repo("repo");
    env.commit_files(&repo, &[(".arbor/workflows/bug-fix.md", "# Bug fix\n\n1. Reproduce.\n2. Fix.\n")], "workflow");
    let mut server = env.standalone().await;
    let client = &mut server.client;

    let listed = client.call(method::WORKFLOW_LIST, json!({ "cwd": repo })).await;
    let names: Vec<&str> =
        listed["workflows"].as_array().unwrap().iter().map(|workflow| workflow["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["bug-fix", "triage"]);
    assert_eq!(listed["workflows"][0]["title"], "Bug fix");
    let profiles = client.call(method::PROFILE_LIST, serde_json::Value::Null).await;
    assert_eq!(profiles["profiles"][0]["name"], "echo");

    let session: Session = serde_json::from_value(
        client
            .call(
                method::SESSION_NEW,
                json!({ "cwd": repo, "profile": "echo", "workflow": "bug-fix", "prompt": "the login fails" }),
            )
            .await,
    )
    .unwrap();
    assert_eq!(
        (session.agent.as_str(), session.model.as_deref(), session.workflow.as_deref()),
        ("scripted", Some("scripted"), Some("bug-fix"))
    );
    client.subscribe(session.id, 0).await;
    client.wait_turns(session.id, 1).await;
    let reply = client.reply_text(session.id);
    assert!(
        reply.contains("1. Reproduce.") && reply.contains("Task: the login fails"),
        "the agent got the workflow and the prompt: {reply}"
    );

    let missing = client
        .try_call(method::SESSION_NEW, json!({ "cwd": repo, "agent": "scripted", "workflow": "nope" }))
        .await
        .unwrap_err();
    assert_eq!(missing.code, error_code::NOT_FOUND);
    assert!(missing.message.contains(".arbor/workflows"));
    let no_profile =
        client.try_call(method::SESSION_NEW, json!({ "cwd": repo, "profile": "ghost" })).await.unwrap_err();
    assert_eq!(no_profile.code, error_code::NOT_FOUND);

    // A task's trials can use a profile and carry the task's workflow.
    let task: Task = serde_json::from_value(
        client.call(method::TASK_NEW, json!({ "title": "Fix login", "cwd": repo, "workflow": "triage" })).await,
    )
    .unwrap();
    let trials: TrialNewResult = serde_json::from_value(
        client.call(method::TRIAL_NEW, json!({ "taskId": task.id, "trials": [{ "profile": "echo" }] })).await,
    )
    .unwrap();
    let trial_session = trials.trials[0].sessions[0].id;
    client.subscribe(trial_session, 0).await;
    client.wait_turns(trial_session, 1).await;
    assert!(client.reply_text(trial_session).contains("User triage steps."));
    let _ = PathBuf::new();
}
