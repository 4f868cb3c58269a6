//! Which Θ(1) limits are exactly 0.
//!
//! Scale inference gives every quantity the exponent of its largest terms. When the
//! limit of those terms is exactly 0 — by symmetry, by the independence of the Ŵ and Ŵᵀ
//! families, by a Gaussian identity (Stein's lemma), or because equal limits cancel —
//! the quantity is smaller than that, and its true order is that of what is left (see
//! `scale::vanishing`). Only the deterministic tiers of the evaluator can say
//! "exactly 0": symmetry and independence zeros and closed forms are exact, quadrature
//! is trusted to [`ZERO_TOLERANCE`]; a Monte Carlo estimate never certifies a zero.

use super::evaluate::{deterministic_with_magnitudes, Number};
use super::model::{Def, LimitProgram};
use crate::ir::{Kind, ValueId};

/// A limit (or E\[Z²\]) computed without Monte Carlo is 0 when it is this small relative
/// to the size of what cancels in it (see `deterministic_with_magnitudes`): the
/// quadrature tolerances are 10^-9 relative, and a limit below this fraction of its own
/// terms would look like its remainder at every width anyone can simulate.
pub const ZERO_TOLERANCE: f64 = 1e-8;

/// Terms smaller than this are below anything a normalized (Θ(1)) quantity is made of:
/// such sizes come from constants that underflow, and certify nothing.
const MIN_SIZE: f64 = 1e-200;

/// A program value whose normalized limit is exactly 0, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct ZeroLimit {
    /// The program value.
    pub value: ValueId,
    /// The limit entry that normalizes it.
    pub entry: ValueId,
    /// Why its limit is 0 (the method that found it).
    pub why: String,
}

/// Every value of `lp` with a finite exponent, a limit definition and a limit of exactly
/// 0 by a deterministic tier, in program order.
pub fn zero_limits(lp: &LimitProgram) -> Vec<ZeroLimit> {
    let small = |n: &Number| !n.method.contains("Monte Carlo") && !n.method.starts_with("exact: ");
    let (evaluation, magnitudes) = deterministic_with_magnitudes(lp, &small);
    let mut out = Vec::new();
    for (i, entry) in lp.entries.iter().enumerate() {
        let (Some(value), Some(_)) = (entry.source_value, &entry.exponent) else {
            continue;
        };
        if entry.caveat.is_some()
            || !matches!(
                entry.def,
                Def::Expectation { .. } | Def::Scalar { .. } | Def::Vector { .. }
            )
        {
            continue;
        }
        let Some(number) = evaluation.values[i].as_ref() else {
            continue;
        };
        if let Some(why) = why_zero(number, entry.kind, magnitudes[i]) {
            out.push(ZeroLimit {
                value,
                entry: ValueId(i),
                why,
            });
        }
    }
    out
}

/// Why `number` (a scalar limit, or a vector's E[Z²]) is exactly 0, if it is; `size` is
/// the size of what cancels in it.
fn why_zero(number: &Number, kind: Kind, size: Option<f64>) -> Option<String> {
    if number.method.contains("Monte Carlo") {
        return None;
    }
    let what = match kind {
        Kind::Scalar => "its limit",
        Kind::Vector => "E[Z²]",
    };
    if let Some(reason) = number.method.strip_prefix("exact: ") {
        // Symmetry and independence zeros are proofs, not numbers.
        return (number.value == 0.0).then(|| format!("{what} is 0: it is {reason}"));
    }
    // Anything else is a number, and 0.0 may be an underflow (a limit of 10^-420): it is
    // 0 only relative to the size of its terms, which must be a representable number.
    let size = size.filter(|s| s.is_finite() && *s > MIN_SIZE)?;
    if number.value == 0.0 && number.stderr == 0.0 {
        return Some(if number.method == "arithmetic of limits" {
            "the limits of its terms cancel exactly".to_string()
        } else {
            format!("{what} is 0 by {}", number.method)
        });
    }
    let tolerance = ZERO_TOLERANCE * size;
    (number.value.abs() <= tolerance && number.stderr <= tolerance).then(|| {
        let how = if number.method == "arithmetic of limits" {
            "the limits of its terms cancel".to_string()
        } else {
            number.method.clone()
        };
        format!(
            "{what} is {:.1e} ± {:.1e} where its terms are of size {size:.1e}: 0 to the \
             precision of quadrature ({how})",
            number.value, number.stderr
        )
    })
}
