//! Finite-width execution of hand-built Tensor Programs: Tensor Program limits, exact
//! arithmetic against hand computation, determinism and nesting of the draws, blow-up
//! detection and the refusal of programs that cannot be simulated.

use ndarray::Array1;
use proptest::prelude::*;
use tp::exponent::{Exponent, Rational};
use tp::ir::{
    ActId, Activation, Expr, Func, Instr, Kind, Meta, Op, Program, Scale, SourceId, ValueId,
};
use tp::sim::{
    draw, draw_into, draw_with_limit, estimate_bytes, execute, simulate, validate, BlowUpKind,
    Execution, Sample, SimError, SourceSample, Value,
};

// ---------------------------------------------------------------------------------------
// Helpers for building programs by hand.

fn instr(name: &str, kind: Kind, op: Op) -> Instr {
    Instr {
        name: name.to_string(),
        kind,
        scale: Scale::one(),
        op,
        meta: Meta::user(),
    }
}

fn init_vector(p: &mut Program, name: &str, source: SourceId) -> ValueId {
    p.push(instr(
        name,
        Kind::Vector,
        Op::Init {
            terms: vec![(source, 1.0)],
            mean: 0.0,
        },
    ))
}

fn map(p: &mut Program, name: &str, expr: Expr) -> ValueId {
    p.push(instr(name, Kind::Vector, Op::Map { expr }))
}

fn moment(p: &mut Program, name: &str, expr: Expr) -> ValueId {
    p.push(instr(name, Kind::Scalar, Op::Moment { expr }))
}

fn v(id: ValueId) -> Expr {
    Expr::Value(id)
}

fn scalar(exec: &Execution, id: ValueId) -> f64 {
    exec.value(id)
        .and_then(Value::as_scalar)
        .expect("scalar value")
}

fn vector(exec: &Execution, id: ValueId) -> &Array1<f64> {
    exec.value(id)
        .and_then(Value::as_vector)
        .expect("vector value")
}

fn source_vector(sample: &Sample, id: SourceId) -> &Array1<f64> {
    match &sample.sources[id.0] {
        SourceSample::Vector(v) => v,
        SourceSample::Scalar(_) => panic!("vector source expected"),
    }
}

fn source_scalar(sample: &Sample, id: SourceId) -> f64 {
    match &sample.sources[id.0] {
        SourceSample::Scalar(s) => *s,
        SourceSample::Vector(_) => panic!("scalar source expected"),
    }
}

fn assert_close(got: f64, want: f64, what: &str) {
    let tol = 1e-12 * want.abs().max(1.0);
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got:e}, want {want:e} (diff {:e})",
        (got - want).abs()
    );
}

// ---------------------------------------------------------------------------------------
// 1. A Tensor Program limit: h = Ŵ Ŵᵀ z.

/// `z ~ N(0, I)`, `g = Ŵᵀ z`, `h = Ŵ g`, `q = ⟨h, z⟩/n`, `s = ⟨h, h⟩/n`.
fn wwt_program() -> (Program, ValueId, ValueId) {
    let mut p = Program::new("n");
    let w = p.add_matrix("W");
    let zs = p.add_source("z", Kind::Vector);
    let z = init_vector(&mut p, "z", zs);
    let g = p.push(instr(
        "g",
        Kind::Vector,
        Op::MatMul {
            matrix: w,
            transpose: true,
            arg: z,
        },
    ));
    let h = p.push(instr(
        "h",
        Kind::Vector,
        Op::MatMul {
            matrix: w,
            transpose: false,
            arg: g,
        },
    ));
    let q = moment(&mut p, "q", Expr::product(vec![v(h), v(z)]));
    let s = moment(&mut p, "s", Expr::product(vec![v(h), v(h)]));
    (p, q, s)
}

/// Mean and standard error of the mean.
fn mean_and_se(xs: &[f64]) -> (f64, f64) {
    let k = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / k;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0);
    (mean, (var / k).sqrt())
}

/// Tensor Program theory: Z^h = Ẑ^{Ŵg} + Ż^{Ŵg} = Ẑ + Z^z with Ẑ ~ N(0, 1) independent of
/// z, so q → E[Z^h Z^z] = 1 and s → E[(Z^h)²] = 2.
///
/// At finite n the expectations are exact: with A = ŴŴᵀ and z independent of Ŵ,
/// E[q] = tr E[A]/n = 1 and E[s] = tr E[A²]/n, where E[A²]_ii = E[A_ii²] + Σ_{j≠i} E[A_ij²]
/// = (1 + 2/n) + (n − 1)/n = 2 + 1/n. The seed means are compared with these, within
/// four standard errors estimated from the seeds themselves.
#[test]
fn wwt_z_matches_tensor_program_limit() {
    let (p, q, s) = wwt_program();
    let n = 1000;
    let (mut qs, mut ss) = (Vec::new(), Vec::new());
    for seed in 0..20 {
        let exec = simulate(&p, n, seed).expect("simulates");
        assert!(exec.completed());
        qs.push(scalar(&exec, q));
        ss.push(scalar(&exec, s));
    }
    let (q_mean, q_se) = mean_and_se(&qs);
    let (s_mean, s_se) = mean_and_se(&ss);
    let s_expected = 2.0 + 1.0 / n as f64;
    assert!(
        (q_mean - 1.0).abs() < 4.0 * q_se,
        "q: mean {q_mean} ± {q_se}, expected 1"
    );
    assert!(
        (s_mean - s_expected).abs() < 4.0 * s_se,
        "s: mean {s_mean} ± {s_se}, expected {s_expected}"
    );
    // Var q ≈ 4/n (q = (|z|²/n)(χ²_n/n)): a wrong variance of the entries of Ŵ would move
    // the spread even where it leaves the mean; the standard error must be of that order.
    let q_sd = q_se * (qs.len() as f64).sqrt();
    let predicted = (4.0 / n as f64).sqrt();
    assert!(
        q_sd > predicted / 2.0 && q_sd < predicted * 2.0,
        "sd of q {q_sd}, predicted {predicted}"
    );
}

/// Ŵ and Ŵᵀ must be independent: a sampler that mirrored entries (making Ŵ symmetric)
/// would still give E[q] = 1 and E[s] = 2 (the semicircle's moments), so check the
/// correlation of W_ij with W_ji directly.
#[test]
fn matrix_is_not_symmetric() {
    let (p, _, _) = wwt_program();
    let n = 400;
    let sample = draw(&p, n, 3).expect("draws");
    let w = &sample.matrices[0];
    let mut cross = 0.0;
    let mut count = 0.0;
    for i in 0..n {
        for j in 0..i {
            cross += w[(i, j)] * w[(j, i)] * n as f64;
            count += 1.0;
        }
    }
    // Each term has mean 0 and variance 1 when independent (1 + 2 = 3 mean-square and
    // mean 1 when symmetric).
    let corr = cross / count;
    assert!(corr.abs() < 4.0 / count.sqrt(), "correlation {corr}");
}

// ---------------------------------------------------------------------------------------
// 2. Exact arithmetic at a tiny width.

#[test]
fn exact_arithmetic_at_width_four() {
    let n = 4usize;
    let nf = n as f64;
    let mut p = Program::new("n");
    let w = p.add_matrix("W");
    let a = p.add_source("a", Kind::Vector);
    let b = p.add_source("b", Kind::Vector);
    let c = p.add_source("c", Kind::Scalar);
    let mut tanh = Activation::new("tanh", Expr::call(Func::Tanh, Expr::Arg));
    tanh.ensure_order(1).expect("tanh is smooth");
    p.activations.push(tanh);
    let act = ActId(0);

    // x = 3 n^{-1} (2a − b/2 + 1/4)
    let x = p.push(Instr {
        scale: Scale {
            coef: 3.0,
            exponent: Exponent::ratio(-1, 1),
        },
        ..instr(
            "x",
            Kind::Vector,
            Op::Init {
                terms: vec![(a, 2.0), (b, -0.5)],
                mean: 0.25,
            },
        )
    });
    // k = c + 1
    let k = p.push(instr(
        "k",
        Kind::Scalar,
        Op::Init {
            terms: vec![(c, 1.0)],
            mean: 1.0,
        },
    ));
    let y = p.push(instr(
        "y",
        Kind::Vector,
        Op::MatMul {
            matrix: w,
            transpose: false,
            arg: x,
        },
    ));
    let yt = p.push(instr(
        "yt",
        Kind::Vector,
        Op::MatMul {
            matrix: w,
            transpose: true,
            arg: x,
        },
    ));
    // m = n^{-1/2} tanh'(y) k
    let m = map(
        &mut p,
        "m",
        Expr::product(vec![
            Expr::Width(Exponent::ratio(-1, 2)),
            Expr::act(act, 1, v(y)),
            v(k),
        ]),
    );
    // mo = 2 n^{1/2} · mean(m·yt + x² − relu(yt))
    let mo = p.push(Instr {
        scale: Scale {
            coef: 2.0,
            exponent: Exponent::ratio(1, 2),
        },
        ..instr(
            "mo",
            Kind::Scalar,
            Op::Moment {
                expr: Expr::sum(vec![
                    Expr::product(vec![v(m), v(yt)]),
                    Expr::pow(v(x), Rational::from_integer(2.into())),
                    Expr::neg(Expr::call(Func::Relu, v(yt))),
                ]),
            },
        )
    });
    // sc = mo / (k + 2) + exp(−k) · n
    let sc = p.push(instr(
        "sc",
        Kind::Scalar,
        Op::Scalar {
            expr: Expr::add(
                Expr::div(v(mo), Expr::add(v(k), Expr::Const(2.0))),
                Expr::product(vec![
                    Expr::call(Func::Exp, Expr::neg(v(k))),
                    Expr::Width(Exponent::ratio(1, 1)),
                ]),
            ),
        },
    ));
    // d = sc / x − log|y| + tanh(yt)  (scalar over vector, a function of a function)
    let d = map(
        &mut p,
        "d",
        Expr::sum(vec![
            Expr::div(v(sc), v(x)),
            Expr::neg(Expr::call(Func::Log, Expr::call(Func::Abs, v(y)))),
            Expr::act(act, 0, v(yt)),
        ]),
    );
    // bc = sc broadcast to every coordinate
    let bc = map(&mut p, "bc", v(sc));

    let sample = draw(&p, n, 42).expect("draws");
    let exec = execute(&p, &sample).expect("executes");
    assert!(exec.completed(), "{:?}", exec.blowup);
    assert_eq!(exec.values.len(), p.instrs.len());

    // The same quantities by hand, coordinate by coordinate, from the drawn sample.
    let av = source_vector(&sample, a);
    let bv = source_vector(&sample, b);
    let cv = source_scalar(&sample, c);
    let wm = &sample.matrices[0];
    let xh: Vec<f64> = (0..n)
        .map(|i| 3.0 / nf * (2.0 * av[i] - 0.5 * bv[i] + 0.25))
        .collect();
    let kh = cv + 1.0;
    let yh: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| wm[(i, j)] * xh[j]).sum())
        .collect();
    let yth: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| wm[(j, i)] * xh[j]).sum())
        .collect();
    let mh: Vec<f64> = (0..n)
        .map(|i| (1.0 - yh[i].tanh().powi(2)) * kh / nf.sqrt())
        .collect();
    let moh = 2.0
        * nf.sqrt()
        * (0..n)
            .map(|i| mh[i] * yth[i] + xh[i] * xh[i] - yth[i].max(0.0))
            .sum::<f64>()
        / nf;
    let sch = moh / (kh + 2.0) + (-kh).exp() * nf;
    let dh: Vec<f64> = (0..n)
        .map(|i| sch / xh[i] - yh[i].abs().ln() + yth[i].tanh())
        .collect();

    for i in 0..n {
        assert_close(vector(&exec, x)[i], xh[i], &format!("x[{i}]"));
        assert_close(vector(&exec, y)[i], yh[i], &format!("y[{i}]"));
        assert_close(vector(&exec, yt)[i], yth[i], &format!("yt[{i}]"));
        assert_close(vector(&exec, m)[i], mh[i], &format!("m[{i}]"));
        assert_close(vector(&exec, d)[i], dh[i], &format!("d[{i}]"));
        assert_close(vector(&exec, bc)[i], sch, &format!("bc[{i}]"));
    }
    assert_close(scalar(&exec, k), kh, "k");
    assert_close(scalar(&exec, mo), moh, "mo");
    assert_close(scalar(&exec, sc), sch, "sc");
    // The check is only meaningful if Ŵ ≠ Ŵᵀ at this seed.
    assert!((yh[0] - yth[0]).abs() > 1e-6);
}

/// A scalar-only Map broadcasts, a Moment of a scalar is that scalar, and an integer
/// power of a negative number keeps its sign.
#[test]
fn broadcasts_and_integer_powers() {
    let mut p = Program::new("n");
    let c = p.add_source("c", Kind::Scalar);
    let k = p.push(instr(
        "k",
        Kind::Scalar,
        Op::Init {
            terms: vec![(c, 0.0)],
            mean: -2.0,
        },
    ));
    let cube = map(
        &mut p,
        "cube",
        Expr::pow(v(k), Rational::from_integer(3.into())),
    );
    let mk = moment(
        &mut p,
        "mk",
        Expr::product(vec![v(k), Expr::Width(Exponent::ratio(1, 2))]),
    );
    let exec = simulate(&p, 9, 1).expect("simulates");
    assert_eq!(vector(&exec, cube), &Array1::from_elem(9, -8.0));
    assert_close(scalar(&exec, mk), -6.0, "mk");
}

/// Expressions over two vectors `x`, `y`, a scalar `s` and powers of n, with every
/// operation and function of the IR.
fn arb_expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        (-2.0f64..2.0).prop_map(Expr::Const),
        Just(Expr::Value(ValueId(0))),
        Just(Expr::Value(ValueId(1))),
        Just(Expr::Value(ValueId(2))),
        prop_oneof![Just((-1, 2)), Just((1, 2)), Just((1, 1))]
            .prop_map(|(a, b)| Expr::Width(Exponent::ratio(a, b))),
    ];
    leaf.prop_recursive(5, 40, 3, |inner| {
        let power = prop_oneof![Just((-1, 1)), Just((2, 1)), Just((3, 1)), Just((1, 2))];
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Add),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Mul),
            inner.clone().prop_map(|a| Expr::Neg(Box::new(a))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::Div(Box::new(a), Box::new(b))),
            (inner.clone(), power).prop_map(|(a, (p, q))| {
                Expr::Pow(Box::new(a), Rational::new(p.into(), q.into()))
            }),
            (prop::sample::select(Func::ALL.to_vec()), inner.clone())
                .prop_map(|(f, a)| Expr::Call(f, Box::new(a))),
            (0usize..3, inner).prop_map(|(order, a)| Expr::act(ActId(0), order, a)),
        ]
    })
}

/// True when the expression applies a function defined by comparisons, which the IR's
/// scalar evaluator lets turn NaN into a number (and this evaluator deliberately does not).
fn has_comparison(expr: &Expr) -> bool {
    let mut found = false;
    expr.walk(&mut |e| {
        found |= matches!(e, Expr::Call(Func::Relu | Func::Step | Func::Sign, _));
    });
    found
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The whole-array evaluator agrees with the IR's own coordinatewise `Expr::eval`, an
    /// independent implementation, on random expressions (up to NaN masking, which must
    /// then be reported as a blow-up).
    #[test]
    fn array_evaluation_matches_coordinatewise_evaluation(expr in arb_expr(), seed in 0u64..1000) {
        let n = 5;
        let mut p = Program::new("n");
        let a = p.add_source("a", Kind::Vector);
        let b = p.add_source("b", Kind::Vector);
        let c = p.add_source("c", Kind::Scalar);
        let mut tanh = Activation::new("tanh", Expr::call(Func::Tanh, Expr::Arg));
        tanh.ensure_order(2).expect("tanh is smooth");
        p.activations.push(tanh);
        init_vector(&mut p, "x", a);
        init_vector(&mut p, "y", b);
        p.push(instr("s", Kind::Scalar, Op::Init { terms: vec![(c, 1.0)], mean: 0.0 }));
        let out = map(&mut p, "out", expr.clone());
        let exec = simulate(&p, n, seed).expect("valid program");
        prop_assert_eq!(exec.values.len() >= 3, true);
        let reference: Vec<f64> = (0..n)
            .map(|i| {
                let value = |id: ValueId| match &exec.values[id.0] {
                    Value::Vector(v) => v[i],
                    Value::Scalar(s) => *s,
                };
                expr.eval(&value, f64::NAN, n as f64, &p.activations)
            })
            .collect();
        match exec.value(out) {
            Some(Value::Vector(got)) => {
                for i in 0..n {
                    let (g, r) = (got[i], reference[i]);
                    let tol = 1e-9 * r.abs().max(1.0);
                    prop_assert!(r.is_finite() && (g - r).abs() <= tol, "coordinate {}: {} vs {}", i, g, r);
                }
            }
            _ => {
                let blowup = exec.blowup.as_ref().expect("no value means a blow-up");
                prop_assert_eq!(blowup.value, out);
                prop_assert!(
                    reference.iter().any(|r| !r.is_finite()) || has_comparison(&expr),
                    "blow-up where the reference is finite: {:?}", reference
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// 3. Determinism and nesting.

fn bits(exec: &Execution) -> Vec<u64> {
    exec.values
        .iter()
        .flat_map(|v| match v {
            Value::Vector(x) => x.iter().map(|f| f.to_bits()).collect::<Vec<_>>(),
            Value::Scalar(s) => vec![s.to_bits()],
        })
        .collect()
}

#[test]
fn same_seed_is_bit_identical_and_seeds_differ() {
    let (p, _, _) = wwt_program();
    let one = simulate(&p, 64, 7).expect("simulates");
    let two = simulate(&p, 64, 7).expect("simulates");
    let other = simulate(&p, 64, 8).expect("simulates");
    assert_eq!(bits(&one), bits(&two));
    assert_ne!(bits(&one), bits(&other));
    let a = draw(&p, 64, 7).expect("draws");
    let b = draw(&p, 64, 7).expect("draws");
    let a_bits: Vec<u64> = a.matrices[0].iter().map(|x| x.to_bits()).collect();
    let b_bits: Vec<u64> = b.matrices[0].iter().map(|x| x.to_bits()).collect();
    assert_eq!(a_bits, b_bits);
}

#[test]
fn draws_are_nested_across_widths() {
    let mut p = Program::new("n");
    p.add_matrix("W");
    p.add_matrix("V");
    let zs = p.add_source("z", Kind::Vector);
    let cs = p.add_source("c", Kind::Scalar);
    let (small, large) = (5usize, 37usize);
    let s = draw(&p, small, 99).expect("draws");
    let l = draw(&p, large, 99).expect("draws");
    for (ws, wl) in s.matrices.iter().zip(&l.matrices) {
        for i in 0..small {
            for j in 0..small {
                // Same standard Gaussian U_ij, stored as U_ij/√n at each width.
                let us = ws[(i, j)] * (small as f64).sqrt();
                let ul = wl[(i, j)] * (large as f64).sqrt();
                assert!((us - ul).abs() <= 1e-14 * us.abs().max(1.0), "({i},{j})");
            }
        }
        // The large matrix is not just the small one padded.
        assert!(wl[(large - 1, 0)] != 0.0 && wl[(0, large - 1)] != 0.0);
    }
    let zs_small = source_vector(&s, zs);
    let zs_large = source_vector(&l, zs);
    assert_eq!(zs_small.to_vec(), zs_large.to_vec()[..small].to_vec());
    assert_eq!(
        source_scalar(&s, cs).to_bits(),
        source_scalar(&l, cs).to_bits()
    );
}

/// Every object has its own stream: adding a matrix and a source to a program leaves the
/// existing objects' draws unchanged, and two matrices are not the same draws.
#[test]
fn adding_objects_does_not_change_the_others() {
    let mut p = Program::new("n");
    p.add_matrix("W");
    p.add_source("z", Kind::Vector);
    let before = draw(&p, 16, 5).expect("draws");
    let mut q = p.clone();
    q.add_matrix("V");
    q.add_source("y", Kind::Vector);
    let after = draw(&q, 16, 5).expect("draws");
    assert_eq!(before.matrices[0], after.matrices[0]);
    assert_eq!(before.sources[0], after.sources[0]);
    assert_ne!(after.matrices[0], after.matrices[1]);
    assert_ne!(after.sources[0], after.sources[1]);
}

/// Redrawing in place gives exactly what a fresh draw gives, whether the old sample had
/// the right shapes (arrays reused) or not (another width, another program).
#[test]
fn draw_into_matches_a_fresh_draw() {
    let (p, _, _) = wwt_program();
    let mut q = p.clone();
    q.add_source("c", Kind::Scalar);
    let mut reused = draw(&p, 12, 1).expect("draws");
    draw_into(&q, 12, 2, &mut reused).expect("redraws");
    assert_eq!(reused, draw(&q, 12, 2).expect("draws"));
    draw_into(&p, 7, 3, &mut reused).expect("redraws");
    assert_eq!(reused, draw(&p, 7, 3).expect("draws"));
    draw_into(&p, 7, 4, &mut reused).expect("redraws");
    assert_eq!(reused, draw(&p, 7, 4).expect("draws"));
}

/// Callers run seeds on separate threads, so everything crossing the API must be shareable.
#[test]
fn results_can_cross_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Program>();
    shareable::<Sample>();
    shareable::<Execution>();
    shareable::<SimError>();
}

// ---------------------------------------------------------------------------------------
// 4. Blow-ups.

#[test]
fn log_of_negative_is_a_nan_blowup_even_behind_relu() {
    let mut p = Program::new("n");
    let zs = p.add_source("z", Kind::Vector);
    let z = init_vector(&mut p, "z", zs);
    // relu(log(−|z| − 1)): log gives NaN and relu must not hide it as 0.
    let bad = map(
        &mut p,
        "bad",
        Expr::call(
            Func::Relu,
            Expr::call(
                Func::Log,
                Expr::sub(Expr::neg(Expr::call(Func::Abs, v(z))), Expr::Const(1.0)),
            ),
        ),
    );
    moment(&mut p, "after", Expr::product(vec![v(bad), v(bad)]));
    let exec = simulate(&p, 10, 0).expect("simulates");
    let blowup = exec.blowup.as_ref().expect("blow-up");
    assert_eq!(blowup.value, bad);
    assert_eq!(blowup.name, "bad");
    assert_eq!(blowup.kind, BlowUpKind::NaN);
    assert_eq!(blowup.coordinate, Some(0));
    assert_eq!(blowup.bad_entries, 10);
    assert_eq!(blowup.width, 10);
    // Values before it are kept; nothing at or after it is returned.
    assert_eq!(exec.values.len(), 1);
    assert!(blowup.to_string().contains("`bad`"));
}

#[test]
fn width_overflow_is_an_infinite_blowup() {
    let mut p = Program::new("n");
    let zs = p.add_source("z", Kind::Vector);
    let z = init_vector(&mut p, "z", zs);
    let fine = moment(&mut p, "fine", Expr::product(vec![v(z), v(z)]));
    // 1000^{400} overflows f64, through an expression factor ...
    let huge = map(
        &mut p,
        "huge",
        Expr::product(vec![Expr::Width(Exponent::ratio(400, 1)), v(z)]),
    );
    let exec = simulate(&p, 1000, 0).expect("simulates");
    let blowup = exec.blowup.expect("blow-up");
    assert_eq!((blowup.value, blowup.name.as_str()), (huge, "huge"));
    assert_eq!(blowup.kind, BlowUpKind::Infinite);
    assert_eq!(exec.values.len(), fine.0 + 1);

    // ... and through an instruction's scale, on a scalar.
    let mut p = Program::new("n");
    let zs = p.add_source("z", Kind::Vector);
    let z = init_vector(&mut p, "z", zs);
    let s = p.push(Instr {
        scale: Scale::width(Exponent::ratio(400, 1)),
        ..instr(
            "s",
            Kind::Scalar,
            Op::Moment {
                expr: Expr::product(vec![v(z), v(z)]),
            },
        )
    });
    let exec = simulate(&p, 1000, 0).expect("simulates");
    let blowup = exec.blowup.expect("blow-up");
    assert_eq!(blowup.value, s);
    assert_eq!(blowup.coordinate, None);
    assert_eq!(blowup.kind, BlowUpKind::Infinite);
}

// ---------------------------------------------------------------------------------------
// 5. Programs that cannot be simulated.

#[test]
fn symbolic_exponents_are_refused() {
    let mut p = Program::new("n");
    p.symbols.push("c".into());
    let zs = p.add_source("z", Kind::Vector);
    let z = init_vector(&mut p, "z", zs);
    p.push(Instr {
        scale: Scale::width(Exponent::symbol("c").plus(&Rational::from_integer((-1).into()))),
        ..instr("scaled", Kind::Vector, Op::Map { expr: v(z) })
    });
    for err in [
        validate(&p).expect_err("symbolic"),
        simulate(&p, 8, 0).expect_err("symbolic"),
    ] {
        match &err {
            SimError::SymbolicExponent { name, exponent } => {
                assert_eq!(name, "scaled");
                assert_eq!(exponent, "c - 1");
            }
            other => panic!("expected SymbolicExponent, got {other:?}"),
        }
        assert!(err.to_string().contains("--set"), "{err}");
    }

    // A symbol inside an expression is found too.
    let mut p = Program::new("n");
    let zs = p.add_source("z", Kind::Vector);
    let z = init_vector(&mut p, "z", zs);
    map(
        &mut p,
        "inner",
        Expr::product(vec![Expr::Width(Exponent::symbol("a1")), v(z)]),
    );
    let sample = draw(&p, 8, 0).expect("drawing needs no exponents");
    match execute(&p, &sample) {
        Err(SimError::SymbolicExponent { name, .. }) => assert_eq!(name, "inner"),
        other => panic!("expected SymbolicExponent, got {other:?}"),
    }
}

#[test]
fn malformed_programs_are_errors_not_panics() {
    let base = || {
        let mut p = Program::new("n");
        p.add_matrix("W");
        let zs = p.add_source("z", Kind::Vector);
        init_vector(&mut p, "z", zs);
        p
    };
    let check = |p: &Program, want: &str| {
        let err = simulate(p, 6, 0).expect_err("malformed");
        assert!(format!("{err:?}").starts_with(want), "{want}: got {err:?}");
    };

    // A value read before (or at) its definition.
    let mut p = base();
    map(&mut p, "early", v(ValueId(5)));
    check(&p, "ForwardReference");
    let mut p = base();
    p.push(instr(
        "self",
        Kind::Vector,
        Op::MatMul {
            matrix: tp::ir::MatrixId(0),
            transpose: false,
            arg: ValueId(1),
        },
    ));
    check(&p, "ForwardReference");
    // Unknown matrix, source and activation.
    let mut p = base();
    p.push(instr(
        "m",
        Kind::Vector,
        Op::MatMul {
            matrix: tp::ir::MatrixId(3),
            transpose: true,
            arg: ValueId(0),
        },
    ));
    check(&p, "UnknownObject");
    let mut p = base();
    init_vector(&mut p, "s", SourceId(9));
    check(&p, "UnknownObject");
    let mut p = base();
    map(&mut p, "a", Expr::act(ActId(0), 0, v(ValueId(0))));
    check(&p, "UnknownObject");
    // A derivative the elaborator never computed.
    let mut p = base();
    p.activations
        .push(Activation::new("tanh", Expr::call(Func::Tanh, Expr::Arg)));
    map(&mut p, "d2", Expr::act(ActId(0), 2, v(ValueId(0))));
    check(&p, "MissingDerivative");
    // An activation defined through itself would recurse forever.
    let mut p = base();
    p.activations
        .push(Activation::new("loop", Expr::act(ActId(0), 0, Expr::Arg)));
    map(&mut p, "l", Expr::act(ActId(0), 0, v(ValueId(0))));
    check(&p, "BadExpression");
    // Arg outside an activation body.
    let mut p = base();
    map(&mut p, "arg", Expr::Arg);
    check(&p, "BadExpression");
    // A scalar instruction reading a vector; a vector source used for a scalar.
    let mut p = base();
    p.push(instr(
        "s",
        Kind::Scalar,
        Op::Scalar {
            expr: v(ValueId(0)),
        },
    ));
    check(&p, "KindMismatch");
    let mut p = base();
    p.push(instr(
        "s",
        Kind::Scalar,
        Op::Init {
            terms: vec![(SourceId(0), 1.0)],
            mean: 0.0,
        },
    ));
    check(&p, "KindMismatch");
    // A sample drawn for another program.
    let p = base();
    let mut other = base();
    other.add_matrix("V");
    let sample = draw(&other, 6, 0).expect("draws");
    assert!(matches!(
        execute(&p, &sample),
        Err(SimError::SampleMismatch { .. })
    ));
    // Width 0.
    assert!(matches!(draw(&p, 0, 0), Err(SimError::ZeroWidth)));
}

/// Deep expressions evaluate without exhausting a test thread's stack, and absurdly deep
/// ones are refused rather than crashing.
#[test]
fn deep_expressions_are_evaluated_or_refused() {
    let nest = |depth: usize, x: ValueId| {
        let mut e = v(x);
        for _ in 0..depth {
            e = Expr::Call(Func::Abs, Box::new(e));
        }
        e
    };
    let mut p = Program::new("n");
    let zs = p.add_source("z", Kind::Vector);
    let z = init_vector(&mut p, "z", zs);
    let ok = map(&mut p, "ok", nest(190, z));
    let exec = simulate(&p, 4, 0).expect("deep but fine");
    assert_eq!(vector(&exec, ok), &vector(&exec, z).mapv(f64::abs));
    map(&mut p, "too_deep", nest(5000, z));
    match simulate(&p, 4, 0) {
        Err(SimError::BadExpression { name, .. }) => assert_eq!(name, "too_deep"),
        other => panic!("expected BadExpression, got {:?}", other.map(|e| e.blowup)),
    }
}

#[test]
fn impossible_memory_requests_are_refused_before_allocation() {
    let (p, _, _) = wwt_program();
    let width = 1 << 20; // one 2^20 × 2^20 matrix is 8 TiB
    let needed = estimate_bytes(&p, width);
    assert!(needed >= 8 << 40);
    match draw_with_limit(&p, width, 0, 1 << 30) {
        Err(SimError::TooLarge {
            needed_bytes,
            limit_bytes,
            width: w,
        }) => {
            assert_eq!((needed_bytes, limit_bytes, w), (needed, 1 << 30, width));
        }
        other => panic!("expected TooLarge, got {:?}", other.map(|s| s.width)),
    }
    // The default limit refuses it too, with a readable message.
    let err = draw(&p, width, 0).expect_err("too large");
    assert!(err.to_string().contains("TiB"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Timing (run with `cargo test --release --test sim_exec -- --ignored --nocapture`).

#[test]
#[ignore = "timing report, not a check"]
fn timing_at_width_4096() {
    use std::time::Instant;
    let (p, _, _) = wwt_program();
    let n = 4096;
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    let mut reused = draw(&p, 8, 0).expect("draws");
    let (mut fresh, mut redraw, mut run) = (Vec::new(), Vec::new(), Vec::new());
    for seed in 0..5 {
        let t = Instant::now();
        let sample = draw(&p, n, seed).expect("draws");
        fresh.push(ms(t));
        let t = Instant::now();
        draw_into(&p, n, seed, &mut reused).expect("redraws");
        redraw.push(ms(t));
        let t = Instant::now();
        let exec = execute(&p, &sample).expect("executes");
        run.push(ms(t));
        assert!(exec.completed());
    }
    let summary = |xs: &mut Vec<f64>| {
        xs.sort_by(f64::total_cmp);
        format!("min {:.1} ms, median {:.1} ms", xs[0], xs[xs.len() / 2])
    };
    println!("n = {n}, 5 seeds, one matrix, one vector source:");
    println!("  draw (fresh allocation): {}", summary(&mut fresh));
    println!("  draw_into (reused):      {}", summary(&mut redraw));
    println!("  execute (Ŵᵀz, Ŵg, 2 moments): {}", summary(&mut run));
    // The two products separately.
    for transpose in [false, true] {
        let mut q = Program::new("n");
        let w = q.add_matrix("W");
        let zs = q.add_source("z", Kind::Vector);
        let z = init_vector(&mut q, "z", zs);
        for i in 0..10 {
            q.push(instr(
                &format!("p{i}"),
                Kind::Vector,
                Op::MatMul {
                    matrix: w,
                    transpose,
                    arg: z,
                },
            ));
        }
        let sample = draw(&q, n, 0).expect("draws");
        let t = Instant::now();
        execute(&q, &sample).expect("executes");
        println!(
            "transpose = {transpose}: {:.2} ms per product",
            ms(t) / 10.0
        );
    }
}
