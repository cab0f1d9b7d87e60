//! Private configuration directories for agents that read their memory from a fixed place in
//! it: Codex CLI reads `$CODEX_HOME/AGENTS.md` as global instructions. The session's directory holds one such directory with the profile's
//! memory at that name, and a link to every other entry of the user's own (config, credentials,
//! history), so the agent runs as configured, resumes its conversations, and reads and edits the
//! profile's memory instead of the user's global file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{MemoryError, io};
use crate::agents::{StartSpec, codex};
use crate::sandbox::Sandbox;

/// The variable naming the user's own configuration directory the private one links to, so a
/// sandbox lets the agent follow the links (it grants directories the agent's environment names).
pub const LINKED_HOME_ENV: &str = "ARBOR_LINKED_AGENT_HOME";

/// The private configuration directory for `agent` in the session directory `dir`; None for an
/// agent that reads no memory file from one.
pub fn private_dir(agent: &str, dir: &Path) -> Option<PathBuf> {
    match agent {
        codex::AGENT_ID => Some(dir.join("codex-home")),
        _ => None,
    }
}

/// The name under which Codex reads its global instructions in its configuration directory.
pub const MEMORY_FILE_NAME: &str = "AGENTS.md";

/// The HOME an agent run with `env` sees: inside a sandbox the one the sandbox gives it, else the
/// one the config file gives it, else Arbor's own.
fn user_home(env: &BTreeMap<String, String>, sandbox: &Sandbox) -> PathBuf {
    sandbox
        .agent_home(env)
        .or_else(|| env.get("HOME").map(PathBuf::from))
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// The variables that point Codex, run with `env`, at the private configuration directory of
/// `spec`'s memory, once it links to the user's own; none when the session has no such directory.
pub fn private_env(
    env: &BTreeMap<String, String>,
    spec: &StartSpec,
) -> Result<Vec<(&'static str, PathBuf)>, MemoryError> {
    let Some(private) = spec.memory.as_ref().and_then(|memory| memory.agent_home.as_deref()) else {
        return Ok(Vec::new());
    };
    let source = match env.get("CODEX_HOME") {
        Some(configured) => PathBuf::from(configured),
        None => user_home(env, &spec.sandbox).join(".codex"),
    };
    link(&source, private, MEMORY_FILE_NAME)?;
    Ok(vec![("CODEX_HOME", private.to_path_buf()), (LINKED_HOME_ENV, source)])
}

/// Links every entry of `source` (the user's configuration directory) into `private`, except
/// the memory file `except`, which the session's memory occupies. Links already made are kept,
/// so a resumed session finds the same directory; a missing `source` links nothing.
pub fn link(source: &Path, private: &Path, except: &str) -> Result<(), MemoryError> {
    std::fs::create_dir_all(private).map_err(io(private))?;
    let entries = match std::fs::read_dir(source) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source_error) => return Err(io(source)(source_error)),
    };
    for entry in entries {
        let entry = entry.map_err(io(source))?;
        let target = private.join(entry.file_name());
        if entry.file_name() == except || target.symlink_metadata().is_ok() {
            continue;
        }
        std::os::unix::fs::symlink(entry.path(), &target).map_err(io(&target))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_but_the_memory_file_is_linked_and_a_second_run_keeps_the_links() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("user");
        std::fs::create_dir_all(source.join("sessions")).unwrap();
        std::fs::write(source.join("config.toml"), "model = \"m\"\n").unwrap();
        std::fs::write(source.join("AGENTS.md"), "the user's own\n").unwrap();
        let private = dir.path().join("private");
        std::fs::create_dir_all(&private).unwrap();
        std::fs::write(private.join("AGENTS.md"), "the profile's\n").unwrap();
        link(&source, &private, "AGENTS.md").unwrap();
        link(&source, &private, "AGENTS.md").unwrap();
        assert_eq!(std::fs::read_to_string(private.join("config.toml")).unwrap(), "model = \"m\"\n");
        assert!(private.join("sessions").is_dir());
        assert_eq!(std::fs::read_to_string(private.join("AGENTS.md")).unwrap(), "the profile's\n");
        link(&dir.path().join("missing"), &private, "AGENTS.md").unwrap();
    }
}
