//! The stored format is pinned: the store keeps the protocol's JSON of its types, so a change to
//! how they serialise would silently change every database on disk. These tests hold the types to
//! the rows committed in `server/src/store/stored-format/` (`rows-N.json`, one per stored format,
//! each with the migration level its rows were stored at) and open a database of each with the
//! real binary.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use arbor_protocol::{EventKind, PermissionRule, Session, SessionEvent, Task, Trial};
use arbor_tests::TestEnv;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use strum::IntoEnumIterator;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/src/store/stored-format")
}

/// Every stored format by its number, oldest first.
fn fixtures() -> Vec<(usize, PathBuf)> {
    let mut found: Vec<(usize, PathBuf)> = std::fs::read_dir(fixture_dir())
        .expect("the stored-format directory")
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| {
            let number = path.file_stem()?.to_str()?.strip_prefix("rows-")?.parse().ok()?;
            Some((number, path))
        })
        .collect();
    found.sort();
    assert!(!found.is_empty(), "at least one stored-format fixture");
    found
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The value as the current types read it and write it back.
fn through<T: DeserializeOwned + Serialize>(what: &str, stored: &Value) -> Value {
    let value: T = serde_json::from_value(stored.clone())
        .unwrap_or_else(|error| panic!("a stored {what} no longer reads: {error}\n{stored:#}"));
    serde_json::to_value(value).unwrap()
}

/// Every row of a fixture as the current types read and write it.
fn rewritten(rows: &Value) -> Value {
    json!({
        "session": through::<Session>("session", &rows["session"]),
        "task": through::<Task>("task", &rows["task"]),
        "trial": through::<Trial>("trial", &rows["trial"]),
        "rule": through::<PermissionRule>("rule", &rows["rule"]),
        "events": rows["events"].as_array().unwrap().iter()
            .map(|event| through::<SessionEvent>("event", event)).collect::<Vec<_>>(),
    })
}

#[test]
fn the_types_write_the_newest_stored_rows_byte_for_byte() {
    let (number, newest) = fixtures().pop().unwrap();
    let rows = read(&newest);
    let mut now = rewritten(&rows);
    now["migrationLevel"] = json!(current_migration_level());
    if std::env::var_os("UPDATE_STORE_FORMAT").is_some() && now != rows {
        // The old rows stay: databases holding them exist, and they must keep opening.
        let next = fixture_dir().join(format!("rows-{}.json", number + 1));
        std::fs::write(&next, serde_json::to_string_pretty(&now).unwrap() + "\n").unwrap();
        panic!("wrote {}: if the old rows no longer read, add the migration that rewrites them", next.display());
    }
    for part in ["session", "task", "trial", "rule"] {
        assert_eq!(now[part], rows[part], "the stored {part} changed: add a migration that rewrites the old rows");
    }
    for (written, stored) in now["events"].as_array().unwrap().iter().zip(rows["events"].as_array().unwrap()) {
        assert_eq!(written, stored, "a stored event changed: add a migration that rewrites the old rows");
    }
    let stored_kinds: BTreeSet<&str> =
        rows["events"].as_array().unwrap().iter().map(|event| event["kind"].as_str().unwrap()).collect();
    let kinds: BTreeSet<&str> = EventKind::iter().map(<&str>::from).collect();
    assert_eq!(stored_kinds, kinds, "the newest fixture holds one event of every kind (a new kind needs a row)");
}

/// The migration level a new database is at.
fn current_migration_level() -> usize {
    let mut connection = rusqlite::Connection::open_in_memory().unwrap();
    arbor_server::store::migrations::migrations().to_latest(&mut connection).unwrap();
    let level: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
    level as usize
}

/// A database at migration `level` holding the fixture's rows, made the way that level's store
/// would have written them.
fn database_at(path: &Path, level: usize, rows: &Value) -> (String, String) {
    let mut connection = rusqlite::Connection::open(path).unwrap();
    arbor_server::store::migrations::migrations().to_version(&mut connection, level).unwrap();
    let session = &rows["session"];
    let session_id = session["id"].as_str().unwrap().to_string();
    connection
        .execute(
            "INSERT INTO sessions (id, data, status, agent, search_text, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, '', 1, 1)",
            rusqlite::params![session_id, session.to_string(), session["status"].as_str(), session["agent"].as_str()],
        )
        .unwrap();
    for (index, event) in rows["events"].as_array().unwrap().iter().enumerate() {
        connection
            .execute(
                "INSERT INTO events (session_id, seq, at, kind, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![
                    session_id,
                    index as i64 + 1,
                    1000 + index as i64,
                    event["kind"].as_str(),
                    event.to_string()
                ],
            )
            .unwrap();
    }
    let task = &rows["task"];
    let task_id = task["id"].as_str().unwrap().to_string();
    connection
        .execute(
            "INSERT INTO tasks (id, data, created_at) VALUES (?1, ?2, 1)",
            rusqlite::params![task_id, task.to_string()],
        )
        .unwrap();
    let trial = &rows["trial"];
    connection
        .execute(
            "INSERT INTO trials (id, task_id, data, created_at) VALUES (?1, ?2, ?3, 1)",
            rusqlite::params![trial["id"].as_str(), task_id, trial.to_string()],
        )
        .unwrap();
    connection
        .execute(
            "INSERT INTO task_rules (task_id, rule, added_at) VALUES (?1, ?2, 1)",
            rusqlite::params![task_id, rows["rule"].to_string()],
        )
        .unwrap();
    (session_id, task_id)
}

#[tokio::test]
async fn a_database_of_every_stored_level_opens_and_reads_everything_it_held() {
    for (_, path) in fixtures() {
        let env = TestEnv::new();
        std::fs::create_dir_all(env.data_dir()).unwrap();
        let rows = read(&path);
        let level = rows["migrationLevel"].as_u64().expect("the fixture's migration level") as usize;
        let (session_id, task_id) = database_at(&env.data_dir().join("arbor.db"), level, &rows);
        let server = env.standalone().await;
        let client = &server.client;

        let session = client.call("session/get", json!({ "sessionId": session_id })).await;
        assert_eq!(session["title"], rows["session"]["title"], "the session of level {level} reads");
        let listed = client.call("session/list", json!({ "includeHidden": true })).await;
        assert!(
            listed["sessions"].as_array().unwrap().iter().any(|listed| listed["id"] == session_id.as_str()),
            "the session of level {level} is listed: {listed:#}"
        );

        let events = client.call("session/events", json!({ "sessionId": session_id, "afterSeq": 0 })).await;
        let read_back: Vec<Value> =
            events["events"].as_array().unwrap().iter().map(|event| event["event"].clone()).collect();
        let expected = rewritten(&rows)["events"].as_array().unwrap().clone();
        assert_eq!(read_back, expected, "every event of level {level} reads as the current types read it");

        let task = client.call("task/get", json!({ "taskId": task_id })).await;
        assert_eq!(task["task"]["title"], rows["task"]["title"], "the task of level {level} reads");
        assert_eq!(task["task"]["permissions"], json!([through::<PermissionRule>("rule", &rows["rule"])]));
        assert_eq!(task["trials"].as_array().unwrap().len(), 1, "its trial reads");
    }
}
