//! Monte Carlo estimates of E[F(G)], G ~ N(0, Σ), from a seeded ChaCha8 stream, with the
//! sample standard error.
//!
//! Draws are G = L z with z ~ N(0, I_r) (L the pivoted Cholesky factor, r = rank Σ), r
//! `StandardNormal` draws per sample from `ChaCha8Rng::seed_from_u64(seed)`, consumed in
//! order on one thread: the same (Σ, F, samples, seed, antithetic) gives the same bits.
//!
//! With `antithetic`, draws come in pairs (G, −G) and the unit of averaging is the pair
//! mean Y = (F(G) + F(−G))/2; the pairs are independent, so the standard error is the
//! sample standard deviation of Y over √(pairs) — not that of the 2·pairs individual
//! values, which are correlated within a pair. This removes the odd part of F exactly
//! (its contribution to the variance vanishes) and doubles the cost of an even F for
//! nothing, so it pays for integrands like G₁·F(G) and hurts for products like
//! tanh(u)tanh(v).

use super::error::GaussError;
use super::normal::Gaussian;
use super::quadrature::scalar_as_vec;
use super::{Estimate, Method};
use ndarray::Array2;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Options of [`expect_mc_with`] and [`expect_mc_vec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonteCarloOptions {
    /// Integrand evaluations (an odd count is rounded down to pairs when antithetic).
    pub samples: usize,
    /// Seed of the ChaCha8 stream.
    pub seed: u64,
    /// Use antithetic pairs (G, −G).
    pub antithetic: bool,
}

impl Default for MonteCarloOptions {
    fn default() -> Self {
        MonteCarloOptions {
            samples: 100_000,
            seed: 0,
            antithetic: false,
        }
    }
}

/// Running mean and sum of squared deviations (Welford), stable for long runs.
#[derive(Clone, Copy, Debug, Default)]
struct Welford {
    count: u64,
    mean: f64,
    m2: f64,
}

impl Welford {
    fn push(&mut self, x: f64) {
        self.count += 1;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// The standard error of the mean, √(s²/n) with the unbiased s².
    fn stderr(&self) -> f64 {
        if self.count < 2 {
            return f64::INFINITY;
        }
        let n = self.count as f64;
        (self.m2.max(0.0) / (n - 1.0) / n).sqrt()
    }
}

/// E[F(G)] by plain Monte Carlo with `samples` draws from `seed`: the value is the sample
/// mean, stderr = s/√samples with s the sample standard deviation.
///
/// Errors: an invalid Σ, fewer than 2 samples, or F returning a non-finite value.
pub fn expect_mc(
    cov: &Array2<f64>,
    f: &dyn Fn(&[f64]) -> f64,
    samples: usize,
    seed: u64,
) -> Result<Estimate, GaussError> {
    expect_mc_with(
        cov,
        f,
        &MonteCarloOptions {
            samples,
            seed,
            antithetic: false,
        },
    )
}

/// E[F(G)] by Monte Carlo with the given options (see the module documentation for the
/// antithetic standard error).
pub fn expect_mc_with(
    cov: &Array2<f64>,
    f: &dyn Fn(&[f64]) -> f64,
    opts: &MonteCarloOptions,
) -> Result<Estimate, GaussError> {
    let gauss = Gaussian::new(cov)?;
    let mut est = monte_carlo(&gauss, &scalar_as_vec(f), 1, opts)?;
    Ok(est.remove(0))
}

/// Vector-valued Monte Carlo: F writes `outputs` values per point, all averaged over the
/// same draws; each output gets its own standard error.
pub fn expect_mc_vec(
    cov: &Array2<f64>,
    f: &dyn Fn(&[f64], &mut [f64]),
    outputs: usize,
    opts: &MonteCarloOptions,
) -> Result<Vec<Estimate>, GaussError> {
    let gauss = Gaussian::new(cov)?;
    monte_carlo(&gauss, f, outputs, opts)
}

/// The Monte Carlo loop shared by the public functions and the dispatcher.
pub(crate) fn monte_carlo(
    gauss: &Gaussian,
    f: &dyn Fn(&[f64], &mut [f64]),
    outputs: usize,
    opts: &MonteCarloOptions,
) -> Result<Vec<Estimate>, GaussError> {
    if outputs == 0 {
        return Err(GaussError::BadParameter {
            detail: "a vector integrand must have at least one output".into(),
        });
    }
    let units = if opts.antithetic {
        opts.samples / 2
    } else {
        opts.samples
    };
    if units < 2 {
        return Err(GaussError::TooFewSamples {
            samples: opts.samples,
            min: if opts.antithetic { 4 } else { 2 },
        });
    }
    let d = gauss.dim();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut g = vec![0.0; d];
    let mut neg = vec![0.0; d];
    let mut out = vec![0.0; outputs];
    let mut out_neg = vec![0.0; outputs];
    let mut stats = vec![Welford::default(); outputs];
    for _ in 0..units {
        gauss.sample_into(&mut rng, &mut g);
        evaluate(f, &g, &mut out)?;
        if opts.antithetic {
            for (n, &x) in neg.iter_mut().zip(&g) {
                *n = -x;
            }
            evaluate(f, &neg, &mut out_neg)?;
            for ((s, &a), &b) in stats.iter_mut().zip(&out).zip(&out_neg) {
                s.push(0.5 * (a + b));
            }
        } else {
            for (s, &a) in stats.iter_mut().zip(&out) {
                s.push(a);
            }
        }
    }
    let evaluations = if opts.antithetic { 2 * units } else { units };
    Ok(stats
        .iter()
        .map(|s| Estimate {
            value: s.mean,
            stderr: s.stderr(),
            method: Method::MonteCarlo {
                samples: evaluations,
            },
        })
        .collect())
}

/// Evaluates F at `g` into `out`, rejecting non-finite outputs.
fn evaluate(f: &dyn Fn(&[f64], &mut [f64]), g: &[f64], out: &mut [f64]) -> Result<(), GaussError> {
    out.iter_mut().for_each(|x| *x = 0.0);
    f(g, out);
    if let Some((o, &v)) = out.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(GaussError::NonFiniteIntegrand {
            value: v,
            output: o,
            point: g.to_vec(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn welford_matches_two_pass() {
        let xs = [1.0, 4.0, -2.0, 7.5, 0.25];
        let mut w = Welford::default();
        xs.iter().for_each(|&x| w.push(x));
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        assert!((w.mean - mean).abs() < 1e-15);
        assert!((w.stderr() - (var / n).sqrt()).abs() < 1e-15);
    }

    #[test]
    fn antithetic_removes_the_odd_part_exactly() {
        // F(G) = G₁ + G₂ is odd: every pair mean is 0, so value and error are 0.
        let s = array![[1.0, 0.3], [0.3, 2.0]];
        let f = |g: &[f64]| g[0] + g[1];
        let opts = MonteCarloOptions {
            samples: 1000,
            seed: 3,
            antithetic: true,
        };
        let e = expect_mc_with(&s, &f, &opts).unwrap();
        assert_eq!(e.value, 0.0);
        assert_eq!(e.stderr, 0.0);
        assert_eq!(e.method, Method::MonteCarlo { samples: 1000 });
    }

    #[test]
    fn too_few_samples_and_non_finite_values_are_errors() {
        let s = array![[1.0]];
        assert!(matches!(
            expect_mc(&s, &|g| g[0], 1, 0),
            Err(GaussError::TooFewSamples { .. })
        ));
        assert!(matches!(
            expect_mc(&s, &|g| 1.0 / (g[0] - g[0]), 10, 0),
            Err(GaussError::NonFiniteIntegrand { .. })
        ));
    }
}
