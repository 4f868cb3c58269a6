//! The power of `tp check` at the default widths: the same sweep judged against the
//! derivation PASSes, and against deliberately wrong derivations (`tp::check::mutation`)
//! FAILs — an exponent off by ±1/2, every Θ(1) limit off by 5%, Ż dropped from the
//! limit. The README's table reports these rates over 20 seed blocks
//! (`cargo run --release --example check_rates`); this test runs two blocks of two
//! programs so that CI sees a regression of either rate.

use tp::check::{check_sweep, mutation, CheckInputs, LimitValue, DEFAULT_TOLERANCE};
use tp::exponent::{Ext, Rational};
use tp::ir::Kind;
use tp::limit::EvalOptions;
use tp::scale::ScaleReport;
use tp::sim::{sweep, SweepResult, DEFAULT_WIDTHS};

mod common;

fn passes(scale: ScaleReport, result: &SweepResult, limits: &[LimitValue]) -> bool {
    let inputs = CheckInputs {
        limits: Some(limits.to_vec()),
        laws: None,
    };
    check_sweep(scale, result.clone(), &inputs, DEFAULT_TOLERANCE)
        .expect("numeric program")
        .pass()
}

fn power(name: &str, sets: &[&str], zdot_matters: bool) {
    let program = common::shipped(name, sets);
    let scale = tp::scale::analyze(&program).expect("scale");
    let opts = EvalOptions::default();
    let limits = tp::limit::limit(&program, &opts)
        .expect("limit")
        .check_values();
    assert!(!limits.is_empty(), "{name} has Θ(1) limits to check");
    let without_zdot = mutation::limits_without_zdot(&program, &limits, &opts);
    assert_eq!(
        without_zdot.is_some(),
        zdot_matters,
        "{name}: does Ż matter?"
    );
    for block in 0..2u64 {
        let seeds: Vec<u64> = (10 * block..10 * block + 10).collect();
        let result = sweep(&program, &DEFAULT_WIDTHS, &seeds, None, None).expect("sweep");
        assert!(
            passes(scale.clone(), &result, &limits),
            "{name}, seeds {seeds:?}: the derivation itself failed"
        );
        // Every vector's exponent off by ±1/2 is seen (random scalars such as f_0, a
        // Θ(n^-1/2) fluctuation measured to ±0.2, are reported in the README instead).
        for (i, q) in scale.quantities.iter().enumerate() {
            let vector = program.instr(q.id).kind == Kind::Vector;
            let finite = matches!(q.exponent.as_constant(), Some(Ext::Finite(_)));
            if !(vector && finite) {
                continue;
            }
            for sign in [1i64, -1] {
                let wrong =
                    mutation::exponent_shifted(&scale, i, Rational::new(sign.into(), 2.into()));
                assert!(
                    !passes(wrong, &result, &limits),
                    "{name}, seeds {seeds:?}: {} off by {sign}/2 passed",
                    q.name
                );
            }
        }
        assert!(
            !passes(
                scale.clone(),
                &result,
                &mutation::limits_scaled(&limits, 1.05)
            ),
            "{name}, seeds {seeds:?}: limits 5% off passed"
        );
        if let Some(wrong) = &without_zdot {
            assert!(
                !passes(scale.clone(), &result, wrong),
                "{name}, seeds {seeds:?}: limits without Ż passed"
            );
        }
    }
}

#[test]
fn wwt_derivation_passes_and_mistakes_fail() {
    // Z^h = Ẑ^{W g} + Z^z: without Ż, E[(Z^h)²] would be 1 instead of 2.
    power("tp_wwt.tp", &[], true);
}

#[test]
fn mean_field_derivation_passes_and_mistakes_fail() {
    power("mlp_mf.tp", &[], false);
}

#[test]
fn mup_derivation_passes_and_mistakes_fail() {
    // Two hidden layers: the step-1 forward pass reads Ŵ²x¹₁, whose Ż term carries the
    // step-0 backward pass through Ŵ²ᵀ.
    power("mlp_mup.tp", &["L=2"], true);
}
