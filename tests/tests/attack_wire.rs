//! Bad input on the wire, sent as a buggy or hostile client would: malformed JSON-RPC objects,
//! broken headers, huge frames and lines, odd params. The server must answer or ignore each one
//! and keep reading, with bounded memory, while other clients are served.

use std::time::{Duration, Instant};

use arbor_protocol::{AgentState, SessionEvent, SessionStatus, error_code, method};
use arbor_server::rpc::framing::{Frame, FrameReader, write_frame};
use arbor_tests::{TestEnv, WAIT};
use serde_json::{Value, json};
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

/// A connection to the daemon's socket that sends whatever bytes a test gives it and reads every
/// frame back, answers with a null id included.
struct RawConnection {
    reader: FrameReader<OwnedReadHalf>,
    writer: BufWriter<OwnedWriteHalf>,
    next_id: i64,
}

impl RawConnection {
    async fn open(env: &TestEnv) -> Self {
        let stream = UnixStream::connect(env.runtime_dir().join("arbor.sock")).await.expect("connect to the daemon");
        let (read, write) = stream.into_split();
        let mut connection =
            Self { reader: FrameReader::new(read, usize::MAX), writer: BufWriter::new(write), next_id: 1000 };
        let initialized = connection.request("initialize", json!({ "capabilities": {} })).await;
        assert!(initialized.get("result").is_some(), "{initialized}");
        connection.send_frame(br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#).await;
        connection
    }

    async fn send_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.expect("send");
        self.writer.flush().await.expect("flush");
    }

    async fn send_frame(&mut self, body: &[u8]) {
        write_frame(&mut self.writer, body).await.expect("send a frame");
    }

    /// The next frame the server sends, as JSON.
    async fn receive(&mut self) -> Value {
        let frame = tokio::time::timeout(WAIT, self.reader.next_frame())
            .await
            .expect("the server answered in time")
            .expect("the connection is readable")
            .expect("the connection is still open");
        let Frame::Body(body) = frame else { panic!("the server sent a bad frame: {frame:?}") };
        serde_json::from_slice(&body).expect("the server sends JSON")
    }

    /// Sends a request and returns its response, with every other frame received before it.
    async fn request_after(&mut self, method: &str, params: Value) -> (Value, Vec<Value>) {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.send_frame(request.to_string().as_bytes()).await;
        let mut before = Vec::new();
        loop {
            let message = self.receive().await;
            if message["id"] == id {
                return (message, before);
            }
            before.push(message);
        }
    }

    async fn request(&mut self, method: &str, params: Value) -> Value {
        self.request_after(method, params).await.0
    }

    /// Proves the connection still serves: a real request gets its real answer.
    async fn assert_serving(&mut self) -> Vec<Value> {
        let (answer, before) = self.request_after(method::AGENTS_LIST, json!({})).await;
        assert!(answer["result"]["agents"].is_array(), "{answer}");
        before
    }
}

/// Malformed objects, each with the error it must get back: (code, id), or None when it must be
/// ignored (a notification or a response is never answered).
fn malformed_objects() -> Vec<(&'static str, Option<(i64, Value)>)> {
    let invalid = error_code::INVALID_REQUEST;
    vec![
        ("{}", Some((invalid, Value::Null))),
        (r#"{"jsonrpc":"1.0","id":9001,"method":"agents/list"}"#, Some((invalid, json!(9001)))),
        (r#"{"id":9002,"method":"agents/list"}"#, Some((invalid, json!(9002)))),
        (r#"{"jsonrpc":"2.0","id":1.5,"method":"agents/list"}"#, Some((invalid, Value::Null))),
        (r#"{"jsonrpc":"2.0","id":true,"method":"agents/list"}"#, Some((invalid, Value::Null))),
        (r#"{"jsonrpc":"2.0","id":[3],"method":"agents/list"}"#, Some((invalid, Value::Null))),
        (r#"{"jsonrpc":"2.0","id":{"n":9004},"method":"agents/list"}"#, Some((invalid, Value::Null))),
        (r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"agents/list"}"#, Some((invalid, Value::Null))),
        (r#"{"jsonrpc":"2.0","id":"five","method":5}"#, Some((invalid, json!("five")))),
        (r#"{"jsonrpc":"2.0","id":9006,"id":9007,"method":"agents/list"}"#, Some((invalid, Value::Null))),
        (
            r#"{"jsonrpc":"2.0","id":9008,"method":"agents/list","params":{"a":1,"a":2}}"#,
            Some((error_code::INVALID_PARAMS, json!(9008))),
        ),
        (
            r#"{"jsonrpc":"2.0","id":9009,"method":"session/get","params":"text"}"#,
            Some((error_code::INVALID_PARAMS, json!(9009))),
        ),
        ("[1,2]", Some((invalid, Value::Null))),
        (r#""a string""#, Some((invalid, Value::Null))),
        ("{not json", Some((error_code::PARSE_ERROR, Value::Null))),
        (r#"{"jsonrpc":"2.0","id":9010,"result":{}}"#, None),
        (r#"{"jsonrpc":"2.0","id":9011,"error":{"code":1,"message":"no"}}"#, None),
        (r#"{"jsonrpc":"2.0","id":9012}"#, Some((invalid, json!(9012)))),
        (r#"{"jsonrpc":"2.0","method":5}"#, None),
        (r#"{"jsonrpc":"1.0","method":"initialized"}"#, None),
        (r#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":{"x":1}}}"#, None),
    ]
}

#[tokio::test]
async fn each_malformed_object_is_answered_and_the_same_connection_keeps_serving() {
    let env = TestEnv::new();
    let _daemon = env.daemon().await;
    let mut connection = RawConnection::open(&env).await;
    for (body, expected) in malformed_objects() {
        connection.send_frame(body.as_bytes()).await;
        let before = connection.assert_serving().await;
        match expected {
            Some((code, id)) => {
                assert_eq!(before.len(), 1, "{body} got {before:?}");
                assert_eq!(before[0]["error"]["code"], code, "{body} got {}", before[0]);
                assert_eq!(before[0]["id"], id, "{body} got {}", before[0]);
                assert!(before[0]["error"]["message"].as_str().is_some_and(|text| !text.is_empty()));
            }
            None => assert!(before.is_empty(), "{body} was answered: {before:?}"),
        }
    }
}

#[tokio::test]
async fn broken_headers_get_a_parse_error_and_the_connection_carries_on() {
    let env = TestEnv::new();
    let _daemon = env.daemon().await;
    let mut connection = RawConnection::open(&env).await;
    for (header, problem) in [
        (&b"Content-Length: \xff\xfe\r\n\r\n"[..], "UTF-8"),
        (b"X-\xc3\x28: 1\r\nContent-Length: 2\r\n\r\n{}", "UTF-8"),
        (b"Content-Length: twelve\r\n\r\n", "invalid Content-Length"),
        (b"Content-Type: application/vscode-jsonrpc\r\n\r\n", "missing Content-Length"),
    ] {
        connection.send_bytes(header).await;
        let before = connection.assert_serving().await;
        assert_eq!(before.len(), 1, "{before:?}");
        assert_eq!(before[0]["error"]["code"], error_code::PARSE_ERROR);
        assert!(before[0]["error"]["message"].as_str().unwrap().contains(problem), "{}", before[0]);
    }
}

#[tokio::test]
async fn a_standalone_server_keeps_its_sessions_through_malformed_objects() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let session = server.client.scripted_session(&repo, "say hello", None).await;
    server.client.wait_status(session.id, |status| status == SessionStatus::Running).await;

    for (body, _) in malformed_objects() {
        server.client.rpc.send_raw(body.as_bytes()).await.expect("the standalone server still reads");
    }
    server.client.rpc.send_bytes(b"Content-Length: \xff\r\n\r\n").await.expect("still reads");

    let agents = server.client.call(method::AGENTS_LIST, json!({})).await;
    assert!(agents["agents"].is_array());
    assert!(server.child.try_wait().expect("the process can be polled").is_none(), "arbor lsp --standalone exited");
    let after = server.client.get(session.id).await;
    assert_eq!(after.status, SessionStatus::Running, "the session was stopped: {:?}", after.status_reason);
}

/// The daemon's memory now (VmRSS) and at its peak so far (VmHWM), in bytes.
fn daemon_memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read the daemon's status");
    let field = |name: &str| {
        let line = status.lines().find(|line| line.starts_with(name)).unwrap_or_else(|| panic!("no {name}"));
        let kib: u64 = line.split_whitespace().nth(1).and_then(|value| value.parse().ok()).expect("a size in kB");
        kib * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

const MIB: usize = 1024 * 1024;

/// Writes `total` bytes repeating `pattern`, a MiB at a time.
async fn send_repeated(connection: &mut RawConnection, pattern: &[u8], total: usize) {
    let chunk: Vec<u8> = pattern.iter().copied().cycle().take(MIB).collect();
    let mut sent = 0;
    while sent < total {
        let piece = (total - sent).min(MIB);
        connection.writer.write_all(&chunk[..piece]).await.expect("send");
        sent += piece;
    }
    connection.writer.flush().await.expect("flush");
}

/// Sends a frame of `length` bytes of small array elements, the kind of body that grows most
/// when built into a JSON tree.
async fn send_huge_frame(connection: &mut RawConnection, length: usize) {
    let head = br#"{"jsonrpc":"2.0","id":77,"method":"session/list","params":{"query":["#;
    let tail = b"0]}}";
    connection.send_bytes(format!("Content-Length: {length}\r\n\r\n").as_bytes()).await;
    connection.writer.write_all(head).await.expect("send");
    send_repeated(connection, b"0,", length - head.len() - tail.len()).await;
    connection.send_bytes(tail).await;
}

/// Memory the daemon may grow by while it is sent, at once, two 60 MiB frames, a 200 MiB header
/// line, a 16 MiB frame of millions of array elements and a 16 MiB request within the limits:
/// the two frames within the limit are buffered and walked, the valid one parsed once more by
/// the server; nothing else is kept.
const GROWTH_BOUND: u64 = 128 * MIB as u64;
/// How long a request on another connection may take meanwhile (a loaded two-core machine
/// running a debug build).
const LATENCY_BOUND: Duration = Duration::from_secs(3);

#[tokio::test]
async fn huge_frames_and_lines_keep_memory_bounded() {
    let env = TestEnv::new();
    let daemon = env.daemon().await;
    let pid = daemon.id().expect("the daemon runs");
    let mut attackers = Vec::new();
    for _ in 0..5 {
        attackers.push(RawConnection::open(&env).await);
    }
    let (rss_before, _) = daemon_memory(pid);

    let [mut big_one, mut big_two, mut long_line, mut dense, mut padded] =
        <[RawConnection; 5]>::try_from(attackers).ok().expect("five connections");
    let attacks = async {
        tokio::join!(
            send_huge_frame(&mut big_one, 60 * MIB),
            send_huge_frame(&mut big_two, 60 * MIB),
            async {
                send_repeated(&mut long_line, b"a", 200 * MIB).await;
                long_line.send_bytes(b"\r\n\r\n").await;
            },
            send_huge_frame(&mut dense, 16 * MIB - 64),
            async {
                let head = br#"{"jsonrpc":"2.0","id":78,"method":"agents/list","params":{"padding":""#;
                let tail = br#""}}"#;
                let length = 16 * MIB - 64;
                padded.send_bytes(format!("Content-Length: {length}\r\n\r\n").as_bytes()).await;
                padded.writer.write_all(head).await.expect("send");
                send_repeated(&mut padded, b"x", length - head.len() - tail.len()).await;
                padded.send_bytes(tail).await;
            },
        )
    };
    tokio::time::timeout(Duration::from_secs(300), attacks).await.expect("the daemon read everything in time");
    let padded_answers = padded.assert_serving().await;
    let (rss_after, peak) = daemon_memory(pid);
    eprintln!(
        "daemon memory: {} MiB before, {} MiB after, peak {} MiB",
        rss_before / MIB as u64,
        rss_after / MIB as u64,
        peak / MIB as u64
    );

    for (connection, problem) in
        [(&mut big_one, "exceeds the limit"), (&mut big_two, "exceeds the limit"), (&mut long_line, "longer than")]
    {
        let before = connection.assert_serving().await;
        assert_eq!(before.len(), 1, "{before:?}");
        assert_eq!(before[0]["error"]["code"], error_code::PARSE_ERROR);
        assert!(before[0]["error"]["message"].as_str().unwrap().contains(problem), "{}", before[0]);
    }
    let before = dense.assert_serving().await;
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0]["id"], 77);
    assert_eq!(before[0]["error"]["code"], error_code::INVALID_PARAMS);
    assert!(before[0]["error"]["message"].as_str().unwrap().contains("more than"), "{}", before[0]);
    let answer =
        padded_answers.iter().find(|message| message["id"] == 78).expect("the valid 16 MiB request was answered");
    assert!(answer["result"]["agents"].is_array(), "{answer}");

    assert!(peak < rss_before + GROWTH_BOUND, "the daemon grew from {rss_before} to a peak of {peak} bytes");
}

#[tokio::test]
async fn other_clients_answer_within_a_bound_while_one_sends_a_huge_frame() {
    let env = TestEnv::new();
    let _daemon = env.daemon().await;
    let bystander = env.socket_client().await;
    let mut attacker = RawConnection::open(&env).await;
    let sending = tokio::spawn(async move {
        send_huge_frame(&mut attacker, 60 * MIB).await;
        attacker.assert_serving().await;
    });
    let mut slowest = Duration::ZERO;
    while !sending.is_finished() {
        let started = Instant::now();
        bystander.call(method::SESSION_LIST, json!({})).await;
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sending.await.expect("the attacker's connection kept serving");
    eprintln!("slowest answer to another client: {slowest:?}");
    assert!(slowest < LATENCY_BOUND, "another client waited {slowest:?}");
}

#[tokio::test]
async fn methods_without_params_accept_omitted_null_empty_object_and_empty_array() {
    let env = TestEnv::new();
    let _daemon = env.daemon().await;
    let mut connection = RawConnection::open(&env).await;
    for method_name in [method::AGENTS_LIST, method::WORKTREE_ORPHANS, method::PROFILE_LIST, method::SESSION_LIST] {
        for params in [None, Some(Value::Null), Some(json!({})), Some(json!([]))] {
            connection.next_id += 1;
            let mut request = json!({ "jsonrpc": "2.0", "id": connection.next_id, "method": method_name });
            if let Some(params) = &params {
                request["params"] = params.clone();
            }
            connection.send_frame(request.to_string().as_bytes()).await;
            let answer = connection.receive().await;
            assert!(answer.get("result").is_some(), "{method_name} with {params:?}: {answer}");
        }
    }
}

#[tokio::test]
async fn an_after_seq_beyond_every_seq_returns_nothing() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let _daemon = env.daemon().await;
    let mut client = env.socket_client().await;
    let session = client.scripted_session(&repo, "say hello", Some("hi")).await;
    client.subscribe(session.id, 0).await;
    client.wait_turns(session.id, 1).await;
    // The agent's return to idle is the turn's last event, stored after the turn's end (and
    // after the session's record shows it): the last seq is read once that event is seen, so that
    // nothing is stored between it and the pages asked for below.
    let mut turn_ended = false;
    client
        .wait_event(session.id, |event| match event {
            SessionEvent::TurnEnded { .. } => {
                turn_ended = true;
                false
            }
            SessionEvent::StatusChanged { agent_state: Some(AgentState::Idle), .. } => turn_ended,
            _ => false,
        })
        .await;
    let last_seq = client.get(session.id).await.last_seq;
    assert!(last_seq > 2);

    for after_seq in [1u64 << 63, u64::MAX, i64::MAX as u64] {
        let page = client.call(method::SESSION_EVENTS, json!({ "sessionId": session.id, "afterSeq": after_seq })).await;
        assert_eq!(page["events"], json!([]), "afterSeq {after_seq}");
        assert_eq!(page["hasMore"], false);
        assert_eq!(page["lastSeq"], last_seq);
    }

    let mut late = env.socket_client().await;
    late.subscribe(session.id, u64::MAX).await;
    late.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "again" })).await;
    client.wait_turns(session.id, 2).await;
    late.drain();
    assert!(late.events.is_empty(), "a subscription after every seq replayed {:?}", late.events);
}

/// Waits for a `window/logMessage` whose text contains `needle`.
async fn wait_log_message(client: &mut arbor_tests::Client, needle: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        client.drain();
        if let Some(found) = client.others.iter().find(|notification| {
            notification.method == "window/logMessage"
                && notification.params["message"].as_str().is_some_and(|text| text.contains(needle))
        }) {
            return found.params.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no window/logMessage about {needle}: {:?}", client.others);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn unknown_fields_are_ignored_at_every_level_and_reported_back() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let _daemon = env.daemon().await;
    let mut client = env.socket_client().await;

    // A misspelt setting inside `config` and an unknown top-level field: the session is created
    // (a newer editor's field must not break an older daemon) and both are named back.
    let session = client
        .call(
            method::SESSION_NEW,
            json!({ "cwd": repo, "agent": "scripted", "colour": "red", "config": { "turnTimeoutSec": 5, "script": "say hi" } }),
        )
        .await;
    assert!(session["id"].is_string(), "{session}");
    assert_eq!(session["config"]["turnTimeoutSecs"], Value::Null, "the misspelt setting was not applied");
    let warning = wait_log_message(&mut client, "config.turnTimeoutSec").await;
    assert_eq!(warning["type"], 2, "a warning: {warning}");
    let message = warning["message"].as_str().unwrap();
    assert!(message.contains(method::SESSION_NEW) && message.contains("colour"), "{message}");

    // The same rule for a method without params and for nested lists.
    client.call(method::AGENTS_LIST, json!({ "verbose": true })).await;
    wait_log_message(&mut client, "verbose").await;
    client.call(method::SESSION_LIST, json!({ "status": ["running"], "sortBy": "title" })).await;
    wait_log_message(&mut client, "sortBy").await;

    // A permission rule is the exception: ignoring a misspelt `pattern` would allow everything.
    let widened = client
        .try_call(
            method::SESSION_NEW,
            json!({ "cwd": repo, "agent": "scripted", "permissions": [{ "patern": "rm -rf *", "action": "allow" }] }),
        )
        .await
        .unwrap_err();
    assert_eq!(widened.code, error_code::INVALID_PARAMS);
    assert!(widened.message.contains("patern"), "{}", widened.message);

    // Known fields are still checked.
    let wrong = client.try_call(method::SESSION_LIST, json!({ "limit": "ten" })).await.unwrap_err();
    assert_eq!(wrong.code, error_code::INVALID_PARAMS);
    let too_long = client
        .try_call(
            method::SESSION_NEW,
            json!({ "cwd": repo, "agent": "scripted", "config": { "sessionTimeoutSecs": u64::MAX } }),
        )
        .await
        .unwrap_err();
    assert_eq!(too_long.code, error_code::INVALID_ARGUMENT);
    assert!(too_long.message.contains("sessionTimeoutSecs"), "{}", too_long.message);
}
