//! The shaped-network IR: an MLP h_{ℓ+1} = √(c/n) W_ℓ φ_S(h_ℓ) whose activation φ_S is
//! shaped towards the identity as the width n grows, run to a depth d = τ n tied to the
//! width (Li, Nica & Roy 2022, "The neural covariance SDE"). The network is kept rolled:
//! one layer, the Gram matrix Φ of m inputs as the state, and the sizes n, d symbolic.

use super::poly::Poly;
use crate::exponent::{Exponent, Rational};
use crate::ir::{ActId, Activation};
use num_traits::{One, ToPrimitive, Zero};
use std::collections::BTreeMap;

/// A shaped MLP in the proportional limit d/n → τ.
#[derive(Clone, Debug)]
pub struct ShapedProgram {
    /// Title from the `program "…"` line, if any.
    pub title: Option<String>,
    /// Name of the width size (`n`).
    pub width: String,
    /// Name of the depth size (`d`), tied to the width by `depth d = tau * n`.
    pub depth: String,
    /// The depth-to-width ratio τ = d/n (positive, exact).
    pub tau: Rational,
    /// Symbolic parameters (Taylor data, shaping exponent, slopes).
    pub symbols: Vec<String>,
    /// The shaping exponent p: S± = 1 + c± n^{-p}, or S = a n^p.
    pub p: Exponent,
    /// The shaped activation.
    pub act: ShapedAct,
    /// Activations with their derivatives (a smooth shaping refers to one by [`ActId`]).
    pub activations: Vec<Activation>,
    /// Names of the m inputs.
    pub inputs: Vec<String>,
    /// The input Gram matrix Φ₀^{αβ} = ⟨x^α, x^β⟩ / n₀ (m × m, positive definite).
    pub gram0: Vec<Vec<f64>>,
}

/// How the activation is shaped.
#[derive(Clone, Debug)]
pub enum ShapedAct {
    /// φ_S(x) = S₊ max(x, 0) + S₋ min(x, 0) with S± = 1 + c± n^{-p}.
    Relu {
        /// c₊ (exact, possibly symbolic).
        c_plus: Poly,
        /// c₋ (exact, possibly symbolic).
        c_minus: Poly,
    },
    /// φ_S(x) = S φ(x/S) with S = a n^p.
    Smooth(SmoothAct),
}

/// A smooth activation with Taylor data at 0, shaped as S φ(x/S).
#[derive(Clone, Debug)]
pub struct SmoothAct {
    /// The activation's name as written (`tanh`, `phi`, `taylor`).
    pub name: String,
    /// The activation evaluated by the simulator; `None` when only Taylor data is given
    /// (the simulator then uses the cubic Taylor polynomial).
    pub act: Option<ActId>,
    /// φ(0), φ'(0), φ''(0), φ'''(0) of the activation as written (exact, maybe symbolic).
    pub taylor: [Poly; 4],
    /// Whether φ is first normalized to (φ − φ(0)) / φ'(0), so that φ(0) = 0, φ'(0) = 1.
    pub normalize: bool,
    /// The shaping scale a in S = a n^p (exact, maybe symbolic, nonzero).
    pub a: Poly,
}

/// Why a shaped program cannot be evaluated numerically or expanded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShapedError {
    /// A symbol has no value.
    #[error("`{0}` is symbolic; give it a value with `--set {0}=…`")]
    Symbolic(String),
    /// The activation is not normalized and no normalization was asked for.
    #[error("the activation has {what}; shaping needs phi(0) = 0 and phi'(0) = 1: add `normalize = yes`")]
    NotNormalized {
        /// Which Taylor datum is off, as printed.
        what: String,
    },
    /// Normalization would divide by φ'(0) = 0.
    #[error("phi'(0) = 0, so the activation cannot be normalized to slope 1 at 0")]
    ZeroSlope,
}

impl SmoothAct {
    /// φ(0), φ'(0), φ''(0), φ'''(0) of the activation that is shaped: after normalization
    /// when asked for, in which case φ(0) = 0 and φ'(0) = 1 exactly.
    pub fn normalized_taylor(&self) -> Result<[Poly; 4], ShapedError> {
        if self.normalize {
            let inv = self.taylor[1]
                .inverse_series(0)
                .ok_or(ShapedError::ZeroSlope)?;
            if self.taylor[1].is_zero() {
                return Err(ShapedError::ZeroSlope);
            }
            Ok([
                Poly::zero(),
                Poly::int(1),
                self.taylor[2].mul(&inv),
                self.taylor[3].mul(&inv),
            ])
        } else {
            if !self.taylor[0].is_zero() {
                return Err(ShapedError::NotNormalized {
                    what: format!("phi(0) = {}", self.taylor[0]),
                });
            }
            if self.taylor[1] != Poly::int(1) {
                return Err(ShapedError::NotNormalized {
                    what: format!("phi'(0) = {}", self.taylor[1]),
                });
            }
            Ok(self.taylor.clone())
        }
    }
}

impl ShapedProgram {
    /// The number of inputs m.
    pub fn inputs_len(&self) -> usize {
        self.gram0.len()
    }

    /// τ as a float.
    pub fn tau_f64(&self) -> f64 {
        self.tau.to_f64().unwrap_or(f64::NAN)
    }

    /// The depth d = round(τ n) at width n (at least 1).
    pub fn depth_at(&self, n: usize) -> usize {
        let d = (&self.tau * Rational::from_integer(n.into())).round();
        d.to_integer().to_usize().unwrap_or(usize::MAX).max(1)
    }

    /// The numeric network at symbol values `values` (every symbol must have one).
    pub fn numeric(&self, values: &BTreeMap<String, f64>) -> Result<NumericShaped, ShapedError> {
        let look = |name: &str| -> Result<f64, ShapedError> {
            values
                .get(name)
                .copied()
                .ok_or_else(|| ShapedError::Symbolic(name.to_string()))
        };
        // The opaque constants of the Taylor data (log 2 for softplus) have values of
        // their own; every other symbol needs one from `values`.
        let eval = |p: &Poly| -> Result<f64, ShapedError> {
            let missing = p.atoms().into_iter().find_map(|a| match a {
                super::poly::Atom::Sym(s)
                    if !values.contains_key(&s) && !super::taylor::is_opaque(&s) =>
                {
                    Some(s)
                }
                _ => None,
            });
            if let Some(s) = missing {
                return Err(ShapedError::Symbolic(s));
            }
            p.eval(&|atom| match atom {
                super::poly::Atom::Sym(s) => values
                    .get(s)
                    .copied()
                    .or_else(|| super::taylor::opaque_value(s)),
                _ => None,
            })
            .ok_or_else(|| ShapedError::Symbolic(format!("{p}")))
        };
        let p = {
            let mut total = self.p.constant_part().to_f64().unwrap_or(f64::NAN);
            for (s, q) in self.p.terms() {
                total += q.to_f64().unwrap_or(f64::NAN) * look(s)?;
            }
            total
        };
        let kind = match &self.act {
            ShapedAct::Relu { c_plus, c_minus } => NumericKind::Relu {
                c_plus: eval(c_plus)?,
                c_minus: eval(c_minus)?,
            },
            ShapedAct::Smooth(s) => {
                let raw = [
                    eval(&s.taylor[0])?,
                    eval(&s.taylor[1])?,
                    eval(&s.taylor[2])?,
                    eval(&s.taylor[3])?,
                ];
                let normalized = s.normalized_taylor()?;
                let cubic = [eval(&normalized[2])?, eval(&normalized[3])?];
                NumericKind::Smooth {
                    act: s.act,
                    raw,
                    normalize: s.normalize,
                    cubic,
                    a: eval(&s.a)?,
                }
            }
        };
        Ok(NumericShaped {
            kind,
            p,
            activations: self.activations.clone(),
        })
    }
}

/// A shaped activation with every symbol given a number, ready for simulation.
#[derive(Clone, Debug)]
pub struct NumericShaped {
    /// The activation's kind and numbers.
    pub kind: NumericKind,
    /// The shaping exponent p.
    pub p: f64,
    /// The program's activations (for [`NumericKind::Smooth::act`]).
    pub activations: Vec<Activation>,
}

/// The numbers of a shaped activation.
#[derive(Clone, Debug)]
pub enum NumericKind {
    /// Shaped ReLU with slopes c±.
    Relu {
        /// c₊.
        c_plus: f64,
        /// c₋.
        c_minus: f64,
    },
    /// Smooth shaping S φ(x/S).
    Smooth {
        /// The activation evaluated, or `None` for the cubic Taylor polynomial.
        act: Option<ActId>,
        /// φ(0), φ'(0), φ''(0), φ'''(0) of φ as written.
        raw: [f64; 4],
        /// Whether φ is normalized to (φ − φ(0))/φ'(0) before shaping.
        normalize: bool,
        /// φ''(0), φ'''(0) after normalization (the cubic x + u x²/2 + v x³/6).
        cubic: [f64; 2],
        /// The shaping scale a.
        a: f64,
    },
}

impl NumericShaped {
    /// The shaped activation φ_S at width n, evaluated at x.
    pub fn phi_s(&self, x: f64, n: usize) -> f64 {
        self.at_width(n).eval(x)
    }

    /// φ_S at width n with its width-dependent scales computed once: the simulator
    /// evaluates it n·m times per layer.
    pub fn at_width(&self, n: usize) -> ShapedAtWidth<'_> {
        let nf = n as f64;
        let scale = match &self.kind {
            NumericKind::Relu { c_plus, c_minus } => {
                let eps = nf.powf(-self.p);
                Scale::Relu {
                    s_plus: 1.0 + c_plus * eps,
                    s_minus: 1.0 + c_minus * eps,
                }
            }
            NumericKind::Smooth { a, .. } => Scale::Smooth {
                s: a * nf.powf(self.p),
            },
        };
        ShapedAtWidth {
            shaped: self,
            scale,
        }
    }

    /// Whether φ_S is positively homogeneous (shaped ReLU), so that c has a closed form
    /// and the diagonal of Φ is a product of i.i.d. factors.
    pub fn is_relu(&self) -> bool {
        matches!(self.kind, NumericKind::Relu { .. })
    }
}

/// φ_S at one width (see [`NumericShaped::at_width`]).
#[derive(Clone, Copy, Debug)]
pub struct ShapedAtWidth<'a> {
    shaped: &'a NumericShaped,
    scale: Scale,
}

/// The width-dependent scales of φ_S.
#[derive(Clone, Copy, Debug)]
enum Scale {
    /// S± = 1 + c± n^-p.
    Relu { s_plus: f64, s_minus: f64 },
    /// S = a n^p.
    Smooth { s: f64 },
}

impl ShapedAtWidth<'_> {
    /// S₊ and S₋ of a shaped ReLU (None for a smooth shaping).
    pub fn relu_slopes(&self) -> Option<(f64, f64)> {
        match self.scale {
            Scale::Relu { s_plus, s_minus } => Some((s_plus, s_minus)),
            Scale::Smooth { .. } => None,
        }
    }

    /// φ_S(x).
    #[inline]
    pub fn eval(&self, x: f64) -> f64 {
        match (self.scale, &self.shaped.kind) {
            (Scale::Relu { s_plus, s_minus }, _) => {
                if x >= 0.0 {
                    s_plus * x
                } else {
                    s_minus * x
                }
            }
            (
                Scale::Smooth { s },
                NumericKind::Smooth {
                    act,
                    raw,
                    normalize,
                    cubic,
                    ..
                },
            ) => {
                let y = x / s;
                let phi = match act {
                    Some(id) => {
                        let acts = &self.shaped.activations;
                        let v = acts[id.0].eval(0, y, acts);
                        if *normalize {
                            (v - raw[0]) / raw[1]
                        } else {
                            v
                        }
                    }
                    None => y + cubic[0] * y * y / 2.0 + cubic[1] * y * y * y / 6.0,
                };
                s * phi
            }
            // `at_width` pairs the scale with its kind.
            (Scale::Smooth { .. }, NumericKind::Relu { .. }) => f64::NAN,
        }
    }
}

/// The exact rational 1/2, the critical shaping exponent.
pub fn one_half() -> Rational {
    Rational::one() / Rational::from_integer(2.into())
}

/// Whether an exponent is exactly the constant `q`.
pub fn is_constant(e: &Exponent, q: &Rational) -> bool {
    e.as_constant().is_some_and(|c| c == q) || (q.is_zero() && e.is_zero())
}

impl ShapedProgram {
    /// The program with the symbols in `values` replaced by their exact values (in the
    /// shaping exponent, the ReLU slopes, the scale a and the Taylor data).
    pub fn at_point(&self, values: &BTreeMap<String, Rational>) -> ShapedProgram {
        let subst = |p: &Poly| -> Poly {
            let mut out = p.clone();
            for (name, q) in values {
                let atom = super::poly::Atom::Sym(name.clone());
                if let Some(s) = out.substitute(&atom, &Poly::constant(q.clone())) {
                    out = s;
                }
            }
            out
        };
        let mut prog = self.clone();
        prog.p = self
            .p
            .substitute(&|s| values.get(s).map(|q| Exponent::constant(q.clone())));
        prog.act = match &self.act {
            ShapedAct::Relu { c_plus, c_minus } => ShapedAct::Relu {
                c_plus: subst(c_plus),
                c_minus: subst(c_minus),
            },
            ShapedAct::Smooth(s) => ShapedAct::Smooth(SmoothAct {
                taylor: [
                    subst(&s.taylor[0]),
                    subst(&s.taylor[1]),
                    subst(&s.taylor[2]),
                    subst(&s.taylor[3]),
                ],
                a: subst(&s.a),
                ..s.clone()
            }),
        };
        prog.symbols.retain(|s| !values.contains_key(s));
        prog
    }
}
