//! Agent processes run in their own process group, so that ending a session ends everything the
//! agent started (shells, test runners, language servers) and nothing outlives the server.
//!
//! Each group is also recorded in the store while its session runs (see [`GroupLedger`]), so that
//! after a crash the next server can end what the dead one left behind ([`end_leftover_groups`]),
//! once it has checked the processes are still that session's and not others that reused the ids.

use std::collections::HashSet;
use std::fmt;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use uuid::Uuid;

use crate::store::{ProcessGroupRecord, Store};

/// The environment variable every agent process gets with its session's id. Its children inherit
/// it, which is how recovery tells a session's processes from others that reused their ids.
pub const SESSION_ID_ENV: &str = "ARBOR_SESSION_ID";

/// Process groups of every agent started by this server and not yet ended.
static LIVE_GROUPS: LazyLock<Mutex<HashSet<i32>>> = LazyLock::new(Mutex::default);

/// A spawned child without a usable process id: its group cannot be signalled safely.
#[derive(Debug, thiserror::Error)]
#[error("the agent process has no usable process id ({0:?}); signalling its group would reach other processes")]
pub struct InvalidPid(pub Option<u32>);

/// One agent's process group. Its id is the agent process's pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessGroup(i32);

impl ProcessGroup {
    /// Registers the group led by `pid` so that server shutdown can end it. A missing pid, 0 or
    /// one that is negative as a process id is refused: `kill(-0)` would signal Arbor's own group
    /// and `kill(-(-n))` the single process `n`.
    pub fn register(pid: Option<u32>) -> Result<Self, InvalidPid> {
        let id = pid.and_then(|pid| i32::try_from(pid).ok()).filter(|id| *id > 0).ok_or(InvalidPid(pid))?;
        LIVE_GROUPS.lock().expect("process group set poisoned").insert(id);
        Ok(ProcessGroup(id))
    }

    /// Spawns `command` as the leader of a new process group and registers the group, so that
    /// the server ends it when it stops; every agent and terminal process starts this way.
    pub fn spawn_leader(
        command: &mut tokio::process::Command,
    ) -> std::io::Result<(tokio::process::Child, ProcessGroup)> {
        // A child without a pid is dropped here, which kills it if it runs at all.
        let child = command.process_group(0).spawn()?;
        let group = ProcessGroup::register(child.id()).map_err(std::io::Error::other)?;
        Ok((child, group))
    }

    /// The group's id.
    pub fn id(self) -> i32 {
        self.0
    }

    /// Sends `signal` to every process in the group.
    pub fn signal(self, signal: i32) {
        // SAFETY: kill(2) with a negative pid signals a process group; it has no memory effects.
        unsafe {
            libc::kill(-self.0, signal);
        }
    }

    /// Whether any process of the group is still alive.
    pub fn is_alive(self) -> bool {
        // SAFETY: signal 0 only checks for existence.
        unsafe { libc::kill(-self.0, 0) == 0 }
    }

    /// Waits up to `limit` for every process of the group to end on its own.
    pub async fn wait_for_exit(self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.is_alive() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Asks the group to end (SIGTERM), waits up to `grace`, then kills what is left (SIGKILL).
    pub async fn terminate(self, grace: Duration) {
        if self.is_alive() {
            self.signal(libc::SIGTERM);
            self.wait_for_exit(grace).await;
            if self.is_alive() {
                self.signal(libc::SIGKILL);
            }
        }
        LIVE_GROUPS.lock().expect("process group set poisoned").remove(&self.0);
    }
}

/// The process group an agent currently runs in: fixed for a persistent agent, replaced each
/// turn for an agent that runs one process per turn.
#[derive(Debug, Clone, Default)]
pub struct GroupSlot(std::sync::Arc<Mutex<Option<ProcessGroup>>>);

impl GroupSlot {
    /// A slot holding `group`.
    pub fn with(group: ProcessGroup) -> Self {
        let slot = GroupSlot::default();
        slot.set(Some(group));
        slot
    }

    /// Records the group now running (None when nothing runs).
    pub fn set(&self, group: Option<ProcessGroup>) {
        *self.0.lock().expect("group slot poisoned") = group;
    }

    /// The group now running, if any.
    pub fn get(&self) -> Option<ProcessGroup> {
        *self.0.lock().expect("group slot poisoned")
    }
}

/// Kills every agent process group still registered. Called last on server shutdown, after the
/// sessions were asked to stop, as a guarantee that no agent is orphaned.
pub fn kill_all_groups() {
    let groups: Vec<i32> = LIVE_GROUPS.lock().expect("process group set poisoned").drain().collect();
    for group in groups {
        ProcessGroup(group).signal(libc::SIGKILL);
    }
}

/// Where a session's agent process groups are recorded while it runs. The session actor clears
/// the record once it has ended the group.
#[derive(Clone)]
pub struct GroupLedger {
    store: Store,
    session_id: Uuid,
}

impl GroupLedger {
    /// The ledger of `session_id`'s groups in `store`.
    pub fn new(store: Store, session_id: Uuid) -> Self {
        Self { store, session_id }
    }

    /// Records `group`, just spawned, with its leader's start time. A group that cannot be
    /// recorded still runs; only crash recovery loses sight of it, so the failure is logged.
    pub async fn record(&self, group: ProcessGroup) {
        let Some(leader) = ProcStat::read(group.id()) else {
            tracing::warn!(session = %self.session_id, group = group.id(), "the agent exited before its group was recorded");
            return;
        };
        let record = ProcessGroupRecord {
            session_id: self.session_id,
            process_group: group.id(),
            leader_start_time: leader.start_time,
        };
        if let Err(error) = self.store.record_process_group(record).await {
            tracing::warn!(session = %self.session_id, %error, "could not record the agent's process group");
        }
    }
}

impl fmt::Debug for GroupLedger {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_struct("GroupLedger").field("session_id", &self.session_id).finish_non_exhaustive()
    }
}

/// Ends the process groups a previous server recorded and did not clear (it was killed or
/// crashed). A group is killed only when one of its processes proves it belongs to the recorded
/// session; returns how many groups were killed.
pub fn end_leftover_groups(records: &[ProcessGroupRecord]) -> usize {
    let mut ended = 0;
    for record in records {
        if belongs_to(record) {
            tracing::warn!(session = %record.session_id, group = record.process_group, "ending agent processes a previous server left running");
            ProcessGroup(record.process_group).signal(libc::SIGKILL);
            ended += 1;
        }
    }
    ended
}

/// Whether the processes now in `record`'s group are the recorded session's. Pids are reused, so
/// the id alone proves nothing: a live leader must have the recorded start time, and some member
/// must carry the session's id in its environment and have started no earlier than the leader.
fn belongs_to(record: &ProcessGroupRecord) -> bool {
    if record.process_group <= 0 {
        return false;
    }
    if let Some(leader) = ProcStat::read(record.process_group)
        && leader.start_time != record.leader_start_time
    {
        return false;
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    let marker = format!("{SESSION_ID_ENV}={}", record.session_id);
    entries.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok()).any(|pid| {
        ProcStat::read(pid).is_some_and(|stat| {
            stat.process_group == record.process_group && stat.start_time >= record.leader_start_time
        }) && has_environment_entry(pid, &marker)
    })
}

/// Whether process `pid`'s environment holds exactly `entry` (`NAME=value`).
fn has_environment_entry(pid: i32, entry: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|environ| environ.split(|byte| *byte == 0).any(|item| item == entry.as_bytes()))
}

/// What Arbor reads of a process from `/proc/<pid>/stat`.
struct ProcStat {
    process_group: i32,
    /// Clock ticks after boot at which the process started.
    start_time: u64,
}

impl ProcStat {
    /// The stat of a live process (not a zombie), if it exists.
    fn read(pid: i32) -> Option<ProcStat> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name (field 2) is in parentheses and may hold spaces and parentheses
        // itself; the fields after the last ')' start with the state (field 3).
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        if fields.first() == Some(&"Z") {
            return None;
        }
        Some(ProcStat { process_group: fields.get(2)?.parse().ok()?, start_time: fields.get(19)?.parse().ok()? })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;

    use super::*;

    #[test]
    fn a_missing_zero_or_negative_pid_is_never_registered_as_a_group() {
        for pid in [None, Some(0), Some(u32::MAX), Some(i32::MAX as u32 + 1)] {
            assert!(ProcessGroup::register(pid).is_err(), "{pid:?} was accepted");
        }
        assert!(!LIVE_GROUPS.lock().unwrap().iter().any(|id| *id <= 0));
        let own = std::process::id();
        assert_eq!(ProcessGroup::register(Some(own)).map(ProcessGroup::id).ok(), Some(own as i32));
        LIVE_GROUPS.lock().unwrap().remove(&(own as i32));
    }

    #[test]
    fn a_group_is_ours_only_with_the_leaders_start_time_and_the_sessions_id() {
        let session_id = Uuid::new_v4();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env(SESSION_ID_ENV, session_id.to_string())
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        // `spawn` returns once the child has begun `execve`, before the kernel has laid out the
        // new program's environment (until then `/proc/<pid>/environ` reads empty): wait for it.
        let marker = format!("{SESSION_ID_ENV}={session_id}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !has_environment_entry(pid, &marker) {
            assert!(std::time::Instant::now() < deadline, "the child's environment never showed the marker");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let start_time = ProcStat::read(pid).unwrap().start_time;
        let record =
            |session_id, leader_start_time| ProcessGroupRecord { session_id, process_group: pid, leader_start_time };
        assert!(belongs_to(&record(session_id, start_time)));
        assert!(!belongs_to(&record(session_id, start_time + 1)), "another process reused the pid");
        assert!(!belongs_to(&record(Uuid::new_v4(), start_time)), "another session's group");
        assert_eq!(end_leftover_groups(&[record(session_id, start_time)]), 1);
        assert!(child.wait().is_ok_and(|status| !status.success()));
        assert!(!belongs_to(&record(session_id, start_time)), "nothing is left to end");
    }
}
