//! Benchmark (not a test) of the git layer on a generated repository (10,000 files unless told),
//! each figure beside the git CLI doing the same job in the same run:
//! - session worktree creation (`session/new` through the daemon) beside `git worktree add`;
//! - `review/diff` over 1,000 changed files beside `git diff` (every hunk's lines), and its
//!   stats-only form beside `git diff --stat` (and `git status`, which, like the review and
//!   unlike `git diff`, looks for untracked files too);
//! - a checkpoint beside a temporary-index `git add -A` + `write-tree` + `commit-tree`.
//!
//! `cargo run --release -p arbor-tests --bin git-bench -- [files] [changed] [rounds]`

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use arbor_protocol::{Session, SessionStatus, method};
use arbor_server::git::checkpoint;
use arbor_tests::{TestEnv, git};
use serde_json::json;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(duration: Duration) -> String {
    format!("{:8.1} ms", duration.as_secs_f64() * 1000.0)
}

fn timed(run: impl FnOnce()) -> Duration {
    let started = Instant::now();
    run();
    started.elapsed()
}

fn git_quiet(dir: &Path, args: &[&str], index: Option<&Path>) {
    let mut command = Command::new("git");
    command.args(args).current_dir(dir);
    if let Some(index) = index {
        command.env("GIT_INDEX_FILE", index);
    }
    let output = command.output().expect("run git");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1).map(|value| value.parse::<usize>().expect("a number"));
    let files = args.next().unwrap_or(10_000);
    let changed = args.next().unwrap_or(1_000);
    let rounds = args.next().unwrap_or(5);
    let env = TestEnv::new();
    let repo = env.repo("big");
    for index in 0..files {
        let path = repo.join(format!("dir{:03}/file{index:05}.txt", index % 100));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let body: String = (0..12).map(|line| format!("file {index} line {line}\n")).collect();
        std::fs::write(path, body).unwrap();
    }
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "generated"]);

    let _daemon = env.daemon().await;
    let client = env.socket_client().await;

    let mut arbor_create = Vec::new();
    let mut cli_create = Vec::new();
    let mut sessions = Vec::new();
    // Each creation is timed alone: the previous session's start (its first look at the worktree's
    // status) is waited for, and Arbor and git take turns going first, so that neither pays for the
    // other's work or for the cold first checkout of the repository's loose objects.
    for round in 0..rounds {
        let target = env.root.join(format!("cli-worktree-{round}"));
        let git_add = || {
            git_quiet(
                &repo,
                &["worktree", "add", "-q", "-b", &format!("bench-{round}"), target.to_str().unwrap(), "main"],
                None,
            )
        };
        if round % 2 == 1 {
            cli_create.push(timed(git_add));
        }
        let started = Instant::now();
        let session: Session = serde_json::from_value(
            client
                .call(
                    method::SESSION_NEW,
                    json!({ "cwd": repo, "agent": "scripted", "config": { "script": "say ok" } }),
                )
                .await,
        )
        .unwrap();
        arbor_create.push(started.elapsed());
        client
            .wait_status(session.id, |status| !matches!(status, SessionStatus::Pending | SessionStatus::Creating))
            .await;
        // Stopped, so that more rounds than the running limit never wait for a free slot; its
        // worktree stays for the review.
        client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await;
        sessions.push(session);
        if round % 2 == 0 {
            cli_create.push(timed(git_add));
        }
    }

    // Change `changed` files in the first session's worktree and in the first CLI worktree alike.
    let session = &sessions[0];
    let cli_tree = env.root.join("cli-worktree-0");
    for tree in [Path::new(&session.cwd), cli_tree.as_path()] {
        for index in (0..files).step_by((files / changed).max(1)).take(changed) {
            let path = tree.join(format!("dir{:03}/file{index:05}.txt", index % 100));
            let text = std::fs::read_to_string(&path).unwrap().replace("line 5\n", "line five (changed)\n");
            std::fs::write(path, text).unwrap();
        }
    }
    let mut arbor_diff = Vec::new();
    let mut arbor_stats = Vec::new();
    let mut cli_diff = Vec::new();
    let mut cli_patch = Vec::new();
    let mut cli_status = Vec::new();
    let mut reported = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        let diff = client.call(method::REVIEW_DIFF, json!({ "sessionId": session.id, "maxBytes": u64::MAX })).await;
        arbor_diff.push(started.elapsed());
        reported = diff["stats"]["filesChanged"].as_u64().unwrap();
        let started = Instant::now();
        client.call(method::REVIEW_DIFF, json!({ "sessionId": session.id, "statsOnly": true })).await;
        arbor_stats.push(started.elapsed());
        cli_diff.push(timed(|| git_quiet(&cli_tree, &["diff", "--stat"], None)));
        cli_patch.push(timed(|| git_quiet(&cli_tree, &["diff"], None)));
        // `git diff` leaves untracked files out; the review shows them, as `git status` does.
        cli_status.push(timed(|| git_quiet(&cli_tree, &["status", "--porcelain", "--untracked-files=all"], None)));
    }

    let mut arbor_checkpoint = Vec::new();
    let mut cli_checkpoint = Vec::new();
    let base = session.base_commit.clone().unwrap();
    for round in 0..rounds {
        let worktree = Path::new(&session.cwd);
        arbor_checkpoint.push(timed(|| {
            checkpoint::create(worktree, "bench", 100 + round as u32, "benchmark", &base).unwrap();
        }));
        let index = env.root.join(format!("bench-index-{round}"));
        cli_checkpoint.push(timed(|| {
            git_quiet(&cli_tree, &["read-tree", "HEAD"], Some(&index));
            git_quiet(&cli_tree, &["add", "-A"], Some(&index));
            let tree = Command::new("git")
                .args(["write-tree"])
                .env("GIT_INDEX_FILE", &index)
                .current_dir(&cli_tree)
                .output()
                .unwrap();
            let tree = String::from_utf8_lossy(&tree.stdout).trim().to_string();
            git_quiet(&cli_tree, &["commit-tree", &tree, "-p", "HEAD", "-m", "bench"], None);
        }));
    }

    println!("git-bench: {files} files, {changed} changed, median of {rounds} rounds");
    println!(
        "  worktree creation   arbor session/new {}   git worktree add {}",
        ms(median(arbor_create)),
        ms(median(cli_create))
    );
    println!(
        "  diff ({reported} files)   arbor review/diff {}   git diff {}",
        ms(median(arbor_diff)),
        ms(median(cli_patch))
    );
    println!(
        "  stats only          arbor review/diff {}   git diff --stat {}",
        ms(median(arbor_stats)),
        ms(median(cli_diff))
    );
    println!("  the worktree's state (untracked files too)   git status --porcelain -uall {}", ms(median(cli_status)));
    println!(
        "  checkpoint          arbor {}   git add -A + write-tree + commit-tree (temp index) {}",
        ms(median(arbor_checkpoint)),
        ms(median(cli_checkpoint))
    );
}
