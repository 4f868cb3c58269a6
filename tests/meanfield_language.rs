//! The mean-field language: `particles N` and `meanfield NAME(…)` elaborate to a
//! [`MeanFieldProgram`] whose fields are what was written (p, d, the laws, γ and the
//! horizon exact, α and β exact exponents, the unit's and penalty's derivatives correct),
//! the shipped `mf_*` programs have their stated settings, and every misuse is refused
//! with a located diagnostic and a hint.

use std::path::Path;
use tp::exponent::{Exponent, Rational};
use tp::ir::Expr;
use tp::meanfield::{Data, InitLaw, Loss, MeanFieldProgram, XLaw};
use tp::syntax::ast::ItemKind;
use tp::{Compiled, TpError};

// ------------------------------------------------------------------ helpers

fn compiled(text: &str, sets: &[&str]) -> MeanFieldProgram {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let overrides = tp::parse_overrides(&sets).unwrap_or_else(|e| panic!("{e}"));
    match tp::compile_any("test.tp", text, &overrides) {
        Ok(Compiled::MeanField(p)) => p,
        Ok(_) => panic!("not a mean-field network:\n{text}"),
        Err(e) => panic!("unexpected error:\n{e}\nin\n{text}"),
    }
}

fn shipped(name: &str, sets: &[&str]) -> MeanFieldProgram {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("programs")
        .join(name);
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let overrides = tp::parse_overrides(&sets).unwrap_or_else(|e| panic!("{e}"));
    match tp::load_any(&path, &overrides) {
        Ok(Compiled::MeanField(p)) => p,
        Ok(_) => panic!("{name}: not a mean-field network"),
        Err(e) => panic!("{name}: {e}"),
    }
}

fn q(num: i64, den: i64) -> Rational {
    Rational::new(num.into(), den.into())
}

fn exact(num: i64, den: i64) -> Exponent {
    Exponent::constant(q(num, den))
}

/// A formula evaluated at the point `at` (w1 … wp then x1 … xd).
fn eval(p: &MeanFieldProgram, e: &Expr, at: &[f64]) -> f64 {
    e.eval(&|v| at[v.0], 0.0, 1.0, &p.activations)
}

/// Every ∂F/∂w_i and ∂V/∂w_i against a central difference at `at`.
fn derivatives_match(p: &MeanFieldProgram, at: &[f64]) {
    assert_eq!(at.len(), p.var_count());
    assert_eq!(p.unit_grad.len(), p.dim);
    assert_eq!(p.penalty_grad.len(), p.dim);
    let h = 1e-6;
    for i in 0..p.dim {
        for (f, g, what) in [
            (&p.unit.expr, &p.unit_grad[i], "unit"),
            (&p.penalty.expr, &p.penalty_grad[i], "penalty"),
        ] {
            let mut up = at.to_vec();
            let mut down = at.to_vec();
            up[p.w_var(i).0] += h;
            down[p.w_var(i).0] -= h;
            let fd = (eval(p, f, &up) - eval(p, f, &down)) / (2.0 * h);
            let exact = eval(p, g, at);
            assert!(
                (fd - exact).abs() < 1e-6 * (1.0 + exact.abs()),
                "{}: d{what}/dw{} = {exact}, finite difference {fd}",
                p.display_name(),
                i + 1
            );
        }
    }
}

/// The 1-based (line, column) where the unique substring `at` starts; in `context@at`,
/// where the part after `@` starts.
fn position(text: &str, at: &str) -> (u32, u32) {
    let (context, _) = at.split_once('@').unwrap_or(("", at));
    let whole = at.replace('@', "");
    assert_eq!(
        text.matches(&whole).count(),
        1,
        "`{whole}` is not unique in\n{text}"
    );
    let start = text.find(&whole).unwrap_or(0) + context.len();
    let line = text[..start].matches('\n').count() + 1;
    let line_start = text[..start].rfind('\n').map_or(0, |k| k + 1);
    let col = text[line_start..start].chars().count() + 1;
    (line as u32, col as u32)
}

/// Whether `text` is refused at the start of `at`, with `message` and `hint` in the
/// diagnostic; what is wrong otherwise.
fn check_refused(text: &str, at: &str, message: &str, hint: &str) -> Result<(), String> {
    let whole = at.replace('@', "");
    if text.matches(&whole).count() != 1 {
        return Err(format!("`{whole}` is not unique in\n{text}"));
    }
    let d = match tp::compile_any("bad.tp", text, &[]) {
        Err(TpError::Diagnostic(d)) => *d,
        Err(e) => return Err(format!("not a diagnostic: {e}")),
        Ok(_) => return Err(format!("accepted:\n{text}")),
    };
    let shown = d.to_string();
    let (line, col) = position(text, at);
    if (d.line, d.col) != (line, col) {
        return Err(format!("wrong position (want {line}:{col}):\n{shown}"));
    }
    if !d.message.contains(message) {
        return Err(format!("message (want `{message}`):\n{shown}"));
    }
    match d.hint.as_deref() {
        Some(h) if h.contains(hint) => {}
        _ => return Err(format!("hint (want `{hint}`):\n{shown}")),
    }
    if !shown.starts_with(&format!("bad.tp:{line}:{col}: ")) {
        return Err(format!("not located:\n{shown}"));
    }
    Ok(())
}

/// `text` is refused at the start of `at`, with `message` and `hint` in the diagnostic.
fn refused(text: &str, at: &str, message: &str, hint: &str) {
    if let Err(e) = check_refused(text, at, message, hint) {
        panic!("{e}");
    }
}

/// A program around one `meanfield` statement, one option per line; `options` replaces
/// the default option of the same key, adds new keys, and `key = -` removes one.
fn program(options: &[&str]) -> String {
    let mut opts: Vec<(String, String)> = [
        "particles = N",
        "dim = 2",
        "x_dim = 1",
        "unit = tanh(w1 * x1 + w2)",
        "data = teacher",
        "target = tanh(x1)",
        "gamma = 1/10",
        "alpha = 0",
        "beta = 1/2",
        "horizon = 2",
    ]
    .iter()
    .map(|o| {
        let (k, v) = o.split_once(" = ").expect("key = value");
        (k.to_string(), v.to_string())
    })
    .collect();
    for o in options {
        let (k, v) = o.split_once(" = ").expect("key = value");
        match opts.iter().position(|(key, _)| key == k) {
            Some(i) if v == "-" => {
                opts.remove(i);
            }
            Some(i) => opts[i].1 = v.to_string(),
            None => opts.push((k.to_string(), v.to_string())),
        }
    }
    let body: Vec<String> = opts.iter().map(|(k, v)| format!("  {k} = {v}")).collect();
    format!(
        "program \"t\"\nparticles N\nparam lambda = 1/10\nparam a, b symbolic\n\
         meanfield net(\n{}\n)\n",
        body.join(",\n")
    )
}

// ------------------------------------------------------------------ syntax

#[test]
fn particles_and_meanfield_parse_with_keyword_option_keys() {
    let text = "particles N\nmeanfield net(particles = N, dim = 2, unit = w1)\n";
    let file = tp::syntax::parse("t.tp", text).expect("parses");
    match &file.items[0].kind {
        ItemKind::Particles { name, name_span } => {
            assert_eq!(name, "N");
            assert_eq!(&text[name_span.start..name_span.end], "N");
        }
        other => panic!("{other:?}"),
    }
    match &file.items[1].kind {
        ItemKind::MeanField { name, args, .. } => {
            assert_eq!(name, "net");
            let keys: Vec<&str> = args.iter().map(|a| a.name.as_str()).collect();
            assert_eq!(keys, ["particles", "dim", "unit"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn particles_and_meanfield_are_reserved_words() {
    for text in ["param particles = 3\n", "vector meanfield ~ gaussian(1)\n"] {
        assert!(tp::syntax::parse("t.tp", text).is_err(), "{text}");
    }
}

// ------------------------------------------------------------------ shipped programs

#[test]
fn toy_linear_has_its_stated_settings() {
    let p = shipped("mf_toy_linear.tp", &[]);
    assert_eq!(p.size, "N");
    assert_eq!((p.dim, p.x_dim), (1, 1));
    assert_eq!(
        p.init,
        InitLaw::Gaussian {
            mean: vec![1.0],
            std: 0.5
        }
    );
    assert_eq!(p.unit.text, "w1 * x1");
    assert_eq!(p.penalty.text, "lambda * w1^2 / 2");
    assert_eq!(p.loss, Loss::Square);
    match &p.data {
        Data::Teacher {
            x_law,
            target,
            noise,
        } => {
            assert_eq!(*x_law, XLaw::Gaussian);
            assert_eq!(target.text, "1/2 * x1");
            assert_eq!(*noise, 0.5);
            // f*(x) = x/2, reading only x1 (value 1 = p + 0).
            assert_eq!(eval(&p, &target.expr, &[7.0, 3.0]), 1.5);
            assert_eq!(target.expr.values(), vec![p.x_var(0)]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.batch, 1);
    assert_eq!(p.gamma, q(1, 10));
    assert_eq!(p.horizon, q(6, 1));
    assert_eq!(
        (p.alpha.clone(), p.beta.clone()),
        (exact(0, 1), exact(1, 1))
    );
    assert!(p.symbols.is_empty());
    // F = w x: ∂F/∂w = x; V = w²/2: ∂V/∂w = w.
    assert_eq!(eval(&p, &p.unit_grad[0], &[2.0, 3.0]), 3.0);
    assert_eq!(eval(&p, &p.penalty_grad[0], &[2.0, 3.0]), 2.0);
    derivatives_match(&p, &[0.7, -1.3]);
}

#[test]
fn teacher_beta_half_has_its_stated_settings() {
    let p = shipped("mf_teacher_beta_half.tp", &[]);
    assert_eq!((p.dim, p.x_dim), (2, 1));
    assert_eq!(
        p.init,
        InitLaw::Gaussian {
            mean: vec![0.0, 0.0],
            std: 1.0
        }
    );
    assert_eq!(p.unit.text, "tanh(w1 * x1 + w2)");
    assert_eq!(p.penalty.text, "lambda * (w1^2 + w2^2) / 2");
    let Data::Teacher { target, noise, .. } = &p.data else {
        panic!("a teacher");
    };
    assert_eq!(target.text, "tanh(2 * x1 - 1/2)");
    assert_eq!(*noise, 0.1);
    assert_eq!(p.gamma, q(1, 1));
    assert_eq!(p.horizon, q(2, 1));
    assert_eq!(
        (p.alpha.clone(), p.beta.clone()),
        (exact(0, 1), exact(1, 2))
    );
    // w1 is value 0, w2 value 1, x1 value 2: F(w, x) = tanh(w1 x1 + w2).
    let at = [0.3, -0.2, 1.5];
    assert!((eval(&p, &p.unit.expr, &at) - (0.3f64 * 1.5 - 0.2).tanh()).abs() < 1e-15);
    derivatives_match(&p, &at);
    derivatives_match(&p, &[-1.1, 0.4, -0.6]);
}

#[test]
fn teacher_beta_one_has_its_stated_settings() {
    let p = shipped("mf_teacher_beta_one.tp", &[]);
    assert_eq!((p.dim, p.x_dim), (1, 1));
    assert_eq!(
        p.init,
        InitLaw::Gaussian {
            mean: vec![0.5],
            std: 0.5
        }
    );
    assert_eq!(p.unit.text, "tanh(w1 * x1)");
    let Data::Teacher { target, noise, .. } = &p.data else {
        panic!("a teacher");
    };
    assert_eq!(target.text, "tanh(x1)");
    assert_eq!(*noise, 0.2);
    assert_eq!(p.gamma, q(1, 10));
    assert_eq!(p.horizon, q(6, 1));
    assert_eq!(
        (p.alpha.clone(), p.beta.clone()),
        (exact(0, 1), exact(1, 1))
    );
    // V = w²/2: ∂V/∂w = w.
    assert_eq!(eval(&p, &p.penalty_grad[0], &[3.0, 0.0]), 3.0);
    derivatives_match(&p, &[0.8, -0.9]);
}

#[test]
fn decay_has_a_huber_loss_and_a_finite_data_set() {
    let p = shipped("mf_decay.tp", &[]);
    assert_eq!((p.dim, p.x_dim), (2, 1));
    assert_eq!(p.loss, Loss::Huber { delta: 0.5 });
    assert_eq!(p.unit.text, "sigmoid(w1 * x1 + w2)");
    let Data::Set { points } = &p.data else {
        panic!("a finite set");
    };
    assert_eq!(points.len(), 8);
    assert_eq!(points[0], (vec![-2.0], 0.1));
    assert_eq!(points[7], (vec![2.0], 0.9));
    assert_eq!(
        (p.alpha.clone(), p.beta.clone()),
        (exact(1, 2), exact(3, 4))
    );
    assert_eq!(p.gamma, q(1, 1));
    assert_eq!(p.horizon, q(2, 1));
    let at = [0.5, -0.25, 1.2];
    let sigmoid = |z: f64| 1.0 / (1.0 + (-z).exp());
    assert!((eval(&p, &p.unit.expr, &at) - sigmoid(0.5 * 1.2 - 0.25)).abs() < 1e-15);
    derivatives_match(&p, &at);
}

#[test]
fn phase_keeps_alpha_and_beta_symbolic_and_set_fixes_them() {
    let p = shipped("mf_phase.tp", &[]);
    assert_eq!(p.symbols, ["alpha", "beta"]);
    assert_eq!(p.alpha, Exponent::symbol("alpha"));
    assert_eq!(p.beta, Exponent::symbol("beta"));
    let fixed = shipped("mf_phase.tp", &["alpha=1/4", "beta=1"]);
    assert!(fixed.symbols.is_empty());
    assert_eq!((fixed.alpha, fixed.beta), (exact(1, 4), exact(1, 1)));
    // `--set` reaches the parameters of the formulas too.
    let heavier = shipped("mf_phase.tp", &["lambda=1"]);
    assert_eq!(
        eval(&heavier, &heavier.penalty_grad[1], &[0.0, 2.0, 0.0]),
        2.0
    );
}

#[test]
fn mean_field_programs_are_refused_by_the_width_only_path() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("programs/mf_toy_linear.tp");
    match tp::load(&path, &[]) {
        Err(TpError::Diagnostic(d)) => {
            assert!(d.message.contains("mean-field network"), "{d}");
        }
        other => panic!("{other:?}"),
    }
}

// ------------------------------------------------------------------ accepted forms

#[test]
fn decimal_steps_are_exact() {
    let p = compiled(&program(&["gamma = 0.01", "horizon = 2.5"]), &[]);
    assert_eq!(p.gamma, q(1, 100));
    assert_eq!(p.horizon, q(5, 2));
}

#[test]
fn defaults_fill_the_optional_options() {
    let p = compiled(&program(&["dim = -", "x_dim = -", "unit = w1 * x1"]), &[]);
    assert_eq!((p.dim, p.x_dim), (1, 1));
    assert_eq!(
        p.init,
        InitLaw::Gaussian {
            mean: vec![0.0],
            std: 1.0
        }
    );
    assert_eq!(p.penalty.text, "0");
    assert!(p.penalty.expr.is_zero());
    assert!(p.penalty_grad.iter().all(Expr::is_zero));
    assert_eq!(p.loss, Loss::Square);
    assert_eq!(p.batch, 1);
    let Data::Teacher { x_law, noise, .. } = &p.data else {
        panic!("a teacher");
    };
    assert_eq!((*x_law, *noise), (XLaw::Gaussian, 0.0));
    // alpha defaults to 0 (a constant step).
    let p = compiled(&program(&["alpha = -"]), &[]);
    assert_eq!(p.alpha, exact(0, 1));
}

#[test]
fn other_laws_and_options_are_read() {
    let p = compiled(
        &program(&[
            "init = sphere",
            "init_radius = 2",
            "x_law = uniform",
            "label_noise = 0.3",
            "batch = 16",
            "loss = huber",
        ]),
        &[],
    );
    assert_eq!(p.init, InitLaw::Sphere { radius: 2.0 });
    assert_eq!(p.loss, Loss::Huber { delta: 1.0 });
    assert_eq!(p.batch, 16);
    let Data::Teacher { x_law, noise, .. } = &p.data else {
        panic!("a teacher");
    };
    assert_eq!((*x_law, *noise), (XLaw::Uniform, 0.3));
    let p = compiled(&program(&["init = point", "init_at = [1, -1]"]), &[]);
    assert_eq!(p.init, InitLaw::Point(vec![1.0, -1.0]));
    let p = compiled(&program(&["init_mean = 2", "init_std = 1/4"]), &[]);
    assert_eq!(
        p.init,
        InitLaw::Gaussian {
            mean: vec![2.0, 2.0],
            std: 0.25
        }
    );
}

#[test]
fn relu_units_are_accepted_with_a_step_derivative() {
    let p = compiled(&program(&["unit = relu(w1 * x1 + w2)"]), &[]);
    // ∂/∂w1 relu(w1 x + w2) = step(w1 x + w2) x.
    assert_eq!(eval(&p, &p.unit_grad[0], &[1.0, 0.5, 2.0]), 2.0);
    assert_eq!(eval(&p, &p.unit_grad[0], &[-1.0, 0.5, 2.0]), 0.0);
    assert_eq!(eval(&p, &p.unit_grad[1], &[1.0, 0.5, 2.0]), 1.0);
}

#[test]
fn declared_activations_and_parameters_are_expanded_in_formulas() {
    let text = program(&["unit = phi(w1 * x1) + lambda * w2"]).replace(
        "param lambda = 1/10\n",
        "param lambda = 1/10\nactivation phi(z) = z + z^3\n",
    );
    let p = compiled(&text, &[]);
    // phi(w1 x1) + w2/10 at w = (2, 5), x = 1/2: phi(1) = 2, plus 1/2.
    assert!((eval(&p, &p.unit.expr, &[2.0, 5.0, 0.5]) - 2.5).abs() < 1e-12);
    derivatives_match(&p, &[0.3, 0.2, -0.7]);
}

#[test]
fn formula_text_is_whitespace_normalized() {
    let p = compiled(
        &program(&["unit = tanh( w1 *\n    x1   # the pre-activation\n    + w2 )"]),
        &[],
    );
    assert_eq!(p.unit.text, "tanh( w1 * x1 + w2 )");
}

// ------------------------------------------------------------------ refusals

#[test]
fn bad_inputs_are_refused_where_they_are_written() {
    // (options, where, message, hint)
    let cases: &[(&[&str], &str, &str, &str)] = &[
        (
            &["speed = 1"],
            "speed",
            "has no option `speed`",
            "options: particles, dim",
        ),
        (
            &["unit = -"],
            "net(",
            "needs the option `unit`",
            "unit = tanh(w1 * x1 + w2)",
        ),
        (
            &["unit = tanh(w1 * x1 + w3)"],
            "w3",
            "`w3` is out of range",
            "use w1 … w2",
        ),
        (
            &["unit = tanh(w0 * x1 + w2)"],
            "w0",
            "`w0` is out of range",
            "or raise `dim`",
        ),
        (
            &["unit = tanh(w1 * x2 + w2)"],
            "x2",
            "`x2` is out of range",
            "use x1",
        ),
        (
            &["target = w1 + x1"],
            "w1 + x1",
            "cannot read the particle coordinate `w1`",
            "function of the input only",
        ),
        (
            &["penalty = w1^2 * x1"],
            "w1^2 * @x1",
            "cannot read the input coordinate `x1`",
            "function of the particle only",
        ),
        (
            &["unit = x1^2"],
            "x1^2",
            "does not depend on the particle",
            "at least one of w1 … w2",
        ),
        (
            &["unit = tanh(w1 * x1 + n)"],
            "n)",
            "has no width",
            "particle count",
        ),
        (
            &["unit = tanh(w1 * x1 + N)"],
            "N)",
            "cannot read the particle count `N`",
            "`alpha` and `beta`",
        ),
        (
            &["unit = tanh(a * w1 * x1 + w2)"],
            "a * w1",
            "the symbolic parameter `a` in `unit`",
            "`alpha` and `beta`",
        ),
        (
            &["gamma = b"],
            "b,",
            "the symbolic parameter `b` in `gamma`",
            "may be symbolic",
        ),
        (
            &["gamma = sqrt(2)"],
            "sqrt(2)",
            "must be an exact number",
            "0.01` is exactly 1/100",
        ),
        (&["gamma = 0"], "gamma = @0", "must be > 0", "gamma = 1/10"),
        (
            &["horizon = -"],
            "net(",
            "needs the option `horizon`",
            "horizon = 2",
        ),
        (
            &["alpha = 1"],
            "alpha = @1",
            "`alpha` is 1, outside 0 ≤ α < 1",
            "0 ≤ β ≤ 1",
        ),
        (
            &["beta = 3/2"],
            "3/2",
            "`beta` is 3/2, outside 0 ≤ β ≤ 1",
            "De Bortoli",
        ),
        (
            &["beta = -"],
            "net(",
            "needs the option `beta`",
            "beta = 1/2",
        ),
        (
            &["dim = 1", "unit = tanh(w1 * x1)", "init = sphere"],
            "sphere",
            "needs dim ≥ 2",
            "init = gaussian",
        ),
        (
            &["init_mean = [0, 0, 0]"],
            "[0, 0, 0]",
            "`init_mean` has 3 entries, but dim = 2",
            "one number per coordinate",
        ),
        (
            &["init_std = 0"],
            "init_std = @0",
            "must be > 0",
            "init_std = 1",
        ),
        (
            &["init = point"],
            "point",
            "needs the option `init_at`",
            "init_at = [1, 1]",
        ),
        (
            &["init = cube"],
            "cube",
            "`init` is one of",
            "init = sphere",
        ),
        (
            &["init_radius = 2"],
            "init_radius",
            "an option of `init = sphere`",
            "write `init = sphere`",
        ),
        (
            &["huber_delta = 2"],
            "huber_delta",
            "an option of `loss = huber`",
            "loss = huber",
        ),
        (
            &["data = [[1, 2], [1, 2, 3]]", "target = -"],
            "[1, 2, 3]",
            "row 2 of `data` has 3 entries, but x_dim = 1 needs 2",
            "the input then the label: `[x1, y]`",
        ),
        (
            &["data = [[1, 2]]"],
            "target",
            "an option of `data = teacher`, but this network has a finite data set",
            "remove `target`",
        ),
        (
            &["data = mnist"],
            "mnist",
            "`data` is `teacher` or a list",
            "data = teacher",
        ),
        (
            &["target = -"],
            "teacher",
            "needs the option `target`",
            "target = tanh(2 * x1)",
        ),
        (
            &["data = -", "target = -"],
            "net(",
            "needs the option `data`",
            "data = [[x1, y], …]",
        ),
        (
            &["label_noise = -1"],
            "-1",
            "a standard deviation is ≥ 0",
            "label_noise",
        ),
        (
            &["batch = 0"],
            "batch = @0",
            "`batch` must be an integer ≥ 1",
            "1",
        ),
        (&["dim = 9"], "9", "at most 8", "dim = 2"),
        (
            &["particles = M"],
            "M",
            "must name the declared particles `N`",
            "particles = N",
        ),
        (
            &["unit = relu'(w1 * x1) + w2"],
            "relu'",
            "has no derivative in w1",
            "differentiable once",
        ),
        (
            &["unit = [w1, w2]"],
            "[w1, w2]",
            "one formula, not a list",
            "unit = tanh",
        ),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(options, at, message, hint)| {
            check_refused(&program(options), at, message, hint).err()
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_repeated_option_is_refused_at_the_second() {
    let text = program(&[]).replace("  horizon = 2", "  horizon = 2,\n  dim = 3");
    refused(&text, "dim = 3", "option `dim` is given twice", "once");
}

#[test]
fn a_second_meanfield_statement_is_refused() {
    let text = format!("{}meanfield other(particles = N)\n", program(&[]));
    refused(
        &text,
        "meanfield other",
        "a second `meanfield` network",
        "a file of its own",
    );
}

#[test]
fn meanfield_inside_a_loop_is_refused() {
    let text = "particles N\nfor k = 1 to 2 {\n  meanfield net(particles = N, unit = w1)\n}\n";
    refused(text, "meanfield", "cannot be inside a loop", "top level");
}

#[test]
fn other_families_in_a_meanfield_file_are_refused() {
    for (extra, at) in [
        ("width n\n", "width n"),
        ("input xi = [1, 2]\n", "input xi"),
        ("mlp m(depth = 2)\n", "mlp m"),
        ("depth L\n", "depth L"),
        ("vector z ~ gaussian(1)\n", "vector z"),
    ] {
        let text = format!("{extra}{}", program(&[]));
        refused(&text, at, "in a `meanfield` program", "one `meanfield`");
    }
}

#[test]
fn declarations_may_not_take_the_names_of_formula_variables() {
    let text = program(&[]).replace("param lambda = 1/10", "param lambda = 1/10, w2 = 3");
    refused(
        &text,
        "w2 = 3",
        "names a variable of the mean-field formulas",
        "another name",
    );
    let text = program(&[]).replace("param lambda = 1/10", "activation x1(z) = z");
    refused(
        &text,
        "x1(z)",
        "names a variable of the mean-field formulas",
        "another name",
    );
}

#[test]
fn the_particle_count_must_be_declared_and_used_where_it_belongs() {
    let text = program(&[]).replace("particles N\n", "");
    refused(&text, "N,", "declares no particle count", "particles N");
    refused(
        "particles N\nvector z ~ gaussian(1)\n",
        "particles N",
        "there is no `meanfield`",
        "meanfield net(particles = N",
    );
    refused(
        &format!("{}param g = 2 * N\n", program(&[])),
        "2 * @N",
        "the particle count, a size that grows",
        "`beta` and `alpha`",
    );
}
