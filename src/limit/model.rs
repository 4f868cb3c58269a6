//! The limit program: one entry per normalized quantity, base Gaussian and Ż
//! coefficient, in definition order.
//!
//! Entries are numbered afresh ([`ValueId`] indexes [`LimitProgram::entries`]), because
//! normalization creates values the IR does not have: the base Gaussians Ẑ^{Ŵx} and the
//! coefficients E[∂Z^x/∂Ẑ^{Ŵᵀy}] of the Ż terms. Every [`Expr::Value`] inside an entry
//! refers to an earlier entry, so the entries are already in evaluation order.

use crate::exponent::{format_rational, Rational};
use crate::ir::{Expr, Kind, MatrixId, Meta, Program, SourceId, ValueId};

/// Where a base Gaussian comes from; base Gaussians of different families are
/// independent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// One i.i.d. N(0, 1) source vector (sources are independent of each other).
    Source(SourceId),
    /// The family {Ẑ^{Ŵx}} of one matrix, or of its transpose (a different family).
    Matrix {
        /// The matrix Ŵ.
        matrix: MatrixId,
        /// True for the family {Ẑ^{Ŵᵀy}}.
        transpose: bool,
    },
}

/// What an entry is in the limit.
#[derive(Clone, Debug, PartialEq)]
pub enum Def {
    /// A base Gaussian: a source vector (`origin` None) or Ẑ^{Ŵ x} for the normalized
    /// vector x = `origin`, with Cov(Ẑ^{Ŵx}, Ẑ^{Ŵy}) = E[Z^x Z^y].
    Atom {
        /// Its family.
        family: Family,
        /// The vector multiplied, for matrix families.
        origin: Option<ValueId>,
    },
    /// A vector: Z is this expression of earlier entries.
    Vector {
        /// The normalized leading-order expression.
        expr: Expr,
    },
    /// A scalar defined as the expectation E\[expr\] (a Moment in the limit).
    Expectation {
        /// The integrand over earlier vectors and scalars.
        expr: Expr,
    },
    /// A scalar defined by arithmetic on earlier scalars.
    Scalar {
        /// The expression.
        expr: Expr,
    },
    /// The Ż coefficient E\[∂Z^{of}/∂`atom`\], a scalar.
    Derivative {
        /// The vector differentiated.
        of: ValueId,
        /// The base Gaussian it is differentiated by.
        atom: ValueId,
    },
    /// Exactly zero at every width.
    Zero {
        /// Why.
        reason: String,
    },
    /// Random in the limit: a central-limit fluctuation (the mean of something with zero
    /// expectation, whose size n^e is then n^{-1/2} below its terms'), a random scalar
    /// drawn at initialization, or anything depending on those at leading order. When
    /// e < 0 the quantity itself still tends to 0; n^{-e} times it is random, which the
    /// Tensor Program master theorem does not describe.
    Random {
        /// Why.
        reason: String,
    },
    /// No deterministic limit can be derived.
    Undetermined {
        /// Why.
        reason: String,
    },
}

/// One entry of the limit program.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The program's name of the quantity, or a generated name (`Ẑ^{W2 x1_1}`, `κ3`).
    pub name: String,
    /// Vector (a Z) or scalar (a deterministic number).
    pub kind: Kind,
    /// The exponent e of the quantity (Θ(n^e)); the entry describes n^{-e} times the
    /// quantity. `None` for generated entries, which are Θ(1) by construction.
    pub exponent: Option<Rational>,
    /// The definition.
    pub def: Def,
    /// The program value this entry normalizes, if any.
    pub source_value: Option<ValueId>,
    /// Network labels of that value.
    pub meta: Option<Meta>,
    /// Set when the equation holds formally but gives no limit value (see [`Caveat`]).
    pub caveat: Option<Caveat>,
    /// The orders of what the leading term leaves out: the first correction of the
    /// finite-width quantity around n^e·Z.
    pub remainder: Remainder,
}

/// The orders (exponents of n, in the units of [`Entry::exponent`]) of what separates a
/// finite-width quantity from its leading term n^e·Z; `None` means nothing (exact).
///
/// `dropped` is made of terms of lower order that the expansion dropped (a
/// `n^{-1/4}·mean(z*z)` beside a Θ(1) term, the next Taylor term of a smooth function
/// of a vanishing argument): they have deterministic limits of their own.
/// `fluctuation` is the finite-width remainder of the values read: the central-limit
/// fluctuation n^{e-1/2} of a mean, the O(n^{-1/2}) relative correction of every `Ŵx`,
/// carried through the operations (a smooth function passes it on; a function that
/// jumps at 0 turns a remainder of relative size n^{-r} into sign flips on a fraction
/// n^{-r} of the coordinates, whose root mean square is n^{-r/2}).
/// `fluctuation_mean` is the same remainder measured by its mean absolute value, which
/// is what a mean over coordinates sees: the flips above have mean size n^{-r}.
/// `systematic` is the part of it that survives a mean over seeds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Remainder {
    /// Order of the dropped lower-order terms.
    pub dropped: Option<Rational>,
    /// Order of the finite-width remainder of the values read (root mean square).
    pub fluctuation: Option<Rational>,
    /// Order of that remainder's mean absolute value.
    pub fluctuation_mean: Option<Rational>,
    /// Order of the part of the remainder that does not average out over independent
    /// runs (beyond the generic n^{-1} of second-order terms): sign flips of a jump
    /// function, carried through the operations. With `dropped`, this is what biases a
    /// finite-width mean over seeds, and what `tp check` extrapolates away.
    pub systematic: Option<Rational>,
}

impl Remainder {
    /// The order of everything the leading term leaves out (`None`: the leading term is
    /// exact at every width).
    pub fn order(&self) -> Option<Rational> {
        max_order(&self.dropped, &self.fluctuation)
    }
}

/// The larger of two orders (`None` is −∞).
pub fn max_order(a: &Option<Rational>, b: &Option<Rational>) -> Option<Rational> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y).clone()),
        (Some(x), None) | (None, Some(x)) => Some(x.clone()),
        (None, None) => None,
    }
}

/// Why an entry's equation, though written by the Tensor Program rules, does not give
/// the finite-width limit: the master theorem's assumptions fail at `root`.
#[derive(Clone, Debug, PartialEq)]
pub struct Caveat {
    /// The entry where the assumption fails.
    pub root: String,
    /// What fails there.
    pub reason: String,
}

impl Caveat {
    /// The full explanation, for an entry named `name`.
    pub fn explain(&self, name: &str) -> String {
        if self.root == name {
            self.reason.clone()
        } else {
            format!("depends on `{}`: {}", self.root, self.reason)
        }
    }
}

impl Entry {
    /// True for a vector of the network whose second moment E\[Z²\] the limit reports
    /// (generated intermediates are not reported).
    pub fn reports_second_moment(&self) -> bool {
        matches!(self.def, Def::Vector { .. })
            && self
                .meta
                .as_ref()
                .is_some_and(|m| m.role != crate::ir::Role::Auxiliary)
    }

    /// The name of the normalized quantity: `h2_1` for Θ(1) quantities, `n^{1/2}·x2_0`
    /// for one of size n^{-1/2}.
    pub fn normalized_name(&self) -> String {
        match &self.exponent {
            Some(e) if *e != Rational::from_integer(0.into()) => {
                let minus = -e.clone();
                let factor = if minus == Rational::from_integer(1.into()) {
                    "n".to_string()
                } else {
                    format!("n^{}", wrap(&format_rational(&minus)))
                };
                format!("{factor}·{}", self.name)
            }
            _ => self.name.clone(),
        }
    }
}

fn wrap(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_digit()) {
        s.to_string()
    } else {
        format!("({s})")
    }
}

/// The normalized Θ(1) program and its Tensor Program limit, before evaluation.
#[derive(Clone, Debug)]
pub struct LimitProgram {
    /// Entries in definition order.
    pub entries: Vec<Entry>,
    /// For each program value, its entry.
    pub of_value: Vec<ValueId>,
    /// The program (activations, sources, matrices, names).
    pub program: Program,
    /// Base Gaussians each entry depends on.
    pub deps: Vec<Vec<ValueId>>,
    /// Sign-flip parity of each entry with respect to each symmetry group.
    pub parity: Vec<Vec<super::parity::Parity>>,
    /// Names of the symmetry groups, for reasons.
    pub group_names: Vec<String>,
}

impl LimitProgram {
    /// The entry with id `id`.
    pub fn entry(&self, id: ValueId) -> &Entry {
        &self.entries[id.0]
    }

    /// True when the entry is a vector or a base Gaussian (it varies over coordinates).
    pub fn is_random(&self, id: ValueId) -> bool {
        self.entries[id.0].kind == Kind::Vector
    }
}
