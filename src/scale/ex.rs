//! The exponent operations scale inference uses, over [`crate::exponent::Exp`].
//!
//! Kept in one place so the inference reads as arithmetic on exponents
//! (`ex::max(&a, &b)`), whatever the representation of symbolic expressions.

pub use crate::exponent::{Cond, Exp, Ext};
use crate::exponent::{Exponent, Rational};

/// n^{-∞}: an exactly-zero quantity.
pub fn neg_inf() -> Exp {
    Exp::NegInf
}

/// The exponent 0 (a Θ(1) quantity).
pub fn zero() -> Exp {
    Exp::constant(Rational::from_integer(0.into()))
}

/// A rational constant exponent.
pub fn constant(q: Rational) -> Exp {
    Exp::constant(q)
}

/// An affine exponent.
pub fn affine(e: &Exponent) -> Exp {
    Exp::affine(e.clone())
}

/// `a + b`.
pub fn add(a: &Exp, b: &Exp) -> Exp {
    Exp::add(a.clone(), b.clone())
}

/// `max(a, b)`.
pub fn max(a: &Exp, b: &Exp) -> Exp {
    Exp::max(a.clone(), b.clone())
}

/// `min(a, b)`.
pub fn min(a: &Exp, b: &Exp) -> Exp {
    Exp::min(a.clone(), b.clone())
}

/// `q · a`.
pub fn scale(q: &Rational, a: &Exp) -> Exp {
    Exp::scale(q.clone(), a.clone())
}

/// True when `a` is exactly -∞.
pub fn is_neg_inf(a: &Exp) -> bool {
    matches!(a, Exp::NegInf)
}

/// `Some(true)` when `a > 0` for every value of the symbols, `Some(false)` when `a ≤ 0`
/// everywhere, `None` when it depends on the symbols.
pub fn positive(a: &Exp) -> Option<bool> {
    if let Some(v) = a.as_constant() {
        return Some(matches!(v, Ext::Finite(q) if q > Rational::from_integer(0.into())));
    }
    let le = Cond::Le(a.clone(), zero());
    if le.is_valid() {
        Some(false)
    } else if Cond::Lt(zero(), a.clone()).is_valid() {
        Some(true)
    } else {
        None
    }
}
