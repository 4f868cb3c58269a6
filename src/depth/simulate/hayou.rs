//! The Hayou/Zheng ResNet f_ℓ = √(1−β²) f_{ℓ−1} + β (branch) at width n, its coupled
//! type 1 limit, and the type 2 limit SDE sampled on its own.

use super::{
    check_activation, check_finite, check_sizes, divergence, exponent_value, family, finish_plan,
    is_one_half, stream, DepthBlowUp, DepthSimError, DepthSweepOptions, HayouRecord, HayouSnapshot,
    HayouSource, HayouTrajectory, Plan, HERMITE_NODES, NODE_COST,
};
use crate::depth::equation::HayouEquation;
use crate::depth::model::{DepthProgram, HayouKind, HayouNet, Resnet};
use crate::gauss::hermite::{gauss_hermite, HermiteRule};
use crate::solve::{matrix_entry, Brownian, StepNoise};

/// A validated Hayou/Zheng request.
pub(super) struct Setup<'a> {
    prog: &'a DepthProgram,
    /// The network.
    pub(super) net: &'a HayouNet,
    /// The limit: coupled (type 1) or sampled (type 2 sampler).
    eq: Option<&'a HayouEquation>,
    /// Whether this is the type 2 SDE sampler rather than a network.
    sde: bool,
    /// The branch exponent b of β = L^{-b}.
    branch: f64,
    /// The Gauss–Hermite rule of the type 2 diffusion (sampler only).
    rule: Option<HermiteRule>,
}

impl<'a> Setup<'a> {
    /// Checks the program and the equation. `sde` asks for the type 2 sampler, which
    /// needs an equation; otherwise an equation asks for the coupled type 1 limit.
    pub(super) fn new(
        prog: &'a DepthProgram,
        eq: Option<&'a HayouEquation>,
        sde: bool,
    ) -> Result<Self, DepthSimError> {
        let net = match &prog.net {
            Resnet::Hayou(net) => net,
            other => {
                return Err(DepthSimError::WrongFamily {
                    expected: "Hayou/Zheng",
                    found: family(other),
                })
            }
        };
        if net.input.is_empty() {
            return Err(DepthSimError::ZeroSize {
                what: "the input's length",
            });
        }
        for (i, x) in net.input.iter().enumerate() {
            check_finite(&format!("input entry {}", i + 1), *x)?;
        }
        if net.input.iter().all(|x| *x == 0.0) {
            return Err(DepthSimError::ZeroInput);
        }
        check_gain("the network's gain", net.gain)?;
        check_activation(prog, net.act, if net.sketch { 1 } else { 0 })?;
        if net.kind == HayouKind::Type2 && net.sketch {
            return Err(DepthSimError::SketchOnType2);
        }
        let branch = exponent_value("branch", &net.branch)?;
        if branch < 0.0 {
            return Err(DepthSimError::NegativeBranch {
                branch: net.branch.to_string(),
            });
        }
        if let Some(eq) = eq {
            if eq.kind != net.kind {
                return Err(DepthSimError::KindMismatch {
                    equation: eq.kind,
                    network: net.kind,
                });
            }
            check_gain("the equation's gain", eq.gain)?;
        }
        let mut rule = None;
        if sde {
            if net.kind != HayouKind::Type2 || eq.is_none() {
                return Err(DepthSimError::CannotCouple {
                    reason: "the SDE sampler needs a type 2 network and its equation".into(),
                });
            }
            rule = Some(
                gauss_hermite(HERMITE_NODES).map_err(|e| DepthSimError::Quadrature {
                    detail: e.to_string(),
                })?,
            );
        } else if eq.is_some() {
            if net.kind == HayouKind::Type2 {
                return Err(DepthSimError::CannotCouple {
                    reason: "a type 2 network's U_ℓ, V_ℓ are not its limit's Brownian motion B̃; \
                             sample the limit's law with `sample_type2_sde`"
                        .into(),
                });
            }
            if !is_one_half(&net.branch) {
                return Err(DepthSimError::CannotCouple {
                    reason: format!(
                        "the limit is taken at branch exponent b = 1/2, but b = {}",
                        net.branch
                    ),
                });
            }
        }
        Ok(Setup {
            prog,
            net,
            eq,
            sde,
            branch,
            rule,
        })
    }

    /// What the trajectories of this setup are.
    pub(super) fn source(&self) -> HayouSource {
        match (self.sde, self.eq) {
            (true, _) => HayouSource::Type2Sde,
            (false, Some(_)) => HayouSource::Coupled,
            (false, None) => HayouSource::Network,
        }
    }

    /// One (width, depth, seed) cell.
    pub(super) fn cell(&self, n: usize, depth: usize, seed: u64, refine: usize) -> HayouRecord {
        match (self.sde, self.net.kind) {
            (true, _) => self.type2_sde(n, depth, seed, refine),
            (false, HayouKind::Type1) => self.type1(n, depth, seed, refine),
            (false, HayouKind::Type2) => self.type2(n, depth, seed),
        }
    }

    /// φ^{(order)}(x).
    #[inline]
    fn act(&self, order: usize, x: f64) -> f64 {
        self.prog.act(self.net.act, order, x)
    }

    /// f_0 = W_in x with W_in entries N(0, 1/m_0), drawn entry by entry (never stored);
    /// entry (i, j) does not depend on n, so f_0 at width 2n extends f_0 at width n.
    fn initial(&self, n: usize, seed: u64) -> Vec<f64> {
        let x = &self.net.input;
        let noise = Brownian::new(seed, stream::HAYOU_IN).step(0);
        let scale = 1.0 / (x.len() as f64).sqrt();
        (0..n)
            .map(|i| {
                let row: f64 = x
                    .iter()
                    .enumerate()
                    .map(|(j, xj)| noise.standard(matrix_entry(i, j)) * xj)
                    .sum();
                row * scale
            })
            .collect()
    }

    /// The sketch's probe z ~ N(0, I_n).
    fn probe(n: usize, seed: u64) -> Vec<f64> {
        let noise = Brownian::new(seed, stream::HAYOU_Z).step(0);
        (0..n).map(|i| noise.standard(i as u64)).collect()
    }

    /// Type 1, with the coupled limit when an equation was given. The n×n Brownian
    /// increments of each fine sub-step are drawn once, entry by entry, and each entry
    /// feeds every product that needs it: the network's ΔB_ℓ φ(f) (accumulated over
    /// the r sub-steps, since φ(f_{ℓ−1}) is fixed during a layer) and the limit's
    /// dB φ(F) at the current sub-step.
    fn type1(&self, n: usize, depth: usize, seed: u64, refine: usize) -> HayouRecord {
        let net = self.net;
        let sketch = net.sketch;
        let (lf, nf, r) = (depth as f64, n as f64, refine);
        let hf = 1.0 / (lf * r as f64);
        let sqrt_hf = hf.sqrt();
        let beta = lf.powf(-self.branch);
        let skip = (1.0 - beta * beta).max(0.0).sqrt();
        // β W_ℓ = β √L √(gain/n) ΔB_ℓ with ΔB_ℓ = Σ_ρ √hf g_ρ: W_ℓ has N(0, gain/n) entries.
        let coef = beta * lf.sqrt() * (net.gain / nf).sqrt() * sqrt_hf;
        let (ref_drift, ref_noise, ref_gain) = match self.eq {
            Some(eq) => (eq.skip_drift, eq.noise, eq.gain),
            None => (false, false, 0.0),
        };
        let ref_scale = (ref_gain / nf).sqrt() * sqrt_hf;
        let sk = if sketch { n } else { 0 };

        let mut f = self.initial(n, seed);
        let mut v = if sketch {
            Self::probe(n, seed)
        } else {
            Vec::new()
        };
        let f0_norm_sq = norm_sq(&f);
        let mut big_f = f.clone();
        let mut big_v = v.clone();
        let mut phi_net = vec![0.0; n];
        let mut dphi_net = vec![0.0; sk];
        let mut phi_ref = vec![0.0; n];
        let mut dphi_ref = vec![0.0; sk];
        let mut acc_f = vec![0.0; n];
        let mut acc_v = vec![0.0; sk];

        let branch = Brownian::new(seed, stream::hayou_branch(depth));
        let half_layer = depth / 2;
        let mut net_tr = Tracker::new(half_layer, depth, f0_norm_sq, &f, sketch.then_some(&v[..]));
        let mut lim_tr = self
            .eq
            .map(|_| Tracker::new(half_layer, depth, f0_norm_sq, &f, sketch.then_some(&v[..])));
        let (mut f_err, mut v_err): (f64, f64) = (0.0, 0.0);

        for k in 0..depth {
            let net_alive = net_tr.alive();
            let mut lim_alive = lim_tr.as_ref().is_some_and(Tracker::alive);
            if !net_alive && !lim_alive {
                break;
            }
            if net_alive {
                for j in 0..n {
                    phi_net[j] = self.act(0, f[j]);
                }
                for j in 0..sk {
                    dphi_net[j] = self.act(1, f[j]) * v[j];
                }
                acc_f.iter_mut().for_each(|a| *a = 0.0);
                acc_v.iter_mut().for_each(|a| *a = 0.0);
            }
            for rho in 0..r {
                let noise = branch.step((k * r + rho) as u64);
                let lim_noise = lim_alive && ref_noise;
                if lim_noise {
                    for j in 0..n {
                        phi_ref[j] = self.act(0, big_f[j]);
                    }
                    for j in 0..sk {
                        dphi_ref[j] = self.act(1, big_f[j]) * big_v[j];
                    }
                }
                // The vectors each Gaussian multiplies, network first.
                let mut vecs: [&[f64]; 4] = [&[]; 4];
                let mut m = 0;
                if net_alive {
                    vecs[m] = &phi_net;
                    m += 1;
                    if sketch {
                        vecs[m] = &dphi_net;
                        m += 1;
                    }
                }
                let ref_at = m;
                if lim_noise {
                    vecs[m] = &phi_ref;
                    m += 1;
                    if sketch {
                        vecs[m] = &dphi_ref;
                        m += 1;
                    }
                }
                for i in 0..n {
                    let dots = row_dots(&noise, i, &vecs, m);
                    if net_alive {
                        acc_f[i] += dots[0];
                        if sketch {
                            acc_v[i] += dots[1];
                        }
                    }
                    if lim_alive {
                        let (mut df, mut dv) = (0.0, 0.0);
                        if ref_drift {
                            df -= 0.5 * big_f[i] * hf;
                            if sketch {
                                dv -= 0.5 * big_v[i] * hf;
                            }
                        }
                        if lim_noise {
                            df += ref_scale * dots[ref_at];
                            if sketch {
                                dv += ref_scale * dots[ref_at + 1];
                            }
                        }
                        big_f[i] += df;
                        if sketch {
                            big_v[i] += dv;
                        }
                    }
                }
                if lim_alive && (divergence(&big_f).is_some() || divergence(&big_v).is_some()) {
                    // Reported at the layer's end by the tracker; stop stepping now.
                    lim_alive = false;
                }
            }
            if net_alive {
                for i in 0..n {
                    f[i] = skip * f[i] + coef * acc_f[i];
                }
                for i in 0..sk {
                    v[i] = skip * v[i] + coef * acc_v[i];
                }
                net_tr.visit(k + 1, &f, sketch.then_some(&v[..]));
            }
            if let Some(tr) = lim_tr.as_mut().filter(|t| t.alive()) {
                tr.visit(k + 1, &big_f, sketch.then_some(&big_v[..]));
                if tr.alive() && net_tr.alive() {
                    f_err = f_err.max(distance(&f, &big_f) / nf.sqrt());
                    v_err = v_err.max(distance(&v, &big_v) / nf.sqrt());
                }
            }
        }
        let both = net_tr.alive() && lim_tr.as_ref().is_some_and(Tracker::alive);
        HayouRecord {
            width: n,
            depth,
            seed,
            f0_sq: f0_norm_sq / nf,
            network: Some(net_tr.finish()),
            limit: lim_tr.map(Tracker::finish),
            f_error: both.then_some(f_err),
            v_error: (both && sketch).then_some(v_err),
        }
    }

    /// Type 2: f ← √(1−β²) f + β V_ℓ φ(U_ℓ f), with U_ℓ, V_ℓ drawn entry by entry.
    fn type2(&self, n: usize, depth: usize, seed: u64) -> HayouRecord {
        let net = self.net;
        let (lf, nf) = (depth as f64, n as f64);
        let beta = lf.powf(-self.branch);
        let skip = (1.0 - beta * beta).max(0.0).sqrt();
        let u_scale = 1.0 / nf.sqrt();
        let v_scale = beta * (net.gain / nf).sqrt();
        let mut f = self.initial(n, seed);
        let f0_norm_sq = norm_sq(&f);
        let mut phi_u = vec![0.0; n];
        let (bu, bv) = (
            Brownian::new(seed, stream::hayou_u(depth)),
            Brownian::new(seed, stream::hayou_v(depth)),
        );
        let mut tr = Tracker::new(depth / 2, depth, f0_norm_sq, &f, None);
        for k in 0..depth {
            let (un, vn) = (bu.step(k as u64), bv.step(k as u64));
            let reads_f: [&[f64]; 4] = [&f, &[], &[], &[]];
            for (i, p) in phi_u.iter_mut().enumerate() {
                *p = self.act(0, u_scale * row_dots(&un, i, &reads_f, 1)[0]);
            }
            let reads_phi: [&[f64]; 4] = [&phi_u, &[], &[], &[]];
            // Row i reads φ(U f) only, so f can be overwritten row by row.
            for (i, fi) in f.iter_mut().enumerate() {
                let branch = row_dots(&vn, i, &reads_phi, 1)[0];
                *fi = skip * *fi + v_scale * branch;
            }
            tr.visit(k + 1, &f, None);
            if !tr.alive() {
                break;
            }
        }
        HayouRecord {
            width: n,
            depth,
            seed,
            f0_sq: f0_norm_sq / nf,
            network: Some(tr.finish()),
            limit: None,
            f_error: None,
            v_error: None,
        }
    }

    /// The type 2 limit df = −½ f dt + c(f) dB̃ by Euler–Maruyama with step 1/(rL),
    /// c(f)² = gain · E φ(‖f‖ g/√n)² by Gauss–Hermite (whose weights are probabilities:
    /// they sum to 1, so Σ w_i ψ(x_i) is E ψ(g) directly).
    fn type2_sde(&self, n: usize, depth: usize, seed: u64, refine: usize) -> HayouRecord {
        let nf = n as f64;
        let r = refine;
        let hf = 1.0 / (depth as f64 * r as f64);
        let sqrt_hf = hf.sqrt();
        let (drift_on, noise_on, gain) = match self.eq {
            Some(eq) => (eq.skip_drift, eq.noise, eq.gain),
            None => (false, false, 0.0),
        };
        let mut big_f = self.initial(n, seed);
        let f0_norm_sq = norm_sq(&big_f);
        let bt = Brownian::new(seed, stream::type2_sde(depth));
        let mut tr = Tracker::new(depth / 2, depth, f0_norm_sq, &big_f, None);
        for step in 0..depth * r {
            let c = match (&self.rule, noise_on) {
                (Some(rule), true) => {
                    let rad = (norm_sq(&big_f) / nf).sqrt();
                    (gain * rule.apply(|g| self.act(0, rad * g).powi(2))).sqrt()
                }
                _ => 0.0,
            };
            let noise = bt.step(step as u64);
            let amp = c * sqrt_hf;
            for (i, x) in big_f.iter_mut().enumerate() {
                let mut dx = amp * noise.standard(i as u64);
                if drift_on {
                    dx -= 0.5 * *x * hf;
                }
                *x += dx;
            }
            if (step + 1) % r == 0 {
                tr.visit((step + 1) / r, &big_f, None);
                if !tr.alive() {
                    break;
                }
            }
        }
        HayouRecord {
            width: n,
            depth,
            seed,
            f0_sq: f0_norm_sq / nf,
            network: None,
            limit: Some(tr.finish()),
            f_error: None,
            v_error: None,
        }
    }
}

/// Refuses a negative or non-finite variance gain.
fn check_gain(what: &str, gain: f64) -> Result<(), DepthSimError> {
    check_finite(what, gain)?;
    if gain < 0.0 {
        return Err(DepthSimError::NotFinite {
            what: format!("{what} (a variance, so it must be ≥ 0)"),
            value: gain.to_string(),
        });
    }
    Ok(())
}

/// Σ_j g(i, j) vecs[k][j] for the first `m` vectors, one Gaussian per entry shared by
/// all of them. Dispatches to a fixed count so the inner loop is unrolled.
#[inline]
fn row_dots(noise: &StepNoise, i: usize, vecs: &[&[f64]; 4], m: usize) -> [f64; 4] {
    match m {
        1 => dots::<1>(noise, i, [vecs[0]]),
        2 => dots::<2>(noise, i, [vecs[0], vecs[1]]),
        3 => dots::<3>(noise, i, [vecs[0], vecs[1], vecs[2]]),
        4 => dots::<4>(noise, i, *vecs),
        _ => [0.0; 4],
    }
}

/// [`row_dots`] for K vectors (all of one length).
#[inline(always)]
fn dots<const K: usize>(noise: &StepNoise, i: usize, vecs: [&[f64]; K]) -> [f64; 4] {
    let n = vecs.iter().map(|v| v.len()).min().unwrap_or(0);
    let base = matrix_entry(i, 0);
    let mut acc = [0.0; K];
    for j in 0..n {
        let g = noise.standard(base + j as u64);
        for (a, v) in acc.iter_mut().zip(&vecs) {
            *a += g * v[j];
        }
    }
    let mut out = [0.0; 4];
    out[..K].copy_from_slice(&acc);
    out
}

/// ‖x‖².
fn norm_sq(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

/// Euclidean distance.
fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// The quantities of (f, v) at one layer.
fn snapshot(layer: usize, f: &[f64], v: Option<&[f64]>, f0_norm_sq: f64) -> HayouSnapshot {
    let n = f.len() as f64;
    let f_norm_sq = norm_sq(f);
    HayouSnapshot {
        layer,
        f_sq: f_norm_sq / n,
        v_sq: v.map(|v| norm_sq(v) / n),
        fv: v.map(|v| f.iter().zip(v).map(|(a, b)| a * b).sum::<f64>() / n),
        log_growth: (f_norm_sq / f0_norm_sq).ln(),
    }
}

/// What a trajectory keeps while it runs: snapshots at ⌊L/2⌋ and L, the first blow-up.
struct Tracker {
    half_layer: usize,
    depth: usize,
    f0_norm_sq: f64,
    half: Option<HayouSnapshot>,
    end: Option<HayouSnapshot>,
    blowup: Option<DepthBlowUp>,
}

impl Tracker {
    /// A trajectory starting at (f_0, v_0).
    fn new(half_layer: usize, depth: usize, f0_norm_sq: f64, f: &[f64], v: Option<&[f64]>) -> Self {
        Tracker {
            half_layer,
            depth,
            f0_norm_sq,
            half: (half_layer == 0).then(|| snapshot(0, f, v, f0_norm_sq)),
            end: None,
            blowup: None,
        }
    }

    /// Whether it is still running.
    fn alive(&self) -> bool {
        self.blowup.is_none()
    }

    /// The state after layer `k`.
    fn visit(&mut self, k: usize, f: &[f64], v: Option<&[f64]>) {
        let bad = divergence(f).or_else(|| v.and_then(divergence));
        if let Some(kind) = bad {
            self.blowup = Some(DepthBlowUp { layer: k, kind });
            return;
        }
        if k == self.half_layer {
            self.half = Some(snapshot(k, f, v, self.f0_norm_sq));
        }
        if k == self.depth {
            self.end = Some(snapshot(k, f, v, self.f0_norm_sq));
        }
    }

    /// The record.
    fn finish(self) -> HayouTrajectory {
        HayouTrajectory {
            half: self.half,
            end: self.end,
            blowup: self.blowup,
        }
    }
}

/// Checks the request's sizes and estimates its cost (see [`finish_plan`]).
pub(super) fn plan(setup: &Setup<'_>, opts: &DepthSweepOptions) -> Result<Plan, DepthSimError> {
    check_sizes(opts, true)?;
    let r = opts.refine as u64;
    let sketch = u64::from(setup.net.sketch);
    let coupled_noise = u64::from(setup.eq.is_some_and(|eq| eq.noise));
    let m0 = setup.net.input.len() as u64;
    let act_nodes = setup.prog.activations[setup.net.act.0].body().node_count() as u64;
    let mut cell_operations = Vec::new();
    let mut largest = 0u64;
    for &n in &opts.widths {
        let n = n as u64;
        largest = largest.max(n);
        let n2 = n.saturating_mul(n);
        for &l in &opts.depths {
            let l = l as u64;
            let ops = match (setup.sde, setup.net.kind) {
                // Per fine step: one Gaussian per entry, one multiply–add per product.
                (false, HayouKind::Type1) => {
                    let products = (1 + sketch) * (1 + coupled_noise);
                    l.saturating_mul(r)
                        .saturating_mul(n2.saturating_mul(1 + products))
                }
                // Two matrices, drawn and multiplied once per layer.
                (false, HayouKind::Type2) => l.saturating_mul(n2.saturating_mul(4)),
                (true, _) => l
                    .saturating_mul(r)
                    .saturating_mul(3 * n + NODE_COST * act_nodes * HERMITE_NODES as u64),
            };
            let ops = ops.saturating_add(n.saturating_mul(m0) * 2);
            cell_operations.extend(std::iter::repeat(ops).take(opts.seeds.len()));
        }
    }
    let f64_bytes = std::mem::size_of::<f64>() as u64;
    let cell_bytes = largest.saturating_mul(14 * f64_bytes) + 1024;
    let record_bytes = std::mem::size_of::<HayouRecord>() as u64;
    finish_plan(opts, cell_operations, cell_bytes, record_bytes, (0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exponent::Exponent;
    use crate::ir::{ActId, Activation, Expr, Func};

    fn program(kind: HayouKind, sketch: bool, act: Activation) -> DepthProgram {
        DepthProgram {
            title: None,
            depth: "L".into(),
            width: Some("n".into()),
            symbols: vec![],
            activations: vec![act],
            net: Resnet::Hayou(HayouNet {
                kind,
                act: ActId(0),
                branch: Exponent::ratio(1, 2),
                gain: 1.7,
                input: vec![0.8, -1.1],
                sketch,
            }),
        }
    }

    type Matrix = Vec<Vec<f64>>;

    fn matvec(m: &Matrix, x: &[f64]) -> Vec<f64> {
        m.iter()
            .map(|row| row.iter().zip(x).map(|(a, b)| a * b).sum())
            .collect()
    }

    fn draw(noise: &StepNoise, rows: usize, cols: usize, scale: f64) -> Matrix {
        (0..rows)
            .map(|i| {
                (0..cols)
                    .map(|j| scale * noise.standard(matrix_entry(i, j)))
                    .collect()
            })
            .collect()
    }

    /// The coupled type 1 cell against a direct implementation with explicit matrices:
    /// W_ℓ = √(gain/n) √L Σ_ρ ΔB_ρ for the network, the fine ΔB_ρ one by one for the
    /// limit's Euler–Maruyama steps.
    #[test]
    fn coupled_type1_matches_explicit_matrices() {
        let mut act = Activation::new("tanh", Expr::call(Func::Tanh, Expr::Arg));
        act.ensure_order(1).unwrap();
        let prog = program(HayouKind::Type1, true, act);
        let Resnet::Hayou(net) = &prog.net else {
            unreachable!()
        };
        let eq = HayouEquation::of(net, true, true);
        let setup = Setup::new(&prog, Some(&eq), false).unwrap();
        let (n, depth, r, seed) = (3usize, 4usize, 3usize, 11u64);
        let rec = setup.cell(n, depth, seed, r);

        let (nf, lf) = (n as f64, depth as f64);
        let hf = 1.0 / (lf * r as f64);
        let x = &net.input;
        let w_in = draw(
            &Brownian::new(seed, stream::HAYOU_IN).step(0),
            n,
            x.len(),
            1.0 / (x.len() as f64).sqrt(),
        );
        let mut f = matvec(&w_in, x);
        let z = Brownian::new(seed, stream::HAYOU_Z).step(0);
        let mut v: Vec<f64> = (0..n).map(|i| z.standard(i as u64)).collect();
        let (mut big_f, mut big_v) = (f.clone(), v.clone());
        let c = (net.gain / nf).sqrt();
        let beta = lf.powf(-0.5);
        let dist = |a: &[f64], b: &[f64]| {
            a.iter()
                .zip(b)
                .map(|(p, q)| (p - q).powi(2))
                .sum::<f64>()
                .sqrt()
                / nf.sqrt()
        };
        let (mut ef, mut ev) = (0.0f64, 0.0f64);
        let branch = Brownian::new(seed, stream::hayou_branch(depth));
        for k in 0..depth {
            let mut sum = vec![vec![0.0; n]; n];
            for rho in 0..r {
                let db = draw(&branch.step((k * r + rho) as u64), n, n, hf.sqrt());
                for i in 0..n {
                    for j in 0..n {
                        sum[i][j] += db[i][j];
                    }
                }
                let phi: Vec<f64> = big_f.iter().map(|y| y.tanh()).collect();
                let dphi: Vec<f64> = big_f
                    .iter()
                    .zip(&big_v)
                    .map(|(y, w)| (1.0 - y.tanh().powi(2)) * w)
                    .collect();
                let (nf_, nv_) = (matvec(&db, &phi), matvec(&db, &dphi));
                for i in 0..n {
                    big_f[i] += -0.5 * big_f[i] * hf + c * nf_[i];
                    big_v[i] += -0.5 * big_v[i] * hf + c * nv_[i];
                }
            }
            let w: Matrix = sum
                .iter()
                .map(|row| row.iter().map(|e| c * lf.sqrt() * e).collect())
                .collect();
            let phi: Vec<f64> = f.iter().map(|y| y.tanh()).collect();
            let dphi: Vec<f64> = f
                .iter()
                .zip(&v)
                .map(|(y, u)| (1.0 - y.tanh().powi(2)) * u)
                .collect();
            let (wf, wv) = (matvec(&w, &phi), matvec(&w, &dphi));
            let skip = (1.0 - beta * beta).sqrt();
            for i in 0..n {
                f[i] = skip * f[i] + beta * wf[i];
                v[i] = skip * v[i] + beta * wv[i];
            }
            ef = ef.max(dist(&f, &big_f));
            ev = ev.max(dist(&v, &big_v));
        }
        let close = |u: f64, w: f64| (u - w).abs() <= 1e-12 * w.abs().max(1.0);
        let end = rec.network.unwrap().end.unwrap();
        let lim = rec.limit.unwrap().end.unwrap();
        let sq = |a: &[f64]| a.iter().map(|y| y * y).sum::<f64>() / nf;
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>() / nf;
        assert!(close(end.f_sq, sq(&f)), "{} vs {}", end.f_sq, sq(&f));
        assert!(close(end.v_sq.unwrap(), sq(&v)));
        assert!(close(end.fv.unwrap(), dot(&f, &v)));
        assert!(close(lim.f_sq, sq(&big_f)));
        assert!(close(lim.v_sq.unwrap(), sq(&big_v)));
        assert!(close(rec.f_error.unwrap(), ef));
        assert!(close(rec.v_error.unwrap(), ev));
        assert!(close(rec.f0_sq, sq(&matvec(&w_in, x))));
    }

    /// The rule's weights are probabilities, so E relu(g)² = 1/2 comes out exactly and
    /// the type 2 diffusion of ReLU at gain 2 is c² = ‖f‖²/n.
    #[test]
    fn hermite_rule_is_normalized_for_the_type2_diffusion() {
        let rule = gauss_hermite(HERMITE_NODES).unwrap();
        assert!((rule.weights.iter().sum::<f64>() - 1.0).abs() < 1e-14);
        assert!((rule.apply(|g| g.max(0.0).powi(2)) - 0.5).abs() < 1e-14);
    }

    #[test]
    fn invalid_networks_are_refused() {
        let relu = Activation::new("relu", Expr::call(Func::Relu, Expr::Arg));
        // The sketch needs φ', which was not prepared.
        let prog = program(HayouKind::Type1, true, relu.clone());
        assert!(matches!(
            Setup::new(&prog, None, false),
            Err(DepthSimError::MissingDerivative { order: 1, .. })
        ));
        let mut prog = program(HayouKind::Type1, false, relu);
        if let Resnet::Hayou(net) = &mut prog.net {
            net.branch = Exponent::ratio(-1, 2);
        }
        assert!(matches!(
            Setup::new(&prog, None, false),
            Err(DepthSimError::NegativeBranch { .. })
        ));
        if let Resnet::Hayou(net) = &mut prog.net {
            net.branch = Exponent::ratio(1, 1);
        }
        let eq = HayouEquation {
            skip_drift: true,
            noise: true,
            gain: 2.0,
            kind: HayouKind::Type1,
        };
        // The limit is taken at b = 1/2: no coupling at b = 1.
        assert!(matches!(
            Setup::new(&prog, Some(&eq), false),
            Err(DepthSimError::CannotCouple { .. })
        ));
        let eq2 = HayouEquation {
            kind: HayouKind::Type2,
            ..eq
        };
        assert!(matches!(
            Setup::new(&prog, Some(&eq2), false),
            Err(DepthSimError::KindMismatch { .. })
        ));
    }
}
