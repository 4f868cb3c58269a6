//! The report of `tp check`: a verdict table per SGD step, the limit verdicts, a summary;
//! its JSON (schema `tp-check/1`); and its figure (coordinate-check panels with the
//! derived slopes drawn beside the measured ones, plus a convergence panel when limits
//! were checked).
//!
//! ```text
//! {
//!   "schema": "tp-check/1",
//!   "program": "title" | null,
//!   "pass": bool,                       every verdict passed
//!   "failures": k,
//!   "widths": [64, ...], "seeds": [0, ...], "confidence": 0.95, "tolerance": 0.1,
//!   "level": 0.05, "tests": m,          family-wise level (Holm) over m verdicts
//!   "regime": {...},                    the regime object of `tp scale --json`
//!   "first_blowup": {"name", "step", "exponent"} | null,
//!   "verdicts": [{
//!     "name": "h2_1", "step": 1 | null,
//!     "measure": "size" | "change",     size of v_t, or of v_t − v_0
//!     "predicted": "-1/2" | "-inf",     the derived exponent, exact
//!     "slope": number | null, "ci": [lo, hi] | null,
//!     "pass": bool,
//!     "rule": "exponent" | "zero" | "growth",
//!     "fit": "fitted" | "exactly_zero" | "not_fitted", "method": "seeds" | ... | null,
//!     "blown_up_runs": k, "p_value": p, "reason": "..."
//!   }, ...],
//!   "unchecked": [{"name", "step", "measure", "predicted", "slope", "ci", "reason"}],
//!   "by_limit": [{"name", "step", "measure", "limit"}],   judged by a limit verdict
//!   "limits_evaluated": bool,
//!   "limits": [{
//!     "name": "K_ab", "step": int | null,
//!     "limit": number, "limit_stderr": number, "method": "closed form",
//!     "errors": [[width, rms], ...],    RMS over seeds of finite − limit
//!     "errors_stderr": [[width, se], ...],
//!     "mean_deviation": [[width, mean, se], ...],
//!     "rate": number | null, "rate_ci": [lo, hi] | null, "z": number | null,
//!     "corrections": [-1.0, ...],       exponents fitted beside the limit
//!     "extrapolated": {"value", "stderr", "df", "orders"} | null,
//!     "p_value": p, "pass": bool, "reason": "..."
//!   }, ...],
//!   "blowups": [{"name", "step", "width", "seed", "kind", "bad_entries"}, ...]
//! }
//! ```

use super::plot::{convergence_panel, coordinate_check_figure, Figure, Predictions};
use crate::check::stats::{Fit, CONFIDENCE};
use crate::check::{CheckReport, LimitCheck, Measure, QuantityVerdict, LEVEL};
use crate::sim::BlowUpKind;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// The schema name written in every `tp check --json` report.
pub const CHECK_SCHEMA: &str = "tp-check/1";

/// The text report: heading, regime, one verdict table per step, the quantities not
/// judged, the limits, the blow-ups, and the summary line.
pub fn render_check(title: &str, report: &CheckReport) -> String {
    let mut out = String::new();
    let result = &report.result;
    let _ = writeln!(out, "# tp check: {title}");
    let seeds = &result.seeds;
    let seed_text = match (seeds.first(), seeds.last()) {
        (Some(a), Some(b)) if seeds.len() > 1 => format!("{} seeds ({a}..={b})", seeds.len()),
        (Some(a), _) => format!("1 seed ({a})"),
        _ => "no seeds".into(),
    };
    let widths: Vec<String> = result.widths.iter().map(|n| n.to_string()).collect();
    let _ = writeln!(
        out,
        "# widths {}; {seed_text}; slope of log2(size) vs log2(n) with its 95% interval over \
         seeds; PASS when the derived exponent is inside it or within ±{}",
        widths.join(","),
        report.tolerance
    );
    let _ = writeln!(out, "derived regime: {}", report.scale.regime.summary);
    if let Some((name, step, e)) = &report.first_blowup {
        let at = step.map_or_else(String::new, |t| format!(" at step {t}"));
        let _ = writeln!(
            out,
            "  first blow-up derived: {name}{at} grows as n^{e}; after it, the derived growth \
             of forward quantities must be seen, the rest is not judged"
        );
    }

    // One row per judged size or change: a slope verdict, or a pointer to the limit
    // verdict that judges it.
    struct Row {
        id: usize,
        change: bool,
        label: String,
        predicted: String,
        fit: String,
        word: &'static str,
        reason: String,
    }
    let label_of = |name: &str, measure: Measure| match measure {
        Measure::Size => name.to_string(),
        Measure::Change => format!("Δ{name}"),
    };
    let mut by_step: BTreeMap<Option<usize>, Vec<Row>> = BTreeMap::new();
    for v in &report.verdicts {
        by_step.entry(v.step).or_default().push(Row {
            id: v.id.0,
            change: v.measure == Measure::Change,
            label: label_of(&v.name, v.measure),
            predicted: v.predicted.clone(),
            fit: fit_cell(&v.fit),
            word: if v.verdict.pass { "PASS" } else { "FAIL" },
            reason: short_reason(v, report.tolerance),
        });
    }
    for b in &report.by_limit {
        let pass = report
            .limits
            .iter()
            .flatten()
            .find(|l| l.limit.name == b.limit)
            .map(|l| l.verdict.pass);
        by_step.entry(b.step).or_default().push(Row {
            id: b.id.0,
            change: b.measure == Measure::Change,
            label: label_of(&b.name, b.measure),
            predicted: "0".into(),
            fit: fit_cell(&b.fit),
            word: match pass {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None => "—",
            },
            reason: format!("by its limit ({} below)", b.limit),
        });
    }
    let name_width = by_step
        .values()
        .flatten()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(8)
        .clamp(8, crate::bounds::MAX_COLUMN_WIDTH);
    for (step, rows) in &mut by_step {
        // Sizes and changes of the same quantity next to each other, program order.
        rows.sort_by_key(|r| (r.id, r.change));
        let _ = writeln!(out);
        match step {
            Some(t) => writeln!(out, "step {t}"),
            None => writeln!(out, "values"),
        }
        .ok();
        let _ = writeln!(
            out,
            "  {:<name_width$} {:>9}  {:<26} verdict",
            "quantity", "derived", "measured slope [95% CI]"
        );
        for r in rows.iter() {
            let _ = writeln!(
                out,
                "  {:<name_width$} {:>9}  {:<26} {}  {}",
                r.label, r.predicted, r.fit, r.word, r.reason
            );
        }
    }
    if !report.unchecked.is_empty() {
        let _ = writeln!(
            out,
            "\nnot judged ({}): after the first blow-up, bounded quantities are \
             pre-asymptotic and gradients pass through act' at a diverging argument:",
            report.unchecked.len()
        );
        let list: Vec<String> = report
            .unchecked
            .iter()
            .map(|u| {
                let label = match u.measure {
                    Measure::Size => u.name.clone(),
                    Measure::Change => format!("Δ{}", u.name),
                };
                format!(
                    "{label} (derived {}, measured {})",
                    u.predicted,
                    fit_cell(&u.fit)
                )
            })
            .collect();
        for chunk in list.chunks(3) {
            let _ = writeln!(out, "  {}", chunk.join("; "));
        }
    }
    out.push('\n');
    match &report.limits {
        None => {
            let _ = writeln!(out, "limits: not evaluated");
        }
        Some(limits) if limits.is_empty() => {
            let _ = writeln!(out, "limits: none (no scalar has a finite derived limit)");
        }
        Some(limits) => {
            let _ = writeln!(
                out,
                "limits: |finite − limit| against n (RMS over seeds), its rate, and the seed \
                 means extrapolated to n → ∞ with the derived corrections"
            );
            for l in limits {
                render_limit(&mut out, l);
            }
        }
    }
    if !report.laws.is_empty() {
        let _ = writeln!(
            out,
            "laws: scalars random in the limit, across seeds at the largest width (mean: \
             Student t; variance: χ²; p = 2·min)"
        );
        for l in &report.laws {
            let word = if l.verdict.pass { "PASS" } else { "FAIL" };
            // The law is that of n^{-e}·v for a quantity of size n^e.
            let name = if l.law.exponent == 0.0 {
                l.law.name.clone()
            } else {
                format!("n^{}·{}", -l.law.exponent, l.law.name)
            };
            let _ = writeln!(
                out,
                "  {name} ~ N({:.6}, {:.6}²)   {word}",
                l.law.mean, l.law.sd
            );
            let _ = writeln!(out, "    {}", l.verdict.reason);
        }
    }
    let blowups: Vec<_> = result.blowups().collect();
    if !blowups.is_empty() {
        let mut by_width: BTreeMap<usize, usize> = BTreeMap::new();
        for b in &blowups {
            *by_width.entry(b.width).or_default() += 1;
        }
        let per: Vec<String> = by_width
            .iter()
            .map(|(n, k)| format!("n={n}: {k}"))
            .collect();
        let first = blowups[0];
        let kind = match first.kind {
            BlowUpKind::NaN => "NaN",
            BlowUpKind::Infinite => "overflow",
        };
        let _ = writeln!(
            out,
            "blow-ups (NaN/overflow) in {} runs ({}); first: {kind} in {} at n={}, seed {}",
            blowups.len(),
            per.join(", "),
            first.name,
            first.width,
            first.seed
        );
    }
    if let Some((name, step, e)) = &report.first_blowup {
        let seen = report
            .verdicts
            .iter()
            .find(|v| &v.name == name && v.step == *step && v.measure == Measure::Size)
            .filter(|v| v.verdict.pass);
        let at = step.map_or_else(String::new, |t| format!(" at step {t}"));
        match seen {
            Some(v) => writeln!(
                out,
                "unstable as derived: {name}{at} blows up as n^{e}; measured slope {}",
                fit_cell(&v.fit)
            ),
            None => writeln!(out, "derived blow-up of {name}{at} (n^{e}) NOT seen"),
        }
        .ok();
    }
    let judged =
        report.verdicts.len() + report.limits.as_ref().map_or(0, Vec::len) + report.laws.len();
    let failures = report.failures();
    let _ = writeln!(
        out,
        "summary: {judged} verdicts (family-wise level {LEVEL}, Holm), {} PASS, {failures} FAIL{} → {}",
        judged - failures,
        if report.unchecked.is_empty() {
            String::new()
        } else {
            format!(", {} not judged", report.unchecked.len())
        },
        if report.pass() { "PASS" } else { "FAIL" }
    );
    if !report.pass() {
        let _ = writeln!(out, "failed:");
        for v in report.verdicts.iter().filter(|v| !v.verdict.pass) {
            let label = match v.measure {
                Measure::Size => v.name.clone(),
                Measure::Change => format!("Δ{}", v.name),
            };
            let _ = writeln!(out, "  {label}: {}", v.verdict.reason);
        }
        for l in report.limits.iter().flatten().filter(|l| !l.verdict.pass) {
            let _ = writeln!(out, "  limit of {}: {}", l.limit.name, l.verdict.reason);
        }
        for l in report.laws.iter().filter(|l| !l.verdict.pass) {
            let _ = writeln!(out, "  law of {}: {}", l.law.name, l.verdict.reason);
        }
    }
    out
}

/// One limit: its value, the error curve, the verdict.
fn render_limit(out: &mut String, l: &LimitCheck) {
    let word = if l.verdict.pass { "PASS" } else { "FAIL" };
    let err = if l.limit.stderr > 0.0 {
        format!(" ± {:.2e}", l.limit.stderr)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "  {} → {}{err} ({})   {word}",
        l.limit.name, l.limit.value, l.limit.method
    );
    let curve: Vec<String> = l
        .errors
        .iter()
        .map(|e| format!("n={}: {:.2e}", e.width, e.rms))
        .collect();
    if !curve.is_empty() {
        let _ = writeln!(out, "    error {}", curve.join("  "));
    }
    let _ = writeln!(out, "    {}", l.verdict.reason);
}

/// `+0.004 [-0.007, +0.016]`, `exactly 0`, `no slope`.
fn fit_cell(fit: &Fit) -> String {
    match fit {
        Fit::Fitted(s) => match s.ci {
            Some((lo, hi)) => format!("{:+.3} [{lo:+.3}, {hi:+.3}]", s.slope),
            None => format!("{:+.3} (no interval)", s.slope),
        },
        Fit::ExactlyZero => "exactly 0".into(),
        Fit::NotFitted(_) => "no slope".into(),
    }
}

/// The reason in a few words for the table (the full reason is in JSON and under
/// "failed:").
fn short_reason(v: &QuantityVerdict, tolerance: f64) -> String {
    use crate::check::Rule;
    match (v.rule, v.verdict.pass) {
        (Rule::Zero, true) => "exactly 0 as derived".into(),
        (Rule::Growth, true) if v.blown_up_runs > 0 && v.fit.slope().is_none() => {
            format!("blow-up seen ({} runs NaN/overflow)", v.blown_up_runs)
        }
        (Rule::Growth, true) => "growth seen".into(),
        (Rule::Exponent, true) => {
            let inside = v
                .fit
                .slope()
                .and_then(|s| s.ci)
                .zip(v.predicted_value)
                .is_some_and(|((lo, hi), e)| lo <= e && e <= hi);
            let close = v
                .fit
                .slope()
                .zip(v.predicted_value)
                .is_some_and(|(s, e)| (s.slope - e).abs() <= tolerance);
            if inside {
                "in the interval".into()
            } else if close {
                "within tolerance".into()
            } else {
                format!("not significant after Holm (p = {:.1e})", v.p_value)
            }
        }
        (_, false) => "see below".into(),
    }
}

/// The JSON report (schema in the module documentation).
pub fn check_to_json(program_title: Option<&str>, report: &CheckReport) -> Value {
    let verdicts: Vec<Value> = report
        .verdicts
        .iter()
        .map(|v| {
            let (slope, ci) = slope_ci(&v.fit);
            json!({
                "name": v.name,
                "step": v.step,
                "measure": v.measure.name(),
                "predicted": v.predicted,
                "slope": slope,
                "ci": ci,
                "pass": v.verdict.pass,
                "rule": v.rule.name(),
                "fit": v.fit.status(),
                "method": v.fit.slope().map(|s| s.method.name()),
                "blown_up_runs": v.blown_up_runs,
                "p_value": number(v.p_value),
                "reason": v.verdict.reason,
            })
        })
        .collect();
    let unchecked: Vec<Value> = report
        .unchecked
        .iter()
        .map(|u| {
            let (slope, ci) = slope_ci(&u.fit);
            json!({
                "name": u.name,
                "step": u.step,
                "measure": u.measure.name(),
                "predicted": u.predicted,
                "slope": slope,
                "ci": ci,
                "reason": u.reason,
            })
        })
        .collect();
    let limits: Vec<Value> = report
        .limits
        .iter()
        .flatten()
        .map(|l| {
            let (rate, rate_ci) = slope_ci(&l.rate);
            json!({
                "name": l.limit.name,
                "step": l.limit.step,
                "limit": number(l.limit.value),
                "limit_stderr": number(l.limit.stderr),
                "method": l.limit.method,
                "errors": l.errors.iter().map(|e| json!([e.width, number(e.rms)])).collect::<Vec<_>>(),
                "errors_stderr": l.errors.iter().map(|e| json!([e.width, e.rms_stderr.map_or(Value::Null, number)])).collect::<Vec<_>>(),
                "mean_deviation": l.errors.iter().map(|e| json!([e.width, number(e.mean_deviation), e.mean_stderr.map_or(Value::Null, number)])).collect::<Vec<_>>(),
                "rate": rate,
                "rate_ci": rate_ci,
                "z": l.z.map_or(Value::Null, number),
                "corrections": l.limit.corrections,
                "extrapolated": l.extrapolated.as_ref().map(|e| json!({
                    "value": number(e.value),
                    "stderr": number(e.stderr),
                    "df": e.df,
                    "orders": e.orders,
                })),
                "p_value": number(l.p_value),
                "pass": l.verdict.pass,
                "reason": l.verdict.reason,
            })
        })
        .collect();
    let blowups = super::json::blowups_json(&report.result);
    json!({
        "schema": CHECK_SCHEMA,
        "program": program_title,
        "pass": report.pass(),
        "failures": report.failures(),
        "widths": report.result.widths,
        "seeds": report.result.seeds,
        "confidence": CONFIDENCE,
        "tolerance": report.tolerance,
        "regime": report.scale.regime.to_json(),
        "first_blowup": report.first_blowup.as_ref().map(|(n, s, e)| json!({"name": n, "step": s, "exponent": e})),
        "verdicts": verdicts,
        "unchecked": unchecked,
        "limits_evaluated": report.limits.is_some(),
        "limits": limits,
        "by_limit": report.by_limit.iter().map(|b| json!({
            "name": b.name,
            "step": b.step,
            "measure": b.measure.name(),
            "limit": b.limit,
        })).collect::<Vec<_>>(),
        "laws": report.laws.iter().map(|l| json!({
            "name": l.law.name,
            "step": l.law.step,
            "exponent": l.law.exponent,
            "mean": l.law.mean,
            "mean_stderr": l.law.mean_stderr,
            "sd": l.law.sd,
            "samples": l.samples.iter().map(|s| json!({
                "width": s.width,
                "seeds": s.seeds,
                "mean": number(s.mean),
                "sd": number(s.sd),
                "t": number(s.t),
                "mean_p": s.mean_p,
                "variance_ratio": number(s.variance_ratio),
                "variance_p": s.variance_p,
            })).collect::<Vec<_>>(),
            "p_value": l.p_value,
            "pass": l.verdict.pass,
            "reason": l.verdict.reason,
        })).collect::<Vec<_>>(),
        "level": LEVEL,
        "tests": report.tests,
        "blowups": blowups,
    })
}

/// The coordinate-check figure with the derived slopes of every judged quantity drawn
/// beside the measured ones, and, when limits were checked, the convergence panel.
pub fn check_figure(title: &str, report: &CheckReport) -> Figure {
    let mut predictions = Predictions::default();
    for v in &report.verdicts {
        let Some(e) = v.predicted_value else {
            continue;
        };
        let table = match v.measure {
            Measure::Size => &mut predictions.size,
            Measure::Change => &mut predictions.delta,
        };
        table.insert(v.name.clone(), e);
    }
    let mut figure = coordinate_check_figure(
        &format!("tp check: {title} (dashed: derived slopes)"),
        &report.result,
        &report.stats,
        &predictions,
    );
    if let Some(limits) = &report.limits {
        let values: HashMap<String, f64> = limits
            .iter()
            .filter(|l| !l.limit.name.starts_with('Δ'))
            .map(|l| (l.limit.name.clone(), l.limit.value))
            .collect();
        figure.convergence = convergence_panel(&report.result, &values, &HashMap::new());
    }
    figure
}

fn number(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

fn slope_ci(fit: &Fit) -> (Value, Value) {
    match fit.slope() {
        Some(s) => (
            number(s.slope),
            s.ci.map_or(Value::Null, |(lo, hi)| json!([number(lo), number(hi)])),
        ),
        None => (Value::Null, Value::Null),
    }
}
