//! tp: a Tensor Program engine and simulator.
//!
//! The pipeline is parse → elaborate → scale → limit → simulate → check; each stage
//! is one module. Start reading at [`syntax`] and [`elaborate`], which turn a `.tp`
//! file into the [`ir::Program`] every later stage consumes; [`compile`] and
//! [`load`] run both. A file with a `resnet` statement is a depth program instead
//! ([`depth::DepthProgram`], whose size is the depth L), and one with a `shaped`
//! statement a shaped network ([`shaped::ShapedProgram`], depth d = τ n), and one with a
//! `meanfield` statement a mean-field network ([`meanfield::MeanFieldProgram`], N particles);
//! [`compile_any`] and [`load_any`] read every kind.
//!
//! # Using tp as a library
//!
//! Every command of the binary is a function here, so a test suite can pin what it
//! derives. The width pipeline on a one-layer NNGP program (h = W ξ with entries of
//! variance 2/3 on a unit input, x = relu(h), K = mean(x²)), whose limit is the
//! arc-cosine kernel E[relu(Z)²] = Var(Z)/2 = 1/3:
//!
//! ```
//! let text = "width n
//! activation act = relu
//! input xa = [1, 0, 0]
//! matrix W : n x 3 ~ gaussian(2/3)
//! vector h = W xa
//! vector x = act(h)
//! scalar K = mean(x * x)";
//! // Parse and elaborate (`tp show`).
//! let program = tp::compile("nngp.tp", text, &[])?;
//! // Exact exponents (`tp scale`): K = Θ(n^0).
//! let scale = tp::scale::analyze(&program)?;
//! let k = scale.quantities.iter().find(|q| q.name == "K").expect("K is recorded");
//! assert_eq!(k.exponent.to_string(), "0");
//! // The infinite-width limit (`tp limit`), here in closed form.
//! let limit = tp::limit::limit(&program, &tp::limit::EvalOptions::default())?;
//! let k = limit.scalars.iter().find(|s| s.name == "K").expect("K has a limit");
//! assert!((k.value.expect("evaluated") - 1.0 / 3.0).abs() < 1e-9);
//! // Finite widths (`tp simulate`): the same seeds give the same bits.
//! let sweep = tp::sim::sweep(&program, &[64, 256], &[0, 1, 2], Some(1), None)?;
//! assert_eq!(sweep, tp::sim::sweep(&program, &[64, 256], &[0, 1, 2], Some(2), None)?);
//! // The verdicts (`tp check`).
//! let options = tp::check::CheckOptions {
//!     widths: vec![64, 128, 256, 512],
//!     seeds: (0..8).collect(),
//!     ..tp::check::CheckOptions::default()
//! };
//! let report = tp::check::run_check(&program, &options, &tp::check::CheckInputs::default(), None)?;
//! assert!(report.pass());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The other families follow the same shape: [`compile_any`], then
//! `depth::derive`, `shaped::derive` or `meanfield::derive::derive` for the derivation,
//! and `check::depth_program::run_depth_check`, `check::shaped::run_shaped_check` or
//! `check::meanfield::run_meanfield_check` for the verdicts. `examples/snapshot_test.rs`
//! shows a user's test that pins a derived recursion with `insta`.

pub mod bounds;
pub mod check;
pub mod depth;
pub mod elaborate;
mod error;
pub mod exponent;
pub mod gauss;
pub mod ir;
pub mod limit;
pub mod meanfield;
pub mod report;
pub mod scale;
pub mod shaped;
pub mod sim;
pub mod solve;
pub mod syntax;

pub use error::TpError;

use elaborate::{Elaborated, Override, SourceText};
use std::path::Path;

/// Parses `NAME=VALUE` command-line overrides; the value is a `.tp` expression. A name
/// given twice is refused: which value was meant cannot be guessed.
pub fn parse_overrides(sets: &[String]) -> Result<Vec<Override>, TpError> {
    let overrides = sets
        .iter()
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
        .collect::<Result<Vec<Override>, TpError>>()?;
    for (k, later) in overrides.iter().enumerate() {
        if let Some(first) = overrides[..k].iter().find(|o| o.name == later.name) {
            return Err(TpError::BadOverride {
                text: format!("{}={}", later.name, later.text),
                reason: format!(
                    "`{}` is already set by `--set {}={}`; give each name once",
                    later.name, first.name, first.text
                ),
            });
        }
    }
    Ok(overrides)
}

/// A compiled program of either family.
// One value per compiled file (see `elaborate::Elaborated`): unboxed on purpose.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Compiled {
    /// A Tensor Program whose size is the width n (`mlp`, raw statements).
    Width(ir::Program),
    /// A residual network whose size is the depth L (`resnet`).
    Depth(depth::DepthProgram),
    /// A shaped MLP whose depth d = τ n grows with its width (`shaped`).
    Shaped(shaped::ShapedProgram),
    /// A mean-field two-layer network whose size is its particle count N (`meanfield`).
    MeanField(meanfield::MeanFieldProgram),
}

impl From<Elaborated> for Compiled {
    fn from(e: Elaborated) -> Self {
        match e {
            Elaborated::Width(p) => Compiled::Width(p),
            Elaborated::Depth(p) => Compiled::Depth(p),
            Elaborated::Shaped(p) => Compiled::Shaped(p),
            Elaborated::MeanField(p) => Compiled::MeanField(p),
        }
    }
}

/// Parses and elaborates program text; `file` names it in diagnostics. A byte-order mark
/// at the very start (which some editors write) is skipped. A depth program (`resnet`)
/// is refused with a located error: use [`compile_any`] for those.
pub fn compile(file: &str, text: &str, overrides: &[Override]) -> Result<ir::Program, TpError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let ast = syntax::parse(file, text)?;
    let src = SourceText { file, text };
    Ok(elaborate::elaborate(&src, &ast, overrides)?)
}

/// Parses and elaborates program text of any family: a file with a `meanfield` statement
/// becomes [`Compiled::MeanField`], one with a `shaped` statement [`Compiled::Shaped`],
/// one with a `resnet` statement [`Compiled::Depth`], any other exactly what [`compile`]
/// returns.
///
/// A mean-field program and its derived error rate (De Bortoli et al. 2020, Thm 1:
/// N^{-(1-β)/(1-α)}/M + 1/N, so N^{-1/2} leads at α = 0, β = 1/2):
///
/// ```
/// let text = "particles N
/// meanfield net(
///   particles = N, dim = 1, x_dim = 1,
///   init = gaussian, init_mean = 0, init_std = 1,
///   unit = tanh(w1 * x1), penalty = w1^2 / 2, loss = square,
///   data = teacher, x_law = gaussian, target = tanh(x1), label_noise = 0.1,
///   batch = 1, gamma = 1, alpha = 0, beta = 1/2, horizon = 1
/// )";
/// let tp::Compiled::MeanField(program) = tp::compile_any("mf.tp", text, &[])? else {
///     panic!("a meanfield statement makes a mean-field program");
/// };
/// let d = tp::meanfield::derive::derive(&program, None);
/// let half = tp::exponent::Rational::new((-1).into(), 2.into());
/// assert_eq!(d.leading_rate, Some(half));
/// # Ok::<(), tp::TpError>(())
/// ```
pub fn compile_any(file: &str, text: &str, overrides: &[Override]) -> Result<Compiled, TpError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let ast = syntax::parse(file, text)?;
    let src = SourceText { file, text };
    Ok(elaborate::elaborate_any(&src, &ast, overrides)?.into())
}

/// Reads, parses and elaborates a `.tp` file (width programs only; see [`load_any`]).
pub fn load(path: &Path, overrides: &[Override]) -> Result<ir::Program, TpError> {
    let (file, text) = read_program(path)?;
    compile(&file, &text, overrides)
}

/// Reads, parses and elaborates a `.tp` file of either family (see [`compile_any`]).
pub fn load_any(path: &Path, overrides: &[Override]) -> Result<Compiled, TpError> {
    let (file, text) = read_program(path)?;
    compile_any(&file, &text, overrides)
}

/// The file's name for diagnostics and its text.
fn read_program(path: &Path) -> Result<(String, String), TpError> {
    let bytes = std::fs::read(path).map_err(|source| TpError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file = path.display().to_string();
    let text = utf8_text(&file, bytes)?;
    Ok((file, text))
}

/// The file's bytes as text, or a diagnostic at the first byte that is not UTF-8.
fn utf8_text(file: &str, bytes: Vec<u8>) -> Result<String, TpError> {
    String::from_utf8(bytes).map_err(|err| {
        let bytes = err.as_bytes();
        let at = err.utf8_error().valid_up_to();
        let bad = bytes.get(at).copied().unwrap_or(0);
        // The line is shown with the bad bytes replaced; the valid prefix keeps its offsets.
        let shown = String::from_utf8_lossy(bytes);
        // UTF-16 text of ASCII characters has a zero in every other byte.
        let zeros = bytes.iter().take(128).filter(|b| **b == 0).count();
        let hint = if zeros * 4 > bytes.len().min(128) {
            "the file looks like UTF-16; save it as UTF-8 (e.g. `iconv -f utf-16 -t utf-8`)"
        } else {
            "tp reads UTF-8 text; save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
        };
        TpError::from(syntax::Diagnostic::new(
            syntax::Stage::Syntax,
            file,
            &shown,
            syntax::ast::Span {
                start: at,
                end: at + 1,
            },
            format!(
                "the file is not valid UTF-8 text: byte 0x{bad:02X} cannot start a character here"
            ),
            Some(hint.to_string()),
        ))
    })
}
