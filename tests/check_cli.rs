//! `tp check` from the command line: text and JSON reports, the plot, exit statuses.

use std::path::PathBuf;

mod common;
use common::{stderr, stdout, tp};

fn temp_path(name: &str) -> PathBuf {
    common::temp_path("check-cli", name)
}

// Five widths and ten seeds: with fewer, the slope interval of the random output f_0
// (a Θ(n^{-1/2}) fluctuation) is wider than 1 and the verdict is "undetermined".
const SMALL: [&str; 5] = [
    "--widths",
    "64,128,256,512,1024",
    "--seeds",
    "10",
    "--quiet",
];

#[test]
fn a_passing_check_exits_0_and_says_so() {
    let mut args = vec!["check", "programs/mlp_mup.tp"];
    args.extend(SMALL);
    let out = tp(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("derived regime: feature learning"), "{text}");
    // The CLI evaluates the limits (tp limit) and tests the Θ(1) scalars against them.
    assert!(!text.contains("limits: not evaluated"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("f_1 → ") && l.ends_with("PASS")),
        "{text}"
    );
    assert!(text.contains("step 3"), "{text}");
    assert!(text.contains("Δx3_1"), "{text}");
    let summary = text
        .lines()
        .find(|l| l.starts_with("summary:"))
        .expect("summary");
    assert!(
        summary.ends_with("→ PASS") && summary.contains(" 0 FAIL"),
        "{summary}"
    );
}

#[test]
fn json_follows_the_schema() {
    let args = [
        "check",
        "programs/mlp_sp.tp",
        "--json",
        "--widths",
        "64,128,256,512,1024",
        "--seeds",
        "8",
        "--quiet",
    ];
    let out = tp(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(v["schema"], "tp-check/1");
    assert_eq!(v["pass"], true);
    assert_eq!(v["failures"], 0);
    assert_eq!(v["widths"], serde_json::json!([64, 128, 256, 512, 1024]));
    // SP's outputs are random or diverge in the limit: limits are evaluated, but none is
    // a deterministic Θ(1) number to test finite widths against.
    assert_eq!(v["limits_evaluated"], true);
    assert_eq!(v["limits"], serde_json::json!([]));
    assert_eq!(v["first_blowup"]["name"], "h2_1");
    assert_eq!(v["first_blowup"]["exponent"], "1/2");
    let verdicts = v["verdicts"].as_array().expect("verdicts");
    for verdict in verdicts {
        assert!(verdict["name"].is_string());
        assert!(verdict["step"].is_u64());
        assert!(verdict["predicted"].is_string());
        assert!(verdict["pass"].is_boolean());
        assert!(["size", "change"].contains(&verdict["measure"].as_str().unwrap_or("")));
        if verdict["slope"].is_number() {
            let ci = verdict["ci"].as_array().expect("ci with a slope");
            let (lo, hi) = (ci[0].as_f64().expect("lo"), ci[1].as_f64().expect("hi"));
            assert!(lo <= verdict["slope"].as_f64().expect("slope") && lo <= hi);
        }
    }
    let h = verdicts
        .iter()
        .find(|x| x["name"] == "h2_1" && x["measure"] == "size")
        .expect("h2_1");
    assert_eq!(h["predicted"], "1/2");
    assert_eq!(h["rule"], "exponent");
    assert!(h["slope"].as_f64().expect("slope") > 0.2);
    assert!(!v["unchecked"].as_array().expect("unchecked").is_empty());
}

#[test]
fn a_failing_check_exits_1() {
    // IP-LLR's finite-width corrections are large (its output halves between n = 64 and
    // n = 256): at widths 16…64 the measured slopes are far from the derived ones.
    let out = tp(&[
        "check",
        "programs/mlp_ip_llr.tp",
        "--widths",
        "16,32,64",
        "--seeds",
        "4",
        "--json",
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(v["pass"], false);
    assert!(v["failures"].as_u64().expect("count") > 0);
    let failed = v["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .filter(|x| x["pass"] == false)
        .count();
    assert_eq!(failed as u64, v["failures"].as_u64().expect("count"));
}

#[test]
fn bad_input_exits_2() {
    let out = tp(&["check", "programs/mlp_abc_symbolic.tp", "--quiet"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("symbolic parameters"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
    let out = tp(&["check", "programs/no_such_file.tp"]);
    assert_eq!(out.status.code(), Some(2));
    let out = tp(&["check", "programs/mlp_mup.tp", "--tolerance", "-1"]);
    assert_eq!(out.status.code(), Some(2));
    let out = tp(&["check", "programs/mlp_mup.tp", "--seeds", "1"]);
    assert_eq!(out.status.code(), Some(2), "one seed gives no interval");
}

#[test]
fn the_plot_shows_measured_and_derived_slopes() {
    let path = temp_path("mup.svg");
    let path_text = path.display().to_string();
    let mut args = vec!["check", "programs/mlp_mup.tp", "--plot", &path_text];
    args.extend(SMALL);
    let out = tp(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let svg = std::fs::read_to_string(&path).expect("plot written");
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "an SVG document"
    );
    for caption in ["step 0", "step 3", "change since step 0", "derived slopes"] {
        assert!(svg.contains(caption), "missing {caption}");
    }
    assert!(
        svg.contains("derived slope (dashed)"),
        "no legend for the derived slopes"
    );
    let _ = std::fs::remove_file(&path);
}

/// `--no-limits` skips the limit stage: nothing is judged against a limit, and the
/// Θ(1) scalars that were (f_1) fall back to their exponent verdicts.
#[test]
fn no_limits_skips_the_limit_stage() {
    let mut args = vec!["check", "programs/mlp_mup.tp", "--no-limits"];
    args.extend(SMALL);
    let out = tp(&args);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("limits: not evaluated"), "{text}");
    assert!(!text.contains("f_1 → "), "{text}");
}

/// `--limit-samples` sets the population of the limit stage; a bad value is refused.
#[test]
fn limit_samples_is_passed_to_the_limit_stage() {
    let mut args = vec!["check", "programs/mlp_mup.tp", "--limit-samples", "65536"];
    args.extend(SMALL);
    let out = tp(&args);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("(16 × 4096 samples)"), "{text}");
    let bad = tp(&["check", "programs/mlp_mup.tp", "--limit-samples", "0"]);
    assert_eq!(bad.status.code(), Some(2));
}
