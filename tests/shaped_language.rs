//! The shaped-network language: `depth d = tau * n` and `shaped NAME(…)` elaborate to a
//! [`ShapedProgram`] whose fields are what was written (τ and p exact, the Gram matrix of
//! the inputs, the activation's Taylor data at 0 exact), the shipped `shaped_*` programs
//! have their stated settings, and every misuse is refused with a located diagnostic.

use std::path::Path;
use tp::exponent::{Exponent, Rational};
use tp::shaped::{Atom, Poly, ShapedAct, ShapedProgram, SmoothAct};
use tp::syntax::ast::ItemKind;
use tp::syntax::Diagnostic;
use tp::{Compiled, TpError};

// ------------------------------------------------------------------ helpers

fn shaped_with(text: &str, sets: &[&str]) -> ShapedProgram {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let overrides = tp::parse_overrides(&sets).unwrap_or_else(|e| panic!("{e}"));
    match tp::compile_any("test.tp", text, &overrides) {
        Ok(Compiled::Shaped(p)) => p,
        Ok(_) => panic!("not a shaped network:\n{text}"),
        Err(e) => panic!("unexpected error:\n{e}\nin\n{text}"),
    }
}

fn shaped(text: &str) -> ShapedProgram {
    shaped_with(text, &[])
}

fn shipped(name: &str, sets: &[&str]) -> ShapedProgram {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("programs")
        .join(name);
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let overrides = tp::parse_overrides(&sets).unwrap_or_else(|e| panic!("{e}"));
    match tp::load_any(&path, &overrides) {
        Ok(Compiled::Shaped(p)) => p,
        Ok(_) => panic!("{name}: not a shaped network"),
        Err(e) => panic!("{name}: {e}"),
    }
}

fn smooth(p: &ShapedProgram) -> &SmoothAct {
    match &p.act {
        ShapedAct::Smooth(s) => s,
        ShapedAct::Relu { .. } => panic!("expected a smooth shaping"),
    }
}

fn q(num: i64, den: i64) -> Rational {
    Rational::new(num.into(), den.into())
}

/// π^e for e = num/den.
fn pi_pow(num: i64, den: i64) -> Poly {
    Poly::atom_pow(Atom::Pi, q(num, den))
}

/// √2.
fn sqrt2() -> Poly {
    Poly::atom_pow(Atom::Prime(2), q(1, 2))
}

/// ⟨a, b⟩ / n₀, computed here independently of the elaborator.
fn gram(inputs: &[&[f64]]) -> Vec<Vec<f64>> {
    let n0 = inputs[0].len() as f64;
    inputs
        .iter()
        .map(|a| {
            inputs
                .iter()
                .map(|b| {
                    let mut s = 0.0;
                    for k in 0..a.len() {
                        s += a[k] * b[k];
                    }
                    s / n0
                })
                .collect()
        })
        .collect()
}

fn assert_gram(got: &[Vec<f64>], want: &[Vec<f64>]) {
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (r, w) in got.iter().zip(want) {
        assert_eq!(r.len(), w.len());
        for (x, y) in r.iter().zip(w) {
            assert!((x - y).abs() < 1e-15, "{got:?} vs {want:?}");
        }
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

/// A program around one `shaped` statement (line 5), with a declared activation `phi`.
fn program(phi: &str, options: &str) -> String {
    format!(
        "width n\ndepth d = n\ninput x = [1, 0.5]\nactivation phi(x) = {phi}\n\
         shaped net(width = n, depth = d, input = x, {options})\n"
    )
}

// ------------------------------------------------------------------ syntax

#[test]
fn depth_with_a_ratio_and_shaped_parse_to_their_items() {
    let text = "width n\ndepth d = 1/2 * n\nshaped net(width = n, depth = d)\n";
    let file = tp::syntax::parse("t.tp", text).expect("parses");
    match &file.items[1].kind {
        ItemKind::TiedDepth { name, value, .. } => {
            assert_eq!(name, "d");
            assert_eq!(&text[value.span.start..value.span.end], "1/2 * n");
        }
        other => panic!("{other:?}"),
    }
    match &file.items[2].kind {
        ItemKind::Shaped { name, args, .. } => {
            assert_eq!(name, "net");
            let keys: Vec<&str> = args.iter().map(|a| a.name.as_str()).collect();
            assert_eq!(keys, ["width", "depth"]);
        }
        other => panic!("{other:?}"),
    }
    // `depth L` alone is still the depth of a resnet.
    let file = tp::syntax::parse("t.tp", "depth L\n").expect("parses");
    assert!(matches!(&file.items[0].kind, ItemKind::Depth(l) if l == "L"));
}

#[test]
fn shaped_is_a_keyword_and_needs_its_parentheses() {
    let d = match tp::syntax::parse("bad.tp", "width n\nshaped net\n") {
        Err(d) => d,
        Ok(f) => panic!("accepted: {f:?}"),
    };
    assert_eq!(d.line, 2, "{d}");
    assert!(tp::syntax::parse("bad.tp", "param shaped = 1\n").is_err());
}

// ------------------------------------------------------------------ shipped programs

#[test]
fn shaped_relu_program_has_its_settings() {
    let p = shipped("shaped_relu.tp", &[]);
    assert_eq!((p.width.as_str(), p.depth.as_str()), ("n", "d"));
    assert_eq!(p.tau, q(1, 1));
    assert_eq!(p.p, Exponent::ratio(1, 2));
    assert!(p.symbols.is_empty());
    match &p.act {
        ShapedAct::Relu { c_plus, c_minus } => {
            assert_eq!(c_plus, &Poly::int(1));
            assert_eq!(c_minus, &Poly::int(-1));
        }
        ShapedAct::Smooth(_) => panic!("expected the shaped ReLU"),
    }
    assert_eq!(p.inputs, ["xa", "xb"]);
    let want = gram(&[&[1.0, 1.0, 1.0, 1.0], &[1.0, 1.0, 1.0, -1.0]]);
    // Unit variances and correlation 1/2, as the header says.
    assert_gram(&want, &[vec![1.0, 0.5], vec![0.5, 1.0]]);
    assert_gram(&p.gram0, &want);
    assert_eq!(p.depth_at(64), 64);
}

#[test]
fn shaped_tanh_program_has_its_settings() {
    let p = shipped("shaped_tanh.tp", &[]);
    assert_eq!(p.tau, q(1, 1));
    assert_eq!(p.p, Exponent::ratio(1, 2));
    let s = smooth(&p);
    assert_eq!(s.name, "tanh");
    assert!(s.act.is_some());
    assert!(!s.normalize);
    assert_eq!(s.a, Poly::int(1));
    assert_eq!(
        s.taylor,
        [Poly::zero(), Poly::int(1), Poly::zero(), Poly::int(-2)]
    );
    assert_gram(&p.gram0, &gram(&[&[1.0, 1.0, 2.0, 0.0]]));
    assert_gram(&p.gram0, &[vec![1.5]]);
    // τ is a `param`, so `--set` changes it.
    let p = shipped("shaped_tanh.tp", &["tau=3/2"]);
    assert_eq!(p.tau, q(3, 2));
    assert_eq!(p.depth_at(100), 150);
}

#[test]
fn shaped_gelu_program_has_its_settings() {
    let p = shipped("shaped_gelu.tp", &[]);
    let s = smooth(&p);
    assert!(s.normalize);
    // GELU as written: φ'(0) = 1/2, φ''(0) = 2/√(2π) = √2 π^(-1/2).
    assert_eq!(
        s.taylor,
        [
            Poly::zero(),
            Poly::frac(1, 2),
            sqrt2().mul(&pi_pow(-1, 2)),
            Poly::zero()
        ]
    );
    let t = s.normalized_taylor().expect("normalizable");
    assert_eq!(t[2], sqrt2().mul(&pi_pow(-1, 2)).scale(&q(2, 1)));
    assert_eq!(b(&t), Poly::int(6).mul(&pi_pow(-1, 1)));
    assert_gram(&p.gram0, &gram(&[&[2.0, 1.0, 1.0, 0.0, 0.0]]));
    assert_gram(&p.gram0, &[vec![1.2]]);
}

#[test]
fn shaped_symbolic_program_has_its_settings_and_set_makes_numbers() {
    let p = shipped("shaped_symbolic.tp", &[]);
    assert_eq!(p.tau, q(1, 2));
    assert_eq!(p.p, Exponent::symbol("p"));
    assert_eq!(p.symbols, ["u", "v", "p"]);
    let s = smooth(&p);
    assert_eq!((s.name.as_str(), s.act), ("taylor", None));
    assert_eq!(
        s.taylor,
        [Poly::zero(), Poly::int(1), Poly::sym("u"), Poly::sym("v")]
    );
    assert_eq!(p.inputs, ["xa", "xb"]);
    assert_gram(&p.gram0, &gram(&[&[1.0, 0.0], &[0.6, 0.8]]));
    // The numeric network needs every symbol.
    assert!(p.numeric(&Default::default()).is_err());

    let p = shipped("shaped_symbolic.tp", &["u=0.5", "p=1/3"]);
    assert_eq!(p.symbols, ["v"]);
    assert_eq!(p.p, Exponent::ratio(1, 3));
    assert_eq!(smooth(&p).taylor[2], Poly::frac(1, 2));
}

#[test]
fn every_shipped_shaped_program_compiles_and_show_names_its_inputs() {
    for name in [
        "shaped_relu.tp",
        "shaped_tanh.tp",
        "shaped_gelu.tp",
        "shaped_symbolic.tp",
    ] {
        let p = shipped(name, &[]);
        assert!(p.title.is_some(), "{name}");
        let path = format!("{}/programs/{name}", env!("CARGO_MANIFEST_DIR"));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tp"))
            .args(["show", &path])
            .output()
            .expect("runs");
        // `tp show` names the inputs the program declares.
        assert_eq!(out.status.code(), Some(0), "{name}");
        let text = String::from_utf8_lossy(&out.stdout);
        let inputs = format!("inputs: {}", p.inputs.join(", "));
        assert!(text.contains(&inputs), "{name}: {text}");
    }
}

// ------------------------------------------------------------------ exact Taylor data

/// b = ¾ φ''(0)² + φ'''(0).
fn b(t: &[Poly; 4]) -> Poly {
    t[2].mul(&t[2]).scale(&q(3, 4)).add(&t[3])
}

/// The normalized (φ''(0), φ'''(0)) and b of `act = NAME, normalize = yes`.
fn normalized(act: &str) -> (Poly, Poly, Poly) {
    let text = program("x", &format!("act = {act}, normalize = yes"));
    let p = shaped(&text);
    let t = smooth(&p).normalized_taylor().expect("normalizable");
    assert_eq!((&t[0], &t[1]), (&Poly::zero(), &Poly::int(1)), "{act}");
    let b = b(&t);
    (t[2].clone(), t[3].clone(), b)
}

#[test]
fn normalized_taylor_data_of_the_builtins_is_exact() {
    let z = Poly::zero;
    let cases: Vec<(&str, (Poly, Poly, Poly))> = vec![
        ("tanh", (z(), Poly::int(-2), Poly::int(-2))),
        ("arctan", (z(), Poly::int(-2), Poly::int(-2))),
        ("atan", (z(), Poly::int(-2), Poly::int(-2))),
        ("sin", (z(), Poly::int(-1), Poly::int(-1))),
        // 2 tanh(x/2).
        ("sigmoid", (z(), Poly::frac(-1, 2), Poly::frac(-1, 2))),
        // 2 GELU: φ'' = 2√2/√π, b = ¾ · 8/π = 6/π.
        (
            "gelu",
            (
                sqrt2().mul(&pi_pow(-1, 2)).scale(&q(2, 1)),
                z(),
                Poly::int(6).mul(&pi_pow(-1, 1)),
            ),
        ),
        // 2 SiLU.
        ("silu", (Poly::int(1), z(), Poly::frac(3, 4))),
        // 2 (softplus − log 2).
        ("softplus", (Poly::frac(1, 2), z(), Poly::frac(3, 16))),
    ];
    for (act, want) in cases {
        assert_eq!(normalized(act), want, "{act}");
    }
}

#[test]
fn taylor_data_of_user_formulas_is_exact() {
    let user = |phi: &str, options: &str| {
        let p = shaped(&program(phi, &format!("act = phi{options}")));
        let s = smooth(&p);
        (
            s.taylor.clone(),
            s.normalized_taylor().expect("normalizable"),
        )
    };
    let (raw, t) = user("x + x^2/2", "");
    assert_eq!(raw, t);
    assert_eq!(
        (&t[2], &t[3], &b(&t)),
        (&Poly::int(1), &Poly::zero(), &Poly::frac(3, 4))
    );
    // 2 tanh(x/2) is the normalized sigmoid.
    let (_, t) = user("2*tanh(x/2)", "");
    assert_eq!((t[2].clone(), t[3].clone(), b(&t)), normalized("sigmoid"));
    // A normalized user formula: (sigmoid-like 1/(1+exp(-x)) − 1/2)·4.
    let (raw, t) = user("1/(1 + exp(-x))", ", normalize = yes");
    assert_eq!(raw[0], Poly::frac(1, 2));
    assert_eq!(raw[1], Poly::frac(1, 4));
    assert_eq!((t[2].clone(), t[3].clone(), b(&t)), normalized("sigmoid"));
    // An exact float constant of a formula (0.5 = 1/2) stays exact.
    let (_, t) = user("x + 0.25*x^3", "");
    assert_eq!(t[3], Poly::frac(3, 2));
    // Formulas that call built-in activations: 2σ(x) − 1 = tanh(x/2), normalized to
    // 2 tanh(x/2); gelu(x)·2 is the normalized GELU without `normalize`.
    let (raw, t) = user("2*sigmoid(x) - 1", ", normalize = yes");
    assert_eq!((&raw[0], &raw[1]), (&Poly::zero(), &Poly::frac(1, 2)));
    assert_eq!((t[2].clone(), t[3].clone(), b(&t)), normalized("sigmoid"));
    let (_, t) = user("2*gelu(x)", "");
    assert_eq!((t[2].clone(), t[3].clone(), b(&t)), normalized("gelu"));
}

#[test]
fn softplus_keeps_log_2_exact_and_numeric() {
    let p = shaped(&program("x", "act = softplus, normalize = yes"));
    let s = smooth(&p);
    assert_eq!(s.taylor[0], Poly::sym("log(2)"));
    // log 2 is an opaque constant, not a program symbol.
    assert!(p.symbols.is_empty());
    let numeric = p.numeric(&Default::default()).expect("numeric");
    // The normalized activation vanishes at 0 whatever the width.
    assert!(numeric.phi_s(0.0, 100).abs() < 1e-12);
}

#[test]
fn symbolic_shaping_constants_are_polys_of_their_symbols() {
    let text = "width n\ndepth d = n\ninput x = [1, 0.5]\nparam c, s symbolic\n\
                shaped net(width = n, depth = d, input = x, act = relu, c_plus = c, \
                c_minus = -1/2)\n";
    let p = shaped(text);
    match &p.act {
        ShapedAct::Relu { c_plus, c_minus } => {
            assert_eq!(c_plus, &Poly::sym("c"));
            assert_eq!(c_minus, &Poly::frac(-1, 2));
        }
        ShapedAct::Smooth(_) => panic!("expected the shaped ReLU"),
    }
    // Only the symbols used are listed.
    assert_eq!(p.symbols, ["c"]);
    // Smooth: a = 2 s, a symbolic scale.
    let text = "width n\ndepth d = n\ninput x = [1, 0.5]\nparam s symbolic\n\
                shaped net(width = n, depth = d, input = x, act = tanh, a = 2*s)\n";
    assert_eq!(smooth(&shaped(text)).a, Poly::sym("s").scale(&q(2, 1)));
}

// ------------------------------------------------------------------ errors

#[test]
fn unknown_and_duplicate_options_are_located() {
    refused(
        &program("x", "act = tanh, depht = 3"),
        5,
        57,
        "no option `depht`",
        "options: width",
    );
    refused(
        &program("x", "act = tanh, act = sin"),
        5,
        57,
        "given twice",
        "once",
    );
    // An option of the other kind of shaping says which kind it belongs to.
    refused(
        &program("x", "act = tanh, c_minus = -1"),
        5,
        57,
        "option of the shaped ReLU",
        "S phi(x/S)",
    );
    refused(
        &program("x", "act = relu, c_minus = -1, normalize = yes"),
        5,
        71,
        "option of a smooth shaping",
        "c_plus",
    );
}

#[test]
fn missing_width_or_depth_is_located() {
    refused(
        "depth d = n\ninput x = [1, 0.5]\nshaped net(depth = d, act = tanh, input = x)\n",
        3,
        8,
        "needs the option `width`",
        "width n",
    );
    refused(
        "width n\ninput x = [1, 0.5]\nshaped net(width = n, act = tanh, input = x)\n",
        3,
        8,
        "needs the option `depth`",
        "depth d = tau * n",
    );
    refused(
        "width n\ninput x = [1, 0.5]\nshaped net(width = n, depth = d, act = tanh, input = x)\n",
        3,
        31,
        "declares no depth",
        "depth d = tau * n",
    );
    // `depth d` without a ratio is a resnet's depth.
    refused(
        "width n\ndepth d\ninput x = [1, 0.5]\nshaped net(width = n, depth = d, act = tanh, input = x)\n",
        2,
        1,
        "not tied to the width",
        "depth d = tau * n",
    );
}

#[test]
fn a_depth_not_proportional_to_the_width_is_located() {
    let with = |rhs: &str| {
        format!(
            "width n\nparam k = 2\nparam t symbolic\ndepth d = {rhs}\ninput x = [1, 0.5]\n\
             shaped net(width = n, depth = d, act = tanh, input = x)\n"
        )
    };
    refused(&with("n^2"), 4, 11, "proportional to the width", "tau * n");
    refused(&with("100"), 4, 11, "a number, not a multiple", "tau * n");
    refused(&with("(1 - k) * n"), 4, 11, "must be > 0", "positive exact");
    refused(&with("t * n"), 4, 11, "symbolic parameter `t`", "--set t=1");
    refused(&with("sqrt(2) * n"), 4, 11, "exact number", "tau * n");
    // A tied depth in a width program or a resnet is refused too.
    refused(
        "width n\ndepth d = n\nvector z ~ gaussian(1)\n",
        2,
        1,
        "no `shaped` network",
        "param d = 3",
    );
}

#[test]
fn an_activation_that_is_not_normalized_is_located() {
    // GELU has φ'(0) = 1/2.
    refused(
        &program("x", "act = gelu"),
        5,
        51,
        "phi'(0) = 1/2",
        "normalize = yes",
    );
    // cos has φ(0) = 1.
    refused(
        &program("x", "act = cos"),
        5,
        51,
        "phi(0) = 1",
        "normalize = yes",
    );
    refused(
        &program("x", "taylor = [1, 1, 0, 0]"),
        5,
        54,
        "phi(0) = 1",
        "normalize = yes",
    );
    // Normalizing needs a slope.
    refused(
        &program("x", "act = cos, normalize = yes"),
        5,
        68,
        "phi'(0) = 0",
        "non-zero slope",
    );
}

#[test]
fn a_singular_gram_matrix_is_located_and_names_the_inputs() {
    let text = "width n\ndepth d = n\ninput xa = [1, 2]\ninput xb = [-2, -4]\n\
                shaped net(width = n, depth = d, act = tanh, inputs = [xa, xb])\n";
    refused(
        text,
        5,
        60,
        "`xa` and `xb` are parallel",
        "positive definite",
    );
    let text = "width n\ndepth d = n\ninput xa = [1, 0, 0]\ninput xb = [0, 1, 0]\n\
                input xc = [1, 1, 0]\n\
                shaped net(width = n, depth = d, act = tanh, inputs = [xa, xb, xc])\n";
    refused(
        text,
        6,
        64,
        "`xc` is a linear combination of `xa`, `xb`",
        "drop `xc`",
    );
    let text = "width n\ndepth d = n\ninput x = [0, 0]\n\
                shaped net(width = n, depth = d, act = tanh, input = x)\n";
    refused(text, 4, 54, "`x` is zero", "positive definite");
    // Inputs of different dimensions.
    let text = "width n\ndepth d = n\ninput xa = [1, 0]\ninput xb = [0, 1, 0]\n\
                shaped net(width = n, depth = d, act = tanh, inputs = [xa, xb])\n";
    refused(
        text,
        5,
        60,
        "has 3 entries, but `xa` has 2",
        "same dimension",
    );
}

#[test]
fn taylor_lists_and_activation_choices_are_checked() {
    refused(
        &program("x", "taylor = [0, 1, 0]"),
        5,
        54,
        "`taylor` has 3 entries; it needs exactly 4",
        "phi'''(0)",
    );
    refused(
        &program("x", "taylor = [0, 1, 0, 0, 0]"),
        5,
        54,
        "5 entries",
        "phi'''(0)",
    );
    refused(
        &program("x", "act = tanh, taylor = [0, 1, 0, 0]"),
        5,
        57,
        "both `act` and `taylor`",
        "give one",
    );
    refused(
        "width n\ndepth d = n\ninput x = [1, 0.5]\nshaped net(width = n, depth = d, input = x)\n",
        4,
        8,
        "needs an activation",
        "act = relu",
    );
    // Equal ReLU slopes make the network linear.
    refused(
        &program("x", "act = relu, c_plus = 1/2, c_minus = 0.5"),
        5,
        81,
        "the shaped ReLU is then linear",
        "different slopes",
    );
    // Not smooth at 0, and not exact.
    refused(
        &program("relu(x)^2", "act = phi"),
        5,
        51,
        "cannot be computed exactly",
        "act = relu",
    );
    refused(
        &program("tanh(x + 1)", "act = phi"),
        5,
        51,
        "cannot be computed exactly",
        "taylor = [",
    );
    // The shaping exponent is positive.
    refused(
        &program("x", "act = tanh, p = -1/2"),
        5,
        61,
        "it must be > 0",
        "critical",
    );
}

#[test]
fn a_shaped_network_is_not_a_width_program_and_stands_alone() {
    let text = program("x", "act = tanh");
    match tp::compile("bad.tp", &text, &[]) {
        Err(TpError::Diagnostic(d)) => {
            assert_eq!((d.line, d.col), (5, 1), "{d}");
            assert!(d.message.contains("shaped network"), "{d}");
        }
        other => panic!("{other:?}"),
    }
    let text = format!(
        "{}mlp m(depth = 2, act = tanh)\n",
        program("x", "act = tanh")
    );
    refused(
        &text,
        6,
        1,
        "an `mlp` in a `shaped` program",
        "one `shaped`",
    );
    let text = format!("{}shaped other(width = n)\n", program("x", "act = tanh"));
    refused(&text, 6, 1, "a second `shaped` network", "file of its own");
}
