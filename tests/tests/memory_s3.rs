//! A profile's memory kept in an S3-compatible bucket (`memoryStore.s3` in the config file),
//! through the real binary against a local moto server (installed by `scripts/install-moto` into
//! `.ci-cache/moto`, or the venv `$ARBOR_MOTO_VENV` names): a session's memory edit is written to
//! the bucket as a version and read back by a second server, and a missing bucket gives an error
//! that says so, also as the reason a session of the profile does not start.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use arbor_protocol::{SessionEvent, method};
use arbor_tests::TestEnv;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use uuid::Uuid;

const SEED: &str = "- The tests run with `make test`.\n";
const LEARNED: &str = "- Learned in a session.\n";

/// The Python of the venv moto is installed in.
fn moto_python() -> PathBuf {
    let venv = match std::env::var_os("ARBOR_MOTO_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.ci-cache/moto/venv"),
    };
    let python = venv.join("bin/python");
    assert!(python.exists(), "{} is missing: run ./scripts/install-moto", python.display());
    python
}

/// A moto server on a free local port with bucket `memory`. moto checks no credentials here: with
/// its checks on (`INITIAL_NO_AUTH_ACTION_COUNT`) it answers 500 to requests signed in the query
/// string, as rusty-s3 signs them.
struct Moto {
    child: Child,
    url: String,
}

/// Creates the bucket.
const SET_UP: &str = r#"
import boto3, sys
boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="test",
    aws_secret_access_key="test").create_bucket(Bucket="memory")
"#;

/// The credentials Arbor signs with.
const KEY: &str = "test";

impl Moto {
    async fn start() -> Moto {
        let python = moto_python();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(&python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start moto");
        let url = format!("http://127.0.0.1:{port}");
        arbor_tests::wait_until("moto listens", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()).await;
        let output = Command::new(&python).args(["-c", SET_UP, &url]).output().await.expect("set up moto");
        assert!(output.status.success(), "set-up failed: {}", String::from_utf8_lossy(&output.stderr));
        Moto { child, url }
    }

    /// The object keys in the bucket.
    async fn keys(&self) -> Vec<String> {
        let list = r#"
import boto3, sys
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
    aws_access_key_id="test", aws_secret_access_key="test")
for item in s3.list_objects_v2(Bucket="memory").get("Contents", []):
    print(item["Key"])
"#;
        let output = Command::new(moto_python())
            .args(["-c", list, &self.url])
            .output()
            .await
            .expect("list the bucket");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap().lines().map(str::to_string).collect()
    }
}

/// The config of profile `helper` (the scripted agent appending a line to its memory) with its
/// memory in `bucket` of `moto`.
fn config(env: &TestEnv, moto: &Moto, bucket: &str) -> Value {
    let seed = env.root.join("helper-memory.md");
    std::fs::write(&seed, SEED).unwrap();
    let script = format!("say {{prompt}}\nrun printf -- '{}' >> \"$ARBOR_MEMORY_FILE\"", LEARNED.replace('\n', "\\n"));
    json!({
        "profiles": { "helper": { "agent": "scripted", "memory": seed, "config": { "script": script } } },
        "memoryStore": { "s3": { "endpoint": moto.url, "bucket": bucket, "prefix": "arbor/",
            "accessKeyId": KEY, "secretAccessKey": KEY } },
    })
}

#[tokio::test]
async fn memory_versions_are_written_to_the_bucket_and_read_back_by_another_server() {
    let moto = Moto::start().await;
    let env = TestEnv::new();
    env.write_config(config(&env, &moto, "memory"));
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = client.call(method::SESSION_NEW, json!({ "cwd": repo, "profile": "helper", "prompt": "Learn" })).await;
    let id: Uuid = serde_json::from_value(session["id"].clone()).unwrap();
    client.subscribe(id, 0).await;
    client
        .wait_event(id, |event| matches!(event, SessionEvent::Notice { message } if message.contains("changed the memory")))
        .await;
    server.child.kill().await.expect("stop the server");

    let keys = moto.keys().await;
    for key in ["arbor/helper/1.md", "arbor/helper/2.md"] {
        assert!(keys.iter().any(|stored| stored == key), "{key} is in the bucket: {keys:?}");
    }
    // Another data directory, the same bucket: the versions are the bucket's.
    let other = TestEnv::new();
    other.write_config(config(&other, &moto, "memory"));
    let server = other.standalone().await;
    let memory = server.client.call(method::PROFILE_MEMORY, json!({ "profile": "helper" })).await;
    assert_eq!(memory["text"], format!("{SEED}{LEARNED}"), "{memory}");
    assert_eq!(memory["versions"].as_array().map(Vec::len), Some(2), "{memory}");
    assert_eq!(memory["versions"][1]["sessionId"], id.to_string(), "{memory}");
    let shown = other.cli(&["memory", "helper", "--restore", "1"]).await;
    assert!(shown.contains("version 3: restored from version 1"), "{shown}");
    drop(moto.child);
}

#[tokio::test]
async fn a_missing_bucket_gives_a_clear_error_and_a_session_of_the_profile_fails_with_it() {
    let moto = Moto::start().await;
    let env = TestEnv::new();
    env.write_config(config(&env, &moto, "no-such-bucket"));
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let error = client.try_call(method::PROFILE_MEMORY, json!({ "profile": "helper" })).await.unwrap_err();
    let missing = "the bucket 'no-such-bucket' does not exist; create it first";
    assert!(error.message.contains(missing), "{}", error.message);
    // A session of the profile fails to start with the same reason rather than running without
    // its memory.
    let session = client.call(method::SESSION_NEW, json!({ "cwd": repo, "profile": "helper", "prompt": "Learn" })).await;
    let id: Uuid = serde_json::from_value(session["id"].clone()).unwrap();
    client.subscribe(id, 0).await;
    let failed = tokio::time::timeout(
        Duration::from_secs(60),
        client.wait_event(id, |event| matches!(event, SessionEvent::Error { message, .. } if message.contains(missing))),
    )
    .await;
    assert!(failed.is_ok(), "the session reports the missing bucket");
    assert!(moto.keys().await.is_empty(), "nothing was written to the other bucket");
    drop(moto.child);
}
