//! The exponent operations scale inference uses, over [`crate::exponent::Exp`].
//!
//! Kept in one place so the inference reads as arithmetic on exponents
//! (`ex::max(&a, &b)`), whatever the representation of symbolic expressions.

use crate::exponent::{cmp_rationals, Exponent, Rational};
pub use crate::exponent::{Cond, Exp, Ext};

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

// The three operations below run once per randomness group for every product and sum of
// every instruction, so a deep network makes millions of them (L = 200 hidden layers: about
// 200 groups × 8000 instructions). Their operands are almost always -∞ or two affine
// leaves; those cases are answered here without cloning both operands into the general
// folding constructors. Each shortcut returns exactly what the constructor would.

/// `a + b`.
pub fn add(a: &Exp, b: &Exp) -> Exp {
    match (a, b) {
        (Exp::NegInf, Exp::NegInf | Exp::Affine(_)) | (Exp::Affine(_), Exp::NegInf) => Exp::NegInf,
        (Exp::Affine(x), Exp::Affine(y)) => Exp::Affine(x.add(y)),
        _ => Exp::add(a.clone(), b.clone()),
    }
}

/// `max(a, b)`.
pub fn max(a: &Exp, b: &Exp) -> Exp {
    match (a, b) {
        (Exp::NegInf, other @ (Exp::NegInf | Exp::Affine(_)))
        | (other @ Exp::Affine(_), Exp::NegInf) => other.clone(),
        (Exp::Affine(x), Exp::Affine(y)) if x.terms() == y.terms() => {
            if cmp_rationals(x.constant_part(), y.constant_part()).is_le() {
                b.clone()
            } else {
                a.clone()
            }
        }
        _ => Exp::max(a.clone(), b.clone()),
    }
}

/// `min(a, b)`.
pub fn min(a: &Exp, b: &Exp) -> Exp {
    match (a, b) {
        (Exp::NegInf, Exp::NegInf | Exp::Affine(_)) | (Exp::Affine(_), Exp::NegInf) => Exp::NegInf,
        (Exp::Affine(x), Exp::Affine(y)) if x.terms() == y.terms() => {
            if cmp_rationals(x.constant_part(), y.constant_part()).is_ge() {
                b.clone()
            } else {
                a.clone()
            }
        }
        _ => Exp::min(a.clone(), b.clone()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Exp> {
        let q = |n: i64, d: i64| Rational::new(n.into(), d.into());
        let a = Exp::symbol("a");
        vec![
            neg_inf(),
            zero(),
            constant(q(1, 2)),
            constant(q(-3, 2)),
            Exp::add(a.clone(), constant(q(1, 2))),
            Exp::add(a.clone(), constant(q(-1, 3))),
            a.clone(),
            Exp::symbol("b"),
            Exp::max(a.clone(), zero()),
            Exp::min(Exp::symbol("b"), constant(q(1, 1))),
            Exp::undefined(),
        ]
    }

    #[test]
    fn shortcuts_agree_with_the_folding_constructors() {
        // `add`, `max` and `min` answer common cases without the general constructors;
        // they must return exactly what those return, operand order included.
        for x in samples() {
            for y in samples() {
                assert_eq!(add(&x, &y), Exp::add(x.clone(), y.clone()), "{x:?} + {y:?}");
                assert_eq!(
                    max(&x, &y),
                    Exp::max(x.clone(), y.clone()),
                    "max({x:?}, {y:?})"
                );
                assert_eq!(
                    min(&x, &y),
                    Exp::min(x.clone(), y.clone()),
                    "min({x:?}, {y:?})"
                );
            }
        }
    }
}
