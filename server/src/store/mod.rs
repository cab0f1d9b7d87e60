//! The SQLite store: sessions and their event logs.
//!
//! One writer thread owns the only write connection and batches (see `writer`); reads run on
//! their own connections in the blocking pool. The database runs in WAL mode so readers never wait
//! for the writer.

mod checkpointer;
mod ledger;
pub mod migrations;
mod rendered;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arbor_protocol::{
    CheckpointEntry, ListSessionsParams, PermissionRule, RejectedHunk, Session, SessionEvent, SessionEventNotification,
    SessionStatus, Task, Trial,
};
use rusqlite::{Connection, OptionalExtension, params_from_iter, types::Value as SqlValue};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::hub::Hub;
pub use ledger::Ledger;
pub use rendered::RenderedEvent;
use writer::WriteOp;

/// Bound of the writer's queue: producers wait (backpressure) rather than grow memory. It is one
/// transaction's worth (the writer's batch), because every write waits behind the whole queue:
/// while one session floods, a quiet session's event waits for at most the batch being committed
/// and one more, not for thousands of the flood's.
const WRITE_QUEUE_CAPACITY: usize = writer::MAX_BATCH;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// A stored record could not be decoded or encoded.
    #[error("stored record is not valid: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// The writer thread failed to commit a batch.
    #[error("write failed: {0}")]
    WriteFailed(String),
    /// An earlier event of the session could not be stored, so this later one is refused until
    /// that one is: storing it would leave a hole in the log.
    #[error("event {0} waits for an earlier event of its session that could not be stored")]
    Held(u64),
    /// The writer thread is gone (the server is shutting down).
    #[error("the store is closed")]
    Closed,
    /// A blocking read task failed.
    #[error("store task failed: {0}")]
    Task(String),
}

/// Handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<StoreInner>,
}

struct StoreInner {
    path: PathBuf,
    writes: mpsc::Sender<WriteOp>,
    readers: Mutex<Vec<Connection>>,
}

/// A session waiting in the admission queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueEntry {
    /// The session.
    pub session_id: Uuid,
    /// Its agent (limits are per agent).
    pub agent: String,
    /// The agent's conversation to resume, if resuming.
    pub resume: Option<String>,
    /// The prompt to send once started.
    pub prompt: Option<String>,
    /// When it joined the queue; the queue is in this order.
    pub enqueued_at: i64,
}

/// The process group a session's agent was started in, recorded until the session has ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessGroupRecord {
    /// The session.
    pub session_id: Uuid,
    /// The group's id (its leader's pid).
    pub process_group: i32,
    /// When the leader started, in clock ticks after boot (field 22 of `/proc/<pid>/stat`).
    pub leader_start_time: u64,
}

/// What a server that stopped without shutting down left in the store, found at open.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Sessions it left live, now marked dead.
    pub sessions: Vec<Session>,
    /// Process groups it never ended; taken off the record, for the caller to end.
    pub process_groups: Vec<ProcessGroupRecord>,
}

/// Columns kept beside a session's JSON for filtering and ordering.
pub(crate) struct SessionColumns {
    data: String,
    search_text: String,
    pinned_at: Option<i64>,
    pin_order: Option<u32>,
}

pub(crate) fn session_columns(session: &Session) -> Result<SessionColumns, StoreError> {
    let search_text = [
        session.title.as_deref().unwrap_or_default(),
        session.repo_root.as_str(),
        session.cwd.as_str(),
        session.first_prompt.as_deref().unwrap_or_default(),
    ]
    .join("\n")
    .to_lowercase();
    Ok(SessionColumns {
        data: serde_json::to_string(session)?,
        search_text,
        pinned_at: session.pinned_at,
        pin_order: session.pin_order,
    })
}

/// A page of a session's events after a seq: `?1` the session, `?2` the seq, `?3` the page size.
const EVENTS_AFTER: &str =
    "SELECT seq, at, payload FROM events WHERE session_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3";

/// Selects a session's JSON and its newest event seq, which the events table is the authority on
/// (the record's copy is refreshed only when the record itself is written).
const SESSION_SELECT: &str = "data, coalesce((SELECT max(seq) FROM events WHERE events.session_id = sessions.id), 0)";

/// A seq from a client as SQLite's signed integer. No stored seq exceeds `i64::MAX`, so a larger
/// one means "after everything" (a plain cast would wrap it to a negative number, which means
/// "from the start").
fn seq_bound(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn decode_session((data, last_seq): (String, i64)) -> Result<Session, StoreError> {
    let mut session: Session = serde_json::from_str(&data)?;
    session.last_seq = last_seq as u64;
    Ok(session)
}

/// The JSON `data` column of the row `sql` selects by `id`, decoded.
fn json_row<T: serde::de::DeserializeOwned>(
    connection: &Connection,
    sql: &str,
    id: Uuid,
) -> Result<Option<T>, StoreError> {
    let data: Option<String> = connection.query_row(sql, [id.to_string()], |row| row.get(0)).optional()?;
    Ok(data.map(|data| serde_json::from_str(&data)).transpose()?)
}

/// The JSON `data` column of every row `sql` selects, decoded, in order.
fn json_rows<T: serde::de::DeserializeOwned>(
    connection: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<T>, StoreError> {
    let mut statement = connection.prepare_cached(sql)?;
    let rows = statement.query_map(params, |row| row.get::<_, String>(0))?;
    rows.map(|data| Ok(serde_json::from_str(&data?)?)).collect()
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    // NORMAL in WAL mode keeps every commit durable against a process crash (the case Arbor must
    // survive); only an OS crash can lose the last transactions.
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    Ok(connection)
}

/// Creates the database file owner-only (0600) if it is missing. SQLite creates its `-wal` and
/// `-shm` files with the database's mode, so they are private too.
fn create_owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        // The mode is set again because the umask may have narrowed it.
        Ok(file) => file.set_permissions(std::fs::Permissions::from_mode(0o600)),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path`, applies migrations, marks sessions a
    /// crashed server left running as dead, takes the process groups it left, and starts the
    /// writer.
    pub fn open(path: &Path, hub: Arc<Hub>) -> Result<(Store, Recovered), StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| StoreError::WriteFailed(error.to_string()))?;
        }
        create_owner_only(path).map_err(|error| StoreError::WriteFailed(error.to_string()))?;
        let mut connection = open_connection(path)?;
        migrations::migrations().to_latest(&mut connection)?;
        let recovered = Recovered {
            sessions: mark_orphaned_sessions_dead(&mut connection)?,
            process_groups: take_process_groups(&mut connection)?,
        };

        checkpointer::leave_to_the_checkpointer(&connection)?;
        let checkpointer = checkpointer::Checkpointer::start(path)?;
        let (writes, queue) = mpsc::channel(WRITE_QUEUE_CAPACITY);
        std::thread::Builder::new()
            .name("arbor-store-writer".into())
            .spawn(move || writer::run(connection, queue, hub, checkpointer))
            .map_err(|error| StoreError::WriteFailed(error.to_string()))?;
        let store =
            Store { inner: Arc::new(StoreInner { path: path.to_path_buf(), writes, readers: Mutex::new(Vec::new()) }) };
        Ok((store, recovered))
    }

    async fn enqueue(&self, op: WriteOp) -> Result<(), StoreError> {
        self.inner.writes.send(op).await.map_err(|_| StoreError::Closed)
    }

    /// Queues an event; it is published to subscribers once committed.
    pub async fn append_event(&self, event: Arc<SessionEventNotification>) -> Result<(), StoreError> {
        self.enqueue(WriteOp::AppendEvent { event, ledger: None, conversation: None }).await
    }

    /// Queues an event of a live session, whose actor learns from `ledger` whether it committed.
    pub async fn append_event_to(
        &self,
        event: Arc<SessionEventNotification>,
        ledger: Arc<Ledger>,
        conversation: Option<String>,
    ) -> Result<(), StoreError> {
        self.enqueue(WriteOp::AppendEvent { event, ledger: Some(ledger), conversation }).await
    }

    /// Queues a new session record; `session/changed` is published once committed.
    pub async fn insert_session(&self, session: Session) -> Result<(), StoreError> {
        self.enqueue(WriteOp::InsertSession(Box::new(session))).await
    }

    /// Queues an update of a stored session record; a deleted session stays deleted.
    /// `session/changed` is published once committed.
    pub async fn update_session(&self, session: Session) -> Result<(), StoreError> {
        self.enqueue(WriteOp::UpdateSession { session: Box::new(session), only_if: None, ledger: None }).await
    }

    /// Queues an update of a stored session record that applies only while its stored status is
    /// still `only_if` (so a stale read never undoes a stop or a start).
    pub async fn update_session_if(&self, session: Session, only_if: SessionStatus) -> Result<(), StoreError> {
        let op = WriteOp::UpdateSession { session: Box::new(session), only_if: Some(only_if), ledger: None };
        self.enqueue(op).await
    }

    /// Queues an update of a live session's record by its actor, which learns of a failure from
    /// `ledger`.
    pub async fn update_session_of(&self, session: Session, ledger: Arc<Ledger>) -> Result<(), StoreError> {
        self.enqueue(WriteOp::UpdateSession { session: Box::new(session), only_if: None, ledger: Some(ledger) }).await
    }

    /// Queues the deletion of a session and its events.
    pub async fn delete_session(&self, session: Session) -> Result<(), StoreError> {
        self.enqueue(WriteOp::DeleteSession(Box::new(session))).await
    }

    /// Queues copying `from`'s events up to `up_to_seq` into `to` (which must have none yet).
    pub async fn copy_events(&self, from: Uuid, to: Uuid, up_to_seq: u64) -> Result<(), StoreError> {
        self.enqueue(WriteOp::CopyEvents { from, to, up_to_seq }).await
    }

    /// Queues remembering rejected hunks.
    pub async fn reject_hunks(&self, session_id: Uuid, hunks: Vec<RejectedHunk>) -> Result<(), StoreError> {
        self.enqueue(WriteOp::RejectHunks { session_id, hunks }).await
    }

    /// Queues a task record; `task/changed` is published once committed.
    pub async fn put_task(&self, task: Task) -> Result<(), StoreError> {
        self.enqueue(WriteOp::PutTask(Box::new(task))).await
    }

    /// Queues appending permission rules to a task's.
    pub async fn add_task_rules(&self, task_id: Uuid, rules: Vec<PermissionRule>) -> Result<(), StoreError> {
        self.enqueue(WriteOp::AddTaskRules { task_id, rules }).await
    }

    /// Queues a trial record.
    pub async fn put_trial(&self, trial: Trial) -> Result<(), StoreError> {
        self.enqueue(WriteOp::PutTrial(Box::new(trial))).await
    }

    /// Queues adding a session to the admission queue.
    pub async fn enqueue_session(&self, entry: QueueEntry) -> Result<(), StoreError> {
        self.enqueue(WriteOp::Enqueue(entry)).await
    }

    /// Queues taking a session off the admission queue.
    pub async fn dequeue_session(&self, session_id: Uuid) -> Result<(), StoreError> {
        self.enqueue(WriteOp::Dequeue(session_id)).await
    }

    /// Queues recording the process group a session's agent now runs in (replacing any before).
    pub async fn record_process_group(&self, record: ProcessGroupRecord) -> Result<(), StoreError> {
        self.enqueue(WriteOp::RecordProcessGroup(record)).await
    }

    /// Queues forgetting a session's process group, once it has been ended.
    pub async fn clear_process_group(&self, session_id: Uuid) -> Result<(), StoreError> {
        self.enqueue(WriteOp::ClearProcessGroup(session_id)).await
    }

    /// Waits until everything queued so far has committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (reply, done) = oneshot::channel();
        self.enqueue(WriteOp::Flush(reply)).await?;
        done.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `read` on a reader connection in the blocking pool.
    async fn read<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner.readers.lock().expect("reader pool poisoned").pop();
            let connection = match pooled {
                Some(connection) => connection,
                None => open_connection(&inner.path)?,
            };
            let result = read(&connection);
            inner.readers.lock().expect("reader pool poisoned").push(connection);
            result
        })
        .await
        .map_err(|error| StoreError::Task(error.to_string()))?
    }

    /// One session, if it exists.
    pub async fn get_session(&self, id: Uuid) -> Result<Option<Session>, StoreError> {
        self.read(move |connection| {
            let row = connection
                .query_row(&format!("SELECT {SESSION_SELECT} FROM sessions WHERE id = ?1"), [id.to_string()], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })
                .optional()?;
            row.map(decode_session).transpose()
        })
        .await
    }

    /// Sessions matching the filter: pinned first in pin order, then newest update first.
    pub async fn list_sessions(&self, filter: ListSessionsParams) -> Result<(Vec<Session>, u32), StoreError> {
        self.read(move |connection| {
            let mut conditions = Vec::new();
            let mut values: Vec<SqlValue> = Vec::new();
            if !filter.include_hidden {
                conditions.push("hidden = 0".to_string());
            }
            if let Some(query) = filter.query.as_deref().filter(|query| !query.trim().is_empty()) {
                conditions.push("instr(search_text, ?) > 0".to_string());
                values.push(SqlValue::Text(query.trim().to_lowercase()));
            }
            if let Some(agent) = &filter.agent {
                conditions.push("agent = ?".to_string());
                values.push(SqlValue::Text(agent.clone()));
            }
            if let Some(statuses) = &filter.status {
                let placeholders = vec!["?"; statuses.len()].join(", ");
                conditions.push(format!("status IN ({placeholders})"));
                values.extend(statuses.iter().map(|status| SqlValue::Text(status.as_str().into())));
            }
            let where_clause =
                if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
            let total: u32 = connection.query_row(
                &format!("SELECT count(*) FROM sessions {where_clause}"),
                params_from_iter(values.iter()),
                |row| row.get(0),
            )?;
            let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
            let offset = filter.offset.unwrap_or(0);
            let mut statement = connection.prepare(&format!(
                "SELECT {SESSION_SELECT} FROM sessions {where_clause}
                 ORDER BY pinned_at IS NULL, pin_order IS NULL, pin_order, pinned_at, updated_at DESC, created_at DESC
                 LIMIT {limit} OFFSET {offset}"
            ))?;
            let rows = statement.query_map(params_from_iter(values.iter()), |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })?;
            let mut sessions = Vec::new();
            for row in rows {
                sessions.push(decode_session(row?)?);
            }
            Ok((sessions, total))
        })
        .await
    }

    /// Up to `limit` events of a session with seq greater than `after_seq`, in order, rendered
    /// for clients straight from their stored payloads (nothing is decoded).
    pub async fn rendered_events_after(
        &self,
        session_id: Uuid,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<RenderedEvent>, StoreError> {
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(EVENTS_AFTER)?;
            let rows =
                statement.query_map(rusqlite::params![session_id.to_string(), seq_bound(after_seq), limit], |row| {
                    let payload = row.get_ref(2)?.as_str().map_err(|error| {
                        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(error))
                    })?;
                    Ok(RenderedEvent::new(session_id, row.get::<_, i64>(0)? as u64, row.get(1)?, payload))
                })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Up to `limit` events of a session with seq greater than `after_seq`, in order.
    pub async fn events_after(
        &self,
        session_id: Uuid,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<SessionEventNotification>, StoreError> {
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(EVENTS_AFTER)?;
            let rows = statement
                .query_map(rusqlite::params![session_id.to_string(), seq_bound(after_seq), limit], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, String>(2)?))
                })?;
            let mut events = Vec::new();
            for row in rows {
                let (seq, at, payload) = row?;
                let event: SessionEvent = serde_json::from_str(&payload)?;
                events.push(SessionEventNotification { session_id, seq: seq as u64, at, event });
            }
            Ok(events)
        })
        .await
    }

    /// Number of other sessions that work in `cwd` (a session resumed as a new one shares its
    /// parent's worktree).
    pub async fn other_sessions_in(&self, cwd: String, except: Uuid) -> Result<u32, StoreError> {
        self.read(move |connection| {
            Ok(connection.query_row(
                "SELECT count(*) FROM sessions WHERE id != ?1 AND json_extract(data, '$.cwd') = ?2",
                rusqlite::params![except.to_string(), cwd],
                |row| row.get(0),
            )?)
        })
        .await
    }

    /// A session's checkpoints, oldest first.
    pub async fn checkpoints(&self, session_id: Uuid) -> Result<Vec<CheckpointEntry>, StoreError> {
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT seq, at, payload FROM events WHERE session_id = ?1 AND kind = 'checkpoint' ORDER BY seq",
            )?;
            let rows = statement.query_map([session_id.to_string()], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, String>(2)?))
            })?;
            let mut checkpoints = Vec::new();
            for row in rows {
                let (seq, at, payload) = row?;
                if let SessionEvent::Checkpoint(checkpoint) = serde_json::from_str(&payload)? {
                    checkpoints.push(CheckpointEntry { seq: seq as u64, at, checkpoint });
                }
            }
            Ok(checkpoints)
        })
        .await
    }

    /// Hunks rejected in a session, oldest first.
    pub async fn rejected_hunks(&self, session_id: Uuid) -> Result<Vec<RejectedHunk>, StoreError> {
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT hunk_id, path, header, at FROM rejected_hunks WHERE session_id = ?1 ORDER BY at, path",
            )?;
            let rows = statement.query_map([session_id.to_string()], |row| {
                Ok(RejectedHunk { id: row.get(0)?, path: row.get(1)?, header: row.get(2)?, at: row.get(3)? })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Every session's working directory and isolation, for finding orphaned worktrees.
    pub async fn session_directories(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|connection| {
            let mut statement = connection
                .prepare("SELECT json_extract(data, '$.cwd'), json_extract(data, '$.repoRoot') FROM sessions")?;
            let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// One task, with its permission rules.
    pub async fn get_task(&self, id: Uuid) -> Result<Option<Task>, StoreError> {
        self.read(move |connection| {
            let task: Option<Task> = json_row(connection, "SELECT data FROM tasks WHERE id = ?1", id)?;
            task.map(|task| with_rules(connection, task)).transpose()
        })
        .await
    }

    /// Every task, newest first, with its permission rules.
    pub async fn list_tasks(&self) -> Result<Vec<Task>, StoreError> {
        self.read(|connection| {
            let tasks: Vec<Task> = json_rows(connection, "SELECT data FROM tasks ORDER BY created_at DESC", [])?;
            tasks.into_iter().map(|task| with_rules(connection, task)).collect()
        })
        .await
    }

    /// A task's permission rules, in the order they were added.
    pub async fn task_rules(&self, task_id: Uuid) -> Result<Vec<PermissionRule>, StoreError> {
        self.read(move |connection| task_rules(connection, task_id)).await
    }

    /// One trial.
    pub async fn get_trial(&self, id: Uuid) -> Result<Option<Trial>, StoreError> {
        self.read(move |connection| json_row(connection, "SELECT data FROM trials WHERE id = ?1", id)).await
    }

    /// A task's trials, in order.
    pub async fn trials_of(&self, task_id: Uuid) -> Result<Vec<Trial>, StoreError> {
        self.read(move |connection| {
            let sql = "SELECT data FROM trials WHERE task_id = ?1 ORDER BY created_at, rowid";
            json_rows(connection, sql, [task_id.to_string()])
        })
        .await
    }

    /// The admission queue, in order.
    pub async fn queue(&self) -> Result<Vec<QueueEntry>, StoreError> {
        self.read(|connection| {
            let mut statement = connection.prepare(
                "SELECT session_id, agent, resume, prompt, enqueued_at FROM queue ORDER BY enqueued_at, rowid",
            )?;
            let rows = statement.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
            })?;
            let mut entries = Vec::new();
            for row in rows {
                let (id, agent, resume, prompt, enqueued_at) = row?;
                let session_id = Uuid::parse_str(&id).map_err(|error| StoreError::WriteFailed(error.to_string()))?;
                entries.push(QueueEntry { session_id, agent, resume, prompt, enqueued_at });
            }
            Ok(entries)
        })
        .await
    }

    /// Every pinned session, in pin order.
    pub async fn pinned_sessions(&self) -> Result<Vec<Session>, StoreError> {
        self.read(|connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {SESSION_SELECT} FROM sessions WHERE pinned_at IS NOT NULL
                 ORDER BY pin_order IS NULL, pin_order, pinned_at"
            ))?;
            let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))?;
            let mut sessions = Vec::new();
            for row in rows {
                sessions.push(decode_session(row?)?);
            }
            Ok(sessions)
        })
        .await
    }

    /// The place a new pin takes: after every pinned session.
    pub async fn next_pin_order(&self) -> Result<u32, StoreError> {
        self.read(|connection| {
            Ok(connection.query_row(
                "SELECT coalesce(max(pin_order) + 1, 0) FROM sessions WHERE pinned_at IS NOT NULL",
                [],
                |row| row.get(0),
            )?)
        })
        .await
    }
}

fn task_rules(connection: &Connection, task_id: Uuid) -> Result<Vec<PermissionRule>, StoreError> {
    json_rows(connection, "SELECT rule FROM task_rules WHERE task_id = ?1 ORDER BY rowid", [task_id.to_string()])
}

/// The task with its rules from `task_rules`, their authority (a copy in the task's JSON is ignored).
fn with_rules(connection: &Connection, mut task: Task) -> Result<Task, StoreError> {
    task.permissions = task_rules(connection, task.id)?;
    Ok(task)
}

/// A server that died (SIGKILL, power loss) leaves sessions recorded as live that no process
/// serves any more. They are marked `dead` (resumable) with a status_changed event, before any
/// client can read them, so nothing is ever shown as running when it is not.
fn mark_orphaned_sessions_dead(connection: &mut Connection) -> Result<Vec<Session>, StoreError> {
    let live: Vec<&str> =
        SessionStatus::ALL.iter().filter(|status| status.is_live()).map(|status| status.as_str()).collect();
    let placeholders = vec!["?"; live.len()].join(", ");
    let transaction = connection.transaction()?;
    let mut orphans = Vec::new();
    {
        let mut statement = transaction.prepare(&format!(
            "SELECT {SESSION_SELECT} FROM sessions WHERE status IN ({placeholders})
                 AND id NOT IN (SELECT session_id FROM queue)"
        ))?;
        let rows = statement
            .query_map(params_from_iter(live.iter()), |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))?;
        for row in rows {
            orphans.push(decode_session(row?)?);
        }
    }
    let now = crate::clock::now_millis();
    for session in &mut orphans {
        let reason = format!("the Arbor server stopped while this session was {}", session.status.as_str());
        session.status = SessionStatus::Dead;
        session.agent_state = None;
        session.status_reason = Some(reason.clone());
        session.last_seq += 1;
        session.updated_at = now;
        let event =
            SessionEvent::StatusChanged { status: SessionStatus::Dead, agent_state: None, reason: Some(reason) };
        transaction.execute(
            "INSERT INTO events (session_id, seq, at, kind, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![
                session.id.to_string(),
                session.last_seq as i64,
                now,
                event.kind(),
                serde_json::to_string(&event)?
            ],
        )?;
        writer::update_session(&transaction, session, None)?;
    }
    transaction.commit()?;
    Ok(orphans)
}

/// Takes every recorded process group off the record: at open, no session of this server runs
/// yet, so each one was left by a server that died before it could end it.
fn take_process_groups(connection: &mut Connection) -> Result<Vec<ProcessGroupRecord>, StoreError> {
    let transaction = connection.transaction()?;
    let records = {
        let mut statement =
            transaction.prepare("SELECT session_id, process_group, leader_start_time FROM process_groups")?;
        let rows = statement
            .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i32>(1)?, row.get::<_, i64>(2)?)))?;
        let mut records = Vec::new();
        for row in rows {
            let (session_id, process_group, leader_start_time) = row?;
            // A row that does not decode names no session to check processes against; it is
            // dropped with the rest rather than stopping the server from opening.
            match Uuid::parse_str(&session_id) {
                Ok(session_id) => records.push(ProcessGroupRecord {
                    session_id,
                    process_group,
                    leader_start_time: leader_start_time as u64,
                }),
                Err(error) => tracing::warn!(%error, "ignoring a recorded process group with a bad session id"),
            }
        }
        records
    };
    transaction.execute("DELETE FROM process_groups", [])?;
    transaction.commit()?;
    Ok(records)
}
