//! The store's single writer: a thread that drains a bounded queue, applies as many operations as
//! are waiting in one transaction, commits, and only then publishes what it committed. When a
//! batch fails (a full disk, a bad record) its operations are tried again one by one, so one
//! failing operation takes no other with it, and each failure is told to the session's
//! [`Ledger`] it belongs to.

use std::sync::Arc;

use arbor_protocol::{
    PermissionRule, RejectedHunk, Session, SessionChangedNotification, SessionEventNotification, SessionStatus, Task,
    Trial,
};
use rusqlite::{Connection, params};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::checkpointer::Checkpointer;
use super::{Ledger, ProcessGroupRecord, QueueEntry, RenderedEvent, StoreError, session_columns};
use crate::hub::Hub;

/// Operations beyond this many wait for the next transaction, which bounds commit latency.
pub(super) const MAX_BATCH: usize = 512;

/// One write, queued for the writer thread.
pub(super) enum WriteOp {
    /// Append an event; publish it once committed. A live session's actor passes its ledger.
    /// With `conversation`, the session's `agentSessionId` becomes it in the same transaction:
    /// an event relayed from a host's Arbor and the host seq it was relayed at commit together,
    /// so a reconnect asks for exactly the events after it.
    AppendEvent { event: Arc<SessionEventNotification>, ledger: Option<Arc<Ledger>>, conversation: Option<String> },
    /// Insert a new session record; publish `session/changed` once committed.
    InsertSession(Box<Session>),
    /// Update an existing session record (never re-inserting a deleted one), only while it has
    /// the status `only_if` when that is given; publish `session/changed` when a row changed.
    UpdateSession { session: Box<Session>, only_if: Option<SessionStatus>, ledger: Option<Arc<Ledger>> },
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
    /// Answer once everything queued before it has committed, with the first failure of its
    /// batch if one failed.
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

impl WriteOp {
    /// The ledger to tell about this write and the event seq it concerns, if any.
    fn ledger(&self) -> Option<(&Ledger, Option<u64>)> {
        match self {
            WriteOp::AppendEvent { event, ledger: Some(ledger), .. } => Some((ledger, Some(event.seq))),
            WriteOp::UpdateSession { ledger: Some(ledger), .. } => Some((ledger, None)),
            _ => None,
        }
    }
}

/// What a committed batch publishes, in commit order.
enum Published {
    Event(Arc<RenderedEvent>),
    Changed(Arc<SessionChangedNotification>),
    Task(Arc<Task>),
}

pub(super) fn run(
    mut connection: Connection,
    mut queue: mpsc::Receiver<WriteOp>,
    hub: Arc<Hub>,
    checkpointer: Checkpointer,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let failure = match apply(&mut connection, &batch) {
            Ok(published) => {
                record_commits(&batch);
                publish(&hub, published);
                checkpointer.committed();
                None
            }
            Err(error) if batch.len() == 1 => {
                record_failure(&batch[0], &error);
                Some(error.to_string())
            }
            Err(error) => {
                tracing::warn!(%error, ops = batch.len(), "a store batch failed; writing its operations one by one");
                apply_one_by_one(&mut connection, &batch, &hub)
            }
        };
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

/// Applies each operation of a failed batch in its own transaction, so one failing operation
/// takes no other with it. Returns the first failure.
fn apply_one_by_one(connection: &mut Connection, batch: &[WriteOp], hub: &Hub) -> Option<String> {
    let mut first_failure = None;
    for op in batch {
        let single = std::slice::from_ref(op);
        match apply(connection, single) {
            Ok(published) => {
                record_commits(single);
                publish(hub, published);
            }
            Err(error) => {
                tracing::error!(%error, "a store write failed and was not committed");
                record_failure(op, &error);
                first_failure.get_or_insert_with(|| error.to_string());
            }
        }
    }
    first_failure
}

fn publish(hub: &Hub, published: Vec<Published>) {
    for item in published {
        match item {
            Published::Event(event) => hub.publish_event(event),
            Published::Changed(change) => hub.publish_change(change),
            Published::Task(task) => hub.publish_task(task),
        }
    }
}

fn record_commits(ops: &[WriteOp]) {
    for (ledger, seq) in ops.iter().filter_map(WriteOp::ledger) {
        if let Some(seq) = seq {
            ledger.record_commit(seq);
        }
    }
}

fn record_failure(op: &WriteOp, error: &StoreError) {
    if let Some((ledger, seq)) = op.ledger() {
        ledger.record_failure(seq, &error.to_string());
    }
}

/// Applies `ops` in one transaction and returns what to publish once it committed.
fn apply(connection: &mut Connection, ops: &[WriteOp]) -> Result<Vec<Published>, StoreError> {
    let transaction = connection.transaction()?;
    let mut published = Vec::with_capacity(ops.len());
    for op in ops {
        match op {
            WriteOp::AppendEvent { event, ledger, conversation } => {
                if ledger.as_ref().is_some_and(|ledger| !ledger.admits(event.seq)) {
                    return Err(StoreError::Held(event.seq));
                }
                let payload = serde_json::to_string(&event.event)?;
                // A session deleted meanwhile gets no events: its log is gone with it.
                let inserted = transaction
                    .prepare_cached(
                        "INSERT INTO events (session_id, seq, at, kind, payload)
                         SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?1)",
                    )?
                    .execute(params![
                        event.session_id.to_string(),
                        event.seq as i64,
                        event.at,
                        event.event.kind(),
                        payload
                    ])?;
                if inserted > 0 {
                    // Rendered here, once, from the payload just stored, for every subscriber.
                    let rendered = RenderedEvent::new(event.session_id, event.seq, event.at, &payload);
                    published.push(Published::Event(Arc::new(rendered)));
                    if let Some(conversation) = conversation {
                        transaction
                            .prepare_cached(
                                "UPDATE sessions SET data = json_set(data, '$.agentSessionId', ?2) WHERE id = ?1",
                            )?
                            .execute(params![event.session_id.to_string(), conversation])?;
                    }
                }
            }
            WriteOp::InsertSession(session) => {
                insert_session(&transaction, session)?;
                published.push(changed(session, false));
            }
            WriteOp::UpdateSession { session, only_if, .. } => {
                if update_session(&transaction, session, *only_if)? {
                    published.push(changed(session, false));
                }
            }
            WriteOp::DeleteSession(session) => {
                delete_session(&transaction, &session.id)?;
                published.push(changed(session, true));
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

fn changed(session: &Session, deleted: bool) -> Published {
    Published::Changed(Arc::new(SessionChangedNotification { session: session.clone(), deleted }))
}

fn insert_session(connection: &Connection, session: &Session) -> Result<(), StoreError> {
    let sql = "INSERT INTO sessions
                 (id, data, status, agent, search_text, pinned_at, hidden, updated_at, pin_order, created_at)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
    write_session(connection, sql, session, session.created_at)?;
    Ok(())
}

/// Updates a stored session record; false when no row changed (the session was deleted, or its
/// status is no longer `only_if`).
pub(super) fn update_session(
    connection: &Connection,
    session: &Session,
    only_if: Option<SessionStatus>,
) -> Result<bool, StoreError> {
    let sql = "UPDATE sessions SET data = ?2, status = ?3, agent = ?4, search_text = ?5, pinned_at = ?6, hidden = ?7,
                 updated_at = ?8, pin_order = ?9
               WHERE id = ?1 AND (?10 IS NULL OR status = ?10)";
    Ok(write_session(connection, sql, session, only_if.map(SessionStatus::as_str))? > 0)
}

/// Runs `sql` with a session's columns as ?1 to ?9 and `last` as ?10; returns the rows changed.
fn write_session(
    connection: &Connection,
    sql: &str,
    session: &Session,
    last: impl rusqlite::ToSql,
) -> Result<usize, StoreError> {
    let columns = session_columns(session)?;
    Ok(connection.prepare_cached(sql)?.execute(params![
        session.id.to_string(),
        columns.data,
        session.status.as_str(),
        session.agent,
        columns.search_text,
        columns.pinned_at,
        session.hidden,
        session.updated_at,
        columns.pin_order,
        last
    ])?)
}

fn delete_session(connection: &Connection, id: &Uuid) -> Result<(), StoreError> {
    connection.execute("DELETE FROM events WHERE session_id = ?1", [id.to_string()])?;
    connection.execute("DELETE FROM rejected_hunks WHERE session_id = ?1", [id.to_string()])?;
    connection.execute("DELETE FROM queue WHERE session_id = ?1", [id.to_string()])?;
    connection.execute("DELETE FROM process_groups WHERE session_id = ?1", [id.to_string()])?;
    connection.execute("DELETE FROM sessions WHERE id = ?1", [id.to_string()])?;
    Ok(())
}
