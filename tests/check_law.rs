//! `tp check` judges the laws of the outputs that stay random in the limit (NTK: f_t is
//! Gaussian with the mean and covariance of kernel gradient descent): the derivation
//! PASSes, and laws derived with a wrong learning rate — the sweep still from the real
//! program — FAIL. The README's rates come from `examples/law_rates.rs`.

use tp::check::{check_sweep_with_laws, mutation, CheckInputs, CheckOptions, DEFAULT_TOLERANCE};
use tp::limit::EvalOptions;

mod common;

#[test]
fn ntk_laws_pass_and_a_wrong_learning_rate_fails() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("programs/mlp_ntk.tp");
    let program = common::shipped("mlp_ntk.tp", &[] as &[&str]);
    let opts = EvalOptions::default();
    let report = tp::limit::limit(&program, &opts).expect("limit");
    let laws = tp::limit::law::check_values(&report.laws);
    let names: Vec<&str> = laws.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["f_0", "f_1", "f_2", "f_3"], "the laws judged");
    let options = CheckOptions::default();
    let scale = tp::scale::analyze(&program).expect("scale");
    let result =
        tp::sim::sweep(&program, &options.widths, &options.seeds, None, None).expect("sweep");
    let largest = *options.widths.iter().max().expect("widths");
    let extra: Vec<u64> = (10..options.law_seeds as u64).collect();
    let more = tp::sim::sweep(&program, &[largest], &extra, None, None).expect("extra seeds");
    let judge = |laws: Vec<tp::check::LawValue>| {
        let inputs = CheckInputs {
            limits: Some(report.check_values()),
            laws: Some(laws),
        };
        check_sweep_with_laws(
            scale.clone(),
            result.clone(),
            Some(&more),
            &inputs,
            DEFAULT_TOLERANCE,
        )
        .expect("numeric program")
    };
    let right = judge(laws);
    assert_eq!(right.laws.len(), 4);
    for l in &right.laws {
        assert!(l.verdict.pass, "law of {}: {}", l.law.name, l.verdict);
        assert_eq!(l.samples[0].seeds, options.law_seeds, "{}", l.law.name);
    }
    assert!(right.pass(), "the derivation of mlp_ntk.tp fails its check");
    for eta in ["0.75", "0.25"] {
        let wrong = mutation::laws_with(&file, &[format!("eta={eta}")], &opts).expect("laws");
        let report = judge(wrong);
        assert!(
            report.laws.iter().any(|l| !l.verdict.pass) && !report.pass(),
            "laws derived with eta = {eta} (the program has 0.5) passed"
        );
    }
}
