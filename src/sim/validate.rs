//! Static checks that a program can be executed at finite width.
//!
//! Everything a malformed or still-symbolic program could get wrong is rejected here,
//! before any sampling, so that execution itself has no failure paths left for valid
//! programs and never has to guess (or panic) on invalid ones.

use super::error::SimError;
use crate::exponent::{Exponent, Rational};
use crate::ir::{Expr, Kind, Op, Program, ValueId};

/// Deepest expression nesting (counting activation bodies) the evaluator accepts.
///
/// Checking and evaluation recurse once per level. Unoptimized builds use about 1 KiB of
/// stack per level, so 200 levels stay far below the 2 MiB of a test thread, and
/// elaborated programs are much shallower (each instruction is one step of the network;
/// depth comes from activation derivatives, a few levels per order).
pub(crate) const MAX_DEPTH: usize = 200;

/// Checks that every instruction of `program` can be executed: values are read only after
/// they are defined, matrices, sources and activation derivatives exist, vectors and
/// scalars are used consistently, and every width exponent is numeric.
///
/// [`execute`](super::execute) calls this first; call it directly to report a symbolic
/// program before spending time on sampling.
pub fn validate(program: &Program) -> Result<(), SimError> {
    for (index, instr) in program.instrs.iter().enumerate() {
        let checker = Checker {
            program,
            index,
            name: &instr.name,
        };
        exponent_value(&instr.scale.exponent, &instr.name)?;
        let expect = |want: Kind, op: &str| {
            if instr.kind == want {
                Ok(())
            } else {
                Err(SimError::KindMismatch {
                    name: instr.name.clone(),
                    detail: format!("a {op} instruction must be a {}", kind_name(want)),
                })
            }
        };
        match &instr.op {
            Op::Init { terms, .. } => {
                for (source, _) in terms {
                    let info =
                        program
                            .sources
                            .get(source.0)
                            .ok_or_else(|| SimError::UnknownObject {
                                name: instr.name.clone(),
                                what: format!("source #{}", source.0),
                            })?;
                    if info.kind != instr.kind {
                        return Err(SimError::KindMismatch {
                            name: instr.name.clone(),
                            detail: format!(
                                "a {} cannot be initialized from the {} source `{}`",
                                kind_name(instr.kind),
                                kind_name(info.kind),
                                info.name
                            ),
                        });
                    }
                }
            }
            Op::MatMul { matrix, arg, .. } => {
                expect(Kind::Vector, "matrix product")?;
                if program.matrices.get(matrix.0).is_none() {
                    return Err(SimError::UnknownObject {
                        name: instr.name.clone(),
                        what: format!("matrix #{}", matrix.0),
                    });
                }
                if checker.value_kind(*arg).map_err(|e| *e)? != Kind::Vector {
                    return Err(SimError::KindMismatch {
                        name: instr.name.clone(),
                        detail: "a matrix can only multiply a vector".to_string(),
                    });
                }
            }
            Op::Map { expr } => {
                expect(Kind::Vector, "coordinatewise map")?;
                checker
                    .expr_kind(expr, None, 0, &mut Vec::new())
                    .map_err(|e| *e)?;
            }
            Op::Moment { expr } => {
                expect(Kind::Scalar, "moment")?;
                checker
                    .expr_kind(expr, None, 0, &mut Vec::new())
                    .map_err(|e| *e)?;
            }
            Op::Scalar { expr } => {
                expect(Kind::Scalar, "scalar")?;
                if checker
                    .expr_kind(expr, None, 0, &mut Vec::new())
                    .map_err(|e| *e)?
                    == Kind::Vector
                {
                    return Err(SimError::KindMismatch {
                        name: instr.name.clone(),
                        detail: "a scalar expression reads a vector (average it with a moment)"
                            .to_string(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// The numeric value of a width exponent, or why there is none.
pub(crate) fn exponent_value(exponent: &Exponent, name: &str) -> Result<f64, SimError> {
    if exponent.as_constant().is_none() {
        return Err(SimError::SymbolicExponent {
            name: name.to_string(),
            exponent: exponent.to_string(),
        });
    }
    match exponent.to_f64() {
        Some(e) if e.is_finite() => Ok(e),
        _ => Err(SimError::ExponentOutOfRange {
            name: name.to_string(),
            exponent: exponent.to_string(),
        }),
    }
}

/// `"vector"` or `"scalar"`, for messages.
fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Vector => "vector",
        Kind::Scalar => "scalar",
    }
}

/// Checks the expressions of one instruction.
struct Checker<'a> {
    program: &'a Program,
    /// The instruction's own id: it may read only ids below this.
    index: usize,
    name: &'a str,
}

/// A validation error, boxed so that the recursive checker's `Result` is one word and its
/// stack frames stay small (see [`MAX_DEPTH`]).
type Failure = Box<SimError>;

impl Checker<'_> {
    /// The kind of an earlier value, or an error for a value not yet defined.
    fn value_kind(&self, id: ValueId) -> Result<Kind, Failure> {
        match self.program.instrs.get(id.0) {
            Some(instr) if id.0 < self.index => Ok(instr.kind),
            _ => Err(Box::new(SimError::ForwardReference {
                name: self.name.to_string(),
                value: ValueId(self.index),
                refers_to: id,
            })),
        }
    }

    /// Checks `expr` and returns whether it is vector- or scalar-valued. `arg` is the kind
    /// bound to `Expr::Arg` inside an activation body (`None` outside one); `active` lists
    /// the activations being expanded, to reject a body that calls itself.
    ///
    /// Only recursion and dispatch happen here; each check with a message is a separate
    /// function, which keeps this frame small in unoptimized builds.
    fn expr_kind(
        &self,
        expr: &Expr,
        arg: Option<Kind>,
        depth: usize,
        active: &mut Vec<usize>,
    ) -> Result<Kind, Failure> {
        if depth > MAX_DEPTH {
            return Err(self.too_deep());
        }
        match expr {
            Expr::Const(_) => Ok(Kind::Scalar),
            Expr::Width(e) => self.width(e),
            Expr::Arg => {
                arg.ok_or_else(|| self.bad("the activation argument appears outside a body"))
            }
            Expr::Value(id) => self.value_kind(*id),
            Expr::Add(items) | Expr::Mul(items) => {
                let mut kind = Kind::Scalar;
                for item in items {
                    kind = join(kind, self.expr_kind(item, arg, depth + 1, active)?);
                }
                Ok(kind)
            }
            Expr::Neg(a) | Expr::Call(_, a) => self.expr_kind(a, arg, depth + 1, active),
            Expr::Pow(a, q) => {
                self.power(q)?;
                self.expr_kind(a, arg, depth + 1, active)
            }
            Expr::Div(a, b) => Ok(join(
                self.expr_kind(a, arg, depth + 1, active)?,
                self.expr_kind(b, arg, depth + 1, active)?,
            )),
            Expr::Act {
                act,
                order,
                arg: inner,
            } => {
                let inner_kind = self.expr_kind(inner, arg, depth + 1, active)?;
                let body = self.body(act.0, *order, active)?;
                active.push(act.0);
                let kind = self.expr_kind(body, Some(inner_kind), depth + 1, active)?;
                active.pop();
                // A body that reads no vector still yields one value per coordinate when
                // its argument is a vector.
                Ok(join(kind, inner_kind))
            }
        }
    }

    /// A width power must have a numeric exponent.
    fn width(&self, e: &Exponent) -> Result<Kind, Failure> {
        exponent_value(e, self.name).map_err(Box::new)?;
        Ok(Kind::Scalar)
    }

    /// A power's exponent must be representable.
    fn power(&self, q: &Rational) -> Result<(), Failure> {
        if num_traits::ToPrimitive::to_f64(q).is_some_and(f64::is_finite) {
            Ok(())
        } else {
            Err(Box::new(SimError::BadExpression {
                name: self.name.to_string(),
                detail: format!("the power {q} is out of range"),
            }))
        }
    }

    /// The body of φ^{(order)} for activation `act`, which must exist and must not be
    /// one of the activations being expanded (`active`).
    fn body(&self, act: usize, order: usize, active: &[usize]) -> Result<&Expr, Failure> {
        let activation =
            self.program
                .activations
                .get(act)
                .ok_or_else(|| SimError::UnknownObject {
                    name: self.name.to_string(),
                    what: format!("activation #{act}"),
                })?;
        let body =
            activation
                .derivatives
                .get(order)
                .ok_or_else(|| SimError::MissingDerivative {
                    name: self.name.to_string(),
                    activation: activation.name.clone(),
                    order,
                    available: activation.derivatives.len(),
                })?;
        if active.contains(&act) {
            return Err(Box::new(SimError::BadExpression {
                name: self.name.to_string(),
                detail: format!(
                    "activation `{}` is defined in terms of itself",
                    activation.name
                ),
            }));
        }
        Ok(body)
    }

    fn too_deep(&self) -> Failure {
        Box::new(SimError::BadExpression {
            name: self.name.to_string(),
            detail: format!("expression nested more than {MAX_DEPTH} levels deep"),
        })
    }

    fn bad(&self, detail: &str) -> Failure {
        Box::new(SimError::BadExpression {
            name: self.name.to_string(),
            detail: detail.to_string(),
        })
    }
}

/// The kind of a combination: a vector if either part is one.
fn join(a: Kind, b: Kind) -> Kind {
    if a == Kind::Vector || b == Kind::Vector {
        Kind::Vector
    } else {
        Kind::Scalar
    }
}
