//! A centred Gaussian vector G ~ N(0, Σ), represented as G = L z with z ~ N(0, I_r) and
//! L the pivoted Cholesky factor of Σ, and a sampler for it.

use super::error::GaussError;
use super::linalg::{pivoted_cholesky, symmetrized};
use ndarray::Array2;
use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// A centred Gaussian vector G ~ N(0, Σ) of dimension d, written as G = L z with
/// z ~ N(0, I_r), Σ = L Lᵀ, L of size d × r and r = rank Σ.
///
/// Every integration routine works in the r whitened coordinates z, so a singular Σ
/// (correlation ±1, a variable that is a combination of others, a zero variance) costs
/// only its rank: quadrature runs over r dimensions, Monte Carlo draws r normals.
#[derive(Clone, Debug, PartialEq)]
pub struct Gaussian {
    /// Σ after validation and symmetrization.
    cov: Array2<f64>,
    /// L (d × r).
    factor: Array2<f64>,
    /// L stored column by column, contiguous, for the inner loops: G = Σ_j z_j L[:, j].
    columns: Vec<f64>,
}

impl Gaussian {
    /// Validates Σ (square, finite, symmetric and PSD up to
    /// [`PSD_TOLERANCE`](super::PSD_TOLERANCE)) and factors it.
    pub fn new(cov: &Array2<f64>) -> Result<Self, GaussError> {
        let chol = pivoted_cholesky(cov)?;
        let factor = chol.factor;
        let (d, r) = factor.dim();
        let mut columns = Vec::with_capacity(d * r);
        for j in 0..r {
            columns.extend(factor.column(j).iter().copied());
        }
        // Keep the caller's matrix (symmetrized) rather than the reconstruction L Lᵀ,
        // which equals it up to rounding: it is what the caller asked about.
        let cov = symmetrized(cov)?;
        Ok(Gaussian {
            cov,
            factor,
            columns,
        })
    }

    /// The dimension d of G.
    pub fn dim(&self) -> usize {
        self.factor.nrows()
    }

    /// The numerical rank r of Σ (the number of independent normals G is built from).
    pub fn rank(&self) -> usize {
        self.factor.ncols()
    }

    /// Σ as used (validated and symmetrized).
    pub fn covariance(&self) -> &Array2<f64> {
        &self.cov
    }

    /// The factor L (d × r) with Σ = L Lᵀ.
    pub fn factor(&self) -> &Array2<f64> {
        &self.factor
    }

    /// Writes G = L z into `g` (length d) for whitened coordinates `z` (length r).
    ///
    /// # Panics
    /// If the slice lengths differ from r and d; they are sized by the caller from
    /// [`rank`](Self::rank) and [`dim`](Self::dim), never from user data.
    pub fn map_into(&self, z: &[f64], g: &mut [f64]) {
        let d = self.dim();
        assert_eq!(z.len(), self.rank(), "whitened point has the wrong length");
        assert_eq!(g.len(), d, "output point has the wrong length");
        g.iter_mut().for_each(|x| *x = 0.0);
        for (j, &zj) in z.iter().enumerate() {
            let col = &self.columns[j * d..(j + 1) * d];
            for (gi, &lij) in g.iter_mut().zip(col) {
                *gi += lij * zj;
            }
        }
    }

    /// Draws one G ~ N(0, Σ) into `g` (length d) from `rng`, using exactly r standard
    /// normal draws (rand_distr's `StandardNormal`), in order z_0, …, z_{r−1}.
    ///
    /// # Panics
    /// If `g.len() != d` (a caller bug, not a data condition).
    pub fn sample_into<R: Rng + ?Sized>(&self, rng: &mut R, g: &mut [f64]) {
        let d = self.dim();
        assert_eq!(g.len(), d, "output point has the wrong length");
        g.iter_mut().for_each(|x| *x = 0.0);
        for j in 0..self.rank() {
            let zj: f64 = rng.sample(StandardNormal);
            let col = &self.columns[j * d..(j + 1) * d];
            for (gi, &lij) in g.iter_mut().zip(col) {
                *gi += lij * zj;
            }
        }
    }

    /// `count` independent draws of G as the rows of a count × d matrix, from a ChaCha8
    /// stream seeded with `seed` (the same seed gives the same bits on every platform).
    pub fn samples(&self, count: usize, seed: u64) -> Array2<f64> {
        let d = self.dim();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = Array2::zeros((count, d));
        let mut g = vec![0.0; d];
        for mut row in out.rows_mut() {
            self.sample_into(&mut rng, &mut g);
            for (dst, &src) in row.iter_mut().zip(&g) {
                *dst = src;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn sample_covariance_matches() {
        let s = array![[2.0, -0.6, 0.3], [-0.6, 1.0, 0.2], [0.3, 0.2, 0.5]];
        let g = Gaussian::new(&s).unwrap();
        let n = 200_000;
        let x = g.samples(n, 7);
        let emp = x.t().dot(&x) / n as f64;
        for i in 0..3 {
            for j in 0..3 {
                // Standard error of an empirical covariance ≈ √((s_ii s_jj + s_ij²)/n).
                let se = ((s[[i, i]] * s[[j, j]] + s[[i, j]] * s[[i, j]]) / n as f64).sqrt();
                assert!((emp[[i, j]] - s[[i, j]]).abs() < 5.0 * se, "{i}{j}");
            }
        }
    }

    #[test]
    fn singular_covariance_samples_stay_on_the_line() {
        let s = array![[1.0, -2.0], [-2.0, 4.0]];
        let g = Gaussian::new(&s).unwrap();
        assert_eq!(g.rank(), 1);
        let x = g.samples(100, 1);
        for row in x.rows() {
            assert!((row[1] + 2.0 * row[0]).abs() < 1e-12);
        }
    }
}
