//! The LSP lifecycle and bad input over the real stdio transport: every mistake gets a clear
//! JSON-RPC error and the server keeps serving.

use arbor_protocol::{PROTOCOL_VERSION, error_code, method};
use arbor_tests::TestEnv;
use serde_json::json;

#[tokio::test]
async fn initialize_reports_protocol_version_and_agents_then_exits_cleanly() {
    let env = TestEnv::new();
    let mut server = env.standalone().await;
    let result = server.client.rpc.request("initialize", json!({ "capabilities": {} })).await;
    // A second initialize is refused, the first one's result is what matters.
    assert!(result.is_err());

    let agents = server.client.call(method::AGENTS_LIST, serde_json::Value::Null).await;
    let scripted = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|agent| agent["id"] == "scripted")
        .expect("scripted agent listed");
    assert_eq!(scripted["available"], true);
    assert!(scripted["description"].as_str().unwrap().contains("scripted agent"), "the scripted agent says what it is");

    server.client.rpc.shutdown().await.unwrap();
    let status = tokio::time::timeout(arbor_tests::WAIT, server.child.wait()).await.unwrap().unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn capabilities_carry_the_arbor_block() {
    let env = TestEnv::new();
    let mut child = env
        .command()
        .args(["lsp", "--standalone"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let client = arbor_tests::Client::new(child.stdout.take().unwrap(), child.stdin.take().unwrap());
    let result = client.initialize().await;
    let arbor = &result["capabilities"]["experimental"]["arbor"];
    assert_eq!(arbor["protocolVersion"], PROTOCOL_VERSION);
    assert!(arbor["agents"].as_array().unwrap().iter().any(|agent| agent["id"] == "scripted"));
    assert_eq!(result["serverInfo"]["name"], "arbor");
}

#[tokio::test]
async fn bad_input_gets_clear_errors_and_the_server_keeps_serving() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let not_a_repo = env.root.join("plain");
    std::fs::create_dir_all(&not_a_repo).unwrap();
    let server = env.standalone().await;
    let client = &server.client;

    // A frame whose body is not JSON: a parse error, and the connection survives.
    client.rpc.send_raw(b"{this is not json").await.unwrap();
    let agents = client.call(method::AGENTS_LIST, serde_json::Value::Null).await;
    assert!(agents["agents"].is_array());

    let unknown = client.try_call("session/fly", json!({})).await.unwrap_err();
    assert_eq!(unknown.code, error_code::METHOD_NOT_FOUND);

    let wrong_params =
        client.try_call(method::SESSION_NEW, json!({ "cwd": 42, "agent": "scripted" })).await.unwrap_err();
    assert_eq!(wrong_params.code, error_code::INVALID_PARAMS);
    assert!(wrong_params.message.contains("invalid type"), "{}", wrong_params.message);

    let missing = uuid::Uuid::new_v4();
    for method_name in [method::SESSION_GET, method::SESSION_STOP, method::SESSION_EVENTS, method::SESSION_SUBSCRIBE] {
        let error = client.try_call(method_name, json!({ "sessionId": missing })).await.unwrap_err();
        assert_eq!(error.code, error_code::SESSION_NOT_FOUND, "{method_name}");
        assert!(error.message.contains(&missing.to_string()));
    }
    let bad_id = client.try_call(method::SESSION_GET, json!({ "sessionId": "not-a-uuid" })).await.unwrap_err();
    assert_eq!(bad_id.code, error_code::INVALID_PARAMS);

    let not_git =
        client.try_call(method::SESSION_NEW, json!({ "cwd": not_a_repo, "agent": "scripted" })).await.unwrap_err();
    assert_eq!(not_git.code, error_code::NOT_A_GIT_REPOSITORY);
    assert!(not_git.message.contains("is not inside a git repository"), "{}", not_git.message);

    let no_dir = client
        .try_call(method::SESSION_NEW, json!({ "cwd": env.root.join("nowhere"), "agent": "scripted" }))
        .await
        .unwrap_err();
    assert_eq!(no_dir.code, error_code::NOT_A_GIT_REPOSITORY);

    let unknown_agent =
        client.try_call(method::SESSION_NEW, json!({ "cwd": repo, "agent": "hal9000" })).await.unwrap_err();
    assert_eq!(unknown_agent.code, error_code::AGENT_UNAVAILABLE);
    assert!(unknown_agent.message.contains("hal9000"));

    let bad_script = client
        .try_call(
            method::SESSION_NEW,
            json!({ "cwd": repo, "agent": "scripted", "config": { "script": "say hi\nfly away" } }),
        )
        .await
        .unwrap_err();
    assert_eq!(bad_script.code, error_code::INVALID_ARGUMENT);
    assert!(bad_script.message.contains("line 2"), "{}", bad_script.message);

    let no_branch = client
        .try_call(method::SESSION_NEW, json!({ "cwd": repo, "agent": "scripted", "baseBranch": "no-such-branch" }))
        .await
        .unwrap_err();
    assert_eq!(no_branch.code, error_code::INVALID_ARGUMENT);

    // Nothing was created by any of the refused requests.
    let list = client.call(method::SESSION_LIST, json!({ "includeHidden": true })).await;
    assert_eq!(list["total"], 0);
    assert_eq!(arbor_tests::git(&repo, &["branch", "--list", "arbor/*"]), "");

    // Requests that need a running session say so.
    let session = client.scripted_session(&repo, "say hello", None).await;
    client.wait_status(session.id, |status| status == arbor_protocol::SessionStatus::Running).await;
    client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await;
    let stopped =
        client.try_call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "hi" })).await.unwrap_err();
    assert_eq!(stopped.code, error_code::INVALID_SESSION_STATE);
    assert!(stopped.message.contains("resume it first"), "{}", stopped.message);
    let empty =
        client.try_call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "  " })).await.unwrap_err();
    assert_eq!(empty.code, error_code::INVALID_ARGUMENT);
    let no_request = client
        .try_call(
            method::SESSION_RESPOND,
            json!({ "sessionId": session.id, "requestId": "perm-9", "optionId": "allow" }),
        )
        .await
        .unwrap_err();
    assert_eq!(no_request.code, error_code::INVALID_SESSION_STATE);

    // Still serving, and what was stored is intact.
    let list = client.call(method::SESSION_LIST, json!({})).await;
    assert_eq!(list["total"], 1);
}

#[tokio::test]
async fn a_garbled_frame_header_is_answered_and_later_requests_still_work() {
    let env = TestEnv::new();
    let server = env.standalone().await;
    server.client.rpc.send_bytes(b"Content-Length: nope\r\n\r\n").await.unwrap();
    let agents = server.client.call(method::AGENTS_LIST, serde_json::Value::Null).await;
    assert!(agents["agents"].is_array());
}

/// The server registers its methods from the protocol's table: every method listed there is
/// served (answered, or refused for its params), none is unknown to the server.
#[tokio::test]
async fn every_method_of_the_protocol_table_is_served() {
    let env = TestEnv::new();
    let server = env.standalone().await;
    for entry in method::REQUESTS {
        if let Err(error) = server.client.try_call(entry.name, json!({})).await {
            assert_ne!(
                error.code, -32601,
                "{} is in the table but the server does not know it: {}",
                entry.name, error.message
            );
        }
    }
    let unknown = server.client.try_call("session/teleport", json!({})).await.expect_err("not a method");
    assert_eq!(unknown.code, -32601, "a method outside the table is unknown");
}
