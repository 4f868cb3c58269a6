//! The finite-depth simulator against independent oracles: closed forms of the limits
//! (geometric Brownian motion, the matrix exponential), the L^{-1/2} strong rate of a
//! coupled SDE, the moments of the Hayou/Zheng networks, and determinism.

use tp::depth::simulate::{
    estimate_crx, sample_type2_sde, simulate_crx, simulate_hayou, CrxSweep, DepthBudget,
    DepthSimError, DepthSweepOptions, Divergence, HayouSource, HayouSweep, LimitScheme,
};
use tp::depth::{CrxEquation, CrxNet, DepthProgram, HayouEquation, HayouKind, HayouNet, Resnet};
use tp::exponent::{Exponent, Rational};
use tp::ir::{ActId, Activation, Expr, Func};

// ---------------------------------------------------------------- program builders

/// σ(u) = u.
fn identity() -> Activation {
    Activation::new("identity", Expr::Arg)
}

/// σ(u) = u + u²/2: σ(0) = 0, σ'(0) = 1, σ''(0) = 1, so the limit has an Itô drift.
fn quadratic() -> Activation {
    let two = Rational::from_integer(2.into());
    Activation::new(
        "quad",
        Expr::add(
            Expr::Arg,
            Expr::mul(Expr::Const(0.5), Expr::pow(Expr::Arg, two)),
        ),
    )
}

/// ReLU with φ' prepared (for the sketch).
fn relu() -> Activation {
    let mut a = Activation::new("relu", Expr::call(Func::Relu, Expr::Arg));
    a.ensure_order(1).expect("relu' is step");
    a
}

fn half() -> Exponent {
    Exponent::ratio(1, 2)
}

/// A CRX network with constant trend entries.
struct Crx {
    act: Activation,
    alpha: Exponent,
    beta: Exponent,
    trend: Option<Vec<Vec<f64>>>,
    noise: f64,
    input: Vec<f64>,
}

impl Crx {
    fn program(self) -> DepthProgram {
        let d = self.input.len();
        DepthProgram {
            title: None,
            depth: "L".into(),
            width: None,
            symbols: vec![],
            activations: vec![self.act],
            net: Resnet::Crx(CrxNet {
                dim: d,
                dim_name: "d".into(),
                act: ActId(0),
                delta: 1.0,
                alpha: self.alpha,
                beta: self.beta,
                gamma: half(),
                trend: self.trend.map(|a| {
                    a.into_iter()
                        .map(|row| row.into_iter().map(Expr::Const).collect())
                        .collect()
                }),
                bias_trend: None,
                noise: self.noise,
                bias_noise: 0.0,
                input: self.input,
            }),
        }
    }
}

/// The equation with the terms named kept.
fn crx_equation(full: bool, linear: bool, ito: bool, noise: bool, taylor: [f64; 3]) -> CrxEquation {
    CrxEquation {
        delta: 1.0,
        full_activation: full,
        linear_trend: linear,
        constant: false,
        ito,
        noise,
        taylor,
    }
}

fn hayou_program(kind: HayouKind, sketch: bool, input: Vec<f64>) -> DepthProgram {
    DepthProgram {
        title: None,
        depth: "L".into(),
        width: Some("n".into()),
        symbols: vec![],
        activations: vec![relu()],
        net: Resnet::Hayou(HayouNet {
            kind,
            act: ActId(0),
            branch: half(),
            gain: 2.0,
            input,
            sketch,
        }),
    }
}

fn hayou_net(prog: &DepthProgram) -> &HayouNet {
    match &prog.net {
        Resnet::Hayou(net) => net,
        Resnet::Crx(_) => unreachable!("built as Hayou"),
    }
}

fn options(depths: &[usize], seeds: u64, refine: usize) -> DepthSweepOptions {
    DepthSweepOptions {
        depths: depths.to_vec(),
        widths: vec![],
        seeds: (0..seeds).collect(),
        refine,
        threads: None,
        budget: DepthBudget::default(),
    }
}

// ---------------------------------------------------------------- statistics

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

fn variance(xs: &[f64]) -> f64 {
    let m = mean(xs);
    xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64
}

/// The standard error of the mean.
fn std_error(xs: &[f64]) -> f64 {
    (variance(xs) / xs.len() as f64).sqrt()
}

/// Asserts |mean − expected| ≤ k standard errors.
fn assert_mean(what: &str, xs: &[f64], expected: f64, k: f64) {
    let (m, se) = (mean(xs), std_error(xs));
    assert!(
        (m - expected).abs() <= k * se,
        "{what}: mean {m} vs {expected} (standard error {se}, {} samples)",
        xs.len()
    );
}

/// Slope of log y against log x through two points.
fn slope(x0: f64, y0: f64, x1: f64, y1: f64) -> f64 {
    (y1.ln() - y0.ln()) / (x1.ln() - x0.ln())
}

/// Mean pathwise error at each depth of a CRX sweep (every cell must have one).
fn mean_errors(sweep: &CrxSweep) -> Vec<f64> {
    (0..sweep.depths.len())
        .map(|i| {
            let errs: Vec<f64> = sweep
                .at_depth(i)
                .iter()
                .map(|r| r.pathwise_error.expect("no blow-up"))
                .collect();
            mean(&errs)
        })
        .collect()
}

// ---------------------------------------------------------------- CRX

/// G-003-b: σ = identity, α = 0, β = 1, γ = 1/2, d = 1: the limit is geometric Brownian
/// motion dH = aH dt + sH dB, so log(H_1/x) ~ N(a − s²/2, s²) and E H_1 = x e^a.
#[test]
fn g003b_limit_of_a_linear_network_is_geometric_brownian_motion() {
    let (a, s, x) = (0.3, 0.8, 1.5);
    let prog = Crx {
        act: identity(),
        alpha: Exponent::zero(),
        beta: Exponent::ratio(1, 1),
        trend: Some(vec![vec![a]]),
        noise: s,
        input: vec![x],
    }
    .program();
    let eq = crx_equation(false, true, false, true, [0.0, 1.0, 0.0]);
    let sweep = simulate_crx(&prog, Some(&eq), &options(&[32], 2000, 8)).unwrap();
    assert_eq!(sweep.scheme, Some(LimitScheme::Milstein));
    let ends: Vec<f64> = sweep
        .records
        .iter()
        .map(|r| {
            r.limit
                .as_ref()
                .and_then(|l| l.end.as_ref())
                .expect("limit")[0]
        })
        .collect();
    let logs: Vec<f64> = ends.iter().map(|h| (h / x).ln()).collect();
    assert_mean("E log(H_1/x)", &logs, a - s * s / 2.0, 4.0);
    assert_mean("E H_1", &ends, x * a.exp(), 4.0);
    // Var log(H_1/x) = s²: the noise enters with the right size.
    let v = variance(&logs);
    assert!(
        (v / (s * s) - 1.0).abs() < 4.0 * (2.0 / 1999.0f64).sqrt(),
        "variance {v}"
    );
}

/// The 2×2 matrix exponential in closed form: e^A = e^m (cosh(q) I + sinh(q)/q (A − mI)),
/// m = tr A / 2, q² = m² − det A (q imaginary: cos and sin).
fn expm2(a: [[f64; 2]; 2]) -> [[f64; 2]; 2] {
    let m = 0.5 * (a[0][0] + a[1][1]);
    let det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
    let q2 = m * m - det;
    let (c, s) = if q2 >= 0.0 {
        let q = q2.sqrt();
        (q.cosh(), if q == 0.0 { 1.0 } else { q.sinh() / q })
    } else {
        let q = (-q2).sqrt();
        (q.cos(), q.sin() / q)
    };
    let e = m.exp();
    [
        [e * (c + s * (a[0][0] - m)), e * s * a[0][1]],
        [e * s * a[1][0], e * (c + s * (a[1][1] - m))],
    ]
}

/// σ = identity, no noise, α = 1, β = 0: the network is Euler's method for dH = ĀH dt,
/// whose solution is e^{Ā}x; the network's distance to it is first order in 1/L.
#[test]
fn linear_ode_limit_is_the_matrix_exponential_and_the_network_error_is_first_order() {
    let abar = [[0.4, 1.1], [-0.9, -0.3]];
    let x = [1.0, 0.5];
    let prog = Crx {
        act: identity(),
        alpha: Exponent::ratio(1, 1),
        beta: Exponent::zero(),
        trend: Some(abar.iter().map(|r| r.to_vec()).collect()),
        noise: 0.0,
        input: x.to_vec(),
    }
    .program();
    let eq = crx_equation(true, false, false, false, [0.0, 1.0, 0.0]);
    let depths = [16, 32, 64, 128];
    let sweep = simulate_crx(&prog, Some(&eq), &options(&depths, 2, 8)).unwrap();
    assert_eq!(sweep.scheme, Some(LimitScheme::Rk4));
    let e = expm2(abar);
    let exact = [
        e[0][0] * x[0] + e[0][1] * x[1],
        e[1][0] * x[0] + e[1][1] * x[1],
    ];
    for r in &sweep.records {
        let end = r.limit.as_ref().and_then(|l| l.end.clone()).unwrap();
        let dist = ((end[0] - exact[0]).powi(2) + (end[1] - exact[1]).powi(2)).sqrt();
        assert!(dist < 1e-8, "L = {}: |H_1 − e^Ā x| = {dist}", r.depth);
    }
    let errors = mean_errors(&sweep);
    for w in errors.windows(2) {
        let ratio = w[0] / w[1];
        assert!(
            (1.8..2.2).contains(&ratio),
            "error ratio {ratio}: {errors:?}"
        );
    }
    // Deterministic: both seeds give the same numbers.
    assert_eq!(sweep.records[0].network, sweep.records[1].network);
}

/// σ(u) = u + u²/2, α = 0, β = 1, d = 2, s = 0.5: the limit needs the Itô drift
/// (σ''(0)/2) s²|H|². With it the coupled network converges at the strong rate L^{-1/2};
/// without it (a derivation that forgot the term) the error stalls at the size of the
/// missing drift.
#[test]
fn ito_correction_is_needed_for_pathwise_convergence() {
    let prog = Crx {
        act: quadratic(),
        alpha: Exponent::zero(),
        beta: Exponent::ratio(1, 1),
        trend: Some(vec![vec![0.2, -0.5], vec![0.3, -0.1]]),
        noise: 0.5,
        input: vec![1.0, -0.8],
    }
    .program();
    let depths = [64, 256, 1024];
    let opts = options(&depths, 64, 8);
    let right = crx_equation(false, true, true, true, [0.0, 1.0, 1.0]);
    let sweep = simulate_crx(&prog, Some(&right), &opts).unwrap();
    assert_eq!(sweep.scheme, Some(LimitScheme::EulerMaruyama));
    let good = mean_errors(&sweep);
    let wrong = crx_equation(false, true, false, true, [0.0, 1.0, 1.0]);
    let bad = mean_errors(&simulate_crx(&prog, Some(&wrong), &opts).unwrap());
    eprintln!("with Itô {good:?}; without {bad:?}");
    let rate = slope(64.0, good[0], 1024.0, good[2]);
    assert!((-0.65..-0.35).contains(&rate), "slope {rate}: {good:?}");
    let stalled = slope(64.0, bad[0], 1024.0, bad[2]);
    assert!(
        stalled > -0.2,
        "without the Itô term the error still shrinks: {bad:?}"
    );
    assert!(bad[2] > 3.0 * good[2], "{bad:?} vs {good:?}");
}

/// β = 0, α = 0, σ = identity, Ā = 1: h_k = 2^k x, which passes 1e150 at the first k
/// with 2^k > 1e150 — the blow-up is recorded there, and shallower cells run normally.
#[test]
fn explosions_are_recorded_at_their_layer_and_other_cells_continue() {
    let prog = Crx {
        act: identity(),
        alpha: Exponent::zero(),
        beta: Exponent::zero(),
        trend: Some(vec![vec![1.0]]),
        noise: 0.0,
        input: vec![1.0],
    }
    .program();
    let sweep = simulate_crx(&prog, None, &options(&[8, 1024], 1, 1)).unwrap();
    let first_huge = (1..).find(|&k| 2f64.powi(k) > 1e150).unwrap() as usize;
    let deep = &sweep.records[1];
    let blowup = deep.network.blowup.expect("blew up");
    assert_eq!(blowup.layer, first_huge);
    assert_eq!(blowup.kind, Divergence::TooLarge);
    assert!(deep.network.end.is_none() && deep.limit.is_none());
    assert_eq!(deep.network.half, None, "the blow-up precedes layer 512");
    let shallow = &sweep.records[0];
    assert_eq!(shallow.network.end, Some(vec![256.0]));
    assert_eq!(shallow.network.half, Some(vec![16.0]));
    assert_eq!(shallow.network.displacement, Some(255.0));
}

// ---------------------------------------------------------------- Hayou / Zheng

/// Type 1 ReLU at gain 2 with the sketch: the corrected theory's covariance of (f^i, v^i)
/// stays at K_0 = diag(‖x‖²/m_0, 1); the coupled network's pathwise error shrinks with L.
#[test]
fn hayou_type1_relu_keeps_its_covariance_and_approaches_its_limit() {
    let input = vec![1.0, -2.0, 0.5, 1.5];
    let m0 = input.len() as f64;
    let kff = input.iter().map(|x| x * x).sum::<f64>() / m0;
    let prog = hayou_program(HayouKind::Type1, true, input);
    let eq = HayouEquation::of(hayou_net(&prog), true, true);
    let mut opts = options(&[128], 20, 4);
    opts.widths = vec![128];
    let sweep = simulate_hayou(&prog, Some(&eq), &opts).unwrap();
    assert_eq!(sweep.source, HayouSource::Coupled);
    for (which, pick) in [("network", 0), ("limit", 1)] {
        let ends: Vec<_> = sweep
            .records
            .iter()
            .map(|r| if pick == 0 { r.network } else { r.limit })
            .map(|t| t.and_then(|t| t.end).expect("no blow-up"))
            .collect();
        let f: Vec<f64> = ends.iter().map(|e| e.f_sq).collect();
        let v: Vec<f64> = ends.iter().map(|e| e.v_sq.unwrap()).collect();
        let fv: Vec<f64> = ends.iter().map(|e| e.fv.unwrap()).collect();
        assert_mean(&format!("{which} ‖f_L‖²/n"), &f, kff, 4.0);
        assert_mean(&format!("{which} ‖v_L‖²/n"), &v, 1.0, 4.0);
        assert_mean(&format!("{which} ⟨f, v⟩/n"), &fv, 0.0, 4.0);
    }

    // Pathwise: the network follows its limit more closely as L grows.
    let mut opts = options(&[16, 64, 256], 8, 4);
    opts.widths = vec![32];
    let sweep = simulate_hayou(&prog, Some(&eq), &opts).unwrap();
    let errs: Vec<(f64, f64)> = (0..3)
        .map(|i| {
            let cell = sweep.at(0, i);
            let f: Vec<f64> = cell.iter().map(|r| r.f_error.unwrap()).collect();
            let v: Vec<f64> = cell.iter().map(|r| r.v_error.unwrap()).collect();
            (mean(&f), mean(&v))
        })
        .collect();
    eprintln!("type 1 pathwise errors {errs:?}");
    for w in errs.windows(2) {
        assert!(w[1].0 < 0.75 * w[0].0 && w[1].1 < w[0].1, "{errs:?}");
    }
    // f follows the strong rate L^{-1/2}. v converges more slowly: it is driven by
    // φ' = step(f), which differs between network and limit wherever f^i and F^i have
    // opposite signs, a fraction of coordinates of the order of the f error.
    let rate = slope(16.0, errs[0].0, 256.0, errs[2].0);
    assert!((-0.7..-0.3).contains(&rate), "slope {rate}: {errs:?}");
    let v_rate = slope(16.0, errs[0].1, 256.0, errs[2].1);
    assert!(
        (-0.5..-0.1).contains(&v_rate),
        "sketch slope {v_rate}: {errs:?}"
    );
}

/// log(‖f_L‖²/‖f_0‖²) per seed, from the trajectory `pick` selects.
fn log_growths(sweep: &HayouSweep, network: bool) -> Vec<f64> {
    sweep
        .records
        .iter()
        .map(|r| if network { r.network } else { r.limit })
        .map(|t| t.and_then(|t| t.end).expect("no blow-up").log_growth)
        .collect()
}

/// Type 2 ReLU at gain 2: ‖f‖² is a martingale (E‖f_L‖² = ‖f_0‖²) and
/// d log‖f‖² = (2/√n) dW − (2/n) dt, so Var log(‖f_1‖²/‖f_0‖²) = 4/n — for the network
/// at large L and for the limit SDE sampled on its own.
#[test]
fn hayou_type2_relu_norm_is_a_martingale_with_log_variance_4_over_n() {
    let prog = hayou_program(HayouKind::Type2, false, vec![0.5, -1.0, 2.0]);
    let eq = HayouEquation::of(hayou_net(&prog), true, true);
    let n = 64;
    let seeds = 400;
    let mut opts = options(&[64], seeds, 4);
    opts.widths = vec![n];
    let network = simulate_hayou(&prog, None, &opts).unwrap();
    let sde = sample_type2_sde(&prog, &eq, &opts).unwrap();
    assert_eq!(sde.source, HayouSource::Type2Sde);
    for (which, logs) in [
        ("network", log_growths(&network, true)),
        ("SDE", log_growths(&sde, false)),
    ] {
        let ratios: Vec<f64> = logs.iter().map(|l| l.exp()).collect();
        assert_mean(&format!("{which} ‖f_L‖²/‖f_0‖²"), &ratios, 1.0, 4.0);
        let v = variance(&logs);
        let target = 4.0 / n as f64;
        // For near-Gaussian samples the variance's standard error is σ²√(2/(N−1)).
        let se = target * (2.0 / (seeds - 1) as f64).sqrt();
        eprintln!("{which}: Var log = {v} vs {target} (se {se})");
        assert!(
            (v - target).abs() < 4.0 * se,
            "{which}: Var log = {v} vs {target}"
        );
    }
}

// ---------------------------------------------------------------- determinism, refusals

#[test]
fn sweeps_are_bit_identical_across_thread_counts() {
    let prog = Crx {
        act: quadratic(),
        alpha: Exponent::zero(),
        beta: Exponent::ratio(1, 1),
        trend: Some(vec![vec![0.2, -0.5], vec![0.3, -0.1]]),
        noise: 0.5,
        input: vec![1.0, -0.8],
    }
    .program();
    let eq = crx_equation(false, true, true, true, [0.0, 1.0, 1.0]);
    let mut opts = options(&[16, 64, 256], 6, 4);
    opts.threads = Some(1);
    let one = simulate_crx(&prog, Some(&eq), &opts).unwrap();
    opts.threads = Some(2);
    let two = simulate_crx(&prog, Some(&eq), &opts).unwrap();
    // The records (not the cost estimate, which counts the threads) are identical.
    assert_eq!(one.records, two.records);
    assert_eq!(
        serde_json::to_string(&one.records).unwrap(),
        serde_json::to_string(&two.records).unwrap()
    );

    let prog = hayou_program(HayouKind::Type1, true, vec![1.0, -1.0]);
    let heq = HayouEquation::of(hayou_net(&prog), true, true);
    let mut opts = options(&[8, 32], 4, 2);
    opts.widths = vec![16, 24];
    opts.threads = Some(1);
    let one = simulate_hayou(&prog, Some(&heq), &opts).unwrap();
    opts.threads = Some(2);
    let two = simulate_hayou(&prog, Some(&heq), &opts).unwrap();
    assert_eq!(
        serde_json::to_string(&one.records).unwrap(),
        serde_json::to_string(&two.records).unwrap()
    );
    // Records are in (width, depth, seed) order whatever order they ran in.
    let r = two.record(1, 0, 3).unwrap();
    assert_eq!((r.width, r.depth, r.seed), (24, 8, 3));
}

#[test]
fn bad_requests_are_refused_with_typed_errors() {
    let mut net = Crx {
        act: identity(),
        alpha: Exponent::symbol("a"),
        beta: Exponent::ratio(1, 1),
        trend: None,
        noise: 1.0,
        input: vec![1.0],
    }
    .program();
    match simulate_crx(&net, None, &options(&[4], 1, 1)) {
        Err(DepthSimError::SymbolicExponent { what, symbols, .. }) => {
            assert_eq!((what, symbols), ("alpha", vec!["a".to_string()]));
        }
        other => panic!("expected a symbolic-exponent error, got {other:?}"),
    }
    if let Resnet::Crx(c) = &mut net.net {
        c.alpha = Exponent::zero();
    }
    let mut opts = options(&[1 << 24], 1000, 64);
    let cost = estimate_crx(&net, None, &opts);
    assert!(
        matches!(cost, Err(DepthSimError::TooSlow { .. })),
        "{cost:?}"
    );
    opts.budget.max_bytes = 1000;
    opts.depths = vec![4];
    assert!(matches!(
        simulate_crx(&net, None, &opts),
        Err(DepthSimError::TooLarge { .. })
    ));
    assert!(matches!(
        simulate_crx(&net, None, &options(&[4, 4], 1, 1)),
        Err(DepthSimError::RepeatedSize { size: 4, .. })
    ));

    let prog = hayou_program(HayouKind::Type2, false, vec![1.0]);
    let eq = HayouEquation::of(hayou_net(&prog), true, true);
    let mut opts = options(&[4], 1, 1);
    opts.widths = vec![8];
    assert!(matches!(
        simulate_hayou(&prog, Some(&eq), &opts),
        Err(DepthSimError::CannotCouple { .. })
    ));
    let sketched = hayou_program(HayouKind::Type2, true, vec![1.0]);
    assert_eq!(
        simulate_hayou(&sketched, None, &opts).unwrap_err(),
        DepthSimError::SketchOnType2
    );
    assert!(matches!(
        simulate_crx(&prog, None, &opts),
        Err(DepthSimError::WrongFamily { .. })
    ));
}

/// G-000-e: Euler–Maruyama of df = −½ f dt + √(2/n) dB φ(f) at step 1/L, driven by the
/// network's own branch matrices as the increments, is the ResNet with the skip
/// √(1 − 1/L) replaced by 1 − 1/(2L). So with one sub-step per layer the coupled
/// "limit" differs from the network only through √(1 − 1/L) − (1 − 1/(2L)) = O(L^-2)
/// per layer: the pathwise error is O(L^-1), far below the O(L^-1/2) strong error the
/// check sees at finer sub-steps.
#[test]
fn g000e_euler_maruyama_at_step_one_over_l_is_the_resnet_with_a_linearised_skip() {
    let prog = hayou_program(HayouKind::Type1, false, vec![1.0, -2.0, 0.5, 1.5]);
    let eq = HayouEquation::of(hayou_net(&prog), true, true);
    let mut opts = options(&[16, 64, 256], 6, 1);
    opts.widths = vec![64];
    let sweep = simulate_hayou(&prog, Some(&eq), &opts).unwrap();
    let errs: Vec<f64> = (0..3)
        .map(|i| {
            mean(
                &sweep
                    .at(0, i)
                    .iter()
                    .map(|r| r.f_error.unwrap())
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let rate = slope(16.0, errs[0], 256.0, errs[2]);
    assert!((-1.2..-0.8).contains(&rate), "slope {rate}: {errs:?}");
    // And far below the refined coupling's error at the same depth.
    let mut fine = options(&[256], 6, 8);
    fine.widths = vec![64];
    let refined = simulate_hayou(&prog, Some(&eq), &fine).unwrap();
    let e8 = mean(
        &refined
            .at(0, 0)
            .iter()
            .map(|r| r.f_error.unwrap())
            .collect::<Vec<_>>(),
    );
    assert!(errs[2] < 0.2 * e8, "step 1/L: {}, refined: {e8}", errs[2]);
}
