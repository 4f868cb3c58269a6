//! Convergence of finite-width scalars to their infinite-width limits.
//!
//! For every scalar with a derived limit L (a [`LimitValue`], from `tp limit` or a closed
//! form), the finite-width values x_{s,n} of the sweep (seed s, width n) give
//! - the error curve: per width, the RMS over seeds of x − L with its standard error,
//!   and the signed mean deviation mean_s(x) − L with its standard error;
//! - its rate: the fitted exponent r of RMS(x − L) ∝ n^r with a jackknife interval over
//!   seeds ([`fit_rate`]);
//! - the extrapolated limit L̂: the seed means fitted against the corrections the limit
//!   stage derives (see [`super::extrapolate`]), with a jackknife error;
//! - a verdict ([`judge_limit`]) with a p-value, which `tp check` combines with every
//!   other verdict of the program (Holm's step-down procedure).
//!
//! The rule (documented in the README too): PASS when both
//! 1. *the extrapolated limit is the derived one*: t = (L̂ − L)/√(SE(L̂)² + σ_L²) is
//!    not significant (Student t, seeds − 1 degrees of freedom; σ_L is the limit's own
//!    error estimate) — this catches a wrong limit, and unlike a comparison at the
//!    largest width it does not mistake a derived Θ(n^{-1}) bias for one; and
//! 2. *the error does not grow*: the lower end of the rate's 95% interval is not
//!    above 0 (a finite-width value running away from L fails even when its seed
//!    spread is so large that rule 1 cannot see the bias).
//!
//! The rate itself (typically −1/2, the central-limit size of a fluctuation) is
//! reported with its interval, and the reason says whether the error clearly shrinks.
//! Requiring a clearly shrinking error would fail correct limits whenever the seed
//! noise hides the trend (deep ReLU kernels fluctuate by ~40% per seed at n = 64).
//! With fewer than 3 usable seeds no extrapolation is made, and rule 1 compares the
//! seed mean at the largest width with L instead.

use super::extrapolate::{extrapolate, Extrapolation};
use super::stats::{fit_rate, t_p_value, Fit};
use super::verdict::Verdict;
use crate::ir::Kind;
use crate::sim::SweepResult;

/// The infinite-width limit of one scalar quantity, as the limit stage derives it.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitValue {
    /// The quantity's name in the program (`f_1`, `K_ab`).
    pub name: String,
    /// Its SGD step, when it has one (a cross-check of `name`).
    pub step: Option<usize>,
    /// The limit.
    pub value: f64,
    /// The limit's error estimate (0 for a closed form; a standard error for Monte
    /// Carlo, a conservative bound for quadrature).
    pub stderr: f64,
    /// How it was computed (`closed form`, `Monte Carlo (10^5 samples)`, …).
    pub method: String,
    /// The exponents of the corrections that bias a finite-width mean (relative to the
    /// quantity's own size, e.g. `[-1.0]`, or `[-0.5, -1.0]` after a jump function);
    /// empty: compare at the largest width only.
    pub corrections: Vec<f64>,
}

/// The finite-width error of one scalar at one width, over seeds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorAtWidth {
    /// The width n.
    pub width: usize,
    /// Seeds with a number at this width.
    pub seeds: usize,
    /// sqrt(mean_s (x_s − L)²).
    pub rms: f64,
    /// Its standard error (delta method on the mean square; `None` with < 2 seeds or a
    /// zero RMS).
    pub rms_stderr: Option<f64>,
    /// mean_s x_s − L.
    pub mean_deviation: f64,
    /// The standard error of the seed mean (`None` with < 2 seeds).
    pub mean_stderr: Option<f64>,
}

/// The convergence check of one scalar.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitCheck {
    /// The limit checked against.
    pub limit: LimitValue,
    /// Per width (in sweep order, widths without any number left out).
    pub errors: Vec<ErrorAtWidth>,
    /// The fitted rate of the RMS error against n.
    pub rate: Fit,
    /// The bias statistic of rule 1 (extrapolated, or at the largest width), when it
    /// could be formed.
    pub z: Option<f64>,
    /// The extrapolated limit, when one was formed.
    pub extrapolated: Option<Extrapolation>,
    /// The p-value of rule 1 (0 when rule 2 fails: a growing error is not noise).
    pub p_value: f64,
    /// PASS / FAIL and why.
    pub verdict: Verdict,
}

/// Checks every limit in `limits` against the finite-width values of `result`.
pub fn judge_limits(result: &SweepResult, limits: &[LimitValue]) -> Vec<LimitCheck> {
    limits.iter().map(|l| judge_limit(result, l)).collect()
}

/// The error curve, rate and verdict of one limit (rule in the module documentation).
/// A limit that names no scalar of the sweep, or whose step disagrees, is a FAIL with
/// that reason: the limit and the program disagree, which is a bug worth seeing.
pub fn judge_limit(result: &SweepResult, limit: &LimitValue) -> LimitCheck {
    let fail = |reason: String| failed(limit, reason);
    let Some(q) = result.quantities.iter().position(|q| q.name == limit.name) else {
        return fail(format!("the program has no quantity `{}`", limit.name));
    };
    let quantity = &result.quantities[q];
    if quantity.kind != Kind::Scalar {
        return fail(format!("`{}` is a vector, not a scalar", limit.name));
    }
    if limit.step.is_some() && quantity.step != limit.step {
        return fail(format!(
            "`{}` is at step {:?}, the limit is for step {:?}",
            limit.name, quantity.step, limit.step
        ));
    }
    let series = result.series(q, |m| m.value);
    judge_series(&result.widths, &series, limit)
}

/// A FAIL of `limit` decided before any statistics, for `reason`.
fn failed(limit: &LimitValue, reason: String) -> LimitCheck {
    LimitCheck {
        limit: limit.clone(),
        errors: Vec::new(),
        rate: Fit::NotFitted(reason.clone()),
        z: None,
        extrapolated: None,
        p_value: 0.0,
        verdict: Verdict {
            pass: false,
            reason,
        },
    }
}

/// The error curve, rate, extrapolation and verdict of the finite-width values
/// `series[s][w]` (seed s, width `widths[w]`) against `limit`.
pub fn judge_series(
    widths: &[usize],
    series: &[Vec<Option<f64>>],
    limit: &LimitValue,
) -> LimitCheck {
    let fail = |reason: String| failed(limit, reason);
    if !(limit.value.is_finite() && limit.stderr.is_finite() && limit.stderr >= 0.0) {
        return fail(format!(
            "the limit {} ± {} is not a finite number with a non-negative error",
            limit.value, limit.stderr
        ));
    }
    let errors: Vec<ErrorAtWidth> = widths
        .iter()
        .enumerate()
        .filter_map(|(w, &width)| error_at_width(series, w, width, limit.value))
        .collect();
    let rate = fit_rate(widths, series, limit.value);
    let Some(last) = errors.last().copied() else {
        return LimitCheck {
            rate,
            ..fail("no run produced a value (every run blew up first)".into())
        };
    };
    let extrapolated = if limit.corrections.is_empty() {
        None
    } else {
        extrapolate(widths, series, &limit.corrections)
    };
    let (verdict, z, p_value) = decide(&last, extrapolated.as_ref(), &rate, limit);
    LimitCheck {
        limit: limit.clone(),
        errors,
        rate,
        z,
        extrapolated,
        p_value,
        verdict,
    }
}

/// The significance level of one verdict on its own (before the family-wise
/// correction of a whole program's verdicts).
pub const LEVEL: f64 = 0.05;

/// The error statistics at width index `w`, or `None` when no seed has a number there.
fn error_at_width(
    series: &[Vec<Option<f64>>],
    w: usize,
    width: usize,
    limit: f64,
) -> Option<ErrorAtWidth> {
    let d: Vec<f64> = series
        .iter()
        .filter_map(|row| row.get(w).copied().flatten())
        .filter(|x| x.is_finite())
        .map(|x| x - limit)
        .collect();
    let k = d.len();
    if k == 0 {
        return None;
    }
    let kf = k as f64;
    let mean = d.iter().sum::<f64>() / kf;
    let squares: Vec<f64> = d.iter().map(|x| x * x).collect();
    let mean_square = squares.iter().sum::<f64>() / kf;
    let rms = mean_square.sqrt();
    let (mean_stderr, rms_stderr) = if k >= 2 {
        let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (kf - 1.0);
        let var_sq = squares
            .iter()
            .map(|x| (x - mean_square).powi(2))
            .sum::<f64>()
            / (kf - 1.0);
        // d sqrt(m) = dm / (2 sqrt(m)): the delta method for the root of a mean.
        let rms_se = (rms > 0.0).then(|| (var_sq / kf).sqrt() / (2.0 * rms));
        (Some((var / kf).sqrt()), rms_se)
    } else {
        (None, None)
    };
    Some(ErrorAtWidth {
        width,
        seeds: k,
        rms,
        rms_stderr,
        mean_deviation: mean,
        mean_stderr,
    })
}

/// Rules 1 and 2 of the module documentation: the verdict at [`LEVEL`], the statistic
/// of rule 1 and its p-value.
fn decide(
    last: &ErrorAtWidth,
    extrapolated: Option<&Extrapolation>,
    rate: &Fit,
    limit: &LimitValue,
) -> (Verdict, Option<f64>, f64) {
    let n = last.width;
    if matches!(rate, Fit::ExactlyZero) {
        return (
            Verdict {
                pass: true,
                reason: "equal to the limit at every width and seed".into(),
            },
            Some(0.0),
            1.0,
        );
    }
    let how = match rate {
        Fit::Fitted(s) => match s.ci {
            Some((lo, hi)) if hi < 0.0 => {
                format!("error ∝ n^{:+.3} [{lo:+.3}, {hi:+.3}] shrinks", s.slope)
            }
            Some((lo, hi)) => format!(
                "error ∝ n^{:+.3} [{lo:+.3}, {hi:+.3}] does not clearly shrink",
                s.slope
            ),
            None => format!("error ∝ n^{:+.3} (no interval)", s.slope),
        },
        other => format!("no rate ({other})"),
    };
    let growing = rate
        .slope()
        .and_then(|s| s.ci)
        .is_some_and(|(lo, _)| lo > 0.0);
    // Rule 1: extrapolated when possible, else at the largest width.
    let (deviation, se, df, what) = match extrapolated {
        Some(e) => {
            let orders: Vec<String> = e.orders.iter().map(|o| format!("n^{o}")).collect();
            (
                e.value - limit.value,
                e.stderr,
                e.df,
                format!(
                    "extrapolated (seed means fitted with {}): {:.6} ± {:.2e}",
                    orders.join(", "),
                    e.value,
                    e.stderr
                ),
            )
        }
        None => {
            let Some(se) = last.mean_stderr else {
                return (
                    Verdict {
                        pass: false,
                        reason: format!("one seed at n={n}: no standard error, no verdict"),
                    },
                    None,
                    0.0,
                );
            };
            (
                last.mean_deviation,
                se,
                last.seeds.saturating_sub(1),
                format!("mean at n={n}: {:+.3e} from the limit", last.mean_deviation),
            )
        }
    };
    let combined = (se * se + limit.stderr * limit.stderr).sqrt();
    // A scalar that is deterministic at finite width and a closed-form limit leave
    // nothing to divide by: then only rounding-level agreement passes.
    let z = if combined > 0.0 {
        deviation / combined
    } else if deviation.abs() <= 1e-12 * limit.value.abs().max(1.0) {
        0.0
    } else {
        f64::INFINITY
    };
    let p = if growing {
        0.0
    } else {
        t_p_value(z, df.max(1))
    };
    let bias = format!(
        "{what}; minus the limit: {deviation:+.3e} ± {combined:.2e} (t = {z:+.2}, p = {p:.2e})"
    );
    let growth_note = if growing { " and grows with n" } else { "" };
    (
        Verdict {
            pass: p >= LEVEL,
            reason: format!("{how}{growth_note}; {bias}"),
        },
        z.is_finite().then_some(z),
        p,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last(mean_deviation: f64, mean_stderr: f64, rms: f64) -> ErrorAtWidth {
        ErrorAtWidth {
            width: 1024,
            seeds: 10,
            rms,
            rms_stderr: None,
            mean_deviation,
            mean_stderr: Some(mean_stderr),
        }
    }

    fn rate(slope: f64, lo: f64, hi: f64) -> Fit {
        Fit::Fitted(crate::check::stats::Slope {
            slope,
            ci: Some((lo, hi)),
            method: crate::check::stats::CiMethod::Jackknife,
            df: 9,
            per_seed: vec![],
            mean_curve_slope: Some(slope),
            excluded_seeds: 0,
        })
    }

    fn limit(stderr: f64) -> LimitValue {
        LimitValue {
            name: "x".into(),
            step: None,
            value: 1.0,
            stderr,
            method: "test".into(),
            corrections: vec![],
        }
    }

    fn extrapolated(value: f64, stderr: f64) -> Extrapolation {
        Extrapolation {
            value,
            stderr,
            df: 9,
            orders: vec![-1.0],
            seeds: 10,
        }
    }

    #[test]
    fn both_rules_are_needed() {
        let shrinking = rate(-0.5, -0.6, -0.4);
        // Unbiased and shrinking: PASS.
        assert!(
            decide(&last(0.001, 0.001, 0.003), None, &shrinking, &limit(0.0))
                .0
                .pass
        );
        // Shrinking but biased by 10 standard errors: FAIL (a wrong limit).
        assert!(
            !decide(&last(0.01, 0.001, 0.01), None, &shrinking, &limit(0.0))
                .0
                .pass
        );
        // The same bias is within the limit's own (Monte Carlo) error: PASS.
        assert!(
            decide(&last(0.01, 0.001, 0.01), None, &shrinking, &limit(0.005))
                .0
                .pass
        );
        // Unbiased, no clear trend (noise): PASS, and the reason says so.
        let flat = rate(0.0, -0.1, 0.1);
        let (v, _, _) = decide(&last(0.0, 0.001, 0.003), None, &flat, &limit(0.0));
        assert!(
            v.pass && v.reason.contains("does not clearly shrink"),
            "{v}"
        );
        // An error that grows with n: FAIL even when the bias is hidden in the noise.
        let growing = rate(0.4, 0.2, 0.6);
        let (v, _, p) = decide(&last(0.001, 0.001, 0.003), None, &growing, &limit(0.0));
        assert!(!v.pass && p == 0.0);
        // Exactly equal everywhere: PASS.
        assert!(
            decide(&last(0.0, 0.0, 0.0), None, &Fit::ExactlyZero, &limit(0.0))
                .0
                .pass
        );
        // A deterministic value off by more than rounding with an exact limit: FAIL.
        let (v, z, _) = decide(&last(1e-6, 0.0, 1e-6), None, &shrinking, &limit(0.0));
        assert!(!v.pass && z.is_none());
    }

    #[test]
    fn the_extrapolated_value_decides_when_there_is_one() {
        let shrinking = rate(-1.0, -1.1, -0.9);
        // A derived 1/n bias: 10 standard errors at the largest width, but the
        // extrapolated value agrees with the limit.
        let biased = last(0.01, 0.001, 0.01);
        let (v, _, p) = decide(
            &biased,
            Some(&extrapolated(1.0005, 0.001)),
            &shrinking,
            &limit(0.0),
        );
        assert!(v.pass && p > 0.5, "{v}");
        // An extrapolated value 8 standard errors away: FAIL however clean the last width.
        let (v, _, p) = decide(
            &last(0.0, 0.001, 0.001),
            Some(&extrapolated(1.008, 0.001)),
            &shrinking,
            &limit(0.0),
        );
        assert!(!v.pass && p < 1e-3, "{v}");
    }
}
