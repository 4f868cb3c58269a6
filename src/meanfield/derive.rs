//! Power counting in N for mean-field SGD, exactly: the step, the number of steps, the
//! noise variance per unit time and the error terms of the propagation of chaos, as
//! exponents of N that are rational functions of α and β (De Bortoli, Durmus, Fontaine &
//! Şimşekli 2020, Theorems 1 and 2).
//!
//! Every exponent here has the denominator 1 − α (the time change t = n γ_{α,β}(N) with
//! γ_{α,β}(N) ∝ N^{(β−1)/(1−α)}), which is positive on the domain α ∈ [0, 1). So two
//! exponents compare like their numerators, which are affine in α and β: the regimes
//! are exact conditions on affine forms, built as [`Cond`]s and simplified by the exact
//! linear programming of `crate::exponent`.

use super::model::MeanFieldProgram;
use crate::exponent::{format_rational, Cond, Exp, Exponent, Rational};
use crate::ir::{ValueId, Var};
use num_traits::{One, Signed, Zero};
use std::collections::BTreeMap;
use std::fmt;

/// An exponent of N that is a ratio of two affine forms in the symbols, num/den; here
/// always over den = 1 − α > 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpRatio {
    /// The numerator.
    pub num: Exponent,
    /// The denominator (positive on the domain).
    pub den: Exponent,
}

/// An affine form with a positive constant written first (`1 - alpha`, not `-alpha + 1`).
pub fn affine_text(e: &Exponent) -> String {
    let c = e.constant_part();
    if c.is_positive() && !e.terms().is_empty() {
        let rest = e.plus(&-c.clone()).to_string();
        match rest.strip_prefix('-') {
            Some(r) => format!("{} - {r}", format_rational(c)),
            None => format!("{} + {rest}", format_rational(c)),
        }
    } else {
        e.to_string()
    }
}

impl ExpRatio {
    /// num/den.
    pub fn new(num: Exponent, den: Exponent) -> Self {
        ExpRatio { num, den }
    }

    /// A constant exponent q (q·den / den, so that it shares the common denominator).
    pub fn constant(q: Rational, den: &Exponent) -> Self {
        ExpRatio {
            num: den.scale(&q),
            den: den.clone(),
        }
    }

    /// The value when the ratio does not depend on the symbols: both parts constant, or
    /// the numerator an exact multiple of the denominator ((α − 1)/(1 − α) = −1).
    pub fn value(&self) -> Option<Rational> {
        if let Some(d) = self.den.as_constant() {
            if d.is_zero() {
                return None;
            }
            return Some(self.num.as_constant()? / d);
        }
        // The multiple is fixed by any symbol's coefficients; then every part must agree.
        let (sym, dq) = self.den.terms().iter().next()?;
        let k = self
            .num
            .terms()
            .get(sym)
            .cloned()
            .unwrap_or_else(Rational::zero)
            / dq;
        (self.den.scale(&k) == self.num).then_some(k)
    }

    /// The value at a point (every symbol given), when the denominator is not 0 there.
    pub fn at(&self, point: &BTreeMap<String, Rational>) -> Option<Rational> {
        let eval = |e: &Exponent| {
            let mut v = e.constant_part().clone();
            for (s, q) in e.terms() {
                v += q * point.get(s)?;
            }
            Some(v)
        };
        let d = eval(&self.den)?;
        if d.is_zero() {
            return None;
        }
        Some(eval(&self.num)? / d)
    }

    /// The exponent plus q (exact: q·den added to the numerator).
    pub fn plus(&self, q: &Rational) -> ExpRatio {
        ExpRatio {
            num: self.num.add(&self.den.scale(q)),
            den: self.den.clone(),
        }
    }

    /// The exponent times q.
    pub fn scale(&self, q: &Rational) -> ExpRatio {
        ExpRatio {
            num: self.num.scale(q),
            den: self.den.clone(),
        }
    }
}

impl fmt::Display for ExpRatio {
    /// `-1/4` when numeric, `(beta - 1)/(1 - alpha)` when symbolic, `2*beta - 2` over a
    /// constant denominator.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(v) = self.value() {
            return write!(f, "{}", format_rational(&v));
        }
        if let Some(d) = self.den.as_constant() {
            if !d.is_zero() {
                return write!(
                    f,
                    "{}",
                    affine_text(&self.num.scale(&(Rational::one() / d)))
                );
            }
        }
        let wrap = |e: &Exponent| {
            let t = affine_text(e);
            if e.terms().len() + usize::from(!e.constant_part().is_zero()) > 1 {
                format!("({t})")
            } else {
                t
            }
        };
        if self.num.is_zero() {
            return write!(f, "0");
        }
        write!(f, "{}/{}", wrap(&self.num), wrap(&self.den))
    }
}

/// The limit the particles follow as N → ∞.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MfRegime {
    /// β < 1: the SGD noise vanishes; the McKean–Vlasov ODE (the paper's eq. (7)).
    Ode,
    /// β = 1: the noise survives; the McKean–Vlasov SDE (eq. (8)).
    Sde,
}

impl MfRegime {
    /// The short name (`ode`, `sde`).
    pub fn name(self) -> &'static str {
        match self {
            MfRegime::Ode => "ode",
            MfRegime::Sde => "sde",
        }
    }

    /// The equation number in De Bortoli et al. (2020).
    pub fn equation(self) -> &'static str {
        match self {
            MfRegime::Ode => "(7)",
            MfRegime::Sde => "(8)",
        }
    }

    /// A one-line description.
    pub fn describe(self) -> &'static str {
        match self {
            MfRegime::Ode => {
                "beta < 1: the SGD noise variance per unit time vanishes like N^((beta-1)/(1-alpha)); the particles follow the McKean-Vlasov ODE"
            }
            MfRegime::Sde => {
                "beta = 1: the SGD noise variance per unit time stays O(1); the particles follow the McKean-Vlasov SDE"
            }
        }
    }
}

/// Where an error or variance term comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// The SGD noise, variance γ_{α,β}(N)/M per unit time.
    Noise,
    /// Propagation of chaos: the interaction through the empirical measure, 1/N.
    Chaos,
    /// The initial sampling of N particles from μ₀.
    Sampling,
    /// The Euler grid of step h = γ_{α,β}(N): a correction of either sign to the measured
    /// error, not a term of the bound.
    Grid,
    /// The next order of the expansion in 1/N of a term (e.g. N^{-2} beside N^{-1}): a
    /// nonnegative correction, not a term of the bound.
    NextOrder,
}

impl Origin {
    /// The short name.
    pub fn name(self) -> &'static str {
        match self {
            Origin::Noise => "sgd-noise",
            Origin::Chaos => "chaos",
            Origin::Sampling => "initial-sampling",
            Origin::Grid => "euler-grid",
            Origin::NextOrder => "next-order",
        }
    }

    /// Whether a fit gives this term's constant either sign: only the Euler grid's
    /// correction (see [`MfDerivation::corrections`]); the bound's terms and the next order
    /// in 1/N are nonnegative.
    pub fn either_sign(self) -> bool {
        self == Origin::Grid
    }
}

/// One term of the bound on E sup_{t ≤ T} |W^{k,N}_t − W^{k,*}_t|²: C · N^exponent · factor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateTerm {
    /// The exponent of N (exact).
    pub exponent: Rational,
    /// The factor beside the power of N: `1/M` or `1`.
    pub factor: String,
    /// Where it comes from.
    pub origin: Origin,
}

/// One term of a variance: C · N^exponent · factor, the exponent possibly symbolic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarianceTerm {
    /// The exponent of N.
    pub exponent: ExpRatio,
    /// The factor beside the power of N: `1/M` or `1`.
    pub factor: String,
    /// Where it comes from.
    pub origin: Origin,
}

/// One row of the power-counting table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PowerRow {
    /// What is counted.
    pub quantity: String,
    /// Its exponent of N.
    pub exponent: ExpRatio,
    /// What the exponent means.
    pub meaning: String,
}

/// A regime of the (α, β) plane with its rate, as an exact condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phase {
    /// The limit equation.
    pub regime: MfRegime,
    /// Where it holds (on the domain α ∈ [0, 1), β ∈ [0, 1]).
    pub condition: Cond,
    /// The exponent of N of the squared pathwise error.
    pub rate: ExpRatio,
    /// The term that sets the rate.
    pub dominant: Origin,
}

/// What the spread of the particles (their empirical variance) follows under literal SGD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpreadLaw {
    /// ∇_w F does not depend on w: every particle gets the same kick from the shared
    /// sample, so the spread follows the ODE exactly at every N.
    OdeExact,
    /// The spread follows the limit's law (the regime's equation) only as N → ∞.
    Limit,
    /// The spread follows the SDE (what independent noise per particle would give).
    Sde,
}

/// The stationary temperature γ^{1/(1−α)}/M of the SDE at β = 1.
#[derive(Clone, Debug, PartialEq)]
pub struct Temperature {
    /// γ^{1/(1−α)}.
    pub gamma: super::horizon::RatPow,
    /// M.
    pub batch: u64,
}

impl Temperature {
    /// The value as a rational when γ^{1/(1−α)} is rational.
    pub fn exact(&self) -> Option<Rational> {
        Some(self.gamma.exact()? / Rational::from_integer(self.batch.into()))
    }

    /// The value in floating point.
    pub fn to_f64(&self) -> f64 {
        self.gamma.to_f64() / self.batch as f64
    }
}

impl fmt::Display for Temperature {
    /// `1/10`, or `(1/10)^(3/2)/4` when irrational.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.exact() {
            Some(q) => write!(f, "{}", format_rational(&q)),
            None if self.batch == 1 => write!(f, "{}", self.gamma),
            None => write!(f, "{}/{}", self.gamma, self.batch),
        }
    }
}

/// Whether Proposition 5 (the stationary law of the SDE as a fixed point) applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prop5 {
    /// α = 0, β = 1, p = 1 and V strongly convex.
    pub applies: bool,
    /// Why, or why not (including how convexity was checked).
    pub reason: String,
}

/// What the derivation found.
#[derive(Clone, Debug, PartialEq)]
pub struct MfDerivation {
    /// α as given.
    pub alpha: Exponent,
    /// β as given.
    pub beta: Exponent,
    /// e_noise = (β − 1)/(1 − α): the exponent of the noise variance per unit time.
    pub noise_exponent: ExpRatio,
    /// The power-counting table.
    pub power: Vec<PowerRow>,
    /// The regime when β is numeric.
    pub regime: Option<MfRegime>,
    /// The regimes and rates as exact conditions (one, `true`, when α and β are numeric).
    pub phases: Vec<Phase>,
    /// The terms of the error bound (numeric α, β; empty otherwise).
    pub rate_terms: Vec<RateTerm>,
    /// The leading exponent: the largest of the terms' (numeric α, β).
    pub leading_rate: Option<Rational>,
    /// Corrections that the measured error carries beside the bound's terms, which a fit
    /// must allow (numeric α, β; the check gives the grid's a free sign and the next
    /// order a nonnegative constant):
    /// - the Euler grid (ODE regime, h = γ_{α,β}(N) ∝ N^e with e < 0): the particle system
    ///   and its reference share the grid, but the noise-driven part of their distance is
    ///   an Euler approximation whose variance differs from the continuous one by a
    ///   relative O(h), so the noise term N^r gains N^{r + e}; (the sup is taken at times
    ///   that do not depend on N, see `SimOptions::sup_points`, so the relative O(√h) of a
    ///   maximum over the grid does not arise);
    /// - the next order in 1/N of the chaos term: the drift and the noise covariance are
    ///   nonlinear in the empirical measure (Σ(w, μ) even in the linear toy), so its
    ///   fluctuation enters at second order too and N^{-1} gains N^{-2}.
    ///
    /// Without them correct derivations FAIL once the data are precise (measured before
    /// they were added: 2 false FAILs in 10 runs on the β = 1/2 teacher).
    pub corrections: Vec<RateTerm>,
    /// ∇_w F reads no w (exact, from the formulas).
    pub common_noise_exact: bool,
    /// What the particles' spread under literal SGD follows.
    pub spread: SpreadLaw,
    /// The seed variance of the particle mean under literal SGD (common noise).
    pub mean_variance_sgd: Vec<VarianceTerm>,
    /// The seed variance of the particle mean under eq. (6) (independent noise).
    pub mean_variance_eq6: Vec<VarianceTerm>,
    /// γ^{1/(1−α)}/M at β = 1 (numeric α).
    pub temperature: Option<Temperature>,
    /// Whether Proposition 5 applies.
    pub prop5: Prop5,
    /// The sign in the exponent of Proposition 5's density: +1 (the zero-flux
    /// solution), −1 under the `stationary-sign` mutation.
    pub stationary_sign: f64,
    /// The deliberate error applied, if any.
    pub mutation: Option<MfMutation>,
}

/// A deliberately wrong derivation, for measuring the check's power.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MfMutation {
    /// Every rate exponent shifted by −1/4 (claims faster convergence).
    RateQuarter,
    /// The common-noise prediction replaced by the independent-noise one.
    IndependentNoise,
    /// Proposition 5's exponent sign flipped (the paper's printed sign).
    StationarySign,
}

impl MfMutation {
    /// Every mutation.
    pub fn all() -> [MfMutation; 3] {
        [
            MfMutation::RateQuarter,
            MfMutation::IndependentNoise,
            MfMutation::StationarySign,
        ]
    }

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            MfMutation::RateQuarter => "rate-quarter",
            MfMutation::IndependentNoise => "independent-noise",
            MfMutation::StationarySign => "stationary-sign",
        }
    }

    /// The mutation with this name.
    pub fn from_name(name: &str) -> Option<MfMutation> {
        MfMutation::all().into_iter().find(|m| m.name() == name)
    }

    /// Whether the mutation changes a prediction that can be tested on `d` (the
    /// unmutated derivation): a rate always; the noise only where the leading exponent of
    /// the mean's seed variance differs (β > α) or the exact ODE spread becomes the SDE
    /// spread (β = 1); the stationary sign only where Proposition 5 applies. With
    /// symbolic α or β the first two may apply and are reported as applying.
    pub fn applies_to(self, d: &MfDerivation) -> bool {
        match self {
            MfMutation::RateQuarter => true,
            MfMutation::IndependentNoise => match (
                MfDerivation::leading(&d.mean_variance_sgd),
                MfDerivation::leading(&d.mean_variance_eq6),
            ) {
                (Some(a), Some(b)) => {
                    a != b || (d.spread == SpreadLaw::OdeExact && d.regime == Some(MfRegime::Sde))
                }
                _ => true,
            },
            MfMutation::StationarySign => d.prop5.applies,
        }
    }
}

fn q(n: i64, d: i64) -> Rational {
    Rational::new(n.into(), d.into())
}

/// Whether every ∂F/∂w_i reads no w: then the shared sample kicks every particle alike.
pub fn grad_independent_of_w(prog: &MeanFieldProgram) -> bool {
    prog.unit_grad
        .iter()
        .all(|g| g.values().iter().all(|v| v.0 >= prog.dim))
}

/// Proposition 5's conditions. Strong convexity of V (p = 1) is checked on V'' =
/// d/dw ∂V/∂w, differentiated symbolically: exactly when V'' is a constant, otherwise by
/// evaluating V'' on 401 points of [−10, 10] (a numerical check, not a proof).
fn prop5(prog: &MeanFieldProgram, alpha: Option<&Rational>, beta: Option<&Rational>) -> Prop5 {
    let no = |why: String| Prop5 {
        applies: false,
        reason: why,
    };
    match (alpha, beta) {
        (Some(a), Some(b)) if a.is_zero() && b.is_one() => {}
        _ => return no("needs alpha = 0 and beta = 1".into()),
    }
    if prog.dim != 1 {
        return no(format!("needs p = 1 (p = {})", prog.dim));
    }
    let Some(grad) = prog.penalty_grad.first() else {
        return no("no penalty: V = 0 is not strongly convex".into());
    };
    let second = match grad.diff(Var::Value(ValueId(0))) {
        Ok(e) => e,
        Err(_) => return no("V'' is not available (a non-differentiable penalty)".into()),
    };
    let at = |w: f64| {
        second.eval(
            &|v| if v.0 == 0 { w } else { f64::NAN },
            0.0,
            1.0,
            &prog.activations,
        )
    };
    if second.values().is_empty() {
        let c = at(0.0);
        return if c > 0.0 {
            Prop5 {
                applies: true,
                reason: format!(
                    "alpha = 0, beta = 1, p = 1, V'' = {} > 0 (exact: V'' is constant)",
                    crate::ir::render_number(c)
                ),
            }
        } else {
            no(format!(
                "V'' = {} is not positive: V is not strongly convex",
                crate::ir::render_number(c)
            ))
        };
    }
    let min = (0..=400)
        .map(|i| at(-10.0 + 0.05 * i as f64))
        .fold(
            f64::INFINITY,
            |m, x| if x.is_nan() { f64::NAN } else { m.min(x) },
        );
    if min > 0.0 {
        Prop5 {
            applies: true,
            reason: format!(
                "alpha = 0, beta = 1, p = 1, min V'' = {min:.6} > 0 on a grid of [-10, 10] (numerical, not a proof)"
            ),
        }
    } else {
        no(format!(
            "V'' is not positive everywhere on [-10, 10] (min {min:.6}): not strongly convex"
        ))
    }
}

/// The power-counting table over the common denominator 1 − α.
fn power_rows(noise: &ExpRatio) -> Vec<PowerRow> {
    let zero = ExpRatio::constant(Rational::zero(), &noise.den);
    let row = |quantity: &str, exponent: ExpRatio, meaning: &str| PowerRow {
        quantity: quantity.into(),
        exponent,
        meaning: meaning.into(),
    };
    vec![
        row(
            "step gamma_(alpha,beta)(N)",
            noise.clone(),
            "time per SGD step: gamma^(1/(1-alpha)) N^((beta-1)/(1-alpha))",
        ),
        row(
            "drift per step",
            noise.clone(),
            "each step moves a particle by O(gamma_(alpha,beta)(N)) h",
        ),
        row(
            "steps to the horizon n_T",
            noise.scale(&-Rational::one()),
            "n_T = floor(T / gamma_(alpha,beta)(N))",
        ),
        row(
            "drift summed over n_T steps",
            zero,
            "O(1): the drift survives as h dt",
        ),
        row(
            "noise variance per step",
            noise.scale(&Rational::from_integer(2.into())),
            "gamma_(alpha,beta)(N)^2 Sigma / M",
        ),
        row(
            "noise variance per unit time",
            noise.clone(),
            "gamma_(alpha,beta)(N) Sigma / M: O(1) iff beta = 1 (SDE), -> 0 iff beta < 1 (ODE)",
        ),
    ]
}

/// The phases over the symbols: {β = 1}: SDE, rate −1; {β < 1, noise ≤ chaos}: ODE,
/// rate −1; {β < 1, chaos < noise}: ODE, rate (β−1)/(1−α). The comparison of
/// (β−1)/(1−α) with −1 = (α−1)/(1−α) is that of the numerators, since 1 − α > 0.
fn phases(noise: &ExpRatio, beta: &Exponent) -> Vec<Phase> {
    let one = Exp::constant(Rational::one());
    let b = Exp::affine(beta.clone());
    let chaos = ExpRatio::constant(-Rational::one(), &noise.den);
    let noise_num = Exp::affine(noise.num.clone());
    let chaos_num = Exp::affine(chaos.num.clone());
    let ode = Cond::lt(b.clone(), one.clone());
    vec![
        Phase {
            regime: MfRegime::Sde,
            condition: Cond::eq(b, one).simplify(),
            rate: chaos.clone(),
            dominant: Origin::Chaos,
        },
        Phase {
            regime: MfRegime::Ode,
            condition: Cond::And(vec![
                ode.clone(),
                Cond::le(noise_num.clone(), chaos_num.clone()),
            ])
            .simplify(),
            rate: chaos,
            dominant: Origin::Chaos,
        },
        Phase {
            regime: MfRegime::Ode,
            condition: Cond::And(vec![ode, Cond::lt(chaos_num, noise_num)]).simplify(),
            rate: noise.clone(),
            dominant: Origin::Noise,
        },
    ]
    .into_iter()
    .filter(|p| p.condition != Cond::False)
    .collect()
}

/// Derives the power counting of `prog`, optionally with a deliberate error.
pub fn derive(prog: &MeanFieldProgram, mutation: Option<MfMutation>) -> MfDerivation {
    let one = Exponent::constant(Rational::one());
    let den = one.sub(&prog.alpha);
    let noise = ExpRatio::new(prog.beta.sub(&one), den.clone());
    let alpha = prog.alpha.as_constant();
    let beta = prog.beta.as_constant();
    let regime = beta.map(|b| {
        if b.is_one() {
            MfRegime::Sde
        } else {
            MfRegime::Ode
        }
    });
    let mut phases = phases(&noise, &prog.beta);
    let mut rate_terms = Vec::new();
    if let (Some(e), Some(r)) = (noise.value(), regime) {
        if r == MfRegime::Ode {
            rate_terms.push(RateTerm {
                exponent: e,
                factor: "1/M".into(),
                origin: Origin::Noise,
            });
        }
        rate_terms.push(RateTerm {
            exponent: -Rational::one(),
            factor: "1".into(),
            origin: Origin::Chaos,
        });
    }
    let common_noise_exact = grad_independent_of_w(prog);
    let mut spread = if common_noise_exact {
        SpreadLaw::OdeExact
    } else {
        SpreadLaw::Limit
    };
    let sampling = VarianceTerm {
        exponent: ExpRatio::constant(-Rational::one(), &den),
        factor: "1".into(),
        origin: Origin::Sampling,
    };
    let mean_variance_eq6 = vec![
        VarianceTerm {
            exponent: noise.plus(&-Rational::one()),
            factor: "1/M".into(),
            origin: Origin::Noise,
        },
        sampling.clone(),
    ];
    let mut mean_variance_sgd = vec![
        VarianceTerm {
            exponent: noise.clone(),
            factor: "1/M".into(),
            origin: Origin::Noise,
        },
        sampling,
    ];
    let temperature = match (alpha, regime) {
        (Some(a), Some(MfRegime::Sde)) if *a < Rational::one() => Some(Temperature {
            gamma: super::horizon::RatPow {
                base: prog.gamma.clone(),
                exp: Rational::one() / (Rational::one() - a),
            },
            batch: prog.batch.max(1),
        }),
        _ => None,
    };
    let prop5 = prop5(prog, alpha, beta);
    let mut stationary_sign = 1.0;
    match mutation {
        Some(MfMutation::RateQuarter) => {
            let shift = q(-1, 4);
            for t in &mut rate_terms {
                t.exponent += &shift;
            }
            for p in &mut phases {
                p.rate = p.rate.plus(&shift);
            }
        }
        Some(MfMutation::IndependentNoise) => {
            mean_variance_sgd = mean_variance_eq6.clone();
            if spread == SpreadLaw::OdeExact {
                spread = SpreadLaw::Sde;
            }
        }
        // Without Proposition 5 there is no stationary law whose sign could flip.
        Some(MfMutation::StationarySign) if prop5.applies => stationary_sign = -1.0,
        Some(MfMutation::StationarySign) | None => {}
    }
    let leading_rate = rate_terms.iter().map(|t| t.exponent.clone()).max();
    let mut corrections: Vec<RateTerm> = Vec::new();
    if let (Some(e), Some(MfRegime::Ode)) = (noise.value(), regime) {
        if e < Rational::zero() {
            for t in rate_terms.iter().filter(|t| t.origin == Origin::Noise) {
                corrections.push(RateTerm {
                    exponent: &t.exponent + &e,
                    factor: t.factor.clone(),
                    origin: Origin::Grid,
                });
            }
        }
    }
    for t in rate_terms.iter().filter(|t| t.origin == Origin::Chaos) {
        let exponent = &t.exponent - Rational::one();
        if !corrections.iter().any(|c| c.exponent == exponent) {
            corrections.push(RateTerm {
                exponent,
                factor: t.factor.clone(),
                origin: Origin::NextOrder,
            });
        }
    }
    MfDerivation {
        alpha: prog.alpha.clone(),
        beta: prog.beta.clone(),
        power: power_rows(&noise),
        noise_exponent: noise,
        regime,
        phases,
        rate_terms,
        leading_rate,
        corrections,
        common_noise_exact,
        spread,
        mean_variance_sgd,
        mean_variance_eq6,
        temperature,
        prop5,
        stationary_sign,
        mutation,
    }
}

impl MfDerivation {
    /// The phase whose condition holds at a point of the symbols (None off the domain or
    /// when a symbol is missing).
    pub fn phase_at(&self, point: &BTreeMap<String, Rational>) -> Option<&Phase> {
        self.phases
            .iter()
            .find(|p| p.condition.holds_at(point) == Some(true))
    }

    /// The leading exponent of a list of variance terms, when numeric.
    pub fn leading(terms: &[VarianceTerm]) -> Option<Rational> {
        terms
            .iter()
            .map(|t| t.exponent.value())
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max()
    }
}
