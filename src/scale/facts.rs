//! What scale inference needs to know about a coordinatewise function φ^{(k)}:
//! homogeneity, the order of vanishing at 0, growth at infinity, and symmetry.
//!
//! Homogeneity is read off the formula exactly. The other facts come from the symbolic
//! derivatives at 0 when they exist and otherwise from probing the function at small and
//! large arguments; probed orders are rounded to the nearest half-integer, which is exact
//! for every activation in use (polynomial-like behaviour at 0 and at infinity).

use crate::exponent::Rational;
use crate::ir::{Activation, Expr, Func, Program};
use num_traits::Zero;

/// Symmetry of a function under x ↦ -x.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Symmetry {
    /// φ(-x) = φ(x)
    Even,
    /// φ(-x) = -φ(x)
    Odd,
    /// neither
    None,
}

/// Facts about one function of one variable.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionFacts {
    /// The function is identically zero.
    pub zero: bool,
    /// Positive homogeneity degree p (φ(λx) = λ^p φ(x) for λ > 0), when it has one.
    pub homogeneous: Option<Rational>,
    /// Order of vanishing at 0: the first k with φ^{(k)}(0) ≠ 0 (0 when φ(0) ≠ 0).
    pub order_at_zero: Rational,
    /// Growth exponent at infinity: |φ(x)| ~ |x|^g (0 for bounded functions).
    pub growth: Rational,
    /// Symmetry under sign flip.
    pub symmetry: Symmetry,
    /// φ(0) ≠ 0.
    pub nonzero_at_zero: bool,
    /// φ vanishes on a half-line (relu, step, relu'): applied to an argument with a
    /// density it is exactly 0 on a positive fraction of the coordinates.
    pub half_line: bool,
}

fn half_round(x: f64) -> Rational {
    let twice = (2.0 * x).round() as i64;
    Rational::new(twice.into(), 2.into())
}

fn eval_at(body: &Expr, x: f64, acts: &[Activation]) -> f64 {
    body.eval(&|_| f64::NAN, x, f64::NAN, acts)
}

/// Positive homogeneity degree of an expression in `Arg`, read off its structure.
pub fn homogeneity(e: &Expr, acts: &[Activation]) -> Option<Rational> {
    match e {
        Expr::Arg => Some(Rational::from_integer(1.into())),
        Expr::Const(c) if *c != 0.0 => Some(Rational::zero()),
        Expr::Mul(items) => {
            let mut total = Rational::zero();
            for item in items {
                total += homogeneity(item, acts)?;
            }
            Some(total)
        }
        Expr::Div(a, b) => Some(homogeneity(a, acts)? - homogeneity(b, acts)?),
        Expr::Neg(a) => homogeneity(a, acts),
        Expr::Pow(a, q) => Some(homogeneity(a, acts)? * q),
        Expr::Add(items) => {
            let mut degree = None;
            for item in items {
                let d = homogeneity(item, acts)?;
                match &degree {
                    None => degree = Some(d),
                    Some(prev) if *prev == d => {}
                    Some(_) => return None,
                }
            }
            degree
        }
        Expr::Call(Func::Relu | Func::Abs, a) => homogeneity(a, acts),
        Expr::Call(Func::Step | Func::Sign, a) => homogeneity(a, acts).map(|_| Rational::zero()),
        Expr::Act { act, order, arg } => {
            let inner = homogeneity(arg, acts)?;
            let body = acts.get(act.0)?.derivatives.get(*order)?;
            Some(homogeneity(body, acts)? * inner)
        }
        _ => None,
    }
}

/// Computes the facts of `body` (an expression in `Arg`); `derivative` gives the
/// symbolic derivatives of `body` of every order it has (index 0 is `body` itself).
pub fn facts_of(derivatives: &[Expr], acts: &[Activation]) -> FunctionFacts {
    let body = &derivatives[0];
    let probes = [0.37, 0.81, 1.3, 2.2, 3.9, 7.1];
    let scale = probes
        .iter()
        .map(|x| {
            eval_at(body, *x, acts)
                .abs()
                .max(eval_at(body, -*x, acts).abs())
        })
        .fold(0.0, f64::max);
    let zero = scale == 0.0 && eval_at(body, 0.0, acts) == 0.0;
    let tol = 1e-12 * scale.max(1e-300);
    let even = probes
        .iter()
        .all(|x| (eval_at(body, -*x, acts) - eval_at(body, *x, acts)).abs() <= tol);
    let odd = probes
        .iter()
        .all(|x| (eval_at(body, -*x, acts) + eval_at(body, *x, acts)).abs() <= tol);
    let symmetry = match (even, odd) {
        (true, _) => Symmetry::Even,
        (false, true) => Symmetry::Odd,
        _ => Symmetry::None,
    };
    let at_zero = eval_at(body, 0.0, acts);
    let nonzero_at_zero = at_zero != 0.0 && at_zero.is_finite();
    let homogeneous = homogeneity(body, acts);
    // Order at zero: exact from derivatives when they are smooth there, else probed.
    let order_at_zero = if nonzero_at_zero {
        Rational::zero()
    } else {
        let exact = derivatives
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, d)| {
                let v = eval_at(d, 0.0, acts);
                v != 0.0 && v.is_finite()
            })
            .map(|(k, _)| Rational::from_integer((k as i64).into()));
        exact.unwrap_or_else(|| probe_order(body, acts, 1e-3, 1e-6))
    };
    let growth = probe_order(body, acts, 1e4, 1e8).max(Rational::zero());
    let vanishes = |x: f64| eval_at(body, x, acts) == 0.0;
    let half_line = [0.5, 1.0, 2.0].iter().all(|x| vanishes(-*x))
        || [0.5, 1.0, 2.0].iter().all(|x| vanishes(*x));
    FunctionFacts {
        half_line,
        zero,
        homogeneous,
        order_at_zero,
        growth,
        symmetry,
        nonzero_at_zero,
    }
}

/// The power k with |φ(x)| ~ |x|^k between the scales `a` and `b` (both signs probed).
fn probe_order(body: &Expr, acts: &[Activation], a: f64, b: f64) -> Rational {
    let size = |x: f64| {
        eval_at(body, x, acts)
            .abs()
            .max(eval_at(body, -x, acts).abs())
    };
    let (fa, fb) = (size(a), size(b));
    if !(fa.is_finite() && fb.is_finite()) {
        // Faster than any power (e.g. exp at +∞): report a large growth.
        return Rational::from_integer(8.into());
    }
    if fa == 0.0 || fb == 0.0 {
        return if a < 1.0 {
            Rational::from_integer(8.into())
        } else {
            Rational::zero()
        };
    }
    let k = (fb.ln() - fa.ln()) / (b.ln() - a.ln());
    if k.is_finite() {
        half_round(k)
    } else {
        Rational::zero()
    }
}

/// Facts of every (activation, derivative order) and elementary function in a program.
pub struct FactTable {
    acts: Vec<Activation>,
}

impl FactTable {
    /// Prepares the table; derivatives are taken as needed (up to order 4 beyond use).
    pub fn new(program: &Program) -> Self {
        FactTable {
            acts: program.activations.clone(),
        }
    }

    /// Facts of φ^{(order)} for activation `act`.
    pub fn activation(&mut self, act: usize, order: usize) -> Option<FunctionFacts> {
        let a = self.acts.get_mut(act)?;
        // Derivatives beyond those the program uses may not exist (relu''): that is fine.
        for k in order..order + 5 {
            if a.ensure_order(k).is_err() {
                break;
            }
        }
        let ders: Vec<Expr> = a.derivatives[order.min(a.derivatives.len() - 1)..].to_vec();
        if order >= a.derivatives.len() {
            return None;
        }
        Some(facts_of(&ders, &self.acts))
    }

    /// Facts of an elementary function.
    pub fn function(&mut self, f: Func) -> FunctionFacts {
        let mut act = Activation::new(f.name(), Expr::call(f, Expr::Arg));
        for k in 1..5 {
            if act.ensure_order(k).is_err() {
                break;
            }
        }
        facts_of(&act.derivatives, &self.acts)
    }

    /// Facts of the derivative of an elementary function, when it exists.
    pub fn function_derivative(&mut self, f: Func) -> Option<FunctionFacts> {
        let mut act = Activation::new(f.name(), Expr::call(f, Expr::Arg));
        act.ensure_order(1).ok()?;
        for k in 2..6 {
            if act.ensure_order(k).is_err() {
                break;
            }
        }
        Some(facts_of(&act.derivatives[1..], &self.acts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(body: Expr) -> FunctionFacts {
        let mut a = Activation::new("f", body);
        for k in 1..5 {
            if a.ensure_order(k).is_err() {
                break;
            }
        }
        facts_of(&a.derivatives, &[])
    }

    #[test]
    fn tanh_is_odd_order_one_bounded() {
        let f = facts(Expr::call(Func::Tanh, Expr::Arg));
        assert_eq!(f.symmetry, Symmetry::Odd);
        assert_eq!(f.order_at_zero, Rational::from_integer(1.into()));
        assert_eq!(f.growth, Rational::zero());
        assert!(f.homogeneous.is_none());
    }

    #[test]
    fn relu_square_is_two_homogeneous() {
        let f = facts(Expr::pow(
            Expr::call(Func::Relu, Expr::Arg),
            Rational::from_integer(2.into()),
        ));
        assert_eq!(f.homogeneous, Some(Rational::from_integer(2.into())));
        assert_eq!(f.symmetry, Symmetry::None);
    }

    #[test]
    fn cosine_is_even_and_nonzero_at_zero() {
        let f = facts(Expr::call(Func::Cos, Expr::Arg));
        assert_eq!(f.symmetry, Symmetry::Even);
        assert!(f.nonzero_at_zero);
        assert_eq!(f.order_at_zero, Rational::zero());
    }

    #[test]
    fn cubic_plus_square_vanishes_to_order_two() {
        // x^2 + x^3: φ(0) = φ'(0) = 0, φ''(0) = 2; grows like x^3.
        let x2 = Expr::pow(Expr::Arg, Rational::from_integer(2.into()));
        let x3 = Expr::pow(Expr::Arg, Rational::from_integer(3.into()));
        let f = facts(Expr::add(x2, x3));
        assert_eq!(f.order_at_zero, Rational::from_integer(2.into()));
        assert_eq!(f.growth, Rational::from_integer(3.into()));
        assert!(f.homogeneous.is_none());
    }
}
