//! The REST transport GitHub's and GitLab's clients share (reqwest): bearer-token requests,
//! conditional reads (`If-None-Match` with the last `ETag`, kept per URL, so an unchanged answer
//! costs no rate limit), and error statuses read into [`ForgeError`], with a rate limit's wait
//! taken from `Retry-After`, else the reset time the forge sends.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{ETAG, HeaderMap, IF_NONE_MATCH, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::token::Secret;
use super::{ForgeError, ForgeKind};

/// A request to the forge gives up after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The wait assumed when the forge says it is rate limited without saying for how long.
const DEFAULT_RATE_LIMIT_WAIT: u64 = 60;

/// One forge's API endpoint.
pub struct Rest {
    kind: ForgeKind,
    http: reqwest::Client,
    api_url: String,
    /// Headers every request carries (GitHub's media type and API version).
    headers: HeaderMap,
    /// The last answer to each URL read, by URL, with its `ETag`.
    cache: Mutex<HashMap<String, Cached>>,
}

struct Cached {
    etag: String,
    body: Value,
}

impl Rest {
    /// A client of `kind`'s API at `api_url`, sending `headers` with every request.
    pub fn new(kind: ForgeKind, api_url: &str, headers: HeaderMap) -> Result<Rest, ForgeError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("arbor/", env!("CARGO_PKG_VERSION")))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|error| ForgeError::Unreachable { forge: kind, api: api_url.to_string(), message: error.to_string() })?;
        let api_url = api_url.trim_end_matches('/').to_string();
        Ok(Rest { kind, http, api_url, headers, cache: Mutex::default() })
    }

    /// The API's base URL.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// A conditional GET of `path` (below the base URL): with the last `ETag` of the URL, a
    /// `304 Not Modified` gives back the last answer without counting against the rate limit.
    pub async fn get(&self, token: &Secret, path: &str) -> Result<Value, ForgeError> {
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

    /// A POST of `body` as JSON to `path`.
    pub async fn post(&self, token: &Secret, path: &str, body: &Value) -> Result<Value, ForgeError> {
        let url = format!("{}{path}", self.api_url);
        let response =
            self.request(token, Method::POST, &url).json(body).send().await.map_err(|error| self.unreachable(error))?;
        self.answer(response).await
    }

    fn request(&self, token: &Secret, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.http.request(method, url).headers(self.headers.clone()).bearer_auth(token.expose())
    }

    fn unreachable(&self, error: reqwest::Error) -> ForgeError {
        ForgeError::Unreachable { forge: self.kind, api: self.api_url.clone(), message: error.without_url().to_string() }
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
        Err(status_error(self.kind, status, &headers, &body))
    }
}

/// What an error status from the forge means. GitHub signals a rate limit with 403 or 429 and
/// `x-ratelimit-*` headers, GitLab with 429 and `RateLimit-*` headers; both may send
/// `Retry-After`.
pub fn status_error(forge: ForgeKind, status: StatusCode, headers: &HeaderMap, body: &Value) -> ForgeError {
    let message = error_message(body);
    let header_secs = |names: &[&str]| {
        names.iter().find_map(|name| headers.get(*name).and_then(|value| value.to_str().ok()?.trim().parse::<u64>().ok()))
    };
    let retry_after = header_secs(&[RETRY_AFTER.as_str()]);
    let exhausted = header_secs(&["x-ratelimit-remaining", "ratelimit-remaining"]) == Some(0);
    if status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN && (retry_after.is_some() || exhausted))
    {
        let until_reset = header_secs(&["x-ratelimit-reset", "ratelimit-reset"])
            .map(|reset| reset.saturating_sub(crate::clock::now_millis().max(0) as u64 / 1000));
        let wait = retry_after.or(until_reset).unwrap_or(DEFAULT_RATE_LIMIT_WAIT).max(1);
        return ForgeError::RateLimited { forge, retry_after_secs: wait };
    }
    match status {
        StatusCode::UNAUTHORIZED => ForgeError::Unauthorized { forge, message },
        StatusCode::FORBIDDEN => ForgeError::Forbidden { forge, message },
        StatusCode::NOT_FOUND => ForgeError::NotFound { forge, message },
        _ => ForgeError::Rejected { forge, status: status.as_u16(), message },
    }
}

/// The forge's own words: GitHub's `message` with the details of its `errors` list (where a 422
/// says what is wrong); GitLab's `message`, which may be a string, a list, or a map from field to
/// problems, or its OAuth-style `error` and `error_description`.
fn error_message(body: &Value) -> String {
    let mut message = match &body["message"] {
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "),
        Value::Object(fields) => fields
            .iter()
            .map(|(field, problems)| match problems {
                Value::Array(items) => {
                    format!("{field} {}", items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                }
                other => format!("{field} {other}"),
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => body["error_description"].as_str().or(body["error"].as_str()).unwrap_or("no message").to_string(),
    };
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
    use serde_json::json;

    use super::*;

    #[test]
    fn rate_limits_are_told_apart_from_refusals() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        let body = json!({ "message": "You have exceeded a secondary rate limit." });
        assert!(matches!(
            status_error(ForgeKind::GitHub, StatusCode::FORBIDDEN, &headers, &body),
            ForgeError::RateLimited { retry_after_secs: 7, .. }
        ));
        let refused = status_error(
            ForgeKind::GitHub,
            StatusCode::FORBIDDEN,
            &HeaderMap::new(),
            &json!({ "message": "Resource not accessible" }),
        );
        assert!(matches!(refused, ForgeError::Forbidden { message, .. } if message == "Resource not accessible"));
        let exists = status_error(
            ForgeKind::GitHub,
            StatusCode::UNPROCESSABLE_ENTITY,
            &HeaderMap::new(),
            &json!({ "message": "Validation Failed", "errors": [{ "message": "A pull request already exists for acme:topic." }] }),
        );
        assert!(matches!(exists, ForgeError::Rejected { status: 422, message, .. } if message.contains("already exists")));
    }

    #[test]
    fn gitlabs_messages_and_rate_limits_are_read() {
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit-reset", "0".parse().unwrap());
        let limited = status_error(ForgeKind::GitLab, StatusCode::TOO_MANY_REQUESTS, &headers, &json!({}));
        assert!(matches!(limited, ForgeError::RateLimited { retry_after_secs: 1, forge: ForgeKind::GitLab }));
        let listed = json!({ "message": ["Another open merge request already exists for this source branch: !1"] });
        assert_eq!(error_message(&listed), "Another open merge request already exists for this source branch: !1");
        let by_field = json!({ "message": { "title": ["can't be blank"] } });
        assert_eq!(error_message(&by_field), "title can't be blank");
        assert_eq!(error_message(&json!({ "error": "insufficient_scope" })), "insufficient_scope");
    }
}
