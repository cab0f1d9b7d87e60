//! The Landlock backend: `arbor sandbox-exec` restricts itself (an allow-list of readable roots,
//! the layout's writable paths, TCP connect only to the model API's port where the kernel's ABI
//! has network rules, no signals or abstract sockets outside), gives up every capability, and
//! executes the agent, which inherits all of it. There is no PID namespace: the agent sees the
//! machine's processes (though it cannot signal or trace them).

use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, NetPort, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
    path_beneath_rules,
};
use serde::{Deserialize, Serialize};
use tokio::process::Command;

use super::SandboxError;
use super::layout::{CREDENTIAL_PATHS, Layout, SYSTEM_ROOTS};

/// The newest ABI this server asks for; older kernels get what they support.
const TARGET_ABI: ABI = ABI::V6;

/// What the helper applies to itself before it executes the agent.
#[derive(Debug, Serialize, Deserialize)]
pub struct Policy {
    /// Readable (and executable) roots.
    pub read: Vec<PathBuf>,
    /// Readable and writable roots.
    pub write: Vec<PathBuf>,
    /// TCP ports the agent may connect to; null leaves the network alone.
    pub ports: Option<Vec<u16>>,
}

/// The Landlock ABI the kernel offers, if any.
pub fn abi() -> Option<i64> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: asking for the ABI version passes no pointer the kernel writes to.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    (version > 0).then_some(version)
}

/// The readable roots: the system (with /etc listed entry by entry so that credential files can
/// be left out), /proc and /sys, and the layout's read-only paths.
fn readable(layout: &Layout) -> Vec<PathBuf> {
    let mut read: Vec<PathBuf> = SYSTEM_ROOTS.iter().filter(|root| **root != "/etc").map(PathBuf::from).collect();
    if let Ok(entries) = std::fs::read_dir("/etc") {
        read.extend(entries.flatten().map(|entry| entry.path()).filter(|path| !hidden(path)));
    }
    read.extend(["/proc", "/sys"].map(PathBuf::from));
    read.extend(layout.read_only.iter().cloned());
    read
}

fn hidden(path: &Path) -> bool {
    CREDENTIAL_PATHS.iter().any(|credential| Path::new(credential).starts_with(path) || path.starts_with(credential))
}

/// `program arguments` run under `arbor sandbox-exec` with the layout's policy.
pub fn command(
    layout: &Layout,
    ports: Option<Vec<u16>>,
    program: &Path,
    arguments: &[String],
) -> Result<Command, SandboxError> {
    let mut write = layout.read_write.clone();
    write.push(PathBuf::from("/dev"));
    let policy = Policy { read: readable(layout), write, ports };
    let policy = serde_json::to_string(&policy).map_err(|error| SandboxError::Command(error.to_string()))?;
    let arbor = super::arbor_binary()?;
    let mut command = Command::new(arbor);
    command.arg("sandbox-exec").arg("--policy").arg(policy).arg("--").arg(program).args(arguments);
    Ok(command)
}

/// Errors of the helper.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The policy is not valid JSON.
    #[error("bad sandbox policy: {0}")]
    Policy(#[from] serde_json::Error),
    /// Landlock refused the ruleset.
    #[error("Landlock: {0}")]
    Landlock(#[from] landlock::RulesetError),
    /// The kernel enforced nothing.
    #[error("Landlock is not enforced by this kernel")]
    NotEnforced,
    /// The agent could not be executed.
    #[error("could not execute {program}: {source}")]
    Exec { program: String, source: std::io::Error },
}

/// The helper: restricts this process as `policy` says and becomes `program`. Only returns on
/// failure.
pub fn exec(policy: &str, program: &Path, arguments: &[String]) -> Result<std::convert::Infallible, ExecError> {
    let policy: Policy = serde_json::from_str(policy)?;
    drop_privileges();
    let mut ruleset = Ruleset::default().handle_access(AccessFs::from_all(TARGET_ABI))?;
    if policy.ports.is_some() {
        ruleset = ruleset.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)?;
    }
    let existing = |paths: Vec<PathBuf>| paths.into_iter().filter(|path| path.exists()).collect::<Vec<_>>();
    let mut created = ruleset
        .scope(Scope::AbstractUnixSocket | Scope::Signal)?
        .create()?
        .add_rules(path_beneath_rules(existing(policy.read), AccessFs::from_read(TARGET_ABI)))?
        .add_rules(path_beneath_rules(existing(policy.write), AccessFs::from_all(TARGET_ABI)))?;
    for port in policy.ports.unwrap_or_default() {
        created = created.add_rule(NetPort::new(port, AccessNet::ConnectTcp))?;
    }
    if created.restrict_self()?.ruleset == RulesetStatus::NotEnforced {
        return Err(ExecError::NotEnforced);
    }
    use std::os::unix::process::CommandExt;
    let source = std::process::Command::new(program).args(arguments).exec();
    Err(ExecError::Exec { program: program.display().to_string(), source })
}

/// Gives up every capability for good (even as root: with `SECBIT_NOROOT` an executed program
/// gains none), and asks to be killed when its keeper dies, since there is no PID namespace to
/// end.
fn drop_privileges() {
    const SECURE_BITS: libc::c_ulong = 0b10_1111; // NOROOT, NO_SETUID_FIXUP, KEEP_CAPS_LOCKED, each locked
    // SAFETY: prctl with these options changes only this process's credentials; failures (an
    // unprivileged caller has nothing to drop) are harmless.
    unsafe {
        libc::prctl(libc::PR_SET_SECUREBITS, SECURE_BITS, 0, 0, 0);
        for capability in 0..=63 {
            libc::prctl(libc::PR_CAPBSET_DROP, capability, 0, 0, 0);
        }
        libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
    }
}
