//! The protocol's version policy (docs/protocol.md, "Versions") against the real server: a client
//! built from the first release's schema still works, and a client of another protocol version is
//! refused clearly rather than served.

use std::collections::BTreeSet;
use std::path::Path;

use arbor_server::client::RpcClient;
use arbor_tests::TestEnv;
use serde_json::{Value, json};

/// The schema the first release of the protocol published: what an editor of that release knew.
fn first_release_schema() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/schema/released/arbor-protocol-1-first.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// An editor of the first release: it sends only what that release's schema allows and reads
/// every answer as that schema describes it, ignoring what it does not know.
struct FirstReleaseClient {
    schema: Value,
    rpc: std::sync::Arc<RpcClient>,
}

impl FirstReleaseClient {
    /// Checks `value` against `schema` (a fragment of the first release's schema).
    fn conforms(&self, what: &str, schema: &Value, value: &Value) {
        // A method the schema gives no params (or result) type takes anything there.
        let schema = if schema.is_null() { &Value::Bool(true) } else { schema };
        let document = json!({ "$defs": self.schema["$defs"], "allOf": [schema] });
        let validator = jsonschema::validator_for(&document).expect("the first release's schema compiles");
        let errors: Vec<String> =
            validator.iter_errors(value).map(|error| format!("{} at {}", error, error.instance_path())).collect();
        assert!(errors.is_empty(), "{what} is not what a first-release client reads: {errors:#?}\n{value:#}");
    }

    /// A request the first release had, with params it could send, its answer checked.
    async fn call(&self, method: &str, params: Value) -> Value {
        let described = &self.schema["methods"][method];
        assert!(described.is_object(), "{method} is a method of the first release");
        self.conforms(&format!("{method}'s params"), &described["params"], &params);
        let result = self.rpc.request(method, params).await.unwrap_or_else(|error| panic!("{method}: {error}"));
        self.conforms(&format!("{method}'s result"), &described["result"], &self.without_unknown_kinds(&result));
        result
    }

    /// `result` as the client reads it: events of kinds it does not know are skipped.
    fn without_unknown_kinds(&self, result: &Value) -> Value {
        let mut read = result.clone();
        if let Some(events) = read.get_mut("events").and_then(Value::as_array_mut) {
            let known = self.known_kinds();
            events.retain(|event| event["event"]["kind"].as_str().is_some_and(|kind| known.contains(kind)));
        }
        read
    }

    /// The event kinds the first release knew; a client of it skips the others.
    fn known_kinds(&self) -> BTreeSet<String> {
        self.schema["$defs"]["SessionEvent"]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|variant| variant["properties"]["kind"]["const"].as_str().unwrap().to_string())
            .collect()
    }
}

#[tokio::test]
async fn a_client_of_the_first_release_works_against_this_server() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let server = env.standalone_uninitialized();
    let rpc = server.client.rpc.clone();
    let client = FirstReleaseClient { schema: first_release_schema(), rpc };

    // The first release's editors sent no version of their own.
    let initialized = client.rpc.request("initialize", json!({ "processId": null, "capabilities": {} })).await.unwrap();
    client.conforms(
        "initialize's arbor capabilities",
        &client.schema["initializeCapability"],
        &initialized["capabilities"]["experimental"]["arbor"],
    );
    client.rpc.notify("initialized", json!({})).await.unwrap();

    client.call("agents/list", json!({})).await;
    let script = "say hello from a newer server\nrun echo made > made.txt";
    let session = client
        .call(
            "session/new",
            json!({ "cwd": repo, "agent": "scripted", "title": "Old editor", "config": { "script": script } }),
        )
        .await;
    let id = session["id"].clone();
    client.call("session/subscribe", json!({ "sessionId": id, "afterSeq": 0 })).await;
    client.call("session/prompt", json!({ "sessionId": id, "text": "go" })).await;

    let known = client.known_kinds();
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        let events = client.call("session/events", json!({ "sessionId": id, "afterSeq": 0 })).await;
        seen.clear();
        for event in events["events"].as_array().unwrap() {
            let kind = event["event"]["kind"].as_str().unwrap().to_string();
            // Kinds added since are skipped, as the version policy tells clients to.
            if known.contains(&kind) {
                client.conforms(
                    &format!("a {kind} event"),
                    &json!({ "$ref": "#/$defs/SessionEventNotification" }),
                    event,
                );
                seen.insert(kind);
            }
        }
        if seen.contains("turn_ended") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for kind in ["user_message", "agent_message_chunk", "tool_call", "turn_ended"] {
        assert!(seen.contains(kind), "the old client read a {kind} event: {seen:?}");
    }
    assert!(
        Path::new(session["cwd"].as_str().unwrap()).join("made.txt").exists(),
        "the agent worked for the old client"
    );

    client.call("session/get", json!({ "sessionId": id })).await;
    let listed = client.call("session/list", json!({})).await;
    assert!(listed["sessions"].as_array().unwrap().iter().any(|listed| listed["id"] == id));
    client.call("session/stop", json!({ "sessionId": id })).await;
    client.call("session/resume", json!({ "sessionId": id })).await;
    client.call("session/stop", json!({ "sessionId": id })).await;
    client.call("session/delete", json!({ "sessionId": id, "force": true })).await;
}

#[tokio::test]
async fn a_client_of_another_protocol_version_is_refused_clearly() {
    let env = TestEnv::new();
    let server = env.standalone_uninitialized();
    let rpc = server.client.rpc.clone();
    let asked = json!({ "capabilities": { "experimental": { "arbor": { "protocolVersion": 2 } } } });
    let error = rpc.request("initialize", asked).await.expect_err("protocol 2 is refused");
    let message = error.to_string();
    assert!(message.contains("-33010") || message.contains("33010"), "{message}");
    assert!(message.contains("speaks Arbor protocol 1") && message.contains("asked for 2"), "{message}");

    // The same server serves a client of its own version on the same connection afterwards.
    let current = json!({ "capabilities": { "experimental": { "arbor": { "protocolVersion": 1 } } } });
    let initialized = rpc.request("initialize", current).await.expect("protocol 1 is served");
    assert_eq!(initialized["capabilities"]["experimental"]["arbor"]["protocolVersion"], 1);
}
