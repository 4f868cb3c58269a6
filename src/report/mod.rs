//! Reports of simulation results: text tables, JSON and SVG plots.

mod json;
pub mod plot;
mod simulation;
mod table;

pub use json::{simulation_to_json, SIMULATE_SCHEMA};
pub use simulation::SimulationReport;
pub use table::render_simulation;
