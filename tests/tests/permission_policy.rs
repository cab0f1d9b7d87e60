//! The permission policy end to end, through the real binary with the scripted agent (and the
//! real Claude Code CLI against the mock model API): trials in `bypass_permissions` running
//! unattended while a deny rule holds, a task rule answering every trial, an "allow always" in one
//! trial sparing its siblings, rules changed while a question waits, and the `by` / `rule` each
//! decision carries.

use std::path::Path;

use arbor_protocol::{
    AgentState, AppliedRule, PermissionAction, ResolvedBy, RuleLevel, Session, SessionEvent, SessionEventNotification,
    Task, ToolKind, TrialNewResult, TrialStatus, error_code, method,
};
use arbor_tests::agents::{assert_sandboxed_as_auto, claude_bash, claude_write, conversation};
use arbor_tests::mock_api::MockApi;
use arbor_tests::{Client, TestEnv};
use serde_json::{Value, json};
use uuid::Uuid;

/// Every event of a session, from the store.
async fn history(client: &Client, session_id: Uuid) -> Vec<SessionEvent> {
    let page = client.call(method::SESSION_EVENTS, json!({ "sessionId": session_id, "limit": 5000 })).await;
    let events: Vec<SessionEventNotification> = serde_json::from_value(page["events"].clone()).unwrap();
    events.into_iter().map(|event| event.event).collect()
}

/// The session's answered permission requests: (request title, chosen option, by, rule).
type Decision = (String, Option<String>, Option<ResolvedBy>, Option<AppliedRule>);

fn decisions(events: &[SessionEvent]) -> Vec<Decision> {
    events
        .iter()
        .filter_map(|event| match event {
            SessionEvent::PermissionResolved { request_id, option_id, by, rule } => {
                let title = events.iter().find_map(|event| match event {
                    SessionEvent::PermissionRequest { request_id: asked, title, .. } if asked == request_id => {
                        Some(title.clone())
                    }
                    _ => None,
                });
                Some((title.unwrap_or_default(), option_id.clone(), *by, rule.clone()))
            }
            _ => None,
        })
        .collect()
}

fn waited_for_input(events: &[SessionEvent]) -> bool {
    events
        .iter()
        .any(|event| matches!(event, SessionEvent::StatusChanged { agent_state: Some(AgentState::WaitingInput), .. }))
}

fn rule(level: RuleLevel, kind: ToolKind, pattern: Option<&str>, action: PermissionAction) -> Option<AppliedRule> {
    Some(AppliedRule { level, kind: Some(kind), pattern: pattern.map(str::to_string), action })
}

fn by_mode() -> Option<AppliedRule> {
    Some(AppliedRule { level: RuleLevel::Mode, kind: None, pattern: None, action: PermissionAction::Allow })
}

async fn new_task(client: &Client, repo: &Path, permissions: Value) -> Task {
    let params = json!({ "title": "Build it", "description": "Build it", "cwd": repo, "permissions": permissions });
    serde_json::from_value(client.call(method::TASK_NEW, params).await).unwrap()
}

async fn start_trials(client: &Client, task: &Task, scripts: &[&str], permission_mode: &str) -> Vec<Session> {
    let trials = scripts
        .iter()
        .map(|script| json!({ "agent": "scripted", "config": { "script": script, "permissionMode": permission_mode } }))
        .collect::<Vec<_>>();
    let started: TrialNewResult =
        serde_json::from_value(client.call(method::TRIAL_NEW, json!({ "taskId": task.id, "trials": trials })).await)
            .unwrap();
    started.trials.into_iter().map(|trial| trial.sessions[0].clone()).collect()
}

/// Waits for the session's next permission request and returns its id.
async fn asked(client: &mut Client, session_id: Uuid) -> String {
    let request = client.wait_event(session_id, |event| matches!(event, SessionEvent::PermissionRequest { .. })).await;
    let SessionEvent::PermissionRequest { request_id, .. } = request.event else { unreachable!() };
    request_id
}

const CLEAN_UP: &str = "write keep.txt <<END
keep
END
ask Build
run echo built > built.txt
ask Clean up
run rm -rf keep.txt
say finished";

#[tokio::test]
async fn bypass_trials_run_unattended_in_parallel_and_a_config_deny_rule_still_holds() {
    let env = TestEnv::new();
    env.write_config(json!({ "permissions": [{ "kind": "execute", "pattern": "rm -rf *", "action": "deny" }] }));
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let task = new_task(client, &repo, json!([])).await;
    // A pause keeps each trial running long enough for the three to overlap on a busy machine.
    let script = format!("pause 1500\n{CLEAN_UP}");
    let sessions = start_trials(client, &task, &[script.as_str(); 3], "bypass_permissions").await;
    for session in &sessions {
        assert_sandboxed_as_auto(client, &client.get(session.id).await).await;
    }

    let detail = client.wait_trials_settled(task.id).await;
    assert!(detail.trials.iter().all(|trial| trial.trial.status == TrialStatus::Done), "{detail:?}");
    for session in &sessions {
        let events = history(client, session.id).await;
        let worktree = Path::new(&session.cwd);
        assert_eq!(std::fs::read_to_string(worktree.join("built.txt")).unwrap(), "built\n");
        assert_eq!(std::fs::read_to_string(worktree.join("keep.txt")).unwrap(), "keep\n", "the deny rule held");
        assert_eq!(
            decisions(&events),
            vec![
                ("Build".into(), Some("allow".into()), Some(ResolvedBy::Policy), by_mode()),
                (
                    "Clean up".into(),
                    Some("reject".into()),
                    Some(ResolvedBy::Policy),
                    rule(RuleLevel::Config, ToolKind::Execute, Some("rm -rf *"), PermissionAction::Deny)
                ),
            ]
        );
        assert!(!waited_for_input(&events), "nobody was asked");
    }
    // The three ran side by side: each started before any of them ended.
    let mut windows = Vec::new();
    for session in &sessions {
        let page = client.call(method::SESSION_EVENTS, json!({ "sessionId": session.id, "limit": 5000 })).await;
        let events: Vec<SessionEventNotification> = serde_json::from_value(page["events"].clone()).unwrap();
        let at = |wanted: fn(&SessionEvent) -> bool| events.iter().find(|event| wanted(&event.event)).unwrap().at;
        windows.push((
            at(|event| matches!(event, SessionEvent::UserMessage { .. })),
            at(|event| matches!(event, SessionEvent::TurnEnded { .. })),
        ));
    }
    let last_start = windows.iter().map(|window| window.0).max().unwrap();
    let first_end = windows.iter().map(|window| window.1).min().unwrap();
    assert!(last_start <= first_end, "the trials ran in parallel: {windows:?}");
}

#[tokio::test]
async fn without_deny_rules_a_bypassing_agent_asks_nothing() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = client
        .agent_session(&repo, "scripted", None, json!({ "script": CLEAN_UP, "permissionMode": "bypass_permissions" }))
        .await;
    client.prompt_and_wait(session.id, "go", 1).await;
    let events = history(client, session.id).await;
    assert!(!events.iter().any(|event| matches!(event, SessionEvent::PermissionRequest { .. })));
    assert!(!Path::new(&session.cwd).join("keep.txt").exists(), "bypass without rules lets everything through");
}

#[tokio::test]
async fn a_session_deny_rule_holds_against_an_agent_in_bypass_mode() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let params = json!({ "cwd": repo, "agent": "scripted", "prompt": "go",
        "config": { "script": CLEAN_UP, "permissionMode": "bypass_permissions" },
        "permissions": [{ "kind": "execute", "pattern": "rm *", "action": "deny" }] });
    let session: Session = serde_json::from_value(client.call(method::SESSION_NEW, params).await).unwrap();
    assert_sandboxed_as_auto(client, &session).await;
    client.subscribe(session.id, 0).await;
    client.wait_turns(session.id, 1).await;
    let events = history(client, session.id).await;
    assert_eq!(std::fs::read_to_string(Path::new(&session.cwd).join("keep.txt")).unwrap(), "keep\n");
    let cleaned = decisions(&events).pop().unwrap();
    assert_eq!(
        cleaned,
        (
            "Clean up".into(),
            Some("reject".into()),
            Some(ResolvedBy::Policy),
            rule(RuleLevel::Session, ToolKind::Execute, Some("rm *"), PermissionAction::Deny)
        )
    );
    assert!(client.reply_text(session.id).contains("Permission refused, so I skipped that step."));
    let request = events.iter().find_map(|event| match event {
        SessionEvent::PermissionRequest { title, tool_kind, subject, .. } if title == "Clean up" => {
            Some((*tool_kind, subject.clone()))
        }
        _ => None,
    });
    assert_eq!(request, Some((ToolKind::Execute, Some("rm -rf keep.txt".into()))), "the request says what it is");
    assert!(!waited_for_input(&events));
}

/// A profile's rules decide for its sessions over the config file's, and a session's own rules over
/// the profile's: the levels in order, through the binary.
#[tokio::test]
async fn a_profile_rule_decides_over_the_config_and_a_session_rule_over_the_profile() {
    let env = TestEnv::new();
    env.write_config(json!({
        "permissions": [{ "kind": "execute", "pattern": "rm -rf *", "action": "allow" }],
        "profiles": { "careful": { "agent": "scripted", "permissions": [
            { "kind": "execute", "pattern": "rm -rf *", "action": "deny" },
            { "kind": "execute", "pattern": "echo *", "action": "allow" },
        ] } },
    }));
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let start = |permissions: Value| {
        json!({ "cwd": repo, "profile": "careful", "prompt": "go", "config": { "script": CLEAN_UP },
            "permissions": permissions })
    };

    let profiled: Session = serde_json::from_value(client.call(method::SESSION_NEW, start(json!([]))).await).unwrap();
    client.subscribe(profiled.id, 0).await;
    client.wait_turns(profiled.id, 1).await;
    let events = history(client, profiled.id).await;
    assert_eq!(
        decisions(&events),
        vec![
            (
                "Build".into(),
                Some("allow".into()),
                Some(ResolvedBy::Policy),
                rule(RuleLevel::Profile, ToolKind::Execute, Some("echo *"), PermissionAction::Allow)
            ),
            (
                "Clean up".into(),
                Some("reject".into()),
                Some(ResolvedBy::Policy),
                rule(RuleLevel::Profile, ToolKind::Execute, Some("rm -rf *"), PermissionAction::Deny)
            ),
        ],
        "the profile's rules decided over the config file's allow"
    );
    assert_eq!(std::fs::read_to_string(Path::new(&profiled.cwd).join("keep.txt")).unwrap(), "keep\n");
    assert!(!waited_for_input(&events), "nobody was asked");

    let own = json!([{ "kind": "execute", "pattern": "echo built > built.txt", "action": "deny" }]);
    let overridden: Session = serde_json::from_value(client.call(method::SESSION_NEW, start(own)).await).unwrap();
    client.subscribe(overridden.id, 0).await;
    client.wait_turns(overridden.id, 1).await;
    let first = decisions(&history(client, overridden.id).await).remove(0);
    assert_eq!(
        first,
        (
            "Build".into(),
            Some("reject".into()),
            Some(ResolvedBy::Policy),
            rule(RuleLevel::Session, ToolKind::Execute, Some("echo built > built.txt"), PermissionAction::Deny)
        ),
        "the session's own rule decided over its profile's"
    );
    assert!(!Path::new(&overridden.cwd).join("built.txt").exists());
}

#[tokio::test]
async fn a_task_rule_answers_the_same_question_for_every_trial() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let task =
        new_task(client, &repo, json!([{ "kind": "execute", "pattern": "echo built > built.txt", "action": "allow" }]))
            .await;
    assert_eq!(task.permissions.len(), 1, "task/new keeps the rules");
    let script = "ask Build\nrun echo built > built.txt\nsay built";
    let sessions = start_trials(client, &task, &[script; 3], "ask").await;
    for session in &sessions {
        assert_sandboxed_as_auto(client, &client.get(session.id).await).await;
    }
    client.wait_trials_settled(task.id).await;
    for session in &sessions {
        let events = history(client, session.id).await;
        assert_eq!(
            decisions(&events),
            vec![(
                "Build".into(),
                Some("allow".into()),
                Some(ResolvedBy::Policy),
                rule(RuleLevel::Task, ToolKind::Execute, Some("echo built > built.txt"), PermissionAction::Allow)
            )]
        );
        assert!(!waited_for_input(&events), "the trial never waited for anyone");
        assert_eq!(std::fs::read_to_string(Path::new(&session.cwd).join("built.txt")).unwrap(), "built\n");
    }
}

#[tokio::test]
async fn allow_always_in_one_trial_spares_the_others() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let task = new_task(client, &repo, json!([])).await;
    let script = "ask Build\nrun echo built > built.txt\nsay built";
    let first_two = start_trials(client, &task, &[script; 2], "ask").await;
    for session in &first_two {
        assert_sandboxed_as_auto(client, &client.get(session.id).await).await;
    }
    for session in &first_two {
        client.subscribe(session.id, 0).await;
    }
    let first_request = asked(client, first_two[0].id).await;
    asked(client, first_two[1].id).await;
    client
        .call(
            method::SESSION_RESPOND,
            json!({ "sessionId": first_two[0].id, "requestId": first_request, "optionId": "allow_always" }),
        )
        .await;
    // The waiting sibling is answered by the task's new rule, and a trial started later is
    // never asked.
    let third = start_trials(client, &task, &[script], "ask").await.remove(0);
    let detail = client.wait_trials_settled(task.id).await;
    assert!(detail.trials.iter().all(|trial| trial.trial.status == TrialStatus::Done));
    let learned = rule(RuleLevel::Task, ToolKind::Execute, Some("echo built > built.txt"), PermissionAction::Allow);
    let first = history(client, first_two[0].id).await;
    assert_eq!(decisions(&first), vec![("Build".into(), Some("allow_always".into()), Some(ResolvedBy::User), None)]);
    for sibling in [&first_two[1], &third] {
        let events = history(client, sibling.id).await;
        assert_eq!(
            decisions(&events),
            vec![("Build".into(), Some("allow".into()), Some(ResolvedBy::Policy), learned.clone())]
        );
        assert_eq!(std::fs::read_to_string(Path::new(&sibling.cwd).join("built.txt")).unwrap(), "built\n");
    }
    assert!(!waited_for_input(&history(client, third.id).await), "the later trial was never asked");
    assert_eq!(detail.task.permissions.len(), 1, "the task keeps the learned rule: {:?}", detail.task.permissions);
    let session = client.get(first_two[0].id).await;
    assert_eq!(session.permissions, detail.task.permissions, "and so does the session that learned it");
}

#[tokio::test]
async fn rules_given_while_a_question_waits_answer_it_and_bad_rules_are_refused() {
    let env = TestEnv::new();
    env.write_config(json!({ "permissions": [{ "kind": "execute", "action": "deny" }] }));
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let refused = client
        .try_call(
            method::SESSION_NEW,
            json!({ "cwd": repo, "agent": "scripted", "permissions": [{ "kind": "edit", "pattern": "src/[a", "action": "allow" }] }),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code, error_code::INVALID_ARGUMENT);
    assert!(refused.message.contains("src/[a"), "{}", refused.message);

    let script = "ask Write it\nwrite out.txt <<END\nout\nEND\nask Run it\nrun cat out.txt";
    let session = client.agent_session(&repo, "scripted", None, json!({ "script": script })).await;
    client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "go" })).await;
    asked(client, session.id).await;
    let waiting = client.get(session.id).await;
    assert_eq!(waiting.agent_state, Some(AgentState::WaitingInput), "no rule matches an edit: the user is asked");
    // The session's rule is more specific (a level above the config's deny), so the command runs.
    let rules = json!([{ "kind": "edit", "pattern": "*.txt", "action": "allow" },
                       { "kind": "execute", "pattern": "cat out.txt", "action": "allow" }]);
    client.call(method::SESSION_CONFIGURE, json!({ "sessionId": session.id, "permissions": rules })).await;
    client.wait_turns(session.id, 1).await;
    let events = history(client, session.id).await;
    assert_eq!(
        decisions(&events),
        vec![
            (
                "Write it".into(),
                Some("allow".into()),
                Some(ResolvedBy::Policy),
                rule(RuleLevel::Session, ToolKind::Edit, Some("*.txt"), PermissionAction::Allow)
            ),
            (
                "Run it".into(),
                Some("allow".into()),
                Some(ResolvedBy::Policy),
                rule(RuleLevel::Session, ToolKind::Execute, Some("cat out.txt"), PermissionAction::Allow)
            ),
        ]
    );
    assert_eq!(std::fs::read_to_string(Path::new(&session.cwd).join("out.txt")).unwrap(), "out\n");
}

#[tokio::test]
async fn claude_in_bypass_mode_is_kept_asking_arbor_so_a_deny_rule_holds() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mock = MockApi::start(conversation(env.data_dir().join("worktrees"), claude_write, claude_bash)).await;
    let deny = json!({ "permissions": [{ "kind": "execute", "pattern": "rm *", "action": "deny" }] });
    env.configure_claude(&mock.url, deny);
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = client.agent_session(&repo, "claude", None, json!({ "permissionMode": "bypass_permissions" })).await;
    assert_sandboxed_as_auto(client, &session).await;
    let worktree = Path::new(&session.cwd);
    std::fs::write(worktree.join("keep.txt"), "keep\n").unwrap();
    client.prompt_and_wait(session.id, "run echo allowed > allowed.txt", 1).await;
    assert_eq!(std::fs::read_to_string(worktree.join("allowed.txt")).unwrap(), "allowed\n");
    client.prompt_and_wait(session.id, "run rm keep.txt", 2).await;
    assert_eq!(std::fs::read_to_string(worktree.join("keep.txt")).unwrap(), "keep\n", "the deny rule held");
    let events = history(client, session.id).await;
    let answers: Vec<_> = decisions(&events).into_iter().map(|(_, option, by, rule)| (option, by, rule)).collect();
    assert_eq!(
        answers,
        vec![
            (Some("allow".into()), Some(ResolvedBy::Policy), by_mode()),
            (
                Some("reject".into()),
                Some(ResolvedBy::Policy),
                rule(RuleLevel::Config, ToolKind::Execute, Some("rm *"), PermissionAction::Deny)
            ),
        ]
    );
    assert!(!waited_for_input(&events), "nobody was asked");
}
