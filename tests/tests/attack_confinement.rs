//! Attacks on confinement, secrets and access, from outside the real binary: an agent that
//! plants symbolic links in its own worktree, credentials in repository URLs, Arbor's variables
//! in an agent's environment, file modes other users could read through, a runtime directory
//! planted by someone else, and a commit racing a merge on the base branch.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use arbor_protocol::{ReviewDiff, Session, error_code, method};
use arbor_tests::{Client, TestEnv, git, scripted_agent_pids};
use serde_json::{Value, json};

const CANARY: &str = "CANARY: outside the worktree\n";

/// A directory outside every worktree holding canary files, whose content and modification time
/// must never change.
struct Outside {
    dir: PathBuf,
}

impl Outside {
    fn new(env: &TestEnv, names: &[&str]) -> Outside {
        let dir = env.root.join("outside");
        std::fs::create_dir_all(&dir).unwrap();
        for name in names {
            std::fs::write(dir.join(name), CANARY).unwrap();
        }
        Outside { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Every canary is as it was, and nothing was added beside them.
    fn assert_untouched(&self, names: &[&str]) {
        let mut found: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        found.sort();
        let mut expected: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        expected.sort();
        assert_eq!(found, expected, "nothing was created outside the worktree");
        for name in names {
            assert_eq!(std::fs::read_to_string(self.dir.join(name)).unwrap(), CANARY, "{name} was written");
        }
    }
}

fn is_link(path: impl AsRef<Path>) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|metadata| metadata.file_type().is_symlink())
}

fn mode(path: impl AsRef<Path>) -> u32 {
    let path = path.as_ref();
    std::fs::metadata(path).unwrap_or_else(|error| panic!("{}: {error}", path.display())).mode() & 0o777
}

/// `session/new` with `params`, which must succeed.
async fn new_session(client: &Client, params: Value) -> Session {
    serde_json::from_value(client.call(method::SESSION_NEW, params).await).expect("a Session")
}

/// Starts a scripted session, subscribes and waits for its first turn.
async fn run_session(client: &mut Client, repo: &Path, script: &str) -> Session {
    let session = client.scripted_session(repo, script, Some("go")).await;
    client.subscribe(session.id, 0).await;
    client.wait_turns(session.id, 1).await;
    client.get(session.id).await
}

#[tokio::test]
async fn the_scripted_agent_does_not_inherit_arbors_variables() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut child = env
        .command()
        .args(["lsp", "--standalone"])
        .env("ARBOR_SECRET_TOKEN", "do-not-leak")
        .env("ARBOR_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut client = Client::new(child.stdout.take().unwrap(), child.stdin.take().unwrap());
    client.initialize().await;
    let session = run_session(&mut client, &repo, "say ready").await;
    let pids = scripted_agent_pids(&env.root);
    assert_eq!(pids.len(), 1, "one scripted agent runs: {pids:?}");
    let environ = std::fs::read(format!("/proc/{}/environ", pids[0])).unwrap();
    let variables: Vec<String> =
        environ.split(|byte| *byte == 0).map(|entry| String::from_utf8_lossy(entry).into_owned()).collect();
    assert!(
        variables.iter().any(|variable| variable.starts_with("PATH=")),
        "the rest of the environment: {variables:?}"
    );
    // The one Arbor variable an agent gets is the one Arbor sets for it: its session's id.
    let arbor: Vec<&String> = variables.iter().filter(|variable| variable.starts_with("ARBOR_")).collect();
    assert_eq!(arbor, vec![&format!("ARBOR_SESSION_ID={}", session.id)], "{variables:?}");
    assert!(!String::from_utf8_lossy(&environ).contains("do-not-leak"));
}

#[tokio::test]
async fn data_logs_worktrees_and_the_store_are_owner_only_and_old_ones_are_tightened() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    // What an earlier version left behind: an open data directory, database and log.
    let data = env.data_dir();
    std::fs::create_dir_all(data.join("logs")).unwrap();
    for dir in [&data, &data.join("logs")] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let old_log = data.join("logs").join("old.log");
    std::fs::write(&old_log, "an old transcript\n").unwrap();
    std::fs::set_permissions(&old_log, std::fs::Permissions::from_mode(0o644)).unwrap();
    // SAFETY: umask(2) only sets this process's file mode mask; an open mask shows modes Arbor
    // chose rather than ones the mask narrowed.
    let previous = unsafe { libc::umask(0) };
    let mut server = env.standalone().await;
    unsafe { libc::umask(previous) };
    let session = run_session(&mut server.client, &repo, "say hello\nrun echo to-stderr >&2").await;

    for dir in [data.clone(), data.join("logs"), data.join("worktrees"), data.join("repositories")] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    let database = data.join("arbor.db");
    for file in [database.clone(), data.join("arbor.db-wal"), data.join("arbor.db-shm"), old_log] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    let session_log = data.join("logs").join(format!("{}.log", session.id));
    assert!(session_log.exists(), "the agent's stderr is logged");
    assert_eq!(mode(&session_log), 0o600);
}

/// `arbor daemon` with the default runtime directory under `tmp`, as on a machine without
/// XDG_RUNTIME_DIR; a daemon that is still running after a few seconds (it accepted the
/// directory) is killed.
async fn daemon_with_default_runtime_dir(env: &TestEnv, tmp: &Path) -> std::process::Output {
    let child = tokio::process::Command::new(arbor_tests::arbor_bin())
        .current_dir(&env.root)
        .arg("--data-dir")
        .arg(env.data_dir())
        .arg("--config")
        .arg(env.config_file())
        .arg("daemon")
        .env_remove("XDG_RUNTIME_DIR")
        .env("TMPDIR", tmp)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), child.wait_with_output())
        .await
        .expect("the daemon accepted the runtime directory and kept running")
        .unwrap()
}

#[tokio::test]
async fn a_runtime_directory_planted_by_someone_else_is_refused() {
    let env = TestEnv::new();
    let tmp = env.root.join("tmp");
    let elsewhere = env.root.join("elsewhere");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o755)).unwrap();
    // SAFETY: getuid(2) cannot fail.
    let runtime = tmp.join(format!("arbor-{}", unsafe { libc::getuid() }));

    std::os::unix::fs::symlink(&elsewhere, &runtime).unwrap();
    let output = daemon_with_default_runtime_dir(&env, &tmp).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "nothing was created through the link");
    assert_eq!(mode(&elsewhere), 0o755, "the link's target was not touched");

    std::fs::remove_file(&runtime).unwrap();
    std::fs::create_dir(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = daemon_with_default_runtime_dir(&env, &tmp).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("other users can enter it (mode 755"), "{stderr}");
    assert_eq!(std::fs::read_dir(&runtime).unwrap().count(), 0);
}

#[tokio::test]
async fn review_file_never_reads_through_a_planted_link() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let outside = Outside::new(&env, &["passwd"]);
    let script = format!("run ln -s {} etcdir && ln -s {} leak.txt", outside.dir.display(), outside.path("passwd"));
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = run_session(client, &repo, &script).await;
    assert!(is_link(Path::new(&session.cwd).join("etcdir")), "the agent planted its link");

    let refused = client
        .try_call(method::REVIEW_FILE, json!({ "sessionId": session.id, "path": "etcdir/passwd" }))
        .await
        .unwrap_err();
    assert_eq!(refused.code, error_code::NOT_FOUND, "{}", refused.message);
    assert!(!refused.message.contains("CANARY"));
    let leaf = client.call(method::REVIEW_FILE, json!({ "sessionId": session.id, "path": "leak.txt" })).await;
    assert_eq!(leaf["currentText"], json!(outside.path("passwd")), "a link is shown as a link, as git stores it");
    let diff = client.call(method::REVIEW_DIFF, json!({ "sessionId": session.id })).await;
    assert!(!diff.to_string().contains("CANARY"), "{diff}");
    outside.assert_untouched(&["passwd"]);
}

/// The base holds `sub/file.txt` and `notes.txt`; the agent replaces the directory and the file
/// by links to the canaries.
async fn session_with_planted_links(client: &mut Client, repo: &Path, outside: &Outside) -> Session {
    let script = format!(
        "run rm -rf sub notes.txt && ln -s {} sub && ln -s {} notes.txt",
        outside.dir.display(),
        outside.path("notes-canary")
    );
    let session = run_session(client, repo, &script).await;
    assert!(is_link(Path::new(&session.cwd).join("sub")) && is_link(Path::new(&session.cwd).join("notes.txt")));
    session
}

#[tokio::test]
async fn review_apply_never_stages_or_writes_through_a_planted_link() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    env.commit_files(&repo, &[("sub/file.txt", "base line\n"), ("notes.txt", "base notes\n")], "base files");
    let names = ["file.txt", "notes-canary"];
    let outside = Outside::new(&env, &names);
    let mut server = env.standalone().await;
    let client = &mut server.client;

    let session = session_with_planted_links(client, &repo, &outside).await;
    let worktree = PathBuf::from(&session.cwd);
    let paths = json!(["sub/file.txt", "notes.txt"]);
    client.call(method::REVIEW_APPLY, json!({ "sessionId": session.id, "action": "accept", "paths": paths })).await;
    let staged = git(&worktree, &["ls-files", "--stage"]);
    assert!(!staged.contains("sub/file.txt"), "a path through a link is staged as deleted: {staged}");
    assert!(staged.lines().any(|line| line.starts_with("120000") && line.ends_with("notes.txt")), "{staged}");
    assert_eq!(git(&worktree, &["cat-file", "-p", ":notes.txt"]), outside.path("notes-canary"));
    outside.assert_untouched(&names);

    client.call(method::REVIEW_APPLY, json!({ "sessionId": session.id, "action": "reject", "paths": paths })).await;
    outside.assert_untouched(&names);
    assert!(!is_link(worktree.join("sub")) && !is_link(worktree.join("notes.txt")), "the links were replaced");
    assert_eq!(std::fs::read_to_string(worktree.join("sub/file.txt")).unwrap(), "base line\n");
    assert_eq!(std::fs::read_to_string(worktree.join("notes.txt")).unwrap(), "base notes\n");
    assert_eq!(git(&worktree, &["status", "--porcelain"]), "", "the worktree is back at its base");

    // Rejecting hunk by hunk goes through libgit2's apply, which must not write through the link.
    let session = session_with_planted_links(client, &repo, &outside).await;
    let worktree = PathBuf::from(&session.cwd);
    let diff: ReviewDiff =
        serde_json::from_value(client.call(method::REVIEW_DIFF, json!({ "sessionId": session.id })).await).unwrap();
    let hunk_ids: Vec<String> = diff
        .files
        .iter()
        .filter(|file| file.path == "sub/file.txt")
        .flat_map(|file| file.hunks.iter().flatten().map(|hunk| hunk.id.clone()))
        .collect();
    assert_eq!(hunk_ids.len(), 1, "{diff:?}");
    client
        .call(method::REVIEW_APPLY, json!({ "sessionId": session.id, "action": "reject", "hunkIds": hunk_ids }))
        .await;
    outside.assert_untouched(&names);
    assert!(!is_link(worktree.join("sub")));
    assert_eq!(std::fs::read_to_string(worktree.join("sub/file.txt")).unwrap(), "base line\n");
}

#[tokio::test]
async fn setup_files_never_follow_a_committed_link_and_a_refused_list_leaves_nothing_behind() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let names = ["canary.env"];
    let outside = Outside::new(&env, &names);
    std::os::unix::fs::symlink(outside.path("canary.env"), repo.join("link.env")).unwrap();
    std::os::unix::fs::symlink(&outside.dir, repo.join("conf")).unwrap();
    git(&repo, &["add", "link.env", "conf"]);
    git(&repo, &["commit", "-q", "-m", "links"]);
    let mut server = env.standalone().await;
    let client = &mut server.client;

    let session = new_session(
        client,
        json!({ "cwd": repo, "agent": "scripted", "setupFiles": ["link.env", "conf/canary.env"],
                "config": { "script": "say hi" } }),
    )
    .await;
    outside.assert_untouched(&names);
    let worktree = PathBuf::from(&session.cwd);
    assert_eq!(std::fs::read_link(worktree.join("link.env")).unwrap(), outside.dir.join("canary.env"));
    assert!(is_link(worktree.join("conf")), "a path through a link is not copied");

    let branches_before = git(&repo, &["branch", "--list", "arbor/*"]);
    let worktrees_before = std::fs::read_dir(env.data_dir().join("worktrees")).unwrap().count();
    for bad in ["/etc/hostname", "../outside/canary.env"] {
        let refused = client
            .try_call(method::SESSION_NEW, json!({ "cwd": repo, "agent": "scripted", "setupFiles": ["link.env", bad] }))
            .await
            .unwrap_err();
        assert_eq!(refused.code, error_code::INVALID_ARGUMENT, "{}", refused.message);
        assert!(refused.message.contains(bad), "{}", refused.message);
    }
    assert_eq!(git(&repo, &["branch", "--list", "arbor/*"]), branches_before, "no branch was left behind");
    assert_eq!(std::fs::read_dir(env.data_dir().join("worktrees")).unwrap().count(), worktrees_before);
    assert_eq!(git(&repo, &["worktree", "list"]).lines().count(), 2, "only the first session's worktree is registered");
    outside.assert_untouched(&names);
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        let file_type = entry.file_type().unwrap();
        if file_type.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if file_type.is_file()
            && std::fs::read(&path)
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|window| window == needle.as_bytes()))
        {
            found.push(path);
        }
    }
    found
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn credentials_in_a_repository_url_appear_in_no_message_log_or_file() {
    const SECRET: &str = "s3cret-Passw0rd";
    let env = TestEnv::new();
    let source = env.repo("origin");
    // `git daemon` serves the repository over git://, which takes no credentials, so the clone
    // succeeds and what it left behind can be searched.
    let served = env.root.join("served");
    std::fs::create_dir_all(&served).unwrap();
    git(&env.root, &["clone", "-q", "--bare", source.to_str().unwrap(), served.join("origin.git").to_str().unwrap()]);
    let port = free_port();
    let _git_daemon = tokio::process::Command::new("git")
        .args(["daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1", &format!("--port={port}")])
        .arg(format!("--base-path={}", served.display()))
        .arg(&served)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    arbor_tests::wait_until("git daemon listens", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()).await;

    let mut server = env.bridge().await;
    let client = &mut server.client;
    let cloned = format!("git://reader:{SECRET}@127.0.0.1:{port}/origin.git");
    let unreachable = format!("http://reader:{SECRET}@127.0.0.1:{}/origin.git", free_port());
    let session = client
        .call(
            method::SESSION_NEW,
            json!({ "repositoryUrl": cloned, "agent": "scripted", "config": { "script": "say cloned" },
                    "workDoneToken": "clone-1" }),
        )
        .await;
    assert!(!session.to_string().contains(SECRET), "{session}");
    let refused = client
        .try_call(
            method::SESSION_NEW,
            json!({ "repositoryUrl": unreachable, "agent": "scripted", "workDoneToken": "clone-2" }),
        )
        .await
        .unwrap_err();
    assert!(refused.message.contains("could not clone"), "{}", refused.message);
    assert!(!refused.message.contains(SECRET), "{}", refused.message);
    assert!(
        refused.message.contains("http://127.0.0.1:"),
        "the URL is shown without its userinfo: {}",
        refused.message
    );

    arbor_tests::wait_until("both progress ends arrive", || {
        client.drain();
        client.others.iter().filter(|notification| notification.params["value"]["kind"] == "end").count() == 2
    })
    .await;
    let progress: Vec<&Value> = client.others.iter().map(|notification| &notification.params).collect();
    assert!(
        progress.iter().any(|params| params["value"]["message"]
            .as_str()
            .is_some_and(|text| text.starts_with("Cloning git://127.0.0.1"))),
        "{progress:?}"
    );
    assert!(!format!("{progress:?}").contains(SECRET), "{progress:?}");
    let clone = PathBuf::from(session["repoRoot"].as_str().unwrap());
    assert!(
        std::fs::read_to_string(clone.join(".git/config"))
            .unwrap()
            .contains(&format!("git://127.0.0.1:{port}/origin.git"))
    );
    client.call(method::SESSION_STOP, json!({ "sessionId": session["id"] })).await;
    let leaks = files_containing(&env.root.join("data"), SECRET);
    assert!(leaks.is_empty(), "the secret is stored in {leaks:?}");
}

#[tokio::test]
async fn a_commit_racing_a_merge_on_the_base_branch_is_never_lost() {
    const MERGES: usize = 20;
    let env = TestEnv::new();
    let repo = env.repo("repo");
    git(&repo, &["branch", "release"]);
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = new_session(
        client,
        json!({ "cwd": repo, "agent": "scripted", "baseBranch": "release", "config": { "script": "say hi" } }),
    )
    .await;
    let worktree = PathBuf::from(&session.cwd);

    // Someone else commits on the base as fast as git allows, moving it with its own
    // compare-and-swap (`update-ref NEW OLD`), so every commit it reports did land.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let racer = {
        let (repo, stop) = (repo.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut landed = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let old = git(&repo, &["rev-parse", "release"]);
                let new = git(&repo, &["commit-tree", &format!("{old}^{{tree}}"), "-p", &old, "-m", "racer"]);
                let moved = std::process::Command::new("git")
                    .args(["update-ref", "refs/heads/release", &new, &old])
                    .current_dir(&repo)
                    .output()
                    .unwrap();
                if moved.status.success() {
                    landed.push(new);
                }
            }
            landed
        })
    };
    let commit_work = |round: usize| {
        std::fs::write(worktree.join(format!("round-{round}.txt")), "work\n").unwrap();
        git(&worktree, &["add", "."]);
        git(&worktree, &["-c", "user.name=Test", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "work"]);
    };
    let (mut merged, mut refused) = (Vec::new(), 0);
    for round in 0..MERGES {
        commit_work(round);
        match client.try_call(method::SESSION_MERGE, json!({ "sessionId": session.id })).await {
            Ok(result) => merged.push(result["commit"].as_str().unwrap().to_string()),
            Err(error) => {
                assert!(error.message.contains("release moved while the merge was prepared"), "{}", error.message);
                refused += 1;
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let landed = racer.join().unwrap();
    assert!(!landed.is_empty(), "the racer committed while the merges ran");
    for commit in landed.iter().chain(&merged) {
        let kept = std::process::Command::new("git")
            .args(["merge-base", "--is-ancestor", commit, "release"])
            .current_dir(&repo)
            .status()
            .unwrap();
        assert!(kept.success(), "commit {commit} was lost from release ({} merged, {refused} refused)", merged.len());
    }
    // With nobody racing, the merge goes through.
    commit_work(MERGES);
    let result = client.call(method::SESSION_MERGE, json!({ "sessionId": session.id })).await;
    assert_eq!(result["merged"], json!(true));
}
