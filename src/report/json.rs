//! The JSON report of a sweep (`tp simulate --json`), schema `tp-simulate/1`.
//!
//! ```text
//! {
//!   "schema": "tp-simulate/1",
//!   "program": "title" | null,
//!   "widths": [64, 128, ...],
//!   "seeds": [0, 1, ...],
//!   "confidence": 0.95,
//!   "quantities": [{
//!     "name": "h2_1", "family": "h2" | null, "input": "xb" | null (networks
//!     evaluated on several inputs: `h2_1[xb]`, family `h2[xb]`),
//!     "step": 1 | null, "layer": 2 | null,
//!     "role": "forward" | "backward" | "loss", "kind": "vector" | "scalar",
//!     "rms": [[width, mean, stderr], ...],   size over seeds: RMS of a vector,
//!                                            |value| of a scalar
//!     "samples": [count, ...],               seeds with a number, per width
//!     "value": [[width, mean, stderr], ...] | null,   signed value (scalars only)
//!     "slope": number | null, "ci": [lo, hi] | null,  exponent of "rms"
//!     "fit": FIT,
//!     "delta_rms": [[width, mean, stderr], ...] | null,  size of v_t − v_0 (t > 0)
//!     "delta_slope": number | null, "delta_ci": [lo, hi] | null,
//!     "delta_fit": FIT | null
//!   }, ...],
//!   "blowups": [{"name", "step": t | null, "width", "seed",
//!                "kind": "nan" | "infinite", "bad_entries"}, ...]
//! }
//! FIT = {"status": "fitted" | "exactly_zero" | "not_fitted",
//!        "method": "seeds" | "regression" | "jackknife" | null,
//!        "mean_curve_slope": number | null, "seeds_used": k, "excluded_seeds": k,
//!        "note": string | null}
//! ```
//!
//! `mean` is null at a width where no seed produced a number (every run blew up
//! first); `stderr` is null with fewer than two numbers. Quantities appear in program
//! order; fields are only ever added, under the same schema name.

use crate::check::stats::{Fit, Summary, CONFIDENCE};
use crate::check::QuantityStats;
use crate::ir::Role;
use crate::sim::{BlowUpKind, SweepResult};
use serde_json::{json, Value};

/// The schema name written in every report.
pub const SIMULATE_SCHEMA: &str = "tp-simulate/1";

/// The JSON report of a sweep (see the module documentation for the schema).
pub fn simulation_to_json(
    title: Option<&str>,
    result: &SweepResult,
    stats: &[QuantityStats],
) -> Value {
    let quantities: Vec<Value> = stats
        .iter()
        .map(|s| {
            let q = &s.quantity;
            let (slope, ci) = slope_and_ci(&s.size_fit);
            let (delta_slope, delta_ci) = s
                .delta_fit
                .as_ref()
                .map_or((Value::Null, Value::Null), slope_and_ci);
            json!({
                "name": q.name,
                "family": q.family,
                "input": q.input,
                "step": q.step,
                "layer": q.layer,
                "role": role_name(q.role),
                "kind": q.kind,
                "rms": triples(&result.widths, &s.size),
                "samples": s.size.iter().map(|x| x.count).collect::<Vec<_>>(),
                "value": s.value.as_ref().map(|v| triples(&result.widths, v)),
                "slope": slope,
                "ci": ci,
                "fit": fit_json(&s.size_fit),
                "delta_rms": s.delta.as_ref().map(|d| triples(&result.widths, d)),
                "delta_slope": delta_slope,
                "delta_ci": delta_ci,
                "delta_fit": s.delta_fit.as_ref().map(fit_json),
            })
        })
        .collect();
    let blowups = blowups_json(result);
    json!({
        "schema": SIMULATE_SCHEMA,
        "program": title,
        "widths": result.widths,
        "seeds": result.seeds,
        "confidence": CONFIDENCE,
        "quantities": quantities,
        "blowups": blowups,
    })
}

/// `[[width, mean, stderr], ...]` with nulls for missing numbers.
fn triples(widths: &[usize], summaries: &[Summary]) -> Value {
    Value::Array(
        widths
            .iter()
            .zip(summaries)
            .map(|(&n, s)| {
                let mean = (s.count > 0).then_some(s.mean);
                json!([n, number(mean), number(s.stderr)])
            })
            .collect(),
    )
}

/// A finite number, or null (JSON has no NaN).
fn number(x: Option<f64>) -> Value {
    x.filter(|x| x.is_finite())
        .map_or(Value::Null, |x| json!(x))
}

fn slope_and_ci(fit: &Fit) -> (Value, Value) {
    match fit.slope() {
        Some(s) => (
            number(Some(s.slope)),
            s.ci.map_or(Value::Null, |(lo, hi)| {
                json!([number(Some(lo)), number(Some(hi))])
            }),
        ),
        None => (Value::Null, Value::Null),
    }
}

fn fit_json(fit: &Fit) -> Value {
    let (method, mean_curve, used, excluded) = match fit.slope() {
        Some(s) => (
            Some(s.method.name()),
            number(s.mean_curve_slope),
            s.per_seed.len(),
            s.excluded_seeds,
        ),
        None => (None, Value::Null, 0, 0),
    };
    let note = match fit {
        Fit::NotFitted(reason) => Some(reason.as_str()),
        _ => None,
    };
    json!({
        "status": fit.status(),
        "method": method,
        "mean_curve_slope": mean_curve,
        "seeds_used": used,
        "excluded_seeds": excluded,
        "note": note,
    })
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Forward => "forward",
        Role::Backward => "backward",
        Role::Loss => "loss",
        Role::Auxiliary => "auxiliary",
    }
}

/// The blow-ups of a sweep as JSON objects {name, step, width, seed, kind, bad_entries}
/// (shared by the `tp-simulate/1` and `tp-check/1` schemas).
pub fn blowups_json(result: &SweepResult) -> Vec<Value> {
    result
        .blowups()
        .map(|b| {
            json!({
                "name": b.name,
                "step": b.step,
                "width": b.width,
                "seed": b.seed,
                "kind": match b.kind {
                    BlowUpKind::NaN => "nan",
                    BlowUpKind::Infinite => "infinite",
                },
                "bad_entries": b.bad_entries,
            })
        })
        .collect()
}
