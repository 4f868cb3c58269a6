//! The McKean–Vlasov limit of a mean-field program as equations, in text and LaTeX: the
//! field h(w, μ) with the program's own ∂₁ℓ, ∇_wF and ∇V, the noise covariance, the
//! particle system (eq. 6), the limit of each regime (eq. 7 or 8), the time change with
//! γ_{α,β}(N) written exactly, Proposition 5's stationary law where it applies, and the
//! linear–Gaussian toy's closed forms.

use super::derive::{affine_text, ExpRatio, MfDerivation, MfRegime};
use super::horizon::RatPow;
use super::model::{Loss, MeanFieldProgram};
use super::toy::Toy;
use crate::exponent::{format_rational, Rational};
use crate::ir::{render_expr, render_number, Expr, Instr, Kind, Meta, Op, Program, Scale};
use crate::limit::render::{tex_formula, tex_ident};
use num_traits::{One, Signed, Zero};

/// One displayed equation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Equation {
    /// What it is (`field`, `particle system (eq. 6)`, …).
    pub label: String,
    /// Plain text.
    pub text: String,
    /// LaTeX.
    pub latex: String,
}

fn eq(label: &str, text: String, latex: String) -> Equation {
    Equation {
        label: label.into(),
        text,
        latex,
    }
}

/// A program whose values are named w1 … wp, x1 … xd, so that the IR printer renders the
/// mean-field formulas (the same printer `tp show` uses, not a second one).
fn shadow(prog: &MeanFieldProgram) -> Program {
    let mut p = Program::new(&prog.size);
    p.activations = prog.activations.clone();
    let names = (1..=prog.dim)
        .map(|i| format!("w{i}"))
        .chain((1..=prog.x_dim).map(|j| format!("x{j}")));
    for name in names {
        p.push(Instr {
            name,
            kind: Kind::Scalar,
            scale: Scale::one(),
            op: Op::Scalar {
                expr: Expr::Const(0.0),
            },
            meta: Meta::user(),
        });
    }
    p
}

/// A formula of the program in text, variables named w1 …, x1 ….
pub fn formula_text(prog: &MeanFieldProgram, e: &Expr) -> String {
    render_expr(e, &shadow(prog))
}

/// A formula of the program in LaTeX, variables named w_1 …, x_1 ….
pub fn formula_latex(prog: &MeanFieldProgram, e: &Expr) -> String {
    let names: Vec<String> = (1..=prog.dim)
        .map(|i| format!("w_{{{i}}}"))
        .chain((1..=prog.x_dim).map(|j| format!("x_{{{j}}}")))
        .collect();
    let acts: Vec<String> = prog
        .activations
        .iter()
        .map(|a| tex_ident(&a.name))
        .collect();
    tex_formula(e, &names, &acts)
}

/// A rational in LaTeX: `3`, `\tfrac{1}{10}`, `-\tfrac{1}{4}`.
pub fn tex_rational(q: &Rational) -> String {
    if q.is_integer() {
        return format_rational(q);
    }
    let sign = if q.is_negative() { "-" } else { "" };
    format!("{sign}\\tfrac{{{}}}{{{}}}", q.numer().abs(), q.denom())
}

/// Symbol names in LaTeX: alpha, beta as Greek letters.
fn tex_symbols(s: &str) -> String {
    s.replace("alpha", "\\alpha")
        .replace("beta", "\\beta")
        .replace('*', "")
}

/// An exponent of N in LaTeX (`-1/4`, `\frac{\beta - 1}{1 - \alpha}`).
fn tex_ratio(r: &ExpRatio) -> String {
    if let Some(v) = r.value() {
        return format_rational(&v);
    }
    match r.den.as_constant() {
        Some(_) => tex_symbols(&r.to_string()),
        None => format!(
            "\\frac{{{}}}{{{}}}",
            tex_symbols(&affine_text(&r.num)),
            tex_symbols(&affine_text(&r.den))
        ),
    }
}

/// Is α exactly 0 (the decay factor (t+1)^{−α} is then omitted)?
fn alpha_zero(prog: &MeanFieldProgram) -> bool {
    prog.alpha.as_constant().is_some_and(Zero::is_zero)
}

/// The decay factor (t+1)^{−α} in text and LaTeX (empty when α = 0).
fn decay(prog: &MeanFieldProgram) -> (String, String) {
    if alpha_zero(prog) {
        return (String::new(), String::new());
    }
    let a = affine_text(&prog.alpha.neg());
    (
        format!("(t+1)^({a}) "),
        format!("(t+1)^{{{}}}\\,", tex_symbols(&a)),
    )
}

/// γ^{1/(1−α)} exactly (text, LaTeX).
fn gamma_power(prog: &MeanFieldProgram) -> (String, String) {
    match prog.alpha.as_constant() {
        Some(a) if *a < Rational::one() => {
            let p = RatPow {
                base: prog.gamma.clone(),
                exp: Rational::one() / (Rational::one() - a),
            };
            let text = p.to_string();
            let latex = match p.exact() {
                Some(q) => tex_rational(&q),
                None => format!(
                    "\\left({}\\right)^{{{}}}",
                    tex_rational(&p.base),
                    format_rational(&p.exp)
                ),
            };
            (text, latex)
        }
        _ => {
            let a =
                affine_text(&crate::exponent::Exponent::constant(Rational::one()).sub(&prog.alpha));
            (
                format!("({})^(1/({a}))", format_rational(&prog.gamma)),
                format!(
                    "\\left({}\\right)^{{1/({})}}",
                    tex_rational(&prog.gamma),
                    tex_symbols(&a)
                ),
            )
        }
    }
}

/// γ_{α,β}(N) = γ^{1/(1−α)} N^{(β−1)/(1−α)} with the program's numbers, exactly.
pub fn step_formula(prog: &MeanFieldProgram, d: &MfDerivation) -> (String, String) {
    let (gt, gl) = gamma_power(prog);
    let n = &prog.size;
    let e = &d.noise_exponent;
    let exact_text = match e.value() {
        Some(v) if v.is_zero() => gt.clone(),
        _ => format!("{gt} {n}^({e})"),
    };
    let exact_latex = match e.value() {
        Some(v) if v.is_zero() => gl.clone(),
        _ => format!("{gl}\\, {n}^{{{}}}", tex_ratio(e)),
    };
    (
        format!("gamma_(alpha,beta)({n}) = gamma^(1/(1-alpha)) {n}^((beta-1)/(1-alpha)) = {exact_text}"),
        format!(
            "\\gamma_{{\\alpha,\\beta}}({n}) = \\gamma^{{1/(1-\\alpha)}} {n}^{{(\\beta-1)/(1-\\alpha)}} = {exact_latex}"
        ),
    )
}

/// ∂₁ℓ(μ[F(·, x)], y) (text, LaTeX).
fn loss_derivative(prog: &MeanFieldProgram) -> (String, String) {
    match prog.loss {
        Loss::Square => ("mu[F(., x)] - y".into(), "\\mu[F(\\cdot, x)] - y".into()),
        Loss::Huber { delta } => {
            let dl = render_number(delta);
            (
                format!("clip(mu[F(., x)] - y, -{dl}, {dl})"),
                format!(
                    "\\operatorname{{clip}}_{{[-{dl}, {dl}]}}\\left(\\mu[F(\\cdot, x)] - y\\right)"
                ),
            )
        }
    }
}

/// A vector of formulas: the single component when p = 1, else `(a, b, …)`; in text the
/// single component is parenthesized when it is not atomic.
fn vector(prog: &MeanFieldProgram, items: &[Expr]) -> (String, String) {
    let t: Vec<String> = items.iter().map(|e| formula_text(prog, e)).collect();
    let l: Vec<String> = items.iter().map(|e| formula_latex(prog, e)).collect();
    if t.len() == 1 {
        // A product reads unambiguously after `(…) ` or `- `; a sum or a sign does not.
        let text = if t[0].contains(" + ") || t[0].contains(" - ") || t[0].starts_with('-') {
            format!("({})", t[0])
        } else {
            t[0].clone()
        };
        let latex = if l[0].contains(" + ") || l[0].contains(" - ") || l[0].starts_with('-') {
            format!("\\left({}\\right)", l[0])
        } else {
            l[0].clone()
        };
        (text, latex)
    } else {
        (
            format!("({})", t.join(", ")),
            format!("\\begin{{pmatrix}}{}\\end{{pmatrix}}", l.join(" \\\\ ")),
        )
    }
}

fn fmt6(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// The equations of the limit of `prog`.
pub fn equations(prog: &MeanFieldProgram, d: &MfDerivation) -> Vec<Equation> {
    let n = &prog.size;
    let mut out = Vec::new();
    let (st, sl) = step_formula(prog, d);
    out.push(eq(
        "time change",
        format!("t = n gamma_(alpha,beta)({n}),  {st}"),
        format!("t = n\\,\\gamma_{{\\alpha,\\beta}}({n}),\\quad {sl}"),
    ));
    let (ut, ul) = (prog.unit.text.clone(), formula_latex(prog, &prog.unit.expr));
    let (gt, gl) = vector(prog, &prog.unit_grad);
    out.push(eq(
        "unit",
        format!("F(w, x) = {ut},  grad_w F(w, x) = {gt}"),
        format!("F(w, x) = {ul},\\quad \\nabla_w F(w, x) = {gl}"),
    ));
    let (dt, dl) = loss_derivative(prog);
    let penalty = !prog.penalty_grad.iter().all(Expr::is_zero);
    let (vt, vl) = vector(prog, &prog.penalty_grad);
    let (vt_term, vl_term) = if penalty {
        (format!(" - {vt}"), format!(" - {vl}"))
    } else {
        (String::new(), String::new())
    };
    out.push(eq(
        "field",
        format!("h(w, mu) = -E_pi[({dt}) {gt}]{vt_term}"),
        format!("h(w, \\mu) = -\\mathbb{{E}}_\\pi\\left[\\left({dl}\\right) {gl}\\right]{vl_term}"),
    ));
    out.push(eq(
        "noise covariance",
        format!(
            "Sigma(w, mu) = Cov_pi[({dt}) {gt}]  ({p} x {p})",
            p = prog.dim
        ),
        format!(
            "\\Sigma(w, \\mu) = \\operatorname{{Cov}}_\\pi\\left[\\left({dl}\\right) {gl}\\right]"
        ),
    ));
    let (gd, gdl) = decay(prog);
    let wrap = |inner: &str| {
        if gd.is_empty() {
            inner.to_string()
        } else {
            format!("{gd}{{ {inner} }}")
        }
    };
    let wrap_tex = |inner: &str| {
        if gdl.is_empty() {
            inner.to_string()
        } else {
            format!("{gdl}\\left\\{{ {inner} \\right\\}}")
        }
    };
    out.push(eq(
        "particle system (eq. 6)",
        format!(
            "dW^k_t = {},  k = 1..{n}, nu^{n}_t = (1/{n}) sum_k delta_(W^k_t), B^k independent, M = {}",
            wrap(&format!(
                "h(W^k_t, nu^{n}_t) dt + (gamma_(alpha,beta)({n})/M)^(1/2) Sigma(W^k_t, nu^{n}_t)^(1/2) dB^k_t"
            )),
            prog.batch
        ),
        format!(
            "dW^k_t = {},\\quad \\nu^{n}_t = \\tfrac{{1}}{{{n}}}\\sum_{{k=1}}^{n} \\delta_{{W^k_t}},\\ M = {}",
            wrap_tex(&format!(
                "h(W^k_t, \\nu^{n}_t)\\,dt + \\left(\\gamma_{{\\alpha,\\beta}}({n})/M\\right)^{{1/2}} \\Sigma(W^k_t, \\nu^{n}_t)^{{1/2}}\\, dB^k_t"
            )),
            prog.batch
        ),
    ));
    let regimes: Vec<MfRegime> = match d.regime {
        Some(r) => vec![r],
        None => vec![MfRegime::Ode, MfRegime::Sde],
    };
    let (theta_t, theta_l) = match &d.temperature {
        Some(t) => (
            t.to_string(),
            t.exact()
                .map_or_else(|| tex_symbols(&t.to_string()), |q| tex_rational(&q)),
        ),
        None => {
            let (g, gl) = gamma_power(prog);
            (
                format!("{g}/{}", prog.batch),
                format!("{gl}/{}", prog.batch),
            )
        }
    };
    for r in regimes {
        match r {
            MfRegime::Ode => out.push(eq(
                "limit, beta < 1: McKean-Vlasov ODE, eq. (7)",
                format!(
                    "dW*_t = {}, lambda_t = Law(W*_t), W*_0 ~ mu_0",
                    wrap("h(W*_t, lambda_t) dt")
                ),
                format!(
                    "dW^*_t = {},\\quad \\lambda_t = \\operatorname{{Law}}(W^*_t),\\ W^*_0 \\sim \\mu_0",
                    wrap_tex("h(W^*_t, \\lambda_t)\\,dt")
                ),
            )),
            MfRegime::Sde => out.push(eq(
                "limit, beta = 1: McKean-Vlasov SDE, eq. (8)",
                format!(
                    "dW*_t = {}, theta = gamma^(1/(1-alpha))/M = {theta_t}, lambda_t = Law(W*_t), W*_0 ~ mu_0",
                    wrap("h(W*_t, lambda_t) dt + (theta Sigma(W*_t, lambda_t))^(1/2) dB_t")
                ),
                format!(
                    "dW^*_t = {},\\quad \\theta = \\gamma^{{1/(1-\\alpha)}}/M = {theta_l},\\ \\lambda_t = \\operatorname{{Law}}(W^*_t)",
                    wrap_tex("h(W^*_t, \\lambda_t)\\,dt + \\left(\\theta\\, \\Sigma(W^*_t, \\lambda_t)\\right)^{1/2} dB_t")
                ),
            )),
        }
    }
    if d.prop5.applies {
        let sign = if d.stationary_sign < 0.0 { "-" } else { "+" };
        out.push(eq(
            "stationary law (Prop. 5)",
            format!(
                "p(w) proportional to Sigma_bar(w, p)^(-1) exp({sign}2 int_0^w h(u, p)/Sigma_bar(u, p) du), Sigma_bar = gamma Sigma / M = {theta_t} Sigma, p a fixed point"
            ),
            format!(
                "p(w) \\propto \\bar\\Sigma(w, p)^{{-1}} \\exp\\left({sign}2\\int_0^w \\frac{{h(u, p)}}{{\\bar\\Sigma(u, p)}}\\,du\\right),\\quad \\bar\\Sigma = \\gamma\\Sigma/M = {theta_l}\\,\\Sigma"
            ),
        ));
    }
    if let Some(toy) = Toy::detect(prog) {
        out.extend(toy_equations(&toy, d, &theta_t, &theta_l));
    }
    out
}

/// The toy's closed forms with its numbers.
fn toy_equations(toy: &Toy, d: &MfDerivation, theta_t: &str, theta_l: &str) -> Vec<Equation> {
    let mut out = Vec::new();
    let c = fmt6(toy.rate());
    let sxy = fmt6(toy.s_xy());
    let m_inf = fmt6(toy.m_infinity());
    let (g_t, g_l, clock_t, clock_l) = if toy.alpha == 0.0 {
        (
            String::new(),
            String::new(),
            "t".to_string(),
            "t".to_string(),
        )
    } else {
        let a = fmt6(toy.alpha);
        let one_minus = fmt6(1.0 - toy.alpha);
        (
            format!("(t+1)^(-{a}) "),
            format!("(t+1)^{{-{a}}}\\,"),
            format!("tau(t) = ((t+1)^{one_minus} - 1)/{one_minus}"),
            format!("\\tau(t) = \\frac{{(t+1)^{{{one_minus}}} - 1}}{{{one_minus}}}"),
        )
    };
    let tau_t = if toy.alpha == 0.0 { "t" } else { "tau(t)" };
    let tau_l = if toy.alpha == 0.0 { "t" } else { "\\tau(t)" };
    out.push(eq(
        "toy",
        format!(
            "linear-Gaussian toy: a = {}, lambda = {}, sigma = {}, s_xx = {}, s_xy = {sxy}, Var(x^2) = {}",
            fmt6(toy.a),
            fmt6(toy.lambda),
            fmt6(toy.sigma),
            fmt6(toy.s_xx),
            fmt6(toy.var_x2)
        ),
        format!(
            "a = {},\\ \\lambda = {},\\ \\sigma = {},\\ s_{{xx}} = {},\\ s_{{xy}} = {sxy},\\ \\operatorname{{Var}}(x^2) = {}",
            fmt6(toy.a),
            fmt6(toy.lambda),
            fmt6(toy.sigma),
            fmt6(toy.s_xx),
            fmt6(toy.var_x2)
        ),
    ));
    let clock_note = if toy.alpha == 0.0 {
        String::new()
    } else {
        format!(", {clock_t}")
    };
    let clock_note_l = if toy.alpha == 0.0 {
        String::new()
    } else {
        format!(",\\quad {clock_l}")
    };
    // Without the decay factor the bracket around the right-hand side adds nothing.
    let (lhs_t, rhs_t, rhs_l) = if g_t.is_empty() {
        (
            "-(s_xx + lambda) m + s_xy".to_string(),
            format!("-{c} m + {sxy}"),
            format!("-{c}\\, m + {sxy}"),
        )
    } else {
        (
            format!("{g_t}(-(s_xx + lambda) m + s_xy)"),
            format!("{g_t}(-{c} m + {sxy})"),
            format!("{g_l}\\left(-{c}\\, m + {sxy}\\right)"),
        )
    };
    out.push(eq(
        "toy mean",
        format!(
            "dm/dt = {lhs_t} = {rhs_t};  m_t = m_inf + (m_0 - m_inf) exp(-{c} {tau_t}), m_inf = {m_inf}{clock_note}"
        ),
        format!(
            "\\dot m = {rhs_l},\\quad m_t = m_\\infty + (m_0 - m_\\infty) e^{{-{c}\\, {tau_l}}},\\ m_\\infty = {m_inf}{clock_note_l}"
        ),
    ));
    let a = fmt6(toy.a);
    let k = fmt6(toy.var_x2);
    let s0 = fmt6(toy.sigma * toy.sigma * toy.s_xx);
    out.push(eq(
        "toy noise",
        format!("Sigma(m) = (m - a)^2 Var(x^2) + sigma^2 s_xx = {k} (m - {a})^2 + {s0}"),
        format!("\\Sigma(m) = {k}\\,(m - {a})^2 + {s0}"),
    ));
    let lam2 = fmt6(2.0 * toy.lambda);
    let show_sde = d.regime != Some(MfRegime::Ode);
    let show_ode = d.regime != Some(MfRegime::Sde);
    if show_sde {
        let g2 = if toy.alpha == 0.0 {
            String::new()
        } else {
            format!("(t+1)^(-{}) ", fmt6(2.0 * toy.alpha))
        };
        let g2l = if toy.alpha == 0.0 {
            String::new()
        } else {
            format!("(t+1)^{{-{}}}\\,", fmt6(2.0 * toy.alpha))
        };
        let (inf_t, inf_l) = match toy.v_infinity() {
            Some(v) => (
                format!(";  v_inf = theta Sigma(m_inf)/(2 lambda) = {}", fmt6(v)),
                format!(
                    ",\\quad v_\\infty = \\frac{{\\theta\\,\\Sigma(m_\\infty)}}{{2\\lambda}} = {}",
                    fmt6(v)
                ),
            ),
            None => (String::new(), String::new()),
        };
        out.push(eq(
            "toy variance (SDE, beta = 1)",
            format!(
                "dv/dt = -{lam2} {g_t}v + {g2}theta Sigma(m_t), theta = {theta_t}{inf_t}"
            ),
            format!(
                "\\dot v = -{lam2}\\,{g_l} v + {g2l}\\theta\\,\\Sigma(m_t),\\ \\theta = {theta_l}{inf_l}"
            ),
        ));
    }
    if show_ode {
        out.push(eq(
            "toy variance (ODE, beta < 1)",
            format!("v_t = v_0 exp(-{lam2} {tau_t})"),
            format!("v_t = v_0\\, e^{{-{lam2}\\, {tau_l}}}"),
        ));
    }
    out.push(eq(
        "toy spread under literal SGD",
        format!(
            "spread_n = prod_(j<n) (1 - eta_j lambda)^2 spread_0, eta_j = gamma_(alpha,beta)(N) (t_j + 1)^(-alpha) (exact: every particle gets the same kick){}",
            if d.spread == super::derive::SpreadLaw::Sde {
                " [mutated: predicted as the SDE spread]"
            } else {
                ""
            }
        ),
        "\\mathrm{spread}_n = \\prod_{j<n} (1 - \\eta_j\\lambda)^2\\, \\mathrm{spread}_0,\\quad \\eta_j = \\gamma_{\\alpha,\\beta}(N)(t_j+1)^{-\\alpha}".into(),
    ));
    out
}
