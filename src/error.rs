//! The error type of the library: every failure a user can cause, with its exit status.

use crate::syntax::Diagnostic;
use std::path::PathBuf;

/// Everything that can go wrong between reading a file and producing a result.
#[derive(Debug, thiserror::Error)]
pub enum TpError {
    /// A located syntax or semantic error in a `.tp` file.
    #[error("{0}")]
    Diagnostic(Box<Diagnostic>),
    /// The file could not be read.
    #[error("cannot read `{path}`: {source}\n  = hint: check the path; programs shipped with tp are in `programs/`")]
    Io {
        /// The path given.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A `--set` argument is not of the form `NAME=VALUE`.
    #[error("`--set {text}`: {reason}\n  = hint: write `--set NAME=VALUE`, e.g. `--set L=5` or `--set act=relu`")]
    BadOverride {
        /// The argument as given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A finite-width simulation cannot run (symbolic exponents, too much memory, …).
    #[error("cannot simulate: {0}")]
    Sim(#[from] crate::sim::SimError),
    /// Symbolic scale analysis would not finish (see `scale::TooComplex`).
    #[error("{0}")]
    TooComplex(#[from] crate::scale::TooComplex),
    /// No limit program can be derived (symbolic exponents).
    #[error("cannot derive the limit: {0}")]
    Limit(#[from] crate::limit::DeriveError),
    /// A command that compares numbers (`tp check`) was given a program with free
    /// symbols: its exponents are expressions, not numbers to compare slopes with.
    #[error(
        "cannot check a program with symbolic parameters ({}): a measured slope is a number, \
         so the derived exponents must be numbers too\n  = hint: fix every symbol, e.g. `{}`",
        symbols.join(", "),
        symbols.iter().map(|s| format!("--set {s}=VALUE")).collect::<Vec<_>>().join(" ")
    )]
    Symbolic {
        /// The free symbols.
        symbols: Vec<String>,
    },
    /// `tp limit` was given a program with free symbols: the limit is evaluated to
    /// numbers, which needs every width exponent to be a number.
    #[error(
        "cannot take the infinite-width limit of a program with symbolic parameters ({}): \
         the limit is evaluated to numbers, so every width exponent must be a number\n  \
         = hint: fix every symbol, e.g. `{}`; `tp scale` derives the symbolic exponents and \
         the conditions on the symbols",
        symbols.join(", "),
        symbols.iter().map(|s| format!("--set {s}=VALUE")).collect::<Vec<_>>().join(" ")
    )]
    SymbolicLimit {
        /// The free symbols.
        symbols: Vec<String>,
    },
    /// Command-line options that cannot be honoured together.
    #[error("{message}\n  = hint: {hint}")]
    BadOptions {
        /// What is wrong.
        message: String,
        /// What to do.
        hint: String,
    },
    /// A depth program's limit or finite-depth sweep could not be computed.
    #[error("{0}")]
    Depth(String),
    /// A data file (`--csv`, a sweep file) could not be read, written or used.
    #[error("`{path}`: {reason}\n  = hint: {hint}")]
    Data {
        /// The path given.
        path: PathBuf,
        /// What went wrong.
        reason: String,
        /// What to do.
        hint: String,
    },
    /// A plot could not be drawn or written.
    #[error("cannot write the plot `{path}`: {reason}")]
    Plot {
        /// The path given.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

impl TpError {
    /// The process exit status for this error (2: bad input, per the CLI contract).
    pub fn exit_code(&self) -> i32 {
        2
    }
}

impl From<Diagnostic> for TpError {
    fn from(d: Diagnostic) -> Self {
        TpError::Diagnostic(Box::new(d))
    }
}

impl From<crate::depth::evaluate::EvalError> for TpError {
    fn from(e: crate::depth::evaluate::EvalError) -> Self {
        TpError::Depth(e.to_string())
    }
}
