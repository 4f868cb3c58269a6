//! Benchmark: `tp` against a hand-written NumPy coordinate check,
//! `examples/peer/coord_check.py`, on the same workload and in the same run.
//!
//! Workload: a 3-hidden-layer tanh MLP in μP (`programs/mlp_mup.tp`), widths 128, 256,
//! …, 4096, 10 seeds, 3 SGD steps; for every width, seed and step the RMS of every
//! pre-activation and the output, then the log–log slope of each against the width.
//! The NumPy script materializes and updates the weights, as a framework would; tp
//! keeps the updates as outer products, records more (every vector, scalar and change
//! since step 0) and fits every slope with its confidence interval.
//!
//! A second workload, `--workload depth`, is the depth check of a residual network:
//! `tp check programs/resnet_sde.tp` at its defaults (depths 16, 32, …, 4096, 32 seeds,
//! each network coupled to its SDE limit at 8 sub-steps per layer, plus the limit's own
//! evaluation over 8192 paths and every verdict) against `examples/peer/depth_check.py`,
//! which runs the same coupled networks vectorized over seeds and fits the slopes of the
//! pathwise error and of the displacement.
//!
//! ```text
//! pip install numpy        # once, for the NumPy script
//! cargo run --release --example bench_peer
//! cargo run --release --example bench_peer -- --workload depth
//! cargo run --release --example bench_peer -- --repeats 5 --threads 1 --peer OTHER.py
//! ```
//!
//! Prints tp's wall time (median of the repeats), the NumPy script's (its own compute
//! timer and the whole process), their ratio, and tp's peak resident memory (VmHWM).
//! Without python3 or numpy the script is skipped with a message, and tp is still
//! timed. `--peer` runs another script instead: it is called without arguments and
//! must print its compute time as a line `wall_seconds=S`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The widths and seeds of the workload (the NumPy script's defaults too).
const WIDTHS: [usize; 6] = [128, 256, 512, 1024, 2048, 4096];
const SEEDS: u64 = 10;
/// Seeds of the depth workload (`tp check`'s default for a depth program).
const DEPTH_SEEDS: u64 = 32;

/// Which comparison to run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Workload {
    /// The μP coordinate check (`mlp_mup.tp` against `coord_check.py`).
    Width,
    /// The depth check (`resnet_sde.tp` against `depth_check.py`).
    Depth,
}

struct Options {
    workload: Workload,
    repeats: usize,
    peer: PathBuf,
    program: PathBuf,
    threads: Option<usize>,
}

fn parse_options() -> Result<Options, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut options = Options {
        workload: Workload::Width,
        repeats: 3,
        peer: root.join("examples/peer/coord_check.py"),
        program: root.join("programs/mlp_mup.tp"),
        threads: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--repeats" => {
                options.repeats = value("--repeats")?
                    .parse()
                    .map_err(|e| format!("--repeats: {e}"))?;
            }
            "--threads" => {
                options.threads = Some(
                    value("--threads")?
                        .parse()
                        .map_err(|e| format!("--threads: {e}"))?,
                );
            }
            "--workload" => match value("--workload")?.as_str() {
                "width" => options.workload = Workload::Width,
                "depth" => {
                    options.workload = Workload::Depth;
                    options.peer = root.join("examples/peer/depth_check.py");
                    options.program = root.join("programs/resnet_sde.tp");
                }
                other => return Err(format!("unknown workload `{other}` (width or depth)")),
            },
            "--peer" => options.peer = PathBuf::from(value("--peer")?),
            "--program" => options.program = PathBuf::from(value("--program")?),
            "--bench" => {} // passed by `cargo bench`-style runners; nothing to do
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    options.repeats = options.repeats.max(1);
    Ok(options)
}

/// One run of tp's workload. Returns the elapsed time and tp's slopes in the peer's
/// format (computed from the report, so the work cannot be optimized away).
fn run_tp(options: &Options) -> Result<(Duration, String), String> {
    match options.workload {
        Workload::Width => {
            let start = Instant::now();
            let program = tp::load(&options.program, &[]).map_err(|e| e.to_string())?;
            let seeds: Vec<u64> = (0..SEEDS).collect();
            let result = tp::sim::sweep(&program, &WIDTHS, &seeds, options.threads, None)
                .map_err(|e| e.to_string())?;
            let report = tp::report::SimulationReport::new("mlp_mup", None, result);
            Ok((start.elapsed(), tp_slopes(&report)))
        }
        Workload::Depth => {
            let start = Instant::now();
            let program = match tp::load_any(&options.program, &[]).map_err(|e| e.to_string())? {
                tp::Compiled::Depth(p) => p,
                tp::Compiled::Width(_) | tp::Compiled::Shaped(_) | tp::Compiled::MeanField(_) => {
                    return Err("not a depth program".into())
                }
            };
            let opts = tp::check::depth_program::DepthCheckOptions {
                depths: vec![],
                widths: vec![],
                seeds: (0..DEPTH_SEEDS).collect(),
                threads: options.threads,
                refine: 8,
                mutation: None,
            };
            let report = tp::check::depth_program::run_depth_check(&program, &opts)
                .map_err(|e| e.to_string())?;
            let elapsed = start.elapsed();
            let mut out = format!(
                "{} ({} of {} verdicts pass)\n",
                if report.pass() { "PASS" } else { "FAIL" },
                report
                    .points
                    .iter()
                    .map(|p| p.verdicts.len())
                    .sum::<usize>()
                    - report.failures,
                report
                    .points
                    .iter()
                    .map(|p| p.verdicts.len())
                    .sum::<usize>()
            );
            for v in report.points.iter().flat_map(|p| &p.verdicts) {
                if v.against == "L" {
                    out.push_str(&format!("{}: slope {}\n", v.quantity, v.measured));
                }
            }
            Ok((elapsed, out))
        }
    }
}

/// The NumPy script's run: its own timer (`wall_seconds=`) and the process's wall time.
fn run_peer(script: &Path) -> Result<(f64, Duration, String), String> {
    if !script.exists() {
        return Err(format!("peer script {} not found", script.display()));
    }
    let start = Instant::now();
    let output = Command::new("python3")
        .arg(script)
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("No module named 'numpy'") {
            " (install it with `pip install numpy`)"
        } else {
            ""
        };
        return Err(format!("the peer failed{hint}: {}", stderr.trim()));
    }
    let seconds = stdout
        .lines()
        .find_map(|l| l.strip_prefix("wall_seconds="))
        .and_then(|s| s.trim().parse::<f64>().ok())
        .ok_or("the peer printed no wall_seconds= line")?;
    Ok((seconds, elapsed, stdout))
}

/// CPU seconds (user + system) of this process and of its waited-for children, from
/// `/proc/self/stat` (fields 14–17, in clock ticks of 1/100 s on Linux).
fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may contain spaces; fields are counted after its closing paren.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let tick = 100.0;
    Some((
        (fields[0] + fields[1]) / tick,
        (fields[2] + fields[3]) / tick,
    ))
}

/// Peak resident set size of this process (VmHWM), in bytes.
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// tp's slopes of the quantities the NumPy script prints (h1..h3 and f at every step),
/// in its format, for a side-by-side look: for vectors the slope of the seed-mean curve
/// (what the script fits), for f the slope of the RMS over seeds.
fn tp_slopes(report: &tp::report::SimulationReport) -> String {
    let mut out = String::new();
    for stats in &report.stats {
        let q = &stats.quantity;
        let Some(family) = &q.family else { continue };
        let wanted = family == "f" || (family.starts_with('h') && family.len() == 2);
        if !wanted {
            continue;
        }
        let (Some(step), Some(slope)) = (q.step, stats.size_fit.slope()) else {
            continue;
        };
        let shown = slope.mean_curve_slope.unwrap_or(slope.slope);
        let ci = slope
            .ci
            .map(|(lo, hi)| format!(" [{lo:+.3}, {hi:+.3}]"))
            .unwrap_or_default();
        out.push_str(&format!("step={step} {family:>2} slope={shown:+.3}{ci}\n"));
    }
    out
}

fn main() {
    let options = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench_peer: {e}");
            std::process::exit(2);
        }
    };
    let threads = options.threads.map_or_else(
        || rayon::current_num_threads().to_string(),
        |t| t.to_string(),
    );
    match options.workload {
        Workload::Width => println!(
            "workload: {} (μP tanh MLP, L = 3, 3 SGD steps), widths {:?}, {SEEDS} seeds, {threads} threads",
            options.program.display(),
            WIDTHS,
        ),
        Workload::Depth => println!(
            "workload: tp check {} (d = 4, depths 16…4096, {DEPTH_SEEDS} seeds, coupled SDE limit), {threads} threads",
            options.program.display(),
        ),
    }

    let cpu_before = cpu_seconds();
    let mut times = Vec::new();
    let mut last = None;
    for k in 0..options.repeats {
        match run_tp(&options) {
            Ok((t, report)) => {
                println!("tp run {}: {:.3} s", k + 1, t.as_secs_f64());
                times.push(t);
                last = Some(report);
            }
            Err(e) => {
                eprintln!("bench_peer: tp failed: {e}");
                std::process::exit(1);
            }
        }
    }
    let tp_cpu = cpu_before
        .zip(cpu_seconds())
        .map(|(a, b)| (b.0 - a.0) / options.repeats as f64);
    times.sort();
    let tp_time = times[times.len() / 2].as_secs_f64();
    let memory = peak_memory();
    if let Some(slopes) = &last {
        print!("tp slopes (95% interval):\n{slopes}");
    }

    let children_before = cpu_seconds();
    let peer = run_peer(&options.peer);
    let peer_cpu = children_before.zip(cpu_seconds()).map(|(a, b)| b.1 - a.1);
    println!();
    println!(
        "tp:   {tp_time:.3} s (median of {} runs; min {:.3} s)",
        times.len(),
        times[0].as_secs_f64()
    );
    if let Some(cpu) = tp_cpu {
        println!("      {cpu:.3} s of CPU per run (all threads)");
    }
    match &peer {
        Ok((compute, process, _)) => {
            println!(
                "peer: {compute:.3} s compute ({:.3} s with interpreter start-up and import)",
                process.as_secs_f64()
            );
            if let Some(cpu) = peer_cpu {
                println!("      {cpu:.3} s of CPU (all threads)");
            }
            println!(
                "ratio: tp is {:.1}× faster in wall time (peer compute / tp)",
                compute / tp_time
            );
            if let (Some(a), Some(b)) = (tp_cpu, peer_cpu) {
                println!("       and uses {:.1}× less CPU time", b / a);
            }
        }
        Err(e) => println!("peer: skipped: {e}"),
    }
    match memory {
        Some(bytes) => println!(
            "tp peak memory (VmHWM): {:.0} MiB",
            bytes as f64 / 1048576.0
        ),
        None => println!("tp peak memory: unavailable (no /proc/self/status)"),
    }
    if let Ok((_, _, stdout)) = &peer {
        print!("\npeer output:\n{stdout}");
    }
}
