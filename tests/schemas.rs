//! The JSON schemas written down in the README's *Output formats* section against real
//! outputs: every documented `tp-…/1` object, of every family and the sweep file, has
//! exactly the top-level keys the README lists, and every output names its schema.
//! A field added to an output without the README (or the other way round) fails here.

mod common;

use std::collections::{BTreeMap, BTreeSet};

/// The README's schema lines: `tp-name/1: {"key", "key": …, …}` in a code block, an entry
/// continuing on the following indented lines.
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let section = readme
        .split("## Output formats")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("an Output formats section");
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in section.lines() {
        let trimmed = line.trim_start();
        let is_head = trimmed.starts_with("tp-")
            && trimmed
                .split_once(':')
                .is_some_and(|(name, _)| name.contains('/') && !name.contains(' '));
        if is_head {
            let (name, rest) = trimmed.split_once(':').expect("a head line has a colon");
            entries.push((name.to_string(), rest.to_string()));
        } else if line.starts_with("```") {
            entries.push((String::new(), String::new()));
        } else if let Some(last) = entries.last_mut() {
            if !last.0.is_empty() && line.starts_with(' ') {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        }
    }
    entries
        .into_iter()
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, body)| (name, top_level_keys(&body)))
        .collect()
}

/// The quoted names at depth 1 of the first `{…}` that follow `{` or `,` (keys, not
/// values such as `"crx" | "hayou"`).
fn top_level_keys(body: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let mut depth = 0usize;
    let mut previous = ' ';
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            '"' => {
                let mut word = String::new();
                for d in chars.by_ref() {
                    if d == '"' {
                        break;
                    }
                    word.push(d);
                }
                if depth == 1 && (previous == '{' || previous == ',') {
                    keys.insert(word);
                }
                previous = '"';
                continue;
            }
            _ => {}
        }
        if !c.is_whitespace() {
            previous = c;
        }
    }
    keys
}

/// The schema name and top-level keys of `tp ARGS --json`.
fn output(args: &[&str]) -> (String, BTreeSet<String>) {
    let mut all = args.to_vec();
    all.push("--json");
    let out = common::tp(&all);
    let text = common::stdout(&out);
    let json: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("tp {args:?}: not JSON ({e}): {}", common::stderr(&out)));
    let object = json.as_object().expect("a JSON object");
    let schema = object
        .get("schema")
        .and_then(|s| s.as_str())
        .unwrap_or_else(|| panic!("tp {args:?}: no schema"))
        .to_string();
    (schema, object.keys().cloned().collect())
}

/// Runs `tp ARGS --output FILE --quiet` (a check may FAIL) and returns the sweep file.
fn sweep_file(name: &str, args: &[&str]) -> serde_json::Value {
    let file = common::temp_path("schemas", name);
    let path = file.to_str().expect("utf-8 path");
    let mut all = args.to_vec();
    all.extend(["--output", path, "--quiet"]);
    let out = common::tp(&all);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        common::stderr(&out)
    );
    serde_json::from_str(&std::fs::read_to_string(&file).expect("sweep file")).expect("JSON")
}

/// The keys of a JSON object.
fn keys_of(value: &serde_json::Value) -> BTreeSet<String> {
    value
        .as_object()
        .expect("a JSON object")
        .keys()
        .cloned()
        .collect()
}

/// The keys the README lists in the object that follows `field` in the entry `entry`.
fn documented_inner(entry: &str, field: &str) -> BTreeSet<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let body = readme
        .split(entry)
        .nth(1)
        .and_then(|e| e.split(field).nth(1))
        .unwrap_or_else(|| panic!("no {field} in the README's {entry}"));
    top_level_keys(body.trim_start_matches(|c: char| c != '{'))
}

#[test]
fn the_parser_reads_keys_and_skips_values() {
    let keys =
        top_level_keys(r#"{"schema", "family": "crx" | "hayou", "sizes": {"depth"}, "b" | null}"#);
    let expected: BTreeSet<String> = ["schema", "family", "sizes", "b"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(keys, expected);
}

#[test]
fn every_documented_family_schema_matches_a_real_output() {
    let docs = documented();
    let runs: [&[&str]; 20] = [
        &["show", "programs/mlp_mup.tp"],
        &["scale", "programs/mlp_mup.tp"],
        &["limit", "programs/mlp_mup.tp", "--samples", "20000"],
        &[
            "simulate",
            "programs/mlp_mup.tp",
            "--widths",
            "16,32",
            "--seeds",
            "2",
            "--quiet",
        ],
        &[
            "check",
            "programs/mlp_mup.tp",
            "--widths",
            "16,32",
            "--seeds",
            "2",
            "--limit-samples",
            "20000",
            "--quiet",
        ],
        &["show", "programs/resnet_ode.tp"],
        &["scale", "programs/resnet_ode.tp"],
        &["limit", "programs/resnet_ode.tp"],
        &[
            "simulate",
            "programs/resnet_ode.tp",
            "--depths",
            "16,32",
            "--seeds",
            "2",
            "--quiet",
        ],
        &[
            "check",
            "programs/resnet_ode.tp",
            "--depths",
            "16,32,64,128",
            "--seeds",
            "4",
        ],
        &["show", "programs/shaped_relu.tp"],
        &["scale", "programs/shaped_relu.tp"],
        &["limit", "programs/shaped_relu.tp"],
        &[
            "simulate",
            "programs/shaped_relu.tp",
            "--widths",
            "16,32",
            "--seeds",
            "20",
            "--quiet",
        ],
        &[
            "check",
            "programs/shaped_relu.tp",
            "--widths",
            "16,32,64,128",
            "--seeds",
            "50",
        ],
        &["show", "programs/mf_toy_linear.tp"],
        &["scale", "programs/mf_toy_linear.tp"],
        &["limit", "programs/mf_toy_linear.tp"],
        &[
            "simulate",
            "programs/mf_toy_linear.tp",
            "--particles",
            "16,32",
            "--seeds",
            "2",
            "--quiet",
        ],
        &[
            "check",
            "programs/mf_toy_linear.tp",
            "--particles",
            "16,32,64,128",
            "--seeds",
            "4",
        ],
    ];
    let mut seen = BTreeSet::new();
    for args in runs {
        let (schema, keys) = output(args);
        let listed = docs
            .get(&schema)
            .unwrap_or_else(|| panic!("`{schema}` (tp {args:?}) is not in the README"));
        assert_eq!(&keys, listed, "{schema}: real keys against the README's");
        seen.insert(schema);
    }
    // The sweep files of `tp simulate --output` and `tp check --output`.
    let width = sweep_file(
        "sweep.json",
        &[
            "simulate",
            "programs/mlp_mup.tp",
            "--widths",
            "16,32",
            "--seeds",
            "2",
        ],
    );
    let mean_field = sweep_file(
        "mf_sweep.json",
        &[
            "check",
            "programs/mf_toy_linear.tp",
            "--particles",
            "16,32,64,128",
            "--seeds",
            "4",
        ],
    );
    for json in [&width, &mean_field] {
        let schema = json["schema"].as_str().expect("schema").to_string();
        assert_eq!(Some(&keys_of(json)), docs.get(&schema), "{schema}");
        seen.insert(schema);
    }
    // A mean-field sweep's point has the keys the README lists inside `"points": [{…}]`.
    assert_eq!(
        keys_of(&mean_field["points"][0]),
        documented_inner("tp-mf-sweep/1:", "\"points\": [")
    );
    // Every schema the README lists was produced by a run above.
    let listed: BTreeSet<String> = docs.keys().cloned().collect();
    assert_eq!(listed, seen);
}

#[test]
fn per_seed_adds_exactly_the_rows_of_the_csv() {
    let csv = common::temp_path("schemas", "per_seed.csv");
    let csv_path = csv.to_str().expect("utf-8 path");
    let args = [
        "simulate",
        "programs/mlp_mup.tp",
        "--widths",
        "16,32",
        "--seeds",
        "2",
        "--quiet",
    ];
    let (_, plain) = output(&args);
    let mut with = args.to_vec();
    with.extend(["--per-seed", "--csv", csv_path]);
    let (_, keys) = output(&with);
    let added: Vec<&String> = keys.difference(&plain).collect();
    assert_eq!(added, ["per_seed"]);
    let mut all = with.clone();
    all.push("--json");
    let json: serde_json::Value =
        serde_json::from_str(&common::stdout(&common::tp(&all))).expect("JSON");
    let rows = json["per_seed"].as_array().expect("per_seed rows");
    let text = std::fs::read_to_string(&csv).expect("csv");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len() + 1, lines.len());
    // Row by row, the JSON object has the CSV's cells (an empty cell is null).
    let header: Vec<&str> = lines[0].split(',').collect();
    for (row, line) in rows.iter().zip(&lines[1..]) {
        for (key, cell) in header.iter().zip(line.split(',')) {
            let value = &row[*key];
            let as_text = match value {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            // Numbers are compared as doubles: JSON and CSV may spell them differently.
            match (as_text.parse::<f64>(), cell.parse::<f64>()) {
                (Ok(a), Ok(b)) => assert_eq!(a.to_bits(), b.to_bits(), "{key} in {line}"),
                _ => assert_eq!(as_text, cell, "{key} in {line}"),
            }
        }
    }
}

/// The README's example CSV row is a row tp writes: width 64, seed 0 of `mlp_mup.tp`
/// (draws are keyed by seed and width, so the other widths of the default sweep do not
/// change it).
#[test]
fn the_readme_csv_example_is_a_real_row() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let example = readme
        .lines()
        .skip_while(|l| *l != tp::report::csv::HEADER)
        .nth(1)
        .expect("an example row under the README's CSV header");
    let csv = common::temp_path("schemas", "example.csv");
    let csv_path = csv.to_str().expect("utf-8 path");
    let out = common::tp(&[
        "simulate",
        "programs/mlp_mup.tp",
        "--widths",
        "64",
        "--seeds",
        "1",
        "--csv",
        csv_path,
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = std::fs::read_to_string(&csv).expect("csv");
    assert!(
        text.lines().any(|l| l == example),
        "`{example}` is not a row tp writes"
    );
}
