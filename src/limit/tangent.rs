//! The first-order (tangent) program of a program with respect to its random
//! multipliers.
//!
//! In the kernel regime the output at initialization is a Θ(1) Gaussian, so the loss
//! derivatives χ_s that multiply every SGD update are random in the limit and the
//! master theorem, which needs deterministic scalars, says nothing about what they
//! multiply. The way out is to treat those random scalars as free parameters c_k: with
//! every c_k = 0 the updates vanish and each step repeats step 0 exactly, and
//!
//!   v(c) = v(0) + Σ_k c_k ∂v/∂c_k + (second order),
//!
//! where ∂v/∂c_k is computed by forward-mode differentiation of the program: the
//! tangent of `Ŵx` is `Ŵ(∂x)` (the same matrix, so in the limit its Ẑ joins the
//! family of Ŵ and carries the Ż terms of the Tensor Program rules), that of a
//! coordinatewise map is the chain rule through [`Expr::diff`], that of a mean is the
//! mean of the tangent. The tangents are ordinary instructions over the same matrices
//! and sources, so the whole augmented program goes through scale inference, the limit
//! derivation and the evaluator unchanged, and every ∂v/∂c_k gets its own exponent and
//! deterministic limit (or is marked random or undetermined when it has none).

use crate::ir::{Expr, Instr, Kind, Meta, Op, Program, Role, SourceId, ValueId, Var};
use std::collections::BTreeSet;

/// A program extended by the tangents of some of its values.
#[derive(Clone, Debug)]
pub struct TangentProgram {
    /// The original instructions (same ids), then the tangent instructions and any
    /// extra instructions appended with [`TangentProgram::push_moment`].
    pub program: Program,
    /// The multipliers c_k, in program order.
    pub multipliers: Vec<ValueId>,
    /// `tangent[k][v]`: the value ∂v/∂c_k in `program`, for the values asked for and
    /// the values they read; `None` when it is exactly 0 or was not needed. A multiplier's
    /// own tangent is not stored (it is 1 for itself and 0 for the others).
    pub tangent: Vec<Vec<Option<ValueId>>>,
}

/// Why no tangent program could be built.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TangentError {
    /// An expression cannot be differentiated (an activation without the derivative).
    #[error("`{name}` cannot be differentiated: {reason}")]
    NotDifferentiable {
        /// The instruction.
        name: String,
        /// Why.
        reason: String,
    },
}

/// `expr` with every multiplier replaced by 0, folded: the expression as it is
/// computed when every update vanishes.
pub fn at_zero(expr: &Expr, multipliers: &BTreeSet<ValueId>) -> Expr {
    match expr {
        Expr::Value(v) if multipliers.contains(v) => Expr::Const(0.0),
        Expr::Const(_) | Expr::Arg | Expr::Width(_) | Expr::Value(_) => expr.clone(),
        Expr::Add(items) => Expr::sum(items.iter().map(|e| at_zero(e, multipliers)).collect()),
        Expr::Mul(items) => Expr::product(items.iter().map(|e| at_zero(e, multipliers)).collect()),
        Expr::Neg(a) => Expr::neg(at_zero(a, multipliers)),
        Expr::Div(a, b) => Expr::div(at_zero(a, multipliers), at_zero(b, multipliers)),
        Expr::Pow(a, q) => Expr::pow(at_zero(a, multipliers), q.clone()),
        Expr::Call(f, a) => Expr::call(*f, at_zero(a, multipliers)),
        Expr::Act { act, order, arg } => Expr::act(*act, *order, at_zero(arg, multipliers)),
    }
}

/// For every value, the sources it reads when every multiplier is 0 (transitively):
/// a value that does not read a source there is independent of it at every width.
pub fn sources_at_zero(
    program: &Program,
    multipliers: &BTreeSet<ValueId>,
) -> Vec<BTreeSet<SourceId>> {
    let mut reads: Vec<BTreeSet<SourceId>> = Vec::with_capacity(program.instrs.len());
    for (i, instr) in program.instrs.iter().enumerate() {
        let mut set = BTreeSet::new();
        if !multipliers.contains(&ValueId(i)) {
            match &instr.op {
                Op::Init { terms, .. } => set.extend(terms.iter().map(|(s, _)| *s)),
                Op::MatMul { arg, .. } => {
                    if let Some(r) = reads.get(arg.0) {
                        set.extend(r.iter().copied());
                    }
                }
                Op::Map { expr } | Op::Moment { expr } | Op::Scalar { expr } => {
                    for v in at_zero(expr, multipliers).values() {
                        if let Some(r) = reads.get(v.0) {
                            set.extend(r.iter().copied());
                        }
                    }
                }
            }
        }
        reads.push(set);
    }
    reads
}

/// The values each value reads directly (operands), in the original program.
fn operands(instr: &Instr) -> Vec<ValueId> {
    match &instr.op {
        Op::Init { .. } => Vec::new(),
        Op::MatMul { arg, .. } => vec![*arg],
        Op::Map { expr } | Op::Moment { expr } | Op::Scalar { expr } => expr.values(),
    }
}

impl TangentProgram {
    /// The tangents ∂v/∂c_k of every value in `targets` (and of the values they read)
    /// with respect to every multiplier, appended to `program`.
    ///
    /// Multipliers are cut: the tangent of χ_j with respect to c_k is δ_jk whatever χ_j
    /// is computed from, because the expansion treats every multiplier as a free
    /// parameter (the dependence of χ_j on earlier multipliers is taken into account by
    /// the caller, through the law of χ_j).
    pub fn build(
        program: &Program,
        multipliers: &[ValueId],
        targets: &[ValueId],
    ) -> Result<TangentProgram, TangentError> {
        let n = program.instrs.len();
        let is_multiplier: BTreeSet<ValueId> = multipliers.iter().copied().collect();
        // Values that read a multiplier (transitively, through non-multipliers).
        let mut moves = vec![false; n];
        for (i, instr) in program.instrs.iter().enumerate() {
            moves[i] = operands(instr)
                .iter()
                .any(|v| is_multiplier.contains(v) || (moves[v.0] && !is_multiplier.contains(v)));
        }
        // Values whose tangent is needed: the targets and, recursively, what they read.
        let mut needed = vec![false; n];
        for t in targets {
            if t.0 < n {
                needed[t.0] = true;
            }
        }
        for i in (0..n).rev() {
            if !needed[i] || is_multiplier.contains(&ValueId(i)) {
                continue;
            }
            for v in operands(&program.instrs[i]) {
                if v.0 < n {
                    needed[v.0] = true;
                }
            }
        }
        let mut out = program.clone();
        let mut tangent = vec![vec![None; n]; multipliers.len()];
        for (k, &m) in multipliers.iter().enumerate() {
            let mname = program.instr(m).name.clone();
            for i in 0..n {
                let id = ValueId(i);
                if !needed[i] || !moves[i] || is_multiplier.contains(&id) {
                    continue;
                }
                let instr = program.instr(id).clone();
                // The tangent of an operand as an expression: 1 for c_k itself.
                let of = |v: ValueId, table: &[Option<ValueId>]| -> Option<Expr> {
                    if v == m {
                        Some(Expr::Const(1.0))
                    } else if is_multiplier.contains(&v) {
                        None
                    } else {
                        table[v.0].map(Expr::Value)
                    }
                };
                let op = match &instr.op {
                    Op::Init { .. } => None,
                    Op::MatMul {
                        matrix,
                        transpose,
                        arg,
                    } => tangent[k][arg.0].map(|t| Op::MatMul {
                        matrix: *matrix,
                        transpose: *transpose,
                        arg: t,
                    }),
                    Op::Map { expr } | Op::Moment { expr } | Op::Scalar { expr } => {
                        let mut parts = Vec::new();
                        for v in expr.values() {
                            let Some(t) = of(v, &tangent[k]) else {
                                continue;
                            };
                            let d = expr.diff(Var::Value(v)).map_err(|e| {
                                TangentError::NotDifferentiable {
                                    name: instr.name.clone(),
                                    reason: e.to_string(),
                                }
                            })?;
                            parts.push(Expr::mul(d, t));
                        }
                        let d = Expr::sum(parts);
                        if d.is_zero() {
                            None
                        } else {
                            Some(match &instr.op {
                                Op::Map { .. } => Op::Map { expr: d },
                                Op::Moment { .. } => Op::Moment { expr: d },
                                _ => Op::Scalar { expr: d },
                            })
                        }
                    }
                };
                if let Some(op) = op {
                    let t = out.push(Instr {
                        name: format!("∂{}/∂{}", instr.name, mname),
                        kind: instr.kind,
                        scale: instr.scale.clone(),
                        op,
                        meta: Meta {
                            family: None,
                            input: instr.meta.input.clone(),
                            step: instr.meta.step,
                            layer: instr.meta.layer,
                            role: Role::Auxiliary,
                        },
                    });
                    tangent[k][i] = Some(t);
                }
            }
        }
        Ok(TangentProgram {
            program: out,
            multipliers: multipliers.to_vec(),
            tangent,
        })
    }

    /// Appends the scalar `mean(a * b)` (a covariance probe) and returns its id.
    pub fn push_moment(&mut self, a: ValueId, b: ValueId) -> ValueId {
        let name = format!(
            "E[{}·{}]",
            self.program.instr(a).name,
            self.program.instr(b).name
        );
        self.program.push(Instr {
            name,
            kind: Kind::Scalar,
            scale: crate::ir::Scale::one(),
            op: Op::Moment {
                expr: Expr::mul(Expr::Value(a), Expr::Value(b)),
            },
            meta: Meta {
                role: Role::Auxiliary,
                ..Meta::user()
            },
        })
    }
}
