//! How often `tp check` PASSes the correct depth derivation and FAILs a deliberately
//! wrong one, at the default depths, widths and seed count: the numbers of the README's
//! depth table.
//!
//! For every depth program, `--runs` independent seed blocks are checked (`tp check
//! --seed 1000k`, k = 0, 1, …, 32 seeds each: disjoint blocks) against
//! - the derivation itself (a FAIL is a false FAIL);
//! - every mutation that applies to the program (`tp check --mutation NAME`): the SDE
//!   without its Itô correction (`no-ito`), δ = L^-(α+1/4) (`alpha-plus-quarter`) and the
//!   Zheng report's SDE for the sketch vector (`zheng-report-sde`); each should FAIL.
//!
//! ```text
//! cargo run --release --example depth_rates -- [--runs 20] [PROGRAM.tp ...]
//! ```
//! Without programs it runs every shipped depth program. Output: one line per program
//! and case with the FAIL count and the verdicts that failed, then a Markdown table.

use std::collections::BTreeMap;
#[path = "support/mod.rs"]
mod support;

use tp::check::depth_program::{run_depth_check, DepthCheckOptions, DepthCheckReport};
use tp::depth::derive::DepthMutation;
use tp::depth::DepthProgram;
use tp::Compiled;

/// Seeds per run, as `tp check` uses for a depth program by default.
const SEEDS: u64 = 32;

fn main() {
    let (runs, files) = support::parse_args(20);
    let mut table = Vec::new();
    for file in &files {
        let prog = match tp::load_any(file, &[]) {
            Ok(Compiled::Depth(p)) => p,
            Ok(Compiled::Width(_) | Compiled::Shaped(_) | Compiled::MeanField(_)) => continue,
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                continue;
            }
        };
        let name = support::file_name(file);
        let mut cells = vec![(String::from("correct"), rate(&prog, None, runs, &name))];
        for m in DepthMutation::ALL {
            if m.applies_to(&prog) {
                cells.push((m.name().to_string(), rate(&prog, Some(m), runs, &name)));
            }
        }
        table.push((name, cells));
    }
    let counts: Vec<(String, Vec<(String, u64)>)> = table
        .iter()
        .map(|(name, cells)| {
            let cells = cells.iter().map(|(c, r)| (c.clone(), r.fails)).collect();
            (name.clone(), cells)
        })
        .collect();
    support::print_table(runs, &counts);
}

/// FAILs over the runs, and how often each verdict was among the failed ones.
struct Rate {
    fails: u64,
    failed: BTreeMap<String, u64>,
}

fn rate(prog: &DepthProgram, mutation: Option<DepthMutation>, runs: u64, name: &str) -> Rate {
    let mut out = Rate {
        fails: 0,
        failed: BTreeMap::new(),
    };
    let started = std::time::Instant::now();
    for k in 0..runs {
        let opts = DepthCheckOptions {
            depths: vec![],
            widths: vec![],
            seeds: (1000 * k..1000 * k + SEEDS).collect(),
            threads: None,
            refine: 8,
            mutation,
        };
        match run_depth_check(prog, &opts) {
            Ok(report) => {
                if !report.pass() {
                    out.fails += 1;
                    for q in failed_verdicts(&report) {
                        *out.failed.entry(q).or_default() += 1;
                    }
                }
            }
            Err(e) => {
                out.fails += 1;
                *out.failed.entry(format!("error: {e}")).or_default() += 1;
            }
        }
    }
    let case = mutation.map_or("correct", |m| m.name());
    println!(
        "{name} {case}: {}/{runs} FAIL ({:.1} s per run); failed verdicts: {:?}",
        out.fails,
        started.elapsed().as_secs_f64() / runs.max(1) as f64,
        out.failed
    );
    out
}

/// The failed verdicts of a report, named by point, rule and quantity.
fn failed_verdicts(report: &DepthCheckReport) -> Vec<String> {
    let mut names = Vec::new();
    for p in &report.points {
        for v in p.verdicts.iter().filter(|v| !v.pass) {
            names.push(format!("{} {:?} {}", p.regime, v.rule, v.quantity));
        }
    }
    names
}
