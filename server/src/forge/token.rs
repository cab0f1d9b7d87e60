//! The forge token. GitHub's: from the config file, `GH_TOKEN`, `GITHUB_TOKEN`, or `gh auth token`
//! when the GitHub CLI is installed and logged in, in that order. GitLab's: from the config
//! file, `GITLAB_TOKEN`, or the GitLab CLI's login (`glab config get token --host HOST`: glab has
//! no `auth token` command), in that order. A [`Secret`] never shows its value in
//! `Debug` output, so no log line or error built from a value that holds one can carry it.

use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;

use super::ForgeKind;

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
    /// `github.token` or `gitlab.token` in the config file.
    Config,
    /// The `GH_TOKEN` variable.
    GhToken,
    /// The `GITHUB_TOKEN` variable.
    GithubToken,
    /// `gh auth token`.
    GhCli,
    /// The `GITLAB_TOKEN` variable.
    GitlabToken,
    /// The GitLab CLI's login.
    GlabCli,
}

impl TokenSource {
    /// How a user would name it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Config => "the token in the config file",
            Self::GhToken => "GH_TOKEN",
            Self::GithubToken => "GITHUB_TOKEN",
            Self::GhCli => "the GitHub CLI's login (gh auth token)",
            Self::GitlabToken => "GITLAB_TOKEN",
            Self::GlabCli => "the GitLab CLI's login (glab config get token)",
        }
    }
}

/// The forge's CLI is given this long to print its token.
const CLI_TIMEOUT: Duration = Duration::from_secs(10);

/// Finds a token for `kind` on `host` (`github.com`, a GitHub Enterprise host, `gitlab.com`, a
/// self-hosted GitLab).
pub async fn find(kind: ForgeKind, configured: Option<&Secret>, host: &str) -> Option<(Secret, TokenSource)> {
    if let Some(token) = configured.filter(|token| !token.0.trim().is_empty()) {
        return Some((token.clone(), TokenSource::Config));
    }
    let (variables, cli, source): (&[(&str, TokenSource)], &[&str], TokenSource) = match kind {
        ForgeKind::GitHub => (
            &[("GH_TOKEN", TokenSource::GhToken), ("GITHUB_TOKEN", TokenSource::GithubToken)],
            &["gh", "auth", "token", "--hostname"],
            TokenSource::GhCli,
        ),
        ForgeKind::GitLab => (
            &[("GITLAB_TOKEN", TokenSource::GitlabToken)],
            &["glab", "config", "get", "token", "--host"],
            TokenSource::GlabCli,
        ),
    };
    for (name, source) in variables {
        if let Ok(value) = std::env::var(name)
            && !value.trim().is_empty()
        {
            return Some((Secret::new(value.trim()), *source));
        }
    }
    from_cli(cli, host).await.map(|token| (token, source))
}

/// What `PROGRAM ARGS… HOST` prints (`cli` ends with the CLI's host flag); None when the CLI is
/// missing, not logged in or slow.
async fn from_cli(cli: &[&str], host: &str) -> Option<Secret> {
    let mut command = tokio::process::Command::new(cli[0]);
    command
        .args(&cli[1..])
        .arg(host)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(CLI_TIMEOUT, command.output()).await.ok()?.ok()?;
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
