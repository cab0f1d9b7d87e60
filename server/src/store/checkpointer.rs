//! Checkpoints of the store's write-ahead log, on a thread of their own. SQLite's automatic
//! checkpoint runs inside the commit that grows the log past its threshold, so every few seconds
//! of steady streaming one commit also copied the log into the database and synced it, and every
//! event waiting behind that commit waited for the disk (the tail of `stream-bench steady`). The
//! writer's connection therefore does not checkpoint; after its commits it wakes this thread, which
//! checkpoints passively (never blocking the writer) at most once per [`CHECKPOINT_EVERY`], and
//! only when the log has outgrown [`FORCE_PAGES`] despite that does it wait for the writer to let
//! it finish. A checkpoint only moves committed pages; the log alone is already durable.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

use super::{StoreError, open_connection};

/// The shortest time between two checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// Pages (4 KiB each) in the log beyond which a checkpoint waits for the writer, so that a log a
/// long flood keeps busy cannot grow without bound.
const FORCE_PAGES: i64 = 16_384;

/// The writer's handle on the checkpointing thread, which ends when this is dropped.
pub(super) struct Checkpointer {
    wake: mpsc::SyncSender<()>,
}

impl Checkpointer {
    /// Starts the thread, with its own connection to the database at `path`.
    pub(super) fn start(path: &Path) -> Result<Checkpointer, StoreError> {
        let connection = open_connection(path)?;
        let (wake, woken) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("arbor-store-checkpoint".into())
            .spawn(move || run(connection, woken))
            .map_err(|error| StoreError::WriteFailed(error.to_string()))?;
        Ok(Checkpointer { wake })
    }

    /// Tells the thread the log has grown. Never blocks: a wake-up already pending covers this.
    pub(super) fn committed(&self) {
        let _ = self.wake.try_send(());
    }
}

fn run(connection: Connection, woken: mpsc::Receiver<()>) {
    while woken.recv().is_ok() {
        match checkpoint(&connection, "PASSIVE") {
            Ok(pages) if pages > FORCE_PAGES => {
                if let Err(error) = checkpoint(&connection, "RESTART") {
                    tracing::warn!(%error, pages, "the store's log could not be checkpointed");
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "the store's log could not be checkpointed"),
        }
        std::thread::sleep(CHECKPOINT_EVERY);
    }
}

/// Runs one checkpoint in `mode` and returns the pages in the log.
fn checkpoint(connection: &Connection, mode: &str) -> rusqlite::Result<i64> {
    connection.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| row.get(1))
}

/// Turns off the checkpoints SQLite would run inside the writer's commits.
pub(super) fn leave_to_the_checkpointer(writer: &Connection) -> rusqlite::Result<()> {
    writer.pragma_update(None, "wal_autocheckpoint", 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_copied_into_the_database_while_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let writer = open_connection(&path).unwrap();
        leave_to_the_checkpointer(&writer).unwrap();
        writer.execute_batch("CREATE TABLE rows (body TEXT)").unwrap();
        let size = || std::fs::metadata(&path).unwrap().len();
        let empty = size();
        let checkpointer = Checkpointer::start(&path).unwrap();
        for _ in 0..200 {
            writer.execute("INSERT INTO rows VALUES (?1)", ["x".repeat(4096)]).unwrap();
            checkpointer.committed();
        }
        // Without the checkpointer the database file would keep its size until the last
        // connection closed: everything written is in the log.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while size() < empty + 200 * 4096 {
            assert!(std::time::Instant::now() < deadline, "the log was not checkpointed");
            checkpointer.committed();
            std::thread::sleep(Duration::from_millis(50));
        }
        let rows: i64 = writer.query_row("SELECT count(*) FROM rows", [], |row| row.get(0)).unwrap();
        assert_eq!(rows, 200);
    }
}
