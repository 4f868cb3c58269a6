//! Steps of Euler–Maruyama and Milstein schemes for dX = a(t, X) dt + b(t, X) dB, with
//! the Brownian increments supplied by the caller.
//!
//! Taking the increments as arguments is what makes a synchronous coupling possible:
//! the increments a network layer draws are summed from the same fine increments the
//! limit equation is stepped with, so the two paths differ only by discretization.
//! Euler–Maruyama has strong order 1/2 in general; Milstein's extra term
//! ½ b b' (ΔB² − h) raises it to 1, but only where the noise is scalar or diagonal
//! (each component driven by its own Brownian motion through a coefficient of that
//! component alone) — with several non-commuting noises it would need Lévy areas.

use super::{check_len, SolveError};

/// x ← x + a·h + noise, where `drift` holds a(t, x) and `noise` holds b(t, x)·ΔB, both
/// computed by the caller at the start of the step (Itô).
pub fn euler_maruyama_update(
    x: &mut [f64],
    drift: &[f64],
    h: f64,
    noise: &[f64],
) -> Result<(), SolveError> {
    check_len("drift", x.len(), drift.len())?;
    check_len("noise", x.len(), noise.len())?;
    for ((xi, a), z) in x.iter_mut().zip(drift).zip(noise) {
        *xi += a * h + z;
    }
    Ok(())
}

/// One scalar Euler–Maruyama step: x + a h + b ΔB.
#[inline]
pub fn euler_maruyama_scalar(x: f64, a: f64, b: f64, h: f64, db: f64) -> f64 {
    x + a * h + b * db
}

/// One scalar Milstein step: x + a h + b ΔB + ½ b b' (ΔB² − h), with a, b, b' = ∂b/∂x
/// evaluated at the start of the step.
#[inline]
pub fn milstein_scalar(x: f64, a: f64, b: f64, b_prime: f64, h: f64, db: f64) -> f64 {
    x + a * h + b * db + 0.5 * b * b_prime * (db * db - h)
}

/// One Milstein step for diagonal noise: component i is driven by its own increment
/// `db[i]` through a coefficient b_i(x_i) whose derivative is `b_prime[i]`.
pub fn milstein_diagonal(
    x: &mut [f64],
    a: &[f64],
    b: &[f64],
    b_prime: &[f64],
    h: f64,
    db: &[f64],
) -> Result<(), SolveError> {
    let d = x.len();
    check_len("drift", d, a.len())?;
    check_len("diffusion", d, b.len())?;
    check_len("diffusion derivative", d, b_prime.len())?;
    check_len("increments", d, db.len())?;
    for i in 0..d {
        x[i] = milstein_scalar(x[i], a[i], b[i], b_prime[i], h, db[i]);
    }
    Ok(())
}

/// g'(x) by a central difference with step ∛ε·max(1, |x|) (which balances truncation
/// and rounding errors, leaving about 1e-10 relative accuracy), for a Milstein term
/// whose diffusion coefficient is only available as a function.
pub fn central_derivative(mut g: impl FnMut(f64) -> f64, x: f64) -> f64 {
    let step = f64::EPSILON.cbrt() * x.abs().max(1.0);
    // Rounding x ± step to representable numbers keeps the divided difference exact
    // about the points actually used.
    let (lo, hi) = (x - step, x + step);
    (g(hi) - g(lo)) / (hi - lo)
}

/// An Euler–Maruyama stepper with its buffers allocated once.
#[derive(Clone, Debug)]
pub struct EulerMaruyama {
    drift: Vec<f64>,
    noise: Vec<f64>,
}

impl EulerMaruyama {
    /// A stepper for systems of dimension `dim`.
    pub fn new(dim: usize) -> Self {
        EulerMaruyama {
            drift: vec![0.0; dim],
            noise: vec![0.0; dim],
        }
    }

    /// The dimension this stepper was made for.
    pub fn dim(&self) -> usize {
        self.drift.len()
    }

    /// One step of length `h` from (t, x), in place: `drift(t, x, out)` writes a(t, x);
    /// `noise(t, x, db, out)` adds b(t, x)·ΔB for the caller's increments `db` into
    /// `out` (zeroed first), whatever the shape of the noise.
    pub fn step<A, B>(
        &mut self,
        drift: &mut A,
        noise: &mut B,
        t: f64,
        h: f64,
        x: &mut [f64],
        db: &[f64],
    ) -> Result<(), SolveError>
    where
        A: FnMut(f64, &[f64], &mut [f64]),
        B: FnMut(f64, &[f64], &[f64], &mut [f64]),
    {
        check_len("x", self.dim(), x.len())?;
        drift(t, x, &mut self.drift);
        self.noise.iter_mut().for_each(|z| *z = 0.0);
        noise(t, x, db, &mut self.noise);
        for ((xi, a), z) in x.iter_mut().zip(&self.drift).zip(&self.noise) {
            *xi += a * h + z;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solve::Brownian;

    /// Least-squares slope of log y against log x.
    fn loglog_slope(xs: &[f64], ys: &[f64]) -> f64 {
        let lx: Vec<f64> = xs.iter().map(|x| x.ln()).collect();
        let ly: Vec<f64> = ys.iter().map(|y| y.ln()).collect();
        let n = lx.len() as f64;
        let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
        let sxy: f64 = lx.iter().zip(&ly).map(|(x, y)| (x - mx) * (y - my)).sum();
        let sxx: f64 = lx.iter().map(|x| (x - mx) * (x - mx)).sum();
        sxy / sxx
    }

    /// Mean pathwise error at t = 1 of EM and Milstein on geometric Brownian motion
    /// dH = aH dt + sH dB, against the exact H_1 = x exp((a − s²/2) + s B_1) built from
    /// the same increments: (step sizes, EM errors, Milstein errors).
    fn gbm_errors() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (a, s, x0) = (0.5, 0.7, 1.0);
        let finest = 1usize << 11;
        let levels = [32usize, 64, 128, 256, 512];
        let seeds = 300u64;
        let mut em = vec![0.0; levels.len()];
        let mut mil = vec![0.0; levels.len()];
        let mut fine = vec![0.0; finest];
        for seed in 0..seeds {
            let b = Brownian::new(seed, 0);
            let hf = 1.0 / finest as f64;
            for (k, slot) in fine.iter_mut().enumerate() {
                *slot = b.increment(k as u64, 0, hf);
            }
            let b1: f64 = fine.iter().sum();
            let exact = x0 * ((a - 0.5 * s * s) + s * b1).exp();
            for (l, &n) in levels.iter().enumerate() {
                let group = finest / n;
                let h = 1.0 / n as f64;
                let (mut xe, mut xm) = (x0, x0);
                for chunk in fine.chunks(group) {
                    // The coarse increment is the sum of the fine ones: the same path.
                    let db: f64 = chunk.iter().sum();
                    xe = euler_maruyama_scalar(xe, a * xe, s * xe, h, db);
                    let bp = central_derivative(|y| s * y, xm);
                    xm = milstein_scalar(xm, a * xm, s * xm, bp, h, db);
                }
                em[l] += (xe - exact).abs() / seeds as f64;
                mil[l] += (xm - exact).abs() / seeds as f64;
            }
        }
        let hs = levels.iter().map(|&n| 1.0 / n as f64).collect();
        (hs, em, mil)
    }

    #[test]
    fn euler_maruyama_converges_with_order_one_half_and_milstein_with_order_one() {
        let (hs, em, mil) = gbm_errors();
        let (se, sm) = (loglog_slope(&hs, &em), loglog_slope(&hs, &mil));
        assert!((se - 0.5).abs() < 0.15, "EM slope {se}: {em:?}");
        assert!((sm - 1.0).abs() < 0.15, "Milstein slope {sm}: {mil:?}");
        // Milstein is the better scheme at every step size here.
        assert!(mil.iter().zip(&em).all(|(m, e)| m < e));
    }

    #[test]
    fn stepper_matches_the_hand_update() {
        let mut em = EulerMaruyama::new(2);
        let mut x = [1.0, 2.0];
        let mut drift = |_t: f64, x: &[f64], out: &mut [f64]| {
            out[0] = -x[0];
            out[1] = x[0] * x[1];
        };
        let mut noise = |_t: f64, x: &[f64], db: &[f64], out: &mut [f64]| {
            out[0] += x[1] * db[0];
            out[1] += 0.5 * db[1];
        };
        em.step(&mut drift, &mut noise, 0.0, 0.1, &mut x, &[0.3, -0.2])
            .unwrap();
        assert!((x[0] - (1.0 - 0.1 + 2.0 * 0.3)).abs() < 1e-15);
        assert!((x[1] - (2.0 + 0.2 - 0.1)).abs() < 1e-15);
        let mut y = [1.0];
        assert!(euler_maruyama_update(&mut y, &[1.0, 2.0], 0.1, &[0.0]).is_err());
        assert!(milstein_diagonal(&mut y, &[1.0], &[1.0], &[1.0], 0.1, &[]).is_err());
    }

    #[test]
    fn central_derivative_is_accurate() {
        let d = central_derivative(|x| x.sin(), 0.7);
        assert!((d - 0.7f64.cos()).abs() < 1e-9);
        let d = central_derivative(|x| x * x * x, 1e3);
        assert!((d / 3e6 - 1.0).abs() < 1e-9);
    }
}
