//! Reports for shaped networks (`tp show`, `tp scale`, `tp limit`, `tp check`,
//! `tp simulate` on a program with a `shaped` statement): text and JSON
//! `tp-shaped-*/1`.

use crate::exponent::{Exponent, Rational};
use crate::shaped::canon::{render, Names, Style};
use crate::shaped::derive::{
    regimes, total_drift_exponent, weak_rate, ShapedDerivation, ShapedRegime,
};
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
            if s.normalize {
                " normalized to (phi - phi(0))/phi'(0)"
            } else {
                ""
            },
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
    let _ = writeln!(out, "  c = {}", series_text(&d.c_series));
    for (k, (off, diag)) in d
        .offdiag_series
        .iter()
        .zip(&d.diag_series)
        .enumerate()
        .skip(1)
    {
        let _ = writeln!(
            out,
            "  D_{k}: off-diagonal {}; diagonal {}",
            text(off),
            text(diag)
        );
    }
    let _ = writeln!(
        out,
        "\nterms summed over the {d} = tau {n} layers (a noise of sd n^-1/2 per layer sums to O(1)):",
        d = prog.depth,
        n = prog.width
    );
    let _ = writeln!(
        out,
        "  {:<40} {:<14} summed (exponent of n)",
        "term", "per layer"
    );
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

/// The JSON schema name of the shaped limit report.
pub const SHAPED_LIMIT_SCHEMA: &str = "tp-shaped-limit/1";
/// The JSON schema name of the shaped check report.
pub const SHAPED_CHECK_SCHEMA: &str = "tp-shaped-check/1";
/// The JSON schema name of `tp simulate` on a shaped program.
pub const SHAPED_SIMULATE_SCHEMA: &str = "tp-shaped-simulate/1";

fn err_text(se: f64) -> String {
    if se == 0.0 {
        "exact".into()
    } else {
        format!("± {se:.1e}")
    }
}

/// The blow-up lines of a limit (one per diagonal entry with a scalar logistic drift).
fn blowup_lines(
    prog: &ShapedProgram,
    d: &ShapedDerivation,
    values: Option<&crate::shaped::evaluate::LimitValues>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(b) = &d.b {
        if b.atoms()
            .iter()
            .any(|a| matches!(a, crate::shaped::Atom::Sym(_)))
        {
            out.push(format!(
                "blow-up (Feller's test on dPhi = beta Phi(Phi - 1) dtau + sqrt(2) Phi dB, beta = b/a^2): no blow-up <=> b = {} <= 0; for b > 0, P(eventual blow-up | Phi_0) = P_reg(beta + 1, beta Phi_0)",
                text(b)
            ));
            return out;
        }
    }
    let Some(v) = values else { return out };
    if v.blowup.is_empty() {
        if matches!(prog.act, ShapedAct::Relu { .. }) {
            out.push("blow-up: none (the diagonal is a geometric Brownian motion)".into());
        }
        return out;
    }
    out.push(
        "Feller's test on dPhi^aa = beta Phi^aa(Phi^aa - 1) dtau + sqrt(2) Phi^aa dB: no blow-up iff beta <= 0 (beta = 0 included); for beta > 0 blow-up has probability P_reg(beta + 1, beta Phi_0) < 1, otherwise Phi -> 0"
            .into(),
    );
    for bl in &v.blowup {
        let who = format!(
            "Phi^{0}{0} (Phi_0 = {1})",
            bl.input + 1,
            crate::ir::render_number(bl.x0)
        );
        if bl.beta <= 0.0 {
            out.push(format!(
                "{who}: beta = {:.6} <= 0, so no blow-up (Feller); the deterministic limit tends to {}",
                bl.beta,
                if bl.beta < 0.0 { "1" } else { "Phi_0" }
            ));
        } else {
            out.push(format!(
                "{who}: beta = {:.6} > 0: P(eventual blow-up) = P_reg(beta + 1, beta Phi_0) = {:.6} (Feller; otherwise Phi -> 0)",
                bl.beta, bl.eventual
            ));
        }
        match bl.deterministic_blowup_time {
            Some(t) => out.push(format!(
                "  deterministic limit (logistic) blows up at tau* = (1/beta) log(Phi_0/(Phi_0 - 1)) = {t:.6}"
            )),
            None => {
                if let Some(x) = bl.deterministic_at_tau {
                    out.push(format!("  deterministic limit (logistic) at tau = {}: {x:.6}", v.tau));
                }
            }
        }
        let e = &bl.by_tau;
        out.push(format!(
            "  P(blow-up by tau = {}) = {:.4} ± {:.1e} (Monte Carlo, {} paths; step bias {:+.1e} ± {:.1e}); collapsed {:.4}",
            v.tau, e.probability, e.stderr, e.paths, e.step_bias, e.step_bias_stderr, e.collapse
        ));
    }
    out
}

/// `tp limit` on a shaped program.
pub fn render_shaped_limit(
    prog: &ShapedProgram,
    d: &ShapedDerivation,
    values: Option<&crate::shaped::evaluate::LimitValues>,
    latex: bool,
) -> String {
    let mut out = String::new();
    if let Some(t) = &prog.title {
        let _ = writeln!(out, "{t}");
    }
    let _ = writeln!(out, "{}", describe(prog));
    match regime_at(prog, d) {
        Some(r) => {
            let _ = writeln!(out, "regime: {} ({})", regime_name(r), r.describe());
            if r == ShapedRegime::Degenerate {
                return out;
            }
        }
        None => {
            let _ = writeln!(out, "regimes (exact conditions on the symbols):");
            for (r, c) in regimes(d, &prog.p) {
                let _ = writeln!(out, "  {:<14} <=>  {}", regime_name(r), c);
            }
            let _ = writeln!(out, "equations at the critical p:");
        }
    }
    if regime_at(prog, d) == Some(ShapedRegime::Linear) {
        let _ = writeln!(
            out,
            "\nthe drift vanishes in the limit: dPhi = Sigma(Phi)^(1/2) dB with Sigma as below"
        );
    }
    for e in equations(prog, d) {
        let _ = writeln!(out, "\n{}:", e.label);
        let _ = writeln!(out, "  {}", if latex { &e.latex } else { &e.text });
    }
    let lines = blowup_lines(prog, d, values);
    if !lines.is_empty() {
        let _ = writeln!(out);
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
    }
    if let Some(v) = values {
        if v.hit.0 > 0.0 || v.collapsed > 0.0 {
            let _ = writeln!(
                out,
                "\nvalues at tau = {} (over the paths that did not stop: {:.1}% reached the level, {:.1}% collapsed):",
                v.tau,
                100.0 * v.hit.0,
                100.0 * v.collapsed
            );
        } else {
            let _ = writeln!(out, "\nvalues at tau = {}:", v.tau);
        }
        let w = v.stats.iter().map(|s| s.name.len()).max().unwrap_or(4);
        for s in &v.stats {
            let _ = writeln!(
                out,
                "  E {:<w$}  {:>10.6} {}   Var {:>10.6} {}",
                s.name,
                s.mean,
                err_text((s.mean_se.powi(2) + s.mean_step_bias.powi(2)).sqrt()),
                s.var,
                err_text((s.var_se.powi(2) + s.var_step_bias.powi(2)).sqrt())
            );
        }
        if v.level < 1e8 || v.hit.0 > 0.0 {
            let _ = writeln!(
                out,
                "  P(an entry reaches {} by tau)  {:.4} ± {:.1e} (step bias {:+.1e})",
                crate::ir::render_number(v.level),
                v.hit.0,
                v.hit.1,
                v.hit.2
            );
        }
        match &v.deterministic {
            Ok(s) => {
                let xs: Vec<String> = s.iter().map(|x| format!("{x:.6}")).collect();
                let _ = writeln!(
                    out,
                    "  deterministic limit Phi_tau (packed upper triangle): [{}]",
                    xs.join(", ")
                );
            }
            Err(t) => {
                let _ = writeln!(out, "  deterministic limit blows up at tau = {t:.4}");
            }
        }
        let _ = writeln!(
            out,
            "  method: {} (errors: standard error and step bias combined)",
            v.method
        );
    }
    out
}

/// The JSON report `tp-shaped-limit/1`.
pub fn shaped_limit_json(
    prog: &ShapedProgram,
    d: &ShapedDerivation,
    values: Option<&crate::shaped::evaluate::LimitValues>,
) -> Value {
    json!({
        "schema": SHAPED_LIMIT_SCHEMA,
        "title": prog.title,
        "description": describe(prog),
        "regime": regime_at(prog, d).map(regime_name),
        "equations": equations(prog, d),
        "nu": d.nu.as_ref().map(text),
        "b": d.b.as_ref().map(text),
        "blowup": blowup_lines(prog, d, values),
        "values": values,
    })
}

/// `tp check` on a shaped program.
pub fn render_shaped_check(prog: &ShapedProgram, c: &crate::check::shaped::ShapedCheck) -> String {
    let mut out = String::new();
    if let Some(t) = &prog.title {
        let _ = writeln!(out, "{t}");
    }
    let _ = writeln!(out, "{}", describe(prog));
    if let Some(m) = c.mutation {
        let _ = writeln!(
            out,
            "MUTATION {m}: the derivation is deliberately wrong; the check should FAIL"
        );
    }
    for p in &c.points {
        if !p.point.is_empty() {
            let pts: Vec<String> = p.point.iter().map(|(s, v)| format!("{s} = {v}")).collect();
            let _ = writeln!(out, "\nat {}:", pts.join(", "));
        }
        if let Some(r) = p.regime {
            let _ = writeln!(out, "regime: {}", regime_name(r));
        }
        if let Some(note) = &p.note {
            let _ = writeln!(out, "not judged: {note}");
            continue;
        }
        let _ = writeln!(out, "networks: {} (chain sampler, exact in law)", p.cost);
        let _ = write!(out, "  {:>5} {:>5}", "n", "d");
        for s in &p.stats {
            let _ = write!(out, "  {:>22}", format!("E {s}"));
        }
        let _ = writeln!(out, "  {:>16}", "P(reach level)");
        for row in &p.widths {
            let _ = write!(out, "  {:>5} {:>5}", row.n, row.d);
            for (m, se) in &row.means {
                let _ = write!(out, "  {:>22}", format!("{m:.4} ± {se:.1e}"));
            }
            let _ = writeln!(
                out,
                "  {:>16}",
                format!("{:.3} ± {:.1e}", row.hit.0, row.hit.1)
            );
        }
        if let Some(l) = &p.limit {
            let _ = write!(out, "  {:>11}", "SDE");
            for s in &l.stats {
                let _ = write!(
                    out,
                    "  {:>22}",
                    format!(
                        "{:.4} ± {:.1e}",
                        s.mean,
                        (s.mean_se.powi(2) + s.mean_step_bias.powi(2)).sqrt()
                    )
                );
            }
            let _ = writeln!(out, "  {:>16}", format!("{:.3} ± {:.1e}", l.hit.0, l.hit.1));
        }
        let _ = writeln!(
            out,
            "level {} (both sides stop there); fits mu + C1 n^-r + C2 n^-2r over the widths, r = {}",
            crate::ir::render_number(p.level),
            p.rate.as_deref().unwrap_or("?")
        );
        for v in &p.verdicts {
            let _ = writeln!(out, "{}", super::depth::verdict_row(v, 44, 9, 34));
        }
    }
    let total: usize = c.points.iter().map(|p| p.verdicts.len()).sum();
    if total == 0 {
        let _ = writeln!(out, "\nNOT JUDGED: no verdicts (see above); exit status 1");
        return out;
    }
    let _ = writeln!(
        out,
        "\n{}: {} of {} verdicts failed (Holm, family-wise level {})",
        if c.failures == 0 && total > 0 {
            "PASS"
        } else {
            "FAIL"
        },
        c.failures,
        total,
        crate::check::shaped::LEVEL
    );
    out
}

/// The JSON report `tp-shaped-check/1`.
pub fn shaped_check_json(prog: &ShapedProgram, c: &crate::check::shaped::ShapedCheck) -> Value {
    json!({
        "schema": SHAPED_CHECK_SCHEMA,
        "title": prog.title,
        "description": describe(prog),
        "mutation": c.mutation,
        "pass": c.pass(),
        "failures": c.failures,
        "points": c.points,
    })
}

/// `tp simulate` on a shaped program: per width and recorded layer, the mean and standard
/// error of each statistic over the samples that did not stop, and the stops.
pub fn render_shaped_sweep(
    prog: &ShapedProgram,
    sw: &crate::shaped::simulate::ShapedSweep,
) -> String {
    let mut out = String::new();
    if let Some(t) = &prog.title {
        let _ = writeln!(out, "{t}");
    }
    let _ = writeln!(out, "{}", describe(prog));
    let _ = writeln!(out, "cost: {}", sw.cost);
    let stats = crate::shaped::evaluate::statistics(sw.m);
    let k = crate::solve::gram::packed_len(sw.m);
    for (w, &n) in sw.widths.iter().enumerate() {
        let _ = writeln!(
            out,
            "\nn = {n}, d = {}, c = {:.8} ± {:.1e}, {} samples",
            prog.depth_at(n),
            sw.c[w].0,
            sw.c[w].1,
            sw.samples
        );
        let _ = write!(out, "  {:>6} {:>7}", "layer", "tau");
        for s in &stats {
            let _ = write!(
                out,
                "  {:>22}",
                format!("E {}", s.name().replace("_tau", ""))
            );
        }
        let _ = writeln!(out, "  {:>8}", "stopped");
        for (j, &layer) in sw.layers[w].iter().enumerate() {
            let mut rows: Vec<&[f64]> = Vec::new();
            let mut stopped = 0;
            for s in 0..sw.samples {
                match sw.record(w, s) {
                    Some(r) if r.layers.len() > j => rows.push(&r.states[j * k..(j + 1) * k]),
                    _ => stopped += 1,
                }
            }
            let _ = write!(out, "  {layer:>6} {:>7.4}", layer as f64 / n as f64);
            for s in &stats {
                let xs: Vec<f64> = rows.iter().map(|r| s.value(sw.m, r)).collect();
                let (m, se) = crate::check::depth::mean_se(&xs);
                let _ = write!(out, "  {:>22}", format!("{m:.4} ± {se:.1e}"));
            }
            let _ = writeln!(out, "  {stopped:>8}");
        }
    }
    out
}

/// The JSON report `tp-shaped-simulate/1`: every record.
pub fn shaped_sweep_json(prog: &ShapedProgram, sw: &crate::shaped::simulate::ShapedSweep) -> Value {
    json!({
        "schema": SHAPED_SIMULATE_SCHEMA,
        "title": prog.title,
        "description": describe(prog),
        "widths": sw.widths,
        "samples": sw.samples,
        "m": sw.m,
        "c": sw.c,
        "layers": sw.layers,
        "cost": sw.cost,
        "records": sw.records,
    })
}

/// A series in ε by increasing order, each coefficient in canonical form, with its O(·).
pub fn series_text(p: &crate::shaped::Poly) -> String {
    let mut parts = Vec::new();
    let top = crate::shaped::derive::ORDER;
    let mut k = 0i64;
    {
        while k <= top {
            let c = p.eps_coefficient(k);
            if !c.is_zero() {
                let t = text(&c);
                let t = if c.0.len() > 1 { format!("({t})") } else { t };
                let t = match (k, t.as_str()) {
                    (0, _) => t,
                    (_, "1") => String::new(),
                    (_, "-1") => "-".into(),
                    _ => format!("{t} "),
                };
                parts.push(match k {
                    0 => t,
                    1 => format!("{t}eps"),
                    _ => format!("{t}eps^{k}"),
                });
            }
            k += 1;
        }
    }
    let body = if parts.is_empty() {
        "0".to_string()
    } else {
        parts.join(" + ").replace("+ -", "- ")
    };
    format!("{body} + O(eps^{k})")
}
