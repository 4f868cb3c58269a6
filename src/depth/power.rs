//! Power counting in the depth L: which terms of one residual layer's increment survive
//! when L layers are summed, and so which limit (ODE, SDE, trivial, explosion) the
//! network has. Derived from the Taylor data of the activation at 0, never tabulated.
//!
//! For the Cont–Rossier–Xu layer h_{k+1} − h_k = δ L^{-α} σ(ΔY_k) with
//! ΔY_k = L^{-β} T_k + L^{-γ} N_k (trend T = Āh + b̄, i.i.d. part N = s ξ h + s_b ξ_b with
//! ξ standard Gaussian), σ(u) = Σ_j σ^{(j)}(0) u^j / j! splits ΔY^j into
//! (L^{-β}T)^{j−m} (L^{-γ}N)^m. One layer's term is of size L^{-α-(j−m)β-mγ}. Summed over
//! L layers, a term with a non-zero conditional mean (m even) adds up to L^{1+e}; a
//! mean-zero term (m odd, or the fluctuation of an even one around its mean) is a
//! martingale and adds up to L^{1/2+e}. Terms at L^0 make the limit; a positive exponent
//! is an explosion; all negative is a trivial limit, and the largest negative exponent
//! is the rate at which the network approaches its limit (with the discretization error
//! of the limit, L^-1 for an ODE and L^-1/2 for an SDE, Euler–Maruyama's strong order).
//! When β = 0 every trend order j is at the same exponent: σ is kept whole (the neural
//! ODE). The counting is valid for β ≥ 0 and γ > 0, where higher orders are dominated.

use super::model::{CrxNet, DepthProgram, HayouNet};
use crate::exponent::{Cond, Exp, Exponent, Rational};
use serde::Serialize;
use std::collections::BTreeMap;

/// What a counted term becomes in the limit when its exponent is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// δσ(0) dt.
    Constant,
    /// δσ(Ā_t H + b̄_t) dt (β = 0: every trend order at once).
    Full,
    /// δσ'(0)(Ā_t H + b̄_t) dt.
    Linear,
    /// δσ'(0)(s dB^A H + s_b dB^b).
    Noise,
    /// δ(σ''(0)/2) q(H) dt, the Itô correction.
    Ito,
    /// Branch of a Hayou ResNet: −½ f dt from the skip path's √(1−β²).
    SkipDrift,
    /// Branch of a Hayou ResNet: the Brownian part.
    Branch,
    /// A term that can only vanish or explode (never part of a limit here).
    Other,
}

/// Whether the summed term grows like its mean (L · one layer) or like a martingale
/// (√L · one layer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Non-zero conditional mean: the sum is L times one layer.
    Drift,
    /// Mean zero given the past: the sum is √L times one layer.
    Martingale,
}

/// One term of the expanded layer increment.
#[derive(Clone, Debug, Serialize)]
pub struct Term {
    /// The term as text, e.g. `σ''(0)/2 · (L^-γ N)^2`.
    pub label: String,
    /// Drift or martingale.
    pub role: Role,
    /// The exponent of L of the term summed over all layers (exact, maybe symbolic).
    pub exponent: Exponent,
    /// What it becomes in the limit at exponent 0.
    pub part: Part,
    /// The power of the i.i.d. part in the term (0 for a trend-only term, which joins
    /// σ(Ā_t H + b̄_t) when β = 0).
    pub noise_power: usize,
}

impl Term {
    /// What the term becomes in the limit when β = 0 (`full`) or β > 0.
    fn part_in(&self, full: bool) -> Part {
        if full && self.noise_power == 0 && self.role == Role::Drift {
            Part::Full
        } else {
            self.part
        }
    }
}

/// The regimes of a residual network's depth limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// dH = δσ(Ā_t H + b̄_t) dt.
    NeuralOde,
    /// dH = δσ'(0)(Ā_t H + b̄_t) dt: σ has disappeared.
    LinearOde,
    /// dH = δσ(0) dt only.
    ConstantOde,
    /// An SDE with a trend (and the Itô correction when σ''(0) ≠ 0).
    Sde,
    /// An SDE whose trend has vanished.
    SdeWithoutTrend,
    /// Every term vanishes: H_t ≡ x.
    Trivial,
    /// Some term grows with L: no limit.
    Explosion,
    /// Outside the counting's domain (β < 0 or γ ≤ 0), or a leading term the expansion
    /// does not cover.
    NotAnalysed,
}

impl Regime {
    /// The regime's name as printed.
    pub fn name(self) -> &'static str {
        match self {
            Regime::NeuralOde => "neural ODE",
            Regime::LinearOde => "linear ODE",
            Regime::ConstantOde => "constant-drift ODE",
            Regime::Sde => "SDE",
            Regime::SdeWithoutTrend => "SDE without trend",
            Regime::Trivial => "trivial (H_t = x)",
            Regime::Explosion => "explosion",
            Regime::NotAnalysed => "not analysed",
        }
    }
}

/// The power counting of a network: its terms and the activation's Taylor data.
#[derive(Clone, Debug, Serialize)]
pub struct Counting {
    /// Every term with a non-zero coefficient.
    pub terms: Vec<Term>,
    /// The terms that exist only when β = 0 (σ kept whole) replace the trend-only terms
    /// there; `None` for a Hayou network.
    pub beta: Option<Exponent>,
    /// γ (CRX only).
    pub gamma: Option<Exponent>,
    /// σ(0), σ'(0), σ''(0), σ'''(0) where they exist.
    pub taylor: [Option<f64>; 4],
    /// Why the counting does not apply at all (e.g. σ not C³ at 0), if so.
    pub refusal: Option<String>,
}

/// Counting failed for a reason the user must fix.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
pub enum CountingError {
    /// The activation lacks the Taylor data the expansion needs.
    #[error("{0}")]
    Taylor(String),
}

fn q(n: i64, d: i64) -> Rational {
    Rational::new(n.into(), d.into())
}

fn nonzero(x: Option<f64>) -> bool {
    x.is_some_and(|v| v.abs() > 1e-12)
}

/// Counts the terms of a Cont–Rossier–Xu layer.
pub fn count_crx(prog: &DepthProgram, net: &CrxNet) -> Counting {
    let taylor = prog.taylor_at_zero(net.act);
    let has_trend = net.trend.is_some() || net.bias_trend.is_some();
    let has_noise = net.noise != 0.0 || net.bias_noise != 0.0;
    let mut terms = Vec::new();
    let refusal = match taylor {
        [Some(_), Some(_), Some(_), Some(_)] => None,
        _ => Some(format!(
            "the activation `{}` has no third-order Taylor expansion at 0 (the power \
             counting of Cont, Rossier & Xu needs σ ∈ C³ near 0; ReLU is excluded there); \
             use a smooth activation (tanh, a formula such as `tanh(x) + tanh(x)^2/2`)",
            prog.act_name(net.act)
        )),
    };
    if refusal.is_some() {
        return Counting {
            terms,
            beta: Some(net.beta.clone()),
            gamma: Some(net.gamma.clone()),
            taylor,
            refusal,
        };
    }
    let names = ["σ(0)", "σ'(0)", "σ''(0)/2", "σ'''(0)/6"];
    let one = Exponent::constant(q(1, 1));
    for (j, name) in names.iter().enumerate() {
        if !nonzero(taylor[j]) {
            continue;
        }
        for m in 0..=j {
            let trend_power = j - m;
            if (trend_power > 0 && !has_trend) || (m > 0 && !has_noise) {
                continue;
            }
            // The size of one layer's term: L^{-α - (j-m)β - mγ}.
            let mut e = net.alpha.neg();
            e = e.sub(&net.beta.scale(&q(trend_power as i64, 1)));
            e = e.sub(&net.gamma.scale(&q(m as i64, 1)));
            let label = term_label(name, trend_power, m);
            let part = match (j, trend_power, m) {
                (0, _, _) => Part::Constant,
                (1, 1, 0) => Part::Linear,
                (1, 0, 1) => Part::Noise,
                (2, 0, 2) => Part::Ito,
                _ => Part::Other,
            };
            if m % 2 == 0 {
                terms.push(Term {
                    label: label.clone(),
                    role: Role::Drift,
                    exponent: one.add(&e),
                    part,
                    noise_power: m,
                });
            }
            // The fluctuation around the conditional mean (the whole term when m is odd).
            if m > 0 {
                let what = if m % 2 == 0 {
                    format!("fluctuation of {label}")
                } else {
                    label
                };
                terms.push(Term {
                    label: what,
                    role: Role::Martingale,
                    exponent: e.plus(&q(1, 2)),
                    part: if m % 2 == 1 { part } else { Part::Other },
                    noise_power: m,
                });
            }
        }
    }
    Counting {
        terms,
        beta: Some(net.beta.clone()),
        gamma: Some(net.gamma.clone()),
        taylor,
        refusal,
    }
}

fn term_label(coef: &str, trend_power: usize, m: usize) -> String {
    let mut factors = vec![coef.to_string()];
    match trend_power {
        0 => {}
        1 => factors.push("L^-β T".into()),
        p => factors.push(format!("(L^-β T)^{p}")),
    }
    match m {
        0 => {}
        1 => factors.push("L^-γ N".into()),
        p => factors.push(format!("(L^-γ N)^{p}")),
    }
    factors.join(" · ")
}

/// Counts the terms of a Hayou/Zheng layer: f_{ℓ} − f_{ℓ−1} = (√(1−β²) − 1) f + β·branch
/// with β = L^{-b}: the skip drift −½β² f sums to L^{1−2b}, the branch (mean zero, of size
/// β) to L^{1/2−b}, the skip's next order β⁴ to L^{1−4b}.
pub fn count_hayou(prog: &DepthProgram, net: &HayouNet) -> Counting {
    let b = &net.branch;
    let one = Exponent::constant(q(1, 1));
    let terms = vec![
        Term {
            label: "−β²/2 · f (skip path)".into(),
            role: Role::Drift,
            exponent: one.sub(&b.scale(&q(2, 1))),
            part: Part::SkipDrift,
            noise_power: 0,
        },
        Term {
            label: match net.kind {
                super::model::HayouKind::Type1 => "β · W φ(f) (branch)".into(),
                super::model::HayouKind::Type2 => "β · V φ(U f) (branch)".into(),
            },
            role: Role::Martingale,
            exponent: b.neg().plus(&q(1, 2)),
            part: Part::Branch,
            noise_power: 1,
        },
        Term {
            label: "−β⁴/8 · f (skip path, next order)".into(),
            role: Role::Drift,
            exponent: one.sub(&b.scale(&q(4, 1))),
            part: Part::Other,
            noise_power: 0,
        },
    ];
    Counting {
        terms,
        beta: None,
        gamma: None,
        taylor: prog.taylor_at_zero(net.act),
        refusal: None,
    }
}

/// The regime at one numeric point, with the terms kept in the limit and the exponents
/// the checks test.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// The regime.
    pub regime: Regime,
    /// The parts kept in the limit (exponent exactly 0).
    pub kept: Vec<Part>,
    /// The largest exponent over all terms: the displacement ‖h_L − x‖ is Θ(L^this)
    /// (when ≤ 0; a positive value is where the first growth shows).
    pub leading: Rational,
    /// The exponent of the pathwise error sup_k |h_k − H_{k/L}| (None without a limit).
    pub error_rate: Option<Rational>,
    /// The exponent of one layer's increment ‖h_1 − h_0‖: the largest over the terms of
    /// their summed exponent less 1 (a drift adds up L layers) or less 1/2 (a martingale
    /// adds up like √L). Unlike the displacement it is measurable in every regime, even
    /// where the state collapses to a fixed point instead of growing.
    pub step: Rational,
    /// Human-readable reason for `NotAnalysed`.
    pub note: Option<String>,
}

/// Evaluates an exponent with every symbol given.
fn value_at(e: &Exponent, point: &BTreeMap<String, Rational>) -> Option<Rational> {
    let mut v = e.constant_part().clone();
    for (s, c) in e.terms() {
        v += c * point.get(s)?;
    }
    Some(v)
}

/// The regime at `point` (values of the symbols; empty for a numeric program). `None`
/// when a symbol has no value.
pub fn regime_at(c: &Counting, point: &BTreeMap<String, Rational>) -> Option<Verdict> {
    if let Some(why) = &c.refusal {
        return Some(not_analysed(why.clone()));
    }
    let zero = q(0, 1);
    let beta = match &c.beta {
        Some(b) => Some(value_at(b, point)?),
        None => None,
    };
    if let Some(g) = &c.gamma {
        if value_at(g, point)? <= zero {
            return Some(not_analysed(
                "γ ≤ 0: the i.i.d. part does not shrink with L".into(),
            ));
        }
    }
    if beta.as_ref().is_some_and(|b| *b < zero) {
        return Some(not_analysed(
            "β < 0: the trend grows with L and σ cannot be expanded at 0".into(),
        ));
    }
    let full = beta.as_ref().is_some_and(|b| *b == zero);
    let mut values = Vec::new();
    for t in &c.terms {
        values.push((t, value_at(&t.exponent, point)?));
    }
    let leading = values
        .iter()
        .map(|(_, v)| v.clone())
        .max()
        .unwrap_or_else(|| q(-1_000_000, 1));
    let mut kept: Vec<Part> = values
        .iter()
        .filter(|(_, v)| *v == zero)
        // At β = 0 every trend order ties: they are σ(Ā_t H + b̄_t) together.
        .map(|(t, _)| t.part_in(full))
        .collect();
    kept.sort();
    kept.dedup();
    let step = values
        .iter()
        .map(|(t, v)| match t.role {
            Role::Drift => v - q(1, 1),
            Role::Martingale => v - q(1, 2),
        })
        .max()
        .unwrap_or_else(|| q(-1_000_000, 1));
    let regime = if leading > zero {
        Regime::Explosion
    } else if leading < zero {
        Regime::Trivial
    } else if kept.contains(&Part::Other) {
        return Some(not_analysed(
            "a term beyond the third-order expansion is at order L^0".into(),
        ));
    } else {
        classify(&kept)
    };
    let discretization = if kept.contains(&Part::Noise) || kept.contains(&Part::Branch) {
        q(-1, 2)
    } else {
        q(-1, 1)
    };
    let error_rate = match regime {
        Regime::Explosion | Regime::NotAnalysed => None,
        Regime::Trivial => Some(leading.clone()),
        _ => {
            let neglected = values
                .iter()
                .map(|(_, v)| v.clone())
                .filter(|v| *v < zero)
                .max();
            Some(match neglected {
                Some(v) if v > discretization => v,
                _ => discretization,
            })
        }
    };
    Some(Verdict {
        regime,
        kept,
        leading,
        error_rate,
        step,
        note: None,
    })
}

fn not_analysed(why: String) -> Verdict {
    Verdict {
        regime: Regime::NotAnalysed,
        kept: vec![],
        leading: q(0, 1),
        error_rate: None,
        step: q(0, 1),
        note: Some(why),
    }
}

/// The regime of a set of parts kept at order L^0.
fn classify(kept: &[Part]) -> Regime {
    let has = |p: Part| kept.contains(&p);
    if has(Part::Branch) || has(Part::SkipDrift) {
        return Regime::Sde;
    }
    let trend = has(Part::Full) || has(Part::Linear);
    if has(Part::Noise) {
        if trend {
            Regime::Sde
        } else {
            Regime::SdeWithoutTrend
        }
    } else if has(Part::Full) {
        Regime::NeuralOde
    } else if has(Part::Linear) {
        Regime::LinearOde
    } else if has(Part::Constant) {
        Regime::ConstantOde
    } else if has(Part::Ito) {
        // The Itô drift without the noise it comes from cannot happen (same exponent).
        Regime::NotAnalysed
    } else {
        Regime::Trivial
    }
}

/// The phase diagram of a symbolic program: for each regime, the exact condition on the
/// symbols under which it holds (simplified), in a fixed order. Regimes whose condition
/// is unsatisfiable are left out.
pub fn phase_diagram(c: &Counting) -> Vec<(Regime, Cond)> {
    let zero = || Exp::constant(q(0, 1));
    let e = |x: &Exponent| Exp::affine(x.clone());
    let mut by_regime: BTreeMap<Regime, Vec<Cond>> = BTreeMap::new();
    if c.refusal.is_some() {
        return vec![(Regime::NotAnalysed, Cond::True)];
    }
    let mut domain = Vec::new();
    if let Some(g) = &c.gamma {
        domain.push(Cond::lt(zero(), e(g)));
    }
    // Cases: β = 0 (σ whole) and β > 0 (expansion), or no β (Hayou).
    let cases: Vec<(Cond, bool)> = match &c.beta {
        Some(b) => vec![
            (Cond::eq(e(b), zero()), true),
            (Cond::lt(zero(), e(b)), false),
        ],
        None => vec![(Cond::True, false)],
    };
    for (case, full) in cases {
        let mut base = domain.clone();
        base.push(case);
        // Explosion: some term positive.
        let any_pos = Cond::Or(
            c.terms
                .iter()
                .map(|t| Cond::lt(zero(), e(&t.exponent)))
                .collect(),
        );
        by_regime
            .entry(Regime::Explosion)
            .or_default()
            .push(Cond::And([base.clone(), vec![any_pos]].concat()));
        // The limit-capable parts; everything else must be negative.
        let parts: Vec<Part> = {
            let mut p: Vec<Part> = c.terms.iter().map(|t| t.part_in(full)).collect();
            p.sort();
            p.dedup();
            p.retain(|x| *x != Part::Other);
            p
        };
        for mask in 0u32..(1 << parts.len()) {
            let mut atoms = base.clone();
            let mut kept = Vec::new();
            for t in &c.terms {
                let part = t.part_in(full);
                let at_zero = parts
                    .iter()
                    .position(|p| *p == part)
                    .is_some_and(|i| mask & (1 << i) != 0);
                if at_zero {
                    atoms.push(Cond::eq(e(&t.exponent), zero()));
                    kept.push(part);
                } else {
                    atoms.push(Cond::lt(e(&t.exponent), zero()));
                }
            }
            kept.sort();
            kept.dedup();
            let regime = if kept.is_empty() {
                Regime::Trivial
            } else {
                classify(&kept)
            };
            by_regime.entry(regime).or_default().push(Cond::And(atoms));
        }
    }
    // Outside the domain: β < 0 or γ ≤ 0.
    let mut outside = Vec::new();
    if let Some(b) = &c.beta {
        outside.push(Cond::lt(e(b), zero()));
    }
    if let Some(g) = &c.gamma {
        outside.push(Cond::le(e(g), zero()));
    }
    if !outside.is_empty() {
        by_regime
            .entry(Regime::NotAnalysed)
            .or_default()
            .push(Cond::Or(outside));
    }
    by_regime
        .into_iter()
        .map(|(r, cs)| (r, Cond::Or(cs).simplify()))
        .filter(|(_, c)| *c != Cond::False)
        .collect()
}
