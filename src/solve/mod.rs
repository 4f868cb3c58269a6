//! Small numerical solvers for the depth limits: classical Runge–Kutta for ODEs
//! ([`ode`]), Euler–Maruyama and Milstein steps for SDEs whose Brownian increments the
//! caller supplies ([`sde`]), deterministic Brownian increments ([`brownian`]), and
//! Euler–Maruyama and RK4 for the SDE of a Gram matrix ([`gram`]).
//!
//! The SDE steps take the increments as arguments instead of drawing them, so that one
//! set of increments can drive both a finite network and its limit equation (a
//! synchronous coupling): the difference of the two paths then measures the
//! discretization, not the luck of two independent draws. Every routine works in
//! caller-owned buffers or in a workspace allocated once, so a long integration
//! allocates nothing per step.

pub mod brownian;
pub mod gram;
pub mod ode;
pub mod sde;

pub use brownian::{matrix_entry, Brownian, StepNoise};
pub use ode::{rk4_end, rk4_path, rk4_with_error, Path, Rk4, Rk4Estimate};
pub use sde::{
    central_derivative, euler_maruyama_scalar, euler_maruyama_update, milstein_diagonal,
    milstein_scalar, EulerMaruyama,
};

/// Why a solver refuses its arguments.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SolveError {
    /// An integration over zero steps was asked for.
    #[error("an integration needs at least one step")]
    ZeroSteps,
    /// A buffer's length differs from the dimension of the system.
    #[error("`{what}` has length {found} but the system has dimension {expected}")]
    Dimension {
        /// Which argument.
        what: &'static str,
        /// The dimension of the system.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// The interval's ends are not finite numbers.
    #[error("the interval [{t0}, {t1}] does not have finite ends")]
    BadInterval {
        /// Its start, as printed.
        t0: String,
        /// Its end, as printed.
        t1: String,
    },
    /// The recording times, step or starting point of a Gram SDE make no sense.
    #[error("bad integration grid: {detail}")]
    BadGrid {
        /// What is wrong, as printed.
        detail: String,
    },
    /// A path was asked for at every `every`-th step, which does not divide `steps`.
    #[error("recording every {every} steps does not divide {steps} steps")]
    StrideMismatch {
        /// The number of steps.
        steps: usize,
        /// The recording stride.
        every: usize,
    },
}

/// Checks that a buffer has the system's dimension.
pub(crate) fn check_len(
    what: &'static str,
    expected: usize,
    found: usize,
) -> Result<(), SolveError> {
    if expected == found {
        Ok(())
    } else {
        Err(SolveError::Dimension {
            what,
            expected,
            found,
        })
    }
}
