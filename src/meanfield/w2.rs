//! The quadratic Wasserstein distance W₂² between two weighted point sets: exact in one
//! dimension, sliced in more.
//!
//! In one dimension the optimal coupling is the monotone one, W₂²(a, b) = ∫₀¹ (F_a^{-1}(u)
//! − F_b^{-1}(u))² du, and for discrete measures both quantile functions are step
//! functions, so the integral is a finite sum over the merged breakpoints of the two
//! CDFs: exact for any weights, any sizes ([`w2_squared_1d`]). In p > 1 dimensions the
//! exact distance is a transport problem far too large for N = 10⁴ points; the sliced
//! distance SW₂² = ∫_{S^{p−1}} W₂²(θ·a, θ·b) dσ(θ), σ the uniform probability on the
//! sphere, is reported instead ([`sliced_w2_squared`]): a metric of its own, with
//! SW₂² ≤ W₂²/p (project any coupling), estimated with finitely many directions.

use super::quadrature::Particles;
use crate::solve::gram::path_rng;
use rand::Rng;
use rand_distr::StandardNormal;

/// Stream tag of the random slicing directions (p ≥ 3), disjoint from every simulation tag.
const DIRECTION_TAG: u64 = 0x3D << 48;

/// W₂² between two discrete measures on the line: points `a` with weights `wa` and points
/// `b` with weights `wb` (`None`: uniform). Weights are normalized to total mass 1 here,
/// so unnormalized weights are fine; negative weights count as 0.
///
/// Exact: the two quantile functions are merged and (F_a^{-1} − F_b^{-1})² integrated
/// piece by piece. Returns NaN for an empty measure or one of zero mass.
pub fn w2_squared_1d(a: &[f64], wa: Option<&[f64]>, b: &[f64], wb: Option<&[f64]>) -> f64 {
    match (sorted_with_mass(a, wa), sorted_with_mass(b, wb)) {
        (Some(sa), Some(sb)) => w2_sorted(&sa, &sb),
        _ => f64::NAN,
    }
}

/// W₂² between two sorted, normalized atom lists (value, mass).
fn w2_sorted(sa: &[(f64, f64)], sb: &[(f64, f64)]) -> f64 {
    if sa.is_empty() || sb.is_empty() {
        return f64::NAN;
    }
    // Walk both step functions: at every moment the u-interval left of the current atom of
    // a and of b; the shorter one ends first. Masses are normalized, so both run out
    // together up to rounding; whatever rounding leaves is dropped.
    let (mut i, mut j) = (0usize, 0usize);
    let (mut ra, mut rb) = (sa[0].1, sb[0].1);
    let mut total = 0.0;
    while i < sa.len() && j < sb.len() {
        let m = ra.min(rb);
        let d = sa[i].0 - sb[j].0;
        total += m * d * d;
        ra -= m;
        rb -= m;
        if ra <= 0.0 {
            i += 1;
            ra = sa.get(i).map_or(0.0, |x| x.1);
        }
        if rb <= 0.0 {
            j += 1;
            rb = sb.get(j).map_or(0.0, |x| x.1);
        }
    }
    total
}

/// The points sorted (total order, NaN last) with their weights normalized to mass 1;
/// `None` when there is nothing to normalize.
fn sorted_with_mass(x: &[f64], w: Option<&[f64]>) -> Option<Vec<(f64, f64)>> {
    if x.is_empty() {
        return None;
    }
    let mut pairs: Vec<(f64, f64)> = match w {
        Some(w) => x
            .iter()
            .zip(w.iter().chain(std::iter::repeat(&0.0)))
            .map(|(&v, &m)| (v, m.max(0.0)))
            .collect(),
        None => x.iter().map(|&v| (v, 1.0)).collect(),
    };
    let mass: f64 = pairs.iter().map(|p| p.1).sum();
    if !(mass > 0.0 && mass.is_finite()) {
        return None;
    }
    pairs.iter_mut().for_each(|p| p.1 /= mass);
    pairs.sort_by(|p, q| p.0.total_cmp(&q.0));
    Some(pairs)
}

/// The sliced W₂² between two weighted point sets of the same dimension p: the mean over
/// `directions` unit vectors θ of the exact one-dimensional W₂² of the projections θ·a
/// and θ·b, an estimate of ∫ W₂²(θ·a, θ·b) dσ(θ) with σ the uniform probability on the
/// sphere (so a translation by v gives |v|²/p, not |v|²).
///
/// p = 1: the exact W₂² (no slicing). p = 2: the angles π(j + 1/2)/D, j < D, evenly
/// spaced (a quadrature of the circle, exact for the translation above once D ≥ 3; `seed`
/// is not used). p ≥ 3: D Gaussian directions normalized, drawn from the stream of
/// `seed`. NaN when the dimensions differ or a set is empty.
pub fn sliced_w2_squared(a: &Particles, b: &Particles, directions: usize, seed: u64) -> f64 {
    sliced_w2_squared_many(&[a], b, directions, seed)
        .first()
        .copied()
        .unwrap_or(f64::NAN)
}

/// [`sliced_w2_squared`] of every target against one reference `b`, sorting each
/// projection of `b` once (the reference is often the largest set: a quadrature or a
/// cloud of N_ref particles) and holding one projection at a time in memory.
pub fn sliced_w2_squared_many(
    targets: &[&Particles],
    b: &Particles,
    directions: usize,
    seed: u64,
) -> Vec<f64> {
    let p = b.w.len();
    if p == 0 || b.is_empty() {
        return vec![f64::NAN; targets.len()];
    }
    let dirs = slice_directions(p, directions, seed);
    let mut out = vec![0.0; targets.len()];
    let mut pb = vec![0.0; b.len()];
    let mut pa = Vec::new();
    for theta in &dirs {
        project(b, theta, &mut pb);
        let Some(sb) = sorted_with_mass(&pb, b.weight.as_deref()) else {
            return vec![f64::NAN; targets.len()];
        };
        for (o, a) in out.iter_mut().zip(targets) {
            if a.w.len() != p {
                *o = f64::NAN;
                continue;
            }
            pa.resize(a.len(), 0.0);
            project(a, theta, &mut pa);
            *o += match sorted_with_mass(&pa, a.weight.as_deref()) {
                Some(sa) => w2_sorted(&sa, &sb),
                None => f64::NAN,
            };
        }
    }
    out.iter_mut().for_each(|o| *o /= dirs.len() as f64);
    out
}

/// The unit directions of the slicing (see [`sliced_w2_squared`]).
fn slice_directions(p: usize, directions: usize, seed: u64) -> Vec<Vec<f64>> {
    let d = directions.max(1);
    match p {
        1 => vec![vec![1.0]],
        2 => (0..d)
            .map(|j| {
                let angle = std::f64::consts::PI * (j as f64 + 0.5) / d as f64;
                vec![angle.cos(), angle.sin()]
            })
            .collect(),
        _ => (0..d)
            .map(|j| {
                let mut rng = path_rng(seed, j as u64, DIRECTION_TAG);
                // A Gaussian vector normalized is uniform on the sphere; norm 0 is redrawn.
                loop {
                    let theta: Vec<f64> = (0..p).map(|_| rng.sample(StandardNormal)).collect();
                    let norm = theta.iter().map(|t| t * t).sum::<f64>().sqrt();
                    if norm > 0.0 {
                        break theta.iter().map(|t| t / norm).collect();
                    }
                }
            })
            .collect(),
    }
}

/// θ·w_k for every point k.
fn project(x: &Particles, theta: &[f64], out: &mut [f64]) {
    out.fill(0.0);
    for (col, t) in x.w.iter().zip(theta) {
        for (o, v) in out.iter_mut().zip(col) {
            *o += t * v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gauss::gauss_hermite;

    #[test]
    fn two_point_masses() {
        assert_eq!(w2_squared_1d(&[1.5], None, &[-0.5], None), 4.0);
        // Mass 1/4 has to move from 0 to 1.
        let v = w2_squared_1d(&[0.0, 1.0], None, &[1.0, 0.0], Some(&[0.75, 0.25]));
        assert!((v - 0.25).abs() < 1e-15, "{v}");
        assert!(w2_squared_1d(&[], None, &[1.0], None).is_nan());
    }

    #[test]
    fn gaussians_by_their_quadrature_and_quantile_samples() {
        // The same Gauss–Hermite rule scaled: the monotone coupling pairs node i with node
        // i, and the rule is exact for the quadratic ((m1−m2) + (s1−s2) z)².
        let (m1, s1, m2, s2) = (0.3, 1.7, -1.1, 0.4);
        let rule = gauss_hermite(20).expect("rule");
        let a: Vec<f64> = rule.nodes.iter().map(|z| m1 + s1 * z).collect();
        let b: Vec<f64> = rule.nodes.iter().rev().map(|z| m2 + s2 * z).collect();
        let wb: Vec<f64> = rule.weights.iter().rev().copied().collect();
        let v = w2_squared_1d(&a, Some(&rule.weights), &b, Some(&wb));
        let exact = (m1 - m2).powi(2) + (s1 - s2).powi(2);
        assert!((v - exact).abs() < 1e-12, "{v} vs {exact}");
        // Quantile samples: the midpoints of n equal-mass cells of the same draws, against
        // 2n unweighted copies (equal as measures) in reverse order.
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut z: Vec<f64> = (0..2000)
            .map(|_| rng.sample::<f64, _>(StandardNormal))
            .collect();
        z.sort_by(f64::total_cmp);
        let a: Vec<f64> = z.iter().map(|z| m1 + s1 * z).collect();
        let b: Vec<f64> = z.iter().chain(&z).rev().map(|z| m2 + s2 * z).collect();
        let direct: f64 = z
            .iter()
            .map(|z| ((m1 - m2) + (s1 - s2) * z).powi(2))
            .sum::<f64>()
            / z.len() as f64;
        let v = w2_squared_1d(&a, None, &b, None);
        assert!((v - direct).abs() < 1e-12 * direct, "{v} vs {direct}");
        assert!((v - exact).abs() < 0.1 * exact, "{v} vs {exact}");
    }

    #[test]
    fn sliced_distance_of_a_translation() {
        // Translating by v: every slice is a translation by θ·v, so SW₂² = mean (θ·v)² =
        // |v|²/2 in the plane (exactly, with evenly spaced angles).
        let base = Particles {
            w: vec![vec![0.0, 1.0, 2.5, -0.3], vec![0.4, -1.0, 0.0, 2.0]],
            weight: Some(vec![0.1, 0.2, 0.3, 0.4]),
        };
        let v = [0.6, -0.8];
        let moved = Particles {
            w: base
                .w
                .iter()
                .zip(v)
                .map(|(c, s)| c.iter().map(|x| x + s).collect())
                .collect(),
            weight: base.weight.clone(),
        };
        let sw = sliced_w2_squared(&base, &moved, 64, 0);
        assert!((sw - 0.5).abs() < 1e-12, "{sw}");
        // In three dimensions with random directions, about |v|²/3.
        let cloud = Particles {
            w: vec![vec![0.0; 3], vec![1.0, 0.0, 2.0], vec![0.0, 0.5, 0.0]],
            weight: None,
        };
        let shifted = Particles {
            w: vec![vec![1.0; 3], vec![1.0, 0.0, 2.0], vec![0.0, 0.5, 0.0]],
            weight: None,
        };
        let sw = sliced_w2_squared(&cloud, &shifted, 64, 9);
        assert!((sw - 1.0 / 3.0).abs() < 0.1, "{sw}");
        assert_eq!(
            sw.to_bits(),
            sliced_w2_squared(&cloud, &shifted, 64, 9).to_bits()
        );
    }
}
