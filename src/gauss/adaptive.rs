//! Globally adaptive one-dimensional integration with nested Clenshaw–Curtis panels,
//! used over the angle of the polar rule and over the line for rank-1 Gaussians.
//!
//! The interval is cut at given break points (where the integrand is expected to have
//! kinks or jumps). On each panel, nested Clenshaw–Curtis rules with 7 and 13 points
//! (endpoints included, so that a jump anywhere in the panel changes the two values
//! differently) give a value and |Q₁₃ − Q₇|; the panel with the largest error relative
//! to its output's target is bisected until the total error meets the tolerance or half
//! the evaluation budget is spent.
//!
//! **Error estimate** (per output), the sum of
//! - Σ_panels |Q₁₃ − Q₇|, which overstates the error of Q₁₃ on smooth panels;
//! - the integral of the point evaluations' own error (`extra`, e.g. the radial error of
//!   the polar rule);
//! - a final check: every panel is bisected once more and the reported value is the
//!   bisected total; the difference from the unbisected total is added (for a panel with
//!   a kink not at its ends, bisection cuts the error about fourfold, so this difference
//!   is about the error of the unbisected total and bounds that of the bisected one);
//! - a rounding floor.
//!
//! A feature narrower than the node spacing and not at a break point can be missed
//! entirely, as by any method that samples the integrand.

use super::error::GaussError;
use super::normal::Gaussian;
use super::{Estimate, Method};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::f64::consts::PI;

/// Clenshaw–Curtis order of the fine rule on a panel (N + 1 = 13 points); the coarse
/// rule uses every other point (N/2 + 1 = 7).
const CC_ORDER: usize = 12;

/// Clenshaw–Curtis weights of order n (even) for the uniform probability on [−1, 1]:
/// w_j = (c_j / 2n) (1 − Σ_{k=1}^{n/2} b_k cos(2kjπ/n) / (4k² − 1)), with c_j = 1 at the
/// ends and 2 inside, b_k = 1 for k = n/2 and 2 otherwise (the classical closed form,
/// e.g. Waldvogel 2006, halved for unit mass).
fn clenshaw_curtis_weights(n: usize) -> Vec<f64> {
    (0..=n)
        .map(|j| {
            let c = if j == 0 || j == n { 1.0 } else { 2.0 };
            let sum: f64 = (1..=n / 2)
                .map(|k| {
                    let b = if 2 * k == n { 1.0 } else { 2.0 };
                    let kf = k as f64;
                    b * (2.0 * kf * j as f64 * PI / n as f64).cos() / (4.0 * kf * kf - 1.0)
                })
                .sum();
            c / (2.0 * n as f64) * (1.0 - sum)
        })
        .collect()
}

/// Nested Clenshaw–Curtis rules on [−1, 1] as probability weights: N + 1 points
/// x_j = cos(jπ/N), fine weights for all of them and coarse weights (the N/2 rule) on the
/// even j, zero elsewhere.
struct NestedCc {
    nodes: Vec<f64>,
    fine: Vec<f64>,
    coarse: Vec<f64>,
}

impl NestedCc {
    fn new(n: usize) -> Self {
        // The end nodes are moved inside by 1e-10 of the half-width: panel ends are often
        // exactly on a kink (a break point), where a step function's value is decided by
        // rounding; just inside, every sign is that of the panel (the offset dwarfs the
        // rounding of the point's coordinates). The rule's error from the shift is about
        // 1e-10 × w_end × |f'| × width, negligible.
        let inset = 1.0 - 1e-10;
        let nodes = (0..=n)
            .map(|j| match j {
                0 => inset,
                j if j == n => -inset,
                j => (j as f64 * PI / n as f64).cos(),
            })
            .collect();
        let fine = clenshaw_curtis_weights(n);
        let half = clenshaw_curtis_weights(n / 2);
        let coarse = (0..=n)
            .map(|j| if j % 2 == 0 { half[j / 2] } else { 0.0 })
            .collect();
        NestedCc {
            nodes,
            fine,
            coarse,
        }
    }
}

/// What an integrand returns at one point, per output.
pub(crate) struct PointValue {
    /// The integrand's value.
    pub value: Vec<f64>,
    /// An error bound on `value` itself (0 when it is exact).
    pub extra: Vec<f64>,
    /// |value| before any cancellation inside it (the rounding scale).
    pub magnitude: Vec<f64>,
}

/// Tolerances and budget of [`integrate`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdaptiveOptions {
    pub abs_tol: f64,
    pub rel_tol: f64,
    /// Largest number of integrand evaluations (as counted by the caller's `spent`).
    pub max_evaluations: u64,
}

/// The result of [`integrate`]: value, total error and the integrated `extra` error, per
/// output, and the number of points evaluated.
pub(crate) struct Integral {
    pub values: Vec<f64>,
    pub errors: Vec<f64>,
    pub points: u64,
}

/// One panel [a, b] and its two rule values, per output.
#[derive(Clone, Debug)]
struct Panel {
    a: f64,
    b: f64,
    value: Vec<f64>,
    rule_err: Vec<f64>,
    extra_err: Vec<f64>,
    magnitude: Vec<f64>,
    /// Bisection priority: the largest error relative to the output's target.
    priority: f64,
}

impl Panel {
    /// The panel's total error estimate for output o.
    fn error(&self, o: usize) -> f64 {
        self.rule_err[o] + self.extra_err[o] + floor(self.magnitude[o])
    }
}

impl PartialEq for Panel {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Panel {}
impl PartialOrd for Panel {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Panel {
    fn cmp(&self, other: &Self) -> Ordering {
        // Ties broken by position so that the order (and so the result) is deterministic.
        self.priority
            .total_cmp(&other.priority)
            .then_with(|| other.a.total_cmp(&self.a))
    }
}

/// Rounding floor for a sum of terms of total size `magnitude`.
fn floor(magnitude: f64) -> f64 {
    64.0 * f64::EPSILON * magnitude
}

/// The integrator's state: the rule, the integrand and the evaluation count.
struct Integrator<'a> {
    cc: NestedCc,
    outputs: usize,
    scale: f64,
    eval: &'a mut dyn FnMut(f64) -> Result<PointValue, GaussError>,
    points: u64,
}

impl Integrator<'_> {
    /// Both rules on [a, b] (values are scale × ∫_a^b).
    fn panel(&mut self, a: f64, b: f64) -> Result<Panel, GaussError> {
        let n = self.outputs;
        let half = 0.5 * (b - a);
        let mid = 0.5 * (a + b);
        // The weights are for the uniform probability on [−1, 1], i.e. ∫_a^b f ≈
        // (b − a) Σ w_j f(x_j).
        let share = self.scale * (b - a);
        let mut value = vec![0.0; n];
        let mut coarse = vec![0.0; n];
        let mut extra_err = vec![0.0; n];
        let mut magnitude = vec![0.0; n];
        for j in 0..self.cc.nodes.len() {
            let (x, wf, wc) = (self.cc.nodes[j], self.cc.fine[j], self.cc.coarse[j]);
            let p = (self.eval)(mid + half * x)?;
            self.points += 1;
            for o in 0..n {
                value[o] += share * wf * p.value[o];
                coarse[o] += share * wc * p.value[o];
                extra_err[o] += share * wf * p.extra[o];
                magnitude[o] += share * wf * p.magnitude[o];
            }
        }
        let rule_err = value
            .iter()
            .zip(&coarse)
            .map(|(f, c)| (f - c).abs())
            .collect();
        Ok(Panel {
            a,
            b,
            value,
            rule_err,
            extra_err,
            magnitude,
            priority: 0.0,
        })
    }
}

/// scale × ∫ f over [breaks[0], breaks.last()] for a vector-valued f given point by point
/// by `eval`, adaptively (see the module documentation).
///
/// `cost_per_point` integrand evaluations are charged to `spent` per point. With
/// `extra_limit`, integration stops right after the initial panels and returns `None`
/// when some output's integrated `extra` error exceeds a quarter of its target: the
/// point evaluations themselves are then too coarse, and more panels would not help.
#[allow(clippy::too_many_arguments)]
pub(crate) fn integrate(
    outputs: usize,
    breaks: &[f64],
    scale: f64,
    eval: &mut dyn FnMut(f64) -> Result<PointValue, GaussError>,
    cost_per_point: u64,
    spent: &mut u64,
    opts: &AdaptiveOptions,
    extra_limit: bool,
) -> Result<Option<Integral>, GaussError> {
    let n = outputs;
    let cc = NestedCc::new(CC_ORDER);
    let panel_points = cc.nodes.len() as u64;
    let mut it = Integrator {
        cc,
        outputs,
        scale,
        eval,
        points: 0,
    };
    let target = |v: f64| opts.abs_tol + opts.rel_tol * v.abs();

    let mut panels = Vec::with_capacity(breaks.len());
    for w in breaks.windows(2) {
        panels.push(it.panel(w[0], w[1])?);
    }
    let mut value = vec![0.0; n];
    let mut extra = vec![0.0; n];
    let mut error = vec![0.0; n];
    for p in &panels {
        for o in 0..n {
            value[o] += p.value[o];
            extra[o] += p.extra_err[o];
            error[o] += p.error(o);
        }
    }
    let charged = |points: u64| *spent + points * cost_per_point;
    if extra_limit && (0..n).any(|o| extra[o] > 0.25 * target(value[o])) {
        *spent = charged(it.points);
        return Ok(None);
    }
    let prioritize = |mut p: Panel, value: &[f64]| {
        p.priority = (0..n)
            .map(|o| (p.rule_err[o] + p.extra_err[o]) / target(value[o]).max(f64::MIN_POSITIVE))
            .fold(0.0, f64::max);
        p
    };
    let mut heap: BinaryHeap<Panel> = panels.into_iter().map(|p| prioritize(p, &value)).collect();

    // Adaptive bisection, keeping half of the budget for the final check.
    let split_cost = 2 * panel_points * cost_per_point;
    loop {
        let done = (0..n).all(|o| error[o] <= target(value[o]));
        if done || 2 * (charged(it.points) + split_cost) > opts.max_evaluations {
            break;
        }
        let Some(worst) = heap.pop() else { break };
        let mid = 0.5 * (worst.a + worst.b);
        // Below this width the halves are no longer distinct intervals in floating point.
        if !(mid > worst.a && mid < worst.b) || worst.b - worst.a <= 1e-12 * worst.a.abs().max(1.0)
        {
            heap.push(worst);
            break;
        }
        let left = it.panel(worst.a, mid)?;
        let right = it.panel(mid, worst.b)?;
        for o in 0..n {
            value[o] += left.value[o] + right.value[o] - worst.value[o];
            error[o] += left.error(o) + right.error(o) - worst.error(o);
        }
        heap.push(prioritize(left, &value));
        heap.push(prioritize(right, &value));
    }

    // The bisection check. Panels are processed in order of position so that the sums
    // do not depend on the heap's internal layout.
    let mut panels = heap.into_vec();
    panels.sort_by(|p, q| p.a.total_cmp(&q.a));
    let mut before = vec![0.0; n];
    let mut after = vec![0.0; n];
    let mut errors = vec![0.0; n];
    for p in &panels {
        let mid = 0.5 * (p.a + p.b);
        let halves = if mid > p.a && mid < p.b {
            vec![it.panel(p.a, mid)?, it.panel(mid, p.b)?]
        } else {
            vec![p.clone()]
        };
        for o in 0..n {
            before[o] += p.value[o];
            for h in &halves {
                after[o] += h.value[o];
                errors[o] += h.error(o);
            }
        }
    }
    for o in 0..n {
        errors[o] += (after[o] - before[o]).abs();
    }
    *spent = charged(it.points);
    Ok(Some(Integral {
        values: after,
        errors,
        points: it.points,
    }))
}

/// Half-width of the line integrated over for rank 1: the standard normal density is
/// below e^{−800} beyond it, negligible against any integrand of at most exponential
/// growth.
const LINE_HALF_WIDTH: f64 = 40.0;

/// E[F(G)] for a rank-1 Gaussian, G = L z with z ~ N(0, 1): ∫ F(L z) φ(z) dz by adaptive
/// panels on [−40, 40], with break points at 0 (where every coordinate of G changes
/// sign, so kinks of ReLU/step of coordinates fall on a panel end) and at ±1, ±2, ±4,
/// ±6, ±10 (to start with panels adapted to the density's scale).
///
/// The caller guarantees rank 1 and `outputs ≥ 1`.
pub(crate) fn rank_one(
    gauss: &Gaussian,
    f: &dyn Fn(&[f64], &mut [f64]),
    outputs: usize,
    opts: &AdaptiveOptions,
) -> Result<Vec<Estimate>, GaussError> {
    let mut breaks: Vec<f64> = [1.0, 2.0, 4.0, 6.0, 10.0, LINE_HALF_WIDTH]
        .iter()
        .flat_map(|&x| [-x, x])
        .chain([0.0])
        .collect();
    breaks.sort_by(f64::total_cmp);
    let mut point = vec![0.0; gauss.dim()];
    let mut out = vec![0.0; outputs];
    let density_norm = 1.0 / (2.0 * PI).sqrt();
    let mut eval = |z: f64| -> Result<PointValue, GaussError> {
        gauss.map_into(&[z], &mut point);
        out.iter_mut().for_each(|x| *x = 0.0);
        f(&point, &mut out);
        let density = density_norm * (-0.5 * z * z).exp();
        let mut value = vec![0.0; outputs];
        let mut magnitude = vec![0.0; outputs];
        for (o, &v) in out.iter().enumerate() {
            if !v.is_finite() {
                return Err(GaussError::NonFiniteIntegrand {
                    value: v,
                    output: o,
                    point: point.clone(),
                });
            }
            value[o] = v * density;
            magnitude[o] = v.abs() * density;
        }
        Ok(PointValue {
            value,
            extra: vec![0.0; outputs],
            magnitude,
        })
    };
    let mut spent = 0;
    let integral = integrate(outputs, &breaks, 1.0, &mut eval, 1, &mut spent, opts, false)?.ok_or(
        GaussError::BadParameter {
            detail: "internal: line integration asked for escalation".into(),
        },
    )?;
    Ok(integral
        .values
        .into_iter()
        .zip(integral.errors)
        .map(|(value, stderr)| Estimate {
            value,
            stderr,
            method: Method::Adaptive {
                points: integral.points,
            },
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clenshaw_curtis_weights_integrate_polynomials() {
        for n in [2, 6, 12] {
            let w = clenshaw_curtis_weights(n);
            let x: Vec<f64> = (0..=n).map(|j| (j as f64 * PI / n as f64).cos()).collect();
            assert!(w.iter().all(|&w| w > 0.0));
            // Exact for degree ≤ n (n + 1 for the odd degree by symmetry): E[x^{2j}] =
            // 1/(2j + 1) under the uniform probability on [−1, 1].
            for j in 0..=n / 2 {
                let got: f64 = x
                    .iter()
                    .zip(&w)
                    .map(|(x, w)| w * x.powi(2 * j as i32))
                    .sum();
                assert!(
                    (got - 1.0 / (2 * j + 1) as f64).abs() < 1e-15,
                    "n={n} j={j}"
                );
            }
        }
    }
}
