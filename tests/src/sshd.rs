//! An OpenSSH server on 127.0.0.1 with its own host key, configuration and authorized key, and an
//! `ssh-agent` holding the one key it accepts: a git remote over ssh that a push reaches only
//! through the agent, and whose host key only a known_hosts entry vouches for.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// How long the server and the agent get to come up.
const START: Duration = Duration::from_secs(20);

/// Makes an ed25519 key pair at `path` (and `path.pub`) and returns the public key line.
pub fn keygen(path: &Path) -> String {
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "arbor-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("run ssh-keygen");
    assert!(status.success(), "ssh-keygen failed");
    std::fs::read_to_string(path.with_extension("pub")).expect("read the public key").trim().to_string()
}

/// A running `sshd`, stopped when dropped.
pub struct Sshd {
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    /// Its host public key, `ssh-ed25519 AAAA… comment`.
    pub host_key: String,
    _child: Child,
}

impl Sshd {
    /// Starts `sshd` with its files in `dir`, letting in the current user with `authorized_key`
    /// only (no password, no other key file).
    pub async fn start(dir: &Path, authorized_key: &str) -> Sshd {
        std::fs::create_dir_all(dir).expect("create the sshd directory");
        let host_key = keygen(&dir.join("host_key"));
        std::fs::write(dir.join("authorized_keys"), format!("{authorized_key}\n")).expect("write authorized_keys");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().unwrap().port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nAuthorizedKeysFile {keys}\nPidFile none\n\
             StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nAllowUsers {user}\nSetEnv PATH={path}\n\
             LogLevel ERROR\n",
            host = dir.join("host_key").display(),
            keys = dir.join("authorized_keys").display(),
            user = current_user(),
            path = std::env::var("PATH").unwrap_or_default(),
        );
        std::fs::write(dir.join("sshd_config"), config).expect("write sshd_config");
        // sshd insists on its privilege separation directory, which Debian's service unit makes.
        if unsafe { libc::geteuid() } == 0 {
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let mut child = Command::new(sshd_binary())
            .args(["-D", "-e", "-f"])
            .arg(dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start sshd");
        let deadline = tokio::time::Instant::now() + START;
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(child.try_wait().expect("sshd status").is_none(), "sshd exited; see its messages above");
            assert!(tokio::time::Instant::now() < deadline, "sshd did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Sshd { port, host_key, _child: child }
    }

    /// The `known_hosts` line that trusts this server's host key.
    pub fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}", self.port, self.host_key)
    }

    /// The URL of the repository at `path` on this server, as the current user.
    pub fn url(&self, path: &Path) -> String {
        format!("ssh://{}@127.0.0.1:{}{}", current_user(), self.port, path.display())
    }
}

/// A running `ssh-agent`, stopped when dropped.
pub struct SshAgent {
    /// Its socket: the `SSH_AUTH_SOCK` to give a process that should use it.
    pub socket: PathBuf,
    _child: Child,
}

impl SshAgent {
    /// Starts an agent listening at `socket`.
    pub async fn start(socket: PathBuf) -> SshAgent {
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start ssh-agent");
        let deadline = tokio::time::Instant::now() + START;
        while !socket.exists() {
            assert!(tokio::time::Instant::now() < deadline, "ssh-agent did not open its socket");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        SshAgent { socket, _child: child }
    }

    /// Adds the private key at `path` to the agent.
    pub fn add(&self, path: &Path) {
        let status = std::process::Command::new("ssh-add")
            .arg("-q")
            .arg(path)
            .env("SSH_AUTH_SOCK", &self.socket)
            .stdin(Stdio::null())
            .status()
            .expect("run ssh-add");
        assert!(status.success(), "ssh-add failed");
    }
}

/// The user this test runs as, whom the server lets in.
fn current_user() -> String {
    let output = std::process::Command::new("id").arg("-un").output().expect("run id");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// `sshd` by absolute path (it re-executes itself and refuses a relative one): from PATH, else
/// where Debian installs it.
fn sshd_binary() -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("sshd"))
        .find(|path| path.is_file())
        .expect("sshd is installed (Debian's openssh-server)")
}
