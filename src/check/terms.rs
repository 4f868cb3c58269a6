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
    let k = basis.len();
    let params = k + usize::from(free_offset);
    if data.sizes.len() <= params || k > 8 {
        return None;
    }
    let mut best: Option<TermFit> = None;
    for mask in 0u32..(1 << k) {
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
        if coef[offset..].iter().any(|c| *c < 0.0) {
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
    fn a_free_offset_recovers_the_limit() {
        let d = data(|n| 0.3 + 2.0 / n, 0.001);
        let basis: [&dyn Fn(f64) -> f64; 1] = [&|n: f64| 1.0 / n];
        let fit = fit_terms(&d, &basis, true).unwrap();
        assert!((fit.coef[0] - 0.3).abs() < 1e-9 && fit.chi2 < 1e-12);
        let (slope, _) = log_slope(&data(|n| 3.0 / n, 0.01)).unwrap();
        assert!((slope + 1.0).abs() < 1e-12);
    }
}
