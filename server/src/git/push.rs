//! Pushing a session's branch to a remote of its repository, with the credentials git itself
//! would use: the ssh agent for ssh remotes; the git credential helper, then the forge's token
//! for its own host, for https remotes. A push the remote refuses changes nothing locally: the
//! remote-tracking branch and the upstream are only set once the remote has taken it.
//!
//! An ssh remote's host key is checked by libgit2 against `~/.ssh/known_hosts`, as `ssh` does
//! with `StrictHostKeyChecking yes`: no certificate callback is installed, so a host that is not
//! listed there, or whose key changed, refuses the push ([`host_key_refused`]) and nothing is
//! ever added to the file.

use std::path::Path;

use git2::{BranchType, CredentialType, Repository};

use super::GitError;

/// A token to offer for https remotes on one host (the forge's), as the password of the user
/// name the forge takes for every kind of token (GitHub's `x-access-token`, GitLab's `oauth2`).
#[derive(Clone)]
pub struct HostToken {
    /// The host the token belongs to, such as `github.com`.
    pub host: String,
    /// The user name to send with it.
    pub user: &'static str,
    /// The token itself; never put in a message.
    pub token: String,
}

/// A branch pushed.
#[derive(Debug, Clone, PartialEq)]
pub struct Pushed {
    /// The remote's name.
    pub remote: String,
    /// The remote's URL without credentials.
    pub remote_url: String,
    /// The commit the remote branch now points at.
    pub commit: String,
}

/// The remote a session's branch goes to: `named` when given, else the base branch's upstream
/// remote, else the repository's only remote, else `origin`.
pub fn choose_remote(repo: &Repository, base_branch: Option<&str>, named: Option<&str>) -> Result<String, GitError> {
    if let Some(name) = named {
        repo.find_remote(name).map_err(|_| GitError::NoSuchRemote(name.to_string()))?;
        return Ok(name.to_string());
    }
    if let Some(base) = base_branch
        && let Ok(remote) = repo.branch_upstream_remote(&format!("refs/heads/{base}"))
        && let Ok(name) = remote.as_str()
    {
        return Ok(name.to_string());
    }
    let remotes = repo.remotes()?;
    let names: Vec<&str> = remotes.iter().flatten().flatten().collect();
    match names.as_slice() {
        [] => Err(GitError::NoRemote),
        [only] => Ok(only.to_string()),
        several if several.contains(&"origin") => Ok("origin".to_string()),
        several => Err(GitError::AmbiguousRemote(several.join(", "))),
    }
}

/// The remote [`choose_remote`] picks and its URL as configured (which may hold credentials:
/// show it only through [`shown_url`]).
pub fn resolve_remote(
    repo_root: &Path,
    base_branch: Option<&str>,
    named: Option<&str>,
) -> Result<(String, String), GitError> {
    let repo = Repository::open(repo_root)?;
    let name = choose_remote(&repo, base_branch, named)?;
    let url = repo.find_remote(&name)?.url().unwrap_or_default().to_string();
    Ok((name, url))
}

/// `url` with any `user:password@` taken out; a lone user name (`git@`) is no secret and stays.
pub fn shown_url(url: &str) -> String {
    super::RepositoryUrl::parse(url).shown().to_string()
}

/// Pushes `branch` to the same name on `remote_name` and makes that the branch's upstream. A
/// rejection (not a fast-forward, refused by the remote, no credentials accepted) is
/// [`GitError::PushRejected`] and changes nothing locally.
pub fn push(repo_root: &Path, branch: &str, remote_name: &str, token: Option<HostToken>) -> Result<Pushed, GitError> {
    let repo = Repository::open(repo_root)?;
    let mut remote = repo.find_remote(remote_name).map_err(|_| GitError::NoSuchRemote(remote_name.to_string()))?;
    let url = remote.url().unwrap_or_default().to_string();
    let shown = shown_url(&url);
    let commit = repo.find_branch(branch, BranchType::Local)?.get().peel_to_commit()?.id().to_string();
    let config = repo.config()?;
    let secret = token.as_ref().map(|token| token.token.clone());
    let rejected = |reason: String| GitError::PushRejected {
        branch: branch.to_string(),
        remote: remote_name.to_string(),
        reason: redact(&reason, secret.as_deref()),
    };

    let mut refusal: Option<String> = None;
    let mut remote_said = String::new();
    let outcome = {
        let mut callbacks = git2::RemoteCallbacks::new();
        // What the remote's hooks print (`remote: …` in git) comes on the side band; it is the
        // only place a protected branch's refusal says why.
        callbacks.sideband_progress(|text| {
            remote_said.push_str(&String::from_utf8_lossy(text));
            true
        });
        let mut tried = Tried::default();
        callbacks
            .credentials(move |url, user_from_url, allowed| tried.next(&config, url, user_from_url, allowed, &token));
        callbacks.push_update_reference(|_reference, status| {
            if let Some(message) = status {
                refusal = Some(message.to_string());
            }
            Ok(())
        });
        let mut options = git2::PushOptions::new();
        options.remote_callbacks(callbacks);
        let refspec = format!("refs/heads/{branch}:refs/heads/{branch}");
        remote.push(&[refspec.as_str()], Some(&mut options))
    };
    if let Err(error) = outcome {
        let reason = match error.code() {
            git2::ErrorCode::NotFastForward => format!(
                "the remote's {branch} has commits this branch does not (not a fast-forward); \
                 nothing was pushed and nothing changed here"
            ),
            git2::ErrorCode::Auth => format!("no credentials were accepted for {shown}: {}", error.message()),
            git2::ErrorCode::Certificate => host_key_refused(&shown, error.message()),
            _ => error.message().to_string(),
        };
        return Err(rejected(with_remote_messages(reason, &remote_said)));
    }
    if let Some(reason) = refusal {
        return Err(rejected(with_remote_messages(format!("the remote refused it: {reason}"), &remote_said)));
    }
    repo.find_branch(branch, BranchType::Local)?.set_upstream(Some(&format!("{remote_name}/{branch}")))?;
    Ok(Pushed { remote: remote_name.to_string(), remote_url: shown, commit })
}

/// The message for a host whose key `~/.ssh/known_hosts` does not vouch for (https certificate
/// failures keep libgit2's own message, which names the TLS problem).
fn host_key_refused(shown: &str, message: &str) -> String {
    if !message.contains("hostkey") {
        return message.to_string();
    }
    format!(
        "the ssh host key of {shown} is not in ~/.ssh/known_hosts, or differs from the one there; \
         check the host's fingerprint and add it (connecting once with `ssh` asks) before pushing"
    )
}

/// `reason`, followed by what the remote printed (its hooks' `remote:` lines), without the
/// progress counters git prints on the same channel.
fn with_remote_messages(reason: String, remote_said: &str) -> String {
    let lines: Vec<&str> = remote_said
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.contains("% ("))
        .collect();
    if lines.is_empty() { reason } else { format!("{reason}; the remote said: {}", lines.join(" / ")) }
}

fn redact(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(secret) if !secret.is_empty() => text.replace(secret, "***"),
        _ => text.to_string(),
    }
}

/// The credentials offered so far. libgit2 asks again after each refusal; each source is
/// offered once, in the order git uses them, and then the push fails rather than asking for
/// ever.
#[derive(Default)]
struct Tried {
    agent: bool,
    helper: bool,
    token: bool,
    default: bool,
}

impl Tried {
    fn next(
        &mut self,
        config: &git2::Config,
        url: &str,
        user_from_url: Option<&str>,
        allowed: CredentialType,
        token: &Option<HostToken>,
    ) -> Result<git2::Cred, git2::Error> {
        if allowed.contains(CredentialType::USERNAME) {
            return git2::Cred::username(user_from_url.unwrap_or("git"));
        }
        if allowed.contains(CredentialType::SSH_KEY) && !std::mem::replace(&mut self.agent, true) {
            return git2::Cred::ssh_key_from_agent(user_from_url.unwrap_or("git"));
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if !std::mem::replace(&mut self.helper, true)
                && let Ok(cred) = git2::Cred::credential_helper(config, url, user_from_url)
            {
                return Ok(cred);
            }
            if let Some(token) = token
                && url_host(url) == Some(token.host.as_str())
                && !std::mem::replace(&mut self.token, true)
            {
                return git2::Cred::userpass_plaintext(token.user, &token.token);
            }
        }
        if allowed.contains(CredentialType::DEFAULT) && !std::mem::replace(&mut self.default, true) {
            return git2::Cred::default();
        }
        Err(git2::Error::new(
            git2::ErrorCode::Auth,
            git2::ErrorClass::Net,
            "no ssh agent key, credential helper or token was accepted",
        ))
    }
}

/// The host of a `scheme://[user@]host[:port]/…` URL.
pub fn url_host(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host = authority.rsplit('@').next()?;
    Some(host.split(':').next().unwrap_or(host))
}

#[cfg(test)]
mod tests {
    use super::{url_host, with_remote_messages};

    #[test]
    fn hosts_come_from_the_authority_only() {
        assert_eq!(url_host("https://github.com/acme/widgets.git"), Some("github.com"));
        assert_eq!(url_host("https://x-access-token:secret@ghe.example:8443/a/b"), Some("ghe.example"));
        assert_eq!(url_host("git@github.com:acme/widgets.git"), None);
    }

    #[test]
    fn the_remotes_words_follow_the_reason_without_progress() {
        let said = "Counting objects: 50% (1/2)\rCounting objects: 100% (2/2), done.\nGitLab: protected branch\n";
        assert_eq!(with_remote_messages("refused".into(), said), "refused; the remote said: GitLab: protected branch");
        assert_eq!(with_remote_messages("refused".into(), "\n"), "refused");
    }
}
