//! The one transport-agnostic API: every protocol method is one async fn here (or on
//! [`Connection`] for the per-client subscription methods). Transports only decode params, call
//! these, and encode results and errors.

mod agents;
mod archive;
pub(crate) use archive::human_bytes;
mod connection;
mod dirs;
mod error;
mod forge;
mod hosts;
mod lifecycle;
mod pins;
mod profiles;
pub mod progress;
mod review;
mod sessions;
pub(crate) use sessions::{Origin, branch_and_worktree, pending_session, slug, validate_config};
mod tasks;
pub mod workflows;

use std::sync::Arc;

use arbor_protocol::{ArborCapabilities, PROTOCOL_VERSION, ResumeParams, Session};
use uuid::Uuid;

pub use connection::{ClientSink, Connection};
pub use error::ServiceError;
pub use progress::Progress;

use crate::agents::{AgentRegistry, process};
use crate::config::Config;
use crate::hub::Hub;
use crate::memory::Memory;
use crate::paths::Paths;
use crate::sandbox;
use crate::sessions::SessionManager;
use crate::store::Store;

type Result<T> = std::result::Result<T, ServiceError>;

/// The server's state, shared by every connection and transport.
pub struct Service {
    paths: Paths,
    store: Store,
    hub: Arc<Hub>,
    agents: AgentRegistry,
    sessions: SessionManager,
    config: Config,
    lifecycle: lifecycle::LifecycleLocks,
    forge: crate::forge::Forge,
    /// Sessions whose pull request is open, which the forge watcher reads again and again.
    watched_pull_requests: std::sync::Mutex<std::collections::HashSet<Uuid>>,
    /// Connected clients; open pull requests are followed while there is one (or their session
    /// is live).
    clients: std::sync::atomic::AtomicUsize,
}

/// Whether [`Service::launch`] stores a new session record or updates the stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Record {
    /// The session is not stored yet.
    New,
    /// The session's record is stored; a deleted one is not brought back.
    Stored,
}

impl Service {
    /// Resumes sessions that were running on hosts when this daemon last stopped: each is still
    /// running there, so the resume attaches to it again and takes the events it made meanwhile.
    async fn reattach(&self, sessions: Vec<Uuid>) {
        for session_id in sessions {
            let params = ResumeParams { session_id, prompt: None, as_new_session: false, host: None };
            match self.session_resume(params).await {
                Ok(_) => tracing::info!(session = %session_id, "attaching again to the session on its host"),
                Err(error) => {
                    tracing::warn!(session = %session_id, %error, "could not attach again to the session on its host")
                }
            }
        }
    }

    /// Opens the store (marking sessions a crashed server left running as dead) and gets ready to
    /// serve.
    pub fn start(paths: Paths) -> anyhow::Result<Arc<Service>> {
        crate::paths::prepare_data_dir(&paths).map_err(|error| {
            anyhow::anyhow!("cannot prepare the data directory {}: {error}", paths.data_dir.display())
        })?;
        let hub = Arc::new(Hub::default());
        let (store, recovered) = Store::open(&paths.database(), hub.clone())?;
        for session in &recovered.sessions {
            tracing::warn!(session = %session.id, "session was live when the server last stopped; marked dead");
        }
        process::end_leftover_groups(&recovered.process_groups);
        // A session on a host ran on through this daemon's crash, in the host's own daemon.
        let on_hosts: Vec<Uuid> = recovered
            .sessions
            .iter()
            .filter(|session| session.host.is_some() && session.agent_session_id.is_some())
            .map(|session| session.id)
            .collect();
        let config = Config::load(&paths.config_file)?;
        let host = sandbox::Host::get();
        sandbox::limits::recover(host, &paths);
        let agents = AgentRegistry::new(&paths, &config);
        let memory = Memory::new(config.profiles.values().cloned().collect(), &paths.data_dir, &config.memory_store)?;
        let sessions =
            SessionManager::start(store.clone(), hub.clone(), paths.clone(), agents.clone(), &config, memory);
        let forge = crate::forge::Forge::new(&config)?;
        let service = Arc::new(Service {
            paths,
            store,
            hub,
            agents,
            sessions,
            config,
            lifecycle: Default::default(),
            forge,
            watched_pull_requests: Default::default(),
            clients: Default::default(),
        });
        let restoring = service.clone();
        tokio::spawn(async move {
            // First the sessions still running on hosts, whose slots there they hold, then those
            // that waited.
            restoring.reattach(on_hosts).await;
            match restoring.sessions.restore_queue().await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "sessions waiting in the admission queue were put back in line"),
                Err(error) => tracing::error!(%error, "could not read the admission queue"),
            }
        });
        service.clone().watch_tasks();
        service.clone().watch_pull_requests();
        Ok(service)
    }

    /// The configuration file it read at start-up.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where this server keeps its data.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// What goes under `capabilities.experimental.arbor` in the `initialize` result.
    pub fn capabilities(&self) -> ArborCapabilities {
        ArborCapabilities {
            protocol_version: PROTOCOL_VERSION,
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            agents: self.agents.list(),
        }
    }

    /// Stops every live session (they stay resumable), ends every agent process group and
    /// flushes the store.
    pub async fn shutdown(&self) {
        self.sessions.stop_all("the Arbor server shut down").await;
        process::kill_all_groups();
        if let Err(error) = self.store.flush().await {
            tracing::error!(%error, "could not flush the store at shutdown");
        }
    }

    async fn load(&self, id: Uuid) -> Result<Session> {
        self.store.get_session(id).await?.ok_or(ServiceError::SessionNotFound(id))
    }

    /// The error for a request that needs a live session, when the session is not live.
    async fn not_live(&self, id: Uuid) -> ServiceError {
        match self.load(id).await {
            Ok(session) => ServiceError::InvalidState(format!(
                "the session is {}, not running; resume it first",
                session.status.as_str()
            )),
            Err(error) => error,
        }
    }
}
