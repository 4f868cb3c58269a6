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
        (Resnet::Crx(_), Regime::Explosion) => out.push(format!(
            "‖h_L − x‖ grows with {l} (first growth: {l}^{})",
            format_rational(&v.leading)
        )),
        (Resnet::Crx(_), _) => out.push(format!(
            "‖h_L − x‖/√d = Θ({l}^{})",
            format_rational(&v.leading)
        )),
        (Resnet::Hayou(_), _) => {
            let n = prog.width.as_deref().unwrap_or("n");
            out.push(format!(
                "‖f_L‖²/{n} = Θ({n}^0 {l}^0), its fluctuation around the width limit Θ({n}^-1/2)"
            ));
        }
    }
    if let Some(r) = &v.error_rate {
        out.push(format!(
            "pathwise error sup_k |h_k − H_(k/{l})| under the synchronous coupling = Θ({l}^{})",
            format_rational(r)
        ));
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
