//! What confines agents on this machine, found once at start-up by trying each backend for real
//! (running `true` inside it) rather than by reading versions.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

use arbor_protocol::{NetworkMode, SandboxBackend, SandboxBackendStatus, SandboxReport};

use super::container::{self, Engine, IMAGE};
use super::layout::Layout;
use super::limits::CgroupLayout;
use super::{SandboxError, bwrap, landlock};

/// The backends this machine has, preferred first, and how limits are enforced.
#[derive(Debug)]
pub struct Host {
    /// bwrap's and Landlock's, found at start-up.
    backends: Vec<SandboxBackendStatus>,
    /// The container backend's, found when first needed: asking the engine costs a good part
    /// of a second, which a server that never runs a container should not pay at every start.
    container: OnceLock<SandboxBackendStatus>,
    /// The `bwrap` program, when found.
    pub bwrap: Option<PathBuf>,
    /// The container engine, when found.
    pub engine: Option<Engine>,
    /// The cgroup hierarchy Arbor can create groups in, if any.
    pub cgroups: Option<CgroupLayout>,
}

static HOST: OnceLock<Host> = OnceLock::new();

impl Host {
    /// The machine's backends, detected on first use (the server does it at start-up).
    pub fn get() -> &'static Host {
        HOST.get_or_init(Host::detect)
    }

    fn detect() -> Host {
        let bwrap = crate::agents::discovery::find_program("bwrap", None);
        let bwrap_status = match &bwrap {
            None => Err("bwrap is not installed (Debian and Ubuntu: apt-get install bubblewrap)".to_string()),
            Some(program) => try_true(bwrap::probe(program)).map(|()| version(program)),
        };
        let landlock_status = match landlock::abi() {
            None => Err("the kernel has no Landlock (Linux 5.13 or newer with landlock among its LSMs)".to_string()),
            Some(abi) => {
                let probe = landlock::command(&Layout::default(), Some(Vec::new()), &true_program(), &[]);
                try_true(probe).map(|()| {
                    let network =
                        if abi >= 4 { "TCP connect limited by port" } else { "no network rules before ABI 4" };
                    format!("Landlock ABI {abi} ({network}; no PID namespace)")
                })
            }
        };
        let backends = vec![status(SandboxBackend::Bwrap, bwrap_status), status(SandboxBackend::Landlock, landlock_status)];
        Host {
            backends,
            container: OnceLock::new(),
            bwrap,
            engine: Engine::find(),
            cgroups: CgroupLayout::detect(),
        }
    }

    /// The container backend: the engine, Arbor's image, and `true` run in it.
    fn container(&self) -> &SandboxBackendStatus {
        self.container.get_or_init(|| {
            let result = match &self.engine {
                None => Err("neither podman nor a running docker daemon was found (Debian: apt-get install podman runc)"
                    .to_string()),
                Some(engine) if !engine.has_image() => {
                    Err(format!("{} has no image {IMAGE}: run `arbor sandbox build-image`", engine.describe()))
                }
                Some(engine) => {
                    let probe = container::Run {
                        name: &format!("arbor-probe-{}", std::process::id()),
                        server: "probe",
                        network: NetworkMode::Off,
                        forward: None,
                        max_processes: 64,
                        max_memory_mb: 256,
                        cgroup_parent: None,
                        seccomp: None,
                        env: Vec::new(),
                    };
                    let command =
                        container::command(engine, &Layout::default(), &probe, Path::new("/"), &true_program(), &[]);
                    try_true(command).map(|()| {
                        format!("{}, image {IMAGE} (user, mount, PID and network namespaces)", engine.describe())
                    })
                }
            };
            status(SandboxBackend::Container, result)
        })
    }

    /// Every backend's status, preferred first: the container last, as the slowest to start.
    fn statuses(&self) -> impl Iterator<Item = &SandboxBackendStatus> {
        self.backends.iter().chain(std::iter::once_with(|| self.container()))
    }

    /// The backend `auto` picks: the first that works.
    pub fn auto(&self) -> Option<SandboxBackend> {
        self.statuses().find(|status| status.available).map(|status| status.backend)
    }

    /// `backend` when it works here, else why not.
    pub fn require(&self, backend: SandboxBackend) -> Result<SandboxBackend, SandboxError> {
        if backend == SandboxBackend::None {
            return Ok(backend);
        }
        match self.statuses().find(|status| status.backend == backend) {
            Some(status) if status.available => Ok(backend),
            Some(status) => Err(SandboxError::Unavailable { backend: backend.as_str(), detail: status.detail.clone() }),
            None => Err(SandboxError::Unavailable { backend: backend.as_str(), detail: "unknown backend".into() }),
        }
    }

    /// What enforces process and memory limits: cgroups when Arbor can create them, else rlimits.
    pub fn limits_mechanism(&self) -> &'static str {
        if self.cgroups.is_some() { "cgroup" } else { "rlimit" }
    }

    /// The report `agents/list` carries.
    pub fn report(&self) -> SandboxReport {
        let auto = self.auto();
        let reason = auto.is_none().then(|| {
            let reasons: Vec<String> =
                self.statuses().map(|status| format!("{}: {}", status.backend.as_str(), status.detail)).collect();
            format!("no sandbox works on this machine ({})", reasons.join("; "))
        });
        let backends = self.statuses().cloned().collect();
        SandboxReport { backends, auto, reason, limits: self.limits_mechanism().into() }
    }
}

fn status(backend: SandboxBackend, result: Result<String, String>) -> SandboxBackendStatus {
    let available = result.is_ok();
    SandboxBackendStatus { backend, available, detail: result.unwrap_or_else(|reason| reason) }
}

/// `true`, for probes.
pub fn true_program() -> PathBuf {
    ["/usr/bin/true", "/bin/true"].iter().map(PathBuf::from).find(|path| path.exists()).unwrap_or_else(|| "true".into())
}

/// Runs a probe command and reports why it failed, if it did.
fn try_true(command: Result<tokio::process::Command, SandboxError>) -> Result<(), String> {
    let command = command.map_err(|error| error.to_string())?;
    let mut command = command.into_std();
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|error| format!("could not run it: {error}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(format!("running `true` inside it failed ({}): {}", output.status, stderr.trim()))
}

fn version(program: &std::path::Path) -> String {
    let output = std::process::Command::new(program).arg("--version").stderr(Stdio::null()).output();
    let text = output.map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string()).unwrap_or_default();
    format!("{text} (user, mount, PID and network namespaces)")
}
