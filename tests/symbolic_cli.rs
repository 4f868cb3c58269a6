//! The command line on programs with symbols, and the schema names of every JSON
//! document: what `--help` and the README promise is what the binary does.

mod common;

use common::{stderr, stdout, temp_path, tp};

/// Standard parameterization with a symbolic learning-rate exponent c (η n^-c): by
/// Yang–Hu it is stable exactly for c ≥ 1. The step-1 changes are Δh1 = n^(-1/2-c),
/// Δh2 = Δh3 = n^(1/2-c) and Δf = n^(1-c), so the first quantity to blow up is h1_1
/// for c < −1/2, h2_1 for −1/2 ≤ c < 1/2 and f_1 for 1/2 ≤ c < 1.
const SP_SYMBOLIC: &str = "program \"SP with a symbolic learning rate\"\nwidth n\n\
    param L = 3, eta = 0.5\nparam c symbolic\nactivation act = tanh\n\
    input xi0 = [1.0, 0.5, -0.5] target 1.0\nmlp net(depth = L, act = act, bias = none)\n\
    parameterization sp(c = c)\ntrain sgd(steps = 3, lr = eta, loss = mse, data = [xi0])\n";

fn sp_symbolic_file() -> String {
    let path = temp_path("symbolic-cli", "sp_symbolic.tp");
    std::fs::write(&path, SP_SYMBOLIC).expect("write the program");
    path.display().to_string()
}

/// `tp limit` refuses a program with free symbols with exit status 2 and a `--set`
/// hint, as its `--help` says; it used to print a table of "no limit derived" and
/// exit 0.
#[test]
fn limit_refuses_a_program_with_free_symbols() {
    let file = sp_symbolic_file();
    let out = tp(&["limit", &file]);
    assert_eq!(out.status.code(), Some(2), "stdout: {}", stdout(&out));
    assert!(stdout(&out).is_empty(), "stdout: {}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("symbolic parameters (c)"), "{err}");
    assert!(err.contains("--set c=VALUE"), "{err}");
    // With the symbol set, the same program has a limit.
    let out = tp(&["limit", &file, "--set", "c=1"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let help = stdout(&tp(&["limit", "--help"]));
    assert!(help.contains("free symbols"), "{help}");
}

/// The header of a symbolic `tp scale` states conditions, not booleans that only mean
/// "not for every value", and its boundaries are exact.
#[test]
fn scale_of_a_symbolic_program_prints_conditions() {
    let file = sp_symbolic_file();
    let out = tp(&["scale", &file]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let header: Vec<&str> = text.lines().take_while(|l| !l.is_empty()).collect();
    for line in &header {
        assert!(!line.contains(": false"), "a false boolean in {line:?}");
    }
    for want in [
        "stable ⟺ 1 <= c",
        "first blow-up is h1_1 (step 1) ⟺ c + 1/2 < 0",
        "first blow-up is h2_1 (step 1) ⟺ 0 <= c + 1/2 and c < 1/2",
        "first blow-up is f_1 (step 1) ⟺ 1/2 <= c and c < 1",
    ] {
        assert!(
            header.iter().any(|l| l.trim() == want),
            "no {want:?} in\n{text}"
        );
    }
    let out = tp(&["scale", &file, "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let regime = &json["regime"];
    assert!(regime["stable"].is_null(), "stability depends on c");
    // Where stable (c ≥ 1) the features never move by Θ(1) (that needs c ≤ 1/2).
    assert_eq!(regime["feature_learning"], false);
    let stable = &regime["stable_condition"];
    assert_eq!(stable["condition"], "1 <= c");
    assert_eq!(
        stable["regions"],
        serde_json::json!([[{"coeffs": {"c": "1"}, "constant": "-1", "relation": ">="}]])
    );
    let f1 = &regime["first_blowups"][2];
    assert_eq!(f1["name"], "f_1");
    assert_eq!(
        f1["regions"],
        serde_json::json!([[
            {"coeffs": {"c": "1"}, "constant": "-1/2", "relation": ">="},
            {"coeffs": {"c": "-1"}, "constant": "1", "relation": ">"}
        ]])
    );
}

/// `tp show --json` and `tp scale --json` name their schema like the other commands.
#[test]
fn show_and_scale_json_name_their_schema() {
    for (command, schema) in [("show", "tp-show/1"), ("scale", "tp-scale/1")] {
        let out = tp(&[command, "programs/mlp_ntk.tp", "--json"]);
        assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(json["schema"], schema, "tp {command} --json");
        let help = stdout(&tp(&[command, "--help"]));
        assert!(
            help.contains(schema),
            "tp {command} --help does not name {schema}"
        );
    }
}
