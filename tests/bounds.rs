//! Hard bounds on what a program may ask for (`tp::bounds`) and the messages for inputs
//! that used to crash, hang or mislead: each test is one case found by fuzzing, and each
//! failed (panic, abort, minutes of work, or a wrong message) before the bound existed.

mod common;

use common::{stderr, temp_path, tp};
use std::time::{Duration, Instant};
use tp::bounds;

/// The diagnostic `tp::compile` gives for `text` (with `--set` values), or a panic
/// naming the program when it is accepted.
fn refused(text: &str, sets: &[&str]) -> String {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let overrides = match tp::parse_overrides(&sets) {
        Ok(o) => o,
        Err(e) => return e.to_string(),
    };
    match tp::compile("bad.tp", text, &overrides) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// Runs `work` and checks it took less than `limit`.
fn within<T>(limit: Duration, work: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = work();
    let took = start.elapsed();
    assert!(took < limit, "took {took:?}, more than {limit:?}");
    out
}

/// The first line of a diagnostic: `file:line:col: error: message`.
fn head(message: &str) -> &str {
    message.lines().next().unwrap_or("")
}

const LOOP: &str = "width n
param L = 3
matrix W ~ gaussian(1/n)
vector z ~ gaussian(1)
for l = 0 to L { vector h{l} = W z }
";

#[test]
fn a_loop_is_counted_before_anything_is_built() {
    // 2^62 iterations panicked ("capacity overflow"), 2^40 aborted on a failed
    // allocation, 10^9 took 20 s and 7.8 GB before its error.
    for l in ["2^62", "2^40", "1000000000", "10001"] {
        let err = within(Duration::from_secs(2), || {
            refused(LOOP, &[&format!("L={l}")])
        });
        assert!(
            head(&err).starts_with("bad.tp:5:9: error: this loop would run"),
            "{err}"
        );
        assert!(err.contains("at most 10000 iterations"), "{err}");
    }
    let text = "width n\nvector z ~ gaussian(1)\nfor l = 0 to 9223372036854775807 { scalar q{l} = mean(z) }\n";
    let err = within(Duration::from_secs(2), || refused(text, &[]));
    assert!(
        err.contains("this loop would run 9223372036854775808 times"),
        "{err}"
    );
    // Exactly at the bound the loop runs, and descending loops count the same way.
    let ok = tp::compile(
        "ok.tp",
        LOOP,
        &tp::parse_overrides(&["L=9999".into()]).unwrap(),
    );
    assert_eq!(ok.unwrap().instrs.len(), 1 + 10_000);
    let down = "width n\nvector z ~ gaussian(1)\nfor l = 9999 downto 0 { scalar q{l} = mean(z) }\n";
    assert_eq!(
        tp::compile("ok.tp", down, &[]).unwrap().instrs.len(),
        1 + 10_000
    );
}

#[test]
fn the_whole_program_has_an_instruction_budget() {
    // Two nested loops within the per-loop bound used to build 10^8 instructions (7 GB).
    let text = "width n\nvector z ~ gaussian(1)\nfor i = 1 to 10000 { for j = 1 to 10000 { scalar q{i}_{j} = mean(z) } }\n";
    let err = within(Duration::from_secs(10), || refused(text, &[]));
    assert!(
        head(&err).contains("more than 100000 instructions"),
        "{err}"
    );
    // The location is the innermost statement being elaborated.
    assert!(head(&err).starts_with("bad.tp:3:43:"), "{err}");
}

#[test]
fn deep_long_trainings_are_refused_by_the_budget() {
    // depth 200 with 100 steps would be about 200 · 100² instructions.
    let text = std::fs::read_to_string("programs/mlp_mup.tp")
        .unwrap()
        .replace("steps = 3", "steps = 100");
    let err = within(Duration::from_secs(30), || refused(&text, &["L=200"]));
    assert!(err.contains("more than 100000 instructions"), "{err}");
    assert!(err.contains("L·T²"), "{err}");
}

#[test]
fn derivative_orders_and_sizes_are_bounded() {
    let with = |primes: usize, formula: &str| {
        format!(
            "width n\nactivation phi(x) = {formula}\nvector z ~ gaussian(1)\nvector y = phi{}(z)\nscalar q = mean(y*z)\n",
            "'".repeat(primes)
        )
    };
    let product = "x*tanh(x)*sin(x)*exp(-x)";
    // 12 primes of a product formula took minutes and 6 GB.
    let err = within(Duration::from_secs(2), || refused(&with(12, product), &[]));
    assert!(
        head(&err).contains("a derivative of order 12; at most 8"),
        "{err}"
    );
    assert!(head(&err).starts_with("bad.tp:4:12:"), "{err}");
    // Within the order bound, a derivative whose expression is too large is refused.
    let err = within(Duration::from_secs(5), || refused(&with(8, product), &[]));
    assert!(err.contains("derivative of order 8 would have"), "{err}");
    assert!(err.contains("more than the 20000 allowed"), "{err}");
    // A moderate derivative of the same formula is fine, and so is the 8th of tanh.
    assert!(tp::compile("ok.tp", &with(6, product), &[]).is_ok());
    let program = tp::compile("ok.tp", &with(8, "tanh(x)"), &[]).unwrap();
    let report = within(Duration::from_secs(20), || tp::scale::analyze(&program));
    assert!(report.is_ok());
}

#[test]
fn derivatives_beyond_the_node_bound_are_refused_by_size() {
    // silu's symbolic derivatives grow about 5x per order: order 6 fits, 7 does not.
    let mut silu = tp::ir::Activation::new(
        "silu",
        tp::ir::Expr::div(
            tp::ir::Expr::Arg,
            tp::ir::Expr::add(
                tp::ir::Expr::Const(1.0),
                tp::ir::Expr::call(tp::ir::Func::Exp, tp::ir::Expr::neg(tp::ir::Expr::Arg)),
            ),
        ),
    );
    assert!(silu.ensure_order(6).is_ok());
    assert!(silu.derivatives[6].node_count() <= bounds::MAX_DERIVATIVE_NODES);
    let err = within(Duration::from_secs(5), || silu.ensure_order(7)).unwrap_err();
    assert!(
        matches!(err, tp::ir::DerivativeError::TooLarge { order: 7, nodes, .. } if nodes > bounds::MAX_DERIVATIVE_NODES),
        "{err:?}"
    );
    // Asking again is answered from the recorded refusal (no recomputation) and agrees.
    let again = within(Duration::from_millis(50), || silu.ensure_order(9)).unwrap_err();
    assert_eq!(again, err);
    // The derivatives kept are exact: silu'(x) = σ(x)(1 + x(1 − σ(x))).
    let s = |x: f64| 1.0 / (1.0 + (-x).exp());
    for x in [-2.0, 0.3, 1.7] {
        let want = s(x) * (1.0 + x * (1.0 - s(x)));
        assert!((silu.eval(1, x, &[]) - want).abs() < 1e-12);
    }
}

#[test]
fn names_are_bounded_and_long_generated_names_do_not_break_reports() {
    // A 65536-character name panicked every text report ("Formatting argument out of range").
    let long = "a".repeat(70_000);
    let text = format!("width n\nvector {long} ~ gaussian(1)\nscalar q = mean({long}*{long})\n");
    let err = refused(&text, &[]);
    assert_eq!(
        head(&err),
        "bad.tp:2:8: syntax error: a name of 70000 characters; names have at most 128"
    );
    // Interpolation can lengthen a name past the bound.
    let stem = "b".repeat(120);
    let text = format!("width n\nvector z ~ gaussian(1)\nfor l = 123456789 to 123456789 {{ scalar {stem}{{l}} = mean(z) }}\n");
    let err = refused(&text, &[]);
    assert!(
        head(&err).contains("129 characters long once interpolated"),
        "{err}"
    );
    // Names at the bound, and a long chain of products whose generated names would
    // nest, render in every text report.
    let w = "W".repeat(bounds::MAX_NAME_CHARS);
    let z = "z".repeat(bounds::MAX_NAME_CHARS);
    let chain = format!("{w} ").repeat(200);
    let text = format!(
        "width n\nmatrix {w} ~ gaussian(1/n)\nvector {z} ~ gaussian(1)\nvector h = {chain}{z}\nscalar q = mean(h*{z})\n"
    );
    let path = temp_path("bounds", "long_names.tp");
    std::fs::write(&path, &text).unwrap();
    let file = path.to_str().unwrap();
    for args in [
        vec!["show", file],
        vec!["scale", file],
        vec!["limit", file, "--samples", "200", "--replicates", "2"],
        vec![
            "simulate", file, "--widths", "8,16", "--seeds", "2", "--quiet",
        ],
        vec!["check", file, "--widths", "8,16", "--seeds", "2", "--quiet"],
    ] {
        let out = tp(&args);
        let code = out.status.code();
        assert!(
            matches!(code, Some(0) | Some(1)),
            "{args:?}: {code:?}\n{}",
            stderr(&out)
        );
    }
}

#[test]
fn non_finite_constants_are_refused_where_they_arise() {
    // log(-1) and exp(1000) became NaN and inf constants in coefficients and tables.
    let cases = [
        (
            "param a = log(-1)\n",
            "bad.tp:2:11:",
            "is not a number (NaN)",
        ),
        ("param a = exp(1000)\n", "bad.tp:2:11:", "overflows"),
        ("param a = 2 * exp(1000)\n", "bad.tp:2:15:", "overflows"),
        ("param a = 1e300 * 1e300\n", "bad.tp:4:12:", "overflows"),
    ];
    for (param, at, what) in cases {
        let text = format!("width n\n{param}vector z ~ gaussian(1)\nscalar q = a * mean(z*z)\n");
        let err = refused(&text, &[]);
        assert!(head(&err).starts_with(at), "{err}");
        assert!(head(&err).contains(what), "{err}");
    }
    // In a vector expression, the folded constant is refused at its expression.
    let err = refused(
        "width n\nvector z ~ gaussian(1)\nvector h = exp(1000) * z\n",
        &[],
    );
    assert!(
        head(&err).starts_with("bad.tp:3:12: error: this constant overflows"),
        "{err}"
    );
    // An exact 1e400 is a fine exponent but not a variance: the message says why.
    let err = refused(
        &std::fs::read_to_string("programs/tp_ntk.tp").unwrap(),
        &["s2=1e400"],
    );
    assert!(head(&err).contains("this constant overflows"), "{err}");
    assert!(!err.contains("non-negative"), "{err}");
    // Nested exact powers are refused before they are computed.
    let err = within(Duration::from_secs(2), || {
        refused(
            "width n\nparam a = ((10^64)^64)^64\nvector z ~ gaussian(1)\n",
            &[],
        )
    });
    assert!(err.contains("more than 4096 bits"), "{err}");
}

#[test]
fn a_program_with_nothing_to_analyse_is_refused() {
    // An empty file passed `tp check` ("0 verdicts → PASS", exit 0).
    for text in ["", "# only a comment\n", "width n\nparam L = 3\n"] {
        let err = refused(text, &[]);
        assert!(err.contains("nothing to analyse"), "{err}");
    }
    let path = temp_path("bounds", "empty.tp");
    std::fs::write(&path, "").unwrap();
    let out = tp(&[
        "check",
        path.to_str().unwrap(),
        "--widths",
        "8,16",
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(":1:1: error: the program defines no vector or scalar"));
}

#[test]
fn encoding_problems_are_located() {
    // Non-UTF-8 text had no location and the hint "check the path".
    let path = temp_path("bounds", "latin1.tp");
    std::fs::write(
        &path,
        b"width n\nvector z ~ gaussian(1)\nscalar q = mean(z\xe9)\n",
    )
    .unwrap();
    let out = tp(&["show", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(head(&err).ends_with("latin1.tp:3:18: syntax error: the file is not valid UTF-8 text: byte 0xE9 cannot start a character here"), "{err}");
    assert!(err.contains("save the file as UTF-8"), "{err}");
    let utf16: Vec<u8> = "width n\n"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .chain([0xff, 0xfe])
        .collect();
    let path16 = temp_path("bounds", "utf16.tp");
    std::fs::write(&path16, utf16).unwrap();
    let err = stderr(&tp(&["show", path16.to_str().unwrap()]));
    assert!(err.contains("looks like UTF-16"), "{err}");
    // A byte-order mark at the start is skipped: same program as without it.
    let body = "width n\nvector z ~ gaussian(1)\nscalar q = mean(z*z)\n";
    let with_bom = tp::compile("b.tp", &format!("\u{feff}{body}"), &[]).unwrap();
    assert_eq!(with_bom, tp::compile("b.tp", body, &[]).unwrap());
    // Elsewhere, invisible characters are named instead of "unexpected ` `".
    for (text, want) in [
        (
            "width n\nvector z ~ gaussian(1)\0\n",
            "bad.tp:2:23: syntax error: invisible character U+0000 (NUL)",
        ),
        (
            "width n\n\u{feff}vector z ~ gaussian(1)\n",
            "bad.tp:2:1: syntax error: invisible character U+FEFF (byte-order mark)",
        ),
        (
            "width n\nvector z ~\u{a0}gaussian(1)\n",
            "bad.tp:2:11: syntax error: invisible character U+00A0 (no-break space)",
        ),
    ] {
        let err = refused(text, &[]);
        assert!(head(&err).starts_with(want), "{err}");
    }
}

#[test]
fn division_by_an_exact_zero_is_a_located_error() {
    // `z/(z-z)` was reported by `tp limit` as "symbolic exponent undefined".
    let err = refused(
        "width n\nvector z ~ gaussian(1)\nvector y = z/(z-z)\nscalar q = mean(y)\n",
        &[],
    );
    assert_eq!(
        head(&err),
        "bad.tp:3:14: error: division by a divisor that is exactly 0"
    );
    // A divisor that is an exactly-zero *value* gets through elaboration; the limit
    // then says the size is undefined, not that a symbol is missing.
    let program = tp::compile(
        "p.tp",
        "width n\nvector z ~ gaussian(1)\nvector w = z - z\nvector y = z / w\nscalar q = mean(y)\n",
        &[],
    )
    .unwrap();
    let err = match tp::limit::limit(&program, &tp::limit::EvalOptions::default()) {
        Ok(_) => panic!("a limit was derived for a division by an exact zero"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("`y` has no defined size"), "{err}");
    assert!(!err.contains("symbolic"), "{err}");
}

#[test]
fn a_parameter_set_twice_is_named() {
    // `--set L=3 --set L=4` said "the program has no parameter `L`".
    let err = refused(LOOP, &["L=3", "L=4"]);
    assert!(err.contains("`L` is already set by `--set L=3`"), "{err}");
}

#[test]
fn a_long_flat_sum_is_refused_for_its_length() {
    // A flat sum of 1001 terms was "nested more than 512 levels deep".
    let sum = vec!["z"; 1001].join(" + ");
    let err = refused(
        &format!("width n\nvector z ~ gaussian(1)\nscalar q = mean({sum})\n"),
        &[],
    );
    assert!(head(&err).contains("a sum of 1001 operands"), "{err}");
    assert!(!err.contains("nested"), "{err}");
    let ok = vec!["z"; bounds::MAX_CHAIN_OPERANDS].join(" + ");
    assert!(tp::compile(
        "ok.tp",
        &format!("width n\nvector z ~ gaussian(1)\nscalar q = mean({ok})\n"),
        &[]
    )
    .is_ok());
}

#[test]
fn sweep_options_are_checked_before_any_work() {
    // `--widths 64,64` ran a sweep whose slopes could not be fitted.
    let out = tp(&[
        "simulate",
        "programs/tp_wwt.tp",
        "--widths",
        "64,64",
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("width 64 is listed twice"),
        "{}",
        stderr(&out)
    );
    // `--seed` wrapped past 2^64 - 1 and reused seed 0.
    let seeds_from = |first: &str, count: &str| {
        tp(&[
            "simulate",
            "programs/tp_wwt.tp",
            "--widths",
            "8,16",
            "--seed",
            first,
            "--seeds",
            count,
            "--quiet",
        ])
    };
    let out = seeds_from("18446744073709551615", "3");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("use `--seed 18446744073709551613` or less"),
        "{}",
        stderr(&out)
    );
    // The last seed may be 2^64 - 1 itself.
    let out = seeds_from("18446744073709551614", "2");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // `tp check` refused `--widths 0` and an unwritable `--plot` only after evaluating the
    // limit (about 20 s for mlp_mup): now before it.
    let bad_plot = temp_path("bounds", "no-such-dir").join("x.svg");
    for extra in [
        vec!["--widths", "0,64"],
        vec!["--widths", "64,64"],
        vec!["--widths", "64"],
        vec!["--plot", bad_plot.to_str().unwrap()],
    ] {
        let mut args = vec!["check", "programs/mlp_mup.tp", "--quiet"];
        args.extend(extra.iter().copied());
        let out = within(Duration::from_secs(3), || tp(&args));
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
    }
    // The probe of the plot path leaves nothing behind.
    let plot = temp_path("bounds", "probe.svg");
    let _ = std::fs::remove_file(&plot);
    tp::report::style::check_writable(&plot).unwrap();
    assert!(!plot.exists());
}

#[test]
fn scale_at_the_maximum_depth_is_usable() {
    // `tp scale programs/mlp_ip_noncentered.tp --set L=200` took over 60 s.
    let deep = common::shipped(
        "mlp_ip_noncentered.tp",
        &[format!("L={}", bounds::MAX_DEPTH)],
    );
    let deep = within(Duration::from_secs(40), || tp::scale::analyze(&deep)).unwrap();
    // The forward pass at step 0 of the first layers does not depend on the layers
    // after them, so its exponents are those of the 3-layer network.
    let shallow = tp::scale::analyze(&common::shipped("mlp_ip_noncentered.tp", &["L=3"])).unwrap();
    let step0 = ["h1_0", "x1_0", "h2_0", "x2_0", "h3_0", "x3_0"];
    for name in step0 {
        let of = |r: &tp::scale::ScaleReport| {
            r.quantities
                .iter()
                .find(|q| q.name == name)
                .map(|q| q.exponent.clone())
                .unwrap_or_else(|| panic!("no {name}"))
        };
        assert_eq!(of(&deep), of(&shallow), "{name}");
    }
    assert!(deep.quantities.iter().any(|q| q.name == "h200_3"));
}

#[test]
fn the_help_states_the_bounds() {
    let out = tp(&["--help"]);
    let help = common::stdout(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for want in [
        format!("at most {} hidden layers", bounds::MAX_DEPTH),
        format!("{} SGD steps", bounds::MAX_STEPS),
        format!("{} iterations per `for` loop", bounds::MAX_LOOP_ITERATIONS),
        format!("{} elaborated instructions", bounds::MAX_INSTRUCTIONS),
        format!("derivatives of order {}", bounds::MAX_DERIVATIVE_ORDER),
    ] {
        assert!(help.contains(&want), "`tp --help` lacks {want:?}:\n{help}");
    }
}
