//! The derived Gram SDE as equations in text and LaTeX, each from the derivation's exact
//! polynomials (never from a template with numbers filled in).

use super::canon::{render, render_sum, sqrt_poly, Names, Style};
use super::derive::{correlation_sde, ShapedDerivation};
use super::model::{ShapedAct, ShapedProgram};
use super::poly::{Atom, Poly};
use crate::exponent::Rational;
use num_traits::{One, Signed};

/// One displayed equation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Equation {
    /// What it is (`Gram SDE`, `drift`, …).
    pub label: String,
    /// Plain text.
    pub text: String,
    /// LaTeX.
    pub latex: String,
}

fn both(p: &Poly) -> (String, String) {
    let names = Names::default();
    (
        render(p, &names, Style::Text),
        render(p, &names, Style::Latex),
    )
}

fn eq(label: &str, text: String, latex: String) -> Equation {
    Equation {
        label: label.into(),
        text,
        latex,
    }
}

/// The log-coordinate drift of a diagonal entry, b^{αα}/Φ^{αα} − Σ^{αα,αα}/(2(Φ^{αα})²),
/// from the derived drift and diffusion (Itô's lemma for log).
pub fn log_diagonal_drift(d: &ShapedDerivation) -> Option<Poly> {
    let phi = Poly::atom(Atom::Gram(0, 0));
    let inv = Poly::atom_pow(Atom::Gram(0, 0), -Rational::one());
    // Σ^{αα,αα}: all four indices equal.
    let mut s = d.diffusion.clone();
    for (i, j) in [(0, 2), (1, 3), (0, 3), (1, 2), (0, 1), (2, 3)] {
        s = s.substitute(&Atom::Gram(i, j), &phi)?;
    }
    let half = Rational::one() / Rational::from_integer(2.into());
    Some(
        d.drift_diag
            .mul(&inv)
            .sub(&s.mul(&inv).mul(&inv).scale(&half)),
    )
}

/// The equations of the limit: the Gram SDE, its drift and diffusion, and the derived
/// consequences (ν and the correlation SDE for a shaped ReLU, the scalar drift and b for
/// smooth shaping, the law of log Φ^{αα} when its log-drift is constant).
pub fn equations(prog: &ShapedProgram, d: &ShapedDerivation) -> Vec<Equation> {
    let names = Names::default();
    let mut out = vec![eq(
        "Gram SDE in tau = l/n",
        "dPhi^ab = b^ab(Phi) dtau + [Sigma(Phi)^(1/2) dB]^ab".into(),
        "d\\Phi^{\\alpha\\beta}_\\tau = b^{\\alpha\\beta}(\\Phi_\\tau)\\,d\\tau + \\left[\\Sigma(\\Phi_\\tau)^{1/2} dB_\\tau\\right]^{\\alpha\\beta}".into(),
    )];
    let (st, sl) = both(&d.diffusion);
    out.push(eq(
        "diffusion",
        format!("Sigma^(ab,cd) = {st}"),
        format!("\\Sigma^{{\\alpha\\beta,\\gamma\\delta}} = {sl}"),
    ));
    match (&prog.act, &d.nu) {
        (ShapedAct::Relu { .. }, Some(nu)) => {
            out.push(eq(
                "drift",
                "b^ab = sqrt(Phi^aa Phi^bb) nu(rho^ab),  b^aa = 0".into(),
                "b^{\\alpha\\beta} = \\sqrt{\\Phi^{\\alpha\\alpha}\\Phi^{\\beta\\beta}}\\,\\nu(\\rho^{\\alpha\\beta}),\\quad b^{\\alpha\\alpha} = 0".into(),
            ));
            let (nt, nl) = both(nu);
            out.push(eq(
                "nu",
                format!("nu(rho) = {nt}"),
                format!("\\nu(\\rho) = {nl}"),
            ));
            if let Some((drift, variance)) = correlation_sde(d) {
                let rest = drift.sub(nu);
                let rt = render(&rest, &names, Style::Text);
                let rl = render(&rest, &names, Style::Latex);
                let (vt, vl) = match sqrt_poly(&variance) {
                    Some(root) => {
                        let root = orient_constant_positive(root);
                        (
                            format!("({})", render_sum(&root, &names, Style::Text)),
                            format!("\\left({}\\right)", render_sum(&root, &names, Style::Latex)),
                        )
                    }
                    None => (
                        format!("sqrt({})", render_sum(&variance, &names, Style::Text)),
                        format!("\\sqrt{{{}}}", render_sum(&variance, &names, Style::Latex)),
                    ),
                };
                out.push(eq(
                    "correlation SDE (Ito)",
                    format!("drho = [nu(rho) {}] dtau + {vt} dW", signed(&rt)),
                    format!(
                        "d\\rho = \\left[\\nu(\\rho) {}\\right] d\\tau + {vl}\\, dW",
                        signed(&rl)
                    ),
                ));
            }
        }
        _ => {
            let (bt, bl) = both(&d.drift_offdiag);
            out.push(eq(
                "drift (a != b)",
                format!("b^ab = {bt}"),
                format!("b^{{\\alpha\\beta}} = {bl}"),
            ));
            let (dt, dl) = both(&d.drift_diag);
            out.push(eq(
                "drift (diagonal)",
                format!("b^aa = {dt}"),
                format!("b^{{\\alpha\\alpha}} = {dl}"),
            ));
            if let Some(b) = &d.b {
                let (bt, bl) = both(b);
                out.push(eq(
                    "b",
                    format!("b = 3/4 phi''(0)^2 + phi'''(0) = {bt}"),
                    format!("b = \\tfrac34 \\varphi''(0)^2 + \\varphi'''(0) = {bl}"),
                ));
            }
        }
    }
    if let Some(ld) = log_diagonal_drift(d) {
        let (lt, ll) = both(&ld);
        match ld.as_rational() {
            Some(q) => {
                let qt = crate::exponent::format_rational(&q.abs());
                let sign = if q < Rational::from_integer(0.into()) {
                    "-"
                } else {
                    "+"
                };
                out.push(eq(
                    "diagonal (exact law)",
                    format!(
                        "dlog Phi^aa = {lt} dtau + sqrt(2) dB, so log Phi^aa_tau ~ N(log Phi^aa_0 {sign} {qt} tau, 2 tau)"
                    ),
                    format!(
                        "d\\log\\Phi^{{\\alpha\\alpha}} = {ll}\\,d\\tau + \\sqrt2\\,dB,\\quad \\log\\Phi^{{\\alpha\\alpha}}_\\tau \\sim \\mathcal N\\!\\left(\\log\\Phi^{{\\alpha\\alpha}}_0 {sign} {qt}\\tau,\\ 2\\tau\\right)"
                    ),
                ));
            }
            None => out.push(eq(
                "diagonal (log coordinates)",
                format!("dlog Phi^aa = [{lt}] dtau + sqrt(2) dB"),
                format!(
                    "d\\log\\Phi^{{\\alpha\\alpha}} = \\left[{ll}\\right] d\\tau + \\sqrt2\\,dB"
                ),
            )),
        }
    }
    out.push(eq(
        "deterministic limit (no noise)",
        "dPhi/dtau = b(Phi)".into(),
        "\\partial_\\tau \\Phi = b(\\Phi)".into(),
    ));
    out
}

fn signed(s: &str) -> String {
    match s.strip_prefix('-') {
        Some(rest) => format!("- {rest}"),
        None => format!("+ {s}"),
    }
}

/// A root with a positive constant term (1 − ρ² rather than ρ² − 1).
fn orient_constant_positive(p: Poly) -> Poly {
    match p.0.get(&super::poly::Monomial::default()) {
        Some(c) if c < &Rational::from_integer(0.into()) => p.neg(),
        _ => p,
    }
}
