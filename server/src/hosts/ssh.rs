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

impl Ssh {
    /// `command` is the program and its first arguments, such as `["ssh", "-F", "my_config"]`.
    pub fn new(command: Option<&[String]>) -> Self {
        match command.and_then(|command| command.split_first()) {
            Some((program, arguments)) => Self { program: program.clone(), arguments: arguments.to_vec() },
            None => Self { program: "ssh".into(), arguments: Vec::new() },
        }
    }

    /// `remote` run on `target`, its stdio piped. ssh never asks for a password or a passphrase
    /// (`BatchMode`): nobody is at a terminal to answer, so a missing key is an error at once.
    /// Host keys are checked as the user's ssh checks them; an unknown host is refused, not
    /// accepted silently, because `BatchMode` turns the question into a refusal.
    pub fn command(&self, target: &str, remote: &[&str]) -> Command {
        let mut command = Command::new(&self.program);
        command
            .args(&self.arguments)
            .args(["-o", "BatchMode=yes", "-o"])
            .arg(format!("ConnectTimeout={CONNECT_TIMEOUT_SECS}"))
            .arg("--")
            .arg(target)
            .args(remote)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }
}

/// ssh's exit status when it could not connect or authenticate (the remote command's own
/// status otherwise).
pub const SSH_FAILED: i32 = 255;

/// A shell's exit status for a command it did not find.
pub const NOT_FOUND: i32 = 127;
