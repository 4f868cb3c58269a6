//! The `.tp` language: grammar-driven parser, syntax tree and diagnostics.

pub mod ast;
mod diagnostic;
mod parser;

pub use diagnostic::{Diagnostic, Stage};
pub use parser::{parse, parse_expr};
