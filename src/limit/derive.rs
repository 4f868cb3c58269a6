//! Normalization and the Tensor Program rules: from the IR and its scale exponents to
//! the limit program.
//!
//! Every quantity v of exponent e is replaced by n^{-e}·v. Its expression is expanded to
//! leading order: each operand carries its exponent, sums keep the terms of the largest
//! exponent and drop the others (a vanishing prefactor times a finite Z is 0),
//! products add exponents, and a function of an operand of exponent e_a uses the
//! activation's facts — φ(n^{e_a} z) = n^{p e_a} φ(z) for a p-homogeneous φ, and
//! φ^{(k)}(0)/k!·(n^{e_a} z)^k, k the order of vanishing at 0, for a smooth φ of a
//! vanishing argument. The leading exponent found this way must agree with the one
//! scale inference derived; when it does not, the entry is marked undetermined rather
//! than guessed.
//!
//! Then the Tensor Program rules apply: an initial vector is a combination of
//! independent base Gaussians; `Ŵx` becomes Ẑ^{Ŵx} + Ż^{Ŵx} with
//! Ż^{Ŵx} = Σ_j E[∂Z^x/∂Ẑ^{Ŵᵀy_j}] Z^{y_j} over the Ẑ^{Ŵᵀy_j} that Z^x depends on;
//! a Moment becomes an expectation.

use super::model::{max_order, Caveat, Def, Entry, Family, LimitProgram, Remainder};
use super::parity::{self, Parity};
use crate::exponent::{format_rational, Ext, Rational};
use crate::ir::{Activation, Expr, Func, Identity, Kind, Op, Program, ValueId, Var};
use crate::scale::{FactTable, Inference, Left, Vanishing};
use num_traits::{One, Zero};
use std::collections::{BTreeMap, BTreeSet};

/// Why no limit program could be derived at all.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DeriveError {
    /// An exponent depends on free symbols.
    #[error(
        "`{name}` has the symbolic exponent {exponent}; the limit needs numbers: give every \
         symbol a value with --set (e.g. --set c=0)"
    )]
    Symbolic {
        /// The quantity.
        name: String,
        /// Its exponent.
        exponent: String,
    },
    /// An exponent is undefined (+∞: a division by, or a negative power of, a quantity
    /// that is exactly zero), so the quantity has no size to normalize by.
    #[error(
        "`{name}` has no defined size: it divides by (or takes a negative power of) a \
         quantity that is exactly 0; `tp scale` shows its exponent as `undefined`"
    )]
    Undefined {
        /// The quantity.
        name: String,
    },
}

/// The leading order of an expression: its exponent (None: exactly zero), the
/// normalized expression over limit entries, and the orders of what it leaves out.
struct Lead {
    exp: Option<Rational>,
    z: Expr,
    /// Order of the terms this expansion itself dropped (None: `n^exp·z` *is* the
    /// expression, read as the finite values it names). When the leading terms of a sum
    /// fold to 0 and none of them dropped anything, they cancel exactly at every width.
    local: Option<Rational>,
    /// What is left out, including the remainders of the values read.
    rest: Remainder,
}

impl Lead {
    fn zero() -> Lead {
        Lead {
            exp: None,
            z: Expr::Const(0.0),
            local: None,
            rest: Remainder::default(),
        }
    }

    /// An exact leading term: nothing is left out.
    fn exact(exp: Rational, z: Expr) -> Lead {
        Lead {
            exp: Some(exp),
            z,
            local: None,
            rest: Remainder::default(),
        }
    }
}

/// `a + k` for an order (None stays None).
fn shift(a: &Option<Rational>, k: &Rational) -> Option<Rational> {
    a.as_ref().map(|x| x + k)
}

/// Every order of `r` shifted by `k` (what a factor of size n^k does to a remainder).
fn shift_all(r: &Remainder, k: &Rational) -> Remainder {
    Remainder {
        dropped: shift(&r.dropped, k),
        fluctuation: shift(&r.fluctuation, k),
        fluctuation_mean: shift(&r.fluctuation_mean, k),
        systematic: shift(&r.systematic, k),
    }
}

/// The componentwise larger of two remainders.
fn max_rest(a: &Remainder, b: &Remainder) -> Remainder {
    Remainder {
        dropped: max_order(&a.dropped, &b.dropped),
        fluctuation: max_order(&a.fluctuation, &b.fluctuation),
        fluctuation_mean: max_order(&a.fluctuation_mean, &b.fluctuation_mean),
        systematic: max_order(&a.systematic, &b.systematic),
    }
}

/// A term of lower order `e` that was dropped.
fn dropped_term(e: &Option<Rational>) -> Remainder {
    Remainder {
        dropped: e.clone(),
        ..Remainder::default()
    }
}

/// The state of the derivation.
struct Deriver<'p> {
    program: &'p Program,
    facts: FactTable,
    acts: Vec<Activation>,
    entries: Vec<Entry>,
    of_value: Vec<ValueId>,
    deps: Vec<BTreeSet<ValueId>>,
    parity: Vec<Vec<Parity>>,
    /// Whether each entry may be exactly 0 with positive probability.
    massy: Vec<bool>,
    groups: Vec<(Family, usize)>,
    group_count: usize,
    source_atoms: Vec<Option<ValueId>>,
    coefficients: usize,
    /// Which program values are computed identically (read as one entry).
    identity: Identity,
    /// Values whose leading part has a vanishing limit, from scale inference.
    vanishing: BTreeMap<ValueId, Vanishing>,
}

/// Derives the limit program of `program` from the exponents of `inference`.
pub fn derive(program: &Program, inference: &Inference<'_>) -> Result<LimitProgram, DeriveError> {
    let source_group = parity::source_groups(program);
    let source_group_count = source_group.iter().copied().max().map_or(0, |m| m + 1);
    let mut groups: Vec<(Family, usize)> = program
        .sources
        .iter()
        .enumerate()
        .map(|(i, _)| (Family::Source(crate::ir::SourceId(i)), source_group[i]))
        .collect();
    let mut group_names: Vec<String> = (0..source_group_count)
        .map(|g| {
            let names: Vec<&str> = program
                .sources
                .iter()
                .enumerate()
                .filter(|(i, _)| source_group[*i] == g)
                .map(|(_, s)| s.name.as_str())
                .collect();
            names.join(", ")
        })
        .collect();
    let mut count = source_group_count;
    for (m, info) in program.matrices.iter().enumerate() {
        for transpose in [false, true] {
            groups.push((
                Family::Matrix {
                    matrix: crate::ir::MatrixId(m),
                    transpose,
                },
                count,
            ));
            // In the limit Ŵ and Ŵᵀ give independent families; at finite width they are
            // one matrix. The reason must name the family, not the matrix: a product
            // of Ŵx and Ŵᵀy is even under W → −W but odd under the flip of one family.
            let t = if transpose { "ᵀ" } else { "" };
            group_names.push(format!(
                "the family Ẑ^{{{}{t}·}}, independent of every other family in the limit",
                info.name
            ));
            count += 1;
        }
    }
    let mut acts = program.activations.clone();
    for act in &mut acts {
        // Make a few derivatives available for Taylor expansions; missing ones (relu'')
        // simply stay missing.
        for k in 1..6 {
            if act.ensure_order(k).is_err() {
                break;
            }
        }
    }
    let mut d = Deriver {
        program,
        facts: FactTable::new(program),
        acts,
        entries: Vec::new(),
        of_value: Vec::new(),
        deps: Vec::new(),
        parity: Vec::new(),
        massy: Vec::new(),
        groups,
        group_count: count,
        source_atoms: vec![None; program.sources.len()],
        coefficients: 0,
        identity: Identity::of(program),
        vanishing: inference.vanishing().clone(),
    };
    for id in program.ids() {
        let exponent = match inference.exponent(id).as_constant() {
            Some(Ext::NegInf) => None,
            Some(Ext::Finite(q)) => Some(q),
            None if inference.exponent(id).is_undefined() => {
                return Err(DeriveError::Undefined {
                    name: program.instr(id).name.clone(),
                })
            }
            None => {
                return Err(DeriveError::Symbolic {
                    name: program.instr(id).name.clone(),
                    exponent: inference.exponent(id).simplify().to_string(),
                })
            }
        };
        let entry = d.normalize(id, exponent);
        d.of_value.push(entry);
    }
    Ok(LimitProgram {
        entries: d.entries,
        of_value: d.of_value,
        program: program.clone(),
        deps: d
            .deps
            .into_iter()
            .map(|s| s.into_iter().collect())
            .collect(),
        parity: d.parity,
        group_names,
    })
}

fn fmt_exp(q: &Rational) -> String {
    format!("n^{}", format_rational(q))
}

impl Deriver<'_> {
    fn push(&mut self, entry: Entry) -> ValueId {
        let id = ValueId(self.entries.len());
        let (deps, parity) = self.structure_of(&entry);
        self.entries.push(entry);
        self.deps.push(deps);
        self.parity.push(parity);
        let massy = match &self.entries[id.0].def {
            Def::Vector { expr } => {
                let expr = expr.clone();
                self.massy_expr(&expr)
            }
            _ => false,
        };
        self.massy.push(massy);
        id
    }

    /// Base Gaussians and parities of a new entry.
    fn structure_of(&mut self, entry: &Entry) -> (BTreeSet<ValueId>, Vec<Parity>) {
        let id = ValueId(self.entries.len());
        let even = vec![Parity::Even; self.group_count];
        match &entry.def {
            Def::Atom { family, .. } => {
                let mut parity = even;
                if let Some(g) = self.group(*family) {
                    parity[g] = Parity::Odd;
                }
                (BTreeSet::from([id]), parity)
            }
            Def::Vector { expr } => {
                let mut deps = BTreeSet::new();
                for v in expr.values() {
                    deps.extend(self.deps[v.0].iter().copied());
                }
                let mut parity = Vec::with_capacity(self.group_count);
                for g in 0..self.group_count {
                    let table = &self.parity;
                    let entries = &self.entries;
                    let lookup = |v: ValueId| {
                        if entries[v.0].kind == Kind::Vector {
                            table[v.0][g]
                        } else {
                            Parity::Even
                        }
                    };
                    parity.push(parity::of_expr(expr, &lookup, &mut self.facts));
                }
                (deps, parity)
            }
            _ => (BTreeSet::new(), even),
        }
    }

    fn group(&self, family: Family) -> Option<usize> {
        self.groups
            .iter()
            .find(|(f, _)| *f == family)
            .map(|(_, g)| *g)
    }

    fn source_atom(&mut self, s: crate::ir::SourceId) -> ValueId {
        if let Some(id) = self.source_atoms[s.0] {
            return id;
        }
        let id = self.push(Entry {
            name: self.program.sources[s.0].name.clone(),
            kind: Kind::Vector,
            exponent: None,
            def: Def::Atom {
                family: Family::Source(s),
                origin: None,
            },
            source_value: None,
            meta: None,
            caveat: None,
            remainder: Remainder::default(),
        });
        self.source_atoms[s.0] = Some(id);
        id
    }

    /// The entry for program value `id` of exponent `exponent` (None: exactly zero).
    /// A value whose leading Θ part was found to have a limit of exactly 0 (see
    /// [`crate::scale::Vanishing`]) gets what is left: nothing, a fluctuation (random in
    /// the limit), or its lower-order terms.
    fn normalize(&mut self, id: ValueId, exponent: Option<Rational>) -> ValueId {
        let vanishing = self.vanishing.get(&id).cloned();
        let canon = self.identity.canon(id);
        let (def, remainder) = match (&exponent, vanishing) {
            _ if canon != id => self.alias(canon),
            (_, Some(v)) => self.vanished(id, &v),
            (None, None) => (
                Def::Zero {
                    reason: "exactly zero at every width (scale inference)".into(),
                },
                Remainder::default(),
            ),
            (Some(e), None) => self.rule(id, e, None),
        };
        let def = self.check_taint(def);
        let instr = self.program.instr(id);
        let caveat = self.caveat_of(&instr.name, &def);
        self.push(Entry {
            name: instr.name.clone(),
            kind: instr.kind,
            exponent,
            def,
            source_value: Some(id),
            meta: Some(instr.meta.clone()),
            caveat,
            remainder,
        })
    }

    /// The definition of a value computed exactly like the earlier value `canon`: the
    /// same limit, written as a reference to it.
    fn alias(&self, canon: ValueId) -> (Def, Remainder) {
        let entry_id = self.of_value[canon.0];
        let entry = &self.entries[entry_id.0];
        let def = match &entry.def {
            d @ (Def::Zero { .. } | Def::Random { .. } | Def::Undetermined { .. }) => d.clone(),
            _ if entry.kind == Kind::Vector => Def::Vector {
                expr: Expr::Value(entry_id),
            },
            _ => Def::Scalar {
                expr: Expr::Value(entry_id),
            },
        };
        (def, entry.remainder.clone())
    }

    /// The definition of a value whose leading part has a vanishing limit.
    fn vanished(&mut self, id: ValueId, v: &Vanishing) -> (Def, Remainder) {
        let lead = fmt_exp(&v.leading);
        match (&v.order, v.left) {
            (None, _) | (_, Left::Nothing) => (
                Def::Zero {
                    reason: format!(
                        "its {lead} part has limit exactly 0 ({}) and nothing is left at \
                         finite width",
                        v.why
                    ),
                },
                Remainder::default(),
            ),
            (Some(order), Left::Fluctuation) => (
                Def::Random {
                    reason: format!(
                        "its {lead} part has limit exactly 0 ({}); what is left is the \
                         finite-width fluctuation of size {}, which the master theorem does \
                         not describe",
                        v.why,
                        fmt_exp(order)
                    ),
                },
                Remainder::default(),
            ),
            (Some(order), Left::Terms) => {
                let order = order.clone();
                self.rule(id, &order, Some(&order))
            }
        }
    }

    /// Whether `expr` may be exactly 0 with positive probability: a factor that is, or a
    /// function that vanishes on a half-line (relu, step) or at 0 of such an argument.
    /// Sums are treated as such only when every term is (a conservative reading: it
    /// flags a sum whose terms vanish on different events).
    fn massy_expr(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Const(c) => *c == 0.0,
            Expr::Arg | Expr::Width(_) => false,
            Expr::Value(v) => self.entries[v.0].kind == Kind::Vector && self.massy[v.0],
            Expr::Add(items) => items.iter().all(|i| self.massy_expr(i)),
            Expr::Mul(items) => items.iter().any(|i| self.massy_expr(i)),
            Expr::Neg(a) | Expr::Div(a, _) | Expr::Pow(a, _) => self.massy_expr(a),
            Expr::Call(f, a) => {
                let body = Expr::call(*f, Expr::Arg);
                let (half_line, zero_at_zero) = vanishing(&body, &self.acts);
                half_line || (zero_at_zero && self.massy_expr(a))
            }
            Expr::Act { act, order, arg } => {
                let Some(body) = self.acts.get(act.0).and_then(|a| a.derivatives.get(*order))
                else {
                    return false;
                };
                let (half_line, zero_at_zero) = vanishing(&body.clone(), &self.acts);
                half_line || (zero_at_zero && self.massy_expr(arg))
            }
        }
    }

    /// The master theorem needs pseudo-Lipschitz functions. A function that jumps at 0
    /// (step, sign, relu') applied to a Z that is exactly 0 with positive probability is
    /// where that fails in practice: at finite width the argument is o(1) there, not 0,
    /// and the function sees the sign of the remainder. Such an entry is not given a
    /// limit.
    fn caveat_of(&self, name: &str, def: &Def) -> Option<Caveat> {
        let expr = match def {
            Def::Vector { expr } | Def::Expectation { expr } | Def::Scalar { expr } => expr.clone(),
            _ => return None,
        };
        if let Some(reason) = self.jump(&expr) {
            return Some(Caveat {
                root: name.to_string(),
                reason,
            });
        }
        expr.values()
            .iter()
            .find_map(|v| self.entries[v.0].caveat.clone())
    }

    fn jump(&self, expr: &Expr) -> Option<String> {
        let mut culprit: Option<String> = None;
        let mut nodes = Vec::new();
        expr.walk(&mut |node| nodes.push(node.clone()));
        for node in nodes {
            let (body, arg, name) = match &node {
                Expr::Call(f, a) => (
                    Expr::call(*f, Expr::Arg),
                    (**a).clone(),
                    f.name().to_string(),
                ),
                Expr::Act { act, order, arg } => {
                    let Some(a) = self.acts.get(act.0) else {
                        continue;
                    };
                    let Some(body) = a.derivatives.get(*order) else {
                        continue;
                    };
                    let primes = "'".repeat(*order);
                    (body.clone(), (**arg).clone(), format!("{}{primes}", a.name))
                }
                _ => continue,
            };
            let jump =
                (eval_at(&body, 1e-9, &self.acts) - eval_at(&body, -1e-9, &self.acts)).abs() > 1e-6;
            if jump && self.massy_expr(&arg) {
                culprit = Some(name);
                break;
            }
        }
        culprit.map(|name| {
            format!(
                "`{name}` jumps at 0 and is applied to a Z that is exactly 0 with positive \
                 probability; at finite width the argument is a small remainder there and \
                 `{name}` sees its sign, so the Tensor Program limit (which needs \
                 pseudo-Lipschitz functions) does not give its value"
            )
        })
    }

    /// An entry that reads a quantity without a deterministic limit has none either.
    fn check_taint(&self, def: Def) -> Def {
        let expr = match &def {
            Def::Vector { expr } | Def::Expectation { expr } | Def::Scalar { expr } => expr,
            _ => return def,
        };
        for v in expr.values() {
            let entry = &self.entries[v.0];
            match &entry.def {
                Def::Random { reason } => {
                    return Def::Random {
                        reason: root_cause(&entry.name, reason, "is random in the limit"),
                    }
                }
                Def::Undetermined { reason } => {
                    return Def::Undetermined {
                        reason: root_cause(&entry.name, reason, "has no derived limit"),
                    }
                }
                _ => {}
            }
        }
        def
    }

    /// The limit rule of value `id` of exponent `e`, and the orders of what its leading
    /// term leaves out. `cap`, when given, is an order below the terms' own: their
    /// leading Θ part has limit 0 and the terms of order `cap` are what is left (only
    /// the top-level terms of the expression are regrouped).
    fn rule(&mut self, id: ValueId, e: &Rational, cap: Option<&Rational>) -> (Def, Remainder) {
        let instr = self.program.instr(id);
        let coef = instr.scale.coef;
        let s = match instr.scale.exponent.as_constant() {
            Some(q) => q.clone(),
            None => {
                return (
                    Def::Undetermined {
                        reason: "symbolic width factor".into(),
                    },
                    Remainder::default(),
                )
            }
        };
        let half = Rational::new(1.into(), 2.into());
        match &instr.op.clone() {
            Op::Init { terms, mean } => {
                if instr.kind == Kind::Scalar {
                    return (
                        Def::Random {
                            reason: "a random scalar drawn at initialization".into(),
                        },
                        Remainder::default(),
                    );
                }
                let mut items = Vec::new();
                for (src, c) in terms {
                    let atom = self.source_atom(*src);
                    items.push(Expr::mul(Expr::Const(coef * c), Expr::Value(atom)));
                }
                items.push(Expr::Const(coef * mean));
                let z = Expr::sum(items);
                // The coordinates are exact samples of Z: nothing is left out.
                (
                    self.compare(&instr.name, e, &s, Def::Vector { expr: z }),
                    Remainder::default(),
                )
            }
            Op::MatMul {
                matrix,
                transpose,
                arg,
            } => {
                let def = self.matmul(id, e, &s, coef, *matrix, *transpose, *arg);
                // Ŵx differs from Ẑ + Ż by O(n^{-1/2}) relative at finite width, and
                // carries the remainder of x; Ŵ spreads it over every coordinate.
                let x = &self.entries[self.of_value[self.identity.canon(*arg).0].0];
                let carried = shift_all(&x.remainder, &s);
                let own = Some(e - &half);
                let fluctuation = max_order(&own, &carried.fluctuation);
                let rest = Remainder {
                    dropped: carried.dropped,
                    fluctuation_mean: fluctuation.clone(),
                    fluctuation,
                    systematic: carried.systematic,
                };
                (def, rest)
            }
            Op::Map { expr } | Op::Scalar { expr } => match self.lead_capped(expr, cap) {
                Err(reason) => (Def::Undetermined { reason }, Remainder::default()),
                Ok(lead) => match lead.exp {
                    None => (
                        Def::Zero {
                            reason: "every term is exactly zero".into(),
                        },
                        Remainder::default(),
                    ),
                    Some(m) => {
                        let z = Expr::mul(Expr::Const(coef), lead.z);
                        let def = if instr.kind == Kind::Vector {
                            Def::Vector { expr: z }
                        } else {
                            Def::Scalar { expr: z }
                        };
                        let rest = shift_all(&lead.rest, &s);
                        (self.compare(&instr.name, e, &(m + s), def), rest)
                    }
                },
            },
            Op::Moment { expr } => match self.lead_capped(expr, cap) {
                Err(reason) => (Def::Undetermined { reason }, Remainder::default()),
                Ok(lead) => match lead.exp.clone() {
                    None => (
                        Def::Zero {
                            reason: "the integrand is exactly zero".into(),
                        },
                        Remainder::default(),
                    ),
                    Some(m) => {
                        let naive = m + s.clone();
                        // The mean of a random integrand fluctuates by n^{-1/2} relative
                        // (central limit over coordinates); the integrand's own
                        // remainder enters by its mean size.
                        let random = expr
                            .values()
                            .iter()
                            .any(|v| self.program.instr(*v).kind == Kind::Vector);
                        let clt = random.then(|| naive.clone() - half.clone());
                        let fluctuation = max_order(&clt, &shift(&lead.rest.fluctuation_mean, &s));
                        let rest = Remainder {
                            dropped: shift(&lead.rest.dropped, &s),
                            fluctuation_mean: fluctuation.clone(),
                            fluctuation,
                            systematic: shift(&lead.rest.systematic, &s),
                        };
                        let def = if &naive == e {
                            Def::Expectation {
                                expr: Expr::mul(Expr::Const(coef), lead.z),
                            }
                        } else if *e == naive.clone() - half.clone() {
                            Def::Random {
                                reason: format!(
                                    "a central-limit fluctuation: the mean of terms of size \
                                     {} whose expectation is 0",
                                    fmt_exp(&naive)
                                ),
                            }
                        } else {
                            Def::Undetermined {
                                reason: format!(
                                    "scale inference gives {} but the integrand's leading \
                                     terms are {}; this cancellation is not modelled",
                                    fmt_exp(e),
                                    fmt_exp(&naive)
                                ),
                            }
                        };
                        (def, rest)
                    }
                },
            },
        }
    }

    /// The leading order of `expr`, or with `cap`, of its top-level terms of order at
    /// most `cap` (the larger ones are known to have a vanishing limit).
    fn lead_capped(&mut self, expr: &Expr, cap: Option<&Rational>) -> Result<Lead, String> {
        match (expr, cap) {
            (Expr::Add(items), Some(cap)) => {
                let mut leads = Vec::new();
                for item in items {
                    let l = self.lead(item)?;
                    if l.exp.as_ref().is_some_and(|x| x <= cap) {
                        leads.push(l);
                    }
                }
                self.lead_of_sum(leads)
            }
            (_, Some(_)) => Err("what is left after a vanishing leading part is not a \
                                 separate term of the expression; not modelled"
                .into()),
            (_, None) => self.lead(expr),
        }
    }

    /// Accepts `def` when the leading exponent `found` is the one scale inference gave.
    fn compare(&self, name: &str, e: &Rational, found: &Rational, def: Def) -> Def {
        if e == found {
            def
        } else {
            Def::Undetermined {
                reason: format!(
                    "scale inference gives `{name}` the size {} but its leading terms are {}; \
                     a cancellation between them is not modelled",
                    fmt_exp(e),
                    fmt_exp(found)
                ),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn matmul(
        &mut self,
        id: ValueId,
        e: &Rational,
        s: &Rational,
        coef: f64,
        matrix: crate::ir::MatrixId,
        transpose: bool,
        arg: ValueId,
    ) -> Def {
        let x = self.of_value[self.identity.canon(arg).0];
        let entry = self.entries[x.0].clone();
        let ex = match (&entry.def, &entry.exponent) {
            (Def::Zero { .. }, _) | (_, None) => {
                return Def::Zero {
                    reason: format!("Ŵ times `{}`, which is exactly zero", entry.name),
                }
            }
            (Def::Random { reason }, _) => {
                return Def::Random {
                    reason: root_cause(&entry.name, reason, "is random in the limit"),
                }
            }
            (Def::Undetermined { reason }, _) => {
                return Def::Undetermined {
                    reason: root_cause(&entry.name, reason, "has no derived limit"),
                }
            }
            (_, Some(ex)) => ex.clone(),
        };
        let mname = &self.program.matrices[matrix.0].name;
        let family = Family::Matrix { matrix, transpose };
        let atom = self.push(Entry {
            name: format!(
                "{}{} {}",
                mname,
                if transpose { "ᵀ" } else { "" },
                entry.normalized_name()
            ),
            kind: Kind::Vector,
            exponent: None,
            def: Def::Atom {
                family,
                origin: Some(x),
            },
            source_value: None,
            meta: None,
            caveat: entry.caveat.clone(),
            remainder: Remainder::default(),
        });
        // Ż: every base Gaussian of the transposed family that Z^x depends on.
        let partner_family = Family::Matrix {
            matrix,
            transpose: !transpose,
        };
        let own_group = self.group(partner_family);
        let mut terms = vec![Expr::Value(atom)];
        let candidates: Vec<ValueId> = self.deps[x.0].iter().copied().collect();
        for a in candidates {
            let (fam, origin) = match &self.entries[a.0].def {
                Def::Atom { family, origin } => (*family, *origin),
                _ => continue,
            };
            if fam != partner_family {
                continue;
            }
            let Some(partner) = origin else { continue };
            if self.derivative_vanishes(x, own_group) {
                continue;
            }
            let coefficient = match self.linear_coefficient(x, a) {
                Some(c) => c,
                None => {
                    self.coefficients += 1;
                    let k = self.push(Entry {
                        name: format!("κ{}", self.coefficients),
                        kind: Kind::Scalar,
                        exponent: None,
                        def: Def::Derivative { of: x, atom: a },
                        source_value: None,
                        meta: None,
                        caveat: self.entries[x.0].caveat.clone(),
                        remainder: Remainder::default(),
                    });
                    Expr::Value(k)
                }
            };
            terms.push(Expr::mul(coefficient, Expr::Value(partner)));
        }
        let z = Expr::mul(Expr::Const(coef), Expr::sum(terms));
        let name = self.program.instr(id).name.clone();
        self.compare(&name, e, &(ex + s.clone()), Def::Vector { expr: z })
    }

    /// E[∂Z^x/∂Ẑ] = 0 for every Ẑ of the group `own` when Z^x is even in `own` or odd in
    /// another group (see [`super::parity`]).
    fn derivative_vanishes(&self, x: ValueId, own: Option<usize>) -> bool {
        let p = &self.parity[x.0];
        p.iter().enumerate().any(|(g, q)| {
            if Some(g) == own {
                *q == Parity::Even
            } else {
                *q == Parity::Odd
            }
        })
    }

    /// ∂Z^x/∂a when it is a deterministic expression (Z^x linear in a), else None.
    fn linear_coefficient(&self, x: ValueId, a: ValueId) -> Option<Expr> {
        if x == a {
            return Some(Expr::Const(1.0));
        }
        let expr = match &self.entries[x.0].def {
            Def::Vector { expr } => expr,
            _ => return None,
        };
        let mut parts = Vec::new();
        for v in expr.values() {
            if self.entries[v.0].kind != Kind::Vector || !self.deps[v.0].contains(&a) {
                continue;
            }
            let d = expr.diff(Var::Value(v)).ok()?;
            let random = d
                .values()
                .iter()
                .any(|w| self.entries[w.0].kind == Kind::Vector);
            if random {
                return None;
            }
            let inner = self.linear_coefficient(v, a)?;
            parts.push(Expr::mul(d, inner));
        }
        Some(Expr::sum(parts))
    }

    /// Leading order of a program expression.
    fn lead(&mut self, expr: &Expr) -> Result<Lead, String> {
        Ok(match expr {
            Expr::Const(c) => {
                if *c == 0.0 {
                    Lead::zero()
                } else {
                    Lead::exact(Rational::zero(), Expr::Const(*c))
                }
            }
            Expr::Arg => return Err("an activation argument outside an activation".into()),
            Expr::Width(q) => match q.as_constant() {
                Some(q) => Lead::exact(q.clone(), Expr::Const(1.0)),
                None => return Err("a symbolic power of the width".into()),
            },
            Expr::Value(v) => {
                // Identical values are one entry, so that their difference folds to 0.
                let entry_id = self.of_value[self.identity.canon(*v).0];
                let entry = &self.entries[entry_id.0];
                match (&entry.def, &entry.exponent) {
                    (Def::Zero { .. }, _) | (_, None) => Lead::zero(),
                    (_, Some(e)) => Lead {
                        exp: Some(e.clone()),
                        z: Expr::Value(entry_id),
                        local: None,
                        rest: entry.remainder.clone(),
                    },
                }
            }
            Expr::Add(items) => {
                let mut leads = Vec::new();
                for item in items {
                    leads.push(self.lead(item)?);
                }
                self.lead_of_sum(leads)?
            }
            Expr::Mul(items) => {
                let mut leads = Vec::new();
                for item in items {
                    let l = self.lead(item)?;
                    if l.exp.is_none() {
                        return Ok(Lead::zero());
                    }
                    leads.push(l);
                }
                let exps: Vec<Rational> = leads.iter().filter_map(|l| l.exp.clone()).collect();
                let exp: Rational = exps.iter().fold(Rational::zero(), |acc, e| acc + e);
                let mut local = None;
                let mut rest = Remainder::default();
                for (i, l) in leads.iter().enumerate() {
                    // The remainder of one factor times the leading part of the others.
                    let others = exp.clone() - &exps[i];
                    local = max_order(&local, &shift(&l.local, &others));
                    rest = max_rest(&rest, &shift_all(&l.rest, &others));
                }
                Lead {
                    exp: Some(exp),
                    z: Expr::product(leads.into_iter().map(|l| l.z).collect()),
                    local,
                    rest,
                }
            }
            Expr::Neg(a) => {
                let l = self.lead(a)?;
                Lead {
                    z: Expr::neg(l.z),
                    ..l
                }
            }
            Expr::Div(a, b) => {
                let la = self.lead(a)?;
                let lb = self.lead(b)?;
                match (la.exp.clone(), lb.exp.clone()) {
                    (_, None) => return Err("a division by an exactly-zero quantity".into()),
                    (None, _) => Lead::zero(),
                    (Some(ea), Some(eb)) => {
                        // a/b − â/b̂ ≈ (a − â)/b̂ − â (b − b̂)/b̂².
                        let from_b = ea.clone() - eb.clone() - eb.clone();
                        Lead {
                            exp: Some(ea - eb.clone()),
                            z: Expr::div(la.z, lb.z),
                            local: max_order(
                                &shift(&la.local, &-eb.clone()),
                                &shift(&lb.local, &from_b),
                            ),
                            rest: max_rest(
                                &shift_all(&la.rest, &-eb),
                                &shift_all(&lb.rest, &from_b),
                            ),
                        }
                    }
                }
            }
            Expr::Pow(a, q) => {
                let l = self.lead(a)?;
                match l.exp.clone() {
                    None if *q > Rational::zero() => Lead::zero(),
                    None => return Err("a negative power of an exactly-zero quantity".into()),
                    Some(e) => {
                        let slope = (q.clone() - Rational::one()) * &e;
                        Lead {
                            exp: Some(e * q),
                            z: Expr::pow(l.z, q.clone()),
                            local: shift(&l.local, &slope),
                            rest: shift_all(&l.rest, &slope),
                        }
                    }
                }
            }
            Expr::Call(f, a) => {
                let l = self.lead(a)?;
                let facts = self.facts.function(*f);
                let jumps = self.facts.function_derivative(*f).is_none();
                let mut act = Activation::new(f.name(), Expr::call(*f, Expr::Arg));
                for k in 1..6 {
                    if act.ensure_order(k).is_err() {
                        break;
                    }
                }
                let at_zero = |k: usize| -> Option<f64> {
                    act.derivatives.get(k).map(|b| eval_at(b, 0.0, &[]))
                };
                apply_function(f.name(), &facts, jumps, &at_zero, l, |z| Expr::call(*f, z))?
            }
            Expr::Act { act, order, arg } => {
                let l = self.lead(arg)?;
                let name = self
                    .acts
                    .get(act.0)
                    .map_or("φ".to_string(), |a| a.name.clone());
                let facts = self
                    .facts
                    .activation(act.0, *order)
                    .ok_or_else(|| format!("`{name}` has no derivative of order {order}"))?;
                let jumps = self.facts.activation(act.0, order + 1).is_none();
                let acts = &self.acts;
                let at_zero = |k: usize| -> Option<f64> {
                    acts.get(act.0)
                        .and_then(|a| a.derivatives.get(order + k))
                        .map(|b| eval_at(b, 0.0, acts))
                };
                let (act, order) = (*act, *order);
                apply_function(&name, &facts, jumps, &at_zero, l, |z| {
                    Expr::act(act, order, z)
                })?
            }
        })
    }

    /// Whether `z` reads an entry that is random in the limit.
    fn reads_random(&self, z: &Expr) -> bool {
        z.values()
            .iter()
            .any(|v| matches!(self.entries[v.0].def, Def::Random { .. }))
    }

    /// The leading order of a sum: its terms of the largest exponent. When they fold to
    /// 0 and none of them dropped anything, they are the same finite quantities with
    /// opposite signs (identical values are one entry), so they cancel at every width
    /// and the next exponent leads; a fold of approximations is not an identity, and is
    /// refused rather than guessed.
    fn lead_of_sum(&self, mut leads: Vec<Lead>) -> Result<Lead, String> {
        loop {
            let Some(m) = leads.iter().filter_map(|l| l.exp.clone()).max() else {
                return Ok(Lead::zero());
            };
            let (top, lower): (Vec<Lead>, Vec<Lead>) = leads
                .into_iter()
                .filter(|l| l.exp.is_some())
                .partition(|l| l.exp.as_ref() == Some(&m));
            let exact = top.iter().all(|l| l.local.is_none());
            let next = lower.iter().filter_map(|l| l.exp.clone()).max();
            let mut local = next.clone();
            let mut rest = dropped_term(&next);
            // What the dropped terms do to a mean over runs: a term with a limit of its
            // own shifts it by its full size; a central-limit fluctuation (random in the
            // limit, mean 0) only by its second order, n^{-1/2} below its size.
            let half = Rational::new(1.into(), 2.into());
            for l in &lower {
                let shift_of = if self.reads_random(&l.z) {
                    l.exp.as_ref().map(|x| x - &half)
                } else {
                    l.exp.clone()
                };
                rest.systematic = max_order(&rest.systematic, &shift_of);
            }
            for l in &top {
                local = max_order(&local, &l.local);
                rest = max_rest(&rest, &l.rest);
            }
            let z = Expr::sum(top.into_iter().map(|l| l.z).collect());
            if !z.is_zero() {
                return Ok(Lead {
                    exp: Some(m),
                    z,
                    local,
                    rest,
                });
            }
            if !exact {
                return Err(format!(
                    "the leading terms ({}) of a sum cancel exactly; the next order is not \
                     modelled",
                    fmt_exp(&m)
                ));
            }
            leads = lower;
        }
    }
}

/// The reason of a dependent entry: the root cause, named once, however long the chain.
fn root_cause(name: &str, reason: &str, what: &str) -> String {
    if reason.starts_with("depends on") {
        reason.to_string()
    } else {
        format!("depends on `{name}`, which {what}: {reason}")
    }
}

fn eval_at(body: &Expr, x: f64, acts: &[Activation]) -> f64 {
    body.eval(&|_| f64::NAN, x, f64::NAN, acts)
}

/// (φ vanishes on a half-line, φ(0) = 0), probed at a few points.
fn vanishing(body: &Expr, acts: &[Activation]) -> (bool, bool) {
    let zero = |x: f64| eval_at(body, x, acts) == 0.0;
    let half_line =
        [0.5, 1.0, 2.0].iter().all(|x| zero(-*x)) || [0.5, 1.0, 2.0].iter().all(|x| zero(*x));
    (half_line, zero(0.0))
}

/// Leading order of φ(arg) from φ's facts; `at_zero(k)` is φ^{(k)}(0) when available;
/// `jumps` says φ has no derivative (it jumps, like step, sign or relu').
fn apply_function(
    name: &str,
    facts: &crate::scale::FunctionFacts,
    jumps: bool,
    at_zero: &dyn Fn(usize) -> Option<f64>,
    arg: Lead,
    wrap: impl Fn(Expr) -> Expr,
) -> Result<Lead, String> {
    if facts.zero {
        return Ok(Lead::zero());
    }
    let Some(ea) = arg.exp.clone() else {
        let v = at_zero(0).unwrap_or(f64::NAN);
        return Ok(if v == 0.0 {
            Lead::zero()
        } else {
            Lead::exact(Rational::zero(), Expr::Const(v))
        });
    };
    let homogeneous = facts.homogeneous.clone();
    if ea.is_zero() || homogeneous.is_some() {
        let p = homogeneous.unwrap_or_else(Rational::one);
        let exp = p.clone() * &ea;
        let (local, rest) = if jumps {
            // A remainder of relative size n^{-r} moves the argument across the jump on a
            // fraction n^{-r} of the coordinates: root mean square n^{-r/2}, mean n^{-r}.
            let half = Rational::new(1.into(), 2.into());
            let flips = |o: &Option<Rational>| o.as_ref().map(|x| (x - &ea) + &exp);
            let rms = |o: &Option<Rational>| o.as_ref().map(|x| (x - &ea) * &half + &exp);
            (
                rms(&arg.local),
                Remainder {
                    dropped: rms(&arg.rest.dropped),
                    fluctuation: rms(&arg.rest.fluctuation),
                    fluctuation_mean: flips(&arg.rest.fluctuation),
                    // A mean-zero remainder crosses the jump both ways: on average over
                    // runs the crossings cancel to first order, and only a systematic
                    // shift of the argument moves the mean (by the density at the jump
                    // times the shift).
                    systematic: arg.rest.systematic.as_ref().map(|x| (x - &ea) + &exp),
                },
            )
        } else {
            // φ(a) − φ(â) ≈ φ'(â)(a − â), with φ' of size n^{(p−1)e_a}.
            let slope = (p - Rational::one()) * &ea;
            (shift(&arg.local, &slope), shift_all(&arg.rest, &slope))
        };
        return Ok(Lead {
            exp: Some(exp),
            z: wrap(arg.z),
            local,
            rest,
        });
    }
    if ea > Rational::zero() {
        return Err(format!(
            "`{name}` is applied to an argument that grows like {}; without homogeneity its \
             limit is not a Tensor Program quantity",
            fmt_exp(&ea)
        ));
    }
    // A smooth φ of a vanishing argument: its first nonzero Taylor term.
    let k = &facts.order_at_zero;
    if !k.is_integer() {
        return Err(format!(
            "`{name}` vanishes at 0 to the non-integer order {}; its leading term is not a \
             Taylor term",
            format_rational(k)
        ));
    }
    let k = k
        .to_integer()
        .to_string()
        .parse::<usize>()
        .unwrap_or(usize::MAX);
    if k == usize::MAX || k > 8 {
        return Err(format!("`{name}` vanishes at 0 to too high an order"));
    }
    let Some(c) = at_zero(k) else {
        return Err(format!("`{name}` has no derivative of order {k} at 0"));
    };
    let factorial: f64 = (1..=k).map(|i| i as f64).product();
    if k == 0 {
        return Ok(Lead::exact(Rational::zero(), Expr::Const(c)));
    }
    let kq = Rational::from_integer((k as i64).into());
    // The next Taylor term is of order (k+1)·e_a; the argument's remainder enters
    // through the k-th term's derivative, of size n^{(k−1)e_a}.
    let next = Some((kq.clone() + Rational::one()) * &ea);
    let slope = (kq.clone() - Rational::one()) * &ea;
    Ok(Lead {
        exp: Some(ea.clone() * &kq),
        z: Expr::mul(
            Expr::Const(c / factorial),
            if k == 1 { arg.z } else { Expr::pow(arg.z, kq) },
        ),
        local: max_order(&shift(&arg.local, &slope), &next),
        rest: max_rest(
            &shift_all(&arg.rest, &slope),
            &Remainder {
                dropped: next.clone(),
                systematic: next.clone(),
                ..Remainder::default()
            },
        ),
    })
}

/// True when `f` has a kink or a jump (the integrand needs kink-aware quadrature).
pub fn is_kinked(f: Func) -> bool {
    matches!(f, Func::Relu | Func::Step | Func::Abs | Func::Sign)
}
