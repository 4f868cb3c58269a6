//! Human-readable and JSON renderings of the IR (what `tp show` prints).

use super::expr::{Expr, Func};
use super::program::{Instr, Kind, Op, Program, Scale};
use crate::exponent::{format_rational, Exponent};
use serde_json::{json, Value};

/// Binding strength, to print the fewest parentheses that keep the meaning.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Prec {
    Sum,
    Product,
    Unary,
    Power,
    Atom,
}

/// Renders a width exponent as `n^(…)`, or `n` for exponent 1.
fn render_width(width: &str, e: &Exponent) -> String {
    match e.as_constant() {
        Some(q) if num_traits::One::is_one(q) => width.to_string(),
        Some(q) if q.is_integer() && *q > num_rational::BigRational::from_integer(0.into()) => {
            format!("{width}^{}", format_rational(q))
        }
        _ => format!("{width}^({e})"),
    }
}

/// Formats a real constant compactly (`0.5`, `-2`, `1.4142135623730951`).
pub fn render_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn render(expr: &Expr, program: &Program, arg_name: &str) -> (String, Prec) {
    let sub = |e: &Expr, min: Prec| {
        let (s, p) = render(e, program, arg_name);
        if p < min {
            format!("({s})")
        } else {
            s
        }
    };
    match expr {
        Expr::Const(c) if *c < 0.0 => (render_number(*c), Prec::Unary),
        Expr::Const(c) => (render_number(*c), Prec::Atom),
        Expr::Arg => (arg_name.to_string(), Prec::Atom),
        Expr::Value(id) => (
            program
                .instrs
                .get(id.0)
                .map_or_else(|| format!("%{}", id.0), |i| i.name.clone()),
            Prec::Atom,
        ),
        Expr::Width(e) => (render_width(&program.width, e), Prec::Power),
        Expr::Add(items) => {
            let mut out = String::new();
            for (i, item) in items.iter().enumerate() {
                let (negative, body) = match item {
                    Expr::Neg(inner) => (true, sub(inner, Prec::Product)),
                    Expr::Const(c) if *c < 0.0 => (true, render_number(-c)),
                    Expr::Mul(factors) => match factors.first() {
                        Some(Expr::Const(c)) if *c < 0.0 => {
                            let mut rest = factors.clone();
                            rest[0] = Expr::Const(-c);
                            let positive = Expr::Mul(rest);
                            (true, sub(&positive, Prec::Product))
                        }
                        _ => (false, sub(item, Prec::Product)),
                    },
                    _ => (false, sub(item, Prec::Sum)),
                };
                if i == 0 {
                    if negative {
                        out.push('-');
                    }
                } else {
                    out.push_str(if negative { " - " } else { " + " });
                }
                out.push_str(&body);
            }
            (out, Prec::Sum)
        }
        Expr::Mul(items) => {
            let (sign, rest) = match items.first() {
                Some(Expr::Const(c)) if *c == 1.0 => ("", &items[1..]),
                Some(Expr::Const(c)) if *c == -1.0 => ("-", &items[1..]),
                _ => ("", &items[..]),
            };
            let parts: Vec<String> = rest.iter().map(|e| sub(e, Prec::Unary)).collect();
            let prec = if sign.is_empty() {
                Prec::Product
            } else {
                Prec::Unary
            };
            (format!("{sign}{}", parts.join(" * ")), prec)
        }
        Expr::Neg(a) => (format!("-{}", sub(a, Prec::Unary)), Prec::Unary),
        Expr::Div(a, b) => (
            format!("{} / {}", sub(a, Prec::Product), sub(b, Prec::Unary)),
            Prec::Product,
        ),
        Expr::Pow(a, q) => {
            let exponent =
                if q.is_integer() && *q >= num_rational::BigRational::from_integer(0.into()) {
                    format_rational(q)
                } else {
                    format!("({})", format_rational(q))
                };
            (format!("{}^{exponent}", sub(a, Prec::Atom)), Prec::Power)
        }
        Expr::Call(f, a) => {
            let (inner, _) = render(a, program, arg_name);
            (format!("{}({inner})", Func::name(*f)), Prec::Atom)
        }
        Expr::Act { act, order, arg } => {
            let name = program
                .activations
                .get(act.0)
                .map_or("?", |a| a.name.as_str());
            let primes = match order {
                0 => String::new(),
                1..=3 => "'".repeat(*order),
                k => format!("^({k})"),
            };
            let (inner, _) = render(arg, program, arg_name);
            (format!("{name}{primes}({inner})"), Prec::Atom)
        }
    }
}

/// Renders an expression with the program's value names; `Arg` prints as `x`.
pub fn render_expr(expr: &Expr, program: &Program) -> String {
    render(expr, program, "x").0
}

/// Renders a formula of one argument (an activation body, a trend Ā(t)) with `arg` as
/// the argument's name; activations are named from `activations`.
pub fn render_formula(expr: &Expr, activations: &[crate::ir::Activation], arg: &str) -> String {
    let mut program = Program::new("n");
    program.activations = activations.to_vec();
    render(expr, &program, arg).0
}

fn render_scale(scale: &Scale, program: &Program) -> Option<String> {
    let mut parts = Vec::new();
    if scale.coef != 1.0 {
        parts.push(render_number(scale.coef));
    }
    if !scale.exponent.is_zero() {
        parts.push(render_width(&program.width, &scale.exponent));
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join(" * "))
    }
}

/// The right-hand side of an instruction, without its scale.
fn render_op(op: &Op, program: &Program) -> (String, bool) {
    match op {
        Op::Init { terms, mean } => {
            let mut parts: Vec<(bool, String)> = terms
                .iter()
                .map(|(s, c)| {
                    let name = program
                        .sources
                        .get(s.0)
                        .map_or("?", |src| src.name.as_str());
                    match c.abs() {
                        1.0 => (*c < 0.0, name.to_string()),
                        m => (*c < 0.0, format!("{} {name}", render_number(m))),
                    }
                })
                .collect();
            if *mean != 0.0 || parts.is_empty() {
                parts.push((*mean < 0.0, render_number(mean.abs())));
            }
            let mut text = String::new();
            for (i, (negative, part)) in parts.iter().enumerate() {
                match (i, negative) {
                    (0, true) => text.push('-'),
                    (0, false) => {}
                    (_, true) => text.push_str(" - "),
                    (_, false) => text.push_str(" + "),
                }
                text.push_str(part);
            }
            (format!("gaussian[{text}]"), true)
        }
        Op::MatMul {
            matrix,
            transpose,
            arg,
        } => {
            let m = program
                .matrices
                .get(matrix.0)
                .map_or("?", |m| m.name.as_str());
            let x = program.instrs.get(arg.0).map_or("?", |i| i.name.as_str());
            let t = if *transpose { "^T" } else { "" };
            // Juxtaposition binds tighter than `*` in the language, so no parentheses.
            (format!("{m}{t} {x}"), true)
        }
        Op::Map { expr } | Op::Scalar { expr } => {
            let (s, p) = render(expr, program, "x");
            (s, p >= Prec::Unary)
        }
        Op::Moment { expr } => (format!("mean({})", render(expr, program, "x").0), true),
    }
}

/// Renders one instruction as `vector h2_1 = n^(-1/2) * (…)`.
pub fn render_instr(instr: &Instr, program: &Program) -> String {
    let kind = match instr.kind {
        Kind::Vector => "vector",
        Kind::Scalar => "scalar",
    };
    let (rhs, atomic) = render_op(&instr.op, program);
    let rhs = match render_scale(&instr.scale, program) {
        None => rhs,
        Some(factor) if atomic => format!("{factor} * {rhs}"),
        Some(factor) => format!("{factor} * ({rhs})"),
    };
    format!("{kind} {} = {rhs}", instr.name)
}

/// The whole program as text: header, matrices, sources, activations, instructions.
pub fn render_program(program: &Program) -> String {
    let mut out = String::new();
    if let Some(title) = &program.title {
        out.push_str(&format!("# {title}\n"));
    }
    out.push_str(&format!("width {}\n", program.width));
    if !program.symbols.is_empty() {
        out.push_str(&format!("symbolic {}\n", program.symbols.join(", ")));
    }
    for act in &program.activations {
        let body = render_expr(act.body(), program);
        // A built-in such as tanh has the body `tanh(x)`; printing it twice adds nothing.
        if body == format!("{}(x)", act.name) {
            out.push_str(&format!("activation {}\n", act.name));
        } else {
            out.push_str(&format!("activation {}(x) = {body}\n", act.name));
        }
    }
    for m in &program.matrices {
        out.push_str(&format!(
            "matrix {} ~ gaussian(1/{}) entries\n",
            m.name, program.width
        ));
    }
    for s in &program.sources {
        let what = match s.kind {
            Kind::Vector => "vector",
            Kind::Scalar => "scalar",
        };
        out.push_str(&format!("source {} ~ N(0, 1) {what}\n", s.name));
    }
    let mut step = None;
    for instr in &program.instrs {
        if instr.meta.step.is_some() && instr.meta.step != step {
            step = instr.meta.step;
            if let Some(t) = step {
                out.push_str(&format!("# step {t}\n"));
            }
        }
        out.push_str(&render_instr(instr, program));
        out.push('\n');
    }
    out
}

/// One instruction as JSON (name, kind, scale, text, structured op, labels).
pub fn instr_to_json(instr: &Instr, program: &Program) -> Value {
    json!({
        "name": instr.name,
        "kind": instr.kind,
        "coef": instr.scale.coef,
        "exponent": instr.scale.exponent.to_string(),
        "text": render_instr(instr, program),
        "op": instr.op,
        "family": instr.meta.family,
        "input": instr.meta.input,
        "step": instr.meta.step,
        "layer": instr.meta.layer,
        "role": instr.meta.role,
    })
}

/// The schema name written in every `tp show --json` document.
pub const SHOW_SCHEMA: &str = "tp-show/1";

/// The whole program as JSON (schema [`SHOW_SCHEMA`]).
pub fn program_to_json(program: &Program) -> Value {
    json!({
        "schema": SHOW_SCHEMA,
        "title": program.title,
        "width": program.width,
        "symbols": program.symbols,
        "matrices": program.matrices.iter().map(|m| m.name.clone()).collect::<Vec<_>>(),
        "sources": program.sources,
        "activations": program.activations.iter().map(|a| json!({
            "name": a.name,
            "body": render_expr(a.body(), program),
        })).collect::<Vec<_>>(),
        "instructions": program.instrs.iter().map(|i| instr_to_json(i, program)).collect::<Vec<_>>(),
    })
}
