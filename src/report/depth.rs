//! `tp scale` for residual networks whose depth is a size: the counted terms with their
//! exponents of L, the regime (or the phase diagram as conditions on the symbols), and
//! the exponents the checks test; text and JSON `tp-depth-scale/1`.

use crate::depth::derive::Derivation;
use crate::depth::model::{DepthProgram, HayouKind, Resnet};
use crate::depth::power::{Part, Regime, Role};
use crate::exponent::{format_rational, Cond};
use serde_json::{json, Value};
use std::fmt::Write;

/// The JSON schema name of the depth scale report.
pub const DEPTH_SCALE_SCHEMA: &str = "tp-depth-scale/1";

/// A one-line description of the network.
pub fn describe(prog: &DepthProgram) -> String {
    match &prog.net {
        Resnet::Crx(net) => format!(
            "residual network h_(k+1) = h_k + δ_k σ(A_k h_k + b_k) (Cont–Rossier–Xu), depth {L}, \
             dimension {d} = {dim}; δ_k = {delta}·{L}^-α, A_k = {L}^-β Ā(k/{L}) + s·ΔW^A_k, \
             ΔW entries N(0, {L}^-2γ); α = {a}, β = {b}, γ = {g}, s = {s}, s_b = {sb}, σ = {act}",
            L = prog.depth,
            d = net.dim_name,
            dim = net.dim,
            delta = net.delta,
            a = net.alpha,
            b = net.beta,
            g = net.gamma,
            s = net.noise,
            sb = net.bias_noise,
            act = prog.act_name(net.act),
        ),
        Resnet::Hayou(net) => format!(
            "residual network f_ℓ = √(1−β²) f_(ℓ−1) + β {branch} (Hayou; Zheng type {t}), depth {L}, \
             width {n}; β = {L}^-{b}, branch matrices N(0, {g}/{n}), φ = {act}{sketch}",
            branch = if net.kind == HayouKind::Type1 { "W_ℓ φ(f_(ℓ−1))" } else { "V_ℓ φ(U_ℓ f_(ℓ−1))" },
            t = if net.kind == HayouKind::Type1 { 1 } else { 2 },
            L = prog.depth,
            n = prog.width.as_deref().unwrap_or("n"),
            b = net.branch,
            g = net.gain,
            act = prog.act_name(net.act),
            sketch = if net.sketch { ", with the sketch v = J z" } else { "" },
        ),
    }
}

fn part_name(p: Part) -> &'static str {
    match p {
        Part::Constant => "σ(0) drift",
        Part::Full => "σ(Ā_t H + b̄_t) drift",
        Part::Linear => "linear trend σ'(0)(Ā_t H + b̄_t)",
        Part::Noise => "Brownian part",
        Part::Ito => "Itô correction",
        Part::SkipDrift => "skip drift −½ f",
        Part::Branch => "branch noise",
        Part::Other => "higher order",
    }
}

/// The exponents the checks test, as text lines.
fn tested_exponents(prog: &DepthProgram, d: &Derivation) -> Vec<String> {
    let Some(v) = &d.verdict else { return vec![] };
    let l = &prog.depth;
    let mut out = Vec::new();
    match (&prog.net, v.regime) {
        (_, Regime::NotAnalysed) => {}
        (Resnet::Crx(_), Regime::Explosion) => {
            out.push(format!(
                "one layer's increment ‖h_1 − x‖/√d = Θ({l}^{}): the sum over {l} layers \
                 has no limit (its largest term grows like {l}^{}); ‖h_L − x‖ grows unless \
                 a contracting trend holds h at a fixed point",
                format_rational(&v.step),
                format_rational(&v.leading)
            ));
        }
        (Resnet::Crx(_), _) => {
            out.push(format!(
                "one layer's increment ‖h_1 − x‖/√d = Θ({l}^{})",
                format_rational(&v.step)
            ));
            out.push(format!(
                "‖h_L − x‖/√d = Θ({l}^{})",
                format_rational(&v.leading)
            ));
        }
        (Resnet::Hayou(_), _) => {
            let n = prog.width.as_deref().unwrap_or("n");
            out.push(format!(
                "‖f_L‖²/{n} = Θ({n}^0 {l}^0), its fluctuation around the width limit Θ({n}^-1/2)"
            ));
        }
    }
    if let Some(r) = &v.error_rate {
        let r = format_rational(r);
        match &prog.net {
            Resnet::Crx(_) => out.push(format!(
                "pathwise error sup_k |h_k − H_(k/{l})| under the synchronous coupling = Θ({l}^{r})"
            )),
            Resnet::Hayou(net) if net.kind == HayouKind::Type1 => out.push(format!(
                "pathwise error sup_k ‖f_k − F_(k/{l})‖/√n under the synchronous coupling = Θ({l}^{r})"
            )),
            Resnet::Hayou(_) => out.push(
                "no coupling (U_ℓ, V_ℓ are not the limit's Brownian motion): the law of \
                 log(‖f_L‖²/‖f_0‖²) is compared with the SDE's"
                    .into(),
            ),
        }
    }
    out
}

/// The text report.
pub fn render_depth_scale(prog: &DepthProgram, d: &Derivation) -> String {
    let mut out = String::new();
    if let Some(t) = &prog.title {
        let _ = writeln!(out, "{t}");
    }
    let _ = writeln!(out, "{}", describe(prog));
    let taylor: Vec<String> = ["σ(0)", "σ'(0)", "σ''(0)", "σ'''(0)"]
        .iter()
        .zip(d.counting.taylor.iter())
        .map(|(n, v)| match v {
            Some(x) => format!("{n} = {}", crate::ir::render_number(*x)),
            None => format!("{n} undefined"),
        })
        .collect();
    let _ = writeln!(out, "Taylor data at 0: {}", taylor.join(", "));
    if let Some(why) = &d.counting.refusal {
        let _ = writeln!(out, "\nnot analysed: {why}");
        return out;
    }
    let _ = writeln!(
        out,
        "\nterms of one layer's increment, summed over the {} layers:",
        prog.depth
    );
    if let Resnet::Crx(_) = prog.net {
        let _ = writeln!(
            out,
            "  (T = Ā(k/L) h + b̄(k/L) the trend, N = s ξ h + s_b ξ_b the i.i.d. part, ξ standard Gaussian)"
        );
    }
    let width = d
        .counting
        .terms
        .iter()
        .map(|t| t.label.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "  {:<width$}  {:<10}  exponent of {}",
        "term", "sums as", prog.depth
    );
    for t in &d.counting.terms {
        let role = match t.role {
            Role::Drift => "L × layer",
            Role::Martingale => "√L × layer",
        };
        let _ = writeln!(out, "  {:<width$}  {:<10}  {}", t.label, role, t.exponent);
    }
    if !d.diagram.is_empty() {
        let _ = writeln!(out, "\nphase diagram (exact conditions on the symbols):");
        for (r, c) in &d.diagram {
            let _ = writeln!(out, "  {:<20} ⟺  {}", r.name(), c);
        }
    }
    match &d.verdict {
        Some(v) => {
            let kept: Vec<&str> = v.kept.iter().map(|p| part_name(*p)).collect();
            let _ = write!(out, "\nregime: {}", v.regime.name());
            if !kept.is_empty() {
                let _ = write!(out, " (kept at order L^0: {})", kept.join(", "));
            }
            let _ = writeln!(out);
            if let Some(note) = &v.note {
                let _ = writeln!(out, "  {note}");
            }
            for line in tested_exponents(prog, d) {
                let _ = writeln!(out, "{line}");
            }
        }
        None => {
            let _ = writeln!(
                out,
                "\nthe regime depends on the symbols {}; give them values with --set for one regime",
                prog.symbols.join(", ")
            );
        }
    }
    out
}

/// A condition as JSON: its text and its polyhedra.
pub fn condition_json(c: &Cond) -> Value {
    json!({
        "condition": c.to_string(),
        "regions": c.polyhedra().map(|ps| ps.iter().map(|p| p.iter().map(|i| i.to_json()).collect::<Vec<_>>()).collect::<Vec<_>>()),
    })
}

/// The JSON report `tp-depth-scale/1`.
pub fn depth_scale_json(prog: &DepthProgram, d: &Derivation) -> Value {
    json!({
        "schema": DEPTH_SCALE_SCHEMA,
        "title": prog.title,
        "family": match prog.net { Resnet::Crx(_) => "crx", Resnet::Hayou(_) => "hayou" },
        "description": describe(prog),
        "sizes": {"depth": prog.depth, "width": prog.width},
        "symbols": prog.symbols,
        "taylor": d.counting.taylor,
        "refusal": d.counting.refusal,
        "terms": d.counting.terms.iter().map(|t| json!({
            "label": t.label,
            "role": t.role,
            "exponent": t.exponent.to_string(),
            "part": t.part,
        })).collect::<Vec<_>>(),
        "regime": d.verdict.as_ref().map(|v| json!({
            "name": v.regime.name(),
            "id": v.regime,
            "kept": v.kept,
            "leading": format_rational(&v.leading),
            "error_rate": v.error_rate.as_ref().map(format_rational),
            "step": format_rational(&v.step),
            "note": v.note,
        })),
        "phase_diagram": d.diagram.iter().map(|(r, c)| {
            let mut v = condition_json(c);
            v["regime"] = json!(r.name());
            v["id"] = json!(r);
            v
        }).collect::<Vec<_>>(),
        "tested": tested_exponents(prog, d),
    })
}

/// The JSON schema name of the depth limit report.
pub const DEPTH_LIMIT_SCHEMA: &str = "tp-depth-limit/1";

/// The limit's equations as (label, text, LaTeX) triples.
pub fn limit_equations(prog: &DepthProgram, d: &Derivation) -> Vec<(String, String, String)> {
    use crate::depth::derive::DepthLimit;
    use crate::depth::render::{crx_equation, hayou_equation, mv_equation, Style};
    let mut out = Vec::new();
    match (&d.limit, &prog.net) {
        (Some(DepthLimit::Crx { equation: Some(eq) }), Resnet::Crx(net)) => out.push((
            format!("{} → ∞", prog.depth),
            crx_equation(prog, net, eq, Style::Text),
            crx_equation(prog, net, eq, Style::Latex),
        )),
        (Some(DepthLimit::Hayou { sde, mv }), Resnet::Hayou(net)) => {
            let n = prog.width.as_deref().unwrap_or("n");
            if let Some(eq) = sde {
                out.push((
                    format!("{} → ∞ at fixed {n}", prog.depth),
                    hayou_equation(prog, net, eq, n, Style::Text),
                    hayou_equation(prog, net, eq, n, Style::Latex),
                ));
            }
            if let Some(eq) = mv {
                out.push((
                    format!("then {n} → ∞ (width limit after the depth limit)"),
                    mv_equation(prog, net, eq, Style::Text),
                    mv_equation(prog, net, eq, Style::Latex),
                ));
            }
        }
        _ => {}
    }
    out
}

/// The text report of `tp limit` for a depth program.
pub fn render_depth_limit(
    prog: &DepthProgram,
    d: &Derivation,
    values: &crate::depth::evaluate::DepthValues,
    latex: bool,
) -> String {
    let mut out = String::new();
    if let Some(t) = &prog.title {
        let _ = writeln!(out, "{t}");
    }
    let _ = writeln!(out, "{}", describe(prog));
    let Some(v) = &d.verdict else {
        let _ = writeln!(
            out,
            "\nthe limit depends on the symbols {}; give them values with --set (tp scale prints the phase diagram)",
            prog.symbols.join(", ")
        );
        return out;
    };
    let _ = writeln!(out, "regime: {}", v.regime.name());
    if let Some(note) = &v.note {
        let _ = writeln!(out, "  {note}");
    }
    let eqs = limit_equations(prog, d);
    if eqs.is_empty() {
        let _ = writeln!(
            out,
            "\nno limit: {}",
            match v.regime {
                Regime::Explosion =>
                    "a term of the layer increment grows with the depth (tp scale shows which)",
                _ => "the power counting does not apply",
            }
        );
        return out;
    }
    for (label, text, tex) in &eqs {
        let _ = writeln!(out, "\n{label}:");
        let _ = writeln!(out, "  {}", if latex { tex } else { text });
    }
    if let (Some(crate::depth::derive::DepthLimit::Crx { equation: Some(eq) }), Resnet::Crx(net)) =
        (&d.limit, &prog.net)
    {
        let _ = writeln!(out, "where");
        for line in crate::depth::render::crx_where(prog, net, eq) {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !values.values.is_empty() {
        let _ = writeln!(out, "\nvalues:");
        let w = values
            .values
            .iter()
            .map(|x| x.name.chars().count())
            .max()
            .unwrap_or(4);
        let mut methods: Vec<&str> = Vec::new();
        for x in &values.values {
            let err = if x.stderr == 0.0 {
                "exact".to_string()
            } else {
                format!("± {:.1e}", x.stderr)
            };
            let _ = writeln!(
                out,
                "  {:<w$}  t = {:<4}  {:>12.6}  {err}",
                x.name, x.t, x.value
            );
            if !methods.contains(&x.method.as_str()) {
                methods.push(&x.method);
            }
        }
        for m in methods {
            let _ = writeln!(out, "  method: {m}");
        }
    }
    out
}

/// The JSON report `tp-depth-limit/1`.
pub fn depth_limit_json(
    prog: &DepthProgram,
    d: &Derivation,
    values: &crate::depth::evaluate::DepthValues,
) -> Value {
    json!({
        "schema": DEPTH_LIMIT_SCHEMA,
        "title": prog.title,
        "description": describe(prog),
        "regime": d.verdict.as_ref().map(|v| v.regime.name()),
        "equations": limit_equations(prog, d).into_iter().map(|(label, text, latex)| json!({
            "limit": label, "text": text, "latex": latex,
        })).collect::<Vec<_>>(),
        "limit": d.limit,
        "values": values.values,
    })
}

/// `tp show` for a depth program: the sizes, the activation, and the rolled recurrence
/// (one layer's update over the layer index k < L), which the simulator unrolls.
pub fn render_depth_program(prog: &DepthProgram) -> String {
    let mut out = String::new();
    if let Some(t) = &prog.title {
        let _ = writeln!(out, "program \"{t}\"");
    }
    let _ = writeln!(out, "depth {}", prog.depth);
    if let Some(n) = &prog.width {
        let _ = writeln!(out, "width {n}");
    }
    if !prog.symbols.is_empty() {
        let _ = writeln!(out, "symbols {}", prog.symbols.join(", "));
    }
    for a in &prog.activations {
        let _ = writeln!(
            out,
            "activation {}(x) = {}",
            a.name,
            crate::ir::render_formula(a.body(), &prog.activations, "x")
        );
    }
    let l = &prog.depth;
    match &prog.net {
        Resnet::Crx(net) => {
            let _ = writeln!(out, "dim {} = {}", net.dim_name, net.dim);
            let _ = writeln!(out, "input x = {:?}", net.input);
            let _ = writeln!(out, "h_0 = x");
            let _ = writeln!(
                out,
                "for k in 0..{l}:  h_(k+1) = h_k + {} * {l}^(-({})) * {}(A_k h_k + b_k)",
                net.delta,
                net.alpha,
                prog.act_name(net.act)
            );
            let trend = |present: bool, what: &str| {
                if present {
                    format!("{l}^(-({})) {what}(k/{l})", net.beta)
                } else {
                    "0".into()
                }
            };
            let _ = writeln!(
                out,
                "  A_k = {} + {} * {l}^(-({})) * Ξ_k,   Ξ_k: {d}×{d} i.i.d. N(0, 1)",
                trend(net.trend.is_some(), "Ā"),
                net.noise,
                net.gamma,
                d = net.dim
            );
            let _ = writeln!(
                out,
                "  b_k = {} + {} * {l}^(-({})) * ξ_k,    ξ_k: {} i.i.d. N(0, 1)",
                trend(net.bias_trend.is_some(), "b̄"),
                net.bias_noise,
                net.gamma,
                net.dim
            );
            if let Some(a) = &net.trend {
                for (i, row) in a.iter().enumerate() {
                    let cells: Vec<String> = row
                        .iter()
                        .map(|e| crate::ir::render_formula(e, &prog.activations, "t"))
                        .collect();
                    let _ = writeln!(out, "  Ā(t) row {i}: [{}]", cells.join(", "));
                }
            }
            if let Some(b) = &net.bias_trend {
                let cells: Vec<String> = b
                    .iter()
                    .map(|e| crate::ir::render_formula(e, &prog.activations, "t"))
                    .collect();
                let _ = writeln!(out, "  b̄(t) = [{}]", cells.join(", "));
            }
        }
        Resnet::Hayou(net) => {
            let n = prog.width.as_deref().unwrap_or("n");
            let _ = writeln!(
                out,
                "input x = {:?}  (m_0 = {})",
                net.input,
                net.input.len()
            );
            let _ = writeln!(
                out,
                "f_0 = W_in x,   W_in: {n}×{} i.i.d. N(0, 1/{})",
                net.input.len(),
                net.input.len()
            );
            let beta = format!("{l}^(-({}))", net.branch);
            let act = prog.act_name(net.act);
            match net.kind {
                HayouKind::Type1 => {
                    let _ = writeln!(out, "for ℓ in 1..={l}:  f_ℓ = sqrt(1 - β²) f_(ℓ-1) + β W_ℓ {act}(f_(ℓ-1)),   β = {beta},   W_ℓ: {n}×{n} i.i.d. N(0, {}/{n})", net.gain);
                    if net.sketch {
                        let _ = writeln!(out, "  v_0 = z ~ N(0, I_{n});  v_ℓ = sqrt(1 - β²) v_(ℓ-1) + β W_ℓ ({act}'(f_(ℓ-1)) ⊙ v_(ℓ-1))   (v_ℓ = J_ℓ z)");
                    }
                }
                HayouKind::Type2 => {
                    let _ = writeln!(out, "for ℓ in 1..={l}:  f_ℓ = sqrt(1 - β²) f_(ℓ-1) + β V_ℓ {act}(U_ℓ f_(ℓ-1)),   β = {beta},   U_ℓ: N(0, 1/{n}), V_ℓ: N(0, {}/{n})", net.gain);
                }
            }
        }
    }
    out
}

/// The JSON of `tp show` for a depth program (schema `tp-depth-show/1`).
pub fn depth_show_json(prog: &DepthProgram) -> Value {
    json!({
        "schema": "tp-depth-show/1",
        "title": prog.title,
        "family": match prog.net { Resnet::Crx(_) => "crx", Resnet::Hayou(_) => "hayou" },
        "sizes": {"depth": prog.depth, "width": prog.width},
        "symbols": prog.symbols,
        "description": describe(prog),
        "recurrence": render_depth_program(prog),
    })
}

/// The JSON schema name of the depth check report.
pub const DEPTH_CHECK_SCHEMA: &str = "tp-depth-check/1";

/// The text report of `tp check` for a depth program.
pub fn render_depth_check(
    prog: &DepthProgram,
    report: &crate::check::depth_program::DepthCheckReport,
) -> String {
    let mut out = String::new();
    if let Some(t) = &prog.title {
        let _ = writeln!(out, "{t}");
    }
    let _ = writeln!(out, "{}", describe(prog));
    let list = |v: &[usize]| {
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = write!(out, "depths {}", list(&report.depths));
    if !report.widths.is_empty() {
        let _ = write!(out, "; widths {}", list(&report.widths));
    }
    let _ = writeln!(out, "; {} seeds", report.seeds);
    if let Some(m) = report.mutation {
        let _ = writeln!(
            out,
            "MUTATION {}: the derivation is deliberately wrong (this check should FAIL)",
            m.name()
        );
    }
    let total: usize = report.points.iter().map(|p| p.verdicts.len()).sum();
    for p in &report.points {
        let _ = writeln!(out);
        if !p.point.is_empty() {
            let at: Vec<String> = p.point.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            let _ = writeln!(out, "at {}: regime {}", at.join(", "), p.regime);
        } else {
            let _ = writeln!(out, "regime {}", p.regime);
        }
        if p.verdicts.is_empty() {
            let _ = writeln!(out, "  nothing to judge");
        }
        for v in &p.verdicts {
            let _ = writeln!(
                out,
                "  {} {:<9} {} [{}]: measured {}, derived {}; {} (p = {:.3})",
                if v.pass { "PASS" } else { "FAIL" },
                format!("{:?}", v.rule).to_lowercase(),
                v.quantity,
                v.against,
                v.measured,
                v.predicted,
                v.reason,
                v.p_value
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{}: {} of {total} verdicts pass (family-wise level 5%, Holm)",
        if report.pass() { "PASS" } else { "FAIL" },
        total - report.failures
    );
    out
}

/// The JSON report `tp-depth-check/1`.
pub fn depth_check_json(
    prog: &DepthProgram,
    report: &crate::check::depth_program::DepthCheckReport,
) -> Value {
    json!({
        "schema": DEPTH_CHECK_SCHEMA,
        "title": prog.title,
        "description": describe(prog),
        "pass": report.pass(),
        "failures": report.failures,
        "depths": report.depths,
        "widths": report.widths,
        "seeds": report.seeds,
        "mutation": report.mutation.map(|m| m.name()),
        "points": report.points,
    })
}

/// The JSON schema name of `tp simulate` on a depth program.
pub const DEPTH_SIMULATE_SCHEMA: &str = "tp-depth-simulate/1";

fn mean_se_text(xs: &[f64]) -> String {
    if xs.is_empty() {
        return "—".into();
    }
    let (m, se) = crate::check::depth::mean_se(xs);
    if se.is_finite() {
        format!("{m:.4} ± {se:.1e}")
    } else {
        format!("{m:.4}")
    }
}

/// The text table of a depth sweep: per size, the mean ± standard error over seeds of
/// each recorded quantity and the number of blow-ups.
pub fn render_depth_sweep(prog: &DepthProgram, sweep: &crate::depth::sweep::DepthSweep) -> String {
    use crate::depth::sweep::DepthSweep;
    let mut out = String::new();
    if let Some(t) = &prog.title {
        let _ = writeln!(out, "{t}");
    }
    let _ = writeln!(out, "{}", describe(prog));
    match sweep {
        DepthSweep::Crx(s) => {
            let _ = writeln!(
                out,
                "{} seeds; the limit is stepped with {} sub-steps per layer ({})",
                s.seeds.len(),
                s.refine,
                s.scheme
                    .map_or("no limit: the network runs alone".to_string(), |x| format!(
                        "{x:?}"
                    ))
            );
            let _ = writeln!(
                out,
                "\n{:>6}  {:>22}  {:>32}  blow-ups",
                "L", "‖h_L − x‖/√d", "sup_k |h_k − H_(k/L)|"
            );
            for (i, l) in s.depths.iter().enumerate() {
                let rows: Vec<_> = (0..s.seeds.len()).filter_map(|k| s.record(i, k)).collect();
                let disp: Vec<f64> = rows.iter().filter_map(|r| r.network.displacement).collect();
                let err: Vec<f64> = rows.iter().filter_map(|r| r.pathwise_error).collect();
                let blown = rows.iter().filter(|r| r.network.blowup.is_some()).count();
                let _ = writeln!(
                    out,
                    "{l:>6}  {:>22}  {:>32}  {blown}",
                    mean_se_text(&disp),
                    mean_se_text(&err)
                );
            }
        }
        DepthSweep::Hayou(s) => {
            let _ = writeln!(
                out,
                "{} seeds; {} sub-steps per layer in the coupled limit",
                s.seeds.len(),
                s.refine
            );
            let _ = writeln!(
                out,
                "\n{:>5} {:>6}  {:>20}  {:>20}  {:>20}  {:>22}  {:>20}  blow-ups",
                "n",
                "L",
                "‖f_L‖²/n",
                "‖v_L‖²/n",
                "⟨f_L,v_L⟩/n",
                "log ‖f_L‖²/‖f_0‖²",
                "sup ‖f − F‖/√n",
            );
            for (w, n) in s.widths.iter().enumerate() {
                for (i, l) in s.depths.iter().enumerate() {
                    let rows = s.at(w, i);
                    let ends: Vec<_> = rows
                        .iter()
                        .filter_map(|r| r.network.as_ref().and_then(|t| t.end.as_ref()))
                        .collect();
                    let f2: Vec<f64> = ends.iter().map(|e| e.f_sq).collect();
                    let v2: Vec<f64> = ends.iter().filter_map(|e| e.v_sq).collect();
                    let fv: Vec<f64> = ends.iter().filter_map(|e| e.fv).collect();
                    let lg: Vec<f64> = ends.iter().map(|e| e.log_growth).collect();
                    let er: Vec<f64> = rows.iter().filter_map(|r| r.f_error).collect();
                    let blown = rows
                        .iter()
                        .filter(|r| r.network.as_ref().is_some_and(|t| t.blowup.is_some()))
                        .count();
                    let _ = writeln!(
                        out,
                        "{n:>5} {l:>6}  {:>20}  {:>20}  {:>20}  {:>22}  {:>20}  {blown}",
                        mean_se_text(&f2),
                        mean_se_text(&v2),
                        mean_se_text(&fv),
                        mean_se_text(&lg),
                        mean_se_text(&er)
                    );
                }
            }
        }
    }
    out
}

/// The JSON of `tp simulate` on a depth program: every per-seed record.
pub fn depth_sweep_json(prog: &DepthProgram, sweep: &crate::depth::sweep::DepthSweep) -> Value {
    json!({
        "schema": DEPTH_SIMULATE_SCHEMA,
        "title": prog.title,
        "description": describe(prog),
        "sweep": sweep,
    })
}

/// One verdict as an aligned text row (PASS/FAIL, quantity, rule, predicted, measured,
/// p), the column widths chosen by the family's report so its rows line up.
pub fn verdict_row(
    v: &crate::check::depth::DepthVerdict,
    quantity_width: usize,
    rule_width: usize,
    predicted_width: usize,
) -> String {
    format!(
        "  {} {:<qw$} {:<rw$} predicted {:<pw$} measured {:<34} p = {:.3}",
        if v.pass { "PASS" } else { "FAIL" },
        v.quantity,
        format!("{:?}", v.rule).to_lowercase(),
        v.predicted,
        v.measured,
        v.p_value,
        qw = quantity_width,
        rw = rule_width,
        pw = predicted_width,
    )
}
