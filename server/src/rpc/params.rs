//! Request params under the protocol's compatibility rule: unknown fields are ignored at every
//! level (a newer editor talking to an older daemon keeps working, and sessions outlive editor
//! upgrades) but never silently: the paths of the fields ignored are collected here, and the
//! transport reports them back to the client.

use serde::de::{Deserialize, Deserializer};

/// Params of type `P`, with the dotted paths (such as `config.turnTimeoutSec`) of the fields
/// that were ignored because `P` does not know them.
#[derive(Debug)]
pub struct Lenient<P> {
    /// The params.
    pub params: P,
    /// What was ignored, in the order met.
    pub ignored: Vec<String>,
}

impl<'de, P: Deserialize<'de>> Deserialize<'de> for Lenient<P> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut ignored = Vec::new();
        let params = serde_ignored::deserialize(deserializer, |path| ignored.push(dotted(&path)))?;
        Ok(Self { params, ignored })
    }
}

/// A path as the client wrote it: object keys and array indices joined by dots, without the
/// markers serde_ignored adds for options and newtypes.
fn dotted(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path;
    let segment = match path {
        Path::Root => return String::new(),
        Path::Seq { parent, index } => (parent, index.to_string()),
        Path::Map { parent, key } => (parent, key.clone()),
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => {
            return dotted(parent);
        }
    };
    let parent = dotted(segment.0);
    if parent.is_empty() { segment.1 } else { format!("{parent}.{}", segment.1) }
}

#[cfg(test)]
mod tests {
    use arbor_protocol::NoParams;

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Inner {
        turn_timeout_secs: Option<u64>,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Outer {
        config: Option<Inner>,
        list: Vec<Inner>,
    }

    #[test]
    fn ignored_fields_are_named_by_their_paths() {
        let parsed: Lenient<Outer> =
            serde_json::from_str(r#"{"config":{"turnTimeoutSec":5},"list":[{},{"extra":1}],"colour":"red"}"#).unwrap();
        assert_eq!(parsed.ignored, ["config.turnTimeoutSec", "list.1.extra", "colour"]);
        assert_eq!(parsed.params.config.and_then(|config| config.turn_timeout_secs), None);
        assert_eq!(parsed.params.list.len(), 2);
    }

    /// The keys of a non-empty object given to a method that takes no params are ignored, and
    /// reported, like any unknown field.
    #[test]
    fn no_params_accepts_empty_structures_and_reports_keys() {
        assert!(serde_json::from_str::<Lenient<NoParams>>("{}").unwrap().ignored.is_empty());
        assert!(serde_json::from_str::<Lenient<NoParams>>("[]").unwrap().ignored.is_empty());
        assert_eq!(serde_json::from_str::<Lenient<NoParams>>(r#"{"verbose":true}"#).unwrap().ignored, ["verbose"]);
        assert!(serde_json::from_str::<Lenient<NoParams>>("[1]").is_err());
    }
}
