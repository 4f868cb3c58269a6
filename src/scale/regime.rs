//! Regimes from the exponent table: stability, nontriviality, feature learning.
//!
//! Definitions follow Yang & Hu (2021, Tensor Programs IV, Def. 3.2–3.6; restated in
//! Hajjar's thesis, 2024, App. A.2.3): stable when no forward quantity (pre-
//! activations, activations, output) grows with n at any step; nontrivial when the
//! output moves by Θ(1) at some step (f_t − f_0 does not vanish); feature learning when
//! the last layer's features move by Θ(1) (Δx^L_t = Θ(1)), per layer likewise; the
//! kernel regime is stable, nontrivial and not feature learning.

use super::ex::{self, Cond, Exp};
use super::report::Quantity;
use crate::ir::{Program, Role};
use serde_json::{json, Value};

/// Longest condition printed whole in the text rendering (characters).
const LONG_CONDITION: usize = 400;

/// Whether a property of the regime holds, over the values of the symbols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holds {
    /// For every value (for a numeric program: it holds).
    Always,
    /// For no value (for a numeric program: it does not hold).
    Never,
    /// For some values only: see the condition.
    Depends,
}

impl Holds {
    /// Decides `cond` over all values of the symbols.
    fn of(cond: &Cond) -> Holds {
        if cond.is_valid() {
            Holds::Always
        } else if cond.is_satisfiable() {
            Holds::Depends
        } else {
            Holds::Never
        }
    }

    /// `true`, `false`, or `null` when it depends on the symbols.
    fn to_json(self) -> Value {
        match self {
            Holds::Always => Value::Bool(true),
            Holds::Never => Value::Bool(false),
            Holds::Depends => Value::Null,
        }
    }
}

/// The regime of a program, with the conditions that decide it.
#[derive(Clone, Debug)]
pub struct Regime {
    /// Stable for every value of the symbols.
    pub stable: bool,
    /// Nontrivial for every value of the symbols.
    pub nontrivial: bool,
    /// Feature learning (last hidden layer) for every value of the symbols.
    pub feature_learning: bool,
    /// Stability over the values of the symbols.
    pub stable_holds: Holds,
    /// Stable and nontrivial, over the values of the symbols.
    pub nontrivial_holds: Holds,
    /// Stable and feature learning, over the values of the symbols.
    pub feature_learning_holds: Holds,
    /// One sentence.
    pub summary: String,
    /// The deciding conditions, simplified (`stable ⟺ …`).
    pub conditions: Vec<String>,
    /// The first forward quantity that grows with n: (name, step, exponent).
    pub blowup: Option<(String, Option<usize>, Exp)>,
    /// Per hidden layer l: whether its features move by Θ(1) (for every symbol value).
    pub layers: Vec<(usize, bool)>,
    /// Yang–Hu's r: the last layer's features move as n^{-r} (MLPs that train only).
    pub r: Option<Exp>,
    /// The conditions as data, for symbolic programs.
    pub stable_cond: Cond,
    /// Nontriviality condition.
    pub nontrivial_cond: Cond,
    /// Feature-learning condition.
    pub feature_learning_cond: Cond,
    /// Per hidden layer l: where its features move by Θ(1) (if stable).
    pub layer_conds: Vec<(usize, Cond)>,
    /// Each forward quantity that is the first to blow up somewhere: (name, step,
    /// where). A numeric program that blows up has one entry, with condition `true`.
    pub first_blowups: Vec<(String, Option<usize>, Cond)>,
}

fn family_layer(family: &str, prefix: &str) -> Option<usize> {
    family.strip_prefix(prefix)?.parse().ok()
}

fn max_delta<'q>(qs: impl Iterator<Item = &'q Quantity>) -> Option<Exp> {
    let mut out: Option<Exp> = None;
    for q in qs {
        if let Some(d) = &q.delta {
            out = Some(match out {
                None => d.clone(),
                Some(prev) => ex::max(&prev, d),
            });
        }
    }
    out.map(|e| e.simplify())
}

/// Classifies the program from its quantities.
pub fn classify(program: &Program, quantities: &[Quantity]) -> Regime {
    classify_with(program, quantities, None)
}

/// What a region-wise analysis knows about stability: the stable set, and for each
/// forward quantity that is the first to blow up somewhere, where it does.
pub(crate) struct Stability {
    /// Where no forward quantity grows with n.
    pub(crate) stable: Cond,
    /// (quantity name, step, where it is the first to blow up).
    pub(crate) blowups: Vec<(String, Option<usize>, Cond)>,
}

/// [`classify`], with the stable set given when it is known exactly (symbolic programs:
/// the exponents there are exact on the stable set only, so the stability condition
/// cannot be read off them).
pub(crate) fn classify_with(
    program: &Program,
    quantities: &[Quantity],
    known: Option<Stability>,
) -> Regime {
    let forward: Vec<&Quantity> = quantities
        .iter()
        .filter(|q| program.instr(q.id).meta.role == Role::Forward)
        .collect();
    // Stability: every forward quantity is O(1) (raw programs: every value).
    let mut stable_parts = Vec::new();
    let mut blowup = None;
    for q in &forward {
        stable_parts.push(Cond::Le(q.exponent.clone(), ex::zero()));
        if blowup.is_none() {
            if let Some(c) = ex::positive(&q.exponent) {
                if c {
                    blowup = Some((q.name.clone(), q.step, q.exponent.clone()));
                }
            }
        }
    }
    let stable_cond = match &known {
        Some(k) => k.stable.clone(),
        None => Cond::And(stable_parts).simplify(),
    };
    let trained = quantities.iter().any(|q| q.step.is_some_and(|s| s > 0));
    // A quantity regardless of its input: the changes of every input (trained and
    // probe), each against its own step 0, are maximized together.
    let quantity = |q: &Quantity| program.instr(q.id).meta.quantity().map(str::to_string);
    let output = max_delta(
        quantities
            .iter()
            .filter(|q| quantity(q).as_deref() == Some("f")),
    );
    let depth = quantities
        .iter()
        .filter_map(|q| quantity(q).and_then(|f| family_layer(&f, "x")))
        .max();
    let layer_delta = |l: usize| {
        let fam = format!("x{l}");
        max_delta(
            quantities
                .iter()
                .filter(|q| quantity(q).as_deref() == Some(fam.as_str())),
        )
    };
    let nontrivial_cond = match &output {
        Some(d) => Cond::Le(ex::zero(), d.clone()).simplify(),
        None => Cond::False,
    };
    let last = depth.and_then(layer_delta);
    let feature_learning_cond = match &last {
        Some(d) => Cond::Le(ex::zero(), d.clone()).simplify(),
        None => Cond::False,
    };
    let layer_conds: Vec<(usize, Cond)> = (1..=depth.unwrap_or(0))
        .map(|l| {
            let cond = layer_delta(l)
                .map(|d| Cond::Le(ex::zero(), d).simplify())
                .unwrap_or(Cond::False);
            (l, cond)
        })
        .collect();
    let layers: Vec<(usize, bool)> = layer_conds
        .iter()
        .map(|(l, cond)| (*l, cond.is_valid()))
        .collect();
    let symbolic = !program.symbols.is_empty();
    let stable = stable_cond.is_valid();
    let layers = if stable || symbolic {
        layers
    } else {
        Vec::new()
    };
    let nontrivial = stable && nontrivial_cond.is_valid();
    let feature_learning = stable && feature_learning_cond.is_valid();
    let if_stable = |cond: &Cond| Holds::of(&Cond::And(vec![stable_cond.clone(), cond.clone()]));
    let stable_holds = Holds::of(&stable_cond);
    let nontrivial_holds = if_stable(&nontrivial_cond);
    let feature_learning_holds = if_stable(&feature_learning_cond);
    let first_blowups: Vec<(String, Option<usize>, Cond)> = match &known {
        Some(k) => k.blowups.clone(),
        None => blowup
            .iter()
            .filter(|_| !symbolic)
            .map(|(name, step, _)| (name.clone(), *step, Cond::True))
            .collect(),
    };
    let mut conditions = Vec::new();
    if symbolic {
        conditions.push(format!("stable ⟺ {}", stable_cond));
        if known.is_some() {
            conditions.push(
                "the exponents hold where stable (past a blow-up training diverges)".to_string(),
            );
        }
        for (name, step, cond) in &first_blowups {
            let at = step.map_or_else(String::new, |s| format!(" (step {s})"));
            conditions.push(format!("first blow-up is {name}{at} ⟺ {cond}"));
        }
        if trained {
            conditions.push(format!("nontrivial (if stable) ⟺ {}", nontrivial_cond));
            conditions.push(format!(
                "feature learning (if stable) ⟺ {}",
                feature_learning_cond
            ));
            for (l, cond) in &layer_conds {
                conditions.push(format!("x{l} moves by Θ(1) (if stable) ⟺ {cond}"));
            }
        }
    }
    // r is only meaningful while the features stay bounded (Yang–Hu define it in the
    // stable case); an unstable program reports where it blows up instead.
    let r = last
        .as_ref()
        .filter(|_| symbolic || stable_cond.is_valid())
        .map(|d| ex::scale(&-crate::exponent::Rational::from_integer(1.into()), d).simplify());
    if let Some(r) = &r {
        conditions.push(format!("Δx^L_t = Θ(n^-r) with r = {r}"));
    }
    let summary = summarize(
        stable,
        nontrivial,
        feature_learning,
        trained,
        symbolic,
        &blowup,
        &layers,
    );
    Regime {
        stable,
        nontrivial,
        feature_learning,
        stable_holds,
        nontrivial_holds,
        feature_learning_holds,
        summary,
        conditions,
        blowup,
        layers,
        r,
        stable_cond,
        nontrivial_cond,
        feature_learning_cond,
        layer_conds,
        first_blowups,
    }
}

fn summarize(
    stable: bool,
    nontrivial: bool,
    feature_learning: bool,
    trained: bool,
    symbolic: bool,
    blowup: &Option<(String, Option<usize>, Exp)>,
    layers: &[(usize, bool)],
) -> String {
    if symbolic && !stable {
        return "depends on the symbols: see the conditions".to_string();
    }
    if let Some((name, step, e)) = blowup {
        let at = step.map_or_else(String::new, |s| format!(" at step {s}"));
        return format!("unstable: {name} blows up as n^{e}{at}");
    }
    if !trained {
        return "stable (no training steps)".to_string();
    }
    if !nontrivial {
        return "stable but trivial: the output does not move in the limit".to_string();
    }
    if feature_learning {
        let learning: Vec<String> = layers
            .iter()
            .filter(|(_, fl)| *fl)
            .map(|(l, _)| l.to_string())
            .collect();
        format!(
            "feature learning (features move by Θ(1) in layers {})",
            learning.join(", ")
        )
    } else {
        "kernel regime: the output moves by Θ(1), the features do not".to_string()
    }
}

impl Regime {
    /// Text rendering.
    pub fn render(&self) -> String {
        let mut out = format!("regime: {}\n", self.summary);
        // Where a property depends on the symbols, its condition (below) says where it
        // holds; a `false` here would only say "not for every value".
        let holds = [
            self.stable_holds,
            self.nontrivial_holds,
            self.feature_learning_holds,
        ];
        let decided = !holds.contains(&Holds::Depends);
        if decided {
            out.push_str(&format!(
                "  stable: {}   nontrivial: {}   feature learning: {}\n",
                self.stable, self.nontrivial, self.feature_learning
            ));
        }
        let layers_decided = self
            .layer_conds
            .iter()
            .all(|(_, c)| c.is_valid() || !c.is_satisfiable());
        if !self.layers.is_empty() && decided && layers_decided {
            let per: Vec<String> = self
                .layers
                .iter()
                .map(|(l, fl)| format!("x{l}: {}", if *fl { "Θ(1)" } else { "→ 0" }))
                .collect();
            out.push_str(&format!("  feature change per layer: {}\n", per.join(", ")));
        }
        for c in &self.conditions {
            // A blow-up region can be a long union of polyhedra; the text keeps its
            // start, the JSON has it whole.
            match c.char_indices().nth(LONG_CONDITION) {
                Some((cut, _)) => {
                    let rest = c.chars().count() - LONG_CONDITION;
                    out.push_str(&format!(
                        "  {} … ({rest} more characters, see --json)\n",
                        &c[..cut]
                    ));
                }
                None => out.push_str(&format!("  {c}\n")),
            }
        }
        out
    }

    /// JSON rendering (the `regime` object of `tp scale --json`; see `tp scale --help`).
    pub fn to_json(&self) -> Value {
        let if_stable = |cond: &Cond| Cond::And(vec![self.stable_cond.clone(), cond.clone()]);
        json!({
            "stable": self.stable_holds.to_json(),
            "nontrivial": self.nontrivial_holds.to_json(),
            "feature_learning": self.feature_learning_holds.to_json(),
            "summary": self.summary,
            "conditions": self.conditions,
            "stable_condition": condition_json(&self.stable_cond),
            "nontrivial_condition": condition_json(&self.nontrivial_cond),
            "feature_learning_condition": condition_json(&self.feature_learning_cond),
            "first_blowups": self.first_blowups.iter().map(|(name, step, cond)| {
                let mut entry = condition_json(cond);
                entry["name"] = json!(name);
                entry["step"] = json!(step);
                entry
            }).collect::<Vec<_>>(),
            "blowup": self.blowup.as_ref().map(|(n, s, e)| json!({"name": n, "step": s, "exponent": e.to_string()})),
            "layers": self.layer_conds.iter().map(|(l, cond)| {
                let mut entry = condition_json(cond);
                entry["layer"] = json!(l);
                entry["feature_learning"] = Holds::of(&if_stable(cond)).to_json();
                entry
            }).collect::<Vec<_>>(),
            "r": self.r.as_ref().map(|r| r.to_string()),
        })
    }
}

/// `{"condition": "<text>", "regions": [[inequality, ...], ...]}`: the condition in
/// words and as a union of conjunctions of affine inequalities (`null` when it is too
/// large to have been put in that form).
fn condition_json(cond: &Cond) -> Value {
    let regions = cond.polyhedra().map(|union| {
        union
            .iter()
            .map(|conj| conj.iter().map(|i| i.to_json()).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    });
    json!({"condition": cond.to_string(), "regions": regions})
}
