//! tp: a Tensor Program engine and simulator.
//!
//! The pipeline is parse → elaborate → scale → limit → simulate → check; each stage
//! is one module. Start reading at [`syntax`] and [`elaborate`], which turn a `.tp`
//! file into the [`ir::Program`] every later stage consumes; [`compile`] and
//! [`load`] run both.

pub mod check;
pub mod elaborate;
mod error;
pub mod exponent;
pub mod gauss;
pub mod ir;
pub mod limit;
pub mod report;
pub mod scale;
pub mod sim;
pub mod syntax;

pub use error::TpError;

use elaborate::{Override, SourceText};
use std::path::Path;

/// Parses `NAME=VALUE` command-line overrides; the value is a `.tp` expression.
pub fn parse_overrides(sets: &[String]) -> Result<Vec<Override>, TpError> {
    sets.iter()
        .map(|text| {
            let (name, value) = text.split_once('=').ok_or_else(|| TpError::BadOverride {
                text: text.clone(),
                reason: "there is no `=`".into(),
            })?;
            let name = name.trim();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(TpError::BadOverride {
                    text: text.clone(),
                    reason: format!("`{name}` is not a parameter name"),
                });
            }
            let expr = syntax::parse_expr("--set", value.trim())?;
            Ok(Override {
                name: name.to_string(),
                value: expr,
                text: value.trim().to_string(),
            })
        })
        .collect()
}

/// Parses and elaborates program text; `file` names it in diagnostics.
pub fn compile(file: &str, text: &str, overrides: &[Override]) -> Result<ir::Program, TpError> {
    let ast = syntax::parse(file, text)?;
    let src = SourceText { file, text };
    Ok(elaborate::elaborate(&src, &ast, overrides)?)
}

/// Reads, parses and elaborates a `.tp` file.
pub fn load(path: &Path, overrides: &[Override]) -> Result<ir::Program, TpError> {
    let text = std::fs::read_to_string(path).map_err(|source| TpError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    compile(&path.display().to_string(), &text, overrides)
}
