//! Conditions on the symbols: conjunctions and disjunctions of (in)equalities between
//! exponent expressions, decided and simplified exactly.
//!
//! Every comparison of two finite expressions is case-split through their max-min
//! normal forms (`max(a, b) ≤ c ⟺ a ≤ c ∧ b ≤ c`, `c ≤ max(a, b) ⟺ c ≤ a ∨ c ≤ b`, and
//! dually for min) into an and/or tree over affine atoms `g ⋈ 0`. A depth-first search
//! over that tree, pruned by exact rational linear programming ([`super::lp`]),
//! enumerates the feasible conjunctions (the disjunctive normal form); each one is put
//! in a canonical form (implicit equalities found, equalities in reduced row echelon
//! form and substituted into the inequalities, redundant inequalities dropped) and the
//! disjunction is cleaned (contained or duplicate disjuncts dropped, neighbours merged).

use super::affine::{Exponent, Rational};
use super::expr::{EvalError, Exp, Kind};
use super::lp::{self, Atom, Point, Rel};
use super::normal::{self, Budget, Exhausted, MaxMin};
use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed, Zero};
use std::collections::BTreeMap;
use std::fmt;

/// Most disjuncts [`Cond::simplify`] produces before giving up on simplifying.
const MAX_DISJUNCTS: usize = 4096;
/// Most linear-programming work (constraint rows summed over the programs) that one
/// [`Cond::simplify`] may spend.
const SIMPLIFY_LP_BUDGET: usize = 1_000_000;
/// Most leaves of a max-min form, and most atoms of a case-split tree, when simplifying.
const SIMPLIFY_LEAF_LIMIT: usize = 2048;
const SIMPLIFY_TREE_LIMIT: usize = 50_000;
/// The same limits for exact decisions ([`Cond::is_satisfiable`], [`Cond::is_valid`]).
const DECIDE_LEAF_LIMIT: usize = 1 << 14;
const DECIDE_TREE_LIMIT: usize = 1 << 20;

/// A condition on the symbols: (in)equalities between exponent expressions combined
/// with `and`/`or`.
///
/// Comparisons use the order of the extended reals (-∞ is below every finite value and
/// equal to itself); a comparison with an undefined expression is false, like NaN.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cond {
    /// Always holds.
    True,
    /// Never holds.
    False,
    /// `lhs ≤ rhs`.
    Le(Exp, Exp),
    /// `lhs < rhs`.
    Lt(Exp, Exp),
    /// `lhs = rhs`.
    Eq(Exp, Exp),
    /// All of the conditions (the empty conjunction is true).
    And(Vec<Cond>),
    /// Any of the conditions (the empty disjunction is false).
    Or(Vec<Cond>),
}

/// An and/or tree over affine atoms.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tree {
    True,
    False,
    Atom(Atom),
    And(Vec<Tree>),
    Or(Vec<Tree>),
}

/// The condition is too large to expand within the limits.
#[derive(Clone, Copy, Debug)]
struct TooLarge;

impl From<Exhausted> for TooLarge {
    fn from(_: Exhausted) -> Self {
        TooLarge
    }
}

fn and_of(items: Vec<Tree>) -> Tree {
    let mut out = Vec::new();
    for item in items {
        match item {
            Tree::True => {}
            Tree::False => return Tree::False,
            Tree::And(inner) => out.extend(inner),
            other => out.push(other),
        }
    }
    match out.len() {
        0 => Tree::True,
        1 => out.pop().unwrap_or(Tree::True),
        _ => Tree::And(out),
    }
}

fn or_of(items: Vec<Tree>) -> Tree {
    let mut out = Vec::new();
    for item in items {
        match item {
            Tree::False => {}
            Tree::True => return Tree::True,
            Tree::Or(inner) => out.extend(inner),
            other => out.push(other),
        }
    }
    match out.len() {
        0 => Tree::False,
        1 => out.pop().unwrap_or(Tree::False),
        _ => Tree::Or(out),
    }
}

fn atom_tree(atom: Atom) -> Tree {
    match atom.constant_truth() {
        Some(true) => Tree::True,
        Some(false) => Tree::False,
        None => Tree::Atom(atom),
    }
}

impl Tree {
    fn size(&self) -> usize {
        match self {
            Tree::True | Tree::False | Tree::Atom(_) => 1,
            Tree::And(items) | Tree::Or(items) => 1 + items.iter().map(Tree::size).sum::<usize>(),
        }
    }

    fn negate(&self) -> Tree {
        match self {
            Tree::True => Tree::False,
            Tree::False => Tree::True,
            Tree::Atom(a) => or_of(a.negate().into_iter().map(atom_tree).collect()),
            Tree::And(items) => or_of(items.iter().map(Tree::negate).collect()),
            Tree::Or(items) => and_of(items.iter().map(Tree::negate).collect()),
        }
    }
}

/// Limits for expanding comparisons into trees.
#[derive(Clone, Copy)]
struct Limits {
    leaves: usize,
    atoms: usize,
}

/// `F rel G` for max-min forms, as an and/or tree over atoms (`rel` is `Le` or `Lt`):
/// `max_i min_j p_ij ⋈ max_k min_l q_kl  ⟺  ∀i ∃j,k ∀l: p_ij ⋈ q_kl`.
fn compare_forms(f: &MaxMin, g: &MaxMin, rel: Rel, limits: Limits) -> Result<Tree, TooLarge> {
    let g_leaves: usize = g.iter().map(Vec::len).sum();
    let f_leaves: usize = f.iter().map(Vec::len).sum();
    if f_leaves.saturating_mul(g_leaves) > limits.atoms {
        return Err(TooLarge);
    }
    let mut conj = Vec::with_capacity(f.len());
    for term in f {
        let mut disj = Vec::new();
        for p in term {
            for other in g {
                disj.push(and_of(
                    other
                        .iter()
                        .map(|q| atom_tree(Atom::new(p.sub(q), rel)))
                        .collect(),
                ));
            }
        }
        conj.push(or_of(disj));
    }
    Ok(and_of(conj))
}

fn form(e: &Exp, limits: Limits) -> Result<MaxMin, TooLarge> {
    normal::max_min_form(e, limits.leaves).map_err(|_| TooLarge)
}

/// `a rel b` (`Le` or `Lt`) for arbitrary expressions.
fn compare_tree(a: &Exp, b: &Exp, rel: Rel, limits: Limits) -> Result<Tree, TooLarge> {
    let (a, b) = (a.fold(), b.fold());
    match (a.kind(), b.kind(), rel) {
        (Kind::Undefined, _, _) | (_, Kind::Undefined, _) => Ok(Tree::False),
        (Kind::NegInf, _, Rel::Le) => Ok(Tree::True),
        (_, Kind::NegInf, Rel::Le) => Ok(Tree::False),
        (_, Kind::NegInf, _) => Ok(Tree::False),
        (Kind::NegInf, _, _) => Ok(Tree::True),
        _ => match (&a, &b) {
            (Exp::Affine(x), Exp::Affine(y)) => Ok(atom_tree(Atom::new(x.sub(y), rel))),
            _ => compare_forms(&form(&a, limits)?, &form(&b, limits)?, rel, limits),
        },
    }
}

fn eq_tree(a: &Exp, b: &Exp, limits: Limits) -> Result<Tree, TooLarge> {
    let (a, b) = (a.fold(), b.fold());
    match (a.kind(), b.kind()) {
        (Kind::Undefined, _) | (_, Kind::Undefined) => Ok(Tree::False),
        (Kind::NegInf, Kind::NegInf) => Ok(Tree::True),
        (Kind::NegInf, _) | (_, Kind::NegInf) => Ok(Tree::False),
        _ => match (&a, &b) {
            (Exp::Affine(x), Exp::Affine(y)) => Ok(atom_tree(Atom::new(x.sub(y), Rel::Eq))),
            _ => {
                let (f, g) = (form(&a, limits)?, form(&b, limits)?);
                Ok(and_of(vec![
                    compare_forms(&f, &g, Rel::Le, limits)?,
                    compare_forms(&g, &f, Rel::Le, limits)?,
                ]))
            }
        },
    }
}

/// Depth-first enumeration of the feasible conjunctions of a tree.
struct Dnf<'b> {
    budget: &'b mut Budget,
    out: Vec<Vec<Atom>>,
    stop_first: bool,
    max_out: usize,
}

impl Dnf<'_> {
    fn lp(&mut self, atoms: &[Atom]) -> Result<Option<Point>, Exhausted> {
        self.budget.spend(atoms.len())?;
        Ok(lp::feasible(atoms))
    }

    /// Returns `true` to stop (first model found, or too many disjuncts).
    fn go(
        &mut self,
        pending: &mut Vec<&Tree>,
        current: &mut Vec<Atom>,
        witness: &Point,
    ) -> Result<bool, Exhausted> {
        let Some(tree) = pending.pop() else {
            self.out.push(current.clone());
            return Ok(self.stop_first || self.out.len() > self.max_out);
        };
        let stop = match tree {
            Tree::True => self.go(pending, current, witness)?,
            Tree::False => false,
            Tree::Atom(a) => self.extend(pending, current, witness, std::slice::from_ref(a))?,
            Tree::And(items) if items.iter().all(|t| matches!(t, Tree::Atom(_))) => {
                // A conjunction of atoms is added at once: one feasibility test and
                // one stack frame, however many atoms it has.
                let atoms: Vec<Atom> = items
                    .iter()
                    .filter_map(|t| match t {
                        Tree::Atom(a) => Some(a.clone()),
                        _ => None,
                    })
                    .collect();
                self.extend(pending, current, witness, &atoms)?
            }
            Tree::And(items) => {
                let mark = pending.len();
                pending.extend(items.iter().rev());
                let stop = self.go(pending, current, witness)?;
                pending.truncate(mark);
                stop
            }
            Tree::Or(items) => {
                let mut stop = false;
                for item in items {
                    pending.push(item);
                    stop = self.go(pending, current, witness)?;
                    pending.pop();
                    if stop {
                        break;
                    }
                }
                stop
            }
        };
        pending.push(tree);
        Ok(stop)
    }

    fn extend(
        &mut self,
        pending: &mut Vec<&Tree>,
        current: &mut Vec<Atom>,
        witness: &Point,
        atoms: &[Atom],
    ) -> Result<bool, Exhausted> {
        let mark = current.len();
        current.extend(atoms.iter().cloned());
        let stop = if atoms.iter().all(|a| a.holds_at(witness)) {
            self.go(pending, current, witness)?
        } else {
            match self.lp(current)? {
                Some(w) => self.go(pending, current, &w)?,
                None => false,
            }
        };
        current.truncate(mark);
        Ok(stop)
    }
}

/// The feasible conjunctions of `tree` (all of them, or the first one).
fn enumerate(
    tree: &Tree,
    budget: &mut Budget,
    stop_first: bool,
    max_out: usize,
) -> Result<Vec<Vec<Atom>>, Exhausted> {
    let mut dnf = Dnf {
        budget,
        out: Vec::new(),
        stop_first,
        max_out,
    };
    let mut pending = vec![tree];
    dnf.go(&mut pending, &mut Vec::new(), &Point::new())?;
    Ok(dnf.out)
}

fn feasible(atoms: &[Atom], budget: &mut Budget) -> Result<bool, Exhausted> {
    budget.spend(atoms.len())?;
    Ok(lp::feasible(atoms).is_some())
}

/// Scales `g` so that its symbolic coefficients are coprime integers (a positive
/// factor, so the direction of an inequality is kept); for equalities the first
/// coefficient is also made positive.
fn normalize(atom: Atom) -> Atom {
    // Coefficients n_i/d_i times lcm(d_i) are integers; dividing by their gcd makes
    // them coprime.
    let mut lcm_den = BigInt::one();
    for q in atom.g.terms().values() {
        lcm_den = lcm_den.lcm(q.denom());
    }
    let mut gcd = BigInt::zero();
    for q in atom.g.terms().values() {
        let integer = (q * Rational::from_integer(lcm_den.clone())).to_integer();
        gcd = gcd.gcd(&integer);
    }
    if gcd.is_zero() {
        return atom;
    }
    let mut g = atom.g.scale(&Rational::new(lcm_den, gcd.abs()));
    if atom.rel == Rel::Eq && g.terms().values().next().is_some_and(Signed::is_negative) {
        g = g.neg();
    }
    Atom::new(g, atom.rel)
}

/// Reduced row echelon form of the equalities `g = 0` (columns in symbol order).
fn rref(rows: Vec<Exponent>) -> Vec<Exponent> {
    let mut rows = rows;
    let mut pivots: Vec<(String, Exponent)> = Vec::new();
    let mut symbols: Vec<String> = rows
        .iter()
        .flat_map(|r| r.terms().keys().cloned())
        .collect();
    symbols.sort();
    symbols.dedup();
    for s in symbols {
        let Some(pos) = rows.iter().position(|r| r.terms().contains_key(&s)) else {
            continue;
        };
        let row = rows.remove(pos);
        let Some(c) = row.terms().get(&s).cloned() else {
            continue;
        };
        let row = row.scale(&(Rational::one() / c));
        let eliminate = |r: &Exponent| match r.terms().get(&s) {
            Some(k) => r.sub(&row.scale(k)),
            None => r.clone(),
        };
        rows = rows.iter().map(eliminate).collect();
        for (_, p) in pivots.iter_mut() {
            *p = eliminate(p);
        }
        pivots.push((s, row));
    }
    pivots.into_iter().map(|(_, r)| r).collect()
}

/// Replaces the pivot symbols of the RREF rows in `g`.
fn reduce(g: &Exponent, rows: &[Exponent]) -> Exponent {
    let mut g = g.clone();
    for row in rows {
        let Some(pivot) = row.terms().keys().next() else {
            continue;
        };
        if let Some(k) = g.terms().get(pivot).cloned() {
            g = g.sub(&row.scale(&k));
        }
    }
    g
}

fn atom_text(atom: &Atom) -> String {
    atom_to_cond(atom).to_string()
}

/// Canonical form of a feasible conjunction: equalities (RREF) first, then the
/// irredundant inequalities, each normalized, sorted by text.
fn canonical_conjunction(atoms: Vec<Atom>, budget: &mut Budget) -> Result<Vec<Atom>, Exhausted> {
    let mut atoms: Vec<Atom> = atoms
        .into_iter()
        .filter(|a| a.constant_truth().is_none())
        .map(normalize)
        .collect();
    atoms.sort();
    atoms.dedup();
    // Inequalities g <= 0 that cannot be strict are implicit equalities.
    for i in 0..atoms.len() {
        if atoms[i].rel != Rel::Le {
            continue;
        }
        let mut test = atoms.clone();
        test[i].rel = Rel::Lt;
        if !feasible(&test, budget)? {
            atoms[i].rel = Rel::Eq;
        }
    }
    let (eqs, ineqs): (Vec<Atom>, Vec<Atom>) = atoms.into_iter().partition(|a| a.rel == Rel::Eq);
    let rows = rref(eqs.into_iter().map(|a| a.g).collect());
    let eq_atoms: Vec<Atom> = rows
        .iter()
        .map(|r| normalize(Atom::new(r.clone(), Rel::Eq)))
        .collect();
    let mut ineqs: Vec<Atom> = ineqs
        .into_iter()
        .map(|a| normalize(Atom::new(reduce(&a.g, &rows), a.rel)))
        .filter(|a| a.constant_truth().is_none())
        .collect();
    // g < 0 makes g <= 0 redundant.
    let strict: Vec<Exponent> = ineqs
        .iter()
        .filter(|a| a.rel == Rel::Lt)
        .map(|a| a.g.clone())
        .collect();
    ineqs.retain(|a| a.rel == Rel::Lt || !strict.contains(&a.g));
    ineqs.sort_by_cached_key(|a| (atom_text(a), a.clone()));
    ineqs.dedup();
    let mut i = 0;
    while i < ineqs.len() {
        let mut test: Vec<Atom> = eq_atoms.clone();
        test.extend(
            ineqs
                .iter()
                .enumerate()
                .filter(|(k, _)| *k != i)
                .map(|(_, a)| a.clone()),
        );
        test.extend(ineqs[i].negate());
        if feasible(&test, budget)? {
            i += 1;
        } else {
            ineqs.remove(i);
        }
    }
    let mut eq_atoms = eq_atoms;
    eq_atoms.sort_by_cached_key(|a| (atom_text(a), a.clone()));
    eq_atoms.extend(ineqs);
    Ok(eq_atoms)
}

/// Whether the conjunction `inner` implies the conjunction `outer`.
fn implies(inner: &[Atom], outer: &[Atom], budget: &mut Budget) -> Result<bool, Exhausted> {
    for a in outer {
        for n in a.negate() {
            let mut test = inner.to_vec();
            test.push(n);
            if feasible(&test, budget)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Merges two disjuncts that differ in one atom when their union is a conjunction:
/// `A ∧ g < 0` ∪ `A ∧ g = 0` = `A ∧ g ≤ 0`, and `A ∧ g ≤ 0` ∪ `A ∧ -g < 0` = `A`.
fn merge_pair(x: &[Atom], y: &[Atom]) -> Option<Vec<Atom>> {
    let only_x: Vec<&Atom> = x.iter().filter(|a| !y.contains(a)).collect();
    let only_y: Vec<&Atom> = y.iter().filter(|a| !x.contains(a)).collect();
    let ([a], [b]) = (only_x.as_slice(), only_y.as_slice()) else {
        return None;
    };
    let common: Vec<Atom> = x.iter().filter(|t| y.contains(t)).cloned().collect();
    let opposite = a.g == b.g.neg();
    let same = a.g == b.g;
    let merged = match (a.rel, b.rel) {
        (Rel::Lt, Rel::Eq) if same || opposite => Some(Atom::new(a.g.clone(), Rel::Le)),
        (Rel::Eq, Rel::Lt) if same || opposite => Some(Atom::new(b.g.clone(), Rel::Le)),
        (Rel::Le, Rel::Lt) | (Rel::Lt, Rel::Le) | (Rel::Le, Rel::Le) if opposite => None,
        _ => return None,
    };
    let mut out = common;
    out.extend(merged);
    Some(out)
}

fn atom_to_cond(atom: &Atom) -> Cond {
    // Terms with positive coefficients (and a positive constant) on the left, the
    // others on the right: `g = P - N + k  ⋈ 0` reads `P + k⁺ ⋈ N + k⁻`.
    let mut lhs = Exponent::zero();
    let mut rhs = Exponent::zero();
    for (s, q) in atom.g.terms() {
        let term = Exponent::symbol(s).scale(q);
        if q.is_positive() {
            lhs = lhs.add(&term);
        } else {
            rhs = rhs.sub(&term);
        }
    }
    let k = atom.g.constant_part();
    if k.is_positive() {
        lhs = lhs.plus(k);
    } else {
        rhs = rhs.plus(&-k);
    }
    let (l, r) = (Exp::Affine(lhs), Exp::Affine(rhs));
    match atom.rel {
        Rel::Le => Cond::Le(l, r),
        Rel::Lt => Cond::Lt(l, r),
        Rel::Eq => Cond::Eq(l, r),
    }
}

fn conjunction_to_cond(atoms: &[Atom]) -> Cond {
    match atoms {
        [] => Cond::True,
        [a] => atom_to_cond(a),
        _ => Cond::And(atoms.iter().map(atom_to_cond).collect()),
    }
}

impl Cond {
    /// `a ≤ b`.
    pub fn le(a: Exp, b: Exp) -> Cond {
        Cond::Le(a, b)
    }

    /// `a < b`.
    pub fn lt(a: Exp, b: Exp) -> Cond {
        Cond::Lt(a, b)
    }

    /// `a = b`.
    pub fn eq(a: Exp, b: Exp) -> Cond {
        Cond::Eq(a, b)
    }

    /// Truth at a point: `None` when a needed symbol has no value (and the other
    /// operands of an `and`/`or` do not decide it).
    pub fn holds_at(&self, point: &BTreeMap<String, Rational>) -> Option<bool> {
        let compare = |a: &Exp, b: &Exp, test: fn(&super::Ext, &super::Ext) -> bool| match (
            a.try_eval(point),
            b.try_eval(point),
        ) {
            (Err(EvalError::Undefined), _) | (_, Err(EvalError::Undefined)) => Some(false),
            (Ok(x), Ok(y)) => Some(test(&x, &y)),
            _ => None,
        };
        match self {
            Cond::True => Some(true),
            Cond::False => Some(false),
            Cond::Le(a, b) => compare(a, b, |x, y| x <= y),
            Cond::Lt(a, b) => compare(a, b, |x, y| x < y),
            Cond::Eq(a, b) => compare(a, b, |x, y| x == y),
            Cond::And(items) => {
                let mut unknown = false;
                for item in items {
                    match item.holds_at(point) {
                        Some(false) => return Some(false),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                (!unknown).then_some(true)
            }
            Cond::Or(items) => {
                let mut unknown = false;
                for item in items {
                    match item.holds_at(point) {
                        Some(true) => return Some(true),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                (!unknown).then_some(false)
            }
        }
    }

    /// The exact negation (a comparison with an undefined side is false, so its
    /// negation is true).
    pub fn negated(&self) -> Cond {
        let defined = |a: &Exp, b: &Exp| !a.is_undefined() && !b.is_undefined();
        match self {
            Cond::True => Cond::False,
            Cond::False => Cond::True,
            Cond::Le(a, b) if defined(a, b) => Cond::Lt(b.clone(), a.clone()),
            Cond::Lt(a, b) if defined(a, b) => Cond::Le(b.clone(), a.clone()),
            Cond::Eq(a, b) if defined(a, b) => Cond::Or(vec![
                Cond::Lt(a.clone(), b.clone()),
                Cond::Lt(b.clone(), a.clone()),
            ]),
            Cond::Le(..) | Cond::Lt(..) | Cond::Eq(..) => Cond::True,
            Cond::And(items) => Cond::Or(items.iter().map(Cond::negated).collect()),
            Cond::Or(items) => Cond::And(items.iter().map(Cond::negated).collect()),
        }
    }

    fn tree(&self, limits: Limits) -> Result<Tree, TooLarge> {
        let tree = match self {
            Cond::True => Tree::True,
            Cond::False => Tree::False,
            Cond::Le(a, b) => compare_tree(a, b, Rel::Le, limits)?,
            Cond::Lt(a, b) => compare_tree(a, b, Rel::Lt, limits)?,
            Cond::Eq(a, b) => eq_tree(a, b, limits)?,
            Cond::And(items) => and_of(
                items
                    .iter()
                    .map(|c| c.tree(limits))
                    .collect::<Result<_, _>>()?,
            ),
            Cond::Or(items) => or_of(
                items
                    .iter()
                    .map(|c| c.tree(limits))
                    .collect::<Result<_, _>>()?,
            ),
        };
        if tree.size() > limits.atoms {
            return Err(TooLarge);
        }
        Ok(tree)
    }

    /// Exact: is there a real point satisfying the condition? (Conditions whose
    /// case split exceeds about a million atoms are answered `true`, conservatively.)
    pub fn is_satisfiable(&self) -> bool {
        let limits = Limits {
            leaves: DECIDE_LEAF_LIMIT,
            atoms: DECIDE_TREE_LIMIT,
        };
        match self.tree(limits) {
            Ok(tree) => tree_satisfiable(&tree),
            Err(TooLarge) => true,
        }
    }

    /// Exact: does the condition hold at every real point? (Conditions whose case split
    /// exceeds about a million atoms are answered `false`, conservatively.)
    pub fn is_valid(&self) -> bool {
        let limits = Limits {
            leaves: DECIDE_LEAF_LIMIT,
            atoms: DECIDE_TREE_LIMIT,
        };
        match self.tree(limits) {
            Ok(tree) => !tree_satisfiable(&tree.negate()),
            Err(TooLarge) => false,
        }
    }

    /// An equivalent condition in disjunctive normal form over affine atoms, with
    /// infeasible disjuncts and redundant atoms removed (see the module docs). The
    /// result is deterministic; `True`/`False` when the condition is valid/unsatisfiable.
    /// If the case split would exceed 4096 disjuncts (or its linear-programming budget),
    /// the condition is returned unchanged.
    pub fn simplify(&self) -> Cond {
        let mut budget = Budget::new(SIMPLIFY_LP_BUDGET);
        self.simplify_within(&mut budget)
            .unwrap_or_else(|TooLarge| self.clone())
    }

    fn simplify_within(&self, budget: &mut Budget) -> Result<Cond, TooLarge> {
        let limits = Limits {
            leaves: SIMPLIFY_LEAF_LIMIT,
            atoms: SIMPLIFY_TREE_LIMIT,
        };
        let tree = self.tree(limits)?;
        let raw = enumerate(&tree, budget, false, MAX_DISJUNCTS)?;
        if raw.len() > MAX_DISJUNCTS {
            return Err(TooLarge);
        }
        let mut disjuncts: Vec<Vec<Atom>> = Vec::new();
        for conj in raw {
            let c = canonical_conjunction(conj, budget)?;
            if c.is_empty() {
                return Ok(Cond::True);
            }
            disjuncts.push(c);
        }
        let mut disjuncts = clean_disjunction(disjuncts, budget)?;
        if disjuncts.is_empty() {
            return Ok(Cond::False);
        }
        if disjuncts.iter().any(Vec::is_empty) {
            return Ok(Cond::True);
        }
        if disjuncts.len() > 1 {
            // The union may still cover everything (e.g. `a <= 0 or 0 < a`).
            let negation = and_of(
                disjuncts
                    .iter()
                    .map(|d| or_of(d.iter().flat_map(Atom::negate).map(atom_tree).collect()))
                    .collect(),
            );
            if enumerate(&negation, budget, true, 1)?.is_empty() {
                return Ok(Cond::True);
            }
        }
        let mut conds: Vec<Cond> = disjuncts
            .drain(..)
            .map(|d| conjunction_to_cond(&d))
            .collect();
        conds.sort_by_cached_key(|c| (c.to_string(), c.clone()));
        Ok(match conds.len() {
            1 => conds.pop().unwrap_or(Cond::False),
            _ => Cond::Or(conds),
        })
    }
}

/// Sorts, deduplicates, drops disjuncts contained in others and merges neighbours,
/// until nothing changes.
fn clean_disjunction(
    mut disjuncts: Vec<Vec<Atom>>,
    budget: &mut Budget,
) -> Result<Vec<Vec<Atom>>, Exhausted> {
    loop {
        disjuncts.sort_by_cached_key(|d| (conjunction_to_cond(d).to_string(), d.clone()));
        disjuncts.dedup();
        let mut i = 0;
        while i < disjuncts.len() {
            let mut contained = false;
            for j in 0..disjuncts.len() {
                if j != i && implies(&disjuncts[i], &disjuncts[j], budget)? {
                    contained = true;
                    break;
                }
            }
            if contained {
                disjuncts.remove(i);
            } else {
                i += 1;
            }
        }
        let mut merged = None;
        'search: for i in 0..disjuncts.len() {
            for j in i + 1..disjuncts.len() {
                if let Some(m) = merge_pair(&disjuncts[i], &disjuncts[j]) {
                    merged = Some((i, j, m));
                    break 'search;
                }
            }
        }
        let Some((i, j, m)) = merged else {
            return Ok(disjuncts);
        };
        disjuncts.remove(j);
        disjuncts.remove(i);
        let m = canonical_conjunction(m, budget)?;
        if m.is_empty() {
            return Ok(vec![Vec::new()]);
        }
        disjuncts.push(m);
    }
}

fn tree_satisfiable(tree: &Tree) -> bool {
    let mut budget = Budget::unlimited();
    // An unlimited budget is never exhausted.
    enumerate(tree, &mut budget, true, 1).map_or(true, |found| !found.is_empty())
}

impl fmt::Display for Cond {
    /// `a1 + b1 = 0 and 1/2 <= a3 + b3`, `(a < 0 and b < 0) or c = 1`, `true`, `false`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let joined = |f: &mut fmt::Formatter<'_>, items: &[Cond], sep: &str, is_and: bool| {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    write!(f, " {sep} ")?;
                }
                let needs_parens = match item {
                    Cond::Or(inner) => is_and && inner.len() > 1,
                    Cond::And(inner) => !is_and && inner.len() > 1,
                    _ => false,
                };
                if needs_parens {
                    write!(f, "({item})")?;
                } else {
                    write!(f, "{item}")?;
                }
            }
            Ok(())
        };
        match self {
            Cond::True => write!(f, "true"),
            Cond::False => write!(f, "false"),
            Cond::Le(a, b) => write!(f, "{a} <= {b}"),
            Cond::Lt(a, b) => write!(f, "{a} < {b}"),
            Cond::Eq(a, b) => write!(f, "{a} = {b}"),
            Cond::And(items) if items.is_empty() => write!(f, "true"),
            Cond::Or(items) if items.is_empty() => write!(f, "false"),
            Cond::And(items) => joined(f, items, "and", true),
            Cond::Or(items) => joined(f, items, "or", false),
        }
    }
}
