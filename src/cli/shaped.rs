//! `tp scale`, `tp limit`, `tp check` and `tp simulate` on a shaped program (`shaped`).

use crate::{emit, refuse_plot, CheckArgs, LimitArgs, SimulateArgs};

/// The derivation of a shaped program, or the reason it has none as a user error.
pub(crate) fn shaped_derivation(
    program: &tp::shaped::ShapedProgram,
    mutation: Option<tp::shaped::derive::ShapedMutation>,
) -> Result<tp::shaped::derive::ShapedDerivation, tp::TpError> {
    tp::shaped::derive::derive(program, mutation).map_err(|e| tp::TpError::BadOptions {
        message: format!("cannot derive the Gram SDE: {e}"),
        hint: "see the shaped-network section of the README for what the activation needs".into(),
    })
}

/// `tp limit` on a shaped program: the regime, the Gram SDE and, when every symbol has
/// a value and the regime has a limit, its numbers and the blow-up analysis.
pub(crate) fn shaped_limit(
    program: &tp::shaped::ShapedProgram,
    args: &LimitArgs,
) -> Result<(), tp::TpError> {
    use tp::shaped::derive::ShapedRegime;
    let mut derivation = shaped_derivation(program, None)?;
    let regime = tp::report::shaped::regime_at(program, &derivation);
    let mut values = None;
    if program.symbols.is_empty() && regime != Some(ShapedRegime::Degenerate) {
        let eval_d = if regime == Some(ShapedRegime::Linear) {
            derivation.without_drift()
        } else {
            derivation.clone()
        };
        let opts = tp::shaped::evaluate::LimitOptions {
            seed: args.seed,
            ..tp::shaped::evaluate::LimitOptions::default()
        };
        values = Some(
            tp::shaped::evaluate::evaluate(program, &eval_d, &opts).map_err(|e| {
                tp::TpError::BadOptions {
                    message: format!("cannot evaluate the limit: {e}"),
                    hint: "give every symbol a value with --set NAME=VALUE".into(),
                }
            })?,
        );
        if regime == Some(ShapedRegime::Linear) {
            derivation = eval_d;
        }
    }
    emit(
        args.common.json,
        || tp::report::shaped::shaped_limit_json(program, &derivation, values.as_ref()),
        || {
            tp::report::shaped::render_shaped_limit(
                program,
                &derivation,
                values.as_ref(),
                args.latex,
            )
        },
    );
    Ok(())
}

/// Parses `--mutation` for a shaped program, refusing one that changes nothing in it.
pub(crate) fn shaped_mutation(
    program: &tp::shaped::ShapedProgram,
    name: Option<&str>,
) -> Result<Option<tp::shaped::derive::ShapedMutation>, tp::TpError> {
    let Some(name) = name else { return Ok(None) };
    let all = tp::shaped::derive::ShapedMutation::all();
    let names: Vec<&str> = all.iter().map(|m| m.name()).collect();
    match all.into_iter().find(|m| m.name() == name) {
        Some(m) if m.applies_to(program) => Ok(Some(m)),
        Some(_) => Err(tp::TpError::BadOptions {
            message: format!("the mutation `{name}` changes nothing in this program"),
            hint: "lecture-nu-sign needs a shaped ReLU, no-normalization a smooth shaping; drift-times-two applies to both".into(),
        }),
        None => Err(tp::TpError::BadOptions {
            message: format!("unknown mutation `{name}` for a shaped program"),
            hint: format!("use one of {}", names.join(", ")),
        }),
    }
}

/// `tp check` on a shaped program: networks at d = τn against the derived Gram SDE.
pub(crate) fn shaped_check(
    program: &tp::shaped::ShapedProgram,
    args: &CheckArgs,
) -> Result<(), tp::TpError> {
    refuse_plot(args.plot.is_some(), "tp check", "shaped")?;
    use std::io::Write;
    let defaults = tp::check::shaped::ShapedCheckOptions::default();
    let opts = tp::check::shaped::ShapedCheckOptions {
        widths: if args.widths.is_empty() {
            defaults.widths.clone()
        } else {
            args.widths.clone()
        },
        samples: args.seeds.map(|s| s as usize).unwrap_or(defaults.samples),
        seed: args.seed,
        threads: args.threads.map(|t| t as usize),
        mutation: shaped_mutation(program, args.mutation.as_deref())?,
        ..defaults
    };
    args.data.precheck(args.common.json)?;
    let report = tp::check::shaped::run_shaped_check(program, &opts).map_err(|e| {
        tp::TpError::BadOptions {
            message: format!("cannot check the shaped program: {e}"),
            hint: "see `tp check --help`".into(),
        }
    })?;
    args.data.report(
        args.common.json,
        || tp::report::csv::shaped_check_rows(&report),
        || tp::report::shaped::shaped_check_json(program, &report),
        || tp::report::shaped::render_shaped_check(program, &report),
    )?;
    if !report.pass() {
        let _ = std::io::stdout().flush();
        std::process::exit(1);
    }
    Ok(())
}

/// `tp simulate` on a shaped program: the Gram chain at every width and sample.
pub(crate) fn shaped_simulate(
    program: &tp::shaped::ShapedProgram,
    args: &SimulateArgs,
) -> Result<(), tp::TpError> {
    refuse_plot(args.plot.is_some(), "tp simulate", "shaped")?;
    let numeric = program
        .numeric(&std::collections::BTreeMap::new())
        .map_err(|e| tp::TpError::BadOptions {
            message: format!("cannot simulate: {e}"),
            hint: "give every symbol a value with --set NAME=VALUE".into(),
        })?;
    let defaults = tp::shaped::simulate::ShapedSweepOptions::default();
    let opts = tp::shaped::simulate::ShapedSweepOptions {
        widths: if args.widths.is_empty() {
            defaults.widths.clone()
        } else {
            args.widths.clone()
        },
        samples: args.seeds as usize,
        seed: args.seed,
        threads: args.threads.map(|t| t as usize),
        taus: vec![
            0.0,
            0.25 * program.tau_f64(),
            0.5 * program.tau_f64(),
            0.75 * program.tau_f64(),
        ],
        ..defaults
    };
    args.data.precheck(args.common.json)?;
    let sweep = tp::shaped::simulate::sweep(program, &numeric, &opts).map_err(|e| {
        tp::TpError::BadOptions {
            message: format!("cannot simulate: {e}"),
            hint: "fewer widths or samples (`--widths`, `--seeds`)".into(),
        }
    })?;
    args.data.report(
        args.common.json,
        || tp::report::csv::shaped_rows(&sweep),
        || tp::report::shaped::shaped_sweep_json(program, &sweep),
        || tp::report::shaped::render_shaped_sweep(program, &sweep),
    )?;
    Ok(())
}
