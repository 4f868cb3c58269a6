//! `tp limit`, `tp simulate` and `tp check` on a mean-field program (`meanfield`),
//! with their sweep files.

use super::sweep_files::{
    check_plans, meanfield_plan_text, meanfield_points, refuse_empty_shard, sweep_file_writable,
    write_text_file,
};
use crate::{
    emit, plot_target, progress_bar, refuse_from_with_run, refuse_plot_only, seed_list, write_plot,
    CheckArgs, LimitArgs, SimulateArgs,
};
use tp::report::meanfield_plot::{MfFigure, MfPanels};

/// A mean-field failure as a command-line error.
pub(crate) fn meanfield_error(what: &str, e: impl std::fmt::Display, hint: &str) -> tp::TpError {
    tp::TpError::BadOptions {
        message: format!("cannot {what}: {e}"),
        hint: hint.into(),
    }
}

/// Parses `--mutation` for a mean-field program, refusing one that changes nothing in it.
pub(crate) fn meanfield_mutation(
    program: &tp::meanfield::MeanFieldProgram,
    name: Option<&str>,
) -> Result<Option<tp::meanfield::derive::MfMutation>, tp::TpError> {
    use tp::meanfield::derive::{derive, MfMutation};
    let Some(name) = name else { return Ok(None) };
    let names: Vec<&str> = MfMutation::all().iter().map(|m| m.name()).collect();
    match MfMutation::from_name(name) {
        Some(m) if m.applies_to(&derive(program, None)) => Ok(Some(m)),
        Some(_) => Err(tp::TpError::BadOptions {
            message: format!("the mutation `{name}` changes nothing this program's check can see"),
            hint: "stationary-sign needs alpha = 0, beta = 1 and one coordinate (Prop. 5); independent-noise needs beta > alpha or the exact spread of a unit linear in w; rate-quarter applies everywhere".into(),
        }),
        None => Err(tp::TpError::BadOptions {
            message: format!("unknown mutation `{name}` for a mean-field program"),
            hint: format!("use one of {}", names.join(", ")),
        }),
    }
}

/// The particle counts asked for, or the check's defaults.
pub(crate) fn meanfield_sizes(particles: &[u64]) -> Vec<u64> {
    if particles.is_empty() {
        tp::check::meanfield::DEFAULT_MF_SIZES.to_vec()
    } else {
        particles.to_vec()
    }
}

/// `tp limit` on a mean-field program: the McKean–Vlasov equations and, when α and β
/// are numbers, their solution (with the toy's closed forms and Prop. 5's stationary law
/// where they apply).
pub(crate) fn meanfield_limit(
    program: &tp::meanfield::MeanFieldProgram,
    args: &LimitArgs,
) -> Result<(), tp::TpError> {
    use tp::meanfield::derive::derive;
    let d = derive(program, None);
    let equations = tp::report::meanfield::equations_text(program, &d, args.latex);
    if !program.symbols.is_empty() {
        emit(
            args.common.json,
            || tp::report::meanfield::limit_json(program, &d, None),
            || {
                format!(
                    "{equations}
values: not evaluated (alpha, beta symbolic; give numbers with --set)
"
                )
            },
        );
        return Ok(());
    }
    let mut opts = tp::meanfield::limit::LimitOptions::for_program(program).map_err(|e| {
        meanfield_error(
            "solve the limit",
            e,
            "give alpha and beta numbers with --set",
        )
    })?;
    opts.seed = args.seed;
    let sol = tp::meanfield::limit::solve_limit(program, &opts)
        .map_err(|e| meanfield_error("solve the limit", e, "see `tp limit --help`"))?;
    let stationary = if d.prop5.applies {
        let gamma = num_traits::ToPrimitive::to_f64(&program.gamma).unwrap_or(f64::NAN);
        tp::meanfield::stationary::stationary_law(
            program,
            gamma,
            program.batch,
            d.stationary_sign,
            &tp::meanfield::stationary::StationaryOptions::default(),
        )
        .ok()
    } else {
        None
    };
    let closed: Option<Vec<(f64, f64, f64)>> =
        tp::meanfield::toy::Toy::detect(program).map(|toy| {
            sol.times
                .iter()
                .map(|&t| (t, toy.mean(t), toy.variance(t, toy.v0)))
                .collect()
        });
    emit(
        args.common.json,
        || {
            let values = tp::report::meanfield_check::limit_values_json(
                &sol,
                stationary.as_ref(),
                closed.as_deref(),
            );
            tp::report::meanfield::limit_json(program, &d, Some(values))
        },
        || {
            equations.clone()
                + &tp::report::meanfield_check::limit_values_text(
                    &sol,
                    stationary.as_ref(),
                    closed.as_deref(),
                )
        },
    );
    Ok(())
}

/// `tp simulate` on a mean-field program: the three coupled dynamics at every N and seed
/// (or a sweep file's), with the sweep-file options `--shard`, `--output`, `--from` and
/// `--plan`.
pub(crate) fn meanfield_simulate(
    program: &tp::meanfield::MeanFieldProgram,
    args: &SimulateArgs,
) -> Result<(), tp::TpError> {
    use tp::meanfield::shard::{self as mf_shard, Purpose};
    let identical;
    let program = if args.identical_init {
        let mut p = program.clone();
        p.init = tp::meanfield::model::InitLaw::Point(p.init.center(p.dim));
        identical = p;
        &identical
    } else {
        program
    };
    if args.law_seeds.is_some() {
        return Err(tp::TpError::BadOptions {
            message: "--law-seeds applies to width programs".into(),
            hint: "drop --law-seeds; use --seeds for more runs of a mean-field program".into(),
        });
    }
    let hint = "give alpha and beta numbers with --set, or fewer particles (`--particles`)";
    let target = plot_target(&args.plot, args.plot_size, &args.plot_only)?;
    refuse_plot_only(
        &args.plot_only,
        "a mean-field figure has no per-quantity curves",
    )?;
    args.refuse_partial_outputs()?;
    args.data.precheck(args.common.json)?;
    let sweep = match &args.from {
        Some(from) => {
            if args.shard.is_some()
                || args.output.is_some()
                || args.plan
                || !args.particles.is_empty()
            {
                return Err(tp::TpError::BadOptions {
                    message: "--from reads a finished sweep: it takes no --shard, --output, --plan or --particles".into(),
                    hint: "drop those options; the particle counts and seeds are the file's".into(),
                });
            }
            let record = meanfield_points(from, program, Purpose::Simulate)?
                .into_iter()
                .next()
                .ok_or_else(|| tp::TpError::Data {
                    path: from.clone(),
                    reason: "the sweep file holds no sweep".into(),
                    hint: "run `tp simulate --output` again".into(),
                })?;
            record
                .into_sweep(program)
                .map_err(|e| meanfield_error("read the sweep", e, hint))?
        }
        None => {
            let opts = meanfield_sim_options(program, args)?;
            tp::meanfield::simulate::plan(program, &opts)
                .map_err(|e| meanfield_error("simulate", e, hint))?;
            let name = args.common.file.display().to_string();
            let runs = [(Vec::new(), program, &opts)];
            if args.plan {
                print!("{}", meanfield_plan_text(&name, &runs, args.shard)?);
                return Ok(());
            }
            if let Some(output) = &args.output {
                sweep_file_writable(output)?;
                refuse_empty_shard(&opts.seeds, args.shard)?;
                if !args.quiet {
                    eprint!("{}", meanfield_plan_text(&name, &runs, args.shard)?);
                }
            }
            let mut own = opts.clone();
            own.seeds = mf_shard::shard_seeds(&opts.seeds, args.shard);
            let plan = tp::meanfield::simulate::plan(program, &own)
                .map_err(|e| meanfield_error("simulate", e, hint))?;
            if !args.quiet && args.output.is_none() {
                eprintln!(
                    "planned: {:.1} MiB, {} particle steps",
                    plan.bytes as f64 / (1u64 << 20) as f64,
                    plan.particle_steps
                );
            }
            let bar = progress_bar(
                !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
                "simulate",
            );
            bar.set_length(plan.particle_steps);
            let tick = |k: u64| bar.inc(k);
            let mut record =
                mf_shard::run_point(program, Vec::new(), &opts, args.shard, Some(&tick))
                    .map_err(|e| meanfield_error("simulate", e, hint))?;
            bar.finish_and_clear();
            if let Some(output) = &args.output {
                let cells = record.cells.len();
                let mut file = mf_shard::MfSweepFile::new(
                    &name,
                    program,
                    Purpose::Simulate,
                    args.shard,
                    vec![record],
                );
                write_text_file(&mf_shard::to_text(&file), output)?;
                if let Some(shard) = args.shard {
                    println!(
                        "shard {shard}: {} of {} seeds ({cells} cells) -> {}",
                        own.seeds.len(),
                        opts.seeds.len(),
                        output.display()
                    );
                    return Ok(());
                }
                record = file.points.swap_remove(0);
            }
            record
                .into_sweep(program)
                .map_err(|e| meanfield_error("simulate", e, hint))?
        }
    };
    if let Some(target) = &target {
        let title = program.display_name();
        if matches!(program.init, tp::meanfield::model::InitLaw::Point(_)) {
            // A point mass has no histogram: every particle of literal SGD stays at one
            // point, so the figure is that point's path in each run.
            let panels = tp::report::meanfield_check::trajectory_panels(&sweep);
            write_mf_figure(&title, 3, MfPanels::Trajectories(&panels), target)?;
        } else {
            let seed = sweep
                .cells
                .iter()
                .map(|c| c.seed)
                .min()
                .unwrap_or(args.seed);
            let panel = tp::report::meanfield_check::histogram_panel(
                &format!(
                    "coordinate 1 of literal SGD at T (alpha = {}, beta = {}), seed {seed}",
                    program.alpha, program.beta
                ),
                &sweep,
                seed,
            );
            let panels = [panel];
            write_mf_figure(&title, 1, MfPanels::Histograms(&panels), target)?;
        }
    }
    args.data.report(
        args.common.json,
        || tp::report::csv::meanfield_rows(&sweep),
        || tp::report::meanfield_check::sweep_json(program, &sweep),
        || tp::report::meanfield_check::render_sweep(program, &sweep),
    )?;
    Ok(())
}

/// Draws a mean-field figure of `panels` in `columns` columns to `target`.
fn write_mf_figure(
    title: &str,
    columns: usize,
    panels: MfPanels<'_>,
    target: &tp::report::style::PlotTarget,
) -> Result<(), tp::TpError> {
    let figure = MfFigure {
        title,
        columns,
        panels,
    };
    write_plot(&figure, target)
}

/// The simulation options of `tp simulate` on a mean-field program.
pub(crate) fn meanfield_sim_options(
    program: &tp::meanfield::MeanFieldProgram,
    args: &SimulateArgs,
) -> Result<tp::meanfield::simulate::SimOptions, tp::TpError> {
    use tp::meanfield::horizon::{gamma_step, numeric, steps_to_horizon};
    let hint = "give alpha and beta numbers with --set, or fewer particles (`--particles`)";
    let alpha =
        numeric(&program.alpha, "alpha").map_err(|e| meanfield_error("simulate", e, hint))?;
    let d = tp::meanfield::derive::derive(program, None);
    let mut schedules = Vec::new();
    for n in meanfield_sizes(&args.particles) {
        schedules.push(tp::meanfield::simulate::SizeSchedule {
            size: n,
            steps: steps_to_horizon(program, n)
                .map_err(|e| meanfield_error("simulate", e, hint))?,
            step: gamma_step(program, n)
                .map_err(|e| meanfield_error("simulate", e, hint))?
                .value,
        });
    }
    let seeds = seed_list(args.seed, args.seeds)?;
    let mut opts = tp::meanfield::simulate::SimOptions::new(
        schedules,
        seeds,
        num_traits::ToPrimitive::to_f64(&alpha).unwrap_or(f64::NAN),
        d.regime == Some(tp::meanfield::derive::MfRegime::Sde),
    );
    opts.threads = args.threads.map(|t| t as usize);
    Ok(opts)
}

/// `tp check` on a mean-field program: the dynamics at several N against the derived
/// limit and rates; exits with 1 when a verdict fails.
pub(crate) fn meanfield_check(
    program: &tp::meanfield::MeanFieldProgram,
    args: &CheckArgs,
) -> Result<(), tp::TpError> {
    use std::io::Write;
    use tp::check::meanfield as mf_check;
    use tp::meanfield::shard::{self as mf_shard, Purpose};
    let mutation = meanfield_mutation(program, args.mutation.as_deref())?;
    let threads = args.threads.map(|t| t as usize);
    let target = plot_target(&args.plot, args.plot_size, &args.plot_only)?;
    refuse_plot_only(
        &args.plot_only,
        "a mean-field figure has no per-quantity curves",
    )?;
    args.refuse_partial_outputs()?;
    args.data.precheck(args.common.json)?;
    let failed = |e: mf_check::MfCheckError| {
        meanfield_error(
            "check the mean-field program",
            e,
            "see `tp check --help` (`--particles`, `--seeds`)",
        )
    };
    let report = match &args.from {
        Some(from) => {
            refuse_from_with_run(args)?;
            if !args.particles.is_empty() || args.seeds.is_some() {
                return Err(tp::TpError::BadOptions {
                    message: "--from judges a finished sweep: its particle counts and seeds are the file's".into(),
                    hint: "drop --particles and --seeds".into(),
                });
            }
            let points = meanfield_points(from, program, Purpose::Check)?;
            let Some(first) = points.first() else {
                return Err(tp::TpError::Data {
                    path: from.clone(),
                    reason: "the sweep file holds no sweep".into(),
                    hint: "run `tp check --output` again".into(),
                });
            };
            let opts =
                mf_check::recorded_options(&first.options, mutation, threads).map_err(failed)?;
            let recorded: Vec<_> = points
                .iter()
                .map(|p| (p.point.clone(), p.options.clone()))
                .collect();
            let runs = mf_check::match_recorded(program, &opts, &recorded).map_err(|e| {
                tp::TpError::Data {
                    path: from.clone(),
                    reason: e.to_string(),
                    hint: "write the sweep with `tp check --output` (or --shard and `tp merge`) on this program, with the same --mutation".into(),
                }
            })?;
            let sweeps = points
                .into_iter()
                .zip(&runs)
                .map(|(p, r)| p.into_sweep(&r.program))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    meanfield_error("read the sweep", e, "run `tp check --output` again")
                })?;
            mf_check::judge(runs, sweeps, &opts).map_err(failed)?
        }
        None => {
            let defaults = mf_check::MfCheckOptions::default();
            let opts = mf_check::MfCheckOptions {
                sizes: meanfield_sizes(&args.particles),
                seeds: args.seeds.map(|s| s as usize).unwrap_or(defaults.seeds),
                seed: args.seed,
                threads,
                mutation,
            };
            let name = args.common.file.display().to_string();
            if args.plan {
                let runs = mf_check::check_runs(program, &opts).map_err(failed)?;
                print!(
                    "{}",
                    meanfield_plan_text(&name, &check_plans(&runs), args.shard)?
                );
                return Ok(());
            }
            match &args.output {
                None => mf_check::run_meanfield_check(program, &opts).map_err(failed)?,
                Some(output) => {
                    sweep_file_writable(output)?;
                    let runs = mf_check::check_runs(program, &opts).map_err(failed)?;
                    let plans = check_plans(&runs);
                    if let Some(first) = runs.first() {
                        refuse_empty_shard(&first.sim.seeds, args.shard)?;
                    }
                    if !args.quiet {
                        eprint!("{}", meanfield_plan_text(&name, &plans, args.shard)?);
                    }
                    let records = runs
                        .iter()
                        .map(|r| {
                            mf_shard::run_point(
                                &r.program,
                                r.point_text(),
                                &r.sim,
                                args.shard,
                                None,
                            )
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| meanfield_error("simulate", e, "see `tp check --help`"))?;
                    let points = records.len();
                    let file = mf_shard::MfSweepFile::new(
                        &name,
                        program,
                        Purpose::Check,
                        args.shard,
                        records,
                    );
                    write_text_file(&mf_shard::to_text(&file), output)?;
                    if let Some(shard) = args.shard {
                        let own = runs.first().map_or(0, |r| {
                            mf_shard::shard_seeds(&r.sim.seeds, Some(shard)).len()
                        });
                        println!(
                            "shard {shard}: {own} of {} seeds at {points} point(s) -> {}",
                            opts.seeds,
                            output.display()
                        );
                        return Ok(());
                    }
                    let sweeps = file
                        .points
                        .into_iter()
                        .zip(&runs)
                        .map(|(p, r)| p.into_sweep(&r.program))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| meanfield_error("simulate", e, "see `tp check --help`"))?;
                    mf_check::judge(runs, sweeps, &opts).map_err(failed)?
                }
            }
        }
    };
    if let Some(target) = &target {
        let panels = tp::report::meanfield_check::error_panels(&report);
        let title = program.display_name();
        write_mf_figure(&title, 2, MfPanels::Errors(&panels), target)?;
    }
    args.data.report(
        args.common.json,
        || tp::report::csv::meanfield_check_rows(&report),
        || tp::report::meanfield_check::check_json(program, &report),
        || tp::report::meanfield_check::render_check(program, &report),
    )?;
    if !report.pass() {
        let _ = std::io::stdout().flush();
        std::process::exit(1);
    }
    Ok(())
}
