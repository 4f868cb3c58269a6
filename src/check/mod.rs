//! Statistics of finite-width sweeps and verdicts against predicted exponents.
//!
//! [`stats`] holds the numerics (least squares, Student t intervals, bootstrap);
//! [`coordinate_stats`] applies them to every quantity of a [`SweepResult`](crate::sim::SweepResult);
//! [`judge_exponent`] compares a fitted slope with a derived exponent.

mod coord;
pub mod stats;
mod verdict;

pub use coord::{coordinate_stats, QuantityStats};
pub use verdict::{judge_exponent, Predicted, Verdict, DEFAULT_TOLERANCE};
