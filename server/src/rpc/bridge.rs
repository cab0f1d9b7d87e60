//! `arbor lsp`: what an editor spawns. It connects stdio to the daemon's socket, starting the
//! daemon (detached, in its own session) when none answers — the way `gopls -remote=auto` works.

use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

use crate::paths::{Paths, create_private_dir, create_runtime_dir, open_private_log};

/// How long to wait for a freshly started daemon to accept connections.
const DAEMON_START_TIMEOUT: Duration = Duration::from_secs(15);

/// Connects to the daemon, starting it first if nothing answers on its socket.
pub async fn connect_or_start(paths: &Paths) -> anyhow::Result<UnixStream> {
    // A socket in a runtime directory someone else controls could be anyone's: check before use.
    create_runtime_dir(&paths.runtime_dir)
        .with_context(|| format!("cannot use runtime directory {}", paths.runtime_dir.display()))?;
    if let Ok(stream) = UnixStream::connect(paths.socket()).await {
        return Ok(stream);
    }
    start_daemon(paths)?;
    let deadline = tokio::time::Instant::now() + DAEMON_START_TIMEOUT;
    loop {
        match UnixStream::connect(paths.socket()).await {
            Ok(stream) => return Ok(stream),
            Err(error) if tokio::time::Instant::now() >= deadline => {
                bail!(
                    "the Arbor daemon did not start within {} s ({error}); see {}",
                    DAEMON_START_TIMEOUT.as_secs(),
                    paths.daemon_log().display()
                )
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}

/// Starts `arbor daemon` detached: its own session, no terminal, output to the daemon log.
fn start_daemon(paths: &Paths) -> anyhow::Result<()> {
    let log_path = paths.daemon_log();
    create_private_dir(&paths.data_dir)?;
    create_private_dir(&paths.logs())?;
    let log = open_private_log(&log_path)?;
    let program = std::env::current_exe().context("cannot find the arbor binary")?;
    let mut command = std::process::Command::new(program);
    command
        .arg("--data-dir")
        .arg(&paths.data_dir)
        .arg("--runtime-dir")
        .arg(&paths.runtime_dir)
        .arg("--config")
        .arg(&paths.config_file)
        .arg("daemon")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: setsid is async-signal-safe; it detaches the daemon from the editor's session so it
    // outlives the editor and ignores the editor's terminal signals.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    command.spawn().context("cannot start the Arbor daemon")?;
    Ok(())
}

/// Copies stdin to the daemon and the daemon's replies to stdout until the daemon side closes.
/// The daemon closes the connection after the client's `exit`, or when stdin reaches its end
/// (the editor went away) and the bridge passes that end on.
pub async fn run(paths: &Paths) -> anyhow::Result<()> {
    let stream = connect_or_start(paths).await?;
    let (mut from_daemon, mut to_daemon) = stream.into_split();
    let upstream = tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let _ = tokio::io::copy(&mut stdin, &mut to_daemon).await;
        let _ = to_daemon.shutdown().await;
    });
    let mut stdout = tokio::io::stdout();
    let copied = tokio::io::copy(&mut from_daemon, &mut stdout).await;
    let _ = stdout.flush().await;
    upstream.abort();
    copied.context("lost the connection to the Arbor daemon")?;
    Ok(())
}
