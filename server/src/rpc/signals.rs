//! The signals that end a server: SIGTERM (a service manager, `kill`), SIGINT (Ctrl-C in a
//! terminal) and SIGHUP (its terminal closed). Listening replaces their default action, which
//! would end the process at once and leave every agent running; the server stops its sessions
//! first instead.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Listens for the signals that end a server, from creation on.
pub struct Termination {
    terminate: Signal,
    interrupt: Signal,
    hangup: Signal,
}

impl Termination {
    /// Starts listening.
    pub fn listen() -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Completes when one of the signals arrives, with its name.
    pub async fn received(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}
