//! Depth programs: a `resnet` statement elaborated into a [`DepthProgram`].
//!
//! Nothing is unrolled here. A depth program keeps the network as one update rule over
//! the layer index k = 0…L−1 with L a symbolic size (the limit engine reads that rule,
//! the simulator unrolls it at concrete depths), so elaborating it means reading the
//! options, checking them against the declarations, and lowering the formulas in the
//! layer time t = k/L. The declarations themselves (`param`, symbolic parameters,
//! `activation`, `input`, `--set`) go through the same pass as for width programs.

use super::{Elab, Override};
use crate::depth::{CrxNet, DepthProgram, HayouKind, HayouNet, Resnet};
use crate::exponent::Exponent;
use crate::ir::{ActId, Expr};
use crate::syntax::ast::{self, ExprKind, ItemKind, NamePart, NamedArg, Span};
use crate::syntax::Diagnostic;

/// Options every kind takes.
const COMMON_OPTIONS: [&str; 4] = ["kind", "depth", "act", "input"];

/// Options of `kind = crx` besides the common ones.
const CRX_OPTIONS: [&str; 9] = [
    "dim",
    "alpha",
    "beta",
    "gamma",
    "delta",
    "trend",
    "bias_trend",
    "noise",
    "bias_noise",
];

/// Options of `kind = hayou1` / `hayou2` besides the common ones (`sketch`: type 1 only).
const HAYOU_OPTIONS: [&str; 4] = ["width", "branch", "gain", "sketch"];

/// How to write each kind, for hints.
const KIND_HINT: &str = "write `kind = crx` (Cont–Rossier–Xu: fixed dimension d, depth L), \
                         `kind = hayou1` or `kind = hayou2` (Hayou/Zheng: width n, depth L)";

/// The variable of trend formulas: the layer time t = k/L ∈ [0, 1).
const TIME: &str = "t";

/// Which family a `resnet` belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Crx,
    Hayou(HayouKind),
}

impl Family {
    /// The word written after `kind =`.
    fn word(self) -> &'static str {
        match self {
            Family::Crx => "crx",
            Family::Hayou(HayouKind::Type1) => "hayou1",
            Family::Hayou(HayouKind::Type2) => "hayou2",
        }
    }

    /// Every option this kind accepts.
    fn options(self) -> Vec<&'static str> {
        let own: &[&str] = match self {
            Family::Crx => &CRX_OPTIONS,
            Family::Hayou(HayouKind::Type1) => &HAYOU_OPTIONS,
            // The sketch is the Jacobian of a type-1 network only.
            Family::Hayou(HayouKind::Type2) => &HAYOU_OPTIONS[..3],
        };
        COMMON_OPTIONS.iter().chain(own).copied().collect()
    }
}

/// Whether an item is a `resnet` statement.
pub(super) fn is_resnet(kind: &ItemKind) -> bool {
    matches!(kind, ItemKind::Resnet { .. })
}

/// The first symbolic parameter an expression reads, with where (symbols are exponents;
/// a formula evaluated at every layer needs numbers).
pub(super) fn symbol_in<'e>(e: &'e ast::Expr, symbols: &[String]) -> Option<(&'e str, Span)> {
    match &e.kind {
        ExprKind::Number(_) => None,
        ExprKind::Name(n) => n
            .plain()
            .filter(|t| symbols.iter().any(|s| s == t))
            .map(|t| (t, e.span)),
        ExprKind::Neg(a) => symbol_in(a, symbols),
        ExprKind::Binary(_, a, b) => symbol_in(a, symbols).or_else(|| symbol_in(b, symbols)),
        ExprKind::Call { callee, args, .. } => callee
            .parts
            .iter()
            .find_map(|p| match p {
                NamePart::Interp(i) => symbol_in(i, symbols),
                NamePart::Text(_) => None,
            })
            .or_else(|| args.iter().find_map(|a| symbol_in(a, symbols))),
        ExprKind::MatMul { arg, .. } => symbol_in(arg, symbols),
        ExprKind::List(items) => items.iter().find_map(|i| symbol_in(&i.value, symbols)),
    }
}

/// "1 entry", "3 entries".
fn entries(k: usize) -> String {
    if k == 1 {
        "1 entry".into()
    } else {
        format!("{k} entries")
    }
}

/// The network of a depth program, with the sizes it reads.
struct Built {
    net: Resnet,
    /// The name of the depth L.
    depth: String,
    /// The name of the width n (Hayou/Zheng only).
    width: Option<String>,
}

impl Elab<'_> {
    /// Elaborates a file with a `resnet` statement: its shape, then the declarations,
    /// then the network.
    pub(super) fn depth_program(
        &mut self,
        file: &ast::File,
        overrides: &[Override],
    ) -> Result<DepthProgram, Diagnostic> {
        let item = self.depth_shape(file)?;
        self.declarations(file, overrides)?;
        let built = self.resnet(item)?;
        Ok(DepthProgram {
            title: self.program.title.clone(),
            depth: built.depth,
            width: built.width,
            symbols: self.program.symbols.clone(),
            activations: std::mem::take(&mut self.program.activations),
            net: built.net,
        })
    }

    /// A depth program is declarations and exactly one top-level `resnet`: returns it, or
    /// the statement that breaks that rule.
    fn depth_shape<'f>(&self, file: &'f ast::File) -> Result<&'f ast::Item, Diagnostic> {
        let mut resnets = Vec::new();
        super::items_where(&file.items, is_resnet, false, &mut resnets);
        if let Some((item, _)) = resnets.iter().find(|(_, in_loop)| *in_loop) {
            return Err(self.error(
                item.span,
                "`resnet` cannot be inside a loop",
                Some(
                    "the network is rolled over its layers already (the depth is `depth L`); \
                     declare it once, at the top level"
                        .into(),
                ),
            ));
        }
        let Some(&(first, _)) = resnets.first() else {
            return Err(self.error(
                Span::default(),
                "internal error: a depth program without `resnet`",
                Some("this is a bug in tp; please report it with this input".into()),
            ));
        };
        if let Some((second, _)) = resnets.get(1) {
            return Err(self.error(
                second.span,
                format!(
                    "a second `resnet`; a program has one network (the first is at line {})",
                    self.line_of(first.span)
                ),
                Some("put each network in a file of its own".into()),
            ));
        }
        if let Some((item, name)) = file.items.iter().find_map(|i| match &i.kind {
            ItemKind::TiedDepth { name, .. } => Some((i, name)),
            _ => None,
        }) {
            return Err(self.error(
                item.span,
                format!("the depth `{name}` of a `resnet` is tied to the width"),
                Some(format!(
                    "the depth of a residual network is a size of its own: write `depth \
                     {name}`; a depth tied to the width (`depth {name} = tau * n`) is for \
                     `shaped` networks"
                )),
            ));
        }
        for item in &file.items {
            let what = match &item.kind {
                ItemKind::Mlp { .. } => "an `mlp`",
                ItemKind::Parameterization { .. } => "a `parameterization`",
                ItemKind::Train { .. } => "a `train` statement",
                ItemKind::Particles { .. } => "a particle count `particles`",
                ItemKind::Matrix { .. } | ItemKind::Sample { .. } | ItemKind::Define { .. } => {
                    "a raw Tensor Program statement"
                }
                ItemKind::For { .. } => "a loop of raw Tensor Program statements",
                _ => continue,
            };
            return Err(self.error(
                item.span,
                format!(
                    "{what} in a `resnet` program (the `resnet` is at line {})",
                    self.line_of(first.span)
                ),
                Some(
                    "a depth program has only declarations (`program`, `depth`, `dim`, \
                     `width`, `param`, `activation`, `input`) and one `resnet`; put width \
                     programs (`mlp …`, `matrix …`, `vector …`) in a file of their own"
                        .into(),
                ),
            ));
        }
        Ok(first)
    }

    /// The 1-based line a span starts on, for messages that mention another statement.
    pub(super) fn line_of(&self, span: Span) -> usize {
        let before = self.src.text.get(..span.start).unwrap_or("");
        before.matches('\n').count() + 1
    }

    /// The diagnostic when no `depth` statement was written.
    fn missing_depth(&self, item: &ast::Item) -> Diagnostic {
        let at = match &item.kind {
            ItemKind::Resnet {
                args, name_span, ..
            } => self
                .named_arg(args, "depth")
                .map_or(*name_span, |a| a.value.span),
            _ => item.span,
        };
        self.error(
            at,
            "the program declares no depth",
            Some(
                "declare the growing depth before the network, `depth L`, and write \
                 `depth = L` in the `resnet`"
                    .into(),
            ),
        )
    }

    /// Reads the options of `resnet NAME(…)`.
    fn resnet(&mut self, item: &ast::Item) -> Result<Built, Diagnostic> {
        let ItemKind::Resnet {
            name,
            name_span,
            args,
        } = &item.kind
        else {
            return Err(self.error(item.span, "internal error: not a `resnet`", None));
        };
        let kind_arg = self.named_arg(args, "kind").ok_or_else(|| {
            self.error(
                *name_span,
                format!("`resnet {name}` needs a kind"),
                Some(format!("add it first in the options: {KIND_HINT}")),
            )
        })?;
        let family = match self.keyword(&kind_arg.value).as_deref() {
            Some("crx") => Family::Crx,
            Some("hayou1") => Family::Hayou(HayouKind::Type1),
            Some("hayou2") => Family::Hayou(HayouKind::Type2),
            Some(other) => {
                return Err(self.error(
                    kind_arg.value.span,
                    format!("unknown resnet kind `{other}`"),
                    Some(KIND_HINT.into()),
                ))
            }
            None => {
                return Err(self.error(
                    kind_arg.value.span,
                    "the kind of a resnet is a name",
                    Some(KIND_HINT.into()),
                ))
            }
        };
        self.check_options(args, family)?;
        let depth = self.scope.depth.clone();
        let depth_arg = self.required(args, "depth", *name_span, family, || match &depth {
            Some(d) => format!("write `depth = {d}` (the declared depth)"),
            None => "declare `depth L` and write `depth = L`".into(),
        })?;
        let Some(depth) = depth else {
            return Err(self.missing_depth(item));
        };
        self.size_name(depth_arg, &depth, "depth", "the depth is a size that grows")?;
        let act_arg = self.required(args, "act", *name_span, family, || {
            "add `act = tanh` (a declared activation or a built-in)".into()
        })?;
        let (act_name, act_body) = self.activation_alias(&act_arg.value)?;
        let act = self.intern_activation(&act_name, act_body);
        let input_arg = self.required(args, "input", *name_span, family, || {
            "add `input = x`, naming a declared `input x = […]`".into()
        })?;
        let input = self.resnet_input(input_arg)?;
        match family {
            Family::Crx => {
                let net = self.crx(args, *name_span, act, input)?;
                Ok(Built {
                    net: Resnet::Crx(net),
                    depth,
                    width: None,
                })
            }
            Family::Hayou(kind) => {
                let (net, width) =
                    self.hayou(args, *name_span, kind, act, act_arg.value.span, input)?;
                Ok(Built {
                    net: Resnet::Hayou(net),
                    depth,
                    width: Some(width),
                })
            }
        }
    }

    /// Refuses unknown and repeated options; an option of another kind says which kind
    /// it belongs to.
    fn check_options(&self, args: &[NamedArg], family: Family) -> Result<(), Diagnostic> {
        let allowed = family.options();
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
            if allowed.contains(&a.name.as_str()) {
                continue;
            }
            let elsewhere = if a.name == "sketch" {
                Some("`sketch` (the Jacobian sketch v = J z) exists for `kind = hayou1` only")
            } else if CRX_OPTIONS.contains(&a.name.as_str()) {
                Some("it is an option of `kind = crx` (fixed dimension d)")
            } else if HAYOU_OPTIONS.contains(&a.name.as_str()) {
                Some("it is an option of `kind = hayou1` and `hayou2` (width n)")
            } else {
                None
            };
            let options = format!(
                "options of `kind = {}`: {}",
                family.word(),
                allowed.join(", ")
            );
            let hint = match elsewhere {
                Some(why) => format!("{why}; remove it, or change the kind. {options}"),
                None => options,
            };
            return Err(self.error(
                a.name_span,
                format!("`kind = {}` has no option `{}`", family.word(), a.name),
                Some(hint),
            ));
        }
        Ok(())
    }

    /// A required option, or a diagnostic at the network's name saying what to add.
    fn required<'n>(
        &self,
        args: &'n [NamedArg],
        key: &str,
        at: Span,
        family: Family,
        hint: impl FnOnce() -> String,
    ) -> Result<&'n NamedArg, Diagnostic> {
        self.named_arg(args, key).ok_or_else(|| {
            self.error(
                at,
                format!("`kind = {}` needs the option `{key}`", family.word()),
                Some(hint()),
            )
        })
    }

    /// The declared width that the option `width = …` must name.
    pub(super) fn declared_width(&self, arg: &NamedArg) -> Result<String, Diagnostic> {
        let Some(width) = self.scope.width.clone() else {
            return Err(self.error(
                arg.value.span,
                "the program declares no width",
                Some(
                    "declare the growing width before the network, `width n`, and write \
                     `width = n`"
                        .into(),
                ),
            ));
        };
        self.size_name(arg, &width, "width", "the width is a size that grows")?;
        Ok(width)
    }

    /// Checks that `key = …` names the declared size `name` (the depth or the width).
    pub(super) fn size_name(
        &self,
        arg: &NamedArg,
        name: &str,
        key: &str,
        why: &str,
    ) -> Result<(), Diagnostic> {
        if self.keyword(&arg.value).as_deref() == Some(name) {
            return Ok(());
        }
        let hint = if matches!(arg.value.kind, ExprKind::Number(_)) {
            format!("{why}, not a number: write `{key} = {name}` (simulations choose its values)")
        } else {
            format!("write `{key} = {name}`, the declared {key}")
        };
        Err(self.error(
            arg.value.span,
            format!("`{key}` must name the declared {key} `{name}`"),
            Some(hint),
        ))
    }

    /// The values of `input = x`, a declared input.
    fn resnet_input(&self, arg: &NamedArg) -> Result<Vec<f64>, Diagnostic> {
        let named = self.keyword(&arg.value);
        match named.as_deref().and_then(|n| self.scope.inputs.get(n)) {
            Some(def) if def.values.is_empty() => Err(self.error(
                arg.value.span,
                "the input of a resnet has no entries",
                Some("give the input at least one entry, e.g. `input x = [1, 0.5]`".into()),
            )),
            Some(def) => Ok(def.values.clone()),
            None => Err(self.error(
                arg.value.span,
                match named {
                    Some(n) => format!("`{n}` is not a declared input"),
                    None => "`input` must name a declared input".into(),
                },
                Some(
                    "declare it before the network, `input x = [1, 0.5, -0.5, 0.25]`, and \
                     write `input = x`"
                        .into(),
                ),
            )),
        }
    }

    /// An optional exact exponent, `default` when absent.
    pub(super) fn exponent_or(
        &self,
        args: &[NamedArg],
        key: &str,
        default: Exponent,
    ) -> Result<Exponent, Diagnostic> {
        match self.named_arg(args, key) {
            Some(a) => self.exponent(&a.value),
            None => Ok(default),
        }
    }

    /// An optional number, `default` when absent; `check` says whether it is acceptable,
    /// and `hint` what to write otherwise.
    fn number_or(
        &self,
        args: &[NamedArg],
        key: &str,
        default: f64,
        check: impl Fn(f64) -> bool,
        problem: &str,
        hint: &str,
    ) -> Result<f64, Diagnostic> {
        let Some(a) = self.named_arg(args, key) else {
            return Ok(default);
        };
        let x = self.number(&a.value)?;
        if check(x) {
            Ok(x)
        } else {
            Err(self.error(
                a.value.span,
                format!("`{key}` is {x}, but {problem}"),
                Some(hint.into()),
            ))
        }
    }

    /// `kind = crx`: the Cont–Rossier–Xu network at the fixed dimension `dim`.
    fn crx(
        &mut self,
        args: &[NamedArg],
        at: Span,
        act: ActId,
        input: Vec<f64>,
    ) -> Result<CrxNet, Diagnostic> {
        let family = Family::Crx;
        let dim_arg = self.required(args, "dim", at, family, || {
            "add `dim = d`, naming a declared `dim d = 4` (the dimension of the state)".into()
        })?;
        let (dim_name, dim) = self.declared_dim(dim_arg)?;
        if input.len() != dim {
            let input_arg = self.named_arg(args, "input").unwrap_or(dim_arg);
            return Err(self.error(
                input_arg.value.span,
                format!(
                    "the input has {}, but the dimension `{dim_name}` is {dim}",
                    entries(input.len())
                ),
                Some(format!(
                    "the state h_0 = x lives in R^{dim_name}: give the input {dim} entries, or \
                     declare `dim {dim_name} = {}`",
                    input.len()
                )),
            ));
        }
        let alpha_arg = self.required(args, "alpha", at, family, || {
            "add `alpha = …`, the exponent of the branch multiplier δ_k = delta · L^(-alpha) \
             (1 for an ODE limit)"
                .into()
        })?;
        let alpha = self.exponent(&alpha_arg.value)?;
        let beta_arg = self.required(args, "beta", at, family, || {
            "add `beta = …`, the exponent of the trend L^(-beta) Ā(k/L) (0 for the neural \
             ODE)"
                .into()
        })?;
        let beta = self.exponent(&beta_arg.value)?;
        let gamma = self.exponent_or(args, "gamma", Exponent::ratio(1, 2))?;
        let delta = self.number_or(
            args,
            "delta",
            1.0,
            |x| x != 0.0,
            "δ = 0 removes every residual branch",
            "write a non-zero multiplier, e.g. `delta = 1` (the default)",
        )?;
        let trend = match self.named_arg(args, "trend") {
            Some(a) => Some(self.trend_matrix(&a.value, dim, &dim_name)?),
            None => None,
        };
        let bias_trend = match self.named_arg(args, "bias_trend") {
            Some(a) => Some(self.trend_vector(&a.value, dim, &dim_name)?),
            None => None,
        };
        let nonneg = |x: f64| x >= 0.0;
        let noise = self.number_or(
            args,
            "noise",
            0.0,
            nonneg,
            "a scale of Gaussian noise is ≥ 0",
            "write e.g. `noise = 0.5` (0, the default, for no i.i.d. part)",
        )?;
        let bias_noise = self.number_or(
            args,
            "bias_noise",
            0.0,
            nonneg,
            "a scale of Gaussian noise is ≥ 0",
            "write e.g. `bias_noise = 0.3` (0, the default, for no i.i.d. part)",
        )?;
        // The limit reads σ(0), σ'(0), σ''(0) and the solvers σ'''; an activation without
        // them (ReLU has no σ'' at 0) is still a valid network, and the analysis, not the
        // parser, reports which terms that leaves undetermined.
        let _ = self.program.activations[act.0].ensure_order(3);
        Ok(CrxNet {
            dim,
            dim_name,
            act,
            delta,
            alpha,
            beta,
            gamma,
            trend,
            bias_trend,
            noise,
            bias_noise,
            input,
        })
    }

    /// `dim = d`: a declared fixed dimension, as (name, value).
    fn declared_dim(&self, arg: &NamedArg) -> Result<(String, usize), Diagnostic> {
        let named = self.keyword(&arg.value);
        if let Some((name, d)) = named
            .as_deref()
            .and_then(|n| self.scope.dims.get_key_value(n))
        {
            return Ok((name.clone(), *d));
        }
        let declared: Vec<String> = self.scope.dims.keys().map(|k| format!("`{k}`")).collect();
        let hint = if declared.is_empty() {
            "declare the dimension before the network, `dim d = 4`, and write `dim = d`".into()
        } else {
            format!(
                "write `dim = NAME` with a declared dimension: {}",
                declared.join(", ")
            )
        };
        let message = match named {
            Some(n) => format!("`{n}` is not a declared dimension"),
            None => "`dim` must name a declared dimension (`dim d = 4`)".into(),
        };
        Err(self.error(arg.value.span, message, Some(hint)))
    }

    /// A formula in the layer time t: numbers, parameters, functions, and `t`.
    fn formula_in_t(&mut self, e: &ast::Expr, option: &str) -> Result<Expr, Diagnostic> {
        if let ExprKind::List(_) = e.kind {
            return Err(self.error(
                e.span,
                format!("a list inside a list of `{option}`"),
                Some(format!(
                    "each entry of `{option}` is one formula in t, e.g. `sin(2*pi*t)`"
                )),
            ));
        }
        if let Some((symbol, span)) = symbol_in(e, &self.scope.symbols) {
            return Err(self.error(
                span,
                format!("the symbolic parameter `{symbol}` in a formula of `{option}`"),
                Some(format!(
                    "a formula in t is evaluated at every layer, so it needs numbers; \
                     symbols may only be exponents (`alpha`, `beta`, …), or give \
                     `{symbol}` a value with `--set {symbol}=…`"
                )),
            ));
        }
        let f = self.formula(e, TIME)?;
        let mut width = false;
        f.walk(&mut |x| width |= matches!(x, Expr::Width(_)));
        if width {
            return Err(self.error(
                e.span,
                format!("a formula of `{option}` depends on the width"),
                Some(
                    "a formula in t may use t = k/L, numbers, parameters and functions; the \
                     network has a fixed dimension"
                        .into(),
                ),
            ));
        }
        Ok(f)
    }

    /// `trend = f(t)` (meaning f(t)·I) or `trend = [[…], …]` (d rows of d formulas).
    fn trend_matrix(
        &mut self,
        e: &ast::Expr,
        d: usize,
        dim_name: &str,
    ) -> Result<Vec<Vec<Expr>>, Diagnostic> {
        let shape_hint = format!(
            "`trend` is the {d}×{d} matrix Ā(t): write {d} rows of {d} formulas in t, \
             `[[…], …]`, or one formula for formula·I, e.g. `trend = cos(2*pi*t)`"
        );
        let ExprKind::List(rows) = &e.kind else {
            let f = self.formula_in_t(e, "trend")?;
            return Ok((0..d)
                .map(|i| {
                    (0..d)
                        .map(|j| if i == j { f.clone() } else { Expr::Const(0.0) })
                        .collect()
                })
                .collect());
        };
        if let Some(r) = rows.iter().find(|r| r.repeat) {
            return Err(self.error(
                r.value.span,
                "`..` cannot repeat a row of `trend`",
                Some(shape_hint),
            ));
        }
        if rows.len() != d {
            return Err(self.error(
                e.span,
                format!(
                    "`trend` has {} row{}, but the dimension `{dim_name}` is {d}",
                    rows.len(),
                    if rows.len() == 1 { "" } else { "s" }
                ),
                Some(shape_hint),
            ));
        }
        let mut out = Vec::with_capacity(d);
        for (i, row) in rows.iter().enumerate() {
            let ExprKind::List(entries) = &row.value.kind else {
                return Err(self.error(
                    row.value.span,
                    format!("row {} of `trend` is a formula, not a list", i + 1),
                    Some(format!(
                        "{shape_hint}; a list of {d} formulas is a `bias_trend`"
                    )),
                ));
            };
            if entries.len() != d || entries.iter().any(|x| x.repeat) {
                return Err(self.error(
                    row.value.span,
                    format!(
                        "row {} of `trend` has {}, but the dimension `{dim_name}` is {d}",
                        i + 1,
                        self::entries(entries.len())
                    ),
                    Some(shape_hint),
                ));
            }
            let mut formulas = Vec::with_capacity(d);
            for entry in entries {
                formulas.push(self.formula_in_t(&entry.value, "trend")?);
            }
            out.push(formulas);
        }
        Ok(out)
    }

    /// `bias_trend = f(t)` (the same in every coordinate) or a list of d formulas.
    fn trend_vector(
        &mut self,
        e: &ast::Expr,
        d: usize,
        dim_name: &str,
    ) -> Result<Vec<Expr>, Diagnostic> {
        let ExprKind::List(entries) = &e.kind else {
            let f = self.formula_in_t(e, "bias_trend")?;
            return Ok(vec![f; d]);
        };
        if entries.len() != d || entries.iter().any(|x| x.repeat) {
            return Err(self.error(
                e.span,
                format!(
                    "`bias_trend` has {}, but the dimension `{dim_name}` is {d}",
                    self::entries(entries.len())
                ),
                Some(format!(
                    "`bias_trend` is the vector b̄(t): write {d} formulas in t, `[…]`, or one \
                     formula for every coordinate, e.g. `bias_trend = sin(2*pi*t)`"
                )),
            ));
        }
        entries
            .iter()
            .map(|x| self.formula_in_t(&x.value, "bias_trend"))
            .collect()
    }

    /// `kind = hayou1 | hayou2`: the Hayou/Zheng network at width n; returns it with the
    /// width's name.
    fn hayou(
        &mut self,
        args: &[NamedArg],
        at: Span,
        kind: HayouKind,
        act: ActId,
        act_span: Span,
        input: Vec<f64>,
    ) -> Result<(HayouNet, String), Diagnostic> {
        let family = Family::Hayou(kind);
        let width_arg = self.required(args, "width", at, family, || match &self.scope.width {
            Some(n) => format!("add `width = {n}` (the declared width)"),
            None => "declare `width n` and add `width = n`".into(),
        })?;
        let width = self.declared_width(width_arg)?;
        let branch = self.exponent_or(args, "branch", Exponent::ratio(1, 2))?;
        let gain = self.number_or(
            args,
            "gain",
            2.0,
            |x| x > 0.0,
            "a variance gain is > 0",
            "write e.g. `gain = 2` (He initialization, the default) or `gain = 1`",
        )?;
        let sketch = match self.named_arg(args, "sketch") {
            None => false,
            Some(a) => match self.keyword(&a.value).as_deref() {
                Some("yes") => true,
                Some("no") => false,
                _ => {
                    return Err(self.error(
                        a.value.span,
                        "`sketch` is `yes` or `no`",
                        Some(
                            "write `sketch = yes` to carry the Jacobian sketch v = J z along"
                                .into(),
                        ),
                    ))
                }
            },
        };
        if sketch {
            // The sketch multiplies by φ'(f) at every layer: without it there is none.
            self.require_derivative(act, 1, act_span, "the Jacobian sketch needs")?;
        } else {
            // Prepared for analyses that ask for it; a failure only matters to them.
            let _ = self.program.activations[act.0].ensure_order(1);
        }
        Ok((
            HayouNet {
                kind,
                act,
                branch,
                gain,
                input,
                sketch,
            },
            width,
        ))
    }
}
