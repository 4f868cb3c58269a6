//! The neural covariance SDE derived from the activation's Taylor data: one layer's
//! conditional mean and covariance of the Gram matrix expanded in ε = n^{-p}, the
//! normalization constant c = 1/E φ_S(g)² expanded with it, and the terms sorted by
//! order. Everything is exact (`Poly`); nothing here is tabulated from the paper.
//!
//! One layer: given Φ_ℓ, the rows of h_{ℓ+1} are i.i.d. N(0, Φ_ℓ), and
//! Φ_{ℓ+1}^{αβ} = (c/n) Σ_i φ_S(g_i^α) φ_S(g_i^β). So
//! E[Φ_{ℓ+1}^{αβ} | Φ_ℓ] = c E[φ_S(g^α) φ_S(g^β)] = Φ^{αβ} + Σ_k ε^k D_k(Φ), and
//! n Cov(Φ_{ℓ+1}^{αβ}, Φ_{ℓ+1}^{γδ} | Φ_ℓ) = Σ(Φ) + O(ε). Over d = τn layers the drift
//! D_k adds up to n^{1−kp} τ and the noise to a Brownian motion in τ.

use super::model::{ShapedAct, ShapedError, ShapedProgram};
use super::moments::{self, gram, PiecewiseLinear, Univariate};
use super::poly::{Atom, Poly};
use crate::exponent::{Cond, Exp, Exponent, Rational};
use num_traits::{One, Zero};

/// The order in ε to which one layer is expanded.
pub const ORDER: i64 = 3;

/// What the derivation found.
#[derive(Clone, Debug)]
pub struct ShapedDerivation {
    /// Shaped ReLU or smooth shaping.
    pub family: Family,
    /// c as a series in ε (the normalization constant 1/E φ_S(g)², g ~ N(0, 1)).
    pub c_series: Poly,
    /// The per-layer conditional mean increment of Φ^{αβ} (α ≠ β) by order in ε:
    /// `offdiag_series[k]` = D_k in the atoms Φ^{αα}, Φ^{αβ}, Φ^{ββ} (indices 0, 1).
    pub offdiag_series: Vec<Poly>,
    /// The same for a diagonal entry Φ^{αα} (index 0).
    pub diag_series: Vec<Poly>,
    /// The lowest order k with D_k ≠ 0 (the drift's order), if any.
    pub drift_order: Option<i64>,
    /// The drift b^{αβ} = D_{k*} (atoms Φ^{αα}, Φ^{αβ}, Φ^{ββ}), for α ≠ β.
    pub drift_offdiag: Poly,
    /// The drift b^{αα} = D_{k*} of a diagonal entry (atom Φ^{αα}).
    pub drift_diag: Poly,
    /// Shaped ReLU: ν(ρ) with b^{αβ} = √(Φ^{αα}Φ^{ββ}) ν(ρ^{αβ}), in the atoms ρ,
    /// √(1−ρ²) and arccos ρ.
    pub nu: Option<Poly>,
    /// Smooth shaping: b = ¾φ''(0)² + φ'''(0) (times a^{-2} in the drift).
    pub b: Option<Poly>,
    /// The diffusion Σ(Φ)^{αβ,γδ} for four distinct indices 0, 1, 2, 3.
    pub diffusion: Poly,
    /// The lowest order above the drift's with a nonzero mean term (the weak-error order).
    pub correction_order: Option<i64>,
}

/// Which shaping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// φ_S(x) = S₊ max(x, 0) + S₋ min(x, 0), S± = 1 + c± ε.
    Relu,
    /// φ_S(x) = S φ(x/S), S = a/ε.
    Smooth,
}

/// A deliberately wrong derivation, for measuring the check's power.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShapedMutation {
    /// The lecture notes' sign: ν(ρ) with + ρ arccos ρ.
    LectureNuSign,
    /// The drift doubled.
    DriftTimesTwo,
    /// b without the normalization constant: c taken as 1.
    NoNormalization,
}

impl ShapedMutation {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ShapedMutation::LectureNuSign => "lecture-nu-sign",
            ShapedMutation::DriftTimesTwo => "drift-times-two",
            ShapedMutation::NoNormalization => "no-normalization",
        }
    }

    /// Whether the mutation changes the derivation of `prog`.
    pub fn applies_to(self, prog: &ShapedProgram) -> bool {
        match self {
            ShapedMutation::LectureNuSign => matches!(prog.act, ShapedAct::Relu { .. }),
            ShapedMutation::NoNormalization => matches!(prog.act, ShapedAct::Smooth(_)),
            ShapedMutation::DriftTimesTwo => true,
        }
    }

    /// Every mutation.
    pub fn all() -> [ShapedMutation; 3] {
        [
            ShapedMutation::LectureNuSign,
            ShapedMutation::DriftTimesTwo,
            ShapedMutation::NoNormalization,
        ]
    }
}

fn eps() -> Poly {
    Poly::atom(Atom::Eps)
}

/// Derives the Gram SDE of `prog`, optionally with a deliberate error.
pub fn derive(
    prog: &ShapedProgram,
    mutation: Option<ShapedMutation>,
) -> Result<ShapedDerivation, ShapedError> {
    let normalized = mutation != Some(ShapedMutation::NoNormalization);
    let (family, mean_offdiag, mean_diag, c_series) = match &prog.act {
        ShapedAct::Relu { c_plus, c_minus } => {
            // φ_S = S₋ g + (S₊ − S₋) relu(g).
            let s_plus = Poly::int(1).add(&c_plus.mul(&eps()));
            let s_minus = Poly::int(1).add(&c_minus.mul(&eps()));
            let phi = PiecewiseLinear {
                lin: s_minus.clone(),
                relu: s_plus.sub(&s_minus),
            };
            let second = moments::piecewise_moment(&phi, 0, &phi, 0)
                .substitute(&Atom::Gram(0, 0), &Poly::int(1))
                .unwrap_or_default();
            let c = inverse(&second, normalized)?;
            let off = c
                .mul(&moments::piecewise_moment(&phi, 0, &phi, 1))
                .truncate_eps(ORDER);
            let diag = c
                .mul(&moments::piecewise_moment(&phi, 0, &phi, 0))
                .truncate_eps(ORDER);
            (Family::Relu, off, diag, c)
        }
        ShapedAct::Smooth(s) => {
            let t = s.normalized_taylor()?;
            // φ_S(x) = Σ_k φ^{(k)}(0)/k! x^k (ε/a)^{k−1}, φ(0) = 0.
            let a_inv = s.a.inverse_series(0).ok_or(ShapedError::ZeroSlope)?;
            let mut phi: Univariate = vec![Poly::zero(); 4];
            let mut scale = Poly::int(1);
            let mut factorial = 1i64;
            for (k, coef) in t.iter().enumerate().skip(1) {
                factorial *= k as i64;
                phi[k] = coef.mul(&scale).mul(&Poly::frac(1, factorial));
                scale = scale.mul(&eps()).mul(&a_inv);
            }
            let second = moments::pair_moment(&phi, 0, &phi, 0)
                .substitute(&Atom::Gram(0, 0), &Poly::int(1))
                .unwrap_or_default();
            let c = inverse(&second, normalized)?;
            let off = c
                .mul(&moments::pair_moment(&phi, 0, &phi, 1))
                .truncate_eps(ORDER);
            let diag = c
                .mul(&moments::pair_moment(&phi, 0, &phi, 0))
                .truncate_eps(ORDER);
            (Family::Smooth, off, diag, c)
        }
    };
    let series = |mean: &Poly, identity: Poly| -> Vec<Poly> {
        (0..=ORDER)
            .map(|k| {
                let d = mean.eps_coefficient(k);
                if k == 0 {
                    d.sub(&identity)
                } else {
                    d
                }
            })
            .collect()
    };
    let mut offdiag_series = series(&mean_offdiag, gram(0, 1));
    let diag_series = series(&mean_diag, gram(0, 0));
    if family == Family::Relu {
        for d in offdiag_series.iter_mut() {
            *d = relu_form(d).unwrap_or_else(|| d.clone());
        }
    }
    let drift_order = (1..=ORDER)
        .find(|&k| !offdiag_series[k as usize].is_zero() || !diag_series[k as usize].is_zero());
    let pick = |s: &[Poly]| {
        drift_order
            .map(|k| s[k as usize].clone())
            .unwrap_or_default()
    };
    let mut drift_offdiag = pick(&offdiag_series);
    let mut drift_diag = pick(&diag_series);
    let correction_order = drift_order.and_then(|k| {
        (k + 1..=ORDER)
            .find(|&j| !offdiag_series[j as usize].is_zero() || !diag_series[j as usize].is_zero())
    });
    let sqrt_prod = Poly::atom_pow(Atom::Gram(0, 0), moments::half_q())
        .mul(&Poly::atom_pow(Atom::Gram(1, 1), moments::half_q()));
    let mut nu = match family {
        Family::Relu => Some(divide_monomial(&drift_offdiag, &sqrt_prod)),
        Family::Smooth => None,
    };
    if mutation == Some(ShapedMutation::LectureNuSign) {
        // The notes print + ρ arccos ρ: flip the sign of that term.
        if let Some(n) = &nu {
            let flipped = flip_arccos_sign(n);
            drift_offdiag = flipped.mul(&sqrt_prod);
            nu = Some(flipped);
        }
    }
    if mutation == Some(ShapedMutation::DriftTimesTwo) {
        let two = Rational::from_integer(2.into());
        drift_offdiag = drift_offdiag.scale(&two);
        drift_diag = drift_diag.scale(&two);
        nu = nu.map(|n| n.scale(&two));
    }
    let b = match (&prog.act, family) {
        (ShapedAct::Smooth(s), Family::Smooth) => {
            // The scalar drift is (b/a²) Φ(Φ − 1): read b off the diagonal drift.
            let a2 = s.a.mul(&s.a);
            let b = logistic_coefficient(&drift_diag).map(|q| q.mul(&a2));
            b.or_else(|| Some(drift_diag.mul(&a2)))
        }
        _ => None,
    };
    let diffusion = diffusion_leading();
    Ok(ShapedDerivation {
        family,
        c_series,
        offdiag_series,
        diag_series,
        drift_order,
        drift_offdiag,
        drift_diag,
        nu,
        b,
        diffusion,
        correction_order,
    })
}

/// 1/second as a series (or 1 for the no-normalization mutation).
fn inverse(second: &Poly, normalized: bool) -> Result<Poly, ShapedError> {
    if !normalized {
        return Ok(Poly::int(1));
    }
    second.inverse_series(ORDER).ok_or(ShapedError::ZeroSlope)
}

/// A ReLU drift term in the correlation form: Φ^{αβ} = ρ √(Φ^{αα}Φ^{ββ}) and the
/// arc-cosine kernel written out.
fn relu_form(d: &Poly) -> Option<Poly> {
    let rho_form = Poly::atom(Atom::Corr(0, 1))
        .mul(&Poly::atom_pow(Atom::Gram(0, 0), moments::half_q()))
        .mul(&Poly::atom_pow(Atom::Gram(1, 1), moments::half_q()));
    let d = d.substitute(&Atom::Gram(0, 1), &rho_form)?;
    moments::expand_arccos_kernel(&d, 0, 1)
}

/// p / m for a monomial m (exact: exponents subtract).
fn divide_monomial(p: &Poly, m: &Poly) -> Poly {
    match m.0.iter().next() {
        Some((mono, c)) if m.0.len() == 1 => {
            let inverse = super::poly::Monomial(
                mono.0
                    .iter()
                    .map(|(atom, e)| (atom.clone(), -e.clone()))
                    .collect(),
            );
            p.mul(&Poly::monomial(&inverse))
                .scale(&(Rational::one() / c))
        }
        _ => p.clone(),
    }
}

/// β with b^{αα} = β Φ^{αα}(Φ^{αα} − 1), when the diagonal drift (atom Φ^{αα}) has
/// that logistic form: β is read off at Φ = 2 and the product checked exactly.
pub fn logistic_coefficient(drift_diag: &Poly) -> Option<Poly> {
    let phi = gram(0, 0);
    let shape = phi.mul(&phi.sub(&Poly::int(1)));
    let beta = drift_diag
        .substitute(&Atom::Gram(0, 0), &Poly::int(2))?
        .scale(&moments::half_q());
    (shape.mul(&beta) == *drift_diag).then_some(beta)
}

/// ν with the sign of its ρ arccos ρ term flipped (the lecture notes' misprint).
fn flip_arccos_sign(nu: &Poly) -> Poly {
    let arccos = Atom::Func(super::poly::Func::Arccos, 0, 1);
    let mut out = Poly::zero();
    for (m, c) in &nu.0 {
        let mut term = Poly::monomial(m).scale(c);
        if !m.exponent(&arccos).is_zero() {
            term = term.neg();
        }
        out = out.add(&term);
    }
    out
}

/// n Cov(Φ^{αβ}, Φ^{γδ}) at leading order: φ_S → identity, so the covariance of
/// g^α g^β and g^γ g^δ by Isserlis (indices 0, 1, 2, 3).
fn diffusion_leading() -> Poly {
    moments::isserlis(&[0, 1, 2, 3]).sub(&gram(0, 1).mul(&gram(2, 3)))
}

impl ShapedDerivation {
    /// The limit of the linear regime (p above critical): the same diffusion, no drift.
    pub fn without_drift(&self) -> ShapedDerivation {
        ShapedDerivation {
            drift_offdiag: Poly::zero(),
            drift_diag: Poly::zero(),
            ..self.clone()
        }
    }
}

/// The regimes of the shaping exponent p.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShapedRegime {
    /// p = 1/k*: drift and noise both of order 1 in τ; the neural covariance SDE.
    CriticalSde,
    /// p > 1/k*: the shaping vanishes too fast; the Gram matrix follows the
    /// driftless SDE of a linear network.
    Linear,
    /// p < 1/k*: the drift adds up to n^{1−k*p} → ∞; no limit on the scale d = τn.
    Degenerate,
    /// The drift vanishes at every order computed (the activation is linear).
    NoDrift,
}

impl ShapedRegime {
    /// A one-line description.
    pub fn describe(self) -> &'static str {
        match self {
            ShapedRegime::CriticalSde => {
                "critical shaping: drift and noise both O(1) in tau; the Gram matrix follows the neural covariance SDE"
            }
            ShapedRegime::Linear => {
                "shaping too weak: the drift sums to o(1); the limit is the driftless SDE of a linear network"
            }
            ShapedRegime::Degenerate => {
                "shaping too strong: the drift sums to n^(1-k p) -> infinity; no limit at depth tau*n (the deterministic flow of b runs on the accelerated clock n^(1-k p) tau)"
            }
            ShapedRegime::NoDrift => "the activation is linear to the order computed: no drift at any p",
        }
    }
}

/// The exponent of n of the drift summed over d = τn layers: 1 − k* p.
pub fn total_drift_exponent(d: &ShapedDerivation, p: &Exponent) -> Option<Exponent> {
    let k = d.drift_order?;
    Some(Exponent::constant(Rational::one()).sub(&p.scale(&Rational::from_integer(k.into()))))
}

/// The regimes as exact conditions on the symbols of p.
pub fn regimes(d: &ShapedDerivation, p: &Exponent) -> Vec<(ShapedRegime, Cond)> {
    let Some(e) = total_drift_exponent(d, p) else {
        return vec![(ShapedRegime::NoDrift, Cond::True)];
    };
    let zero = Exp::Affine(Exponent::zero());
    let e = Exp::Affine(e);
    vec![
        (
            ShapedRegime::CriticalSde,
            Cond::eq(e.clone(), zero.clone()).simplify(),
        ),
        (
            ShapedRegime::Linear,
            Cond::lt(e.clone(), zero.clone()).simplify(),
        ),
        (ShapedRegime::Degenerate, Cond::lt(zero, e).simplify()),
    ]
    .into_iter()
    .filter(|(_, c)| *c != Cond::False)
    .collect()
}

/// The exponent r of the weak error n^{-r} of the Gram law at the critical p = 1/k*:
/// the first nonzero mean correction D_j adds up to n^{1 − j/k*}, and the noise's
/// covariance corrections and third cumulants to n^{-1}.
pub fn weak_rate(d: &ShapedDerivation) -> Option<Rational> {
    let k = d.drift_order?;
    let one = Rational::one();
    let from_mean = d
        .correction_order
        .map(|j| Rational::new(j.into(), k.into()) - &one)
        .unwrap_or_else(|| one.clone());
    Some(if from_mean < one { from_mean } else { one })
}

/// The correlation ρ = Φ^{αβ}/√(Φ^{αα}Φ^{ββ}) of two inputs by Itô's lemma on the Gram
/// SDE: its drift A ρ = Σ_x b_x ∂_x ρ + ½ Σ_{x,y} Σ_{x,y} ∂²_{xy} ρ and its squared
/// diffusion Σ_{x,y} ∂_x ρ ∂_y ρ Σ_{x,y}, over the entries x, y of {Φ^{αα}, Φ^{αβ},
/// Φ^{ββ}} with Σ_{Φ^{ij},Φ^{kl}} = Φ^{ik}Φ^{jl} + Φ^{il}Φ^{jk}. Returned in ρ (and the
/// diagonal entries, where they do not cancel).
pub fn correlation_sde(d: &ShapedDerivation) -> Option<(Poly, Poly)> {
    let half = moments::half_q();
    let entries = [(0usize, 0usize), (0, 1), (1, 1)];
    let atom = |(i, j): (usize, usize)| Atom::Gram(i, j);
    let rho = gram(0, 1)
        .mul(&Poly::atom_pow(Atom::Gram(0, 0), -half.clone()))
        .mul(&Poly::atom_pow(Atom::Gram(1, 1), -half.clone()));
    let drift_of = |(i, j): (usize, usize)| -> Option<Poly> {
        if i == j {
            d.drift_diag.substitute(&Atom::Gram(0, 0), &gram(i, i))
        } else {
            Some(d.drift_offdiag.clone())
        }
    };
    let sigma = |(i, j): (usize, usize), (k, l): (usize, usize)| {
        gram(i, k)
            .mul(&gram(j, l))
            .add(&gram(i, l).mul(&gram(j, k)))
    };
    let mut drift = Poly::zero();
    let mut variance = Poly::zero();
    for x in entries {
        let dx = rho.diff(&atom(x));
        drift = drift.add(&dx.mul(&drift_of(x)?));
        for y in entries {
            let dy = rho.diff(&atom(y));
            let s = sigma(x, y);
            drift = drift.add(&dx.diff(&atom(y)).mul(&s).scale(&half));
            variance = variance.add(&dx.mul(&dy).mul(&s));
        }
    }
    let rho_form = Poly::atom(Atom::Corr(0, 1))
        .mul(&Poly::atom_pow(Atom::Gram(0, 0), half.clone()))
        .mul(&Poly::atom_pow(Atom::Gram(1, 1), half));
    let to_rho = |p: &Poly| p.substitute(&Atom::Gram(0, 1), &rho_form);
    Some((to_rho(&drift)?, to_rho(&variance)?))
}
