//! Integrands as functions of their Gaussian *leaves*: the maximal linear combinations
//! of base Gaussians an integrand reads, their covariance, and fast pointwise evaluation
//! (see [`PointEval`]).

use super::derive::is_kinked;
use super::evaluate::Evaluator;
use super::model::Def;
use super::tape::{Compiler, Layout, Tape};
use crate::ir::{Expr, ValueId};
use ndarray::Array2;
use std::cell::RefCell;

/// An integrand as a function of a few jointly Gaussian *leaves*.
///
/// Every maximal linear combination of base Gaussians inside the integrand (a Gaussian
/// vector such as h = U¹ξ + v¹, or the linear part of a sum) becomes one leaf, so the
/// integral is over as many dimensions as the integrand really depends on: λ₁ of IP-LLR
/// reads five base Gaussians but only two leaves, and two-dimensional polar quadrature
/// is exact where Monte Carlo in five would leave a 1% error.
pub(super) struct PointEval {
    /// Each leaf as a linear form over base Gaussians.
    pub(super) leaves: Vec<Vec<(ValueId, f64)>>,
    /// Nonlinear vector entries to compute, in definition order, with their rewritten
    /// expressions (leaf k is `Value(base + k)`).
    order: Vec<(ValueId, Expr)>,
    /// Slot of each entry in the scratch vector (usize::MAX: not computed).
    slot: Vec<usize>,
    /// The rewritten integrand.
    target: Expr,
    /// Id of leaf 0.
    base: usize,
    /// Compiled `order` expressions and integrand (see [`super::tape`]).
    tapes: Vec<Tape>,
    target_tape: Tape,
    /// Slots and stack reused across points: leaves, then `order`, then temporaries.
    scratch: RefCell<(Vec<f64>, Vec<f64>)>,
}

impl Evaluator<'_> {
    /// Covariance of linear forms over base Gaussians (made positive semidefinite).
    pub(super) fn leaf_covariance(
        &mut self,
        leaves: &[Vec<(ValueId, f64)>],
    ) -> Result<Array2<f64>, String> {
        let k = leaves.len();
        let mut cov = Array2::<f64>::zeros((k, k));
        for i in 0..k {
            for j in 0..=i {
                let c = self.form_covariance(&leaves[i], &leaves[j])?.0;
                cov[[i, j]] = c;
                cov[[j, i]] = c;
            }
        }
        Ok(nearest_psd(&cov))
    }

    pub(super) fn point_eval(&mut self, expr: &Expr) -> PointEval {
        let mut p = PointEval {
            leaves: Vec::new(),
            order: Vec::new(),
            slot: vec![usize::MAX; self.lp.entries.len()],
            target: Expr::Const(0.0),
            base: self.lp.entries.len(),
            tapes: Vec::new(),
            target_tape: Tape::default(),
            scratch: RefCell::new((Vec::new(), Vec::new())),
        };
        let mut visited = vec![false; self.lp.entries.len()];
        p.target = self.rewrite(expr, &mut p, &mut visited);
        p.order.sort_by_key(|(v, _)| *v);
        let leaves = p.leaves.len();
        for (k, (v, _)) in p.order.iter().enumerate() {
            p.slot[v.0] = leaves + k;
        }
        let (tapes, target_tape, slots) = {
            let base = p.base;
            let slot_of = &p.slot;
            let slot = |id: ValueId| {
                if id.0 >= base {
                    Some(id.0 - base)
                } else if self.is_random(id) {
                    slot_of.get(id.0).copied().filter(|s| *s != usize::MAX)
                } else {
                    None
                }
            };
            let scalar = |id: ValueId| self.scalar(id);
            let mut c = Compiler::new(
                Layout {
                    slot: &slot,
                    scalar: &scalar,
                    acts: &self.lp.program.activations,
                },
                leaves + p.order.len(),
            );
            let tapes: Vec<Tape> = p.order.iter().map(|(_, e)| c.compile(e)).collect();
            let target = c.compile(&p.target);
            (tapes, target, c.slots())
        };
        p.tapes = tapes;
        p.target_tape = target_tape;
        p.scratch = RefCell::new((vec![0.0; slots], Vec::with_capacity(64)));
        p
    }

    fn leaf(&self, p: &mut PointEval, form: Vec<(ValueId, f64)>) -> Expr {
        let form: Vec<(ValueId, f64)> = form.into_iter().filter(|(_, c)| *c != 0.0).collect();
        if form.is_empty() {
            return Expr::Const(0.0);
        }
        let k = match p.leaves.iter().position(|l| *l == form) {
            Some(k) => k,
            None => {
                p.leaves.push(form);
                p.leaves.len() - 1
            }
        };
        Expr::Value(ValueId(p.base + k))
    }

    /// `expr` with its maximal linear parts replaced by leaves; the nonlinear vectors
    /// it reads are rewritten too and queued in `p.order`.
    fn rewrite(&mut self, expr: &Expr, p: &mut PointEval, visited: &mut [bool]) -> Expr {
        let has_random = expr.values().iter().any(|v| self.is_random(*v));
        if !has_random {
            return expr.clone();
        }
        if let Some(form) = self.linear_expr(expr) {
            return self.leaf(p, form);
        }
        match expr {
            Expr::Value(v) => {
                if !visited[v.0] {
                    visited[v.0] = true;
                    if let Def::Vector { expr: def } = self.lp.entries[v.0].def.clone() {
                        let r = self.rewrite(&def, p, visited);
                        p.order.push((*v, r));
                    }
                }
                expr.clone()
            }
            Expr::Add(items) => {
                let mut form: Vec<(ValueId, f64)> = Vec::new();
                let mut rest = Vec::new();
                for item in items {
                    match self.linear_expr(item) {
                        Some(f) => {
                            for (a, c) in f {
                                match form.iter_mut().find(|(b, _)| *b == a) {
                                    Some(slot) => slot.1 += c,
                                    None => form.push((a, c)),
                                }
                            }
                        }
                        None => rest.push(self.rewrite(item, p, visited)),
                    }
                }
                rest.push(self.leaf(p, form));
                Expr::sum(rest)
            }
            Expr::Mul(items) => {
                Expr::product(items.iter().map(|i| self.rewrite(i, p, visited)).collect())
            }
            Expr::Neg(a) => Expr::neg(self.rewrite(a, p, visited)),
            Expr::Div(a, b) => {
                let a = self.rewrite(a, p, visited);
                Expr::div(a, self.rewrite(b, p, visited))
            }
            Expr::Pow(a, q) => Expr::pow(self.rewrite(a, p, visited), q.clone()),
            Expr::Call(f, a) => Expr::call(*f, self.rewrite(a, p, visited)),
            Expr::Act { act, order, arg } => Expr::act(*act, *order, self.rewrite(arg, p, visited)),
            Expr::Const(_) | Expr::Arg | Expr::Width(_) => expr.clone(),
        }
    }

    pub(super) fn point_value(&self, p: &PointEval, g: &[f64]) -> f64 {
        let mut guard = p.scratch.borrow_mut();
        let (slots, stack) = &mut *guard;
        let leaves = p.leaves.len();
        slots[..leaves].copy_from_slice(&g[..leaves]);
        for (k, tape) in p.tapes.iter().enumerate() {
            let v = tape.run(slots, stack);
            slots[leaves + k] = v;
        }
        p.target_tape.run(slots, stack)
    }

    /// Whether the integrand or a vector it reads has a kink or a jump.
    pub(super) fn kinked(&self, p: &PointEval) -> bool {
        let acts = &self.lp.program.activations;
        let mut kink = false;
        let mut check = |e: &Expr| {
            e.walk(&mut |node| match node {
                Expr::Call(f, _) if is_kinked(*f) => kink = true,
                Expr::Act { act, order, .. } => {
                    if let Some(a) = acts.get(act.0) {
                        let body = a.derivatives.get(*order).unwrap_or(a.body());
                        body.walk(&mut |b| {
                            if matches!(b, Expr::Call(f, _) if is_kinked(*f)) {
                                kink = true;
                            }
                        });
                    }
                }
                _ => {}
            })
        };
        check(&p.target);
        for (_, expr) in &p.order {
            check(expr);
        }
        kink
    }
}

/// The covariance with negative directions removed: a Cholesky factorization that
/// clamps negative remaining variances to zero, multiplied back. Entries estimated
/// separately (by quadrature or Monte Carlo) can make a nearly singular covariance —
/// the Gram matrix of x_1, x_2, x_3 when these are almost collinear — slightly
/// indefinite; the clamp moves it by about the estimation error, no more.
fn nearest_psd(cov: &Array2<f64>) -> Array2<f64> {
    let k = cov.nrows();
    let mut l = Array2::<f64>::zeros((k, k));
    for j in 0..k {
        let mut d = cov[[j, j]];
        for m in 0..j {
            d -= l[[j, m]] * l[[j, m]];
        }
        let ljj = if d > 1e-12 * cov[[j, j]].abs().max(1e-300) {
            d.sqrt()
        } else {
            0.0
        };
        l[[j, j]] = ljj;
        for i in (j + 1)..k {
            let mut v = cov[[i, j]];
            for m in 0..j {
                v -= l[[i, m]] * l[[j, m]];
            }
            l[[i, j]] = if ljj > 0.0 { v / ljj } else { 0.0 };
        }
    }
    l.dot(&l.t())
}
