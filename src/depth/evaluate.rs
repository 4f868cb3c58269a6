//! Numerical values of a depth limit, each with an error estimate and its method:
//! RK4 for ODEs (error by step doubling), Euler–Maruyama over many independent paths for
//! SDEs (standard error over paths, plus the discretization bias measured by halving the
//! step on the same Brownian paths), and RK4 on the covariance ODE of the width limit
//! taken after the depth limit, whose Gaussian expectations come from `gauss` (with
//! their own error estimates).

use super::derive::DepthLimit;
use super::equation::{CrxEquation, MvEquation, MvSource, TrendAt};
use super::model::{CrxNet, DepthProgram, HayouKind, HayouNet, Resnet};
use crate::gauss::{expect_vec, ExpectOptions};
use crate::sim::gaussian::{stream_key, Gaussians};
use crate::solve::{rk4_path, Path, SolveError};
use ndarray::array;
use rayon::prelude::*;
use serde::Serialize;

/// One value of the limit.
#[derive(Clone, Debug, Serialize)]
pub struct DepthValue {
    /// What it is, e.g. `E H_1[0]`, `K_ff(1)`.
    pub name: String,
    /// The time t ∈ [0, 1] it is taken at.
    pub t: f64,
    /// The value.
    pub value: f64,
    /// Its error estimate (standard error for sampled values, a bound-like estimate for
    /// deterministic ones; 0 for exact).
    pub stderr: f64,
    /// How it was obtained.
    pub method: String,
}

/// How to evaluate.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// Independent paths for an SDE.
    pub paths: usize,
    /// Steps on [0, 1] (the finer of the two step sizes).
    pub steps: usize,
    /// Seed of the Brownian paths.
    pub seed: u64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            paths: 8192,
            steps: 1024,
            seed: 0,
        }
    }
}

/// All evaluated values, in a fixed order.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DepthValues {
    /// The values.
    pub values: Vec<DepthValue>,
    /// Per-path terminal states of an SDE (for law comparisons); empty for an ODE.
    #[serde(skip)]
    pub terminal: Vec<Vec<f64>>,
}

impl DepthValues {
    /// The value called `name`.
    pub fn get(&self, name: &str) -> Option<&DepthValue> {
        self.values.iter().find(|v| v.name == name)
    }
}

/// Evaluation failed.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
pub enum EvalError {
    /// A Gaussian expectation of the width limit failed.
    #[error("the width limit's Gaussian expectation failed: {0}")]
    Gauss(String),
    /// The ODE solver refused its arguments (e.g. a step count below 2).
    #[error("the limit's ODE could not be integrated: {0}")]
    Solve(#[from] SolveError),
}

/// Evaluates the limit of `prog` (nothing for a limit that does not exist).
pub fn evaluate(
    prog: &DepthProgram,
    limit: &DepthLimit,
    opts: &EvalOptions,
) -> Result<DepthValues, EvalError> {
    match (limit, &prog.net) {
        (DepthLimit::Crx { equation: Some(eq) }, Resnet::Crx(net)) => {
            if eq.is_ode() {
                crx_ode(prog, net, eq, opts)
            } else {
                Ok(crx_sde(prog, net, eq, opts))
            }
        }
        (DepthLimit::Hayou { mv: Some(mv), .. }, Resnet::Hayou(net)) => mv_values(prog, net, mv),
        _ => Ok(DepthValues {
            values: vec![],
            terminal: vec![],
        }),
    }
}

const TIMES: [f64; 4] = [0.25, 0.5, 0.75, 1.0];

/// A state this large counts as an explosion of the SDE.
const BLOW_UP: f64 = 1e100;

fn crx_ode(
    prog: &DepthProgram,
    net: &CrxNet,
    eq: &CrxEquation,
    opts: &EvalOptions,
) -> Result<DepthValues, EvalError> {
    let solve = |steps: usize| {
        let mut trend = TrendAt::default();
        rk4_path(
            |t, h, out| eq.drift(prog, net, t, h, &mut trend, out),
            0.0,
            1.0,
            &net.input,
            steps,
            1,
        )
    };
    let fine = solve(opts.steps)?;
    let coarse = solve(opts.steps / 2)?;
    let mut values = Vec::new();
    for &t in &TIMES {
        let kf = (t * opts.steps as f64).round() as usize;
        let kc = (t * (opts.steps / 2) as f64).round() as usize;
        for i in 0..net.dim {
            // RK4's error is ~h^4: the difference of the two solves over 15 bounds the
            // finer one's error; the full difference is reported, to stay conservative.
            values.push(DepthValue {
                name: format!("H_t[{i}]"),
                t,
                value: state(&fine, kf)[i],
                stderr: (state(&fine, kf)[i] - state(&coarse, kc)[i]).abs()
                    + 1e-14 * state(&fine, kf)[i].abs(),
                method: format!(
                    "RK4, {} steps (error: difference from {} steps)",
                    opts.steps,
                    opts.steps / 2
                ),
            });
        }
    }
    Ok(DepthValues {
        values,
        terminal: vec![state(&fine, opts.steps).to_vec()],
    })
}

/// The state at grid point `k` of a path recorded at every step; the grid indices used
/// here never exceed the step count, so a missing point is an internal error.
fn state(path: &Path, k: usize) -> &[f64] {
    path.state(k)
        .unwrap_or_else(|| panic!("grid point {k} beyond a path of {} points", path.len()))
}

/// Euler–Maruyama on `steps` steps and on `steps/2` steps of the same Brownian path;
/// returns (fine terminal state, coarse terminal state, fine sup_t |H_t|, fine H at
/// TIMES).
fn em_path(
    prog: &DepthProgram,
    net: &CrxNet,
    eq: &CrxEquation,
    trends: &[TrendAt],
    key: u64,
) -> (Vec<f64>, Vec<f64>, f64, Vec<Vec<f64>>) {
    let steps = trends.len();
    let d = net.dim;
    let g = Gaussians::new(key);
    let h = 1.0 / steps as f64;
    let sq = h.sqrt();
    let per = (d * d + d) as u64;
    let (mut fine, mut coarse) = (net.input.clone(), net.input.clone());
    let mut drift = vec![0.0; d];
    let mut incr = vec![0.0; d];
    let mut db = vec![0.0; d * d + d];
    let mut db2 = vec![0.0; d * d + d];
    let mut sup = fine.iter().map(|x| x * x).sum::<f64>().sqrt();
    let mut at = Vec::new();
    for k in 0..steps {
        g.fill(k as u64 * per, sq, &mut db);
        eq.drift_given(prog, net, &trends[k], &fine, &mut drift);
        incr.iter_mut().zip(&drift).for_each(|(o, a)| *o = a * h);
        eq.add_noise(net, &fine, &db[..d * d], &db[d * d..], &mut incr);
        fine.iter_mut().zip(&incr).for_each(|(x, dx)| *x += dx);
        sup = sup.max(fine.iter().map(|x| x * x).sum::<f64>().sqrt());
        if k % 2 == 0 {
            db2.copy_from_slice(&db);
        } else {
            db2.iter_mut().zip(&db).for_each(|(a, b)| *a += b);
            eq.drift_given(prog, net, &trends[k - 1], &coarse, &mut drift);
            incr.iter_mut()
                .zip(&drift)
                .for_each(|(o, a)| *o = a * 2.0 * h);
            eq.add_noise(net, &coarse, &db2[..d * d], &db2[d * d..], &mut incr);
            coarse.iter_mut().zip(&incr).for_each(|(x, dx)| *x += dx);
        }
        for &tt in &TIMES {
            if k + 1 == (tt * steps as f64).round() as usize {
                at.push(fine.clone());
            }
        }
    }
    (fine, coarse, sup, at)
}

fn crx_sde(prog: &DepthProgram, net: &CrxNet, eq: &CrxEquation, opts: &EvalOptions) -> DepthValues {
    let steps = opts.steps.max(2) & !1;
    // The trend on the fine grid, once for all paths (the coarse solve uses every other
    // point of the same grid).
    let trends: Vec<TrendAt> = (0..steps)
        .map(|k| eq.trend_at(prog, net, k as f64 / steps as f64))
        .collect();
    let paths: Vec<_> = (0..opts.paths as u64)
        .into_par_iter()
        .map(|p| {
            em_path(
                prog,
                net,
                eq,
                &trends,
                stream_key(opts.seed, 0xD1_0000_0000 | p),
            )
        })
        .collect();
    let m = paths.len() as f64;
    let d = net.dim;
    let mut values = Vec::new();
    // A quadratic Itô drift can make the SDE explode in finite time on some paths: its
    // moments then do not exist, and only the probability of explosion is a value.
    let blown = paths
        .iter()
        .filter(|p| !p.2.is_finite() || p.2 > BLOW_UP)
        .count();
    if blown > 0 {
        let q = blown as f64 / m;
        values.push(DepthValue {
            name: "P(blow-up by t)".into(),
            t: 1.0,
            value: q,
            stderr: (q * (1.0 - q) / m).sqrt().max(0.5 / m),
            method: format!(
                "Euler–Maruyama, {} paths × {} steps: {blown} paths exceeded |H| = 1e100 or \
                 overflowed, so the moments of H_t do not exist (not reported)",
                opts.paths, opts.steps
            ),
        });
        return DepthValues {
            values,
            terminal: vec![],
        };
    }
    let method = format!(
        "Euler–Maruyama, {} paths × {steps} steps (error: standard error over paths ⊕ change when the step is doubled)",
        opts.paths
    );
    let stat = |xs: &[f64]| {
        let mean = xs.iter().sum::<f64>() / m;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (m - 1.0);
        (mean, (var / m).sqrt(), var.sqrt())
    };
    for (ti, &t) in TIMES.iter().enumerate() {
        for i in 0..d {
            let xs: Vec<f64> = paths.iter().map(|p| p.3[ti][i]).collect();
            let (mean, se, sd) = stat(&xs);
            let mut se_total = se;
            if t == 1.0 {
                let cs: Vec<f64> = paths.iter().map(|p| p.1[i]).collect();
                let (cm, _, _) = stat(&cs);
                se_total = (se * se + (mean - cm).powi(2)).sqrt();
            }
            values.push(DepthValue {
                name: format!("E H_t[{i}]"),
                t,
                value: mean,
                stderr: se_total,
                method: method.clone(),
            });
            if t == 1.0 {
                values.push(DepthValue {
                    name: format!("sd H_t[{i}]"),
                    t,
                    value: sd,
                    stderr: sd / (2.0 * (m - 1.0)).sqrt(),
                    method: method.clone(),
                });
            }
        }
    }
    let norms: Vec<f64> = paths
        .iter()
        .map(|p| p.0.iter().map(|x| x * x).sum::<f64>().sqrt())
        .collect();
    let (nm, nse, _) = stat(&norms);
    values.push(DepthValue {
        name: "E |H_t|".into(),
        t: 1.0,
        value: nm,
        stderr: nse,
        method: method.clone(),
    });
    let mut sorted = norms.clone();
    sorted.sort_by(f64::total_cmp);
    for (label, q) in [
        ("q05 |H_t|", 0.05),
        ("median |H_t|", 0.5),
        ("q95 |H_t|", 0.95),
    ] {
        let k = ((m - 1.0) * q).round() as usize;
        // The standard error of a sample quantile: √(q(1−q)/m) / density, the density
        // estimated from the spacing of nearby order statistics.
        let w = (m * 0.01).max(2.0) as usize;
        let lo = sorted[k.saturating_sub(w)];
        let hi = sorted[(k + w).min(sorted.len() - 1)];
        let density = (2.0 * w as f64 / m) / (hi - lo).max(1e-300);
        values.push(DepthValue {
            name: label.into(),
            t: 1.0,
            value: sorted[k],
            stderr: (q * (1.0 - q) / m).sqrt() / density,
            method: method.clone(),
        });
    }
    let sups: Vec<f64> = paths.iter().map(|p| p.2).collect();
    let (sm, sse, _) = stat(&sups);
    values.push(DepthValue {
        name: "E sup_t |H_t|".into(),
        t: 1.0,
        value: sm,
        stderr: sse,
        method,
    });
    DepthValues {
        values,
        terminal: paths.into_iter().map(|p| p.0).collect(),
    }
}

/// The right-hand side of the covariance ODE, with the error of its expectations.
fn mv_rhs(
    prog: &DepthProgram,
    net: &HayouNet,
    eq: &MvEquation,
    k: &[f64; 3],
) -> Result<([f64; 3], f64), EvalError> {
    let [kff, kfv, kvv] = *k;
    let s = match &eq.source {
        MvSource::Constant(d) => return Ok(([d[0][0] - kff, d[0][1] - kfv, d[1][1] - kvv], 0.0)),
        MvSource::Derived => {
            let cov = if eq.sketch {
                array![[kff, kfv], [kfv, kvv]]
            } else {
                array![[kff, 0.0], [0.0, 0.0]]
            };
            let act = net.act;
            let f = |g: &[f64], out: &mut [f64]| {
                let phi = prog.act(act, 0, g[0]);
                let dphi = if eq.sketch {
                    prog.act(act, 1, g[0]) * g[1]
                } else {
                    0.0
                };
                out[0] = phi * phi;
                out[1] = phi * dphi;
                out[2] = dphi * dphi;
            };
            let opts = ExpectOptions {
                smooth: false,
                ..ExpectOptions::default()
            };
            expect_vec(&cov, &f, 3, &opts).map_err(|e| EvalError::Gauss(e.to_string()))?
        }
    };
    let err = s.iter().map(|e| e.stderr).fold(0.0, f64::max) * eq.gain;
    let g = eq.gain;
    Ok((
        [
            g * s[0].value - kff,
            g * s[1].value - kfv,
            g * s[2].value - kvv,
        ],
        err,
    ))
}

fn mv_values(
    prog: &DepthProgram,
    net: &HayouNet,
    eq: &MvEquation,
) -> Result<DepthValues, EvalError> {
    let m0 = net.input.len() as f64;
    let k0 = [
        net.input.iter().map(|x| x * x).sum::<f64>() / m0,
        0.0,
        if eq.sketch { 1.0 } else { 0.0 },
    ];
    let steps = 64;
    let mut worst_quad = 0.0f64;
    let mut failure = None;
    let mut run = |n: usize| {
        rk4_path(
            |_, k, out| match mv_rhs(prog, net, eq, &[k[0], k[1], k[2]]) {
                Ok((v, e)) => {
                    out.copy_from_slice(&v);
                    worst_quad = worst_quad.max(e);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                    out.iter_mut().for_each(|o| *o = f64::NAN);
                }
            },
            0.0,
            1.0,
            &k0,
            n,
            1,
        )
    };
    let fine = run(steps)?;
    let coarse = run(steps / 2)?;
    if let Some(e) = failure {
        return Err(e);
    }
    let names: &[&str] = if eq.sketch && net.kind == HayouKind::Type1 {
        &["K_ff", "K_fv", "K_vv"]
    } else {
        &["K_ff"]
    };
    let mut values = Vec::new();
    for &t in &[0.0, 0.5, 1.0] {
        let kf = (t * steps as f64) as usize;
        let kc = (t * (steps / 2) as f64) as usize;
        for (i, name) in names.iter().enumerate() {
            values.push(DepthValue {
                name: name.to_string(),
                t,
                value: state(&fine, kf)[i],
                // Over t ≤ 1 the expectations' error is integrated at most once.
                stderr: (state(&fine, kf)[i] - state(&coarse, kc)[i]).abs() + worst_quad * t,
                method: format!("RK4 ({steps} steps) on the covariance ODE; expectations by adaptive quadrature"),
            });
        }
    }
    Ok(DepthValues {
        values,
        terminal: vec![],
    })
}
