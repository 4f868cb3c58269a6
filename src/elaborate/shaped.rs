//! Shaped networks: a `shaped` statement elaborated into a [`ShapedProgram`].
//!
//! A shaped MLP (Li, Nica & Roy 2022) is kept rolled like a `resnet`: one layer, the
//! Gram matrix of its inputs as the state, the width n and the depth d = τ n symbolic.
//! Elaborating it means reading the options, checking them against the declarations
//! (`width n`, `depth d = tau * n`, `input …`, `param …`), turning the shaping constants
//! and the activation's Taylor data at 0 into exact [`Poly`]s, and computing the input
//! Gram matrix Φ₀. The declarations themselves (and `--set`) go through the same pass as
//! for every other program.

use super::resnet::symbol_in;
use super::{Elab, Override, Val};
use crate::exponent::{format_rational, Exponent, Rational};
use crate::ir::{Expr, Func};
use crate::shaped::taylor::{self, TaylorError};
use crate::shaped::{Atom, Poly, ShapedAct, ShapedError, ShapedProgram, SmoothAct};
use crate::syntax::ast::{self, ExprKind, ItemKind, NamedArg, Span};
use crate::syntax::Diagnostic;
use num_traits::{Signed, Zero};

/// Options every shaped network takes (`act` or `taylor`, `input` or `inputs`).
const COMMON_OPTIONS: [&str; 7] = ["width", "depth", "act", "taylor", "p", "input", "inputs"];

/// Options of the shaped ReLU (`act = relu`): S± = 1 + c± n^{-p}.
const RELU_OPTIONS: [&str; 2] = ["c_plus", "c_minus"];

/// Options of a smooth shaping S φ(x/S), S = a n^p.
const SMOOTH_OPTIONS: [&str; 2] = ["a", "normalize"];

/// How to give the activation, for hints.
const ACT_HINT: &str = "write `act = relu` (the shaped ReLU, with `c_plus`, `c_minus`), \
                        `act = tanh` (a built-in or a declared activation, smooth at 0), or \
                        `taylor = [f0, f1, f2, f3]` (phi(0), phi'(0), phi''(0), phi'''(0) \
                        given directly)";

/// Which shaping the activation gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Relu,
    Smooth,
}

impl Kind {
    /// Every option this kind accepts.
    fn options(self) -> Vec<&'static str> {
        let own: &[&str] = match self {
            Kind::Relu => &RELU_OPTIONS,
            Kind::Smooth => &SMOOTH_OPTIONS,
        };
        COMMON_OPTIONS.iter().chain(own).copied().collect()
    }

    /// How the kind is named in messages.
    fn describe(self) -> &'static str {
        match self {
            Kind::Relu => "the shaped ReLU (`act = relu`)",
            Kind::Smooth => "a smooth shaping (`act = tanh`, a formula, or `taylor = […]`)",
        }
    }
}

/// Whether an item is a `shaped` statement.
pub(super) fn is_shaped(kind: &ItemKind) -> bool {
    matches!(kind, ItemKind::Shaped { .. })
}

/// "1 entry", "3 entries".
fn entries(k: usize) -> String {
    if k == 1 {
        "1 entry".into()
    } else {
        format!("{k} entries")
    }
}

/// The symbols (program parameters, not the opaque constants of Taylor data) of a poly.
fn poly_symbols(p: &Poly, out: &mut Vec<String>) {
    for atom in p.atoms() {
        if let Atom::Sym(s) = atom {
            if !taylor::is_opaque(&s) {
                out.push(s);
            }
        }
    }
}

impl Elab<'_> {
    /// Elaborates a file with a `shaped` statement: its shape, the declarations, then the
    /// network.
    pub(super) fn shaped_program(
        &mut self,
        file: &ast::File,
        overrides: &[Override],
    ) -> Result<ShapedProgram, Diagnostic> {
        let item = self.shaped_shape(file)?;
        self.declarations(file, overrides)?;
        self.shaped(item)
    }

    /// A shaped program is declarations and exactly one top-level `shaped`: returns it,
    /// or the statement that breaks that rule.
    fn shaped_shape<'f>(&self, file: &'f ast::File) -> Result<&'f ast::Item, Diagnostic> {
        let mut found = Vec::new();
        super::items_where(&file.items, is_shaped, false, &mut found);
        if let Some((item, _)) = found.iter().find(|(_, in_loop)| *in_loop) {
            return Err(self.error(
                item.span,
                "`shaped` cannot be inside a loop",
                Some(
                    "the network is rolled over its layers already (its depth is `depth d = \
                     tau * n`); declare it once, at the top level"
                        .into(),
                ),
            ));
        }
        let Some(&(first, _)) = found.first() else {
            return Err(self.error(
                Span::default(),
                "internal error: a shaped program without `shaped`",
                Some("this is a bug in tp; please report it with this input".into()),
            ));
        };
        if let Some((second, _)) = found.get(1) {
            return Err(self.error(
                second.span,
                format!(
                    "a second `shaped` network; a program has one network (the first is at \
                     line {})",
                    self.line_of(first.span)
                ),
                Some("put each network in a file of its own".into()),
            ));
        }
        let line = self.line_of(first.span);
        for item in &file.items {
            if let ItemKind::Depth(name) = &item.kind {
                return Err(self.error(
                    item.span,
                    format!("the depth `{name}` of a shaped network is not tied to the width"),
                    Some(format!(
                        "a shaped network's depth grows in proportion to its width (d/n → \
                         τ): write `depth {name} = tau * n`, e.g. `depth {name} = n` for τ = 1"
                    )),
                ));
            }
            let what = match &item.kind {
                ItemKind::Mlp { .. } => "an `mlp`",
                ItemKind::Resnet { .. } => "a `resnet`",
                ItemKind::Parameterization { .. } => "a `parameterization`",
                ItemKind::Train { .. } => "a `train` statement",
                ItemKind::Dim { .. } => "a fixed dimension `dim`",
                ItemKind::Particles { .. } => "a particle count `particles`",
                ItemKind::Matrix { .. } | ItemKind::Sample { .. } | ItemKind::Define { .. } => {
                    "a raw Tensor Program statement"
                }
                ItemKind::For { .. } => "a loop of raw Tensor Program statements",
                _ => continue,
            };
            return Err(self.error(
                item.span,
                format!("{what} in a `shaped` program (the `shaped` network is at line {line})"),
                Some(
                    "a shaped program has only declarations (`program`, `width`, `depth d = \
                     tau * n`, `param`, `activation`, `input`) and one `shaped`; put other \
                     networks in a file of their own"
                        .into(),
                ),
            ));
        }
        Ok(first)
    }

    /// Reads the options of `shaped NAME(…)`.
    fn shaped(&mut self, item: &ast::Item) -> Result<ShapedProgram, Diagnostic> {
        let ItemKind::Shaped {
            name,
            name_span,
            args,
        } = &item.kind
        else {
            return Err(self.error(item.span, "internal error: not a `shaped`", None));
        };
        let at = *name_span;
        self.check_shaped_names(args)?;
        let act_arg = self.named_arg(args, "act");
        let taylor_arg = self.named_arg(args, "taylor");
        // The kind comes first: every later message can then name the right options.
        let (kind, resolved) = match (act_arg, taylor_arg) {
            (Some(a), Some(t)) => {
                let later = if a.name_span.start > t.name_span.start {
                    a
                } else {
                    t
                };
                return Err(self.error(
                    later.name_span,
                    "both `act` and `taylor` are given",
                    Some(
                        "give one: `act = …` names an activation (its Taylor data at 0 is \
                         computed exactly), `taylor = [f0, f1, f2, f3]` gives the data \
                         without a formula"
                            .into(),
                    ),
                ));
            }
            (None, None) => {
                return Err(self.error(
                    at,
                    format!("`shaped {name}` needs an activation"),
                    Some(ACT_HINT.into()),
                ))
            }
            (Some(a), None) => {
                let (act_name, body) = self.activation_alias(&a.value)?;
                if body == Expr::call(Func::Relu, Expr::Arg) {
                    (Kind::Relu, None)
                } else {
                    (Kind::Smooth, Some((act_name, body)))
                }
            }
            (None, Some(_)) => (Kind::Smooth, None),
        };
        self.check_shaped_kind(args, kind)?;
        let width = self.shaped_width(args, at)?;
        let (depth, tau) = self.shaped_depth(args, at, &width)?;
        let p = self.shaping_exponent(args)?;
        let (inputs, gram0) = self.shaped_inputs(args, at)?;
        let act = match kind {
            Kind::Relu => self.shaped_relu(args, at)?,
            Kind::Smooth => ShapedAct::Smooth(self.smooth(args, act_arg, taylor_arg, resolved)?),
        };
        let mut used: Vec<String> = p.terms().keys().cloned().collect();
        match &act {
            ShapedAct::Relu { c_plus, c_minus } => {
                poly_symbols(c_plus, &mut used);
                poly_symbols(c_minus, &mut used);
            }
            ShapedAct::Smooth(s) => {
                poly_symbols(&s.a, &mut used);
                s.taylor.iter().for_each(|t| poly_symbols(t, &mut used));
            }
        }
        // In declaration order, each once.
        let symbols = self
            .program
            .symbols
            .iter()
            .filter(|s| used.contains(s))
            .cloned()
            .collect();
        Ok(ShapedProgram {
            title: self.program.title.clone(),
            width,
            depth,
            tau,
            symbols,
            p,
            act,
            activations: std::mem::take(&mut self.program.activations),
            inputs,
            gram0,
        })
    }

    /// Refuses repeated options and options no shaped network has.
    fn check_shaped_names(&self, args: &[NamedArg]) -> Result<(), Diagnostic> {
        for (k, a) in args.iter().enumerate() {
            if let Some(first) = args[..k].iter().find(|b| b.name == a.name) {
                return Err(self.error(
                    a.name_span,
                    format!(
                        "option `{}` is given twice (first at line {})",
                        a.name,
                        self.line_of(first.name_span)
                    ),
                    Some("give each option once".into()),
                ));
            }
            let known = COMMON_OPTIONS
                .iter()
                .chain(&RELU_OPTIONS)
                .chain(&SMOOTH_OPTIONS)
                .any(|o| *o == a.name);
            if !known {
                return Err(self.error(
                    a.name_span,
                    format!("a shaped network has no option `{}`", a.name),
                    Some(format!(
                        "options: {}; with `act = relu` also {}; with a smooth activation \
                         also {}",
                        COMMON_OPTIONS.join(", "),
                        RELU_OPTIONS.join(", "),
                        SMOOTH_OPTIONS.join(", ")
                    )),
                ));
            }
        }
        Ok(())
    }

    /// Refuses the options of the other kind of shaping.
    fn check_shaped_kind(&self, args: &[NamedArg], kind: Kind) -> Result<(), Diagnostic> {
        let allowed = kind.options();
        let Some(a) = args.iter().find(|a| !allowed.contains(&a.name.as_str())) else {
            return Ok(());
        };
        let (belongs, instead) = match kind {
            Kind::Relu => (
                "a smooth shaping S phi(x/S), S = a n^p",
                "the shaped ReLU's slopes are S± = 1 + c± n^(-p): use `c_plus` and `c_minus`",
            ),
            Kind::Smooth => (
                "the shaped ReLU (`act = relu`)",
                "a smooth activation is shaped as S phi(x/S) with S = a n^p: use `a` and \
                 `normalize`",
            ),
        };
        Err(self.error(
            a.name_span,
            format!(
                "`{}` is an option of {belongs}, but this network has {}",
                a.name,
                kind.describe()
            ),
            Some(instead.into()),
        ))
    }

    /// `width = n`: the declared width's name.
    fn shaped_width(&self, args: &[NamedArg], at: Span) -> Result<String, Diagnostic> {
        let arg = self.named_arg(args, "width").ok_or_else(|| {
            self.error(
                at,
                "a shaped network needs the option `width`",
                Some(match &self.scope.width {
                    Some(n) => format!("add `width = {n}` (the declared width)"),
                    None => "declare `width n` and add `width = n`".into(),
                }),
            )
        })?;
        self.declared_width(arg)
    }

    /// `depth = d`: the declared depth's name and the exact ratio τ of `depth d = tau * n`.
    fn shaped_depth(
        &self,
        args: &[NamedArg],
        at: Span,
        width: &str,
    ) -> Result<(String, Rational), Diagnostic> {
        let arg = self.named_arg(args, "depth").ok_or_else(|| {
            self.error(
                at,
                "a shaped network needs the option `depth`",
                Some(match &self.scope.depth {
                    Some(d) => format!("add `depth = {d}` (the declared depth)"),
                    None => format!(
                        "declare the depth before the network, `depth d = tau * {width}`, and \
                         add `depth = d`"
                    ),
                }),
            )
        })?;
        let (Some(depth), Some((_, value))) = (self.scope.depth.clone(), &self.scope.tied_depth)
        else {
            return Err(self.error(
                arg.value.span,
                "the program declares no depth",
                Some(format!(
                    "declare the depth before the network, tied to the width: `depth d = tau \
                     * {width}` (e.g. `depth d = {width}` for τ = 1), and write `depth = d`"
                )),
            ));
        };
        self.size_name(arg, &depth, "depth", "the depth is a size that grows")?;
        let tau = self.depth_ratio(value, &depth, width)?;
        Ok((depth, tau))
    }

    /// τ from the right-hand side of `depth d = tau * n`: a positive exact number times n.
    fn depth_ratio(
        &self,
        value: &ast::Expr,
        depth: &str,
        width: &str,
    ) -> Result<Rational, Diagnostic> {
        let example = format!(
            "write `depth {depth} = tau * {width}` with tau a positive exact number (a \
             fraction, or a `param tau = 1`), e.g. `depth {depth} = {width}` or `depth \
             {depth} = 1/2 * {width}`"
        );
        if let Some((symbol, span)) = symbol_in(value, &self.scope.symbols) {
            return Err(self.error(
                span,
                format!("the depth-to-width ratio reads the symbolic parameter `{symbol}`"),
                Some(format!(
                    "τ = {depth}/{width} is the time of the limiting SDE and needs a value: \
                     `param {symbol} = 1`, or `--set {symbol}=1`"
                )),
            ));
        }
        let v = self.static_eval(value)?;
        let (coef, exp) = v.split_width();
        if exp != Exponent::ratio(1, 1) {
            let what = if exp.is_zero() {
                "a number, not a multiple of the width".to_string()
            } else {
                format!("a multiple of {width}^({}), not of {width}", exp_text(&exp))
            };
            return Err(self.error(
                value.span,
                format!("the depth `{depth}` must be proportional to the width `{width}`; this is {what}"),
                Some(example),
            ));
        }
        match coef {
            Val::Exact(q) if q.is_positive() => Ok(q),
            Val::Exact(q) => Err(self.error(
                value.span,
                format!(
                    "the depth-to-width ratio τ is {}; it must be > 0",
                    format_rational(&q)
                ),
                Some(example),
            )),
            other => Err(self.error(
                value.span,
                format!(
                    "the depth-to-width ratio τ must be an exact number, not {}",
                    other.describe()
                ),
                Some(example),
            )),
        }
    }

    /// `p = …`: the shaping exponent (default 1/2, the critical one), exact and > 0 when
    /// it is a number.
    fn shaping_exponent(&self, args: &[NamedArg]) -> Result<Exponent, Diagnostic> {
        let p = self.exponent_or(args, "p", Exponent::ratio(1, 2))?;
        if let (Some(q), Some(a)) = (p.as_constant(), self.named_arg(args, "p")) {
            if !q.is_positive() {
                return Err(self.error(
                    a.value.span,
                    format!(
                        "the shaping exponent p is {}; it must be > 0",
                        format_rational(q)
                    ),
                    Some(
                        "the activation is shaped towards the identity as n^(-p) → 0; p = 1/2 \
                         (the default) is the critical exponent of Li, Nica & Roy"
                            .into(),
                    ),
                ));
            }
        }
        Ok(p)
    }

    /// `input = x` or `inputs = [xa, xb]`: the names and the Gram matrix Φ₀ = ⟨xᵅ, xᵝ⟩/n₀,
    /// refused unless positive definite.
    fn shaped_inputs(
        &self,
        args: &[NamedArg],
        at: Span,
    ) -> Result<(Vec<String>, Vec<Vec<f64>>), Diagnostic> {
        let hint = "declare the inputs before the network, `input xa = [1, 0]` and `input xb \
                    = [0.6, 0.8]`, and write `inputs = [xa, xb]` (or `input = xa` for one)";
        let one = self.named_arg(args, "input");
        let many = self.named_arg(args, "inputs");
        let named: Vec<&ast::Expr> = match (one, many) {
            (Some(a), Some(b)) => {
                let later = if a.name_span.start > b.name_span.start {
                    a
                } else {
                    b
                };
                return Err(self.error(
                    later.name_span,
                    "both `input` and `inputs` are given",
                    Some("list every input once: `inputs = [xa, xb]`".into()),
                ));
            }
            (None, None) => {
                return Err(self.error(at, "a shaped network needs its inputs", Some(hint.into())))
            }
            (Some(a), None) => vec![&a.value],
            (None, Some(b)) => match &b.value.kind {
                ExprKind::List(items) if !items.is_empty() => {
                    if let Some(r) = items.iter().find(|i| i.repeat) {
                        return Err(self.error(
                            r.value.span,
                            "`..` cannot repeat an input",
                            Some("list each input once".into()),
                        ));
                    }
                    items.iter().map(|i| &i.value).collect()
                }
                _ => {
                    return Err(self.error(
                        b.value.span,
                        "`inputs` is a non-empty list of declared inputs",
                        Some(hint.into()),
                    ))
                }
            },
        };
        let mut names: Vec<String> = Vec::new();
        let mut vectors: Vec<&[f64]> = Vec::new();
        for e in &named {
            let name = self.keyword(e);
            let def = name.as_deref().and_then(|n| self.scope.inputs.get(n));
            let (Some(name), Some(def)) = (name, def) else {
                return Err(self.error(
                    e.span,
                    match self.keyword(e) {
                        Some(n) => format!("`{n}` is not a declared input"),
                        None => "an input must be the name of a declared input".into(),
                    },
                    Some(hint.into()),
                ));
            };
            if names.contains(&name) {
                return Err(self.error(
                    e.span,
                    format!("the input `{name}` is listed twice"),
                    Some(
                        "two equal inputs make the Gram matrix singular; list each input once"
                            .into(),
                    ),
                ));
            }
            if def.values.is_empty() {
                return Err(self.error(
                    e.span,
                    format!("the input `{name}` has no entries"),
                    Some("give the input at least one entry, e.g. `input x = [1, 0.5]`".into()),
                ));
            }
            if let (Some(first), Some(first_name)) = (vectors.first(), names.first()) {
                if first.len() != def.values.len() {
                    return Err(self.error(
                        e.span,
                        format!(
                            "the input `{name}` has {}, but `{first_name}` has {}",
                            entries(def.values.len()),
                            entries(first.len())
                        ),
                        Some("every input of a network has the same dimension n0".into()),
                    ));
                }
            }
            names.push(name);
            vectors.push(&def.values);
        }
        let n0 = vectors[0].len() as f64;
        let gram: Vec<Vec<f64>> = vectors
            .iter()
            .map(|a| {
                vectors
                    .iter()
                    .map(|b| a.iter().zip(b.iter()).map(|(x, y)| x * y).sum::<f64>() / n0)
                    .collect()
            })
            .collect();
        if let Some(k) = singular_at(&gram) {
            let name = &names[k];
            let (message, what) = if gram[k][k] <= 0.0 {
                (
                    format!("the input `{name}` is zero"),
                    "a zero input".to_string(),
                )
            } else if k == 1 {
                (
                    format!("the inputs `{}` and `{name}` are parallel", names[0]),
                    "parallel inputs".to_string(),
                )
            } else {
                let before: Vec<String> = names[..k].iter().map(|n| format!("`{n}`")).collect();
                (
                    format!(
                        "the input `{name}` is a linear combination of {}",
                        before.join(", ")
                    ),
                    "linearly dependent inputs".to_string(),
                )
            };
            return Err(self.error(
                named[k].span,
                format!("{message}: the input Gram matrix is singular"),
                Some(format!(
                    "the covariance SDE starts from Phi0 = <x^a, x^b>/n0, which must be \
                     positive definite, and {what} make it singular: give linearly \
                     independent inputs, or drop `{name}`"
                )),
            ));
        }
        Ok((names, gram))
    }

    /// An exact number or an affine expression in symbolic parameters, as a [`Poly`]. Float
    /// values (from `sqrt`, `pi`) are kept when they are a recognizable exact number.
    fn exact_poly(&self, e: &ast::Expr, key: &str) -> Result<Poly, Diagnostic> {
        if let ExprKind::List(_) = e.kind {
            return Err(self.error(
                e.span,
                format!("`{key}` is one number, not a list"),
                Some(format!("write e.g. `{key} = 1/2`, or a symbolic parameter")),
            ));
        }
        match self.static_eval(e)? {
            Val::Exact(q) => Ok(Poly::constant(q)),
            Val::Affine(exp) => {
                let mut out = Poly::constant(exp.constant_part().clone());
                for (s, q) in exp.terms() {
                    out = out.add(&Poly::sym(s).scale(q));
                }
                Ok(out)
            }
            Val::Real(x) => taylor::exact_constant(x).ok_or_else(|| {
                self.error(
                    e.span,
                    format!("`{key}` is {x}, which is not recognized as an exact number"),
                    Some(
                        "the shaped network's constants are exact: write fractions or \
                         decimals (`0.5` is 1/2), square roots of them, multiples of `pi`, or \
                         symbolic parameters"
                            .into(),
                    ),
                )
            }),
            Val::Width { .. } => Err(self.error(
                e.span,
                format!("`{key}` depends on the width"),
                Some(
                    "the power of the width is the shaping exponent `p`; write the constant \
                     alone"
                        .into(),
                ),
            )),
        }
    }

    /// An optional exact constant, `default` when absent.
    fn exact_poly_or(
        &self,
        args: &[NamedArg],
        key: &str,
        default: Poly,
    ) -> Result<Poly, Diagnostic> {
        match self.named_arg(args, key) {
            Some(a) => self.exact_poly(&a.value, key),
            None => Ok(default),
        }
    }

    /// `act = relu`: the slopes c± (default 0), which must differ when both are numbers.
    fn shaped_relu(&self, args: &[NamedArg], at: Span) -> Result<ShapedAct, Diagnostic> {
        let c_plus = self.exact_poly_or(args, "c_plus", Poly::zero())?;
        let c_minus = self.exact_poly_or(args, "c_minus", Poly::zero())?;
        if let (Some(a), Some(b)) = (c_plus.as_rational(), c_minus.as_rational()) {
            if a == b {
                let span = self
                    .named_arg(args, "c_minus")
                    .or_else(|| self.named_arg(args, "c_plus"))
                    .map_or(at, |a| a.value.span);
                return Err(self.error(
                    span,
                    format!(
                        "c_plus = c_minus = {}: the shaped ReLU is then linear",
                        format_rational(&a)
                    ),
                    Some(
                        "with equal slopes φ_S(x) = (1 + c n^(-p)) x and the network is \
                         linear, so nothing is shaped; give different slopes, e.g. \
                         `c_plus = 0, c_minus = -1`"
                            .into(),
                    ),
                ));
            }
        }
        Ok(ShapedAct::Relu { c_plus, c_minus })
    }

    /// A smooth shaping: the Taylor data (computed from `act`, or given by `taylor`), the
    /// scale `a` and `normalize`, checked so that the shaped activation is defined.
    fn smooth(
        &mut self,
        args: &[NamedArg],
        act_arg: Option<&NamedArg>,
        taylor_arg: Option<&NamedArg>,
        resolved: Option<(String, Expr)>,
    ) -> Result<SmoothAct, Diagnostic> {
        let (name, act, data, span) = match (act_arg, resolved, taylor_arg) {
            (Some(a), Some((ir_name, body)), _) => {
                let id = self.intern_activation(&ir_name, body);
                let written = self.keyword(&a.value).unwrap_or(ir_name);
                let data = taylor::taylor_at_zero(
                    &self.program.activations[id.0],
                    &self.program.activations,
                )
                .map_err(|e| self.taylor_error(&written, &e, a.value.span))?;
                (written, Some(id), data, a.value.span)
            }
            (_, _, Some(t)) => (
                "taylor".to_string(),
                None,
                self.taylor_list(&t.value)?,
                t.value.span,
            ),
            _ => {
                return Err(self.error(
                    Span::default(),
                    "internal error: a smooth shaping without an activation",
                    Some("this is a bug in tp; please report it with this input".into()),
                ))
            }
        };
        let a = self.exact_poly_or(args, "a", Poly::int(1))?;
        if a.is_zero() {
            let span = self.named_arg(args, "a").map_or(span, |x| x.value.span);
            return Err(self.error(
                span,
                "the shaping scale `a` is 0",
                Some("S = a n^p divides the argument: give a non-zero scale, e.g. `a = 1`".into()),
            ));
        }
        let normalize_arg = self.named_arg(args, "normalize");
        let normalize =
            match normalize_arg {
                None => false,
                Some(x) => match self.keyword(&x.value).as_deref() {
                    Some("yes") => true,
                    Some("no") => false,
                    _ => return Err(self.error(
                        x.value.span,
                        "`normalize` is `yes` or `no`",
                        Some(
                            "write `normalize = yes` to shape (phi - phi(0)) / phi'(0) instead \
                             of phi"
                                .into(),
                        ),
                    )),
                },
            };
        if normalize && data[1].0.len() > 1 {
            return Err(self.error(
                span,
                format!(
                    "phi'(0) = {} is a sum, which tp cannot invert exactly",
                    data[1]
                ),
                Some(
                    "give normalized Taylor data, `taylor = [0, 1, f2, f3]`, without \
                     `normalize`"
                        .into(),
                ),
            ));
        }
        let smooth = SmoothAct {
            name,
            act,
            taylor: data,
            normalize,
            a,
        };
        if let Err(e) = smooth.normalized_taylor() {
            let (at, hint) = match (&e, normalize_arg) {
                (ShapedError::ZeroSlope, Some(x)) => (
                    x.value.span,
                    "an activation with phi'(0) = 0 cannot be rescaled to slope 1; shaping \
                     needs a non-zero slope at 0",
                ),
                _ => (
                    span,
                    "add `normalize = yes` to shape (phi - phi(0)) / phi'(0), whose value is \
                     0 and slope 1 at 0",
                ),
            };
            return Err(self.error(at, e.to_string(), Some(hint.into())));
        }
        Ok(smooth)
    }

    /// `taylor = [f0, f1, f2, f3]`: exactly four exact entries.
    fn taylor_list(&self, e: &ast::Expr) -> Result<[Poly; 4], Diagnostic> {
        let hint = "`taylor` is [phi(0), phi'(0), phi''(0), phi'''(0)]: four exact numbers or \
                    symbolic parameters, e.g. `taylor = [0, 1, u, v]`";
        let ExprKind::List(items) = &e.kind else {
            return Err(self.error(
                e.span,
                "`taylor` is a list of four entries",
                Some(hint.into()),
            ));
        };
        if items.len() != 4 || items.iter().any(|i| i.repeat) {
            return Err(self.error(
                e.span,
                format!("`taylor` has {}; it needs exactly 4", entries(items.len())),
                Some(hint.into()),
            ));
        }
        let mut out: [Poly; 4] = Default::default();
        for (slot, item) in out.iter_mut().zip(items) {
            *slot = self.exact_poly(&item.value, "taylor")?;
        }
        Ok(out)
    }

    /// The diagnostic when an activation's Taylor data at 0 cannot be computed exactly.
    fn taylor_error(&self, name: &str, e: &TaylorError, span: Span) -> Diagnostic {
        let hint = match e {
            TaylorError::NotSmooth { .. } => {
                "a smooth shaping needs an activation that is smooth at 0; for a ReLU write \
                 `act = relu` (the shaped ReLU, with `c_plus` and `c_minus`)"
            }
            _ => {
                "write `taylor = [phi(0), phi'(0), phi''(0), phi'''(0)]` in place of `act`, \
                 with exact numbers or symbolic parameters (`param u, v symbolic`)"
            }
        };
        self.error(
            span,
            format!("the Taylor data of `{name}` at 0 cannot be computed exactly: {e}"),
            Some(hint.into()),
        )
    }
}

/// An exponent as written in messages.
fn exp_text(e: &Exponent) -> String {
    match e.as_constant() {
        Some(q) => format_rational(q),
        None => {
            let mut parts: Vec<String> = Vec::new();
            if !e.constant_part().is_zero() {
                parts.push(format_rational(e.constant_part()));
            }
            for (s, q) in e.terms() {
                parts.push(format!("{}*{s}", format_rational(q)));
            }
            parts.join(" + ")
        }
    }
}

/// The first index at which the Cholesky factorization of a Gram matrix meets a pivot that
/// is not clearly positive (relative to that input's own norm), or None when positive
/// definite. A relative tolerance: two inputs that are parallel up to rounding make the
/// SDE start on the boundary of the cone, and a simulation there is meaningless.
// Index loops mirror the recurrence L_ij = (G_ij − Σ_p L_ip L_jp) / L_jj.
#[allow(clippy::needless_range_loop)]
fn singular_at(g: &[Vec<f64>]) -> Option<usize> {
    let m = g.len();
    let mut l = vec![vec![0.0; m]; m];
    for j in 0..m {
        let mut d = g[j][j];
        for p in 0..j {
            d -= l[j][p] * l[j][p];
        }
        if g[j][j] <= 0.0 || d.is_nan() || d <= 1e-10 * g[j][j] {
            return Some(j);
        }
        let pivot = d.sqrt();
        l[j][j] = pivot;
        for i in j + 1..m {
            let mut s = g[i][j];
            for p in 0..j {
                s -= l[i][p] * l[j][p];
            }
            l[i][j] = s / pivot;
        }
    }
    None
}
