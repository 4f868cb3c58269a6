//! Scale inference against the Yang–Hu dichotomy for abc-parameterized MLPs.
//!
//! The oracle is Yang & Hu (2021), Tensor Programs IV, Thm 3.3 / 3.4 / Cor 3.9, with
//!   r = min(a_{L+1} + b_{L+1}, 2a_{L+1} + c) + c - 1 + min_l (2a_l + [l = 1]),
//! stable ⟺ a_1 + b_1 = 0, a_l + b_l = 1/2 (2 ≤ l ≤ L), a_{L+1} + b_{L+1} ≥ 1/2, r ≥ 0,
//!          a_{L+1} + b_{L+1} + r ≥ 1, 2a_{L+1} + c ≥ 1;
//! nontrivial (when stable) ⟺ a_{L+1} + b_{L+1} + r = 1 or 2a_{L+1} + c = 1;
//! feature learning (when stable) ⟺ r = 0.
//! The engine never sees these formulas: it analyses the elaborated program.

use num_rational::BigRational;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use tp::exponent::Rational;
use tp::scale::{analyze, ScaleReport};

type Q = (i64, i64);

fn q(x: Q) -> Rational {
    BigRational::new(x.0.into(), x.1.into())
}

fn text(x: &Rational) -> String {
    if x.is_integer() {
        x.numer().to_string()
    } else {
        format!("{}/{}", x.numer(), x.denom())
    }
}

struct YangHu {
    stable: bool,
    nontrivial: bool,
    feature_learning: bool,
    r: Rational,
}

fn yang_hu(a: &[Rational], b: &[Rational], c: &Rational) -> YangHu {
    let big_l = a.len() - 1;
    let half = q((1, 2));
    let one = q((1, 1));
    let two = q((2, 1));
    let last_init = &a[big_l] + &b[big_l];
    let last_lr = &two * &a[big_l] + c;
    let min_layers = (0..big_l)
        .map(|l| &two * &a[l] + if l == 0 { one.clone() } else { q((0, 1)) })
        .min()
        .unwrap_or_else(|| q((0, 1)));
    let r = last_init.clone().min(last_lr.clone()) + c - &one + min_layers;
    let init_ok = (&a[0] + &b[0]) == q((0, 1))
        && (1..big_l).all(|l| (&a[l] + &b[l]) == half)
        && last_init >= half;
    let zero = q((0, 1));
    let stable = init_ok && r >= zero && (&last_init + &r) >= one && last_lr >= one;
    let nontrivial = stable && ((&last_init + &r) == one || last_lr == one);
    YangHu {
        stable,
        nontrivial,
        feature_learning: stable && r == zero,
        r,
    }
}

fn program(a: &[Rational], b: &[Rational], c: &Rational) -> String {
    let list = |v: &[Rational]| v.iter().map(text).collect::<Vec<_>>().join(", ");
    format!(
        "width n\nparam eta = 0.5\nactivation act = tanh\ninput xi0 = [1.0, 0.5, -0.5] target 1.0\n\
         mlp net(depth = {}, act = act)\nparameterization abc {{\n  a = [{}]\n  b = [{}]\n  c = {}\n}}\n\
         train sgd(steps = 3, lr = eta, loss = mse, data = [xi0])\n",
        a.len() - 1,
        list(a),
        list(b),
        text(c)
    )
}

/// Our reading of Yang–Hu stability: no forward quantity grows, and the features at
/// initialization are Θ(1) (Yang–Hu count vanishing initial features as unstable).
fn ours(a: &[Rational], b: &[Rational], c: &Rational) -> (bool, bool, bool, Option<String>) {
    let prog = tp::compile("grid.tp", &program(a, b, c), &[]).expect("elaborates");
    let rep = analyze(&prog).expect("analysis");
    let depth = a.len() - 1;
    let init_theta_one = (1..=depth).all(|l| {
        rep.quantities
            .iter()
            .filter(|q| q.name == format!("h{l}_0") || q.name == format!("x{l}_0"))
            .all(|q| q.exponent.to_string() == "0")
    });
    let stable = rep.regime.stable && init_theta_one;
    (
        stable,
        stable && rep.regime.nontrivial,
        stable && rep.regime.feature_learning,
        rep.regime.r.as_ref().map(|r| r.to_string()),
    )
}

fn quarter() -> impl Strategy<Value = Q> {
    (-4i64..=6).prop_map(|k| (k, 4))
}

/// Exponents on a quarter grid; b is pulled onto the stable-initialization manifold most
/// of the time so that all regimes are visited, and c onto the r = 0 / 2a+c = 1 edges.
fn case() -> impl Strategy<Value = (Vec<Rational>, Vec<Rational>, Rational)> {
    (1usize..=5)
        .prop_flat_map(|depth| {
            (
                proptest::collection::vec(quarter(), depth + 1),
                proptest::collection::vec((quarter(), 0u8..10), depth + 1),
                quarter(),
                0u8..4,
            )
        })
        .prop_map(|(a, b, c, pull)| {
            let depth = a.len() - 1;
            let a: Vec<Rational> = a.into_iter().map(q).collect();
            let b: Vec<Rational> = b
                .into_iter()
                .enumerate()
                .map(|(l, (raw, coin))| {
                    if coin < 7 {
                        let target = if l == 0 {
                            q((0, 1))
                        } else if l < depth {
                            q((1, 2))
                        } else {
                            q((1, 2)) + q((raw.0.abs() % 3, 4))
                        };
                        target - &a[l]
                    } else {
                        q(raw)
                    }
                })
                .collect();
            let mut c = q(c);
            if pull == 0 {
                // Land on 2a_{L+1} + c = 1.
                c = q((1, 1)) - q((2, 1)) * &a[depth];
            }
            (a, b, c)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn dichotomy_on_random_abc_grids((a, b, c) in case()) {
        let want = yang_hu(&a, &b, &c);
        let (stable, nontrivial, fl, r) = ours(&a, &b, &c);
        let show = program(&a, &b, &c);
        prop_assert_eq!(stable, want.stable, "stability, r_YH = {}\n{}", want.r, show);
        prop_assert_eq!(nontrivial, want.nontrivial, "nontriviality, r_YH = {}\n{}", want.r, show);
        prop_assert_eq!(fl, want.feature_learning, "feature learning, r_YH = {}\n{}", want.r, show);
        if want.stable {
            prop_assert_eq!(r, Some(text(&want.r)), "r\n{}", show);
        }
    }
}

/// The shipped symbolic program, analysed once for the tests of this file.
fn symbolic_report() -> &'static ScaleReport {
    static REPORT: OnceLock<ScaleReport> = OnceLock::new();
    REPORT.get_or_init(|| {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("programs/mlp_abc_symbolic.tp");
        let prog = tp::load(&path, &[]).expect("symbolic program");
        analyze(&prog).expect("analysis")
    })
}

/// A point of the shipped program's symbols (b1 = -a1 and b2 = 1/2 - a2 are built in),
/// with the matching Yang–Hu exponent vectors for L = 3.
fn manifold_point(
    a1: Rational,
    a2: Rational,
    a3: Rational,
    b3: Rational,
    c: Rational,
) -> (BTreeMap<String, Rational>, Vec<Rational>, Vec<Rational>) {
    let a = vec![a1.clone(), a2.clone(), a2.clone(), a3.clone()];
    let b = vec![
        -a1.clone(),
        q((1, 2)) - a2.clone(),
        q((1, 2)) - a2.clone(),
        b3.clone(),
    ];
    let mut point = BTreeMap::new();
    for (name, v) in [("a1", a1), ("a2", a2), ("a3", a3), ("b3", b3), ("c", c)] {
        point.insert(name.to_string(), v);
    }
    (point, a, b)
}

/// Calls `f(point, a, b, c)` at every point of the quarter grid a1, a2, a3, b3, c ∈
/// [lo/4, hi/4] (inclusive ranges of numerators, one per symbol).
fn for_each_quarter_point(
    ranges: [(i64, i64); 5],
    mut f: impl FnMut(&BTreeMap<String, Rational>, &[Rational], &[Rational], &Rational),
) {
    let [r1, r2, r3, r4, r5] = ranges;
    for a1 in r1.0..=r1.1 {
        for a2 in r2.0..=r2.1 {
            for a3 in r3.0..=r3.1 {
                for b3 in r4.0..=r4.1 {
                    for c in r5.0..=r5.1 {
                        let cc = q((c, 4));
                        let (point, a, b) = manifold_point(
                            q((a1, 4)),
                            q((a2, 4)),
                            q((a3, 4)),
                            q((b3, 4)),
                            cc.clone(),
                        );
                        f(&point, &a, &b, &cc);
                    }
                }
            }
        }
    }
}

/// r from the symbolic analysis equals the Yang–Hu closed form at every stable point of
/// a dense quarter grid (about 85 000 points, a few thousand of them stable).
#[test]
fn symbolic_r_equals_the_closed_form_on_a_dense_grid() {
    let rep = symbolic_report();
    let r = rep.regime.r.clone().expect("an r expression");
    let mut checked = 0;
    for_each_quarter_point(
        [(-4, 4), (-4, 4), (-2, 6), (-2, 6), (-4, 8)],
        |point, a, b, c| {
            let want = yang_hu(a, b, c);
            if !want.stable {
                return;
            }
            let got = r.eval(point).expect("r evaluates");
            assert_eq!(got.to_string(), text(&want.r), "at {point:?}");
            checked += 1;
        },
    );
    assert!(checked > 500, "only {checked} stable points");
}

/// The symbolic stability, nontriviality and feature-learning conditions agree with
/// Yang–Hu at every point of a grid that crosses all of their boundaries.
#[test]
fn symbolic_conditions_equal_the_yang_hu_dichotomy() {
    let rep = symbolic_report();
    let regime = &rep.regime;
    let mut counts = [0usize; 3];
    for_each_quarter_point(
        [(-3, 3), (-3, 3), (-1, 5), (-1, 5), (-3, 6)],
        |point, a, b, c| {
            let want = yang_hu(a, b, c);
            let holds =
                |cond: &tp::exponent::Cond| cond.holds_at(point).expect("condition evaluates");
            let stable = holds(&regime.stable_cond);
            assert_eq!(stable, want.stable, "stability at {point:?}");
            let nontrivial = stable && holds(&regime.nontrivial_cond);
            assert_eq!(nontrivial, want.nontrivial, "nontriviality at {point:?}");
            let fl = stable && holds(&regime.feature_learning_cond);
            assert_eq!(fl, want.feature_learning, "feature learning at {point:?}");
            counts[0] += usize::from(stable);
            counts[1] += usize::from(nontrivial);
            counts[2] += usize::from(fl);
        },
    );
    assert!(
        counts.iter().all(|k| *k > 20),
        "regimes visited: {counts:?}"
    );
}
