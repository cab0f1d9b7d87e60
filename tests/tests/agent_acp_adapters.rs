//! The Claude and Codex ACP adapters from npm (`@agentclientprotocol/claude-agent-acp`,
//! `@agentclientprotocol/codex-acp`, and the core cases also against their predecessors
//! `@zed-industries/claude-agent-acp` and `@zed-industries/codex-acp`), configured as `acpAgents`
//! and driven through Arbor offline against the mock model API: the session's permission mode and
//! model reach them, and what `agents/list` says of them comes from their own `initialize` answer;
//! their slash commands, usage and cost show on the session, an interrupt leaves them running,
//! and Codex's conversation carries over a resume and into a fork. The current adapters, which
//! offer `sessionCapabilities.systemPrompt`, get the session's system prompt and a profile's
//! memory in it rather than in the first prompt; the older Claude adapter is refused one.

use std::path::{Path, PathBuf};

use arbor_protocol::{SessionEvent, method};
use arbor_tests::agent_turns::{
    ApiShape, answer_to, interrupt_keeps_the_agent, offered_commands, priced, tokens, turn_usage,
};
use arbor_tests::agents::{
    AdapterLine, assert_sandboxed_as_auto, claude_bash, claude_write, codex_shell, codex_write, conversation,
    last_user_turn,
};
use arbor_tests::mock_api::MockApi;
use arbor_tests::{Client, Server, TestEnv};
use serde_json::{Value, json};

/// A server with both adapters configured against a mock model API that plays `conversation`
/// with the given write and shell tools.
struct Adapters {
    /// Kept for the test's scratch directory, which goes with it.
    _env: TestEnv,
    repo: PathBuf,
    mock: MockApi,
    server: Server,
}

async fn adapters(
    line: AdapterLine,
    write: fn(&Path, &str) -> (String, Value),
    shell: fn(&str) -> (String, Value),
) -> Adapters {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mock = MockApi::start(conversation(env.data_dir().join("worktrees"), write, shell)).await;
    env.configure_acp_adapters(&mock.url, line);
    let server = env.standalone().await;
    Adapters { _env: env, repo, mock, server }
}

/// The requests to the model API at `path` whose latest user turn says `prompt`.
fn turns_saying(mock: &MockApi, path: &str, prompt: &str) -> Vec<Value> {
    mock.requests_to(path)
        .iter()
        .filter(|request| last_user_turn(request).0.contains(prompt))
        .map(|request| request.body.clone())
        .collect()
}

/// Stops the session (the adapter closes its session first) and resumes it with a prompt as its
/// `nth` turn, whose model request at `path` must carry `earlier` from the conversation before.
async fn stop_and_resume(
    client: &mut Client,
    mock: &MockApi,
    session_id: uuid::Uuid,
    path: &str,
    nth: usize,
    earlier: &str,
) {
    let stopped = client.call(method::SESSION_STOP, json!({ "sessionId": session_id })).await;
    assert_eq!(stopped["status"], "stopped", "the adapter closed its session and stopped: {stopped}");
    client.resume_and_wait(session_id, "what came before", nth).await;
    let resumed = turns_saying(mock, path, "what came before");
    assert!(
        resumed.iter().any(|body| body.to_string().contains(earlier)),
        "the resumed turn carries the earlier ones: {resumed:?}"
    );
}

/// How many non-empty message chunks the client has seen.
fn message_chunks(client: &Client) -> usize {
    let chunk = |event: &SessionEvent| matches!(event, SessionEvent::AgentMessageChunk { text } if !text.is_empty());
    client.events.iter().filter(|event| chunk(&event.event)).count()
}

/// Waits until `agents/list` reports `id` with the version its `initialize` answer gives.
/// Adds `profile` to the config file as the profile `helper`, with a memory file, a system prompt
/// and `bypass_permissions`; starts the server; checks that the profile's agent takes
/// `systemPrompt` (as its initialize answer says); and runs a session of the profile, prompted
/// "hello there", to the end of its first turn.
async fn first_turn_from_profile(env: &TestEnv, repo: &Path, mut profile: Value) -> (Server, uuid::Uuid) {
    let memory = env.root.join("helper-memory.md");
    std::fs::write(&memory, "- The tests run with `make test`.\n").unwrap();
    profile["memory"] = json!(memory);
    profile["config"] = json!({ "permissionMode": "bypass_permissions", "systemPrompt": "Speak like a pirate." });
    let agent_id = profile["agent"].as_str().expect("the profile's agent").to_string();
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(env.config_file()).unwrap()).unwrap();
    config["profiles"] = json!({ "helper": profile });
    env.write_config(config);
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let agent = listed(client, &agent_id).await;
    assert_eq!(agent["capabilities"]["settings"], json!(["systemPrompt"]), "from its initialize answer: {agent}");
    let session =
        client.call(method::SESSION_NEW, json!({ "cwd": repo, "profile": "helper", "prompt": "hello there" })).await;
    let id: uuid::Uuid = serde_json::from_value(session["id"].clone()).unwrap();
    client.subscribe(id, 0).await;
    client.wait_turns(id, 1).await;
    (server, id)
}

async fn listed(client: &Client, id: &str) -> Value {
    let mut found = Value::Null;
    // The adapters start in the background with the server; under load that takes a while.
    for _ in 0..600 {
        let agents = client.call(method::AGENTS_LIST, Value::Null).await;
        found = agents["agents"].as_array().unwrap().iter().find(|agent| agent["id"] == id).cloned().unwrap();
        if found["version"].is_string() {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("agents/list never reported {id}'s version: {found}");
}

/// Asks for a write in `ask` mode: the agent asks, nothing is written before the answer, and
/// the file is written once allowed.
async fn write_asks_and_waits(client: &mut Client, session_id: uuid::Uuid, worktree: &Path) {
    client.call(method::SESSION_PROMPT, json!({ "sessionId": session_id, "text": "write asked.txt yes" })).await;
    let asked = client.wait_event(session_id, |event| matches!(event, SessionEvent::PermissionRequest { .. })).await;
    let SessionEvent::PermissionRequest { request_id, options, .. } = asked.event else { unreachable!() };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!worktree.join("asked.txt").exists(), "nothing is written before the answer");
    let allow = options.iter().find(|option| option.option_id.contains("allow") || option.name.contains("Allow"));
    let allow = allow.or(options.first()).expect("an option").option_id.clone();
    client
        .call(method::SESSION_RESPOND, json!({ "sessionId": session_id, "requestId": request_id, "optionId": allow }))
        .await;
    client.wait_turns(session_id, 1).await;
    assert_eq!(std::fs::read_to_string(worktree.join("asked.txt")).unwrap(), "yes\n");
}

/// A test of `case` for each release line of the adapters: `current` for the `@agentclientprotocol`
/// packages, `legacy` for their `@zed-industries` predecessors.
macro_rules! on_both_lines {
    ($case:ident: $current:ident, $legacy:ident) => {
        #[tokio::test]
        async fn $current() {
            $case(AdapterLine::Current).await
        }

        #[tokio::test]
        async fn $legacy() {
            $case(AdapterLine::Legacy).await
        }
    };
}

on_both_lines!(claude_asks_and_runs_the_model: the_claude_adapter_asks_in_ask_mode_runs_the_chosen_model_and_reports_itself,
    the_older_claude_adapter_asks_in_ask_mode_runs_the_chosen_model_and_reports_itself);
on_both_lines!(claude_bypasses: the_claude_adapter_does_not_ask_in_bypass_mode_and_changes_mode_mid_session,
    the_older_claude_adapter_does_not_ask_in_bypass_mode_and_changes_mode_mid_session);
on_both_lines!(codex_asks_and_streams: the_codex_adapter_asks_in_ask_mode_and_streams_its_messages,
    the_older_codex_adapter_asks_in_ask_mode_and_streams_its_messages);
on_both_lines!(claude_resumes_and_forks: the_claude_adapter_keeps_its_conversation_over_stop_and_resume_and_a_fork_carries_it_on,
    the_older_claude_adapter_keeps_its_conversation_over_stop_and_resume);

async fn claude_asks_and_runs_the_model(line: AdapterLine) {
    let Adapters { _env, repo, mock, mut server } = adapters(line, claude_write, claude_bash).await;
    let client = &mut server.client;
    let agent = listed(client, "claude-acp").await;
    assert_eq!(agent["version"], line.claude_version(), "{agent}");
    assert_eq!(agent["capabilities"]["resume"], true, "it offers loadSession");
    assert!(agent["installHint"].is_null(), "{agent}");
    if line == AdapterLine::Legacy {
        // claude-agent-acp 0.23.1 offers no sessionCapabilities.systemPrompt, so it is refused one.
        assert_eq!(agent["capabilities"]["settings"], json!([]), "{agent}");
        let config = json!({ "systemPrompt": "Speak like a pirate." });
        let refused = client
            .try_call(method::SESSION_NEW, json!({ "cwd": repo, "agent": "claude-acp", "config": config }))
            .await
            .expect_err("a system prompt the agent would ignore is refused");
        assert_eq!(refused.code, -33008, "{refused:?}");
        assert!(refused.message.contains("does not take config.systemPrompt"), "{refused:?}");
    }

    let session = client.agent_session(&repo, "claude-acp", Some("haiku"), json!({ "permissionMode": "ask" })).await;
    write_asks_and_waits(client, session.id, Path::new(&session.cwd)).await;
    let models: Vec<String> = mock
        .requests_to("/v1/messages")
        .iter()
        .filter_map(|request| request.body["model"].as_str().map(str::to_string))
        .collect();
    assert!(!models.is_empty() && models.iter().all(|model| model.contains("haiku")), "{models:?}");
    let shown = client.get(session.id).await;
    assert_eq!(shown.agent_mode.as_deref(), Some("default"), "the adapter's asking mode, not its own auto");
    assert_eq!(shown.agent_model.as_deref(), Some("haiku"));
}

async fn claude_bypasses(line: AdapterLine) {
    let Adapters { _env, repo, mock: _mock, mut server } = adapters(line, claude_write, claude_bash).await;
    let client = &mut server.client;
    let session =
        client.agent_session(&repo, "claude-acp", None, json!({ "permissionMode": "bypass_permissions" })).await;
    client.prompt_and_wait(session.id, "write free.txt no questions", 1).await;
    let worktree = Path::new(&session.cwd);
    assert_eq!(std::fs::read_to_string(worktree.join("free.txt")).unwrap(), "no questions\n");
    assert!(!client.events.iter().any(|event| matches!(event.event, SessionEvent::PermissionRequest { .. })));
    assert_eq!(client.get(session.id).await.agent_mode.as_deref(), Some("bypassPermissions"));

    // session/configure carries a new mode to the running agent, which then asks.
    client.call(method::SESSION_CONFIGURE, json!({ "sessionId": session.id, "permissionMode": "ask" })).await;
    let mut mode = None;
    for _ in 0..100 {
        mode = client.get(session.id).await.agent_mode;
        if mode.as_deref() == Some("default") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(mode.as_deref(), Some("default"), "the agent reports its new mode");
    client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "write later.txt asked" })).await;
    client.wait_event(session.id, |event| matches!(event, SessionEvent::PermissionRequest { .. })).await;
}

async fn codex_asks_and_streams(line: AdapterLine) {
    let Adapters { _env, repo, mock, mut server } = adapters(line, codex_write, codex_shell).await;
    let client = &mut server.client;
    let agent = listed(client, "codex-acp").await;
    assert_eq!(agent["version"], line.codex_version(), "{agent}");

    // Sandboxed although in ask mode (whose default is none), as an unattended trial would be.
    let config = json!({ "permissionMode": "ask", "sandbox": "auto" });
    let session = client.agent_session(&repo, "codex-acp", Some("gpt-5.5"), config).await;
    assert_sandboxed_as_auto(client, &session).await;
    assert_eq!(client.get(session.id).await.agent_mode.as_deref(), Some("read-only"));
    write_asks_and_waits(client, session.id, Path::new(&session.cwd)).await;
    client.prompt_and_wait(session.id, "hello there", 2).await;
    let chunks = message_chunks(client);
    assert!(chunks > 2, "messages stream in chunks ({chunks})");
    assert!(client.reply_text(session.id).ends_with("Echo: hello there"), "{}", client.reply_text(session.id));
    // Codex also asks a small model for side jobs (such as a title): the turns' requests count.
    let models: Vec<Value> =
        turns_saying(&mock, "/v1/responses", "hello there").iter().map(|body| body["model"].clone()).collect();
    assert!(!models.is_empty() && models.iter().all(|model| model == "gpt-5.5"), "{models:?}");
}

async fn claude_resumes_and_forks(line: AdapterLine) {
    let Adapters { _env, repo, mock, mut server } = adapters(line, claude_write, claude_bash).await;
    let client = &mut server.client;
    let agent = listed(client, "claude-acp").await;
    assert_eq!(agent["capabilities"]["fork"], true, "it offers session/fork: {agent}");
    let bypass = json!({ "permissionMode": "bypass_permissions" });
    let session = client.agent_session(&repo, "claude-acp", None, bypass).await;
    client.prompt_and_wait(session.id, "remember the word tangerine", 1).await;
    stop_and_resume(client, &mock, session.id, "/v1/messages", 2, "tangerine").await;

    if line == AdapterLine::Legacy {
        // claude-agent-acp 0.23.1 offers session/fork but looks the parent up under the fork's
        // directory, and Arbor's fork has a worktree of its own: it answers "Resource not found".
        return;
    }
    let fork = client.call(method::SESSION_FORK, json!({ "sessionId": session.id, "prompt": "and in the fork" })).await;
    let fork_id: uuid::Uuid = serde_json::from_value(fork["id"].clone()).unwrap();
    client.subscribe(fork_id, 0).await;
    // The copy of the parent's history ends at its last checkpoint, after its first turn's end.
    client.wait_turns(fork_id, 2).await;
    let forked = turns_saying(&mock, "/v1/messages", "and in the fork");
    assert!(
        forked.iter().any(|body| body["messages"].to_string().contains("tangerine")),
        "the fork continues the conversation: {forked:?}"
    );
    assert_ne!(client.get(fork_id).await.agent_session_id, client.get(session.id).await.agent_session_id);
}

#[tokio::test]
async fn the_built_in_codex_agent_asks_in_ask_mode_through_the_codex_adapter() {
    let Adapters { _env, repo, mock: _mock, mut server } =
        adapters(AdapterLine::Current, codex_write, codex_shell).await;
    let client = &mut server.client;
    let agents = client.call(method::AGENTS_LIST, Value::Null).await;
    let codex = agents["agents"].as_array().unwrap().iter().find(|agent| agent["id"] == "codex").unwrap().clone();
    assert_eq!(codex["capabilities"]["permissions"], true, "with the adapter, Codex can ask: {codex}");

    // Sandboxed although in ask mode (whose default is none), as an unattended trial would be.
    let config = json!({ "permissionMode": "ask", "sandbox": "auto" });
    let session = client.agent_session(&repo, "codex", Some("gpt-5.5"), config).await;
    assert_sandboxed_as_auto(client, &session).await;
    assert_eq!(client.get(session.id).await.agent_mode.as_deref(), Some("read-only"), "the adapter's asking mode");
    write_asks_and_waits(client, session.id, Path::new(&session.cwd)).await;
    client.prompt_and_wait(session.id, "hello there", 2).await;
    assert!(message_chunks(client) > 2, "its messages stream in chunks ({})", message_chunks(client));
    assert!(client.reply_text(session.id).ends_with("Echo: hello there"), "{}", client.reply_text(session.id));
}

/// The Claude adapter's session: a custom command of the repository's (`.claude/commands/`) is
/// offered and expanded by Claude Code; a turn's tokens are the mock's and its cost is the one
/// the adapter reports; a slow reply is interrupted and the adapter takes the next prompt.
async fn claude_turns(line: AdapterLine) {
    let Adapters { _env, repo, mock, mut server } = adapters(line, claude_write, claude_bash).await;
    _env.commit_files(&repo, &[(".claude/commands/shout.md", "Say the word $ARGUMENTS in capitals\n")], "a command");
    let client = &mut server.client;
    let session = client
        .agent_session(&repo, "claude-acp", Some("haiku"), json!({ "permissionMode": "bypass_permissions" }))
        .await;
    let commands = offered_commands(client, session.id, "shout").await;
    eprintln!("MEASURE commands {:?}", commands.iter().map(|command| &command.name).collect::<Vec<_>>());

    let usage = turn_usage(client, &mock, ApiShape::Anthropic, session.id, "count my tokens", 1).await;
    eprintln!("MEASURE usage {usage:?}");
    assert_eq!(tokens(&usage.turn), ApiShape::Anthropic.usage_of(usage.requests), "{usage:?}");
    assert!(usage.total.cost_usd > 0.0 && !usage.total.cost_estimated, "the adapter's own cost: {usage:?}");
    let reported = usage.reported_cost.expect("the adapter reports its running cost");
    assert!((usage.total.cost_usd - reported).abs() < 1e-9, "{usage:?}");

    let answer = answer_to(client, session.id, "/shout tangerine", 2).await;
    eprintln!("MEASURE shout {answer:?}");
    assert!(
        answer.ends_with("Echo: Say the word tangerine in capitals"),
        "Claude Code expanded the command: {answer:?}"
    );

    interrupt_keeps_the_agent(client, session.id, 3, line == AdapterLine::Legacy).await;
}

/// The Codex adapter's session: its commands are offered and one runs (`/status` in the adapter,
/// `/init` as a Codex turn in the older one); a turn's tokens are the mock's and its cost Arbor's
/// estimate; a slow reply is interrupted and the adapter takes the next prompt; the conversation
/// carries over stop and resume, and into a fork where the adapter offers one.
async fn codex_turns(line: AdapterLine) {
    let Adapters { _env, repo, mock, mut server } = adapters(line, codex_write, codex_shell).await;
    let client = &mut server.client;
    let agent = listed(client, "codex-acp").await;
    eprintln!("MEASURE agent {agent}");
    let bypass = json!({ "permissionMode": "bypass_permissions" });
    let session = client.agent_session(&repo, "codex-acp", Some("gpt-5.5"), bypass).await;
    let command = if line == AdapterLine::Current { "status" } else { "init" };
    let commands = offered_commands(client, session.id, command).await;
    eprintln!("MEASURE commands {:?}", commands.iter().map(|command| &command.name).collect::<Vec<_>>());

    let usage = turn_usage(client, &mock, ApiShape::OpenAi, session.id, "count my tokens", 1).await;
    eprintln!("MEASURE usage {usage:?}");
    if line == AdapterLine::Legacy {
        assert_eq!(usage.usage_events, 0, "{usage:?}");
    } else {
        assert_eq!(tokens(&usage.turn), ApiShape::OpenAi.usage_of(usage.requests), "{usage:?}");
        // gpt-5.5 is priced as gpt-5 in the shipped table (server/src/pricing.rs).
        let estimate = priced(&usage.turn, [1.25, 10.0, 0.125, 1.25]);
        assert!(usage.total.cost_estimated && (usage.turn.cost_usd - estimate).abs() < 1e-12, "{usage:?}");
    }

    let answer = answer_to(client, session.id, &format!("/{command}"), 2).await;
    if line == AdapterLine::Current {
        // The adapter answers /status itself, with the figures the session shows.
        let shown = &usage.total;
        let counted = format!(
            "**Token usage:** {} total  ({} input + {} cached input, {} output)",
            shown.input_tokens + shown.cache_read_tokens + shown.output_tokens,
            shown.input_tokens,
            shown.cache_read_tokens,
            shown.output_tokens
        );
        assert!(answer.contains("**Model:** gpt-5.5") && answer.contains(&counted), "{counted} in {answer}");
    } else {
        // /init is a Codex turn: the model is asked to write AGENTS.md.
        let asked = turns_saying(&mock, "/v1/responses", "Generate a file named AGENTS.md");
        assert_eq!(asked.len(), 1, "{answer}");
    }

    interrupt_keeps_the_agent(client, session.id, 3, false).await;

    let agent_session_id = client.get(session.id).await.agent_session_id;
    stop_and_resume(client, &mock, session.id, "/v1/responses", 5, "count my tokens").await;
    assert_eq!(client.get(session.id).await.agent_session_id, agent_session_id, "resumed by the adapter's own id");

    if line == AdapterLine::Legacy {
        assert_eq!(agent["capabilities"]["fork"], false, "codex-acp 0.16.0 offers no session/fork: {agent}");
        return;
    }
    assert_eq!(agent["capabilities"]["fork"], true, "it offers session/fork: {agent}");
    let fork = client.call(method::SESSION_FORK, json!({ "sessionId": session.id, "prompt": "and in the fork" })).await;
    let fork_id: uuid::Uuid = serde_json::from_value(fork["id"].clone()).unwrap();
    client.subscribe(fork_id, 0).await;
    // The fork's history starts with a copy of its parent's; only its own answer says "fork".
    client
        .wait_event(fork_id, |event| matches!(event, SessionEvent::AgentMessageChunk { text } if text.contains("fork")))
        .await;
    let forked = turns_saying(&mock, "/v1/responses", "and in the fork");
    assert!(
        forked.iter().any(|body| body["input"].to_string().contains("count my tokens")),
        "the fork continues the conversation: {forked:?}"
    );
    assert_ne!(client.get(fork_id).await.agent_session_id, agent_session_id);
}

on_both_lines!(claude_turns: the_claude_adapter_is_interrupted_reports_usage_and_cost_and_runs_a_custom_command,
    the_older_claude_adapter_is_interrupted_reports_usage_and_cost_and_runs_a_custom_command);
on_both_lines!(codex_turns: the_codex_adapter_is_interrupted_reports_usage_runs_a_command_resumes_and_forks,
    the_older_codex_adapter_is_interrupted_reports_usage_runs_a_command_and_resumes);

/// The Claude adapter offers `sessionCapabilities.systemPrompt`: it takes a session's
/// `config.systemPrompt`, and a profile's memory and skill listing go into that system prompt, not
/// before the user's first prompt; a resumed conversation gets them again in its system prompt.
#[tokio::test]
async fn the_claude_adapter_takes_the_system_prompt_with_the_profiles_memory_and_skills_in_it() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mock = MockApi::start(conversation(env.data_dir().join("worktrees"), claude_write, claude_bash)).await;
    env.configure_acp_adapters(&mock.url, AdapterLine::Current);
    let skill = env.root.join("skills/greeter");
    std::fs::create_dir_all(&skill).unwrap();
    std::fs::write(skill.join("SKILL.md"), "---\nname: greeter\ndescription: Greets the user in Klingon\n---\n")
        .unwrap();
    let (mut server, id) =
        first_turn_from_profile(&env, &repo, json!({ "agent": "claude-acp", "skills": [skill] })).await;
    let client = &mut server.client;
    // The turn's requests offer tools; Claude Code's side requests (such as a title) offer none.
    let assert_briefed_in_the_system_prompt = |prompt: &str| {
        let turns: Vec<_> = mock
            .requests_to("/v1/messages")
            .into_iter()
            .filter(|request| request.body["tools"].as_array().is_some_and(|tools| !tools.is_empty()))
            .filter(|request| last_user_turn(request).0.contains(prompt))
            .collect();
        assert!(!turns.is_empty(), "no model request for {prompt:?}");
        for turn in turns {
            let system = turn.body["system"].to_string();
            assert!(system.contains("Speak like a pirate."), "the config's system prompt: {system}");
            assert!(system.contains("The tests run with `make test`."), "the memory's text: {system}");
            assert!(system.contains("- greeter: Greets the user in Klingon"), "the skill listing: {system}");
            let (sent, _) = last_user_turn(&turn);
            assert!(!sent.contains("make test") && !sent.contains("greeter"), "not in the prompt: {sent}");
            assert!(!sent.contains("The user's request follows"), "no preamble: {sent}");
        }
    };
    assert_briefed_in_the_system_prompt("hello there");
    assert!(client.reply_text(id).ends_with("Echo: hello there"), "{}", client.reply_text(id));

    stop_and_resume(client, &mock, id, "/v1/messages", 2, "hello there").await;
    assert_briefed_in_the_system_prompt("what came before");
}

/// The Codex adapter offers `sessionCapabilities.systemPrompt` too: Codex gets the session's
/// system prompt and the profile's memory as its developer instructions, not in the user's prompt.
#[tokio::test]
async fn the_codex_adapter_takes_the_system_prompt_with_the_profiles_memory_in_it() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mock = MockApi::start(conversation(env.data_dir().join("worktrees"), codex_write, codex_shell)).await;
    env.configure_acp_adapters(&mock.url, AdapterLine::Current);
    let (_server, _) = first_turn_from_profile(&env, &repo, json!({ "agent": "codex-acp", "model": "gpt-5.5" })).await;
    let turns: Vec<_> = mock
        .requests_to("/v1/responses")
        .into_iter()
        .filter(|request| last_user_turn(request).0.contains("hello there"))
        .collect();
    assert!(!turns.is_empty(), "no model request for the prompt");
    for turn in turns {
        let body = turn.body.to_string();
        assert!(body.contains("Speak like a pirate."), "the config's system prompt: {body}");
        assert!(body.contains("The tests run with `make test`."), "the memory's text: {body}");
        let (sent, _) = last_user_turn(&turn);
        assert!(!sent.contains("make test") && !sent.contains("Arbor gives you"), "not in the prompt: {sent}");
    }
}
