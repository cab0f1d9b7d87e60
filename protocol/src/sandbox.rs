//! Sandboxing: which backend confines a session's agent, what it may reach on the network, and
//! what the server found working on its machine.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The sandbox asked for, in a session's settings, a profile, a trial or the config file.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SandboxChoice {
    /// No sandbox: the agent runs with the user's full power.
    None,
    /// The strongest backend that works on this machine (see `agents/list`).
    Auto,
    /// Bubblewrap: namespaces (user, mount, PID, network), the strongest.
    Bwrap,
    /// Landlock: file system and TCP port rules, no namespaces.
    Landlock,
    /// A podman (or docker) container from the image `arbor sandbox build-image` makes.
    Container,
}

/// A backend that actually confines a session.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, strum::IntoStaticStr, strum::EnumIter)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum SandboxBackend {
    /// No confinement.
    None,
    /// Bubblewrap.
    Bwrap,
    /// Landlock.
    Landlock,
    /// A container.
    Container,
}

impl SandboxBackend {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        // The name serde writes: strum applies the same rule, and tests/wire_names.rs checks
        // every variant against serde.
        self.into()
    }
}

/// What a sandboxed agent may reach on the network.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// Nothing.
    Off,
    /// Only the agent's model API (the default).
    #[default]
    ModelApi,
    /// Everything the user can reach.
    On,
}

/// How a session is confined, as shown on the session.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SessionSandbox {
    /// The backend actually used.
    pub backend: SandboxBackend,
    /// The network mode.
    pub network: NetworkMode,
    /// The most processes the session's agent may run at once.
    pub max_processes: u32,
    /// The most memory the session's agent may use, in MiB.
    pub max_memory_mb: u64,
    /// What enforces the limits: `cgroup` or `rlimit`.
    pub limits_enforced_by: String,
    /// Why the session runs unconfined when a sandbox was wanted (`auto` with no backend here).
    pub reason: Option<String>,
}

/// One backend as found on the server's machine.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SandboxBackendStatus {
    /// The backend.
    pub backend: SandboxBackend,
    /// Whether it ran `true` successfully at start-up.
    pub available: bool,
    /// What was found (version, ABI) or why it does not work.
    pub detail: String,
}

/// The `sandbox` section of `agents/list`: what works here and what `auto` picks.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SandboxReport {
    /// Every backend, strongest first.
    pub backends: Vec<SandboxBackendStatus>,
    /// The backend `auto` picks, or null when none works.
    pub auto: Option<SandboxBackend>,
    /// Why none works, when `auto` is null.
    pub reason: Option<String>,
    /// What enforces process and memory limits here: `cgroup` or `rlimit`.
    pub limits: String,
}
