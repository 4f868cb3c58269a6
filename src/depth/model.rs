//! The depth-family IR: a residual network kept as a rolled recurrence over the layer
//! index k = 0…L−1, with the depth L (and, for the Hayou/Zheng forms, the width n) as
//! symbolic sizes. The limit engine reads the per-layer update; the simulator unrolls
//! it at concrete sizes.

use crate::exponent::Exponent;
use crate::ir::{ActId, Activation, Expr};
use serde::Serialize;

/// A residual-network program whose sizes are the depth L (and maybe the width n).
#[derive(Clone, Debug)]
pub struct DepthProgram {
    /// Title from the `program "…"` line, if any.
    pub title: Option<String>,
    /// Name of the depth size (`L`).
    pub depth: String,
    /// Name of the width size (`n`), for the Hayou/Zheng forms whose width also grows.
    pub width: Option<String>,
    /// Symbolic parameters that may appear in exponents (e.g. `alpha`, `beta`).
    pub symbols: Vec<String>,
    /// Activations with their derivatives (`net` refers to them by [`ActId`]).
    pub activations: Vec<Activation>,
    /// The network.
    pub net: Resnet,
}

/// The residual families `tp` knows.
// A program holds one network, so the size difference of the variants costs nothing;
// boxing would only make every construction and match noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Resnet {
    /// Cont–Rossier–Xu: h_{k+1} = h_k + δ σ(A_k h_k + b_k) at a fixed dimension d.
    Crx(CrxNet),
    /// Hayou / Zheng: f_ℓ = √(1−β²) f_{ℓ−1} + β (branch), at width n.
    Hayou(HayouNet),
}

/// The Cont–Rossier–Xu residual network (Cont, Rossier & Xu 2022, eq. 1.1):
/// h_{k+1} = h_k + δ_k σ(A_k h_k + b_k), k = 0…L−1, h_0 = x ∈ R^d, with
/// δ_k = delta · L^{-α}, A_k = L^{-β} Ā(k/L) + s·ΔW^A_k and b_k = L^{-β} b̄(k/L) + s_b·ΔW^b_k,
/// where ΔW_k has i.i.d. N(0, L^{-2γ}) entries (γ = 1/2: Brownian increments).
#[derive(Clone, Debug)]
pub struct CrxNet {
    /// The fixed dimension d (`dim d = …`).
    pub dim: usize,
    /// Name of the dimension (`d`), for printing.
    pub dim_name: String,
    /// The activation σ.
    pub act: ActId,
    /// Branch multiplier δ = delta · L^{-alpha}.
    pub delta: f64,
    /// α.
    pub alpha: Exponent,
    /// β: the trend is L^{-β} Ā(k/L).
    pub beta: Exponent,
    /// γ: the i.i.d. part has entries of standard deviation s · L^{-γ} (1/2 by default).
    pub gamma: Exponent,
    /// Ā(t), d×d entries as formulas in t = k/L (`Expr::Arg` is t); `None` = no trend.
    pub trend: Option<Vec<Vec<Expr>>>,
    /// b̄(t), d entries as formulas in t; `None` = no bias trend.
    pub bias_trend: Option<Vec<Expr>>,
    /// s: scale of the i.i.d. Gaussian part of A_k (0 = none).
    pub noise: f64,
    /// s_b: scale of the i.i.d. Gaussian part of b_k (0 = none).
    pub bias_noise: f64,
    /// The input h_0 = x.
    pub input: Vec<f64>,
}

/// Which Hayou/Zheng residual form (Zheng 2024, §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HayouKind {
    /// Type 1: f_ℓ = √(1−β²) f_{ℓ−1} + β W_ℓ φ(f_{ℓ−1}).
    Type1,
    /// Type 2: f_ℓ = √(1−β²) f_{ℓ−1} + β V_ℓ φ(U_ℓ f_{ℓ−1}).
    Type2,
}

/// The Hayou/Zheng ResNet at width n: f_0 = W_in x with N(0, 1/m_0) entries, then
/// L residual layers with branch strength β = L^{-branch}; W_ℓ (type 1) and V_ℓ (type 2)
/// have N(0, gain/n) entries, U_ℓ has N(0, 1/n) entries. With `sketch`, the Jacobian
/// sketch v_ℓ = J_ℓ z (z ~ N(0, I_n)) is carried along: v_ℓ = √(1−β²) v_{ℓ−1} +
/// β W_ℓ (φ'(f_{ℓ−1}) ⊙ v_{ℓ−1}).
#[derive(Clone, Debug)]
pub struct HayouNet {
    /// Type 1 or type 2.
    pub kind: HayouKind,
    /// The activation φ.
    pub act: ActId,
    /// The exponent b of the branch strength β = L^{-b} (1/2 in the sources).
    pub branch: Exponent,
    /// Variance gain of the branch matrices: entries N(0, gain/n) (2 = He).
    pub gain: f64,
    /// The input x ∈ R^{m_0}.
    pub input: Vec<f64>,
    /// Whether the sketch vector v = J z is carried along.
    pub sketch: bool,
}

impl DepthProgram {
    /// σ^{(order)}(x) of activation `act`; NaN where that derivative was not prepared.
    pub fn act(&self, act: ActId, order: usize, x: f64) -> f64 {
        self.activations[act.0].eval(order, x, &self.activations)
    }

    /// The Taylor coefficients σ(0), σ'(0), σ''(0), σ'''(0) of `act` at 0; `None` for
    /// an order that does not exist there (e.g. ReLU is not differentiable at 0).
    pub fn taylor_at_zero(&self, act: ActId) -> [Option<f64>; 4] {
        let mut out = [None; 4];
        for (k, slot) in out.iter_mut().enumerate() {
            let v = self.act(act, k, 0.0);
            // A kink at 0 (relu, |x|) differentiates to a step whose value at 0 is a
            // convention, not a derivative: such an activation has no Taylor data there.
            if v.is_finite() && self.smooth_at_zero(act, k) {
                *slot = Some(v);
            }
        }
        out
    }

    /// Whether φ^{(order)} is continuous at 0 (checked numerically on both sides).
    fn smooth_at_zero(&self, act: ActId, order: usize) -> bool {
        let h = 1e-6;
        let (l, c, r) = (
            self.act(act, order, -h),
            self.act(act, order, 0.0),
            self.act(act, order, h),
        );
        let tol = 1e-3 * (1.0 + c.abs());
        (l - c).abs() < tol && (r - c).abs() < tol
    }

    /// The name of activation `act`.
    pub fn act_name(&self, act: ActId) -> &str {
        &self.activations[act.0].name
    }
}

/// Evaluates a formula in t (`Expr::Arg` = t) at `t`.
pub fn eval_in_t(e: &Expr, t: f64, acts: &[Activation]) -> f64 {
    e.eval(&|_| f64::NAN, t, f64::NAN, acts)
}
