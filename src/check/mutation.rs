//! Deliberately wrong derivations, for measuring the power of `tp check`.
//!
//! A check that passes everything is worthless; its power is measured by judging the
//! same finite-width sweep against derivations with one known mistake, each of which
//! must FAIL: an exponent off by ±1/2, every Θ(1) limit off by 5%, the limits re-derived
//! without the Ż terms of the Tensor Program rules (the gradient-independence mistake),
//! the laws of random limits derived with a wrong learning rate.
//! `examples/check_rates.rs` and `tests/check_power.rs` use them.

use super::limit::LimitValue;
use crate::exponent::{Exp, Rational};
use crate::ir::{Expr, Op, Program};
use crate::limit::{Def, EvalOptions};
use crate::scale::ScaleReport;

/// `scale` with the size exponent of quantity `index` shifted by `shift`.
pub fn exponent_shifted(scale: &ScaleReport, index: usize, shift: Rational) -> ScaleReport {
    let mut wrong = scale.clone();
    if let Some(q) = wrong.quantities.get_mut(index) {
        q.exponent = Exp::add(q.exponent.clone(), Exp::constant(shift));
    }
    wrong
}

/// Every limit multiplied by `factor`.
pub fn limits_scaled(limits: &[LimitValue], factor: f64) -> Vec<LimitValue> {
    limits
        .iter()
        .map(|l| LimitValue {
            value: l.value * factor,
            ..l.clone()
        })
        .collect()
}

/// The Θ(1) limits of `program` re-derived with every Ż term dropped (Ŵx = Ẑ^{Ŵx}
/// only), when that changes some limit of `limits` by more than 5 combined errors;
/// `None` when Ż does not matter for this program's limits (then it is no mistake).
pub fn limits_without_zdot(
    program: &Program,
    limits: &[LimitValue],
    opts: &EvalOptions,
) -> Option<Vec<LimitValue>> {
    let inference = crate::scale::refine(program);
    let mut lp = crate::limit::derive(program, &inference).ok()?;
    let atoms: Vec<bool> = lp
        .entries
        .iter()
        .map(|e| matches!(e.def, Def::Atom { .. }))
        .collect();
    for entry in &mut lp.entries {
        let is_matmul = entry
            .source_value
            .is_some_and(|v| matches!(program.instr(v).op, Op::MatMul { .. }));
        if let (true, Def::Vector { expr }) = (is_matmul, &mut entry.def) {
            // Ŵx = c·(Ẑ + Σ κ Z^y): keep the base Gaussian only.
            let (c, rest) = expr.clone().split_constant();
            let terms = match rest {
                Expr::Add(items) => items,
                other => vec![other],
            };
            if let Some(atom) = terms
                .iter()
                .find(|t| matches!(t, Expr::Value(v) if atoms[v.0]))
            {
                *expr = Expr::mul(Expr::Const(c), atom.clone());
            }
        }
    }
    let evaluation = crate::limit::evaluate(&lp, opts);
    let wrong = crate::limit::report::build(lp, &evaluation).check_values();
    let changed = wrong.iter().any(|w| {
        limits.iter().any(|l| {
            l.name == w.name && (l.value - w.value).abs() > 5.0 * l.stderr.hypot(w.stderr).max(1e-9)
        })
    });
    changed.then_some(wrong)
}

/// The laws `tp check` judges, derived for `program` with every parameter of
/// `overrides` changed — e.g. the learning rate (`eta=0.75` for a program with
/// `eta = 0.5`): judged against the sweep of the unchanged program, they are the
/// derivation with a wrong learning rate, which must FAIL.
pub fn laws_with(
    file: &std::path::Path,
    overrides: &[String],
    opts: &EvalOptions,
) -> Result<Vec<super::LawValue>, crate::TpError> {
    let overrides = crate::parse_overrides(overrides)?;
    let wrong = crate::load(file, &overrides)?;
    let report = crate::limit::limit(&wrong, opts)?;
    Ok(crate::limit::law::check_values(&report.laws))
}
