//! Structural identity of values: which instructions compute exactly the same number.
//!
//! Two instructions with the same kind, the same width factor and the same operation on
//! identical operands produce the same bits at every width and seed: the simulator
//! executes them with the same code on the same data. Knowing this lets the exponent
//! engine see `mean(z*z) - mean(z*z)` as exactly zero (elaboration creates one Moment per
//! occurrence) instead of as a difference of two Θ(1) quantities, and lets the limit
//! derivation read both occurrences as one limit entry, so that their leading terms
//! cancel and the next order is what is left.

use super::expr::Expr;
use super::program::{Op, Program, ValueId};
use std::collections::HashMap;

/// For every value, the first value that is identical to it (itself when none is).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    canon: Vec<ValueId>,
}

impl Identity {
    /// Numbers the values of `program`: each instruction, with its operands replaced by
    /// their representatives, is looked up among the earlier ones.
    pub fn of(program: &Program) -> Identity {
        let mut canon: Vec<ValueId> = Vec::with_capacity(program.instrs.len());
        let mut seen: HashMap<String, ValueId> = HashMap::new();
        for (i, instr) in program.instrs.iter().enumerate() {
            let rep = |v: ValueId| canon.get(v.0).copied().unwrap_or(v);
            let op = match &instr.op {
                Op::MatMul {
                    matrix,
                    transpose,
                    arg,
                } => Op::MatMul {
                    matrix: *matrix,
                    transpose: *transpose,
                    arg: rep(*arg),
                },
                Op::Map { expr } => Op::Map {
                    expr: expr.map_values(&rep),
                },
                Op::Moment { expr } => Op::Moment {
                    expr: expr.map_values(&rep),
                },
                Op::Scalar { expr } => Op::Scalar {
                    expr: expr.map_values(&rep),
                },
                init @ Op::Init { .. } => init.clone(),
            };
            // The Debug text is an exact key: floats print with round-trip precision.
            let key = format!(
                "{:?}|{:?}|{}|{:?}",
                instr.kind, instr.scale.coef, instr.scale.exponent, op
            );
            let id = *seen.entry(key).or_insert(ValueId(i));
            canon.push(id);
        }
        Identity { canon }
    }

    /// The representative of `id`: the first value identical to it.
    pub fn canon(&self, id: ValueId) -> ValueId {
        self.canon.get(id.0).copied().unwrap_or(id)
    }

    /// `expr` with every value replaced by its representative.
    pub fn canonical_expr(&self, expr: &Expr) -> Expr {
        expr.map_values(&|v| self.canon(v))
    }
}
