//! Gaussian moment algebra for the shaped-network derivation.
//!
//! Two rule sets, both exact: Isserlis/Wick pairings for polynomials in jointly Gaussian
//! variables whose covariances are Gram atoms, and the piecewise-linear rules that a
//! shaped ReLU needs (Stein's lemma for E[g relu(g')] and the arc-cosine kernel for
//! E[relu(g) relu(g')]). Covariances are symbolic (`Atom::Gram(i, j)`), so the results are
//! polynomials in the Gram entries, never numbers.

use super::poly::{Atom, Func, Poly};
use crate::exponent::Rational;
use num_traits::One;

/// The Gram atom Φ^{ij} (stored with i ≤ j).
pub fn gram(i: usize, j: usize) -> Poly {
    Poly::atom(Atom::Gram(i.min(j), i.max(j)))
}

/// E[g_{k₁} g_{k₂} ⋯] for centred jointly Gaussian g with Cov(g_i, g_j) = Φ^{ij}: the sum
/// over perfect matchings of the factors of the product of the matched covariances
/// (Isserlis 1918). An odd number of factors gives 0.
pub fn isserlis(indices: &[usize]) -> Poly {
    if indices.is_empty() {
        return Poly::int(1);
    }
    if indices.len() % 2 == 1 {
        return Poly::zero();
    }
    let first = indices[0];
    let rest = &indices[1..];
    let mut total = Poly::zero();
    for (k, &partner) in rest.iter().enumerate() {
        let mut remaining = rest.to_vec();
        remaining.remove(k);
        total = total.add(&gram(first, partner).mul(&isserlis(&remaining)));
    }
    total
}

/// A polynomial in one Gaussian variable with `Poly` coefficients: `coefs[k]` multiplies
/// g^k.
pub type Univariate = Vec<Poly>;

/// E[p(g_i) q(g_j)] for two polynomials of two (possibly equal) Gaussian coordinates.
pub fn pair_moment(p: &Univariate, i: usize, q: &Univariate, j: usize) -> Poly {
    let mut total = Poly::zero();
    for (k, a) in p.iter().enumerate() {
        if a.is_zero() {
            continue;
        }
        for (l, b) in q.iter().enumerate() {
            if b.is_zero() {
                continue;
            }
            let mut indices = vec![i; k];
            indices.extend(std::iter::repeat(j).take(l));
            total = total.add(&a.mul(b).mul(&isserlis(&indices)));
        }
    }
    total
}

/// A piecewise-linear function of one Gaussian coordinate, `lin · g + relu · max(g, 0)`
/// (a shaped ReLU is S₋ g + (S₊ − S₋) max(g, 0)).
#[derive(Clone, Debug)]
pub struct PiecewiseLinear {
    /// The coefficient of g.
    pub lin: Poly,
    /// The coefficient of max(g, 0).
    pub relu: Poly,
}

/// E[f(g_i) h(g_j)] for piecewise-linear f, h. The rules: E[g_i g_j] = Φ^{ij};
/// E[g_i relu(g_j)] = Φ^{ij}/2 (Stein's lemma: Cov(g_i, g_j) E[relu'(g_j)]);
/// E[relu(g_i)²] = Φ^{ii}/2; and for i ≠ j, E[relu(g_i) relu(g_j)] =
/// √(Φ^{ii}Φ^{jj}) J̄₁(ρ^{ij}), the arc-cosine kernel at unit variances.
pub fn piecewise_moment(f: &PiecewiseLinear, i: usize, h: &PiecewiseLinear, j: usize) -> Poly {
    let half = Poly::frac(1, 2);
    let lin_lin = gram(i, j);
    let lin_relu = gram(i, j).mul(&half);
    let relu_relu = if i == j {
        gram(i, i).mul(&half)
    } else {
        let sqrt = |k: usize| Poly::atom_pow(Atom::Gram(k, k), half_q());
        sqrt(i).mul(&sqrt(j)).mul(&Poly::atom(Atom::Func(
            Func::ArcCosKernel,
            i.min(j),
            i.max(j),
        )))
    };
    f.lin
        .mul(&h.lin)
        .mul(&lin_lin)
        .add(&f.lin.mul(&h.relu).mul(&lin_relu))
        .add(&f.relu.mul(&h.lin).mul(&lin_relu))
        .add(&f.relu.mul(&h.relu).mul(&relu_relu))
}

/// The rational 1/2.
pub fn half_q() -> Rational {
    Rational::one() / Rational::from_integer(2.into())
}

/// J̄₁(ρ) = (√(1−ρ²) + ρ arccos(−ρ)) / (2π) (Cho & Saul 2009, at unit variances), then
/// arccos(−ρ) = π − arccos ρ: the arc-cosine kernel in the atoms √(1−ρ²) and arccos ρ.
pub fn expand_arccos_kernel(p: &Poly, i: usize, j: usize) -> Option<Poly> {
    let rho = Poly::atom(Atom::Corr(i, j));
    let inv_two_pi = Poly::atom_pow(Atom::Pi, -Rational::one()).mul(&Poly::frac(1, 2));
    let kernel = Poly::atom(Atom::Func(Func::SqrtOneMinusSq, i, j))
        .add(&rho.mul(&Poly::atom(Atom::Func(Func::ArccosNeg, i, j))))
        .mul(&inv_two_pi);
    let reflected = Poly::atom(Atom::Pi).sub(&Poly::atom(Atom::Func(Func::Arccos, i, j)));
    p.substitute(&Atom::Func(Func::ArcCosKernel, i, j), &kernel)?
        .substitute(&Atom::Func(Func::ArccosNeg, i, j), &reflected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourth_moment_is_the_three_pairings() {
        let m = isserlis(&[0, 1, 2, 3]);
        let expected = gram(0, 1)
            .mul(&gram(2, 3))
            .add(&gram(0, 2).mul(&gram(1, 3)))
            .add(&gram(0, 3).mul(&gram(1, 2)));
        assert_eq!(m, expected);
    }

    #[test]
    fn univariate_moments_are_double_factorials() {
        // E g^6 = 15 Φ³.
        assert_eq!(
            isserlis(&[0; 6]),
            gram(0, 0).pow(3).scale(&Rational::from_integer(15.into()))
        );
        // E g_α² g_β² = Φ^{αα}Φ^{ββ} + 2(Φ^{αβ})².
        let m = isserlis(&[0, 0, 1, 1]);
        assert_eq!(
            m,
            gram(0, 0)
                .mul(&gram(1, 1))
                .add(&gram(0, 1).pow(2).scale(&Rational::from_integer(2.into())))
        );
    }
}
