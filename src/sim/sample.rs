//! Drawing the random objects of a program (matrices and Gaussian sources) from a seed.
//!
//! Every object has its own counter-based Gaussian stream ([`super::gaussian`]), keyed by
//! (seed, object kind, object index), so that adding a matrix or a source to a program
//! leaves every other object's draws unchanged, and the draws do not depend on the order
//! (or the thread) they are made in. Entry (i, j) of a matrix is the stream's number at
//! position `i·(2³² + 15) + j` and coordinate i of a vector the number at position i, whatever
//! the width: objects are *nested across widths* — the first m coordinates of a width-n
//! vector are the width-m vector, and the top-left m×m block of a width-n matrix is
//! √(m/n) times the width-m matrix (the same standard Gaussians, rescaled to variance
//! 1/n). Comparing widths with the same seed then compares the same network grown wider,
//! which removes most of the seed-to-seed noise from width sweeps.

use super::error::SimError;
use super::gaussian::{stream_key, Gaussians, ROW_STRIDE};
use super::memory::{default_memory_limit, ensure_fits};
use crate::ir::{Kind, Program};
use ndarray::{Array1, Array2};

/// Stream-number tag of the matrices (bits 56..64 of the stream number).
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
    for index in 0..count {
        if let Some(w) = sample.matrices.get_mut(index) {
            if w.dim() == (n, n) {
                if let Some(data) = w.as_slice_mut() {
                    fill_matrix(data, n, seed, index);
                    continue;
                }
            }
        }
        let mut data = vec![0.0f64; n * n];
        fill_matrix(&mut data, n, seed, index);
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
        let gaussians = stream(seed, SOURCE_TAG, index);
        let drawn = match (source.kind, sample.sources.get_mut(index)) {
            (Kind::Vector, Some(SourceSample::Vector(v))) if v.len() == n => {
                if let Some(data) = v.as_slice_mut() {
                    gaussians.fill(0, 1.0, data);
                    continue;
                }
                SourceSample::Vector((0..n as u64).map(|c| gaussians.at(c)).collect())
            }
            (Kind::Vector, _) => {
                SourceSample::Vector((0..n as u64).map(|c| gaussians.at(c)).collect())
            }
            (Kind::Scalar, _) => SourceSample::Scalar(gaussians.at(0)),
        };
        if index < sample.sources.len() {
            sample.sources[index] = drawn;
        } else {
            sample.sources.push(drawn);
        }
    }
    Ok(())
}

/// The Gaussian stream of one object: the seed's, numbered by the object's kind and index.
fn stream(seed: u64, tag: u64, index: usize) -> Gaussians {
    // Indices beyond 2^56 cannot occur (the program would not fit in memory); masking
    // keeps the tag bits intact regardless.
    Gaussians::new(stream_key(seed, tag | (index as u64 & ((1 << 56) - 1))))
}

/// The matrix `index` at width `n` for `seed`, as [`draw`] makes it: entry (i, j) is the
/// standard Gaussian at position `i·(2³² + 15) + j` of the matrix's stream, divided by √n.
///
/// The position does not depend on n, which is what makes matrices nested across widths.
/// No memory check is made here (it is a building block); [`draw`] checks first.
pub fn draw_matrix(n: usize, seed: u64, index: usize) -> Array2<f64> {
    let mut data = vec![0.0f64; n * n];
    fill_matrix(&mut data, n, seed, index);
    Array2::from_shape_vec((n, n), data).unwrap_or_else(|_| Array2::zeros((n, n)))
}

/// Fills the row-major n×n `data` with matrix `index`, row by row in memory order.
fn fill_matrix(data: &mut [f64], n: usize, seed: u64, index: usize) {
    let gaussians = stream(seed, MATRIX_TAG, index);
    let scale = 1.0 / (n as f64).sqrt();
    if n == 0 {
        return;
    }
    for (i, row) in data.chunks_exact_mut(n).enumerate() {
        gaussians.fill(i as u64 * ROW_STRIDE, scale, row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_do_not_depend_on_the_width() {
        let small = draw_matrix(3, 11, 2);
        let large = draw_matrix(70, 11, 2);
        for i in 0..3 {
            for j in 0..3 {
                let a = small[(i, j)] * 3f64.sqrt();
                let b = large[(i, j)] * 70f64.sqrt();
                assert!((a - b).abs() <= 1e-15 * a.abs().max(1.0), "({i}, {j})");
            }
        }
    }

    #[test]
    fn streams_are_distinct_per_object() {
        let a = draw_matrix(4, 5, 0);
        let b = draw_matrix(4, 5, 1);
        assert_ne!(a, b);
        let v = stream(5, SOURCE_TAG, 0);
        let m = stream(5, MATRIX_TAG, 0);
        assert_ne!(v.at(0), m.at(0));
    }

    /// Rows and columns of independent entries: the largest singular value of an n×n
    /// matrix with N(0, 1/n) entries approaches 2 (the edge of the quarter-circle law);
    /// correlated rows or columns would push it far away.
    #[test]
    fn largest_singular_value_is_near_two() {
        let n = 400;
        let w = draw_matrix(n, 3, 1);
        let mut x = Array1::from_elem(n, 1.0 / (n as f64).sqrt());
        let mut sigma = 0.0;
        for _ in 0..200 {
            let y = crate::sim::product::transpose_times(&w, &crate::sim::product::times(&w, &x));
            let norm = y.dot(&y).sqrt();
            sigma = norm.sqrt();
            x = y / norm;
        }
        assert!((sigma - 2.0).abs() < 0.1, "largest singular value {sigma}");
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
