//! The Z-recursions `tp limit` derives, pinned for every shipped program, as text and as
//! LaTeX. Each snapshot was read against the Tensor Program rules before acceptance (see
//! the notes next to each program below); values are not pinned here (tests/limit.rs
//! checks them against closed forms and simulations).

mod common;

fn derived(name: &str, sets: &[&str]) -> tp::limit::LimitProgram {
    let program = common::shipped(name, sets);
    let inference = tp::scale::Inference::run(&program).expect("numeric scale analysis");
    tp::limit::derive(&program, &inference).expect("limit program")
}

fn both(name: &str, sets: &[&str]) -> String {
    let lp = derived(name, sets);
    let mut out = tp::limit::render::equations(&lp).join("\n");
    out.push_str("\n\n# LaTeX\n");
    out.push_str(&tp::limit::render::latex(&lp).join("\n"));
    out
}

macro_rules! limit_snapshot {
    ($test:ident, $file:expr) => {
        limit_snapshot!($test, $file, &[]);
    };
    ($test:ident, $file:expr, $sets:expr) => {
        #[test]
        fn $test() {
            insta::assert_snapshot!(both($file, $sets));
        }
    };
}

// Ż^{Wg} = Z^z (Yang 2020).
limit_snapshot!(limit_tp_wwt, "tp_wwt.tp");
// Pure Ẑ's, no Ż: the NNGP recursion.
limit_snapshot!(limit_tp_nngp, "tp_nngp.tp");
// Backward through Wᵀ: the Ż of Wᵀg vanishes by symmetry (g is odd in v).
limit_snapshot!(limit_tp_ntk, "tp_ntk.tp");
// μP: Θ(1) Ẑ/Ż recursions at every step; f_0 a vanishing fluctuation.
limit_snapshot!(limit_mlp_mup, "mlp_mup.tp", &["L=2"]);
// mf (two layers) = μP with L = 1.
limit_snapshot!(limit_mlp_mf, "mlp_mf.tp");
// NTK: f_0 is a Θ(1) fluctuation, so the trajectory is random in the limit.
limit_snapshot!(limit_mlp_ntk, "mlp_ntk.tp", &["L=2"]);
// SP with a constant learning rate: tanh of a growing argument at step 1.
limit_snapshot!(limit_mlp_sp, "mlp_sp.tp", &["L=2"]);
// Naive-IP: f vanishes at every step, χ̊ = −y (thesis App. A.4).
limit_snapshot!(limit_mlp_ip, "mlp_ip.tp");
// IP-LLR: the initial weights' terms drop out after step 0 (thesis Cor. A.8.7.1).
limit_snapshot!(limit_mlp_ip_llr, "mlp_ip_llr.tp");
// IP-bias: the Θ(1) random output bias makes the trajectory random in the limit.
limit_snapshot!(limit_mlp_ip_bias, "mlp_ip_bias.tp");
// IP-non-centered.
limit_snapshot!(limit_mlp_ip_noncentered, "mlp_ip_noncentered.tp");
// The symbolic abc program at the μP point.
limit_snapshot!(
    limit_mlp_abc_symbolic_at_mup,
    "mlp_abc_symbolic.tp",
    &["a1=-1/2", "a2=0", "a3=1/2", "b3=1/2", "c=0", "L=2"]
);

#[test]
fn symbolic_exponents_are_refused_with_a_hint() {
    // A one-line symbolic program: the full symbolic MLP would only be slower.
    let text =
        "program \"t\"\nwidth n\nparam c symbolic\nvector z ~ gaussian(1)\nvector h = n^c * z\n";
    let program = tp::compile("t.tp", text, &[]).expect("program");
    let inference = tp::scale::Inference::run(&program).expect("analysis");
    let err = tp::limit::derive(&program, &inference).expect_err("symbolic");
    let msg = err.to_string();
    assert!(msg.contains("--set"), "{msg}");
}
