//! The git layer on real repositories: checkpoints, fork, clone, rewind, review and hunk
//! apply, commit and merge (with conflicts and a dirty base checkout), clone by URL, setup files,
//! progress, orphans, changes made outside Arbor, and two sessions side by side.

use std::path::{Path, PathBuf};

use arbor_protocol::{
    CheckpointsResult, FileStatus, HunkState, MergeResult, ReviewDiff, Session, SessionEvent, SessionStatus,
    error_code, method,
};
use arbor_tests::{Client, TestEnv, git};
use serde_json::json;

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("read: {error}"))
}

async fn diff(client: &Client, session: &Session) -> ReviewDiff {
    serde_json::from_value(client.call(method::REVIEW_DIFF, json!({ "sessionId": session.id })).await).unwrap()
}

/// `review/apply` of `action` to the hunks `hunk_ids`, and the review as it stands after.
async fn apply_to_hunks(client: &Client, session: &Session, action: &str, hunk_ids: &[String]) -> ReviewDiff {
    let params = json!({ "sessionId": session.id, "action": action, "hunkIds": hunk_ids });
    serde_json::from_value(client.call(method::REVIEW_APPLY, params).await).unwrap()
}

async fn checkpoints(client: &Client, session: &Session) -> CheckpointsResult {
    serde_json::from_value(client.call(method::SESSION_CHECKPOINTS, json!({ "sessionId": session.id })).await).unwrap()
}

/// Starts a scripted session, subscribes and waits for `turns` turns.
async fn run_session(client: &mut Client, repo: &Path, script: &str, prompt: &str, turns: usize) -> Session {
    let session = client.scripted_session(repo, script, Some(prompt)).await;
    client.subscribe(session.id, 0).await;
    client.wait_turns(session.id, turns).await;
    client.get(session.id).await
}

const TWO_TURNS: &str =
    "write one.txt <<END\nfirst\nEND\nwrite debug.log <<END\nignored\nEND\nturn\nwrite two.txt <<END\nsecond\nEND";

#[tokio::test]
async fn checkpoints_after_every_turn_leave_head_index_and_branches_alone() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    env.commit_files(&repo, &[(".gitignore", "*.log\n")], "ignore logs");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = run_session(client, &repo, TWO_TURNS, "go", 1).await;
    let worktree = PathBuf::from(&session.cwd);
    let head_before = git(&worktree, &["rev-parse", "HEAD"]);
    let status_before = git(&worktree, &["status", "--porcelain"]);
    client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "more" })).await;
    client.wait_turns(session.id, 2).await;

    let list = checkpoints(client, &session).await.checkpoints;
    assert_eq!(list.iter().map(|entry| entry.checkpoint.checkpoint_id).collect::<Vec<_>>(), vec![1, 2]);
    let second = &list[1].checkpoint;
    assert_eq!(second.reference, format!("refs/arbor/checkpoints/{}/2", session.id));
    assert_eq!(git(&repo, &["rev-parse", &second.reference]), second.commit, "the ref is in the user's repository");
    let files = git(&repo, &["ls-tree", "-r", "--name-only", &second.commit]);
    assert!(files.contains("one.txt") && files.contains("two.txt"), "untracked files are in the checkpoint: {files}");
    assert!(!files.contains("debug.log"), "ignored files are not");
    assert_eq!(second.files_changed, 2);
    assert_eq!(git(&worktree, &["rev-parse", "HEAD"]), head_before, "HEAD untouched");
    assert_eq!(git(&worktree, &["diff", "--cached", "--name-only"]), "", "index untouched");
    assert!(git(&worktree, &["status", "--porcelain"]).contains(&status_before));
    assert_eq!(
        git(&repo, &["rev-parse", "main"]),
        git(&repo, &["rev-parse", &format!("{}~0", session.base_commit.clone().unwrap())])
    );

    let checkpoint_events =
        client.events.iter().filter(|event| matches!(event.event, SessionEvent::Checkpoint(_))).count();
    assert_eq!(checkpoint_events, 2);
    let changed: Vec<Vec<String>> = client
        .events
        .iter()
        .filter_map(|event| match &event.event {
            SessionEvent::FilesChanged { paths } => Some(paths.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        changed,
        vec![vec!["one.txt".to_string()], vec!["two.txt".to_string()]],
        "files_changed names what changed"
    );
}

#[tokio::test]
async fn fork_rewind_and_clone() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let script = format!("{TWO_TURNS}\nturn\nsay third turn: {{prompt}}");
    let session = run_session(client, &repo, &script, "go", 1).await;
    client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "again" })).await;
    client.wait_turns(session.id, 2).await;
    let first_checkpoint = checkpoints(client, &session).await.checkpoints[0].clone();

    // Fork at checkpoint 1: the files as they were then, the history up to then, a notice.
    let fork: Session = serde_json::from_value(
        client
            .call(
                method::SESSION_FORK,
                json!({ "sessionId": session.id, "checkpointId": 1, "prompt": "forked prompt" }),
            )
            .await,
    )
    .unwrap();
    assert_eq!((fork.forked_from, fork.forked_at_seq), (Some(session.id), Some(first_checkpoint.seq)));
    assert_ne!(fork.branch, session.branch);
    let fork_tree = PathBuf::from(&fork.cwd);
    assert_eq!(read(fork_tree.join("one.txt")), "first\n");
    assert!(!fork_tree.join("two.txt").exists(), "the fork's files are checkpoint 1's");
    assert!(
        !PathBuf::from(&session.cwd).join("two.txt").exists()
            || read(PathBuf::from(&session.cwd).join("two.txt")) == "second\n"
    );
    client.subscribe(fork.id, 0).await;
    // The carried history ends at the checkpoint, before that turn's turn_ended.
    client.wait_turns(fork.id, 1).await;
    let fork_events: Vec<_> = client.events.iter().filter(|event| event.session_id == fork.id).cloned().collect();
    let parent_events: Vec<_> = client.events.iter().filter(|event| event.session_id == session.id).cloned().collect();
    let carried = first_checkpoint.seq as usize;
    for (copied, original) in fork_events[..carried].iter().zip(&parent_events[..carried]) {
        assert_eq!(
            (copied.seq, &copied.event),
            (original.seq, &original.event),
            "history up to the checkpoint is carried"
        );
    }
    assert!(
        matches!(&fork_events[carried].event, SessionEvent::Notice { message } if message.contains("cannot fork a conversation"))
    );
    assert!(
        fork_events
            .iter()
            .any(|event| matches!(&event.event, SessionEvent::UserMessage { text } if text == "forked prompt"))
    );

    // Rewind the parent to checkpoint 1: turn 2's file goes, and the state it replaced is kept.
    let rewound = client.call(method::SESSION_REWIND, json!({ "sessionId": session.id, "checkpointId": 1 })).await;
    let worktree = PathBuf::from(&session.cwd);
    assert!(!worktree.join("two.txt").exists());
    assert_eq!(read(worktree.join("one.txt")), "first\n");
    let saved = rewound["saved"]["commit"].as_str().unwrap();
    assert!(
        git(&repo, &["ls-tree", "-r", "--name-only", saved]).contains("two.txt"),
        "the replaced state is a checkpoint"
    );
    client
        .wait_event(session.id, |event| {
            matches!(event, SessionEvent::Rewound { to_checkpoint: 1, saved_checkpoint: 3 })
        })
        .await;
    let missing = client
        .try_call(method::SESSION_REWIND, json!({ "sessionId": session.id, "checkpointId": 42 }))
        .await
        .unwrap_err();
    assert_eq!(missing.code, error_code::NOT_FOUND);

    // Clone: same settings, fresh history and worktree from the base.
    let clone: Session = serde_json::from_value(
        client.call(method::SESSION_CLONE, json!({ "sessionId": session.id, "prompt": "clone prompt" })).await,
    )
    .unwrap();
    assert_eq!(
        (clone.agent.as_str(), &clone.config, clone.base_branch.as_deref()),
        ("scripted", &session.config, Some("main"))
    );
    assert!(!PathBuf::from(&clone.cwd).join("one.txt").exists() || clone.status != SessionStatus::Pending);
    client.subscribe(clone.id, 0).await;
    client.wait_turns(clone.id, 1).await;
    assert_eq!(client.events.iter().find(|event| event.session_id == clone.id).unwrap().seq, 1, "a fresh history");
    assert_eq!(read(PathBuf::from(&clone.cwd).join("one.txt")), "first\n", "the clone ran its own first turn");
}

#[tokio::test]
async fn review_diff_covers_every_kind_of_change_with_stable_hunk_ids() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let lines: String = (1..=40).map(|number| format!("line {number}\n")).collect();
    env.commit_files(
        &repo,
        &[("src/long.txt", &lines), ("gone.txt", "bye\n"), ("docs/guide.md", &"guide text\n".repeat(20))],
        "files",
    );
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = run_session(client, &repo, "say nothing to do", "go", 1).await;
    let worktree = PathBuf::from(&session.cwd);
    std::fs::write(
        worktree.join("src/long.txt"),
        lines.replace("line 3\n", "line three\n").replace("line 30\n", "line thirty\n"),
    )
    .unwrap();
    std::fs::remove_file(worktree.join("gone.txt")).unwrap();
    std::fs::write(worktree.join("new.txt"), "brand new\n").unwrap();
    std::fs::write(worktree.join("image.bin"), [0u8, 1, 2, 3, 0, 255]).unwrap();
    std::fs::create_dir_all(worktree.join("manual")).unwrap();
    std::fs::rename(worktree.join("docs/guide.md"), worktree.join("manual/guide.md")).unwrap();

    let review = diff(client, &session).await;
    let status_of = |path: &str| review.files.iter().find(|file| file.path == path).map(|file| file.status);
    assert_eq!(status_of("src/long.txt"), Some(FileStatus::Modified));
    assert_eq!(status_of("gone.txt"), Some(FileStatus::Deleted));
    assert_eq!(status_of("new.txt"), Some(FileStatus::Added));
    assert_eq!(status_of("manual/guide.md"), Some(FileStatus::Renamed));
    let renamed = review.files.iter().find(|file| file.path == "manual/guide.md").unwrap();
    assert_eq!(renamed.old_path.as_deref(), Some("docs/guide.md"));
    let binary = review.files.iter().find(|file| file.path == "image.bin").unwrap();
    assert!(binary.binary && binary.hunks.is_none());
    let long = review.files.iter().find(|file| file.path == "src/long.txt").unwrap();
    let hunks = long.hunks.clone().unwrap();
    assert_eq!(hunks.len(), 2);
    assert_eq!((long.additions, long.deletions), (2, 2));
    assert_eq!(review.stats.files_changed, review.files.len() as u32);

    // Ids are stable while the change is the same, even when another hunk of the file changes.
    assert_eq!(diff(client, &session).await.files, review.files);
    std::fs::write(
        worktree.join("src/long.txt"),
        lines.replace("line 3\n", "line three\n").replace("line 30\n", "line THIRTY\n"),
    )
    .unwrap();
    let edited = diff(client, &session).await;
    let edited_hunks = edited.files.iter().find(|file| file.path == "src/long.txt").unwrap().hunks.clone().unwrap();
    assert_eq!(edited_hunks[0].id, hunks[0].id);
    assert_ne!(edited_hunks[1].id, hunks[1].id);

    let stats: ReviewDiff = serde_json::from_value(
        client.call(method::REVIEW_DIFF, json!({ "sessionId": session.id, "statsOnly": true })).await,
    )
    .unwrap();
    assert!(stats.files.iter().all(|file| file.hunks.is_none()));
    assert_eq!(stats.stats, edited.stats);
    let capped: ReviewDiff = serde_json::from_value(
        client.call(method::REVIEW_DIFF, json!({ "sessionId": session.id, "maxBytes": 40 })).await,
    )
    .unwrap();
    assert!(capped.truncated && capped.files.iter().any(|file| file.hunks.is_none()));

    let file = client.call(method::REVIEW_FILE, json!({ "sessionId": session.id, "path": "src/long.txt" })).await;
    assert_eq!(file["baseText"], lines.as_str());
    assert!(file["currentText"].as_str().unwrap().contains("line THIRTY"));
    let new_file = client.call(method::REVIEW_FILE, json!({ "sessionId": session.id, "path": "new.txt" })).await;
    assert!(new_file["baseText"].is_null() && new_file["currentText"] == "brand new\n");
    let image = client.call(method::REVIEW_FILE, json!({ "sessionId": session.id, "path": "image.bin" })).await;
    assert_eq!(image["binary"], true);
    for bad in ["../repo/README.md", "/etc/passwd"] {
        let error =
            client.try_call(method::REVIEW_FILE, json!({ "sessionId": session.id, "path": bad })).await.unwrap_err();
        assert_eq!(error.code, error_code::INVALID_ARGUMENT, "{bad}");
    }
}

#[tokio::test]
async fn accepting_stages_and_rejecting_reverts_single_hunks_and_whole_files() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let lines: String = (1..=40).map(|number| format!("line {number}\n")).collect();
    env.commit_files(&repo, &[("long.txt", &lines), ("other.txt", "original\n"), ("gone.txt", "deleted\n")], "files");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = run_session(client, &repo, "say idle", "go", 1).await;
    let worktree = PathBuf::from(&session.cwd);
    let changed = lines.replace("line 3\n", "line three\n").replace("line 30\n", "line thirty\n");
    std::fs::write(worktree.join("long.txt"), &changed).unwrap();
    std::fs::write(worktree.join("other.txt"), "rewritten\n").unwrap();
    std::fs::remove_file(worktree.join("gone.txt")).unwrap();
    std::fs::write(worktree.join("added.txt"), "keep me\n").unwrap();
    std::fs::write(worktree.join("unwanted.txt"), "drop me\n").unwrap();

    let review = diff(client, &session).await;
    let hunks = review.files.iter().find(|file| file.path == "long.txt").unwrap().hunks.clone().unwrap();
    let (keep, drop) = (hunks[0].id.clone(), hunks[1].id.clone());
    let added_hunk =
        review.files.iter().find(|file| file.path == "added.txt").unwrap().hunks.clone().unwrap()[0].id.clone();
    let unwanted_hunk =
        review.files.iter().find(|file| file.path == "unwanted.txt").unwrap().hunks.clone().unwrap()[0].id.clone();

    let after = apply_to_hunks(client, &session, "accept", &[keep, added_hunk]).await;
    let states: Vec<(String, HunkState)> = after
        .files
        .iter()
        .flat_map(|file| {
            file.hunks.iter().flatten().map(move |hunk| (format!("{}:{}", file.path, hunk.old_start), hunk.state))
        })
        .collect();
    assert!(states.contains(&("long.txt:1".into(), HunkState::Accepted)), "{states:?}");
    assert!(states.contains(&("long.txt:27".into(), HunkState::Pending)), "{states:?}");
    let staged = git(&worktree, &["diff", "--cached"]);
    assert!(
        staged.contains("+line three") && !staged.contains("+line thirty") && staged.contains("+keep me"),
        "{staged}"
    );
    assert!(!staged.contains("gone.txt"), "a deletion nobody accepted is not staged: {staged}");

    let after = apply_to_hunks(client, &session, "reject", &[drop, unwanted_hunk]).await;
    assert_eq!(
        read(worktree.join("long.txt")),
        lines.replace("line 3\n", "line three\n"),
        "only the rejected hunk was reverted"
    );
    assert!(!worktree.join("unwanted.txt").exists(), "a rejected new file is removed");
    assert_eq!(
        after.rejected.iter().map(|hunk| hunk.path.as_str()).collect::<Vec<_>>(),
        vec!["long.txt", "unwanted.txt"]
    );
    let long = after.files.iter().find(|file| file.path == "long.txt").unwrap();
    assert_eq!(long.hunks.as_ref().unwrap().len(), 1);
    assert_eq!(long.hunks.as_ref().unwrap()[0].state, HunkState::Accepted);

    // Whole files: reject puts the base version back.
    client
        .call(method::REVIEW_APPLY, json!({ "sessionId": session.id, "action": "reject", "paths": ["other.txt"] }))
        .await;
    assert_eq!(read(worktree.join("other.txt")), "original\n");
    let stale = client
        .try_call(method::REVIEW_APPLY, json!({ "sessionId": session.id, "action": "accept", "hunkIds": ["0000"] }))
        .await;
    assert_eq!(stale.unwrap_err().code, error_code::NOT_FOUND);
    let outside = client
        .try_call(method::REVIEW_APPLY, json!({ "sessionId": session.id, "action": "reject", "paths": ["../x"] }))
        .await;
    assert_eq!(outside.unwrap_err().code, error_code::INVALID_ARGUMENT);
    let nothing = client.try_call(method::REVIEW_APPLY, json!({ "sessionId": session.id, "action": "accept" })).await;
    assert_eq!(nothing.unwrap_err().code, error_code::INVALID_ARGUMENT);
}

/// An accept can be undone: the change is unstaged and pending again, and the worktree keeps it.
#[tokio::test]
async fn an_accepted_hunk_or_file_can_be_unstaged_again_and_the_worktree_keeps_it() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let lines: String = (1..=40).map(|number| format!("line {number}\n")).collect();
    env.commit_files(&repo, &[("long.txt", &lines)], "files");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = run_session(client, &repo, "say idle", "go", 1).await;
    let worktree = PathBuf::from(&session.cwd);
    let changed = lines.replace("line 3\n", "line three\n").replace("line 30\n", "line thirty\n");
    std::fs::write(worktree.join("long.txt"), &changed).unwrap();
    std::fs::write(worktree.join("added.txt"), "keep me\n").unwrap();
    let review = diff(client, &session).await;
    let hunks: Vec<String> =
        review.files.iter().flat_map(|file| file.hunks.iter().flatten()).map(|hunk| hunk.id.clone()).collect();
    client.call(method::REVIEW_APPLY, json!({ "sessionId": session.id, "action": "accept", "hunkIds": hunks })).await;
    assert!(git(&worktree, &["diff", "--cached", "--stat"]).contains("2 files changed"));

    let three = review.files.iter().find(|file| file.path == "long.txt").unwrap().hunks.clone().unwrap()[0].id.clone();
    let after = apply_to_hunks(client, &session, "unstage", &[three]).await;
    let long = after.files.iter().find(|file| file.path == "long.txt").unwrap().hunks.clone().unwrap();
    assert_eq!(
        long.iter().map(|hunk| (hunk.old_start, hunk.state)).collect::<Vec<_>>(),
        vec![(1, HunkState::Pending), (27, HunkState::Accepted)],
        "only the undone hunk is pending again"
    );
    let staged = git(&worktree, &["diff", "--cached"]);
    assert!(
        !staged.contains("+line three") && staged.contains("+line thirty") && staged.contains("+keep me"),
        "{staged}"
    );

    client
        .call(
            method::REVIEW_APPLY,
            json!({ "sessionId": session.id, "action": "unstage", "paths": ["added.txt", "long.txt"] }),
        )
        .await;
    assert_eq!(git(&worktree, &["diff", "--cached"]), "", "nothing is staged");
    assert_eq!(read(worktree.join("long.txt")), changed, "the worktree keeps every change");
    assert_eq!(read(worktree.join("added.txt")), "keep me\n");
    let review = diff(client, &session).await;
    assert!(
        review.files.iter().flat_map(|file| file.hunks.iter().flatten()).all(|hunk| hunk.state == HunkState::Pending)
    );
    assert_eq!(review.files.len(), 2, "both files still show as changed");
}

#[tokio::test]
async fn commit_then_merge_or_squash_into_the_base() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let first = run_session(client, &repo, "write feature.txt <<END\nfeature\nEND", "Add the feature", 1).await;

    let uncommitted = client.try_call(method::SESSION_MERGE, json!({ "sessionId": first.id })).await.unwrap_err();
    assert!(uncommitted.message.contains("commit them first"), "{}", uncommitted.message);
    let committed = client.call(method::REVIEW_COMMIT, json!({ "sessionId": first.id })).await;
    let message = committed["message"].as_str().unwrap();
    assert!(message.starts_with("Add the feature") && message.contains("- Add the feature"), "{message}");
    let branch = first.branch.clone().unwrap();
    assert_eq!(git(&repo, &["rev-parse", &branch]), committed["commit"].as_str().unwrap());
    let none = client.try_call(method::REVIEW_COMMIT, json!({ "sessionId": first.id })).await.unwrap_err();
    assert!(none.message.contains("no changes to commit"));

    let merged: MergeResult =
        serde_json::from_value(client.call(method::SESSION_MERGE, json!({ "sessionId": first.id })).await).unwrap();
    assert!(merged.merged && merged.conflicts.is_empty());
    let commit = merged.commit.unwrap();
    assert_eq!(git(&repo, &["rev-parse", "main"]), commit);
    assert_eq!(
        git(&repo, &["rev-list", "--parents", "-n", "1", "main"]).split_whitespace().count(),
        3,
        "a merge commit"
    );
    assert_eq!(read(repo.join("feature.txt")), "feature\n", "the clean checkout of main follows the merge");
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");

    let second = run_session(client, &repo, "write squashed.txt <<END\nsquash\nEND", "Squash me", 1).await;
    client.call(method::REVIEW_COMMIT, json!({ "sessionId": second.id, "message": "custom message" })).await;
    let squashed: MergeResult = serde_json::from_value(
        client.call(method::SESSION_MERGE, json!({ "sessionId": second.id, "strategy": "squash" })).await,
    )
    .unwrap();
    assert!(squashed.merged);
    assert_eq!(git(&repo, &["rev-list", "--parents", "-n", "1", "main"]).split_whitespace().count(), 2, "one parent");
    assert!(git(&repo, &["log", "-1", "--format=%B", "main"]).starts_with("Squash me"));
    assert_eq!(read(repo.join("squashed.txt")), "squash\n");
    client
        .wait_event(
            second.id,
            |event| matches!(event, SessionEvent::Notice { message } if message.contains("squashed")),
        )
        .await;
}

#[tokio::test]
async fn a_conflicting_merge_or_a_dirty_base_checkout_changes_nothing() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    env.commit_files(&repo, &[("shared.txt", "base\n")], "shared");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = run_session(client, &repo, "write shared.txt <<END\nfrom the session\nEND", "edit shared", 1).await;
    client.call(method::REVIEW_COMMIT, json!({ "sessionId": session.id })).await;
    env.commit_files(&repo, &[("shared.txt", "from the user\n")], "user edit");
    let main_before = git(&repo, &["rev-parse", "main"]);
    let branch_before = git(&repo, &["rev-parse", session.branch.as_deref().unwrap()]);

    let conflicted: MergeResult =
        serde_json::from_value(client.call(method::SESSION_MERGE, json!({ "sessionId": session.id })).await).unwrap();
    assert!(!conflicted.merged);
    assert_eq!(conflicted.conflicts, vec!["shared.txt"]);
    assert_eq!(git(&repo, &["rev-parse", "main"]), main_before, "nothing changed on conflict");
    assert_eq!(git(&repo, &["rev-parse", session.branch.as_deref().unwrap()]), branch_before);
    assert_eq!(read(repo.join("shared.txt")), "from the user\n");
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");

    // A non-conflicting session, but the user's checkout of main has uncommitted work.
    let other = run_session(client, &repo, "write fresh.txt <<END\nfresh\nEND", "fresh file", 1).await;
    client.call(method::REVIEW_COMMIT, json!({ "sessionId": other.id })).await;
    std::fs::write(repo.join("README.md"), "uncommitted user work\n").unwrap();
    let refused = client.try_call(method::SESSION_MERGE, json!({ "sessionId": other.id })).await.unwrap_err();
    assert_eq!(refused.code, error_code::GIT_ERROR);
    assert!(refused.message.contains("uncommitted changes"), "{}", refused.message);
    assert_eq!(git(&repo, &["rev-parse", "main"]), main_before);
    assert_eq!(read(repo.join("README.md")), "uncommitted user work\n");
    assert!(!repo.join("fresh.txt").exists());
}

#[tokio::test]
async fn two_sessions_on_one_repository_work_in_parallel_without_touching_each_other() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let slow = "chunk-delay 2\nsay {prompt} {prompt} {prompt} {prompt}\nwrite same.txt <<END\n{prompt}\nEND";
    let a = client.scripted_session(&repo, &slow.replace("{prompt}", "alpha"), Some("alpha")).await;
    let b = client.scripted_session(&repo, &slow.replace("{prompt}", "beta"), Some("beta")).await;
    client.subscribe(a.id, 0).await;
    client.subscribe(b.id, 0).await;
    client.wait_turns(a.id, 1).await;
    client.wait_turns(b.id, 1).await;
    assert_eq!(read(PathBuf::from(&a.cwd).join("same.txt")), "alpha\n");
    assert_eq!(read(PathBuf::from(&b.cwd).join("same.txt")), "beta\n");
    assert!(!repo.join("same.txt").exists());
    assert_ne!(a.branch, b.branch);
    let a_diff = diff(client, &a).await;
    assert_eq!(a_diff.files.len(), 1);
    assert_eq!(a_diff.files[0].hunks.as_ref().unwrap()[0].lines[0].text, "alpha");
}

#[tokio::test]
async fn clone_by_url_setup_files_and_progress() {
    let env = TestEnv::new();
    let source = env.repo("source");
    env.commit_files(&source, &[(".gitignore", ".env\n")], "ignore env");
    git(&source, &["checkout", "-q", "-b", "develop"]);
    env.commit_files(&source, &[("develop.txt", "on develop\n")], "develop work");
    git(&source, &["checkout", "-q", "main"]);
    let bare = env.root.join("remote.git");
    git(&env.root, &["clone", "-q", "--bare", source.to_str().unwrap(), bare.to_str().unwrap()]);

    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session: Session = serde_json::from_value(
        client
            .call(
                method::SESSION_NEW,
                json!({ "repositoryUrl": bare, "baseBranch": "develop", "agent": "scripted", "prompt": "hi",
                        "config": { "script": "say cloned" }, "workDoneToken": "setup-1" }),
            )
            .await,
    )
    .unwrap();
    // Progress and the response travel separately: the end may arrive just after the result.
    arbor_tests::wait_until("the progress end arrives", || {
        client.drain();
        client.others.iter().any(|notification| notification.params["value"]["kind"] == "end")
    })
    .await;
    assert!(session.repo_root.starts_with(&env.data_dir().join("repositories").display().to_string()));
    assert_eq!(session.base_branch.as_deref(), Some("develop"));
    assert_eq!(read(PathBuf::from(&session.cwd).join("develop.txt")), "on develop\n");
    let progress: Vec<String> = client
        .others
        .iter()
        .filter(|notification| notification.method == "$/progress" && notification.params["token"] == "setup-1")
        .map(|notification| notification.params["value"]["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(progress.first().map(String::as_str), Some("begin"));
    assert_eq!(progress.last().map(String::as_str), Some("end"));
    assert!(progress.iter().filter(|kind| *kind == "report").count() >= 2);

    // A second session from the same URL reuses (and fetches into) the clone.
    let again: Session = serde_json::from_value(
        client
            .call(
                method::SESSION_NEW,
                json!({ "repositoryUrl": bare, "agent": "scripted", "config": { "script": "say again" } }),
            )
            .await,
    )
    .unwrap();
    assert_eq!(again.repo_root, session.repo_root);

    // Setup files are copied into a new worktree.
    std::fs::write(source.join(".env"), "SECRET=1\n").unwrap();
    let with_env: Session = serde_json::from_value(
        client
            .call(method::SESSION_NEW, json!({ "cwd": source, "agent": "scripted", "setupFiles": [".env", "missing.txt"], "config": { "script": "say hi" } }))
            .await,
    )
    .unwrap();
    assert_eq!(read(PathBuf::from(&with_env.cwd).join(".env")), "SECRET=1\n");
    let both = client
        .try_call(method::SESSION_NEW, json!({ "cwd": source, "repositoryUrl": bare, "agent": "scripted" }))
        .await;
    assert_eq!(both.unwrap_err().code, error_code::INVALID_ARGUMENT);
    let bad_url = client
        .try_call(method::SESSION_NEW, json!({ "repositoryUrl": env.root.join("nope.git"), "agent": "scripted" }))
        .await;
    assert!(bad_url.unwrap_err().message.contains("could not clone"));
}

#[tokio::test]
async fn orphans_are_reported_not_deleted_and_outside_changes_are_noticed() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let stray = env.data_dir().join("worktrees/arbor-deadbeef");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("keep.txt"), "work").unwrap();
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let orphans = client.call(method::WORKTREE_ORPHANS, serde_json::Value::Null).await;
    assert_eq!(orphans["orphans"][0]["path"], stray.display().to_string());
    assert!(stray.join("keep.txt").exists(), "reported, not deleted");

    let session = run_session(client, &repo, "write a.txt <<END\na\nEND\nturn\nsay second", "go", 1).await;
    let worktree = PathBuf::from(&session.cwd);
    git(&worktree, &["add", "a.txt"]);
    git(&worktree, &["-c", "user.name=U", "-c", "user.email=u@example.invalid", "commit", "-q", "-m", "manual"]);
    client.call(method::SESSION_PROMPT, json!({ "sessionId": session.id, "text": "next" })).await;
    let noticed = client.wait_event(session.id, |event| matches!(event, SessionEvent::ExternalChange { .. })).await;
    let SessionEvent::ExternalChange { message, head, .. } = noticed.event else { unreachable!() };
    assert!(message.contains("outside Arbor"), "{message}");
    assert_eq!(head, git(&worktree, &["rev-parse", "HEAD"]));
    assert_eq!(read(worktree.join("a.txt")), "a\n", "nothing is overwritten");
    client.wait_turns(session.id, 2).await;
    assert_eq!(
        client.events.iter().filter(|event| matches!(event.event, SessionEvent::ExternalChange { .. })).count(),
        1,
        "reported once"
    );

    // A checkout of another branch in the worktree blocks commits on the wrong branch.
    git(&worktree, &["checkout", "-q", "-b", "elsewhere"]);
    std::fs::write(worktree.join("b.txt"), "b").unwrap();
    let refused = client.try_call(method::REVIEW_COMMIT, json!({ "sessionId": session.id })).await.unwrap_err();
    assert!(refused.message.contains("not on the session's branch"), "{}", refused.message);
}

#[tokio::test]
async fn a_session_worktree_is_checked_out_as_git_would_with_the_repository_filters_and_without_its_hooks() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    // A smudge filter the repository's own config defines, as git-lfs does: git applies it on
    // checkout, so the session's files are what `git worktree add` would give the user.
    git(&repo, &["config", "filter.upper.smudge", "tr a-z A-Z"]);
    git(&repo, &["config", "filter.upper.clean", "tr A-Z a-z"]);
    let marker = env.data_dir().join("hook-ran");
    let hook = repo.join(".git/hooks/post-checkout");
    std::fs::write(&hook, format!("#!/bin/sh\ntouch '{}'\n", marker.display())).unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    env.commit_files(&repo, &[(".gitattributes", "*.up filter=upper\n"), ("shout.up", "quiet words\n")], "filtered");
    let mut server = env.standalone().await;
    let client = &mut server.client;

    let session = run_session(client, &repo, "say nothing", "look", 1).await;
    let worktree = PathBuf::from(&session.cwd);
    assert_eq!(read(worktree.join("shout.up")), "QUIET WORDS\n", "the smudge filter ran");
    assert!(!marker.exists(), "the repository's post-checkout hook did not run");
    assert_eq!(git(&worktree, &["status", "--porcelain"]), "", "the fresh worktree is clean");
}

/// Accept one change, reject another, undo the accept and accept again, as the editors' lenses do
/// in turn: each step acts on the hunk ids of the diff the step before returned.
#[tokio::test]
async fn an_undone_accept_beside_a_rejected_change_can_be_accepted_again() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let words = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
        "fourteen", "fifteen", "sixteen",
    ];
    let lines: String = words.iter().map(|word| format!("{word}\n")).collect();
    env.commit_files(&repo, &[("src/app.txt", &lines)], "words");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = run_session(client, &repo, "say idle", "go", 1).await;
    let worktree = PathBuf::from(&session.cwd);
    let changed = lines.replace("two\n", "TWO\n").replace("fourteen\n", "FOURTEEN\n");
    std::fs::write(worktree.join("src/app.txt"), &changed).unwrap();
    let hunk_ids = |review: &ReviewDiff| -> Vec<(String, HunkState)> {
        review
            .files
            .iter()
            .flat_map(|file| file.hunks.iter().flatten())
            .map(|hunk| (hunk.id.clone(), hunk.state))
            .collect()
    };
    let apply = |action: &str, id: &str| json!({ "sessionId": session.id, "action": action, "hunkIds": [id] });
    let review = diff(client, &session).await;
    let first = hunk_ids(&review);
    assert_eq!(first.len(), 2, "{first:?}");
    let review: ReviewDiff =
        serde_json::from_value(client.call(method::REVIEW_APPLY, apply("accept", &first[0].0)).await).unwrap();
    let second = hunk_ids(&review);
    let review: ReviewDiff =
        serde_json::from_value(client.call(method::REVIEW_APPLY, apply("reject", &second[1].0)).await).unwrap();
    assert_eq!(read(worktree.join("src/app.txt")), lines.replace("two\n", "TWO\n"), "the rejected change is reverted");
    let third = hunk_ids(&review);
    assert_eq!(third.iter().map(|(_, state)| *state).collect::<Vec<_>>(), [HunkState::Accepted], "{third:?}");
    let review: ReviewDiff =
        serde_json::from_value(client.call(method::REVIEW_APPLY, apply("unstage", &third[0].0)).await).unwrap();
    assert_eq!(git(&worktree, &["diff", "--cached"]), "", "the accept undone");
    let fourth = hunk_ids(&review);
    assert_eq!(fourth.iter().map(|(_, state)| *state).collect::<Vec<_>>(), [HunkState::Pending], "{fourth:?}");
    client.call(method::REVIEW_APPLY, apply("accept", &fourth[0].0)).await;
    assert!(git(&worktree, &["diff", "--cached"]).contains("+TWO"), "accepted again");
    assert_eq!(read(worktree.join("src/app.txt")), lines.replace("two\n", "TWO\n"), "the worktree keeps the change");
}

/// Many changed files, diffed on several threads from their bytes: every file's hunks are what
/// git shows, the byte cap leaves hunks out only after the last file that fits (in order), and a
/// repository whose attributes change how files read (a binary attribute, line endings
/// normalised, an attributes file not even committed) is diffed as git reads it.
#[tokio::test]
async fn review_diff_of_many_files_is_gits_in_order_under_the_cap_and_honours_attributes() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let body = |index: usize| -> String { (0..8).map(|line| format!("file {index} line {line}\n")).collect() };
    let files: Vec<(String, String)> =
        (0..300).map(|index| (format!("d{}/f{index:03}.txt", index % 7), body(index))).collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(path, text)| (path.as_str(), text.as_str())).collect();
    env.commit_files(&repo, &refs, "many files");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let session = run_session(client, &repo, "say nothing to do", "go", 1).await;
    let worktree = PathBuf::from(&session.cwd);
    for (path, text) in &files {
        std::fs::write(worktree.join(path), text.replace("line 4\n", "line four\n")).unwrap();
    }

    let review = diff(client, &session).await;
    assert_eq!(review.files.len(), 300);
    assert!(!review.truncated);
    let mut paths: Vec<&str> = review.files.iter().map(|file| file.path.as_str()).collect();
    paths.sort_unstable();
    let mut expected: Vec<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(paths, expected, "each file once");
    for file in &review.files {
        let index: usize = file.path[file.path.len() - 7..file.path.len() - 4].parse().unwrap();
        let hunks = file.hunks.as_ref().unwrap();
        assert_eq!(hunks.len(), 1, "{}", file.path);
        assert_eq!(hunks[0].header, "@@ -2,7 +2,7 @@ file 0 line 0".replace("file 0", &format!("file {index}")));
        let changed: Vec<String> = hunks[0]
            .lines
            .iter()
            .filter(|line| line.kind != arbor_protocol::LineKind::Context)
            .map(|line| line.text.clone())
            .collect();
        assert_eq!(changed, [format!("file {index} line 4"), format!("file {index} line four")], "{}", file.path);
        assert_eq!((file.additions, file.deletions), (1, 1));
    }

    // Under a cap the files keep their order and those with hunks come first.
    let capped: ReviewDiff = serde_json::from_value(
        client.call(method::REVIEW_DIFF, json!({ "sessionId": session.id, "maxBytes": 20_000 })).await,
    )
    .unwrap();
    assert!(capped.truncated);
    assert_eq!(capped.stats, review.stats);
    let with_hunks = capped.files.iter().take_while(|file| file.hunks.is_some()).count();
    assert!(with_hunks > 10 && with_hunks < 300, "{with_hunks} files fit");
    assert!(capped.files[with_hunks..].iter().all(|file| file.hunks.is_none()), "nothing after the first left out");
    assert_eq!(capped.files[..with_hunks], review.files[..with_hunks]);

    // Attributes: a binary one and a text one (line endings normalised) committed, and an
    // attributes file the agent wrote and nobody committed.
    env.commit_files(
        &repo,
        &[(".gitattributes", "*.dat binary\n*.txt text\n"), ("table.dat", "a\nb\n"), ("lines.txt", "one\n")],
        "attributes",
    );
    let session = run_session(client, &repo, "say nothing to do", "go", 1).await;
    let worktree = PathBuf::from(&session.cwd);
    std::fs::write(worktree.join("table.dat"), "a\nc\n").unwrap();
    std::fs::write(worktree.join("lines.txt"), "one\r\ntwo\r\n").unwrap();
    std::fs::create_dir_all(worktree.join("notes")).unwrap();
    std::fs::write(worktree.join("notes/.gitattributes"), "*.txt binary\n").unwrap();
    std::fs::write(worktree.join("notes/plan.txt"), "step one\n").unwrap();
    let review = diff(client, &session).await;
    let file = |path: &str| review.files.iter().find(|file| file.path == path).unwrap_or_else(|| panic!("{path}"));
    assert!(file("table.dat").binary && file("table.dat").hunks.is_none(), "the committed binary attribute");
    let added: Vec<&str> = file("lines.txt").hunks.as_ref().unwrap()[0]
        .lines
        .iter()
        .filter(|line| line.kind == arbor_protocol::LineKind::Added)
        .map(|line| line.text.as_str())
        .collect();
    assert_eq!(added, ["two"], "the worktree's CRLF read as LF, as git diff shows it");
    assert_eq!((file("lines.txt").additions, file("lines.txt").deletions), (1, 0));
    assert!(file("notes/plan.txt").binary, "the uncommitted attributes file counts");
}
