//! Expressions compiled to a flat stack-machine tape for fast pointwise evaluation.
//!
//! Integrals evaluate the same few expressions at 10⁵–10⁶ points. Walking the
//! expression tree at each point costs more than the arithmetic (exact rational powers
//! are decided with big-integer operations, activations are looked up by index); the
//! tape decides all of that once, inlines activation bodies and known scalars, and then
//! runs as a loop over a small instruction array.

use crate::exponent::Rational;
use crate::ir::{Activation, Expr, Func, ValueId};
use num_traits::ToPrimitive;

/// One tape instruction.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    /// Push a constant.
    Const(f64),
    /// Push the value of a slot.
    Load(usize),
    /// Pop the top into a slot.
    Store(usize),
    /// Pop n values, push their sum.
    Add(usize),
    /// Pop n values, push their product.
    Mul(usize),
    /// Negate the top.
    Neg,
    /// Pop b, pop a, push a / b.
    Div,
    /// Integer power of the top.
    PowI(i32),
    /// Real power of the top.
    PowF(f64),
    /// An elementary function of the top.
    Call(Func),
}

/// A compiled expression.
#[derive(Clone, Debug, Default)]
pub struct Tape {
    ops: Vec<Op>,
}

/// Where a compiled expression finds the values it reads.
pub struct Layout<'a> {
    /// The slot of a random value (a vector or leaf), if it has one.
    pub slot: &'a dyn Fn(ValueId) -> Option<usize>,
    /// The value of a deterministic scalar.
    pub scalar: &'a dyn Fn(ValueId) -> f64,
    /// Activations, whose bodies are inlined.
    pub acts: &'a [Activation],
}

/// A compiler that allocates temporary slots from `next_temp` upwards.
pub struct Compiler<'a> {
    layout: Layout<'a>,
    next_temp: usize,
}

impl<'a> Compiler<'a> {
    /// A compiler whose temporaries start at slot `first_temp`.
    pub fn new(layout: Layout<'a>, first_temp: usize) -> Self {
        Compiler {
            layout,
            next_temp: first_temp,
        }
    }

    /// Total slots needed (values and temporaries).
    pub fn slots(&self) -> usize {
        self.next_temp
    }

    /// Compiles `expr`.
    pub fn compile(&mut self, expr: &Expr) -> Tape {
        let mut tape = Tape::default();
        self.emit(expr, None, &mut tape.ops);
        tape
    }

    fn emit(&mut self, e: &Expr, arg: Option<usize>, ops: &mut Vec<Op>) {
        match e {
            Expr::Const(c) => ops.push(Op::Const(*c)),
            Expr::Arg => match arg {
                Some(slot) => ops.push(Op::Load(slot)),
                None => ops.push(Op::Const(f64::NAN)),
            },
            Expr::Value(v) => match (self.layout.slot)(*v) {
                Some(slot) => ops.push(Op::Load(slot)),
                None => ops.push(Op::Const((self.layout.scalar)(*v))),
            },
            Expr::Width(_) => ops.push(Op::Const(f64::NAN)),
            Expr::Add(items) => {
                for item in items {
                    self.emit(item, arg, ops);
                }
                ops.push(Op::Add(items.len()));
            }
            Expr::Mul(items) => {
                for item in items {
                    self.emit(item, arg, ops);
                }
                ops.push(Op::Mul(items.len()));
            }
            Expr::Neg(a) => {
                self.emit(a, arg, ops);
                ops.push(Op::Neg);
            }
            Expr::Div(a, b) => {
                self.emit(a, arg, ops);
                self.emit(b, arg, ops);
                ops.push(Op::Div);
            }
            Expr::Pow(a, q) => {
                self.emit(a, arg, ops);
                ops.push(power(q));
            }
            Expr::Call(f, a) => {
                self.emit(a, arg, ops);
                ops.push(Op::Call(*f));
            }
            Expr::Act { act, order, arg: a } => {
                let body = self
                    .layout
                    .acts
                    .get(act.0)
                    .and_then(|x| x.derivatives.get(*order))
                    .cloned();
                match body {
                    Some(body) => {
                        self.emit(a, arg, ops);
                        let temp = self.next_temp;
                        self.next_temp += 1;
                        ops.push(Op::Store(temp));
                        self.emit(&body, Some(temp), ops);
                    }
                    None => ops.push(Op::Const(f64::NAN)),
                }
            }
        }
    }
}

fn power(q: &Rational) -> Op {
    if q.is_integer() {
        if let Some(k) = q.to_integer().to_i32() {
            return Op::PowI(k);
        }
    }
    Op::PowF(q.to_f64().unwrap_or(f64::NAN))
}

impl Tape {
    /// Runs the tape on `slots` (reading values, writing temporaries) with `stack` as
    /// scratch space, and returns the result.
    pub fn run(&self, slots: &mut [f64], stack: &mut Vec<f64>) -> f64 {
        stack.clear();
        for op in &self.ops {
            match *op {
                Op::Const(c) => stack.push(c),
                Op::Load(s) => stack.push(slots.get(s).copied().unwrap_or(f64::NAN)),
                Op::Store(s) => {
                    let v = stack.pop().unwrap_or(f64::NAN);
                    if let Some(slot) = slots.get_mut(s) {
                        *slot = v;
                    }
                }
                Op::Add(n) => {
                    let start = stack.len().saturating_sub(n);
                    let v: f64 = stack[start..].iter().sum();
                    stack.truncate(start);
                    stack.push(v);
                }
                Op::Mul(n) => {
                    let start = stack.len().saturating_sub(n);
                    let v: f64 = stack[start..].iter().product();
                    stack.truncate(start);
                    stack.push(v);
                }
                Op::Neg => {
                    if let Some(top) = stack.last_mut() {
                        *top = -*top;
                    }
                }
                Op::Div => {
                    let b = stack.pop().unwrap_or(f64::NAN);
                    if let Some(top) = stack.last_mut() {
                        *top /= b;
                    }
                }
                Op::PowI(k) => {
                    if let Some(top) = stack.last_mut() {
                        *top = top.powi(k);
                    }
                }
                Op::PowF(p) => {
                    if let Some(top) = stack.last_mut() {
                        *top = top.powf(p);
                    }
                }
                Op::Call(f) => {
                    if let Some(top) = stack.last_mut() {
                        *top = f.apply(*top);
                    }
                }
            }
        }
        stack.pop().unwrap_or(f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::ActId;

    /// The tape agrees with the tree evaluator on an expression with every node kind.
    #[test]
    fn tape_matches_tree_evaluation() {
        let tanh = Activation::new("tanh", Expr::call(Func::Tanh, Expr::Arg));
        let mut act = tanh.clone();
        act.ensure_order(1).ok();
        let acts = vec![act];
        let x = Expr::Value(ValueId(0));
        let y = Expr::Value(ValueId(1));
        let theta = Expr::Value(ValueId(2));
        let e = Expr::sum(vec![
            Expr::product(vec![Expr::Const(0.5), x.clone(), theta.clone()]),
            Expr::neg(Expr::div(y.clone(), Expr::Const(3.0))),
            Expr::pow(x.clone(), Rational::from_integer(3.into())),
            Expr::pow(
                Expr::call(Func::Exp, y.clone()),
                Rational::new(1.into(), 2.into()),
            ),
            Expr::act(ActId(0), 1, Expr::add(x.clone(), y.clone())),
            Expr::call(Func::Relu, Expr::neg(x.clone())),
        ]);
        let values = [0.7, -1.3, 2.5];
        let tree = e.eval(&|v| values[v.0], f64::NAN, f64::NAN, &acts);
        let slot = |v: ValueId| if v.0 < 2 { Some(v.0) } else { None };
        let scalar = |v: ValueId| values[v.0];
        let mut c = Compiler::new(
            Layout {
                slot: &slot,
                scalar: &scalar,
                acts: &acts,
            },
            2,
        );
        let tape = c.compile(&e);
        let mut slots = vec![0.0; c.slots()];
        slots[0] = values[0];
        slots[1] = values[1];
        let mut stack = Vec::new();
        let fast = tape.run(&mut slots, &mut stack);
        assert!((tree - fast).abs() < 1e-14, "{tree} vs {fast}");
    }
}
