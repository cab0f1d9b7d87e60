//! The bubblewrap backend: a user namespace (always, so that no capability survives even when
//! Arbor runs as root), its own mount, PID, IPC, UTS and network namespaces, the layout's paths
//! bound at their own places, and `--die-with-parent` so the tree ends with its keeper
//! (`keeper.rs`), which outlives a killed Arbor just long enough for the agent to end on its own.

use std::path::{Path, PathBuf};

use arbor_protocol::NetworkMode;
use tokio::process::Command;

use super::SandboxError;
use super::layout::{Layout, SYSTEM_ROOTS, hostname_and_tmpfs_arguments, is_system};

/// Where the forwarder's socket appears inside the sandbox.
pub const INSIDE_SOCKET: &str = "/run/arbor/model.sock";

/// The model API forwarder of one agent process: its socket outside, the port inside.
pub struct Forward {
    /// The Unix socket Arbor listens on.
    pub socket: PathBuf,
    /// The TCP port on 127.0.0.1 inside the sandbox.
    pub port: u16,
}

/// The uid and gid the agent has inside: its own, or 1000 when Arbor runs as root (root inside a
/// user namespace would still own every mapped file).
fn inside_ids() -> (u32, u32) {
    // SAFETY: getuid and getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    if uid == 0 { (1000, 1000) } else { (uid, gid) }
}

/// The namespace and system arguments every bwrap sandbox starts with.
fn base_arguments(network: NetworkMode) -> Vec<String> {
    let (uid, gid) = inside_ids();
    let mut arguments: Vec<String> = [
        "--unshare-user",
        // No user namespace inside either: a nested one would give the agent capabilities there.
        "--disable-userns",
        "--uid",
        &uid.to_string(),
        "--gid",
        &gid.to_string(),
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--cap-drop",
        "ALL",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ]
    .map(String::from)
    .to_vec();
    arguments.extend(hostname_and_tmpfs_arguments());
    if network != NetworkMode::On {
        arguments.push("--unshare-net".into());
    }
    for root in SYSTEM_ROOTS {
        let path = Path::new(root);
        match std::fs::read_link(path) {
            // Merged /usr: /bin and friends are symlinks into /usr.
            Ok(target) => arguments.extend(["--symlink".into(), target.display().to_string(), root.into()]),
            Err(_) if path.is_dir() => arguments.extend(["--ro-bind".into(), root.into(), root.into()]),
            Err(_) => {}
        }
    }
    arguments
}

fn bind(arguments: &mut Vec<String>, flag: &str, path: &Path) {
    let path = path.display().to_string();
    arguments.extend([flag.to_string(), path.clone(), path]);
}

/// `program arguments` run in a bwrap sandbox laid out as `layout`, reaching the model API
/// through `forward` when given.
pub fn command(
    layout: &Layout,
    network: NetworkMode,
    forward: Option<&Forward>,
    program: &Path,
    arguments: &[String],
) -> Result<Command, SandboxError> {
    let bwrap = super::Host::get()
        .bwrap
        .clone()
        .ok_or_else(|| SandboxError::Unavailable { backend: "bwrap", detail: "bwrap is not installed".into() })?;
    let mut all = base_arguments(network);
    for path in &layout.read_only {
        bind(&mut all, "--ro-bind-try", path);
    }
    for path in &layout.read_write {
        bind(&mut all, "--bind-try", path);
    }
    for path in &layout.read_only_over {
        bind(&mut all, "--ro-bind-try", path);
    }
    for path in layout.masked.iter().filter(|path| is_system(path)) {
        if path.is_dir() {
            all.extend(["--tmpfs".into(), path.display().to_string()]);
        } else {
            all.extend(["--ro-bind".into(), "/dev/null".into(), path.display().to_string()]);
        }
    }
    if let Some(forward) = forward {
        all.extend(["--bind".into(), forward.socket.display().to_string(), INSIDE_SOCKET.into()]);
    }
    // The sandbox's own root holds only the mount points: nothing may be written there.
    all.extend(["--remount-ro".into(), "/".into(), "--".into()]);
    if let Some(forward) = forward {
        all.extend(forwarder_arguments(forward)?);
    }
    all.push(program.display().to_string());
    all.extend(arguments.iter().cloned());
    let mut command = Command::new(bwrap);
    command.args(all);
    Ok(command)
}

/// The inside end of the model API forwarder in front of the agent's command: `arbor
/// sandbox-forward` listening on the inside port, carrying connections to the bound socket.
pub fn forwarder_arguments(forward: &Forward) -> Result<Vec<String>, SandboxError> {
    Ok(vec![
        super::arbor_binary()?.display().to_string(),
        "sandbox-forward".into(),
        "--socket".into(),
        INSIDE_SOCKET.into(),
        "--port".into(),
        forward.port.to_string(),
        "--".into(),
    ])
}

/// The start-up probe: `true` in the smallest sandbox.
pub fn probe(bwrap: &Path) -> Result<Command, SandboxError> {
    let mut command = Command::new(bwrap);
    command.args(base_arguments(NetworkMode::Off)).arg("--").arg(super::host::true_program());
    Ok(command)
}
