//! The `tp` command line: argument parsing and output only; the work is in the library.
//! This file holds the arguments, the width-program commands and the output helpers; the
//! other families' commands and the sweep-file commands are in `cli/`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

mod cli;
use cli::depth::{depth_check, depth_limit, depth_simulate};
use cli::meanfield::{meanfield_check, meanfield_limit, meanfield_simulate};
use cli::shaped::{shaped_check, shaped_derivation, shaped_limit, shaped_simulate};
use cli::sweep_files::{
    merge, parse_shard, refuse_partial_outputs, refuse_sweep_files, run_to_file, sweep_from_file,
    sweep_grid, sweep_plan_text, MergeArgs, SweepRun, MERGE_ABOUT,
};

/// tp — a Tensor Program engine and simulator.
///
/// Describe a network and its SGD steps in a `.tp` file; tp elaborates it into a
/// Tensor Program (forward pass, backward pass, unrolled updates as outer products).
#[derive(Parser)]
#[command(name = "tp", version, about, long_about = about())]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The long help of `tp` (`tp --help`), with the bounds of `tp::bounds`.
fn about() -> String {
    use tp::bounds::*;
    format!(
        "\
tp - a Tensor Program engine and simulator.

Describe a network and its SGD steps in a `.tp` file; tp elaborates it into a Tensor
Program (forward pass, backward pass, unrolled updates as outer products).

Programs are bounded, and a program past a bound is refused before the work starts
(exit status 2, with the line and a hint): at most {MAX_DEPTH} hidden layers,
{MAX_STEPS} SGD steps, {MAX_LOOP_ITERATIONS} iterations per `for` loop,
{MAX_INSTRUCTIONS} elaborated instructions (a network of depth L trained for T steps
has about L*T^2), names of {MAX_NAME_CHARS} characters, chains of {MAX_CHAIN_OPERANDS}
`+`/`*` operands, derivatives of order {MAX_DERIVATIVE_ORDER} (of at most
{MAX_DERIVATIVE_NODES} nodes), finite constants. `tp limit` is much slower than the other
commands: about 3 CPU-minutes for programs/mlp_mup.tp at 12 steps, 8 at 16 steps."
    )
}

#[derive(Subcommand)]
enum Command {
    /// Print the elaborated Tensor Program: one instruction per line with its width factor.
    #[command(long_about = SHOW_ABOUT)]
    Show(ShowArgs),
    /// Exponent table (how every quantity scales with the width n), the regime, and with
    /// `--trace` the derivation of each exponent.
    #[command(long_about = SCALE_ABOUT)]
    Scale(ScaleArgs),
    /// Run the program at finite widths over many seeds: the size of every quantity
    /// against the width and its fitted log–log slope.
    #[command(long_about = SIMULATE_ABOUT)]
    Simulate(SimulateArgs),
    /// The infinite-width limit: the normalized program's Z-recursion (text or LaTeX) and
    /// the values of every scalar and of every vector's second moment, with errors.
    #[command(long_about = LIMIT_ABOUT)]
    Limit(LimitArgs),
    /// Derive the exponents, simulate finite widths, and judge: one PASS/FAIL verdict per
    /// quantity and step (slope against derived exponent) and per limit. Exit 1 on a FAIL.
    #[command(long_about = CHECK_ABOUT)]
    Check(CheckArgs),
    /// Combine the sweep files of `--shard K/M` runs into the whole sweep, byte for byte
    /// the file a single `--output` run writes.
    #[command(long_about = MERGE_ABOUT)]
    Merge(MergeArgs),
}

/// Options shared by every subcommand.
#[derive(Args)]
struct Common {
    /// The `.tp` program to analyse.
    file: PathBuf,
    /// Override a parameter or activation, e.g. `--set L=5 --set act=relu` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// The long help of `tp show`.
const SHOW_ABOUT: &str = "\
Print the elaborated Tensor Program: the title, the width, the activations, the initial
matrices (normalized to N(0, 1/n) entries), the independent Gaussian sources, then one
instruction per line with its width factor n^e, grouped by SGD step. Trained weights
appear as the initial matrix plus rank-one updates: `W2.x1_1 - 0.5 * n * chi_0 *
<x1_0,x1_1> * dh2_0`, where <a,b> = (1/n) a^T b.

JSON (--json), schema \"tp-show/1\": {schema, title, width, symbols, matrices, sources,
activations: [{name, body}], instructions: [{name, kind, coef, exponent, text, op,
family, input, step, layer, role}]}; exponent is an exact string such as \"-1/2\" or
\"1/2 - a2 - b2\"; family and step identify the same quantity of the same input across
SGD steps.

Exit status: 0 on success, 2 on bad input.";

/// The long help of `tp scale`.
const SCALE_ABOUT: &str = "\
How every quantity scales with the width n, and the regime.

One row per quantity and step: the exponent e with RMS = Theta(n^e) (for a scalar, the
scalar itself) and the exponent of its change since step 0 (-inf: exactly zero). The
regime follows Yang and Hu: stable (no forward quantity grows with n), nontrivial (the
output moves by Theta(1)), feature learning (the last layer's features move by
Theta(1)), per layer as well, and r with Delta x^L_t = Theta(n^-r). --trace adds, under
each row, the rule that gave it and the dominant term of sums.

Programs with symbols (`param a, c symbolic`) are analysed region by region of the
symbols' space. Their exponents are exact max-min expressions that hold where the
program is stable, and the regime is given as conditions on the symbols instead of
true/false: `stable ⟺ ...`, one `first blow-up is X (step t) ⟺ ...` per forward
quantity that is the first to grow somewhere, and where the program is nontrivial,
feature learning, and learns features in each layer (if stable). Boundaries are exact:
a quantity whose exponent is exactly 0 is Theta(1), which is not a blow-up. More than
4096 regions is refused with a hint (give some symbols values with --set).

JSON (--json), schema \"tp-scale/1\": {schema, symbols, regions, regime: {stable,
nontrivial, feature_learning (true, false, or null when it depends on the symbols),
summary, conditions: [str], stable_condition, nontrivial_condition,
feature_learning_condition, first_blowups: [{name, step, condition, regions}],
blowup: {name, step, exponent} | null, layers: [{layer, feature_learning, condition,
regions}], r}, quantities: [{name, family, step, exponent, delta_exponent, trace}]}.
Exponents are exact strings (\"-1/2\", \"1/2 - a3 - b3\", \"-inf\").

A condition is {condition, regions}: the text as printed, and the same set of symbol
values as a union (outer list) of conjunctions (inner lists) of affine inequalities;
[] is false and [[]] is true. An inequality {coeffs: {SYMBOL: \"p/q\", ...},
constant: \"p/q\", relation: \">=\" | \">\" | \"=\"} reads
sum_s coeffs[s]*s + constant >= 0 (or > 0, or = 0). The nontrivial, feature-learning
and per-layer conditions are meant where the program is stable (intersect them with
stable_condition); regions is null for a condition too large to expand.

Exit status: 0 on success, 2 on bad input (syntax, semantics, too many regions).";

#[derive(Args)]
struct ScaleArgs {
    #[command(flatten)]
    common: Common,
    /// Print, under each quantity, which rule gave its exponent and which term dominates.
    #[arg(long)]
    trace: bool,
    /// For a depth program with two symbolic exponents (e.g. `resnet_phase.tp`): draw
    /// its phase diagram, the regime derived at every point of a grid of step 1/40 over
    /// [-1/2, 5/2]², to this file: `.svg` or `.png` by its extension.
    #[arg(long, value_name = "FILE.svg|FILE.png")]
    plot: Option<PathBuf>,
    /// Size of the --plot figure in pixels, each side in 200..=8000 [default: 860,600].
    #[arg(long, value_name = "W,H", value_parser = tp::report::style::parse_size)]
    plot_size: Option<(u32, u32)>,
}

#[derive(Args)]
struct ShowArgs {
    #[command(flatten)]
    common: Common,
}

/// The long help of `tp simulate`.
const SIMULATE_ABOUT: &str = "\
Run the program at finite widths over many seeds: the size of every quantity against the
width and its fitted log-log slope.

Every (width, seed) pair is one sample of the network: its Gaussian matrices and vectors
are drawn from the seed (nested across widths: the same seed grows the same network), the
instructions are executed, and for every non-auxiliary quantity tp records the RMS of a
vector, the value of a scalar, and the size of its change since step 0 (RMS of v_t - v_0).
For a vector, the slope of log2(RMS) against log2(n) is fitted per seed and the mean
slope is reported with a 95% Student t interval over seeds. A scalar may change sign from
seed to seed, so its size is the root mean square over seeds at each width; its slope has a
95% delete-one jackknife interval over seeds. Quantities that are exactly zero at every
width are reported as such.

Results are bit-identical for a given seed whatever --threads is. A NaN or an overflow is
reported as a blow-up (quantity, step, width, seed); nothing after it is computed in that
run. A request that does not fit in memory is refused before anything is allocated.

JSON (--json), schema \"tp-simulate/1\": {schema, program, widths, seeds, confidence,
quantities: [{name, family, input, step, layer, role, kind, rms: [[width, mean, stderr]...],
samples, value (scalars: signed value), slope, ci: [lo, hi], fit, delta_rms, delta_slope,
delta_ci, delta_fit}], blowups: [{name, step, width, seed, kind, bad_entries}]}.

Exit status: 0 on success (blow-ups are results, not errors), 2 on bad input.";

/// Per-seed data of `tp simulate` and `tp check`.
#[derive(Args)]
struct DataArgs {
    /// Also write every per-seed measurement to this file as CSV, one row per (quantity,
    /// statistic, step, size, seed): columns quantity,statistic,step,size_name,size,width,
    /// seed,value (loadable with pandas.read_csv as is; an empty value was not computed;
    /// each family's names: README, "Per-seed CSV").
    #[arg(long, value_name = "FILE.csv")]
    csv: Option<PathBuf>,
    /// With --json: add the same per-seed rows to the JSON as `per_seed`, an array of
    /// objects with the CSV's columns as keys.
    #[arg(long)]
    per_seed: bool,
}

impl DataArgs {
    /// Refuses, before a long run, a `--csv` path that cannot be written or a
    /// `--per-seed` without `--json`.
    fn precheck(&self, json: bool) -> Result<(), tp::TpError> {
        if self.per_seed && !json {
            return Err(tp::TpError::BadOptions {
                message: "`--per-seed` adds the per-seed values to the JSON output".into(),
                hint: "add `--json`, or use `--csv FILE` for the per-seed values as CSV".into(),
            });
        }
        if let Some(path) = &self.csv {
            tp::report::file_writable(path).map_err(|reason| tp::TpError::Data {
                path: path.clone(),
                reason: format!("cannot write the CSV file: {reason}"),
                hint: "give a writable path to --csv".into(),
            })?;
        }
        Ok(())
    }

    /// Writes `--csv` and returns the `per_seed` JSON array when `--per-seed` asks for it;
    /// the rows are built only when one of them does.
    fn export(
        &self,
        rows: impl FnOnce() -> Vec<tp::report::csv::Row>,
    ) -> Result<Option<serde_json::Value>, tp::TpError> {
        if self.csv.is_none() && !self.per_seed {
            return Ok(None);
        }
        let rows = rows();
        if let Some(path) = &self.csv {
            tp::report::csv::write(&rows, path).map_err(|reason| tp::TpError::Data {
                path: path.clone(),
                reason: format!("cannot write the CSV file: {reason}"),
                hint: "give a writable path to --csv".into(),
            })?;
        }
        Ok(self.per_seed.then(|| tp::report::csv::to_json(&rows)))
    }

    /// Writes `--csv`, then prints the report: `text`, or with `--json` the JSON `value`
    /// with the `per_seed` rows added when `--per-seed` asks for them.
    fn report(
        &self,
        json: bool,
        rows: impl FnOnce() -> Vec<tp::report::csv::Row>,
        value: impl FnOnce() -> serde_json::Value,
        text: impl FnOnce() -> String,
    ) -> Result<(), tp::TpError> {
        let per_seed = self.export(rows)?;
        emit(json, || with_per_seed(value(), per_seed), text);
        Ok(())
    }
}

/// A JSON report with the `per_seed` rows of `--per-seed` added, when there are any.
fn with_per_seed(
    mut value: serde_json::Value,
    per_seed: Option<serde_json::Value>,
) -> serde_json::Value {
    if let (Some(rows), Some(object)) = (per_seed, value.as_object_mut()) {
        object.insert("per_seed".into(), rows);
    }
    value
}

#[derive(Args)]
struct SimulateArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    data: DataArgs,
    /// Widths to run, comma-separated [default: 64,128,256,512,1024,2048,4096].
    #[arg(long, value_delimiter = ',', value_name = "N,N,...")]
    widths: Vec<usize>,
    /// Number of seeds per width.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    seeds: u64,
    /// Depths of a depth program (`depth L`), comma-separated [default:
    /// 16,32,...,4096; 16,32,...,256 when the program also has a width].
    #[arg(long, value_delimiter = ',', value_name = "L,L,...")]
    depths: Vec<usize>,
    /// Particle counts of a mean-field program (`particles N`), comma-separated
    /// [default: 64,128,...,2048].
    #[arg(long, value_delimiter = ',', value_name = "N,N,...")]
    particles: Vec<u64>,
    /// First seed: the seeds are S, S+1, ..., S+K-1.
    #[arg(long, default_value_t = 0, value_name = "S")]
    seed: u64,
    /// Worker threads [default: one per core, fewer if memory is short].
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(u64).range(1..=4096))]
    threads: Option<u64>,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    quiet: bool,
    /// Also write coordinate-check plots (one panel per step, log2 axes, at most three
    /// panels side by side) to this file: `.svg` or `.png` by its extension. For a
    /// mean-field program: coordinate histograms of literal SGD at T per N, or, when
    /// every particle starts at one point, one path per seed per N.
    #[arg(long, value_name = "FILE.svg|FILE.png")]
    plot: Option<PathBuf>,
    /// Draw only these quantities or families (e.g. `h2,f_1`) in the --plot figure of a
    /// width program; an unknown name is refused before the run, with the list of names.
    #[arg(long, value_delimiter = ',', value_name = "NAME,NAME,...")]
    plot_only: Vec<String>,
    /// Size of the whole --plot figure in pixels, each side in 200..=8000 [default: the
    /// figure's own, growing with its number of panels]; panels share it.
    #[arg(long, value_name = "W,H", value_parser = tp::report::style::parse_size)]
    plot_size: Option<(u32, u32)>,
    /// Mean-field programs: start every particle at the same point w0 (the mean of the
    /// initial law; radius times e1 for a sphere), the identical-initialization experiment
    /// of De Bortoli et al. (2020, Fig. 2). Literal SGD then keeps all particles equal
    /// within a run; across seeds the runs collapse as N grows when beta < 1 and stay
    /// apart when beta = 1.
    #[arg(long)]
    identical_init: bool,
    /// Run only the K-th of M shards of the sweep and write it to --output; combine the M
    /// parts with `tp merge`. Width programs split their (width, seed) cells, mean-field
    /// programs their seeds, round robin (every shard gets a share of every size).
    #[arg(long, value_name = "K/M", value_parser = parse_shard)]
    shard: Option<tp::sim::shard::Shard>,
    /// Also write the raw result of every cell to this sweep file (schema tp-sweep/1;
    /// tp-mf-sweep/1 for a mean-field program), for `tp merge`, `tp check --from` and
    /// `tp simulate --from`.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Read the sweep from this file (`--output`, `tp merge`) instead of running it; the
    /// sizes and seeds are the file's.
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,
    /// Width programs: also run seeds up to this many in total at the largest width,
    /// stored in --output for the law verdicts of `tp check --from` (tp check runs 30).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    law_seeds: Option<u64>,
    /// Print what the sweep and --shard K/M cost, then stop: for a width program the
    /// memory and estimated time of one cell at every width (from a cell timed at n = 1024
    /// or the nearest width), for a mean-field program the memory and particle moves.
    #[arg(long)]
    plan: bool,
}

impl SimulateArgs {
    /// Refuses `--shard` without `--output`, or with a report of part of the seeds.
    fn refuse_partial_outputs(&self) -> Result<(), tp::TpError> {
        let reports = self.plot.is_some() || self.data.csv.is_some() || self.common.json;
        let output = self.output.as_ref();
        refuse_partial_outputs(self.plan, self.shard, output, reports, "tp simulate")
    }

    /// Whether any option of sharded width sweeps is given.
    fn sweep_file_options(&self) -> bool {
        self.shard.is_some()
            || self.output.is_some()
            || self.from.is_some()
            || self.law_seeds.is_some()
            || self.plan
    }
}

/// Refuses `--identical-init` on programs that are not mean-field.
fn refuse_identical_init() -> Result<(), tp::TpError> {
    Err(tp::TpError::BadOptions {
        message: "--identical-init applies to mean-field programs only".into(),
        hint: "drop --identical-init, or run a program with a `meanfield` statement".into(),
    })
}

/// `tp simulate`: sweep, statistics, then text or JSON and an optional plot.
fn simulate(args: SimulateArgs) -> Result<(), tp::TpError> {
    let overrides = tp::parse_overrides(&args.common.set)?;
    let program = match tp::load_any(&args.common.file, &overrides)? {
        tp::Compiled::Width(_) if args.identical_init => return refuse_identical_init(),
        tp::Compiled::Width(p) => p,
        tp::Compiled::MeanField(p) => return meanfield_simulate(&p, &args),
        tp::Compiled::Depth(_) if args.sweep_file_options() => return refuse_sweep_files("depth"),
        tp::Compiled::Shaped(_) if args.sweep_file_options() => {
            return refuse_sweep_files("shaped")
        }
        _ if args.identical_init => return refuse_identical_init(),
        tp::Compiled::Depth(p) => return depth_simulate(&p, &args),
        tp::Compiled::Shaped(p) => return shaped_simulate(&p, &args),
    };
    if !args.depths.is_empty() {
        return Err(tp::TpError::BadOptions {
            message: "`--depths` applies to depth programs (`depth L` with a `resnet`)".into(),
            hint: "use `--widths` for a width program".into(),
        });
    }
    let target = plot_target(&args.plot, args.plot_size, &args.plot_only)?;
    check_plot_only(&program, &args.plot_only)?;
    let name = args.common.file.display().to_string();
    let threads = args.threads.map(|t| t as usize);
    args.refuse_partial_outputs()?;
    args.data.precheck(args.common.json)?;
    let (result, law) = match &args.from {
        Some(from) => {
            if args.shard.is_some()
                || args.output.is_some()
                || args.plan
                || args.law_seeds.is_some()
                || !args.widths.is_empty()
            {
                return Err(tp::TpError::BadOptions {
                    message: "--from reads a finished sweep: it takes no --shard, --output, --plan, --law-seeds or --widths".into(),
                    hint: "drop those options; the widths and seeds are the file's".into(),
                });
            }
            sweep_from_file(from, &program)?
        }
        None => {
            let grid = sweep_grid(
                &args.widths,
                seed_list(args.seed, args.seeds)?,
                args.law_seeds,
            )?;
            tp::sim::check_request(&program, &grid.widths, &grid.seeds, threads)?;
            if args.plan {
                print!("{}", sweep_plan_text(&program, &name, &grid, args.shard)?);
                return Ok(());
            }
            match (&args.output, args.shard) {
                (None, _) => (
                    with_progress(args.quiet, |progress| {
                        tp::sim::sweep(&program, &grid.widths, &grid.seeds, threads, Some(progress))
                    })?,
                    None,
                ),
                (Some(output), shard) => {
                    let run = SweepRun {
                        program: &program,
                        name: &name,
                        grid: &grid,
                        shard,
                        threads,
                        quiet: args.quiet,
                    };
                    match run_to_file(&run, output)? {
                        Some(results) => results,
                        None => return Ok(()),
                    }
                }
            }
        }
    };
    let per_seed = args
        .data
        .export(|| tp::report::csv::width_rows(&result, law.as_ref()))?;
    let title = match &program.title {
        Some(t) => format!("{t} ({name})"),
        None => name,
    };
    let report = tp::report::SimulationReport::new(&title, program.title.as_deref(), result);
    if let Some(target) = &target {
        let mut figure = report.figure(&tp::report::plot::Predictions::default());
        if !args.plot_only.is_empty() {
            figure.restrict(&args.plot_only);
        }
        write_plot(&figure, target)?;
    }
    emit(
        args.common.json,
        || with_per_seed(report.json(), per_seed),
        || report.text(),
    );
    Ok(())
}

/// The seeds `first, first + 1, …` (`count` of them), refused when they would pass
/// 2^64 − 1 (wrapping around to 0 would silently reuse seeds).
fn seed_list(first: u64, count: u64) -> Result<Vec<u64>, tp::TpError> {
    let last = count
        .checked_sub(1)
        .map_or(Some(first), |k| first.checked_add(k));
    if last.is_none() {
        return Err(tp::TpError::BadOptions {
            message: format!(
                "`--seed {first}` with `--seeds {count}` would need seeds beyond 2^64 - 1 = {}",
                u64::MAX
            ),
            hint: format!("use `--seed {}` or less", u64::MAX - (count - 1)),
        });
    }
    Ok((0..count).map(|k| first + k).collect())
}

/// Prints a report as pretty JSON (`--json`) or as text; only the chosen one is built.
fn emit(json: bool, value: impl FnOnce() -> serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&value()).unwrap_or_default()
        );
    } else {
        print!("{}", text());
    }
}

/// The `--plot` target, checked before the (long) run rather than after it: a known
/// extension, a writable path, and no `--plot-size`/`--plot-only` without `--plot`.
fn plot_target(
    plot: &Option<PathBuf>,
    size: Option<(u32, u32)>,
    only: &[String],
) -> Result<Option<tp::report::style::PlotTarget>, tp::TpError> {
    let Some(path) = plot else {
        if size.is_some() || !only.is_empty() {
            return Err(tp::TpError::BadOptions {
                message: "`--plot-size` and `--plot-only` shape the figure of `--plot`".into(),
                hint: "add `--plot FILE.svg` (or `FILE.png`)".into(),
            });
        }
        return Ok(None);
    };
    tp::report::style::check_writable(path).map_err(|reason| tp::TpError::Plot {
        path: path.clone(),
        reason,
    })?;
    Ok(Some(tp::report::style::PlotTarget {
        path: path.clone(),
        size,
    }))
}

/// Writes a figure to its `--plot` target, as SVG or PNG by the file's extension.
fn write_plot(
    plot: &impl tp::report::style::Plot,
    target: &tp::report::style::PlotTarget,
) -> Result<(), tp::TpError> {
    tp::report::style::write_plot(plot, target).map_err(|reason| tp::TpError::Plot {
        path: target.path.clone(),
        reason,
    })
}

/// Refuses `--plot-only` names that are neither a quantity nor a family of the width
/// program, before its run; the error lists the names there are.
fn check_plot_only(program: &tp::ir::Program, only: &[String]) -> Result<(), tp::TpError> {
    let available: std::collections::BTreeSet<String> = tp::sim::quantities(program)
        .into_iter()
        .flat_map(|q| std::iter::once(q.name).chain(q.family))
        .collect();
    tp::report::plot::check_only(only, &available).map_err(|message| tp::TpError::BadOptions {
        message,
        hint: "give quantity names (`h2_1`) or family names (`h2`), comma-separated".into(),
    })
}

/// Refuses `--plot` where a family has no figure, rather than ignoring it silently.
fn refuse_plot(asked: bool, command: &str, family: &str) -> Result<(), tp::TpError> {
    if !asked {
        return Ok(());
    }
    Err(tp::TpError::BadOptions {
        message: format!("`{command} --plot` has no figure for a {family} program"),
        hint: "drop --plot; `--csv FILE` writes every per-seed number to plot it yourself".into(),
    })
}

/// Refuses `--plot-only` on a figure that is not drawn per quantity.
fn refuse_plot_only(only: &[String], what: &str) -> Result<(), tp::TpError> {
    if only.is_empty() {
        return Ok(());
    }
    Err(tp::TpError::BadOptions {
        message: format!("`--plot-only` picks curves of width programs; {what}"),
        hint: "drop `--plot-only` (`--plot-size` and `.png` apply)".into(),
    })
}

/// Runs `work` with a progress callback `(done, total, message)` that drives a bar on
/// stderr labelled `label`, shown only when the run takes longer than a second, stderr
/// is a terminal and `quiet` is off.
fn with_bar<T>(
    quiet: bool,
    label: &str,
    work: impl FnOnce(&(dyn Fn(u64, u64, String) + Sync)) -> T,
) -> T {
    use std::io::IsTerminal;
    let show_progress = !quiet && std::io::stderr().is_terminal();
    let bar = progress_bar(show_progress, label);
    let report_progress = |done: u64, total: u64, message: String| {
        bar.set_length(total);
        bar.set_position(done);
        bar.set_message(message);
    };
    let out = std::thread::scope(|scope| {
        let (done, waiting) = std::sync::mpsc::channel::<()>();
        if show_progress {
            let bar = bar.clone();
            scope.spawn(move || {
                if waiting
                    .recv_timeout(std::time::Duration::from_secs(1))
                    .is_err()
                {
                    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                    bar.enable_steady_tick(std::time::Duration::from_millis(200));
                }
            });
        }
        let out = work(&report_progress);
        let _ = done.send(());
        out
    });
    bar.finish_and_clear();
    out
}

/// [`with_bar`] for a width × seed sweep.
fn with_progress<T>(quiet: bool, work: impl FnOnce(tp::sim::ProgressFn<'_>) -> T) -> T {
    with_bar(quiet, "simulating", |tick| {
        let adapt = |p: tp::sim::SweepProgress| {
            tick(
                p.work_done,
                p.work_total,
                format!("{}/{} runs", p.jobs_done, p.jobs_total),
            )
        };
        work(&adapt)
    })
}

/// [`with_bar`] for the populations of a limit evaluation.
fn with_limit_progress<T>(
    quiet: bool,
    work: impl FnOnce(&(dyn Fn(usize, usize) + Sync)) -> T,
) -> T {
    with_bar(quiet, "limit", |tick| {
        let adapt = |done: usize, total: usize| {
            tick(
                done as u64,
                total as u64,
                format!("{done}/{total} populations"),
            )
        };
        work(&adapt)
    })
}

/// A progress bar on stderr, hidden until shown (see [`with_bar`]).
fn progress_bar(enabled: bool, label: &str) -> indicatif::ProgressBar {
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::hidden());
    if enabled {
        let template = format!("{label} {{bar:40}} {{percent:>3}}% {{msg}} (eta {{eta}})");
        if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
    }
    bar
}

/// The long help of `tp limit`.
const LIMIT_ABOUT: &str = "\
The infinite-width limit of the program.

Every quantity v of size n^e (from `tp scale`) is replaced by n^-e v; terms of lower
order are dropped. The Tensor Program rules then give one equation per quantity: an
initial vector is a combination of independent base Gaussians; W x becomes
Zhat^{W x} + Zdot^{W x}, where the Zhat of one matrix are jointly Gaussian with
Cov(Zhat^{Wx}, Zhat^{Wy}) = E[Z^x Z^y] (W and W^T are different matrices) and
Zdot^{Wx} = sum_j E[dZ^x / dZhat^{W^T y_j}] Z^{y_j}; a mean becomes an expectation.

Values come in two tiers. First the exact ones: 0 by symmetry, products over
independent families, closed forms (Gaussian covariances, arc-cosine kernels of
ReLU/step, arcsine kernel of erf) and quadrature when an integrand reads at most 2
independent normals. Everything else comes from a population: K joint samples of every
Z carried through the equations in order (--samples, default 2^21), split into
--replicates independent populations (default 16). A new Zhat is the next row of a
Cholesky factor of its family's population covariance; an expectation is a population
mean; a Zdot coefficient solves Stein's lemma E[G Z] = Cov(G) E[dZ/dG] over the base
Gaussians G of its family, with the population's own moments. The reported error is the
standard error over the populations, which carries the noise of covariances and
coefficients into everything computed from them. --precision TOL adds populations until
every scalar's error is at most TOL or --max-samples is reached, and the last section
says which. Every value carries its error and its method; the Zdot coefficients are
listed with theirs.

An equation in which a function that jumps at 0 (step, relu') meets a Z that is exactly
0 with positive probability is printed with [no limit value: ...], and so is everything
computed from it: the master theorem needs pseudo-Lipschitz functions, and at finite
width the function sees the sign of a small remainder there.

Scalars are reported as limits of the scalar itself: 0 when it vanishes (with the
normalized value), the value when it is of order 1, `diverges` when it grows, and no
value when it is random in the limit (e.g. a central-limit fluctuation of order 1).

Cost: linear in the population and in the size of the equations; the README's table
(regenerated by `cargo run --release --example limit_cost`) gives the wall time against
steps, depth and K. Memory: the columns alive at once times K per population, at most
4 GiB in all (fewer populations at a time, then smaller ones; refused beyond that).

Scalars that stay random in the limit (the kernel regime's outputs) get a law: mean,
standard deviation and, when the scalar is affine in the base Gaussians (central-limit
means of a source vector against a vector independent of it), \"Gaussian\" with its
covariance across steps; the later steps come from the tangent program of the program
in its loss derivatives. Otherwise the law is printed as undetermined, with the reason.

JSON (--json), schema \"tp-limit/1\": {schema, equations: [str], latex: [str],
scalars: [{name, step, exponent, value, stderr, method, normalized, auxiliary}],
vectors: [{name, step, exponent, second_moment, stderr, method}],
coefficients: [{name, of, by, value, stderr, method}],
sampling: {samples, replicates, worst: {name, stderr}, target, reached,
bytes_per_population} | null, laws (only when some scalar is random): [{name, step,
normalized, exponent, auxiliary, gaussian, mean, mean_stderr, sd, sd_stderr,
covariance: {name: value}} or {..., gaussian: null, reason}]}.

A program with free symbols is refused (exit 2): give every symbol a value with --set
(`tp scale` derives the symbolic exponents and conditions).

Exit status: 0 on success, 2 on bad input (syntax, semantics, free symbols).";

#[derive(Args)]
struct LimitArgs {
    #[command(flatten)]
    common: Common,
    /// Print the equations in LaTeX instead of text.
    #[arg(long)]
    latex: bool,
    /// Population size: joint samples of every Z, over all populations.
    #[arg(long, default_value_t = 1 << 21, value_name = "K",
          value_parser = clap::value_parser!(u64).range(100..=100_000_000))]
    samples: u64,
    /// Seed of the populations.
    #[arg(long, default_value_t = 0, value_name = "S")]
    seed: u64,
    /// Take every value from the populations (no closed forms, no quadrature).
    #[arg(long)]
    monte_carlo: bool,
    /// Independent populations; the samples are split between them and their spread
    /// gives the reported errors.
    #[arg(long, default_value_t = 16, value_name = "R",
          value_parser = clap::value_parser!(u64).range(2..=1000))]
    replicates: u64,
    /// Add populations until every scalar's error is at most TOL (or --max-samples is
    /// reached; the report says which).
    #[arg(long, value_name = "TOL", value_parser = parse_precision)]
    precision: Option<f64>,
    /// The most samples --precision may use.
    #[arg(long, default_value_t = 1 << 24, value_name = "K",
          value_parser = clap::value_parser!(u64).range(100..=1_000_000_000))]
    max_samples: u64,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    quiet: bool,
}

/// A `--precision`: a finite number > 0.
fn parse_precision(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(t) if t.is_finite() && t > 0.0 => Ok(t),
        _ => Err(format!("`{text}` is not a number > 0")),
    }
}

/// `tp limit`: derive, evaluate, print.
fn limit(args: LimitArgs) -> Result<(), tp::TpError> {
    let overrides = tp::parse_overrides(&args.common.set)?;
    let program = match tp::load_any(&args.common.file, &overrides)? {
        tp::Compiled::Width(p) => p,
        tp::Compiled::Depth(p) => return depth_limit(&p, &args),
        tp::Compiled::Shaped(p) => return shaped_limit(&p, &args),
        tp::Compiled::MeanField(p) => return meanfield_limit(&p, &args),
    };
    let opts = tp::limit::EvalOptions {
        samples: args.samples as usize,
        seed: args.seed,
        monte_carlo_only: args.monte_carlo,
        replicates: args.replicates as usize,
        precision: args.precision,
        max_samples: args.max_samples as usize,
        ..tp::limit::EvalOptions::default()
    };
    let report = with_limit_progress(args.quiet, |progress| {
        tp::limit::limit_with_progress(&program, &opts, progress)
    })?;
    if args.common.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.to_json()).unwrap_or_default()
        );
    } else {
        let name = args.common.file.display().to_string();
        let title = match &program.title {
            Some(t) => format!("{t} ({name})"),
            None => name,
        };
        print!("{}", report.render(&title, args.latex));
    }
    Ok(())
}

/// The long help of `tp check`.
const CHECK_ABOUT: &str = "\
Derive how every quantity scales with the width (as `tp scale`), run the program at finite
widths over many seeds (as `tp simulate`), and judge every derived number against the
measurement. Each (quantity, step) gets a verdict on its size and, from step 1 on, on its
change since step 0; each scalar with a derived infinite-width limit gets one on its
convergence.

Rules (each verdict has a p-value; the program's verdicts share a family-wise level of 5%
by Holm's step-down procedure, so a FAIL is significant after ~80 tests). exponent: the
fitted log-log slope against the derived exponent, allowing --tolerance: p is the
Student t p-value of (|slope - e| - tolerance)/SE; a slope interval wider than 1 is
undetermined (FAIL: it cannot tell exponents off by 1/2 apart); a NaN/overflow where a
bounded size was derived is a FAIL. zero: a quantity derived to be exactly 0 must be
exactly 0 at every width and seed. growth: in a program derived to be unstable,
quantities up to and including the first forward quantity that grows are judged by the
exponent rule; after it, a forward quantity (or loss derivative) derived to grow must be
seen to grow (slope interval above 0, or NaN/overflow at or before it); quantities
derived bounded and gradients are listed as not judged (finite widths are pre-asymptotic
there, and gradients pass through act' at a diverging argument). limits: a Θ(1) scalar
with a nonzero derived limit L (and its change since step 0, limit L_t - L_0) is judged
by its convergence, not by its slope: the seed means are extrapolated to n -> infinity by
weighted least squares against the corrections the limit stage derives (n^-1, and
n^-1/2 or lower-order terms where the derivation has them), with a jackknife error over
seeds; PASS when the extrapolated value agrees with L (Student t with the limit's own
error added) and the RMS error |finite - L| does not grow with n. laws: a scalar that
stays random in the limit with a derived Gaussian law N(mu, sigma^2) (`tp limit`) is
judged across --law-seeds seeds at the largest width (the seeds beyond --seeds run at
that width only): Student t of the mean against mu and chi-square of the variance
against sigma^2, p = 2 min(p_mean, p_var).

Programs with free symbols are refused (exit 2): fix them with --set NAME=VALUE.

JSON (--json), schema \"tp-check/1\": {schema, program, pass, failures, widths, seeds,
confidence, tolerance, level, tests, regime, first_blowup, verdicts: [{name, step,
measure (size | change), predicted, slope, ci: [lo, hi], pass, rule, fit, method,
blown_up_runs, p_value, reason}], unchecked: [{name, step, measure, predicted, slope, ci,
reason}], by_limit: [{name, step, measure, limit}], limits_evaluated, limits: [{name,
step, limit, limit_stderr, method, errors: [[width, rms]...], errors_stderr,
mean_deviation: [[width, mean, se]...], rate, rate_ci, z, corrections, extrapolated:
{value, stderr, df, orders} | null, p_value, pass, reason}], laws: [{name, step,
exponent, mean, mean_stderr, sd, samples: [{width, seeds, mean, sd, t, mean_p,
variance_ratio, variance_p}], p_value, pass, reason}], blowups: [...]}.

Depth programs (`depth L`, a `resnet`) sweep --depths (and --widths for the Hayou/Zheng
forms) over 32 seeds by default. Each network's own Gaussian weights are the Brownian
increments of its limit, solved alongside at --refine sub-steps per layer (a synchronous
coupling). Verdicts: exponent: the slopes in L of one layer's increment |h_1 - x| and of
the displacement |h_L - x| against the power counting (in the explosion regime the
increment alone: the state may collapse to a fixed point instead of growing); rate: the
pathwise error sup_k |h_k - H_(k/L)| against the derived rate (L^-1 for an ODE, L^-1/2
with noise, or the largest neglected term); mean/variance: h_L against the limit's
moments (Student t; a kurtosis-aware z for the variance); law: a two-sample
Kolmogorov-Smirnov test where no coupling exists; Hayou/Zheng: the coupled error in L,
|f_L|^2/n, <f_L, v_L>/n and |v_L|^2/n against the width limit's covariance and their
n^-1/2 fluctuations. A symbolic program (e.g. alpha, beta) is checked at one interior
point of every regime of its phase diagram. The slope tolerance is fixed at 0.1 there.
--mutation checks a deliberately wrong derivation. JSON schema \"tp-depth-check/1\":
{schema, title, description, depths, widths, seeds, mutation, pass, failures, points:
[{point, regime, verdicts: [{quantity, against, rule, predicted, measured, p_value,
pass, reason}]}]}.

Mean-field programs (`meanfield`) run literal SGD, the particle system of eq. 6 and the
McKean-Vlasov reference, synchronously coupled, at --particles over 24 seeds by default.
Verdicts: rate: E sup_t |W^N - W^*|^2 (the sup over t = jT/16, the same times at every N)
fitted by the derived terms with nonnegative constants, plus the corrections a
measurement carries (the Euler grid's, either sign; the next order N^-2, nonnegative),
judged by chi-square; at beta = 1 against a nested reference of 8 N_max particles, with
eq. 6 run on up to 8 disjoint blocks of it; common noise: the variance over seeds of the
particles' mean displacement under literal SGD against its derived law; time change: the
risk at T/2 and T converging to the limit's; the toy's closed forms; Proposition 5's
stationary law (alpha = 0, beta = 1, p = 1). JSON schema \"tp-meanfield-check/1\".

Exit status: 0 when every verdict passes, 1 when any fails, 2 on bad input (syntax,
semantics, symbolic parameters, a sweep that does not fit in memory).";

#[derive(Args)]
struct CheckArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    data: DataArgs,
    /// Widths to run, comma-separated [default: 64,128,256,512,1024,2048,4096; 32,64,...,512
    /// for a shaped program].
    #[arg(long, value_delimiter = ',', value_name = "N,N,...")]
    widths: Vec<usize>,
    /// Number of seeds per width [default: 10; 32 for a depth program; 600 networks per
    /// width for a shaped program; 24 per particle count for a mean-field program].
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..=100_000))]
    seeds: Option<u64>,
    /// First seed: the seeds are S, S+1, ..., S+K-1.
    #[arg(long, default_value_t = 0, value_name = "S")]
    seed: u64,
    /// Worker threads [default: one per core, fewer if memory is short].
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(u64).range(1..=4096))]
    threads: Option<u64>,
    /// Depths of a depth program (`depth L`), comma-separated [default:
    /// 16,32,...,4096; 16,32,...,256 when the program also has a width].
    #[arg(long, value_delimiter = ',', value_name = "L,L,...")]
    depths: Vec<usize>,
    /// Particle counts of a mean-field program (`particles N`), comma-separated
    /// [default: 64,128,...,2048].
    #[arg(long, value_delimiter = ',', value_name = "N,N,...")]
    particles: Vec<u64>,
    /// Sub-steps per layer of the limit solve coupled to each network (depth programs).
    #[arg(long, default_value_t = 8, value_name = "R",
          value_parser = clap::value_parser!(u64).range(1..=64))]
    refine: u64,
    /// Check a deliberately wrong derivation, to measure the check's power (it should
    /// FAIL). Depth programs: no-ito, alpha-plus-quarter, zheng-report-sde; shaped
    /// programs: lecture-nu-sign, drift-times-two, no-normalization; mean-field programs:
    /// rate-quarter, independent-noise, stationary-sign.
    #[arg(long, value_name = "NAME")]
    mutation: Option<String>,
    /// How far a slope may be from the derived exponent when the exponent is outside its
    /// 95% interval (finite-width corrections bend log-log lines by about this much).
    #[arg(long, default_value_t = tp::check::DEFAULT_TOLERANCE, value_name = "TOL",
          value_parser = parse_tolerance)]
    tolerance: f64,
    /// Seeds of the law verdicts (scalars that stay random in the limit): the seeds
    /// beyond --seeds are run at the largest width only, for those verdicts.
    #[arg(long, default_value_t = tp::check::DEFAULT_LAW_SEEDS as u64, value_name = "S",
          value_parser = clap::value_parser!(u64).range(2..=100_000))]
    law_seeds: u64,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    quiet: bool,
    /// Also write coordinate-check panels with the derived slopes drawn dashed on top of
    /// the measured ones, in the same colour (and a convergence panel when limits were
    /// checked), to this file: `.svg` or `.png` by its extension. For a mean-field
    /// program: the coupling errors against N with the derived rates.
    #[arg(long, value_name = "FILE.svg|FILE.png")]
    plot: Option<PathBuf>,
    /// Draw only these quantities or families (e.g. `h2,f_1`) in the --plot figure of a
    /// width program; an unknown name is refused before the run, with the list of names.
    #[arg(long, value_delimiter = ',', value_name = "NAME,NAME,...")]
    plot_only: Vec<String>,
    /// Size of the whole --plot figure in pixels, each side in 200..=8000 [default: the
    /// figure's own, growing with its number of panels]; panels share it.
    #[arg(long, value_name = "W,H", value_parser = tp::report::style::parse_size)]
    plot_size: Option<(u32, u32)>,
    /// Do not evaluate the infinite-width limit: Θ(1) scalars are then judged by their
    /// slopes only, and the report says "limits: not evaluated".
    #[arg(long)]
    no_limits: bool,
    /// Judge the sweep in this file (`--output`, `tp merge`) instead of running one; the
    /// sizes, seeds and law seeds are the file's. Width programs read files of `tp
    /// simulate --output` too; mean-field programs only files of `tp check --output`.
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,
    /// Run only the K-th of M shards of the check's sweep and write it to --output, without
    /// verdicts; combine the M parts with `tp merge` and judge them with --from. Width
    /// programs split their (width, seed) cells (law seeds included), mean-field programs
    /// their seeds (at every checked point).
    #[arg(long, value_name = "K/M", value_parser = parse_shard)]
    shard: Option<tp::sim::shard::Shard>,
    /// Also write the check's raw sweep to this file (tp-sweep/1, tp-mf-sweep/1), for
    /// `tp merge` and --from.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print what the check's sweep and --shard K/M cost (memory, and time estimated from
    /// a timed cell or seed), then stop.
    #[arg(long)]
    plan: bool,
    /// Population size of the limit evaluation (see `tp limit --samples`).
    #[arg(long, default_value_t = 1 << 21, value_name = "K",
          value_parser = clap::value_parser!(u64).range(100..=100_000_000))]
    limit_samples: u64,
}

/// A `--tolerance`: a finite number ≥ 0.
fn parse_tolerance(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 0.0 => Ok(t),
        _ => Err(format!("`{text}` is not a number ≥ 0")),
    }
}

impl CheckArgs {
    /// Refuses `--shard` without `--output`, or with a report of part of the seeds.
    fn refuse_partial_outputs(&self) -> Result<(), tp::TpError> {
        let reports = self.plot.is_some() || self.data.csv.is_some() || self.common.json;
        let output = self.output.as_ref();
        refuse_partial_outputs(self.plan, self.shard, output, reports, "tp check")
    }

    /// Whether any sweep-file option is given.
    fn sweep_file_options(&self) -> bool {
        self.from.is_some() || self.shard.is_some() || self.output.is_some() || self.plan
    }
}

/// Refuses `--from` together with options that run a sweep.
fn refuse_from_with_run(args: &CheckArgs) -> Result<(), tp::TpError> {
    if args.shard.is_some() || args.output.is_some() || args.plan {
        return Err(tp::TpError::BadOptions {
            message: "--from judges a finished sweep: it takes no --shard, --output or --plan"
                .into(),
            hint: "drop --shard, --output and --plan".into(),
        });
    }
    Ok(())
}

/// The inputs of `tp check` besides the program: the single place where the limit stage
/// is wired in. `limits: None` makes the report say "limits: not evaluated".
fn check_inputs(
    program: &tp::ir::Program,
    args: &CheckArgs,
) -> Result<tp::check::CheckInputs, tp::TpError> {
    if args.no_limits {
        return Ok(tp::check::CheckInputs {
            limits: None,
            laws: None,
        });
    }
    let opts = tp::limit::EvalOptions {
        samples: args.limit_samples as usize,
        ..tp::limit::EvalOptions::default()
    };
    let report = with_limit_progress(args.quiet, |progress| {
        tp::limit::limit_with_progress(program, &opts, progress)
    })?;
    Ok(tp::check::CheckInputs {
        limits: Some(report.check_values()),
        laws: Some(tp::limit::law::check_values(&report.laws)),
    })
}

/// `tp check`: scale + limits + sweep + verdicts; exits with 1 when a verdict fails.
fn check(args: CheckArgs) -> Result<(), tp::TpError> {
    let overrides = tp::parse_overrides(&args.common.set)?;
    let program = match tp::load_any(&args.common.file, &overrides)? {
        tp::Compiled::Width(p) => p,
        tp::Compiled::MeanField(p) => return meanfield_check(&p, &args),
        tp::Compiled::Depth(_) if args.sweep_file_options() => return refuse_sweep_files("depth"),
        tp::Compiled::Shaped(_) if args.sweep_file_options() => {
            return refuse_sweep_files("shaped")
        }
        tp::Compiled::Depth(p) => return depth_check(&p, &args),
        tp::Compiled::Shaped(p) => return shaped_check(&p, &args),
    };
    if args.mutation.is_some() || !args.depths.is_empty() {
        return Err(tp::TpError::BadOptions {
            message:
                "`--mutation` and `--depths` apply to depth programs (`depth L` with a `resnet`)"
                    .into(),
            hint: "drop them for a width program".into(),
        });
    }
    // Refuse symbolic programs before the (possibly slow) symbolic scale analysis, and
    // a sweep or a plot that cannot be done before the (slow) limit evaluation.
    tp::check::require_numeric(&program)?;
    let widths = if args.widths.is_empty() {
        tp::sim::DEFAULT_WIDTHS.to_vec()
    } else {
        args.widths.clone()
    };
    if widths.len() < 2 {
        // Every verdict compares a log-log slope, which needs two widths.
        return Err(tp::TpError::BadOptions {
            message: format!("`--widths {}`: tp check fits slopes against the width, which needs at least two widths", widths.iter().map(|w| w.to_string()).collect::<Vec<_>>().join(",")),
            hint: "give two or more widths, e.g. `--widths 64,128,256`".into(),
        });
    }
    let threads = args.threads.map(|t| t as usize);
    let target = plot_target(&args.plot, args.plot_size, &args.plot_only)?;
    check_plot_only(&program, &args.plot_only)?;
    args.refuse_partial_outputs()?;
    args.data.precheck(args.common.json)?;
    if args.plan && args.from.is_none() {
        let seeds = seed_list(args.seed, args.seeds.unwrap_or(10))?;
        let grid = sweep_grid(&widths, seeds, Some(args.law_seeds))?;
        tp::sim::check_request(&program, &grid.widths, &grid.seeds, threads)?;
        let name = args.common.file.display().to_string();
        print!("{}", sweep_plan_text(&program, &name, &grid, args.shard)?);
        return Ok(());
    }
    let report = match &args.from {
        Some(from) => {
            refuse_from_with_run(&args)?;
            if !args.widths.is_empty() || args.seeds.is_some() {
                return Err(tp::TpError::BadOptions {
                    message: "--from judges a finished sweep: its widths and seeds are the file's"
                        .into(),
                    hint: "drop --widths and --seeds".into(),
                });
            }
            let (result, law) = sweep_from_file(from, &program)?;
            if result.widths.len() < 2 || result.seeds.len() < 2 {
                return Err(tp::TpError::BadOptions {
                    message: format!("`{}` has {} widths and {} seeds; tp check fits slopes over two or more widths and seeds", from.display(), result.widths.len(), result.seeds.len()),
                    hint: "run the sweep with at least two widths and two seeds".into(),
                });
            }
            let inputs = check_inputs(&program, &args)?;
            tp::check::check_finished(&program, result, law, &inputs, args.tolerance)?
        }
        None => {
            let seeds = seed_list(args.seed, args.seeds.unwrap_or(10))?;
            match &args.output {
                Some(output) => {
                    let grid = sweep_grid(&widths, seeds, Some(args.law_seeds))?;
                    tp::sim::check_request(&program, &grid.widths, &grid.seeds, threads)?;
                    let name = args.common.file.display().to_string();
                    let run = SweepRun {
                        program: &program,
                        name: &name,
                        grid: &grid,
                        shard: args.shard,
                        threads,
                        quiet: args.quiet,
                    };
                    let Some((result, law)) = run_to_file(&run, output)? else {
                        return Ok(());
                    };
                    let inputs = check_inputs(&program, &args)?;
                    tp::check::check_finished(&program, result, law, &inputs, args.tolerance)?
                }
                None => {
                    tp::sim::check_request(&program, &widths, &seeds, threads)?;
                    let inputs = check_inputs(&program, &args)?;
                    let options = tp::check::CheckOptions {
                        widths,
                        seeds,
                        threads,
                        tolerance: args.tolerance,
                        law_seeds: args.law_seeds as usize,
                    };
                    with_progress(args.quiet, |progress| {
                        tp::check::run_check(&program, &options, &inputs, Some(progress))
                    })?
                }
            }
        }
    };
    finish_check(&program, &args, &report, target.as_ref())
}

/// The output of a width `tp check`: plot, CSV, report, and exit status 1 on a FAIL.
fn finish_check(
    program: &tp::ir::Program,
    args: &CheckArgs,
    report: &tp::check::CheckReport,
    target: Option<&tp::report::style::PlotTarget>,
) -> Result<(), tp::TpError> {
    use std::io::Write;
    let name = args.common.file.display().to_string();
    let title = match &program.title {
        Some(t) => format!("{t} ({name})"),
        None => name,
    };
    if let Some(target) = target {
        let mut figure = tp::report::check_figure(&title, report);
        if !args.plot_only.is_empty() {
            figure.restrict(&args.plot_only);
        }
        write_plot(&figure, target)?;
    }
    args.data.report(
        args.common.json,
        || tp::report::csv::width_rows(&report.result, report.law_result.as_ref()),
        || tp::report::check_to_json(program.title.as_deref(), report),
        || tp::report::render_check(&title, report),
    )?;
    if !report.pass() {
        // A failed verdict is a result, not an error: the report is printed in full and
        // the exit status (1) tells scripts.
        let _ = std::io::stdout().flush();
        std::process::exit(1);
    }
    Ok(())
}

fn run(cli: Cli) -> Result<(), tp::TpError> {
    match cli.command {
        Command::Show(args) => {
            let overrides = tp::parse_overrides(&args.common.set)?;
            let program = match tp::load_any(&args.common.file, &overrides)? {
                tp::Compiled::Width(p) => p,
                tp::Compiled::Depth(p) => {
                    emit(
                        args.common.json,
                        || tp::report::depth::depth_show_json(&p),
                        || tp::report::depth::render_depth_program(&p),
                    );
                    return Ok(());
                }
                tp::Compiled::Shaped(p) => {
                    emit(
                        args.common.json,
                        || tp::report::shaped::shaped_show_json(&p),
                        || tp::report::shaped::render_shaped_program(&p),
                    );
                    return Ok(());
                }
                tp::Compiled::MeanField(p) => {
                    emit(
                        args.common.json,
                        || tp::report::meanfield::show_json(&p),
                        || tp::report::meanfield::show_text(&p),
                    );
                    return Ok(());
                }
            };
            emit(
                args.common.json,
                || tp::ir::program_to_json(&program),
                || tp::ir::render_program(&program),
            );
            Ok(())
        }
        Command::Scale(args) => {
            let overrides = tp::parse_overrides(&args.common.set)?;
            let program = match tp::load_any(&args.common.file, &overrides)? {
                tp::Compiled::Width(p) => p,
                tp::Compiled::Depth(p) => {
                    let derivation = tp::depth::derive::derive(&p, None);
                    if let Some(target) = plot_target(&args.plot, args.plot_size, &[])? {
                        let map = tp::report::phase_plot::phase_map(&derivation.counting, &p.symbols)
                            .map_err(|e| tp::TpError::BadOptions {
                                message: format!("cannot draw the phase diagram: {e}"),
                                hint: "`--plot` draws programs with two symbolic exponents; fix the others with --set NAME=VALUE".into(),
                            })?;
                        let title = p.title.clone().unwrap_or_else(|| "phase diagram".into());
                        let figure = tp::report::phase_plot::PhaseFigure {
                            map: &map,
                            title: &title,
                        };
                        write_plot(&figure, &target)?;
                    }
                    emit(
                        args.common.json,
                        || tp::report::depth::depth_scale_json(&p, &derivation),
                        || tp::report::depth::render_depth_scale(&p, &derivation),
                    );
                    return Ok(());
                }
                tp::Compiled::Shaped(p) => {
                    let derivation = shaped_derivation(&p, None)?;
                    emit(
                        args.common.json,
                        || tp::report::shaped::shaped_scale_json(&p, &derivation),
                        || tp::report::shaped::render_shaped_scale(&p, &derivation),
                    );
                    return Ok(());
                }
                tp::Compiled::MeanField(p) => {
                    let derivation = tp::meanfield::derive::derive(&p, None);
                    emit(
                        args.common.json,
                        || tp::report::meanfield::scale_json(&p, &derivation),
                        || tp::report::meanfield::scale_text(&p, &derivation),
                    );
                    return Ok(());
                }
            };
            if args.plot.is_some() || args.plot_size.is_some() {
                return Err(tp::TpError::BadOptions {
                    message: "`tp scale --plot` draws the phase diagram of a depth program".into(),
                    hint: "for a width program, `tp simulate --plot` and `tp check --plot` draw coordinate checks".into(),
                });
            }
            let report = tp::scale::analyze(&program)?;
            emit(
                args.common.json,
                || report.to_json(),
                || report.render(args.trace),
            );
            Ok(())
        }
        Command::Simulate(args) => simulate(args),
        Command::Limit(args) => limit(args),
        Command::Check(args) => check(args),
        Command::Merge(args) => merge(args),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
