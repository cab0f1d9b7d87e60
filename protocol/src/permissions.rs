//! The permission policy's wire types: rules (in the config file, a profile, a task or a
//! session) and the record of which rule decided a permission request.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::events::ToolKind;

/// What a rule does with the permission requests it matches.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum PermissionAction {
    /// Answer yes without asking anyone.
    Allow,
    /// Ask the user (in `bypass_permissions` mode nobody is asked: it allows).
    Ask,
    /// Answer no without asking anyone, whatever the permission mode.
    Deny,
}

/// One permission rule. A request matches when its tool kind is `kind` (any kind when absent) and
/// its subject (the command, path, URL or query) matches `pattern` (anything when absent).
///
/// The one wire type that refuses unknown fields instead of ignoring them (docs/protocol.md,
/// "Params and compatibility"): a misspelt `pattern`, ignored, would widen the rule to every
/// subject, so a rule that is not fully understood is refused.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PermissionRule {
    /// The tool kind the rule is about; absent: every kind.
    #[serde(default)]
    pub kind: Option<ToolKind>,
    /// A glob over the request's subject, such as `npm test`, `src/**` or `rm -rf *`. For file
    /// kinds `*` stays within one path segment and `**` crosses them; for commands, URLs and
    /// queries `*` matches anything. Absent: every subject.
    #[serde(default)]
    pub pattern: Option<String>,
    /// What to do with a matching request.
    pub action: PermissionAction,
}

/// Where a rule was set. Listed from the most specific: a rule of a more specific level wins.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RuleLevel {
    /// The session's own rules (`session/new`, `session/configure`, "allow always" answers).
    Session,
    /// The task's rules (`task/new`, and "allow always" answers given in any of its trials).
    Task,
    /// The agent profile's rules (config file).
    Profile,
    /// The config file's top-level rules.
    Config,
    /// No rule matched; the session's permission mode decided (`bypass_permissions` allows).
    Mode,
}

/// Who answered a permission request.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResolvedBy {
    /// Arbor's permission policy, without asking anyone.
    Policy,
    /// A user, through `session/respond`.
    User,
}

/// The rule that decided a permission request, and where it was set.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AppliedRule {
    /// Where the rule was set.
    pub level: RuleLevel,
    /// The rule's tool kind (null: every kind).
    pub kind: Option<ToolKind>,
    /// The rule's pattern (null: every subject).
    pub pattern: Option<String>,
    /// What the rule did.
    pub action: PermissionAction,
}
