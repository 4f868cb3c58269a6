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
