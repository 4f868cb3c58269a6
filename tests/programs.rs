//! Every shipped program elaborates, and its elaborated IR is pinned by a snapshot.
//!
//! Each snapshot was read by hand against the network equations of
//! Hajjar's thesis (2024: the network of §2.2.1, backprop of App. A.1, the unrolled
//! forward pass of App. A.2.1) before it was accepted; the numbers themselves are
//! checked independently by `backprop_and_sgd.rs`.

use std::path::Path;

fn show(name: &str, sets: &[&str]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("programs")
        .join(name);
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let overrides = tp::parse_overrides(&sets).expect("valid overrides");
    let program = tp::load(&path, &overrides).unwrap_or_else(|e| panic!("{name}: {e}"));
    tp::ir::render_program(&program)
}

macro_rules! snapshot_program {
    ($test:ident, $file:expr) => {
        #[test]
        fn $test() {
            insta::assert_snapshot!(show($file, &[]));
        }
    };
}

snapshot_program!(mlp_mup, "mlp_mup.tp");
snapshot_program!(mlp_sp, "mlp_sp.tp");
snapshot_program!(mlp_ntk, "mlp_ntk.tp");
snapshot_program!(mlp_mf, "mlp_mf.tp");
snapshot_program!(mlp_ip, "mlp_ip.tp");
snapshot_program!(mlp_ip_llr, "mlp_ip_llr.tp");
snapshot_program!(mlp_ip_bias, "mlp_ip_bias.tp");
snapshot_program!(mlp_ip_noncentered, "mlp_ip_noncentered.tp");
snapshot_program!(mlp_abc_symbolic, "mlp_abc_symbolic.tp");
snapshot_program!(tp_wwt, "tp_wwt.tp");
snapshot_program!(tp_nngp, "tp_nngp.tp");
snapshot_program!(tp_ntk, "tp_ntk.tp");

#[test]
fn every_shipped_program_is_snapshotted() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("programs");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("programs/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tp"))
        // Depth programs (`resnet`), shaped networks and mean-field networks have no
        // Tensor Program to snapshot; their IR is checked by tests/depth_language.rs,
        // tests/shaped_language.rs and tests/meanfield_language.rs. A program that fails to compile stays in
        // the list, so it is still caught here.
        .filter(|n| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("programs")
                .join(n);
            !matches!(
                tp::load_any(&path, &[]),
                Ok(tp::Compiled::Depth(_) | tp::Compiled::Shaped(_) | tp::Compiled::MeanField(_))
            )
        })
        .collect();
    names.sort();
    let covered = [
        "mlp_abc_symbolic.tp",
        "mlp_ip.tp",
        "mlp_ip_bias.tp",
        "mlp_ip_llr.tp",
        "mlp_ip_noncentered.tp",
        "mlp_mf.tp",
        "mlp_mup.tp",
        "mlp_ntk.tp",
        "mlp_sp.tp",
        "tp_nngp.tp",
        "tp_ntk.tp",
        "tp_wwt.tp",
    ];
    assert_eq!(names, covered, "a new program needs a snapshot test above");
}

#[test]
fn set_overrides_depth_and_activation() {
    let text = show("mlp_mup.tp", &["L=4", "act=relu"]);
    // Four hidden layers: h4 exists, h5 does not; three middle matrices W2..W4.
    assert!(text.contains("vector h4_3 ="), "{text}");
    assert!(!text.contains("h5_0"));
    assert!(text.contains("matrix W4 "));
    assert!(text.contains("relu(h1_0)") && !text.contains("tanh("));
    // relu' is a step function; backprop uses it.
    assert!(text.contains("relu'(h4_0)"));
}

#[test]
fn nngp_depth_follows_set() {
    for depth in 1..=5 {
        let text = show("tp_nngp.tp", &[&format!("L={depth}")]);
        let last = format!("scalar K_ab = mean(x{depth}_a * x{depth}_b)");
        assert!(text.contains(&last), "L={depth}: {text}");
        assert_eq!(text.matches("matrix W").count(), depth - 1);
    }
}

#[test]
fn every_program_elaborates_at_several_depths() {
    for name in [
        "mlp_mup.tp",
        "mlp_sp.tp",
        "mlp_ntk.tp",
        "mlp_ip.tp",
        "mlp_ip_llr.tp",
        "mlp_ip_bias.tp",
        "mlp_ip_noncentered.tp",
        "mlp_abc_symbolic.tp",
    ] {
        for depth in [1, 2, 5] {
            let text = show(name, &[&format!("L={depth}")]);
            assert!(text.contains(&format!("h{depth}_0")), "{name} L={depth}");
            assert!(
                !text.contains(&format!("h{}_0", depth + 1)),
                "{name} L={depth}"
            );
        }
    }
}
