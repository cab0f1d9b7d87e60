//! The edges of the Agent Client Protocol as Arbor's client speaks them, driven through the real
//! binary with the scripted agent configured as an `acpAgents` entry (so its capabilities are
//! its own, not the built-in agent's): `session/close` on stop and delete, `session/fork` behind
//! Arbor's fork, terminals run through Arbor, `session_info_update`, `available_commands_update`,
//! `usage_update`, `elicitation/create`, `tool_call_update` details, `current_mode_update` and
//! `config_option_update`, logins (`authMethods`, `auth_required`, `authenticate`), and resume
//! refused to an agent that cannot load sessions.

use std::path::{Path, PathBuf};
use std::time::Duration;

use arbor_protocol::{QuestionAction, ResolvedBy, SessionEvent, TitleSource, ToolCallContent, ToolKind, method};
use arbor_tests::{Client, Server, TestEnv, arbor_bin, pids_working_in};
use serde_json::{Value, json};

/// The configured agents, all the scripted agent following `script`: `edge` (offers
/// `session/close` and `session/fork`), `noload` (offers no `loadSession`), `moded` (offers modes
/// and a model option), `locked` (needs a login), and `missing`, whose command does not exist.
struct EdgeAgents {
    state_dir: PathBuf,
    server: Server,
}

async fn edge_agents(env: &TestEnv, script: &str) -> EdgeAgents {
    let root = env.data_dir().parent().expect("the data directory has a parent").join("edge-agent");
    let state_dir = root.join("state");
    std::fs::create_dir_all(&state_dir).unwrap();
    let script_file = root.join("edge.script");
    std::fs::write(&script_file, script).unwrap();
    let command = |flags: &[&str]| {
        let mut command = vec![
            arbor_bin().display().to_string(),
            "scripted-agent".into(),
            "--state-dir".into(),
            state_dir.display().to_string(),
            "--script".into(),
            script_file.display().to_string(),
        ];
        command.extend(flags.iter().map(|flag| flag.to_string()));
        command
    };
    env.write_config(json!({ "acpAgents": {
        "edge": { "name": "Edge agent", "command": command(&["--close", "--fork"]) },
        "noload": { "name": "Forgetful agent", "command": command(&["--no-load-session"]) },
        "moded": { "name": "Moded agent", "command": command(&["--modes"]) },
        "locked": { "name": "Locked agent", "command": command(&["--require-auth"]) },
        "missing": { "name": "Missing agent", "command": ["arbor-test-no-such-agent"] },
    } }));
    EdgeAgents { state_dir, server: env.standalone().await }
}

impl EdgeAgents {
    fn client(&mut self) -> &mut Client {
        &mut self.server.client
    }

    /// What the agent has stored of its conversation `agent_session_id`.
    fn conversation(&self, agent_session_id: &str) -> Value {
        let text = std::fs::read_to_string(self.state_dir.join(format!("{agent_session_id}.json"))).unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

/// What `agents/list` says of `id`.
async fn listed(client: &Client, id: &str) -> Value {
    let agents = client.call(method::AGENTS_LIST, Value::Null).await;
    agents["agents"].as_array().unwrap().iter().find(|agent| agent["id"] == id).unwrap().clone()
}

/// Starts a session of `agent` in `repo` with `prompt` and waits for its first turn.
async fn first_turn(client: &mut Client, repo: &Path, agent: &str, prompt: &str, config: Value) -> uuid::Uuid {
    let session = client.agent_session(repo, agent, None, config).await;
    client.prompt_and_wait(session.id, prompt, 1).await;
    session.id
}

#[tokio::test]
async fn an_agent_that_offers_close_closes_its_session_on_stop_and_delete_and_resumes_after() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut edge = edge_agents(&env, "say one\nturn\nsay two: {prompt}\n").await;
    let client = edge.client();
    let id = first_turn(client, &repo, "edge", "hello", json!({})).await;
    let agent_session_id = client.get(id).await.agent_session_id.expect("the agent's id is kept");

    client.call(method::SESSION_STOP, json!({ "sessionId": id })).await;
    assert_eq!(edge.conversation(&agent_session_id)["closes"], 1, "stop closes the agent's session first");

    let client = edge.client();
    client.resume_and_wait(id, "again", 2).await;
    assert!(client.reply_text(id).ends_with("two: again"), "{}", client.reply_text(id));

    client.call(method::SESSION_DELETE, json!({ "sessionId": id, "force": true })).await;
    assert_eq!(edge.conversation(&agent_session_id)["closes"], 2, "delete closes it too");
}

#[tokio::test]
async fn a_fork_of_a_session_whose_agent_can_fork_continues_the_agents_conversation() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut edge = edge_agents(&env, "say first turn\nturn\nsay second turn: {prompt}\n").await;
    let client = edge.client();
    let parent = first_turn(client, &repo, "edge", "hello", json!({})).await;
    let listed = listed(client, "edge").await;
    assert_eq!(listed["capabilities"]["fork"], true, "{listed}");

    let fork = client.call(method::SESSION_FORK, json!({ "sessionId": parent, "prompt": "carry on" })).await;
    let fork_id: uuid::Uuid = serde_json::from_value(fork["id"].clone()).unwrap();
    client.subscribe(fork_id, 0).await;
    // The history copied from the parent ends at its checkpoint, before the turn's end.
    client.wait_turns(fork_id, 1).await;
    let reply = client.reply_text(fork_id);
    assert!(reply.ends_with("second turn: carry on"), "the fork continues the conversation: {reply}");
    let forked =
        |event: &SessionEvent| matches!(event, SessionEvent::Notice { message } if message.starts_with("Forked from"));
    let notice = client.wait_event(fork_id, forked).await;
    assert!(
        matches!(&notice.event, SessionEvent::Notice { message } if message.contains("forks the parent's conversation")),
        "{notice:?}"
    );
    let forked_id = client.get(fork_id).await.agent_session_id.expect("the fork's own conversation id");
    assert_ne!(Some(forked_id), client.get(parent).await.agent_session_id, "a new conversation, not the parent's");
}

#[tokio::test]
async fn an_agent_without_load_session_is_not_offered_resume_and_resuming_it_is_refused_clearly() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut edge = edge_agents(&env, "say one\n").await;
    let client = edge.client();
    let id = first_turn(client, &repo, "noload", "hello", json!({})).await;
    let listed = listed(client, "noload").await;
    assert_eq!(listed["capabilities"]["resume"], false, "{listed}");

    client.call(method::SESSION_STOP, json!({ "sessionId": id })).await;
    let refused = client.try_call(method::SESSION_RESUME, json!({ "sessionId": id })).await.unwrap_err();
    assert_eq!(refused.code, arbor_protocol::error_code::INVALID_SESSION_STATE, "{refused:?}");
    assert!(refused.message.contains("cannot resume a conversation"), "{}", refused.message);
    assert_eq!(client.get(id).await.status, arbor_protocol::SessionStatus::Stopped, "nothing changed");
}

/// The output of the terminal shown in tool call `tool_call_id`, in every update that carried it.
fn terminal_outputs(client: &Client, tool_call_id: &str) -> Vec<(String, Option<i32>)> {
    client
        .events
        .iter()
        .filter_map(|event| match &event.event {
            SessionEvent::ToolCallUpdate { tool_call_id: id, content: Some(content), .. } if id == tool_call_id => {
                content.iter().find_map(|item| match item {
                    ToolCallContent::Terminal { output, exit_code } => Some((output.clone(), *exit_code)),
                    _ => None,
                })
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn terminals_run_in_the_worktree_stream_their_output_bounded_and_are_killed_on_cancel() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let script = "terminal pwd\n\
                  terminal for i in 1 2 3 4; do echo line-$i; sleep 0.4; done\n\
                  terminal limit=64 seq 1 1000\n\
                  turn\n\
                  terminal sleep 30\n";
    let mut edge = edge_agents(&env, script).await;
    let client = edge.client();
    let session = client.agent_session(&repo, "edge", None, json!({})).await;
    client.prompt_and_wait(session.id, "run them", 1).await;

    let pwd = terminal_outputs(client, "tool-1-1");
    let worktree = Path::new(&session.cwd).canonicalize().unwrap();
    assert_eq!(pwd.last().unwrap(), &(format!("{}\n", worktree.display()), Some(0)), "run in the worktree");

    let live = terminal_outputs(client, "tool-1-2");
    assert!(
        live.iter().any(|(output, code)| output.contains("line-1") && !output.contains("line-4") && code.is_none()),
        "the output streams while the command runs: {live:?}"
    );
    assert_eq!(live.last().unwrap().0, "line-1\nline-2\nline-3\nline-4\n");

    let bounded = terminal_outputs(client, "tool-1-3");
    let (output, _) = bounded.last().unwrap();
    assert!(output.len() <= 64 && output.ends_with("999\n1000\n"), "the latest 64 bytes are kept: {output:?}");
    assert!(client.reply_text(session.id).contains("printed 64 bytes"), "{}", client.reply_text(session.id));

    client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "wait" })).await;
    client
        .wait_event(
            session.id,
            |event| matches!(event, SessionEvent::ToolCall { title, .. } if title == "Run sleep 30"),
        )
        .await;
    client.call(method::SESSION_CANCEL, json!({ "sessionId": session.id })).await;
    client.wait_turns_within(session.id, 2, Duration::from_secs(10)).await;
    arbor_tests::wait_until("the cancelled command ends", || {
        pids_working_in(&worktree).iter().all(|pid| {
            !std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains("sleep"))
        })
    })
    .await;
}

#[tokio::test]
async fn a_title_commands_context_use_and_late_tool_details_from_the_agent_reach_the_session() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    std::fs::write(repo.join("notes.txt"), "notes\n").unwrap();
    let script = "title Fixing the login\n\
                  commands /review: Review the changes | test: Run the tests\n\
                  context 1200 200000\n\
                  late-details notes.txt\n\
                  say done\n\
                  turn\n\
                  title A title nobody asked for\n\
                  say again\n";
    let mut edge = edge_agents(&env, script).await;
    let client = edge.client();
    let id = first_turn(client, &repo, "edge", "fix the login", json!({})).await;
    let session = client.get(id).await;
    assert_eq!(session.title.as_deref(), Some("Fixing the login"));
    assert_eq!(session.title_source, Some(TitleSource::Auto), "the agent's title replaces the prompt's");

    let commands = client.wait_event(id, |event| matches!(event, SessionEvent::AvailableCommands { .. })).await;
    let SessionEvent::AvailableCommands { commands } = commands.event else { unreachable!() };
    let names: Vec<&str> = commands.iter().map(|command| command.name.as_str()).collect();
    assert_eq!(names, ["review", "test"]);
    assert_eq!(commands[0].description, "Review the changes");
    let context = client.wait_event(id, |event| matches!(event, SessionEvent::ContextUsage { .. })).await;
    assert!(matches!(context.event, SessionEvent::ContextUsage { used: 1200, size: 200000, .. }), "{context:?}");

    let update = client
        .wait_event(
            id,
            |event| matches!(event, SessionEvent::ToolCallUpdate { details, .. } if details.tool_kind.is_some()),
        )
        .await;
    let SessionEvent::ToolCallUpdate { details, title, .. } = update.event else { unreachable!() };
    assert_eq!(details.tool_kind, Some(ToolKind::Read));
    assert_eq!(details.locations, Some(vec!["notes.txt".to_string()]), "paths relative to the worktree");
    assert!(details.raw_input.unwrap()["file_path"].as_str().unwrap().ends_with("notes.txt"));
    assert_eq!(title.as_deref(), Some("Read notes.txt"));

    client.call(method::SESSION_CONFIGURE, json!({ "sessionId": id, "title": "Mine" })).await;
    client.prompt_and_wait(id, "more", 2).await;
    let session = client.get(id).await;
    assert_eq!((session.title.as_deref(), session.title_source), (Some("Mine"), Some(TitleSource::User)));
}

#[tokio::test]
async fn an_elicitation_is_a_question_answered_from_the_protocol_and_deny_rules_decline_it() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let script = "elicit Which ticket is this for?\nturn\nelicit What is your password?\n";
    let mut edge = edge_agents(&env, script).await;
    let client = edge.client();
    let rules = json!([{ "kind": "other", "pattern": "*password*", "action": "deny" }]);
    let result = client.call(method::SESSION_NEW, json!({ "cwd": repo, "agent": "edge", "permissions": rules })).await;
    let id: uuid::Uuid = serde_json::from_value(result["id"].clone()).unwrap();
    client.subscribe(id, 0).await;
    client.wait_status(id, |status| status == arbor_protocol::SessionStatus::Running).await;
    client.call(method::SESSION_PROMPT, json!({ "sessionId": id, "text": "file it" })).await;

    let asked = client.wait_event(id, |event| matches!(event, SessionEvent::Question { .. })).await;
    let SessionEvent::Question { request_id, message, schema, .. } = asked.event else { unreachable!() };
    assert_eq!(message, "Which ticket is this for?");
    assert_eq!(schema["properties"]["answer"]["type"], "string");
    let waiting = Some(arbor_protocol::AgentState::WaitingInput);
    client
        .wait_event(
            id,
            |event| matches!(event, SessionEvent::StatusChanged { agent_state, .. } if *agent_state == waiting),
        )
        .await;

    let bad = json!({ "sessionId": id, "requestId": request_id, "optionId": "maybe" });
    let refused = client.try_call(method::SESSION_RESPOND, bad).await.unwrap_err();
    assert_eq!(refused.code, arbor_protocol::error_code::INVALID_ARGUMENT, "{refused:?}");
    let answer =
        json!({ "sessionId": id, "requestId": request_id, "optionId": "accept", "content": { "answer": "ARB-12" } });
    client.call(method::SESSION_RESPOND, answer).await;
    client.wait_turns(id, 1).await;
    assert!(client.reply_text(id).contains("You answered: ARB-12"), "{}", client.reply_text(id));

    client.prompt_and_wait(id, "log in", 2).await;
    let declined = client
        .wait_event(id, |event| matches!(event, SessionEvent::QuestionAnswered { by: Some(ResolvedBy::Policy), .. }))
        .await;
    assert!(matches!(declined.event, SessionEvent::QuestionAnswered { action: QuestionAction::Decline, .. }));
    assert!(client.reply_text(id).ends_with("You declined to answer. "), "{}", client.reply_text(id));
}

#[tokio::test]
async fn install_hints_are_given_only_for_missing_agents_and_empty_chunks_are_not_stored() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut edge = edge_agents(&env, "empty-chunks\nthink hmm\nsay hello there\nempty-chunks\n").await;
    let client = edge.client();
    for available in ["edge", "scripted"] {
        let agent = listed(client, available).await;
        assert!(agent["available"] == true && agent["installHint"].is_null(), "{agent}");
    }
    let missing = listed(client, "missing").await;
    assert_eq!(missing["available"], false, "{missing}");
    let hint = missing["installHint"].as_str().unwrap_or_default();
    assert!(hint.contains("`arbor-test-no-such-agent` was not found on PATH"), "{missing}");

    let id = first_turn(client, &repo, "edge", "hi", json!({})).await;
    let stored = client.call(method::SESSION_EVENTS, json!({ "sessionId": id })).await;
    let stored: arbor_protocol::EventsResult = serde_json::from_value(stored).unwrap();
    let chunks: Vec<&str> = stored
        .events
        .iter()
        .filter_map(|event| match &event.event {
            SessionEvent::AgentMessageChunk { text } | SessionEvent::AgentThoughtChunk { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(chunks.concat(), "hmmhello there", "{chunks:?}");
    assert!(chunks.iter().all(|text| !text.is_empty()), "no empty chunk is stored: {chunks:?}");
}

/// Waits until the session shows the agent's mode and model as `expected`.
async fn wait_settings(client: &Client, id: uuid::Uuid, expected: (&str, &str)) {
    let mut shown = (None, None);
    for _ in 0..100 {
        let session = client.get(id).await;
        shown = (session.agent_mode, session.agent_model);
        if (shown.0.as_deref(), shown.1.as_deref()) == (Some(expected.0), Some(expected.1)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the session shows {shown:?}, not {expected:?}");
}

#[tokio::test]
async fn the_agents_own_switches_of_mode_and_model_show_on_the_session_and_in_its_log() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let script =
        "mode acceptEdits\nmodel scripted-small\nsay switched\nturn\nask Write it\nwrite free.txt <<EOF\nfree\nEOF\n";
    let mut edge = edge_agents(&env, script).await;
    let client = edge.client();
    let ask = json!({ "permissionMode": "ask" });
    let session = client.agent_session(&repo, "moded", Some("scripted-large"), ask).await;
    wait_settings(client, session.id, ("default", "scripted-large")).await;

    client.prompt_and_wait(session.id, "go", 1).await;
    wait_settings(client, session.id, ("acceptEdits", "scripted-small")).await;
    let notices: Vec<String> = client
        .events
        .iter()
        .filter_map(|event| match &event.event {
            SessionEvent::Notice { message } if message.contains("switched to") => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        notices,
        ["moded switched to mode `acceptEdits`", "moded switched to model `scripted-small`"],
        "the log says what the agent switched to"
    );

    let bypass = json!({ "sessionId": session.id, "permissionMode": "bypass_permissions" });
    client.call(method::SESSION_CONFIGURE, bypass).await;
    wait_settings(client, session.id, ("bypassPermissions", "scripted-small")).await;
    client.prompt_and_wait(session.id, "write", 2).await;
    assert_eq!(std::fs::read_to_string(Path::new(&session.cwd).join("free.txt")).unwrap(), "free\n");
    assert!(!client.events.iter().any(|event| matches!(event.event, SessionEvent::PermissionRequest { .. })));
}

#[tokio::test]
async fn an_agent_that_needs_a_login_says_how_and_logs_in_through_agents_authenticate() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut edge = edge_agents(&env, "say one\nturn\nsay two\n").await;
    let client = edge.client();
    let result = client.call(method::SESSION_NEW, json!({ "cwd": repo, "agent": "locked", "prompt": "hello" })).await;
    let id: uuid::Uuid = serde_json::from_value(result["id"].clone()).unwrap();
    client.subscribe(id, 0).await;
    let failed = client.wait_status(id, |status| !status.is_live()).await;
    assert_eq!(failed.status, arbor_protocol::SessionStatus::Failed);
    let error = client.wait_event(id, |event| matches!(event, SessionEvent::Error { fatal: true, .. })).await;
    let SessionEvent::Error { message, .. } = error.event else { unreachable!() };
    assert!(
        message.starts_with("Locked agent needs you to log in (session/new: Authentication required)"),
        "{message}"
    );
    assert!(message.contains("Terminal login (Logs in interactively): run `"), "{message}");
    assert!(message.contains("--require-auth --login` in a terminal"), "the agent's own login command: {message}");
    assert!(message.contains("Built-in token (The agent logs itself in): log in through Arbor with agents/authenticate, methodId `scripted-token`"), "{message}");

    let login = |method_id: &str| json!({ "agent": "locked", "methodId": method_id });
    let refused = client.try_call(method::AGENTS_AUTHENTICATE, login("scripted-login")).await.unwrap_err();
    assert_eq!(refused.code, arbor_protocol::error_code::INVALID_ARGUMENT, "{refused:?}");
    let needs_you = refused.message.starts_with("Locked agent's Terminal login is not a login Arbor can do for you");
    assert!(needs_you && refused.message.ends_with("--login` in a terminal"), "{}", refused.message);
    let unknown = client.try_call(method::AGENTS_AUTHENTICATE, login("password")).await.unwrap_err();
    assert!(unknown.message.contains("offers no login method `password`"), "{}", unknown.message);
    let credentials = edge.state_dir.join("credentials");
    assert!(!credentials.exists(), "a refused login changes nothing");

    let client = edge.client();
    client.call(method::AGENTS_AUTHENTICATE, login("scripted-token")).await;
    assert!(credentials.exists(), "the agent logged itself in");
    client.resume_and_wait(id, "again", 1).await;
    assert_eq!(client.reply_text(id), "one");

    // A turn refused for a login says how to log in, and the session carries on.
    std::fs::remove_file(&credentials).unwrap();
    client.prompt_and_wait(id, "more", 2).await;
    let refused = client
        .wait_event(
            id,
            |event| matches!(event, SessionEvent::Error { message, fatal: false } if message.contains("log in")),
        )
        .await;
    let SessionEvent::Error { message, fatal } = refused.event else { unreachable!() };
    assert!(!fatal && message.contains("agents/authenticate") && message.ends_with("then prompt again"), "{message}");
    assert_eq!(client.get(id).await.status, arbor_protocol::SessionStatus::Running);
}
