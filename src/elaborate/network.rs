//! Network sugar: an MLP trained by SGD, unrolled into Tensor Program instructions.
//!
//! The network is a small graph of nodes (input, linear layers, activations). Each
//! step runs the graph forward, then backward by reverse-mode differentiation of that
//! graph, and records every parameter's gradient as an outer product. Weights are
//! never formed: `W_t x = W_0 x + Σ_s (update coefficient) · u_s (v_sᵀ x)`, so the
//! only matrix operations in the output are products with the initial matrices.

use super::parameterization::{LayerScales, Resolved};
use super::Elab;
use crate::bounds::{MAX_DEPTH, MAX_STEPS};
use crate::exponent::Exponent;
use crate::ir::{Expr, Instr, Kind, MatrixId, Meta, Op, Role, Scale, SourceId, ValueId, Var};
use crate::syntax::ast::{self, ExprKind, ItemKind, NamedArg, Span};
use crate::syntax::Diagnostic;

/// Which layers carry a bias.
#[derive(Clone, Copy, Debug, PartialEq)]
enum BiasMode {
    None,
    First,
    Hidden,
    All,
}

/// A node of the network graph.
#[derive(Clone, Debug)]
enum Node {
    /// The step's input ξ_t.
    Input,
    /// `W_l · arg (+ b_l)` for layer `l` (1-based).
    Linear { layer: usize, arg: usize },
    /// `φ(arg)` coordinatewise.
    Act { arg: usize },
}

/// What a node evaluates to at one step.
#[derive(Clone, Debug)]
enum NodeVal {
    /// A finite input vector, with the input's name.
    Finite(String, Vec<f64>),
    /// A program value.
    Value(ValueId),
}

/// One side of a rank-one update `u vᵀ`.
#[derive(Clone, Debug)]
enum Side {
    /// An n-vector.
    Vector(ValueId),
    /// A finite input vector.
    Finite(Vec<f64>),
    /// A scalar (the adjoint of a scalar output).
    Scalar(Expr),
}

/// How a layer's initial weight is represented.
#[derive(Clone, Debug)]
enum WeightInit {
    /// n×n: a normalized initial matrix Ŵ.
    Square(MatrixId),
    /// n×d: one N(0, 1) vector source per input column.
    Columns(Vec<SourceId>),
    /// 1×n readout: an n-vector value `std · U + mean`.
    Readout(ValueId),
}

/// A weight during training: its initialization and the rank-one updates so far.
#[derive(Clone, Debug)]
struct Weight {
    layer: usize,
    init: WeightInit,
    scales: LayerScales,
    /// (step s, output side u_s, input side v_s): ΔW(s+1) = -η n^{-E(s)} χ_s u_s v_sᵀ.
    updates: Vec<(usize, Side, Side)>,
}

/// A bias during training.
#[derive(Clone, Debug)]
struct Bias {
    init: ValueId,
    scales: LayerScales,
    /// (step s, output side): ΔB(s+1) = -η n^{-E(s)} χ_s u_s.
    updates: Vec<(usize, Side)>,
}

/// A sum of terms `coefficient · piece` being assembled for one value.
#[derive(Default)]
struct Terms {
    items: Vec<(Expr, Piece)>,
}

/// What a coefficient multiplies.
#[derive(Clone, Debug, PartialEq)]
enum Piece {
    /// An existing value.
    Value(ValueId),
    /// An operation not yet emitted, with the name its temporary would get.
    Op(Op, Kind, String),
    /// Nothing: the term is the scalar coefficient itself.
    One,
}

impl Terms {
    fn push(&mut self, coef: Expr, piece: Piece) {
        if coef.is_zero() {
            return;
        }
        if let Piece::Value(_) | Piece::One = piece {
            if let Some(slot) = self.items.iter_mut().find(|(_, p)| *p == piece) {
                slot.0 = Expr::add(slot.0.clone(), coef);
                return;
            }
        }
        self.items.push((coef, piece));
    }
}

/// A declared input used by the network: its name, values and optional target.
#[derive(Clone, Debug)]
struct DataInput {
    name: String,
    values: Vec<f64>,
    target: Option<f64>,
}

/// Options of `train sgd(…)`.
struct Training {
    steps: usize,
    lr: f64,
    /// The training inputs, cycled one per step (`data[t % len]` is trained on at step t).
    data: Vec<DataInput>,
    /// Inputs the network is evaluated on at every step but never trained on.
    probe: Vec<DataInput>,
}

impl Training {
    /// Every input the forward pass is evaluated on at each step: the distinct training
    /// inputs in order of first appearance, then the probes. Changes since step 0 are
    /// taken per input (Yang–Hu's Δx_t(ξ) follows one fixed ξ), so each of them needs
    /// its own forward pass at every step, not only at the steps it is trained on.
    fn evaluated(&self) -> Vec<DataInput> {
        let mut out: Vec<DataInput> = Vec::new();
        for input in self.data.iter().chain(&self.probe) {
            if out.iter().all(|o| o.name != input.name) {
                out.push(input.clone());
            }
        }
        out
    }
}

/// A coefficient that is only a constant times a power of n, as a [`Scale`].
fn as_scale(e: &Expr) -> Option<Scale> {
    match e {
        Expr::Const(c) => Some(Scale {
            coef: *c,
            exponent: Exponent::zero(),
        }),
        Expr::Width(w) => Some(Scale::width(w.clone())),
        Expr::Mul(items) => {
            let mut s = Scale::one();
            for item in items {
                let f = as_scale(item)?;
                s.coef *= f.coef;
                s.exponent = s.exponent.add(&f.exponent);
            }
            Some(s)
        }
        _ => None,
    }
}

fn width(e: Exponent) -> Expr {
    Expr::Width(e)
}

fn one_minus(e: &Exponent) -> Exponent {
    Exponent::ratio(1, 1).sub(e)
}

/// `h2` → `h2[xb]`: a name or family on the input `tag` (unchanged without a tag).
fn tagged(base: &str, tag: Option<&str>) -> String {
    match tag {
        Some(input) => format!("{base}[{input}]"),
        None => base.to_string(),
    }
}

/// The name of the quantity `base` at step `t` on the input `tag`: `h2_1`, `h2_1[xb]`.
fn step_name(base: &str, t: usize, tag: Option<&str>) -> String {
    tagged(&format!("{base}_{t}"), tag)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Elab<'_> {
    pub(super) fn named_arg<'n>(&self, args: &'n [NamedArg], key: &str) -> Option<&'n NamedArg> {
        args.iter().find(|a| a.name == key)
    }

    fn reject_unknown(
        &self,
        args: &[NamedArg],
        allowed: &[&str],
        what: &str,
    ) -> Result<(), Diagnostic> {
        for a in args {
            if !allowed.contains(&a.name.as_str()) {
                return Err(self.error(
                    a.name_span,
                    format!("`{what}` has no option `{}`", a.name),
                    Some(format!("options: {}", allowed.join(", "))),
                ));
            }
            if args.iter().filter(|b| b.name == a.name).count() > 1 {
                return Err(self.error(
                    a.name_span,
                    format!("option `{}` is given twice", a.name),
                    None,
                ));
            }
        }
        Ok(())
    }

    pub(super) fn keyword(&self, e: &ast::Expr) -> Option<String> {
        match &e.kind {
            ExprKind::Name(n) => n.plain().map(str::to_string),
            _ => None,
        }
    }

    /// Expands `mlp` with its `parameterization` and `train` statements.
    pub(super) fn network(&mut self, mlp: &ast::Item, file: &ast::File) -> Result<(), Diagnostic> {
        let ItemKind::Mlp {
            name: net_name,
            args,
        } = &mlp.kind
        else {
            return Ok(());
        };
        let mlps: Vec<_> = file
            .items
            .iter()
            .filter(|i| matches!(i.kind, ItemKind::Mlp { .. }))
            .collect();
        if mlps.len() > 1 {
            return Err(self.error(
                mlps[1].span,
                "only one `mlp` per program is supported",
                None,
            ));
        }
        self.reject_unknown(args, &["depth", "act", "bias"], "mlp")?;
        let depth_arg = self.named_arg(args, "depth").ok_or_else(|| {
            self.error(
                mlp.span,
                format!("`mlp {net_name}` needs a depth"),
                Some("write `mlp net(depth = L, act = act)`".into()),
            )
        })?;
        let depth =
            self.integer(&depth_arg.value, "the depth (number of hidden layers)", 1)? as usize;
        if depth > MAX_DEPTH {
            return Err(self.error(
                depth_arg.value.span,
                format!("a depth of {depth} hidden layers; at most {MAX_DEPTH} are supported"),
                Some("check the value of the depth (and any `--set` that gives it)".into()),
            ));
        }
        let act_arg = self.named_arg(args, "act").ok_or_else(|| {
            self.error(
                mlp.span,
                "the network needs an activation",
                Some("add `act = tanh` (or relu, gelu, …)".into()),
            )
        })?;
        let (act_name, act_body) = self.activation_alias(&act_arg.value)?;
        let act = self.intern_activation(&act_name, act_body);
        let bias = match self.named_arg(args, "bias") {
            None => BiasMode::None,
            Some(a) => match self.keyword(&a.value).as_deref() {
                Some("none") => BiasMode::None,
                Some("first") => BiasMode::First,
                Some("hidden") => BiasMode::Hidden,
                Some("all") => BiasMode::All,
                _ => {
                    return Err(self.error(
                        a.value.span,
                        "unknown bias option",
                        Some("write `bias = none`, `first`, `hidden` or `all`".into()),
                    ))
                }
            },
        };
        let training = self.training(file, mlp.span)?;
        if training.steps > 0 {
            self.require_derivative(act, 1, act_arg.value.span, "backpropagation needs")?;
        }
        let resolved = self.parameterization_of(file, mlp.span, depth, training.steps)?;
        let d = training.data[0].values.len();
        self.unroll(depth, d, act, bias, &resolved, &training)
    }

    fn training(&self, file: &ast::File, mlp_span: Span) -> Result<Training, Diagnostic> {
        let trains: Vec<_> = file
            .items
            .iter()
            .filter_map(|i| match &i.kind {
                ItemKind::Train {
                    optimizer,
                    optimizer_span,
                    args,
                } => Some((i.span, optimizer, *optimizer_span, args)),
                _ => None,
            })
            .collect();
        let Some((span, optimizer, opt_span, args)) = trains.first().cloned() else {
            return Err(self.error(
                mlp_span,
                "the network has no `train` statement",
                Some("add `train sgd(steps = 3, lr = eta, loss = mse, data = [xi0])` (steps = 0 for the forward pass only)".into()),
            ));
        };
        if trains.len() > 1 {
            return Err(self.error(trains[1].0, "only one `train` statement is allowed", None));
        }
        if optimizer != "sgd" {
            return Err(self.error(
                opt_span,
                format!("unknown optimizer `{optimizer}`"),
                Some("only `sgd` is supported".into()),
            ));
        }
        self.reject_unknown(args, &["steps", "lr", "loss", "data", "probe"], "train sgd")?;
        let steps = match self.named_arg(args, "steps") {
            Some(a) => self.integer(&a.value, "the number of steps", 0)? as usize,
            None => {
                return Err(self.error(
                    span,
                    "`train` needs `steps = …`",
                    Some("e.g. `steps = 3`".into()),
                ))
            }
        };
        if steps > MAX_STEPS {
            return Err(self.error(
                span,
                format!("{steps} unrolled steps; at most {MAX_STEPS} are supported"),
                Some("check the value of `steps` (and any `--set` that gives it)".into()),
            ));
        }
        let lr = match self.named_arg(args, "lr") {
            Some(a) => self.number(&a.value)?,
            None if steps == 0 => 0.0,
            None => {
                return Err(self.error(span, "`train` needs a base learning rate `lr = …`", None))
            }
        };
        if let Some(a) = self.named_arg(args, "loss") {
            if self.keyword(&a.value).as_deref() != Some("mse") {
                return Err(self.error(
                    a.value.span,
                    "unknown loss",
                    Some("only `loss = mse` (ℓ = (f - y)²/2) is supported".into()),
                ));
            }
        }
        let data_arg = self
            .named_arg(args, "data")
            .ok_or_else(|| self.error(span, "`train` needs the inputs: `data = [xi0]`", None))?;
        let data = self.input_list(&data_arg.value, "data", steps > 0, None)?;
        let probe = match self.named_arg(args, "probe") {
            Some(a) => self.input_list(&a.value, "probe", false, Some(&data))?,
            None => Vec::new(),
        };
        Ok(Training {
            steps,
            lr,
            data,
            probe,
        })
    }

    /// The inputs named in `data = [...]` (`need_target`: the loss reads their targets)
    /// or `probe = [...]` (`trained`: the training inputs, which a probe may not repeat,
    /// and whose dimension it must have).
    fn input_list(
        &self,
        list: &ast::Expr,
        option: &str,
        need_target: bool,
        trained: Option<&[DataInput]>,
    ) -> Result<Vec<DataInput>, Diagnostic> {
        let ExprKind::List(items) = &list.kind else {
            return Err(self.error(
                list.span,
                format!("`{option}` is a list of inputs"),
                Some(format!("write `{option} = [xi0, xi1]`")),
            ));
        };
        let mut out: Vec<DataInput> = Vec::new();
        for item in items {
            let found = self
                .keyword(&item.value)
                .and_then(|n| self.scope.inputs.get(&n).map(|i| (n, i.clone())));
            let Some((name, input)) = found else {
                return Err(self.error(
                    item.value.span,
                    "expected the name of an input",
                    Some("declare it with `input xi0 = [ … ] target 1.0`".into()),
                ));
            };
            if need_target && input.target.is_none() {
                return Err(self.error(
                    item.value.span,
                    format!("input `{name}` has no target, which the loss needs"),
                    Some(format!("write `input {name} = [ … ] target 1.0`")),
                ));
            }
            if let Some(trained) = trained {
                if trained.iter().any(|d| d.name == name) {
                    return Err(self.error(
                        item.value.span,
                        format!("`{name}` is trained on, so it cannot be a probe"),
                        Some("a probe is evaluated at every step but never trained on; every input in `data` is already evaluated at every step".into()),
                    ));
                }
                if out.iter().any(|d| d.name == name) {
                    return Err(self.error(
                        item.value.span,
                        format!("probe `{name}` is listed twice"),
                        None,
                    ));
                }
            }
            let first = trained.and_then(|t| t.first()).or(out.first());
            if first.is_some_and(|f| f.values.len() != input.values.len()) {
                return Err(self.error(
                    item.value.span,
                    "all inputs must have the same dimension",
                    None,
                ));
            }
            out.push(DataInput {
                name,
                values: input.values,
                target: input.target,
            });
        }
        if out.is_empty() {
            return Err(self.error(
                list.span,
                format!("`{option}` is empty"),
                Some(if trained.is_some() {
                    "list at least one input, or leave `probe` out".into()
                } else {
                    "list at least one input".into()
                }),
            ));
        }
        Ok(out)
    }

    fn parameterization_of(
        &self,
        file: &ast::File,
        mlp_span: Span,
        depth: usize,
        steps: usize,
    ) -> Result<Resolved, Diagnostic> {
        let found: Vec<_> = file
            .items
            .iter()
            .filter_map(|i| match &i.kind {
                ItemKind::Parameterization {
                    name,
                    name_span,
                    args,
                    entries,
                } => Some((i.span, name, *name_span, args, entries)),
                _ => None,
            })
            .collect();
        let Some((_, name, name_span, args, entries)) = found.first().cloned() else {
            return Err(self.error(
                mlp_span,
                "the network has no parameterization",
                Some("add e.g. `parameterization mup`, or `parameterization abc { a = …  b = …  c = … }`".into()),
            ));
        };
        if found.len() > 1 {
            return Err(self.error(found[1].0, "only one `parameterization` is allowed", None));
        }
        self.check_form_complete(name, name_span, entries)?;
        self.resolve_parameterization(name, name_span, args, entries, depth, steps)
    }

    /// Labels of the quantity `base` (`h2`, `dx1`, `chi`) at `step` on the input `tag`
    /// (None when the network sees one input only, whose names carry no tag).
    fn meta(
        &self,
        base: &str,
        tag: Option<&str>,
        step: usize,
        layer: Option<usize>,
        role: Role,
    ) -> Meta {
        Meta {
            family: Some(tagged(base, tag)),
            input: tag.map(str::to_string),
            step: Some(step),
            layer,
            role,
        }
    }

    fn aux(&mut self, name: &str, kind: Kind, op: Op) -> ValueId {
        self.push_temp(name, kind, op)
    }

    /// Emits `name = Σ terms` (a single operation keeps its own instruction).
    fn emit(&mut self, name: &str, kind: Kind, terms: Terms, meta: Meta) -> ValueId {
        let items = terms.items;
        if let [(coef, Piece::Op(op, piece_kind, _))] = items.as_slice() {
            if let (Some(scale), true) = (as_scale(coef), *piece_kind == kind) {
                let op = op.clone();
                return self.program.push(Instr {
                    name: name.to_string(),
                    kind,
                    scale,
                    op,
                    meta,
                });
            }
        }
        let mut parts = Vec::with_capacity(items.len());
        for (coef, piece) in items {
            let factor = match piece {
                Piece::Value(id) => Expr::Value(id),
                Piece::One => Expr::Const(1.0),
                Piece::Op(op, k, temp) => {
                    let temp = self.fresh(&temp);
                    Expr::Value(self.aux(&temp, k, op))
                }
            };
            parts.push(Expr::mul(coef, factor));
        }
        let expr = Expr::sum(parts);
        let op = match kind {
            Kind::Vector => Op::Map { expr },
            Kind::Scalar => Op::Scalar { expr },
        };
        self.program.push(Instr {
            name: name.to_string(),
            kind,
            scale: Scale::one(),
            op,
            meta,
        })
    }

    fn fresh(&self, base: &str) -> String {
        let mut name = base.to_string();
        let mut k = 2;
        while self.program.lookup(&name).is_some() {
            name = format!("{base}#{k}");
            k += 1;
        }
        name
    }

    fn name_of(&self, id: ValueId) -> String {
        self.program.instr(id).name.clone()
    }

    /// The inner product `(1/n) aᵀ b` as a (cached) moment.
    fn inner(&mut self, a: ValueId, b: ValueId) -> ValueId {
        let name = format!("<{},{}>", self.name_of(a), self.name_of(b));
        if let Some(id) = self.program.lookup(&name) {
            return id;
        }
        self.aux(
            &name,
            Kind::Scalar,
            Op::Moment {
                expr: Expr::mul(Expr::Value(a), Expr::Value(b)),
            },
        )
    }

    /// `-η n^{shift - E(s)} χ_s`: the coefficient of the update made at step s.
    fn update_coef(
        &self,
        lr: f64,
        scales: &LayerScales,
        s: usize,
        shift: i64,
        chi: &[ValueId],
    ) -> Expr {
        Expr::product(vec![
            Expr::Const(-lr),
            width(Exponent::ratio(shift, 1).sub(&scales.lr[s])),
            Expr::Value(chi[s]),
        ])
    }

    /// Terms of `W_t · x` for the current state of `w`.
    fn apply_weight(
        &mut self,
        w: &Weight,
        x: &NodeVal,
        lr: f64,
        chi: &[ValueId],
        terms: &mut Terms,
    ) {
        let sc = &w.scales;
        match (&w.init, x) {
            (WeightInit::Square(m), NodeVal::Value(x)) => {
                let xn = self.name_of(*x);
                let mname = self.program.matrices[m.0].name.clone();
                let op = Op::MatMul {
                    matrix: *m,
                    transpose: false,
                    arg: *x,
                };
                let exp = Exponent::ratio(1, 2).sub(&sc.init);
                terms.push(
                    Expr::mul(Expr::Const(sc.std), width(exp)),
                    Piece::Op(op, Kind::Vector, format!("{mname}.{xn}")),
                );
                if sc.mean != 0.0 {
                    // (u J) x = u n mean(x) on every coordinate.
                    let mean = self.mean_of(*x);
                    terms.push(
                        Expr::mul(Expr::Const(sc.mean), width(one_minus(&sc.init))),
                        Piece::Value(mean),
                    );
                }
                for (s, u, v) in &w.updates {
                    if let (Side::Vector(u), Side::Vector(v)) = (u, v) {
                        let ip = self.inner(*v, *x);
                        let coef = Expr::mul(self.update_coef(lr, sc, *s, 1, chi), Expr::Value(ip));
                        terms.push(coef, Piece::Value(*u));
                    }
                }
            }
            (WeightInit::Columns(cols), NodeVal::Finite(input, xi)) => {
                let init = self.input_projection(w.layer, cols, input, xi, sc);
                terms.push(width(sc.init.neg()), Piece::Value(init));
                for (s, u, v) in &w.updates {
                    if let (Side::Vector(u), Side::Finite(xs)) = (u, v) {
                        let ip = dot(xs, xi);
                        if ip != 0.0 {
                            let coef =
                                Expr::mul(self.update_coef(lr, sc, *s, 0, chi), Expr::Const(ip));
                            terms.push(coef, Piece::Value(*u));
                        }
                    }
                }
            }
            (WeightInit::Readout(u0), NodeVal::Value(x)) => {
                let name = format!("<{},{}>", self.name_of(*u0), self.name_of(*x));
                let op = Op::Moment {
                    expr: Expr::mul(Expr::Value(*u0), Expr::Value(*x)),
                };
                terms.push(
                    width(one_minus(&sc.init)),
                    Piece::Op(op, Kind::Scalar, name),
                );
                for (s, g, v) in &w.updates {
                    if let (Side::Scalar(g), Side::Vector(v)) = (g, v) {
                        let ip = self.inner(*v, *x);
                        let coef = Expr::product(vec![
                            self.update_coef(lr, sc, *s, 1, chi),
                            g.clone(),
                            Expr::Value(ip),
                        ]);
                        terms.push(coef, Piece::One);
                    }
                }
            }
            _ => {}
        }
    }

    /// Terms of `W_tᵀ · g` (the contribution of a linear layer to its input's adjoint).
    fn apply_weight_transpose(
        &mut self,
        w: &Weight,
        g: &Side,
        lr: f64,
        chi: &[ValueId],
        terms: &mut Terms,
    ) {
        let sc = &w.scales;
        match (&w.init, g) {
            (WeightInit::Square(m), Side::Vector(g)) => {
                let gn = self.name_of(*g);
                let mname = self.program.matrices[m.0].name.clone();
                let op = Op::MatMul {
                    matrix: *m,
                    transpose: true,
                    arg: *g,
                };
                let exp = Exponent::ratio(1, 2).sub(&sc.init);
                terms.push(
                    Expr::mul(Expr::Const(sc.std), width(exp)),
                    Piece::Op(op, Kind::Vector, format!("{mname}T.{gn}")),
                );
                if sc.mean != 0.0 {
                    let mean = self.mean_of(*g);
                    terms.push(
                        Expr::mul(Expr::Const(sc.mean), width(one_minus(&sc.init))),
                        Piece::Value(mean),
                    );
                }
                for (s, u, v) in &w.updates {
                    if let (Side::Vector(u), Side::Vector(v)) = (u, v) {
                        let ip = self.inner(*u, *g);
                        let coef = Expr::mul(self.update_coef(lr, sc, *s, 1, chi), Expr::Value(ip));
                        terms.push(coef, Piece::Value(*v));
                    }
                }
            }
            (WeightInit::Readout(u0), Side::Scalar(g)) => {
                terms.push(
                    Expr::mul(width(sc.init.neg()), g.clone()),
                    Piece::Value(*u0),
                );
                for (s, gs, v) in &w.updates {
                    if let (Side::Scalar(gs), Side::Vector(v)) = (gs, v) {
                        let coef = Expr::product(vec![
                            self.update_coef(lr, sc, *s, 0, chi),
                            gs.clone(),
                            g.clone(),
                        ]);
                        terms.push(coef, Piece::Value(*v));
                    }
                }
            }
            _ => {}
        }
    }

    /// Terms of the bias `b_t`.
    fn apply_bias(&mut self, b: &Bias, lr: f64, chi: &[ValueId], terms: &mut Terms) {
        let sc = &b.scales;
        terms.push(width(sc.init.neg()), Piece::Value(b.init));
        for (s, u) in &b.updates {
            let coef = self.update_coef(lr, sc, *s, 0, chi);
            match u {
                Side::Vector(u) => terms.push(coef, Piece::Value(*u)),
                Side::Scalar(g) => terms.push(Expr::mul(coef, g.clone()), Piece::One),
                Side::Finite(_) => {}
            }
        }
    }

    fn mean_of(&mut self, x: ValueId) -> ValueId {
        let name = format!("<{}>", self.name_of(x));
        if let Some(id) = self.program.lookup(&name) {
            return id;
        }
        self.aux(
            &name,
            Kind::Scalar,
            Op::Moment {
                expr: Expr::Value(x),
            },
        )
    }

    /// `std · U¹ ξ + mean · (Σ ξ)`: the first layer's initial weight applied to an input.
    fn input_projection(
        &mut self,
        layer: usize,
        cols: &[SourceId],
        input: &str,
        xi: &[f64],
        sc: &LayerScales,
    ) -> ValueId {
        let name = format!("U{layer}.{input}");
        if let Some(id) = self.program.lookup(&name) {
            return id;
        }
        let terms = cols
            .iter()
            .zip(xi)
            .filter(|(_, x)| **x != 0.0)
            .map(|(s, x)| (*s, sc.std * x))
            .collect();
        let mean = sc.mean * xi.iter().sum::<f64>();
        self.aux(&name, Kind::Vector, Op::Init { terms, mean })
    }

    fn unroll(
        &mut self,
        depth: usize,
        d: usize,
        act: crate::ir::ActId,
        bias: BiasMode,
        resolved: &Resolved,
        training: &Training,
    ) -> Result<(), Diagnostic> {
        let layers = depth + 1;
        // The graph: input, then (linear, activation) per hidden layer, then the readout.
        let mut nodes = vec![Node::Input];
        let mut names = vec![String::new()];
        for l in 1..=depth {
            nodes.push(Node::Linear {
                layer: l,
                arg: nodes.len() - 1,
            });
            names.push(format!("h{l}"));
            nodes.push(Node::Act {
                arg: nodes.len() - 1,
            });
            names.push(format!("x{l}"));
        }
        nodes.push(Node::Linear {
            layer: layers,
            arg: nodes.len() - 1,
        });
        names.push("f".to_string());
        let layer_of = |node: &Node, idx: usize| -> Option<usize> {
            match node {
                Node::Linear { layer, .. } => Some(*layer),
                Node::Act { .. } => Some((idx) / 2),
                Node::Input => None,
            }
        };

        let mut weights: Vec<Weight> = (1..=layers)
            .map(|l| {
                let scales = resolved.weights[l - 1].clone();
                let init = if l == 1 {
                    let cols = (1..=d)
                        .map(|k| self.program.add_source(&format!("U1[{k}]"), Kind::Vector))
                        .collect();
                    WeightInit::Columns(cols)
                } else if l == layers {
                    let src = self.program.add_source(&format!("U{l}"), Kind::Vector);
                    let op = Op::Init {
                        terms: vec![(src, scales.std)],
                        mean: scales.mean,
                    };
                    WeightInit::Readout(self.aux(&format!("U{l}"), Kind::Vector, op))
                } else {
                    WeightInit::Square(self.program.add_matrix(&format!("W{l}")))
                };
                Weight {
                    layer: l,
                    init,
                    scales,
                    updates: Vec::new(),
                }
            })
            .collect();
        let has_bias = |l: usize| match bias {
            BiasMode::None => false,
            BiasMode::First => l == 1,
            BiasMode::Hidden => l < layers,
            BiasMode::All => true,
        };
        let mut biases: Vec<Option<Bias>> = (1..=layers)
            .map(|l| {
                if !has_bias(l) {
                    return None;
                }
                let scales = resolved.biases[l - 1].clone();
                let kind = if l == layers {
                    Kind::Scalar
                } else {
                    Kind::Vector
                };
                let src = self.program.add_source(&format!("v{l}"), kind);
                let op = Op::Init {
                    terms: vec![(src, scales.std)],
                    mean: scales.mean,
                };
                let init = self.aux(&format!("v{l}"), kind, op);
                Some(Bias {
                    init,
                    scales,
                    updates: Vec::new(),
                })
            })
            .collect();

        let lr = training.lr;
        let mut chi: Vec<ValueId> = Vec::new();
        let evaluated = training.evaluated();
        // With several inputs every per-input quantity is tagged with its input, so that
        // its family (and hence every change since step 0) follows one fixed input.
        let tag_inputs = evaluated.len() > 1;
        for t in 0..=training.steps {
            self.within_budget()?;
            let trained = &training.data[t % training.data.len()];
            // Forward pass of the current network on every input; only the trained
            // input's values feed the backward pass and the update.
            let mut trained_fwd = None;
            for input in &evaluated {
                let tag = tag_inputs.then_some(input.name.as_str());
                let mut fwd: Vec<NodeVal> = Vec::with_capacity(nodes.len());
                for (idx, node) in nodes.iter().enumerate() {
                    let name = step_name(&names[idx], t, tag);
                    let val = match node {
                        Node::Input => NodeVal::Finite(input.name.clone(), input.values.clone()),
                        Node::Linear { layer, arg } => {
                            let mut terms = Terms::default();
                            let w = weights[layer - 1].clone();
                            self.apply_weight(&w, &fwd[*arg], lr, &chi, &mut terms);
                            if let Some(b) = biases[layer - 1].clone() {
                                self.apply_bias(&b, lr, &chi, &mut terms);
                            }
                            let kind = if *layer == layers {
                                Kind::Scalar
                            } else {
                                Kind::Vector
                            };
                            let meta = self.meta(&names[idx], tag, t, Some(*layer), Role::Forward);
                            NodeVal::Value(self.emit(&name, kind, terms, meta))
                        }
                        Node::Act { arg } => {
                            let NodeVal::Value(h) = fwd[*arg] else {
                                continue;
                            };
                            let meta =
                                self.meta(&names[idx], tag, t, layer_of(node, idx), Role::Forward);
                            let expr = Expr::act(act, 0, Expr::Value(h));
                            NodeVal::Value(self.program.push(Instr {
                                name,
                                kind: Kind::Vector,
                                scale: Scale::one(),
                                op: Op::Map { expr },
                                meta,
                            }))
                        }
                    };
                    fwd.push(val);
                }
                if input.name == trained.name {
                    trained_fwd = Some(fwd);
                }
            }
            if t == training.steps {
                break;
            }
            // The trained input is always among the evaluated ones.
            let Some(fwd) = trained_fwd else {
                break;
            };
            let tag = tag_inputs.then_some(trained.name.as_str());
            // Loss derivative of ℓ = (f - y)²/2.
            let NodeVal::Value(f) = fwd[nodes.len() - 1] else {
                break;
            };
            let y = trained.target.unwrap_or(0.0);
            let chi_t = self.program.push(Instr {
                name: step_name("chi", t, tag),
                kind: Kind::Scalar,
                scale: Scale::one(),
                op: Op::Scalar {
                    expr: Expr::sub(Expr::Value(f), Expr::Const(y)),
                },
                meta: self.meta("chi", tag, t, None, Role::Loss),
            });
            chi.push(chi_t);
            // Backward pass: adjoints ∂f/∂(node), in reverse order.
            let mut adj: Vec<Terms> = (0..nodes.len()).map(|_| Terms::default()).collect();
            adj[nodes.len() - 1].push(Expr::Const(1.0), Piece::One);
            let mut grads: Vec<(usize, Side, Side)> = Vec::new();
            let mut bias_grads: Vec<(usize, Side)> = Vec::new();
            for idx in (1..nodes.len()).rev() {
                let terms = std::mem::take(&mut adj[idx]);
                if terms.items.is_empty() {
                    continue;
                }
                let node = nodes[idx].clone();
                let out = if idx == nodes.len() - 1 {
                    // The output's adjoint is the constant 1; it is not a program value.
                    let coef = terms
                        .items
                        .iter()
                        .map(|(c, _)| c.clone())
                        .fold(Expr::Const(0.0), Expr::add);
                    Side::Scalar(coef)
                } else {
                    let base = format!("d{}", names[idx]);
                    let meta = self.meta(&base, tag, t, layer_of(&node, idx), Role::Backward);
                    let kind = Kind::Vector;
                    Side::Vector(self.emit(&step_name(&base, t, tag), kind, terms, meta))
                };
                match node {
                    Node::Linear { layer, arg } => {
                        let input_side = match &fwd[arg] {
                            NodeVal::Finite(_, x) => Side::Finite(x.clone()),
                            NodeVal::Value(v) => Side::Vector(*v),
                        };
                        grads.push((layer, out.clone(), input_side));
                        if biases[layer - 1].is_some() {
                            bias_grads.push((layer, out.clone()));
                        }
                        if !matches!(nodes[arg], Node::Input) {
                            let w = weights[layer - 1].clone();
                            let mut contrib = Terms::default();
                            self.apply_weight_transpose(&w, &out, lr, &chi, &mut contrib);
                            for (c, p) in contrib.items {
                                adj[arg].push(c, p);
                            }
                        }
                    }
                    Node::Act { arg } => {
                        let (NodeVal::Value(h), Side::Vector(g)) = (&fwd[arg], &out) else {
                            continue;
                        };
                        // Differentiate the coordinatewise map x = φ(h) with respect to h.
                        let expr = Expr::act(act, 0, Expr::Value(*h));
                        let local = expr.diff(Var::Value(*h)).unwrap_or(Expr::Const(f64::NAN));
                        adj[arg].push(local, Piece::Value(*g));
                    }
                    Node::Input => {}
                }
            }
            for (layer, u, v) in grads {
                weights[layer - 1].updates.push((t, u, v));
            }
            for (layer, u) in bias_grads {
                if let Some(b) = biases[layer - 1].as_mut() {
                    b.updates.push((t, u));
                }
            }
        }
        // Make the network's values visible to raw statements that follow `mlp`.
        let visible: Vec<(String, ValueId)> = self
            .program
            .ids()
            .filter(|id| self.program.instr(*id).meta.family.is_some())
            .map(|id| (self.program.instr(id).name.clone(), id))
            .collect();
        for (name, id) in visible {
            self.scope.values.insert(name, id);
        }
        Ok(())
    }
}
