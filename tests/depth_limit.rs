//! The depth limits' numerical values against closed forms: geometric Brownian motion
//! (Cont, Rossier & Xu's Itô setting with a linear activation: H_1 = x·exp((a − s²/2) +
//! sB_1), so E H_1 = x e^a and E log(H_1/x) = a − s²/2), the linear ODE H_1 = e^{Ā} x, and
//! the width limit of the Hayou/Zheng ResNet (ReLU: the covariance of (f, v) is constant,
//! Zheng 2024 §3.6 corrected; the report's a = b = c = ½ SDE gives K_fv(1) = 1 − 1/e).

use tp::depth::derive::{derive, DepthLimit, DepthMutation};
use tp::depth::evaluate::{evaluate, EvalOptions};
use tp::depth::{CrxNet, DepthProgram, HayouKind, HayouNet, Resnet};
use tp::exponent::Exponent;
use tp::ir::{ActId, Activation, Expr, Func};

fn crx(
    act: Activation,
    alpha: Exponent,
    beta: Exponent,
    trend: Vec<Vec<Expr>>,
    noise: f64,
    input: Vec<f64>,
) -> DepthProgram {
    let mut act = act;
    let _ = act.ensure_order(3);
    let net = CrxNet {
        dim: input.len(),
        dim_name: "d".into(),
        act: ActId(0),
        delta: 1.0,
        alpha,
        beta,
        gamma: Exponent::ratio(1, 2),
        trend: Some(trend),
        bias_trend: None,
        noise,
        bias_noise: 0.0,
        input,
    };
    DepthProgram {
        title: None,
        depth: "L".into(),
        width: None,
        symbols: vec![],
        activations: vec![act],
        net: Resnet::Crx(net),
    }
}

fn hayou(sketch: bool, input: Vec<f64>) -> DepthProgram {
    let mut act = Activation::new(
        "relu",
        Expr::call(Func::from_name("relu").unwrap(), Expr::Arg),
    );
    let _ = act.ensure_order(1);
    DepthProgram {
        title: None,
        depth: "L".into(),
        width: Some("n".into()),
        symbols: vec![],
        activations: vec![act],
        net: Resnet::Hayou(HayouNet {
            kind: HayouKind::Type1,
            act: ActId(0),
            branch: Exponent::ratio(1, 2),
            gain: 2.0,
            input,
            sketch,
        }),
    }
}

#[test]
fn geometric_brownian_motion_mean_and_log_mean() {
    let (a, s, x) = (0.3, 0.5, 1.5);
    let prog = crx(
        Activation::new("identity", Expr::Arg),
        Exponent::zero(),
        Exponent::ratio(1, 1),
        vec![vec![Expr::Const(a)]],
        s,
        vec![x],
    );
    let d = derive(&prog, None);
    let limit = d.limit.clone().unwrap();
    let opts = EvalOptions {
        paths: 8192,
        steps: 256,
        seed: 3,
    };
    let values = evaluate(&prog, &limit, &opts).unwrap();
    let mean = values
        .values
        .iter()
        .find(|v| v.name == "E H_t[0]" && v.t == 1.0)
        .unwrap();
    let exact = x * a.exp();
    assert!(
        (mean.value - exact).abs() < 4.0 * mean.stderr,
        "{mean:?} vs {exact}"
    );
    // E log(H_1/x) = a − s²/2 from the per-path terminal states.
    let logs: Vec<f64> = values.terminal.iter().map(|h| (h[0] / x).ln()).collect();
    let m = logs.iter().sum::<f64>() / logs.len() as f64;
    let sd = (logs.iter().map(|l| (l - m).powi(2)).sum::<f64>() / (logs.len() - 1) as f64).sqrt();
    let se = sd / (logs.len() as f64).sqrt();
    // Euler–Maruyama's weak bias at 256 steps is O(1/256): allowed on top of 4 se.
    assert!(
        (m - (a - s * s / 2.0)).abs() < 4.0 * se + 0.01,
        "E log = {m} ± {se}"
    );
    assert!((sd - s).abs() < 0.05, "sd log = {sd}");
}

#[test]
fn linear_ode_is_the_matrix_exponential() {
    // σ = identity, α = 1, β = 0: dH = Ā H dt with constant Ā = [[0, 1], [-1, 0]]:
    // a rotation by one radian.
    let prog = crx(
        Activation::new("identity", Expr::Arg),
        Exponent::ratio(1, 1),
        Exponent::zero(),
        vec![
            vec![Expr::Const(0.0), Expr::Const(1.0)],
            vec![Expr::Const(-1.0), Expr::Const(0.0)],
        ],
        0.0,
        vec![1.0, 0.0],
    );
    let d = derive(&prog, None);
    let values = evaluate(&prog, d.limit.as_ref().unwrap(), &EvalOptions::default()).unwrap();
    let h = |i: usize| {
        values
            .values
            .iter()
            .find(|v| v.name == format!("H_t[{i}]") && v.t == 1.0)
            .unwrap()
            .clone()
    };
    let (c, s) = (1f64.cos(), 1f64.sin());
    assert!((h(0).value - c).abs() < 1e-10, "{:?}", h(0));
    assert!((h(1).value + s).abs() < 1e-10, "{:?}", h(1));
    assert!(h(0).stderr < 1e-9);
}

#[test]
fn hayou_width_limit_covariance_is_constant_for_relu() {
    let prog = hayou(true, vec![1.0, -2.0, 0.5, 1.5]);
    let d = derive(&prog, None);
    let values = evaluate(&prog, d.limit.as_ref().unwrap(), &EvalOptions::default()).unwrap();
    let k0 = (1.0 + 4.0 + 0.25 + 2.25) / 4.0;
    let get = |n: &str| {
        values
            .values
            .iter()
            .find(|v| v.name == n && v.t == 1.0)
            .unwrap()
            .clone()
    };
    let kff = get("K_ff");
    assert!((kff.value - k0).abs() < 1e-6 + 4.0 * kff.stderr, "{kff:?}");
    assert!(get("K_fv").value.abs() < 1e-6, "{:?}", get("K_fv"));
    assert!((get("K_vv").value - 1.0).abs() < 1e-6, "{:?}", get("K_vv"));
}

#[test]
fn zheng_report_sde_makes_the_cross_covariance_grow() {
    let prog = hayou(true, vec![1.0, 1.0, 1.0, 1.0]);
    let d = derive(&prog, Some(DepthMutation::ZhengReport));
    let Some(DepthLimit::Hayou { mv: Some(_), .. }) = &d.limit else {
        panic!("no width limit")
    };
    let values = evaluate(&prog, d.limit.as_ref().unwrap(), &EvalOptions::default()).unwrap();
    let kfv = values
        .values
        .iter()
        .find(|v| v.name == "K_fv" && v.t == 1.0)
        .unwrap();
    assert!((kfv.value - (1.0 - (-1f64).exp())).abs() < 1e-8, "{kfv:?}");
}

/// G-000-a/b by an independent reimplementation (a plain dense loop, not the engine's
/// simulator): a type-1 ReLU ResNet at gain 2 with its forward Jacobian sketch v = J z,
/// n = 256, L = 64, pooled over coordinates and seeds. Its coordinates (f^i, v^i) must
/// have the covariance `tp limit` evaluates for the width limit (K_ff = ‖x‖²/m_0,
/// K_fv = 0, K_vv = 1) and a Gaussian law (Kolmogorov–Smirnov against N(0, K)).
#[test]
fn g000ab_dense_loop_coordinates_have_the_evaluated_gaussian_law() {
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};

    let input = vec![1.0, -2.0, 0.5, 1.5];
    let prog = hayou(true, input.clone());
    let d = derive(&prog, None);
    let values = evaluate(&prog, d.limit.as_ref().unwrap(), &EvalOptions::default()).unwrap();
    let k = |name: &str| {
        values
            .values
            .iter()
            .find(|v| v.name == name && v.t == 1.0)
            .unwrap()
            .value
    };
    let (kff, kfv, kvv) = (k("K_ff"), k("K_fv"), k("K_vv"));

    let (n, depth, seeds) = (256usize, 64usize, 6u64);
    let m0 = input.len();
    let skip = (1.0 - 1.0 / depth as f64).sqrt();
    let branch = (1.0 / depth as f64).sqrt();
    let (mut fs, mut vs) = (Vec::new(), Vec::new());
    for seed in 0..seeds {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x6730_3030 + seed);
        let mut normal = || -> f64 { StandardNormal.sample(&mut rng) };
        // f_0 = W_in x with N(0, 1/m_0) entries; v_0 = z ~ N(0, I).
        let mut f: Vec<f64> = (0..n)
            .map(|_| (0..m0).map(|j| normal() * input[j]).sum::<f64>() / (m0 as f64).sqrt())
            .collect();
        let mut v: Vec<f64> = (0..n).map(|_| normal()).collect();
        let sd = (2.0 / n as f64).sqrt();
        for _ in 0..depth {
            let w: Vec<f64> = (0..n * n).map(|_| normal() * sd).collect();
            let phi: Vec<f64> = f.iter().map(|x| x.max(0.0)).collect();
            let dphi_v: Vec<f64> = f
                .iter()
                .zip(&v)
                .map(|(x, vi)| if *x > 0.0 { *vi } else { 0.0 })
                .collect();
            let mut f_next = vec![0.0; n];
            let mut v_next = vec![0.0; n];
            for i in 0..n {
                let row = &w[i * n..(i + 1) * n];
                let wf: f64 = row.iter().zip(&phi).map(|(a, b)| a * b).sum();
                let wv: f64 = row.iter().zip(&dphi_v).map(|(a, b)| a * b).sum();
                f_next[i] = skip * f[i] + branch * wf;
                v_next[i] = skip * v[i] + branch * wv;
            }
            f = f_next;
            v = v_next;
        }
        fs.extend(f);
        vs.extend(v);
    }
    let count = fs.len() as f64;
    let mean = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>() / count;
    let (eff, efv, evv) = (mean(&fs, &fs), mean(&fs, &vs), mean(&vs, &vs));
    // Pooled second moments over 1536 coordinates: ~4% relative error per seed-level
    // fluctuation of the norms (O(n^-1/2) per network), so 15% is several errors wide
    // and still far from a wrong covariance (the Zheng report's K_fv = 0.63).
    assert!((eff / kff - 1.0).abs() < 0.15, "K_ff {eff} vs {kff}");
    assert!((evv / kvv - 1.0).abs() < 0.15, "K_vv {evv} vs {kvv}");
    assert!(
        (efv - kfv).abs() < 0.15 * (kff * kvv).sqrt(),
        "K_fv {efv} vs {kfv}"
    );
    // The law of f^i/√K_ff and v^i/√K_vv against N(0, 1): the KS distance of 1536
    // near-independent draws is ~0.02 under the null; 0.06 is well beyond it.
    for (name, xs, var) in [("f", &fs, kff), ("v", &vs, kvv)] {
        let mut z: Vec<f64> = xs.iter().map(|x| x / var.sqrt()).collect();
        z.sort_by(f64::total_cmp);
        let m = z.len() as f64;
        let ks = z
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let cdf = 0.5 * (1.0 + tp::ir::erf(x / std::f64::consts::SQRT_2));
                (cdf - i as f64 / m)
                    .abs()
                    .max((cdf - (i + 1) as f64 / m).abs())
            })
            .fold(0.0, f64::max);
        assert!(ks < 0.06, "{name}: KS distance {ks}");
    }
}
