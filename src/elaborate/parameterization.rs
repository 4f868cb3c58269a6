//! Parameterizations: presets and `abc`/`ac` blocks resolved to per-layer exponents.
//!
//! Conventions (Yang & Hu 2021, §3; Hajjar 2024, thesis §2.2): the effective weight
//! of layer l is `W = n^{-a} w`, its learnable part is initialized with standard
//! deviation `std · n^{-b}` (plus an optional non-centered mean), and SGD on `w` uses
//! the learning rate `η n^{-c(t)}`. Only `A = a + b` and `E(t) = 2a + c(t)` matter
//! for the effective weights, so that is what elaboration keeps.

use super::Elab;
use crate::exponent::{Exponent, Rational};
use crate::syntax::ast::{self, NamedArg, Span, TimeSel};
use crate::syntax::Diagnostic;

/// Scales of one layer's weight (or bias), resolved for every step.
#[derive(Clone, Debug)]
pub(super) struct LayerScales {
    /// Exponent of the effective initial scale: `W(0) = std · n^{-A} · U`.
    pub init: Exponent,
    /// Standard-deviation multiplier of the initialization.
    pub std: f64,
    /// Mean of the learnable initialization (`U + mean · J`), 0 when centered.
    pub mean: f64,
    /// Effective learning-rate exponents `E(t) = 2a + c(t)` for t = 0..steps-1.
    pub lr: Vec<Exponent>,
}

/// Every layer's scales: `weights[l-1]` and `biases[l-1]` for l = 1..L+1.
#[derive(Clone, Debug)]
pub(super) struct Resolved {
    pub weights: Vec<LayerScales>,
    pub biases: Vec<LayerScales>,
}

/// One key's values over layers, with the steps they apply to.
type Timed = Vec<(TimeSel, Vec<Exponent>)>;

/// The keys a parameterization can set, per layer.
#[derive(Clone, Debug, Default)]
struct Table {
    a: Timed,
    b: Timed,
    c: Timed,
    std: Vec<f64>,
    mean: Vec<f64>,
    bias_a: Option<Timed>,
    bias_b: Option<Timed>,
    bias_c: Option<Timed>,
    bias_std: Option<Vec<f64>>,
    bias_mean: Option<Vec<f64>>,
}

/// The presets, for error messages.
pub(super) const PRESETS: [&str; 10] = [
    "abc",
    "ac",
    "sp",
    "ntk",
    "mup",
    "mf",
    "ip",
    "ip_llr",
    "ip_bias",
    "ip_noncentered",
];

fn q(num: i64, den: i64) -> Exponent {
    Exponent::ratio(num, den)
}

/// First / middle (repeated) / last values over `layers = L + 1` layers.
fn fml(layers: usize, first: Exponent, mid: Exponent, last: Exponent) -> Vec<Exponent> {
    (1..=layers)
        .map(|l| {
            if l == 1 {
                first.clone()
            } else if l == layers {
                last.clone()
            } else {
                mid.clone()
            }
        })
        .collect()
}

fn all(v: Vec<Exponent>) -> Timed {
    vec![(TimeSel::All, v)]
}

impl Elab<'_> {
    /// Resolves `parameterization NAME(args) { entries }` for depth `depth` and `steps` steps.
    pub(super) fn resolve_parameterization(
        &self,
        name: &str,
        name_span: Span,
        args: &[NamedArg],
        entries: &[ast::ParamzEntry],
        depth: usize,
        steps: usize,
    ) -> Result<Resolved, Diagnostic> {
        let layers = depth + 1;
        let mut table = self.preset(name, name_span, args, depth)?;
        for entry in entries {
            self.apply_entry(&mut table, name, entry, layers)?;
        }
        let weights = self.layer_scales(
            &table.a,
            &table.b,
            &table.c,
            &table.std,
            &table.mean,
            layers,
            steps,
        );
        let biases = self.layer_scales(
            table.bias_a.as_ref().unwrap_or(&table.a),
            table.bias_b.as_ref().unwrap_or(&table.b),
            table.bias_c.as_ref().unwrap_or(&table.c),
            table.bias_std.as_ref().unwrap_or(&vec![1.0; layers]),
            table.bias_mean.as_ref().unwrap_or(&vec![0.0; layers]),
            layers,
            steps,
        );
        Ok(Resolved { weights, biases })
    }

    #[allow(clippy::too_many_arguments)]
    fn layer_scales(
        &self,
        a: &Timed,
        b: &Timed,
        c: &Timed,
        std: &[f64],
        mean: &[f64],
        layers: usize,
        steps: usize,
    ) -> Vec<LayerScales> {
        (0..layers)
            .map(|l| {
                let a0 = pick(a, 0, l);
                let b0 = pick(b, 0, l);
                LayerScales {
                    init: a0.add(&b0),
                    std: std[l],
                    mean: mean[l],
                    lr: (0..steps)
                        .map(|t| {
                            pick(a, t, l)
                                .scale(&Rational::from_integer(2.into()))
                                .add(&pick(c, t, l))
                        })
                        .collect(),
                }
            })
            .collect()
    }

    fn arg<'n>(&self, args: &'n [NamedArg], key: &str) -> Option<&'n NamedArg> {
        args.iter().find(|a| a.name == key)
    }

    fn check_args(
        &self,
        args: &[NamedArg],
        allowed: &[&str],
        preset: &str,
    ) -> Result<(), Diagnostic> {
        for a in args {
            if !allowed.contains(&a.name.as_str()) {
                let hint = if allowed.is_empty() {
                    format!("`{preset}` takes no arguments")
                } else {
                    format!("`{preset}` accepts: {}", allowed.join(", "))
                };
                return Err(self.error(
                    a.name_span,
                    format!("unknown argument `{}`", a.name),
                    Some(hint),
                ));
            }
        }
        Ok(())
    }

    fn preset(
        &self,
        name: &str,
        span: Span,
        args: &[NamedArg],
        depth: usize,
    ) -> Result<Table, Diagnostic> {
        let layers = depth + 1;
        let zero = || vec![Exponent::zero(); layers];
        let half = || q(1, 2);
        let mut t = Table {
            std: vec![1.0; layers],
            mean: vec![0.0; layers],
            ..Table::default()
        };
        // Centered Θ(1) biases with the learning rate of the global c (SP, NTK, μP).
        let standard_bias = |t: &mut Table, c: Exponent| {
            t.bias_a = Some(all(zero()));
            t.bias_b = Some(all(zero()));
            t.bias_c = Some(all(vec![c; layers]));
        };
        match name {
            "abc" | "ac" => {
                self.check_args(args, &[], name)?;
                t.a = all(zero());
                t.b = all(zero());
                t.c = all(zero());
            }
            "sp" => {
                // Yang–Hu standard parameterization: a = 0, b = (0, 1/2, 1/2), global c.
                self.check_args(args, &["c"], name)?;
                let c = match self.arg(args, "c") {
                    Some(a) => self.exponent(&a.value)?,
                    None => Exponent::zero(),
                };
                t.a = all(zero());
                t.b = all(fml(layers, Exponent::zero(), half(), half()));
                t.c = all(vec![c.clone(); layers]);
                standard_bias(&mut t, c);
            }
            "ntk" => {
                // ac form a = (0, 1/2, 1/2), c = 0 (thesis §2.2.2).
                self.check_args(args, &[], name)?;
                t.a = all(fml(layers, Exponent::zero(), half(), half()));
                t.b = all(zero());
                t.c = all(zero());
                standard_bias(&mut t, Exponent::zero());
            }
            "mup" | "mf" => {
                // abc form a = (-1/2, 0, 1/2), b = 1/2, c = 0 (Yang–Hu; thesis §1.2.5).
                self.check_args(args, &[], name)?;
                if name == "mf" && depth != 1 {
                    return Err(self.error(
                        span,
                        format!("`mf` is the two-layer mean-field parameterization, but depth = {depth}"),
                        Some("use `depth = 1`, or `mup` / `ip` for deeper networks".into()),
                    ));
                }
                t.a = all(fml(layers, q(-1, 2), Exponent::zero(), half()));
                t.b = all(vec![half(); layers]);
                t.c = all(zero());
                // Hidden biases behave like input weights (fan-in 1); the output bias is Θ(1).
                t.bias_a = Some(all(fml(layers, q(-1, 2), q(-1, 2), Exponent::zero())));
                t.bias_b = Some(all(fml(layers, half(), half(), Exponent::zero())));
                t.bias_c = Some(all(zero()));
            }
            "ip" | "ip_llr" | "ip_bias" | "ip_noncentered" => {
                t.a = all(fml(layers, Exponent::zero(), q(1, 1), q(1, 1)));
                t.b = all(zero());
                // Naive-IP learning rates c = (-1, -2, -1) (thesis §2.2.2).
                let naive = fml(layers, q(-1, 1), q(-2, 1), q(-1, 1));
                t.c = all(naive.clone());
                match name {
                    "ip" => self.check_args(args, &[], name)?,
                    "ip_llr" => {
                        self.check_args(args, &["p"], name)?;
                        let p = match self.arg(args, "p") {
                            Some(a) => {
                                self.positive_rational(&a.value, "the homogeneity degree p")?
                            }
                            None => Rational::from_integer(1.into()),
                        };
                        let gamma = gamma_rates(&p, depth);
                        t.c = vec![(TimeSel::At(0), gamma), (TimeSel::From(1), naive)];
                    }
                    "ip_bias" => {
                        // Thesis §2.5.2: unscaled biases and layer-dependent first-step rates.
                        self.check_args(args, &[], name)?;
                        let big_l = depth as i64;
                        let w0: Vec<Exponent> = (1..=layers as i64)
                            .map(|l| {
                                if l == 1 {
                                    q(-(big_l + 1), 2)
                                } else if l == big_l + 1 {
                                    q(-1, 1)
                                } else {
                                    q(-(big_l - l + 4), 2)
                                }
                            })
                            .collect();
                        let b0: Vec<Exponent> = (1..=layers as i64)
                            .map(|l| {
                                if l == 1 {
                                    q(-(big_l + 1), 2)
                                } else if l == big_l + 1 {
                                    Exponent::zero()
                                } else {
                                    q(-(big_l - l + 2), 2)
                                }
                            })
                            .collect();
                        t.c = vec![(TimeSel::At(0), w0), (TimeSel::From(1), naive)];
                        t.bias_a = Some(all(zero()));
                        t.bias_b = Some(all(zero()));
                        // Later bias rates are not in the thesis; these are the companion
                        // code's (`scale_bias_lr`): -1 for hidden layers, 0 for the output.
                        let later = fml(layers, q(-1, 1), q(-1, 1), Exponent::zero());
                        t.bias_c = Some(vec![(TimeSel::At(0), b0), (TimeSel::From(1), later)]);
                    }
                    _ => {
                        // Thesis §2.5.1: w(0) = U + u J for l ≥ 2, Naive-IP rates.
                        self.check_args(args, &["u"], name)?;
                        let u = match self.arg(args, "u") {
                            Some(a) => self.number(&a.value)?,
                            None => 1.0,
                        };
                        t.mean = (1..=layers).map(|l| if l == 1 { 0.0 } else { u }).collect();
                    }
                }
            }
            other => {
                return Err(self.error(
                    span,
                    format!("unknown parameterization `{other}`"),
                    Some(format!("use one of {}", PRESETS.join(", "))),
                ))
            }
        }
        Ok(t)
    }

    fn positive_rational(&self, e: &ast::Expr, what: &str) -> Result<Rational, Diagnostic> {
        let v = self.static_eval(e)?;
        match v.as_rational() {
            Some(p) if p > Rational::from_integer(0.into()) => Ok(p),
            _ => Err(self.error(
                e.span,
                format!("{what} must be a positive exact number"),
                None,
            )),
        }
    }

    fn apply_entry(
        &self,
        t: &mut Table,
        form: &str,
        entry: &ast::ParamzEntry,
        layers: usize,
    ) -> Result<(), Diagnostic> {
        let key = entry.key.as_str();
        let timed_ok = matches!(key, "c" | "bias_c");
        if entry.time != TimeSel::All && !timed_ok {
            return Err(self.error(
                entry.key_span,
                format!("only learning-rate exponents can depend on the step, not `{key}`"),
                Some("write `c(t=0) = …` or `c(t>=1) = …`".into()),
            ));
        }
        if form == "ac" && (key == "b" || key == "bias_b") {
            return Err(self.error(
                entry.key_span,
                "the ac form has no `b` (initializations are N(0, 1))",
                Some("use `parameterization abc { … }` to set b".into()),
            ));
        }
        match key {
            "a" | "b" | "c" | "bias_a" | "bias_b" | "bias_c" => {
                let values = self
                    .expand_list(&entry.value, Some(layers))?
                    .into_iter()
                    .map(|e| self.exponent(e))
                    .collect::<Result<Vec<_>, _>>()?;
                let slot: &mut Timed = match key {
                    "a" => &mut t.a,
                    "b" => &mut t.b,
                    "c" => &mut t.c,
                    "bias_a" => t.bias_a.get_or_insert_with(Vec::new),
                    "bias_b" => t.bias_b.get_or_insert_with(Vec::new),
                    _ => {
                        if t.bias_c.is_none() {
                            t.bias_c = Some(t.c.clone());
                        }
                        t.bias_c.get_or_insert_with(Vec::new)
                    }
                };
                if entry.time == TimeSel::All {
                    slot.clear();
                }
                slot.push((entry.time, values));
            }
            "std" | "mean" | "bias_std" | "bias_mean" => {
                let values = self.number_list(&entry.value, Some(layers))?;
                if key.ends_with("std") && values.iter().any(|s| *s < 0.0) {
                    return Err(self.error(
                        entry.value.span,
                        "a standard deviation cannot be negative",
                        None,
                    ));
                }
                match key {
                    "std" => t.std = values,
                    "mean" => t.mean = values,
                    "bias_std" => t.bias_std = Some(values),
                    _ => t.bias_mean = Some(values),
                }
            }
            other => {
                return Err(self.error(
                    entry.key_span,
                    format!("unknown parameterization key `{other}`"),
                    Some(
                        "keys: a, b, c, std, mean, bias_a, bias_b, bias_c, bias_std, bias_mean"
                            .into(),
                    ),
                ))
            }
        }
        Ok(())
    }

    /// Checks that entries without a preset give `a` (the key that has no neutral default).
    pub(super) fn check_form_complete(
        &self,
        name: &str,
        span: Span,
        entries: &[ast::ParamzEntry],
    ) -> Result<(), Diagnostic> {
        if (name == "abc" || name == "ac") && !entries.iter().any(|e| e.key == "a") {
            return Err(self.error(
                span,
                format!("`parameterization {name}` needs the layer multipliers `a`"),
                Some("add `a = [first, middle.., last]` inside the braces".into()),
            ));
        }
        Ok(())
    }
}

/// The value of a timed key at step `t` for layer `l` (0-based): an exact-step entry wins
/// over a from-step entry, which wins over an every-step entry; later entries win ties.
fn pick(timed: &Timed, t: usize, l: usize) -> Exponent {
    let mut best: Option<(u8, usize, &Vec<Exponent>)> = None;
    for (sel, values) in timed {
        let rank = match sel {
            TimeSel::All => Some((0, 0)),
            TimeSel::From(k) if *k <= t => Some((1, *k)),
            TimeSel::At(k) if *k == t => Some((2, 0)),
            _ => None,
        };
        if let Some((r, k)) = rank {
            if best.map_or(true, |(br, bk, _)| (r, k) >= (br, bk)) {
                best = Some((r, k, values));
            }
        }
    }
    best.and_then(|(_, _, v)| v.get(l).cloned())
        .unwrap_or_default()
}

/// IP-LLR first-step rates γ_l(p) (thesis Def 2.3.2): with S = Σ_{k<L} p^k,
/// γ_1 = γ_{L+1} = -(1 + S)/2 and γ_l = -1 - S/2 for the middle layers.
pub(super) fn gamma_rates(p: &Rational, depth: usize) -> Vec<Exponent> {
    let mut s = Rational::from_integer(0.into());
    let mut power = Rational::from_integer(1.into());
    for _ in 0..depth {
        s += &power;
        power *= p;
    }
    let one = Rational::from_integer(1.into());
    let two = Rational::from_integer(2.into());
    let outer = -(&one + &s) / &two;
    let middle = -(&one + &s / &two);
    fml(
        depth + 1,
        Exponent::constant(outer.clone()),
        Exponent::constant(middle),
        Exponent::constant(outer),
    )
}
