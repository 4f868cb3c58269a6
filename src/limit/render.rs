//! The limit program as equations: readable text and LaTeX, one line per entry.

use super::model::{Def, Entry, Family, LimitProgram};
use crate::exponent::{format_rational, Rational};
use crate::ir::{render_expr, Expr, Func, Instr, Kind, Meta, Op, Program, Scale};
use num_traits::{One, Zero};

/// Text names of the entries as they appear inside equations.
fn text_names(lp: &LimitProgram) -> Vec<String> {
    lp.entries
        .iter()
        .map(|e| match (&e.def, e.kind) {
            (
                Def::Atom {
                    origin: Some(_), ..
                },
                _,
            ) => format!("Ẑ^{{{}}}", e.name),
            (Def::Atom { .. }, _) | (_, Kind::Vector) => format!("Z^{{{}}}", e.normalized_name()),
            (Def::Derivative { .. }, _) => e.name.clone(),
            (_, Kind::Scalar) => match &e.exponent {
                Some(q) if !q.is_zero() => format!("({})°", e.normalized_name()),
                _ => format!("{}°", e.name),
            },
        })
        .collect()
}

/// A program whose value names are the entries' text names, so that the IR printer
/// renders limit expressions.
fn shadow(lp: &LimitProgram, names: &[String]) -> Program {
    let mut p = Program::new(&lp.program.width);
    p.activations = lp.program.activations.clone();
    for (entry, name) in lp.entries.iter().zip(names) {
        p.push(Instr {
            name: name.clone(),
            kind: entry.kind,
            scale: Scale::one(),
            op: Op::Scalar {
                expr: Expr::Const(0.0),
            },
            meta: Meta::user(),
        });
    }
    p
}

fn size(q: &Option<Rational>) -> String {
    match q {
        Some(q) if q.is_zero() => "Θ(1)".into(),
        Some(q) => format!("Θ(n^{})", format_rational(q)),
        None => "0".into(),
    }
}

/// The equations in text, one per entry (with a comment line per step).
pub fn equations(lp: &LimitProgram) -> Vec<String> {
    let names = text_names(lp);
    let p = shadow(lp, &names);
    let mut out = Vec::new();
    for (i, entry) in lp.entries.iter().enumerate() {
        let lhs = &names[i];
        let line = match &entry.def {
            Def::Atom { family, origin } => atom_text(lp, &names, i, *family, *origin),
            Def::Vector { expr } | Def::Scalar { expr } => {
                format!("{lhs} = {}", render_expr(expr, &p))
            }
            Def::Expectation { expr } => format!("{lhs} = E[{}]", render_expr(expr, &p)),
            Def::Derivative { of, atom } => {
                format!("{lhs} = E[∂{}/∂{}]", names[of.0], names[atom.0])
            }
            Def::Zero { reason } => match entry.kind {
                Kind::Vector => format!("Z^{{{}}} = 0   ({reason})", entry.name),
                Kind::Scalar => format!("{}° = 0   ({reason})", entry.name),
            },
            Def::Random { reason } => random_text(entry, reason),
            Def::Undetermined { reason } => {
                format!(
                    "{}: no limit derived ({}): {reason}",
                    entry.name,
                    size(&entry.exponent)
                )
            }
        };
        out.push(with_caveat(line, entry));
    }
    out
}

/// Marks an equation that holds formally but gives no limit value.
fn with_caveat(line: String, entry: &Entry) -> String {
    match &entry.caveat {
        Some(c) if c.root == entry.name => format!("{line}   [no limit value: {}]", c.reason),
        Some(c) => format!("{line}   [no limit value: depends on `{}`]", c.root),
        None => line,
    }
}

fn random_text(entry: &Entry, reason: &str) -> String {
    match &entry.exponent {
        Some(q) if *q < Rational::zero() => format!(
            "{}° = 0   (it vanishes like n^{}; n^{}·{} is random in the limit: {reason})",
            entry.name,
            format_rational(q),
            format_rational(&-q.clone()),
            entry.name
        ),
        q => format!(
            "{}: random in the limit ({}): {reason}",
            entry.name,
            size(q)
        ),
    }
}

fn atom_text(
    lp: &LimitProgram,
    names: &[String],
    i: usize,
    family: Family,
    origin: Option<crate::ir::ValueId>,
) -> String {
    let lhs = &names[i];
    let Some(x) = origin else {
        return format!("{lhs} ~ N(0, 1), independent of everything else");
    };
    let zx = &names[x.0];
    let earlier: Vec<String> = lp.entries[..i]
        .iter()
        .enumerate()
        .filter_map(|(j, e)| match &e.def {
            Def::Atom {
                family: f,
                origin: Some(y),
            } if *f == family => Some(format!("Cov with {} = E[{zx} {}]", names[j], names[y.0])),
            _ => None,
        })
        .collect();
    let mut s = format!("{lhs} ~ N(0, E[({zx})²])");
    if !earlier.is_empty() {
        s.push_str(", ");
        s.push_str(&earlier.join(", "));
    }
    s
}

/// LaTeX names of the entries.
fn tex_names(lp: &LimitProgram) -> Vec<String> {
    lp.entries
        .iter()
        .map(|e| {
            let base = tex_normalized(e);
            match (&e.def, e.kind) {
                (
                    Def::Atom {
                        origin: Some(_), ..
                    },
                    _,
                ) => {
                    let (m, rest) = e.name.split_once(' ').unwrap_or((&e.name, ""));
                    format!("\\hat Z^{{{}\\,{}}}", tex_ident(m), tex_rest(rest))
                }
                (Def::Atom { .. }, _) | (_, Kind::Vector) => format!("Z^{{{base}}}"),
                (Def::Derivative { .. }, _) => {
                    format!("\\kappa_{{{}}}", e.name.trim_start_matches('κ'))
                }
                (_, Kind::Scalar) => format!("\\mathring{{{base}}}"),
            }
        })
        .collect()
}

/// `n^{1/2}·x2_0` → `n^{1/2}\,\mathtt{x2\_0}` (the inner part of an atom name).
fn tex_rest(rest: &str) -> String {
    match rest.split_once('·') {
        Some((factor, name)) => format!("{}\\,{}", tex_factor(factor), tex_ident(name)),
        None => tex_ident(rest),
    }
}

fn tex_factor(factor: &str) -> String {
    match factor.strip_prefix("n^") {
        Some(q) => format!("n^{{{}}}", q.trim_start_matches('(').trim_end_matches(')')),
        None => factor.to_string(),
    }
}

fn tex_normalized(e: &Entry) -> String {
    match &e.exponent {
        Some(q) if !q.is_zero() => {
            let minus = -q.clone();
            let factor = if minus.is_one() {
                "n".to_string()
            } else {
                format!("n^{{{}}}", format_rational(&minus))
            };
            format!("{factor}\\,{}", tex_ident(&e.name))
        }
        _ => tex_ident(&e.name),
    }
}

/// A program name in typewriter face with LaTeX specials escaped.
pub(crate) fn tex_ident(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        match c {
            '_' => s.push_str("\\_"),
            '<' => s.push_str("\\langle "),
            '>' => s.push_str("\\rangle "),
            '{' => s.push_str("\\{"),
            '}' => s.push_str("\\}"),
            '#' | '%' | '&' | '$' => {
                s.push('\\');
                s.push(c);
            }
            'ᵀ' => s.push_str("^{\\top}"),
            other => s.push(other),
        }
    }
    format!("\\mathtt{{{s}}}")
}

/// The equations in LaTeX, one per entry.
pub fn latex(lp: &LimitProgram) -> Vec<String> {
    let names = tex_names(lp);
    let acts: Vec<String> = lp
        .program
        .activations
        .iter()
        .map(|a| tex_ident(&a.name))
        .collect();
    let mut out = Vec::new();
    for (i, entry) in lp.entries.iter().enumerate() {
        let lhs = &names[i];
        let line = match &entry.def {
            Def::Atom { origin: None, .. } => format!("{lhs} \\sim \\mathcal{{N}}(0, 1)"),
            Def::Atom {
                origin: Some(x), ..
            } => format!(
                "{lhs} \\sim \\mathcal{{N}}\\big(0, \\mathbb{{E}}[({})^2]\\big)",
                names[x.0]
            ),
            Def::Vector { expr } | Def::Scalar { expr } => {
                format!("{lhs} = {}", tex_expr(expr, &names, &acts).0)
            }
            Def::Expectation { expr } => format!(
                "{lhs} = \\mathbb{{E}}\\big[{}\\big]",
                tex_expr(expr, &names, &acts).0
            ),
            Def::Derivative { of, atom } => format!(
                "{lhs} = \\mathbb{{E}}\\Big[\\frac{{\\partial {}}}{{\\partial {}}}\\Big]",
                names[of.0], names[atom.0]
            ),
            Def::Zero { .. } => match entry.kind {
                Kind::Vector => format!("Z^{{{}}} = 0", tex_ident(&entry.name)),
                Kind::Scalar => format!("\\mathring{{{}}} = 0", tex_ident(&entry.name)),
            },
            Def::Random { .. } => match &entry.exponent {
                Some(q) if *q < Rational::zero() => {
                    format!("\\mathring{{{}}} = 0", tex_ident(&entry.name))
                }
                _ => format!(
                    "{} \\text{{ is random in the limit}}",
                    tex_ident(&entry.name)
                ),
            },
            Def::Undetermined { .. } => {
                format!("{} \\text{{: no limit derived}}", tex_ident(&entry.name))
            }
        };
        let line = match &entry.caveat {
            Some(_) => format!("{line} \\quad \\text{{(no limit value)}}"),
            None => line,
        };
        out.push(line);
    }
    out
}

/// Precedence levels for parenthesizing.
const SUM: u8 = 1;
const PRODUCT: u8 = 2;
const ATOM: u8 = 3;

fn paren(s: (String, u8), level: u8) -> String {
    if s.1 < level {
        format!("\\left({}\\right)", s.0)
    } else {
        s.0
    }
}

fn number(c: f64) -> String {
    crate::ir::render_number(c)
}

/// An expression in LaTeX with value `i` named `names[i]` and activation `k` named
/// `acts[k]` (also used by the mean-field equations).
pub(crate) fn tex_formula(e: &Expr, names: &[String], acts: &[String]) -> String {
    tex_expr(e, names, acts).0
}

fn tex_expr(e: &Expr, names: &[String], acts: &[String]) -> (String, u8) {
    match e {
        Expr::Const(c) => (number(*c), if *c < 0.0 { SUM } else { ATOM }),
        Expr::Arg => ("x".into(), ATOM),
        Expr::Value(v) => (names.get(v.0).cloned().unwrap_or_default(), ATOM),
        Expr::Width(q) => (format!("n^{{{q}}}"), ATOM),
        Expr::Add(items) => {
            let mut s = String::new();
            for (k, item) in items.iter().enumerate() {
                let t = tex_expr(item, names, acts).0;
                if k == 0 {
                    s.push_str(&t);
                } else if let Some(rest) = t.strip_prefix('-') {
                    s.push_str(" - ");
                    s.push_str(rest);
                } else {
                    s.push_str(" + ");
                    s.push_str(&t);
                }
            }
            (s, SUM)
        }
        Expr::Mul(items) => {
            // A leading negative coefficient is written as a sign: −0.5·x, not (−0.5)·x.
            let (sign, items): (&str, Vec<Expr>) = match items.split_first() {
                Some((Expr::Const(c), rest)) if *c < 0.0 => {
                    let mut v = Vec::with_capacity(items.len());
                    if *c != -1.0 {
                        v.push(Expr::Const(-c));
                    }
                    v.extend(rest.iter().cloned());
                    ("-", v)
                }
                _ => ("", items.clone()),
            };
            let parts: Vec<String> = items
                .iter()
                .map(|i| paren(tex_expr(i, names, acts), PRODUCT))
                .collect();
            if sign.is_empty() {
                (parts.join("\\,"), PRODUCT)
            } else {
                (format!("-{}", parts.join("\\,")), SUM)
            }
        }
        Expr::Neg(a) => (
            format!("-{}", paren(tex_expr(a, names, acts), PRODUCT)),
            SUM,
        ),
        Expr::Div(a, b) => (
            format!(
                "\\frac{{{}}}{{{}}}",
                tex_expr(a, names, acts).0,
                tex_expr(b, names, acts).0
            ),
            ATOM,
        ),
        Expr::Pow(a, q) => (
            format!(
                "{}^{{{}}}",
                paren(tex_expr(a, names, acts), ATOM),
                format_rational(q)
            ),
            ATOM,
        ),
        Expr::Call(f, a) => {
            let name = match f {
                Func::Exp => "\\exp".to_string(),
                Func::Log => "\\log".to_string(),
                Func::Tanh => "\\tanh".to_string(),
                Func::Sin => "\\sin".to_string(),
                Func::Cos => "\\cos".to_string(),
                Func::Atan => "\\arctan".to_string(),
                Func::Sqrt => return (format!("\\sqrt{{{}}}", tex_expr(a, names, acts).0), ATOM),
                other => format!("\\operatorname{{{}}}", other.name()),
            };
            (
                format!("{name}\\left({}\\right)", tex_expr(a, names, acts).0),
                ATOM,
            )
        }
        Expr::Act { act, order, arg } => {
            let base = acts.get(act.0).cloned().unwrap_or_else(|| "\\phi".into());
            let primes = match order {
                0 => String::new(),
                1 => "'".into(),
                2 => "''".into(),
                k => format!("^{{({k})}}"),
            };
            (
                format!(
                    "{base}{primes}\\left({}\\right)",
                    tex_expr(arg, names, acts).0
                ),
                ATOM,
            )
        }
    }
}
