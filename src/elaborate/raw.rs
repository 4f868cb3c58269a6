//! Raw Tensor Program statements: matrices, Gaussian samples and definitions.

use super::activation::builtin_body;
use super::{Dim, Elab, MatrixDef, Val};
use crate::bounds::{MAX_DERIVATIVE_ORDER, MAX_DIMENSION, MAX_NAME_CHARS};
use crate::exponent::{Exponent, Rational};
use crate::ir::{Expr, Func, Instr, Kind, Meta, Op, Role, Scale, ValueId};
use crate::syntax::ast::{self, BinOp, ExprKind, Span};
use crate::syntax::Diagnostic;
use num_traits::ToPrimitive;

/// What the free names of a formula stand for. One lowering serves both kinds of formula:
/// an activation body has one argument, a mean-field formula several variables.
#[derive(Clone, Copy, Debug)]
pub(super) enum FormulaVars<'v> {
    /// `activation phi(x) = …`: the argument `x` is [`Expr::Arg`].
    Arg(&'v str),
    /// A formula over several variables (the unit F(w, x) of a mean-field network): the
    /// k-th name is the value `ValueId(k)`.
    Values(&'v [String]),
}

impl FormulaVars<'_> {
    /// The expression a name stands for, if it is one of the variables.
    fn resolve(self, name: &str) -> Option<Expr> {
        match self {
            FormulaVars::Arg(a) => (a == name).then_some(Expr::Arg),
            FormulaVars::Values(names) => names
                .iter()
                .position(|n| n == name)
                .map(|k| Expr::Value(ValueId(k))),
        }
    }
}

/// Which role a generated temporary plays, for its name.
enum Temp<'t> {
    MatMul(&'t str, bool, &'t str),
    Mean(String),
    Other(&'t str),
}

impl Elab<'_> {
    /// `matrix W ~ gaussian(var[, mean = m])`, optionally `: n x d`.
    pub(super) fn matrix(
        &mut self,
        name: &ast::Name,
        shape: Option<&ast::Shape>,
        dist: &ast::Dist,
    ) -> Result<(), Diagnostic> {
        let text = self.name_text(name)?;
        self.check_fresh(&text, name.span)?;
        self.check_gaussian(dist)?;
        let (rows, cols) = match shape {
            None => (Dim::Width, Dim::Width),
            Some(s) => (self.dim(&s.rows)?, self.dim(&s.cols)?),
        };
        if rows != Dim::Width {
            return Err(self.error(
                name.span,
                "a matrix must have n rows",
                Some("declare `n x n` or `n x d` matrices; a readout layer is a vector: `vector w ~ gaussian(1)` and `mean(w * x)`".into()),
            ));
        }
        let (var_coef, var_exp) = self.variance(&dist.variance)?;
        let mean = match &dist.mean {
            None => None,
            Some(m) => {
                let v = self.static_eval(m)?;
                let (c, e) = v.split_width();
                let c = match c {
                    Val::Exact(_) | Val::Real(_) => self.finite(c.as_f64(), m.span)?,
                    _ => {
                        return Err(self.error(
                            m.span,
                            "the mean must be a number times a power of n",
                            None,
                        ))
                    }
                };
                Some((c, e))
            }
        };
        let half = Rational::new(1.into(), 2.into());
        let def = match cols {
            Dim::Width => {
                let id = self.program.add_matrix(&text);
                MatrixDef {
                    cols,
                    coef: var_coef.sqrt(),
                    // variance v n^e = (√v n^{(e+1)/2})² / n
                    exp: var_exp.plus(&Rational::from_integer(1.into())).scale(&half),
                    mean,
                    matrix: Some(id),
                    columns: Vec::new(),
                }
            }
            Dim::Finite(d) => {
                let columns = (1..=d)
                    .map(|k| {
                        self.program
                            .add_source(&format!("{text}[{k}]"), Kind::Vector)
                    })
                    .collect();
                MatrixDef {
                    cols,
                    coef: var_coef.sqrt(),
                    exp: var_exp.scale(&half),
                    mean,
                    matrix: None,
                    columns,
                }
            }
        };
        self.scope.matrices.insert(text, def);
        Ok(())
    }

    fn dim(&self, e: &ast::Expr) -> Result<Dim, Diagnostic> {
        let v = self.static_eval(e)?;
        if v == Val::width() {
            return Ok(Dim::Width);
        }
        match v.as_integer() {
            Some(k) if (1..=MAX_DIMENSION as i64).contains(&k) => Ok(Dim::Finite(k as usize)),
            _ => Err(self.error(
                e.span,
                format!(
                    "a dimension is the width `n` or a positive integer (at most {MAX_DIMENSION})"
                ),
                None,
            )),
        }
    }

    fn check_gaussian(&self, dist: &ast::Dist) -> Result<(), Diagnostic> {
        if dist.name != "gaussian" {
            return Err(self.error(
                dist.span,
                format!("unknown distribution `{}`", dist.name),
                Some("Tensor Programs sample Gaussians: write `gaussian(variance)`".into()),
            ));
        }
        Ok(())
    }

    /// A variance `v · n^e` with v > 0, as (v, e).
    fn variance(&self, e: &ast::Expr) -> Result<(f64, Exponent), Diagnostic> {
        let v = self.static_eval(e)?;
        let (c, exp) = v.split_width();
        if let (Val::Exact(_) | Val::Real(_), Some(x)) = (&c, c.as_f64()) {
            self.finite(Some(x), e.span)?;
        }
        match c.as_f64() {
            Some(x) if x >= 0.0 && x.is_finite() && !matches!(c, Val::Affine(_)) => Ok((x, exp)),
            _ => Err(self.error(
                e.span,
                "a variance must be a non-negative number times a power of n",
                Some("write e.g. `gaussian(1/n)`, `gaussian(2/n)` or `gaussian(n^(-2*b))`".into()),
            )),
        }
    }

    /// `vector z ~ gaussian(…)`, `vector z1, z2 ~ gaussian([[…]])`, `scalar v ~ gaussian(1)`.
    pub(super) fn sample(
        &mut self,
        scalar: bool,
        names: &[ast::Name],
        dist: &ast::Dist,
    ) -> Result<(), Diagnostic> {
        self.check_gaussian(dist)?;
        let kind = if scalar { Kind::Scalar } else { Kind::Vector };
        let mut texts = Vec::new();
        for n in names {
            let t = self.name_text(n)?;
            self.check_fresh(&t, n.span)?;
            if texts.contains(&t) {
                return Err(self.error(n.span, format!("`{t}` is listed twice"), None));
            }
            texts.push(t);
        }
        let k = texts.len();
        let means = match &dist.mean {
            None => vec![0.0; k],
            Some(m) => self.number_list(m, Some(k))?,
        };
        let (factor, width_exp) = if k == 1 {
            let (v, e) = self.variance(&dist.variance)?;
            (
                vec![vec![v.sqrt()]],
                e.scale(&Rational::new(1.into(), 2.into())),
            )
        } else {
            let rows = self.expand_list(&dist.variance, Some(k))?;
            let mut cov = Vec::with_capacity(k);
            for r in rows {
                cov.push(self.number_list(r, Some(k))?);
            }
            let factor = cholesky_psd(&cov).ok_or_else(|| {
                self.error(
                    dist.variance.span,
                    "the covariance matrix is not symmetric positive semi-definite",
                    Some("check the entries: cov[i][j] = cov[j][i] and all variances ≥ 0".into()),
                )
            })?;
            (factor, Exponent::zero())
        };
        if !width_exp.is_zero() && means.iter().any(|m| *m != 0.0) {
            return Err(self.error(
                dist.span,
                "a mean together with a width-dependent variance is not supported",
                Some(
                    "declare the centered sample and add the mean in a `vector … = …` line".into(),
                ),
            ));
        }
        let base = texts.join(",");
        let sources: Vec<_> = (0..k)
            .map(|j| {
                let label = if k == 1 {
                    base.clone()
                } else {
                    format!("{base}#{}", j + 1)
                };
                self.program.add_source(&format!("g[{label}]"), kind)
            })
            .collect();
        for (i, name) in texts.into_iter().enumerate() {
            let terms = sources
                .iter()
                .enumerate()
                .filter_map(|(j, s)| {
                    let c = factor[i][j];
                    (c != 0.0).then_some((*s, c))
                })
                .collect();
            let id = self.program.push(Instr {
                name: name.clone(),
                kind,
                scale: Scale::width(width_exp.clone()),
                op: Op::Init {
                    terms,
                    mean: means[i],
                },
                meta: Meta::user(),
            });
            self.scope.values.insert(name, id);
        }
        Ok(())
    }

    /// `vector NAME = …` or `scalar NAME = …`.
    pub(super) fn define(
        &mut self,
        scalar: bool,
        name: &ast::Name,
        value: &ast::Expr,
    ) -> Result<(), Diagnostic> {
        let text = self.name_text(name)?;
        self.check_fresh(&text, name.span)?;
        let want = if scalar { Kind::Scalar } else { Kind::Vector };
        let id = self.lower_named(&text, value, want, Meta::user())?;
        self.scope.values.insert(text, id);
        Ok(())
    }

    /// Lowers `value` into one instruction named `name` (plus temporaries it needs).
    pub(super) fn lower_named(
        &mut self,
        name: &str,
        value: &ast::Expr,
        want: Kind,
        meta: Meta,
    ) -> Result<ValueId, Diagnostic> {
        // A scaled matrix product or mean becomes a single instruction with that scale.
        if let Some((factor, core)) = self.peel_scale(value) {
            let (coef, exp) = factor.split_width();
            if let Some(coef) = coef.as_f64().filter(|_| !matches!(coef, Val::Affine(_))) {
                let coef = self.finite(Some(coef), value.span)?;
                let scale = Scale {
                    coef,
                    exponent: exp,
                };
                if let Some((op, kind, inner)) = self.direct_op(core, name)? {
                    self.check_kind(kind, want, value.span)?;
                    let total = Scale {
                        coef: scale.coef * inner.coef,
                        exponent: scale.exponent.add(&inner.exponent),
                    };
                    return Ok(self.program.push(Instr {
                        name: name.to_string(),
                        kind,
                        scale: total,
                        op,
                        meta,
                    }));
                }
            }
        }
        let (expr, kind) = self.lower(value, name, None)?;
        self.check_kind(kind, want, value.span)?;
        let op = match kind {
            Kind::Vector => Op::Map { expr },
            Kind::Scalar => Op::Scalar { expr },
        };
        Ok(self.program.push(Instr {
            name: name.to_string(),
            kind,
            scale: Scale::one(),
            op,
            meta,
        }))
    }

    fn check_kind(&self, got: Kind, want: Kind, span: Span) -> Result<(), Diagnostic> {
        match (got, want) {
            (a, b) if a == b => Ok(()),
            (Kind::Scalar, Kind::Vector) => Err(self.error(
                span,
                "this is a scalar, but a vector is declared",
                Some("declare it with `scalar`, or combine it with a vector".into()),
            )),
            _ => Err(self.error(
                span,
                "this is an n-vector, but a scalar is declared",
                Some("declare it with `vector`, or average it: `mean(…)`".into()),
            )),
        }
    }

    /// Splits `c * n^e * core` into its width-independent factor and `core`, when `core`
    /// is a matrix product or a mean.
    fn peel_scale<'e>(&self, e: &'e ast::Expr) -> Option<(Val, &'e ast::Expr)> {
        match &e.kind {
            ExprKind::MatMul { .. } => Some((Val::one(), e)),
            ExprKind::Call {
                callee, primes: 0, ..
            } => {
                let text = self.name_text(callee).ok()?;
                if text == "mean" || self.scope.matrices.contains_key(&text) {
                    Some((Val::one(), e))
                } else {
                    None
                }
            }
            ExprKind::Neg(a) => {
                let (f, core) = self.peel_scale(a)?;
                Some((f.neg(), core))
            }
            ExprKind::Binary(BinOp::Mul, a, b) => {
                if let Ok(f) = self.static_eval(a) {
                    let (g, core) = self.peel_scale(b)?;
                    return Some((f.mul(&g).ok()?, core));
                }
                let f = self.static_eval(b).ok()?;
                let (g, core) = self.peel_scale(a)?;
                Some((g.mul(&f).ok()?, core))
            }
            ExprKind::Binary(BinOp::Div, a, b) => {
                let f = self.static_eval(b).ok()?;
                let (g, core) = self.peel_scale(a)?;
                Some((g.div(&f).ok()?, core))
            }
            _ => None,
        }
    }

    /// The single operation a matrix product or a mean stands for, when it needs no
    /// extra term (a non-centered matrix needs one, so it is not direct).
    fn direct_op(
        &mut self,
        core: &ast::Expr,
        target: &str,
    ) -> Result<Option<(Op, Kind, Scale)>, Diagnostic> {
        match &core.kind {
            ExprKind::MatMul {
                matrix,
                transpose,
                arg,
            } => self.direct_matmul(matrix, *transpose, arg, target, core.span),
            ExprKind::Call { callee, args, .. } => {
                let text = self.name_text(callee)?;
                if text == "mean" {
                    let inner = self.mean_arg(args, core.span, target)?;
                    return Ok(Some((
                        Op::Moment { expr: inner },
                        Kind::Scalar,
                        Scale::one(),
                    )));
                }
                match args.as_slice() {
                    [arg] => self.direct_matmul(callee, false, arg, target, core.span),
                    _ => Ok(None),
                }
            }
            _ => Ok(None),
        }
    }

    fn direct_matmul(
        &mut self,
        matrix: &ast::Name,
        transpose: bool,
        arg: &ast::Expr,
        target: &str,
        span: Span,
    ) -> Result<Option<(Op, Kind, Scale)>, Diagnostic> {
        let text = self.name_text(matrix)?;
        let def = match self.scope.matrices.get(&text) {
            Some(d) => d.clone(),
            None => return Err(self.unknown_matrix(&text, matrix.span)),
        };
        if def.mean.is_some() {
            return Ok(None);
        }
        let scale = Scale {
            coef: def.coef,
            exponent: def.exp.clone(),
        };
        match def.cols {
            Dim::Finite(_) => {
                let op = self.input_layer_op(&text, &def, transpose, arg, span)?;
                Ok(Some((op, Kind::Vector, scale)))
            }
            Dim::Width => {
                let x = self.vector_operand(arg, target)?;
                let op = Op::MatMul {
                    matrix: def.matrix.unwrap_or(crate::ir::MatrixId(0)),
                    transpose,
                    arg: x,
                };
                Ok(Some((op, Kind::Vector, scale)))
            }
        }
    }

    fn unknown_matrix(&self, text: &str, span: Span) -> Diagnostic {
        self.error(
            span,
            format!("`{text}` is not a matrix"),
            Some(format!("declare it first: `matrix {text} ~ gaussian(1/n)`")),
        )
    }

    /// `U ξ` for an n×d matrix and a finite input ξ: a Gaussian vector.
    fn input_layer_op(
        &self,
        text: &str,
        def: &MatrixDef,
        transpose: bool,
        arg: &ast::Expr,
        span: Span,
    ) -> Result<Op, Diagnostic> {
        if transpose {
            return Err(self.error(
                span,
                format!("`{text}^T` would give a finite vector"),
                Some("n×d matrices can only be applied to finite inputs".into()),
            ));
        }
        let input = match &arg.kind {
            ExprKind::Name(n) => {
                let t = self.name_text(n)?;
                self.scope.inputs.get(&t).cloned()
            }
            _ => None,
        };
        let input = input.ok_or_else(|| {
            self.error(
                arg.span,
                format!(
                    "`{text}` is n×{} and needs a finite input here",
                    def.columns.len()
                ),
                Some("declare one with `input xi = [ … ]` and write `W xi`".into()),
            )
        })?;
        if input.values.len() != def.columns.len() {
            return Err(self.error(
                arg.span,
                format!(
                    "this input has {} entries but `{text}` has {} columns",
                    input.values.len(),
                    def.columns.len()
                ),
                Some("make the input dimension match the matrix".into()),
            ));
        }
        let terms = def
            .columns
            .iter()
            .zip(&input.values)
            .filter(|(_, x)| **x != 0.0)
            .map(|(s, x)| (*s, *x))
            .collect();
        let mean = match &def.mean {
            // J ξ = (Σ_k ξ_k) 1; the mean shares the matrix's width factor only if its
            // exponent is the same, which is the only case accepted here.
            Some((m, e)) if *e == def.exp => m / def.coef.max(f64::MIN_POSITIVE) * input.values.iter().sum::<f64>(),
            Some(_) => {
                return Err(self.error(
                    span,
                    "the mean of an n×d matrix must have the same power of n as its entries' standard deviation",
                    None,
                ))
            }
            None => 0.0,
        };
        Ok(Op::Init { terms, mean })
    }

    /// The operand of a matrix product as a value (a temporary when it is an expression).
    fn vector_operand(&mut self, arg: &ast::Expr, target: &str) -> Result<ValueId, Diagnostic> {
        if let ExprKind::Name(n) = &arg.kind {
            let t = self.name_text(n)?;
            if let Some(id) = self.scope.values.get(&t).copied() {
                if self.program.instr(id).kind == Kind::Vector {
                    return Ok(id);
                }
                return Err(self.error(
                    arg.span,
                    format!("`{t}` is a scalar; a matrix multiplies n-vectors"),
                    None,
                ));
            }
            if self.scope.inputs.contains_key(&t) {
                return Err(self.error(
                    arg.span,
                    format!("`{t}` is a finite vector, but an n-vector is needed here"),
                    Some("an n×n matrix multiplies n-vectors; apply an n×d matrix to inputs: `matrix W1 : n x d ~ …`".into()),
                ));
            }
        }
        let (expr, kind) = self.lower(arg, target, None)?;
        if kind != Kind::Vector {
            return Err(self.error(
                arg.span,
                "a matrix multiplies n-vectors, and this is a scalar",
                None,
            ));
        }
        if let Expr::Value(id) = expr {
            return Ok(id);
        }
        let name = self.temp_name(Temp::Other(target), target);
        Ok(self.push_temp(&name, Kind::Vector, Op::Map { expr }))
    }

    fn mean_arg(
        &mut self,
        args: &[ast::Expr],
        span: Span,
        target: &str,
    ) -> Result<Expr, Diagnostic> {
        let [arg] = args else {
            return Err(self.error(
                span,
                "`mean` takes one argument",
                Some("write `mean(x * y)`".into()),
            ));
        };
        let (expr, kind) = self.lower(arg, target, None)?;
        if kind != Kind::Vector {
            return Err(self.error(
                arg.span,
                "`mean` averages the coordinates of an n-vector, and this is a scalar",
                None,
            ));
        }
        Ok(expr)
    }

    fn temp_name(&self, role: Temp<'_>, target: &str) -> String {
        let other = |target: &str| format!("{target}.tmp");
        let base = match role {
            Temp::MatMul(m, t, x) => format!("{m}{}.{x}", if t { "T" } else { "" }),
            Temp::Mean(text) => text,
            Temp::Other(target) => other(target),
        };
        // Names of temporaries nest (`W.W.W.z` for `W W W z`): past a few names' length
        // they say nothing more, so they fall back to the target's name.
        let base = if base.chars().count() > 3 * MAX_NAME_CHARS {
            other(target)
        } else {
            base
        };
        let mut name = base.clone();
        let mut k = 2;
        while self.program.lookup(&name).is_some() {
            name = format!("{base}#{k}");
            k += 1;
        }
        name
    }

    pub(super) fn push_temp(&mut self, name: &str, kind: Kind, op: Op) -> ValueId {
        self.program.push(Instr {
            name: name.to_string(),
            kind,
            scale: Scale::one(),
            op,
            meta: Meta {
                family: None,
                input: None,
                step: None,
                layer: None,
                role: Role::Auxiliary,
            },
        })
    }

    /// Lowers a value expression. `arg` gives the variables inside a formula (`None` for a
    /// program statement, whose names are program values).
    /// Constants are folded while lowering (`exp(1000)`, `0^(-1)`); one that is not a
    /// finite number is refused at the expression that produced it.
    pub(super) fn lower(
        &mut self,
        e: &ast::Expr,
        target: &str,
        arg: Option<FormulaVars<'_>>,
    ) -> Result<(Expr, Kind), Diagnostic> {
        let lowered = self.lower_unchecked(e, target, arg)?;
        if let Expr::Const(c) = lowered.0 {
            if !c.is_finite() {
                return Err(self.not_finite(c, e.span));
            }
        }
        Ok(lowered)
    }

    /// [`Elab::lower`] before the finiteness check of folded constants.
    fn lower_unchecked(
        &mut self,
        e: &ast::Expr,
        target: &str,
        arg: Option<FormulaVars<'_>>,
    ) -> Result<(Expr, Kind), Diagnostic> {
        let kind_of = |a: Kind, b: Kind| {
            if a == Kind::Vector || b == Kind::Vector {
                Kind::Vector
            } else {
                Kind::Scalar
            }
        };
        match &e.kind {
            ExprKind::Number(q) => Ok((Expr::Const(q.to_f64().unwrap_or(f64::NAN)), Kind::Scalar)),
            ExprKind::Name(n) => {
                let t = self.name_text(n)?;
                if let Some(var) = arg.and_then(|v| v.resolve(&t)) {
                    return Ok((var, Kind::Scalar));
                }
                if let Some(id) = self.scope.values.get(&t).copied() {
                    if arg.is_some() {
                        return Err(self.error(
                            e.span,
                            format!("an activation formula cannot read the program value `{t}`"),
                            Some(
                                "a formula may only use its argument, numbers and parameters"
                                    .into(),
                            ),
                        ));
                    }
                    return Ok((Expr::Value(id), self.program.instr(id).kind));
                }
                if self.scope.width.as_deref() == Some(t.as_str()) {
                    return Ok((Expr::Width(Exponent::ratio(1, 1)), Kind::Scalar));
                }
                if self.scope.inputs.contains_key(&t) {
                    return Err(self.error(
                        e.span,
                        format!("`{t}` is a finite input vector, but an n-vector or a number is needed here"),
                        Some(format!("apply an n×d matrix to it (`W1 {t}`) to get an n-vector")),
                    ));
                }
                if self.scope.activations.contains_key(&t) || builtin_body(&t).is_some() {
                    return Err(self.error(
                        e.span,
                        format!("`{t}` is a function; apply it to an argument: `{t}(…)`"),
                        None,
                    ));
                }
                let v = self.static_eval(e)?;
                Ok((self.constant(&v, e.span)?, Kind::Scalar))
            }
            ExprKind::Neg(a) => {
                let (x, k) = self.lower(a, target, arg)?;
                Ok((Expr::neg(x), k))
            }
            ExprKind::Binary(BinOp::Pow, base, p) => {
                let q = self.static_eval(p)?;
                if let ExprKind::Name(n) = &base.kind {
                    if self.scope.width.as_deref() == self.name_text(n).ok().as_deref() {
                        let exp = self.exponent(p)?;
                        return Ok((Expr::Width(exp), Kind::Scalar));
                    }
                }
                let q = q.as_rational().ok_or_else(|| {
                    self.error(
                        p.span,
                        "a power needs an exact exponent such as `2` or `1/2`",
                        None,
                    )
                })?;
                let (x, k) = self.lower(base, target, arg)?;
                Ok((Expr::pow(x, q), k))
            }
            ExprKind::Binary(op, a, b) => {
                let (x, ka) = self.lower(a, target, arg)?;
                let (y, kb) = self.lower(b, target, arg)?;
                if *op == BinOp::Div && y.is_zero() {
                    // Sums fold like terms, so `z - z` is already 0 here: the quotient would
                    // be infinite (or NaN) at every coordinate and its exponent undefined.
                    return Err(self.error(
                        b.span,
                        "division by a divisor that is exactly 0",
                        Some("this divisor simplifies to 0 (like terms cancel); divide by a non-zero quantity".into()),
                    ));
                }
                let out = match op {
                    BinOp::Add => Expr::add(x, y),
                    BinOp::Sub => Expr::sub(x, y),
                    BinOp::Mul => Expr::mul(x, y),
                    BinOp::Div => Expr::div(x, y),
                    BinOp::Pow => Expr::Const(f64::NAN),
                };
                Ok((out, kind_of(ka, kb)))
            }
            ExprKind::Call {
                callee,
                primes,
                args,
            } => self.lower_call(e, callee, *primes, args, target, arg),
            ExprKind::MatMul {
                matrix,
                transpose,
                arg: x,
            } => {
                if arg.is_some() {
                    return Err(self.error(
                        e.span,
                        "an activation formula cannot multiply by a matrix",
                        None,
                    ));
                }
                self.lower_matmul(matrix, *transpose, x, target, e.span)
            }
            ExprKind::List(_) => Err(self.error(
                e.span,
                "a list is not a value here",
                Some(
                    "lists give inputs and per-layer exponents; use an n-vector expression".into(),
                ),
            )),
        }
    }

    fn constant(&self, v: &Val, span: Span) -> Result<Expr, Diagnostic> {
        match v {
            Val::Exact(_) | Val::Real(_) => Ok(Expr::Const(self.finite(v.as_f64(), span)?)),
            Val::Width { coef, exp } => {
                let c = self.constant(coef, span)?;
                Ok(Expr::mul(c, Expr::Width(exp.clone())))
            }
            Val::Affine(_) => Err(self.error(
                span,
                "a symbolic parameter can only appear in an exponent of the width",
                Some("write `n^(a)`, or give the parameter a value with `--set`".into()),
            )),
        }
    }

    fn lower_matmul(
        &mut self,
        matrix: &ast::Name,
        transpose: bool,
        x: &ast::Expr,
        target: &str,
        span: Span,
    ) -> Result<(Expr, Kind), Diagnostic> {
        let text = self.name_text(matrix)?;
        let def = match self.scope.matrices.get(&text) {
            Some(d) => d.clone(),
            None => return Err(self.unknown_matrix(&text, matrix.span)),
        };
        let scale = Expr::mul(Expr::Const(def.coef), Expr::Width(def.exp.clone()));
        if let Dim::Finite(_) = def.cols {
            let op = self.input_layer_op(&text, &def, transpose, x, span)?;
            let name = self.temp_name(Temp::Other(target), target);
            let id = self.push_temp(&name, Kind::Vector, op);
            return Ok((Expr::mul(scale, Expr::Value(id)), Kind::Vector));
        }
        let operand = self.vector_operand(x, target)?;
        let operand_name = self.program.instr(operand).name.clone();
        let name = self.temp_name(Temp::MatMul(&text, transpose, &operand_name), target);
        let id = self.push_temp(
            &name,
            Kind::Vector,
            Op::MatMul {
                matrix: def.matrix.unwrap_or(crate::ir::MatrixId(0)),
                transpose,
                arg: operand,
            },
        );
        let mut out = Expr::mul(scale, Expr::Value(id));
        if let Some((m, e)) = &def.mean {
            // (m n^e J) x = m n^{e+1} mean(x) on every coordinate.
            let mean_name = self.temp_name(Temp::Mean(format!("<{operand_name}>")), target);
            let mid = self.push_temp(
                &mean_name,
                Kind::Scalar,
                Op::Moment {
                    expr: Expr::Value(operand),
                },
            );
            let term = Expr::product(vec![
                Expr::Const(*m),
                Expr::Width(e.plus(&Rational::from_integer(1.into()))),
                Expr::Value(mid),
            ]);
            out = Expr::add(out, term);
        }
        Ok((out, Kind::Vector))
    }

    fn lower_call(
        &mut self,
        e: &ast::Expr,
        callee: &ast::Name,
        primes: usize,
        args: &[ast::Expr],
        target: &str,
        arg: Option<FormulaVars<'_>>,
    ) -> Result<(Expr, Kind), Diagnostic> {
        let text = self.name_text(callee)?;
        if primes > MAX_DERIVATIVE_ORDER {
            return Err(self.error(
                callee.span,
                format!(
                    "a derivative of order {primes}; at most {MAX_DERIVATIVE_ORDER} are supported"
                ),
                Some(format!(
                    "symbolic derivatives grow quickly with the order; write at most \
                     {MAX_DERIVATIVE_ORDER} primes"
                )),
            ));
        }
        if text == "mean" && primes == 0 {
            if arg.is_some() {
                return Err(self.error(e.span, "an activation formula cannot take means", None));
            }
            let inner = self.mean_arg(args, e.span, target)?;
            let name = match &inner {
                Expr::Value(id) => format!("<{}>", self.program.instr(*id).name),
                Expr::Mul(f) if f.len() == 2 => match (&f[0], &f[1]) {
                    (Expr::Value(a), Expr::Value(b)) => format!(
                        "<{},{}>",
                        self.program.instr(*a).name,
                        self.program.instr(*b).name
                    ),
                    _ => format!("{target}.mean"),
                },
                _ => format!("{target}.mean"),
            };
            let name = self.temp_name(Temp::Mean(name), target);
            let id = self.push_temp(&name, Kind::Scalar, Op::Moment { expr: inner });
            return Ok((Expr::Value(id), Kind::Scalar));
        }
        if self.scope.matrices.contains_key(&text)
            && primes == 0
            && args.len() == 1
            && arg.is_none()
        {
            return self.lower_matmul(callee, false, &args[0], target, e.span);
        }
        let [x] = args else {
            return Err(self.error(
                e.span,
                format!("`{text}` takes one argument, found {}", args.len()),
                Some(format!("write `{text}(x)`")),
            ));
        };
        let (inner, kind) = self.lower(x, target, arg)?;
        // Inside a formula, functions and other activations are expanded in place.
        if arg.is_some() {
            let body = if let Some(id) = self.scope.activations.get(&text) {
                self.program.activations[id.0].body().clone()
            } else if let Some(b) = builtin_body(&text) {
                b
            } else {
                return Err(self.unknown_function(&text, callee.span));
            };
            if primes > 0 {
                let mut act = crate::ir::Activation::new(&text, body);
                act.ensure_order(primes)
                    .map_err(|err| self.error(e.span, err.to_string(), None))?;
                return Ok((act.derivatives[primes].substitute_arg(&inner), kind));
            }
            return Ok((body.substitute_arg(&inner), kind));
        }
        if primes == 0 {
            if let Some(f) = Func::from_name(&text) {
                if !self.scope.activations.contains_key(&text) {
                    return Ok((Expr::call(f, inner), kind));
                }
            }
        }
        let act = if let Some(id) = self.scope.activations.get(&text) {
            *id
        } else if let Some(b) = builtin_body(&text) {
            self.intern_activation(&text, b)
        } else {
            return Err(self.unknown_function(&text, callee.span));
        };
        self.require_derivative(act, primes, e.span, "is written here")?;
        Ok((Expr::act(act, primes, inner), kind))
    }

    fn unknown_function(&self, text: &str, span: Span) -> Diagnostic {
        if self.scope.values.contains_key(text) {
            return self.error(
                span,
                format!("`{text}` is a value, not a function"),
                Some("multiply with `*`; apply matrices by juxtaposition: `W x`".into()),
            );
        }
        self.error(
            span,
            format!("unknown function `{text}`"),
            Some("declare it with `activation` or use a built-in (tanh, relu, erf, gelu, sigmoid, softplus, silu, sin, exp, log, sqrt, mean)".into()),
        )
    }

    /// The body of `activation NAME(arg) = formula`.
    pub(super) fn formula(&mut self, body: &ast::Expr, arg: &str) -> Result<Expr, Diagnostic> {
        self.formula_over(body, FormulaVars::Arg(arg))
    }

    /// A formula whose free names are `vars` (an activation's argument, or the variables
    /// of a mean-field formula): activations and functions are expanded in place.
    pub(super) fn formula_over(
        &mut self,
        body: &ast::Expr,
        vars: FormulaVars<'_>,
    ) -> Result<Expr, Diagnostic> {
        let (expr, _) = self.lower(body, "activation", Some(vars))?;
        Ok(expr)
    }
}

/// Cholesky factor L (lower triangular, C = L Lᵀ) of a symmetric positive semi-definite
/// matrix; zero pivots (degenerate directions) give zero columns.
// Index loops mirror the textbook recurrence L_ij = (C_ij − Σ_p L_ip L_jp) / L_jj.
#[allow(clippy::needless_range_loop)]
pub(crate) fn cholesky_psd(c: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let k = c.len();
    let scale = c
        .iter()
        .enumerate()
        .map(|(i, r)| r[i].abs())
        .fold(0.0, f64::max)
        .max(1.0);
    let tol = 1e-12 * scale;
    for i in 0..k {
        for j in 0..k {
            if (c[i][j] - c[j][i]).abs() > tol {
                return None;
            }
        }
    }
    let mut l = vec![vec![0.0; k]; k];
    for j in 0..k {
        let mut d = c[j][j];
        for p in 0..j {
            d -= l[j][p] * l[j][p];
        }
        if d < -tol {
            return None;
        }
        let pivot = if d > tol { d.sqrt() } else { 0.0 };
        l[j][j] = pivot;
        for i in j + 1..k {
            let mut s = c[i][j];
            for p in 0..j {
                s -= l[i][p] * l[j][p];
            }
            if pivot > 0.0 {
                l[i][j] = s / pivot;
            } else if s.abs() > tol.sqrt() {
                return None;
            }
        }
    }
    Some(l)
}
