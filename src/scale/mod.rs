//! Scale inference and regime classification over the IR (`tp scale`).
//!
//! [`analyze`] computes, for every quantity of an elaborated program, the exponent e
//! with RMS = Θ(n^e), the exponent of its change since step 0, a derivation trace, and
//! the regime (stable, nontrivial, feature learning) — as booleans for numeric programs
//! and as simplified conditions on the symbols for symbolic ones.

mod cells;
mod ex;
mod facts;
mod infer;
mod regime;
mod report;
mod vanishing;
mod view;

pub use cells::{Limits, REGION_LIMIT};
pub use ex::Exp;
pub use facts::{FactTable, FunctionFacts, Symmetry};
pub use infer::{Facts, Inference, TooComplex};
pub use regime::Holds;
pub use regime::{classify, Regime};
pub use report::{analyze, analyze_with, Quantity, ScaleReport, SCALE_SCHEMA};
pub use vanishing::{refine, Left, Vanishing};
