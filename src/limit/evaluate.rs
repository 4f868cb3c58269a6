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

use super::model::{Def, Family, LimitProgram};
use super::parity::{self, Parity};
use crate::gauss::{self, ExpectOptions};
use crate::ir::{Expr, Kind, ValueId, Var};
use crate::scale::FactTable;
use serde::Serialize;
use std::collections::HashMap;

/// The most base Gaussians an integrand may read in a deterministic evaluation.
const DETERMINISTIC_GAUSSIANS: usize = 8;

/// How to evaluate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalOptions {
    /// Population size: joint samples of every Z, split over `replicates` populations.
    pub samples: usize,
    /// Seed of the first population (later ones use derived seeds).
    pub seed: u64,
    /// Skip closed forms and quadrature: every value from the population (the MC tier).
    pub monte_carlo_only: bool,
    /// Independent populations, each of `samples / replicates` samples; the spread of
    /// their values is the reported error, so that the noise of covariances, Ż
    /// coefficients and scalars read by later entries is accounted for.
    pub replicates: usize,
    /// Only the deterministic tiers (symmetry, independence, closed forms, quadrature):
    /// an expectation that needs Monte Carlo gets no value. This is how the exponent
    /// engine asks whether a leading limit is exactly 0 (a Monte Carlo estimate can
    /// never say so).
    pub deterministic: bool,
    /// Keep adding populations until every program scalar's error is at most this
    /// (or `max_samples` is reached).
    pub precision: Option<f64>,
    /// The most samples `precision` may use.
    pub max_samples: usize,
    /// Bytes the populations evaluated at the same time may occupy.
    pub memory_budget: u64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            samples: 1 << 21,
            seed: 0,
            monte_carlo_only: false,
            replicates: 16,
            deterministic: false,
            precision: None,
            max_samples: 1 << 24,
            memory_budget: 4 << 30,
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
    pub(super) fn exact(value: f64, method: &str) -> Number {
        Number {
            value,
            stderr: 0.0,
            method: method.to_string(),
        }
    }
}

/// The program scalar whose population estimate has the largest error.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Worst {
    /// Its name.
    pub name: String,
    /// Its standard error.
    pub stderr: f64,
}

/// How the population part of an evaluation was sampled.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sampling {
    /// Samples in all populations together.
    pub samples: usize,
    /// Independent populations.
    pub replicates: usize,
    /// The program scalar with the largest population error.
    pub worst: Option<Worst>,
    /// The precision asked for, if any.
    pub target: Option<f64>,
    /// Whether the precision asked for was reached (true when none was asked for).
    pub reached: bool,
    /// Peak memory of one population, in bytes.
    pub bytes_per_population: u64,
}

impl Sampling {
    /// One line for the report: how many samples, the largest error, and whether the
    /// precision asked for was reached.
    pub fn describe(&self) -> String {
        let per = self.samples / self.replicates.max(1);
        let mut out = format!(
            "{} samples in {} independent populations of {per} (peak {:.0} MiB each)",
            self.samples,
            self.replicates,
            self.bytes_per_population as f64 / (1u64 << 20) as f64
        );
        if let Some(w) = &self.worst {
            out.push_str(&format!(
                "; largest error of a scalar: {} ± {:.1e}",
                w.name, w.stderr
            ));
        }
        if let Some(t) = self.target {
            if self.reached {
                out.push_str(&format!("; precision {t:.1e} reached"));
            } else {
                out.push_str(&format!(
                    "; precision {t:.1e} NOT reached: the sample cap (--max-samples) stopped it"
                ));
            }
        }
        out
    }
}

/// The values of a limit program.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// For each scalar entry, its normalized limit; for each vector entry, its second
    /// moment E\[Z²\]; None when it could not be evaluated (see `errors`).
    pub values: Vec<Option<Number>>,
    /// Why an entry has no value, if it was attempted and failed.
    pub errors: Vec<Option<String>>,
    /// How the populations were sampled; `None` when every value is exact.
    pub sampling: Option<Sampling>,
}

/// Evaluates every entry of `lp`. See [`evaluate_with_progress`].
pub fn evaluate(lp: &LimitProgram, opts: &EvalOptions) -> Evaluation {
    evaluate_with_progress(lp, opts, &|_, _| {})
}

/// Evaluates every entry of `lp`: the deterministic tiers first (their values are
/// exact up to quadrature error), then `opts.replicates` independent populations
/// (`population`) for the rest, in parallel, each from its own seed, so the
/// result does not depend on the thread count. A population value is the mean over
/// populations and its error the standard error of that mean. `progress(done, total)`
/// is called after each population.
pub fn evaluate_with_progress(
    lp: &LimitProgram,
    opts: &EvalOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Evaluation {
    use rayon::prelude::*;
    let exact_opts = EvalOptions {
        deterministic: true,
        replicates: 1,
        ..*opts
    };
    let exact = if opts.monte_carlo_only {
        Evaluation {
            values: vec![None; lp.entries.len()],
            errors: vec![None; lp.entries.len()],
            sampling: None,
        }
    } else {
        evaluate_once(lp, &exact_opts)
    };
    if opts.deterministic {
        return exact;
    }
    let needed: Vec<usize> = (0..lp.entries.len())
        .filter(|i| exact.values[*i].is_none() && needs_population(lp, *i))
        .collect();
    if needed.is_empty() {
        return exact;
    }
    let fixed: Vec<Option<f64>> = exact
        .values
        .iter()
        .map(|v| v.as_ref().map(|n| n.value))
        .collect();
    let plan = super::population::plan(lp);
    let threads = rayon::current_num_threads().max(1);
    let mut replicates = opts.replicates.max(2);
    let mut per = opts.samples.div_ceil(replicates).max(2).div_ceil(2) * 2;
    // Memory: fewer populations at once first, then smaller populations (more of them).
    let mut concurrent = threads.min(replicates);
    while plan.bytes(per) * concurrent as u64 > opts.memory_budget && concurrent > 1 {
        concurrent -= 1;
    }
    while plan.bytes(per) > opts.memory_budget && per > MIN_POPULATION {
        per = (per / 2).max(MIN_POPULATION);
        replicates *= 2;
    }
    if plan.bytes(per) > opts.memory_budget {
        let why = format!(
            "a population of {per} samples needs {:.1} GiB ({} columns alive at once), \
             more than the memory budget of {:.1} GiB; lower the program's size",
            plan.bytes(per) as f64 / (1u64 << 30) as f64,
            plan.peak_columns,
            opts.memory_budget as f64 / (1u64 << 30) as f64
        );
        let mut out = exact;
        for i in needed {
            out.errors[i] = Some(why.clone());
        }
        return out;
    }
    let seed_of = |k: usize| {
        opts.seed
            .wrapping_add((k as u64).wrapping_mul(0xD1B5_4A32_D192_ED03))
    };
    let done = std::sync::atomic::AtomicUsize::new(0);
    let run_range = |range: std::ops::Range<usize>, total: usize| {
        let one = |k: &usize| {
            let o = super::population::run(lp, &plan, &fixed, seed_of(*k), per);
            let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(d, total);
            o
        };
        let ks: Vec<usize> = range.collect();
        if concurrent >= threads {
            return ks.par_iter().map(one).collect::<Vec<_>>();
        }
        // Short of memory: at most `concurrent` populations exist at once.
        let mut out = Vec::with_capacity(ks.len());
        for batch in ks.chunks(concurrent) {
            out.extend(batch.par_iter().map(one).collect::<Vec<_>>());
        }
        out
    };
    let mut runs = run_range(0..replicates, replicates);
    let max_replicates = (opts.max_samples / per).max(replicates);
    let mut combined = combine(&exact, &runs, &needed, per);
    for _ in 0..4 {
        let Some(target) = opts.precision else { break };
        let worst = worst_scalar(lp, &combined, &needed).map_or(0.0, |w| w.stderr);
        if worst <= target || runs.len() >= max_replicates {
            break;
        }
        let want = ((runs.len() as f64) * (worst / target).powi(2) * 1.1).ceil() as usize;
        let next = want.clamp(runs.len() + 1, max_replicates);
        let more = run_range(runs.len()..next, next);
        runs.extend(more);
        combined = combine(&exact, &runs, &needed, per);
    }
    let worst = worst_scalar(lp, &combined, &needed);
    combined.sampling = Some(Sampling {
        samples: per * runs.len(),
        replicates: runs.len(),
        reached: match (opts.precision, &worst) {
            (Some(t), Some(w)) => w.stderr <= t,
            _ => true,
        },
        worst,
        target: opts.precision,
        bytes_per_population: plan.bytes(per),
    });
    combined
}

/// The smallest population the memory budget may shrink a population to.
const MIN_POPULATION: usize = 4096;

/// Whether the population evaluates entry `i` (scalars and reported vectors).
fn needs_population(lp: &LimitProgram, i: usize) -> bool {
    let e = &lp.entries[i];
    if e.caveat.is_some() {
        return false;
    }
    match &e.def {
        Def::Expectation { .. } | Def::Scalar { .. } | Def::Derivative { .. } => true,
        Def::Vector { .. } => e.reports_second_moment(),
        _ => false,
    }
}

/// The program scalar with the largest population error.
fn worst_scalar(lp: &LimitProgram, ev: &Evaluation, needed: &[usize]) -> Option<Worst> {
    needed
        .iter()
        .filter(|i| lp.entries[**i].kind == Kind::Scalar && lp.entries[**i].source_value.is_some())
        .filter_map(|i| {
            ev.values[*i].as_ref().map(|n| Worst {
                name: lp.entries[*i].name.clone(),
                stderr: n.stderr,
            })
        })
        .max_by(|a, b| a.stderr.total_cmp(&b.stderr))
}

/// Exact values where there are, population means and their standard errors elsewhere.
fn combine(
    exact: &Evaluation,
    runs: &[super::population::Outcome],
    needed: &[usize],
    per: usize,
) -> Evaluation {
    let mut values = exact.values.clone();
    let mut errors = exact.errors.clone();
    let r = runs.len();
    for &i in needed {
        errors[i] = None;
        if let Some(e) = runs.iter().find_map(|run| run.errors[i].clone()) {
            errors[i] = Some(e);
            continue;
        }
        let xs: Vec<f64> = runs.iter().filter_map(|run| run.values[i]).collect();
        if xs.len() != r || r < 2 {
            continue;
        }
        let mean = xs.iter().sum::<f64>() / r as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (r - 1) as f64;
        // Entries that are exact functions of exact values repeat to rounding.
        let se = if var.sqrt() <= 1e-12 * mean.abs().max(1e-300) {
            0.0
        } else {
            (var / r as f64).sqrt()
        };
        values[i] = Some(Number {
            value: mean,
            stderr: se,
            method: format!("population Monte Carlo ({r} × {per} samples)"),
        });
    }
    Evaluation {
        values,
        errors,
        sampling: None,
    }
}

/// The per-expectation engine: every expectation integrated on its own (closed
/// forms, quadrature up to 3 dimensions, Monte Carlo with fresh samples), repeated
/// `opts.replicates` times with `opts.samples / replicates` samples per Monte Carlo
/// integral, the spread of the repetitions being the error. It shares no sampling
/// with [`evaluate`] and costs far more (the number of expectations times the depth of
/// the recursion), which makes it an independent cross-check of the population.
pub fn evaluate_independent(lp: &LimitProgram, opts: &EvalOptions) -> Evaluation {
    use rayon::prelude::*;
    let r = opts.replicates.max(1);
    if r == 1 || opts.deterministic {
        return evaluate_once(lp, opts);
    }
    let per = EvalOptions {
        samples: (opts.samples / r).max(1000),
        replicates: 1,
        ..*opts
    };
    let replicate = |k: usize| {
        let o = EvalOptions {
            seed: opts
                .seed
                .wrapping_add((k as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)),
            ..per
        };
        evaluate_once(lp, &o)
    };
    // Two replicates first: when neither used Monte Carlo, every replicate would repeat
    // the same closed forms and quadratures bit for bit, so one of them is the answer.
    let first = 2.min(r);
    let mut runs: Vec<Evaluation> = (0..first).into_par_iter().map(replicate).collect();
    let used_monte_carlo = runs.iter().any(|run| {
        run.values
            .iter()
            .flatten()
            .any(|n| n.method.contains("Monte Carlo"))
    });
    if !used_monte_carlo {
        return runs.swap_remove(0);
    }
    runs.extend(
        (first..r)
            .into_par_iter()
            .map(replicate)
            .collect::<Vec<_>>(),
    );
    let n = lp.entries.len();
    let mut values = vec![None; n];
    let mut errors = vec![None; n];
    for i in 0..n {
        if let Some(e) = runs.iter().find_map(|run| run.errors[i].clone()) {
            errors[i] = Some(e);
            continue;
        }
        let xs: Vec<&Number> = runs
            .iter()
            .filter_map(|run| run.values[i].as_ref())
            .collect();
        if xs.len() != r {
            continue;
        }
        let mean = xs.iter().map(|x| x.value).sum::<f64>() / r as f64;
        let var = xs.iter().map(|x| (x.value - mean).powi(2)).sum::<f64>() / (r - 1) as f64;
        let first = xs[0];
        let mc = first.method.contains("Monte Carlo");
        let deterministic = if mc { 0.0 } else { first.stderr };
        // Rounding differs between replicates at the level of 1e-16; that is not spread.
        let var = if var.sqrt() <= 1e-12 * mean.abs().max(1e-300) {
            0.0
        } else {
            var
        };
        let method = if var > 0.0 {
            format!("{} (mean of {r} replicates)", first.method)
        } else {
            first.method.clone()
        };
        values[i] = Some(Number {
            value: mean,
            stderr: (var / r as f64).sqrt().hypot(deterministic),
            method,
        });
    }
    Evaluation {
        values,
        errors,
        sampling: None,
    }
}

/// One evaluation with the seeds of `opts`.
fn evaluate_once(lp: &LimitProgram, opts: &EvalOptions) -> Evaluation {
    let ev = run_once(lp, opts);
    Evaluation {
        values: ev.values,
        errors: ev.errors,
        sampling: None,
    }
}

/// A deterministic evaluation (no Monte Carlo) and, for every entry that `small` picks
/// from its value, the size of what cancels in it: Σ|terms| of a scalar expression,
/// E|F| of an expectation E[F], E[(Σ_i |t_i|)²] of a vector Z = Σ_i t_i's E[Z²]. A
/// value is 0 only relative to that size: a limit of 10^-12 made of terms of 10^-12 is
/// not a cancellation.
pub(super) fn deterministic_with_magnitudes(
    lp: &LimitProgram,
    small: &dyn Fn(&Number) -> bool,
) -> (Evaluation, Vec<Option<f64>>) {
    let opts = EvalOptions {
        deterministic: true,
        replicates: 1,
        ..EvalOptions::default()
    };
    let mut ev = run_once(lp, &opts);
    let mut magnitudes = vec![None; lp.entries.len()];
    for (i, entry) in lp.entries.iter().enumerate() {
        if !ev.values[i].as_ref().is_some_and(small) {
            continue;
        }
        let abs = |e: &Expr| Expr::call(crate::ir::Func::Abs, e.clone());
        magnitudes[i] = match &entry.def {
            Def::Scalar { expr } => Some(ev.abs_size(expr)),
            Def::Expectation { expr } => ev.expectation(&abs(expr)).ok().map(|n| n.value),
            Def::Vector { expr } => {
                let terms = match expr {
                    Expr::Add(items) => items.clone(),
                    other => vec![other.clone()],
                };
                let sum = Expr::sum(terms.iter().map(abs).collect());
                let square = Expr::Mul(vec![sum.clone(), sum]);
                ev.expectation(&square).ok().map(|n| n.value)
            }
            _ => None,
        };
    }
    (
        Evaluation {
            values: ev.values,
            errors: ev.errors,
            sampling: None,
        },
        magnitudes,
    )
}

/// One evaluation with the seeds of `opts`, keeping the evaluator.
fn run_once<'a>(lp: &'a LimitProgram, opts: &EvalOptions) -> Evaluator<'a> {
    let mut ev = Evaluator::new(lp, *opts);
    for (i, entry) in lp.entries.iter().enumerate() {
        let id = ValueId(i);
        if entry.caveat.is_some() {
            continue;
        }
        let result = match &entry.def {
            Def::Expectation { expr } => Some(ev.expectation(expr)),
            Def::Scalar { expr } => Some(ev.arithmetic(expr)),
            Def::Derivative { of, atom } => Some(ev.derivative(*of, *atom)),
            Def::Vector { .. } if entry.reports_second_moment() => {
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
    ev
}

pub(super) struct Evaluator<'a> {
    pub(super) lp: &'a LimitProgram,
    pub(super) opts: EvalOptions,
    pub(super) values: Vec<Option<Number>>,
    pub(super) errors: Vec<Option<String>>,
    pub(super) covariances: HashMap<(ValueId, ValueId), Outcome>,
    pub(super) gradients: HashMap<ValueId, Vec<(ValueId, Number)>>,
    pub(super) linear: HashMap<ValueId, Option<Vec<(ValueId, f64)>>>,
    pub(super) facts: FactTable,
    pub(super) calls: u64,
}

pub(super) type Outcome = Result<Number, String>;

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

    pub(super) fn is_random(&self, id: ValueId) -> bool {
        self.lp.is_random(id)
    }

    pub(super) fn scalar(&self, id: ValueId) -> f64 {
        self.values[id.0].as_ref().map_or(f64::NAN, |n| n.value)
    }

    pub(super) fn scalar_stderr(&self, id: ValueId) -> f64 {
        self.values[id.0].as_ref().map_or(0.0, |n| n.stderr)
    }

    pub(super) fn gauss_options(&mut self, smooth: bool) -> ExpectOptions {
        self.calls += 1;
        ExpectOptions {
            smooth,
            samples: self.opts.samples,
            seed: self
                .opts
                .seed
                .wrapping_add(self.calls.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            // The deterministic pass only has to certify zeros (cancellations,
            // Gaussian identities), which live in one or two dimensions; rank-3 tensor
            // rules over every entry of a long training run would dominate `tp scale`.
            max_quadrature_dim: if self.opts.monte_carlo_only {
                0
            } else if self.opts.deterministic {
                2
            } else {
                3
            },
            // Far below any Monte Carlo error in the same report, and it keeps rank-3
            // tensor rules from climbing to 256 nodes per dimension.
            abs_tol: 1e-10,
            rel_tol: 1e-9,
            max_evaluations: 500_000,
            antithetic: true,
            monte_carlo: !self.opts.deterministic,
        }
    }

    /// A scalar expression of limits, with first-order error propagation.
    pub(super) fn arithmetic(&mut self, expr: &Expr) -> Outcome {
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

    /// The expression evaluated with every sum replaced by the sum of the absolute
    /// values of its terms: the size of what cancels in it.
    fn abs_size(&self, expr: &Expr) -> f64 {
        match expr {
            Expr::Add(items) => items.iter().map(|i| self.abs_size(i)).sum(),
            Expr::Mul(items) => items.iter().map(|i| self.abs_size(i)).product(),
            Expr::Neg(a) => self.abs_size(a),
            Expr::Div(a, b) => self.abs_size(a) / self.eval_numeric(b).abs(),
            other => self.eval_numeric(other).abs(),
        }
    }

    pub(super) fn eval_numeric(&self, expr: &Expr) -> f64 {
        expr.eval(
            &|id| self.scalar(id),
            f64::NAN,
            f64::NAN,
            &self.lp.program.activations,
        )
    }

    /// Base Gaussians an expression depends on.
    pub(super) fn deps_of(&self, expr: &Expr) -> Vec<ValueId> {
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

    pub(super) fn family(&self, atom: ValueId) -> Option<Family> {
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
        let inlined = self.inline_products(factors);
        // Inlining can surface deterministic factors (constants, scalars): they multiply.
        let (random, numeric): (Vec<Expr>, Vec<Expr>) = inlined
            .into_iter()
            .partition(|f| f.values().iter().any(|v| self.is_random(*v)));
        if !numeric.is_empty() {
            let c = self.arithmetic(&Expr::product(numeric))?;
            let rest = self.expect_random(&random)?;
            return Ok(Number {
                value: c.value * rest.value,
                stderr: (c.stderr * rest.value).hypot(c.value * rest.stderr),
                method: rest.method,
            });
        }
        let factors = random.as_slice();
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
            if parity::of_expr(&product, &lookup, &mut self.facts) == Parity::Odd {
                return Ok(Number::exact(
                    0.0,
                    &format!(
                        "exact: odd under the sign flip of {}",
                        self.lp.group_names[g]
                    ),
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
                    if component[i] != component[j] && fams[i].iter().any(|f| fams[j].contains(f)) {
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

    /// Replaces a factor that is a vector defined as a product by that product's
    /// factors (and a square by two copies), so that independent parts separate:
    /// E[(φ'(h)·Ẑ)²] = E[φ'(h)²]·E[Ẑ²] when Ẑ is of another family than h.
    fn inline_products(&mut self, factors: &[Expr]) -> Vec<Expr> {
        let mut out = Vec::new();
        let mut todo: Vec<(Expr, usize)> = factors.iter().rev().map(|f| (f.clone(), 0)).collect();
        while let Some((f, depth)) = todo.pop() {
            if depth > 8 {
                out.push(f);
                continue;
            }
            match &f {
                Expr::Pow(inner, q) if *q == crate::exponent::Rational::from_integer(2.into()) => {
                    todo.push(((**inner).clone(), depth + 1));
                    todo.push(((**inner).clone(), depth + 1));
                }
                Expr::Mul(items) => {
                    for item in items.iter().rev() {
                        todo.push((item.clone(), depth + 1));
                    }
                }
                Expr::Value(v) => match &self.lp.entries[v.0].def {
                    Def::Vector {
                        expr: Expr::Mul(items),
                    } => {
                        for item in items.iter().rev() {
                            todo.push((item.clone(), depth + 1));
                        }
                    }
                    _ => out.push(f),
                },
                _ => out.push(f),
            }
        }
        // Constants and scalars that surfaced stay as factors: the product is unchanged.
        out
    }

    /// E[Π factors] over one set of dependent base Gaussians.
    fn expect_component(&mut self, factors: &[Expr]) -> Outcome {
        self.within_deterministic_reach(&Expr::product(factors.to_vec()))?;
        if !self.opts.monte_carlo_only {
            if let Some(n) = self.closed_form(factors)? {
                return Ok(n);
            }
        }
        let product = Expr::product(factors.to_vec());
        let point = self.point_eval(&product);
        let cov = self.leaf_covariance(&point.leaves)?;
        let smooth = !self.kinked(&point);
        let opts = self.gauss_options(smooth);
        let f = |g: &[f64]| self.point_value(&point, g);
        let est = gauss::expect(&cov, &f, &opts).map_err(|e| e.to_string())?;
        Ok(Number {
            value: est.value,
            stderr: est.stderr,
            method: est.method.to_string(),
        })
    }

    /// Without Monte Carlo, an integrand over many base Gaussians is refused before
    /// its (costly) reduction to leaves: the zeros the deterministic pass certifies are
    /// cancellations and identities among a few Gaussians, and reducing every integrand
    /// of a long training run made `tp scale` superlinear in the number of steps.
    fn within_deterministic_reach(&self, expr: &Expr) -> Result<(), String> {
        if !self.opts.deterministic {
            return Ok(());
        }
        let k = self.deps_of(expr).len();
        if k > DETERMINISTIC_GAUSSIANS {
            return Err(format!(
                "an integral over {k} base Gaussians needs Monte Carlo, which was not allowed"
            ));
        }
        Ok(())
    }

    /// E[∂Z^x/∂a] by Stein's lemma over the leaves of Z^x: with Z^x = F(ℓ) and
    /// ℓ_k = Σ_a c_{ka} Ẑ_a, E[∂Z^x/∂Ẑ_a] = Σ_k c_{ka} E[∂F/∂ℓ_k].
    fn derivative(&mut self, x: ValueId, a: ValueId) -> Outcome {
        self.within_deterministic_reach(&Expr::Value(x))?;
        if !self.gradients.contains_key(&x) {
            let z = Expr::Value(x);
            let point = self.point_eval(&z);
            let cov = self.leaf_covariance(&point.leaves)?;
            let smooth = !self.kinked(&point);
            let opts = self.gauss_options(smooth);
            let f = |g: &[f64]| self.point_value(&point, g);
            let grad = gauss::expect_gradient(&cov, &f, &opts).map_err(|e| e.to_string())?;
            let mut row: Vec<(ValueId, Number)> = Vec::new();
            for (leaf, est) in point.leaves.iter().zip(&grad) {
                for (atom, c) in leaf {
                    let method = format!("Stein's lemma, {}", est.method);
                    match row.iter_mut().find(|(b, _)| b == atom) {
                        Some((_, n)) => {
                            n.value += c * est.value;
                            n.stderr = n.stderr.hypot(c * est.stderr);
                        }
                        None => row.push((
                            *atom,
                            Number {
                                value: c * est.value,
                                stderr: (c * est.stderr).abs(),
                                method,
                            },
                        )),
                    }
                }
            }
            self.gradients.insert(x, row);
        }
        Ok(self
            .gradients
            .get(&x)
            .and_then(|row| row.iter().find(|(b, _)| *b == a))
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| Number::exact(0.0, "exact: the vector does not read it")))
    }

    /// Cov(a, b) of two base Gaussians.
    pub(super) fn atom_covariance(&mut self, a: ValueId, b: ValueId) -> Outcome {
        let (fa, fb) = (
            self.lp.entries[a.0].def.clone(),
            self.lp.entries[b.0].def.clone(),
        );
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
                    return n.clone();
                }
                // Failures are remembered too: without Monte Carlo a covariance that needs
                // it fails every time it is asked for, and asking again is not free.
                let n = self.expectation(&Expr::Mul(vec![Expr::Value(x), Expr::Value(y)]));
                self.covariances.insert(key, n.clone());
                n
            }
            _ => Ok(Number::exact(
                if a == b { 1.0 } else { 0.0 },
                "i.i.d. source",
            )),
        }
    }
}
