//! The Tensor Program IR (NETSOR⊤ with explicit width factors).
//!
//! The only matrices are the initial ones, normalized to N(0, 1/n) entries and used
//! as `Ŵ x` and `Ŵᵀ x`; every other quantity is an n-vector or a finite scalar built
//! from them by [`Op`]s. Values are defined in order and referred to by [`ValueId`].

mod expr;
mod identity;
mod print;
mod program;

pub use expr::{erf, Activation, DerivativeError, Expr, Func, NotDifferentiable, Var};
pub use identity::Identity;
pub use print::{
    instr_to_json, program_to_json, render_expr, render_formula, render_instr, render_number,
    render_program, SHOW_SCHEMA,
};
pub use program::{
    ActId, Instr, Kind, MatrixId, MatrixInfo, Meta, Op, Program, Role, Scale, Source, SourceId,
    ValueId,
};
