//! Region-wise scale inference for symbolic programs.
//!
//! Building each symbolic exponent as one max-min expression and canonicalizing it at
//! every instruction does not scale: the expressions of later instructions combine
//! those of earlier ones, and a three-step MLP already needs gigabytes. Instead the
//! symbols' space is cut into closed polyhedral regions on which every comparison the
//! analysis makes is decided, so that every exponent is a plain affine form there:
//!
//! 1. the ordinary inference runs on a region, evaluating each instruction's exponents
//!    to affine forms by exact linear programming ([`Region::evaluate`]);
//! 2. when the region does not decide a comparison (`max(x, y)` with `x − y` taking
//!    both signs), it is split along that hyperplane into `x ≤ y` and `x ≥ y`, and both
//!    halves resume from the results computed so far (they hold on each half);
//! 3. once every region is done, each exponent is merged back into one max-min
//!    expression ([`from_pieces`], Ovchinnikov's theorem) and simplified.
//!
//! Only the comparisons that actually occur on a region are split on, so the number of
//! regions follows the behaviour of the program, not the number of symbols. The search
//! is a deterministic depth-first traversal with a limit on the number of regions
//! (never a time limit), so the output is reproducible.

use super::infer::{Deltas, Facts, Inference, TooComplex};
use super::report::{first_step, reported};
use crate::exponent::{from_pieces, Cond, Exp, Exponent, Piece, Region, Side, Undecided};
use crate::ir::{Program, ValueId};

/// Most regions a symbolic analysis may cut the symbols' space into.
pub const REGION_LIMIT: usize = 4096;

/// Limits of the region-wise analysis.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Most regions (leaves of the split tree).
    pub regions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            regions: REGION_LIMIT,
        }
    }
}

/// The result of a region-wise analysis.
pub(crate) struct Cells<'p> {
    /// The merged facts and changes, as an ordinary inference. They are exact on the
    /// stable set (where no forward quantity grows); elsewhere they are an
    /// extrapolation (the network diverges there and they describe no limit).
    pub(crate) merged: Inference<'p>,
    /// Number of regions the space was cut into.
    pub(crate) regions: usize,
    /// The stable set: where no forward quantity grows with n, simplified.
    pub(crate) stable: Cond,
    /// Whether the merged exponents are exact only on the stable set (programs that
    /// train); otherwise they are exact everywhere.
    pub(crate) stable_only: bool,
    /// Per forward quantity that is the first to blow up somewhere: where it does.
    pub(crate) blowups: Vec<(ValueId, Cond)>,
}

/// One finished stable region: every exponent affine on it.
struct Done {
    region: Region,
    facts: Vec<Facts>,
    deltas: Deltas,
}

/// Analyses a symbolic program region by region and merges the results.
pub(crate) fn analyse<'p>(program: &'p Program, limits: &Limits) -> Result<Cells<'p>, TooComplex> {
    let pairs: Vec<(ValueId, ValueId)> = reported(program)
        .filter_map(|id| first_step(program, id).map(|first| (id, first)))
        .collect();
    let mut stack: Vec<(Region, Vec<Facts>, Deltas)> =
        vec![(Region::whole(), Vec::new(), Deltas::new())];
    // Only training can diverge: a program that trains is analysed on its stable set
    // (past a blow-up its exponents describe nothing); any other program everywhere.
    let guard = program
        .ids()
        .any(|id| program.instr(id).meta.step.is_some_and(|t| t > 0));
    let mut done: Vec<Done> = Vec::new();
    let mut unstable: Vec<(Region, ValueId)> = Vec::new();
    while let Some((region, facts, deltas)) = stack.pop() {
        let mut inf = Inference::resume(program, region, facts, deltas, guard);
        inf.advance();
        // The quantity being analysed when the region had to be split.
        let mut at = None;
        if inf.undecided().is_none() && inf.blown().is_none() {
            for (a, b) in &pairs {
                inf.delta(*a, *b);
                if inf.undecided().is_some() {
                    at = Some(*a);
                    break;
                }
            }
        }
        let undecided = inf.undecided().cloned();
        let blown = inf.blown();
        let position = inf.facts.len();
        let (region, facts, deltas) = inf.into_parts();
        let Some(region) = region else {
            continue;
        };
        match (undecided, blown) {
            (None, Some(id)) => unstable.push((region, id)),
            (None, None) => done.push(Done {
                region,
                facts,
                deltas,
            }),
            (Some(Undecided(g)), _) => {
                if done.len() + unstable.len() + stack.len() + 2 > limits.regions {
                    let id = at.unwrap_or(ValueId(position));
                    let name = if id.0 < program.instrs.len() {
                        program.instr(id).name.clone()
                    } else {
                        String::from("?")
                    };
                    return Err(TooComplex {
                        name,
                        limit: limits.regions,
                    });
                }
                let [below, above] = region.split(&g);
                // Depth first, the `g ≤ 0` half first: a fixed, reproducible order.
                stack.push((above, facts.clone(), deltas.clone()));
                stack.push((below, facts, deltas));
            }
        }
    }
    merge(program, done, unstable, &pairs, guard)
}

fn piece(e: &Exp) -> Piece {
    match e {
        Exp::NegInf => Piece::NegInf,
        Exp::Affine(x) => Piece::Affine(x.clone()),
        // Region evaluation only ever yields affine forms, -∞ or the undefined node.
        _ => Piece::Undefined,
    }
}

/// Whether `e` equals `want` on all of `region` (splitting it as needed).
fn agrees(e: &Exp, region: &Region, want: &Piece) -> bool {
    let mut stack = vec![region.clone()];
    // Each split halves a region along a hyperplane of `e`, so this terminates; the
    // bound only guards against a pathological expression.
    let mut budget = 256usize;
    while let Some(mut r) = stack.pop() {
        match r.evaluate(e) {
            Ok(p) if p == *want => {}
            Ok(_) => return false,
            Err(Undecided(g)) => {
                if budget == 0 {
                    return false;
                }
                budget -= 1;
                stack.extend(r.split(&g));
            }
        }
    }
    true
}

fn region_cond(region: &Region) -> Cond {
    Cond::And(
        region
            .constraints()
            .map(|g| Cond::Le(Exp::Affine(g.clone()), Exp::Affine(Exponent::zero())))
            .collect(),
    )
}

/// The union of the closed regions `inside`, given that `outside` covers the rest of
/// the space, as a simplified condition. When the union is convex it is the
/// intersection of the half-spaces among the regions' constraints that hold on every
/// region of `inside` (checked: no region of `outside` meets its interior); otherwise
/// it is the disjunction of the regions.
fn union_cond(inside: &mut [Region], outside: &[&Region]) -> Cond {
    if inside.is_empty() {
        return Cond::False;
    }
    if outside.is_empty() {
        return Cond::True;
    }
    let mut candidates: Vec<Exponent> = Vec::new();
    for r in inside.iter() {
        for g in r.constraints() {
            if !candidates.contains(g) {
                candidates.push(g.clone());
            }
        }
    }
    let hull: Vec<Exponent> = candidates
        .into_iter()
        .filter(|g| {
            inside
                .iter_mut()
                .all(|r| matches!(r.side(g), Some(Side::NonPositive) | Some(Side::Zero)))
        })
        .collect();
    let convex = outside.iter().all(|u| !u.interior_meets(&hull));
    let cond = if convex {
        Cond::And(
            hull.into_iter()
                .map(|g| Cond::Le(Exp::Affine(g), Exp::Affine(Exponent::zero())))
                .collect(),
        )
    } else {
        Cond::Or(inside.iter().map(region_cond).collect())
    };
    cond.simplify()
}

/// Merges the per-region affine exponents into one simplified expression each, exact
/// on the stable regions, and describes the stable set and where each quantity blows
/// up first.
fn merge<'p>(
    program: &'p Program,
    done: Vec<Done>,
    unstable: Vec<(Region, ValueId)>,
    pairs: &[(ValueId, ValueId)],
    stable_only: bool,
) -> Result<Cells<'p>, TooComplex> {
    let regions = done.len() + unstable.len();
    let mut region_list: Vec<Region> = Vec::with_capacity(done.len());
    let mut all_facts: Vec<Vec<Facts>> = Vec::with_capacity(done.len());
    let mut all_deltas: Vec<Deltas> = Vec::with_capacity(done.len());
    for d in done {
        region_list.push(d.region);
        all_facts.push(d.facts);
        all_deltas.push(d.deltas);
    }
    let outside: Vec<&Region> = unstable.iter().map(|(r, _)| r).collect();
    let stable = union_cond(&mut region_list.clone(), &outside);
    let mut blowups: Vec<(ValueId, Cond)> = Vec::new();
    let mut ids: Vec<ValueId> = unstable.iter().map(|(_, id)| *id).collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        let mut here: Vec<Region> = Vec::new();
        let mut elsewhere: Vec<&Region> = region_list.iter().collect();
        for (r, b) in &unstable {
            if *b == id {
                here.push(r.clone());
            } else {
                elsewhere.push(r);
            }
        }
        blowups.push((id, union_cond(&mut here, &elsewhere)));
    }
    let mut failed: Option<ValueId> = None;
    let mut merge_one = |get: &dyn Fn(usize) -> Exp, id: ValueId| -> Exp {
        let values: Vec<Piece> = (0..region_list.len()).map(|i| piece(&get(i))).collect();
        let merged = from_pieces(&mut region_list, &values).simplify();
        // The max-min theorem needs a convex domain; the stable set need not be one,
        // so the merge is checked on every region.
        let ok = region_list
            .iter()
            .zip(&values)
            .all(|(r, v)| agrees(&merged, r, v));
        if !ok && failed.is_none() {
            failed = Some(id);
        }
        merged
    };
    let count = program.instrs.len();
    let groups = all_facts
        .first()
        .and_then(|f| f.first())
        .map_or(0, |f| f.parts.len());
    let mut facts = Vec::with_capacity(count);
    for v in 0..count {
        let id = ValueId(v);
        if all_facts.is_empty() {
            facts.push(Facts {
                exp: Exp::undefined(),
                parts: Vec::new(),
            });
            continue;
        }
        let exp = merge_one(&|i| all_facts[i][v].exp.clone(), id);
        let parts = (0..groups)
            .map(|k| {
                (
                    merge_one(&|i| all_facts[i][v].parts[k].0.clone(), id),
                    merge_one(&|i| all_facts[i][v].parts[k].1.clone(), id),
                )
            })
            .collect();
        facts.push(Facts { exp, parts });
    }
    let mut deltas = Deltas::new();
    for pair in pairs {
        let d = merge_one(
            &|i| all_deltas[i].get(pair).cloned().unwrap_or(Exp::NegInf),
            pair.0,
        );
        deltas.insert(*pair, d);
    }
    if let Some(id) = failed {
        return Err(TooComplex {
            name: program.instr(id).name.clone(),
            limit: REGION_LIMIT,
        });
    }
    Ok(Cells {
        merged: Inference::from_results(program, facts, deltas),
        regions,
        stable,
        stable_only,
        blowups,
    })
}
