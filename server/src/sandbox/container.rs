//! The container backend: podman (or docker where its daemon answers) running the agent in
//! Arbor's own image (`arbor sandbox build-image`, made from this machine's Debian packages, see
//! `image.rs`), with the layout's paths bound at their own places, no capability, a user
//! namespace when Arbor runs as root, its own PID and network namespaces, and the session's
//! limits. A container outlives a killed engine CLI, so every container is named and labelled:
//! the session's teardown, the keeper and the next start remove it.

use std::path::{Path, PathBuf};

use arbor_protocol::NetworkMode;
use tokio::process::Command;

use super::SandboxError;
use super::bwrap::{Forward, INSIDE_SOCKET};
use super::layout::{Layout, hostname_and_tmpfs_arguments};

/// The image every container runs.
pub const IMAGE: &str = "localhost/arbor-sandbox:latest";
/// The label naming the data directory whose server started a container.
pub const SERVER_LABEL: &str = "arbor.server";

/// The system calls refused in a container, beyond what no capability allows: new user
/// namespaces (one would give the agent capabilities inside it; `unshare`, `clone` with
/// `CLONE_NEWUSER`, and `clone3`, whose flags a filter cannot see, so that the C library falls
/// back to `clone`), and the kernel's keyrings, BPF, perf events and userfaultfd.
const SECCOMP_PROFILE: &str = r#"{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [
    { "names": ["unshare", "clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
      "args": [{ "index": 0, "value": 268435456, "valueTwo": 268435456, "op": "SCMP_CMP_MASKED_EQ" }] },
    { "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 },
    { "names": ["keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd"],
      "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }
  ]
}
"#;

/// Writes the containers' seccomp profile to `path`.
pub fn write_seccomp_profile(path: &Path) -> std::io::Result<()> {
    std::fs::write(path, SECCOMP_PROFILE)
}

/// A container engine's command line tool.
#[derive(Debug, Clone)]
pub struct Engine {
    /// The program.
    pub program: PathBuf,
    /// Podman rather than docker.
    pub podman: bool,
}

impl Engine {
    /// Podman when installed, else docker when its daemon answers.
    pub fn find() -> Option<Engine> {
        if let Some(program) = crate::agents::discovery::find_program("podman", None) {
            return Some(Engine { program, podman: true });
        }
        let program = crate::agents::discovery::find_program("docker", None)?;
        let answers = quiet(&program, &["info"]).is_ok_and(|status| status.success());
        answers.then_some(Engine { program, podman: false })
    }

    /// The engine's name and version, for `agents/list`.
    pub fn describe(&self) -> String {
        let output = std::process::Command::new(&self.program).arg("--version").output();
        output.map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string()).unwrap_or_default()
    }

    /// Whether Arbor's image has been built.
    pub fn has_image(&self) -> bool {
        quiet(&self.program, &["image", "inspect", IMAGE]).is_ok_and(|status| status.success())
    }

    /// Removes the container `name` at once, whatever state it is in.
    pub fn remove(&self, name: &str) {
        let mut arguments = vec!["rm", "-f"];
        if self.podman {
            arguments.extend(["-t", "0"]);
        }
        arguments.push(name);
        let _ = quiet(&self.program, &arguments);
    }

    /// Removes every container the server on the data directory `server` started (it was killed
    /// before it could), at start-up.
    pub fn recover(&self, server: &str) {
        let filter = format!("label={SERVER_LABEL}={server}");
        let listed = std::process::Command::new(&self.program)
            .args(["ps", "-a", "-q", "--filter", &filter])
            .stderr(std::process::Stdio::null())
            .output();
        let Ok(listed) = listed else { return };
        for id in String::from_utf8_lossy(&listed.stdout).split_whitespace() {
            tracing::info!(container = id, "removing a sandbox container left by a previous server");
            self.remove(id);
        }
    }
}

/// Runs the engine with `arguments`, its output discarded.
fn quiet(program: &Path, arguments: &[&str]) -> std::io::Result<std::process::ExitStatus> {
    std::process::Command::new(program)
        .args(arguments)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
}

/// What one container is started with, beyond the layout.
pub struct Run<'a> {
    /// The container's name.
    pub name: &'a str,
    /// The data directory's label value.
    pub server: &'a str,
    /// The network mode.
    pub network: NetworkMode,
    /// The model API forwarder's socket, in `model_api` mode.
    pub forward: Option<&'a Forward>,
    /// Bound on the container's processes.
    pub max_processes: u32,
    /// Bound on its memory, in MiB.
    pub max_memory_mb: u64,
    /// The session's cgroup, relative to the hierarchy's root, to start the container under.
    pub cgroup_parent: Option<String>,
    /// The seccomp profile (`write_seccomp_profile`), when one is applied.
    pub seccomp: Option<&'a Path>,
    /// The environment variables to pass in (their values are the engine's own, so that none
    /// appears on a command line).
    pub env: Vec<String>,
}

/// The uid and gid mappings: as root, the agent's uid 1000 is root outside (so it owns what it
/// writes in the worktree) inside a user namespace of its own, like bwrap's; otherwise the
/// user's own ids are kept.
fn user_arguments() -> Vec<String> {
    // SAFETY: getuid cannot fail.
    if unsafe { libc::getuid() } != 0 {
        return ["--userns", "keep-id"].map(String::from).to_vec();
    }
    let mut arguments = Vec::new();
    for flag in ["--uidmap", "--gidmap"] {
        arguments.extend([flag.to_string(), "1000:0:1".into(), flag.to_string(), "0:1:1000".into()]);
    }
    arguments.extend(["--user".into(), "1000:1000".into()]);
    arguments
}

/// The open files limit the engine may set: Arbor's own hard limit (the engines' default is
/// refused where it is lower).
fn open_files_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes only to `limit`.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if read == 0 { limit.rlim_max } else { 1024 }
}

fn bind(arguments: &mut Vec<String>, path: &Path, mode: &str) {
    let path = path.display().to_string();
    arguments.extend(["-v".into(), format!("{path}:{path}:{mode}")]);
}

/// `program arguments` run in a container laid out as `layout`.
pub fn command(
    engine: &Engine,
    layout: &Layout,
    run: &Run<'_>,
    cwd: &Path,
    program: &Path,
    arguments: &[String],
) -> Result<Command, SandboxError> {
    let mut all: Vec<String> =
        ["run", "--rm", "-i", "--pull", "never", "--log-driver", "none"].map(String::from).to_vec();
    if engine.podman && crate::agents::discovery::find_program("runc", None).is_some() {
        // crun refuses hybrid cgroup hierarchies; runc handles both.
        all.extend(["--runtime".into(), "runc".into()]);
    }
    all.extend(["--name".into(), run.name.into(), "--label".into(), format!("{SERVER_LABEL}={}", run.server)]);
    all.extend(user_arguments());
    all.extend(["--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--read-only"].map(String::from));
    all.extend(hostname_and_tmpfs_arguments());
    let network = if run.network == NetworkMode::On { "host" } else { "none" };
    all.extend(["--network".into(), network.into()]);
    let files = open_files_limit();
    all.extend([
        "--pids-limit".into(),
        run.max_processes.to_string(),
        "--memory".into(),
        format!("{}m", run.max_memory_mb),
        "--ulimit".into(),
        format!("nofile={files}:{files}"),
        "--ulimit".into(),
        format!("nproc={0}:{0}", run.max_processes),
    ]);
    if let Some(profile) = run.seccomp {
        all.extend(["--security-opt".into(), format!("seccomp={}", profile.display())]);
    }
    if let Some(parent) = &run.cgroup_parent {
        all.extend(["--cgroup-parent".into(), parent.clone()]);
    }
    for path in layout.read_only.iter().chain(&layout.system_programs).filter(|path| path.exists()) {
        bind(&mut all, path, "ro");
    }
    for path in layout.read_write.iter().filter(|path| path.exists()) {
        bind(&mut all, path, "rw");
    }
    for path in layout.read_only_over.iter().filter(|path| path.exists()) {
        bind(&mut all, path, "ro");
    }
    if let Some(forward) = run.forward {
        all.extend(["-v".into(), format!("{}:{INSIDE_SOCKET}", forward.socket.display())]);
    }
    for name in &run.env {
        all.extend(["-e".into(), name.clone()]);
    }
    all.extend(["--workdir".into(), cwd.display().to_string(), "--".into(), IMAGE.into()]);
    if let Some(forward) = run.forward {
        all.extend(super::bwrap::forwarder_arguments(forward)?);
    }
    all.push(program.display().to_string());
    all.extend(arguments.iter().cloned());
    let mut command = Command::new(&engine.program);
    command.args(all);
    Ok(command)
}
