//! The store's single writer: a thread that drains a bounded queue, applies as many operations as
//! are waiting in one transaction, commits, and only then publishes what it committed.

use std::sync::Arc;

use arbor_protocol::{
    PermissionRule, RejectedHunk, Session, SessionChangedNotification, SessionEventNotification, Task, Trial,
};
use rusqlite::{Connection, params};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{ProcessGroupRecord, QueueEntry, StoreError, session_columns};
use crate::hub::Hub;

/// Operations beyond this many wait for the next transaction, which bounds commit latency.
const MAX_BATCH: usize = 512;

/// One write, queued for the writer thread.
pub(super) enum WriteOp {
    /// Append an event; publish it once committed.
    AppendEvent(Arc<SessionEventNotification>),
    /// Insert or replace a session record; publish `session/changed` once committed.
    PutSession(Box<Session>),
    /// Delete a session and its events; publish the deletion once committed.
    DeleteSession(Box<Session>),
    /// Copy a session's events up to a seq into a new session (a fork's history).
    CopyEvents { from: Uuid, to: Uuid, up_to_seq: u64 },
    /// Remember hunks the user rejected.
    RejectHunks { session_id: Uuid, hunks: Vec<RejectedHunk> },
    /// Insert or replace a task.
    PutTask(Box<Task>),
    /// Insert or replace a trial.
    PutTrial(Box<Trial>),
    /// Append permission rules to a task's.
    AddTaskRules { task_id: Uuid, rules: Vec<PermissionRule> },
    /// Add a session to the admission queue.
    Enqueue(QueueEntry),
    /// Take a session off the admission queue.
    Dequeue(Uuid),
    /// Record the process group a session's agent now runs in.
    RecordProcessGroup(ProcessGroupRecord),
    /// Forget a session's process group (it has been ended).
    ClearProcessGroup(Uuid),
    /// Answer once everything queued before it has committed (or failed).
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

/// What a committed batch publishes, in commit order.
enum Published {
    Event(Arc<SessionEventNotification>),
    Changed(Arc<SessionChangedNotification>),
    Task(Arc<Task>),
}

pub(super) fn run(mut connection: Connection, mut queue: mpsc::Receiver<WriteOp>, hub: Arc<Hub>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let result = apply_batch(&mut connection, &mut batch);
        let failure = result.as_ref().err().map(|error| error.to_string());
        match result {
            Ok(published) => {
                for item in published {
                    match item {
                        Published::Event(event) => hub.publish_event(event),
                        Published::Changed(change) => hub.publish_change(change),
                        Published::Task(task) => hub.publish_task(task),
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, "store write failed; the batch was not committed")
            }
        }
        for op in batch.drain(..) {
            if let WriteOp::Flush(reply) = op {
                let _ = reply.send(match &failure {
                    None => Ok(()),
                    Some(message) => Err(StoreError::WriteFailed(message.clone())),
                });
            }
        }
    }
}

fn apply_batch(connection: &mut Connection, batch: &mut [WriteOp]) -> Result<Vec<Published>, StoreError> {
    let transaction = connection.transaction()?;
    let mut published = Vec::with_capacity(batch.len());
    for op in batch.iter() {
        match op {
            WriteOp::AppendEvent(event) => {
                let payload = serde_json::to_string(&event.event)?;
                transaction
                    .prepare_cached(
                        "INSERT INTO events (session_id, seq, at, kind, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![
                        event.session_id.to_string(),
                        event.seq as i64,
                        event.at,
                        event.event.kind(),
                        payload
                    ])?;
                published.push(Published::Event(event.clone()));
            }
            WriteOp::PutSession(session) => {
                put_session(&transaction, session)?;
                published.push(Published::Changed(Arc::new(SessionChangedNotification {
                    session: (**session).clone(),
                    deleted: false,
                })));
            }
            WriteOp::DeleteSession(session) => {
                delete_session(&transaction, &session.id)?;
                published.push(Published::Changed(Arc::new(SessionChangedNotification {
                    session: (**session).clone(),
                    deleted: true,
                })));
            }
            WriteOp::CopyEvents { from, to, up_to_seq } => {
                transaction.execute(
                    "INSERT INTO events (session_id, seq, at, kind, payload)
                     SELECT ?2, seq, at, kind, payload FROM events WHERE session_id = ?1 AND seq <= ?3",
                    params![from.to_string(), to.to_string(), *up_to_seq as i64],
                )?;
            }
            WriteOp::RejectHunks { session_id, hunks } => {
                for hunk in hunks {
                    transaction.execute(
                        "INSERT OR REPLACE INTO rejected_hunks (session_id, hunk_id, path, header, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![session_id.to_string(), hunk.id, hunk.path, hunk.header, hunk.at],
                    )?;
                }
            }
            WriteOp::PutTask(task) => {
                transaction.execute(
                    "INSERT OR REPLACE INTO tasks (id, data, created_at) VALUES (?1, ?2, ?3)",
                    params![task.id.to_string(), serde_json::to_string(&**task)?, task.created_at],
                )?;
                published.push(Published::Task(Arc::new((**task).clone())));
            }
            WriteOp::PutTrial(trial) => {
                transaction.execute(
                    "INSERT OR REPLACE INTO trials (id, task_id, data, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        trial.id.to_string(),
                        trial.task_id.to_string(),
                        serde_json::to_string(&**trial)?,
                        trial.created_at
                    ],
                )?;
            }
            WriteOp::AddTaskRules { task_id, rules } => {
                let now = crate::clock::now_millis();
                for rule in rules {
                    transaction
                        .prepare_cached("INSERT INTO task_rules (task_id, rule, added_at) VALUES (?1, ?2, ?3)")?
                        .execute(params![task_id.to_string(), serde_json::to_string(rule)?, now])?;
                }
            }
            WriteOp::Enqueue(entry) => {
                transaction.execute(
                    "INSERT OR REPLACE INTO queue (session_id, agent, resume, prompt, enqueued_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![entry.session_id.to_string(), entry.agent, entry.resume, entry.prompt, entry.enqueued_at],
                )?;
            }
            WriteOp::Dequeue(session_id) => {
                transaction.execute("DELETE FROM queue WHERE session_id = ?1", [session_id.to_string()])?;
            }
            WriteOp::RecordProcessGroup(record) => {
                transaction.execute(
                    "INSERT OR REPLACE INTO process_groups (session_id, process_group, leader_start_time) VALUES (?1, ?2, ?3)",
                    params![record.session_id.to_string(), record.process_group, record.leader_start_time as i64],
                )?;
            }
            WriteOp::ClearProcessGroup(session_id) => {
                transaction.execute("DELETE FROM process_groups WHERE session_id = ?1", [session_id.to_string()])?;
            }
            WriteOp::Flush(_) => {}
        }
    }
    transaction.commit()?;
    Ok(published)
}

pub(super) fn put_session(connection: &Connection, session: &Session) -> Result<(), StoreError> {
    let columns = session_columns(session)?;
    connection
        .prepare_cached(
            "INSERT INTO sessions (id, data, status, agent, search_text, pinned_at, hidden, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (id) DO UPDATE SET data = ?2, status = ?3, agent = ?4, search_text = ?5,
               pinned_at = ?6, hidden = ?7, updated_at = ?9",
        )?
        .execute(params![
            session.id.to_string(),
            columns.data,
            session.status.as_str(),
            session.agent,
            columns.search_text,
            columns.pinned_at,
            session.hidden,
            session.created_at,
            session.updated_at
        ])?;
    Ok(())
}

fn delete_session(connection: &Connection, id: &Uuid) -> Result<(), StoreError> {
    connection.execute("DELETE FROM events WHERE session_id = ?1", [id.to_string()])?;
    connection.execute("DELETE FROM rejected_hunks WHERE session_id = ?1", [id.to_string()])?;
    connection.execute("DELETE FROM queue WHERE session_id = ?1", [id.to_string()])?;
    connection.execute("DELETE FROM process_groups WHERE session_id = ?1", [id.to_string()])?;
    connection.execute("DELETE FROM sessions WHERE id = ?1", [id.to_string()])?;
    Ok(())
}
