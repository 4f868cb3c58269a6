//! Max-of-mins normal form of finite piecewise-affine expressions and its exact
//! canonicalization.
//!
//! Every finite expression equals `max_i min_{j ∈ S_i} ℓ_ij` for affine `ℓ_ij` (sums
//! distribute over max/min, and a negative factor swaps them). That representation is
//! not unique, so [`canonical`] computes one that depends only on the *function*:
//!
//! * the *pieces* `P` of `f` are the affine functions that agree with `f` on an open set
//!   (they are among the leaves of any representation);
//! * `M = { S ⊆ P : min_S ≤ f everywhere }`; by Ovchinnikov's max-min theorem for
//!   piecewise-linear functions, `f = max_{S ∈ M, S minimal} min_S`;
//! * min-terms that are redundant (below the max of the others everywhere) are then
//!   dropped in a fixed order.
//!
//! Both `P` and the minimal elements of `M` are determined by `f` alone, and the final
//! pruning is a deterministic function of them, so equal functions get equal forms.
//! The minimal sets can be exponentially many (a sum of a max and a min of `k` terms
//! each has about `k^k`), so this is only attempted within limits; see [`canonical`].
//! Every question is an exact strict-feasibility problem solved by [`lp::feasible`]
//! inside a small backtracking search over the disjunctions that max/min introduce.

use super::affine::{Exponent, Rational};
use super::expr::Exp;
use super::lp::{self, Atom, Point, Rel};
use num_traits::{Signed, Zero};
use std::cmp::Ordering;

/// A min of affine forms (sorted, without duplicates).
pub(crate) type MinTerm = Vec<Exponent>;
/// A max of min-terms.
pub(crate) type MaxMin = Vec<MinTerm>;

/// Most leaves a max-min form may have while [`Exp::simplify`] expands it.
pub(crate) const SIMPLIFY_LEAF_LIMIT: usize = 2048;
/// Most linear-programming work (constraint rows, summed over the programs) that one
/// [`Exp::simplify`] may spend on the exact canonical form.
pub(crate) const SIMPLIFY_LP_BUDGET: usize = 40_000;
/// Most min-terms of the canonical family before its final pruning: beyond this the
/// pruning (exponential in the number of terms) is not attempted.
const MAX_FAMILY: usize = 24;
/// Most pieces for which minimal sets are enumerated (the enumeration is exponential).
const MAX_PIECES: usize = 12;
/// Witness points kept to answer later questions without a linear program.
const CACHE_POINTS: usize = 64;

/// Why no max-min form was produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NormalError {
    /// The form would exceed the leaf limit.
    TooLarge,
    /// The expression is -∞ or undefined somewhere in the tree being expanded.
    NotFinite,
}

/// The linear-programming budget ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Exhausted;

/// Counts the work spent in linear programs (constraint rows solved) so that exact
/// questions with a budget always terminate quickly.
#[derive(Clone, Debug)]
pub(crate) struct Budget {
    used: usize,
    limit: usize,
}

impl Budget {
    /// A budget of `limit` constraint rows.
    pub(crate) fn new(limit: usize) -> Budget {
        Budget { used: 0, limit }
    }

    /// A budget that never runs out (exact decisions that must not give up).
    pub(crate) fn unlimited() -> Budget {
        Budget::new(usize::MAX)
    }

    /// Accounts for one linear program with `rows` constraints (its cost grows with
    /// the number of rows); `Err` once the budget is used up.
    pub(crate) fn spend(&mut self, rows: usize) -> Result<(), Exhausted> {
        if self.used >= self.limit {
            return Err(Exhausted);
        }
        self.used = self.used.saturating_add(rows.max(1));
        Ok(())
    }
}

fn leaf_count(f: &MaxMin) -> usize {
    f.iter().map(Vec::len).sum()
}

/// The max-min form of a finite folded expression, with cheap pruning after each step.
pub(crate) fn max_min_form(e: &Exp, limit: usize) -> Result<MaxMin, NormalError> {
    let f = match e {
        Exp::NegInf => return Err(NormalError::NotFinite),
        Exp::Affine(x) => vec![vec![x.clone()]],
        Exp::Add(items) => {
            let mut acc: MaxMin = vec![vec![Exponent::zero()]];
            for item in items {
                let g = max_min_form(item, limit)?;
                acc = sum(&acc, &g, limit)?;
            }
            acc
        }
        Exp::Max(items) => {
            if items.is_empty() {
                return Err(NormalError::NotFinite);
            }
            let mut acc = MaxMin::new();
            for item in items {
                acc.extend(max_min_form(item, limit)?);
                if leaf_count(&acc) > limit {
                    return Err(NormalError::TooLarge);
                }
            }
            cheap_prune(acc)
        }
        Exp::Min(items) => {
            let mut acc: Option<MaxMin> = None;
            for item in items {
                let g = max_min_form(item, limit)?;
                acc = Some(match acc {
                    None => g,
                    Some(f) => meet(&f, &g, limit)?,
                });
            }
            acc.ok_or(NormalError::NotFinite)?
        }
        Exp::Scale(q, inner) => {
            if q.is_zero() {
                if inner.is_undefined() {
                    return Err(NormalError::NotFinite);
                }
                vec![vec![Exponent::zero()]]
            } else {
                let f = max_min_form(inner, limit)?;
                if q.is_positive() {
                    f.into_iter()
                        .map(|t| t.into_iter().map(|l| l.scale(q)).collect())
                        .collect()
                } else {
                    let f: MaxMin = f
                        .into_iter()
                        .map(|t| t.into_iter().map(|l| l.scale(&-q)).collect())
                        .collect();
                    negate(&f, limit)?
                }
            }
        }
    };
    if leaf_count(&f) > limit {
        return Err(NormalError::TooLarge);
    }
    Ok(cheap_prune(f))
}

/// `f + g`: `min(A) + min(B) = min(a + b)`, and sums distribute over the outer max.
fn sum(f: &MaxMin, g: &MaxMin, limit: usize) -> Result<MaxMin, NormalError> {
    if leaf_count(f).saturating_mul(leaf_count(g)) > limit {
        return Err(NormalError::TooLarge);
    }
    let mut out = MaxMin::new();
    for a in f {
        for b in g {
            out.push(
                a.iter()
                    .flat_map(|x| b.iter().map(move |y| x.add(y)))
                    .collect(),
            );
        }
    }
    Ok(cheap_prune(out))
}

/// `min(f, g)`: `min(max_i A_i, max_k B_k) = max_{i,k} min(A_i ∪ B_k)`.
fn meet(f: &MaxMin, g: &MaxMin, limit: usize) -> Result<MaxMin, NormalError> {
    let size = g
        .len()
        .saturating_mul(leaf_count(f))
        .saturating_add(f.len().saturating_mul(leaf_count(g)));
    if size > limit {
        return Err(NormalError::TooLarge);
    }
    let mut out = MaxMin::new();
    for a in f {
        for b in g {
            out.push(a.iter().chain(b.iter()).cloned().collect());
        }
    }
    Ok(cheap_prune(out))
}

/// `-f` for `f` already multiplied by `|q|`: `-max_i min_j a_ij = min_i max_j (-a_ij)`,
/// turned back into a max of mins by distributing.
fn negate(f: &MaxMin, limit: usize) -> Result<MaxMin, NormalError> {
    let mut acc: Option<MaxMin> = None;
    for term in f {
        let g: MaxMin = term.iter().map(|a| vec![a.neg()]).collect();
        acc = Some(match acc {
            None => cheap_prune(g),
            Some(h) => meet(&h, &g, limit)?,
        });
    }
    acc.ok_or(NormalError::NotFinite)
}

/// Syntactic pruning without linear programming: duplicates, leaves of a min that
/// exceed another leaf by a constant, and min-terms dominated by another min-term
/// leaf by leaf.
pub(crate) fn cheap_prune(f: MaxMin) -> MaxMin {
    let mut terms: MaxMin = f.into_iter().map(prune_min_term).collect();
    terms.sort_by(term_order);
    terms.dedup();
    if terms.len() > 256 {
        // The quadratic domination test below would dominate the running time.
        return terms;
    }
    let n = terms.len();
    let keep: Vec<bool> = (0..n)
        .map(|i| {
            !(0..n).any(|k| {
                k != i
                    && dominated(&terms[i], &terms[k])
                    && (!dominated(&terms[k], &terms[i]) || k < i)
            })
        })
        .collect();
    terms
        .into_iter()
        .zip(keep)
        .filter_map(|(t, k)| k.then_some(t))
        .collect()
}

/// Deterministic order of min-terms: fewer leaves first, then leaf by leaf.
fn term_order(a: &MinTerm, b: &MinTerm) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn prune_min_term(mut t: MinTerm) -> MinTerm {
    t.sort();
    t.dedup();
    let mut out: MinTerm = Vec::with_capacity(t.len());
    for x in &t {
        // Another leaf with the same symbolic part and a smaller constant wins.
        let beaten = t
            .iter()
            .any(|y| y.terms() == x.terms() && y.constant_part() < x.constant_part());
        if !beaten {
            out.push(x.clone());
        }
    }
    out
}

/// Sufficient test for `min(lo) ≤ min(hi)` everywhere: each leaf of `hi` is at least
/// some leaf of `lo` by a constant.
fn dominated(lo: &MinTerm, hi: &MinTerm) -> bool {
    hi.iter().all(|b| {
        lo.iter()
            .any(|a| a.terms() == b.terms() && a.constant_part() <= b.constant_part())
    })
}

/// The expression `max(min(...), ...)` of a form.
pub(crate) fn to_exp(f: &MaxMin) -> Exp {
    Exp::max_of(
        f.iter()
            .map(|t| Exp::min_of(t.iter().cloned().map(Exp::Affine))),
    )
}

/// Canonical max-min form of a finite form (see the module docs).
///
/// Three tiers, each a deterministic function of the sorted max-min expansion:
/// 1. the exact canonical form of the function (pieces and minimal sets), when the
///    function has at most [`MAX_PIECES`] pieces and [`MAX_FAMILY`] minimal sets and
///    the linear-programming budget suffices;
/// 2. otherwise the expansion with every never-active leaf and every redundant min-term
///    removed (exact, but two different such forms may denote the same function);
/// 3. if even that exceeds the budget, the cheaply pruned expansion.
///
/// The expansion itself does not depend on the order of operands nor on how sums
/// were distributed, so tiers 2 and 3 are still canonical modulo those laws.
pub(crate) fn canonical(f: MaxMin, budget: &mut Budget) -> MaxMin {
    let f = cheap_prune(f);
    if f.len() <= 1 && f.iter().all(|t| t.len() <= 1) {
        return f;
    }
    // Work with indices into the sorted list of distinct leaves: every question below
    // compares two leaves, and leaf values at witness points are computed once.
    let mut leaves: Vec<Exponent> = f.iter().flatten().cloned().collect();
    leaves.sort();
    leaves.dedup();
    let index = |l: &Exponent| leaves.binary_search(l).unwrap_or(0);
    let indexed: Vec<Vec<usize>> = f.iter().map(|t| t.iter().map(index).collect()).collect();
    let mut solver = Solver::new(budget, leaves.clone());
    let Ok(reduced) = solver.reduce(indexed) else {
        return f;
    };
    // A single min (a concave function) is determined by its leaves once each of them
    // is strictly minimal somewhere; likewise a max of single leaves (convex).
    let family = if reduced.len() == 1 || reduced.iter().all(|t| t.len() == 1) {
        reduced
    } else {
        solver.exact_family(&reduced).unwrap_or(reduced)
    };
    family
        .into_iter()
        .map(|t| t.into_iter().map(|i| leaves[i].clone()).collect())
        .collect()
}

/// `leaves[i] < leaves[j]`.
type Less = (usize, usize);
/// A disjunction of conjunctions of [`Less`] atoms.
type Clause = Vec<Vec<Less>>;
/// Values of every leaf at a point.
type Values = Vec<Rational>;

/// Exact strict-feasibility questions about the leaves of one max-min form, with a
/// cache of witness points.
struct Solver<'b> {
    budget: &'b mut Budget,
    leaves: Vec<Exponent>,
    /// Leaf values at recently found witness points.
    cache: Vec<Values>,
}

impl<'b> Solver<'b> {
    fn new(budget: &'b mut Budget, leaves: Vec<Exponent>) -> Solver<'b> {
        Solver {
            budget,
            leaves,
            cache: Vec::new(),
        }
    }

    /// `Some(truth)` when `leaves[i] < leaves[j]` does not depend on the point.
    fn constant_truth(&self, (i, j): Less) -> Option<bool> {
        let (a, b) = (&self.leaves[i], &self.leaves[j]);
        (a.terms() == b.terms()).then(|| a.constant_part() < b.constant_part())
    }

    fn values(&self, point: &Point) -> Values {
        self.leaves
            .iter()
            .map(|l| lp::eval_affine(l, point))
            .collect()
    }

    fn lp(&mut self, atoms: &[Less]) -> Result<Option<Values>, Exhausted> {
        self.budget.spend(atoms.len())?;
        let system: Vec<Atom> = atoms
            .iter()
            .map(|&(i, j)| Atom::new(self.leaves[i].sub(&self.leaves[j]), Rel::Lt))
            .collect();
        let Some(point) = lp::feasible(&system) else {
            return Ok(None);
        };
        let values = self.values(&point);
        if self.cache.len() >= CACHE_POINTS {
            self.cache.remove(0);
        }
        self.cache.push(values.clone());
        Ok(Some(values))
    }

    /// Values at a point where every `base` atom holds and every clause has an
    /// alternative whose atoms all hold; `None` when there is no such point.
    fn strict_exists(
        &mut self,
        base: Vec<Less>,
        clauses: Vec<Clause>,
    ) -> Result<Option<Values>, Exhausted> {
        let mut base_atoms = Vec::new();
        for atom in base {
            match self.constant_truth(atom) {
                Some(true) => {}
                Some(false) => return Ok(None),
                None => base_atoms.push(atom),
            }
        }
        let mut kept: Vec<Clause> = Vec::new();
        'clauses: for clause in clauses {
            let mut alternatives: Clause = Vec::new();
            'alternatives: for alt in clause {
                let mut atoms = Vec::new();
                for atom in alt {
                    match self.constant_truth(atom) {
                        Some(true) => {}
                        Some(false) => continue 'alternatives,
                        None => atoms.push(atom),
                    }
                }
                if atoms.is_empty() {
                    // This alternative always holds, so the clause does too.
                    continue 'clauses;
                }
                atoms.sort();
                atoms.dedup();
                if !alternatives.contains(&atoms) {
                    alternatives.push(atoms);
                }
            }
            if alternatives.is_empty() {
                return Ok(None);
            }
            kept.push(alternatives);
        }
        // Clauses with few alternatives first: they prune the search the most.
        kept.sort_by_key(Vec::len);
        for values in &self.cache {
            if holds(&base_atoms, values)
                && kept
                    .iter()
                    .all(|clause| clause.iter().any(|alt| holds(alt, values)))
            {
                return Ok(Some(values.clone()));
            }
        }
        let start = if base_atoms.is_empty() {
            // The origin satisfies an empty system.
            self.values(&Point::new())
        } else {
            match self.lp(&base_atoms)? {
                Some(v) => v,
                None => return Ok(None),
            }
        };
        self.search(&mut base_atoms, start, &kept, 0)
    }

    fn search(
        &mut self,
        current: &mut Vec<Less>,
        witness: Values,
        clauses: &[Clause],
        index: usize,
    ) -> Result<Option<Values>, Exhausted> {
        let Some(clause) = clauses.get(index) else {
            return Ok(Some(witness));
        };
        // Alternatives that already hold at the witness need no linear program.
        let mut order: Vec<(bool, &Vec<Less>)> = clause
            .iter()
            .map(|alt| (!holds(alt, &witness), alt))
            .collect();
        order.sort_by_key(|(needs_lp, _)| *needs_lp);
        for (needs_lp, alt) in order {
            let mark = current.len();
            current.extend(alt.iter().copied());
            let next = if needs_lp {
                self.lp(current)?
            } else {
                Some(witness.clone())
            };
            if let Some(w) = next {
                if let Some(found) = self.search(current, w, clauses, index + 1)? {
                    current.truncate(mark);
                    return Ok(Some(found));
                }
            }
            current.truncate(mark);
        }
        Ok(None)
    }

    /// Drops never-active leaves of each min, then redundant min-terms.
    fn reduce(&mut self, f: Vec<Vec<usize>>) -> Result<Vec<Vec<usize>>, Exhausted> {
        let f = f
            .into_iter()
            .map(|t| self.reduce_min(t))
            .collect::<Result<Vec<_>, Exhausted>>()?;
        self.drop_redundant_terms(f)
    }

    /// The exact canonical family: minimal sets of pieces, pruned.
    fn exact_family(&mut self, f: &[Vec<usize>]) -> Result<Vec<Vec<usize>>, Exhausted> {
        let pieces = self.pieces(f)?;
        let family = self.minimal_sets(f, &pieces)?;
        if family.len() > MAX_FAMILY {
            return Err(Exhausted);
        }
        self.drop_redundant_terms(family)
    }

    /// Drops leaves of a min that are nowhere strictly below all the others.
    fn reduce_min(&mut self, mut t: Vec<usize>) -> Result<Vec<usize>, Exhausted> {
        let mut j = 0;
        while j < t.len() && t.len() > 1 {
            let base: Vec<Less> = t
                .iter()
                .filter(|&&k| k != t[j])
                .map(|&k| (t[j], k))
                .collect();
            if self.strict_exists(base, Vec::new())?.is_none() {
                t.remove(j);
            } else {
                j += 1;
            }
        }
        Ok(t)
    }

    /// Sorts the min-terms and drops, in that order, each one that is nowhere strictly
    /// above all the remaining others.
    fn drop_redundant_terms(
        &mut self,
        mut f: Vec<Vec<usize>>,
    ) -> Result<Vec<Vec<usize>>, Exhausted> {
        for t in f.iter_mut() {
            t.sort_unstable();
            t.dedup();
        }
        f.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        f.dedup();
        let mut i = 0;
        while i < f.len() && f.len() > 1 {
            // T_i > T_k for all k  <=>  for all k, some leaf l of T_k is below every leaf of T_i.
            let clauses: Vec<Clause> = f
                .iter()
                .enumerate()
                .filter(|(k, _)| *k != i)
                .map(|(_, tk)| {
                    tk.iter()
                        .map(|&l| f[i].iter().map(|&a| (l, a)).collect())
                        .collect()
                })
                .collect();
            if self.strict_exists(Vec::new(), clauses)?.is_none() {
                f.remove(i);
            } else {
                i += 1;
            }
        }
        Ok(f)
    }

    /// The leaves of `f` that agree with `f` on an open set, in leaf order.
    fn pieces(&mut self, f: &[Vec<usize>]) -> Result<Vec<usize>, Exhausted> {
        let mut candidates: Vec<usize> = f.iter().flatten().copied().collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut pieces = Vec::new();
        for &l in &candidates {
            if self.is_piece(f, l, &candidates)? {
                pieces.push(l);
            }
        }
        Ok(pieces)
    }

    fn is_piece(
        &mut self,
        f: &[Vec<usize>],
        l: usize,
        candidates: &[usize],
    ) -> Result<bool, Exhausted> {
        // At a cached point where `l` is the only leaf taking the value of `f`, `f = l`
        // on a neighbourhood (f is continuous and only takes leaf values).
        for values in &self.cache {
            let v = eval_indexed(f, values);
            if values[l] == v && candidates.iter().all(|&c| c == l || values[c] != v) {
                return Ok(true);
            }
        }
        for (i, term) in f.iter().enumerate() {
            if !term.contains(&l) {
                continue;
            }
            // l strictly below the rest of its min, every other min strictly below l.
            let base: Vec<Less> = term.iter().filter(|&&m| m != l).map(|&m| (l, m)).collect();
            let clauses: Vec<Clause> = f
                .iter()
                .enumerate()
                .filter(|(k, tk)| *k != i && !tk.contains(&l))
                .map(|(_, tk)| tk.iter().map(|&m| vec![(m, l)]).collect())
                .collect();
            if self.strict_exists(base, clauses)?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The inclusion-minimal sets `S` of pieces with `min_S ≤ f` everywhere, as
    /// min-terms in enumeration order (by size, then lexicographically).
    fn minimal_sets(
        &mut self,
        f: &[Vec<usize>],
        pieces: &[usize],
    ) -> Result<Vec<Vec<usize>>, Exhausted> {
        let m = pieces.len();
        if m > MAX_PIECES {
            return Err(Exhausted);
        }
        // For each known point, the set of pieces strictly above f there: a set S
        // inside it has min_S > f at that point, so it is not in M.
        let above = |values: &Values| -> u32 {
            let v = eval_indexed(f, values);
            (0..m)
                .filter(|&k| values[pieces[k]] > v)
                .fold(0, |mask, k| mask | (1 << k))
        };
        let mut refuters: Vec<u32> = self.cache.iter().map(above).collect();
        let mut members: Vec<u32> = Vec::new();
        for size in 1..=m {
            let mut any_candidate = false;
            for mask in combinations(m, size) {
                if members.iter().any(|&s| is_subset(s, mask)) {
                    continue;
                }
                any_candidate = true;
                if refuters.iter().any(|&r| is_subset(mask, r)) {
                    continue;
                }
                // min_S > f somewhere  <=>  for every min-term T_i, some leaf of T_i is
                // below every member of S.
                let set: Vec<usize> = (0..m)
                    .filter(|k| mask & (1 << k) != 0)
                    .map(|k| pieces[k])
                    .collect();
                let clauses: Vec<Clause> = f
                    .iter()
                    .map(|t| {
                        t.iter()
                            .map(|&l| set.iter().map(|&s| (l, s)).collect())
                            .collect()
                    })
                    .collect();
                match self.strict_exists(Vec::new(), clauses)? {
                    Some(values) => refuters.push(above(&values)),
                    None => {
                        members.push(mask);
                        if members.len() > MAX_FAMILY {
                            // Too many to prune; give up early rather than late.
                            return Err(Exhausted);
                        }
                    }
                }
            }
            // Every larger set contains one of this size, hence a member.
            if !any_candidate {
                break;
            }
        }
        Ok(members
            .into_iter()
            .map(|mask| {
                (0..m)
                    .filter(|k| mask & (1 << k) != 0)
                    .map(|k| pieces[k])
                    .collect()
            })
            .collect())
    }
}

/// Whether the bit set `small` is contained in `big`.
fn is_subset(small: u32, big: u32) -> bool {
    small & !big == 0
}

fn holds(atoms: &[Less], values: &Values) -> bool {
    atoms.iter().all(|&(i, j)| values[i] < values[j])
}

/// `max_i min_j` of leaf values.
fn eval_indexed(f: &[Vec<usize>], values: &Values) -> Rational {
    f.iter()
        .filter_map(|t| t.iter().map(|&l| &values[l]).min())
        .max()
        .cloned()
        .unwrap_or_else(Rational::zero)
}

/// All `size`-subsets of `0..m` as bit masks, in lexicographic order of their members.
fn combinations(m: usize, size: usize) -> Vec<u32> {
    fn go(start: usize, m: usize, left: usize, mask: u32, out: &mut Vec<u32>) {
        if left == 0 {
            out.push(mask);
            return;
        }
        for i in start..m {
            if m - i < left {
                break;
            }
            go(i + 1, m, left - 1, mask | (1 << i), out);
        }
    }
    let mut out = Vec::new();
    go(0, m, size, 0, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Exp {
        text.parse::<Exp>().expect("test expression parses")
    }

    fn canon(text: &str) -> MaxMin {
        let f = max_min_form(&parse(text).fold(), SIMPLIFY_LEAF_LIMIT).expect("finite");
        canonical(f, &mut Budget::new(SIMPLIFY_LP_BUDGET))
    }

    #[test]
    fn negation_swaps_max_and_min() {
        let f = max_min_form(&parse("-max(a, min(b, c))").fold(), 100).expect("finite");
        // -max(a, min(b, c)) = min(-a, max(-b, -c)) = max(min(-a, -b), min(-a, -c))
        assert_eq!(f.len(), 2);
        assert!(f.iter().all(|t| t.len() == 2));
    }

    #[test]
    fn representations_of_the_same_function_agree() {
        // clamp(x, 0, 1) written three ways, one with a leaf (2 - x) that is no piece.
        let a = canon("max(min(x, 1), 0)");
        let b = canon("min(max(x, 0), 1)");
        let c = canon("max(min(x, 1), min(0, 2 - x))");
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(to_exp(&a).sorted().to_string(), "max(0, min(1, x))");
    }

    #[test]
    fn distributivity_is_recognized() {
        assert_eq!(
            canon("min(a, max(b, c))"),
            canon("max(min(a, b), min(c, a))")
        );
        assert_eq!(canon("a + max(b, c)"), canon("max(a + b, c + a)"));
    }

    #[test]
    fn redundant_leaves_disappear() {
        assert_eq!(canon("max(a, min(a, b))"), canon("a"));
        assert_eq!(canon("max(a, a + 1, b - 1, b)"), canon("max(a + 1, b)"));
        assert_eq!(canon("min(max(a, b), max(a, b, c))"), canon("max(a, b)"));
    }

    #[test]
    fn combinations_are_lexicographic() {
        assert_eq!(combinations(3, 2), vec![0b011, 0b101, 0b110]);
        assert_eq!(combinations(2, 0), vec![0]);
    }
}
