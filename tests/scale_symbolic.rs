//! Region-wise symbolic scale analysis: its exponents agree with the numeric analysis
//! at stable points, and the full (a_l, b_l, c) space is handled at small depth.
//!
//! Oracles: the numeric analysis of the same program with the symbols set (`--set`),
//! and the Yang–Hu closed forms (Yang & Hu 2021, Tensor Programs IV, §3).

use std::collections::BTreeMap;
use std::path::Path;
use tp::exponent::Rational;
use tp::scale::{analyze, ScaleReport};

mod common;

use common::q;

fn text(x: &Rational) -> String {
    common::rational_text(x)
}

fn shipped(sets: &[String]) -> tp::ir::Program {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("programs/mlp_abc_symbolic.tp");
    let overrides = tp::parse_overrides(sets).expect("overrides");
    tp::load(&path, &overrides).expect("program")
}

fn row<'r>(rep: &'r ScaleReport, name: &str) -> &'r tp::scale::Quantity {
    rep.quantities
        .iter()
        .find(|q| q.name == name)
        .unwrap_or_else(|| panic!("no quantity {name}"))
}

/// At stable points, every exponent and every change of the symbolic table evaluates
/// to what the numeric analysis of the program with those values derives.
#[test]
fn symbolic_table_agrees_with_numeric_analysis_at_stable_points() {
    let symbolic = analyze(&shipped(&[])).expect("symbolic analysis");
    // (a1, a2, a3, b3, c) in quarters: μP, NTK-like, SP-like with small lr, and mixed
    // points on and off the feature-learning boundary.
    let points: [[i64; 5]; 8] = [
        [0, 0, 2, 0, 0],
        [0, 0, 0, 2, 4],
        [-2, 0, 0, 2, 4],
        [0, 2, 2, 0, 0],
        [1, 1, 2, 1, 1],
        [0, 0, 3, 0, -1],
        [-1, 1, 2, 2, 2],
        [0, 0, 2, 2, 0],
    ];
    let mut compared = 0;
    for p in points {
        let names = ["a1", "a2", "a3", "b3", "c"];
        let mut point = BTreeMap::new();
        let mut sets = Vec::new();
        for (name, k) in names.iter().zip(p) {
            point.insert(name.to_string(), q(k, 4));
            sets.push(format!("{name}={}", text(&q(k, 4))));
        }
        let stable = symbolic
            .regime
            .stable_cond
            .holds_at(&point)
            .expect("stability evaluates");
        let numeric = analyze(&shipped(&sets)).expect("numeric analysis");
        assert_eq!(stable, numeric.regime.stable, "stability at {sets:?}");
        if !stable {
            continue;
        }
        for nq in &numeric.quantities {
            let sq = row(&symbolic, &nq.name);
            let at = |e: &tp::exponent::Exp| e.eval(&point).map(|v| v.to_string());
            assert_eq!(
                at(&sq.exponent),
                at(&nq.exponent),
                "{} at {sets:?}: {}",
                nq.name,
                sq.exponent
            );
            let sd = sq.delta.as_ref().and_then(&at);
            let nd = nq.delta.as_ref().and_then(&at);
            assert_eq!(sd, nd, "change of {} at {sets:?}", nq.name);
            compared += 1;
        }
    }
    assert!(compared > 200, "only {compared} comparisons");
}

/// With b1 and b2 free too (vanishing and exploding initial features included), a
/// one-hidden-layer network is analysed over the whole 7-symbol space, and on the
/// Yang–Hu initialization manifold its r is the closed form
/// r = min(a2 + b2, 2a2 + c) + c - 1 + 2a1 + 1.
#[test]
fn full_abc_space_at_depth_one() {
    let text_program = "width n\nparam eta = 0.5\nparam a1, a2, b1, b2, c symbolic\n\
        activation act = tanh\ninput xi0 = [1.0, 0.5, -0.5] target 1.0\n\
        mlp net(depth = 1, act = act, bias = none)\n\
        parameterization abc {\n  a = [a1, a2]\n  b = [b1, b2]\n  c = c\n}\n\
        train sgd(steps = 3, lr = eta, loss = mse, data = [xi0])\n";
    let program = tp::compile("full.tp", text_program, &[]).expect("program");
    let rep = analyze(&program).expect("full-space analysis");
    assert!(rep.regions > 1, "{} regions", rep.regions);
    let r = rep.regime.r.clone().expect("an r expression");
    let mut checked = 0;
    for a1 in -3..=3 {
        for a2 in -2..=5 {
            for b2 in -2..=5 {
                for c in -3..=6 {
                    let (a1, a2, b2, c) = (q(a1, 4), q(a2, 4), q(b2, 4), q(c, 4));
                    let mut point = BTreeMap::new();
                    point.insert("a1".to_string(), a1.clone());
                    point.insert("b1".to_string(), -a1.clone());
                    point.insert("a2".to_string(), a2.clone());
                    point.insert("b2".to_string(), b2.clone());
                    point.insert("c".to_string(), c.clone());
                    let last_init = &a2 + &b2;
                    let last_lr = q(2, 1) * &a2 + &c;
                    let want_r = last_init.clone().min(last_lr.clone()) + &c + q(2, 1) * &a1;
                    let want_stable = last_init >= q(1, 2)
                        && want_r >= q(0, 1)
                        && &last_init + &want_r >= q(1, 1)
                        && last_lr >= q(1, 1);
                    let stable = rep
                        .regime
                        .stable_cond
                        .holds_at(&point)
                        .expect("stability evaluates");
                    assert_eq!(stable, want_stable, "stability at {point:?}");
                    if stable {
                        let got = r.eval(&point).expect("r evaluates");
                        assert_eq!(got.to_string(), text(&want_r), "r at {point:?}");
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} stable points");
}
