//! `tp check` for shaped networks: finite networks at d = τn for several widths n
//! against the derived Gram SDE.
//!
//! For each statistic of Φ_τ (log Φ^{αα}, ρ^{αβ}) the per-width means (and variances)
//! of the finite networks are fitted as μ + C₁ n^{-r} + C₂ n^{-2r}, with r the
//! weak-error exponent the derivation gives, by weighted least squares over the widths (samples at
//! different widths are independent, so the per-width standard errors are the whole
//! error model). The fitted μ is the network's n → ∞ value; it is compared with the SDE's
//! value, whose Monte Carlo error and step bias join the interval. The fit's χ² says
//! whether the n-dependence is the derived n^{-r} (the rate verdict). The law at the
//! widest network is compared with the SDE's by a two-sample Kolmogorov–Smirnov test, and
//! the frequency of paths reaching the blow-up level with the SDE's. All verdicts share
//! one Holm correction.

use super::depth::{holm_across, judge_ks, mean_se, DepthRule, DepthVerdict};
use super::extrapolate::solve;
use super::law::chi_square_cdf;
use crate::exponent::Rational;
use crate::report::shaped::regime_at;
use crate::shaped::derive::{
    derive, total_drift_exponent, weak_rate, ShapedMutation, ShapedRegime,
};
use crate::shaped::evaluate::{
    evaluate, scalar_beta, statistics, EvalError, LimitOptions, LimitValues, Stat,
};
use crate::shaped::model::{ShapedAct, ShapedError, ShapedProgram};
use crate::shaped::poly::{Atom, Poly};
use crate::shaped::simulate::{
    sweep, ChainLimits, ShapedSimError, ShapedSweep, ShapedSweepOptions,
};
use crate::solve::gram::packed_len;
use num_traits::{One, ToPrimitive, Zero};
use serde::Serialize;
use std::collections::BTreeMap;

/// The significance level of the family-wise test.
pub const LEVEL: f64 = 0.05;

/// Widths of `tp check` on a shaped program.
pub const DEFAULT_SHAPED_WIDTHS: [usize; 5] = [32, 64, 128, 256, 512];
/// Networks per width.
pub const DEFAULT_SHAPED_SAMPLES: usize = 600;
/// Coupled (h, h/2) path pairs of the SDE.
pub const DEFAULT_LIMIT_PATHS: usize = 4000;

/// How to check.
#[derive(Clone, Debug)]
pub struct ShapedCheckOptions {
    /// Widths n (depth d = round(τ n)).
    pub widths: Vec<usize>,
    /// Networks per width.
    pub samples: usize,
    /// Seed of the networks and of the SDE paths.
    pub seed: u64,
    /// SDE path pairs.
    pub limit_paths: usize,
    /// The SDE's coarse step in τ.
    pub step: f64,
    /// A deliberately wrong derivation.
    pub mutation: Option<ShapedMutation>,
    /// Threads (None: all).
    pub threads: Option<usize>,
}

impl Default for ShapedCheckOptions {
    fn default() -> Self {
        ShapedCheckOptions {
            widths: DEFAULT_SHAPED_WIDTHS.to_vec(),
            samples: DEFAULT_SHAPED_SAMPLES,
            seed: 0,
            limit_paths: DEFAULT_LIMIT_PATHS,
            step: 0.01,
            mutation: None,
            threads: None,
        }
    }
}

/// Why a shaped check cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ShapedCheckError {
    /// The program has symbols without a default point.
    #[error("{0}")]
    Symbols(String),
    /// The program is not numeric.
    #[error(transparent)]
    Model(#[from] ShapedError),
    /// The simulator refused.
    #[error(transparent)]
    Sim(#[from] ShapedSimError),
    /// The limit could not be evaluated.
    #[error(transparent)]
    Eval(#[from] EvalError),
}

/// Per-width means of one statistic, for the report.
#[derive(Clone, Debug, Serialize)]
pub struct WidthRow {
    /// The width.
    pub n: usize,
    /// The depth.
    pub d: usize,
    /// Mean and standard error per statistic (statistic order of the check).
    pub means: Vec<(f64, f64)>,
    /// Fraction of networks that reached the blow-up level, and its standard error.
    pub hit: (f64, f64),
}

/// The check at one point of the symbols.
#[derive(Clone, Debug, Serialize)]
pub struct PointCheck {
    /// The symbol values (empty for a numeric program).
    pub point: Vec<(String, String)>,
    /// The derived regime at this point.
    pub regime: Option<ShapedRegime>,
    /// The weak-error exponent r used in the fits.
    pub rate: Option<String>,
    /// Statistic names, in the order of [`WidthRow::means`].
    pub stats: Vec<String>,
    /// The networks, per width.
    pub widths: Vec<WidthRow>,
    /// The limit's numbers.
    pub limit: Option<LimitValues>,
    /// The blow-up level used by both sides.
    pub level: f64,
    /// The verdicts.
    pub verdicts: Vec<DepthVerdict>,
    /// Why nothing was judged, when so.
    pub note: Option<String>,
    /// The sweep's planned cost, as text.
    pub cost: String,
    /// The sweep the verdicts judged (for `--csv`); `None` where nothing ran.
    #[serde(skip)]
    pub sweep: Option<ShapedSweep>,
}

/// The whole check.
#[derive(Clone, Debug, Serialize)]
pub struct ShapedCheck {
    /// One entry per point.
    pub points: Vec<PointCheck>,
    /// Failed verdicts after Holm.
    pub failures: usize,
    /// The mutation, if any.
    pub mutation: Option<&'static str>,
}

impl ShapedCheck {
    /// Whether every verdict passed and there was at least one (nothing judged is no PASS).
    pub fn pass(&self) -> bool {
        self.failures == 0 && self.points.iter().any(|p| !p.verdicts.is_empty())
    }
}

/// The points at which a program with symbols is checked: p at its critical value 1/2;
/// symbolic Taylor data φ''(0), φ'''(0) at (0, −1) (b < 0) and (1, 0) (b > 0); symbolic
/// ReLU slopes at (1, −1). Other symbols need `--set`.
pub fn default_points(
    prog: &ShapedProgram,
) -> Result<Vec<BTreeMap<String, Rational>>, ShapedCheckError> {
    let q = |n: i64, d: i64| Rational::new(n.into(), d.into());
    let plain = |p: &Poly| -> Option<String> {
        let (m, c) = p.0.iter().next()?;
        if p.0.len() != 1 || !c.is_one() || m.0.len() != 1 {
            return None;
        }
        match m.0.iter().next()? {
            (Atom::Sym(s), e) if e.is_one() => Some(s.clone()),
            _ => None,
        }
    };
    let mut base = BTreeMap::new();
    for s in prog.p.terms().keys() {
        base.insert(s.clone(), q(1, 2));
    }
    let mut points = vec![base.clone()];
    match &prog.act {
        ShapedAct::Smooth(s) => {
            let (u, v) = (plain(&s.taylor[2]), plain(&s.taylor[3]));
            if u.is_some() || v.is_some() {
                let mut a = base.clone();
                let mut b = base.clone();
                if let Some(u) = &u {
                    a.insert(u.clone(), q(0, 1));
                    b.insert(u.clone(), q(1, 1));
                }
                if let Some(v) = &v {
                    a.insert(v.clone(), q(-1, 1));
                    b.insert(v.clone(), q(0, 1));
                }
                points = vec![a, b];
            }
        }
        ShapedAct::Relu { c_plus, c_minus } => {
            let mut a = base.clone();
            if let Some(s) = plain(c_plus) {
                a.insert(s, q(1, 1));
            }
            if let Some(s) = plain(c_minus) {
                a.insert(s, q(-1, 1));
            }
            points = vec![a];
        }
    }
    for point in &points {
        let missing: Vec<&String> = prog
            .symbols
            .iter()
            .filter(|s| !point.contains_key(*s))
            .collect();
        if !missing.is_empty() {
            return Err(ShapedCheckError::Symbols(format!(
                "the symbols {} have no default check point; give them values with --set NAME=VALUE",
                missing.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(points)
}

/// Runs the check at every point.
pub fn run_shaped_check(
    prog: &ShapedProgram,
    opts: &ShapedCheckOptions,
) -> Result<ShapedCheck, ShapedCheckError> {
    let points = if prog.symbols.is_empty() {
        vec![BTreeMap::new()]
    } else {
        default_points(prog)?
    };
    let mut out = Vec::new();
    for (k, point) in points.iter().enumerate() {
        let at = prog.at_point(point);
        let mut o = opts.clone();
        o.seed = opts.seed.wrapping_add(0x9E37_79B9 * k as u64);
        let mut pc = check_point(&at, &o)?;
        pc.point = point
            .iter()
            .map(|(s, q)| (s.clone(), crate::exponent::format_rational(q)))
            .collect();
        out.push(pc);
    }
    let failures = holm_across(out.iter_mut().map(|p| &mut p.verdicts));
    Ok(ShapedCheck {
        points: out,
        failures,
        mutation: opts.mutation.map(|m| m.name()),
    })
}

fn normal_p(z: f64) -> f64 {
    if !z.is_finite() {
        return 0.0;
    }
    (1.0 - crate::ir::erf(z.abs() / std::f64::consts::SQRT_2)).clamp(0.0, 1.0)
}

/// Weighted least squares of `y_w ≈ μ + C₁ n_w^{-r} + C₂ n_w^{-2r}` (the first two
/// corrections of a series in ε = n^{-1/2} whose first nonzero term is n^{-r}) with weights
/// 1/se_w²: (μ, se(μ), χ², degrees of freedom). The second term matters at the smallest
/// widths, where n^{-2r} is not yet small against n^{-r} (GELU's blow-up frequency at
/// n = 32 sits far below its limit). With three widths only the first correction is
/// fitted.
fn fit_mu(ns: &[usize], ys: &[(f64, f64)], r: f64) -> Option<(f64, f64, f64, usize)> {
    let pts: Vec<(f64, f64, f64)> = ns
        .iter()
        .zip(ys)
        .filter(|(_, (y, s))| y.is_finite() && s.is_finite() && *s > 0.0)
        .map(|(&n, &(y, s))| ((n as f64).powf(-r), y, 1.0 / (s * s)))
        .collect();
    if pts.len() < 3 {
        return None;
    }
    let terms = if pts.len() >= 4 { 3 } else { 2 };
    let row = |x: f64| -> Vec<f64> { (0..terms).map(|k| x.powi(k as i32)).collect() };
    let mut a = vec![vec![0.0; terms]; terms];
    let mut b = vec![0.0; terms];
    for &(x, y, w) in &pts {
        let rx = row(x);
        for (i, ri) in rx.iter().enumerate() {
            b[i] += w * ri * y;
            for (j, rj) in rx.iter().enumerate() {
                a[i][j] += w * ri * rj;
            }
        }
    }
    let coef = solve(a.clone(), b)?;
    // Var(μ) is the (0, 0) entry of (XᵀWX)⁻¹: the first entry of the solution for e₀.
    let mut e0 = vec![0.0; terms];
    e0[0] = 1.0;
    let var_mu = solve(a, e0)?[0];
    let chi2: f64 = pts
        .iter()
        .map(|&(x, y, w)| {
            let fit: f64 = row(x).iter().zip(&coef).map(|(r, c)| r * c).sum();
            w * (y - fit).powi(2)
        })
        .sum();
    Some((coef[0], var_mu.sqrt(), chi2, pts.len() - terms))
}

/// Per-sample squared deviations scaled so that their mean is the unbiased variance.
fn sq_dev(xs: &[f64]) -> Vec<f64> {
    let k = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / k.max(1.0);
    let f = if k > 1.0 { k / (k - 1.0) } else { 1.0 };
    xs.iter().map(|x| f * (x - m).powi(2)).collect()
}

#[allow(clippy::too_many_arguments)]
fn extrapolated_verdict(
    quantity: &str,
    widths: &[usize],
    ys: &[(f64, f64)],
    r: f64,
    reference: f64,
    reference_se: f64,
    rule: DepthRule,
    reference_method: &str,
    judge_rate: bool,
) -> Vec<DepthVerdict> {
    let against = format!("n = {}…{}", widths[0], widths[widths.len() - 1]);
    let Some((mu, se, chi2, df)) = fit_mu(widths, ys, r) else {
        return Vec::new();
    };
    let total = (se * se + reference_se * reference_se).sqrt();
    let z = (mu - reference) / total;
    let p = normal_p(z);
    let mut out = vec![DepthVerdict {
        quantity: quantity.into(),
        against: against.clone(),
        rule,
        predicted: format!("{reference:.4} ± {reference_se:.1e} ({reference_method})"),
        measured: format!("{mu:.4} ± {se:.1e} (fit μ + C₁ n^-{r} + C₂ n^-{})", 2.0 * r),
        p_value: p,
        pass: p >= LEVEL,
        reason: format!(
            "networks extrapolated to n → ∞ differ from the SDE by {z:.2} standard errors"
        ),
    }];
    if judge_rate && rule == DepthRule::Mean && df > 0 {
        let p_fit = 1.0 - chi_square_cdf(chi2, df);
        out.push(DepthVerdict {
            quantity: format!("rate of {quantity}"),
            against,
            rule: DepthRule::Rate,
            predicted: format!("E − limit = C₁ n^-{r} + C₂ n^-{}", 2.0 * r),
            measured: format!("χ² = {chi2:.2} on {df} df"),
            p_value: p_fit,
            pass: p_fit >= LEVEL,
            reason: "goodness of fit of the correction series to the per-width means".into(),
        });
    }
    out
}

/// The check at one numeric point.
fn check_point(
    prog: &ShapedProgram,
    opts: &ShapedCheckOptions,
) -> Result<PointCheck, ShapedCheckError> {
    let mut d = derive(prog, opts.mutation)?;
    let regime = regime_at(prog, &d);
    let m = prog.inputs_len();
    // Where the derivation allows a blow-up, both sides stop at a level a few times the
    // inputs' variances and the frequency of reaching it is judged; elsewhere paths are
    // never stopped.
    let blowup_possible = match scalar_beta(&d) {
        Ok(Some(beta)) => beta > 0.0,
        Ok(None) => !d.drift_diag.is_zero(),
        Err(_) => true,
    };
    // The level is 5 max(Φ₀^{αα}, 1): well inside the expansion's range Φ ≪ S² = a²n at
    // n = 32 (at 10 Φ₀ the smallest widths leave it, and their blow-up frequency stops
    // following the correction series), and far enough up that the drift dominates.
    let level = if blowup_possible {
        5.0 * prog
            .gram0
            .iter()
            .enumerate()
            .map(|(a, r)| r[a])
            .fold(1.0, f64::max)
    } else {
        crate::solve::gram::DEFAULT_BLOWUP
    };
    let stats: Vec<Stat> = statistics(m);
    let mut pc = PointCheck {
        point: Vec::new(),
        regime,
        rate: None,
        stats: stats.iter().map(Stat::name).collect(),
        widths: Vec::new(),
        limit: None,
        level,
        verdicts: Vec::new(),
        note: None,
        cost: String::new(),
        sweep: None,
    };
    // The rate and, off the critical line, the limit that applies.
    let rate = match regime {
        Some(ShapedRegime::CriticalSde) | Some(ShapedRegime::NoDrift) => {
            weak_rate(&d).unwrap_or_else(Rational::one)
        }
        Some(ShapedRegime::Linear) => {
            let e = total_drift_exponent(&d, &prog.p)
                .and_then(|e| e.as_constant().cloned())
                .unwrap_or_else(Rational::zero);
            d = d.without_drift();
            let r = -e;
            if r < Rational::one() {
                r
            } else {
                Rational::one()
            }
        }
        Some(ShapedRegime::Degenerate) => {
            pc.note = Some(
                "degenerate regime: the derived drift sums to a positive power of n, so there is no limit at depth tau*n to compare with".into(),
            );
            return Ok(pc);
        }
        None => {
            pc.note = Some("the regime depends on symbols without values".into());
            return Ok(pc);
        }
    };
    // With a blow-up level, every statistic is a functional of a first passage observed
    // at the layers (a grid of step 1/n in τ), and discrete monitoring of a barrier has an
    // error of order √step (Broadie, Glasserman & Kou 1997): the corrections then start
    // at n^-1/2 whatever the drift's expansion gives, and their shape at moderate n is not
    // derived, so only the extrapolated values are judged (no rate verdict).
    let half = Rational::new(1.into(), 2.into());
    let rate = if blowup_possible && rate > half {
        half
    } else {
        rate
    };
    let r = rate.to_f64().unwrap_or(0.5);
    pc.rate = Some(crate::exponent::format_rational(&rate));
    let numeric = prog.numeric(&BTreeMap::new())?;
    let limit = evaluate(
        prog,
        &d,
        &LimitOptions {
            seed: opts.seed ^ 0x11AA_22BB,
            paths: opts.limit_paths,
            step: opts.step,
            level,
        },
    )?;
    let sweep_opts = ShapedSweepOptions {
        widths: opts.widths.clone(),
        samples: opts.samples,
        seed: opts.seed,
        taus: Vec::new(),
        limits: ChainLimits {
            blowup: level,
            collapse: crate::solve::gram::DEFAULT_COLLAPSE,
        },
        threads: opts.threads,
        ..ShapedSweepOptions::default()
    };
    let sw = sweep(prog, &numeric, &sweep_opts)?;
    pc.cost = sw.cost.to_string();
    let k = packed_len(m);
    // finals[w]: the packed Φ at τ of every network that did not stop; hits[w].
    let mut finals: Vec<Vec<Vec<f64>>> = Vec::new();
    let mut hits: Vec<Vec<f64>> = Vec::new();
    for (w, &n) in sw.widths.iter().enumerate() {
        let d_n = prog.depth_at(n);
        let mut f = Vec::new();
        let mut h = Vec::new();
        for s in 0..sw.samples {
            let Some(rec) = sw.record(w, s) else { continue };
            let hit = rec
                .stop
                .is_some_and(|st| st.kind == crate::solve::gram::GramStopKind::BlowUp);
            h.push(if hit { 1.0 } else { 0.0 });
            if rec.stop.is_none() && rec.layers.last() == Some(&d_n) {
                let len = rec.states.len();
                f.push(rec.states[len - k..].to_vec());
            }
        }
        finals.push(f);
        hits.push(h);
    }
    let values: Vec<Vec<Vec<f64>>> = stats
        .iter()
        .map(|st| {
            finals
                .iter()
                .map(|f| f.iter().map(|s| st.value(m, s)).collect())
                .collect()
        })
        .collect();
    for (w, &n) in sw.widths.iter().enumerate() {
        pc.widths.push(WidthRow {
            n,
            d: prog.depth_at(n),
            means: values.iter().map(|v| mean_se(&v[w])).collect(),
            hit: mean_se(&hits[w]),
        });
    }
    let mut verdicts = Vec::new();
    for (i, st) in stats.iter().enumerate() {
        let summary = &limit.stats[i];
        let means: Vec<(f64, f64)> = values[i].iter().map(|v| mean_se(v)).collect();
        let ref_se = (summary.mean_se.powi(2) + summary.mean_step_bias.powi(2)).sqrt();
        verdicts.extend(extrapolated_verdict(
            &format!("mean of {}", st.name()),
            &sw.widths,
            &means,
            r,
            summary.mean,
            ref_se,
            DepthRule::Mean,
            "SDE",
            !blowup_possible,
        ));
        let vars: Vec<(f64, f64)> = values[i].iter().map(|v| mean_se(&sq_dev(v))).collect();
        let ref_var_se = (summary.var_se.powi(2) + summary.var_step_bias.powi(2)).sqrt();
        verdicts.extend(extrapolated_verdict(
            &format!("variance of {}", st.name()),
            &sw.widths,
            &vars,
            r,
            summary.var,
            ref_var_se,
            DepthRule::Variance,
            "SDE",
            !blowup_possible,
        ));
        if let Some(last) = values[i].last() {
            let widest = sw.widths[sw.widths.len() - 1];
            verdicts.push(judge_ks(
                &st.name(),
                &format!("n = {widest}"),
                last,
                &summary.samples,
            ));
        }
    }
    if blowup_possible {
        let means: Vec<(f64, f64)> = hits
            .iter()
            .map(|h| {
                let (p, _) = mean_se(h);
                // A binomial error that stays positive when no network hit at this width.
                let pp = p.clamp(0.5 / h.len() as f64, 1.0 - 0.5 / h.len() as f64);
                (p, (pp * (1.0 - pp) / h.len() as f64).sqrt())
            })
            .collect();
        let ref_se = (limit.hit.1.powi(2) + limit.hit.2.powi(2)).sqrt();
        verdicts.extend(extrapolated_verdict(
            &format!("P(Phi reaches {level} by tau)"),
            &sw.widths,
            &means,
            r,
            limit.hit.0,
            ref_se,
            DepthRule::Mean,
            "SDE",
            !blowup_possible,
        ));
    }
    pc.verdicts = verdicts;
    pc.limit = Some(limit);
    pc.sweep = Some(sw);
    Ok(pc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fit_removes_both_corrections_exactly() {
        let ns = [32, 64, 128, 256, 512];
        let ys: Vec<(f64, f64)> = ns
            .iter()
            .map(|&n| {
                let x = 1.0 / n as f64;
                (0.3 + 2.0 * x - 5.0 * x * x, 0.01)
            })
            .collect();
        let (mu, se, chi2, df) = fit_mu(&ns, &ys, 1.0).expect("fit");
        assert!((mu - 0.3).abs() < 1e-10, "{mu}");
        assert!(chi2 < 1e-12 && df == 2);
        // The error of μ exceeds the per-width error: extrapolation costs precision.
        assert!(se > 0.01, "{se}");
    }
}
