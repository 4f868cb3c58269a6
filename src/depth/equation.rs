//! The depth limits as data: which terms the power counting kept, with the numbers the
//! solvers need. A limit is evaluated only through these methods, so a deliberately
//! wrong derivation (a mutation that drops a term) changes what the checks compare
//! against, exactly as a wrong derivation would.

use super::model::{eval_in_t, CrxNet, DepthProgram, HayouKind, HayouNet};
use serde::Serialize;

/// The limit of a Cont–Rossier–Xu network as L → ∞:
/// dH = δ[σ(Ā_t H + b̄_t) | σ'(0)(Ā_t H + b̄_t)] dt + δσ(0) dt + δ(σ''(0)/2) q(H) dt
///      + δσ'(0)(s dB^A_t H + s_b dB^b_t),
/// with only the terms the power counting found at order L^0.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CrxEquation {
    /// The branch coefficient δ (the `delta` of δ_k = delta · L^{-α}).
    pub delta: f64,
    /// σ(Ā_t H + b̄_t) kept whole (the neural ODE, β = 0).
    pub full_activation: bool,
    /// The linearized trend σ'(0)(Ā_t H + b̄_t).
    pub linear_trend: bool,
    /// The constant σ(0) (only when it is not inside `full_activation`).
    pub constant: bool,
    /// The Itô correction (σ''(0)/2) q(H), q(H)_i = s²|H|² + s_b².
    pub ito: bool,
    /// The Brownian part σ'(0)(s dB^A H + s_b dB^b).
    pub noise: bool,
    /// σ(0), σ'(0), σ''(0) (NaN where σ has no such derivative at 0).
    pub taylor: [f64; 3],
}

impl CrxEquation {
    /// Whether the limit is deterministic (an ODE).
    pub fn is_ode(&self) -> bool {
        !self.noise
    }

    /// The drift at time t and state h, written into `out` (length d).
    pub fn drift(
        &self,
        prog: &DepthProgram,
        net: &CrxNet,
        t: f64,
        h: &[f64],
        scratch: &mut TrendAt,
        out: &mut [f64],
    ) {
        self.fill_trend(prog, net, t, scratch);
        self.drift_given(prog, net, scratch, h, out);
    }

    /// Ā(t) and b̄(t) evaluated at `t` (empty when the equation keeps no trend term):
    /// they do not depend on the state, so many paths on one time grid can share them
    /// instead of walking the formulas' trees at every step of every path.
    pub fn trend_at(&self, prog: &DepthProgram, net: &CrxNet, t: f64) -> TrendAt {
        let mut trend = TrendAt::default();
        self.fill_trend(prog, net, t, &mut trend);
        trend
    }

    /// [`CrxEquation::trend_at`] into an existing buffer, which allocates only the first
    /// time: the drift is evaluated at every sub-step of every sample.
    pub fn fill_trend(&self, prog: &DepthProgram, net: &CrxNet, t: f64, out: &mut TrendAt) {
        out.a.clear();
        out.b.clear();
        if !(self.full_activation || self.linear_trend) {
            return;
        }
        let eval = |e| eval_in_t(e, t, &prog.activations);
        if let Some(a) = &net.trend {
            out.a.extend(a.iter().flatten().map(eval));
        }
        if let Some(b) = &net.bias_trend {
            out.b.extend(b.iter().map(eval));
        }
    }

    /// The drift at state `h` given the trend at its time ([`CrxEquation::trend_at`]).
    pub fn drift_given(
        &self,
        prog: &DepthProgram,
        net: &CrxNet,
        trend: &TrendAt,
        h: &[f64],
        out: &mut [f64],
    ) {
        let d = net.dim;
        out.iter_mut().for_each(|o| *o = 0.0);
        if self.full_activation || self.linear_trend {
            for (i, o) in out.iter_mut().enumerate().take(d) {
                let mut pre = 0.0;
                if !trend.a.is_empty() {
                    let row = &trend.a[i * d..(i + 1) * d];
                    pre += row.iter().zip(h).map(|(a, x)| a * x).sum::<f64>();
                }
                if let Some(b) = trend.b.get(i) {
                    pre += b;
                }
                *o += if self.full_activation {
                    prog.act(net.act, 0, pre)
                } else {
                    self.taylor[1] * pre
                };
            }
        }
        if self.constant {
            out.iter_mut().for_each(|o| *o += self.taylor[0]);
        }
        if self.ito {
            let q = net.noise * net.noise * h.iter().map(|x| x * x).sum::<f64>()
                + net.bias_noise * net.bias_noise;
            out.iter_mut().for_each(|o| *o += 0.5 * self.taylor[2] * q);
        }
        out.iter_mut().for_each(|o| *o *= self.delta);
    }

    /// The Brownian part for increments `db_a` (d×d, row-major) and `db_b` (d) of
    /// standard Brownian motions over one step, added into `out`.
    pub fn add_noise(&self, net: &CrxNet, h: &[f64], db_a: &[f64], db_b: &[f64], out: &mut [f64]) {
        if !self.noise {
            return;
        }
        let d = net.dim;
        let c = self.delta * self.taylor[1];
        for i in 0..d {
            let mut z = 0.0;
            for j in 0..d {
                z += db_a[i * d + j] * h[j];
            }
            out[i] += c * (net.noise * z + net.bias_noise * db_b[i]);
        }
    }
}

/// The trend of a Cont–Rossier–Xu network at one time: Ā(t) row-major (d×d; empty
/// without a trend) and b̄(t) (d; empty without a bias trend).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrendAt {
    /// Ā(t), row after row.
    pub a: Vec<f64>,
    /// b̄(t).
    pub b: Vec<f64>,
}

/// The limit of a Hayou/Zheng network as L → ∞ at fixed width n (Zheng 2024, Prop. 3.1
/// and 3.5, after Hayou 2023): type 1 df = −½ f dt + √(gain/n) dB φ(f) with an n×n
/// Brownian matrix B, and the sketch dv = −½ v dt + √(gain/n) dB (φ'(f) ⊙ v) driven by
/// the same B; type 2 df = −½ f dt + c(f) dB̃ with an n-dimensional B̃ and
/// c(f)² = (gain/n) · n·E φ(‖f‖ g/√n)², g ~ N(0, 1).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HayouEquation {
    /// The skip path's drift −½ f (from √(1−β²) = 1 − β²/2 + …).
    pub skip_drift: bool,
    /// The branch's Brownian part.
    pub noise: bool,
    /// The variance gain of the branch matrices.
    pub gain: f64,
    /// Type 1 or 2.
    pub kind: HayouKind,
}

/// Where the McKean–Vlasov limit's diffusion comes from.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MvSource {
    /// Derived: the coordinates' 2×2 covariance K of (f^i, v^i) obeys
    /// dK/dt = −K + gain · S(K), S(K) = E[(φ(f), φ'(f)v)ᵀ(φ(f), φ'(f)v)] over N(0, K).
    Derived,
    /// A constant diffusion: dK/dt = −K + D (the Zheng report's a = b = c = ½ SDE has
    /// D = [[1, 1], [1, 1]]; kept for the mutation that must FAIL).
    Constant([[f64; 2]; 2]),
}

/// The width limit taken after the depth limit (Zheng 2024, §4.3–4.4, corrected): each
/// coordinate pair (f^i, v^i) is an independent centred Gaussian process with covariance
/// K_t, K_0 = diag(‖x‖²/m_0, 1).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MvEquation {
    /// The diffusion's source.
    pub source: MvSource,
    /// The variance gain of the branch matrices.
    pub gain: f64,
    /// Whether the sketch v is part of the state (otherwise only K_ff is tracked).
    pub sketch: bool,
}

impl HayouEquation {
    /// The equation for `net` with every term the power counting keeps at b = 1/2.
    pub fn of(net: &HayouNet, skip_drift: bool, noise: bool) -> Self {
        HayouEquation {
            skip_drift,
            noise,
            gain: net.gain,
            kind: net.kind,
        }
    }
}
