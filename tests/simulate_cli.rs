//! `tp simulate` from the command line: text and JSON reports, plots, exit statuses.

use std::path::{Path, PathBuf};

mod common;
use common::{stderr, stdout, tp};

fn temp_path(name: &str) -> PathBuf {
    common::temp_path("simulate-cli", name)
}

#[test]
fn json_report_follows_the_schema() {
    let out = tp(&[
        "simulate",
        "programs/mlp_mup.tp",
        "--widths",
        "16,32,64",
        "--seeds",
        "3",
        "--seed",
        "10",
        "--json",
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(v["schema"], "tp-simulate/1");
    assert_eq!(v["widths"], serde_json::json!([16, 32, 64]));
    assert_eq!(v["seeds"], serde_json::json!([10, 11, 12]));
    assert_eq!(v["confidence"], 0.95);
    assert_eq!(v["blowups"], serde_json::json!([]));
    let quantities = v["quantities"].as_array().expect("quantities");
    let find = |name: &str| {
        quantities
            .iter()
            .find(|q| q["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    let h = find("h2_1");
    assert_eq!(h["family"], "h2");
    assert_eq!(h["step"], 1);
    assert_eq!(h["layer"], 2);
    assert_eq!(h["role"], "forward");
    assert_eq!(h["kind"], "vector");
    let rms = h["rms"].as_array().expect("rms");
    assert_eq!(rms.len(), 3);
    assert_eq!(rms[0][0], 16);
    assert!(rms[0][1].as_f64().expect("mean") > 0.0);
    assert!(rms[0][2].as_f64().expect("stderr") > 0.0);
    assert_eq!(h["samples"], serde_json::json!([3, 3, 3]));
    assert!(h["value"].is_null());
    assert!(h["slope"].is_f64());
    let ci = h["ci"].as_array().expect("ci");
    assert!(ci[0].as_f64() <= h["slope"].as_f64() && h["slope"].as_f64() <= ci[1].as_f64());
    assert_eq!(h["fit"]["status"], "fitted");
    assert_eq!(h["fit"]["method"], "seeds");
    assert_eq!(h["fit"]["seeds_used"], 3);
    assert!(h["delta_rms"].is_array());
    assert!(h["delta_slope"].is_f64());
    assert_eq!(h["delta_fit"]["status"], "fitted");
    let f = find("f_0");
    assert_eq!(f["kind"], "scalar");
    assert!(f["value"].is_array());
    assert_eq!(f["fit"]["method"], "jackknife");
    assert!(f["delta_rms"].is_null() && f["delta_fit"].is_null());
    // No auxiliary instruction is reported.
    assert!(quantities.iter().all(|q| q["role"] != "auxiliary"));
}

#[test]
fn text_report_has_a_table_per_step() {
    let out = tp(&[
        "simulate",
        "programs/mlp_mup.tp",
        "--widths",
        "16,32",
        "--seeds",
        "2",
        "--threads",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "step 0",
        "step 3",
        "n=16",
        "n=32",
        "h1_0",
        "Δh1_1",
        "blow-ups: none",
    ] {
        assert!(text.contains(needle), "missing {needle}:\n{text}");
    }
    // Not a terminal: no progress bar on stderr.
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn plot_is_written_as_svg() {
    let path = temp_path("mup.svg");
    let path_text = path.display().to_string();
    let out = tp(&[
        "simulate",
        "programs/mlp_mup.tp",
        "--widths",
        "16,32,64",
        "--seeds",
        "2",
        "--plot",
        &path_text,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let svg = std::fs::read_to_string(&path).expect("plot written");
    assert!(svg.starts_with("<svg") || svg.contains("<svg"), "not SVG");
    for needle in ["step 0", "step 3: change since step 0", "dh1", "width n"] {
        assert!(svg.contains(needle), "missing {needle}");
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn bad_input_exits_2_with_a_message() {
    let cases: [(&[&str], &str); 6] = [
        (&["simulate", "programs/mlp_abc_symbolic.tp"], "--set"),
        (
            &["simulate", "programs/mlp_mup.tp", "--widths", "1000000"],
            "smaller widths",
        ),
        (
            &["simulate", "programs/mlp_mup.tp", "--widths", "0,8"],
            "at least 1",
        ),
        (&["simulate", "no/such/file.tp"], "cannot read"),
        (
            &["simulate", "programs/mlp_mup.tp", "--set", "L"],
            "NAME=VALUE",
        ),
        (
            &[
                "simulate",
                "programs/mlp_mup.tp",
                "--widths",
                "8",
                "--plot",
                "/no/such/dir/x.svg",
            ],
            "cannot write the plot",
        ),
    ];
    for (args, needle) in cases {
        let out = tp(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    // Arguments clap rejects (no seeds, no threads, not a number) also exit 2.
    for args in [
        &["simulate", "programs/mlp_mup.tp", "--seeds", "0"][..],
        &["simulate", "programs/mlp_mup.tp", "--threads", "0"][..],
        &["simulate", "programs/mlp_mup.tp", "--widths", "abc"][..],
    ] {
        assert_eq!(tp(args).status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn help_documents_the_options() {
    let out = tp(&["simulate", "--help"]);
    let text = stdout(&out);
    for needle in [
        "--widths",
        "--seeds",
        "--seed",
        "--threads",
        "--set",
        "--json",
        "--quiet",
        "--plot",
        "tp-simulate/1",
    ] {
        assert!(text.contains(needle), "missing {needle}");
    }
    assert!(Path::new(env!("CARGO_BIN_EXE_tp")).exists());
}
