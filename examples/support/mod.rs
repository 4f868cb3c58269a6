//! What the `*_rates` examples share: their command line, the shipped programs, and the
//! Markdown table of FAIL counts they end with. Included with `#[path]`, so it is not an
//! example of its own.
// Each example uses a subset of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `[--runs R] [PROGRAM.tp ...]`: the number of runs and the files (every shipped program
/// when none is given).
pub fn parse_args(default_runs: u64) -> (u64, Vec<PathBuf>) {
    let mut runs = default_runs;
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
    (runs, files)
}

/// The `.tp` files under `programs/`, in name order (each example keeps its own family).
pub fn shipped_programs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("programs");
    let mut all: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    all.retain(|p| p.extension().is_some_and(|e| e == "tp"));
    all.sort();
    all
}

/// The file name of a program, for the table.
pub fn file_name(file: &Path) -> String {
    file.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// One row per program: the correct derivation's FAIL count (false FAILs), then each
/// mutation's (power), out of `runs`.
pub fn print_table(runs: u64, table: &[(String, Vec<(String, u64)>)]) {
    println!("\n| program | correct: FAIL (false) | mutation: FAIL (power) |");
    println!("|---|---|---|");
    for (name, cells) in table {
        let correct = cells
            .iter()
            .find(|(c, _)| c == "correct")
            .map_or("—".to_string(), |(_, fails)| format!("{fails}/{runs}"));
        let mutations: Vec<String> = cells
            .iter()
            .filter(|(c, _)| c != "correct")
            .map(|(c, fails)| format!("`{c}` {fails}/{runs}"))
            .collect();
        let mutations = if mutations.is_empty() {
            "—".to_string()
        } else {
            mutations.join(", ")
        };
        println!("| `{name}` | {correct} | {mutations} |");
    }
}

/// Runs `check(seed)` at the seeds 1000k, k < `runs` (disjoint seed blocks): `Ok(None)` is
/// a PASS, `Ok(Some(failed))` a FAIL with the verdicts that failed, `Err` a check that could
/// not run (counted as a FAIL). Prints one line for the case and returns the FAIL count.
pub fn count_fails(
    name: &str,
    case: &str,
    runs: u64,
    check: impl Fn(u64) -> Result<Option<Vec<String>>, String>,
) -> u64 {
    let mut fails = 0;
    let mut failed: Vec<String> = Vec::new();
    for k in 0..runs {
        match check(1000 * k) {
            Ok(None) => {}
            Ok(Some(verdicts)) => {
                fails += 1;
                failed.extend(verdicts);
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                fails += 1;
            }
        }
    }
    println!(
        "{name} {case}: {fails}/{runs} FAIL{}",
        if failed.is_empty() {
            String::new()
        } else {
            format!(" [{}]", failed.join("; "))
        }
    );
    fails
}
