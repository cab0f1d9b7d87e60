//! The credentials a push and a pull request find the way git and the GitHub CLI would, against
//! the real binary: an ssh remote on a local OpenSSH server reached only through an `ssh-agent`
//! and trusted only through `~/.ssh/known_hosts`; an http remote (`git http-backend` behind basic
//! auth) whose password only a credential helper knows, with a pre-receive hook that protects a
//! branch; and `gh auth token` from a private GitHub CLI configuration. No secret appears in an
//! event, an error, the session record, Arbor's log or any file it writes.

use std::path::{Path, PathBuf};
use std::process::Command;

use arbor_protocol::{PullRequest, Session, error_code, method};
use arbor_tests::git_http::GitHttpServer;
use arbor_tests::mock_github::MockGitHub;
use arbor_tests::sshd::{SshAgent, Sshd, keygen};
use arbor_tests::{Client, Server, TestEnv, files_holding, git};
use serde_json::{Value, json};

const SCRIPT: &str = "write src/feature.rs <<END\npub fn feature() {}\nEND\nsay Added the feature function.\nturn";

/// A session that wrote `src/feature.rs`, with its work committed on its branch.
async fn committed_session(client: &mut Client, repo: &Path) -> Session {
    let session = client.scripted_session(repo, SCRIPT, Some("Add a feature function")).await;
    client.subscribe(session.id, 0).await;
    client.wait_turns(session.id, 1).await;
    client.call(method::REVIEW_COMMIT, json!({ "sessionId": session.id, "message": "Add the feature" })).await;
    client.get(session.id).await
}

/// A bare repository at `path` holding the `main` of a new work repository `work`, whose only
/// remote is `origin` at `url`.
fn work_repository(env: &TestEnv, bare: &Path, url: &str) -> PathBuf {
    std::fs::create_dir_all(bare).unwrap();
    git(bare, &["init", "-q", "--bare", "-b", "main"]);
    let repo = env.repo("work");
    git(&repo, &["push", "-q", &format!("file://{}", bare.display()), "main"]);
    git(&repo, &["remote", "add", "origin", url]);
    repo
}

/// The commit `reference` points at in `repo`, if it exists there.
fn tip(repo: &Path, reference: &str) -> Option<String> {
    let output = Command::new("git").args(["rev-parse", "--verify", "-q", reference]).current_dir(repo).output().unwrap();
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Asserts `secret` is in no event of the session and not on its record.
async fn assert_secret_kept(client: &Client, session: &Session, secret: &str) {
    let events = client.call(method::SESSION_EVENTS, json!({ "sessionId": session.id, "limit": 5000 })).await;
    assert!(!events.to_string().contains(secret), "the secret is in an event");
    let record = serde_json::to_string(&client.get(session.id).await).unwrap();
    assert!(!record.contains(secret), "the secret is on the session");
}

/// Asserts no file under `root` holds `secret` but those in `allowed` (where the test put it);
/// Arbor's log is one of the files looked through.
fn assert_no_file_holds(root: &Path, secret: &str, allowed: &[&Path]) {
    let leaks: Vec<PathBuf> =
        files_holding(root, secret).into_iter().filter(|path| !allowed.contains(&path.as_path())).collect();
    assert!(leaks.is_empty(), "the secret leaked into {leaks:?}");
}

fn log_of(env: &TestEnv) -> PathBuf {
    env.root.join("arbor.log")
}

#[tokio::test]
async fn an_ssh_push_uses_the_agents_key_and_trusts_only_known_hosts() {
    let env = TestEnv::new();
    let home = env.root.join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    // The key lives only in the agent: its files are gone before Arbor starts.
    let key = env.root.join("client_key");
    let public_key = keygen(&key);
    let agent = SshAgent::start(env.root.join("agent.sock")).await;
    agent.add(&key);
    std::fs::remove_file(&key).unwrap();
    std::fs::remove_file(key.with_extension("pub")).unwrap();
    let sshd = Sshd::start(&env.root.join("sshd"), &public_key).await;
    let bare = env.root.join("remote").join("widgets.git");
    let repo = work_repository(&env, &bare, &sshd.url(&bare));

    let socket = agent.socket.to_string_lossy().to_string();
    let vars = [("HOME", home.to_str().unwrap()), ("SSH_AUTH_SOCK", socket.as_str())];
    let Server { mut client, child: _child } = env.standalone_logged(&vars, &log_of(&env)).await;
    let session = committed_session(&mut client, &repo).await;
    let branch = session.branch.clone().unwrap();
    let ours = tip(&repo, &branch).unwrap();
    let push = json!({ "sessionId": session.id });

    // An unknown host is refused, and nothing is written to known_hosts on the way.
    let error = client.try_call(method::SESSION_PUSH, push.clone()).await.unwrap_err();
    assert_eq!(error.code, error_code::GIT_ERROR);
    assert!(error.message.contains("host key") && error.message.contains("known_hosts"), "{}", error.message);
    assert!(!home.join(".ssh").join("known_hosts").exists(), "the unknown host was not trusted silently");
    assert_eq!(tip(&bare, &branch), None, "nothing reached the remote");

    // A known_hosts entry with another key for the same address is refused too.
    let impostor = keygen(&env.root.join("impostor_key"));
    let known_hosts = home.join(".ssh").join("known_hosts");
    std::fs::write(&known_hosts, format!("[127.0.0.1]:{} {impostor}\n", sshd.port)).unwrap();
    let error = client.try_call(method::SESSION_PUSH, push.clone()).await.unwrap_err();
    assert!(error.message.contains("differs"), "{}", error.message);
    assert_eq!(tip(&bare, &branch), None);
    assert_eq!(tip(&repo, &format!("origin/{branch}")), None, "no remote-tracking branch appeared");

    std::fs::write(&known_hosts, format!("{}\n", sshd.known_hosts_line())).unwrap();
    let pushed = client.call(method::SESSION_PUSH, push).await;
    assert_eq!(pushed["commit"], ours.as_str());
    assert_eq!(pushed["remoteUrl"], sshd.url(&bare));
    assert_eq!(tip(&bare, &branch).as_deref(), Some(ours.as_str()), "the server received the branch over ssh");
    assert_eq!(
        git(&repo, &["rev-parse", "--abbrev-ref", &format!("{branch}@{{upstream}}")]),
        format!("origin/{branch}")
    );
}

#[tokio::test]
async fn an_http_push_takes_its_password_from_the_credential_helper_and_a_protected_branch_says_why() {
    const PASSWORD: &str = "s3cret-http-password-4711";
    const WRONG: &str = "wrong-http-password-0815";
    let env = TestEnv::new();
    let served = env.root.join("served");
    let server = GitHttpServer::start(served.clone(), "alice", PASSWORD).await;
    let bare = served.join("widgets.git");
    let url = format!("{}/widgets.git", server.url);
    let repo = work_repository(&env, &bare, &url);
    // Only git's own credential store, configured in the repository, knows the password.
    let store = env.root.join("credentials");
    let host = server.url.trim_start_matches("http://");
    std::fs::write(&store, format!("http://alice:{WRONG}@{host}\n")).unwrap();
    git(&repo, &["config", "credential.helper", &format!("store --file={}", store.display())]);

    let log = log_of(&env);
    let Server { mut client, child } = env.standalone_logged(&[], &log).await;
    let session = committed_session(&mut client, &repo).await;
    let branch = session.branch.clone().unwrap();
    let push = json!({ "sessionId": session.id });

    let error = client.try_call(method::SESSION_PUSH, push.clone()).await.unwrap_err();
    assert_eq!(error.code, error_code::GIT_ERROR);
    assert!(error.message.contains("no credentials were accepted") && error.message.contains(&url), "{}", error.message);
    assert!(!error.message.contains(WRONG));
    assert!(
        server.seen().iter().any(|seen| seen.authorization.is_some() && !seen.accepted),
        "the helper's (wrong) password was offered"
    );
    assert_eq!(tip(&bare, &branch), None);

    std::fs::write(&store, format!("http://alice:{PASSWORD}@{host}\n")).unwrap();
    let first = tip(&repo, &branch).unwrap();
    let pushed = client.call(method::SESSION_PUSH, push.clone()).await;
    assert_eq!(pushed["commit"], first.as_str());
    assert_eq!(pushed["remoteUrl"], url.as_str());
    assert_eq!(tip(&bare, &branch).as_deref(), Some(first.as_str()));
    assert!(server.seen().iter().any(|seen| seen.accepted && seen.path.contains("git-receive-pack")));

    // The remote now protects the branch, as a forge does: its hook refuses and says why.
    let hook = bare.join("hooks").join("pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'GitLab: You are not allowed to push code to protected branches on this project.' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(Path::new(&session.cwd).join("second.txt"), "more\n").unwrap();
    client.call(method::REVIEW_COMMIT, json!({ "sessionId": session.id, "message": "A second change" })).await;
    let second = tip(&repo, &branch).unwrap();
    let error = client.try_call(method::SESSION_PUSH, push.clone()).await.unwrap_err();
    assert_eq!(error.code, error_code::GIT_ERROR);
    assert!(error.message.contains("refused") && error.message.contains("pre-receive hook declined"), "{}", error.message);
    assert!(
        error.message.contains("You are not allowed to push code to protected branches on this project"),
        "the remote's own words are in the error: {}",
        error.message
    );
    assert_eq!(tip(&bare, &branch).as_deref(), Some(first.as_str()), "the remote kept the first push");
    assert_eq!(tip(&repo, &branch).as_deref(), Some(second.as_str()), "the local branch kept the new commit");
    assert_eq!(tip(&repo, &format!("origin/{branch}")).as_deref(), Some(first.as_str()), "origin/ did not move");
    assert!(Path::new(&session.cwd).join("second.txt").exists());

    for secret in [PASSWORD, WRONG] {
        assert_secret_kept(&client, &session, secret).await;
    }
    drop(client);
    drop(child);
    for secret in [PASSWORD, WRONG] {
        assert_no_file_holds(&env.root, secret, &[store.as_path()]);
    }
    assert!(std::fs::metadata(&log).unwrap().len() > 0, "the log was written");
}

#[tokio::test]
async fn a_pull_request_uses_the_github_clis_login() {
    const TOKEN: &str = "gho_arborCliToken0123456789secret";
    let env = TestEnv::new();
    let bare = env.root.join("acme").join("widgets.git");
    let repo = work_repository(&env, &bare, &format!("file://{}", bare.display()));
    let github = MockGitHub::start(TOKEN, bare.clone()).await;
    env.write_config(json!({ "github": { "apiUrl": github.url, "pollIntervalSecs": 1 } }));
    let gh_config = env.root.join("gh");
    std::fs::create_dir_all(&gh_config).unwrap();
    assert!(Command::new("gh").arg("--version").output().is_ok_and(|out| out.status.success()), "gh is installed");

    // No token anywhere but the GitHub CLI's own configuration.
    let config_dir = gh_config.to_string_lossy().to_string();
    let vars = [
        ("GH_CONFIG_DIR", config_dir.as_str()),
        ("GH_TOKEN", ""),
        ("GITHUB_TOKEN", ""),
        ("GH_ENTERPRISE_TOKEN", ""),
        ("GITHUB_ENTERPRISE_TOKEN", ""),
    ];
    let log = log_of(&env);
    let Server { mut client, child } = env.standalone_logged(&vars, &log).await;
    let session = committed_session(&mut client, &repo).await;
    let branch = session.branch.clone().unwrap();

    // Not logged in: a clear error, and nothing pushed.
    let error = client.try_call(method::SESSION_PR, json!({ "sessionId": session.id })).await.unwrap_err();
    assert_eq!(error.code, error_code::FORGE_ERROR);
    assert!(error.message.contains("no GitHub token") && error.message.contains("gh auth login"), "{}", error.message);
    assert_eq!(tip(&bare, &branch), None, "nothing was pushed without a token");

    let host = github.url.trim_start_matches("http://").split(':').next().unwrap().to_string();
    let hosts = gh_config.join("hosts.yml");
    std::fs::write(&hosts, format!("{host}:\n    oauth_token: {TOKEN}\n    user: tester\n    git_protocol: https\n"))
        .unwrap();
    let opened: PullRequest =
        serde_json::from_value(client.call(method::SESSION_PR, json!({ "sessionId": session.id })).await).unwrap();
    assert_eq!((opened.number, opened.head_branch.as_str()), (1, branch.as_str()));
    let created = github.received().into_iter().find(|request| request.method == "POST").expect("a POST");
    assert_eq!(created.authorization.as_deref(), Some(format!("Bearer {TOKEN}").as_str()), "gh's token was used");
    assert!(tip(&bare, &branch).is_some());

    assert_secret_kept(&client, &session, TOKEN).await;
    let record: Value = serde_json::to_value(client.get(session.id).await).unwrap();
    assert_eq!(record["pullRequest"]["number"], 1);
    drop(client);
    drop(child);
    assert_no_file_holds(&env.root, TOKEN, &[hosts.as_path()]);
    assert!(std::fs::metadata(&log).unwrap().len() > 0, "the log was written");
}
