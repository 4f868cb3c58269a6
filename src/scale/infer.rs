//! Scale inference: the exponent e with RMS(v) = Θ(n^e) for every value, computed by one
//! pass over the IR (an abstract interpretation), plus the exponents of the changes
//! Δv_t = v_t − v_0 of every network quantity.
//!
//! Besides its exponent, every value carries, for each independent source of randomness
//! G (an initial matrix Ŵ, or a group of Gaussian sources such as the columns of U¹), the
//! exponents of its G-even and G-odd parts (the parts that keep or flip sign when every
//! Gaussian of G flips sign; every value is exactly the sum of the two). A mean of a
//! G-odd quantity has limit 0 by symmetry, so it is a fluctuation, smaller by n^{-1/2}
//! (the central limit theorem over coordinates). This one rule gives the classic
//! refinements: `f_0 = mean(U x)` with U independent of x is Θ(n^{-1/2}) in μP, and a
//! moment of a quantity that is correlated with U only through a vanishing term stays
//! small. Exactly-zero quantities have exponent -∞.

use super::ex::{self, Exp};
use super::facts::{FactTable, FunctionFacts, Symmetry};
use super::view::{View, ViewBuilder};
use crate::exponent::{Rational, Region, Side, Undecided};
use crate::ir::{Func, Identity, Op, Program, Role, ValueId};
use std::collections::{BTreeMap, HashMap};

/// Memoized exponents of changes `a − b`, by (later, earlier) value.
pub(crate) type Deltas = BTreeMap<(ValueId, ValueId), Exp>;

/// A symbolic analysis that would be too large to finish.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "symbolic scale analysis stopped at `{name}`: the symbols' space splits into more \
     than {limit} regions of different behaviour\n  = hint: give some symbols values with \
     `--set NAME=VALUE` (e.g. `--set b1=0 --set b2=1/2`), or analyse fewer steps"
)]
pub struct TooComplex {
    /// The quantity whose analysis needed one region too many.
    pub name: String,
    /// The region limit that was reached.
    pub limit: usize,
}

/// The scale facts of one value.
#[derive(Clone, Debug)]
pub struct Facts {
    /// RMS exponent (the scalar's own exponent for scalars).
    pub exp: Exp,
    /// Per randomness group: exponents of the even and odd parts.
    pub parts: Vec<(Exp, Exp)>,
}

impl Facts {
    fn constant(groups: usize, e: Exp) -> Facts {
        Facts {
            parts: vec![(e.clone(), ex::neg_inf()); groups],
            exp: e,
        }
    }

    fn zero(groups: usize) -> Facts {
        Facts::constant(groups, ex::neg_inf())
    }
}

/// The independent sources of randomness of a program and which group each belongs to.
pub struct Groups {
    /// Printable group names.
    pub names: Vec<String>,
    matrix: Vec<usize>,
    source: Vec<usize>,
}

impl Groups {
    /// Matrices are one group each; sources named `X[k]` (columns of one matrix) share one.
    pub fn of(program: &Program) -> Groups {
        let mut names: Vec<String> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut intern = |name: String| -> usize {
            if let Some(i) = index.get(&name) {
                return *i;
            }
            names.push(name.clone());
            index.insert(name, names.len() - 1);
            names.len() - 1
        };
        let matrix = program
            .matrices
            .iter()
            .map(|m| intern(format!("matrix {}", m.name)))
            .collect();
        let source = program
            .sources
            .iter()
            .map(|s| {
                let base = match s.name.rsplit_once('[') {
                    Some((head, tail))
                        if tail
                            .trim_end_matches(']')
                            .chars()
                            .all(|c| c.is_ascii_digit())
                            && tail.ends_with(']') =>
                    {
                        head.to_string()
                    }
                    _ => s.name.clone(),
                };
                intern(format!("source {base}"))
            })
            .collect();
        Groups {
            names,
            matrix,
            source,
        }
    }
}

/// The inference engine and its results.
pub struct Inference<'p> {
    program: &'p Program,
    /// Randomness groups.
    pub groups: Groups,
    facts_table: FactTable,
    act_facts: HashMap<(usize, usize), Option<FunctionFacts>>,
    /// Facts of every value, indexed by `ValueId`.
    pub facts: Vec<Facts>,
    deltas: Deltas,
    /// When set, every symbolic exponent is evaluated on this region to the affine
    /// form it has there (see [`super::cells`]).
    region: Option<Region>,
    /// The first comparison the region could not decide; once set, the results of
    /// this run are meaningless and nothing more is recorded.
    undecided: Option<Undecided>,
    /// On a region: the forward quantity that grows with n on all of it, which ends
    /// the analysis of the region (see [`Inference::advance`]).
    blown: Option<ValueId>,
    /// Whether a forward quantity that grows ends the analysis of a region.
    guard: bool,
    /// Which values are computed identically (their difference is exactly 0).
    identity: Identity,
    /// Exponents imposed on values whose leading Θ(1) limit was found to vanish, by
    /// value (see [`super::vanishing`]); they replace what the rules give.
    overrides: BTreeMap<ValueId, Exp>,
    /// Why each overridden value is smaller than its terms.
    vanishing: BTreeMap<ValueId, super::Vanishing>,
    /// Memo of [`Inference::atom_view`] for values.
    atoms: HashMap<ValueId, bool>,
}

fn half() -> Rational {
    Rational::new(1.into(), 2.into())
}

impl<'p> Inference<'p> {
    /// Runs the inference over every instruction of `program`.
    ///
    /// Numeric programs take one pass. Symbolic programs are analysed region by region
    /// of the symbols' space (every exponent is affine on a region; see
    /// `cells`) and each exponent is then merged back into one piecewise
    /// max-min expression; past [`super::cells::REGION_LIMIT`] regions the analysis
    /// stops with an error naming the quantity instead of exhausting the machine.
    pub fn run(program: &'p Program) -> Result<Inference<'p>, TooComplex> {
        if program.symbols.is_empty() {
            let mut inf = Inference::new(program, None);
            // Without symbols every comparison is decided, so nothing can be undecided.
            inf.advance();
            Ok(inf)
        } else {
            super::cells::analyse(program, &super::cells::Limits::default()).map(|c| c.merged)
        }
    }

    /// An engine with no facts yet, evaluating on `region` when given.
    pub(crate) fn new(program: &'p Program, region: Option<Region>) -> Inference<'p> {
        Inference {
            program,
            groups: Groups::of(program),
            facts_table: FactTable::new(program),
            act_facts: HashMap::new(),
            facts: Vec::with_capacity(program.instrs.len()),
            deltas: BTreeMap::new(),
            region,
            undecided: None,
            blown: None,
            guard: false,
            identity: Identity::of(program),
            overrides: BTreeMap::new(),
            vanishing: BTreeMap::new(),
            atoms: HashMap::new(),
        }
    }

    /// The values whose leading part has a vanishing limit, with what is left.
    pub fn vanishing(&self) -> &BTreeMap<ValueId, super::Vanishing> {
        &self.vanishing
    }

    /// Records why the overridden values are smaller than their terms.
    pub(crate) fn set_vanishing(&mut self, vanishing: BTreeMap<ValueId, super::Vanishing>) {
        self.vanishing = vanishing;
    }

    /// A numeric program's inference with the exponents of some values imposed
    /// (`overrides`, from [`super::vanishing`]): a value whose leading Θ(1) part has a
    /// limit of exactly 0 is as large as what is left, and everything computed from it
    /// follows.
    pub(crate) fn with_overrides(
        program: &'p Program,
        overrides: BTreeMap<ValueId, Exp>,
    ) -> Inference<'p> {
        let mut inf = Inference::new(program, None);
        inf.overrides = overrides;
        inf.advance();
        inf
    }

    /// Restarts on a sub-region from results that hold on a larger one: `facts` (a
    /// prefix of the program) and the memoized changes stay valid on every part.
    /// With `guard`, a forward quantity that grows with n ends the analysis of a
    /// region (see [`Inference::advance`]).
    pub(crate) fn resume(
        program: &'p Program,
        region: Region,
        facts: Vec<Facts>,
        deltas: Deltas,
        guard: bool,
    ) -> Inference<'p> {
        let mut inf = Inference::new(program, Some(region));
        inf.guard = guard;
        inf.facts = facts;
        inf.deltas = deltas;
        inf
    }

    /// An engine whose facts and changes were computed elsewhere (the merge of the
    /// per-region results of a symbolic program).
    pub(crate) fn from_results(
        program: &'p Program,
        facts: Vec<Facts>,
        deltas: Deltas,
    ) -> Inference<'p> {
        let mut inf = Inference::new(program, None);
        inf.facts = facts;
        inf.deltas = deltas;
        inf
    }

    /// Computes the facts of the instructions not done yet, in program order. On a
    /// region, stops at the first instruction whose exponents the region cannot
    /// decide (then [`Inference::undecided`] says why). When guarded, it also stops at
    /// the first forward quantity that grows with n on the whole region
    /// ([`Inference::blown`]): past a blow-up training diverges, and the exponents of
    /// later quantities describe no limit (splitting on them only multiplies regions);
    /// a forward quantity that grows on part of the region splits it.
    pub(crate) fn advance(&mut self) {
        let builder = ViewBuilder::new(self.program, false);
        let ids: Vec<ValueId> = self.program.ids().skip(self.facts.len()).collect();
        for id in ids {
            let view = builder.value(id);
            let mut f = self.view_facts(&view);
            if let Some(e) = self.overrides.get(&id) {
                f = Facts {
                    parts: f
                        .parts
                        .iter()
                        .map(|(even, odd)| (ex::min(even, e), ex::min(odd, e)))
                        .collect(),
                    exp: e.clone(),
                };
            }
            let f = self.settle(f);
            if self.undecided.is_some() {
                return;
            }
            if self.guard && self.program.instr(id).meta.role == Role::Forward {
                if let (Some(region), Exp::Affine(e)) = (self.region.as_mut(), &f.exp) {
                    match region.side(e) {
                        Some(Side::NonPositive) | Some(Side::Zero) => {}
                        Some(Side::NonNegative) => {
                            self.blown = Some(id);
                            self.facts.push(f);
                            return;
                        }
                        None => {
                            self.undecided = Some(Undecided(e.clone()));
                            return;
                        }
                    }
                }
            }
            self.facts.push(f);
        }
    }

    /// The comparison that stopped the last step on a region, if any.
    pub(crate) fn undecided(&self) -> Option<&Undecided> {
        self.undecided.as_ref()
    }

    /// The forward quantity that blows up on the whole region, if any.
    pub(crate) fn blown(&self) -> Option<ValueId> {
        self.blown
    }

    /// The results so far, to resume from on a sub-region, and the region itself.
    pub(crate) fn into_parts(self) -> (Option<Region>, Vec<Facts>, Deltas) {
        (self.region, self.facts, self.deltas)
    }

    /// Evaluates one exponent on the region (identity without a region). An undecided
    /// comparison is recorded and the input returned unchanged.
    fn settle_exp(&mut self, e: Exp) -> Exp {
        let Some(region) = self.region.as_mut() else {
            return e;
        };
        if self.undecided.is_some() {
            return e;
        }
        match region.evaluate(&e) {
            Ok(p) => p.to_exp(),
            Err(u) => {
                self.undecided = Some(u);
                e
            }
        }
    }

    fn settle(&mut self, f: Facts) -> Facts {
        if self.region.is_none() {
            return f;
        }
        let exp = self.settle_exp(f.exp);
        let parts = f
            .parts
            .into_iter()
            .map(|(e, o)| (self.settle_exp(e), self.settle_exp(o)))
            .collect();
        Facts { exp, parts }
    }

    fn group_count(&self) -> usize {
        self.groups.names.len()
    }

    fn act(&mut self, act: usize, order: usize) -> Option<FunctionFacts> {
        if let Some(f) = self.act_facts.get(&(act, order)) {
            return f.clone();
        }
        let f = self.facts_table.activation(act, order);
        self.act_facts.insert((act, order), f.clone());
        f
    }

    /// Exponent of φ(u) for a function with facts `f` and an argument of exponent `e`.
    pub fn function_scale(f: &FunctionFacts, e: &Exp) -> Exp {
        if f.zero {
            return ex::neg_inf();
        }
        if let Some(p) = &f.homogeneous {
            if *p == Rational::from_integer(0.into()) {
                return if ex::is_neg_inf(e) {
                    ex::neg_inf()
                } else {
                    ex::zero()
                };
            }
            return ex::scale(p, e);
        }
        if ex::is_neg_inf(e) {
            return if f.nonzero_at_zero {
                ex::zero()
            } else {
                ex::neg_inf()
            };
        }
        let large = ex::scale(&f.growth, &ex::max(e, &ex::zero()));
        if f.order_at_zero == Rational::from_integer(0.into()) {
            large
        } else {
            let small = ex::scale(&f.order_at_zero, &ex::min(e, &ex::zero()));
            ex::add(&small, &large)
        }
    }

    fn nonlinear(&self, f: &FunctionFacts, df: Option<&FunctionFacts>, u: &Facts) -> Facts {
        let whole = Self::function_scale(f, &u.exp);
        let slope = df.map(|d| Self::function_scale(d, &u.exp));
        let parts = u
            .parts
            .iter()
            .map(|(ue, uo)| match &slope {
                None => (
                    whole.clone(),
                    if ex::is_neg_inf(uo) {
                        ex::neg_inf()
                    } else {
                        whole.clone()
                    },
                ),
                Some(d) => {
                    let odd_bound = ex::min(&whole, &ex::add(uo, d));
                    let even_bound = ex::min(&whole, &ex::add(ue, d));
                    match f.symmetry {
                        Symmetry::Odd => (even_bound, odd_bound),
                        Symmetry::Even => (whole.clone(), ex::min(&odd_bound, &even_bound)),
                        Symmetry::None => (whole.clone(), odd_bound),
                    }
                }
            })
            .collect();
        Facts { exp: whole, parts }
    }

    /// Facts of a view, recursively (values are read from the table).
    pub fn view_facts(&mut self, v: &View) -> Facts {
        let g = self.group_count();
        match v {
            View::Const(c) if *c == 0.0 => Facts::zero(g),
            View::Const(_) => Facts::constant(g, ex::zero()),
            View::Width(e) => Facts::constant(g, ex::affine(e)),
            View::Leaf(id) => self
                .facts
                .get(id.0)
                .cloned()
                .unwrap_or_else(|| Facts::zero(g)),
            View::Init(id) => self.init_facts(*id),
            View::MatMul(m, _, x) => {
                let arg = self
                    .facts
                    .get(x.0)
                    .cloned()
                    .unwrap_or_else(|| Facts::zero(g));
                let group = self.groups.matrix.get(m.0).copied();
                let mut out = arg.clone();
                if let Some(k) = group {
                    let (e, o) = arg.parts[k].clone();
                    out.parts[k] = (o, e);
                }
                out
            }
            View::Moment(inner) => {
                let i = self.view_facts(inner);
                self.moment(&i)
            }
            View::Sum(items) => {
                let items = self.merge_like_terms(items);
                let fs: Vec<Facts> = items.iter().map(|i| self.view_facts(i)).collect();
                let mut out = Facts::zero(g);
                for f in fs {
                    out.exp = ex::max(&out.exp, &f.exp);
                    for k in 0..g {
                        out.parts[k].0 = ex::max(&out.parts[k].0, &f.parts[k].0);
                        out.parts[k].1 = ex::max(&out.parts[k].1, &f.parts[k].1);
                    }
                }
                out
            }
            View::Prod(items) => {
                let mut out = Facts::constant(g, ex::zero());
                for i in items {
                    let f = self.view_facts(i);
                    out = multiply(&out, &f);
                }
                out
            }
            View::Div(a, b) => {
                let fa = self.view_facts(a);
                let fb = self.view_facts(b);
                let inv_exp = ex::scale(&-Rational::from_integer(1.into()), &fb.exp);
                let inv = Facts {
                    parts: fb
                        .parts
                        .iter()
                        .map(|(_, o)| {
                            if ex::is_neg_inf(o) {
                                (inv_exp.clone(), ex::neg_inf())
                            } else {
                                (inv_exp.clone(), inv_exp.clone())
                            }
                        })
                        .collect(),
                    exp: inv_exp,
                };
                multiply(&fa, &inv)
            }
            View::Pow(a, q) => {
                let fa = self.view_facts(a);
                let e = ex::scale(q, &fa.exp);
                let integer = q.is_integer();
                let even_power = integer && (q.to_integer() % 2 == 0.into());
                let parts = fa
                    .parts
                    .iter()
                    .map(|(pe, po)| {
                        if even_power || ex::is_neg_inf(po) {
                            (e.clone(), ex::neg_inf())
                        } else if integer && ex::is_neg_inf(pe) {
                            (ex::neg_inf(), e.clone())
                        } else {
                            (e.clone(), e.clone())
                        }
                    })
                    .collect();
                Facts { exp: e, parts }
            }
            View::Call(f, a) => {
                let u = self.view_facts(a);
                let facts = self.facts_table.function(*f);
                let d = self.facts_table.function_derivative(*f);
                if *f == Func::Step || *f == Func::Sign {
                    // 0-homogeneous: no mean-value bound, but the size is known.
                    return self.nonlinear(&facts, None, &u);
                }
                self.nonlinear(&facts, d.as_ref(), &u)
            }
            View::Act(act, order, a) => {
                let u = self.view_facts(a);
                match self.act(*act, *order) {
                    Some(f) => {
                        let d = self.act(*act, order + 1);
                        self.nonlinear(&f, d.as_ref(), &u)
                    }
                    None => u,
                }
            }
        }
    }

    /// The terms of a sum with identical terms combined: `a − b` where `b` is computed
    /// exactly like `a` is no term at all (it is 0 at every width), and `a + a` is
    /// one term. Coefficients that cancel to rounding are exact cancellations of the
    /// program's own constants.
    pub(crate) fn merge_like_terms(&self, items: &[View]) -> Vec<View> {
        let mut groups: Vec<(String, f64, f64, View)> = Vec::new();
        for item in items {
            let (c, rest) = split_coefficient(item);
            let key = self.term_key(&rest);
            match groups.iter_mut().find(|(k, ..)| *k == key) {
                Some(g) => {
                    g.1 += c;
                    g.2 += c.abs();
                }
                None => groups.push((key, c, c.abs(), rest)),
            }
        }
        groups
            .into_iter()
            .filter(|(_, c, size, _)| c.abs() > 1e-12 * size)
            .map(|(_, c, _, rest)| {
                if c == 1.0 {
                    rest
                } else {
                    View::Prod(vec![View::Const(c), rest])
                }
            })
            .collect()
    }

    /// An exact key of a term: its shape with every value replaced by its
    /// representative (identical values share one).
    fn term_key(&self, v: &View) -> String {
        super::view::key(v, &|id| format!("v{}", self.identity.canon(*id).0))
    }

    fn init_facts(&self, id: ValueId) -> Facts {
        let g = self.group_count();
        let instr = self.program.instr(id);
        let Op::Init { terms, mean } = &instr.op else {
            return Facts::zero(g);
        };
        let live: Vec<usize> = terms
            .iter()
            .filter(|(_, c)| *c != 0.0)
            .filter_map(|(s, _)| self.groups.source.get(s.0).copied())
            .collect();
        if live.is_empty() && *mean == 0.0 {
            return Facts::zero(g);
        }
        let parts = (0..g)
            .map(|k| {
                let odd = if live.contains(&k) {
                    ex::zero()
                } else {
                    ex::neg_inf()
                };
                let even = if live.iter().any(|s| *s != k) || *mean != 0.0 {
                    ex::zero()
                } else {
                    ex::neg_inf()
                };
                (even, odd)
            })
            .collect();
        Facts {
            exp: ex::zero(),
            parts,
        }
    }

    /// A mean over coordinates: for each group, the odd part averages to a fluctuation.
    fn moment(&self, i: &Facts) -> Facts {
        let mut exp = i.exp.clone();
        for (e, o) in &i.parts {
            if ex::is_neg_inf(o) {
                continue;
            }
            let bound = ex::max(e, &ex::add(o, &ex::constant(-half())));
            exp = ex::min(&exp, &bound);
        }
        let parts = i
            .parts
            .iter()
            .map(|(e, o)| {
                (
                    ex::min(&exp, e),
                    ex::min(&exp, &ex::add(o, &ex::constant(-half()))),
                )
            })
            .collect();
        Facts { exp, parts }
    }

    /// The exponent of `v`.
    pub fn exponent(&self, v: ValueId) -> Exp {
        self.facts
            .get(v.0)
            .map_or_else(ex::neg_inf, |f| f.exp.clone())
    }

    /// Exponent of `a - b`, where `b` is the same quantity at an earlier step.
    pub fn delta(&mut self, a: ValueId, b: ValueId) -> Exp {
        if a == b {
            return ex::neg_inf();
        }
        if let Some(d) = self.deltas.get(&(a, b)) {
            return d.clone();
        }
        if self.undecided.is_some() {
            return ex::neg_inf();
        }
        let builder = ViewBuilder::new(self.program, true);
        let va = builder.value(a);
        let vb = builder.value(b);
        let d = self.view_delta(&builder, &va, &vb);
        let d = self.settle_exp(d);
        // A change computed after an undecided comparison is meaningless: not memoized.
        if self.undecided.is_none() {
            self.deltas.insert((a, b), d.clone());
        }
        d
    }

    fn family_pair(&self, a: ValueId, b: ValueId) -> bool {
        let (ia, ib) = (self.program.instr(a), self.program.instr(b));
        ia.meta.family.is_some() && ia.meta.family == ib.meta.family && ia.kind == ib.kind
    }

    /// Exponent of `x − y` for two values: zero when they are the same value, the change
    /// within a family when they are two steps of one quantity, else their size (`full`).
    fn value_pair_delta(&mut self, x: ValueId, y: ValueId, full: Exp) -> Exp {
        if x == y {
            ex::neg_inf()
        } else if self.family_pair(x, y) {
            self.delta(x, y)
        } else {
            full
        }
    }

    fn view_delta(&mut self, builder: &ViewBuilder<'_>, a: &View, b: &View) -> Exp {
        let whole = |s: &mut Self| {
            let fa = s.view_facts(a);
            let fb = s.view_facts(b);
            ex::max(&fa.exp, &fb.exp)
        };
        match (a, b) {
            (View::Leaf(x), View::Leaf(y)) | (View::Init(x), View::Init(y)) => {
                let full = whole(self);
                self.value_pair_delta(*x, *y, full)
            }
            // Ŵ x_t − Ŵ x_0 = Ŵ (x_t − x_0), which has the scale of the change of x.
            (View::MatMul(m, t, x), View::MatMul(m2, t2, y)) if m == m2 && t == t2 => {
                let full = whole(self);
                self.value_pair_delta(*x, *y, full)
            }
            (View::Const(x), View::Const(y)) if x == y => ex::neg_inf(),
            (View::Width(x), View::Width(y)) if x == y => ex::neg_inf(),
            (View::Moment(x), View::Moment(y)) => {
                let d = self.view_delta(builder, x, y);
                ex::min(&d, &whole(self))
            }
            (View::Prod(xs), View::Prod(ys)) if xs.len() == ys.len() => {
                let fx: Vec<Exp> = xs.iter().map(|x| self.view_facts(x).exp).collect();
                let fy: Vec<Exp> = ys.iter().map(|y| self.view_facts(y).exp).collect();
                let mut out = ex::neg_inf();
                for i in 0..xs.len() {
                    let mut term = self.view_delta(builder, &xs[i], &ys[i]);
                    for (j, e) in fx.iter().enumerate() {
                        if j < i {
                            term = ex::add(&term, e);
                        }
                    }
                    for (j, e) in fy.iter().enumerate() {
                        if j > i {
                            term = ex::add(&term, e);
                        }
                    }
                    out = ex::max(&out, &term);
                }
                out
            }
            (View::Sum(_), _) | (_, View::Sum(_)) => {
                let xs = terms_of(a);
                let ys = terms_of(b);
                let mut used = vec![false; ys.len()];
                let mut out = ex::neg_inf();
                for x in &xs {
                    let key = builder.shape(x);
                    let partner = ys
                        .iter()
                        .enumerate()
                        .find(|(j, y)| !used[*j] && builder.shape(y) == key)
                        .map(|(j, _)| j);
                    let d = match partner {
                        Some(j) => {
                            used[j] = true;
                            self.view_delta(builder, x, &ys[j])
                        }
                        None => self.view_facts(x).exp,
                    };
                    out = ex::max(&out, &d);
                }
                for (j, y) in ys.iter().enumerate() {
                    if !used[j] {
                        let e = self.view_facts(y).exp;
                        out = ex::max(&out, &e);
                    }
                }
                out
            }
            (View::Act(f, k, x), View::Act(g, l, y)) if f == g && k == l => {
                let df = self.act(*f, k + 1);
                let full = whole(self);
                self.mean_value_delta(builder, x, y, df, full)
            }
            (View::Call(f, x), View::Call(g, y)) if f == g => {
                let df = self.facts_table.function_derivative(*f);
                let full = whole(self);
                self.mean_value_delta(builder, x, y, df, full)
            }
            (View::Div(x1, x2), View::Div(y1, y2)) => {
                let prod_a = View::Prod(vec![
                    (**x1).clone(),
                    View::Pow(x2.clone(), -Rational::from_integer(1.into())),
                ]);
                let prod_b = View::Prod(vec![
                    (**y1).clone(),
                    View::Pow(y2.clone(), -Rational::from_integer(1.into())),
                ]);
                self.view_delta(builder, &prod_a, &prod_b)
            }
            (View::Pow(x, q), View::Pow(y, r)) if q == r => {
                let d = self.view_delta(builder, x, y);
                let ex_ = self.view_facts(x).exp;
                let ey = self.view_facts(y).exp;
                let slope = ex::scale(&(q - Rational::from_integer(1.into())), &ex::max(&ex_, &ey));
                ex::min(&whole(self), &ex::add(&d, &slope))
            }
            _ => whole(self),
        }
    }

    /// Exponent of φ(x) − φ(y) by the mean-value theorem: |φ'| at the larger argument
    /// times |x − y|, never more than the size of the two values (`full`). Without a
    /// derivative (step, sign) only an unchanged argument gives a zero change.
    fn mean_value_delta(
        &mut self,
        builder: &ViewBuilder<'_>,
        x: &View,
        y: &View,
        derivative: Option<FunctionFacts>,
        full: Exp,
    ) -> Exp {
        let d = self.view_delta(builder, x, y);
        match derivative {
            // A jump (step, sign, relu'): when the argument, of size n^e with a density
            // at the jump, moves by n^d, it crosses the jump on a fraction n^{d-e} of
            // the coordinates, where the value changes by its full size; the root mean
            // square of the change is n^{(d-e)/2} times that size. An argument that is
            // exactly 0 on a positive fraction (relu(h), products with relu') has no
            // density there: any move flips a fixed fraction.
            None if !ex::is_neg_inf(&d) => {
                if self.atom_view(x) || self.atom_view(y) {
                    return full;
                }
                let e = ex::max(&self.view_facts(x).exp, &self.view_facts(y).exp);
                let relative = ex::add(&d, &ex::scale(&-Rational::from_integer(1.into()), &e));
                let flips = ex::scale(&half(), &relative);
                ex::min(&full, &ex::add(&full, &flips))
            }
            Some(df) => {
                let ex_ = self.view_facts(x).exp;
                let ey = self.view_facts(y).exp;
                let slope = ex::max(
                    &Self::function_scale(&df, &ex_),
                    &Self::function_scale(&df, &ey),
                );
                ex::min(&full, &ex::add(&d, &slope))
            }
            None => d,
        }
    }

    /// Whether the leading part of `v` is exactly 0 on a positive fraction of the
    /// coordinates (an atom at 0): a function vanishing on a half-line of an argument,
    /// a product with such a factor, a sum whose leading terms all are.
    fn atom_view(&mut self, v: &View) -> bool {
        match v {
            View::Const(c) => *c == 0.0,
            View::Width(_) | View::MatMul(..) | View::Moment(_) => false,
            View::Init(id) => {
                matches!(&self.program.instr(*id).op, Op::Init { terms, mean }
                    if *mean == 0.0 && terms.iter().all(|(_, c)| *c == 0.0))
            }
            View::Leaf(id) => {
                if let Some(a) = self.atoms.get(id) {
                    return *a;
                }
                let instr = self.program.instr(*id);
                let a = instr.kind == crate::ir::Kind::Vector && {
                    let view = ViewBuilder::new(self.program, false).value(*id);
                    self.atom_view(&view)
                };
                self.atoms.insert(*id, a);
                a
            }
            View::Sum(items) => {
                let exps: Vec<Exp> = items.iter().map(|i| self.view_facts(i).exp).collect();
                let top = exps.iter().fold(ex::neg_inf(), |m, e| ex::max(&m, e));
                items.iter().zip(&exps).all(|(item, e)| {
                    // A term surely below the leading order does not matter.
                    let below = matches!(
                        (e.as_constant(), top.as_constant()),
                        (Some(a), Some(b)) if a < b
                    );
                    below || self.atom_view(item)
                })
            }
            View::Prod(items) => items.iter().any(|i| self.atom_view(i)),
            View::Div(a, _) | View::Pow(a, _) => self.atom_view(a),
            View::Call(f, a) => {
                let facts = self.facts_table.function(*f);
                facts.half_line || (!facts.nonzero_at_zero && self.atom_view(a))
            }
            View::Act(act, order, a) => match self.act(*act, *order) {
                Some(facts) => facts.half_line || (!facts.nonzero_at_zero && self.atom_view(a)),
                None => false,
            },
        }
    }
}

/// A term's constant coefficient and the rest (`-2·x·y` → (-2, x·y)).
fn split_coefficient(v: &View) -> (f64, View) {
    match v {
        View::Const(c) => (*c, View::Const(1.0)),
        View::Prod(items) => {
            let mut c = 1.0;
            let mut rest = Vec::new();
            for item in items {
                match item {
                    View::Const(k) => c *= k,
                    other => rest.push(other.clone()),
                }
            }
            let rest = match rest.len() {
                0 => View::Const(1.0),
                1 => rest.pop().unwrap_or(View::Const(1.0)),
                _ => View::Prod(rest),
            };
            (c, rest)
        }
        other => (1.0, other.clone()),
    }
}

fn terms_of(v: &View) -> Vec<View> {
    match v {
        View::Sum(items) => items.clone(),
        other => vec![other.clone()],
    }
}

fn multiply(a: &Facts, b: &Facts) -> Facts {
    Facts {
        exp: ex::add(&a.exp, &b.exp),
        parts: a
            .parts
            .iter()
            .zip(&b.parts)
            .map(|((ae, ao), (be, bo))| {
                (
                    ex::max(&ex::add(ae, be), &ex::add(ao, bo)),
                    ex::max(&ex::add(ae, bo), &ex::add(ao, be)),
                )
            })
            .collect(),
    }
}
