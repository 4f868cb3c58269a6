//! The errors of the mean-field stages: what a user can cause by the numbers they choose.

use thiserror::Error;

/// A mean-field request that cannot be answered as asked.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum MfError {
    /// A schedule exponent (α or β) is symbolic where a number is needed.
    #[error("`{0}` is symbolic here; give it a value with `--set` (e.g. `--set beta=3/4`)")]
    Symbolic(String),
    /// α or β (or γ, T, N) lies outside the range the theory covers.
    #[error("{what} = {value} is outside {range}")]
    OutOfRange {
        /// Which parameter.
        what: String,
        /// Its value, as printed.
        value: String,
        /// The admissible range, as printed.
        range: String,
    },
    /// The horizon needs more SGD steps than [`crate::bounds::MAX_MF_STEPS`].
    #[error("reaching T = {horizon} with N = {particles} takes more than {max} SGD steps (n_T = floor(T / gamma_(alpha,beta)(N)) >= {lower}); lower T or N, or raise gamma")]
    TooManySteps {
        /// The horizon T, as printed.
        horizon: String,
        /// The number of particles N.
        particles: u64,
        /// The bound on the number of steps.
        max: u64,
        /// A lower bound of n_T (the bound plus one when n_T is beyond it).
        lower: String,
    },
    /// The exact computation would need numbers beyond [`crate::bounds::MAX_EXACT_BITS`].
    #[error("the exact step count needs numbers of about {bits} bits (more than {max}); use exponents with smaller denominators")]
    TooLarge {
        /// Estimated size of the largest number.
        bits: u64,
        /// The bound.
        max: u64,
    },
}
