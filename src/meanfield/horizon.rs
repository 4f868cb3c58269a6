//! The exact time change of the SGD schedule: the discretisation step
//! γ_{α,β}(N) = γ^{1/(1−α)} N^{(β−1)/(1−α)} and the number of steps n_T = ⌊T/γ_{α,β}(N)⌋
//! that reach the horizon T.
//!
//! The step is irrational in general (N^{−1/4}), and n_T sits exactly on an integer in
//! the reference settings (β = 1/2, N = 10⁴, T = 100 gives 10⁴, which floating point
//! rounds to 9999), so both are kept exact: the step as a product of rational powers,
//! and n_T as an integer root of a rational computed with big integers.

use super::error::MfError;
use super::model::MeanFieldProgram;
use crate::bounds::{MAX_EXACT_BITS, MAX_MF_STEPS};
use crate::exponent::{format_rational, Exponent, Rational};
use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};
use std::fmt;

/// base^exp with a positive rational base and a rational exponent, exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RatPow {
    /// The base (> 0).
    pub base: Rational,
    /// The exponent.
    pub exp: Rational,
}

impl RatPow {
    /// base^exp in floating point (through logarithms, so huge bases do not overflow).
    pub fn to_f64(&self) -> f64 {
        if self.exp.is_zero() || self.base.is_one() {
            return 1.0;
        }
        let e = self.exp.to_f64().unwrap_or(f64::NAN);
        (e * ln_rational(&self.base)).exp()
    }

    /// The value as a rational when it is one: an integer exponent, or a base whose
    /// numerator and denominator are perfect powers of the exponent's denominator.
    pub fn exact(&self) -> Option<Rational> {
        if self.exp.is_zero() {
            return Some(Rational::one());
        }
        let s = self.exp.denom().to_u32()?;
        let root = |x: &BigInt| {
            let r = x.nth_root(s);
            (num_traits::pow(r.clone(), s as usize) == *x).then_some(r)
        };
        let base = Rational::new(root(self.base.numer())?, root(self.base.denom())?);
        let k = self.exp.numer().to_i32()?;
        Some(base.pow(k))
    }

    /// True when the factor is exactly 1.
    pub fn is_one(&self) -> bool {
        self.exp.is_zero() || self.base.is_one()
    }
}

impl fmt::Display for RatPow {
    /// `1/10`, `1000000^(-1/4)`, `(1/10)^(3/2)`: the exact value when rational.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(q) = self.exact() {
            return write!(f, "{}", format_rational(&q));
        }
        let base = if self.base.is_integer() {
            format_rational(&self.base)
        } else {
            format!("({})", format_rational(&self.base))
        };
        if self.exp.is_integer() && self.exp.is_positive() {
            write!(f, "{base}^{}", format_rational(&self.exp))
        } else {
            write!(f, "{base}^({})", format_rational(&self.exp))
        }
    }
}

/// ln q for a positive rational, without overflow for numerators of thousands of bits.
fn ln_rational(q: &Rational) -> f64 {
    let ln_big = |x: &BigInt| {
        let bits = x.bits();
        // Keep the top 53 bits: ln x = ln(x / 2^shift) + shift ln 2.
        let shift = bits.saturating_sub(60);
        let top: BigInt = x >> shift;
        top.to_f64().unwrap_or(f64::NAN).ln() + shift as f64 * std::f64::consts::LN_2
    };
    ln_big(q.numer()) - ln_big(q.denom())
}

/// The discretisation step γ_{α,β}(N) = γ^{1/(1−α)} · N^{(β−1)/(1−α)} at one N, exactly.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// γ^{1/(1−α)}.
    pub gamma: RatPow,
    /// N^{(β−1)/(1−α)}.
    pub particles: RatPow,
    /// The product in floating point.
    pub value: f64,
}

impl Step {
    /// The step as a rational, when both factors are rational.
    pub fn exact(&self) -> Option<Rational> {
        Some(self.gamma.exact()? * self.particles.exact()?)
    }
}

impl fmt::Display for Step {
    /// The exact rational when there is one (`1/100`), else the nontrivial factors
    /// (`1000000^(-1/4)`, `1/10 * 5000^(-1/4)`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(q) = self.exact() {
            return write!(f, "{}", format_rational(&q));
        }
        let parts: Vec<String> = [&self.gamma, &self.particles]
            .into_iter()
            .filter(|p| !p.is_one())
            .map(|p| p.to_string())
            .collect();
        write!(f, "{}", parts.join(" * "))
    }
}

/// A schedule exponent as a number, or the error that tells which symbol to `--set`.
pub fn numeric(e: &Exponent, name: &str) -> Result<Rational, MfError> {
    match e.as_constant() {
        Some(q) => Ok(q.clone()),
        None => Err(MfError::Symbolic(
            e.terms()
                .keys()
                .next()
                .cloned()
                .unwrap_or_else(|| name.to_string()),
        )),
    }
}

/// The numeric α ∈ [0, 1) and β ∈ [0, 1] of a program, checked: the time change divides
/// by 1 − α, and the theory covers no other range.
pub fn schedule(prog: &MeanFieldProgram) -> Result<(Rational, Rational), MfError> {
    let alpha = numeric(&prog.alpha, "alpha")?;
    let beta = numeric(&prog.beta, "beta")?;
    let zero = Rational::zero();
    let one = Rational::one();
    if alpha < zero || alpha >= one {
        return Err(MfError::OutOfRange {
            what: "alpha".into(),
            value: format_rational(&alpha),
            range: "[0, 1)".into(),
        });
    }
    if beta < zero || beta > one {
        return Err(MfError::OutOfRange {
            what: "beta".into(),
            value: format_rational(&beta),
            range: "[0, 1]".into(),
        });
    }
    if !prog.gamma.is_positive() {
        return Err(MfError::OutOfRange {
            what: "gamma".into(),
            value: format_rational(&prog.gamma),
            range: "(0, inf)".into(),
        });
    }
    Ok((alpha, beta))
}

/// The exponents (1/(1−α), (β−1)/(1−α)) of γ and N in the step.
fn step_exponents(prog: &MeanFieldProgram) -> Result<(Rational, Rational), MfError> {
    let (alpha, beta) = schedule(prog)?;
    let den = Rational::one() - alpha;
    Ok((Rational::one() / &den, (beta - Rational::one()) / den))
}

fn check_particles(n: u64) -> Result<(), MfError> {
    if n == 0 {
        return Err(MfError::OutOfRange {
            what: "N".into(),
            value: "0".into(),
            range: "[1, inf)".into(),
        });
    }
    Ok(())
}

/// γ_{α,β}(N) for `n` particles, exactly (numeric α and β required).
pub fn gamma_step(prog: &MeanFieldProgram, n: u64) -> Result<Step, MfError> {
    check_particles(n)?;
    let (a, b) = step_exponents(prog)?;
    let gamma = RatPow {
        base: prog.gamma.clone(),
        exp: a,
    };
    let particles = RatPow {
        base: Rational::from_integer(BigInt::from(n)),
        exp: b,
    };
    let value = gamma.to_f64() * particles.to_f64();
    Ok(Step {
        gamma,
        particles,
        value,
    })
}

/// n_T = ⌊T / γ_{α,β}(N)⌋, exactly.
///
/// x = T γ^{−a} N^{−b} with a = 1/(1−α), b = (β−1)/(1−α); with q the common denominator
/// of a and b, x^q = T^q γ^{−aq} N^{−bq} is rational, and ⌊x⌋ is the largest integer k
/// with k^q ≤ x^q, i.e. the integer q-th root of ⌊x^q⌋. Refused beyond
/// [`MAX_MF_STEPS`] steps (the simulation would not finish) and when x^q would need more
/// than [`MAX_EXACT_BITS`] bits.
pub fn steps_to_horizon(prog: &MeanFieldProgram, n: u64) -> Result<u64, MfError> {
    check_particles(n)?;
    let (a, b) = step_exponents(prog)?;
    if !prog.horizon.is_positive() {
        return Err(MfError::OutOfRange {
            what: "T".into(),
            value: format_rational(&prog.horizon),
            range: "(0, inf)".into(),
        });
    }
    let q = a.denom().lcm(b.denom());
    let big_a = (&a * Rational::from_integer(q.clone())).to_integer();
    let big_b = (&b * Rational::from_integer(q.clone())).to_integer();
    let bits_of = |r: &Rational| r.numer().bits().max(r.denom().bits());
    let nq = Rational::from_integer(BigInt::from(n));
    let q_u = q.to_u64().unwrap_or(u64::MAX);
    let a_u = big_a.abs().to_u64().unwrap_or(u64::MAX);
    let b_u = big_b.abs().to_u64().unwrap_or(u64::MAX);
    let bits = q_u
        .saturating_mul(bits_of(&prog.horizon))
        .saturating_add(a_u.saturating_mul(bits_of(&prog.gamma)))
        .saturating_add(b_u.saturating_mul(bits_of(&nq)));
    if bits > MAX_EXACT_BITS {
        return Err(MfError::TooLarge {
            bits,
            max: MAX_EXACT_BITS,
        });
    }
    // Within the bit bound every exponent is below 4096, so the conversions succeed.
    let too_large = || MfError::TooLarge {
        bits,
        max: MAX_EXACT_BITS,
    };
    let q_i = i32::try_from(q_u).map_err(|_| too_large())?;
    let a_i = i32::try_from(a_u).map_err(|_| too_large())?;
    let b_i = i32::try_from(b_u).map_err(|_| too_large())?;
    // γ^{−aq} N^{−bq}: a > 0 and b ≤ 0, so the N power is N^{|bq|}.
    let xq = prog.horizon.pow(q_i) / prog.gamma.pow(a_i) * nq.pow(b_i);
    let floor = xq.floor().to_integer();
    let k = floor.nth_root(q_i as u32);
    match k.to_u64() {
        Some(k) if k <= MAX_MF_STEPS => Ok(k),
        _ => Err(MfError::TooManySteps {
            horizon: format_rational(&prog.horizon),
            particles: n,
            max: MAX_MF_STEPS,
            lower: k.to_string(),
        }),
    }
}

/// The per-step learning rate η_j = γ_{α,β}(N)(t_j + 1)^{−α} at step j, t_j = j γ_{α,β}(N),
/// in floating point (what a simulation multiplies by).
pub fn learning_rate(step: f64, alpha: f64, j: u64) -> f64 {
    let t = j as f64 * step;
    step * (t + 1.0).powf(-alpha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_powers_are_recognized() {
        let p = RatPow {
            base: Rational::new(10000.into(), 1.into()),
            exp: Rational::new((-1).into(), 2.into()),
        };
        assert_eq!(p.exact(), Some(Rational::new(1.into(), 100.into())));
        assert_eq!(p.to_string(), "1/100");
        let p = RatPow {
            base: Rational::new(5000.into(), 1.into()),
            exp: Rational::new((-1).into(), 4.into()),
        };
        assert_eq!(p.exact(), None);
        assert_eq!(p.to_string(), "5000^(-1/4)");
        assert!((p.to_f64() - 5000f64.powf(-0.25)).abs() < 1e-15);
    }

    #[test]
    fn logarithm_of_huge_rationals() {
        let big = Rational::from_integer(num_traits::pow(BigInt::from(10), 400));
        assert!((ln_rational(&big) - 400.0 * 10f64.ln()).abs() < 1e-9);
    }
}
