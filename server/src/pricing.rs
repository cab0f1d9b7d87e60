//! Estimated cost for agents that report tokens but no cost (Codex, Gemini CLI, most ACP
//! agents): the token counts priced from a table per model. The shipped table holds the
//! providers' published list prices as of [`PRICES_AS_OF`]; the config file's `prices` adds
//! models or replaces entries. Sessions and comparisons mark such costs as estimates.

use std::collections::BTreeMap;

use arbor_protocol::{Session, Usage};
use serde::Deserialize;

/// When the shipped prices were last checked against the providers' price lists.
pub const PRICES_AS_OF: &str = "2025-08-07";

/// US dollars per million tokens.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Price {
    /// Input tokens.
    pub input: f64,
    /// Output tokens.
    pub output: f64,
    /// Input tokens read from the prompt cache (default: the input price).
    #[serde(default)]
    pub cache_read: Option<f64>,
    /// Input tokens written to the prompt cache (default: the input price).
    #[serde(default)]
    pub cache_write: Option<f64>,
}

const fn price(input: f64, output: f64, cache_read: f64, cache_write: f64) -> Price {
    Price { input, output, cache_read: Some(cache_read), cache_write: Some(cache_write) }
}

/// The shipped table, by model name (a name also prices the models it is a prefix of).
const SHIPPED: [(&str, Price); 14] = [
    ("gpt-5", price(1.25, 10.0, 0.125, 1.25)),
    ("gpt-5-mini", price(0.25, 2.0, 0.025, 0.25)),
    ("gpt-5-nano", price(0.05, 0.4, 0.005, 0.05)),
    ("gpt-4.1", price(2.0, 8.0, 0.5, 2.0)),
    ("o3", price(2.0, 8.0, 0.5, 2.0)),
    ("o4-mini", price(1.1, 4.4, 0.275, 1.1)),
    ("gemini-2.5-pro", price(1.25, 10.0, 0.31, 1.25)),
    ("gemini-2.5-flash", price(0.3, 2.5, 0.075, 0.3)),
    ("claude-sonnet-4", price(3.0, 15.0, 0.3, 3.75)),
    ("claude-opus-4", price(15.0, 75.0, 1.5, 18.75)),
    ("claude-3-5-haiku", price(0.8, 4.0, 0.08, 1.0)),
    ("sonnet", price(3.0, 15.0, 0.3, 3.75)),
    ("opus", price(15.0, 75.0, 1.5, 18.75)),
    ("haiku", price(0.8, 4.0, 0.08, 1.0)),
];

/// The model an agent runs when neither the session nor the agent names one: the CLI's own
/// default family.
const AGENT_DEFAULT_MODELS: [(&str, &str); 2] = [("codex", "gpt-5"), ("gemini", "gemini-2.5-pro")];

/// The prices in force: the shipped table with the config file's entries over it.
#[derive(Debug, Clone)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

impl PriceTable {
    /// The shipped table with `overrides` (the config file's `prices`) over it.
    pub fn new(overrides: &BTreeMap<String, Price>) -> PriceTable {
        let mut prices: BTreeMap<String, Price> = SHIPPED.iter().map(|(model, price)| (model.to_string(), *price)).collect();
        prices.extend(overrides.iter().map(|(model, price)| (model.clone(), *price)));
        PriceTable { prices }
    }

    /// The price of `model`: its own entry, else that of the longest name it starts with.
    fn price(&self, model: &str) -> Option<&Price> {
        self.prices.get(model).or_else(|| {
            self.prices
                .iter()
                .filter(|(name, _)| model.starts_with(name.as_str()))
                .max_by_key(|(name, _)| name.len())
                .map(|(_, price)| price)
        })
    }

    /// `usage` with an estimated cost, when it carries tokens but no cost and `session`'s model
    /// has a price; otherwise unchanged.
    pub fn estimated(&self, session: &Session, mut usage: Usage) -> Usage {
        let tokens = usage.input_tokens + usage.output_tokens + usage.cache_read_tokens + usage.cache_write_tokens;
        if usage.cost_usd > 0.0 || tokens == 0 {
            return usage;
        }
        let Some(price) = model_of(session).and_then(|model| self.price(&model)) else { return usage };
        let per_token = |count: u64, per_million: f64| count as f64 * per_million / 1_000_000.0;
        usage.cost_usd = per_token(usage.input_tokens, price.input)
            + per_token(usage.output_tokens, price.output)
            + per_token(usage.cache_read_tokens, price.cache_read.unwrap_or(price.input))
            + per_token(usage.cache_write_tokens, price.cache_write.unwrap_or(price.input));
        usage.cost_estimated = true;
        usage
    }
}

/// The model a session runs on, as best known: what the agent reported, what the session asked
/// for, or the agent's default.
fn model_of(session: &Session) -> Option<String> {
    session.agent_model.clone().or_else(|| session.model.clone()).or_else(|| {
        AGENT_DEFAULT_MODELS.iter().find(|(agent, _)| *agent == session.agent).map(|(_, model)| model.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_is_priced_by_its_own_entry_or_its_longest_prefix_and_the_config_wins() {
        let overrides = BTreeMap::from([("gpt-5-mini".to_string(), price(9.0, 9.0, 9.0, 9.0))]);
        let table = PriceTable::new(&overrides);
        assert_eq!(table.price("gpt-5.5").unwrap().input, 1.25);
        assert_eq!(table.price("gpt-5-nano-2025").unwrap().input, 0.05);
        assert_eq!(table.price("gpt-5-mini").unwrap().input, 9.0);
        assert!(table.price("llama").is_none());
    }
}
