//! A condition as data: a union of conjunctions of affine inequalities over the
//! symbols, with exact rational coefficients, for scripts that read `--json` output.
//!
//! A simplified [`Cond`] is already such a union (see [`Cond::simplify`]); this module
//! only reads it in a fixed orientation, `Σ coeffs[s]·s + constant ⋈ 0` with `⋈` one
//! of `>=`, `>`, `=`, so that a reader never has to parse the English text.

use super::affine::{format_rational, Exponent, Rational};
use super::cond::Cond;
use super::expr::Exp;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// How an affine form compares with zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// `≥ 0`
    AtLeast,
    /// `> 0`
    Above,
    /// `= 0`
    Equal,
}

impl Relation {
    /// The relation as written in JSON: `>=`, `>` or `=`.
    pub fn symbol(self) -> &'static str {
        match self {
            Relation::AtLeast => ">=",
            Relation::Above => ">",
            Relation::Equal => "=",
        }
    }
}

/// `Σ coeffs[s]·s + constant ⋈ 0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inequality {
    /// The coefficient of each symbol (symbols with coefficient 0 are absent).
    pub coeffs: BTreeMap<String, Rational>,
    /// The constant term.
    pub constant: Rational,
    /// How the form compares with zero.
    pub relation: Relation,
}

impl Inequality {
    /// `form ⋈ 0`.
    fn new(form: &Exponent, relation: Relation) -> Inequality {
        Inequality {
            coeffs: form.terms().clone(),
            constant: form.constant_part().clone(),
            relation,
        }
    }

    /// Whether the inequality holds at a point (absent symbols count as 0).
    pub fn holds_at(&self, point: &BTreeMap<String, Rational>) -> bool {
        let mut value = self.constant.clone();
        for (s, q) in &self.coeffs {
            if let Some(x) = point.get(s) {
                value += q * x;
            }
        }
        let zero = Rational::from_integer(0.into());
        match self.relation {
            Relation::AtLeast => value >= zero,
            Relation::Above => value > zero,
            Relation::Equal => value == zero,
        }
    }

    /// `{"coeffs": {"a3": "1", "c": "2"}, "constant": "-1/2", "relation": ">="}`.
    pub fn to_json(&self) -> Value {
        let coeffs: serde_json::Map<String, Value> = self
            .coeffs
            .iter()
            .map(|(s, q)| (s.clone(), Value::String(format_rational(q))))
            .collect();
        json!({
            "coeffs": coeffs,
            "constant": format_rational(&self.constant),
            "relation": self.relation.symbol(),
        })
    }
}

/// One comparison between affine sides as an inequality, or `None` when a side is not
/// affine.
fn comparison(cond: &Cond) -> Option<Inequality> {
    let affine = |e: &Exp| match e {
        Exp::Affine(x) => Some(x.clone()),
        _ => None,
    };
    Some(match cond {
        // a ≤ b  ⟺  b − a ≥ 0, and likewise for < and =.
        Cond::Le(a, b) => Inequality::new(&affine(b)?.sub(&affine(a)?), Relation::AtLeast),
        Cond::Lt(a, b) => Inequality::new(&affine(b)?.sub(&affine(a)?), Relation::Above),
        Cond::Eq(a, b) => Inequality::new(&affine(b)?.sub(&affine(a)?), Relation::Equal),
        _ => return None,
    })
}

/// A conjunction of comparisons (or one comparison, or `true`).
fn conjunction(cond: &Cond) -> Option<Vec<Inequality>> {
    match cond {
        Cond::True => Some(Vec::new()),
        Cond::And(items) => items.iter().map(comparison).collect(),
        other => comparison(other).map(|i| vec![i]),
    }
}

impl Cond {
    /// The condition as a union of conjunctions of affine inequalities (`[]` is false,
    /// `[[]]` is true), when it has that shape — which every simplified condition has
    /// unless its simplification gave up (see [`Cond::simplify`]); `None` otherwise.
    pub fn polyhedra(&self) -> Option<Vec<Vec<Inequality>>> {
        match self {
            Cond::False => Some(Vec::new()),
            Cond::Or(items) => items.iter().map(conjunction).collect(),
            other => conjunction(other).map(|c| vec![c]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Exp {
        text.parse().unwrap_or(Exp::NegInf)
    }

    /// `a3 + b3 < 1/2 or c = 1` reads as `1/2 − a3 − b3 > 0` or `1 − c = 0`, and the
    /// data agree with the condition at points on, inside and outside its boundaries.
    #[test]
    fn a_union_reads_as_inequalities_that_agree_with_the_condition() {
        let cond = Cond::Or(vec![
            Cond::Lt(parse("a3 + b3"), parse("1/2")),
            Cond::And(vec![
                Cond::Eq(parse("c"), parse("1")),
                Cond::Le(parse("0"), parse("a3")),
            ]),
        ]);
        let regions = cond.polyhedra().expect("a union of conjunctions");
        assert_eq!(regions.len(), 2);
        assert_eq!(regions[0][0].relation, Relation::Above);
        assert_eq!(regions[0][0].to_json()["constant"], "1/2");
        assert_eq!(regions[0][0].to_json()["coeffs"]["a3"], "-1");
        assert_eq!(regions[1][0].relation, Relation::Equal);
        let half = Rational::new(1.into(), 2.into());
        let one = Rational::from_integer(1.into());
        for (a3, b3, c) in [
            (half.clone(), Rational::from_integer(0.into()), one.clone()),
            (half.clone(), Rational::from_integer(0.into()), half.clone()),
            (
                Rational::from_integer(0.into()),
                Rational::from_integer(0.into()),
                half,
            ),
            (Rational::from_integer((-1).into()), one.clone(), one),
        ] {
            let point = BTreeMap::from([
                ("a3".to_string(), a3),
                ("b3".to_string(), b3),
                ("c".to_string(), c),
            ]);
            let data = regions
                .iter()
                .any(|conj| conj.iter().all(|i| i.holds_at(&point)));
            assert_eq!(Some(data), cond.holds_at(&point), "at {point:?}");
        }
    }

    #[test]
    fn constants_and_non_affine_sides() {
        assert_eq!(Cond::True.polyhedra(), Some(vec![Vec::new()]));
        assert_eq!(Cond::False.polyhedra(), Some(Vec::new()));
        let nested = Cond::Le(parse("max(a, 0)"), parse("1"));
        assert_eq!(nested.polyhedra(), None);
    }
}
