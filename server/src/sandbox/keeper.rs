//! The keeper: `arbor sandbox-keep`, the parent of every sandboxed agent. Backends that end
//! the agent with its parent (bwrap's `--die-with-parent`, Landlock's parent-death signal) would
//! kill it the instant Arbor is SIGKILLed, before it can save what it was about to write (Claude
//! Code writes its transcript on a timer just after a turn ends, so an instant kill loses the
//! conversation). The keeper stands between Arbor and the backend instead: while Arbor lives it
//! only waits for the agent and exits as it did; when Arbor dies, the agent's stdin reaches its
//! end (Arbor held the only writing end), and the keeper gives the agent [`GRACE`] to exit on its
//! own before it kills everything of the session that is left (the sandbox's process group and
//! cgroups), so nothing is left running either way.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long an agent whose server died has to end on its own: the time a stopped session's agent
/// has between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(3);
/// The signal the kernel sends the keeper when its parent dies.
const PARENT_DIED: libc::c_int = libc::SIGUSR1;
/// Signals that must not end the keeper before the agent: the agent shares its process group
/// and gets them itself, and the keeper reports the agent's exit once it comes.
const PASSED_ON: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, PARENT_DIED];

/// Errors of the keeper before the agent runs.
#[derive(Debug, thiserror::Error)]
pub enum KeeperError {
    /// Arbor ended before the agent could start.
    #[error("the server ended before the agent started")]
    ParentGone,
    /// The agent's command could not be started.
    #[error("could not start {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
}

/// The keeper's command line in front of `program arguments`: watching this process, ending
/// what is left in `cgroups` (their directories) when it dies, and removing `container` (the
/// engine and the container's name), which the engine's CLI does not take with it.
pub fn arguments(cgroups: &[PathBuf], container: Option<(&Path, &str)>) -> Vec<String> {
    let mut all = vec!["sandbox-keep".to_string(), "--parent".into(), std::process::id().to_string()];
    for group in cgroups {
        all.extend(["--cgroup".into(), group.display().to_string()]);
    }
    if let Some((engine, name)) = container {
        all.extend(["--engine".into(), engine.display().to_string(), "--container".into(), name.into()]);
    }
    all.push("--".into());
    all
}

/// What the keeper ends when the server dies.
pub struct Leftovers<'a> {
    /// The session's cgroup directories.
    pub cgroups: &'a [PathBuf],
    /// The container engine and the agent's container.
    pub container: Option<(&'a Path, &'a str)>,
}

extern "C" fn interrupt(_: libc::c_int) {}

/// Runs `program` and exits as it did; see the module's comment for what happens when `parent`
/// dies first. Only returns on failure to start it.
pub fn run(
    parent: u32,
    leftovers: &Leftovers<'_>,
    program: &Path,
    arguments: &[String],
) -> Result<std::convert::Infallible, KeeperError> {
    // SAFETY: the handler does nothing (so it is async-signal-safe); installing it without
    // SA_RESTART makes waitpid return early with EINTR, and a handled signal is reset to its
    // default in the executed agent, unlike an ignored one.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
        for signal in PASSED_ON {
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
        libc::prctl(libc::PR_SET_PDEATHSIG, PARENT_DIED, 0, 0, 0);
    }
    if parent_gone(parent) {
        return Err(KeeperError::ParentGone);
    }
    let child = std::process::Command::new(program)
        .args(arguments)
        .spawn()
        .map_err(|source| KeeperError::Spawn { program: program.display().to_string(), source })?;
    // The agent has its own copies of stdio: without the keeper's, the server sees the agent's
    // stdout close when the agent closes it.
    release_stdio();
    let pid = child.id() as libc::pid_t;
    let status = loop {
        if let Some(status) = wait(pid, 0) {
            break status;
        }
        if parent_gone(parent) {
            let deadline = Instant::now() + GRACE;
            while Instant::now() < deadline {
                if wait(pid, libc::WNOHANG).is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            end_everything(leftovers);
        }
    };
    exit_as(status)
}

fn parent_gone(parent: u32) -> bool {
    // SAFETY: getppid cannot fail.
    u32::try_from(unsafe { libc::getppid() }).ok() != Some(parent)
}

/// The wait status of `pid` once it has ended; None when interrupted or (with WNOHANG) still
/// running.
fn wait(pid: libc::pid_t, flags: libc::c_int) -> Option<libc::c_int> {
    let mut status = 0;
    // SAFETY: waitpid writes only to `status`.
    let waited = unsafe { libc::waitpid(pid, &mut status, flags) };
    (waited == pid).then_some(status)
}

fn release_stdio() {
    // SAFETY: /dev/null replaces the keeper's own descriptors 0-2; nothing in the keeper uses
    // them afterwards.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for fd in 0..=2 {
                libc::dup2(null, fd);
            }
            if null > 2 {
                libc::close(null);
            }
        }
    }
}

/// Removes the agent's container, kills every process in the session's cgroups but the keeper,
/// then the keeper's process group with the keeper in it.
fn end_everything(leftovers: &Leftovers<'_>) -> ! {
    if let Some((engine, name)) = leftovers.container {
        let mut remove = std::process::Command::new(engine);
        remove.args(["rm", "-f"]);
        if engine.ends_with("podman") {
            remove.args(["-t", "0"]);
        }
        let _ = remove.arg(name).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).status();
    }
    let own = std::process::id().to_string();
    for group in leftovers.cgroups {
        let procs = std::fs::read_to_string(group.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter(|pid| *pid != own).filter_map(|pid| pid.parse::<libc::pid_t>().ok()) {
            // SAFETY: kill(2) has no memory effects.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    // SAFETY: as above; 0 is the keeper's own group, which the server gave the sandbox alone.
    unsafe { libc::kill(0, libc::SIGKILL) };
    unreachable!("SIGKILL cannot be handled")
}

/// Ends the keeper as the agent ended: with its exit code, or by the signal that killed it.
fn exit_as(status: libc::c_int) -> ! {
    if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        // SAFETY: the default action is restored before the signal is raised on this process.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    }
    std::process::exit(if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 1 })
}
