//! Exact comparison of two exponent expressions over all real values of the symbols.

use super::cond::Cond;
use super::expr::{Exp, Kind};
use std::cmp::Ordering;
use std::fmt;

/// How two expressions compare over all real values of their symbols.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// The same ordering holds at every point.
    Always(Ordering),
    /// The ordering depends on the point: one `(region, ordering)` case per ordering
    /// that occurs, in the order `Less`, `Equal`, `Greater`. The regions are simplified
    /// conditions; they are disjoint and together cover the whole space.
    Depends(Vec<(Cond, Ordering)>),
    /// One side is undefined (a negative multiple of -∞), so nothing compares.
    Undefined,
}

impl Comparison {
    /// The orderings that occur somewhere, in increasing order.
    pub fn orderings(&self) -> Vec<Ordering> {
        match self {
            Comparison::Always(o) => vec![*o],
            Comparison::Depends(cases) => cases.iter().map(|(_, o)| *o).collect(),
            Comparison::Undefined => Vec::new(),
        }
    }

    /// True when `a ≤ b` everywhere (`a` is never greater).
    pub fn always_le(&self) -> bool {
        self != &Comparison::Undefined && !self.orderings().contains(&Ordering::Greater)
    }

    /// True when `a ≥ b` everywhere (`a` is never less).
    pub fn always_ge(&self) -> bool {
        self != &Comparison::Undefined && !self.orderings().contains(&Ordering::Less)
    }

    /// The region where the given ordering holds (`True`/`False` when it always/never
    /// does).
    pub fn region(&self, ordering: Ordering) -> Cond {
        match self {
            Comparison::Always(o) if *o == ordering => Cond::True,
            Comparison::Depends(cases) => cases
                .iter()
                .find(|(_, o)| *o == ordering)
                .map_or(Cond::False, |(c, _)| c.clone()),
            _ => Cond::False,
        }
    }
}

fn ordering_text(o: Ordering) -> &'static str {
    match o {
        Ordering::Less => "less",
        Ordering::Equal => "equal",
        Ordering::Greater => "greater",
    }
}

impl fmt::Display for Comparison {
    /// `always less`, `undefined`, or `less if a < b; equal if b <= a`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Comparison::Always(o) => write!(f, "always {}", ordering_text(*o)),
            Comparison::Undefined => write!(f, "undefined"),
            Comparison::Depends(cases) => {
                for (i, (region, o)) in cases.iter().enumerate() {
                    if i > 0 {
                        write!(f, "; ")?;
                    }
                    write!(f, "{} if {region}", ordering_text(*o))?;
                }
                Ok(())
            }
        }
    }
}

/// Exact comparison of `a` and `b` over all real values of their symbols (-∞ is below
/// every finite value and equal to itself).
///
/// Each of `a < b`, `a = b`, `a > b` is tested for satisfiability exactly; when only
/// one is possible the answer is [`Comparison::Always`], otherwise the possible ones are
/// returned with their simplified regions (a polyhedral case split).
pub fn compare(a: &Exp, b: &Exp) -> Comparison {
    let (a, b) = (a.fold(), b.fold());
    if a.kind() == Kind::Undefined || b.kind() == Kind::Undefined {
        return Comparison::Undefined;
    }
    let cases = [
        (Cond::Lt(a.clone(), b.clone()), Ordering::Less),
        (Cond::Eq(a.clone(), b.clone()), Ordering::Equal),
        (Cond::Lt(b, a), Ordering::Greater),
    ];
    let mut possible: Vec<(Cond, Ordering)> = cases
        .into_iter()
        .filter(|(c, _)| c.is_satisfiable())
        .collect();
    match possible.len() {
        // Cannot happen for defined values (the order is total); kept total anyway.
        0 => Comparison::Undefined,
        1 => Comparison::Always(possible.remove(0).1),
        _ => Comparison::Depends(
            possible
                .into_iter()
                .map(|(c, o)| (c.simplify(), o))
                .collect(),
        ),
    }
}
