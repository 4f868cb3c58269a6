//! The scale table: one row per quantity and step, with exponents, changes and traces.

use super::ex::{self, Exp};
use super::infer::{Inference, TooComplex};
use super::regime::{classify, Regime};
use super::view::ViewBuilder;
use crate::ir::{render_expr, Expr, Op, Program, Role, ValueId};
use serde_json::{json, Value};

/// One reported quantity.
#[derive(Clone, Debug)]
pub struct Quantity {
    /// The value.
    pub id: ValueId,
    /// Its name (`h2_1`).
    pub name: String,
    /// Its family (`h2`), when it is a network quantity.
    pub family: Option<String>,
    /// Its step, when it is a network quantity.
    pub step: Option<usize>,
    /// Exponent of its RMS (or of the scalar).
    pub exponent: Exp,
    /// Exponent of its change since step 0 (steps ≥ 1 of a family only).
    pub delta: Option<Exp>,
    /// How the exponent was obtained.
    pub trace: String,
}

/// The result of scale analysis.
#[derive(Clone, Debug)]
pub struct ScaleReport {
    /// Every non-auxiliary value, in program order.
    pub quantities: Vec<Quantity>,
    /// The regime.
    pub regime: Regime,
    /// The symbols the exponents may mention.
    pub symbols: Vec<String>,
}

/// Runs scale inference and classification on `program`.
pub fn analyze(program: &Program) -> Result<ScaleReport, TooComplex> {
    let mut inf = Inference::run(program)?;
    let mut quantities = Vec::new();
    for id in program.ids() {
        let instr = program.instr(id);
        if instr.meta.role == Role::Auxiliary {
            continue;
        }
        let delta = match (&instr.meta.family, instr.meta.step) {
            (Some(family), Some(t)) if t > 0 => program
                .ids()
                .find(|j| {
                    let other = program.instr(*j);
                    other.meta.family.as_deref() == Some(family) && other.meta.step == Some(0)
                })
                .map(|first| inf.delta(id, first).simplify()),
            _ => None,
        };
        let trace = trace_of(&mut inf, program, id);
        quantities.push(Quantity {
            id,
            name: instr.name.clone(),
            family: instr.meta.family.clone(),
            step: instr.meta.step,
            exponent: inf.exponent(id).simplify(),
            delta,
            trace,
        });
    }
    let regime = classify(program, &quantities);
    Ok(ScaleReport {
        quantities,
        regime,
        symbols: program.symbols.clone(),
    })
}

/// A one-line derivation: which rule applied and which term dominates.
fn trace_of(inf: &mut Inference<'_>, program: &Program, id: ValueId) -> String {
    let instr = program.instr(id);
    let builder = ViewBuilder::new(program, false);
    let scale = if instr.scale.exponent.is_zero() {
        String::new()
    } else {
        format!(" with factor n^({})", instr.scale.exponent)
    };
    match &instr.op {
        Op::Init { .. } => format!("initial Gaussian: Θ(1){scale}"),
        Op::MatMul {
            arg,
            transpose,
            matrix,
        } => {
            let m = &program.matrices[matrix.0].name;
            let t = if *transpose { "ᵀ" } else { "" };
            format!(
                "{m}{t} {} keeps the scale of its argument (n^{}){scale}",
                program.instr(*arg).name,
                inf.exponent(*arg)
            )
        }
        Op::Moment { expr } => {
            let integrand = inf.view_facts(&builder.expr(expr));
            let mut odd_groups = Vec::new();
            for (k, (e, o)) in integrand.parts.iter().enumerate() {
                if !ex::is_neg_inf(o) && ex::is_neg_inf(e) {
                    odd_groups.push(inf.groups.names[k].clone());
                }
            }
            let symmetry = if odd_groups.is_empty() {
                String::new()
            } else {
                format!(
                    "; odd in {} so its mean is a fluctuation (×n^(-1/2))",
                    odd_groups.join(", ")
                )
            };
            format!(
                "mean of {} (integrand n^{}){symmetry}{scale}",
                render_expr(expr, program),
                integrand.exp.simplify()
            )
        }
        Op::Map { expr } | Op::Scalar { expr } => {
            let terms: Vec<&Expr> = match expr {
                Expr::Add(items) => items.iter().collect(),
                other => vec![other],
            };
            if terms.len() == 1 {
                return format!(
                    "{} → n^{}{scale}",
                    render_expr(expr, program),
                    inf.exponent(id)
                );
            }
            let mut exps = Vec::new();
            for t in &terms {
                let f = inf.view_facts(&builder.expr(t));
                exps.push(f.exp.simplify());
            }
            let total = inf.exponent(id);
            let parts: Vec<String> = terms
                .iter()
                .zip(&exps)
                .map(|(t, e)| {
                    let mark = match (e.as_constant(), total.as_constant()) {
                        (Some(a), Some(b)) if a == b => " (dominant)",
                        _ => "",
                    };
                    format!("{}: n^{}{mark}", render_expr(t, program), e)
                })
                .collect();
            format!("sum, largest term wins: {}{scale}", parts.join("; "))
        }
    }
}

impl ScaleReport {
    /// The human-readable table, regime first.
    pub fn render(&self, trace: bool) -> String {
        let mut out = String::new();
        out.push_str(&self.regime.render());
        out.push('\n');
        let width = self
            .quantities
            .iter()
            .map(|q| q.name.len())
            .max()
            .unwrap_or(4)
            .max(8);
        out.push_str(&format!(
            "{:<width$}  {:>4}  {:<24}  {}\n",
            "quantity", "step", "exponent", "change since step 0"
        ));
        for q in &self.quantities {
            let step = q.step.map_or_else(|| "-".to_string(), |s| s.to_string());
            let delta = q
                .delta
                .as_ref()
                .map_or_else(|| "-".to_string(), |d| d.to_string());
            out.push_str(&format!(
                "{:<width$}  {:>4}  {:<24}  {}\n",
                q.name,
                step,
                q.exponent.to_string(),
                delta
            ));
            if trace {
                out.push_str(&format!("{:<width$}        ↳ {}\n", "", q.trace));
            }
        }
        out
    }

    /// The JSON document of `tp scale --json`.
    pub fn to_json(&self) -> Value {
        json!({
            "regime": self.regime.to_json(),
            "symbols": self.symbols,
            "quantities": self.quantities.iter().map(|q| json!({
                "name": q.name,
                "family": q.family,
                "step": q.step,
                "exponent": q.exponent.to_string(),
                "delta_exponent": q.delta.as_ref().map(|d| d.to_string()),
                "trace": q.trace,
            })).collect::<Vec<_>>(),
        })
    }
}
