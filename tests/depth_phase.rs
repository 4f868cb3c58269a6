//! The phase diagram of the Cont–Rossier–Xu residual network, derived by power counting,
//! against the regimes stated by Cont, Rossier & Xu (2022, §4 heuristic and Theorems
//! 1–3): neural ODE (α = 1, β = 0), linear ODE (α + β = 1, β > 0, α > 0), SDE (α = 0,
//! β = 1), SDE without trend (α = 0, β > 1), trivial (α + β > 1 otherwise), explosion
//! (α + β < 1). Checked on a dense grid of (α, β), both through the numeric regime and
//! through the exact conditions of the symbolic phase diagram.

use num_traits::{One, Zero};
use std::collections::BTreeMap;
use tp::depth::power::{count_crx, phase_diagram, regime_at, Regime};
use tp::depth::{CrxNet, DepthProgram, Resnet};
use tp::exponent::{Exponent, Rational};
use tp::ir::{ActId, Activation, Expr, Func};

fn tanh_plus_square() -> Activation {
    let t = || Expr::call(Func::from_name("tanh").unwrap(), Expr::Arg);
    let body = Expr::add(t(), Expr::mul(Expr::Const(0.5), Expr::mul(t(), t())));
    let mut a = Activation::new("sig", body);
    a.ensure_order(3).unwrap();
    a
}

fn program(alpha: Exponent, beta: Exponent, noise: f64) -> (DepthProgram, CrxNet) {
    let net = CrxNet {
        dim: 2,
        dim_name: "d".into(),
        act: ActId(0),
        delta: 1.0,
        alpha,
        beta,
        gamma: Exponent::ratio(1, 2),
        trend: Some(vec![
            vec![Expr::Const(0.5), Expr::Const(1.0)],
            vec![Expr::Const(-1.0), Expr::Arg],
        ]),
        bias_trend: Some(vec![Expr::Const(0.1), Expr::Const(0.2)]),
        noise,
        bias_noise: 0.3,
        input: vec![1.0, -0.5],
    };
    let prog = DepthProgram {
        title: None,
        depth: "L".into(),
        width: None,
        symbols: vec!["alpha".into(), "beta".into()],
        activations: vec![tanh_plus_square()],
        net: Resnet::Crx(net.clone()),
    };
    (prog, net)
}

/// The regime item 2 of the depth issue states, for α, β ≥ 0.
fn stated(alpha: &Rational, beta: &Rational) -> Regime {
    let one = Rational::one();
    let sum = alpha + beta;
    if alpha.is_zero() && *beta == one {
        Regime::Sde
    } else if alpha.is_zero() && *beta > one {
        Regime::SdeWithoutTrend
    } else if *alpha == one && beta.is_zero() {
        Regime::NeuralOde
    } else if sum == one && *beta > Rational::zero() {
        Regime::LinearOde
    } else if sum > one {
        Regime::Trivial
    } else {
        Regime::Explosion
    }
}

fn grid() -> Vec<Rational> {
    let mut v: Vec<Rational> = (0..=12)
        .map(|k| Rational::new(k.into(), 6.into()))
        .collect();
    v.push(Rational::new(1.into(), 7.into()));
    v.push(Rational::new(6.into(), 7.into()));
    v
}

#[test]
fn numeric_regimes_match_the_stated_phase_diagram() {
    let (prog, net) = program(Exponent::symbol("alpha"), Exponent::symbol("beta"), 0.8);
    let counting = count_crx(&prog, &net);
    for a in grid() {
        for b in grid() {
            let point = BTreeMap::from([
                ("alpha".to_string(), a.clone()),
                ("beta".to_string(), b.clone()),
            ]);
            let got = regime_at(&counting, &point).unwrap().regime;
            assert_eq!(got, stated(&a, &b), "alpha = {a}, beta = {b}");
        }
    }
}

#[test]
fn symbolic_conditions_match_the_stated_phase_diagram() {
    let (prog, net) = program(Exponent::symbol("alpha"), Exponent::symbol("beta"), 0.8);
    let diagram = phase_diagram(&count_crx(&prog, &net));
    for a in grid() {
        for b in grid() {
            let point = BTreeMap::from([
                ("alpha".to_string(), a.clone()),
                ("beta".to_string(), b.clone()),
            ]);
            let holding: Vec<Regime> = diagram
                .iter()
                .filter(|(_, c)| c.holds_at(&point) == Some(true))
                .map(|(r, _)| *r)
                .collect();
            assert_eq!(holding, vec![stated(&a, &b)], "alpha = {a}, beta = {b}");
        }
    }
}

#[test]
fn without_noise_the_sde_line_is_trivial_and_the_itô_term_needs_curvature() {
    let (prog, net) = program(Exponent::symbol("alpha"), Exponent::symbol("beta"), 0.0);
    let mut net = net;
    net.bias_noise = 0.0;
    let counting = count_crx(&prog, &net);
    let point = BTreeMap::from([
        ("alpha".to_string(), Rational::zero()),
        ("beta".to_string(), Rational::new(3.into(), 2.into())),
    ]);
    assert_eq!(
        regime_at(&counting, &point).unwrap().regime,
        Regime::Trivial
    );
    // α = 0, β = 1 with noise: the Itô correction is kept because σ''(0) = 1 ≠ 0.
    let (prog, net) = program(Exponent::zero(), Exponent::constant(Rational::one()), 0.8);
    let v = regime_at(&count_crx(&prog, &net), &BTreeMap::new()).unwrap();
    assert_eq!(v.regime, Regime::Sde);
    assert!(v.kept.contains(&tp::depth::power::Part::Ito));
    assert_eq!(v.error_rate, Some(Rational::new((-1).into(), 2.into())));
}

#[test]
fn error_rates_follow_the_largest_neglected_term() {
    // Linear ODE α = β = 1/2: the noise is O(L^-1/2) and the quadratic trend O(L^-1/2).
    let half = Exponent::ratio(1, 2);
    let (prog, net) = program(half.clone(), half, 0.8);
    let v = regime_at(&count_crx(&prog, &net), &BTreeMap::new()).unwrap();
    assert_eq!(v.regime, Regime::LinearOde);
    assert_eq!(v.error_rate, Some(Rational::new((-1).into(), 2.into())));
    // Neural ODE α = 1, β = 0: Euler's L^-1 (the noise is O(L^-1) too).
    let (prog, net) = program(Exponent::constant(Rational::one()), Exponent::zero(), 0.8);
    let v = regime_at(&count_crx(&prog, &net), &BTreeMap::new()).unwrap();
    assert_eq!(v.regime, Regime::NeuralOde);
    assert_eq!(v.error_rate, Some(Rational::new((-1).into(), 1.into())));
    // Trivial α = 1, β = 1/2: the displacement is Θ(L^-1/2).
    let (prog, net) = program(
        Exponent::constant(Rational::one()),
        Exponent::ratio(1, 2),
        0.8,
    );
    let v = regime_at(&count_crx(&prog, &net), &BTreeMap::new()).unwrap();
    assert_eq!(v.regime, Regime::Trivial);
    assert_eq!(v.leading, Rational::new((-1).into(), 2.into()));
}

/// The phase diagram as printed: read and judged against Cont, Rossier & Xu's regimes
/// (and the grid tests above) before it was accepted.
#[test]
fn phase_diagram_text_snapshot() {
    let (mut prog, net) = program(Exponent::symbol("alpha"), Exponent::symbol("beta"), 0.8);
    prog.net = Resnet::Crx(net);
    let d = tp::depth::derive::derive(&prog, None);
    let text = tp::report::depth::render_depth_scale(&prog, &d);
    let start = text.find("phase diagram").unwrap();
    let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
    insta::assert_snapshot!(&text[start..end]);
}

/// `tp scale --plot`'s map of `resnet_phase.tp`: on the grid of step 1/40 over
/// [−1/2, 5/2]², the regimes that live on lines and points are hit exactly, with the
/// number of grid points the stated diagram gives them.
#[test]
fn phase_map_of_the_shipped_program_hits_the_lines_and_points_exactly() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("programs/resnet_phase.tp");
    let prog = match tp::load_any(&path, &[]) {
        Ok(tp::Compiled::Depth(p)) => p,
        _ => panic!("resnet_phase.tp is a depth program"),
    };
    let d = tp::depth::derive::derive(&prog, None);
    let map = tp::report::phase_plot::phase_map(&d.counting, &prog.symbols).unwrap();
    assert_eq!(map.points.len(), 121 * 121);
    let count = |r: Regime| map.points.iter().filter(|p| p.2 == r).count();
    assert_eq!(count(Regime::NeuralOde), 1); // (1, 0)
    assert_eq!(count(Regime::LinearOde), 39); // α + β = 1, β = 1/40 … 39/40
    assert_eq!(count(Regime::Sde), 1); // (0, 1)
    assert_eq!(count(Regime::SdeWithoutTrend), 60); // α = 0, β = 41/40 … 5/2
    assert_eq!(count(Regime::NotAnalysed), 20 * 121); // β < 0
    let at = |a: f64, b: f64| {
        map.points
            .iter()
            .find(|p| (p.0 - a).abs() < 1e-9 && (p.1 - b).abs() < 1e-9)
            .map(|p| p.2)
    };
    assert_eq!(at(1.0, 0.0), Some(Regime::NeuralOde));
    assert_eq!(at(2.0, 2.0), Some(Regime::Trivial));
    assert_eq!(at(1.5, 0.0), Some(Regime::Trivial));
    assert_eq!(at(0.5, 0.0), Some(Regime::Explosion));
    assert_eq!(at(-0.25, 1.5), Some(Regime::Explosion));
    assert_eq!(at(0.25, 0.5), Some(Regime::Explosion));
    let figure = tp::report::phase_plot::PhaseFigure {
        map: &map,
        title: "phase",
    };
    let svg = tp::report::style::render_svg(&figure, None).unwrap();
    for name in ["neural ODE", "linear ODE", "SDE without trend", "explosion"] {
        assert!(svg.contains(name), "legend lacks {name}");
    }
    // One symbol is not a diagram.
    assert!(tp::report::phase_plot::phase_map(&d.counting, &prog.symbols[..1]).is_err());
}

/// One layer's increment: the trend moves h by L^-(α+β), the i.i.d. part by L^-(α+1/2)
/// (Cont–Rossier–Xu §4); the larger one is the exponent `tp check` tests.
#[test]
fn one_layer_exponent_is_the_larger_of_trend_and_noise() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("programs/resnet_phase.tp");
    let prog = match tp::load_any(&path, &[]) {
        Ok(tp::Compiled::Depth(p)) => p,
        _ => panic!("resnet_phase.tp is a depth program"),
    };
    let d = tp::depth::derive::derive(&prog, None);
    let r = |n: i64, m: i64| Rational::new(n.into(), m.into());
    for (a, b) in [
        (r(1, 1), r(0, 1)),
        (r(0, 1), r(1, 1)),
        (r(-1, 8), r(1, 2)),
        (r(2, 1), r(2, 1)),
        (r(3, 4), r(1, 4)),
        (r(0, 1), r(2, 1)),
    ] {
        let point = BTreeMap::from([
            ("alpha".to_string(), a.clone()),
            ("beta".to_string(), b.clone()),
        ]);
        let v = regime_at(&d.counting, &point).unwrap();
        let trend = -(a.clone() + b.clone());
        let noise = -(a.clone() + r(1, 2));
        let want = if trend > noise { trend } else { noise };
        assert_eq!(v.step, want, "at alpha = {a}, beta = {b}");
    }
}
