//! The depth limits as text and LaTeX.

use super::equation::{CrxEquation, HayouEquation, MvEquation, MvSource};
use super::model::{CrxNet, DepthProgram, HayouKind, HayouNet};
use crate::ir::Expr;

/// Output flavour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Unicode text.
    Text,
    /// LaTeX (math mode content).
    Latex,
}

fn num(x: f64) -> String {
    if x == x.round() && x.abs() < 1e9 {
        format!("{}", x as i64)
    } else {
        format!("{}", (x * 1e6).round() / 1e6)
    }
}

/// `c·` as a prefix, empty for c = 1.
fn coef(c: f64, style: Style) -> String {
    if (c - 1.0).abs() < 1e-15 {
        String::new()
    } else {
        match style {
            Style::Text => format!("{}·", num(c)),
            Style::Latex => format!("{}\\,", num(c)),
        }
    }
}

/// The limit equation of a CRX network, e.g. `dH_t = [Ā_t H_t + b̄_t + (σ''(0)/2) q(H_t)] dt
/// + s dB^A_t H_t + s_b dB^b_t`.
pub fn crx_equation(prog: &DepthProgram, net: &CrxNet, eq: &CrxEquation, style: Style) -> String {
    let tex = style == Style::Latex;
    let act = prog.act_name(net.act);
    let (h, a, b, dt) = if tex {
        ("H_t", "\\bar A_t", "\\bar b_t", "\\,dt")
    } else {
        ("H_t", "Ā_t", "b̄_t", " dt")
    };
    let pre = match (net.trend.is_some(), net.bias_trend.is_some()) {
        (true, true) => format!("{a} {h} + {b}"),
        (true, false) => format!("{a} {h}"),
        (false, true) => b.to_string(),
        (false, false) => "0".into(),
    };
    let mut drift = Vec::new();
    if eq.full_activation {
        let name = if tex {
            format!("\\mathrm{{{act}}}")
        } else {
            act.to_string()
        };
        drift.push(format!("{name}({pre})"));
    }
    if eq.linear_trend {
        let c = coef(eq.taylor[1], style);
        drift.push(if c.is_empty() {
            pre.clone()
        } else {
            format!("{c}({pre})")
        });
    }
    if eq.constant {
        drift.push(num(eq.taylor[0]));
    }
    if eq.ito {
        let half = eq.taylor[2] / 2.0;
        let q = if tex {
            format!(
                "{}\\,(s^2 \\lVert {h} \\rVert^2 + s_b^2)\\,\\mathbf 1",
                num(half)
            )
        } else {
            format!("{}·(s²|{h}|² + s_b²)·1", num(half))
        };
        drift.push(q);
    }
    let mut out = "dH_t = ".to_string();
    let d = coef(eq.delta, style);
    if drift.is_empty() {
        out.push('0');
    } else {
        let inner = drift.join(" + ");
        if drift.len() == 1 && d.is_empty() {
            out.push_str(&format!("{inner}{dt}"));
        } else if tex {
            out.push_str(&format!("{d}\\left[{inner}\\right]{dt}"));
        } else {
            out.push_str(&format!("{d}[{inner}]{dt}"));
        }
    }
    if eq.noise {
        let c = coef(eq.delta * eq.taylor[1], style);
        let mut parts = Vec::new();
        if net.noise != 0.0 {
            parts.push(if tex {
                format!("s\\,dB^A_t\\,{h}")
            } else {
                format!("s dB^A_t {h}")
            });
        }
        if net.bias_noise != 0.0 {
            parts.push(if tex {
                "s_b\\,dB^b_t".into()
            } else {
                "s_b dB^b_t".into()
            });
        }
        let noise = parts.join(" + ");
        if c.is_empty() {
            out.push_str(&format!(" + {noise}"));
        } else if tex {
            out.push_str(&format!(" + {c}\\left({noise}\\right)"));
        } else {
            out.push_str(&format!(" + {c}({noise})"));
        }
    }
    out.push_str(if tex { ",\\quad H_0 = x" } else { ",  H_0 = x" });
    out
}

/// The "where" lines of a CRX limit: the values of s, s_b, the trend formulas, σ's
/// Taylor data.
pub fn crx_where(prog: &DepthProgram, net: &CrxNet, eq: &CrxEquation) -> Vec<String> {
    let mut lines = Vec::new();
    if eq.noise || eq.ito {
        lines.push(format!(
            "s = {}, s_b = {}; B^A is a {d}×{d} matrix of independent Brownian motions, B^b a {d}-vector",
            num(net.noise),
            num(net.bias_noise),
            d = net.dim
        ));
    }
    if let Some(a) = &net.trend {
        let rows: Vec<String> = a
            .iter()
            .map(|r| {
                format!(
                    "[{}]",
                    r.iter()
                        .map(|e| formula(prog, e))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect();
        lines.push(format!("Ā_t = [{}]", rows.join(", ")));
    }
    if let Some(b) = &net.bias_trend {
        lines.push(format!(
            "b̄_t = [{}]",
            b.iter()
                .map(|e| formula(prog, e))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    lines.push(format!(
        "σ = {}: σ(0) = {}, σ'(0) = {}, σ''(0) = {}",
        prog.act_name(net.act),
        num(eq.taylor[0]),
        num(eq.taylor[1]),
        num(eq.taylor[2])
    ));
    lines
}

/// A formula in t as text.
fn formula(prog: &DepthProgram, e: &Expr) -> String {
    crate::ir::render_formula(e, &prog.activations, "t")
}

/// The Hayou/Zheng SDE at fixed width n.
pub fn hayou_equation(
    prog: &DepthProgram,
    net: &HayouNet,
    eq: &HayouEquation,
    width: &str,
    style: Style,
) -> String {
    let tex = style == Style::Latex;
    let act = prog.act_name(net.act);
    let g = num(eq.gain);
    let mut f = String::from("df_t = ");
    let mut v = String::from("dv_t = ");
    let mut fparts = Vec::new();
    let mut vparts = Vec::new();
    if eq.skip_drift {
        fparts.push(if tex {
            "-\\tfrac12 f_t\\,dt".to_string()
        } else {
            "−½ f_t dt".into()
        });
        vparts.push(if tex {
            "-\\tfrac12 v_t\\,dt".to_string()
        } else {
            "−½ v_t dt".into()
        });
    }
    if eq.noise {
        match eq.kind {
            HayouKind::Type1 => {
                if tex {
                    fparts.push(format!(
                        "\\sqrt{{{g}/{width}}}\\,dB_t\\,\\mathrm{{{act}}}(f_t)"
                    ));
                    vparts.push(format!(
                        "\\sqrt{{{g}/{width}}}\\,dB_t\\,(\\mathrm{{{act}}}'(f_t)\\odot v_t)"
                    ));
                } else {
                    fparts.push(format!("√({g}/{width}) dB_t {act}(f_t)"));
                    vparts.push(format!("√({g}/{width}) dB_t ({act}'(f_t) ⊙ v_t)"));
                }
            }
            HayouKind::Type2 => {
                if tex {
                    fparts.push(format!(
                        "\\sqrt{{{g}\\,\\mathbb E_g\\,\\mathrm{{{act}}}(\\lVert f_t\\rVert g/\\sqrt{{{width}}})^2}}\\,d\\tilde B_t"
                    ));
                } else {
                    fparts.push(format!("√({g}·E_g {act}(‖f_t‖ g/√{width})²) dB̃_t"));
                }
            }
        }
    }
    if fparts.is_empty() {
        fparts.push("0".into());
        vparts.push("0".into());
    }
    f.push_str(&fparts.join(" + "));
    v.push_str(&vparts.join(" + "));
    let mut out = f;
    if net.sketch && eq.kind == HayouKind::Type1 {
        out.push_str(if tex { ",\\qquad " } else { ";  " });
        out.push_str(&v);
    }
    out
}

/// The width limit after the depth limit: the covariance ODE of (f^i, v^i).
pub fn mv_equation(prog: &DepthProgram, net: &HayouNet, eq: &MvEquation, style: Style) -> String {
    let tex = style == Style::Latex;
    let act = prog.act_name(net.act);
    let g = num(eq.gain);
    let state = if eq.sketch { "(f, v)" } else { "f" };
    match (&eq.source, style) {
        (MvSource::Derived, Style::Text) => {
            let s = if eq.sketch {
                format!("S(K) = E_{{(f,v)~N(0,K)}}[(φ(f), φ'(f)v)ᵀ(φ(f), φ'(f)v)], φ = {act}")
            } else {
                format!("S(K) = E_{{f~N(0,K)}}[φ(f)²], φ = {act}")
            };
            let _ = tex;
            format!("coordinates of {state} are i.i.d. centred Gaussian processes with covariance K_t: dK_t/dt = −K_t + {g}·S(K_t),  {s}")
        }
        (MvSource::Derived, Style::Latex) => format!(
            "\\frac{{dK_t}}{{dt}} = -K_t + {g}\\,\\mathbb E_{{(f,v)\\sim\\mathcal N(0,K_t)}}\\!\\left[\\binom{{\\phi(f)}}{{\\phi'(f)v}}\\binom{{\\phi(f)}}{{\\phi'(f)v}}^{{\\!\\top}}\\right]"
        ),
        (MvSource::Constant(d), Style::Text) => format!(
            "dK_t/dt = −K_t + [[{}, {}], [{}, {}]] (constant diffusion)",
            num(d[0][0]),
            num(d[0][1]),
            num(d[1][0]),
            num(d[1][1])
        ),
        (MvSource::Constant(d), Style::Latex) => format!(
            "\\frac{{dK_t}}{{dt}} = -K_t + \\begin{{pmatrix}}{} & {}\\\\ {} & {}\\end{{pmatrix}}",
            num(d[0][0]),
            num(d[0][1]),
            num(d[1][0]),
            num(d[1][1])
        ),
    }
}
