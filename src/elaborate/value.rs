//! Compile-time values: what parameters, exponents, variances and list entries evaluate to.

use crate::bounds::MAX_EXACT_BITS;
use crate::exponent::{Exponent, Rational};
use num_traits::{One, Signed, ToPrimitive, Zero};

/// A number known at elaboration time, possibly times a power of the width.
///
/// Parameters are exact when written as decimals or fractions; functions such as
/// `sqrt` make them approximate. Symbolic parameters only live in exponents, so a
/// value mentioning a symbol is an [`Val::Affine`] exponent and nothing else.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// An exact rational.
    Exact(Rational),
    /// An approximate real.
    Real(f64),
    /// An affine expression in symbolic parameters (usable as an exponent).
    Affine(Exponent),
    /// `coef · n^exp` with a non-zero exponent.
    Width {
        /// The width-independent factor.
        coef: Box<Val>,
        /// The exponent of n.
        exp: Exponent,
    },
}

/// Why an operation on compile-time values is not allowed.
pub type ValError = String;

impl Val {
    /// The integer 1.
    pub fn one() -> Val {
        Val::Exact(Rational::one())
    }

    /// The width `n` itself.
    pub fn width() -> Val {
        Val::Width {
            coef: Box::new(Val::one()),
            exp: Exponent::ratio(1, 1),
        }
    }

    fn width_of(coef: Val, exp: Exponent) -> Val {
        if exp.is_zero() {
            coef
        } else {
            Val::Width {
                coef: Box::new(coef),
                exp,
            }
        }
    }

    /// Splits into (width-independent factor, exponent of n).
    pub fn split_width(&self) -> (Val, Exponent) {
        match self {
            Val::Width { coef, exp } => ((**coef).clone(), exp.clone()),
            other => (other.clone(), Exponent::zero()),
        }
    }

    /// The value as a real number, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Exact(q) => q.to_f64(),
            Val::Real(x) => Some(*x),
            Val::Affine(e) => e.to_f64(),
            Val::Width { .. } => None,
        }
    }

    /// The value as an exponent (exact, possibly symbolic).
    pub fn as_exponent(&self) -> Option<Exponent> {
        match self {
            Val::Exact(q) => Some(Exponent::constant(q.clone())),
            Val::Affine(e) => Some(e.clone()),
            Val::Real(_) | Val::Width { .. } => None,
        }
    }

    /// The value as an exact rational (no symbols, no width).
    pub fn as_rational(&self) -> Option<Rational> {
        match self {
            Val::Exact(q) => Some(q.clone()),
            Val::Affine(e) => e.as_constant().cloned(),
            _ => None,
        }
    }

    /// The value as an integer.
    pub fn as_integer(&self) -> Option<i64> {
        let q = self.as_rational()?;
        if q.is_integer() {
            q.to_integer().to_i64()
        } else {
            None
        }
    }

    /// A short description for error messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Val::Exact(_) | Val::Real(_) => "a number",
            Val::Affine(_) => "an expression in symbolic parameters",
            Val::Width { .. } => "a power of the width",
        }
    }

    fn normalize(self) -> Val {
        match self {
            Val::Affine(e) => match e.as_constant() {
                Some(q) => Val::Exact(q.clone()),
                None => Val::Affine(e),
            },
            other => other,
        }
    }

    /// `self + other`.
    pub fn add(&self, other: &Val) -> Result<Val, ValError> {
        use Val::*;
        Ok(match (self, other) {
            (Exact(a), Exact(b)) => Exact(a + b),
            (Width { coef: a, exp: e }, Width { coef: b, exp: f }) if e == f => {
                Val::width_of(a.add(b)?, e.clone())
            }
            (Width { .. }, _) | (_, Width { .. }) => {
                return Err("cannot add different powers of the width here".into())
            }
            (Affine(_), _) | (_, Affine(_)) => {
                let a = self
                    .as_exponent()
                    .ok_or("symbolic parameters only combine with exact numbers")?;
                let b = other
                    .as_exponent()
                    .ok_or("symbolic parameters only combine with exact numbers")?;
                Affine(a.add(&b)).normalize()
            }
            _ => Real(self.as_f64().unwrap_or(f64::NAN) + other.as_f64().unwrap_or(f64::NAN)),
        })
    }

    /// `-self`.
    pub fn neg(&self) -> Val {
        match self {
            Val::Exact(q) => Val::Exact(-q),
            Val::Real(x) => Val::Real(-x),
            Val::Affine(e) => Val::Affine(e.neg()),
            Val::Width { coef, exp } => Val::width_of(coef.neg(), exp.clone()),
        }
    }

    /// `self - other`.
    pub fn sub(&self, other: &Val) -> Result<Val, ValError> {
        self.add(&other.neg())
    }

    /// `self · other`.
    pub fn mul(&self, other: &Val) -> Result<Val, ValError> {
        use Val::*;
        let (a, ea) = self.split_width();
        let (b, eb) = other.split_width();
        if !ea.is_zero() || !eb.is_zero() {
            return Ok(Val::width_of(a.mul(&b)?, ea.add(&eb)));
        }
        Ok(match (&a, &b) {
            (Exact(x), Exact(y)) => Exact(x * y),
            (Affine(e), _) | (_, Affine(e)) => {
                let other_side = if matches!(a, Affine(_)) { &b } else { &a };
                match other_side.as_rational() {
                    Some(q) => Affine(e.scale(&q)).normalize(),
                    None => {
                        return Err(
                            "a product of symbolic parameters is not an affine exponent".into()
                        )
                    }
                }
            }
            _ => Real(a.as_f64().unwrap_or(f64::NAN) * b.as_f64().unwrap_or(f64::NAN)),
        })
    }

    /// `self / other`.
    pub fn div(&self, other: &Val) -> Result<Val, ValError> {
        let (b, eb) = other.split_width();
        let inverse = match &b {
            Val::Exact(q) if q.is_zero() => return Err("division by zero".into()),
            Val::Exact(q) => Val::Exact(q.recip()),
            Val::Real(x) if *x == 0.0 => return Err("division by zero".into()),
            Val::Real(x) => Val::Real(1.0 / x),
            Val::Affine(_) => return Err("cannot divide by a symbolic parameter".into()),
            Val::Width { .. } => return Err("cannot divide by this value".into()),
        };
        self.mul(&Val::width_of(inverse, eb.neg()))
    }

    /// `self ^ other`.
    pub fn pow(&self, other: &Val) -> Result<Val, ValError> {
        let (coef, exp) = self.split_width();
        if !exp.is_zero() {
            // (c n^e)^p = c^p n^{e p}: p must be an exact number.
            let p = other
                .as_rational()
                .ok_or("a power of the width needs an exact exponent")?;
            let c = coef.pow(other)?;
            return Ok(Val::width_of(c, exp.scale(&p)));
        }
        if let Val::Width { .. } = other {
            return Err("an exponent cannot depend on the width".into());
        }
        match (&coef, other) {
            (Val::Exact(b), Val::Exact(p)) if p.is_integer() => {
                let k = p
                    .to_integer()
                    .to_i32()
                    .filter(|k| k.abs() <= 64)
                    .ok_or("integer power too large")?;
                if b.is_zero() && k < 0 {
                    return Err("division by zero".into());
                }
                // Nested powers square the size each time (`((10^64)^64)^64` has 10^6
                // digits): refuse before computing.
                let bits = b.numer().bits().max(b.denom().bits());
                if bits.saturating_mul(u64::from(k.unsigned_abs())) > MAX_EXACT_BITS {
                    return Err(format!(
                        "this exact power would have more than {MAX_EXACT_BITS} bits, far \
                         beyond any usable constant (1e308) or exponent"
                    ));
                }
                Ok(Val::Exact(num_traits::Pow::pow(b, k)))
            }
            (Val::Affine(_), _) | (_, Val::Affine(_)) => {
                Err("symbolic parameters can only be powers of the width `n^(…)`".into())
            }
            _ => {
                let b = coef.as_f64().unwrap_or(f64::NAN);
                let p = other.as_f64().unwrap_or(f64::NAN);
                if b < 0.0 && p.fract() != 0.0 {
                    return Err("a negative number to a fractional power".into());
                }
                Ok(Val::Real(b.powf(p)))
            }
        }
    }

    /// `n^e` for an exponent value.
    pub fn width_pow(e: &Val) -> Result<Val, ValError> {
        let exp = e
            .as_exponent()
            .ok_or("the exponent of the width must be exact (a fraction or symbolic parameters)")?;
        Ok(Val::width_of(Val::one(), exp))
    }

    /// `sqrt(self)`, exact when the value is a square of a rational times an even power.
    pub fn sqrt(&self) -> Result<Val, ValError> {
        let (coef, exp) = self.split_width();
        let half = Rational::new(1.into(), 2.into());
        let c = match &coef {
            Val::Exact(q) if q.is_negative() => {
                return Err("square root of a negative number".into())
            }
            Val::Exact(q) => {
                let (num, den) = (q.numer().sqrt(), q.denom().sqrt());
                if &(&num * &num) == q.numer() && &(&den * &den) == q.denom() {
                    Val::Exact(Rational::new(num, den))
                } else {
                    Val::Real(q.to_f64().unwrap_or(f64::NAN).sqrt())
                }
            }
            Val::Real(x) if *x < 0.0 => return Err("square root of a negative number".into()),
            Val::Real(x) => Val::Real(x.sqrt()),
            _ => return Err("square root of a symbolic parameter".into()),
        };
        Ok(Val::width_of(c, exp.scale(&half)))
    }

    /// True when the value is exactly zero.
    pub fn is_zero(&self) -> bool {
        match self {
            Val::Exact(q) => q.is_zero(),
            Val::Real(x) => *x == 0.0,
            _ => false,
        }
    }
}
