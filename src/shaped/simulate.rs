//! Finite shaped MLPs: h_{ℓ+1} = √(c/n) W_ℓ φ_S(h_ℓ), W_ℓ with i.i.d. N(0, 1) entries,
//! c = 1/E[φ_S(g)²], at width n and depth d = round(τ n).
//!
//! **The Gram chain.** Write Φ_ℓ = (c/n) Σ_i φ_S(h_{ℓ,i}) φ_S(h_{ℓ,i})ᵀ (m×m, one row of
//! φ_S(h_ℓ) per neuron i). Given h_ℓ, the rows of h_{ℓ+1} = √(c/n) W_ℓ φ_S(h_ℓ) are
//! i.i.d. Gaussian with covariance (c/n) φ_S(h_ℓ)ᵀφ_S(h_ℓ) = Φ_ℓ, because W_ℓ is fresh
//! and independent of everything before. So Φ_{ℓ+1} depends on the past only through
//! Φ_ℓ: (Φ_ℓ) is a Markov chain, and sampling n i.i.d. N(0, Φ_ℓ) vectors per layer
//! reproduces the network's law of every Φ_ℓ exactly, at a cost O(n m²) per layer
//! instead of the O(n² m) of the matrix products ([`sample_chain`]). The literal
//! network ([`literal_network`]) exists only to test that claim.
//!
//! **Sweeps.** [`sweep`] runs the chain at every width × sample. Sample s at width n
//! draws from the ChaCha8 stream of (seed, s, n) only, cells are stored by index, and
//! every sum runs in a fixed order, so a sweep is bit-identical at any thread count. Its
//! cost is planned first ([`plan`]) and refused beyond a budget.

use super::model::{NumericShaped, ShapedProgram};
use crate::gauss::{gauss_hermite, GaussError};
use crate::solve::gram::{packed_index, packed_len, path_rng, psd_cholesky, GramStopKind};
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde::Serialize;
use std::fmt;

/// The widths of a sweep when none are given.
pub const DEFAULT_WIDTHS: [usize; 5] = [32, 64, 128, 256, 512];

/// Samples per width when none are given: about a second of one core in a release build
/// at τ = 1, m = 2 over [`DEFAULT_WIDTHS`] (the widest dominates; see [`plan`]).
pub const DEFAULT_SAMPLES: usize = 100;

/// Gauss–Hermite orders for c = 1/E[φ_S(g)²]; their difference is the error estimate.
const HERMITE_ORDERS: (usize, usize) = (64, 128);

/// Work units per Gaussian draw (about a nanosecond each, as in the depth simulator).
const GAUSSIAN_COST: u64 = 8;

/// Work units per evaluation of a smooth activation through its expression tree.
const SMOOTH_COST: u64 = 40;

/// Stream tags of the chain and of the literal network, so their draws never coincide.
const CHAIN_TAG: u64 = 0x5A << 48;
const LITERAL_TAG: u64 = 0x5B << 48;

/// Why a shaped simulation refuses to run. A blow-up is a result, not an error.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ShapedSimError {
    /// A size is zero.
    #[error("{what} must be at least 1")]
    ZeroSize {
        /// `width`, `samples`, `threads`, `inputs`.
        what: &'static str,
    },
    /// A width is listed twice.
    #[error("width {0} is listed twice")]
    RepeatedWidth(usize),
    /// The input Gram matrix is not square, symmetric, with a positive diagonal.
    #[error("the input Gram matrix is unusable: {0}")]
    BadGram(String),
    /// The inputs of the literal network do not all have the same positive length.
    #[error("the inputs must be nonempty vectors of one length")]
    BadInputs,
    /// E[φ_S(g)²] is not a positive finite number, so c is undefined.
    #[error(
        "E[phi_S(g)^2] = {0} at width {1}: the normalization c = 1/E[phi_S(g)^2] is undefined"
    )]
    BadNormalization(f64, usize),
    /// The quadrature refused.
    #[error(transparent)]
    Gauss(#[from] GaussError),
    /// A recording time is outside [0, τ].
    #[error("recording time {0} is outside [0, tau = {1}]")]
    BadTime(f64, f64),
    /// A threshold is not usable.
    #[error("the thresholds need 0 < collapse < blowup; got collapse {0}, blowup {1}")]
    BadThresholds(f64, f64),
    /// The memory estimate exceeds the budget.
    #[error("the sweep needs about {needed} bytes but the budget is {limit}; use fewer samples or smaller widths")]
    TooLarge {
        /// Estimated bytes.
        needed: u64,
        /// The budget.
        limit: u64,
    },
    /// The work estimate exceeds the budget.
    #[error("the sweep needs about {needed:.3e} operations but the budget is {limit:.3e}; use fewer samples or smaller widths")]
    TooSlow {
        /// Estimated operations.
        needed: u64,
        /// The budget.
        limit: u64,
    },
    /// The thread pool could not be built.
    #[error("cannot start {threads} threads: {detail}")]
    ThreadPool {
        /// Threads asked for.
        threads: usize,
        /// The reason.
        detail: String,
    },
}

/// c = 1/E[φ_S(g)²], g ~ N(0, 1), at width n, with an error estimate.
///
/// Shaped ReLU: E[φ_S(g)²] = (S₊² + S₋²)/2 (each half-line carries half of E g² = 1),
/// so c = 2/(S₊² + S₋²) exactly (error 0). Smooth shaping: Gauss–Hermite quadrature
/// with 64 and 128 nodes; the 128-node value is returned and the difference of the two
/// is the error estimate.
pub fn normalization_c(shaped: &NumericShaped, n: usize) -> Result<(f64, f64), ShapedSimError> {
    if n == 0 {
        return Err(ShapedSimError::ZeroSize { what: "width" });
    }
    let phi = shaped.at_width(n);
    let (second, error) = match phi.relu_slopes() {
        Some((s_plus, s_minus)) => (0.5 * (s_plus * s_plus + s_minus * s_minus), 0.0),
        None => {
            let low = gauss_hermite(HERMITE_ORDERS.0)?.apply(|x| phi.eval(x).powi(2));
            let high = gauss_hermite(HERMITE_ORDERS.1)?.apply(|x| phi.eval(x).powi(2));
            if !(high > 0.0 && high.is_finite() && low > 0.0 && low.is_finite()) {
                return Err(ShapedSimError::BadNormalization(high, n));
            }
            (high, (1.0 / low - 1.0 / high).abs())
        }
    };
    if !(second > 0.0 && second.is_finite()) {
        return Err(ShapedSimError::BadNormalization(second, n));
    }
    Ok((1.0 / second, error))
}

/// The packed form (see [`crate::solve::gram`]) of a square symmetric matrix with a
/// positive diagonal, or why it is not one (asymmetry beyond 1e-12 relative).
pub fn pack_gram(gram: &[Vec<f64>]) -> Result<Vec<f64>, ShapedSimError> {
    let m = gram.len();
    if m == 0 {
        return Err(ShapedSimError::ZeroSize { what: "inputs" });
    }
    let mut packed = vec![0.0; packed_len(m)];
    for (a, row) in gram.iter().enumerate() {
        if row.len() != m {
            return Err(ShapedSimError::BadGram(format!(
                "row {a} has {} entries, not {m}",
                row.len()
            )));
        }
        if !(row[a] > 0.0 && row[a].is_finite()) {
            return Err(ShapedSimError::BadGram(format!(
                "diagonal entry {a} is {}",
                row[a]
            )));
        }
    }
    for a in 0..m {
        for b in a..m {
            let (x, y) = (gram[a][b], gram[b][a]);
            let scale = (gram[a][a] * gram[b][b]).sqrt();
            if !x.is_finite() || (x - y).abs() > 1e-12 * scale {
                return Err(ShapedSimError::BadGram(format!(
                    "entries ({a},{b}) = {x} and ({b},{a}) = {y}"
                )));
            }
            packed[packed_index(m, a, b)] = 0.5 * (x + y);
        }
    }
    Ok(packed)
}

/// Where a chain or network stopped: blow-up (an entry not finite or above the
/// threshold) or collapse (a diagonal below the threshold), at layer `layer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ChainStop {
    /// Blow-up or collapse.
    pub kind: GramStopKind,
    /// The layer ℓ whose Φ_ℓ crossed.
    pub layer: usize,
}

/// The Φ_ℓ of one sample at the layers asked for.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChainRecord {
    /// The recorded layers reached before any stop (a prefix of the request).
    pub layers: Vec<usize>,
    /// Their packed Φ_ℓ, one after the other.
    pub states: Vec<f64>,
    /// The early stop, if any.
    pub stop: Option<ChainStop>,
}

/// What a chain run needs beyond the network: its size and thresholds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChainLimits {
    /// An entry of Φ above this in absolute value (or not finite) is a blow-up.
    pub blowup: f64,
    /// A diagonal entry of Φ below this is a collapse.
    pub collapse: f64,
}

impl Default for ChainLimits {
    /// The thresholds of the Gram SDE solver, 10⁸ and 10⁻⁸.
    fn default() -> Self {
        ChainLimits {
            blowup: crate::solve::gram::DEFAULT_BLOWUP,
            collapse: crate::solve::gram::DEFAULT_COLLAPSE,
        }
    }
}

/// Whether a packed Φ has crossed a threshold.
fn crossed(m: usize, phi: &[f64], limits: &ChainLimits) -> Option<GramStopKind> {
    if phi
        .iter()
        .any(|x| !x.is_finite() || x.abs() > limits.blowup)
    {
        return Some(GramStopKind::BlowUp);
    }
    (0..m)
        .any(|a| phi[packed_index(m, a, a)] < limits.collapse)
        .then_some(GramStopKind::Collapse)
}

/// Samples the Gram chain of a width-n network from the packed input Gram Φ₀ through
/// `depth` layers: Φ_{ℓ+1} = (c/n) Σ_{i<n} φ_S(g_i)φ_S(g_i)ᵀ, g_i i.i.d. N(0, Φ_ℓ)
/// (drawn as L z with Φ_ℓ = L Lᵀ by the PSD-safe Cholesky of the Gram solver, z
/// standard normal; so a singular Φ_ℓ, e.g. two equal inputs, is sampled exactly).
/// Records Φ_ℓ at the layers `record` (increasing, ≤ `depth`; layer 0 is Φ₀). Exact in
/// law for the network (see the module documentation).
#[allow(clippy::too_many_arguments)]
pub fn sample_chain<R: Rng + ?Sized>(
    shaped: &NumericShaped,
    c: f64,
    phi0: &[f64],
    m: usize,
    n: usize,
    depth: usize,
    record: &[usize],
    limits: &ChainLimits,
    rng: &mut R,
) -> ChainRecord {
    let phi_s = shaped.at_width(n);
    let k = packed_len(m);
    let mut phi = phi0.to_vec();
    let mut full = vec![0.0; m * m];
    let mut factor = vec![0.0; m * m];
    let mut z = vec![0.0; m];
    let mut v = vec![0.0; m];
    let mut acc = vec![0.0; k];
    let mut out = ChainRecord {
        layers: Vec::new(),
        states: Vec::new(),
        stop: None,
    };
    let mut next = record.iter().peekable();
    let scale = c / n as f64;
    for layer in 0..=depth {
        while next.peek().is_some_and(|&&l| l == layer) {
            out.layers.push(layer);
            out.states.extend_from_slice(&phi);
            next.next();
        }
        if layer == depth || next.peek().is_none() {
            break;
        }
        for a in 0..m {
            for b in 0..m {
                full[a * m + b] = phi[packed_index(m, a, b)];
            }
        }
        // The lengths match by construction, so the factorization cannot refuse.
        let _ = psd_cholesky(&full, m, &mut factor);
        acc.iter_mut().for_each(|x| *x = 0.0);
        for _ in 0..n {
            for zi in z.iter_mut() {
                *zi = rng.sample(StandardNormal);
            }
            for a in 0..m {
                let g: f64 = (0..=a).map(|j| factor[a * m + j] * z[j]).sum();
                v[a] = phi_s.eval(g);
            }
            let mut e = 0;
            for a in 0..m {
                for b in a..m {
                    acc[e] += v[a] * v[b];
                    e += 1;
                }
            }
        }
        for (p, s) in phi.iter_mut().zip(&acc) {
            *p = scale * s;
        }
        if let Some(kind) = crossed(m, &phi, limits) {
            out.stop = Some(ChainStop {
                kind,
                layer: layer + 1,
            });
            break;
        }
    }
    out
}

/// The literal network at width n for validating [`sample_chain`]: inputs x^α ∈ R^{n₀}
/// (the rows of `inputs`), W₀ an n×n₀ and W_ℓ n×n matrices of i.i.d. N(0, 1) drawn from
/// `rng`, h₁ = W₀ x/√n₀, h_{ℓ+1} = √(c/n) W_ℓ φ_S(h_ℓ); returns the packed
/// Φ_depth = (c/n) φ_S(h_depth)ᵀ φ_S(h_depth), or `None` if a Φ_ℓ on the way crossed a
/// threshold. Costs O(depth · n² · m): only for small n.
pub fn literal_network<R: Rng + ?Sized>(
    shaped: &NumericShaped,
    c: f64,
    inputs: &[Vec<f64>],
    n: usize,
    depth: usize,
    limits: &ChainLimits,
    rng: &mut R,
) -> Result<Option<Vec<f64>>, ShapedSimError> {
    let m = inputs.len();
    let n0 = inputs.first().map_or(0, Vec::len);
    if m == 0 || n0 == 0 || inputs.iter().any(|x| x.len() != n0) {
        return Err(ShapedSimError::BadInputs);
    }
    if n == 0 || depth == 0 {
        return Err(ShapedSimError::ZeroSize { what: "width" });
    }
    let phi_s = shaped.at_width(n);
    // h is n×m row-major: row i holds neuron i's value on every input.
    let mut h = vec![0.0; n * m];
    let inv_root = 1.0 / (n0 as f64).sqrt();
    for i in 0..n {
        for j in 0..n0 {
            let w: f64 = rng.sample(StandardNormal);
            for (a, x) in inputs.iter().enumerate() {
                h[i * m + a] += w * x[j] * inv_root;
            }
        }
    }
    let k = packed_len(m);
    let mut act = vec![0.0; n * m];
    let mut phi = vec![0.0; k];
    let gain = (c / n as f64).sqrt();
    for layer in 1..=depth {
        for (y, &x) in act.iter_mut().zip(&h) {
            *y = phi_s.eval(x);
        }
        phi.iter_mut().for_each(|p| *p = 0.0);
        for row in act.chunks_exact(m) {
            let mut e = 0;
            for a in 0..m {
                for b in a..m {
                    phi[e] += row[a] * row[b];
                    e += 1;
                }
            }
        }
        phi.iter_mut().for_each(|p| *p *= c / n as f64);
        if crossed(m, &phi, limits).is_some() {
            return Ok(None);
        }
        if layer == depth {
            break;
        }
        h.iter_mut().for_each(|x| *x = 0.0);
        for i in 0..n {
            for j in 0..n {
                let w: f64 = rng.sample(StandardNormal);
                for a in 0..m {
                    h[i * m + a] += gain * w * act[j * m + a];
                }
            }
        }
    }
    Ok(Some(phi))
}

/// The generator of the chain of sample `sample` at width `n` of seed `seed`.
pub fn chain_rng(seed: u64, n: usize, sample: usize) -> rand_chacha::ChaCha8Rng {
    path_rng(seed, sample as u64, CHAIN_TAG | n as u64)
}

/// The generator of the literal network of sample `sample` at width `n` of seed `seed`
/// (a stream disjoint from [`chain_rng`]'s).
pub fn literal_rng(seed: u64, n: usize, sample: usize) -> rand_chacha::ChaCha8Rng {
    path_rng(seed, sample as u64, LITERAL_TAG | n as u64)
}

/// What a shaped sweep may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ShapedBudget {
    /// Bytes for every record and the working buffers.
    pub max_bytes: u64,
    /// Work units (about a nanosecond each on one core).
    pub max_operations: u64,
}

impl Default for ShapedBudget {
    /// 75% of physical memory (as the other simulators) and 10¹² operations.
    fn default() -> Self {
        ShapedBudget {
            max_bytes: crate::sim::default_memory_limit(),
            max_operations: 1_000_000_000_000,
        }
    }
}

/// A sweep: widths × samples of the chain, recorded at τ points.
#[derive(Clone, Debug, PartialEq)]
pub struct ShapedSweepOptions {
    /// The widths n.
    pub widths: Vec<usize>,
    /// Samples per width.
    pub samples: usize,
    /// The seed of every stream.
    pub seed: u64,
    /// τ points in [0, τ] at which Φ is recorded (at the layer round(τ_j n)); the final
    /// layer d = round(τ n) is always recorded.
    pub taus: Vec<f64>,
    /// Thresholds.
    pub limits: ChainLimits,
    /// Threads: `None` for the current rayon pool.
    pub threads: Option<usize>,
    /// The resources allowed.
    pub budget: ShapedBudget,
}

impl Default for ShapedSweepOptions {
    fn default() -> Self {
        ShapedSweepOptions {
            widths: DEFAULT_WIDTHS.to_vec(),
            samples: DEFAULT_SAMPLES,
            seed: 0,
            taus: Vec::new(),
            limits: ChainLimits::default(),
            threads: None,
            budget: ShapedBudget::default(),
        }
    }
}

/// The estimated cost of a sweep, computed before it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ShapedCost {
    /// Width × sample cells.
    pub cells: usize,
    /// Peak bytes: records of every cell plus the buffers of the cells running at once.
    pub bytes: u64,
    /// Work units, about a nanosecond each on one core of a current machine.
    pub operations: u64,
}

impl fmt::Display for ShapedCost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cells, about {:.1} MiB and {:.2e} operations (≈ {:.1} s on one core)",
            self.cells,
            self.bytes as f64 / (1u64 << 20) as f64,
            self.operations as f64,
            self.operations as f64 * 1e-9
        )
    }
}

/// The result of [`sweep`].
#[derive(Clone, Debug, PartialEq)]
pub struct ShapedSweep {
    /// The widths.
    pub widths: Vec<usize>,
    /// Samples per width.
    pub samples: usize,
    /// The number of inputs m.
    pub m: usize,
    /// c and its error at each width.
    pub c: Vec<(f64, f64)>,
    /// The recorded layers at each width (τ points, then the final layer).
    pub layers: Vec<Vec<usize>>,
    /// The planned cost.
    pub cost: ShapedCost,
    /// Records, width-major: cell (w, s) is at w·samples + s.
    pub records: Vec<ChainRecord>,
}

impl ShapedSweep {
    /// The record of sample `s` at width index `w`.
    pub fn record(&self, w: usize, s: usize) -> Option<&ChainRecord> {
        if s >= self.samples {
            return None;
        }
        self.records.get(w * self.samples + s)
    }
}

/// The layers recorded at width n: round(τ_j n) for each τ point, then d, sorted and
/// without repeats.
fn recorded_layers(prog: &ShapedProgram, taus: &[f64], n: usize) -> Vec<usize> {
    let d = prog.depth_at(n);
    let mut layers: Vec<usize> = taus
        .iter()
        .map(|&t| ((t * n as f64).round() as usize).min(d))
        .chain(std::iter::once(d))
        .collect();
    layers.sort_unstable();
    layers.dedup();
    layers
}

/// Checks a request and estimates its cost, refusing one beyond the budget.
pub fn plan(
    prog: &ShapedProgram,
    shaped: &NumericShaped,
    opts: &ShapedSweepOptions,
) -> Result<ShapedCost, ShapedSimError> {
    if opts.samples == 0 {
        return Err(ShapedSimError::ZeroSize { what: "samples" });
    }
    if opts.threads == Some(0) {
        return Err(ShapedSimError::ZeroSize { what: "threads" });
    }
    if opts.widths.is_empty() {
        return Err(ShapedSimError::ZeroSize { what: "width" });
    }
    for (i, &n) in opts.widths.iter().enumerate() {
        if n == 0 {
            return Err(ShapedSimError::ZeroSize { what: "width" });
        }
        if opts.widths[..i].contains(&n) {
            return Err(ShapedSimError::RepeatedWidth(n));
        }
    }
    let tau = prog.tau_f64();
    for &t in &opts.taus {
        if !(t >= 0.0 && t <= tau) {
            return Err(ShapedSimError::BadTime(t, tau));
        }
    }
    let l = &opts.limits;
    if !(l.collapse > 0.0 && l.blowup > l.collapse) {
        return Err(ShapedSimError::BadThresholds(l.collapse, l.blowup));
    }
    let m = prog.inputs_len() as u64;
    let k = packed_len(m as usize) as u64;
    let per_eval = if shaped.is_relu() { 1 } else { SMOOTH_COST };
    let mut operations = 0u64;
    let mut bytes = 0u64;
    for &n in &opts.widths {
        let layers = recorded_layers(prog, &opts.taus, n);
        let d = prog.depth_at(n) as u64;
        // Per neuron and layer: m draws, the m×m triangular product, m activations and
        // the k products of the Gram update.
        let per_row = m * GAUSSIAN_COST + m * m + m * per_eval + k;
        let cell = d.saturating_mul(n as u64).saturating_mul(per_row);
        operations = operations.saturating_add(cell.saturating_mul(opts.samples as u64));
        let record = (layers.len() as u64) * (k + 1) * 8 + 128;
        bytes = bytes.saturating_add(record.saturating_mul(opts.samples as u64));
    }
    let cells = opts.widths.len() * opts.samples;
    if bytes > opts.budget.max_bytes {
        return Err(ShapedSimError::TooLarge {
            needed: bytes,
            limit: opts.budget.max_bytes,
        });
    }
    if operations > opts.budget.max_operations {
        return Err(ShapedSimError::TooSlow {
            needed: operations,
            limit: opts.budget.max_operations,
        });
    }
    Ok(ShapedCost {
        cells,
        bytes,
        operations,
    })
}

/// Runs the Gram chain at every width of `opts` with every sample, in parallel (see the
/// module documentation for determinism), after planning its cost.
pub fn sweep(
    prog: &ShapedProgram,
    shaped: &NumericShaped,
    opts: &ShapedSweepOptions,
) -> Result<ShapedSweep, ShapedSimError> {
    let cost = plan(prog, shaped, opts)?;
    let phi0 = pack_gram(&prog.gram0)?;
    let m = prog.inputs_len();
    let c: Vec<(f64, f64)> = opts
        .widths
        .iter()
        .map(|&n| normalization_c(shaped, n))
        .collect::<Result<_, _>>()?;
    let layers: Vec<Vec<usize>> = opts
        .widths
        .iter()
        .map(|&n| recorded_layers(prog, &opts.taus, n))
        .collect();
    let samples = opts.samples;
    let run = || -> Vec<ChainRecord> {
        (0..opts.widths.len() * samples)
            .into_par_iter()
            .with_max_len(1)
            .map(|cell| {
                let (w, s) = (cell / samples, cell % samples);
                let n = opts.widths[w];
                sample_chain(
                    shaped,
                    c[w].0,
                    &phi0,
                    m,
                    n,
                    prog.depth_at(n),
                    &layers[w],
                    &opts.limits,
                    &mut chain_rng(opts.seed, n, s),
                )
            })
            .collect()
    };
    let records = match opts.threads {
        None => run(),
        Some(t) => rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map_err(|e| ShapedSimError::ThreadPool {
                threads: t,
                detail: e.to_string(),
            })?
            .install(run),
    };
    Ok(ShapedSweep {
        widths: opts.widths.clone(),
        samples,
        m,
        c,
        layers,
        cost,
        records,
    })
}
