//! The places' reported load: this machine's one-minute load average per processor, read from
//! `/proc/loadavg`, and each host's, asked over ssh (`cat /proc/loadavg; nproc`) every
//! [`POLL_INTERVAL`], so that placement can prefer the idler of two places whose session limits
//! are equally used. A host that does not answer has no figure until it does again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{HostConfig, Ssh};

/// How often the hosts are asked.
const POLL_INTERVAL: Duration = Duration::from_secs(15);
/// How long one host may take to answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

/// The last load figure of each place (None for this machine).
#[derive(Default)]
pub struct Loads {
    figures: Mutex<HashMap<Option<String>, f64>>,
}

impl Loads {
    /// The place's last one-minute load average per processor, if known.
    pub fn of(&self, host: Option<&str>) -> Option<f64> {
        self.figures.lock().expect("loads poisoned").get(&host.map(str::to_string)).copied()
    }

    /// Starts asking every `POLL_INTERVAL`, for as long as the daemon runs.
    pub fn watch(self: &Arc<Self>, hosts: Vec<HostConfig>, ssh: Ssh) {
        if hosts.is_empty() {
            return;
        }
        let loads = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(POLL_INTERVAL);
            loop {
                ticks.tick().await;
                let local = std::fs::read_to_string("/proc/loadavg").ok().and_then(|text| per_processor(&text, None));
                loads.set(None, local);
                let asked = hosts.iter().map(|host| ask(&ssh, host));
                for (host, figure) in hosts.iter().zip(futures::future::join_all(asked).await) {
                    loads.set(Some(host.name.clone()), figure);
                }
            }
        });
    }

    fn set(&self, place: Option<String>, figure: Option<f64>) {
        let mut figures = self.figures.lock().expect("loads poisoned");
        match figure {
            Some(figure) => figures.insert(place, figure),
            None => figures.remove(&place),
        };
    }
}

/// The host's load per processor, or None when it does not answer in time or makes no sense.
pub async fn ask(ssh: &Ssh, host: &HostConfig) -> Option<f64> {
    let mut command = ssh.command(&host.ssh, &["cat /proc/loadavg; nproc"]);
    command.kill_on_drop(true);
    let output = tokio::time::timeout(ASK_TIMEOUT, command.output()).await.ok()?.ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let loadavg = lines.next()?;
    let processors = lines.next()?.trim().parse().ok();
    per_processor(loadavg, processors)
}

/// The one-minute figure of a `/proc/loadavg` line over `processors` (this machine's when None).
fn per_processor(loadavg: &str, processors: Option<usize>) -> Option<f64> {
    let load: f64 = loadavg.split_whitespace().next()?.parse().ok()?;
    let processors = processors.or_else(|| std::thread::available_parallelism().ok().map(usize::from))?;
    (load.is_finite() && load >= 0.0 && processors > 0).then(|| load / processors as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loadavg_line_is_read_per_processor() {
        assert_eq!(per_processor("3.00 2.50 1.00 2/345 6789", Some(4)), Some(0.75));
        assert_eq!(per_processor("nonsense", Some(4)), None);
        assert_eq!(per_processor("-1 0 0 1/1 1", Some(4)), None);
        assert_eq!(per_processor("1.0 0 0 1/1 1", Some(0)), None);
    }
}
