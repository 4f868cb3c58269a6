//! The true order of a quantity whose leading Θ part has a limit of exactly 0.
//!
//! The abstract interpretation of [`super::infer`] gives a quantity the exponent e of its
//! largest terms. That is its order unless the normalized limit of those terms is
//! exactly 0: `mean(Ŵz · Ŵᵀz)` (the Ŵ and Ŵᵀ families are independent in the limit),
//! `mean(Ŵz · Ŵz) − mean(z·z)` (equal limits cancel), `mean(z·φ(z)) − mean(φ'(z))`
//! (Stein's lemma). Then the quantity is as large as what the leading term leaves out
//! (the limit stage derives it: [`crate::limit::model::Remainder`]): the central-limit
//! fluctuation n^{e−1/2} of the terms, or lower-order terms of the expression when they
//! are larger, or nothing at all when the cancellation is exact at every width.
//!
//! The rule is applied to a fixed point: scale → limit derivation → deterministic
//! evaluation → the earliest vanishing limits get their new order → scale again (every
//! quantity computed from them follows) → … until no Θ limit is found to vanish. Each
//! round only takes the vanishing quantities that do not depend on another one found in
//! the same round, whose new order could change theirs.

use super::ex::{self, Exp};
use super::infer::Inference;
use crate::exponent::{format_rational, Rational};
use crate::ir::{Op, Program, ValueId};
use std::collections::BTreeMap;

/// What is left of a quantity whose leading part has a vanishing limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Left {
    /// Nothing: the quantity is exactly 0 at every width.
    Nothing,
    /// A finite-width fluctuation (random in the limit).
    Fluctuation,
    /// Lower-order terms of the expression, with a limit of their own.
    Terms,
}

/// A quantity whose leading Θ(n^leading) part has a limit of exactly 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Vanishing {
    /// The exponent its terms give.
    pub leading: Rational,
    /// Its true order (`None`: exactly 0 at every width).
    pub order: Option<Rational>,
    /// Why the leading part's limit is 0.
    pub why: String,
    /// What is left.
    pub left: Left,
}

impl Vanishing {
    /// One line for `--trace`.
    pub fn explain(&self) -> String {
        let lead = format_rational(&self.leading);
        match (&self.order, self.left) {
            (None, _) | (_, Left::Nothing) => format!(
                "its terms are n^{lead}, but their limit is exactly 0 ({}) and nothing is left \
                 at finite width",
                self.why
            ),
            (Some(o), Left::Fluctuation) => format!(
                "its terms are n^{lead}, but their limit is exactly 0 ({}); what is left is \
                 their central-limit fluctuation, n^{}",
                self.why,
                format_rational(o)
            ),
            (Some(o), Left::Terms) => format!(
                "its terms are n^{lead}, but their limit is exactly 0 ({}); what is left is \
                 its terms of order n^{}",
                self.why,
                format_rational(o)
            ),
        }
    }
}

/// The most rounds of the fixed point: each round settles at least one value.
fn round_limit(program: &Program) -> usize {
    program.instrs.len() + 1
}

/// Scale inference of a numeric program with every vanishing leading limit refined.
pub fn refine(program: &Program) -> Inference<'_> {
    let mut found: BTreeMap<ValueId, Vanishing> = BTreeMap::new();
    for _ in 0..round_limit(program) {
        let mut inf = Inference::with_overrides(program, overrides(&found));
        inf.set_vanishing(found.clone());
        let Ok(lp) = crate::limit::derive(program, &inf) else {
            return inf;
        };
        let zeros: Vec<_> = crate::limit::vanishing::zero_limits(&lp)
            .into_iter()
            .filter(|z| !found.contains_key(&z.value))
            .collect();
        if zeros.is_empty() {
            return inf;
        }
        let fresh: Vec<ValueId> = zeros.iter().map(|z| z.value).collect();
        let tainted = dependents(program, &fresh);
        for z in zeros {
            if reads_any(program, z.value, &tainted) {
                continue;
            }
            let entry = lp.entry(z.entry);
            let Some(leading) = entry.exponent.clone() else {
                continue;
            };
            let rest = &entry.remainder;
            let order = rest.order();
            let left = match (&rest.fluctuation, &rest.dropped) {
                _ if order.is_none() => Left::Nothing,
                (Some(f), Some(d)) if d > f => Left::Terms,
                (None, Some(_)) => Left::Terms,
                _ => Left::Fluctuation,
            };
            found.insert(
                z.value,
                Vanishing {
                    leading,
                    order,
                    why: z.why,
                    left,
                },
            );
        }
    }
    let mut inf = Inference::with_overrides(program, overrides(&found));
    inf.set_vanishing(found);
    inf
}

fn overrides(found: &BTreeMap<ValueId, Vanishing>) -> BTreeMap<ValueId, Exp> {
    found
        .iter()
        .map(|(id, v)| {
            let e = v.order.clone().map_or_else(ex::neg_inf, ex::constant);
            (*id, e)
        })
        .collect()
}

/// For every value, whether it is one of `roots` or reads one, directly or not.
fn dependents(program: &Program, roots: &[ValueId]) -> Vec<bool> {
    let mut tainted = vec![false; program.instrs.len()];
    for id in program.ids() {
        tainted[id.0] = roots.contains(&id) || reads(program, id).iter().any(|v| tainted[v.0]);
    }
    tainted
}

/// Whether `id` reads (directly) a value marked in `tainted`.
fn reads_any(program: &Program, id: ValueId, tainted: &[bool]) -> bool {
    reads(program, id).iter().any(|v| tainted[v.0])
}

/// The values an instruction reads.
fn reads(program: &Program, id: ValueId) -> Vec<ValueId> {
    match &program.instr(id).op {
        Op::Init { .. } => Vec::new(),
        Op::MatMul { arg, .. } => vec![*arg],
        Op::Map { expr } | Op::Moment { expr } | Op::Scalar { expr } => expr.values(),
    }
}
