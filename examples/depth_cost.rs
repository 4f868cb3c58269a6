//! The cost of the finite-depth simulator: wall-clock time of typical sweeps against
//! the work estimate they were planned with.
//!
//! ```text
//! cargo run --release --example depth_cost -- [--threads T]
//! ```
//! Output: a Markdown table (one row per sweep) with the cells, the estimated work, the
//! wall time and the time per unit of estimated work.

use std::time::Instant;
use tp::depth::simulate::{
    sample_type2_sde, simulate_crx, simulate_hayou, DepthCost, DepthSweepOptions,
};
use tp::depth::{CrxEquation, CrxNet, DepthProgram, HayouEquation, HayouKind, HayouNet, Resnet};
use tp::exponent::Exponent;
use tp::ir::{ActId, Activation, Expr, Func};

/// A d = 4 CRX network with σ = tanh and a time-dependent trend Ā_ij(t) = c_ij sin(πt)
/// + e_ij, at exponents (α, β).
fn crx(alpha: Exponent, beta: Exponent, noise: f64) -> DepthProgram {
    let d = 4;
    let entry = |i: usize, j: usize| {
        let c = 0.3 * ((i + 2 * j) % 5) as f64 - 0.6;
        let e = if i == j {
            -0.2
        } else {
            0.1 * (i as f64 - j as f64)
        };
        Expr::add(
            Expr::mul(
                Expr::Const(c),
                Expr::call(
                    Func::Sin,
                    Expr::mul(Expr::Const(std::f64::consts::PI), Expr::Arg),
                ),
            ),
            Expr::Const(e),
        )
    };
    let mut act = Activation::new("tanh", Expr::call(Func::Tanh, Expr::Arg));
    let _ = act.ensure_order(2);
    DepthProgram {
        title: None,
        depth: "L".into(),
        width: None,
        symbols: vec![],
        activations: vec![act],
        net: Resnet::Crx(CrxNet {
            dim: d,
            dim_name: "d".into(),
            act: ActId(0),
            delta: 1.0,
            alpha,
            beta,
            gamma: Exponent::ratio(1, 2),
            trend: Some(
                (0..d)
                    .map(|i| (0..d).map(|j| entry(i, j)).collect())
                    .collect(),
            ),
            bias_trend: Some((0..d).map(|i| Expr::Const(0.05 * i as f64)).collect()),
            noise,
            bias_noise: 0.2,
            input: vec![1.0, -0.5, 0.3, 0.8],
        }),
    }
}

fn hayou(kind: HayouKind, sketch: bool) -> DepthProgram {
    let mut act = Activation::new("relu", Expr::call(Func::Relu, Expr::Arg));
    let _ = act.ensure_order(1);
    DepthProgram {
        title: None,
        depth: "L".into(),
        width: Some("n".into()),
        symbols: vec![],
        activations: vec![act],
        net: Resnet::Hayou(HayouNet {
            kind,
            act: ActId(0),
            branch: Exponent::ratio(1, 2),
            gain: 2.0,
            input: vec![1.0, -2.0, 0.5],
            sketch,
        }),
    }
}

/// Prints one row.
fn row(name: &str, cost: DepthCost, seconds: f64) {
    println!(
        "| {name} | {} | {:.2e} | {:.2} | {:.2} |",
        cost.cells,
        cost.operations as f64,
        seconds,
        seconds * 1e9 * cost.concurrent as f64 / cost.operations as f64
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let threads = args
        .iter()
        .position(|a| a == "--threads")
        .and_then(|k| args.get(k + 1))
        .and_then(|t| t.parse().ok());
    let crx_depths: Vec<usize> = (4..=12).map(|k| 1 << k).collect();
    let opts = |depths: &[usize], widths: &[usize], seeds: u64| DepthSweepOptions {
        depths: depths.to_vec(),
        widths: widths.to_vec(),
        seeds: (0..seeds).collect(),
        threads,
        ..DepthSweepOptions::default()
    };
    println!("| sweep | cells | est. operations | wall s | ns per operation per thread |");
    println!("|---|---|---|---|---|");

    let sde = crx(Exponent::zero(), Exponent::ratio(1, 1), 0.5);
    let eq = CrxEquation {
        delta: 1.0,
        full_activation: false,
        linear_trend: true,
        constant: false,
        ito: false,
        noise: true,
        taylor: [0.0, 1.0, 0.0],
    };
    let o = opts(&crx_depths, &[], 32);
    let t = Instant::now();
    let s = simulate_crx(&sde, Some(&eq), &o)?;
    row(
        "CRX d=4 SDE (EM), L=16..4096, 32 seeds, r=8",
        s.cost,
        t.elapsed().as_secs_f64(),
    );

    let ode = crx(Exponent::ratio(1, 1), Exponent::zero(), 0.5);
    let eq = CrxEquation {
        full_activation: true,
        linear_trend: false,
        noise: false,
        ..eq
    };
    let t = Instant::now();
    let s = simulate_crx(&ode, Some(&eq), &o)?;
    row(
        "CRX d=4 ODE (RK4), L=16..4096, 32 seeds, r=8",
        s.cost,
        t.elapsed().as_secs_f64(),
    );

    let t1 = hayou(HayouKind::Type1, true);
    let heq = HayouEquation {
        skip_drift: true,
        noise: true,
        gain: 2.0,
        kind: HayouKind::Type1,
    };
    let o = opts(&[16, 32, 64, 128, 256], &[64], 20);
    let t = Instant::now();
    let s = simulate_hayou(&t1, Some(&heq), &o)?;
    row(
        "Hayou type 1 + sketch, coupled, n=64, L=16..256, 20 seeds, r=8",
        s.cost,
        t.elapsed().as_secs_f64(),
    );
    let t = Instant::now();
    let s = simulate_hayou(&t1, None, &o)?;
    row(
        "Hayou type 1 + sketch, network only, same sizes",
        s.cost,
        t.elapsed().as_secs_f64(),
    );

    let t2 = hayou(HayouKind::Type2, false);
    let heq = HayouEquation {
        kind: HayouKind::Type2,
        ..heq
    };
    let t = Instant::now();
    let s = simulate_hayou(&t2, None, &o)?;
    row(
        "Hayou type 2 network, n=64, L=16..256, 20 seeds",
        s.cost,
        t.elapsed().as_secs_f64(),
    );
    let t = Instant::now();
    let s = sample_type2_sde(&t2, &heq, &o)?;
    row(
        "type 2 SDE sampler, same sizes, r=8",
        s.cost,
        t.elapsed().as_secs_f64(),
    );
    Ok(())
}
