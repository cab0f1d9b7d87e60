//! Running a command on a host through the user's `ssh`.

use std::process::Stdio;

use tokio::process::Command;

/// How hosts are reached: the `sshCommand` of the configuration (default `["ssh"]`), with the
/// options Arbor always adds.
#[derive(Debug, Clone)]
pub struct Ssh {
    program: String,
    arguments: Vec<String>,
}

/// How long ssh may take to connect before the host counts as unreachable.
const CONNECT_TIMEOUT_SECS: u32 = 10;
/// Seconds between ssh's checks that a connected host still answers.
const KEEPALIVE_SECS: u32 = 3;
/// Unanswered checks after which ssh gives the connection up.
const KEEPALIVE_MISSES: u32 = 3;

impl Ssh {
    /// `command` is the program and its first arguments, such as `["ssh", "-F", "my_config"]`.
    pub fn new(command: Option<&[String]>) -> Self {
        match command.and_then(|command| command.split_first()) {
            Some((program, arguments)) => Self { program: program.clone(), arguments: arguments.to_vec() },
            None => Self { program: "ssh".into(), arguments: Vec::new() },
        }
    }

    /// The configured arguments and the options Arbor always adds. ssh never asks for a password
    /// or a passphrase (`BatchMode`): nobody is at a terminal to answer, so a missing key is an
    /// error at once. Host keys are checked as the user's ssh checks them; an unknown host is
    /// refused, not accepted silently, because `BatchMode` turns the question into a refusal.
    fn options(&self) -> Vec<String> {
        let mut options = self.arguments.clone();
        for option in ["BatchMode=yes".to_string(), format!("ConnectTimeout={CONNECT_TIMEOUT_SECS}")] {
            options.extend(["-o".to_string(), option]);
        }
        options
    }

    fn build(&self, options: Vec<String>, target: &str, remote: &[&str]) -> Command {
        let mut command = Command::new(&self.program);
        command
            .args(options)
            .arg("--")
            .arg(target)
            .args(remote)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// `remote` run on `target`, its stdio piped.
    pub fn command(&self, target: &str, remote: &[&str]) -> Command {
        self.build(self.options(), target, remote)
    }

    /// A long-lived connection to `target` running `remote`: like [`Ssh::command`], and ssh
    /// checks every few seconds that the host still answers, so a cut link ends the connection
    /// within about ten seconds rather than at TCP's timeout.
    pub fn connection(&self, target: &str, remote: &[&str]) -> Command {
        let mut options = self.options();
        for option in
            [format!("ServerAliveInterval={KEEPALIVE_SECS}"), format!("ServerAliveCountMax={KEEPALIVE_MISSES}")]
        {
            options.extend(["-o".to_string(), option]);
        }
        self.build(options, target, remote)
    }

    /// The command git runs to reach a host (`GIT_SSH_COMMAND`, a shell command line): the same
    /// program, arguments and options as every other connection.
    pub fn for_git(&self) -> String {
        let words: Vec<String> = std::iter::once(self.program.clone()).chain(self.options()).collect();
        shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| "ssh -o BatchMode=yes".into())
    }
}

/// ssh's exit status when it could not connect or authenticate (the remote command's own
/// status otherwise).
pub const SSH_FAILED: i32 = 255;

/// A shell's exit status for a command it did not find.
pub const NOT_FOUND: i32 = 127;
