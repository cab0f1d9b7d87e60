//! What the writer tells a live session's actor about its writes: the highest seq it committed,
//! and every write it could not commit. The actor keeps the events it queued until they are
//! committed, and holds the session when one fails (see `sessions::actor`).
//!
//! The writer also refuses, once an event of the session failed, every later seq until that one
//! is written again: a log can fall behind, but it can never get a hole.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

/// One session's write ledger, shared by its actor and the writer thread.
#[derive(Debug, Default)]
pub struct Ledger {
    /// The highest seq of this session the writer committed.
    committed: AtomicU64,
    /// The lowest seq that failed and has not been written since (0: none). Only the writer
    /// thread reads and writes it.
    refused_from: AtomicU64,
    /// How many writes of this session failed so far.
    failures: AtomicU64,
    /// Why the newest failure happened.
    last_failure: Mutex<Option<String>>,
    /// Woken on every failure.
    failed: Notify,
}

impl Ledger {
    /// A ledger for a session whose log already holds `committed` events.
    pub fn starting_at(committed: u64) -> Ledger {
        Ledger { committed: AtomicU64::new(committed), ..Ledger::default() }
    }

    /// The highest seq the writer committed.
    pub fn committed(&self) -> u64 {
        self.committed.load(Ordering::SeqCst)
    }

    /// How many writes failed so far; a change means a new failure.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::SeqCst)
    }

    /// Why the newest failure happened.
    pub fn last_failure(&self) -> Option<String> {
        self.last_failure.lock().expect("ledger poisoned").clone()
    }

    /// Completes at the next failure (at once when one happened since the last wait).
    pub async fn failed(&self) {
        self.failed.notified().await;
    }

    /// Whether the writer may try to write the event with `seq`: not when an earlier one failed
    /// and was not written again since, because committing `seq` would leave a hole.
    pub(super) fn admits(&self, seq: u64) -> bool {
        let refused_from = self.refused_from.load(Ordering::SeqCst);
        refused_from == 0 || seq <= refused_from
    }

    /// Records that the event with `seq` committed.
    pub(super) fn record_commit(&self, seq: u64) {
        self.committed.fetch_max(seq, Ordering::SeqCst);
        if self.refused_from.load(Ordering::SeqCst) == seq {
            self.refused_from.store(0, Ordering::SeqCst);
        }
    }

    /// Records a failed write (an event's when `seq` is given, else the session record's).
    pub(super) fn record_failure(&self, seq: Option<u64>, error: &str) {
        if let Some(seq) = seq {
            let refused_from = self.refused_from.load(Ordering::SeqCst);
            if refused_from == 0 || seq < refused_from {
                self.refused_from.store(seq, Ordering::SeqCst);
            }
        }
        *self.last_failure.lock().expect("ledger poisoned") = Some(error.to_string());
        self.failures.fetch_add(1, Ordering::SeqCst);
        self.failed.notify_one();
    }
}
