//! Property-based fuzz targets for what Arbor reads from outside: the framing guard (bytes in,
//! frames and errors out), every protocol method's params (dispatched through the real JSON-RPC
//! service onto a real store), and the stream parsers of the Claude Code, Codex and ACP drivers.
//!
//! Each target is a proptest strategy and a check. Inputs mix arbitrary JSON and bytes with
//! structure-aware mutations of messages recorded from the real agent CLIs (`corpus/`), so they
//! get past the first field checks. A check fails on a panic anywhere in the process (the panic
//! hook counts those in spawned tasks and blocking threads too), on a hang, and on output that
//! breaks the target's contract. `tests/fuzz.rs` runs a short round of each in the test suite;
//! the `arbor-fuzz` binary runs long rounds (see `docs/fuzzing.md`).

pub mod agents;
pub mod framing;
pub mod input;
pub mod panics;
pub mod params;

use std::fmt::Debug;
use std::time::{Duration, Instant};

use proptest::strategy::BoxedStrategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

/// Inputs per target when `ARBOR_FUZZ_CASES` does not say.
pub const DEFAULT_CASES: u32 = 300;

/// One fuzz target.
pub trait Target {
    /// What one generated input is.
    type Input: Debug + Clone;
    /// The target's name, as the `arbor-fuzz` binary takes it.
    const NAME: &'static str;
    /// How inputs are generated.
    fn strategy(&self) -> BoxedStrategy<Self::Input>;
    /// Feeds one input to the code under test; an error says what contract it broke.
    fn check(&self, input: &Self::Input) -> Result<(), String>;
}

/// What one round of a target did.
#[derive(Debug)]
pub struct Report {
    /// The target.
    pub target: &'static str,
    /// Inputs generated and checked.
    pub cases: u32,
    /// The random seed, to repeat the round with `ARBOR_FUZZ_SEED`.
    pub seed: u64,
    /// Time taken.
    pub elapsed: Duration,
}

/// Inputs per target: `ARBOR_FUZZ_CASES`, else `default`.
pub fn cases_from_env(default: u32) -> u32 {
    std::env::var("ARBOR_FUZZ_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(default)
}

/// The round's random seed: `ARBOR_FUZZ_SEED`, else a fresh one.
pub fn seed_from_env() -> u64 {
    std::env::var("ARBOR_FUZZ_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            now.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32)
        })
        .max(1)
}

/// Runs `cases` inputs through `target`. On failure, the error names the broken contract and the
/// smallest input proptest could shrink the failing one to.
pub fn run<T: Target>(target: &T, cases: u32, seed: u64) -> Result<Report, String> {
    panics::install();
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 500, ..Config::default() };
    let mut seed_bytes = [0u8; 16];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::XorShift, &seed_bytes));
    let started = Instant::now();
    let outcome = runner.run(&target.strategy(), |input| {
        panics::take();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target.check(&input)));
        let panicked = panics::take();
        match (result, panicked) {
            (_, Some(panic)) => Err(TestCaseError::fail(format!("panicked: {panic}"))),
            (Ok(Err(broken)), None) => Err(TestCaseError::fail(broken)),
            (Err(_), None) => Err(TestCaseError::fail("panicked")),
            (Ok(Ok(())), None) => Ok(()),
        }
    });
    match outcome {
        Ok(()) => Ok(Report { target: T::NAME, cases, seed, elapsed: started.elapsed() }),
        Err(TestError::Fail(reason, input)) => {
            Err(format!("{}: {reason}\nseed {seed}; smallest failing input:\n{input:#?}", T::NAME))
        }
        Err(TestError::Abort(reason)) => Err(format!("{}: aborted: {reason} (seed {seed})", T::NAME)),
    }
}
