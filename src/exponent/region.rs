//! Closed polyhedral regions of the symbol space, on which piecewise-affine exponents
//! are evaluated to plain affine forms, and the way back: from one affine form per
//! region to a max-min expression of the whole function.
//!
//! Canonicalizing every symbolic exponent of a long program as a max-min expression
//! blows up (the forms of later instructions multiply those of earlier ones). On a
//! region where every comparison the program makes is decided, every exponent is just
//! an affine form, and the regions where the decisions differ are found lazily: a
//! comparison that the current region cannot decide names the hyperplane to split on
//! ([`Undecided`]). Regions are closed (`g ≤ 0` and `g ≥ 0` overlap on `g = 0`): every
//! operation of the exponent algebra is continuous, so the value on a boundary is the
//! common limit of both sides and nothing is lost by not treating hyperplanes apart.
//! What is not continuous is the question asked of a value: "does it grow?" is
//! `e > 0`, false on the boundary `e = 0`; such boundaries are analysed as lower-
//! dimensional regions of their own ([`Region::face`]).

use super::affine::{Exponent, Rational};
use super::expr::{Exp, Kind};
use super::lp::{self, eval_affine, Atom, Point, Rel};
use num_traits::{One, Signed, Zero};
use std::collections::HashMap;

/// Where an affine form lies on a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// `g ≤ 0` on the whole region (and `g < 0` somewhere).
    NonPositive,
    /// `g ≥ 0` on the whole region (and `g > 0` somewhere).
    NonNegative,
    /// `g = 0` on the whole region.
    Zero,
}

/// A comparison the region cannot decide: `g` takes both signs on it, so the region
/// must be split into `g ≤ 0` and `g ≥ 0` before the evaluation can go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undecided(pub Exponent);

/// The value of an exponent on a region where it is affine.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Piece {
    /// Exactly zero quantity (the same on every region: -∞ is structural).
    NegInf,
    /// An affine form.
    Affine(Exponent),
    /// A negative multiple of -∞ (structural as well).
    Undefined,
}

impl Piece {
    /// The piece as an expression.
    pub fn to_exp(&self) -> Exp {
        match self {
            Piece::NegInf => Exp::NegInf,
            Piece::Affine(e) => Exp::Affine(e.clone()),
            Piece::Undefined => Exp::undefined(),
        }
    }
}

/// A closed convex polyhedron `{x : g_i(x) ≤ 0 for all i}` of the symbol space, with a
/// point inside it and the signs already decided on it.
#[derive(Clone, Debug)]
pub struct Region {
    atoms: Vec<Atom>,
    witness: Point,
    known: HashMap<Exponent, Side>,
    lps: usize,
}

/// `g` scaled by a positive factor so that its first coefficient is ±1 (the sign of a
/// form does not change under positive scaling, so one cache entry serves all multiples).
fn direction(g: &Exponent) -> Exponent {
    match g.terms().values().next() {
        Some(first) if !first.abs().is_one() => g.scale(&(Rational::one() / first.abs())),
        _ => g.clone(),
    }
}

impl Default for Region {
    fn default() -> Self {
        Region::whole()
    }
}

impl Region {
    /// The whole symbol space.
    pub fn whole() -> Region {
        Region {
            atoms: Vec::new(),
            witness: Point::new(),
            known: HashMap::new(),
            lps: 0,
        }
    }

    /// The two halves `g ≤ 0` and `g ≥ 0` of the region, for a `g` that takes both
    /// signs on it (both halves then have the full dimension of the region).
    pub fn split(&self, g: &Exponent) -> [Region; 2] {
        [g.clone(), g.neg()].map(|h| {
            let mut atoms = self.atoms.clone();
            atoms.push(Atom::new(direction(&h), Rel::Le));
            // A point strictly inside the half exists because g takes both signs.
            let mut strict = atoms.clone();
            strict.push(Atom::new(h.clone(), Rel::Lt));
            let witness = lp::feasible(&strict)
                .or_else(|| lp::feasible(&atoms))
                .unwrap_or_default();
            let mut known = self.known.clone();
            let key = direction(&h);
            known.insert(key, Side::NonPositive);
            Region {
                atoms,
                witness,
                known,
                lps: 0,
            }
        })
    }

    /// The face `{g = 0}` of the region, for a `g` that is `≥ 0` on it; `None` when `g`
    /// is positive on the whole region (the face is empty).
    ///
    /// A face is lower-dimensional, so signs decided on the region need not carry
    /// over: a form that is `≥ 0` and somewhere positive on the region may vanish on
    /// the whole face. The face therefore starts with no decided signs but that of `g`.
    pub fn face(&self, g: &Exponent) -> Option<Region> {
        let mut atoms = self.atoms.clone();
        atoms.push(Atom::new(direction(g), Rel::Le));
        atoms.push(Atom::new(direction(&g.neg()), Rel::Le));
        let witness = lp::feasible(&atoms)?;
        let mut known = HashMap::new();
        known.insert(direction(g), Side::Zero);
        Some(Region {
            atoms,
            witness,
            known,
            lps: 1,
        })
    }

    /// The defining inequalities `g ≤ 0`.
    pub fn constraints(&self) -> impl Iterator<Item = &Exponent> {
        self.atoms.iter().map(|a| &a.g)
    }

    /// A point of the region.
    pub fn witness(&self) -> &Point {
        &self.witness
    }

    /// Number of linear programs solved on this region so far (a work measure).
    pub fn lp_count(&self) -> usize {
        self.lps
    }

    fn feasible_with(&mut self, extra: Atom) -> bool {
        self.lps += 1;
        let mut atoms = self.atoms.clone();
        atoms.push(extra);
        lp::feasible(&atoms).is_some()
    }

    /// The sign of `g` on the region, or `None` when it takes both signs.
    pub fn side(&mut self, g: &Exponent) -> Option<Side> {
        if let Some(c) = g.as_constant() {
            return Some(if c.is_zero() {
                Side::Zero
            } else if c.is_positive() {
                Side::NonNegative
            } else {
                Side::NonPositive
            });
        }
        let key = direction(g);
        let flipped = |s: Side| match s {
            Side::NonPositive => Side::NonNegative,
            Side::NonNegative => Side::NonPositive,
            Side::Zero => Side::Zero,
        };
        if let Some(s) = self.known.get(&key) {
            return Some(*s);
        }
        let neg_key = direction(&g.neg());
        if let Some(s) = self.known.get(&neg_key) {
            return Some(flipped(*s));
        }
        // The witness already rules out one of the two one-sided answers.
        let at = eval_affine(&key, &self.witness);
        let can_be_positive = at.is_positive() || self.feasible_with(Atom::new(key.neg(), Rel::Lt));
        let can_be_negative =
            at.is_negative() || self.feasible_with(Atom::new(key.clone(), Rel::Lt));
        let side = match (can_be_positive, can_be_negative) {
            (true, true) => return None,
            (true, false) => Side::NonNegative,
            (false, true) => Side::NonPositive,
            (false, false) => Side::Zero,
        };
        self.known.insert(key, side);
        Some(side)
    }

    /// Whether `a ≥ b` on the whole region (`Ok(false)` when `a ≤ b` there).
    fn at_least(&mut self, a: &Exponent, b: &Exponent) -> Result<bool, Undecided> {
        let g = a.sub(b);
        match self.side(&g) {
            Some(Side::NonNegative) | Some(Side::Zero) => Ok(true),
            Some(Side::NonPositive) => Ok(false),
            None => Err(Undecided(g)),
        }
    }

    /// The value of `e` on the region: the affine form it equals there, or the first
    /// comparison the region does not decide.
    pub fn evaluate(&mut self, e: &Exp) -> Result<Piece, Undecided> {
        let folded = e.fold();
        match folded.kind() {
            Kind::NegInf => Ok(Piece::NegInf),
            Kind::Undefined => Ok(Piece::Undefined),
            Kind::Finite => self.affine(&folded).map(Piece::Affine),
        }
    }

    /// Evaluation of a finite, folded expression (-∞ can only occur inside max, where
    /// it is neutral).
    fn affine(&mut self, e: &Exp) -> Result<Exponent, Undecided> {
        match e {
            Exp::Affine(x) => Ok(x.clone()),
            Exp::Add(items) => {
                let mut total = Exponent::zero();
                for item in items {
                    total = total.add(&self.affine(item)?);
                }
                Ok(total)
            }
            Exp::Scale(q, inner) => Ok(self.affine(inner)?.scale(q)),
            Exp::Max(items) | Exp::Min(items) => {
                let is_max = matches!(e, Exp::Max(_));
                let mut best: Option<Exponent> = None;
                for item in items {
                    if item.kind() == Kind::NegInf {
                        continue;
                    }
                    let x = self.affine(item)?;
                    best = Some(match best {
                        None => x,
                        Some(b) => {
                            let b_wins = self.at_least(&b, &x)? == is_max;
                            if b_wins {
                                b
                            } else {
                                x
                            }
                        }
                    });
                }
                // Folding guarantees a finite max/min has a finite operand.
                Ok(best.unwrap_or_else(Exponent::zero))
            }
            // Unreachable for a folded finite expression; -∞ has no affine value.
            Exp::NegInf => Ok(Exponent::zero()),
        }
    }
}

/// The function that equals `values[i]` on `regions[i]`, as a max-min expression, for
/// closed convex regions covering the whole space and a continuous function.
///
/// By Ovchinnikov's max-min theorem, with `S_i` the affine pieces that are `≥` the
/// value of region `i` on all of it, the function is `max_i min S_i`: each min-term
/// is at most the function everywhere (a convexity argument) and equals it on region
/// `i`. Sets that contain another set only give smaller min-terms and are dropped.
/// The result is not simplified (see [`Exp::simplify`]).
pub fn from_pieces(regions: &mut [Region], values: &[Piece]) -> Exp {
    let Some(first) = values.first() else {
        return Exp::NegInf;
    };
    if values.iter().all(|v| v == first) {
        return first.to_exp();
    }
    // -∞ and undefinedness are structural, so they are the same on every region; an
    // inconsistent input has no sensible merge, and the max of the pieces is the
    // conservative bound.
    let mut pieces: Vec<Exponent> = Vec::new();
    for v in values {
        match v {
            Piece::Affine(e) => {
                if !pieces.contains(e) {
                    pieces.push(e.clone());
                }
            }
            _ => return Exp::max_of(values.iter().map(Piece::to_exp)),
        }
    }
    pieces.sort();
    let mut sets: Vec<Vec<usize>> = Vec::new();
    for (region, value) in regions.iter_mut().zip(values) {
        let Piece::Affine(v) = value else { continue };
        let mut set = Vec::new();
        for (k, p) in pieces.iter().enumerate() {
            // `p ≥ v` everywhere on the region (undecided means no).
            if p == v || matches!(region.at_least(p, v), Ok(true)) {
                set.push(k);
            }
        }
        if !sets.contains(&set) {
            sets.push(set);
        }
    }
    let minimal: Vec<&Vec<usize>> = sets
        .iter()
        .filter(|s| {
            !sets
                .iter()
                .any(|t| t.len() < s.len() && t.iter().all(|k| s.contains(k)))
        })
        .collect();
    Exp::max_of(
        minimal
            .into_iter()
            .map(|s| Exp::min_of(s.iter().map(|k| Exp::Affine(pieces[*k].clone())))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Exp {
        text.parse().unwrap_or(Exp::NegInf)
    }

    /// Splits the whole space until `e` is affine everywhere and merges back.
    fn roundtrip(e: &Exp) -> Exp {
        let mut done: Vec<(Region, Piece)> = Vec::new();
        let mut stack = vec![Region::whole()];
        while let Some(mut r) = stack.pop() {
            match r.evaluate(e) {
                Ok(p) => done.push((r, p)),
                Err(Undecided(g)) => stack.extend(r.split(&g)),
            }
        }
        let (mut regions, values): (Vec<Region>, Vec<Piece>) = done.into_iter().unzip();
        from_pieces(&mut regions, &values)
    }

    #[test]
    fn piecewise_functions_survive_splitting_and_merging() {
        for text in [
            "max(a, 0)",
            "min(a, b) + max(b, 1 - a)",
            "max(min(a, 2*b), min(c, 0), a - c)",
            "-max(a, b, c) + min(0, a + b)",
            "a + b",
        ] {
            let e = parse(text);
            let back = roundtrip(&e);
            assert_eq!(back.simplify(), e.simplify(), "{text}");
        }
    }

    #[test]
    fn structural_values_stay() {
        assert_eq!(roundtrip(&Exp::NegInf), Exp::NegInf);
        let mut r = Region::whole();
        let want = Exponent::symbol("a").plus(&Rational::one());
        assert_eq!(r.evaluate(&parse("max(a, a + 1)")), Ok(Piece::Affine(want)));
    }
}
