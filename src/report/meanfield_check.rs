//! Reports of the numerical mean-field commands: the limit's values (`tp limit`), the
//! three particle dynamics (`tp simulate`) and the verdicts (`tp check`), as text and as
//! JSON (`tp-meanfield-simulate/1`, `tp-meanfield-check/1`; the limit's numbers go into
//! `tp-meanfield-limit/1`), and the figures drawn from them.

use crate::check::meanfield::{MfCheck, LEVEL};
use crate::meanfield::limit::{Estimate, LimitSolution};
use crate::meanfield::simulate::{MfCell, MfSweep};
use crate::meanfield::stationary::StationaryLaw;
use crate::meanfield::MeanFieldProgram;
use crate::report::meanfield_plot::{ErrorPanel, HistogramPanel, TrajectoryPanel};
use serde_json::{json, Value};
use std::fmt::Write;

/// Schema of `tp simulate --json` on a mean-field program.
pub const MF_SIMULATE_SCHEMA: &str = "tp-meanfield-simulate/1";
/// Schema of `tp check --json` on a mean-field program.
pub const MF_CHECK_SCHEMA: &str = "tp-meanfield-check/1";

/// `value ± error` with the error as bias and standard error combined.
fn estimate_text(e: &Estimate) -> String {
    let err = (e.se * e.se + e.bias * e.bias).sqrt();
    if err > 0.0 && err >= e.value.abs() {
        return format!("undetermined ({:.2e} ± {err:.1e})", e.value);
    }
    format!("{:.6} ± {err:.1e}", e.value)
}

/// The limit's numbers as text: risk, mean and spread per record time, then the method
/// and, where given, the stationary law and the toy's closed forms.
pub fn limit_values_text(
    sol: &LimitSolution,
    stationary: Option<&StationaryLaw>,
    closed: Option<&[(f64, f64, f64)]>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\nvalues of the limit ({})", sol.method);
    let p = sol.mean.first().map_or(0, Vec::len);
    let _ = write!(out, "  {:>8}  {:>24}", "t", "risk");
    for i in 0..p {
        let _ = write!(
            out,
            "  {:>24}  {:>24}",
            format!("mean w{}", i + 1),
            format!("var w{}", i + 1)
        );
    }
    let _ = writeln!(out);
    for (j, t) in sol.times.iter().enumerate() {
        let _ = write!(out, "  {:>8.4}  {:>24}", t, estimate_text(&sol.risk[j]));
        for i in 0..p {
            let _ = write!(
                out,
                "  {:>24}  {:>24}",
                estimate_text(&sol.mean[j][i]),
                estimate_text(&sol.spread[j][i])
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "errors: step {:.1e}, quadrature {:.1e}, particle count {:.1e} (largest over the table; each entry's ± combines its standard error and these biases)",
        sol.step_error, sol.quadrature_error, sol.particle_error
    );
    if let Some(rows) = closed {
        let _ = writeln!(out, "closed forms of the linear-Gaussian toy (exact):");
        for (t, m, v) in rows {
            let _ = writeln!(out, "  t = {t:.4}: m_t = {m:.6}, v_t = {v:.6}");
        }
    }
    if let Some(law) = stationary {
        let _ = writeln!(
            out,
            "stationary law (Prop. 5 fixed point on a {}-point grid, {} iterations{}): mean {:.6}, variance {:.6}",
            law.grid.len(),
            law.iterations,
            if law.converged { "" } else { ", NOT converged" },
            law.mean,
            law.variance
        );
    }
    out
}

/// The limit's numbers as JSON (the `values` of `tp-meanfield-limit/1`).
pub fn limit_values_json(
    sol: &LimitSolution,
    stationary: Option<&StationaryLaw>,
    closed: Option<&[(f64, f64, f64)]>,
) -> Value {
    json!({
        "method": sol.method,
        "step": sol.step,
        "times": sol.times,
        "risk": sol.risk,
        "mean": sol.mean,
        "spread": sol.spread,
        "quantiles_t": sol.quantiles_t,
        "errors": {"step": sol.step_error, "quadrature": sol.quadrature_error, "particles": sol.particle_error},
        "closed_forms": closed.map(|rows| rows.iter().map(|(t, m, v)| json!({"t": t, "mean": m, "variance": v})).collect::<Vec<_>>()),
        "stationary": stationary.map(|l| json!({
            "mean": l.mean, "variance": l.variance, "iterations": l.iterations,
            "converged": l.converged, "edge_mass": l.edge_mass,
        })),
    })
}

/// Mean and standard error over seeds of a per-cell value at each N.
fn by_size(sweep: &MfSweep, get: impl Fn(&MfCell) -> f64) -> Vec<(u64, f64, f64)> {
    let mut sizes: Vec<u64> = sweep.cells.iter().map(|c| c.size).collect();
    sizes.dedup();
    sizes
        .into_iter()
        .map(|n| {
            let xs: Vec<f64> = sweep
                .cells
                .iter()
                .filter(|c| c.size == n)
                .map(&get)
                .filter(|x| x.is_finite())
                .collect();
            let (m, se) = crate::check::depth::mean_se(&xs);
            (n, m, se)
        })
        .collect()
}

fn cell_text(v: (u64, f64, f64)) -> String {
    if v.2.is_finite() {
        format!("{:.4e} ± {:.1e}", v.1, v.2)
    } else {
        format!("{:.4e}", v.1)
    }
}

/// `tp simulate` on a mean-field program: per N, the three dynamics' risk at T, the
/// coupling errors and W₂.
pub fn render_sweep(prog: &MeanFieldProgram, sweep: &MfSweep) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", prog.display_name());
    let seeds = sweep
        .cells
        .iter()
        .filter(|c| Some(c.size) == sweep.cells.first().map(|f| f.size))
        .count();
    let _ = writeln!(
        out,
        "three dynamics from the same initial particles, {seeds} seeds per N: literal SGD (one shared minibatch per step), eq. (6) (independent noise, Euler-Maruyama), the McKean-Vlasov reference ({})",
        sweep.reference
    );
    let _ = writeln!(
        out,
        "W2: {}; data: {}-node quadrature of pi",
        sweep.w2_method, sweep.data_nodes
    );
    let cols = [
        "N",
        "n_T",
        "step",
        "risk(T) SGD",
        "risk(T) eq.6",
        "risk(T) reference",
        "E sup|W-W*|^2 eq.6",
        "E sup|W-W*|^2 SGD",
        "W2^2 eq.6",
        "W2^2 SGD",
    ];
    let _ = writeln!(out, "  {}", cols.join(" | "));
    let last =
        |c: &MfCell, f: &dyn Fn(&MfCell) -> &Vec<f64>| f(c).last().copied().unwrap_or(f64::NAN);
    let risk_sgd = by_size(sweep, |c| last(c, &|c| &c.sgd.risk));
    let risk_p = by_size(sweep, |c| last(c, &|c| &c.particle.risk));
    let risk_r = by_size(sweep, |c| last(c, &|c| &c.reference.risk));
    let err_p = by_size(sweep, |c| c.err_particle);
    let err_s = by_size(sweep, |c| c.err_sgd);
    let w2_p = by_size(sweep, |c| c.w2_particle);
    let w2_s = by_size(sweep, |c| c.w2_sgd);
    for (i, r) in risk_sgd.iter().enumerate() {
        let cell = sweep.cells.iter().find(|c| c.size == r.0);
        let _ = writeln!(
            out,
            "  {} | {} | {:.4e} | {} | {} | {} | {} | {} | {} | {}",
            r.0,
            cell.map_or(0, |c| c.steps),
            cell.map_or(f64::NAN, |c| c.step),
            cell_text(*r),
            cell_text(risk_p[i]),
            cell_text(risk_r[i]),
            cell_text(err_p[i]),
            cell_text(err_s[i]),
            cell_text(w2_p[i]),
            cell_text(w2_s[i]),
        );
    }
    out
}

/// `tp-meanfield-simulate/1`.
pub fn sweep_json(prog: &MeanFieldProgram, sweep: &MfSweep) -> Value {
    let cells: Vec<Value> = sweep
        .cells
        .iter()
        .map(|c| {
            json!({
                "size": c.size, "seed": c.seed, "steps": c.steps, "step": c.step,
                "err_particle": c.err_particle, "err_blocks": c.err_blocks, "err_sgd": c.err_sgd,
                "w2_particle": c.w2_particle, "w2_sgd": c.w2_sgd,
                "sgd": {"times": c.sgd.times, "risk": c.sgd.risk, "mean": c.sgd.path_mean, "spread": c.sgd.path_spread},
                "particle": {"times": c.particle.times, "risk": c.particle.risk, "mean": c.particle.path_mean, "spread": c.particle.path_spread},
                "reference": {"times": c.reference.times, "risk": c.reference.risk, "mean": c.reference.path_mean, "spread": c.reference.path_spread},
            })
        })
        .collect();
    json!({
        "schema": MF_SIMULATE_SCHEMA,
        "program": prog.display_name(),
        "reference": sweep.reference,
        "n_ref": sweep.n_ref,
        "w2_method": sweep.w2_method,
        "sup_times": sweep.sup_times,
        "data_nodes": sweep.data_nodes,
        "cells": cells,
    })
}

/// `tp check` on a mean-field program, as text.
pub fn render_check(prog: &MeanFieldProgram, c: &MfCheck) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", prog.display_name());
    if let Some(m) = &c.mutation {
        let _ = writeln!(
            out,
            "MUTATION {m}: the derivation is deliberately wrong; the check should FAIL"
        );
    }
    for p in &c.points {
        if !p.point.is_empty() {
            let pts: Vec<String> = p.point.iter().map(|(s, v)| format!("{s} = {v}")).collect();
            let _ = writeln!(out, "\nat {}:", pts.join(", "));
        }
        if let Some(r) = &p.regime {
            let _ = writeln!(out, "regime: {r}; error terms: {}", p.rate);
        }
        let steps: Vec<String> = p
            .steps
            .iter()
            .map(|(n, s)| format!("N = {n}: n_T = {s}"))
            .collect();
        let _ = writeln!(
            out,
            "steps (exact n_T = floor(T / gamma_ab(N))): {}",
            steps.join(", ")
        );
        let _ = writeln!(out, "reference: {}", p.reference);
        let _ = writeln!(out, "limit: {}", p.limit_method);
        for s in &p.series {
            let _ = write!(out, "  {}:", s.quantity);
            for (n, m, se) in &s.points {
                let _ = write!(out, "  N={n}: {m:.3e}±{se:.1e}");
            }
            if let Some((slope, se)) = s.slope {
                let _ = write!(out, "  (local slope {slope:+.3} ± {se:.3})");
            }
            let _ = writeln!(out);
        }
        for v in &p.verdicts {
            let _ = writeln!(out, "{}", super::depth::verdict_row(v, 56, 6, 40));
        }
    }
    let total: usize = c.points.iter().map(|p| p.verdicts.len()).sum();
    let _ = writeln!(
        out,
        "\n{}: {} of {} verdicts failed (Holm, family-wise level {})",
        if c.failures == 0 && total > 0 {
            "PASS"
        } else {
            "FAIL"
        },
        c.failures,
        total,
        LEVEL
    );
    out
}

/// `tp-meanfield-check/1`.
pub fn check_json(prog: &MeanFieldProgram, c: &MfCheck) -> Value {
    let total: usize = c.points.iter().map(|p| p.verdicts.len()).sum();
    json!({
        "schema": MF_CHECK_SCHEMA,
        "program": prog.display_name(),
        "mutation": c.mutation,
        "pass": c.pass(),
        "failures": c.failures,
        "verdicts": total,
        "level": LEVEL,
        "points": c.points,
    })
}

/// The error-against-N figure of a check: per point, the coupling error of eq. (6) with
/// the derived terms' fit dashed on top.
pub fn error_panels(c: &MfCheck) -> Vec<ErrorPanel> {
    c.points
        .iter()
        .filter_map(|p| {
            let s = p.series.first()?;
            let at: Vec<String> = p.point.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            let title = if at.is_empty() {
                format!("{} ({})", s.quantity, p.regime.clone().unwrap_or_default())
            } else {
                format!("{} at {}", s.quantity, at.join(", "))
            };
            Some(ErrorPanel {
                title,
                series: vec![(
                    "measured (mean ± 2 SE)".into(),
                    s.points.iter().map(|&(n, m, e)| (n as f64, m, e)).collect(),
                )],
                derived: vec![(
                    format!("derived: {}", p.rate),
                    s.fitted.iter().map(|&(n, y)| (n as f64, y)).collect(),
                )],
            })
        })
        .collect()
}

/// Histograms of coordinate 1 of literal SGD's particles at T, one series per N.
pub fn histogram_panel(title: &str, sweep: &MfSweep, seed: u64) -> HistogramPanel {
    HistogramPanel {
        title: title.into(),
        series: sweep
            .cells
            .iter()
            .filter(|c| c.seed == seed)
            .map(|c| {
                (
                    format!("N = {}", c.size),
                    c.sgd.coords.first().map_or(Vec::new(), |col| {
                        col.iter().map(|&x| f64::from(x)).collect()
                    }),
                )
            })
            .collect(),
        reference: None,
    }
}

/// One panel per N: the first coordinate of literal SGD's particle mean against time, one
/// path per seed (under an identical initialization every particle is at that point, so
/// this is De Bortoli et al.'s Fig. 2 protocol).
pub fn trajectory_panels(sweep: &MfSweep) -> Vec<TrajectoryPanel> {
    let mut sizes: Vec<u64> = sweep.cells.iter().map(|c| c.size).collect();
    sizes.dedup();
    sizes
        .into_iter()
        .map(|n| {
            let cells: Vec<&MfCell> = sweep.cells.iter().filter(|c| c.size == n).collect();
            TrajectoryPanel {
                title: format!(
                    "N = {n}: {} runs of literal SGD from one point",
                    cells.len()
                ),
                y_label: "coordinate 1 of W_n".into(),
                paths: cells
                    .iter()
                    .map(|c| {
                        c.sgd
                            .times
                            .iter()
                            .zip(&c.sgd.path_mean)
                            .filter_map(|(&t, m)| m.first().map(|&v| (t, v)))
                            .collect()
                    })
                    .collect(),
            }
        })
        .collect()
}
