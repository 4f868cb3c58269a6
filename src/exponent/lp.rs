//! Exact feasibility of conjunctions of linear (in)equalities over the rationals.
//!
//! Every decision of the exponent algebra (is a region empty? is an atom redundant? is
//! a piece of a max/min ever active?) reduces to asking whether a finite system
//! `g_i(x) ≤ 0`, `g_i(x) < 0`, `g_i(x) = 0` with rational-affine `g_i` has a real
//! solution. We answer with a dense two-phase simplex over `BigRational` using
//! Bland's rule, which cannot cycle, so the answer is exact and deterministic. The
//! arithmetic is exact fractions of 128-bit integers, redone with big rationals in the
//! rare case of an overflow.
//! Strict inequalities are handled with one extra variable `t ∈ [0, 1]` added to
//! every strict row and maximized: the strict system is feasible iff the optimum
//! has `t > 0`.

use super::affine::{Exponent, Rational};
use num_traits::{One, Signed, Zero};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A point: value of each symbol (symbols that are absent count as 0).
pub(crate) type Point = BTreeMap<String, Rational>;

/// Relation of an affine form to zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Rel {
    /// `g = 0`
    Eq,
    /// `g ≤ 0`
    Le,
    /// `g < 0`
    Lt,
}

impl Rel {
    /// Whether `value rel 0` holds.
    pub(crate) fn holds(self, value: &Rational) -> bool {
        match self {
            Rel::Eq => Zero::is_zero(value),
            Rel::Le => !Signed::is_positive(value),
            Rel::Lt => Signed::is_negative(value),
        }
    }
}

/// A linear atom `g rel 0`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Atom {
    /// The affine form compared with zero.
    pub(crate) g: Exponent,
    /// How it is compared.
    pub(crate) rel: Rel,
}

impl Atom {
    /// `g rel 0`.
    pub(crate) fn new(g: Exponent, rel: Rel) -> Atom {
        Atom { g, rel }
    }

    /// Truth at a point (absent symbols count as 0).
    pub(crate) fn holds_at(&self, point: &Point) -> bool {
        self.rel.holds(&eval_affine(&self.g, point))
    }

    /// `Some(truth)` when `g` is a constant.
    pub(crate) fn constant_truth(&self) -> Option<bool> {
        self.g.as_constant().map(|c| self.rel.holds(c))
    }

    /// The negation as a disjunction of atoms.
    pub(crate) fn negate(&self) -> Vec<Atom> {
        let minus = self.g.neg();
        match self.rel {
            // not (g <= 0)  <=>  -g < 0
            Rel::Le => vec![Atom::new(minus, Rel::Lt)],
            // not (g < 0)  <=>  -g <= 0
            Rel::Lt => vec![Atom::new(minus, Rel::Le)],
            // not (g = 0)  <=>  g < 0 or -g < 0
            Rel::Eq => vec![
                Atom::new(self.g.clone(), Rel::Lt),
                Atom::new(minus, Rel::Lt),
            ],
        }
    }
}

/// Value of an affine form at a point; absent symbols count as 0.
pub(crate) fn eval_affine(e: &Exponent, point: &Point) -> Rational {
    let mut value = e.constant_part().clone();
    for (s, q) in e.terms() {
        if let Some(x) = point.get(s) {
            value += q * x;
        }
    }
    value
}

/// Returns a point satisfying every atom, or `None` if the system is infeasible.
pub(crate) fn feasible(atoms: &[Atom]) -> Option<Point> {
    let mut rows: Vec<&Atom> = Vec::new();
    for atom in atoms {
        match atom.constant_truth() {
            Some(true) => {}
            Some(false) => return None,
            None => rows.push(atom),
        }
    }
    if rows.is_empty() {
        return Some(Point::new());
    }
    let symbols: Vec<String> = rows
        .iter()
        .flat_map(|a| a.g.terms().keys().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Exact machine-word fractions first; they only give up on overflow, in which case
    // the same exact algorithm runs again on big rationals.
    if let Some(answer) = solve::<Small>(&symbols, &rows) {
        return answer;
    }
    solve::<Rational>(&symbols, &rows).unwrap_or(None)
}

/// Exact ordered field arithmetic; `None` means the representation overflowed.
trait Field: Clone + fmt::Debug {
    fn nil() -> Self;
    fn unit() -> Self;
    fn from_rational(q: &Rational) -> Option<Self>;
    fn to_rational(&self) -> Rational;
    fn add(&self, other: &Self) -> Option<Self>;
    fn sub(&self, other: &Self) -> Option<Self>;
    fn mul(&self, other: &Self) -> Option<Self>;
    /// `other` is non-zero.
    fn div(&self, other: &Self) -> Option<Self>;
    fn neg(&self) -> Option<Self>;
    fn signum(&self) -> Ordering;
    fn compare(&self, other: &Self) -> Option<Ordering>;
    fn is_nil(&self) -> bool {
        self.signum() == Ordering::Equal
    }
    fn is_pos(&self) -> bool {
        self.signum() == Ordering::Greater
    }
}

impl Field for Rational {
    fn nil() -> Self {
        <Rational as Zero>::zero()
    }
    fn unit() -> Self {
        <Rational as One>::one()
    }
    fn from_rational(q: &Rational) -> Option<Self> {
        Some(q.clone())
    }
    fn to_rational(&self) -> Rational {
        self.clone()
    }
    fn add(&self, other: &Self) -> Option<Self> {
        Some(self + other)
    }
    fn sub(&self, other: &Self) -> Option<Self> {
        Some(self - other)
    }
    fn mul(&self, other: &Self) -> Option<Self> {
        Some(self * other)
    }
    fn div(&self, other: &Self) -> Option<Self> {
        Some(self / other)
    }
    fn neg(&self) -> Option<Self> {
        Some(-self)
    }
    fn signum(&self) -> Ordering {
        if Signed::is_positive(self) {
            Ordering::Greater
        } else if Signed::is_negative(self) {
            Ordering::Less
        } else {
            Ordering::Equal
        }
    }
    fn compare(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A reduced fraction of machine integers (`den > 0`), with overflow detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Small {
    num: i128,
    den: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        let r = a % b;
        a = b;
        b = r;
    }
    a
}

impl Small {
    fn new(num: i128, den: i128) -> Option<Small> {
        // i128::MIN has no absolute value; treating it as an overflow keeps every
        // stored value symmetric.
        if den == 0 || num == i128::MIN || den == i128::MIN {
            return None;
        }
        let g = gcd(num, den).max(1);
        let (mut num, mut den) = (num / g, den / g);
        if den < 0 {
            num = num.checked_neg()?;
            den = den.checked_neg()?;
        }
        Some(Small { num, den })
    }
}

impl Field for Small {
    fn nil() -> Self {
        Small { num: 0, den: 1 }
    }
    fn unit() -> Self {
        Small { num: 1, den: 1 }
    }
    fn from_rational(q: &Rational) -> Option<Self> {
        // Inputs are kept within 64 bits so that a product of two fits 128 bits.
        let num = i64::try_from(q.numer()).ok()?;
        let den = i64::try_from(q.denom()).ok()?;
        Small::new(i128::from(num), i128::from(den))
    }
    fn to_rational(&self) -> Rational {
        Rational::new(self.num.into(), self.den.into())
    }
    fn add(&self, other: &Self) -> Option<Self> {
        if other.num == 0 {
            return Some(*self);
        }
        if self.num == 0 {
            return Some(*other);
        }
        let g = gcd(self.den, other.den);
        let l = (self.den / g).checked_mul(other.den)?;
        let a = self.num.checked_mul(l / self.den)?;
        let b = other.num.checked_mul(l / other.den)?;
        Small::new(a.checked_add(b)?, l)
    }
    fn sub(&self, other: &Self) -> Option<Self> {
        self.add(&other.neg()?)
    }
    fn mul(&self, other: &Self) -> Option<Self> {
        if self.num == 0 || other.num == 0 {
            return Some(Small::nil());
        }
        // Cross-reduce first to keep intermediate values small.
        let g1 = gcd(self.num, other.den);
        let g2 = gcd(other.num, self.den);
        let num = (self.num / g1).checked_mul(other.num / g2)?;
        let den = (self.den / g2).checked_mul(other.den / g1)?;
        Small::new(num, den)
    }
    fn div(&self, other: &Self) -> Option<Self> {
        let inverse = Small::new(other.den, other.num)?;
        self.mul(&inverse)
    }
    fn neg(&self) -> Option<Self> {
        Some(Small {
            num: self.num.checked_neg()?,
            den: self.den,
        })
    }
    fn signum(&self) -> Ordering {
        self.num.cmp(&0)
    }
    fn compare(&self, other: &Self) -> Option<Ordering> {
        Some(
            self.num
                .checked_mul(other.den)?
                .cmp(&other.num.checked_mul(self.den)?),
        )
    }
}

/// Dense simplex tableau `A y = b`, `y ≥ 0`, `b ≥ 0` over the non-negative columns
/// (slacks, the strictness variable `t`, artificials); the free symbols have been
/// eliminated beforehand and are recovered from their defining rows.
struct Tableau<T> {
    /// Rows of `[A | b]`; the right-hand side is the last entry.
    rows: Vec<Vec<T>>,
    /// Basic column of each row.
    basis: Vec<usize>,
}

impl<T: Field> Tableau<T> {
    fn width(&self) -> usize {
        self.rows.first().map_or(0, |r| r.len() - 1)
    }

    fn value(&self, col: usize) -> T {
        let w = self.width();
        self.basis
            .iter()
            .position(|&b| b == col)
            .map_or_else(T::nil, |r| self.rows[r][w].clone())
    }

    fn pivot(&mut self, r: usize, c: usize) -> Option<()> {
        pivot_rows(&mut self.rows, r, c)?;
        self.basis[r] = c;
        Some(())
    }

    /// Maximizes `Σ cost_j y_j` over columns `< allowed` with Bland's rule, stopping
    /// early once column `stop_when_positive` is positive. `None` on overflow.
    fn maximize(
        &mut self,
        cost: &[T],
        allowed: usize,
        stop_when_positive: Option<usize>,
    ) -> Option<()> {
        let w = self.width();
        loop {
            if let Some(col) = stop_when_positive {
                if self.value(col).is_pos() {
                    return Some(());
                }
            }
            let mut is_basic = vec![false; w];
            for &b in &self.basis {
                is_basic[b] = true;
            }
            // Bland: the lowest-index column with a positive reduced cost enters.
            let mut entering = None;
            for j in 0..allowed {
                if is_basic[j] {
                    continue;
                }
                let mut reduced = cost[j].clone();
                for (row, &b) in self.rows.iter().zip(&self.basis) {
                    if !cost[b].is_nil() && !row[j].is_nil() {
                        reduced = reduced.sub(&cost[b].mul(&row[j])?)?;
                    }
                }
                if reduced.is_pos() {
                    entering = Some(j);
                    break;
                }
            }
            let Some(c) = entering else { return Some(()) };
            // Ratio test; ties go to the lowest basic index (Bland).
            let mut leaving: Option<(usize, T)> = None;
            for (i, row) in self.rows.iter().enumerate() {
                if !row[c].is_pos() {
                    continue;
                }
                let ratio = row[w].div(&row[c])?;
                let better = match &leaving {
                    None => true,
                    Some((l, best)) => match ratio.compare(best)? {
                        Ordering::Less => true,
                        Ordering::Equal => self.basis[i] < self.basis[*l],
                        Ordering::Greater => false,
                    },
                };
                if better {
                    leaving = Some((i, ratio));
                }
            }
            // Unbounded cannot happen: phase 1 is bounded by 0 and phase 2 by t <= 1.
            let Some((r, _)) = leaving else {
                return Some(());
            };
            self.pivot(r, c)?;
        }
    }
}

/// Gauss–Jordan pivot on `(r, c)` over all rows. `None` on overflow.
fn pivot_rows<T: Field>(rows: &mut [Vec<T>], r: usize, c: usize) -> Option<()> {
    let p = rows[r][c].clone();
    for x in rows[r].iter_mut() {
        if !x.is_nil() {
            *x = x.div(&p)?;
        }
    }
    let pivot_row = rows[r].clone();
    for (i, row) in rows.iter_mut().enumerate() {
        if i == r || row[c].is_nil() {
            continue;
        }
        let f = row[c].clone();
        for (x, p) in row.iter_mut().zip(&pivot_row) {
            if !p.is_nil() {
                *x = x.sub(&f.mul(p)?)?;
            }
        }
    }
    Some(())
}

/// Decides feasibility in arithmetic `T`; the outer `None` means `T` overflowed.
///
/// Columns: the free symbols, then `t` (if some atom is strict), then one slack per
/// inequality, then the slack of `t ≤ 1`. Rows: `g·x + [t] + [s] = -c` per atom and
/// `t + s_t = 1`.
fn solve<T: Field>(symbols: &[String], atoms: &[&Atom]) -> Option<Option<Point>> {
    let d = symbols.len();
    let index: BTreeMap<&str, usize> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let strict = atoms.iter().any(|a| a.rel == Rel::Lt);
    let t_col = strict.then_some(d);
    let mut next = d + usize::from(strict);
    let mut slack_of = Vec::with_capacity(atoms.len());
    for atom in atoms {
        if atom.rel == Rel::Eq {
            slack_of.push(None);
        } else {
            slack_of.push(Some(next));
            next += 1;
        }
    }
    let t_slack = strict.then_some(next);
    let structural = next + usize::from(strict);
    let mut rows: Vec<Vec<T>> = Vec::with_capacity(atoms.len() + 1);
    // Which column (if any) is a unit column of each row, usable as an initial basis.
    let mut own: Vec<Option<usize>> = Vec::with_capacity(atoms.len() + 1);
    for (r, atom) in atoms.iter().enumerate() {
        let mut row = vec![T::nil(); structural + 1];
        for (s, q) in atom.g.terms() {
            if let Some(&i) = index.get(s.as_str()) {
                row[i] = T::from_rational(q)?;
            }
        }
        if let Some(c) = slack_of[r] {
            row[c] = T::unit();
        }
        if let (Rel::Lt, Some(t)) = (atom.rel, t_col) {
            row[t] = T::unit();
        }
        row[structural] = T::from_rational(&-atom.g.constant_part())?;
        rows.push(row);
        own.push(slack_of[r]);
    }
    if let (Some(t), Some(s)) = (t_col, t_slack) {
        let mut row = vec![T::nil(); structural + 1];
        row[t] = T::unit();
        row[s] = T::unit();
        row[structural] = T::unit();
        rows.push(row);
        own.push(Some(s));
    }
    // Eliminate the free symbols: each is solved from one row (equalities preferred),
    // and that row is set aside to recover the symbol's value at the end.
    let mut defining: Vec<(usize, usize)> = Vec::new();
    for j in 0..d {
        let used = |r: usize| defining.iter().any(|&(_, dr)| dr == r);
        let candidates: Vec<usize> = (0..rows.len())
            .filter(|&r| !used(r) && !rows[r][j].is_nil())
            .collect();
        let Some(&r) = candidates
            .iter()
            .find(|&&r| own[r].is_none())
            .or_else(|| candidates.first())
        else {
            continue;
        };
        pivot_rows(&mut rows, r, j)?;
        defining.push((j, r));
    }
    let mut kept_rows = Vec::new();
    let mut kept_own = Vec::new();
    let mut defining_rows = Vec::new();
    for (r, row) in rows.into_iter().enumerate() {
        if let Some(&(j, _)) = defining.iter().find(|&&(_, dr)| dr == r) {
            defining_rows.push((j, row));
        } else {
            kept_rows.push(row);
            kept_own.push(own[r]);
        }
    }
    // Initial basis: the row's own slack when the right-hand side is non-negative,
    // otherwise an artificial variable (after negating the row).
    let mut artificial_rows = Vec::new();
    let mut basis = Vec::with_capacity(kept_rows.len());
    let mut keep = Vec::with_capacity(kept_rows.len());
    for (r, row) in kept_rows.iter_mut().enumerate() {
        let all_zero = row[..structural].iter().all(Field::is_nil);
        if all_zero {
            // 0 = rhs: an equation that the elimination reduced to a constant.
            if !row[structural].is_nil() {
                return Some(None);
            }
            keep.push(false);
            continue;
        }
        keep.push(true);
        let negative = row[structural].signum() == Ordering::Less;
        match kept_own[r] {
            Some(c) if !negative => basis.push(c),
            _ => {
                if negative {
                    for x in row.iter_mut() {
                        *x = x.neg()?;
                    }
                }
                artificial_rows.push(basis.len());
                basis.push(usize::MAX);
            }
        }
    }
    let mut rows: Vec<Vec<T>> = kept_rows
        .into_iter()
        .zip(&keep)
        .filter_map(|(row, &k)| k.then_some(row))
        .collect();
    let first_artificial = structural;
    let width = structural + artificial_rows.len();
    for row in rows.iter_mut() {
        let rhs = row.pop().unwrap_or_else(T::nil);
        row.resize(width, T::nil());
        row.push(rhs);
    }
    for (k, &r) in artificial_rows.iter().enumerate() {
        rows[r][first_artificial + k] = T::unit();
        basis[r] = first_artificial + k;
    }
    let mut tab = Tableau { rows, basis };
    if !artificial_rows.is_empty() {
        // Phase 1: minimize the sum of the artificial variables.
        let mut cost = vec![T::nil(); width];
        let minus_one = T::unit().neg()?;
        for c in cost.iter_mut().skip(first_artificial) {
            *c = minus_one.clone();
        }
        tab.maximize(&cost, width, None)?;
        if tab
            .basis
            .iter()
            .zip(&tab.rows)
            .any(|(&b, row)| b >= first_artificial && row[width].is_pos())
        {
            return Some(None);
        }
        // Drive zero-valued artificials out of the basis; a row with nothing else is a
        // redundant equation.
        let mut r = 0;
        while r < tab.rows.len() {
            if tab.basis[r] >= first_artificial {
                match (0..first_artificial).find(|&j| !tab.rows[r][j].is_nil()) {
                    Some(j) => tab.pivot(r, j)?,
                    None => {
                        tab.rows.remove(r);
                        tab.basis.remove(r);
                        continue;
                    }
                }
            }
            r += 1;
        }
    }
    // Phase 2: maximize t (only when some atom is strict).
    if let Some(t) = t_col {
        let mut cost = vec![T::nil(); width];
        cost[t] = T::unit();
        tab.maximize(&cost, first_artificial, Some(t))?;
        if !tab.value(t).is_pos() {
            return Some(None);
        }
    }
    let mut point = Point::new();
    for s in symbols {
        point.insert(s.clone(), <Rational as Zero>::zero());
    }
    for (j, row) in defining_rows {
        // x_j + Σ a_k y_k = rhs over the non-negative columns.
        let mut x = row[structural].clone();
        for (k, a) in row.iter().enumerate().take(structural).skip(d) {
            if !a.is_nil() {
                x = x.sub(&a.mul(&tab.value(k))?)?;
            }
        }
        point.insert(symbols[j].clone(), x.to_rational());
    }
    Some(Some(point))
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigInt;

    fn q(n: i64, d: i64) -> Rational {
        Rational::new(BigInt::from(n), BigInt::from(d))
    }

    fn lin(terms: &[(&str, i64)], c: Rational) -> Exponent {
        let mut e = Exponent::constant(c);
        for (s, k) in terms {
            e = e.add(&Exponent::symbol(s).scale(&q(*k, 1)));
        }
        e
    }

    fn check(atoms: &[Atom]) -> Option<Point> {
        let p = feasible(atoms);
        if let Some(p) = &p {
            for a in atoms {
                assert!(a.holds_at(p), "witness {p:?} violates {a:?}");
            }
        }
        p
    }

    #[test]
    fn detects_contradictory_bounds() {
        // a + b <= 0 and a + b >= 1
        let atoms = [
            Atom::new(lin(&[("a", 1), ("b", 1)], q(0, 1)), Rel::Le),
            Atom::new(lin(&[("a", -1), ("b", -1)], q(1, 1)), Rel::Le),
        ];
        assert!(check(&atoms).is_none());
    }

    #[test]
    fn strictness_matters() {
        // a <= 0 and a >= 0 is the point a = 0; a < 0 and a >= 0 is empty.
        let le = [
            Atom::new(lin(&[("a", 1)], q(0, 1)), Rel::Le),
            Atom::new(lin(&[("a", -1)], q(0, 1)), Rel::Le),
        ];
        assert!(check(&le).is_some());
        let lt = [
            Atom::new(lin(&[("a", 1)], q(0, 1)), Rel::Lt),
            Atom::new(lin(&[("a", -1)], q(0, 1)), Rel::Le),
        ];
        assert!(check(&lt).is_none());
    }

    #[test]
    fn finds_points_with_negative_coordinates_and_equalities() {
        // a = -3/2, a + b < -5, b > -7
        let atoms = [
            Atom::new(lin(&[("a", 1)], q(3, 2)), Rel::Eq),
            Atom::new(lin(&[("a", 1), ("b", 1)], q(5, 1)), Rel::Lt),
            Atom::new(lin(&[("b", -1)], q(-7, 1)), Rel::Lt),
        ];
        let p = check(&atoms).expect("feasible");
        assert_eq!(p["a"], q(-3, 2));
    }

    #[test]
    fn redundant_equalities_are_fine() {
        let atoms = [
            Atom::new(lin(&[("a", 1), ("b", 1)], q(-1, 1)), Rel::Eq),
            Atom::new(lin(&[("a", 2), ("b", 2)], q(-2, 1)), Rel::Eq),
            Atom::new(lin(&[("a", 1)], q(0, 1)), Rel::Lt),
        ];
        assert!(check(&atoms).is_some());
        let bad = [
            Atom::new(lin(&[("a", 1), ("b", 1)], q(-1, 1)), Rel::Eq),
            Atom::new(lin(&[("a", 2), ("b", 2)], q(-3, 1)), Rel::Eq),
        ];
        assert!(check(&bad).is_none());
    }

    /// A fixed seed keeps CI reproducible; set `PROPTEST_RNG_SEED` to explore others.
    fn config() -> proptest::test_runner::Config {
        let mut config = proptest::test_runner::Config::with_cases(200);
        if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
            config.rng_seed = proptest::test_runner::RngSeed::Fixed(0x1b);
        }
        config
    }

    #[test]
    fn huge_coefficients_fall_back_to_big_rationals() {
        // 10^30 does not fit the machine fractions.
        let big = Rational::from_integer(num_traits::pow(BigInt::from(10), 30));
        let atoms = [
            Atom::new(Exponent::symbol("a").scale(&big).plus(&q(-1, 1)), Rel::Le),
            Atom::new(lin(&[("a", -1)], q(1, 1_000_000)), Rel::Le),
        ];
        assert!(check(&atoms).is_none());
        let atoms = [
            Atom::new(Exponent::symbol("a").scale(&big).plus(&q(-1, 1)), Rel::Le),
            Atom::new(lin(&[("a", -1)], q(0, 1)), Rel::Lt),
        ];
        assert!(check(&atoms).is_some());
    }

    proptest::proptest! {
        #![proptest_config(config())]

        /// The machine-fraction simplex agrees with the big-rational one.
        #[test]
        fn machine_fractions_agree_with_big_rationals(
            rows in proptest::collection::vec(
                (-3i64..=3, -3i64..=3, -3i64..=3, -6i64..=6, 0u8..3),
                1..7,
            )
        ) {
            let atoms: Vec<Atom> = rows
                .iter()
                .map(|&(x, y, z, c, r)| {
                    let rel = [Rel::Eq, Rel::Le, Rel::Lt][usize::from(r)];
                    Atom::new(lin(&[("x", x), ("y", y), ("z", z)], q(c, 2)), rel)
                })
                .filter(|a| a.constant_truth().is_none())
                .collect();
            let refs: Vec<&Atom> = atoms.iter().collect();
            let symbols: Vec<String> = ["x", "y", "z"]
                .iter()
                .filter(|s| atoms.iter().any(|a| a.g.terms().contains_key(**s)))
                .map(|s| s.to_string())
                .collect();
            let small = solve::<Small>(&symbols, &refs);
            let big = solve::<Rational>(&symbols, &refs);
            proptest::prop_assert!(big.is_some());
            if let (Some(small), Some(big)) = (small, big) {
                proptest::prop_assert_eq!(small.is_some(), big.is_some());
                for p in small.iter().chain(big.iter()) {
                    for a in &atoms {
                        proptest::prop_assert!(a.holds_at(p));
                    }
                }
            }
        }
    }

    #[test]
    fn constant_atoms_are_decided_directly() {
        assert!(check(&[Atom::new(Exponent::constant(q(1, 2)), Rel::Le)]).is_none());
        assert!(check(&[Atom::new(Exponent::constant(q(0, 1)), Rel::Le)]).is_some());
        assert!(check(&[Atom::new(Exponent::constant(q(0, 1)), Rel::Lt)]).is_none());
    }
}
