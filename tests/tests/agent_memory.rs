//! Agent memory and skills from a profile, through the real binary: the scripted agent gets them
//! before its first prompt and real Claude Code loads them itself (its request to the mock model
//! API carries the skill listing and the memory's text), as real Codex and Gemini CLI load the
//! memory from their private configuration directories (Gemini its skills too, and the new memory
//! when resumed); the agent's edit to its memory file is
//! saved as a version, shown as a notice with the diff, and restored; the session's worktree
//! never shows any of it.

use std::path::{Path, PathBuf};

use arbor_protocol::{SessionEvent, SessionStatus, method};
use arbor_tests::agents::{
    claude_bash, claude_write, codex_shell, codex_write, conversation, gemini_shell, gemini_write,
};
use arbor_tests::mock_api::MockApi;
use arbor_tests::{Client, TestEnv, git};
use serde_json::{Value, json};
use uuid::Uuid;

const SEED: &str = "- The tests run with `make test`.\n";

/// A skill directory `name` under `root`, with a SKILL.md and a file it refers to.
fn skill(root: &Path, name: &str, description: &str) -> PathBuf {
    let dir = root.join("skills").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("SKILL.md"),
        format!("---\nname: {name}\ndescription: {description}\n---\nRead greeting.txt and say it.\n"),
    )
    .unwrap();
    std::fs::write(dir.join("greeting.txt"), "nuqneH\n").unwrap();
    dir
}

/// The seed file of a profile's memory.
fn seed(root: &Path) -> PathBuf {
    let path = root.join("helper-memory.md");
    std::fs::write(&path, SEED).unwrap();
    path
}

async fn new_session(client: &Client, repo: &Path, profile: &str, prompt: &str) -> Uuid {
    let session = client.call(method::SESSION_NEW, json!({ "cwd": repo, "profile": profile, "prompt": prompt })).await;
    let id: Uuid = serde_json::from_value(session["id"].clone()).unwrap();
    client.subscribe(id, 0).await;
    id
}

/// The notice that reports a memory change, once it arrives.
async fn memory_notice(client: &mut Client, id: Uuid) -> String {
    let notice = client
        .wait_event(
            id,
            |event| matches!(event, SessionEvent::Notice { message } if message.contains("changed the memory")),
        )
        .await;
    match notice.event {
        SessionEvent::Notice { message } => message,
        _ => unreachable!(),
    }
}

/// Asserts that the session's worktree holds no change at all: memory and skills stay outside.
async fn assert_clean(client: &Client, id: Uuid) {
    let worktree = PathBuf::from(client.get(id).await.cwd);
    assert_eq!(git(&worktree, &["status", "--porcelain", "--untracked-files=all", "--ignored"]), "");
    let diff = client.call(method::REVIEW_DIFF, json!({ "sessionId": id })).await;
    assert_eq!(diff["files"], json!([]), "the session's diff lists nothing: {diff}");
}

fn memory_text(memory: &Value) -> &str {
    memory["text"].as_str().unwrap()
}

#[tokio::test]
async fn a_scripted_agent_gets_memory_and_skills_before_its_prompt_and_its_memory_edit_is_saved_shown_and_restored() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let greeter = skill(&env.root, "greeter", "Greets the user in Klingon");
    let script = "say {prompt}\nrun printf -- '- Tabs, not spaces.\\n' >> \"$ARBOR_MEMORY_FILE\"";
    let profile = json!({ "agent": "scripted", "skills": [greeter], "memory": seed(&env.root),
        "config": { "script": script } });
    env.write_config(json!({ "profiles": { "helper": profile } }));
    let mut server = env.standalone().await;
    let client = &mut server.client;

    let id = new_session(client, &repo, "helper", "Fix the build").await;
    client.wait_turns(id, 1).await;
    let reply = client.reply_text(id);
    assert!(reply.contains("The tests run with `make test`."), "the memory's text came first: {reply}");
    assert!(reply.contains("- greeter: Greets the user in Klingon"), "the skill listing came first: {reply}");
    assert!(reply.ends_with("Fix the build"), "then the user's prompt: {reply}");
    let shown = client.events.iter().find_map(|event| match &event.event {
        SessionEvent::UserMessage { text } if event.session_id == id => Some(text.clone()),
        _ => None,
    });
    assert_eq!(shown.as_deref(), Some("Fix the build"), "the user sees their own prompt");

    let notice = memory_notice(client, id).await;
    assert!(notice.contains("saved as version 2") && notice.contains("--restore 1"), "{notice}");
    assert!(notice.contains("+- Tabs, not spaces."), "the notice shows the diff: {notice}");
    let memory = client.call(method::PROFILE_MEMORY, json!({ "profile": "helper" })).await;
    assert_eq!(memory_text(&memory), format!("{SEED}- Tabs, not spaces.\n"));
    assert_eq!(memory["versions"][1]["sessionId"], id.to_string(), "{memory}");
    assert_clean(client, id).await;

    let restored = client.call(method::PROFILE_MEMORY_RESTORE, json!({ "profile": "helper", "version": 1 })).await;
    assert_eq!(memory_text(&restored), SEED);
    assert_eq!(restored["versions"].as_array().unwrap().len(), 3, "a restore adds a version: {restored}");
    assert_eq!(restored["versions"][2]["note"], "restored from version 1");
    let missing = client.try_call(method::PROFILE_MEMORY_RESTORE, json!({ "profile": "helper", "version": 9 })).await;
    assert!(missing.unwrap_err().message.contains("no memory version 9"));
    let unknown = client.try_call(method::PROFILE_MEMORY, json!({ "profile": "nobody" })).await;
    assert!(unknown.unwrap_err().message.contains("no agent profile named 'nobody'"));

    // The next session starts from the restored memory.
    let next = new_session(client, &repo, "helper", "Again").await;
    client.wait_turns(next, 1).await;
    let reply = client.reply_text(next);
    assert!(reply.contains("make test") && !reply.contains("Tabs, not spaces"), "{reply}");
    memory_notice(client, next).await;

    server.child.kill().await.expect("stop the server");
    let shown = env.cli(&["memory", "helper"]).await;
    assert!(shown.contains("version 3: restored from version 1") && shown.contains("make test"), "{shown}");
    let shown = env.cli(&["memory", "helper", "--restore", "2"]).await;
    assert!(shown.contains("version 5: restored from version 2") && shown.contains("Tabs, not spaces"), "{shown}");
}

#[tokio::test]
async fn a_profile_whose_skill_has_no_skill_md_is_refused_with_its_path() {
    let env = TestEnv::new();
    let empty = env.root.join("not-a-skill");
    std::fs::create_dir_all(&empty).unwrap();
    env.write_config(json!({ "profiles": { "helper": { "agent": "scripted", "skills": [empty] } } }));
    let starting = env.command().args(["lsp", "--standalone"]).stdin(std::process::Stdio::null()).output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(30), starting).await.unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("holds no SKILL.md") && stderr.contains("not-a-skill"), "{stderr}");
}

#[tokio::test]
async fn claude_code_loads_the_profiles_skill_and_memory_and_its_memory_edit_is_saved() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let greeter = skill(&env.root, "greeter", "Greets the user in Klingon");
    let mock = MockApi::start(conversation(env.data_dir().join("worktrees"), claude_write, claude_bash)).await;
    let profile = json!({ "agent": "claude", "skills": [greeter], "memory": seed(&env.root),
        "config": { "permissionMode": "bypass_permissions" } });
    env.configure_claude(&mock.url, json!({ "profiles": { "helper": profile } }));
    let mut server = env.standalone().await;
    let client = &mut server.client;

    let prompt = "run printf -- '- Learned by Claude.\\n' >> \"$ARBOR_MEMORY_FILE\"";
    let id = new_session(client, &repo, "helper", prompt).await;
    client.wait_turns(id, 1).await;
    let requests = mock.requests_to("/v1/messages");
    let turn = requests
        .iter()
        .find(|request| request.body["tools"].as_array().is_some_and(|tools| !tools.is_empty()))
        .unwrap_or_else(|| panic!("no turn request among {requests:?}"));
    let body = turn.body.to_string();
    assert!(body.contains("- greeter: Greets the user in Klingon"), "Claude Code lists the skill: {body}");
    assert!(body.contains("The tests run with `make test`."), "Claude Code carries the memory: {body}");

    let notice = memory_notice(client, id).await;
    assert!(notice.contains("+- Learned by Claude."), "{notice}");
    let memory = client.call(method::PROFILE_MEMORY, json!({ "profile": "helper" })).await;
    assert_eq!(memory_text(&memory), format!("{SEED}- Learned by Claude.\n"));
    assert_clean(client, id).await;
}

/// A profile of `agent` with the greeter skill and the seeded memory, written to the config file
/// after `configure` pointed the agent at the mock.
fn profile_of(env: &TestEnv, agent: &str) -> Value {
    let greeter = skill(&env.root, "greeter", "Greets the user in Klingon");
    json!({ "agent": agent, "skills": [greeter], "memory": seed(&env.root),
        "config": { "permissionMode": "bypass_permissions" } })
}

/// Adds profile `helper` to the config file the agent's set-up wrote.
fn add_profile(env: &TestEnv, profile: Value) {
    let path = env.config_file();
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["profiles"] = json!({ "helper": profile });
    env.write_config(config);
}

/// Asserts that the agent's first request to the mock at `path` carried the memory it read from
/// its own file (the text Arbor puts before the prompt names the file but not its text) and the
/// skill listing, in the prompt unless `skills_loaded` (the agent listed the skills itself).
fn assert_memory_read_from_its_file(mock: &MockApi, path: &str, skills_loaded: bool) -> String {
    let requests = mock.requests_to(path);
    let first = requests.first().unwrap_or_else(|| panic!("no request to {path}"));
    let (prompt_sent, _) = arbor_tests::agents::last_user_turn(first);
    assert!(!prompt_sent.contains("make test"), "the memory's text is not in the prompt: {prompt_sent}");
    assert!(prompt_sent.contains("read it already"), "the prompt says the memory is loaded: {prompt_sent}");
    let listed = prompt_sent.contains("- greeter: Greets the user in Klingon");
    assert_eq!(listed, !skills_loaded, "the skill is listed in the prompt only if not loaded: {prompt_sent}");
    let body = first.body.to_string();
    assert!(body.contains("The tests run with `make test`."), "the agent read its memory file: {body}");
    body
}

/// Runs a session of profile `helper` whose prompt appends `line` to the memory file, and checks
/// that the agent's request to the mock at `path` carried the memory it read from its own file
/// (the text Arbor puts before the prompt names the file but not its text) and the skill, and
/// that its edit was saved.
async fn memory_reaches_the_cli_and_its_edit_is_saved(env: TestEnv, mock: MockApi, path: &str, line: &str) {
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let prompt = format!("run printf -- '{line}\\n' >> \"$ARBOR_MEMORY_FILE\"");
    let id = new_session(client, &repo, "helper", &prompt).await;
    client.wait_turns(id, 1).await;
    assert_memory_read_from_its_file(&mock, path, false);

    let notice = memory_notice(client, id).await;
    assert!(notice.contains(&format!("+{line}")), "{notice}");
    let memory = client.call(method::PROFILE_MEMORY, json!({ "profile": "helper" })).await;
    assert_eq!(memory_text(&memory), format!("{SEED}{line}\n"));
    assert_clean(client, id).await;
}

#[tokio::test]
async fn codex_reads_the_profiles_memory_as_its_agents_md_and_its_memory_edit_is_saved() {
    let env = TestEnv::new();
    let mock = MockApi::start(conversation(env.data_dir().join("worktrees"), codex_write, codex_shell)).await;
    env.configure_codex(&mock.url);
    add_profile(&env, profile_of(&env, "codex"));
    memory_reaches_the_cli_and_its_edit_is_saved(env, mock, "/v1/responses", "- Learned by Codex.").await;
}

#[tokio::test]
async fn gemini_reads_the_profiles_memory_as_its_global_gemini_md_and_skills_beside_the_users_and_its_memory_write_is_saved()
 {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mock = MockApi::start(conversation(env.data_dir().join("worktrees"), gemini_write, gemini_shell)).await;
    env.configure_gemini(&mock.url);
    // A model named spares the routing request Gemini makes first for its default, `auto`.
    let mut profile = profile_of(&env, "gemini");
    profile["model"] = json!("gemini-2.5-flash");
    add_profile(&env, profile);
    // The user's own global memory and skill, which the session's private home links beside the
    // profile's.
    let user_gemini = env.agent_home("gemini").join(".gemini");
    std::fs::write(user_gemini.join("GEMINI.md"), "- The user's own memory.\n").unwrap();
    let user_skill = user_gemini.join("skills/tidier");
    std::fs::create_dir_all(&user_skill).unwrap();
    std::fs::write(user_skill.join("SKILL.md"), "---\nname: tidier\ndescription: Tidies up\n---\nTidy.\n").unwrap();
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = client.call(method::SESSION_NEW, json!({ "cwd": repo, "profile": "helper" })).await;
    let id: Uuid = serde_json::from_value(session["id"].clone()).unwrap();
    client.subscribe(id, 0).await;
    // A session made without a prompt takes one once it runs (it may wait for the admission
    // scheduler first).
    client.wait_status(id, |status| status == SessionStatus::Running).await;

    // Gemini's global GEMINI.md in the session's private GEMINI_CLI_HOME: Gemini's own file tools
    // may write it although it lies outside the workspace, and its prompt tells it to.
    let file = env.data_dir().join("memory/sessions").join(id.to_string()).join("gemini-home/.gemini/GEMINI.md");
    client.prompt_and_wait(id, &format!("write {} - Learned by Gemini.", file.display()), 1).await;
    let body = assert_memory_read_from_its_file(&mock, "streamGenerateContent", true);
    let copy = file.with_file_name("skills").join("greeter").join("SKILL.md");
    assert!(
        body.contains("<name>greeter</name>") && body.contains(&copy.display().to_string()),
        "Gemini lists the profile's skill from its own skills directory: {body}"
    );
    assert!(body.contains("<name>tidier</name>"), "and the user's own skill beside it: {body}");
    assert!(!body.contains("The user's own memory."), "the profile's memory stands in for the user's: {body}");
    let wrote = client.events.iter().any(|event| {
        matches!(&event.event, SessionEvent::ToolCall { locations, .. } if locations.iter().any(|path| Path::new(path) == file))
    });
    assert!(wrote, "Gemini's write_file wrote the memory file: {:#?}", client.events);

    let notice = memory_notice(client, id).await;
    assert!(notice.contains("saved as version 2") && notice.contains("+- Learned by Gemini."), "{notice}");
    let memory = client.call(method::PROFILE_MEMORY, json!({ "profile": "helper" })).await;
    assert_eq!(memory_text(&memory), "- Learned by Gemini.\n", "the file Gemini wrote is the memory: {memory}");
    assert_eq!(memory["versions"][1]["sessionId"], id.to_string(), "{memory}");
    assert_eq!(std::fs::read_to_string(user_gemini.join("GEMINI.md")).unwrap(), "- The user's own memory.\n");
    assert_clean(client, id).await;

    // Resumed, Gemini finds its conversation in the private home and loads the new memory.
    client.call(method::SESSION_STOP, json!({ "sessionId": id })).await;
    client.wait_status(id, |status| status == SessionStatus::Stopped).await;
    client.call(method::SESSION_RESUME, json!({ "sessionId": id, "prompt": "after the resume" })).await;
    // Gemini CLI cannot resume a session in the minute its file was started; Arbor waits for the
    // next minute, so this step may take up to a minute.
    client.wait_turns_within(id, 2, std::time::Duration::from_secs(120)).await;
    assert!(client.reply_text(id).ends_with("Echo: after the resume"), "{}", client.reply_text(id));
    let last = mock.requests.lock().unwrap().last().cloned().unwrap();
    let system = last.body["systemInstruction"].to_string();
    assert!(system.contains("- Learned by Gemini."), "the resumed Gemini loads the new memory: {system}");
    let (prompt_sent, _) = arbor_tests::agents::last_user_turn(&last);
    assert_eq!(prompt_sent, "after the resume", "no preamble in a resumed conversation");
    assert!(last.body["contents"].to_string().contains("write "), "the history is kept: {}", last.body);
}
