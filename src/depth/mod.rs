//! Depth as a size: residual networks whose depth L grows (Cont–Rossier–Xu 2022; Hayou
//! 2023 and Zheng 2024), their ODE/SDE and McKean–Vlasov limits, and finite-depth
//! simulation under a synchronous coupling with the limit.

pub mod derive;
pub mod equation;
pub mod evaluate;
pub mod model;
pub mod power;
pub mod render;
pub mod simulate;
pub mod sweep;

pub use equation::{CrxEquation, HayouEquation, MvEquation, MvSource};
pub use model::{CrxNet, DepthProgram, HayouKind, HayouNet, Resnet};
