//! The forges a session's branch goes to for review: GitHub (github.com or GitHub Enterprise),
//! where it is a pull request, and GitLab (gitlab.com or a self-hosted server), where it is a
//! merge request; both are a [`PullRequest`] on the session. `rest.rs` is the transport both
//! share (reqwest), `github.rs` and `gitlab.rs` their REST clients, `token.rs` finds their
//! tokens, `pull.rs` and `merge_request.rs` read their answers (`pull.rs` also says what changed
//! between two reads), `body.rs` writes the body and the review prompt. The service
//! (`service/forge.rs`) pushes, opens and follows them through [`Forge`].

pub mod body;
pub mod github;
pub mod gitlab;
pub mod merge_request;
pub mod pull;
pub mod rest;
pub mod token;

use std::sync::Mutex;

use arbor_protocol::PullRequest;
use serde::Deserialize;

use crate::config::Config;
use crate::git::push::HostToken;
pub use body::ReviewNote;
pub use github::GitHub;
pub use gitlab::GitLab;
pub use token::{Secret, TokenSource};

/// Which forge a repository is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    /// GitHub: pull requests.
    GitHub,
    /// GitLab: merge requests.
    GitLab,
}

impl ForgeKind {
    /// The name in `pullRequest.forge` and in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GitHub => "github",
            Self::GitLab => "gitlab",
        }
    }

    /// The kind a recorded `pullRequest.forge` names (GitHub for anything else: records made
    /// before GitLab was supported say `github`).
    pub fn named(name: &str) -> ForgeKind {
        if name == "gitlab" { Self::GitLab } else { Self::GitHub }
    }

    /// Where a user puts the token, for messages.
    fn token_places(self) -> &'static str {
        match self {
            Self::GitHub => "github.token in the config file, GH_TOKEN or GITHUB_TOKEN, or `gh auth login`",
            Self::GitLab => "gitlab.token in the config file or GITLAB_TOKEN, or `glab auth login`",
        }
    }

    /// What the forge calls a request to merge a branch.
    pub fn noun(self) -> &'static str {
        match self {
            Self::GitHub => "pull request",
            Self::GitLab => "merge request",
        }
    }

    /// "pull request #12" or "merge request !12".
    pub fn reference(self, number: u64) -> String {
        let sign = if self == Self::GitLab { '!' } else { '#' };
        format!("{} {sign}{number}", self.noun())
    }
}

impl std::fmt::Display for ForgeKind {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Self::GitHub => "GitHub",
            Self::GitLab => "GitLab",
        })
    }
}

/// Why a request to the forge failed. No variant holds a token.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// No token was found anywhere Arbor looks.
    #[error("no {forge} token: set {}", forge.token_places())]
    NoToken { forge: ForgeKind },
    /// The forge refused the token (401).
    #[error("{forge} refused the token (401 {message}); check {}", forge.token_places())]
    Unauthorized { forge: ForgeKind, message: String },
    /// A rate limit: the forge asks to wait.
    #[error("{forge}'s rate limit is reached; try again in {retry_after_secs} s")]
    RateLimited { forge: ForgeKind, retry_after_secs: u64 },
    /// The forge refused the request for another reason (403): a token without the right scope,
    /// a repository it cannot write to.
    #[error("{forge} refused the request (403 {message}); the token may lack access to the repository")]
    Forbidden { forge: ForgeKind, message: String },
    /// The repository or pull request is not there for this token (404).
    #[error("{forge} has no such repository or {} for this token (404 {message})", forge.noun())]
    NotFound { forge: ForgeKind, message: String },
    /// A pull (merge) request for the branch is already open.
    #[error("a {} for {branch} already exists{}", forge.noun(), url.as_ref().map(|url| format!(": {url}")).unwrap_or_default())]
    AlreadyExists { forge: ForgeKind, branch: String, url: Option<String> },
    /// Any other refusal (a 422 naming what is wrong, a 5xx).
    #[error("{forge} refused the request ({status} {message})")]
    Rejected { forge: ForgeKind, status: u16, message: String },
    /// The forge could not be reached.
    #[error("could not reach {forge} at {api}: {message}")]
    Unreachable { forge: ForgeKind, api: String, message: String },
    /// The answer lacks what the API documents.
    #[error("{forge}'s answer could not be read: it has no {what}")]
    Unexpected { forge: ForgeKind, what: String },
    /// The repository on the forge cannot be told from the remote.
    #[error("cannot tell the {forge} repository from the remote URL {url}; pass repository (owner/name)")]
    UnknownRepository { forge: ForgeKind, url: String },
}

/// What opening a pull (merge) request sends.
pub struct NewPull<'a> {
    /// `owner/name` (GitLab: the project's path, `group/name`).
    pub repository: &'a str,
    /// The title.
    pub title: &'a str,
    /// The body (Markdown).
    pub body: &'a str,
    /// The branch to merge.
    pub head: &'a str,
    /// The branch to merge into.
    pub base: &'a str,
    /// Open it as a draft.
    pub draft: bool,
}

/// A forge's token as configured, and the one found last, kept until the forge refuses it.
struct Account {
    kind: ForgeKind,
    configured: Option<Secret>,
    found: Mutex<Option<(Secret, TokenSource)>>,
}

impl Account {
    fn new(kind: ForgeKind, configured: Option<Secret>) -> Account {
        Account { kind, configured, found: Mutex::default() }
    }

    async fn token(&self, host: &str) -> Result<Secret, ForgeError> {
        if let Some((token, _)) = self.found.lock().expect("token poisoned").clone() {
            return Ok(token);
        }
        let found = token::find(self.kind, self.configured.as_ref(), host)
            .await
            .ok_or(ForgeError::NoToken { forge: self.kind })?;
        *self.found.lock().expect("token poisoned") = Some(found.clone());
        Ok(found.0)
    }

    /// `answer`, dropping the kept token when the forge refused it, so that the next request
    /// looks for one again.
    fn checked<T>(&self, answer: Result<T, ForgeError>) -> Result<T, ForgeError> {
        if matches!(answer, Err(ForgeError::Unauthorized { .. })) {
            self.found.lock().expect("token poisoned").take();
        }
        answer
    }
}

/// The forges as the service uses them: which one a remote is on, and its requests with its
/// token.
pub struct Forge {
    /// `forge` in the config file: every remote is on it.
    chosen: Option<ForgeKind>,
    github: GitHub,
    gitlab: GitLab,
    github_account: Account,
    gitlab_account: Account,
}

impl Forge {
    /// The forges from the config file's `forge`, `github` and `gitlab` settings.
    pub fn new(config: &Config) -> Result<Forge, ForgeError> {
        Ok(Forge {
            chosen: config.forge,
            github: GitHub::new(&config.github.api_url)?,
            gitlab: GitLab::new(&config.gitlab.api_url)?,
            github_account: Account::new(ForgeKind::GitHub, config.github.token.clone()),
            gitlab_account: Account::new(ForgeKind::GitLab, config.gitlab.token.clone()),
        })
    }

    /// The forge a remote is on: the configured `forge`, else GitLab when the remote's host is
    /// the GitLab API's host or is named `gitlab…`, else GitHub.
    pub fn kind_of(&self, remote_url: &str) -> ForgeKind {
        if let Some(kind) = self.chosen {
            return kind;
        }
        match remote_host(remote_url) {
            Some(host) if host == self.gitlab.web_host() || host.starts_with("gitlab.") => ForgeKind::GitLab,
            _ => ForgeKind::GitHub,
        }
    }

    fn account(&self, kind: ForgeKind) -> (&Account, String) {
        match kind {
            ForgeKind::GitHub => (&self.github_account, self.github.web_host()),
            ForgeKind::GitLab => (&self.gitlab_account, self.gitlab.web_host()),
        }
    }

    /// The token for `kind`, found once and kept until the forge refuses it.
    pub async fn token(&self, kind: ForgeKind) -> Result<Secret, ForgeError> {
        let (account, host) = self.account(kind);
        account.token(&host).await
    }

    /// The token to offer when pushing to `remote_url`: only to a forge's own host, over https,
    /// as the password of the user name that forge takes for tokens.
    pub async fn push_token(&self, remote_url: &str) -> Option<HostToken> {
        let kind = self.kind_of(remote_url);
        let (account, host) = self.account(kind);
        let remote = crate::git::push::url_host(remote_url)?;
        if remote != host || !remote_url.starts_with("https://") {
            return None;
        }
        let user = match kind {
            ForgeKind::GitHub => "x-access-token",
            ForgeKind::GitLab => "oauth2",
        };
        let token = account.token(&host).await.ok()?;
        Some(HostToken { host, user, token: token.expose().to_string() })
    }

    /// Opens a pull request on `kind` (a merge request on GitLab).
    pub async fn open(&self, kind: ForgeKind, pull: &NewPull<'_>) -> Result<PullRequest, ForgeError> {
        let (account, host) = self.account(kind);
        let token = account.token(&host).await?;
        account.checked(match kind {
            ForgeKind::GitHub => self.github.create_pull(&token, pull).await,
            ForgeKind::GitLab => self.gitlab.create_merge_request(&token, pull).await,
        })
    }

    /// `pull` as it is on its forge now.
    pub async fn read(&self, pull: &PullRequest) -> Result<PullRequest, ForgeError> {
        let kind = ForgeKind::named(&pull.forge);
        let (account, host) = self.account(kind);
        let token = account.token(&host).await?;
        account.checked(match kind {
            ForgeKind::GitHub => self.github.read(&token, &pull.repository, pull.number).await,
            ForgeKind::GitLab => self.gitlab.read(&token, &pull.repository, pull.number).await,
        })
    }

    /// The reviews and comments on `pull`, as notes for the agent.
    pub async fn review_notes(&self, pull: &PullRequest) -> Result<Vec<ReviewNote>, ForgeError> {
        let kind = ForgeKind::named(&pull.forge);
        let (account, host) = self.account(kind);
        let token = account.token(&host).await?;
        account.checked(match kind {
            ForgeKind::GitHub => self.github.review_notes(&token, &pull.repository, pull.number).await,
            ForgeKind::GitLab => self.gitlab.review_notes(&token, &pull.repository, pull.number).await,
        })
    }
}

/// The host of a remote URL, `scheme://…` or scp-like `user@host:path`.
fn remote_host(url: &str) -> Option<&str> {
    if url.contains("://") {
        return crate::git::push::url_host(url);
    }
    let (authority, _) = url.split_once(':')?;
    Some(authority.rsplit('@').next().unwrap_or(authority))
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

/// Checks a repository given as `owner/name`; on GitLab also `group/subgroup/…/name`.
pub fn valid_repository(kind: ForgeKind, repository: &str) -> bool {
    let parts: Vec<&str> = repository.split('/').collect();
    let well_formed = |part: &&str| {
        !matches!(*part, "" | "." | "..")
            && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    let counted = match kind {
        ForgeKind::GitHub => parts.len() == 2,
        ForgeKind::GitLab => parts.len() >= 2,
    };
    counted && parts.iter().all(well_formed)
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
        assert!(valid_repository(ForgeKind::GitHub, "acme/widgets.rs"));
        assert!(!valid_repository(ForgeKind::GitHub, "acme/../x/y") && !valid_repository(ForgeKind::GitHub, "acme"));
        assert!(valid_repository(ForgeKind::GitLab, "acme/tools/widgets") && !valid_repository(ForgeKind::GitLab, "a/../b"));
        assert!(!valid_repository(ForgeKind::GitHub, "acme/tools/widgets"));
    }

    #[test]
    fn the_forge_is_told_from_the_remote_unless_configured() {
        let forge = Forge::new(&Config::default()).unwrap();
        assert_eq!(forge.kind_of("git@gitlab.com:acme/widgets.git"), ForgeKind::GitLab);
        assert_eq!(forge.kind_of("https://gitlab.example.org/acme/widgets.git"), ForgeKind::GitLab);
        assert_eq!(forge.kind_of("https://github.com/acme/widgets.git"), ForgeKind::GitHub);
        assert_eq!(forge.kind_of("file:///srv/git/widgets.git"), ForgeKind::GitHub);
        let mut config = Config::default();
        config.gitlab.api_url = "https://code.example/api/v4".into();
        assert_eq!(Forge::new(&config).unwrap().kind_of("ssh://git@code.example/acme/w.git"), ForgeKind::GitLab);
        config.forge = Some(ForgeKind::GitLab);
        assert_eq!(Forge::new(&config).unwrap().kind_of("file:///srv/git/widgets.git"), ForgeKind::GitLab);
    }
}
