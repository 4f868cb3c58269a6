//! Shaped networks in the proportional limit: an MLP whose activation tends to the
//! identity as the width n grows, run to a depth d = τ n, whose Gram matrix follows the
//! neural covariance SDE in τ (Li, Nica & Roy 2022).

pub mod blowup;
pub mod canon;
pub mod derive;
pub mod evaluate;
pub mod model;
pub mod moments;
pub mod poly;
pub mod render;
pub mod simulate;
pub mod taylor;

pub use model::{NumericKind, NumericShaped, ShapedAct, ShapedError, ShapedProgram, SmoothAct};
pub use poly::{Atom, Func, Monomial, Poly};
pub use taylor::{taylor_at_zero, TaylorError};
