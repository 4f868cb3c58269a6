//! `tp check` as a library: derived exponents (scale) + finite-width sweep + limits →
//! one verdict per (quantity, step, size or change) and one per limit.
//!
//! Which rule judges a quantity (the README states the same rules):
//! - **exponent** — the derived exponent e of the size (or of the change since step 0)
//!   must lie in the 95% interval of the fitted slope, or within the tolerance of it
//!   ([`judge_exponent`]); a NaN or overflow in a quantity predicted bounded is a FAIL;
//! - **zero** — a quantity derived to be exactly 0 (exponent −∞) must be exactly 0 at
//!   every width and seed;
//! - **growth** — in a program derived to be unstable, everything up to and including
//!   the first forward quantity that grows is checked by the exponent rule; after it,
//!   a forward quantity or loss derivative derived to grow (e > 0) must be *seen* to
//!   grow: slope interval above 0, or a NaN/overflow in the run at or before it;
//! - **not checked** — after that first blow-up, quantities derived to stay bounded and
//!   all gradients are listed with the reason and their measured slope, not judged:
//!   finite-width sizes of bounded quantities are pre-asymptotic there (tanh(h) with
//!   h ∝ n^{1/2} saturates only slowly, so its measured slope is positive at n ≤ 2^12
//!   although its limit exponent is 0), and gradients pass through act'(h) at a
//!   diverging h (tanh' → 0), which the size derivation does not model.
//!
//! Symbolic programs are refused ([`TpError::Symbolic`]): a slope is a number, and so
//! must the prediction be.

use super::coord::{coordinate_stats, QuantityStats};
use super::law::{judge_law, LawCheck, LawValue};
use super::limit::{judge_limits, judge_series, LimitCheck, LimitValue, LEVEL};
use super::stats::Fit;
use super::verdict::{exponent_p_value, judge_exponent, Predicted, Verdict};
use crate::exponent::{format_rational, Exp, Ext};
use crate::ir::{Kind, Program, Role, ValueId};
use crate::scale::ScaleReport;
use crate::sim::{ProgressFn, SweepResult, DEFAULT_WIDTHS};
use crate::TpError;
use num_traits::ToPrimitive;

/// What `tp check` compares the simulation with, besides the derived exponents.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckInputs {
    /// Infinite-width limits of scalars; `None` when the limit stage was not run (the
    /// report then says "limits: not evaluated").
    pub limits: Option<Vec<LimitValue>>,
    /// Laws of scalars that stay random in the limit (Gaussian laws from
    /// [`crate::limit::law`]), judged across seeds; `None` when not derived.
    pub laws: Option<Vec<LawValue>>,
}

/// The sweep and the tolerance of a check.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckOptions {
    /// Widths of the sweep.
    pub widths: Vec<usize>,
    /// Seeds of the sweep.
    pub seeds: Vec<u64>,
    /// Worker threads (`None`: one per core).
    pub threads: Option<usize>,
    /// How far a slope may be from the derived exponent when the exponent is outside
    /// the slope's interval ([`super::DEFAULT_TOLERANCE`] by default).
    pub tolerance: f64,
    /// Seeds for the law verdicts of scalars that stay random in the limit: when more
    /// than `seeds`, the extra seeds (continuing after the last one) are run at the
    /// largest width only, for those verdicts alone. A variance judged from S seeds is
    /// known to ±√(2/(S−1)) relative: 10 seeds cannot tell a law from one 1.5 times as
    /// wide, 30 can (README, "Laws of random limits").
    pub law_seeds: usize,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            widths: DEFAULT_WIDTHS.to_vec(),
            seeds: (0..10).collect(),
            threads: None,
            tolerance: super::DEFAULT_TOLERANCE,
            law_seeds: DEFAULT_LAW_SEEDS,
        }
    }
}

/// The default number of seeds of the law verdicts ([`CheckOptions::law_seeds`]).
pub const DEFAULT_LAW_SEEDS: usize = 30;

/// Which number of a quantity is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// Its size: RMS of a vector, root mean square over seeds of a scalar.
    Size,
    /// The size of its change since step 0, Δv_t = v_t − v_0.
    Change,
}

impl Measure {
    /// `size` or `change`, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Measure::Size => "size",
            Measure::Change => "change",
        }
    }
}

/// The rule a verdict was decided by (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Slope against the derived exponent.
    Exponent,
    /// Exactly zero.
    Zero,
    /// Derived to grow after the first blow-up: growth must be seen.
    Growth,
}

impl Rule {
    /// `exponent`, `zero` or `growth`, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Exponent => "exponent",
            Rule::Zero => "zero",
            Rule::Growth => "growth",
        }
    }
}

/// The verdict on one quantity's size or change.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantityVerdict {
    /// The quantity.
    pub id: ValueId,
    /// Its name.
    pub name: String,
    /// Its SGD step.
    pub step: Option<usize>,
    /// Size or change.
    pub measure: Measure,
    /// The derived exponent, exactly as `tp scale` prints it (`-1/2`, `-inf`).
    pub predicted: String,
    /// The derived exponent as a number (`None` for −∞).
    pub predicted_value: Option<f64>,
    /// The rule applied.
    pub rule: Rule,
    /// The fitted slope.
    pub fit: Fit,
    /// Runs in which a NaN or overflow happened at or before this quantity (so it has
    /// no number there).
    pub blown_up_runs: usize,
    /// The p-value of the verdict's test (1: no evidence against the derivation; 0: a
    /// rule, not noise, decided it), before the family-wise correction.
    pub p_value: f64,
    /// PASS / FAIL and why, after the family-wise correction (Holm).
    pub verdict: Verdict,
}

/// A Θ(1) scalar's size or change with a nonzero derived limit: judged by the
/// convergence of its finite-width values to that limit (the limit verdict named
/// `limit`), not by the slope of its size, which the n^{-1/2} seed noise bends when the
/// limit is small.
#[derive(Clone, Debug, PartialEq)]
pub struct ByLimit {
    /// The quantity.
    pub id: ValueId,
    /// Its name.
    pub name: String,
    /// Its SGD step.
    pub step: Option<usize>,
    /// Size or change.
    pub measure: Measure,
    /// The fitted slope of its size, for information.
    pub fit: Fit,
    /// The name of the limit verdict that judges it (`f_1`, `Δf_1`).
    pub limit: String,
}

/// A quantity's size or change that was not judged, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Unchecked {
    /// The quantity's name.
    pub name: String,
    /// Its SGD step.
    pub step: Option<usize>,
    /// Size or change.
    pub measure: Measure,
    /// The derived exponent.
    pub predicted: String,
    /// The fitted slope, for information.
    pub fit: Fit,
    /// Why it was not judged.
    pub reason: String,
}

/// Everything `tp check` decided.
#[derive(Clone, Debug)]
pub struct CheckReport {
    /// The derived exponents and regime.
    pub scale: ScaleReport,
    /// The sweep.
    pub result: SweepResult,
    /// The extra seeds of the law verdicts, run at the largest width only; `None` when
    /// the check needed none.
    pub law_result: Option<SweepResult>,
    /// Its per-quantity statistics.
    pub stats: Vec<QuantityStats>,
    /// The tolerance used by the exponent rule.
    pub tolerance: f64,
    /// One verdict per judged (quantity, measure), in program order, sizes first.
    pub verdicts: Vec<QuantityVerdict>,
    /// Quantities not judged (after a predicted blow-up), with the reason.
    pub unchecked: Vec<Unchecked>,
    /// Limit verdicts; `None` when no limits were given (not evaluated).
    pub limits: Option<Vec<LimitCheck>>,
    /// Sizes and changes judged by their limit verdict instead of a slope.
    pub by_limit: Vec<ByLimit>,
    /// Law verdicts of the scalars that stay random in the limit.
    pub laws: Vec<LawCheck>,
    /// The number of tests the family-wise correction ran over.
    pub tests: usize,
    /// The first forward quantity derived to grow: (name, step, exponent).
    pub first_blowup: Option<(String, Option<usize>, String)>,
}

impl CheckReport {
    /// True when every verdict (quantities and limits) passes.
    pub fn pass(&self) -> bool {
        self.verdicts.iter().all(|v| v.verdict.pass)
            && self.laws.iter().all(|l| l.verdict.pass)
            && self
                .limits
                .as_ref()
                .map_or(true, |ls| ls.iter().all(|l| l.verdict.pass))
    }

    /// The number of failed verdicts.
    pub fn failures(&self) -> usize {
        self.verdicts.iter().filter(|v| !v.verdict.pass).count()
            + self.laws.iter().filter(|l| !l.verdict.pass).count()
            + self
                .limits
                .as_ref()
                .map_or(0, |ls| ls.iter().filter(|l| !l.verdict.pass).count())
    }
}

/// Refuses a program whose exponents are not all numbers (symbolic parameters left
/// free), before anything expensive runs.
pub fn require_numeric(program: &Program) -> Result<(), TpError> {
    if program.symbols.is_empty() {
        Ok(())
    } else {
        Err(TpError::Symbolic {
            symbols: program.symbols.clone(),
        })
    }
}

/// The numeric value of an exact exponent: `Some(None)` for −∞, `None` when it still
/// depends on symbols.
fn numeric(e: &Exp) -> Option<Option<f64>> {
    match e.as_constant()? {
        Ext::NegInf => Some(None),
        Ext::Finite(q) => q.to_f64().map(Some),
    }
}

/// The text of an exact exponent (`-1/2`, `-inf`).
fn exact_text(e: &Exp) -> String {
    match e.as_constant() {
        Some(Ext::Finite(q)) => format_rational(&q),
        Some(Ext::NegInf) => "-inf".to_string(),
        None => e.to_string(),
    }
}

/// The whole check: refuses symbolic programs, derives the exponents, runs the sweep
/// of `options` (reporting to `progress`), then judges it ([`check_sweep`]).
pub fn run_check(
    program: &Program,
    options: &CheckOptions,
    inputs: &CheckInputs,
    progress: Option<ProgressFn<'_>>,
) -> Result<CheckReport, TpError> {
    require_numeric(program)?;
    let result = crate::sim::sweep(
        program,
        &options.widths,
        &options.seeds,
        options.threads,
        progress,
    )?;
    let extra = law_sweep(program, options, inputs)?;
    check_finished(program, result, extra, inputs, options.tolerance)
}

/// Judges a sweep that has already run (e.g. read back from a sweep file by `tp check
/// --from`): derives the exponents of `program`, then [`check_sweep_with_laws`]. `law`
/// holds the extra seeds at the largest width, if any were run.
pub fn check_finished(
    program: &Program,
    result: SweepResult,
    law: Option<SweepResult>,
    inputs: &CheckInputs,
    tolerance: f64,
) -> Result<CheckReport, TpError> {
    require_numeric(program)?;
    let scale = crate::scale::analyze(program)?;
    let mut report = check_sweep_with_laws(scale, result, law.as_ref(), inputs, tolerance)?;
    report.law_result = law;
    Ok(report)
}

/// The extra seeds of the law verdicts at the largest width, when there are laws to
/// judge and `options.law_seeds` asks for more seeds than the sweep has.
fn law_sweep(
    program: &Program,
    options: &CheckOptions,
    inputs: &CheckInputs,
) -> Result<Option<SweepResult>, TpError> {
    let has_laws = inputs.laws.as_ref().is_some_and(|l| !l.is_empty());
    let (Some(&largest), Some(&last)) = (options.widths.iter().max(), options.seeds.iter().max())
    else {
        return Ok(None);
    };
    if !has_laws || options.law_seeds <= options.seeds.len() {
        return Ok(None);
    }
    let count = (options.law_seeds - options.seeds.len()) as u64;
    let extra: Vec<u64> = (1..=count).filter_map(|k| last.checked_add(k)).collect();
    crate::sim::check_request(program, &[largest], &extra, options.threads)?;
    Ok(Some(crate::sim::sweep(
        program,
        &[largest],
        &extra,
        options.threads,
        None,
    )?))
}

/// Judges a finished sweep against the derived exponents of `scale` and the limits of
/// `inputs` (rules in the module documentation).
///
/// Errors: an exponent that still has free symbols ([`TpError::Symbolic`]).
pub fn check_sweep(
    scale: ScaleReport,
    result: SweepResult,
    inputs: &CheckInputs,
    tolerance: f64,
) -> Result<CheckReport, TpError> {
    check_sweep_with_laws(scale, result, None, inputs, tolerance)
}

/// [`check_sweep`] with `extra` runs at the largest width (more seeds of the same
/// program), used by the law verdicts only.
pub fn check_sweep_with_laws(
    scale: ScaleReport,
    result: SweepResult,
    extra: Option<&SweepResult>,
    inputs: &CheckInputs,
    tolerance: f64,
) -> Result<CheckReport, TpError> {
    let stats = coordinate_stats(&result);
    // The first forward quantity derived to grow marks where the theory stops
    // predicting finite-width sizes of bounded quantities.
    let first_blowup = scale
        .regime
        .blowup
        .as_ref()
        .map(|(name, step, e)| (name.clone(), *step, exact_text(e)));
    let cut = scale.regime.blowup.as_ref().and_then(|(name, step, _)| {
        scale
            .quantities
            .iter()
            .find(|q| &q.name == name && q.step == *step)
            .map(|q| q.id)
    });
    let mut verdicts = Vec::new();
    let mut unchecked = Vec::new();
    let mut by_limit = Vec::new();
    // Limits that are values (a limit whose error is as large as itself, or 0, cannot
    // judge a size).
    let determined: Vec<&LimitValue> = inputs
        .limits
        .iter()
        .flatten()
        .filter(|l| l.value != 0.0 && l.value.abs() > 2.0 * l.stderr)
        .collect();
    let limit_of = |name: &str| determined.iter().copied().find(|l| l.name == name);
    let mut change_limits: Vec<(LimitValue, Vec<Vec<Option<f64>>>)> = Vec::new();
    for measure in [Measure::Size, Measure::Change] {
        for q in &scale.quantities {
            let exponent = match measure {
                Measure::Size => &q.exponent,
                Measure::Change => match &q.delta {
                    Some(d) => d,
                    None => continue,
                },
            };
            let Some(stat) = stats.iter().find(|s| s.quantity.id == q.id) else {
                continue;
            };
            let fit = match measure {
                Measure::Size => Some(&stat.size_fit),
                Measure::Change => stat.delta_fit.as_ref(),
            };
            let Some(fit) = fit.cloned() else {
                continue;
            };
            let predicted_value = numeric(exponent).ok_or_else(|| TpError::Symbolic {
                symbols: exponent.symbols().into_iter().collect(),
            })?;
            let predicted = exact_text(exponent);
            let blown_up_runs = result.blowups().filter(|b| b.value.0 <= q.id.0).count();
            let after_blowup = cut.is_some_and(|c| q.id.0 > c.0);
            // A Θ(1) scalar with a nonzero limit: judged by its convergence.
            if stat.quantity.kind == Kind::Scalar
                && predicted_value == Some(0.0)
                && !after_blowup
                && blown_up_runs == 0
            {
                let judged = match measure {
                    Measure::Size => limit_of(&q.name).map(|l| l.name.clone()),
                    Measure::Change => change_limit(&scale, &result, q, &limit_of).map(|c| {
                        let name = c.0.name.clone();
                        change_limits.push(c);
                        name
                    }),
                };
                if let Some(limit) = judged {
                    by_limit.push(ByLimit {
                        id: q.id,
                        name: q.name.clone(),
                        step: q.step,
                        measure,
                        fit,
                        limit,
                    });
                    continue;
                }
            }
            let outcome = if after_blowup && stat.quantity.role == Role::Backward {
                // Gradients after the blow-up pass through act'(h) at a diverging h
                // (tanh' → 0 saturates them), which the size derivation does not model.
                Judged::NotChecked(format!(
                    "gradient after the first blow-up (act' at a diverging argument); \
                     derived n^{predicted}, measured {fit}"
                ))
            } else {
                judge(
                    &fit,
                    predicted_value,
                    after_blowup,
                    blown_up_runs,
                    tolerance,
                )
            };
            match outcome {
                Judged::Verdict(rule, verdict) => {
                    let p_value = match (rule, &verdict) {
                        (Rule::Exponent, v) if v.pass || blown_up_runs == 0 => {
                            let target =
                                predicted_value.map_or(Predicted::Zero, Predicted::Exponent);
                            if v.pass {
                                exponent_p_value(&fit, target, tolerance).max(LEVEL)
                            } else {
                                exponent_p_value(&fit, target, tolerance).min(LEVEL / 2.0)
                            }
                        }
                        (_, v) => f64::from(u8::from(v.pass)),
                    };
                    verdicts.push(QuantityVerdict {
                        id: q.id,
                        name: q.name.clone(),
                        step: q.step,
                        measure,
                        predicted,
                        predicted_value,
                        rule,
                        fit,
                        blown_up_runs,
                        p_value,
                        verdict,
                    })
                }
                Judged::NotChecked(reason) => unchecked.push(Unchecked {
                    name: q.name.clone(),
                    step: q.step,
                    measure,
                    predicted,
                    fit,
                    reason,
                }),
            }
        }
    }
    let mut limits = inputs
        .limits
        .as_ref()
        .map(|limits| judge_limits(&result, limits));
    if let Some(checks) = limits.as_mut() {
        for (limit, series) in &change_limits {
            checks.push(judge_series(&result.widths, series, limit));
        }
    }
    let mut laws: Vec<LawCheck> = inputs
        .laws
        .iter()
        .flatten()
        .filter_map(|law| {
            let q = result.quantities.iter().position(|q| q.name == law.name)?;
            let mut series = result.series(q, |m| m.value);
            // The extra seeds have a value at the largest width only.
            let largest = result.widths.iter().max();
            let at = result.widths.iter().position(|w| Some(w) == largest);
            if let (Some(extra), Some(at)) = (extra, at) {
                if let Some(e) = extra.quantities.iter().position(|x| x.name == law.name) {
                    for row in extra.series(e, |m| m.value) {
                        let mut full = vec![None; result.widths.len()];
                        full[at] = row.first().copied().flatten();
                        series.push(full);
                    }
                }
            }
            Some(judge_law(&result.widths, &series, law))
        })
        .collect();
    let tests = holm(&mut verdicts, limits.as_mut(), &mut laws);
    Ok(CheckReport {
        scale,
        result,
        law_result: None,
        stats,
        tolerance,
        verdicts,
        unchecked,
        limits,
        by_limit,
        laws,
        tests,
        first_blowup,
    })
}

/// The limit of the change Δq_t = q_t − q_0 of a Θ(1) scalar, when both ends have one
/// (q_0 may vanish: then its limit is 0), with the per-seed finite-width changes.
fn change_limit<'a>(
    scale: &ScaleReport,
    result: &SweepResult,
    q: &crate::scale::Quantity,
    limit_of: &dyn Fn(&str) -> Option<&'a LimitValue>,
) -> Option<(LimitValue, Vec<Vec<Option<f64>>>)> {
    let end = limit_of(&q.name)?;
    let first = scale
        .quantities
        .iter()
        .find(|o| o.family.is_some() && o.family == q.family && o.step == Some(0))?;
    let start = match numeric(&first.exponent)? {
        Some(0.0) => limit_of(&first.name)?.clone(),
        Some(e) if e > 0.0 => return None,
        _ => LimitValue {
            name: first.name.clone(),
            step: first.step,
            value: 0.0,
            stderr: 0.0,
            method: "vanishes".into(),
            corrections: Vec::new(),
        },
    };
    let index = |name: &str| result.quantities.iter().position(|r| r.name == name);
    let (t, z) = (index(&q.name)?, index(&first.name)?);
    let at_t = result.series(t, |m| m.value);
    let at_0 = result.series(z, |m| m.value);
    let series = at_t
        .iter()
        .zip(&at_0)
        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| Some((*x)? - (*y)?)).collect())
        .collect();
    let mut corrections = end.corrections.clone();
    corrections.extend(start.corrections.iter().copied());
    corrections.sort_by(|a, b| b.total_cmp(a));
    corrections.dedup();
    corrections.truncate(2);
    let value = end.value - start.value;
    Some((
        LimitValue {
            name: format!("Δ{}", q.name),
            step: q.step,
            value,
            stderr: end.stderr.hypot(start.stderr),
            method: format!("{} − {}", end.name, start.name),
            corrections,
        },
        series,
    ))
}

/// Holm's step-down procedure over every verdict of the program at family-wise level
/// [`LEVEL`]: sorted by p-value, the k-th smallest is a FAIL while p < LEVEL/(m − k + 1);
/// from the first that is not, everything passes. Verdicts decided by a rule (p = 0)
/// always fail. Returns m, the number of tests.
fn holm(
    verdicts: &mut [QuantityVerdict],
    limits: Option<&mut Vec<LimitCheck>>,
    laws: &mut [LawCheck],
) -> usize {
    let mut limits = limits;
    // (p, 0 = quantity / 1 = limit / 2 = law, index)
    let mut ps: Vec<(f64, u8, usize)> = verdicts
        .iter()
        .enumerate()
        .map(|(i, v)| (v.p_value, 0, i))
        .collect();
    if let Some(ls) = limits.as_deref() {
        ps.extend(ls.iter().enumerate().map(|(i, l)| (l.p_value, 1, i)));
    }
    ps.extend(laws.iter().enumerate().map(|(i, l)| (l.p_value, 2, i)));
    ps.sort_by(|a, b| a.0.total_cmp(&b.0));
    let m = ps.len();
    let mut rejecting = true;
    for (k, (p, which, i)) in ps.into_iter().enumerate() {
        let threshold = LEVEL / (m - k) as f64;
        rejecting = rejecting && p < threshold;
        let verdict = match which {
            1 => match limits.as_deref_mut() {
                Some(ls) => &mut ls[i].verdict,
                None => continue,
            },
            2 => &mut laws[i].verdict,
            _ => &mut verdicts[i].verdict,
        };
        if verdict.pass == rejecting {
            // The family-wise decision differs from the one at level LEVEL alone.
            verdict.reason.push_str(&if rejecting {
                format!("; significant after Holm's correction over {m} tests (p = {p:.1e} < {threshold:.1e})")
            } else {
                format!("; not significant after Holm's correction over {m} tests (p = {p:.1e} ≥ {threshold:.1e})")
            });
        }
        verdict.pass = !rejecting;
    }
    m
}

/// The outcome of judging one number.
enum Judged {
    Verdict(Rule, Verdict),
    NotChecked(String),
}

/// Applies the rules of the module documentation to one fit.
fn judge(
    fit: &Fit,
    predicted: Option<f64>,
    after_blowup: bool,
    blown_up_runs: usize,
    tolerance: f64,
) -> Judged {
    let Some(e) = predicted else {
        let mut verdict = judge_exponent(fit, Predicted::Zero, tolerance);
        if blown_up_runs > 0 {
            verdict = Verdict {
                pass: false,
                reason: format!("NaN/overflow in {blown_up_runs} runs, but exactly 0 was derived"),
            };
        }
        return Judged::Verdict(Rule::Zero, verdict);
    };
    let growth_seen = |fit: &Fit| -> Verdict {
        let slope_text = fit.to_string();
        let rising = fit
            .slope()
            .and_then(|s| s.ci)
            .is_some_and(|(lo, _)| lo > 0.0);
        match (rising, blown_up_runs) {
            (true, 0) => Verdict {
                pass: true,
                reason: format!("growth seen: slope {slope_text} is above 0 (derived {e:+.3})"),
            },
            (true, k) => Verdict {
                pass: true,
                reason: format!(
                    "growth seen: slope {slope_text} is above 0 and {k} runs overflowed \
                     (derived {e:+.3})"
                ),
            },
            (false, 0) => Verdict {
                pass: false,
                reason: format!(
                    "derived to grow as n^{e:+.3}, but slope {slope_text} is not above 0"
                ),
            },
            (false, k) => Verdict {
                pass: true,
                reason: format!("blow-up seen: NaN/overflow in {k} runs (derived n^{e:+.3})"),
            },
        }
    };
    if after_blowup {
        if e > 0.0 {
            return Judged::Verdict(Rule::Growth, growth_seen(fit));
        }
        return Judged::NotChecked(format!(
            "after the first blow-up; derived bounded (n^{e:+.3}), measured {fit}"
        ));
    }
    if blown_up_runs > 0 {
        // Overflow where growth is derived is the prediction coming true; anywhere else
        // it contradicts the derivation.
        return if e > 0.0 {
            Judged::Verdict(Rule::Growth, growth_seen(fit))
        } else {
            Judged::Verdict(
                Rule::Exponent,
                Verdict {
                    pass: false,
                    reason: format!(
                        "NaN/overflow in {blown_up_runs} runs, but n^{e:+.3} (bounded) was derived"
                    ),
                },
            )
        };
    }
    Judged::Verdict(
        Rule::Exponent,
        judge_exponent(fit, Predicted::Exponent(e), tolerance),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::stats::{CiMethod, Slope};

    fn fitted(slope: f64, lo: f64, hi: f64) -> Fit {
        Fit::Fitted(Slope {
            slope,
            ci: Some((lo, hi)),
            method: CiMethod::Seeds,
            df: 9,
            per_seed: vec![],
            mean_curve_slope: None,
            excluded_seeds: 0,
        })
    }

    fn passes(j: Judged) -> Option<bool> {
        match j {
            Judged::Verdict(_, v) => Some(v.pass),
            Judged::NotChecked(_) => None,
        }
    }

    #[test]
    fn rules() {
        let flat = fitted(0.01, -0.02, 0.04);
        let rising = fitted(0.3, 0.2, 0.4);
        // Before any blow-up: the exponent rule.
        assert_eq!(passes(judge(&flat, Some(0.0), false, 0, 0.1)), Some(true));
        assert_eq!(passes(judge(&flat, Some(-0.5), false, 0, 0.1)), Some(false));
        // A bounded prediction with overflowing runs fails.
        assert_eq!(passes(judge(&flat, Some(0.0), false, 3, 0.1)), Some(false));
        // Growth derived and overflow seen passes, even with no slope.
        let none = Fit::NotFitted("blew up".into());
        assert_eq!(passes(judge(&none, Some(1.0), false, 3, 0.1)), Some(true));
        // After the first blow-up: growth must be seen; bounded ones are not judged.
        assert_eq!(passes(judge(&rising, Some(2.0), true, 0, 0.1)), Some(true));
        assert_eq!(passes(judge(&flat, Some(2.0), true, 0, 0.1)), Some(false));
        assert_eq!(passes(judge(&rising, Some(0.0), true, 0, 0.1)), None);
        // Exactly zero.
        assert_eq!(
            passes(judge(&Fit::ExactlyZero, None, false, 0, 0.1)),
            Some(true)
        );
        assert_eq!(passes(judge(&flat, None, false, 0, 0.1)), Some(false));
    }
}
