//! Process and memory limits per session: cgroups where Arbor can create them (v2, or the v1
//! `pids` and `memory` controllers), rlimits otherwise. Each agent process joins its session's
//! cgroups before it executes, so everything it starts is counted and can be ended together; the
//! counters of refused forks and OOM kills are read to tell the session when a limit was hit.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use tokio::process::Command;

use super::Host;
use crate::paths::Paths;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The cgroup hierarchy Arbor creates session groups in.
#[derive(Debug, Clone)]
pub enum CgroupLayout {
    /// One unified hierarchy with the pids and memory controllers.
    V2 { root: PathBuf },
    /// Separate v1 hierarchies.
    V1 { pids: PathBuf, memory: PathBuf },
}

impl CgroupLayout {
    /// The hierarchy Arbor can create groups in, if any.
    pub fn detect() -> Option<CgroupLayout> {
        let root = Path::new(CGROUP_ROOT);
        let controllers = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        if controllers.split_whitespace().any(|name| name == "pids")
            && controllers.split_whitespace().any(|name| name == "memory")
        {
            let base = root.join("arbor");
            let enabled = std::fs::create_dir_all(&base).is_ok()
                && std::fs::write(root.join("cgroup.subtree_control"), "+pids +memory").is_ok()
                && std::fs::write(base.join("cgroup.subtree_control"), "+pids +memory").is_ok();
            return enabled.then_some(CgroupLayout::V2 { root: base });
        }
        let (pids, memory) = (root.join("pids/arbor"), root.join("memory/arbor"));
        (std::fs::create_dir_all(&pids).is_ok() && std::fs::create_dir_all(&memory).is_ok())
            .then_some(CgroupLayout::V1 { pids, memory })
    }

    /// The directories (one per hierarchy) under which this server's sessions get their groups:
    /// one per data directory, so that servers on different data directories never touch each
    /// other's groups.
    fn server_dirs(&self, paths: &Paths) -> Vec<PathBuf> {
        let name = server_id(paths);
        match self {
            CgroupLayout::V2 { root } => vec![root.join(name)],
            CgroupLayout::V1 { pids, memory } => vec![pids.join(&name), memory.join(&name)],
        }
    }
}

/// The name of the server on the data directory of `paths` among others on this machine: its
/// cgroups' directory and its containers' label.
pub fn server_id(paths: &Paths) -> String {
    format!("{:016x}", fnv(paths.data_dir.to_string_lossy().as_bytes()))
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

/// A counter whose growth means a limit was hit.
struct Counter {
    file: PathBuf,
    key: &'static str,
    message: String,
    seen: Mutex<u64>,
}

/// One session's limits.
pub struct Limits {
    /// The session's cgroup directories (empty with rlimits).
    groups: Vec<PathBuf>,
    /// Their `cgroup.procs` files, for joining before exec.
    procs: Vec<CString>,
    counters: Vec<Counter>,
    /// The rlimits used when there are no cgroups: processes, data bytes.
    rlimits: Option<(u64, u64)>,
}

impl Limits {
    /// Creates the session's groups with `max_processes` and `max_memory_mb`, or plans rlimits.
    pub fn create(
        host: &Host,
        paths: &Paths,
        session: &str,
        max_processes: u32,
        max_memory_mb: u64,
    ) -> std::io::Result<Limits> {
        let bytes = max_memory_mb.saturating_mul(1024 * 1024);
        let Some(layout) = &host.cgroups else {
            return Ok(Limits {
                groups: Vec::new(),
                procs: Vec::new(),
                counters: Vec::new(),
                rlimits: Some((max_processes.into(), bytes)),
            });
        };
        let groups: Vec<PathBuf> = layout.server_dirs(paths).into_iter().map(|dir| dir.join(session)).collect();
        for group in &groups {
            std::fs::create_dir_all(group)?;
        }
        let processes = format!("the session reached its limit of {max_processes} processes: new ones were refused");
        let memory = format!("the session reached its memory limit of {max_memory_mb} MiB: a process was killed");
        let counter =
            |file: PathBuf, key, message: &String| Counter { file, key, message: message.clone(), seen: Mutex::new(0) };
        let counters = match layout {
            CgroupLayout::V2 { .. } => {
                std::fs::write(groups[0].join("pids.max"), max_processes.to_string())?;
                std::fs::write(groups[0].join("memory.max"), bytes.to_string())?;
                vec![
                    counter(groups[0].join("pids.events"), "max", &processes),
                    counter(groups[0].join("memory.events"), "oom_kill", &memory),
                ]
            }
            CgroupLayout::V1 { .. } => {
                std::fs::write(groups[0].join("pids.max"), max_processes.to_string())?;
                std::fs::write(groups[1].join("memory.limit_in_bytes"), bytes.to_string())?;
                vec![
                    counter(groups[0].join("pids.events"), "max", &processes),
                    counter(groups[1].join("memory.oom_control"), "oom_kill", &memory),
                ]
            }
        };
        for counter in &counters {
            *counter.seen.lock().expect("counter poisoned") = read_counter(&counter.file, counter.key);
        }
        let procs = groups
            .iter()
            .map(|group| CString::new(group.join("cgroup.procs").to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()
            .map_err(std::io::Error::other)?;
        Ok(Limits { groups, procs, counters, rlimits: None })
    }

    /// Makes `command`'s process join the session's groups (or take its rlimits) before it
    /// executes, so nothing it starts escapes them.
    pub fn apply_on_spawn(&self, command: &mut Command) {
        let procs = self.procs.clone();
        let rlimits = self.rlimits;
        // SAFETY: the closure runs between fork and exec and calls only async-signal-safe
        // functions (open, write, close, setrlimit) on memory prepared before the fork.
        unsafe {
            command.pre_exec(move || {
                for file in &procs {
                    let fd = libc::open(file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                    libc::close(fd);
                    if written != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                if let Some((processes, bytes)) = rlimits {
                    let limit = |value| libc::rlimit { rlim_cur: value, rlim_max: value };
                    libc::setrlimit(libc::RLIMIT_NPROC, &limit(processes));
                    libc::setrlimit(libc::RLIMIT_DATA, &limit(bytes));
                }
                Ok(())
            });
        }
    }

    /// The session's cgroup directories (none with rlimits).
    pub fn groups(&self) -> &[PathBuf] {
        &self.groups
    }

    /// The session's cgroup relative to its hierarchy's root (the same in every hierarchy), for
    /// a container engine to start the container under it.
    pub fn relative(&self) -> Option<String> {
        let group = self.groups.first()?;
        let relative = group.strip_prefix(CGROUP_ROOT).ok()?;
        // In v1 the first component is the controller's hierarchy.
        let relative = if self.groups.len() > 1 { relative.components().skip(1).collect() } else { relative.to_path_buf() };
        Some(format!("/{}", relative.display()))
    }

    /// Messages for the limits hit since the last call.
    pub fn new_hits(&self) -> Vec<String> {
        let mut hits = Vec::new();
        for counter in &self.counters {
            let now = read_counter(&counter.file, counter.key);
            let mut seen = counter.seen.lock().expect("counter poisoned");
            if now > *seen {
                hits.push(counter.message.clone());
                *seen = now;
            }
        }
        hits
    }

    /// Kills every process left in the session's groups and removes them, with the groups a
    /// container engine made under them in every hierarchy.
    pub fn teardown(&self) {
        for group in &self.groups {
            end_group(group);
        }
        if let Some(relative) = self.relative() {
            let hierarchies = std::fs::read_dir(CGROUP_ROOT).into_iter().flatten().flatten();
            for hierarchy in hierarchies {
                let group = hierarchy.path().join(relative.trim_start_matches('/'));
                if group.is_dir() {
                    end_group(&group);
                }
            }
        }
    }
}

/// The sum of `key` in `file` of `group` and of every group below it (where a container engine
/// puts its containers).
fn read_counter(file: &Path, key: &str) -> u64 {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let own = text
        .lines()
        .filter_map(|line| line.split_once(' '))
        .find(|(name, _)| *name == key)
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    let (Some(group), Some(name)) = (file.parent(), file.file_name()) else { return own };
    own + below(group).iter().map(|child| read_counter(&child.join(name), key)).sum::<u64>()
}

/// The groups directly below `group`.
fn below(group: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(group).into_iter().flatten().flatten();
    entries.map(|entry| entry.path()).filter(|path| path.is_dir()).collect()
}

/// Kills what runs in `group` and below it until it is empty (or a second has passed), then
/// removes the groups, the deepest first.
fn end_group(group: &Path) {
    for child in below(group) {
        end_group(&child);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    loop {
        let procs = std::fs::read_to_string(group.join("cgroup.procs")).unwrap_or_default();
        let pids: Vec<i32> = procs.lines().filter_map(|line| line.trim().parse().ok()).collect();
        if pids.is_empty() || std::time::Instant::now() > deadline {
            break;
        }
        for pid in pids {
            // SAFETY: kill(2) has no memory effects.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = std::fs::remove_dir(group);
}

/// Ends whatever a previous server on the same data directory left in its sessions' groups (it
/// was killed before it could), at start-up.
pub fn recover(host: &Host, paths: &Paths) {
    if let Some(engine) = host.engine.clone() {
        // Asking the engine is slow; nothing at start-up waits for it.
        let server = server_id(paths);
        std::thread::spawn(move || engine.recover(&server));
    }
    let Some(layout) = &host.cgroups else { return };
    for dir in layout.server_dirs(paths) {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten().filter(|entry| entry.path().is_dir()) {
            tracing::info!(group = %entry.path().display(), "ending a sandbox group left by a previous server");
            end_group(&entry.path());
        }
    }
}
