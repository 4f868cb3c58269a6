//! The mean-field IR: a two-layer network with N hidden units ("particles") w^k ∈ R^p and
//! fixed output weights 1/N, trained by SGD with the step γ N^β (n + γ_{α,β}(N)^{-1})^{-α}
//! (De Bortoli, Durmus, Fontaine & Şimşekli 2020). The training loop stays rolled: one SGD
//! step, the particles as the state, the number of particles N and the number of steps
//! n_T = ⌊T / γ_{α,β}(N)⌋ symbolic until a size is chosen.
//!
//! Formulas (the unit F(w, x), the penalty V(w), the teacher f*(x)) are [`Expr`]s whose
//! variables are [`Expr::Value`]s laid out by [`MeanFieldProgram::w_var`] and
//! [`MeanFieldProgram::x_var`]: w_1 … w_p are values 0 … p−1 and x_1 … x_d are values
//! p … p+d−1, in every formula (the teacher reads only the x's, the penalty only the w's).

use crate::exponent::{Exponent, Rational};
use crate::ir::{Activation, Expr, ValueId};

/// A mean-field two-layer network and its SGD schedule.
#[derive(Clone, Debug)]
pub struct MeanFieldProgram {
    /// Title from the `program "…"` line, if any.
    pub title: Option<String>,
    /// Name of the particle-count size (`N`, from `particles N`).
    pub size: String,
    /// The dimension p of a particle w ∈ R^p.
    pub dim: usize,
    /// The dimension d of an input x ∈ R^d.
    pub x_dim: usize,
    /// The law μ₀ of the initial particles (i.i.d., independent of N).
    pub init: InitLaw,
    /// The unit F(w, x): the network predicts x ↦ (1/N) Σ_k F(w^k, x).
    pub unit: Formula,
    /// ∂F/∂w_i for i = 1 … p (symbolic derivatives of `unit`).
    pub unit_grad: Vec<Expr>,
    /// The penalty V(w) (added as (1/N) Σ_k V(w^k) to the risk); 0 when none is given.
    pub penalty: Formula,
    /// ∇V: ∂V/∂w_i for i = 1 … p.
    pub penalty_grad: Vec<Expr>,
    /// The loss ℓ(ŷ, y).
    pub loss: Loss,
    /// The data distribution π of (x, y).
    pub data: Data,
    /// The batch size M (≥ 1).
    pub batch: u64,
    /// The base step γ > 0 (exact).
    pub gamma: Rational,
    /// The step-decay exponent α ∈ [0, 1) (exact, possibly symbolic).
    pub alpha: Exponent,
    /// The step-size exponent β ∈ [0, 1] (exact, possibly symbolic).
    pub beta: Exponent,
    /// The horizon T > 0 in the time t = n γ_{α,β}(N) (exact).
    pub horizon: Rational,
    /// Symbolic parameters (only α and β may be symbolic).
    pub symbols: Vec<String>,
    /// Activations the formulas refer to (user-declared, with their derivatives).
    pub activations: Vec<Activation>,
}

/// A formula with the text it was written as (for printing the limit equations).
#[derive(Clone, Debug)]
pub struct Formula {
    /// The elaborated expression (variables as in the module documentation).
    pub expr: Expr,
    /// The formula as the user wrote it, whitespace-normalized (`tanh(w1*x1 + w2)`).
    pub text: String,
}

/// The initial law μ₀ of each particle.
#[derive(Clone, Debug, PartialEq)]
pub enum InitLaw {
    /// Independent coordinates w_i ~ N(mean_i, std²).
    Gaussian {
        /// The mean (p entries).
        mean: Vec<f64>,
        /// The standard deviation of every coordinate (> 0).
        std: f64,
    },
    /// Uniform on the sphere of the given radius centred at 0 (p ≥ 2).
    Sphere {
        /// The radius (> 0).
        radius: f64,
    },
    /// Every particle at the same point (the identical-initialization experiment).
    Point(Vec<f64>),
}

impl InitLaw {
    /// The one point w₀ of the identical-initialization experiment (De Bortoli et al.
    /// 2020, Fig. 2) for this law in R^p: the mean of a Gaussian, the point of a point
    /// mass, and radius · e₁ on a sphere (whose mean, 0, is not on it).
    pub fn center(&self, p: usize) -> Vec<f64> {
        match self {
            InitLaw::Gaussian { mean, .. } | InitLaw::Point(mean) => mean.clone(),
            InitLaw::Sphere { radius } => {
                let mut at = vec![0.0; p];
                if let Some(first) = at.first_mut() {
                    *first = *radius;
                }
                at
            }
        }
    }
}

/// The loss ℓ(ŷ, y).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loss {
    /// ℓ = (ŷ − y)² / 2, so ∂₁ℓ = ŷ − y.
    Square,
    /// Huber with threshold δ: (ŷ − y)²/2 for |ŷ − y| ≤ δ, δ|ŷ − y| − δ²/2 beyond.
    Huber {
        /// The threshold δ > 0.
        delta: f64,
    },
}

/// The data distribution π.
#[derive(Clone, Debug)]
pub enum Data {
    /// x drawn from `x_law`, y = f*(x) + σ ε with ε ~ N(0, 1) independent.
    Teacher {
        /// The law of x.
        x_law: XLaw,
        /// The teacher f*(x) (reads only the x variables).
        target: Formula,
        /// The label-noise standard deviation σ ≥ 0.
        noise: f64,
    },
    /// The uniform law on a finite set of (x, y) pairs.
    Set {
        /// The pairs: x has d entries.
        points: Vec<(Vec<f64>, f64)>,
    },
}

/// The law of the inputs of a teacher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XLaw {
    /// x ~ N(0, I_d).
    Gaussian,
    /// x uniform on [−1, 1]^d.
    Uniform,
}

impl MeanFieldProgram {
    /// The value id of w_i (i = 0 … p−1) in every formula.
    pub fn w_var(&self, i: usize) -> ValueId {
        ValueId(i)
    }

    /// The value id of x_j (j = 0 … d−1) in every formula.
    pub fn x_var(&self, j: usize) -> ValueId {
        ValueId(self.dim + j)
    }

    /// The number of formula variables (p + d): slots 0 … p+d−1 of a compiled tape.
    pub fn var_count(&self) -> usize {
        self.dim + self.x_dim
    }

    /// The title or, without one, the size name.
    pub fn display_name(&self) -> String {
        self.title
            .clone()
            .unwrap_or_else(|| format!("mean-field network with {} particles", self.size))
    }
}

/// Programs built by hand for the unit tests of the numerical modules (the language has
/// its own tests; these keep the numerics testable without parsing).
#[cfg(test)]
pub(crate) mod test_programs {
    use super::*;

    fn formula(expr: Expr, text: &str) -> Formula {
        Formula {
            expr,
            text: text.into(),
        }
    }

    /// The linear–Gaussian toy F = w x, V = λw²/2, x ~ N(0, 1), y = a x + σ ε, with
    /// μ₀ = N(1, 1/4), γ = 1/10, α = 0, β = 1, M = 1, T = 6.
    pub(crate) fn toy(a: f64, lambda: f64, sigma: f64, loss: Loss) -> MeanFieldProgram {
        let w = Expr::value(ValueId(0));
        let x = Expr::value(ValueId(1));
        MeanFieldProgram {
            title: None,
            size: "N".into(),
            dim: 1,
            x_dim: 1,
            init: InitLaw::Gaussian {
                mean: vec![1.0],
                std: 0.5,
            },
            unit: formula(Expr::mul(w.clone(), x.clone()), "w1*x1"),
            unit_grad: vec![x.clone()],
            penalty: formula(
                Expr::mul(Expr::Const(lambda / 2.0), Expr::mul(w.clone(), w.clone())),
                "lambda*w1^2/2",
            ),
            penalty_grad: vec![Expr::mul(Expr::Const(lambda), w)],
            loss,
            data: Data::Teacher {
                x_law: XLaw::Gaussian,
                target: formula(Expr::mul(Expr::Const(a), x), "a*x1"),
                noise: sigma,
            },
            batch: 1,
            gamma: Rational::new(1.into(), 10.into()),
            alpha: Exponent::zero(),
            beta: Exponent::constant(Rational::from_integer(1.into())),
            horizon: Rational::from_integer(6.into()),
            symbols: vec![],
            activations: vec![],
        }
    }

    /// A tanh teacher–student network: F = tanh(w1 x1 + w2), V = λ|w|²/2 with λ = 1/10,
    /// x ~ N(0, 1), y = tanh(2 x − 1/2) + 0.1 ε, μ₀ = N(0, I), γ = 1, α = 0, the given β,
    /// M = 1, T = 2.
    pub(crate) fn tanh_teacher(beta: Rational) -> MeanFieldProgram {
        use crate::ir::Func;
        let w1 = Expr::value(ValueId(0));
        let w2 = Expr::value(ValueId(1));
        let x = Expr::value(ValueId(2));
        let pre = Expr::add(Expr::mul(w1.clone(), x.clone()), w2.clone());
        let unit = Expr::call(Func::Tanh, pre.clone());
        // d tanh(u) = 1 − tanh(u)².
        let sech2 = Expr::sub(
            Expr::Const(1.0),
            Expr::pow(unit.clone(), Rational::from_integer(2.into())),
        );
        let lambda = 0.1;
        MeanFieldProgram {
            title: None,
            size: "N".into(),
            dim: 2,
            x_dim: 1,
            init: InitLaw::Gaussian {
                mean: vec![0.0, 0.0],
                std: 1.0,
            },
            unit: formula(unit, "tanh(w1*x1 + w2)"),
            unit_grad: vec![Expr::mul(sech2.clone(), x.clone()), sech2],
            penalty: formula(
                Expr::mul(
                    Expr::Const(lambda / 2.0),
                    Expr::add(
                        Expr::mul(w1.clone(), w1.clone()),
                        Expr::mul(w2.clone(), w2.clone()),
                    ),
                ),
                "lambda*(w1^2 + w2^2)/2",
            ),
            penalty_grad: vec![
                Expr::mul(Expr::Const(lambda), w1),
                Expr::mul(Expr::Const(lambda), w2),
            ],
            loss: Loss::Square,
            data: Data::Teacher {
                x_law: XLaw::Gaussian,
                target: formula(
                    Expr::call(
                        Func::Tanh,
                        Expr::sub(Expr::mul(Expr::Const(2.0), x), Expr::Const(0.5)),
                    ),
                    "tanh(2*x1 - 1/2)",
                ),
                noise: 0.1,
            },
            batch: 1,
            gamma: Rational::from_integer(1.into()),
            alpha: Exponent::zero(),
            beta: Exponent::constant(beta),
            horizon: Rational::from_integer(2.into()),
            symbols: vec![],
            activations: vec![],
        }
    }
}
