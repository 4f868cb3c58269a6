//! Small dense linear algebra for covariance matrices: validation, Cholesky factors
//! (pivoted and plain, both tolerant of semidefinite input), linear solves and the
//! pseudo-inverse of a PSD matrix.
//!
//! Dimensions here are those of a Tensor Program's finite Gaussian vectors (1 to a few
//! dozen), so everything is O(d³) textbook code on `ndarray::Array2<f64>`; no LAPACK.

use super::error::GaussError;
use ndarray::Array2;

/// Relative tolerance (times the largest |entry|) within which a covariance may be
/// asymmetric or have negative directions and still be accepted as PSD.
///
/// Covariances reaching this module are themselves computed (closed forms, quadrature,
/// Monte Carlo), so they carry rounding: a correlation of 1 may come out as
/// 1 + 1e-16 and make an exactly singular matrix slightly indefinite. Violations below
/// this tolerance are clamped to zero; larger ones are reported as
/// [`GaussError::NotPositiveSemidefinite`], because they mean a real upstream bug.
pub const PSD_TOLERANCE: f64 = 1e-9;

/// A pivot at most this many machine epsilons (times dimension and scale) is treated as
/// zero, i.e. that direction of the Gaussian has no variance.
///
/// This is a rounding-level threshold on purpose: dropping a direction of variance δ
/// changes E[F(G)] by O(δ), so the threshold is also the size of the error it causes.
const ZERO_PIVOT_EPS: f64 = 16.0 * f64::EPSILON;

/// Checks that `a` is square with finite entries and returns its size.
fn check_square_finite(a: &Array2<f64>) -> Result<usize, GaussError> {
    let (rows, cols) = a.dim();
    if rows != cols {
        return Err(GaussError::NotSquare { rows, cols });
    }
    for ((row, col), &value) in a.indexed_iter() {
        if !value.is_finite() {
            return Err(GaussError::NonFiniteEntry { row, col, value });
        }
    }
    Ok(rows)
}

/// The largest |entry| of `a` (0 for an empty or zero matrix).
fn max_abs(a: &Array2<f64>) -> f64 {
    a.iter().fold(0.0_f64, |m, &x| m.max(x.abs()))
}

/// Validates a covariance matrix and returns its symmetric part (A + Aᵀ)/2.
///
/// Errors: not square, a non-finite entry, or an asymmetry larger than
/// [`PSD_TOLERANCE`] × max|entry|. Positive semidefiniteness is checked by the
/// factorizations, which see it as a by-product.
pub fn symmetrized(cov: &Array2<f64>) -> Result<Array2<f64>, GaussError> {
    let d = check_square_finite(cov)?;
    let tol = PSD_TOLERANCE * max_abs(cov);
    let mut s = cov.clone();
    for i in 0..d {
        for j in (i + 1)..d {
            let (upper, lower) = (cov[[i, j]], cov[[j, i]]);
            if (upper - lower).abs() > tol {
                return Err(GaussError::NotSymmetric {
                    row: i,
                    col: j,
                    upper,
                    lower,
                });
            }
            let mean = 0.5 * (upper + lower);
            s[[i, j]] = mean;
            s[[j, i]] = mean;
        }
    }
    Ok(s)
}

/// A pivoted Cholesky factorization of a PSD matrix: Σ = L Lᵀ with L of size d × r,
/// r the numerical rank.
///
/// Column j of L is the Schur-complement column of the j-th pivot (the variable with the
/// largest remaining variance), divided by the square root of that pivot. Choosing the
/// largest pivot makes the factor stable for nearly singular Σ and makes r a reliable
/// rank: a direction whose remaining variance is at rounding level is dropped.
#[derive(Clone, Debug, PartialEq)]
pub struct PivotedCholesky {
    /// The d × r factor, in the original variable order (not triangular in general;
    /// it is lower triangular after permuting rows by `pivots`).
    pub factor: Array2<f64>,
    /// The variables chosen as pivots, in order (length r).
    pub pivots: Vec<usize>,
}

impl PivotedCholesky {
    /// The numerical rank r of the factored matrix.
    pub fn rank(&self) -> usize {
        self.pivots.len()
    }
}

/// Pivoted, PSD-tolerant Cholesky factorization Σ = L Lᵀ (see [`PivotedCholesky`]).
///
/// The matrix is first validated and symmetrized ([`symmetrized`]). Elimination stops
/// when the largest remaining variance is below 16·d·ε·max|Σ|; the remaining Schur
/// complement must then vanish up to [`PSD_TOLERANCE`] × max|Σ| (a more negative
/// variance, or a residual covariance no PSD matrix could have, is
/// [`GaussError::NotPositiveSemidefinite`]). A zero matrix has rank 0 and a d × 0 factor.
pub fn pivoted_cholesky(cov: &Array2<f64>) -> Result<PivotedCholesky, GaussError> {
    let mut s = symmetrized(cov)?;
    let d = s.nrows();
    // Tolerances are relative to each variable's own variance (as if factoring the
    // correlation matrix): with variances 1 and 10^18 side by side, a threshold
    // relative to the largest entry would drop the variance-1 direction as rounding.
    let variance: Vec<f64> = (0..d).map(|i| s[[i, i]].max(0.0)).collect();
    let zero_tol = |i: usize| ZERO_PIVOT_EPS * (d.max(1) as f64) * variance[i];
    let neg_tol = |i: usize, j: usize| PSD_TOLERANCE * (variance[i] * variance[j]).sqrt();

    let mut remaining: Vec<usize> = (0..d).collect();
    let mut pivots = Vec::new();
    let mut columns: Vec<Vec<f64>> = Vec::new();
    // Each step pivots on the remaining variable with the largest remaining share of its
    // own variance (scale-free: the same choice for the correlation matrix).
    while let Some((pos, &p)) = remaining
        .iter()
        .enumerate()
        .filter(|(_, &a)| s[[a, a]] > zero_tol(a))
        .max_by(|(_, &a), (_, &b)| {
            // Ties (every variable at the start) go to the largest variance.
            (s[[a, a]] / variance[a])
                .total_cmp(&(s[[b, b]] / variance[b]))
                .then(s[[a, a]].total_cmp(&s[[b, b]]))
        })
    {
        let pivot = s[[p, p]];
        let root = pivot.sqrt();
        remaining.swap_remove(pos);
        let mut col = vec![0.0; d];
        col[p] = root;
        for &i in &remaining {
            col[i] = s[[i, p]] / root;
        }
        for &i in &remaining {
            for &j in &remaining {
                s[[i, j]] -= col[i] * col[j];
            }
        }
        pivots.push(p);
        columns.push(col);
    }

    // What is left must be zero up to rounding for Σ to be PSD: for a PSD residual,
    // |s_ij| ≤ √(s_ii s_jj), so anything beyond the tolerance is a real violation.
    for &i in &remaining {
        for &j in &remaining {
            let r = s[[i, j]];
            let tolerance = neg_tol(i, j);
            let bad = if i == j {
                r < -tolerance
            } else {
                r.abs() > tolerance
            };
            if bad {
                return Err(GaussError::NotPositiveSemidefinite {
                    index: i,
                    residual: r,
                    tolerance,
                });
            }
        }
    }

    let r = columns.len();
    let mut factor = Array2::zeros((d, r));
    for (j, col) in columns.iter().enumerate() {
        for i in 0..d {
            factor[[i, j]] = col[i];
        }
    }
    Ok(PivotedCholesky { factor, pivots })
}

/// Lower-triangular Cholesky factor L (Σ = L Lᵀ) of a PSD matrix, in the given variable
/// order.
///
/// Where a pivot is zero up to rounding (variable j is, to rounding, a linear combination
/// of variables 0..j), column j of L is set to zero; this is valid exactly when the rest
/// of that Schur-complement column also vanishes, which is checked against
/// [`PSD_TOLERANCE`]. The ordered form is what one needs to write G_j as a combination
/// of independent standard normals z_0..z_j; for sampling and quadrature prefer
/// [`pivoted_cholesky`], which is more stable for nearly singular matrices.
pub fn cholesky_psd(cov: &Array2<f64>) -> Result<Array2<f64>, GaussError> {
    let a = symmetrized(cov)?;
    let d = a.nrows();
    // Relative to each variable's own variance, as in [`pivoted_cholesky`].
    let variance: Vec<f64> = (0..d).map(|i| a[[i, i]].max(0.0)).collect();
    let neg_tol = |i: usize, j: usize| PSD_TOLERANCE * (variance[i] * variance[j]).sqrt();
    let mut l = Array2::<f64>::zeros((d, d));
    for j in 0..d {
        let diag = a[[j, j]] - (0..j).map(|k| l[[j, k]] * l[[j, k]]).sum::<f64>();
        if diag > ZERO_PIVOT_EPS * (d.max(1) as f64) * variance[j] {
            let root = diag.sqrt();
            l[[j, j]] = root;
            for i in (j + 1)..d {
                let off = a[[i, j]] - (0..j).map(|k| l[[i, k]] * l[[j, k]]).sum::<f64>();
                l[[i, j]] = off / root;
            }
        } else {
            if diag < -neg_tol(j, j) {
                return Err(GaussError::NotPositiveSemidefinite {
                    index: j,
                    residual: diag,
                    tolerance: neg_tol(j, j),
                });
            }
            for i in (j + 1)..d {
                let off = a[[i, j]] - (0..j).map(|k| l[[i, k]] * l[[j, k]]).sum::<f64>();
                if off.abs() > neg_tol(i, j) {
                    return Err(GaussError::NotPositiveSemidefinite {
                        index: i,
                        residual: off,
                        tolerance: neg_tol(i, j),
                    });
                }
            }
        }
    }
    Ok(l)
}

/// Solves A x = b for a square, nonsingular A by Gaussian elimination with partial
/// pivoting.
///
/// Errors: A not square or not finite, `b` of the wrong length, or a pivot below
/// d·ε·max|A| ([`GaussError::Singular`]), i.e. A singular to working precision.
pub fn solve(a: &Array2<f64>, b: &[f64]) -> Result<Vec<f64>, GaussError> {
    let d = check_square_finite(a)?;
    if b.len() != d {
        return Err(GaussError::DimensionMismatch {
            detail: format!(
                "the matrix is {d}×{d} but the right-hand side has {}",
                b.len()
            ),
        });
    }
    if let Some(i) = b.iter().position(|x| !x.is_finite()) {
        return Err(GaussError::BadParameter {
            detail: format!("right-hand side entry {i} is {}", b[i]),
        });
    }
    let tol = (d as f64) * f64::EPSILON * max_abs(a);
    let mut m = a.clone();
    let mut x = b.to_vec();
    for col in 0..d {
        let (piv_row, piv) = (col..d)
            .map(|r| (r, m[[r, col]]))
            .max_by(|p, q| p.1.abs().total_cmp(&q.1.abs()))
            .unwrap_or((col, 0.0));
        if piv.abs() <= tol || piv == 0.0 {
            return Err(GaussError::Singular {
                column: col,
                pivot: piv,
            });
        }
        if piv_row != col {
            for c in 0..d {
                m.swap([col, c], [piv_row, c]);
            }
            x.swap(col, piv_row);
        }
        for r in (col + 1)..d {
            let factor = m[[r, col]] / piv;
            if factor != 0.0 {
                for c in col..d {
                    m[[r, c]] -= factor * m[[col, c]];
                }
                x[r] -= factor * x[col];
            }
        }
    }
    for row in (0..d).rev() {
        let tail: f64 = ((row + 1)..d).map(|c| m[[row, c]] * x[c]).sum();
        x[row] = (x[row] - tail) / m[[row, row]];
    }
    Ok(x)
}

/// The Moore–Penrose pseudo-inverse Σ⁺ of a PSD matrix, from its pivoted Cholesky factor.
///
/// With Σ = L Lᵀ and L of full column rank r (see [`pivoted_cholesky`]),
/// Σ⁺ = L (LᵀL)⁻² Lᵀ = A Aᵀ with A = L (LᵀL)⁻¹. For invertible Σ this is Σ⁻¹. Directions
/// whose variance is below the rank threshold are treated as exactly null.
pub fn pseudo_inverse_psd(cov: &Array2<f64>) -> Result<Array2<f64>, GaussError> {
    let chol = pivoted_cholesky(cov)?;
    pseudo_inverse_from_factor(&chol.factor)
}

/// A = L (LᵀL)⁻¹ for a d × r factor L of full column rank, so that Σ⁺ = A Aᵀ and
/// Σ⁺ (L z) = A z.
pub(crate) fn range_inverse_factor(l: &Array2<f64>) -> Result<Array2<f64>, GaussError> {
    let (d, r) = l.dim();
    let gram = l.t().dot(l);
    // Solve (LᵀL) Aᵀ = Lᵀ column by column of Lᵀ (i.e. row by row of L).
    let mut a = Array2::zeros((d, r));
    for i in 0..d {
        let row: Vec<f64> = l.row(i).to_vec();
        let sol = solve(&gram, &row)?;
        for j in 0..r {
            a[[i, j]] = sol[j];
        }
    }
    Ok(a)
}

/// Σ⁺ = A Aᵀ from a full-column-rank factor L (Σ = L Lᵀ), A = L (LᵀL)⁻¹.
pub(crate) fn pseudo_inverse_from_factor(l: &Array2<f64>) -> Result<Array2<f64>, GaussError> {
    let a = range_inverse_factor(l)?;
    Ok(a.dot(&a.t()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn reconstruct(l: &Array2<f64>) -> Array2<f64> {
        l.dot(&l.t())
    }

    fn max_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
        (a - b).iter().fold(0.0_f64, |m, x| m.max(x.abs()))
    }

    #[test]
    fn pivoted_cholesky_reconstructs_full_rank() {
        let s = array![[4.0, 1.0, 0.5], [1.0, 3.0, -0.7], [0.5, -0.7, 2.0]];
        let c = pivoted_cholesky(&s).unwrap();
        assert_eq!(c.rank(), 3);
        // The first pivot is the largest variance.
        assert_eq!(c.pivots[0], 0);
        assert!(max_diff(&reconstruct(&c.factor), &s) < 1e-14);
    }

    #[test]
    fn badly_scaled_variables_are_not_rounding() {
        // Variances 1 and 1e18, independent or nearly collinear: neither direction is
        // rounding noise of the other (a threshold relative to the largest entry
        // dropped the first, and an integrand reading it then saw a constant).
        for rho in [0.0, 0.5, 0.999_999] {
            let c = rho * 1e9;
            let s = array![[1.0, c], [c, 1e18]];
            let p = pivoted_cholesky(&s).unwrap();
            assert_eq!(p.rank(), 2, "rho = {rho}");
            let r = reconstruct(&p.factor);
            assert!((r[[0, 0]] - 1.0).abs() < 1e-9 && (r[[0, 1]] - c).abs() <= 1e-6 * c.max(1.0));
            let l = cholesky_psd(&s).unwrap();
            assert!(l[[1, 1]] > 0.0 && (reconstruct(&l)[[0, 0]] - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn pivoted_cholesky_finds_rank_of_singular_matrices() {
        // Correlation +1 and -1 and an exact linear combination.
        let plus = array![[2.0, 2.0], [2.0, 2.0]];
        let minus = array![[1.0, -3.0], [-3.0, 9.0]];
        let v = [1.0, -2.0, 0.5];
        let w = [0.3, 0.1, 1.0];
        let mut comb = Array2::zeros((3, 3));
        for i in 0..3 {
            for j in 0..3 {
                comb[[i, j]] = v[i] * v[j] + w[i] * w[j];
            }
        }
        for (m, rank) in [(plus, 1), (minus, 1), (comb, 2)] {
            let c = pivoted_cholesky(&m).unwrap();
            assert_eq!(c.rank(), rank, "{m}");
            assert!(max_diff(&reconstruct(&c.factor), &m) < 1e-13);
        }
        let zero = Array2::<f64>::zeros((2, 2));
        assert_eq!(pivoted_cholesky(&zero).unwrap().rank(), 0);
    }

    #[test]
    fn indefinite_and_malformed_matrices_are_rejected() {
        let indefinite = array![[1.0, 2.0], [2.0, 1.0]];
        assert!(matches!(
            pivoted_cholesky(&indefinite),
            Err(GaussError::NotPositiveSemidefinite { .. })
        ));
        assert!(matches!(
            cholesky_psd(&indefinite),
            Err(GaussError::NotPositiveSemidefinite { .. })
        ));
        // Zero diagonal with a nonzero covariance is impossible for a PSD matrix.
        let hollow = array![[0.0, 1.0], [1.0, 0.0]];
        assert!(pivoted_cholesky(&hollow).is_err());
        assert!(cholesky_psd(&hollow).is_err());
        let negative = array![[-1.0]];
        assert!(pivoted_cholesky(&negative).is_err());
        let asym = array![[1.0, 0.5], [0.4, 1.0]];
        assert!(matches!(
            pivoted_cholesky(&asym),
            Err(GaussError::NotSymmetric { .. })
        ));
        let nan = array![[1.0, f64::NAN], [f64::NAN, 1.0]];
        assert!(matches!(
            pivoted_cholesky(&nan),
            Err(GaussError::NonFiniteEntry { .. })
        ));
        let rect = Array2::<f64>::zeros((2, 3));
        assert!(matches!(
            pivoted_cholesky(&rect),
            Err(GaussError::NotSquare { .. })
        ));
    }

    #[test]
    fn rounding_level_indefiniteness_is_accepted() {
        let eps = 1e-15;
        let m = array![[1.0, 1.0 + eps], [1.0 + eps, 1.0]];
        assert_eq!(pivoted_cholesky(&m).unwrap().rank(), 1);
        let l = cholesky_psd(&m).unwrap();
        assert_eq!(l[[1, 1]], 0.0);
    }

    #[test]
    fn plain_cholesky_is_lower_triangular_and_exact() {
        let s = array![[4.0, 2.0, 2.0], [2.0, 1.0, 1.0], [2.0, 1.0, 3.0]];
        let l = cholesky_psd(&s).unwrap();
        assert_eq!(l[[0, 1]], 0.0);
        assert_eq!(l[[1, 1]], 0.0); // variable 1 is half of variable 0
        assert!(max_diff(&reconstruct(&l), &s) < 1e-14);
    }

    #[test]
    fn solve_matches_known_solution_and_detects_singularity() {
        let a = array![[0.0, 2.0, 1.0], [1.0, 1.0, 0.0], [3.0, 0.0, 1.0]];
        let x = [1.0, -2.0, 3.0];
        let b: Vec<f64> = (0..3)
            .map(|i| (0..3).map(|j| a[[i, j]] * x[j]).sum())
            .collect();
        let got = solve(&a, &b).unwrap();
        for i in 0..3 {
            assert!((got[i] - x[i]).abs() < 1e-14);
        }
        let sing = array![[1.0, 2.0], [2.0, 4.0]];
        assert!(matches!(
            solve(&sing, &[1.0, 1.0]),
            Err(GaussError::Singular { .. })
        ));
        assert!(solve(&a, &[1.0]).is_err());
    }

    #[test]
    fn pseudo_inverse_satisfies_penrose_conditions() {
        // Rank-2 PSD 3×3 matrix.
        let v = [1.0, -2.0, 0.5];
        let w = [0.3, 0.1, 1.0];
        let mut s = Array2::zeros((3, 3));
        for i in 0..3 {
            for j in 0..3 {
                s[[i, j]] = v[i] * v[j] + 2.0 * w[i] * w[j];
            }
        }
        let p = pseudo_inverse_psd(&s).unwrap();
        assert!(max_diff(&s.dot(&p).dot(&s), &s) < 1e-12);
        assert!(max_diff(&p.dot(&s).dot(&p), &p) < 1e-12);
        let sp = s.dot(&p);
        assert!(max_diff(&sp, &sp.t().to_owned()) < 1e-12);
        // Invertible case: the inverse.
        let s2 = array![[2.0, 0.5], [0.5, 1.0]];
        let inv = pseudo_inverse_psd(&s2).unwrap();
        assert!(max_diff(&s2.dot(&inv), &Array2::eye(2)) < 1e-14);
    }
}
