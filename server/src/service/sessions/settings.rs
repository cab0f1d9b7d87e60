//! The checks of a session's settings (`config`), made before anything is created.

use arbor_protocol::{AgentInfo, SessionConfig};

use crate::agents::{scripted, setting};
use crate::service::{Result, ServiceError};

/// The longest time limit a session's settings may give, in seconds.
const MAX_TIMEOUT_SECS: u64 = 365 * 24 * 60 * 60;
/// The whole-session time limit's range, in seconds, when one is set.
const SESSION_TIMEOUT_SECS: std::ops::RangeInclusive<u64> = 60..=1800;
/// The sampling temperature's range.
const TEMPERATURE: std::ops::RangeInclusive<f64> = 0.0..=2.0;
/// The output-token limit's range.
const MAX_TOKENS: std::ops::RangeInclusive<u64> = 100..=8000;

/// Rejects settings that cannot work before anything is created: values out of range, and the
/// settings `agent` would not receive (so that nothing is silently ignored).
pub(crate) fn validate_config(agent: &AgentInfo, config: &SessionConfig) -> Result<()> {
    for (name, value) in [
        ("turnTimeoutSecs", config.turn_timeout_secs),
        ("sessionTimeoutSecs", config.session_timeout_secs),
        ("startupTimeoutSecs", config.startup_timeout_secs),
    ] {
        if value == Some(0) {
            return Err(ServiceError::InvalidArgument(format!("{name} must be at least 1")));
        }
        // A deadline is an instant plus this many seconds; beyond a year it would only overflow.
        if value.is_some_and(|secs| secs > MAX_TIMEOUT_SECS) {
            return Err(ServiceError::InvalidArgument(format!("{name} must be at most {MAX_TIMEOUT_SECS} (a year)")));
        }
    }
    if let Some(secs) = config.session_timeout_secs.filter(|secs| !SESSION_TIMEOUT_SECS.contains(secs)) {
        return Err(ServiceError::InvalidArgument(format!(
            "sessionTimeoutSecs is {secs}; a whole-session limit must be {} to {} seconds",
            SESSION_TIMEOUT_SECS.start(),
            SESSION_TIMEOUT_SECS.end()
        )));
    }
    if let Some(temperature) = config.temperature.filter(|value| !TEMPERATURE.contains(value)) {
        return Err(ServiceError::InvalidArgument(format!(
            "temperature is {temperature}; it must be {} to {}",
            TEMPERATURE.start(),
            TEMPERATURE.end()
        )));
    }
    if let Some(tokens) = config.max_tokens.filter(|tokens| !MAX_TOKENS.contains(tokens)) {
        return Err(ServiceError::InvalidArgument(format!(
            "maxTokens is {tokens}; it must be {} to {}",
            MAX_TOKENS.start(),
            MAX_TOKENS.end()
        )));
    }
    let supported = &agent.capabilities.settings;
    if let Some(refused) = setting::given(config).into_iter().find(|name| !supported.iter().any(|ok| ok == name)) {
        let takes = match supported.as_slice() {
            [] => "none of systemPrompt, temperature, maxTokens and script".to_string(),
            names => names.join(", "),
        };
        return Err(ServiceError::InvalidArgument(format!(
            "the {} agent does not take config.{refused}, so it would be ignored; of the agent-specific settings \
             it takes {takes}",
            agent.name
        )));
    }
    if let Some(script) = &config.script {
        scripted::script::Script::parse(script).map_err(|error| ServiceError::InvalidArgument(error.to_string()))?;
    }
    Ok(())
}
