//! The forge a session's branch goes to for review: GitHub (github.com or GitHub Enterprise).
//! `github.rs` is the REST client, `token.rs` finds the token, `pull.rs` reads GitHub's answers
//! into the session's `pullRequest` and says what changed, `body.rs` writes the pull request's
//! body and the review prompt. The service (`service/forge.rs`) pushes, opens and follows pull
//! requests with these.

pub mod body;
pub mod github;
pub mod pull;
pub mod token;

use std::sync::Mutex;

use crate::config::GithubConfig;
pub use github::GitHub;
pub use token::{Secret, TokenSource};

/// Why a request to the forge failed. No variant holds a token.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// No token was found anywhere Arbor looks.
    #[error(
        "no GitHub token: set github.token in the config file, GH_TOKEN or GITHUB_TOKEN, or log in with `gh auth login`"
    )]
    NoToken,
    /// GitHub refused the token (401).
    #[error(
        "GitHub refused the token (401 {0}); check github.token in the config file, GH_TOKEN, GITHUB_TOKEN or `gh auth login`"
    )]
    Unauthorized(String),
    /// A rate limit: GitHub asks to wait.
    #[error("GitHub's rate limit is reached; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// GitHub refused the request for another reason (403): a token without the right scope,
    /// a repository it cannot write to.
    #[error("GitHub refused the request (403 {0}); the token may lack access to the repository")]
    Forbidden(String),
    /// The repository or pull request is not there for this token (404).
    #[error("GitHub has no such repository or pull request for this token (404 {0})")]
    NotFound(String),
    /// A pull request for the branch is already open.
    #[error("a pull request for {branch} already exists{}", url.as_ref().map(|url| format!(": {url}")).unwrap_or_default())]
    AlreadyExists { branch: String, url: Option<String> },
    /// Any other refusal (a 422 naming what is wrong, a 5xx).
    #[error("GitHub refused the request ({status} {message})")]
    Rejected { status: u16, message: String },
    /// GitHub could not be reached.
    #[error("could not reach GitHub at {api}: {message}")]
    Unreachable { api: String, message: String },
    /// The answer was not what the API documents.
    #[error("GitHub's answer could not be read: {0}")]
    Unexpected(String),
    /// The repository on the forge cannot be told from the remote.
    #[error("cannot tell the GitHub repository from the remote URL {0}; pass repository (owner/name)")]
    UnknownRepository(String),
}

/// The forge as the service uses it: the client and where its token comes from.
pub struct Forge {
    /// The GitHub API client.
    pub github: GitHub,
    configured_token: Option<Secret>,
    /// The token found last, kept until GitHub refuses it.
    found: Mutex<Option<(Secret, TokenSource)>>,
}

impl Forge {
    /// The forge from the config file's `github` section.
    pub fn new(config: &GithubConfig) -> Result<Forge, ForgeError> {
        Ok(Forge {
            github: GitHub::new(&config.api_url)?,
            configured_token: config.token.clone(),
            found: Mutex::default(),
        })
    }

    /// The token to use, looked for once and kept until [`Forge::forget_token`].
    pub async fn token(&self) -> Result<(Secret, TokenSource), ForgeError> {
        if let Some(found) = self.found.lock().expect("token poisoned").clone() {
            return Ok(found);
        }
        let found =
            token::find(self.configured_token.as_ref(), &self.github.web_host()).await.ok_or(ForgeError::NoToken)?;
        *self.found.lock().expect("token poisoned") = Some(found.clone());
        Ok(found)
    }

    /// Drops the kept token after GitHub refused it, so the next request looks again.
    pub fn forget_token(&self) {
        self.found.lock().expect("token poisoned").take();
    }
}

/// `owner/name` from a remote URL: its last two path parts without `.git`
/// (`git@github.com:acme/widgets.git`, `https://github.com/acme/widgets`).
pub fn repository_from_url(url: &str) -> Option<String> {
    let path = match url.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/')?..],
        None => url.split_once(':').map_or(url, |(_, path)| path),
    };
    let mut parts = path.trim_end_matches('/').trim_end_matches(".git").rsplit('/').filter(|part| !part.is_empty());
    let name = parts.next()?;
    let owner = parts.next()?;
    Some(format!("{owner}/{name}"))
}

/// Checks a repository given as `owner/name`.
pub fn valid_repository(repository: &str) -> bool {
    let mut parts = repository.split('/');
    let well_formed = |part: Option<&str>| {
        part.is_some_and(|part| {
            !matches!(part, "" | "." | "..")
                && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
    };
    well_formed(parts.next()) && well_formed(parts.next()) && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_come_from_the_remote_url() {
        assert_eq!(repository_from_url("git@github.com:acme/widgets.git").as_deref(), Some("acme/widgets"));
        assert_eq!(repository_from_url("https://github.com/acme/widgets").as_deref(), Some("acme/widgets"));
        assert_eq!(repository_from_url("ssh://git@ghe.example:22/acme/widgets.git/").as_deref(), Some("acme/widgets"));
        assert_eq!(repository_from_url("https://github.com/widgets"), None);
        assert!(valid_repository("acme/widgets.rs") && !valid_repository("acme/../x/y") && !valid_repository("acme"));
    }
}
