//! The scalar blow-up analysis of a shaped network's Gram SDE (one input, m = 1):
//! dX = b X (X − 1) dτ + √2 X dB, with b the effective drift coefficient (b/a² for the
//! smooth shaping S = a√n, where b = ¾φ''(0)² + φ'''(0); Li, Nica & Roy 2022).
//!
//! Three views of one question, each checking the others in the tests: the
//! deterministic logistic equation Ẋ = bX(X − 1) in closed form, Feller's boundary
//! classification of the SDE (the probability of eventual blow-up as a regularized
//! incomplete gamma function), and a Monte Carlo of the SDE in log coordinates with its
//! binomial standard error and step-size bias.

use crate::solve::gram::path_rng;
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

/// Why a blow-up computation refuses its arguments.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BlowupError {
    /// An argument is not a finite number or is outside its domain.
    #[error("{what} = {value} is not allowed: {why}")]
    BadArgument {
        /// Which argument.
        what: &'static str,
        /// Its value.
        value: f64,
        /// What it must be.
        why: &'static str,
    },
}

fn bad(what: &'static str, value: f64, why: &'static str) -> BlowupError {
    BlowupError::BadArgument { what, value, why }
}

/// The solution of the logistic equation Ẋ = bX(X − 1), X(0) = x₀:
/// X_t = x₀ / (x₀ + (1 − x₀) e^{bt}) (substitute Y = 1/X: Ẏ = b(Y − 1), so
/// Y_t − 1 = (1/x₀ − 1) e^{bt}). At and after the blow-up time
/// ([`logistic_blowup_time`]) the formula continues on the other branch of the
/// hyperbola, which is not the solution: there the value is +∞ (−∞ when x₀ < 0).
pub fn logistic(b: f64, x0: f64, t: f64) -> f64 {
    if x0 == 1.0 || x0 == 0.0 || b == 0.0 {
        return x0;
    }
    if let Some(star) = logistic_blowup_time(b, x0) {
        if t >= star {
            return if x0 > 0.0 {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            };
        }
    }
    // e^{bt} may overflow to ∞ for large bt; x₀ ≠ 1 here, so (1 − x₀)·∞ is ±∞, not NaN,
    // and the quotient correctly tends to 0.
    x0 / (x0 + (1.0 - x0) * (b * t).exp())
}

/// The blow-up time of Ẋ = bX(X − 1), X(0) = x₀: the zero of the denominator of
/// [`logistic`], t* = (1/b) log(x₀/(x₀ − 1)), when it is positive. That happens for
/// b > 0 and x₀ > 1 (blow-up to +∞), and — outside the Gram setting, where X ≥ 0 —
/// for b < 0 and x₀ < 0 (to −∞). `None` otherwise: the solution exists for all t ≥ 0.
pub fn logistic_blowup_time(b: f64, x0: f64) -> Option<f64> {
    let ratio = x0 / (x0 - 1.0);
    if b == 0.0 || ratio.is_nan() || ratio <= 0.0 || !ratio.is_finite() {
        return None;
    }
    let t = ratio.ln() / b;
    (t > 0.0).then_some(t)
}

/// lim_{t→∞} X_t for Ẋ = bX(X − 1), X(0) = x₀ ≥ 0: x₀ when b = 0 or x₀ ∈ {0, 1} (fixed
/// points), 1 when b < 0 (1 attracts), 0 when b > 0 and x₀ < 1 (0 attracts); `None`
/// when the solution blows up in finite time (b > 0, x₀ > 1, or b < 0, x₀ < 0).
pub fn logistic_limit(b: f64, x0: f64) -> Option<f64> {
    if b == 0.0 || x0 == 0.0 || x0 == 1.0 {
        return Some(x0);
    }
    if logistic_blowup_time(b, x0).is_some() {
        return None;
    }
    Some(if b < 0.0 { 1.0 } else { 0.0 })
}

/// ln Γ(x) for x > 0 by Lanczos' approximation (g = 7, nine terms; relative error of
/// Γ about 1e-15), with Γ(x) = Γ(x + 1)/x below 1/2 so the series is used where it is
/// accurate. NaN for x ≤ 0 or NaN.
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x < 0.5 {
        return ln_gamma(x + 1.0) - x.ln();
    }
    let z = x - 1.0;
    let mut sum = C[0];
    for (i, &c) in C.iter().enumerate().skip(1) {
        sum += c / (z + i as f64);
    }
    let t = z + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (z + 0.5) * t.ln() - t + sum.ln()
}

/// The regularized lower incomplete gamma function P(a, x) = γ(a, x)/Γ(a) for a > 0,
/// x ≥ 0, to about 1e-13 relative accuracy.
///
/// For x < a + 1 the series P = x^a e^{−x}/Γ(a + 1) Σ_k x^k / ((a+1)…(a+k)) (positive
/// terms, fast); otherwise Q = 1 − P from the continued fraction of Γ(a, x)
/// (Legendre's, evaluated by the modified Lentz algorithm), which converges fast there.
/// Errors on a ≤ 0, x < 0 or non-finite arguments.
pub fn gamma_p(a: f64, x: f64) -> Result<f64, BlowupError> {
    check_gamma_args(a, x)?;
    if x == 0.0 {
        return Ok(0.0);
    }
    Ok(if x < a + 1.0 {
        gamma_series(a, x)
    } else {
        1.0 - gamma_continued_fraction(a, x)
    })
}

/// The regularized upper incomplete gamma function Q(a, x) = 1 − P(a, x), computed
/// directly where it is small (x ≥ a + 1) so that its relative accuracy survives.
pub fn gamma_q(a: f64, x: f64) -> Result<f64, BlowupError> {
    check_gamma_args(a, x)?;
    if x == 0.0 {
        return Ok(1.0);
    }
    Ok(if x < a + 1.0 {
        1.0 - gamma_series(a, x)
    } else {
        gamma_continued_fraction(a, x)
    })
}

fn check_gamma_args(a: f64, x: f64) -> Result<(), BlowupError> {
    if !(a > 0.0 && a.is_finite()) {
        return Err(bad("a", a, "the shape must be a positive number"));
    }
    if x.is_nan() || x < 0.0 {
        return Err(bad("x", x, "the argument must be a number ≥ 0"));
    }
    Ok(())
}

/// e^{a ln x − x − ln Γ(a)}, the common prefactor x^a e^{−x}/Γ(a).
fn gamma_prefactor(a: f64, x: f64) -> f64 {
    if x.is_infinite() {
        return 0.0;
    }
    (a * x.ln() - x - ln_gamma(a)).exp()
}

/// P(a, x) by its series; used for x < a + 1 where the terms shrink at least like
/// (x/(a+1))^k.
fn gamma_series(a: f64, x: f64) -> f64 {
    let mut term = 1.0 / a;
    let mut sum = term;
    let mut ap = a;
    for _ in 0..10_000 {
        ap += 1.0;
        term *= x / ap;
        sum += term;
        if term.abs() < sum.abs() * 1e-17 {
            break;
        }
    }
    (sum * gamma_prefactor(a, x)).min(1.0)
}

/// Q(a, x) by the continued fraction Γ(a,x) = e^{−x}x^a (1/(x+1−a−) 1·(1−a)/(x+3−a−)
/// 2(2−a)/(x+5−a−) …), evaluated by the modified Lentz algorithm; used for x ≥ a + 1.
fn gamma_continued_fraction(a: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..10_000 {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < TINY {
            d = TINY;
        }
        c = b + an / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (gamma_prefactor(a, x) * h).clamp(0.0, 1.0)
}

/// The probability that dX = bX(X − 1) dτ + √2 X dB started at x₀ > 0 ever blows up.
///
/// Feller's boundary classification: the scale density is
/// s'(x) = exp(−∫ 2·bx(x − 1)/(2x²) dx) = x^b e^{−bx}. For b ≤ 0 the scale function
/// S(x) = ∫₀^x s' diverges at ∞ (or the drift pulls inward), so ∞ is not reached: the
/// probability is 0. For b > 0, S(∞) = Γ(b + 1)/b^{b+1} is finite, ∞ is an exit
/// boundary reached in finite time, 0 is natural (approached, never reached), and
/// P(blow-up) = (S(x₀) − S(0))/(S(∞) − S(0)) = P(b + 1, b x₀), the regularized lower
/// incomplete gamma function ([`gamma_p`]). For instance b = 1, x₀ = 1 gives 1 − 2/e.
pub fn feller_blowup_probability(b: f64, x0: f64) -> Result<f64, BlowupError> {
    if !b.is_finite() {
        return Err(bad("b", b, "the drift coefficient must be finite"));
    }
    if !(x0 > 0.0 && x0.is_finite()) {
        return Err(bad("x0", x0, "the start must be a positive number"));
    }
    if b <= 0.0 {
        return Ok(0.0);
    }
    gamma_p(b + 1.0, b * x0)
}

/// How to run [`blowup_monte_carlo`].
#[derive(Clone, Debug, PartialEq)]
pub struct BlowupMcOptions {
    /// The effective drift coefficient b.
    pub b: f64,
    /// The start x₀ > 0.
    pub x0: f64,
    /// The horizon T.
    pub horizon: f64,
    /// The coarse step h (the fine run uses h/2).
    pub step: f64,
    /// Number of paths.
    pub paths: usize,
    /// The seed: path i draws from the ChaCha8 stream of (seed, i).
    pub seed: u64,
    /// X above this counts as blown up. From X = M the diffusion still reaches 0 with
    /// probability 1 − P(b + 1, bM), negligible for the default 10⁸.
    pub blowup: f64,
    /// X below this counts as collapsed (0 is natural, so this is a stopping rule: from
    /// X = ε the blow-up probability P(b + 1, bε) ≈ (bε)^{b+1}/Γ(b+2) is negligible).
    pub collapse: f64,
}

impl BlowupMcOptions {
    /// A request with the default thresholds 10⁸ and 10⁻⁸.
    pub fn new(b: f64, x0: f64, horizon: f64, step: f64, paths: usize, seed: u64) -> Self {
        BlowupMcOptions {
            b,
            x0,
            horizon,
            step,
            paths,
            seed,
            blowup: 1e8,
            collapse: 1e-8,
        }
    }
}

/// A Monte Carlo estimate of the probability of blow-up by the horizon.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct BlowupEstimate {
    /// The fraction of fine-step (h/2) paths that blew up by T.
    pub probability: f64,
    /// Its binomial standard error √(p(1 − p)/P).
    pub stderr: f64,
    /// p_h − p_{h/2} over the same Brownian paths: for a first-order weak scheme both
    /// an estimate of the coarse run's bias halved and of the fine run's bias.
    pub step_bias: f64,
    /// The standard error of `step_bias` (paired differences).
    pub step_bias_stderr: f64,
    /// The fraction of fine paths that collapsed (X below the threshold) by T.
    pub collapse: f64,
    /// Fine paths that blew up.
    pub blowups: usize,
    /// Fine paths that collapsed.
    pub collapses: usize,
    /// Fine paths that did neither by T.
    pub undecided: usize,
    /// Paths run.
    pub paths: usize,
}

/// Where one path ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    BlowUp,
    Collapse,
    Undecided,
}

/// Estimates P(X blows up by T) for dX = bX(X − 1)dτ + √2 X dB by Euler–Maruyama on
/// Y = log X: dY = (b(X − 1) − 1) dτ + √2 dB (Itô: the −1 is −½·2X²/X²), X = e^Y, which
/// keeps X positive and is exact for the martingale part. Every path is run at steps h
/// and h/2 on one Brownian path (the coarse increment is the sum of two fine ones), so
/// the step bias is estimated from paired differences. Paths run in parallel; each
/// draws from its own (seed, index) stream, so the result does not depend on the
/// thread count.
pub fn blowup_monte_carlo(opts: &BlowupMcOptions) -> Result<BlowupEstimate, BlowupError> {
    if !opts.b.is_finite() {
        return Err(bad("b", opts.b, "the drift coefficient must be finite"));
    }
    if !(opts.x0 > 0.0 && opts.x0.is_finite()) {
        return Err(bad("x0", opts.x0, "the start must be a positive number"));
    }
    if !(opts.horizon > 0.0 && opts.horizon.is_finite()) {
        return Err(bad("horizon", opts.horizon, "must be a positive number"));
    }
    if !(opts.step > 0.0 && opts.step <= opts.horizon) {
        return Err(bad(
            "step",
            opts.step,
            "must be positive and at most the horizon",
        ));
    }
    if opts.paths == 0 {
        return Err(bad("paths", 0.0, "at least one path is needed"));
    }
    if !(opts.blowup > opts.x0 && opts.collapse < opts.x0 && opts.collapse > 0.0) {
        return Err(bad(
            "thresholds",
            opts.blowup,
            "need 0 < collapse < x0 < blowup",
        ));
    }
    let fates: Vec<(Fate, Fate)> = (0..opts.paths)
        .into_par_iter()
        .map(|i| one_pair(opts, i as u64))
        .collect();
    let paths = opts.paths as f64;
    let count = |f: Fate| fates.iter().filter(|(_, fine)| *fine == f).count();
    let (blowups, collapses, undecided) = (
        count(Fate::BlowUp),
        count(Fate::Collapse),
        count(Fate::Undecided),
    );
    let p = blowups as f64 / paths;
    // Paired differences of the blow-up indicators, coarse minus fine.
    let diffs: Vec<f64> = fates
        .iter()
        .map(|(c, f)| (*c == Fate::BlowUp) as u8 as f64 - (*f == Fate::BlowUp) as u8 as f64)
        .collect();
    let mean = diffs.iter().sum::<f64>() / paths;
    let var = if opts.paths > 1 {
        diffs.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / (paths - 1.0)
    } else {
        0.0
    };
    Ok(BlowupEstimate {
        probability: p,
        stderr: (p * (1.0 - p) / paths).sqrt(),
        step_bias: mean,
        step_bias_stderr: (var / paths).sqrt(),
        collapse: collapses as f64 / paths,
        blowups,
        collapses,
        undecided,
        paths: opts.paths,
    })
}

/// One path at steps h (coarse) and h/2 (fine) on a shared Brownian path.
fn one_pair(opts: &BlowupMcOptions, index: u64) -> (Fate, Fate) {
    let mut rng = path_rng(opts.seed, index, 0xB10);
    let coarse_steps = (opts.horizon / opts.step).ceil() as usize;
    let h = opts.horizon / coarse_steps as f64;
    let hf = 0.5 * h;
    let (up, down) = (opts.blowup.ln(), opts.collapse.ln());
    let y0 = opts.x0.ln();
    let (mut yc, mut yf) = (y0, y0);
    let (mut coarse, mut fine) = (Fate::Undecided, Fate::Undecided);
    let root2 = std::f64::consts::SQRT_2;
    let sf = hf.sqrt();
    let step = |y: f64, h: f64, db: f64| y + (opts.b * (y.exp() - 1.0) - 1.0) * h + root2 * db;
    let fate = |y: f64| {
        if y >= up || y.is_nan() {
            Fate::BlowUp
        } else if y <= down {
            Fate::Collapse
        } else {
            Fate::Undecided
        }
    };
    for _ in 0..coarse_steps {
        if coarse != Fate::Undecided && fine != Fate::Undecided {
            break;
        }
        let z1: f64 = rng.sample(StandardNormal);
        let z2: f64 = rng.sample(StandardNormal);
        if fine == Fate::Undecided {
            yf = step(yf, hf, sf * z1);
            fine = fate(yf);
            if fine == Fate::Undecided {
                yf = step(yf, hf, sf * z2);
                fine = fate(yf);
            }
        }
        if coarse == Fate::Undecided {
            yc = step(yc, h, sf * (z1 + z2));
            coarse = fate(yc);
        }
    }
    (coarse, fine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_closed_form_solves_the_equation() {
        // Check Ẋ = bX(X − 1) by a central difference, in every regime.
        for &(b, x0) in &[(1.0, 2.0), (1.0, 0.5), (-0.7, 3.0), (-0.7, 0.2), (2.0, 1.0)] {
            for &t in &[0.0, 0.1, 0.3] {
                let e = 1e-5;
                let x = logistic(b, x0, t + e);
                let dx = (logistic(b, x0, t + 2.0 * e) - logistic(b, x0, t)) / (2.0 * e);
                assert!(
                    (dx - b * x * (x - 1.0)).abs() < 1e-6 * (1.0 + x * x),
                    "{b} {x0} {t}"
                );
            }
            assert_eq!(logistic(b, x0, 0.0), x0);
        }
    }

    #[test]
    fn logistic_blowup_time_and_limits() {
        let t = logistic_blowup_time(1.0, 2.0).unwrap();
        assert!((t - 2f64.ln()).abs() < 1e-15);
        assert_eq!(logistic(1.0, 2.0, t), f64::INFINITY);
        assert!(logistic(1.0, 2.0, t * (1.0 - 1e-9)) > 1e8);
        assert_eq!(logistic_blowup_time(1.0, 0.5), None);
        assert_eq!(logistic_blowup_time(-1.0, 2.0), None);
        assert_eq!(logistic_blowup_time(0.0, 2.0), None);
        assert_eq!(logistic_blowup_time(1.0, 1.0), None);
        assert_eq!(logistic_limit(-1.0, 3.0), Some(1.0));
        assert_eq!(logistic_limit(-1.0, 0.3), Some(1.0));
        assert_eq!(logistic_limit(1.0, 0.3), Some(0.0));
        assert_eq!(logistic_limit(1.0, 3.0), None);
        assert_eq!(logistic_limit(0.0, 3.0), Some(3.0));
        assert_eq!(logistic_limit(2.0, 1.0), Some(1.0));
        assert_eq!(logistic_limit(2.0, 0.0), Some(0.0));
        // Long times: e^{bt} overflows without NaN.
        assert_eq!(logistic(1.0, 0.5, 1e4), 0.0);
        assert_eq!(logistic(-1.0, 3.0, 1e4), 1.0);
    }

    #[test]
    fn ln_gamma_matches_factorials_and_half_integers() {
        let mut fact = 1.0f64;
        for n in 1..30 {
            // Γ(n) = (n − 1)!
            assert!(
                (ln_gamma(n as f64) - fact.ln()).abs() < 1e-13 * fact.ln().max(1.0),
                "{n}"
            );
            fact *= n as f64;
        }
        let sqrt_pi = std::f64::consts::PI.sqrt();
        assert!((ln_gamma(0.5) - sqrt_pi.ln()).abs() < 1e-14);
        assert!((ln_gamma(1.5) - (0.5 * sqrt_pi).ln()).abs() < 1e-14);
        assert!((ln_gamma(0.1) - 9.513_507_698_668_732f64.ln()).abs() < 1e-13);
        assert!(ln_gamma(0.0).is_nan() && ln_gamma(-1.0).is_nan());
    }

    #[test]
    fn incomplete_gamma_matches_closed_forms() {
        // Integer a: P(n, x) = 1 − e^{−x} Σ_{k<n} x^k/k!. Half-integer: P(1/2, x) = erf √x.
        for &x in &[0.01, 0.5, 1.0, 2.0, 3.7, 10.0, 40.0] {
            for n in 1..8 {
                let mut s = 0.0;
                let mut term = 1.0;
                for k in 0..n {
                    if k > 0 {
                        term *= x / k as f64;
                    }
                    s += term;
                }
                let exact_q = (-x).exp() * s;
                let q = gamma_q(n as f64, x).unwrap();
                assert!(
                    (q - exact_q).abs() <= 1e-13 * exact_q.max(1e-300),
                    "Q({n}, {x}): {q} vs {exact_q}"
                );
                let p = gamma_p(n as f64, x).unwrap();
                assert!((p - (1.0 - exact_q)).abs() < 1e-14, "P({n}, {x})");
            }
            let p = gamma_p(0.5, x).unwrap();
            let e = crate::ir::erf(x.sqrt());
            assert!((p - e).abs() < 1e-13 * e, "P(1/2, {x}): {p} vs {e}");
        }
        // The recurrence P(a + 1, x) = P(a, x) − x^a e^{−x}/Γ(a + 1), at non-integer a
        // on both sides of the series/continued-fraction switch.
        for &a in &[0.3, 2.5, 7.25, 50.5] {
            for &x in &[0.2, a, a + 0.5, a + 1.0, a + 1.5, 3.0 * a + 2.0] {
                let lhs = gamma_p(a + 1.0, x).unwrap();
                let rhs = gamma_p(a, x).unwrap() - (a * x.ln() - x - ln_gamma(a + 1.0)).exp();
                assert!(
                    (lhs - rhs).abs() < 1e-12 * lhs.max(1e-12),
                    "a={a} x={x}: {lhs} vs {rhs}"
                );
            }
        }
        assert!(gamma_p(0.0, 1.0).is_err() && gamma_p(1.0, -1.0).is_err());
        assert_eq!(gamma_p(2.0, 0.0), Ok(0.0));
    }

    #[test]
    fn feller_golden_values() {
        let p = feller_blowup_probability(1.0, 1.0).unwrap();
        assert!((p - (1.0 - 2.0 / std::f64::consts::E)).abs() < 1e-14, "{p}");
        let p = feller_blowup_probability(0.5, 1.0).unwrap();
        assert!((p - 0.1987).abs() < 5e-5, "{p}");
        let p = feller_blowup_probability(2.0, 1.2).unwrap();
        assert!((p - 0.4303).abs() < 5e-5, "{p}");
        assert_eq!(feller_blowup_probability(0.0, 5.0), Ok(0.0));
        assert_eq!(feller_blowup_probability(-1.0, 5.0), Ok(0.0));
        // Increasing in x₀ from 0 towards 1.
        let ps: Vec<f64> = [0.01, 0.5, 1.0, 3.0, 30.0]
            .iter()
            .map(|&x| feller_blowup_probability(1.5, x).unwrap())
            .collect();
        assert!(
            ps.windows(2).all(|w| w[0] < w[1]) && ps[0] < 1e-4 && ps[4] > 1.0 - 1e-12,
            "{ps:?}"
        );
        assert!(feller_blowup_probability(1.0, 0.0).is_err());
    }
}
