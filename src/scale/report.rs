//! The scale table: one row per quantity and step, with exponents, changes and traces.

use super::cells::{analyse, Limits};
use super::ex::{self, Exp};
use super::infer::{Inference, TooComplex};
use super::regime::{classify_with, Regime, Stability};
use super::view::ViewBuilder;
use crate::ir::{render_expr, Expr, Op, Program, Role, ValueId};
use serde_json::{json, Value};

/// The schema name written in every `tp scale --json` document.
pub const SCALE_SCHEMA: &str = "tp-scale/1";

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
    /// Number of regions of the symbols' space analysed separately (1 for numeric
    /// programs).
    pub regions: usize,
}

/// Runs scale inference and classification on `program`.
///
/// Symbolic programs are analysed region by region of the symbols' space (see
/// `cells`); their exponents are exact wherever the program is stable, which is where
/// they describe a limit, and the stable set itself is reported exactly.
pub fn analyze(program: &Program) -> Result<ScaleReport, TooComplex> {
    analyze_with(program, &Limits::default())
}

/// [`analyze`] with explicit limits for symbolic programs.
pub fn analyze_with(program: &Program, limits: &Limits) -> Result<ScaleReport, TooComplex> {
    let (mut inf, known, regions) = if program.symbols.is_empty() {
        (super::refine(program), None, 1)
    } else {
        symbolic(program, limits)?
    };
    let mut quantities = Vec::new();
    for id in reported(program) {
        let instr = program.instr(id);
        let delta = first_step(program, id).map(|first| inf.delta(id, first).simplify());
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
    let regime = classify_with(program, &quantities, known);
    Ok(ScaleReport {
        quantities,
        regime,
        symbols: program.symbols.clone(),
        regions,
    })
}

/// The region-wise analysis of a symbolic program: the merged inference, what is known
/// about stability when the exponents hold on the stable set only, and the number of
/// regions.
fn symbolic<'p>(
    program: &'p Program,
    limits: &Limits,
) -> Result<(Inference<'p>, Option<Stability>, usize), TooComplex> {
    let cells = analyse(program, limits)?;
    let regions = cells.regions;
    if !cells.stable_only {
        // Exact everywhere: the regime follows from the exponents as usual.
        return Ok((cells.merged, None, regions));
    }
    let blowups = cells
        .blowups
        .into_iter()
        .map(|(id, cond)| {
            let instr = program.instr(id);
            (instr.name.clone(), instr.meta.step, cond)
        })
        .collect();
    let known = Stability {
        stable: cells.stable,
        blowups,
    };
    Ok((cells.merged, Some(known), regions))
}

/// The reported quantities of `program` (every value that is not auxiliary).
pub(crate) fn reported(program: &Program) -> impl Iterator<Item = ValueId> + '_ {
    program
        .ids()
        .filter(move |id| program.instr(*id).meta.role != Role::Auxiliary)
}

/// For a quantity at a step t ≥ 1 of a family, the same quantity at step 0 (its change
/// since step 0 is reported).
pub(crate) fn first_step(program: &Program, id: ValueId) -> Option<ValueId> {
    let instr = program.instr(id);
    match (&instr.meta.family, instr.meta.step) {
        (Some(family), Some(t)) if t > 0 => program.ids().find(|j| {
            let other = program.instr(*j);
            other.meta.family.as_deref() == Some(family) && other.meta.step == Some(0)
        }),
        _ => None,
    }
}

/// A one-line derivation: which rule applied and which term dominates.
fn trace_of(inf: &mut Inference<'_>, program: &Program, id: ValueId) -> String {
    if let Some(v) = inf.vanishing().get(&id) {
        return v.explain();
    }
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
            let views: Vec<_> = terms.iter().map(|t| builder.expr(t)).collect();
            let merged = inf.merge_like_terms(&views).len();
            let identical = if merged < views.len() {
                format!(
                    "; {} of its {} terms are computed identically to others and combine \
                     exactly (at every width)",
                    views.len() - merged,
                    views.len()
                )
            } else {
                String::new()
            };
            format!(
                "sum, largest term wins: {}{identical}{scale}",
                parts.join("; ")
            )
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
            .clamp(8, crate::bounds::MAX_COLUMN_WIDTH);
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

    /// The JSON document of `tp scale --json` (schema [`SCALE_SCHEMA`]).
    pub fn to_json(&self) -> Value {
        json!({
            "schema": SCALE_SCHEMA,
            "regime": self.regime.to_json(),
            "symbols": self.symbols,
            "regions": self.regions,
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
