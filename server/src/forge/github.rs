//! GitHub's REST API (github.com, or GitHub Enterprise at its own API base URL) through reqwest:
//! opening a pull request, and reading it back with its reviews, review comments and check runs.
//! Reads are conditional (`If-None-Match` with the last `ETag`), so an unchanged pull request
//! costs no rate limit; a rate limit becomes [`ForgeError::RateLimited`] with the wait GitHub
//! asks for (`Retry-After`, else the reset time).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{ACCEPT, ETAG, HeaderMap, IF_NONE_MATCH, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::ForgeError;
use super::token::Secret;

/// A request to GitHub gives up after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The wait assumed when GitHub says it is rate limited without saying for how long.
const DEFAULT_RATE_LIMIT_WAIT: u64 = 60;
/// Lists are read one page of this many entries (GitHub's largest).
const PAGE: u32 = 100;

/// A GitHub API endpoint.
pub struct GitHub {
    http: reqwest::Client,
    api_url: String,
    /// The last answer to each URL read, by URL, with its `ETag`.
    cache: Mutex<HashMap<String, Cached>>,
}

struct Cached {
    etag: String,
    body: Value,
}

/// What `create_pull` sends.
pub struct NewPull<'a> {
    /// `owner/name`.
    pub repository: &'a str,
    /// The pull request's title.
    pub title: &'a str,
    /// Its body (Markdown).
    pub body: &'a str,
    /// The branch to merge.
    pub head: &'a str,
    /// The branch to merge into.
    pub base: &'a str,
    /// Open it as a draft.
    pub draft: bool,
}

impl GitHub {
    /// A client of the API at `api_url` (`https://api.github.com`, or `https://HOST/api/v3`).
    pub fn new(api_url: &str) -> Result<GitHub, ForgeError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("arbor/", env!("CARGO_PKG_VERSION")))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|error| ForgeError::Unreachable { api: api_url.to_string(), message: error.to_string() })?;
        Ok(GitHub { http, api_url: api_url.trim_end_matches('/').to_string(), cache: Mutex::default() })
    }

    /// The API's base URL.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The host whose git remotes and `gh` login the token belongs to: `github.com` for
    /// `api.github.com`, else the API's own host.
    pub fn web_host(&self) -> String {
        let host = crate::git::push::url_host(&self.api_url).unwrap_or_default();
        host.strip_prefix("api.").filter(|_| host == "api.github.com").unwrap_or(host).to_string()
    }

    /// `POST /repos/{repository}/pulls`. A pull request that already exists for the branch is
    /// [`ForgeError::AlreadyExists`] with its address when GitHub can find it.
    pub async fn create_pull(&self, token: &Secret, pull: NewPull<'_>) -> Result<Value, ForgeError> {
        let body = json!({ "title": pull.title, "body": pull.body, "head": pull.head, "base": pull.base, "draft": pull.draft });
        let path = format!("/repos/{}/pulls", pull.repository);
        match self.send(token, Method::POST, &path, Some(body)).await {
            Err(ForgeError::Rejected { status: 422, message }) if message.contains("already exists") => {
                let url = self.find_open_pull(token, pull.repository, pull.head).await.ok().flatten();
                Err(ForgeError::AlreadyExists { branch: pull.head.to_string(), url })
            }
            other => other,
        }
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
        let pulls = self.get(token, &path).await?;
        Ok(pulls
            .as_array()
            .and_then(|pulls| pulls.first())
            .and_then(|pull| pull["html_url"].as_str())
            .map(str::to_string))
    }

    /// `GET /repos/{repository}/pulls/{number}`.
    pub async fn pull(&self, token: &Secret, repository: &str, number: u64) -> Result<Value, ForgeError> {
        self.get(token, &format!("/repos/{repository}/pulls/{number}")).await
    }

    /// The pull request's reviews, oldest first.
    pub async fn reviews(&self, token: &Secret, repository: &str, number: u64) -> Result<Value, ForgeError> {
        self.get(token, &format!("/repos/{repository}/pulls/{number}/reviews?per_page={PAGE}")).await
    }

    /// The pull request's review comments (those on lines of the diff), oldest first.
    pub async fn review_comments(&self, token: &Secret, repository: &str, number: u64) -> Result<Value, ForgeError> {
        self.get(token, &format!("/repos/{repository}/pulls/{number}/comments?per_page={PAGE}")).await
    }

    /// The check runs on `commit`.
    pub async fn check_runs(&self, token: &Secret, repository: &str, commit: &str) -> Result<Value, ForgeError> {
        self.get(token, &format!("/repos/{repository}/commits/{commit}/check-runs?per_page={PAGE}")).await
    }

    /// A conditional GET: with the last `ETag` of the URL, a `304 Not Modified` gives back the
    /// last answer without counting against the rate limit.
    async fn get(&self, token: &Secret, path: &str) -> Result<Value, ForgeError> {
        let url = format!("{}{path}", self.api_url);
        let etag = self.cache.lock().expect("cache poisoned").get(&url).map(|cached| cached.etag.clone());
        let mut request = self.request(token, Method::GET, &url);
        if let Some(etag) = etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let response = request.send().await.map_err(|error| self.unreachable(error))?;
        if response.status() == StatusCode::NOT_MODIFIED
            && let Some(cached) = self.cache.lock().expect("cache poisoned").get(&url)
        {
            return Ok(cached.body.clone());
        }
        let etag = response.headers().get(ETAG).and_then(|value| value.to_str().ok()).map(str::to_string);
        let body = self.answer(response).await?;
        if let Some(etag) = etag {
            self.cache.lock().expect("cache poisoned").insert(url, Cached { etag, body: body.clone() });
        }
        Ok(body)
    }

    async fn send(&self, token: &Secret, method: Method, path: &str, body: Option<Value>) -> Result<Value, ForgeError> {
        let url = format!("{}{path}", self.api_url);
        let mut request = self.request(token, method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|error| self.unreachable(error))?;
        self.answer(response).await
    }

    fn request(&self, token: &Secret, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .header(ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .bearer_auth(token.expose())
    }

    fn unreachable(&self, error: reqwest::Error) -> ForgeError {
        ForgeError::Unreachable { api: self.api_url.clone(), message: error.without_url().to_string() }
    }

    /// The body of a successful answer, or the error its status means.
    async fn answer(&self, response: reqwest::Response) -> Result<Value, ForgeError> {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|error| self.unreachable(error))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        Err(status_error(status, &headers, &body))
    }
}

/// What an error status from GitHub means.
fn status_error(status: StatusCode, headers: &HeaderMap, body: &Value) -> ForgeError {
    let message = error_message(body);
    let header_secs = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()?.trim().parse::<u64>().ok());
    let retry_after = header_secs(RETRY_AFTER.as_str());
    let exhausted = header_secs("x-ratelimit-remaining") == Some(0);
    if status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN && (retry_after.is_some() || exhausted))
    {
        let until_reset = header_secs("x-ratelimit-reset")
            .map(|reset| reset.saturating_sub(crate::clock::now_millis().max(0) as u64 / 1000));
        let wait = retry_after.or(until_reset).unwrap_or(DEFAULT_RATE_LIMIT_WAIT).max(1);
        return ForgeError::RateLimited { retry_after_secs: wait };
    }
    match status {
        StatusCode::UNAUTHORIZED => ForgeError::Unauthorized(message),
        StatusCode::FORBIDDEN => ForgeError::Forbidden(message),
        StatusCode::NOT_FOUND => ForgeError::NotFound(message),
        _ => ForgeError::Rejected { status: status.as_u16(), message },
    }
}

/// GitHub's `message`, with the details of its `errors` list (where a 422 says what is wrong).
fn error_message(body: &Value) -> String {
    let mut message = body["message"].as_str().unwrap_or("no message").to_string();
    let details: Vec<&str> = body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|error| error["message"].as_str().or_else(|| error["code"].as_str()))
        .collect();
    if !details.is_empty() {
        message = format!("{message}: {}", details.join("; "));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_are_told_apart_from_refusals() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        let body = json!({ "message": "You have exceeded a secondary rate limit." });
        assert!(matches!(
            status_error(StatusCode::FORBIDDEN, &headers, &body),
            ForgeError::RateLimited { retry_after_secs: 7 }
        ));
        let refused =
            status_error(StatusCode::FORBIDDEN, &HeaderMap::new(), &json!({ "message": "Resource not accessible" }));
        assert!(matches!(refused, ForgeError::Forbidden(message) if message == "Resource not accessible"));
        let exists = status_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &HeaderMap::new(),
            &json!({ "message": "Validation Failed", "errors": [{ "message": "A pull request already exists for acme:topic." }] }),
        );
        assert!(matches!(exists, ForgeError::Rejected { status: 422, message } if message.contains("already exists")));
    }

    #[test]
    fn the_web_host_of_github_com_is_not_its_api_host() {
        assert_eq!(GitHub::new("https://api.github.com").unwrap().web_host(), "github.com");
        assert_eq!(GitHub::new("https://ghe.example/api/v3/").unwrap().web_host(), "ghe.example");
    }
}
