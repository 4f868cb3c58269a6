//! The infinite-width limit (`tp limit`): normalization, Z-recursions and their values.
//!
//! [`limit`] runs scale inference, [`derive`]s the normalized Θ(1) program and its
//! Tensor Program rules (base Gaussians Ẑ per matrix family, Ż terms, expectations), and
//! [`evaluate`]s every scalar and every vector's second moment with an error estimate.
//! [`render`] prints the recursion as text and LaTeX; [`law`] gives the joint law of the
//! scalars that stay random in the limit (the kernel regime's Gaussian outputs).

mod closed;
pub mod derive;
pub mod evaluate;
pub mod law;
mod leaves;
pub mod model;
pub mod parity;
pub mod render;
pub mod report;
pub mod tangent;
pub mod tape;
pub mod vanishing;

pub use derive::{derive, DeriveError};
pub use evaluate::{evaluate, EvalOptions, Evaluation, Number};
pub use model::{Def, Entry, Family, LimitProgram};
pub use report::{LimitReport, ScalarLimit, VectorLimit};

use crate::ir::Program;

/// Derives and evaluates the limit of `program`; a program with free symbols is
/// refused before any (possibly long) symbolic analysis.
pub fn limit(program: &Program, opts: &EvalOptions) -> Result<LimitReport, crate::TpError> {
    if !program.symbols.is_empty() {
        return Err(crate::TpError::SymbolicLimit {
            symbols: program.symbols.clone(),
        });
    }
    let inference = crate::scale::refine(program);
    let lp = derive(program, &inference)?;
    let evaluation = evaluate(&lp, opts);
    let laws = law::laws(&lp, &evaluation, opts);
    let mut report = report::build(lp, &evaluation);
    report.laws = laws;
    Ok(report)
}
