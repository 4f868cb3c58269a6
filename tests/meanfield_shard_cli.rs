//! Sharded mean-field sweeps from the command line: `tp simulate|check --shard K/M
//! --output`, `tp merge`, `--from`, and the refusals that keep a file from being judged
//! as something it is not.

use std::path::{Path, PathBuf};

mod common;
use common::{stderr, stdout, tp};

fn temp_dir(name: &str) -> PathBuf {
    let dir = common::temp_path("mf-shard-cli", name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn text(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_string()
}

/// The linear toy at β = 1: the sizes of a seed are coupled through one nested
/// reference, the case where a seed must run whole.
const TOY: &str = "programs/mf_toy_linear.tp";

/// A small simulate sweep of the toy.
const SIM: [&str; 4] = ["--particles", "32,64,128", "--seeds", "5"];

/// A small check of the toy (the check needs 4 sizes and 4 seeds).
const CHECK: [&str; 4] = ["--particles", "32,64,128,256", "--seeds", "6"];

/// Runs `tp` and requires exit status 0.
fn ok(args: &[&str]) -> String {
    let out = tp(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// `tp merge` of `parts` (in the order given) into `out`.
fn merge(parts: &[PathBuf], out: &Path) {
    let mut args = vec!["merge".to_string()];
    args.extend(parts.iter().map(|p| text(p)));
    args.extend(["-o".to_string(), text(out)]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&args);
}

/// Runs `command` on `program` with `sweep` as shard k/m of `m` shards (at alternating
/// thread counts), merges them in reverse order, and returns the merged file.
fn sharded(dir: &Path, command: &str, program: &str, sweep: &[&str], m: usize) -> PathBuf {
    let parts: Vec<PathBuf> = (1..=m)
        .map(|k| {
            let part = dir.join(format!("{command}_{k}_of_{m}.json"));
            let shard = format!("{k}/{m}");
            let threads = (1 + k % 2).to_string();
            let part_text = text(&part);
            let mut args = vec![command, program];
            args.extend(sweep);
            args.extend(["--shard", &shard, "--threads", &threads, "--quiet"]);
            args.extend(["--output", &part_text]);
            ok(&args);
            part
        })
        .collect();
    let merged = dir.join(format!("{command}_merged_{m}.json"));
    let reversed: Vec<PathBuf> = parts.into_iter().rev().collect();
    merge(&reversed, &merged);
    merged
}

#[test]
fn simulate_shards_merge_to_the_single_run_and_read_back_as_its_report() {
    let dir = temp_dir("simulate");
    let whole = dir.join("whole.json");
    let whole_text = text(&whole);
    let mut args = vec!["simulate", TOY];
    args.extend(SIM);
    args.extend(["--json", "--quiet", "--output", &whole_text]);
    let direct = ok(&args);
    for m in [1, 2, 5] {
        let merged = sharded(&dir, "simulate", TOY, &SIM, m);
        let a = std::fs::read(&whole).expect("whole");
        let b = std::fs::read(&merged).expect("merged");
        assert!(
            a == b,
            "M = {m}: the merged sweep differs from the single run"
        );
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&whole).expect("read")).expect("JSON");
    assert_eq!(v["schema"], "tp-mf-sweep/1");
    assert_eq!(v["purpose"], "simulate");
    assert_eq!(
        v["points"][0]["cells"].as_array().map(Vec::len),
        Some(3 * 5)
    );
    // `tp simulate --from` prints the report of the run that wrote the file, and the
    // same per-seed CSV.
    let read = ok(&["simulate", TOY, "--from", &whole_text, "--json", "--quiet"]);
    assert_eq!(read, direct);
    let (csv_a, csv_b) = (dir.join("a.csv"), dir.join("b.csv"));
    let mut args = vec!["simulate", TOY];
    args.extend(SIM);
    let csv_a_text = text(&csv_a);
    args.extend(["--quiet", "--csv", &csv_a_text]);
    ok(&args);
    ok(&[
        "simulate",
        TOY,
        "--from",
        &whole_text,
        "--quiet",
        "--csv",
        &text(&csv_b),
    ]);
    let a = std::fs::read_to_string(&csv_a).expect("csv");
    assert_eq!(a, std::fs::read_to_string(&csv_b).expect("csv"));
    // 3 sizes x 5 seeds, every row's seed one of the run's.
    assert!(a.lines().skip(1).all(|l| l
        .split(',')
        .nth(6)
        .is_some_and(|s| ["0", "1", "2", "3", "4"].contains(&s))));
}

/// One check, two ways: run directly, and sharded, merged and judged with `--from`: the
/// same JSON and exit status. With a mutation too, which must reach the verdicts of
/// `--from`, not only the report's label.
#[test]
fn check_from_merged_shards_is_the_check_that_runs_them() {
    let dir = temp_dir("check");
    let mut points = Vec::new();
    for mutation in [None, Some("rate-quarter")] {
        let mut extra = vec!["--json", "--quiet"];
        if let Some(m) = mutation {
            extra.extend(["--mutation", m]);
        }
        let mut args = vec!["check", TOY];
        args.extend(CHECK);
        args.extend(&extra);
        let direct = tp(&args);
        assert!(
            matches!(direct.status.code(), Some(0 | 1)),
            "{}",
            stderr(&direct)
        );
        let mut sweep: Vec<&str> = CHECK.to_vec();
        if let Some(m) = mutation {
            sweep.extend(["--mutation", m]);
        }
        let merged = sharded(&dir, "check", TOY, &sweep, 4);
        let merged_text = text(&merged);
        let mut args = vec!["check", TOY, "--from", &merged_text];
        args.extend(&extra);
        let from = tp(&args);
        assert_eq!(
            direct.status.code(),
            from.status.code(),
            "{}",
            stderr(&from)
        );
        assert_eq!(stdout(&direct), stdout(&from), "mutation {mutation:?}");
        let v: serde_json::Value = serde_json::from_str(&stdout(&from)).expect("JSON");
        assert_eq!(v["mutation"].as_str(), mutation);
        points.push(v["points"].clone());
    }
    // The mutation changes what is judged (rates and verdicts), not only the label.
    assert_ne!(points[0], points[1]);
}

/// A symbolic program is checked at one point per phase: a shard runs its seeds at
/// every point, and the merged file is judged as the direct check judges.
#[test]
fn a_symbolic_check_is_sharded_at_every_point() {
    let dir = temp_dir("symbolic");
    let program = "programs/mf_phase.tp";
    let sweep = ["--particles", "16,32,64,128", "--seeds", "4"];
    let merged = sharded(&dir, "check", program, &sweep, 3);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&merged).expect("read")).expect("JSON");
    let points = v["points"].as_array().expect("points");
    assert!(points.len() >= 2, "{} points", points.len());
    assert!(points
        .iter()
        .all(|p| p["cells"].as_array().map(Vec::len) == Some(4 * 4)));
    let mut args = vec!["check", program];
    args.extend(sweep);
    args.extend(["--json", "--quiet"]);
    let direct = tp(&args);
    let from = tp(&[
        "check",
        program,
        "--from",
        &text(&merged),
        "--json",
        "--quiet",
    ]);
    assert_eq!(
        direct.status.code(),
        from.status.code(),
        "{}",
        stderr(&from)
    );
    assert_eq!(stdout(&direct), stdout(&from));
}

#[test]
fn files_are_refused_where_they_do_not_fit() {
    let dir = temp_dir("refused");
    let sim = sharded(&dir, "simulate", TOY, &SIM, 2);
    let check = sharded(&dir, "check", TOY, &CHECK, 2);
    let part = dir.join("check_1_of_2.json");
    let width_part = dir.join("width_part.json");
    ok(&[
        "simulate",
        "programs/mlp_mup.tp",
        "--widths",
        "32,64",
        "--seeds",
        "2",
        "--shard",
        "1/2",
        "-o",
        &text(&width_part),
        "--quiet",
    ]);
    let out_path = text(&dir.join("out.json"));
    let (sim, check, part, width_part) = (text(&sim), text(&check), text(&part), text(&width_part));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // A simulate sweep is not what a check judges, and the reverse.
        (vec!["check", TOY, "--from", &sim], "tp check --shard K/M"),
        (
            vec!["simulate", TOY, "--from", &check],
            "tp simulate --shard K/M",
        ),
        // A part is not the whole sweep.
        (vec!["check", TOY, "--from", &part], "merge the parts"),
        // Another program (other --set values).
        (
            vec!["check", TOY, "--set", "lambda=2", "--from", &check],
            "another program",
        ),
        // The sizes and seeds of --from are the file's.
        (
            vec!["check", TOY, "--from", &check, "--particles", "8,16,32,64"],
            "--particles",
        ),
        // Families are not mixed in one merge.
        (
            vec!["merge", &part, &width_part, "-o", &out_path],
            "some parts are mean-field sweeps",
        ),
        // A split by seed cannot have more shards than seeds.
        (
            vec![
                "simulate",
                TOY,
                "--particles",
                "32,64",
                "--seeds",
                "3",
                "--shard",
                "4/4",
                "-o",
                &out_path,
            ],
            "use at most 3 shards",
        ),
        // A shard writes a file, and prints no report of part of the seeds.
        (vec!["check", TOY, "--shard", "1/2"], "--output"),
        (
            vec!["simulate", TOY, "--shard", "1/2", "--json", "-o", &out_path],
            "some of the seeds only",
        ),
        (vec!["simulate", TOY, "--law-seeds", "30"], "width programs"),
        // Depth and shaped programs run on one machine.
        (
            vec![
                "check",
                "programs/resnet_sde.tp",
                "--shard",
                "1/2",
                "-o",
                &out_path,
            ],
            "this is a depth program",
        ),
        (
            vec!["simulate", "programs/shaped_relu.tp", "--plan"],
            "this is a shaped program",
        ),
    ];
    for (args, needle) in cases {
        let out = tp(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    // A sweep recorded under options this check does not use is refused, naming the
    // option; a cell whose statistics do not fit its options, before anything reads it.
    let whole: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&check).expect("read")).expect("JSON");
    let tampered_path = dir.join("tampered.json");
    let tampered_text = text(&tampered_path);
    let edits: [(&str, serde_json::Value, &str); 2] = [
        ("blocks", serde_json::json!(4), "`blocks` differs"),
        ("record", serde_json::json!(11), "do not have 12 records"),
    ];
    for (option, value, needle) in edits {
        let mut tampered = whole.clone();
        tampered["points"][0]["options"][option] = value;
        std::fs::write(&tampered_path, tampered.to_string()).expect("write");
        let out = tp(&["check", TOY, "--from", &tampered_text]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{option}: {}", stderr(&out));
    }
}

#[test]
fn plan_prints_the_cost_of_a_seed_and_of_a_shard() {
    let out = ok(&[
        "check",
        TOY,
        "--particles",
        "32,64,128,256",
        "--seeds",
        "10",
        "--shard",
        "2/3",
        "--plan",
    ]);
    assert!(out.contains("N = 32,64,128,256 x 10 seeds"), "{out}");
    // 10 seeds round robin over 3 shards: shard 2 has positions 1, 4, 7.
    assert!(out.contains("shard 2/3: 3 seeds"), "{out}");
    // At β = 1 a seed moves the nested reference (N_ref = 8 x 256) and, per size, eq. 6
    // on min(8, N_ref / N) blocks and SGD on one, for n_T = horizon / gamma steps:
    // (2048 + 32·9 + 64·9 + 128·9 + 256·9) × 60 particle moves.
    let moves = (2048 + 9 * (32 + 64 + 128 + 256)) * 60;
    assert!(out.contains(&format!("{moves} particle moves")), "{out}");
}
