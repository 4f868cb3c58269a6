//! The stationary law of the one-dimensional McKean–Vlasov SDE (De Bortoli et al. 2020,
//! Prop. 5: α = 0, p = 1, β = 1, V strongly convex, Σ bounded below): a fixed point of
//! μ ↦ H(μ), H(μ) having the density ∝ Σ̄(w,μ)^{-1} exp(2∫_0^w h(w̃,μ)/Σ̄(w̃,μ) dw̃) with
//! Σ̄ = γΣ/M — the zero-flux solution of (1/2)(Σ̄p)'' − (hp)' = 0.
//!
//! The paper prints exp(−2∫…), an erratum: with h ≈ −V' that density is not
//! normalizable. `sign` selects the exponent's sign so that the erratum can be shown to
//! fail: on a finite window its "density" piles its mass at the window's edges, which
//! `edge_mass` reports.
//!
//! μ is a density on a uniform grid; its predictions μ[F(·,x_q)] are the trapezoid rule
//! over the grid (weighted grid points given to [`Field::predictions`]), h and Σ come from
//! [`Field::drift`]; the integral of 2h/Σ̄ is cumulated by a fourth-order rule (exact for
//! cubics on every interval), so a smooth law is resolved far beyond the trapezoid's
//! second order.

use super::field::Field;
use super::model::{InitLaw, MeanFieldProgram};
use super::quadrature::{data_nodes, Particles};
use serde::Serialize;

/// How to find the stationary law.
#[derive(Clone, Debug, PartialEq)]
pub struct StationaryOptions {
    /// Grid points on the window (≥ 16).
    pub points: usize,
    /// The level of the quadrature of π.
    pub data_level: usize,
    /// The initial damping θ of μ ← (1−θ)μ + θH(μ) (halved whenever the change grows).
    pub damping: f64,
    /// Convergence: the L¹ change of one iteration below this.
    pub tolerance: f64,
    /// The most iterations per window.
    pub max_iter: usize,
    /// A fixed window [lo, hi]; `None` chooses it (see [`stationary_law`]).
    pub window: Option<(f64, f64)>,
}

impl Default for StationaryOptions {
    fn default() -> Self {
        StationaryOptions {
            points: 1201,
            data_level: 24,
            damping: 0.5,
            tolerance: 1e-12,
            max_iter: 2000,
            window: None,
        }
    }
}

/// The fixed point found, as a density on a grid.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StationaryLaw {
    /// The uniform grid.
    pub grid: Vec<f64>,
    /// The density at the grid points (integrating to 1 by the trapezoid rule).
    pub density: Vec<f64>,
    /// The CDF at the grid points (0 at the first, 1 at the last).
    pub cdf: Vec<f64>,
    /// The mean.
    pub mean: f64,
    /// The variance.
    pub variance: f64,
    /// Iterations of the last window's fixed-point iteration.
    pub iterations: usize,
    /// Whether the iteration converged (always, unless `sign` is not +1).
    pub converged: bool,
    /// The mass in the outer 2% of the window on both sides together: large means the
    /// density is not normalizable (the erratum's sign).
    pub edge_mass: f64,
}

impl StationaryLaw {
    /// The CDF at x: cubic Hermite interpolation between grid points with the density
    /// as the derivative (fourth order), 0 and 1 outside the window.
    pub fn cdf_at(&self, x: f64) -> f64 {
        let n = self.grid.len();
        if n < 2 || x <= self.grid[0] {
            return 0.0;
        }
        if x >= self.grid[n - 1] {
            return 1.0;
        }
        let dx = self.grid[1] - self.grid[0];
        let i = (((x - self.grid[0]) / dx).floor() as usize).min(n - 2);
        let s = (x - self.grid[i]) / dx;
        let (y0, y1) = (self.cdf[i], self.cdf[i + 1]);
        let (d0, d1) = (self.density[i] * dx, self.density[i + 1] * dx);
        let h00 = 2.0 * s * s * s - 3.0 * s * s + 1.0;
        let h10 = s * s * s - 2.0 * s * s + s;
        let h01 = -2.0 * s * s * s + 3.0 * s * s;
        let h11 = s * s * s - s * s;
        (h00 * y0 + h10 * d0 + h01 * y1 + h11 * d1).clamp(0.0, 1.0)
    }
}

/// Why there is no stationary law.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StationaryError {
    /// Prop. 5 is one-dimensional.
    #[error("the stationary law is computed for p = 1 only (this program has p = {dim})")]
    Dimension {
        /// The particle dimension.
        dim: usize,
    },
    /// An argument is out of range.
    #[error("bad stationary-law argument `{name}`: {detail}")]
    BadArgument {
        /// The argument.
        name: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// Σ̄ vanished or went negative somewhere on the window (Prop. 5 needs Σ ≥ σ̄² > 0).
    #[error("the noise covariance Σ is not positive at w = {at} (Prop. 5 needs Σ bounded below; add label noise)")]
    Degenerate {
        /// Where.
        at: f64,
    },
    /// A density or a field value was not finite.
    #[error("the fixed-point iteration produced non-finite values (at iteration {iteration})")]
    NonFinite {
        /// The iteration.
        iteration: usize,
    },
    /// No convergence within `max_iter`.
    #[error("the fixed-point iteration did not converge in {iterations} iterations (last L¹ change {change:.3e}); try a smaller damping or more iterations — or the law may not exist (V not strongly convex?)")]
    NotConverged {
        /// Iterations made.
        iterations: usize,
        /// The last change.
        change: f64,
    },
}

/// Prop. 5's fixed point for the program's unit, penalty and data with step γ and batch
/// M, `sign` = +1 (the correct zero-flux density) or −1 (the paper's printed erratum).
///
/// Without a fixed window, the first window is μ₀'s mean ± 12 standard deviations (± 12
/// for a point mass). After a solve, a window whose outer 2% holds more than 10⁻⁶ of the
/// mass is doubled about the law's mean (at most 3 times: an unnormalizable density
/// keeps its mass at the edges, and is returned so); otherwise the window is refitted
/// once to the law's mean ± 12 standard deviations, for resolution, and solved again.
pub fn stationary_law(
    prog: &MeanFieldProgram,
    gamma: f64,
    batch: u64,
    sign: f64,
    opts: &StationaryOptions,
) -> Result<StationaryLaw, StationaryError> {
    if prog.dim != 1 {
        return Err(StationaryError::Dimension { dim: prog.dim });
    }
    let bad = |name: &'static str, detail: String| StationaryError::BadArgument { name, detail };
    if !(gamma.is_finite() && gamma > 0.0) {
        return Err(bad("gamma", format!("{gamma} is not positive")));
    }
    if batch == 0 {
        return Err(bad("batch", "must be ≥ 1".into()));
    }
    if !(sign == 1.0 || sign == -1.0) {
        return Err(bad("sign", format!("{sign} is not ±1")));
    }
    if opts.points < 16 {
        return Err(bad("points", format!("{} < 16", opts.points)));
    }
    if !(opts.damping > 0.0 && opts.damping <= 1.0) {
        return Err(bad("damping", format!("{} is not in (0, 1]", opts.damping)));
    }
    if !(opts.tolerance.is_finite() && opts.tolerance > 0.0) {
        return Err(bad(
            "tolerance",
            format!("{} is not positive", opts.tolerance),
        ));
    }
    let solver = Solver {
        field: Field::new(prog),
        nodes: data_nodes(prog, opts.data_level.max(2)),
        scale: gamma / batch as f64,
        sign,
        opts,
    };
    if let Some((lo, hi)) = opts.window {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(bad("window", format!("[{lo}, {hi}] is not an interval")));
        }
        let start = (0.5 * (lo + hi), (hi - lo) / 24.0);
        return solver.solve(lo, hi, start);
    }
    let (mut centre, sd) = match &prog.init {
        InitLaw::Gaussian { mean, std } => (mean[0], *std),
        InitLaw::Point(at) => (at[0], 1.0),
        InitLaw::Sphere { radius } => (0.0, *radius),
    };
    if !(centre.is_finite() && sd.is_finite() && sd > 0.0) {
        return Err(bad(
            "init",
            "μ₀ needs a finite mean and a positive spread".into(),
        ));
    }
    let mut half = 12.0 * sd;
    let mut enlargements = 0;
    loop {
        let law = solver.solve(centre - half, centre + half, (centre, sd))?;
        if law.edge_mass > 1e-6 || !law.converged {
            if enlargements >= 3 {
                return Ok(law);
            }
            enlargements += 1;
            if law.mean.is_finite() {
                centre = law.mean;
            }
            half *= 2.0;
            continue;
        }
        // Refit the window to the law for resolution, and solve once more from it.
        let new_sd = law.variance.max(0.0).sqrt();
        if new_sd.is_nan() || new_sd <= 0.0 {
            return Ok(law);
        }
        let refit = solver.solve(
            law.mean - 12.0 * new_sd,
            law.mean + 12.0 * new_sd,
            (law.mean, new_sd),
        )?;
        return Ok(refit);
    }
}

/// The fixed-point iteration on one window.
struct Solver<'a> {
    field: Field,
    nodes: super::quadrature::Nodes,
    /// γ / M.
    scale: f64,
    sign: f64,
    opts: &'a StationaryOptions,
}

impl Solver<'_> {
    /// Iterates from a Gaussian (centre, sd) on [lo, hi]; non-convergence is an error
    /// for sign +1 and a returned law (converged = false) for the erratum.
    fn solve(&self, lo: f64, hi: f64, start: (f64, f64)) -> Result<StationaryLaw, StationaryError> {
        let n = self.opts.points;
        let dx = (hi - lo) / (n - 1) as f64;
        let grid: Vec<f64> = (0..n).map(|i| lo + dx * i as f64).collect();
        let trap: Vec<f64> = (0..n)
            .map(|i| if i == 0 || i == n - 1 { 0.5 * dx } else { dx })
            .collect();
        let (c, s) = start;
        let mut density: Vec<f64> = grid
            .iter()
            .map(|w| (-0.5 * ((w - c) / s).powi(2)).exp())
            .collect();
        normalize(&mut density, &trap).ok_or(StationaryError::NonFinite { iteration: 0 })?;
        let mut theta = self.opts.damping;
        let mut last = f64::INFINITY;
        let mut iterations = 0;
        let mut converged = false;
        while iterations < self.opts.max_iter {
            iterations += 1;
            let next = self.map(&grid, &trap, &density, dx, iterations)?;
            let change: f64 = next
                .iter()
                .zip(&density)
                .zip(&trap)
                .map(|((a, b), t)| t * (a - b).abs())
                .sum();
            if !change.is_finite() {
                return Err(StationaryError::NonFinite {
                    iteration: iterations,
                });
            }
            for (d, h) in density.iter_mut().zip(&next) {
                *d = (1.0 - theta) * *d + theta * h;
            }
            if change < self.opts.tolerance {
                converged = true;
                break;
            }
            // A growing change means the damped map overshoots (e.g. the mean's map has
            // slope < −1): damp harder.
            if change > last {
                theta = (theta * 0.5).max(1e-3);
            }
            last = change;
        }
        if !converged && self.sign > 0.0 {
            return Err(StationaryError::NotConverged {
                iterations,
                change: last,
            });
        }
        Ok(summarize(grid, density, &trap, iterations, converged))
    }

    /// H(μ) on the grid, for μ the grid density `density`.
    fn map(
        &self,
        grid: &[f64],
        trap: &[f64],
        density: &[f64],
        dx: f64,
        iteration: usize,
    ) -> Result<Vec<f64>, StationaryError> {
        let measure = Particles {
            w: vec![grid.to_vec()],
            weight: Some(density.iter().zip(trap).map(|(d, t)| d * t).collect()),
        };
        let slopes = self
            .field
            .loss_slopes(&self.field.predictions(&measure, &self.nodes), &self.nodes);
        let points = Particles {
            w: vec![grid.to_vec()],
            weight: None,
        };
        let values = self.field.drift(&points, &slopes, &self.nodes, true);
        let mut ratio = Vec::with_capacity(grid.len());
        for (k, w) in grid.iter().enumerate() {
            let sigma = self.scale * values.cov[k];
            if sigma.is_nan() || sigma <= 0.0 {
                return Err(if sigma.is_nan() {
                    StationaryError::NonFinite { iteration }
                } else {
                    StationaryError::Degenerate { at: *w }
                });
            }
            ratio.push(2.0 * values.drift[0][k] / sigma);
        }
        let integral = cumulative(&ratio, dx);
        let exponent: Vec<f64> = integral
            .iter()
            .enumerate()
            .map(|(k, i)| self.sign * i - (self.scale * values.cov[k]).ln())
            .collect();
        let top = exponent.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !top.is_finite() {
            return Err(StationaryError::NonFinite { iteration });
        }
        let mut next: Vec<f64> = exponent.iter().map(|e| (e - top).exp()).collect();
        normalize(&mut next, trap).ok_or(StationaryError::NonFinite { iteration })?;
        Ok(next)
    }
}

/// Scales `density` to integrate to 1 under the weights `trap`; `None` if impossible.
fn normalize(density: &mut [f64], trap: &[f64]) -> Option<()> {
    let mass: f64 = density.iter().zip(trap).map(|(d, t)| d * t).sum();
    if !(mass.is_finite() && mass > 0.0) {
        return None;
    }
    density.iter_mut().for_each(|d| *d /= mass);
    Some(())
}

/// ∫_{x_0}^{x_k} f at every grid point: on each interval the integral of the cubic
/// through the four nearest points, (dx/24)(−f_{i−1} + 13f_i + 13f_{i+1} − f_{i+2}) inside
/// and the one-sided cubic rules (dx/24)(9f_0 + 19f_1 − 5f_2 + f_3) at the ends.
fn cumulative(f: &[f64], dx: f64) -> Vec<f64> {
    let n = f.len();
    let mut out = vec![0.0; n];
    for i in 0..n - 1 {
        let piece = if n < 4 {
            0.5 * (f[i] + f[i + 1])
        } else if i == 0 {
            (9.0 * f[0] + 19.0 * f[1] - 5.0 * f[2] + f[3]) / 24.0
        } else if i == n - 2 {
            (9.0 * f[n - 1] + 19.0 * f[n - 2] - 5.0 * f[n - 3] + f[n - 4]) / 24.0
        } else {
            (-f[i - 1] + 13.0 * f[i] + 13.0 * f[i + 1] - f[i + 2]) / 24.0
        };
        out[i + 1] = out[i] + dx * piece;
    }
    out
}

fn summarize(
    grid: Vec<f64>,
    density: Vec<f64>,
    trap: &[f64],
    iterations: usize,
    converged: bool,
) -> StationaryLaw {
    let n = grid.len();
    let dx = grid[1] - grid[0];
    let mean: f64 = grid
        .iter()
        .zip(&density)
        .zip(trap)
        .map(|((w, d), t)| w * d * t)
        .sum();
    let variance: f64 = grid
        .iter()
        .zip(&density)
        .zip(trap)
        .map(|((w, d), t)| (w - mean).powi(2) * d * t)
        .sum();
    let mut cdf = cumulative(&density, dx);
    let total = cdf[n - 1];
    if total > 0.0 {
        cdf.iter_mut()
            .for_each(|c| *c = (*c / total).clamp(0.0, 1.0));
    }
    // The outer 2% of the window on each side, by the trapezoid weights (robust even
    // when nearly all the mass sits on the last grid point, where the cubic rules of
    // the CDF are meaningless).
    let edge = ((0.02 * (n - 1) as f64).round() as usize).max(1);
    let edge_mass: f64 = (0..n)
        .filter(|&k| k < edge || k > n - 1 - edge)
        .map(|k| density[k] * trap[k])
        .sum();
    StationaryLaw {
        grid,
        density,
        cdf,
        mean,
        variance,
        iterations,
        converged,
        edge_mass,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meanfield::model::test_programs::toy;
    use crate::meanfield::Loss;

    /// The toy's stationary law is N(m, v) with m = a/(1+λ) and v = γΣ(m)/(2λM),
    /// Σ(m) = 2(m − a)² + σ² (the SDE is an Ornstein–Uhlenbeck process given m).
    #[test]
    fn the_toy_fixed_point_is_the_gaussian_closed_form() {
        for (a, lambda, sigma) in [(0.5, 1.0, 0.5), (1.0, 0.5, 0.3), (-0.7, 2.0, 1.0)] {
            let prog = toy(a, lambda, sigma, Loss::Square);
            let gamma = 0.1;
            let law = stationary_law(&prog, gamma, 1, 1.0, &StationaryOptions::default()).unwrap();
            let m = a / (1.0 + lambda);
            let v = gamma * (2.0 * (m - a) * (m - a) + sigma * sigma) / (2.0 * lambda);
            eprintln!(
                "a {a} λ {lambda} σ {sigma}: mean {:.12} (closed form {m:.12}), variance {:.12} ({v:.12}), {} iterations, edge mass {:.1e}",
                law.mean, law.variance, law.iterations, law.edge_mass
            );
            assert!((law.mean - m).abs() < 1e-6 * m.abs(), "{} vs {m}", law.mean);
            assert!(
                (law.variance - v).abs() < 1e-6 * v,
                "{} vs {v}",
                law.variance
            );
            assert!(law.converged && law.edge_mass < 1e-12);
            let mut worst: f64 = 0.0;
            for k in -40..=40 {
                let x = m + v.sqrt() * k as f64 / 8.0;
                let want = 0.5 * (1.0 + crate::ir::erf((x - m) / (2.0 * v).sqrt()));
                worst = worst.max((law.cdf_at(x) - want).abs());
            }
            eprintln!("  worst CDF error {worst:.1e}");
            assert!(worst < 1e-8, "{worst}");
        }
    }

    #[test]
    fn the_printed_sign_is_not_normalizable() {
        let prog = toy(0.5, 1.0, 0.5, Loss::Square);
        match stationary_law(&prog, 0.1, 1, -1.0, &StationaryOptions::default()) {
            Ok(law) => {
                eprintln!(
                    "erratum: edge mass {:.3}, converged {}, mean {}",
                    law.edge_mass, law.converged, law.mean
                );
                // Σ̄ grows with the mean's distance to a, so the U-shaped "fixed point"
                // is self-similar in the window: about a third of the mass in the outer
                // 4% of every window (4% for a uniform law, 1e-30 for the right sign),
                // and its mean runs away with the window.
                assert!(law.edge_mass > 0.25, "{}", law.edge_mass);
                assert!(law.mean.abs() > 10.0, "{}", law.mean);
            }
            Err(e) => eprintln!("erratum: {e}"),
        }
    }

    #[test]
    fn only_one_dimension() {
        let prog = crate::meanfield::model::test_programs::tanh_teacher(
            crate::exponent::Rational::new(1.into(), 2.into()),
        );
        assert!(matches!(
            stationary_law(&prog, 0.1, 1, 1.0, &StationaryOptions::default()),
            Err(StationaryError::Dimension { dim: 2 })
        ));
    }
}
