//! The NNGP and NTK kernel recursions of deep ReLU and erf networks, in closed form.
//!
//! **Network** (no biases; the limit of `programs/tp_nngp.tp`): inputs ξ_a ∈ ℝ^d,
//!
//!   h¹ = W¹ ξ,  W¹ entries N(0, s2/d);   h^l = W^l x^{l−1},  W^l entries N(0, s2/n);
//!   x^l = φ(h^l),  l = 1…L.
//!
//! **NNGP** (Neal 1996; Lee et al. 2018; Matthews et al. 2018): as n → ∞ the
//! pre-activations of layer l are, coordinatewise, centred Gaussians with covariance
//!
//!   K¹_ab = s2 · ξ_aᵀξ_b / d,    K^{l+1}_ab = s2 · E[φ(u)φ(v)],  (u, v) ~ N(0, K^l restricted to {a, b}),
//!
//! and the features' second moments are F^l_ab = lim (1/n) x^l_a · x^l_b = E[φ(u)φ(v)]
//! under K^l, so K^{l+1} = s2 F^l. [`nngp`] returns F^L, the limit of the scalars
//! `K_ab = mean(x{L}_a * x{L}_b)` of `tp_nngp.tp`.
//!
//! **NTK** (Jacot, Gabriel & Hongler 2018; Arora et al. 2019), convention used here: the
//! NTK parameterization of the same network with a scalar readout,
//!
//!   h¹ = √(s2/d) W¹ξ,  h^{l+1} = √(s2/n) W^{l+1} x^l,  f = √(s2/n) w^{L+1}ᵀ x^L,
//!
//! all entries of W^l, w^{L+1} i.i.d. N(0, 1) and all of them trained (no biases). The
//! tangent kernel Θ(ξ_a, ξ_b) = Σ_θ ∂f_a/∂θ · ∂f_b/∂θ converges to Θ^{L+1} with
//!
//!   Θ¹ = K¹,   Θ^{l+1} = K^{l+1} + s2 · Θ^l ⊙ Ḟ^l,   l = 1…L,
//!
//! where Ḟ^l_ab = E[φ'(u)φ'(v)] under K^l and K^{L+1} = s2 F^L is the readout's NNGP.
//! The first term of each step is the contribution of the layer's own weights, the second
//! that of all earlier layers propagated through it. Θ^l (l ≤ L) is the tangent kernel of
//! the pre-activations h^l (per coordinate); Θ^{L+1} is that of the output f.
//!
//! The forward distribution is the same in both parameterizations (N(0, s2/fan_in)
//! entries), so the K^l are shared. For ReLU φ' = step (φ'(0) = 0); for erf,
//! φ'(x) = (2/√π) e^{−x²}.

use super::closed_form::{erf_derivative_kernel, erf_kernel, relu_kernel, step_kernel};
use super::error::GaussError;
use super::linalg::pivoted_cholesky;
use ndarray::Array2;

/// The activations whose Gaussian kernels have closed forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelActivation {
    /// φ(x) = max(x, 0): arc-cosine kernels ([`relu_kernel`], [`step_kernel`]).
    Relu,
    /// φ(x) = erf(x): arcsine kernel ([`erf_kernel`], [`erf_derivative_kernel`]).
    Erf,
}

impl KernelActivation {
    /// E[φ(u)φ(v)] for (u, v) ~ N(0, [[k11, k12], [k12, k22]]).
    pub fn kernel(self, k11: f64, k12: f64, k22: f64) -> f64 {
        match self {
            KernelActivation::Relu => relu_kernel(k11, k12, k22),
            KernelActivation::Erf => erf_kernel(k11, k12, k22),
        }
    }

    /// E[φ'(u)φ'(v)] for (u, v) ~ N(0, [[k11, k12], [k12, k22]]).
    pub fn derivative_kernel(self, k11: f64, k12: f64, k22: f64) -> f64 {
        match self {
            KernelActivation::Relu => step_kernel(k11, k12, k22),
            KernelActivation::Erf => erf_derivative_kernel(k11, k12, k22),
        }
    }

    /// Applies [`kernel`](Self::kernel) to every pair of a covariance matrix K:
    /// the matrix of E[φ(u_a)φ(u_b)] for u ~ N(0, K).
    pub fn kernel_matrix(self, k: &Array2<f64>) -> Array2<f64> {
        pairwise(k, |a, b, c| self.kernel(a, b, c))
    }

    /// Applies [`derivative_kernel`](Self::derivative_kernel) to every pair of K.
    pub fn derivative_kernel_matrix(self, k: &Array2<f64>) -> Array2<f64> {
        pairwise(k, |a, b, c| self.derivative_kernel(a, b, c))
    }
}

/// M_ab = g(K_aa, K_ab, K_bb), computed on the upper triangle and mirrored so that M is
/// exactly symmetric.
fn pairwise(k: &Array2<f64>, g: impl Fn(f64, f64, f64) -> f64) -> Array2<f64> {
    let p = k.nrows();
    let mut m = Array2::zeros((p, p));
    for a in 0..p {
        for b in a..p {
            let v = g(k[[a, a]], k[[a, b]], k[[b, b]]);
            m[[a, b]] = v;
            m[[b, a]] = v;
        }
    }
    m
}

/// The NNGP recursion layer by layer (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct NngpLayers {
    /// K¹ … K^L: the covariances of the pre-activations h¹ … h^L.
    pub preactivations: Vec<Array2<f64>>,
    /// F¹ … F^L: the second moments E[x^l_a x^l_b] of the features x¹ … x^L.
    pub features: Vec<Array2<f64>>,
}

/// The NTK recursion layer by layer (see the module documentation for the convention).
#[derive(Clone, Debug, PartialEq)]
pub struct NtkLayers {
    /// K¹ … K^{L+1}: the NNGP kernels of h¹ … h^L and of the readout f (K^{L+1} = s2 F^L).
    pub nngp: Vec<Array2<f64>>,
    /// Θ¹ … Θ^{L+1}: the tangent kernels of h¹ … h^L and of the output f.
    pub ntk: Vec<Array2<f64>>,
}

/// The Gram matrix ξ_aᵀξ_b of a list of inputs of equal length.
pub fn input_gram(inputs: &[Vec<f64>]) -> Result<Array2<f64>, GaussError> {
    let p = inputs.len();
    let d = inputs.first().map_or(0, Vec::len);
    if let Some(bad) = inputs.iter().find(|x| x.len() != d) {
        return Err(GaussError::DimensionMismatch {
            detail: format!("inputs of lengths {d} and {}", bad.len()),
        });
    }
    let mut g = Array2::zeros((p, p));
    for a in 0..p {
        for b in 0..p {
            g[[a, b]] = inputs[a].iter().zip(&inputs[b]).map(|(x, y)| x * y).sum();
        }
    }
    Ok(g)
}

/// Validates the recursion's inputs and returns K¹ = s2 · gram / input_dim.
fn first_layer(
    gram: &Array2<f64>,
    input_dim: usize,
    depth: usize,
    s2: f64,
) -> Result<Array2<f64>, GaussError> {
    if depth == 0 {
        return Err(GaussError::BadParameter {
            detail: "the network needs at least one hidden layer (depth ≥ 1)".into(),
        });
    }
    if input_dim == 0 {
        return Err(GaussError::BadParameter {
            detail: "the input dimension d must be at least 1".into(),
        });
    }
    if !(s2.is_finite() && s2 >= 0.0) {
        return Err(GaussError::BadParameter {
            detail: format!("the weight variance s2 must be a finite number ≥ 0, not {s2}"),
        });
    }
    // A Gram matrix is PSD; checking it catches swapped or garbled arguments early.
    pivoted_cholesky(gram)?;
    Ok(gram * (s2 / input_dim as f64))
}

/// The NNGP recursion K¹, F¹, …, K^L, F^L for an L = `depth` hidden-layer network with
/// activation `act` and weight variance `s2` (per fan-in), from the input Gram matrix
/// `gram` (ξ_aᵀξ_b, not yet divided by d) of inputs of dimension `input_dim`.
///
/// Errors: depth 0, input_dim 0, s2 negative or not finite, or a `gram` that is not a
/// symmetric PSD matrix (up to [`super::PSD_TOLERANCE`]).
pub fn nngp_layers(
    act: KernelActivation,
    gram: &Array2<f64>,
    input_dim: usize,
    depth: usize,
    s2: f64,
) -> Result<NngpLayers, GaussError> {
    let mut k = first_layer(gram, input_dim, depth, s2)?;
    let mut preactivations = Vec::with_capacity(depth);
    let mut features = Vec::with_capacity(depth);
    for _ in 0..depth {
        let f = act.kernel_matrix(&k);
        let next = &f * s2;
        preactivations.push(k);
        features.push(f);
        k = next;
    }
    Ok(NngpLayers {
        preactivations,
        features,
    })
}

/// F^L = E[x^L_a x^L_b], the last layer's feature kernel, for every pair of inputs: the
/// infinite-width limit of `mean(x{L}_a * x{L}_b)` in `programs/tp_nngp.tp` (arguments
/// as in [`nngp_layers`]).
pub fn nngp(
    act: KernelActivation,
    gram: &Array2<f64>,
    input_dim: usize,
    depth: usize,
    s2: f64,
) -> Result<Array2<f64>, GaussError> {
    last_layer(nngp_layers(act, gram, input_dim, depth, s2)?.features)
}

/// The NTK recursion Θ¹ = K¹, Θ^{l+1} = K^{l+1} + s2 Θ^l ⊙ Ḟ^l (l = 1…L, the last step
/// being the readout), with the NNGP kernels alongside (arguments as in
/// [`nngp_layers`]; convention in the module documentation).
pub fn ntk_layers(
    act: KernelActivation,
    gram: &Array2<f64>,
    input_dim: usize,
    depth: usize,
    s2: f64,
) -> Result<NtkLayers, GaussError> {
    let mut k = first_layer(gram, input_dim, depth, s2)?;
    let mut theta = k.clone();
    let mut nngp = Vec::with_capacity(depth + 1);
    let mut ntk = Vec::with_capacity(depth + 1);
    for _ in 0..depth {
        let next_k = act.kernel_matrix(&k) * s2;
        let dot = act.derivative_kernel_matrix(&k);
        let next_theta = &next_k + &(&theta * &dot * s2);
        nngp.push(std::mem::replace(&mut k, next_k));
        ntk.push(std::mem::replace(&mut theta, next_theta));
    }
    nngp.push(k);
    ntk.push(theta);
    Ok(NtkLayers { nngp, ntk })
}

/// Θ^{L+1}, the infinite-width NTK of the scalar output for every pair of inputs
/// (arguments as in [`nngp_layers`]; convention in the module documentation).
pub fn ntk(
    act: KernelActivation,
    gram: &Array2<f64>,
    input_dim: usize,
    depth: usize,
    s2: f64,
) -> Result<Array2<f64>, GaussError> {
    last_layer(ntk_layers(act, gram, input_dim, depth, s2)?.ntk)
}

/// The last kernel of a layer-by-layer recursion.
fn last_layer(mut layers: Vec<Array2<f64>>) -> Result<Array2<f64>, GaussError> {
    layers.pop().ok_or(GaussError::BadParameter {
        detail: "the network needs at least one hidden layer (depth ≥ 1)".into(),
    })
}
