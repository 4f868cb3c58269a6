//! Per-size means fitted by a sum of known powers of the size, Σ_i C_i g_i(N), by
//! weighted least squares with nonnegative coefficients, and judged by the fit's χ².
//!
//! The mean-field rates are bounds made of several terms with different exponents
//! (N^{−(1−β)/(1−α)}/M and N^{−1}), so a single log–log slope is the wrong model at the
//! sizes a check can afford: the local slope drifts between the exponents. Fitting the
//! derived terms themselves, each with its own unknown constant, and asking whether the
//! residuals are consistent with the per-size standard errors tests exactly what the
//! derivation claims (which powers of N appear), and a wrong exponent shows as a χ² far
//! in the tail. The constants of squared errors and variances are nonnegative, which the
//! fit enforces (all subsets of terms, the best admissible one), so a wrong term cannot
//! hide behind a negative coefficient cancelling a right one.

use super::extrapolate::solve;
use super::law::chi_square_cdf;

/// Per-size observations: the mean of a statistic over seeds and its standard error.
#[derive(Clone, Debug, PartialEq)]
pub struct SizeMeans {
    /// The sizes N.
    pub sizes: Vec<f64>,
    /// The mean at each size.
    pub mean: Vec<f64>,
    /// Its standard error at each size (> 0).
    pub se: Vec<f64>,
}

/// A weighted least-squares fit of [`SizeMeans`] by basis functions.
#[derive(Clone, Debug, PartialEq)]
pub struct TermFit {
    /// The coefficient of each basis function (0 for a term the best fit left out).
    pub coef: Vec<f64>,
    /// Σ ((mean − fit)/se)².
    pub chi2: f64,
    /// Degrees of freedom: sizes − terms used (at least 1).
    pub dof: usize,
    /// P(χ²_dof ≥ chi2).
    pub p_value: f64,
}

/// Fits `data` by Σ_i C_i basis_i(N) with C_i ≥ 0 (every subset of the basis is fitted
/// without constraints and the admissible fit with the smallest χ² kept; the degrees of
/// freedom count the full basis, so leaving a term out buys nothing). With `free_offset`
/// an unconstrained constant C_0 is added first (a limit value to be estimated). `None`
/// when no subset can be fitted or there are not more sizes than parameters.
pub fn fit_terms(
    data: &SizeMeans,
    basis: &[&dyn Fn(f64) -> f64],
    free_offset: bool,
) -> Option<TermFit> {
    fit_constrained(data, basis, &vec![false; basis.len()], free_offset)
}

/// As [`fit_terms`] without an offset, but the terms marked `signed` take coefficients of
/// either sign and are always used: corrections of unknown sign beside nonnegative terms.
pub fn fit_mixed(
    data: &SizeMeans,
    basis: &[&dyn Fn(f64) -> f64],
    signed: &[bool],
) -> Option<TermFit> {
    fit_constrained(data, basis, signed, false)
}

fn fit_constrained(
    data: &SizeMeans,
    basis: &[&dyn Fn(f64) -> f64],
    signed: &[bool],
    free_offset: bool,
) -> Option<TermFit> {
    let k = basis.len();
    let params = k + usize::from(free_offset);
    if data.sizes.len() <= params || k > 8 || signed.len() != k {
        return None;
    }
    let mut best: Option<TermFit> = None;
    for mask in 0u32..(1 << k) {
        if (0..k).any(|i| signed[i] && mask & (1 << i) == 0) {
            continue;
        }
        let used: Vec<usize> = (0..k).filter(|i| mask & (1 << i) != 0).collect();
        if used.is_empty() && !free_offset {
            continue;
        }
        let columns: Vec<Vec<f64>> = used
            .iter()
            .map(|&i| data.sizes.iter().map(|&n| basis[i](n)).collect())
            .collect();
        let Some((coef, chi2)) = weighted_fit(data, &columns, free_offset) else {
            continue;
        };
        let offset = usize::from(free_offset);
        if used
            .iter()
            .zip(&coef[offset..])
            .any(|(&i, c)| !signed[i] && *c < 0.0)
        {
            continue;
        }
        if best.as_ref().is_some_and(|b| b.chi2 <= chi2) {
            continue;
        }
        let mut full = vec![0.0; k + offset];
        if free_offset {
            full[0] = coef[0];
        }
        for (j, &i) in used.iter().enumerate() {
            full[offset + i] = coef[offset + j];
        }
        let dof = (data.sizes.len() - params).max(1);
        best = Some(TermFit {
            coef: full,
            chi2,
            dof,
            p_value: 1.0 - chi_square_cdf(chi2, dof),
        });
    }
    best
}

/// Fits `data` by Σ_i C_i basis_i(N) with coefficients of either sign and no offset: for
/// differences that must vanish as N → ∞ but may approach 0 from either side (a risk
/// against its limit). `None` when the fit is singular or there are too few sizes.
pub fn fit_signed(data: &SizeMeans, basis: &[&dyn Fn(f64) -> f64]) -> Option<TermFit> {
    let k = basis.len();
    if data.sizes.len() <= k {
        return None;
    }
    let columns: Vec<Vec<f64>> = basis
        .iter()
        .map(|b| data.sizes.iter().map(|&n| b(n)).collect())
        .collect();
    let (coef, chi2) = weighted_fit(data, &columns, false)?;
    let dof = data.sizes.len() - k;
    Some(TermFit {
        coef,
        chi2,
        dof,
        p_value: 1.0 - chi_square_cdf(chi2, dof),
    })
}

/// Sample variances (each over `runs[i]` independent runs) fitted by Σ_i C_i basis_i(N)
/// with C_i ≥ 0, on the log scale: for Gaussian runs, log s² = log σ² + log(χ²_ν/ν) with
/// ν = runs − 1, whose variance is the trigamma ψ'(ν/2) whatever σ², and whose mean shift
/// ψ(ν/2) − log(ν/2) is the same at every size with the same ν (it is removed before the
/// fit). Sample variances themselves are too skewed for a Gaussian χ² at a dozen runs (one
/// large draw dominates the fit). The mixture of the terms is found by a grid over the
/// simplex of their proportions (at most 3 terms), the overall scale in closed form; the
/// p-value treats the result as a fit with one parameter per term.
pub fn fit_variances(
    sizes: &[f64],
    variances: &[f64],
    runs: &[usize],
    basis: &[&dyn Fn(f64) -> f64],
) -> Option<TermFit> {
    let k = basis.len();
    let rows: Vec<(f64, f64, f64)> = sizes
        .iter()
        .zip(variances)
        .zip(runs)
        .filter(|((_, v), r)| **v > 0.0 && **r >= 3)
        .map(|((&n, &v), &r)| {
            let half = (r - 1) as f64 / 2.0;
            (n, v.ln() - (digamma(half) - half.ln()), trigamma(half))
        })
        .collect();
    if k == 0 || k > 3 || rows.len() <= k {
        return None;
    }
    // Each basis function scaled to 1 at the first size, so the proportions are comparable.
    let scale: Vec<f64> = basis
        .iter()
        .map(|b| b(rows[0].0).abs().max(1e-300))
        .collect();
    let steps = match k {
        1 => 1,
        2 => 400,
        _ => 60,
    };
    let mut best: Option<(f64, Vec<f64>)> = None;
    let mut weights = vec![0.0; k];
    let mut consider = |u: &[f64]| {
        let model: Vec<f64> = rows
            .iter()
            .map(|(n, _, _)| (0..k).map(|i| u[i] * basis[i](*n) / scale[i]).sum::<f64>())
            .collect();
        if model.iter().any(|m| *m <= 0.0 || !m.is_finite()) {
            return;
        }
        let sw: f64 = rows.iter().map(|r| 1.0 / r.2).sum();
        let log_a = rows
            .iter()
            .zip(&model)
            .map(|(r, m)| (r.1 - m.ln()) / r.2)
            .sum::<f64>()
            / sw;
        let chi2: f64 = rows
            .iter()
            .zip(&model)
            .map(|(r, m)| (r.1 - log_a - m.ln()).powi(2) / r.2)
            .sum();
        if best.as_ref().map_or(true, |b| chi2 < b.0) {
            let coef = (0..k).map(|i| log_a.exp() * u[i] / scale[i]).collect();
            best = Some((chi2, coef));
        }
    };
    match k {
        1 => consider(&[1.0]),
        2 => {
            for j in 0..=steps {
                weights[0] = j as f64 / steps as f64;
                weights[1] = 1.0 - weights[0];
                consider(&weights);
            }
        }
        _ => {
            for a in 0..=steps {
                for b in 0..=(steps - a) {
                    weights[0] = a as f64 / steps as f64;
                    weights[1] = b as f64 / steps as f64;
                    weights[2] = 1.0 - weights[0] - weights[1];
                    consider(&weights);
                }
            }
        }
    }
    let (chi2, coef) = best?;
    let dof = (rows.len() - k).max(1);
    Some(TermFit {
        coef,
        chi2,
        dof,
        p_value: 1.0 - chi_square_cdf(chi2, dof),
    })
}

/// The digamma function ψ(x), x > 0 (recurrence up to x ≥ 12, then the asymptotic series).
fn digamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 12.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let x2 = 1.0 / (x * x);
    acc + x.ln() - 0.5 / x - x2 * (1.0 / 12.0 - x2 * (1.0 / 120.0 - x2 / 252.0))
}

/// The trigamma function ψ'(x), x > 0.
fn trigamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 12.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let x2 = 1.0 / (x * x);
    acc + 1.0 / x + 0.5 * x2 + (1.0 / x) * x2 * (1.0 / 6.0 - x2 * (1.0 / 30.0 - x2 / 42.0))
}

/// Unconstrained weighted least squares of `data.mean` on the columns (and a constant
/// first, with `offset`): the coefficients and χ².
fn weighted_fit(data: &SizeMeans, columns: &[Vec<f64>], offset: bool) -> Option<(Vec<f64>, f64)> {
    let rows = data.sizes.len();
    let design: Vec<Vec<f64>> = (0..rows)
        .map(|r| {
            let mut row = Vec::with_capacity(columns.len() + 1);
            if offset {
                row.push(1.0);
            }
            row.extend(columns.iter().map(|c| c[r]));
            row
        })
        .collect();
    let p = design.first().map_or(0, Vec::len);
    if p == 0 {
        return None;
    }
    let mut a = vec![vec![0.0; p]; p];
    let mut b = vec![0.0; p];
    for (r, row) in design.iter().enumerate() {
        let w = 1.0 / (data.se[r] * data.se[r]);
        if !w.is_finite() {
            return None;
        }
        for i in 0..p {
            b[i] += w * row[i] * data.mean[r];
            for j in 0..p {
                a[i][j] += w * row[i] * row[j];
            }
        }
    }
    let coef = solve(a, b)?;
    let chi2 = design
        .iter()
        .enumerate()
        .map(|(r, row)| {
            let fit: f64 = row.iter().zip(&coef).map(|(x, c)| x * c).sum();
            ((data.mean[r] - fit) / data.se[r]).powi(2)
        })
        .sum();
    Some((coef, chi2))
}

/// The least-squares slope of log(mean) against log(N) with its standard error by the
/// delta method (se/mean on the log scale): a description of the data for reports, not
/// a verdict. `None` with fewer than two positive means.
pub fn log_slope(data: &SizeMeans) -> Option<(f64, f64)> {
    let pts: Vec<(f64, f64, f64)> = data
        .sizes
        .iter()
        .zip(&data.mean)
        .zip(&data.se)
        .filter(|((_, m), _)| **m > 0.0)
        .map(|((n, m), s)| (n.ln(), m.ln(), (s / m).max(1e-12)))
        .collect();
    if pts.len() < 2 {
        return None;
    }
    let w: Vec<f64> = pts.iter().map(|p| 1.0 / (p.2 * p.2)).collect();
    let sw: f64 = w.iter().sum();
    let mx = pts.iter().zip(&w).map(|(p, w)| w * p.0).sum::<f64>() / sw;
    let my = pts.iter().zip(&w).map(|(p, w)| w * p.1).sum::<f64>() / sw;
    let sxx: f64 = pts
        .iter()
        .zip(&w)
        .map(|(p, w)| w * (p.0 - mx).powi(2))
        .sum();
    let sxy: f64 = pts
        .iter()
        .zip(&w)
        .map(|(p, w)| w * (p.0 - mx) * (p.1 - my))
        .sum();
    (sxx > 0.0).then(|| (sxy / sxx, (1.0 / sxx).sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(f: impl Fn(f64) -> f64, rel: f64) -> SizeMeans {
        let sizes: Vec<f64> = (6..12).map(|k| 2f64.powi(k)).collect();
        let mean: Vec<f64> = sizes.iter().map(|&n| f(n)).collect();
        let se = mean.iter().map(|m| rel * m).collect();
        SizeMeans { sizes, mean, se }
    }

    /// A correction of either sign is fitted with its sign; the nonnegative terms stay
    /// nonnegative, so the same data without the freedom do not fit.
    #[test]
    fn signed_corrections_take_their_sign_and_only_they_do() {
        let d = data(|n| 2.0 * n.powf(-0.5) - 3.0 * n.powf(-1.0), 0.01);
        let a = |n: f64| n.powf(-0.5);
        let b = |n: f64| n.powf(-1.0);
        let basis: [&dyn Fn(f64) -> f64; 2] = [&a, &b];
        let fit = fit_mixed(&d, &basis, &[false, true]).expect("fits");
        assert!((fit.coef[0] - 2.0).abs() < 1e-9 && (fit.coef[1] + 3.0).abs() < 1e-9);
        assert!(fit.chi2 < 1e-12 && fit.dof == 4);
        let rigid = fit_terms(&d, &basis, false).expect("fits");
        assert!(rigid.coef.iter().all(|c| *c >= 0.0));
        assert!(rigid.p_value < 1e-6, "p = {}", rigid.p_value);
        // A signed term is always used, even when leaving it out would fit better.
        let e = data(|n| n.powf(-0.5), 0.01);
        let fit = fit_mixed(&e, &basis, &[false, true]).expect("fits");
        assert!(fit.coef[1].abs() < 1e-9 && fit.dof == 4);
        assert!(fit_mixed(&e, &basis, &[false]).is_none());
    }

    #[test]
    fn the_right_terms_fit_and_shifted_exponents_do_not() {
        // Exact data 2 N^{-1/2} + 5 N^{-1} with 2% errors: the derived pair fits with
        // χ² ≈ 0; the pair shifted by −1/4 (a wrong rate) is rejected.
        let d = data(|n| 2.0 * n.powf(-0.5) + 5.0 / n, 0.02);
        let right: [&dyn Fn(f64) -> f64; 2] = [&|n: f64| n.powf(-0.5), &|n: f64| 1.0 / n];
        let fit = fit_terms(&d, &right, false).unwrap();
        assert!(fit.chi2 < 1e-10, "{fit:?}");
        assert!((fit.coef[0] - 2.0).abs() < 1e-8 && (fit.coef[1] - 5.0).abs() < 1e-6);
        let wrong: [&dyn Fn(f64) -> f64; 2] = [&|n: f64| n.powf(-0.75), &|n: f64| n.powf(-1.25)];
        let fit = fit_terms(&d, &wrong, false).unwrap();
        assert!(fit.p_value < 1e-6, "{fit:?}");
    }

    #[test]
    fn a_negative_coefficient_is_not_admissible() {
        // N^{-1/2} − N^{-1}/… data cannot be fitted by a nonnegative N^{-1} alone plus
        // N^{-2}: the unconstrained fit would use a negative N^{-2} coefficient.
        let d = data(|n| 1.0 / n - 30.0 / (n * n), 0.01);
        let basis: [&dyn Fn(f64) -> f64; 2] = [&|n: f64| 1.0 / n, &|n: f64| 1.0 / (n * n)];
        let fit = fit_terms(&d, &basis, false).unwrap();
        assert!(fit.coef.iter().all(|c| *c >= 0.0));
        assert!(fit.p_value < 1e-3, "{fit:?}");
    }

    #[test]
    fn digamma_and_trigamma_match_known_values() {
        // ψ(1) = −γ, ψ'(1) = π²/6, ψ(1/2) = −γ − 2 ln 2, ψ'(1/2) = π²/2.
        let euler = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + euler).abs() < 1e-10);
        assert!((digamma(0.5) + euler + 2.0 * 2f64.ln()).abs() < 1e-10);
        let pi2 = std::f64::consts::PI.powi(2);
        assert!((trigamma(1.0) - pi2 / 6.0).abs() < 1e-10);
        assert!((trigamma(0.5) - pi2 / 2.0).abs() < 1e-10);
    }

    #[test]
    fn variance_fits_tell_a_flat_law_from_a_falling_one() {
        // Exact variances 1 + 0·N^-1 (common noise at beta = 1) fit {N^0, N^-1} and are
        // rejected by {N^-1} alone over six octaves at 12 runs per size.
        let sizes: Vec<f64> = (6..12).map(|k| 2f64.powi(k)).collect();
        let flat = vec![1.0; 6];
        let runs = vec![12; 6];
        let both: [&dyn Fn(f64) -> f64; 2] = [&|_n: f64| 1.0, &|n: f64| 1.0 / n];
        let fit = fit_variances(&sizes, &flat, &runs, &both).unwrap();
        assert!(fit.chi2 < 1e-6, "{fit:?}");
        let falling: [&dyn Fn(f64) -> f64; 1] = [&|n: f64| 1.0 / n];
        let fit = fit_variances(&sizes, &flat, &runs, &falling).unwrap();
        assert!(fit.p_value < 1e-6, "{fit:?}");
    }

    #[test]
    fn a_free_offset_recovers_the_limit() {
        let d = data(|n| 0.3 + 2.0 / n, 0.001);
        let basis: [&dyn Fn(f64) -> f64; 1] = [&|n: f64| 1.0 / n];
        let fit = fit_terms(&d, &basis, true).unwrap();
        assert!((fit.coef[0] - 0.3).abs() < 1e-9 && fit.chi2 < 1e-12);
        let (slope, _) = log_slope(&data(|n| 3.0 / n, 0.01)).unwrap();
        assert!((slope + 1.0).abs() < 1e-12);
    }
}
