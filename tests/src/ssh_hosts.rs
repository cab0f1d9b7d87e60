//! Test hosts: each a network namespace of this machine running Debian's OpenSSH server with its
//! own host key, reached from the test's namespace over a veth pair, so that tests can treat them
//! as other machines without any traffic leaving this one.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::arbor_bin;
use crate::sshd::keygen;

/// Why test hosts cannot be made here, if they cannot (not root, or a tool missing).
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("test hosts need root (network namespaces)".into());
    }
    for tool in ["/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen", "/usr/sbin/ip"] {
        if !Path::new(tool).exists() {
            return Some(format!("test hosts need {tool} (Debian's openssh-server, openssh-client, iproute2)"));
        }
    }
    None
}

/// What a test host has installed.
#[derive(Debug, Clone)]
pub struct HostSetup {
    /// `arbor` (the binary under test) on the PATH of its ssh sessions.
    pub arbor: bool,
    /// The client trusts a different host key than the one the host has.
    pub wrong_host_key: bool,
    /// What the host's `/proc/loadavg` reads, instead of this machine's: every test host shares
    /// this machine's kernel, so without it they all report the same load. Its sshd then runs in
    /// a mount namespace of its own with a file bound over `/proc/loadavg`, which
    /// [`TestHost::set_loadavg`] rewrites while the host runs. Default: the real one.
    pub loadavg: Option<String>,
}

impl Default for HostSetup {
    fn default() -> Self {
        Self { arbor: true, wrong_host_key: false, loadavg: None }
    }
}

/// A `/proc/loadavg` line whose one-minute figure is `per_processor` times the processors a
/// host's `nproc` counts (this machine's, which the test hosts share, counted the same way):
/// what a host with that load per processor reports, whatever machine the test runs on.
pub fn loadavg_per_processor(per_processor: f64) -> String {
    let output = Command::new("nproc").output().expect("run nproc");
    let processors: f64 = String::from_utf8_lossy(&output.stdout).trim().parse().expect("nproc prints a number");
    format!("{:.2} 0.50 0.25 2/300 4242\n", per_processor * processors)
}

/// A set of test hosts sharing one client key and one ssh configuration file.
pub struct TestHosts {
    dir: PathBuf,
    hosts: Vec<TestHost>,
}

/// One running test host.
pub struct TestHost {
    /// Its name, which is also its `Host` alias in the ssh configuration.
    pub name: String,
    /// Its address inside its namespace.
    pub address: String,
    /// Its own directory: home, data and runtime directories of the Arbor there.
    pub dir: PathBuf,
    namespace: String,
    link: String,
    sshd: Child,
    /// The file bound over the host's `/proc/loadavg`, when its setup gave one.
    loadavg: Option<PathBuf>,
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(program).args(args).output().map_err(|error| format!("{program}: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr).trim()))
    }
}

fn must(program: &str, args: &[&str]) {
    run(program, args).unwrap_or_else(|error| panic!("{error}"));
}

impl TestHosts {
    /// An empty set whose keys and configuration live under `dir`.
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("create the hosts directory");
        keygen(&dir.join("client_key"));
        std::fs::write(dir.join("known_hosts"), "").unwrap();
        std::fs::write(dir.join("ssh_config"), "").unwrap();
        Self { dir: dir.to_path_buf(), hosts: Vec::new() }
    }

    /// A set under `dir` with a host of each of `names`, each with the default setup.
    pub fn started(dir: &Path, names: &[&str]) -> Self {
        let mut hosts = Self::new(dir);
        for name in names {
            hosts.add(name, HostSetup::default());
        }
        hosts
    }

    /// The `sshCommand` of Arbor's configuration that reaches these hosts.
    pub fn ssh_command(&self) -> Vec<String> {
        vec!["ssh".into(), "-F".into(), self.dir.join("ssh_config").display().to_string()]
    }

    /// Runs `arbor ARGS` on host `name` over ssh, as a user there would, and returns what it
    /// printed; it talks to the host's own daemon.
    pub fn arbor_on(&self, name: &str, args: &[&str]) -> String {
        let ssh = self.ssh_command();
        let output = Command::new(&ssh[0])
            .args(&ssh[1..])
            .args(["-o", "BatchMode=yes", "--", name, "arbor"])
            .args(args)
            .output()
            .expect("run ssh");
        assert!(output.status.success(), "arbor {args:?} on {name}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The status host `name`'s Arbor reports for its session `id` (`arbor session list`).
    pub fn status_on(&self, name: &str, id: &str) -> Option<String> {
        let listed = self.arbor_on(name, &["session", "list", "--all"]);
        let prefix = &id[..8.min(id.len())];
        listed
            .lines()
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.split_whitespace().nth(1))
            .map(str::to_string)
    }

    /// The host named `name`.
    pub fn host(&self, name: &str) -> &TestHost {
        self.hosts.iter().find(|host| host.name == name).expect("a host of that name")
    }

    /// Starts a host named `name` (also its ssh alias) with `setup`.
    pub fn add(&mut self, name: &str, setup: HostSetup) -> &TestHost {
        let (index, link) = claim_link();
        let namespace = format!("arbor-h{index}");
        let address = format!("10.213.{index}.2");
        // A namespace of that name left by a killed test is stale: its link was free.
        let _ = run("/usr/sbin/ip", &["netns", "del", &namespace]);
        must("/usr/sbin/ip", &["netns", "add", &namespace]);
        let peer = format!("{link}b");
        let outside = format!("{link}a");
        must("/usr/sbin/ip", &["link", "set", &peer, "netns", &namespace]);
        must("/usr/sbin/ip", &["addr", "add", &format!("10.213.{index}.1/30"), "dev", &outside]);
        must("/usr/sbin/ip", &["link", "set", &outside, "up"]);
        let inside = |args: &[&str]| {
            let mut full = vec!["netns", "exec", &namespace, "/usr/sbin/ip"];
            full.extend_from_slice(args);
            must("/usr/sbin/ip", &full);
        };
        inside(&["addr", "add", &format!("{address}/30"), "dev", &peer]);
        inside(&["link", "set", &peer, "up"]);
        inside(&["link", "set", "lo", "up"]);

        let dir = self.dir.join(name);
        let bin = dir.join("bin");
        for sub in ["home", "run", "bin"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::os::unix::fs::symlink("/usr/bin/git", bin.join("git")).unwrap();
        let path = if setup.arbor {
            std::os::unix::fs::symlink(arbor_bin(), bin.join("arbor")).unwrap();
            format!("{}:/usr/bin:/bin", bin.display())
        } else {
            bin.display().to_string()
        };
        let host_key = dir.join("host_key");
        let host_public = keygen(&host_key);
        std::fs::copy(self.dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
        let home = dir.join("home");
        let config = format!(
            "ListenAddress {address}\nPort 22\nHostKey {key}\nAuthorizedKeysFile {dir}/authorized_keys\n\
             PidFile none\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
             SetEnv PATH={path} HOME={home} XDG_DATA_HOME={home}/.local/share \
             XDG_CONFIG_HOME={home}/.config XDG_RUNTIME_DIR={dir}/run\n",
            key = host_key.display(),
            dir = dir.display(),
            home = home.display(),
        );
        std::fs::write(dir.join("sshd_config"), config).unwrap();
        // The privilege separation directory sshd insists on.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let mut sshd = Command::new("/usr/sbin/ip");
        sshd.args(["netns", "exec", &namespace]);
        let loadavg = setup.loadavg.as_ref().map(|text| {
            let file = dir.join("loadavg");
            std::fs::write(&file, text).expect("write the host's loadavg");
            // The bind mount is made in a mount namespace of sshd's own, private so that it
            // never reaches this machine's /proc: everything the host runs (its ssh sessions,
            // its Arbor daemon) inherits that namespace and reads the file.
            sshd.args(["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c"])
                .arg("mount --bind \"$0\" /proc/loadavg && exec \"$@\"")
                .arg(&file);
            file
        });
        let sshd = sshd
            .args(["/usr/sbin/sshd", "-D", "-f"])
            .arg(dir.join("sshd_config"))
            .arg("-E")
            .arg(dir.join("sshd.log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("start sshd");

        let trusted = if setup.wrong_host_key { keygen(&dir.join("other_key")) } else { host_public };
        append(&self.dir.join("known_hosts"), &format!("{address} {trusted}\n"));
        append(
            &self.dir.join("ssh_config"),
            &format!(
                "Host {name}\n  HostName {address}\n  User root\n  IdentityFile {key}\n  IdentitiesOnly yes\n  \
                 UserKnownHostsFile {known}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  \
                 LogLevel ERROR\n",
                key = self.dir.join("client_key").display(),
                known = self.dir.join("known_hosts").display(),
            ),
        );
        let mut host = TestHost { name: name.into(), address, dir, namespace, link: outside, sshd, loadavg };
        host.wait_listening();
        self.hosts.push(host);
        self.hosts.last().expect("just added")
    }
}

impl TestHost {
    /// This machine's address as the host reaches it (the outside end of its link), where a
    /// test serves what the host's agents must reach, such as a mock model API.
    pub fn gateway(&self) -> String {
        let network = self.address.rsplit_once('.').map_or(self.address.as_str(), |(network, _)| network);
        format!("{network}.1")
    }

    /// Writes the configuration file of the host's own Arbor.
    pub fn write_config(&self, config: serde_json::Value) {
        let dir = self.dir.join("home/.config/arbor");
        std::fs::create_dir_all(&dir).expect("create the host's config directory");
        std::fs::write(dir.join("config.json"), config.to_string()).expect("write the host's config");
    }

    /// The data directory of the host's own Arbor (its worktrees are under it).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("home/.local/share/arbor")
    }

    /// Cuts (`false`) or restores (`true`) the host's network link.
    pub fn set_link(&self, up: bool) {
        must("/usr/sbin/ip", &["link", "set", &self.link, if up { "up" } else { "down" }]);
    }

    /// Makes the host's `/proc/loadavg` read `text` from now on (its setup must have given one).
    /// The file is rewritten in place, since the bind mount holds its inode: a reader at that
    /// very moment may see it empty, which Arbor takes for an unknown load until its next poll.
    pub fn set_loadavg(&self, text: &str) {
        let file = self.loadavg.as_ref().unwrap_or_else(|| {
            panic!("host {} reads this machine's /proc/loadavg: give its HostSetup a loadavg", self.name)
        });
        std::fs::write(file, text).expect("rewrite the host's loadavg");
    }

    fn wait_listening(&mut self) {
        let target: SocketAddr = format!("{}:22", self.address).parse().unwrap();
        let deadline = Instant::now() + crate::WAIT;
        while TcpStream::connect_timeout(&target, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = self.sshd.try_wait() {
                panic!(
                    "sshd on {} exited before it listened ({status}): see the test's output and {}",
                    self.name,
                    self.dir.join("sshd.log").display()
                );
            }
            assert!(Instant::now() < deadline, "sshd on {} did not start", self.name);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        let _ = self.sshd.kill();
        let _ = self.sshd.wait();
        // What the host started (its Arbor daemon, detached from ssh) lives in the namespace.
        if let Ok(output) = Command::new("/usr/sbin/ip").args(["netns", "pids", &self.namespace]).output() {
            for pid in String::from_utf8_lossy(&output.stdout).split_whitespace().filter_map(|pid| pid.parse().ok()) {
                crate::terminate(pid);
            }
        }
        // Deleting the namespace deletes the peer inside it, and with it this end of the pair.
        let _ = run("/usr/sbin/ip", &["netns", "del", &self.namespace]);
        let _ = run("/usr/sbin/ip", &["link", "del", &self.link]);
    }
}

/// Claims a free index by creating its veth pair: creating a link is atomic, so two tests
/// running at once never share one. Returns the index and the pair's name prefix.
fn claim_link() -> (u32, String) {
    for index in 1..=250 {
        let link = format!("arbh{index}");
        if run(
            "/usr/sbin/ip",
            &["link", "add", &format!("{link}a"), "type", "veth", "peer", "name", &format!("{link}b")],
        )
        .is_ok()
        {
            return (index, link);
        }
    }
    panic!("no free test host link (arbh1a…arbh250a all exist)");
}

fn append(path: &Path, text: &str) {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}
