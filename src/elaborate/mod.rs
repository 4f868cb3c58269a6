//! Elaboration: from the syntax tree to the Tensor Program IR.
//!
//! Declarations (`param`, `activation`, `input`) are read first; then raw Tensor
//! Program statements are lowered in order, and the network sugar (`mlp` +
//! `parameterization` + `train`) is expanded where the `mlp` statement stands:
//! forward pass, backward pass by reverse-mode differentiation, and unrolled SGD
//! with weight updates kept as sums of outer products.
//!
//! A file with a `resnet` statement is a depth program instead: the same declarations
//! are read, and the network becomes a [`DepthProgram`] (see `resnet.rs`). A file with a
//! `shaped` statement is a shaped network, a [`ShapedProgram`] (see `shaped.rs`), and one
//! with a `meanfield` statement a mean-field two-layer network, a [`MeanFieldProgram`]
//! (see `meanfield.rs`). [`elaborate_any`] chooses between the four.

mod activation;
mod meanfield;
mod network;
mod parameterization;
mod raw;
mod resnet;
mod shaped;
mod value;

pub use activation::builtin_body;
pub use value::Val;

use crate::bounds::{MAX_FIXED_DIM, MAX_INSTRUCTIONS, MAX_LOOP_ITERATIONS, MAX_NAME_CHARS};
use crate::depth::DepthProgram;
use crate::exponent::Exponent;
use crate::ir::{ActId, MatrixId, Program, SourceId, ValueId};
use crate::meanfield::MeanFieldProgram;
use crate::shaped::ShapedProgram;
use crate::syntax::ast::{self, ExprKind, ItemKind, NamePart, Span};
use crate::syntax::{Diagnostic, Stage};
use std::collections::{BTreeMap, HashMap};

/// A command-line override `--set NAME=VALUE`.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    /// The parameter or activation name.
    pub name: String,
    /// Its new value, parsed as an expression.
    pub value: ast::Expr,
    /// The text of the value, for messages.
    pub text: String,
}

/// Where the input came from, for diagnostics.
pub struct SourceText<'a> {
    /// File name shown in messages.
    pub file: &'a str,
    /// The whole text.
    pub text: &'a str,
}

/// A finite input vector with its optional target.
#[derive(Clone, Debug)]
struct InputDef {
    values: Vec<f64>,
    target: Option<f64>,
}

/// The shape of a matrix dimension.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Dim {
    Width,
    Finite(usize),
}

/// A declared raw matrix: `W = coef · n^exp · M + mean`, where M is Ŵ (N(0, 1/n)
/// entries) for an n×n matrix, or U (N(0, 1) entries, one source per column) for n×d.
#[derive(Clone, Debug)]
struct MatrixDef {
    cols: Dim,
    coef: f64,
    exp: Exponent,
    mean: Option<(f64, Exponent)>,
    matrix: Option<MatrixId>,
    columns: Vec<SourceId>,
}

/// Names visible to expressions.
#[derive(Default)]
struct Scope {
    width: Option<String>,
    /// The name of the `depth` size.
    depth: Option<String>,
    /// The name of the particle count (`particles N`) of a mean-field network.
    particles: Option<String>,
    /// `depth d = tau * n`: where the name was written and the right-hand side, read by a
    /// `shaped` network once every parameter is known.
    tied_depth: Option<(Span, ast::Expr)>,
    /// Fixed dimensions (`dim d = 4`), which read as their value in expressions.
    dims: BTreeMap<String, usize>,
    params: BTreeMap<String, Val>,
    symbols: Vec<String>,
    activations: HashMap<String, ActId>,
    inputs: HashMap<String, InputDef>,
    matrices: HashMap<String, MatrixDef>,
    values: HashMap<String, ValueId>,
    loop_vars: Vec<(String, i64)>,
}

/// The elaborator's state: the program being built and the names in scope.
pub(crate) struct Elab<'a> {
    src: &'a SourceText<'a>,
    program: Program,
    scope: Scope,
    /// The top-level or loop-body statement being elaborated, where budget errors point.
    statement: Span,
}

/// What a file elaborates to: a width program (a Tensor Program whose size is n) or a
/// depth program (a residual network whose depth L grows).
// One value per elaborated file, moved once to its consumer: the size difference between
// the variants costs nothing, and unboxed variants keep `match` simple for callers.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Elaborated {
    /// No `resnet` statement: the Tensor Program, exactly as [`elaborate`] builds it.
    Width(Program),
    /// A `resnet` statement: the residual network.
    Depth(DepthProgram),
    /// A `shaped` statement: the shaped MLP in the proportional limit d/n → τ.
    Shaped(ShapedProgram),
    /// A `meanfield` statement: a two-layer network of N particles trained by SGD.
    MeanField(MeanFieldProgram),
}

/// Elaborates a parsed file of any family, applying `overrides` first: a file with a
/// `meanfield` statement is a mean-field network (checked first, so that mixing it with
/// another family gets the mean-field message); else a file with a
/// `shaped` statement is a shaped network; else a file with a `resnet` statement
/// (anywhere, so that a misplaced one gets its own message) is a depth program; any other
/// file takes exactly the path of [`elaborate`].
pub fn elaborate_any(
    src: &SourceText<'_>,
    file: &ast::File,
    overrides: &[Override],
) -> Result<Elaborated, Diagnostic> {
    if first_item(&file.items, meanfield::is_meanfield).is_some() {
        let mut elab = Elab::new(src);
        Ok(Elaborated::MeanField(
            elab.meanfield_program(file, overrides)?,
        ))
    } else if first_item(&file.items, shaped::is_shaped).is_some() {
        let mut elab = Elab::new(src);
        Ok(Elaborated::Shaped(elab.shaped_program(file, overrides)?))
    } else if first_item(&file.items, resnet::is_resnet).is_some() {
        let mut elab = Elab::new(src);
        Ok(Elaborated::Depth(elab.depth_program(file, overrides)?))
    } else {
        elaborate(src, file, overrides).map(Elaborated::Width)
    }
}

/// Elaborates a parsed file into a Tensor Program, applying `overrides` first. A depth
/// program (one with a `resnet` statement) is refused here: its size is the depth, which
/// no width-only stage can read; [`elaborate_any`] accepts both.
pub fn elaborate(
    src: &SourceText<'_>,
    file: &ast::File,
    overrides: &[Override],
) -> Result<Program, Diagnostic> {
    if let Some(item) = first_item(&file.items, meanfield::is_meanfield) {
        return Err(Diagnostic::new(
            Stage::Semantic,
            src.file,
            src.text,
            item.span,
            "this is a mean-field network (a `meanfield` statement, whose size is its \
             particle count), but this command reads width programs only",
            Some(
                "use the commands that read every kind (in the library: `tp::compile_any` \
                 or `tp::load_any`)"
                    .into(),
            ),
        ));
    }
    if let Some(item) = first_item(&file.items, shaped::is_shaped) {
        return Err(Diagnostic::new(
            Stage::Semantic,
            src.file,
            src.text,
            item.span,
            "this is a shaped network (a `shaped` statement, whose depth grows with its \
             width), but this command reads width programs only",
            Some(
                "use the commands that read every kind (in the library: `tp::compile_any` \
                 or `tp::load_any`)"
                    .into(),
            ),
        ));
    }
    if let Some(item) = first_item(&file.items, resnet::is_resnet) {
        return Err(Diagnostic::new(
            Stage::Semantic,
            src.file,
            src.text,
            item.span,
            "this is a depth program (a `resnet`, whose depth L grows), but this command \
             reads width programs only",
            Some(
                "use the depth-aware commands, which read both kinds (in the library: \
                 `tp::compile_any` or `tp::load_any`)"
                    .into(),
            ),
        ));
    }
    let mut elab = Elab::new(src);
    // Only a `resnet` reads the depth size. Checked before anything else, so that an
    // `mlp` reading `L` as its number of layers does not report the symptom instead.
    if let Some((item, name)) = file.items.iter().find_map(|i| match &i.kind {
        ItemKind::TiedDepth { name, .. } => Some((i, name)),
        _ => None,
    }) {
        return Err(elab.error(
            item.span,
            format!("the depth `{name}` is tied to the width, but there is no `shaped` network"),
            Some(format!(
                "`depth {name} = tau * n` is the depth of a `shaped` network; the number of \
                 layers of an `mlp` is a number: `param {name} = 3` and `mlp net(depth = \
                 {name}, …)`"
            )),
        ));
    }
    if let Some((item, name)) = file.items.iter().find_map(|i| match &i.kind {
        ItemKind::Particles { name, .. } => Some((i, name)),
        _ => None,
    }) {
        return Err(elab.error(
            item.span,
            format!("the particle count `{name}` is declared, but there is no `meanfield`"),
            Some(format!(
                "`particles {name}` is the size of a `meanfield` network: add one, e.g. \
                 `meanfield net(particles = {name}, dim = 1, unit = w1 * x1, …)`, or remove \
                 the declaration"
            )),
        ));
    }
    if let Some((item, name)) = file.items.iter().find_map(|i| match &i.kind {
        ItemKind::Depth(name) => Some((i, name)),
        _ => None,
    }) {
        return Err(elab.error(
            item.span,
            format!("the depth `{name}` is declared, but there is no `resnet`"),
            Some(format!(
                "`depth {name}` is the growing depth of a `resnet`; the number of layers of \
                 an `mlp` is a number: `param {name} = 3` and `mlp net(depth = {name}, …)`"
            )),
        ));
    }
    elab.declarations(file, overrides)?;
    elab.statements(&file.items, file)?;
    if elab.program.instrs.is_empty() {
        // Every command would answer "nothing" (and `tp check` "0 verdicts → PASS"), which
        // hides a wrong file or an empty loop rather than reporting on a program.
        let end = src.text.trim_end().len();
        return Err(elab.error(
            Span { start: end, end },
            "the program defines no vector or scalar: there is nothing to analyse",
            Some(
                "add a network (`mlp …`, `parameterization …`, `train …`) or raw \
                 statements such as `vector z ~ gaussian(1)`; see programs/ for examples"
                    .into(),
            ),
        ));
    }
    Ok(elab.program)
}

impl<'a> Elab<'a> {
    /// An elaborator with nothing declared yet.
    fn new(src: &'a SourceText<'a>) -> Self {
        Elab {
            src,
            program: Program::new("n"),
            scope: Scope::default(),
            statement: Span::default(),
        }
    }

    /// A semantic diagnostic at `span`.
    pub(crate) fn error(
        &self,
        span: Span,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Diagnostic {
        Diagnostic::new(
            Stage::Semantic,
            self.src.file,
            self.src.text,
            span,
            message,
            hint,
        )
    }

    /// First pass: title, width, parameters, activations and inputs.
    fn declarations(&mut self, file: &ast::File, overrides: &[Override]) -> Result<(), Diagnostic> {
        let mut used = vec![false; overrides.len()];
        for item in &file.items {
            match &item.kind {
                ItemKind::Program(title) => self.program.title = Some(title.clone()),
                ItemKind::Width(name) => {
                    if let Some(previous) = &self.scope.width {
                        return Err(self.error(
                            item.span,
                            format!("the width is already called `{previous}`"),
                            Some("declare `width` once".into()),
                        ));
                    }
                    self.scope.width = Some(name.clone());
                    self.program.width = name.clone();
                }
                ItemKind::Param { items, symbolic } => {
                    for p in items {
                        self.check_fresh(&p.name, p.span)?;
                        let over = overrides.iter().position(|o| o.name == p.name);
                        let val = match (over, &p.value) {
                            (Some(k), _) => {
                                used[k] = true;
                                self.override_value(&overrides[k])?
                            }
                            (None, Some(v)) => self.static_eval(v)?,
                            (None, None) if *symbolic => {
                                self.program.symbols.push(p.name.clone());
                                self.scope.symbols.push(p.name.clone());
                                Val::Affine(Exponent::symbol(&p.name))
                            }
                            (None, None) => {
                                return Err(self.error(
                                    p.span,
                                    format!("parameter `{}` has no value", p.name),
                                    Some(format!(
                                        "write `param {} = …`, or end the line with `symbolic` \
                                         to keep it as a symbol in exponents",
                                        p.name
                                    )),
                                ))
                            }
                        };
                        self.scope.params.insert(p.name.clone(), val);
                    }
                }
                ItemKind::Activation {
                    name,
                    name_span,
                    param,
                    body,
                } => {
                    self.check_fresh(name, *name_span)?;
                    let over = overrides.iter().position(|o| &o.name == name);
                    let (ir_name, ir_body) = match over {
                        Some(k) => {
                            used[k] = true;
                            self.activation_alias(&overrides[k].value)?
                        }
                        None => match param {
                            Some(arg) => (name.clone(), self.formula(body, arg)?),
                            None => self.activation_alias(body)?,
                        },
                    };
                    let id = self.intern_activation(&ir_name, ir_body);
                    self.scope.activations.insert(name.clone(), id);
                }
                ItemKind::Input {
                    name,
                    name_span,
                    value,
                    target,
                } => {
                    self.check_fresh(name, *name_span)?;
                    let values = self.number_list(value, None)?;
                    let target = match target {
                        Some(t) => Some(self.number(t)?),
                        None => None,
                    };
                    self.scope
                        .inputs
                        .insert(name.clone(), InputDef { values, target });
                }
                ItemKind::Depth(name) => {
                    if let Some(previous) = &self.scope.depth {
                        return Err(self.error(
                            item.span,
                            format!("the depth is already called `{previous}`"),
                            Some("declare `depth` once".into()),
                        ));
                    }
                    self.check_fresh(name, item.span)?;
                    self.scope.depth = Some(name.clone());
                }
                ItemKind::TiedDepth {
                    name,
                    name_span,
                    value,
                } => {
                    if let Some(previous) = &self.scope.depth {
                        return Err(self.error(
                            item.span,
                            format!("the depth is already called `{previous}`"),
                            Some("declare `depth` once".into()),
                        ));
                    }
                    self.check_fresh(name, *name_span)?;
                    self.scope.depth = Some(name.clone());
                    self.scope.tied_depth = Some((*name_span, value.clone()));
                }
                ItemKind::Dim {
                    name,
                    name_span,
                    value,
                } => {
                    self.check_fresh(name, *name_span)?;
                    let d = self.fixed_dim(value)?;
                    self.scope.dims.insert(name.clone(), d);
                }
                ItemKind::Particles { name, name_span } => {
                    if let Some(previous) = &self.scope.particles {
                        return Err(self.error(
                            item.span,
                            format!("the particle count is already called `{previous}`"),
                            Some("declare `particles` once".into()),
                        ));
                    }
                    self.check_fresh(name, *name_span)?;
                    self.scope.particles = Some(name.clone());
                }
                _ => {}
            }
        }
        if let Some(k) = used.iter().position(|u| !u) {
            let o = &overrides[k];
            let mut known: Vec<&str> = self.scope.params.keys().map(|s| s.as_str()).collect();
            known.extend(self.scope.activations.keys().map(|s| s.as_str()));
            known.sort();
            // Point into the override itself: the program text has no position for it.
            let line = format!("{}={}", o.name, o.text);
            return Err(Diagnostic::new(
                Stage::Semantic,
                "--set",
                &line,
                Span {
                    start: 0,
                    end: o.name.len(),
                },
                format!("the program has no parameter or activation `{}`", o.name),
                Some(format!("names that can be set: {}", known.join(", "))),
            ));
        }
        Ok(())
    }

    fn override_value(&self, o: &Override) -> Result<Val, Diagnostic> {
        // The override's spans point into its own text, so report against that text.
        let src = SourceText {
            file: "--set",
            text: &o.text,
        };
        let shadow = Elab {
            src: &src,
            program: Program::new(&self.program.width),
            scope: Scope {
                width: self.scope.width.clone(),
                depth: self.scope.depth.clone(),
                dims: self.scope.dims.clone(),
                params: self.scope.params.clone(),
                symbols: self.scope.symbols.clone(),
                ..Scope::default()
            },
            statement: Span::default(),
        };
        shadow.static_eval(&o.value)
    }

    /// Refuses to declare a name twice.
    fn check_fresh(&self, name: &str, span: Span) -> Result<(), Diagnostic> {
        let taken = self.scope.params.contains_key(name)
            || self.scope.activations.contains_key(name)
            || self.scope.inputs.contains_key(name)
            || self.scope.matrices.contains_key(name)
            || self.scope.values.contains_key(name)
            || self.scope.dims.contains_key(name)
            || self.scope.depth.as_deref() == Some(name)
            || self.scope.particles.as_deref() == Some(name)
            || self.scope.width.as_deref() == Some(name);
        if taken {
            return Err(self.error(
                span,
                format!("`{name}` is already defined"),
                Some(
                    "every parameter, input, activation, matrix and value needs its own name"
                        .into(),
                ),
            ));
        }
        Ok(())
    }

    /// Evaluates the interpolations of a name: `h{l-1}` with l = 3 is `h2`.
    pub(crate) fn name_text(&self, name: &ast::Name) -> Result<String, Diagnostic> {
        let mut out = String::new();
        for part in &name.parts {
            match part {
                NamePart::Text(t) => out.push_str(t),
                NamePart::Interp(e) => {
                    let v = self.static_eval(e)?;
                    match v.as_integer() {
                        Some(k) => out.push_str(&k.to_string()),
                        None => {
                            return Err(self.error(
                                e.span,
                                format!(
                                    "a name part `{{…}}` must be an integer, not {}",
                                    v.describe()
                                ),
                                Some(
                                    "use a loop variable or an integer parameter, e.g. `h{l-1}`"
                                        .into(),
                                ),
                            ))
                        }
                    }
                }
            }
        }
        if out.chars().count() > MAX_NAME_CHARS {
            return Err(self.error(
                name.span,
                format!(
                    "this name is {} characters long once interpolated; names have at most \
                     {MAX_NAME_CHARS}",
                    out.chars().count()
                ),
                Some("choose a shorter name".into()),
            ));
        }
        Ok(out)
    }

    /// Evaluates an expression of numbers, parameters and the width at elaboration time.
    /// A result that is not a finite number (`log(-1)`, `exp(1000)`) is refused here, at
    /// the innermost expression that produced it, so that no NaN or infinity reaches an
    /// exponent, a coefficient or a table.
    pub(crate) fn static_eval(&self, e: &ast::Expr) -> Result<Val, Diagnostic> {
        let v = self.static_value(e)?;
        let (coef, _) = v.split_width();
        if let Val::Real(x) = coef {
            if !x.is_finite() {
                return Err(self.not_finite(x, e.span));
            }
        }
        Ok(v)
    }

    /// The diagnostic for a constant that evaluated to `x`, NaN or ±∞.
    pub(crate) fn not_finite(&self, x: f64, span: Span) -> Diagnostic {
        let what = if x.is_nan() {
            "is not a number (NaN)".to_string()
        } else if x.abs() == f64::INFINITY {
            "overflows (its value is beyond ±1.8e308)".to_string()
        } else {
            format!("is {x}")
        };
        self.error(
            span,
            format!("this constant {what}"),
            Some(
                "constants must be finite real numbers: check the arguments of log, sqrt and \
                 powers, and keep magnitudes below 1e308"
                    .into(),
            ),
        )
    }

    /// [`Elab::static_eval`] before the finiteness check.
    fn static_value(&self, e: &ast::Expr) -> Result<Val, Diagnostic> {
        let lift = |r: Result<Val, String>| {
            r.map_err(|m| {
                self.error(
                    e.span,
                    m,
                    Some("exponents must be affine in symbolic parameters; coefficients must be numbers".into()),
                )
            })
        };
        match &e.kind {
            ExprKind::Number(q) => Ok(Val::Exact(q.clone())),
            ExprKind::Name(name) => {
                let text = self.name_text(name)?;
                if let Some((_, v)) = self.scope.loop_vars.iter().rev().find(|(n, _)| *n == text) {
                    return Ok(Val::Exact(crate::exponent::Rational::from_integer(
                        (*v).into(),
                    )));
                }
                if self.scope.width.as_deref() == Some(text.as_str()) {
                    return Ok(Val::width());
                }
                if let Some(v) = self.scope.params.get(&text) {
                    return Ok(v.clone());
                }
                if let Some(d) = self.scope.dims.get(&text) {
                    return Ok(Val::Exact(crate::exponent::Rational::from_integer(
                        (*d).into(),
                    )));
                }
                if self.scope.depth.as_deref() == Some(text.as_str()) {
                    // L grows to infinity: a value of it would hide which terms survive.
                    return Err(self.error(
                        e.span,
                        format!("`{text}` is the depth, a size that grows; it has no value"),
                        Some(
                            "powers of the depth are options of the network (`alpha`, `beta`, \
                             `gamma`, `branch`); write the exponent there"
                                .into(),
                        ),
                    ));
                }
                if self.scope.particles.as_deref() == Some(text.as_str()) {
                    // N grows to infinity: its powers are the options `alpha` and `beta`.
                    return Err(self.error(
                        e.span,
                        format!(
                            "`{text}` is the particle count, a size that grows; it has no value"
                        ),
                        Some(
                            "the step is gamma N^beta (n + …)^(-alpha): write the powers of \
                             the particle count as the options `beta` and `alpha`"
                                .into(),
                        ),
                    ));
                }
                if text == "pi" {
                    return Ok(Val::Real(std::f64::consts::PI));
                }
                Err(self.unknown_name(&text, e.span, "a number"))
            }
            ExprKind::Neg(a) => Ok(self.static_eval(a)?.neg()),
            ExprKind::Binary(op, a, b) => {
                let x = self.static_eval(a)?;
                if *op == ast::BinOp::Pow && matches!(x, Val::Width { .. }) {
                    let y = self.static_eval(b)?;
                    let (coef, exp) = x.split_width();
                    if coef == Val::one() && exp == Exponent::ratio(1, 1) {
                        return lift(Val::width_pow(&y));
                    }
                    return lift(x.pow(&y));
                }
                let y = self.static_eval(b)?;
                lift(match op {
                    ast::BinOp::Add => x.add(&y),
                    ast::BinOp::Sub => x.sub(&y),
                    ast::BinOp::Mul => x.mul(&y),
                    ast::BinOp::Div => x.div(&y),
                    ast::BinOp::Pow => x.pow(&y),
                })
            }
            ExprKind::Call {
                callee,
                primes: 0,
                args,
            } if args.len() == 1 => {
                let f = self.name_text(callee)?;
                let x = self.static_eval(&args[0])?;
                match f.as_str() {
                    "sqrt" => lift(x.sqrt()),
                    "exp" | "log" | "tanh" | "erf" | "sin" | "cos" | "abs" | "atan" | "arctan" => {
                        let v = x.as_f64().ok_or_else(|| {
                            self.error(e.span, format!("`{f}` needs a number here"), None)
                        })?;
                        let func = crate::ir::Func::from_name(&f).ok_or_else(|| {
                            self.error(e.span, format!("unknown function `{f}`"), None)
                        })?;
                        Ok(Val::Real(func.apply(v)))
                    }
                    _ => Err(self.error(
                        e.span,
                        format!("`{f}(…)` cannot be computed here; a number is expected"),
                        Some("only sqrt, exp, log, abs and trigonometric functions of numbers are allowed in constants".into()),
                    )),
                }
            }
            _ => Err(self.error(
                e.span,
                "expected a number (or an exponent) here",
                Some("write a number, a parameter, or an expression of them".into()),
            )),
        }
    }

    /// An unknown-name diagnostic, with a hint that lists what could have been meant.
    pub(crate) fn unknown_name(&self, text: &str, span: Span, wanted: &str) -> Diagnostic {
        let hint = if self.scope.values.contains_key(text) {
            format!("`{text}` is an n-vector or scalar of the program, but {wanted} is needed here")
        } else if self.scope.inputs.contains_key(text) {
            format!("`{text}` is a finite input vector, but {wanted} is needed here")
        } else if self.scope.matrices.contains_key(text) {
            format!("`{text}` is a matrix; apply it to a vector: `{text} x`")
        } else {
            format!("declare it first (e.g. `param {text} = …`, `vector {text} = …`), or check the spelling")
        };
        self.error(span, format!("unknown name `{text}`"), Some(hint))
    }

    /// A width-independent real number.
    pub(crate) fn number(&self, e: &ast::Expr) -> Result<f64, Diagnostic> {
        let v = self.static_eval(e)?;
        match v {
            Val::Exact(_) | Val::Real(_) => self.finite(v.as_f64(), e.span),
            Val::Affine(_) => Err(self.error(
                e.span,
                "a symbolic parameter cannot be used as a number",
                Some("symbolic parameters may only appear in exponents; give it a value with `--set NAME=VALUE`".into()),
            )),
            Val::Width { .. } => Err(self.error(
                e.span,
                "this number depends on the width",
                Some("a width-independent number is needed here".into()),
            )),
        }
    }

    /// A converted constant, refused when it is missing or not finite (an exact `1e400`
    /// is a fine exponent but has no floating-point value).
    pub(crate) fn finite(&self, x: Option<f64>, span: Span) -> Result<f64, Diagnostic> {
        match x {
            Some(x) if x.is_finite() => Ok(x),
            Some(x) => Err(self.not_finite(x, span)),
            None => Err(self.not_finite(f64::NAN, span)),
        }
    }

    /// A positive integer (depth, number of steps, dimension).
    pub(crate) fn integer(&self, e: &ast::Expr, what: &str, min: i64) -> Result<i64, Diagnostic> {
        let v = self.static_eval(e)?;
        let wanted = if min == i64::MIN {
            "an integer".to_string()
        } else {
            format!("an integer ≥ {min}")
        };
        match (v.as_integer(), v.as_rational()) {
            (Some(k), _) if k >= min => Ok(k),
            (None, Some(q)) if q.is_integer() => Err(self.error(
                e.span,
                format!("{what} is {q}, beyond the 64-bit integers"),
                Some("check the value (and any `--set` that gives it)".into()),
            )),
            _ => Err(self.error(
                e.span,
                format!("{what} must be {wanted}"),
                Some(format!("write e.g. `{}`", min.max(1))),
            )),
        }
    }

    /// The value of `dim d = …`: a positive integer up to [`MAX_FIXED_DIM`].
    fn fixed_dim(&self, e: &ast::Expr) -> Result<usize, Diagnostic> {
        let d = self.integer(e, "a dimension", 1)?;
        usize::try_from(d)
            .ok()
            .filter(|d| *d <= MAX_FIXED_DIM)
            .ok_or_else(|| {
                self.error(
                    e.span,
                    format!("a fixed dimension of {d}; at most {MAX_FIXED_DIM} is supported"),
                    Some(format!(
                        "a fixed dimension is small (the trend is a d×d matrix of formulas \
                         evaluated at every layer); write e.g. `dim d = 4`, at most \
                         {MAX_FIXED_DIM}; a dimension that grows is the width: `width n`"
                    )),
                )
            })
    }

    /// An exact exponent (rational or affine in symbols).
    pub(crate) fn exponent(&self, e: &ast::Expr) -> Result<Exponent, Diagnostic> {
        let v = self.static_eval(e)?;
        v.as_exponent().ok_or_else(|| {
            self.error(
                e.span,
                format!(
                    "an exponent must be exact (a fraction or symbolic parameters), not {}",
                    v.describe()
                ),
                Some(
                    "write fractions such as `-1/2` rather than decimals of irrational numbers"
                        .into(),
                ),
            )
        })
    }

    /// A list of numbers `[1, 0.5, -0.5]`, optionally of a required length.
    pub(crate) fn number_list(
        &self,
        e: &ast::Expr,
        len: Option<usize>,
    ) -> Result<Vec<f64>, Diagnostic> {
        let items = self.expand_list(e, len)?;
        items.iter().map(|x| self.number(x)).collect()
    }

    /// Expands a list with `..` repeats to `len` entries (a single value fills every entry).
    pub(crate) fn expand_list<'e>(
        &self,
        e: &'e ast::Expr,
        len: Option<usize>,
    ) -> Result<Vec<&'e ast::Expr>, Diagnostic> {
        let items = match &e.kind {
            ExprKind::List(items) => items,
            _ => {
                return match len {
                    Some(k) => Ok(vec![e; k]),
                    None => Err(self.error(
                        e.span,
                        "expected a list `[…]`",
                        Some("write the entries in brackets, e.g. `[1.0, 0.5, -0.5]`".into()),
                    )),
                }
            }
        };
        let repeats = items.iter().filter(|i| i.repeat).count();
        if repeats > 1 {
            return Err(self.error(
                e.span,
                "at most one list entry may be repeated with `..`",
                Some("write e.g. `[first, middle.., last]`".into()),
            ));
        }
        let fixed = items.len() - repeats;
        match (len, repeats) {
            (None, 1) => Err(self.error(
                e.span,
                "`..` needs a known length, which this list does not have",
                Some("write every entry".into()),
            )),
            (Some(k), 0) if k != items.len() => Err(self.error(
                e.span,
                format!("expected {k} entries, found {}", items.len()),
                Some(format!(
                    "give one entry per layer (there are {k}), or repeat the middle one with `..`"
                )),
            )),
            (Some(k), 1) if fixed > k => Err(self.error(
                e.span,
                format!("expected {k} entries, found {fixed} besides the repeated one"),
                Some("remove entries or the repeat".into()),
            )),
            (Some(k), 1) => {
                let mut out = Vec::with_capacity(k);
                for item in items {
                    if item.repeat {
                        for _ in 0..(k - fixed) {
                            out.push(&item.value);
                        }
                    } else {
                        out.push(&item.value);
                    }
                }
                Ok(out)
            }
            _ => Ok(items.iter().map(|i| &i.value).collect()),
        }
    }

    /// Refuses to go on once the program has more than [`MAX_INSTRUCTIONS`] instructions.
    /// Called after every statement and at every unrolled SGD step, so the program never
    /// grows by more than one statement or one step past the bound.
    pub(crate) fn within_budget(&self) -> Result<(), Diagnostic> {
        let count = self.program.instrs.len();
        if count <= MAX_INSTRUCTIONS {
            return Ok(());
        }
        Err(self.error(
            self.statement,
            format!(
                "the program has more than {MAX_INSTRUCTIONS} instructions ({count} so far, at this statement)"
            ),
            Some(
                "elaborated programs are bounded; use fewer loop iterations, layers or \
                 training steps (a network of depth L trained for T steps has about \
                 L·T² instructions)"
                    .into(),
            ),
        ))
    }

    /// Second pass: raw statements in order; the network sugar where `mlp` stands.
    fn statements(&mut self, items: &[ast::Item], file: &ast::File) -> Result<(), Diagnostic> {
        for item in items {
            let outer = self.statement;
            self.statement = item.span;
            self.statement_of(item, file)?;
            self.within_budget()?;
            self.statement = outer;
        }
        Ok(())
    }

    /// One statement of the second pass.
    fn statement_of(&mut self, item: &ast::Item, file: &ast::File) -> Result<(), Diagnostic> {
        match &item.kind {
            ItemKind::Program(_)
            | ItemKind::Width(_)
            | ItemKind::Param { .. }
            | ItemKind::Activation { .. }
            | ItemKind::Input { .. }
            | ItemKind::Dim { .. }
            | ItemKind::Depth(_)
            | ItemKind::Particles { .. }
            | ItemKind::TiedDepth { .. } => {
                if !self.scope.loop_vars.is_empty() {
                    return Err(self.error(
                        item.span,
                        "declarations cannot be inside a loop",
                        Some(
                            "move `param`, `activation`, `input`, `width`, `depth` and `dim` \
                             to the top level"
                                .into(),
                        ),
                    ));
                }
            }
            ItemKind::MeanField { .. } => {
                // `elaborate` refuses files with a `meanfield` network before this pass.
                return Err(self.error(
                    item.span,
                    "internal error: a `meanfield` network reached the width elaborator",
                    Some("this is a bug in tp; please report it with this input".into()),
                ));
            }
            ItemKind::Shaped { .. } => {
                // `elaborate` refuses files with a `shaped` network before this pass.
                return Err(self.error(
                    item.span,
                    "internal error: a `shaped` network reached the width elaborator",
                    Some("this is a bug in tp; please report it with this input".into()),
                ));
            }
            ItemKind::Resnet { .. } => {
                // `elaborate` refuses files with a `resnet` before this pass.
                return Err(self.error(
                    item.span,
                    "internal error: a `resnet` reached the width elaborator",
                    Some("this is a bug in tp; please report it with this input".into()),
                ));
            }
            ItemKind::Matrix { name, shape, dist } => self.matrix(name, shape.as_ref(), dist)?,
            ItemKind::Sample {
                scalar,
                names,
                dist,
            } => self.sample(*scalar, names, dist)?,
            ItemKind::Define {
                scalar,
                name,
                value,
            } => self.define(*scalar, name, value)?,
            ItemKind::For {
                var,
                from,
                to,
                descending,
                body,
            } => {
                let a = self.integer(from, "a loop bound", i64::MIN)?;
                let b = self.integer(to, "a loop bound", i64::MIN)?;
                // Counted before anything is built: `0 to 2^62` must not allocate.
                let (first, last) = if *descending { (b, a) } else { (a, b) };
                let count = (i128::from(last) - i128::from(first) + 1).max(0);
                if count > i128::from(MAX_LOOP_ITERATIONS) {
                    return Err(self.error(
                        from.span.join(to.span),
                        format!("this loop would run {count} times"),
                        Some(format!(
                            "loops are unrolled; at most {MAX_LOOP_ITERATIONS} iterations \
                             (check the bounds, and the `--set` values they use)"
                        )),
                    ));
                }
                let ascending = first..=last;
                let range: Box<dyn Iterator<Item = i64>> = if *descending {
                    Box::new(ascending.rev())
                } else {
                    Box::new(ascending)
                };
                for k in range {
                    self.scope.loop_vars.push((var.clone(), k));
                    let result = self.statements(body, file);
                    self.scope.loop_vars.pop();
                    result?;
                }
            }
            ItemKind::Mlp { .. } => {
                if !self.scope.loop_vars.is_empty() {
                    return Err(self.error(
                        item.span,
                        "`mlp` cannot be inside a loop",
                        Some("declare the network at the top level".into()),
                    ));
                }
                self.network(item, file)?;
            }
            ItemKind::Parameterization { .. } | ItemKind::Train { .. } => {
                if !file
                    .items
                    .iter()
                    .any(|i| matches!(i.kind, ItemKind::Mlp { .. }))
                {
                    return Err(self.error(
                        item.span,
                        "this statement needs a network",
                        Some("declare one with `mlp net(depth = L, act = act)`".into()),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The first item of a kind in document order, looking inside loop bodies too: a
/// `resnet` or `shaped` statement in a loop is an error, but it still decides the file's
/// family, so that the error is the one about the loop.
fn first_item(items: &[ast::Item], is: fn(&ast::ItemKind) -> bool) -> Option<&ast::Item> {
    items.iter().find_map(|item| match &item.kind {
        kind if is(kind) => Some(item),
        ast::ItemKind::For { body, .. } => first_item(body, is),
        _ => None,
    })
}

/// Every item of a kind, with whether it stands inside a loop.
fn items_where<'f>(
    items: &'f [ast::Item],
    is: fn(&ast::ItemKind) -> bool,
    in_loop: bool,
    out: &mut Vec<(&'f ast::Item, bool)>,
) {
    for item in items {
        match &item.kind {
            kind if is(kind) => out.push((item, in_loop)),
            ast::ItemKind::For { body, .. } => items_where(body, is, true, out),
            _ => {}
        }
    }
}
