//! `tp check` for a depth program: derive (power counting and limit), evaluate the
//! limit, run the finite-depth sweep coupled to it, and judge every derived number.
//! A symbolic program is checked at one point of every regime of its phase diagram.

use super::depth::{
    holm_across, judge_crx, judge_crx_laws, judge_hayou, CrxCell, CrxPrediction, DepthVerdict,
    HayouCell, HayouPrediction,
};
use crate::depth::derive::{derive, DepthLimit, DepthMutation};
use crate::depth::evaluate::{evaluate, DepthValues, EvalOptions};
use crate::depth::model::{DepthProgram, HayouKind, Resnet};
use crate::depth::power::Regime;
use crate::depth::simulate::{sample_type2_sde, simulate_crx, simulate_hayou, DepthSweepOptions};
use crate::depth::sweep::DepthSweep;
use crate::exponent::{Exponent, Rational};
use crate::TpError;
use num_traits::ToPrimitive;
use serde::Serialize;
use std::collections::BTreeMap;

/// Default depths of a depth check: 2^4 … 2^12.
pub const DEFAULT_DEPTHS: [usize; 9] = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
/// Default depths when the width also grows (each layer costs n² there).
pub const DEFAULT_WIDE_DEPTHS: [usize; 5] = [16, 32, 64, 128, 256];
/// Default widths of a Hayou/Zheng check.
pub const DEFAULT_DEPTH_WIDTHS: [usize; 3] = [32, 64, 128];

/// Samples of the type 2 SDE behind the law verdicts (at least; 32 per run beyond that).
pub const TYPE2_REFERENCE_SAMPLES: usize = 1024;

/// What to run.
#[derive(Clone, Debug)]
pub struct DepthCheckOptions {
    /// Depths (empty: the defaults).
    pub depths: Vec<usize>,
    /// Widths of a program with a width (empty: the defaults).
    pub widths: Vec<usize>,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// Worker threads.
    pub threads: Option<usize>,
    /// Sub-steps of the limit solve per layer.
    pub refine: usize,
    /// A deliberately wrong derivation (power measurement).
    pub mutation: Option<DepthMutation>,
}

/// One checked point (the program itself, or one point of a symbolic phase diagram).
#[derive(Clone, Debug, Serialize)]
pub struct DepthPointCheck {
    /// The symbols' values at this point (empty for a numeric program).
    pub point: BTreeMap<String, String>,
    /// The regime derived there.
    pub regime: String,
    /// The verdicts.
    pub verdicts: Vec<DepthVerdict>,
    /// The sweep the verdicts judged (for `--csv`); `None` where nothing ran.
    #[serde(skip)]
    pub sweep: Option<DepthSweep>,
}

/// The whole check.
#[derive(Clone, Debug, Serialize)]
pub struct DepthCheckReport {
    /// Depths run.
    pub depths: Vec<usize>,
    /// Widths run (empty without a width).
    pub widths: Vec<usize>,
    /// Number of seeds.
    pub seeds: usize,
    /// The mutation, if one was applied.
    pub mutation: Option<DepthMutation>,
    /// Checked points.
    pub points: Vec<DepthPointCheck>,
    /// Number of FAILs after Holm's procedure over all verdicts of all points.
    pub failures: usize,
}

impl DepthCheckReport {
    /// Whether every verdict passed.
    pub fn pass(&self) -> bool {
        self.failures == 0 && self.points.iter().any(|p| !p.verdicts.is_empty())
    }
}

fn sim_error(e: impl std::fmt::Display) -> TpError {
    TpError::Depth(format!("cannot simulate: {e}"))
}

/// Runs the check.
pub fn run_depth_check(
    prog: &DepthProgram,
    opts: &DepthCheckOptions,
) -> Result<DepthCheckReport, TpError> {
    let wide = prog.width.is_some();
    let depths = if opts.depths.is_empty() {
        if wide {
            DEFAULT_WIDE_DEPTHS.to_vec()
        } else {
            DEFAULT_DEPTHS.to_vec()
        }
    } else {
        opts.depths.clone()
    };
    let widths = if !wide {
        Vec::new()
    } else if opts.widths.is_empty() {
        DEFAULT_DEPTH_WIDTHS.to_vec()
    } else {
        opts.widths.clone()
    };
    if depths.len() < 2 {
        return Err(TpError::BadOptions {
            message: "a depth check fits slopes against the depth, which needs at least two depths"
                .into(),
            hint: "give two or more depths, e.g. `--depths 16,64,256`".into(),
        });
    }
    let points = if prog.symbols.is_empty() {
        vec![BTreeMap::new()]
    } else {
        phase_points(prog)
    };
    let mut checks = Vec::new();
    for point in points {
        let numeric = substitute(prog, &point);
        let mut check = check_point(&numeric, &depths, &widths, opts)?;
        check.point = point
            .iter()
            .map(|(k, v)| (k.clone(), crate::exponent::format_rational(v)))
            .collect();
        checks.push(check);
    }
    let failures = holm_across(checks.iter_mut().map(|c| &mut c.verdicts));
    Ok(DepthCheckReport {
        depths,
        widths,
        seeds: opts.seeds.len(),
        mutation: opts.mutation,
        points: checks,
        failures,
    })
}

/// One point of every regime of a symbolic program's phase diagram: the first point of
/// a grid of step 1/8 over [-1/2, 2]² (in each symbol) that satisfies the regime's
/// condition, preferring interior ones (farthest, in grid steps, from where the regime
/// changes along the symbol axes).
pub fn phase_points(prog: &DepthProgram) -> Vec<BTreeMap<String, Rational>> {
    let d = derive(prog, None);
    let grid: Vec<Rational> = (-4..=16)
        .map(|k| Rational::new(k.into(), 8.into()))
        .collect();
    let symbols = &prog.symbols;
    let mut all_points: Vec<BTreeMap<String, Rational>> = vec![BTreeMap::new()];
    for s in symbols {
        let mut next = Vec::new();
        for p in &all_points {
            for g in &grid {
                let mut q = p.clone();
                q.insert(s.clone(), g.clone());
                next.push(q);
            }
        }
        all_points = next;
        if all_points.len() > 100_000 {
            break;
        }
    }
    let mut out = Vec::new();
    for (regime, cond) in &d.diagram {
        if *regime == Regime::NotAnalysed {
            continue;
        }
        let inside: Vec<&BTreeMap<String, Rational>> = all_points
            .iter()
            .filter(|p| cond.holds_at(p) == Some(true))
            .collect();
        // The most interior point: the one whose neighbours along the axes stay in the
        // regime for the most steps (a lower-dimensional regime, such as a line, still
        // has its points ranked along the line).
        let depth_of = |p: &BTreeMap<String, Rational>| -> usize {
            let mut score = 0;
            for s in symbols {
                for dir in [-1i64, 1] {
                    let mut q = p.clone();
                    let mut k = 0;
                    loop {
                        let v = q[s].clone() + Rational::new(dir.into(), 8.into());
                        q.insert(s.clone(), v);
                        if cond.holds_at(&q) != Some(true) || k >= 4 {
                            break;
                        }
                        k += 1;
                    }
                    score += k;
                }
            }
            score
        };
        if let Some(best) = inside.iter().max_by_key(|p| depth_of(p)) {
            out.push((*best).clone());
        }
    }
    out
}

/// The program with the symbols given values.
fn substitute(prog: &DepthProgram, point: &BTreeMap<String, Rational>) -> DepthProgram {
    if point.is_empty() {
        return prog.clone();
    }
    let lookup = |s: &str| point.get(s).map(|v| Exponent::constant(v.clone()));
    let mut p = prog.clone();
    p.symbols.clear();
    match &mut p.net {
        Resnet::Crx(net) => {
            net.alpha = net.alpha.substitute(&lookup);
            net.beta = net.beta.substitute(&lookup);
            net.gamma = net.gamma.substitute(&lookup);
        }
        Resnet::Hayou(net) => net.branch = net.branch.substitute(&lookup),
    }
    p
}

fn check_point(
    prog: &DepthProgram,
    depths: &[usize],
    widths: &[usize],
    opts: &DepthCheckOptions,
) -> Result<DepthPointCheck, TpError> {
    let d = derive(prog, opts.mutation);
    let regime = d.verdict.as_ref().map_or(Regime::NotAnalysed, |v| v.regime);
    let mut point = DepthPointCheck {
        point: BTreeMap::new(),
        regime: regime.name().to_string(),
        verdicts: Vec::new(),
        sweep: None,
    };
    let Some(v) = &d.verdict else {
        return Ok(point);
    };
    if regime == Regime::NotAnalysed {
        return Ok(point);
    }
    let eval = EvalOptions {
        seed: 0x5EED_0000 ^ opts.seeds.first().copied().unwrap_or(0),
        ..EvalOptions::default()
    };
    let values = match &d.limit {
        Some(limit) => evaluate(prog, limit, &eval)?,
        None => DepthValues::default(),
    };
    let sweep = DepthSweepOptions {
        depths: depths.to_vec(),
        widths: widths.to_vec(),
        seeds: opts.seeds.clone(),
        refine: opts.refine,
        threads: opts.threads,
        ..DepthSweepOptions::default()
    };
    let rate = v.error_rate.as_ref().and_then(|r| r.to_f64());
    match (&prog.net, &d.limit) {
        (Resnet::Crx(_), limit) => {
            let eq = match limit {
                Some(DepthLimit::Crx { equation }) => equation.as_ref(),
                _ => None,
            };
            let result = simulate_crx(prog, eq, &sweep).map_err(sim_error)?;
            let cells: Vec<Vec<CrxCell>> = (0..depths.len())
                .map(|i| {
                    (0..opts.seeds.len())
                        .map(|s| {
                            let r = &result.records[i * opts.seeds.len() + s];
                            CrxCell {
                                error: r.pathwise_error,
                                displacement: r.network.displacement,
                                first_step: r.network.first_step,
                                output: r.network.end.clone(),
                                blew_up: r.network.blowup.is_some(),
                            }
                        })
                        .collect()
                })
                .collect();
            // The limit means' own errors (paths and step doubling), coordinate by
            // coordinate, for the law verdicts against the terminal samples.
            let mean_se: Vec<f64> = (0..)
                .map_while(|i| {
                    values
                        .values
                        .iter()
                        .find(|x| x.name == format!("E H_t[{i}]") && x.t == 1.0)
                        .map(|m| m.stderr)
                })
                .collect();
            let pred = CrxPrediction {
                explodes: regime == Regime::Explosion,
                displacement: v.leading.to_f64().unwrap_or(0.0),
                step: v.step.to_f64().unwrap_or(0.0),
                error_rate: if eq.is_some() { rate } else { None },
            };
            point.verdicts = judge_crx(depths, &cells, &pred);
            if !values.terminal.is_empty() && values.terminal.len() > 1 {
                point
                    .verdicts
                    .extend(judge_crx_laws(depths, &cells, &values.terminal, &mean_se));
            }
            point.sweep = Some(DepthSweep::Crx(result));
        }
        (Resnet::Hayou(net), Some(DepthLimit::Hayou { sde, .. })) => {
            let coupled = if net.kind == HayouKind::Type1 {
                sde.as_ref()
            } else {
                None
            };
            let result = simulate_hayou(prog, coupled, &sweep).map_err(sim_error)?;
            let cells: Vec<Vec<Vec<HayouCell>>> = (0..widths.len())
                .map(|w| {
                    (0..depths.len())
                        .map(|i| {
                            result
                                .at(w, i)
                                .iter()
                                .map(|r| {
                                    let end = r.network.as_ref().and_then(|t| t.end.as_ref());
                                    HayouCell {
                                        f2: end.map(|e| e.f_sq),
                                        v2: end.and_then(|e| e.v_sq),
                                        fv: end.and_then(|e| e.fv),
                                        log_ratio: end.map(|e| e.log_growth),
                                        error: r.f_error,
                                        blew_up: r
                                            .network
                                            .as_ref()
                                            .is_some_and(|t| t.blowup.is_some()),
                                    }
                                })
                                .collect()
                        })
                        .collect()
                })
                .collect();
            let k = |name: &str| {
                values
                    .values
                    .iter()
                    .find(|x| x.name == name && x.t == 1.0)
                    .map(|x| (x.value, x.stderr))
            };
            let mut pred = HayouPrediction {
                error_rate: if coupled.is_some() { rate } else { None },
                k_ff: k("K_ff"),
                k_fv: k("K_fv"),
                k_vv: k("K_vv"),
                log_ratio_reference: Vec::new(),
            };
            if net.kind == HayouKind::Type2 {
                if let Some(eq) = sde {
                    // The SDE's law at the largest depth's step, from many more samples than
                    // runs (TYPE2_REFERENCE_SAMPLES: the reference's own error must be
                    // small against a 32-run mean's), on seeds disjoint from the runs' and
                    // moving with --seed, so blocks of seeds are independent checks.
                    let base = opts.seeds.first().copied().unwrap_or(0);
                    let count = TYPE2_REFERENCE_SAMPLES.max(32 * opts.seeds.len()) as u64;
                    let reference_seeds: Vec<u64> = (0..count)
                        .map(|s| base.wrapping_add(0xA5A5_0000_0000).wrapping_add(s))
                        .collect();
                    let ref_opts = DepthSweepOptions {
                        depths: vec![*depths.last().unwrap_or(&64)],
                        seeds: reference_seeds,
                        ..sweep.clone()
                    };
                    let reference = sample_type2_sde(prog, eq, &ref_opts).map_err(sim_error)?;
                    pred.log_ratio_reference = (0..widths.len())
                        .map(|w| {
                            reference
                                .at(w, 0)
                                .iter()
                                .filter_map(|r| {
                                    r.limit
                                        .as_ref()
                                        .and_then(|t| t.end.as_ref())
                                        .map(|e| e.log_growth)
                                })
                                .collect()
                        })
                        .collect();
                }
            }
            point.verdicts = judge_hayou(widths, depths, &cells, &pred);
            point.sweep = Some(DepthSweep::Hayou(result));
        }
        _ => {}
    }
    Ok(point)
}
