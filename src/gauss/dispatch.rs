//! The dispatcher: E[F(G)] by quadrature when the Gaussian's rank is small enough, by
//! Monte Carlo otherwise, always with an error estimate.

use super::adaptive::{rank_one, AdaptiveOptions};
use super::error::GaussError;
use super::hermite::MAX_NODES;
use super::monte_carlo::{monte_carlo, MonteCarloOptions};
use super::normal::Gaussian;
use super::polar::polar;
use super::quadrature::{adaptive, scalar_as_vec, QuadratureOptions};
use super::Estimate;
use ndarray::Array2;

/// Options of [`expect`], [`expect_vec`] and [`super::expect_gradient`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExpectOptions {
    /// Whether F is smooth (analytic: polynomials, tanh, erf, exp, sigmoid, sin, GELU…).
    /// Say `false` for anything with a kink or a jump (ReLU, relu^p with small p, step,
    /// |x|, sign): rank 2 then uses polar quadrature instead of tensor Gauss–Hermite,
    /// and tensor rules use a more cautious error estimate. Default `false`, the safe
    /// choice: a smooth F declared non-smooth only costs time.
    pub smooth: bool,
    /// Monte Carlo evaluations when Monte Carlo is used.
    pub samples: usize,
    /// Monte Carlo seed.
    pub seed: u64,
    /// Monte Carlo with antithetic pairs (G, −G); see [`super::monte_carlo`].
    pub antithetic: bool,
    /// Quadrature is used when rank Σ ≤ this (tensor rules cost k^rank evaluations).
    pub max_quadrature_dim: usize,
    /// The largest number of evaluations of one quadrature rule.
    pub max_evaluations: u64,
    /// Absolute tolerance of the quadrature error estimate.
    pub abs_tol: f64,
    /// Relative tolerance of the quadrature error estimate.
    pub rel_tol: f64,
    /// Whether Monte Carlo may be used at all. Without it, an integral that quadrature
    /// cannot do is an error ([`GaussError::NeedsMonteCarlo`]) and an unconverged
    /// quadrature is returned with its error estimate: callers that must tell an exact
    /// zero from a small number (the order of a vanishing limit) use only the
    /// deterministic tiers.
    pub monte_carlo: bool,
}

impl Default for ExpectOptions {
    fn default() -> Self {
        ExpectOptions {
            smooth: false,
            samples: 200_000,
            seed: 0,
            antithetic: false,
            max_quadrature_dim: 3,
            max_evaluations: 2_000_000,
            abs_tol: 1e-12,
            rel_tol: 1e-10,
            monte_carlo: true,
        }
    }
}

impl ExpectOptions {
    /// The quadrature options this implies. Kinked integrands start at 16 nodes: below
    /// that, rules are too coarse for the rate estimate to mean anything.
    pub fn quadrature(&self) -> QuadratureOptions {
        QuadratureOptions {
            start_nodes: if self.smooth { 8 } else { 16 },
            max_nodes: MAX_NODES,
            max_evaluations: self.max_evaluations,
            abs_tol: self.abs_tol,
            rel_tol: self.rel_tol,
            smooth: self.smooth,
        }
    }

    /// The Monte Carlo options this implies.
    pub fn monte_carlo(&self) -> MonteCarloOptions {
        MonteCarloOptions {
            samples: self.samples,
            seed: self.seed,
            antithetic: self.antithetic,
        }
    }
}

/// E[F(G)] for G ~ N(0, Σ) with an error estimate, choosing the method by the rank r of
/// Σ (the number of independent normals behind G) and `opts.smooth`:
///
/// 1. r = 0: F(0), exactly (a point mass);
/// 2. r = 1: adaptive Clenshaw–Curtis panels along the line G = L z, with a break at
///    z = 0 where every coordinate changes sign ([`super::Method::Adaptive`]); robust for kinks,
///    jumps and sharply peaked F alike;
/// 3. r = 2, kinked F: polar quadrature (a Gauss rule along rays from the origin, adaptive
///    over the direction, with breaks where coordinates change sign; [`super::Method::Polar`]),
///    exact to ~1e-10 when the kinks lie on lines through the origin, as they do for
///    ReLU/step of linear combinations of G;
/// 4. r = 2 or 3 with smooth F, and r = 3 with kinked F: adaptive tensor-product
///    Gauss–Hermite quadrature ([`super::expect_quadrature_adaptive`]); it converges
///    geometrically for smooth F but only like k^{−1} on kinks, and its error estimate
///    is cautious accordingly;
/// 5. r > `max_quadrature_dim` (3 by default), or when two quadrature rules do not fit
///    `max_evaluations`: Monte Carlo with `samples` draws from `seed`.
///
/// Whenever a quadrature result misses the tolerance (abs_tol + rel_tol·|value|), Monte
/// Carlo is run as well and, output by output, the estimate with the smaller error is
/// returned. The [`Estimate::method`] says which was used. `max_quadrature_dim = 0`
/// forces Monte Carlo for every r ≥ 1.
pub fn expect(
    cov: &Array2<f64>,
    f: &dyn Fn(&[f64]) -> f64,
    opts: &ExpectOptions,
) -> Result<Estimate, GaussError> {
    let mut est = expect_vec(cov, &scalar_as_vec(f), 1, opts)?;
    Ok(est.remove(0))
}

/// The vector-valued form of [`expect`]: F writes `outputs` values per point; the
/// method is chosen once for all outputs (when quadrature and Monte Carlo are both run,
/// the better estimate is chosen per output).
pub fn expect_vec(
    cov: &Array2<f64>,
    f: &dyn Fn(&[f64], &mut [f64]),
    outputs: usize,
    opts: &ExpectOptions,
) -> Result<Vec<Estimate>, GaussError> {
    let gauss = Gaussian::new(cov)?;
    expect_with(&gauss, f, outputs, opts)
}

/// Whether every estimate meets the tolerance of `opts`.
fn converged(estimates: &[Estimate], opts: &ExpectOptions) -> bool {
    estimates
        .iter()
        .all(|e| e.stderr <= opts.abs_tol + opts.rel_tol * e.value.abs())
}

/// [`expect_vec`] on an already factored Gaussian.
pub(crate) fn expect_with(
    gauss: &Gaussian,
    f: &dyn Fn(&[f64], &mut [f64]),
    outputs: usize,
    opts: &ExpectOptions,
) -> Result<Vec<Estimate>, GaussError> {
    if outputs == 0 {
        return Err(GaussError::BadParameter {
            detail: "a vector integrand must have at least one output".into(),
        });
    }
    let r = gauss.rank();
    let adaptive_opts = AdaptiveOptions {
        abs_tol: opts.abs_tol,
        rel_tol: opts.rel_tol,
        max_evaluations: opts.max_evaluations,
    };
    let quadrature = if r > opts.max_quadrature_dim && r > 0 {
        None
    } else if r == 1 {
        Some(rank_one(gauss, f, outputs, &adaptive_opts)?)
    } else if r == 2 && !opts.smooth {
        Some(polar(gauss, f, outputs, &adaptive_opts, 8)?)
    } else {
        match adaptive(gauss, f, outputs, &opts.quadrature()) {
            Ok(q) => Some(q),
            // Not even two rules fit the budget: Monte Carlo below.
            Err(GaussError::TooManyEvaluations { .. }) => None,
            Err(e) => return Err(e),
        }
    };
    match quadrature {
        Some(q) if r == 0 || converged(&q, opts) || !opts.monte_carlo => Ok(q),
        Some(q) => {
            let mc = monte_carlo(gauss, f, outputs, &opts.monte_carlo())?;
            Ok(q.into_iter()
                .zip(mc)
                .map(|(q, m)| if m.stderr < q.stderr { m } else { q })
                .collect())
        }
        None if !opts.monte_carlo => Err(GaussError::NeedsMonteCarlo { rank: r }),
        None => monte_carlo(gauss, f, outputs, &opts.monte_carlo()),
    }
}
