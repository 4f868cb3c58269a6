//! `tp simulate` for a depth program: the derivation's limit (for the coupling) and the
//! finite-depth sweep, in one call.

use super::derive::{derive, DepthLimit};
use super::model::{DepthProgram, HayouKind, Resnet};
use super::simulate::{simulate_crx, simulate_hayou, CrxSweep, DepthSweepOptions, HayouSweep};
use serde::Serialize;

/// A finite-depth sweep of either family.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum DepthSweep {
    /// Cont–Rossier–Xu.
    Crx(CrxSweep),
    /// Hayou/Zheng.
    Hayou(HayouSweep),
}

/// Runs `prog` at every size of `opts`, each run coupled to the derived limit where a
/// coupling exists (CRX with a limit; Hayou type 1).
pub fn run_sweep(
    prog: &DepthProgram,
    opts: &DepthSweepOptions,
) -> Result<DepthSweep, crate::TpError> {
    let d = derive(prog, None);
    let err =
        |e: super::simulate::DepthSimError| crate::TpError::Depth(format!("cannot simulate: {e}"));
    match (&prog.net, &d.limit) {
        (Resnet::Crx(_), limit) => {
            let eq = match limit {
                Some(DepthLimit::Crx { equation }) => equation.as_ref(),
                _ => None,
            };
            Ok(DepthSweep::Crx(simulate_crx(prog, eq, opts).map_err(err)?))
        }
        (Resnet::Hayou(net), limit) => {
            let eq = match limit {
                Some(DepthLimit::Hayou { sde, .. }) if net.kind == HayouKind::Type1 => sde.as_ref(),
                _ => None,
            };
            Ok(DepthSweep::Hayou(
                simulate_hayou(prog, eq, opts).map_err(err)?,
            ))
        }
    }
}
