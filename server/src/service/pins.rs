//! Pinned sessions: the cap from the config file (`maxPinnedSessions`), reached by unpinning the
//! pin made longest ago rather than by refusing, and the order the user puts pins in.

use std::collections::HashSet;
use std::sync::Arc;

use arbor_protocol::{PinOrderParams, PinOrderResult, Session};
use uuid::Uuid;

use super::{Result, Service, ServiceError};

/// Takes a session out of the pinned block.
pub(super) fn unpin(session: &mut Session) {
    session.pinned = false;
    session.pinned_at = None;
    session.pin_order = None;
}

impl Service {
    /// The place a new pin takes: last.
    pub(super) async fn next_pin_order(&self) -> Result<u32> {
        Ok(self.store.next_pin_order().await?)
    }

    /// Unpins the oldest pins other than `kept` while more sessions are pinned than the config
    /// allows; returns the sessions unpinned, oldest pin first.
    pub(super) async fn make_room_for_pin(&self, kept: Uuid) -> Result<Vec<Uuid>> {
        let most = self.config.max_pinned_sessions as usize;
        if most == 0 {
            return Ok(Vec::new());
        }
        let mut others: Vec<Session> =
            self.store.pinned_sessions().await?.into_iter().filter(|session| session.id != kept).collect();
        others.sort_by_key(|session| session.pinned_at);
        let excess = (others.len() + 1).saturating_sub(most);
        let mut unpinned = Vec::new();
        for session in others.into_iter().take(excess) {
            self.update_session(session.id, Arc::new(unpin)).await?;
            unpinned.push(session.id);
        }
        Ok(unpinned)
    }

    /// `session/pinOrder`: the sessions named first, in that order, then the other pinned
    /// sessions in the order they had.
    pub async fn session_pin_order(&self, params: PinOrderParams) -> Result<PinOrderResult> {
        let pinned = self.store.pinned_sessions().await?;
        let pinned_ids: HashSet<Uuid> = pinned.iter().map(|session| session.id).collect();
        let mut seen = HashSet::new();
        for id in &params.pinned_order {
            if !seen.insert(*id) {
                return Err(ServiceError::InvalidArgument(format!("pinnedOrder names session {id} twice")));
            }
            if !pinned_ids.contains(id) {
                self.load(*id).await?;
                return Err(ServiceError::InvalidArgument(format!("session {id} is not pinned; pin it first")));
            }
        }
        let rest = pinned.iter().map(|session| session.id).filter(|id| !seen.contains(id));
        let order: Vec<Uuid> = params.pinned_order.iter().copied().chain(rest).collect();
        for (place, id) in order.into_iter().enumerate() {
            let place = place as u32;
            let current = pinned.iter().find(|session| session.id == id).and_then(|session| session.pin_order);
            if current != Some(place) {
                self.update_session(id, Arc::new(move |session: &mut Session| session.pin_order = Some(place))).await?;
            }
        }
        Ok(PinOrderResult { sessions: self.store.pinned_sessions().await? })
    }
}
