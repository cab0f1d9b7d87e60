//! A session's permission mode and model, carried to an ACP agent through what it offers: its
//! session modes (`session/set_mode`) or its config options of category `mode` and `model`
//! (`session/set_config_option`), or its model list (`session/set_model`). An agent that offers
//! modes but none matching the one asked is refused; one that offers no modes or no model choice
//! is started with a notice saying so.

use arbor_protocol::PermissionMode;
use serde_json::{Value, json};

/// The mode ids agents use for each of Arbor's permission modes, most common first: Claude's
/// adapters (`default`, `acceptEdits`, `bypassPermissions`), Codex's (`read-only`,
/// `workspace-write`, `agent-full-access`), Gemini CLI's (`default`, `autoEdit`, `yolo`).
fn mode_ids(mode: PermissionMode) -> &'static [&'static str] {
    match mode {
        PermissionMode::Ask => &["default", "ask", "manual", "read-only"],
        PermissionMode::AcceptEdits => &["acceptEdits", "accept_edits", "autoEdit", "auto_edit", "workspace-write"],
        PermissionMode::BypassPermissions => {
            &["bypassPermissions", "bypass_permissions", "yolo", "agent-full-access", "full-access"]
        }
    }
}

/// What an agent offers for its session's settings, from its `session/new` or `session/load`
/// answer (or a later `config_option_update`).
#[derive(Debug, Default, Clone)]
pub struct Offered {
    /// `modes.availableModes[].id`.
    modes: Vec<String>,
    /// The select option of category `mode`: its id and values.
    mode_option: Option<(String, Vec<String>)>,
    /// The select option of category `model`: its id and values.
    model_option: Option<(String, Vec<String>)>,
    /// `models.availableModels[].modelId`.
    models: Vec<String>,
    /// The settings as the agent reports them now.
    pub current: Current,
}

/// The agent's mode and model as it last reported them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Current {
    pub mode: Option<String>,
    pub model: Option<String>,
}

/// One request that changes a setting, and what the setting is once it succeeds.
#[derive(Debug, Clone)]
pub struct Change {
    pub method: &'static str,
    pub params: Value,
    pub mode: Option<String>,
    pub model: Option<String>,
}

/// The requests that carry a session's settings to the agent, and what to tell the user.
#[derive(Debug, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub notices: Vec<String>,
}

fn select_option(options: &Value, category: &str) -> Option<(String, Vec<String>)> {
    let option = options.as_array()?.iter().find(|option| option["category"] == category)?;
    let values = option["options"]
        .as_array()
        .into_iter()
        .flatten()
        // Grouped selects nest their values one level down.
        .flat_map(|entry| entry["options"].as_array().cloned().unwrap_or_else(|| vec![entry.clone()]))
        .filter_map(|entry| entry["value"].as_str().map(str::to_string))
        .collect();
    Some((option["id"].as_str()?.to_string(), values))
}

fn current_of(options: &Value, category: &str) -> Option<String> {
    options.as_array()?.iter().find(|option| option["category"] == category)?["currentValue"]
        .as_str()
        .map(str::to_string)
}

impl Offered {
    /// What a `session/new` or `session/load` answer offers.
    pub fn of(answer: &Value) -> Self {
        let ids = |list: &Value, key: &str| -> Vec<String> {
            list.as_array().into_iter().flatten().filter_map(|entry| entry[key].as_str().map(str::to_string)).collect()
        };
        let options = &answer["configOptions"];
        let current = Current {
            mode: current_of(options, "mode").or_else(|| answer["modes"]["currentModeId"].as_str().map(str::to_string)),
            model: current_of(options, "model")
                .or_else(|| answer["models"]["currentModelId"].as_str().map(str::to_string)),
        };
        Self {
            modes: ids(&answer["modes"]["availableModes"], "id"),
            mode_option: select_option(options, "mode"),
            model_option: select_option(options, "model"),
            models: ids(&answer["models"]["availableModels"], "modelId"),
            current,
        }
    }

    /// Takes the current values from a `config_option_update`'s (or a `session/set_config_option`
    /// answer's) full list of options.
    pub fn update_options(&mut self, options: &Value) {
        if let Some(mode) = current_of(options, "mode") {
            self.current.mode = Some(mode);
        }
        if let Some(model) = current_of(options, "model") {
            self.current.model = Some(model);
        }
    }

    /// Records a change the agent accepted: the setting it made, and the current values of a
    /// `session/set_config_option` answer's options.
    pub fn applied(&mut self, change: &Change, answer: &Value) {
        if let Some(mode) = &change.mode {
            self.current.mode = Some(mode.clone());
        }
        if let Some(model) = &change.model {
            self.current.model = Some(model.clone());
        }
        self.update_options(&answer["configOptions"]);
    }

    /// The requests that put the agent in `mode` (when given) and on `model` (when given), for the
    /// agent's session `session_id`; an error when the agent offers modes and none matches.
    pub fn plan(
        &self,
        agent: &str,
        session_id: &str,
        mode: Option<PermissionMode>,
        model: Option<&str>,
    ) -> Result<Plan, String> {
        let mut plan = Plan::default();
        if let Some(mode) = mode {
            let offered: Vec<&String> =
                self.mode_option.iter().flat_map(|(_, values)| values).chain(&self.modes).collect();
            if offered.is_empty() {
                plan.notices.push(format!(
                    "{agent} offers no permission modes, so Arbor cannot put it in `{}` mode: the agent decides \
                     itself when to ask",
                    mode.as_str()
                ));
            } else {
                let wanted = mode_ids(mode)
                    .iter()
                    .find(|id| offered.iter().any(|offered| offered.as_str() == **id))
                    .ok_or_else(|| {
                        let offered: Vec<&str> = offered.iter().map(|id| id.as_str()).collect();
                        format!(
                            "{agent} offers no mode matching the permission mode `{}` (it offers {})",
                            mode.as_str(),
                            offered.join(", ")
                        )
                    })?
                    .to_string();
                let change = match (&self.mode_option, self.modes.contains(&wanted)) {
                    (_, true) => Change {
                        method: "session/set_mode",
                        params: json!({ "sessionId": session_id, "modeId": wanted }),
                        mode: Some(wanted),
                        model: None,
                    },
                    (Some((config_id, _)), false) => {
                        set_option(session_id, config_id, &wanted, Some(wanted.clone()), None)
                    }
                    (None, false) => unreachable!("the wanted mode was found among the offered ones"),
                };
                if self.current.mode.as_deref() != change.mode.as_deref() {
                    plan.changes.push(change);
                }
            }
        }
        if let Some(model) = model.filter(|model| self.current.model.as_deref() != Some(*model)) {
            if let Some((config_id, values)) = &self.model_option {
                if !values.is_empty() && !values.iter().any(|value| value == model) {
                    return Err(format!("{agent} offers no model `{model}` (it offers {})", values.join(", ")));
                }
                plan.changes.push(set_option(session_id, config_id, model, None, Some(model.to_string())));
            } else if !self.models.is_empty() {
                plan.changes.push(Change {
                    method: "session/set_model",
                    params: json!({ "sessionId": session_id, "modelId": model }),
                    mode: None,
                    model: Some(model.to_string()),
                });
            } else {
                plan.notices.push(format!("{agent} offers no model choice, so the model `{model}` was not passed on"));
            }
        }
        Ok(plan)
    }
}

fn set_option(session_id: &str, config_id: &str, value: &str, mode: Option<String>, model: Option<String>) -> Change {
    Change {
        method: "session/set_config_option",
        params: json!({ "sessionId": session_id, "configId": config_id, "value": value }),
        mode,
        model,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claude_adapter() -> Value {
        json!({
            "modes": { "currentModeId": "auto", "availableModes": [{ "id": "default" }, { "id": "auto" }, { "id": "bypassPermissions" }] },
            "configOptions": [
                { "id": "mode", "category": "mode", "currentValue": "auto",
                  "options": [{ "value": "default" }, { "value": "auto" }, { "value": "bypassPermissions" }] },
                { "id": "model", "category": "model", "currentValue": "default",
                  "options": [{ "value": "default" }, { "value": "haiku" }] },
            ],
        })
    }

    #[test]
    fn modes_and_models_map_onto_what_the_agent_offers() {
        let offered = Offered::of(&claude_adapter());
        assert_eq!(offered.current, Current { mode: Some("auto".into()), model: Some("default".into()) });
        let plan = offered.plan("claude", "s1", Some(PermissionMode::Ask), Some("haiku")).unwrap();
        assert_eq!(plan.changes[0].method, "session/set_mode");
        assert_eq!(plan.changes[0].params["modeId"], "default");
        assert_eq!(plan.changes[1].params, json!({ "sessionId": "s1", "configId": "model", "value": "haiku" }));
        assert!(plan.notices.is_empty());
    }

    #[test]
    fn no_matching_mode_is_refused_and_no_modes_at_all_is_a_notice() {
        let offered = Offered::of(&claude_adapter());
        let refused = offered.plan("claude", "s1", Some(PermissionMode::AcceptEdits), None).unwrap_err();
        assert!(refused.contains("no mode matching the permission mode `accept_edits`"), "{refused}");
        assert!(offered.plan("claude", "s1", None, Some("gpt")).unwrap_err().contains("offers no model `gpt`"));
        let plan = Offered::of(&json!({})).plan("x", "s1", Some(PermissionMode::Ask), Some("m")).unwrap();
        assert!(plan.changes.is_empty());
        assert_eq!(plan.notices.len(), 2);
    }
}
