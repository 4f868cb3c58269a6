//! The classical fourth-order Runge–Kutta method for dx/dt = f(t, x), with the path at a
//! regular stride and an error estimate by step doubling.
//!
//! The right-hand side is any `FnMut(t, x, dxdt)` writing f(t, x) into `dxdt`, so the
//! callers' closures can evaluate formulas without building vectors. The limits of
//! residual networks are integrated over [0, 1] at a step tied to the network's depth
//! (1/(rL)); the error estimate lets a caller say how far the reference is from the
//! exact solution instead of assuming it is exact.

use super::{check_len, SolveError};
use std::ops::ControlFlow;

/// Scratch space for RK4 in a fixed dimension: the four stages and the stage state,
/// allocated once so that stepping allocates nothing.
#[derive(Clone, Debug)]
pub struct Rk4 {
    k1: Vec<f64>,
    k2: Vec<f64>,
    k3: Vec<f64>,
    k4: Vec<f64>,
    stage: Vec<f64>,
}

impl Rk4 {
    /// A workspace for systems of dimension `dim`.
    pub fn new(dim: usize) -> Self {
        Rk4 {
            k1: vec![0.0; dim],
            k2: vec![0.0; dim],
            k3: vec![0.0; dim],
            k4: vec![0.0; dim],
            stage: vec![0.0; dim],
        }
    }

    /// The dimension this workspace was made for.
    pub fn dim(&self) -> usize {
        self.k1.len()
    }

    /// One RK4 step of length `h` from (t, x), in place.
    pub fn step<F>(&mut self, f: &mut F, t: f64, h: f64, x: &mut [f64]) -> Result<(), SolveError>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        check_len("x", self.dim(), x.len())?;
        self.step_unchecked(f, t, h, x);
        Ok(())
    }

    /// [`Rk4::step`] once the length is known to match.
    fn step_unchecked<F>(&mut self, f: &mut F, t: f64, h: f64, x: &mut [f64])
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        let half = 0.5 * h;
        f(t, x, &mut self.k1);
        for ((s, xi), k) in self.stage.iter_mut().zip(x.iter()).zip(&self.k1) {
            *s = xi + half * k;
        }
        f(t + half, &self.stage, &mut self.k2);
        for ((s, xi), k) in self.stage.iter_mut().zip(x.iter()).zip(&self.k2) {
            *s = xi + half * k;
        }
        f(t + half, &self.stage, &mut self.k3);
        for ((s, xi), k) in self.stage.iter_mut().zip(x.iter()).zip(&self.k3) {
            *s = xi + h * k;
        }
        f(t + h, &self.stage, &mut self.k4);
        let sixth = h / 6.0;
        for (i, xi) in x.iter_mut().enumerate() {
            *xi += sixth * (self.k1[i] + 2.0 * self.k2[i] + 2.0 * self.k3[i] + self.k4[i]);
        }
    }

    /// Integrates from `t0` to `t1` in `steps` equal steps, updating `x` in place.
    ///
    /// `visit(k, t_k, x_k)` is called at step 0 and after every step; returning
    /// `ControlFlow::Break(())` stops the integration there (e.g. at a blow-up). Returns
    /// the number of steps taken. Times are computed as t0 + k·h, not accumulated, so
    /// the last step ends at t1 up to one rounding.
    pub fn integrate<F, V>(
        &mut self,
        f: &mut F,
        t0: f64,
        t1: f64,
        steps: usize,
        x: &mut [f64],
        mut visit: V,
    ) -> Result<usize, SolveError>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
        V: FnMut(usize, f64, &[f64]) -> ControlFlow<()>,
    {
        check_interval(t0, t1, steps)?;
        check_len("x", self.dim(), x.len())?;
        let h = (t1 - t0) / steps as f64;
        if visit(0, t0, x).is_break() {
            return Ok(0);
        }
        for k in 0..steps {
            let t = t0 + k as f64 * h;
            self.step_unchecked(f, t, h, x);
            let next = if k + 1 == steps {
                t1
            } else {
                t0 + (k + 1) as f64 * h
            };
            if visit(k + 1, next, x).is_break() {
                return Ok(k + 1);
            }
        }
        Ok(steps)
    }
}

/// Refuses zero steps and non-finite ends.
fn check_interval(t0: f64, t1: f64, steps: usize) -> Result<(), SolveError> {
    if steps == 0 {
        return Err(SolveError::ZeroSteps);
    }
    if !(t0.is_finite() && t1.is_finite()) {
        return Err(SolveError::BadInterval {
            t0: t0.to_string(),
            t1: t1.to_string(),
        });
    }
    Ok(())
}

/// The RK4 end state x(t1) from x(t0) = `x0` in `steps` equal steps.
pub fn rk4_end<F>(
    mut f: F,
    t0: f64,
    t1: f64,
    x0: &[f64],
    steps: usize,
) -> Result<Vec<f64>, SolveError>
where
    F: FnMut(f64, &[f64], &mut [f64]),
{
    let mut x = x0.to_vec();
    Rk4::new(x0.len()).integrate(&mut f, t0, t1, steps, &mut x, |_, _, _| {
        ControlFlow::Continue(())
    })?;
    Ok(x)
}

/// Points of a path: times and states (row-major, `dim` numbers per point).
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    /// The dimension of each state.
    pub dim: usize,
    /// The times of the recorded points.
    pub times: Vec<f64>,
    /// The states, point after point.
    pub states: Vec<f64>,
}

impl Path {
    /// The number of recorded points.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether no point was recorded.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// The state at point `k`, if recorded.
    pub fn state(&self, k: usize) -> Option<&[f64]> {
        self.states.get(k * self.dim..(k + 1) * self.dim)
    }
}

/// The RK4 path from x(t0) = `x0` in `steps` equal steps, recorded at steps 0, `every`,
/// 2·`every`, …, `steps` (so `every` must divide `steps`): a fine integration read on a
/// coarse grid, as when a depth-L network is compared with its limit solved at step
/// 1/(rL).
pub fn rk4_path<F>(
    mut f: F,
    t0: f64,
    t1: f64,
    x0: &[f64],
    steps: usize,
    every: usize,
) -> Result<Path, SolveError>
where
    F: FnMut(f64, &[f64], &mut [f64]),
{
    if every == 0 || steps % every != 0 {
        return Err(SolveError::StrideMismatch { steps, every });
    }
    let points = steps / every + 1;
    let dim = x0.len();
    let mut path = Path {
        dim,
        times: Vec::with_capacity(points),
        states: Vec::with_capacity(points * dim),
    };
    let mut x = x0.to_vec();
    Rk4::new(dim).integrate(&mut f, t0, t1, steps, &mut x, |k, t, xk| {
        if k % every == 0 {
            path.times.push(t);
            path.states.extend_from_slice(xk);
        }
        ControlFlow::Continue(())
    })?;
    Ok(path)
}

/// The result of an integration with N and 2N steps.
#[derive(Clone, Debug, PartialEq)]
pub struct Rk4Estimate {
    /// x_N: the end state with N steps.
    pub coarse: Vec<f64>,
    /// x_{2N}: the end state with 2N steps (the answer).
    pub fine: Vec<f64>,
    /// |x_N − x_{2N}| (Euclidean): a safe bound on the error of x_{2N} whenever the
    /// error at least halves when the step is halved.
    pub difference: f64,
    /// |x_N − x_{2N}| / 15: Richardson's estimate of the error of x_{2N} for a
    /// fourth-order method (error ≈ C h^4), valid once h is in that asymptotic regime.
    pub error: f64,
    /// x_{2N} + (x_{2N} − x_N)/15: the Richardson extrapolation (fifth order), usually
    /// more accurate than `fine` but without an error estimate of its own.
    pub extrapolated: Vec<f64>,
}

/// RK4 with `steps` and `2·steps` steps, so that the caller can report an honest error
/// (see [`Rk4Estimate`]).
pub fn rk4_with_error<F>(
    mut f: F,
    t0: f64,
    t1: f64,
    x0: &[f64],
    steps: usize,
) -> Result<Rk4Estimate, SolveError>
where
    F: FnMut(f64, &[f64], &mut [f64]),
{
    let coarse = rk4_end(&mut f, t0, t1, x0, steps)?;
    let fine = rk4_end(&mut f, t0, t1, x0, steps.saturating_mul(2))?;
    let difference = coarse
        .iter()
        .zip(&fine)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt();
    let extrapolated = coarse
        .iter()
        .zip(&fine)
        .map(|(c, f)| f + (f - c) / 15.0)
        .collect();
    Ok(Rk4Estimate {
        coarse,
        fine,
        difference,
        error: difference / 15.0,
        extrapolated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    type M2 = [[f64; 2]; 2];

    fn mul(a: &M2, b: &M2) -> M2 {
        let mut c = [[0.0; 2]; 2];
        for i in 0..2 {
            for j in 0..2 {
                c[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j];
            }
        }
        c
    }

    /// e^A by scaling and squaring of a 30-term Taylor series: independent of RK4.
    fn expm(a: &M2) -> M2 {
        let squarings = 10;
        let s = 0.5f64.powi(squarings);
        let scaled = [[a[0][0] * s, a[0][1] * s], [a[1][0] * s, a[1][1] * s]];
        let mut sum = [[1.0, 0.0], [0.0, 1.0]];
        let mut term = sum;
        for k in 1..30 {
            term = mul(&term, &scaled);
            for row in term.iter_mut() {
                for x in row.iter_mut() {
                    *x /= k as f64;
                }
            }
            for i in 0..2 {
                for j in 0..2 {
                    sum[i][j] += term[i][j];
                }
            }
        }
        for _ in 0..squarings {
            sum = mul(&sum, &sum);
        }
        sum
    }

    const A: M2 = [[0.3, 1.2], [-1.5, -0.4]];
    const X0: [f64; 2] = [1.0, -0.5];

    fn linear(_t: f64, x: &[f64], out: &mut [f64]) {
        out[0] = A[0][0] * x[0] + A[0][1] * x[1];
        out[1] = A[1][0] * x[0] + A[1][1] * x[1];
    }

    fn exact() -> [f64; 2] {
        let e = expm(&A);
        [
            e[0][0] * X0[0] + e[0][1] * X0[1],
            e[1][0] * X0[0] + e[1][1] * X0[1],
        ]
    }

    fn distance(a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f64>()
            .sqrt()
    }

    #[test]
    fn series_exponential_is_right_on_a_rotation() {
        // e^{θJ} with J = [[0, 1], [−1, 0]] is the rotation by θ: checks the oracle.
        let e = expm(&[[0.0, 0.7], [-0.7, 0.0]]);
        assert!((e[0][0] - 0.7f64.cos()).abs() < 1e-13);
        assert!((e[0][1] - 0.7f64.sin()).abs() < 1e-13);
    }

    #[test]
    fn rk4_error_on_a_linear_system_is_fourth_order() {
        let x = exact();
        let errors: Vec<f64> = [8, 16, 32, 64]
            .iter()
            .map(|&n| distance(&rk4_end(linear, 0.0, 1.0, &X0, n).unwrap(), &x))
            .collect();
        for w in errors.windows(2) {
            let ratio = w[0] / w[1];
            assert!(
                (13.0..19.0).contains(&ratio),
                "error ratio {ratio} ({errors:?})"
            );
        }
        assert!(errors[3] < 1e-7, "{errors:?}");
    }

    #[test]
    fn step_doubling_estimates_the_actual_error() {
        let x = exact();
        let est = rk4_with_error(linear, 0.0, 1.0, &X0, 16).unwrap();
        let actual = distance(&est.fine, &x);
        assert!(
            est.error > 0.5 * actual && est.error < 2.0 * actual,
            "estimate {} actual {actual}",
            est.error
        );
        assert!(est.difference >= actual);
        assert!(distance(&est.extrapolated, &x) < 0.2 * actual);
    }

    #[test]
    fn path_is_read_on_the_coarse_grid_and_ends_at_the_end_state() {
        let path = rk4_path(linear, 0.0, 1.0, &X0, 64, 8).unwrap();
        assert_eq!(path.len(), 9);
        assert_eq!(path.times[8], 1.0);
        assert!((path.times[4] - 0.5).abs() < 1e-15);
        let end = rk4_end(linear, 0.0, 1.0, &X0, 64).unwrap();
        assert_eq!(path.state(8).unwrap(), &end[..]);
        // The point at t = 1/2 is the end state of an integration over [0, 1/2].
        let half = rk4_end(linear, 0.0, 0.5, &X0, 32).unwrap();
        assert!(distance(path.state(4).unwrap(), &half) < 1e-14);
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert_eq!(
            rk4_end(linear, 0.0, 1.0, &X0, 0),
            Err(SolveError::ZeroSteps)
        );
        assert!(matches!(
            rk4_path(linear, 0.0, 1.0, &X0, 10, 3),
            Err(SolveError::StrideMismatch { .. })
        ));
        assert!(matches!(
            rk4_end(linear, 0.0, f64::INFINITY, &X0, 4),
            Err(SolveError::BadInterval { .. })
        ));
        let mut ws = Rk4::new(3);
        let mut x = [0.0; 2];
        assert!(matches!(
            ws.step(&mut linear, 0.0, 0.1, &mut x),
            Err(SolveError::Dimension {
                expected: 3,
                found: 2,
                ..
            })
        ));
    }

    #[test]
    fn integration_stops_when_told() {
        let mut x = X0;
        let taken = Rk4::new(2)
            .integrate(&mut linear, 0.0, 1.0, 100, &mut x, |k, _, _| {
                if k == 7 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
        assert_eq!(taken, 7);
    }
}
