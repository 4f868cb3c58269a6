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
