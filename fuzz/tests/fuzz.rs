//! A short fuzzing round of every target (`ARBOR_FUZZ_CASES` inputs each, default
//! `arbor_fuzz::DEFAULT_CASES`), and the inputs that once broke a contract, kept as regressions.

use arbor_fuzz::{DEFAULT_CASES, Target, agents, cases_from_env, framing, params, run, seed_from_env};

fn short_round<T: Target>(target: T) {
    if let Err(failure) = run(&target, cases_from_env(DEFAULT_CASES), seed_from_env()) {
        panic!("{failure}");
    }
}

#[test]
fn framing_guard_survives_any_bytes() {
    short_round(framing::Framing::new());
}

#[test]
fn every_method_answers_any_params() {
    short_round(params::MethodParams::new());
}

#[test]
fn claude_stream_parser_survives_any_lines() {
    short_round(agents::Claude::new());
}

#[test]
fn codex_event_parser_survives_any_lines() {
    short_round(agents::Codex::new());
}

#[test]
fn acp_client_survives_any_messages_and_stays_confined() {
    short_round(agents::Acp::new());
}
