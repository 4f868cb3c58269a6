//! The depth-family language: `depth L`, `dim d = …` and `resnet NAME(…)` elaborate to a
//! [`DepthProgram`] whose fields are what was written (exact exponents, formulas in the
//! layer time t, defaults), every misuse is refused with a located diagnostic and a hint,
//! and every width program still compiles exactly as before.

use std::path::Path;
use tp::depth::model::eval_in_t;
use tp::depth::{DepthProgram, HayouKind, HayouNet, Resnet};
use tp::exponent::Exponent;
use tp::syntax::ast::{ExprKind, ItemKind};
use tp::syntax::Diagnostic;
use tp::{Compiled, TpError};

// ------------------------------------------------------------------ helpers

fn depth_with(text: &str, sets: &[&str]) -> DepthProgram {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let overrides = tp::parse_overrides(&sets).unwrap_or_else(|e| panic!("{e}"));
    match tp::compile_any("test.tp", text, &overrides) {
        Ok(Compiled::Depth(p)) => p,
        Ok(Compiled::Width(_)) => panic!("a width program:\n{text}"),
        Ok(Compiled::Shaped(_)) => panic!("a shaped network:\n{text}"),
        Ok(Compiled::MeanField(_)) => panic!("a mean-field network:\n{text}"),
        Err(e) => panic!("unexpected error:\n{e}\nin\n{text}"),
    }
}

fn depth(text: &str) -> DepthProgram {
    depth_with(text, &[])
}

fn crx(p: &DepthProgram) -> &tp::depth::CrxNet {
    match &p.net {
        Resnet::Crx(net) => net,
        Resnet::Hayou(_) => panic!("expected a crx network"),
    }
}

fn hayou(p: &DepthProgram) -> &HayouNet {
    match &p.net {
        Resnet::Hayou(net) => net,
        Resnet::Crx(_) => panic!("expected a hayou network"),
    }
}

/// The diagnostic `compile_any` gives for `text`.
fn diag(text: &str) -> Diagnostic {
    match tp::compile_any("bad.tp", text, &[]) {
        Err(TpError::Diagnostic(d)) => *d,
        Err(other) => panic!("not a diagnostic: {other}"),
        Ok(_) => panic!("program was accepted:\n{text}"),
    }
}

/// Asserts that `text` is refused at `line:col` with a message containing `message` and
/// a hint containing `hint`.
fn refused(text: &str, line: u32, col: u32, message: &str, hint: &str) {
    let d = diag(text);
    let shown = d.to_string();
    assert_eq!((d.line, d.col), (line, col), "wrong position:\n{shown}");
    assert!(d.message.contains(message), "message:\n{shown}");
    let h = d
        .hint
        .as_deref()
        .unwrap_or_else(|| panic!("no hint:\n{shown}"));
    assert!(h.contains(hint), "hint:\n{shown}");
    assert!(
        shown.starts_with(&format!("bad.tp:{line}:{col}: ")),
        "not located:\n{shown}"
    );
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// Declarations of a small crx program (d = 2); line 5 is the `resnet` line.
const CRX_HEAD: &str = "program \"small\"\ndepth L\ndim d = 2\ninput x = [1, -0.5]\n";

fn crx_program(options: &str) -> String {
    format!(
        "{CRX_HEAD}resnet net(kind = crx, depth = L, dim = d, act = tanh, input = x, {options})\n"
    )
}

/// Declarations of a small hayou program; line 5 is the `resnet` line.
const HAYOU_HEAD: &str = "width n\ndepth L\ninput x = [1, -0.5, 0.25]\n# the network\n";

fn hayou_program(kind: &str, options: &str) -> String {
    format!(
        "{HAYOU_HEAD}resnet net(kind = {kind}, depth = L, width = n, act = relu, input = x{options})\n"
    )
}

// ------------------------------------------------------------------ syntax

#[test]
fn the_three_statements_parse() {
    let src = "depth L\ndim d = 2 * k\nresnet net(kind = crx, depth = L, dim = d,\n  \
               trend = [[t, 0], [0, 1]])\n";
    let file = tp::syntax::parse("test.tp", src).unwrap_or_else(|d| panic!("{d}"));
    let kinds: Vec<&ItemKind> = file.items.iter().map(|i| &i.kind).collect();
    assert!(matches!(kinds[0], ItemKind::Depth(l) if l == "L"));
    match kinds[1] {
        ItemKind::Dim {
            name,
            name_span,
            value,
        } => {
            assert_eq!(name, "d");
            assert_eq!(&src[name_span.start..name_span.end], "d");
            assert_eq!(&src[value.span.start..value.span.end], "2 * k");
        }
        other => panic!("{other:?}"),
    }
    match kinds[2] {
        ItemKind::Resnet {
            name,
            name_span,
            args,
        } => {
            assert_eq!(name, "net");
            assert_eq!(&src[name_span.start..name_span.end], "net");
            let keys: Vec<&str> = args.iter().map(|a| a.name.as_str()).collect();
            // `depth` and `dim` are keywords, and still option keys.
            assert_eq!(keys, ["kind", "depth", "dim", "trend"]);
            assert!(matches!(args[3].value.kind, ExprKind::List(ref rows) if rows.len() == 2));
        }
        other => panic!("{other:?}"),
    }
    // The statement spans stop at the last token (the `)` on line 4).
    let last = &file.items[2];
    assert_eq!(&src[last.span.end - 1..last.span.end], ")");
}

// ------------------------------------------------------------------ elaboration

#[test]
fn crx_fields_and_defaults() {
    let p = depth(&crx_program("alpha = 1, beta = 0"));
    assert_eq!(p.title.as_deref(), Some("small"));
    assert_eq!(p.depth, "L");
    assert_eq!(p.width, None);
    assert!(p.symbols.is_empty());
    let net = crx(&p);
    assert_eq!((net.dim, net.dim_name.as_str()), (2, "d"));
    assert_eq!(net.alpha, Exponent::ratio(1, 1));
    assert_eq!(net.beta, Exponent::zero());
    // Defaults: γ = 1/2 (Brownian increments), δ = 1, no trends, no noise.
    assert_eq!(net.gamma, Exponent::ratio(1, 2));
    assert_eq!(net.delta, 1.0);
    assert!(net.trend.is_none() && net.bias_trend.is_none());
    assert_eq!((net.noise, net.bias_noise), (0.0, 0.0));
    assert_eq!(net.input, vec![1.0, -0.5]);
    assert_eq!(p.act_name(net.act), "tanh");
    // σ''' was prepared for the analysis: tanh has it.
    assert!(p.activations[net.act.0].derivatives.len() >= 4);
}

#[test]
fn crx_explicit_options() {
    let p = depth(&crx_program(
        "alpha = 1/2, beta = 3/4, gamma = 1/3, delta = 2, noise = 0.5, bias_noise = 0.25",
    ));
    let net = crx(&p);
    assert_eq!(net.alpha, Exponent::ratio(1, 2));
    assert_eq!(net.beta, Exponent::ratio(3, 4));
    assert_eq!(net.gamma, Exponent::ratio(1, 3));
    assert_eq!((net.delta, net.noise, net.bias_noise), (2.0, 0.5, 0.25));
}

#[test]
fn a_matrix_trend_is_evaluated_in_t() {
    let text = format!(
        "param c = 3\n{}",
        crx_program(
            "alpha = 1, beta = 0,\n  trend = [[sin(2*pi*t), t^2], [1 + t, c * exp(-t)]],\n  \
             bias_trend = [cos(pi*t), c]"
        )
    );
    let p = depth(&text);
    let net = crx(&p);
    let a = net.trend.as_ref().expect("a trend");
    assert_eq!(a.len(), 2);
    assert!(a.iter().all(|row| row.len() == 2));
    let at = |e| eval_in_t(e, 0.5, &p.activations);
    assert!(at(&a[0][0]).abs() < 1e-12, "sin(pi) = 0");
    assert!(close(at(&a[0][1]), 0.25));
    assert!(close(at(&a[1][0]), 1.5));
    // The parameter c = 3 is folded in.
    assert!(close(at(&a[1][1]), 3.0 * (-0.5f64).exp()));
    let b = net.bias_trend.as_ref().expect("a bias trend");
    assert_eq!(b.len(), 2);
    assert!(close(at(&b[0]), (std::f64::consts::PI * 0.5).cos()));
    assert!(close(at(&b[1]), 3.0));
}

#[test]
fn a_scalar_trend_means_a_multiple_of_the_identity() {
    let p = depth(&crx_program(
        "alpha = 1, beta = 0, trend = 1 - t, bias_trend = t/2",
    ));
    let net = crx(&p);
    let a = net.trend.as_ref().expect("a trend");
    let at = |e| eval_in_t(e, 0.5, &p.activations);
    for (i, row) in a.iter().enumerate() {
        for (j, e) in row.iter().enumerate() {
            let want = if i == j { 0.5 } else { 0.0 };
            assert!(close(at(e), want), "entry ({i}, {j})");
        }
    }
    let b = net.bias_trend.as_ref().expect("a bias trend");
    assert_eq!(b.len(), 2);
    assert!(b.iter().all(|e| close(at(e), 0.25)));
}

#[test]
fn symbolic_exponents_are_kept_exact() {
    let text = format!(
        "param a, b symbolic\n{}",
        crx_program("alpha = a, beta = 1 - a/2 + b")
    );
    let p = depth(&text);
    assert_eq!(p.symbols, ["a", "b"]);
    let net = crx(&p);
    assert_eq!(net.alpha, Exponent::symbol("a"));
    let half = tp::exponent::Rational::new((-1).into(), 2.into());
    let want = Exponent::ratio(1, 1)
        .add(&Exponent::symbol("a").scale(&half))
        .add(&Exponent::symbol("b"));
    assert_eq!(net.beta, want);
}

#[test]
fn set_overrides_a_symbolic_exponent() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("programs/resnet_phase.tp");
    let text = std::fs::read_to_string(path).expect("programs/resnet_phase.tp");
    let free = depth(&text);
    assert_eq!(free.symbols, ["alpha", "beta"]);
    assert_eq!(crx(&free).alpha, Exponent::symbol("alpha"));
    let set = depth_with(&text, &["alpha=1/2"]);
    assert_eq!(crx(&set).alpha, Exponent::ratio(1, 2));
    assert_eq!(crx(&set).beta, Exponent::symbol("beta"));
    assert_eq!(set.symbols, ["beta"]);
}

#[test]
fn relu_is_accepted_for_crx() {
    // ReLU has no σ'' at 0; reporting that is the analysis' job, not the parser's.
    let p = depth(&crx_program("alpha = 1, beta = 0").replace("act = tanh", "act = relu"));
    let net = crx(&p);
    assert_eq!(p.taylor_at_zero(net.act)[1], None);
}

#[test]
fn hayou_defaults() {
    let p = depth(&hayou_program("hayou2", ""));
    assert_eq!(p.width.as_deref(), Some("n"));
    assert_eq!(p.depth, "L");
    let net = hayou(&p);
    assert_eq!(net.kind, HayouKind::Type2);
    assert_eq!(net.branch, Exponent::ratio(1, 2));
    assert_eq!(net.gain, 2.0);
    assert!(!net.sketch);
    assert_eq!(net.input, vec![1.0, -0.5, 0.25]);
    assert_eq!(p.act_name(net.act), "relu");
}

#[test]
fn hayou_options() {
    let text = format!(
        "param b symbolic\n{}",
        hayou_program("hayou1", ", branch = b, gain = 1.5, sketch = yes")
    );
    let p = depth(&text);
    let net = hayou(&p);
    assert_eq!(net.kind, HayouKind::Type1);
    assert_eq!(net.branch, Exponent::symbol("b"));
    assert_eq!(net.gain, 1.5);
    assert!(net.sketch);
    // φ' is prepared for the sketch.
    assert!(p.activations[net.act.0].derivatives.len() >= 2);
}

#[test]
fn a_declared_activation_formula_is_used() {
    let text = crx_program("alpha = 0, beta = 1")
        .replace("act = tanh", "act = sig")
        .replacen(
            "input x",
            "activation sig(x) = tanh(x) + tanh(x)^2/2\ninput x",
            1,
        );
    let p = depth(&text);
    let net = crx(&p);
    let taylor = p.taylor_at_zero(net.act);
    let got: Vec<f64> = taylor.iter().map(|v| v.expect("smooth")).collect();
    // σ(x) = x + x²/2 - x³/3 + …: σ(0) = 0, σ'(0) = 1, σ''(0) = 1, σ'''(0) = -2.
    for (k, want) in [0.0, 1.0, 1.0, -2.0].into_iter().enumerate() {
        assert!((got[k] - want).abs() < 1e-9, "order {k}: {}", got[k]);
    }
}

#[test]
fn dim_reads_as_a_number_and_in_width_programs() {
    // A `dim` is a named constant: it can size an input layer of a width program.
    let text = "width n\ndim d = 3\ninput xa = [1, 0, 0]\nmatrix W1 : n x d ~ gaussian(1/d)\n\
                vector h = W1 xa\nscalar q = mean(h * h)\n";
    match tp::compile_any("test.tp", text, &[]) {
        Ok(Compiled::Width(p)) => assert!(p.lookup("q").is_some()),
        Ok(Compiled::Depth(_)) => panic!("a depth program"),
        Ok(Compiled::Shaped(_)) => panic!("a shaped network"),
        Ok(Compiled::MeanField(_)) => panic!("a mean-field network"),
        Err(e) => panic!("{e}"),
    }
}

// ------------------------------------------------------------------ shipped programs

fn shipped() -> Vec<(String, Result<Compiled, TpError>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("programs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("programs/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tp"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let compiled = tp::load_any(&dir.join(&n), &[]);
            (n, compiled)
        })
        .collect()
}

#[test]
fn every_shipped_program_compiles_to_its_family() {
    for (name, compiled) in shipped() {
        let compiled = compiled.unwrap_or_else(|e| panic!("{name}: {e}"));
        let is_depth = matches!(compiled, Compiled::Depth(_));
        assert_eq!(is_depth, name.starts_with("resnet_"), "{name}");
        let is_shaped = matches!(compiled, Compiled::Shaped(_));
        assert_eq!(is_shaped, name.starts_with("shaped_"), "{name}");
        if let Compiled::Width(p) = compiled {
            // Exactly what the width-only path gives.
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("programs")
                .join(&name);
            let old = tp::load(&path, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                tp::ir::render_program(&p),
                tp::ir::render_program(&old),
                "{name}"
            );
        }
    }
}

#[test]
fn shipped_depth_programs_have_the_stated_settings() {
    let load = |name: &str| -> DepthProgram {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("programs")
            .join(name);
        match tp::load_any(&path, &[]) {
            Ok(Compiled::Depth(p)) => p,
            Ok(Compiled::Width(_)) => panic!("{name}: a width program"),
            Ok(Compiled::Shaped(_)) => panic!("{name}: a shaped network"),
            Ok(Compiled::MeanField(_)) => panic!("{name}: a mean-field network"),
            Err(e) => panic!("{name}: {e}"),
        }
    };
    let exps = |p: &DepthProgram| {
        let net = crx(p);
        (
            net.alpha.clone(),
            net.beta.clone(),
            net.noise,
            net.bias_noise,
        )
    };
    let ode = load("resnet_ode.tp");
    assert_eq!(
        exps(&ode),
        (Exponent::ratio(1, 1), Exponent::zero(), 0.0, 0.0)
    );
    assert_eq!(crx(&ode).dim, 4);
    let linear = load("resnet_linear_ode.tp");
    assert_eq!(
        exps(&linear),
        (Exponent::ratio(1, 2), Exponent::ratio(1, 2), 0.5, 0.0)
    );
    let sde = load("resnet_sde.tp");
    assert_eq!(
        exps(&sde),
        (Exponent::zero(), Exponent::ratio(1, 1), 0.5, 0.5)
    );
    // The SDE's activation: σ(0) = 0, σ'(0) = 1, σ''(0) = 1.
    let taylor = sde.taylor_at_zero(crx(&sde).act);
    for (k, want) in [0.0, 1.0, 1.0].into_iter().enumerate() {
        let got = taylor[k].expect("smooth at 0");
        assert!((got - want).abs() < 1e-9, "order {k}: {got}");
    }
    // The trends are modest: every entry of Ā(t) is at most 1 in size on [0, 1].
    for p in [&ode, &linear, &sde] {
        let a = crx(p).trend.as_ref().expect("a trend");
        for k in 0..=20 {
            let t = f64::from(k) / 20.0;
            for e in a.iter().flatten() {
                assert!(eval_in_t(e, t, &p.activations).abs() <= 1.0 + 1e-12);
            }
        }
    }
    let phase = load("resnet_phase.tp");
    assert_eq!(phase.symbols, ["alpha", "beta"]);
    let h1 = load("resnet_hayou.tp");
    let net = hayou(&h1);
    assert_eq!(
        (net.kind, net.sketch, net.gain),
        (HayouKind::Type1, true, 2.0)
    );
    assert_eq!(net.input.len(), 8);
    assert_eq!(h1.act_name(net.act), "relu");
    let h2 = load("resnet_type2.tp");
    assert_eq!(hayou(&h2).kind, HayouKind::Type2);
}

// ------------------------------------------------------------------ diagnostics

#[test]
fn the_width_only_compile_refuses_a_depth_program() {
    let text = crx_program("alpha = 1, beta = 0");
    let err = match tp::compile("bad.tp", &text, &[]) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("compile accepted a depth program"),
    };
    assert!(err.starts_with("bad.tp:5:1: "), "{err}");
    assert!(err.contains("depth program"), "{err}");
    assert!(err.contains("compile_any"), "{err}");
}

#[test]
fn unknown_option() {
    refused(
        &crx_program("alpha = 1, beta = 0, colour = 1"),
        5,
        88,
        "`kind = crx` has no option `colour`",
        "options of `kind = crx`: kind, depth, act, input, dim, alpha",
    );
}

#[test]
fn option_of_the_other_kind() {
    refused(
        &crx_program("alpha = 1, beta = 0, width = n"),
        5,
        88,
        "has no option `width`",
        "option of `kind = hayou1` and `hayou2`",
    );
    refused(
        &hayou_program("hayou1", ", alpha = 1"),
        5,
        72,
        "`kind = hayou1` has no option `alpha`",
        "option of `kind = crx`",
    );
}

#[test]
fn option_given_twice() {
    refused(
        &crx_program("alpha = 1, beta = 0, alpha = 2"),
        5,
        88,
        "option `alpha` is given twice",
        "give each option once",
    );
}

#[test]
fn missing_kind() {
    refused(
        "depth L\nresnet net(depth = L)\n",
        2,
        8,
        "`resnet net` needs a kind",
        "`kind = crx`",
    );
}

#[test]
fn unknown_kind() {
    refused(
        &crx_program("alpha = 1, beta = 0").replace("kind = crx", "kind = cr"),
        5,
        19,
        "unknown resnet kind `cr`",
        "`kind = hayou1`",
    );
}

#[test]
fn missing_required_exponent() {
    refused(
        &crx_program("beta = 0"),
        5,
        8,
        "`kind = crx` needs the option `alpha`",
        "add `alpha = …`",
    );
}

#[test]
fn missing_act_and_input() {
    refused(
        "depth L\ndim d = 2\nresnet net(kind = crx, depth = L, dim = d, alpha = 1, beta = 0)\n",
        3,
        8,
        "needs the option `act`",
        "act = tanh",
    );
    refused(
        "depth L\ndim d = 2\nresnet net(kind = crx, depth = L, dim = d, act = tanh, alpha = 1, beta = 0)\n",
        3,
        8,
        "needs the option `input`",
        "input = x",
    );
}

#[test]
fn no_depth_statement() {
    let text = crx_program("alpha = 1, beta = 0").replace("depth L\n", "# no depth\n");
    refused(&text, 5, 32, "the program declares no depth", "`depth L`");
}

#[test]
fn depth_must_name_the_declared_depth() {
    let text = crx_program("alpha = 1, beta = 0").replace("depth = L", "depth = 10");
    refused(
        &text,
        5,
        32,
        "`depth` must name the declared depth `L`",
        "not a number: write `depth = L`",
    );
}

#[test]
fn the_depth_has_no_value() {
    let text = crx_program("alpha = 1, beta = 0, trend = L * t");
    refused(
        &text,
        5,
        96,
        "`L` is the depth, a size that grows; it has no value",
        "options of the network",
    );
}

#[test]
fn dim_must_be_declared() {
    let text = crx_program("alpha = 1, beta = 0").replace("dim = d", "dim = 2");
    refused(
        &text,
        5,
        41,
        "`dim` must name a declared dimension",
        "`dim = NAME` with a declared dimension: `d`",
    );
    let text = text.replace("dim d = 2\n", "# no dim\n");
    refused(&text, 5, 41, "`dim` must name", "declare the dimension");
}

#[test]
fn input_must_have_d_entries() {
    let text = crx_program("alpha = 1, beta = 0").replace("[1, -0.5]", "[1, -0.5, 2]");
    refused(
        &text,
        5,
        64,
        "the input has 3 entries, but the dimension `d` is 2",
        "give the input 2 entries, or declare `dim d = 3`",
    );
}

#[test]
fn input_must_be_declared() {
    let text = crx_program("alpha = 1, beta = 0").replace("input = x", "input = y");
    refused(&text, 5, 64, "`y` is not a declared input", "input = x");
}

#[test]
fn trend_with_the_wrong_number_of_rows() {
    refused(
        &crx_program("alpha = 1, beta = 0, trend = [[1, 0], [0, 1], [1, 1]]"),
        5,
        96,
        "`trend` has 3 rows, but the dimension `d` is 2",
        "write 2 rows of 2 formulas in t",
    );
}

#[test]
fn trend_row_that_is_not_a_list() {
    refused(
        &crx_program("alpha = 1, beta = 0, trend = [t, 1 - t]"),
        5,
        97,
        "row 1 of `trend` is a formula, not a list",
        "a list of 2 formulas is a `bias_trend`",
    );
}

#[test]
fn trend_row_of_the_wrong_length() {
    refused(
        &crx_program("alpha = 1, beta = 0, trend = [[t, 0], [0, t, 1]]"),
        5,
        105,
        "row 2 of `trend` has 3 entries",
        "2 rows of 2 formulas",
    );
}

#[test]
fn bias_trend_of_the_wrong_length() {
    refused(
        &crx_program("alpha = 1, beta = 0, bias_trend = [t, t, t]"),
        5,
        101,
        "`bias_trend` has 3 entries, but the dimension `d` is 2",
        "write 2 formulas in t",
    );
}

#[test]
fn symbolic_parameter_in_a_trend() {
    let text = format!(
        "param a symbolic\n{}",
        crx_program("alpha = a, beta = 0, trend = a * t")
    );
    refused(
        &text,
        6,
        96,
        "the symbolic parameter `a` in a formula of `trend`",
        "--set a=",
    );
}

#[test]
fn negative_noise() {
    refused(
        &crx_program("alpha = 1, beta = 0, noise = -1"),
        5,
        96,
        "`noise` is -1, but a scale of Gaussian noise is ≥ 0",
        "noise = 0.5",
    );
}

#[test]
fn sketch_is_for_type_1_only() {
    refused(
        &hayou_program("hayou2", ", sketch = yes"),
        5,
        72,
        "`kind = hayou2` has no option `sketch`",
        "exists for `kind = hayou1` only",
    );
    refused(
        &hayou_program("hayou1", ", sketch = maybe"),
        5,
        81,
        "`sketch` is `yes` or `no`",
        "sketch = yes",
    );
}

#[test]
fn hayou_needs_a_width() {
    let text = hayou_program("hayou1", "").replace("width n\n", "# no width\n");
    refused(&text, 5, 46, "the program declares no width", "`width n`");
    let text = hayou_program("hayou1", "").replace("width = n", "width = 64");
    refused(
        &text,
        5,
        46,
        "`width` must name the declared width `n`",
        "not a number",
    );
}

#[test]
fn resnet_inside_a_loop() {
    let text = "depth L\nfor l = 1 to 2 {\n  resnet net(kind = hayou2)\n}\n";
    refused(
        text,
        3,
        3,
        "`resnet` cannot be inside a loop",
        "at the top level",
    );
}

#[test]
fn two_resnets() {
    let text = format!(
        "{}resnet other(kind = crx)\n",
        crx_program("alpha = 1, beta = 0")
    );
    refused(
        &text,
        6,
        1,
        "a second `resnet`; a program has one network (the first is at line 5)",
        "a file of its own",
    );
}

#[test]
fn resnet_beside_an_mlp_or_raw_statements() {
    let text = format!(
        "{}mlp other(depth = 2, act = tanh)\n",
        crx_program("alpha = 1, beta = 0")
    );
    refused(
        &text,
        6,
        1,
        "an `mlp` in a `resnet` program (the `resnet` is at line 5)",
        "only declarations",
    );
    let text = format!(
        "vector z ~ gaussian(1)\n{}",
        crx_program("alpha = 1, beta = 0")
    );
    refused(
        &text,
        1,
        1,
        "a raw Tensor Program statement in a `resnet` program (the `resnet` is at line 6)",
        "a file of their own",
    );
}

#[test]
fn dim_is_bounded() {
    refused(
        "dim d = 300\n",
        1,
        9,
        "a fixed dimension of 300; at most 256",
        "`dim d = 4`",
    );
    refused(
        "dim d = 0\n",
        1,
        9,
        "a dimension must be an integer ≥ 1",
        "write e.g. `1`",
    );
}

#[test]
fn depth_without_a_resnet() {
    let text = "depth L\nmlp net(depth = L, act = tanh)\n";
    refused(
        text,
        1,
        1,
        "the depth `L` is declared, but there is no `resnet`",
        "`param L = 3`",
    );
}

#[test]
fn the_new_words_are_reserved_but_still_option_keys() {
    let d = match tp::syntax::parse("bad.tp", "param depth = 3\n") {
        Err(d) => d,
        Ok(_) => panic!("`depth` was accepted as a name"),
    };
    assert_eq!((d.line, d.col), (1, 7), "{d}");
    assert!(d.message.contains("found the keyword `depth`"), "{d}");
    assert!(d.hint.as_deref().unwrap_or("").contains("reserved"), "{d}");
    // `resnet` needs its options: the hint shows how to write them.
    let d = match tp::syntax::parse("bad.tp", "depth L\nresnet net\n") {
        Err(d) => d,
        Ok(_) => panic!("`resnet net` without options was accepted"),
    };
    assert_eq!((d.line, d.col), (2, 11), "{d}");
    assert!(
        d.hint
            .as_deref()
            .unwrap_or("")
            .contains("resnet net(kind = crx"),
        "{d}"
    );
    // A missing `,` between options of an `mlp` is still about the `mlp`.
    let d = match tp::syntax::parse("bad.tp", "mlp net(depth = L act = act)") {
        Err(d) => d,
        Ok(_) => panic!("accepted"),
    };
    assert!(d.hint.as_deref().unwrap_or("").contains("`,`"), "{d}");
}
