//! Every enum name Arbor writes by itself (`as_str`, `SessionEvent::kind`) is the name serde puts
//! on the wire: each variant is walked and compared with serde's.

use arbor_protocol::{EventKind, PermissionMode, PullRequestState, QuestionAction, SandboxBackend, SessionStatus};
use serde::Serialize;
use strum::IntoEnumIterator;

fn serde_name(value: impl Serialize) -> String {
    serde_json::to_value(value).expect("serialises").as_str().expect("a unit variant is a string").to_string()
}

fn assert_names<T: IntoEnumIterator + Serialize + Copy + std::fmt::Debug>(as_str: impl Fn(T) -> &'static str) {
    for variant in T::iter() {
        assert_eq!(as_str(variant), serde_name(variant), "{variant:?} is named as serde names it");
    }
}

#[test]
fn every_variant_is_named_as_serde_names_it() {
    assert_names(SessionStatus::as_str);
    assert_names(PermissionMode::as_str);
    assert_names(PullRequestState::as_str);
    assert_names(SandboxBackend::as_str);
    assert_names(QuestionAction::as_str);
    assert_eq!(SessionStatus::ALL.to_vec(), SessionStatus::iter().collect::<Vec<_>>(), "ALL lists every status in order");
}

#[test]
fn every_event_kind_is_the_tag_serde_writes() {
    let schema = arbor_protocol::schema::protocol_schema();
    let mut tags: Vec<&str> = schema["$defs"]["SessionEvent"]["oneOf"]
        .as_array()
        .expect("SessionEvent variants")
        .iter()
        .map(|variant| variant["properties"]["kind"]["const"].as_str().expect("a kind"))
        .collect();
    let mut kinds: Vec<&str> = EventKind::iter().map(<&str>::from).collect();
    tags.sort_unstable();
    kinds.sort_unstable();
    assert_eq!(kinds, tags);
    let event: arbor_protocol::SessionEvent =
        serde_json::from_value(serde_json::json!({ "kind": "notice", "message": "m" })).expect("an event");
    assert_eq!(event.kind(), serde_json::to_value(&event).unwrap()["kind"]);
}
