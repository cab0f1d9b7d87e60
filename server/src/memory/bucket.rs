//! Memory versions kept in S3-compatible object storage (`memoryStore.s3` in the config file).
//!
//! Requests are signed with `rusty-s3` (a small, sans-IO signer: it builds presigned URLs and
//! leaves the HTTP to the `reqwest` client Arbor already has), so the store adds no second HTTP
//! stack. Every failure of the bucket becomes a [`MemoryError::Bucket`] that says what went wrong
//! (unreachable, refused, no such bucket) and what to check.

use std::time::Duration;

use reqwest::{StatusCode, Url};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use serde::Deserialize;

use super::MemoryError;

/// How long a signed request stays valid, and the longest Arbor waits for one.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where memory versions go instead of the data directory.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemoryStoreConfig {
    /// An S3-compatible bucket.
    pub s3: Option<S3Config>,
}

/// An S3-compatible bucket for memory versions.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct S3Config {
    /// The service's URL, such as `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9000`.
    pub endpoint: String,
    /// The bucket's name (the bucket must exist).
    pub bucket: String,
    /// The bucket's region (default `us-east-1`).
    #[serde(default = "default_region")]
    pub region: String,
    /// Put before every key, such as `arbor/` (default none).
    #[serde(default)]
    pub prefix: String,
    /// Address the bucket as `<bucket>.<endpoint host>` instead of `<endpoint>/<bucket>`
    /// (default false, which every S3-compatible server accepts).
    #[serde(default)]
    pub virtual_hosted: bool,
    /// The access key; AWS_ACCESS_KEY_ID from the environment when absent.
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// The secret key; AWS_SECRET_ACCESS_KEY from the environment when absent.
    #[serde(default)]
    pub secret_access_key: Option<String>,
}

fn default_region() -> String {
    "us-east-1".into()
}

impl S3Config {
    /// The bucket, or why the settings cannot name one (checked as the config file is read).
    pub fn bucket(&self) -> Result<Bucket, String> {
        let endpoint = Url::parse(&self.endpoint)
            .map_err(|error| format!("memoryStore.s3.endpoint '{}' is not a URL: {error}", self.endpoint))?;
        let style = if self.virtual_hosted { UrlStyle::VirtualHost } else { UrlStyle::Path };
        Bucket::new(endpoint, style, self.bucket.clone(), self.region.clone())
            .map_err(|error| format!("memoryStore.s3 cannot address bucket '{}' at {}: {error}", self.bucket, self.endpoint))
    }

    /// The credentials of the config file, else of the environment, else none (unsigned
    /// requests, which only a public bucket or a local test server accepts).
    fn credentials(&self) -> Result<Option<Credentials>, String> {
        match (&self.access_key_id, &self.secret_access_key) {
            (Some(key), Some(secret)) => Ok(Some(Credentials::new(key.clone(), secret.clone()))),
            (None, None) => Ok(Credentials::from_env()),
            _ => Err("memoryStore.s3 needs both accessKeyId and secretAccessKey, or neither".into()),
        }
    }

    /// Checks the settings as the config file is read.
    pub fn validate(&self) -> Result<(), String> {
        self.bucket()?;
        self.credentials()?;
        Ok(())
    }
}

/// The objects of a bucket, read and written whole.
pub struct BucketObjects {
    bucket: Bucket,
    credentials: Option<Credentials>,
    prefix: String,
    http: reqwest::Client,
    /// How the store is named in errors.
    name: String,
}

impl BucketObjects {
    /// The bucket `config` names.
    pub fn new(config: &S3Config) -> Result<BucketObjects, MemoryError> {
        let invalid = |detail| MemoryError::Bucket { store: config.endpoint.clone(), detail };
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|error| invalid(error.to_string()))?;
        Ok(BucketObjects {
            bucket: config.bucket().map_err(invalid)?,
            credentials: config.credentials().map_err(invalid)?,
            prefix: config.prefix.clone(),
            http,
            name: format!("bucket '{}' at {}", config.bucket, config.endpoint),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn error(&self, detail: String) -> MemoryError {
        MemoryError::Bucket { store: self.name.clone(), detail }
    }

    /// The object `key`, or None when the bucket has no such object.
    pub async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, MemoryError> {
        let key = self.key(key);
        let url = self.bucket.get_object(self.credentials.as_ref(), &key).sign(REQUEST_TIMEOUT);
        let response = self.http.get(url).send().await.map_err(|error| self.unreachable(&error))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|error| self.unreachable(&error))?;
        if status.is_success() {
            return Ok(Some(body.to_vec()));
        }
        if status == StatusCode::NOT_FOUND && error_code(&body).as_deref() == Some("NoSuchKey") {
            return Ok(None);
        }
        Err(self.refused(status, &body, &key))
    }

    /// Writes `bytes` as the object `key`. A PUT replaces an object whole, so a reader sees the
    /// old object or the new one.
    pub async fn write(&self, key: &str, bytes: Vec<u8>) -> Result<(), MemoryError> {
        let key = self.key(key);
        let url = self.bucket.put_object(self.credentials.as_ref(), &key).sign(REQUEST_TIMEOUT);
        let response = self.http.put(url).body(bytes).send().await.map_err(|error| self.unreachable(&error))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.bytes().await.unwrap_or_default();
        Err(self.refused(status, &body, &key))
    }

    /// The error for a request that got no answer, with the causes reqwest keeps underneath.
    fn unreachable(&self, error: &reqwest::Error) -> MemoryError {
        let mut detail = format!("could not reach the memory store: {error}");
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            detail.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        self.error(detail)
    }

    /// The error for an answer that is not a success, by what S3 said.
    fn refused(&self, status: StatusCode, body: &[u8], key: &str) -> MemoryError {
        let code = error_code(body);
        let detail = match (status, code.as_deref()) {
            (_, Some("NoSuchBucket")) => format!("the bucket '{}' does not exist; create it first", self.bucket.name()),
            (StatusCode::FORBIDDEN, code) => format!(
                "access denied ({}) to {key}; check the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
                 or memoryStore.s3's accessKeyId and secretAccessKey) and the bucket's policy",
                code.unwrap_or("403 Forbidden")
            ),
            (status, code) => format!("{key}: the memory store answered {status}{}", code.map(|code| format!(" ({code})")).unwrap_or_default()),
        };
        self.error(detail)
    }
}

/// The `<Code>` of an S3 error document.
fn error_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let end = start + text[start..].find("</Code>")?;
    Some(text[start..end].to_string())
}
