//! Per-seed measurements in long format: one row per (quantity, statistic, step, size,
//! seed), for `--csv FILE` (loadable with `pandas.read_csv` as is) and for the `per_seed`
//! array of `--json --per-seed`.
//!
//! Every family writes the same columns, so the files of several programs concatenate:
//! `quantity,statistic,step,size_name,size,width,seed,value`. `size_name` says what the
//! swept size is (`width`, `depth`, `particles`); `width` is filled only when a grid has
//! the network width as a second size beside it (the Hayou/Zheng depth forms). An empty
//! cell is a value that was not computed (a blow-up, or an entry that does not apply);
//! pandas reads it as NaN. Numbers are written in Rust's shortest round-trip form, so a
//! value read back is the same `f64`.
//!
//! Width sweeps are mapped here ([`width_rows`]); each other family in a module of its
//! own, whose documentation lists its quantity and statistic names ([`depth_rows`],
//! [`shaped_rows`], [`meanfield_rows`], and the `*_check_rows` of their checks, which
//! prefix every row of a symbolic program's checked point with the point).

use crate::sim::SweepResult;
use std::fmt::Write as _;
use std::path::Path;

mod depth;
mod meanfield;
mod shaped;

pub use depth::{depth_check_rows, depth_rows};
pub use meanfield::{meanfield_check_rows, meanfield_rows};
pub use shaped::{shaped_check_rows, shaped_rows};

/// The header line of every CSV `tp` writes.
pub const HEADER: &str = "quantity,statistic,step,size_name,size,width,seed,value";

/// One measurement of one seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The quantity (`h2_1`, `pathwise_error`, `risk`, …).
    pub quantity: String,
    /// Which number of the quantity (`size`, `value`, `delta`, `error`, …).
    pub statistic: String,
    /// The SGD step, or the layer or time index of a trajectory quantity (see the
    /// family's documentation); `None` when it has none.
    pub step: Option<u64>,
    /// What the swept size is: `width`, `depth` or `particles`.
    pub size_name: &'static str,
    /// The size.
    pub size: u64,
    /// The network width of a grid that sweeps it beside `size`.
    pub width: Option<u64>,
    /// The seed.
    pub seed: u64,
    /// The measured value; `None` when it was not computed.
    pub value: Option<f64>,
}

/// A CSV field: quoted when it holds a separator, a quote or a line break (RFC 4180).
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// An optional number as a CSV cell: empty when absent.
fn cell<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// What every row of one record shares: its size and seed. The families build their
/// rows through it so that no row can mix up the size columns.
#[derive(Clone, Copy, Debug)]
struct At {
    size_name: &'static str,
    size: u64,
    width: Option<u64>,
    seed: u64,
}

impl At {
    /// A row of this record.
    fn row(
        &self,
        quantity: impl Into<String>,
        statistic: &str,
        step: Option<u64>,
        value: Option<f64>,
    ) -> Row {
        Row {
            quantity: quantity.into(),
            statistic: statistic.to_string(),
            step,
            size_name: self.size_name,
            size: self.size,
            width: self.width,
            seed: self.seed,
            value,
        }
    }
}

/// The rows of several checked points (a symbolic program's phase diagram), each
/// point's quantities prefixed with its symbol values: `alpha=1/2 beta=1: displacement`.
/// A numeric program has one point with no values, and its quantities keep their names.
fn at_points<'a, P: 'a>(
    points: impl IntoIterator<Item = (Vec<(String, String)>, &'a P)>,
    rows_of: impl Fn(&P) -> Vec<Row>,
) -> Vec<Row> {
    let mut out = Vec::new();
    for (point, data) in points {
        let mut rows = rows_of(data);
        if !point.is_empty() {
            let prefix: Vec<String> = point.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let prefix = prefix.join(" ");
            for r in &mut rows {
                r.quantity = format!("{prefix}: {}", r.quantity);
            }
        }
        out.extend(rows);
    }
    out
}

/// The rows as CSV text, header first.
pub fn to_csv(rows: &[Row]) -> String {
    let mut out = String::with_capacity(64 * (rows.len() + 1));
    out.push_str(HEADER);
    out.push('\n');
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            field(&r.quantity),
            field(&r.statistic),
            cell(r.step),
            r.size_name,
            r.size,
            cell(r.width),
            r.seed,
            // Debug form: shortest round trip, with an exponent for very large or small
            // numbers (Display would write 300 digits). A recorded number is finite.
            r.value
                .filter(|v| v.is_finite())
                .map(|v| format!("{v:?}"))
                .unwrap_or_default(),
        );
    }
    out
}

/// The rows as the JSON array of `--per-seed`: one object per row, with the CSV's keys
/// (`null` where the CSV cell is empty).
pub fn to_json(rows: &[Row]) -> serde_json::Value {
    serde_json::Value::Array(
        rows.iter()
            .map(|r| {
                serde_json::json!({
                    "quantity": r.quantity,
                    "statistic": r.statistic,
                    "step": r.step,
                    "size_name": r.size_name,
                    "size": r.size,
                    "width": r.width,
                    "seed": r.seed,
                    "value": r.value.filter(|v| v.is_finite()),
                })
            })
            .collect(),
    )
}

/// Writes the rows to `path` as CSV; the error is the operating system's, as text.
pub fn write(rows: &[Row], path: &Path) -> Result<(), String> {
    std::fs::write(path, to_csv(rows)).map_err(|e| e.to_string())
}

/// Which number of a measurement a statistic reads.
type Pick = fn(&crate::sim::Measurement) -> Option<f64>;

/// The rows of a width sweep: per quantity, width and seed, the `size` (the RMS of a
/// vector, |s| of a scalar), a scalar's signed `value`, and the size of the change since
/// step 0 (`delta`: RMS(v_t − v_0), |s_t − s_0|) where the quantity has a step-0 base.
/// `step` is the SGD step. A run that blew up before a quantity gives empty values, not
/// missing rows, so every (quantity, width, seed) has its rows. The law verdicts' extra
/// seeds at the largest width (`law`), when there are any, follow as more rows of the
/// same kind.
pub fn width_rows(result: &SweepResult, law: Option<&SweepResult>) -> Vec<Row> {
    let mut rows = Vec::new();
    for sweep in std::iter::once(result).chain(law) {
        sweep_rows(&mut rows, sweep);
    }
    rows
}

/// The rows of one width sweep, appended to `rows`.
fn sweep_rows(rows: &mut Vec<Row>, result: &SweepResult) {
    for (q, quantity) in result.quantities.iter().enumerate() {
        let scalar = quantity.kind == crate::ir::Kind::Scalar;
        let mut statistics: Vec<(&str, Pick)> = vec![("size", |m| m.size)];
        if scalar {
            statistics.push(("value", |m| m.value));
        }
        if quantity.base.is_some() {
            statistics.push(("delta", |m| m.delta));
        }
        for (w, &width) in result.widths.iter().enumerate() {
            for (s, &seed) in result.seeds.iter().enumerate() {
                let measurement = result.run(w, s).and_then(|r| r.measurements.get(q));
                let at = At {
                    size_name: "width",
                    size: width as u64,
                    width: None,
                    seed,
                };
                for (statistic, pick) in &statistics {
                    rows.push(at.row(
                        quantity.name.as_str(),
                        statistic,
                        quantity.step.map(|t| t as u64),
                        measurement.and_then(pick),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(quantity: &str, value: Option<f64>) -> Row {
        Row {
            quantity: quantity.into(),
            statistic: "size".into(),
            step: Some(1),
            size_name: "width",
            size: 64,
            width: None,
            seed: 3,
            value,
        }
    }

    #[test]
    fn fields_with_separators_are_quoted_and_missing_values_are_empty() {
        let text = to_csv(&[row("h[x,y]", Some(0.1)), row("a\"b", None)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER);
        assert_eq!(lines[1], "\"h[x,y]\",size,1,width,64,,3,0.1");
        assert_eq!(lines[2], "\"a\"\"b\",size,1,width,64,,3,");
    }

    #[test]
    fn values_round_trip_exactly_and_stay_short() {
        for v in [0.1f64 + 0.2, 1e-300, 3.5e300, -2.0, 5e-324] {
            let text = to_csv(&[row("x", Some(v))]);
            let cell = text.lines().nth(1).and_then(|l| l.rsplit(',').next());
            assert_eq!(cell.and_then(|c| c.parse::<f64>().ok()), Some(v));
            assert!(cell.is_some_and(|c| c.len() < 25), "{cell:?}");
        }
    }
}
