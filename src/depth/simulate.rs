//! Finite-depth residual networks at concrete sizes, each sample coupled to its limit.
//!
//! A sweep runs every (size, seed) cell of a request — depths L, widths n for the
//! Hayou/Zheng forms, seeds — in parallel and records a few numbers per cell (end
//! states, norms, pathwise distances to the limit, blow-ups) for the caller to compute
//! statistics on. Nothing here averages over seeds: the records are the raw material.
//!
//! **Coupling.** Each network layer k spans the time interval [k/L, (k+1)/L] of its
//! limit. The interval is split into r = `refine` sub-steps; every noise entry gets r
//! fine Brownian increments N(0, 1/(rL)), the network uses their sum as its layer
//! increment ΔB_k (exactly N(0, 1/L), so the network's law is unchanged), and the limit
//! equation is stepped on the fine grid with the fine increments themselves. Network
//! and limit then share one Brownian path, and sup_k |h_k − H_{k/L}| measures how far
//! the network is from its limit pathwise, not merely in law. The limit is stepped with
//! RK4 when deterministic, with Milstein where its noise is one scalar Brownian motion
//! in dimension 1, and with Euler–Maruyama otherwise.
//!
//! **Determinism.** Every Gaussian is a pure function of (seed, stream, step, entry)
//! ([`crate::solve::Brownian`]); every sum runs in a fixed order; cells are stored by
//! index, not completion. A sweep is therefore bit-identical whatever the thread count.
//! The network's draws depend on (seed, L, refine) but not on whether a limit is
//! solved alongside, so a run without a limit is the same network.
//!
//! **Cost.** Cells are planned before anything runs: a request whose memory or work
//! estimate exceeds the [`DepthBudget`] is refused ([`DepthSimError::TooLarge`],
//! [`DepthSimError::TooSlow`]). Buffers are allocated once per cell; the per-layer
//! loops allocate nothing, and the n×n Brownian matrices of the Hayou forms are never
//! stored (each entry is drawn, used by every path that needs it, and dropped), so a
//! cell needs O(n) memory.

mod crx;
mod hayou;

use super::equation::{CrxEquation, HayouEquation};
use super::model::{DepthProgram, HayouKind, Resnet};
use crate::exponent::{Exponent, Rational};
use crate::ir::ActId;
use crate::solve::Rk4;
use rayon::prelude::*;
use serde::Serialize;

/// Depths of a sweep when none are given: 2^4, …, 2^10.
pub const DEFAULT_DEPTHS: [usize; 7] = [16, 32, 64, 128, 256, 512, 1024];

/// Sub-steps of the limit per network layer when none are given.
pub const DEFAULT_REFINE: usize = 8;

/// A state whose Euclidean norm exceeds this counts as blown up: far beyond anything a
/// convergent network reaches, yet small enough that squares of it stay finite.
pub const BLOWUP_NORM: f64 = 1e150;

/// Gauss–Hermite nodes for the type-2 diffusion coefficient E φ(r g)²: exact for
/// polynomials of degree ≤ 127, and (the rule being symmetric) exact for ReLU², whose
/// integrand is x² on one half-line.
const HERMITE_NODES: usize = 64;

/// Work units charged per node of a formula evaluated by walking its tree (measured:
/// a node costs about as much as three multiply–adds).
const NODE_COST: u64 = 3;

/// The stream numbers of the random objects: a tag in the top byte (so they cannot meet
/// the width simulator's streams), the depth in the middle bits, the object in the low
/// byte. The noise of a layer is keyed by the depth as well as the seed, so cells of
/// different depths are independent samples (their fine steps cover different time
/// intervals, and reusing the numbers would correlate them in no useful way); the
/// input matrix and the probe are keyed by the seed only, so every depth starts from
/// the same f_0 and z. Matrix entries are addressed by (i, j) whatever the width, so
/// for one seed and depth the draws of width n are the top-left block of width 2n's.
mod stream {
    const TAG: u64 = 0xD5 << 56;
    /// CRX: the d×d Brownian matrix B^A (one step per fine sub-step).
    const CRX_A: u64 = 1;
    /// CRX: the d-vector Brownian motion B^b of the biases.
    const CRX_B: u64 = 2;
    /// Hayou: the input matrix W_in (step 0 only; all depths).
    pub const HAYOU_IN: u64 = TAG | 3;
    /// Hayou: the sketch's probe z (step 0 only; all depths).
    pub const HAYOU_Z: u64 = TAG | 4;
    /// Hayou type 1: the n×n Brownian matrix behind W_ℓ (one step per fine sub-step).
    const HAYOU_BRANCH: u64 = 5;
    /// Hayou type 2: U_ℓ (step ℓ).
    const HAYOU_U: u64 = 6;
    /// Hayou type 2: V_ℓ (step ℓ).
    const HAYOU_V: u64 = 7;
    /// The type-2 SDE sampler's n-dimensional Brownian motion B̃ (one step per fine step).
    const TYPE2_SDE: u64 = 8;

    /// The stream of `object` in a cell of depth `depth`.
    fn at_depth(object: u64, depth: usize) -> u64 {
        TAG | ((depth as u64 & ((1 << 48) - 1)) << 8) | object
    }

    /// CRX: B^A at depth L.
    pub fn crx_a(depth: usize) -> u64 {
        at_depth(CRX_A, depth)
    }
    /// CRX: B^b at depth L.
    pub fn crx_b(depth: usize) -> u64 {
        at_depth(CRX_B, depth)
    }
    /// Hayou type 1: the branch's Brownian matrix at depth L.
    pub fn hayou_branch(depth: usize) -> u64 {
        at_depth(HAYOU_BRANCH, depth)
    }
    /// Hayou type 2: U_ℓ at depth L.
    pub fn hayou_u(depth: usize) -> u64 {
        at_depth(HAYOU_U, depth)
    }
    /// Hayou type 2: V_ℓ at depth L.
    pub fn hayou_v(depth: usize) -> u64 {
        at_depth(HAYOU_V, depth)
    }
    /// The type 2 sampler's B̃ at depth L.
    pub fn type2_sde(depth: usize) -> u64 {
        at_depth(TYPE2_SDE, depth)
    }
}

/// What to run: sizes, seeds, the coupling's refinement and the resources allowed.
#[derive(Clone, Debug, PartialEq)]
pub struct DepthSweepOptions {
    /// The depths L (each at least 1, listed once).
    pub depths: Vec<usize>,
    /// The widths n of the Hayou/Zheng forms (ignored for CRX networks).
    pub widths: Vec<usize>,
    /// The seeds; each seed is one independent sample per size.
    pub seeds: Vec<u64>,
    /// Sub-steps of the limit per network layer (at least 1).
    pub refine: usize,
    /// Threads: `None` uses rayon's current pool, `Some(t)` a local pool of t threads.
    pub threads: Option<usize>,
    /// The memory and work a sweep may use.
    pub budget: DepthBudget,
}

impl Default for DepthSweepOptions {
    fn default() -> Self {
        DepthSweepOptions {
            depths: DEFAULT_DEPTHS.to_vec(),
            widths: vec![64],
            seeds: (0..20).collect(),
            refine: DEFAULT_REFINE,
            threads: None,
            budget: DepthBudget::default(),
        }
    }
}

/// The resources a sweep may use; a request estimated above either is refused before
/// anything runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DepthBudget {
    /// Bytes: the working buffers of the cells running at once, the shared references
    /// and every record.
    pub max_bytes: u64,
    /// Work, in the units of [`DepthCost::operations`] (about a nanosecond each on one
    /// core of a current machine).
    pub max_operations: u64,
}

impl Default for DepthBudget {
    /// 75% of physical memory (as the width simulator) and 2·10^12 operations, about
    /// half an hour of one core.
    fn default() -> Self {
        DepthBudget {
            max_bytes: crate::sim::default_memory_limit(),
            max_operations: 2_000_000_000_000,
        }
    }
}

/// The estimated cost of a sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DepthCost {
    /// The number of (size, seed) cells.
    pub cells: usize,
    /// The cells allowed to run at once.
    pub concurrent: usize,
    /// Peak bytes: concurrent cells' buffers + shared references + all records.
    pub bytes: u64,
    /// Work units: Gaussian draws, multiply–adds and formula evaluations, summed over
    /// cells (shared references counted once).
    pub operations: u64,
}

/// Why a depth simulation refuses to run. A numerical blow-up is not an error but a
/// result, recorded per cell ([`DepthBlowUp`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DepthSimError {
    /// The sweep was asked of the wrong residual family.
    #[error(
        "the program's network is a {found} network; this simulation needs a {expected} network"
    )]
    WrongFamily {
        /// The family the function simulates.
        expected: &'static str,
        /// The program's family.
        found: &'static str,
    },
    /// An exponent still has free symbols, so L^e has no numeric value.
    #[error(
        "the exponent {what} = {exponent} has free symbols ({}); a network is simulated at \
         numbers: fix them with `--set NAME=VALUE`",
        symbols.join(", ")
    )]
    SymbolicExponent {
        /// Which exponent (`alpha`, `beta`, `gamma`, `branch`).
        what: &'static str,
        /// The exponent as printed.
        exponent: String,
        /// Its free symbols.
        symbols: Vec<String>,
    },
    /// A constant exponent beyond the range of floating-point numbers.
    #[error("the exponent {what} = {exponent} is out of range")]
    ExponentOutOfRange {
        /// Which exponent.
        what: &'static str,
        /// The exponent as printed.
        exponent: String,
    },
    /// A negative branch exponent makes β = L^{-b} exceed 1, and √(1−β²) undefined.
    #[error(
        "the branch exponent b = {branch} is negative: β = L^(-b) > 1 leaves √(1−β²) undefined"
    )]
    NegativeBranch {
        /// The exponent as printed.
        branch: String,
    },
    /// An array of the network does not have the size its dimension asks for.
    #[error("{what} has {found} entries but the network needs {expected}")]
    Shape {
        /// Which array.
        what: String,
        /// The size needed.
        expected: usize,
        /// The size found.
        found: usize,
    },
    /// A Hayou/Zheng input of zeros: every f_ℓ is then 0 and log-norms are undefined.
    #[error("the input is zero: f_ℓ = 0 at every layer, and log(‖f_L‖²/‖f_0‖²) is undefined")]
    ZeroInput,
    /// A number of the network (δ, s, gain, an input entry) is not finite.
    #[error("{what} = {value} is not a finite number")]
    NotFinite {
        /// Which number.
        what: String,
        /// Its value, as printed.
        value: String,
    },
    /// A size of the request is zero.
    #[error("{what} must be at least 1")]
    ZeroSize {
        /// `depth`, `width`, `refine` or `threads`.
        what: &'static str,
    },
    /// A size is listed twice: the second adds no point to a fit, only cost.
    #[error("{what} {size} is listed twice")]
    RepeatedSize {
        /// `depth` or `width`.
        what: &'static str,
        /// The repeated size.
        size: usize,
    },
    /// A Hayou sweep without widths.
    #[error("a Hayou/Zheng sweep needs at least one width")]
    NoWidths,
    /// The network refers to an activation the program does not have.
    #[error("the network uses activation #{index} but the program has {count}")]
    UnknownActivation {
        /// The activation's index.
        index: usize,
        /// How many the program has.
        count: usize,
    },
    /// A derivative of the activation was not prepared by the elaborator.
    #[error("`{name}` has no derivative of order {order} prepared (the Jacobian sketch needs φ')")]
    MissingDerivative {
        /// The activation's name.
        name: String,
        /// The order needed.
        order: usize,
    },
    /// The limit equation keeps a term whose Taylor coefficient σ^(k)(0) is not a number.
    #[error(
        "the limit keeps the {term} term, which needs σ^({order})(0), but `{name}` has none (NaN)"
    )]
    MissingTaylor {
        /// The term of the equation.
        term: &'static str,
        /// The order of the coefficient.
        order: usize,
        /// The activation's name.
        name: String,
    },
    /// The Jacobian sketch is defined for type 1 only.
    #[error("a type 2 network carries no Jacobian sketch (set `sketch` for type 1 only)")]
    SketchOnType2,
    /// The network and the equation are of different Hayou types.
    #[error("the equation is for a {equation:?} network but the network is {network:?}")]
    KindMismatch {
        /// The equation's type.
        equation: HayouKind,
        /// The network's type.
        network: HayouKind,
    },
    /// A limit was given that no coupling can follow.
    #[error("cannot couple the network to its limit: {reason}")]
    CannotCouple {
        /// Why.
        reason: String,
    },
    /// The memory estimate exceeds the budget.
    #[error(
        "the sweep needs about {} but the budget is {}; use fewer seeds, smaller sizes or fewer threads",
        human_bytes(*needed_bytes),
        human_bytes(*limit_bytes)
    )]
    TooLarge {
        /// Estimated peak bytes.
        needed_bytes: u64,
        /// The budget.
        limit_bytes: u64,
    },
    /// The work estimate exceeds the budget.
    #[error(
        "the sweep needs about {operations:.3e} operations (≈ {:.0} s on one core) but the \
         budget is {limit:.3e}; use fewer seeds, smaller sizes or a smaller refinement",
        *operations as f64 * 1e-9
    )]
    TooSlow {
        /// Estimated work.
        operations: u64,
        /// The budget.
        limit: u64,
    },
    /// The local thread pool could not be built.
    #[error("cannot start {threads} threads: {detail}")]
    ThreadPool {
        /// The threads asked for.
        threads: usize,
        /// The system's reason.
        detail: String,
    },
    /// The Gauss–Hermite rule for the type-2 diffusion could not be built.
    #[error("cannot build the quadrature rule: {detail}")]
    Quadrature {
        /// The reason.
        detail: String,
    },
}

/// `12.3 MiB`.
fn human_bytes(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// How a trajectory stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Divergence {
    /// An entry became NaN or infinite.
    NotFinite,
    /// The norm exceeded [`BLOWUP_NORM`].
    TooLarge,
}

/// A trajectory that stopped: the first state index k (1 ≤ k ≤ L) whose state was not
/// finite or exceeded [`BLOWUP_NORM`]; for a limit stepped on a finer grid, the layer
/// whose time interval ((k−1)/L, k/L] contains the bad sub-step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DepthBlowUp {
    /// The layer index k.
    pub layer: usize,
    /// What went wrong.
    pub kind: Divergence,
}

/// Whether `x` has blown up.
#[inline]
fn divergence(x: &[f64]) -> Option<Divergence> {
    let sq: f64 = x.iter().map(|v| v * v).sum();
    if sq.is_finite() {
        (sq.sqrt() > BLOWUP_NORM).then_some(Divergence::TooLarge)
    } else if x.iter().all(|v| v.is_finite()) {
        // Finite entries whose squares overflow: a norm beyond 1e154.
        Some(Divergence::TooLarge)
    } else {
        Some(Divergence::NotFinite)
    }
}

/// How the limit of a CRX network is stepped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitScheme {
    /// Classical RK4 (a deterministic limit; its noise vanishes).
    Rk4,
    /// Euler–Maruyama on the fine grid with the fine increments.
    EulerMaruyama,
    /// Milstein, for d = 1 with a single scalar noise source (strong order 1).
    Milstein,
}

/// One trajectory of a CRX network or of its limit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CrxTrajectory {
    /// The state at layer ⌊L/2⌋ (time ⌊L/2⌋/L); `None` if it blew up before.
    pub half: Option<Vec<f64>>,
    /// The state at layer L (time 1); `None` if it blew up.
    pub end: Option<Vec<f64>>,
    /// ‖end − h_0‖/√d.
    pub displacement: Option<f64>,
    /// ‖h_1 − h_0‖/√d: how far the first layer moves the state. Its exponent in L is the
    /// one-layer exponent of the power counting, which decides whether the sum over L
    /// layers has a limit even where the state itself stays bounded (a contracting trend
    /// in the explosion regime drives h to a fixed point instead of to infinity).
    pub first_step: Option<f64>,
    /// Where the trajectory stopped, if it did.
    pub blowup: Option<DepthBlowUp>,
}

/// What one (depth, seed) cell of a CRX sweep measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CrxRecord {
    /// The depth L.
    pub depth: usize,
    /// The seed.
    pub seed: u64,
    /// ⌊L/2⌋, the layer of the `half` states.
    pub half_layer: usize,
    /// The network h_0, …, h_L.
    pub network: CrxTrajectory,
    /// The limit H_t on the same Brownian path; `None` without an equation.
    pub limit: Option<CrxTrajectory>,
    /// sup_{0≤k≤L} |h_k − H_{k/L}| (Euclidean); `None` without a limit or when either
    /// trajectory blew up.
    pub pathwise_error: Option<f64>,
}

/// Everything a CRX sweep measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CrxSweep {
    /// The depths, as given.
    pub depths: Vec<usize>,
    /// The seeds, as given.
    pub seeds: Vec<u64>,
    /// Sub-steps of the limit per layer.
    pub refine: usize,
    /// How the limit was stepped; `None` without an equation.
    pub scheme: Option<LimitScheme>,
    /// The cost estimate the sweep was planned with.
    pub cost: DepthCost,
    /// `records[i * seeds.len() + s]` is depth `depths[i]` with seed `seeds[s]`.
    pub records: Vec<CrxRecord>,
}

impl CrxSweep {
    /// The record of depth index `i` and seed index `s`.
    pub fn record(&self, i: usize, s: usize) -> Option<&CrxRecord> {
        (i < self.depths.len() && s < self.seeds.len())
            .then(|| self.records.get(i * self.seeds.len() + s))
            .flatten()
    }

    /// Every seed's record at depth index `i`, in seed order.
    pub fn at_depth(&self, i: usize) -> &[CrxRecord] {
        let s = self.seeds.len();
        self.records.get(i * s..(i + 1) * s).unwrap_or(&[])
    }
}

/// The Hayou/Zheng quantities at one layer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HayouSnapshot {
    /// The layer k (time k/L).
    pub layer: usize,
    /// ‖f‖²/n.
    pub f_sq: f64,
    /// ‖v‖²/n, with the sketch.
    pub v_sq: Option<f64>,
    /// ⟨f, v⟩/n, with the sketch.
    pub fv: Option<f64>,
    /// log(‖f‖²/‖f_0‖²).
    pub log_growth: f64,
}

/// One trajectory of a Hayou/Zheng network or of its limit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HayouTrajectory {
    /// At layer ⌊L/2⌋ (t = ⌊L/2⌋/L); `None` if it blew up before.
    pub half: Option<HayouSnapshot>,
    /// At layer L (t = 1); `None` if it blew up.
    pub end: Option<HayouSnapshot>,
    /// Where the trajectory stopped, if it did.
    pub blowup: Option<DepthBlowUp>,
}

/// What one (width, depth, seed) cell of a Hayou/Zheng sweep measured.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HayouRecord {
    /// The width n.
    pub width: usize,
    /// The depth L.
    pub depth: usize,
    /// The seed.
    pub seed: u64,
    /// ‖f_0‖²/n, shared by the network and the limit (same W_in draw).
    pub f0_sq: f64,
    /// The network; `None` for the SDE sampler.
    pub network: Option<HayouTrajectory>,
    /// The limit: coupled (type 1) or sampled independently (type 2 sampler).
    pub limit: Option<HayouTrajectory>,
    /// sup_k ‖f_k − F_{k/L}‖/√n for a coupled type 1 (`None` otherwise, or on a blow-up).
    pub f_error: Option<f64>,
    /// sup_k ‖v_k − V_{k/L}‖/√n, with the sketch.
    pub v_error: Option<f64>,
}

/// What produced a Hayou sweep's trajectories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HayouSource {
    /// The network alone.
    Network,
    /// The type 1 network and its limit on the same Brownian matrix path.
    Coupled,
    /// The type 2 limit SDE, sampled independently of any network.
    Type2Sde,
}

/// Everything a Hayou/Zheng sweep measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HayouSweep {
    /// Type 1 or 2.
    pub kind: HayouKind,
    /// What the trajectories are.
    pub source: HayouSource,
    /// The widths, as given.
    pub widths: Vec<usize>,
    /// The depths, as given.
    pub depths: Vec<usize>,
    /// The seeds, as given.
    pub seeds: Vec<u64>,
    /// Sub-steps of the limit per layer.
    pub refine: usize,
    /// The cost estimate the sweep was planned with.
    pub cost: DepthCost,
    /// `records[(w * depths.len() + i) * seeds.len() + s]`.
    pub records: Vec<HayouRecord>,
}

impl HayouSweep {
    /// The record of width index `w`, depth index `i`, seed index `s`.
    pub fn record(&self, w: usize, i: usize, s: usize) -> Option<&HayouRecord> {
        (w < self.widths.len() && i < self.depths.len() && s < self.seeds.len())
            .then(|| {
                self.records
                    .get((w * self.depths.len() + i) * self.seeds.len() + s)
            })
            .flatten()
    }

    /// Every seed's record at width index `w` and depth index `i`, in seed order.
    pub fn at(&self, w: usize, i: usize) -> &[HayouRecord] {
        let s = self.seeds.len();
        let start = (w * self.depths.len() + i) * s;
        self.records.get(start..start + s).unwrap_or(&[])
    }
}

/// Runs a Cont–Rossier–Xu network at every depth of `opts` with every seed, each
/// coupled to the limit `eq` when one is given (`None`: the explosion regime, where no
/// limit exists; the network runs alone). See the module documentation for the
/// coupling and [`CrxRecord`] for what is recorded.
pub fn simulate_crx(
    prog: &DepthProgram,
    eq: Option<&CrxEquation>,
    opts: &DepthSweepOptions,
) -> Result<CrxSweep, DepthSimError> {
    let setup = crx::Setup::new(prog, eq)?;
    let plan = crx::plan(&setup, opts)?;
    let depths = &opts.depths;
    let seeds = &opts.seeds;
    let refine = opts.refine;
    let records = in_pool(opts.threads, || {
        // The deterministic limit is the same for every seed: solve it once per depth.
        let references: Vec<Option<crx::OdeReference>> = depths
            .par_iter()
            .with_max_len(1)
            .map(|&l| setup.ode_reference(l, refine))
            .collect();
        run_cells(&plan.cell_operations, |c| {
            let (i, s) = (c / seeds.len(), c % seeds.len());
            setup.cell(depths[i], seeds[s], refine, references[i].as_ref())
        })
    })?;
    Ok(CrxSweep {
        depths: depths.clone(),
        seeds: seeds.clone(),
        refine,
        scheme: setup.scheme,
        cost: plan.cost,
        records,
    })
}

/// The cost [`simulate_crx`] would plan with, or why it would refuse.
pub fn estimate_crx(
    prog: &DepthProgram,
    eq: Option<&CrxEquation>,
    opts: &DepthSweepOptions,
) -> Result<DepthCost, DepthSimError> {
    let setup = crx::Setup::new(prog, eq)?;
    Ok(crx::plan(&setup, opts)?.cost)
}

/// Runs a Hayou/Zheng network at every (width, depth) of `opts` with every seed.
///
/// With `eq` (type 1 at branch exponent b = 1/2 only), the limit
/// df = −½ f dt + √(gain/n) dB φ(f) (and the sketch's dv = −½ v dt + √(gain/n) dB (φ'(f) ⊙ v))
/// is stepped by Euler–Maruyama on the fine grid with the Brownian matrix increments
/// whose sums are the network's β W_ℓ; terms the equation switches off are left out.
/// A type 2 network cannot be coupled (its U_ℓ, V_ℓ are not the limit's B̃): use
/// [`sample_type2_sde`] for its limit's law.
pub fn simulate_hayou(
    prog: &DepthProgram,
    eq: Option<&HayouEquation>,
    opts: &DepthSweepOptions,
) -> Result<HayouSweep, DepthSimError> {
    let setup = hayou::Setup::new(prog, eq, false)?;
    run_hayou(&setup, opts)
}

/// Samples the type 2 limit df = −½ f dt + c(f) dB̃, c(f)² = gain·E φ(‖f‖g/√n)², by
/// Euler–Maruyama with step 1/(rL) from the network's law of f_0 (the same W_in draw as
/// [`simulate_hayou`] for the same seed), independently of any network: for comparing
/// laws. Records go in [`HayouRecord::limit`].
pub fn sample_type2_sde(
    prog: &DepthProgram,
    eq: &HayouEquation,
    opts: &DepthSweepOptions,
) -> Result<HayouSweep, DepthSimError> {
    let setup = hayou::Setup::new(prog, Some(eq), true)?;
    run_hayou(&setup, opts)
}

/// The cost [`simulate_hayou`] (or, with `sde`, [`sample_type2_sde`]) would plan with,
/// or why it would refuse.
pub fn estimate_hayou(
    prog: &DepthProgram,
    eq: Option<&HayouEquation>,
    sde: bool,
    opts: &DepthSweepOptions,
) -> Result<DepthCost, DepthSimError> {
    let setup = hayou::Setup::new(prog, eq, sde)?;
    Ok(hayou::plan(&setup, opts)?.cost)
}

/// The sweep behind [`simulate_hayou`] and [`sample_type2_sde`].
fn run_hayou(
    setup: &hayou::Setup<'_>,
    opts: &DepthSweepOptions,
) -> Result<HayouSweep, DepthSimError> {
    let plan = hayou::plan(setup, opts)?;
    let (widths, depths, seeds) = (&opts.widths, &opts.depths, &opts.seeds);
    let refine = opts.refine;
    let records = in_pool(opts.threads, || {
        run_cells(&plan.cell_operations, |c| {
            let s = c % seeds.len();
            let i = (c / seeds.len()) % depths.len();
            let w = c / (seeds.len() * depths.len());
            setup.cell(widths[w], depths[i], seeds[s], refine)
        })
    })?;
    Ok(HayouSweep {
        kind: setup.net.kind,
        source: setup.source(),
        widths: widths.clone(),
        depths: depths.clone(),
        seeds: seeds.clone(),
        refine,
        cost: plan.cost,
        records,
    })
}

/// The covariance path K_t, t = k/steps (k = 0…steps), of the McKean–Vlasov limit
/// dK/dt = rhs(K) from K_0 = `k0`, by RK4 with `steps` steps on [0, 1]. The right-hand
/// side is the caller's (e.g. −K + gain·S(K)); `steps = 0` returns `[k0]`.
pub fn solve_mv_covariance(
    k0: [[f64; 2]; 2],
    rhs: impl Fn(&[[f64; 2]; 2]) -> [[f64; 2]; 2],
    steps: usize,
) -> Vec<[[f64; 2]; 2]> {
    let unflat = |x: &[f64]| [[x[0], x[1]], [x[2], x[3]]];
    let mut f = |_t: f64, x: &[f64], out: &mut [f64]| {
        let r = rhs(&unflat(x));
        out.copy_from_slice(&[r[0][0], r[0][1], r[1][0], r[1][1]]);
    };
    let mut x = [k0[0][0], k0[0][1], k0[1][0], k0[1][1]];
    let mut path = Vec::with_capacity(steps + 1);
    path.push(k0);
    let mut ws = Rk4::new(4);
    let h = 1.0 / steps.max(1) as f64;
    for k in 0..steps {
        // The dimensions match by construction, so a step cannot be refused.
        if ws.step(&mut f, k as f64 * h, h, &mut x).is_err() {
            break;
        }
        path.push(unflat(&x));
    }
    path
}

/// What planning a sweep found: the cost and each cell's work (for scheduling).
struct Plan {
    cost: DepthCost,
    cell_operations: Vec<u64>,
}

/// Checks the shared parts of a request and the budget. `cell_operations[c]` and
/// `cell_bytes` are per cell; `shared` = (operations, bytes) computed once per sweep.
fn finish_plan(
    opts: &DepthSweepOptions,
    cell_operations: Vec<u64>,
    cell_bytes: u64,
    record_bytes: u64,
    shared: (u64, u64),
) -> Result<Plan, DepthSimError> {
    let cells = cell_operations.len();
    let concurrent = opts
        .threads
        .unwrap_or_else(rayon::current_num_threads)
        .min(cells)
        .max(1);
    let bytes = cell_bytes
        .saturating_mul(concurrent as u64)
        .saturating_add(record_bytes.saturating_mul(cells as u64))
        .saturating_add(shared.1);
    let operations = cell_operations
        .iter()
        .fold(shared.0, |acc, &o| acc.saturating_add(o));
    if bytes > opts.budget.max_bytes {
        return Err(DepthSimError::TooLarge {
            needed_bytes: bytes,
            limit_bytes: opts.budget.max_bytes,
        });
    }
    if operations > opts.budget.max_operations {
        return Err(DepthSimError::TooSlow {
            operations,
            limit: opts.budget.max_operations,
        });
    }
    Ok(Plan {
        cost: DepthCost {
            cells,
            concurrent,
            bytes,
            operations,
        },
        cell_operations,
    })
}

/// Refuses zero, repeated or (for `refine`, `threads`) zero sizes.
fn check_sizes(opts: &DepthSweepOptions, widths: bool) -> Result<(), DepthSimError> {
    let mut lists = vec![("depth", &opts.depths)];
    if widths {
        if opts.widths.is_empty() {
            return Err(DepthSimError::NoWidths);
        }
        lists.push(("width", &opts.widths));
    }
    for (what, list) in lists {
        for (k, &size) in list.iter().enumerate() {
            if size == 0 {
                return Err(DepthSimError::ZeroSize { what });
            }
            if list[..k].contains(&size) {
                return Err(DepthSimError::RepeatedSize { what, size });
            }
        }
    }
    if opts.refine == 0 {
        return Err(DepthSimError::ZeroSize { what: "refine" });
    }
    if opts.threads == Some(0) {
        return Err(DepthSimError::ZeroSize { what: "threads" });
    }
    Ok(())
}

/// Runs `work` on a local pool of `threads` threads, or on the current pool.
fn in_pool<R: Send>(
    threads: Option<usize>,
    work: impl FnOnce() -> R + Send,
) -> Result<R, DepthSimError> {
    match threads {
        None => Ok(work()),
        Some(t) => rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map(|pool| pool.install(work))
            .map_err(|e| DepthSimError::ThreadPool {
                threads: t,
                detail: e.to_string(),
            }),
    }
}

/// Runs `job(c)` for every cell c in parallel and returns the results in cell order.
/// The most expensive cells start first, so the threads finish together.
fn run_cells<R: Send>(operations: &[u64], job: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let mut order: Vec<usize> = (0..operations.len()).collect();
    order.sort_by_key(|&c| (std::cmp::Reverse(operations[c]), c));
    // One cell per task: cells are long, and fine-grained stealing balances the load.
    let finished: Vec<(usize, R)> = order
        .par_iter()
        .with_max_len(1)
        .map(|&c| (c, job(c)))
        .collect();
    let mut slots: Vec<Option<R>> = (0..operations.len()).map(|_| None).collect();
    for (c, r) in finished {
        slots[c] = Some(r);
    }
    // Every index of `order` was run once, so every slot is filled.
    slots.into_iter().flatten().collect()
}

/// The numeric value of exponent `what`, or a typed error naming its free symbols.
fn exponent_value(what: &'static str, e: &Exponent) -> Result<f64, DepthSimError> {
    if !e.terms().is_empty() {
        return Err(DepthSimError::SymbolicExponent {
            what,
            exponent: e.to_string(),
            symbols: e.terms().keys().cloned().collect(),
        });
    }
    e.to_f64()
        .filter(|v| v.is_finite())
        .ok_or_else(|| DepthSimError::ExponentOutOfRange {
            what,
            exponent: e.to_string(),
        })
}

/// Whether an exponent is exactly the rational 1/2.
fn is_one_half(e: &Exponent) -> bool {
    e.as_constant()
        .is_some_and(|q| *q == Rational::new(1.into(), 2.into()))
}

/// Refuses an activation the program does not have, or one whose derivatives up to
/// `order` were not prepared (they would evaluate to NaN).
fn check_activation(prog: &DepthProgram, act: ActId, order: usize) -> Result<(), DepthSimError> {
    let a = prog
        .activations
        .get(act.0)
        .ok_or(DepthSimError::UnknownActivation {
            index: act.0,
            count: prog.activations.len(),
        })?;
    if a.derivatives.len() <= order {
        return Err(DepthSimError::MissingDerivative {
            name: a.name.clone(),
            order,
        });
    }
    Ok(())
}

/// Refuses a non-finite number of the network.
fn check_finite(what: &str, value: f64) -> Result<(), DepthSimError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(DepthSimError::NotFinite {
            what: what.to_string(),
            value: value.to_string(),
        })
    }
}

/// The family's name, for [`DepthSimError::WrongFamily`].
fn family(net: &Resnet) -> &'static str {
    match net {
        Resnet::Crx(_) => "Cont–Rossier–Xu",
        Resnet::Hayou(_) => "Hayou/Zheng",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mv_covariance_matches_the_closed_form_of_a_constant_diffusion() {
        // dK/dt = −K + D: K_t = e^{−t} K_0 + (1 − e^{−t}) D.
        let k0 = [[2.0, 0.0], [0.0, 1.0]];
        let d = [[1.0, 1.0], [1.0, 1.0]];
        let path = solve_mv_covariance(
            k0,
            |k| {
                let mut r = [[0.0; 2]; 2];
                for i in 0..2 {
                    for j in 0..2 {
                        r[i][j] = d[i][j] - k[i][j];
                    }
                }
                r
            },
            50,
        );
        assert_eq!(path.len(), 51);
        for (k, m) in path.iter().enumerate() {
            let e = (-(k as f64) / 50.0).exp();
            for i in 0..2 {
                for j in 0..2 {
                    let exact = e * k0[i][j] + (1.0 - e) * d[i][j];
                    assert!(
                        (m[i][j] - exact).abs() < 1e-9,
                        "t={} {m:?}",
                        k as f64 / 50.0
                    );
                }
            }
        }
        assert_eq!(solve_mv_covariance(k0, |k| *k, 0), vec![k0]);
    }

    #[test]
    fn divergence_distinguishes_overflow_from_nan() {
        assert_eq!(divergence(&[1.0, -2.0]), None);
        assert_eq!(divergence(&[1e151]), Some(Divergence::TooLarge));
        assert_eq!(divergence(&[1e200, 1.0]), Some(Divergence::TooLarge));
        assert_eq!(divergence(&[f64::NAN, 1.0]), Some(Divergence::NotFinite));
        assert_eq!(divergence(&[f64::INFINITY]), Some(Divergence::NotFinite));
    }

    #[test]
    fn cells_come_back_in_cell_order() {
        let ops = [5, 1, 9, 3];
        assert_eq!(run_cells(&ops, |c| c * 10), vec![0, 10, 20, 30]);
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
    }
}
