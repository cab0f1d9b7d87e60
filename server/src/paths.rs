//! Where Arbor keeps its files: the data directory (store, worktrees, logs) and the runtime
//! directory (socket, discovery file).

use std::path::{Path, PathBuf};

/// Resolved locations for one server instance.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Durable state: `arbor.db`, `worktrees/`, `logs/`.
    pub data_dir: PathBuf,
    /// Ephemeral state: the socket and discovery file. Created 0700.
    pub runtime_dir: PathBuf,
    /// The configuration file (limits, agent profiles).
    pub config_file: PathBuf,
}

impl Paths {
    /// Uses the given directories, or the platform defaults: `$XDG_DATA_HOME/arbor` (else
    /// `~/.local/share/arbor`) and `$XDG_RUNTIME_DIR/arbor` (else `$TMPDIR/arbor-<uid>`).
    pub fn resolve(data_dir: Option<PathBuf>, runtime_dir: Option<PathBuf>, config_file: Option<PathBuf>) -> Self {
        let data_dir = data_dir.unwrap_or_else(default_data_dir);
        let runtime_dir = runtime_dir.unwrap_or_else(default_runtime_dir);
        let config_file = config_file.unwrap_or_else(|| crate::config::default_config_dir().join("config.json"));
        Self { data_dir, runtime_dir, config_file }
    }

    /// The user's workflows: `workflows/` beside the configuration file.
    pub fn user_workflows(&self) -> PathBuf {
        self.config_file.parent().map(|dir| dir.join("workflows")).unwrap_or_else(|| PathBuf::from("workflows"))
    }

    /// The SQLite database.
    pub fn database(&self) -> PathBuf {
        self.data_dir.join("arbor.db")
    }

    /// Parent of every session worktree.
    pub fn worktrees(&self) -> PathBuf {
        self.data_dir.join("worktrees")
    }

    /// Repositories Arbor cloned for sessions given a URL.
    pub fn repositories(&self) -> PathBuf {
        self.data_dir.join("repositories")
    }

    /// Per-session agent logs (stderr of the agent processes).
    pub fn session_log(&self, session_id: &uuid::Uuid) -> PathBuf {
        self.data_dir.join("logs").join(format!("{session_id}.log"))
    }

    /// The daemon's own log file.
    pub fn daemon_log(&self) -> PathBuf {
        self.data_dir.join("logs").join("daemon.log")
    }

    /// The daemon's Unix socket.
    pub fn socket(&self) -> PathBuf {
        self.runtime_dir.join("arbor.sock")
    }

    /// The discovery file naming the running daemon.
    pub fn discovery_file(&self) -> PathBuf {
        self.runtime_dir.join("daemon.json")
    }

    /// State the scripted agent keeps between runs so it can resume.
    pub fn scripted_agent_state(&self) -> PathBuf {
        self.data_dir.join("scripted-agent")
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"))
}

fn default_data_dir() -> PathBuf {
    match std::env::var_os("XDG_DATA_HOME") {
        Some(dir) if !dir.is_empty() => Path::new(&dir).join("arbor"),
        _ => home().join(".local/share/arbor"),
    }
}

fn default_runtime_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => Path::new(&dir).join("arbor"),
        _ => {
            // Without XDG_RUNTIME_DIR the directory is per user, so two users never share a socket.
            let uid = unsafe { libc::getuid() };
            std::env::temp_dir().join(format!("arbor-{uid}"))
        }
    }
}

/// Creates `dir` (and parents) and restricts it to its owner, refusing a directory that belongs
/// to another user.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    std::fs::create_dir_all(dir)?;
    let metadata = std::fs::metadata(dir)?;
    let uid = unsafe { libc::getuid() };
    if metadata.uid() != uid {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{} belongs to another user", dir.display()),
        ));
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}
