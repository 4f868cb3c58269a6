//! Exponents of the width n: exact rational-affine expressions over symbols.
//!
//! Every width factor n^e in the IR carries an [`Exponent`]. Exponents are exact
//! (`BigRational`, never floats) and may mention symbolic parameters such as `a1`
//! or `c`, so a whole family of parameterizations can be analysed at once.

mod affine;

pub use affine::{format_rational, parse_rational, Exponent, Rational};
