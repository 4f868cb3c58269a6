//! Piecewise-affine exponent expressions: sums, rational multiples, max and min of
//! rational-affine leaves, plus -∞ for quantities that are exactly zero.

use super::affine::{format_rational, Exponent, Rational};
use super::ext::Ext;
use super::{egraph, normal};
use num_traits::{One, Signed, Zero};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A piecewise-affine exponent expression.
///
/// Semantics: every leaf is finite; [`Exp::NegInf`] is -∞ (the exponent of an exact
/// zero), absorbing for `+` and `min` and neutral for `max`; `0·e = 0`. A negative
/// multiple of -∞ would be +∞, which no quantity of the engine can have: such an
/// expression is *undefined* (see [`Exp::is_undefined`]); it evaluates to `None`, every
/// operation on it stays undefined, and every comparison with it is false (like NaN).
///
/// Values built with the smart constructors ([`Exp::add`], [`Exp::max`], …) are
/// *folded*: -∞ and undefinedness only ever appear at the root, and affine parts are
/// summed. The enum is public so that callers can pattern-match; raw trees are
/// accepted everywhere and folded on demand.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Exp {
    /// Exactly zero quantity: n^{-∞}.
    NegInf,
    /// Rational-affine leaf.
    Affine(Exponent),
    /// Sum of the operands (the empty sum is 0).
    Add(Vec<Exp>),
    /// Maximum of the operands (the empty max is -∞).
    Max(Vec<Exp>),
    /// Minimum of the operands (the empty min is undefined).
    Min(Vec<Exp>),
    /// `q·e`; a negative `q` swaps max and min.
    Scale(Rational, Box<Exp>),
}

/// What a (possibly raw) expression denotes, decided structurally: leaves are finite,
/// so -∞ and undefinedness never depend on the values of the symbols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    NegInf,
    Finite,
    Undefined,
}

/// Why an evaluation has no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EvalError {
    /// A symbol has no value at the point.
    Missing,
    /// The expression is undefined (a negative multiple of -∞).
    Undefined,
}

impl Exp {
    /// The constant exponent `q`.
    pub fn constant(q: Rational) -> Exp {
        Exp::Affine(Exponent::constant(q))
    }

    /// An affine exponent.
    pub fn affine(e: Exponent) -> Exp {
        Exp::Affine(e)
    }

    /// The exponent consisting of one symbol.
    pub fn symbol(name: &str) -> Exp {
        Exp::Affine(Exponent::symbol(name))
    }

    /// The canonical undefined expression (a negative multiple of -∞, i.e. +∞).
    pub fn undefined() -> Exp {
        Exp::Scale(-Rational::one(), Box::new(Exp::NegInf))
    }

    /// True when the expression is undefined: it scales -∞ by a negative factor
    /// somewhere that is not absorbed (see the type-level docs).
    pub fn is_undefined(&self) -> bool {
        self.kind() == Kind::Undefined
    }

    /// True when the expression denotes -∞ (an exactly zero quantity).
    pub fn is_neg_inf(&self) -> bool {
        self.kind() == Kind::NegInf
    }

    /// `a + b`, folding affine parts, flattening sums and applying `-∞ + x = -∞`.
    // The name is part of the public API; `impl Add for Exp` delegates here.
    #[allow(clippy::should_implement_trait)]
    pub fn add(a: Exp, b: Exp) -> Exp {
        Exp::sum_of([a, b])
    }

    /// Sum of any number of expressions (the empty sum is 0).
    pub fn sum_of(items: impl IntoIterator<Item = Exp>) -> Exp {
        let mut affine = Exponent::zero();
        let mut rest = Vec::new();
        let mut neg_inf = false;
        let mut pending: Vec<Exp> = items.into_iter().collect();
        pending.reverse();
        while let Some(item) = pending.pop() {
            match item {
                _ if item.is_undefined_root() => return Exp::undefined(),
                Exp::NegInf => neg_inf = true,
                Exp::Affine(e) => affine = affine.add(&e),
                Exp::Add(items) => pending.extend(items.into_iter().rev()),
                other => rest.push(other),
            }
        }
        if neg_inf {
            return Exp::NegInf;
        }
        if rest.is_empty() {
            return Exp::Affine(affine);
        }
        if affine.is_zero() && rest.len() == 1 {
            return rest.pop().unwrap_or(Exp::Affine(affine));
        }
        let mut items = Vec::with_capacity(rest.len() + 1);
        if !affine.is_zero() {
            items.push(Exp::Affine(affine));
        }
        items.extend(rest);
        Exp::Add(items)
    }

    /// `max(a, b)`, flattening and applying `max(-∞, x) = x`.
    pub fn max(a: Exp, b: Exp) -> Exp {
        Exp::max_of([a, b])
    }

    /// Maximum of any number of expressions (the empty max is -∞).
    pub fn max_of(items: impl IntoIterator<Item = Exp>) -> Exp {
        Exp::lattice(items.into_iter().collect(), true)
    }

    /// `min(a, b)`, flattening and applying `min(-∞, x) = -∞`.
    pub fn min(a: Exp, b: Exp) -> Exp {
        Exp::min_of([a, b])
    }

    /// Minimum of any number of expressions (the empty min is undefined).
    pub fn min_of(items: impl IntoIterator<Item = Exp>) -> Exp {
        Exp::lattice(items.into_iter().collect(), false)
    }

    fn lattice(items: Vec<Exp>, is_max: bool) -> Exp {
        let mut args: Vec<Exp> = Vec::new();
        let mut pending = items;
        pending.reverse();
        let mut saw_neg_inf = false;
        while let Some(item) = pending.pop() {
            match item {
                _ if item.is_undefined_root() => return Exp::undefined(),
                Exp::NegInf => saw_neg_inf = true,
                Exp::Max(inner) if is_max => pending.extend(inner.into_iter().rev()),
                Exp::Min(inner) if !is_max => pending.extend(inner.into_iter().rev()),
                other => {
                    if !args.contains(&other) {
                        args.push(other);
                    }
                }
            }
        }
        if saw_neg_inf && !is_max {
            return Exp::NegInf;
        }
        // Two affine arguments that differ by a constant: only the larger (for max) or
        // smaller (for min) one can matter.
        let mut i = 0;
        while i < args.len() {
            let mut dropped = false;
            if let Exp::Affine(x) = &args[i] {
                for (j, other) in args.iter().enumerate() {
                    if let (true, Exp::Affine(y)) = (i != j, other) {
                        if x.terms() == y.terms() {
                            let x_loses = if is_max {
                                x.constant_part() <= y.constant_part()
                            } else {
                                x.constant_part() >= y.constant_part()
                            };
                            if x_loses {
                                dropped = true;
                                break;
                            }
                        }
                    }
                }
            }
            if dropped {
                args.remove(i);
            } else {
                i += 1;
            }
        }
        match args.len() {
            0 if is_max => Exp::NegInf,
            0 => Exp::undefined(),
            1 => args.pop().unwrap_or(Exp::NegInf),
            _ if is_max => Exp::Max(args),
            _ => Exp::Min(args),
        }
    }

    /// `q·a`: folds into affine leaves and sums, and pushes into max/min (swapping them
    /// when `q < 0`). `0·a = 0`; a negative multiple of -∞ is undefined.
    pub fn scale(q: Rational, a: Exp) -> Exp {
        if a.is_undefined_root() {
            return Exp::undefined();
        }
        if q.is_zero() {
            return Exp::constant(Rational::zero());
        }
        if q.is_one() {
            return a;
        }
        match a {
            Exp::NegInf if q.is_positive() => Exp::NegInf,
            Exp::NegInf => Exp::undefined(),
            Exp::Affine(e) => Exp::Affine(e.scale(&q)),
            Exp::Add(items) => Exp::sum_of(items.into_iter().map(|x| Exp::scale(q.clone(), x))),
            // Raw empty lattice nodes: the empty max is -∞, the empty min undefined.
            Exp::Max(items) if items.is_empty() => Exp::scale(q, Exp::NegInf),
            Exp::Min(items) if items.is_empty() => Exp::undefined(),
            Exp::Max(items) => {
                let scaled = items.into_iter().map(|x| Exp::scale(q.clone(), x));
                if q.is_positive() {
                    Exp::max_of(scaled)
                } else {
                    Exp::min_of(scaled)
                }
            }
            Exp::Min(items) => {
                let scaled = items.into_iter().map(|x| Exp::scale(q.clone(), x));
                if q.is_positive() {
                    Exp::min_of(scaled)
                } else {
                    Exp::max_of(scaled)
                }
            }
            Exp::Scale(p, inner) => Exp::scale(q * p, *inner),
        }
    }

    /// `-a`.
    // The name is part of the public API; `impl Neg for Exp` delegates here.
    #[allow(clippy::should_implement_trait)]
    pub fn neg(a: Exp) -> Exp {
        Exp::scale(-Rational::one(), a)
    }

    /// `a - b`.
    // The name is part of the public API; `impl Sub for Exp` delegates here.
    #[allow(clippy::should_implement_trait)]
    pub fn sub(a: Exp, b: Exp) -> Exp {
        Exp::add(a, Exp::neg(b))
    }

    /// True for the canonical undefined node produced by the smart constructors (and
    /// any other negative multiple of a literal -∞).
    fn is_undefined_root(&self) -> bool {
        matches!(self, Exp::Scale(q, inner) if q.is_negative() && **inner == Exp::NegInf)
    }

    /// Rebuilds the tree bottom-up with the smart constructors, so that -∞ and
    /// undefinedness appear only at the root and affine parts are summed.
    pub fn fold(&self) -> Exp {
        match self {
            Exp::NegInf => Exp::NegInf,
            Exp::Affine(e) => Exp::Affine(e.clone()),
            Exp::Add(items) => Exp::sum_of(items.iter().map(Exp::fold)),
            Exp::Max(items) => Exp::max_of(items.iter().map(Exp::fold)),
            Exp::Min(items) => Exp::min_of(items.iter().map(Exp::fold)),
            Exp::Scale(q, inner) => Exp::scale(q.clone(), inner.fold()),
        }
    }

    pub(crate) fn kind(&self) -> Kind {
        match self {
            Exp::NegInf => Kind::NegInf,
            Exp::Affine(_) => Kind::Finite,
            Exp::Add(items) => {
                let kinds: Vec<Kind> = items.iter().map(Exp::kind).collect();
                if kinds.contains(&Kind::Undefined) {
                    Kind::Undefined
                } else if kinds.contains(&Kind::NegInf) {
                    Kind::NegInf
                } else {
                    Kind::Finite
                }
            }
            Exp::Max(items) => {
                let kinds: Vec<Kind> = items.iter().map(Exp::kind).collect();
                if kinds.contains(&Kind::Undefined) {
                    Kind::Undefined
                } else if kinds.contains(&Kind::Finite) {
                    Kind::Finite
                } else {
                    Kind::NegInf
                }
            }
            Exp::Min(items) => {
                let kinds: Vec<Kind> = items.iter().map(Exp::kind).collect();
                if kinds.is_empty() || kinds.contains(&Kind::Undefined) {
                    Kind::Undefined
                } else if kinds.contains(&Kind::NegInf) {
                    Kind::NegInf
                } else {
                    Kind::Finite
                }
            }
            Exp::Scale(q, inner) => match inner.kind() {
                Kind::Undefined => Kind::Undefined,
                Kind::Finite => Kind::Finite,
                Kind::NegInf if q.is_zero() => Kind::Finite,
                Kind::NegInf if q.is_positive() => Kind::NegInf,
                Kind::NegInf => Kind::Undefined,
            },
        }
    }

    /// Exact value at a point. `None` when a symbol of the expression has no value, or
    /// when the expression is undefined (see [`Exp::is_undefined`]).
    pub fn eval(&self, point: &BTreeMap<String, Rational>) -> Option<Ext> {
        self.try_eval(point).ok()
    }

    pub(crate) fn try_eval(&self, point: &BTreeMap<String, Rational>) -> Result<Ext, EvalError> {
        if self.kind() == Kind::Undefined {
            return Err(EvalError::Undefined);
        }
        self.eval_defined(point)
    }

    /// Evaluation of an expression known not to be undefined.
    fn eval_defined(&self, point: &BTreeMap<String, Rational>) -> Result<Ext, EvalError> {
        match self {
            Exp::NegInf => Ok(Ext::NegInf),
            Exp::Affine(e) => {
                let mut value = e.constant_part().clone();
                for (s, q) in e.terms() {
                    value += q * point.get(s).ok_or(EvalError::Missing)?;
                }
                Ok(Ext::Finite(value))
            }
            Exp::Add(items) => {
                let mut total = Rational::zero();
                let mut neg_inf = false;
                for item in items {
                    match item.eval_defined(point)? {
                        Ext::NegInf => neg_inf = true,
                        Ext::Finite(x) => total += x,
                    }
                }
                Ok(if neg_inf {
                    Ext::NegInf
                } else {
                    Ext::Finite(total)
                })
            }
            Exp::Max(items) => {
                let mut best = Ext::NegInf;
                for item in items {
                    best = best.max(item.eval_defined(point)?);
                }
                Ok(best)
            }
            Exp::Min(items) => {
                let mut best: Option<Ext> = None;
                for item in items {
                    let v = item.eval_defined(point)?;
                    best = Some(match best {
                        None => v,
                        Some(b) => b.min(v),
                    });
                }
                best.ok_or(EvalError::Undefined)
            }
            Exp::Scale(q, inner) => match inner.eval_defined(point)? {
                Ext::Finite(x) => Ok(Ext::Finite(q * x)),
                Ext::NegInf if q.is_zero() => Ok(Ext::Finite(Rational::zero())),
                Ext::NegInf if q.is_positive() => Ok(Ext::NegInf),
                Ext::NegInf => Err(EvalError::Undefined),
            },
        }
    }

    /// The value when it does not depend on any symbol: after folding; when symbols
    /// remain syntactically, the canonical form of [`Exp::simplify`] decides (so
    /// `max(a, b) - max(b, a)` is the constant 0). `None` for undefined expressions.
    pub fn as_constant(&self) -> Option<Ext> {
        let folded = self.fold();
        if folded.symbols().is_empty() {
            return folded.eval(&BTreeMap::new());
        }
        let simplified = folded.simplify();
        if simplified.symbols().is_empty() {
            simplified.eval(&BTreeMap::new())
        } else {
            None
        }
    }

    /// Every symbol mentioned by the expression.
    pub fn symbols(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.collect_symbols(&mut out);
        out
    }

    fn collect_symbols(&self, out: &mut BTreeSet<String>) {
        match self {
            Exp::NegInf => {}
            Exp::Affine(e) => out.extend(e.terms().keys().cloned()),
            Exp::Add(items) | Exp::Max(items) | Exp::Min(items) => {
                for item in items {
                    item.collect_symbols(out);
                }
            }
            Exp::Scale(_, inner) => inner.collect_symbols(out),
        }
    }

    /// Canonical simplified form.
    ///
    /// The expression is folded and expanded into a max of mins of affine forms (an
    /// expansion that does not depend on the order of operands or on how sums were
    /// distributed), which is reduced exactly by linear programming over the rationals:
    /// leaves and min-terms that never matter are dropped and, when the function is
    /// small enough, the result is the canonical max-min representation of the
    /// function itself (see `normal::canonical`). An egg e-graph then factors it
    /// (`max(min(a, b), min(a, c))` → `min(a, max(b, c))`, common affine offsets pulled
    /// out of max/min), the cheapest readable form is extracted, and the arguments of
    /// max/min are sorted by their printed text.
    ///
    /// So expressions that differ by operand order, distributivity of `+` and scalar
    /// multiples, lattice laws or -∞ rules print identically, and so do any two
    /// expressions denoting the same function within the exact tier's limits. All
    /// limits count work, never time, so the result is reproducible.
    pub fn simplify(&self) -> Exp {
        let folded = self.fold();
        match folded.kind() {
            Kind::NegInf => return Exp::NegInf,
            Kind::Undefined => return Exp::undefined(),
            Kind::Finite => {}
        }
        if let Exp::Affine(_) = folded {
            return folded;
        }
        let mut budget = normal::Budget::new(normal::SIMPLIFY_LP_BUDGET);
        let readable = match normal::max_min_form(&folded, normal::SIMPLIFY_LEAF_LIMIT) {
            Ok(f) => {
                let canonical = normal::to_exp(&normal::canonical(f, &mut budget));
                egraph::readable(&canonical).unwrap_or(canonical)
            }
            // Too large to expand: the e-graph alone simplifies it.
            Err(_) => egraph::readable(&folded).unwrap_or(folded),
        };
        readable.sorted()
    }

    /// Sorts the arguments of every max/min by printed text and puts the affine part of
    /// a sum first, so that equal expressions print identically.
    pub(crate) fn sorted(&self) -> Exp {
        match self {
            Exp::NegInf | Exp::Affine(_) => self.clone(),
            Exp::Add(items) => {
                let folded = Exp::sum_of(items.iter().map(Exp::sorted));
                match folded {
                    Exp::Add(items) => {
                        let (mut affine, mut rest): (Vec<Exp>, Vec<Exp>) =
                            items.into_iter().partition(|x| matches!(x, Exp::Affine(_)));
                        sort_by_text(&mut rest);
                        affine.extend(rest);
                        Exp::Add(affine)
                    }
                    other => other,
                }
            }
            Exp::Max(items) | Exp::Min(items) => {
                let is_max = matches!(self, Exp::Max(_));
                let folded = Exp::lattice(items.iter().map(Exp::sorted).collect(), is_max);
                match folded {
                    Exp::Max(mut items) => {
                        sort_by_text(&mut items);
                        Exp::Max(items)
                    }
                    Exp::Min(mut items) => {
                        sort_by_text(&mut items);
                        Exp::Min(items)
                    }
                    other => other,
                }
            }
            Exp::Scale(q, inner) => Exp::scale(q.clone(), inner.sorted()),
        }
    }
}

fn sort_by_text(items: &mut [Exp]) {
    items.sort_by_cached_key(|x| (x.to_string(), x.clone()));
}

impl std::ops::Add for Exp {
    type Output = Exp;

    /// Same as [`Exp::add`].
    fn add(self, rhs: Exp) -> Exp {
        Exp::add(self, rhs)
    }
}

impl std::ops::Sub for Exp {
    type Output = Exp;

    /// Same as [`Exp::sub`].
    fn sub(self, rhs: Exp) -> Exp {
        Exp::sub(self, rhs)
    }
}

impl std::ops::Neg for Exp {
    type Output = Exp;

    /// Same as [`Exp::neg`].
    fn neg(self) -> Exp {
        Exp::neg(self)
    }
}

impl From<Exponent> for Exp {
    fn from(e: Exponent) -> Self {
        Exp::Affine(e)
    }
}

impl fmt::Display for Exp {
    /// Readable text that [`str::parse`] reads back: `max(0, 1/2 - a2 - b2)`, `-1/2`,
    /// `-inf`, `1/2 - a + min(0, b)`, `-2*max(a, b)`, `undefined`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exp::NegInf => write!(f, "-inf"),
            Exp::Affine(e) => write!(f, "{e}"),
            Exp::Add(items) => {
                if items.is_empty() {
                    return write!(f, "0");
                }
                for (i, item) in items.iter().enumerate() {
                    let text = item.to_string();
                    if i == 0 {
                        write!(f, "{text}")?;
                    } else if let Some(rest) = text.strip_prefix('-') {
                        // `x + -y` reads better as `x - y`; the leading minus of the
                        // operand only ever negates its first term, so this is exact.
                        write!(f, " - {rest}")?;
                    } else {
                        write!(f, " + {text}")?;
                    }
                }
                Ok(())
            }
            Exp::Max(items) | Exp::Min(items) => {
                let name = if matches!(self, Exp::Max(_)) {
                    "max"
                } else {
                    "min"
                };
                write!(f, "{name}(")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, ")")
            }
            Exp::Scale(q, inner) => {
                if self.is_undefined_root() {
                    return write!(f, "undefined");
                }
                let atomic = match inner.as_ref() {
                    Exp::Max(_) | Exp::Min(_) | Exp::NegInf => true,
                    Exp::Affine(e) => {
                        (e.terms().is_empty() && !e.constant_part().is_negative())
                            || (e.constant_part().is_zero()
                                && e.terms().len() == 1
                                && e.terms().values().all(|c| c.is_one()))
                    }
                    _ => false,
                };
                if q == &-Rational::one() {
                    write!(f, "-")?;
                } else {
                    write!(f, "{}*", format_rational(q))?;
                }
                if atomic {
                    write!(f, "{inner}")
                } else {
                    write!(f, "({inner})")
                }
            }
        }
    }
}
