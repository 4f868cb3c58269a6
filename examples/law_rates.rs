//! How often the law verdicts of `tp check` PASS the derived laws of a kernel-regime
//! program and FAIL laws derived with a wrong learning rate: the numbers of the README's
//! paragraph "Laws of random limits".
//!
//! For each of `--runs` disjoint seed blocks of `--seeds` seeds, the program is run at
//! the largest default width only (the law verdicts use that width) and its law
//! verdicts are computed against the laws derived from the program itself and from the
//! program with `eta` multiplied by each of `--factors` (1.5 and 0.5 by default). A block FAILs a derivation when its
//! smallest law p-value is below 0.05/m, the first threshold of Holm's procedure over
//! the m verdicts of the default `tp check` of the program (`--tests`, 88 for
//! programs/mlp_ntk.tp): the rate at which those verdicts alone make `tp check` FAIL.
//!
//! ```text
//! cargo run --release --example law_rates -- [--runs 20] [--seeds 30] [--tests 88] [--factors 1.5,0.5] [PROGRAM.tp] [ETA]
//! ```

use std::path::PathBuf;
use tp::check::{judge_law, mutation, LawValue, LEVEL};
use tp::limit::EvalOptions;

fn main() {
    let mut runs = 20u64;
    let mut seeds = 30u64;
    let mut tests = 88usize;
    let mut factors = vec![1.5, 0.5];
    let mut positional: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).unwrap_or(runs),
            "--seeds" => seeds = args.next().and_then(|v| v.parse().ok()).unwrap_or(seeds),
            "--tests" => tests = args.next().and_then(|v| v.parse().ok()).unwrap_or(tests),
            "--factors" => {
                factors = args
                    .next()
                    .map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect())
                    .unwrap_or(factors)
            }
            _ => positional.push(a),
        }
    }
    let file = PathBuf::from(
        positional
            .first()
            .cloned()
            .unwrap_or_else(|| "programs/mlp_ntk.tp".into()),
    );
    let eta: f64 = positional
        .get(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.5);
    let opts = EvalOptions::default();
    let derive = |factor: f64| -> Vec<LawValue> {
        let set = if factor == 1.0 {
            Vec::new()
        } else {
            vec![format!("eta={}", eta * factor)]
        };
        mutation::laws_with(&file, &set, &opts).unwrap_or_else(|e| panic!("{e}"))
    };
    let mut cases = vec![("derived".to_string(), derive(1.0))];
    for f in &factors {
        cases.push((format!("eta×{f}"), derive(*f)));
    }
    let program = tp::load(&file, &[]).unwrap_or_else(|e| panic!("{e}"));
    let width = *tp::sim::DEFAULT_WIDTHS.iter().max().unwrap_or(&4096);
    let threshold = LEVEL / tests as f64;
    let mut fails = vec![0u64; cases.len()];
    for block in 0..runs {
        let list: Vec<u64> = (block * seeds..(block + 1) * seeds).collect();
        let result =
            tp::sim::sweep(&program, &[width], &list, None, None).unwrap_or_else(|e| panic!("{e}"));
        for (c, (name, laws)) in cases.iter().enumerate() {
            let mut smallest = 1.0f64;
            for law in laws {
                let Some(q) = result.quantities.iter().position(|q| q.name == law.name) else {
                    continue;
                };
                let check = judge_law(&result.widths, &result.series(q, |m| m.value), law);
                smallest = smallest.min(check.p_value);
            }
            if smallest < threshold {
                fails[c] += 1;
            }
            println!("block {block} {name}: smallest law p = {smallest:.2e}");
        }
    }
    for (c, (name, _)) in cases.iter().enumerate() {
        println!(
            "{name}: FAIL in {}/{runs} blocks of {seeds} seeds at n={width} (threshold {threshold:.1e})",
            fails[c]
        );
    }
}
