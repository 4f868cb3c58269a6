//! Numbers for the limit program: every scalar and every vector's second moment, each
//! with an error estimate and the method that produced it.
//!
//! Every Z is a deterministic function of finitely many base Gaussians, whose joint law
//! is known once the covariances E[Z^x Z^y] of the vectors multiplied by each matrix are.
//! An expectation is therefore E[F(G)] for one finite Gaussian vector G, and it is taken
//! in tiers: exactly 0 when the integrand is odd under a symmetry (see
//! [`super::parity`]); a product over independent families as the product of the
//! factors' expectations; a closed form when a factor pair is a Gaussian covariance or
//! an arc-cosine (ReLU, step) or arcsine (erf) kernel of jointly Gaussian Z's; otherwise
//! [`crate::gauss::expect`], which integrates by quadrature when G has rank ≤ 3 and by
//! Monte Carlo otherwise. The Ż coefficients E[∂Z^x/∂Ẑ] use Stein's lemma
//! ([`crate::gauss::expect_gradient`]) so that ReLU networks need no Dirac masses.
//!
//! Error estimates are those of the last integration; errors of the covariances and
//! scalars an integrand reads are propagated to first order where the value is an
//! explicit function of them (closed forms, scalar arithmetic), and not through
//! quadrature or Monte Carlo integrands.

use super::derive::is_kinked;
use super::model::{Def, Family, LimitProgram};
use super::parity::{self, Parity};
use crate::gauss::{self, closed_form, ExpectOptions};
use crate::ir::{Expr, Func, Kind, ValueId, Var};
use crate::scale::FactTable;
use ndarray::Array2;
use serde::Serialize;
use std::collections::HashMap;

/// How to evaluate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalOptions {
    /// Monte Carlo samples per expectation when Monte Carlo is used.
    pub samples: usize,
    /// Seed of the first Monte Carlo expectation (later ones use derived seeds).
    pub seed: u64,
    /// Skip closed forms and quadrature: every integral by Monte Carlo (the MC tier).
    pub monte_carlo_only: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            samples: 100_000,
            seed: 0,
            monte_carlo_only: false,
        }
    }
}

/// A number with its error estimate and method.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Number {
    /// The value.
    pub value: f64,
    /// Its error estimate (0 for exact values and closed forms of exact inputs).
    pub stderr: f64,
    /// How it was obtained.
    pub method: String,
}

impl Number {
    fn exact(value: f64, method: &str) -> Number {
        Number {
            value,
            stderr: 0.0,
            method: method.to_string(),
        }
    }
}

/// The values of a limit program.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// For each scalar entry, its normalized limit; for each vector entry, its second
    /// moment E[Z²]; None when it could not be evaluated (see `errors`).
    pub values: Vec<Option<Number>>,
    /// Why an entry has no value, if it was attempted and failed.
    pub errors: Vec<Option<String>>,
}

/// Evaluates every entry of `lp`.
pub fn evaluate(lp: &LimitProgram, opts: &EvalOptions) -> Evaluation {
    let mut ev = Evaluator::new(lp, *opts);
    for (i, entry) in lp.entries.iter().enumerate() {
        let id = ValueId(i);
        let result = match &entry.def {
            Def::Expectation { expr } => Some(ev.expectation(expr)),
            Def::Scalar { expr } => Some(ev.arithmetic(expr)),
            Def::Derivative { of, atom } => Some(ev.derivative(*of, *atom)),
            Def::Vector { .. } if entry.source_value.is_some() => {
                Some(ev.expectation(&Expr::Mul(vec![Expr::Value(id), Expr::Value(id)])))
            }
            _ => None,
        };
        match result {
            Some(Ok(n)) => ev.values[i] = Some(n),
            Some(Err(e)) => ev.errors[i] = Some(e),
            None => {}
        }
    }
    Evaluation {
        values: ev.values,
        errors: ev.errors,
    }
}

/// A pointwise evaluator of some vectors as functions of a list of base Gaussians.
struct PointEval {
    /// Base Gaussians, in the order of the Gaussian vector G.
    atoms: Vec<ValueId>,
    /// Vector entries to compute, in definition order.
    order: Vec<ValueId>,
    /// Slot of each entry in the scratch vector (usize::MAX: not used).
    slot: Vec<usize>,
}

struct Evaluator<'a> {
    lp: &'a LimitProgram,
    opts: EvalOptions,
    values: Vec<Option<Number>>,
    errors: Vec<Option<String>>,
    covariances: HashMap<(ValueId, ValueId), Number>,
    gradients: HashMap<ValueId, Vec<(ValueId, Number)>>,
    linear: HashMap<ValueId, Option<Vec<(ValueId, f64)>>>,
    facts: FactTable,
    calls: u64,
}

type Outcome = Result<Number, String>;

impl<'a> Evaluator<'a> {
    fn new(lp: &'a LimitProgram, opts: EvalOptions) -> Self {
        Evaluator {
            lp,
            opts,
            values: vec![None; lp.entries.len()],
            errors: vec![None; lp.entries.len()],
            covariances: HashMap::new(),
            gradients: HashMap::new(),
            linear: HashMap::new(),
            facts: FactTable::new(&lp.program),
            calls: 0,
        }
    }

    fn is_random(&self, id: ValueId) -> bool {
        self.lp.entries[id.0].kind == Kind::Vector
    }

    fn scalar(&self, id: ValueId) -> f64 {
        self.values[id.0].as_ref().map_or(f64::NAN, |n| n.value)
    }

    fn scalar_stderr(&self, id: ValueId) -> f64 {
        self.values[id.0].as_ref().map_or(0.0, |n| n.stderr)
    }

    fn gauss_options(&mut self, smooth: bool) -> ExpectOptions {
        self.calls += 1;
        ExpectOptions {
            smooth,
            samples: self.opts.samples,
            seed: self
                .opts
                .seed
                .wrapping_add(self.calls.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            max_quadrature_dim: if self.opts.monte_carlo_only { 0 } else { 3 },
            ..ExpectOptions::default()
        }
    }

    /// A scalar expression of limits, with first-order error propagation.
    fn arithmetic(&mut self, expr: &Expr) -> Outcome {
        let value = self.eval_numeric(expr);
        if !value.is_finite() {
            return Err("the value is not a finite number".into());
        }
        let mut var = 0.0;
        for v in expr.values() {
            let se = self.scalar_stderr(v);
            if se > 0.0 {
                let d = expr
                    .diff(Var::Value(v))
                    .map_err(|e| e.to_string())
                    .map(|d| self.eval_numeric(&d))?;
                var += (d * se).powi(2);
            }
        }
        Ok(Number {
            value,
            stderr: var.sqrt(),
            method: "arithmetic of limits".into(),
        })
    }

    fn eval_numeric(&self, expr: &Expr) -> f64 {
        expr.eval(
            &|id| self.scalar(id),
            f64::NAN,
            f64::NAN,
            &self.lp.program.activations,
        )
    }

    /// Base Gaussians an expression depends on.
    fn deps_of(&self, expr: &Expr) -> Vec<ValueId> {
        let mut out: Vec<ValueId> = Vec::new();
        for v in expr.values() {
            for a in &self.lp.deps[v.0] {
                if !out.contains(a) {
                    out.push(*a);
                }
            }
        }
        out.sort();
        out
    }

    fn family(&self, atom: ValueId) -> Option<Family> {
        match &self.lp.entries[atom.0].def {
            Def::Atom { family, .. } => Some(*family),
            _ => None,
        }
    }

    /// E[expr]: linearity, scalar factors, symmetry, independence, then integration.
    fn expectation(&mut self, expr: &Expr) -> Outcome {
        let terms = match expr {
            Expr::Add(items) => items.clone(),
            other => vec![other.clone()],
        };
        let mut total = 0.0;
        let mut var = 0.0;
        let mut methods: Vec<String> = Vec::new();
        for term in terms {
            let (c, rest) = term.split_constant();
            let factors = match rest {
                Expr::Mul(items) => items,
                other => vec![other],
            };
            let (random, numeric): (Vec<Expr>, Vec<Expr>) = factors
                .into_iter()
                .partition(|f| f.values().iter().any(|v| self.is_random(*v)));
            let scalar_part = self.arithmetic(&Expr::product(
                std::iter::once(Expr::Const(c)).chain(numeric).collect(),
            ))?;
            let random_part = self.expect_random(&random)?;
            let value = scalar_part.value * random_part.value;
            let se = (scalar_part.stderr * random_part.value)
                .hypot(scalar_part.value * random_part.stderr);
            total += value;
            var += se * se;
            if !methods.contains(&random_part.method) {
                methods.push(random_part.method);
            }
        }
        Ok(Number {
            value: total,
            stderr: var.sqrt(),
            method: methods.join(" + "),
        })
    }

    /// E[Π factors] for factors that all read vectors.
    fn expect_random(&mut self, factors: &[Expr]) -> Outcome {
        if factors.is_empty() {
            return Ok(Number::exact(1.0, "exact"));
        }
        let product = Expr::product(factors.to_vec());
        for g in 0..self.lp.group_names.len() {
            let table = &self.lp.parity;
            let entries = &self.lp.entries;
            let lookup = |v: ValueId| {
                if entries[v.0].kind == Kind::Vector {
                    table[v.0][g]
                } else {
                    Parity::Even
                }
            };
            let acts = &self.lp.program.activations;
            if parity::of_expr(&product, &lookup, &mut self.facts, acts) == Parity::Odd {
                return Ok(Number::exact(
                    0.0,
                    &format!("exact: odd under the sign flip of {}", self.lp.group_names[g]),
                ));
            }
        }
        // Independent components: factors linked by a shared family.
        let fams: Vec<Vec<Family>> = factors
            .iter()
            .map(|f| {
                let mut v: Vec<Family> = self
                    .deps_of(f)
                    .into_iter()
                    .filter_map(|a| self.family(a))
                    .collect();
                v.sort();
                v.dedup();
                v
            })
            .collect();
        let mut component: Vec<usize> = (0..factors.len()).collect();
        loop {
            let mut changed = false;
            for i in 0..factors.len() {
                for j in 0..factors.len() {
                    if component[i] != component[j] && fams[i].iter().any(|f| fams[j].contains(f))
                    {
                        let m = component[i].min(component[j]);
                        let old = component[i].max(component[j]);
                        for c in component.iter_mut() {
                            if *c == old {
                                *c = m;
                            }
                        }
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let mut labels = component.clone();
        labels.sort();
        labels.dedup();
        let mut value = 1.0;
        let mut rel_var = 0.0;
        let mut abs_se = 0.0;
        let mut methods = Vec::new();
        for label in labels {
            let part: Vec<Expr> = factors
                .iter()
                .zip(&component)
                .filter(|(_, c)| **c == label)
                .map(|(f, _)| f.clone())
                .collect();
            let n = self.expect_component(&part)?;
            if n.value != 0.0 {
                rel_var += (n.stderr / n.value).powi(2);
            } else {
                abs_se = n.stderr;
            }
            value *= n.value;
            if !methods.contains(&n.method) {
                methods.push(n.method);
            }
        }
        let stderr = if value != 0.0 {
            value.abs() * rel_var.sqrt()
        } else {
            abs_se
        };
        Ok(Number {
            value,
            stderr,
            method: methods.join(" × "),
        })
    }

    /// E[Π factors] over one set of dependent base Gaussians.
    fn expect_component(&mut self, factors: &[Expr]) -> Outcome {
        if !self.opts.monte_carlo_only {
            if let Some(n) = self.closed_form(factors)? {
                return Ok(n);
            }
        }
        let product = Expr::product(factors.to_vec());
        let atoms = self.deps_of(&product);
        let cov = self.covariance_matrix(&atoms)?;
        let point = self.point_eval(&atoms, &product);
        let smooth = !self.kinked(&product, &point);
        let opts = self.gauss_options(smooth);
        let f = |g: &[f64]| self.point_value(&point, g, &product);
        let est = gauss::expect(&cov, &f, &opts).map_err(|e| e.to_string())?;
        Ok(Number {
            value: est.value,
            stderr: est.stderr,
            method: est.method.to_string(),
        })
    }

    /// E[∂Z^x/∂a] by Stein's lemma over the base Gaussians of Z^x.
    fn derivative(&mut self, x: ValueId, a: ValueId) -> Outcome {
        if !self.gradients.contains_key(&x) {
            let z = Expr::Value(x);
            let atoms = self.deps_of(&z);
            let cov = self.covariance_matrix(&atoms)?;
            let point = self.point_eval(&atoms, &z);
            let smooth = !self.kinked(&z, &point);
            let opts = self.gauss_options(smooth);
            let f = |g: &[f64]| self.point_value(&point, g, &z);
            let grad = gauss::expect_gradient(&cov, &f, &opts).map_err(|e| e.to_string())?;
            let row = atoms
                .iter()
                .zip(grad)
                .map(|(atom, est)| {
                    (
                        *atom,
                        Number {
                            value: est.value,
                            stderr: est.stderr,
                            method: format!("Stein's lemma, {}", est.method),
                        },
                    )
                })
                .collect();
            self.gradients.insert(x, row);
        }
        self.gradients
            .get(&x)
            .and_then(|row| row.iter().find(|(b, _)| *b == a))
            .map(|(_, n)| n.clone())
            .ok_or_else(|| "the base Gaussian is not an input of the vector".to_string())
    }

    /// Cov(a, b) of two base Gaussians.
    fn atom_covariance(&mut self, a: ValueId, b: ValueId) -> Outcome {
        let (fa, fb) = (self.lp.entries[a.0].def.clone(), self.lp.entries[b.0].def.clone());
        let (
            Def::Atom {
                family: fam_a,
                origin: oa,
            },
            Def::Atom {
                family: fam_b,
                origin: ob,
            },
        ) = (fa, fb)
        else {
            return Err("a covariance of something that is not a base Gaussian".into());
        };
        if fam_a != fam_b {
            return Ok(Number::exact(0.0, "independent families"));
        }
        match (oa, ob) {
            (Some(x), Some(y)) => {
                let key = (x.min(y), x.max(y));
                if let Some(n) = self.covariances.get(&key) {
                    return Ok(n.clone());
                }
                let n = self.expectation(&Expr::Mul(vec![Expr::Value(x), Expr::Value(y)]))?;
                self.covariances.insert(key, n.clone());
                Ok(n)
            }
            _ => Ok(Number::exact(
                if a == b { 1.0 } else { 0.0 },
                "i.i.d. source",
            )),
        }
    }

    fn covariance_matrix(&mut self, atoms: &[ValueId]) -> Result<Array2<f64>, String> {
        let k = atoms.len();
        let mut cov = Array2::<f64>::zeros((k, k));
        for i in 0..k {
            for j in 0..=i {
                let c = self.atom_covariance(atoms[i], atoms[j])?.value;
                cov[[i, j]] = c;
                cov[[j, i]] = c;
            }
        }
        Ok(cov)
    }

    fn point_eval(&self, atoms: &[ValueId], expr: &Expr) -> PointEval {
        let n = self.lp.entries.len();
        let mut needed = vec![false; n];
        let mut stack: Vec<ValueId> = expr.values();
        while let Some(v) = stack.pop() {
            if !self.is_random(v) || needed[v.0] {
                continue;
            }
            needed[v.0] = true;
            if let Def::Vector { expr } = &self.lp.entries[v.0].def {
                stack.extend(expr.values());
            }
        }
        let mut slot = vec![usize::MAX; n];
        let mut order = Vec::new();
        for (k, a) in atoms.iter().enumerate() {
            slot[a.0] = k;
        }
        let mut next = atoms.len();
        for (i, need) in needed.iter().enumerate() {
            if *need && slot[i] == usize::MAX {
                slot[i] = next;
                next += 1;
                order.push(ValueId(i));
            }
        }
        PointEval {
            atoms: atoms.to_vec(),
            order,
            slot,
        }
    }

    fn point_value(&self, p: &PointEval, g: &[f64], expr: &Expr) -> f64 {
        let mut scratch = Vec::with_capacity(p.atoms.len() + p.order.len());
        scratch.extend_from_slice(g);
        let acts = &self.lp.program.activations;
        for v in &p.order {
            let value = match &self.lp.entries[v.0].def {
                Def::Vector { expr } => {
                    let s = &scratch;
                    expr.eval(&|id| self.lookup(p, s, id), f64::NAN, f64::NAN, acts)
                }
                _ => f64::NAN,
            };
            scratch.push(value);
        }
        expr.eval(&|id| self.lookup(p, &scratch, id), f64::NAN, f64::NAN, acts)
    }

    fn lookup(&self, p: &PointEval, scratch: &[f64], id: ValueId) -> f64 {
        if self.is_random(id) {
            scratch.get(p.slot[id.0]).copied().unwrap_or(f64::NAN)
        } else {
            self.scalar(id)
        }
    }

    /// Whether the integrand or a vector it reads has a kink or a jump.
    fn kinked(&self, expr: &Expr, p: &PointEval) -> bool {
        let acts = &self.lp.program.activations;
        let mut kink = false;
        let mut check = |e: &Expr| {
            e.walk(&mut |node| match node {
                Expr::Call(f, _) if is_kinked(*f) => kink = true,
                Expr::Act { act, order, .. } => {
                    if let Some(a) = acts.get(act.0) {
                        let body = a.derivatives.get(*order).unwrap_or(a.body());
                        body.walk(&mut |b| {
                            if matches!(b, Expr::Call(f, _) if is_kinked(*f)) {
                                kink = true;
                            }
                        });
                    }
                }
                _ => {}
            })
        };
        check(expr);
        for v in &p.order {
            if let Def::Vector { expr } = &self.lp.entries[v.0].def {
                check(expr);
            }
        }
        kink
    }

    /// Z^v as Σ c_a Ẑ_a when it is a centered Gaussian (linear in base Gaussians).
    fn linear_form(&mut self, v: ValueId) -> Option<Vec<(ValueId, f64)>> {
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

    fn linear_expr(&mut self, expr: &Expr) -> Option<Vec<(ValueId, f64)>> {
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
    fn form_covariance(
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
    fn closed_form(&mut self, factors: &[Expr]) -> Result<Option<Number>, String> {
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
                let body = self.lp.program.activations.get(act.0)?.derivatives.get(*order)?;
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
