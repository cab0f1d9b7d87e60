//! Agent memory and skills from a profile (`skills`, `memory` in the config file).
//!
//! At a session's start Arbor lays out, in the session's own directory under the data directory
//! (`memory/sessions/<id>/`, never the worktree, so the session's diff never shows them), the
//! memory file and copies of the skills, in the form the agent reads: Claude Code gets the
//! directory as an extra directory (`--add-dir`) holding `CLAUDE.md` and
//! `.claude/skills/<name>/SKILL.md`, which it loads as memory and skills; Codex CLI gets a private
//! `CODEX_HOME` whose `AGENTS.md` is the memory, and Gemini CLI a private `GEMINI_CLI_HOME` whose
//! `.gemini/GEMINI.md` (its global context, which it edits to remember things) is the memory and
//! whose `.gemini/skills/` holds the skills, which Gemini loads itself, beside links to the
//! user's own, both linked to everything else of the user's (`agent_home.rs`); those two get the
//! memory file's path ahead of their first prompt (Codex the skill listing too), and every other
//! agent gets the memory's text, its path and the skill listing there, or in its system prompt
//! when it is an ACP agent that takes one.
//! Every agent also finds the memory file's path in `ARBOR_MEMORY_FILE`. After each turn (and
//! when the agent ends) the file is compared with what was laid out, and a change is saved to the
//! profile's store as a new version (`store.rs`, under the data directory or in an S3-compatible
//! bucket, `bucket.rs`), shown to the user as a notice with the diff.

pub mod agent_home;
pub mod bucket;
pub mod store;

use std::path::{Path, PathBuf};

use arbor_protocol::{AgentProfile, MemoryVersion, ProfileMemoryResult};
use uuid::Uuid;

pub use bucket::MemoryStoreConfig;
pub use store::MemoryStore;

/// The environment variable naming the memory file to every agent with one.
pub const MEMORY_FILE_ENV: &str = "ARBOR_MEMORY_FILE";

/// Errors of the memory store and of laying out memory and skills.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// A file of the store or of a skill could not be read or written.
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// The store's index is not what Arbor wrote.
    #[error("{path} is damaged: {detail}")]
    Corrupt { path: String, detail: String },
    /// No profile has that name, or it keeps no memory.
    #[error("no agent profile named '{0}' keeps a memory (give it `memory` in the config file)")]
    NoMemory(String),
    /// The version asked for was never saved.
    #[error("profile '{profile}' has no memory version {version}")]
    NoSuchVersion { profile: String, version: u32 },
    /// The S3-compatible memory store failed.
    #[error("memory store {store}: {detail}")]
    Bucket { store: String, detail: String },
}

/// Turns an I/O error on `path` into a [`MemoryError`].
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MemoryError {
    let path = path.display().to_string();
    move |source| MemoryError::Io { path, source }
}

/// A skill: a directory with a `SKILL.md`.
#[derive(Debug, Clone, PartialEq)]
struct Skill {
    name: String,
    description: String,
    source: PathBuf,
}

/// Checks a profile's `skills` and `memory` as the config file is read: a profile's name becomes a
/// directory of the store, and every skill needs its `SKILL.md`.
pub fn validate(profile: &AgentProfile) -> Result<(), String> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if profile.memory.is_some() && (profile.name.starts_with('.') || !profile.name.chars().all(plain)) {
        return Err(format!(
            "profile '{}' keeps a memory, so its name may hold only letters, digits, '-', '_' and '.' (not first)",
            profile.name
        ));
    }
    for dir in &profile.skills {
        if !Path::new(dir).join("SKILL.md").is_file() {
            return Err(format!("profile '{}': skill directory {dir} holds no SKILL.md", profile.name));
        }
    }
    Ok(())
}

/// What a session's agent is given: where its memory file is, and what to tell an agent that
/// reads neither memory nor skills from files.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The session's memory directory (for Claude Code, the extra directory it loads).
    pub dir: PathBuf,
    /// The memory file the agent reads and edits.
    pub file: PathBuf,
    /// For Codex and Gemini CLI: the private directory (`CODEX_HOME`, `GEMINI_CLI_HOME`) holding
    /// the memory file under the name the agent reads, to be linked to the user's own
    /// (`agent_home::private_env`).
    pub agent_home: Option<PathBuf>,
    /// For agents other than Claude Code: what they are told of the memory and skills they do not
    /// load themselves. It goes into the system prompt of an ACP agent that takes one, and before
    /// the first prompt (see [`Delivery::preamble`]) of every other agent.
    pub briefing: Option<String>,
}

impl Delivery {
    /// The briefing as it goes before the first prompt of a new conversation, followed by the
    /// user's request.
    pub fn preamble(&self) -> Option<String> {
        self.briefing.as_ref().map(|briefing| format!("{briefing}The user's request follows.\n\n"))
    }
}

/// A session's laid-out memory: the delivery and the text last saved, to tell an edit from it.
#[derive(Debug)]
pub struct SessionMemory {
    profile: String,
    session_id: Uuid,
    /// What the agent is given.
    pub delivery: Delivery,
    saved: String,
}

/// A change to a profile's memory, saved.
#[derive(Debug)]
pub struct SavedChange {
    /// The version saved.
    pub version: MemoryVersion,
    /// A unified diff from the previous text.
    pub diff: String,
}

/// The memory of every profile, and the layout of sessions' memory.
pub struct Memory {
    profiles: Vec<AgentProfile>,
    store: MemoryStore,
    sessions_dir: PathBuf,
}

impl Memory {
    /// The memory of `profiles`, its versions stored where `store` says (under `data_dir` by
    /// default); sessions' working copies are always under `data_dir`.
    pub fn new(profiles: Vec<AgentProfile>, data_dir: &Path, store: &MemoryStoreConfig) -> Result<Memory, MemoryError> {
        let store = match &store.s3 {
            Some(s3) => MemoryStore::bucket(bucket::BucketObjects::new(s3)?),
            None => MemoryStore::local(data_dir.join("memory").join("profiles")),
        };
        Ok(Memory { profiles, store, sessions_dir: data_dir.join("memory").join("sessions") })
    }

    fn profile(&self, name: &str) -> Option<&AgentProfile> {
        self.profiles.iter().find(|profile| profile.name == name)
    }

    /// The profile's memory text now: its newest version, else its seed file's text (saved as the
    /// first version), else nothing.
    async fn current(&self, profile: &AgentProfile) -> Result<String, MemoryError> {
        if let Some(text) = self.store.current(&profile.name).await? {
            return Ok(text);
        }
        let Some(seed) = profile.memory.as_deref() else { return Ok(String::new()) };
        match std::fs::read_to_string(seed) {
            Ok(text) => {
                self.store.save(&profile.name, &text, None, format!("seeded from {seed}")).await?;
                Ok(text)
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(source) => Err(MemoryError::Io { path: seed.to_string(), source }),
        }
    }

    /// Lays out memory and skills for session `session_id` of `profile` run by `agent`; None when
    /// the profile has neither.
    pub async fn prepare(
        &self,
        profile: Option<&str>,
        session_id: Uuid,
        agent: &str,
    ) -> Result<Option<SessionMemory>, MemoryError> {
        let Some(profile) = profile.and_then(|name| self.profile(name)) else { return Ok(None) };
        if profile.memory.is_none() && profile.skills.is_empty() {
            return Ok(None);
        }
        let dir = self.sessions_dir.join(session_id.to_string());
        let claude = agent == crate::agents::claude::AGENT_ID;
        let (agent_home, file) = match agent_home::private_dir(agent, &dir) {
            Some((home, file)) => (Some(home), file),
            None => (None, dir.join(if claude { "CLAUDE.md" } else { "MEMORY.md" })),
        };
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        // The newest version, whatever an earlier run of the session left in the file: its edits
        // were saved after each turn, and a restore made meanwhile must win.
        let text = self.current(profile).await?;
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        std::fs::write(&file, &text).map_err(io(&file))?;
        let own_skills_dir = agent_home::skills_dir(agent, &dir);
        let loads_skills = claude || own_skills_dir.is_some();
        let skills_dir = match own_skills_dir {
            Some(skills_dir) => skills_dir,
            None if claude => dir.join(".claude").join("skills"),
            None => dir.join("skills"),
        };
        // An earlier run without the profile's skills linked the agent's skills directory to the
        // user's own; the copies must not land there.
        if !profile.skills.is_empty() && skills_dir.symlink_metadata().is_ok_and(|meta| meta.is_symlink()) {
            std::fs::remove_file(&skills_dir).map_err(io(&skills_dir))?;
        }
        let mut skills = Vec::new();
        for source in &profile.skills {
            let skill = read_skill(Path::new(source))?;
            let target = skills_dir.join(&skill.name);
            if target.exists() {
                std::fs::remove_dir_all(&target).map_err(io(&target))?;
            }
            copy_dir(&skill.source, &target)?;
            skills.push(Skill { source: target, ..skill });
        }
        // Codex and Gemini CLI read the memory file itself; the text goes before the first prompt
        // only for agents that read none.
        let memory = profile
            .memory
            .is_some()
            .then(|| MemoryNote { file: &file, text: agent_home.is_none().then_some(text.as_str()) });
        // An agent that loads the skills itself is not told of them again.
        let listed: &[Skill] = if loads_skills { &[] } else { &skills };
        let briefing =
            (!claude && (memory.is_some() || !listed.is_empty())).then(|| briefing(&profile.name, memory, listed));
        Ok(Some(SessionMemory {
            profile: profile.name.clone(),
            session_id,
            delivery: Delivery { dir, file, agent_home, briefing },
            saved: text,
        }))
    }

    /// Saves the agent's edits to the session's memory file as a new version, if it made any.
    pub async fn harvest(&self, session: &mut SessionMemory) -> Result<Option<SavedChange>, MemoryError> {
        if self.profile(&session.profile).is_none_or(|profile| profile.memory.is_none()) {
            return Ok(None);
        }
        let text = match std::fs::read_to_string(&session.delivery.file) {
            Ok(text) => text,
            // An agent that removed its memory file emptied its memory.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(MemoryError::Io { path: session.delivery.file.display().to_string(), source });
            }
        };
        if text == session.saved {
            return Ok(None);
        }
        let version =
            self.store.save(&session.profile, &text, Some(session.session_id), "edited by the agent".into()).await?;
        let diff = unified_diff(&session.saved, &text);
        session.saved = text;
        Ok(Some(SavedChange { version, diff }))
    }

    /// `profile/memory`.
    pub async fn show(&self, name: &str) -> Result<ProfileMemoryResult, MemoryError> {
        let profile = self
            .profile(name)
            .filter(|profile| profile.memory.is_some())
            .ok_or_else(|| MemoryError::NoMemory(name.into()))?;
        let text = self.current(profile).await?;
        Ok(ProfileMemoryResult { profile: name.to_string(), text, versions: self.store.versions(name).await? })
    }

    /// `profile/memoryRestore`: `version`'s text saved as the newest version.
    pub async fn restore(&self, name: &str, version: u32) -> Result<ProfileMemoryResult, MemoryError> {
        self.show(name).await?;
        let text = self.store.text(name, version).await?;
        self.store.save(name, &text, None, format!("restored from version {version}")).await?;
        self.show(name).await
    }
}

/// What the briefing says of the memory: its file, and its text for an agent that does not read
/// the file itself.
struct MemoryNote<'a> {
    file: &'a Path,
    text: Option<&'a str>,
}

/// What an agent is told of the memory and skills it does not load itself, in its system prompt or
/// before its first prompt.
fn briefing(profile: &str, memory: Option<MemoryNote>, skills: &[Skill]) -> String {
    let mut out = format!("Arbor gives you the memory and skills of the agent profile \"{profile}\".\n\n");
    if let Some(MemoryNote { file, text }) = memory {
        out.push_str(&format!(
            "Your memory file is {} (also in ${MEMORY_FILE_ENV}); edit it to remember things for later sessions.",
            file.display()
        ));
        match text {
            Some(text) => out.push_str(&format!(
                " It holds:\n\n{}\n\n",
                if text.trim().is_empty() { "(nothing yet)" } else { text.trim_end() }
            )),
            None => out.push_str(" You have read it already as your global instructions.\n\n"),
        }
    }
    if !skills.is_empty() {
        out.push_str("Skills (read a skill's SKILL.md before you use it):\n");
        for skill in skills {
            out.push_str(&format!(
                "- {}: {} ({})\n",
                skill.name,
                skill.description,
                skill.source.join("SKILL.md").display()
            ));
        }
        out.push('\n');
    }
    out
}

/// A skill directory's name and the `description` of its `SKILL.md` front matter.
fn read_skill(dir: &Path) -> Result<Skill, MemoryError> {
    let manifest = dir.join("SKILL.md");
    let text = std::fs::read_to_string(&manifest).map_err(io(&manifest))?;
    let front_matter = text.strip_prefix("---").and_then(|rest| rest.split("\n---").next()).unwrap_or("");
    let field = |key: &str| {
        front_matter.lines().find_map(|line| Some(line.strip_prefix(key)?.strip_prefix(':')?.trim().to_string()))
    };
    let name = field("name")
        .or_else(|| dir.file_name().map(|name| name.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "skill".into());
    Ok(Skill { name, description: field("description").unwrap_or_default(), source: dir.to_path_buf() })
}

/// Copies the files under `from` to `to`; links are not followed, so a skill cannot pull in
/// files from elsewhere.
fn copy_dir(from: &Path, to: &Path) -> Result<(), MemoryError> {
    std::fs::create_dir_all(to).map_err(io(to))?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let kind = entry.file_type().map_err(io(&entry.path()))?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target).map_err(io(&target))?;
        }
    }
    Ok(())
}

/// A unified diff of two texts, as git shows it.
fn unified_diff(old: &str, new: &str) -> String {
    let patch = git2::Patch::from_buffers(
        old.as_bytes(),
        Some(Path::new("memory")),
        new.as_bytes(),
        Some(Path::new("memory")),
        None,
    );
    patch
        .and_then(|mut patch| patch.to_buf())
        .map(|buf| String::from_utf8_lossy(&buf).into_owned())
        .unwrap_or_else(|_| format!("was:\n{old}\nis now:\n{new}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_restore_is_a_new_version_and_the_diff_shows_the_edit() {
        let dir = tempfile::tempdir().unwrap();
        let profile = AgentProfile {
            name: "helper".into(),
            agent: "scripted".into(),
            memory: Some(dir.path().join("seed.md").display().to_string()),
            ..Default::default()
        };
        std::fs::write(dir.path().join("seed.md"), "- one\n").unwrap();
        let memory = Memory::new(vec![profile], dir.path(), &MemoryStoreConfig::default()).unwrap();
        let session = Uuid::new_v4();
        let mut laid_out = memory.prepare(Some("helper"), session, "scripted").await.unwrap().unwrap();
        assert_eq!(std::fs::read_to_string(&laid_out.delivery.file).unwrap(), "- one\n");
        std::fs::write(&laid_out.delivery.file, "- one\n- two\n").unwrap();
        let saved = memory.harvest(&mut laid_out).await.unwrap().unwrap();
        assert_eq!(saved.version.version, 2);
        assert!(saved.diff.contains("+- two"), "{}", saved.diff);
        assert!(memory.harvest(&mut laid_out).await.unwrap().is_none(), "nothing new, nothing saved");
        let restored = memory.restore("helper", 1).await.unwrap();
        assert_eq!(restored.text, "- one\n");
        assert_eq!(restored.versions.len(), 3);
        assert!(matches!(memory.restore("helper", 9).await, Err(MemoryError::NoSuchVersion { .. })));
        assert!(matches!(memory.show("nobody").await, Err(MemoryError::NoMemory(_))));
    }

    #[tokio::test]
    async fn gemini_gets_the_skills_in_its_own_skills_directory_never_in_the_users_it_linked_before() {
        let dir = tempfile::tempdir().unwrap();
        let skill = dir.path().join("greeter");
        std::fs::create_dir_all(&skill).unwrap();
        std::fs::write(skill.join("SKILL.md"), "---\nname: greeter\ndescription: Greets\n---\n").unwrap();
        let profile = AgentProfile {
            name: "helper".into(),
            agent: crate::agents::acp::GEMINI_ID.into(),
            memory: Some(dir.path().join("seed.md").display().to_string()),
            skills: vec![skill.display().to_string()],
            ..Default::default()
        };
        let memory = Memory::new(vec![profile], dir.path(), &MemoryStoreConfig::default()).unwrap();
        let session = Uuid::new_v4();
        // A run of the session before the profile had skills linked the whole skills directory
        // to the user's own.
        let users = dir.path().join("user-skills");
        std::fs::create_dir_all(&users).unwrap();
        let private = dir.path().join("memory/sessions").join(session.to_string()).join("gemini-home/.gemini");
        std::fs::create_dir_all(&private).unwrap();
        std::os::unix::fs::symlink(&users, private.join("skills")).unwrap();

        let laid_out = memory.prepare(Some("helper"), session, "gemini").await.unwrap().unwrap();
        assert_eq!(laid_out.delivery.file, private.join("GEMINI.md"));
        assert!(private.join("skills/greeter/SKILL.md").is_file());
        assert_eq!(std::fs::read_dir(&users).unwrap().count(), 0, "the user's skills directory is untouched");
        let preamble = laid_out.delivery.preamble().unwrap();
        assert!(preamble.contains("read it already") && !preamble.contains("greeter"), "{preamble}");
    }
}
