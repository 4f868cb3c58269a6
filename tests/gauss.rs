//! Gaussian expectations (`tp::gauss`) against independent computations: closed forms
//! against quadrature and Monte Carlo, quadrature against exact moments and adaptive
//! Simpson, Stein's lemma against direct gradients, the NNGP/NTK recursions against
//! layer-by-layer quadrature and against finite-width networks.

use ndarray::{array, Array1, Array2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::f64::consts::PI;
use tp::gauss::closed_form::*;
use tp::gauss::*;

// ---------------------------------------------------------------------------------
// Independent helpers
// ---------------------------------------------------------------------------------

/// A scalar integrand.
type ScalarFn = dyn Fn(&[f64]) -> f64;

/// An activation or its derivative.
type RealFn = fn(f64) -> f64;

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

/// erf by the everywhere-positive series erf x = (2/√π) e^{−x²} Σ_k 2^k x^{2k+1}/(2k+1)!!
/// (no cancellation), independent of any erf in the crate.
fn erf_ref(x: f64) -> f64 {
    let ax = x.abs();
    if ax > 6.0 {
        return x.signum();
    }
    let mut term = ax;
    let mut sum = ax;
    let mut k = 0.0;
    while term > 1e-18 * sum {
        k += 1.0;
        term *= 2.0 * ax * ax / (2.0 * k + 1.0);
        sum += term;
    }
    (2.0 / PI.sqrt() * (-ax * ax).exp() * sum).copysign(x)
}

fn erf_prime(x: f64) -> f64 {
    2.0 / PI.sqrt() * (-x * x).exp()
}

/// 2 × 2 covariance with the given variances and correlation.
fn cov2(k11: f64, rho: f64, k22: f64) -> Array2<f64> {
    let c = rho * (k11 * k22).sqrt();
    array![[k11, c], [c, k22]]
}

/// Adaptive Simpson on [a, b] to absolute tolerance `tol`.
fn simpson(f: &dyn Fn(f64) -> f64, a: f64, b: f64, tol: f64) -> f64 {
    struct Panel {
        a: f64,
        b: f64,
        fa: f64,
        fm: f64,
        fb: f64,
        whole: f64,
    }
    fn rec(f: &dyn Fn(f64) -> f64, p: Panel, tol: f64, depth: u32) -> f64 {
        let m = 0.5 * (p.a + p.b);
        let (lm, rm) = (0.5 * (p.a + m), 0.5 * (m + p.b));
        let (flm, frm) = (f(lm), f(rm));
        let left = (m - p.a) / 6.0 * (p.fa + 4.0 * flm + p.fm);
        let right = (p.b - m) / 6.0 * (p.fm + 4.0 * frm + p.fb);
        let delta = left + right - p.whole;
        if depth == 0 || delta.abs() <= 15.0 * tol {
            return left + right + delta / 15.0;
        }
        let l = Panel {
            a: p.a,
            b: m,
            fa: p.fa,
            fm: flm,
            fb: p.fm,
            whole: left,
        };
        let r = Panel {
            a: m,
            b: p.b,
            fa: p.fm,
            fm: frm,
            fb: p.fb,
            whole: right,
        };
        rec(f, l, 0.5 * tol, depth - 1) + rec(f, r, 0.5 * tol, depth - 1)
    }
    let (fa, fb, fm) = (f(a), f(b), f(0.5 * (a + b)));
    let whole = (b - a) / 6.0 * (fa + 4.0 * fm + fb);
    rec(
        f,
        Panel {
            a,
            b,
            fa,
            fm,
            fb,
            whole,
        },
        tol,
        40,
    )
}

/// E[g(Z)], Z ~ N(0, var), by adaptive Simpson on the density over ±12σ.
fn expect_1d_simpson(g: &dyn Fn(f64) -> f64, var: f64) -> f64 {
    let s = var.sqrt();
    let density = |x: f64| g(x) * (-0.5 * x * x / var).exp() / (2.0 * PI * var).sqrt();
    simpson(&density, -12.0 * s, 12.0 * s, 1e-15)
}

fn kink_opts() -> ExpectOptions {
    ExpectOptions {
        smooth: false,
        ..ExpectOptions::default()
    }
}

fn smooth_opts() -> ExpectOptions {
    ExpectOptions {
        smooth: true,
        ..ExpectOptions::default()
    }
}

/// Covariances covering correlations 0, ±1, near ±1 and a zero variance.
fn test_covariances() -> Vec<Array2<f64>> {
    vec![
        cov2(1.3, 0.0, 0.7),
        cov2(1.3, 0.5, 0.7),
        cov2(2.0, -0.3, 0.25),
        cov2(1.3, -0.9, 0.7),
        cov2(0.6, 0.99, 1.8),
        cov2(1.0, 0.999999, 1.0),
        cov2(1.3, 1.0, 0.7),
        cov2(1.3, -1.0, 0.7),
        cov2(1.5, 0.0, 0.0),
    ]
}

// ---------------------------------------------------------------------------------
// Gauss–Hermite rules
// ---------------------------------------------------------------------------------

#[test]
fn gauss_hermite_is_exact_up_to_degree_2k_minus_1_and_not_beyond() {
    for k in [1, 2, 3, 4, 7, 10, 20, 50, 100, 256] {
        let rule = gauss_hermite(k).unwrap();
        assert_eq!(rule.len(), k);
        // E[Z^{2j}] = (2j − 1)!! for 2j ≤ 2k − 1 …
        let mut double_factorial = 1.0; // (2j − 1)!!
        for j in 0..k {
            if j > 0 {
                double_factorial *= (2 * j - 1) as f64;
            }
            // Beyond this the moments, or x^{2j+1} at the outer nodes, leave f64.
            let x_max = rule.nodes[k - 1].max(1.0);
            if double_factorial > 1e250 || (2 * j + 1) as f64 * x_max.ln() > 650.0 {
                break;
            }
            let got = rule.apply(|x| x.powi(2 * j as i32));
            let rel = (got - double_factorial).abs() / double_factorial;
            assert!(
                rel < 1e-12,
                "k={k} degree {}: {got} vs {double_factorial}",
                2 * j
            );
            // Odd moments vanish; the scale is that of the neighbouring even moment.
            let odd = rule.apply(|x| x.powi(2 * j as i32 + 1));
            assert!(
                odd.abs() <= 1e-12 * double_factorial * (2 * j + 1) as f64,
                "k={k}"
            );
        }
        // … but not at degree 2k: E[Z^{2k}] − Q_k[x^{2k}] = k! (the error constant of the
        // k-node rule for the probabilists' weight), so the rule really has k nodes.
        if k <= 20 {
            let exact = double_factorial * (2 * k - 1) as f64;
            let got = rule.apply(|x| x.powi(2 * k as i32));
            let k_factorial: f64 = (1..=k).map(|i| i as f64).product();
            assert!(
                ((exact - got) - k_factorial).abs() < 1e-9 * exact,
                "k={k}: error {} vs k! = {k_factorial}",
                exact - got
            );
        }
    }
}

#[test]
fn gauss_hermite_nodes_are_symmetric_and_weights_sum_to_one() {
    for k in [1, 2, 5, 16, 63, 64, 128, 256] {
        let r = gauss_hermite(k).unwrap();
        for i in 0..k {
            assert_eq!(r.nodes[i], -r.nodes[k - 1 - i], "k={k}");
            assert_eq!(r.weights[i], r.weights[k - 1 - i], "k={k}");
            assert!(r.weights[i] >= 0.0);
        }
        let total: f64 = r.weights.iter().sum();
        assert!((total - 1.0).abs() < 1e-14, "k={k}: {total}");
    }
    // He_4 = x⁴ − 6x² + 3 has zeros ±√(3 ± √6).
    let r = gauss_hermite(4).unwrap();
    let s6 = 6f64.sqrt();
    assert!((r.nodes[3] - (3.0 + s6).sqrt()).abs() < 1e-15);
    assert!((r.nodes[2] - (3.0 - s6).sqrt()).abs() < 1e-15);
}

// ---------------------------------------------------------------------------------
// Closed forms against quadrature and Monte Carlo
// ---------------------------------------------------------------------------------

#[test]
fn relu_and_step_kernels_match_polar_quadrature() {
    for s in test_covariances() {
        let (k11, k12, k22) = (s[[0, 0]], s[[0, 1]], s[[1, 1]]);
        for (name, exact, est) in [
            (
                "relu",
                relu_kernel(k11, k12, k22),
                expect(&s, &|g| relu(g[0]) * relu(g[1]), &kink_opts()).unwrap(),
            ),
            (
                "step",
                step_kernel(k11, k12, k22),
                expect(&s, &|g| step(g[0]) * step(g[1]), &kink_opts()).unwrap(),
            ),
        ] {
            let err = (est.value - exact).abs();
            assert!(err <= est.stderr + 1e-15, "{name} {s}: {est} vs {exact}");
            assert!(est.stderr < 1e-9, "{name} {s}: {est}");
            // Rank 2 uses the polar rule, rank 1 (correlation ±1, a zero variance) the
            // adaptive line rule.
            assert!(
                matches!(est.method, Method::Polar { .. } | Method::Adaptive { .. }),
                "{est}"
            );
        }
    }
}

#[test]
fn kinks_off_the_coordinate_axes_are_resolved_with_honest_errors() {
    // u = g0 + 2 g1 and v = g0 − g1 change sign on lines that are not panel ends, so the
    // adaptive angular bisection has to find them.
    for s in test_covariances().into_iter().take(5) {
        let quad = |x: [f64; 2], y: [f64; 2]| {
            x[0] * y[0] * s[[0, 0]]
                + (x[0] * y[1] + x[1] * y[0]) * s[[0, 1]]
                + x[1] * y[1] * s[[1, 1]]
        };
        let (a, b) = ([1.0, 2.0], [1.0, -1.0]);
        let (k11, k12, k22) = (quad(a, a), quad(a, b), quad(b, b));
        let r = expect(
            &s,
            &|g| relu(g[0] + 2.0 * g[1]) * relu(g[0] - g[1]),
            &kink_opts(),
        )
        .unwrap();
        let exact = relu_kernel(k11, k12, k22);
        assert!((r.value - exact).abs() <= r.stderr, "{s}: {r} vs {exact}");
        assert!(r.stderr < 1e-9, "{r}");
        let t = expect(
            &s,
            &|g| step(g[0] + 2.0 * g[1]) * step(g[0] - g[1]),
            &kink_opts(),
        )
        .unwrap();
        let exact = step_kernel(k11, k12, k22);
        assert!((t.value - exact).abs() <= t.stderr, "{s}: {t} vs {exact}");
        assert!(t.stderr < 1e-9, "{t}");
    }
}

#[test]
fn relu_and_step_kernels_match_tensor_quadrature_with_honest_errors() {
    // Tensor Gauss–Hermite converges slowly on kinks; what matters is that its error
    // estimate covers the true error.
    let opts = QuadratureOptions {
        start_nodes: 16,
        smooth: false,
        ..QuadratureOptions::default()
    };
    for s in test_covariances() {
        let (k11, k12, k22) = (s[[0, 0]], s[[0, 1]], s[[1, 1]]);
        let r = expect_quadrature_adaptive(&s, &|g| relu(g[0]) * relu(g[1]), &opts).unwrap();
        let exact = relu_kernel(k11, k12, k22);
        // The 1e-9 slack: at correlation 0.999999 the region where u and v differ in
        // sign is a wedge of angle 1.4e-3 that no tensor node falls in, so every rule
        // agrees and misses its 1.5e-10 contribution (the polar rule resolves it, see
        // above). Features thinner than the node spacing are invisible to any rule.
        assert!(
            (r.value - exact).abs() <= r.stderr + 1e-9,
            "relu {s}: {r} vs {exact}"
        );
        assert!(r.stderr < 2e-3, "{r}");
        let t = expect_quadrature_adaptive(&s, &|g| step(g[0]) * step(g[1]), &opts).unwrap();
        let exact = step_kernel(k11, k12, k22);
        let slack = if k12.abs() < 0.9999 * (k11 * k22).sqrt() {
            1e-15
        } else {
            3e-4
        };
        assert!(
            (t.value - exact).abs() <= t.stderr + slack,
            "step {s}: {t} vs {exact}"
        );
    }
}

#[test]
fn closed_forms_match_monte_carlo_within_four_standard_errors() {
    for (i, s) in test_covariances().into_iter().enumerate() {
        let (k11, k12, k22) = (s[[0, 0]], s[[0, 1]], s[[1, 1]]);
        let f = |g: &[f64], out: &mut [f64]| {
            out[0] = relu(g[0]) * relu(g[1]);
            out[1] = step(g[0]) * step(g[1]);
            out[2] = erf_ref(g[0]) * erf_ref(g[1]);
            out[3] = erf_prime(g[0]) * erf_prime(g[1]);
        };
        let opts = MonteCarloOptions {
            samples: 40_000,
            seed: 100 + i as u64,
            antithetic: false,
        };
        let mc = expect_mc_vec(&s, &f, 4, &opts).unwrap();
        let exact = [
            relu_kernel(k11, k12, k22),
            step_kernel(k11, k12, k22),
            erf_kernel(k11, k12, k22),
            erf_derivative_kernel(k11, k12, k22),
        ];
        for (e, x) in mc.iter().zip(exact) {
            // A zero-variance product is constant: its stderr is 0 and it must be exact.
            assert!(
                (e.value - x).abs() <= 4.0 * e.stderr + 1e-12,
                "{s}: {e} vs {x}"
            );
        }
    }
}

#[test]
fn erf_kernels_match_smooth_quadrature() {
    for s in test_covariances() {
        let (k11, k12, k22) = (s[[0, 0]], s[[0, 1]], s[[1, 1]]);
        let f = |g: &[f64], out: &mut [f64]| {
            out[0] = erf_ref(g[0]) * erf_ref(g[1]);
            out[1] = erf_prime(g[0]) * erf_prime(g[1]);
        };
        let est = expect_vec(&s, &f, 2, &smooth_opts()).unwrap();
        let exact = [
            erf_kernel(k11, k12, k22),
            erf_derivative_kernel(k11, k12, k22),
        ];
        for (e, x) in est.iter().zip(exact) {
            assert!(
                matches!(
                    e.method,
                    Method::Quadrature { .. } | Method::Adaptive { .. }
                ),
                "{e}"
            );
            assert!((e.value - x).abs() <= e.stderr + 1e-14, "{s}: {e} vs {x}");
            assert!(e.stderr < 1e-9, "{s}: {e}");
        }
    }
}

#[test]
fn relu_kernel_special_values_in_terms_of_one_dimensional_moments() {
    // θ = 0 gives E[relu(u)²] = k/2 and θ = π/2 gives E[relu(u)]E[relu(v)].
    let (a, b) = (1.7, 0.4);
    assert!((relu_kernel(a, a, a) - relu_second_moment(a)).abs() < 1e-15);
    assert!((relu_kernel(a, 0.0, b) - relu_mean(a) * relu_mean(b)).abs() < 1e-15);
    assert!((step_kernel(a, 0.0, b) - step_mean(a) * step_mean(b)).abs() < 1e-15);
    // erf at perfect correlation is the second moment, at zero correlation 0 (odd).
    assert!((erf_kernel(a, a, a) - erf_second_moment(a)).abs() < 1e-15);
    assert_eq!(erf_kernel(a, 0.0, b), 0.0);
}

#[test]
fn known_one_dimensional_moments() {
    let var = 2.5;
    let s = array![[var]];
    // E[Z⁴] = 3σ⁴: exact with 3 nodes, so quadrature is exact; Monte Carlo within 4 se.
    let q = expect(&s, &|g| g[0].powi(4), &smooth_opts()).unwrap();
    assert!((q.value - 3.0 * var * var).abs() < 1e-12, "{q}");
    assert!((q.value - normal_moment(var, 4)).abs() < 1e-12);
    let mc = expect_mc(&s, &|g| g[0].powi(4), 200_000, 5).unwrap();
    assert!((mc.value - 3.0 * var * var).abs() < 4.0 * mc.stderr, "{mc}");
    // E[relu(Z)²] = σ²/2 and E[relu(Z)] = σ/√(2π).
    let relu_sq = |g: &[f64]| relu(g[0]).powi(2);
    let relu_1 = |g: &[f64]| relu(g[0]);
    let cases: [(&ScalarFn, f64); 2] =
        [(&relu_sq, var / 2.0), (&relu_1, (var / (2.0 * PI)).sqrt())];
    for (f, exact) in cases {
        let p = expect(&s, f, &kink_opts()).unwrap();
        assert!(
            (p.value - exact).abs() <= p.stderr + 1e-15,
            "{p} vs {exact}"
        );
        assert!(p.stderr < 1e-12, "{p}");
        let mc = expect_mc(&s, f, 100_000, 9).unwrap();
        assert!(
            (mc.value - exact).abs() < 4.0 * mc.stderr,
            "{mc} vs {exact}"
        );
    }
    assert!((relu_mean(var) - (var / (2.0 * PI)).sqrt()).abs() < 1e-16);
    assert_eq!(relu_second_moment(var), var / 2.0);
    // E[tanh'(Z)] against adaptive Simpson on the density.
    for var in [0.1, 1.0, 4.0, 25.0] {
        let sech2 = |x: f64| 1.0 - x.tanh().powi(2);
        let reference = expect_1d_simpson(&sech2, var);
        let q = expect(&array![[var]], &|g| sech2(g[0]), &smooth_opts()).unwrap();
        assert!(
            (q.value - reference).abs() <= q.stderr + 1e-13,
            "{var}: {q} vs {reference}"
        );
        assert!(q.stderr < 1e-10, "{q}");
        assert!(matches!(q.method, Method::Adaptive { .. }));
        // Tensor Gauss–Hermite, which the dispatcher uses for rank 2 and 3, converges
        // only like e^{−c√k} here (sech² has poles at ±iπ/2, close to the real axis in
        // units of σ): 256 nodes give ~1e-9 at σ = 2 and ~1e-4 at σ = 5. Its error
        // estimate must cover that.
        let opts = QuadratureOptions::default();
        let t = expect_quadrature_adaptive(&array![[var]], &|g| sech2(g[0]), &opts).unwrap();
        assert!(
            (t.value - reference).abs() <= t.stderr,
            "{var}: {t} vs {reference}"
        );
    }
}

#[test]
fn smooth_quadrature_error_estimates_cover_the_true_error() {
    // Loose tolerances stop the doubling early: the reported error must still bound the
    // true one. E[erf(u) erf(v)] has a closed form; variance 20 makes erf steep.
    let s = cov2(20.0, 0.6, 5.0);
    let exact = erf_kernel(20.0, 0.6 * 10.0, 5.0);
    for tol in [1e-2, 1e-3, 1e-4, 1e-6, 1e-8] {
        let opts = QuadratureOptions {
            start_nodes: 4,
            abs_tol: tol,
            rel_tol: 0.0,
            ..QuadratureOptions::default()
        };
        let e = expect_quadrature_adaptive(&s, &|g| erf_ref(g[0]) * erf_ref(g[1]), &opts).unwrap();
        assert!(
            (e.value - exact).abs() <= e.stderr,
            "tol {tol}: {e} vs {exact}"
        );
        // 256 nodes get to about 1e-5 here (erf(√20 z) is steep in units of the nodes).
        assert!(e.stderr <= tol.max(1e-4), "tol {tol}: {e}");
    }
    // The two-order form.
    let e = expect_quadrature(&s, &|g| erf_ref(g[0]) * erf_ref(g[1]), 16).unwrap();
    assert_eq!(e.method, Method::Quadrature { nodes: 32 });
    assert!((e.value - exact).abs() <= e.stderr, "{e}");
}

#[test]
fn reference_notes_lambda_one_closed_form() {
    // Reference notes §5 [derived]: for z ~ N(0, s²), u ~ N(0, r²) independent,
    // λ₁ = E[relu(z) relu(z − λ' u 1{z>0})] = s²(1/4 + (arctan b + b/(1+b²))/(2π))
    //      + a³ s / (2π (a² + s²)),  a = λ' r, b = s/a.
    // Example (L = 3, η = 1, ξ₀ = (1, 0.5, −0.5), χ̊₀ = −1): the notes print λ₁ = 1.29845
    // (MC 1.29854); the formula itself gives 1.2983852, confirmed here by quadrature and
    // independently by a 400 000-point trapezoid rule on the conditional expectation
    // E_z[relu(z)·(c Φ(c/t) + t φ(c/t))], c = z, t = λ'r. The printed value is off in the
    // fifth digit, within the notes' rounding of 1e-4.
    let s2: f64 = 1.0 + 0.25 + 0.25 + 1.0;
    let r2: f64 = 0.25;
    let lambda = s2; // λ' = −η χ̊₀ s²
    let (s, r) = (s2.sqrt(), r2.sqrt());
    let a = lambda * r;
    let b = s / a;
    let closed = s2 * (0.25 + (b.atan() + b / (1.0 + b * b)) / (2.0 * PI))
        + a.powi(3) * s / (2.0 * PI * (a * a + s2));
    assert!((closed - 1.298_385_227_7).abs() < 1e-9, "{closed}");
    assert!((closed - 1.29845).abs() < 1e-4, "{closed}");
    let cov = array![[s2, 0.0], [0.0, r2]];
    let f = |g: &[f64]| relu(g[0]) * relu(g[0] - lambda * g[1] * step(g[0]));
    let e = expect(&cov, &f, &kink_opts()).unwrap();
    assert!(
        (e.value - closed).abs() <= e.stderr + 1e-14,
        "{e} vs {closed}"
    );
    assert!(e.stderr < 1e-9, "{e}");
}

// ---------------------------------------------------------------------------------
// Stein's lemma
// ---------------------------------------------------------------------------------

#[test]
fn stein_gradient_matches_direct_gradient_for_smooth_f() {
    // F(u, v) = tanh(u + v/2)·v + sin(v): ∇F = (sech²(w)·v, sech²(w)·v/2 + tanh(w) + cos(v)).
    let s = array![[1.2, -0.5], [-0.5, 0.8]];
    let f = |g: &[f64]| (g[0] + 0.5 * g[1]).tanh() * g[1] + g[1].sin();
    let grad = |g: &[f64], out: &mut [f64]| {
        let w = g[0] + 0.5 * g[1];
        let sech2 = 1.0 - w.tanh().powi(2);
        out[0] = sech2 * g[1];
        out[1] = 0.5 * sech2 * g[1] + w.tanh() + g[1].cos();
    };
    let direct = expect_vec(&s, &grad, 2, &smooth_opts()).unwrap();
    for opts in [smooth_opts(), kink_opts()] {
        let stein = expect_gradient(&s, &f, &opts).unwrap();
        for (d, st) in direct.iter().zip(&stein) {
            assert!(
                (d.value - st.value).abs() <= d.stderr + st.stderr + 1e-13,
                "{d} vs {st}"
            );
            assert!(st.stderr < 1e-8, "{st}");
        }
    }
    // Monte Carlo through Stein, within 4 standard errors of the quadrature value.
    let mc = ExpectOptions {
        max_quadrature_dim: 0,
        samples: 100_000,
        seed: 4,
        ..smooth_opts()
    };
    let stein = expect_gradient(&s, &f, &mc).unwrap();
    for (d, st) in direct.iter().zip(&stein) {
        assert!(matches!(st.method, Method::MonteCarlo { .. }));
        assert!((d.value - st.value).abs() <= 4.0 * st.stderr, "{d} vs {st}");
    }
}

#[test]
fn stein_gradient_of_relu_is_the_probability_of_a_positive_argument() {
    // ∇ relu(u) = (step(u), 0): E = (1/2, 0) whatever the covariance.
    for s in [
        cov2(1.3, 0.5, 0.7),
        cov2(2.0, -0.95, 0.3),
        cov2(1.0, 0.0, 4.0),
    ] {
        let g = expect_gradient(&s, &|g| relu(g[0]), &kink_opts()).unwrap();
        assert!((g[0].value - 0.5).abs() <= g[0].stderr + 1e-13, "{}", g[0]);
        assert!(g[1].value.abs() <= g[1].stderr + 1e-13, "{}", g[1]);
        assert!(g[0].stderr < 1e-9);
        // Monte Carlo agrees within 4 standard errors.
        let mc = ExpectOptions {
            max_quadrature_dim: 0,
            samples: 40_000,
            seed: 11,
            ..kink_opts()
        };
        let g = expect_gradient(&s, &|g| relu(g[0]), &mc).unwrap();
        assert!((g[0].value - 0.5).abs() < 4.0 * g[0].stderr, "{}", g[0]);
        assert!(g[1].value.abs() < 4.0 * g[1].stderr, "{}", g[1]);
    }
    // ∇ relu(u)relu(v) = (step(u)relu(v), relu(u)step(v)), computed directly.
    let s = cov2(1.3, 0.4, 0.7);
    let stein = expect_gradient(&s, &|g| relu(g[0]) * relu(g[1]), &kink_opts()).unwrap();
    let direct = expect_vec(
        &s,
        &|g: &[f64], out: &mut [f64]| {
            out[0] = step(g[0]) * relu(g[1]);
            out[1] = relu(g[0]) * step(g[1]);
        },
        2,
        &kink_opts(),
    )
    .unwrap();
    for (d, st) in direct.iter().zip(&stein) {
        assert!(
            (d.value - st.value).abs() <= d.stderr + st.stderr + 1e-13,
            "{d} vs {st}"
        );
    }
}

#[test]
fn stein_on_a_singular_covariance_returns_the_projection_on_its_range() {
    // G₁ = G₂: only ∂₁F + ∂₂F is observable; for F = relu(G₁) it is E[step] = 1/2, split
    // equally: P_range (1/2, 0) = (1/4, 1/4).
    let s = array![[1.0, 1.0], [1.0, 1.0]];
    let g = expect_gradient(&s, &|g| relu(g[0]), &kink_opts()).unwrap();
    for c in &g {
        assert!((c.value - 0.25).abs() <= c.stderr + 1e-13, "{c}");
    }
    // A zero variance: that coordinate's gradient is unobservable and reported as 0.
    let s = array![[2.0, 0.0], [0.0, 0.0]];
    let g = expect_gradient(&s, &|g| relu(g[0]) + 5.0 * g[1], &kink_opts()).unwrap();
    assert!((g[0].value - 0.5).abs() <= g[0].stderr + 1e-13, "{}", g[0]);
    assert_eq!(g[1].value, 0.0);
}

// ---------------------------------------------------------------------------------
// Monte Carlo
// ---------------------------------------------------------------------------------

#[test]
fn monte_carlo_is_deterministic_per_seed() {
    let s = array![[1.0, 0.3, 0.1], [0.3, 2.0, -0.4], [0.1, -0.4, 0.5]];
    let f = |g: &[f64]| (g[0] * g[1]).tanh() + relu(g[2]);
    for antithetic in [false, true] {
        let opts = MonteCarloOptions {
            samples: 5000,
            seed: 42,
            antithetic,
        };
        let a = expect_mc_with(&s, &f, &opts).unwrap();
        let b = expect_mc_with(&s, &f, &opts).unwrap();
        assert_eq!(a.value.to_bits(), b.value.to_bits());
        assert_eq!(a.stderr.to_bits(), b.stderr.to_bits());
        let c = expect_mc_with(&s, &f, &MonteCarloOptions { seed: 43, ..opts }).unwrap();
        assert_ne!(a.value.to_bits(), c.value.to_bits());
    }
    let x = Gaussian::new(&s).unwrap().samples(10, 7);
    let y = Gaussian::new(&s).unwrap().samples(10, 7);
    assert_eq!(x, y);
}

#[test]
fn monte_carlo_standard_errors_are_calibrated_plain_and_antithetic() {
    // Over many independent runs, the spread of the estimates must match the reported
    // standard error. F mixes an even and an odd part, so the two draws of an antithetic
    // pair are correlated: treating them as independent would misstate the error.
    let s = array![[1.0, 0.5], [0.5, 2.0]];
    let f = |g: &[f64]| g[0] * g[0] + 0.7 * g[1] + relu(g[0] - g[1]);
    for antithetic in [false, true] {
        let runs = 300;
        let mut values = Vec::with_capacity(runs);
        let mut reported = 0.0;
        for seed in 0..runs as u64 {
            let opts = MonteCarloOptions {
                samples: 400,
                seed,
                antithetic,
            };
            let e = expect_mc_with(&s, &f, &opts).unwrap();
            values.push(e.value);
            reported += e.stderr * e.stderr;
        }
        let mean = values.iter().sum::<f64>() / runs as f64;
        let spread =
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (runs - 1) as f64).sqrt();
        let reported = (reported / runs as f64).sqrt();
        // The sample standard deviation of 300 runs is within ±15% of the truth with
        // probability > 99.9%.
        let ratio = spread / reported;
        assert!(
            (0.85..1.15).contains(&ratio),
            "antithetic={antithetic}: {ratio}"
        );
    }
}

// ---------------------------------------------------------------------------------
// The dispatcher
// ---------------------------------------------------------------------------------

#[test]
fn dispatcher_names_the_method_it_used() {
    let s2 = cov2(1.0, 0.3, 2.0);
    let smooth = expect(&s2, &|g| (g[0] * g[1]).tanh(), &smooth_opts()).unwrap();
    assert!(
        matches!(smooth.method, Method::Quadrature { .. }),
        "{smooth}"
    );
    let kinked = expect(&s2, &|g| relu(g[0] - g[1]), &kink_opts()).unwrap();
    assert!(matches!(kinked.method, Method::Polar { .. }), "{kinked}");
    // Rank 6 (> 3): Monte Carlo with the requested number of samples.
    let s6 = Array2::from_diag(&Array1::from(vec![1.0, 2.0, 0.5, 1.5, 1.0, 3.0]));
    let opts = ExpectOptions {
        samples: 20_000,
        ..smooth_opts()
    };
    let mc = expect(&s6, &|g| g.iter().map(|x| x.tanh().powi(2)).sum(), &opts).unwrap();
    assert_eq!(mc.method, Method::MonteCarlo { samples: 20_000 });
    // A rank-2 covariance in dimension 4 is integrated as rank 2.
    let l = array![[1.0, 0.0], [0.5, 1.0], [-0.3, 0.8], [0.0, 2.0]];
    let s4 = l.dot(&l.t());
    let e = expect(&s4, &|g| relu(g[1]) * relu(g[3]), &kink_opts()).unwrap();
    assert!(matches!(e.method, Method::Polar { .. }), "{e}");
    let exact = relu_kernel(s4[[1, 1]], s4[[1, 3]], s4[[3, 3]]);
    assert!(
        (e.value - exact).abs() <= e.stderr + 1e-14,
        "{e} vs {exact}"
    );
    // Rank 0: the point mass at 0, exactly.
    let z = Array2::<f64>::zeros((2, 2));
    let e = expect(&z, &|g| g[0].cos() + 3.0, &kink_opts()).unwrap();
    assert_eq!((e.value, e.stderr), (4.0, 0.0));
    // Forcing Monte Carlo.
    let mc_only = ExpectOptions {
        max_quadrature_dim: 0,
        ..kink_opts()
    };
    let e = expect(&s2, &|g| relu(g[0]), &mc_only).unwrap();
    assert!(matches!(e.method, Method::MonteCarlo { .. }));
    // Display strings.
    assert_eq!(Method::ClosedForm.to_string(), "closed form");
    assert_eq!(
        Method::Quadrature { nodes: 32 }.to_string(),
        "Gauss–Hermite quadrature (32 nodes per dimension)"
    );
    assert_eq!(
        Method::MonteCarlo { samples: 1000 }.to_string(),
        "Monte Carlo (1000 samples)"
    );
}

#[test]
fn kinked_rank_three_integrands_get_honest_errors() {
    // Rank 3: tensor quadrature (slow on kinks) or Monte Carlo, whichever reports the
    // smaller error; either way the reported error must cover the truth.
    let s = array![[1.0, 0.4, 0.3], [0.4, 2.0, -0.5], [0.3, -0.5, 1.5]];
    for (i, j) in [(0, 1), (1, 2), (0, 2)] {
        let opts = ExpectOptions {
            samples: 50_000,
            ..kink_opts()
        };
        let e = expect(&s, &|g| relu(g[i]) * relu(g[j]), &opts).unwrap();
        let exact = relu_kernel(s[[i, i]], s[[i, j]], s[[j, j]]);
        let sigmas = if matches!(e.method, Method::MonteCarlo { .. }) {
            4.0
        } else {
            1.0
        };
        assert!(
            (e.value - exact).abs() <= sigmas * e.stderr,
            "{e} vs {exact}"
        );
    }
}

#[test]
fn malformed_inputs_are_errors_not_panics() {
    let f = |g: &[f64]| g[0];
    let opts = ExpectOptions::default();
    let bad = [
        array![[1.0, 2.0], [2.0, 1.0]],           // indefinite
        array![[1.0, f64::NAN], [f64::NAN, 1.0]], // not finite
        array![[1.0, 0.5], [0.1, 1.0]],           // not symmetric
        array![[-1.0]],                           // negative variance
    ];
    for s in &bad {
        assert!(expect(s, &f, &opts).is_err(), "{s}");
        assert!(expect_mc(s, &f, 100, 0).is_err(), "{s}");
        assert!(expect_gradient(s, &f, &opts).is_err(), "{s}");
    }
    assert!(expect(&Array2::zeros((2, 3)), &f, &opts).is_err());
    // An integrand that blows up is reported, with the point.
    let err = expect(&array![[1.0]], &|g| g[0].sqrt(), &smooth_opts()).unwrap_err();
    assert!(
        matches!(err, GaussError::NonFiniteIntegrand { .. }),
        "{err}"
    );
    assert!(expect(&array![[1.0]], &|g| (g[0] - g[0]).ln(), &kink_opts()).is_err());
    // Unaffordable quadrature is an error, not a hang.
    let s3 = Array2::eye(3);
    assert!(matches!(
        expect_quadrature(&s3, &f, 128),
        Err(GaussError::TooManyEvaluations { .. })
    ));
    assert!(gauss_hermite(0).is_err());
}

// ---------------------------------------------------------------------------------
// NNGP and NTK recursions
// ---------------------------------------------------------------------------------

/// The two inputs of programs/tp_nngp.tp and a third, less aligned one.
fn nngp_inputs() -> Vec<Vec<f64>> {
    vec![
        vec![1.0, 0.0, 0.0],
        vec![0.6, 0.8, 0.0],
        vec![-0.5, 0.2, 1.1],
    ]
}

#[test]
fn depth_one_kernels_are_one_closed_form_step() {
    let xs = nngp_inputs();
    let gram = input_gram(&xs).unwrap();
    let (d, s2) = (3, 1.7);
    for act in [KernelActivation::Relu, KernelActivation::Erf] {
        let k1 = &gram * (s2 / d as f64);
        let f1 = nngp(act, &gram, d, 1, s2).unwrap();
        let theta = ntk(act, &gram, d, 1, s2).unwrap();
        for a in 0..3 {
            for b in 0..3 {
                let (k11, k12, k22) = (k1[[a, a]], k1[[a, b]], k1[[b, b]]);
                let (kern, dkern) = match act {
                    KernelActivation::Relu => {
                        (relu_kernel(k11, k12, k22), step_kernel(k11, k12, k22))
                    }
                    KernelActivation::Erf => (
                        erf_kernel(k11, k12, k22),
                        erf_derivative_kernel(k11, k12, k22),
                    ),
                };
                assert_eq!(f1[[a, b]], kern);
                // Θ² = K² + s2 Θ¹ Ḟ¹ with Θ¹ = K¹ and K² = s2 F¹.
                let want = s2 * kern + s2 * k12 * dkern;
                assert!((theta[[a, b]] - want).abs() < 1e-15, "{act:?}");
            }
        }
    }
}

#[test]
fn relu_with_weight_variance_two_preserves_the_diagonal() {
    // E[relu(u)²] = K/2, so with s2 = 2 every layer has K^l_aa = 2|ξ_a|²/d, the features
    // |ξ_a|²/d, and the NTK diagonal grows linearly: Θ^l_aa = l·K¹_aa.
    let xs = nngp_inputs();
    let gram = input_gram(&xs).unwrap();
    let d = 3;
    for depth in [1, 2, 5, 10] {
        let layers = ntk_layers(KernelActivation::Relu, &gram, d, depth, 2.0).unwrap();
        let nngp_l = nngp_layers(KernelActivation::Relu, &gram, d, depth, 2.0).unwrap();
        assert_eq!(layers.ntk.len(), depth + 1);
        assert_eq!(nngp_l.features.len(), depth);
        for a in 0..3 {
            let k1 = 2.0 * gram[[a, a]] / d as f64;
            for (l, k) in layers.nngp.iter().enumerate() {
                assert!((k[[a, a]] - k1).abs() < 1e-14, "layer {}", l + 1);
                assert!((layers.ntk[l][[a, a]] - (l + 1) as f64 * k1).abs() < 1e-13);
            }
            for f in &nngp_l.features {
                assert!((f[[a, a]] - gram[[a, a]] / d as f64).abs() < 1e-14);
            }
        }
        // Off the diagonal, correlations increase towards 1 with depth (the arc-cosine
        // map sends c < 1 to c' > c).
        let c = |k: &Array2<f64>| k[[0, 1]] / (k[[0, 0]] * k[[1, 1]]).sqrt();
        let first = &nngp_l.preactivations[0];
        let last = &nngp_l.preactivations[depth - 1];
        assert!(depth == 1 || c(last) > c(first));
    }
}

#[test]
fn erf_recursion_matches_layerwise_quadrature() {
    // Redo the NNGP/NTK recursion numerically: at each layer, integrate erf·erf and
    // erf'·erf' with Gauss–Hermite quadrature over the pair's 2 × 2 covariance.
    let xs = nngp_inputs();
    let gram = input_gram(&xs).unwrap();
    let (d, s2, depth) = (3, 1.5, 4);
    let p = xs.len();
    let mut k = &gram * (s2 / d as f64);
    let mut theta = k.clone();
    for _ in 0..depth {
        let mut next_k = Array2::zeros((p, p));
        let mut next_theta = Array2::zeros((p, p));
        for a in 0..p {
            for b in 0..p {
                let s = array![[k[[a, a]], k[[a, b]]], [k[[a, b]], k[[b, b]]]];
                let e = expect_vec(
                    &s,
                    &|g: &[f64], out: &mut [f64]| {
                        out[0] = erf_ref(g[0]) * erf_ref(g[1]);
                        out[1] = erf_prime(g[0]) * erf_prime(g[1]);
                    },
                    2,
                    &smooth_opts(),
                )
                .unwrap();
                next_k[[a, b]] = s2 * e[0].value;
                next_theta[[a, b]] = s2 * e[0].value + s2 * theta[[a, b]] * e[1].value;
            }
        }
        k = next_k;
        theta = next_theta;
    }
    let layers = ntk_layers(KernelActivation::Erf, &gram, d, depth, s2).unwrap();
    let got_k = &layers.nngp[depth];
    let got_theta = &layers.ntk[depth];
    for a in 0..p {
        for b in 0..p {
            assert!((got_k[[a, b]] - k[[a, b]]).abs() < 1e-10, "{got_k} vs {k}");
            assert!((got_theta[[a, b]] - theta[[a, b]]).abs() < 1e-10);
        }
    }
    let features = nngp(KernelActivation::Erf, &gram, d, depth, s2).unwrap();
    for a in 0..p {
        for b in 0..p {
            assert!((s2 * features[[a, b]] - got_k[[a, b]]).abs() < 1e-15);
        }
    }
}

/// One finite-width network in the NTK convention documented in `gauss::kernels`:
/// h¹ = √(s2/d) W¹ξ, h^{l+1} = √(s2/n) W^{l+1} x^l, f = √(s2/n) wᵀx^L, N(0, 1) entries.
/// Returns the empirical feature kernel (1/n) x^L_a·x^L_b and the empirical NTK
/// Σ_θ ∂f_a/∂θ ∂f_b/∂θ, from an explicit backward pass.
fn finite_network(
    act: fn(f64) -> f64,
    dact: fn(f64) -> f64,
    xs: &[Vec<f64>],
    n: usize,
    depth: usize,
    s2: f64,
    seed: u64,
) -> (Array2<f64>, Array2<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d = xs[0].len();
    let mut draw = |rows: usize, cols: usize| -> Array2<f64> {
        Array2::from_shape_simple_fn((rows, cols), || StandardNormal.sample(&mut rng))
    };
    let mut weights = vec![draw(n, d)];
    for _ in 1..depth {
        weights.push(draw(n, n));
    }
    let readout: Array1<f64> = draw(n, 1).column(0).to_owned();
    let fan_in = |l: usize| if l == 0 { d as f64 } else { n as f64 };
    let p = xs.len();
    // Per input: x^0..x^L and δ^1..δ^L (δ^l = ∂f/∂h^l).
    let mut xs_layers = Vec::with_capacity(p);
    let mut deltas = Vec::with_capacity(p);
    for xi in xs {
        let mut x = vec![Array1::from(xi.clone())];
        let mut h = Vec::new();
        for (l, w) in weights.iter().enumerate() {
            let pre = w.dot(&x[l]) * (s2 / fan_in(l)).sqrt();
            x.push(pre.mapv(act));
            h.push(pre);
        }
        let mut grad_x = &readout * (s2 / n as f64).sqrt();
        let mut delta = vec![Array1::zeros(n); depth];
        for l in (0..depth).rev() {
            delta[l] = &h[l].mapv(dact) * &grad_x;
            if l > 0 {
                grad_x = weights[l].t().dot(&delta[l]) * (s2 / n as f64).sqrt();
            }
        }
        xs_layers.push(x);
        deltas.push(delta);
    }
    let mut features = Array2::zeros((p, p));
    let mut theta = Array2::zeros((p, p));
    for a in 0..p {
        for b in 0..p {
            let top = xs_layers[a][depth].dot(&xs_layers[b][depth]);
            features[[a, b]] = top / n as f64;
            let mut t = s2 / n as f64 * top;
            for l in 0..depth {
                t += s2 / fan_in(l)
                    * deltas[a][l].dot(&deltas[b][l])
                    * xs_layers[a][l].dot(&xs_layers[b][l]);
            }
            theta[[a, b]] = t;
        }
    }
    (features, theta)
}

#[test]
fn nngp_and_ntk_match_finite_width_networks() {
    // The recursion's conventions (s2/d, s2/n, the readout step) are checked against
    // actual networks: the mean over seeds of the empirical kernels at width n is within
    // 4 standard errors (plus an O(1/n) bias allowance) of the limit.
    let xs = nngp_inputs();
    let gram = input_gram(&xs).unwrap();
    let (n, depth, seeds) = (256, 2, 10);
    let cases: [(KernelActivation, RealFn, RealFn, f64); 2] = [
        (KernelActivation::Relu, relu, step, 2.0),
        (KernelActivation::Erf, erf_ref, erf_prime, 1.5),
    ];
    for (act, phi, dphi, s2) in cases {
        let limit_f = nngp(act, &gram, 3, depth, s2).unwrap();
        let limit_t = ntk(act, &gram, 3, depth, s2).unwrap();
        let runs: Vec<_> = (0..seeds)
            .map(|seed| finite_network(phi, dphi, &xs, n, depth, s2, seed))
            .collect();
        for (which, limit) in [("nngp", &limit_f), ("ntk", &limit_t)] {
            for a in 0..3 {
                for b in a..3 {
                    let vals: Vec<f64> = runs
                        .iter()
                        .map(|r| {
                            if which == "nngp" {
                                r.0[[a, b]]
                            } else {
                                r.1[[a, b]]
                            }
                        })
                        .collect();
                    let mean = vals.iter().sum::<f64>() / seeds as f64;
                    let var =
                        vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (seeds - 1) as f64;
                    let se = (var / seeds as f64).sqrt();
                    let bias = 4.0 * limit[[a, a]].max(limit[[b, b]]) / n as f64;
                    assert!(
                        (mean - limit[[a, b]]).abs() <= 4.0 * se + bias,
                        "{act:?} {which} ({a},{b}): finite {mean} ± {se} vs limit {}",
                        limit[[a, b]]
                    );
                }
            }
        }
    }
}

#[test]
fn kernel_recursions_reject_bad_parameters() {
    let gram = input_gram(&nngp_inputs()).unwrap();
    let act = KernelActivation::Relu;
    assert!(nngp(act, &gram, 3, 0, 2.0).is_err());
    assert!(nngp(act, &gram, 0, 2, 2.0).is_err());
    assert!(ntk(act, &gram, 3, 2, -1.0).is_err());
    assert!(ntk(act, &gram, 3, 2, f64::NAN).is_err());
    assert!(nngp(act, &array![[1.0, 2.0], [2.0, 1.0]], 3, 2, 2.0).is_err());
    assert!(input_gram(&[vec![1.0, 2.0], vec![1.0]]).is_err());
}
