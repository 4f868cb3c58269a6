//! Closed forms of expectations of jointly Gaussian Z's: Gaussian covariances and the
//! arc-cosine (ReLU, step) and arcsine (erf) kernels, with first-order error
//! propagation from the covariances they read.

use super::evaluate::{Evaluator, Number};
use super::model::Def;
use crate::gauss::closed_form;
use crate::ir::{Expr, Func, ValueId};

impl Evaluator<'_> {
    /// Z^v as Σ c_a Ẑ_a when it is a centered Gaussian (linear in base Gaussians).
    pub(super) fn linear_form(&mut self, v: ValueId) -> Option<Vec<(ValueId, f64)>> {
        if let Some(f) = self.linear.get(&v) {
            return f.clone();
        }
        let result = match &self.lp.entries[v.0].def.clone() {
            Def::Atom { .. } => Some(vec![(v, 1.0)]),
            Def::Vector { expr } => self.linear_expr(expr),
            _ => None,
        };
        self.linear.insert(v, result.clone());
        result
    }

    pub(super) fn linear_expr(&mut self, expr: &Expr) -> Option<Vec<(ValueId, f64)>> {
        match expr {
            Expr::Value(v) if self.is_random(*v) => self.linear_form(*v),
            Expr::Const(c) if *c == 0.0 => Some(Vec::new()),
            Expr::Add(items) => {
                let mut out: Vec<(ValueId, f64)> = Vec::new();
                for item in items {
                    for (a, c) in self.linear_expr(item)? {
                        match out.iter_mut().find(|(b, _)| *b == a) {
                            Some(slot) => slot.1 += c,
                            None => out.push((a, c)),
                        }
                    }
                }
                Some(out)
            }
            Expr::Neg(a) => Some(
                self.linear_expr(a)?
                    .into_iter()
                    .map(|(v, c)| (v, -c))
                    .collect(),
            ),
            Expr::Mul(items) => {
                let (random, numeric): (Vec<&Expr>, Vec<&Expr>) = items
                    .iter()
                    .partition(|f| f.values().iter().any(|v| self.is_random(*v)));
                if random.len() != 1 {
                    return None;
                }
                let scale: f64 = numeric.iter().map(|f| self.eval_numeric(f)).product();
                Some(
                    self.linear_expr(random[0])?
                        .into_iter()
                        .map(|(v, c)| (v, c * scale))
                        .collect(),
                )
            }
            _ => None,
        }
    }

    /// Cov(Z^u, Z^v) for two linear forms, with its first-order error.
    pub(super) fn form_covariance(
        &mut self,
        u: &[(ValueId, f64)],
        v: &[(ValueId, f64)],
    ) -> Result<(f64, f64), String> {
        let mut value = 0.0;
        let mut var = 0.0;
        for (a, ca) in u {
            for (b, cb) in v {
                let c = self.atom_covariance(*a, *b)?;
                value += ca * cb * c.value;
                var += (ca * cb * c.stderr).powi(2);
            }
        }
        Ok((value, var.sqrt()))
    }

    /// A closed form for E[φ(Z^u) ψ(Z^v)] when Z^u, Z^v are jointly Gaussian and
    /// (φ, ψ) is a known pair; None when the factors have another shape.
    pub(super) fn closed_form(&mut self, factors: &[Expr]) -> Result<Option<Number>, String> {
        let mut units = Vec::new();
        for f in factors {
            match f {
                Expr::Pow(inner, q) if *q == crate::exponent::Rational::from_integer(2.into()) => {
                    let Some(u) = self.unit(inner) else {
                        return Ok(None);
                    };
                    units.push(u.clone());
                    units.push(u);
                }
                other => {
                    let Some(u) = self.unit(other) else {
                        return Ok(None);
                    };
                    units.push(u);
                }
            }
        }
        let (f1, form1, f2, form2) = match units.as_slice() {
            [(f, a)] => (*f, a.clone(), None, None),
            [(f, a), (g, b)] => (*f, a.clone(), Some(*g), Some(b.clone())),
            _ => return Ok(None),
        };
        let (k11, s11) = self.form_covariance(&form1, &form1)?;
        let Some(form2) = form2 else {
            let value = match f1 {
                None => 0.0,
                Some(Func::Relu) => closed_form::relu_mean(k11),
                Some(Func::Step) => closed_form::step_mean(k11),
                Some(Func::Erf) | Some(Func::Tanh) | Some(Func::Sign) => 0.0,
                _ => return Ok(None),
            };
            let se = s11 * numeric_slope(&|k| single(f1, k), k11);
            return Ok(Some(Number {
                value,
                stderr: se.abs(),
                method: "closed form (Gaussian)".into(),
            }));
        };
        let (k12, s12) = self.form_covariance(&form1, &form2)?;
        let (k22, s22) = self.form_covariance(&form2, &form2)?;
        let kernel: fn(f64, f64, f64) -> f64 = match (f1, f2.flatten()) {
            (None, None) => |_, k12, _| k12,
            (Some(Func::Relu), Some(Func::Relu)) => closed_form::relu_kernel,
            (Some(Func::Step), Some(Func::Step)) => closed_form::step_kernel,
            (Some(Func::Erf), Some(Func::Erf)) => closed_form::erf_kernel,
            _ => return Ok(None),
        };
        let value = kernel(k11, k12, k22);
        let d11 = numeric_slope(&|k| kernel(k, k12, k22), k11);
        let d12 = numeric_slope(&|k| kernel(k11, k, k22), k12);
        let d22 = numeric_slope(&|k| kernel(k11, k12, k), k22);
        let se = ((d11 * s11).powi(2) + (d12 * s12).powi(2) + (d22 * s22).powi(2)).sqrt();
        let name = match f1 {
            None => "closed form (Gaussian covariance)",
            Some(Func::Relu) | Some(Func::Step) => "closed form (arc-cosine kernel)",
            _ => "closed form (arcsine kernel)",
        };
        Ok(Some(Number {
            value,
            stderr: if se.is_finite() { se } else { 0.0 },
            method: name.into(),
        }))
    }

    /// A factor φ(Z^v) with Z^v Gaussian and φ the identity (None) or an elementary
    /// function, possibly written as an activation whose body is that function.
    #[allow(clippy::type_complexity)]
    fn unit(&mut self, f: &Expr) -> Option<(Option<Func>, Vec<(ValueId, f64)>)> {
        let (func, arg) = match f {
            Expr::Value(v) => {
                // A vector defined as φ(Gaussian) is looked through: K = E[x_a x_b] with
                // x = relu(h) is the arc-cosine kernel of the h's.
                if self.linear_form(*v).is_none() {
                    if let Def::Vector { expr } = self.lp.entries[v.0].def.clone() {
                        return self.unit(&expr);
                    }
                }
                (None, f)
            }
            Expr::Call(func, arg) => (Some(*func), arg.as_ref()),
            Expr::Act { act, order, arg } => {
                let body = self
                    .lp
                    .program
                    .activations
                    .get(act.0)?
                    .derivatives
                    .get(*order)?;
                match body {
                    Expr::Arg => (None, arg.as_ref()),
                    Expr::Call(func, inner) if **inner == Expr::Arg => (Some(*func), arg.as_ref()),
                    _ => return None,
                }
            }
            _ => return None,
        };
        let form = self.linear_expr(arg)?;
        Some((func, form))
    }
}

fn single(f: Option<Func>, k: f64) -> f64 {
    match f {
        Some(Func::Relu) => closed_form::relu_mean(k),
        Some(Func::Step) => closed_form::step_mean(k),
        _ => 0.0,
    }
}

/// d/dk of g at k by a central difference (for first-order error propagation).
fn numeric_slope(g: &dyn Fn(f64) -> f64, k: f64) -> f64 {
    let h = 1e-6 * k.abs().max(1e-3);
    (g(k + h) - g(k - h)) / (2.0 * h)
}
