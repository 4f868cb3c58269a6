//! Tensor-product Gauss–Hermite quadrature for E[F(G)], G ~ N(0, Σ), with error
//! estimates from comparing rules of different orders.
//!
//! With Σ = L Lᵀ (pivoted Cholesky, L of size d × r), G = L z and z ~ N(0, I_r), so
//!
//!   E[F(G)] ≈ Σ_{i_1…i_r} w_{i_1}⋯w_{i_r} F(L (x_{i_1}, …, x_{i_r})),
//!
//! with (x_i, w_i) the k-node rule of [`gauss_hermite`]: k^r evaluations, exact for F a
//! polynomial of degree ≤ 2k − 1 in each whitened coordinate. A singular Σ only costs
//! its rank.
//!
//! **Error estimates.** A single rule says nothing about its own error, so every
//! [`Estimate`] here comes from a sequence of rules k, 2k, 4k, … and reports the value of
//! the last one. For analytic F the error of Q_k eventually decays geometrically and,
//! once the differences |Q_k − Q_{k/2}| are seen to drop sharply twice in a row, the last
//! difference is the error (it then overstates the last rule's error by orders of
//! magnitude: conservative, as wanted). Before that — and always for F with kinks or
//! jumps (ReLU, step), whose error decays only like a power k^{−p} and can change sign
//! with k — the last differences are inflated by the observed rate (see
//! [`QuadratureOptions::smooth`]). The tests (`tests/gauss.rs`) check that the reported
//! errors stay above the true ones, including pre-asymptotic cases (a steep erf) and
//! slowly converging ones (sech² with σ = 5, ReLU and step products). One limitation is
//! shared by every rule that samples F: a feature narrower than the node spacing (the
//! thin wedge between two nearly parallel kinks, say) can be missed by all rules alike.

use super::error::GaussError;
use super::hermite::{gauss_hermite, HermiteRule, MAX_NODES};
use super::normal::Gaussian;
use super::{Estimate, Method};
use ndarray::Array2;

/// Compensated (Neumaier) summation, so that sums over ~10⁶ quadrature points keep
/// their last digits: the plain sum's rounding error grows with the number of terms.
#[derive(Clone, Copy, Debug, Default)]
struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }

    fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// One tensor-product rule applied to a vector-valued F.
#[derive(Clone, Debug)]
pub(crate) struct RuleSum {
    /// Σ w F_o for each output o.
    pub values: Vec<f64>,
    /// Σ w |F_o| for each output: the scale of the rounding error of `values`.
    pub magnitudes: Vec<f64>,
}

/// Number of evaluations of a k-node rule in r dimensions, if it is at most `limit`.
pub(crate) fn rule_cost(k: usize, r: usize, limit: u64) -> Option<u64> {
    let r = u32::try_from(r).ok()?;
    (k as u64).checked_pow(r).filter(|&c| c <= limit)
}

/// Applies the k-node tensor-product rule to F (writing `outputs` values per point).
pub(crate) fn tensor_rule(
    gauss: &Gaussian,
    f: &dyn Fn(&[f64], &mut [f64]),
    outputs: usize,
    rule: &HermiteRule,
    limit: u64,
) -> Result<RuleSum, GaussError> {
    let k = rule.len();
    let r = gauss.rank();
    let count = rule_cost(k, r, limit).ok_or(GaussError::TooManyEvaluations {
        nodes: k,
        dim: r,
        limit,
    })?;
    let mut idx = vec![0usize; r];
    let mut z = vec![0.0; r];
    let mut g = vec![0.0; gauss.dim()];
    let mut out = vec![0.0; outputs];
    let mut sums = vec![CompensatedSum::default(); outputs];
    let mut magnitudes = vec![0.0; outputs];
    for _ in 0..count {
        let mut w = 1.0;
        for (zj, &ij) in z.iter_mut().zip(&idx) {
            *zj = rule.nodes[ij];
            w *= rule.weights[ij];
        }
        // Outer-node weight products can underflow to 0 in several dimensions; such a
        // point contributes nothing, and F might not even be finite that far out.
        if w > 0.0 {
            gauss.map_into(&z, &mut g);
            out.iter_mut().for_each(|x| *x = 0.0);
            f(&g, &mut out);
            for (o, &v) in out.iter().enumerate() {
                if !v.is_finite() {
                    return Err(GaussError::NonFiniteIntegrand {
                        value: v,
                        output: o,
                        point: g.clone(),
                    });
                }
                sums[o].add(w * v);
                magnitudes[o] += w * v.abs();
            }
        }
        // Odometer increment over the multi-index.
        for ij in idx.iter_mut() {
            *ij += 1;
            if *ij < k {
                break;
            }
            *ij = 0;
        }
    }
    Ok(RuleSum {
        values: sums.iter().map(CompensatedSum::value).collect(),
        magnitudes,
    })
}

/// Wraps a scalar integrand as a one-output vector integrand.
pub(crate) fn scalar_as_vec(f: &dyn Fn(&[f64]) -> f64) -> impl Fn(&[f64], &mut [f64]) + '_ {
    move |g: &[f64], out: &mut [f64]| out[0] = f(g)
}

/// Checks that a result vector has the size of the integrand's output.
fn check_outputs(outputs: usize) -> Result<(), GaussError> {
    if outputs == 0 {
        return Err(GaussError::BadParameter {
            detail: "a vector integrand must have at least one output".into(),
        });
    }
    Ok(())
}

/// The value of the k-node tensor-product Gauss–Hermite rule for E[F(G)], G ~ N(0, Σ),
/// with no error estimate (use [`expect_quadrature`] or
/// [`expect_quadrature_adaptive`] for one).
///
/// Costs k^r evaluations (r = rank Σ); refuses ([`GaussError::TooManyEvaluations`])
/// beyond [`QuadratureOptions::default`]'s `max_evaluations` (2·10⁶).
pub fn quadrature(
    cov: &Array2<f64>,
    f: &dyn Fn(&[f64]) -> f64,
    k: usize,
) -> Result<f64, GaussError> {
    let gauss = Gaussian::new(cov)?;
    let rule = gauss_hermite(k)?;
    let limit = QuadratureOptions::default().max_evaluations;
    let sum = tensor_rule(&gauss, &scalar_as_vec(f), 1, &rule, limit)?;
    Ok(sum.values[0])
}

/// Rounding floor of a quadrature value: the rule sums terms of total size Σ w|F|.
fn rounding_floor(magnitude: f64) -> f64 {
    64.0 * f64::EPSILON * magnitude
}

/// E[F(G)] by comparing the k-node and 2k-node rules: the value is Q_2k, the error
/// |Q_2k − Q_k| plus a rounding floor, the method `Quadrature { nodes: 2k }`.
///
/// The difference is a conservative error estimate for Q_2k when F is smooth (analytic
/// near the real axis); for kinked F prefer [`expect_quadrature_adaptive`] with
/// `smooth: false`, or [`super::expect`]. Costs k^r + (2k)^r evaluations; 2k must not
/// exceed [`MAX_NODES`].
pub fn expect_quadrature(
    cov: &Array2<f64>,
    f: &dyn Fn(&[f64]) -> f64,
    k: usize,
) -> Result<Estimate, GaussError> {
    let gauss = Gaussian::new(cov)?;
    let limit = QuadratureOptions::default().max_evaluations;
    let k2 = k.saturating_mul(2);
    if k2 > MAX_NODES {
        return Err(GaussError::BadNodeCount {
            nodes: k2,
            max: MAX_NODES,
        });
    }
    let vf = scalar_as_vec(f);
    let coarse = tensor_rule(&gauss, &vf, 1, &gauss_hermite(k)?, limit)?;
    let fine = tensor_rule(&gauss, &vf, 1, &gauss_hermite(k2)?, limit)?;
    let err = (fine.values[0] - coarse.values[0]).abs() + rounding_floor(fine.magnitudes[0]);
    Ok(Estimate {
        value: fine.values[0],
        stderr: err,
        method: Method::Quadrature { nodes: k2 },
    })
}

/// Options of [`expect_quadrature_adaptive`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuadratureOptions {
    /// Nodes per dimension of the first rule (doubled at each step).
    pub start_nodes: usize,
    /// The largest number of nodes per dimension to try (at most [`MAX_NODES`]).
    pub max_nodes: usize,
    /// The largest number of integrand evaluations of one rule (k^r ≤ this).
    pub max_evaluations: u64,
    /// Stop once the error estimate is ≤ `abs_tol + rel_tol·|value|` for every output.
    pub abs_tol: f64,
    /// See `abs_tol`.
    pub rel_tol: f64,
    /// Whether F is smooth (analytic, e.g. built from tanh, erf, exp, polynomials).
    ///
    /// With δ₀ = |Q_{k/4} − Q_{k/8}|, δ₁ = |Q_{k/2} − Q_{k/4}| and δ₂ = |Q_k − Q_{k/2}| for
    /// the last rules:
    ///
    /// `true`: once the differences drop sharply twice in a row (δ₂ ≤ δ₁/4 and
    /// δ₁ ≤ δ₀/4, the signature of geometric convergence; differences at rounding level
    /// count as drops) the error is δ₂, which then vastly overstates the true error of
    /// Q_k; before that, the cautious estimate below is used, because two early rules can
    /// agree by accident (a steep erf sampled by 8 and 16 nodes, say).
    ///
    /// `false` (kinks or jumps, e.g. ReLU or step), and smooth F before the drop: the
    /// error of Q_k decays only like k^{−p} (p ≈ 1 for kinks, ≈ 1/2 for jumps, measured
    /// in the tests) and can change sign with k, so the error is
    /// max(2·max(δ₁, δ₂), δ₂·ρ/(1 − ρ)) with ρ = δ₂/δ₁ clamped into [1/2, 0.9].
    ///
    /// The loop always computes three rules before stopping, unless the first two agree
    /// to rounding (F is then a polynomial of low degree and both are exact).
    pub smooth: bool,
}

impl Default for QuadratureOptions {
    fn default() -> Self {
        QuadratureOptions {
            start_nodes: 8,
            max_nodes: MAX_NODES,
            max_evaluations: 2_000_000,
            abs_tol: 1e-12,
            rel_tol: 1e-10,
            smooth: true,
        }
    }
}

/// The error estimate for the last of a sequence of rule values (per output), given its
/// rounding magnitude: see [`QuadratureOptions::smooth`].
fn sequence_error(values: &[f64], magnitude: f64, smooth: bool) -> f64 {
    let n = values.len();
    let floor = rounding_floor(magnitude);
    if n < 2 {
        return f64::INFINITY;
    }
    let last = (values[n - 1] - values[n - 2]).abs();
    if n < 3 {
        // No rate information. For a smooth F the difference is the classic estimate
        // (the adaptive loop still asks for a third rule before trusting it); for a
        // kinked F allow for the slow convergence of a jump.
        return if smooth { last } else { 4.0 * last } + floor;
    }
    let prev = (values[n - 2] - values[n - 3]).abs();
    // Geometric convergence shows as sharp drops between successive differences (or
    // differences at rounding level); the last difference then overstates the last
    // rule's error by orders of magnitude. Two drops in a row are required because one
    // can be an accident of the pre-asymptotic regime: two early rules with nearly equal
    // errors look converged. Otherwise the cautious power-law estimate below is used.
    if smooth {
        let drop = |later: f64, earlier: f64| later <= 0.25 * earlier || later <= 2.0 * floor;
        let geometric = if n >= 4 {
            let first = (values[n - 3] - values[n - 4]).abs();
            drop(last, prev) && drop(prev, first)
        } else {
            last <= 2.0 * floor
        };
        if geometric {
            return last + floor;
        }
    }
    // For an error C k^{−p}, successive differences shrink by ρ = 2^{−p} and the error
    // left in the last rule is last·ρ/(1 − ρ). Kinks give p ≈ 1 (ρ ≈ 1/2) and jumps
    // p ≈ 1/2, but the sign of the error can oscillate with k, which makes a single
    // difference accidentally small: hence at least twice the larger of the last two
    // differences, and ρ from their ratio (capped at 0.9, i.e. a factor 9) when that is
    // larger still.
    let rho = if prev > 0.0 {
        (last / prev).clamp(0.5, 0.9)
    } else {
        0.5
    };
    (2.0 * last.max(prev)).max(last * rho / (1.0 - rho)) + floor
}
/// E[F(G)] by Gauss–Hermite rules of increasing order, k = `start_nodes`, 2k, 4k, …, until
/// the error estimate meets the tolerance or the next rule would exceed `max_nodes` or
/// `max_evaluations`.
///
/// The value is that of the last rule computed, with the error of
/// [`QuadratureOptions::smooth`]. If fewer than two rules are affordable the result is
/// [`GaussError::TooManyEvaluations`] (one rule gives no basis for an error estimate);
/// [`super::expect`] then uses Monte Carlo.
pub fn expect_quadrature_adaptive(
    cov: &Array2<f64>,
    f: &dyn Fn(&[f64]) -> f64,
    opts: &QuadratureOptions,
) -> Result<Estimate, GaussError> {
    let gauss = Gaussian::new(cov)?;
    let mut est = adaptive(&gauss, &scalar_as_vec(f), 1, opts)?;
    Ok(est.remove(0))
}

/// The vector-valued form of [`expect_quadrature_adaptive`]: F writes `outputs` values
/// per point, all estimated from the same rules; iteration continues until every output
/// meets the tolerance.
pub fn expect_quadrature_vec(
    cov: &Array2<f64>,
    f: &dyn Fn(&[f64], &mut [f64]),
    outputs: usize,
    opts: &QuadratureOptions,
) -> Result<Vec<Estimate>, GaussError> {
    let gauss = Gaussian::new(cov)?;
    adaptive(&gauss, f, outputs, opts)
}

/// Validates adaptive options.
fn check_options(opts: &QuadratureOptions) -> Result<(), GaussError> {
    let bad = |detail: String| Err(GaussError::BadParameter { detail });
    if opts.start_nodes == 0 {
        return bad("quadrature needs at least one node".into());
    }
    if !(opts.abs_tol >= 0.0 && opts.rel_tol >= 0.0) {
        return bad(format!(
            "quadrature tolerances must be nonnegative numbers, got abs {} and rel {}",
            opts.abs_tol, opts.rel_tol
        ));
    }
    Ok(())
}

/// Estimates from the sequence of rule values computed so far (one vector per rule).
fn estimates_from(
    history: &[Vec<f64>],
    magnitudes: &[f64],
    nodes: usize,
    smooth: bool,
) -> Vec<Estimate> {
    (0..magnitudes.len())
        .map(|o| {
            let seq: Vec<f64> = history.iter().map(|v| v[o]).collect();
            Estimate {
                value: seq.last().copied().unwrap_or(f64::NAN),
                stderr: sequence_error(&seq, magnitudes[o], smooth),
                method: Method::Quadrature { nodes },
            }
        })
        .collect()
}

/// The adaptive loop behind [`expect_quadrature_adaptive`] and the dispatcher.
pub(crate) fn adaptive(
    gauss: &Gaussian,
    f: &dyn Fn(&[f64], &mut [f64]),
    outputs: usize,
    opts: &QuadratureOptions,
) -> Result<Vec<Estimate>, GaussError> {
    check_outputs(outputs)?;
    check_options(opts)?;
    let r = gauss.rank();
    let max_nodes = opts.max_nodes.min(MAX_NODES);
    let affordable = |k: usize| k <= max_nodes && rule_cost(k, r, opts.max_evaluations).is_some();
    let k0 = opts.start_nodes;
    if r == 0 {
        // A rank-0 Gaussian is the point mass at 0: one evaluation is exact.
        let sum = tensor_rule(gauss, f, outputs, &gauss_hermite(1)?, 1)?;
        return Ok(sum
            .values
            .iter()
            .map(|&value| Estimate {
                value,
                stderr: 0.0,
                method: Method::Quadrature { nodes: 1 },
            })
            .collect());
    }
    // Without two rules there is no basis for an error estimate.
    if !affordable(k0) || !affordable(k0.saturating_mul(2)) {
        return Err(GaussError::TooManyEvaluations {
            nodes: k0.saturating_mul(2),
            dim: r,
            limit: opts.max_evaluations,
        });
    }
    let mut history: Vec<Vec<f64>> = Vec::new();
    let mut k = k0;
    let mut current = Vec::new();
    while affordable(k) {
        let sum = tensor_rule(gauss, f, outputs, &gauss_hermite(k)?, opts.max_evaluations)?;
        history.push(sum.values);
        if history.len() >= 2 {
            current = estimates_from(&history, &sum.magnitudes, k, opts.smooth);
            let done = current
                .iter()
                .all(|e| e.stderr <= opts.abs_tol + opts.rel_tol * e.value.abs());
            // Two rules that agree to rounding are exact (F is a low-degree polynomial in
            // the whitened coordinates); otherwise a third rule is needed to see the rate.
            let exact = current
                .iter()
                .zip(&sum.magnitudes)
                .all(|(e, &m)| e.stderr <= 2.0 * rounding_floor(m));
            if done && (history.len() >= 3 || exact) {
                break;
            }
        }
        k *= 2;
    }
    Ok(current)
}
