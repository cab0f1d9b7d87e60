//! `arbor-fuzz [TARGET…]`: runs long fuzzing rounds. `ARBOR_FUZZ_CASES` sets the inputs per target
//! (default 100000) and `ARBOR_FUZZ_SEED` repeats a round. Targets: framing, params, claude, codex,
//! acp (default all). Prints one line per target with its figures; exits 1 on the first failure,
//! with the smallest failing input.

use std::process::ExitCode;

use arbor_fuzz::{Report, Target, agents, cases_from_env, framing, params, run, seed_from_env};

const TARGETS: &[&str] = &["framing", "params", "claude", "codex", "acp"];

fn round<T: Target>(target: T, cases: u32, seed: u64) -> Result<Report, String> {
    run(&target, cases, seed)
}

fn main() -> ExitCode {
    let mut chosen: Vec<String> = std::env::args().skip(1).collect();
    if chosen.is_empty() {
        chosen = TARGETS.iter().map(|name| name.to_string()).collect();
    }
    if let Some(unknown) = chosen.iter().find(|name| !TARGETS.contains(&name.as_str())) {
        eprintln!("unknown target '{unknown}'; the targets are {}", TARGETS.join(", "));
        return ExitCode::from(2);
    }
    let cases = cases_from_env(100_000);
    for name in chosen {
        let seed = seed_from_env();
        let report = match name.as_str() {
            "framing" => round(framing::Framing::new(), cases, seed),
            "params" => round(params::MethodParams::new(), cases, seed),
            "claude" => round(agents::Claude::new(), cases, seed),
            "codex" => round(agents::Codex::new(), cases, seed),
            _ => round(agents::Acp::new(), cases, seed),
        };
        match report {
            Ok(report) => println!(
                "{}: {} inputs, 0 failures, {:.1} s ({:.0} inputs/s), seed {}",
                report.target,
                report.cases,
                report.elapsed.as_secs_f64(),
                f64::from(report.cases) / report.elapsed.as_secs_f64(),
                report.seed
            ),
            Err(failure) => {
                eprintln!("{failure}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
