//! Placement: which machine a session's agent runs on. The places are this machine and the
//! config file's `hosts`; the admission scheduler asks [`choose`] for each queued session, with
//! how many sessions run on each place now.

use arbor_protocol::SessionConfig;

use crate::hosts::HostConfig;

/// The name a session's `config.host` gives this machine.
pub const LOCAL: &str = "local";

/// Reported loads per processor closer than this are equal: a load average moves by that much
/// from one reading to the next, so a smaller difference says nothing about the places.
const LOAD_MARGIN: f64 = 0.25;

/// One place a session can run, and how busy it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// The host's name; None for this machine.
    pub host: Option<String>,
    /// Sessions with a live agent there now.
    pub running: usize,
    /// The most it runs at once.
    pub max_running: usize,
    /// The agents it runs; None for any (this machine runs every agent it has).
    pub agents: Option<Vec<String>>,
    /// Its labels.
    pub labels: Vec<String>,
    /// Its one-minute load average per processor as last reported (`hosts::load`); None while
    /// unknown.
    pub load: Option<f64>,
}

impl Place {
    /// Whether the place could ever run a session of `agent` asking for `config`.
    fn suits(&self, agent: &str, config: &SessionConfig) -> bool {
        let pinned = match config.host.as_deref() {
            None => true,
            Some(LOCAL) => self.host.is_none(),
            Some(name) => self.host.as_deref() == Some(name),
        };
        let runs_agent =
            self.agents.as_ref().is_none_or(|agents| agents.is_empty() || agents.iter().any(|id| id == agent));
        let labelled = config.host_labels.iter().flatten().all(|label| self.labels.contains(label));
        pinned && runs_agent && labelled
    }

    fn has_room(&self) -> bool {
        self.running < self.max_running
    }

    /// True when `self` is less loaded than `other`: a smaller share of its limit in use
    /// (compared without division, so equal shares are equal), then, on equal shares, a lower
    /// reported load per processor when both are known.
    fn less_loaded_than(&self, other: &Place) -> bool {
        let (mine, theirs) = (self.running * other.max_running, other.running * self.max_running);
        if mine != theirs {
            return mine < theirs;
        }
        match (self.load, other.load) {
            (Some(mine), Some(theirs)) => mine + LOAD_MARGIN < theirs,
            _ => false,
        }
    }

    /// How the place is named in messages.
    pub fn name(&self) -> &str {
        self.host.as_deref().unwrap_or(LOCAL)
    }
}

/// What placement decided for one session.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Run it there now.
    Run(Place),
    /// Every place that suits it is full; it waits.
    Wait,
}

/// The least-loaded place among `places` that suits a session of `agent` with `config` and has
/// room (by share of its limit, then by reported load); among equally loaded places the first
/// (this machine comes first). A session that is
/// resuming on a host (`resuming_on`) goes back to that host.
pub fn choose(places: &[Place], agent: &str, config: &SessionConfig, resuming_on: Option<&str>) -> Decision {
    let mut config = config.clone();
    if let Some(host) = resuming_on {
        config.host = Some(host.to_string());
    }
    let mut best: Option<&Place> = None;
    for place in places.iter().filter(|place| place.suits(agent, &config) && place.has_room()) {
        if best.is_none_or(|best| place.less_loaded_than(best)) {
            best = Some(place);
        }
    }
    best.map_or(Decision::Wait, |place| Decision::Run(place.clone()))
}

/// Why a session of `agent` with `config` could never be placed with these `hosts`, checked when
/// it is created, so it is refused rather than left waiting for ever.
pub fn check(hosts: &[HostConfig], agent: &str, config: &SessionConfig) -> Result<(), String> {
    if let Some(name) = config.host.as_deref()
        && name != LOCAL
        && !hosts.iter().any(|host| host.name == name)
    {
        let known: Vec<&str> = hosts.iter().map(|host| host.name.as_str()).collect();
        return Err(format!(
            "no host named '{name}' in the config file; the hosts are: {}",
            if known.is_empty() { "none (arbor host add adds one)".to_string() } else { known.join(", ") }
        ));
    }
    if config.host.as_deref() == Some(LOCAL) && config.host_labels.as_ref().is_some_and(|labels| !labels.is_empty()) {
        return Err("hostLabels name labels of configured hosts, so a session pinned to local cannot have them".into());
    }
    let places = places_of(hosts, None);
    if !places.iter().any(|place| place.suits(agent, config)) {
        let labels = config.host_labels.clone().unwrap_or_default();
        let with_labels =
            if labels.is_empty() { String::new() } else { format!(" with the labels {}", labels.join(", ")) };
        let reason = match config.host.as_deref() {
            Some(host) => format!("host {host}{with_labels} does not run the agent {agent}"),
            None => format!("no host{with_labels} runs the agent {agent}"),
        };
        return Err(format!("no place can run this session: {reason}"));
    }
    Ok(())
}

/// What a session has that is not sent to hosts, named as the request and the configuration
/// name it: set-up files and a task's set-up command are copied or run in the local worktree
/// only (what they leave is usually ignored by git, and git is how work reaches a host), a
/// profile's memory and skills are laid out on this machine, and `additionalDirs` are this
/// machine's directories.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotSent {
    pub setup_files: bool,
    pub setup_command: bool,
    pub profile_memory: bool,
    pub additional_dirs: bool,
}

impl NotSent {
    fn named(&self) -> Vec<&'static str> {
        [
            (self.setup_files, "set-up files (setupFiles)"),
            (self.setup_command, "task's set-up command (setupCommand)"),
            (self.profile_memory, "profile's memory and skills"),
            (self.additional_dirs, "additionalDirs"),
        ]
        .into_iter()
        .filter_map(|(has, name)| has.then_some(name))
        .collect()
    }
}

/// Keeps a session that has what is not sent to hosts on this machine, so it never runs on a
/// host without it: a session nothing places pins itself here (`config.host` becomes `local`,
/// which also keeps it out of the hosts' warm places), and a pin to a host or host labels is
/// refused, naming what cannot go.
pub fn keep_here(hosts: &[HostConfig], config: &mut SessionConfig, not_sent: NotSent) -> Result<(), String> {
    let named = not_sent.named();
    if named.is_empty() || hosts.is_empty() {
        return Ok(());
    }
    let what = named.join(", ");
    let labelled = config.host_labels.as_ref().is_some_and(|labels| !labels.is_empty());
    match config.host.as_deref() {
        Some(LOCAL) => Ok(()),
        Some(host) => Err(format!(
            "this session cannot run on host {host}: its {what} cannot go to a host, so it runs only on this \
             machine (leave out the host)"
        )),
        None if labelled => Err(format!(
            "this session cannot run on a host: its {what} cannot go to a host, so it runs only on this machine \
             (leave out hostLabels)"
        )),
        None => {
            config.host = Some(LOCAL.to_string());
            Ok(())
        }
    }
}

/// This machine (with room for `local_max` sessions, None when only its description matters)
/// and every host, none of them running anything.
pub fn places_of(hosts: &[HostConfig], local_max: Option<usize>) -> Vec<Place> {
    let local = Place {
        host: None,
        running: 0,
        max_running: local_max.unwrap_or(1),
        agents: None,
        labels: Vec::new(),
        load: None,
    };
    let hosts = hosts.iter().map(|host| Place {
        host: Some(host.name.clone()),
        running: 0,
        max_running: host.max_running,
        agents: Some(host.agents.clone()),
        labels: host.labels.clone(),
        load: None,
    });
    std::iter::once(local).chain(hosts).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, running: usize, max_running: usize, labels: &[&str]) -> Place {
        Place {
            host: Some(name.into()),
            running,
            max_running,
            agents: Some(vec!["scripted".into()]),
            labels: labels.iter().map(|label| label.to_string()).collect(),
            load: None,
        }
    }

    fn local(running: usize, max_running: usize) -> Place {
        Place { host: None, running, max_running, agents: None, labels: Vec::new(), load: None }
    }

    #[test]
    fn on_equal_shares_the_lower_reported_load_wins() {
        let config = SessionConfig::default();
        let loaded = |name: &str, load: Option<f64>| Place { load, ..host(name, 1, 2, &[]) };
        let places = [loaded("a", Some(0.9)), loaded("b", Some(0.2))];
        assert_eq!(chosen(choose(&places, "scripted", &config, None)).as_deref(), Some("b"));
        let places = [loaded("a", Some(0.3)), loaded("b", Some(0.2))];
        assert_eq!(chosen(choose(&places, "scripted", &config, None)).as_deref(), Some("a"), "within the margin");
        let places = [loaded("a", None), loaded("b", Some(0.2))];
        assert_eq!(chosen(choose(&places, "scripted", &config, None)).as_deref(), Some("a"), "unknown loads tie");
        let places = [Place { load: Some(0.0), ..host("a", 2, 4, &[]) }, loaded("b", Some(3.0))];
        assert_eq!(chosen(choose(&places, "scripted", &config, None)).as_deref(), Some("a"), "shares come first");
        let places = [Place { load: Some(5.0), ..host("a", 1, 4, &[]) }, loaded("b", Some(0.0))];
        assert_eq!(chosen(choose(&places, "scripted", &config, None)).as_deref(), Some("a"), "a smaller share wins");
    }

    fn chosen(decision: Decision) -> Option<String> {
        match decision {
            Decision::Run(place) => Some(place.name().to_string()),
            Decision::Wait => None,
        }
    }

    #[test]
    fn the_least_loaded_place_with_room_is_chosen() {
        let config = SessionConfig::default();
        let places = [local(2, 2), host("a", 1, 2, &[]), host("b", 1, 4, &[])];
        assert_eq!(chosen(choose(&places, "scripted", &config, None)).as_deref(), Some("b"));
        let places = [local(0, 2), host("a", 0, 2, &[])];
        assert_eq!(chosen(choose(&places, "scripted", &config, None)).as_deref(), Some(LOCAL), "ties go to the first");
        let places = [local(2, 2), host("a", 2, 2, &[])];
        assert_eq!(choose(&places, "scripted", &config, None), Decision::Wait);
    }

    #[test]
    fn pins_labels_and_agents_are_honoured() {
        let places = [local(0, 8), host("a", 0, 2, &["gpu"]), host("b", 0, 2, &[])];
        let pinned = SessionConfig { host: Some("b".into()), ..SessionConfig::default() };
        assert_eq!(chosen(choose(&places, "scripted", &pinned, None)).as_deref(), Some("b"));
        let labelled = SessionConfig { host_labels: Some(vec!["gpu".into()]), ..SessionConfig::default() };
        assert_eq!(chosen(choose(&places, "scripted", &labelled, None)).as_deref(), Some("a"));
        assert_eq!(chosen(choose(&places, "claude", &labelled, None)), None, "host a does not run claude");
        assert_eq!(chosen(choose(&places, "scripted", &SessionConfig::default(), Some("b"))).as_deref(), Some("b"));
        let full = [local(0, 8), host("a", 2, 2, &["gpu"])];
        assert_eq!(choose(&full, "scripted", &labelled, None), Decision::Wait, "a pinned session waits for its host");
    }

    #[test]
    fn what_hosts_are_not_sent_keeps_a_session_here() {
        let hosts = [HostConfig {
            name: "a".into(),
            ssh: "a".into(),
            max_running: 2,
            agents: vec!["scripted".into()],
            labels: vec!["gpu".into()],
            warm: Default::default(),
        }];
        let dirs = NotSent { additional_dirs: true, ..NotSent::default() };
        let mut free = SessionConfig::default();
        keep_here(&hosts, &mut free, dirs).unwrap();
        assert_eq!(free.host.as_deref(), Some(LOCAL), "an unpinned session is pinned here");
        let mut plain = SessionConfig::default();
        keep_here(&hosts, &mut plain, NotSent::default()).unwrap();
        assert_eq!(plain.host, None, "a session with nothing held back is placed as before");
        let mut pinned = SessionConfig { host: Some("a".into()), ..SessionConfig::default() };
        let both = NotSent { setup_files: true, profile_memory: true, ..NotSent::default() };
        let error = keep_here(&hosts, &mut pinned, both).unwrap_err();
        assert!(error.contains("host a: its set-up files (setupFiles), profile's memory and skills"), "{error}");
        let mut labelled = SessionConfig { host_labels: Some(vec!["gpu".into()]), ..SessionConfig::default() };
        assert!(keep_here(&hosts, &mut labelled, dirs).unwrap_err().contains("leave out hostLabels"));
    }

    #[test]
    fn impossible_requests_are_refused_with_the_reason() {
        let hosts = [HostConfig {
            name: "a".into(),
            ssh: "a".into(),
            max_running: 2,
            agents: vec!["scripted".into()],
            labels: vec!["gpu".into()],
            warm: Default::default(),
        }];
        let config = |host: Option<&str>, labels: &[&str]| SessionConfig {
            host: host.map(str::to_string),
            host_labels: Some(labels.iter().map(|label| label.to_string()).collect()),
            ..SessionConfig::default()
        };
        assert!(check(&hosts, "scripted", &config(Some("a"), &["gpu"])).is_ok());
        assert!(check(&hosts, "claude", &config(None, &[])).is_ok(), "this machine runs any agent");
        assert!(check(&hosts, "scripted", &config(Some("zz"), &[])).unwrap_err().contains("no host named 'zz'"));
        assert!(check(&hosts, "scripted", &config(Some(LOCAL), &["gpu"])).unwrap_err().contains("pinned to local"));
        let error = check(&hosts, "claude", &config(None, &["gpu"])).unwrap_err();
        assert!(error.contains("with the labels gpu runs the agent claude"), "{error}");
    }
}
