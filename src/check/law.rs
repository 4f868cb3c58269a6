//! Laws of scalars that stay random in the limit, against the seeds of a sweep.
//!
//! A scalar whose limit is a Gaussian N(μ, σ²) (see [`crate::limit::law`]) has no value
//! to converge to; what converges is its law across independent runs. At the largest
//! width of the sweep the normalized values x_s = n^{-e}·v_s of S seeds are tested
//! against it twice:
//! - *mean*: t = (x̄ − μ)/√(s²/S + σ_μ²), Student t with S − 1 degrees of freedom
//!   (s the sample standard deviation, σ_μ the mean's own error estimate);
//! - *variance*: (S − 1)s²/σ² against χ² with S − 1 degrees of freedom, two-sided.
//!
//! The verdict's p-value is the Bonferroni combination 2·min(p_mean, p_var) of the two,
//! and it enters the program's Holm procedure with every other verdict. The finite-width
//! corrections of the law (relative O(n^{-1/2}) at most) are far below the resolution
//! of a few dozen seeds at n = 4096 (a variance is known to ±26% from 30 seeds); the
//! same statistics at the second-largest width are reported beside, so that a drift
//! with n would show.

use super::limit::LEVEL;
use super::stats::t_p_value;
use super::verdict::Verdict;

/// The derived law of one random scalar, as `tp check` tests it.
#[derive(Clone, Debug, PartialEq)]
pub struct LawValue {
    /// The quantity's name in the program (`f_1`).
    pub name: String,
    /// Its SGD step.
    pub step: Option<usize>,
    /// Its exponent e: the law is that of n^{-e}·v.
    pub exponent: f64,
    /// The mean of the law.
    pub mean: f64,
    /// Its error estimate.
    pub mean_stderr: f64,
    /// The standard deviation of the law.
    pub sd: f64,
}

/// The sample statistics of one law at one width.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LawSample {
    /// The width.
    pub width: usize,
    /// Seeds with a number.
    pub seeds: usize,
    /// Sample mean of n^{-e}·v.
    pub mean: f64,
    /// Sample standard deviation.
    pub sd: f64,
    /// The mean's t statistic against the law.
    pub t: f64,
    /// Its two-sided p-value.
    pub mean_p: f64,
    /// s²/σ².
    pub variance_ratio: f64,
    /// The two-sided χ² p-value of the variance.
    pub variance_p: f64,
}

/// The verdict on one law.
#[derive(Clone, Debug, PartialEq)]
pub struct LawCheck {
    /// The law tested.
    pub law: LawValue,
    /// The statistics at the largest width (the verdict's) and, when there is one, at
    /// the second largest (for information).
    pub samples: Vec<LawSample>,
    /// 2·min(p_mean, p_var) at the largest width, before the family-wise correction.
    pub p_value: f64,
    /// PASS / FAIL and why, after the family-wise correction.
    pub verdict: Verdict,
}

/// The statistics of `values` (normalized) against `law`, or None with fewer than 2.
fn sample(width: usize, values: &[f64], law: &LawValue) -> Option<LawSample> {
    let k = values.len();
    if k < 2 {
        return None;
    }
    let kf = k as f64;
    let mean = values.iter().sum::<f64>() / kf;
    let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (kf - 1.0);
    let se = (var / kf + law.mean_stderr.powi(2)).sqrt();
    let t = if se > 0.0 {
        (mean - law.mean) / se
    } else if mean == law.mean {
        0.0
    } else {
        f64::INFINITY
    };
    let mean_p = t_p_value(t, k - 1);
    let sigma2 = law.sd * law.sd;
    let (variance_ratio, variance_p) = if sigma2 > 0.0 {
        let ratio = var / sigma2;
        let lower = chi_square_cdf((kf - 1.0) * ratio, k - 1);
        (ratio, (2.0 * lower.min(1.0 - lower)).clamp(0.0, 1.0))
    } else if var == 0.0 {
        (1.0, 1.0)
    } else {
        (f64::INFINITY, 0.0)
    };
    Some(LawSample {
        width,
        seeds: k,
        mean,
        sd: var.sqrt(),
        t,
        mean_p,
        variance_ratio,
        variance_p,
    })
}

/// Judges `law` with the finite-width values `series[s][w]` (seed s, width `widths[w]`),
/// at the largest width where at least two seeds have a number.
pub fn judge_law(widths: &[usize], series: &[Vec<Option<f64>>], law: &LawValue) -> LawCheck {
    let mut samples = Vec::new();
    for w in (0..widths.len()).rev() {
        let n = widths[w] as f64;
        let scale = n.powf(-law.exponent);
        let values: Vec<f64> = series
            .iter()
            .filter_map(|row| row.get(w).copied().flatten())
            .filter(|x| x.is_finite())
            .map(|x| x * scale)
            .collect();
        if let Some(s) = sample(widths[w], &values, law) {
            samples.push(s);
            if samples.len() == 2 {
                break;
            }
        }
    }
    let Some(last) = samples.first().copied() else {
        return LawCheck {
            law: law.clone(),
            samples,
            p_value: 0.0,
            verdict: Verdict {
                pass: false,
                reason: "fewer than two runs produced a value: no law can be tested".into(),
            },
        };
    };
    let p = (2.0 * last.mean_p.min(last.variance_p)).min(1.0);
    let beside = samples.get(1).map_or_else(String::new, |s| {
        format!(
            "; at n={}: mean {:.4} (t = {:+.2}), sd {:.4} (ratio {:.2})",
            s.width, s.mean, s.t, s.sd, s.variance_ratio
        )
    });
    LawCheck {
        law: law.clone(),
        samples,
        p_value: p,
        verdict: Verdict {
            pass: p >= LEVEL,
            reason: format!(
                "{} seeds at n={}: mean {:.4} against {:.4} (t = {:+.2}, p = {:.2e}); sd {:.4} \
                 against {:.4} (s²/σ² = {:.2}, χ² p = {:.2e}); combined p = {p:.2e}{beside}",
                last.seeds,
                last.width,
                last.mean,
                law.mean,
                last.t,
                last.mean_p,
                last.sd,
                law.sd,
                last.variance_ratio,
                last.variance_p
            ),
        },
    }
}

/// P(X ≤ x) for X ~ χ² with `df ≥ 1` degrees of freedom, from the closed forms of the
/// upper tail for integer df: with y = x/2,
/// even df = 2m: Q = e^{-y} Σ_{j<m} y^j / j!;
/// odd df = 2m + 1: Q = erfc(√y) + e^{-y} Σ_{j=1..m} y^{j−1/2} / Γ(j + 1/2).
/// The terms are summed in logarithms so that large df do not overflow.
pub fn chi_square_cdf(x: f64, df: usize) -> f64 {
    if df == 0 || x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 0.0;
    }
    if x.is_infinite() {
        return 1.0;
    }
    let y = x / 2.0;
    let ln_y = y.ln();
    let mut upper = 0.0;
    if df % 2 == 0 {
        // ln(y^j / j!) by recursion.
        let mut ln_term = -y;
        for j in 0..df / 2 {
            if j > 0 {
                ln_term += ln_y - (j as f64).ln();
            }
            upper += ln_term.exp();
        }
    } else {
        upper = 1.0 - crate::ir::Func::Erf.apply(y.sqrt());
        // Γ(j + 1/2) = Γ(1/2)·(1/2)(3/2)…(j − 1/2).
        let mut ln_gamma = 0.5 * std::f64::consts::PI.ln();
        for j in 1..=df / 2 {
            ln_gamma += (j as f64 - 0.5).ln();
            upper += ((j as f64 - 0.5) * ln_y - y - ln_gamma).exp();
        }
    }
    (1.0 - upper).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi_square_matches_known_quantiles() {
        // Upper 5% points of χ² (standard tables): df 1: 3.841, 2: 5.991, 9: 16.919,
        // 29: 42.557; lower 5%: df 9: 3.325.
        for (x, df, p) in [
            (3.841_459, 1, 0.95),
            (5.991_465, 2, 0.95),
            (16.918_978, 9, 0.95),
            (42.556_968, 29, 0.95),
            (3.325_113, 9, 0.05),
        ] {
            let got = chi_square_cdf(x, df);
            assert!((got - p).abs() < 1e-5, "df {df}: {got} vs {p}");
        }
        // df 2 is the exponential law: 1 − e^{-x/2}.
        assert!((chi_square_cdf(3.0, 2) - (1.0 - (-1.5f64).exp())).abs() < 1e-14);
    }

    fn law(mean: f64, sd: f64) -> LawValue {
        LawValue {
            name: "f".into(),
            step: None,
            exponent: 0.0,
            mean,
            mean_stderr: 0.0,
            sd,
        }
    }

    #[test]
    fn mean_and_variance_are_both_tested() {
        // Ten values with mean 0 and sample sd 1 (±1 alternating, scaled).
        let k = 10.0f64;
        let s = ((k - 1.0) / k).sqrt();
        let values: Vec<Option<f64>> = (0..10)
            .map(|i| Some(if i % 2 == 0 { s } else { -s }))
            .collect();
        let series: Vec<Vec<Option<f64>>> = values.iter().map(|v| vec![*v]).collect();
        assert!(judge_law(&[4096], &series, &law(0.0, 1.0)).verdict.pass);
        // A mean off by 1.5 standard deviations (t ≈ 4.7 with 10 seeds): FAIL.
        assert!(!judge_law(&[4096], &series, &law(1.5, 1.0)).verdict.pass);
        // A law three times as wide (variance ratio 1/9 with 9 df, χ² p ≈ 1e-3): FAIL;
        // twice as wide (ratio 1/4, p ≈ 0.03, doubled by the combination) is within
        // what 10 seeds cannot resolve.
        assert!(!judge_law(&[4096], &series, &law(0.0, 3.0)).verdict.pass);
        assert!(judge_law(&[4096], &series, &law(0.0, 2.0)).verdict.pass);
        // Half as wide (ratio 4): FAIL.
        assert!(!judge_law(&[4096], &series, &law(0.0, 0.5)).verdict.pass);
    }
}
