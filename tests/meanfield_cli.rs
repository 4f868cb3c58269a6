//! `tp check` on mean-field programs end to end, at the default sizes (a few seconds in
//! release): the derivation PASSes, and each deliberately wrong derivation FAILs on the
//! verdict that tests what it changed.

mod common;

fn check(args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    let out = common::tp(&all);
    (
        out.status.code(),
        common::stdout(&out) + &common::stderr(&out),
    )
}

#[test]
fn toy_passes_and_its_mutations_fail_on_their_verdicts() {
    let (code, text) = check(&["programs/mf_toy_linear.tp"]);
    assert_eq!(code, Some(0), "{text}");
    // The closed forms are among the verdicts that passed.
    assert!(text.contains("PASS toy: particle mean at T"), "{text}");
    let (code, text) = check(&["programs/mf_toy_linear.tp", "--mutation", "stationary-sign"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("FAIL stationary law"), "{text}");
    let (code, text) = check(&[
        "programs/mf_toy_linear.tp",
        "--mutation",
        "independent-noise",
    ]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("FAIL Var_seeds(mean_k"), "{text}");
    // At beta = 1 a rate exponent off by 1/4 (N^-5/4 for N^-1) is told apart too.
    let (code, text) = check(&["programs/mf_toy_linear.tp", "--mutation", "rate-quarter"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("FAIL E sup_t |W^N - W^*|^2"), "{text}");
}

/// The final first coordinate of literal SGD per (N, seed) from `tp simulate --json
/// --identical-init`, and the largest within-run spread.
fn identical_runs(program: &str, particles: &str, seeds: &str) -> (Vec<(u64, f64)>, f64) {
    let out = common::tp(&[
        "simulate",
        program,
        "--identical-init",
        "--particles",
        particles,
        "--seeds",
        seeds,
        "--quiet",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let json: serde_json::Value =
        serde_json::from_str(&common::stdout(&out)).expect("simulate --json is JSON");
    let mut finals = Vec::new();
    let mut spread: f64 = 0.0;
    for c in json["cells"].as_array().expect("cells") {
        let last = |key: &str| c["sgd"][key].as_array().and_then(|v| v.last()).cloned();
        let mean = last("mean")
            .and_then(|m| m[0].as_f64())
            .expect("a path mean");
        let var = last("spread")
            .and_then(|m| m[0].as_f64())
            .expect("a path spread");
        finals.push((c["size"].as_u64().expect("a size"), mean));
        spread = spread.max(var);
    }
    (finals, spread)
}

/// The values at N = n.
fn at(finals: &[(u64, f64)], n: u64) -> Vec<f64> {
    finals.iter().filter(|f| f.0 == n).map(|f| f.1).collect()
}

/// The sample variance.
fn variance(xs: &[f64]) -> f64 {
    let m = xs.iter().sum::<f64>() / xs.len() as f64;
    xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() as f64 - 1.0)
}

/// De Bortoli et al.'s Fig. 2 protocol: every particle starts at one point. Literal SGD
/// then keeps the particles equal within a run (one shared sample per step); at beta = 1
/// the run does not depend on N at all (the step is gamma, the network one particle),
/// while at beta = 1/2 the step gamma N^(-1/2) makes the runs collapse onto the ODE: the
/// variance across runs of W_T falls like the noise per unit time, N^(-1/2), so by 8
/// from N = 64 to 4096 (asserted: by more than 2, which 16 runs per size miss by chance
/// with probability about 0.5%).
#[test]
fn identical_init_runs_collapse_below_beta_one_and_spread_at_beta_one() {
    let (finals, spread) = identical_runs("programs/mf_toy_linear.tp", "64,1024", "8");
    assert!(spread < 1e-20, "within-run spread {spread}");
    for (a, b) in at(&finals, 64).iter().zip(at(&finals, 1024)) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }
    assert!(
        variance(&at(&finals, 64)) > 1e-4,
        "the beta = 1 runs differ"
    );
    let (finals, spread) = identical_runs("programs/mf_teacher_beta_half.tp", "64,4096", "16");
    assert!(spread < 1e-20, "within-run spread {spread}");
    let ratio = variance(&at(&finals, 64)) / variance(&at(&finals, 4096));
    assert!(ratio > 2.0, "variance ratio {ratio}");
    // Other families refuse the flag.
    let out = common::tp(&["simulate", "programs/mlp_mup.tp", "--identical-init"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
}

#[test]
fn decay_passes_and_a_rate_off_by_a_quarter_fails() {
    let (code, text) = check(&["programs/mf_decay.tp"]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = check(&["programs/mf_decay.tp", "--mutation", "rate-quarter"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("FAIL E sup_t |W^N - W^*|^2"), "{text}");
    // Prop. 5 needs alpha = 0 and beta = 1: a mutation that changes nothing is refused.
    let (code, text) = check(&["programs/mf_decay.tp", "--mutation", "stationary-sign"]);
    assert_eq!(code, Some(2), "{text}");
}
