//! Drawing the random objects of a program (matrices and Gaussian sources) from a seed.
//!
//! Every object has its own ChaCha8 stream, numbered by (object kind, object index), so
//! that adding a matrix or a source to a program leaves every other object's draws
//! unchanged, and the draws do not depend on the order (or the thread) they are made in.
//! Within a stream, draws are laid out so that objects are *nested across widths*: the
//! first m coordinates of a width-n vector are the width-m vector, and the top-left m×m
//! block of a width-n matrix is √(m/n) times the width-m matrix (the same standard
//! Gaussians, rescaled to variance 1/n). Comparing widths with the same seed then
//! compares the same network grown wider, which removes most of the seed-to-seed noise
//! from width sweeps.

use super::error::SimError;
use super::memory::{default_memory_limit, ensure_fits};
use crate::ir::{Kind, Program};
use ndarray::{Array1, Array2};
use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Number of matrix columns whose draws are buffered before being written to the
/// matrix. Column draws land at stride n in a row-major matrix; buffering a block of
/// columns (transposed, so each row's part is contiguous) turns the strided writes into
/// short contiguous copies, which keeps the sampler bound by the generator rather than
/// by cache and TLB misses.
pub(crate) const BLOCK: usize = 64;

/// Stream-number tag of the matrices (bits 56..64 of the ChaCha stream number).
const MATRIX_TAG: u64 = 1 << 56;
/// Stream-number tag of the sources.
const SOURCE_TAG: u64 = 2 << 56;

/// Every random object of a program drawn at one width: the inputs of [`execute`](super::execute).
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The width n.
    pub width: usize,
    /// The matrices Ŵ (n×n, row-major, entries N(0, 1/n)), indexed by `MatrixId`.
    pub matrices: Vec<Array2<f64>>,
    /// The Gaussian sources, indexed by `SourceId`.
    pub sources: Vec<SourceSample>,
}

/// One drawn source.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceSample {
    /// A vector source: n i.i.d. N(0, 1) coordinates.
    Vector(Array1<f64>),
    /// A scalar source: one N(0, 1) number.
    Scalar(f64),
}

/// Draws every random object of `program` at width `width` from `seed`, refusing with
/// [`SimError::TooLarge`] when the simulation would need more than the default memory
/// limit ([`default_memory_limit`]).
pub fn draw(program: &Program, width: usize, seed: u64) -> Result<Sample, SimError> {
    draw_with_limit(program, width, seed, default_memory_limit())
}

/// [`draw`] with an explicit memory limit in bytes (checked against
/// [`estimate_bytes`](super::estimate_bytes), which also counts the values that
/// execution will create, so that a run is refused before anything is allocated).
pub fn draw_with_limit(
    program: &Program,
    width: usize,
    seed: u64,
    limit_bytes: u64,
) -> Result<Sample, SimError> {
    let mut sample = Sample {
        width,
        matrices: Vec::new(),
        sources: Vec::new(),
    };
    draw_into_with_limit(program, width, seed, &mut sample, limit_bytes)?;
    Ok(sample)
}

/// Redraws `sample` in place for `program` at `width` from `seed`, with the same result as
/// [`draw`] but reusing the sample's arrays where their shapes already fit.
///
/// Loops over seeds should use this: a fresh n×n matrix costs as much in page faults as
/// in random numbers (about 130 ms each at n = 4096 on a small VM), and reusing the
/// memory removes that half.
pub fn draw_into(
    program: &Program,
    width: usize,
    seed: u64,
    sample: &mut Sample,
) -> Result<(), SimError> {
    draw_into_with_limit(program, width, seed, sample, default_memory_limit())
}

/// [`draw_into`] with an explicit memory limit in bytes.
pub fn draw_into_with_limit(
    program: &Program,
    width: usize,
    seed: u64,
    sample: &mut Sample,
    limit_bytes: u64,
) -> Result<(), SimError> {
    if width == 0 {
        return Err(SimError::ZeroWidth);
    }
    ensure_fits(program, width, limit_bytes)?;
    let n = width;
    sample.width = n;
    let count = program.matrices.len();
    sample.matrices.truncate(count);
    let mut scratch = vec![0.0f64; BLOCK * n];
    for index in 0..count {
        if let Some(w) = sample.matrices.get_mut(index) {
            if w.dim() == (n, n) {
                if let Some(data) = w.as_slice_mut() {
                    fill_matrix(data, n, seed, index, &mut scratch);
                    continue;
                }
            }
        }
        let mut data = vec![0.0f64; n * n];
        fill_matrix(&mut data, n, seed, index, &mut scratch);
        // `data` has exactly n·n entries, so the shape always matches.
        let w = Array2::from_shape_vec((n, n), data).map_err(|e| SimError::SampleMismatch {
            detail: e.to_string(),
        })?;
        if index < sample.matrices.len() {
            sample.matrices[index] = w;
        } else {
            sample.matrices.push(w);
        }
    }
    sample.sources.truncate(program.sources.len());
    for (index, source) in program.sources.iter().enumerate() {
        let mut rng = stream(seed, SOURCE_TAG, index);
        let drawn = match (source.kind, sample.sources.get_mut(index)) {
            (Kind::Vector, Some(SourceSample::Vector(v))) if v.len() == n => {
                v.iter_mut().for_each(|x| *x = rng.sample(StandardNormal));
                continue;
            }
            (Kind::Vector, _) => {
                SourceSample::Vector((0..n).map(|_| rng.sample(StandardNormal)).collect())
            }
            (Kind::Scalar, _) => SourceSample::Scalar(rng.sample(StandardNormal)),
        };
        if index < sample.sources.len() {
            sample.sources[index] = drawn;
        } else {
            sample.sources.push(drawn);
        }
    }
    Ok(())
}

/// The generator of one object: the seed's key, the object's own stream number.
fn stream(seed: u64, tag: u64, index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Indices beyond 2^56 cannot occur (the program would not fit in memory); masking
    // keeps the tag bits intact regardless.
    rng.set_stream(tag | (index as u64 & ((1 << 56) - 1)));
    rng
}

/// The matrix `index` at width `n` for `seed`, as [`draw`] makes it: standard Gaussians
/// in shell order, divided by √n.
///
/// Shell k (k = 0, 1, …) is row k's entries (k, 0..=k) followed by column k's entries
/// (0..k, k). The first m shells fill exactly the top-left m×m block, whatever n is,
/// which is what makes matrices nested across widths.
///
/// No memory check is made here (it is a building block); [`draw`] checks first.
pub fn draw_matrix(n: usize, seed: u64, index: usize) -> Array2<f64> {
    let mut data = vec![0.0f64; n * n];
    fill_matrix(&mut data, n, seed, index, &mut vec![0.0; BLOCK * n]);
    Array2::from_shape_vec((n, n), data).unwrap_or_else(|_| Array2::zeros((n, n)))
}

/// Fills the row-major n×n `data` with matrix `index`; `scratch` holds `BLOCK·n` numbers.
fn fill_matrix(data: &mut [f64], n: usize, seed: u64, index: usize, scratch: &mut [f64]) {
    let mut rng = stream(seed, MATRIX_TAG, index);
    let scale = 1.0 / (n as f64).sqrt();
    let mut k0 = 0;
    while k0 < n {
        let k1 = (k0 + BLOCK).min(n);
        // Shells k0..k1: rows go straight to the matrix; column k's entry (i, k) waits in
        // scratch[i·BLOCK + (k − k0)], so row i of the block is contiguous in scratch.
        for k in k0..k1 {
            for entry in data[k * n..k * n + k + 1].iter_mut() {
                *entry = rng.sample::<f64, _>(StandardNormal) * scale;
            }
            let c = k - k0;
            for i in 0..k {
                scratch[i * BLOCK + c] = rng.sample::<f64, _>(StandardNormal) * scale;
            }
        }
        // Flush: entries (i, k) for k in the block and i < k.
        for i in 0..k1.saturating_sub(1) {
            let first = k0.max(i + 1);
            data[i * n + first..i * n + k1]
                .copy_from_slice(&scratch[i * BLOCK + first - k0..i * BLOCK + k1 - k0]);
        }
        k0 = k1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shell order written out naively: the sampler must agree with it entry by entry.
    fn naive_shell_matrix(n: usize, seed: u64, index: usize) -> Array2<f64> {
        let mut rng = stream(seed, MATRIX_TAG, index);
        let scale = 1.0 / (n as f64).sqrt();
        let mut m = Array2::zeros((n, n));
        for k in 0..n {
            for j in 0..=k {
                m[(k, j)] = rng.sample::<f64, _>(StandardNormal) * scale;
            }
            for i in 0..k {
                m[(i, k)] = rng.sample::<f64, _>(StandardNormal) * scale;
            }
        }
        m
    }

    #[test]
    fn blocked_sampler_matches_naive_shell_order() {
        // Widths below, at and across block boundaries.
        for n in [1, 2, 5, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK + 7] {
            assert_eq!(
                draw_matrix(n, 11, 3),
                naive_shell_matrix(n, 11, 3),
                "n = {n}"
            );
        }
    }

    #[test]
    fn streams_are_distinct_per_object() {
        let a = draw_matrix(4, 5, 0);
        let b = draw_matrix(4, 5, 1);
        assert_ne!(a, b);
        let mut v = stream(5, SOURCE_TAG, 0);
        let mut m = stream(5, MATRIX_TAG, 0);
        let x: f64 = v.sample(StandardNormal);
        let y: f64 = m.sample(StandardNormal);
        assert_ne!(x, y);
    }

    #[test]
    fn matrix_entries_have_variance_one_over_n() {
        let n = 300;
        let w = draw_matrix(n, 1, 0);
        let mean = w.mean().unwrap_or(f64::NAN);
        let var = w.mapv(|x| x * x).mean().unwrap_or(f64::NAN);
        // 90000 entries: the mean of squares of N(0, 1/n) has relative sd √(2/90000) ≈ 0.005.
        // The mean of 90000 entries of sd 1/√n has sd 1/(300√n).
        assert!(
            mean.abs() < 4.0 / (300.0 * (n as f64).sqrt()),
            "mean {mean}"
        );
        assert!(
            (var * n as f64 - 1.0).abs() < 0.02,
            "n·var {}",
            var * n as f64
        );
    }
}
