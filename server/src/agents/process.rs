//! Agent processes run in their own process group, so that ending a session ends everything the
//! agent started (shells, test runners, language servers) and nothing outlives the server.

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// Process groups of every agent started by this server and not yet ended.
static LIVE_GROUPS: LazyLock<Mutex<HashSet<i32>>> = LazyLock::new(Mutex::default);

/// One agent's process group. Its id is the agent process's pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessGroup(i32);

impl ProcessGroup {
    /// Registers the group led by `pid` so that server shutdown can end it.
    pub fn register(pid: u32) -> Self {
        let id = pid as i32;
        LIVE_GROUPS.lock().expect("process group set poisoned").insert(id);
        ProcessGroup(id)
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

    /// Asks the group to end (SIGTERM), waits up to `grace`, then kills what is left (SIGKILL).
    pub async fn terminate(self, grace: Duration) {
        if self.is_alive() {
            self.signal(libc::SIGTERM);
            let deadline = tokio::time::Instant::now() + grace;
            while self.is_alive() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
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
