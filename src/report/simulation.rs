//! A sweep together with its statistics, ready to print, serialize or plot.

use super::plot::{coordinate_check_figure, Figure, Predictions};
use crate::check::{coordinate_stats, QuantityStats};
use crate::sim::SweepResult;
use serde_json::Value;

/// What `tp simulate` reports: the raw sweep and the per-quantity statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct SimulationReport {
    /// The program's title (or file name), for headings.
    pub title: String,
    /// The program's own title line, if it has one (the JSON `program` field).
    pub program_title: Option<String>,
    /// The sweep.
    pub result: SweepResult,
    /// Statistics of every recorded quantity, in program order.
    pub stats: Vec<QuantityStats>,
}

impl SimulationReport {
    /// Computes the statistics of `result`.
    pub fn new(title: &str, program_title: Option<&str>, result: SweepResult) -> Self {
        let stats = coordinate_stats(&result);
        SimulationReport {
            title: title.to_string(),
            program_title: program_title.map(str::to_string),
            result,
            stats,
        }
    }

    /// The text tables (see [`super::render_simulation`]).
    pub fn text(&self) -> String {
        super::render_simulation(&self.title, &self.result, &self.stats)
    }

    /// The JSON report (schema [`super::SIMULATE_SCHEMA`]).
    pub fn json(&self) -> Value {
        super::simulation_to_json(self.program_title.as_deref(), &self.result, &self.stats)
    }

    /// The coordinate-check figure, with predicted slopes drawn where `predictions` has
    /// them.
    pub fn figure(&self, predictions: &Predictions) -> Figure {
        let title = format!("coordinate check: {}", self.title);
        coordinate_check_figure(&title, &self.result, &self.stats, predictions)
    }
}
