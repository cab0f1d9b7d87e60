//! GitHub's REST API (github.com, or GitHub Enterprise at its own API base URL): opening a pull
//! request, and reading it back with its reviews, review comments and check runs (through
//! [`Rest`], so every read is conditional and a rate limit is [`ForgeError::RateLimited`]).

use arbor_protocol::PullRequest;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::body::ReviewNote;
use super::rest::Rest;
use super::token::Secret;
use super::{ForgeError, ForgeKind, NewPull, pull};
use crate::clock::now_millis;

/// Lists are read one page of this many entries (GitHub's largest).
const PAGE: u32 = 100;

/// A GitHub API endpoint.
pub struct GitHub {
    rest: Rest,
}

impl GitHub {
    /// A client of the API at `api_url` (`https://api.github.com`, or `https://HOST/api/v3`).
    pub fn new(api_url: &str) -> Result<GitHub, ForgeError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/vnd.github+json"));
        headers.insert("X-GitHub-Api-Version", HeaderValue::from_static("2022-11-28"));
        Ok(GitHub { rest: Rest::new(ForgeKind::GitHub, api_url, headers)? })
    }

    /// The host whose git remotes and `gh` login the token belongs to: `github.com` for
    /// `api.github.com`, else the API's own host.
    pub fn web_host(&self) -> String {
        let host = crate::git::push::url_host(self.rest.api_url()).unwrap_or_default();
        host.strip_prefix("api.").filter(|_| host == "api.github.com").unwrap_or(host).to_string()
    }

    /// `POST /repos/{repository}/pulls`. A pull request that already exists for the branch is
    /// [`ForgeError::AlreadyExists`] with its address when GitHub can find it.
    pub async fn create_pull(&self, token: &Secret, pull: &NewPull<'_>) -> Result<PullRequest, ForgeError> {
        let body = json!({ "title": pull.title, "body": pull.body, "head": pull.head, "base": pull.base, "draft": pull.draft });
        let path = format!("/repos/{}/pulls", pull.repository);
        let created = match self.rest.post(token, &path, &body).await {
            Err(ForgeError::Rejected { status: 422, message, .. }) if message.contains("already exists") => {
                let url = self.find_open_pull(token, pull.repository, pull.head).await.ok().flatten();
                return Err(ForgeError::AlreadyExists { forge: ForgeKind::GitHub, branch: pull.head.to_string(), url });
            }
            other => other?,
        };
        let answers =
            pull::Answers { pull: &created, reviews: &Value::Null, comments: &Value::Null, checks: &Value::Null };
        pull::read(pull.repository, answers, now_millis())
    }

    /// The address of the open pull request whose head is `branch` in `repository`, if any.
    async fn find_open_pull(
        &self,
        token: &Secret,
        repository: &str,
        branch: &str,
    ) -> Result<Option<String>, ForgeError> {
        let owner = repository.split('/').next().unwrap_or_default();
        let path = format!("/repos/{repository}/pulls?state=open&head={owner}:{branch}");
        let pulls = self.rest.get(token, &path).await?;
        Ok(pulls
            .as_array()
            .and_then(|pulls| pulls.first())
            .and_then(|pull| pull["html_url"].as_str())
            .map(str::to_string))
    }

    /// The pull request as it is now: `GET /repos/{repository}/pulls/{number}`, its reviews and
    /// review comments, and the check runs of its head commit.
    pub async fn read(&self, token: &Secret, repository: &str, number: u64) -> Result<PullRequest, ForgeError> {
        let pull = self.rest.get(token, &format!("/repos/{repository}/pulls/{number}")).await?;
        let head = pull["head"]["sha"].as_str().unwrap_or_default().to_string();
        let reviews = self.reviews(token, repository, number).await?;
        let comments = self.review_comments(token, repository, number).await?;
        let checks =
            self.rest.get(token, &format!("/repos/{repository}/commits/{head}/check-runs?per_page={PAGE}")).await?;
        let answers = pull::Answers { pull: &pull, reviews: &reviews, comments: &comments, checks: &checks };
        pull::read(repository, answers, now_millis())
    }

    /// The pull request's reviews with text and its review comments, oldest first.
    pub async fn review_notes(
        &self,
        token: &Secret,
        repository: &str,
        number: u64,
    ) -> Result<Vec<ReviewNote>, ForgeError> {
        let reviews = self.reviews(token, repository, number).await?;
        let comments = self.review_comments(token, repository, number).await?;
        Ok(pull::review_notes(&reviews, &comments))
    }

    async fn reviews(&self, token: &Secret, repository: &str, number: u64) -> Result<Value, ForgeError> {
        self.rest.get(token, &format!("/repos/{repository}/pulls/{number}/reviews?per_page={PAGE}")).await
    }

    /// The comments on lines of the diff.
    async fn review_comments(&self, token: &Secret, repository: &str, number: u64) -> Result<Value, ForgeError> {
        self.rest.get(token, &format!("/repos/{repository}/pulls/{number}/comments?per_page={PAGE}")).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_web_host_of_github_com_is_not_its_api_host() {
        assert_eq!(GitHub::new("https://api.github.com").unwrap().web_host(), "github.com");
        assert_eq!(GitHub::new("https://ghe.example/api/v3/").unwrap().web_host(), "ghe.example");
    }
}
