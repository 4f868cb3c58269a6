//! Tests of the `.tp` parser: AST structure of representative statements, snapshot tests
//! of syntax-error diagnostics, and property tests that parsing never panics.

use proptest::prelude::*;
use tp::syntax::ast::*;
use tp::syntax::{parse, parse_expr};

/// The muP example (`programs/mlp_mup.tp` as first written).
const MLP_MUP: &str = r#"# programs/mlp_mup.tp
program "3-hidden-layer MLP in muP (Yang-Hu abc form)"
width n
param L = 3, eta = 0.5
activation act = tanh
input xi0 = [1.0, 0.5, -0.5] target 1.0

mlp net(depth = L, act = act, bias = none)
parameterization abc {
  a = [-1/2, 0.., 1/2]     # first, middle (repeated), last
  b = 1/2
  c = 0
}
train sgd(steps = 3, lr = eta, loss = mse, data = [xi0])
"#;

/// A raw Tensor Program with loops and interpolated names.
const RAW: &str = "width n
param L = 3, s2 = 2
activation act = relu
input xa = [1, 0, 0]
matrix W1 : n x 3 ~ gaussian(s2/3)
vector h1_a = W1 xa
vector x1_a = act(h1_a)
for l = 2 to L {
  matrix W{l} ~ gaussian(s2/n)
  vector h{l}_a = W{l} x{l-1}_a
  vector x{l}_a = act(h{l}_a)
}
scalar K_aa = mean(x{L}_a * x{L}_a)
";

// ------------------------------------------------------------------ helpers

fn file(src: &str) -> File {
    match parse("test.tp", src) {
        Ok(f) => f,
        Err(d) => panic!("unexpected error:\n{d}"),
    }
}

fn kinds(src: &str) -> Vec<ItemKind> {
    file(src).items.into_iter().map(|i| i.kind).collect()
}

fn one(src: &str) -> ItemKind {
    let mut items = kinds(src);
    assert_eq!(items.len(), 1, "expected one statement in {src:?}");
    items.remove(0)
}

fn expr(src: &str) -> Expr {
    match parse_expr("--set", src) {
        Ok(e) => e,
        Err(d) => panic!("unexpected error:\n{d}"),
    }
}

/// The rendered diagnostic of a malformed program.
fn diag(src: &str) -> String {
    match parse("bad.tp", src) {
        Ok(f) => panic!("{src:?} parsed, but should not: {f:?}"),
        Err(d) => d.to_string(),
    }
}

/// A compact rendering of a name: `h{(l - 1)}_a`.
fn show_name(n: &Name) -> String {
    n.parts
        .iter()
        .map(|p| match p {
            NamePart::Text(t) => t.clone(),
            NamePart::Interp(e) => format!("{{{}}}", show(e)),
        })
        .collect()
}

/// A fully parenthesized rendering of an expression, to check structure at a glance.
fn show(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Number(r) => r.to_string(),
        ExprKind::Name(n) => show_name(n),
        ExprKind::Neg(a) => format!("(-{})", show(a)),
        ExprKind::Binary(op, a, b) => {
            let op = match op {
                BinOp::Add => "+",
                BinOp::Sub => "-",
                BinOp::Mul => "*",
                BinOp::Div => "/",
                BinOp::Pow => "^",
            };
            format!("({} {op} {})", show(a), show(b))
        }
        ExprKind::Call {
            callee,
            primes,
            args,
        } => format!(
            "{}{}({})",
            show_name(callee),
            "'".repeat(*primes),
            args.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        ExprKind::MatMul {
            matrix,
            transpose,
            arg,
        } => format!(
            "[{}{} {}]",
            show_name(matrix),
            if *transpose { "^T" } else { "" },
            show(arg)
        ),
        ExprKind::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| format!("{}{}", show(&i.value), if i.repeat { ".." } else { "" }))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn text(src: &str, span: Span) -> &str {
    &src[span.start..span.end]
}

// ------------------------------------------------------------------ structure

#[test]
fn mlp_example_parses() {
    let items = kinds(MLP_MUP);
    assert_eq!(items.len(), 8);
    assert_eq!(
        items[0],
        ItemKind::Program("3-hidden-layer MLP in muP (Yang-Hu abc form)".into())
    );
    assert_eq!(items[1], ItemKind::Width("n".into()));
    let ItemKind::Param {
        items: params,
        symbolic,
    } = &items[2]
    else {
        panic!("{:?}", items[2])
    };
    assert!(!symbolic);
    assert_eq!(params[1].name, "eta");
    assert_eq!(show(params[1].value.as_ref().unwrap()), "1/2");
    let ItemKind::Mlp { name, args } = &items[5] else {
        panic!("{:?}", items[5])
    };
    assert_eq!(name, "net");
    let args: Vec<_> = args
        .iter()
        .map(|a| format!("{}={}", a.name, show(&a.value)))
        .collect();
    assert_eq!(args, ["depth=L", "act=act", "bias=none"]);
    let ItemKind::Parameterization { name, entries, .. } = &items[6] else {
        panic!("{:?}", items[6])
    };
    assert_eq!(name, "abc");
    let entries: Vec<_> = entries
        .iter()
        .map(|e| format!("{}={}", e.key, show(&e.value)))
        .collect();
    assert_eq!(
        entries,
        ["a=[((-1) / 2), 0.., (1 / 2)]", "b=(1 / 2)", "c=0"]
    );
    let ItemKind::Train {
        optimizer, args, ..
    } = &items[7]
    else {
        panic!("{:?}", items[7])
    };
    assert_eq!(optimizer, "sgd");
    assert_eq!(show(&args[3].value), "[xi0]");
}

#[test]
fn raw_example_parses() {
    let items = kinds(RAW);
    assert_eq!(items.len(), 9);
    let ItemKind::Matrix { name, shape, dist } = &items[4] else {
        panic!("{:?}", items[4])
    };
    assert_eq!(name.plain(), Some("W1"));
    let shape = shape.as_ref().unwrap();
    assert_eq!(
        (show(&shape.rows), show(&shape.cols)),
        ("n".into(), "3".into())
    );
    assert_eq!(show(&dist.variance), "(s2 / 3)");
    let ItemKind::For {
        var,
        from,
        to,
        descending,
        body,
    } = &items[7]
    else {
        panic!("{:?}", items[7])
    };
    assert_eq!(
        (var.as_str(), show(from), show(to), *descending),
        ("l", "2".into(), "L".into(), false)
    );
    assert_eq!(body.len(), 3);
    let ItemKind::Define { name, value, .. } = &body[1].kind else {
        panic!("{:?}", body[1])
    };
    assert_eq!(show_name(name), "h{l}_a");
    assert_eq!(show(value), "[W{l} x{(l - 1)}_a]");
    let ItemKind::Define { scalar, value, .. } = &items[8] else {
        panic!("{:?}", items[8])
    };
    assert!(scalar);
    assert_eq!(show(value), "mean((x{L}_a * x{L}_a))");
}

#[test]
fn matrix_products_and_transposes() {
    let src = "vector g = W^T z\nvector h = W g\nvector h2 = n^(-1/2) * W (g + z) + tanh(z)";
    let items = kinds(src);
    let values: Vec<String> = items
        .iter()
        .map(|i| match i {
            ItemKind::Define { value, .. } => show(value),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        values,
        [
            "[W^T z]",
            "[W g]",
            "(((n ^ ((-1) / 2)) * [W (g + z)]) + tanh(z))"
        ]
    );
    // Chains are right associative; `^T` belongs to the matrix before it; `W(x)` is a call.
    assert_eq!(show(&expr("W1 W2^T f(y)")), "[W1 [W2^T f(y)]]");
    assert_eq!(show(&expr("W^T(x)")), "[W^T x]");
    assert_eq!(show(&expr("W(x)")), "W(x)");
    assert_eq!(show(&expr("W{l+1}^T g{l+1}")), "[W{(l + 1)}^T g{(l + 1)}]");
    // `^T` not followed by an operand is an ordinary power of a name `T`.
    assert_eq!(show(&expr("n^T + 1")), "((n ^ T) + 1)");
}

#[test]
fn juxtaposition_stops_at_keywords_and_line_ends() {
    let items = kinds("vector a = b\nvector c = d\ninput xi = v target t0");
    assert_eq!(items.len(), 3);
    let ItemKind::Input { value, target, .. } = &items[2] else {
        panic!("{:?}", items[2])
    };
    assert_eq!(
        (show(value), show(target.as_ref().unwrap())),
        ("v".into(), "t0".into())
    );
    // A value at the end of a line is never applied to the next line.
    let ItemKind::Parameterization { entries, .. } =
        one("parameterization abc {\n b = eta\n c = 0\n}")
    else {
        panic!()
    };
    assert_eq!(entries.len(), 2);
    assert_eq!(show(&entries[0].value), "eta");
}

#[test]
fn x_is_an_ordinary_name_outside_shapes() {
    let ItemKind::Activation {
        name, param, body, ..
    } = one("activation phi(x) = x + x^2/2")
    else {
        panic!()
    };
    assert_eq!((name.as_str(), param.as_deref()), ("phi", Some("x")));
    assert_eq!(show(&body), "(x + ((x ^ 2) / 2))");
    let ItemKind::Sample { names, scalar, .. } = one("vector x1_0 ~ gaussian(1)") else {
        panic!()
    };
    assert!(!scalar);
    assert_eq!(names[0].plain(), Some("x1_0"));
    let ItemKind::Matrix { shape, .. } = one("matrix W : L+1 x x ~ gaussian(1)") else {
        panic!()
    };
    let shape = shape.unwrap();
    assert_eq!(
        (show(&shape.rows), show(&shape.cols)),
        ("(L + 1)".into(), "x".into())
    );
    assert_eq!(show(&expr("W x")), "[W x]");
}

#[test]
fn precedence_and_associativity() {
    assert_eq!(show(&expr("a + b * c ^ 2")), "(a + (b * (c ^ 2)))");
    assert_eq!(show(&expr("-x^2")), "(-(x ^ 2))");
    assert_eq!(show(&expr("a - b - c")), "((a - b) - c)");
    assert_eq!(show(&expr("a / b * c")), "((a / b) * c)");
    assert_eq!(show(&expr("a^b^c")), "(a ^ (b ^ c))");
    assert_eq!(show(&expr("x^-1")), "(x ^ (-1))");
    assert_eq!(show(&expr("2^-x^2")), "(2 ^ (-(x ^ 2)))");
    assert_eq!(show(&expr("relu^2")), "(relu ^ 2)");
    assert_eq!(show(&expr("-(a + b) * c")), "((-(a + b)) * c)");
}

#[test]
fn numbers_are_exact() {
    assert_eq!(show(&expr("0.5")), "1/2");
    assert_eq!(show(&expr(".25")), "1/4");
    assert_eq!(show(&expr("1e-3")), "1/1000");
    assert_eq!(show(&expr("1.5E2")), "150");
}

#[test]
fn names_calls_and_lists() {
    assert_eq!(show(&expr("act'(q) * 2")), "(act'(q) * 2)");
    assert_eq!(show(&expr("act''(q)")), "act''(q)");
    assert_eq!(show(&expr("x{l-1}_a")), "x{(l - 1)}_a");
    assert_eq!(show(&expr("{ l }b")), "{l}b");
    let list = expr("[-1/2, 0.., 1/2]");
    let ExprKind::List(items) = &list.kind else {
        panic!("{list:?}")
    };
    let repeats: Vec<bool> = items.iter().map(|i| i.repeat).collect();
    assert_eq!(repeats, [false, true, false]);
    assert_eq!(show(&expr("[[1, 0.5], [0.5, 1]]")), "[[1, 1/2], [1/2, 1]]");
}

#[test]
fn statements() {
    let ItemKind::Param { items, symbolic } = one("param a1, b1, c symbolic") else {
        panic!()
    };
    assert!(symbolic && items.iter().all(|i| i.value.is_none()));
    let ItemKind::Param { items, symbolic } = one("param p = 1, a symbolic") else {
        panic!()
    };
    assert!(symbolic);
    assert!(items[0].value.is_some() && items[1].value.is_none());

    let ItemKind::Activation { param, body, .. } = one("activation act = relu^2") else {
        panic!()
    };
    assert_eq!((param, show(&body)), (None, "(relu ^ 2)".into()));

    let ItemKind::Input { target, .. } = one("input xa = [1, 0, 0]") else {
        panic!()
    };
    assert!(target.is_none());

    let ItemKind::Matrix { shape, dist, .. } = one("matrix W ~ gaussian(1/n, mean = u/n)") else {
        panic!()
    };
    assert!(shape.is_none());
    assert_eq!(dist.name, "gaussian");
    assert_eq!(show(dist.mean.as_ref().unwrap()), "(u / n)");

    let ItemKind::Sample { names, dist, .. } =
        one("vector z1, z2 ~ gaussian([[1, 0.5], [0.5, 1]])")
    else {
        panic!()
    };
    assert_eq!(names.len(), 2);
    assert!(matches!(dist.variance.kind, ExprKind::List(_)));
    let ItemKind::Sample { scalar, .. } = one("scalar v ~ gaussian(1)") else {
        panic!()
    };
    assert!(scalar);

    let ItemKind::For {
        descending, body, ..
    } = one("for l = L downto 1 { for k = 1 to l { vector h{l}_{k} = W x } }")
    else {
        panic!()
    };
    assert!(descending);
    assert!(matches!(&body[0].kind, ItemKind::For { body, .. } if body.len() == 1));

    let ItemKind::Parameterization { args, entries, .. } = one("parameterization mup") else {
        panic!()
    };
    assert!(args.is_empty() && entries.is_empty());
    let ItemKind::Parameterization { args, entries, .. } = one("parameterization sp(c = 1)") else {
        panic!()
    };
    assert_eq!((args.len(), entries.len()), (1, 0));
    let ItemKind::Parameterization { args, entries, .. } =
        one("parameterization ip_llr(p = 1) { c(t>=1) = -1 }")
    else {
        panic!()
    };
    assert_eq!(args[0].name, "p");
    assert_eq!(entries[0].time, TimeSel::From(1));
    assert_eq!(show(&entries[0].value), "(-1)");

    // Separators: `;` between statements, `,` / `;` between block entries.
    let items = kinds("width n; param L = 2;; vector z ~ gaussian(1)");
    assert_eq!(items.len(), 3);
}

#[test]
fn time_selectors() {
    let src = "parameterization abc {\n  c = 0\n  c(t=0) = [1, 2..]\n  c(t >= 1) = -1, bias_a = 1/2; std = 1\n}";
    let ItemKind::Parameterization { entries, .. } = one(src) else {
        panic!()
    };
    let got: Vec<(String, TimeSel)> = entries.iter().map(|e| (e.key.clone(), e.time)).collect();
    assert_eq!(
        got,
        [
            ("c".to_string(), TimeSel::All),
            ("c".to_string(), TimeSel::At(0)),
            ("c".to_string(), TimeSel::From(1)),
            ("bias_a".to_string(), TimeSel::All),
            ("std".to_string(), TimeSel::All),
        ]
    );
}

#[test]
fn spans_point_at_the_text() {
    let src = "width n\n  vector h2 = W (g + z)   # comment\nscalar q = mean(h * z)";
    let f = file(src);
    assert_eq!(text(src, f.items[0].span), "width n");
    assert_eq!(text(src, f.items[1].span), "vector h2 = W (g + z)");
    let ItemKind::Define { name, value, .. } = &f.items[1].kind else {
        panic!()
    };
    assert_eq!(text(src, name.span), "h2");
    assert_eq!(text(src, value.span), "W (g + z)");
    let ExprKind::MatMul { matrix, arg, .. } = &value.kind else {
        panic!()
    };
    assert_eq!(text(src, matrix.span), "W");
    assert_eq!(text(src, arg.span), "(g + z)");
    let ItemKind::Define { value, .. } = &f.items[2].kind else {
        panic!()
    };
    let ExprKind::Call { args, .. } = &value.kind else {
        panic!()
    };
    assert_eq!(text(src, args[0].span), "h * z");
    let ItemKind::Parameterization {
        name_span, entries, ..
    } = one("parameterization abc { bias_b = 1 }")
    else {
        panic!()
    };
    assert_eq!(name_span, Span { start: 17, end: 20 });
    assert_eq!(entries[0].key_span, Span { start: 23, end: 29 });
}

#[test]
fn semantic_checks_in_the_parser() {
    let err = parse("t.tp", "param a, b").unwrap_err();
    assert_eq!(err.message, "parameter `a` has no value");
    let err = parse("t.tp", "vector a, b = 1").unwrap_err();
    assert_eq!(err.message, "only one vector can be defined with `=`");
    let err = parse_expr("t", "1e999").unwrap_err();
    assert!(err.message.contains("cannot be stored exactly"), "{err}");
}

#[test]
fn deep_nesting_is_refused_without_overflow() {
    for open in ["(", "[", "{"] {
        let err = parse("deep.tp", &open.repeat(100_000)).unwrap_err();
        assert_eq!(err.col, 257, "{err}");
        assert!(parse_expr("deep", &open.repeat(100_000)).is_err());
    }
    let err = parse("deep.tp", &format!("scalar q = {}a", "(".repeat(100_000))).unwrap_err();
    assert!(err.message.contains("nested more than 256"), "{err}");
    // Long flat chains parse without recursion but would build a too deep tree. A chain
    // of `+`/`-` or `*`/`/` is refused for its length, with the number of operands.
    for (op, word) in [("+", "sum"), ("*", "product")] {
        let err =
            parse_expr("chain", &format!("a{}", format!("{op}a").repeat(20_000))).unwrap_err();
        assert!(
            err.message.contains(&format!("a {word} of 20001 operands")),
            "{err}"
        );
    }
    for chain in [
        format!("{}a", "-".repeat(100_000)),
        format!("a{}", "^a".repeat(20_000)),
        format!("{}a", "W ".repeat(20_000)),
    ] {
        let err = parse_expr("chain", &chain).unwrap_err();
        assert!(err.message.contains("nested more than"), "{err}");
    }
}

#[test]
fn nesting_within_the_limit_parses_on_a_small_stack() {
    // Run on a thread with a small stack: the parser must not depend on its caller's.
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let d = 250;
            let src = format!("scalar q = {}a{}", "W (".repeat(d), ")".repeat(d));
            assert!(parse("deep.tp", &src).is_ok());
            let src = format!("{}{}", "for l = 1 to 2 {\n".repeat(d), "}".repeat(d));
            assert!(parse("deep.tp", &src).is_ok());
            let src = format!("scalar q = {}a{}", "x{".repeat(d), "}".repeat(d));
            assert!(parse("deep.tp", &src).is_ok());
        })
        .unwrap()
        .join()
        .unwrap();
}

// ------------------------------------------------------------------ diagnostics

macro_rules! snapshot_error {
    ($name:ident, $src:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(stringify!($name), diag($src));
        }
    };
}

snapshot_error!(err_param_missing_eq, "width n\nparam L 3\n");
snapshot_error!(err_param_trailing_comma, "param L = 3,");
snapshot_error!(
    err_param_trailing_comma_before_statement,
    "param L = 3,\nvector z ~ gaussian(1)\n"
);
snapshot_error!(err_unclosed_list, "input xi = [1, 2\n");
snapshot_error!(
    err_unclosed_list_at_next_statement,
    "input xi = [1, 2\nwidth n\n"
);
snapshot_error!(
    err_unclosed_paramz_block,
    "parameterization abc {\n  a = [-1/2, 0.., 1/2]\n  b = 1/2\n"
);
snapshot_error!(
    err_mismatched_bracket_in_block,
    "parameterization abc { a = [1, 2 }"
);
snapshot_error!(err_vector_without_name, "vector = 3");
snapshot_error!(err_bad_number, "param eta = 1.2.3");
snapshot_error!(err_matrix_missing_dist, "width n\nmatrix W ~\n");
snapshot_error!(err_for_missing_to, "for l = 1 { }");
snapshot_error!(err_stray_paren, "vector h = W g)");
snapshot_error!(
    err_unknown_statement,
    "input xa = [1, 0, 0]\nvectr z ~ gaussian(1)\n"
);
snapshot_error!(err_empty_activation_body, "activation phi(x) =");
snapshot_error!(err_missing_operand, "scalar q = mean(h *)");
snapshot_error!(err_unterminated_string, "program \"abc\nwidth n\n");
snapshot_error!(err_keyword_as_name, "vector target = W x");
snapshot_error!(err_missing_comma_in_options, "mlp net(depth = L act = act)");
snapshot_error!(
    err_entries_on_one_line,
    "parameterization abc { a = x b = 1 }"
);
snapshot_error!(err_implicit_multiplication, "vector h = 2n");
snapshot_error!(err_bad_time_selector, "parameterization p { c(t>1) = 1 }");
snapshot_error!(err_train_without_options, "train sgd\n");
snapshot_error!(err_shape_without_x, "matrix W1 : n 3 ~ gaussian(1/3)");
snapshot_error!(err_sample_without_tilde, "vector z gaussian(1)");
snapshot_error!(err_dist_unknown_option, "matrix W ~ gaussian(1/n, var = 2)");
snapshot_error!(err_call_followed_by_name, "vector h = f(x) y");
snapshot_error!(err_not_a_matrix, "vector g = W (x) y");
snapshot_error!(
    err_interpolation_unclosed,
    "for l = 2 to L {\n  vector h{l = W x\n}"
);
snapshot_error!(err_define_two_names, "scalar a, b = 1");
snapshot_error!(err_param_without_value, "param L, eta = 0.5");
snapshot_error!(err_inside_loop_body, RAW_WITH_ERROR);

const RAW_WITH_ERROR: &str = "width n
for l = 2 to L {
  matrix W{l} ~ gaussian(s2/n)
  vector h{l}_a = W{l} x{l-1}_a +
}
";

#[test]
fn err_expression_override() {
    let rendered = match parse_expr("--set", "relu^") {
        Ok(e) => panic!("{e:?}"),
        Err(d) => d.to_string(),
    };
    insta::assert_snapshot!("err_expression_override", rendered);
}

#[test]
fn err_too_deep() {
    let rendered = diag(&format!("scalar q = {}", "(".repeat(300)));
    // The line is long; keep the snapshot to the message and the hint.
    let head = rendered.lines().next().unwrap_or("").to_string();
    let hint = rendered.lines().last().unwrap_or("").to_string();
    insta::assert_snapshot!("err_too_deep", format!("{head}\n{hint}"));
}

// ------------------------------------------------------------------ never panics

/// Checks that every span in the tree lies inside the source.
fn check_spans(src: &str, f: &File) {
    fn citem(src: &str, i: &Item) {
        cspan(src, i.span);
        match &i.kind {
            ItemKind::Param { items, .. } => items.iter().for_each(|p| {
                cspan(src, p.span);
                p.value.iter().for_each(|e| cexpr(src, e));
            }),
            ItemKind::Activation {
                name_span, body, ..
            } => {
                cspan(src, *name_span);
                cexpr(src, body);
            }
            ItemKind::Input { value, target, .. } => {
                cexpr(src, value);
                target.iter().for_each(|e| cexpr(src, e));
            }
            ItemKind::Matrix { name, shape, dist } => {
                cname(src, name);
                if let Some(s) = shape {
                    cexpr(src, &s.rows);
                    cexpr(src, &s.cols);
                }
                cexpr(src, &dist.variance);
            }
            ItemKind::Sample { names, dist, .. } => {
                names.iter().for_each(|n| cname(src, n));
                cspan(src, dist.span);
            }
            ItemKind::Define { name, value, .. } => {
                cname(src, name);
                cexpr(src, value);
            }
            ItemKind::For { from, to, body, .. } => {
                cexpr(src, from);
                cexpr(src, to);
                body.iter().for_each(|i| citem(src, i));
            }
            ItemKind::Mlp { args, .. } | ItemKind::Train { args, .. } => {
                args.iter().for_each(|a| cexpr(src, &a.value))
            }
            ItemKind::Resnet {
                name_span, args, ..
            }
            | ItemKind::Shaped {
                name_span, args, ..
            }
            | ItemKind::MeanField {
                name_span, args, ..
            } => {
                cspan(src, *name_span);
                args.iter().for_each(|a| cexpr(src, &a.value))
            }
            ItemKind::TiedDepth {
                name_span, value, ..
            } => {
                cspan(src, *name_span);
                cexpr(src, value);
            }
            ItemKind::Dim {
                name_span, value, ..
            } => {
                cspan(src, *name_span);
                cexpr(src, value);
            }
            ItemKind::Parameterization { args, entries, .. } => {
                args.iter().for_each(|a| cexpr(src, &a.value));
                entries.iter().for_each(|e| cexpr(src, &e.value));
            }
            ItemKind::Particles { name_span, .. } => cspan(src, *name_span),
            ItemKind::Program(_) | ItemKind::Width(_) | ItemKind::Depth(_) => {}
        }
    }
    fn cname(src: &str, n: &Name) {
        cspan(src, n.span);
        for p in &n.parts {
            if let NamePart::Interp(e) = p {
                cexpr(src, e);
            }
        }
    }
    fn cexpr(src: &str, e: &Expr) {
        cspan(src, e.span);
        match &e.kind {
            ExprKind::Neg(a) => cexpr(src, a),
            ExprKind::Binary(_, a, b) => {
                cexpr(src, a);
                cexpr(src, b);
            }
            ExprKind::Call { callee, args, .. } => {
                cname(src, callee);
                args.iter().for_each(|a| cexpr(src, a));
            }
            ExprKind::MatMul { matrix, arg, .. } => {
                cname(src, matrix);
                cexpr(src, arg);
            }
            ExprKind::List(items) => items.iter().for_each(|i| cexpr(src, &i.value)),
            ExprKind::Name(n) => cname(src, n),
            ExprKind::Number(_) => {}
        }
    }
    fn cspan(src: &str, s: Span) {
        assert!(
            s.start <= s.end && s.end <= src.len(),
            "{s:?} outside {src:?}"
        );
        assert!(src.is_char_boundary(s.start) && src.is_char_boundary(s.end));
    }
    f.items.iter().for_each(|i| citem(src, i));
}

/// Parses `src` both ways; the result must be a tree with valid spans or a diagnostic
/// that renders with a sane position.
fn parse_anything(src: &str) {
    match parse("fuzz.tp", src) {
        Ok(f) => check_spans(src, &f),
        Err(d) => {
            assert!(d.line >= 1 && d.col >= 1 && d.width >= 1);
            assert!(!d.to_string().is_empty());
        }
    }
    if let Err(d) = parse_expr("fuzz", src) {
        assert!(d.line >= 1 && d.col >= 1);
        assert!(!d.to_string().is_empty());
    }
}

/// One edit of a valid program: delete, insert or duplicate a character.
#[derive(Clone, Debug)]
enum Edit {
    Delete(usize),
    Insert(usize, char),
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let chars = prop::sample::select(
        "()[]{}=~^*/+-.,;:'#\"x\n 0123456789aLnTé→"
            .chars()
            .collect::<Vec<_>>(),
    );
    prop_oneof![
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), chars).prop_map(|(at, c)| Edit::Insert(at, c)),
        (any::<usize>(), 1..12usize).prop_map(|(at, len)| Edit::Duplicate(at, len)),
    ]
}

fn apply(src: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = src.chars().collect();
    for e in edits {
        let n = chars.len().max(1);
        match *e {
            Edit::Delete(at) => {
                if !chars.is_empty() {
                    chars.remove(at % n);
                }
            }
            Edit::Insert(at, c) => chars.insert(at % (chars.len() + 1), c),
            Edit::Duplicate(at, len) => {
                let start = at % n;
                let end = (start + len).min(chars.len());
                let copy: Vec<char> = chars[start.min(end)..end].to_vec();
                chars.splice(end..end, copy);
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn never_panics_on_arbitrary_text(src in ".*") {
        parse_anything(&src);
    }

    #[test]
    fn never_panics_on_grammar_characters(
        src in "[a-z0-9 \n(){}\\[\\],=~^*/+\\-.'#:;\"T]{0,200}"
    ) {
        parse_anything(&src);
    }

    #[test]
    fn never_panics_on_edited_programs(
        which in 0..2usize,
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let base = if which == 0 { MLP_MUP } else { RAW };
        parse_anything(&apply(base, &edits));
    }
}
