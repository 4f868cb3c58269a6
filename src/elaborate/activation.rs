//! Built-in activations and user formulas, turned into IR activations.

use super::Elab;
use crate::ir::{ActId, Activation, Expr, Func};
use crate::syntax::ast;
use crate::syntax::Diagnostic;

/// Names of the built-in activations (besides the elementary functions of [`Func`]).
pub const BUILTIN_ACTIVATIONS: [&str; 12] = [
    "identity", "relu", "tanh", "sigmoid", "erf", "gelu", "silu", "softplus", "sin", "cos", "exp",
    "atan",
];

/// The body of a built-in activation in terms of `Expr::Arg`.
pub fn builtin_body(name: &str) -> Option<Expr> {
    let x = Expr::Arg;
    let one_plus_exp = |inner: Expr| Expr::add(Expr::Const(1.0), Expr::call(Func::Exp, inner));
    Some(match name {
        "identity" => x,
        "sigmoid" => Expr::div(Expr::Const(1.0), one_plus_exp(Expr::neg(x))),
        // GeLU: x Φ(x) = x (1 + erf(x/√2)) / 2
        "gelu" => Expr::product(vec![
            Expr::Const(0.5),
            x.clone(),
            Expr::add(
                Expr::Const(1.0),
                Expr::call(
                    Func::Erf,
                    Expr::mul(Expr::Const(std::f64::consts::FRAC_1_SQRT_2), x),
                ),
            ),
        ]),
        // SiLU: x σ(x) = x / (1 + e^{-x})
        "silu" => Expr::div(x.clone(), one_plus_exp(Expr::neg(x))),
        "softplus" => Expr::call(Func::Log, one_plus_exp(x)),
        other => Expr::call(Func::from_name(other)?, x),
    })
}

impl Elab<'_> {
    /// Registers an IR activation with `name` and `body`, reusing an identical one.
    pub(super) fn intern_activation(&mut self, name: &str, body: Expr) -> ActId {
        if let Some(pos) = self
            .program
            .activations
            .iter()
            .position(|a| a.name == name && a.body() == &body)
        {
            return ActId(pos);
        }
        // Two different formulas may not share a printed name.
        let mut unique = name.to_string();
        let mut k = 2;
        while self.program.activations.iter().any(|a| a.name == unique) {
            unique = format!("{name}#{k}");
            k += 1;
        }
        self.program
            .activations
            .push(Activation::new(&unique, body));
        ActId(self.program.activations.len() - 1)
    }

    /// Resolves the right-hand side of `activation NAME = …` without a parameter:
    /// a built-in, `relu^p`, or another declared activation.
    pub(super) fn activation_alias(
        &mut self,
        body: &ast::Expr,
    ) -> Result<(String, Expr), Diagnostic> {
        match &body.kind {
            ast::ExprKind::Name(name) => {
                let text = self.name_text(name)?;
                if let Some(act) = self.scope.activations.get(&text) {
                    let a = &self.program.activations[act.0];
                    return Ok((a.name.clone(), a.body().clone()));
                }
                match builtin_body(&text) {
                    Some(b) => Ok((text, b)),
                    None => Err(self.error(
                        body.span,
                        format!("unknown activation `{text}`"),
                        Some(format!(
                            "use one of {}, relu^p, or write a formula: `activation phi(x) = …`",
                            BUILTIN_ACTIVATIONS.join(", ")
                        )),
                    )),
                }
            }
            ast::ExprKind::Binary(ast::BinOp::Pow, base, p) if is_name(base, "relu") => {
                let p_val = self.static_eval(p)?;
                let q = match p_val.as_rational() {
                    Some(q) if q > num_rational::BigRational::from_integer(0.into()) => q,
                    _ => {
                        return Err(self.error(
                            p.span,
                            "the power of relu^p must be a positive exact number",
                            Some("write e.g. `relu^2` or `relu^(3/2)`".into()),
                        ))
                    }
                };
                let name = if q.is_integer() {
                    format!("relu{}", q.numer())
                } else {
                    format!("relu^({}/{})", q.numer(), q.denom())
                };
                Ok((name, Expr::pow(Expr::call(Func::Relu, Expr::Arg), q)))
            }
            _ => Err(self.error(
                body.span,
                "expected an activation name",
                Some(
                    "write `activation act = tanh`, `activation act = relu^2`, or a formula \
                     with an argument: `activation phi(x) = x + x^2/2`"
                        .into(),
                ),
            )),
        }
    }

    /// Makes φ^{(order)} of `act` available, or explains why it does not exist.
    pub(super) fn require_derivative(
        &mut self,
        act: ActId,
        order: usize,
        span: ast::Span,
        why: &str,
    ) -> Result<(), Diagnostic> {
        let activation = &mut self.program.activations[act.0];
        let name = activation.name.clone();
        activation.ensure_order(order).map_err(|e| {
            let (has, hint) = match e {
                crate::ir::DerivativeError::NotDifferentiable(_) => ("has no", "use a differentiable activation (e.g. tanh, gelu, softplus) or a smooth formula"),
                crate::ir::DerivativeError::TooLarge { .. } => ("has no usable", "use a lower derivative order, or a simpler formula (fewer products and quotients)"),
            };
            self.error(
                span,
                format!("activation `{name}` {has} derivative of order {order}, which {why}: {e}"),
                Some(hint.into()),
            )
        })
    }
}

fn is_name(e: &ast::Expr, want: &str) -> bool {
    matches!(&e.kind, ast::ExprKind::Name(n) if n.plain() == Some(want))
}
