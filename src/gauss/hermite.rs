//! Gauss–Hermite rules for the standard normal weight: E[f(Z)] ≈ Σ_i w_i f(x_i),
//! Z ~ N(0, 1), exact when f is a polynomial of degree ≤ 2k − 1.
//!
//! The nodes are the zeros of the probabilists' Hermite polynomial He_k, i.e. (Golub &
//! Welsch 1969) the eigenvalues of the symmetric tridiagonal Jacobi matrix of the
//! three-term recurrence x He_n = He_{n+1} + n He_{n−1}: zero diagonal and off-diagonal
//! entries √1, …, √(k−1). The eigenvalues are located by Sturm-sequence bisection, then
//! polished by Newton's method on the orthonormal Hermite polynomial q_k = He_k / √(k!);
//! the weights are the Christoffel numbers 1 / Σ_{j<k} q_j(x_i)², accurate even for the
//! tiny weights of the outer nodes (see the `recurrence` module). Only the nonnegative half
//! is computed and mirrored, so the rule is exactly symmetric.

use super::error::GaussError;
use super::recurrence::{gauss_rule, Rule};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// The largest supported number of nodes.
///
/// At k nodes the outermost node is about 2√k and the Christoffel sum there is about
/// e^{x²/2}; it must stay below f64::MAX, and 256 keeps it near 1e210. Integrands that need more
/// than 256 nodes per dimension are better served by Monte Carlo anyway.
pub const MAX_NODES: usize = 256;

/// A Gauss–Hermite rule for N(0, 1): nodes in increasing order and positive weights
/// summing to 1.
#[derive(Clone, Debug, PartialEq)]
pub struct HermiteRule {
    /// The zeros of He_k, increasing, symmetric about 0.
    pub nodes: Vec<f64>,
    /// The matching weights (probability masses), symmetric, summing to 1.
    pub weights: Vec<f64>,
}

impl HermiteRule {
    /// The number of nodes k.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the rule has no nodes (never true for a rule built by [`gauss_hermite`]).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Σ_i w_i f(x_i), the rule applied to `f`.
    pub fn apply(&self, f: impl Fn(f64) -> f64) -> f64 {
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(&x, &w)| w * f(x))
            .sum()
    }
}

/// The k-node Gauss–Hermite rule for the probabilists' weight e^{−x²/2}/√(2π), so that
/// Σ_i w_i f(x_i) ≈ E[f(Z)], Z ~ N(0, 1), exactly for polynomials of degree ≤ 2k − 1.
///
/// Errors with [`GaussError::BadNodeCount`] unless 1 ≤ k ≤ [`MAX_NODES`].
pub fn gauss_hermite(k: usize) -> Result<HermiteRule, GaussError> {
    if k == 0 || k > MAX_NODES {
        return Err(GaussError::BadNodeCount {
            nodes: k,
            max: MAX_NODES,
        });
    }
    let rule = cached(k, || {
        // Orthonormal recurrence x q_n = √(n+1) q_{n+1} + √n q_{n−1}: α_n = 0, β_n = n.
        let alpha = vec![0.0; k];
        let beta: Vec<f64> = (0..k).map(|n| n as f64).collect();
        gauss_rule(&alpha, &beta, true)
    });
    Ok(HermiteRule {
        nodes: rule.nodes,
        weights: rule.weights,
    })
}

/// Rules already computed, by number of nodes: building a 256-node rule takes about a
/// millisecond and the dispatcher asks for the same few rules over and over.
fn cached(k: usize, build: impl FnOnce() -> Rule) -> Rule {
    static CACHE: OnceLock<Mutex<HashMap<usize, Rule>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    // A poisoned lock only means another thread panicked while inserting; the map
    // itself is still a valid cache of finished rules.
    if let Some(rule) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&k) {
        return rule.clone();
    }
    let rule = build();
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(k, rule.clone());
    rule
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (q_k(x), q_{k−1}(x)) for q_n = He_n / √(n!), by the recurrence, independently of
    /// the rule construction.
    fn orthonormal_pair(k: usize, x: f64) -> (f64, f64) {
        let (mut prev, mut cur) = (0.0, 1.0);
        for n in 0..k {
            let next = (x * cur - (n as f64).sqrt() * prev) / ((n + 1) as f64).sqrt();
            prev = cur;
            cur = next;
        }
        (cur, prev)
    }

    #[test]
    fn small_rules_match_hand_derived_values() {
        // He_2 = x² − 1: nodes ±1, weights 1/2.
        let r = gauss_hermite(2).unwrap();
        assert!((r.nodes[1] - 1.0).abs() < 1e-15);
        assert!((r.weights[0] - 0.5).abs() < 1e-15);
        // He_3 = x³ − 3x: nodes 0, ±√3, weights 2/3 and 1/6.
        let r = gauss_hermite(3).unwrap();
        assert_eq!(r.nodes[1], 0.0);
        assert!((r.nodes[2] - 3f64.sqrt()).abs() < 1e-15);
        assert!((r.weights[1] - 2.0 / 3.0).abs() < 1e-15);
        assert!((r.weights[2] - 1.0 / 6.0).abs() < 1e-15);
        // One node: the mean.
        let r = gauss_hermite(1).unwrap();
        assert_eq!((r.nodes[0], r.weights[0]), (0.0, 1.0));
    }

    #[test]
    fn node_counts_outside_the_range_are_errors() {
        assert!(gauss_hermite(0).is_err());
        assert!(gauss_hermite(MAX_NODES + 1).is_err());
        assert!(gauss_hermite(MAX_NODES).is_ok());
    }

    #[test]
    fn nodes_are_zeros_of_the_hermite_polynomial() {
        for k in [5, 20, 64, 101] {
            let r = gauss_hermite(k).unwrap();
            for &x in &r.nodes {
                let (qk, qk1) = orthonormal_pair(k, x);
                // |q_k(x)| ≲ ulp(x) · |q_k'(x)|.
                let slope = (k as f64).sqrt() * qk1.abs();
                assert!(
                    qk.abs() <= 8.0 * f64::EPSILON * (1.0 + x.abs()) * slope,
                    "k={k} x={x}"
                );
            }
            assert!(r.nodes.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
