//! `arbor web` (the login link for a browser, as text and as a QR code) and `arbor token
//! rotate`: the terminal side of the network listener.

use std::io::Write;

use anyhow::{Context, bail};
use clap::Subcommand;

use super::{gate::LOGIN_CODE_LIFETIME, mint_login_code, token};
use crate::paths::Paths;
use crate::rpc::daemon::{daemon_running, read_discovery};

/// `arbor token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Replace the token; every web connection and browser login ends.
    Rotate,
}

/// The running daemon's web origin, or why there is none.
fn web_url(paths: &Paths) -> anyhow::Result<String> {
    let discovery = read_discovery(paths).filter(|_| daemon_running(paths));
    match discovery.and_then(|discovery| discovery.web_url) {
        Some(url) => Ok(url),
        None => bail!(
            "no Arbor daemon for {} is listening for web clients; start one with `arbor daemon --listen \
             127.0.0.1:7420` (or set `listen` in the config file)",
            paths.runtime_dir.display()
        ),
    }
}

/// `arbor web`: prints a one-time login link (and, with `qr`, the same as a QR code).
pub fn web(paths: &Paths, qr: bool) -> anyhow::Result<()> {
    let url = web_url(paths)?;
    let code = mint_login_code(&paths.runtime_dir)?;
    let link = format!("{url}/login?code={code}");
    let mut out = std::io::stdout().lock();
    if qr {
        let image = qrcode::QrCode::new(link.as_bytes()).context("the link does not fit in a QR code")?;
        let rendered = image
            .render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .build();
        writeln!(out, "{rendered}")?;
    }
    writeln!(out, "{link}")?;
    writeln!(
        out,
        "Open it in a browser to log in; it works once, within {} minutes.",
        LOGIN_CODE_LIFETIME.as_secs() / 60
    )?;
    Ok(())
}

/// `arbor token …`.
pub fn token(paths: &Paths, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Rotate => {
            crate::paths::create_runtime_dir(&paths.runtime_dir)?;
            let path = token::token_file(&paths.runtime_dir);
            token::rotate(&path)?;
            let listening =
                read_discovery(paths).filter(|discovery| discovery.web_url.is_some() && daemon_running(paths));
            if let Some(discovery) = listening {
                // The daemon reads the new token on SIGUSR1 and closes its web connections.
                let pid = libc::pid_t::try_from(discovery.pid).context("the discovery file names no valid pid")?;
                // SAFETY: kill(2) on the pid of the daemon that holds this runtime directory's lock.
                if unsafe { libc::kill(pid, libc::SIGUSR1) } != 0 {
                    bail!("rotated the token in {}, but could not tell the daemon (pid {pid})", path.display());
                }
                println!("Rotated the token in {}; the daemon's web connections were closed.", path.display());
            } else {
                println!("Rotated the token in {}.", path.display());
            }
            Ok(())
        }
    }
}
