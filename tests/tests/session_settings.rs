//! What a session is given beyond its prompt, end to end through the real binary: extra
//! directories (checked, stored, handed to each agent the way it takes them, writable inside the
//! sandbox and nothing beside them), settings that reach the agent or are refused, pins with a
//! cap and an order, and the cost estimated for agents that report tokens but no cost.

use std::path::Path;

use arbor_protocol::{Session, SessionEvent, SessionStatus, error_code, method};
use arbor_tests::agents::{claude_bash, claude_write, codex_shell, codex_write, conversation};
use arbor_tests::mock_api::MockApi;
use arbor_tests::{Client, Server, TestEnv};
use serde_json::{Value, json};

/// Ends a server the way a user's signal does (it stops every session and flushes the store)
/// and waits for it to exit.
async fn shut_down(mut server: Server) {
    arbor_tests::terminate(server.child.id().expect("a running server") as i32);
    server.child.wait().await.expect("the server exits");
}

/// The error message of a request that must fail with `code`.
async fn refused(client: &Client, method: &str, params: Value, code: i64) -> String {
    let error = client.try_call(method, params.clone()).await.expect_err(&format!("{method} {params} must fail"));
    assert_eq!(error.code, code, "{params}: {}", error.message);
    error.message
}

#[tokio::test]
async fn settings_out_of_range_or_not_taken_by_the_agent_are_refused_naming_what_it_takes() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    env.write_config(json!({ "profiles": { "warm": { "agent": "scripted", "config": { "temperature": 0.7 } } } }));
    let server = env.standalone().await;
    let client = &server.client;
    let new = |config: Value| json!({ "cwd": repo, "agent": "scripted", "config": config });
    for (config, wanted) in [
        (json!({ "temperature": 2.5 }), "temperature is 2.5; it must be 0 to 2"),
        (json!({ "temperature": -0.1 }), "it must be 0 to 2"),
        (json!({ "maxTokens": 99 }), "maxTokens is 99; it must be 100 to 8000"),
        (json!({ "maxTokens": 8001 }), "it must be 100 to 8000"),
        (json!({ "sessionTimeoutSecs": 59 }), "a whole-session limit must be 60 to 1800 seconds"),
        (json!({ "sessionTimeoutSecs": 1801 }), "a whole-session limit must be 60 to 1800 seconds"),
    ] {
        let message = refused(client, method::SESSION_NEW, new(config), error_code::INVALID_ARGUMENT).await;
        assert!(message.contains(wanted), "{message}");
    }
    // In range, but the scripted agent has no model to pass them to.
    for (setting, value) in [("maxTokens", json!(500)), ("temperature", json!(1)), ("systemPrompt", json!("Be brief."))]
    {
        let config = Value::Object(serde_json::Map::from_iter([(setting.to_string(), value)]));
        let message = refused(client, method::SESSION_NEW, new(config), error_code::INVALID_ARGUMENT).await;
        assert!(
            message.contains(&format!("does not take config.{setting}")) && message.contains("it takes script"),
            "{message}"
        );
    }
    // A profile's settings are checked the same way.
    let message =
        refused(client, method::SESSION_NEW, json!({ "cwd": repo, "profile": "warm" }), error_code::INVALID_ARGUMENT)
            .await;
    assert!(message.contains("does not take config.temperature"), "{message}");
    let listed = client.call(method::SESSION_LIST, json!({})).await;
    assert_eq!(listed["total"], 0, "nothing was created: {listed}");
}

#[tokio::test]
async fn claude_code_gets_its_output_token_limit_and_extra_directories() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let extra = env.root.join("shared-notes");
    std::fs::create_dir_all(&extra).unwrap();
    let mock = MockApi::start(conversation(env.data_dir().join("worktrees"), claude_write, claude_bash)).await;
    let profile = json!({ "agent": "claude", "config": { "maxTokens": 1234, "permissionMode": "bypass_permissions" },
        "additionalDirs": [extra] });
    env.configure_claude(&mock.url, json!({ "profiles": { "notes": profile } }));
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session: Session = serde_json::from_value(
        client.call(method::SESSION_NEW, json!({ "cwd": repo, "profile": "notes", "prompt": "hello" })).await,
    )
    .unwrap();
    assert_eq!(session.additional_dirs, vec![extra.canonicalize().unwrap().display().to_string()]);
    client.subscribe(session.id, 0).await;
    client.wait_turns(session.id, 1).await;
    let requests = mock.requests_to("/v1/messages");
    let request = requests
        .iter()
        .find(|request| request.body["tools"].as_array().is_some_and(|tools| !tools.is_empty()))
        .unwrap_or_else(|| panic!("no turn request among {requests:?}"));
    assert_eq!(request.body["max_tokens"], 1234, "CLAUDE_CODE_MAX_OUTPUT_TOKENS reached the model request");
    let body = request.body.to_string();
    assert!(
        body.contains("Additional working directories") && body.contains(&extra.display().to_string()),
        "--add-dir reached Claude Code: {body}"
    );
}

#[tokio::test]
async fn extra_directories_are_checked_stored_and_reach_an_acp_agent_on_new_and_load() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let (first, second) = (env.root.join("first"), env.root.join("second"));
    for dir in [&first, &second] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(env.root.join("a-file"), "").unwrap();
    let mut server = env.standalone().await;
    let script = "say I also work in: {dirs}\nturn\nsay I also work in: {dirs}";
    let new = |dirs: Value| json!({ "cwd": repo, "agent": "scripted", "config": { "script": script }, "additionalDirs": dirs });
    let client = &mut server.client;
    let other = client.scripted_session(&repo, "say idle", None).await;
    for (dir, wanted) in [
        (json!("relative/dir"), "is not an absolute path"),
        (json!(env.root.join("missing")), "does not exist"),
        (json!(env.root.join("a-file")), "is not a directory"),
        (json!(other.cwd), "is inside a session's worktree"),
        (json!(env.data_dir()), "is inside Arbor's data directory"),
        (json!(env.root), "holds Arbor's data directory"),
    ] {
        let message = refused(client, method::SESSION_NEW, new(json!([dir])), error_code::INVALID_ARGUMENT).await;
        assert!(message.contains(wanted), "{dir}: {message}");
    }

    let created = client.call(method::SESSION_NEW, new(json!([first, first]))).await;
    let session: Session = serde_json::from_value(created).unwrap();
    let first_real = first.canonicalize().unwrap().display().to_string();
    assert_eq!(session.additional_dirs, vec![first_real.clone()], "checked, resolved and without duplicates");
    client.subscribe(session.id, 0).await;
    client.wait_status(session.id, |status| status == SessionStatus::Running).await;
    client.prompt_and_wait(session.id, "where?", 1).await;
    assert_eq!(client.reply_text(session.id), format!("I also work in: {first_real}"), "session/new carried them");

    let message = refused(
        client,
        method::SESSION_CONFIGURE,
        json!({ "sessionId": session.id, "additionalDirs": ["nowhere"] }),
        error_code::INVALID_ARGUMENT,
    )
    .await;
    assert!(message.contains("is not an absolute path"), "{message}");
    let configured =
        client.call(method::SESSION_CONFIGURE, json!({ "sessionId": session.id, "additionalDirs": [second] })).await;
    let second_real = second.canonicalize().unwrap().display().to_string();
    assert_eq!(configured["additionalDirs"], json!([second_real]));
    client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await;
    shut_down(server).await;

    // A restarted server still has them, and resuming (session/load) hands the new ones over.
    let mut server = env.standalone().await;
    let client = &mut server.client;
    assert_eq!(client.get(session.id).await.additional_dirs, vec![second_real.clone()]);
    client.subscribe(session.id, 0).await;
    client.resume_and_wait(session.id, "and now?", 2).await;
    assert!(client.reply_text(session.id).ends_with(&format!("I also work in: {second_real}")));
}

#[tokio::test]
async fn a_sandboxed_agent_writes_in_its_extra_directory_and_nowhere_beside_it() {
    for backend in ["bwrap", "landlock"] {
        let env = TestEnv::new();
        let repo = env.repo("repo");
        let (extra, sibling) = (env.root.join("extra"), env.root.join("sibling"));
        for dir in [&extra, &sibling] {
            std::fs::create_dir_all(dir).unwrap();
        }
        let mut server = env.standalone().await;
        let client = &mut server.client;
        let report = client.call(method::AGENTS_LIST, Value::Null).await["sandbox"].clone();
        let works =
            report["backends"].as_array().unwrap().iter().any(|b| b["backend"] == backend && b["available"] == true);
        if !works {
            eprintln!("SKIPPED: the {backend} sandbox is not available here: {report}");
            continue;
        }
        let script = format!(
            "run echo shared > {}/made.txt && cat {}/made.txt\nrun echo beside > {}/made.txt && echo ESCAPED",
            extra.display(),
            extra.display(),
            sibling.display()
        );
        let params = json!({ "cwd": repo, "agent": "scripted", "additionalDirs": [extra],
            "config": { "script": script, "sandbox": backend } });
        let session: Session = serde_json::from_value(client.call(method::SESSION_NEW, params).await).unwrap();
        client.subscribe(session.id, 0).await;
        client.wait_status(session.id, |status| status == SessionStatus::Running).await;
        client.prompt_and_wait(session.id, "write around", 1).await;
        let outputs = client.command_results(session.id);
        assert_eq!(outputs.len(), 2, "{outputs:?}");
        assert_eq!(outputs[0], ("shared\n".to_string(), Some(0)), "the extra directory is writable in {backend}");
        assert_eq!(std::fs::read_to_string(extra.join("made.txt")).unwrap(), "shared\n");
        assert_ne!(outputs[1].1, Some(0), "a sibling directory is not writable in {backend}: {:?}", outputs[1]);
        assert!(!sibling.join("made.txt").exists(), "nothing landed beside it in {backend}");
        client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await;
    }
}

#[tokio::test]
async fn pinning_beyond_the_cap_unpins_the_oldest_and_the_order_survives_a_restart() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    env.write_config(json!({ "maxPinnedSessions": 2 }));
    let server = env.standalone().await;
    let client = &server.client;
    let mut ids = Vec::new();
    for name in ["one", "two", "three"] {
        let created = client
            .call(
                method::SESSION_NEW,
                json!({ "cwd": repo, "agent": "scripted", "title": name, "config": { "script": "say hi" } }),
            )
            .await;
        ids.push(serde_json::from_value::<Session>(created).unwrap().id);
    }
    let pin = |id| json!({ "sessionId": id, "pinned": true });
    assert_eq!(client.call(method::SESSION_CONFIGURE, pin(ids[0])).await["unpinned"], json!([]));
    assert_eq!(client.call(method::SESSION_CONFIGURE, pin(ids[1])).await["unpinned"], json!([]));
    let third = client.call(method::SESSION_CONFIGURE, pin(ids[2])).await;
    assert_eq!(third["pinned"], true);
    assert_eq!(third["unpinned"], json!([ids[0]]), "the oldest pin made room");
    assert!(!client.get(ids[0]).await.pinned);

    let titles = |list: &Value| -> Vec<String> {
        list["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|session| session["title"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(titles(&client.call(method::SESSION_LIST, json!({})).await)[..2], ["two", "three"]);
    let reordered = client.call(method::SESSION_PIN_ORDER, json!({ "pinnedOrder": [ids[2]] })).await;
    assert_eq!(titles(&reordered), ["three", "two"]);
    let message =
        refused(client, method::SESSION_PIN_ORDER, json!({ "pinnedOrder": [ids[0]] }), error_code::INVALID_ARGUMENT)
            .await;
    assert!(message.contains("is not pinned"), "{message}");
    shut_down(server).await;

    let server = env.standalone().await;
    let listed = server.client.call(method::SESSION_LIST, json!({})).await;
    assert_eq!(titles(&listed), ["three", "two", "one"], "pins first in their order, after a restart");
}

#[tokio::test]
async fn a_codex_session_ends_with_a_cost_estimated_from_its_tokens() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mock = MockApi::start(conversation(env.data_dir().join("worktrees"), codex_write, codex_shell)).await;
    env.configure_codex(&mock.url);
    // The config file's price for the session's model replaces the shipped one.
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(env.config_file()).unwrap()).unwrap();
    config["prices"] = json!({ "gpt-5.5": { "input": 2.0, "output": 20.0, "cacheRead": 0.5 } });
    env.write_config(config);
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session =
        client.agent_session(&repo, "codex", Some("gpt-5.5"), json!({ "permissionMode": "bypass_permissions" })).await;
    client.prompt_and_wait(session.id, "hello", 1).await;
    let usage = client.get(session.id).await.usage;
    assert!(usage.output_tokens > 0 && usage.input_tokens > 0, "{usage:?}");
    let expected = (usage.input_tokens as f64 * 2.0
        + usage.output_tokens as f64 * 20.0
        + usage.cache_read_tokens as f64 * 0.5
        + usage.cache_write_tokens as f64 * 2.0)
        / 1_000_000.0;
    assert!(usage.cost_estimated, "{usage:?}");
    assert!((usage.cost_usd - expected).abs() < 1e-12, "{} != {expected}: {usage:?}", usage.cost_usd);
    let event = client.events.iter().rev().find_map(|event| match &event.event {
        SessionEvent::Usage { total, .. } if event.session_id == session.id => Some(*total),
        _ => None,
    });
    assert_eq!(event.map(|total| total.cost_estimated), Some(true), "the usage event says it is an estimate");
    assert!(Path::new(&session.cwd).is_dir());
}
