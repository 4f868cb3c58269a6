//! `tp scale`, `tp limit` and `tp check` on the shipped depth programs from the command
//! line, at sizes small enough for the default test run: the correct derivations PASS
//! and each of the three deliberately wrong ones (no Itô correction, α off by 1/4, the
//! Zheng report's SDE) FAILs. Every run is seeded, so the outcomes are reproducible; the
//! rates over seeds at the default sizes are measured by `examples/depth_rates.rs`.

mod common;
use common::{stderr, stdout, tp};

/// Runs `tp` and returns (exit code, stdout), printing both on a failed assertion.
fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = tp(args);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    (out.status.code(), text)
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = tp(args);
    serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)))
}

#[test]
fn the_ode_programs_pass_at_their_default_sizes_and_alpha_off_by_a_quarter_fails() {
    for program in ["programs/resnet_ode.tp", "programs/resnet_linear_ode.tp"] {
        let (code, text) = run(&["check", program]);
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains("PASS rate"), "{text}");
        // δ = L^-(α+1/4) makes one layer's step and the whole displacement L^-1/4 too
        // small: both exponent verdicts must see it.
        let (code, text) = run(&["check", program, "--mutation", "alpha-plus-quarter"]);
        assert_eq!(code, Some(1), "{text}");
        assert!(
            text.lines()
                .any(|l| l.contains("FAIL exponent") && l.contains("one layer")),
            "{text}"
        );
    }
}

/// Four depths and sixteen seeds: the pathwise rate of the SDE (L^-1/2) is still
/// resolved to ±0.1, and without the Itô correction the coupled error stops shrinking.
const SDE_SMALL: [&str; 4] = ["--depths", "16,64,256,1024", "--seeds", "16"];

#[test]
fn the_sde_passes_and_the_sde_without_the_ito_correction_fails() {
    let mut args = vec!["check", "programs/resnet_sde.tp"];
    args.extend(SDE_SMALL);
    let (code, text) = run(&args);
    assert_eq!(code, Some(0), "{text}");
    // The program's title says "SDE" too: the derived regime is its own line.
    assert!(text.lines().any(|l| l.trim() == "regime SDE"), "{text}");

    args.extend(["--mutation", "no-ito"]);
    let (code, text) = run(&args);
    assert_eq!(code, Some(1), "{text}");
    let rate = text
        .lines()
        .find(|l| l.contains("rate") && l.contains("synchronous coupling"))
        .unwrap_or_else(|| panic!("no pathwise verdict: {text}"));
    assert!(rate.trim_start().starts_with("FAIL"), "{rate}");
}

#[test]
fn the_phase_diagram_program_is_checked_at_one_point_per_regime() {
    let v = json(&[
        "check",
        "programs/resnet_phase.tp",
        "--json",
        "--depths",
        "16,64,256,1024",
        "--seeds",
        "16",
    ]);
    assert_eq!(v["schema"], "tp-depth-check/1");
    assert_eq!(v["pass"], true, "{v:#}");
    let regimes: Vec<&str> = v["points"]
        .as_array()
        .map(|ps| ps.iter().filter_map(|p| p["regime"].as_str()).collect())
        .unwrap_or_default();
    for r in [
        "neural ODE",
        "linear ODE",
        "SDE",
        "SDE without trend",
        "explosion",
    ] {
        assert!(regimes.contains(&r), "{r} not checked: {regimes:?}");
    }
    assert!(
        regimes.iter().any(|r| r.starts_with("trivial")),
        "{regimes:?}"
    );
    // Each point's verdicts must include the one-layer exponent: the explosion point is
    // judged by it, since its state collapses to a fixed point instead of growing.
    for p in v["points"].as_array().into_iter().flatten() {
        let quantities: Vec<&str> = p["verdicts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["quantity"].as_str())
            .collect();
        assert!(
            quantities.iter().any(|q| q.contains("one layer")),
            "{}: {quantities:?}",
            p["regime"]
        );
    }
}

#[test]
fn the_hayou_programs_pass_and_the_zheng_report_sde_fails() {
    for program in ["programs/resnet_hayou.tp", "programs/resnet_type2.tp"] {
        // The default sizes (widths 32–128, depths 16–256, 32 seeds) take a few
        // seconds; with fewer widths or seeds the n^-1/2 rates are undetermined.
        let (code, text) = run(&["check", program]);
        assert_eq!(code, Some(0), "{program}: {text}");
    }
    // The report's SDE for the sketch vector predicts ⟨f, v⟩/n → 1 − 1/e instead of 0.
    let (code, text) = run(&[
        "check",
        "programs/resnet_hayou.tp",
        "--mutation",
        "zheng-report-sde",
    ]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("FAIL") && l.contains("⟨f_L, v_L⟩/n")),
        "{text}"
    );
}

#[test]
fn a_mutation_that_changes_nothing_or_does_not_exist_is_refused() {
    let (code, text) = run(&["check", "programs/resnet_ode.tp", "--mutation", "no-ito"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("changes nothing"), "{text}");
    let (code, text) = run(&["check", "programs/resnet_ode.tp", "--mutation", "nope"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("alpha-plus-quarter"), "{text}");
}

#[test]
fn scale_reports_the_regime_and_exponents_of_the_sde_program() {
    let v = json(&["scale", "programs/resnet_sde.tp", "--json"]);
    assert_eq!(v["schema"], "tp-depth-scale/1");
    // One layer moves h by the Brownian part s ΔW x ~ L^-1/2; the trend's L^-1 is smaller.
    assert_eq!(v["regime"]["step"], "-1/2", "{v:#}");
    assert_eq!(v["regime"]["error_rate"], "-1/2", "{v:#}");
    // Cont–Rossier–Xu Thm 3: at α = 0, β = 1 the trend, the Brownian part and the Itô
    // correction are all of order L^0.
    assert_eq!(v["regime"]["id"], "sde", "{v:#}");
    assert_eq!(
        v["regime"]["kept"],
        serde_json::json!(["linear", "noise", "ito"]),
        "{v:#}"
    );
    let (code, text) = run(&["scale", "programs/resnet_sde.tp"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("regime: SDE (kept at order L^0: linear trend"),
        "{text}"
    );
    assert!(text.contains("Itô correction"), "{text}");
    assert!(text.contains("Θ(L^-1/2)"), "{text}");
}

#[test]
fn limit_prints_the_ito_corrected_sde_in_text_and_latex() {
    let (code, text) = run(&["limit", "programs/resnet_sde.tp"]);
    assert_eq!(code, Some(0), "{text}");
    // σ''(0) = 1, s = s_b = 1/2: the Itô drift is ½(s²|H|² + s_b²) in every coordinate.
    assert!(
        text.contains("0.5·(s²|H_t|² + s_b²)·1"),
        "no Itô drift: {text}"
    );
    assert!(text.contains("s dB^A_t H_t"), "{text}");
    let v = json(&["limit", "programs/resnet_sde.tp", "--json"]);
    assert_eq!(v["schema"], "tp-depth-limit/1");
    let latex = v.to_string();
    assert!(
        latex.contains("\\\\left[")
            && latex.contains("dB^A_t")
            && latex.contains("0.5\\\\,(s^2 \\\\lVert H_t \\\\rVert^2 + s_b^2)"),
        "no LaTeX: {latex}"
    );
}
