//! From the power counting to the limit: the regime (numeric programs) or the phase
//! diagram (symbolic ones), and the limit equation with exactly the terms found at
//! order L^0.

use super::equation::{CrxEquation, HayouEquation, MvEquation, MvSource};
use super::model::{DepthProgram, HayouKind, Resnet};
use super::power::{
    count_crx, count_hayou, phase_diagram, regime_at, Counting, Part, Regime, Verdict,
};
use crate::exponent::Cond;
use serde::Serialize;
use std::collections::BTreeMap;

/// The depth limit of a numeric program.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum DepthLimit {
    /// A Cont–Rossier–Xu network: an ODE or SDE for H_t (None: explosion, no limit).
    Crx {
        /// The equation (None when the regime has no limit).
        equation: Option<CrxEquation>,
    },
    /// A Hayou/Zheng network: the SDE at fixed width n and, after it, the width limit.
    Hayou {
        /// The L → ∞ limit at fixed n (None when the regime has no limit).
        sde: Option<HayouEquation>,
        /// The n → ∞ limit taken after L → ∞ (None when there is no depth limit).
        mv: Option<MvEquation>,
    },
}

/// Everything derived about a depth program.
#[derive(Clone, Debug, Serialize)]
pub struct Derivation {
    /// The counted terms.
    pub counting: Counting,
    /// The regime, when every symbol has a value.
    pub verdict: Option<Verdict>,
    /// The phase diagram as conditions on the symbols (symbolic programs); rendered
    /// for JSON by the report.
    #[serde(skip)]
    pub diagram: Vec<(Regime, Cond)>,
    /// The limit (numeric programs with a limit).
    pub limit: Option<DepthLimit>,
}

/// Deliberately wrong derivations, to measure the power of `tp check` (each must FAIL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DepthMutation {
    /// Drop the Itô correction (σ''(0)/2) q(H) from the SDE.
    NoIto,
    /// Derive with α + 1/4 instead of α.
    AlphaOffByQuarter,
    /// The Zheng report's final McKean–Vlasov SDE with a = b = c = ½ (constant diffusion
    /// [[1, 1], [1, 1]]).
    ZhengReport,
}

impl DepthMutation {
    /// Every mutation, in a fixed order.
    pub const ALL: [DepthMutation; 3] = [
        DepthMutation::NoIto,
        DepthMutation::AlphaOffByQuarter,
        DepthMutation::ZhengReport,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            DepthMutation::NoIto => "no-ito",
            DepthMutation::AlphaOffByQuarter => "alpha-plus-quarter",
            DepthMutation::ZhengReport => "zheng-report-sde",
        }
    }

    /// Whether the mutation changes anything for this program (a mutation that does
    /// not apply is not run).
    pub fn applies_to(self, prog: &DepthProgram) -> bool {
        match (self, &prog.net) {
            (DepthMutation::NoIto, Resnet::Crx(net)) => {
                let t = prog.taylor_at_zero(net.act);
                t[2].is_some_and(|v| v.abs() > 1e-12) && (net.noise != 0.0 || net.bias_noise != 0.0)
            }
            (DepthMutation::AlphaOffByQuarter, Resnet::Crx(_)) => true,
            (DepthMutation::ZhengReport, Resnet::Hayou(net)) => net.sketch,
            _ => false,
        }
    }
}

/// Derives the regime, phase diagram and limit of `prog`, optionally deliberately wrong.
pub fn derive(prog: &DepthProgram, mutation: Option<DepthMutation>) -> Derivation {
    let mut prog = prog.clone();
    if mutation == Some(DepthMutation::AlphaOffByQuarter) {
        if let Resnet::Crx(net) = &mut prog.net {
            net.alpha = net
                .alpha
                .plus(&crate::exponent::Rational::new(1.into(), 4.into()));
        }
    }
    let counting = match &prog.net {
        Resnet::Crx(net) => count_crx(&prog, net),
        Resnet::Hayou(net) => count_hayou(&prog, net),
    };
    let diagram = if prog.symbols.is_empty() {
        Vec::new()
    } else {
        phase_diagram(&counting)
    };
    let verdict = regime_at(&counting, &BTreeMap::new());
    let limit = verdict.as_ref().and_then(|v| limit_of(&prog, v, mutation));
    Derivation {
        counting,
        verdict,
        diagram,
        limit,
    }
}

/// The limit equation of a numeric program in regime `v`.
fn limit_of(
    prog: &DepthProgram,
    v: &Verdict,
    mutation: Option<DepthMutation>,
) -> Option<DepthLimit> {
    if matches!(v.regime, Regime::Explosion | Regime::NotAnalysed) {
        return match prog.net {
            Resnet::Crx(_) => Some(DepthLimit::Crx { equation: None }),
            Resnet::Hayou(_) => Some(DepthLimit::Hayou {
                sde: None,
                mv: None,
            }),
        };
    }
    let has = |p: Part| v.kept.contains(&p);
    match &prog.net {
        Resnet::Crx(net) => {
            let t = prog.taylor_at_zero(net.act);
            let taylor = [
                t[0].unwrap_or(f64::NAN),
                t[1].unwrap_or(f64::NAN),
                t[2].unwrap_or(f64::NAN),
            ];
            let ito =
                has(Part::Ito) && taylor[2].abs() > 1e-12 && mutation != Some(DepthMutation::NoIto);
            Some(DepthLimit::Crx {
                equation: Some(CrxEquation {
                    delta: net.delta,
                    full_activation: has(Part::Full),
                    linear_trend: has(Part::Linear),
                    constant: has(Part::Constant),
                    ito,
                    noise: has(Part::Noise),
                    taylor,
                }),
            })
        }
        Resnet::Hayou(net) => {
            let sde = HayouEquation::of(net, has(Part::SkipDrift), has(Part::Branch));
            let source = if mutation == Some(DepthMutation::ZhengReport) {
                MvSource::Constant([[1.0, 1.0], [1.0, 1.0]])
            } else {
                MvSource::Derived
            };
            // The width limit after the depth limit needs the depth limit to be the SDE.
            let mv = (v.regime == Regime::Sde || v.regime == Regime::Trivial).then(|| MvEquation {
                source,
                gain: net.gain,
                sketch: net.sketch && net.kind == HayouKind::Type1,
            });
            Some(DepthLimit::Hayou { sde: Some(sde), mv })
        }
    }
}
