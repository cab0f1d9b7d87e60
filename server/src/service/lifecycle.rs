//! One lock per session serialising the requests that change whether it runs (stop, resume,
//! delete), so none of them acts on a state another one is changing: a resume cannot start an
//! agent in a worktree a delete is removing, and a stop cannot miss a session being admitted.

use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::{Mutex, OwnedMutexGuard};
use uuid::Uuid;

/// The lifecycle locks, by session. The map holds the locks, never a guard.
#[derive(Default)]
pub(super) struct LifecycleLocks(DashMap<Uuid, Arc<Mutex<()>>>);

impl LifecycleLocks {
    /// Waits for the session's lock; the session's lifecycle is this caller's until it drops the
    /// guard.
    pub(super) async fn hold(&self, id: Uuid) -> OwnedMutexGuard<()> {
        // The map's entry guard is dropped at the end of this statement, before awaiting.
        let lock = self.0.entry(id).or_default().clone();
        lock.lock_owned().await
    }
}
