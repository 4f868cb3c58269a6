//! The shaped-network commands end to end: the b table of the reference notes derived
//! from each activation's exact Taylor data, the blow-up analysis against closed forms
//! computed here independently, `tp check` PASSing the shipped programs at small sizes and
//! FAILing deliberately wrong derivations.

mod common;

use tp::exponent::Rational;
use tp::shaped::derive::derive;
use tp::shaped::{Atom, Poly};

fn compile(act: &str, extra: &str, formula: Option<&str>) -> tp::shaped::ShapedProgram {
    let text = format!(
        "width n\ndepth d = n\n{}input x = [1]\nshaped net(width = n, depth = d, act = {act}{extra}, input = x)\n",
        formula.map(|f| format!("activation phi(x) = {f}\n")).unwrap_or_default()
    );
    match tp::compile_any("t.tp", &text, &[]) {
        Ok(tp::Compiled::Shaped(p)) => p,
        other => panic!("{act}: {other:?}"),
    }
}

fn q(n: i64, d: i64) -> Poly {
    Poly::frac(n, d)
}

#[test]
fn b_is_the_reference_table_exactly() {
    let inv_pi = Poly::atom_pow(Atom::Pi, Rational::from_integer((-1).into()));
    let cases: Vec<(&str, &str, Option<&str>, Poly)> = vec![
        ("tanh", "", None, q(-2, 1)),
        ("atan", "", None, q(-2, 1)),
        ("sin", "", None, q(-1, 1)),
        ("sigmoid", ", normalize = yes", None, q(-1, 2)),
        ("phi", "", Some("2*tanh(x/2)"), q(-1, 2)),
        (
            "gelu",
            ", normalize = yes",
            None,
            inv_pi.scale(&Rational::from_integer(6.into())),
        ),
        (
            "phi",
            "",
            Some("2*gelu(x)"),
            inv_pi.scale(&Rational::from_integer(6.into())),
        ),
        ("silu", ", normalize = yes", None, q(3, 4)),
        ("phi", "", Some("2*silu(x)"), q(3, 4)),
        ("softplus", ", normalize = yes", None, q(3, 16)),
        ("phi", "", Some("x + x^2/2"), q(3, 4)),
    ];
    for (act, extra, formula, want) in cases {
        let prog = compile(act, extra, formula);
        let d = derive(&prog, None).expect("derives");
        assert_eq!(d.b.as_ref(), Some(&want), "{act} {formula:?}");
        // The scalar drift is (b/a²) Φ(Φ − 1) with a = 1.
        let phi = Poly::atom(Atom::Gram(0, 0));
        assert_eq!(
            d.drift_diag,
            want.mul(&phi).mul(&phi.sub(&Poly::int(1))),
            "{act}"
        );
    }
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = common::tp(args);
    assert!(out.status.success(), "{}", common::stderr(&out));
    serde_json::from_str(&common::stdout(&out)).expect("json")
}

/// P(a, x), the regularized lower incomplete gamma function, by Simpson's rule on
/// t^{a−1} e^{−t} (an independent oracle for the solver's series/continued fraction).
fn p_reg(a: f64, x: f64) -> f64 {
    let integral = |hi: f64| {
        let k = 200_000;
        let h = hi / k as f64;
        let f = |t: f64| {
            if t == 0.0 {
                0.0
            } else {
                t.powf(a - 1.0) * (-t).exp()
            }
        };
        let mut s = f(0.0) + f(hi);
        for i in 1..k {
            s += f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        s * h / 3.0
    };
    integral(x) / integral(80.0)
}

#[test]
fn gelu_blow_up_numbers_are_fellers_and_the_logistic() {
    let v = json(&["limit", "programs/shaped_gelu.tp", "--json"]);
    assert_eq!(v["schema"], "tp-shaped-limit/1");
    let bl = &v["values"]["blowup"][0];
    let beta = 6.0 / std::f64::consts::PI;
    assert!((bl["beta"].as_f64().expect("beta") - beta).abs() < 1e-12);
    let x0 = 1.2;
    let feller = p_reg(beta + 1.0, beta * x0);
    assert!(
        (bl["eventual"].as_f64().expect("eventual") - feller).abs() < 1e-6,
        "{bl}"
    );
    let t_star = (x0 / (x0 - 1.0)).ln() / beta;
    assert!((bl["deterministic_blowup_time"].as_f64().expect("t*") - t_star).abs() < 1e-12);
    // By τ = 1 the SDE blows up less often than eventually, but often.
    let by = bl["by_tau"]["probability"].as_f64().expect("p");
    assert!(by > 0.2 && by < feller, "{by} vs {feller}");
}

#[test]
fn tanh_does_not_blow_up_and_relu_has_the_exact_diagonal_law() {
    let v = json(&["limit", "programs/shaped_tanh.tp", "--json"]);
    let bl = &v["values"]["blowup"][0];
    assert_eq!(bl["eventual"].as_f64(), Some(0.0));
    assert!(bl["deterministic_blowup_time"].is_null());
    // Logistic from 1.5 with β = −2: x₀/(x₀ + (1 − x₀)e^{βτ}) at τ = 1.
    let want = 1.5 / (1.5 - 0.5 * (-2.0f64).exp());
    assert!((bl["deterministic_at_tau"].as_f64().expect("x") - want).abs() < 1e-12);
    let out = common::tp(&["limit", "programs/shaped_relu.tp"]);
    let text = common::stdout(&out);
    assert!(text.contains("N(log Phi^aa_0 - 1 tau, 2 tau)"), "{text}");
    assert!(
        text.contains("drho = [nu(rho) - 1/2 * rho * (1 - rho^2)] dtau + (1 - rho^2) dW"),
        "{text}"
    );
    assert!(
        text.contains("nu(rho) = 2/pi * (sqrt(1 - rho^2) - rho arccos(rho))"),
        "{text}"
    );
    // The SDE's log Φ^{11} at τ = 1 is N(−1, 2) (Φ₀ = 1): the evaluation agrees.
    let v = json(&["limit", "programs/shaped_relu.tp", "--json"]);
    let s = &v["values"]["stats"][0];
    assert_eq!(s["name"], "log Phi^11_tau");
    let (mean, se) = (
        s["mean"].as_f64().expect("m"),
        s["mean_se"].as_f64().expect("se"),
    );
    assert!((mean + 1.0).abs() < 4.0 * se, "{mean} ± {se}");
    let (var, vse) = (
        s["var"].as_f64().expect("v"),
        s["var_se"].as_f64().expect("vse"),
    );
    assert!((var - 2.0).abs() < 4.0 * vse, "{var} ± {vse}");
}

#[test]
fn symbolic_program_gives_regimes_as_conditions_and_b_in_its_symbols() {
    let v = json(&["scale", "programs/shaped_symbolic.tp", "--json"]);
    assert_eq!(v["schema"], "tp-shaped-scale/1");
    assert!(v["regime"].is_null(), "p is symbolic");
    let regimes: Vec<(String, String)> = v["regimes"]
        .as_array()
        .expect("regimes")
        .iter()
        .map(|r| {
            (
                r["regime"].as_str().unwrap_or("").into(),
                r["condition"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        regimes,
        vec![
            ("critical-sde".to_string(), "p = 1/2".to_string()),
            ("linear".to_string(), "1/2 < p".to_string()),
            ("degenerate".to_string(), "p < 1/2".to_string()),
        ]
    );
    assert_eq!(v["b"], "3 u^2/4 + v");
    // At a point: p = 3/4 is the linear regime.
    let v = json(&[
        "scale",
        "programs/shaped_symbolic.tp",
        "--json",
        "--set",
        "p=3/4",
    ]);
    assert_eq!(v["regime"], "linear");
}

fn check(args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--widths", "32,64,128", "--seeds", "200"]);
    let out = common::tp(&all);
    (
        out.status.code(),
        common::stdout(&out) + &common::stderr(&out),
    )
}

#[test]
fn check_passes_the_derivation_and_fails_the_mutations_at_small_sizes() {
    let (code, text) = check(&["programs/shaped_tanh.tp"]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = check(&["programs/shaped_tanh.tp", "--mutation", "no-normalization"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("FAIL mean of log Phi^11_tau"), "{text}");
    let (code, text) = check(&["programs/shaped_relu.tp"]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = check(&["programs/shaped_relu.tp", "--mutation", "lecture-nu-sign"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("FAIL mean of rho^12_tau"), "{text}");
    // A mutation that changes nothing is refused, not reported as a PASS.
    let (code, text) = check(&["programs/shaped_tanh.tp", "--mutation", "lecture-nu-sign"]);
    assert_eq!(code, Some(2), "{text}");
}

#[test]
fn simulate_records_the_input_gram_at_layer_zero() {
    let v = json(&[
        "simulate",
        "programs/shaped_relu.tp",
        "--json",
        "--widths",
        "32",
        "--seeds",
        "20",
    ]);
    assert_eq!(v["schema"], "tp-shaped-simulate/1");
    let records = v["records"].as_array().expect("records");
    assert_eq!(records.len(), 20);
    for r in records {
        assert_eq!(r["layers"][0], 0);
        let s: Vec<f64> = r["states"].as_array().expect("states")[..3]
            .iter()
            .map(|x| x.as_f64().expect("x"))
            .collect();
        assert_eq!(s, vec![1.0, 0.5, 1.0]);
    }
}

#[test]
fn scale_report_of_the_symbolic_program() {
    let out = common::tp(&["scale", "programs/shaped_symbolic.tp"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    insta::assert_snapshot!(common::stdout(&out));
}
