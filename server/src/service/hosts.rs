//! `host/list`: the places sessions run, with what the admission scheduler weighs when it places
//! one (running sessions over each limit, then the load each place last reported).

use arbor_protocol::{HostListResult, HostPlace, LocalPlace, NoParams};

use super::{Result, Service};

/// A count as the protocol carries it; a limit beyond `u32` is shown as `u32::MAX`, since the
/// config file takes any `usize`.
fn count(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

impl Service {
    /// `host/list`.
    pub async fn host_list(&self, _: NoParams) -> Result<HostListResult> {
        let local = LocalPlace {
            max_running: count(self.config.limits.max_running),
            running: count(self.sessions.live_count_on(None)),
            load: self.sessions.load_of(None),
        };
        let hosts = self
            .config
            .hosts
            .iter()
            .map(|host| HostPlace {
                name: host.name.clone(),
                ssh: host.ssh.clone(),
                labels: host.labels.clone(),
                agents: host.agents.clone(),
                max_running: count(host.max_running),
                running: count(self.sessions.live_count_on(Some(&host.name))),
                load: self.sessions.load_of(Some(&host.name)),
            })
            .collect();
        Ok(HostListResult { local, hosts })
    }
}
