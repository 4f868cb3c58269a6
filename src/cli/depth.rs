//! `tp simulate`, `tp check` and `tp limit` on a depth program (`resnet`).

use crate::{emit, refuse_plot, seed_list, CheckArgs, LimitArgs, SimulateArgs};

/// `tp simulate` on a depth program: the sweep over depths (and widths) and its table.
pub(crate) fn depth_simulate(
    program: &tp::depth::DepthProgram,
    args: &SimulateArgs,
) -> Result<(), tp::TpError> {
    use tp::check::depth_program::{DEFAULT_DEPTHS, DEFAULT_DEPTH_WIDTHS, DEFAULT_WIDE_DEPTHS};
    refuse_plot(args.plot.is_some(), "tp simulate", "depth")?;
    let wide = program.width.is_some();
    let opts = tp::depth::simulate::DepthSweepOptions {
        depths: if !args.depths.is_empty() {
            args.depths.clone()
        } else if wide {
            DEFAULT_WIDE_DEPTHS.to_vec()
        } else {
            DEFAULT_DEPTHS.to_vec()
        },
        widths: if args.widths.is_empty() {
            DEFAULT_DEPTH_WIDTHS.to_vec()
        } else {
            args.widths.clone()
        },
        seeds: seed_list(args.seed, args.seeds)?,
        threads: args.threads.map(|t| t as usize),
        ..tp::depth::simulate::DepthSweepOptions::default()
    };
    args.data.precheck(args.common.json)?;
    let sweep = tp::depth::sweep::run_sweep(program, &opts)?;
    args.data.report(
        args.common.json,
        || tp::report::csv::depth_rows(program, &sweep),
        || tp::report::depth::depth_sweep_json(program, &sweep),
        || tp::report::depth::render_depth_sweep(program, &sweep),
    )?;
    Ok(())
}

/// `tp check` on a depth program: sweep depths (and widths), judge, exit 1 on a FAIL.
pub(crate) fn depth_check(
    program: &tp::depth::DepthProgram,
    args: &CheckArgs,
) -> Result<(), tp::TpError> {
    refuse_plot(args.plot.is_some(), "tp check", "depth")?;
    use std::io::Write;
    let mutation = match &args.mutation {
        None => None,
        Some(name) => {
            let found = tp::depth::derive::DepthMutation::ALL
                .into_iter()
                .find(|m| m.name() == name.as_str());
            let names: Vec<&str> = tp::depth::derive::DepthMutation::ALL
                .iter()
                .map(|m| m.name())
                .collect();
            match found {
                Some(m) if m.applies_to(program) => Some(m),
                Some(_) => {
                    return Err(tp::TpError::BadOptions {
                        message: format!("the mutation `{name}` changes nothing in this program"),
                        hint: "no-ito needs σ''(0) ≠ 0 and an i.i.d. part; alpha-plus-quarter a crx network; zheng-report-sde a hayou1 network with the sketch".into(),
                    })
                }
                None => {
                    return Err(tp::TpError::BadOptions {
                        message: format!("unknown mutation `{name}`"),
                        hint: format!("use one of {}", names.join(", ")),
                    })
                }
            }
        }
    };
    let opts = tp::check::depth_program::DepthCheckOptions {
        depths: args.depths.clone(),
        widths: args.widths.clone(),
        seeds: seed_list(args.seed, args.seeds.unwrap_or(32))?,
        threads: args.threads.map(|t| t as usize),
        refine: args.refine as usize,
        mutation,
    };
    args.data.precheck(args.common.json)?;
    let report = tp::check::depth_program::run_depth_check(program, &opts)?;
    args.data.report(
        args.common.json,
        || tp::report::csv::depth_check_rows(program, &report),
        || tp::report::depth::depth_check_json(program, &report),
        || tp::report::depth::render_depth_check(program, &report),
    )?;
    if !report.pass() {
        let _ = std::io::stdout().flush();
        std::process::exit(1);
    }
    Ok(())
}

/// `tp limit` on a depth program: the regime, the limit equations and their values.
pub(crate) fn depth_limit(
    program: &tp::depth::DepthProgram,
    args: &LimitArgs,
) -> Result<(), tp::TpError> {
    let derivation = tp::depth::derive::derive(program, None);
    let opts = tp::depth::evaluate::EvalOptions {
        seed: args.seed,
        ..tp::depth::evaluate::EvalOptions::default()
    };
    let values = match &derivation.limit {
        Some(limit) => tp::depth::evaluate::evaluate(program, limit, &opts)?,
        None => tp::depth::evaluate::DepthValues::default(),
    };
    emit(
        args.common.json,
        || tp::report::depth::depth_limit_json(program, &derivation, &values),
        || tp::report::depth::render_depth_limit(program, &derivation, &values, args.latex),
    );
    Ok(())
}
