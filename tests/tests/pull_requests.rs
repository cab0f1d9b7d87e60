//! From session to pull request, against the real binary: a real push over `file://` to a bare
//! repository, and mocks of GitHub's and GitLab's REST APIs on 127.0.0.1 that keep their pull
//! (merge) requests' state. Every refusal is a clear message that loses nothing, and the token
//! appears nowhere a user or another process could read it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use arbor_protocol::{
    CheckResult, ChecksState, PullRequest, PullRequestState, PushResult, ReviewDecision, Session, SessionEvent, Task,
    TrialNewResult, error_code, method,
};
use arbor_tests::mock_github::{Failure, MockGitHub};
use arbor_tests::mock_gitlab::MockGitLab;
use arbor_tests::{Client, Server, TestEnv, files_holding, git, wait_until};
use serde_json::{Value, json};

const TOKEN: &str = "ghp_arborTestToken0123456789secret";
const GITLAB_TOKEN: &str = "glpat-arborTestToken0123456789secret";

const SCRIPT: &str = "write src/feature.rs <<END\npub fn feature() {}\nEND\nsay Added the feature function.\n\
usage input=1200 output=300 cost=0.042\nturn\nsay Addressed: {prompt}";

/// A bare repository `acme/widgets.git` as `origin` of a work repository whose `main` tracks it,
/// the mock GitHub and GitLab, and Arbor configured for one of them.
struct Forge {
    env: TestEnv,
    remote: PathBuf,
    repo: PathBuf,
    github: MockGitHub,
    gitlab: MockGitLab,
}

impl Forge {
    /// Arbor opens pull requests on the mock GitHub with `configured_token`.
    async fn new(configured_token: &str) -> Forge {
        let forge = Forge::start().await;
        forge.env.write_config(
            json!({ "github": { "apiUrl": forge.github.url, "token": configured_token, "pollIntervalSecs": 1 } }),
        );
        forge
    }

    /// Arbor opens merge requests on the mock GitLab (chosen by `forge` in the config file: the
    /// `file://` remote names no host) with `configured_token`.
    async fn on_gitlab(configured_token: &str) -> Forge {
        let forge = Forge::start().await;
        forge.env.write_config(json!({
            "forge": "gitlab",
            "gitlab": { "apiUrl": forge.gitlab.url, "token": configured_token, "pollIntervalSecs": 1 },
        }));
        forge
    }

    async fn start() -> Forge {
        let env = TestEnv::new();
        let remote = env.root.join("acme").join("widgets.git");
        std::fs::create_dir_all(&remote).unwrap();
        git(&remote, &["init", "-q", "--bare", "-b", "main"]);
        let repo = env.repo("work");
        git(&repo, &["remote", "add", "origin", &format!("file://{}", remote.display())]);
        git(&repo, &["push", "-q", "-u", "origin", "main"]);
        let github = MockGitHub::start(TOKEN, remote.clone()).await;
        let gitlab = MockGitLab::start(GITLAB_TOKEN, remote.clone()).await;
        Forge { env, remote, repo, github, gitlab }
    }

    /// A session that wrote `src/feature.rs`, with its work committed on its branch.
    async fn committed_session(&self, client: &mut Client) -> Session {
        let session = client.scripted_session(&self.repo, SCRIPT, Some("Add a feature function")).await;
        client.subscribe(session.id, 0).await;
        client.wait_turns(session.id, 1).await;
        client.call(method::REVIEW_COMMIT, json!({ "sessionId": session.id, "message": "Add the feature" })).await;
        client.get(session.id).await
    }

    fn remote_tip(&self, branch: &str) -> String {
        git(&self.remote, &["rev-parse", &format!("refs/heads/{branch}")])
    }
}

fn pull_request_of(event: &SessionEvent) -> Option<&PullRequest> {
    match event {
        SessionEvent::PrOpened { pull_request, .. } | SessionEvent::PrUpdated { pull_request, .. } => {
            Some(pull_request.as_ref())
        }
        _ => None,
    }
}

/// Waits for a `pr_updated` event whose pull request satisfies `wanted`.
async fn wait_update(client: &mut Client, session: &Session, wanted: impl Fn(&PullRequest) -> bool) -> SessionEvent {
    client
        .wait_event(session.id, |event| {
            matches!(event, SessionEvent::PrUpdated { .. }) && pull_request_of(event).is_some_and(&wanted)
        })
        .await
        .event
}

async fn all_events(client: &Client, session: &Session) -> Value {
    client.call(method::SESSION_EVENTS, json!({ "sessionId": session.id, "limit": 5000 })).await
}

/// `secret` is in no event, not on the session record, and, once the server is gone, in no file
/// under the test's directory but the config file.
async fn assert_secret_kept(forge: &Forge, server: Server, session: &Session, secret: &str) {
    let Server { client, child } = server;
    assert!(!all_events(&client, session).await.to_string().contains(secret), "the secret is in an event");
    assert!(!serde_json::to_string(&client.get(session.id).await).unwrap().contains(secret), "and on the record");
    drop(client);
    drop(child);
    let leaks: Vec<PathBuf> =
        files_holding(&forge.env.root, secret).into_iter().filter(|path| !path.ends_with("config.json")).collect();
    assert!(leaks.is_empty(), "the secret leaked into {leaks:?}");
}

#[tokio::test]
async fn a_session_is_pushed_opened_as_a_pull_request_and_follows_it_to_the_merge() {
    let forge = Forge::new(TOKEN).await;
    let Server { mut client, child: _child } = forge.env.standalone().await;
    let session = forge.committed_session(&mut client).await;
    let branch = session.branch.clone().unwrap();

    let pushed = client.call(method::SESSION_PUSH, json!({ "sessionId": session.id })).await;
    let tip = git(&forge.repo, &["rev-parse", &branch]);
    assert_eq!(pushed["commit"], tip);
    assert_eq!(pushed["remote"], "origin");
    assert_eq!(forge.remote_tip(&branch), tip, "the bare repository received the branch");
    assert_eq!(
        git(&forge.repo, &["rev-parse", "--abbrev-ref", &format!("{branch}@{{upstream}}")]),
        format!("origin/{branch}")
    );

    let opened: PullRequest = serde_json::from_value(
        client.call(method::SESSION_PR, json!({ "sessionId": session.id, "draft": true })).await,
    )
    .unwrap();
    assert_eq!((opened.number, opened.state, opened.repository.as_str()), (1, PullRequestState::Draft, "acme/widgets"));
    let created = forge.github.received().into_iter().find(|request| request.method == "POST").expect("a POST");
    assert_eq!(created.path, "/repos/acme/widgets/pulls");
    assert_eq!(created.authorization.as_deref(), Some(format!("Bearer {TOKEN}").as_str()));
    assert_eq!(created.body["title"], "Add a feature function");
    assert_eq!((created.body["head"].as_str(), created.body["base"].as_str()), (Some(branch.as_str()), Some("main")));
    assert_eq!(created.body["draft"], true);
    let body = created.body["body"].as_str().unwrap();
    for expected in [
        "Add a feature function",
        "Added the feature function.",
        "`src/feature.rs` (+1 −0)",
        "1200 input and 300 output tokens",
        "$0.0420",
    ] {
        assert!(body.contains(expected), "the body lacks {expected:?}:\n{body}");
    }
    let event = client.wait_event(session.id, |event| matches!(event, SessionEvent::PrOpened { .. })).await;
    assert_eq!(pull_request_of(&event.event).map(|pull| pull.url.clone()), Some(opened.url.clone()));
    assert_eq!(client.get(session.id).await.pull_request.map(|pull| pull.number), Some(1));
    // While nothing changes, reads are conditional and cost GitHub nothing.
    wait_until("an unchanged pull request is read with If-None-Match and answered 304", || {
        forge.github.received().iter().any(|request| request.status == 304 && request.if_none_match.is_some())
    })
    .await;

    forge.github.set_checks(1, &[("build", "in_progress", None), ("lint", "completed", Some("success"))]);
    wait_update(&mut client, &session, |pull| pull.checks.state == ChecksState::Pending).await;
    forge.github.set_checks(1, &[("build", "completed", Some("success")), ("lint", "completed", Some("success"))]);
    let passed = wait_update(&mut client, &session, |pull| pull.checks.state == ChecksState::Success).await;
    let SessionEvent::PrUpdated { changes, message, .. } = &passed else { unreachable!() };
    assert!(changes.contains(&"checks passed (2 of 2)".to_string()), "{changes:?}");
    assert!(message.contains("PR #1 draft"), "{message}");

    forge.github.add_review(1, "reviewer", "APPROVED", "");
    wait_update(&mut client, &session, |pull| pull.review == ReviewDecision::Approved).await;
    forge.github.merge(1);
    let merged = wait_update(&mut client, &session, |pull| pull.state == PullRequestState::Merged).await;
    let SessionEvent::PrUpdated { actions, .. } = &merged else { unreachable!() };
    let delete = actions.iter().find(|action| action.id == "delete_session").expect("the offer to delete");
    assert_eq!(delete.method, method::SESSION_DELETE);
    let record = client.get(session.id).await.pull_request.unwrap();
    assert_eq!(
        (record.state, record.review, record.checks.passed),
        (PullRequestState::Merged, ReviewDecision::Approved, 2)
    );

    let events = all_events(&client, &session).await.to_string();
    let record = serde_json::to_string(&client.get(session.id).await).unwrap();
    assert!(!events.contains(TOKEN) && !record.contains(TOKEN), "the token is in no event and not on the session");

    // The offer, sent as it is: the branch merged on the forge (not in the local main) may go.
    client.call(&delete.method, delete.params.clone()).await;
    assert!(git(&forge.repo, &["branch", "--list", &branch]).is_empty(), "the branch was deleted");
    assert!(!Path::new(&session.cwd).exists(), "the worktree was removed");
    drop(client);
    assert!(
        files_holding(&forge.env.root, TOKEN).iter().all(|path| path.ends_with("config.json")),
        "{:?}",
        files_holding(&forge.env.root, TOKEN)
    );
}

#[tokio::test]
async fn a_rejected_push_is_a_clear_error_that_changes_nothing() {
    let forge = Forge::new(TOKEN).await;
    let Server { mut client, child: _child } = forge.env.standalone().await;
    let session = forge.committed_session(&mut client).await;
    let branch = session.branch.clone().unwrap();
    client.call(method::SESSION_PUSH, json!({ "sessionId": session.id })).await;
    let first_push = forge.remote_tip(&branch);

    // Someone else pushes to the branch; the session commits on top of its own work.
    let other = forge.env.root.join("other");
    git(&forge.env.root, &["clone", "-q", "-b", &branch, &format!("file://{}", forge.remote.display()), "other"]);
    forge.env.commit_files(&other, &[("other.txt", "theirs\n")], "Their change");
    git(&other, &["push", "-q", "origin", &branch]);
    let theirs = forge.remote_tip(&branch);
    std::fs::write(Path::new(&session.cwd).join("second.txt"), "ours\n").unwrap();
    client.call(method::REVIEW_COMMIT, json!({ "sessionId": session.id, "message": "Our second change" })).await;
    let ours = git(&forge.repo, &["rev-parse", &branch]);

    let error = client.try_call(method::SESSION_PUSH, json!({ "sessionId": session.id })).await.unwrap_err();
    assert_eq!(error.code, error_code::GIT_ERROR);
    assert!(error.message.contains("refused") && error.message.contains("not a fast-forward"), "{}", error.message);
    assert_eq!(forge.remote_tip(&branch), theirs, "the remote keeps their commit");
    assert_eq!(git(&forge.repo, &["rev-parse", &branch]), ours, "the local branch keeps ours");
    assert_eq!(
        git(&forge.repo, &["rev-parse", &format!("origin/{branch}")]),
        first_push,
        "the remote-tracking branch did not move"
    );

    let error = client.try_call(method::SESSION_PR, json!({ "sessionId": session.id })).await.unwrap_err();
    assert!(error.message.contains("not a fast-forward"), "{}", error.message);
    assert!(forge.github.pulls().is_empty(), "no pull request was opened for a branch that could not be pushed");

    std::fs::write(Path::new(&session.cwd).join("third.txt"), "uncommitted\n").unwrap();
    let error = client.try_call(method::SESSION_PUSH, json!({ "sessionId": session.id })).await.unwrap_err();
    assert_eq!(error.code, error_code::INVALID_SESSION_STATE);
    assert!(error.message.contains("uncommitted changes"), "{}", error.message);
    assert!(Path::new(&session.cwd).join("third.txt").exists());
}

#[tokio::test]
async fn a_token_github_refuses_is_a_401_that_names_no_secret() {
    let wrong = "ghp_wrongTokenThatMustNotLeak42";
    let forge = Forge::new(wrong).await;
    let mut server = forge.env.standalone().await;
    let session = forge.committed_session(&mut server.client).await;

    let error = server.client.try_call(method::SESSION_PR, json!({ "sessionId": session.id })).await.unwrap_err();
    assert_eq!(error.code, error_code::FORGE_ERROR);
    assert!(error.message.contains("401") && error.message.contains("refused the token"), "{}", error.message);
    assert!(!error.message.contains(wrong));
    assert!(server.client.get(session.id).await.pull_request.is_none(), "no pull request is recorded");
    assert_eq!(
        forge.remote_tip(session.branch.as_deref().unwrap()),
        git(&forge.repo, &["rev-parse", session.branch.as_deref().unwrap()]),
        "the push stays done"
    );
    assert_secret_kept(&forge, server, &session, wrong).await;
}

#[tokio::test]
async fn rate_limits_and_an_existing_pull_request_are_clear_and_lose_nothing() {
    let forge = Forge::new(TOKEN).await;
    let Server { mut client, child: _child } = forge.env.standalone().await;
    let session = forge.committed_session(&mut client).await;
    let branch = session.branch.clone().unwrap();

    forge.github.fail_next(Failure {
        method: "POST".into(),
        path_contains: "/pulls".into(),
        status: 403,
        message: "You have exceeded a secondary rate limit.".into(),
        retry_after: Some(30),
    });
    let error = client.try_call(method::SESSION_PR, json!({ "sessionId": session.id })).await.unwrap_err();
    assert_eq!(error.code, error_code::FORGE_ERROR);
    assert!(error.message.contains("rate limit") && error.message.contains("30 s"), "{}", error.message);
    assert!(client.get(session.id).await.pull_request.is_none());

    // Someone opened a pull request for the branch on the website meanwhile.
    let created = client.try_call(method::SESSION_PR, json!({ "sessionId": session.id, "title": "Mine" })).await;
    assert!(created.is_ok(), "{created:?}");
    let again = client.try_call(method::SESSION_PR, json!({ "sessionId": session.id })).await.unwrap_err();
    assert_eq!(again.code, error_code::INVALID_SESSION_STATE);
    assert!(again.message.contains("already has pull request #1"), "{}", again.message);
    client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await;
    let twin: Session = serde_json::from_value(
        client.call(method::SESSION_RESUME, json!({ "sessionId": session.id, "asNewSession": true })).await,
    )
    .unwrap();
    assert_eq!(twin.branch.as_deref(), Some(branch.as_str()));
    let exists = client.try_call(method::SESSION_PR, json!({ "sessionId": twin.id })).await.unwrap_err();
    assert_eq!(exists.code, error_code::FORGE_ERROR);
    assert!(
        exists.message.contains("already exists") && exists.message.contains("/acme/widgets/pull/1"),
        "{}",
        exists.message
    );
    assert_eq!(forge.github.pulls().len(), 1);

    // A rate limit while following the pull request pauses every read for as long as GitHub asks.
    forge.github.fail_next(Failure {
        method: "GET".into(),
        path_contains: "/pulls/1".into(),
        status: 403,
        message: "API rate limit exceeded".into(),
        retry_after: Some(3),
    });
    client.wait_event(session.id, |event| matches!(event, SessionEvent::Notice { message } if message.contains("rate limit") && message.contains("3 s"))).await;
    let limited =
        forge.github.received().into_iter().find(|request| request.status == 403 && request.method == "GET").unwrap();
    forge.github.set_checks(1, &[("build", "completed", Some("failure"))]);
    wait_update(&mut client, &session, |pull| pull.checks.state == ChecksState::Failure).await;
    let next = forge.github.received().into_iter().find(|request| request.at > limited.at).unwrap();
    assert!(
        next.at.duration_since(limited.at) >= Duration::from_millis(2900),
        "read again after {:?}",
        next.at.duration_since(limited.at)
    );
}

#[tokio::test]
async fn the_review_is_sent_to_the_agent_as_a_prompt() {
    let forge = Forge::new(TOKEN).await;
    let Server { mut client, child: _child } = forge.env.standalone().await;
    let session = forge.committed_session(&mut client).await;
    let none = client.try_call(method::SESSION_SEND_REVIEW, json!({ "sessionId": session.id })).await.unwrap_err();
    assert!(none.message.contains("no pull request"), "{}", none.message);
    client.call(method::SESSION_PR, json!({ "sessionId": session.id })).await;

    forge.github.add_review(1, "ana", "CHANGES_REQUESTED", "Please document the function.");
    forge.github.add_comment(1, "bo", "src/feature.rs", 1, "Name it `widget` instead.");
    let update = wait_update(&mut client, &session, |pull| pull.review_comments == 2).await;
    let SessionEvent::PrUpdated { actions, pull_request, .. } = &update else { unreachable!() };
    assert_eq!(pull_request.review, ReviewDecision::ChangesRequested);
    let send = actions.iter().find(|action| action.id == "send_review").expect("the offer to send the review");

    let sent = client.call(&send.method, send.params.clone()).await;
    assert_eq!(sent["comments"], 2);
    let prompt = client
        .wait_event(
            session.id,
            |event| matches!(event, SessionEvent::UserMessage { text } if text.contains("reviewed")),
        )
        .await;
    let SessionEvent::UserMessage { text } = prompt.event else { unreachable!() };
    assert!(text.contains("@ana requested changes: Please document the function."), "{text}");
    assert!(text.contains("@bo on src/feature.rs:1: Name it `widget` instead."), "{text}");
    client.wait_turns(session.id, 2).await;
    assert!(client.reply_text(session.id).contains("Addressed: The pull request #1"));
}

#[tokio::test]
async fn a_merge_request_on_gitlab_follows_its_pipeline_approval_and_merge_and_takes_review_notes() {
    let forge = Forge::on_gitlab(GITLAB_TOKEN).await;
    let Server { mut client, child } = forge.env.standalone().await;
    let session = forge.committed_session(&mut client).await;
    let branch = session.branch.clone().unwrap();

    let opened: PullRequest = serde_json::from_value(
        client.call(method::SESSION_PR, json!({ "sessionId": session.id, "draft": true })).await,
    )
    .unwrap();
    assert_eq!(forge.remote_tip(&branch), git(&forge.repo, &["rev-parse", &branch]), "the branch was pushed");
    assert_eq!(
        (opened.forge.as_str(), opened.number, opened.state, opened.repository.as_str()),
        ("gitlab", 1, PullRequestState::Draft, "acme/widgets")
    );
    assert!(opened.url.ends_with("/acme/widgets/-/merge_requests/1"), "{}", opened.url);
    let created = forge.gitlab.received().into_iter().find(|request| request.method == "POST").expect("a POST");
    assert_eq!(created.path, "/projects/acme%2Fwidgets/merge_requests");
    assert_eq!(created.authorization.as_deref(), Some(format!("Bearer {GITLAB_TOKEN}").as_str()));
    assert_eq!(created.body["title"], "Draft: Add a feature function");
    assert_eq!(
        (created.body["source_branch"].as_str(), created.body["target_branch"].as_str()),
        (Some(branch.as_str()), Some("main"))
    );
    let description = created.body["description"].as_str().unwrap();
    for expected in ["Added the feature function.", "`src/feature.rs` (+1 −0)", "1200 input and 300 output tokens"] {
        assert!(description.contains(expected), "the description lacks {expected:?}:\n{description}");
    }
    assert!(forge.github.received().is_empty(), "GitHub was not asked");
    let event = client.wait_event(session.id, |event| matches!(event, SessionEvent::PrOpened { .. })).await;
    let SessionEvent::PrOpened { message, .. } = &event.event else { unreachable!() };
    assert!(message.starts_with("Opened merge request !1 on acme/widgets"), "{message}");
    wait_until("an unchanged merge request is read with If-None-Match and answered 304", || {
        forge.gitlab.received().iter().any(|request| request.status == 304 && request.if_none_match.is_some())
    })
    .await;

    forge.gitlab.add_pipeline(1, "running");
    wait_update(&mut client, &session, |pull| pull.checks.state == ChecksState::Pending).await;
    forge.gitlab.add_pipeline(1, "success");
    let passed = wait_update(&mut client, &session, |pull| pull.checks.state == ChecksState::Success).await;
    let SessionEvent::PrUpdated { changes, .. } = &passed else { unreachable!() };
    assert!(changes.contains(&"checks passed (1 of 1)".to_string()), "{changes:?}");

    // A note on a line of the diff goes to the agent when the user sends the review.
    forge.gitlab.add_note(1, "bo", "Name it `widget` instead.", Some(("src/feature.rs", 1)));
    let noted = wait_update(&mut client, &session, |pull| pull.review_comments == 1).await;
    let SessionEvent::PrUpdated { actions, pull_request, .. } = &noted else { unreachable!() };
    assert_eq!(pull_request.review, ReviewDecision::Commented);
    let send = actions.iter().find(|action| action.id == "send_review").expect("the offer to send the review");
    let sent = client.call(&send.method, send.params.clone()).await;
    assert_eq!(sent["comments"], 1);
    let prompt = sent["prompt"].as_str().unwrap();
    assert!(prompt.starts_with("The merge request !1 ("), "{prompt}");
    assert!(prompt.contains("@bo on src/feature.rs:1: Name it `widget` instead."), "{prompt}");
    client.wait_turns(session.id, 2).await;
    assert!(client.reply_text(session.id).contains("Addressed: The merge request !1"));

    forge.gitlab.approve(1, "ana");
    wait_update(&mut client, &session, |pull| pull.review == ReviewDecision::Approved).await;
    forge.gitlab.merge(1);
    let merged = wait_update(&mut client, &session, |pull| pull.state == PullRequestState::Merged).await;
    let SessionEvent::PrUpdated { actions, message, .. } = &merged else { unreachable!() };
    assert!(message.starts_with("Merge request !1 was merged on GitLab"), "{message}");
    assert!(actions.iter().any(|action| action.id == "delete_session"), "{actions:?}");
    let record = client.get(session.id).await.pull_request.unwrap();
    assert_eq!(record.merge_commit.as_deref(), Some("89abcdef0123456789abcdef0123456789abcdef"));

    assert_secret_kept(&forge, Server { client, child }, &session, GITLAB_TOKEN).await;
}

#[tokio::test]
async fn a_token_gitlab_refuses_is_a_401_that_names_no_secret() {
    let wrong = "glpat-wrongTokenThatMustNotLeak42";
    let forge = Forge::on_gitlab(wrong).await;
    let mut server = forge.env.standalone().await;
    let session = forge.committed_session(&mut server.client).await;

    let error = server.client.try_call(method::SESSION_PR, json!({ "sessionId": session.id })).await.unwrap_err();
    assert_eq!(error.code, error_code::FORGE_ERROR);
    assert!(error.message.contains("GitLab refused the token (401"), "{}", error.message);
    assert!(error.message.contains("GITLAB_TOKEN"), "it says where the token comes from: {}", error.message);
    assert!(!error.message.contains(wrong));
    assert!(server.client.get(session.id).await.pull_request.is_none(), "no merge request is recorded");
    assert_secret_kept(&forge, server, &session, wrong).await;
}

#[tokio::test]
async fn gitlab_rate_limits_and_an_existing_merge_request_are_clear_and_lose_nothing() {
    let forge = Forge::on_gitlab(GITLAB_TOKEN).await;
    let Server { mut client, child: _child } = forge.env.standalone().await;
    let session = forge.committed_session(&mut client).await;

    forge.gitlab.fail_next(Failure {
        method: "POST".into(),
        path_contains: "/merge_requests".into(),
        status: 429,
        message: "Retry later".into(),
        retry_after: Some(30),
    });
    let error = client.try_call(method::SESSION_PR, json!({ "sessionId": session.id })).await.unwrap_err();
    assert_eq!(error.code, error_code::FORGE_ERROR);
    assert!(error.message.contains("GitLab's rate limit is reached; try again in 30 s"), "{}", error.message);
    assert!(client.get(session.id).await.pull_request.is_none());

    client.call(method::SESSION_PR, json!({ "sessionId": session.id })).await;
    client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await;
    let twin: Session = serde_json::from_value(
        client.call(method::SESSION_RESUME, json!({ "sessionId": session.id, "asNewSession": true })).await,
    )
    .unwrap();
    let exists = client.try_call(method::SESSION_PR, json!({ "sessionId": twin.id })).await.unwrap_err();
    assert_eq!(exists.code, error_code::FORGE_ERROR);
    assert!(
        exists.message.contains("a merge request for")
            && exists.message.contains("already exists")
            && exists.message.contains("/acme/widgets/-/merge_requests/1"),
        "{}",
        exists.message
    );
    assert_eq!(forge.gitlab.merge_requests().len(), 1);
    assert!(client.get(twin.id).await.pull_request.is_none());

    // A rate limit while following the merge request pauses every read for as long as GitLab asks.
    forge.gitlab.fail_next(Failure {
        method: "GET".into(),
        path_contains: "/merge_requests/1".into(),
        status: 429,
        message: "Retry later".into(),
        retry_after: Some(3),
    });
    client.wait_event(session.id, |event| matches!(event, SessionEvent::Notice { message } if message.contains("GitLab's rate limit") && message.contains("3 s"))).await;
    let limited =
        forge.gitlab.received().into_iter().find(|request| request.status == 429 && request.method == "GET").unwrap();
    forge.gitlab.add_pipeline(1, "failed");
    wait_update(&mut client, &session, |pull| pull.checks.state == ChecksState::Failure).await;
    let next = forge.gitlab.received().into_iter().find(|request| request.at > limited.at).unwrap();
    assert!(
        next.at.duration_since(limited.at) >= Duration::from_millis(2900),
        "read again after {:?}",
        next.at.duration_since(limited.at)
    );
}

#[tokio::test]
async fn a_checked_trial_is_pushed_and_its_pull_request_carries_the_check() {
    let forge = Forge::new(TOKEN).await;
    let check = "grep -q 42 answer.txt && echo '1 passed, 0 failed' || { echo '0 passed, 1 failed'; exit 1; }\n";
    forge.env.commit_files(&forge.repo, &[("check.sh", check)], "Add the check");
    git(&forge.repo, &["push", "-q", "origin", "main"]);
    let Server { client, child: _child } = forge.env.standalone().await;
    let task: Task = serde_json::from_value(
        client
            .call(
                method::TASK_NEW,
                json!({ "title": "Answer the question", "cwd": forge.repo, "checkCommand": "sh check.sh" }),
            )
            .await,
    )
    .unwrap();
    let script = "write answer.txt <<END\n42\nEND\nsay Wrote the answer.\nusage input=100 output=10 cost=0.10";
    let trials: TrialNewResult = serde_json::from_value(
        client
            .call(
                method::TRIAL_NEW,
                json!({ "taskId": task.id, "trials": [{ "agent": "scripted", "config": { "script": script } }] }),
            )
            .await,
    )
    .unwrap();
    let trial = trials.trials[0].trial.clone();
    client.wait_trials_settled(task.id).await;
    let checked: CheckResult =
        serde_json::from_value(client.call(method::TRIAL_CHECK, json!({ "trialId": trial.id })).await).unwrap();
    assert!(checked.passed, "{checked:?}");

    // The trial's work is still uncommitted in its worktree: trial/push commits it, then pushes.
    let pushed: PushResult =
        serde_json::from_value(client.call(method::TRIAL_PUSH, json!({ "trialId": trial.id })).await).unwrap();
    let committed = pushed.committed.clone().expect("the remaining work was committed");
    assert_eq!(pushed.commit, committed);
    assert_eq!(forge.remote_tip(&pushed.branch), committed, "the bare repository has the trial's branch");
    assert_eq!(git(&forge.remote, &["show", &format!("{}:answer.txt", pushed.branch)]), "42");

    let detail = client.call(method::TASK_GET, json!({ "taskId": task.id })).await;
    let session_id = detail["trials"][0]["sessions"][0]["id"].as_str().unwrap().to_string();
    let opened: PullRequest =
        serde_json::from_value(client.call(method::SESSION_PR, json!({ "sessionId": session_id })).await).unwrap();
    assert_eq!((opened.number, opened.head_branch.as_str()), (1, pushed.branch.as_str()));
    let created = forge.github.received().into_iter().find(|request| request.method == "POST").expect("a POST");
    let body = created.body["body"].as_str().unwrap();
    assert!(body.contains("## Check\n\n`sh check.sh` passed: 1 passed, 0 failed"), "{body}");
    assert!(body.contains("`answer.txt` (+1 −0)") && body.contains("- Answer the question"), "{body}");
}

/// `arbor ARGS` through the daemon: whether it succeeded, its standard output and its errors.
async fn arbor(env: &TestEnv, args: &[&str]) -> (bool, String, String) {
    let output = env.command().args(args).output().await.expect("run arbor");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).to_string();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

#[tokio::test]
async fn the_command_line_pushes_and_opens_a_pull_request_and_says_why_it_cannot() {
    let forge = Forge::new(TOKEN).await;
    let Server { mut client, child: _child } = forge.env.bridge().await;
    let session = forge.committed_session(&mut client).await;
    let id = session.id.to_string();
    let branch = session.branch.clone().unwrap();

    let (ok, pushed, _) = arbor(&forge.env, &["session", "push", &id[..8]]).await;
    let tip = git(&forge.repo, &["rev-parse", &branch]);
    assert!(ok, "{pushed}");
    assert!(pushed.starts_with(&format!("pushed {branch} to origin (file://")) && pushed.contains(&tip), "{pushed}");
    assert_eq!(forge.remote_tip(&branch), tip);

    forge.github.fail_next(Failure {
        method: "POST".into(),
        path_contains: "/pulls".into(),
        status: 401,
        message: "Bad credentials".into(),
        retry_after: None,
    });
    let (ok, out, error) = arbor(&forge.env, &["session", "pr", &id[..8]]).await;
    assert!(!ok, "a refused token fails the command: {out}");
    assert!(error.contains("GitHub refused the token (401 Bad credentials)"), "{error}");
    assert!(!error.contains(TOKEN) && !out.contains(TOKEN));

    let (ok, opened, _) = arbor(&forge.env, &["session", "pr", &id, "--draft"]).await;
    assert!(ok, "{opened}");
    let url = forge.github.pulls()[0]["html_url"].as_str().unwrap().to_string();
    assert_eq!(opened.trim(), format!("opened pull request #1 (draft): {url}"));

    // Someone else pushes to the branch; the session's next commit cannot be pushed over it.
    git(&forge.env.root, &["clone", "-q", "-b", &branch, &format!("file://{}", forge.remote.display()), "other"]);
    let other = forge.env.root.join("other");
    forge.env.commit_files(&other, &[("other.txt", "theirs\n")], "Their change");
    git(&other, &["push", "-q", "origin", &branch]);
    let theirs = forge.remote_tip(&branch);
    std::fs::write(Path::new(&session.cwd).join("second.txt"), "ours\n").unwrap();
    client.call(method::REVIEW_COMMIT, json!({ "sessionId": session.id, "message": "Our second change" })).await;
    let (ok, out, error) = arbor(&forge.env, &["session", "push", &id]).await;
    assert!(!ok, "a rejected push fails the command: {out}");
    assert!(error.contains("refused") && error.contains("not a fast-forward"), "{error}");
    assert_eq!(forge.remote_tip(&branch), theirs, "the remote keeps their commit");
}
