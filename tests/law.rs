//! The laws of the outputs that stay random in the limit, against kernel gradient
//! descent.
//!
//! Oracle: in the kernel regime, MSE training on one input ξ with target y is, in the
//! limit, f_{t+1} − y = (1 − ηΘ)(f_t − y) with f_0 ~ N(0, K), where K is the NNGP
//! variance of the output and Θ its NTK (Jacot et al. 2018; Lee et al. 2019). So
//! mean_t = y(1 − (1 − ηΘ)^t), Var_t = (1 − ηΘ)^{2t} K, Cov(f_s, f_t) = (1 − ηΘ)^{s+t} K.
//! K and Θ are computed here by the layer recursions, independently of the program's
//! derivation: with K¹ = ξᵀξ (the programs' input layer has N(0, 1) entries and no 1/d),
//! K^{l+1} = E[φ(h)²] and Ḟ^l = E[φ'(h)²] for h ~ N(0, K^l), and Θ¹ = ξᵀξ (0 when the
//! input layer's learning rate vanishes, as in SP with c = 1),
//! Θ^{l+1} = K^{l+1} + Θ^l·Ḟ^l; K = K^{L+1}, Θ = Θ^{L+1}. ReLU uses the closed forms
//! E[relu(h)²] = k/2, E[step(h)²] = 1/2; tanh a Simpson rule written here.

mod common;

use tp::limit::law::GaussianLaw;
use tp::limit::EvalOptions;

/// E[g(h)] for h ~ N(0, k), by composite Simpson on ±12 standard deviations.
fn gaussian_mean(k: f64, g: impl Fn(f64) -> f64) -> f64 {
    let s = k.sqrt();
    let m = 4000;
    let (a, b) = (-12.0 * s, 12.0 * s);
    let h = (b - a) / m as f64;
    let density = |x: f64| (-x * x / (2.0 * k)).exp() / (2.0 * std::f64::consts::PI * k).sqrt();
    let mut sum = 0.0;
    for i in 0..=m {
        let x = a + h * i as f64;
        let w = if i == 0 || i == m {
            1.0
        } else if i % 2 == 1 {
            4.0
        } else {
            2.0
        };
        sum += w * g(x) * density(x);
    }
    sum * h / 3.0
}

#[derive(Clone, Copy)]
enum Act {
    Tanh,
    Relu,
}

/// (K, Θ) of an L-hidden-layer network on one input of squared norm `xx`.
fn kernels(act: Act, depth: usize, xx: f64, input_layer_learns: bool) -> (f64, f64) {
    let mut k = xx;
    let mut theta = if input_layer_learns { xx } else { 0.0 };
    for _ in 0..depth {
        let (next, dot) = match act {
            Act::Relu => (k / 2.0, 0.5),
            Act::Tanh => (
                gaussian_mean(k, |h| h.tanh().powi(2)),
                gaussian_mean(k, |h| (1.0 - h.tanh().powi(2)).powi(2)),
            ),
        };
        theta = next + theta * dot;
        k = next;
    }
    (k, theta)
}

fn laws(name: &str, sets: &[&str]) -> tp::limit::law::Laws {
    let program = common::shipped(name, sets);
    tp::limit::limit(&program, &EvalOptions::default())
        .expect("limit")
        .laws
}

fn gaussian<'a>(laws: &'a tp::limit::law::Laws, name: &str) -> &'a GaussianLaw {
    match &laws
        .get(name)
        .unwrap_or_else(|| panic!("no law for {name}"))
        .law
    {
        Ok(g) => g,
        Err(e) => panic!("{name}: law undetermined: {e}"),
    }
}

/// The laws of f_0…f_3 against kernel gradient descent, to `tol` relative.
fn against_kernel_gd(name: &str, sets: &[&str], act: Act, depth: usize, eta: f64, input: bool) {
    let laws = laws(name, sets);
    let (k, theta) = kernels(act, depth, 1.5, input);
    let (y, r) = (1.0, 1.0 - eta * theta);
    let tol = 1e-6;
    for t in 0..=3i32 {
        let g = gaussian(&laws, &format!("f_{t}"));
        let mean = y * (1.0 - r.powi(t));
        let sd = r.powi(t).abs() * k.sqrt();
        assert!(
            (g.mean - mean).abs() < tol && (g.sd - sd).abs() < tol,
            "{name} {sets:?} f_{t}: derived mean {} sd {}, kernel GD mean {mean} sd {sd} \
             (Θ = {theta}, K = {k})",
            g.mean,
            g.sd
        );
        for s in 0..=t {
            let gs = gaussian(&laws, &format!("f_{s}"));
            let cov = laws.covariance_of(gs, g).0;
            let want = r.powi(s + t) * k;
            assert!(
                (cov - want).abs() < tol,
                "{name} {sets:?} Cov(f_{s}, f_{t}) = {cov}, kernel GD {want}"
            );
        }
    }
}

#[test]
fn ntk_tanh_depth_3_is_kernel_gradient_descent() {
    against_kernel_gd("mlp_ntk.tp", &[], Act::Tanh, 3, 0.5, true);
}

#[test]
fn ntk_tanh_depth_1_is_kernel_gradient_descent() {
    against_kernel_gd("mlp_ntk.tp", &["L=1"], Act::Tanh, 1, 0.5, true);
}

#[test]
fn ntk_relu_depths_2_and_3_are_kernel_gradient_descent() {
    against_kernel_gd("mlp_ntk.tp", &["act=relu", "L=2"], Act::Relu, 2, 0.5, true);
    against_kernel_gd("mlp_ntk.tp", &["act=relu"], Act::Relu, 3, 0.5, true);
}

#[test]
fn ntk_learning_rate_enters_the_law() {
    against_kernel_gd("mlp_ntk.tp", &["eta=0.8"], Act::Tanh, 3, 0.8, true);
}

#[test]
fn sp_with_small_learning_rate_has_no_input_layer_term() {
    // SP with c = 1: the input layer's learning rate η/n makes its NTK term vanish; the
    // other layers train as in NTK.
    against_kernel_gd("mlp_sp.tp", &["c=1"], Act::Tanh, 3, 0.5, false);
}

#[test]
fn feature_learning_and_unstable_programs_get_no_gaussian_law_beyond_step_0() {
    // SP with a constant learning rate blows up: f_1 is not Θ(1).
    let sp = laws("mlp_sp.tp", &[]);
    assert!(sp.get("f_0").is_some_and(|l| l.law.is_ok()));
    assert!(sp.get("f_1").is_some_and(|l| l.law.is_err()));
    // IP with a random Θ(1) output bias learns features: the later outputs are random
    // but their law is not derived.
    let bias = laws("mlp_ip_bias.tp", &[]);
    let f1 = bias.get("f_1").expect("f_1 is random");
    assert!(f1.law.is_err(), "{:?}", f1.law);
    // μP: f_0 vanishes like n^{-1/2}; n^{1/2}·f_0 ~ N(0, K) with K the NNGP variance.
    let mup = laws("mlp_mup.tp", &["L=2"]);
    let f0 = gaussian(&mup, "f_0");
    let (k, _) = kernels(Act::Tanh, 2, 1.5, true);
    assert!(f0.mean == 0.0 && (f0.sd - k.sqrt()).abs() < 1e-6, "{f0:?}");
}
