//! The names a session's branch and files are made from.

use std::path::PathBuf;

use uuid::Uuid;

use crate::git;
use crate::paths::Paths;

/// The branch and worktree of a new session on its own branch: the branch is
/// `arbor/<short id>-<slug of its title>`, the worktree `arbor-<short id>` among the worktrees.
pub(crate) fn branch_and_worktree(paths: &Paths, id: Uuid, title: &str) -> (String, PathBuf) {
    let short_id = &id.simple().to_string()[..8];
    let branch = format!("{}{short_id}-{}", git::orphan_branches::SESSION_BRANCH_PREFIX, slug(title));
    (branch, paths.worktrees().join(format!("arbor-{short_id}")))
}

/// A branch-name-safe slug of a title or prompt: lowercase words joined by dashes, at most 30
/// characters.
pub(crate) fn slug(text: &str) -> String {
    let mut slug = String::new();
    for word in text.split(|character: char| !character.is_ascii_alphanumeric()).filter(|word| !word.is_empty()) {
        if slug.len() + word.len() + 1 > 30 {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(&word.to_ascii_lowercase());
    }
    if slug.is_empty() { "session".into() } else { slug }
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs_are_branch_safe() {
        assert_eq!(slug("Fix the login bug!"), "fix-the-login-bug");
        assert_eq!(slug("   ***   "), "session");
        assert!(slug(&"word ".repeat(40)).len() <= 30);
    }
}
