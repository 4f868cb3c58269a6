//! `--csv FILE` and `--json --per-seed` on every program family, from the command line.
//! The CSV is read back by a small RFC 4180 reader written here, and each test holds it
//! against a second output path of the same run: the per-seed records the JSON report
//! serializes itself, or the means over seeds the check reports. Row counts are derived
//! from the sweep's dimensions as the JSON states them, so a row lost or duplicated for
//! one (size, seed) shows.

mod common;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One CSV row, typed.
#[derive(Clone, Debug, PartialEq)]
struct Row {
    quantity: String,
    statistic: String,
    step: Option<u64>,
    size_name: String,
    size: u64,
    width: Option<u64>,
    seed: u64,
    value: Option<f64>,
}

/// The fields of one CSV record (quoted fields with doubled quotes, as RFC 4180).
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    out.push(field);
    out
}

/// An empty cell as `None`, else the parsed number.
fn opt<T: std::str::FromStr>(cell: &str) -> Option<T> {
    (!cell.is_empty()).then(|| {
        cell.parse()
            .unwrap_or_else(|_| panic!("not a number: {cell:?}"))
    })
}

/// Every row of a CSV file written by `tp`, after checking its header.
fn read_csv(path: &std::path::Path) -> Vec<Row> {
    let text = std::fs::read_to_string(path).expect("the CSV file was written");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("quantity,statistic,step,size_name,size,width,seed,value")
    );
    lines
        .map(|line| {
            let f = fields(line);
            assert_eq!(f.len(), 8, "{line}");
            Row {
                quantity: f[0].clone(),
                statistic: f[1].clone(),
                step: opt(&f[2]),
                size_name: f[3].clone(),
                size: opt(&f[4]).expect("a size"),
                width: opt(&f[5]),
                seed: opt(&f[6]).expect("a seed"),
                value: opt(&f[7]),
            }
        })
        .collect()
}

/// The `per_seed` array of a JSON report as rows.
fn json_rows(v: &Value) -> Vec<Row> {
    let rows = v["per_seed"].as_array().expect("a per_seed array");
    rows.iter()
        .map(|r| Row {
            quantity: r["quantity"].as_str().expect("quantity").into(),
            statistic: r["statistic"].as_str().expect("statistic").into(),
            step: r["step"].as_u64(),
            size_name: r["size_name"].as_str().expect("size_name").into(),
            size: r["size"].as_u64().expect("size"),
            width: r["width"].as_u64(),
            seed: r["seed"].as_u64().expect("seed"),
            value: r["value"].as_f64(),
        })
        .collect()
}

/// Runs `tp` with `--csv FILE --json --per-seed --quiet` added; returns the JSON report
/// and the CSV rows, after checking that the JSON's `per_seed` rows are the CSV's.
fn run(tag: &str, args: &[&str], codes: &[i32]) -> (Value, Vec<Row>) {
    let path = common::temp_path("per-seed", &format!("{tag}.csv"));
    let path_text = path.to_string_lossy().to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--csv", &path_text, "--json", "--per-seed", "--quiet"]);
    let out = common::tp(&all);
    let code = out.status.code().unwrap_or(-1);
    assert!(codes.contains(&code), "{code}: {}", common::stderr(&out));
    let v: Value = serde_json::from_str(&common::stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}", common::stderr(&out)));
    let rows = read_csv(&path);
    let from_json = json_rows(&v);
    assert_eq!(from_json.len(), rows.len(), "--per-seed and --csv disagree");
    for (a, b) in from_json.iter().zip(&rows) {
        let keys = |r: &Row| {
            (
                r.quantity.clone(),
                r.statistic.clone(),
                r.step,
                r.size_name.clone(),
                r.size,
                r.width,
                r.seed,
            )
        };
        assert_eq!(keys(a), keys(b), "--per-seed and --csv disagree");
        assert!(same(a.value, b.value), "{a:?} against {b:?}");
    }
    (v, rows)
}

/// Both absent, or equal up to serde_json's parsing, which may miss the closest `f64`
/// of a decimal by an ulp (the CSV's own round trip is exact).
fn same(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs()),
        _ => false,
    }
}

/// [`same`] as an assertion.
#[track_caller]
fn assert_same(a: Option<f64>, b: Option<f64>) {
    assert!(same(a, b), "{a:?} against {b:?}");
}

/// What names a series of rows: (quantity, statistic, step).
type Key = (String, String, Option<u64>);

/// The value of the one row matching (quantity, statistic, size, width, seed, step).
fn value(rows: &[Row], key: (&str, &str, u64, Option<u64>, u64, Option<u64>)) -> Option<f64> {
    let (quantity, statistic, size, width, seed, step) = key;
    let found: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.quantity == quantity
                && r.statistic == statistic
                && r.size == size
                && r.width == width
                && r.seed == seed
                && r.step == step
        })
        .collect();
    assert_eq!(found.len(), 1, "rows of {key:?}");
    found[0].value
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn len(v: &Value) -> u64 {
    v.as_array().map_or(0, |a| a.len() as u64)
}

/// The mean of a slice.
fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Equal up to the rounding of summing in another order.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

#[test]
fn per_seed_without_json_is_refused_for_every_family() {
    for (command, program) in [
        ("simulate", "programs/mlp_mup.tp"),
        ("simulate", "programs/resnet_sde.tp"),
        ("check", "programs/shaped_gelu.tp"),
        ("check", "programs/mf_toy_linear.tp"),
    ] {
        let out = common::tp(&[command, program, "--per-seed", "--quiet"]);
        assert_eq!(out.status.code(), Some(2), "{program}");
        assert!(common::stderr(&out).contains("--json"), "{program}");
    }
}

#[test]
fn crx_rows_are_the_records_of_the_json() {
    let (v, rows) = run(
        "crx",
        &[
            "simulate",
            "programs/resnet_sde.tp",
            "--depths",
            "16,32",
            "--seeds",
            "3",
        ],
        &[0],
    );
    let sweep = &v["sweep"];
    let records = sweep["records"].as_array().expect("records");
    assert_eq!(
        records.len() as u64,
        len(&sweep["depths"]) * len(&sweep["seeds"])
    );
    let dim = len(&records[0]["network"]["end"]);
    assert!(dim > 0);
    let trajectories: &[&str] = if sweep["scheme"].is_null() {
        &["network"]
    } else {
        &["network", "limit"]
    };
    // Per trajectory: the half and end states, displacement, first step, blow-up layer;
    // and the pathwise error of the pair.
    let per_record = trajectories.len() as u64 * (2 * dim + 3) + 1;
    assert_eq!(rows.len() as u64, records.len() as u64 * per_record);
    assert!(rows
        .iter()
        .all(|r| r.size_name == "depth" && r.width.is_none()));
    for r in records {
        let (depth, seed) = (u(&r["depth"]), u(&r["seed"]));
        let at =
            |q: &str, s: &str, step: Option<u64>| value(&rows, (q, s, depth, None, seed, step));
        assert_same(
            at("pathwise_error", "value", None),
            r["pathwise_error"].as_f64(),
        );
        for &t in trajectories {
            let json = &r[t];
            assert_same(
                at("displacement", t, Some(depth)),
                json["displacement"].as_f64(),
            );
            assert_same(at("first_step", t, Some(1)), json["first_step"].as_f64());
            for i in 0..dim as usize {
                let half = at(&format!("half[{i}]"), t, Some(u(&r["half_layer"])));
                assert_same(half, json["half"][i].as_f64());
                assert_same(
                    at(&format!("end[{i}]"), t, Some(depth)),
                    json["end"][i].as_f64(),
                );
            }
        }
    }
}

#[test]
fn hayou_rows_carry_the_width_and_the_coupling_errors_of_the_json() {
    let (v, rows) = run(
        "hayou",
        &[
            "simulate",
            "programs/resnet_hayou.tp",
            "--depths",
            "16,32",
            "--widths",
            "16,32",
            "--seeds",
            "2",
        ],
        &[0],
    );
    let sweep = &v["sweep"];
    assert_eq!(sweep["source"], "coupled");
    let records = sweep["records"].as_array().expect("records");
    assert_eq!(
        records.len() as u64,
        len(&sweep["widths"]) * len(&sweep["depths"]) * len(&sweep["seeds"])
    );
    let sketch = u64::from(!records[0]["network"]["end"]["v_sq"].is_null());
    // f0_sq; per trajectory (network, limit) and snapshot (half, end): f_sq, log_growth
    // and with the sketch v_sq, fv, then the blow-up layer; f_error and v_error.
    let per_record = 1 + 2 * (2 * (2 + 2 * sketch) + 1) + 1 + sketch;
    assert_eq!(rows.len() as u64, records.len() as u64 * per_record);
    for r in records {
        let (n, depth, seed) = (u(&r["width"]), u(&r["depth"]), u(&r["seed"]));
        let at =
            |q: &str, s: &str, step: Option<u64>| value(&rows, (q, s, depth, Some(n), seed, step));
        assert_same(at("f0_sq", "value", Some(0)), r["f0_sq"].as_f64());
        assert_same(at("f_error", "value", None), r["f_error"].as_f64());
        for t in ["network", "limit"] {
            let end = &r[t]["end"];
            assert_same(at("end.f_sq", t, Some(depth)), end["f_sq"].as_f64());
            assert_same(
                at("end.log_growth", t, Some(depth)),
                end["log_growth"].as_f64(),
            );
            let half = &r[t]["half"];
            assert_same(at("half.f_sq", t, Some(depth / 2)), half["f_sq"].as_f64());
        }
    }
}

#[test]
fn a_symbolic_depth_check_exports_every_point_it_checked() {
    let (v, rows) = run(
        "depth-check",
        &[
            "check",
            "programs/resnet_phase.tp",
            "--depths",
            "16,32",
            "--seeds",
            "2",
        ],
        &[0, 1],
    );
    let points = v["points"].as_array().expect("points");
    assert!(points.len() > 1);
    // Per point, every (quantity, statistic, step) has one row per (depth, seed).
    let mut cells: BTreeMap<Key, BTreeSet<(u64, u64)>> = BTreeMap::new();
    for r in &rows {
        let key = (r.quantity.clone(), r.statistic.clone(), r.step);
        assert!(
            cells.entry(key).or_default().insert((r.size, r.seed)),
            "{r:?}"
        );
    }
    let full: BTreeSet<(u64, u64)> = [16, 32]
        .into_iter()
        .flat_map(|l| [0, 1].map(|s| (l, s)))
        .collect();
    let mut prefixes = BTreeSet::new();
    for ((quantity, _, step), seen) in &cells {
        // The half state is read at L/2, the other numbers at fixed layers.
        let expected: BTreeSet<(u64, u64)> = match step {
            Some(k) if quantity.contains("half[") => {
                full.iter().filter(|(l, _)| l / 2 == *k).copied().collect()
            }
            Some(k) if quantity.contains("end[") || quantity.ends_with("displacement") => {
                full.iter().filter(|(l, _)| l == k).copied().collect()
            }
            _ => full.clone(),
        };
        assert_eq!(seen, &expected, "{quantity}");
        let (prefix, _) = quantity.split_once(": ").expect("a point prefix");
        prefixes.insert(prefix.to_string());
    }
    let named: BTreeSet<String> = points
        .iter()
        .map(|p| {
            let at = p["point"].as_object().expect("a point");
            let parts: Vec<String> = at
                .iter()
                .map(|(k, x)| format!("{k}={}", x.as_str().expect("a value")))
                .collect();
            parts.join(" ")
        })
        .collect();
    assert_eq!(prefixes, named);
}

#[test]
fn shaped_rows_are_the_chains_of_the_json() {
    let (v, rows) = run(
        "shaped",
        &[
            "simulate",
            "programs/shaped_relu.tp",
            "--widths",
            "8,16",
            "--seeds",
            "4",
        ],
        &[0],
    );
    let m = u(&v["m"]) as usize;
    let k = m * (m + 1) / 2;
    let stats = m.min(3) + m.min(3) * (m.min(3) - 1) / 2;
    let samples = u(&v["samples"]);
    let layers = v["layers"].as_array().expect("layers");
    let expected: u64 = layers
        .iter()
        .map(|l| samples * (len(l) * (k + stats) as u64 + 3))
        .sum();
    assert_eq!(rows.len() as u64, expected);
    let records = v["records"].as_array().expect("records");
    for (w, n) in v["widths"].as_array().expect("widths").iter().enumerate() {
        let n = u(n);
        for s in 0..samples {
            let rec = &records[w * samples as usize + s as usize];
            for (j, layer) in rec["layers"].as_array().expect("layers").iter().enumerate() {
                let layer = Some(u(layer));
                let phi11 = value(&rows, ("Phi^11", "value", n, None, s, layer));
                assert_same(phi11, rec["states"][j * k].as_f64());
                // The check's statistic is the log of that same entry.
                let log = value(&rows, ("log Phi^11", "value", n, None, s, layer));
                assert_eq!(log, phi11.map(f64::ln));
            }
            let stopped = value(&rows, ("stop", "layer", n, None, s, None));
            assert_same(stopped, rec["stop"]["layer"].as_f64());
        }
    }
}

#[test]
fn shaped_check_means_are_the_means_of_the_csv() {
    let (v, rows) = run(
        "shaped-check",
        &[
            "check",
            "programs/shaped_gelu.tp",
            "--widths",
            "8,16,32",
            "--seeds",
            "40",
        ],
        &[0, 1],
    );
    let point = &v["points"][0];
    for row in point["widths"].as_array().expect("widths") {
        let (n, d) = (u(&row["n"]), u(&row["d"]));
        for (i, stat) in point["stats"].as_array().expect("stats").iter().enumerate() {
            let name = stat.as_str().expect("a name").replace("_tau", "");
            // The check averages the networks that reached depth d.
            let xs: Vec<f64> = rows
                .iter()
                .filter(|r| r.quantity == name && r.size == n && r.step == Some(d))
                .filter_map(|r| r.value)
                .collect();
            let reported = row["means"][i][0].as_f64().expect("a mean");
            assert!(
                close(mean(&xs), reported),
                "{name} at n = {n}: {xs:?} vs {reported}"
            );
        }
        let hits: Vec<f64> = rows
            .iter()
            .filter(|r| r.quantity == "stop" && r.statistic == "blowup" && r.size == n)
            .filter_map(|r| r.value)
            .collect();
        assert_eq!(hits.len(), 40);
        let reported = row["hit"][0].as_f64().expect("a frequency");
        assert!(close(mean(&hits), reported), "n = {n}");
    }
}

#[test]
fn meanfield_rows_are_the_cells_of_the_json() {
    let (v, rows) = run(
        "meanfield",
        &[
            "simulate",
            "programs/mf_toy_linear.tp",
            "--particles",
            "16,32",
            "--seeds",
            "2",
        ],
        &[0],
    );
    let cells = v["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 4);
    let mut expected = 0;
    for c in cells {
        let (n, seed) = (u(&c["size"]), u(&c["seed"]));
        let at = |q: &str, s: &str, step: Option<u64>| value(&rows, (q, s, n, None, seed, step));
        for q in ["err_particle", "err_sgd", "w2_particle", "w2_sgd"] {
            assert_same(at(q, "value", None), c[q].as_f64());
        }
        expected += 4;
        for system in ["sgd", "particle", "reference"] {
            let json = &c[system];
            let times = json["times"].as_array().expect("times");
            let p = len(&json["mean"][0]);
            // time, risk, mean[i], spread[i] per record; mean_T[i], spread_T[i].
            expected += times.len() as u64 * (2 + 2 * p) + 2 * p;
            for (j, t) in times.iter().enumerate() {
                let step = Some(j as u64);
                assert_same(at("time", system, step), t.as_f64());
                assert_same(at("risk", system, step), json["risk"][j].as_f64());
                assert_same(at("mean[0]", system, step), json["mean"][j][0].as_f64());
                assert_same(at("spread[0]", system, step), json["spread"][j][0].as_f64());
            }
        }
    }
    assert_eq!(rows.len() as u64, expected);
    assert!(rows.iter().all(|r| r.size_name == "particles"));
}

#[test]
fn meanfield_check_means_are_the_means_of_the_csv() {
    let (v, rows) = run(
        "meanfield-check",
        &[
            "check",
            "programs/mf_toy_linear.tp",
            "--particles",
            "16,32,64,128",
            "--seeds",
            "4",
        ],
        &[0, 1],
    );
    let series = v["points"][0]["series"].as_array().expect("series");
    for (label, quantity) in [
        ("E sup_t |W^N - W^*|^2 (eq. 6)", "err_particle"),
        ("W2^2(particles at T, limit law) (eq. 6)", "w2_particle"),
    ] {
        let s = series
            .iter()
            .find(|s| s["quantity"] == label)
            .unwrap_or_else(|| panic!("no series {label}"));
        for point in s["points"].as_array().expect("points") {
            let n = u(&point[0]);
            let xs: Vec<f64> = rows
                .iter()
                .filter(|r| r.quantity == quantity && r.size == n)
                .filter_map(|r| r.value)
                .collect();
            assert_eq!(xs.len(), 4, "{quantity} at N = {n}");
            let reported = point[1].as_f64().expect("a mean");
            assert!(close(mean(&xs), reported), "{quantity} at N = {n}");
        }
    }
}

#[test]
fn the_width_check_exports_the_law_seeds_at_the_largest_width() {
    let (v, rows) = run(
        "width-check",
        &[
            "check",
            "programs/mlp_sp.tp",
            "--widths",
            "32,64",
            "--seeds",
            "2",
            "--law-seeds",
            "6",
            "--limit-samples",
            "1000",
        ],
        &[0, 1],
    );
    assert!(len(&v["laws"]) > 0, "the program has law verdicts");
    let seeds_at = |n: u64| -> BTreeSet<u64> {
        rows.iter()
            .filter(|r| r.size == n)
            .map(|r| r.seed)
            .collect()
    };
    assert_eq!(seeds_at(32), (0..2).collect());
    assert_eq!(seeds_at(64), (0..6).collect());
    // Every (quantity, statistic, step) has one row per (width, seed) run.
    let mut per_key: BTreeMap<Key, usize> = BTreeMap::new();
    for r in &rows {
        *per_key
            .entry((r.quantity.clone(), r.statistic.clone(), r.step))
            .or_default() += 1;
    }
    assert!(per_key.values().all(|&c| c == 2 + 6), "{per_key:?}");
}
