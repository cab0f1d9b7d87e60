//! The permission policy: Arbor answers an agent's permission request itself when a rule says
//! so, before anyone is asked. Rules come from four levels (the session, its task, its agent
//! profile, the config file); `docs/protocol.md` ("Permission policy") is the user's description
//! of how the deciding rule is chosen, and [`Policy::evaluate`] is that description in code.

mod subject;

use std::collections::BTreeMap;

use arbor_protocol::{
    AppliedRule, PermissionAction, PermissionMode, PermissionOption, PermissionOptionKind, PermissionRule, RuleLevel,
    Session, ToolKind,
};
use globset::{Glob, GlobBuilder, GlobMatcher};

use crate::store::Store;

pub use subject::subject_of;

/// Errors of permission rules.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A rule's pattern is not a valid glob.
    #[error("permission rule pattern '{pattern}' is not a valid glob: {message}")]
    InvalidPattern { pattern: String, message: String },
}

/// Checks that every rule's pattern is a valid glob, so bad rules are refused where they are
/// given rather than ignored later.
pub fn validate(rules: &[PermissionRule]) -> Result<(), PolicyError> {
    for rule in rules {
        if let Some(pattern) = &rule.pattern {
            Glob::new(pattern).map_err(|error| PolicyError::InvalidPattern {
                pattern: pattern.clone(),
                message: error.kind().to_string(),
            })?;
        }
    }
    Ok(())
}

/// The rules that do not belong to one session: the config file's and each profile's.
#[derive(Debug, Clone, Default)]
pub struct StandingRules {
    /// The config file's top-level rules.
    pub config: Vec<PermissionRule>,
    /// Each agent profile's rules, by profile name.
    pub profiles: BTreeMap<String, Vec<PermissionRule>>,
}

impl StandingRules {
    /// The policy of `session`: its own rules, its task's (read from the store, where "allow
    /// always" answers from its sibling trials land), its profile's and the config file's.
    pub async fn policy_of(&self, session: &Session, store: &Store) -> Policy {
        let task_rules = match session.task_id {
            Some(task_id) => store.task_rules(task_id).await.unwrap_or_else(|error| {
                tracing::error!(session = %session.id, %error, "could not read the task's permission rules");
                Vec::new()
            }),
            None => Vec::new(),
        };
        let profile_rules =
            session.profile.as_ref().and_then(|name| self.profiles.get(name)).cloned().unwrap_or_default();
        Policy::new(session.config.permission_mode.unwrap_or_default())
            .with(RuleLevel::Session, session.permissions.clone())
            .with(RuleLevel::Task, task_rules)
            .with(RuleLevel::Profile, profile_rules)
            .with(RuleLevel::Config, self.config.clone())
    }
}

/// What the policy says about one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Arbor answers without asking anyone: allowed (true) or denied (false), by this rule.
    Decided { allow: bool, rule: AppliedRule },
    /// The user is asked.
    AskUser,
}

/// One session's policy: its rules by level, most specific level first, and its permission mode.
#[derive(Debug, Clone)]
pub struct Policy {
    levels: Vec<(RuleLevel, Vec<PermissionRule>)>,
    mode: PermissionMode,
}

/// How specific a rule is within its level; a greater value wins. Fields compare in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Specificity {
    /// 2 for a literal pattern, 1 for a glob, 0 for no pattern.
    pattern: u8,
    /// Whether the rule names a tool kind.
    kind: bool,
    /// Characters of the pattern that are not glob syntax (a longer fixed text is narrower).
    literal_chars: usize,
    /// Deny wins ties, then ask.
    action: PermissionAction,
}

impl Policy {
    /// An empty policy for a session in `mode`.
    pub fn new(mode: PermissionMode) -> Self {
        Self { levels: Vec::new(), mode }
    }

    /// Adds the rules of the next, less specific, level.
    pub fn with(mut self, level: RuleLevel, rules: Vec<PermissionRule>) -> Self {
        self.levels.push((level, rules));
        self
    }

    /// True when the session bypasses permissions but deny rules exist, so its agent must still
    /// ask Arbor before acting (and Arbor allows whatever is not denied).
    pub fn guards_bypass(&self) -> bool {
        self.mode == PermissionMode::BypassPermissions
            && self.levels.iter().flat_map(|(_, rules)| rules).any(|rule| rule.action == PermissionAction::Deny)
    }

    /// Decides a request for an action of `kind` on `subject`. The most specific level with a
    /// matching rule decides; within it, the most specific matching rule (see [`Specificity`]).
    /// `ask` asks the user, except in `bypass_permissions` mode, which never asks and allows
    /// whatever no rule denies.
    pub fn evaluate(&self, kind: ToolKind, subject: Option<&str>) -> Verdict {
        let deciding = self.levels.iter().find_map(|(level, rules)| {
            rules
                .iter()
                .filter(|rule| matches(rule, kind, subject))
                .max_by_key(|rule| specificity(rule))
                .map(|rule| (*level, rule))
        });
        let bypass = self.mode == PermissionMode::BypassPermissions;
        match deciding {
            Some((level, rule)) if rule.action != PermissionAction::Ask => Verdict::Decided {
                allow: rule.action == PermissionAction::Allow,
                rule: AppliedRule { level, kind: rule.kind, pattern: rule.pattern.clone(), action: rule.action },
            },
            _ if bypass => Verdict::Decided {
                allow: true,
                rule: AppliedRule {
                    level: RuleLevel::Mode,
                    kind: None,
                    pattern: None,
                    action: PermissionAction::Allow,
                },
            },
            _ => Verdict::AskUser,
        }
    }
}

/// The rule an "allow always" answer adds: this kind, exactly this subject.
pub fn allow_always_rule(kind: ToolKind, subject: Option<&str>) -> PermissionRule {
    PermissionRule { kind: Some(kind), pattern: subject.map(globset::escape), action: PermissionAction::Allow }
}

/// The option Arbor picks to answer for the policy: a one-time answer where the agent offers one,
/// so the agent's own memory of answers stays the user's.
pub fn option_for(options: &[PermissionOption], allow: bool) -> Option<&PermissionOption> {
    let (once, always) = if allow {
        (PermissionOptionKind::AllowOnce, PermissionOptionKind::AllowAlways)
    } else {
        (PermissionOptionKind::RejectOnce, PermissionOptionKind::RejectAlways)
    };
    options.iter().find(|option| option.kind == once).or_else(|| options.iter().find(|option| option.kind == always))
}

fn matches(rule: &PermissionRule, kind: ToolKind, subject: Option<&str>) -> bool {
    if rule.kind.is_some_and(|wanted| wanted != kind) {
        return false;
    }
    match (&rule.pattern, subject) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(pattern), Some(subject)) => matcher(pattern, kind).is_some_and(|matcher| matcher.is_match(subject)),
    }
}

/// File kinds keep `*` within a path segment (`src/*` is not `src/a/b.rs`); commands, URLs and
/// queries are not paths, so there `*` matches anything (`rm -rf *` matches `rm -rf /`).
fn matcher(pattern: &str, kind: ToolKind) -> Option<GlobMatcher> {
    let path_like = matches!(kind, ToolKind::Read | ToolKind::Edit | ToolKind::Delete | ToolKind::Move);
    match GlobBuilder::new(pattern).literal_separator(path_like).backslash_escape(true).build() {
        Ok(glob) => Some(glob.compile_matcher()),
        Err(error) => {
            // Rules are validated where they are given; one that slips through matches nothing.
            tracing::warn!(pattern, %error, "ignored a permission rule with an invalid pattern");
            None
        }
    }
}

const GLOB_SYNTAX: &[char] = &['*', '?', '[', ']', '{', '}', '\\'];

fn specificity(rule: &PermissionRule) -> Specificity {
    let (pattern, literal_chars) = match &rule.pattern {
        None => (0, 0),
        Some(pattern) if pattern.contains(GLOB_SYNTAX) => {
            (1, pattern.chars().filter(|character| !GLOB_SYNTAX.contains(character)).count())
        }
        Some(pattern) => (2, pattern.chars().count()),
    };
    Specificity { pattern, kind: rule.kind.is_some(), literal_chars, action: rule.action }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PermissionAction::{Allow, Ask, Deny};

    fn rule(kind: Option<ToolKind>, pattern: Option<&str>, action: PermissionAction) -> PermissionRule {
        PermissionRule { kind, pattern: pattern.map(str::to_string), action }
    }

    fn decided(verdict: Verdict) -> (bool, RuleLevel, Option<String>) {
        match verdict {
            Verdict::Decided { allow, rule } => (allow, rule.level, rule.pattern),
            Verdict::AskUser => panic!("expected a decision"),
        }
    }

    #[test]
    fn a_more_specific_level_wins_over_a_more_specific_rule() {
        let policy = Policy::new(PermissionMode::Ask)
            .with(RuleLevel::Session, vec![rule(Some(ToolKind::Execute), None, Allow)])
            .with(RuleLevel::Config, vec![rule(Some(ToolKind::Execute), Some("rm -rf *"), Deny)]);
        assert_eq!(decided(policy.evaluate(ToolKind::Execute, Some("rm -rf /"))), (true, RuleLevel::Session, None));
    }

    #[test]
    fn within_a_level_literal_beats_glob_beats_kind_only_and_deny_wins_ties() {
        let policy = Policy::new(PermissionMode::Ask).with(
            RuleLevel::Config,
            vec![
                rule(Some(ToolKind::Execute), None, Deny),
                rule(Some(ToolKind::Execute), Some("npm *"), Allow),
                rule(Some(ToolKind::Execute), Some("npm publish"), Deny),
                rule(Some(ToolKind::Edit), Some("src/**"), Allow),
                rule(Some(ToolKind::Edit), Some("src/**"), Deny),
            ],
        );
        let at_config = |allow, pattern: &str| (allow, RuleLevel::Config, Some(pattern.to_string()));
        assert_eq!(decided(policy.evaluate(ToolKind::Execute, Some("npm test"))), at_config(true, "npm *"));
        assert_eq!(decided(policy.evaluate(ToolKind::Execute, Some("npm publish"))), at_config(false, "npm publish"));
        assert_eq!(decided(policy.evaluate(ToolKind::Execute, Some("make"))), (false, RuleLevel::Config, None));
        assert_eq!(decided(policy.evaluate(ToolKind::Edit, Some("src/a/b.rs"))), at_config(false, "src/**"));
    }

    #[test]
    fn path_globs_keep_to_segments_and_command_globs_do_not() {
        let policy = Policy::new(PermissionMode::Ask).with(
            RuleLevel::Task,
            vec![
                rule(Some(ToolKind::Edit), Some("src/*"), Allow),
                rule(Some(ToolKind::Execute), Some("rm -rf *"), Deny),
            ],
        );
        assert!(matches!(policy.evaluate(ToolKind::Edit, Some("src/lib.rs")), Verdict::Decided { allow: true, .. }));
        assert_eq!(policy.evaluate(ToolKind::Edit, Some("src/a/lib.rs")), Verdict::AskUser);
        assert!(matches!(policy.evaluate(ToolKind::Execute, Some("rm -rf /")), Verdict::Decided { allow: false, .. }));
        assert_eq!(policy.evaluate(ToolKind::Execute, None), Verdict::AskUser);
    }

    #[test]
    fn bypass_mode_asks_nobody_but_deny_still_holds() {
        let policy = Policy::new(PermissionMode::BypassPermissions).with(
            RuleLevel::Config,
            vec![rule(Some(ToolKind::Execute), Some("rm *"), Deny), rule(Some(ToolKind::Execute), Some("make"), Ask)],
        );
        assert!(policy.guards_bypass());
        assert_eq!(decided(policy.evaluate(ToolKind::Execute, Some("make"))), (true, RuleLevel::Mode, None));
        assert!(!decided(policy.evaluate(ToolKind::Execute, Some("rm x"))).0);
        assert!(
            !Policy::new(PermissionMode::Ask).with(RuleLevel::Config, vec![rule(None, None, Deny)]).guards_bypass()
        );
    }

    #[test]
    fn allow_always_matches_exactly_what_was_asked() {
        let learned = allow_always_rule(ToolKind::Execute, Some("ls *.rs"));
        let policy = Policy::new(PermissionMode::Ask).with(RuleLevel::Session, vec![learned]);
        assert!(matches!(policy.evaluate(ToolKind::Execute, Some("ls *.rs")), Verdict::Decided { allow: true, .. }));
        assert_eq!(policy.evaluate(ToolKind::Execute, Some("ls main.rs")), Verdict::AskUser);
    }

    #[test]
    fn bad_patterns_are_refused_with_their_text() {
        let error = validate(&[rule(None, Some("src/[a"), Allow)]).unwrap_err().to_string();
        assert!(error.contains("src/[a"), "{error}");
    }
}
