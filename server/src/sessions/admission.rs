//! Admission control: limits on sessions with a live agent process, per place (this machine and
//! each configured host, see `placement`) and per agent.
//! Sessions beyond the limits wait in a queue (persisted, so it survives a restart) with a
//! visible position, and start in order as slots free. An agent that reports a rate limit is
//! paused: its queued sessions wait, visibly, until the time it gave.
//!
//! One scheduler task owns the queue; everything else sends it messages.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use uuid::Uuid;

use super::SessionManager;
use super::placement::{self, Decision, Place};
use crate::clock::now_millis;
use crate::config::Limits;
use crate::store::QueueEntry;

/// Messages to the scheduler.
pub(super) enum Message {
    /// A session wants to start.
    Enqueue(QueueEntry),
    /// A slot may have freed (a session ended).
    Wake,
    /// Take a session out of the queue (it is being stopped or deleted); the reply says whether
    /// it was waiting.
    Withdraw { session_id: Uuid, reply: oneshot::Sender<bool> },
    /// Hold an agent's queue until `until`.
    Pause { agent: String, until: Instant, wall_until_ms: i64 },
}

pub(super) struct Scheduler {
    queue: VecDeque<QueueEntry>,
    paused: HashMap<String, (Instant, i64)>,
    limits: Limits,
    manager: SessionManager,
}

impl Scheduler {
    pub(super) fn new(limits: Limits, manager: SessionManager) -> Self {
        Self { queue: VecDeque::new(), paused: HashMap::new(), limits, manager }
    }

    pub(super) async fn run(mut self, mut messages: mpsc::UnboundedReceiver<Message>) {
        loop {
            let next_unpause = self.paused.values().map(|(until, _)| *until).min();
            tokio::select! {
                message = messages.recv() => match message {
                    Some(Message::Enqueue(entry)) => self.enqueue(entry),
                    Some(Message::Wake) => {}
                    Some(Message::Withdraw { session_id, reply }) => {
                        let waiting = self.withdraw(session_id).await;
                        let _ = reply.send(waiting);
                    }
                    Some(Message::Pause { agent, until, wall_until_ms }) => {
                        self.paused.insert(agent, (until, wall_until_ms));
                    }
                    None => return,
                },
                _ = async {
                    match next_unpause {
                        Some(until) => tokio::time::sleep_until(until).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
            self.schedule().await;
        }
    }

    /// Queues `entry` unless its session already waits or runs: the persisted queue is read back
    /// at start-up while new sessions are admitted, so one entry can arrive twice, and starting a
    /// session twice would orphan its first actor.
    fn enqueue(&mut self, entry: QueueEntry) {
        let waiting = self.queue.iter().any(|queued| queued.session_id == entry.session_id);
        if !waiting && !self.manager.is_live(entry.session_id) {
            self.queue.push_back(entry);
        }
    }

    /// Takes a session out of the queue, in memory and in the store; true when it was waiting.
    async fn withdraw(&mut self, session_id: Uuid) -> bool {
        let before = self.queue.len();
        self.queue.retain(|entry| entry.session_id != session_id);
        // The store is asked too: at start-up an entry may be stored before it is back in line.
        let stored = self.manager.dequeue_stored(session_id).await;
        self.queue.len() < before || stored
    }

    fn agent_limit(&self, agent: &str) -> usize {
        self.limits.per_agent.get(agent).copied().unwrap_or(usize::MAX)
    }

    /// Every place with the sessions running there now.
    fn places(&self) -> Vec<Place> {
        let mut places = placement::places_of(&self.manager.context.hosts, Some(self.limits.max_running));
        for place in &mut places {
            place.running = self.manager.live_count_on(place.host.as_deref());
            place.load = self.manager.load_of(place.host.as_deref());
        }
        places
    }

    /// Where the queued session `entry` would run now, or Wait. A session that resumes goes back
    /// to where its conversation is, unless its settings pin it elsewhere.
    async fn decide(&self, entry: &QueueEntry, places: &[Place]) -> Decision {
        let Ok(Some(session)) = self.manager.context.store.get_session(entry.session_id).await else {
            // Gone: starting it finds that out and drops the entry.
            return Decision::Run(places[0].clone());
        };
        let resuming_on = match (&entry.resume, &session.config.host) {
            (Some(_), None) => Some(session.host.as_deref().unwrap_or(placement::LOCAL)),
            _ => None,
        };
        placement::choose(places, &entry.agent, &session.config, resuming_on)
    }

    /// Starts every queued session that fits, in queue order, then refreshes the positions and
    /// reasons shown on the sessions still waiting.
    async fn schedule(&mut self) {
        let now = Instant::now();
        self.paused.retain(|_, (until, _)| *until > now);
        let mut places = self.places();
        let mut live_by_agent: HashMap<String, usize> = HashMap::new();
        let mut index = 0;
        while index < self.queue.len() {
            let agent = self.queue[index].agent.clone();
            let agent_live = *live_by_agent.entry(agent.clone()).or_insert_with(|| self.manager.live_count_of(&agent));
            let agent_fits = agent_live < self.agent_limit(&agent) && !self.paused.contains_key(&agent);
            let decision = if agent_fits { self.decide(&self.queue[index], &places).await } else { Decision::Wait };
            match decision {
                Decision::Run(place) => {
                    let entry = self.queue.remove(index).expect("index is within the queue");
                    if self.manager.start_queued(entry, place.host.clone()).await {
                        if let Some(counted) = places.iter_mut().find(|counted| counted.host == place.host) {
                            counted.running += 1;
                        }
                        *live_by_agent.get_mut(&agent).expect("counted above") += 1;
                    }
                }
                Decision::Wait => index += 1,
            }
        }
        let now_ms = now_millis();
        for (position, entry) in self.queue.iter().enumerate() {
            let reason = match self.paused.get(&entry.agent) {
                Some((_, wall_until)) => format!(
                    "waiting: the {} agent reported a rate limit; its queue resumes in {} s",
                    entry.agent,
                    Duration::from_millis((wall_until - now_ms).max(0) as u64).as_secs() + 1
                ),
                None if places.len() > 1 => format!(
                    "waiting for a free slot ({} running)",
                    places
                        .iter()
                        .map(|place| format!("{} {}/{}", place.name(), place.running, place.max_running))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => format!(
                    "waiting for a free slot (limit {} running)",
                    self.limits.max_running.min(self.agent_limit(&entry.agent))
                ),
            };
            self.manager.show_queue_position(entry.session_id, position as u32 + 1, reason).await;
        }
    }
}
