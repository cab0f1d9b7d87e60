//! The model API a Codex CLI names in its own config file. Codex (and the Codex ACP adapter,
//! which runs it) takes a custom provider's `base_url` from `$CODEX_HOME/config.toml` (else
//! `~/.codex/config.toml`), not from its environment, so the sandbox's forwarder reads it there
//! to know where the agent's model API is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The parts of Codex's `config.toml` that choose the model provider.
#[derive(Debug, Default, Deserialize)]
struct CodexConfig {
    model_provider: Option<String>,
    profile: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
    #[serde(default)]
    model_providers: BTreeMap<String, Provider>,
}

#[derive(Debug, Deserialize)]
struct Profile {
    model_provider: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Provider {
    base_url: Option<String>,
}

/// The `base_url` of the provider Codex would use, given the agent's environment and the HOME it
/// sees; none when there is no config file, it does not parse, or the provider is a built-in one
/// (whose base URL, if moved, is in `OPENAI_BASE_URL`).
pub fn base_url(env: &BTreeMap<String, String>, home: &Path) -> Option<String> {
    let codex_home = env.get("CODEX_HOME").map(PathBuf::from).unwrap_or_else(|| home.join(".codex"));
    let text = std::fs::read_to_string(codex_home.join("config.toml")).ok()?;
    parse(&text)
}

fn parse(text: &str) -> Option<String> {
    let config: CodexConfig = toml::from_str(text).ok()?;
    let from_profile = config.profile.as_ref().and_then(|name| config.profiles.get(name)?.model_provider.clone());
    let provider = from_profile.or(config.model_provider)?;
    config.model_providers.get(&provider)?.base_url.clone()
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn the_chosen_providers_base_url_is_found() {
        let config = "model = \"gpt-5.5\"\nmodel_provider = \"mock\"\n\n[model_providers.mock]\nbase_url = \"http://127.0.0.1:4000/v1\"\n";
        assert_eq!(parse(config).as_deref(), Some("http://127.0.0.1:4000/v1"));
        let profiled = format!("profile = \"work\"\n{config}\n[profiles.work]\nmodel_provider = \"gateway\"\n\n[model_providers.gateway]\nbase_url = \"https://gateway.example.com/v1\"\n");
        assert_eq!(parse(&profiled).as_deref(), Some("https://gateway.example.com/v1"));
        assert_eq!(parse("model = \"gpt-5.5\"\n"), None, "the built-in provider");
        assert_eq!(parse("model_provider = ["), None, "a file that does not parse");
    }
}
