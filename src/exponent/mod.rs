//! Exponents of the width n: exact rational-affine expressions over symbols, and the
//! piecewise-affine algebra built on them.
//!
//! Every width factor n^e in the IR carries an [`Exponent`]. Exponents are exact
//! (`BigRational`, never floats) and may mention symbolic parameters such as `a1`
//! or `c`, so a whole family of parameterizations can be analysed at once.
//!
//! Scale inference needs more than affine forms: the exponent of a sum is the max of
//! the exponents of its terms, comparing two scales gives a min, and an exactly-zero
//! quantity has exponent -∞. [`Exp`] represents such expressions (e.g.
//! `max(-a1 - b1, 1/2 - a2 - b2 + min(0, 1 - 2*a3 - c))`), evaluates them exactly
//! ([`Ext`]), simplifies them to a canonical readable form (exact max-min
//! canonicalization, then an egg e-graph), and decides conditions on the symbols
//! ([`Cond`], [`compare`]) exactly by case splits over polyhedral regions.

mod affine;
mod compare;
mod cond;
mod egraph;
mod expr;
mod ext;
mod inequality;
mod lp;
mod normal;
mod parse;
mod region;
mod set;

pub(crate) use affine::cmp_rationals;
pub use affine::{format_rational, parse_rational, Exponent, Rational};
pub use compare::{compare, Comparison};
pub use cond::Cond;
pub use expr::Exp;
pub use ext::Ext;
pub use inequality::{Inequality, Relation};
pub use parse::ParseExpError;
pub use region::{from_pieces, Piece, Region, Side, Undecided};
pub use set::{union_cond, ConvexSet};
