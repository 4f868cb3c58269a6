//! The human-readable report of a sweep: one table per SGD step, then the blow-ups.

use crate::check::stats::{Fit, Summary};
use crate::check::QuantityStats;
use crate::ir::Kind;
use crate::sim::{BlowUpKind, SweepResult};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Renders the statistics of a sweep: for every step, one row per quantity (and one per
/// change Δv_t = v_t − v_0) with its size at each width as "seed mean ±relative standard
/// error" and the fitted log–log slope with its 95% interval; then every blow-up.
pub fn render_simulation(title: &str, result: &SweepResult, stats: &[QuantityStats]) -> String {
    let mut out = String::new();
    let seeds = &result.seeds;
    let seed_text = match (seeds.first(), seeds.last()) {
        (Some(a), Some(b)) if seeds.len() > 1 => format!("{} seeds ({a}..={b})", seeds.len()),
        (Some(a), _) => format!("1 seed ({a})"),
        _ => "no seeds".to_string(),
    };
    let _ = writeln!(out, "# {title}");
    let _ = writeln!(
        out,
        "# RMS of every vector, |value| of every scalar: seed mean ±relative standard error; \
         slope of log2(size) vs log2(n), 95% interval over seeds; {seed_text}"
    );

    let mut by_step: BTreeMap<Option<usize>, Vec<&QuantityStats>> = BTreeMap::new();
    for s in stats {
        by_step.entry(s.quantity.step).or_default().push(s);
    }
    let name_width = stats
        .iter()
        .map(|s| s.quantity.name.chars().count() + 1)
        .max()
        .unwrap_or(8)
        .clamp(8, crate::bounds::MAX_COLUMN_WIDTH);
    for (step, rows) in &by_step {
        let _ = writeln!(out);
        match step {
            Some(t) => {
                let _ = writeln!(out, "step {t}");
            }
            None => {
                let _ = writeln!(out, "values");
            }
        }
        let mut header = format!("  {:<name_width$} {:<6}", "quantity", "kind");
        for n in &result.widths {
            let _ = write!(header, " {:>15}", format!("n={n}"));
        }
        let _ = write!(header, "  slope [95% CI]");
        let _ = writeln!(out, "{header}");
        for s in rows {
            let kind = match s.quantity.kind {
                Kind::Vector => "vector",
                Kind::Scalar => "scalar",
            };
            let _ = writeln!(
                out,
                "{}",
                row(&s.quantity.name, kind, &s.size, &s.size_fit, name_width)
            );
            if let (Some(delta), Some(fit)) = (&s.delta, &s.delta_fit) {
                let name = format!("Δ{}", s.quantity.name);
                let _ = writeln!(out, "{}", row(&name, "", delta, fit, name_width));
            }
        }
    }

    let _ = writeln!(out);
    let blowups = render_blowups(result);
    if blowups.is_empty() {
        let _ = writeln!(out, "blow-ups: none");
    } else {
        let _ = writeln!(
            out,
            "blow-ups (NaN or overflow; nothing after them was computed):"
        );
        out.push_str(&blowups);
    }
    out
}

/// One table row.
fn row(name: &str, kind: &str, sizes: &[Summary], fit: &Fit, name_width: usize) -> String {
    let mut line = format!("  {name:<name_width$} {kind:<6}");
    for s in sizes {
        let _ = write!(line, " {:>15}", cell(s));
    }
    let _ = write!(line, "  {fit}");
    if let Fit::Fitted(slope) = fit {
        if slope.excluded_seeds > 0 {
            let _ = write!(line, " ({} seeds left out)", slope.excluded_seeds);
        }
    }
    line
}

/// `9.871e-1 ±0.3%`, `0` for an exact zero, `—` for no number.
fn cell(s: &Summary) -> String {
    if s.count == 0 {
        return "—".to_string();
    }
    if s.mean == 0.0 {
        return "0".to_string();
    }
    match s.stderr {
        Some(se) => {
            let relative = 100.0 * se / s.mean.abs();
            if relative < 9.95 {
                format!("{:.3e} ±{relative:.1}%", s.mean)
            } else {
                format!("{:.3e} ±{relative:.0}%", s.mean)
            }
        }
        None => format!("{:.3e}", s.mean),
    }
}

/// One line per (quantity, width) that blew up, with the seeds concerned.
fn render_blowups(result: &SweepResult) -> String {
    /// The blow-ups of one quantity at one width.
    struct Group {
        name: String,
        step: Option<usize>,
        seeds: Vec<u64>,
        nan: bool,
    }
    let mut grouped: BTreeMap<(usize, usize), Group> = BTreeMap::new();
    for b in result.blowups() {
        let group = grouped
            .entry((b.width, b.value.0))
            .or_insert_with(|| Group {
                name: b.name.clone(),
                step: b.step,
                seeds: Vec::new(),
                nan: false,
            });
        group.seeds.push(b.seed);
        group.nan |= b.kind == BlowUpKind::NaN;
    }
    let mut out = String::new();
    for ((width, _), group) in grouped {
        let Group {
            name,
            step,
            seeds,
            nan,
        } = group;
        let step = step.map_or(String::new(), |t| format!(" (step {t})"));
        let what = if nan { "NaN" } else { "infinite" };
        let seeds: Vec<String> = seeds.iter().map(u64::to_string).collect();
        let _ = writeln!(
            out,
            "  {name}{step} is {what} at width {width}, seed{} {}",
            if seeds.len() == 1 { "" } else { "s" },
            seeds.join(", ")
        );
    }
    out
}
