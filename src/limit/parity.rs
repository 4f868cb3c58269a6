//! Exact zeros by symmetry.
//!
//! Flipping the sign of every base Gaussian of one *symmetry group* preserves their joint
//! law: the families are independent and centered. A group is one matrix family
//! ({Ẑ^{Ŵx}} or {Ẑ^{Ŵᵀy}}), or a set of source vectors that appear together in some
//! initial vector (flipping only part of U¹ would mix U¹ξ_a with nothing sensible). If
//! a Z is odd under the flip of some group, E\[Z\] = 0 exactly; the derivative ∂Z/∂Ẑ of a
//! base Gaussian Ẑ is odd wherever Z is odd except in Ẑ's own group, where the parity
//! turns over. This is what makes the Ż coefficients that vanish (E of an odd function,
//! like the gradient-independence cases) exactly 0 instead of 0 ± a Monte Carlo error.

use crate::ir::{Expr, Program, ValueId};
use crate::scale::{FactTable, Symmetry};

/// Behaviour of a function of the base Gaussians under the flip of one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parity {
    /// Unchanged (also: does not depend on the group).
    Even,
    /// Changes sign.
    Odd,
    /// Neither, or unknown.
    Mixed,
}

impl Parity {
    /// Parity of a product of two factors.
    pub fn times(self, other: Parity) -> Parity {
        match (self, other) {
            (Parity::Mixed, _) | (_, Parity::Mixed) => Parity::Mixed,
            (a, b) if a == b => Parity::Even,
            _ => Parity::Odd,
        }
    }

    /// Parity of a sum of two terms.
    pub fn plus(self, other: Parity) -> Parity {
        if self == other {
            self
        } else {
            Parity::Mixed
        }
    }

    /// Parity of φ(x) for x of parity `self`.
    pub fn through(self, symmetry: Symmetry) -> Parity {
        match (self, symmetry) {
            (Parity::Even, _) => Parity::Even,
            (Parity::Odd, Symmetry::Odd) => Parity::Odd,
            (Parity::Odd, Symmetry::Even) => Parity::Even,
            _ => Parity::Mixed,
        }
    }
}

/// Parity of `expr` in one group, given the parity of each entry it reads.
pub fn of_expr(expr: &Expr, entry: &dyn Fn(ValueId) -> Parity, facts: &mut FactTable) -> Parity {
    match expr {
        Expr::Const(_) | Expr::Width(_) | Expr::Arg => Parity::Even,
        Expr::Value(id) => entry(*id),
        Expr::Add(items) => {
            // Constants are even; a sum of odd terms plus a nonzero constant is mixed.
            let mut p: Option<Parity> = None;
            for item in items {
                let q = of_expr(item, entry, facts);
                p = Some(match p {
                    None => q,
                    Some(p) => p.plus(q),
                });
            }
            p.unwrap_or(Parity::Even)
        }
        Expr::Mul(items) => items
            .iter()
            .fold(Parity::Even, |p, item| p.times(of_expr(item, entry, facts))),
        Expr::Neg(a) => of_expr(a, entry, facts),
        Expr::Div(a, b) => of_expr(a, entry, facts).times(of_expr(b, entry, facts)),
        Expr::Pow(a, q) => {
            let p = of_expr(a, entry, facts);
            if p == Parity::Odd && q.is_integer() {
                if q.to_integer() % 2 == 0.into() {
                    Parity::Even
                } else {
                    Parity::Odd
                }
            } else if p == Parity::Even {
                Parity::Even
            } else {
                Parity::Mixed
            }
        }
        Expr::Call(f, a) => {
            let p = of_expr(a, entry, facts);
            p.through(facts.function(*f).symmetry)
        }
        Expr::Act { act, order, arg } => {
            let p = of_expr(arg, entry, facts);
            match facts.activation(act.0, *order) {
                Some(f) => p.through(f.symmetry),
                None => p.through(Symmetry::None),
            }
        }
    }
}

/// Union–find over the sources that share an initial vector: the symmetry groups of
/// sources. Returns the group index of every source.
pub fn source_groups(program: &Program) -> Vec<usize> {
    let n = program.sources.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for instr in &program.instrs {
        if let crate::ir::Op::Init { terms, .. } = &instr.op {
            if let Some((first, _)) = terms.first() {
                for (other, _) in terms.iter().skip(1) {
                    let a = find(&mut parent, first.0);
                    let b = find(&mut parent, other.0);
                    if a != b {
                        parent[b] = a;
                    }
                }
            }
        }
    }
    let mut roots: Vec<usize> = Vec::new();
    (0..n)
        .map(|i| {
            let r = find(&mut parent, i);
            match roots.iter().position(|x| *x == r) {
                Some(k) => k,
                None => {
                    roots.push(r);
                    roots.len() - 1
                }
            }
        })
        .collect()
}
