//! The access token of the network listener: 256 random bits, hex-encoded, in a 0600 file in the
//! runtime directory. It never appears in argv, logs or agents' environments; the daemon reads it
//! from the file at start-up and again when told it was rotated (SIGUSR1).

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use subtle::ConstantTimeEq;

/// Random bytes in a token (256 bits).
const TOKEN_BYTES: usize = 32;

/// Why the token could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file could not be read, created or replaced.
    #[error("cannot use the token file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// The file is readable by others, or is not a plain file of ours.
    #[error("refusing the token file {path}: {why}")]
    Unsafe { path: String, why: String },
    /// The file (or the environment) does not hold a token.
    #[error("{path} does not hold an Arbor token (expected {expected} hex digits)")]
    Malformed { path: String, expected: usize },
    /// The system's random source failed.
    #[error("cannot generate a token: {0}")]
    Random(getrandom::Error),
}

/// A secret compared in constant time and never printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// A new random secret of 256 bits, as 64 hex digits.
    pub fn generate() -> Result<Secret, TokenError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes).map_err(TokenError::Random)?;
        Ok(Secret(bytes.iter().map(|byte| format!("{byte:02x}")).collect()))
    }

    /// A secret given as text (from the environment), checked for the shape of a token.
    pub fn from_text(text: &str) -> Result<Secret, TokenError> {
        if !Secret::is_well_formed(text) {
            return Err(TokenError::Malformed { path: "the environment".into(), expected: TOKEN_BYTES * 2 });
        }
        Ok(Secret(text.to_string()))
    }

    /// Whether `candidate` is this secret, in time that does not depend on where they differ.
    pub fn matches(&self, candidate: &str) -> bool {
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }

    /// The secret's text, for the file and the places that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn is_well_formed(text: &str) -> bool {
        text.len() == TOKEN_BYTES * 2 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Secret(…)")
    }
}

/// The token file in `runtime_dir`.
pub fn token_file(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join("token")
}

/// Reads the token in `path`, refusing a file others could read or one that is not ours.
pub fn read(path: &Path) -> Result<Secret, TokenError> {
    let shown = path.display().to_string();
    let metadata = std::fs::symlink_metadata(path).map_err(|source| TokenError::Io { path: shown.clone(), source })?;
    let refuse = |why: &str| Err(TokenError::Unsafe { path: shown.clone(), why: why.into() });
    if !metadata.is_file() {
        return refuse("it is not a regular file");
    }
    // SAFETY: getuid(2) cannot fail and touches no memory.
    if metadata.uid() != unsafe { libc::getuid() } {
        return refuse("it belongs to another user");
    }
    if metadata.mode() & 0o077 != 0 {
        return refuse("other users can read it (expected mode 600)");
    }
    let text = std::fs::read_to_string(path).map_err(|source| TokenError::Io { path: shown.clone(), source })?;
    let text = text.trim();
    if !Secret::is_well_formed(text) {
        return Err(TokenError::Malformed { path: shown, expected: TOKEN_BYTES * 2 });
    }
    Ok(Secret(text.to_string()))
}

/// Reads the token in `path`, creating one first when there is none.
pub fn read_or_create(path: &Path) -> Result<Secret, TokenError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => read(path),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => rotate(path),
        Err(source) => Err(TokenError::Io { path: path.display().to_string(), source }),
    }
}

/// Replaces the token in `path` with a new one (written to a private temporary file, then
/// renamed over the old one, so no reader ever sees half a token).
pub fn rotate(path: &Path) -> Result<Secret, TokenError> {
    let secret = Secret::generate()?;
    let io = |source| TokenError::Io { path: path.display().to_string(), source };
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temporary).map_err(io)?;
    std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    file.write_all(secret.expose().as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_matches_only_itself_and_is_never_printed() {
        let secret = Secret::generate().unwrap();
        assert_eq!(secret.expose().len(), 64);
        assert!(secret.matches(secret.expose()));
        assert!(!secret.matches(&secret.expose()[..63]));
        assert!(!secret.matches(""));
        assert_eq!(format!("{secret:?}"), "Secret(…)");
    }

    #[test]
    fn the_file_is_owner_only_and_a_readable_one_is_refused() {
        let dir = std::env::temp_dir().join(format!("arbor-token-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = token_file(&dir);
        let created = read_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert!(read(&path).unwrap().matches(created.expose()));
        let rotated = rotate(&path).unwrap();
        assert!(!rotated.matches(created.expose()));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(read(&path), Err(TokenError::Unsafe { .. })));
        std::fs::write(&path, "short").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(read(&path), Err(TokenError::Malformed { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
