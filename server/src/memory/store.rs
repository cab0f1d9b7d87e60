//! The versions of each profile's memory: `<profile>/<n>.md` for every version and
//! `<profile>/versions.json` listing them, under the data directory's `memory/profiles/` or in
//! an S3-compatible bucket (`bucket.rs`). Versions are only ever added, so a restore is a new
//! version with an old text and nothing saved is lost.

use std::path::PathBuf;

use arbor_protocol::MemoryVersion;
use uuid::Uuid;

use super::bucket::BucketObjects;
use super::{MemoryError, io};
use crate::clock::now_millis;

/// Where the store's objects are.
enum Objects {
    /// Files under a directory (created when first written).
    Dir(PathBuf),
    /// Objects in a bucket (boxed: its client and credentials dwarf a path).
    Bucket(Box<BucketObjects>),
}

impl Objects {
    /// How `key` is named in errors.
    fn describe(&self, key: &str) -> String {
        match self {
            Objects::Dir(root) => root.join(key).display().to_string(),
            Objects::Bucket(_) => key.to_string(),
        }
    }

    /// The object `key`, or None when there is none.
    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, MemoryError> {
        match self {
            Objects::Dir(root) => {
                let path = root.join(key);
                match std::fs::read(&path) {
                    Ok(bytes) => Ok(Some(bytes)),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(MemoryError::Io { path: path.display().to_string(), source }),
                }
            }
            Objects::Bucket(bucket) => bucket.read(key).await,
        }
    }

    /// Writes the object `key` whole.
    async fn write(&self, key: &str, bytes: Vec<u8>) -> Result<(), MemoryError> {
        match self {
            Objects::Dir(root) => {
                let path = root.join(key);
                let dir = path.parent().unwrap_or(root);
                std::fs::create_dir_all(dir).map_err(io(dir))?;
                // Written aside and renamed, so that a crash leaves the old file or the new one.
                let staged = path.with_extension("new");
                std::fs::write(&staged, bytes).map_err(io(&staged))?;
                std::fs::rename(&staged, &path).map_err(io(&path))
            }
            Objects::Bucket(bucket) => bucket.write(key, bytes).await,
        }
    }
}

/// A profile memory store.
pub struct MemoryStore {
    objects: Objects,
    /// Serialises writers, so that two sessions of one profile ending together both get a
    /// version of their own.
    writing: tokio::sync::Mutex<()>,
}

impl MemoryStore {
    /// A store of files in `root`.
    pub fn local(root: PathBuf) -> MemoryStore {
        MemoryStore { objects: Objects::Dir(root), writing: tokio::sync::Mutex::new(()) }
    }

    /// A store of objects in `bucket`.
    pub fn bucket(bucket: BucketObjects) -> MemoryStore {
        MemoryStore { objects: Objects::Bucket(Box::new(bucket)), writing: tokio::sync::Mutex::new(()) }
    }

    /// Every version of `profile`'s memory, oldest first.
    pub async fn versions(&self, profile: &str) -> Result<Vec<MemoryVersion>, MemoryError> {
        let index = format!("{profile}/versions.json");
        match self.objects.read(&index).await? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|error| MemoryError::Corrupt { path: self.objects.describe(&index), detail: error.to_string() }),
            None => Ok(Vec::new()),
        }
    }

    /// The text of `version`.
    pub async fn text(&self, profile: &str, version: u32) -> Result<String, MemoryError> {
        let key = format!("{profile}/{version}.md");
        let bytes = self
            .objects
            .read(&key)
            .await?
            .ok_or_else(|| MemoryError::NoSuchVersion { profile: profile.to_string(), version })?;
        String::from_utf8(bytes)
            .map_err(|error| MemoryError::Corrupt { path: self.objects.describe(&key), detail: error.to_string() })
    }

    /// The newest version's text, or None before the first save.
    pub async fn current(&self, profile: &str) -> Result<Option<String>, MemoryError> {
        match self.versions(profile).await?.last() {
            Some(last) => self.text(profile, last.version).await.map(Some),
            None => Ok(None),
        }
    }

    /// Saves `text` as the next version of `profile`'s memory and returns it. The text is
    /// written before the index that lists it, so a failure in between lists nothing missing.
    pub async fn save(
        &self,
        profile: &str,
        text: &str,
        session_id: Option<Uuid>,
        note: String,
    ) -> Result<MemoryVersion, MemoryError> {
        let _writing = self.writing.lock().await;
        let mut versions = self.versions(profile).await?;
        let version = MemoryVersion {
            version: versions.last().map_or(1, |last| last.version + 1),
            saved_at: now_millis(),
            session_id,
            note,
        };
        self.objects.write(&format!("{profile}/{}.md", version.version), text.as_bytes().to_vec()).await?;
        versions.push(version.clone());
        let listing = serde_json::to_vec_pretty(&versions).expect("versions serialise");
        self.objects.write(&format!("{profile}/versions.json"), listing).await?;
        Ok(version)
    }
}
