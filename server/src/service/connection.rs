//! One client connection's state: its session subscriptions and the forwarding of
//! `session/changed` and `task/changed`. The transport supplies a [`ClientSink`] that delivers
//! notifications.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use arbor_protocol::{
    Ack, NewSessionParams, ServerNotification, Session, SessionEventNotification, SessionIdParams, SubscribeParams,
    SubscribeResult, TaskChangedNotification,
};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::task::AbortHandle;
use uuid::Uuid;

use super::{Result, Service, ServiceError};
use crate::store::{RenderedEvent, Store};

/// Events read from the store per query while replaying or catching up.
const REPLAY_PAGE: u32 = 2000;

/// Delivers notifications to one client, in the order they are given.
pub trait ClientSink: Send + Sync + 'static {
    /// Sends one notification.
    fn notify(&self, notification: ServerNotification) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;

    /// Sends one `session/event`, already rendered. A transport that writes frames itself sends
    /// the shared body as it is; this default decodes the params for [`ClientSink::notify`].
    fn notify_event(&self, event: Arc<RenderedEvent>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let params: SessionEventNotification =
                serde_json::from_str(event.params()).expect("a rendered event is a session event");
            self.notify(ServerNotification::SessionEvent(params)).await
        })
    }
}

/// Forwards every snapshot the hub broadcasts on `receiver` to the client, as the notification
/// `notification` makes of it, until the hub closes. Snapshots are idempotent, so a lagging
/// client simply gets newer ones.
fn forward_snapshots<T: Clone + Send + 'static>(
    mut receiver: broadcast::Receiver<T>,
    sink: Arc<dyn ClientSink>,
    notification: impl Fn(T) -> ServerNotification + Send + 'static,
) -> AbortHandle {
    tokio::spawn(async move {
        loop {
            match receiver.recv().await {
                Ok(snapshot) => sink.notify(notification(snapshot)).await,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            }
        }
    })
    .abort_handle()
}

/// A client's view of the service.
pub struct Connection {
    service: Arc<Service>,
    sink: Arc<dyn ClientSink>,
    subscriptions: Mutex<HashMap<Uuid, AbortHandle>>,
    changes: AbortHandle,
    task_changes: AbortHandle,
}

impl Connection {
    /// Opens a connection and starts forwarding every session's and task's changes to it.
    pub fn new(service: Arc<Service>, sink: Arc<dyn ClientSink>) -> Arc<Connection> {
        let changes = forward_snapshots(service.hub.subscribe_changes(), sink.clone(), |change| {
            ServerNotification::SessionChanged((*change).clone())
        });
        let task_changes = forward_snapshots(service.hub.subscribe_tasks(), sink.clone(), |task| {
            ServerNotification::TaskChanged(TaskChangedNotification { task: (*task).clone() })
        });
        // Open pull requests are followed while anyone is connected.
        service.clients.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Arc::new(Connection { service, sink, subscriptions: Mutex::new(HashMap::new()), changes, task_changes })
    }

    /// The service this connection talks to.
    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// `session/subscribe`: replays events after `afterSeq`, then streams live ones, each seq
    /// exactly once and in order. Subscribing again to the same session restarts the replay.
    pub async fn session_subscribe(&self, params: SubscribeParams) -> Result<SubscribeResult> {
        let session_id = params.session_id;
        // Listen before reading, so an event committed in between is caught by the listener.
        let live = self.service.hub.subscribe_events(session_id);
        let session =
            self.service.store.get_session(session_id).await?.ok_or(ServiceError::SessionNotFound(session_id))?;
        let task = tokio::spawn(stream_events(
            self.service.store.clone(),
            self.sink.clone(),
            session_id,
            params.after_seq.unwrap_or(0),
            live,
        ));
        let previous =
            self.subscriptions.lock().expect("subscriptions poisoned").insert(session_id, task.abort_handle());
        if let Some(previous) = previous {
            previous.abort();
        }
        Ok(SubscribeResult { last_seq: session.last_seq })
    }

    /// `session/new`, with `$/progress` reported to this client when it gave a token.
    pub async fn session_new(&self, params: NewSessionParams) -> Result<Session> {
        let progress = super::Progress::new(self.sink.clone(), params.work_done_token.clone());
        self.service.session_new(params, progress).await
    }

    /// `session/unsubscribe`. Unsubscribing from a session not subscribed to is not an error.
    pub async fn session_unsubscribe(&self, params: SessionIdParams) -> Result<Ack> {
        if let Some(task) = self.subscriptions.lock().expect("subscriptions poisoned").remove(&params.session_id) {
            task.abort();
        }
        Ok(Ack {})
    }
}

/// A connection is the service as one client sees it: the protocol's handlers that keep no
/// per-client state are the service's own, and the request table's registrations reach them
/// through this.
impl std::ops::Deref for Connection {
    type Target = Service;

    fn deref(&self) -> &Service {
        &self.service
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.service.clients.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.changes.abort();
        self.task_changes.abort();
        for (_, task) in self.subscriptions.lock().expect("subscriptions poisoned").drain() {
            task.abort();
        }
    }
}

/// Sends stored events after `last` until the store has no more; returns the new `last`.
async fn catch_up(
    store: &Store,
    sink: &dyn ClientSink,
    session_id: Uuid,
    mut last: u64,
) -> std::result::Result<u64, ()> {
    loop {
        let page = store.rendered_events_after(session_id, last, REPLAY_PAGE).await.map_err(|error| {
            tracing::error!(%error, session = %session_id, "could not read events for a subscriber");
        })?;
        if page.is_empty() {
            return Ok(last);
        }
        for event in page {
            last = event.seq;
            sink.notify_event(Arc::new(event)).await;
        }
    }
}

/// Replay, then live. The store publishes only committed events, and `live` was opened before
/// the replay read, so every seq after `after_seq` is either replayed or received live; seqs at
/// or below the last one sent are dropped, and a hole (after a lag) is filled from the store.
async fn stream_events(
    store: Store,
    sink: Arc<dyn ClientSink>,
    session_id: Uuid,
    after_seq: u64,
    mut live: broadcast::Receiver<Arc<RenderedEvent>>,
) {
    let Ok(mut last) = catch_up(&store, &*sink, session_id, after_seq).await else {
        return;
    };
    loop {
        match live.recv().await {
            Ok(event) if event.seq <= last => {}
            Ok(event) if event.seq == last + 1 => {
                last = event.seq;
                sink.notify_event(event).await;
            }
            Ok(_) | Err(RecvError::Lagged(_)) => match catch_up(&store, &*sink, session_id, last).await {
                Ok(caught_up) => last = caught_up,
                Err(()) => return,
            },
            // The session was deleted.
            Err(RecvError::Closed) => return,
        }
    }
}
