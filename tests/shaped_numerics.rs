//! The numerics of shaped networks (Li, Nica & Roy 2022): the Gram SDE solver against
//! exact laws and an independent scalar SDE, the blow-up Monte Carlo against Feller's
//! formula, and the Gram chain against the literal network.
//!
//! Heavier versions are `#[ignore]`d; run them with
//! `cargo test --release --test shaped_numerics -- --ignored --nocapture`.

use num_rational::BigRational;
use tp::exponent::Exponent;
use tp::shaped::blowup::{
    blowup_monte_carlo, feller_blowup_probability, logistic, logistic_blowup_time, BlowupMcOptions,
};
use tp::shaped::simulate::{
    chain_rng, literal_network, literal_rng, normalization_c, pack_gram, sample_chain, sweep,
    ChainLimits, ShapedSweepOptions,
};
use tp::shaped::{NumericKind, NumericShaped, Poly, ShapedAct, ShapedProgram};
use tp::solve::gram::{
    gram_em_pairs, gram_em_paths, gram_ode, packed_index, GramEmOptions, GramSde, GramStopKind,
};

/// Sample mean and its standard error.
fn mean_se(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, (v / n).sqrt())
}

/// Sample variance and its standard error √((m₄ − s⁴)/n) (valid for any law with a
/// fourth moment, so heavy tails widen it honestly).
fn var_se(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    let m4 = xs.iter().map(|x| (x - m).powi(4)).sum::<f64>() / n;
    (v, ((m4 - v * v).max(0.0) / n).sqrt())
}

/// Asserts two independent sample estimates agree within `k` combined standard errors.
fn agree(what: &str, a: (f64, f64), b: (f64, f64), k: f64) {
    let tol = k * (a.1 * a.1 + b.1 * b.1).sqrt();
    assert!(
        (a.0 - b.0).abs() <= tol,
        "{what}: {:.5} ± {:.5} vs {:.5} ± {:.5}",
        a.0,
        a.1,
        b.0,
        b.1
    );
}

/// The two-sample Kolmogorov–Smirnov statistic D and its asymptotic p-value.
fn ks(a: &[f64], b: &[f64]) -> (f64, f64) {
    tp::check::depth::ks_two_sample(a, b)
}

/// ν(ρ) of the shaped ReLU with c₊ − c₋ = `gap`: gap²/(2π) (√(1 − ρ²) − ρ arccos ρ).
fn nu(gap: f64, rho: f64) -> f64 {
    let r = rho.clamp(-1.0, 1.0);
    gap * gap / (2.0 * std::f64::consts::PI) * ((1.0 - r * r).sqrt() - r * r.acos())
}

/// The shaped-ReLU drift for m = 2: b^{αα} = 0, b^{12} = √(Φ¹¹Φ²²) ν(ρ).
fn relu_drift(gap: f64) -> impl Fn(&[f64], &mut [f64]) + Sync {
    move |phi: &[f64], out: &mut [f64]| {
        let s = (phi[0] * phi[2]).sqrt();
        out[0] = 0.0;
        out[1] = s * nu(gap, phi[1] / s);
        out[2] = 0.0;
    }
}

const GAP: f64 = 2.0;

#[test]
fn packed_order_is_the_upper_triangle_by_rows() {
    let m = 3;
    let order: Vec<usize> = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
        .iter()
        .map(|&(a, b)| packed_index(m, a, b))
        .collect();
    assert_eq!(order, vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(packed_index(m, 2, 1), 4);
}

#[test]
fn driftless_diagonal_is_an_exact_geometric_brownian_motion_at_any_step() {
    // log Φ^{αα}_τ ~ N(log Φ^{αα}_0 − τ, 2τ) exactly, even with steps of 1/4; both
    // diagonal entries (the first is the first pivot of the factorization, the second
    // is not) and E Φ^{αα}_τ = Φ^{αα}_0 (a martingale).
    let sde = GramSde::lnr(2, relu_drift(GAP));
    let phi0 = [1.5, 0.3, 0.8];
    let opts = GramEmOptions::new(vec![1.0], 0.25);
    let paths = gram_em_paths(&sde, &phi0, &opts, 11, 4000).unwrap();
    for (e, x0) in [(0, 1.5f64), (2, 0.8f64)] {
        let logs: Vec<f64> = paths.iter().map(|p| p.state(0).unwrap()[e].ln()).collect();
        let (m, se) = mean_se(&logs);
        assert!(
            (m - (x0.ln() - 1.0)).abs() < 4.0 * se,
            "entry {e}: mean {m} ± {se}"
        );
        let (v, vse) = var_se(&logs);
        assert!(
            (v - 2.0).abs() < 4.0 * vse,
            "entry {e}: variance {v} ± {vse}"
        );
        let raw: Vec<f64> = paths.iter().map(|p| p.state(0).unwrap()[e]).collect();
        let (m, se) = mean_se(&raw);
        assert!((m - x0).abs() < 5.0 * se, "entry {e}: E Φ = {m} ± {se}");
    }
    assert!(paths.iter().all(|p| p.stop.is_none() && p.steps == 4));
}

/// ρ_τ by Euler–Maruyama on Itô's equation for ρ = Φ¹²/√(Φ¹¹Φ²²) under the ReLU drift:
/// dρ = [ν(ρ) − ½ρ(1 − ρ²)] dτ + (1 − ρ²) dW (independent of the Gram solver).
fn scalar_rho(rho0: f64, tau: f64, steps: usize, paths: usize, seed: u64) -> Vec<f64> {
    use rand::Rng;
    use rand_chacha::rand_core::SeedableRng;
    let h = tau / steps as f64;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..paths)
        .map(|_| {
            let mut r = rho0;
            for _ in 0..steps {
                let z: f64 = rng.sample(rand_distr::StandardNormal);
                r += (nu(GAP, r) - 0.5 * r * (1.0 - r * r)) * h + (1.0 - r * r) * h.sqrt() * z;
                r = r.clamp(-1.0, 1.0);
            }
            r
        })
        .collect()
}

#[test]
fn gram_solver_correlation_has_the_law_of_the_scalar_rho_sde() {
    let sde = GramSde::lnr(2, relu_drift(GAP));
    // ρ₀ = 0.3 with unequal diagonals: ρ's law does not depend on them.
    let phi0 = [2.0, 0.3 * (2.0f64 * 0.5).sqrt(), 0.5];
    let opts = GramEmOptions::new(vec![0.5, 1.0], 0.01);
    let paths = gram_em_paths(&sde, &phi0, &opts, 5, 3000).unwrap();
    let gram: Vec<f64> = paths
        .iter()
        .map(|p| p.correlation(1, 0, 1).unwrap())
        .collect();
    let scalar = scalar_rho(0.3, 1.0, 100, 3000, 99);
    agree("E ρ_1", mean_se(&gram), mean_se(&scalar), 4.0);
    agree("Var ρ_1", var_se(&gram), var_se(&scalar), 4.0);
    // The drift is felt: ρ moved up from 0.3 (ν(0.3) − 0.3·0.91/2 = 0.32 > 0).
    assert!(mean_se(&gram).0 > 0.45, "{:?}", mean_se(&gram));
    assert!(paths.iter().all(|p| p.stop.is_none()));
}

#[test]
fn halving_the_step_changes_the_mean_correlation_by_little_and_paths_converge() {
    // Coupled pairs (h, h/2) on one Brownian path, ρ₀ = 0.2, τ = 0.3 (away from the
    // boundaries ρ = ±1, where the projection onto the PSD cone costs weak order; see
    // `solve::gram`). Weak: D(h) = E[ρ_h − ρ_{h/2}] must be O(h) (here below what
    // 8000 pairs resolve, so |D| ≤ 4 SE + h/10). Strong order ½: the spread of the
    // pathwise difference halves when h is divided by 4 (a coupling bug, e.g. the two
    // levels reading different normals, would leave an O(1) spread).
    let sde = GramSde::lnr(2, relu_drift(GAP));
    let phi0 = [1.0, 0.2, 1.0];
    let diff = |h: f64| {
        let opts = GramEmOptions::new(vec![0.3], h);
        let pairs = gram_em_pairs(&sde, &phi0, &opts, 21, 8000).unwrap();
        let d: Vec<f64> = pairs
            .iter()
            .map(|[c, f]| c.correlation(0, 0, 1).unwrap() - f.correlation(0, 0, 1).unwrap())
            .collect();
        let (m, se) = mean_se(&d);
        (m, se, se * (d.len() as f64).sqrt())
    };
    let (d1, s1, sd1) = diff(0.1);
    let (d2, s2, sd2) = diff(0.025);
    eprintln!(
        "D(0.1) = {d1:.5} ± {s1:.5} (sd {sd1:.3}), D(0.025) = {d2:.5} ± {s2:.5} (sd {sd2:.3})"
    );
    assert!(d1.abs() < 4.0 * s1 + 0.01, "D(0.1) = {d1} ± {s1}");
    assert!(d2.abs() < 4.0 * s2 + 0.0025, "D(0.025) = {d2} ± {s2}");
    let ratio = sd1 / sd2;
    assert!((1.5..3.5).contains(&ratio), "strong ratio {ratio}");
}

#[test]
fn deterministic_limit_matches_the_logistic_closed_form() {
    // m = 1, b(Φ) = βΦ(Φ − 1): the logistic equation.
    let beta = 1.0;
    let drift = move |phi: &[f64], out: &mut [f64]| out[0] = beta * phi[0] * (phi[0] - 1.0);
    let ode = gram_ode(drift, &[0.5], 2.0, 200, 1e8).unwrap();
    let end = ode.end.as_ref().unwrap();
    let exact = logistic(beta, 0.5, 2.0);
    assert!(
        (end.fine[0] - exact).abs() < 1e-9,
        "{} vs {exact}",
        end.fine[0]
    );
    assert!(end.error < 1e-8 && (end.fine[0] - exact).abs() < 10.0 * end.error + 1e-14);
    assert_eq!(ode.times.len(), 201);
    let ode = gram_ode(drift, &[2.0], 2.0, 2000, 1e8).unwrap();
    let (tau, coarse) = ode.blowup.unwrap();
    let star = logistic_blowup_time(beta, 2.0).unwrap();
    assert!(
        (tau - star).abs() < 2e-3 && (coarse - star).abs() < 3e-3,
        "{tau} {coarse} vs {star}"
    );
}

#[test]
fn singular_start_is_handled_without_nan() {
    // Φ₀ of rank 1 (ρ = 1): Σ is singular at the start. Every path must stay finite,
    // inside the PSD cone (|ρ| ≤ 1) with the diagonal's exact law intact; ρ = 1 is
    // absorbing for the SDE, and the scheme's departure from it must shrink with h (the
    // log-diagonal and plain off-diagonal updates differ at second order, see
    // `solve::gram`).
    let sde = GramSde::lnr(2, relu_drift(GAP));
    let departure = |h: f64| {
        let opts = GramEmOptions::new(vec![0.5], h);
        let paths = gram_em_paths(&sde, &[1.0, 2.0, 4.0], &opts, 3, 1000).unwrap();
        assert!(paths.iter().all(|p| p.stop.is_none()));
        let rho: Vec<f64> = paths
            .iter()
            .map(|p| p.correlation(0, 0, 1).unwrap())
            .collect();
        assert!(rho.iter().all(|r| r.is_finite() && r.abs() <= 1.0 + 1e-12));
        let logs: Vec<f64> = paths.iter().map(|p| p.state(0).unwrap()[2].ln()).collect();
        let (m, se) = mean_se(&logs);
        assert!(
            (m - (4f64.ln() - 0.5)).abs() < 4.0 * se,
            "E log Φ22 = {m} ± {se}"
        );
        mean_se(&rho.iter().map(|r| 1.0 - r).collect::<Vec<_>>())
    };
    let (coarse, fine) = (departure(0.05), departure(0.0125));
    eprintln!("E[1 − ρ]: {coarse:?} at h = 0.05, {fine:?} at h = 0.0125");
    assert!(fine.0 < 0.75 * coarse.0, "{coarse:?} → {fine:?}");
}

#[test]
fn blowup_monte_carlo_matches_feller() {
    // b = 1, x₀ = 1: P(eventual blow-up) = 1 − 2/e. At T = 40 the undecided paths are
    // negligible (collapse takes ~10 time units, blow-up less).
    let opts = BlowupMcOptions::new(1.0, 1.0, 40.0, 0.02, 1500, 7);
    let est = blowup_monte_carlo(&opts).unwrap();
    let exact = feller_blowup_probability(1.0, 1.0).unwrap();
    eprintln!("MC {est:?} vs Feller {exact}");
    let tol = 4.0 * est.stderr + est.step_bias.abs() + 2.0 * est.step_bias_stderr;
    assert!(
        (est.probability - exact).abs() < tol,
        "{} vs {exact} (tol {tol})",
        est.probability
    );
    assert_eq!(est.blowups + est.collapses + est.undecided, est.paths);
    assert!(est.undecided <= 2, "{est:?}");
    // b ≤ 0: Feller says never; no path may blow up.
    let none = blowup_monte_carlo(&BlowupMcOptions::new(-0.5, 2.0, 10.0, 0.02, 200, 1)).unwrap();
    assert_eq!(none.blowups, 0);
}

/// The larger Feller comparison (release build: see the module documentation).
#[test]
#[ignore]
fn blowup_monte_carlo_matches_feller_at_many_points() {
    for &(b, x0) in &[(1.0, 1.0), (0.5, 1.0), (2.0, 1.2), (1.0, 0.3)] {
        let est = blowup_monte_carlo(&BlowupMcOptions::new(b, x0, 60.0, 0.005, 40_000, 3)).unwrap();
        let exact = feller_blowup_probability(b, x0).unwrap();
        eprintln!(
            "b = {b}, x0 = {x0}: MC {:.4} ± {:.4} (step bias {:.4} ± {:.4}, undecided {}) vs Feller {exact:.4}",
            est.probability, est.stderr, est.step_bias, est.step_bias_stderr, est.undecided
        );
        let tol = 4.0 * est.stderr + est.step_bias.abs() + 2.0 * est.step_bias_stderr;
        assert!((est.probability - exact).abs() < tol);
    }
}

/// A shaped program with the given activation, two inputs with Gram `gram0` and τ = 1.
fn program(act: ShapedAct, gram0: Vec<Vec<f64>>) -> ShapedProgram {
    ShapedProgram {
        title: None,
        width: "n".into(),
        depth: "d".into(),
        tau: BigRational::from_integer(1.into()),
        symbols: vec![],
        p: Exponent::ratio(1, 2),
        act,
        activations: vec![],
        inputs: (0..gram0.len()).map(|i| format!("x{i}")).collect(),
        gram0,
    }
}

fn relu_shaped(c_plus: f64, c_minus: f64) -> NumericShaped {
    NumericShaped {
        kind: NumericKind::Relu { c_plus, c_minus },
        p: 0.5,
        activations: vec![],
    }
}

#[test]
fn normalization_is_exact_for_relu_and_polynomials() {
    let (c, err) = normalization_c(&relu_shaped(1.0, -1.0), 16).unwrap();
    // S± = 1 ± 1/4: c = 2/(25/16 + 9/16).
    assert_eq!(err, 0.0);
    assert!((c - 2.0 / (34.0 / 16.0)).abs() < 1e-15);
    // Cubic Taylor φ(y) = y + u y²/2 + v y³/6, S = a√n: φ_S(x) = x + αx² + βx³ with
    // α = u/(2S), β = v/(6S²), and E φ_S(g)² = 1 + 3α² + 6β + 15β² exactly.
    let (u, v, a, n) = (0.7, -1.3, 0.5, 9usize);
    let smooth = NumericShaped {
        kind: NumericKind::Smooth {
            act: None,
            raw: [0.0, 1.0, u, v],
            normalize: false,
            cubic: [u, v],
            a,
        },
        p: 0.5,
        activations: vec![],
    };
    let s = a * (n as f64).sqrt();
    let (al, be) = (u / (2.0 * s), v / (6.0 * s * s));
    let exact = 1.0 / (1.0 + 3.0 * al * al + 6.0 * be + 15.0 * be * be);
    let (c, err) = normalization_c(&smooth, n).unwrap();
    assert!(
        (c - exact).abs() < 1e-13 && err < 1e-12,
        "{c} vs {exact} (err {err})"
    );
}

/// The final Φ of `count` samples of the chain and of the literal network, n = d = 32.
fn chain_and_literal(count: usize) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let shaped = relu_shaped(0.0, -1.0);
    let (n, d) = (32, 32);
    let (c, _) = normalization_c(&shaped, n).unwrap();
    // Inputs in R^3 with Φ₀ = [[1, 0.4], [0.4, 0.8]]·(3/3).
    let x1 = vec![1.0, 1.0, 1.0];
    let x2 = vec![1.2, 0.6, -0.2];
    let g = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>() / 3.0;
    let gram = vec![
        vec![g(&x1, &x1), g(&x1, &x2)],
        vec![g(&x2, &x1), g(&x2, &x2)],
    ];
    let phi0 = pack_gram(&gram).unwrap();
    let limits = ChainLimits::default();
    let chain: Vec<Vec<f64>> = (0..count)
        .map(|s| {
            let r = sample_chain(
                &shaped,
                c,
                &phi0,
                2,
                n,
                d,
                &[d],
                &limits,
                &mut chain_rng(1, n, s),
            );
            r.states
        })
        .collect();
    let inputs = vec![x1, x2];
    let literal: Vec<Vec<f64>> = (0..count)
        .map(|s| {
            literal_network(
                &shaped,
                c,
                &inputs,
                n,
                d,
                &limits,
                &mut literal_rng(2, n, s),
            )
            .unwrap()
            .unwrap()
        })
        .collect();
    (chain, literal)
}

#[test]
fn gram_chain_has_the_law_of_the_literal_network() {
    let (chain, literal) = chain_and_literal(400);
    let col = |v: &[Vec<f64>], e: usize, log: bool| -> Vec<f64> {
        v.iter()
            .map(|s| if log { s[e].ln() } else { s[e] })
            .collect()
    };
    agree(
        "E Φ12",
        mean_se(&col(&chain, 1, false)),
        mean_se(&col(&literal, 1, false)),
        4.0,
    );
    agree(
        "Var Φ12",
        var_se(&col(&chain, 1, false)),
        var_se(&col(&literal, 1, false)),
        4.0,
    );
    agree(
        "E log Φ11",
        mean_se(&col(&chain, 0, true)),
        mean_se(&col(&literal, 0, true)),
        4.0,
    );
    agree(
        "Var log Φ11",
        var_se(&col(&chain, 0, true)),
        var_se(&col(&literal, 0, true)),
        4.0,
    );
    let (d, p) = ks(&col(&chain, 1, false), &col(&literal, 1, false));
    assert!(p > 1e-3, "KS on Φ12: D = {d}, p = {p}");
    // The diagonal is a martingale for the shaped ReLU: E Φ11_d = Φ11_0 = 1.
    let (m, se) = mean_se(&col(&chain, 0, false));
    assert!((m - 1.0).abs() < 4.0 * se, "E Φ11 = {m} ± {se}");
}

#[test]
fn sweep_is_bit_identical_at_any_thread_count() {
    let prog = program(
        ShapedAct::Relu {
            c_plus: Poly::int(0),
            c_minus: Poly::int(-1),
        },
        vec![vec![1.0, 0.2], vec![0.2, 2.0]],
    );
    let shaped = relu_shaped(0.0, -1.0);
    let opts = |threads| ShapedSweepOptions {
        widths: vec![8, 16, 24],
        samples: 12,
        seed: 4,
        taus: vec![0.0, 0.5],
        threads: Some(threads),
        ..ShapedSweepOptions::default()
    };
    let one = sweep(&prog, &shaped, &opts(1)).unwrap();
    let two = sweep(&prog, &shaped, &opts(2)).unwrap();
    eprintln!("planned: {}", one.cost);
    assert_eq!(one.records.len(), 36);
    for (a, b) in one.records.iter().zip(&two.records) {
        assert_eq!(a.layers, b.layers);
        let bits = |r: &[f64]| r.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.states), bits(&b.states));
    }
    // Layers 0, round(n/2) and d = n; layer 0 is Φ₀.
    assert_eq!(one.layers[1], vec![0, 8, 16]);
    let r = one.record(1, 3).unwrap();
    assert_eq!(&r.states[..3], &[1.0, 0.2, 2.0]);
    assert!(r.stop.is_none());
    // A different sample differs.
    assert_ne!(one.record(1, 4).unwrap().states, r.states);
}

#[test]
fn chain_reports_blowup_with_its_layer() {
    // A huge Φ₀ with a tiny threshold blows up at the first layer it computes.
    let shaped = relu_shaped(0.0, -1.0);
    let limits = ChainLimits {
        blowup: 10.0,
        collapse: 1e-8,
    };
    let r = sample_chain(
        &shaped,
        1.0,
        &[100.0, 0.0, 100.0],
        2,
        16,
        16,
        &[4, 16],
        &limits,
        &mut chain_rng(0, 16, 0),
    );
    let stop = r.stop.unwrap();
    assert_eq!((stop.kind, stop.layer), (GramStopKind::BlowUp, 1));
    assert!(r.layers.is_empty());
}

/// The cost of one chain sample at n = 512, τ = 1, m = 2 (d = 512 layers): prints the
/// time per sample. Run with `cargo test --release --test shaped_numerics -- --ignored
/// chain_cost --nocapture`.
#[test]
#[ignore]
fn chain_cost_at_width_512() {
    let shaped = relu_shaped(0.0, -1.0);
    let n = 512;
    let (c, _) = normalization_c(&shaped, n).unwrap();
    let samples = 20;
    let start = std::time::Instant::now();
    let mut total = 0.0;
    for s in 0..samples {
        let r = sample_chain(
            &shaped,
            c,
            &[1.0, 0.3, 1.0],
            2,
            n,
            n,
            &[n],
            &ChainLimits::default(),
            &mut chain_rng(9, n, s),
        );
        total += r.states[1];
    }
    let per = start.elapsed().as_secs_f64() / samples as f64;
    eprintln!(
        "n = 512, d = 512, m = 2: {:.2} ms per sample (mean Φ12 {:.3})",
        per * 1e3,
        total / samples as f64
    );
    assert!(total.is_finite());
}
