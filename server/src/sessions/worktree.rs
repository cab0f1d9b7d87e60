//! What a session does to its worktree around turns: checkpoints, noticing changed files, and
//! noticing git changes made outside Arbor. Git work runs on the blocking pool.

use std::path::PathBuf;

use arbor_protocol::{Checkpoint, Session, SessionEvent};

use crate::git::{self, GitError, checkpoint};

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, GitError> + Send + 'static,
) -> Result<T, GitError> {
    tokio::task::spawn_blocking(work).await.map_err(|error| GitError::Io(std::io::Error::other(error)))?
}

/// Commits the worktree's state as checkpoint `number`.
pub async fn take_checkpoint(session: &Session, number: u32, label: String) -> Result<Checkpoint, GitError> {
    let cwd = PathBuf::from(&session.cwd);
    let session_id = session.id.to_string();
    let base = session.base_commit.clone().unwrap_or_default();
    blocking(move || {
        let snapshot = checkpoint::create(&cwd, &session_id, number, &label, &base)?;
        Ok(Checkpoint {
            checkpoint_id: number,
            commit: snapshot.commit,
            reference: snapshot.reference,
            label,
            files_changed: snapshot.files_changed,
        })
    })
    .await
}

/// Saves the current state as checkpoint `saved_number`, then makes the worktree's files match
/// `target`. Returns the saved checkpoint.
pub async fn rewind(session: &Session, target: &Checkpoint, saved_number: u32) -> Result<Checkpoint, GitError> {
    let label = format!("before rewinding to checkpoint {}", target.checkpoint_id);
    let saved = take_checkpoint(session, saved_number, label).await?;
    let cwd = PathBuf::from(&session.cwd);
    let commit = target.commit.clone();
    blocking(move || checkpoint::restore(&cwd, &commit)).await?;
    Ok(saved)
}

/// The worktree's status fingerprint (see [`git::review::status_fingerprint`]).
pub async fn fingerprint(session: &Session) -> Result<Vec<(String, String)>, GitError> {
    let cwd = PathBuf::from(&session.cwd);
    blocking(move || git::review::status_fingerprint(&cwd)).await
}

/// Paths whose fingerprint differs between two looks.
pub fn changed_paths(before: &[(String, String)], after: &[(String, String)]) -> Vec<String> {
    let mut paths: Vec<String> =
        after.iter().filter(|entry| !before.contains(entry)).map(|(path, _)| path.clone()).collect();
    paths.extend(
        before.iter().filter(|(path, _)| !after.iter().any(|(other, _)| other == path)).map(|(path, _)| path.clone()),
    );
    paths.sort();
    paths.dedup();
    paths
}

/// An `external_change` event when the worktree's HEAD is not what Arbor last saw, and the HEAD
/// now seen (to remember, so each change is reported once).
pub async fn external_change(session: &Session) -> Option<(SessionEvent, String)> {
    let cwd = PathBuf::from(&session.cwd);
    let (branch, head) = blocking(move || git::head_state(&cwd)).await.ok()?;
    if session.head_commit.as_deref() == Some(head.as_str()) && branch == session.branch {
        return None;
    }
    let message = if branch != session.branch {
        format!(
            "the worktree is now on {}, not on the session's branch {} (changed outside Arbor)",
            branch.as_deref().unwrap_or("a detached HEAD"),
            session.branch.as_deref().unwrap_or("-")
        )
    } else {
        format!(
            "{} moved to {} outside Arbor (a commit, reset or checkout in the worktree)",
            branch.as_deref().unwrap_or("HEAD"),
            &head[..12.min(head.len())]
        )
    };
    Some((SessionEvent::ExternalChange { message, branch, head: head.clone() }, head))
}

#[cfg(test)]
mod tests {
    use super::changed_paths;

    #[test]
    fn changed_paths_covers_new_changed_and_gone_entries() {
        let before = vec![("a".to_string(), "1".to_string()), ("b".to_string(), "1".to_string())];
        let after = vec![("a".to_string(), "2".to_string()), ("c".to_string(), "1".to_string())];
        assert_eq!(changed_paths(&before, &after), vec!["a", "b", "c"]);
        assert!(changed_paths(&after, &after).is_empty());
    }
}
