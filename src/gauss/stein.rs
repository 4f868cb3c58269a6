//! Stein's lemma: E[∇F(G)] = Σ⁻¹ E[G F(G)] for G ~ N(0, Σ), computed through the
//! right-hand side so that F need not be differentiable (ReLU, step).
//!
//! This is the expectation the Tensor Program rule for Ż needs
//! (Ż^{Ŵx} = Σ_j E[∂Z^x/∂Ẑ^{Ŵᵀy_j}] Z^{y_j}; Yang & Hu 2021, Tensor Programs IV, §7).

use super::dispatch::{expect_with, ExpectOptions};
use super::error::GaussError;
use super::linalg::pseudo_inverse_from_factor;
use super::normal::Gaussian;
use super::Estimate;
use ndarray::Array2;

/// E[∇F(G)] for G ~ N(0, Σ), one [`Estimate`] per coordinate of G, by Stein's lemma
///
///   E[∇F(G)] = Σ⁺ E[G F(G)],
///
/// evaluated as the expectation of the vector integrand (Σ⁺G)·F(G) with [`super::expect_vec`]
/// (so the method, the error estimates and `opts` are those of the dispatcher; each
/// component's error accounts for the correlation between the components of G).
///
/// Why this is right for non-smooth F: the identity E[G_i F(G)] = Σ_j Σ_ij E[∂_j F(G)]
/// follows from Gaussian integration by parts and holds for every F that is weakly
/// differentiable with polynomially bounded growth, e.g. ReLU, whose derivative is step
/// almost everywhere (Stein 1981).
///
/// **Singular Σ.** Write Σ = L Lᵀ with L of full column rank (pivoted Cholesky) and
/// G = L z. Stein's lemma in z gives E[z F(G)] = Lᵀ E[∇F(G)], which determines only the
/// component of E[∇F] in range Σ: G never moves in the null directions, so F's slope
/// there is unobservable. Using the pseudo-inverse returns exactly that component,
/// Σ⁺ E[G F(G)] = P_range E[∇F(G)] (the minimum-norm solution). For invertible Σ,
/// Σ⁺ = Σ⁻¹ and this is the full gradient. For example, if G₁ = G₂ (correlation 1), only
/// ∂₁F + ∂₂F is determined and the result splits it equally between the two.
pub fn expect_gradient(
    cov: &Array2<f64>,
    f: &dyn Fn(&[f64]) -> f64,
    opts: &ExpectOptions,
) -> Result<Vec<Estimate>, GaussError> {
    let gauss = Gaussian::new(cov)?;
    let d = gauss.dim();
    if d == 0 {
        return Ok(Vec::new());
    }
    let pinv = pseudo_inverse_from_factor(gauss.factor())?;
    let integrand = |g: &[f64], out: &mut [f64]| {
        let value = f(g);
        for (i, o) in out.iter_mut().enumerate() {
            let row = pinv.row(i);
            let projected: f64 = row.iter().zip(g).map(|(a, b)| a * b).sum();
            *o = projected * value;
        }
    };
    expect_with(&gauss, &integrand, d, opts)
}
