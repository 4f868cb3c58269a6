//! Per-seed rows of shaped networks (the Gram chain at depth d = τn).
//!
//! `size_name` is `width` (n; the depth is round(τn)); `seed` is the sample index
//! within the run (sample s at width n draws from the stream (`--seed`, n, s)), and
//! `step` is the layer ℓ a Gram matrix Φ_ℓ was recorded at (0 is the inputs' Gram).
//! Per (n, sample), at every recorded layer: `Phi^ab`/`value` for each entry a ≤ b of
//! Φ_ℓ (inputs numbered from 1, as in the reports; `Phi^a,b` from ten inputs on), and
//! the statistics `tp check` judges, computed from that sample's Φ_ℓ: `log Phi^aa` and
//! `rho^ab` (first three inputs) — empty at the layers a sample stopped before. Then,
//! without a step: `stop`/`blowup` and `stop`/`collapse` (1 when the chain stopped
//! that way, else 0) and `stop`/`layer` (the layer it stopped at; empty when it ran
//! to the end).

use super::{at_points, At, Row};
use crate::check::shaped::ShapedCheck;
use crate::shaped::evaluate::statistics;
use crate::shaped::simulate::{ChainRecord, ShapedSweep};
use crate::solve::gram::{packed_index, packed_len, GramStopKind};

/// The rows of a shaped sweep (see the module documentation for the names).
pub fn shaped_rows(sweep: &ShapedSweep) -> Vec<Row> {
    let mut rows = Vec::new();
    for (w, &n) in sweep.widths.iter().enumerate() {
        for s in 0..sweep.samples {
            let at = At {
                size_name: "width",
                size: n as u64,
                width: None,
                seed: s as u64,
            };
            let record = sweep.record(w, s);
            let layers = sweep.layers.get(w).map_or(&[][..], Vec::as_slice);
            for (j, &layer) in layers.iter().enumerate() {
                let state = record.and_then(|r| state_at(r, sweep.m, j));
                gram_rows(&mut rows, &at, sweep.m, layer as u64, state);
            }
            stop_rows(&mut rows, &at, record);
        }
    }
    rows
}

/// The rows of every point of a shaped check, each prefixed with its point when the
/// program is symbolic.
pub fn shaped_check_rows(check: &ShapedCheck) -> Vec<Row> {
    at_points(
        check
            .points
            .iter()
            .filter_map(|p| p.sweep.as_ref().map(|s| (p.point.clone(), s))),
        shaped_rows,
    )
}

/// The packed Φ of the `j`-th recorded layer, when the chain reached it.
fn state_at(record: &ChainRecord, m: usize, j: usize) -> Option<&[f64]> {
    let k = packed_len(m);
    (j < record.layers.len())
        .then(|| record.states.get(j * k..(j + 1) * k))
        .flatten()
}

/// The name of the entry (a, b) of Φ, inputs numbered from 1.
fn entry_name(m: usize, a: usize, b: usize) -> String {
    if m < 10 {
        format!("Phi^{}{}", a + 1, b + 1)
    } else {
        format!("Phi^{},{}", a + 1, b + 1)
    }
}

/// The entries of one Φ_ℓ and the check's statistics of it.
fn gram_rows(rows: &mut Vec<Row>, at: &At, m: usize, layer: u64, state: Option<&[f64]>) {
    for a in 0..m {
        for b in a..m {
            let value = state.and_then(|x| x.get(packed_index(m, a, b))).copied();
            rows.push(at.row(entry_name(m, a, b), "value", Some(layer), value));
        }
    }
    for stat in statistics(m) {
        // The check's names carry `_tau` (read at the last layer); here the step says
        // which layer.
        let name = stat.name().replace("_tau", "");
        let value = state.map(|x| stat.value(m, x));
        rows.push(at.row(name, "value", Some(layer), value));
    }
}

/// How one sample's chain stopped.
fn stop_rows(rows: &mut Vec<Row>, at: &At, record: Option<&ChainRecord>) {
    let stop = record.map(|r| r.stop);
    let was = |kind: GramStopKind| {
        stop.map(|s| {
            if s.is_some_and(|s| s.kind == kind) {
                1.0
            } else {
                0.0
            }
        })
    };
    rows.push(at.row("stop", "blowup", None, was(GramStopKind::BlowUp)));
    rows.push(at.row("stop", "collapse", None, was(GramStopKind::Collapse)));
    rows.push(at.row(
        "stop",
        "layer",
        None,
        stop.flatten().map(|s| s.layer as f64),
    ));
}
