//! Mean-field networks: a `meanfield` statement elaborated into a [`MeanFieldProgram`].
//!
//! A mean-field two-layer network (De Bortoli, Durmus, Fontaine & Şimşekli 2020) is kept
//! rolled like a `resnet`: one SGD step, the N particles as the state, N and the number of
//! steps symbolic. Elaborating it means reading the options, checking them against the
//! declarations (`particles N`, `param …`, `activation …`), and lowering the formulas — the
//! unit F(w, x), the penalty V(w), the teacher f*(x) — over the reserved variables
//! w1 … wp and x1 … xd, which become the values 0 … p−1 and p … p+d−1 (see
//! [`MeanFieldProgram::w_var`]). The declarations themselves (and `--set`) go through the
//! same pass as for every other program.

use super::raw::FormulaVars;
use super::resnet::symbol_in;
use super::{Elab, Override, Val};
use crate::bounds::{
    MAX_BATCH, MAX_DATA_POINTS, MAX_DERIVATIVE_NODES, MAX_MEANFIELD_DIM, MAX_MEANFIELD_X_DIM,
};
use crate::exponent::{format_rational, Exponent, Rational};
use crate::ir::{Expr, ValueId, Var};
use crate::meanfield::{Data, Formula, InitLaw, Loss, MeanFieldProgram, XLaw};
use crate::syntax::ast::{self, ExprKind, ItemKind, NamePart, NamedArg, Span};
use crate::syntax::Diagnostic;
use num_traits::{One, Signed};

/// Every option a `meanfield` statement accepts (which ones apply depends on `init`,
/// `loss` and `data`; see [`Elab::check_meanfield_kinds`]).
const OPTIONS: [&str; 21] = [
    "particles",
    "dim",
    "x_dim",
    "init",
    "init_mean",
    "init_std",
    "init_radius",
    "init_at",
    "unit",
    "penalty",
    "loss",
    "huber_delta",
    "data",
    "x_law",
    "target",
    "label_noise",
    "batch",
    "gamma",
    "alpha",
    "beta",
    "horizon",
];

/// A complete statement, for hints.
const EXAMPLE: &str = "meanfield net(particles = N, dim = 2, x_dim = 1, unit = tanh(w1 * x1 \
                       + w2), data = teacher, target = tanh(2 * x1), gamma = 1, alpha = 0, \
                       beta = 1/2, horizon = 2)";

/// Whether an item is a `meanfield` statement.
pub(super) fn is_meanfield(kind: &ItemKind) -> bool {
    matches!(kind, ItemKind::MeanField { .. })
}

/// "1 entry", "3 entries".
fn entries(k: usize) -> String {
    if k == 1 {
        "1 entry".into()
    } else {
        format!("{k} entries")
    }
}

/// `w1 … w2`, `x1` (the names of one kind of variable, for messages).
fn var_range(prefix: char, count: usize) -> String {
    if count == 1 {
        format!("{prefix}1")
    } else {
        format!("{prefix}1 … {prefix}{count}")
    }
}

/// The pattern of a data row, `[x1, y]` or `[x1, …, x3, y]`.
fn row_pattern(x_dim: usize) -> String {
    format!("[{}, y]", var_range('x', x_dim).replace(" … ", ", …, "))
}

/// The index k of a variable name `{prefix}k` (`w12` → 12; `w0` → 0), if it is one.
/// An index too large for a machine integer reads as `usize::MAX`: still out of range.
fn var_index(name: &str, prefix: char) -> Option<usize> {
    let digits = name.strip_prefix(prefix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(usize::MAX))
}

/// The plain names an expression reads as values (not the functions it calls), in order.
fn value_names(e: &ast::Expr, out: &mut Vec<(String, Span)>) {
    match &e.kind {
        ExprKind::Number(_) => {}
        ExprKind::Name(n) => {
            if let Some(t) = n.plain() {
                out.push((t.to_string(), e.span));
            }
        }
        ExprKind::Neg(a) => value_names(a, out),
        ExprKind::Binary(_, a, b) => {
            value_names(a, out);
            value_names(b, out);
        }
        ExprKind::Call { callee, args, .. } => {
            for p in &callee.parts {
                if let NamePart::Interp(i) = p {
                    value_names(i, out);
                }
            }
            args.iter().for_each(|a| value_names(a, out));
        }
        ExprKind::MatMul { arg, .. } => value_names(arg, out),
        ExprKind::List(items) => items.iter().for_each(|i| value_names(&i.value, out)),
    }
}

/// The formula as written, one line: comments dropped, whitespace collapsed.
fn normalized_text(source: &str) -> String {
    let mut words: Vec<&str> = Vec::new();
    for line in source.lines() {
        // `#` only ever starts a comment (expressions have no strings).
        let code = line.split('#').next().unwrap_or("");
        words.extend(code.split_whitespace());
    }
    words.join(" ")
}

/// Which variables a formula may read.
#[derive(Clone, Copy)]
struct Reads {
    /// The particle coordinates w1 … wp.
    w: bool,
    /// The input coordinates x1 … xd.
    x: bool,
}

/// What the options `init`, `loss` and `data` chose, which decides the other options.
struct Kinds {
    init: &'static str,
    loss: &'static str,
    data: &'static str,
}

impl Elab<'_> {
    /// Elaborates a file with a `meanfield` statement: its shape, the declarations, then
    /// the network.
    pub(super) fn meanfield_program(
        &mut self,
        file: &ast::File,
        overrides: &[Override],
    ) -> Result<MeanFieldProgram, Diagnostic> {
        let item = self.meanfield_shape(file)?;
        self.declarations(file, overrides)?;
        self.meanfield(item)
    }

    /// A mean-field program is declarations and exactly one top-level `meanfield`:
    /// returns it, or the statement that breaks that rule.
    fn meanfield_shape<'f>(&self, file: &'f ast::File) -> Result<&'f ast::Item, Diagnostic> {
        let mut found = Vec::new();
        super::items_where(&file.items, is_meanfield, false, &mut found);
        if let Some((item, _)) = found.iter().find(|(_, in_loop)| *in_loop) {
            return Err(self.error(
                item.span,
                "`meanfield` cannot be inside a loop",
                Some(
                    "the SGD steps are rolled already (their number is horizon / step); \
                     declare the network once, at the top level"
                        .into(),
                ),
            ));
        }
        let Some(&(first, _)) = found.first() else {
            return Err(self.error(
                Span::default(),
                "internal error: a mean-field program without `meanfield`",
                Some("this is a bug in tp; please report it with this input".into()),
            ));
        };
        if let Some((second, _)) = found.get(1) {
            return Err(self.error(
                second.span,
                format!(
                    "a second `meanfield` network; a program has one network (the first is at \
                     line {})",
                    self.line_of(first.span)
                ),
                Some("put each network in a file of its own".into()),
            ));
        }
        self.check_reserved_names(file)?;
        let line = self.line_of(first.span);
        for item in &file.items {
            let what = match &item.kind {
                ItemKind::Mlp { .. } => "an `mlp`",
                ItemKind::Resnet { .. } => "a `resnet`",
                ItemKind::Shaped { .. } => "a `shaped` network",
                ItemKind::Parameterization { .. } => "a `parameterization`",
                ItemKind::Train { .. } => {
                    "a `train` statement (the SGD of a mean-field network is given by its \
                     options `gamma`, `alpha`, `beta`, `batch`, `horizon`)"
                }
                ItemKind::Width(_) => "a width `width`",
                ItemKind::Depth(_) | ItemKind::TiedDepth { .. } => "a depth `depth`",
                ItemKind::Dim { .. } => {
                    "a fixed dimension `dim` (the dimensions of a mean-field network are its \
                     options `dim` and `x_dim`)"
                }
                ItemKind::Input { .. } => {
                    "an `input` (a mean-field network draws its inputs from its data: \
                     `data = teacher` or `data = [[x1, …, y], …]`)"
                }
                ItemKind::Matrix { .. } | ItemKind::Sample { .. } | ItemKind::Define { .. } => {
                    "a raw Tensor Program statement"
                }
                ItemKind::For { .. } => "a loop of raw Tensor Program statements",
                _ => continue,
            };
            return Err(self.error(
                item.span,
                format!(
                    "{what} in a `meanfield` program (the `meanfield` network is at line {line})"
                ),
                Some(
                    "a mean-field program has only declarations (`program`, `particles N`, \
                     `param`, `activation`) and one `meanfield`; put other networks in a file \
                     of their own"
                        .into(),
                ),
            ));
        }
        Ok(first)
    }

    /// Refuses a parameter or activation named like a formula variable (`w1`, `x2`):
    /// inside a formula the variable would win, elsewhere the declaration, so one name
    /// would mean two things.
    fn check_reserved_names(&self, file: &ast::File) -> Result<(), Diagnostic> {
        for item in &file.items {
            let names: Vec<(&str, Span)> = match &item.kind {
                ItemKind::Param { items, .. } => {
                    items.iter().map(|p| (p.name.as_str(), p.span)).collect()
                }
                ItemKind::Activation {
                    name, name_span, ..
                } => vec![(name.as_str(), *name_span)],
                _ => continue,
            };
            for (name, span) in names {
                if var_index(name, 'w').is_some() || var_index(name, 'x').is_some() {
                    return Err(self.error(
                        span,
                        format!(
                            "`{name}` names a variable of the mean-field formulas (w1 … wp, \
                             x1 … xd)"
                        ),
                        Some("choose another name for the declaration".into()),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Reads the options of `meanfield NAME(…)`.
    fn meanfield(&mut self, item: &ast::Item) -> Result<MeanFieldProgram, Diagnostic> {
        let ItemKind::MeanField {
            name,
            name_span,
            args,
        } = &item.kind
        else {
            return Err(self.error(item.span, "internal error: not a `meanfield`", None));
        };
        let at = *name_span;
        self.check_meanfield_names(args)?;
        let kinds = self.meanfield_kinds(args)?;
        self.check_meanfield_kinds(args, &kinds)?;
        let size = self.meanfield_particles(args, at, name)?;
        let dim = self.mf_dim(args, "dim", MAX_MEANFIELD_DIM, "the particle w ∈ R^p")?;
        let x_dim = self.mf_dim(args, "x_dim", MAX_MEANFIELD_X_DIM, "the input x ∈ R^d")?;
        let vars: Vec<String> = (1..=dim)
            .map(|i| format!("w{i}"))
            .chain((1..=x_dim).map(|j| format!("x{j}")))
            .collect();
        let init = self.mf_init(args, kinds.init, dim)?;

        let unit_arg = self.named_arg(args, "unit").ok_or_else(|| {
            self.error(
                at,
                format!("`meanfield {name}` needs the option `unit`"),
                Some(format!(
                    "add the unit F(w, x), a formula in {} and {}, e.g. `unit = tanh(w1 * x1 \
                     + w2)`; the network predicts (1/N) Σ_k F(w^k, x)",
                    var_range('w', dim),
                    var_range('x', x_dim)
                )),
            )
        })?;
        let reads_all = Reads { w: true, x: true };
        let unit = self.mf_formula(&unit_arg.value, "unit", &vars, dim, x_dim, reads_all)?;
        if !unit.expr.values().iter().any(|v| v.0 < dim) {
            return Err(self.error(
                unit_arg.value.span,
                "the unit does not depend on the particle",
                Some(format!(
                    "F(w, x) must read at least one of {}: training moves the particles w, \
                     so a unit without them never changes",
                    var_range('w', dim)
                )),
            ));
        }
        let unit_grad = self.mf_gradient(&unit.expr, dim, "unit", unit_arg.value.span)?;

        let (penalty, penalty_grad) = match self.named_arg(args, "penalty") {
            None => (
                Formula {
                    expr: Expr::Const(0.0),
                    text: "0".into(),
                },
                vec![Expr::Const(0.0); dim],
            ),
            Some(a) => {
                let reads = Reads { w: true, x: false };
                let f = self.mf_formula(&a.value, "penalty", &vars, dim, x_dim, reads)?;
                let g = self.mf_gradient(&f.expr, dim, "penalty", a.value.span)?;
                (f, g)
            }
        };
        let loss = match kinds.loss {
            "huber" => Loss::Huber {
                delta: self.mf_positive_or(args, "huber_delta", 1.0, "a Huber threshold")?,
            },
            _ => Loss::Square,
        };
        let data = self.mf_data(args, at, name, &kinds, &vars, dim, x_dim)?;
        let batch = self.mf_batch(args)?;
        let gamma = self.mf_exact(args, "gamma", at, name, "the base step γ", "gamma = 1/10")?;
        let horizon = self.mf_exact(
            args,
            "horizon",
            at,
            name,
            "the horizon T in the time t = n γ_{α,β}(N)",
            "horizon = 2",
        )?;
        let alpha = self.mf_exponent(args, "alpha", at, name)?;
        let beta = self.mf_exponent(args, "beta", at, name)?;
        let mut used: Vec<&String> = alpha.terms().keys().collect();
        used.extend(beta.terms().keys());
        // In declaration order, each once.
        let symbols = self
            .program
            .symbols
            .iter()
            .filter(|s| used.contains(s))
            .cloned()
            .collect();
        Ok(MeanFieldProgram {
            title: self.program.title.clone(),
            size,
            dim,
            x_dim,
            init,
            unit,
            unit_grad,
            penalty,
            penalty_grad,
            loss,
            data,
            batch,
            gamma,
            alpha,
            beta,
            horizon,
            symbols,
            activations: std::mem::take(&mut self.program.activations),
        })
    }

    /// Refuses repeated options and options no mean-field network has.
    fn check_meanfield_names(&self, args: &[NamedArg]) -> Result<(), Diagnostic> {
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
            if !OPTIONS.contains(&a.name.as_str()) {
                return Err(self.error(
                    a.name_span,
                    format!("a mean-field network has no option `{}`", a.name),
                    Some(format!("options: {}; e.g. `{EXAMPLE}`", OPTIONS.join(", "))),
                ));
            }
        }
        Ok(())
    }

    /// A word option (`init = sphere`) among `choices`, `default` when absent.
    fn mf_choice(
        &self,
        args: &[NamedArg],
        key: &str,
        choices: &[&'static str],
        default: &'static str,
        hint: &str,
    ) -> Result<&'static str, Diagnostic> {
        let Some(a) = self.named_arg(args, key) else {
            return Ok(default);
        };
        let word = self.keyword(&a.value);
        match choices.iter().find(|c| Some(**c) == word.as_deref()) {
            Some(c) => Ok(c),
            None => Err(self.error(
                a.value.span,
                format!(
                    "`{key}` is one of {}",
                    choices
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Some(hint.into()),
            )),
        }
    }

    /// The choices `init`, `loss` and `data` (a finite data set reads as `set`).
    fn meanfield_kinds(&self, args: &[NamedArg]) -> Result<Kinds, Diagnostic> {
        let init = self.mf_choice(
            args,
            "init",
            &["gaussian", "sphere", "point"],
            "gaussian",
            "write `init = gaussian` (with `init_mean`, `init_std`), `init = sphere` (with \
             `init_radius`) or `init = point` (with `init_at`)",
        )?;
        let loss = self.mf_choice(
            args,
            "loss",
            &["square", "huber"],
            "square",
            "write `loss = square` ((y_hat - y)^2 / 2) or `loss = huber` (with `huber_delta`)",
        )?;
        let data = match self.named_arg(args, "data") {
            Some(a) if matches!(a.value.kind, ExprKind::List(_)) => "set",
            Some(a) if self.keyword(&a.value).as_deref() == Some("teacher") => "teacher",
            Some(a) => {
                return Err(self.error(
                    a.value.span,
                    "`data` is `teacher` or a list of (x, y) rows",
                    Some(
                        "write `data = teacher` (with `target`, `x_law`, `label_noise`) or a \
                         finite set `data = [[x1, …, xd, y], …]`"
                            .into(),
                    ),
                ))
            }
            None => "none",
        };
        Ok(Kinds { init, loss, data })
    }

    /// Refuses the options that belong to another choice of `init`, `loss` or `data`.
    fn check_meanfield_kinds(&self, args: &[NamedArg], kinds: &Kinds) -> Result<(), Diagnostic> {
        // (option, the choice it belongs to, the option that makes the choice, its value)
        let owners: [(&str, &str, &str, &str); 8] = [
            ("init_mean", "init", "gaussian", kinds.init),
            ("init_std", "init", "gaussian", kinds.init),
            ("init_radius", "init", "sphere", kinds.init),
            ("init_at", "init", "point", kinds.init),
            ("huber_delta", "loss", "huber", kinds.loss),
            ("x_law", "data", "teacher", kinds.data),
            ("target", "data", "teacher", kinds.data),
            ("label_noise", "data", "teacher", kinds.data),
        ];
        for (option, key, owner, chosen) in owners {
            if chosen == owner {
                continue;
            }
            if let Some(a) = self.named_arg(args, option) {
                let now = match chosen {
                    "set" => "a finite data set".to_string(),
                    "none" => format!("no `{key}`"),
                    c => format!("`{key} = {c}`"),
                };
                return Err(self.error(
                    a.name_span,
                    format!(
                        "`{option}` is an option of `{key} = {owner}`, but this network has {now}"
                    ),
                    Some(format!(
                        "write `{key} = {owner}` to use `{option}`, or remove `{option}`"
                    )),
                ));
            }
        }
        Ok(())
    }

    /// `particles = N`: the declared particle count's name.
    fn meanfield_particles(
        &self,
        args: &[NamedArg],
        at: Span,
        name: &str,
    ) -> Result<String, Diagnostic> {
        let arg = self.named_arg(args, "particles").ok_or_else(|| {
            self.error(
                at,
                format!("`meanfield {name}` needs the option `particles`"),
                Some(match &self.scope.particles {
                    Some(n) => format!("add `particles = {n}` (the declared particle count)"),
                    None => "declare the particle count before the network, `particles N`, \
                             and add `particles = N`"
                        .into(),
                }),
            )
        })?;
        let Some(size) = self.scope.particles.clone() else {
            return Err(self.error(
                arg.value.span,
                "the program declares no particle count",
                Some(
                    "declare the growing number of particles before the network, \
                     `particles N`, and write `particles = N`"
                        .into(),
                ),
            ));
        };
        self.size_name(
            arg,
            &size,
            "particles",
            "the particle count is a size that grows",
        )?;
        Ok(size)
    }

    /// `dim = p` or `x_dim = d`: a positive integer up to `max`, 1 when absent.
    fn mf_dim(
        &self,
        args: &[NamedArg],
        key: &str,
        max: usize,
        what: &str,
    ) -> Result<usize, Diagnostic> {
        let Some(a) = self.named_arg(args, key) else {
            return Ok(1);
        };
        self.mf_no_symbol(&a.value, key)?;
        let k = self.integer(&a.value, &format!("`{key}`"), 1)?;
        usize::try_from(k)
            .ok()
            .filter(|k| *k <= max)
            .ok_or_else(|| {
                self.error(
                    a.value.span,
                    format!("`{key}` is {k}; at most {max} is supported"),
                    Some(format!(
                        "`{key}` is the dimension of {what}: the limit's law lives there and \
                         its integrals are out of reach in high dimension; write e.g. `{key} = \
                         2`, at most {max}"
                    )),
                )
            })
    }

    /// Refuses a symbolic parameter in an option that needs a number.
    fn mf_no_symbol(&self, e: &ast::Expr, key: &str) -> Result<(), Diagnostic> {
        match symbol_in(e, &self.scope.symbols) {
            Some((symbol, span)) => Err(self.error(
                span,
                format!("the symbolic parameter `{symbol}` in `{key}`"),
                Some(format!(
                    "only the exponents `alpha` and `beta` of a mean-field network may be \
                     symbolic; give `{symbol}` a value (`param {symbol} = …` or `--set \
                     {symbol}=…`)"
                )),
            )),
            None => Ok(()),
        }
    }

    /// An optional number > 0, `default` when absent.
    fn mf_positive_or(
        &self,
        args: &[NamedArg],
        key: &str,
        default: f64,
        what: &str,
    ) -> Result<f64, Diagnostic> {
        let Some(a) = self.named_arg(args, key) else {
            return Ok(default);
        };
        self.mf_no_symbol(&a.value, key)?;
        let x = self.number(&a.value)?;
        if x > 0.0 {
            return Ok(x);
        }
        Err(self.error(
            a.value.span,
            format!("`{key}` is {x}, but {what} must be > 0"),
            Some(format!("write e.g. `{key} = 1`")),
        ))
    }

    /// p numbers, from a list of p entries or one number for every coordinate.
    fn mf_point(&self, a: &NamedArg, dim: usize) -> Result<Vec<f64>, Diagnostic> {
        self.mf_no_symbol(&a.value, &a.name)?;
        let key = &a.name;
        let ExprKind::List(items) = &a.value.kind else {
            return Ok(vec![self.number(&a.value)?; dim]);
        };
        if items.len() != dim || items.iter().any(|i| i.repeat) {
            return Err(self.error(
                a.value.span,
                format!("`{key}` has {}, but dim = {dim}", entries(items.len())),
                Some(format!(
                    "give one number per coordinate of the particle ({}), e.g. `{key} = [{}]`, \
                     or one number for all",
                    var_range('w', dim),
                    vec!["0"; dim].join(", ")
                )),
            ));
        }
        items.iter().map(|i| self.number(&i.value)).collect()
    }

    /// The initial law μ₀.
    fn mf_init(&self, args: &[NamedArg], init: &str, dim: usize) -> Result<InitLaw, Diagnostic> {
        match init {
            "sphere" => {
                if dim < 2 {
                    let span = self
                        .named_arg(args, "init")
                        .map_or(Span::default(), |a| a.value.span);
                    return Err(self.error(
                        span,
                        format!("`init = sphere` needs dim ≥ 2, but dim = {dim}"),
                        Some(
                            "the sphere of R^1 is two points; use `init = gaussian` or `init = \
                             point`, or raise `dim`"
                                .into(),
                        ),
                    ));
                }
                Ok(InitLaw::Sphere {
                    radius: self.mf_positive_or(args, "init_radius", 1.0, "a radius")?,
                })
            }
            "point" => {
                let a = self.named_arg(args, "init_at").ok_or_else(|| {
                    let span = self
                        .named_arg(args, "init")
                        .map_or(Span::default(), |a| a.value.span);
                    self.error(
                        span,
                        "`init = point` needs the option `init_at`",
                        Some(format!(
                            "add the common initial point of every particle, e.g. `init_at = \
                             [{}]`",
                            vec!["1"; dim].join(", ")
                        )),
                    )
                })?;
                Ok(InitLaw::Point(self.mf_point(a, dim)?))
            }
            _ => {
                let mean = match self.named_arg(args, "init_mean") {
                    Some(a) => self.mf_point(a, dim)?,
                    None => vec![0.0; dim],
                };
                let std = self.mf_positive_or(args, "init_std", 1.0, "a standard deviation")?;
                Ok(InitLaw::Gaussian { mean, std })
            }
        }
    }

    /// A formula of `option` over the variables `vars` (w1 … wp then x1 … xd), reading
    /// only the kinds of variable `reads` allows; its text is kept as written.
    fn mf_formula(
        &mut self,
        e: &ast::Expr,
        option: &str,
        vars: &[String],
        dim: usize,
        x_dim: usize,
        reads: Reads,
    ) -> Result<Formula, Diagnostic> {
        if let ExprKind::List(_) = e.kind {
            return Err(self.error(
                e.span,
                format!("`{option}` is one formula, not a list"),
                Some(format!(
                    "write e.g. `{option} = {}`",
                    formula_example(option)
                )),
            ));
        }
        let mut names = Vec::new();
        value_names(e, &mut names);
        for (t, span) in names {
            self.mf_check_name(&t, span, option, dim, x_dim, reads)?;
        }
        let expr = self.formula_over(e, FormulaVars::Values(vars))?;
        let source = self.src.text.get(e.span.start..e.span.end).unwrap_or("");
        Ok(Formula {
            expr,
            text: normalized_text(source),
        })
    }

    /// Refuses a name a formula of `option` may not read, with the reason.
    fn mf_check_name(
        &self,
        t: &str,
        span: Span,
        option: &str,
        dim: usize,
        x_dim: usize,
        reads: Reads,
    ) -> Result<(), Diagnostic> {
        let what = match option {
            "unit" => "the unit F(w, x)",
            "penalty" => "the penalty V(w)",
            _ => "the teacher f*(x)",
        };
        for (prefix, count, allowed, key, thing) in [
            ('w', dim, reads.w, "dim", "particle"),
            ('x', x_dim, reads.x, "x_dim", "input"),
        ] {
            let Some(k) = var_index(t, prefix) else {
                continue;
            };
            if !allowed {
                let hint = if prefix == 'w' {
                    format!(
                        "{what} is a function of the input only: use {}",
                        var_range('x', x_dim)
                    )
                } else {
                    format!(
                        "{what} is a function of the particle only: use {}",
                        var_range('w', dim)
                    )
                };
                return Err(self.error(
                    span,
                    format!("`{option}` cannot read the {thing} coordinate `{t}`"),
                    Some(hint),
                ));
            }
            if k == 0 || k > count {
                return Err(self.error(
                    span,
                    format!(
                        "`{t}` is out of range: the {thing} has {key} = {count}, so its \
                         coordinates are {}",
                        var_range(prefix, count)
                    ),
                    Some(format!(
                        "use {}, or raise `{key}`",
                        var_range(prefix, count)
                    )),
                ));
            }
            return Ok(());
        }
        if self.scope.symbols.iter().any(|s| s == t) {
            return Err(self.error(
                span,
                format!("the symbolic parameter `{t}` in `{option}`"),
                Some(format!(
                    "{what} is evaluated at every particle and step, so it needs numbers; \
                     symbols may only be the exponents `alpha` and `beta`; give `{t}` a value \
                     (`param {t} = …` or `--set {t}=…`)"
                )),
            ));
        }
        if self.scope.particles.as_deref() == Some(t) {
            return Err(self.error(
                span,
                format!("`{option}` cannot read the particle count `{t}`"),
                Some(format!(
                    "{what} is one particle's: the 1/N of the network is applied by tp; the \
                     powers of N in the step are the options `alpha` and `beta`"
                )),
            ));
        }
        if t == "n" && !self.scope.params.contains_key(t) {
            return Err(self.error(
                span,
                format!("`{option}` reads `n`, but a mean-field network has no width"),
                Some(
                    "its size is the particle count (`particles N`), which formulas cannot \
                     read; the step counter n is not a variable either"
                        .into(),
                ),
            ));
        }
        Ok(())
    }

    /// ∂f/∂w_i for i = 1 … p, or a located error when one does not exist.
    fn mf_gradient(
        &self,
        f: &Expr,
        dim: usize,
        option: &str,
        span: Span,
    ) -> Result<Vec<Expr>, Diagnostic> {
        (0..dim)
            .map(|i| {
                let d = f.diff(Var::Value(ValueId(i))).map_err(|e| {
                    self.error(
                        span,
                        format!("`{option}` has no derivative in w{}: {e}", i + 1),
                        Some(
                            "SGD moves the particles along ∂/∂w, so the formula must be \
                             differentiable once in w (relu is fine, its derivative is a step; \
                             step, sign and derivatives of relu are not)"
                                .into(),
                        ),
                    )
                })?;
                if d.node_count() > MAX_DERIVATIVE_NODES {
                    return Err(self.error(
                        span,
                        format!(
                            "the derivative of `{option}` in w{} has {} nodes, more than the \
                             {MAX_DERIVATIVE_NODES} allowed",
                            i + 1,
                            d.node_count()
                        ),
                        Some("write a simpler formula (fewer products and quotients)".into()),
                    ));
                }
                Ok(d)
            })
            .collect()
    }

    /// The data law: a teacher or a finite set.
    #[allow(clippy::too_many_arguments)]
    fn mf_data(
        &mut self,
        args: &[NamedArg],
        at: Span,
        name: &str,
        kinds: &Kinds,
        vars: &[String],
        dim: usize,
        x_dim: usize,
    ) -> Result<Data, Diagnostic> {
        let Some(a) = self.named_arg(args, "data") else {
            return Err(self.error(
                at,
                format!("`meanfield {name}` needs the option `data`"),
                Some(format!(
                    "add `data = teacher, target = {}` (x drawn from `x_law`, y = f*(x) + \
                     noise) or a finite set `data = [{}, …]`",
                    formula_example("target"),
                    row_pattern(x_dim)
                )),
            ));
        };
        if kinds.data == "set" {
            return self.mf_data_set(&a.value, x_dim);
        }
        let x_law = match self.mf_choice(
            args,
            "x_law",
            &["gaussian", "uniform"],
            "gaussian",
            "write `x_law = gaussian` (x ~ N(0, I)) or `x_law = uniform` (x uniform on [-1, 1]^d)",
        )? {
            "uniform" => XLaw::Uniform,
            _ => XLaw::Gaussian,
        };
        let t = self.named_arg(args, "target").ok_or_else(|| {
            self.error(
                a.value.span,
                "`data = teacher` needs the option `target`",
                Some(format!(
                    "add the teacher f*(x), a formula in {}, e.g. `target = {}`",
                    var_range('x', x_dim),
                    formula_example("target")
                )),
            )
        })?;
        let reads = Reads { w: false, x: true };
        let target = self.mf_formula(&t.value, "target", vars, dim, x_dim, reads)?;
        let noise = match self.named_arg(args, "label_noise") {
            None => 0.0,
            Some(n) => {
                self.mf_no_symbol(&n.value, "label_noise")?;
                let x = self.number(&n.value)?;
                if x < 0.0 {
                    return Err(self.error(
                        n.value.span,
                        format!("`label_noise` is {x}, but a standard deviation is ≥ 0"),
                        Some("write e.g. `label_noise = 1/10`, or 0 for exact labels".into()),
                    ));
                }
                x
            }
        };
        Ok(Data::Teacher {
            x_law,
            target,
            noise,
        })
    }

    /// `data = [[x1, …, xd, y], …]`: a finite set of rows of d + 1 numbers.
    fn mf_data_set(&self, e: &ast::Expr, x_dim: usize) -> Result<Data, Diagnostic> {
        self.mf_no_symbol(e, "data")?;
        let hint = format!(
            "each row is {} numbers, the input then the label: `{}`, e.g. `data = [[{}], …]`",
            x_dim + 1,
            row_pattern(x_dim),
            vec!["0.5"; x_dim + 1].join(", ")
        );
        let ExprKind::List(rows) = &e.kind else {
            return Err(self.error(e.span, "`data` is a list of rows", Some(hint)));
        };
        if rows.is_empty() {
            return Err(self.error(e.span, "the data set is empty", Some(hint)));
        }
        if rows.len() > MAX_DATA_POINTS {
            return Err(self.error(
                e.span,
                format!(
                    "the data set has {} points; at most {MAX_DATA_POINTS} are supported",
                    rows.len()
                ),
                Some(
                    "every step reads the data set; a large data set is closer to its law: \
                     use `data = teacher`"
                        .into(),
                ),
            ));
        }
        let mut points = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            if row.repeat {
                return Err(self.error(
                    row.value.span,
                    "`..` cannot repeat a row of `data`",
                    Some("write every row".into()),
                ));
            }
            let ExprKind::List(items) = &row.value.kind else {
                return Err(self.error(
                    row.value.span,
                    format!("row {} of `data` is not a list", i + 1),
                    Some(hint),
                ));
            };
            if let Some(r) = items.iter().find(|x| x.repeat) {
                return Err(self.error(
                    r.value.span,
                    "`..` cannot repeat an entry of a data row",
                    Some(hint),
                ));
            }
            if items.len() != x_dim + 1 {
                return Err(self.error(
                    row.value.span,
                    format!(
                        "row {} of `data` has {}, but x_dim = {x_dim} needs {}",
                        i + 1,
                        entries(items.len()),
                        x_dim + 1
                    ),
                    Some(hint),
                ));
            }
            let mut numbers = Vec::with_capacity(items.len());
            for item in items {
                numbers.push(self.number(&item.value)?);
            }
            let y = numbers.pop().unwrap_or(0.0);
            points.push((numbers, y));
        }
        Ok(Data::Set { points })
    }

    /// `batch = M`: a positive integer up to [`MAX_BATCH`], 1 when absent.
    fn mf_batch(&self, args: &[NamedArg]) -> Result<u64, Diagnostic> {
        let Some(a) = self.named_arg(args, "batch") else {
            return Ok(1);
        };
        self.mf_no_symbol(&a.value, "batch")?;
        let m = self.integer(&a.value, "`batch`", 1)?;
        u64::try_from(m)
            .ok()
            .filter(|m| *m <= MAX_BATCH)
            .ok_or_else(|| {
                self.error(
                    a.value.span,
                    format!("`batch` is {m}; at most {MAX_BATCH} is supported"),
                    Some(format!(
                        "every step evaluates the batch at every particle; write e.g. `batch \
                         = 1`, at most {MAX_BATCH}"
                    )),
                )
            })
    }

    /// A required exact rational > 0 (`gamma`, `horizon`): `0.01` is exactly 1/100.
    fn mf_exact(
        &self,
        args: &[NamedArg],
        key: &str,
        at: Span,
        name: &str,
        what: &str,
        example: &str,
    ) -> Result<Rational, Diagnostic> {
        let a = self.named_arg(args, key).ok_or_else(|| {
            self.error(
                at,
                format!("`meanfield {name}` needs the option `{key}`"),
                Some(format!("add {what}, an exact number > 0, e.g. `{example}`")),
            )
        })?;
        self.mf_no_symbol(&a.value, key)?;
        let q = match self.static_eval(&a.value)? {
            Val::Exact(q) => q,
            other => {
                return Err(self.error(
                    a.value.span,
                    format!("`{key}` must be an exact number, not {}", other.describe()),
                    Some(format!(
                        "the step schedule and the number of steps are computed exactly: write \
                         a fraction or a decimal, e.g. `{example}` (`0.01` is exactly 1/100)"
                    )),
                ))
            }
        };
        if !q.is_positive() {
            return Err(self.error(
                a.value.span,
                format!("`{key}` is {}, but {what} must be > 0", format_rational(&q)),
                Some(format!("write e.g. `{example}`")),
            ));
        }
        Ok(q)
    }

    /// A required exact exponent (`alpha`, `beta`), possibly affine in symbolic
    /// parameters; a numeric one must lie in the range of the theorem.
    fn mf_exponent(
        &self,
        args: &[NamedArg],
        key: &str,
        at: Span,
        name: &str,
    ) -> Result<Exponent, Diagnostic> {
        let (range, ok, example): (&str, fn(&Rational) -> bool, &str) = if key == "alpha" {
            (
                "0 ≤ α < 1",
                |q| !q.is_negative() && *q < Rational::one(),
                "alpha = 0",
            )
        } else {
            (
                "0 ≤ β ≤ 1",
                |q| !q.is_negative() && *q <= Rational::one(),
                "beta = 1/2",
            )
        };
        let why = "De Bortoli, Durmus, Fontaine & Şimşekli (2020) take the step γ N^β (n + \
                   γ_{α,β}(N)^(-1))^(-α) with 0 ≤ α < 1 (the step may decay, but slowly \
                   enough to reach every time) and 0 ≤ β ≤ 1 (β < 1: the particles follow an \
                   ODE as N → ∞; β = 1: an SDE)";
        let Some(a) = self.named_arg(args, key) else {
            if key == "alpha" {
                return Ok(Exponent::zero());
            }
            return Err(self.error(
                at,
                format!("`meanfield {name}` needs the option `{key}`"),
                Some(format!(
                    "add the exponent of N in the step, {range}, e.g. `{example}`; {why}"
                )),
            ));
        };
        let e = self.exponent(&a.value)?;
        if let Some(q) = e.as_constant() {
            if !ok(q) {
                return Err(self.error(
                    a.value.span,
                    format!("`{key}` is {}, outside {range}", format_rational(q)),
                    Some(format!("write e.g. `{example}`; {why}")),
                ));
            }
        }
        Ok(e)
    }
}

/// An example formula for an option, in hints.
fn formula_example(option: &str) -> &'static str {
    match option {
        "unit" => "tanh(w1 * x1 + w2)",
        "penalty" => "lambda * w1^2 / 2",
        _ => "tanh(2 * x1)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_indices_and_ranges() {
        assert_eq!(var_index("w12", 'w'), Some(12));
        assert_eq!(var_index("w0", 'w'), Some(0));
        assert_eq!(var_index("w", 'w'), None);
        assert_eq!(var_index("w1a", 'w'), None);
        assert_eq!(var_index("x1", 'w'), None);
        assert_eq!(var_index("w99999999999999999999999", 'w'), Some(usize::MAX));
        assert_eq!(var_range('w', 1), "w1");
        assert_eq!(var_range('x', 3), "x1 … x3");
        assert_eq!(row_pattern(1), "[x1, y]");
        assert_eq!(row_pattern(3), "[x1, …, x3, y]");
    }

    #[test]
    fn formula_text_is_one_line_without_comments() {
        assert_eq!(
            normalized_text("tanh(w1 *  x1   # the pre-activation\n   + w2)"),
            "tanh(w1 * x1 + w2)"
        );
    }
}
