//! The warm pool: for each host, agent and repository a host was used for, `warm` sessions of the
//! host's Arbor opened ahead of need — the ssh connection made and initialized, the starting point
//! pushed to the mirror, the host's worktree made and its agent started — so that a new session
//! placed there only renames one and subscribes to it. A place is taken only by a session that
//! starts from the same commit with the same settings; one whose commit is no longer the
//! repository's starting point is left for the next refill to replace. Places are refilled in the
//! background after each start on the host, and stopped when the daemon shuts down.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arbor_protocol::{AgentInfo, NewSessionParams, Session, SessionConfig, SessionIdParams, method};
use serde_json::Value;

use super::remote::{Connection, open_link};
use super::{HostConfig, Ssh, mirror};

/// Which sessions a warm place can serve.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// The host's name.
    pub host: String,
    /// The agent started there.
    pub agent: String,
    /// The local repository whose mirror the place's worktree came from.
    pub repo_root: PathBuf,
}

/// What a session must start from, and with, to take a place.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    /// The commit its worktree is made from.
    pub commit: String,
    /// The settings the host's session is opened with.
    pub config: SessionConfig,
    /// The model, when one is asked for.
    pub model: Option<String>,
}

/// One prepared place: a connection to the host's Arbor and the host's session waiting on it.
pub struct Place {
    /// The open connection.
    pub connection: Connection,
    /// The host's session, as opened.
    pub remote: Session,
    start: Start,
}

/// Every host's warm places, shared by the drivers of the sessions placed on hosts.
#[derive(Default)]
pub struct WarmPool {
    places: Mutex<HashMap<Key, Vec<Place>>>,
    /// Keys being refilled now, so that two starts do not both fill one.
    filling: Mutex<HashSet<Key>>,
}

impl WarmPool {
    /// A place for `key` prepared for `start`, if one waits.
    pub fn take(&self, key: &Key, start: &Start) -> Option<Place> {
        let mut places = self.places.lock().expect("warm places poisoned");
        let waiting = places.get_mut(key)?;
        let index = waiting.iter().position(|place| &place.start == start)?;
        Some(waiting.swap_remove(index))
    }

    /// Tops `key`'s places up to the host's `warm` count for the agent, in the background: each
    /// one connects, pushes `start.commit` and opens a session there. Places for another start
    /// (an older commit, other settings) are stopped to make room.
    pub fn refill(
        self: &Arc<Self>,
        host: &HostConfig,
        ssh: &Ssh,
        info: &AgentInfo,
        key: Key,
        start: Start,
        log: PathBuf,
    ) {
        let wanted = host.warm.get(&key.agent).copied().unwrap_or(0);
        if wanted == 0 || !self.filling.lock().expect("warm fills poisoned").insert(key.clone()) {
            return;
        }
        let (pool, host, ssh, info) = (self.clone(), host.clone(), ssh.clone(), info.clone());
        tokio::spawn(async move {
            let stale: Vec<Place> = {
                let mut places = pool.places.lock().expect("warm places poisoned");
                let waiting = places.entry(key.clone()).or_default();
                let (fresh, stale) = std::mem::take(waiting).into_iter().partition(|place| place.start == start);
                *waiting = fresh;
                stale
            };
            for place in stale {
                close(place).await;
            }
            loop {
                let have = pool.places.lock().expect("warm places poisoned").get(&key).map_or(0, Vec::len);
                if have >= wanted {
                    break;
                }
                match prepare(&host, &ssh, &info, &key, &start, &log).await {
                    Ok(place) => {
                        pool.places.lock().expect("warm places poisoned").entry(key.clone()).or_default().push(place)
                    }
                    Err(error) => {
                        tracing::warn!(host = %host.name, agent = %key.agent, %error, "could not prepare a warm place");
                        break;
                    }
                }
            }
            pool.filling.lock().expect("warm fills poisoned").remove(&key);
        });
    }

    /// Stops every waiting place's host session and closes its connection (at shutdown).
    pub async fn close_all(&self) {
        let places: Vec<Place> =
            self.places.lock().expect("warm places poisoned").drain().flat_map(|(_, places)| places).collect();
        futures::future::join_all(places.into_iter().map(close)).await;
    }
}

/// Connects to the host, pushes the starting point and opens the host's session on it.
async fn prepare(
    host: &HostConfig,
    ssh: &Ssh,
    info: &AgentInfo,
    key: &Key,
    start: &Start,
    log: &std::path::Path,
) -> Result<Place, String> {
    let log_file = crate::paths::open_private_log(log).map_err(|error| error.to_string())?;
    let connection =
        open_link(host, ssh, None, log_file, log.to_path_buf()).await.map_err(|error| error.to_string())?;
    let branch = format!("arbor-home/warm-{}", uuid::Uuid::new_v4());
    let mirror = mirror::publish_commit(ssh, &host.ssh, &key.repo_root, &start.commit, &branch)
        .await
        .map_err(|error| error.to_string())?;
    let params = NewSessionParams {
        repository_url: Some(mirror),
        base_branch: Some(branch),
        agent: info.id.clone(),
        model: start.model.clone(),
        title: Some("a warm place".into()),
        config: Some(start.config.clone()),
        ..NewSessionParams::default()
    };
    let remote: Session =
        connection.client.call(method::SESSION_NEW, &params).await.map_err(|error| error.to_string())?;
    Ok(Place { connection, remote, start: start.clone() })
}

/// Stops a place's host session and closes its connection.
async fn close(place: Place) {
    let params = SessionIdParams { session_id: place.remote.id };
    let _ = place.connection.client.call::<_, Value>(method::SESSION_STOP, &params).await;
    place.connection.end().await;
}
