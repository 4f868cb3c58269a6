//! Gaussian expectations E[F(G)], G ~ N(0, Σ) a finite centred Gaussian vector, with an
//! honest error estimate and the method named.
//!
//! The infinite-width limit reduces every quantity of a Tensor Program to such an
//! expectation (the master theorem; Yang & Hu 2021, Tensor Programs IV, Thm 7.4). This
//! module evaluates them by
//! - closed forms ([`closed_form`]): ReLU moments, the arc-cosine kernels (Cho & Saul
//!   2009), the arcsine kernel of erf (Williams 1997) and their derivative kernels, and
//!   the NNGP/NTK recursions of deep ReLU and erf networks built from them
//!   ([`kernels`]);
//! - quadrature in the whitened coordinates z of a pivoted Cholesky factor (G = L z, so
//!   a singular Σ costs only its rank): tensor-product Gauss–Hermite ([`hermite`],
//!   [`mod@quadrature`]) for smooth F; for rank 1 adaptive Clenshaw–Curtis panels along
//!   the line, and for rank 2 with kinked F a polar rule (a Gauss rule of the χ₂ law
//!   along rays, adaptive panels over the angle, breaks where coordinates change sign),
//!   which make ReLU/step expectations exact to ~1e-12;
//! - Monte Carlo ([`monte_carlo`]) from a seeded ChaCha stream, optionally antithetic;
//! - a dispatcher [`expect`] that picks among these by rank and smoothness, and Stein's
//!   lemma ([`expect_gradient`]) for E[∇F(G)] without differentiating F;
//! - the linear algebra they need ([`linalg`]: PSD-tolerant Cholesky, solves,
//!   pseudo-inverse) and a multivariate normal sampler ([`Gaussian`]).
//!
//! Every numerical result is an [`Estimate`]: a value, an error (0 for closed forms, a
//! conservative truncation-error estimate for quadrature, the standard error for Monte
//! Carlo) and the [`Method`] that produced it.
//!
//! Integrands are `&dyn Fn(&[f64]) -> f64` (a scalar F) or
//! `&dyn Fn(&[f64], &mut [f64])` (a vector-valued F writing its outputs into the
//! slice; all outputs share the same evaluation points, which is how a whole covariance
//! matrix of Z's is computed in one pass). They receive the point G (length d).

mod adaptive;
pub mod closed_form;
mod dispatch;
mod error;
pub mod hermite;
pub mod kernels;
pub mod linalg;
pub mod monte_carlo;
mod normal;
mod polar;
pub mod quadrature;
pub(crate) mod recurrence;
mod stein;

pub use dispatch::{expect, expect_vec, ExpectOptions};
pub use error::GaussError;
pub use hermite::{gauss_hermite, HermiteRule, MAX_NODES};
pub use kernels::{
    input_gram, nngp, nngp_layers, ntk, ntk_layers, KernelActivation, NngpLayers, NtkLayers,
};
pub use linalg::{
    cholesky_psd, pivoted_cholesky, pseudo_inverse_psd, solve, PivotedCholesky, PSD_TOLERANCE,
};
pub use monte_carlo::{expect_mc, expect_mc_vec, expect_mc_with, MonteCarloOptions};
pub use normal::Gaussian;
pub use quadrature::{
    expect_quadrature, expect_quadrature_adaptive, expect_quadrature_vec, quadrature,
    QuadratureOptions,
};
pub use stein::expect_gradient;

use std::fmt;

/// How an [`Estimate`] was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Method {
    /// An exact formula; the error is rounding only.
    ClosedForm,
    /// Tensor-product Gauss–Hermite quadrature with `nodes` nodes per (whitened)
    /// dimension.
    Quadrature {
        /// Nodes per dimension of the rule whose value is reported.
        nodes: usize,
    },
    /// Polar quadrature (rank 2, kinked integrands): a Gauss rule of the χ₂ law with
    /// `radial_nodes` nodes along each of `directions` directions, chosen by adaptive
    /// Clenshaw–Curtis panels over the angle (see [`expect`]).
    Polar {
        /// Nodes of the radial rule whose values are reported.
        radial_nodes: usize,
        /// Number of directions (rays from the origin) evaluated.
        directions: u64,
    },
    /// Adaptive Clenshaw–Curtis quadrature along the line (rank 1) with `points` points
    /// (see [`expect`]).
    Adaptive {
        /// Number of points (integrand evaluations).
        points: u64,
    },
    /// Monte Carlo with `samples` integrand evaluations.
    MonteCarlo {
        /// Number of integrand evaluations (twice the number of pairs when antithetic).
        samples: usize,
    },
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Method::ClosedForm => write!(f, "closed form"),
            Method::Quadrature { nodes } => {
                let s = if *nodes == 1 { "" } else { "s" };
                write!(
                    f,
                    "Gauss–Hermite quadrature ({nodes} node{s} per dimension)"
                )
            }
            Method::Polar {
                radial_nodes,
                directions,
            } => write!(
                f,
                "polar quadrature ({radial_nodes} radial nodes × {directions} directions)"
            ),
            Method::Adaptive { points } => {
                write!(f, "adaptive Clenshaw–Curtis quadrature ({points} points)")
            }
            Method::MonteCarlo { samples } => {
                let s = if *samples == 1 { "" } else { "s" };
                write!(f, "Monte Carlo ({samples} sample{s})")
            }
        }
    }
}

/// A numerical value of an expectation with its error estimate and method.
///
/// `stderr` means: 0 for [`Method::ClosedForm`]; for the quadratures
/// ([`Method::Quadrature`], [`Method::Polar`], [`Method::Adaptive`]) a conservative
/// estimate of |value − exact| (from comparing rules of different orders, see
/// [`mod@quadrature`] and [`expect`]), so it is a bound-like number, not a standard
/// deviation; for [`Method::MonteCarlo`] the sample standard error (the exact value lies
/// within ±2·stderr about 95% of the time).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Estimate {
    /// The estimated expectation.
    pub value: f64,
    /// The error estimate (see the type's documentation).
    pub stderr: f64,
    /// How the value was obtained.
    pub method: Method,
}

impl Estimate {
    /// An exact value from a closed form (stderr 0).
    pub fn closed_form(value: f64) -> Self {
        Estimate {
            value,
            stderr: 0.0,
            method: Method::ClosedForm,
        }
    }

    /// Whether `reference` lies within `sigmas` error estimates of the value, with an
    /// absolute slack `abs` for rounding (useful when stderr is 0 or tiny).
    pub fn is_consistent_with(&self, reference: f64, sigmas: f64, abs: f64) -> bool {
        (self.value - reference).abs() <= sigmas * self.stderr + abs
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.stderr == 0.0 {
            write!(f, "{} ({})", self.value, self.method)
        } else {
            write!(f, "{} ± {:.2e} ({})", self.value, self.stderr, self.method)
        }
    }
}
