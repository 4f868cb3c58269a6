//! Reports for mean-field programs (`tp show`, `tp scale`, the equations of `tp limit`):
//! text and JSON `tp-meanfield-*/1`.

use super::depth::condition_json;
use crate::exponent::format_rational;
use crate::ir::render_number;
use crate::meanfield::derive::{ExpRatio, MfDerivation, MfRegime, SpreadLaw, VarianceTerm};
use crate::meanfield::horizon::{gamma_step, steps_to_horizon};
use crate::meanfield::render::{equations, formula_text};
use crate::meanfield::toy::Toy;
use crate::meanfield::{Data, InitLaw, Loss, MeanFieldProgram, XLaw};
use serde_json::{json, Value};
use std::fmt::Write;

/// The JSON schema name of `tp show` on a mean-field program.
pub const MF_SHOW_SCHEMA: &str = "tp-meanfield-show/1";
/// The JSON schema name of `tp scale` on a mean-field program.
pub const MF_SCALE_SCHEMA: &str = "tp-meanfield-scale/1";
/// The JSON schema name of `tp limit` on a mean-field program.
pub const MF_LIMIT_SCHEMA: &str = "tp-meanfield-limit/1";

/// The particle counts at which `tp scale` prints the step and n_T.
pub const SCALE_SIZES: [u64; 4] = [100, 1_000, 10_000, 100_000];

fn numbers(xs: &[f64]) -> String {
    let v: Vec<String> = xs.iter().map(|x| render_number(*x)).collect();
    format!("({})", v.join(", "))
}

fn loss_text(loss: &Loss) -> String {
    match loss {
        Loss::Square => "square: l(yhat, y) = (yhat - y)^2/2".into(),
        Loss::Huber { delta } => format!(
            "huber(delta = {}): (yhat - y)^2/2 for |yhat - y| <= delta, delta |yhat - y| - delta^2/2 beyond",
            render_number(*delta)
        ),
    }
}

fn x_law_text(law: XLaw, d: usize) -> String {
    match law {
        XLaw::Gaussian => format!("N(0, I_{d})"),
        XLaw::Uniform => format!("U[-1, 1]^{d}"),
    }
}

fn data_text(prog: &MeanFieldProgram) -> String {
    match &prog.data {
        Data::Teacher {
            x_law,
            target,
            noise,
        } => format!(
            "x ~ {}, y = f*(x) + {} eps, f*(x) = {}, eps ~ N(0, 1)",
            x_law_text(*x_law, prog.x_dim),
            render_number(*noise),
            target.text
        ),
        Data::Set { points } => format!("uniform on {} (x, y) pairs", points.len()),
    }
}

fn init_text(init: &InitLaw) -> String {
    match init {
        InitLaw::Gaussian { mean, std } => {
            format!("w ~ N({}, {}^2 I)", numbers(mean), render_number(*std))
        }
        InitLaw::Sphere { radius } => {
            format!(
                "w uniform on the sphere of radius {}",
                render_number(*radius)
            )
        }
        InitLaw::Point(w) => format!("every particle at {}", numbers(w)),
    }
}

/// `tp show` on a mean-field program.
pub fn show_text(prog: &MeanFieldProgram) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", prog.display_name());
    let _ = writeln!(
        out,
        "mean-field network: {n} particles w^k in R^{p}, inputs x in R^{d}, prediction (1/{n}) sum_k F(w^k, x)",
        n = prog.size,
        p = prog.dim,
        d = prog.x_dim
    );
    let grads: Vec<String> = prog
        .unit_grad
        .iter()
        .map(|g| formula_text(prog, g))
        .collect();
    let _ = writeln!(
        out,
        "unit     F(w, x) = {}   (grad_w F = ({}))",
        prog.unit.text,
        grads.join(", ")
    );
    let _ = writeln!(out, "loss     {}", loss_text(&prog.loss));
    let penalty = if prog.penalty.text.is_empty() {
        "0"
    } else {
        prog.penalty.text.as_str()
    };
    let _ = writeln!(out, "penalty  V(w) = {penalty}");
    let _ = writeln!(out, "data     pi: {}", data_text(prog));
    let _ = writeln!(out, "init     mu_0: {}", init_text(&prog.init));
    let _ = writeln!(
        out,
        "schedule M = {}, gamma = {}, alpha = {}, beta = {}, horizon T = {}",
        prog.batch,
        format_rational(&prog.gamma),
        prog.alpha,
        prog.beta,
        format_rational(&prog.horizon)
    );
    if !prog.symbols.is_empty() {
        let _ = writeln!(out, "symbols  {}", prog.symbols.join(", "));
    }
    out
}

/// The JSON of `tp show` on a mean-field program (schema [`MF_SHOW_SCHEMA`]).
pub fn show_json(prog: &MeanFieldProgram) -> Value {
    let texts = |es: &[crate::ir::Expr]| -> Vec<String> {
        es.iter().map(|e| formula_text(prog, e)).collect()
    };
    let loss = match prog.loss {
        Loss::Square => json!({"kind": "square"}),
        Loss::Huber { delta } => json!({"kind": "huber", "delta": delta}),
    };
    let data = match &prog.data {
        Data::Teacher {
            x_law,
            target,
            noise,
        } => json!({
            "kind": "teacher",
            "x_law": match x_law { XLaw::Gaussian => "gaussian", XLaw::Uniform => "uniform" },
            "target": target.text,
            "noise": noise,
        }),
        Data::Set { points } => json!({
            "kind": "set",
            "points": points.iter().map(|(x, y)| json!({"x": x, "y": y})).collect::<Vec<_>>(),
        }),
    };
    let init = match &prog.init {
        InitLaw::Gaussian { mean, std } => json!({"kind": "gaussian", "mean": mean, "std": std}),
        InitLaw::Sphere { radius } => json!({"kind": "sphere", "radius": radius}),
        InitLaw::Point(w) => json!({"kind": "point", "w": w}),
    };
    json!({
        "schema": MF_SHOW_SCHEMA,
        "title": prog.title,
        "size": prog.size,
        "p": prog.dim,
        "d": prog.x_dim,
        "unit": prog.unit.text,
        "unit_grad": texts(&prog.unit_grad),
        "penalty": prog.penalty.text,
        "penalty_grad": texts(&prog.penalty_grad),
        "loss": loss,
        "data": data,
        "init": init,
        "batch": prog.batch,
        "gamma": format_rational(&prog.gamma),
        "alpha": prog.alpha.to_string(),
        "beta": prog.beta.to_string(),
        "horizon": format_rational(&prog.horizon),
        "symbols": prog.symbols,
    })
}

fn power_of(n: &str, e: &ExpRatio) -> String {
    match e.value() {
        Some(v) if num_traits::Zero::is_zero(&v) => "1".into(),
        Some(v) if num_traits::One::is_one(&v) => n.into(),
        _ => format!("{n}^({e})"),
    }
}

fn terms_text(n: &str, terms: &[VarianceTerm]) -> String {
    let parts: Vec<String> = terms
        .iter()
        .map(|t| {
            let p = power_of(n, &t.exponent);
            let body = match (t.factor.as_str(), p.as_str()) {
                ("1", _) => p,
                (f, "1") => f.to_string(),
                (f, _) => format!("{p}{}", f.trim_start_matches('1')),
            };
            format!("{body} [{}]", t.origin.name())
        })
        .collect();
    parts.join(" + ")
}

fn spread_text(s: SpreadLaw) -> &'static str {
    match s {
        SpreadLaw::OdeExact => {
            "grad_w F does not depend on w: the shared sample kicks every particle alike, so under literal SGD the spread follows the ODE exactly at every N and only the mean fluctuates"
        }
        SpreadLaw::Limit => {
            "grad_w F depends on w: the particles' kicks differ, and the spread follows the limit only as N -> infinity"
        }
        SpreadLaw::Sde => "the spread is predicted to follow the SDE (independent noise per particle)",
    }
}

/// One row of the step table: N, γ_{α,β}(N) exactly with its value, and n_T (or why
/// not).
type StepRow = (u64, Result<(String, f64), String>, Result<u64, String>);

/// The step table at [`SCALE_SIZES`].
fn step_rows(prog: &MeanFieldProgram) -> Vec<StepRow> {
    SCALE_SIZES
        .iter()
        .map(|&n| {
            let step = gamma_step(prog, n)
                .map(|s| (s.to_string(), s.value))
                .map_err(|e| e.to_string());
            let steps = steps_to_horizon(prog, n).map_err(|e| e.to_string());
            (n, step, steps)
        })
        .collect()
}

/// `tp scale` on a mean-field program: the power counting, the regime or phase diagram,
/// the rate terms, the noise, and the exact step and n_T at a few N.
pub fn scale_text(prog: &MeanFieldProgram, d: &MfDerivation) -> String {
    let n = &prog.size;
    let mut out = String::new();
    let _ = writeln!(out, "{}", prog.display_name());
    let _ = writeln!(
        out,
        "SGD step gamma {n}^(beta-1) (n + 1/gamma_(alpha,beta)({n}))^(-alpha), time t = n gamma_(alpha,beta)({n}); gamma = {}, alpha = {}, beta = {}, M = {}, T = {}",
        format_rational(&prog.gamma),
        prog.alpha,
        prog.beta,
        prog.batch,
        format_rational(&prog.horizon)
    );
    let _ = writeln!(
        out,
        "\npower counting in {n} (exact; every exponent over 1 - alpha > 0):"
    );
    let qw = d
        .power
        .iter()
        .map(|r| r.quantity.chars().count())
        .max()
        .unwrap_or(8);
    let ew = d
        .power
        .iter()
        .map(|r| r.exponent.to_string().chars().count())
        .max()
        .unwrap_or(8)
        .max(13);
    let _ = writeln!(
        out,
        "  {:<qw$}  {:<ew$}  meaning",
        "quantity",
        format!("exponent of {n}")
    );
    for r in &d.power {
        let _ = writeln!(
            out,
            "  {:<qw$}  {:<ew$}  {}",
            r.quantity,
            r.exponent.to_string(),
            r.meaning
        );
    }
    if d.noise_exponent.value().is_some() {
        let _ = writeln!(
            out,
            "noise exponent e_noise = (beta - 1)/(1 - alpha) = {}",
            d.noise_exponent
        );
    }
    match d.regime {
        Some(r) if prog.symbols.is_empty() => {
            let _ = writeln!(
                out,
                "\nregime: {} (McKean-Vlasov {}, eq. {}): {}",
                r.name(),
                if r == MfRegime::Ode { "ODE" } else { "SDE" },
                r.equation(),
                r.describe()
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "\nphase diagram (exact conditions on the symbols, on 0 <= alpha < 1, 0 <= beta <= 1):"
            );
            for p in &d.phases {
                let _ = writeln!(
                    out,
                    "  {:<4} rate {:<26} from {:<17} ⟺  {}",
                    p.regime.name(),
                    power_of(n, &p.rate),
                    p.dominant.name(),
                    p.condition
                );
            }
        }
    }
    if !d.rate_terms.is_empty() {
        let _ = writeln!(
            out,
            "\nerror bound E sup_(t <= T) |W^(k,{n})_t - W^(k,*)_t|^2 <= C ({}) (Theorem {})",
            d.rate_terms
                .iter()
                .map(|t| {
                    let p = format!("{n}^({})", format_rational(&t.exponent));
                    if t.factor == "1" {
                        p
                    } else {
                        format!("{p}/M")
                    }
                })
                .collect::<Vec<_>>()
                .join(" + "),
            if d.regime == Some(MfRegime::Sde) {
                2
            } else {
                1
            }
        );
        for t in &d.rate_terms {
            let _ = writeln!(
                out,
                "  {n}^({}) x {:<4} {}",
                format_rational(&t.exponent),
                t.factor,
                t.origin.name()
            );
        }
        if let Some(l) = &d.leading_rate {
            let _ = writeln!(out, "  leading exponent: {}", format_rational(l));
        }
        if !d.corrections.is_empty() {
            let _ = writeln!(
                out,
                "  corrections a measurement carries (not in the bound; fitted by `tp check`):"
            );
            for c in &d.corrections {
                let (sign, why) = if c.origin.either_sign() {
                    ("+/-", "Euler grid: relative O(h) on the noise term")
                } else {
                    ("+", "next order in 1/N of the chaos term")
                };
                let _ = writeln!(
                    out,
                    "  {sign} {n}^({}) x {:<4} {why}",
                    format_rational(&c.exponent),
                    c.factor,
                );
            }
        }
    }
    let _ = writeln!(out, "\nnoise: {}", spread_text(d.spread));
    let _ = writeln!(out, "seed variance of the particle mean:");
    let lead = |t: &[VarianceTerm]| {
        MfDerivation::leading(t).map_or_else(String::new, |q| {
            format!(
                "   (leading {})",
                power_of(
                    n,
                    &ExpRatio::constant(q, &crate::exponent::Exponent::ratio(1, 1))
                )
            )
        })
    };
    let _ = writeln!(
        out,
        "  literal SGD (common noise):   {}{}",
        terms_text(n, &d.mean_variance_sgd),
        lead(&d.mean_variance_sgd)
    );
    let _ = writeln!(
        out,
        "  eq. (6) (independent noise):  {}{}",
        terms_text(n, &d.mean_variance_eq6),
        lead(&d.mean_variance_eq6)
    );
    if let Some(t) = &d.temperature {
        let _ = writeln!(out, "temperature at beta = 1: gamma^(1/(1-alpha))/M = {t}");
    }
    let _ = writeln!(
        out,
        "Proposition 5 (stationary law as a fixed point): {} — {}",
        if d.prop5.applies {
            "applies"
        } else {
            "does not apply"
        },
        d.prop5.reason
    );
    if prog.alpha.as_constant().is_some() && prog.beta.as_constant().is_some() {
        let _ = writeln!(
            out,
            "\nstep and horizon (T = {}):",
            format_rational(&prog.horizon)
        );
        let _ = writeln!(
            out,
            "  {:>8}  {:<28}  {:>14}  n_T",
            n, "gamma_(alpha,beta)(N) exact", "value"
        );
        for (size, step, steps) in step_rows(prog) {
            let (exact, value) = match step {
                Ok((e, v)) => (e, format!("{v:.6e}")),
                Err(e) => (e, String::new()),
            };
            let steps = match steps {
                Ok(k) => k.to_string(),
                Err(e) => format!("refused: {e}"),
            };
            let _ = writeln!(out, "  {size:>8}  {exact:<28}  {value:>14}  {steps}");
        }
    }
    if let Some(m) = d.mutation {
        let _ = writeln!(
            out,
            "\nmutation: {} (a deliberately wrong derivation)",
            m.name()
        );
    }
    out
}

fn ratio_json(e: &ExpRatio) -> Value {
    json!({
        "text": e.to_string(),
        "numerator": e.num.to_string(),
        "denominator": e.den.to_string(),
        "value": e.value().map(|v| format_rational(&v)),
    })
}

fn variance_json(terms: &[VarianceTerm]) -> Value {
    json!({
        "terms": terms.iter().map(|t| json!({
            "exponent": ratio_json(&t.exponent),
            "factor": t.factor,
            "origin": t.origin,
        })).collect::<Vec<_>>(),
        "leading": MfDerivation::leading(terms).map(|q| format_rational(&q)),
    })
}

/// The JSON report `tp-meanfield-scale/1`.
pub fn scale_json(prog: &MeanFieldProgram, d: &MfDerivation) -> Value {
    let numeric = prog.alpha.as_constant().is_some() && prog.beta.as_constant().is_some();
    let steps: Vec<Value> = if numeric {
        step_rows(prog)
            .into_iter()
            .map(|(size, step, steps)| {
                json!({
                    "N": size,
                    "step": step.as_ref().ok().map(|(e, _)| e.clone()),
                    "step_f64": step.as_ref().ok().map(|(_, v)| *v),
                    "steps": steps.as_ref().ok(),
                    "error": step.err().or(steps.err()),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    json!({
        "schema": MF_SCALE_SCHEMA,
        "title": prog.title,
        "size": prog.size,
        "alpha": prog.alpha.to_string(),
        "beta": prog.beta.to_string(),
        "symbols": prog.symbols,
        "power": d.power.iter().map(|r| json!({
            "quantity": r.quantity,
            "exponent": ratio_json(&r.exponent),
            "meaning": r.meaning,
        })).collect::<Vec<_>>(),
        "noise_exponent": ratio_json(&d.noise_exponent),
        "regime": d.regime,
        "phases": d.phases.iter().map(|p| {
            let mut v = condition_json(&p.condition);
            v["regime"] = json!(p.regime);
            v["rate"] = ratio_json(&p.rate);
            v["dominant"] = json!(p.dominant);
            v
        }).collect::<Vec<_>>(),
        "rate_terms": d.rate_terms.iter().map(|t| json!({
            "exponent": format_rational(&t.exponent),
            "factor": t.factor,
            "origin": t.origin,
        })).collect::<Vec<_>>(),
        "leading_rate": d.leading_rate.as_ref().map(format_rational),
        "corrections": d.corrections.iter().map(|t| json!({
            "exponent": format_rational(&t.exponent),
            "factor": t.factor,
            "origin": t.origin,
            "sign": if t.origin.either_sign() { "either" } else { "nonnegative" },
        })).collect::<Vec<_>>(),
        "common_noise_exact": d.common_noise_exact,
        "spread": d.spread,
        "mean_variance_sgd": variance_json(&d.mean_variance_sgd),
        "mean_variance_eq6": variance_json(&d.mean_variance_eq6),
        "temperature": d.temperature.as_ref().map(|t| json!({
            "text": t.to_string(),
            "exact": t.exact().map(|q| format_rational(&q)),
            "value": t.to_f64(),
        })),
        "prop5": {"applies": d.prop5.applies, "reason": d.prop5.reason},
        "stationary_sign": d.stationary_sign,
        "mutation": d.mutation.map(|m| m.name()),
        "steps": steps,
    })
}

/// The equations of `tp limit` (text or LaTeX).
pub fn equations_text(prog: &MeanFieldProgram, d: &MfDerivation, latex: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", prog.display_name());
    for e in equations(prog, d) {
        let _ = writeln!(out, "{}:", e.label);
        let _ = writeln!(out, "  {}", if latex { &e.latex } else { &e.text });
    }
    out
}

/// The JSON report `tp-meanfield-limit/1`: the equations, the regime, the toy's closed
/// form parameters when the program is the toy, and `numbers` (the numerical results the
/// caller computed, or null).
pub fn limit_json(prog: &MeanFieldProgram, d: &MfDerivation, numbers: Option<Value>) -> Value {
    let toy = Toy::detect(prog).map(|t| {
        json!({
            "a": t.a,
            "lambda": t.lambda,
            "sigma": t.sigma,
            "s_xx": t.s_xx,
            "s_xy": t.s_xy(),
            "var_x2": t.var_x2,
            "m0": t.m0,
            "v0": t.v0,
            "m_infinity": t.m_infinity(),
            "v_infinity": t.v_infinity(),
            "temperature": t.temperature(),
        })
    });
    json!({
        "schema": MF_LIMIT_SCHEMA,
        "title": prog.title,
        "regime": d.regime,
        "equations": equations(prog, d),
        "temperature": d.temperature.as_ref().map(|t| t.to_string()),
        "stationary_sign": d.stationary_sign,
        "mutation": d.mutation.map(|m| m.name()),
        "toy": toy,
        "numbers": numbers.unwrap_or(Value::Null),
    })
}
