//! A sandbox per session: every agent command goes through [`Sandbox::wrap`], which confines it
//! with the backend the session was given (bubblewrap, Landlock or a container), bounds its processes and
//! memory, and limits its network to the model API through a forwarder Arbor runs.
//!
//! `host.rs` finds what works on this machine at start-up, `layout.rs` decides what the agent
//! sees, `bwrap.rs`, `landlock.rs` and `container.rs` turn that into each backend's confinement
//! (`image.rs` builds the container's image), `keeper.rs` parents every sandboxed agent, `forward.rs`
//! carries model API traffic across the sandbox's edge and `limits.rs` holds the cgroups or
//! rlimits. `docs/sandbox.md` is the threat model.

pub mod bwrap;
pub mod codex_config;
pub mod container;
pub mod forward;
pub mod git_links;
pub mod host;
pub mod image;
pub mod keeper;
pub mod landlock;
pub mod layout;
pub mod limits;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arbor_protocol::{NetworkMode, PermissionMode, SandboxBackend, SandboxChoice, Session, SessionSandbox};
use tokio::process::Command;

use crate::paths::Paths;
pub use host::Host;
use layout::Layout;
use limits::Limits;

/// Default bound on a sandboxed agent's processes.
pub const DEFAULT_MAX_PROCESSES: u32 = 512;
/// Default bound on a sandboxed agent's memory, in MiB.
pub const DEFAULT_MAX_MEMORY_MB: u64 = 8192;
/// The port the model API is reached on inside a sandbox without a network of its own.
pub const INSIDE_MODEL_PORT: u16 = 41741;
/// Environment variables naming an agent's model API, which the sandbox redirects to its
/// forwarder.
const BASE_URL_VARIABLES: [&str; 3] = ["ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "GOOGLE_GEMINI_BASE_URL"];
/// The model API hosts of the providers, reachable in `model_api` mode when no base URL is set.
pub const PROVIDER_HOSTS: [&str; 4] =
    ["api.anthropic.com", "api.openai.com", "chatgpt.com", "generativelanguage.googleapis.com"];

/// Errors of setting up or using a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The backend asked for does not work on this machine.
    #[error("the {backend} sandbox is not available here: {detail}")]
    Unavailable { backend: &'static str, detail: String },
    /// Preparing the sandbox's directories, cgroups or forwarder failed.
    #[error("could not prepare the sandbox ({what}): {source}")]
    Prepare { what: String, source: std::io::Error },
    /// The agent's command cannot be sandboxed as given.
    #[error("cannot sandbox this command: {0}")]
    Command(String),
}

fn prepare_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SandboxError {
    let what = what.into();
    move |source| SandboxError::Prepare { what, source }
}

/// Decides how a session is confined: its own choice, else the config file's, else `auto` for
/// trials and `bypass_permissions` (nobody watches each action) and none for the rest. `auto`
/// becomes the strongest backend that works here, or none with the reason when none does; a
/// backend asked for by name that does not work is refused.
pub fn resolve(
    session: &Session,
    configured: Option<SandboxChoice>,
    host: &Host,
) -> Result<SessionSandbox, SandboxError> {
    let config = &session.config;
    let unattended = session.trial_id.is_some() || config.permission_mode == Some(PermissionMode::BypassPermissions);
    let default = if unattended { SandboxChoice::Auto } else { SandboxChoice::None };
    let choice = config.sandbox.or(configured).unwrap_or(default);
    let (backend, reason) = match choice {
        SandboxChoice::None => (SandboxBackend::None, None),
        SandboxChoice::Auto => match host.auto() {
            Some(backend) => (backend, None),
            None => (SandboxBackend::None, Some(host.report().reason.unwrap_or_default())),
        },
        SandboxChoice::Bwrap => (host.require(SandboxBackend::Bwrap)?, None),
        SandboxChoice::Landlock => (host.require(SandboxBackend::Landlock)?, None),
        SandboxChoice::Container => (host.require(SandboxBackend::Container)?, None),
    };
    Ok(SessionSandbox {
        backend,
        network: config.network.unwrap_or_default(),
        max_processes: config.max_processes.unwrap_or(DEFAULT_MAX_PROCESSES),
        max_memory_mb: config.max_memory_mb.unwrap_or(DEFAULT_MAX_MEMORY_MB),
        limits_enforced_by: host.limits_mechanism().to_string(),
        reason,
    })
}

/// One session's sandbox while its agent runs: its directories, limits and forwarder. Dropping
/// it stops the forwarder; [`Sandbox::teardown`] also ends whatever is left in its cgroups.
pub struct Sandbox {
    settings: Option<SessionSandbox>,
    cwd: PathBuf,
    /// The session's `additionalDirs`, read-write like `cwd`.
    additional_dirs: Vec<PathBuf>,
    /// The session's directory under the data directory: `home/` and `tmp/`.
    dir: PathBuf,
    /// Where the forwarder's socket goes.
    socket: PathBuf,
    limits: Option<Limits>,
    forwarders: std::sync::Mutex<Vec<forward::Forwarder>>,
    /// The session's name for its containers, and the data directory's label value.
    container_names: (String, String),
    /// The containers started, to remove at teardown.
    containers: std::sync::Mutex<Vec<String>>,
    /// The worktree's links to its repository as they were before the agent started.
    git_links: git_links::GitLinks,
}

impl Sandbox {
    /// No confinement: [`Sandbox::wrap`] returns commands as they are.
    pub fn none() -> Sandbox {
        Sandbox {
            settings: None,
            cwd: PathBuf::new(),
            additional_dirs: Vec::new(),
            dir: PathBuf::new(),
            socket: PathBuf::new(),
            limits: None,
            forwarders: Default::default(),
            container_names: Default::default(),
            containers: Default::default(),
            git_links: Default::default(),
        }
    }

    /// Prepares `session`'s sandbox as its record says: the private HOME (kept between runs, so
    /// the agent can resume) and the cgroups bounding it. `memory_dir`, the directory of the
    /// profile's memory and skills for the session, is writable like an extra directory.
    pub fn prepare(session: &Session, paths: &Paths, memory_dir: Option<PathBuf>) -> Result<Sandbox, SandboxError> {
        let Some(settings) = session.sandbox.clone().filter(|settings| settings.backend != SandboxBackend::None) else {
            return Ok(Sandbox::none());
        };
        let host = Host::get();
        host.require(settings.backend)?;
        let dir = paths.data_dir.join("sandboxes").join(session.id.to_string());
        for sub in ["home", "tmp"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(prepare_error(format!("create {}", dir.join(sub).display())))?;
        }
        let limits =
            Limits::create(host, paths, &session.id.to_string(), settings.max_processes, settings.max_memory_mb)
                .map_err(prepare_error("create the session's cgroups"))?;
        let socket = paths.runtime_dir.join("sandbox").join(format!("{}.sock", session.id.simple()));
        Ok(Sandbox {
            settings: Some(settings),
            cwd: PathBuf::from(&session.cwd),
            additional_dirs: session.additional_dirs.iter().map(PathBuf::from).chain(memory_dir).collect(),
            dir,
            socket,
            limits: Some(limits),
            forwarders: Default::default(),
            container_names: (format!("arbor-{}", session.id.simple()), limits::server_id(paths)),
            containers: Default::default(),
            git_links: git_links::GitLinks::of(Path::new(&session.cwd)),
        })
    }

    /// How the session is confined, when it is.
    pub fn settings(&self) -> Option<&SessionSandbox> {
        self.settings.as_ref()
    }

    /// The HOME the agent sees: the session's private one, unless the config file gives the
    /// agent a HOME of its own (`env`).
    fn home(&self, env: &BTreeMap<String, String>) -> PathBuf {
        configured(env, "HOME").filter(|home| home.is_dir()).unwrap_or_else(|| self.dir.join("home"))
    }

    /// The HOME an agent run with `env` sees in this sandbox; None when the session is not
    /// sandboxed.
    pub fn agent_home(&self, env: &BTreeMap<String, String>) -> Option<PathBuf> {
        self.settings.as_ref().map(|_| self.home(env))
    }

    /// The private HOME of a sandboxed session, where an agent built into Arbor keeps its state.
    pub fn private_home(&self) -> Option<PathBuf> {
        self.settings.as_ref().map(|_| self.dir.join("home"))
    }

    /// `command` confined: the same program, arguments and environment, run through the session's
    /// backend with its limits. The caller sets stdio and the process group afterwards.
    pub fn wrap(&self, command: Command) -> Result<Command, SandboxError> {
        let Some(settings) = &self.settings else { return Ok(command) };
        let std = command.as_std();
        let program = PathBuf::from(std.get_program());
        let arguments: Vec<String> = std.get_args().map(|arg| arg.to_string_lossy().into_owned()).collect();
        let mut env: BTreeMap<String, String> = std
            .get_envs()
            .filter_map(|(name, value)| {
                Some((name.to_string_lossy().into_owned(), value?.to_string_lossy().into_owned()))
            })
            .collect();
        let program = resolve_program(&program, &env)?;
        let home = self.home(&env);
        let tmp = self.dir.join("tmp");
        let layout = Layout::new(&program, &self.cwd, &self.additional_dirs, &home, &tmp, &env);
        env.insert("HOME".into(), home.display().to_string());
        env.insert("TMPDIR".into(), tmp.display().to_string());
        let model = model_api(&env, &home);
        let wrapped = match settings.backend {
            SandboxBackend::Bwrap => {
                let forward = match settings.network {
                    NetworkMode::ModelApi => Some(self.start_forwarder(&model, &mut env)?),
                    NetworkMode::Off | NetworkMode::On => None,
                };
                bwrap::command(&layout, settings.network, forward.as_ref(), &program, &arguments)?
            }
            SandboxBackend::Landlock => {
                let ports = match settings.network {
                    NetworkMode::ModelApi => Some(model.ports()),
                    NetworkMode::Off => Some(Vec::new()),
                    NetworkMode::On => None,
                };
                landlock::command(&layout, ports, &program, &arguments)?
            }
            SandboxBackend::Container => return self.wrap_in_container(settings, &layout, &model, env, &program, &arguments),
            SandboxBackend::None => return Ok(command),
        };
        let mut wrapped = self.kept(wrapped, None)?;
        wrapped.env_clear().envs(&env).current_dir(&self.cwd);
        if let Some(limits) = &self.limits {
            limits.apply_on_spawn(&mut wrapped);
        }
        Ok(wrapped)
    }

    /// The container backend's part of [`Sandbox::wrap`]. The engine's CLI stays out of the
    /// session's cgroups (its threads would count as processes); the container is started under
    /// them instead.
    fn wrap_in_container(
        &self,
        settings: &SessionSandbox,
        layout: &Layout,
        model: &ModelApi,
        mut env: BTreeMap<String, String>,
        program: &Path,
        arguments: &[String],
    ) -> Result<Command, SandboxError> {
        let engine = Host::get().engine.clone().ok_or_else(|| SandboxError::Unavailable {
            backend: "container",
            detail: "no container engine was found".into(),
        })?;
        let forward = match settings.network {
            NetworkMode::ModelApi => Some(self.start_forwarder(model, &mut env)?),
            NetworkMode::Off | NetworkMode::On => None,
        };
        let name = {
            let mut containers = self.containers.lock().expect("containers poisoned");
            let name = format!("{}-{}", self.container_names.0, containers.len());
            containers.push(name.clone());
            name
        };
        let seccomp = self.dir.join("seccomp.json");
        container::write_seccomp_profile(&seccomp).map_err(prepare_error("write the seccomp profile"))?;
        let run = container::Run {
            name: &name,
            server: &self.container_names.1,
            network: settings.network,
            forward: forward.as_ref(),
            max_processes: settings.max_processes,
            max_memory_mb: settings.max_memory_mb,
            cgroup_parent: self.limits.as_ref().and_then(Limits::relative),
            seccomp: Some(&seccomp),
            env: env.keys().cloned().collect(),
        };
        let command = container::command(&engine, layout, &run, &self.cwd, program, arguments)?;
        let mut wrapped = self.kept(command, Some((&engine.program, &name)))?;
        wrapped.env_clear().envs(&env).current_dir(&self.cwd);
        Ok(wrapped)
    }

    /// `command` run by the keeper (`keeper.rs`), so that a server killed outright still leaves
    /// the agent time to end on its own, and nothing of the session running afterwards.
    fn kept(&self, command: Command, container: Option<(&Path, &str)>) -> Result<Command, SandboxError> {
        let std = command.as_std();
        let groups = self.limits.as_ref().map(Limits::groups).unwrap_or_default();
        let mut kept = Command::new(arbor_binary()?);
        kept.args(keeper::arguments(groups, container)).arg(std.get_program()).args(std.get_args());
        Ok(kept)
    }

    /// Starts the model API forwarder for one agent process and points its environment at it.
    fn start_forwarder(
        &self,
        model: &ModelApi,
        env: &mut BTreeMap<String, String>,
    ) -> Result<bwrap::Forward, SandboxError> {
        let inside = format!("http://127.0.0.1:{INSIDE_MODEL_PORT}");
        let mut allowed_hosts: Vec<String> = PROVIDER_HOSTS.iter().map(|host| host.to_string()).collect();
        let (upstream, port) = match &model.base_url {
            Some((Named::InEnvironment(name), url)) => {
                env.insert(name.clone(), format!("{inside}{}", url.path));
                (forward::Upstream::Fixed(url.authority()), INSIDE_MODEL_PORT)
            }
            // The agent's own config file cannot be rewritten, so the inside end listens where
            // that file points: the same loopback port.
            Some((Named::InCodexConfig, url)) if url.is_loopback() => (forward::Upstream::Fixed(url.authority()), url.port),
            Some((Named::InCodexConfig, url)) => {
                allowed_hosts.push(url.host.clone());
                (connect_proxy(allowed_hosts, env), INSIDE_MODEL_PORT)
            }
            None => (connect_proxy(allowed_hosts, env), INSIDE_MODEL_PORT),
        };
        let mut forwarders = self.forwarders.lock().expect("forwarders poisoned");
        let socket = self.socket.with_extension(format!("{}.sock", forwarders.len()));
        let forwarder =
            forward::Forwarder::start(&socket, upstream).map_err(prepare_error("start the model API forwarder"))?;
        forwarders.push(forwarder);
        Ok(bwrap::Forward { socket, port })
    }

    /// The limits hit since the last look, as messages for the session.
    pub fn new_limit_hits(&self) -> Vec<String> {
        self.limits.as_ref().map(Limits::new_hits).unwrap_or_default()
    }

    /// Puts back the worktree's links to its repository where the agent rewrote them (only
    /// Landlock leaves them writable), as messages for the session.
    pub fn restored_git_links(&self) -> Vec<String> {
        let restored = self.git_links.restore().into_iter();
        let tied = "which ties the worktree to its repository";
        restored.map(|path| format!("the agent rewrote {}, {tied}: Arbor put it back", path.display())).collect()
    }

    /// Removes the session's containers, ends every process still in its cgroups, removes them
    /// and stops the forwarders.
    pub fn teardown(&self) {
        let containers = std::mem::take(&mut *self.containers.lock().expect("containers poisoned"));
        if let Some(engine) = Host::get().engine.as_ref().filter(|_| !containers.is_empty()) {
            for name in &containers {
                engine.remove(name);
            }
        }
        if let Some(limits) = &self.limits {
            limits.teardown();
        }
        self.forwarders.lock().expect("forwarders poisoned").clear();
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Sandbox")
            .field("settings", &self.settings)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// An HTTP CONNECT proxy at the inside port for port 443 of `hosts`, named in the agent's
/// environment.
fn connect_proxy(hosts: Vec<String>, env: &mut BTreeMap<String, String>) -> forward::Upstream {
    for name in ["HTTPS_PROXY", "https_proxy"] {
        env.insert(name.into(), format!("http://127.0.0.1:{INSIDE_MODEL_PORT}"));
    }
    forward::Upstream::Connect(hosts)
}

/// The running `arbor` binary, which holds the sandbox's helpers.
pub fn arbor_binary() -> Result<PathBuf, SandboxError> {
    std::env::current_exe().map_err(|error| SandboxError::Command(format!("cannot find the arbor binary: {error}")))
}

/// A value the config file set for the agent (one that differs from the server's own
/// environment), as a path.
fn configured(env: &BTreeMap<String, String>, name: &str) -> Option<PathBuf> {
    let value = env.get(name)?;
    (std::env::var(name).ok().as_deref() != Some(value.as_str())).then(|| PathBuf::from(value))
}

/// The program as an absolute path, found on the agent's PATH when it is a bare name.
fn resolve_program(program: &Path, env: &BTreeMap<String, String>) -> Result<PathBuf, SandboxError> {
    if program.is_absolute() {
        return Ok(in_real_directory(program));
    }
    let path = env.get("PATH").cloned().or_else(|| std::env::var("PATH").ok()).unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .map(|found| in_real_directory(&found))
        .ok_or_else(|| SandboxError::Command(format!("{} is not on PATH", program.display())))
}

/// `program` with its directory's `..` and links resolved (the file's own name kept, since an
/// npm CLI's `.bin` link decides how it runs). A container holds only the directories the
/// layout binds, so a path through any other (`tests/../.ci-cache/…`) does not exist inside it.
fn in_real_directory(program: &Path) -> PathBuf {
    match (program.parent().and_then(|dir| dir.canonicalize().ok()), program.file_name()) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => program.to_path_buf(),
    }
}

/// A model API base URL taken apart.
#[derive(Debug, Clone, PartialEq)]
struct BaseUrl {
    host: String,
    port: u16,
    path: String,
}

impl BaseUrl {
    /// Parses `http://host[:port][/path]` (or https).
    fn parse(url: &str) -> Option<BaseUrl> {
        let (scheme, rest) = url.split_once("://")?;
        let default_port = match scheme {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let (authority, path) = match rest.find('/') {
            Some(index) => (&rest[..index], rest[index..].trim_end_matches('/').to_string()),
            None => (rest, String::new()),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_string(), port.parse().ok()?),
            None => (authority.to_string(), default_port),
        };
        (!host.is_empty()).then_some(BaseUrl { host, port, path })
    }

    fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Whether the host is this machine, where a sandbox's own loopback can stand in for it.
    fn is_loopback(&self) -> bool {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|address| address.is_loopback())
    }
}

/// Where a base URL for the agent's model API was found.
#[derive(Debug, Clone, PartialEq)]
enum Named {
    /// In this variable of the agent's environment, which the sandbox can point elsewhere.
    InEnvironment(String),
    /// In Codex's own config file, which the sandbox leaves as it is.
    InCodexConfig,
}

/// Where the agent's model API is: a base URL in its environment or in Codex's config file, or
/// the providers' hosts.
struct ModelApi {
    base_url: Option<(Named, BaseUrl)>,
}

impl ModelApi {
    /// The TCP ports the agent must be able to connect to.
    fn ports(&self) -> Vec<u16> {
        match &self.base_url {
            Some((_, url)) => vec![url.port],
            None => vec![443],
        }
    }
}

/// The agent's model API, from its environment and, for Codex, the config file under the HOME it
/// sees.
fn model_api(env: &BTreeMap<String, String>, home: &Path) -> ModelApi {
    let in_environment = BASE_URL_VARIABLES.iter().find_map(|name| {
        env.get(*name).and_then(|url| BaseUrl::parse(url)).map(|url| (Named::InEnvironment(name.to_string()), url))
    });
    let in_codex_config = || {
        codex_config::base_url(env, home).and_then(|url| BaseUrl::parse(&url)).map(|url| (Named::InCodexConfig, url))
    };
    ModelApi { base_url: in_environment.or_else(in_codex_config) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_taken_apart() {
        assert_eq!(
            BaseUrl::parse("http://127.0.0.1:4567/v1/"),
            Some(BaseUrl { host: "127.0.0.1".into(), port: 4567, path: "/v1".into() })
        );
        assert_eq!(BaseUrl::parse("https://api.example.com").map(|url| url.port), Some(443));
        assert_eq!(BaseUrl::parse("ftp://x"), None);
        assert_eq!(BaseUrl::parse("http://host:notaport"), None);
    }

    #[test]
    fn a_program_is_run_from_its_real_directory() {
        let dir = std::env::temp_dir().canonicalize().unwrap();
        let through = dir.join("no-such-directory").join("..").join("program");
        assert_eq!(in_real_directory(&through), through, "a directory that does not exist is left as it is");
        let sub = dir.join(format!("arbor-real-directory-{}", std::process::id()));
        std::fs::create_dir_all(&sub).unwrap();
        assert_eq!(in_real_directory(&sub.join("..").join("program")), dir.join("program"));
        std::fs::remove_dir(&sub).unwrap();
    }

    #[test]
    fn only_this_machines_hosts_are_loopback() {
        for url in ["http://127.0.0.1:80", "http://localhost:4000", "http://[::1]:4000"] {
            assert!(BaseUrl::parse(url).unwrap().is_loopback(), "{url}");
        }
        assert!(!BaseUrl::parse("https://gateway.example.com/v1").unwrap().is_loopback());
    }
}
