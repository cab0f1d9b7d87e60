//! Fan-out of committed events and session changes to whoever watches them.
//!
//! Only the store's writer publishes here, and only after the transaction holding the event has
//! committed, so a client can never see an event the store does not have. Events travel rendered
//! ([`RenderedEvent`]): the one body is shared by every subscriber.

use std::sync::Arc;

use arbor_protocol::{SessionChangedNotification, Task};
use dashmap::DashMap;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::store::RenderedEvent;

/// Capacity of each session's live channel. A subscriber that falls further behind than this
/// re-reads the gap from the store, so the bound costs a query, never an event.
const SESSION_CHANNEL_CAPACITY: usize = 1024;
/// Capacity of the channel of session summaries.
const CHANGED_CHANNEL_CAPACITY: usize = 1024;

/// Broadcast channels: one per session for its events, one for every session's summary.
pub struct Hub {
    sessions: DashMap<Uuid, broadcast::Sender<Arc<RenderedEvent>>>,
    changed: broadcast::Sender<Arc<SessionChangedNotification>>,
    tasks: broadcast::Sender<Arc<Task>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            sessions: DashMap::new(),
            changed: broadcast::channel(CHANGED_CHANNEL_CAPACITY).0,
            tasks: broadcast::channel(CHANGED_CHANNEL_CAPACITY).0,
        }
    }
}

impl Hub {
    /// Starts receiving a session's events from now on.
    pub fn subscribe_events(&self, session_id: Uuid) -> broadcast::Receiver<Arc<RenderedEvent>> {
        self.sessions.entry(session_id).or_insert_with(|| broadcast::channel(SESSION_CHANNEL_CAPACITY).0).subscribe()
    }

    /// Starts receiving every session's summary changes.
    pub fn subscribe_changes(&self) -> broadcast::Receiver<Arc<SessionChangedNotification>> {
        self.changed.subscribe()
    }

    /// Starts receiving every task change.
    pub fn subscribe_tasks(&self) -> broadcast::Receiver<Arc<Task>> {
        self.tasks.subscribe()
    }

    /// Sends a committed task change to every client.
    pub fn publish_task(&self, task: Arc<Task>) {
        let _ = self.tasks.send(task);
    }

    /// Sends a committed event to the session's subscribers.
    pub fn publish_event(&self, event: Arc<RenderedEvent>) {
        if let Some(sender) = self.sessions.get(&event.session_id) {
            // No receivers is normal: nobody is watching this session.
            let _ = sender.send(event);
        }
    }

    /// Sends a committed session change to every client.
    pub fn publish_change(&self, change: Arc<SessionChangedNotification>) {
        if change.deleted {
            self.sessions.remove(&change.session.id);
        }
        let _ = self.changed.send(change);
    }
}
