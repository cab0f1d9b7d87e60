//! The worktree lifecycle through the real binary: archiving removes a session's worktree and
//! keeps its work, resuming brings the worktree back intact, and `worktree/gc` reports disk use,
//! archives only what the retention policy covers (never unmerged work) and frees exactly what
//! its dry run said.

use std::path::Path;

use arbor_protocol::{SessionEvent, SessionStatus, method};
use arbor_tests::{Client, TestEnv, git};
use serde_json::{Value, json};
use uuid::Uuid;

/// A scripted session that ran its first turn and was stopped.
async fn stopped_session(client: &mut Client, repo: &Path, script: &str, prompt: &str) -> Uuid {
    let session = client.scripted_session(repo, script, Some(prompt)).await;
    client.subscribe(session.id, 0).await;
    client.wait_event(session.id, |event| matches!(event, SessionEvent::TurnEnded { .. })).await;
    client.call(method::SESSION_STOP, json!({ "sessionId": session.id })).await;
    session.id
}

#[tokio::test]
async fn an_archived_session_resumes_with_its_worktree_and_work_intact() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let script = "write notes.txt <<END\nkept across the archive\nEND";
    let id = stopped_session(client, &repo, script, "Take notes").await;
    let before = client.get(id).await;
    let worktree = Path::new(&before.cwd).to_path_buf();
    let branch = before.branch.clone().unwrap();
    let checkpoints = client.call(method::SESSION_CHECKPOINTS, json!({ "sessionId": id })).await;

    let archived = client.call(method::SESSION_ARCHIVE, json!({ "sessionId": id })).await;
    assert_eq!(archived["session"]["archived"], true, "{archived}");
    assert!(archived["snapshotCommit"].is_string(), "the uncommitted note was committed: {archived}");
    assert!(archived["freedBytes"].as_u64().unwrap() > 0, "{archived}");
    assert!(!worktree.exists(), "the worktree is removed");
    assert_eq!(git(&repo, &["show", &format!("{branch}:notes.txt")]), "kept across the archive");
    assert_eq!(
        client.call(method::SESSION_CHECKPOINTS, json!({ "sessionId": id })).await,
        checkpoints,
        "checkpoints are kept"
    );
    client
        .wait_event(id, |event| matches!(event, SessionEvent::Notice { message } if message.starts_with("Archived")))
        .await;
    let again = client.call(method::SESSION_ARCHIVE, json!({ "sessionId": id })).await;
    assert_eq!(again["freedBytes"], 0, "archiving twice changes nothing: {again}");

    // Resumed without a prompt, so the agent writes nothing before the worktree is looked at.
    client.call(method::SESSION_RESUME, json!({ "sessionId": id })).await;
    let resumed = client.wait_status(id, |status| status == SessionStatus::Running).await;
    assert!(!resumed.archived);
    assert_eq!(resumed.cwd, before.cwd, "the worktree comes back where it was");
    assert_eq!(std::fs::read_to_string(worktree.join("notes.txt")).unwrap(), "kept across the archive\n");
    assert_eq!(git(&worktree, &["rev-parse", "--abbrev-ref", "HEAD"]), branch, "on the session's branch");
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|entry| entry["sessionId"].as_str().unwrap_or("").to_string()).collect()
}

#[tokio::test]
async fn gc_archives_only_merged_sessions_and_frees_exactly_what_its_dry_run_said() {
    let env = TestEnv::new();
    env.write_config(json!({ "retention": { "archiveAfterDays": 0 } }));
    let repo = env.repo("repo");
    let mut server = env.standalone().await;
    let client = &mut server.client;
    // Nothing of its own: merged into main by definition.
    let merged = stopped_session(client, &repo, "say nothing to keep", "Look around").await;
    // A commit main does not have.
    let unmerged = stopped_session(client, &repo, "write work.txt <<END\nunmerged work\nEND", "Do work").await;
    client.call(method::REVIEW_COMMIT, json!({ "sessionId": unmerged, "message": "Unmerged work" })).await;
    // Uncommitted changes only.
    let dirty = stopped_session(client, &repo, "write draft.txt <<END\ndraft\nEND", "Draft").await;
    // A directory in the worktrees folder that no session owns, holding files.
    let stray = env.data_dir().join("worktrees").join("stray");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("junk.bin"), vec![7u8; 4096]).unwrap();

    let plan = client.call(method::WORKTREE_GC, json!({ "dryRun": true, "orphans": true })).await;
    assert_eq!(plan["dryRun"], true);
    assert_eq!(ids(&plan["actions"]), vec![merged.to_string()], "only the merged session is archived: {plan}");
    assert_eq!(plan["actions"][0]["kind"], "archive_session");
    let kept = &plan["kept"];
    let kept_unmerged =
        kept.as_array().unwrap().iter().find(|entry| entry["sessionId"] == unmerged.to_string()).unwrap();
    assert!(kept_unmerged["unmergedCommits"][0].as_str().unwrap().ends_with("Unmerged work"), "{plan}");
    assert!(ids(kept).contains(&dirty.to_string()), "uncommitted work is kept: {plan}");
    let kept_stray =
        kept.as_array().unwrap().iter().find(|entry| entry["path"] == stray.display().to_string()).unwrap();
    assert!(kept_stray["reason"].as_str().unwrap().contains("force"), "{plan}");
    assert_eq!(plan["sessions"].as_array().unwrap().len(), 3, "disk use of every session: {plan}");
    let total: u64 = plan["sessions"].as_array().unwrap().iter().map(|entry| entry["bytes"].as_u64().unwrap()).sum();
    assert_eq!(plan["totalBytes"].as_u64().unwrap(), total);
    assert!(total > 0);
    let merged_dir = client.get(merged).await.cwd;
    assert!(Path::new(&merged_dir).is_dir(), "a dry run changes nothing");
    assert!(!client.get(merged).await.archived);

    let done = client.call(method::WORKTREE_GC, json!({ "orphans": true })).await;
    assert_eq!(done["actions"], plan["actions"], "gc does what its dry run said");
    assert_eq!(done["freedBytes"], plan["freedBytes"]);
    assert!(plan["freedBytes"].as_u64().unwrap() > 0);
    assert!(!Path::new(&merged_dir).exists());
    assert!(client.get(merged).await.archived);
    for id in [unmerged, dirty] {
        let session = client.get(id).await;
        assert!(!session.archived && Path::new(&session.cwd).is_dir(), "unmerged work is never touched");
    }
    assert_eq!(git(Path::new(&client.get(unmerged).await.cwd), &["log", "-1", "--format=%s"]), "Unmerged work");
    assert!(stray.join("junk.bin").exists(), "an orphan holding files stays without force");

    let forced = client.call(method::WORKTREE_GC, json!({ "orphans": true, "force": true })).await;
    assert_eq!(forced["actions"].as_array().unwrap().len(), 1, "{forced}");
    assert_eq!(forced["actions"][0]["kind"], "remove_orphan");
    assert!(!stray.exists(), "forced, the orphan is removed");
    server.child.kill().await.expect("stop the server");

    let shown = env.cli(&["gc", "--dry-run"]).await;
    assert!(shown.contains("would free") && shown.contains("kept"), "{shown}");
}

fn branches(repo: &Path) -> Vec<String> {
    git(repo, &["branch", "--format=%(refname:short)"]).lines().map(str::to_string).collect()
}

#[tokio::test]
async fn the_orphan_sweep_deletes_unowned_session_branches_only_when_their_commits_exist_elsewhere() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    git(&repo, &["branch", "feature"]);
    let mut server = env.standalone().await;
    let client = &mut server.client;
    let owned = stopped_session(client, &repo, "say still mine", "Keep me").await;
    let owned_branch = client.get(owned).await.branch.unwrap();
    // Deleting a session without its branch leaves the branch: one at the base commit, one
    // holding the snapshot of the work the session left uncommitted.
    let empty = stopped_session(client, &repo, "say nothing", "Look around").await;
    let empty_branch = client.get(empty).await.branch.unwrap();
    let worked = stopped_session(client, &repo, "write work.txt <<END\nonly here\nEND", "Work").await;
    let worked_branch = client.get(worked).await.branch.unwrap();
    for id in [empty, worked] {
        client.call(method::SESSION_DELETE, json!({ "sessionId": id })).await;
    }
    assert!(branches(&repo).contains(&worked_branch) && branches(&repo).contains(&empty_branch));

    let plan = client.call(method::WORKTREE_GC, json!({ "dryRun": true, "orphans": true })).await;
    let deleted: Vec<&Value> = plan["actions"].as_array().unwrap().iter().collect();
    assert_eq!(deleted.len(), 1, "only the branch without work of its own is deleted: {plan}");
    assert_eq!(deleted[0]["kind"], "delete_branch");
    assert_eq!(deleted[0]["branch"], empty_branch.as_str());
    assert_eq!(deleted[0]["path"], repo.display().to_string());
    let kept: Vec<&Value> =
        plan["kept"].as_array().unwrap().iter().filter(|entry| entry["branch"].is_string()).collect();
    assert_eq!(kept.len(), 1, "{plan}");
    assert_eq!(kept[0]["branch"], worked_branch.as_str());
    assert!(kept[0]["reason"].as_str().unwrap().contains("force"), "{plan}");
    assert!(
        kept[0]["unmergedCommits"][0].as_str().unwrap().contains("before deleting the session"),
        "the commit that would be lost is named: {plan}"
    );
    assert!(branches(&repo).contains(&empty_branch), "a dry run changes nothing");

    let done = client.call(method::WORKTREE_GC, json!({ "orphans": true })).await;
    assert_eq!(done["actions"], plan["actions"], "gc does what its dry run said");
    assert_eq!(done["kept"], plan["kept"]);
    let left = branches(&repo);
    assert!(!left.contains(&empty_branch), "{left:?}");
    for branch in [&worked_branch, &owned_branch, &"feature".to_string(), &"main".to_string()] {
        assert!(left.contains(branch), "{branch} is kept: {left:?}");
    }

    server.child.kill().await.expect("stop the server");
    let shown = env.cli(&["gc", "--dry-run", "--orphans"]).await;
    assert!(shown.contains(&format!("kept branch {worked_branch}")), "{shown}");
    let forced = env.cli(&["gc", "--orphans", "--force"]).await;
    assert!(forced.contains(&format!("delete branch {worked_branch}")), "{forced}");
    let left = branches(&repo);
    assert!(!left.contains(&worked_branch) && left.contains(&owned_branch), "{left:?}");
}
