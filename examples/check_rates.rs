//! How often `tp check` PASSes a correct derivation and FAILs a wrong one, at the default
//! widths: the numbers of the README's table of expected outcomes.
//!
//! For every program, the derivation (`tp scale`) and the limits (`tp limit`, default
//! options) are computed once; then for each of `--runs` independent seed blocks (`tp
//! check --seed 10k`, k = 0, 1, …: ten seeds each (`--seeds`), disjoint) the sweep is
//! run once and
//! judged against
//! - the derivation itself (a FAIL is a false FAIL);
//! - mutated derivations, each of which should FAIL:
//!   `exp+1/2` / `exp-1/2`: the size exponent of one quantity off by ±1/2 (every quantity
//!   whose size the check judges, in turn; the rate reported is the worst over
//!   quantities and the fraction of mutations caught in ≥ 19 of 20 runs);
//!   `limit×1.05`: every derived Θ(1) limit 5% off (a wrong constant in the derivation);
//!   `no Ż`: the limits re-derived with every Ż term dropped (the gradient-independence
//!   mistake), where that changes a limit by more than its error.
//!
//! ```text
//! cargo run --release --example check_rates -- [--runs 20] [--seeds 10] [PROGRAM.tp ...]
//! ```
//! Without programs it runs every shipped program. Output: one line per program and case
//! with the FAIL count over the runs, then a Markdown table for the README.

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use tp::check::{check_sweep, mutation, CheckInputs, LimitValue, Measure, Rule, DEFAULT_TOLERANCE};
use tp::exponent::{Exp, Ext, Rational};
use tp::limit::EvalOptions;
use tp::scale::ScaleReport;

fn main() {
    let mut runs = 20u64;
    let mut seeds = 10u64;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--runs" {
            runs = args.next().and_then(|v| v.parse().ok()).unwrap_or(runs);
        } else if a == "--seeds" {
            seeds = args.next().and_then(|v| v.parse().ok()).unwrap_or(seeds);
        } else {
            files.push(PathBuf::from(a));
        }
    }
    if files.is_empty() {
        files = support::shipped_programs();
    }
    let mut table = Vec::new();
    for file in &files {
        match rates(file, runs, seeds) {
            Ok(row) => table.push(row),
            Err(e) => eprintln!("{}: {e}", file.display()),
        }
    }
    println!("\n| program | correct: PASS | exponent ±1/2: FAIL (worst; quantities caught ≥19/20) | limit ×1.05: FAIL | no Ż: FAIL |");
    println!("|---|---|---|---|---|");
    for row in table {
        println!("{row}");
    }
}

/// The README row of one program.
fn rates(file: &Path, runs: u64, per_run: u64) -> Result<String, String> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let program = match tp::load_any(file, &[]).map_err(|e| e.to_string())? {
        tp::Compiled::Width(p) => p,
        tp::Compiled::Depth(_) => {
            return Err("a depth program (see examples/depth_rates.rs)".into());
        }
        tp::Compiled::Shaped(_) => return Err("a shaped network (not checked here)".into()),
        tp::Compiled::MeanField(_) => return Err("a mean-field network (not checked here)".into()),
    };
    if !program.symbols.is_empty() {
        return Err("symbolic (not checked)".into());
    }
    let scale = tp::scale::analyze(&program).map_err(|e| e.to_string())?;
    let opts = EvalOptions::default();
    let report = tp::limit::limit(&program, &opts).map_err(|e| e.to_string())?;
    let limits = report.check_values();
    let without_zdot = mutation::limits_without_zdot(&program, &limits, &opts);
    // Only quantities whose size exponent the check judges can be caught: after a derived
    // blow-up the bounded ones and the gradients are not judged, and the growing ones
    // only have to be seen to grow (by design).
    let probe = {
        let seeds: Vec<u64> = (0..per_run).collect();
        let sweep = tp::sim::sweep(&program, &tp::sim::DEFAULT_WIDTHS, &seeds, None, None)
            .map_err(|e| e.to_string())?;
        let inputs = CheckInputs {
            limits: Some(limits.clone()),
            laws: None,
        };
        check_sweep(scale.clone(), sweep, &inputs, DEFAULT_TOLERANCE).map_err(|e| e.to_string())?
    };
    let judged = |id| {
        probe
            .verdicts
            .iter()
            .any(|v| v.id == id && v.measure == Measure::Size && v.rule == Rule::Exponent)
            || probe
                .by_limit
                .iter()
                .any(|b| b.id == id && b.measure == Measure::Size)
    };
    let mutable: Vec<usize> = (0..scale.quantities.len())
        .filter(|&i| finite(&scale.quantities[i].exponent).is_some())
        .filter(|&i| judged(scale.quantities[i].id))
        .collect();
    let mut correct_fails = 0;
    let mut exp_fails = vec![[0u64; 2]; mutable.len()];
    let mut limit_fails = 0;
    let mut zdot_fails = 0;
    for k in 0..runs {
        let seeds: Vec<u64> = (0..per_run).map(|s| per_run * k + s).collect();
        let sweep = tp::sim::sweep(&program, &tp::sim::DEFAULT_WIDTHS, &seeds, None, None)
            .map_err(|e| e.to_string())?;
        let judge = |scale: ScaleReport, limits: &[LimitValue]| -> bool {
            let inputs = CheckInputs {
                limits: Some(limits.to_vec()),
                laws: None,
            };
            check_sweep(scale, sweep.clone(), &inputs, DEFAULT_TOLERANCE)
                .map(|r| r.pass())
                .unwrap_or(false)
        };
        if !judge(scale.clone(), &limits) {
            correct_fails += 1;
        }
        for (slot, &i) in mutable.iter().enumerate() {
            for (j, sign) in [1i64, -1].into_iter().enumerate() {
                let wrong =
                    mutation::exponent_shifted(&scale, i, Rational::new(sign.into(), 2.into()));
                if !judge(wrong, &limits) {
                    exp_fails[slot][j] += 1;
                }
            }
        }
        if !limits.is_empty() && !judge(scale.clone(), &mutation::limits_scaled(&limits, 1.05)) {
            limit_fails += 1;
        }
        if let Some(z) = &without_zdot {
            if !judge(scale.clone(), z) {
                zdot_fails += 1;
            }
        }
        eprint!(".");
    }
    eprintln!();
    let worst = exp_fails
        .iter()
        .flat_map(|pair| pair.iter().copied())
        .min()
        .unwrap_or(runs);
    let caught = exp_fails
        .iter()
        .flat_map(|pair| pair.iter().copied())
        .filter(|&f| f * 20 >= runs * 19)
        .count();
    for (slot, &i) in mutable.iter().enumerate() {
        for (j, label) in ["+1/2", "-1/2"].into_iter().enumerate() {
            if exp_fails[slot][j] * 20 < runs * 19 {
                let q = &scale.quantities[i];
                eprintln!(
                    "  {name}: {}{} {label} caught in {}/{runs}",
                    q.name,
                    q.step.map_or(String::new(), |t| format!(" (step {t})")),
                    exp_fails[slot][j]
                );
            }
        }
    }
    let pass = runs - correct_fails;
    let limit_cell = if limits.is_empty() {
        "no Θ(1) limit".to_string()
    } else {
        format!("{limit_fails}/{runs}")
    };
    let zdot_cell = match &without_zdot {
        Some(_) => format!("{zdot_fails}/{runs}"),
        None => "Ż does not change the limits".to_string(),
    };
    let row = format!(
        "| `{name}` | {pass}/{runs} | {worst}/{runs}; {caught}/{} | {limit_cell} | {zdot_cell} |",
        2 * mutable.len()
    );
    println!("{row}");
    Ok(row)
}

fn finite(e: &Exp) -> Option<Rational> {
    match e.as_constant()? {
        Ext::Finite(q) => Some(q),
        Ext::NegInf => None,
    }
}
