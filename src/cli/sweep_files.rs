//! Sweep files on the command line: `tp merge`, reading and writing `tp-sweep/1` and
//! `tp-mf-sweep/1` files, the refusals shared by `--shard`, `--output` and `--from`, and the
//! cost plans `--plan` prints.

use super::meanfield::meanfield_error;
use crate::{seed_list, with_progress};
use clap::Args;
use std::path::PathBuf;

/// The long help of `tp merge`.
pub(crate) const MERGE_ABOUT: &str = "\
Combine the partial sweeps written by `tp simulate --shard K/M --output PART` or `tp check
--shard K/M --output PART` (one per K = 1..M, given in any order) into the whole sweep.
Every cell is put back at its place, and numbers are stored in shortest round-trip form,
so the merged file is byte for byte the file `--output` writes when the whole sweep runs
at once. The parts must come from the same program (a hash of the elaborated program,
after --set), the same command, options and tp version; a missing, repeated or foreign
part is refused.

Width programs are split by (width, seed) cell (schema tp-sweep/1), mean-field programs
by seed (schema tp-mf-sweep/1; at beta = 1 the sizes of a seed are coupled through one
nested reference, so a seed runs whole).

Use the merged file with `tp check PROGRAM --from FILE` (verdicts) or `tp simulate
PROGRAM --from FILE` (tables, --json, --csv, --plot) without re-running anything. A
mean-field check judges only a sweep written by `tp check --shard` (it records more
particles and other times than `tp simulate` does).

Exit status: 0 on success, 2 on bad input.";

/// `tp merge`.
#[derive(Args)]
pub(crate) struct MergeArgs {
    /// The partial sweep files (`tp simulate|check --shard K/M --output FILE`).
    #[arg(required = true, value_name = "PART")]
    parts: Vec<PathBuf>,
    /// Where to write the whole sweep.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

/// `tp merge`: read every part, merge, write.
pub(crate) fn merge(args: MergeArgs) -> Result<(), tp::TpError> {
    sweep_file_writable(&args.output)?;
    let texts = args
        .parts
        .iter()
        .map(|path| Ok((path.as_path(), read_sweep_text(path)?)))
        .collect::<Result<Vec<_>, tp::TpError>>()?;
    let hint = "give every part `--shard K/M --output PART` wrote for one sweep, K = 1..M";
    let cannot = |e: tp::sim::shard::ShardError| tp::TpError::Data {
        path: args.output.clone(),
        reason: format!("cannot merge: {e}"),
        hint: hint.into(),
    };
    let meanfield = texts
        .iter()
        .filter(|(_, t)| tp::meanfield::shard::is_meanfield_text(t))
        .count();
    if meanfield > 0 && meanfield < texts.len() {
        return Err(tp::TpError::Data {
            path: args.output.clone(),
            reason: "cannot merge: some parts are mean-field sweeps and some width sweeps".into(),
            hint: hint.into(),
        });
    }
    if meanfield > 0 {
        let parts = texts
            .iter()
            .map(|(path, text)| {
                tp::meanfield::shard::from_text(text).map_err(|e| unreadable_sweep(path, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let merged = tp::meanfield::shard::merge(parts).map_err(cannot)?;
        write_text_file(&tp::meanfield::shard::to_text(&merged), &args.output)?;
        let first = merged.points.first();
        println!(
            "merged {} parts: {} point(s) x {} particle counts x {} seeds ({}) -> {}",
            args.parts.len(),
            merged.points.len(),
            first.map_or(0, |p| p.options.sizes.len()),
            first.map_or(0, |p| p.options.seeds.len()),
            merged.purpose.command(),
            args.output.display()
        );
        return Ok(());
    }
    let parts = texts
        .iter()
        .map(|(path, text)| tp::sim::shard::from_text(text).map_err(|e| unreadable_sweep(path, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = tp::sim::shard::merge(parts).map_err(cannot)?;
    write_sweep_file(&merged, &args.output)?;
    println!(
        "merged {} parts: {} cells ({} widths x {} seeds{}) -> {}",
        args.parts.len(),
        merged.cells.len(),
        merged.widths.len(),
        merged.seeds.len(),
        if merged.law_seeds.is_empty() {
            String::new()
        } else {
            format!(
                ", + {} law seeds at the largest width",
                merged.law_seeds.len()
            )
        },
        args.output.display()
    );
    Ok(())
}

/// The text of a sweep file.
pub(crate) fn read_sweep_text(path: &std::path::Path) -> Result<String, tp::TpError> {
    std::fs::read_to_string(path).map_err(|e| tp::TpError::Data {
        path: path.to_path_buf(),
        reason: format!("cannot read the sweep file: {e}"),
        hint: "give a file written by `--output` or `tp merge`".into(),
    })
}

/// A sweep file that does not parse.
pub(crate) fn unreadable_sweep(
    path: &std::path::Path,
    e: tp::sim::shard::ShardError,
) -> tp::TpError {
    tp::TpError::Data {
        path: path.to_path_buf(),
        reason: e.to_string(),
        hint: "give a file written by `--output` or `tp merge` of this version of tp".into(),
    }
}

/// Reads a width sweep file (`tp simulate --output`, `tp merge`).
pub(crate) fn read_sweep_file(
    path: &std::path::Path,
) -> Result<tp::sim::shard::SweepFile, tp::TpError> {
    let text = read_sweep_text(path)?;
    tp::sim::shard::from_text(&text).map_err(|e| unreadable_sweep(path, e))
}

/// Reads a mean-field sweep file and returns its points, refusing partial files, files of
/// another program and files run for another command.
pub(crate) fn meanfield_points(
    path: &std::path::Path,
    program: &tp::meanfield::MeanFieldProgram,
    purpose: tp::meanfield::shard::Purpose,
) -> Result<Vec<tp::meanfield::shard::PointRecord>, tp::TpError> {
    let text = read_sweep_text(path)?;
    let file = tp::meanfield::shard::from_text(&text).map_err(|e| unreadable_sweep(path, e))?;
    tp::meanfield::shard::into_points(file, program, purpose).map_err(|e| tp::TpError::Data {
        path: path.to_path_buf(),
        reason: e.to_string(),
        hint: format!(
            "run `{} --output` on this program (and the same --set values), or merge its shards with `tp merge`",
            purpose.command()
        ),
    })
}

/// Refuses, before a run, a sweep file path that cannot be written.
pub(crate) fn sweep_file_writable(path: &std::path::Path) -> Result<(), tp::TpError> {
    tp::report::file_writable(path).map_err(|reason| tp::TpError::Data {
        path: path.to_path_buf(),
        reason: format!("cannot write the sweep file: {reason}"),
        hint: "give a writable path to --output".into(),
    })
}

/// Writes a width sweep file.
pub(crate) fn write_sweep_file(
    file: &tp::sim::shard::SweepFile,
    path: &std::path::Path,
) -> Result<(), tp::TpError> {
    write_text_file(&tp::sim::shard::to_text(file), path)
}

/// Writes the text of a sweep file.
pub(crate) fn write_text_file(text: &str, path: &std::path::Path) -> Result<(), tp::TpError> {
    std::fs::write(path, text).map_err(|e| tp::TpError::Data {
        path: path.to_path_buf(),
        reason: format!("cannot write the sweep file: {e}"),
        hint: "give a writable path to --output".into(),
    })
}

/// A sweep file as the sweep of `program` and its law runs, refusing partial files and
/// files of other programs.
pub(crate) fn sweep_from_file(
    path: &std::path::Path,
    program: &tp::ir::Program,
) -> Result<(tp::sim::SweepResult, Option<tp::sim::SweepResult>), tp::TpError> {
    let file = read_sweep_file(path)?;
    tp::sim::shard::into_results(file, program).map_err(|e| tp::TpError::Data {
        path: path.to_path_buf(),
        reason: e.to_string(),
        hint: "run `tp simulate` or `tp check` on this program (and the same --set values) with --output, or merge its shards with `tp merge`".into(),
    })
}

/// A `--shard K/M`.
pub(crate) fn parse_shard(text: &str) -> Result<tp::sim::shard::Shard, String> {
    text.parse()
}

/// Refuses the sweep-file options on programs of another family.
pub(crate) fn refuse_sweep_files(family: &str) -> Result<(), tp::TpError> {
    Err(tp::TpError::BadOptions {
        message: format!(
            "sweep files (--shard, --output, --from) and --plan apply to width and mean-field programs; this is a {family} program"
        ),
        hint: "drop them; a sweep of this family runs on one machine (seconds at the defaults)".into(),
    })
}

/// A width sweep to run into a sweep file: the program (named `name` on the command
/// line), its grid, the shard (all cells with `None`) and how to run it.
pub(crate) struct SweepRun<'a> {
    pub(crate) program: &'a tp::ir::Program,
    pub(crate) name: &'a str,
    pub(crate) grid: &'a tp::sim::shard::Grid,
    pub(crate) shard: Option<tp::sim::shard::Shard>,
    pub(crate) threads: Option<usize>,
    pub(crate) quiet: bool,
}

/// Runs a width sweep (or its shard) into the sweep file `output`, printing its plan
/// first unless quiet. A shard prints what it wrote and gives `None`; a whole sweep gives
/// its results, read from the file just written (so `--output` and `--from` judge the
/// same numbers).
pub(crate) fn run_to_file(
    run: &SweepRun<'_>,
    output: &std::path::Path,
) -> Result<Option<(tp::sim::SweepResult, Option<tp::sim::SweepResult>)>, tp::TpError> {
    sweep_file_writable(output)?;
    if !run.quiet {
        eprint!(
            "{}",
            sweep_plan_text(run.program, run.name, run.grid, run.shard)?
        );
    }
    let file = with_progress(run.quiet, |progress| {
        tp::sim::shard::run_shard(
            run.program,
            run.name,
            run.grid,
            run.shard,
            run.threads,
            Some(progress),
        )
    })?;
    write_sweep_file(&file, output)?;
    if let Some(shard) = run.shard {
        println!(
            "shard {shard}: {} of {} cells -> {}",
            file.cells.len(),
            run.grid.cells().len(),
            output.display()
        );
        return Ok(None);
    }
    let results =
        tp::sim::shard::into_results(file, run.program).map_err(|e| tp::TpError::Data {
            path: output.to_path_buf(),
            reason: e.to_string(),
            hint: "this is a bug: a sweep file tp just wrote does not read back".into(),
        })?;
    Ok(Some(results))
}

/// Refuses `--shard` without `--output`, and with outputs that would describe a part of
/// the sweep as if it were all of it; nothing with `--plan`, which runs nothing.
pub(crate) fn refuse_partial_outputs(
    plan: bool,
    shard: Option<tp::sim::shard::Shard>,
    output: Option<&PathBuf>,
    reports: bool,
    command: &str,
) -> Result<(), tp::TpError> {
    let Some(shard) = shard.filter(|_| !plan) else {
        return Ok(());
    };
    if reports {
        return Err(tp::TpError::BadOptions {
            message: format!("--shard {shard} runs part of the sweep: its tables, plots and CSV would describe some of the seeds only"),
            hint: format!("run the shards with --output only, merge them with `tp merge`, then use `{command} --from MERGED`"),
        });
    }
    if output.is_none() {
        return Err(tp::TpError::BadOptions {
            message: "--shard writes its part of the sweep to a file".into(),
            hint: "add `--output PART_K.json` (one file per shard; merge them with `tp merge`)"
                .into(),
        });
    }
    Ok(())
}

/// The cells of a width sweep: `widths` (the defaults when empty) × `seeds`, and, when
/// `law_seeds` asks for more seeds than `seeds`, the next seeds at the largest width.
pub(crate) fn sweep_grid(
    widths: &[usize],
    seeds: Vec<u64>,
    law_seeds: Option<u64>,
) -> Result<tp::sim::shard::Grid, tp::TpError> {
    let widths = if widths.is_empty() {
        tp::sim::DEFAULT_WIDTHS.to_vec()
    } else {
        widths.to_vec()
    };
    let extra = law_seeds.map_or(0, |k| k.saturating_sub(seeds.len() as u64));
    let law_seeds = match seeds.last() {
        Some(&last) if extra > 0 => match last.checked_add(1) {
            Some(first) => seed_list(first, extra)?,
            None => {
                return Err(tp::TpError::BadOptions {
                    message: format!("--law-seeds would need seeds beyond 2^64 - 1 = {last}"),
                    hint: "use a smaller --seed".into(),
                })
            }
        },
        _ => Vec::new(),
    };
    Ok(tp::sim::shard::Grid {
        widths,
        seeds,
        law_seeds,
    })
}

/// What a width sweep costs, per cell and per shard, as printed by `--plan` (and on
/// stderr before a `--output` run): memory from the memory model, time from a cell
/// timed at n = 1024 (or the width nearest above it, else the largest) scaled by the
/// work model.
pub(crate) fn sweep_plan_text(
    program: &tp::ir::Program,
    name: &str,
    grid: &tp::sim::shard::Grid,
    shard: Option<tp::sim::shard::Shard>,
) -> Result<String, tp::TpError> {
    use std::fmt::Write as _;
    let calibration = grid
        .widths
        .iter()
        .copied()
        .filter(|&n| n >= 1024)
        .min()
        .or_else(|| grid.widths.iter().copied().max())
        .unwrap_or(256);
    let costs = tp::sim::shard::cell_costs(program, &grid.widths, calibration)?;
    let cells = grid.cells();
    let seconds_of = |w: usize| costs.get(w).map_or(0.0, |c| c.seconds);
    let mut out = String::new();
    let law = if grid.law_seeds.is_empty() {
        String::new()
    } else {
        format!(" + {} law seeds at the largest width", grid.law_seeds.len())
    };
    let _ = writeln!(
        out,
        "sweep plan for {name}: {} widths x {} seeds{law} = {} cells",
        grid.widths.len(),
        grid.seeds.len(),
        cells.len()
    );
    let _ = writeln!(
        out,
        "  {:>8}  {:>12}  {:>14}",
        "width", "memory/cell", "time/cell"
    );
    for c in &costs {
        let _ = writeln!(
            out,
            "  {:>8}  {:>12}  {:>14}",
            c.width,
            human_bytes(c.bytes),
            human_seconds(c.seconds)
        );
    }
    let total: f64 = cells.iter().map(|&(w, _)| seconds_of(w)).sum();
    let _ = writeln!(
        out,
        "  total about {} on one thread; 4 cells at n = {calibration} were timed on one thread and scaled by n^2 per matrix draw and product",
        human_seconds(total)
    );
    if let Some(shard) = shard {
        let own: Vec<usize> = (0..cells.len()).filter(|&p| shard.owns(p)).collect();
        let seconds: f64 = own.iter().map(|&p| seconds_of(cells[p].0)).sum();
        let largest = own
            .iter()
            .map(|&p| costs.get(cells[p].0).map_or(0, |c| c.bytes))
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            out,
            "  shard {shard}: {} cells, about {} on one thread, {} per thread at most",
            own.len(),
            human_seconds(seconds),
            human_bytes(largest)
        );
    }
    Ok(out)
}

/// Bytes in binary units.
pub(crate) fn human_bytes(bytes: u64) -> String {
    let mib = bytes as f64 / (1u64 << 20) as f64;
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.1} MiB")
    }
}

/// Seconds with a unit that keeps two or three significant digits.
pub(crate) fn human_seconds(seconds: f64) -> String {
    if seconds < 1e-3 {
        format!("{:.0} us", seconds * 1e6)
    } else if seconds < 1.0 {
        format!("{:.0} ms", seconds * 1e3)
    } else if seconds < 3600.0 {
        format!("{seconds:.1} s")
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

/// Refuses a shard that would own no seed.
pub(crate) fn refuse_empty_shard(
    seeds: &[u64],
    shard: Option<tp::sim::shard::Shard>,
) -> Result<(), tp::TpError> {
    match shard {
        Some(s) if tp::meanfield::shard::shard_seeds(seeds, shard).is_empty() => {
            Err(tp::TpError::BadOptions {
                message: format!(
                    "--shard {s}: a mean-field sweep is split by seed and has {} seeds, so shard {} would be empty",
                    seeds.len(),
                    s.index
                ),
                hint: format!("use at most {} shards, or more seeds", seeds.len()),
            })
        }
        _ => Ok(()),
    }
}

/// One point of a mean-field sweep: its symbol values, the program there, the options.
pub(crate) type MeanFieldRun<'a> = (
    Vec<(String, String)>,
    &'a tp::meanfield::MeanFieldProgram,
    &'a tp::meanfield::simulate::SimOptions,
);

/// What a mean-field sweep costs per seed and per shard, as printed by `--plan` (and on
/// stderr before an `--output` run): `runs` are the points (symbol values, the program
/// there, the options) of the sweep.
pub(crate) fn meanfield_plan_text(
    name: &str,
    runs: &[MeanFieldRun<'_>],
    shard: Option<tp::sim::shard::Shard>,
) -> Result<String, tp::TpError> {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut seconds = 0.0;
    let mut shard_seconds = 0.0;
    let mut peak = 0u64;
    let mut own_seeds = 0;
    for (point, program, opts) in runs {
        let cost = tp::meanfield::shard::seed_cost(program, opts)
            .map_err(|e| meanfield_error("plan the sweep", e, "see `tp simulate --help`"))?;
        let at = if point.is_empty() {
            String::new()
        } else {
            let values: Vec<String> = point.iter().map(|(s, v)| format!("{s} = {v}")).collect();
            format!(" at {}", values.join(", "))
        };
        let sizes: Vec<String> = opts.sizes.iter().map(|s| s.size.to_string()).collect();
        let _ = writeln!(
            out,
            "sweep plan for {name}{at}: N = {} x {} seeds",
            sizes.join(","),
            opts.seeds.len()
        );
        let _ = writeln!(
            out,
            "  per seed (every N): {} particle moves, {} on one thread, about {}",
            cost.moves,
            human_bytes(cost.bytes),
            human_seconds(cost.seconds)
        );
        seconds += cost.seconds * opts.seeds.len() as f64;
        own_seeds = tp::meanfield::shard::shard_seeds(&opts.seeds, shard).len();
        shard_seconds += cost.seconds * own_seeds as f64;
        peak = peak.max(cost.bytes);
    }
    let _ = writeln!(
        out,
        "  total about {} on one thread; a few steps at the smallest and the largest N of one seed were timed on one thread and interpolated in particle moves per step",
        human_seconds(seconds)
    );
    if let Some(shard) = shard {
        // Every point runs the same seeds.
        let _ = writeln!(
            out,
            "  shard {shard}: {own_seeds} seeds, about {} on one thread, {} per thread at most",
            human_seconds(shard_seconds),
            human_bytes(peak)
        );
    }
    Ok(out)
}

/// The points of a mean-field check as `meanfield_plan_text` reads them.
pub(crate) fn check_plans(runs: &[tp::check::meanfield::CheckRun]) -> Vec<MeanFieldRun<'_>> {
    runs.iter()
        .map(|r| (r.point_text(), &r.program, &r.sim))
        .collect()
}
