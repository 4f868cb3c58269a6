//! A structural view of an instruction's value, used to compare a quantity at step t
//! with the same quantity at step 0.
//!
//! Auxiliary products `Ŵx` and moments are inlined so that `W2.x1_1` (step 1) and the
//! `W2 x1_0` of `h2_0` (step 0) are seen as the same matrix applied to two members of
//! the family `x1`, whose difference is then `Ŵ (x1_1 - x1_0)`.

use crate::exponent::{Exponent, Rational};
use crate::ir::{Expr, Func, Kind, MatrixId, Op, Program, Role, ValueId};

/// A node of the view.
#[derive(Clone, Debug, PartialEq)]
pub enum View {
    /// A real constant.
    Const(f64),
    /// A power of the width.
    Width(Exponent),
    /// Another value of the program (not inlined).
    Leaf(ValueId),
    /// `Ŵ x` or `Ŵᵀ x`.
    MatMul(MatrixId, bool, ValueId),
    /// An initial (Gaussian) value, by identity.
    Init(ValueId),
    /// `(1/n) Σ_i (…)_i`.
    Moment(Box<View>),
    /// A sum.
    Sum(Vec<View>),
    /// A product.
    Prod(Vec<View>),
    /// `a / b`.
    Div(Box<View>, Box<View>),
    /// `a^q`.
    Pow(Box<View>, Rational),
    /// An elementary function.
    Call(Func, Box<View>),
    /// `φ^{(order)}` of an activation.
    Act(usize, usize, Box<View>),
}

/// Builds views; `inline` also expands auxiliary products and moments in place.
pub struct ViewBuilder<'p> {
    program: &'p Program,
    inline: bool,
}

impl<'p> ViewBuilder<'p> {
    /// A builder over `program`.
    pub fn new(program: &'p Program, inline: bool) -> Self {
        ViewBuilder { program, inline }
    }

    /// The view of a value: its scale times its operation.
    pub fn value(&self, id: ValueId) -> View {
        let instr = self.program.instr(id);
        let op = match &instr.op {
            Op::Init { .. } => View::Init(id),
            Op::MatMul {
                matrix,
                transpose,
                arg,
            } => View::MatMul(*matrix, *transpose, *arg),
            Op::Map { expr } | Op::Scalar { expr } => self.expr(expr),
            Op::Moment { expr } => View::Moment(Box::new(self.expr(expr))),
        };
        let mut factors = Vec::new();
        if instr.scale.coef != 1.0 {
            factors.push(View::Const(instr.scale.coef));
        }
        if !instr.scale.exponent.is_zero() {
            factors.push(View::Width(instr.scale.exponent.clone()));
        }
        if factors.is_empty() {
            op
        } else {
            factors.push(op);
            View::Prod(factors)
        }
    }

    fn leaf(&self, id: ValueId) -> View {
        let instr = self.program.instr(id);
        let inlinable = self.inline
            && instr.meta.role == Role::Auxiliary
            && matches!(instr.op, Op::MatMul { .. } | Op::Moment { .. })
            && (instr.kind == Kind::Vector || matches!(instr.op, Op::Moment { .. }));
        if inlinable {
            self.value(id)
        } else {
            View::Leaf(id)
        }
    }

    /// The view of an expression.
    pub fn expr(&self, e: &Expr) -> View {
        match e {
            Expr::Const(c) => View::Const(*c),
            Expr::Arg => View::Const(f64::NAN),
            Expr::Value(id) => self.leaf(*id),
            Expr::Width(w) => View::Width(w.clone()),
            Expr::Add(items) => View::Sum(items.iter().map(|i| self.expr(i)).collect()),
            Expr::Mul(items) => View::Prod(items.iter().map(|i| self.expr(i)).collect()),
            Expr::Neg(a) => View::Prod(vec![View::Const(-1.0), self.expr(a)]),
            Expr::Div(a, b) => View::Div(Box::new(self.expr(a)), Box::new(self.expr(b))),
            Expr::Pow(a, q) => View::Pow(Box::new(self.expr(a)), q.clone()),
            Expr::Call(f, a) => View::Call(*f, Box::new(self.expr(a))),
            Expr::Act { act, order, arg } => View::Act(act.0, *order, Box::new(self.expr(arg))),
        }
    }

    /// A key that is equal for two views of "the same term" at different steps: values
    /// are replaced by their family (or their name when they have none).
    pub fn shape(&self, v: &View) -> String {
        let name = |id: &ValueId| {
            let i = self.program.instr(*id);
            i.meta.family.clone().unwrap_or_else(|| i.name.clone())
        };
        key(v, &name)
    }
}

/// The structure of `v` as text, with every value written as `name(id)`: two views get
/// the same key exactly when they have the same structure and their values the same
/// names. [`ViewBuilder::shape`] names values by family (the same quantity at two
/// steps); the exponent engine names them by their identical-computation representative.
pub fn key(v: &View, name: &dyn Fn(&ValueId) -> String) -> String {
    match v {
        View::Const(c) => format!("{c:?}"),
        View::Width(e) => format!("n^({e})"),
        View::Leaf(id) | View::Init(id) => name(id),
        View::MatMul(m, t, x) => format!("M{}{}({})", m.0, if *t { "T" } else { "" }, name(x)),
        View::Moment(a) => format!("mean({})", key(a, name)),
        View::Sum(items) => {
            let parts: Vec<String> = items.iter().map(|i| key(i, name)).collect();
            format!("sum({})", parts.join(","))
        }
        View::Prod(items) => {
            let parts: Vec<String> = items.iter().map(|i| key(i, name)).collect();
            format!("prod({})", parts.join(","))
        }
        View::Div(a, b) => format!("div({},{})", key(a, name), key(b, name)),
        View::Pow(a, q) => format!("pow({},{q})", key(a, name)),
        View::Call(f, a) => format!("{}({})", f.name(), key(a, name)),
        View::Act(a, k, x) => format!("act{a}.{k}({})", key(x, name)),
    }
}
