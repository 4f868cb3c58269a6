//! Per-seed rows of depth programs (ResNets as L → ∞).
//!
//! `size_name` is `depth` (L). `statistic` names the trajectory that measured a number,
//! as the JSON's `records[].network` and `records[].limit`: `network`, or `limit` (the
//! limit solved on the same Brownian path, or the type 2 SDE sampled alone); a number of
//! the pair is `value`. `step` is the layer k the number is read at (t = k/L).
//!
//! Cont–Rossier–Xu (`width` empty), per (L, seed):
//! `half[i]` (coordinate i of h at layer ⌊L/2⌋, from 0), `end[i]` (at layer L),
//! `displacement` (‖h_L − h_0‖/√d, step L), `first_step` (‖h_1 − h_0‖/√d, step 1),
//! `blowup_layer` (the layer where the trajectory stopped; empty when it did not), each
//! for `network` and, when the sweep has a limit, `limit`; and `pathwise_error`/`value`
//! (sup_k |h_k − H_{k/L}|, no step).
//!
//! Hayou/Zheng (`width` = n), per (n, L, seed): `f0_sq`/`value` (‖f_0‖²/n, step 0);
//! `half.f_sq`, `half.log_growth` and, with the sketch, `half.v_sq`, `half.fv` at layer
//! ⌊L/2⌋, the same with `end.` at layer L, and `blowup_layer`, for each trajectory the
//! sweep ran (the network, the coupled limit, or the type 2 SDE); with a coupled limit
//! `f_error`/`value` (sup_k ‖f_k − F_{k/L}‖/√n) and, with the sketch, `v_error`/`value`.

use super::{at_points, At, Row};
use crate::check::depth_program::DepthCheckReport;
use crate::depth::model::{DepthProgram, Resnet};
use crate::depth::simulate::{
    CrxRecord, CrxSweep, CrxTrajectory, HayouRecord, HayouSource, HayouSweep, HayouTrajectory,
};
use crate::depth::sweep::DepthSweep;

/// The rows of a depth sweep of `prog` (see the module documentation for the names);
/// none when the sweep is of the other residual form than the program's.
pub fn depth_rows(prog: &DepthProgram, sweep: &DepthSweep) -> Vec<Row> {
    match (sweep, &prog.net) {
        (DepthSweep::Crx(s), Resnet::Crx(net)) => crx_rows(s, net.dim),
        (DepthSweep::Hayou(s), Resnet::Hayou(net)) => hayou_rows(s, net.sketch),
        // A sweep of the other form than the program's is not this program's sweep:
        // `depth::sweep::run_sweep` never makes one, and its rows would be guesses.
        _ => Vec::new(),
    }
}

/// The rows of every point of a depth check, each prefixed with its point when the
/// program is symbolic (`alpha=1/2 beta=1: displacement`).
pub fn depth_check_rows(prog: &DepthProgram, report: &DepthCheckReport) -> Vec<Row> {
    at_points(
        report.points.iter().filter_map(|p| {
            let point = p
                .point
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            p.sweep.as_ref().map(|s| (point, s))
        }),
        |s| depth_rows(prog, s),
    )
}

/// Cont–Rossier–Xu: every record, depth-major then seed, as the sweep stores them.
fn crx_rows(s: &CrxSweep, dim: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    for r in &s.records {
        let at = At {
            size_name: "depth",
            size: r.depth as u64,
            width: None,
            seed: r.seed,
        };
        crx_trajectory(&mut rows, &at, r, "network", Some(&r.network), dim);
        if s.scheme.is_some() {
            crx_trajectory(&mut rows, &at, r, "limit", r.limit.as_ref(), dim);
        }
        rows.push(at.row("pathwise_error", "value", None, r.pathwise_error));
    }
    rows
}

/// The rows of one CRX trajectory; an absent trajectory gives its rows with empty values.
fn crx_trajectory(
    rows: &mut Vec<Row>,
    at: &At,
    r: &CrxRecord,
    name: &str,
    t: Option<&CrxTrajectory>,
    dim: usize,
) {
    let depth = Some(r.depth as u64);
    let coordinate = |state: Option<&Vec<f64>>, i: usize| state.and_then(|x| x.get(i)).copied();
    for i in 0..dim {
        let half = t.and_then(|t| t.half.as_ref());
        rows.push(at.row(
            format!("half[{i}]"),
            name,
            Some(r.half_layer as u64),
            coordinate(half, i),
        ));
    }
    for i in 0..dim {
        let end = t.and_then(|t| t.end.as_ref());
        rows.push(at.row(format!("end[{i}]"), name, depth, coordinate(end, i)));
    }
    rows.push(at.row("displacement", name, depth, t.and_then(|t| t.displacement)));
    rows.push(at.row("first_step", name, Some(1), t.and_then(|t| t.first_step)));
    rows.push(at.row(
        "blowup_layer",
        name,
        None,
        t.and_then(|t| t.blowup).map(|b| b.layer as f64),
    ));
}

/// Hayou/Zheng: every record, width-major, then depth, then seed.
fn hayou_rows(s: &HayouSweep, sketch: bool) -> Vec<Row> {
    let (network, limit) = match s.source {
        HayouSource::Network => (true, false),
        HayouSource::Coupled => (true, true),
        HayouSource::Type2Sde => (false, true),
    };
    let coupled = s.source == HayouSource::Coupled;
    let mut rows = Vec::new();
    for r in &s.records {
        let at = At {
            size_name: "depth",
            size: r.depth as u64,
            width: Some(r.width as u64),
            seed: r.seed,
        };
        rows.push(at.row("f0_sq", "value", Some(0), Some(r.f0_sq)));
        if network {
            hayou_trajectory(&mut rows, &at, r, "network", r.network.as_ref(), sketch);
        }
        if limit {
            hayou_trajectory(&mut rows, &at, r, "limit", r.limit.as_ref(), sketch);
        }
        if coupled {
            rows.push(at.row("f_error", "value", None, r.f_error));
            if sketch {
                rows.push(at.row("v_error", "value", None, r.v_error));
            }
        }
    }
    rows
}

/// The rows of one Hayou/Zheng trajectory at ⌊L/2⌋ and L, and where it stopped.
fn hayou_trajectory(
    rows: &mut Vec<Row>,
    at: &At,
    r: &HayouRecord,
    name: &str,
    t: Option<&HayouTrajectory>,
    sketch: bool,
) {
    let snapshots = [
        ("half", r.depth / 2, t.and_then(|t| t.half)),
        ("end", r.depth, t.and_then(|t| t.end)),
    ];
    for (label, layer, snap) in snapshots {
        let step = Some(layer as u64);
        rows.push(at.row(format!("{label}.f_sq"), name, step, snap.map(|x| x.f_sq)));
        rows.push(at.row(
            format!("{label}.log_growth"),
            name,
            step,
            snap.map(|x| x.log_growth),
        ));
        if sketch {
            rows.push(at.row(
                format!("{label}.v_sq"),
                name,
                step,
                snap.and_then(|x| x.v_sq),
            ));
            rows.push(at.row(format!("{label}.fv"), name, step, snap.and_then(|x| x.fv)));
        }
    }
    rows.push(at.row(
        "blowup_layer",
        name,
        None,
        t.and_then(|t| t.blowup).map(|b| b.layer as f64),
    ));
}
