//! Coordinatewise expressions, their symbolic derivatives and their evaluation.
//!
//! One expression type serves three purposes: the body of an activation (in terms of
//! [`Expr::Arg`]), the right-hand side of a `Map`/`Moment`/`Scalar` instruction (in
//! terms of earlier values), and the derivatives that backpropagation needs.

use super::program::{ActId, ValueId};
use crate::exponent::{Exponent, Rational};
use num_traits::{One, ToPrimitive, Zero};
use serde::Serialize;

/// Elementary functions available in expressions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Func {
    /// e^x
    Exp,
    /// natural logarithm
    Log,
    /// square root
    Sqrt,
    /// hyperbolic tangent
    Tanh,
    /// error function
    Erf,
    /// sine
    Sin,
    /// cosine
    Cos,
    /// max(x, 0)
    Relu,
    /// Heaviside step, 1 for x > 0 and 0 otherwise
    Step,
    /// |x|
    Abs,
    /// sign of x (0 at 0)
    Sign,
    /// arctangent (`atan`, also written `arctan`)
    Atan,
}

impl Func {
    /// Every function, for name lookup.
    pub const ALL: [Func; 12] = [
        Func::Exp,
        Func::Log,
        Func::Sqrt,
        Func::Tanh,
        Func::Erf,
        Func::Sin,
        Func::Cos,
        Func::Relu,
        Func::Step,
        Func::Abs,
        Func::Sign,
        Func::Atan,
    ];

    /// The name used in `.tp` files and in printing.
    pub fn name(self) -> &'static str {
        match self {
            Func::Exp => "exp",
            Func::Log => "log",
            Func::Sqrt => "sqrt",
            Func::Tanh => "tanh",
            Func::Erf => "erf",
            Func::Sin => "sin",
            Func::Cos => "cos",
            Func::Relu => "relu",
            Func::Step => "step",
            Func::Abs => "abs",
            Func::Sign => "sign",
            Func::Atan => "atan",
        }
    }

    /// Looks a function up by its name.
    pub fn from_name(name: &str) -> Option<Func> {
        // `arctan` is the other common spelling (Li, Nica & Roy write it so).
        if name == "arctan" {
            return Some(Func::Atan);
        }
        Func::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Applies the function to a number.
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Func::Exp => x.exp(),
            Func::Log => x.ln(),
            Func::Sqrt => x.sqrt(),
            Func::Tanh => x.tanh(),
            Func::Erf => erf(x),
            Func::Sin => x.sin(),
            Func::Cos => x.cos(),
            Func::Relu => x.max(0.0),
            Func::Step => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Func::Abs => x.abs(),
            Func::Atan => x.atan(),
            Func::Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
        }
    }

    /// d/du f(u) as an expression in `u`, or why it does not exist.
    fn derivative(self, u: &Expr) -> Result<Expr, NotDifferentiable> {
        let two = Rational::from_integer(2.into());
        Ok(match self {
            Func::Exp => Expr::call(Func::Exp, u.clone()),
            Func::Log => Expr::pow(u.clone(), -Rational::one()),
            Func::Sqrt => Expr::mul(
                Expr::Const(0.5),
                Expr::pow(Expr::call(Func::Sqrt, u.clone()), -Rational::one()),
            ),
            Func::Tanh => Expr::sub(
                Expr::Const(1.0),
                Expr::pow(Expr::call(Func::Tanh, u.clone()), two),
            ),
            Func::Erf => Expr::mul(
                Expr::Const(std::f64::consts::FRAC_2_SQRT_PI),
                Expr::call(Func::Exp, Expr::neg(Expr::pow(u.clone(), two))),
            ),
            Func::Sin => Expr::call(Func::Cos, u.clone()),
            Func::Cos => Expr::neg(Expr::call(Func::Sin, u.clone())),
            // atan'(u) = 1 / (1 + u²)
            Func::Atan => Expr::pow(
                Expr::add(Expr::Const(1.0), Expr::pow(u.clone(), two)),
                -Rational::one(),
            ),
            Func::Relu => Expr::call(Func::Step, u.clone()),
            Func::Abs => Expr::call(Func::Sign, u.clone()),
            Func::Step | Func::Sign => {
                return Err(NotDifferentiable {
                    function: self.name().to_string(),
                })
            }
        })
    }
}

/// A derivative was requested of a function that has none (its derivative is a Dirac mass).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{function}` has no derivative (it jumps, so its derivative is a Dirac mass)")]
pub struct NotDifferentiable {
    /// The offending function.
    pub function: String,
}

/// Why a derivative of an activation is not available.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DerivativeError {
    /// A function in the formula has no derivative.
    #[error(transparent)]
    NotDifferentiable(#[from] NotDifferentiable),
    /// The derivative exists but its expression is too large to use (see
    /// [`crate::bounds::MAX_DERIVATIVE_NODES`]).
    #[error(
        "its derivative of order {order} would have {nodes} nodes, more than the {max} \
         allowed (symbolic derivatives of products and quotients grow quickly with the order)"
    )]
    TooLarge {
        /// The order that was refused.
        order: usize,
        /// Nodes of that derivative's expression.
        nodes: usize,
        /// The bound.
        max: usize,
    },
}

/// The variable an expression is differentiated with respect to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Var {
    /// The argument of an activation body.
    Arg,
    /// A value of the program.
    Value(ValueId),
}

/// A coordinatewise (or scalar) expression.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "e", content = "args", rename_all = "lowercase")]
pub enum Expr {
    /// A real constant.
    Const(f64),
    /// The argument of an activation body.
    Arg,
    /// A program value: a coordinate of a vector, or a scalar broadcast.
    Value(ValueId),
    /// The width to an exact power, `n^e`.
    Width(Exponent),
    /// A sum.
    Add(Vec<Expr>),
    /// A product.
    Mul(Vec<Expr>),
    /// A negation.
    Neg(Box<Expr>),
    /// A quotient.
    Div(Box<Expr>, Box<Expr>),
    /// A power with an exact exponent.
    Pow(Box<Expr>, Rational),
    /// An elementary function.
    Call(Func, Box<Expr>),
    /// The `order`-th derivative of an activation applied to `arg`.
    Act {
        /// Which activation.
        act: ActId,
        /// 0 for φ itself, 1 for φ', …
        order: usize,
        /// Its argument.
        arg: Box<Expr>,
    },
}

// These are folding constructors on owned trees (`Expr::add(a, b)`), not operator
// overloads: implementing `std::ops` would hide the folding behind `+`.
#[allow(clippy::should_implement_trait)]
impl Expr {
    /// `a + b`, folded.
    pub fn add(a: Expr, b: Expr) -> Expr {
        Expr::sum(vec![a, b])
    }

    /// `a - b`, folded.
    pub fn sub(a: Expr, b: Expr) -> Expr {
        Expr::sum(vec![a, Expr::neg(b)])
    }

    /// A folded sum: nested sums flattened, constants combined, zeros dropped.
    pub fn sum(items: Vec<Expr>) -> Expr {
        let mut terms = Vec::new();
        let mut constant = 0.0;
        for item in items {
            match item {
                Expr::Add(inner) => {
                    for t in inner {
                        match t {
                            Expr::Const(c) => constant += c,
                            other => terms.push(other),
                        }
                    }
                }
                Expr::Const(c) => constant += c,
                other => terms.push(other),
            }
        }
        // Merge like terms: 2·a·b + 3·a·b = 5·a·b, so generated sums stay readable.
        let mut merged: Vec<(f64, Expr)> = Vec::new();
        for term in terms {
            let (c, rest) = term.split_constant();
            match merged.iter_mut().find(|(_, r)| *r == rest) {
                Some(slot) => slot.0 += c,
                None => merged.push((c, rest)),
            }
        }
        let mut terms: Vec<Expr> = merged
            .into_iter()
            .filter(|(c, _)| *c != 0.0)
            .map(|(c, rest)| Expr::mul(Expr::Const(c), rest))
            .collect();
        if constant != 0.0 {
            terms.push(Expr::Const(constant));
        }
        match terms.len() {
            0 => Expr::Const(0.0),
            1 => terms.pop().unwrap_or(Expr::Const(0.0)),
            _ => Expr::Add(terms),
        }
    }

    /// Splits a term into its constant factor and the rest (`-2·x·y` → (-2, x·y)).
    pub fn split_constant(self) -> (f64, Expr) {
        match self {
            Expr::Const(c) => (c, Expr::Const(1.0)),
            Expr::Neg(inner) => {
                let (c, rest) = inner.split_constant();
                (-c, rest)
            }
            Expr::Mul(items) => {
                let mut c = 1.0;
                let mut rest = Vec::new();
                for item in items {
                    match item {
                        Expr::Const(k) => c *= k,
                        other => rest.push(other),
                    }
                }
                let rest = match rest.len() {
                    0 => Expr::Const(1.0),
                    1 => rest.pop().unwrap_or(Expr::Const(1.0)),
                    _ => Expr::Mul(rest),
                };
                (c, rest)
            }
            other => (1.0, other),
        }
    }

    /// `a · b`, folded.
    pub fn mul(a: Expr, b: Expr) -> Expr {
        Expr::product(vec![a, b])
    }

    /// A folded product: constants combined in front, powers of n merged, 0 absorbs.
    pub fn product(items: Vec<Expr>) -> Expr {
        let mut factors = Vec::new();
        let mut constant = 1.0;
        let mut width = Exponent::zero();
        let mut pending: Vec<Expr> = items;
        while let Some(item) = pending.pop() {
            match item {
                Expr::Mul(inner) => pending.extend(inner),
                Expr::Const(c) => constant *= c,
                Expr::Neg(inner) => {
                    constant = -constant;
                    pending.push(*inner);
                }
                Expr::Width(e) => width = width.add(&e),
                other => factors.push(other),
            }
        }
        if constant == 0.0 {
            return Expr::Const(0.0);
        }
        factors.reverse();
        if !width.is_zero() {
            factors.insert(0, Expr::Width(width));
        }
        if constant != 1.0 || factors.is_empty() {
            factors.insert(0, Expr::Const(constant));
        }
        match factors.len() {
            1 => factors.pop().unwrap_or(Expr::Const(1.0)),
            _ => Expr::Mul(factors),
        }
    }

    /// `-a`, folded.
    pub fn neg(a: Expr) -> Expr {
        match a {
            Expr::Const(c) => Expr::Const(-c),
            Expr::Neg(inner) => *inner,
            Expr::Mul(_) => Expr::product(vec![Expr::Const(-1.0), a]),
            other => Expr::Neg(Box::new(other)),
        }
    }

    /// `a / b`, folded.
    pub fn div(a: Expr, b: Expr) -> Expr {
        match (&a, &b) {
            (_, Expr::Const(c)) if *c == 1.0 => a,
            (Expr::Const(x), _) if *x == 0.0 => Expr::Const(0.0),
            (Expr::Const(x), Expr::Const(y)) if *y != 0.0 => Expr::Const(x / y),
            _ => Expr::Div(Box::new(a), Box::new(b)),
        }
    }

    /// `a^q`, folded.
    pub fn pow(a: Expr, q: Rational) -> Expr {
        if q.is_zero() {
            return Expr::Const(1.0);
        }
        if q.is_one() {
            return a;
        }
        match a {
            Expr::Const(c) => match q.to_f64() {
                Some(p) => Expr::Const(c.powf(p)),
                None => Expr::Pow(Box::new(Expr::Const(c)), q),
            },
            Expr::Width(e) => Expr::Width(e.scale(&q)),
            Expr::Pow(inner, p) => Expr::pow(*inner, p * q),
            other => Expr::Pow(Box::new(other), q),
        }
    }

    /// `f(a)`.
    pub fn call(f: Func, a: Expr) -> Expr {
        match a {
            Expr::Const(c) => Expr::Const(f.apply(c)),
            other => Expr::Call(f, Box::new(other)),
        }
    }

    /// `φ^{(order)}(a)`.
    pub fn act(act: ActId, order: usize, a: Expr) -> Expr {
        Expr::Act {
            act,
            order,
            arg: Box::new(a),
        }
    }

    /// A product of a list of factors (1 when empty).
    pub fn value(id: ValueId) -> Expr {
        Expr::Value(id)
    }

    /// The number of nodes of the tree.
    pub fn node_count(&self) -> usize {
        let mut count = 0;
        self.walk(&mut |_| count += 1);
        count
    }

    /// True when the expression is the constant 0.
    pub fn is_zero(&self) -> bool {
        matches!(self, Expr::Const(c) if *c == 0.0)
    }

    /// The symbolic derivative with respect to `var`.
    ///
    /// Activation nodes raise their derivative order; whether that derivative exists is
    /// checked against the activation table by [`Activation::ensure_order`].
    pub fn diff(&self, var: Var) -> Result<Expr, NotDifferentiable> {
        Ok(match self {
            Expr::Const(_) | Expr::Width(_) => Expr::Const(0.0),
            Expr::Arg => Expr::Const(if var == Var::Arg { 1.0 } else { 0.0 }),
            Expr::Value(id) => Expr::Const(if var == Var::Value(*id) { 1.0 } else { 0.0 }),
            Expr::Add(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for item in items {
                    parts.push(item.diff(var)?);
                }
                Expr::sum(parts)
            }
            Expr::Mul(items) => {
                let mut parts = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let d = item.diff(var)?;
                    if d.is_zero() {
                        continue;
                    }
                    let mut factors: Vec<Expr> = items
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, e)| e.clone())
                        .collect();
                    factors.push(d);
                    parts.push(Expr::product(factors));
                }
                Expr::sum(parts)
            }
            Expr::Neg(a) => Expr::neg(a.diff(var)?),
            Expr::Div(a, b) => {
                let da = a.diff(var)?;
                let db = b.diff(var)?;
                let first = Expr::div(da, (**b).clone());
                if db.is_zero() {
                    first
                } else {
                    let second = Expr::div(
                        Expr::mul((**a).clone(), db),
                        Expr::pow((**b).clone(), Rational::from_integer(2.into())),
                    );
                    Expr::sub(first, second)
                }
            }
            Expr::Pow(a, q) => {
                let da = a.diff(var)?;
                if da.is_zero() {
                    Expr::Const(0.0)
                } else {
                    let coef = q.to_f64().unwrap_or(f64::NAN);
                    Expr::product(vec![
                        Expr::Const(coef),
                        Expr::pow((**a).clone(), q - Rational::one()),
                        da,
                    ])
                }
            }
            Expr::Call(f, a) => {
                let da = a.diff(var)?;
                if da.is_zero() {
                    Expr::Const(0.0)
                } else {
                    Expr::mul(f.derivative(a)?, da)
                }
            }
            Expr::Act { act, order, arg } => {
                let da = arg.diff(var)?;
                if da.is_zero() {
                    Expr::Const(0.0)
                } else {
                    Expr::mul(Expr::act(*act, order + 1, (**arg).clone()), da)
                }
            }
        })
    }

    /// Calls `visit` on every node, parents before children.
    pub fn walk(&self, visit: &mut dyn FnMut(&Expr)) {
        visit(self);
        match self {
            Expr::Add(items) | Expr::Mul(items) => items.iter().for_each(|e| e.walk(visit)),
            Expr::Neg(a) | Expr::Pow(a, _) | Expr::Call(_, a) => a.walk(visit),
            Expr::Act { arg, .. } => arg.walk(visit),
            Expr::Div(a, b) => {
                a.walk(visit);
                b.walk(visit);
            }
            Expr::Const(_) | Expr::Arg | Expr::Value(_) | Expr::Width(_) => {}
        }
    }

    /// The values the expression reads, in first-use order, without repetition.
    pub fn values(&self) -> Vec<ValueId> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let Expr::Value(id) = e {
                if !out.contains(id) {
                    out.push(*id);
                }
            }
        });
        out
    }

    /// The same expression with every value `v` replaced by `f(v)` (no folding: the
    /// shape is kept, so two expressions are equal after mapping exactly when they read
    /// the mapped values the same way).
    pub fn map_values(&self, f: &dyn Fn(ValueId) -> ValueId) -> Expr {
        match self {
            Expr::Value(id) => Expr::Value(f(*id)),
            Expr::Const(_) | Expr::Arg | Expr::Width(_) => self.clone(),
            Expr::Add(items) => Expr::Add(items.iter().map(|e| e.map_values(f)).collect()),
            Expr::Mul(items) => Expr::Mul(items.iter().map(|e| e.map_values(f)).collect()),
            Expr::Neg(a) => Expr::Neg(Box::new(a.map_values(f))),
            Expr::Div(a, b) => Expr::Div(Box::new(a.map_values(f)), Box::new(b.map_values(f))),
            Expr::Pow(a, q) => Expr::Pow(Box::new(a.map_values(f)), q.clone()),
            Expr::Call(g, a) => Expr::Call(*g, Box::new(a.map_values(f))),
            Expr::Act { act, order, arg } => Expr::Act {
                act: *act,
                order: *order,
                arg: Box::new(arg.map_values(f)),
            },
        }
    }

    /// Replaces `Arg` by `arg` (used to expand an activation body at a point).
    pub fn substitute_arg(&self, arg: &Expr) -> Expr {
        match self {
            Expr::Arg => arg.clone(),
            Expr::Const(_) | Expr::Value(_) | Expr::Width(_) => self.clone(),
            Expr::Add(items) => Expr::sum(items.iter().map(|e| e.substitute_arg(arg)).collect()),
            Expr::Mul(items) => {
                Expr::product(items.iter().map(|e| e.substitute_arg(arg)).collect())
            }
            Expr::Neg(a) => Expr::neg(a.substitute_arg(arg)),
            Expr::Div(a, b) => Expr::div(a.substitute_arg(arg), b.substitute_arg(arg)),
            Expr::Pow(a, q) => Expr::pow(a.substitute_arg(arg), q.clone()),
            Expr::Call(f, a) => Expr::call(*f, a.substitute_arg(arg)),
            Expr::Act { act, order, arg: a } => Expr::act(*act, *order, a.substitute_arg(arg)),
        }
    }

    /// Evaluates at one point. `value` gives the values (one coordinate of a vector),
    /// `arg` the activation argument, `width` the numeric width; activations are
    /// looked up in `acts`. A symbolic width exponent evaluates to NaN.
    pub fn eval(
        &self,
        value: &dyn Fn(ValueId) -> f64,
        arg: f64,
        width: f64,
        acts: &[Activation],
    ) -> f64 {
        match self {
            Expr::Const(c) => *c,
            Expr::Arg => arg,
            Expr::Value(id) => value(*id),
            Expr::Width(e) => e.to_f64().map_or(f64::NAN, |p| width.powf(p)),
            Expr::Add(items) => items.iter().map(|e| e.eval(value, arg, width, acts)).sum(),
            Expr::Mul(items) => items
                .iter()
                .map(|e| e.eval(value, arg, width, acts))
                .product(),
            Expr::Neg(a) => -a.eval(value, arg, width, acts),
            Expr::Div(a, b) => a.eval(value, arg, width, acts) / b.eval(value, arg, width, acts),
            Expr::Pow(a, q) => powq(a.eval(value, arg, width, acts), q),
            Expr::Call(f, a) => f.apply(a.eval(value, arg, width, acts)),
            Expr::Act { act, order, arg: a } => {
                let x = a.eval(value, arg, width, acts);
                match acts.get(act.0).and_then(|act| act.derivatives.get(*order)) {
                    Some(body) => body.eval(value, x, width, acts),
                    None => f64::NAN,
                }
            }
        }
    }
}

/// `x^q` with integer powers done exactly (so negative bases work for integer q).
pub fn powq(x: f64, q: &Rational) -> f64 {
    if q.is_integer() {
        if let Some(k) = q.to_integer().to_i32() {
            return x.powi(k);
        }
    }
    x.powf(q.to_f64().unwrap_or(f64::NAN))
}

/// An activation: its name, its body in terms of [`Expr::Arg`], and the derivatives
/// computed so far (`derivatives[k]` is φ^{(k)}, `derivatives[0]` the body).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Activation {
    /// Name (`tanh`, `relu`, `phi`, …).
    pub name: String,
    /// φ, φ', φ'', … as expressions in `Arg`.
    pub derivatives: Vec<Expr>,
    /// Why the next derivative (order `derivatives.len()`) is not available, once that
    /// was found: analyses ask for a few orders beyond those used, again and again, and
    /// a refused derivative is expensive to recompute.
    #[serde(skip)]
    unavailable: Option<DerivativeError>,
}

impl Activation {
    /// A new activation with body `body`.
    pub fn new(name: &str, body: Expr) -> Self {
        Activation {
            name: name.to_string(),
            derivatives: vec![body],
            unavailable: None,
        }
    }

    /// The body φ.
    pub fn body(&self) -> &Expr {
        &self.derivatives[0]
    }

    /// Makes φ^{(order)} available, differentiating symbolically as needed. Refused when
    /// a function in the formula has no derivative, or when a derivative would have more
    /// than [`crate::bounds::MAX_DERIVATIVE_NODES`] nodes.
    pub fn ensure_order(&mut self, order: usize) -> Result<(), DerivativeError> {
        use crate::bounds::MAX_DERIVATIVE_NODES;
        while self.derivatives.len() <= order {
            if let Some(why) = &self.unavailable {
                return Err(why.clone());
            }
            let last = self.derivatives.len() - 1;
            let next = match self.derivatives[last].diff(Var::Arg) {
                Ok(next) => next,
                Err(e) => {
                    self.unavailable = Some(e.into());
                    continue;
                }
            };
            let nodes = next.node_count();
            if nodes > MAX_DERIVATIVE_NODES {
                self.unavailable = Some(DerivativeError::TooLarge {
                    order: last + 1,
                    nodes,
                    max: MAX_DERIVATIVE_NODES,
                });
                continue;
            }
            self.derivatives.push(next);
        }
        Ok(())
    }

    /// Evaluates φ^{(order)}(x); NaN when that derivative was never made available.
    pub fn eval(&self, order: usize, x: f64, acts: &[Activation]) -> f64 {
        match self.derivatives.get(order) {
            Some(body) => body.eval(&|_| f64::NAN, x, f64::NAN, acts),
            None => f64::NAN,
        }
    }
}

/// The error function, to about 1e-15 relative accuracy.
///
/// Uses the Taylor series near 0 and a continued fraction for erfc in the tails, so
/// that no external special-function crate is needed for one function.
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let ax = x.abs();
    let value = if ax < 2.5 {
        // erf x = 2/√π Σ (-1)^k x^{2k+1} / (k! (2k+1))
        let x2 = ax * ax;
        let mut term = ax;
        let mut sum = ax;
        let mut k = 0.0;
        while term.abs() > 1e-17 * sum.abs() {
            k += 1.0;
            term *= -x2 / k;
            sum += term / (2.0 * k + 1.0);
            if k > 200.0 {
                break;
            }
        }
        std::f64::consts::FRAC_2_SQRT_PI * sum
    } else if ax > 6.0 {
        1.0
    } else {
        // erfc x = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …))))
        let mut frac = ax;
        for k in (1..=60).rev() {
            frac = ax + (k as f64 / 2.0) / frac;
        }
        1.0 - (-ax * ax).exp() / (std::f64::consts::PI.sqrt() * frac)
    };
    if x < 0.0 {
        -value
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        // Reference values from the series definition at high precision (A&S table 7.1).
        let cases = [
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (3.0, 0.999_977_909_503_001_4),
        ];
        for (x, want) in cases {
            assert!((erf(x) - want).abs() < 1e-14, "erf({x}) = {}", erf(x));
            assert!((erf(-x) + want).abs() < 1e-14);
        }
    }

    #[test]
    fn tanh_derivative_is_one_minus_square() {
        let mut act = Activation::new("t", Expr::call(Func::Tanh, Expr::Arg));
        act.ensure_order(2).unwrap();
        for x in [-1.3, 0.0, 0.4, 2.0] {
            let d1 = act.eval(1, x, &[]);
            let d2 = act.eval(2, x, &[]);
            let t = f64::tanh(x);
            assert!((d1 - (1.0 - t * t)).abs() < 1e-14);
            assert!((d2 - (-2.0 * t * (1.0 - t * t))).abs() < 1e-14);
        }
    }

    #[test]
    fn step_has_no_derivative() {
        let mut act = Activation::new("r", Expr::call(Func::Relu, Expr::Arg));
        assert!(act.ensure_order(1).is_ok());
        assert!(act.ensure_order(2).is_err());
    }
}
