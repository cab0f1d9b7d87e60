//! Turn control and failure handling: cancel, interrupt and queue, the turn and session time
//! limits, a vanished agent process, and garbage from the agent.

use arbor_protocol::{AgentState, SessionEvent, SessionStatus, StopReason, method};
use arbor_tests::{TestEnv, scripted_agent_pids};
use serde_json::json;

#[tokio::test]
async fn cancel_interrupts_the_turn_and_the_session_carries_on() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = client
        .scripted_session(&repo, "say started\npause 60000\nsay never said\nturn\nsay after: {prompt}", Some("go"))
        .await;
    client.subscribe(session.id, 0).await;
    client
        .wait_event(
            session.id,
            |event| matches!(event, SessionEvent::AgentMessageChunk { text } if text.contains("started")),
        )
        .await;
    client.call(method::SESSION_CANCEL, json!({ "sessionId": session.id })).await;
    client.wait_turns(session.id, 1).await;
    assert_eq!(client.stop_reasons(session.id), vec![StopReason::Cancelled]);
    assert!(!client.reply_text(session.id).contains("never said"));
    let idle = client.wait_status(session.id, |status| status == SessionStatus::Running).await;
    assert_eq!(idle.agent_state, Some(AgentState::Idle));

    client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "next" })).await;
    client.wait_turns(session.id, 2).await;
    assert!(client.reply_text(session.id).ends_with("after: next"));
    // Cancelling with no turn running is harmless.
    client.call(method::SESSION_CANCEL, json!({ "sessionId": session.id })).await;
}

#[tokio::test]
async fn prompts_during_a_turn_interrupt_or_queue_as_asked() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let script = "say busy\npause 60000\nturn\nsay interrupted by: {prompt}\npause 300\nturn\nsay queued: {prompt}";
    let session = client.scripted_session(&repo, script, Some("start")).await;
    client.subscribe(session.id, 0).await;
    client.wait_event(session.id, |event| matches!(event, SessionEvent::AgentMessageChunk { .. })).await;

    let interrupt = client
        .call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "stop that", "mode": "interrupt" }))
        .await;
    assert_eq!(interrupt["queued"], true);
    client
        .wait_event(
            session.id,
            |event| matches!(event, SessionEvent::AgentMessageChunk { text } if text.contains("interrupted")),
        )
        .await;
    let queued = client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "later" })).await;
    assert_eq!(queued["queued"], true);
    client.wait_turns(session.id, 3).await;
    assert_eq!(client.stop_reasons(session.id), vec![StopReason::Cancelled, StopReason::EndTurn, StopReason::EndTurn]);
    let text = client.reply_text(session.id);
    assert!(text.contains("interrupted by: stop that") && text.ends_with("queued: later"), "{text}");
    let prompts: Vec<String> = client
        .events
        .iter()
        .filter_map(|event| match &event.event {
            SessionEvent::UserMessage { text } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(prompts, vec!["start", "stop that", "later"]);
}

#[tokio::test]
async fn a_turn_over_its_time_limit_ends_the_session_as_timeout_and_it_resumes() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = client
        .call(
            method::SESSION_NEW,
            json!({ "cwd": repo, "agent": "scripted", "prompt": "slow", "config": { "script": "pause 60000\nturn\nsay quick", "turnTimeoutSecs": 1 } }),
        )
        .await;
    let session: arbor_protocol::Session = serde_json::from_value(session).unwrap();
    client.subscribe(session.id, 0).await;
    let timed_out = client.wait_status(session.id, |status| status == SessionStatus::Timeout).await;
    assert!(timed_out.status_reason.unwrap().contains("time limit of 1 s"));
    client
        .wait_event(
            session.id,
            |event| matches!(event, SessionEvent::Error { fatal: true, message } if message.contains("time limit")),
        )
        .await;
    assert!(scripted_agent_pids(&env.root).is_empty(), "the timed-out agent was ended");
    assert_eq!(client.stop_reasons(session.id), vec![StopReason::Timeout]);

    client.resume_and_wait(session.id, "again", 2).await;
    assert!(client.reply_text(session.id).ends_with("quick"));
}

#[tokio::test]
async fn the_whole_session_time_limit_applies_when_set() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let server = env.standalone().await;
    let client = &server.client;
    let session = client
        .call(
            method::SESSION_NEW,
            json!({ "cwd": repo, "agent": "scripted", "config": { "script": "say hi", "sessionTimeoutSecs": 60 } }),
        )
        .await;
    let id: uuid::Uuid = serde_json::from_value(session["id"].clone()).unwrap();
    // 60 s is the shortest whole-session limit allowed, longer than the harness's usual wait.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60) + arbor_tests::WAIT;
    let ended = loop {
        let session = client.get(id).await;
        if session.status == SessionStatus::Timeout {
            break session;
        }
        assert!(tokio::time::Instant::now() < deadline, "the session stayed {:?}", session.status);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(ended.status_reason.unwrap().contains("session exceeded its time limit"));
    let zero = client
        .try_call(method::SESSION_NEW, json!({ "cwd": repo, "agent": "scripted", "config": { "turnTimeoutSecs": 0 } }))
        .await;
    assert_eq!(zero.unwrap_err().code, arbor_protocol::error_code::INVALID_ARGUMENT);
}

#[tokio::test]
async fn a_vanished_agent_makes_the_session_dead_and_resumable() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = client.scripted_session(&repo, "say going away\nexit 3\nturn\nsay I am back", Some("go")).await;
    client.subscribe(session.id, 0).await;
    let dead = client.wait_status(session.id, |status| status == SessionStatus::Dead).await;
    assert!(dead.status_reason.unwrap().contains("ended unexpectedly"));
    client.wait_event(session.id, |event| matches!(event, SessionEvent::Error { fatal: true, .. })).await;
    assert_eq!(client.stop_reasons(session.id), vec![StopReason::Error]);

    client.resume_and_wait(session.id, "hello?", 2).await;
    assert!(client.reply_text(session.id).ends_with("I am back"));
}

#[tokio::test]
async fn garbage_from_the_agent_is_an_error_event_and_the_turn_continues() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = client
        .scripted_session(
            &repo,
            "garbage {{{ not json\ngarbage [1,2,3]\nsay still here\nfail the model said no\n",
            Some("go"),
        )
        .await;
    client.subscribe(session.id, 0).await;
    client.wait_turns(session.id, 1).await;
    let errors: Vec<(String, bool)> = client
        .events
        .iter()
        .filter_map(|event| match &event.event {
            SessionEvent::Error { message, fatal } => Some((message.clone(), *fatal)),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].0.contains("not a JSON-RPC message") && errors[0].0.contains("{{{ not json"));
    assert!(errors[1].0.contains("[1,2,3]"));
    assert_eq!(errors[2].0, "the model said no");
    assert!(errors.iter().all(|(_, fatal)| !fatal));
    assert_eq!(client.reply_text(session.id), "still here");
    assert_eq!(client.stop_reasons(session.id), vec![StopReason::Error]);
    let session = client.get(session.id).await;
    assert_eq!((session.status, session.agent_state), (SessionStatus::Running, Some(AgentState::Idle)));
}

#[tokio::test]
async fn an_agent_that_does_not_start_in_time_is_timed_out_by_the_watchdog() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let server = env.standalone().await;
    let client = &server.client;
    let session = client
        .call(
            method::SESSION_NEW,
            json!({ "cwd": repo, "agent": "scripted", "prompt": "hi", "config": { "script": "startup-delay 20000\nsay hi", "startupTimeoutSecs": 1 } }),
        )
        .await;
    let id: uuid::Uuid = serde_json::from_value(session["id"].clone()).unwrap();
    let ended = client.wait_status(id, |status| status == SessionStatus::Timeout).await;
    assert!(ended.status_reason.unwrap().contains("did not start within 1 s"));
    assert!(scripted_agent_pids(&env.root).is_empty(), "the stuck agent was ended");
}
