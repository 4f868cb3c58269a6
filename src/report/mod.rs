//! Reports of simulation and check results: text tables, JSON and SVG plots.

mod check;
pub mod csv;
pub mod depth;
mod json;
pub mod meanfield;
pub mod meanfield_check;
pub mod meanfield_plot;
pub mod phase_plot;
pub mod plot;
pub mod shaped;
mod simulation;
pub mod style;
mod table;

pub use check::{check_figure, check_to_json, render_check, CHECK_SCHEMA};
pub use json::{simulation_to_json, SIMULATE_SCHEMA};
pub use simulation::SimulationReport;
pub use table::render_simulation;

/// Checks, before a long run, that a file can be written at `path`: it is opened for
/// writing without truncating it, and removed again if it did not exist before.
pub fn file_writable(path: &std::path::Path) -> Result<(), String> {
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| e.to_string())?;
    if !existed {
        std::fs::remove_file(path).map_err(|e| e.to_string())?;
    }
    Ok(())
}
