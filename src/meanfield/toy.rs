//! The linear–Gaussian toy in closed form: p = d = 1, F(w, x) = w x, square loss,
//! V = λ w²/2, y = a x + σ ε with x ~ N(0, 1) or U[−1, 1].
//!
//! Then h(w, μ) = −(m_μ s_xx − s_xy) − λ w depends on μ only through its mean, so the
//! mean m and the variance v of the limit law solve a closed 2-D ODE: the references
//! that the numerical stages are tested against.

use super::model::{Data, InitLaw, Loss, MeanFieldProgram, XLaw};
use crate::solve::ode::rk4_with_error;
use num_traits::ToPrimitive;

/// The toy's parameters (as numbers: the closed forms are evaluated in floating point).
#[derive(Clone, Debug, PartialEq)]
pub struct Toy {
    /// The teacher's slope a in y = a x + σ ε.
    pub a: f64,
    /// The penalty's λ in V = λ w²/2 (≥ 0).
    pub lambda: f64,
    /// The label-noise standard deviation σ.
    pub sigma: f64,
    /// s_xx = E x² (1 for N(0, 1), 1/3 for U[−1, 1]).
    pub s_xx: f64,
    /// Var(x²) (2 for N(0, 1), 4/45 for U[−1, 1]).
    pub var_x2: f64,
    /// The base step γ.
    pub gamma: f64,
    /// The batch size M.
    pub batch: f64,
    /// α.
    pub alpha: f64,
    /// β.
    pub beta: f64,
    /// The initial mean of a particle.
    pub m0: f64,
    /// The initial variance of a particle.
    pub v0: f64,
}

/// f(vals) for a formula over the program's variable slots.
fn eval(prog: &MeanFieldProgram, e: &crate::ir::Expr, vals: &[f64]) -> f64 {
    e.eval(
        &|v| vals.get(v.0).copied().unwrap_or(f64::NAN),
        0.0,
        1.0,
        &prog.activations,
    )
}

fn close(x: f64, y: f64) -> bool {
    (x - y).abs() <= 1e-12 * (1.0 + y.abs())
}

/// (w, x) probe points; the formulas are checked to be exactly w x, x, λ w, a x there
/// (a formula of these few variables that agrees with a bilinear form at generic points
/// is taken to be it: detection only selects which closed forms to print and test).
const PROBES: [(f64, f64); 4] = [(2.0, 3.0), (-1.5, 0.5), (0.7, -4.0), (0.0, 1.25)];

impl Toy {
    /// The toy's parameters, when `prog` is the linear–Gaussian toy with numeric α, β.
    pub fn detect(prog: &MeanFieldProgram) -> Option<Toy> {
        if prog.dim != 1 || prog.x_dim != 1 || prog.loss != Loss::Square {
            return None;
        }
        if prog.unit_grad.len() != 1 || prog.penalty_grad.len() != 1 {
            return None;
        }
        let grad = &prog.unit_grad[0];
        if !super::derive::grad_independent_of_w(prog) {
            return None;
        }
        let pen = &prog.penalty_grad[0];
        if pen.values().iter().any(|v| v.0 != 0) {
            return None;
        }
        let lambda = eval(prog, pen, &[1.0, f64::NAN]);
        if !(lambda >= 0.0 && lambda.is_finite()) {
            return None;
        }
        for (w, x) in PROBES {
            let ok = close(eval(prog, &prog.unit.expr, &[w, x]), w * x)
                && close(eval(prog, grad, &[w, x]), x)
                && close(eval(prog, pen, &[w, f64::NAN]), lambda * w);
            if !ok {
                return None;
            }
        }
        let Data::Teacher {
            x_law,
            target,
            noise,
        } = &prog.data
        else {
            return None;
        };
        let a = eval(prog, &target.expr, &[f64::NAN, 1.0]);
        if !a.is_finite() || target.expr.values().iter().any(|v| v.0 != 1) {
            return None;
        }
        for (_, x) in PROBES {
            if !close(eval(prog, &target.expr, &[f64::NAN, x]), a * x) {
                return None;
            }
        }
        let (s_xx, var_x2) = match x_law {
            XLaw::Gaussian => (1.0, 2.0),
            XLaw::Uniform => (1.0 / 3.0, 4.0 / 45.0),
        };
        let (m0, v0) = match &prog.init {
            InitLaw::Gaussian { mean, std } => (*mean.first()?, std * std),
            InitLaw::Point(w) => (*w.first()?, 0.0),
            InitLaw::Sphere { .. } => return None,
        };
        let alpha = prog.alpha.as_constant()?.to_f64()?;
        let beta = prog.beta.as_constant()?.to_f64()?;
        if !(0.0..1.0).contains(&alpha) {
            return None;
        }
        Some(Toy {
            a,
            lambda,
            sigma: *noise,
            s_xx,
            var_x2,
            gamma: prog.gamma.to_f64()?,
            batch: prog.batch as f64,
            alpha,
            beta,
            m0,
            v0,
        })
    }

    /// s_xy = E[x y] = a s_xx.
    pub fn s_xy(&self) -> f64 {
        self.a * self.s_xx
    }

    /// The mean's decay rate s_xx + λ.
    pub fn rate(&self) -> f64 {
        self.s_xx + self.lambda
    }

    /// The fixed point of the mean, s_xy/(s_xx + λ).
    pub fn m_infinity(&self) -> f64 {
        self.s_xy() / self.rate()
    }

    /// The temperature γ^{1/(1−α)}/M.
    pub fn temperature(&self) -> f64 {
        self.gamma.powf(1.0 / (1.0 - self.alpha)) / self.batch
    }

    /// The clock τ(t) = ∫₀ᵗ (s+1)^{−α} ds of the drift.
    pub fn clock(&self, t: f64) -> f64 {
        if self.alpha == 0.0 {
            t
        } else {
            ((t + 1.0).powf(1.0 - self.alpha) - 1.0) / (1.0 - self.alpha)
        }
    }

    /// Σ(m) = Var_π((m x − y) x) = (m − a)² Var(x²) + σ² s_xx.
    pub fn sigma(&self, m: f64) -> f64 {
        (m - self.a).powi(2) * self.var_x2 + self.sigma * self.sigma * self.s_xx
    }

    /// The limit mean m_t = m_∞ + (m₀ − m_∞) e^{−(s_xx+λ) τ(t)} (exact at every α: the
    /// mean's ODE is linear with the time change τ).
    pub fn mean(&self, t: f64) -> f64 {
        let m_inf = self.m_infinity();
        m_inf + (self.m0 - m_inf) * (-self.rate() * self.clock(t)).exp()
    }

    /// The variance under the ODE (β < 1): v₀ e^{−2λ τ(t)}.
    pub fn variance_ode(&self, t: f64, v0: f64) -> f64 {
        v0 * (-2.0 * self.lambda * self.clock(t)).exp()
    }

    /// The variance under the SDE (β = 1): exact at α = 0, RK4 with step doubling
    /// otherwise.
    pub fn variance_sde(&self, t: f64, v0: f64) -> f64 {
        if self.alpha == 0.0 {
            self.variance_sde_exact(t, v0)
        } else {
            self.variance_sde_rk4(t, v0)
        }
    }

    /// The SDE variance at α = 0 exactly: with m_s − a = A + B e^{−cs},
    /// Σ(m_s) = K(A² + 2AB e^{−cs} + B² e^{−2cs}) + σ² s_xx, so
    /// v_t = v₀ e^{−2λt} + θ Σ_k C_k ∫₀ᵗ e^{−2λ(t−s)} e^{−ks} ds, each integral closed.
    pub fn variance_sde_exact(&self, t: f64, v0: f64) -> f64 {
        let c = self.rate();
        let k = self.var_x2;
        let big_a = self.m_infinity() - self.a;
        let big_b = self.m0 - self.m_infinity();
        // ∫₀ᵗ e^{−2λ(t−s)} e^{−κs} ds = (e^{−κt} − e^{−2λt})/(2λ − κ), with the slower
        // exponential factored out (so that no factor overflows at large t) and expm1
        // (so that 2λ ≈ κ loses no digits).
        let integral = |kappa: f64| {
            let d = 2.0 * self.lambda - kappa;
            if d == 0.0 {
                t * (-kappa * t).exp()
            } else if d > 0.0 {
                (-kappa * t).exp() * (-(-d * t).exp_m1() / d)
            } else {
                (-2.0 * self.lambda * t).exp() * ((d * t).exp_m1() / d)
            }
        };
        let noise = (k * big_a * big_a + self.sigma * self.sigma * self.s_xx) * integral(0.0)
            + 2.0 * k * big_a * big_b * integral(c)
            + k * big_b * big_b * integral(2.0 * c);
        v0 * (-2.0 * self.lambda * t).exp() + self.temperature() * noise
    }

    /// The SDE variance by RK4 on (m, v): ṁ = g(−(s_xx+λ)m + s_xy),
    /// v̇ = g(−2λv) + g² θ Σ(m), g = (t+1)^{−α}; steps doubled until two answers agree
    /// to 1e-12 (relative to max(1, |v|)).
    pub fn variance_sde_rk4(&self, t: f64, v0: f64) -> f64 {
        let theta = self.temperature();
        let f = |s: f64, x: &[f64], dx: &mut [f64]| {
            let g = (s + 1.0).powf(-self.alpha);
            dx[0] = g * (-self.rate() * x[0] + self.s_xy());
            dx[1] = g * (-2.0 * self.lambda * x[1]) + g * g * theta * self.sigma(x[0]);
        };
        let mut steps = 64usize;
        let mut best = f64::NAN;
        while steps <= 1 << 22 {
            match rk4_with_error(f, 0.0, t, &[self.m0, v0], steps) {
                Ok(est) => {
                    best = est.fine[1];
                    if est.difference <= 1e-12 * best.abs().max(1.0) {
                        return best;
                    }
                }
                Err(_) => return f64::NAN,
            }
            steps *= 2;
        }
        best
    }

    /// The stationary SDE variance γΣ(m_∞)/(2λM) at α = 0 (None when α > 0, where the
    /// noise decays and v → 0, or λ = 0, where none exists).
    pub fn v_infinity(&self) -> Option<f64> {
        (self.alpha == 0.0 && self.lambda > 0.0)
            .then(|| self.temperature() * self.sigma(self.m_infinity()) / (2.0 * self.lambda))
    }

    /// The limit's variance in the program's regime: the SDE's at β = 1, the ODE's below.
    pub fn variance(&self, t: f64, v0: f64) -> f64 {
        if self.beta == 1.0 {
            self.variance_sde(t, v0)
        } else {
            self.variance_ode(t, v0)
        }
    }

    /// γ_{α,β}(N) in floating point (the exact form is `horizon::gamma_step`).
    pub fn step(&self, n: f64) -> f64 {
        let den = 1.0 - self.alpha;
        self.gamma.powf(1.0 / den) * n.powf((self.beta - 1.0) / den)
    }

    /// Under literal SGD, the particles' spread after `steps` steps is this factor
    /// Π_j (1 − η_j λ)² times the initial spread, exactly: the shared sample gives every
    /// particle the same kick −η_j (m̂_j x_j − y_j) x_j, so the deviations from the mean
    /// only shrink by 1 − η_j λ. `step` is γ_{α,β}(N).
    pub fn sgd_spread_factor(&self, step: f64, steps: u64) -> f64 {
        (0..steps)
            .map(|j| {
                let eta = super::horizon::learning_rate(step, self.alpha, j);
                (1.0 - eta * self.lambda).powi(2)
            })
            .product()
    }

    /// The expected particle mean after `steps` steps (literal SGD and eq. (6)'s Euler
    /// steps alike: the noise has mean zero and the update is linear in the mean):
    /// E m_{j+1} = (1 − η_j(s_xx + λ)) E m_j + η_j s_xy from m₀.
    pub fn expected_mean_discrete(&self, step: f64, steps: u64) -> f64 {
        self.expected_mean_discrete_from(self.m0, step, steps)
    }

    /// [`Toy::expected_mean_discrete`] from a given initial mean (e.g. the empirical mean
    /// of N sampled particles, which the linear recursion carries exactly).
    pub fn expected_mean_discrete_from(&self, m0: f64, step: f64, steps: u64) -> f64 {
        let mut m = m0;
        for j in 0..steps {
            let eta = super::horizon::learning_rate(step, self.alpha, j);
            m = (1.0 - eta * self.rate()) * m + eta * self.s_xy();
        }
        m
    }

    /// The expected spread of eq. (6)'s Euler–Maruyama particles after `steps` steps in the
    /// N → ∞ limit of the mean: the deviations from the mean shrink by 1 − η_j λ and gain
    /// the independent noise η_j² Σ(m_j)/M, with m_j the Euler mean from `m0`:
    /// v_{j+1} = (1 − η_j λ)² v_j + η_j² Σ(m_j)/M. (With N particles centred at their own
    /// mean the noise part carries a further factor 1 − 1/N.)
    pub fn eq6_spread_discrete(&self, v0: f64, m0: f64, step: f64, steps: u64) -> f64 {
        let (mut m, mut v) = (m0, v0);
        for j in 0..steps {
            let eta = super::horizon::learning_rate(step, self.alpha, j);
            v = (1.0 - eta * self.lambda).powi(2) * v + eta * eta * self.sigma(m) / self.batch;
            m = (1.0 - eta * self.rate()) * m + eta * self.s_xy();
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(alpha: f64) -> Toy {
        Toy {
            a: 2.0,
            lambda: 0.1,
            sigma: 0.5,
            s_xx: 1.0,
            var_x2: 2.0,
            gamma: 0.1,
            batch: 1.0,
            alpha,
            beta: 1.0,
            m0: 0.0,
            v0: 1.0,
        }
    }

    #[test]
    fn exact_variance_agrees_with_rk4_at_alpha_zero() {
        let t = toy(0.0);
        for time in [0.5, 3.0, 20.0] {
            let exact = t.variance_sde_exact(time, 1.0);
            let rk = t.variance_sde_rk4(time, 1.0);
            assert!((exact - rk).abs() < 1e-10, "{time}: {exact} vs {rk}");
        }
    }

    #[test]
    fn exact_variance_solves_its_ode() {
        let t = toy(0.0);
        let h = 1e-4;
        for time in [0.3, 2.0, 7.0] {
            let dv = (t.variance_sde_exact(time + h, 1.0) - t.variance_sde_exact(time - h, 1.0))
                / (2.0 * h);
            let rhs = -2.0 * t.lambda * t.variance_sde_exact(time, 1.0)
                + t.temperature() * t.sigma(t.mean(time));
            assert!((dv - rhs).abs() < 1e-7, "{dv} vs {rhs}");
        }
    }

    #[test]
    fn variance_tends_to_v_infinity() {
        let t = toy(0.0);
        let v = t.variance_sde_exact(400.0, 1.0);
        let inf = t.v_infinity().unwrap_or(f64::NAN);
        assert!((v - inf).abs() < 1e-12, "{v} vs {inf}");
    }
}
