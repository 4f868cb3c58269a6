//! Rational-affine exponent expressions `q_0 + Σ q_i · s_i`.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// Exact rational number used for every exponent and every exact constant.
pub type Rational = BigRational;

/// An affine expression over symbols with exact rational coefficients.
///
/// This is the form every exponent takes in the elaborated IR: parameterization
/// exponents (a_l, b_l, c_l) combine only through sums and rational multiples,
/// so `A_l = a_l + b_l`, `E_l = 2a_l + c_l` and `1/2 - A_l` stay affine.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Exponent {
    constant: Rational,
    terms: BTreeMap<String, Rational>,
}

impl Exponent {
    /// The exponent 0 (a width-independent quantity).
    pub fn zero() -> Self {
        Self::default()
    }

    /// A constant exponent.
    pub fn constant(q: Rational) -> Self {
        Exponent {
            constant: q,
            terms: BTreeMap::new(),
        }
    }

    /// A constant exponent `num/den`; `den` must be non-zero.
    pub fn ratio(num: i64, den: i64) -> Self {
        Self::constant(Rational::new(BigInt::from(num), BigInt::from(den)))
    }

    /// The exponent consisting of one symbol with coefficient 1.
    pub fn symbol(name: &str) -> Self {
        let mut terms = BTreeMap::new();
        terms.insert(name.to_string(), Rational::one());
        Exponent {
            constant: Rational::zero(),
            terms,
        }
    }

    /// The constant part `q_0`.
    pub fn constant_part(&self) -> &Rational {
        &self.constant
    }

    /// The symbolic terms, symbol → coefficient (never zero coefficients).
    pub fn terms(&self) -> &BTreeMap<String, Rational> {
        &self.terms
    }

    /// `Some(q)` when the exponent has no symbolic part.
    pub fn as_constant(&self) -> Option<&Rational> {
        if self.terms.is_empty() {
            Some(&self.constant)
        } else {
            None
        }
    }

    /// True when the exponent is exactly 0.
    pub fn is_zero(&self) -> bool {
        self.terms.is_empty() && self.constant.is_zero()
    }

    /// Approximate numeric value, when no symbol is left.
    pub fn to_f64(&self) -> Option<f64> {
        self.as_constant().and_then(|q| q.to_f64())
    }

    /// Sum of two exponents.
    pub fn add(&self, other: &Exponent) -> Exponent {
        // Adding 0 is the commonest case (Θ(1) quantities) and needs no rational
        // normalization (a gcd per addition, which dominates deep programs' analysis).
        if other.is_zero() {
            return self.clone();
        }
        if self.is_zero() {
            return other.clone();
        }
        let mut out = self.clone();
        out.constant = add_rationals(&out.constant, &other.constant);
        for (s, q) in &other.terms {
            let entry = out.terms.entry(s.clone()).or_insert_with(Rational::zero);
            *entry += q;
        }
        out.terms.retain(|_, q| !q.is_zero());
        out
    }

    /// Difference `self - other`.
    pub fn sub(&self, other: &Exponent) -> Exponent {
        self.add(&other.scale(&-Rational::one()))
    }

    /// Negation.
    pub fn neg(&self) -> Exponent {
        self.scale(&-Rational::one())
    }

    /// Multiplication by an exact rational.
    pub fn scale(&self, q: &Rational) -> Exponent {
        if q.is_zero() {
            return Exponent::zero();
        }
        Exponent {
            constant: &self.constant * q,
            terms: self.terms.iter().map(|(s, c)| (s.clone(), c * q)).collect(),
        }
    }

    /// Adds a rational constant.
    pub fn plus(&self, q: &Rational) -> Exponent {
        self.add(&Exponent::constant(q.clone()))
    }

    /// Replaces symbols by exponents given by `lookup` (symbols it does not know stay).
    pub fn substitute(&self, lookup: &dyn Fn(&str) -> Option<Exponent>) -> Exponent {
        let mut out = Exponent::constant(self.constant.clone());
        for (s, q) in &self.terms {
            let replacement = lookup(s).unwrap_or_else(|| Exponent::symbol(s));
            out = out.add(&replacement.scale(q));
        }
        out
    }
}

/// Formats a rational as `3`, `-1/2`.
pub fn format_rational(q: &Rational) -> String {
    if q.is_integer() {
        q.numer().to_string()
    } else {
        format!("{}/{}", q.numer(), q.denom())
    }
}

/// Parses `3`, `-1/2`, `0.25` or `1e-3` exactly into a rational.
pub fn parse_rational(text: &str) -> Option<Rational> {
    let text = text.trim();
    if let Some((num, den)) = text.split_once('/') {
        let num = parse_rational(num)?;
        let den = parse_rational(den)?;
        if den.is_zero() {
            return None;
        }
        return Some(num / den);
    }
    let (mantissa, exp10) = match text.find(['e', 'E']) {
        Some(pos) => {
            let e: i32 = text[pos + 1..].parse().ok()?;
            (&text[..pos], e)
        }
        None => (text, 0),
    };
    if exp10.unsigned_abs() > 400 {
        return None;
    }
    let negative = mantissa.starts_with('-');
    let digits = mantissa.trim_start_matches(['-', '+']);
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part
        .chars()
        .chain(frac_part.chars())
        .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let all: String = format!("{int_part}{frac_part}");
    let numer: BigInt = if all.is_empty() {
        BigInt::zero()
    } else {
        all.parse().ok()?
    };
    let ten = BigInt::from(10);
    let mut q = Rational::new(numer, num_traits::pow(ten.clone(), frac_part.len()));
    if exp10 >= 0 {
        q *= Rational::from_integer(num_traits::pow(ten, exp10 as usize));
    } else {
        q /= Rational::from_integer(num_traits::pow(ten, exp10.unsigned_abs() as usize));
    }
    Some(if negative { -q } else { q })
}

impl fmt::Display for Exponent {
    /// Canonical text: symbols in name order, then the constant, e.g. `2*a1 + c - 1/2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (s, q) in &self.terms {
            let magnitude = q.abs();
            let sign = if q.is_negative() { "-" } else { "+" };
            if first {
                if q.is_negative() {
                    write!(f, "-")?;
                }
            } else {
                write!(f, " {sign} ")?;
            }
            if magnitude.is_one() {
                write!(f, "{s}")?;
            } else {
                write!(f, "{}*{s}", format_rational(&magnitude))?;
            }
            first = false;
        }
        if first {
            return write!(f, "{}", format_rational(&self.constant));
        }
        if !self.constant.is_zero() {
            let sign = if self.constant.is_negative() {
                "-"
            } else {
                "+"
            };
            write!(f, " {sign} {}", format_rational(&self.constant.abs()))?;
        }
        Ok(())
    }
}

impl Serialize for Exponent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

/// `a + b`, exact. Exponents are almost always small fractions (0, ±1/2, ±1, …), for which
/// machine integers give the reduced sum directly; the general big-integer path (a gcd
/// of big integers per addition) is taken only when a part does not fit in 64 bits.
fn add_rationals(a: &Rational, b: &Rational) -> Rational {
    let small = |q: &Rational| Some((q.numer().to_i64()?, q.denom().to_i64()?));
    if let (Some((an, ad)), Some((bn, bd))) = (small(a), small(b)) {
        // Denominators are positive; products of two i64 fit in i128.
        let num = i128::from(an) * i128::from(bd) + i128::from(bn) * i128::from(ad);
        let den = i128::from(ad) * i128::from(bd);
        let g = gcd_i128(num, den);
        if g != 0 {
            return Rational::new_raw(BigInt::from(num / g), BigInt::from(den / g));
        }
    }
    a + b
}

/// `a` compared with `b`, exact; with machine integers when both fit (see [`add_rationals`]).
pub(crate) fn cmp_rationals(a: &Rational, b: &Rational) -> std::cmp::Ordering {
    let small = |q: &Rational| Some((q.numer().to_i64()?, q.denom().to_i64()?));
    match (small(a), small(b)) {
        // Denominators are positive, so cross-multiplying keeps the order.
        (Some((an, ad)), Some((bn, bd))) => {
            (i128::from(an) * i128::from(bd)).cmp(&(i128::from(bn) * i128::from(ad)))
        }
        _ => a.cmp(b),
    }
}

/// Greatest common divisor (non-negative) of two integers, `den` non-zero.
fn gcd_i128(a: i128, b: i128) -> i128 {
    let (mut x, mut y) = (a.unsigned_abs(), b.unsigned_abs());
    while y != 0 {
        (x, y) = (y, x % y);
    }
    i128::try_from(x).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rationals with small and with 64-bit-overflowing parts, both signs.
    fn samples() -> Vec<Rational> {
        let big = BigInt::from(i64::MAX) * BigInt::from(3);
        let mut out = Vec::new();
        for (n, d) in [(0, 1), (1, 2), (-1, 2), (3, 4), (-7, 3), (5, 1), (-1, 1)] {
            out.push(Rational::new(BigInt::from(n), BigInt::from(d)));
        }
        out.push(Rational::new(big.clone(), BigInt::from(7)));
        out.push(Rational::new(BigInt::from(-5), big.clone()));
        out.push(Rational::new(
            BigInt::from(i64::MAX),
            BigInt::from(i64::MAX - 1),
        ));
        out.push(Rational::new(BigInt::from(i64::MIN), BigInt::from(3)));
        out
    }

    #[test]
    fn machine_integer_shortcuts_agree_with_big_rationals() {
        // The shortcuts must give exactly the reduced rational and the order that
        // BigRational gives, including at the edges of the 64-bit range.
        for a in samples() {
            for b in samples() {
                let sum = add_rationals(&a, &b);
                assert_eq!(sum, &a + &b, "{a} + {b}");
                assert_eq!(
                    sum.numer(),
                    (&a + &b).numer(),
                    "reduced numerator of {a} + {b}"
                );
                assert_eq!(
                    sum.denom(),
                    (&a + &b).denom(),
                    "reduced denominator of {a} + {b}"
                );
                assert_eq!(cmp_rationals(&a, &b), a.cmp(&b), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn parses_decimals_exactly() {
        assert_eq!(
            parse_rational("0.5"),
            Some(Rational::new(1.into(), 2.into()))
        );
        assert_eq!(
            parse_rational("-1/2"),
            Some(Rational::new((-1).into(), 2.into()))
        );
        assert_eq!(
            parse_rational("1e-2"),
            Some(Rational::new(1.into(), 100.into()))
        );
        assert_eq!(parse_rational("1/0"), None);
        assert_eq!(parse_rational("abc"), None);
    }

    #[test]
    fn affine_arithmetic_cancels_symbols() {
        let a = Exponent::symbol("a").scale(&Rational::from_integer(2.into()));
        let c = Exponent::symbol("c");
        let e = a.add(&c).plus(&Rational::new((-1).into(), 2.into()));
        assert_eq!(e.to_string(), "2*a + c - 1/2");
        let back = e.sub(&Exponent::symbol("c"));
        assert_eq!(back.to_string(), "2*a - 1/2");
        assert!(e.sub(&e).is_zero());
    }
}
