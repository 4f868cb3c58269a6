//! How often `tp check` PASSes the correct mean-field derivation and FAILs a
//! deliberately wrong one, at the default particle counts and seeds: the numbers of the
//! README's mean-field table.
//!
//! For every mean-field program, `--runs` independent checks are made (`tp check --seed
//! 1000k`, k = 0, 1, …; a check uses seeds 1000k … 1000k + 23 and every draw is keyed by
//! its seed, so the runs share no randomness) against
//! - the derivation itself (a FAIL is a false FAIL);
//! - every mutation that applies (`tp check --mutation NAME`): a rate exponent off by 1/4
//!   (`rate-quarter`), independent noise where literal SGD has common noise
//!   (`independent-noise`), the erratum's sign in Proposition 5's stationary density
//!   (`stationary-sign`); each should FAIL.
//!
//! ```text
//! cargo run --release --example meanfield_rates -- [--runs 10] [PROGRAM.tp ...]
//! ```
//! Without programs it runs every shipped numeric mean-field program (`mf_phase.tp`, with
//! symbolic α and β, takes minutes per check and is left to an explicit argument).
//! Output: one line per program and case with the FAIL count, then a Markdown table.

#[path = "support/mod.rs"]
mod support;

use tp::check::meanfield::{run_meanfield_check, MfCheckOptions};
use tp::meanfield::derive::{derive, MfMutation};
use tp::meanfield::MeanFieldProgram;
use tp::Compiled;

fn main() {
    let (runs, mut files) = support::parse_args(10);
    // The symbolic program takes minutes per check: only when named.
    if files == support::shipped_programs() {
        files.retain(|f| support::file_name(f) != "mf_phase.tp");
    }
    let mut table = Vec::new();
    for file in &files {
        let prog = match tp::load_any(file, &[]) {
            Ok(Compiled::MeanField(p)) => p,
            Ok(_) => continue,
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                continue;
            }
        };
        let name = support::file_name(file);
        let start = std::time::Instant::now();
        let mut cells = vec![("correct".to_string(), rate(&prog, None, runs, &name))];
        let d = derive(&prog, None);
        for m in MfMutation::all() {
            if m.applies_to(&d) {
                cells.push((m.name().to_string(), rate(&prog, Some(m), runs, &name)));
            }
        }
        println!("{name}: {:.0} s", start.elapsed().as_secs_f64());
        table.push((name, cells));
    }
    support::print_table(runs, &table);
}

/// FAILs over `runs` independent checks.
fn rate(prog: &MeanFieldProgram, mutation: Option<MfMutation>, runs: u64, name: &str) -> u64 {
    let case = mutation.map_or("correct", |m| m.name());
    support::count_fails(name, case, runs, |seed| {
        let opts = MfCheckOptions {
            seed,
            mutation,
            ..MfCheckOptions::default()
        };
        let report = run_meanfield_check(prog, &opts).map_err(|e| e.to_string())?;
        Ok((!report.pass()).then(|| {
            report
                .points
                .iter()
                .flat_map(|p| p.verdicts.iter().filter(|v| !v.pass))
                .map(|v| format!("{} (p = {:.4})", v.quantity, v.p_value))
                .collect()
        }))
    })
}
