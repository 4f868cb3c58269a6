//! The order of a quantity whose leading Θ(1) limit is exactly 0 (issue: `tp scale`
//! called `mean(Ŵz·Ŵᵀz)` Θ(1) and `tp check` failed its own derivation).
//!
//! Oracles: the Tensor Program rules (Ŵ and Ŵᵀ give independent Gaussian families in the
//! limit, so E[Ẑ^{Wz} Ẑ^{Wᵀz}] = 0), Gaussian identities (E[‖Ŵz‖²/n] = E[z²]; Stein's
//! lemma E[z φ(z)] = E[φ'(z)]), the central limit theorem (what is left of a mean whose
//! expectation cancels is a fluctuation of relative size n^{-1/2}), and the finite-width
//! simulation itself (`tp check` must PASS the corrected derivation and FAIL the old one).

use tp::scale::{analyze, ScaleReport};

mod common;

/// The program, and the other ways a Θ(1) limit can be exactly 0.
const VANISHING: &str = "\
width n
matrix W ~ gaussian(1/n)
vector z ~ gaussian(1)
activation act = tanh
vector g = W^T z
vector h = W g
scalar prod = mean(W z * W^T z)
scalar dd = mean((W z) * (W z)) - mean(z * z)
scalar stein = mean(z * act(z)) - mean(act'(z))
scalar ww = mean(h * z) - mean(z * z)
scalar same = mean(z * z) - mean(z * z)
scalar sub = mean(z * z) - mean(z * z) + n^(-1/4) * mean(z * z)
scalar tiny = 0.000000000001 * mean(z * z)
scalar near = mean(z * z) - 0.999999 * mean(z * z)
scalar up = n^(1/2) * stein
";

fn compiled(text: &str) -> tp::ir::Program {
    tp::compile("vanishing.tp", text, &[]).expect("program compiles")
}

fn exponent(r: &ScaleReport, name: &str) -> String {
    common::quantity(r, name).exponent.to_string()
}

fn trace<'a>(r: &'a ScaleReport, name: &str) -> &'a str {
    &common::quantity(r, name).trace
}

#[test]
fn a_vanishing_leading_limit_leaves_the_central_limit_fluctuation() {
    let r = analyze(&compiled(VANISHING)).expect("numeric");
    // Independent Ŵ/Ŵᵀ families, cancelling equal limits, Stein's lemma, Ż = z: each
    // leading limit is 0 and what is left is the n^{-1/2} fluctuation of the means.
    for name in ["prod", "dd", "stein", "ww"] {
        assert_eq!(exponent(&r, name), "-1/2", "{name}: {}", trace(&r, name));
        assert!(
            trace(&r, name).contains("limit is exactly 0")
                && trace(&r, name).contains("fluctuation"),
            "{name}: {}",
            trace(&r, name)
        );
    }
    // The same computation twice cancels at every width: nothing is left.
    assert_eq!(exponent(&r, "same"), "-inf");
    // When lower-order terms are larger than the fluctuation, they are what is left.
    assert_eq!(exponent(&r, "sub"), "-1/4");
    // A small limit is not a zero: it is compared with the size of its terms.
    assert_eq!(exponent(&r, "tiny"), "0");
    assert_eq!(exponent(&r, "near"), "0");
    // Downstream quantities use the corrected order: n^{1/2}·stein is Θ(1), not n^{1/2}.
    assert_eq!(exponent(&r, "up"), "0");
    assert!(r.regime.stable, "{}", r.regime.summary);
}

#[test]
fn the_limit_says_why_and_what_is_left() {
    let program = compiled(VANISHING);
    let report = tp::limit::limit(&program, &tp::limit::EvalOptions::default()).expect("limit");
    let scalar = |name: &str| {
        report
            .scalars
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no scalar {name}"))
            .clone()
    };
    // The zero of prod comes from the independence of the two limit families (at finite
    // width the integrand is even under W → −W): the reason names the family.
    let prod = scalar("prod");
    assert!(
        prod.method.contains("Ẑ^{W·}") && prod.method.contains("random in the limit"),
        "{}",
        prod.method
    );
    // n^{1/4}·sub → E[z²] = 1: the dropped term is what is left, and it is deterministic.
    let sub = scalar("sub");
    let normalized = sub.normalized.expect("a deterministic next order");
    assert!((normalized.value - 1.0).abs() < 1e-12, "{normalized:?}");
    // tiny and near keep their (small) limits.
    assert!((scalar("tiny").value.expect("value") - 1e-12).abs() < 1e-20);
    assert!((scalar("near").value.expect("value") - 1e-6).abs() < 1e-12);
    // n^{1/2}·stein is a rescaled fluctuation: random, not divergent.
    assert!(
        scalar("up").method.contains("random in the limit"),
        "{}",
        scalar("up").method
    );
}

#[test]
fn the_simulation_confirms_the_corrected_orders() {
    let path = common::temp_path("vanishing", "vanishing.tp");
    std::fs::write(&path, VANISHING).expect("write program");
    let path = path.to_string_lossy().to_string();
    let out = common::tp(&["check", &path, "--quiet", "--seeds", "12"]);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", common::stderr(&out));
    for row in [
        "prod          -1/2",
        "dd            -1/2",
        "same          -inf",
    ] {
        assert!(text.contains(row), "missing `{row}` in\n{text}");
    }
}

/// A 2-hidden-layer ReLU net in SP with c = 1 (kernel regime): when h moves by
/// Θ(n^{-1/2}), relu'(h) flips on a fraction n^{-1/2} of the coordinates, so its change
/// has root mean square n^{-1/4} (not Θ(1)), and the backward changes are n^{-1/2-1/4}.
#[test]
fn a_jump_function_changes_by_the_square_root_of_the_flipped_fraction() {
    let text = "\
program \"2-hidden-layer ReLU SP c=1\"
width n
param L = 2, eta = 0.5
activation act = relu
input xi0 = [1.0, 0.5, -0.5] target 1.0
mlp net(depth = L, act = act, bias = none)
parameterization sp(c = 1)
train sgd(steps = 3, lr = eta, loss = mse, data = [xi0])
";
    let r = analyze(&compiled(text)).expect("numeric");
    let delta = |name: &str| {
        common::quantity(&r, name)
            .delta
            .as_ref()
            .unwrap_or_else(|| panic!("no change of {name}"))
            .to_string()
    };
    // Δh² = Θ(n^{-1/2}) (kernel regime), dx² = Θ(n^{-1/2}): Δdh² = n^{-1/2}·n^{-1/4}.
    assert_eq!(delta("h2_1"), "-1/2");
    for t in 1..=2 {
        for name in ["dh2", "dx1", "dh1"] {
            assert_eq!(delta(&format!("{name}_{t}")), "-3/4", "{name}_{t}");
        }
    }
    // ReLU itself is Lipschitz: its change keeps the size of its argument's change.
    assert_eq!(delta("x2_1"), "-1/2");
    let path = common::temp_path("jump", "sp_relu.tp");
    std::fs::write(&path, text).expect("write program");
    let out = common::tp(&["check", &path.to_string_lossy(), "--quiet"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        common::stdout(&out) + &common::stderr(&out)
    );
}
