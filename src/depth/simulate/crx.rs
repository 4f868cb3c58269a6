//! The Cont–Rossier–Xu network h_{k+1} = h_k + δ L^{-α} σ(A_k h_k + b_k) and its limit
//! on one Brownian path.

use super::{
    check_activation, check_finite, check_sizes, divergence, exponent_value, family, finish_plan,
    stream, CrxRecord, CrxTrajectory, DepthBlowUp, DepthSimError, DepthSweepOptions, LimitScheme,
    Plan, NODE_COST,
};
use crate::depth::equation::{CrxEquation, TrendAt};
use crate::depth::model::{eval_in_t, CrxNet, DepthProgram, Resnet};
use crate::solve::{central_derivative, milstein_scalar, Brownian, Rk4};
use std::ops::ControlFlow;

/// A validated CRX request: the program, the numeric exponents and the limit's scheme.
pub(super) struct Setup<'a> {
    prog: &'a DepthProgram,
    net: &'a CrxNet,
    eq: Option<&'a CrxEquation>,
    /// How the limit is stepped (`None` without an equation).
    pub(super) scheme: Option<LimitScheme>,
    alpha: f64,
    beta: f64,
    gamma: f64,
}

/// The deterministic limit of one depth on the coarse grid k/L, shared by every seed.
pub(super) struct OdeReference {
    /// H_{k/L} for k = 0…`valid`, d numbers each.
    states: Vec<f64>,
    /// The last coarse index whose state is recorded.
    valid: usize,
    /// Where the limit blew up, if it did.
    blowup: Option<DepthBlowUp>,
}

impl<'a> Setup<'a> {
    /// Checks the program and the equation; fixes the exponents and the scheme.
    pub(super) fn new(
        prog: &'a DepthProgram,
        eq: Option<&'a CrxEquation>,
    ) -> Result<Self, DepthSimError> {
        let net = match &prog.net {
            Resnet::Crx(net) => net,
            other => {
                return Err(DepthSimError::WrongFamily {
                    expected: "Cont–Rossier–Xu",
                    found: family(other),
                })
            }
        };
        let d = net.dim;
        if d == 0 {
            return Err(DepthSimError::ZeroSize { what: "dimension" });
        }
        let shape = |what: &str, expected: usize, found: usize| {
            if expected == found {
                Ok(())
            } else {
                Err(DepthSimError::Shape {
                    what: what.to_string(),
                    expected,
                    found,
                })
            }
        };
        shape("the input", d, net.input.len())?;
        if let Some(a) = &net.trend {
            shape("the trend Ā", d, a.len())?;
            for (i, row) in a.iter().enumerate() {
                shape(&format!("row {} of the trend Ā", i + 1), d, row.len())?;
            }
        }
        if let Some(b) = &net.bias_trend {
            shape("the bias trend b̄", d, b.len())?;
        }
        check_activation(prog, net.act, 0)?;
        check_finite("delta", net.delta)?;
        check_finite("the noise scale s", net.noise)?;
        check_finite("the bias noise scale s_b", net.bias_noise)?;
        for (i, x) in net.input.iter().enumerate() {
            check_finite(&format!("input entry {}", i + 1), *x)?;
        }
        let alpha = exponent_value("alpha", &net.alpha)?;
        let beta = exponent_value("beta", &net.beta)?;
        let gamma = exponent_value("gamma", &net.gamma)?;
        let scheme = match eq {
            None => None,
            Some(eq) => {
                check_equation(prog, net, eq)?;
                Some(if eq.is_ode() {
                    LimitScheme::Rk4
                } else if d == 1 && (net.noise != 0.0) != (net.bias_noise != 0.0) {
                    // One scalar Brownian motion: Milstein's correction needs no Lévy area.
                    LimitScheme::Milstein
                } else {
                    LimitScheme::EulerMaruyama
                })
            }
        };
        Ok(Setup {
            prog,
            net,
            eq,
            scheme,
            alpha,
            beta,
            gamma,
        })
    }

    /// The ODE limit at depth `depth`, solved by RK4 with step 1/(rL) and read at k/L;
    /// `None` unless the limit is deterministic.
    pub(super) fn ode_reference(&self, depth: usize, refine: usize) -> Option<OdeReference> {
        let eq = self.eq.filter(|_| self.scheme == Some(LimitScheme::Rk4))?;
        let d = self.net.dim;
        let mut states = Vec::with_capacity((depth + 1) * d);
        let mut blowup = None;
        let mut x = self.net.input.clone();
        let mut trend = TrendAt::default();
        let mut f = |t: f64, h: &[f64], out: &mut [f64]| {
            eq.drift(self.prog, self.net, t, h, &mut trend, out)
        };
        let steps = depth.saturating_mul(refine);
        // The interval and dimensions are valid by construction: only a blow-up stops.
        let _ = Rk4::new(d).integrate(&mut f, 0.0, 1.0, steps, &mut x, |k, _, h| {
            if let Some(kind) = divergence(h) {
                blowup = Some(DepthBlowUp {
                    layer: k.div_ceil(refine),
                    kind,
                });
                return ControlFlow::Break(());
            }
            if k % refine == 0 {
                states.extend_from_slice(h);
            }
            ControlFlow::Continue(())
        });
        let valid = (states.len() / d).saturating_sub(1);
        Some(OdeReference {
            states,
            valid,
            blowup,
        })
    }

    /// One (depth, seed) cell: the network and, with an equation, its limit.
    pub(super) fn cell(
        &self,
        depth: usize,
        seed: u64,
        refine: usize,
        ode: Option<&OdeReference>,
    ) -> CrxRecord {
        let (prog, net) = (self.prog, self.net);
        let d = net.dim;
        let lf = depth as f64;
        let r = refine;
        let hf = 1.0 / (lf * r as f64);
        let step_mult = net.delta * lf.powf(-self.alpha);
        let trend_scale = lf.powf(-self.beta);
        let noise_amp = lf.powf(0.5 - self.gamma);
        let (noise_a, noise_b) = (net.noise * noise_amp, net.bias_noise * noise_amp);
        let (draw_a, draw_b) = (net.noise != 0.0, net.bias_noise != 0.0);
        let half_layer = depth / 2;
        let sde = matches!(
            self.scheme,
            Some(LimitScheme::EulerMaruyama | LimitScheme::Milstein)
        );

        // Buffers, once per cell.
        let mut h = net.input.clone();
        let mut pre = vec![0.0; d];
        let mut abar = vec![0.0; d * d];
        let mut bbar = vec![0.0; d];
        let mut da_sum = vec![0.0; d * d];
        let mut db_sum = vec![0.0; d];
        let mut da_fine = vec![0.0; d * d];
        let mut db_fine = vec![0.0; d];
        let mut lim = net.input.clone();
        let mut drift = vec![0.0; d];
        let mut trend = TrendAt::default();
        let mut noise = vec![0.0; d];

        let brown_a = Brownian::new(seed, stream::crx_a(depth));
        let brown_b = Brownian::new(seed, stream::crx_b(depth));
        let mut net_traj = Tracker::new(&net.input, half_layer);
        let mut lim_traj = self.eq.map(|_| Tracker::new(&net.input, half_layer));
        let mut sup_error: f64 = 0.0;

        for k in 0..depth {
            let lim_alive = lim_traj.as_ref().is_some_and(|t| t.blowup.is_none());
            da_sum.iter_mut().for_each(|x| *x = 0.0);
            db_sum.iter_mut().for_each(|x| *x = 0.0);
            for j in 0..r {
                let fine_step = (k * r + j) as u64;
                if draw_a {
                    brown_a.step(fine_step).fill_matrix(d, d, hf, &mut da_fine);
                    add_into(&mut da_sum, &da_fine);
                }
                if draw_b {
                    brown_b.step(fine_step).fill(0, hf, &mut db_fine);
                    add_into(&mut db_sum, &db_fine);
                }
                if sde && lim_alive {
                    let tf = (k * r + j) as f64 * hf;
                    self.limit_step(
                        tf, hf, &mut lim, &da_fine, &db_fine, &mut trend, &mut drift, &mut noise,
                    );
                }
            }

            // The network's layer k at t = k/L.
            if h_alive(&net_traj) {
                let t = k as f64 / lf;
                if let Some(a) = &net.trend {
                    for (i, row) in a.iter().enumerate() {
                        for (j, e) in row.iter().enumerate() {
                            abar[i * d + j] = trend_scale * eval_in_t(e, t, &prog.activations);
                        }
                    }
                }
                if let Some(b) = &net.bias_trend {
                    for (bi, e) in bbar.iter_mut().zip(b) {
                        *bi = trend_scale * eval_in_t(e, t, &prog.activations);
                    }
                }
                for (i, u) in pre.iter_mut().enumerate() {
                    let mut acc = bbar[i] + noise_b * db_sum[i];
                    for j in 0..d {
                        acc += (abar[i * d + j] + noise_a * da_sum[i * d + j]) * h[j];
                    }
                    *u = acc;
                }
                for (hi, u) in h.iter_mut().zip(&pre) {
                    *hi += step_mult * prog.act(net.act, 0, *u);
                }
                net_traj.visit(k + 1, &h);
            }

            // The limit at t = (k+1)/L.
            if let Some(traj) = lim_traj.as_mut().filter(|t| t.blowup.is_none()) {
                if let Some(reference) = ode {
                    if k < reference.valid {
                        lim.copy_from_slice(&reference.states[(k + 1) * d..(k + 2) * d]);
                        traj.visit(k + 1, &lim);
                    } else if let Some(b) = reference.blowup {
                        traj.blowup = Some(b);
                    }
                } else {
                    traj.visit(k + 1, &lim);
                }
                if h_alive(&net_traj) && traj.blowup.is_none() {
                    sup_error = sup_error.max(distance(&h, &lim));
                }
            }
            if !h_alive(&net_traj) && lim_traj.as_ref().map_or(true, |t| t.blowup.is_some()) {
                break;
            }
        }
        let both_alive =
            h_alive(&net_traj) && lim_traj.as_ref().is_some_and(|t| t.blowup.is_none());
        CrxRecord {
            depth,
            seed,
            half_layer,
            network: net_traj.finish(&h, &net.input),
            limit: lim_traj.map(|t| t.finish(&lim, &net.input)),
            pathwise_error: both_alive.then_some(sup_error),
        }
    }

    /// One Euler–Maruyama or Milstein step of the limit SDE over [tf, tf + hf], driven
    /// by the fine increments.
    #[allow(clippy::too_many_arguments)]
    fn limit_step(
        &self,
        tf: f64,
        hf: f64,
        lim: &mut [f64],
        da: &[f64],
        db: &[f64],
        trend: &mut TrendAt,
        drift: &mut [f64],
        noise: &mut [f64],
    ) {
        let Some(eq) = self.eq else { return };
        let (prog, net) = (self.prog, self.net);
        eq.drift(prog, net, tf, lim, trend, drift);
        if self.scheme == Some(LimitScheme::Milstein) {
            // d = 1 with one Brownian motion B: the noise is b(H) dB, with b read off
            // the equation's own noise term at a unit increment (so a mutated equation
            // is followed), and b' by a central difference.
            let unit_a = [f64::from(u8::from(net.noise != 0.0))];
            let unit_b = [1.0 - unit_a[0]];
            let b_of = |y: f64| {
                let mut out = [0.0];
                eq.add_noise(net, &[y], &unit_a, &unit_b, &mut out);
                out[0]
            };
            let x = lim[0];
            let dbm = if unit_a[0] == 1.0 { da[0] } else { db[0] };
            lim[0] = milstein_scalar(x, drift[0], b_of(x), central_derivative(b_of, x), hf, dbm);
        } else {
            noise.iter_mut().for_each(|z| *z = 0.0);
            eq.add_noise(net, lim, da, db, noise);
            for ((x, a), z) in lim.iter_mut().zip(drift.iter()).zip(noise.iter()) {
                *x += a * hf + z;
            }
        }
    }
}

/// Refuses an equation that keeps a term whose Taylor coefficient is not a number.
fn check_equation(
    prog: &DepthProgram,
    net: &CrxNet,
    eq: &CrxEquation,
) -> Result<(), DepthSimError> {
    check_finite("the equation's delta", eq.delta)?;
    let needs = [
        (eq.constant, "constant σ(0)", 0),
        (eq.linear_trend && !eq.full_activation, "linear trend", 1),
        (eq.noise, "Brownian", 1),
        (eq.ito, "Itô correction", 2),
    ];
    for (kept, term, order) in needs {
        if kept && !eq.taylor[order].is_finite() {
            return Err(DepthSimError::MissingTaylor {
                term,
                order,
                name: prog.act_name(net.act).to_string(),
            });
        }
    }
    Ok(())
}

/// Whether the network trajectory is still running.
fn h_alive(t: &Tracker) -> bool {
    t.blowup.is_none()
}

/// a += b.
fn add_into(a: &mut [f64], b: &[f64]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

/// Euclidean distance.
fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// What a trajectory keeps while it runs: the state at ⌊L/2⌋ and the first blow-up
/// (the current state lives in the caller's buffer).
struct Tracker {
    half_layer: usize,
    half: Option<Vec<f64>>,
    first: Option<Vec<f64>>,
    blowup: Option<DepthBlowUp>,
}

impl Tracker {
    /// A trajectory starting at `start` (recorded at once if ⌊L/2⌋ = 0).
    fn new(start: &[f64], half_layer: usize) -> Self {
        Tracker {
            half_layer,
            half: (half_layer == 0).then(|| start.to_vec()),
            first: None,
            blowup: None,
        }
    }

    /// The state after layer `k`: checks it, keeps it at ⌊L/2⌋.
    fn visit(&mut self, k: usize, x: &[f64]) {
        if let Some(kind) = divergence(x) {
            self.blowup = Some(DepthBlowUp { layer: k, kind });
            return;
        }
        if k == 1 {
            self.first = Some(x.to_vec());
        }
        if k == self.half_layer {
            self.half = Some(x.to_vec());
        }
    }

    /// The record, given the final state `end` (ignored after a blow-up).
    fn finish(self, end: &[f64], start: &[f64]) -> CrxTrajectory {
        let alive = self.blowup.is_none();
        CrxTrajectory {
            half: self.half,
            end: alive.then(|| end.to_vec()),
            displacement: alive.then(|| distance(end, start) / (start.len() as f64).sqrt()),
            first_step: self
                .first
                .map(|h1| distance(&h1, start) / (start.len() as f64).sqrt()),
            blowup: self.blowup,
        }
    }
}

/// Checks the request's sizes and estimates its cost (see [`finish_plan`]).
pub(super) fn plan(setup: &Setup<'_>, opts: &DepthSweepOptions) -> Result<Plan, DepthSimError> {
    check_sizes(opts, false)?;
    let net = setup.net;
    let d = net.dim as u64;
    let r = opts.refine as u64;
    let f64_bytes = std::mem::size_of::<f64>() as u64;
    let draws = u64::from(net.noise != 0.0) * d * d + u64::from(net.bias_noise != 0.0) * d;
    // Formulas are evaluated by walking their trees: the trend at every drift and every
    // layer, σ at every coordinate.
    let nodes = |e: &crate::ir::Expr| e.node_count() as u64;
    let trend_nodes: u64 = net.trend.iter().flatten().flatten().map(nodes).sum::<u64>()
        + net.bias_trend.iter().flatten().map(nodes).sum::<u64>();
    let act_nodes = setup.prog.activations[net.act.0].body().node_count() as u64;
    let full = setup.eq.is_some_and(|eq| eq.full_activation);
    let drift =
        NODE_COST * trend_nodes + 2 * d * d + d * if full { NODE_COST * act_nodes } else { 2 };
    let per_fine = 2 * draws
        + match setup.scheme {
            Some(LimitScheme::EulerMaruyama | LimitScheme::Milstein) => drift + d * d + 3 * d,
            Some(LimitScheme::Rk4) | None => 0,
        };
    let per_layer = NODE_COST * trend_nodes + 2 * d * d + d * NODE_COST * act_nodes;
    let cell_ops = |l: u64| l.saturating_mul(r.saturating_mul(per_fine).saturating_add(per_layer));
    let mut cell_operations = Vec::with_capacity(opts.depths.len() * opts.seeds.len());
    let (mut shared_ops, mut shared_bytes) = (0u64, 0u64);
    for &l in &opts.depths {
        let l = l as u64;
        cell_operations.extend(std::iter::repeat(cell_ops(l)).take(opts.seeds.len()));
        if setup.scheme == Some(LimitScheme::Rk4) {
            // Four drifts per fine step, once per depth (shared by the seeds).
            let rk4 = l.saturating_mul(r).saturating_mul(4 * drift + 6 * d);
            shared_ops = shared_ops.saturating_add(rk4);
            shared_bytes = shared_bytes.saturating_add((l + 1).saturating_mul(d * f64_bytes));
        }
    }
    let cell_bytes = (5 * d * d + 12 * d) * f64_bytes + 1024;
    // Two trajectories of two states each, plus the fixed fields.
    let record_bytes = 2 * (2 * d * f64_bytes + 128) + 128;
    finish_plan(
        opts,
        cell_operations,
        cell_bytes,
        record_bytes,
        (shared_ops, shared_bytes),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exponent::Exponent;
    use crate::ir::{ActId, Activation, Expr};
    use crate::solve::matrix_entry;

    /// d = 1, σ = identity, α = 0, β = 1, γ = 1/2: h_{k+1} = h_k (1 + a/L + s ΔB_k).
    fn linear_program(a: f64, s: f64, x: f64) -> DepthProgram {
        DepthProgram {
            title: None,
            depth: "L".into(),
            width: None,
            symbols: vec![],
            activations: vec![Activation::new("identity", Expr::Arg)],
            net: Resnet::Crx(CrxNet {
                dim: 1,
                dim_name: "d".into(),
                act: ActId(0),
                delta: 1.0,
                alpha: Exponent::zero(),
                beta: Exponent::ratio(1, 1),
                gamma: Exponent::ratio(1, 2),
                trend: Some(vec![vec![Expr::Const(a)]]),
                bias_trend: None,
                noise: s,
                bias_noise: 0.0,
                input: vec![x],
            }),
        }
    }

    /// The network and its Milstein limit recomputed by hand from the Brownian
    /// increments: the network must use exactly the sums of the fine increments that
    /// drive the limit (an off-by-one step or a different stream breaks this).
    #[test]
    fn network_and_limit_are_driven_by_the_same_increments() {
        let (a, s, x) = (0.4, 0.7, 1.3);
        let (depth, r, seed) = (8usize, 4usize, 5u64);
        let prog = linear_program(a, s, x);
        let eq = CrxEquation {
            delta: 1.0,
            full_activation: false,
            linear_trend: true,
            constant: false,
            ito: false,
            noise: true,
            taylor: [0.0, 1.0, 0.0],
        };
        let setup = Setup::new(&prog, Some(&eq)).unwrap();
        assert_eq!(setup.scheme, Some(LimitScheme::Milstein));
        let rec = setup.cell(depth, seed, r, None);

        let brown = Brownian::new(seed, stream::crx_a(depth));
        let hf = 1.0 / (depth * r) as f64;
        let (mut h, mut big, mut sup) = (x, x, 0.0f64);
        let mut half = None;
        for k in 0..depth {
            let mut sum = 0.0;
            for j in 0..r {
                let db = brown.increment((k * r + j) as u64, matrix_entry(0, 0), hf);
                sum += db;
                big += a * big * hf + s * big * db + 0.5 * s * s * big * (db * db - hf);
            }
            h += (a / depth as f64 + s * sum) * h;
            sup = sup.max((h - big).abs());
            if k + 1 == depth / 2 {
                half = Some((h, big));
            }
        }
        let close = |u: f64, v: f64| (u - v).abs() <= 1e-12 * v.abs().max(1.0);
        let end = rec.network.end.as_ref().unwrap()[0];
        let lim = rec.limit.as_ref().unwrap().end.as_ref().unwrap()[0];
        assert!(close(end, h), "network {end} vs {h}");
        assert!(close(lim, big), "limit {lim} vs {big}");
        assert!(close(rec.pathwise_error.unwrap(), sup));
        let (hh, bh) = half.unwrap();
        assert!(close(rec.network.half.as_ref().unwrap()[0], hh));
        assert!(close(
            rec.limit.as_ref().unwrap().half.as_ref().unwrap()[0],
            bh
        ));
        assert!(close(rec.network.displacement.unwrap(), (h - x).abs()));
    }

    #[test]
    fn equations_needing_missing_taylor_coefficients_are_refused() {
        let prog = linear_program(0.1, 0.2, 1.0);
        let eq = CrxEquation {
            delta: 1.0,
            full_activation: false,
            linear_trend: true,
            constant: false,
            ito: true,
            noise: true,
            taylor: [0.0, 1.0, f64::NAN],
        };
        assert!(matches!(
            Setup::new(&prog, Some(&eq)),
            Err(DepthSimError::MissingTaylor { order: 2, .. })
        ));
    }
}
