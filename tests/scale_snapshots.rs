//! `tp scale` output of every shipped numeric program, pinned. Each snapshot was read
//! against the theory before acceptance: μP/mf feature learning with f_0 = Θ(n^{-1/2});
//! NTK and SP(c = 1) kernel regime with Δh = Θ(n^{-1/2}); SP(c = 0) blowing up at h2_1;
//! Naive-IP trivial; IP-LLR, IP-bias Θ(1) after the first step (reference §4.9); the raw
//! programs Θ(1) throughout.

use std::path::Path;

mod common;

fn scale_text(name: &str, sets: &[&str]) -> String {
    tp::scale::analyze(&common::shipped(name, sets))
        .expect("numeric analysis")
        .render(true)
}

macro_rules! scale_snapshot {
    ($test:ident, $file:expr) => {
        #[test]
        fn $test() {
            insta::assert_snapshot!(scale_text($file, &[]));
        }
    };
}

scale_snapshot!(scale_mlp_mup, "mlp_mup.tp");
scale_snapshot!(scale_mlp_sp, "mlp_sp.tp");
scale_snapshot!(scale_mlp_ntk, "mlp_ntk.tp");
scale_snapshot!(scale_mlp_mf, "mlp_mf.tp");
scale_snapshot!(scale_mlp_ip, "mlp_ip.tp");
scale_snapshot!(scale_mlp_ip_llr, "mlp_ip_llr.tp");
scale_snapshot!(scale_mlp_ip_bias, "mlp_ip_bias.tp");
scale_snapshot!(scale_mlp_ip_noncentered, "mlp_ip_noncentered.tp");
scale_snapshot!(scale_tp_wwt, "tp_wwt.tp");
scale_snapshot!(scale_tp_nngp, "tp_nngp.tp");
scale_snapshot!(scale_tp_ntk, "tp_ntk.tp");

#[test]
fn scale_json_follows_the_schema() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("programs/mlp_ntk.tp");
    let program = tp::load(&path, &[]).expect("program");
    let json = tp::scale::analyze(&program)
        .expect("numeric analysis")
        .to_json();
    assert_eq!(json["regime"]["stable"], true);
    assert_eq!(json["regime"]["nontrivial"], true);
    assert_eq!(json["regime"]["feature_learning"], false);
    assert!(json["regime"]["summary"].is_string());
    assert!(json["regime"]["conditions"].is_array());
    let qs = json["quantities"].as_array().expect("quantities");
    let h = qs.iter().find(|q| q["name"] == "h2_1").expect("h2_1");
    assert_eq!(h["step"], 1);
    assert_eq!(h["exponent"], "0");
    assert_eq!(h["delta_exponent"], "-1/2");
    let f0 = qs.iter().find(|q| q["name"] == "f_0").expect("f_0");
    assert!(f0["delta_exponent"].is_null());
}
