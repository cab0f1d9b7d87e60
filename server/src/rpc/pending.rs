//! The requests a JSON-RPC peer has sent and not yet had answered, by id. Arbor has three such
//! peers: its protocol client ([`crate::client`]), the ACP driver ([`crate::agents::acp`]) and
//! the scripted agent asking its client for permissions and terminals
//! ([`crate::agents::scripted`]); each keeps its requests here, so ids are given out and matched
//! to answers in one way.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::oneshot;

/// What waits for each request on its way, by id, and the ids to give new requests (1, 2, …,
/// never reused on one connection). `W` is whatever waits: a oneshot sender where a task waits
/// for the answer, or a note of what the request was for where the answers are read in order
/// with the peer's other messages (the ACP driver).
pub struct PendingRequests<W> {
    next_id: AtomicU64,
    /// None once the connection has closed: no answer can come any more.
    waiters: Mutex<Option<HashMap<u64, W>>>,
}

impl<W> Default for PendingRequests<W> {
    fn default() -> Self {
        PendingRequests { next_id: AtomicU64::new(1), waiters: Mutex::new(Some(HashMap::new())) }
    }
}

impl<W> PendingRequests<W> {
    /// Gives a new request its id and keeps `waiter` until the answer with that id arrives.
    /// Register before sending, so that no answer can come before its waiter. After
    /// [`PendingRequests::close`] the waiter is dropped at once, which a oneshot's receiver
    /// sees as a closed channel, rather than kept for an answer that cannot come.
    pub fn insert(&self, waiter: W) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Some(waiters) = self.waiters.lock().expect("pending requests poisoned").as_mut() {
            waiters.insert(id, waiter);
        }
        id
    }

    /// The waiter of request `id`, which no longer waits; None for an id nobody waits on (an
    /// answer to a request this side never sent, or a second answer to one).
    pub fn take(&self, id: u64) -> Option<W> {
        self.waiters.lock().expect("pending requests poisoned").as_mut()?.remove(&id)
    }
}

impl<T> PendingRequests<oneshot::Sender<T>> {
    /// Hands `answer` to the task waiting for request `id`; false when nobody waits for it (an
    /// unknown id, or a task that stopped waiting).
    pub fn resolve(&self, id: u64, answer: T) -> bool {
        self.take(id).is_some_and(|waiter| waiter.send(answer).is_ok())
    }
}

impl<T, E: Clone> PendingRequests<oneshot::Sender<Result<T, E>>> {
    /// Fails every waiting request with `error`, and every request registered from now on: the
    /// peer is gone, so no answer will come.
    pub fn close(&self, error: E) {
        let waiters = self.waiters.lock().expect("pending requests poisoned").take();
        for waiter in waiters.into_iter().flat_map(HashMap::into_values) {
            let _ = waiter.send(Err(error.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use super::*;

    type Answers = PendingRequests<oneshot::Sender<Result<&'static str, String>>>;

    #[tokio::test]
    async fn an_answer_reaches_the_request_with_its_id() {
        let pending = Answers::default();
        let (first_tx, first) = oneshot::channel();
        let (second_tx, second) = oneshot::channel();
        let first_id = pending.insert(first_tx);
        let second_id = pending.insert(second_tx);
        assert!(pending.resolve(second_id, Ok("second")));
        assert!(pending.resolve(first_id, Ok("first")));
        assert_eq!(first.await.unwrap(), Ok("first"));
        assert_eq!(second.await.unwrap(), Ok("second"));
        assert!(!pending.resolve(first_id, Ok("again")), "an answered request waits no more");
    }

    #[tokio::test]
    async fn an_answer_with_an_unknown_id_is_ignored() {
        let pending = Answers::default();
        let (reply, mut answer) = oneshot::channel();
        let id = pending.insert(reply);
        assert!(!pending.resolve(id + 1, Ok("stray")));
        assert!(pending.take(id + 1).is_none());
        assert!(answer.try_recv().is_err(), "the real request still waits");
        assert!(pending.resolve(id, Ok("answer")));
        assert_eq!(answer.await.unwrap(), Ok("answer"));
    }

    #[tokio::test]
    async fn closing_fails_every_waiting_request_and_every_later_one() {
        let pending = Answers::default();
        let receivers: Vec<_> = (0..3)
            .map(|_| {
                let (reply, answer) = oneshot::channel();
                pending.insert(reply);
                answer
            })
            .collect();
        pending.close("the peer is gone".to_string());
        for answer in receivers {
            assert_eq!(answer.await.unwrap(), Err("the peer is gone".to_string()));
        }
        let (reply, late) = oneshot::channel();
        let id = pending.insert(reply);
        assert!(late.await.is_err(), "a request made after the close is not kept waiting");
        assert!(!pending.resolve(id, Ok("too late")));
    }

    #[test]
    fn ids_are_unique_across_threads() {
        let pending = Arc::new(PendingRequests::<()>::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let pending = pending.clone();
                std::thread::spawn(move || (0..250).map(|_| pending.insert(())).collect::<Vec<u64>>())
            })
            .collect();
        let ids: Vec<u64> = threads.into_iter().flat_map(|thread| thread.join().unwrap()).collect();
        let unique: HashSet<u64> = ids.iter().copied().collect();
        assert_eq!(unique.len(), 1000);
        assert_eq!(ids.iter().min(), Some(&1), "ids start at 1");
    }
}
