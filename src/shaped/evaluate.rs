//! Numbers from the derived Gram SDE: Euler–Maruyama paths of the matrix SDE (steps h and
//! h/2 on shared Brownian paths, so the step bias is measured), the statistics the checks
//! compare with finite networks, the deterministic limit, and the scalar blow-up analysis
//! of every diagonal entry (logistic blow-up time, Feller's eventual blow-up probability,
//! finite-horizon Monte Carlo).

use super::blowup::{
    blowup_monte_carlo, feller_blowup_probability, logistic, logistic_blowup_time, BlowupEstimate,
    BlowupMcOptions,
};
use super::derive::ShapedDerivation;
use super::model::ShapedProgram;
use super::poly::{Atom, Func, Poly};
use crate::solve::gram::{
    gram_em_pairs, gram_ode, packed_index, packed_len, GramEmOptions, GramPath, GramSde,
    GramStopKind,
};
use crate::solve::SolveError;
use serde::Serialize;

/// How to evaluate the limit.
#[derive(Clone, Debug)]
pub struct LimitOptions {
    /// Seed of the Brownian paths.
    pub seed: u64,
    /// Number of coupled (h, h/2) path pairs.
    pub paths: usize,
    /// The coarse step h in τ (the fine paths use h/2).
    pub step: f64,
    /// A diagonal entry reaching this level counts as a blow-up (and stops the path).
    pub level: f64,
}

impl Default for LimitOptions {
    fn default() -> Self {
        LimitOptions {
            seed: 0,
            paths: 4000,
            step: 1.0 / 100.0,
            level: 1e8,
        }
    }
}

/// A statistic of the Gram matrix at τ, the same for networks and the SDE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Stat {
    /// log Φ^{αα}.
    LogDiag(usize),
    /// ρ^{αβ}.
    Corr(usize, usize),
}

impl Stat {
    /// The printed name (inputs numbered from 1).
    pub fn name(&self) -> String {
        match self {
            Stat::LogDiag(a) => format!("log Phi^{0}{0}_tau", a + 1),
            Stat::Corr(a, b) => format!("rho^{}{}_tau", a + 1, b + 1),
        }
    }

    /// Its value on a packed m×m Gram matrix.
    pub fn value(&self, m: usize, s: &[f64]) -> f64 {
        let at = |a: usize, b: usize| s[packed_index(m, a, b)];
        match *self {
            Stat::LogDiag(a) => at(a, a).ln(),
            Stat::Corr(a, b) => at(a, b) / (at(a, a) * at(b, b)).sqrt(),
        }
    }
}

/// The statistics judged for m inputs: every log-diagonal and every pair's correlation
/// (at most the first three inputs). These are the coordinates in which the law is light-
/// tailed: Φ^{αβ} itself inherits the log-normal tails of the diagonal, and its sample
/// variance over a few hundred networks is not a usable estimate.
pub fn statistics(m: usize) -> Vec<Stat> {
    let m = m.min(3);
    let mut out: Vec<Stat> = (0..m).map(Stat::LogDiag).collect();
    for a in 0..m {
        for b in a + 1..m {
            out.push(Stat::Corr(a, b));
        }
    }
    out
}

/// A derived polynomial compiled for evaluation on the two indices (α, β) of a packed Φ.
#[derive(Clone, Debug)]
struct Compiled {
    terms: Vec<(f64, Vec<(Slot, f64)>)>,
    /// Whether some factor reads the correlation.
    needs_rho: bool,
}

#[derive(Clone, Copy, Debug)]
enum Slot {
    Gram(usize, usize),
    Corr,
    SqrtOneMinusSq,
    Arccos,
    ArccosNeg,
    ArcCosKernel,
    Constant(f64),
}

/// Why the limit cannot be evaluated numerically.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// An atom has no numeric value (a symbol left in the derivation).
    #[error("`{0}` has no value; give every symbol a value with --set NAME=VALUE")]
    Symbolic(String),
    /// The solver refused its arguments.
    #[error(transparent)]
    Solve(#[from] SolveError),
    /// The blow-up analysis refused its arguments.
    #[error(transparent)]
    Blowup(#[from] super::blowup::BlowupError),
}

impl Compiled {
    fn new(p: &Poly) -> Result<Compiled, EvalError> {
        let mut terms = Vec::new();
        for (m, c) in &p.0 {
            let coef = num_traits::ToPrimitive::to_f64(c).unwrap_or(f64::NAN);
            let mut factors = Vec::new();
            for (atom, e) in &m.0 {
                let e = num_traits::ToPrimitive::to_f64(e).unwrap_or(f64::NAN);
                let slot = match atom {
                    Atom::Gram(i, j) => Slot::Gram(*i, *j),
                    Atom::Corr(..) => Slot::Corr,
                    Atom::Func(Func::SqrtOneMinusSq, ..) => Slot::SqrtOneMinusSq,
                    Atom::Func(Func::Arccos, ..) => Slot::Arccos,
                    Atom::Func(Func::ArccosNeg, ..) => Slot::ArccosNeg,
                    Atom::Func(Func::ArcCosKernel, ..) => Slot::ArcCosKernel,
                    Atom::Pi => Slot::Constant(std::f64::consts::PI),
                    Atom::Prime(q) => Slot::Constant(f64::from(*q)),
                    Atom::Sym(s) => return Err(EvalError::Symbolic(s.clone())),
                    Atom::Eps => return Err(EvalError::Symbolic("eps".into())),
                };
                factors.push((slot, e));
            }
            terms.push((coef, factors));
        }
        let needs_rho = terms
            .iter()
            .flat_map(|(_, f)| f)
            .any(|(slot, _)| !matches!(slot, Slot::Gram(..) | Slot::Constant(_)));
        Ok(Compiled { terms, needs_rho })
    }

    /// The value with the formal indices 0, 1 standing for inputs a, b of `s`.
    fn eval(&self, m: usize, s: &[f64], a: usize, b: usize) -> f64 {
        let idx = |k: usize| if k == 0 { a } else { b };
        let at = |i: usize, j: usize| s[packed_index(m, idx(i), idx(j))];
        // ρ once per call and only when a factor reads it: this runs at every
        // Euler–Maruyama step of every path.
        let rho = if self.needs_rho {
            (at(0, 1) / (at(0, 0) * at(1, 1)).sqrt()).clamp(-1.0, 1.0)
        } else {
            f64::NAN
        };
        let mut total = 0.0;
        for (c, factors) in &self.terms {
            let mut t = *c;
            for (slot, e) in factors {
                let base = match slot {
                    Slot::Gram(i, j) => at(*i, *j),
                    Slot::Corr => rho,
                    Slot::SqrtOneMinusSq => (1.0 - rho * rho).max(0.0).sqrt(),
                    Slot::Arccos => rho.acos(),
                    Slot::ArccosNeg => (-rho).acos(),
                    Slot::ArcCosKernel => {
                        let r = rho;
                        ((1.0 - r * r).max(0.0).sqrt() + r * (-r).acos())
                            / (2.0 * std::f64::consts::PI)
                    }
                    Slot::Constant(x) => *x,
                };
                t *= if *e == 1.0 { base } else { base.powf(*e) };
            }
            total += t;
        }
        total
    }
}

/// The derived drift as a function of the packed Φ.
pub struct DriftFn {
    m: usize,
    offdiag: Compiled,
    diag: Compiled,
}

impl DriftFn {
    /// Compiles the derivation's drift for m inputs.
    pub fn new(d: &ShapedDerivation, m: usize) -> Result<DriftFn, EvalError> {
        Ok(DriftFn {
            m,
            offdiag: Compiled::new(&d.drift_offdiag)?,
            diag: Compiled::new(&d.drift_diag)?,
        })
    }

    /// Writes b(Φ) in packed order.
    pub fn apply(&self, s: &[f64], out: &mut [f64]) {
        let m = self.m;
        for a in 0..m {
            for b in a..m {
                out[packed_index(m, a, b)] = if a == b {
                    self.diag.eval(m, s, a, a)
                } else {
                    self.offdiag.eval(m, s, a, b)
                };
            }
        }
    }
}

/// One statistic of the limit at τ.
#[derive(Clone, Debug, Serialize)]
pub struct StatSummary {
    /// Which statistic.
    pub stat: Stat,
    /// Its name.
    pub name: String,
    /// Mean over the fine paths that did not stop.
    pub mean: f64,
    /// Standard error of the mean.
    pub mean_se: f64,
    /// Variance over those paths.
    pub var: f64,
    /// Standard error of the variance (from the fourth central moment).
    pub var_se: f64,
    /// Coarse minus fine mean on the same Brownian paths (the step's weak bias).
    pub mean_step_bias: f64,
    /// Coarse minus fine variance.
    pub var_step_bias: f64,
    /// The fine samples (for Kolmogorov–Smirnov), in path order.
    #[serde(skip)]
    pub samples: Vec<f64>,
}

/// The scalar blow-up analysis of one diagonal entry.
#[derive(Clone, Debug, Serialize)]
pub struct DiagonalBlowup {
    /// Which input (from 0).
    pub input: usize,
    /// The coefficient β of the scalar drift β Φ(Φ − 1) (b/a² for smooth shaping).
    pub beta: f64,
    /// Φ^{αα}_0.
    pub x0: f64,
    /// Blow-up time of the deterministic limit (logistic), if it blows up.
    pub deterministic_blowup_time: Option<f64>,
    /// The deterministic limit at τ, when it does not blow up by then.
    pub deterministic_at_tau: Option<f64>,
    /// Feller: P(eventual blow-up | Φ₀) (0 when β ≤ 0).
    pub eventual: f64,
    /// Monte Carlo P(blow-up by τ) of the scalar SDE, with its errors.
    pub by_tau: BlowupEstimate,
}

/// Everything evaluated from the limit.
#[derive(Clone, Debug, Serialize)]
pub struct LimitValues {
    /// τ.
    pub tau: f64,
    /// The statistics at τ.
    pub stats: Vec<StatSummary>,
    /// Fraction of fine paths that hit the level by τ, its standard error and the step bias.
    pub hit: (f64, f64, f64),
    /// The level.
    pub level: f64,
    /// The fraction of fine paths that collapsed.
    pub collapsed: f64,
    /// The deterministic limit ∂τΦ = b(Φ) at τ (packed), or the τ where it blew up.
    pub deterministic: Result<Vec<f64>, f64>,
    /// The scalar blow-up analysis per diagonal entry (smooth shaping: β ≠ 0).
    pub blowup: Vec<DiagonalBlowup>,
    /// How the numbers were made.
    pub method: String,
}

/// The packed Φ₀ of the program.
pub fn packed_gram0(prog: &ShapedProgram) -> Vec<f64> {
    let m = prog.inputs_len();
    let mut out = vec![0.0; packed_len(m)];
    for a in 0..m {
        for b in a..m {
            out[packed_index(m, a, b)] = prog.gram0[a][b];
        }
    }
    out
}

fn moments(xs: &[f64]) -> (f64, f64, f64, f64) {
    let k = xs.len() as f64;
    if xs.len() < 2 {
        return (f64::NAN, f64::NAN, f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / k;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0);
    let m4 = xs.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / k;
    (
        mean,
        (var / k).sqrt(),
        var,
        ((m4 - var * var).max(0.0) / k).sqrt(),
    )
}

/// Evaluates the limit of `prog` from its derivation `d`.
pub fn evaluate(
    prog: &ShapedProgram,
    d: &ShapedDerivation,
    opts: &LimitOptions,
) -> Result<LimitValues, EvalError> {
    let m = prog.inputs_len();
    let tau = prog.tau_f64();
    let drift = DriftFn::new(d, m)?;
    let f = |s: &[f64], out: &mut [f64]| drift.apply(s, out);
    let sde = GramSde::lnr(m, f);
    let phi0 = packed_gram0(prog);
    let mut em = GramEmOptions::new(vec![tau], opts.step);
    em.blowup = opts.level;
    let pairs = gram_em_pairs(&sde, &phi0, &em, opts.seed, opts.paths)?;
    let end = |p: &GramPath| -> Option<Vec<f64>> {
        if p.stop.is_some() {
            None
        } else {
            p.state(0).map(|s| s.to_vec())
        }
    };
    let fine: Vec<Option<Vec<f64>>> = pairs.iter().map(|[_, f]| end(f)).collect();
    let coarse: Vec<Option<Vec<f64>>> = pairs.iter().map(|[c, _]| end(c)).collect();
    let stats = statistics(m)
        .into_iter()
        .map(|stat| {
            let xs: Vec<f64> = fine.iter().flatten().map(|s| stat.value(m, s)).collect();
            let cs: Vec<f64> = coarse.iter().flatten().map(|s| stat.value(m, s)).collect();
            let (mean, mean_se, var, var_se) = moments(&xs);
            let (cmean, _, cvar, _) = moments(&cs);
            StatSummary {
                stat,
                name: stat.name(),
                mean,
                mean_se,
                var,
                var_se,
                mean_step_bias: cmean - mean,
                var_step_bias: cvar - var,
                samples: xs,
            }
        })
        .collect();
    let hit_of = |p: &GramPath| p.stop.is_some_and(|s| s.kind == GramStopKind::BlowUp);
    let n = pairs.len().max(1) as f64;
    let hits = pairs.iter().filter(|[_, f]| hit_of(f)).count() as f64 / n;
    let coarse_hits = pairs.iter().filter(|[c, _]| hit_of(c)).count() as f64 / n;
    let collapsed = pairs
        .iter()
        .filter(|[_, f]| f.stop.is_some_and(|s| s.kind == GramStopKind::Collapse))
        .count() as f64
        / n;
    let ode = gram_ode(
        |s: &[f64], out: &mut [f64]| drift.apply(s, out),
        &phi0,
        tau,
        400,
        opts.level,
    )?;
    let deterministic = match ode.blowup {
        Some((t, _)) => Err(t),
        None => Ok(ode
            .states
            .get(ode.states.len().saturating_sub(packed_len(m))..)
            .map(<[f64]>::to_vec)
            .unwrap_or_default()),
    };
    let mut blowup = Vec::new();
    if let Some(beta) = scalar_beta(d)? {
        for a in 0..m {
            let x0 = prog.gram0[a][a];
            let by_tau = blowup_monte_carlo(&BlowupMcOptions::new(
                beta,
                x0,
                tau,
                opts.step,
                opts.paths,
                opts.seed ^ 0x5eed_b10c ^ a as u64,
            ))?;
            let t_star = logistic_blowup_time(beta, x0);
            blowup.push(DiagonalBlowup {
                input: a,
                beta,
                x0,
                deterministic_blowup_time: t_star,
                deterministic_at_tau: match t_star {
                    Some(t) if t <= tau => None,
                    _ => Some(logistic(beta, x0, tau)),
                },
                eventual: feller_blowup_probability(beta, x0)?,
                by_tau,
            });
        }
    }
    Ok(LimitValues {
        tau,
        stats,
        hit: (hits, (hits * (1.0 - hits) / n).sqrt(), coarse_hits - hits),
        level: opts.level,
        collapsed,
        deterministic,
        blowup,
        method: format!(
            "Euler–Maruyama on the packed Gram matrix (log coordinates on the diagonal), {} paths at steps {} and {} on shared Brownian increments (step bias = coarse − fine), seed {}; deterministic limit by RK4 (400 and 800 steps)",
            opts.paths,
            opts.step,
            opts.step / 2.0,
            opts.seed
        ),
    })
}

/// β with b^{αα} = β Φ^{αα}(Φ^{αα} − 1), when the diagonal drift has that form (smooth
/// shaping) and β ≠ 0; None for a drift-free diagonal.
pub fn scalar_beta(d: &ShapedDerivation) -> Result<Option<f64>, EvalError> {
    if d.drift_diag.is_zero() {
        return Ok(None);
    }
    match super::derive::logistic_coefficient(&d.drift_diag) {
        None => Ok(None),
        Some(beta) => match beta.eval(&|_| None) {
            Some(x) => Ok(Some(x)),
            None => Err(EvalError::Symbolic(format!("{beta}"))),
        },
    }
}
