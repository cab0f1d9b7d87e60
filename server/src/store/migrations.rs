//! Schema migrations, applied in order on every open. Never edit a released migration; add one.
//!
//! The rows hold the protocol's JSON of the stored types (a session, a task, a trial, a rule, an
//! event), so a change to how those types serialise is a change to every database on disk. It is
//! pinned: `stored-format/rows-N.json` holds rows exactly as a release stored them (with the
//! migration level they were stored at), and tests/tests/store_format.rs fails when the types no
//! longer write the newest of them byte for byte (a rename, a removed or added field) or when a
//! database of any pinned format no longer opens and reads. A change that fails it gets a new
//! fixture beside the old ones (`UPDATE_STORE_FORMAT=1` writes it as the types now read and write
//! the newest) and, when the old rows no longer read, a migration rewriting them.

use rusqlite_migration::{M, Migrations};

/// Every migration of the store, oldest first. Public so tests can make a database of an older
/// level.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            "CREATE TABLE sessions (
            id TEXT PRIMARY KEY NOT NULL,
            -- The whole Session record as protocol JSON; the columns below are copies for queries.
            data TEXT NOT NULL,
            status TEXT NOT NULL,
            agent TEXT NOT NULL,
            search_text TEXT NOT NULL,
            pinned_at INTEGER,
            hidden INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        );
        CREATE INDEX sessions_by_update ON sessions (updated_at DESC);
        CREATE TABLE events (
            session_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            at INTEGER NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            PRIMARY KEY (session_id, seq)
        ) WITHOUT ROWID;",
        ),
        M::up(
            "CREATE TABLE rejected_hunks (
            session_id TEXT NOT NULL,
            hunk_id TEXT NOT NULL,
            path TEXT NOT NULL,
            header TEXT NOT NULL,
            at INTEGER NOT NULL,
            PRIMARY KEY (session_id, hunk_id)
        ) WITHOUT ROWID;",
        ),
        M::up(
            "CREATE TABLE tasks (
            id TEXT PRIMARY KEY NOT NULL,
            data TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE trials (
            id TEXT PRIMARY KEY NOT NULL,
            task_id TEXT NOT NULL,
            data TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX trials_by_task ON trials (task_id, created_at);
        -- Sessions waiting for a free slot, in order; they survive a restart.
        CREATE TABLE queue (
            session_id TEXT PRIMARY KEY NOT NULL,
            agent TEXT NOT NULL,
            resume TEXT,
            prompt TEXT,
            enqueued_at INTEGER NOT NULL
        );",
        ),
        M::up(
            "-- A task's permission rules, in order: those given to task/new, then the
        -- \"allow always\" answers given in its trials. Appended, never rewritten.
        CREATE TABLE task_rules (
            task_id TEXT NOT NULL,
            rule TEXT NOT NULL,
            added_at INTEGER NOT NULL
        );
        CREATE INDEX task_rules_by_task ON task_rules (task_id);",
        ),
        M::up(
            "-- The process group each running session's agent leads, so that the server starting after
        -- a crash can end what the dead one left. The leader's start time (clock ticks after boot,
        -- from /proc) tells the group from a later one that reused the id.
        CREATE TABLE process_groups (
            session_id TEXT PRIMARY KEY NOT NULL,
            process_group INTEGER NOT NULL,
            leader_start_time INTEGER NOT NULL
        ) WITHOUT ROWID;",
        ),
        M::up(
            "-- Pinned sessions' order as the user arranged it (session/pinOrder), a copy of the
        -- record's pinOrder; pins made before it are numbered in the order they were made.
        ALTER TABLE sessions ADD COLUMN pin_order INTEGER;
        UPDATE sessions SET pin_order = (
            SELECT count(*) FROM sessions AS earlier
            WHERE earlier.pinned_at IS NOT NULL AND earlier.pinned_at < sessions.pinned_at
        ) WHERE pinned_at IS NOT NULL;
        UPDATE sessions SET data = json_set(data, '$.pinOrder', pin_order) WHERE pin_order IS NOT NULL;",
        ),
    ])
}
