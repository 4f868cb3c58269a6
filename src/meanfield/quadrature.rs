//! Weighted point sets standing in for the two laws the limit integrates against: the
//! data distribution π (a tensor Gauss rule for a teacher's inputs and label noise, the
//! set itself for a finite data set) and the initial law μ₀ (Gauss–Hermite per
//! coordinate, a product rule on the sphere, one point for a point mass).
//!
//! Both are columns (structure of arrays) so that the compiled formulas run over whole
//! columns at once (see [`crate::limit::tape::Tape::run_columns`]).

use super::model::{Data, InitLaw, MeanFieldProgram, XLaw};
use crate::gauss::recurrence::gauss_legendre;
use crate::gauss::{gauss_hermite, MAX_NODES};
use crate::ir::ValueId;
use crate::limit::tape::{Compiler, Layout};

/// Samples (x_q, y_q) with probability weights ω_q summing to 1: a quadrature of π, a
/// minibatch of M draws (weights 1/M), or a finite data set.
#[derive(Clone, Debug, PartialEq)]
pub struct Nodes {
    /// d columns: `x[j][q]` is coordinate j of node q.
    pub x: Vec<Vec<f64>>,
    /// The labels y_q.
    pub y: Vec<f64>,
    /// The weights ω_q (≥ 0, summing to 1).
    pub weight: Vec<f64>,
}

impl Nodes {
    /// The number of nodes Q.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
}

/// Points w_k ∈ R^p with optional probability weights: the particles of a system
/// (uniform weights 1/N) or a quadrature of μ₀.
#[derive(Clone, Debug, PartialEq)]
pub struct Particles {
    /// p columns: `w[i][k]` is coordinate i of particle k.
    pub w: Vec<Vec<f64>>,
    /// The weights, summing to 1; `None` means 1/N each.
    pub weight: Option<Vec<f64>>,
}

impl Particles {
    /// N particles at the origin of R^p, uniformly weighted.
    pub fn zeros(p: usize, n: usize) -> Particles {
        Particles {
            w: vec![vec![0.0; n]; p],
            weight: None,
        }
    }

    /// The number of points.
    pub fn len(&self) -> usize {
        self.w.first().map_or(0, Vec::len)
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The weight of point k.
    pub fn weight_of(&self, k: usize) -> f64 {
        match &self.weight {
            Some(w) => w[k],
            None => 1.0 / self.len() as f64,
        }
    }

    /// Point k as a vector.
    pub fn point(&self, k: usize) -> Vec<f64> {
        self.w.iter().map(|col| col[k]).collect()
    }
}

/// The largest number of nodes a quadrature of π or μ₀ may have: the limit solver
/// evaluates every unit at every (particle, node) pair at every step.
pub const MAX_RULE_NODES: usize = 4096;

/// How many nodes per coordinate a `level` gives in `dims` dimensions, capped so that the
/// product stays within [`MAX_RULE_NODES`] (at least 2 per coordinate).
fn per_coordinate(level: usize, dims: usize) -> usize {
    let mut q = level.max(2);
    while q > 2
        && q.checked_pow(dims as u32)
            .map_or(true, |t| t > MAX_RULE_NODES)
    {
        q -= 1;
    }
    q
}

/// A one-dimensional probability rule for a teacher's input law.
fn input_rule(law: XLaw, q: usize) -> (Vec<f64>, Vec<f64>) {
    match law {
        XLaw::Gaussian => hermite(q),
        XLaw::Uniform => {
            let r = gauss_legendre(q);
            (r.nodes, r.weights)
        }
    }
}

/// The q-node Gauss–Hermite rule for N(0, 1), q clamped to the supported range.
fn hermite(q: usize) -> (Vec<f64>, Vec<f64>) {
    match gauss_hermite(q.clamp(1, MAX_NODES)) {
        Ok(r) => (r.nodes, r.weights),
        // Unreachable after the clamp; the two-node rule (the zeros ±1 of He₂) is still
        // a correct rule, exact to degree 3.
        Err(_) => (vec![-1.0, 1.0], vec![0.5, 0.5]),
    }
}

/// The tensor product of one-dimensional rules: every combination of nodes, weights
/// multiplied. Returns coordinate columns and weights.
fn tensor(rules: &[(Vec<f64>, Vec<f64>)]) -> (Vec<Vec<f64>>, Vec<f64>) {
    let total: usize = rules.iter().map(|r| r.0.len()).product();
    let mut cols = vec![Vec::with_capacity(total); rules.len()];
    let mut weights = Vec::with_capacity(total);
    let mut index = vec![0usize; rules.len()];
    for _ in 0..total {
        let mut w = 1.0;
        for (j, (nodes, ws)) in rules.iter().enumerate() {
            cols[j].push(nodes[index[j]]);
            w *= ws[index[j]];
        }
        weights.push(w);
        // Odometer increment, last coordinate fastest.
        for j in (0..rules.len()).rev() {
            index[j] += 1;
            if index[j] < rules[j].0.len() {
                break;
            }
            index[j] = 0;
        }
    }
    (cols, weights)
}

/// A quadrature of the data law π at the given level (nodes per input coordinate): the
/// finite set itself, or for a teacher a tensor rule over x (Gauss–Hermite or
/// Gauss–Legendre) times, with label noise, a Gauss–Hermite rule over ε, y = f*(x) + σ ε.
/// The square loss makes every integrand a polynomial of degree ≤ 2 in ε (the drift is
/// linear in the residual, Σ and the risk quadratic), so the 2-node rule ±1, exact to
/// degree 3, is exact there; other losses use `level` noise nodes.
pub fn data_nodes(prog: &MeanFieldProgram, level: usize) -> Nodes {
    match &prog.data {
        Data::Set { points } => {
            let d = prog.x_dim;
            let x = (0..d)
                .map(|j| points.iter().map(|(x, _)| x[j]).collect())
                .collect();
            let y = points.iter().map(|(_, y)| *y).collect();
            let weight = vec![1.0 / points.len().max(1) as f64; points.len()];
            Nodes { x, y, weight }
        }
        Data::Teacher {
            x_law,
            target,
            noise,
        } => {
            let noisy = *noise > 0.0;
            let noise_nodes = match (noisy, prog.loss) {
                (false, _) => 1,
                (true, super::model::Loss::Square) => 2,
                (true, _) => level.clamp(3, 32),
            };
            let dims = prog.x_dim + usize::from(noisy);
            let q = per_coordinate(level, prog.x_dim);
            let mut rules: Vec<(Vec<f64>, Vec<f64>)> =
                (0..prog.x_dim).map(|_| input_rule(*x_law, q)).collect();
            if noisy {
                let q_noise = per_coordinate(noise_nodes, dims).min(noise_nodes).max(2);
                rules.push(input_rule(XLaw::Gaussian, q_noise));
            }
            let (mut cols, weight) = tensor(&rules);
            let eps = if noisy { cols.pop() } else { None };
            let teacher = target_values(prog, &target.expr, &cols);
            let y = match eps {
                Some(eps) => teacher
                    .iter()
                    .zip(&eps)
                    .map(|(f, e)| f + noise * e)
                    .collect(),
                None => teacher,
            };
            Nodes { x: cols, y, weight }
        }
    }
}

/// The teacher f*(x) at every column entry.
pub(crate) fn target_values(
    prog: &MeanFieldProgram,
    target: &crate::ir::Expr,
    x: &[Vec<f64>],
) -> Vec<f64> {
    let len = x.first().map_or(0, Vec::len);
    let p = prog.dim;
    // The target reads x_j = value p + j; its tape reads column j.
    let slot = move |v: ValueId| v.0.checked_sub(p);
    let layout = Layout {
        slot: &slot,
        scalar: &|_| f64::NAN,
        acts: &prog.activations,
    };
    let mut compiler = Compiler::new(layout, x.len());
    let tape = compiler.compile(target);
    let inputs: Vec<&[f64]> = x.iter().map(Vec::as_slice).collect();
    let mut out = vec![0.0; len];
    tape.run_columns(&inputs, &mut out);
    out
}

/// A quadrature of the initial law μ₀ at the given level: Gauss–Hermite per coordinate
/// for a Gaussian, the trapezoid rule on the circle (p = 2) or Gauss–Legendre in the
/// height times the trapezoid rule in the angle (p = 3, exact for spherical harmonics of
/// low degree) on a sphere, the point itself for a point mass. `None` for a sphere in
/// p > 3, which has no product rule here (a particle approximation is used instead).
pub fn init_nodes(init: &InitLaw, p: usize, level: usize) -> Option<Particles> {
    match init {
        InitLaw::Point(at) => Some(Particles {
            w: at.iter().map(|&a| vec![a]).collect(),
            weight: Some(vec![1.0]),
        }),
        InitLaw::Gaussian { mean, std } => {
            let (nodes, weights) = hermite(per_coordinate(level, p));
            let rules: Vec<(Vec<f64>, Vec<f64>)> = (0..p)
                .map(|i| {
                    let shifted = nodes.iter().map(|z| mean[i] + std * z).collect();
                    (shifted, weights.clone())
                })
                .collect();
            let (w, weight) = tensor(&rules);
            Some(Particles {
                w,
                weight: Some(weight),
            })
        }
        InitLaw::Sphere { radius } => match p {
            2 => {
                let q = (4 * level).clamp(8, MAX_RULE_NODES);
                let angle = |i: usize| std::f64::consts::TAU * (i as f64 + 0.5) / q as f64;
                Some(Particles {
                    w: vec![
                        (0..q).map(|i| radius * angle(i).cos()).collect(),
                        (0..q).map(|i| radius * angle(i).sin()).collect(),
                    ],
                    weight: Some(vec![1.0 / q as f64; q]),
                })
            }
            3 => {
                let qz = level.clamp(4, 48);
                let qa = 2 * qz;
                let heights = gauss_legendre(qz);
                let mut w = vec![Vec::new(), Vec::new(), Vec::new()];
                let mut weight = Vec::new();
                for (z, wz) in heights.nodes.iter().zip(&heights.weights) {
                    let r = (1.0 - z * z).max(0.0).sqrt();
                    for i in 0..qa {
                        let a = std::f64::consts::TAU * (i as f64 + 0.5) / qa as f64;
                        w[0].push(radius * r * a.cos());
                        w[1].push(radius * r * a.sin());
                        w[2].push(radius * z);
                        weight.push(wz / qa as f64);
                    }
                }
                Some(Particles {
                    w,
                    weight: Some(weight),
                })
            }
            _ => None,
        },
    }
}
