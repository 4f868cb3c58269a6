//! The mean-field vector fields, evaluated numerically: the network's prediction
//! μ[F(·, x)] at a set of data nodes, the loss slopes ∂₁ℓ there, and at any points w the
//! drift h(w, μ) = −Σ_q ω_q ∂₁ℓ(μ[F(·,x_q)], y_q) ∇_wF(w, x_q) − ∇V(w) and the noise
//! covariance Σ(w, μ) = Cov_ω(∂₁ℓ ∇_wF) (De Bortoli et al. 2020, §2).
//!
//! The same code serves the three dynamics: with a quadrature of π as the nodes it gives
//! the McKean–Vlasov fields h and Σ; with a minibatch of M samples (weights 1/M) the drift
//! is the literal SGD direction h + ξ of that minibatch. The formulas are compiled once to
//! tapes and run over whole columns of particles.

use super::model::{Data, InitLaw, Loss, MeanFieldProgram, XLaw};
use super::quadrature::{Nodes, Particles};
use crate::ir::ValueId;
use crate::limit::tape::{Compiler, Layout, Tape};
use rand::Rng;
use rand_distr::StandardNormal;

/// The compiled unit, its gradient, the penalty and its gradient, and the data sampler.
#[derive(Clone, Debug)]
pub struct Field {
    /// p, the particle dimension.
    dim: usize,
    /// d, the input dimension.
    x_dim: usize,
    loss: Loss,
    unit: Tape,
    unit_grad: Vec<Tape>,
    penalty: Tape,
    penalty_grad: Vec<Tape>,
    target: Option<Tape>,
    data: Data,
}

/// The drift (and optionally the noise covariance) at a set of points.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldValues {
    /// p columns: `drift[i][k]` is coordinate i of h at point k.
    pub drift: Vec<Vec<f64>>,
    /// Per point, the p×p covariance Σ row-major (empty unless asked for).
    pub cov: Vec<f64>,
}

impl Field {
    /// Compiles the program's formulas.
    pub fn new(prog: &MeanFieldProgram) -> Field {
        let slot = |v: ValueId| Some(v.0);
        let layout = Layout {
            slot: &slot,
            scalar: &|_| f64::NAN,
            acts: &prog.activations,
        };
        let mut compiler = Compiler::new(layout, prog.var_count());
        let unit = compiler.compile(&prog.unit.expr);
        let unit_grad = prog.unit_grad.iter().map(|g| compiler.compile(g)).collect();
        let penalty = compiler.compile(&prog.penalty.expr);
        let penalty_grad = prog
            .penalty_grad
            .iter()
            .map(|g| compiler.compile(g))
            .collect();
        // The teacher reads x_j as value p + j; compiled against its own layout, where the
        // x's are columns 0 … d−1.
        let target = match &prog.data {
            Data::Teacher { target, .. } => {
                let p = prog.dim;
                let slot = move |v: ValueId| v.0.checked_sub(p);
                let layout = Layout {
                    slot: &slot,
                    scalar: &|_| f64::NAN,
                    acts: &prog.activations,
                };
                Some(Compiler::new(layout, prog.x_dim).compile(&target.expr))
            }
            Data::Set { .. } => None,
        };
        Field {
            dim: prog.dim,
            x_dim: prog.x_dim,
            loss: prog.loss,
            unit,
            unit_grad,
            penalty,
            penalty_grad,
            target,
            data: prog.data.clone(),
        }
    }

    /// The particle dimension p.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// μ[F(·, x_q)] for every node q, μ the (weighted) point set `measure`.
    pub fn predictions(&self, measure: &Particles, nodes: &Nodes) -> Vec<f64> {
        let len = measure.len();
        let mut out = vec![0.0; len];
        let mut consts = vec![vec![0.0; len]; self.x_dim];
        let mut last: Option<(usize, f64)> = None;
        (0..nodes.len())
            .map(|q| {
                // Nodes differing only in the label (a teacher's noise rule) share x and
                // so the prediction: computed once per run of equal x.
                if let Some((prev, value)) = last {
                    if same_x(nodes, prev, q) {
                        return value;
                    }
                }
                for (j, col) in consts.iter_mut().enumerate() {
                    col.fill(nodes.x[j][q]);
                }
                let inputs = columns(&measure.w, &consts);
                self.unit.run_columns(&inputs, &mut out);
                let value = weighted_mean(&out, measure.weight.as_deref());
                last = Some((q, value));
                value
            })
            .collect()
    }

    /// ∂₁ℓ(ŷ_q, y_q) for predictions ŷ at the nodes.
    pub fn loss_slopes(&self, predictions: &[f64], nodes: &Nodes) -> Vec<f64> {
        predictions
            .iter()
            .zip(&nodes.y)
            .map(|(f, y)| loss_slope(self.loss, f - y))
            .collect()
    }

    /// The risk Σ_q ω_q ℓ(μ\[F(·,x_q)\], y_q) + μ\[V\] of the point set `measure`.
    pub fn risk(&self, measure: &Particles, nodes: &Nodes) -> f64 {
        let predictions = self.predictions(measure, nodes);
        let data: f64 = predictions
            .iter()
            .zip(&nodes.y)
            .zip(&nodes.weight)
            .map(|((f, y), w)| w * loss_value(self.loss, f - y))
            .sum();
        let mut v = vec![0.0; measure.len()];
        let consts = vec![vec![0.0; measure.len()]; self.x_dim];
        self.penalty
            .run_columns(&columns(&measure.w, &consts), &mut v);
        data + weighted_mean(&v, measure.weight.as_deref())
    }

    /// The drift h(w, μ) at every point of `points`, μ entering through the loss slopes
    /// `slopes` at `nodes` (from [`Field::predictions`] of μ and [`Field::loss_slopes`]);
    /// with `with_cov`, also Σ(w, μ), the ω-covariance of ∂₁ℓ ∇_wF over the nodes.
    pub fn drift(
        &self,
        points: &Particles,
        slopes: &[f64],
        nodes: &Nodes,
        with_cov: bool,
    ) -> FieldValues {
        let len = points.len();
        let p = self.dim;
        let mut mean = vec![vec![0.0; len]; p];
        let mut second = if with_cov {
            vec![0.0; len * p * p]
        } else {
            Vec::new()
        };
        let mut consts = vec![vec![0.0; len]; self.x_dim];
        let mut grad = vec![vec![0.0; len]; p];
        // The node whose x the gradient columns currently hold: consecutive nodes that
        // differ only in the label (a teacher's noise rule) reuse them.
        let mut held: Option<usize> = None;
        // Index loops: q addresses the node columns, the weights and the slopes at once.
        #[allow(clippy::needless_range_loop)]
        for q in 0..nodes.len() {
            let c = nodes.weight[q] * slopes[q];
            if c == 0.0 && !with_cov {
                continue;
            }
            if !held.is_some_and(|h| same_x(nodes, h, q)) {
                for (j, col) in consts.iter_mut().enumerate() {
                    col.fill(nodes.x[j][q]);
                }
                let inputs = columns(&points.w, &consts);
                for (tape, out) in self.unit_grad.iter().zip(grad.iter_mut()) {
                    tape.run_columns(&inputs, out);
                }
                held = Some(q);
            }
            for i in 0..p {
                for k in 0..len {
                    mean[i][k] += c * grad[i][k];
                }
            }
            if with_cov {
                let c2 = nodes.weight[q] * slopes[q] * slopes[q];
                for k in 0..len {
                    let block = &mut second[k * p * p..(k + 1) * p * p];
                    for i in 0..p {
                        for j in 0..p {
                            block[i * p + j] += c2 * grad[i][k] * grad[j][k];
                        }
                    }
                }
            }
        }
        let mut cov = second;
        if with_cov {
            for k in 0..len {
                let block = &mut cov[k * p * p..(k + 1) * p * p];
                for i in 0..p {
                    for j in 0..p {
                        block[i * p + j] -= mean[i][k] * mean[j][k];
                    }
                }
            }
        }
        // h = −E[∂₁ℓ ∇F] − ∇V.
        let zeros = vec![vec![0.0; len]; self.x_dim];
        let inputs = columns(&points.w, &zeros);
        let mut penalty = vec![0.0; len];
        for (i, tape) in self.penalty_grad.iter().enumerate() {
            tape.run_columns(&inputs, &mut penalty);
            for k in 0..len {
                mean[i][k] = -mean[i][k] - penalty[k];
            }
        }
        FieldValues { drift: mean, cov }
    }

    /// A minibatch of `m` independent draws from π (weights 1/m): x from the teacher's
    /// input law and y = f*(x) + σ ε, or uniform picks from the finite set.
    pub fn sample_batch<R: Rng + ?Sized>(&self, rng: &mut R, m: usize) -> Nodes {
        let d = self.x_dim;
        let mut x = vec![Vec::with_capacity(m); d];
        let mut y = Vec::with_capacity(m);
        match &self.data {
            Data::Set { points } => {
                for _ in 0..m {
                    let (px, py) = &points[rng.gen_range(0..points.len())];
                    for (col, v) in x.iter_mut().zip(px) {
                        col.push(*v);
                    }
                    y.push(*py);
                }
            }
            Data::Teacher { x_law, noise, .. } => {
                for _ in 0..m {
                    for col in x.iter_mut() {
                        col.push(match x_law {
                            XLaw::Gaussian => rng.sample::<f64, _>(StandardNormal),
                            XLaw::Uniform => rng.gen_range(-1.0..=1.0),
                        });
                    }
                }
                let mut teacher = vec![0.0; m];
                if let Some(tape) = &self.target {
                    let inputs: Vec<&[f64]> = x.iter().map(Vec::as_slice).collect();
                    tape.run_columns(&inputs, &mut teacher);
                }
                for t in teacher {
                    let eps: f64 = if *noise > 0.0 {
                        rng.sample(StandardNormal)
                    } else {
                        0.0
                    };
                    y.push(t + noise * eps);
                }
            }
        }
        Nodes {
            x,
            y,
            weight: vec![1.0 / m as f64; m],
        }
    }
}

/// One draw from the initial law μ₀ in R^p.
pub fn sample_init<R: Rng + ?Sized>(init: &InitLaw, p: usize, rng: &mut R) -> Vec<f64> {
    match init {
        InitLaw::Point(at) => at.clone(),
        InitLaw::Gaussian { mean, std } => (0..p)
            .map(|i| mean[i] + std * rng.sample::<f64, _>(StandardNormal))
            .collect(),
        InitLaw::Sphere { radius } => loop {
            // A standard Gaussian vector normalized is uniform on the sphere; a vector of
            // norm 0 (probability 0, but possible in floating point) is drawn again.
            let z: Vec<f64> = (0..p).map(|_| rng.sample(StandardNormal)).collect();
            let norm = z.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm > 0.0 {
                break z.iter().map(|v| radius * v / norm).collect();
            }
        },
    }
}

/// ∂₁ℓ as a function of the residual r = ŷ − y.
pub fn loss_slope(loss: Loss, r: f64) -> f64 {
    match loss {
        Loss::Square => r,
        Loss::Huber { delta } => r.clamp(-delta, delta),
    }
}

/// ℓ as a function of the residual r = ŷ − y.
pub fn loss_value(loss: Loss, r: f64) -> f64 {
    match loss {
        Loss::Square => 0.5 * r * r,
        Loss::Huber { delta } => {
            if r.abs() <= delta {
                0.5 * r * r
            } else {
                delta * r.abs() - 0.5 * delta * delta
            }
        }
    }
}

/// Whether nodes a and b have the same input x (bitwise), so every unit value agrees.
fn same_x(nodes: &Nodes, a: usize, b: usize) -> bool {
    nodes
        .x
        .iter()
        .all(|col| col[a].to_bits() == col[b].to_bits())
}

/// The tape inputs: the w columns then the x columns (slots 0 … p+d−1).
fn columns<'a>(w: &'a [Vec<f64>], x: &'a [Vec<f64>]) -> Vec<&'a [f64]> {
    w.iter().chain(x).map(Vec::as_slice).collect()
}

/// Σ_k ω_k v_k, or the plain mean without weights.
fn weighted_mean(v: &[f64], weight: Option<&[f64]>) -> f64 {
    match weight {
        Some(w) => v.iter().zip(w).map(|(a, b)| a * b).sum(),
        None => v.iter().sum::<f64>() / v.len().max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meanfield::model::test_programs::{tanh_teacher, toy};
    use crate::meanfield::quadrature::data_nodes;

    #[test]
    fn toy_drift_and_covariance_match_the_closed_forms() {
        // h(w, μ) = −(m − a) − λ w and Σ = 2 (m − a)² + σ² for x ~ N(0, 1) (Var x² = 2).
        let (a, lambda, sigma) = (0.5, 1.0, 0.5);
        let prog = toy(a, lambda, sigma, Loss::Square);
        let field = Field::new(&prog);
        let nodes = data_nodes(&prog, 16);
        let measure = Particles {
            w: vec![vec![0.2, 1.4, 0.9]],
            weight: None,
        };
        let m = 2.5 / 3.0;
        let pred = field.predictions(&measure, &nodes);
        let slopes = field.loss_slopes(&pred, &nodes);
        let points = Particles {
            w: vec![vec![-1.0, 0.0, 2.0]],
            weight: None,
        };
        let values = field.drift(&points, &slopes, &nodes, true);
        for (k, w) in [-1.0, 0.0, 2.0].iter().enumerate() {
            let h = -(m - a) - lambda * w;
            assert!((values.drift[0][k] - h).abs() < 1e-12, "{k}");
            let s = 2.0 * (m - a) * (m - a) + sigma * sigma;
            assert!((values.cov[k] - s).abs() < 1e-12, "{k}: {}", values.cov[k]);
        }
        // The risk: E (m x − a x − σ ε)²/2 + λ E_μ w²/2.
        let second = (0.04 + 1.96 + 0.81) / 3.0;
        let risk = 0.5 * ((m - a) * (m - a) + sigma * sigma) + lambda * second / 2.0;
        assert!((field.risk(&measure, &nodes) - risk).abs() < 1e-12);
    }

    #[test]
    fn a_minibatch_drift_averages_to_the_mean_field_drift() {
        // E over the minibatch of the SGD direction is h: checked by averaging 20000
        // single-sample directions (SE ≈ 0.01), within 5 standard errors.
        use rand::SeedableRng;
        let prog = toy(0.5, 1.0, 0.5, Loss::Huber { delta: 0.3 });
        let field = Field::new(&prog);
        let nodes = data_nodes(&prog, 32);
        let measure = Particles {
            w: vec![vec![0.2, 1.4, 0.9]],
            weight: None,
        };
        let slopes = field.loss_slopes(&field.predictions(&measure, &nodes), &nodes);
        let point = Particles {
            w: vec![vec![0.7]],
            weight: None,
        };
        let exact = field.drift(&point, &slopes, &nodes, true);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let draws = 20000;
        let (mut sum, mut sum2) = (0.0, 0.0);
        for _ in 0..draws {
            let batch = field.sample_batch(&mut rng, 1);
            let s = field.loss_slopes(&field.predictions(&measure, &batch), &batch);
            let d = field.drift(&point, &s, &batch, false).drift[0][0];
            sum += d;
            sum2 += d * d;
        }
        let mean = sum / draws as f64;
        let var = sum2 / draws as f64 - mean * mean;
        let se = (var / draws as f64).sqrt();
        assert!(
            (mean - exact.drift[0][0]).abs() < 5.0 * se,
            "{mean} vs {:?}",
            exact.drift
        );
        // And the per-sample variance is Σ (the noise covariance of one sample).
        assert!(
            (var - exact.cov[0]).abs() < 0.05 * exact.cov[0],
            "{var} vs {:?}",
            exact.cov
        );
    }

    #[test]
    fn the_drift_is_minus_the_gradient_of_the_first_variation() {
        // h(w, μ) = −∇_w [Σ_q ω_q ∂₁ℓ(μ[F(·,x_q)], y_q) F(w, x_q) + V(w)]: compared with
        // central differences of F and V computed from the compiled unit and penalty.
        let prog = tanh_teacher(crate::exponent::Rational::new(1.into(), 2.into()));
        let field = Field::new(&prog);
        let nodes = data_nodes(&prog, 24);
        let measure = Particles {
            w: vec![vec![0.3, -1.2, 0.8, 2.0], vec![0.1, 0.5, -0.7, 0.0]],
            weight: None,
        };
        let slopes = field.loss_slopes(&field.predictions(&measure, &nodes), &nodes);
        let w = [0.4, -0.3];
        let potential = |v: &[f64]| {
            let point = Particles {
                w: vec![vec![v[0]], vec![v[1]]],
                weight: None,
            };
            let f = field.predictions(&point, &nodes);
            let data: f64 = f
                .iter()
                .zip(&slopes)
                .zip(&nodes.weight)
                .map(|((f, s), o)| f * s * o)
                .sum();
            let prior = field.risk(
                &point,
                &Nodes {
                    x: vec![vec![]],
                    y: vec![],
                    weight: vec![],
                },
            );
            data + prior
        };
        let point = Particles {
            w: vec![vec![w[0]], vec![w[1]]],
            weight: None,
        };
        let h = field.drift(&point, &slopes, &nodes, false);
        let eps = 1e-6;
        for i in 0..2 {
            let mut up = w;
            let mut down = w;
            up[i] += eps;
            down[i] -= eps;
            let fd = -(potential(&up) - potential(&down)) / (2.0 * eps);
            assert!(
                (h.drift[i][0] - fd).abs() < 1e-7,
                "{i}: {} vs {fd}",
                h.drift[i][0]
            );
        }
    }
}
