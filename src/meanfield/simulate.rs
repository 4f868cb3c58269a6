//! Finite mean-field systems against their McKean–Vlasov limit, synchronously coupled
//! (De Bortoli, Durmus, Fontaine & Şimşekli 2020).
//!
//! For each particle count N (with its step h and number of steps n_T, supplied by the
//! caller) and each seed, three dynamics start from the same initial particles W₀^k:
//!
//! - **literal SGD** (their eq. 3): one minibatch of M draws from π per step, shared by
//!   all particles, W_{n+1}^k = W_n^k + η_n d^k with d^k the [`Field::drift`] of that
//!   minibatch (h + ξ) and η_n = h (t_n + 1)^{-α};
//! - **the particle system** (eq. 6) by Euler–Maruyama on the same grid:
//!   W_{n+1}^k = W_n^k + η_n h(W_n^k, ν_n) + (t_n + 1)^{-α} h M^{-1/2} Σ^{1/2}(W_n^k, ν_n) Z_n^k,
//!   h and Σ on the quadrature of π, ν_n the empirical measure, Σ^{1/2} the PSD-safe
//!   Cholesky factor of [`psd_cholesky`];
//! - **the reference** W^{k,*}: for β < 1 (an ODE limit) the limit law λ_t is μ₀ pushed by
//!   the flow, so the weighted quadrature of μ₀ is moved by the same Euler steps without
//!   noise and stands for λ_n (exact up to the quadrature error), and each coupled path
//!   W^{k,*} takes the Euler step driven by λ_n. Both the particle system and the reference
//!   use the same Euler grid on purpose: the coupling cancels their common O(h)
//!   time-discretization error, so what is measured is the propagation-of-chaos error, not
//!   the Euler error. For a law without a quadrature (a sphere in p > 3) a cloud of
//!   N_ref = ref_factor × N_max independent draws replaces it. For β = 1 (an SDE limit) h
//!   does not depend on N and the reference is the same eq. 6 system with N_ref =
//!   ref_factor × N_max particles, **nested**: particle k of every system has the same W₀^k
//!   and the same Z_n^k, so E|W^{k,N} − W^{k,N_ref}|² ≈ C (N^{-1} − N_ref^{-1}).
//!   That error is driven by the fluctuation of one empirical measure, a few Gaussian
//!   modes, so one system's error is nearly χ²-distributed with a few degrees of freedom
//!   (coefficient of variation above 1 measured on the tanh teacher). Since the reference
//!   already moves N_ref particles, eq. 6 also runs on up to [`SimOptions::blocks`]
//!   disjoint blocks k ∈ [bN, (b+1)N) of it (each the same nested system of its own
//!   particles, with the same expectation) and the error is averaged over the blocks: the
//!   seed-to-seed spread of the error falls by about √blocks for about blocks × N more
//!   moves per size, which is what lets a check tell N^{-1} from N^{-5/4}.
//!
//! **Determinism.** W₀^k is drawn from the ChaCha8 stream (seed, k, INIT), Z_n^k is the
//! n-th block of p normals of the stream (seed, k, NOISE), the minibatches come from the
//! stream (seed, BATCH): every draw is a pure function of (seed, k, n), whatever the
//! sizes. Groups of systems (one (size, seed) at β < 1, one seed at β = 1, all sizes in
//! lockstep) run in parallel, the systems of a group step in parallel, and every sum runs
//! in a fixed order, so a sweep is bit-identical at any thread count.
//!
//! **Cost.** [`plan`] estimates the bytes before anything is allocated and refuses beyond
//! [`crate::bounds::MAX_MF_SIM_BYTES`]; the hot loop reuses its buffers (the field
//! evaluations allocate their columns once per step, never per particle). Measured on two
//! cores, one seed: the toy (β = 1, 60 steps, N_ref = 8 N) 0.75 s at N = 4096 and 3.9 s at
//! N = 16384; the tanh teacher (β = 1/2, n_T = 2√N) 2.4 s at N = 4096 and 21 s at
//! N = 16384, about half of it in `tanh` itself (F and ∇F are separate tapes, so each
//! (particle, input) pair evaluates tanh three times).

use super::field::{sample_init, Field};
use super::model::{Data, InitLaw, MeanFieldProgram};
use super::quadrature::{data_nodes, init_nodes, Nodes, Particles};
use super::w2::sliced_w2_squared_many;
use crate::solve::gram::{path_rng, psd_cholesky};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Stream tags of the draws (disjoint from each other and from the other simulators').
const INIT_TAG: u64 = 0x6D << 48;
const NOISE_TAG: u64 = 0x6E << 48;
const BATCH_TAG: u64 = 0x6F << 48;
const REF_INIT_TAG: u64 = 0x70 << 48;

/// Directions of the sliced W₂ in p > 1 (see [`crate::meanfield::w2::sliced_w2_squared`]).
pub const SLICE_DIRECTIONS: usize = 64;

/// Seed of the slicing directions: fixed, so every cell is measured along the same ones.
const SLICE_SEED: u64 = 0x5113;

/// Noise streams filled per parallel task (a chunk of particles).
const NOISE_CHUNK: usize = 1024;

/// One particle count with its time grid (from the schedule of the program).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SizeSchedule {
    /// The number of particles N.
    pub size: u64,
    /// The number of steps n_T = ⌊T / h⌋.
    pub steps: u64,
    /// The time step h = γ_{α,β}(N).
    pub step: f64,
}

/// What to simulate. Serialized into sweep files (without the threads, which change no
/// number).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimOptions {
    /// The particle counts and their grids.
    pub sizes: Vec<SizeSchedule>,
    /// The seeds; each gives one cell per size.
    pub seeds: Vec<u64>,
    /// The step-decay exponent α ∈ [0, 1).
    pub alpha: f64,
    /// β = 1: the limit is an SDE and the reference a nested particle system.
    pub sde: bool,
    /// N_ref = ref_factor × N_max for a particle reference (default 8).
    pub ref_factor: u64,
    /// At β = 1: eq. 6 runs on min(blocks, N_ref / N) disjoint blocks of N particles of
    /// the nested reference and the coupling error is averaged over them (default 8;
    /// 1 keeps only the first block).
    pub blocks: u64,
    /// Records at t_j = j T / record, j = 0 … record (at step ⌊t_j / h⌋).
    pub record: usize,
    /// The coupling error's sup runs over the times t_j = j T / S, j = 0 … S, with
    /// S = min(sup_points, the smallest n_T) (default 16): the same times for every N.
    /// Over every step of the grid instead, the maximum of the noise-driven part would
    /// fall short of the continuous supremum by a relative O(√h) that shrinks with N
    /// (the discrete-monitoring correction of Brownian maxima), which bends the measured
    /// rate by N^{e/2} when h ∝ N^e and rejects correct derivations once the data are
    /// precise (measured: 2 false FAILs in 10 on the β = 1/2 teacher).
    pub sup_points: usize,
    /// The level of the quadrature of π ([`data_nodes`]; default 24).
    pub data_level: usize,
    /// The level of the quadrature of μ₀ ([`init_nodes`]; default 24).
    pub init_level: usize,
    /// How many particles' coordinates to return at T (default 4096).
    pub keep: usize,
    /// Threads: `None` for the current rayon pool.
    #[serde(skip)]
    pub threads: Option<usize>,
}

impl Default for SimOptions {
    /// No sizes, seed 0, α = 0, β < 1, and the documented defaults.
    fn default() -> Self {
        SimOptions {
            sizes: Vec::new(),
            seeds: vec![0],
            alpha: 0.0,
            sde: false,
            ref_factor: 8,
            blocks: 8,
            record: 20,
            sup_points: 16,
            data_level: 24,
            init_level: 24,
            keep: 4096,
            threads: None,
        }
    }
}

impl SimOptions {
    /// The given sizes, seeds, α and regime, everything else at its default.
    pub fn new(sizes: Vec<SizeSchedule>, seeds: Vec<u64>, alpha: f64, sde: bool) -> Self {
        SimOptions {
            sizes,
            seeds,
            alpha,
            sde,
            ..SimOptions::default()
        }
    }
}

/// The estimated cost of a simulation, computed before it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Peak bytes: the groups running at once and every recorded cell.
    pub bytes: u64,
    /// Particle moves (points × steps, summed over every system): the work, about
    /// (number of π-nodes) unit evaluations each.
    pub particle_steps: u64,
}

/// Statistics of one dynamics in one cell.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DynStats {
    /// The record times n_j h (n_j = ⌊t_j / h⌋, so within one step of t_j).
    #[serde(with = "super::floats::vector")]
    pub times: Vec<f64>,
    /// The risk of the current measure on the quadrature of π at each record time.
    #[serde(with = "super::floats::vector")]
    pub risk: Vec<f64>,
    /// The mean of each coordinate at T.
    #[serde(with = "super::floats::vector")]
    pub mean: Vec<f64>,
    /// The variance of each coordinate across particles at T (1/N normalization;
    /// weighted for a quadrature measure).
    #[serde(with = "super::floats::vector")]
    pub spread: Vec<f64>,
    /// p columns: the first `keep` particles' coordinates at T (for the reference at
    /// β < 1, the coupled paths W^{k,*}).
    #[serde(with = "super::floats::matrix32")]
    pub coords: Vec<Vec<f32>>,
    /// The mean of each coordinate at each record time (`path_mean[j][i]`).
    #[serde(with = "super::floats::matrix")]
    pub path_mean: Vec<Vec<f64>>,
    /// The spread of each coordinate at each record time (`path_spread[j][i]`).
    #[serde(with = "super::floats::matrix")]
    pub path_spread: Vec<Vec<f64>>,
}

/// One (size, seed) cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MfCell {
    /// N.
    pub size: u64,
    /// The seed.
    pub seed: u64,
    /// n_T.
    pub steps: u64,
    /// h.
    #[serde(with = "super::floats::scalar")]
    pub step: f64,
    /// Literal SGD.
    pub sgd: DynStats,
    /// The particle system of eq. 6.
    pub particle: DynStats,
    /// The reference (the quadrature measure or the N_ref system; coords of the coupled
    /// paths).
    pub reference: DynStats,
    /// The mean over k < N of sup_j |W_{n_j}^{k,N} − W_{n_j}^{k,*}|² over the steps
    /// n_j = ⌊t_j / h⌋ of the sup times ([`SimOptions::sup_points`]) for eq. 6 (at β = 1
    /// also over the `err_blocks` disjoint blocks of the nested reference).
    #[serde(with = "super::floats::scalar")]
    pub err_particle: f64,
    /// How many disjoint N-particle systems `err_particle` averages (1 at β < 1).
    pub err_blocks: u64,
    /// The same for literal SGD (at β = 1 not a convergence statement: its noise is
    /// common to all particles, not coupled to the reference's).
    #[serde(with = "super::floats::scalar")]
    pub err_sgd: f64,
    /// W₂² at T between the eq. 6 cloud and the reference law (exact in p = 1, sliced
    /// with [`SLICE_DIRECTIONS`] directions in p > 1).
    #[serde(with = "super::floats::scalar")]
    pub w2_particle: f64,
    /// The same for the literal SGD cloud.
    #[serde(with = "super::floats::scalar")]
    pub w2_sgd: f64,
}

/// The result of [`simulate`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MfSweep {
    /// The cells, sorted by size then seed.
    pub cells: Vec<MfCell>,
    /// N_ref when the reference is a particle system (β = 1, or a law without
    /// quadrature), `None` for the quadrature of μ₀.
    pub n_ref: Option<u64>,
    /// What the reference is, for the reports.
    pub reference: String,
    /// How W₂² was computed ("exact (1-D quantile coupling)" or sliced).
    pub w2_method: String,
    /// S: the coupling error's sup runs over t_j = j T / S, j = 0 … S.
    pub sup_times: usize,
    /// The number of nodes of the quadrature of π.
    pub data_nodes: usize,
    /// The plan it ran under.
    pub plan: Plan,
}

/// Why a simulation refuses to run. A blow-up (non-finite particles) is a result.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SimError {
    /// Nothing to simulate.
    #[error("no {0} to simulate: give at least one")]
    Empty(&'static str),
    /// A particle count of 0.
    #[error("a particle count must be at least 1")]
    ZeroSize,
    /// A particle count listed twice.
    #[error("particle count {0} is listed twice; list each size once")]
    RepeatedSize(u64),
    /// A step that is not positive and finite, or no steps.
    #[error("size {size}: the step h = {step} must be positive and finite and n_T = {steps} at least 1; check the horizon and the schedule")]
    BadSchedule {
        /// N.
        size: u64,
        /// h.
        step: f64,
        /// n_T.
        steps: u64,
    },
    /// At β = 1 all sizes must share one grid.
    #[error("at beta = 1 every size must have the same step and number of steps (the limit SDE does not depend on N); size {size} has h = {step}, n_T = {steps}, size {first} has h = {first_step}, n_T = {first_steps}")]
    UnequalGrids {
        /// The first size.
        first: u64,
        /// Its step.
        first_step: f64,
        /// Its steps.
        first_steps: u64,
        /// The offending size.
        size: u64,
        /// Its step.
        step: f64,
        /// Its steps.
        steps: u64,
    },
    /// α outside [0, 1).
    #[error("the step-decay exponent alpha = {0} must lie in [0, 1)")]
    BadAlpha(f64),
    /// An option that must be positive is 0.
    #[error("{0} must be at least 1")]
    ZeroOption(&'static str),
    /// The program cannot be simulated as given.
    #[error("the program cannot be simulated: {0}")]
    BadProgram(String),
    /// Too much memory.
    #[error("the simulation needs about {needed} bytes but at most {limit} are allowed; use fewer or smaller sizes, a smaller ref_factor, fewer threads or a smaller keep")]
    TooLarge {
        /// Estimated bytes.
        needed: u64,
        /// The bound.
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
    /// An internal inconsistency (a bug): please report it.
    #[error("internal error in the mean-field simulator: {0}")]
    Internal(String),
}

/// How the reference is represented.
enum RefKind {
    /// The weighted quadrature of μ₀ (β < 1).
    Quadrature(Particles),
    /// N_ref independent draws moved by the ODE (β < 1, no quadrature).
    Cloud(u64),
    /// The nested eq. 6 system of N_ref particles (β = 1).
    Nested(u64),
}

/// Checks the request; returns the reference and the sizes sorted.
fn validate(prog: &MeanFieldProgram, opts: &SimOptions) -> Result<RefKind, SimError> {
    if opts.sizes.is_empty() {
        return Err(SimError::Empty("particle counts"));
    }
    if opts.seeds.is_empty() {
        return Err(SimError::Empty("seeds"));
    }
    if opts.record == 0 {
        return Err(SimError::ZeroOption("record"));
    }
    if opts.sup_points == 0 {
        return Err(SimError::ZeroOption("sup_points"));
    }
    if opts.threads == Some(0) {
        return Err(SimError::ZeroOption("threads"));
    }
    if !(opts.alpha >= 0.0 && opts.alpha < 1.0) {
        return Err(SimError::BadAlpha(opts.alpha));
    }
    for (i, s) in opts.sizes.iter().enumerate() {
        if s.size == 0 {
            return Err(SimError::ZeroSize);
        }
        if opts.sizes[..i].iter().any(|t| t.size == s.size) {
            return Err(SimError::RepeatedSize(s.size));
        }
        if !(s.step > 0.0 && s.step.is_finite()) || s.steps == 0 {
            return Err(SimError::BadSchedule {
                size: s.size,
                step: s.step,
                steps: s.steps,
            });
        }
    }
    let mut seen = opts.seeds.clone();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != opts.seeds.len() {
        return Err(SimError::BadProgram(
            "a seed is listed twice; list each seed once".into(),
        ));
    }
    let p = prog.dim;
    if p == 0 || prog.unit_grad.len() != p || prog.penalty_grad.len() != p {
        return Err(SimError::BadProgram(format!(
            "the particle dimension is {p} but the program has {} unit and {} penalty derivatives",
            prog.unit_grad.len(),
            prog.penalty_grad.len()
        )));
    }
    match &prog.init {
        InitLaw::Gaussian { mean, .. } | InitLaw::Point(mean) if mean.len() != p => {
            return Err(SimError::BadProgram(format!(
                "the initial law has {} coordinates but the particles have {p}",
                mean.len()
            )));
        }
        InitLaw::Sphere { .. } if p < 2 => {
            return Err(SimError::BadProgram(
                "a sphere initialization needs p >= 2".into(),
            ));
        }
        _ => {}
    }
    if let Data::Set { points } = &prog.data {
        if points.is_empty() || points.iter().any(|(x, _)| x.len() != prog.x_dim) {
            return Err(SimError::BadProgram(
                "the data set must be nonempty with inputs of the declared dimension".into(),
            ));
        }
    }
    if prog.batch == 0 {
        return Err(SimError::ZeroOption("the batch size M"));
    }
    if opts.blocks == 0 {
        return Err(SimError::ZeroOption("blocks"));
    }
    let n_max = opts.sizes.iter().map(|s| s.size).max().unwrap_or(1);
    let n_ref = || -> Result<u64, SimError> {
        if opts.ref_factor == 0 {
            return Err(SimError::ZeroOption("ref_factor"));
        }
        n_max
            .checked_mul(opts.ref_factor)
            .ok_or(SimError::TooLarge {
                needed: u64::MAX,
                limit: crate::bounds::MAX_MF_SIM_BYTES,
            })
    };
    if opts.sde {
        let first = opts.sizes[0];
        for s in &opts.sizes {
            if s.step.to_bits() != first.step.to_bits() || s.steps != first.steps {
                return Err(SimError::UnequalGrids {
                    first: first.size,
                    first_step: first.step,
                    first_steps: first.steps,
                    size: s.size,
                    step: s.step,
                    steps: s.steps,
                });
            }
        }
        Ok(RefKind::Nested(n_ref()?))
    } else {
        match init_nodes(&prog.init, p, opts.init_level) {
            Some(q) => Ok(RefKind::Quadrature(q)),
            None => Ok(RefKind::Cloud(n_ref()?)),
        }
    }
}

/// Bytes of one system of `n` points at dimension p with d inputs: the state, the drift
/// and (eq. 6) the covariances, and the columns a field evaluation allocates per step.
fn system_bytes(n: u64, p: u64, d: u64, cov: bool) -> u64 {
    let per_point = 4 * p + 2 * d + 4 + if cov { 2 * p * p } else { 0 };
    n.saturating_mul(per_point).saturating_mul(8)
}

/// The bytes of a noise source for `n` particles: one ChaCha8 stream and p normals each.
fn noise_bytes(n: u64, p: u64) -> u64 {
    n.saturating_mul(std::mem::size_of::<ChaCha8Rng>() as u64 + 8 * p)
}

/// A group of systems stepped in lockstep: its working bytes and particle moves.
struct GroupCost {
    bytes: u64,
    moves: u64,
}

/// The cost of every group, in the order [`simulate`] runs them.
fn group_costs(prog: &MeanFieldProgram, opts: &SimOptions, reference: &RefKind) -> Vec<GroupCost> {
    let (p, d) = (prog.dim as u64, prog.x_dim as u64);
    let batch = prog.batch;
    let mut out = Vec::new();
    match reference {
        RefKind::Nested(n_ref) => {
            let steps = opts.sizes[0].steps;
            let mut bytes = system_bytes(*n_ref, p, d, true).saturating_add(noise_bytes(*n_ref, p));
            let mut moves_per_step = *n_ref;
            for s in &opts.sizes {
                let blocks = block_count(opts.blocks, *n_ref, s.size);
                bytes = bytes
                    .saturating_add(system_bytes(s.size, p, d, true).saturating_mul(blocks))
                    .saturating_add(system_bytes(s.size, p, d, false))
                    // The sup buffers (eq. 6 blocks and SGD against the reference).
                    .saturating_add(8 * s.size * (blocks + 1));
                moves_per_step = moves_per_step.saturating_add(s.size.saturating_mul(blocks + 1));
            }
            bytes = bytes.saturating_add(system_bytes(batch, p, d, false));
            let moves = steps.saturating_mul(moves_per_step);
            for _ in &opts.seeds {
                out.push(GroupCost { bytes, moves });
            }
        }
        RefKind::Quadrature(_) | RefKind::Cloud(_) => {
            let j = match reference {
                RefKind::Quadrature(q) => q.len() as u64,
                RefKind::Cloud(n) => *n,
                RefKind::Nested(_) => 0,
            };
            for s in &opts.sizes {
                let n = s.size;
                let bytes = system_bytes(j, p, d, false)
                    .saturating_add(system_bytes(n, p, d, false).saturating_mul(2))
                    .saturating_add(system_bytes(n, p, d, true))
                    .saturating_add(noise_bytes(n, p))
                    .saturating_add(16 * n)
                    .saturating_add(system_bytes(batch, p, d, false));
                let moves = s.steps.saturating_mul(j.saturating_add(3 * n));
                for _ in &opts.seeds {
                    out.push(GroupCost { bytes, moves });
                }
            }
        }
    }
    out
}

/// Checks a request and estimates its cost before anything is allocated, refusing one
/// beyond [`crate::bounds::MAX_MF_SIM_BYTES`].
pub fn plan(prog: &MeanFieldProgram, opts: &SimOptions) -> Result<Plan, SimError> {
    let reference = validate(prog, opts)?;
    Ok(plan_with(prog, opts, &reference))
}

fn plan_with(prog: &MeanFieldProgram, opts: &SimOptions, reference: &RefKind) -> Plan {
    let costs = group_costs(prog, opts, reference);
    let threads = opts
        .threads
        .unwrap_or_else(rayon::current_num_threads)
        .max(1);
    let mut working: Vec<u64> = costs.iter().map(|c| c.bytes).collect();
    working.sort_unstable_by(|a, b| b.cmp(a));
    let running: u64 = working
        .iter()
        .take(threads)
        .fold(0u64, |a, b| a.saturating_add(*b));
    // Every cell's record: three coordinate sets of `keep` points, and small vectors.
    let p = prog.dim as u64;
    let per_cell: u64 = opts
        .sizes
        .iter()
        .map(|s| {
            let kept = s.size.min(opts.keep as u64);
            3 * kept * p * 4 + 3 * (2 * (opts.record as u64 + 1) + 2 * p) * 8 + 256
        })
        .fold(0u64, |a, b| a.saturating_add(b));
    let bytes = running.saturating_add(per_cell.saturating_mul(opts.seeds.len() as u64));
    let particle_steps = costs.iter().fold(0u64, |a, c| a.saturating_add(c.moves));
    Plan {
        bytes,
        particle_steps,
    }
}

/// The disjoint blocks of `n` particles eq. 6 runs on inside a nested reference of `n_ref`.
fn block_count(blocks: u64, n_ref: u64, n: u64) -> u64 {
    blocks.min(n_ref / n.max(1)).max(1)
}

/// What a system integrates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Literal SGD on the step's minibatch.
    Sgd,
    /// Eq. 6 by Euler–Maruyama with the step's Z.
    Particle,
    /// The noise-free reference measure and the coupled paths it drives.
    Reference,
}

/// One dynamics: its state, scratch and records.
struct System {
    kind: Kind,
    /// The index of its first particle in the nested numbering: particle k uses Z^{offset+k}.
    offset: usize,
    /// The particles (SGD, eq. 6) or the reference measure (weighted or a cloud).
    state: Particles,
    /// For the reference: the coupled paths W^{k,*}, k < N.
    paths: Option<Particles>,
    /// p×p Cholesky scratch.
    factor: Vec<f64>,
    /// Risk at the record times.
    risk: Vec<f64>,
    /// Per-coordinate mean and spread at the record times.
    moments: Vec<(Vec<f64>, Vec<f64>)>,
}

/// What one step of a group shares.
struct StepInput<'a> {
    field: &'a Field,
    data: &'a Nodes,
    batch: Option<&'a Nodes>,
    /// Z_n^k, p per particle, for every k the group needs.
    z: &'a [f64],
    eta: f64,
    noise: f64,
}

impl System {
    fn new(kind: Kind, state: Particles, paths: Option<Particles>, p: usize) -> System {
        System {
            kind,
            offset: 0,
            state,
            paths,
            factor: vec![0.0; p * p],
            risk: Vec::new(),
            moments: Vec::new(),
        }
    }

    /// The same system for the block of particles starting at `offset`.
    fn at_offset(mut self, offset: usize) -> System {
        self.offset = offset;
        self
    }

    /// The points whose distance to the reference is measured (the first N of them).
    fn coupled(&self) -> &Particles {
        self.paths.as_ref().unwrap_or(&self.state)
    }

    /// One Euler (–Maruyama) step.
    fn step(&mut self, input: &StepInput) -> Result<(), SimError> {
        let field = input.field;
        let p = self.state.w.len();
        match self.kind {
            Kind::Sgd => {
                let batch = input
                    .batch
                    .ok_or_else(|| SimError::Internal("SGD step without a minibatch".into()))?;
                let slopes = field.loss_slopes(&field.predictions(&self.state, batch), batch);
                let d = field.drift(&self.state, &slopes, batch, false);
                axpy(&mut self.state.w, input.eta, &d.drift);
            }
            Kind::Reference => {
                let slopes =
                    field.loss_slopes(&field.predictions(&self.state, input.data), input.data);
                let d = field.drift(&self.state, &slopes, input.data, false);
                if let Some(paths) = &mut self.paths {
                    let dp = field.drift(paths, &slopes, input.data, false);
                    axpy(&mut paths.w, input.eta, &dp.drift);
                }
                axpy(&mut self.state.w, input.eta, &d.drift);
            }
            Kind::Particle => {
                let data = input.data;
                let slopes = field.loss_slopes(&field.predictions(&self.state, data), data);
                let values = field.drift(&self.state, &slopes, data, true);
                let n = self.state.len();
                let z_all = input.z.get(self.offset * p..).unwrap_or(&[]);
                if z_all.len() < n * p || values.cov.len() != n * p * p {
                    return Err(SimError::Internal(
                        "noise or covariance buffer too short".into(),
                    ));
                }
                for k in 0..n {
                    let cov = &values.cov[k * p * p..(k + 1) * p * p];
                    psd_cholesky(cov, p, &mut self.factor)
                        .map_err(|e| SimError::Internal(e.to_string()))?;
                    let z = &z_all[k * p..(k + 1) * p];
                    for i in 0..p {
                        let row = &self.factor[i * p..(i + 1) * p];
                        // L is lower triangular: only j ≤ i contribute.
                        let mut noise = 0.0;
                        for j in 0..=i {
                            noise += row[j] * z[j];
                        }
                        self.state.w[i][k] += input.eta * values.drift[i][k] + input.noise * noise;
                    }
                }
            }
        }
        Ok(())
    }

    /// The statistics at T.
    fn stats(&self, times: &[f64], keep: usize) -> DynStats {
        let measure = &self.state;
        let mut mean = Vec::new();
        let mut spread = Vec::new();
        for col in &measure.w {
            let (m, v) = moments(col, measure.weight.as_deref());
            mean.push(m);
            spread.push(v);
        }
        let kept = self.coupled();
        let coords = kept
            .w
            .iter()
            .map(|col| col.iter().take(keep).map(|&x| x as f32).collect())
            .collect();
        DynStats {
            times: times.to_vec(),
            risk: self.risk.clone(),
            mean,
            spread,
            coords,
            path_mean: self.moments.iter().map(|m| m.0.clone()).collect(),
            path_spread: self.moments.iter().map(|m| m.1.clone()).collect(),
        }
    }
}

/// The (weighted) mean and variance of a column, in index order.
fn moments(col: &[f64], weight: Option<&[f64]>) -> (f64, f64) {
    let n = col.len().max(1) as f64;
    let w = |k: usize| weight.map_or(1.0 / n, |w| w[k]);
    let mean: f64 = col.iter().enumerate().map(|(k, x)| w(k) * x).sum();
    let var: f64 = col
        .iter()
        .enumerate()
        .map(|(k, x)| w(k) * (x - mean) * (x - mean))
        .sum();
    (mean, var)
}

/// w += a · d, column by column.
fn axpy(w: &mut [Vec<f64>], a: f64, d: &[Vec<f64>]) {
    for (col, dc) in w.iter_mut().zip(d) {
        for (x, y) in col.iter_mut().zip(dc) {
            *x += a * y;
        }
    }
}

/// The running sup over the sup times of |a_k − b_{offset+k}|² for the N particles of a
/// system against the reference's (system 0 of every group), `offset` being the system's
/// place in the nested numbering ([`System::offset`]).
struct Pair {
    system: usize,
    sup: Vec<f64>,
}

impl Pair {
    /// The pair of system `system` with its `n` particles.
    fn new(system: usize, n: u64) -> Pair {
        Pair {
            system,
            sup: vec![0.0; n as usize],
        }
    }

    fn update(&mut self, systems: &[System]) {
        let system = &systems[self.system];
        let (a, b, offset) = (system.coupled(), systems[0].coupled(), system.offset);
        for (k, s) in self.sup.iter_mut().enumerate() {
            let d2: f64 =
                a.w.iter()
                    .zip(&b.w)
                    .map(|(x, y)| (x[k] - y[offset + k]).powi(2))
                    .sum();
            // Written so that a NaN (a blow-up) is kept, not skipped.
            if d2.is_nan() || d2 > *s {
                *s = d2;
            }
        }
    }

    fn mean(&self) -> f64 {
        self.sup.iter().sum::<f64>() / self.sup.len().max(1) as f64
    }
}

/// N particles of one seed: W₀^k from stream (seed, k, tag), k = 0 … n−1.
fn initial(prog: &MeanFieldProgram, seed: u64, n: u64, tag: u64) -> Particles {
    initial_block(prog, seed, 0, n, tag)
}

/// The particles k = start … start + n − 1 of one seed.
fn initial_block(prog: &MeanFieldProgram, seed: u64, start: u64, n: u64, tag: u64) -> Particles {
    let p = prog.dim;
    let mut w = vec![Vec::with_capacity(n as usize); p];
    for k in start..start + n {
        let point = sample_init(&prog.init, p, &mut path_rng(seed, k, tag));
        for (col, v) in w.iter_mut().zip(point) {
            col.push(v);
        }
    }
    Particles { w, weight: None }
}

/// The steps at which records are taken: ⌊t_j / h⌋ for t_j = j T / record, at most n_T.
fn record_steps(horizon: f64, record: usize, sched: &SizeSchedule) -> Vec<u64> {
    (0..=record)
        .map(|j| {
            let t = horizon * j as f64 / record as f64;
            // A t_j that is a multiple of h in exact arithmetic must not fall one step
            // short by rounding (0.3 / 0.1 = 2.9999999999999996).
            let n = (t / sched.step * (1.0 + 1e-12)).floor();
            if n.is_finite() && n >= 0.0 {
                (n as u64).min(sched.steps)
            } else {
                sched.steps
            }
        })
        .collect()
}

/// S of [`SimOptions::sup_points`]: at most the smallest n_T, so that the times of the sup
/// fall on distinct steps at every N.
fn sup_times(opts: &SimOptions) -> usize {
    let fewest = opts.sizes.iter().map(|s| s.steps).min().unwrap_or(1);
    opts.sup_points
        .min(usize::try_from(fewest).unwrap_or(usize::MAX))
        .max(1)
}

/// The output of one group: its systems and the pairs' errors.
struct GroupRun {
    systems: Vec<System>,
    pairs: Vec<Pair>,
    times: Vec<f64>,
}

/// Runs one group in lockstep for `sched.steps` steps.
#[allow(clippy::too_many_arguments)]
fn run_group(
    prog: &MeanFieldProgram,
    field: &Field,
    data: &Nodes,
    opts: &SimOptions,
    seed: u64,
    sched: &SizeSchedule,
    mut systems: Vec<System>,
    mut pairs: Vec<Pair>,
    noisy: u64,
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<GroupRun, SimError> {
    let p = prog.dim;
    let horizon = num_traits::ToPrimitive::to_f64(&prog.horizon).unwrap_or(f64::NAN);
    let rec = record_steps(horizon, opts.record, sched);
    let sup_steps = record_steps(horizon, sup_times(opts), sched);
    let times: Vec<f64> = rec.iter().map(|&n| n as f64 * sched.step).collect();
    let mut streams: Vec<ChaCha8Rng> = (0..noisy).map(|k| path_rng(seed, k, NOISE_TAG)).collect();
    let mut z = vec![0.0; noisy as usize * p];
    let any_sgd = systems.iter().any(|s| s.kind == Kind::Sgd);
    let mut batch_rng = path_rng(seed, 0, BATCH_TAG);
    let moves: u64 = systems
        .iter()
        .map(|s| (s.state.len() + s.paths.as_ref().map_or(0, Particles::len)) as u64)
        .sum();
    let batch_size = usize::try_from(prog.batch)
        .map_err(|_| SimError::BadProgram("the batch size is too large".into()))?;
    let scale = 1.0 / (prog.batch as f64).sqrt();
    let mut next_record = 0;
    for n in 0..=sched.steps {
        while next_record < rec.len() && rec[next_record] == n {
            for s in systems.iter_mut() {
                s.risk.push(field.risk(&s.state, data));
                let (m, v): (Vec<f64>, Vec<f64>) = s
                    .state
                    .w
                    .iter()
                    .map(|col| moments(col, s.state.weight.as_deref()))
                    .unzip();
                s.moments.push((m, v));
            }
            next_record += 1;
        }
        if sup_steps.binary_search(&n).is_ok() {
            pairs.par_iter_mut().for_each(|pair| pair.update(&systems));
        }
        if n == sched.steps {
            break;
        }
        let t = n as f64 * sched.step;
        let decay = (t + 1.0).powf(-opts.alpha);
        // Z_n^k: the next p normals of particle k's own stream, whatever the group.
        z.par_chunks_mut(NOISE_CHUNK * p.max(1))
            .zip(streams.par_chunks_mut(NOISE_CHUNK))
            .for_each(|(zc, sc)| {
                for (zk, rng) in zc.chunks_mut(p.max(1)).zip(sc.iter_mut()) {
                    for v in zk.iter_mut() {
                        *v = rand::Rng::sample(rng, StandardNormal);
                    }
                }
            });
        let batch = if any_sgd {
            Some(field.sample_batch(&mut batch_rng, batch_size))
        } else {
            None
        };
        let input = StepInput {
            field,
            data,
            batch: batch.as_ref(),
            z: &z,
            eta: sched.step * decay,
            noise: decay * sched.step * scale,
        };
        systems
            .par_iter_mut()
            .with_max_len(1)
            .try_for_each(|s| s.step(&input))?;
        if let Some(f) = progress {
            f(moves);
        }
    }
    Ok(GroupRun {
        systems,
        pairs,
        times,
    })
}

/// W₂² at T of each cloud against the reference law.
fn w2_against(clouds: &[&Particles], reference: &Particles) -> Vec<f64> {
    sliced_w2_squared_many(clouds, reference, SLICE_DIRECTIONS, SLICE_SEED)
}

/// Runs literal SGD, the particle system and the reference at every size and seed (see
/// the module documentation), in parallel, bit-identical at any thread count, after
/// planning the memory. `progress` is called with the number of particle moves just
/// completed (increments summing to [`Plan::particle_steps`]), from any thread.
pub fn simulate(
    prog: &MeanFieldProgram,
    opts: &SimOptions,
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<MfSweep, SimError> {
    let reference = validate(prog, opts)?;
    let plan = plan_with(prog, opts, &reference);
    if plan.bytes > crate::bounds::MAX_MF_SIM_BYTES {
        return Err(SimError::TooLarge {
            needed: plan.bytes,
            limit: crate::bounds::MAX_MF_SIM_BYTES,
        });
    }
    let run = || run_all(prog, opts, &reference, progress);
    let cells = match opts.threads {
        None => run()?,
        Some(t) => rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map_err(|e| SimError::ThreadPool {
                threads: t,
                detail: e.to_string(),
            })?
            .install(run)?,
    };
    let data = data_nodes(prog, opts.data_level);
    let (n_ref, label) = match &reference {
        RefKind::Quadrature(q) => (None, format!("quadrature of mu0 ({} nodes)", q.len())),
        RefKind::Cloud(n) => (
            Some(*n),
            format!("particle reference, N_ref = {n} independent draws from mu0 (this law has no quadrature)"),
        ),
        RefKind::Nested(n) => (Some(*n), format!("nested particle system, N_ref = {n}")),
    };
    let w2_method = if prog.dim == 1 {
        "exact (1-D quantile coupling)".to_string()
    } else {
        format!("sliced, {SLICE_DIRECTIONS} fixed directions (mean over the sphere)")
    };
    Ok(MfSweep {
        cells,
        n_ref,
        reference: label,
        w2_method,
        sup_times: sup_times(opts),
        data_nodes: data.len(),
        plan,
    })
}

/// Every group, in parallel; the cells sorted by size then seed.
fn run_all(
    prog: &MeanFieldProgram,
    opts: &SimOptions,
    reference: &RefKind,
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<Vec<MfCell>, SimError> {
    let field = Field::new(prog);
    let data = data_nodes(prog, opts.data_level);
    let p = prog.dim;
    let keep = opts.keep;
    let mut cells: Vec<MfCell> = match reference {
        RefKind::Nested(n_ref) => {
            let sched = opts.sizes[0];
            let per_seed: Vec<Vec<MfCell>> = opts
                .seeds
                .par_iter()
                .with_max_len(1)
                .map(|&seed| {
                    // Systems: the reference, then per size eq. 6 and SGD.
                    let mut systems = vec![System::new(
                        Kind::Particle,
                        initial(prog, seed, *n_ref, INIT_TAG),
                        None,
                        p,
                    )];
                    // Per size: eq. 6 and SGD on the first block (systems 1 + 2i and
                    // 2 + 2i, pairs 2i and 2i + 1), then eq. 6 on the further blocks;
                    // `blocks[i]` lists the pairs of size i's eq. 6 blocks.
                    let mut pairs = Vec::new();
                    let mut blocks: Vec<Vec<usize>> = Vec::new();
                    for s in &opts.sizes {
                        let init = initial(prog, seed, s.size, INIT_TAG);
                        blocks.push(vec![pairs.len()]);
                        for kind in [Kind::Particle, Kind::Sgd] {
                            pairs.push(Pair::new(systems.len(), s.size));
                            systems.push(System::new(kind, init.clone(), None, p));
                        }
                    }
                    for (i, s) in opts.sizes.iter().enumerate() {
                        for b in 1..block_count(opts.blocks, *n_ref, s.size) {
                            let start = b * s.size;
                            let init = initial_block(prog, seed, start, s.size, INIT_TAG);
                            blocks[i].push(pairs.len());
                            pairs.push(Pair::new(systems.len(), s.size));
                            systems.push(
                                System::new(Kind::Particle, init, None, p)
                                    .at_offset(start as usize),
                            );
                        }
                    }
                    let run = run_group(
                        prog, &field, &data, opts, seed, &sched, systems, pairs, *n_ref, progress,
                    )?;
                    let reference = &run.systems[0];
                    let ref_stats = reference.stats(&run.times, keep);
                    let clouds: Vec<&Particles> = run.systems[1..=2 * opts.sizes.len()]
                        .iter()
                        .map(|s| &s.state)
                        .collect();
                    let w2 = w2_against(&clouds, &reference.state);
                    Ok(opts
                        .sizes
                        .iter()
                        .enumerate()
                        .map(|(i, s)| {
                            let (a, b) = (1 + 2 * i, 2 + 2 * i);
                            // Every block has N particles, so the blocks weigh equally.
                            let block_errors: Vec<f64> =
                                blocks[i].iter().map(|&j| run.pairs[j].mean()).collect();
                            MfCell {
                                size: s.size,
                                seed,
                                steps: s.steps,
                                step: s.step,
                                particle: run.systems[a].stats(&run.times, keep),
                                sgd: run.systems[b].stats(&run.times, keep),
                                reference: ref_stats.clone(),
                                err_particle: block_errors.iter().sum::<f64>()
                                    / block_errors.len() as f64,
                                err_blocks: block_errors.len() as u64,
                                err_sgd: run.pairs[2 * i + 1].mean(),
                                w2_particle: w2[2 * i],
                                w2_sgd: w2[2 * i + 1],
                            }
                        })
                        .collect())
                })
                .collect::<Result<_, SimError>>()?;
            per_seed.into_iter().flatten().collect()
        }
        RefKind::Quadrature(_) | RefKind::Cloud(_) => {
            let tasks: Vec<(SizeSchedule, u64)> = opts
                .sizes
                .iter()
                .flat_map(|s| opts.seeds.iter().map(move |&seed| (*s, seed)))
                .collect();
            tasks
                .par_iter()
                .with_max_len(1)
                .map(|&(sched, seed)| {
                    let measure = match reference {
                        RefKind::Quadrature(q) => q.clone(),
                        RefKind::Cloud(n) => initial(prog, seed, *n, REF_INIT_TAG),
                        RefKind::Nested(_) => {
                            return Err(SimError::Internal("nested reference at beta < 1".into()))
                        }
                    };
                    let init = initial(prog, seed, sched.size, INIT_TAG);
                    let systems = vec![
                        System::new(Kind::Reference, measure, Some(init.clone()), p),
                        System::new(Kind::Particle, init.clone(), None, p),
                        System::new(Kind::Sgd, init, None, p),
                    ];
                    let pairs = (1..3).map(|system| Pair::new(system, sched.size)).collect();
                    let run = run_group(
                        prog, &field, &data, opts, seed, &sched, systems, pairs, sched.size,
                        progress,
                    )?;
                    let w2 = w2_against(
                        &[&run.systems[1].state, &run.systems[2].state],
                        &run.systems[0].state,
                    );
                    Ok(MfCell {
                        size: sched.size,
                        seed,
                        steps: sched.steps,
                        step: sched.step,
                        reference: run.systems[0].stats(&run.times, keep),
                        particle: run.systems[1].stats(&run.times, keep),
                        sgd: run.systems[2].stats(&run.times, keep),
                        err_particle: run.pairs[0].mean(),
                        err_blocks: 1,
                        err_sgd: run.pairs[1].mean(),
                        w2_particle: w2[0],
                        w2_sgd: w2[1],
                    })
                })
                .collect::<Result<_, SimError>>()?
        }
    };
    cells.sort_by_key(|c| (c.size, c.seed));
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exponent::Rational;
    use crate::meanfield::model::test_programs::{tanh_teacher, toy};
    use crate::meanfield::Loss;

    /// The toy of the brief: γ = 1/10, λ = 1, a = 1/2, σ = 1/2, M = 1, T = 6 (h = γ at β = 1).
    fn toy_program() -> MeanFieldProgram {
        toy(0.5, 1.0, 0.5, Loss::Square)
    }

    fn toy_schedule(size: u64) -> SizeSchedule {
        SizeSchedule {
            size,
            steps: 60,
            step: 0.1,
        }
    }

    /// The tanh teacher at β = 1/2, γ = 1, α = 0: h = N^{-1/2}, n_T = ⌊2 √N⌋.
    fn teacher_schedule(size: u64) -> SizeSchedule {
        let step = 1.0 / (size as f64).sqrt();
        SizeSchedule {
            size,
            steps: (2.0 / step + 1e-9).floor() as u64,
            step,
        }
    }

    /// Every f64 of a sweep, as bits, in a fixed order.
    fn bits(sweep: &MfSweep) -> Vec<u64> {
        let mut out = Vec::new();
        let stats = |s: &DynStats, out: &mut Vec<u64>| {
            for v in s
                .times
                .iter()
                .chain(&s.risk)
                .chain(&s.mean)
                .chain(&s.spread)
                .chain(s.path_mean.iter().flatten())
                .chain(s.path_spread.iter().flatten())
            {
                out.push(v.to_bits());
            }
            for col in &s.coords {
                out.extend(col.iter().map(|v| u64::from(v.to_bits())));
            }
        };
        for c in &sweep.cells {
            out.extend([c.size, c.seed, c.steps, c.step.to_bits()]);
            for s in [&c.sgd, &c.particle, &c.reference] {
                stats(s, &mut out);
            }
            for v in [c.err_particle, c.err_sgd, c.w2_particle, c.w2_sgd] {
                out.push(v.to_bits());
            }
        }
        out
    }

    #[test]
    fn initial_particles_are_nested_across_sizes() {
        let prog = tanh_teacher(Rational::new(1.into(), 2.into()));
        let small = initial(&prog, 5, 16, INIT_TAG);
        let large = initial(&prog, 5, 256, INIT_TAG);
        for (a, b) in small.w.iter().zip(&large.w) {
            assert_eq!(a[..], b[..16]);
        }
        let other = initial(&prog, 6, 16, INIT_TAG);
        assert_ne!(small.w, other.w);
    }

    #[test]
    fn nested_reference_equals_the_largest_system_when_n_ref_is_n_max() {
        let prog = toy_program();
        let mut opts = SimOptions::new(
            vec![toy_schedule(32), toy_schedule(128)],
            vec![1, 2],
            0.0,
            true,
        );
        opts.ref_factor = 1;
        let sweep = simulate(&prog, &opts, None).expect("runs");
        assert_eq!(sweep.n_ref, Some(128));
        for c in &sweep.cells {
            if c.size == 128 {
                assert_eq!(c.err_particle, 0.0);
                assert_eq!(c.w2_particle, 0.0);
                assert_eq!(c.particle, c.reference);
            } else {
                assert!(c.err_particle > 0.0);
                // The first 32 particles start where the reference's do.
                assert_eq!(c.particle.times, c.reference.times);
            }
        }
    }

    #[test]
    fn bit_identical_at_any_thread_count() {
        let toy = toy_program();
        let teacher = tanh_teacher(Rational::new(1.into(), 2.into()));
        let cases = [
            (
                &toy,
                SimOptions::new(
                    vec![toy_schedule(16), toy_schedule(64)],
                    vec![0, 3, 4],
                    0.0,
                    true,
                ),
            ),
            (
                &teacher,
                SimOptions::new(
                    vec![teacher_schedule(16), teacher_schedule(64)],
                    vec![0, 1, 2],
                    0.0,
                    false,
                ),
            ),
        ];
        for (prog, opts) in cases {
            let mut one = opts.clone();
            one.threads = Some(1);
            let mut two = opts.clone();
            two.threads = Some(2);
            let a = simulate(prog, &one, None).expect("runs");
            let b = simulate(prog, &two, None).expect("runs");
            assert_eq!(bits(&a), bits(&b));
            assert_eq!(a.cells.len(), 6);
            assert!(a
                .cells
                .windows(2)
                .all(|w| (w[0].size, w[0].seed) < (w[1].size, w[1].seed)));
        }
    }

    #[test]
    fn literal_sgd_contracts_the_spread_exactly_on_the_linear_toy() {
        // F = w x is linear in w, so the SGD direction is (common term) − λ w^k: the spread
        // is multiplied by (1 − η_n λ)² at every step, whatever the minibatches.
        let prog = toy_program();
        for alpha in [0.0, 0.5] {
            let opts = SimOptions::new(vec![toy_schedule(256)], vec![7], alpha, true);
            let sweep = simulate(&prog, &opts, None).expect("runs");
            let cell = &sweep.cells[0];
            let init = initial(&prog, 7, 256, INIT_TAG);
            let (_, v0) = moments(&init.w[0], None);
            let factor: f64 = (0..60)
                .map(|n| {
                    let eta = 0.1 * (n as f64 * 0.1 + 1.0).powf(-alpha);
                    (1.0 - eta).powi(2)
                })
                .product();
            let want = factor * v0;
            let got = cell.sgd.spread[0];
            assert!(
                ((got - want) / want).abs() < 1e-12,
                "alpha {alpha}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn particle_system_spread_reaches_the_euler_stationary_variance() {
        // dW = (−(m − a) − λ W) dt + (h/M)^{1/2} Σ^{1/2} dB with Σ = 2(m − a)² + σ²: an OU
        // around a mean m → a/(1 + λ); its stationary variance h Σ/(2 λ M), divided by
        // (1 − λh/2) for Euler–Maruyama with step h. By T = 6 the start is forgotten
        // (0.9^120 ≈ 3·10⁻⁶).
        let prog = toy_program();
        let seeds: Vec<u64> = (0..6).collect();
        let mut opts = SimOptions::new(vec![toy_schedule(2048)], seeds, 0.0, true);
        opts.ref_factor = 2;
        let sweep = simulate(&prog, &opts, None).expect("runs");
        let (a, lambda, sigma, h) = (0.5, 1.0, 0.5, 0.1);
        let m = a / (1.0 + lambda);
        let big_sigma = 2.0 * (m - a) * (m - a) + sigma * sigma;
        let want = h * big_sigma / (2.0 * lambda) / (1.0 - lambda * h / 2.0);
        let spreads: Vec<f64> = sweep.cells.iter().map(|c| c.particle.spread[0]).collect();
        let k = spreads.len() as f64;
        let mean = spreads.iter().sum::<f64>() / k;
        let sd = (spreads.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (k - 1.0)).sqrt();
        let se = sd / k.sqrt();
        assert!(
            (mean - want).abs() < 4.0 * se + 1e-3 * want,
            "{mean} ± {se} vs {want}"
        );
        // The means sit at m_∞.
        for c in &sweep.cells {
            assert!(
                (c.particle.mean[0] - m).abs() < 0.02,
                "{:?}",
                c.particle.mean
            );
        }
    }

    /// The sup runs over the same times at every N: S = min(sup_points, smallest n_T),
    /// and with S = 1 (times 0 and T, the error at 0 being 0 under the coupling) the error
    /// is the mean squared distance at T, recomputed here from the returned coordinates.
    #[test]
    fn the_sup_runs_over_fixed_times() {
        let prog = tanh_teacher(Rational::new(1.into(), 2.into()));
        let mut opts = SimOptions::new(
            vec![teacher_schedule(16), teacher_schedule(64)],
            vec![5],
            0.0,
            false,
        );
        // n_T = 8 and 16: S is capped by the 8 steps of N = 16.
        assert_eq!(simulate(&prog, &opts, None).expect("runs").sup_times, 8);
        opts.sup_points = 1;
        let sweep = simulate(&prog, &opts, None).expect("runs");
        assert_eq!(sweep.sup_times, 1);
        for c in &sweep.cells {
            let n = c.size as usize;
            let at_t: f64 = (0..n)
                .map(|k| {
                    c.particle
                        .coords
                        .iter()
                        .zip(&c.reference.coords)
                        .map(|(a, b)| (f64::from(a[k]) - f64::from(b[k])).powi(2))
                        .sum::<f64>()
                })
                .sum::<f64>()
                / n as f64;
            assert!(
                (c.err_particle - at_t).abs() <= 1e-5 * at_t,
                "N = {n}: {} vs {at_t}",
                c.err_particle
            );
        }
        opts.sup_points = 0;
        assert!(matches!(plan(&prog, &opts), Err(SimError::ZeroOption(_))));
    }

    #[test]
    fn coupling_error_decreases_with_the_number_of_particles() {
        let prog = tanh_teacher(Rational::new(1.into(), 2.into()));
        let seeds: Vec<u64> = (0..4).collect();
        let opts = SimOptions::new(
            vec![teacher_schedule(64), teacher_schedule(1024)],
            seeds,
            0.0,
            false,
        );
        let sweep = simulate(&prog, &opts, None).expect("runs");
        assert_eq!(sweep.n_ref, None);
        assert_eq!(sweep.reference, "quadrature of mu0 (576 nodes)");
        let mean = |n: u64, f: &dyn Fn(&MfCell) -> f64| {
            let v: Vec<f64> = sweep.cells.iter().filter(|c| c.size == n).map(f).collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        let (small, large) = (
            mean(64, &|c| c.err_particle),
            mean(1024, &|c| c.err_particle),
        );
        assert!(large < small / 2.0, "{small} → {large}");
        let (small, large) = (mean(64, &|c| c.w2_particle), mean(1024, &|c| c.w2_particle));
        assert!(large < small, "W2: {small} → {large}");
        for c in &sweep.cells {
            assert!(c.err_particle.is_finite() && c.err_sgd.is_finite());
            assert_eq!(c.particle.coords.len(), 2);
            assert_eq!(c.reference.coords[0].len(), c.size as usize);
            assert_eq!(c.particle.risk.len(), opts.record + 1);
        }
    }

    #[test]
    fn requests_are_checked_before_running() {
        let prog = toy_program();
        let mut opts = SimOptions::new(vec![toy_schedule(8)], vec![0], 0.0, true);
        opts.sizes.push(SizeSchedule {
            size: 16,
            steps: 30,
            step: 0.2,
        });
        assert!(matches!(
            simulate(&prog, &opts, None),
            Err(SimError::UnequalGrids { .. })
        ));
        let huge = SimOptions::new(vec![toy_schedule(1 << 40)], vec![0], 0.0, true);
        assert!(matches!(
            simulate(&prog, &huge, None),
            Err(SimError::TooLarge { .. })
        ));
        let none = SimOptions::new(vec![], vec![0], 0.0, true);
        assert!(matches!(plan(&prog, &none), Err(SimError::Empty(_))));
        let bad = SimOptions::new(vec![toy_schedule(8)], vec![0], 1.0, true);
        assert!(matches!(plan(&prog, &bad), Err(SimError::BadAlpha(_))));
        let ok = plan(
            &prog,
            &SimOptions::new(vec![toy_schedule(8)], vec![0], 0.0, true),
        )
        .expect("plans");
        // 8 blocks of 8 eq. 6 particles, 8 SGD particles and 64 reference particles, 60
        // steps.
        assert_eq!(ok.particle_steps, 60 * (8 * 8 + 8 + 64));
        let mut zero = SimOptions::new(vec![toy_schedule(8)], vec![0], 0.0, true);
        zero.blocks = 0;
        assert!(matches!(plan(&prog, &zero), Err(SimError::ZeroOption(_))));
    }

    /// The blocks of the nested reference are further copies of the same experiment: the
    /// first block (the one every statistic but the error reads) is unchanged, the count
    /// is min(blocks, N_ref / N), and the blocked error has the single block's
    /// expectation (the seed means agree within their standard errors) with a smaller
    /// spread over seeds.
    #[test]
    fn blocks_average_copies_of_the_same_coupling_error() {
        let prog = toy_program();
        let seeds: Vec<u64> = (0..40).collect();
        let mut one = SimOptions::new(
            vec![toy_schedule(16), toy_schedule(32)],
            seeds.clone(),
            0.0,
            true,
        );
        one.ref_factor = 4;
        one.blocks = 1;
        let mut many = one.clone();
        many.blocks = 8;
        let (a, b) = (
            simulate(&prog, &one, None).expect("runs"),
            simulate(&prog, &many, None).expect("runs"),
        );
        for (x, y) in a.cells.iter().zip(&b.cells) {
            assert_eq!(x.particle, y.particle);
            assert_eq!(x.sgd, y.sgd);
            assert_eq!(x.err_blocks, 1);
            // N_ref = 128: 8 blocks of 16, 4 of 32.
            assert_eq!(y.err_blocks, 128 / y.size);
        }
        let stats = |s: &MfSweep| {
            let xs: Vec<f64> = s
                .cells
                .iter()
                .filter(|c| c.size == 16)
                .map(|c| c.err_particle)
                .collect();
            let n = xs.len() as f64;
            let m = xs.iter().sum::<f64>() / n;
            let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
            (m, var)
        };
        let ((m1, v1), (m8, v8)) = (stats(&a), stats(&b));
        let se = ((v1 + v8) / seeds.len() as f64).sqrt();
        assert!((m1 - m8).abs() < 3.0 * se, "{m1} vs {m8} (se {se})");
        assert!(v8 < v1 / 2.0, "blocked variance {v8} vs single {v1}");
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use crate::exponent::Rational;
    use crate::meanfield::model::test_programs::{tanh_teacher, toy};
    use crate::meanfield::Loss;

    /// Wall time per size, one seed (run with `--ignored --nocapture`).
    #[test]
    #[ignore]
    fn timings() {
        let toy = toy(0.5, 1.0, 0.5, Loss::Square);
        let teacher = tanh_teacher(Rational::new(1.into(), 2.into()));
        for n in [64u64, 256, 1024, 4096, 16384] {
            let sched = SizeSchedule {
                size: n,
                steps: 60,
                step: 0.1,
            };
            let opts = SimOptions::new(vec![sched], vec![0], 0.0, true);
            let plan = plan(&toy, &opts).expect("plan");
            let start = std::time::Instant::now();
            let s = simulate(&toy, &opts, None).expect("runs");
            println!(
                "toy beta=1 N={n} (N_ref={:?}): {:.3} s, plan {:.1} MiB, {} moves, err {:.3e}",
                s.n_ref,
                start.elapsed().as_secs_f64(),
                plan.bytes as f64 / 1048576.0,
                plan.particle_steps,
                s.cells[0].err_particle
            );
        }
        for n in [64u64, 256, 1024, 4096, 16384] {
            let step = 1.0 / (n as f64).sqrt();
            let sched = SizeSchedule {
                size: n,
                steps: (2.0 / step + 1e-9) as u64,
                step,
            };
            let opts = SimOptions::new(vec![sched], vec![0], 0.0, false);
            let plan = plan(&teacher, &opts).expect("plan");
            let start = std::time::Instant::now();
            let s = simulate(&teacher, &opts, None).expect("runs");
            println!(
                "tanh beta=1/2 N={n} steps {}: {:.3} s, plan {:.1} MiB, {} moves, err {:.3e} w2 {:.3e} sgd {:.3e}",
                sched.steps,
                start.elapsed().as_secs_f64(),
                plan.bytes as f64 / 1048576.0,
                plan.particle_steps,
                s.cells[0].err_particle,
                s.cells[0].w2_particle,
                s.cells[0].err_sgd
            );
        }
    }
}
