//! Closed-form Gaussian expectations of ReLU, its derivative (the step function) and erf.
//!
//! Conventions shared by every function here:
//! - arguments are *variances and covariances*: Z ~ N(0, var), and
//!   (u, v) ~ N(0, [[k11, k12], [k12, k22]]);
//! - `step(x) = 1{x > 0}` (ReLU's derivative, as `ir::Func::Step` defines it), so a
//!   zero-variance argument (u = 0 almost surely) gives step(u) = 0;
//! - inputs are forgiven their rounding: a negative variance counts as 0 and the
//!   correlation k12/√(k11 k22) is clamped into [−1, 1] (for erf, |k12| is clamped to
//!   √(k11 k22)); finite inputs therefore always give finite results. A NaN input gives
//!   a NaN result (it is never silently turned into a number).
//!
//! The 2 × 2 kernels are what an NNGP/NTK recursion applies entrywise to a Gram matrix
//! (see [`super::kernels`]).

use std::f64::consts::PI;

/// A variance with rounding-level negative values mapped to 0 (NaN stays NaN).
fn variance(v: f64) -> f64 {
    if v < 0.0 {
        0.0
    } else {
        v
    }
}

/// E[Z^p] for Z ~ N(0, var): var^{p/2}·(p − 1)!! for even p, 0 for odd p.
///
/// Source: the moment generating function e^{var t²/2}; (p − 1)!! = 1·3·5⋯(p − 1).
pub fn normal_moment(var: f64, p: u32) -> f64 {
    if p % 2 == 1 {
        return 0.0;
    }
    let var = variance(var);
    let double_factorial: f64 = (1..p).step_by(2).map(f64::from).product();
    var.powi(p as i32 / 2) * double_factorial
}

/// E[relu(Z)] = σ/√(2π) for Z ~ N(0, σ²), σ² = `var`.
///
/// Source: Hajjar, thesis App. A.14.1 (reference notes §5); ∫_0^∞ z e^{−z²/2σ²} dz = σ².
pub fn relu_mean(var: f64) -> f64 {
    (variance(var) / (2.0 * PI)).sqrt()
}

/// E[relu(Z)²] = σ²/2 for Z ~ N(0, σ²), σ² = `var` (half of E\[Z²\], by symmetry).
///
/// Source: Hajjar, thesis App. A.14.2 (reference notes §5).
pub fn relu_second_moment(var: f64) -> f64 {
    variance(var) / 2.0
}

/// E[step(Z)] = P(Z > 0) = 1/2 for var > 0, and 0 for var = 0 (Z = 0 and step(0) = 0).
///
/// Source: Hajjar, thesis App. A.14.4 (reference notes §5).
pub fn step_mean(var: f64) -> f64 {
    let var = variance(var);
    if var > 0.0 {
        0.5
    } else if var == 0.0 {
        0.0
    } else {
        f64::NAN
    }
}

/// The angle θ = arccos(k12/√(k11 k22)) ∈ [0, π] between u and v, with the cosine
/// clamped into [−1, 1]; `None` when a variance is 0 (the angle is undefined).
fn angle(k11: f64, k12: f64, k22: f64) -> Option<f64> {
    let (k11, k22) = (variance(k11), variance(k22));
    if k11 == 0.0 || k22 == 0.0 {
        return None;
    }
    let cos = (k12 / (k11 * k22).sqrt()).clamp(-1.0, 1.0);
    Some(cos.acos())
}

/// E[relu(u) relu(v)] for (u, v) ~ N(0, [[k11, k12], [k12, k22]]): the degree-1
/// arc-cosine kernel
///
///   √(k11 k22)/(2π) · (sin θ + (π − θ) cos θ),   θ = arccos(k12/√(k11 k22)).
///
/// Source: Cho & Saul (2009), "Kernel methods for deep learning", the arc-cosine kernel
/// of degree n = 1 with J_1(θ) = sin θ + (π − θ) cos θ; their k_1 = ‖x‖‖y‖ J_1/π carries
/// a factor 2 in front of the Gaussian integral, hence 2π here. Checks: θ = 0 gives
/// k11/2 = E[relu(u)²]; θ = π/2 gives √(k11 k22)/(2π) = E[relu(u)]E[relu(v)]; θ = π
/// gives 0. A zero variance gives 0.
pub fn relu_kernel(k11: f64, k12: f64, k22: f64) -> f64 {
    match angle(k11, k12, k22) {
        Some(theta) => {
            let norm = (variance(k11) * variance(k22)).sqrt();
            norm / (2.0 * PI) * (theta.sin() + (PI - theta) * theta.cos())
        }
        None if k11.is_nan() || k12.is_nan() || k22.is_nan() => f64::NAN,
        None => 0.0,
    }
}

/// E[step(u) step(v)] = P(u > 0, v > 0) = (π − θ)/(2π), θ = arccos(k12/√(k11 k22)):
/// the degree-0 arc-cosine kernel, i.e. the derivative kernel E[relu'(u) relu'(v)] of the
/// ReLU NTK recursion.
///
/// Source: Cho & Saul (2009), J_0(θ) = π − θ (Sheppard's formula for the orthant
/// probability of a bivariate normal). A zero variance gives 0 (that argument is 0 and
/// step(0) = 0).
pub fn step_kernel(k11: f64, k12: f64, k22: f64) -> f64 {
    match angle(k11, k12, k22) {
        Some(theta) => (PI - theta) / (2.0 * PI),
        None if k11.is_nan() || k12.is_nan() || k22.is_nan() => f64::NAN,
        None => 0.0,
    }
}

/// E[erf(u) erf(v)] = (2/π) arcsin(2 k12 / √((1 + 2 k11)(1 + 2 k22))): the arcsine kernel.
///
/// Source: Williams (1997), "Computing with infinite networks", the erf-network kernel
/// (2/π) arcsin(2x̃ᵀΣỹ/√((1 + 2x̃ᵀΣx̃)(1 + 2ỹᵀΣỹ))) written with the pre-activation
/// covariances k11 = x̃ᵀΣx̃, k12 = x̃ᵀΣỹ, k22 = ỹᵀΣỹ. The arcsine argument is clamped into
/// [−1, 1] (it can only leave it through rounding, since |2k12| ≤ 2√(k11k22) <
/// √((1+2k11)(1+2k22))). Checks: k12 = 0 gives 0; k11 = k12 = k22 = k gives E[erf(u)²]
/// = (2/π) arcsin(2k/(1+2k)) → 1 as k → ∞.
pub fn erf_kernel(k11: f64, k12: f64, k22: f64) -> f64 {
    let (k11, k22) = (variance(k11), variance(k22));
    let arg = 2.0 * k12 / ((1.0 + 2.0 * k11) * (1.0 + 2.0 * k22)).sqrt();
    2.0 / PI * arg.clamp(-1.0, 1.0).asin()
}

/// E[erf(Z)²] for Z ~ N(0, var): the diagonal of [`erf_kernel`],
/// (2/π) arcsin(2 var / (1 + 2 var)).
pub fn erf_second_moment(var: f64) -> f64 {
    erf_kernel(var, var, var)
}

/// E[erf'(u) erf'(v)] = (4/π) / √((1 + 2 k11)(1 + 2 k22) − 4 k12²), with erf'(x) =
/// (2/√π) e^{−x²}: the derivative kernel of the erf NTK recursion.
///
/// Source: the Gaussian integral (4/π) E[e^{−u²−v²}] = (4/π) det(I + 2K)^{−1/2}, the
/// standard computation behind Williams (1997). |k12| is clamped to √(k11 k22), so the
/// determinant is at least 1 + 2k11 + 2k22 > 0. Checks: K = 0 gives (2/√π)² = 4/π.
pub fn erf_derivative_kernel(k11: f64, k12: f64, k22: f64) -> f64 {
    let (k11, k22) = (variance(k11), variance(k22));
    let bound = (k11 * k22).sqrt();
    let k12 = k12.clamp(-bound, bound);
    let det = (1.0 + 2.0 * k11) * (1.0 + 2.0 * k22) - 4.0 * k12 * k12;
    4.0 / PI / det.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arc_cosine_special_angles() {
        let (a, b): (f64, f64) = (2.0, 0.5);
        let n = (a * b).sqrt();
        assert!((relu_kernel(a, n, b) - n / 2.0).abs() < 1e-15); // θ = 0
        assert!((relu_kernel(a, 0.0, b) - n / (2.0 * PI)).abs() < 1e-15); // θ = π/2
        assert!(relu_kernel(a, -n, b).abs() < 1e-15); // θ = π
        assert_eq!(step_kernel(a, n, b), 0.5);
        assert_eq!(step_kernel(a, 0.0, b), 0.25);
        assert_eq!(step_kernel(a, -n, b), 0.0);
    }

    #[test]
    fn degenerate_inputs_are_clamped_not_nan() {
        // |k12| slightly beyond √(k11 k22) through rounding.
        assert!(relu_kernel(1.0, 1.0 + 1e-12, 1.0).is_finite());
        assert!(step_kernel(1.0, -1.0 - 1e-12, 1.0).is_finite());
        assert!(erf_derivative_kernel(1.0, 1.0 + 1e-12, 1.0).is_finite());
        assert_eq!(relu_kernel(0.0, 0.0, 3.0), 0.0);
        assert_eq!(step_kernel(3.0, 0.0, 0.0), 0.0);
        assert_eq!(relu_mean(-1e-18), 0.0);
        assert_eq!(step_mean(0.0), 0.0);
        assert!(relu_kernel(f64::NAN, 0.0, 1.0).is_nan());
        assert!(step_mean(f64::NAN).is_nan());
        assert!((erf_derivative_kernel(0.0, 0.0, 0.0) - 4.0 / PI).abs() < 1e-15);
    }

    #[test]
    fn normal_moments() {
        assert_eq!(normal_moment(2.0, 4), 3.0 * 4.0);
        assert_eq!(normal_moment(2.0, 6), 15.0 * 8.0);
        assert_eq!(normal_moment(2.0, 5), 0.0);
        assert_eq!(normal_moment(2.0, 0), 1.0);
    }
}
