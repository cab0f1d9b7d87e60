//! GitLab's REST API (v4; gitlab.com or a self-hosted server at its own API base URL): opening a
//! merge request, and reading it back with its approvals, the pipelines of its head commit and
//! its notes (through [`Rest`], so every read is conditional and a rate limit is
//! [`ForgeError::RateLimited`]). A project is named by its path (`group/name`), URL-encoded as
//! its id. GitLab takes a draft as a title that starts with `Draft:`.

use arbor_protocol::PullRequest;
use reqwest::header::HeaderMap;
use serde_json::json;

use super::body::ReviewNote;
use super::rest::Rest;
use super::token::Secret;
use super::{ForgeError, ForgeKind, NewPull, merge_request};
use crate::clock::now_millis;

/// Lists are read one page of this many entries (GitLab's largest).
const PAGE: u32 = 100;

/// A GitLab API endpoint.
pub struct GitLab {
    rest: Rest,
}

impl GitLab {
    /// A client of the API at `api_url` (`https://gitlab.com/api/v4`, or `https://HOST/api/v4`).
    pub fn new(api_url: &str) -> Result<GitLab, ForgeError> {
        Ok(GitLab { rest: Rest::new(ForgeKind::GitLab, api_url, HeaderMap::new())? })
    }

    /// The host whose git remotes and `glab` login the token belongs to: the API's own host.
    pub fn web_host(&self) -> String {
        crate::git::push::url_host(self.rest.api_url()).unwrap_or_default().to_string()
    }

    /// `POST /projects/:id/merge_requests`. A merge request that is already open for the branch
    /// (GitLab's 409) is [`ForgeError::AlreadyExists`] with its address when GitLab can find it.
    pub async fn create_merge_request(&self, token: &Secret, pull: &NewPull<'_>) -> Result<PullRequest, ForgeError> {
        let title = if pull.draft { format!("Draft: {}", pull.title) } else { pull.title.to_string() };
        let body = json!({
            "source_branch": pull.head,
            "target_branch": pull.base,
            "title": title,
            "description": pull.body,
        });
        let path = format!("/projects/{}/merge_requests", project_id(pull.repository));
        let created = match self.rest.post(token, &path, &body).await {
            Err(ForgeError::Rejected { status: 409, .. }) => {
                let url = self.find_open_merge_request(token, pull.repository, pull.head).await.ok().flatten();
                return Err(ForgeError::AlreadyExists { forge: ForgeKind::GitLab, branch: pull.head.to_string(), url });
            }
            other => other?,
        };
        let answers = merge_request::Answers { merge_request: &created, ..Default::default() };
        merge_request::read(pull.repository, answers, now_millis())
    }

    /// The address of the open merge request from `branch` in `repository`, if any.
    async fn find_open_merge_request(
        &self,
        token: &Secret,
        repository: &str,
        branch: &str,
    ) -> Result<Option<String>, ForgeError> {
        let path = format!("/projects/{}/merge_requests?state=opened&source_branch={branch}", project_id(repository));
        let found = self.rest.get(token, &path).await?;
        Ok(found.as_array().and_then(|found| found.first()).and_then(|mr| mr["web_url"].as_str()).map(str::to_string))
    }

    /// The merge request as it is now: `GET /projects/:id/merge_requests/:iid`, its approvals,
    /// its pipelines and its notes.
    pub async fn read(&self, token: &Secret, repository: &str, iid: u64) -> Result<PullRequest, ForgeError> {
        let base = format!("/projects/{}/merge_requests/{iid}", project_id(repository));
        let merge_request = self.rest.get(token, &base).await?;
        let approvals = self.rest.get(token, &format!("{base}/approvals")).await?;
        let pipelines = self.rest.get(token, &format!("{base}/pipelines?per_page={PAGE}")).await?;
        let notes = self.notes(token, &base).await?;
        let answers = merge_request::Answers {
            merge_request: &merge_request,
            approvals: &approvals,
            pipelines: &pipelines,
            notes: &notes,
        };
        merge_request::read(repository, answers, now_millis())
    }

    /// The merge request's notes written by people (not GitLab's own), oldest first.
    pub async fn review_notes(&self, token: &Secret, repository: &str, iid: u64) -> Result<Vec<ReviewNote>, ForgeError> {
        let base = format!("/projects/{}/merge_requests/{iid}", project_id(repository));
        Ok(merge_request::review_notes(&self.notes(token, &base).await?))
    }

    async fn notes(&self, token: &Secret, base: &str) -> Result<serde_json::Value, ForgeError> {
        self.rest.get(token, &format!("{base}/notes?sort=asc&order_by=created_at&per_page={PAGE}")).await
    }
}

/// A project's id in a URL: its path with each `/` encoded (`group%2Fname`); the rest of a
/// valid path needs no encoding.
fn project_id(repository: &str) -> String {
    repository.replace('/', "%2F")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_are_named_by_their_encoded_path() {
        assert_eq!(project_id("group/sub/name"), "group%2Fsub%2Fname");
        assert_eq!(GitLab::new("https://gitlab.example:8443/api/v4").unwrap().web_host(), "gitlab.example");
    }
}
