//! The mean-field power counting, schedule and toy closed forms against the theorems of
//! De Bortoli, Durmus, Fontaine & Şimşekli (2020) and independent computations.

use std::collections::BTreeMap;
use tp::exponent::{Exponent, Rational};
use tp::ir::{Expr, ValueId, Var};
use tp::meanfield::derive::{derive, MfMutation, MfRegime, SpreadLaw};
use tp::meanfield::horizon::{gamma_step, steps_to_horizon};
use tp::meanfield::toy::Toy;
use tp::meanfield::{Data, Formula, InitLaw, Loss, MeanFieldProgram, MfError, XLaw};
use tp::report::meanfield::{equations_text, limit_json, scale_json, scale_text, show_json};

fn q(n: i64, d: i64) -> Rational {
    Rational::new(n.into(), d.into())
}

fn formula(expr: Expr, text: &str) -> Formula {
    Formula {
        expr,
        text: text.into(),
    }
}

/// The linear–Gaussian toy: F = w1 x1, V = λ w1²/2 with λ = 1/10, y = 2 x1 + 0.5 ε.
fn toy_program(alpha: Exponent, beta: Exponent) -> MeanFieldProgram {
    let w = Expr::Value(ValueId(0));
    let x = Expr::Value(ValueId(1));
    let unit = Expr::mul(w.clone(), x.clone());
    let penalty = Expr::mul(Expr::Const(0.05), Expr::pow(w.clone(), q(2, 1)));
    let d = |e: &Expr| e.diff(Var::Value(ValueId(0))).expect("differentiable");
    let mut symbols: Vec<String> = alpha
        .terms()
        .keys()
        .chain(beta.terms().keys())
        .cloned()
        .collect();
    symbols.dedup();
    MeanFieldProgram {
        title: Some("linear toy".into()),
        size: "N".into(),
        dim: 1,
        x_dim: 1,
        init: InitLaw::Gaussian {
            mean: vec![0.0],
            std: 1.0,
        },
        unit_grad: vec![d(&unit)],
        unit: formula(unit, "w1*x1"),
        penalty_grad: vec![d(&penalty)],
        penalty: formula(penalty, "0.05*w1^2"),
        loss: Loss::Square,
        data: Data::Teacher {
            x_law: XLaw::Gaussian,
            target: formula(Expr::mul(Expr::Const(2.0), x), "2*x1"),
            noise: 0.5,
        },
        batch: 1,
        gamma: q(1, 10),
        alpha,
        beta,
        horizon: q(10, 1),
        symbols,
        activations: Vec::new(),
    }
}

fn numeric(alpha: Rational, beta: Rational) -> MeanFieldProgram {
    toy_program(Exponent::constant(alpha), Exponent::constant(beta))
}

/// A nonlinear unit, tanh(w1 x1) w2: its gradient reads w.
fn nonlinear_program() -> MeanFieldProgram {
    let mut p = numeric(q(0, 1), q(1, 1));
    let w1 = Expr::Value(ValueId(0));
    let w2 = Expr::Value(ValueId(1));
    let x = Expr::Value(ValueId(2));
    let unit = Expr::mul(
        Expr::call(tp::ir::Func::Tanh, Expr::mul(w1.clone(), x.clone())),
        w2.clone(),
    );
    p.dim = 2;
    p.unit_grad = (0..2)
        .map(|i| unit.diff(Var::Value(ValueId(i))).expect("differentiable"))
        .collect();
    p.unit = formula(unit, "tanh(w1*x1)*w2");
    p.penalty = formula(Expr::Const(0.0), "");
    p.penalty_grad = vec![Expr::Const(0.0), Expr::Const(0.0)];
    p.data = Data::Teacher {
        x_law: XLaw::Gaussian,
        target: formula(Expr::Value(ValueId(2)), "x1"),
        noise: 0.0,
    };
    p.init = InitLaw::Gaussian {
        mean: vec![0.0, 0.0],
        std: 1.0,
    };
    p
}

#[test]
fn rate_exponents_follow_theorems_1_and_2() {
    let cases = [
        ((0, 1), (0, 1), q(-1, 1)),
        ((0, 1), (1, 2), q(-1, 2)),
        ((0, 1), (3, 4), q(-1, 4)),
        ((1, 2), (3, 4), q(-1, 2)),
        ((1, 2), (1, 2), q(-1, 1)),
        ((0, 1), (1, 1), q(-1, 1)),
        ((1, 2), (1, 1), q(-1, 1)),
    ];
    for ((an, ad), (bn, bd), rate) in cases {
        let d = derive(&numeric(q(an, ad), q(bn, bd)), None);
        assert_eq!(
            d.leading_rate,
            Some(rate.clone()),
            "alpha {an}/{ad} beta {bn}/{bd}"
        );
        let expected = if bn == bd {
            MfRegime::Sde
        } else {
            MfRegime::Ode
        };
        assert_eq!(d.regime, Some(expected));
        // Theorem 2 has the single term N^-1; Theorem 1 adds the noise term over M.
        assert_eq!(d.rate_terms.len(), if bn == bd { 1 } else { 2 });
        assert_eq!(d.phases.len(), 1, "numeric α, β: one phase");
        assert_eq!(d.phases[0].condition, tp::exponent::Cond::True);
        assert_eq!(d.phases[0].rate.value(), Some(rate));
    }
}

/// The corrections a fit must allow: the Euler grid's relative O(h) on the noise term
/// (h ∝ N^e, e = (β − 1)/(1 − α), so N^{r + e}) in the ODE regime only, where h shrinks
/// with N, and the next order N^{-2} of the chaos term N^{-1}; each exponent once.
#[test]
fn corrections_are_the_grid_and_the_next_order_in_one_over_n() {
    use tp::meanfield::derive::Origin;
    let cases = [
        // (alpha, beta, expected (exponent, origin) list)
        (
            (0, 1),
            (1, 2),
            vec![(q(-1, 1), Origin::Grid), (q(-2, 1), Origin::NextOrder)],
        ),
        (
            (1, 2),
            (3, 4),
            vec![(q(-1, 1), Origin::Grid), (q(-2, 1), Origin::NextOrder)],
        ),
        (
            (0, 1),
            (3, 4),
            vec![(q(-1, 2), Origin::Grid), (q(-2, 1), Origin::NextOrder)],
        ),
        // e = −1: the grid's N^-2 and the next order coincide.
        ((1, 2), (1, 2), vec![(q(-2, 1), Origin::Grid)]),
        // The SDE's grid does not depend on N.
        ((0, 1), (1, 1), vec![(q(-2, 1), Origin::NextOrder)]),
        ((1, 2), (1, 1), vec![(q(-2, 1), Origin::NextOrder)]),
    ];
    for ((an, ad), (bn, bd), expected) in cases {
        let d = derive(&numeric(q(an, ad), q(bn, bd)), None);
        let got: Vec<(Rational, Origin)> = d
            .corrections
            .iter()
            .map(|c| (c.exponent.clone(), c.origin))
            .collect();
        assert_eq!(got, expected, "alpha {an}/{ad} beta {bn}/{bd}");
    }
    // A rate off by 1/4 moves the corrections with the terms they correct.
    let d = derive(&numeric(q(0, 1), q(1, 2)), Some(MfMutation::RateQuarter));
    let got: Vec<Rational> = d.corrections.iter().map(|c| c.exponent.clone()).collect();
    assert_eq!(got, vec![q(-5, 4), q(-9, 4)]);
}

#[test]
fn noise_exponent_is_exact_and_prints_as_a_ratio() {
    let sym = toy_program(Exponent::symbol("alpha"), Exponent::symbol("beta"));
    let d = derive(&sym, None);
    assert_eq!(d.noise_exponent.to_string(), "(beta - 1)/(1 - alpha)");
    assert_eq!(d.regime, None);
    assert!(d.rate_terms.is_empty() && d.leading_rate.is_none());
    let d = derive(&numeric(q(1, 3), q(1, 2)), None);
    // (1/2 − 1)/(1 − 1/3) = −3/4.
    assert_eq!(d.noise_exponent.value(), Some(q(-3, 4)));
    assert_eq!(d.noise_exponent.to_string(), "-3/4");
}

#[test]
fn symbolic_phases_agree_with_the_numeric_derivation_on_a_grid() {
    let sym = toy_program(Exponent::symbol("alpha"), Exponent::symbol("beta"));
    let ds = derive(&sym, None);
    assert_eq!(ds.phases.len(), 3);
    let texts: Vec<String> = ds.phases.iter().map(|p| p.condition.to_string()).collect();
    assert_eq!(texts[0], "beta = 1");
    for a in 0..8 {
        for b in 0..=8 {
            let (alpha, beta) = (q(a, 8), q(b, 8));
            let point: BTreeMap<String, Rational> = [
                ("alpha".to_string(), alpha.clone()),
                ("beta".to_string(), beta.clone()),
            ]
            .into_iter()
            .collect();
            let holding: Vec<_> = ds
                .phases
                .iter()
                .filter(|p| p.condition.holds_at(&point) == Some(true))
                .collect();
            assert_eq!(
                holding.len(),
                1,
                "the phases partition the domain at {a}/8, {b}/8"
            );
            let phase = holding[0];
            let dn = derive(&numeric(alpha, beta), None);
            assert_eq!(Some(phase.regime), dn.regime, "{a}/8, {b}/8");
            assert_eq!(phase.rate.at(&point), dn.leading_rate, "{a}/8, {b}/8");
        }
    }
    // Only α symbolic: β = 3/4 leaves two phases, split at α = 3/4.
    let half = toy_program(Exponent::symbol("alpha"), Exponent::constant(q(3, 4)));
    let dh = derive(&half, None);
    assert_eq!(dh.phases.len(), 2);
    assert!(dh.phases.iter().all(|p| p.regime == MfRegime::Ode));
}

#[test]
fn horizon_reference_table() {
    let with = |gamma: Rational, beta: Rational, horizon: i64| {
        let mut p = numeric(q(0, 1), beta);
        p.gamma = gamma;
        p.horizon = q(horizon, 1);
        p
    };
    let cases: [(Rational, Rational, i64, u64, u64); 8] = [
        (q(1, 1), q(1, 1), 100, 1000, 100),
        (q(1, 1), q(3, 4), 100, 1_000_000, 3162),
        (q(1, 1), q(1, 2), 100, 10_000, 10_000),
        (q(1, 10), q(1, 1), 10_000, 1000, 100_000),
        (q(1, 10), q(3, 4), 10_000, 5000, 840_896),
        (q(1, 10), q(3, 4), 10_000, 10_000, 1_000_000),
        (q(1, 10), q(3, 4), 10_000, 50_000, 1_495_348),
        (q(1, 1), q(0, 1), 100, 100, 10_000),
    ];
    for (gamma, beta, horizon, n, expected) in cases {
        let p = with(gamma, beta, horizon);
        assert_eq!(steps_to_horizon(&p, n), Ok(expected), "N = {n}");
    }
    // Floating point gets the exact integer case wrong; the exact count does not.
    let p = with(q(1, 1), q(1, 2), 100);
    let step = gamma_step(&p, 10_000).expect("numeric");
    assert_eq!(step.exact(), Some(q(1, 100)));
    assert_eq!(step.to_string(), "1/100");
    let step = gamma_step(&with(q(1, 10), q(3, 4), 1), 5000).expect("numeric");
    assert_eq!(step.exact(), None);
    assert_eq!(step.to_string(), "1/10 * 5000^(-1/4)");
    assert!((step.value - 0.1 * 5000f64.powf(-0.25)).abs() < 1e-17);
}

#[test]
fn horizon_with_decay_matches_an_independent_computation() {
    // α = 1/2, γ = 1/10, β = 3/4, N = 10⁴: γ² N^{-1/2} = 10⁻⁴ exactly.
    let mut p = numeric(q(1, 2), q(3, 4));
    p.horizon = q(100, 1);
    assert_eq!(steps_to_horizon(&p, 10_000), Ok(1_000_000));
    let mut checked = 0;
    for (an, ad) in [(1, 3), (1, 2), (2, 5), (1, 4)] {
        for (bn, bd) in [(1, 2), (3, 4), (1, 1), (2, 3)] {
            for (gn, gd) in [(1, 2), (3, 10), (1, 1)] {
                for n in [10u64, 300, 4096, 77_777] {
                    let mut p = numeric(q(an, ad), q(bn, bd));
                    p.gamma = q(gn, gd);
                    p.horizon = q(7, 1);
                    let (a, b, g) = (
                        an as f64 / ad as f64,
                        bn as f64 / bd as f64,
                        gn as f64 / gd as f64,
                    );
                    // x = T γ^{−1/(1−α)} N^{(1−β)/(1−α)} in logarithms.
                    let ln_x =
                        7f64.ln() - g.ln() / (1.0 - a) + (1.0 - b) / (1.0 - a) * (n as f64).ln();
                    let x = ln_x.exp();
                    if x > 5e7 {
                        assert!(matches!(
                            steps_to_horizon(&p, n),
                            Ok(_) | Err(MfError::TooManySteps { .. })
                        ));
                        continue;
                    }
                    if (x - x.round()).abs() < 1e-6 * x.max(1.0) {
                        continue;
                    }
                    assert_eq!(
                        steps_to_horizon(&p, n),
                        Ok(x.floor() as u64),
                        "{an}/{ad} {bn}/{bd} {gn}/{gd} {n}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn horizon_refusals() {
    let sym = toy_program(Exponent::zero(), Exponent::symbol("beta"));
    assert_eq!(
        steps_to_horizon(&sym, 100),
        Err(MfError::Symbolic("beta".into()))
    );
    let err = gamma_step(&sym, 100).expect_err("symbolic");
    assert!(err.to_string().contains("--set"), "{err}");
    let mut p = numeric(q(0, 1), q(0, 1));
    p.gamma = q(1, 1);
    p.horizon = q(10_000, 1);
    // n_T = T N = 10⁹ > 10⁸.
    let err = steps_to_horizon(&p, 100_000).expect_err("too many");
    assert!(matches!(err, MfError::TooManySteps { .. }), "{err}");
    assert!(err.to_string().contains("lower T or N"), "{err}");
    let p = numeric(q(1, 1), q(1, 1));
    assert!(matches!(
        steps_to_horizon(&p, 10),
        Err(MfError::OutOfRange { .. })
    ));
}

#[test]
fn common_noise_is_detected_exactly() {
    let d = derive(&numeric(q(0, 1), q(1, 1)), None);
    assert!(d.common_noise_exact);
    assert_eq!(d.spread, SpreadLaw::OdeExact);
    let d = derive(&nonlinear_program(), None);
    assert!(!d.common_noise_exact);
    assert_eq!(d.spread, SpreadLaw::Limit);
    assert!(Toy::detect(&nonlinear_program()).is_none());
}

#[test]
fn seed_variance_terms_and_temperature() {
    let d = derive(&numeric(q(0, 1), q(3, 4)), None);
    let exps = |t: &[tp::meanfield::derive::VarianceTerm]| -> Vec<Option<Rational>> {
        t.iter().map(|t| t.exponent.value()).collect()
    };
    assert_eq!(
        exps(&d.mean_variance_sgd),
        vec![Some(q(-1, 4)), Some(q(-1, 1))]
    );
    assert_eq!(
        exps(&d.mean_variance_eq6),
        vec![Some(q(-5, 4)), Some(q(-1, 1))]
    );
    assert!(d.temperature.is_none(), "no temperature below beta = 1");
    let d = derive(&numeric(q(1, 2), q(1, 1)), None);
    let t = d.temperature.expect("beta = 1");
    // γ^{1/(1−α)}/M = (1/10)² = 1/100.
    assert_eq!(t.exact(), Some(q(1, 100)));
    let d = derive(&numeric(q(1, 3), q(1, 1)), None);
    let t = d.temperature.expect("beta = 1");
    assert_eq!(t.exact(), None);
    assert_eq!(t.to_string(), "(1/10)^(3/2)");
}

#[test]
fn proposition_5_applies_only_at_alpha_zero_beta_one() {
    let d = derive(&numeric(q(0, 1), q(1, 1)), None);
    assert!(d.prop5.applies, "{}", d.prop5.reason);
    assert!(d.prop5.reason.contains("exact"), "{}", d.prop5.reason);
    assert!(!derive(&numeric(q(1, 2), q(1, 1)), None).prop5.applies);
    assert!(!derive(&numeric(q(0, 1), q(1, 2)), None).prop5.applies);
    assert!(!derive(&nonlinear_program(), None).prop5.applies);
    let mut flat = numeric(q(0, 1), q(1, 1));
    flat.penalty_grad = vec![Expr::Const(0.0)];
    assert!(!derive(&flat, None).prop5.applies);
}

#[test]
fn mutations_change_exactly_what_they_should() {
    for m in MfMutation::all() {
        assert_eq!(MfMutation::from_name(m.name()), Some(m));
    }
    assert_eq!(MfMutation::from_name("nope"), None);
    let points = [
        (q(0, 1), q(1, 1)),
        (q(0, 1), q(3, 4)),
        (q(1, 2), q(1, 2)),
        (q(1, 2), q(3, 4)),
        (q(0, 1), q(0, 1)),
    ];
    for (a, b) in points {
        let prog = numeric(a.clone(), b.clone());
        let base = derive(&prog, None);
        // rate-quarter: every rate exponent −1/4, nothing else.
        let m = derive(&prog, Some(MfMutation::RateQuarter));
        assert!(MfMutation::RateQuarter.applies_to(&base));
        for (x, y) in base.rate_terms.iter().zip(&m.rate_terms) {
            assert_eq!(&y.exponent, &(x.exponent.clone() - q(1, 4)));
        }
        assert_eq!(
            m.leading_rate,
            base.leading_rate.clone().map(|r| r - q(1, 4))
        );
        let mut undo = m.clone();
        undo.rate_terms = base.rate_terms.clone();
        undo.corrections = base.corrections.clone();
        undo.leading_rate = base.leading_rate.clone();
        undo.phases = base.phases.clone();
        undo.mutation = None;
        assert_eq!(undo, base);
        // independent-noise: the literal-SGD terms become eq. (6)'s, the exact ODE
        // spread becomes the SDE's.
        let m = derive(&prog, Some(MfMutation::IndependentNoise));
        assert_eq!(m.mean_variance_sgd, base.mean_variance_eq6);
        assert_eq!(m.spread, SpreadLaw::Sde);
        let mut undo = m.clone();
        undo.mean_variance_sgd = base.mean_variance_sgd.clone();
        undo.spread = base.spread;
        undo.mutation = None;
        assert_eq!(undo, base);
        // It is testable where the leading exponent moves (β > α) or the SDE spread
        // differs from the ODE's (β = 1).
        assert_eq!(
            MfMutation::IndependentNoise.applies_to(&base),
            b > a || b == q(1, 1),
            "{a} {b}"
        );
        // stationary-sign: only where Proposition 5 applies.
        let m = derive(&prog, Some(MfMutation::StationarySign));
        assert_eq!(
            MfMutation::StationarySign.applies_to(&base),
            base.prop5.applies
        );
        assert_eq!(
            m.stationary_sign,
            if base.prop5.applies { -1.0 } else { 1.0 }
        );
        let mut undo = m.clone();
        undo.stationary_sign = 1.0;
        undo.mutation = None;
        assert_eq!(undo, base);
    }
    // The nonlinear unit has no exact common noise: independent-noise leaves the
    // spread alone.
    let d = derive(&nonlinear_program(), Some(MfMutation::IndependentNoise));
    assert_eq!(d.spread, SpreadLaw::Limit);
}

#[test]
fn toy_is_detected_with_its_parameters() {
    let t = Toy::detect(&numeric(q(0, 1), q(1, 1))).expect("toy");
    assert_eq!((t.a, t.lambda, t.sigma), (2.0, 0.1, 0.5));
    assert_eq!((t.s_xx, t.var_x2, t.gamma, t.batch), (1.0, 2.0, 0.1, 1.0));
    assert_eq!((t.m0, t.v0), (0.0, 1.0));
    let mut u = numeric(q(0, 1), q(1, 1));
    u.data = Data::Teacher {
        x_law: XLaw::Uniform,
        target: formula(
            Expr::mul(Expr::Const(-1.5), Expr::Value(ValueId(1))),
            "-1.5*x1",
        ),
        noise: 0.0,
    };
    let t = Toy::detect(&u).expect("toy");
    assert_eq!((t.a, t.s_xx, t.var_x2), (-1.5, 1.0 / 3.0, 4.0 / 45.0));
    // A nonlinear teacher is not the toy.
    let mut nl = numeric(q(0, 1), q(1, 1));
    nl.data = Data::Teacher {
        x_law: XLaw::Gaussian,
        target: formula(Expr::pow(Expr::Value(ValueId(1)), q(3, 1)), "x1^3"),
        noise: 0.0,
    };
    assert!(Toy::detect(&nl).is_none());
    assert!(Toy::detect(&toy_program(Exponent::zero(), Exponent::symbol("beta"))).is_none());
}

/// Var((m x − y) x) by Monte Carlo with a fixed seed, against Σ(m).
#[test]
fn toy_noise_covariance_matches_gaussian_moments() {
    use rand::{Rng, SeedableRng};
    use rand_distr::StandardNormal;
    let t = Toy::detect(&numeric(q(0, 1), q(1, 1))).expect("toy");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let m = 0.5;
    let n = 400_000;
    let (mut s1, mut s2) = (0.0, 0.0);
    for _ in 0..n {
        let x: f64 = rng.sample(StandardNormal);
        let e: f64 = rng.sample(StandardNormal);
        let y = t.a * x + t.sigma * e;
        let g = (m * x - y) * x;
        s1 += g;
        s2 += g * g;
    }
    let mean = s1 / n as f64;
    let var = s2 / n as f64 - mean * mean;
    let expected = t.sigma(m);
    // (m−a)²·2 + 0.25 = 4.75; the estimator's sd is about sqrt(Var(g²)/n) ≈ 0.05.
    assert!((var - expected).abs() < 0.25, "{var} vs {expected}");
    assert!((mean - (m - t.a) * t.s_xx).abs() < 0.05, "{mean}");
}

#[test]
fn toy_closed_forms() {
    let t = Toy::detect(&numeric(q(0, 1), q(1, 1))).expect("toy");
    // The mean solves its ODE.
    let h = 1e-5;
    for s in [0.1, 1.0, 5.0] {
        let dm = (t.mean(s + h) - t.mean(s - h)) / (2.0 * h);
        assert!((dm - (-t.rate() * t.mean(s) + t.s_xy())).abs() < 1e-8);
    }
    assert!((t.mean(200.0) - 20.0 / 11.0).abs() < 1e-12);
    // Exact SDE variance against RK4 at α = 0, and the stationary value.
    for s in [0.5, 4.0, 30.0] {
        let (e, r) = (t.variance_sde_exact(s, 0.3), t.variance_sde_rk4(s, 0.3));
        assert!((e - r).abs() < 1e-10, "{e} {r}");
    }
    let v_inf = t.v_infinity().expect("alpha = 0");
    assert!((v_inf - 0.1 * t.sigma(20.0 / 11.0) / 0.2).abs() < 1e-14);
    assert!((t.variance_sde(300.0, 1.0) - v_inf).abs() < 1e-12);
    assert!((t.variance_ode(3.0, 2.0) - 2.0 * (-0.6f64).exp()).abs() < 1e-15);
    // α > 0: the mean and the ODE variance on the clock τ, the SDE variance by RK4
    // checked against its own ODE by finite differences.
    let ta = Toy::detect(&numeric(q(1, 2), q(1, 1))).expect("toy");
    assert!(
        (ta.clock(3.0) - 2.0).abs() < 1e-15,
        "tau(3) = 2(sqrt 4 − 1)"
    );
    let h = 1e-4;
    for s in [0.5, 3.0] {
        let dv = (ta.variance_sde(s + h, 1.0) - ta.variance_sde(s - h, 1.0)) / (2.0 * h);
        let g = (s + 1.0f64).powf(-0.5);
        let rhs = -2.0 * ta.lambda * g * ta.variance_sde(s, 1.0)
            + g * g * ta.temperature() * ta.sigma(ta.mean(s));
        assert!((dv - rhs).abs() < 1e-7, "{dv} {rhs}");
        let dm = (ta.mean(s + h) - ta.mean(s - h)) / (2.0 * h);
        assert!((dm - g * (-ta.rate() * ta.mean(s) + ta.s_xy())).abs() < 1e-7);
    }
    assert!(ta.v_infinity().is_none());
}

#[test]
fn toy_discrete_predictions_tend_to_the_limit() {
    for alpha in [q(0, 1), q(1, 2)] {
        let t = Toy::detect(&numeric(alpha, q(1, 1))).expect("toy");
        let horizon = 2.0;
        let mut last = f64::INFINITY;
        for k in [100u64, 1000, 10_000] {
            let step = horizon / k as f64;
            let m = t.expected_mean_discrete(step, k);
            let err = (m - t.mean(horizon)).abs();
            assert!(err < last, "Euler error decreases");
            last = err;
            let spread = t.sgd_spread_factor(step, k);
            let exact = (-2.0 * t.lambda * t.clock(horizon)).exp();
            assert!(
                (spread - exact).abs() < 2.0 * t.lambda * step * 2.0,
                "{spread} {exact}"
            );
        }
        assert!(last < 1e-3, "{last}");
    }
    // One step by hand: (1 − η λ)² with η = γ_{α,β}(N).
    let t = Toy::detect(&numeric(q(0, 1), q(1, 1))).expect("toy");
    assert!((t.sgd_spread_factor(0.1, 1) - 0.99f64.powi(2)).abs() < 1e-15);
    assert_eq!(t.step(1000.0), 0.1);
    let t34 = Toy::detect(&numeric(q(0, 1), q(3, 4))).expect("toy");
    let exact = gamma_step(&numeric(q(0, 1), q(3, 4)), 10_000)
        .expect("numeric")
        .value;
    assert!((t34.step(10_000.0) - exact).abs() < 1e-16);
}

#[test]
fn reports_are_well_formed() {
    let p = numeric(q(0, 1), q(1, 1));
    let d = derive(&p, None);
    let s = show_json(&p);
    assert_eq!(s["schema"], "tp-meanfield-show/1");
    assert_eq!(s["unit_grad"][0], "x1");
    let j = scale_json(&p, &d);
    assert_eq!(j["schema"], "tp-meanfield-scale/1");
    assert_eq!(j["leading_rate"], "-1");
    assert_eq!(j["steps"][0]["steps"], 100);
    let l = limit_json(&p, &d, Some(serde_json::json!({"x": 1})));
    assert_eq!(l["schema"], "tp-meanfield-limit/1");
    assert_eq!(l["numbers"]["x"], 1);
    assert_eq!(limit_json(&p, &d, None)["numbers"], serde_json::Value::Null);
    let sym = toy_program(Exponent::symbol("alpha"), Exponent::symbol("beta"));
    let j = scale_json(&sym, &derive(&sym, None));
    assert_eq!(j["phases"].as_array().map(Vec::len), Some(3));
}

#[test]
fn snapshot_toy_equations_text() {
    let p = numeric(q(0, 1), q(1, 1));
    insta::assert_snapshot!(equations_text(&p, &derive(&p, None), false));
}

#[test]
fn snapshot_toy_equations_latex() {
    let p = numeric(q(0, 1), q(1, 1));
    insta::assert_snapshot!(equations_text(&p, &derive(&p, None), true));
}

#[test]
fn snapshot_toy_scale_text() {
    let p = numeric(q(0, 1), q(1, 1));
    insta::assert_snapshot!(scale_text(&p, &derive(&p, None)));
}

#[test]
fn snapshot_symbolic_scale_text() {
    let p = toy_program(Exponent::symbol("alpha"), Exponent::symbol("beta"));
    insta::assert_snapshot!(scale_text(&p, &derive(&p, None)));
}

#[test]
fn snapshot_decaying_ode_equations_text() {
    let p = numeric(q(1, 2), q(3, 4));
    insta::assert_snapshot!(equations_text(&p, &derive(&p, None), false));
}
