//! Statistics of finite-width sweeps and verdicts against derived exponents and limits.
//!
//! [`stats`] holds the numerics (least squares, Student t intervals, jackknife);
//! [`coordinate_stats`] applies them to every quantity of a [`SweepResult`](crate::sim::SweepResult);
//! [`judge_exponent`] compares a fitted slope with a derived exponent; [`judge_limits`]
//! compares finite-width scalars with their infinite-width limits; [`judge_law`] the
//! across-seed law of those that stay random in the limit; [`run_check`] and
//! [`check_sweep`] are `tp check`: every quantity of a program judged by its rule.

mod coord;
pub mod depth;
pub mod depth_program;
pub mod extrapolate;
mod law;
mod limit;
pub mod meanfield;
pub mod mutation;
mod program;
pub mod shaped;
pub mod stats;
pub mod terms;
mod verdict;

pub use coord::{coordinate_stats, QuantityStats};
pub use law::{chi_square_cdf, judge_law, LawCheck, LawSample, LawValue};
pub use limit::{judge_limit, judge_limits, ErrorAtWidth, LimitCheck, LimitValue, LEVEL};
pub use program::{
    check_finished, check_sweep, check_sweep_with_laws, require_numeric, run_check, CheckInputs,
    CheckOptions, CheckReport, Measure, QuantityVerdict, Rule, Unchecked, DEFAULT_LAW_SEEDS,
};
pub use verdict::{judge_exponent, Predicted, Verdict, DEFAULT_TOLERANCE};
