//! The elaborated program against an independent implementation of the same network.
//!
//! The reference here materializes every weight matrix (as PyTorch or a NumPy coordinate
//! check would), runs backpropagation by hand, and updates the weights in place. Its
//! per-layer exponents are written out below from the parameterization tables of
//! Hajjar's thesis (2024, §2.2.2, Def. 2.4.1, §2.5, Def. A.2.3), not taken from the
//! elaborator. The
//! elaborated program (outer-product form) must reproduce it number for number on the
//! same random draw, and its backward pass must equal finite differences of the forward.

use ndarray::{Array1, Array2};
use tp::ir::Program;
use tp::sim::{draw, execute, Sample, SourceSample, Value};

/// Exponents and constants of one network, written independently of the elaborator.
struct Spec {
    depth: usize,
    act: fn(f64) -> f64,
    dact: fn(f64) -> f64,
    lr: f64,
    xi: Vec<f64>,
    y: f64,
    /// Effective init exponent A_l of the weights, l = 1..L+1.
    a_w: Vec<f64>,
    /// Effective learning-rate exponent E_l(t) of the weights.
    e_w: Vec<Vec<f64>>,
    /// Non-centered mean of the learnable weights per layer.
    mean_w: Vec<f64>,
    /// Bias exponents A_l (None: no bias at that layer).
    a_b: Vec<Option<f64>>,
    /// Bias learning-rate exponents E_l(t).
    e_b: Vec<Vec<f64>>,
}

/// The materialized network at width n.
struct Net {
    w: Vec<Array2<f64>>,
    b: Vec<Option<Array1<f64>>>,
}

struct Pass {
    h: Vec<Array1<f64>>,
    x: Vec<Array1<f64>>,
    f: f64,
}

fn source<'s>(program: &Program, sample: &'s Sample, name: &str) -> &'s SourceSample {
    let id = program
        .sources
        .iter()
        .position(|s| s.name == name)
        .unwrap_or_else(|| panic!("no source {name}"));
    &sample.sources[id]
}

fn vector_source(program: &Program, sample: &Sample, name: &str) -> Array1<f64> {
    match source(program, sample, name) {
        SourceSample::Vector(v) => v.clone(),
        SourceSample::Scalar(x) => Array1::from_elem(1, *x),
    }
}

/// Builds W^l(0) = n^{-A_l}(U^l + mean_l J) and b^l(0) = n^{-A}(v^l) from the draw.
fn materialize(spec: &Spec, program: &Program, sample: &Sample) -> Net {
    let n = sample.width;
    let nf = n as f64;
    let d = spec.xi.len();
    let layers = spec.depth + 1;
    let mut w = Vec::new();
    for l in 1..=layers {
        let scale = nf.powf(-spec.a_w[l - 1]);
        let m = spec.mean_w[l - 1];
        let mat = if l == 1 {
            let mut u = Array2::zeros((n, d));
            for k in 0..d {
                let col = vector_source(program, sample, &format!("U1[{}]", k + 1));
                u.column_mut(k).assign(&col);
            }
            u
        } else if l == layers {
            let u = vector_source(program, sample, &format!("U{l}"));
            u.insert_axis(ndarray::Axis(0))
        } else {
            let id = program
                .matrices
                .iter()
                .position(|mm| mm.name == format!("W{l}"))
                .unwrap();
            &sample.matrices[id] * nf.sqrt()
        };
        w.push((mat + m) * scale);
    }
    let b = (1..=layers)
        .map(|l| {
            spec.a_b[l - 1].map(|a| vector_source(program, sample, &format!("v{l}")) * nf.powf(-a))
        })
        .collect();
    Net { w, b }
}

fn forward(spec: &Spec, net: &Net) -> Pass {
    let mut x = vec![Array1::from(spec.xi.clone())];
    let mut h = vec![];
    for l in 0..spec.depth {
        let mut hl = net.w[l].dot(&x[l]);
        if let Some(b) = &net.b[l] {
            hl += b;
        }
        x.push(hl.mapv(spec.act));
        h.push(hl);
    }
    let mut f = net.w[spec.depth].dot(&x[spec.depth])[0];
    if let Some(b) = &net.b[spec.depth] {
        f += b[0];
    }
    Pass { h, x, f }
}

/// Gradients of the output f with respect to the pre-activations, by hand.
fn backward(spec: &Spec, net: &Net, pass: &Pass) -> Vec<Array1<f64>> {
    let mut dh = vec![Array1::zeros(0); spec.depth];
    let mut dx = net.w[spec.depth].row(0).to_owned();
    for l in (0..spec.depth).rev() {
        let g = &dx * &pass.h[l].mapv(spec.dact);
        dx = net.w[l].t().dot(&g);
        dh[l] = g;
    }
    dh
}

#[allow(clippy::needless_range_loop)] // layer indices address three parallel tables
fn sgd_step(spec: &Spec, net: &mut Net, pass: &Pass, dh: &[Array1<f64>], t: usize, n: f64) {
    let chi = pass.f - spec.y;
    for l in 0..=spec.depth {
        let g = if l == spec.depth {
            Array1::from_elem(1, 1.0)
        } else {
            dh[l].clone()
        };
        let input = &pass.x[l];
        let rate = spec.lr * n.powf(-spec.e_w[l][t]) * chi;
        let outer = g
            .clone()
            .insert_axis(ndarray::Axis(1))
            .dot(&input.clone().insert_axis(ndarray::Axis(0)));
        net.w[l] = &net.w[l] - &(outer * rate);
        if let Some(b) = net.b[l].as_mut() {
            let rate = spec.lr * n.powf(-spec.e_b[l][t]) * chi;
            *b = &*b - &(&g * rate);
        }
    }
}

fn value<'e>(program: &Program, exec: &'e tp::sim::Execution, name: &str) -> &'e Value {
    let id = program
        .lookup(name)
        .unwrap_or_else(|| panic!("no value {name}"));
    exec.value(id)
        .unwrap_or_else(|| panic!("{name} not computed"))
}

fn assert_close_vec(got: &Array1<f64>, want: &Array1<f64>, what: &str) {
    let scale = want.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-300);
    for (g, w) in got.iter().zip(want.iter()) {
        assert!(
            (g - w).abs() <= 1e-9 * scale,
            "{what}: {g} vs {w} (scale {scale})"
        );
    }
}

/// Runs the reference SGD and the elaborated program on the same draw and compares every
/// forward and backward quantity at every step.
fn compare(source_text: &str, spec: &Spec, n: usize, seed: u64) {
    let program = tp::compile("test.tp", source_text, &[]).expect("program elaborates");
    let sample = draw(&program, n, seed).expect("draw");
    let exec = execute(&program, &sample).expect("execute");
    assert!(exec.completed(), "blow-up: {:?}", exec.blowup);
    let mut net = materialize(spec, &program, &sample);
    let steps = spec.e_w[0].len();
    for t in 0..=steps {
        let pass = forward(spec, &net);
        for l in 1..=spec.depth {
            let got = value(&program, &exec, &format!("h{l}_{t}"))
                .as_vector()
                .unwrap();
            assert_close_vec(got, &pass.h[l - 1], &format!("h{l}_{t}"));
        }
        let f = value(&program, &exec, &format!("f_{t}"))
            .as_scalar()
            .unwrap();
        assert!(
            (f - pass.f).abs() <= 1e-9 * pass.f.abs().max(1e-3),
            "f_{t}: {f} vs {}",
            pass.f
        );
        if t == steps {
            break;
        }
        let dh = backward(spec, &net, &pass);
        for l in 1..=spec.depth {
            let got = value(&program, &exec, &format!("dh{l}_{t}"))
                .as_vector()
                .unwrap();
            assert_close_vec(got, &dh[l - 1], &format!("dh{l}_{t}"));
        }
        sgd_step(spec, &mut net, &pass, &dh, t, n as f64);
    }
}

/// Central finite differences of the materialized forward pass with respect to weight
/// entries, against the elaborated `dh^l_t (x^{l-1}_t)ᵀ`, at steps 0 and 1.
fn finite_differences(source_text: &str, spec: &Spec, n: usize, seed: u64) {
    let program = tp::compile("test.tp", source_text, &[]).expect("program elaborates");
    let sample = draw(&program, n, seed).expect("draw");
    let exec = execute(&program, &sample).expect("execute");
    let mut net = materialize(spec, &program, &sample);
    for t in 0..2 {
        let pass = forward(spec, &net);
        for l in 1..=spec.depth {
            let dh = value(&program, &exec, &format!("dh{l}_{t}"))
                .as_vector()
                .unwrap();
            let input: Array1<f64> = if l == 1 {
                Array1::from(spec.xi.clone())
            } else {
                value(&program, &exec, &format!("x{}_{t}", l - 1))
                    .as_vector()
                    .unwrap()
                    .clone()
            };
            for (i, j) in [(0, 0), (n - 1, input.len() - 1), (n / 2, input.len() / 2)] {
                let eps = 1e-6 * net.w[l - 1][[i, j]].abs().max(1e-3);
                let keep = net.w[l - 1][[i, j]];
                net.w[l - 1][[i, j]] = keep + eps;
                let up = forward(spec, &net).f;
                net.w[l - 1][[i, j]] = keep - eps;
                let down = forward(spec, &net).f;
                net.w[l - 1][[i, j]] = keep;
                let fd = (up - down) / (2.0 * eps);
                let ad = dh[i] * input[j];
                assert!(
                    (fd - ad).abs() <= 1e-5 * ad.abs().max(1e-6) + 1e-9,
                    "t={t} layer {l} entry ({i},{j}): finite difference {fd} vs elaborated {ad}"
                );
            }
        }
        let dh_ref = backward(spec, &net, &pass);
        sgd_step(spec, &mut net, &pass, &dh_ref, t, n as f64);
    }
}

fn tanh_prime(x: f64) -> f64 {
    1.0 - x.tanh().powi(2)
}

fn relu(x: f64) -> f64 {
    x.max(0.0)
}

fn step(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else {
        0.0
    }
}

const MUP: &str = "
width n
param L = 3, eta = 0.5
activation act = tanh
input xi0 = [1.0, 0.5, -0.5] target 1.0
mlp net(depth = L, act = act, bias = none)
parameterization abc {
  a = [-1/2, 0.., 1/2]
  b = 1/2
  c = 0
}
train sgd(steps = 3, lr = eta, loss = mse, data = [xi0])
";

/// μP: A = (0, 1/2, 1/2, 1), E = (-1, 0, 0, 1) (reference §2.3, both forms agree).
fn mup_spec() -> Spec {
    Spec {
        depth: 3,
        act: f64::tanh,
        dact: tanh_prime,
        lr: 0.5,
        xi: vec![1.0, 0.5, -0.5],
        y: 1.0,
        a_w: vec![0.0, 0.5, 0.5, 1.0],
        e_w: vec![vec![-1.0; 3], vec![0.0; 3], vec![0.0; 3], vec![1.0; 3]],
        mean_w: vec![0.0; 4],
        a_b: vec![None; 4],
        e_b: vec![vec![0.0; 3]; 4],
    }
}

#[test]
fn mup_outer_product_form_matches_materialized_sgd() {
    compare(MUP, &mup_spec(), 9, 3);
}

#[test]
fn mup_backward_pass_matches_finite_differences() {
    finite_differences(MUP, &mup_spec(), 7, 11);
}

/// IP-LLR with ReLU, L = 3, bias on the first layer: a = (0, 1, 1, 1) so A = a;
/// c(0) = γ(1) = (-2, -5/2, -5/2, -2), c(t ≥ 1) = (-1, -2, -2, -1); E = 2a + c.
const IP_LLR: &str = "
width n
param L = 3, eta = 1
activation act = relu
input xi0 = [1.0, 0.5, -0.5] target 1.0
mlp net(depth = L, act = act, bias = first)
parameterization ip_llr(p = 1)
train sgd(steps = 3, lr = eta, loss = mse, data = [xi0])
";

fn ip_llr_spec() -> Spec {
    let e = |a: f64, c0: f64, c1: f64| vec![2.0 * a + c0, 2.0 * a + c1, 2.0 * a + c1];
    Spec {
        depth: 3,
        act: relu,
        dact: step,
        lr: 1.0,
        xi: vec![1.0, 0.5, -0.5],
        y: 1.0,
        a_w: vec![0.0, 1.0, 1.0, 1.0],
        e_w: vec![
            e(0.0, -2.0, -1.0),
            e(1.0, -2.5, -2.0),
            e(1.0, -2.5, -2.0),
            e(1.0, -2.0, -1.0),
        ],
        mean_w: vec![0.0; 4],
        a_b: vec![Some(0.0), None, None, None],
        e_b: vec![e(0.0, -2.0, -1.0), vec![0.0; 3], vec![0.0; 3], vec![0.0; 3]],
    }
}

#[test]
fn ip_llr_time_dependent_rates_match_materialized_sgd() {
    compare(IP_LLR, &ip_llr_spec(), 8, 5);
}

#[test]
fn ip_llr_backward_pass_matches_finite_differences() {
    finite_differences(IP_LLR, &ip_llr_spec(), 7, 2);
}

/// IP-non-centered, u = 1.5, biases at every layer scaled like the weights
/// (a = (0, 1, 1, 1), Naive-IP c = (-1, -2, -2, -1) at every step).
const IP_NONCENTERED: &str = "
width n
param L = 3, eta = 1
activation act = tanh
input xi0 = [1.0, 0.5, -0.5] target 1.0
mlp net(depth = L, act = act, bias = all)
parameterization ip_noncentered(u = 1.5)
train sgd(steps = 3, lr = eta, loss = mse, data = [xi0])
";

fn ip_noncentered_spec() -> Spec {
    let e = |x: f64| vec![x; 3];
    Spec {
        depth: 3,
        act: f64::tanh,
        dact: tanh_prime,
        lr: 1.0,
        xi: vec![1.0, 0.5, -0.5],
        y: 1.0,
        a_w: vec![0.0, 1.0, 1.0, 1.0],
        e_w: vec![e(-1.0), e(0.0), e(0.0), e(1.0)],
        mean_w: vec![0.0, 1.5, 1.5, 1.5],
        a_b: vec![Some(0.0), Some(1.0), Some(1.0), Some(1.0)],
        e_b: vec![e(-1.0), e(0.0), e(0.0), e(1.0)],
    }
}

#[test]
fn noncentered_means_and_biases_match_materialized_sgd() {
    compare(IP_NONCENTERED, &ip_noncentered_spec(), 10, 7);
}

#[test]
fn noncentered_backward_pass_matches_finite_differences() {
    finite_differences(IP_NONCENTERED, &ip_noncentered_spec(), 7, 4);
}

/// Two inputs cycled and a probe, SP with c = 1 and a user activation: the data order,
/// the per-input forward passes and a symbolic derivative of a formula are exercised
/// too. SP: A = (0, 1/2, 1/2, 1/2), E = c = 1 at every layer.
const SP_TWO_INPUTS: &str = "
width n
param L = 2, eta = 0.2
activation phi(x) = tanh(x) + sin(2*x)^3/10
input xa = [1.0, 0.5, -0.5] target 1.0
input xb = [0.2, -1.0, 0.3] target -0.5
input xc = [-0.7, 0.4, 1.1]
mlp net(depth = L, act = phi, bias = none)
parameterization sp(c = 1)
train sgd(steps = 4, lr = eta, loss = mse, data = [xa, xb], probe = [xc])
";

fn phi(x: f64) -> f64 {
    x.tanh() + (2.0 * x).sin().powi(3) / 10.0
}

fn dphi(x: f64) -> f64 {
    tanh_prime(x) + 0.6 * (2.0 * x).sin().powi(2) * (2.0 * x).cos()
}

#[test]
fn every_input_at_every_step_matches_materialized_sgd() {
    // The reference trains on xa, xb, xa, … (one per step) and never on the probe xc;
    // at every step it evaluates its current weights on all three inputs, which the
    // program must reproduce as h^l_t[ξ], x^l_t[ξ], f_t[ξ]. Its backward pass exists for
    // the trained input only.
    let program = tp::compile("test.tp", SP_TWO_INPUTS, &[]).expect("program elaborates");
    let n = 11;
    let sample = draw(&program, n, 9).expect("draw");
    let exec = execute(&program, &sample).expect("execute");
    assert!(exec.completed(), "blow-up: {:?}", exec.blowup);
    let inputs = [
        ("xa", vec![1.0, 0.5, -0.5], 1.0),
        ("xb", vec![0.2, -1.0, 0.3], -0.5),
        ("xc", vec![-0.7, 0.4, 1.1], 0.0),
    ];
    let mut spec = Spec {
        depth: 2,
        act: phi,
        dact: dphi,
        lr: 0.2,
        xi: inputs[0].1.clone(),
        y: inputs[0].2,
        a_w: vec![0.0, 0.5, 0.5],
        e_w: vec![vec![1.0; 4]; 3],
        mean_w: vec![0.0; 3],
        a_b: vec![None; 3],
        e_b: vec![vec![0.0; 4]; 3],
    };
    let mut net = materialize(&spec, &program, &sample);
    for t in 0..=4 {
        for (name, xi, y) in &inputs {
            spec.xi = xi.clone();
            spec.y = *y;
            let pass = forward(&spec, &net);
            let f = value(&program, &exec, &format!("f_{t}[{name}]"))
                .as_scalar()
                .unwrap();
            assert!(
                (f - pass.f).abs() <= 1e-9 * pass.f.abs().max(1e-3),
                "f_{t}[{name}]: {f} vs {}",
                pass.f
            );
            for l in 1..=2 {
                for (q, want) in [("h", &pass.h[l - 1]), ("x", &pass.x[l])] {
                    let what = format!("{q}{l}_{t}[{name}]");
                    let got = value(&program, &exec, &what).as_vector().unwrap();
                    assert_close_vec(got, want, &what);
                }
            }
            let trained = inputs[t % 2].0 == *name;
            for q in ["chi", "dh1", "dh2", "dx1", "dx2"] {
                let what = format!("{q}_{t}[{name}]");
                assert_eq!(
                    program.lookup(&what).is_some(),
                    trained && t < 4,
                    "{what}: only the input trained on at a step has a backward pass"
                );
            }
        }
        if t == 4 {
            break;
        }
        let (_, xi, y) = &inputs[t % 2];
        spec.xi = xi.clone();
        spec.y = *y;
        let pass = forward(&spec, &net);
        let dh = backward(&spec, &net, &pass);
        for l in 1..=2 {
            let what = format!("dh{l}_{t}[{}]", inputs[t % 2].0);
            let got = value(&program, &exec, &what).as_vector().unwrap();
            assert_close_vec(got, &dh[l - 1], &what);
        }
        sgd_step(&spec, &mut net, &pass, &dh, t, n as f64);
    }
}

#[test]
fn a_probe_changes_nothing_that_is_trained() {
    // The same program without the probe: every value of the trained inputs must be
    // bit-identical (the probe's forward passes are read by nothing that updates the
    // weights), and no value at all may mention the probe.
    let with = tp::compile("test.tp", SP_TWO_INPUTS, &[]).expect("program elaborates");
    let without_text = SP_TWO_INPUTS.replace(", probe = [xc]", "");
    let without = tp::compile("test.tp", &without_text, &[]).expect("program elaborates");
    assert!(without.instrs.iter().all(|i| !i.name.contains("xc")));
    let n = 13;
    let run = |p: &Program| {
        let sample = draw(p, n, 21).expect("draw");
        execute(p, &sample).expect("execute")
    };
    let (ew, eo) = (run(&with), run(&without));
    let mut compared = 0;
    for id in without.ids() {
        let name = &without.instr(id).name;
        let other = with
            .lookup(name)
            .unwrap_or_else(|| panic!("{name} is missing once a probe is added"));
        assert_eq!(eo.value(id), ew.value(other), "{name}");
        compared += 1;
    }
    assert!(compared > 50, "only {compared} values compared");
}

/// IP-bias, L = 3 (thesis §2.5.2): weights a = (0, 1, 1, 1); first-step weight rates
/// c = (-(L+1)/2, -(L-l+4)/2, -1) = (-2, -5/2, -2, -1) so E(0) = (-2, -1/2, 0, 1), later
/// Naive-IP E = (-1, 0, 0, 1); unscaled biases (A = 0) with first-step rates
/// (-(L+1)/2, -(L-l+2)/2, 0) = (-2, -3/2, -1, 0) and later (-1, -1, -1, 0).
const IP_BIAS: &str = "
width n
param L = 3, eta = 1
activation act = relu
input xi0 = [1.0, 0.5, -0.5] target 1.0
mlp net(depth = L, act = act, bias = all)
parameterization ip_bias
train sgd(steps = 3, lr = eta, loss = mse, data = [xi0])
";

fn ip_bias_spec() -> Spec {
    let e = |first: f64, later: f64| vec![first, later, later];
    Spec {
        depth: 3,
        act: relu,
        dact: step,
        lr: 1.0,
        xi: vec![1.0, 0.5, -0.5],
        y: 1.0,
        a_w: vec![0.0, 1.0, 1.0, 1.0],
        e_w: vec![e(-2.0, -1.0), e(-0.5, 0.0), e(0.0, 0.0), e(1.0, 1.0)],
        mean_w: vec![0.0; 4],
        a_b: vec![Some(0.0); 4],
        e_b: vec![e(-2.0, -1.0), e(-1.5, -1.0), e(-1.0, -1.0), e(0.0, 0.0)],
    }
}

#[test]
fn ip_bias_layer_dependent_rates_match_materialized_sgd() {
    compare(IP_BIAS, &ip_bias_spec(), 9, 13);
}
