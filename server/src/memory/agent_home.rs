//! Private configuration directories for agents that read their memory from a fixed place in
//! it: Codex CLI reads `$CODEX_HOME/AGENTS.md` as global instructions, and Gemini CLI reads
//! `$GEMINI_CLI_HOME/.gemini/GEMINI.md` as global context (and edits it when told to remember
//! something). The session's directory holds one such directory with the profile's memory at
//! that name, and a link to every other entry of the user's own (config, credentials, history),
//! so the agent runs as configured, resumes its conversations, and reads and edits the profile's
//! memory instead of the user's global file. Gemini CLI also loads skills from `.gemini/skills/`:
//! with a profile's skills that directory is the session's own, the profile's copies beside a
//! link to each of the user's skills.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{MemoryError, io};
use crate::agents::{StartSpec, acp, codex};
use crate::sandbox::Sandbox;

/// The variable naming the user's own directory the private one stands for and links to, so a
/// sandbox lets the agent follow the links (it grants directories the agent's environment names).
pub const LINKED_HOME_ENV: &str = "ARBOR_LINKED_AGENT_HOME";

/// Where an agent looks for its configuration directory and the memory file in it.
struct Layout {
    /// The variable naming the directory the agent looks in.
    variable: &'static str,
    /// The directory the agent looks in when the variable is unset, under HOME ("" for HOME).
    default_under_home: &'static str,
    /// The configuration directory under the one the variable names ("" for that one).
    config_dir: &'static str,
    /// The memory file's name in the configuration directory.
    memory_file: &'static str,
    /// The private directory's name in the session's directory.
    private_name: &'static str,
    /// Other entries of the directory the variable names that the agent looks for there, linked
    /// whole.
    siblings: &'static [&'static str],
    /// The directory in the configuration directory where the agent finds the user's skills, for
    /// an agent that loads skills from there.
    skills_dir: Option<&'static str>,
}

/// The layout of `agent`'s configuration; None for an agent that reads no memory file from one.
fn layout(agent: &str) -> Option<Layout> {
    match agent {
        codex::AGENT_ID => Some(Layout {
            variable: "CODEX_HOME",
            default_under_home: ".codex",
            config_dir: "",
            memory_file: "AGENTS.md",
            private_name: "codex-home",
            siblings: &[],
            skills_dir: None,
        }),
        // GEMINI_CLI_HOME stands in for HOME: Gemini CLI keeps its configuration under its
        // `.gemini` and looks for the user's skills in its `.agents/skills` too.
        acp::GEMINI_ID => Some(Layout {
            variable: "GEMINI_CLI_HOME",
            default_under_home: "",
            config_dir: ".gemini",
            memory_file: "GEMINI.md",
            private_name: "gemini-home",
            siblings: &[".agents"],
            skills_dir: Some("skills"),
        }),
        _ => None,
    }
}

/// The private directory for `agent` in the session directory `dir`, which the agent's variable
/// names, and the memory file in it; None for an agent that reads no memory file from one.
pub fn private_dir(agent: &str, dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let layout = layout(agent)?;
    let private = dir.join(layout.private_name);
    let file = under(&private, layout.config_dir).join(layout.memory_file);
    Some((private, file))
}

/// Where the profile's skills go for `agent` in the session directory `dir`, beside links to the
/// user's own; None for an agent that loads no skills from its configuration directory.
pub fn skills_dir(agent: &str, dir: &Path) -> Option<PathBuf> {
    let layout = layout(agent)?;
    Some(under(&dir.join(layout.private_name), layout.config_dir).join(layout.skills_dir?))
}

/// `dir`'s entry `name`, or `dir` itself for an empty name (where `join` would add a slash).
fn under(dir: &Path, name: &str) -> PathBuf {
    if name.is_empty() { dir.to_path_buf() } else { dir.join(name) }
}

/// The HOME an agent run with `env` sees: inside a sandbox the one the sandbox gives it, else the
/// one the config file gives it, else Arbor's own.
fn user_home(env: &BTreeMap<String, String>, sandbox: &Sandbox) -> PathBuf {
    sandbox
        .agent_home(env)
        .or_else(|| env.get("HOME").map(PathBuf::from))
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// The variables that point `agent`, run with `env`, at the private configuration directory of
/// `spec`'s memory, once it links to the user's own; none when the session has no such directory.
pub fn private_env(
    agent: &str,
    env: &BTreeMap<String, String>,
    spec: &StartSpec,
) -> Result<Vec<(&'static str, PathBuf)>, MemoryError> {
    let private = spec.memory.as_ref().and_then(|memory| memory.agent_home.as_deref());
    let (Some(private), Some(layout)) = (private, layout(agent)) else { return Ok(Vec::new()) };
    let source = match env.get(layout.variable) {
        Some(configured) => PathBuf::from(configured),
        None => under(&user_home(env, &spec.sandbox), layout.default_under_home),
    };
    let linked = under(&source, layout.config_dir);
    let private_config = under(private, layout.config_dir);
    link(&linked, &private_config, &[layout.memory_file])?;
    // A skills directory holding the profile's skills is the session's own: the user's skills
    // are linked into it one by one, and a skill of the profile wins over one of the same name.
    if let Some(skills) = layout.skills_dir {
        let private_skills = private_config.join(skills);
        if private_skills.symlink_metadata().is_ok_and(|meta| meta.is_dir()) {
            link(&linked.join(skills), &private_skills, &[])?;
        }
    }
    for name in layout.siblings {
        let (from, to) = (source.join(name), private.join(name));
        if from.exists() && to.symlink_metadata().is_err() {
            std::os::unix::fs::symlink(&from, &to).map_err(io(&to))?;
        }
    }
    // The directory the agent's variable would name, so a sandbox grants every link's target.
    Ok(vec![(layout.variable, private.to_path_buf()), (LINKED_HOME_ENV, source)])
}

/// Links every entry of `source` (the user's configuration directory) into `private`, except
/// those named in `except` (the memory file, which the session's memory occupies). Links already made are kept,
/// so a resumed session finds the same directory; a missing `source` links nothing.
pub fn link(source: &Path, private: &Path, except: &[&str]) -> Result<(), MemoryError> {
    std::fs::create_dir_all(private).map_err(io(private))?;
    let entries = match std::fs::read_dir(source) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source_error) => return Err(io(source)(source_error)),
    };
    for entry in entries {
        let entry = entry.map_err(io(source))?;
        let target = private.join(entry.file_name());
        if except.iter().any(|name| entry.file_name() == *name) || target.symlink_metadata().is_ok() {
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
    fn codex_reads_agents_md_in_its_home_and_gemini_its_gemini_md_under_its_home() {
        let dir = Path::new("/data/memory/sessions/s");
        let codex = private_dir(codex::AGENT_ID, dir).unwrap();
        assert_eq!(codex, (dir.join("codex-home"), dir.join("codex-home/AGENTS.md")));
        let gemini = private_dir(acp::GEMINI_ID, dir).unwrap();
        assert_eq!(gemini, (dir.join("gemini-home"), dir.join("gemini-home/.gemini/GEMINI.md")));
        assert_eq!(private_dir("scripted", dir), None);
        assert_eq!(skills_dir(acp::GEMINI_ID, dir), Some(dir.join("gemini-home/.gemini/skills")));
        assert_eq!(skills_dir(codex::AGENT_ID, dir), None, "Codex gets the skill listing instead");
    }

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
        link(&source, &private, &["AGENTS.md"]).unwrap();
        link(&source, &private, &["AGENTS.md"]).unwrap();
        assert_eq!(std::fs::read_to_string(private.join("config.toml")).unwrap(), "model = \"m\"\n");
        assert!(private.join("sessions").is_dir());
        assert_eq!(std::fs::read_to_string(private.join("AGENTS.md")).unwrap(), "the profile's\n");
        link(&dir.path().join("missing"), &private, &["AGENTS.md"]).unwrap();
    }
}
