//! Gauss quadrature rules from the three-term recurrence of the orthogonal polynomials of
//! a probability measure (the Golub–Welsch setting), shared by the Gauss–Hermite,
//! Gauss–Legendre and radial (chi-distribution) rules.
//!
//! With orthonormal polynomials p_{−1} = 0, p_0 = 1 and
//!
//!   √β_{n+1} p_{n+1}(x) = (x − α_n) p_n(x) − √β_n p_{n−1}(x),
//!
//! the k nodes are the eigenvalues of the symmetric tridiagonal Jacobi matrix with
//! diagonal α_0 … α_{k−1} and off-diagonal √β_1 … √β_{k−1} (Golub & Welsch 1969). They are
//! located by Sturm-sequence bisection (the count of negative LDLᵀ pivots of J − xI is the
//! number of eigenvalues below x), which cannot miss or duplicate an eigenvalue, and are
//! then polished by Newton's method on p_k. The weights come from the Christoffel
//! function, w_i = 1 / Σ_{j<k} p_j(x_i)², which keeps full relative accuracy for the tiny
//! weights of outer nodes (the eigenvector route loses it).

/// A Gauss rule for a probability measure: increasing nodes, positive weights summing
/// to 1 (up to rounding).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Rule {
    pub nodes: Vec<f64>,
    pub weights: Vec<f64>,
}

/// The k-node Gauss rule of the measure with recurrence coefficients `alpha[0..k]` and
/// `beta[1..k]` (`beta[0]`, the total mass, is taken to be 1). With `symmetric` (all α
/// zero, a measure symmetric about 0), only the nonnegative nodes are computed and the
/// rule is mirrored, so that it is exactly symmetric.
///
/// The caller guarantees `alpha.len() == k ≥ 1`, `beta.len() ≥ k` and β_n > 0.
pub(crate) fn gauss_rule(alpha: &[f64], beta: &[f64], symmetric: bool) -> Rule {
    let k = alpha.len();
    let (lo, hi) = gershgorin(alpha, beta);
    let first = if symmetric { k.div_ceil(2) } else { 0 };
    let mut found: Vec<f64> = (first..k)
        .map(|m| newton_polish(alpha, beta, bisect(alpha, beta, m, lo, hi)))
        .collect();
    if symmetric {
        let mut nodes: Vec<f64> = found.iter().rev().map(|x| -x).collect();
        if k % 2 == 1 {
            nodes.push(0.0);
        }
        nodes.extend(found.iter().copied());
        found = nodes;
    }
    let weights = found.iter().map(|&x| christoffel(alpha, beta, x)).collect();
    Rule {
        nodes: found,
        weights,
    }
}

/// An interval containing every eigenvalue of the Jacobi matrix (Gershgorin discs).
fn gershgorin(alpha: &[f64], beta: &[f64]) -> (f64, f64) {
    let k = alpha.len();
    let off = |i: usize| if i >= 1 && i < k { beta[i].sqrt() } else { 0.0 };
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for (i, &a) in alpha.iter().enumerate() {
        let radius = off(i) + off(i + 1);
        lo = lo.min(a - radius);
        hi = hi.max(a + radius);
    }
    let pad = 1.0 + 1e-3 * (hi - lo);
    (lo - pad, hi + pad)
}

/// The number of eigenvalues below x (Sturm count).
fn count_below(alpha: &[f64], beta: &[f64], x: f64) -> usize {
    // A zero pivot would make the next one infinite; nudging it by a rounding-level
    // amount is the standard remedy and does not change the count away from ties.
    let tiny = f64::EPSILON * (x.abs() + 1.0);
    let mut d = alpha[0] - x;
    let mut count = usize::from(d < 0.0);
    for i in 1..alpha.len() {
        if d == 0.0 {
            d = -tiny;
        }
        d = alpha[i] - x - beta[i] / d;
        count += usize::from(d < 0.0);
    }
    count
}

/// Eigenvalue number m (0-based, increasing) by bisection in [lo, hi].
fn bisect(alpha: &[f64], beta: &[f64], m: usize, mut lo: f64, mut hi: f64) -> f64 {
    // Each step halves the interval; the loop ends when the midpoint is no longer
    // representable strictly inside, i.e. at ulp resolution. The cap only guards
    // against a non-terminating loop.
    for _ in 0..2000 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if count_below(alpha, beta, mid) > m {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    0.5 * (lo + hi)
}

/// (p_k(x)·√β_k, its derivative): the degree-k orthonormal polynomial up to the constant
/// √β_k (which does not change its zeros or the Newton step, and needs no β_k).
fn last_polynomial(alpha: &[f64], beta: &[f64], x: f64) -> (f64, f64) {
    let k = alpha.len();
    let (mut p_prev, mut p) = (0.0, 1.0);
    let (mut d_prev, mut d) = (0.0, 0.0);
    for n in 0..k {
        let sb = if n >= 1 { beta[n].sqrt() } else { 0.0 };
        let mut p_next = (x - alpha[n]) * p - sb * p_prev;
        let mut d_next = p + (x - alpha[n]) * d - sb * d_prev;
        if n + 1 < k {
            let s = beta[n + 1].sqrt();
            p_next /= s;
            d_next /= s;
        }
        p_prev = p;
        p = p_next;
        d_prev = d;
        d = d_next;
    }
    (p, d)
}

/// Newton's method on p_k from a bisection estimate; a step is kept only if it is tiny,
/// so a converged bisection value can never be made worse.
fn newton_polish(alpha: &[f64], beta: &[f64], guess: f64) -> f64 {
    let mut x = guess;
    for _ in 0..3 {
        let (p, dp) = last_polynomial(alpha, beta, x);
        if dp == 0.0 {
            break;
        }
        let step = p / dp;
        if step.is_nan() || step.abs() > 1e-8 * (1.0 + x.abs()) {
            break;
        }
        x -= step;
        if step.abs() <= f64::EPSILON * (1.0 + x.abs()) {
            break;
        }
    }
    x
}

/// The Christoffel weight 1 / Σ_{j<k} p_j(x)².
fn christoffel(alpha: &[f64], beta: &[f64], x: f64) -> f64 {
    let k = alpha.len();
    let (mut p_prev, mut p) = (0.0, 1.0);
    let mut sum = 1.0;
    for n in 0..k.saturating_sub(1) {
        let sb = if n >= 1 { beta[n].sqrt() } else { 0.0 };
        let next = ((x - alpha[n]) * p - sb * p_prev) / beta[n + 1].sqrt();
        p_prev = p;
        p = next;
        sum += p * p;
    }
    1.0 / sum
}

/// The k-node Gauss–Legendre rule for the uniform probability measure on [−1, 1]
/// (recurrence α_n = 0, β_n = n²/(4n² − 1)).
pub(crate) fn gauss_legendre(k: usize) -> Rule {
    let alpha = vec![0.0; k];
    let beta: Vec<f64> = (0..k)
        .map(|n| {
            let n = n as f64;
            n * n / (4.0 * n * n - 1.0)
        })
        .collect();
    gauss_rule(&alpha, &beta, true)
}

/// Recurrence coefficients (α_0…α_{k−1}, β_0…β_{k−1}) of a discrete probability measure
/// Σ_j v_j δ_{t_j} by the Stieltjes procedure with orthonormal vectors (Gautschi 2004,
/// §2.2.3; normalizing at every step keeps the values from overflowing).
///
/// The caller guarantees Σ v_j = 1, v_j ≥ 0, and more than k support points.
pub(crate) fn stieltjes(points: &[f64], weights: &[f64], k: usize) -> (Vec<f64>, Vec<f64>) {
    let n = points.len();
    let mut alpha = Vec::with_capacity(k);
    let mut beta: Vec<f64> = Vec::with_capacity(k);
    let mut prev = vec![0.0; n];
    let mut cur = vec![1.0; n];
    beta.push(1.0);
    for step in 0..k {
        let a: f64 = (0..n)
            .map(|j| weights[j] * points[j] * cur[j] * cur[j])
            .sum();
        alpha.push(a);
        if step + 1 == k {
            break;
        }
        let sb = if step >= 1 { beta[step].sqrt() } else { 0.0 };
        let next: Vec<f64> = (0..n)
            .map(|j| (points[j] - a) * cur[j] - sb * prev[j])
            .collect();
        let norm2: f64 = (0..n).map(|j| weights[j] * next[j] * next[j]).sum();
        beta.push(norm2);
        let s = norm2.sqrt();
        prev = cur;
        cur = next.into_iter().map(|x| x / s).collect();
    }
    (alpha, beta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legendre_integrates_polynomials() {
        let r = gauss_legendre(10);
        // E[x^{2j}] for x uniform on [−1, 1] is 1/(2j + 1); exact up to degree 19.
        for j in 0..10 {
            let got: f64 = r
                .nodes
                .iter()
                .zip(&r.weights)
                .map(|(x, w)| w * x.powi(2 * j))
                .sum();
            assert!((got - 1.0 / (2 * j + 1) as f64).abs() < 1e-15, "j={j}");
        }
    }

    #[test]
    fn stieltjes_recovers_legendre_coefficients() {
        // A 60-point Gauss–Legendre rule reproduces the Legendre measure's first 20
        // recurrence coefficients exactly (degree ≤ 119).
        let r = gauss_legendre(60);
        let (a, b) = stieltjes(&r.nodes, &r.weights, 20);
        for n in 1..20 {
            let nf = n as f64;
            assert!(a[n].abs() < 1e-14);
            assert!(
                (b[n] - nf * nf / (4.0 * nf * nf - 1.0)).abs() < 1e-14,
                "n={n}"
            );
        }
    }
}
