//! Evaluation of an expression over whole arrays, one tree walk per instruction.
//!
//! Walking the tree once per coordinate would cost a dispatch per node per coordinate;
//! here each node is one vectorizable loop over n numbers, and partial results are
//! updated in place whenever the evaluator owns them, so a typical `Map` allocates one
//! array. Scalars (values, constants, powers of n) stay scalars and are broadcast only
//! when combined with a vector.

use super::error::SimError;
use super::exec::Value;
use super::validate::{exponent_value, MAX_DEPTH};
use crate::exponent::{Exponent, Rational};
use crate::ir::{Expr, Func, Program};
use ndarray::{Array1, Zip};
use num_traits::ToPrimitive;

/// An intermediate result: a scalar, a program value read in place, or a fresh array.
pub(crate) enum Arr<'a> {
    /// One number, broadcast where needed.
    Scalar(f64),
    /// A vector owned by someone else (a program value or a bound activation argument).
    Borrowed(&'a Array1<f64>),
    /// A vector this evaluation owns and may overwrite.
    Owned(Array1<f64>),
}

impl Arr<'_> {
    /// The same result, owning its data, so it can outlive what it borrowed.
    fn detach<'b>(self) -> Arr<'b> {
        match self {
            Arr::Scalar(s) => Arr::Scalar(s),
            Arr::Borrowed(v) => Arr::Owned(v.clone()),
            Arr::Owned(v) => Arr::Owned(v),
        }
    }

    /// A read-only view of this result, for binding as an activation argument.
    fn reborrow(&self) -> Arr<'_> {
        match self {
            Arr::Scalar(s) => Arr::Scalar(*s),
            Arr::Borrowed(v) => Arr::Borrowed(v),
            Arr::Owned(v) => Arr::Borrowed(v),
        }
    }
}

/// What an expression is evaluated against.
pub(crate) struct Evaluator<'a> {
    /// The program (for activation bodies).
    pub program: &'a Program,
    /// The values computed so far.
    pub values: &'a [Value],
    /// The width n.
    pub width: usize,
    /// The instruction being evaluated, for error messages.
    pub name: &'a str,
}

/// Why evaluation failed. Kept to one word so the recursive evaluator's stack frames stay
/// small (debug builds give every temporary its own slot, and a full [`SimError`] in
/// every `Result` made frames of several kilobytes); [`validate`](super::validate) has
/// already reported every such problem in detail before evaluation starts.
#[derive(Clone, Copy, Debug)]
struct Fault(&'static str);

impl<'a> Evaluator<'a> {
    /// Evaluates `expr` (outside any activation body).
    pub fn eval(&self, expr: &Expr) -> Result<Arr<'a>, SimError> {
        self.walk(expr, None, 0)
            .map_err(|Fault(detail)| SimError::BadExpression {
                name: self.name.to_string(),
                detail: detail.to_string(),
            })
    }

    /// Evaluates `expr` with `Expr::Arg` bound to `arg` (inside an activation body).
    fn walk<'b>(
        &self,
        expr: &Expr,
        arg: Option<&'b Arr<'b>>,
        depth: usize,
    ) -> Result<Arr<'b>, Fault>
    where
        'a: 'b,
    {
        // Validation already bounds the depth; this keeps the evaluator total on its own.
        if depth > MAX_DEPTH {
            return Err(Fault("expression nested too deeply"));
        }
        match expr {
            Expr::Const(c) => Ok(Arr::Scalar(*c)),
            Expr::Width(e) => self.width_power(e),
            Expr::Arg => arg
                .map(Arr::reborrow)
                .ok_or(Fault("activation argument outside a body")),
            Expr::Value(id) => self.value(id.0),
            Expr::Add(items) => self.fold(items, arg, depth, Arr::Scalar(0.0), |a, b| a + b),
            Expr::Mul(items) => self.fold(items, arg, depth, Arr::Scalar(1.0), |a, b| a * b),
            Expr::Neg(a) => Ok(unary(self.walk(a, arg, depth + 1)?, |x| -x)),
            Expr::Div(a, b) => Ok(divide(
                self.walk(a, arg, depth + 1)?,
                self.walk(b, arg, depth + 1)?,
            )),
            Expr::Pow(a, q) => Ok(power(self.walk(a, arg, depth + 1)?, q)),
            Expr::Call(f, a) => Ok(call(*f, self.walk(a, arg, depth + 1)?)),
            Expr::Act {
                act,
                order,
                arg: inner,
            } => self.activation(act.0, *order, self.walk(inner, arg, depth + 1)?, depth),
        }
    }

    /// `n^e` as a scalar.
    fn width_power<'b>(&self, e: &Exponent) -> Result<Arr<'b>, Fault> {
        match exponent_value(e, self.name) {
            Ok(p) => Ok(Arr::Scalar((self.width as f64).powf(p))),
            Err(_) => Err(Fault("width exponent is not numeric")),
        }
    }

    /// A program value, read in place.
    fn value<'b>(&self, id: usize) -> Result<Arr<'b>, Fault>
    where
        'a: 'b,
    {
        match self.values.get(id) {
            Some(Value::Vector(v)) => Ok(Arr::Borrowed(v)),
            Some(Value::Scalar(s)) => Ok(Arr::Scalar(*s)),
            None => Err(Fault("reads a value that is not available")),
        }
    }

    /// A sum or product of `items`, accumulated left to right into the first owned array.
    fn fold<'b>(
        &self,
        items: &[Expr],
        arg: Option<&'b Arr<'b>>,
        depth: usize,
        empty: Arr<'b>,
        op: impl Fn(f64, f64) -> f64 + Copy,
    ) -> Result<Arr<'b>, Fault>
    where
        'a: 'b,
    {
        let mut acc: Option<Arr<'b>> = None;
        for item in items {
            let x = self.walk(item, arg, depth + 1)?;
            acc = Some(match acc {
                None => x,
                Some(a) => combine(a, x, op),
            });
        }
        Ok(acc.unwrap_or(empty))
    }

    /// φ^{(order)}(x) for activation `act`, by evaluating its body with `Arg` bound to `x`.
    fn activation<'b>(
        &self,
        act: usize,
        order: usize,
        x: Arr<'b>,
        depth: usize,
    ) -> Result<Arr<'b>, Fault>
    where
        'a: 'b,
    {
        let body = self
            .program
            .activations
            .get(act)
            .and_then(|a| a.derivatives.get(order))
            .ok_or(Fault("unknown activation derivative"))?;
        if matches!(body, Expr::Arg) {
            // The identity: no need to copy the argument.
            return Ok(x);
        }
        // The body's result may borrow `x`, which dies here: detach it.
        Ok(self.walk(body, Some(&x), depth + 1)?.detach())
    }
}

/// Applies `f` coordinatewise, in place when the data is owned.
fn unary<'b>(a: Arr<'b>, f: impl Fn(f64) -> f64) -> Arr<'b> {
    match a {
        Arr::Scalar(x) => Arr::Scalar(f(x)),
        Arr::Borrowed(v) => Arr::Owned(v.mapv(f)),
        Arr::Owned(mut v) => {
            v.mapv_inplace(f);
            Arr::Owned(v)
        }
    }
}

/// A commutative binary operation (`+` or `×`, both exactly commutative in IEEE
/// arithmetic), reusing whichever operand is owned.
fn combine<'b>(a: Arr<'b>, b: Arr<'b>, f: impl Fn(f64, f64) -> f64 + Copy) -> Arr<'b> {
    match (a, b) {
        (Arr::Scalar(x), Arr::Scalar(y)) => Arr::Scalar(f(x, y)),
        (Arr::Owned(mut v), Arr::Scalar(s)) | (Arr::Scalar(s), Arr::Owned(mut v)) => {
            v.mapv_inplace(|x| f(x, s));
            Arr::Owned(v)
        }
        (Arr::Borrowed(v), Arr::Scalar(s)) | (Arr::Scalar(s), Arr::Borrowed(v)) => {
            Arr::Owned(v.mapv(|x| f(x, s)))
        }
        (Arr::Owned(mut v), Arr::Owned(w)) => {
            Zip::from(&mut v).and(&w).for_each(|x, &y| *x = f(*x, y));
            Arr::Owned(v)
        }
        (Arr::Owned(mut v), Arr::Borrowed(w)) | (Arr::Borrowed(w), Arr::Owned(mut v)) => {
            Zip::from(&mut v).and(w).for_each(|x, &y| *x = f(*x, y));
            Arr::Owned(v)
        }
        (Arr::Borrowed(v), Arr::Borrowed(w)) => {
            Arr::Owned(Zip::from(v).and(w).map_collect(|&x, &y| f(x, y)))
        }
    }
}

/// `a / b`, reusing whichever operand is owned.
fn divide<'b>(a: Arr<'b>, b: Arr<'b>) -> Arr<'b> {
    match (a, b) {
        (Arr::Scalar(x), Arr::Scalar(y)) => Arr::Scalar(x / y),
        (a, Arr::Scalar(y)) => unary(a, |x| x / y),
        (Arr::Scalar(x), b) => unary(b, |y| x / y),
        (Arr::Owned(mut v), Arr::Owned(w)) => {
            Zip::from(&mut v).and(&w).for_each(|x, &y| *x /= y);
            Arr::Owned(v)
        }
        (Arr::Owned(mut v), Arr::Borrowed(w)) => {
            Zip::from(&mut v).and(w).for_each(|x, &y| *x /= y);
            Arr::Owned(v)
        }
        (Arr::Borrowed(v), Arr::Owned(mut w)) => {
            Zip::from(&mut w).and(v).for_each(|y, &x| *y = x / *y);
            Arr::Owned(w)
        }
        (Arr::Borrowed(v), Arr::Borrowed(w)) => {
            Arr::Owned(Zip::from(v).and(w).map_collect(|&x, &y| x / y))
        }
    }
}

/// `a^q` with the semantics of the IR's own evaluator: integer powers by repeated
/// multiplication (so negative bases work), other powers by `powf` (NaN for negative
/// bases, which then surfaces as a blow-up).
fn power<'b>(a: Arr<'b>, q: &Rational) -> Arr<'b> {
    if q.is_integer() {
        if let Some(k) = q.to_integer().to_i32() {
            return match k {
                2 => unary(a, |x| x * x),
                -1 => unary(a, |x| 1.0 / x),
                _ => unary(a, |x| x.powi(k)),
            };
        }
    }
    let p = q.to_f64().unwrap_or(f64::NAN);
    if p == 0.5 {
        return unary(a, f64::sqrt);
    }
    unary(a, |x| x.powf(p))
}

/// An elementary function applied coordinatewise. The dispatch happens once per array,
/// not per coordinate, so each arm is a tight loop.
///
/// `relu`, `step` and `sign` propagate NaN here (the IR's scalar `Func::apply` maps
/// NaN to 0 through comparisons), so an invalid intermediate such as `log(-1)` cannot be
/// silently turned into a plausible number and escape blow-up detection.
fn call(f: Func, a: Arr<'_>) -> Arr<'_> {
    match f {
        Func::Exp => unary(a, f64::exp),
        Func::Log => unary(a, f64::ln),
        Func::Sqrt => unary(a, f64::sqrt),
        Func::Tanh => unary(a, f64::tanh),
        Func::Erf => unary(a, |x| Func::Erf.apply(x)),
        Func::Sin => unary(a, f64::sin),
        Func::Cos => unary(a, f64::cos),
        Func::Abs => unary(a, f64::abs),
        Func::Atan => unary(a, f64::atan),
        Func::Relu => unary(a, |x| if x > 0.0 || x.is_nan() { x } else { 0.0 }),
        Func::Step => unary(a, |x| {
            if x > 0.0 {
                1.0
            } else if x.is_nan() {
                x
            } else {
                0.0
            }
        }),
        Func::Sign => unary(a, |x| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else if x.is_nan() {
                x
            } else {
                0.0
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn nan_is_not_masked_by_comparisons() {
        for f in [Func::Relu, Func::Step, Func::Sign] {
            match call(f, Arr::Scalar(f64::NAN)) {
                Arr::Scalar(x) => assert!(x.is_nan(), "{f:?}"),
                _ => panic!("scalar in, scalar out"),
            }
        }
        match call(Func::Relu, Arr::Owned(array![-1.0, 0.0, 2.0])) {
            Arr::Owned(v) => assert_eq!(v, array![0.0, 0.0, 2.0]),
            _ => panic!("vector in, vector out"),
        }
    }

    #[test]
    fn division_keeps_operand_order_whichever_is_owned() {
        let v = array![1.0, 2.0];
        let w = array![4.0, 8.0];
        let expect = array![0.25, 0.25];
        for (a, b) in [
            (Arr::Borrowed(&v), Arr::Borrowed(&w)),
            (Arr::Owned(v.clone()), Arr::Borrowed(&w)),
            (Arr::Borrowed(&v), Arr::Owned(w.clone())),
            (Arr::Owned(v.clone()), Arr::Owned(w.clone())),
        ] {
            match divide(a, b) {
                Arr::Owned(r) => assert_eq!(r, expect),
                _ => panic!("vector result expected"),
            }
        }
        match divide(Arr::Scalar(2.0), Arr::Borrowed(&w)) {
            Arr::Owned(r) => assert_eq!(r, array![0.5, 0.25]),
            _ => panic!("vector result expected"),
        }
    }

    #[test]
    fn integer_powers_accept_negative_bases() {
        let q = |n: i64, d: i64| Rational::new(n.into(), d.into());
        match power(Arr::Scalar(-2.0), &q(3, 1)) {
            Arr::Scalar(x) => assert_eq!(x, -8.0),
            _ => panic!(),
        }
        match power(Arr::Scalar(-2.0), &q(1, 2)) {
            Arr::Scalar(x) => assert!(x.is_nan()),
            _ => panic!(),
        }
        match power(Arr::Scalar(9.0), &q(-1, 2)) {
            Arr::Scalar(x) => assert!((x - 1.0 / 3.0).abs() < 1e-15),
            _ => panic!(),
        }
    }
}
