//! The forge token: from the config file, `GH_TOKEN`, `GITHUB_TOKEN`, or `gh auth token` when the
//! GitHub CLI is installed and logged in, in that order. A [`Secret`] never shows its value in
//! `Debug` output, so no log line or error built from a value that holds one can carry it.

use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;

/// A token (or any credential) that prints as `***`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that sends it (an `Authorization` header, a credential
    /// callback).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("***")
    }
}

/// Where a token was found, for messages (never the token itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `github.token` in the config file.
    Config,
    /// The `GH_TOKEN` variable.
    GhToken,
    /// The `GITHUB_TOKEN` variable.
    GithubToken,
    /// `gh auth token`.
    GhCli,
}

impl TokenSource {
    /// How a user would name it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Config => "github.token in the config file",
            Self::GhToken => "GH_TOKEN",
            Self::GithubToken => "GITHUB_TOKEN",
            Self::GhCli => "the GitHub CLI's login (gh auth token)",
        }
    }
}

/// The GitHub CLI is given this long to print its token.
const GH_TIMEOUT: Duration = Duration::from_secs(10);

/// Finds a token for `host` (`github.com`, or a GitHub Enterprise host).
pub async fn find(configured: Option<&Secret>, host: &str) -> Option<(Secret, TokenSource)> {
    if let Some(token) = configured.filter(|token| !token.0.trim().is_empty()) {
        return Some((token.clone(), TokenSource::Config));
    }
    for (name, source) in [("GH_TOKEN", TokenSource::GhToken), ("GITHUB_TOKEN", TokenSource::GithubToken)] {
        if let Ok(value) = std::env::var(name)
            && !value.trim().is_empty()
        {
            return Some((Secret::new(value.trim()), source));
        }
    }
    from_gh_cli(host).await.map(|token| (token, TokenSource::GhCli))
}

/// `gh auth token --hostname HOST`; None when gh is missing, not logged in or slow.
async fn from_gh_cli(host: &str) -> Option<Secret> {
    let mut command = tokio::process::Command::new("gh");
    command
        .args(["auth", "token", "--hostname", host])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(GH_TIMEOUT, command.output()).await.ok()?.ok()?;
    let token = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !token.trim().is_empty()).then(|| Secret::new(token.trim()))
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn a_secret_never_prints() {
        let secret = Secret::new("ghp_do_not_show");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some(***)");
        assert_eq!(secret.expose(), "ghp_do_not_show");
    }
}
