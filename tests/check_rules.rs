//! The rules of `tp check` that decide honest verdicts (issue: correct derivations
//! failed at the default widths, and a non-integrable activation passed).

use tp::check::{run_check, CheckInputs, CheckOptions, CheckReport, Measure};
use tp::limit::EvalOptions;

mod common;

/// `tp check` of a shipped program at the default settings, with its limits.
fn checked(name: &str) -> CheckReport {
    let program = common::shipped(name, &[] as &[&str]);
    let limits = tp::limit::limit(&program, &EvalOptions::default())
        .expect("limit")
        .check_values();
    run_check(
        &program,
        &CheckOptions::default(),
        &CheckInputs {
            limits: Some(limits),
            laws: None,
        },
        None,
    )
    .expect("check")
}

/// Naive-IP's loss derivative χ_t = f_t − 1 with f_t = Θ(n^{-1}): at n = 4096 its seed
/// mean is 10 standard errors from −1 (a deterministic 1/n bias, hardly any seed noise),
/// which a comparison at the largest width calls a wrong limit. Extrapolated with the
/// derived n^{-1} correction, it is −1.
#[test]
fn a_derived_bias_is_extrapolated_away() {
    let report = checked("mlp_ip.tp");
    assert!(
        report.pass(),
        "{}",
        tp::report::render_check("mlp_ip", &report)
    );
    let chi2 = report
        .limits
        .iter()
        .flatten()
        .find(|l| l.limit.name == "chi_2")
        .expect("chi_2 is checked");
    let last = chi2.errors.last().expect("errors");
    let se = last.mean_stderr.expect("se");
    assert!(
        last.mean_deviation.abs() > 4.0 * se,
        "the bias at n = {} is visible: {} ± {se}",
        last.width,
        last.mean_deviation
    );
    let e = chi2.extrapolated.as_ref().expect("extrapolated");
    assert_eq!(e.orders, vec![-1.0]);
    assert!((e.value + 1.0).abs() < 3.0 * e.stderr, "{e:?}");
}

/// A Θ(1) scalar with a nonzero limit is judged by its convergence to it, not by the
/// slope of its size (which n^{-1/2} seed noise bends when the limit is small).
#[test]
fn theta_one_scalars_are_judged_by_their_limits() {
    let report = checked("mlp_mf.tp");
    for name in ["f_1", "chi_0", "chi_1"] {
        let size = report
            .by_limit
            .iter()
            .find(|b| b.name == name && b.measure == Measure::Size);
        assert!(size.is_some(), "{name} is judged by its limit");
        assert!(
            !report
                .verdicts
                .iter()
                .any(|v| v.name == name && v.measure == Measure::Size),
            "{name} has no slope verdict"
        );
    }
    // Its change since step 0 too, against L_1 − L_0 (f_0 vanishes: L_0 = 0).
    assert!(report
        .limits
        .iter()
        .flatten()
        .any(|l| l.limit.name == "Δf_1" && l.verdict.pass));
    assert!(report.pass());
}

/// `activation act(x) = 1/x`: E[1/z²] is infinite. Its Monte Carlo estimate is not a
/// value ("undetermined"), nothing is checked against it, and the check fails.
#[test]
fn a_non_integrable_activation_is_undetermined_and_fails() {
    let text = "\
width n
activation act(x) = 1/x
vector z ~ gaussian(1)
scalar m = mean(act(z) * act(z))
";
    let program = tp::compile("inverse.tp", text, &[]).expect("compiles");
    let report = tp::limit::limit(&program, &EvalOptions::default()).expect("limit");
    let m = report.scalar("m").expect("m");
    assert!(
        m.value.is_none() && m.method.starts_with("undetermined"),
        "{}",
        m.method
    );
    assert!(report.check_values().is_empty());
    let path = common::temp_path("rules", "inverse.tp");
    std::fs::write(&path, text).expect("write");
    let out = common::tp(&["check", &path.to_string_lossy(), "--quiet"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stdout(&out));
}
