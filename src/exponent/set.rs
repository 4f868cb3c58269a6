//! Convex pieces of the symbol space bounded by affine inequalities, some of them
//! strict, and unions of such pieces written as conditions.
//!
//! The region-wise analysis of a symbolic program ends with closed regions on which a
//! quantity is known to blow up (its exponent `e` is `≥ 0` there). On the boundary
//! `e = 0` the quantity is Θ(1), which is not a blow-up, so the exact set where it blows
//! up is `region ∩ {e > 0}`: a convex set with one strict inequality. [`union_cond`]
//! turns a union of such sets into a condition with exact boundaries.

use super::affine::Exponent;
use super::cond::Cond;
use super::expr::Exp;
use super::lp::{self, Atom, Rel};
use super::region::Region;

/// Most convex pieces [`ConvexSet::covered_by`] creates before answering `false`.
pub const COVER_BUDGET: usize = 4096;

/// A convex set `{x : g(x) ≤ 0 or g(x) < 0 for each of its inequalities}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvexSet {
    atoms: Vec<Atom>,
}

impl ConvexSet {
    /// The closed region itself.
    pub fn of_region(region: &Region) -> ConvexSet {
        ConvexSet {
            atoms: region
                .constraints()
                .map(|g| Atom::new(g.clone(), Rel::Le))
                .collect(),
        }
    }

    /// The part of the set where `e > 0`.
    pub fn where_positive(mut self, e: &Exponent) -> ConvexSet {
        self.atoms.push(Atom::new(e.neg(), Rel::Lt));
        self
    }

    /// Whether the set has a point.
    pub fn is_empty(&self) -> bool {
        lp::feasible(&self.atoms).is_none()
    }

    /// Whether the set lies inside `{atom}` (no point of it violates the atom).
    fn within(&self, atom: &Atom) -> bool {
        atom.negate().into_iter().all(|outside| {
            let mut test = self.atoms.clone();
            test.push(outside);
            lp::feasible(&test).is_none()
        })
    }

    /// Whether the set meets the convex set `{every atom of hull}`.
    fn meets(&self, hull: &[Atom]) -> bool {
        let mut test = self.atoms.clone();
        test.extend(hull.iter().cloned());
        lp::feasible(&test).is_some()
    }

    /// Whether every point of the set lies in one of `covers`. Exact when it answers
    /// `true`; `false` also when deciding would take more than `COVER_BUDGET` pieces.
    ///
    /// The covers are subtracted one by one: `P ∖ C` for convex `P` and
    /// `C = {a_1, …, a_k}` is the disjoint union of the convex pieces
    /// `P ∧ a_1 ∧ … ∧ a_{j-1} ∧ ¬a_j`; the set is covered when nothing is left.
    pub fn covered_by(&self, covers: &[ConvexSet]) -> bool {
        if self.is_empty() {
            return true;
        }
        let mut left: Vec<Vec<Atom>> = vec![self.atoms.clone()];
        let mut budget = COVER_BUDGET;
        for cover in covers {
            let mut next = Vec::new();
            for piece in left {
                let mut test = piece.clone();
                test.extend(cover.atoms.iter().cloned());
                if lp::feasible(&test).is_none() {
                    next.push(piece);
                    continue;
                }
                let mut prefix = piece;
                for atom in &cover.atoms {
                    for outside in atom.negate() {
                        let mut rest = prefix.clone();
                        rest.push(outside);
                        if lp::feasible(&rest).is_some() {
                            next.push(rest);
                        }
                    }
                    prefix.push(atom.clone());
                }
            }
            if next.is_empty() {
                return true;
            }
            if next.len() > budget {
                return false;
            }
            budget -= next.len();
            left = next;
        }
        false
    }

    /// The set as a condition (a conjunction, not simplified).
    pub fn to_cond(&self) -> Cond {
        Cond::And(self.atoms.iter().map(atom_cond).collect())
    }
}

fn atom_cond(atom: &Atom) -> Cond {
    let (g, zero) = (Exp::Affine(atom.g.clone()), Exp::Affine(Exponent::zero()));
    match atom.rel {
        Rel::Le => Cond::Le(g, zero),
        Rel::Lt => Cond::Lt(g, zero),
        Rel::Eq => Cond::Eq(g, zero),
    }
}

/// The union of the sets `inside`, given that `inside` and `outside` together cover the
/// space and do not overlap, as a simplified condition.
///
/// When the union is convex it is the intersection of the inequalities of the pieces
/// that hold on every piece of `inside` — each tried strict first, since a boundary
/// shared with `outside` belongs to one side only. That intersection contains the
/// union; it equals it exactly when it meets no piece of `outside`, which is checked.
/// Otherwise the condition is the disjunction of the pieces.
pub fn union_cond(inside: &[ConvexSet], outside: &[ConvexSet]) -> Cond {
    let inside: Vec<&ConvexSet> = inside.iter().filter(|s| !s.is_empty()).collect();
    if inside.is_empty() {
        return Cond::False;
    }
    if outside.iter().all(ConvexSet::is_empty) {
        return Cond::True;
    }
    let mut candidates: Vec<Exponent> = Vec::new();
    for set in &inside {
        for atom in &set.atoms {
            if !candidates.contains(&atom.g) {
                candidates.push(atom.g.clone());
            }
        }
    }
    let hull: Vec<Atom> = candidates
        .into_iter()
        .filter_map(|g| {
            [Rel::Lt, Rel::Le]
                .into_iter()
                .map(|rel| Atom::new(g.clone(), rel))
                .find(|atom| inside.iter().all(|set| set.within(atom)))
        })
        .collect();
    let convex = outside.iter().all(|set| !set.meets(&hull));
    let cond = if convex {
        Cond::And(hull.iter().map(atom_cond).collect())
    } else {
        Cond::Or(inside.iter().map(|set| set.to_cond()).collect())
    };
    cond.simplify()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exponent::Rational;
    use std::collections::BTreeMap;

    fn a() -> Exponent {
        Exponent::symbol("a")
    }

    fn at(value: i64) -> BTreeMap<String, Rational> {
        BTreeMap::from([("a".to_string(), Rational::from_integer(value.into()))])
    }

    /// The line split at a = 0: stable on a ≤ 0, and on a ≥ 0 a quantity of exponent a,
    /// which blows up only where a > 0; the boundary point a = 0 is stable.
    #[test]
    fn a_blow_up_excludes_the_boundary_where_its_exponent_is_zero() {
        let whole = Region::whole();
        let [left, right] = whole.split(&a());
        // left: a ≤ 0 (stable); right: a ≥ 0, blows up with exponent a.
        let blowup = ConvexSet::of_region(&right).where_positive(&a());
        let stable = ConvexSet::of_region(&left);
        let cond = union_cond(std::slice::from_ref(&blowup), std::slice::from_ref(&stable));
        assert_eq!(cond.holds_at(&at(0)), Some(false), "{cond}");
        assert_eq!(cond.holds_at(&at(1)), Some(true), "{cond}");
        let back = union_cond(&[stable], &[blowup]);
        assert_eq!(back.holds_at(&at(0)), Some(true), "{back}");
        assert_eq!(back.holds_at(&at(1)), Some(false), "{back}");
    }

    /// Two pieces on either side of a stable interval: the union is not convex, and
    /// neither endpoint of the interval is in it.
    #[test]
    fn a_non_convex_union_keeps_strict_boundaries() {
        let whole = Region::whole();
        let [left, rest] = whole.split(&a());
        let one = a().plus(&Rational::from_integer((-1).into()));
        let [middle, right] = rest.split(&one);
        let pieces = [
            ConvexSet::of_region(&left).where_positive(&a().neg()),
            ConvexSet::of_region(&right).where_positive(&one),
        ];
        let cond = union_cond(&pieces, &[ConvexSet::of_region(&middle)]);
        for (x, want) in [(-1, true), (0, false), (1, false), (2, true)] {
            assert_eq!(cond.holds_at(&at(x)), Some(want), "a = {x}: {cond}");
        }
    }
}
