//! The infinite-width limit (`tp limit`): normalization, Z-recursions and their values.
//!
//! [`limit`] runs scale inference, [`derive()`]s the normalized Θ(1) program and its
//! Tensor Program rules (base Gaussians Ẑ per matrix family, Ż terms, expectations), and
//! [`evaluate()`]s every scalar and every vector's second moment with an error estimate.
//! [`render`] prints the recursion as text and LaTeX; [`law`] gives the joint law of the
//! scalars that stay random in the limit (the kernel regime's Gaussian outputs).

mod closed;
pub mod derive;
pub mod evaluate;
pub mod law;
mod leaves;
pub mod model;
pub mod parity;
mod population;
pub mod render;
pub mod report;
pub mod tangent;
pub mod tape;
pub mod vanishing;

pub use derive::{derive, DeriveError};
pub use evaluate::{
    evaluate, evaluate_independent, evaluate_with_progress, EvalOptions, Evaluation, Number,
    Sampling, Worst,
};
pub use model::{Def, Entry, Family, LimitProgram};
pub use report::{LimitReport, ScalarLimit, VectorLimit};

use crate::ir::Program;

/// Derives and evaluates the limit of `program`; a program with free symbols is
/// refused before any (possibly long) symbolic analysis.
pub fn limit(program: &Program, opts: &EvalOptions) -> Result<LimitReport, crate::TpError> {
    limit_with_progress(program, opts, &|_, _| {})
}

/// [`limit`], calling `progress(done, total)` after each population of the evaluation
/// (see [`evaluate_with_progress`]).
pub fn limit_with_progress(
    program: &Program,
    opts: &EvalOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<LimitReport, crate::TpError> {
    if !program.symbols.is_empty() {
        return Err(crate::TpError::SymbolicLimit {
            symbols: program.symbols.clone(),
        });
    }
    let inference = crate::scale::refine(program);
    let lp = derive(program, &inference)?;
    let evaluation = evaluate_with_progress(&lp, opts, progress);
    let laws = law::laws(&lp, &evaluation, opts);
    let mut report = report::build(lp, &evaluation);
    report.laws = laws;
    Ok(report)
}
