//! PASS / FAIL of a measured exponent against a derived one.

use super::stats::{t_p_value, t_quantile, Fit, CONFIDENCE};
use std::fmt;

/// The tolerance used when none is given: a fitted slope within 0.1 of the derived
/// exponent passes even when its interval is narrower (finite-width corrections such as
/// n^{-1/2} terms bend log–log curves by about this much over 2^6…2^12).
pub const DEFAULT_TOLERANCE: f64 = 0.1;

/// What the theory predicts for a quantity's size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Predicted {
    /// Θ(n^e).
    Exponent(f64),
    /// Identically zero at every width.
    Zero,
}

/// The decision and the numbers that made it.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// True for PASS.
    pub pass: bool,
    /// Why, with the numbers compared.
    pub reason: String,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = if self.pass { "PASS" } else { "FAIL" };
        write!(f, "{word}: {}", self.reason)
    }
}

/// PASS when the predicted exponent lies in the fit's confidence interval or within
/// `tolerance` of the fitted slope; an exactly vanishing quantity passes only when zero
/// is predicted, and a predicted zero passes only when every number is exactly zero.
pub fn judge_exponent(fit: &Fit, predicted: Predicted, tolerance: f64) -> Verdict {
    let verdict = |pass: bool, reason: String| Verdict { pass, reason };
    match (fit, predicted) {
        (Fit::ExactlyZero, Predicted::Zero) => verdict(true, "exactly zero, as predicted".into()),
        (Fit::ExactlyZero, Predicted::Exponent(e)) => verdict(
            false,
            format!("exactly zero at every width, but Θ(n^{e:+.3}) was predicted"),
        ),
        (Fit::NotFitted(reason), _) => verdict(false, format!("no slope: {reason}")),
        (Fit::Fitted(s), Predicted::Zero) => verdict(
            false,
            format!("predicted identically zero, measured slope {:+.3}", s.slope),
        ),
        (Fit::Fitted(s), Predicted::Exponent(e)) => {
            let interval = match s.ci {
                Some((lo, hi)) => format!("[{lo:+.3}, {hi:+.3}]"),
                None => "(no interval)".into(),
            };
            if let Some((lo, hi)) = s.ci {
                if undetermined(lo, hi, e) {
                    return verdict(
                        false,
                        format!(
                            "slope {:+.3} {interval} is undetermined: it contains {e:+.3} and \
                             both {:+.3} and {:+.3}, so it cannot tell the derivation from one \
                             off by ±{DISTINGUISH}",
                            s.slope,
                            e - DISTINGUISH,
                            e + DISTINGUISH
                        ),
                    );
                }
            }
            let inside = s.ci.is_some_and(|(lo, hi)| lo <= e && e <= hi);
            let close = (s.slope - e).abs() <= tolerance;
            let how = match (inside, close) {
                (true, _) => "inside the 95% interval".to_string(),
                (false, true) => format!("outside the interval but within ±{tolerance}"),
                (false, false) => format!("outside the interval and beyond ±{tolerance}"),
            };
            verdict(
                inside || close,
                format!("slope {:+.3} {interval}, predicted {e:+.3}: {how}", s.slope),
            )
        }
    }
}

/// How far an exponent must be from the derived one for a slope interval to be evidence:
/// an interval that contains both e − 1/2 and e + 1/2 cannot tell the derivation from a
/// mistake of 1/2 either way, so it is no evidence and the verdict is FAIL
/// ("undetermined"), never PASS.
pub const DISTINGUISH: f64 = 0.5;

/// Whether the interval [lo, hi] cannot tell `e` from `e ± DISTINGUISH`.
fn undetermined(lo: f64, hi: f64, e: f64) -> bool {
    lo <= e - DISTINGUISH && hi >= e + DISTINGUISH
}

/// The p-value of a fitted slope against a derived exponent `e`, allowing `tolerance`:
/// the two-sided Student t p-value of (|slope − e| − tolerance)⁺ / SE, with the SE read
/// off the 95% interval. 1 when the slope is within the tolerance; 0 when there is no
/// slope, no interval, or an undetermined interval (see [`DISTINGUISH`]; judged by the rule,
/// not by noise). Exactly-zero fits are judged by the rule too (1 when zero is
/// predicted, else 0).
pub fn exponent_p_value(fit: &Fit, predicted: Predicted, tolerance: f64) -> f64 {
    match (fit, predicted) {
        (Fit::ExactlyZero, Predicted::Zero) => 1.0,
        (Fit::Fitted(s), Predicted::Exponent(e)) => {
            let Some((lo, hi)) = s.ci else {
                return 0.0;
            };
            if undetermined(lo, hi, e) || s.df == 0 {
                return 0.0;
            }
            let excess = ((s.slope - e).abs() - tolerance).max(0.0);
            if excess == 0.0 {
                return 1.0;
            }
            let se = (hi - lo) / (2.0 * t_quantile(CONFIDENCE, s.df));
            if se > 0.0 {
                t_p_value(excess / se, s.df)
            } else {
                0.0
            }
        }
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::stats::{CiMethod, Slope};

    fn fitted(slope: f64, ci: (f64, f64)) -> Fit {
        Fit::Fitted(Slope {
            slope,
            ci: Some(ci),
            method: CiMethod::Seeds,
            df: 9,
            per_seed: vec![],
            mean_curve_slope: None,
            excluded_seeds: 0,
        })
    }

    #[test]
    fn verdicts() {
        let fit = fitted(-0.48, (-0.52, -0.44));
        assert!(judge_exponent(&fit, Predicted::Exponent(-0.5), 0.0).pass);
        assert!(judge_exponent(&fit, Predicted::Exponent(-0.4), 0.1).pass);
        assert!(!judge_exponent(&fit, Predicted::Exponent(0.0), 0.1).pass);
        assert!(!judge_exponent(&fit, Predicted::Zero, 0.1).pass);
        assert!(judge_exponent(&Fit::ExactlyZero, Predicted::Zero, 0.1).pass);
        assert!(!judge_exponent(&Fit::ExactlyZero, Predicted::Exponent(0.0), 0.1).pass);
        let v = judge_exponent(&Fit::NotFitted("x".into()), Predicted::Exponent(0.0), 0.1);
        assert!(!v.pass && v.to_string().starts_with("FAIL"));
    }

    #[test]
    fn an_interval_that_cannot_tell_half_exponents_apart_is_not_a_pass() {
        // The 1/x activation of the issue: [−13, +4] contains 0 and both ±1/2.
        let wide = fitted(-4.5, (-13.0, 4.0));
        let v = judge_exponent(&wide, Predicted::Exponent(0.0), 0.1);
        assert!(!v.pass && v.reason.contains("undetermined"), "{v}");
        assert_eq!(exponent_p_value(&wide, Predicted::Exponent(0.0), 0.1), 0.0);
        // Wide but one-sided: it excludes −1/2, so it says something.
        let one_sided = fitted(0.5, (-0.4, 1.4));
        assert!(judge_exponent(&one_sided, Predicted::Exponent(0.0), 0.1).pass);
    }

    #[test]
    fn p_values_measure_the_excess_over_the_tolerance() {
        // Within the tolerance: no evidence at all.
        let near = fitted(0.05, (0.0, 0.1));
        assert_eq!(exponent_p_value(&near, Predicted::Exponent(0.0), 0.1), 1.0);
        // Excess 0.4 with SE 0.0442 (interval ±0.1, t(9) = 2.262): t ≈ 9, p < 1e-4.
        let far = fitted(0.5, (0.4, 0.6));
        let p = exponent_p_value(&far, Predicted::Exponent(0.0), 0.1);
        assert!(p < 1e-4 && p > 0.0, "{p}");
        // Excess 0.1 at the same SE: t ≈ 2.26, p ≈ 0.05.
        let edge = fitted(0.2, (0.1, 0.3));
        let p = exponent_p_value(&edge, Predicted::Exponent(0.0), 0.1);
        assert!((p - 0.05).abs() < 0.002, "{p}");
    }
}
