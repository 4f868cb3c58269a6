//! Statistics of width sweeps: log–log slopes with confidence intervals, and rates of
//! convergence to a limit.
//!
//! Input series are laid out `series[s][w]`: seed index s, width index w, `None` where a
//! run produced no number (a blow-up). Logarithms are base 2, so a slope is directly the
//! exponent e of a size ∝ n^e. A logarithm is never taken of 0 (an exactly vanishing
//! quantity is reported as such) and a non-finite number is never used silently: it is
//! counted as missing and reported.

use std::fmt;

/// Confidence level of every interval here.
pub const CONFIDENCE: f64 = 0.95;

/// Mean, standard error of the mean and count of the finite numbers among `xs`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// The mean (NaN when `count` is 0).
    pub mean: f64,
    /// The standard error of the mean (`None` with fewer than 2 numbers).
    pub stderr: Option<f64>,
    /// How many numbers were present and finite.
    pub count: usize,
}

/// Summarizes the present, finite numbers of `xs`.
///
/// The numbers are divided by their largest magnitude first, so that sizes near the top
/// of the floating-point range (a quantity about to blow up) do not overflow in the
/// squares of the variance.
pub fn summarize(xs: impl IntoIterator<Item = Option<f64>>) -> Summary {
    let values: Vec<f64> = xs.into_iter().flatten().filter(|x| x.is_finite()).collect();
    let count = values.len();
    if count == 0 {
        return Summary {
            mean: f64::NAN,
            stderr: None,
            count,
        };
    }
    let scale = largest_magnitude(&values);
    let scaled: Vec<f64> = values.iter().map(|x| x / scale).collect();
    let mean = scaled.iter().sum::<f64>() / count as f64;
    let stderr = (count >= 2).then(|| {
        let var = scaled.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (count - 1) as f64;
        scale * (var / count as f64).sqrt()
    });
    Summary {
        mean: scale * mean,
        stderr,
        count,
    }
}

/// The largest |x| (1 when every number is 0, so that dividing by it is harmless).
fn largest_magnitude(values: &[f64]) -> f64 {
    let m = values.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if m > 0.0 && m.is_finite() {
        m
    } else {
        1.0
    }
}

/// An ordinary least-squares line `y = intercept + slope·x`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Line {
    /// The slope.
    pub slope: f64,
    /// The intercept.
    pub intercept: f64,
    /// The standard error of the slope (`None` with fewer than 3 points, which leave no
    /// degree of freedom for the residuals).
    pub slope_stderr: Option<f64>,
    /// The number of points.
    pub points: usize,
}

/// The least-squares line through `(x, y)` points; `None` with fewer than 2 points or
/// when every x is the same.
pub fn ols(points: &[(f64, f64)]) -> Option<Line> {
    let m = points.len();
    if m < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / m as f64;
    let my = points.iter().map(|p| p.1).sum::<f64>() / m as f64;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx <= 0.0 || !sxx.is_finite() {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let slope_stderr = (m >= 3).then(|| {
        let rss: f64 = points
            .iter()
            .map(|p| (p.1 - intercept - slope * p.0).powi(2))
            .sum();
        (rss / (m - 2) as f64 / sxx).sqrt()
    });
    Some(Line {
        slope,
        intercept,
        slope_stderr,
        points: m,
    })
}

/// The two-sided Student t quantile: the t with P(|T| ≤ t) = `level` for T with `df`
/// degrees of freedom (e.g. 12.706 for level 0.95, df 1). Exact up to the bisection
/// tolerance (1e-12), from the closed form of the t distribution for integer df
/// (Abramowitz & Stegun 26.7.3–4). `df = 0` gives +∞; a level outside (0, 1) gives NaN.
pub fn t_quantile(level: f64, df: usize) -> f64 {
    if !(level > 0.0 && level < 1.0) {
        return f64::NAN;
    }
    if df == 0 {
        return f64::INFINITY;
    }
    // P(|T| ≤ t) increases from 0 to 1; bracket, then bisect.
    let mut hi = 1.0;
    while t_central(hi, df) < level {
        hi *= 2.0;
        if hi > 1e300 {
            return f64::INFINITY;
        }
    }
    let mut lo = 0.0;
    while hi - lo > 1e-12 * hi.max(1.0) {
        let mid = 0.5 * (lo + hi);
        if t_central(mid, df) < level {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The two-sided p-value P(|T| ≥ |t|) of a Student t statistic with `df` degrees of
/// freedom (`df = 0` gives 1: no evidence).
pub fn t_p_value(t: f64, df: usize) -> f64 {
    if df == 0 || t.is_nan() {
        return 1.0;
    }
    if t.is_infinite() {
        return 0.0;
    }
    (1.0 - t_central(t.abs(), df)).clamp(0.0, 1.0)
}

/// P(|T| ≤ t) for Student's t with `df ≥ 1` degrees of freedom and t ≥ 0.
///
/// With θ = atan(t/√df) and c = cos²θ:
/// odd df: (2/π)(θ + sin θ cos θ (1 + (2/3)c + (2·4)/(3·5)c² + … up to c^{(df−3)/2}));
/// even df: sin θ (1 + (1/2)c + (1·3)/(2·4)c² + … up to c^{(df−2)/2}).
fn t_central(t: f64, df: usize) -> f64 {
    let theta = (t / (df as f64).sqrt()).atan();
    let (s, c) = theta.sin_cos();
    let c2 = c * c;
    if df % 2 == 1 {
        let mut sum = 0.0;
        let mut term = 1.0;
        // Terms k = 0 .. (df−3)/2: term_{k+1} = term_k · c² · (2k+2)/(2k+3).
        for k in 0..(df.saturating_sub(1)) / 2 {
            sum += term;
            term *= c2 * (2 * k + 2) as f64 / (2 * k + 3) as f64;
        }
        let value = if df == 1 { theta } else { theta + s * c * sum };
        (2.0 / std::f64::consts::PI * value).clamp(0.0, 1.0)
    } else {
        let mut sum = 0.0;
        let mut term = 1.0;
        // Terms k = 0 .. (df−2)/2: term_{k+1} = term_k · c² · (2k+1)/(2k+2).
        for k in 0..df / 2 {
            sum += term;
            term *= c2 * (2 * k + 1) as f64 / (2 * k + 2) as f64;
        }
        (s * sum).clamp(0.0, 1.0)
    }
}

/// How a confidence interval was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CiMethod {
    /// Student t interval over the per-seed estimates (df = seeds − 1).
    Seeds,
    /// Student t interval from the least-squares residuals of one seed's points
    /// (df = widths − 2), used when only one seed could be fitted.
    Regression,
    /// Delete-one jackknife over seeds with a Student t quantile (df = seeds − 1).
    Jackknife,
}

impl CiMethod {
    /// A short name for reports (`seeds`, `regression`, `jackknife`).
    pub fn name(self) -> &'static str {
        match self {
            CiMethod::Seeds => "seeds",
            CiMethod::Regression => "regression",
            CiMethod::Jackknife => "jackknife",
        }
    }
}

/// A fitted exponent with its confidence interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Slope {
    /// The estimate: the mean of the per-seed slopes ([`fit_slope`]) or the slope of the
    /// root-mean-square curve over seeds ([`fit_rms_curve`]).
    pub slope: f64,
    /// The 95% confidence interval, when one could be formed.
    pub ci: Option<(f64, f64)>,
    /// How the interval was formed.
    pub method: CiMethod,
    /// Degrees of freedom of the interval's Student t (seeds − 1, or points − 2 for a
    /// regression interval).
    pub df: usize,
    /// The per-seed slopes (empty for [`fit_rms_curve`]).
    pub per_seed: Vec<f64>,
    /// The slope of the curve of per-width means over seeds, a cross-check that is less
    /// sensitive to one bad seed.
    pub mean_curve_slope: Option<f64>,
    /// Seeds left out because a width had no number (blow-up) or an exact zero.
    pub excluded_seeds: usize,
}

/// The outcome of fitting a size against the width.
#[derive(Clone, Debug, PartialEq)]
pub enum Fit {
    /// A slope was fitted.
    Fitted(Slope),
    /// Every recorded number is exactly 0: the quantity vanishes identically (no
    /// logarithm was taken).
    ExactlyZero,
    /// No slope could be fitted, for the reason given.
    NotFitted(String),
}

impl Fit {
    /// The fitted slope, if any.
    pub fn slope(&self) -> Option<&Slope> {
        match self {
            Fit::Fitted(s) => Some(s),
            _ => None,
        }
    }

    /// A short status word for reports (`fitted`, `exactly_zero`, `not_fitted`).
    pub fn status(&self) -> &'static str {
        match self {
            Fit::Fitted(_) => "fitted",
            Fit::ExactlyZero => "exactly_zero",
            Fit::NotFitted(_) => "not_fitted",
        }
    }
}

impl fmt::Display for Fit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fit::Fitted(s) => match s.ci {
                Some((lo, hi)) => write!(f, "{:+.3} [{:+.3}, {:+.3}]", s.slope, lo, hi),
                None => write!(f, "{:+.3} (no interval)", s.slope),
            },
            Fit::ExactlyZero => f.write_str("exactly zero"),
            Fit::NotFitted(reason) => write!(f, "not fitted: {reason}"),
        }
    }
}

/// The fit itself, unless rounding or overflow made any of its numbers non-finite (a
/// NaN is never passed on as a slope).
fn finite_fit(slope: Slope) -> Fit {
    let ci_ok = slope
        .ci
        .map_or(true, |(lo, hi)| lo.is_finite() && hi.is_finite());
    if slope.slope.is_finite() && ci_ok {
        Fit::Fitted(slope)
    } else {
        Fit::NotFitted("the fit overflowed (sizes near the floating-point limit)".into())
    }
}

/// Checks the shapes of `series` against `widths` and counts numbers.
fn check_layout(widths: &[usize], series: &[Vec<Option<f64>>]) -> Result<(), String> {
    if widths.len() < 2 {
        return Err("a slope needs at least two widths".into());
    }
    if widths.contains(&0) {
        return Err("width 0 has no logarithm".into());
    }
    if let Some(s) = series.iter().position(|row| row.len() != widths.len()) {
        return Err(format!(
            "seed {s} has {} values for {} widths",
            series[s].len(),
            widths.len()
        ));
    }
    Ok(())
}

/// Fits the exponent e of a positive size ∝ n^e from `series[s][w]` (the size for seed
/// s at width `widths[w]`).
///
/// Each seed with a positive finite number at every width gets its own least-squares
/// slope of log2(size) against log2(n); the estimate is their mean, with a Student t
/// interval over seeds (df = seeds − 1). With one usable seed, the interval comes from
/// that seed's regression residuals instead (df = widths − 2). Seeds with a missing
/// number or an exact zero at some width are left out and counted; when every number is
/// exactly 0 the result is [`Fit::ExactlyZero`]. Negative or non-finite numbers are an
/// error of the caller (sizes are non-negative) and are reported, not fitted.
pub fn fit_slope(widths: &[usize], series: &[Vec<Option<f64>>]) -> Fit {
    if let Err(reason) = check_layout(widths, series) {
        return Fit::NotFitted(reason);
    }
    let present: Vec<f64> = series.iter().flatten().flatten().copied().collect();
    if present.is_empty() {
        return Fit::NotFitted("no run produced a number (every run blew up first)".into());
    }
    if let Some(bad) = present.iter().find(|x| !x.is_finite() || **x < 0.0) {
        return Fit::NotFitted(format!("a size is {bad}, not a non-negative number"));
    }
    if present.iter().all(|&x| x == 0.0) {
        return Fit::ExactlyZero;
    }
    let logn: Vec<f64> = widths.iter().map(|&n| (n as f64).log2()).collect();
    let mut per_seed = Vec::new();
    let mut lines = Vec::new();
    let mut excluded = 0;
    for row in series {
        let points: Option<Vec<(f64, f64)>> = row
            .iter()
            .zip(&logn)
            .map(|(v, &x)| v.filter(|&v| v > 0.0).map(|v| (x, v.log2())))
            .collect();
        match points.as_deref().and_then(ols) {
            Some(line) => {
                per_seed.push(line.slope);
                lines.push(line);
            }
            None => excluded += 1,
        }
    }
    let mean_curve_slope = mean_curve_slope(&logn, series);
    let (slope, ci, method, df) = match per_seed.len() {
        0 => {
            return Fit::NotFitted(format!(
                "every seed has a missing number or an exact zero at some width \
                 ({excluded} seeds)"
            ))
        }
        1 => {
            let line = lines[0];
            let ci = line.slope_stderr.map(|se| {
                let t = t_quantile(CONFIDENCE, line.points - 2);
                (line.slope - t * se, line.slope + t * se)
            });
            (
                line.slope,
                ci,
                CiMethod::Regression,
                line.points.saturating_sub(2),
            )
        }
        _ => {
            let (center, se, df) = trimmed_mean(&per_seed);
            let half = t_quantile(CONFIDENCE, df) * se;
            (
                center,
                Some((center - half, center + half)),
                CiMethod::Seeds,
                df,
            )
        }
    };
    finite_fit(Slope {
        slope,
        ci,
        method,
        df,
        per_seed,
        mean_curve_slope,
        excluded_seeds: excluded,
    })
}

/// Yuen's trimmed mean of `xs` (at least 2 values) with its standard error and degrees
/// of freedom: the most extreme tenth of the values on each side (none below 10 values)
/// is set aside, and the error comes from the winsorized variance. One seed in which a
/// small network behaves pathologically (every ReLU of a layer dead at n = 64, a slope
/// of +4 where the others agree on 0) then moves neither the estimate nor its interval,
/// which with the plain mean it did enough to make the interval useless; on clean data
/// the interval is barely wider than Student's.
pub fn trimmed_mean(xs: &[f64]) -> (f64, f64, usize) {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let k = sorted.len();
    let g = k / 10;
    let kept = &sorted[g..k - g];
    let h = kept.len();
    let center = kept.iter().sum::<f64>() / h as f64;
    let winsorized: Vec<f64> = sorted
        .iter()
        .map(|x| x.clamp(kept[0], kept[h - 1]))
        .collect();
    let wmean = winsorized.iter().sum::<f64>() / k as f64;
    let wvar = winsorized.iter().map(|x| (x - wmean).powi(2)).sum::<f64>() / (k - 1) as f64;
    let se = ((k - 1) as f64 * wvar / (h as f64 * (h - 1).max(1) as f64)).sqrt();
    (center, se, h.saturating_sub(1).max(1))
}

/// The slope of log2(mean over seeds) against log2(n), over the widths whose mean is
/// positive.
fn mean_curve_slope(logn: &[f64], series: &[Vec<Option<f64>>]) -> Option<f64> {
    let points: Vec<(f64, f64)> = logn
        .iter()
        .enumerate()
        .filter_map(|(w, &x)| {
            let s = summarize(series.iter().map(|row| row.get(w).copied().flatten()));
            (s.count > 0 && s.mean > 0.0).then(|| (x, s.mean.log2()))
        })
        .collect();
    ols(&points).map(|l| l.slope)
}

/// The root-mean-square deviation from `center` at each width:
/// sqrt(mean over seeds of (x − center)²), over the seeds with a finite number there.
pub fn rms_errors(series: &[Vec<Option<f64>>], widths: usize, center: f64) -> Vec<Option<f64>> {
    (0..widths)
        .map(|w| {
            let deviations: Vec<f64> = series
                .iter()
                .filter_map(|row| row.get(w).copied().flatten())
                .filter(|x| x.is_finite())
                .map(|x| x - center)
                .collect();
            if deviations.is_empty() {
                return None;
            }
            // Scaled by the largest deviation so that the squares cannot overflow.
            let scale = largest_magnitude(&deviations);
            let mean_square = deviations.iter().map(|d| (d / scale).powi(2)).sum::<f64>()
                / deviations.len() as f64;
            Some(scale * mean_square.sqrt())
        })
        .map(|e| e.filter(|e| e.is_finite()))
        .collect()
}

/// Fits the rate r of |finite − limit| ∝ n^r from the finite-width values `series[s][w]`
/// of a scalar whose infinite-width limit is `limit`: [`fit_rms_curve`] centred on the
/// limit.
pub fn fit_rate(widths: &[usize], series: &[Vec<Option<f64>>], limit: f64) -> Fit {
    if !limit.is_finite() {
        return Fit::NotFitted(format!("the limit is {limit}"));
    }
    fit_rms_curve(widths, series, limit)
}

/// Fits the exponent of a random scalar's typical size: [`fit_rms_curve`] centred on 0.
///
/// A scalar such as the output at initialization changes sign from seed to seed, so
/// one seed's |value| can be arbitrarily close to 0 at some width and the logarithm of
/// it is meaningless; the root mean square over seeds is not.
pub fn fit_scalar_size(widths: &[usize], series: &[Vec<Option<f64>>]) -> Fit {
    fit_rms_curve(widths, series, 0.0)
}

/// Fits the exponent of the root-mean-square deviation from `center` over seeds
/// ([`rms_errors`]) against the width: the least-squares slope of its log2 against
/// log2(n).
///
/// The interval is a delete-one jackknife over seeds with a Student t quantile
/// (df = seeds − 1): seeds are the independent units (a seed's values at different
/// widths are correlated, because draws are nested across widths), and on nested
/// random-walk data this covers at its nominal level from 3 seeds on, where a
/// percentile bootstrap over so few seeds under-covers (79% at 3 seeds, 89% at 10).
/// With one seed the interval comes from the regression residuals. Deviations that are
/// exactly 0 at every width give [`Fit::ExactlyZero`].
pub fn fit_rms_curve(widths: &[usize], series: &[Vec<Option<f64>>], center: f64) -> Fit {
    if let Err(reason) = check_layout(widths, series) {
        return Fit::NotFitted(reason);
    }
    let present: Vec<f64> = series.iter().flatten().flatten().copied().collect();
    if present.is_empty() {
        return Fit::NotFitted("no run produced a number (every run blew up first)".into());
    }
    if let Some(bad) = present.iter().find(|x| !x.is_finite()) {
        return Fit::NotFitted(format!("a value is {bad}"));
    }
    if present.iter().all(|&x| x == center) {
        return Fit::ExactlyZero;
    }
    let logn: Vec<f64> = widths.iter().map(|&n| (n as f64).log2()).collect();
    // Widths where a seed blew up have fewer seeds: the curve uses whatever is there,
    // and a width with no number at all is left out of the line.
    let curve = |rows: &[&Vec<Option<f64>>]| -> Option<Line> {
        let owned: Vec<Vec<Option<f64>>> = rows.iter().map(|r| (*r).clone()).collect();
        let points: Vec<(f64, f64)> = rms_errors(&owned, widths.len(), center)
            .iter()
            .zip(&logn)
            .filter_map(|(e, &x)| e.filter(|&e| e > 0.0).map(|e| (x, e.log2())))
            .collect();
        ols(&points)
    };
    let usable: Vec<&Vec<Option<f64>>> = series
        .iter()
        .filter(|row| row.iter().any(|v| v.is_some()))
        .collect();
    let Some(line) = curve(&usable) else {
        return Fit::NotFitted("fewer than two widths have a nonzero deviation".into());
    };
    let k = usable.len();
    let (ci, method, df) = if k >= 2 {
        let leave_one_out: Vec<f64> = (0..k)
            .filter_map(|skip| {
                let rows: Vec<&Vec<Option<f64>>> = usable
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != skip)
                    .map(|(_, r)| *r)
                    .collect();
                curve(&rows).map(|l| l.slope)
            })
            .collect();
        let ci = (leave_one_out.len() == k).then(|| {
            let mean = leave_one_out.iter().sum::<f64>() / k as f64;
            let spread: f64 = leave_one_out.iter().map(|x| (x - mean).powi(2)).sum();
            let se = ((k - 1) as f64 / k as f64 * spread).sqrt();
            let half = t_quantile(CONFIDENCE, k - 1) * se;
            (line.slope - half, line.slope + half)
        });
        (ci, CiMethod::Jackknife, k - 1)
    } else {
        let ci = line.slope_stderr.map(|se| {
            let t = t_quantile(CONFIDENCE, line.points - 2);
            (line.slope - t * se, line.slope + t * se)
        });
        (ci, CiMethod::Regression, line.points.saturating_sub(2))
    };
    finite_fit(Slope {
        slope: line.slope,
        ci,
        method,
        df,
        per_seed: Vec::new(),
        mean_curve_slope: Some(line.slope),
        excluded_seeds: series.len() - k,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    #[test]
    fn t_quantiles_match_tables() {
        // Two-sided 95% points of Student's t (standard tables, 6+ digits).
        let table = [
            (1, 12.706_204_7),
            (2, 4.302_652_7),
            (3, 3.182_446_3),
            (4, 2.776_445_1),
            (5, 2.570_581_8),
            (9, 2.262_157_2),
            (10, 2.228_138_9),
            (29, 2.045_229_6),
            (30, 2.042_272_5),
            (120, 1.979_930_4),
            (1000, 1.962_339_1),
        ];
        for (df, want) in table {
            let got = t_quantile(0.95, df);
            assert!((got - want).abs() < 1e-6, "df {df}: {got} vs {want}");
        }
        assert!((t_quantile(0.99, 9) - 3.249_835_5).abs() < 1e-6);
        assert!((t_quantile(0.9, 1) - 6.313_751_5).abs() < 1e-6);
        assert_eq!(t_quantile(0.95, 0), f64::INFINITY);
        assert!(t_quantile(1.5, 3).is_nan());
    }

    #[test]
    fn ols_recovers_a_line() {
        let pts: Vec<(f64, f64)> = (0..6).map(|i| (i as f64, 2.0 - 0.5 * i as f64)).collect();
        let line = ols(&pts).expect("line");
        assert!((line.slope + 0.5).abs() < 1e-12);
        assert!((line.intercept - 2.0).abs() < 1e-12);
        assert!(line.slope_stderr.expect("stderr") < 1e-12);
        assert!(ols(&[(1.0, 1.0)]).is_none());
        assert!(ols(&[(1.0, 1.0), (1.0, 2.0)]).is_none());
    }

    fn widths() -> Vec<usize> {
        (6..=12).map(|k| 1usize << k).collect()
    }

    /// `c·n^e·(1 + σ·ε)` for `seeds` seeds, ε standard Gaussian.
    fn synthetic(rng: &mut ChaCha8Rng, e: f64, sigma: f64, seeds: usize) -> Vec<Vec<Option<f64>>> {
        (0..seeds)
            .map(|_| {
                widths()
                    .iter()
                    .map(|&n| {
                        let eps: f64 = rng.sample(StandardNormal);
                        Some(3.0 * (n as f64).powf(e) * (1.0 + sigma * eps).abs())
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn slope_intervals_cover_the_true_exponent() {
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let trials = 1000;
        let mut covered = 0;
        for _ in 0..trials {
            let fit = fit_slope(&widths(), &synthetic(&mut rng, -0.5, 0.1, 10));
            let s = fit.slope().expect("fitted");
            assert_eq!(s.method, CiMethod::Seeds);
            let (lo, hi) = s.ci.expect("interval");
            if lo <= -0.5 && -0.5 <= hi {
                covered += 1;
            }
        }
        // Nominal 95%; with 1000 trials the binomial standard error is 0.7%. The noise
        // term |1 + 0.1ε| is slightly biased in log, by the same amount at every width,
        // so it does not bias the slope.
        let rate = covered as f64 / trials as f64;
        assert!((0.93..=0.97).contains(&rate), "coverage {rate}");
    }

    #[test]
    fn one_seed_uses_the_regression_interval() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let trials = 1000;
        let mut covered = 0;
        for _ in 0..trials {
            let fit = fit_slope(&widths(), &synthetic(&mut rng, 0.25, 0.1, 1));
            let s = fit.slope().expect("fitted");
            assert_eq!(s.method, CiMethod::Regression);
            let (lo, hi) = s.ci.expect("interval");
            covered += usize::from(lo <= 0.25 && 0.25 <= hi);
        }
        let rate = covered as f64 / trials as f64;
        assert!((0.93..=0.97).contains(&rate), "coverage {rate}");
    }

    #[test]
    fn exact_zeros_and_missing_numbers_are_explicit() {
        let w = widths();
        let zeros = vec![vec![Some(0.0); w.len()]; 3];
        assert_eq!(fit_slope(&w, &zeros), Fit::ExactlyZero);
        // One seed with a zero and one with a blow-up: both left out, counted.
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut series = synthetic(&mut rng, -1.0, 0.05, 4);
        series[1][3] = Some(0.0);
        series[2][6] = None;
        let s = fit_slope(&w, &series).slope().cloned().expect("fitted");
        assert_eq!(s.excluded_seeds, 2);
        assert_eq!(s.per_seed.len(), 2);
        assert!((s.slope + 1.0).abs() < 0.05);
        // Nothing at all, a NaN, a single width: never a number.
        let none = vec![vec![None; w.len()]; 2];
        assert!(matches!(fit_slope(&w, &none), Fit::NotFitted(_)));
        let mut nan = zeros.clone();
        nan[0][0] = Some(f64::NAN);
        assert!(matches!(fit_slope(&w, &nan), Fit::NotFitted(_)));
        assert!(matches!(
            fit_slope(&[64], &[vec![Some(1.0)]]),
            Fit::NotFitted(_)
        ));
        assert_eq!(
            fit_rate(&w, &vec![vec![Some(2.0); w.len()]; 3], 2.0),
            Fit::ExactlyZero
        );
    }

    /// Values nested across widths as the simulation makes them: the value at width n
    /// is `limit + S_n / n` for one random walk S per seed, so the error shrinks as
    /// n^{-1/2} and is strongly correlated across widths within a seed.
    fn nested_walks(rng: &mut ChaCha8Rng, limit: f64, seeds: usize) -> Vec<Vec<Option<f64>>> {
        (0..seeds)
            .map(|_| {
                let (mut sum, mut count) = (0.0, 0usize);
                widths()
                    .iter()
                    .map(|&n| {
                        while count < n {
                            sum += rng.sample::<f64, _>(StandardNormal);
                            count += 1;
                        }
                        Some(limit + sum / n as f64)
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn rate_intervals_cover_the_true_rate() {
        let limit = 0.7;
        for (seeds, floor) in [(3, 0.92), (10, 0.90)] {
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            let trials = 400;
            let mut covered = 0;
            for _ in 0..trials {
                let fit = fit_rate(&widths(), &nested_walks(&mut rng, limit, seeds), limit);
                let s = fit.slope().expect("fitted");
                assert_eq!(s.method, CiMethod::Jackknife);
                let (lo, hi) = s.ci.expect("interval");
                covered += usize::from(lo <= -0.5 && -0.5 <= hi);
            }
            // Nominal 95%; the binomial standard error over 400 trials is 1.1%.
            let rate = covered as f64 / trials as f64;
            assert!(
                rate >= floor && rate <= 0.985,
                "{seeds} seeds: coverage {rate}"
            );
        }
    }

    #[test]
    fn sign_changing_scalars_are_sized_over_seeds() {
        // Mean-zero scalars of size n^{-1/2} (the output at initialization).
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let fit = fit_scalar_size(&widths(), &nested_walks(&mut rng, 0.0, 10));
        let s = fit.slope().expect("fitted");
        let (lo, hi) = s.ci.expect("interval");
        assert!(lo < -0.5 && -0.5 < hi && hi - lo < 0.3, "[{lo}, {hi}]");
        let zero = vec![vec![Some(0.0); widths().len()]; 4];
        assert_eq!(fit_scalar_size(&widths(), &zero), Fit::ExactlyZero);
    }

    #[test]
    fn summaries_skip_missing_values() {
        let s = summarize([Some(1.0), None, Some(3.0)]);
        assert_eq!(s.count, 2);
        assert_eq!(s.mean, 2.0);
        assert!((s.stderr.expect("stderr") - 1.0).abs() < 1e-12);
        assert!(summarize([None]).mean.is_nan());
    }

    #[test]
    fn a_trimmed_mean_ignores_one_pathological_seed() {
        let clean = [0.01, -0.02, 0.03, 0.0, 0.02, -0.01, 0.01, 0.0, -0.03, 0.02];
        let (c, se, df) = trimmed_mean(&clean);
        assert!(c.abs() < 0.01 && se < 0.01 && df == 7, "{c} {se} {df}");
        // One seed whose small network died: slope +4.
        let mut bad = clean;
        bad[3] = 4.0;
        let (c2, se2, _) = trimmed_mean(&bad);
        assert!(c2.abs() < 0.02 && se2 < 0.02, "{c2} {se2}");
        // The plain mean would be moved by 0.4 and its error by as much.
        let plain = bad.iter().sum::<f64>() / 10.0;
        assert!(plain > 0.39);
        // Below ten values nothing is trimmed: Student's mean and error.
        let few = [1.0, 2.0, 3.0];
        let (c3, se3, df3) = trimmed_mean(&few);
        assert!(
            (c3 - 2.0).abs() < 1e-12 && (se3 - (1.0f64 / 3.0).sqrt()).abs() < 1e-12 && df3 == 2
        );
    }
}
