//! Finite-width Monte Carlo: runs a Tensor Program at a concrete width n.
//!
//! [`draw`] samples every random object of a program (the n×n matrices Ŵ and the
//! Gaussian sources) from a seed; [`execute`] then computes every instruction's value
//! on that sample, stopping at the first NaN or infinity, which it reports as a
//! [`BlowUp`] rather than returning meaningless numbers. The draws are reproducible bit
//! for bit from (seed, object), and nested across widths (see [`draw_matrix`]), so width
//! sweeps with a fixed seed follow one network as it grows.
//!
//! One execution is single-threaded and deterministic; seeds and widths are independent,
//! and [`sweep`] runs every (width, seed) pair in parallel (rayon), reducing each to the
//! sizes a coordinate check needs, with results that do not depend on the thread count.
//! To run many seeds at one width by hand, reuse one [`Sample`] with [`draw_into`]:
//! allocating a fresh n×n matrix costs about as much as filling it.
//!
//! A program must have numeric exponents: symbolic parameters are fixed before
//! simulation (`--set`), otherwise [`SimError::SymbolicExponent`] is returned.

mod error;
mod eval;
mod exec;
pub(crate) mod gaussian;
mod memory;
mod product;
mod sample;
pub mod shard;
mod sweep;
mod validate;

pub use error::SimError;
pub use exec::{execute, simulate, BlowUp, BlowUpKind, Execution, Value};
pub use memory::{default_memory_limit, estimate_bytes};
pub use sample::{
    draw, draw_into, draw_into_with_limit, draw_matrix, draw_with_limit, Sample, SourceSample,
};
pub use sweep::{
    check_request, quantities, run_cells, sweep, sweep_bytes, sweep_with_limit, Measurement,
    ProgressFn, Quantity, Run, SweepBlowUp, SweepProgress, SweepResult, DEFAULT_WIDTHS,
};
pub use validate::validate;
