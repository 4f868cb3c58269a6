//! The population evaluator against the per-expectation engine, on every shipped
//! program: two algorithms that share no samples (one population carried through the
//! recursion; each expectation integrated on its own with fresh samples) must give
//! every scalar and every vector's second moment within their combined errors.

mod common;

use tp::limit::{derive, evaluate, evaluate_independent, EvalOptions, Evaluation, LimitProgram};

fn limit_program(name: &str, sets: &[&str]) -> LimitProgram {
    let program = common::shipped(name, sets);
    derive(&program, &tp::scale::refine(&program)).expect("derive")
}

/// Every entry valued by both engines agrees within `k` combined standard errors
/// (plus 1e-9 relative, for quadrature rounding); returns how many were compared and
/// how many of those came from the population.
fn agree(lp: &LimitProgram, a: &Evaluation, b: &Evaluation, k: f64) -> (usize, usize) {
    let mut compared = 0;
    let mut sampled = 0;
    for (i, entry) in lp.entries.iter().enumerate() {
        let (Some(x), Some(y)) = (&a.values[i], &b.values[i]) else {
            assert_eq!(
                a.values[i].is_some(),
                b.values[i].is_some() || b.errors[i].is_some(),
                "{}: one engine has a value, the other neither a value nor an error",
                entry.name
            );
            continue;
        };
        let tolerance = k * x.stderr.hypot(y.stderr) + 1e-9 * x.value.abs().max(1.0);
        assert!(
            (x.value - y.value).abs() <= tolerance,
            "{}: population {} ± {} ({}) vs per-expectation {} ± {} ({})",
            entry.name,
            x.value,
            x.stderr,
            x.method,
            y.value,
            y.stderr,
            y.method
        );
        compared += 1;
        if x.method.contains("population") {
            sampled += 1;
        }
    }
    (compared, sampled)
}

fn compare(name: &str, sets: &[&str]) {
    let lp = limit_program(name, sets);
    let population = evaluate(&lp, &EvalOptions::default());
    let independent = evaluate_independent(
        &lp,
        &EvalOptions {
            samples: 200_000,
            replicates: 8,
            seed: 11,
            ..EvalOptions::default()
        },
    );
    // Up to a few hundred entries per program: 4.5 standard errors keeps the chance of
    // a false alarm over all of them below a few percent.
    let (compared, _) = agree(&lp, &population, &independent, 4.5);
    assert!(compared > 0, "{name}: nothing compared");
}

#[test]
fn engines_agree_on_the_small_programs() {
    for name in [
        "tp_nngp.tp",
        "tp_ntk.tp",
        "tp_wwt.tp",
        "mlp_ntk.tp",
        "mlp_sp.tp",
    ] {
        compare(name, &[] as &[&str]);
    }
}

#[test]
#[ignore = "slow: the per-expectation engine on the feature-learning programs (~1 min)"]
fn engines_agree_on_every_shipped_program() {
    // Every file in programs/, so that a newly shipped program is compared too; the
    // symbolic one with the μP values of its symbols.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("programs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("programs/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tp"))
        // Depth programs (`resnet`), shaped and mean-field networks have no width limit
        // to compare.
        .filter(|n| {
            !matches!(
                tp::load_any(&dir.join(n), &[]),
                Ok(tp::Compiled::Depth(_) | tp::Compiled::Shaped(_) | tp::Compiled::MeanField(_))
            )
        })
        .collect();
    names.sort();
    assert!(names.len() >= 12, "{names:?}");
    for name in names {
        let sets: &[&str] = if name == "mlp_abc_symbolic.tp" {
            &["a1=-1/2", "a2=0", "a3=1/2", "b3=1/2", "c=0"]
        } else {
            &[]
        };
        compare(&name, sets);
    }
}

/// The same seed gives the same bits whatever the number of threads.
#[test]
fn population_is_deterministic_across_thread_counts() {
    let lp = limit_program("mlp_mup.tp", &[] as &[&str]);
    let opts = EvalOptions {
        samples: 1 << 16,
        replicates: 4,
        seed: 3,
        ..EvalOptions::default()
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| evaluate(&lp, &opts))
    };
    let (one, two) = (run(1), run(2));
    for (a, b) in one.values.iter().zip(&two.values) {
        assert_eq!(
            a.as_ref().map(|n| (n.value.to_bits(), n.stderr.to_bits())),
            b.as_ref().map(|n| (n.value.to_bits(), n.stderr.to_bits()))
        );
    }
}

/// E[f(Z)] for Z ~ N(0, var), by the trapezoid rule on ±10 standard deviations (for
/// the smooth, bounded integrands here it is exact to rounding).
fn gauss1(var: f64, f: impl Fn(f64) -> f64) -> f64 {
    let sd = var.sqrt();
    let m = 4000;
    let h = 20.0 / m as f64;
    (0..=m)
        .map(|i| {
            let u = -10.0 + i as f64 * h;
            let w = if i == 0 || i == m { 0.5 } else { 1.0 };
            w * f(sd * u) * (-0.5 * u * u).exp()
        })
        .sum::<f64>()
        * h
        / (2.0 * std::f64::consts::PI).sqrt()
}

/// The population's Stein regression for a Ż coefficient against the chain rule done by
/// hand. In `mlp_mup.tp` (χ_0 = −1, η·c = 0.75 for the input layer)
/// h1_1 = h1_0 + 0.75·tanh'(h1_0)·Ẑ with Ẑ = Ẑ^{W2ᵀ n·dh2_0} independent of h1_0, so
/// κ1 = E[∂Z^{x1_1}/∂Ẑ] = 0.75·E[tanh'(h1_1)·tanh'(h1_0)], with Var(h1_0) = |ξ|² = 1.5
/// and Var(Ẑ) = E[(n·dh2_0)²] from the backward recursion at initialization.
#[test]
fn population_zdot_matches_the_chain_rule() {
    let d = |x: f64| 1.0 - x.tanh().powi(2);
    let q1 = gauss1(1.5, |x| x.tanh().powi(2));
    let q2 = gauss1(q1, |x| x.tanh().powi(2));
    let dh3 = gauss1(q2, |x| d(x).powi(2));
    let dh2 = gauss1(q1, |x| d(x).powi(2)) * dh3;
    let kappa = gauss1(1.5, |h| {
        gauss1(dh2, |z| 0.75 * d(h + 0.75 * d(h) * z) * d(h))
    });
    let lp = limit_program("mlp_mup.tp", &[] as &[&str]);
    let ev = evaluate(
        &lp,
        &EvalOptions {
            monte_carlo_only: true,
            ..EvalOptions::default()
        },
    );
    let i = lp.entries.iter().position(|e| e.name == "κ1").expect("κ1");
    let got = ev.values[i].as_ref().expect("a value");
    assert!(got.method.contains("population"), "{}", got.method);
    assert!(got.stderr > 0.0 && got.stderr < 5e-3, "{got:?}");
    assert!(
        (got.value - kappa).abs() <= 4.0 * got.stderr,
        "κ1 = {} ± {} against the chain rule {kappa}",
        got.value,
        got.stderr
    );
}
