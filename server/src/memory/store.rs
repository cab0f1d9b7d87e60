//! The versions of each profile's memory, under the data directory: `memory/profiles/<profile>/`
//! holds `<n>.md` for every version and `versions.json` listing them. Versions are only ever
//! added, so a restore is a new version with an old text and nothing saved is lost.

use std::path::PathBuf;
use std::sync::Mutex;

use arbor_protocol::MemoryVersion;
use uuid::Uuid;

use super::{MemoryError, io};
use crate::clock::now_millis;

/// The local memory store.
pub struct MemoryStore {
    root: PathBuf,
    /// Serialises writers, so that two sessions of one profile ending together both get a
    /// version of their own.
    writing: Mutex<()>,
}

impl MemoryStore {
    /// A store in `root` (created when first written).
    pub fn new(root: PathBuf) -> MemoryStore {
        MemoryStore { root, writing: Mutex::new(()) }
    }

    fn dir(&self, profile: &str) -> PathBuf {
        self.root.join(profile)
    }

    /// Every version of `profile`'s memory, oldest first.
    pub fn versions(&self, profile: &str) -> Result<Vec<MemoryVersion>, MemoryError> {
        let index = self.dir(profile).join("versions.json");
        match std::fs::read(&index) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|error| MemoryError::Corrupt { path: index.display().to_string(), detail: error.to_string() }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(MemoryError::Io { path: index.display().to_string(), source }),
        }
    }

    /// The text of `version`.
    pub fn text(&self, profile: &str, version: u32) -> Result<String, MemoryError> {
        let path = self.dir(profile).join(format!("{version}.md"));
        std::fs::read_to_string(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => MemoryError::NoSuchVersion { profile: profile.to_string(), version },
            _ => MemoryError::Io { path: path.display().to_string(), source },
        })
    }

    /// The newest version's text, or None before the first save.
    pub fn current(&self, profile: &str) -> Result<Option<String>, MemoryError> {
        match self.versions(profile)?.last() {
            Some(last) => self.text(profile, last.version).map(Some),
            None => Ok(None),
        }
    }

    /// Saves `text` as the next version of `profile`'s memory and returns it.
    pub fn save(
        &self,
        profile: &str,
        text: &str,
        session_id: Option<Uuid>,
        note: String,
    ) -> Result<MemoryVersion, MemoryError> {
        let _writing = self.writing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let dir = self.dir(profile);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let mut versions = self.versions(profile)?;
        let version = MemoryVersion {
            version: versions.last().map_or(1, |last| last.version + 1),
            saved_at: now_millis(),
            session_id,
            note,
        };
        let file = dir.join(format!("{}.md", version.version));
        std::fs::write(&file, text).map_err(io(&file))?;
        versions.push(version.clone());
        // Written aside and renamed, so that a crash leaves the old index or the new one.
        let index = dir.join("versions.json");
        let staged = dir.join("versions.json.new");
        let listing = serde_json::to_vec_pretty(&versions).expect("versions serialise");
        std::fs::write(&staged, listing).map_err(io(&staged))?;
        std::fs::rename(&staged, &index).map_err(io(&index))?;
        Ok(version)
    }
}
