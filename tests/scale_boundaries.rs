//! The conditions of a symbolic `tp scale` are exact on their boundaries, and their JSON
//! form describes the same sets as their text.
//!
//! Oracle: the numeric analysis of the same program with every symbol set (`--set`) to
//! a point. At a point on a boundary hyperplane the two sides differ (a quantity of
//! exponent exactly 0 is Θ(1): not a blow-up), so these are the points checked.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use tp::exponent::{parse_rational, Cond, Rational};
use tp::scale::{analyze, ScaleReport};

mod common;

type Point = BTreeMap<String, Rational>;

use common::q;

fn text(x: &Rational) -> String {
    common::rational_text(x)
}

/// The shipped symbolic program, analysed once for the tests of this file.
fn shipped_report() -> &'static ScaleReport {
    static REPORT: OnceLock<ScaleReport> = OnceLock::new();
    REPORT.get_or_init(|| {
        analyze(&common::shipped::<&str>("mlp_abc_symbolic.tp", &[])).expect("analysis")
    })
}

/// Every inequality of every condition of the report, as (coefficients, constant):
/// the hyperplanes on which the conditions may change.
fn boundaries(rep: &ScaleReport) -> Vec<(BTreeMap<String, Rational>, Rational)> {
    let regime = &rep.regime;
    let mut conds: Vec<&Cond> = vec![&regime.stable_cond];
    conds.extend(regime.first_blowups.iter().map(|(_, _, c)| c));
    let mut out = Vec::new();
    for cond in conds {
        for conj in cond
            .polyhedra()
            .expect("conditions are unions of polyhedra")
        {
            for ineq in conj {
                out.push((ineq.coeffs.clone(), ineq.constant.clone()));
            }
        }
    }
    out
}

fn value_at(coeffs: &BTreeMap<String, Rational>, constant: &Rational, point: &Point) -> Rational {
    let mut v = constant.clone();
    for (s, c) in coeffs {
        v += c * &point[s];
    }
    v
}

/// What the symbolic conditions say at `point`: `None` for stable, else the blow-up
/// (name, step). Fails unless exactly one of "stable" and the blow-ups holds.
fn symbolic_verdict(rep: &ScaleReport, point: &Point) -> Option<(String, Option<usize>)> {
    let holds = |c: &Cond| c.holds_at(point).expect("condition evaluates");
    let stable = holds(&rep.regime.stable_cond);
    let blowups: Vec<(String, Option<usize>)> = rep
        .regime
        .first_blowups
        .iter()
        .filter(|(_, _, c)| holds(c))
        .map(|(name, step, _)| (name.clone(), *step))
        .collect();
    assert_eq!(
        usize::from(stable) + blowups.len(),
        1,
        "at {point:?}: stable = {stable}, first blow-ups {blowups:?}: the conditions must \
         partition the space"
    );
    blowups.into_iter().next()
}

/// What the numeric analysis of the program with the symbols set says.
fn numeric_verdict(rep: &ScaleReport) -> Option<(String, Option<usize>)> {
    if rep.regime.stable {
        None
    } else {
        let (name, step, _) = rep
            .regime
            .blowup
            .clone()
            .expect("an unstable program blows up");
        Some((name, step))
    }
}

fn sets_of(point: &Point, fixed: &[&str]) -> Vec<String> {
    let mut sets: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
    sets.extend(point.iter().map(|(s, v)| format!("{s}={}", text(v))));
    sets
}

/// Every quarter point of the box (inclusive numerator ranges, one per symbol).
fn quarter_grid(names: &[&str], ranges: &[(i64, i64)]) -> Vec<Point> {
    let mut points = vec![Point::new()];
    for (name, (lo, hi)) in names.iter().zip(ranges) {
        points = points
            .into_iter()
            .flat_map(|p| {
                (*lo..=*hi).map(move |k| {
                    let mut p = p.clone();
                    p.insert(name.to_string(), q(k, 4));
                    p
                })
            })
            .collect();
    }
    points
}

/// On boundary points of a quarter grid of the shipped program, "stable" and "first
/// blow-up is X" agree with the numeric analysis. Before boundaries were made exact,
/// `first blow-up is f_0 ⟺ a3 + b3 <= 1/2` claimed a blow-up at a3 + b3 = 1/2, where
/// f_0 = Θ(1).
#[test]
fn first_blow_ups_agree_with_the_numeric_analysis_on_their_boundaries() {
    // A few evenly spaced points per outcome: the numeric analysis of a program that
    // trains takes up to a second (it refines the order of every vanishing limit).
    check_boundary_points(3, 3);
}

/// The same on many more boundary points (about 200 numeric analyses).
#[test]
#[ignore = "slow: about 200 numeric analyses"]
fn first_blow_ups_agree_with_the_numeric_analysis_on_many_boundary_points() {
    check_boundary_points(30, 40);
}

/// Checks evenly spaced boundary points of each outcome the symbolic conditions give:
/// at most `stable` stable points and `blowup` points per first blow-up.
fn check_boundary_points(stable: usize, blowup: usize) {
    let rep = shipped_report();
    let planes = boundaries(rep);
    let grid = quarter_grid(
        &["a1", "a2", "a3", "b3", "c"],
        &[(-3, 1), (-1, 3), (0, 3), (0, 3), (-2, 3)],
    );
    let on_boundary: Vec<&Point> = grid
        .iter()
        .filter(|p| planes.iter().any(|(k, c)| value_at(k, c, p) == q(0, 1)))
        .collect();
    let mut groups: BTreeMap<Option<(String, Option<usize>)>, Vec<&Point>> = BTreeMap::new();
    for point in on_boundary {
        groups
            .entry(symbolic_verdict(rep, point))
            .or_default()
            .push(point);
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut f0_edge = 0;
    for (got, points) in &groups {
        let most = if got.is_none() { stable } else { blowup };
        for point in points.iter().step_by(points.len().div_ceil(most)) {
            let numeric = analyze(&common::shipped(
                "mlp_abc_symbolic.tp",
                &sets_of(point, &[]),
            ))
            .expect("numeric analysis");
            assert_eq!(got, &numeric_verdict(&numeric), "at {point:?}");
            let label = got.clone().map_or("stable".to_string(), |(name, _)| name);
            *seen.entry(label).or_default() += 1;
            if &point["a3"] + &point["b3"] == q(1, 2) {
                f0_edge += 1;
            }
        }
    }
    // The checked points reach every outcome, and the f_0 boundary itself.
    for (name, _, _) in &rep.regime.first_blowups {
        assert!(
            seen.contains_key(name),
            "no checked point blows up at {name}: {seen:?}"
        );
    }
    assert!(seen.contains_key("stable"), "{seen:?}");
    assert!(f0_edge >= 2, "only {f0_edge} points with a3 + b3 = 1/2");
}

/// Compiles `text` with `sets` and checks the symbolic conditions against the numeric
/// analysis at every point.
fn check_points(text: &str, sets: &[&str], symbol: &str, points: &[Rational]) -> ScaleReport {
    let sets_owned: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let overrides = tp::parse_overrides(&sets_owned).expect("sets");
    let program = tp::compile("t.tp", text, &overrides).expect("program");
    let rep = analyze(&program).expect("symbolic analysis");
    for x in points {
        let point = Point::from([(symbol.to_string(), x.clone())]);
        let all = sets_of(&point, sets);
        let numeric =
            tp::compile("t.tp", text, &tp::parse_overrides(&all).expect("sets")).expect("program");
        let want = numeric_verdict(&analyze(&numeric).expect("numeric analysis"));
        assert_eq!(symbolic_verdict(&rep, &point), want, "at {symbol} = {x}");
    }
    rep
}

/// The shipped program's text, for variants with fewer symbols.
fn shipped_text() -> String {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("programs/mlp_abc_symbolic.tp");
    std::fs::read_to_string(path).expect("program text")
}

/// SP with a symbolic learning-rate exponent c: stable ⟺ c ≥ 1 (Yang–Hu), and at
/// c = −1/2, 1/2, 1 the quantity that reaches exponent 0 is Θ(1), so the next one in
/// line blows up first (or none, at c = 1).
#[test]
fn standard_parameterization_with_a_symbolic_learning_rate() {
    let text = "width n\nparam L = 3, eta = 0.5\nparam c symbolic\nactivation act = tanh\n\
        input xi0 = [1.0, 0.5, -0.5] target 1.0\nmlp net(depth = L, act = act, bias = none)\n\
        parameterization sp(c = c)\ntrain sgd(steps = 3, lr = eta, loss = mse, data = [xi0])\n";
    let points: Vec<Rational> = (-6..=8).map(|k| q(k, 4)).collect();
    let rep = check_points(text, &[], "c", &points);
    assert_eq!(rep.regime.stable_cond.to_string(), "1 <= c");
    let at = |x: Rational| symbolic_verdict(&rep, &Point::from([("c".to_string(), x)]));
    assert_eq!(at(q(1, 1)), None, "c = 1 is stable");
    assert_eq!(at(q(1, 2)).map(|b| b.0), Some("f_1".to_string()));
    assert_eq!(at(q(-1, 2)).map(|b| b.0), Some("h2_1".to_string()));
}

/// A face that no other region covers: with a2 = −a1, the exponent of h2_1 is
/// |2a1 + 1/2| and that of h1_1 is −2a1 − 1/2, so h1_1 blows up first for a1 < −1/4,
/// h2_1 for a1 > −1/4, and at a1 = −1/4 both are Θ(1): what blows up there is found
/// only by analysing the hyperplane itself (it is f_1).
#[test]
fn a_boundary_no_region_continues_past_is_analysed_on_its_own() {
    let text = shipped_text();
    let sets = ["a2=-a1", "a3=1/2", "b3=1/2", "c=-1/2"];
    let points: Vec<Rational> = (-4..=2).map(|k| q(k, 4)).collect();
    let rep = check_points(&text, &sets, "a1", &points);
    let at = symbolic_verdict(&rep, &Point::from([("a1".to_string(), q(-1, 4))]));
    assert_eq!(at, Some(("f_1".to_string(), Some(1))));
}

/// The JSON `regions` of every condition describe the same set as the condition, at
/// every point of a quarter grid that crosses their boundaries (the inequalities are
/// read from the JSON strings, not from the library's own types).
#[test]
fn json_regions_describe_the_same_sets_as_the_conditions() {
    let rep = shipped_report();
    let json = rep.to_json();
    assert_eq!(json["schema"], "tp-scale/1");
    let regime = &json["regime"];
    let mut pairs: Vec<(&serde_json::Value, &Cond)> = vec![
        (&regime["stable_condition"], &rep.regime.stable_cond),
        (&regime["nontrivial_condition"], &rep.regime.nontrivial_cond),
        (
            &regime["feature_learning_condition"],
            &rep.regime.feature_learning_cond,
        ),
    ];
    let blowups = regime["first_blowups"].as_array().expect("first_blowups");
    assert_eq!(blowups.len(), rep.regime.first_blowups.len());
    for (entry, (name, _, cond)) in blowups.iter().zip(&rep.regime.first_blowups) {
        assert_eq!(entry["name"], name.as_str());
        pairs.push((entry, cond));
    }
    let layers = regime["layers"].as_array().expect("layers");
    for (entry, (_, cond)) in layers.iter().zip(&rep.regime.layer_conds) {
        pairs.push((entry, cond));
    }
    for (entry, cond) in &pairs {
        assert_eq!(entry["condition"], cond.to_string());
    }
    let grid = quarter_grid(
        &["a1", "a2", "a3", "b3", "c"],
        &[(-2, 1), (-1, 2), (0, 3), (0, 2), (-2, 3)],
    );
    for point in &grid {
        for (entry, cond) in &pairs {
            let want = cond.holds_at(point).expect("condition evaluates");
            assert_eq!(
                json_holds(entry, point),
                want,
                "{} at {point:?}",
                entry["condition"]
            );
        }
    }
    // A symbolic regime is neither "stable" nor "unstable" as a whole.
    assert!(regime["stable"].is_null());
    assert!(regime["feature_learning"].is_null());
}

/// Whether a point lies in the union of conjunctions of a JSON condition.
fn json_holds(entry: &serde_json::Value, point: &Point) -> bool {
    let union = entry["regions"].as_array().expect("regions");
    union.iter().any(|conj| {
        conj.as_array().expect("a conjunction").iter().all(|ineq| {
            let rational = |v: &serde_json::Value| {
                parse_rational(v.as_str().expect("a rational string")).expect("a rational")
            };
            let mut value = rational(&ineq["constant"]);
            for (s, k) in ineq["coeffs"].as_object().expect("coeffs") {
                value += rational(k) * &point[s];
            }
            match ineq["relation"].as_str().expect("relation") {
                ">=" => value >= q(0, 1),
                ">" => value > q(0, 1),
                "=" => value == q(0, 1),
                other => panic!("unknown relation {other}"),
            }
        })
    })
}
