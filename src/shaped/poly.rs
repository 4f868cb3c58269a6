//! Exact polynomials for the shaped-network derivation: finite sums of rational
//! coefficients times monomials in named atoms (the expansion variable ε, π, square roots
//! of primes, program symbols, Gram entries, correlations and opaque function values).
//!
//! Exponents are rationals, so π^{-1/2} (the Taylor data of GELU) and a^{-2} (the shaping
//! scale) are monomials like any other; a prime's exponent is kept in [0, 1) with its
//! integer part moved into the coefficient, so √2·√2 is the rational 2 and two equal
//! numbers always have one representation. Nothing here is ever a float.

use crate::exponent::Rational;
use num_bigint::BigInt;
use num_traits::{One, Signed, ToPrimitive, Zero};
use std::collections::BTreeMap;
use std::fmt;

/// A function of a correlation that the algebra keeps opaque (its argument is the
/// correlation ρ^{ij} of the two indices it carries).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Func {
    /// The normalized arc-cosine kernel J̄₁(ρ) = E[ReLU(u) ReLU(v)] at unit variances.
    ArcCosKernel,
    /// √(1 − ρ²).
    SqrtOneMinusSq,
    /// arccos(ρ).
    Arccos,
    /// arccos(−ρ).
    ArccosNeg,
}

/// One factor of a monomial.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Atom {
    /// The expansion variable ε (a power of the width, fixed by the derivation).
    Eps,
    /// π.
    Pi,
    /// A prime p, raised to an exponent in (0, 1) (√2 is `Prime(2)^(1/2)`).
    Prime(u32),
    /// A program symbol (Taylor data, the shaping scale a, the shaping slopes c±).
    Sym(String),
    /// The Gram entry Φ^{ij}, i ≤ j.
    Gram(usize, usize),
    /// The correlation ρ^{ij} = Φ^{ij}/√(Φ^{ii}Φ^{jj}), i < j.
    Corr(usize, usize),
    /// An opaque function of ρ^{ij}.
    Func(Func, usize, usize),
}

/// A product of atoms to rational powers (no zero exponents).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Monomial(pub BTreeMap<Atom, Rational>);

/// A finite sum of rational multiples of distinct monomials (no zero coefficients).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Poly(pub BTreeMap<Monomial, Rational>);

fn rat(k: i64) -> Rational {
    Rational::from_integer(BigInt::from(k))
}

impl Monomial {
    /// The exponent of `atom` (0 when absent).
    pub fn exponent(&self, atom: &Atom) -> Rational {
        self.0.get(atom).cloned().unwrap_or_else(Rational::zero)
    }

    /// This monomial without `atom`.
    pub fn without(&self, atom: &Atom) -> Monomial {
        let mut m = self.clone();
        m.0.remove(atom);
        m
    }
}

impl Poly {
    /// The zero polynomial.
    pub fn zero() -> Poly {
        Poly::default()
    }

    /// A rational constant.
    pub fn constant(q: Rational) -> Poly {
        let mut p = Poly::zero();
        p.add_term(Monomial::default(), q);
        p
    }

    /// An integer constant.
    pub fn int(k: i64) -> Poly {
        Poly::constant(rat(k))
    }

    /// The fraction `num/den` (den ≠ 0).
    pub fn frac(num: i64, den: i64) -> Poly {
        Poly::constant(Rational::new(BigInt::from(num), BigInt::from(den)))
    }

    /// `atom` to the power `e`.
    pub fn atom_pow(atom: Atom, e: Rational) -> Poly {
        let mut m = BTreeMap::new();
        if !e.is_zero() {
            m.insert(atom, e);
        }
        let (mono, coef) = split_primes(Monomial(m));
        let mut out = Poly::zero();
        out.add_term(mono, coef);
        out
    }

    /// The monomial `m` with coefficient 1 (primes normalized).
    pub fn monomial(m: &Monomial) -> Poly {
        let (mono, coef) = split_primes(m.clone());
        let mut out = Poly::zero();
        out.add_term(mono, coef);
        out
    }

    /// `atom` to the first power.
    pub fn atom(atom: Atom) -> Poly {
        Poly::atom_pow(atom, Rational::one())
    }

    /// A program symbol.
    pub fn sym(name: &str) -> Poly {
        Poly::atom(Atom::Sym(name.to_string()))
    }

    /// Whether this is the zero polynomial.
    pub fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    /// The rational value, when the polynomial is a constant.
    pub fn as_rational(&self) -> Option<Rational> {
        match self.0.len() {
            0 => Some(Rational::zero()),
            1 => {
                let (m, c) = self.0.iter().next()?;
                m.0.is_empty().then(|| c.clone())
            }
            _ => None,
        }
    }

    fn add_term(&mut self, m: Monomial, c: Rational) {
        if c.is_zero() {
            return;
        }
        let entry = self.0.entry(m.clone()).or_insert_with(Rational::zero);
        *entry += c;
        if entry.is_zero() {
            self.0.remove(&m);
        }
    }

    /// `self + other`.
    pub fn add(&self, other: &Poly) -> Poly {
        let mut out = self.clone();
        for (m, c) in &other.0 {
            out.add_term(m.clone(), c.clone());
        }
        out
    }

    /// `self − other`.
    pub fn sub(&self, other: &Poly) -> Poly {
        self.add(&other.neg())
    }

    /// `−self`.
    pub fn neg(&self) -> Poly {
        self.scale(&rat(-1))
    }

    /// `q · self`.
    pub fn scale(&self, q: &Rational) -> Poly {
        let mut out = Poly::zero();
        for (m, c) in &self.0 {
            out.add_term(m.clone(), c * q);
        }
        out
    }

    /// `self · other`.
    pub fn mul(&self, other: &Poly) -> Poly {
        let mut out = Poly::zero();
        for (ma, ca) in &self.0 {
            for (mb, cb) in &other.0 {
                let mut m = ma.0.clone();
                for (atom, e) in &mb.0 {
                    let entry = m.entry(atom.clone()).or_insert_with(Rational::zero);
                    *entry += e;
                }
                m.retain(|_, e| !e.is_zero());
                let (mono, factor) = split_primes(Monomial(m));
                out.add_term(mono, ca * cb * factor);
            }
        }
        out
    }

    /// `self^k` for a whole k ≥ 0.
    pub fn pow(&self, k: u32) -> Poly {
        let mut out = Poly::int(1);
        for _ in 0..k {
            out = out.mul(self);
        }
        out
    }

    /// The terms whose power of ε is `k`, with ε removed.
    pub fn eps_coefficient(&self, k: i64) -> Poly {
        let mut out = Poly::zero();
        let want = rat(k);
        for (m, c) in &self.0 {
            if m.exponent(&Atom::Eps) == want {
                out.add_term(m.without(&Atom::Eps), c.clone());
            }
        }
        out
    }

    /// The terms of ε-order at most `k` (ε must appear with whole powers).
    pub fn truncate_eps(&self, k: i64) -> Poly {
        let mut out = Poly::zero();
        let bound = rat(k);
        for (m, c) in &self.0 {
            if m.exponent(&Atom::Eps) <= bound {
                out.add_term(m.clone(), c.clone());
            }
        }
        out
    }

    /// The lowest power of ε present (None for zero).
    pub fn eps_order(&self) -> Option<Rational> {
        self.0.keys().map(|m| m.exponent(&Atom::Eps)).min()
    }

    /// 1/self as a series in ε up to order `k`, when the ε⁰ part is a single monomial
    /// (an invertible leading term) and no negative powers of ε occur.
    pub fn inverse_series(&self, k: i64) -> Option<Poly> {
        let lead = self.eps_coefficient(0);
        if lead.0.len() != 1 || self.eps_order()? < Rational::zero() {
            return None;
        }
        let (m, c) = lead.0.iter().next()?;
        let mut inv_m = BTreeMap::new();
        for (atom, e) in &m.0 {
            inv_m.insert(atom.clone(), -e.clone());
        }
        let (inv_mono, factor) = split_primes(Monomial(inv_m));
        let mut lead_inv = Poly::zero();
        lead_inv.add_term(inv_mono, factor / c);
        // self = lead (1 + r), 1/self = lead⁻¹ Σ (−r)^j.
        let r = self.mul(&lead_inv).sub(&Poly::int(1)).truncate_eps(k);
        let mut sum = Poly::int(1);
        let mut power = Poly::int(1);
        for _ in 0..k.max(0) {
            power = power.mul(&r.neg()).truncate_eps(k);
            sum = sum.add(&power);
        }
        Some(sum.mul(&lead_inv).truncate_eps(k))
    }

    /// Replaces every whole non-negative power of `atom` by the same power of `by`.
    /// Returns None if `atom` occurs with another exponent.
    pub fn substitute(&self, atom: &Atom, by: &Poly) -> Option<Poly> {
        let mut out = Poly::zero();
        for (m, c) in &self.0 {
            let e = m.exponent(atom);
            if !e.is_integer() || e.is_negative() {
                return None;
            }
            let k = e.to_integer().to_u32()?;
            let mut rest = Poly::zero();
            rest.add_term(m.without(atom), c.clone());
            out = out.add(&rest.mul(&by.pow(k)));
        }
        Some(out)
    }

    /// ∂/∂atom, exactly (rational exponents: d x^e = e x^{e−1}).
    pub fn diff(&self, atom: &Atom) -> Poly {
        let mut out = Poly::zero();
        for (m, c) in &self.0 {
            let e = m.exponent(atom);
            if e.is_zero() {
                continue;
            }
            let mut rest = Poly::zero();
            rest.add_term(m.without(atom), c * &e);
            out = out.add(&rest.mul(&Poly::atom_pow(atom.clone(), e - Rational::one())));
        }
        out
    }

    /// Every atom that occurs.
    pub fn atoms(&self) -> Vec<Atom> {
        let mut out: Vec<Atom> = self.0.keys().flat_map(|m| m.0.keys().cloned()).collect();
        out.sort();
        out.dedup();
        out
    }

    /// The value with every atom given a number by `value` (None if one has none).
    pub fn eval(&self, value: &dyn Fn(&Atom) -> Option<f64>) -> Option<f64> {
        let mut total = 0.0;
        for (m, c) in &self.0 {
            let mut term = c.to_f64()?;
            for (atom, e) in &m.0 {
                let base = match atom {
                    Atom::Pi => std::f64::consts::PI,
                    Atom::Prime(p) => f64::from(*p),
                    other => value(other)?,
                };
                term *= base.powf(e.to_f64()?);
            }
            total += term;
        }
        Some(total)
    }
}

/// Moves the integer part of every prime's exponent into a rational factor.
fn split_primes(m: Monomial) -> (Monomial, Rational) {
    let mut factor = Rational::one();
    let mut out = BTreeMap::new();
    for (atom, e) in m.0 {
        if let Atom::Prime(p) = atom {
            let whole = e.floor();
            let frac = &e - &whole;
            let k = whole.to_integer();
            let base = rat(i64::from(p));
            if let Some(k) = k.to_i32() {
                factor *= if k >= 0 {
                    num_traits::pow(base, k as usize)
                } else {
                    Rational::one() / num_traits::pow(base, (-k) as usize)
                };
            }
            if !frac.is_zero() {
                out.insert(atom, frac);
            }
        } else if !e.is_zero() {
            out.insert(atom, e);
        }
    }
    (Monomial(out), factor)
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Eps => write!(f, "eps"),
            Atom::Pi => write!(f, "pi"),
            Atom::Prime(p) => write!(f, "{p}"),
            Atom::Sym(s) => write!(f, "{s}"),
            Atom::Gram(i, j) => write!(f, "Phi{}{}", i + 1, j + 1),
            Atom::Corr(i, j) => write!(f, "rho{}{}", i + 1, j + 1),
            Atom::Func(func, i, j) => {
                let r = format!("rho{}{}", i + 1, j + 1);
                match func {
                    Func::ArcCosKernel => write!(f, "J1({r})"),
                    Func::SqrtOneMinusSq => write!(f, "sqrt(1 - {r}^2)"),
                    Func::Arccos => write!(f, "arccos({r})"),
                    Func::ArccosNeg => write!(f, "arccos(-{r})"),
                }
            }
        }
    }
}

impl fmt::Display for Poly {
    /// A plain sum of monomials (the derivation's raw form; `canon` prints the readable one).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return write!(f, "0");
        }
        for (k, (m, c)) in self.0.iter().enumerate() {
            let sign = if c.is_negative() { "-" } else { "+" };
            if k > 0 {
                write!(f, " {sign} ")?;
            } else if c.is_negative() {
                write!(f, "-")?;
            }
            let c = c.abs();
            let mut parts = Vec::new();
            if !c.is_one() || m.0.is_empty() {
                parts.push(c.to_string());
            }
            for (atom, e) in &m.0 {
                if e.is_one() {
                    parts.push(atom.to_string());
                } else {
                    parts.push(format!("{atom}^({e})"));
                }
            }
            write!(f, "{}", parts.join("*"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_roots_of_primes_multiply_to_rationals() {
        let r2 = Poly::atom_pow(Atom::Prime(2), Rational::new(1.into(), 2.into()));
        assert_eq!(r2.mul(&r2), Poly::int(2));
        let inv = Poly::atom_pow(Atom::Prime(2), Rational::new((-1).into(), 2.into()));
        assert_eq!(r2.mul(&inv), Poly::int(1));
        assert_eq!(inv.mul(&inv), Poly::frac(1, 2));
    }

    #[test]
    fn inverse_series_of_one_plus_eps_is_geometric() {
        let eps = Poly::atom(Atom::Eps);
        let x = Poly::int(1).add(&eps);
        let inv = x.inverse_series(3).expect("invertible");
        let expected = Poly::int(1).sub(&eps).add(&eps.pow(2)).sub(&eps.pow(3));
        assert_eq!(inv, expected);
        assert_eq!(inv.mul(&x).truncate_eps(3), Poly::int(1));
    }

    #[test]
    fn substitution_cancels_pi_exactly() {
        // ρ·arccos(−ρ)/(2π) with arccos(−ρ) = π − arccos(ρ): the π part is ρ/2.
        let pi_inv = Poly::atom_pow(Atom::Pi, rat(-1));
        let rho = Poly::atom(Atom::Corr(0, 1));
        let e = rho
            .mul(&Poly::atom(Atom::Func(Func::ArccosNeg, 0, 1)))
            .mul(&pi_inv)
            .scale(&Rational::new(1.into(), 2.into()));
        let by = Poly::atom(Atom::Pi).sub(&Poly::atom(Atom::Func(Func::Arccos, 0, 1)));
        let out = e
            .substitute(&Atom::Func(Func::ArccosNeg, 0, 1), &by)
            .expect("whole powers");
        let expected = rho.scale(&Rational::new(1.into(), 2.into())).sub(
            &rho.mul(&Poly::atom(Atom::Func(Func::Arccos, 0, 1)))
                .mul(&pi_inv)
                .scale(&Rational::new(1.into(), 2.into())),
        );
        assert_eq!(out, expected);
    }
}
