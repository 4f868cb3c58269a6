//! The N → ∞ limit of mean-field SGD in the time t (De Bortoli, Durmus, Fontaine &
//! Şimşekli 2020), solved numerically with honest error estimates.
//!
//! - β < 1: the McKean–Vlasov ODE dW* = (t+1)^{-α} h(W*, λ_t) dt. There is no noise, so
//!   λ_t is the push-forward of μ₀ by the flow: a weighted quadrature of μ₀ moved by the
//!   ODE represents λ_t exactly up to the quadrature error. RK4 integrates it; the error
//!   is estimated by step doubling (h against h/2) and by halving the quadrature levels
//!   of π and μ₀. Quantiles of λ_T come from test particles ("tracers") sampled from μ₀
//!   and moved by the same field (replayed from the loss slopes the quadrature produced
//!   at every RK4 stage), with a distribution-free standard error.
//! - β = 1: the McKean–Vlasov SDE dW* = (t+1)^{-α}{h dt + (τ Σ)^{1/2} dB}, τ = γ^{1/(1−α)}/M,
//!   solved by `replicates` independent systems of N particles under Euler–Maruyama.
//!   Each replicate runs, on the same initial points and Brownian increments, the system
//!   at step h/2 (the reported value), at step h (increments summed in pairs: the step
//!   bias) and as two halves of N/2 particles at step h (the particle-count bias).
//!   Coupling the three makes the two bias estimates nearly free of sampling noise.
//!
//! Every evaluation of the fields is split into fixed chunks of points evaluated in
//! parallel and summed in chunk order, so results are bit-identical at any thread count.

use super::field::{loss_value, sample_init, Field, FieldValues};
use super::model::{InitLaw, MeanFieldProgram};
use super::quadrature::{data_nodes, init_nodes, Nodes, Particles};
use crate::solve::gram::{path_rng, psd_cholesky};
use crate::solve::Rk4;
use num_traits::ToPrimitive;
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde::Serialize;

/// How to solve the limit.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitOptions {
    /// The step-decay exponent α ∈ [0, 1).
    pub alpha: f64,
    /// Whether the limit is the McKean–Vlasov SDE (β = 1) rather than the ODE (β < 1).
    pub sde: bool,
    /// The noise temperature τ = γ^{1/(1−α)}/M multiplying Σ (used when `sde`).
    pub temperature: f64,
    /// The horizon T.
    pub horizon: f64,
    /// Statistics are recorded at t_j = j T / record, j = 0 … record.
    pub record: usize,
    /// The level of the quadrature of π (nodes per input coordinate).
    pub data_level: usize,
    /// The level of the quadrature of μ₀ (nodes per coordinate; ODE only).
    pub init_level: usize,
    /// The number N of particles per SDE system, and of tracers for the ODE's quantiles.
    pub particles: usize,
    /// The number of independent SDE replicates (standard errors come from them).
    pub replicates: usize,
    /// The coarse time step h (values are reported at h/2); 0 chooses it: for the ODE,
    /// halved from min(T/record, 1/4) until the step-doubling estimate is below
    /// `tolerance`, for the SDE 1/20.
    pub step: f64,
    /// The seed of every random stream (SDE particles and increments, ODE tracers).
    pub seed: u64,
    /// The ODE's target: the step is halved while |x_h − x_{h/2}| > tolerance · max(1, |x|)
    /// for some recorded value x (at most 10 halvings). Unused by the SDE.
    pub tolerance: f64,
}

impl LimitOptions {
    /// The options the program asks for: α, β (ODE for β < 1, SDE for β = 1), the
    /// temperature γ^{1/(1−α)}/M and the horizon from the program, and the defaults (20
    /// record times, quadrature levels 24, 2048 particles, 8 replicates, automatic step,
    /// seed 0, tolerance 1e-6). Fails when α or β is still symbolic.
    ///
    /// N = 2048 (not 4096) keeps the default SDE solve near 3.5 s of CPU for the toy at
    /// T = 6 (five N-particle field evaluations per coarse step: the fine system twice,
    /// the coarse one, the two halves); raise it for smaller standard errors.
    pub fn for_program(prog: &MeanFieldProgram) -> Result<LimitOptions, LimitError> {
        let symbolic = |what: &str| LimitError::Symbolic { what: what.into() };
        let alpha = prog.alpha.to_f64().ok_or_else(|| symbolic("alpha"))?;
        let beta = prog.beta.to_f64().ok_or_else(|| symbolic("beta"))?;
        let gamma = prog.gamma.to_f64().unwrap_or(f64::NAN);
        let horizon = prog.horizon.to_f64().unwrap_or(f64::NAN);
        let temperature = gamma.powf(1.0 / (1.0 - alpha)) / prog.batch.max(1) as f64;
        Ok(LimitOptions {
            alpha,
            sde: beta >= 1.0,
            temperature,
            horizon,
            record: 20,
            data_level: 24,
            init_level: 24,
            particles: 2048,
            replicates: 8,
            step: 0.0,
            seed: 0,
            tolerance: 1e-6,
        })
    }
}

/// A value with its errors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Estimate {
    /// The estimate.
    pub value: f64,
    /// Its standard error (0 for a deterministic value).
    pub se: f64,
    /// An estimate of its systematic error (discretization, quadrature, particle count).
    pub bias: f64,
}

/// The solved limit, recorded at `times`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LimitSolution {
    /// The record times t_j = j T / record.
    pub times: Vec<f64>,
    /// The risk E_π ℓ(λ_t\[F(·,x)\], y) + λ_t\[V\] at each record time.
    pub risk: Vec<Estimate>,
    /// Per record time, per coordinate, the mean of λ_t.
    pub mean: Vec<Vec<Estimate>>,
    /// Per record time, per coordinate, the variance of λ_t.
    pub spread: Vec<Vec<Estimate>>,
    /// Quantiles of coordinate 1 of λ_T: (probability, quantile).
    pub quantiles_t: Vec<(f64, Estimate)>,
    /// SDE: coordinate 1 of every particle at T, replicates concatenated (a sample of
    /// λ_T up to the O(1/N) dependence within a replicate); empty for the ODE.
    pub samples_t: Vec<f64>,
    /// How the values were obtained, in words.
    pub method: String,
    /// The step actually used for the reported values (h/2).
    pub step: f64,
    /// The largest step-error estimate over all values.
    pub step_error: f64,
    /// The largest quadrature-error estimate (ODE: levels against half levels; SDE: the
    /// risk under the half-level quadrature of π).
    pub quadrature_error: f64,
    /// The largest particle-count bias estimate (SDE: N against N/2; 0 for the ODE).
    pub particle_error: f64,
}

/// Why the limit could not be solved.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LimitError {
    /// α or β is symbolic: the limit needs numbers.
    #[error("the limit needs a numeric {what}; give it a value (e.g. `--set {what}=1/2`)")]
    Symbolic {
        /// Which exponent.
        what: String,
    },
    /// An option is out of range.
    #[error("bad limit option `{name}`: {detail}")]
    BadOption {
        /// The option.
        name: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// μ₀ has no quadrature here (a sphere in more than 3 dimensions).
    #[error("the ODE limit needs a quadrature of the initial law, which a sphere in {dim} dimensions does not have here; use a Gaussian initial law or p ≤ 3")]
    NoQuadrature {
        /// The dimension p.
        dim: usize,
    },
    /// The solution stopped being finite (a blow-up of the limit or too large a step).
    #[error("the limit stopped being finite at t = {time} (a blow-up, or too large a step: try a smaller `step`)")]
    NonFinite {
        /// The time of the last finite state.
        time: f64,
    },
}

/// Points per chunk of a parallel field evaluation. Fixed (not derived from the thread
/// count) so that the sums, taken in chunk order, do not depend on the thread count.
const CHUNK: usize = 256;

/// The probabilities of the reported quantiles.
const QUANTILES: [f64; 7] = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95];

/// Stream tags of [`path_rng`] (distinct per use, so no two streams coincide).
const TAG_INIT: u64 = 0x4d46_494e_4954;
const TAG_NOISE: u64 = 0x4d46_4e4f_4953;
const TAG_TRACER: u64 = 0x4d46_5452_4143;

/// At most this many steps per solve (a guard against a step of 1e-12).
const MAX_STEPS: usize = 2_000_000;

/// Solves the limit of `prog` as `opts` asks (see the module documentation).
pub fn solve_limit(
    prog: &MeanFieldProgram,
    opts: &LimitOptions,
) -> Result<LimitSolution, LimitError> {
    validate(opts)?;
    let field = Field::new(prog);
    if opts.sde {
        solve_sde(prog, &field, opts)
    } else {
        solve_ode(prog, &field, opts)
    }
}

fn bad(name: &'static str, detail: impl Into<String>) -> LimitError {
    LimitError::BadOption {
        name,
        detail: detail.into(),
    }
}

fn validate(opts: &LimitOptions) -> Result<(), LimitError> {
    if !(0.0..1.0).contains(&opts.alpha) {
        return Err(bad("alpha", format!("{} is not in [0, 1)", opts.alpha)));
    }
    if !(opts.horizon.is_finite() && opts.horizon > 0.0) {
        return Err(bad(
            "horizon",
            format!("{} is not a positive number", opts.horizon),
        ));
    }
    if opts.record == 0 {
        return Err(bad("record", "at least one record interval is needed"));
    }
    if opts.data_level < 2 || opts.init_level < 2 {
        return Err(bad(
            "data_level/init_level",
            "quadrature levels must be ≥ 2",
        ));
    }
    if !(opts.step.is_finite() && opts.step >= 0.0) {
        return Err(bad(
            "step",
            format!("{} is not ≥ 0 (0 = automatic)", opts.step),
        ));
    }
    if !(opts.tolerance.is_finite() && opts.tolerance > 0.0) {
        return Err(bad(
            "tolerance",
            format!("{} is not positive", opts.tolerance),
        ));
    }
    if opts.sde {
        if !(opts.temperature.is_finite() && opts.temperature >= 0.0) {
            return Err(bad(
                "temperature",
                format!("{} is not ≥ 0", opts.temperature),
            ));
        }
        if opts.particles < 4 {
            return Err(bad(
                "particles",
                "the SDE needs at least 4 particles (N/2 ≥ 2)",
            ));
        }
        if opts.replicates < 2 {
            return Err(bad(
                "replicates",
                "standard errors need at least 2 replicates",
            ));
        }
    }
    Ok(())
}

/// The time grid: `record` intervals of `per` steps of length `h`.
#[derive(Clone, Copy, Debug)]
struct Grid {
    record: usize,
    per: usize,
    h: f64,
}

impl Grid {
    /// The grid whose step is the largest ≤ `step` that divides T / record.
    fn new(opts: &LimitOptions, step: f64) -> Result<Grid, LimitError> {
        let interval = opts.horizon / opts.record as f64;
        let per = (interval / step * (1.0 - 1e-12)).ceil().max(1.0);
        if per.is_nan() || per * opts.record as f64 > MAX_STEPS as f64 {
            return Err(bad(
                "step",
                format!("{step} needs more than {MAX_STEPS} steps on [0, T]"),
            ));
        }
        let per = per as usize;
        Ok(Grid {
            record: opts.record,
            per,
            h: interval / per as f64,
        })
    }

    /// The same grid with half the step.
    fn halved(self) -> Grid {
        Grid {
            per: 2 * self.per,
            h: self.h / 2.0,
            ..self
        }
    }

    fn time(&self, step: usize) -> f64 {
        step as f64 * self.h
    }
}

/// The time change (t + 1)^{-α} of a decaying step.
fn decay(alpha: f64, t: f64) -> f64 {
    if alpha == 0.0 {
        1.0
    } else {
        (t + 1.0).powf(-alpha)
    }
}

// ---------------------------------------------------------------------------------------
// Chunked parallel field evaluations.

/// The points `range` of the columns `w` with explicit weights (the field's own
/// `None` = 1/len would be wrong for a chunk).
fn chunk(w: &[Vec<f64>], weight: &[f64], lo: usize, hi: usize) -> Particles {
    Particles {
        w: w.iter().map(|col| col[lo..hi].to_vec()).collect(),
        weight: Some(weight[lo..hi].to_vec()),
    }
}

fn chunk_starts(len: usize) -> Vec<usize> {
    (0..len).step_by(CHUNK).collect()
}

/// μ[F(·, x_q)] for the weighted points (w, weight): per-chunk weighted sums added in
/// chunk order.
fn predictions(field: &Field, w: &[Vec<f64>], weight: &[f64], nodes: &Nodes) -> Vec<f64> {
    let len = weight.len();
    let parts: Vec<Vec<f64>> = chunk_starts(len)
        .into_par_iter()
        .map(|lo| {
            let hi = (lo + CHUNK).min(len);
            field.predictions(&chunk(w, weight, lo, hi), nodes)
        })
        .collect();
    let mut out = vec![0.0; nodes.len()];
    for part in parts {
        for (o, v) in out.iter_mut().zip(part) {
            *o += v;
        }
    }
    out
}

/// h (and Σ) at the points w, chunk by chunk.
fn drift(field: &Field, w: &[Vec<f64>], slopes: &[f64], nodes: &Nodes, cov: bool) -> FieldValues {
    let len = w.first().map_or(0, Vec::len);
    // The drift is pointwise: the chunk's weights are not read.
    let unused = vec![0.0; len];
    let parts: Vec<FieldValues> = chunk_starts(len)
        .into_par_iter()
        .map(|lo| {
            let hi = (lo + CHUNK).min(len);
            field.drift(&chunk(w, &unused, lo, hi), slopes, nodes, cov)
        })
        .collect();
    let mut out = FieldValues {
        drift: vec![Vec::with_capacity(len); w.len()],
        cov: Vec::new(),
    };
    for part in parts {
        for (col, c) in out.drift.iter_mut().zip(part.drift) {
            col.extend(c);
        }
        out.cov.extend(part.cov);
    }
    out
}

/// The risk Σ_q ω_q ℓ(μ[F(·,x_q)], y_q) + μ[V] of the weighted points.
fn risk(
    prog: &MeanFieldProgram,
    field: &Field,
    w: &[Vec<f64>],
    weight: &[f64],
    nodes: &Nodes,
) -> f64 {
    let pred = predictions(field, w, weight, nodes);
    let data: f64 = pred
        .iter()
        .zip(&nodes.y)
        .zip(&nodes.weight)
        .map(|((f, y), o)| o * loss_value(prog.loss, f - y))
        .sum();
    // μ[V] through the field's risk with no data nodes, chunk by chunk.
    let empty = Nodes {
        x: vec![Vec::new(); prog.x_dim],
        y: Vec::new(),
        weight: Vec::new(),
    };
    let len = weight.len();
    let parts: Vec<f64> = chunk_starts(len)
        .into_par_iter()
        .map(|lo| {
            let hi = (lo + CHUNK).min(len);
            field.risk(&chunk(w, weight, lo, hi), &empty)
        })
        .collect();
    data + parts.iter().sum::<f64>()
}

/// Weighted mean and variance of one column (weights summing to 1).
fn moments(col: &[f64], weight: &[f64]) -> (f64, f64) {
    let m: f64 = col.iter().zip(weight).map(|(x, o)| x * o).sum();
    let v: f64 = col
        .iter()
        .zip(weight)
        .map(|(x, o)| o * (x - m) * (x - m))
        .sum();
    (m, v)
}

/// The empirical quantile at probability u (linear interpolation between order
/// statistics) and its distribution-free standard error: half the distance between the
/// order statistics at u ± √(u(1−u)/n), the binomial standard deviation of the count
/// below the quantile.
fn quantile_with_se(sorted: &[f64], u: f64) -> (f64, f64) {
    let n = sorted.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let at = |p: f64| {
        let pos = (p.clamp(0.0, 1.0) * (n - 1) as f64).max(0.0);
        let i = (pos.floor() as usize).min(n - 1);
        let j = (i + 1).min(n - 1);
        let f = pos - i as f64;
        sorted[i] * (1.0 - f) + sorted[j] * f
    };
    let s = (u * (1.0 - u) / n as f64).sqrt();
    (at(u), 0.5 * (at(u + s) - at(u - s)).abs())
}

/// Recorded statistics of one solve (per record time j = 0 … record).
#[derive(Clone, Debug, Default)]
struct Stats {
    risk: Vec<f64>,
    /// mean[j][i].
    mean: Vec<Vec<f64>>,
    spread: Vec<Vec<f64>>,
    /// Quantiles of coordinate 1 at T (QUANTILES order).
    quantiles: Vec<f64>,
}

impl Stats {
    fn push(&mut self, risk: f64, w: &[Vec<f64>], weight: &[f64]) {
        let (m, v): (Vec<f64>, Vec<f64>) = w.iter().map(|c| moments(c, weight)).unzip();
        self.risk.push(risk);
        self.mean.push(m);
        self.spread.push(v);
    }

    /// Every recorded number, in a fixed order (risk, means, spreads, quantiles).
    fn flat(&self) -> Vec<f64> {
        let mut out = self.risk.clone();
        out.extend(self.mean.iter().flatten());
        out.extend(self.spread.iter().flatten());
        out.extend(&self.quantiles);
        out
    }
}

fn all_finite(w: &[Vec<f64>]) -> bool {
    w.iter().flatten().all(|x| x.is_finite())
}

fn format_step(h: f64) -> String {
    let inv = 1.0 / h;
    if (inv - inv.round()).abs() < 1e-9 * inv {
        format!("1/{}", inv.round())
    } else {
        format!("{h:.4e}")
    }
}

// ---------------------------------------------------------------------------------------
// The ODE (β < 1).

/// One RK4 solve of the quadrature's flow, with the loss slopes of every RK4 stage
/// (4 per step, in order) kept for replaying tracers.
struct OdeRun {
    stats: Stats,
    slopes: Vec<Vec<f64>>,
}

/// Columns from a flat state laid out coordinate-major (x[i·K + k]).
fn unflatten(x: &[f64], p: usize, k: usize) -> Vec<Vec<f64>> {
    (0..p).map(|i| x[i * k..(i + 1) * k].to_vec()).collect()
}

fn ode_run(
    prog: &MeanFieldProgram,
    field: &Field,
    init: &Particles,
    nodes: &Nodes,
    grid: Grid,
    alpha: f64,
) -> Result<OdeRun, LimitError> {
    let p = prog.dim;
    let k = init.len();
    let weight: Vec<f64> = (0..k).map(|i| init.weight_of(i)).collect();
    let mut x: Vec<f64> = init.w.iter().flatten().copied().collect();
    let mut slopes = Vec::with_capacity(4 * grid.record * grid.per);
    let mut rhs = |t: f64, state: &[f64], out: &mut [f64]| {
        let w = unflatten(state, p, k);
        let s = field.loss_slopes(&predictions(field, &w, &weight, nodes), nodes);
        let values = drift(field, &w, &s, nodes, false);
        slopes.push(s);
        let c = decay(alpha, t);
        for (i, col) in values.drift.iter().enumerate() {
            for (o, v) in out[i * k..(i + 1) * k].iter_mut().zip(col) {
                *o = c * v;
            }
        }
    };
    let mut rk = Rk4::new(x.len());
    let mut stats = Stats::default();
    let record_at = |stats: &mut Stats, x: &[f64]| {
        let w = unflatten(x, p, k);
        stats.push(risk(prog, field, &w, &weight, nodes), &w, &weight);
    };
    record_at(&mut stats, &x);
    for j in 0..grid.record {
        for s in 0..grid.per {
            let step = j * grid.per + s;
            // The dimension always matches (the workspace was made for x).
            let _ = rk.step(&mut rhs, grid.time(step), grid.h, &mut x);
            if !x.iter().all(|v| v.is_finite()) {
                return Err(LimitError::NonFinite {
                    time: grid.time(step),
                });
            }
        }
        record_at(&mut stats, &x);
    }
    Ok(OdeRun { stats, slopes })
}

/// Coordinate 1 at T of the tracers moved by the field whose loss slopes `run` stored
/// (the same RK4 stages as the run, so the tracers move exactly as quadrature points
/// would), sorted.
fn replay_tracers(
    field: &Field,
    tracers: &[Vec<f64>],
    slopes: &[Vec<f64>],
    nodes: &Nodes,
    grid: Grid,
    alpha: f64,
) -> Result<Vec<f64>, LimitError> {
    let p = tracers.len();
    let len = tracers.first().map_or(0, Vec::len);
    let parts: Vec<Result<Vec<f64>, LimitError>> = chunk_starts(len)
        .into_par_iter()
        .map(|lo| {
            let hi = (lo + CHUNK).min(len);
            let k = hi - lo;
            let mut x: Vec<f64> = tracers.iter().flat_map(|c| c[lo..hi].to_vec()).collect();
            let mut stage = 0usize;
            let mut rhs = |t: f64, state: &[f64], out: &mut [f64]| {
                let w = Particles {
                    w: unflatten(state, p, k),
                    weight: None,
                };
                let values = field.drift(&w, &slopes[stage], nodes, false);
                stage += 1;
                let c = decay(alpha, t);
                for (i, col) in values.drift.iter().enumerate() {
                    for (o, v) in out[i * k..(i + 1) * k].iter_mut().zip(col) {
                        *o = c * v;
                    }
                }
            };
            let mut rk = Rk4::new(x.len());
            for step in 0..grid.record * grid.per {
                let _ = rk.step(&mut rhs, grid.time(step), grid.h, &mut x);
                if !x.iter().all(|v| v.is_finite()) {
                    return Err(LimitError::NonFinite {
                        time: grid.time(step),
                    });
                }
            }
            Ok(x[..k].to_vec())
        })
        .collect();
    let mut out = Vec::with_capacity(len);
    for part in parts {
        out.extend(part?);
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

/// At most this many tracers carry the ODE's quantiles in p ≥ 2 dimensions (each costs
/// as much as a quadrature point; 1024 give quantiles to about 0.03 standard deviations).
const MAX_TRACERS: usize = 1024;

/// The tracers for the ODE's quantiles of coordinate 1, and whether they are exact. In
/// one dimension a flow preserves order, so the quantile u of λ_T is the image of μ₀'s
/// quantile u: one tracer per reported quantile, exact. Otherwise min(N, 1024) points
/// sampled from μ₀ (a sample quantile with its standard error).
fn tracer_points(prog: &MeanFieldProgram, opts: &LimitOptions) -> (Vec<Vec<f64>>, bool) {
    let p = prog.dim;
    if p == 1 {
        let start = |u: f64| match &prog.init {
            InitLaw::Gaussian { mean, std } => mean[0] + std * normal_quantile(u),
            InitLaw::Point(at) => at[0],
            // A sphere in one dimension is not a law the model builds; its two points
            // ±r are the quantiles of the uniform law on them.
            InitLaw::Sphere { radius } => {
                if u < 0.5 {
                    -radius
                } else {
                    *radius
                }
            }
        };
        return (vec![QUANTILES.iter().map(|&u| start(u)).collect()], true);
    }
    let mut rng = path_rng(opts.seed, 0, TAG_TRACER);
    let count = opts.particles.clamp(2, MAX_TRACERS);
    let mut tracers = vec![Vec::with_capacity(count); p];
    for _ in 0..count {
        for (col, v) in tracers.iter_mut().zip(sample_init(&prog.init, p, &mut rng)) {
            col.push(v);
        }
    }
    (tracers, false)
}

/// The standard normal quantile, by bisection on Φ (to the last bit; only a few are
/// needed).
fn normal_quantile(u: f64) -> f64 {
    let cdf = |x: f64| 0.5 * (1.0 + crate::ir::erf(x / std::f64::consts::SQRT_2));
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid) < u {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

fn solve_ode(
    prog: &MeanFieldProgram,
    field: &Field,
    opts: &LimitOptions,
) -> Result<LimitSolution, LimitError> {
    let p = prog.dim;
    let quadrature =
        |level: usize| init_nodes(&prog.init, p, level).ok_or(LimitError::NoQuadrature { dim: p });
    let init = quadrature(opts.init_level)?;
    let init_half = quadrature((opts.init_level / 2).max(2))?;
    let nodes = data_nodes(prog, opts.data_level);
    let nodes_half = data_nodes(prog, (opts.data_level / 2).max(2));
    let automatic = opts.step == 0.0;
    let start = if automatic {
        (opts.horizon / opts.record as f64).min(0.25)
    } else {
        opts.step
    };
    let mut coarse_grid = Grid::new(opts, start)?;
    let mut coarse = ode_run(prog, field, &init, &nodes, coarse_grid, opts.alpha)?;
    let mut halvings = 0;
    let fine = loop {
        let fine = ode_run(prog, field, &init, &nodes, coarse_grid.halved(), opts.alpha)?;
        let worst = coarse
            .stats
            .flat()
            .iter()
            .zip(fine.stats.flat())
            .map(|(c, f)| (c - f).abs() / f.abs().max(1.0))
            .fold(0.0, f64::max);
        if !automatic || worst <= opts.tolerance || halvings >= 10 {
            break fine;
        }
        halvings += 1;
        coarse = fine;
        coarse_grid = coarse_grid.halved();
    };
    let fine_grid = coarse_grid.halved();
    // The quadrature error: both levels halved, at the coarse step (so that the step
    // error cancels in the difference).
    let half = ode_run(
        prog,
        field,
        &init_half,
        &nodes_half,
        coarse_grid,
        opts.alpha,
    )?;

    // Tracers for the quantiles of coordinate 1 (the quadrature's weighted points are
    // too few for quantiles), replayed through the three solves.
    let (tracers, exact_quantiles) = tracer_points(prog, opts);
    let count = tracers.first().map_or(0, Vec::len);
    let t_fine = replay_tracers(field, &tracers, &fine.slopes, &nodes, fine_grid, opts.alpha)?;
    let t_coarse = replay_tracers(
        field,
        &tracers,
        &coarse.slopes,
        &nodes,
        coarse_grid,
        opts.alpha,
    )?;
    let t_half = replay_tracers(
        field,
        &tracers,
        &half.slopes,
        &nodes_half,
        coarse_grid,
        opts.alpha,
    )?;

    let mut step_error = 0.0f64;
    let mut quadrature_error = 0.0f64;
    let mut estimate = |f: f64, c: f64, hf: f64, se: f64| {
        // The full difference of the two steps (not /15) and of the two levels (an
        // estimate of the coarser level's error) are kept, to stay conservative.
        let step = (f - c).abs();
        let quad = (c - hf).abs();
        step_error = step_error.max(step);
        quadrature_error = quadrature_error.max(quad);
        Estimate {
            value: f,
            se,
            bias: step + quad,
        }
    };
    let (f, c, hf) = (&fine.stats, &coarse.stats, &half.stats);
    let risk: Vec<Estimate> = (0..=opts.record)
        .map(|j| estimate(f.risk[j], c.risk[j], hf.risk[j], 0.0))
        .collect();
    let per_coord = |a: &Vec<Vec<f64>>,
                     b: &Vec<Vec<f64>>,
                     d: &Vec<Vec<f64>>,
                     est: &mut dyn FnMut(f64, f64, f64, f64) -> Estimate| {
        (0..=opts.record)
            .map(|j| {
                (0..p)
                    .map(|i| est(a[j][i], b[j][i], d[j][i], 0.0))
                    .collect()
            })
            .collect::<Vec<Vec<Estimate>>>()
    };
    let mean = per_coord(&f.mean, &c.mean, &hf.mean, &mut estimate);
    let spread = per_coord(&f.spread, &c.spread, &hf.spread, &mut estimate);
    let quantiles_t = QUANTILES
        .iter()
        .map(|&u| {
            let (qf, se, qc, qh) = if exact_quantiles {
                // Tracer i started at μ₀'s quantile QUANTILES[i]; sorting kept the order.
                let i = QUANTILES.iter().position(|&v| v == u).unwrap_or(0);
                (t_fine[i], 0.0, t_coarse[i], t_half[i])
            } else {
                let (qf, se) = quantile_with_se(&t_fine, u);
                (
                    qf,
                    se,
                    quantile_with_se(&t_coarse, u).0,
                    quantile_with_se(&t_half, u).0,
                )
            };
            (u, estimate(qf, qc, qh, se))
        })
        .collect();
    let init_kind = match prog.init {
        InitLaw::Gaussian { .. } => "Gauss–Hermite",
        InitLaw::Sphere { .. } => "product",
        InitLaw::Point(_) => "one-point",
    };
    let method = format!(
        "RK4 on a {}-node {init_kind} quadrature of mu0, step {} (error: against step {}{}); data: {}-node quadrature (error: quadratures of levels {}/{} against {}/{}); quantiles: {}",
        init.len(),
        format_step(fine_grid.h),
        format_step(coarse_grid.h),
        if automatic { ", step halved to the tolerance" } else { "" },
        nodes.len(),
        opts.init_level,
        opts.data_level,
        (opts.init_level / 2).max(2),
        (opts.data_level / 2).max(2),
        if exact_quantiles {
            "the flow of mu0's quantiles (monotone in one dimension)".to_string()
        } else {
            format!("{count} tracers sampled from mu0")
        },
    );
    Ok(LimitSolution {
        times: (0..=opts.record)
            .map(|j| j as f64 * opts.horizon / opts.record as f64)
            .collect(),
        risk,
        mean,
        spread,
        quantiles_t,
        samples_t: Vec::new(),
        method,
        step: fine_grid.h,
        step_error,
        quadrature_error,
        particle_error: 0.0,
    })
}

// ---------------------------------------------------------------------------------------
// The SDE (β = 1).

/// N particles under Euler–Maruyama.
struct System {
    w: Vec<Vec<f64>>,
    weight: Vec<f64>,
}

impl System {
    fn new(w: Vec<Vec<f64>>) -> System {
        let n = w.first().map_or(0, Vec::len);
        System {
            w,
            weight: vec![1.0 / n as f64; n],
        }
    }

    /// One EM step of length dt from t with the Brownian increments `db` (p columns of
    /// this system's particles).
    fn step(
        &mut self,
        field: &Field,
        nodes: &Nodes,
        opts: &LimitOptions,
        t: f64,
        dt: f64,
        db: &[&[f64]],
    ) -> Result<(), LimitError> {
        let p = self.w.len();
        let n = self.weight.len();
        let slopes = field.loss_slopes(&predictions(field, &self.w, &self.weight, nodes), nodes);
        let noisy = opts.temperature > 0.0;
        let values = drift(field, &self.w, &slopes, nodes, noisy);
        let c = decay(opts.alpha, t);
        let root = opts.temperature.sqrt();
        let mut factor = vec![0.0; p * p];
        for k in 0..n {
            if noisy {
                let cov = &values.cov[k * p * p..(k + 1) * p * p];
                if p == 1 {
                    factor[0] = cov[0].max(0.0).sqrt();
                } else {
                    // Lengths match by construction; a non-PSD Σ (rounding) loses its
                    // negative directions, which is what the noise can realize.
                    let _ = psd_cholesky(cov, p, &mut factor);
                }
            }
            for i in 0..p {
                let mut noise = 0.0;
                if noisy {
                    for (j, col) in db.iter().enumerate() {
                        noise += factor[i * p + j] * col[k];
                    }
                }
                self.w[i][k] += c * (values.drift[i][k] * dt + root * noise);
            }
        }
        if all_finite(&self.w) {
            Ok(())
        } else {
            Err(LimitError::NonFinite { time: t })
        }
    }

    fn record(&self, prog: &MeanFieldProgram, field: &Field, nodes: &Nodes, stats: &mut Stats) {
        stats.push(
            risk(prog, field, &self.w, &self.weight, nodes),
            &self.w,
            &self.weight,
        );
        // The unbiased sample variance (the particles are a sample of λ_t).
        let n = self.weight.len() as f64;
        if let Some(last) = stats.spread.last_mut() {
            for v in last.iter_mut() {
                *v *= n / (n - 1.0);
            }
        }
    }

    fn quantiles(&self) -> Vec<f64> {
        let mut sorted = self.w[0].clone();
        sorted.sort_by(f64::total_cmp);
        QUANTILES
            .iter()
            .map(|&u| quantile_with_se(&sorted, u).0)
            .collect()
    }
}

/// One replicate: the fine system (step h/2), the coarse one (step h, increments summed
/// in pairs), the two halves (N/2 each, step h); their statistics as flat vectors, and
/// the largest |risk − risk at half the data level| of the fine system.
struct Replicate {
    fine: Vec<f64>,
    /// Coordinate 1 of the fine system's particles at T.
    samples: Vec<f64>,
    coarse: Vec<f64>,
    halves: Vec<f64>,
    quadrature: f64,
}

fn sde_replicate(
    prog: &MeanFieldProgram,
    field: &Field,
    nodes: &Nodes,
    nodes_half: &Nodes,
    opts: &LimitOptions,
    grid: Grid,
    index: usize,
) -> Result<Replicate, LimitError> {
    let p = prog.dim;
    let n = opts.particles;
    let half = n / 2;
    let mut rng = path_rng(opts.seed, index as u64, TAG_INIT);
    let mut w0 = vec![Vec::with_capacity(n); p];
    for _ in 0..n {
        for (col, v) in w0.iter_mut().zip(sample_init(&prog.init, p, &mut rng)) {
            col.push(v);
        }
    }
    // The fine system (step h/2), the coarse one (step h), the two halves (step h).
    let mut systems = [
        System::new(w0.clone()),
        System::new(w0.clone()),
        System::new(w0.iter().map(|c| c[..half].to_vec()).collect()),
        System::new(w0.iter().map(|c| c[half..].to_vec()).collect()),
    ];
    let mut stats: [Stats; 4] = Default::default();
    let mut noise = path_rng(opts.seed, index as u64, TAG_NOISE);
    let hf = grid.h / 2.0;
    let sd = hf.sqrt();
    let mut quadrature = 0.0f64;
    let mut record_all = |systems: &[System; 4], stats: &mut [Stats; 4]| {
        for (system, st) in systems.iter().zip(stats.iter_mut()) {
            system.record(prog, field, nodes, st);
        }
        // The data quadrature's error, measured on one replicate's fine system.
        if index == 0 {
            let fine = &systems[0];
            let r = risk(prog, field, &fine.w, &fine.weight, nodes_half);
            if let Some(last) = stats[0].risk.last() {
                quadrature = quadrature.max((last - r).abs());
            }
        }
    };
    record_all(&systems, &mut stats);
    let mut db1 = vec![vec![0.0; n]; p];
    let mut db2 = vec![vec![0.0; n]; p];
    let mut sum = vec![vec![0.0; n]; p];
    for j in 0..grid.record {
        for s in 0..grid.per {
            let t = grid.time(j * grid.per + s);
            for db in [&mut db1, &mut db2] {
                for col in db.iter_mut() {
                    for v in col.iter_mut() {
                        *v = sd * noise.sample::<f64, _>(StandardNormal);
                    }
                }
            }
            for i in 0..p {
                for k in 0..n {
                    sum[i][k] = db1[i][k] + db2[i][k];
                }
            }
            let [fine, coarse, lower, upper] = &mut systems;
            fine.step(field, nodes, opts, t, hf, &cols(&db1, 0, n))?;
            fine.step(field, nodes, opts, t + hf, hf, &cols(&db2, 0, n))?;
            coarse.step(field, nodes, opts, t, grid.h, &cols(&sum, 0, n))?;
            lower.step(field, nodes, opts, t, grid.h, &cols(&sum, 0, half))?;
            upper.step(field, nodes, opts, t, grid.h, &cols(&sum, half, n))?;
        }
        record_all(&systems, &mut stats);
    }
    for (system, st) in systems.iter().zip(stats.iter_mut()) {
        st.quantiles = system.quantiles();
    }
    let [sf, sc, sl, su] = stats;
    let halves = sl
        .flat()
        .iter()
        .zip(su.flat())
        .map(|(a, b)| 0.5 * (a + b))
        .collect();
    let samples = systems[0].w.first().cloned().unwrap_or_default();
    Ok(Replicate {
        fine: sf.flat(),
        samples,
        coarse: sc.flat(),
        halves,
        quadrature,
    })
}

/// The rows lo..hi of every column.
fn cols(m: &[Vec<f64>], lo: usize, hi: usize) -> Vec<&[f64]> {
    m.iter().map(|c| &c[lo..hi]).collect()
}

fn solve_sde(
    prog: &MeanFieldProgram,
    field: &Field,
    opts: &LimitOptions,
) -> Result<LimitSolution, LimitError> {
    let p = prog.dim;
    let nodes = data_nodes(prog, opts.data_level);
    let nodes_half = data_nodes(prog, (opts.data_level / 2).max(2));
    let step = if opts.step == 0.0 {
        1.0 / 20.0
    } else {
        opts.step
    };
    let grid = Grid::new(opts, step)?;
    let runs: Vec<Result<Replicate, LimitError>> = (0..opts.replicates)
        .into_par_iter()
        .map(|r| sde_replicate(prog, field, &nodes, &nodes_half, opts, grid, r))
        .collect();
    let runs: Vec<Replicate> = runs.into_iter().collect::<Result<_, _>>()?;
    let samples_t: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.samples.iter().copied())
        .collect();
    let count = runs[0].fine.len();
    let reps = runs.len() as f64;
    let mut step_error = 0.0f64;
    let mut particle_error = 0.0f64;
    let quadrature_error = runs[0].quadrature;
    // Per flat statistic: value and SE over replicates of the fine system; the step
    // bias the mean coarse − fine difference, the particle bias the mean halves − coarse
    // difference (both on shared randomness, so nearly noise-free).
    let flat: Vec<Estimate> = (0..count)
        .map(|s| {
            let mean = runs.iter().map(|r| r.fine[s]).sum::<f64>() / reps;
            let var = runs.iter().map(|r| (r.fine[s] - mean).powi(2)).sum::<f64>() / (reps - 1.0);
            let step = (runs.iter().map(|r| r.coarse[s] - r.fine[s]).sum::<f64>() / reps).abs();
            let part = (runs.iter().map(|r| r.halves[s] - r.coarse[s]).sum::<f64>() / reps).abs();
            step_error = step_error.max(step);
            particle_error = particle_error.max(part);
            Estimate {
                value: mean,
                se: (var / reps).sqrt(),
                bias: step + part,
            }
        })
        .collect();
    let records = opts.record + 1;
    let mut at = 0;
    let mut take = |len: usize| {
        let out = flat[at..at + len].to_vec();
        at += len;
        out
    };
    let mut risk = take(records);
    for r in &mut risk {
        r.bias += quadrature_error;
    }
    let mean: Vec<Vec<Estimate>> = (0..records).map(|_| take(p)).collect();
    let spread: Vec<Vec<Estimate>> = (0..records).map(|_| take(p)).collect();
    let quantiles_t = QUANTILES
        .iter()
        .copied()
        .zip(take(QUANTILES.len()))
        .collect();
    let method = format!(
        "Euler–Maruyama on {} replicates of {} particles, step {} (bias: against step {} on the same increments, and against two systems of {} particles); data: {}-node quadrature (error: the risk at level {})",
        opts.replicates,
        opts.particles,
        format_step(grid.h / 2.0),
        format_step(grid.h),
        opts.particles / 2,
        nodes.len(),
        (opts.data_level / 2).max(2),
    );
    Ok(LimitSolution {
        times: (0..records)
            .map(|j| j as f64 * opts.horizon / opts.record as f64)
            .collect(),
        risk,
        mean,
        spread,
        quantiles_t,
        samples_t,
        method,
        step: grid.h / 2.0,
        step_error,
        quadrature_error,
        particle_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exponent::{Exponent, Rational};
    use crate::meanfield::model::test_programs::{tanh_teacher, toy};
    use crate::meanfield::Loss;
    use std::time::Instant;

    /// The toy's moments under the ODE: ṁ = −(1+λ)m + a (s_xx = 1, s_xy = a) and
    /// v_t = v₀ e^{−2λt} (the flow is an affine map of w).
    #[test]
    fn toy_ode_follows_the_closed_form() {
        let (a, lambda, sigma) = (0.5, 1.0, 0.5);
        let mut prog = toy(a, lambda, sigma, Loss::Square);
        prog.beta = Exponent::ratio(1, 2);
        let mut opts = LimitOptions::for_program(&prog).unwrap();
        assert!(!opts.sde);
        opts.step = 1.0 / 100.0;
        let start = Instant::now();
        let sol = solve_limit(&prog, &opts).unwrap();
        eprintln!("toy ODE: {:?}; {}", start.elapsed(), sol.method);
        let rate = 1.0 + lambda;
        let m_inf = a / rate;
        let mut worst: f64 = 0.0;
        for (j, &t) in sol.times.iter().enumerate() {
            let m = m_inf + (1.0 - m_inf) * (-rate * t).exp();
            let v = 0.25 * (-2.0 * lambda * t).exp();
            let risk = 0.5 * ((m - a).powi(2) + sigma * sigma) + 0.5 * lambda * (v + m * m);
            for (got, want) in [
                (sol.mean[j][0], m),
                (sol.spread[j][0], v),
                (sol.risk[j], risk),
            ] {
                assert!(
                    (got.value - want).abs() < 1e-8,
                    "t = {t}: {got:?} vs {want}"
                );
                assert!(got.bias < 1e-8, "{got:?}");
                worst = worst.max((got.value - want).abs());
            }
        }
        eprintln!(
            "toy ODE worst error {worst:.2e}, step error {:.2e}, quadrature error {:.2e}",
            sol.step_error, sol.quadrature_error
        );
        // λ_T = N(m_T, v_T): the tracer quantiles within their errors.
        let t = opts.horizon;
        let (m, v) = (
            m_inf + (1.0 - m_inf) * (-rate * t).exp(),
            0.25 * (-2.0 * lambda * t).exp(),
        );
        for (u, q) in &sol.quantiles_t {
            let z = normal_quantile(*u);
            let want = m + v.sqrt() * z;
            assert!(
                (q.value - want).abs() < 4.0 * q.se + q.bias + 1e-12,
                "{u}: {q:?} vs {want}"
            );
        }
    }

    /// The toy's SDE: the mean as for the ODE, the variance v̇ = −2λv + τ Σ(m_t) with
    /// Σ(m) = 2(m − a)² + σ², integrated here by RK4 on (m, v).
    #[test]
    fn toy_sde_spread_follows_the_moment_ode() {
        let (a, lambda, sigma) = (0.5, 1.0, 0.5);
        let prog = toy(a, lambda, sigma, Loss::Square);
        let opts = LimitOptions::for_program(&prog).unwrap();
        assert!(opts.sde);
        assert!((opts.temperature - 0.1).abs() < 1e-15);
        let start = Instant::now();
        let sol = solve_limit(&prog, &opts).unwrap();
        eprintln!("toy SDE: {:?}; {}", start.elapsed(), sol.method);
        let tau = opts.temperature;
        let f = |x: [f64; 2]| {
            let (m, v) = (x[0], x[1]);
            [
                -(1.0 + lambda) * m + a,
                -2.0 * lambda * v + tau * (2.0 * (m - a).powi(2) + sigma * sigma),
            ]
        };
        let steps = 6000;
        let h = opts.horizon / steps as f64;
        let mut x = [1.0, 0.25];
        let record_every = steps / opts.record;
        let mut expected = vec![x];
        for s in 0..steps {
            let k1 = f(x);
            let k2 = f([x[0] + 0.5 * h * k1[0], x[1] + 0.5 * h * k1[1]]);
            let k3 = f([x[0] + 0.5 * h * k2[0], x[1] + 0.5 * h * k2[1]]);
            let k4 = f([x[0] + h * k3[0], x[1] + h * k3[1]]);
            for i in 0..2 {
                x[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
            }
            if (s + 1) % record_every == 0 {
                expected.push(x);
            }
        }
        for (j, want) in expected.iter().enumerate() {
            let (m, v) = (sol.mean[j][0], sol.spread[j][0]);
            eprintln!(
                "t = {:.1}: m {:.5} ± {:.1e} + {:.1e} (want {:.5}), v {:.6} ± {:.1e} + {:.1e} (want {:.6})",
                sol.times[j], m.value, m.se, m.bias, want[0], v.value, v.se, v.bias, want[1]
            );
            assert!((m.value - want[0]).abs() < 4.0 * m.se + m.bias, "{j}");
            assert!((v.value - want[1]).abs() < 4.0 * v.se + v.bias, "{j}");
        }
        eprintln!(
            "step error {:.2e}, particle error {:.2e}, quadrature error {:.2e}",
            sol.step_error, sol.particle_error, sol.quadrature_error
        );
    }

    #[test]
    fn tanh_ode_errors_are_small() {
        let prog = tanh_teacher(Rational::new(1.into(), 2.into()));
        let opts = LimitOptions::for_program(&prog).unwrap();
        let start = Instant::now();
        let sol = solve_limit(&prog, &opts).unwrap();
        eprintln!("tanh ODE: {:?}; {}", start.elapsed(), sol.method);
        eprintln!(
            "step error {:.2e}, quadrature error {:.2e}, risk {:?} -> {:?}, quantiles {:?}",
            sol.step_error,
            sol.quadrature_error,
            sol.risk[0],
            sol.risk.last(),
            sol.quantiles_t
        );
        assert!(sol.step_error < 1e-6, "{}", sol.step_error);
        // Levels 12 (144 + 36 nodes) against 24: the tail tracers' quantiles move most.
        assert!(sol.quadrature_error < 0.05, "{}", sol.quadrature_error);
        for r in &sol.risk {
            assert!(r.bias < 5e-3, "{r:?}");
        }
        // Training lowers the risk.
        assert!(sol.risk.last().unwrap().value < sol.risk[0].value);
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let prog = toy(0.5, 1.0, 0.5, Loss::Square);
        let mut opts = LimitOptions::for_program(&prog).unwrap();
        opts.particles = 600;
        opts.replicates = 3;
        opts.horizon = 1.0;
        opts.record = 4;
        let run = |threads: usize, opts: &LimitOptions| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| solve_limit(&prog, opts).unwrap())
        };
        assert_eq!(run(1, &opts), run(2, &opts));
        let mut tanh =
            LimitOptions::for_program(&tanh_teacher(Rational::new(1.into(), 2.into()))).unwrap();
        tanh.particles = 600;
        tanh.step = 0.25;
        let prog = tanh_teacher(Rational::new(1.into(), 2.into()));
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| solve_limit(&prog, &tanh).unwrap())
        };
        assert_eq!(run(1), run(2));
    }
}
