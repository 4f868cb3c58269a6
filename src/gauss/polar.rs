//! Polar quadrature for E[F(G)] in whitened rank 2 when F has kinks or jumps on lines
//! through the origin (ReLU, step, relu^p, |x|, sign of linear combinations of G).
//!
//! With G = L z, z ~ N(0, I_2), write z = ρ ω with ρ ~ χ_2 (the norm) independent of the
//! direction ω = (cos φ, sin φ), uniform on the circle:
//!
//!   E[F(G)] = (1/2π) ∫_0^{2π} R(φ) dφ,   R(φ) = E_ρ[F(ρ L ω)].
//!
//! Along a ray from the origin a kink on a line through the origin is never crossed, so
//! ρ ↦ F(ρ L ω) is smooth on (0, ∞) (a polynomial for products of ReLUs and steps), and
//! the Gauss rule of the χ_2 law (weight ρ e^{−ρ²/2} on (0, ∞)) is exact or converges
//! geometrically. All non-smoothness is left to the angle: φ ↦ R(φ) is piecewise smooth
//! with kinks or jumps at a few angles, integrated by the adaptive panels of
//! [`super::adaptive`]. The panels start at 8 equal angles *and* at the angles where a
//! coordinate G_i changes sign (L_i·ω = 0): kinks of ReLU/step applied to coordinates,
//! the common case, then fall on panel ends, every panel is smooth, and even a thin
//! wedge between two nearly parallel kinks is resolved exactly.
//!
//! **Error estimate**: that of [`super::adaptive`], whose point error is here the radial
//! error |R_{2m}(φ) − R_m(φ)| (two radial orders; the value uses 2m). When the radial
//! error dominates after the initial panels, the radial order is doubled (up to 64).
//!
//! If F's non-smoothness is *not* on lines through the origin (e.g. relu(u − 1)), the
//! radial rule converges slowly; the radial error then stays large and is reported as
//! such (the dispatcher then also tries Monte Carlo).

use super::adaptive::{integrate, AdaptiveOptions, PointValue};
use super::error::GaussError;
use super::normal::Gaussian;
use super::recurrence::{gauss_legendre, gauss_rule, stieltjes, Rule};
use super::{Estimate, Method};
use std::collections::HashMap;
use std::f64::consts::PI;
use std::sync::{Mutex, OnceLock};

/// The largest radial rule (nodes) used.
pub(crate) const MAX_RADIAL_NODES: usize = 64;

/// Initial number of equal angular panels (before adding the coordinate sign-change
/// angles).
const INITIAL_PANELS: usize = 8;

/// The m-node Gauss rule of the χ_r distribution (density ∝ ρ^{r−1} e^{−ρ²/2} on
/// (0, ∞)), for 1 ≤ r ≤ 3 and 1 ≤ m ≤ [`MAX_RADIAL_NODES`].
///
/// Its recurrence coefficients have no closed form, so they are computed by the
/// Stieltjes procedure on a discretization of the density that is exact to rounding for
/// the polynomial degrees involved: composite 24-point Gauss–Legendre on 160 panels of
/// width 1/4 covering [0, 40] (beyond 40 the density is below e^{−800}). The
/// discretization is fine compared with the oscillation of the degree-128 polynomials
/// met at m = 64 (wavelength ≈ 0.3 near ρ ≈ 11), so the moments E[ρ^j], j ≤ 2m − 1, come
/// out exact to ~1e-14 (checked in the tests).
pub(crate) fn chi_rule(r: usize, m: usize) -> Rule {
    // Building a rule costs a few milliseconds and the same few are used over and over.
    static CACHE: OnceLock<Mutex<HashMap<(usize, usize), Rule>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    // A poisoned lock only means another thread panicked while inserting; the map
    // itself is still a valid cache of finished rules.
    if let Some(rule) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&(r, m)) {
        return rule.clone();
    }
    let rule = build_chi_rule(r, m);
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert((r, m), rule.clone());
    rule
}

/// [`chi_rule`] without the cache.
fn build_chi_rule(r: usize, m: usize) -> Rule {
    const PANELS: usize = 160;
    const WIDTH: f64 = 0.25;
    let gl = gauss_legendre(24);
    let mut points = Vec::with_capacity(PANELS * gl.nodes.len());
    let mut weights = Vec::with_capacity(PANELS * gl.nodes.len());
    for p in 0..PANELS {
        let a = p as f64 * WIDTH;
        for (&x, &w) in gl.nodes.iter().zip(&gl.weights) {
            let t = a + 0.5 * WIDTH * (x + 1.0);
            points.push(t);
            weights.push(w * t.powi(r as i32 - 1) * (-0.5 * t * t).exp());
        }
    }
    // Normalize to a probability measure (the discretization's own total, so that the
    // measure is exactly a probability).
    let total: f64 = weights.iter().sum();
    weights.iter_mut().for_each(|w| *w /= total);
    let (alpha, beta) = stieltjes(&points, &weights, m);
    gauss_rule(&alpha, &beta, false)
}

/// Radial integrals along one direction, per output.
struct Ray {
    /// E_ρ with the fine radial rule.
    fine: Vec<f64>,
    /// |fine − coarse|.
    diff: Vec<f64>,
    /// Σ c |F| with the fine rule (rounding scale).
    magnitude: Vec<f64>,
}

/// Evaluates F along rays.
struct RayEvaluator<'a> {
    gauss: &'a Gaussian,
    f: &'a dyn Fn(&[f64], &mut [f64]),
    outputs: usize,
    coarse: Rule,
    fine: Rule,
    direction: Vec<f64>,
    point: Vec<f64>,
    out: Vec<f64>,
}

impl<'a> RayEvaluator<'a> {
    fn new(
        gauss: &'a Gaussian,
        f: &'a dyn Fn(&[f64], &mut [f64]),
        outputs: usize,
        m: usize,
    ) -> Self {
        let r = gauss.rank();
        RayEvaluator {
            gauss,
            f,
            outputs,
            coarse: chi_rule(r, m),
            fine: chi_rule(r, 2 * m),
            direction: vec![0.0; gauss.dim()],
            point: vec![0.0; gauss.dim()],
            out: vec![0.0; outputs],
        }
    }

    /// Evaluations per ray.
    fn ray_cost(&self) -> u64 {
        (self.fine.nodes.len() + self.coarse.nodes.len()) as u64
    }

    /// Σ c F(ρ L ω) over the fine (`fine == true`) or coarse radial rule, accumulated
    /// into `acc`, and Σ c |F| into `mag` if given.
    fn radial(
        &mut self,
        fine: bool,
        acc: &mut [f64],
        mut mag: Option<&mut [f64]>,
    ) -> Result<(), GaussError> {
        let rule = if fine { &self.fine } else { &self.coarse };
        for (&rho, &c) in rule.nodes.iter().zip(&rule.weights) {
            for (p, &u) in self.point.iter_mut().zip(&self.direction) {
                *p = rho * u;
            }
            self.out.iter_mut().for_each(|x| *x = 0.0);
            (self.f)(&self.point, &mut self.out);
            for (o, &v) in self.out.iter().enumerate() {
                if !v.is_finite() {
                    return Err(GaussError::NonFiniteIntegrand {
                        value: v,
                        output: o,
                        point: self.point.clone(),
                    });
                }
                acc[o] += c * v;
                if let Some(m) = mag.as_deref_mut() {
                    m[o] += c * v.abs();
                }
            }
        }
        Ok(())
    }

    /// The radial integrals along the whitened direction `omega` (unit, length r).
    fn ray(&mut self, omega: &[f64]) -> Result<Ray, GaussError> {
        let mut dir = std::mem::take(&mut self.direction);
        self.gauss.map_into(omega, &mut dir);
        self.direction = dir;
        let mut fine = vec![0.0; self.outputs];
        let mut magnitude = vec![0.0; self.outputs];
        self.radial(true, &mut fine, Some(&mut magnitude))?;
        let mut coarse = vec![0.0; self.outputs];
        self.radial(false, &mut coarse, None)?;
        let diff = fine
            .iter()
            .zip(&coarse)
            .map(|(a, b)| (a - b).abs())
            .collect();
        Ok(Ray {
            fine,
            diff,
            magnitude,
        })
    }
}

/// The initial panel ends for rank 2: 8 equal angles and the angles where a coordinate
/// G_i = L_i·ω changes sign (ω ⟂ L_i), sorted, within [0, 2π].
fn initial_breaks(gauss: &Gaussian) -> Vec<f64> {
    let two_pi = 2.0 * PI;
    let mut breaks: Vec<f64> = (0..INITIAL_PANELS)
        .map(|p| two_pi * p as f64 / INITIAL_PANELS as f64)
        .collect();
    let l = gauss.factor();
    for row in l.rows() {
        let (x, y) = (row[0], row[1]);
        if x == 0.0 && y == 0.0 {
            continue; // G_i = 0: no sign change at all.
        }
        let normal = y.atan2(x);
        for shift in [0.5 * PI, 1.5 * PI] {
            breaks.push((normal + shift).rem_euclid(two_pi));
        }
    }
    breaks.sort_by(f64::total_cmp);
    // Angles equal up to rounding would make empty panels.
    breaks.dedup_by(|b, a| *b - *a <= 1e-14);
    breaks.retain(|&b| b < two_pi - 1e-14);
    breaks.push(two_pi);
    breaks
}

/// Polar quadrature for rank 2 (see the module documentation). Returns one estimate per
/// output; if the evaluation budget runs out before the tolerance is met, the errors are
/// larger than the tolerance but still honest estimates.
///
/// The caller guarantees rank 2 and `outputs ≥ 1`.
pub(crate) fn polar(
    gauss: &Gaussian,
    f: &dyn Fn(&[f64], &mut [f64]),
    outputs: usize,
    opts: &AdaptiveOptions,
    radial_nodes: usize,
) -> Result<Vec<Estimate>, GaussError> {
    let mut m = radial_nodes.clamp(1, MAX_RADIAL_NODES / 2);
    let breaks = initial_breaks(gauss);
    let mut spent = 0;
    loop {
        let mut ev = RayEvaluator::new(gauss, f, outputs, m);
        let cost = ev.ray_cost();
        let can_escalate = 2 * m <= MAX_RADIAL_NODES / 2;
        let mut eval = |phi: f64| -> Result<PointValue, GaussError> {
            let ray = ev.ray(&[phi.cos(), phi.sin()])?;
            Ok(PointValue {
                value: ray.fine,
                extra: ray.diff,
                magnitude: ray.magnitude,
            })
        };
        let scale = 1.0 / (2.0 * PI);
        let result = integrate(
            outputs,
            &breaks,
            scale,
            &mut eval,
            cost,
            &mut spent,
            opts,
            can_escalate,
        )?;
        let Some(integral) = result else {
            m *= 2;
            continue;
        };
        return Ok(integral
            .values
            .into_iter()
            .zip(integral.errors)
            .map(|(value, stderr)| Estimate {
                value,
                stderr,
                method: Method::Polar {
                    radial_nodes: 2 * m,
                    directions: integral.points,
                },
            })
            .collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi_rules_integrate_moments_exactly() {
        // E[ρ^j] for ρ ~ χ_r: M_0 = 1, M_1 = √2 Γ((r+1)/2)/Γ(r/2), M_{j+2} = (j + r) M_j.
        let first = [
            (2.0 / PI).sqrt(),
            (PI / 2.0).sqrt(),
            2.0 * (2.0 / PI).sqrt(),
        ];
        for r in 1..=3 {
            for m in [1, 4, 16, 64] {
                let rule = chi_rule(r, m);
                assert!(rule.nodes.iter().all(|&x| x > 0.0));
                let mut moments = vec![1.0, first[r - 1]];
                for j in 2..2 * m {
                    let next = (j - 2 + r) as f64 * moments[j - 2];
                    moments.push(next);
                }
                for (j, &exact) in moments.iter().enumerate().take(2 * m) {
                    let got: f64 = rule
                        .nodes
                        .iter()
                        .zip(&rule.weights)
                        .map(|(x, w)| w * x.powi(j as i32))
                        .sum();
                    assert!(
                        (got - exact).abs() <= 1e-12 * exact,
                        "r={r} m={m} j={j}: {got} vs {exact}"
                    );
                }
            }
        }
    }
}
