//! The worktree lifecycle and disk: archiving a session (its leftovers committed, its worktree
//! removed, its branch, checkpoints and history kept), `session/resume` recreating the worktree,
//! and `worktree/gc`: disk use per session, the retention policy, and orphaned worktrees removed
//! on request. Nothing here removes a commit that exists nowhere else.

use std::path::PathBuf;
use std::sync::Arc;

use arbor_protocol::{
    ArchiveResult, GcAction, GcActionKind, GcKept, GcParams, GcResult, Isolation, ListSessionsParams, Session,
    SessionDiskUse, SessionEvent, SessionIdParams,
};

use super::{Result, Service, ServiceError};
use crate::clock::now_millis;
use crate::git;

/// How many unmerged commits a kept entry names.
const COMMITS_SHOWN: usize = 20;

const DAY_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// Why the retention policy may or may not archive a stopped session.
enum Retention {
    /// Its branch holds nothing its base lacks and its worktree nothing uncommitted.
    Merged,
    /// It holds work of its own: the commits not in its base (empty when only uncommitted).
    Unmerged(Vec<String>),
}

fn retention_of(session: &Session) -> std::result::Result<Retention, git::GitError> {
    let cwd = PathBuf::from(&session.cwd);
    let (Some(branch), Some(base)) = (session.branch.as_deref(), session.base_branch.as_deref()) else {
        return Ok(Retention::Unmerged(Vec::new()));
    };
    let commits = git::unmerged_commits(&PathBuf::from(&session.repo_root), branch, base, COMMITS_SHOWN)?;
    if !commits.is_empty() || (cwd.is_dir() && git::has_uncommitted_changes(&cwd)?) {
        return Ok(Retention::Unmerged(commits));
    }
    Ok(Retention::Merged)
}

impl Service {
    /// `session/archive`.
    pub async fn session_archive(&self, params: SessionIdParams) -> Result<ArchiveResult> {
        let _lifecycle = self.lifecycle.hold(params.session_id).await;
        self.archive(params.session_id, "archived on request").await
    }

    /// Stops the session, commits its leftovers on its branch and removes its worktree. The
    /// caller holds the session's lifecycle lock.
    async fn archive(&self, id: uuid::Uuid, why: &str) -> Result<ArchiveResult> {
        let session = self.load(id).await?;
        if session.isolation != Isolation::Worktree {
            return Err(ServiceError::InvalidState(format!(
                "the session works in place in {}, not in a worktree of its own; there is nothing to archive",
                session.cwd
            )));
        }
        if session.archived {
            return Ok(ArchiveResult { session, snapshot_commit: None, freed_bytes: 0 });
        }
        if self.store.other_sessions_in(session.cwd.clone(), session.id).await? > 0 {
            return Err(ServiceError::InvalidState(
                "another session works in this worktree; archive or delete that one first".into(),
            ));
        }
        let session = self.stop_session(id, Some("the session is being archived".into())).await?;
        let title = session.title.clone().unwrap_or_else(|| "untitled session".into());
        let (repo_root, cwd) = (PathBuf::from(&session.repo_root), PathBuf::from(&session.cwd));
        let (snapshot_commit, freed_bytes) = tokio::task::spawn_blocking(move || -> Result<(Option<String>, u64)> {
            let bytes = git::disk_bytes(&cwd);
            let snapshot = if cwd.is_dir() {
                git::snapshot_uncommitted(
                    &cwd,
                    &format!("arbor: snapshot of \"{title}\" before archiving the session"),
                )?
            } else {
                None
            };
            git::remove_worktree(&repo_root, &cwd)?;
            Ok((snapshot, bytes))
        })
        .await??;
        let session = self.update_session(id, Arc::new(|session: &mut Session| session.archived = true)).await?;
        let branch = session.branch.clone().unwrap_or_default();
        let message = format!(
            "Archived ({why}): the worktree was removed, freeing {}; the work is on branch {branch}{}. \
             Resume the session to get the worktree back.",
            human_bytes(freed_bytes),
            snapshot_commit
                .as_deref()
                .map(|commit| format!(" (leftovers committed as {})", &commit[..12]))
                .unwrap_or_default()
        );
        self.append_events(id, vec![SessionEvent::Notice { message }]).await?;
        Ok(ArchiveResult { session, snapshot_commit, freed_bytes })
    }

    /// Recreates an archived session's worktree from its branch, before a resume starts its agent.
    pub(super) async fn unarchive(&self, session: &mut Session) -> Result<()> {
        let (repo_root, cwd) = (PathBuf::from(&session.repo_root), PathBuf::from(&session.cwd));
        let branch = session
            .branch
            .clone()
            .ok_or_else(|| ServiceError::Internal("an archived session without a branch".into()))?;
        tokio::task::spawn_blocking(move || git::restore_worktree(&repo_root, &branch, &cwd)).await??;
        session.archived = false;
        Ok(())
    }

    /// Every stored session, hidden ones included.
    async fn all_sessions(&self) -> Result<Vec<Session>> {
        let mut sessions = Vec::new();
        loop {
            let filter = ListSessionsParams {
                include_hidden: true,
                limit: Some(200),
                offset: Some(sessions.len() as u32),
                ..Default::default()
            };
            let (page, total) = self.store.list_sessions(filter).await?;
            let done = page.is_empty() || sessions.len() + page.len() >= total as usize;
            sessions.extend(page);
            if done {
                return Ok(sessions);
            }
        }
    }

    /// `worktree/gc`: disk use, then what the retention policy (and, when asked, the orphan
    /// sweep) frees; a dry run changes nothing.
    pub async fn worktree_gc(&self, params: GcParams) -> Result<GcResult> {
        self.store.flush().await?;
        let sessions = self.all_sessions().await?;
        let mut usage = Vec::new();
        for session in sessions.iter().filter(|session| session.isolation == Isolation::Worktree) {
            let path = PathBuf::from(&session.cwd);
            let bytes = tokio::task::spawn_blocking(move || git::disk_bytes(&path)).await?;
            usage.push(SessionDiskUse {
                session_id: session.id,
                title: session.title.clone(),
                path: session.cwd.clone(),
                bytes,
                archived: session.archived,
            });
        }
        usage.sort_by_key(|entry| std::cmp::Reverse(entry.bytes));
        let total_bytes = usage.iter().map(|entry| entry.bytes).sum();
        let bytes_of = |id| usage.iter().find(|entry| entry.session_id == id).map_or(0, |entry| entry.bytes);

        let mut actions = Vec::new();
        let mut kept = Vec::new();
        if let Some(policy) = &self.config.retention {
            let cutoff = now_millis() - i64::from(policy.archive_after_days) * DAY_MILLIS;
            let candidates = sessions.iter().filter(|session| {
                session.isolation == Isolation::Worktree
                    && !session.archived
                    && !session.status.is_live()
                    && session.updated_at <= cutoff
            });
            for session in candidates {
                let checked = session.clone();
                match tokio::task::spawn_blocking(move || retention_of(&checked)).await? {
                    Ok(Retention::Merged) => actions.push(GcAction {
                        kind: GcActionKind::ArchiveSession,
                        session_id: Some(session.id),
                        path: session.cwd.clone(),
                        branch: None,
                        bytes: bytes_of(session.id),
                        reason: format!(
                            "idle for {} days or more and its branch is merged into {}",
                            policy.archive_after_days,
                            session.base_branch.as_deref().unwrap_or("its base")
                        ),
                    }),
                    Ok(Retention::Unmerged(commits)) => kept.push(GcKept {
                        session_id: Some(session.id),
                        path: session.cwd.clone(),
                        branch: None,
                        reason: if commits.is_empty() {
                            "uncommitted changes; archive it yourself (session/archive) to keep them on its branch"
                                .into()
                        } else {
                            format!(
                                "{} commit(s) not merged into {}; the retention policy never archives unmerged work",
                                commits.len(),
                                session.base_branch.as_deref().unwrap_or("its base")
                            )
                        },
                        unmerged_commits: commits,
                    }),
                    Err(error) => kept.push(GcKept {
                        session_id: Some(session.id),
                        path: session.cwd.clone(),
                        branch: None,
                        reason: format!("could not tell whether its work is merged: {error}"),
                        unmerged_commits: Vec::new(),
                    }),
                }
            }
        }
        if params.orphans {
            self.sweep_orphans(params.force, &mut actions, &mut kept).await?;
            sweep_orphan_branches(&sessions, params.force, &mut actions, &mut kept).await?;
        }
        let freed_bytes = actions.iter().map(|action| action.bytes).sum();
        if !params.dry_run {
            for action in &actions {
                match (action.kind, action.session_id) {
                    (GcActionKind::ArchiveSession, Some(id)) => {
                        let _lifecycle = self.lifecycle.hold(id).await;
                        self.archive(id, "retention policy").await?;
                    }
                    (GcActionKind::DeleteBranch, _) => {
                        let (repo_root, branch) =
                            (PathBuf::from(&action.path), action.branch.clone().unwrap_or_default());
                        tokio::task::spawn_blocking(move || git::orphan_branches::delete(&repo_root, &branch))
                            .await??;
                    }
                    _ => {
                        let path = PathBuf::from(&action.path);
                        tokio::task::spawn_blocking(move || git::remove_orphan(&path)).await??;
                    }
                }
            }
        }
        Ok(GcResult { dry_run: params.dry_run, sessions: usage, total_bytes, actions, kept, freed_bytes })
    }

    /// Orphaned worktrees under the data directory: removable when they hold nothing that exists
    /// nowhere else (or when forced), else kept with the commits that would be lost.
    async fn sweep_orphans(&self, force: bool, actions: &mut Vec<GcAction>, kept: &mut Vec<GcKept>) -> Result<()> {
        for orphan in self.worktree_orphans(arbor_protocol::NoParams::default()).await?.orphans {
            let path = PathBuf::from(&orphan.path);
            // A registration whose directory is gone takes no space.
            if !path.is_dir() {
                continue;
            }
            let checked = path.clone();
            let (bytes, at_risk) =
                tokio::task::spawn_blocking(move || (git::disk_bytes(&checked), git::work_only_in(&checked))).await?;
            match at_risk {
                Ok(at_risk) if at_risk.is_empty() || force => actions.push(GcAction {
                    kind: GcActionKind::RemoveOrphan,
                    session_id: None,
                    path: orphan.path,
                    branch: None,
                    bytes,
                    reason: if at_risk.is_empty() { orphan.reason } else { format!("{} (forced)", orphan.reason) },
                }),
                Ok(at_risk) => kept.push(GcKept {
                    session_id: None,
                    path: orphan.path,
                    branch: None,
                    reason: format!("{}; it holds work found nowhere else (pass force to remove it)", orphan.reason),
                    unmerged_commits: at_risk,
                }),
                Err(error) => kept.push(GcKept {
                    session_id: None,
                    path: orphan.path,
                    branch: None,
                    reason: format!("{}; could not tell what it holds: {error}", orphan.reason),
                    unmerged_commits: Vec::new(),
                }),
            }
        }
        Ok(())
    }
}

/// Session branches (Arbor's naming) in the sessions' repositories that no session owns:
/// deletable when every commit on them is reachable from another ref (or when forced), else kept
/// with the commits that would be lost. A branch checked out somewhere is always kept.
async fn sweep_orphan_branches(
    sessions: &[Session],
    force: bool,
    actions: &mut Vec<GcAction>,
    kept: &mut Vec<GcKept>,
) -> Result<()> {
    let owned: Vec<String> = sessions.iter().filter_map(|session| session.branch.clone()).collect();
    let mut repositories: Vec<String> = sessions.iter().map(|session| session.repo_root.clone()).collect();
    repositories.sort();
    repositories.dedup();
    for repo_root in repositories {
        let (root, owned) = (PathBuf::from(&repo_root), owned.clone());
        let found = tokio::task::spawn_blocking(move || git::orphan_branches::find(&root, &owned)).await?;
        let orphans = match found {
            Ok(orphans) => orphans,
            // A repository that was moved or deleted has no branches to sweep.
            Err(error) => {
                tracing::debug!(%error, repo = %repo_root, "skipped a repository in the orphan branch sweep");
                continue;
            }
        };
        for orphan in orphans {
            let keep = |reason: String, unmerged_commits: Vec<String>| GcKept {
                session_id: None,
                path: repo_root.clone(),
                branch: Some(orphan.name.clone()),
                reason,
                unmerged_commits,
            };
            if let Some(checkout) = &orphan.checked_out_in {
                kept.push(keep(
                    format!("no session owns this branch, but it is checked out in {}", checkout.display()),
                    Vec::new(),
                ));
            } else if orphan.at_risk.is_empty() || force {
                actions.push(GcAction {
                    kind: GcActionKind::DeleteBranch,
                    session_id: None,
                    path: repo_root.clone(),
                    branch: Some(orphan.name.clone()),
                    bytes: 0,
                    reason: if orphan.at_risk.is_empty() {
                        "no session owns this branch and every commit on it is on another ref".into()
                    } else {
                        format!(
                            "no session owns this branch; {} commit(s) found nowhere else (forced)",
                            orphan.at_risk.len()
                        )
                    },
                });
            } else {
                kept.push(keep(
                    "no session owns this branch, but it holds commits found nowhere else (pass force to delete it)"
                        .into(),
                    orphan.at_risk,
                ));
            }
        }
    }
    Ok(())
}

/// Bytes for people: "512 B", "3.4 MB".
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
