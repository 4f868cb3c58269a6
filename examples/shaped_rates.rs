//! How often `tp check` PASSes the correct shaped-network derivation and FAILs a
//! deliberately wrong one, at the default widths and sample counts: the numbers of the
//! README's shaped-network table.
//!
//! For every shaped program, `--runs` independent seeds are checked (`tp check --seed
//! 1000k`, k = 0, 1, …; networks and SDE paths are keyed by the seed, so the runs are
//! independent) against
//! - the derivation itself (a FAIL is a false FAIL);
//! - every mutation that applies (`tp check --mutation NAME`): the lecture notes' sign of
//!   ν (`lecture-nu-sign`, shaped ReLU), the drift doubled (`drift-times-two`), and b
//!   without the normalization constant c (`no-normalization`, smooth shaping); each
//!   should FAIL.
//!
//! ```text
//! cargo run --release --example shaped_rates -- [--runs 20] [PROGRAM.tp ...]
//! ```
//! Without programs it runs every shipped shaped program. Output: one line per program
//! and case with the FAIL count, then a Markdown table (false FAILs, then each mutation's
//! FAILs).

#[path = "support/mod.rs"]
mod support;

use tp::check::shaped::{run_shaped_check, ShapedCheckOptions};
use tp::shaped::derive::ShapedMutation;
use tp::shaped::ShapedProgram;
use tp::Compiled;

fn main() {
    let (runs, files) = support::parse_args(20);
    let mut table = Vec::new();
    for file in &files {
        let prog = match tp::load_any(file, &[]) {
            Ok(Compiled::Shaped(p)) => p,
            Ok(_) => continue,
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                continue;
            }
        };
        let name = support::file_name(file);
        let mut cells = vec![("correct".to_string(), rate(&prog, None, runs, &name))];
        for m in ShapedMutation::all() {
            if m.applies_to(&prog) {
                cells.push((m.name().to_string(), rate(&prog, Some(m), runs, &name)));
            }
        }
        table.push((name, cells));
    }
    support::print_table(runs, &table);
}

/// FAILs over `runs` seeds.
fn rate(prog: &ShapedProgram, mutation: Option<ShapedMutation>, runs: u64, name: &str) -> u64 {
    let case = mutation.map_or("correct", |m| m.name());
    support::count_fails(name, case, runs, |seed| {
        let opts = ShapedCheckOptions {
            seed,
            mutation,
            ..ShapedCheckOptions::default()
        };
        let report = run_shaped_check(prog, &opts).map_err(|e| e.to_string())?;
        let total: usize = report.points.iter().map(|p| p.verdicts.len()).sum();
        Ok((report.failures > 0 || total == 0).then(|| {
            report
                .points
                .iter()
                .flat_map(|p| p.verdicts.iter().filter(|v| !v.pass))
                .map(|v| format!("{} (p = {:.4})", v.quantity, v.p_value))
                .collect()
        }))
    })
}
