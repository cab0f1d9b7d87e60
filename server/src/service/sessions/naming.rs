//! The names a session's branch and files are made from.

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
