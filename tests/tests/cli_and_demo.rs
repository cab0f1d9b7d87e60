//! The command line a person uses without an editor, and the README's demo, run as the real
//! binary.

use arbor_tests::{TestEnv, git};

async fn arbor(env: &TestEnv, args: &[&str]) -> String {
    let output = env.command().args(args).output().await.expect("run arbor");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "arbor {args:?} failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[tokio::test]
async fn session_commands_work_through_the_daemon() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let script = env.root.join("reply.script");
    std::fs::write(&script, "say The answer is 42.\nwrite answer.txt <<END\n42\nEND\nturn\nsay Follow-up: {prompt}\n")
        .unwrap();
    let repo_arg = repo.display().to_string();
    let script_arg = script.display().to_string();

    let created = arbor(
        &env,
        &["session", "new", "--cwd", &repo_arg, "--script", &script_arg, "--prompt", "What is the answer?", "--wait"],
    )
    .await;
    assert!(created.contains("agent: The answer is 42."), "{created}");
    assert!(created.contains("▸ Write answer.txt"), "{created}");
    assert!(created.contains("turn ended (end_turn)"), "{created}");
    assert!(created.contains("status    running, idle"), "{created}");
    let id = created
        .lines()
        .find_map(|line| line.strip_prefix("started session "))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();

    let listed = arbor(&env, &["session", "list"]).await;
    assert!(
        listed.contains(&id[..8]) && listed.contains("What is the answer?") && listed.contains("running"),
        "{listed}"
    );
    let filtered = arbor(&env, &["session", "list", "--status", "stopped"]).await;
    assert!(filtered.contains("0 of 0 sessions"), "{filtered}");

    let followed = arbor(&env, &["session", "prompt", &id[..8], "more please", "--wait"]).await;
    assert!(followed.contains("Follow-up: more please"), "{followed}");

    let stopped = arbor(&env, &["session", "stop", &id[..8]]).await;
    assert!(stopped.contains("is stopped"), "{stopped}");
    let shown = arbor(&env, &["session", "show", &id]).await;
    assert!(shown.contains("you: What is the answer?") && shown.contains("you: more please"), "{shown}");
    assert!(shown.contains("agent: The answer is 42."), "{shown}");
    assert!(shown.contains("· stopped"), "{shown}");

    let deleted = arbor(&env, &["session", "delete", &id]).await;
    let branch = deleted
        .lines()
        .find_map(|line| line.strip_prefix("its work is kept on branch "))
        .expect("the branch is named")
        .to_string();
    assert_eq!(git(&repo, &["show", &format!("{branch}:answer.txt")]), "42");

    let agents = arbor(&env, &["agents"]).await;
    assert!(agents.contains("scripted") && agents.contains("available"), "{agents}");
}

#[tokio::test]
async fn the_demo_shows_a_whole_session_and_where_its_data_lives() {
    let env = TestEnv::new();
    let dir = env.root.join("demo");
    let output = arbor(&env, &["demo", "--dir", &dir.display().to_string()]).await;
    for expected in [
        "built-in scripted agent",
        "you: Add a greeting script",
        "▸ Write greeting.sh",
        "? permission: Run the check script",
        "│ greeting ok",
        "turn ended (end_turn)",
        "2 files changed, 7 insertions(+), 0 deletions(-)",
        "store (SQLite)",
    ] {
        assert!(output.contains(expected), "demo output lacks {expected:?}:\n{output}");
    }
    let worktree = std::fs::read_dir(dir.join("data/worktrees")).unwrap().next().unwrap().unwrap().path();
    assert_eq!(
        std::process::Command::new("sh").arg("check.sh").current_dir(&worktree).output().unwrap().stdout,
        b"greeting ok\n"
    );
    assert!(dir.join("data/arbor.db").exists());
}
