//! Reports for shaped networks (`tp show`, `tp scale`, `tp limit`, `tp check`,
//! `tp simulate` on a program with a `shaped` statement): text and JSON
//! `tp-shaped-*/1`.

use crate::exponent::{Exponent, Rational};
use crate::shaped::canon::{render, Names, Style};
use crate::shaped::derive::{regimes, total_drift_exponent, weak_rate, ShapedDerivation, ShapedRegime};
use crate::shaped::model::{ShapedAct, ShapedProgram};
use crate::shaped::render::equations;
use serde_json::{json, Value};
use std::fmt::Write;

/// The JSON schema name of the shaped scale report.
pub const SHAPED_SCALE_SCHEMA: &str = "tp-shaped-scale/1";
/// The JSON schema name of `tp show` on a shaped program.
pub const SHAPED_SHOW_SCHEMA: &str = "tp-shaped-show/1";

fn text(p: &crate::shaped::Poly) -> String {
    render(p, &Names::default(), Style::Text)
}

/// A one-line description of the network.
pub fn describe(prog: &ShapedProgram) -> String {
    let act = match &prog.act {
        ShapedAct::Relu { c_plus, c_minus } => format!(
            "phi_S(x) = S+ max(x,0) + S- min(x,0), S± = 1 + c± {n}^-p, c+ = {}, c- = {}",
            text(c_plus),
            text(c_minus),
            n = prog.width
        ),
        ShapedAct::Smooth(s) => format!(
            "phi_S(x) = S phi(x/S), S = a {n}^p, a = {}, phi = {}{}",
            text(&s.a),
            s.name,
            if s.normalize { " normalized to (phi - phi(0))/phi'(0)" } else { "" },
            n = prog.width
        ),
    };
    format!(
        "shaped MLP h_(l+1) = sqrt(c/{n}) W_l phi_S(h_l), c = 1/E phi_S(g)^2, width {n}, depth {d} = tau {n} (tau = {tau}), p = {p}; {act}; {m} input(s), Phi_0 = {gram}",
        n = prog.width,
        d = prog.depth,
        tau = crate::exponent::format_rational(&prog.tau),
        p = prog.p,
        m = prog.inputs_len(),
        gram = gram_text(&prog.gram0),
    )
}

/// A small matrix as `[[1, 0.5], [0.5, 1]]`.
pub fn gram_text(g: &[Vec<f64>]) -> String {
    let rows: Vec<String> = g
        .iter()
        .map(|r| {
            let xs: Vec<String> = r.iter().map(|x| crate::ir::render_number(*x)).collect();
            format!("[{}]", xs.join(", "))
        })
        .collect();
    format!("[{}]", rows.join(", "))
}

/// The regime at the program's p, or None when p is symbolic.
pub fn regime_at(prog: &ShapedProgram, d: &ShapedDerivation) -> Option<ShapedRegime> {
    let e = total_drift_exponent(d, &prog.p);
    match e {
        None => Some(ShapedRegime::NoDrift),
        Some(e) => {
            let q = e.as_constant()?.clone();
            let zero = Rational::from_integer(0.into());
            Some(if q == zero {
                ShapedRegime::CriticalSde
            } else if q < zero {
                ShapedRegime::Linear
            } else {
                ShapedRegime::Degenerate
            })
        }
    }
}

fn regime_name(r: ShapedRegime) -> &'static str {
    match r {
        ShapedRegime::CriticalSde => "critical-sde",
        ShapedRegime::Linear => "linear",
        ShapedRegime::Degenerate => "degenerate",
        ShapedRegime::NoDrift => "no-drift",
    }
}

/// The terms of one layer: (label, exponent of n per layer, exponent of n summed over d = τn layers).
fn term_rows(prog: &ShapedProgram, d: &ShapedDerivation) -> Vec<(String, Exponent, Exponent)> {
    let one = Exponent::constant(Rational::from_integer(1.into()));
    let mut rows = Vec::new();
    for k in 1..d.offdiag_series.len() {
        if d.offdiag_series[k].is_zero() && d.diag_series[k].is_zero() {
            continue;
        }
        let per = prog.p.scale(&Rational::from_integer((-(k as i64)).into()));
        rows.push((
            format!("mean term eps^{k} D_{k}(Phi)"),
            per.clone(),
            one.add(&per),
        ));
    }
    rows.push((
        "noise xi/sqrt(n) (standard deviation)".into(),
        Exponent::ratio(-1, 2),
        Exponent::zero(),
    ));
    rows
}

/// `tp scale` on a shaped program.
pub fn render_shaped_scale(prog: &ShapedProgram, d: &ShapedDerivation) -> String {
    let mut out = String::new();
    if let Some(t) = &prog.title {
        let _ = writeln!(out, "{t}");
    }
    let _ = writeln!(out, "{}", describe(prog));
    let _ = writeln!(
        out,
        "\none layer, expanded in eps = {}^-p with c = 1/E phi_S(g)^2 expanded with it (exact):",
        prog.width
    );
    let _ = writeln!(out, "  c = {}", crate::shaped::canon::render_sum(&d.c_series, &Names::default(), Style::Text));
    for (k, (off, diag)) in d.offdiag_series.iter().zip(&d.diag_series).enumerate().skip(1) {
        let _ = writeln!(out, "  D_{k}: off-diagonal {}; diagonal {}", text(off), text(diag));
    }
    let _ = writeln!(
        out,
        "\nterms summed over the {d} = tau {n} layers (a noise of sd n^-1/2 per layer sums to O(1)):",
        d = prog.depth,
        n = prog.width
    );
    let _ = writeln!(out, "  {:<40} {:<14} {}", "term", "per layer", "summed (exponent of n)");
    for (label, per, sum) in term_rows(prog, d) {
        let _ = writeln!(out, "  {label:<40} {:<14} {sum}", format!("n^({per})"));
    }
    match regime_at(prog, d) {
        Some(r) => {
            let _ = writeln!(out, "\nregime: {} ({})", regime_name(r), r.describe());
        }
        None => {
            let _ = writeln!(out, "\nregimes (exact conditions on the symbols):");
            for (r, c) in regimes(d, &prog.p) {
                let _ = writeln!(out, "  {:<14} <=>  {}", regime_name(r), c);
            }
        }
    }
    if let Some(k) = d.drift_order {
        let _ = writeln!(out, "critical shaping exponent: p = 1/{k}");
    }
    if let Some(r) = weak_rate(d) {
        let _ = writeln!(
            out,
            "at the critical p, the law of Phi_tau approaches the SDE's like n^-{} (first mean correction {})",
            crate::exponent::format_rational(&r),
            match d.correction_order {
                Some(j) => format!("D_{j}"),
                None => "beyond the order computed; noise corrections give n^-1".into(),
            }
        );
    }
    if let Some(b) = &d.b {
        let _ = writeln!(out, "b = 3/4 phi''(0)^2 + phi'''(0) = {}", text(b));
    }
    out
}

/// The JSON report `tp-shaped-scale/1`.
pub fn shaped_scale_json(prog: &ShapedProgram, d: &ShapedDerivation) -> Value {
    let rows: Vec<Value> = term_rows(prog, d)
        .into_iter()
        .map(|(label, per, sum)| json!({"term": label, "per_layer": per.to_string(), "summed": sum.to_string()}))
        .collect();
    json!({
        "schema": SHAPED_SCALE_SCHEMA,
        "title": prog.title,
        "description": describe(prog),
        "p": prog.p.to_string(),
        "tau": crate::exponent::format_rational(&prog.tau),
        "terms": rows,
        "regime": regime_at(prog, d).map(regime_name),
        "regimes": regimes(d, &prog.p).into_iter().map(|(r, c)| json!({"regime": regime_name(r), "condition": c.to_string()})).collect::<Vec<_>>(),
        "drift_order": d.drift_order,
        "weak_rate": weak_rate(d).map(|r| crate::exponent::format_rational(&r)),
        "b": d.b.as_ref().map(text),
        "equations": equations(prog, d),
    })
}

/// `tp show` on a shaped program.
pub fn render_shaped_program(prog: &ShapedProgram) -> String {
    let mut out = String::new();
    if let Some(t) = &prog.title {
        let _ = writeln!(out, "{t}");
    }
    let _ = writeln!(out, "{}", describe(prog));
    let _ = writeln!(out, "inputs: {}", prog.inputs.join(", "));
    if !prog.symbols.is_empty() {
        let _ = writeln!(out, "symbols: {}", prog.symbols.join(", "));
    }
    out
}

/// The JSON of `tp show` on a shaped program.
pub fn shaped_show_json(prog: &ShapedProgram) -> Value {
    json!({
        "schema": SHAPED_SHOW_SCHEMA,
        "title": prog.title,
        "description": describe(prog),
        "inputs": prog.inputs,
        "gram0": prog.gram0,
        "symbols": prog.symbols,
    })
}
