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
    for t in 0..=3i32 {
        let g = gaussian(&laws, &format!("f_{t}"));
        // Quadrature makes the derived values exact to ~1e-10; a Monte Carlo evaluator
        // would report its error, which the comparison allows five times over.
        let tol = (5.0 * g.mean_stderr.max(g.sd_stderr)).max(1e-6);
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

/// E[relu(u)relu(v)] and E[step(u)step(v)] for (u, v) centred Gaussian with covariance
/// [[a, c], [c, b]] (the arc-cosine kernels of degree 1 and 0, Cho & Saul 2009).
fn arc_cosine(a: f64, b: f64, c: f64) -> (f64, f64) {
    let theta = (c / (a * b).sqrt()).clamp(-1.0, 1.0).acos();
    let pi = std::f64::consts::PI;
    (
        (a * b).sqrt() / (2.0 * pi) * (theta.sin() + (pi - theta) * theta.cos()),
        (pi - theta) / (2.0 * pi),
    )
}

#[test]
fn two_inputs_follow_kernel_gradient_descent_with_the_cross_kernels() {
    // SGD on xa at step 0, on xb at step 1 (cyclic): f_{t+1}(x) = f_t(x) − η Θ(x, x_t) χ_t
    // with χ_t = f_t(x_t) − y_t, and (f_0(xa), f_0(xb)) ~ N(0, K).
    let text = "width n
param L = 2, eta = 0.5
activation act = relu
input xa = [1.0, 0.5, -0.5] target 1.0
input xb = [0.2, -1.0, 0.3] target -0.5
mlp net(depth = L, act = act, bias = none)
parameterization ntk
train sgd(steps = 2, lr = eta, loss = mse, data = [xa, xb])
";
    let program = tp::compile("two.tp", text, &[]).expect("program");
    let laws = tp::limit::limit(&program, &EvalOptions::default())
        .expect("limit")
        .laws;
    let xs = [[1.0, 0.5, -0.5], [0.2, -1.0, 0.3]];
    let dot = |a: &[f64; 3], b: &[f64; 3]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut k = [[0.0; 2]; 2];
    for i in 0..2 {
        for j in 0..2 {
            k[i][j] = dot(&xs[i], &xs[j]);
        }
    }
    let mut theta = k;
    for _ in 0..2 {
        let mut next = [[0.0; 2]; 2];
        for i in 0..2 {
            for j in 0..2 {
                let (kk, dd) = arc_cosine(k[i][i], k[j][j], k[i][j]);
                next[i][j] = kk;
                theta[i][j] = kk + theta[i][j] * dd;
            }
        }
        k = next;
    }
    let (eta, y) = (0.5, [1.0, -0.5]);
    // f_t = c_t + B_t g with g = (f_0(xa), f_0(xb)).
    let mut c = [0.0; 2];
    let mut b = [[1.0, 0.0], [0.0, 1.0]];
    let mut expected = vec![(c, b)];
    for trained in [0usize, 1] {
        let chi_c = c[trained] - y[trained];
        let chi_b = b[trained];
        for x in 0..2 {
            c[x] -= eta * theta[x][trained] * chi_c;
            for g in 0..2 {
                b[x][g] -= eta * theta[x][trained] * chi_b[g];
            }
        }
        expected.push((c, b));
    }
    let names = ["xa", "xb"];
    for (t, (c, b)) in expected.iter().enumerate() {
        for x in 0..2 {
            let name = format!("f_{t}[{}]", names[x]);
            let g = gaussian(&laws, &name);
            let var: f64 = (0..2)
                .flat_map(|i| (0..2).map(move |j| (i, j)))
                .map(|(i, j)| b[x][i] * b[x][j] * k[i][j])
                .sum();
            let tol_mean = 5.0 * g.mean_stderr + 1e-9;
            let tol_sd = 5.0 * g.sd_stderr + 1e-9;
            assert!(
                (g.mean - c[x]).abs() < tol_mean && (g.sd - var.sqrt()).abs() < tol_sd,
                "{name}: derived mean {} ± {:.1e}, sd {} ± {:.1e}; kernel GD mean {}, sd {}",
                g.mean,
                g.mean_stderr,
                g.sd,
                g.sd_stderr,
                c[x],
                var.sqrt()
            );
        }
    }
}
