//! Mean-field two-layer SGD: N particles trained by SGD with a step γ N^β that may decay
//! as n^{-α}, in the time t = n γ_{α,β}(N); as N → ∞ the particles become i.i.d. and
//! follow a McKean–Vlasov ODE (β < 1) or SDE (β = 1) (De Bortoli, Durmus, Fontaine &
//! Şimşekli 2020, "Quantitative propagation of chaos for SGD in wide neural networks").

pub mod derive;
pub mod error;
pub mod field;
pub mod floats;
pub mod horizon;
pub mod limit;
pub mod model;
pub mod quadrature;
pub mod render;
pub mod shard;
pub mod simulate;
pub mod stationary;
pub mod toy;
pub mod w2;

pub use error::MfError;
pub use model::{Data, Formula, InitLaw, Loss, MeanFieldProgram, XLaw};
