//! `arbor daemon`: serves the protocol on a Unix socket in a private runtime directory, announces
//! itself in a discovery file, and shuts down cleanly on SIGTERM, SIGINT or SIGHUP.

use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::signals::Termination;
use crate::paths::{Paths, create_runtime_dir};
use crate::service::Service;
use crate::web::{Listen, ListenConfig};

/// How long shutdown waits for the connections to end once they are told to.
const CONNECTION_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Every client connection's task, ended and waited for at shutdown.
#[derive(Default)]
struct Connections {
    tasks: TaskTracker,
    closing: CancellationToken,
}

impl Connections {
    /// Serves `stream` in a tracked task that ends when the client leaves or at shutdown.
    fn spawn(&self, service: Arc<Service>, stream: UnixStream) {
        let closing = self.closing.clone();
        self.tasks.spawn(async move {
            let (read, write) = stream.into_split();
            tokio::select! {
                _ = super::lsp::serve(service, read, write) => {}
                _ = closing.cancelled() => {}
            }
        });
    }

    /// Ends every connection and waits (briefly) until their tasks are done.
    async fn close(&self) {
        self.closing.cancel();
        self.tasks.close();
        if tokio::time::timeout(CONNECTION_DRAIN, self.tasks.wait()).await.is_err() {
            tracing::warn!("some client connections had not ended when shutdown stopped waiting");
        }
    }
}

/// Contents of the discovery file (`daemon.json` in the runtime directory).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Discovery {
    /// The daemon's process id.
    pub pid: u32,
    /// Path of its Unix socket.
    pub socket: String,
    /// Port of its WebSocket listener, when it has one.
    pub ws_port: Option<u16>,
    /// The origin of its WebSocket listener and web companion (`http://127.0.0.1:7420`), when
    /// it has one.
    #[serde(default)]
    pub web_url: Option<String>,
    /// The daemon's version.
    pub version: String,
    /// Its data directory.
    pub data_dir: String,
}

/// Reads the discovery file, if a daemon wrote one.
pub fn read_discovery(paths: &Paths) -> Option<Discovery> {
    let text = std::fs::read_to_string(paths.discovery_file()).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes `contents` to `path` atomically (write a private temporary file, then rename).
fn write_private_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temporary)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// Opens the runtime directory's lock file and tries to take its lock (released when the file
/// is closed).
fn try_instance_lock(paths: &Paths) -> std::io::Result<(std::fs::File, bool)> {
    let lock_path = paths.runtime_dir.join("daemon.lock");
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path)?;
    // SAFETY: flock on a file descriptor we own; no memory is shared.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    Ok((file, locked))
}

/// Whether a daemon holds the runtime directory's lock now, so that its discovery file is not a
/// dead daemon's and its pid not someone else's by now.
pub fn daemon_running(paths: &Paths) -> bool {
    try_instance_lock(paths).is_ok_and(|(_, locked)| !locked)
}

/// Takes the runtime directory's lock so only one daemon serves it; held until the process ends.
fn take_instance_lock(paths: &Paths) -> anyhow::Result<std::fs::File> {
    let (file, locked) = try_instance_lock(paths)?;
    if !locked {
        let pid = read_discovery(paths).map(|discovery| discovery.pid.to_string()).unwrap_or_else(|| "unknown".into());
        bail!("an Arbor daemon is already running for {} (pid {pid})", paths.runtime_dir.display());
    }
    Ok(file)
}

/// Runs the daemon until a termination signal, also on the network when `listen` (or the config
/// file's `listen`) says where.
pub async fn run(paths: Paths, listen: Option<ListenConfig>) -> anyhow::Result<()> {
    create_runtime_dir(&paths.runtime_dir)
        .with_context(|| format!("cannot use runtime directory {}", paths.runtime_dir.display()))?;
    let _lock = take_instance_lock(&paths)?;

    let socket_path = paths.socket();
    if socket_path.exists() {
        // The lock is ours, so whatever left this socket is gone.
        std::fs::remove_file(&socket_path)?;
    }
    // Listening starts before any agent can (queued sessions start with the service), so a signal
    // always stops the sessions.
    let mut termination = Termination::listen()?;
    let service = Service::start(paths.clone())?;
    let reporting = service.clone();
    tokio::spawn(async move {
        // Reconciliation reports; it never deletes. Clients can ask again with worktree/orphans.
        match reporting.worktree_orphans(arbor_protocol::NoParams {}).await {
            Ok(found) => {
                for orphan in found.orphans {
                    tracing::warn!(path = %orphan.path, reason = %orphan.reason, "orphaned worktree (left in place)");
                }
            }
            Err(error) => tracing::warn!(%error, "could not look for orphaned worktrees"),
        }
    });
    if service.config().retention.is_some() {
        let retention = service.clone();
        tokio::spawn(async move {
            // The retention policy archives only sessions whose work is merged (see worktree/gc).
            let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(60 * 60));
            loop {
                every_hour.tick().await;
                match retention.worktree_gc(arbor_protocol::GcParams::default()).await {
                    Ok(done) if !done.actions.is_empty() => {
                        tracing::info!(archived = done.actions.len(), freed = done.freed_bytes, "retention policy")
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "the retention policy could not run"),
                }
            }
        });
    }
    let listener =
        UnixListener::bind(&socket_path).with_context(|| format!("cannot bind {}", socket_path.display()))?;
    std::fs::set_permissions(&socket_path, std::fs::Permissions::from_mode(0o600))?;

    let connections = Connections::default();
    let web = match listen.or_else(|| service.config().listen.clone()) {
        Some(config) => {
            let listen = Listen::parse(&config)?;
            let bound = crate::web::start(
                &listen,
                &paths,
                service.clone(),
                connections.tasks.clone(),
                connections.closing.clone(),
            )
            .await?;
            Some(bound)
        }
        None => None,
    };
    let discovery = Discovery {
        pid: std::process::id(),
        socket: socket_path.display().to_string(),
        ws_port: web.as_ref().map(|bound| bound.port),
        web_url: web.map(|bound| bound.url),
        version: env!("CARGO_PKG_VERSION").into(),
        data_dir: paths.data_dir.display().to_string(),
    };
    write_private_atomically(&paths.discovery_file(), &serde_json::to_string_pretty(&discovery)?)?;
    tracing::info!(socket = %socket_path.display(), data = %paths.data_dir.display(), "arbor daemon listening");

    let signal = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => connections.spawn(service.clone(), stream),
                Err(error) => tracing::warn!(%error, "accept failed"),
            },
            signal = termination.received() => break signal,
        }
    };
    tracing::info!(signal, "arbor daemon shutting down");
    drop(listener);
    let _ = std::fs::remove_file(&socket_path);
    let _ = std::fs::remove_file(paths.discovery_file());
    // Sessions stop first, so connected clients still see them end; then the connections go.
    service.shutdown().await;
    connections.close().await;
    Ok(())
}
