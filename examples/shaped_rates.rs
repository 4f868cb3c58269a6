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
//! and case with the FAIL count, then a Markdown table.

use std::path::{Path, PathBuf};
use tp::check::shaped::{run_shaped_check, ShapedCheckOptions};
use tp::shaped::derive::ShapedMutation;
use tp::shaped::ShapedProgram;
use tp::Compiled;

fn main() {
    let mut runs = 20u64;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--runs" {
            runs = args.next().and_then(|v| v.parse().ok()).unwrap_or(runs);
        } else {
            files.push(PathBuf::from(a));
        }
    }
    if files.is_empty() {
        files = shipped_programs();
    }
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
        let name = file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let mut cells = vec![("correct".to_string(), rate(&prog, None, runs, &name))];
        for m in ShapedMutation::all() {
            if m.applies_to(&prog) {
                cells.push((m.name().to_string(), rate(&prog, Some(m), runs, &name)));
            }
        }
        table.push((name, cells));
    }
    println!("\n| program | case | FAIL |");
    println!("|---|---|---|");
    for (name, cells) in &table {
        for (case, fails) in cells {
            println!("| {name} | {case} | {fails}/{runs} |");
        }
    }
}

/// FAILs over `runs` seeds.
fn rate(prog: &ShapedProgram, mutation: Option<ShapedMutation>, runs: u64, name: &str) -> u64 {
    let mut fails = 0;
    let mut failed: Vec<String> = Vec::new();
    for k in 0..runs {
        let opts = ShapedCheckOptions {
            seed: 1000 * k,
            mutation,
            ..ShapedCheckOptions::default()
        };
        match run_shaped_check(prog, &opts) {
            Ok(report) => {
                let total: usize = report.points.iter().map(|p| p.verdicts.len()).sum();
                if report.failures > 0 || total == 0 {
                    fails += 1;
                    for p in &report.points {
                        for v in p.verdicts.iter().filter(|v| !v.pass) {
                            failed.push(format!("{} (p = {:.4})", v.quantity, v.p_value));
                        }
                    }
                }
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                fails += 1;
            }
        }
    }
    println!(
        "{name} {}: {fails}/{runs} FAIL{}",
        mutation.map_or("correct", |m| m.name()),
        if failed.is_empty() {
            String::new()
        } else {
            format!(" [{}]", failed.join("; "))
        }
    );
    fails
}

/// The shipped shaped programs, in name order.
fn shipped_programs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("programs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("shaped_"))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}
