//! Euler–Maruyama for the SDE of an m×m Gram matrix, dΦ = b(Φ) dτ + Σ(Φ)^{1/2} dB (the
//! neural covariance SDE of Li, Nica & Roy 2022), and RK4 for its deterministic part
//! ∂τΦ = b(Φ).
//!
//! **Packed order.** A symmetric Φ is stored as its k = m(m+1)/2 upper-triangular
//! entries row by row: (0,0), (0,1), …, (0,m−1), (1,1), (1,2), …, (m−1,m−1)
//! ([`packed_index`]). Drift vectors use the same order, and the diffusion covariance
//! Σ is the k×k row-major matrix of covariances of those entries' increments per unit τ.
//!
//! **Scheme.** At every step Σ(Φ) is factored as L Lᵀ by a Cholesky that treats a
//! pivot within rounding of 0 as exactly 0 ([`psd_cholesky`]): Σ is positive
//! semidefinite but singular whenever Φ is (ρ = ±1 for two inputs), and a zero pivot
//! then means that direction carries no noise, not that the factorization failed. One
//! Gaussian increment vector ΔB ~ N(0, h I_k) gives the entries' noise ξ = L ΔB, whose
//! covariance is Σ h. Off-diagonal entries take the plain step Φ + b h + ξ. Diagonal
//! entries are stepped in log coordinates: by Itô,
//! d log Φ^{αα} = (b^{αα}/Φ^{αα} − Σ^{αα,αα}/(2(Φ^{αα})²)) dτ + dξ^{αα}/Φ^{αα},
//! which for the Li–Nica–Roy Σ (Σ^{αα,αα} = 2(Φ^{αα})²) is (b^{αα}/Φ^{αα} − 1) dτ plus a
//! N(0, 2h) increment. The diagonal stays positive, and when b^{αα} = 0 the log-diagonal
//! is a Brownian motion with drift −1 and variance 2 sampled without error: log Φ^{αα}_τ ~
//! N(log Φ^{αα}_0 − τ, 2τ) exactly, whatever the step. Because all entries share ΔB, the
//! joint noise is still Σ to first order.
//!
//! **Staying in the cone.** The plain off-diagonal step can overshoot |ρ| ≤ 1 (the
//! noise of ρ vanishes only at first order at ρ = ±1), after which Σ(Φ) is indefinite
//! and the log-diagonal noise explodes. After every step, a Φ outside the positive
//! semidefinite cone is therefore projected back with its diagonal kept: the
//! correlation matrix R = D^{-1/2} Φ D^{-1/2} has its negative eigenvalues set to 0 and
//! is rescaled to unit diagonal (for m = 2: ρ clamped to [−1, 1]). The diagonal is never
//! touched, so its exact law survives; the projection fires with a probability that
//! vanishes with the step away from ρ = ±1, and is counted per path
//! ([`GramPath::projected_steps`]). Note that the log-diagonal step does not preserve a
//! singular Φ exactly (ρ = 1 is absorbing for the shaped-ReLU SDE, but the scheme's
//! diagonal and off-diagonal updates differ at second order): 1 − ρ then wanders by
//! O(h) in mean.
//!
//! **Determinism.** Path `i` of seed `s` draws from a ChaCha8 stream keyed by (s, i)
//! alone, so a set of paths is bit-identical whatever the thread count.

use super::ode::{rk4_with_error, Rk4, Rk4Estimate};
use super::{check_len, SolveError};
use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use std::ops::ControlFlow;

/// An entry above this (or not finite) counts as a blow-up unless told otherwise.
pub const DEFAULT_BLOWUP: f64 = 1e8;

/// A diagonal entry below this counts as a collapse unless told otherwise.
pub const DEFAULT_COLLAPSE: f64 = 1e-8;

/// A pivot of [`psd_cholesky`] at or below this multiple of its diagonal entry is
/// rounding noise: the Schur complement is computed with an error of a few ulps of the
/// diagonal, so anything smaller carries no information about the matrix.
const PIVOT_TOLERANCE: f64 = 64.0 * f64::EPSILON;

/// The tag in the ChaCha seed of Gram SDE paths, so that these streams cannot meet the
/// streams of another simulator that keys ChaCha the same way.
const STREAM_TAG: u64 = 0x6752_616D_5344_4531;

/// The number of packed entries of an m×m symmetric matrix, m(m+1)/2.
pub fn packed_len(m: usize) -> usize {
    m * (m + 1) / 2
}

/// The m with m(m+1)/2 = k, if there is one.
pub fn packed_dim(k: usize) -> Option<usize> {
    let mut m = 0;
    while packed_len(m) < k {
        m += 1;
    }
    (packed_len(m) == k).then_some(m)
}

/// The position of entry (a, b) (either order) of an m×m symmetric matrix in the packed
/// order of this module: upper triangle, row by row.
pub fn packed_index(m: usize, a: usize, b: usize) -> usize {
    let (i, j) = if a <= b { (a, b) } else { (b, a) };
    // Rows 0..i hold m + (m − 1) + … + (m − i + 1) = i m − i(i − 1)/2 entries.
    i * m - i * i.saturating_sub(1) / 2 + (j - i)
}

/// Whether packed entry `e` of an m×m matrix is on the diagonal.
fn diagonal_of(m: usize) -> Vec<bool> {
    let mut diag = vec![false; packed_len(m)];
    for a in 0..m {
        diag[packed_index(m, a, a)] = true;
    }
    diag
}

/// The diffusion covariance of Li, Nica & Roy, Σ^{αβ,γδ} = Φ^{αγ}Φ^{βδ} + Φ^{αδ}Φ^{βγ},
/// of the packed entries `phi` (m inferred from the length), written row-major into the
/// k×k `out`. It is the covariance of L(G + Gᵀ)Lᵀ for Φ = L Lᵀ and G a matrix of i.i.d.
/// N(0, 1), hence positive semidefinite, with rank k exactly when Φ is definite. A
/// length that is not m(m+1)/2, or a short `out`, fills `out` with NaN (which the solver
/// reports as a blow-up) rather than panicking.
pub fn lnr_covariance(phi: &[f64], out: &mut [f64]) {
    let k = phi.len();
    let Some(m) = packed_dim(k).filter(|_| out.len() >= k * k) else {
        out.iter_mut().for_each(|x| *x = f64::NAN);
        return;
    };
    let at = |a: usize, b: usize| phi[packed_index(m, a, b)];
    // Walk the packed pairs (a, b) and (c, d) in order without allocating: this runs at
    // every step of every path.
    let mut p = 0;
    for a in 0..m {
        for b in a..m {
            let mut q = 0;
            for c in 0..m {
                for d in c..m {
                    out[p * k + q] = at(a, c) * at(b, d) + at(a, d) * at(b, c);
                    q += 1;
                }
            }
            p += 1;
        }
    }
}

/// What [`psd_cholesky`] found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PsdFactor {
    /// The number of pivots kept (the numerical rank).
    pub rank: usize,
    /// The most negative pivot relative to its diagonal entry (0 if none was negative
    /// beyond rounding): below 0 means the matrix was not positive semidefinite, and its
    /// negative directions were dropped.
    pub worst_negative: f64,
}

/// The Cholesky factor L (lower triangular, row-major k×k into `l`) of the symmetric
/// positive semidefinite k×k row-major `a`, with L Lᵀ = a up to rounding.
///
/// A pivot (Schur complement) at or below 64 ε times its diagonal entry, or a diagonal
/// entry ≤ 0, is taken as an exact zero and its column of L set to 0: for a PSD matrix a
/// zero pivot forces the rest of its column of the Schur complement to vanish, so
/// nothing is lost but rounding. This handles singular Σ (e.g. at ρ = ±1) without NaN
/// and without the bias a jitter would add; the relative threshold keeps entries of
/// very different scales (Φ¹¹ = 10⁶, Φ²² = 10⁻⁶) apart. Lengths are checked.
pub fn psd_cholesky(a: &[f64], k: usize, l: &mut [f64]) -> Result<PsdFactor, SolveError> {
    check_len("matrix", k * k, a.len())?;
    check_len("factor", k * k, l.len())?;
    l.iter_mut().for_each(|x| *x = 0.0);
    let mut rank = 0;
    let mut worst_negative = 0.0f64;
    for j in 0..k {
        let diag = a[j * k + j];
        let mut d = diag;
        for p in 0..j {
            d -= l[j * k + p] * l[j * k + p];
        }
        if diag < 0.0 {
            // A negative variance: not PSD at all (its relative size is −1 by fiat).
            worst_negative = worst_negative.min(-1.0);
            continue;
        }
        if diag.is_nan() || diag == 0.0 || d <= PIVOT_TOLERANCE * diag {
            if d < -PIVOT_TOLERANCE * diag {
                worst_negative = worst_negative.min(d / diag);
            }
            continue;
        }
        let root = d.sqrt();
        l[j * k + j] = root;
        rank += 1;
        for i in j + 1..k {
            let mut s = a[i * k + j];
            for p in 0..j {
                s -= l[i * k + p] * l[j * k + p];
            }
            l[i * k + j] = s / root;
        }
    }
    Ok(PsdFactor {
        rank,
        worst_negative,
    })
}

/// Projects the packed Φ (m×m) onto the positive semidefinite matrices with the same
/// diagonal, if it is not one beyond rounding: the correlation matrix R gets its
/// negative eigenvalues set to 0 (nearest PSD matrix in the Frobenius norm) and is
/// rescaled to unit diagonal. Returns whether Φ was changed. `corr` and `vectors` are
/// m×m scratch. A diagonal that is not positive is left to the stop checks.
fn project_to_psd(m: usize, phi: &mut [f64], corr: &mut [f64], vectors: &mut [f64]) -> bool {
    if m < 2 {
        return false;
    }
    let d: Vec<f64> = (0..m).map(|a| phi[packed_index(m, a, a)]).collect();
    if d.iter().any(|x| !(*x > 0.0 && x.is_finite())) || phi.iter().any(|x| !x.is_finite()) {
        return false;
    }
    for a in 0..m {
        for b in 0..m {
            corr[a * m + b] = if a == b {
                1.0
            } else {
                phi[packed_index(m, a, b)] / (d[a] * d[b]).sqrt()
            };
        }
    }
    if m == 2 {
        // The common case in closed form: R is PSD iff |ρ| ≤ 1.
        let r = corr[1];
        if r.abs() <= 1.0 {
            return false;
        }
        phi[1] = r.signum() * (d[0] * d[1]).sqrt();
        return true;
    }
    let mut scratch = corr.to_vec();
    let eig = jacobi_eigen(m, &mut scratch, vectors);
    let smallest = eig.iter().copied().fold(f64::INFINITY, f64::min);
    if smallest >= -PIVOT_TOLERANCE * m as f64 {
        return false;
    }
    // R' = V max(Λ, 0) Vᵀ, then unit diagonal.
    for a in 0..m {
        for b in 0..m {
            corr[a * m + b] = (0..m)
                .map(|j| vectors[a * m + j] * eig[j].max(0.0) * vectors[b * m + j])
                .sum();
        }
    }
    for a in 0..m {
        for b in a + 1..m {
            let norm = (corr[a * m + a] * corr[b * m + b]).sqrt();
            let r = if norm > 0.0 {
                corr[a * m + b] / norm
            } else {
                0.0
            };
            phi[packed_index(m, a, b)] = r.clamp(-1.0, 1.0) * (d[a] * d[b]).sqrt();
        }
    }
    true
}

/// The eigenvalues of the symmetric m×m row-major `a` (destroyed) by cyclic Jacobi
/// rotations, with the eigenvectors as the columns of `v`. Small m only (here m ≤ a
/// handful of inputs): each sweep costs O(m³) and a few sweeps reach rounding.
fn jacobi_eigen(m: usize, a: &mut [f64], v: &mut [f64]) -> Vec<f64> {
    for i in 0..m {
        for j in 0..m {
            v[i * m + j] = if i == j { 1.0 } else { 0.0 };
        }
    }
    for _sweep in 0..64 {
        let off: f64 = (0..m)
            .flat_map(|i| (0..m).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * m + j] * a[i * m + j])
            .sum();
        let scale: f64 = (0..m).map(|i| a[i * m + i] * a[i * m + i]).sum();
        if off <= f64::EPSILON * f64::EPSILON * scale.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..m {
            for q in p + 1..m {
                let apq = a[p * m + q];
                if apq == 0.0 {
                    continue;
                }
                // The rotation angle that zeroes a_pq (Rutishauser's stable form).
                let theta = (a[q * m + q] - a[p * m + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..m {
                    let (akp, akq) = (a[k * m + p], a[k * m + q]);
                    a[k * m + p] = c * akp - s * akq;
                    a[k * m + q] = s * akp + c * akq;
                }
                for k in 0..m {
                    let (apk, aqk) = (a[p * m + k], a[q * m + k]);
                    a[p * m + k] = c * apk - s * aqk;
                    a[q * m + k] = s * apk + c * aqk;
                }
                for k in 0..m {
                    let (vkp, vkq) = (v[k * m + p], v[k * m + q]);
                    v[k * m + p] = c * vkp - s * vkq;
                    v[k * m + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    (0..m).map(|i| a[i * m + i]).collect()
}

/// The coefficients of a Gram SDE: `drift(Φ, out)` writes b(Φ) and `covariance(Φ, out)`
/// writes Σ(Φ) (k×k row-major), both in the packed order of the module.
#[derive(Clone, Copy, Debug)]
pub struct GramSde<D, C> {
    /// The number of inputs m.
    pub m: usize,
    /// b(Φ) into the k-vector `out`.
    pub drift: D,
    /// Σ(Φ) into the k×k row-major `out` (positive semidefinite).
    pub covariance: C,
}

impl<D> GramSde<D, fn(&[f64], &mut [f64])>
where
    D: Fn(&[f64], &mut [f64]) + Sync,
{
    /// The SDE with drift `drift` and the Li–Nica–Roy diffusion [`lnr_covariance`].
    pub fn lnr(m: usize, drift: D) -> Self {
        GramSde {
            m,
            drift,
            covariance: lnr_covariance,
        }
    }
}

/// Why a Gram path stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GramStopKind {
    /// An entry exceeded the blow-up threshold in absolute value, or was not finite.
    BlowUp,
    /// A diagonal entry fell below the collapse threshold.
    Collapse,
}

/// Where a path stopped early: the kind, the τ at the end of the step that crossed,
/// and the packed entry that crossed first.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct GramStop {
    /// Blow-up or collapse.
    pub kind: GramStopKind,
    /// τ at the end of the step where it was detected.
    pub tau: f64,
    /// The packed entry that crossed.
    pub entry: usize,
}

/// One Euler–Maruyama path: the states at the requested τ it reached, and how it ended.
#[derive(Clone, Debug, PartialEq)]
pub struct GramPath {
    /// The number of inputs m.
    pub m: usize,
    /// The requested τ reached before any stop (a prefix of the request).
    pub times: Vec<f64>,
    /// The packed states at those τ, one after the other.
    pub states: Vec<f64>,
    /// The early stop, if any.
    pub stop: Option<GramStop>,
    /// Steps taken.
    pub steps: usize,
    /// Steps after which Φ had left the positive semidefinite cone (a finite step can
    /// overshoot near ρ = ±1) and was projected back onto it, diagonal kept (see the
    /// module documentation).
    pub projected_steps: usize,
}

impl GramPath {
    /// The packed state at recorded point `i`, if reached.
    pub fn state(&self, i: usize) -> Option<&[f64]> {
        let k = packed_len(self.m);
        self.states.get(i * k..(i + 1) * k)
    }

    /// The correlation Φ^{ab}/√(Φ^{aa}Φ^{bb}) at recorded point `i`, if reached.
    pub fn correlation(&self, i: usize, a: usize, b: usize) -> Option<f64> {
        let s = self.state(i)?;
        let m = self.m;
        Some(
            s[packed_index(m, a, b)] / (s[packed_index(m, a, a)] * s[packed_index(m, b, b)]).sqrt(),
        )
    }
}

/// What to integrate: the τ at which to record, the largest step, and the thresholds.
#[derive(Clone, Debug, PartialEq)]
pub struct GramEmOptions {
    /// Recording times, increasing, ≥ 0 (0 records the initial state); the last is the
    /// horizon.
    pub times: Vec<f64>,
    /// The largest step: each interval between recording times is cut into the fewest
    /// equal steps no longer than this, so every recording time is hit exactly.
    pub max_step: f64,
    /// |entry| above this, or non-finite, stops the path as a blow-up.
    pub blowup: f64,
    /// A diagonal entry below this stops the path as a collapse.
    pub collapse: f64,
}

impl GramEmOptions {
    /// Recording at `times` with steps of at most `max_step` and the default thresholds.
    pub fn new(times: Vec<f64>, max_step: f64) -> Self {
        GramEmOptions {
            times,
            max_step,
            blowup: DEFAULT_BLOWUP,
            collapse: DEFAULT_COLLAPSE,
        }
    }

    /// Refuses unordered or negative times and a step that is not a positive number.
    fn check(&self) -> Result<(), SolveError> {
        let bad = |detail: String| Err(SolveError::BadGrid { detail });
        if self.times.is_empty() {
            return bad("no recording times".into());
        }
        if !(self.max_step > 0.0 && self.max_step.is_finite()) {
            return bad(format!(
                "the step {} is not a positive number",
                self.max_step
            ));
        }
        let mut last = 0.0;
        for (i, &t) in self.times.iter().enumerate() {
            if !(t.is_finite() && t >= last) || (i > 0 && t <= last) {
                return bad(format!(
                    "recording time {t} is not finite, negative or not after the previous one"
                ));
            }
            last = t;
        }
        Ok(())
    }

    /// The number of equal steps of at most `max_step` covering [from, to].
    fn steps_between(&self, from: f64, to: f64) -> usize {
        (((to - from) / self.max_step).ceil() as usize).max(1)
    }
}

/// The per-path working state: the packed Φ, the log-diagonal, and scratch for b, Σ, L.
struct Walker {
    m: usize,
    diag: Vec<bool>,
    phi: Vec<f64>,
    logs: Vec<f64>,
    drift: Vec<f64>,
    sigma: Vec<f64>,
    factor: Vec<f64>,
    noise: Vec<f64>,
    projected: usize,
    corr: Vec<f64>,
    vectors: Vec<f64>,
}

impl Walker {
    fn new(m: usize, phi0: &[f64]) -> Self {
        let k = packed_len(m);
        let diag = diagonal_of(m);
        let logs = phi0
            .iter()
            .zip(&diag)
            .map(|(&x, &d)| if d { x.ln() } else { 0.0 })
            .collect();
        Walker {
            m,
            diag,
            phi: phi0.to_vec(),
            logs,
            drift: vec![0.0; k],
            sigma: vec![0.0; k * k],
            factor: vec![0.0; k * k],
            noise: vec![0.0; k],
            projected: 0,
            corr: vec![0.0; m * m],
            vectors: vec![0.0; m * m],
        }
    }

    /// One step of length h with the Brownian increment `db` (N(0, h I_k)).
    fn step<D, C>(&mut self, sde: &GramSde<D, C>, h: f64, db: &[f64])
    where
        D: Fn(&[f64], &mut [f64]),
        C: Fn(&[f64], &mut [f64]),
    {
        let k = self.phi.len();
        (sde.drift)(&self.phi, &mut self.drift);
        (sde.covariance)(&self.phi, &mut self.sigma);
        // The lengths are fixed by construction, so the factorization cannot refuse;
        // Φ is kept PSD (below), so Σ(Φ) is PSD for the Li–Nica–Roy Σ.
        let _ = psd_cholesky(&self.sigma, k, &mut self.factor);
        for i in 0..k {
            self.noise[i] = (0..=i).map(|j| self.factor[i * k + j] * db[j]).sum();
        }
        for i in 0..k {
            if self.diag[i] {
                let x = self.phi[i];
                let ito = self.sigma[i * k + i] / (2.0 * x * x);
                self.logs[i] += (self.drift[i] / x - ito) * h + self.noise[i] / x;
                self.phi[i] = self.logs[i].exp();
            } else {
                self.phi[i] += self.drift[i] * h + self.noise[i];
            }
        }
        if project_to_psd(self.m, &mut self.phi, &mut self.corr, &mut self.vectors) {
            self.projected += 1;
        }
    }

    /// The first entry that crossed a threshold, if any.
    fn check(&self, opts: &GramEmOptions) -> Option<(GramStopKind, usize)> {
        for (i, &x) in self.phi.iter().enumerate() {
            if !x.is_finite()
                || x.abs() > opts.blowup
                || (self.diag[i] && !self.logs[i].is_finite())
            {
                return Some((GramStopKind::BlowUp, i));
            }
        }
        (0..self.phi.len())
            .find(|&i| self.diag[i] && self.phi[i] < opts.collapse)
            .map(|i| (GramStopKind::Collapse, i))
    }

    fn path(&self) -> GramPath {
        GramPath {
            m: self.m,
            times: Vec::new(),
            states: Vec::new(),
            stop: None,
            steps: 0,
            projected_steps: 0,
        }
    }
}

/// Checks the SDE's dimension against Φ₀ and that Φ₀'s diagonal is positive.
fn check_start<D, C>(sde: &GramSde<D, C>, phi0: &[f64]) -> Result<(), SolveError> {
    check_len("phi0", packed_len(sde.m), phi0.len())?;
    for a in 0..sde.m {
        let x = phi0[packed_index(sde.m, a, a)];
        if !(x > 0.0 && x.is_finite()) {
            return Err(SolveError::BadGrid {
                detail: format!("the diagonal entry Φ0[{a}][{a}] = {x} is not positive"),
            });
        }
    }
    Ok(())
}

/// The ChaCha8 generator of path `index` of seed `seed`: the 32-byte key is
/// (seed, index, tag), so distinct (seed, index) pairs get distinct streams and a path's
/// draws depend on nothing else.
pub fn path_rng(seed: u64, index: u64, tag: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&index.to_le_bytes());
    key[16..24].copy_from_slice(&tag.to_le_bytes());
    key[24..].copy_from_slice(&STREAM_TAG.to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

/// One Euler–Maruyama path of the Gram SDE from the packed Φ₀ (see the module
/// documentation for the scheme), drawing its increments from `rng`.
pub fn gram_em_path<D, C, R>(
    sde: &GramSde<D, C>,
    phi0: &[f64],
    opts: &GramEmOptions,
    rng: &mut R,
) -> Result<GramPath, SolveError>
where
    D: Fn(&[f64], &mut [f64]),
    C: Fn(&[f64], &mut [f64]),
    R: Rng + ?Sized,
{
    let [path] = run_levels::<_, _, _, 1>(sde, phi0, opts, rng)?;
    Ok(path)
}

/// Two coupled Euler–Maruyama paths from Φ₀, with steps h and h/2 (h from
/// `opts.max_step`) driven by the same Brownian path: the fine path takes two half-step
/// increments, the coarse one their sum. The difference of an expectation over the two
/// then estimates the step's weak bias with far less noise than independent runs.
/// Returns [coarse, fine].
pub fn gram_em_pair<D, C, R>(
    sde: &GramSde<D, C>,
    phi0: &[f64],
    opts: &GramEmOptions,
    rng: &mut R,
) -> Result<[GramPath; 2], SolveError>
where
    D: Fn(&[f64], &mut [f64]),
    C: Fn(&[f64], &mut [f64]),
    R: Rng + ?Sized,
{
    run_levels::<_, _, _, 2>(sde, phi0, opts, rng)
}

/// Runs L coupled levels: level 0 at the coarse step, level l with 2^l sub-steps per
/// coarse step (only L = 1, 2 are used).
fn run_levels<D, C, R, const L: usize>(
    sde: &GramSde<D, C>,
    phi0: &[f64],
    opts: &GramEmOptions,
    rng: &mut R,
) -> Result<[GramPath; L], SolveError>
where
    D: Fn(&[f64], &mut [f64]),
    C: Fn(&[f64], &mut [f64]),
    R: Rng + ?Sized,
{
    opts.check()?;
    check_start(sde, phi0)?;
    let k = packed_len(sde.m);
    let sub = 1usize << (L - 1);
    let mut walkers: Vec<Walker> = (0..L).map(|_| Walker::new(sde.m, phi0)).collect();
    let mut paths: Vec<GramPath> = walkers.iter().map(Walker::path).collect();
    let mut alive = [true; L];
    let mut z = vec![0.0; k * sub];
    let mut db = vec![0.0; k];
    let mut t = 0.0;
    for &target in &opts.times {
        let steps = if target > t {
            opts.steps_between(t, target)
        } else {
            0
        };
        let h = if steps > 0 {
            (target - t) / steps as f64
        } else {
            0.0
        };
        for s in 0..steps {
            if !alive.iter().any(|&a| a) {
                break;
            }
            for zi in z.iter_mut() {
                *zi = rng.sample(StandardNormal);
            }
            let tau = if s + 1 == steps {
                target
            } else {
                t + (s + 1) as f64 * h
            };
            for level in 0..L {
                if !alive[level] {
                    continue;
                }
                // Level `level` takes 2^level sub-steps, each the sum of sub/2^level of
                // the finest standard normals, scaled to the sub-step's length.
                let parts = 1usize << level;
                let group = sub / parts;
                let hl = h / parts as f64;
                let scale = (hl / group as f64).sqrt();
                for p in 0..parts {
                    for (e, slot) in db.iter_mut().enumerate() {
                        *slot = (0..group).map(|g| z[(p * group + g) * k + e]).sum::<f64>() * scale;
                    }
                    walkers[level].step(sde, hl, &db);
                    paths[level].steps += 1;
                    if let Some((kind, entry)) = walkers[level].check(opts) {
                        paths[level].stop = Some(GramStop {
                            kind,
                            tau: if p + 1 == parts {
                                tau
                            } else {
                                tau - (parts - p - 1) as f64 * hl
                            },
                            entry,
                        });
                        alive[level] = false;
                        break;
                    }
                }
            }
        }
        t = target;
        for level in 0..L {
            if alive[level] {
                paths[level].times.push(target);
                paths[level].states.extend_from_slice(&walkers[level].phi);
            }
        }
    }
    for (path, walker) in paths.iter_mut().zip(&walkers) {
        path.projected_steps = walker.projected;
    }
    // `paths` has exactly L elements by construction, so the conversion cannot fail.
    paths.try_into().map_err(|_| SolveError::ZeroSteps)
}

/// `paths` independent Euler–Maruyama paths, path i drawing from [`path_rng`](seed, i),
/// run in parallel on the current rayon pool and returned in path order: bit-identical
/// at any thread count.
pub fn gram_em_paths<D, C>(
    sde: &GramSde<D, C>,
    phi0: &[f64],
    opts: &GramEmOptions,
    seed: u64,
    paths: usize,
) -> Result<Vec<GramPath>, SolveError>
where
    D: Fn(&[f64], &mut [f64]) + Sync,
    C: Fn(&[f64], &mut [f64]) + Sync,
{
    (0..paths)
        .into_par_iter()
        .map(|i| gram_em_path(sde, phi0, opts, &mut path_rng(seed, i as u64, 0)))
        .collect()
}

/// `paths` coupled pairs ([`gram_em_pair`]: steps h and h/2 on one Brownian path), pair i
/// drawing from [`path_rng`](seed, i), in parallel, in pair order.
pub fn gram_em_pairs<D, C>(
    sde: &GramSde<D, C>,
    phi0: &[f64],
    opts: &GramEmOptions,
    seed: u64,
    paths: usize,
) -> Result<Vec<[GramPath; 2]>, SolveError>
where
    D: Fn(&[f64], &mut [f64]) + Sync,
    C: Fn(&[f64], &mut [f64]) + Sync,
{
    (0..paths)
        .into_par_iter()
        .map(|i| gram_em_pair(sde, phi0, opts, &mut path_rng(seed, i as u64, 1)))
        .collect()
}

/// A right-hand side f(t, x, out) behind a reference, for the two RK4 runs.
type Rhs<'a> = dyn FnMut(f64, &[f64], &mut [f64]) + 'a;

/// The deterministic limit ∂τΦ = b(Φ) by RK4.
#[derive(Clone, Debug, PartialEq)]
pub struct GramOde {
    /// The τ of the recorded points: 0, H/N, …, up to the horizon H or the blow-up.
    pub times: Vec<f64>,
    /// The packed states at those τ (from the 2N-step integration).
    pub states: Vec<f64>,
    /// Without blow-up: the step-doubling estimate of the end state (N and 2N steps).
    pub end: Option<Rk4Estimate>,
    /// With blow-up: τ where the 2N-step and the N-step integrations first crossed the
    /// threshold (their difference bounds the error of the first, to the step size).
    pub blowup: Option<(f64, f64)>,
}

/// Integrates ∂τΦ = b(Φ) from the packed Φ₀ over [0, horizon] by RK4 with N = `steps`
/// and 2N steps, recording the 2N-step path at the N-step grid. Stops at the first step
/// where an entry's absolute value exceeds `blowup` or is not finite; otherwise returns
/// the step-doubling estimate of [`rk4_with_error`].
pub fn gram_ode<D>(
    drift: D,
    phi0: &[f64],
    horizon: f64,
    steps: usize,
    blowup: f64,
) -> Result<GramOde, SolveError>
where
    D: Fn(&[f64], &mut [f64]),
{
    let mut f = |_t: f64, x: &[f64], out: &mut [f64]| drift(x, out);
    let crossed = |x: &[f64]| x.iter().any(|v| !v.is_finite() || v.abs() > blowup);
    let run = |f: &mut Rhs<'_>, n: usize, record: bool| {
        let mut times = Vec::new();
        let mut states = Vec::new();
        let mut stop = None;
        let mut x = phi0.to_vec();
        let mut ws = Rk4::new(phi0.len());
        let mut g = |t: f64, x: &[f64], out: &mut [f64]| f(t, x, out);
        let r = ws.integrate(&mut g, 0.0, horizon, n, &mut x, |k, t, xk| {
            if crossed(xk) {
                stop = Some(t);
                return ControlFlow::Break(());
            }
            if record && k % 2 == 0 {
                times.push(t);
                states.extend_from_slice(xk);
            }
            ControlFlow::Continue(())
        });
        r.map(|_| (times, states, stop))
    };
    let (times, states, stop) = run(&mut f, steps.saturating_mul(2), true)?;
    match stop {
        Some(tau) => {
            let (_, _, coarse) = run(&mut f, steps, false)?;
            Ok(GramOde {
                times,
                states,
                end: None,
                blowup: Some((tau, coarse.unwrap_or(f64::INFINITY))),
            })
        }
        None => Ok(GramOde {
            times,
            states,
            end: Some(rk4_with_error(&mut f, 0.0, horizon, phi0, steps)?),
            blowup: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// L Lᵀ as a row-major k×k matrix.
    fn product(l: &[f64], k: usize) -> Vec<f64> {
        let mut out = vec![0.0; k * k];
        for i in 0..k {
            for j in 0..k {
                out[i * k + j] = (0..k).map(|p| l[i * k + p] * l[j * k + p]).sum();
            }
        }
        out
    }

    #[test]
    fn lnr_covariance_of_a_two_by_two_gram() {
        // Φ = [[a, c], [c, b]]: the 3×3 Σ in the order (11, 12, 22), by hand.
        let (a, c, b) = (2.0, 0.5, 3.0);
        let mut s = vec![0.0; 9];
        lnr_covariance(&[a, c, b], &mut s);
        let expected = [
            2.0 * a * a,
            2.0 * a * c,
            2.0 * c * c,
            2.0 * a * c,
            a * b + c * c,
            2.0 * c * b,
            2.0 * c * c,
            2.0 * c * b,
            2.0 * b * b,
        ];
        assert_eq!(s, expected);
        let mut bad = vec![0.0; 4];
        lnr_covariance(&[1.0, 2.0], &mut bad);
        assert!(bad.iter().all(|x| x.is_nan()));
    }

    #[test]
    fn psd_cholesky_factors_singular_matrices_without_nan() {
        // Σ at a rank-one Φ (ρ = 1) has rank 1.
        let mut s = vec![0.0; 9];
        lnr_covariance(&[1.0, 2.0, 4.0], &mut s);
        let mut l = vec![0.0; 9];
        let f = psd_cholesky(&s, 3, &mut l).unwrap();
        assert_eq!(f.rank, 1);
        assert!(l.iter().all(|x| x.is_finite()));
        for (x, y) in product(&l, 3).iter().zip(&s) {
            assert!((x - y).abs() < 1e-12 * 32.0, "{x} vs {y}");
        }
        // Entries of very different scales keep their noise.
        let mut s = vec![0.0; 9];
        lnr_covariance(&[1e6, 0.0, 1e-6], &mut s);
        let f = psd_cholesky(&s, 3, &mut l).unwrap();
        assert_eq!(f.rank, 3);
        assert!((l[8] - 2f64.sqrt() * 1e-6).abs() < 1e-18);
        // An indefinite matrix is reported.
        let f = psd_cholesky(&[1.0, 2.0, 2.0, 1.0], 2, &mut l[..4]).unwrap();
        assert!(f.worst_negative < -1.0 && f.rank == 1);
    }

    #[test]
    fn projection_restores_a_psd_gram_and_keeps_its_diagonal() {
        // Three pairwise correlations 0.9, 0.9, −0.9 cannot coexist.
        let m = 3;
        let d = [1.0f64, 4.0, 9.0];
        let r = [[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]];
        let mut phi = vec![0.0; 6];
        for a in 0..m {
            for b in a..m {
                phi[packed_index(m, a, b)] = r[a][b] * (d[a] * d[b]).sqrt();
            }
        }
        let (mut corr, mut v) = (vec![0.0; 9], vec![0.0; 9]);
        assert!(project_to_psd(m, &mut phi, &mut corr, &mut v));
        for a in 0..m {
            assert_eq!(phi[packed_index(m, a, a)], d[a]);
        }
        let mut full = vec![0.0; 9];
        for a in 0..m {
            for b in 0..m {
                full[a * m + b] = phi[packed_index(m, a, b)];
            }
        }
        let mut scratch = full.clone();
        let eig = jacobi_eigen(m, &mut scratch, &mut v);
        assert!(eig.iter().all(|&e| e > -1e-9), "{eig:?}");
        // A PSD Gram is left alone, bit for bit.
        let mut ok = vec![2.0, 0.3, 1.0, 0.1, 0.2, 3.0];
        let before = ok.clone();
        assert!(!project_to_psd(m, &mut ok, &mut corr, &mut v));
        assert_eq!(ok, before);
    }

    #[test]
    fn jacobi_finds_known_eigenvalues() {
        // [[2, 1, 0], [1, 2, 1], [0, 1, 2]]: 2 − √2, 2, 2 + √2.
        let mut a = vec![2.0, 1.0, 0.0, 1.0, 2.0, 1.0, 0.0, 1.0, 2.0];
        let mut v = vec![0.0; 9];
        let mut e = jacobi_eigen(3, &mut a, &mut v);
        e.sort_by(f64::total_cmp);
        let r2 = 2f64.sqrt();
        for (x, y) in e.iter().zip([2.0 - r2, 2.0, 2.0 + r2]) {
            assert!((x - y).abs() < 1e-13, "{e:?}");
        }
    }

    #[test]
    fn bad_requests_are_refused() {
        let sde = GramSde::lnr(1, |_: &[f64], out: &mut [f64]| out[0] = 0.0);
        let mut rng = path_rng(0, 0, 0);
        let opts = GramEmOptions::new(vec![0.5, 0.2], 0.1);
        assert!(gram_em_path(&sde, &[1.0], &opts, &mut rng).is_err());
        let opts = GramEmOptions::new(vec![1.0], 0.0);
        assert!(gram_em_path(&sde, &[1.0], &opts, &mut rng).is_err());
        let opts = GramEmOptions::new(vec![1.0], 0.1);
        assert!(gram_em_path(&sde, &[-1.0], &opts, &mut rng).is_err());
        assert!(gram_em_path(&sde, &[1.0, 2.0], &opts, &mut rng).is_err());
        // Recording at 0 gives Φ₀ itself and τ hits every recording time exactly.
        let opts = GramEmOptions::new(vec![0.0, 0.35, 1.0], 0.1);
        let p = gram_em_path(&sde, &[1.5], &opts, &mut rng).unwrap();
        assert_eq!(p.times, vec![0.0, 0.35, 1.0]);
        assert_eq!(p.state(0).unwrap(), &[1.5]);
        assert_eq!(p.steps, 4 + 7);
    }
}
