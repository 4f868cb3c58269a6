//! Extended rationals: a finite exact rational or -∞.

use super::affine::{format_rational, Rational};
use std::fmt;

/// The value of an exponent: a finite rational, or -∞ for a quantity that is exactly 0.
///
/// The derived order puts [`Ext::NegInf`] below every finite value, which is exactly the
/// order of the extended reals restricted to this set.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ext {
    /// -∞: the exponent of a quantity that is exactly zero.
    NegInf,
    /// A finite exponent.
    Finite(Rational),
}

impl Ext {
    /// The finite value, if any.
    pub fn finite(&self) -> Option<&Rational> {
        match self {
            Ext::NegInf => None,
            Ext::Finite(q) => Some(q),
        }
    }
}

impl From<Rational> for Ext {
    fn from(q: Rational) -> Self {
        Ext::Finite(q)
    }
}

impl fmt::Display for Ext {
    /// `-inf`, `3` or `-1/2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ext::NegInf => write!(f, "-inf"),
            Ext::Finite(q) => write!(f, "{}", format_rational(q)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigInt;

    #[test]
    fn neg_inf_is_below_every_finite_value() {
        let big_negative = Ext::Finite(Rational::from_integer(BigInt::from(-1_000_000)));
        assert!(Ext::NegInf < big_negative);
        assert!(big_negative < Ext::Finite(Rational::from_integer(BigInt::from(0))));
        assert_eq!(Ext::NegInf.to_string(), "-inf");
        assert_eq!(
            Ext::Finite(Rational::new(BigInt::from(-1), BigInt::from(2))).to_string(),
            "-1/2"
        );
    }
}
