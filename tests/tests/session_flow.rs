//! A whole session over the real stdio transport on a real repository: streaming, tool calls that
//! change files in the session's own worktree, permission answers, usage, listing, titles, pins,
//! paging, stop, resume and delete.

use arbor_protocol::{
    AgentState, Session, SessionEvent, SessionStatus, ToolCallContent, ToolCallStatus, error_code, method,
};
use arbor_tests::{TestEnv, git};
use serde_json::json;

const SCRIPT: &str = r#"think Let me look at the task.
say Creating the file now.
write notes/hello.txt <<EOF
hello from the agent
EOF
ask Run the listing
run ls notes && cat notes/hello.txt
usage input=100 output=20 cache_read=5 cache_write=7 cost=0.25
say All done.
turn
say Second turn got: {prompt}
usage input=10 output=2 cost=0.5
"#;

#[tokio::test]
async fn a_session_edits_its_own_worktree_and_streams_everything() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;

    let session = client.scripted_session(&repo, SCRIPT, Some("Write a hello note")).await;
    assert_eq!(session.status, SessionStatus::Pending);
    let branch = session.branch.clone().expect("worktree sessions have a branch");
    assert!(
        branch.starts_with(&format!("arbor/{}-write-a-hello-note", &session.id.simple().to_string()[..8])),
        "{branch}"
    );
    assert_eq!(session.base_branch.as_deref(), Some("main"));
    assert_ne!(session.cwd, repo.display().to_string(), "a worktree outside the repository");
    assert!(session.cwd.starts_with(&env.data_dir().display().to_string()));
    client.subscribe(session.id, 0).await;

    let request = client.wait_event(session.id, |event| matches!(event, SessionEvent::PermissionRequest { .. })).await;
    let SessionEvent::PermissionRequest { request_id, options, title, .. } = request.event else { unreachable!() };
    assert_eq!(title, "Run the listing");
    assert!(options.iter().any(|option| option.option_id == "allow"));
    client
        .wait_event(session.id, |event| {
            matches!(event, SessionEvent::StatusChanged { agent_state: Some(AgentState::WaitingInput), .. })
        })
        .await;
    assert_eq!(client.get(session.id).await.agent_state, Some(AgentState::WaitingInput));
    client
        .call(method::SESSION_RESPOND, json!({ "sessionId": session.id, "requestId": request_id, "optionId": "allow" }))
        .await;
    client.wait_turns(session.id, 1).await;

    // The file is in the worktree on the session's branch, not in the user's checkout.
    let written = std::path::Path::new(&session.cwd).join("notes/hello.txt");
    assert_eq!(std::fs::read_to_string(&written).unwrap(), "hello from the agent\n");
    assert!(!repo.join("notes").exists());
    assert_eq!(git(&repo, &["branch", "--list", &branch]).trim_start_matches(['+', '*', ' ']), branch);
    assert_eq!(git(std::path::Path::new(&session.cwd), &["rev-parse", "--abbrev-ref", "HEAD"]), branch);

    let kinds: Vec<&str> = client.events.iter().map(|event| event.event.kind()).collect();
    for kind in [
        "status_changed",
        "user_message",
        "agent_thought_chunk",
        "agent_message_chunk",
        "plan",
        "tool_call",
        "tool_call_update",
        "permission_request",
        "permission_resolved",
        "usage",
        "turn_ended",
    ] {
        if kind != "plan" {
            assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
        }
    }
    assert_eq!(
        client.seqs(session.id),
        (1..=client.events.len() as u64).collect::<Vec<_>>(),
        "seqs are 1, 2, 3 … without gaps"
    );
    assert_eq!(client.reply_text(session.id), "Creating the file now.All done.");
    let diff = client.events.iter().find_map(|event| match &event.event {
        SessionEvent::ToolCallUpdate { content: Some(content), status: Some(ToolCallStatus::Completed), .. } => {
            content.iter().find_map(|item| match item {
                ToolCallContent::Diff { path, old_text, new_text } => {
                    Some((path.clone(), old_text.clone(), new_text.clone()))
                }
                _ => None,
            })
        }
        _ => None,
    });
    assert_eq!(diff, Some(("notes/hello.txt".into(), None, "hello from the agent\n".into())));
    let terminal = client.events.iter().find_map(|event| match &event.event {
        SessionEvent::ToolCallUpdate { content: Some(content), .. } => content.iter().find_map(|item| match item {
            ToolCallContent::Terminal { output, exit_code } => Some((output.clone(), *exit_code)),
            _ => None,
        }),
        _ => None,
    });
    assert_eq!(terminal, Some(("hello.txt\nhello from the agent\n".into(), Some(0))));

    let after_first = client.get(session.id).await;
    assert_eq!(after_first.status, SessionStatus::Running);
    assert_eq!(after_first.agent_state, Some(AgentState::Idle));
    assert_eq!((after_first.usage.input_tokens, after_first.usage.output_tokens), (100, 20));
    assert_eq!((after_first.usage.cache_read_tokens, after_first.usage.cache_write_tokens), (5, 7));
    assert!((after_first.usage.cost_usd - 0.25).abs() < 1e-9);
    assert!(after_first.agent_session_id.as_deref().is_some_and(|id| id.starts_with("scripted-")));
    assert_eq!(after_first.title.as_deref(), Some("Write a hello note"));
    assert_eq!(after_first.first_prompt.as_deref(), Some("Write a hello note"));

    // A follow-up prompt runs the next turn; usage adds up.
    client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "and again" })).await;
    client.wait_turns(session.id, 2).await;
    assert!(client.reply_text(session.id).ends_with("Second turn got: and again"));
    let after_second = client.get(session.id).await;
    assert_eq!(after_second.usage.input_tokens, 110);
    assert!((after_second.usage.cost_usd - 0.75).abs() < 1e-9);

    // The history is pageable and matches what was streamed.
    let page = client.call(method::SESSION_EVENTS, json!({ "sessionId": session.id, "afterSeq": 3, "limit": 5 })).await;
    let seqs: Vec<u64> =
        page["events"].as_array().unwrap().iter().map(|event| event["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![4, 5, 6, 7, 8]);
    assert_eq!(page["hasMore"], true);
    let all = client.call(method::SESSION_EVENTS, json!({ "sessionId": session.id, "limit": 5000 })).await;
    let stored: Vec<serde_json::Value> = all["events"].as_array().unwrap().clone();
    let streamed: Vec<serde_json::Value> =
        client.events.iter().map(|event| serde_json::to_value(event).unwrap()).collect();
    assert_eq!(stored[..streamed.len()], streamed[..], "what was streamed is exactly what is stored");
}

#[tokio::test]
async fn refusing_permission_skips_the_action() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let script = "ask Write secret.txt\nwrite secret.txt <<END\nno\nEND\nsay finished";
    let session = client.scripted_session(&repo, script, Some("go")).await;
    client.subscribe(session.id, 0).await;
    let request = client.wait_event(session.id, |event| matches!(event, SessionEvent::PermissionRequest { .. })).await;
    let SessionEvent::PermissionRequest { request_id, .. } = request.event else { unreachable!() };
    client
        .call(
            method::SESSION_RESPOND,
            json!({ "sessionId": session.id, "requestId": request_id, "optionId": "reject" }),
        )
        .await;
    client.wait_turns(session.id, 1).await;
    assert!(!std::path::Path::new(&session.cwd).join("secret.txt").exists());
    assert!(client.reply_text(session.id).contains("Permission refused"));
    let resolved = client
        .events
        .iter()
        .any(|event| matches!(&event.event, SessionEvent::PermissionResolved { option_id: Some(option), .. } if option == "reject"));
    assert!(resolved);
}

/// A prompt sent while the agent is still starting is queued, and with no prompt of the session's
/// own it is the first turn once the agent runs (it used to wait for a turn that never came).
#[tokio::test]
async fn a_prompt_sent_while_the_agent_starts_is_its_first_turn() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = client.scripted_session(&repo, "startup-delay 1500\nsay got {prompt}", None).await;
    client.subscribe(session.id, 0).await;
    let queued = client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "early bird" })).await;
    assert_eq!(queued["queued"], true, "the agent is still starting: {queued}");
    assert_ne!(client.get(session.id).await.status, SessionStatus::Running, "the prompt came before the agent ran");
    client.wait_turns(session.id, 1).await;
    assert!(client.reply_text(session.id).contains("got early bird"), "{}", client.reply_text(session.id));
}

#[tokio::test]
async fn list_filters_titles_pins_and_hiding() {
    let env = TestEnv::new();
    let alpha = env.repo("alpha");
    let beta = env.repo("beta");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let first = client.scripted_session(&alpha, "say one", Some("Fix the login bug")).await;
    let second = client.scripted_session(&beta, "say two", Some("Write release notes")).await;
    let third = client
        .call(
            method::SESSION_NEW,
            json!({ "cwd": alpha, "agent": "scripted", "title": "My own title", "isolation": "in_place", "config": { "script": "say three" } }),
        )
        .await;
    let third: Session = serde_json::from_value(third).unwrap();
    assert_eq!(third.cwd, alpha.canonicalize().unwrap().display().to_string(), "in place runs in the repository");
    assert_eq!(third.branch.as_deref(), Some("main"));
    for id in [first.id, second.id] {
        client.subscribe(id, 0).await;
        client.wait_turns(id, 1).await;
    }
    client.wait_status(third.id, |status| status == SessionStatus::Running).await;
    assert_eq!(
        client.get(first.id).await.title.as_deref(),
        Some("Fix the login bug"),
        "titles come from the first prompt"
    );

    let titles = |list: &serde_json::Value| -> Vec<String> {
        list["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|session| session["title"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let by_text = client.call(method::SESSION_LIST, json!({ "query": "LOGIN" })).await;
    assert_eq!(titles(&by_text), vec!["Fix the login bug"]);
    let by_path = client.call(method::SESSION_LIST, json!({ "query": "beta" })).await;
    assert_eq!(titles(&by_path), vec!["Write release notes"]);
    let by_agent = client.call(method::SESSION_LIST, json!({ "agent": "scripted" })).await;
    assert_eq!(by_agent["total"], 3);
    let by_other_agent = client.call(method::SESSION_LIST, json!({ "agent": "codex" })).await;
    assert_eq!(by_other_agent["total"], 0);

    // Title priority: a user title is never replaced by a lower source; a prompt title is.
    let kept = client
        .call(method::SESSION_CONFIGURE, json!({ "sessionId": third.id, "title": "auto title", "titleSource": "auto" }))
        .await;
    assert_eq!(kept["title"], "My own title");
    let replaced = client
        .call(
            method::SESSION_CONFIGURE,
            json!({ "sessionId": first.id, "title": "Login fix (auto)", "titleSource": "auto" }),
        )
        .await;
    assert_eq!(
        (replaced["title"].as_str(), replaced["titleSource"].as_str()),
        (Some("Login fix (auto)"), Some("auto"))
    );
    let not_back = client
        .call(
            method::SESSION_CONFIGURE,
            json!({ "sessionId": first.id, "title": "from prompt", "titleSource": "prompt" }),
        )
        .await;
    assert_eq!(not_back["title"], "Login fix (auto)");
    let user = client.call(method::SESSION_CONFIGURE, json!({ "sessionId": first.id, "title": "Login" })).await;
    assert_eq!((user["title"].as_str(), user["titleSource"].as_str()), (Some("Login"), Some("user")));
    // The prompt text still finds the session after its title changed.
    let by_prompt_text = client.call(method::SESSION_LIST, json!({ "query": "login bug" })).await;
    assert_eq!(titles(&by_prompt_text), vec!["Login"]);

    // Pinned first, in pin order; hidden left out unless asked.
    client.call(method::SESSION_CONFIGURE, json!({ "sessionId": second.id, "pinned": true })).await;
    client.call(method::SESSION_CONFIGURE, json!({ "sessionId": first.id, "pinned": true })).await;
    client.call(method::SESSION_CONFIGURE, json!({ "sessionId": third.id, "hidden": true })).await;
    let list = client.call(method::SESSION_LIST, json!({})).await;
    assert_eq!(titles(&list), vec!["Write release notes", "Login"]);
    let with_hidden = client.call(method::SESSION_LIST, json!({ "includeHidden": true })).await;
    assert_eq!(titles(&with_hidden), vec!["Write release notes", "Login", "My own title"]);
    let paged = client.call(method::SESSION_LIST, json!({ "includeHidden": true, "limit": 2 })).await;
    assert_eq!((paged["total"].as_u64(), paged["nextOffset"].as_u64()), (Some(3), Some(2)));
    let rest = client.call(method::SESSION_LIST, json!({ "includeHidden": true, "offset": 2 })).await;
    assert_eq!(titles(&rest), vec!["My own title"]);
    assert!(rest["nextOffset"].is_null());
    let running = client.call(method::SESSION_LIST, json!({ "status": ["running"], "includeHidden": true })).await;
    assert_eq!(running["total"], 3);
    client.call(method::SESSION_STOP, json!({ "sessionId": second.id })).await;
    let stopped = client.call(method::SESSION_LIST, json!({ "status": ["stopped"] })).await;
    assert_eq!(titles(&stopped), vec!["Write release notes"]);
    let unpinned = client.call(method::SESSION_CONFIGURE, json!({ "sessionId": second.id, "pinned": false })).await;
    assert_eq!((unpinned["pinned"].as_bool(), unpinned["pinnedAt"].is_null()), (Some(false), true));
}

#[tokio::test]
async fn stop_resume_and_delete_keep_the_work() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let script = "write a.txt <<END\nfirst\nEND\nturn\nsay resumed with {prompt}\nwrite b.txt <<END\nsecond\nEND";
    let session = client.scripted_session(&repo, script, Some("one")).await;
    client.subscribe(session.id, 0).await;
    client.wait_turns(session.id, 1).await;
    let agent_session_id = client.get(session.id).await.agent_session_id;

    let stopped: Session =
        serde_json::from_value(client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await).unwrap();
    assert_eq!(stopped.status, SessionStatus::Stopped);
    assert_eq!(stopped.agent_state, None);
    assert!(arbor_tests::scripted_agent_pids(&env.root).is_empty(), "stop ends the agent process");
    // Stopping again is harmless.
    client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await;

    let resumed: Session = serde_json::from_value(
        client.call(method::SESSION_RESUME, json!({ "sessionId": session.id, "prompt": "two" })).await,
    )
    .unwrap();
    assert_eq!(resumed.id, session.id);
    client.wait_turns(session.id, 2).await;
    assert!(client.reply_text(session.id).contains("resumed with two"), "the agent continued its own conversation");
    assert_eq!(client.get(session.id).await.agent_session_id, agent_session_id);
    let already = client.try_call(method::SESSION_RESUME, json!({ "sessionId": session.id })).await.unwrap_err();
    assert_eq!(already.code, error_code::INVALID_SESSION_STATE);

    // Resuming as a new session records the lineage and leaves the old history alone.
    client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await;
    let old_last_seq = client.get(session.id).await.last_seq;
    let child: Session = serde_json::from_value(
        client.call(method::SESSION_RESUME, json!({ "sessionId": session.id, "asNewSession": true })).await,
    )
    .unwrap();
    assert_ne!(child.id, session.id);
    assert_eq!(child.resumed_from, Some(session.id));
    client.wait_status(child.id, |status| status == SessionStatus::Running).await;
    client.call(method::SESSION_STOP, json!({ "sessionId": child.id })).await;
    assert_eq!(client.get(session.id).await.last_seq, old_last_seq);
    client.call(method::SESSION_DELETE, json!({ "sessionId": child.id })).await;

    // Deleting keeps the branch and snapshots uncommitted work onto it.
    let branch = session.branch.clone().unwrap();
    let refused = client
        .try_call(method::SESSION_DELETE, json!({ "sessionId": session.id, "deleteBranch": true }))
        .await
        .unwrap_err();
    assert!(refused.message.contains("not merged"), "{}", refused.message);
    assert!(std::path::Path::new(&session.cwd).join("a.txt").exists(), "a refused delete changes nothing");
    let deleted = client.call(method::SESSION_DELETE, json!({ "sessionId": session.id })).await;
    assert_eq!(deleted["keptBranch"], branch.as_str());
    assert!(deleted["snapshotCommit"].is_string());
    assert!(!std::path::Path::new(&session.cwd).exists(), "the worktree is removed");
    assert_eq!(git(&repo, &["show", &format!("{branch}:a.txt")]), "first");
    assert_eq!(git(&repo, &["show", &format!("{branch}:b.txt")]), "second");
    let gone = client.try_call(method::SESSION_GET, json!({ "sessionId": session.id })).await.unwrap_err();
    assert_eq!(gone.code, error_code::SESSION_NOT_FOUND);
    assert!(client.changes.iter().any(|changed| changed.id == session.id), "session/changed notifications arrived");
}

#[tokio::test]
async fn a_session_exports_as_markdown_html_and_json() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let script =
        "think pondering <tags>\nsay Here is <b>bold</b> text.\nwrite out.txt <<END\nfile body\nEND\nrun cat out.txt";
    let session = client.scripted_session(&repo, script, Some("Export this")).await;
    client.subscribe(session.id, 0).await;
    client.wait_turns(session.id, 1).await;

    let markdown = client.call(method::SESSION_EXPORT, json!({ "sessionId": session.id })).await;
    assert_eq!(
        (markdown["format"].as_str(), markdown["mimeType"].as_str(), markdown["fileName"].as_str()),
        (Some("markdown"), Some("text/markdown"), Some("export-this.md"))
    );
    let text = markdown["content"].as_str().unwrap();
    for expected in [
        "# Export this",
        "## You\n\nExport this",
        "**Agent:** Here is <b>bold</b> text.",
        "> *Thinking:* pondering <tags>",
        "**Write out.txt** (completed)",
        "**Run cat out.txt** (completed)",
        "file body\n(exit code 0)",
    ] {
        assert!(text.contains(expected), "markdown lacks {expected:?}:\n{text}");
    }
    let html = client.call(method::SESSION_EXPORT, json!({ "sessionId": session.id, "format": "html" })).await;
    let page = html["content"].as_str().unwrap();
    assert!(
        page.starts_with("<!DOCTYPE html>") && page.contains("Here is &lt;b&gt;bold&lt;/b&gt; text."),
        "HTML is escaped"
    );
    let exported = client.call(method::SESSION_EXPORT, json!({ "sessionId": session.id, "format": "json" })).await;
    let document: serde_json::Value = serde_json::from_str(exported["content"].as_str().unwrap()).unwrap();
    let stored = client.call(method::SESSION_EVENTS, json!({ "sessionId": session.id, "limit": 5000 })).await;
    assert_eq!(document["events"], stored["events"], "the JSON export holds every event");
    assert_eq!(document["session"]["id"], session.id.to_string());
    let bad =
        client.try_call(method::SESSION_EXPORT, json!({ "sessionId": session.id, "format": "docx" })).await.unwrap_err();
    assert_eq!(bad.code, error_code::INVALID_PARAMS);
}
