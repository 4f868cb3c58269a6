//! The cost of `tp limit` against training length T, depth L and population size K:
//! the numbers of the README's table of limit costs.
//!
//! Each row is one run of the whole limit stage (scale fixed point, derivation,
//! deterministic tiers and the populations) on `programs/mlp_mup.tp` with `L` hidden
//! layers and `steps = T`, with the default options unless K is given, timed on the
//! wall clock, with the largest standard error of a scalar and the peak memory of one
//! population. The baseline rows run the per-expectation engine (every expectation
//! integrated on its own with fresh samples, 10⁵ samples in 8 replicates: what
//! `tp limit` did before the population evaluator) on the same programs.
//!
//! ```text
//! cargo run --release --example limit_cost -- [--quick]
//! ```
//! `--quick` skips the largest program (L = 8, T = 20) and the baseline rows.
//! Output: a Markdown table.

use std::time::Instant;
use tp::limit::{derive, evaluate, evaluate_independent, EvalOptions, Evaluation};

/// `programs/mlp_mup.tp` with `depth` hidden layers and `steps` SGD steps.
fn program(depth: usize, steps: usize) -> Result<tp::ir::Program, String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("programs/mlp_mup.tp");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = text
        .replace("param L = 3", &format!("param L = {depth}"))
        .replace("steps = 3", &format!("steps = {steps}"));
    tp::compile(&path.display().to_string(), &text, &[]).map_err(|e| e.to_string())
}

/// The largest error of a program scalar (normalized values included).
fn worst(lp: &tp::limit::LimitProgram, ev: &Evaluation) -> f64 {
    lp.entries
        .iter()
        .zip(&ev.values)
        .filter(|(e, _)| e.kind == tp::ir::Kind::Scalar && e.source_value.is_some())
        .filter_map(|(_, v)| v.as_ref().map(|n| n.stderr))
        .fold(0.0, f64::max)
}

struct Row {
    engine: &'static str,
    depth: usize,
    steps: usize,
    samples: usize,
    seconds: f64,
    worst: f64,
    mib: f64,
}

fn run(depth: usize, steps: usize, samples: Option<usize>, baseline: bool) -> Result<Row, String> {
    let p = program(depth, steps)?;
    let start = Instant::now();
    let inference = tp::scale::refine(&p);
    let lp = derive(&p, &inference).map_err(|e| e.to_string())?;
    let (ev, used) = if baseline {
        let opts = EvalOptions {
            samples: 100_000,
            replicates: 8,
            ..EvalOptions::default()
        };
        (evaluate_independent(&lp, &opts), opts.samples)
    } else {
        let opts = EvalOptions {
            samples: samples.unwrap_or(EvalOptions::default().samples),
            ..EvalOptions::default()
        };
        (evaluate(&lp, &opts), opts.samples)
    };
    let seconds = start.elapsed().as_secs_f64();
    let mib = ev
        .sampling
        .as_ref()
        .map_or(0.0, |s| s.bytes_per_population as f64 / (1u64 << 20) as f64);
    Ok(Row {
        engine: if baseline {
            "per-expectation"
        } else {
            "population"
        },
        depth,
        steps,
        samples: used,
        seconds,
        worst: worst(&lp, &ev),
        mib,
    })
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let mut cases: Vec<(usize, usize, Option<usize>, bool)> = Vec::new();
    for steps in [1, 2, 3, 5, 10, 15, 20] {
        cases.push((3, steps, None, false));
    }
    for depth in [1, 2, 4, 6, 8] {
        cases.push((depth, 3, None, false));
    }
    cases.push((6, 10, None, false));
    for k in [1 << 16, 1 << 18, 1 << 22] {
        cases.push((3, 3, Some(k), false));
    }
    if !quick {
        cases.push((8, 20, None, false));
        for steps in [1, 3] {
            cases.push((3, steps, None, true));
        }
    }
    println!(
        "| engine | L | T | samples K | wall time (s) | largest scalar stderr | MiB per population |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (depth, steps, samples, baseline) in cases {
        match run(depth, steps, samples, baseline) {
            Ok(r) => println!(
                "| {} | {} | {} | {} | {:.2} | {:.1e} | {:.0} |",
                r.engine, r.depth, r.steps, r.samples, r.seconds, r.worst, r.mib
            ),
            Err(e) => println!("| L = {depth}, T = {steps}: {e} |"),
        }
    }
}
