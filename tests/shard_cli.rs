//! Sharded width sweeps from the command line: `tp simulate --shard K/M --output`,
//! `tp merge`, `tp check --from`, `tp simulate --from`, and the cluster scripts of
//! `examples/cluster/` run locally.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{stderr, stdout, tp};

fn temp_dir(name: &str) -> PathBuf {
    let dir = common::temp_path("shard-cli", name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn text(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_string()
}

/// The sweep of these tests: small, with a scalar, several steps and law seeds.
const SWEEP: [&str; 6] = ["--widths", "32,64,128", "--seeds", "4", "--law-seeds", "7"];

fn simulate_to(file: &Path, extra: &[&str]) {
    let path = text(file);
    let mut args = vec!["simulate", "programs/mlp_mup.tp"];
    args.extend(SWEEP);
    args.extend(extra);
    args.extend(["--output", path.as_str(), "--quiet"]);
    let out = tp(&args);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn merged_shards_are_byte_identical_to_one_run_in_any_order() {
    let dir = temp_dir("identical");
    let whole = dir.join("whole.json");
    simulate_to(&whole, &[]);
    for count in [1usize, 3, 5] {
        let parts: Vec<PathBuf> = (1..=count)
            .map(|k| {
                let part = dir.join(format!("part_{k}_of_{count}.json"));
                let shard = format!("{k}/{count}");
                // Different thread counts per shard: the bits must not depend on them.
                let threads = ((k % 2) + 1).to_string();
                simulate_to(&part, &["--shard", &shard, "--threads", &threads]);
                part
            })
            .collect();
        let merged = dir.join(format!("merged_{count}.json"));
        let merged_text = text(&merged);
        // Parts in reverse order: the merge puts every cell back at its place.
        let mut args = vec!["merge"];
        let reversed: Vec<String> = parts.iter().rev().map(|p| text(p)).collect();
        args.extend(reversed.iter().map(String::as_str));
        args.extend(["--output", merged_text.as_str()]);
        let out = tp(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let a = std::fs::read(&whole).expect("whole");
        let b = std::fs::read(&merged).expect("merged");
        assert!(
            a == b,
            "M = {count}: the merged sweep differs from the single run"
        );
    }
    // The file holds 3 widths x 4 seeds and 3 law seeds at the largest width.
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&whole).expect("read")).expect("JSON");
    assert_eq!(v["schema"], "tp-sweep/1");
    assert_eq!(v["law_seeds"], serde_json::json!([4, 5, 6]));
    let cells = v["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 3 * 4 + 3);
    assert!(cells[12..].iter().all(|c| c["width"] == 128));
}

#[test]
fn check_from_a_sweep_file_is_the_check_that_runs_it() {
    let dir = temp_dir("check-from");
    let whole = dir.join("whole.json");
    simulate_to(&whole, &[]);
    let common_args = ["--limit-samples", "20000", "--json", "--quiet"];
    let mut direct = vec!["check", "programs/mlp_mup.tp"];
    direct.extend(SWEEP);
    direct.extend(common_args);
    let from_text = text(&whole);
    let mut from = vec!["check", "programs/mlp_mup.tp", "--from", from_text.as_str()];
    from.extend(common_args);
    let a = tp(&direct);
    let b = tp(&from);
    assert_eq!(a.status.code(), b.status.code(), "{}", stderr(&b));
    assert!(matches!(a.status.code(), Some(0 | 1)), "{}", stderr(&a));
    assert_eq!(stdout(&a), stdout(&b));
    let v: serde_json::Value = serde_json::from_str(&stdout(&b)).expect("JSON");
    assert_eq!(v["widths"], serde_json::json!([32, 64, 128]));

    // `tp simulate --from` prints the report of the run that wrote the file.
    let mut run = vec!["simulate", "programs/mlp_mup.tp"];
    run.extend(&SWEEP[..4]);
    run.extend(["--json", "--quiet"]);
    let direct = tp(&run);
    let read = tp(&[
        "simulate",
        "programs/mlp_mup.tp",
        "--from",
        &from_text,
        "--json",
        "--quiet",
    ]);
    assert!(read.status.success(), "{}", stderr(&read));
    assert_eq!(stdout(&direct), stdout(&read));
}

#[test]
fn foreign_partial_and_incomplete_files_are_refused() {
    let dir = temp_dir("refused");
    let parts: Vec<PathBuf> = (1..=3)
        .map(|k| {
            let part = dir.join(format!("part_{k}.json"));
            simulate_to(&part, &["--shard", &format!("{k}/3")]);
            part
        })
        .collect();
    let out_path = text(&dir.join("merged.json"));
    let p: Vec<String> = parts.iter().map(|p| text(p)).collect();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // A missing part.
        (
            vec!["merge", &p[0], &p[1], "-o", &out_path],
            "missing shard(s): 3/3",
        ),
        // A part given twice.
        (
            vec!["merge", &p[0], &p[0], &p[1], "-o", &out_path],
            "given twice",
        ),
        // A shard is not a whole sweep.
        (
            vec!["check", "programs/mlp_mup.tp", "--from", &p[0]],
            "merge the parts",
        ),
        // A shard without a file to write it to.
        (
            vec!["simulate", "programs/mlp_mup.tp", "--shard", "1/3"],
            "--output",
        ),
        (
            vec![
                "simulate",
                "programs/mlp_mup.tp",
                "--shard",
                "4/3",
                "-o",
                &out_path,
            ],
            "1 <= K <= M",
        ),
    ];
    for (args, needle) in cases {
        let out = tp(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    // A part of another sweep (other seeds) or another program.
    let other = dir.join("other.json");
    let other_text = text(&other);
    let out = tp(&[
        "simulate",
        "programs/mlp_mup.tp",
        "--widths",
        "32,64,128",
        "--seeds",
        "4",
        "--seed",
        "1",
        "--law-seeds",
        "7",
        "--shard",
        "3/3",
        "-o",
        &other_text,
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = tp(&["merge", &p[0], &p[1], &other_text, "-o", &out_path]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("their seeds"), "{}", stderr(&out));

    let out = tp(&["merge", &p[0], &p[1], &p[2], "-o", &out_path]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = tp(&[
        "check",
        "programs/mlp_mup.tp",
        "--set",
        "eta=0.25",
        "--from",
        &out_path,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("another program"), "{}", stderr(&out));

    // A file of another schema version.
    let whole = std::fs::read_to_string(&out_path).expect("merged");
    let old = dir.join("old.json");
    std::fs::write(&old, whole.replace("tp-sweep/1", "tp-sweep/0")).expect("write");
    let out = tp(&["check", "programs/mlp_mup.tp", "--from", &text(&old)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("tp-sweep/0"), "{}", stderr(&out));
}

#[test]
fn plan_prints_memory_and_time_per_cell_and_the_shard_share() {
    let out = tp(&[
        "simulate",
        "programs/mlp_mup.tp",
        "--widths",
        "64,128,256,512",
        "--seeds",
        "10",
        "--shard",
        "2/3",
        "--plan",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("4 widths x 10 seeds = 40 cells"), "{text}");
    // 40 cells round robin over 3 shards: shard 2 has positions 1, 4, ..., 37.
    assert!(text.contains("shard 2/3: 13 cells"), "{text}");
    // The memory model grows like n^2: the row of 512 shows about 4x that of 256.
    let mib = |width: &str| -> f64 {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(width))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|m| m.parse().ok())
            .unwrap_or_else(|| panic!("{width}: {text}"))
    };
    let ratio = mib("512") / mib("256");
    assert!((3.0..5.0).contains(&ratio), "{ratio}: {text}");
}

/// Runs the Slurm scripts as Slurm would run them, one array task after another, with
/// the binary under test, in `outdir`.
fn run_slurm_scripts(program: &str, outdir: &Path, sweep_args: &str, check_args: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let count = 3;
    for k in 1..=count {
        let out = Command::new("bash")
            .arg(root.join("examples/cluster/slurm_shard.sh"))
            .args([program, &text(outdir)])
            .env("SLURM_ARRAY_TASK_COUNT", count.to_string())
            .env("SLURM_ARRAY_TASK_ID", k.to_string())
            .env("SLURM_CPUS_PER_TASK", "1")
            .env("TP", env!("CARGO_BIN_EXE_tp"))
            .env("SWEEP_ARGS", sweep_args)
            .current_dir(root)
            .output()
            .expect("bash runs");
        assert!(out.status.success(), "task {k}: {}", stderr(&out));
    }
    let out = Command::new("bash")
        .arg(root.join("examples/cluster/slurm_merge.sh"))
        .args([program, &text(outdir), &count.to_string()])
        .env("TP", env!("CARGO_BIN_EXE_tp"))
        .env("CHECK_ARGS", check_args)
        .current_dir(root)
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "merge: {}", stderr(&out));
}

/// The Slurm scripts run locally: their merged sweep is the single run's (for a width and
/// a mean-field program), and their check report and CSV are written.
#[test]
fn slurm_scripts_run_locally_give_the_single_run() {
    let dir = temp_dir("slurm");
    let whole = dir.join("whole.json");
    simulate_to(&whole, &[]);
    let outdir = dir.join("sweep");
    run_slurm_scripts(
        "programs/mlp_mup.tp",
        &outdir,
        &SWEEP.join(" "),
        "--limit-samples 20000",
    );
    let a = std::fs::read(&whole).expect("whole");
    let b = std::fs::read(outdir.join("sweep.json")).expect("merged");
    assert!(a == b, "the Slurm sweep differs from the single run");

    // A mean-field check, split by seed.
    let mf_whole = dir.join("mf_whole.json");
    let mf_sweep = ["--particles", "32,64,128,256", "--seeds", "5"];
    let mut args = vec!["check", "programs/mf_toy_linear.tp"];
    args.extend(mf_sweep);
    let mf_whole_text = text(&mf_whole);
    args.extend(["--output", mf_whole_text.as_str(), "--quiet", "--json"]);
    let direct = tp(&args);
    assert!(
        matches!(direct.status.code(), Some(0 | 1)),
        "{}",
        stderr(&direct)
    );
    let mf_outdir = dir.join("mf_sweep");
    run_slurm_scripts(
        "programs/mf_toy_linear.tp",
        &mf_outdir,
        &mf_sweep.join(" "),
        "",
    );
    let a = std::fs::read(&mf_whole).expect("whole");
    let b = std::fs::read(mf_outdir.join("sweep.json")).expect("merged");
    assert!(
        a == b,
        "the mean-field Slurm sweep differs from the single run"
    );
    let report = std::fs::read_to_string(mf_outdir.join("check.json")).expect("check.json");
    assert_eq!(report, stdout(&direct));

    for (out, schema) in [
        (&outdir, "tp-check/1"),
        (&mf_outdir, "tp-meanfield-check/1"),
    ] {
        let report: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join("check.json")).expect("check.json"),
        )
        .expect("JSON");
        assert_eq!(report["schema"], schema);
        let csv = std::fs::read_to_string(out.join("per_seed.csv")).expect("csv");
        assert!(csv.starts_with(tp::report::csv::HEADER), "{csv}");
    }
}
