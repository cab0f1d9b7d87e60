//! The `arbor` binary: the daemon, the editor bridge, the demo and the command line.

use std::path::PathBuf;

use anyhow::Context;
use arbor_server::paths::Paths;
use arbor_server::web::{self, ListenConfig};
use arbor_server::{agents, cli, demo, hosts, rpc, sandbox, service::Service};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "arbor", version, about = "Run coding agents as sessions on their own git worktrees")]
struct Args {
    /// Data directory (store, worktrees, logs). Default: $XDG_DATA_HOME/arbor.
    #[arg(long, global = true, env = "ARBOR_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Runtime directory (socket, discovery file). Default: $XDG_RUNTIME_DIR/arbor.
    #[arg(long, global = true, env = "ARBOR_RUNTIME_DIR")]
    runtime_dir: Option<PathBuf>,
    /// Configuration file (limits, agent profiles). Default: $XDG_CONFIG_HOME/arbor/config.json.
    #[arg(long, global = true, env = "ARBOR_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the protocol on a Unix socket until SIGTERM; sessions live here.
    Daemon {
        /// Also serve it over WebSocket, with the web companion, on ADDRESS:PORT (loopback
        /// only, unless with TLS). Default: the config file's `listen`.
        #[arg(long, value_name = "ADDRESS:PORT")]
        listen: Option<String>,
        /// The TLS certificate chain (PEM) to serve; without it a non-loopback address gets a
        /// certificate Arbor generates once and keeps.
        #[arg(long, requires = "listen", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The private key (PEM) of --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Another name clients use to reach this machine (repeatable).
        #[arg(long, requires = "listen")]
        allow_host: Vec<String>,
    },
    /// What an editor spawns: bridge stdio to the daemon, starting it when none runs.
    Lsp {
        /// Serve in this process over stdio instead of through the daemon.
        #[arg(long, conflicts_with = "connect")]
        standalone: bool,
        /// Use the daemon listening at this WebSocket URL (ws://HOST:PORT or wss://HOST:PORT)
        /// instead of the local one.
        #[arg(long, value_name = "URL")]
        connect: Option<String>,
        /// The file holding that daemon's token (default: $ARBOR_TOKEN, else this machine's
        /// runtime directory's token file).
        #[arg(long, requires = "connect")]
        token_file: Option<PathBuf>,
        /// The daemon's certificate to trust (its `tls/cert.pem`) for wss:// (default: the
        /// system's trusted roots).
        #[arg(long, requires = "connect")]
        ca_cert: Option<PathBuf>,
    },
    /// Print the link that logs a browser into the web companion (once; it expires).
    Web {
        /// Also show the link as a QR code, for a phone's camera.
        #[arg(long)]
        qr: bool,
    },
    /// Manage the token of the daemon's network listener.
    #[command(subcommand)]
    Token(web::command::TokenCommand),
    /// Watch a whole session with the scripted agent in a scratch repository.
    Demo {
        /// Directory for the scratch repository and data (default: a new temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// List the agents this machine can run.
    Agents,
    /// The other machines sessions can run on.
    #[command(subcommand)]
    Host(hosts::command::HostCommand),
    /// Session worktrees' disk use; archive what the retention policy covers and, with
    /// --orphans, remove worktrees and session branches no session owns.
    Gc {
        /// Only say what would be freed.
        #[arg(long)]
        dry_run: bool,
        /// Also remove orphaned worktrees and session branches that hold no work of their own.
        #[arg(long)]
        orphans: bool,
        /// Remove orphaned worktrees and branches even when they hold work found nowhere else.
        #[arg(long, requires = "orphans")]
        force: bool,
    },
    /// An agent profile's memory and its saved versions; --restore N makes version N current
    /// again (as a new version).
    Memory {
        /// The profile's name.
        profile: String,
        /// The version to bring back.
        #[arg(long)]
        restore: Option<u32>,
    },
    /// Work with sessions through the daemon.
    #[command(subcommand)]
    Session(cli::SessionCommand),
    /// Work with tasks through the daemon.
    #[command(subcommand)]
    Task(cli::TaskCommand),
    /// Work with a task's trials through the daemon.
    #[command(subcommand)]
    Trial(cli::TrialCommand),
    /// Sandboxes for sessions.
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// The built-in scripted agent (started by Arbor itself; speaks ACP on stdio).
    #[command(hide = true)]
    ScriptedAgent {
        /// Where conversations are kept for resume.
        #[arg(long)]
        state_dir: PathBuf,
        /// The script to follow (default: the demo script).
        #[arg(long)]
        script: Option<PathBuf>,
        /// Never ask permission (the session bypasses permissions): `ask` lines are skipped.
        #[arg(long)]
        bypass_permissions: bool,
        /// Offer no `loadSession`, like agents that cannot resume.
        #[arg(long)]
        no_load_session: bool,
        /// Offer `session/close`.
        #[arg(long)]
        close: bool,
        /// Offer `session/fork`.
        #[arg(long)]
        fork: bool,
        /// Require a login (ACP's `authMethods` and `auth_required`) before any session.
        #[arg(long)]
        require_auth: bool,
        /// Log in as the terminal login method does, then exit.
        #[arg(long)]
        login: bool,
        /// Offer session modes and a model option (`session/set_mode`, `session/set_config_option`).
        #[arg(long)]
        modes: bool,
    },
    /// Inside a sandbox: forward 127.0.0.1:PORT to the model API socket, running the agent.
    #[command(hide = true)]
    SandboxForward {
        /// The Unix socket Arbor listens on outside.
        #[arg(long)]
        socket: PathBuf,
        /// The TCP port to listen on.
        #[arg(long)]
        port: u16,
        /// The agent's program and arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Outside a sandbox: run the sandboxed agent, giving it time to end on its own if the
    /// server dies, then ending whatever of the session is left.
    #[command(hide = true)]
    SandboxKeep {
        /// The server's pid.
        #[arg(long)]
        parent: u32,
        /// The session's cgroup directories.
        #[arg(long)]
        cgroup: Vec<PathBuf>,
        /// The container engine of the agent's container.
        #[arg(long, requires = "container")]
        engine: Option<PathBuf>,
        /// The agent's container.
        #[arg(long, requires = "engine")]
        container: Option<String>,
        /// The sandboxed command.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Restrict this process with Landlock as the policy says, then become the agent.
    #[command(hide = true)]
    SandboxExec {
        /// The policy (JSON).
        #[arg(long)]
        policy: String,
        /// The agent's program and arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum SandboxCommand {
    /// Build the container backend's image from this machine's Debian packages (no registry
    /// needed), with podman, or docker when podman is not installed.
    BuildImage,
}

fn init_logging(default_level: &str) {
    let filter = EnvFilter::try_from_env("ARBOR_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    // stdout carries protocol frames in `arbor lsp`, so logs always go to stderr.
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).init();
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The Landlock helper restricts itself and executes the agent before any thread exists.
    if let Command::SandboxExec { policy, command } = &args.command {
        let (program, arguments) = command.split_first().context("no program to run")?;
        let error = sandbox::landlock::exec(policy, std::path::Path::new(program), arguments).unwrap_err();
        return Err(error).context("the Landlock sandbox could not start the agent");
    }
    // The keeper stays single-threaded: every thread would count against the session's limit of
    // processes.
    if let Command::SandboxKeep { parent, cgroup, engine, container, command } = &args.command {
        let (program, arguments) = command.split_first().context("no program to run")?;
        let container = engine.as_deref().zip(container.as_deref());
        let leftovers = sandbox::keeper::Leftovers { cgroups: cgroup, container };
        let error = sandbox::keeper::run(*parent, &leftovers, std::path::Path::new(program), arguments).unwrap_err();
        return Err(error).context("the sandbox could not start the agent");
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(run(args));
    // A blocking read of stdin may still be pending in the runtime's blocking pool; it must not
    // keep the process alive once the work is done.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    result
}

async fn run(args: Args) -> anyhow::Result<()> {
    let location_flags = cli::location_flags(args.data_dir.as_deref(), args.runtime_dir.as_deref(), args.config.as_deref());
    let paths = Paths::resolve(args.data_dir, args.runtime_dir, args.config);
    match args.command {
        Command::Daemon { listen, tls_cert, tls_key, allow_host } => {
            init_logging("info");
            let listen = listen.map(|address| ListenConfig { address, tls_cert, tls_key, hosts: allow_host });
            rpc::daemon::run(paths, listen).await
        }
        Command::Lsp { connect: Some(url), token_file, ca_cert, .. } => {
            init_logging("warn");
            rpc::remote::run(&paths, &url, token_file, ca_cert).await
        }
        Command::Lsp { standalone: true, .. } => {
            init_logging("warn");
            // Listening starts before any agent can, so a signal always stops the sessions.
            let mut termination = rpc::signals::Termination::listen()?;
            let service = Service::start(paths)?;
            tokio::select! {
                () = rpc::lsp::serve(service.clone(), tokio::io::stdin(), tokio::io::stdout()) => {}
                signal = termination.received() => tracing::info!(signal, "shutting down"),
            }
            service.shutdown().await;
            Ok(())
        }
        Command::Lsp { standalone: false, .. } => {
            init_logging("warn");
            rpc::bridge::run(&paths).await
        }
        Command::Demo { dir } => {
            init_logging("warn");
            demo::run(dir).await
        }
        Command::Web { qr } => {
            init_logging("warn");
            web::command::web(&paths, qr)
        }
        Command::Token(command) => {
            init_logging("warn");
            web::command::token(&paths, command)
        }
        Command::Agents => {
            init_logging("warn");
            cli::agents(&paths).await
        }
        Command::Host(command) => {
            init_logging("warn");
            hosts::command::run(&paths, command).await
        }
        Command::Gc { dry_run, orphans, force } => {
            init_logging("warn");
            cli::gc::run(&paths, arbor_protocol::GcParams { dry_run, orphans, force }).await
        }
        Command::Memory { profile, restore } => {
            init_logging("warn");
            cli::memory::run(&paths, profile, restore).await
        }
        Command::Session(command) => {
            init_logging("warn");
            cli::session(&paths, location_flags, command).await
        }
        Command::Task(command) => {
            init_logging("warn");
            cli::task(&paths, command).await
        }
        Command::Trial(command) => {
            init_logging("warn");
            cli::trial(&paths, command).await
        }
        Command::Sandbox(SandboxCommand::BuildImage) => {
            init_logging("warn");
            let engine = sandbox::container::Engine::find()
                .context("neither podman nor a running docker daemon was found (Debian: apt-get install podman runc)")?;
            println!("building {} with {} from this machine's Debian packages…", sandbox::container::IMAGE, engine.describe());
            let built = tokio::task::spawn_blocking(move || sandbox::image::build(&engine)).await??;
            println!("built {}: {} packages, {} entries", sandbox::container::IMAGE, built.packages, built.entries);
            Ok(())
        }
        Command::ScriptedAgent {
            state_dir,
            script,
            bypass_permissions,
            no_load_session,
            close,
            fork,
            require_auth,
            login,
            modes,
        } => {
            if login {
                agents::scripted::agent::log_in(&state_dir).context("could not log in")?;
                println!("Logged in.");
                return Ok(());
            }
            let options = agents::scripted::agent::Options {
                bypass_permissions,
                load_session: !no_load_session,
                close,
                fork,
                require_auth,
                modes,
            };
            agents::scripted::agent::run(state_dir, script, options).await.context("scripted agent failed")
        }
        Command::SandboxForward { socket, port, command } => {
            let (program, arguments) = command.split_first().context("no program to run")?;
            let code = sandbox::forward::run_inside(socket, port, program.into(), arguments.to_vec()).await?;
            std::process::exit(code)
        }
        Command::SandboxExec { .. } | Command::SandboxKeep { .. } => {
            unreachable!("handled before the runtime starts")
        }
    }
}
