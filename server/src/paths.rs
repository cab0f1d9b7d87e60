//! Where Arbor keeps its files: the data directory (store, worktrees, logs) and the runtime
//! directory (socket, discovery file).

use std::path::{Path, PathBuf};

/// Resolved locations for one server instance.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Durable state: `arbor.db`, `worktrees/`, `logs/`.
    pub data_dir: PathBuf,
    /// Ephemeral state: the socket and discovery file. Created 0700, never through a link.
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

    /// Log files: the daemon's and each session's agent stderr.
    pub fn logs(&self) -> PathBuf {
        self.data_dir.join("logs")
    }

    /// Per-session agent logs (stderr of the agent processes).
    pub fn session_log(&self, session_id: &uuid::Uuid) -> PathBuf {
        self.logs().join(format!("{session_id}.log"))
    }

    /// The daemon's own log file.
    pub fn daemon_log(&self) -> PathBuf {
        self.logs().join("daemon.log")
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
            std::env::temp_dir().join(format!("arbor-{}", current_uid()))
        }
    }
}

/// Creates `dir` (and parents) and restricts it to its owner (0700, whatever the umask), refusing a
/// directory that belongs to another user. An existing directory left more open is tightened.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    std::fs::create_dir_all(dir)?;
    let metadata = std::fs::metadata(dir)?;
    if metadata.uid() != current_uid() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{} belongs to another user", dir.display()),
        ));
    }
    if metadata.mode() & 0o777 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Creates the data directory and every directory Arbor keeps in it owner-only, and tightens
/// the files an earlier version left readable by others (logs and the store), so that nobody but
/// the user can read prompts, transcripts or agent output.
pub fn prepare_data_dir(paths: &Paths) -> std::io::Result<()> {
    for dir in [paths.data_dir.clone(), paths.logs(), paths.worktrees(), paths.repositories()] {
        create_private_dir(&dir)?;
    }
    let database = paths.database();
    let store_files = ["", "-wal", "-shm"].map(|suffix| PathBuf::from(format!("{}{suffix}", database.display())));
    let logs = std::fs::read_dir(paths.logs())?.filter_map(|entry| entry.ok().map(|entry| entry.path()));
    for file in store_files.into_iter().chain(logs) {
        restrict_file(&file)?;
    }
    Ok(())
}

/// Makes an existing regular file owner-only (0600); a missing file is fine.
fn restrict_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_file() && metadata.permissions().mode() & 0o077 != 0 => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        }
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// Opens `path` for appending, creating it owner-only (0600) when missing: how Arbor opens its
/// log files.
pub fn open_private_log(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
    restrict_file(path)?;
    Ok(file)
}

/// Creates the runtime directory (its parents as usual, the directory itself 0700) without
/// following a symbolic link, and refuses one that is a link, is not a directory, belongs to
/// another user, or lets group or others in. With the `$TMPDIR/arbor-<uid>` fallback, another
/// user could have created that name first to redirect Arbor's socket.
pub fn create_runtime_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        // mkdir(2) never follows a link; the mode is set again because the umask may have narrowed it.
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?,
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(error),
    }
    let metadata = std::fs::symlink_metadata(dir)?;
    let refuse = |why: String| {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("refusing the runtime directory {}: {why}; remove it or set XDG_RUNTIME_DIR", dir.display()),
        ))
    };
    if metadata.file_type().is_symlink() {
        return refuse("it is a symbolic link, which Arbor does not follow".into());
    }
    if !metadata.is_dir() {
        return refuse("it is not a directory".into());
    }
    if metadata.uid() != current_uid() {
        return refuse(format!("it belongs to user {}, not to you", metadata.uid()));
    }
    if metadata.mode() & 0o077 != 0 {
        return refuse(format!("other users can enter it (mode {:o}, expected 700)", metadata.mode() & 0o777));
    }
    Ok(())
}

fn current_uid() -> u32 {
    // SAFETY: getuid(2) cannot fail and touches no memory.
    unsafe { libc::getuid() }
}
