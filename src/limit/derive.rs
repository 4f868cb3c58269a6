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

use super::model::{Caveat, Def, Entry, Family, LimitProgram};
use super::parity::{self, Parity};
use crate::exponent::{format_rational, Ext, Rational};
use crate::ir::{Activation, Expr, Func, Kind, Op, Program, ValueId, Var};
use crate::scale::{FactTable, Inference};
use num_traits::Zero;
use std::collections::BTreeSet;

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

/// The leading order of an expression: its exponent (None: exactly zero) and the
/// normalized expression over limit entries.
struct Lead {
    exp: Option<Rational>,
    z: Expr,
}

impl Lead {
    fn zero() -> Lead {
        Lead {
            exp: None,
            z: Expr::Const(0.0),
        }
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
            group_names.push(if transpose {
                format!("{}ᵀ", info.name)
            } else {
                info.name.clone()
            });
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
        });
        self.source_atoms[s.0] = Some(id);
        id
    }

    /// The entry for program value `id` of exponent `exponent` (None: exactly zero).
    fn normalize(&mut self, id: ValueId, exponent: Option<Rational>) -> ValueId {
        let def = match &exponent {
            None => Def::Zero {
                reason: "exactly zero at every width (scale inference)".into(),
            },
            Some(e) => self.rule(id, e),
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
        })
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

    fn rule(&mut self, id: ValueId, e: &Rational) -> Def {
        let instr = self.program.instr(id);
        let coef = instr.scale.coef;
        let s = match instr.scale.exponent.as_constant() {
            Some(q) => q.clone(),
            None => {
                return Def::Undetermined {
                    reason: "symbolic width factor".into(),
                }
            }
        };
        match &instr.op.clone() {
            Op::Init { terms, mean } => {
                if instr.kind == Kind::Scalar {
                    return Def::Random {
                        reason: "a random scalar drawn at initialization".into(),
                    };
                }
                let mut items = Vec::new();
                for (src, c) in terms {
                    let atom = self.source_atom(*src);
                    items.push(Expr::mul(Expr::Const(coef * c), Expr::Value(atom)));
                }
                items.push(Expr::Const(coef * mean));
                let z = Expr::sum(items);
                self.compare(&instr.name, e, &s, Def::Vector { expr: z })
            }
            Op::MatMul {
                matrix,
                transpose,
                arg,
            } => self.matmul(id, e, &s, coef, *matrix, *transpose, *arg),
            Op::Map { expr } | Op::Scalar { expr } => match self.lead(expr) {
                Err(reason) => Def::Undetermined { reason },
                Ok(lead) => match lead.exp {
                    None => Def::Zero {
                        reason: "every term is exactly zero".into(),
                    },
                    Some(m) => {
                        let z = Expr::mul(Expr::Const(coef), lead.z);
                        let def = if instr.kind == Kind::Vector {
                            Def::Vector { expr: z }
                        } else {
                            Def::Scalar { expr: z }
                        };
                        self.compare(&instr.name, e, &(m + s), def)
                    }
                },
            },
            Op::Moment { expr } => match self.lead(expr) {
                Err(reason) => Def::Undetermined { reason },
                Ok(lead) => match lead.exp {
                    None => Def::Zero {
                        reason: "the integrand is exactly zero".into(),
                    },
                    Some(m) => {
                        let naive = m + s;
                        let half = Rational::new(1.into(), 2.into());
                        if &naive == e {
                            Def::Expectation {
                                expr: Expr::mul(Expr::Const(coef), lead.z),
                            }
                        } else if *e == naive.clone() - half {
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
                        }
                    }
                },
            },
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
        let x = self.of_value[arg.0];
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
                    Lead {
                        exp: Some(Rational::zero()),
                        z: Expr::Const(*c),
                    }
                }
            }
            Expr::Arg => return Err("an activation argument outside an activation".into()),
            Expr::Width(q) => match q.as_constant() {
                Some(q) => Lead {
                    exp: Some(q.clone()),
                    z: Expr::Const(1.0),
                },
                None => return Err("a symbolic power of the width".into()),
            },
            Expr::Value(v) => {
                let entry_id = self.of_value[v.0];
                let entry = &self.entries[entry_id.0];
                match (&entry.def, &entry.exponent) {
                    (Def::Zero { .. }, _) | (_, None) => Lead::zero(),
                    (_, Some(e)) => Lead {
                        exp: Some(e.clone()),
                        z: Expr::Value(entry_id),
                    },
                }
            }
            Expr::Add(items) => {
                let mut leads = Vec::new();
                for item in items {
                    leads.push(self.lead(item)?);
                }
                let top = leads.iter().filter_map(|l| l.exp.clone()).max();
                match top {
                    None => Lead::zero(),
                    Some(m) => {
                        let kept: Vec<Expr> = leads
                            .into_iter()
                            .filter(|l| l.exp.as_ref() == Some(&m))
                            .map(|l| l.z)
                            .collect();
                        let z = Expr::sum(kept);
                        if z.is_zero() {
                            return Err(format!(
                                "the leading terms ({}) of a sum cancel exactly; the next \
                                 order is not modelled",
                                fmt_exp(&m)
                            ));
                        }
                        Lead { exp: Some(m), z }
                    }
                }
            }
            Expr::Mul(items) => {
                let mut exp = Rational::zero();
                let mut zs = Vec::new();
                for item in items {
                    let l = self.lead(item)?;
                    match l.exp {
                        None => return Ok(Lead::zero()),
                        Some(e) => exp += e,
                    }
                    zs.push(l.z);
                }
                Lead {
                    exp: Some(exp),
                    z: Expr::product(zs),
                }
            }
            Expr::Neg(a) => {
                let l = self.lead(a)?;
                Lead {
                    exp: l.exp,
                    z: Expr::neg(l.z),
                }
            }
            Expr::Div(a, b) => {
                let la = self.lead(a)?;
                let lb = self.lead(b)?;
                match (la.exp, lb.exp) {
                    (_, None) => return Err("a division by an exactly-zero quantity".into()),
                    (None, _) => Lead::zero(),
                    (Some(ea), Some(eb)) => Lead {
                        exp: Some(ea - eb),
                        z: Expr::div(la.z, lb.z),
                    },
                }
            }
            Expr::Pow(a, q) => {
                let l = self.lead(a)?;
                match l.exp {
                    None if *q > Rational::zero() => Lead::zero(),
                    None => return Err("a negative power of an exactly-zero quantity".into()),
                    Some(e) => Lead {
                        exp: Some(e * q),
                        z: Expr::pow(l.z, q.clone()),
                    },
                }
            }
            Expr::Call(f, a) => {
                let l = self.lead(a)?;
                let facts = self.facts.function(*f);
                let mut act = Activation::new(f.name(), Expr::call(*f, Expr::Arg));
                for k in 1..6 {
                    if act.ensure_order(k).is_err() {
                        break;
                    }
                }
                let at_zero = |k: usize| -> Option<f64> {
                    act.derivatives.get(k).map(|b| eval_at(b, 0.0, &[]))
                };
                apply_function(f.name(), &facts, &at_zero, l, |z| Expr::call(*f, z))?
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
                let acts = &self.acts;
                let at_zero = |k: usize| -> Option<f64> {
                    acts.get(act.0)
                        .and_then(|a| a.derivatives.get(order + k))
                        .map(|b| eval_at(b, 0.0, acts))
                };
                let (act, order) = (*act, *order);
                apply_function(&name, &facts, &at_zero, l, |z| Expr::act(act, order, z))?
            }
        })
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

/// Leading order of φ(arg) from φ's facts; `at_zero(k)` is φ^{(k)}(0) when available.
fn apply_function(
    name: &str,
    facts: &crate::scale::FunctionFacts,
    at_zero: &dyn Fn(usize) -> Option<f64>,
    arg: Lead,
    wrap: impl Fn(Expr) -> Expr,
) -> Result<Lead, String> {
    if facts.zero {
        return Ok(Lead::zero());
    }
    let Some(ea) = arg.exp else {
        let v = at_zero(0).unwrap_or(f64::NAN);
        return Ok(if v == 0.0 {
            Lead::zero()
        } else {
            Lead {
                exp: Some(Rational::zero()),
                z: Expr::Const(v),
            }
        });
    };
    if ea.is_zero() {
        return Ok(Lead {
            exp: Some(Rational::zero()),
            z: wrap(arg.z),
        });
    }
    if let Some(p) = &facts.homogeneous {
        return Ok(Lead {
            exp: Some(p * &ea),
            z: wrap(arg.z),
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
        return Ok(Lead {
            exp: Some(Rational::zero()),
            z: Expr::Const(c),
        });
    }
    let kq = Rational::from_integer((k as i64).into());
    Ok(Lead {
        exp: Some(ea * &kq),
        z: Expr::mul(
            Expr::Const(c / factorial),
            if k == 1 { arg.z } else { Expr::pow(arg.z, kq) },
        ),
    })
}

/// True when `f` has a kink or a jump (the integrand needs kink-aware quadrature).
pub fn is_kinked(f: Func) -> bool {
    matches!(f, Func::Relu | Func::Step | Func::Abs | Func::Sign)
}
