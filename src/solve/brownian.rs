//! Deterministic Brownian increments: the increment of entry `e` over step `k` of a
//! family of Brownian motions is √h times the counter-based Gaussian of
//! (seed, stream, k, e), so it does not depend on the order entries are drawn in, on
//! the thread, or on which other entries are drawn at all.
//!
//! A "family" is every Brownian motion one random object needs: the d×d matrix of a
//! CRX layer's noise, the n×n matrix of a Hayou branch, an n-vector. Matrices use the
//! position layout of the width simulator ([`matrix_entry`]) so that entry (i, j) is
//! the same number at every size, which keeps samples nested across widths.

use crate::sim::gaussian::{stream_key, Gaussians, ROW_STRIDE};

/// The position of matrix entry (i, j): `i·2^32 + 15 + j` as in the width simulator's
/// matrices (a row stride larger than any width, odd so that columns are not strided by
/// a power of two).
#[inline(always)]
pub fn matrix_entry(i: usize, j: usize) -> u64 {
    (i as u64).wrapping_mul(ROW_STRIDE).wrapping_add(j as u64)
}

/// One family of Brownian motions, named by (seed, stream).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Brownian {
    key: u64,
}

impl Brownian {
    /// The family `stream` of sample `seed`.
    pub fn new(seed: u64, stream: u64) -> Self {
        Brownian {
            key: stream_key(seed, stream),
        }
    }

    /// The standard Gaussians of step `step`. Distinct steps get distinct keys (the key
    /// derivation is a bijection in the step for a fixed family), so the increments of
    /// different steps are independent.
    #[inline]
    pub fn step(&self, step: u64) -> StepNoise {
        StepNoise {
            gaussians: Gaussians::new(stream_key(self.key, step)),
        }
    }

    /// The increment of entry `entry` over step `step` of length `h` (N(0, h)).
    pub fn increment(&self, step: u64, entry: u64, h: f64) -> f64 {
        self.step(step).increment(entry, h)
    }
}

/// The Gaussians of one step of one family: entry `e` is a standard Gaussian that is a
/// pure function of (seed, stream, step, e).
#[derive(Clone, Copy, Debug)]
pub struct StepNoise {
    gaussians: Gaussians,
}

impl StepNoise {
    /// The standard Gaussian of entry `entry` (multiply by √h for an increment over a
    /// step of length h; the hot loops hoist that square root).
    #[inline(always)]
    pub fn standard(&self, entry: u64) -> f64 {
        self.gaussians.at(entry)
    }

    /// The increment of entry `entry` over a step of length `h` ≥ 0: N(0, h).
    #[inline]
    pub fn increment(&self, entry: u64, h: f64) -> f64 {
        self.gaussians.at(entry) * h.sqrt()
    }

    /// Fills `out[j]` with the increment of entry `first + j` over a step of length `h`.
    pub fn fill(&self, first: u64, h: f64, out: &mut [f64]) {
        self.gaussians.fill(first, h.sqrt(), out);
    }

    /// Fills the row-major `rows × cols` matrix `out` with the increments of entries
    /// `matrix_entry(i, j)` over a step of length `h`. `out` must hold rows·cols
    /// numbers; extra numbers are left alone and a short buffer fills whole rows only.
    pub fn fill_matrix(&self, rows: usize, cols: usize, h: f64, out: &mut [f64]) {
        if cols == 0 {
            return;
        }
        let scale = h.sqrt();
        for (i, row) in out.chunks_exact_mut(cols).take(rows).enumerate() {
            self.gaussians.fill(matrix_entry(i, 0), scale, row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increments_are_pure_functions_of_their_address() {
        let b = Brownian::new(7, 3);
        let mut row = vec![0.0; 5];
        b.step(11).fill(2, 0.25, &mut row);
        for (j, x) in row.iter().enumerate() {
            assert_eq!(x.to_bits(), b.increment(11, 2 + j as u64, 0.25).to_bits());
        }
        // Drawing a matrix of another size does not move entry (1, 2).
        let mut small = vec![0.0; 9];
        let mut large = vec![0.0; 16];
        b.step(4).fill_matrix(3, 3, 0.5, &mut small);
        b.step(4).fill_matrix(4, 4, 0.5, &mut large);
        assert_eq!(small[3 + 2].to_bits(), large[4 + 2].to_bits());
        assert_ne!(
            b.increment(0, 0, 1.0),
            Brownian::new(8, 3).increment(0, 0, 1.0)
        );
        assert_ne!(
            b.increment(0, 0, 1.0),
            Brownian::new(7, 4).increment(0, 0, 1.0)
        );
        assert_ne!(b.increment(0, 0, 1.0), b.increment(1, 0, 1.0));
    }

    #[test]
    fn increments_have_variance_h_and_are_independent_across_steps() {
        let b = Brownian::new(1, 0);
        let h = 0.01;
        let m = 40_000u64;
        let (mut sum, mut sq, mut cross) = (0.0, 0.0, 0.0);
        for k in 0..m {
            let x = b.increment(k, 0, h);
            let y = b.increment(k + 1, 0, h);
            sum += x;
            sq += x * x;
            cross += x * y;
        }
        let m = m as f64;
        // Standard errors: √(h/m) = 5e-4 for the mean, h√(2/m) = 7e-5 for the variance.
        assert!((sum / m).abs() < 2.5e-3);
        assert!((sq / m - h).abs() < 4e-4, "variance {}", sq / m);
        assert!((cross / m).abs() < 3e-4, "lag-1 covariance {}", cross / m);
    }
}
