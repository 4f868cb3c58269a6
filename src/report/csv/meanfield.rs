//! Per-seed rows of mean-field programs (two-layer SGD as the number of particles grows).
//!
//! `size_name` is `particles` (N). Per (N, seed), without a step: `err_particle`,
//! `err_sgd` (the mean over particles of the squared sup-distance to the coupled
//! reference, for eq. 6 and for literal SGD), `w2_particle` and `w2_sgd` (W₂² at T to
//! the reference law), statistic `value`. Then for each system — `statistic` is the
//! system, as the JSON's keys: `sgd` (literal SGD), `particle` (eq. 6), `reference` — at
//! every record time, `step` being its index j: `time` (the time n_j h the record was
//! taken at), `risk`, `mean[i]` and `spread[i]` (coordinate i's mean and variance across
//! the particles, coordinates from 0); and without a step, `mean_T[i]` and
//! `spread_T[i]` at the horizon T. The particles' coordinates themselves are not
//! per-seed numbers and are not written.

use super::{at_points, At, Row};
use crate::check::meanfield::MfCheck;
use crate::meanfield::simulate::{DynStats, MfCell, MfSweep};

/// The rows of a mean-field sweep (see the module documentation for the names).
pub fn meanfield_rows(sweep: &MfSweep) -> Vec<Row> {
    let mut rows = Vec::new();
    for cell in &sweep.cells {
        cell_rows(&mut rows, cell);
    }
    rows
}

/// The rows of every point of a mean-field check, each prefixed with its point when
/// the program is symbolic.
pub fn meanfield_check_rows(check: &MfCheck) -> Vec<Row> {
    at_points(
        check
            .points
            .iter()
            .filter_map(|p| p.sweep.as_ref().map(|s| (p.point.clone(), s))),
        meanfield_rows,
    )
}

/// One (N, seed) cell.
fn cell_rows(rows: &mut Vec<Row>, cell: &MfCell) {
    let at = At {
        size_name: "particles",
        size: cell.size,
        width: None,
        seed: cell.seed,
    };
    for (name, value) in [
        ("err_particle", cell.err_particle),
        ("err_sgd", cell.err_sgd),
        ("w2_particle", cell.w2_particle),
        ("w2_sgd", cell.w2_sgd),
    ] {
        rows.push(at.row(name, "value", None, Some(value)));
    }
    for (system, stats) in [
        ("sgd", &cell.sgd),
        ("particle", &cell.particle),
        ("reference", &cell.reference),
    ] {
        system_rows(rows, &at, system, stats);
    }
}

/// One system's trajectory and its state at T.
fn system_rows(rows: &mut Vec<Row>, at: &At, system: &str, stats: &DynStats) {
    for (j, &time) in stats.times.iter().enumerate() {
        let step = Some(j as u64);
        rows.push(at.row("time", system, step, Some(time)));
        rows.push(at.row("risk", system, step, stats.risk.get(j).copied()));
        coordinate_rows(rows, at, system, step, "", stats.path_mean.get(j), "mean");
        coordinate_rows(
            rows,
            at,
            system,
            step,
            "",
            stats.path_spread.get(j),
            "spread",
        );
    }
    coordinate_rows(rows, at, system, None, "_T", Some(&stats.mean), "mean");
    coordinate_rows(rows, at, system, None, "_T", Some(&stats.spread), "spread");
}

/// `{name}{suffix}[i]` for every coordinate i of `values`.
fn coordinate_rows(
    rows: &mut Vec<Row>,
    at: &At,
    system: &str,
    step: Option<u64>,
    suffix: &str,
    values: Option<&Vec<f64>>,
    name: &str,
) {
    for (i, &v) in values.into_iter().flatten().enumerate() {
        rows.push(at.row(format!("{name}{suffix}[{i}]"), system, step, Some(v)));
    }
}
