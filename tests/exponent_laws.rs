//! Laws of the exponent algebra: exact evaluation, canonical simplification, exact
//! conditions and comparisons.

use num_bigint::BigInt;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use tp::exponent::{compare, Comparison, Cond, Exp, Exponent, Ext, Rational};

fn q(n: i64, d: i64) -> Rational {
    Rational::new(BigInt::from(n), BigInt::from(d))
}

fn e(text: &str) -> Exp {
    match text.parse() {
        Ok(x) => x,
        Err(err) => panic!("test expression {text:?} does not parse: {err}"),
    }
}

fn point(values: &[(&str, Rational)]) -> BTreeMap<String, Rational> {
    values
        .iter()
        .map(|(s, v)| (s.to_string(), v.clone()))
        .collect()
}

// ---------------------------------------------------------------- strategies

/// A fixed seed keeps CI reproducible; set `PROPTEST_RNG_SEED` to explore others.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::with_cases(cases);
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x7e50_2024);
    }
    config
}

fn small_rational() -> impl Strategy<Value = Rational> {
    (-4i64..=4, 1i64..=3).prop_map(|(n, d)| q(n, d))
}

fn symbol() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("a"), Just("b"), Just("c")]
}

fn leaf() -> impl Strategy<Value = Exp> {
    prop_oneof![
        3 => small_rational().prop_map(Exp::constant),
        6 => (symbol(), prop_oneof![Just(q(1, 1)), Just(q(-1, 1)), Just(q(2, 1)), Just(q(1, 2))], small_rational())
            .prop_map(|(s, k, c)| Exp::affine(Exponent::symbol(s).scale(&k).plus(&c))),
        1 => Just(Exp::NegInf),
    ]
}

/// Random raw trees (not folded) of depth at most `depth`.
fn expr_of_depth(depth: u32) -> impl Strategy<Value = Exp> {
    leaf().prop_recursive(depth, 10, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Exp::Add(vec![a, b])),
            prop::collection::vec(inner.clone(), 1..=3).prop_map(Exp::Max),
            prop::collection::vec(inner.clone(), 1..=3).prop_map(Exp::Min),
            (
                prop_oneof![
                    Just(q(-1, 1)),
                    Just(q(2, 1)),
                    Just(q(1, 2)),
                    Just(q(-2, 1)),
                    Just(q(0, 1))
                ],
                inner
            )
                .prop_map(|(k, x)| Exp::Scale(k, Box::new(x))),
        ]
    })
}

/// Random raw trees of depth ≤ 4.
fn expr() -> impl Strategy<Value = Exp> {
    expr_of_depth(4)
}

/// Operands of the three-operand laws: depth ≤ 2, so that the law's sides have
/// depth ≤ 4.
fn operand() -> impl Strategy<Value = Exp> {
    expr_of_depth(2)
}

/// Operands that are defined and finite everywhere.
fn finite_operand() -> impl Strategy<Value = Exp> {
    operand().prop_filter("finite", |x| !x.is_undefined() && !x.is_neg_inf())
}

fn points() -> impl Strategy<Value = Vec<BTreeMap<String, Rational>>> {
    let coordinate = (-10i64..=10, 1i64..=4).prop_map(|(n, d)| q(n, d));
    prop::collection::vec(
        (coordinate.clone(), coordinate.clone(), coordinate)
            .prop_map(|(a, b, c)| point(&[("a", a), ("b", b), ("c", c)])),
        6,
    )
}

/// Reverses the operands of every sum, max and min (a semantic no-op).
fn commuted(x: &Exp) -> Exp {
    match x {
        Exp::Add(items) => Exp::Add(items.iter().rev().map(commuted).collect()),
        Exp::Max(items) => Exp::Max(items.iter().rev().map(commuted).collect()),
        Exp::Min(items) => Exp::Min(items.iter().rev().map(commuted).collect()),
        Exp::Scale(k, inner) => Exp::Scale(k.clone(), Box::new(commuted(inner))),
        other => other.clone(),
    }
}

fn neg(x: Exp) -> Exp {
    Exp::Scale(q(-1, 1), Box::new(x))
}

fn assert_same_function(x: &Exp, y: &Exp) -> Result<(), TestCaseError> {
    let (sx, sy) = (x.simplify(), y.simplify());
    prop_assert_eq!(sx.to_string(), sy.to_string(), "{} vs {}", x, y);
    prop_assert_eq!(sx, sy);
    Ok(())
}

// ------------------------------------------------------------ expressions

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn simplify_preserves_exact_values(x in expr(), pts in points()) {
        let s = x.simplify();
        for p in &pts {
            prop_assert_eq!(x.eval(p), s.eval(p), "{} simplified to {} at {:?}", x, s, p);
        }
    }

    #[test]
    fn simplify_is_idempotent_and_prints_canonically(x in expr()) {
        let s = x.simplify();
        prop_assert_eq!(s.simplify(), s.clone());
        // Printing and re-reading gives the same canonical form.
        let reread: Exp = s.to_string().parse().map_err(|err| TestCaseError::fail(format!("{err}")))?;
        prop_assert_eq!(reread.simplify(), s);
    }

    #[test]
    fn operand_order_does_not_matter(x in expr()) {
        assert_same_function(&x, &commuted(&x))?;
    }

    #[test]
    fn sums_distribute_over_max(x in operand(), y in operand(), z in operand(), pts in points()) {
        let lhs = Exp::Add(vec![Exp::Max(vec![x.clone(), y.clone()]), z.clone()]);
        let rhs = Exp::Max(vec![
            Exp::Add(vec![x.clone(), z.clone()]),
            Exp::Add(vec![y, z]),
        ]);
        for p in &pts {
            prop_assert_eq!(lhs.eval(p), rhs.eval(p));
        }
        assert_same_function(&lhs, &rhs)?;
    }

    #[test]
    fn negation_swaps_max_and_min(x in finite_operand(), y in finite_operand(), pts in points()) {
        let lhs = neg(Exp::Max(vec![x.clone(), y.clone()]));
        let rhs = Exp::Min(vec![neg(x), neg(y)]);
        for p in &pts {
            prop_assert_eq!(lhs.eval(p), rhs.eval(p));
        }
        assert_same_function(&lhs, &rhs)?;
    }

    #[test]
    fn absorption(x in operand(), y in operand(), pts in points()) {
        prop_assume!(!y.is_undefined());
        let lhs = Exp::Max(vec![x.clone(), Exp::Min(vec![x.clone(), y.clone()])]);
        let dual = Exp::Min(vec![x.clone(), Exp::Max(vec![x.clone(), y])]);
        for p in &pts {
            prop_assert_eq!(lhs.eval(p), x.eval(p));
            prop_assert_eq!(dual.eval(p), x.eval(p));
        }
        assert_same_function(&lhs, &x)?;
        assert_same_function(&dual, &x)?;
    }
}

#[test]
fn neg_inf_rules() {
    let a = e("a");
    assert_eq!(Exp::add(Exp::NegInf, a.clone()), Exp::NegInf);
    assert_eq!(Exp::max(Exp::NegInf, a.clone()), a);
    assert_eq!(Exp::min(Exp::NegInf, a.clone()), Exp::NegInf);
    assert_eq!(Exp::scale(q(2, 1), Exp::NegInf), Exp::NegInf);
    assert_eq!(Exp::scale(q(0, 1), Exp::NegInf), Exp::constant(q(0, 1)));
    assert!(Exp::scale(q(-1, 1), Exp::NegInf).is_undefined());
    assert_eq!(Exp::NegInf.to_string(), "-inf");
    assert_eq!(Exp::NegInf.eval(&BTreeMap::new()), Some(Ext::NegInf));
    assert_eq!(Exp::undefined().eval(&BTreeMap::new()), None);
    // Operators are the smart constructors.
    assert_eq!(e("a") + e("1") - e("a"), Exp::constant(q(1, 1)));
    assert_eq!(-e("max(a, b)"), e("min(-a, -b)"));
}

#[test]
fn eval_is_exact_and_reports_missing_symbols() {
    let x = e("max(-a1 - b1, 1/2 - a2 - b2 + min(0, -2*a3 - c + 1))");
    let mup = point(&[
        ("a1", q(-1, 2)),
        ("b1", q(1, 2)),
        ("a2", q(0, 1)),
        ("b2", q(1, 2)),
        ("a3", q(1, 2)),
        ("c", q(0, 1)),
    ]);
    assert_eq!(x.eval(&mup), Some(Ext::Finite(q(0, 1))));
    assert_eq!(x.eval(&point(&[("a1", q(0, 1))])), None);
    assert_eq!(
        x.symbols().into_iter().collect::<Vec<_>>(),
        ["a1", "a2", "a3", "b1", "b2", "c"]
    );
}

#[test]
fn canonical_text() {
    assert_eq!(e("max(a, b)").simplify().to_string(), "max(a, b)");
    assert_eq!(e("max(b, a)").simplify().to_string(), "max(a, b)");
    assert_eq!(
        e("max(0, 1/2 - a2 - b2)").simplify().to_string(),
        "max(-a2 - b2 + 1/2, 0)"
    );
    assert_eq!(e("-1/2").simplify().to_string(), "-1/2");
    assert_eq!(e("min(-inf, a)").simplify().to_string(), "-inf");
    assert_eq!(
        e("max(min(a, b), min(a, c))").simplify().to_string(),
        "min(a, max(b, c))"
    );
    assert_eq!(
        e("max(-a1 - b1, 1/2 - a2 - b2 + min(0, -2*a3 - c + 1))")
            .simplify()
            .to_string(),
        "max(-a1 - b1, -a2 - b2 + 1/2 + min(-2*a3 - c + 1, 0))"
    );
    // Same function, different leaves: clamp(x, 0, 1).
    assert_eq!(
        e("max(min(x, 1), min(0, 2 - x))").simplify(),
        e("min(max(x, 0), 1)").simplify()
    );
}

#[test]
fn constants_are_recognized_after_simplification() {
    assert_eq!(
        e("max(a, b) - max(b, a)").as_constant(),
        Some(Ext::Finite(q(0, 1)))
    );
    assert_eq!(
        e("max(1, 2) - 1/2").as_constant(),
        Some(Ext::Finite(q(3, 2)))
    );
    assert_eq!(e("max(a, 1)").as_constant(), None);
    assert_eq!(e("-inf").as_constant(), Some(Ext::NegInf));
}

// ------------------------------------------------------------- conditions

fn cond_of(kind: u8, x: Exp, y: Exp) -> Cond {
    match kind % 3 {
        0 => Cond::Le(x, y),
        1 => Cond::Lt(x, y),
        _ => Cond::Eq(x, y),
    }
}

fn small_cond(exprs: BoxedStrategy<Exp>) -> impl Strategy<Value = Cond> {
    let atom = (any::<u8>(), exprs.clone(), exprs).prop_map(|(k, x, y)| cond_of(k, x, y));
    prop::collection::vec(atom, 1..=3).prop_flat_map(|atoms| {
        prop_oneof![
            Just(Cond::And(atoms.clone())),
            Just(Cond::Or(atoms.clone())),
            Just(Cond::Or(vec![
                atoms[0].clone(),
                Cond::And(atoms[1..].to_vec())
            ])),
        ]
    })
}

/// One-symbol expressions whose pieces are `±a + k` with `k` a multiple of 1/2, so
/// every breakpoint of every comparison is a multiple of 1/4.
fn line_expr() -> BoxedStrategy<Exp> {
    let k = (-2i64..=2).prop_map(|n| q(n, 2));
    let leaf = prop_oneof![
        4 => (prop_oneof![Just(1i64), Just(-1)], k.clone())
            .prop_map(|(s, c)| Exp::affine(Exponent::symbol("a").scale(&q(s, 1)).plus(&c))),
        2 => k.clone().prop_map(Exp::constant),
        1 => Just(Exp::NegInf),
    ];
    leaf.prop_recursive(2, 8, 3, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..=3).prop_map(Exp::Max),
            prop::collection::vec(inner.clone(), 1..=3).prop_map(Exp::Min),
            inner.clone().prop_map(neg),
            (inner, (-1i64..=1).prop_map(|n| q(n, 2)))
                .prop_map(|(x, c)| Exp::Add(vec![x, Exp::constant(c)])),
        ]
    })
    .boxed()
}

/// Every multiple of 1/8 in [-8, 8]: all breakpoints of `line_expr` comparisons, a
/// point between any two neighbouring ones, and points beyond the extreme ones.
fn line_grid() -> Vec<BTreeMap<String, Rational>> {
    (-64..=64).map(|n| point(&[("a", q(n, 8))])).collect()
}

fn plane_grid() -> Vec<BTreeMap<String, Rational>> {
    let mut out = Vec::new();
    for i in -8..=8 {
        for j in -8..=8 {
            for k in [-1i64, 0, 1] {
                out.push(point(&[("a", q(i, 3)), ("b", q(j, 3)), ("c", q(k, 2))]));
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn decisions_match_dense_sampling_on_a_line(c in small_cond(line_expr())) {
        let grid = line_grid();
        let truths: Vec<bool> = grid.iter().map(|p| c.holds_at(p) == Some(true)).collect();
        prop_assert_eq!(c.is_satisfiable(), truths.iter().any(|t| *t), "{}", c);
        prop_assert_eq!(c.is_valid(), truths.iter().all(|t| *t), "{}", c);
        let s = c.simplify();
        for p in &grid {
            prop_assert_eq!(c.holds_at(p), s.holds_at(p), "{} simplified to {}", c, s);
        }
        if c.is_valid() {
            prop_assert_eq!(s, Cond::True);
        } else if !c.is_satisfiable() {
            prop_assert_eq!(s, Cond::False);
        }
    }
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn cond_simplify_preserves_truth(c in small_cond(operand().boxed()), pts in points()) {
        let s = c.simplify();
        for p in &pts {
            prop_assert_eq!(c.holds_at(p), s.holds_at(p), "{} simplified to {} at {:?}", c, s, p);
        }
    }

    #[test]
    fn decisions_are_consistent_with_sampling_in_space(c in small_cond(operand().boxed())) {
        let grid = plane_grid();
        let truths: Vec<bool> = grid.iter().map(|p| c.holds_at(p) == Some(true)).collect();
        if truths.iter().any(|t| *t) {
            prop_assert!(c.is_satisfiable(), "{} holds at a sample", c);
        }
        if c.is_valid() {
            prop_assert!(truths.iter().all(|t| *t), "{} is valid but fails at a sample", c);
        }
    }
}

#[test]
fn crafted_decisions() {
    let unsat = Cond::And(vec![
        Cond::Le(e("a + b"), e("0")),
        Cond::Le(e("1"), e("a + b")),
    ]);
    assert!(!unsat.is_satisfiable());
    assert_eq!(unsat.simplify(), Cond::False);

    let valid = Cond::Le(e("1"), e("max(a, 1)"));
    assert!(valid.is_valid());
    assert_eq!(valid.simplify(), Cond::True);

    let split = Cond::Or(vec![Cond::Le(e("a"), e("0")), Cond::Lt(e("0"), e("a"))]);
    assert!(split.is_valid());
    assert_eq!(split.simplify(), Cond::True);

    // -inf is below everything and equal only to itself; undefined compares false.
    assert!(Cond::Le(Exp::NegInf, e("a")).is_valid());
    assert!(!Cond::Eq(Exp::NegInf, e("a")).is_satisfiable());
    assert!(!Cond::Le(Exp::undefined(), e("a")).is_satisfiable());
    assert!(Cond::Le(Exp::undefined(), e("a")).negated().is_valid());
}

#[test]
fn crafted_simplifications_read_well() {
    let c = Cond::Le(e("max(a, b)"), e("0")).simplify();
    assert_eq!(c.to_string(), "a <= 0 and b <= 0");
    let c = Cond::Eq(e("max(a, b)"), e("a")).simplify();
    assert_eq!(c.to_string(), "b <= a");
    let c = Cond::And(vec![
        Cond::Eq(e("a1 + b1"), e("0")),
        Cond::Le(e("1/2"), e("a3 + b3")),
        Cond::Le(e("0"), e("a1 + b1")),
    ])
    .simplify();
    assert_eq!(c.to_string(), "a1 + b1 = 0 and 1/2 <= a3 + b3");
    // a <= 0 and b <= 0 and a + b >= 0 forces both to be 0.
    let c = Cond::And(vec![
        Cond::Le(e("a"), e("0")),
        Cond::Le(e("b"), e("0")),
        Cond::Le(e("0"), e("a + b")),
    ])
    .simplify();
    assert_eq!(c.to_string(), "a = 0 and b = 0");
}

#[test]
fn neighbouring_disjuncts_merge() {
    let c = Cond::Or(vec![Cond::Lt(e("a"), e("b")), Cond::Eq(e("a"), e("b"))]);
    assert_eq!(c.simplify().to_string(), "a <= b");
    let c = Cond::Or(vec![
        Cond::And(vec![Cond::Lt(e("a"), e("0")), Cond::Lt(e("b"), e("0"))]),
        Cond::And(vec![Cond::Eq(e("a"), e("0")), Cond::Lt(e("b"), e("0"))]),
    ]);
    assert_eq!(c.simplify().to_string(), "a <= 0 and b < 0");
    // min(a, b) <= min(a, c) with a strict/equal split on each side.
    let c = Cond::Or(vec![Cond::Lt(e("a"), e("0")), Cond::Eq(e("0"), e("a"))]);
    let s = c.simplify();
    assert_eq!(s.holds_at(&point(&[("a", q(0, 1))])), Some(true));
    assert_eq!(s.to_string(), "a <= 0");
}

#[test]
fn printing_is_canonical_beyond_the_expansion_limit() {
    // min of twelve binary maxes expands to 4096 min-terms, beyond the expansion
    // limit, so only the e-graph simplifies it; the printed form must still not
    // depend on the operand order.
    let pairs: Vec<(String, String)> = (0..12)
        .map(|i| (format!("a{i}"), format!("b{i} + {i}")))
        .collect();
    let forward = pairs
        .iter()
        .map(|(x, y)| format!("max({x}, {y})"))
        .collect::<Vec<_>>()
        .join(", ");
    let backward = pairs
        .iter()
        .rev()
        .map(|(x, y)| format!("max({y}, {x})"))
        .collect::<Vec<_>>()
        .join(", ");
    let x = e(&format!("min({forward})")).simplify();
    let y = e(&format!("min({backward})")).simplify();
    assert_eq!(x.to_string(), y.to_string());
    assert_eq!(x, y);
}

// ------------------------------------------------------------- comparisons

#[test]
fn compare_crafted() {
    let a = e("a");
    let c = compare(&a, &e("max(a, b)"));
    assert!(c.always_le());
    assert!(!c.always_ge());
    assert_eq!(c.orderings(), [Ordering::Less, Ordering::Equal]);
    assert_eq!(c.region(Ordering::Less).to_string(), "a < b");
    assert_eq!(c.region(Ordering::Equal).to_string(), "b <= a");
    assert_eq!(c.region(Ordering::Greater), Cond::False);
    assert_eq!(c.to_string(), "less if a < b; equal if b <= a");

    assert_eq!(compare(&a, &e("a + 1")), Comparison::Always(Ordering::Less));
    assert_eq!(
        compare(&e("max(a, b)"), &e("max(b, a)")),
        Comparison::Always(Ordering::Equal)
    );
    assert_eq!(
        compare(&Exp::NegInf, &a),
        Comparison::Always(Ordering::Less)
    );
    assert_eq!(
        compare(&Exp::NegInf, &Exp::NegInf),
        Comparison::Always(Ordering::Equal)
    );
    assert_eq!(compare(&Exp::undefined(), &a), Comparison::Undefined);
    assert_eq!(
        compare(&e("min(a, 0)"), &e("max(a, 0)")).orderings(),
        [Ordering::Less, Ordering::Equal]
    );
    let d = compare(&e("a"), &e("b"));
    assert_eq!(
        d.orderings(),
        [Ordering::Less, Ordering::Equal, Ordering::Greater]
    );
    assert_eq!(d.region(Ordering::Equal).to_string(), "a = b");
}

#[test]
fn yang_hu_feature_learning_condition() {
    // r = min(a3 + b3, 2 a3 + c) + c - 1 + min(2 a1 + 1, 2 a2); feature learning iff r = 0.
    let r = e("min(a3 + b3, 2*a3 + c) + c - 1 + min(2*a1 + 1, 2*a2)");
    let condition = Cond::Eq(r.clone(), e("0")).simplify();
    let at = |a1: Rational, a2: Rational, a3: Rational, b: Rational, c: Rational| {
        point(&[
            ("a1", a1),
            ("a2", a2),
            ("a3", a3),
            ("b1", b.clone()),
            ("b2", b.clone()),
            ("b3", b),
            ("c", c),
        ])
    };
    let mup = at(q(-1, 2), q(0, 1), q(1, 2), q(1, 2), q(0, 1));
    assert_eq!(r.eval(&mup), Some(Ext::Finite(q(0, 1))));
    assert_eq!(condition.holds_at(&mup), Some(true), "{condition}");
    // NTK-like: a = (0, 1/2, 1/2), b = 0, c = 0 gives r = 1/2.
    let ntk = at(q(0, 1), q(1, 2), q(1, 2), q(0, 1), q(0, 1));
    assert_eq!(condition.holds_at(&ntk), Some(false));
    // Standard parameterization: a = 0, b = 1/2, c = 0 gives r = -1.
    let sp = at(q(0, 1), q(0, 1), q(0, 1), q(1, 2), q(0, 1));
    assert_eq!(condition.holds_at(&sp), Some(false));
    // The simplified condition is a disjunction of affine cases, printed readably.
    let text = condition.to_string();
    assert!(!text.contains("min(") && !text.contains("max("), "{text}");
    assert!(condition.is_satisfiable() && !condition.is_valid());
}
