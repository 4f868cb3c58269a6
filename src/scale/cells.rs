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
//! 3. in a program that trains, a region on which a forward quantity grows stops
//!    there (past a blow-up training diverges); the quantity's exponent e is `≥ 0` on
//!    it, and the face `e = 0`, where the quantity is Θ(1) and not a blow-up, is
//!    analysed further as a (lower-dimensional) region of its own, so that every
//!    boundary point is classified exactly: stable, or blowing up first at one quantity;
//! 4. once every region is done, each exponent is merged back into one max-min
//!    expression ([`from_pieces`], Ovchinnikov's theorem) and simplified.
//!
//! Only the comparisons that actually occur on a region are split on, so the number of
//! regions follows the behaviour of the program, not the number of symbols. The search
//! is a deterministic depth-first traversal with a limit on the number of regions
//! (never a time limit), so the output is reproducible.

use super::infer::{Deltas, Facts, Inference, TooComplex};
use super::report::{first_step, reported};
use crate::exponent::{
    from_pieces, union_cond, Cond, ConvexSet, Exp, Exponent, Piece, Region, Side, Undecided,
};
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

/// A region still to analyse, with the results that already hold on it.
type Work = (Region, Vec<Facts>, Deltas);

/// One finished stable region: every exponent affine on it.
struct Done {
    region: Region,
    facts: Vec<Facts>,
    deltas: Deltas,
}

/// One finished region on which a forward quantity grows: its exponent `e` is affine,
/// `≥ 0` on the region and positive somewhere, and every earlier forward quantity is
/// bounded there.
struct Blowup {
    region: Region,
    id: ValueId,
    e: Exponent,
}

impl Blowup {
    /// Where the quantity actually blows up: not on the face `e = 0`, where it is Θ(1).
    fn set(&self) -> ConvexSet {
        ConvexSet::of_region(&self.region).where_positive(&self.e)
    }
}

/// What the analysis of one region ended with.
enum Outcome {
    /// Every quantity computed: the region is stable.
    Done(Done),
    /// A forward quantity grows on the region; the face where its exponent is 0, if
    /// any, is still to classify.
    Blowup(Blowup, Option<Work>),
    /// A comparison the region does not decide, met while computing `at`: split along
    /// `g` and resume both halves from `work`.
    Split {
        g: Exponent,
        at: ValueId,
        work: Work,
    },
}

/// Runs the inference on one region from the results already known on it.
fn analyse_region(
    program: &Program,
    (region, facts, deltas): Work,
    pairs: &[(ValueId, ValueId)],
    guard: bool,
) -> Option<Outcome> {
    let mut inf = Inference::resume(program, region, facts, deltas, guard);
    inf.advance();
    let mut at = ValueId(inf.facts.len());
    if inf.undecided().is_none() && inf.blown().is_none() {
        for (a, b) in pairs {
            inf.delta(*a, *b);
            if inf.undecided().is_some() {
                at = *a;
                break;
            }
        }
    }
    let undecided = inf.undecided().cloned();
    let blown = inf.blown();
    let (region, facts, deltas) = inf.into_parts();
    let region = region?;
    Some(match (undecided, blown) {
        (Some(Undecided(g)), _) => Outcome::Split {
            g,
            at,
            work: (region, facts, deltas),
        },
        (None, Some(id)) => {
            // `id` grows on the region except where its exponent is exactly 0: that
            // face (if any) is bounded so far. (A region only ever blows up on an
            // exponent it evaluated to an affine form.)
            let Exp::Affine(e) = &facts[id.0].exp else {
                return None;
            };
            let e = e.clone();
            let face = region.face(&e).map(|f| (f, facts, deltas));
            Outcome::Blowup(Blowup { region, id, e }, face)
        }
        (None, None) => Outcome::Done(Done {
            region,
            facts,
            deltas,
        }),
    })
}

/// Analyses a symbolic program region by region and merges the results.
pub(crate) fn analyse<'p>(program: &'p Program, limits: &Limits) -> Result<Cells<'p>, TooComplex> {
    let pairs: Vec<(ValueId, ValueId)> = reported(program)
        .filter_map(|id| first_step(program, id).map(|first| (id, first)))
        .collect();
    let mut stack: Vec<Work> = vec![(Region::whole(), Vec::new(), Deltas::new())];
    // Only training can diverge: a program that trains is analysed on its stable set
    // (past a blow-up its exponents describe nothing); any other program everywhere.
    let guard = program
        .ids()
        .any(|id| program.instr(id).meta.step.is_some_and(|t| t > 0));
    let mut done: Vec<Done> = Vec::new();
    let mut unstable: Vec<Blowup> = Vec::new();
    // The exact sets of `done` and `unstable` (stable regions, blow-up sets), to tell
    // which faces are already classified.
    let mut finished: Vec<ConvexSet> = Vec::new();
    let mut faces: Vec<Work> = Vec::new();
    loop {
        while let Some(work) = stack.pop() {
            match analyse_region(program, work, &pairs, guard) {
                None => {}
                Some(Outcome::Done(d)) => {
                    finished.push(ConvexSet::of_region(&d.region));
                    done.push(d);
                }
                Some(Outcome::Blowup(b, face)) => {
                    finished.push(b.set());
                    unstable.push(b);
                    faces.extend(face);
                }
                Some(Outcome::Split { g, at, work }) => {
                    let pending = stack.len() + faces.len();
                    if done.len() + unstable.len() + pending + 2 > limits.regions {
                        let name = match program.instrs.get(at.0) {
                            Some(instr) => instr.name.clone(),
                            None => String::from("?"),
                        };
                        return Err(TooComplex {
                            name,
                            limit: limits.regions,
                        });
                    }
                    let (region, facts, deltas) = work;
                    let [below, above] = region.split(&g);
                    // Depth first, the `g ≤ 0` half first: a fixed, reproducible order.
                    stack.push((above, facts.clone(), deltas.clone()));
                    stack.push((below, facts, deltas));
                }
            }
        }
        // A face is usually covered by the regions on its other side, which went on
        // past the quantity and classified its points; only a face that they do not
        // cover is analysed, as a region of its own, in the order the faces were found.
        let uncovered = faces
            .iter()
            .position(|f| !ConvexSet::of_region(&f.0).covered_by(&finished));
        match uncovered {
            Some(k) => {
                let face = faces.remove(k);
                // The faces before it are covered, and stay so as `finished` grows.
                faces.drain(..k);
                stack.push(face);
            }
            None => break,
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

/// Whether `e` equals `want` on all of `region` (splitting it as needed), as functions
/// on the region.
fn agrees(e: &Exp, region: &Region, want: &Piece) -> bool {
    let mut stack = vec![region.clone()];
    // Each split halves a region along a hyperplane of `e`, so this terminates; the
    // bound only guards against a pathological expression.
    let mut budget = 256usize;
    while let Some(mut r) = stack.pop() {
        match r.evaluate(e) {
            Ok(p) if p == *want => {}
            // On a face two different affine forms can agree everywhere.
            Ok(Piece::Affine(p)) => match want {
                Piece::Affine(w) if r.side(&p.sub(w)) == Some(Side::Zero) => {}
                _ => return false,
            },
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

/// Merges the per-region affine exponents into one simplified expression each, exact
/// on the stable regions, and describes the stable set and where each quantity blows
/// up first.
fn merge<'p>(
    program: &'p Program,
    done: Vec<Done>,
    unstable: Vec<Blowup>,
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
    // The stable regions (closed) and the blow-up sets (each without its face e = 0,
    // which was analysed as a region of its own) partition the space exactly.
    let stable_sets: Vec<ConvexSet> = region_list.iter().map(ConvexSet::of_region).collect();
    let blowup_sets: Vec<ConvexSet> = unstable.iter().map(Blowup::set).collect();
    let stable = union_cond(&stable_sets, &blowup_sets);
    let mut blowups: Vec<(ValueId, Cond)> = Vec::new();
    let mut ids: Vec<ValueId> = unstable.iter().map(|b| b.id).collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        let (here, others): (Vec<_>, Vec<_>) = unstable
            .iter()
            .zip(&blowup_sets)
            .partition(|(b, _)| b.id == id);
        let here: Vec<ConvexSet> = here.into_iter().map(|(_, s)| s.clone()).collect();
        let mut elsewhere = stable_sets.clone();
        elsewhere.extend(others.into_iter().map(|(_, s)| s.clone()));
        blowups.push((id, union_cond(&here, &elsewhere)));
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
