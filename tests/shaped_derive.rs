//! The shaped-network derivation against the closed forms of Li, Nica & Roy (2022) as
//! corrected (ν's sign; the normalization constant's expansion), exactly: each expected
//! polynomial is built here by hand from the paper's formula, never from tp's output.

use tp::exponent::{Exponent, Rational};
use tp::shaped::canon::{canonical, render, Names, Style};
use tp::shaped::derive::{
    correlation_sde, derive, regimes, weak_rate, Family, ShapedMutation, ShapedRegime,
};
use tp::shaped::{Atom, Func, Poly, ShapedAct, ShapedProgram, SmoothAct};

fn program(act: ShapedAct, p: Exponent) -> ShapedProgram {
    ShapedProgram {
        title: None,
        width: "n".into(),
        depth: "d".into(),
        tau: Rational::from_integer(1.into()),
        symbols: vec![],
        p,
        act,
        activations: vec![],
        inputs: vec!["xa".into(), "xb".into()],
        gram0: vec![vec![1.0, 0.5], vec![0.5, 1.0]],
    }
}

fn relu(c_plus: Poly, c_minus: Poly) -> ShapedProgram {
    program(ShapedAct::Relu { c_plus, c_minus }, Exponent::ratio(1, 2))
}

fn smooth(taylor: [Poly; 4], a: Poly) -> ShapedProgram {
    program(
        ShapedAct::Smooth(SmoothAct {
            name: "taylor".into(),
            act: None,
            taylor,
            normalize: false,
            a,
        }),
        Exponent::ratio(1, 2),
    )
}

fn phi(i: usize, j: usize) -> Poly {
    Poly::atom(Atom::Gram(i, j))
}

fn q(num: i64, den: i64) -> Rational {
    Rational::new(num.into(), den.into())
}

fn symbolic_relu() -> ShapedProgram {
    relu(Poly::sym("c_plus"), Poly::sym("c_minus"))
}

fn symbolic_smooth() -> ShapedProgram {
    smooth(
        [Poly::zero(), Poly::int(1), Poly::sym("u"), Poly::sym("v")],
        Poly::sym("a"),
    )
}

/// (c₊ − c₋)²/(2π) [√(1−ρ²) − ρ arccos ρ]: the corrected ν of the reference notes.
fn corrected_nu() -> Poly {
    let diff = Poly::sym("c_plus").sub(&Poly::sym("c_minus"));
    let bracket = Poly::atom(Atom::Func(Func::SqrtOneMinusSq, 0, 1))
        .sub(&Poly::atom(Atom::Corr(0, 1)).mul(&Poly::atom(Atom::Func(Func::Arccos, 0, 1))));
    diff.mul(&diff)
        .mul(&bracket)
        .mul(&Poly::atom_pow(Atom::Pi, q(-1, 1)))
        .scale(&q(1, 2))
}

#[test]
fn shaped_relu_drift_is_the_corrected_nu() {
    let d = derive(&symbolic_relu(), None).expect("derives");
    assert_eq!(d.family, Family::Relu);
    assert_eq!(d.drift_order, Some(2), "the drift is O(n^-2p)");
    assert_eq!(d.nu.as_ref(), Some(&corrected_nu()));
    let sqrt =
        Poly::atom_pow(Atom::Gram(0, 0), q(1, 2)).mul(&Poly::atom_pow(Atom::Gram(1, 1), q(1, 2)));
    assert_eq!(d.drift_offdiag, sqrt.mul(&corrected_nu()));
    // ν(1) = 0: no drift on the diagonal, at any order computed.
    assert!(d.diag_series.iter().all(Poly::is_zero));
    assert!(d.drift_diag.is_zero());
}

#[test]
fn nu_takes_the_reference_values_and_the_lecture_sign_does_not() {
    let d = derive(&relu(Poly::int(1), Poly::int(0)), None).expect("derives");
    let wrong = derive(
        &relu(Poly::int(1), Poly::int(0)),
        Some(ShapedMutation::LectureNuSign),
    )
    .expect("derives");
    let at = |p: &Poly, rho: f64| {
        p.eval(&|a| match a {
            Atom::Corr(..) => Some(rho),
            Atom::Func(Func::SqrtOneMinusSq, ..) => Some((1.0 - rho * rho).sqrt()),
            Atom::Func(Func::Arccos, ..) => Some(rho.acos()),
            _ => None,
        })
        .expect("numeric")
    };
    let nu = d.nu.as_ref().expect("relu");
    // ν/(c₊−c₋)² at ρ = 1, 0.5, 0, −0.5, −1 (reference §4.2).
    for (rho, want) in [
        (1.0, 0.0),
        (0.5, 0.054499),
        (0.0, 0.159155),
        (-0.5, 0.304499),
        (-1.0, 0.5),
    ] {
        assert!(
            (at(nu, rho) - want).abs() < 5e-6,
            "nu({rho}) = {}",
            at(nu, rho)
        );
    }
    // The misprinted sign gives ν(−1) = −1/2, impossible since cK₁(−1) > −1.
    assert!((at(wrong.nu.as_ref().expect("relu"), -1.0) + 0.5).abs() < 1e-12);
    // n (cK₁(ρ) − ρ) at n = 10^6, c± = ±1, from the exact shaped kernel (reference §4.2).
    let two = derive(&relu(Poly::int(1), Poly::int(-1)), None).expect("derives");
    for (rho, want) in [
        (-0.9, 1.8191),
        (-0.5, 1.2180),
        (0.0, std::f64::consts::FRAC_2_PI),
        (0.3, 0.3655),
        (0.8, 0.05424),
    ] {
        let got = at(two.nu.as_ref().expect("relu"), rho);
        assert!(
            (got - want).abs() < 2e-3 * want.max(0.1),
            "rho {rho}: {got} vs {want}"
        );
    }
}

#[test]
fn smooth_drift_matches_the_expansion_with_the_normalization_constant() {
    let d = derive(&symbolic_smooth(), None).expect("derives");
    let (u, v, a) = (Poly::sym("u"), Poly::sym("v"), Poly::sym("a"));
    let a2_inv = Poly::atom_pow(Atom::Sym("a".into()), q(-2, 1));
    // (φ''²/(4a²))(Φ^{αα}Φ^{ββ} + Φ^{αβ}(2Φ^{αβ} − 3)) + (φ'''/(2a²))Φ^{αβ}(Φ^{αα} + Φ^{ββ} − 2)
    let first = phi(0, 0)
        .mul(&phi(1, 1))
        .add(&phi(0, 1).mul(&phi(0, 1).scale(&q(2, 1)).sub(&Poly::int(3))))
        .mul(&u.mul(&u))
        .scale(&q(1, 4));
    let second = phi(0, 1)
        .mul(&phi(0, 0).add(&phi(1, 1)).sub(&Poly::int(2)))
        .mul(&v)
        .scale(&q(1, 2));
    assert_eq!(d.drift_offdiag, first.add(&second).mul(&a2_inv));
    let b = u.mul(&u).scale(&q(3, 4)).add(&v);
    assert_eq!(d.b.as_ref(), Some(&b));
    // Scalar drift (b/a²) Φ(Φ − 1).
    assert_eq!(
        d.drift_diag,
        b.mul(&a2_inv)
            .mul(&phi(0, 0))
            .mul(&phi(0, 0).sub(&Poly::int(1)))
    );
    // c = 1 − b ε²/a² + O(ε³), with no odd orders (φ_S − x is even at first order).
    let eps2 = Poly::atom_pow(Atom::Eps, q(2, 1));
    assert_eq!(d.c_series, Poly::int(1).sub(&b.mul(&a2_inv).mul(&eps2)));
    let _ = a;
}

#[test]
fn diffusion_is_the_isserlis_covariance() {
    let d = derive(&symbolic_smooth(), None).expect("derives");
    let want = phi(0, 2).mul(&phi(1, 3)).add(&phi(0, 3).mul(&phi(1, 2)));
    assert_eq!(d.diffusion, want);
}

#[test]
fn correlation_sde_follows_from_ito() {
    let d = derive(&symbolic_relu(), None).expect("derives");
    let (drift, variance) = correlation_sde(&d).expect("whole powers");
    let rho = Poly::atom(Atom::Corr(0, 1));
    let one_minus = Poly::int(1).sub(&rho.mul(&rho));
    // dρ = [ν(ρ) − ½ρ(1−ρ²)] dτ + (1−ρ²) dW.
    assert_eq!(
        drift,
        corrected_nu().sub(&rho.mul(&one_minus).scale(&q(1, 2)))
    );
    assert_eq!(variance, one_minus.mul(&one_minus));
}

#[test]
fn mutations_change_what_they_say() {
    let p = symbolic_smooth();
    let right = derive(&p, None).expect("derives");
    let twice = derive(&p, Some(ShapedMutation::DriftTimesTwo)).expect("derives");
    assert_eq!(twice.drift_offdiag, right.drift_offdiag.scale(&q(2, 1)));
    let raw = derive(&p, Some(ShapedMutation::NoNormalization)).expect("derives");
    // Without c the diagonal drift loses its −bΦ part: (3u²/4 + v) Φ² / a².
    let a2_inv = Poly::atom_pow(Atom::Sym("a".into()), q(-2, 1));
    let b = Poly::sym("u")
        .mul(&Poly::sym("u"))
        .scale(&q(3, 4))
        .add(&Poly::sym("v"));
    assert_eq!(
        raw.drift_diag,
        b.mul(&a2_inv).mul(&phi(0, 0)).mul(&phi(0, 0))
    );
}

#[test]
fn the_critical_exponent_is_one_half_and_the_regimes_are_conditions_on_p() {
    let mut p = symbolic_smooth();
    p.p = Exponent::symbol("p");
    let d = derive(&p, None).expect("derives");
    let regs = regimes(&d, &p.p);
    let at = |value: Rational| -> Vec<ShapedRegime> {
        let point = [("p".to_string(), value)].into_iter().collect();
        regs.iter()
            .filter(|(_, c)| c.holds_at(&point) == Some(true))
            .map(|(r, _)| *r)
            .collect()
    };
    assert_eq!(at(q(1, 2)), vec![ShapedRegime::CriticalSde]);
    assert_eq!(at(q(3, 4)), vec![ShapedRegime::Linear]);
    assert_eq!(at(q(1, 4)), vec![ShapedRegime::Degenerate]);
}

#[test]
fn weak_rate_is_derived_from_the_first_mean_correction() {
    // c₊ + c₋ ≠ 0: an ε³ mean term, so the law converges like n^-1/2.
    let d = derive(&relu(Poly::int(0), Poly::int(-1)), None).expect("derives");
    assert!(!d.offdiag_series[3].is_zero());
    assert_eq!(weak_rate(&d), Some(q(1, 2)));
    // c₊ = −c₋: the ε³ term cancels (the normalized φ_S − x is even), rate n^-1.
    let d = derive(&relu(Poly::int(1), Poly::int(-1)), None).expect("derives");
    assert!(d.offdiag_series[3].is_zero());
    assert_eq!(weak_rate(&d), Some(q(1, 1)));
    // Smooth shaping: odd orders vanish by parity.
    let d = derive(&symbolic_smooth(), None).expect("derives");
    assert!(d.offdiag_series[3].is_zero() && d.diag_series[3].is_zero());
    assert_eq!(weak_rate(&d), Some(q(1, 1)));
}

#[test]
fn canonical_forms_expand_back_to_the_derived_polynomials() {
    for prog in [
        symbolic_relu(),
        symbolic_smooth(),
        relu(Poly::int(0), Poly::int(-1)),
    ] {
        let d = derive(&prog, None).expect("derives");
        for p in [&d.drift_offdiag, &d.drift_diag, &d.diffusion, &d.c_series] {
            assert_eq!(&canonical(p).expand(), p);
        }
        if let Some(nu) = &d.nu {
            assert_eq!(&canonical(nu).expand(), nu);
        }
    }
}

#[test]
fn derived_formulas_print_as_in_the_paper() {
    let names = Names::default();
    let relu = derive(&symbolic_relu(), None).expect("derives");
    let smooth = derive(&symbolic_smooth(), None).expect("derives");
    let mut out = String::new();
    for style in [Style::Text, Style::Latex] {
        out.push_str(&format!(
            "nu = {}\nb_ab (relu) = {}\nb_ab (smooth) = {}\nb_aa (smooth) = {}\nSigma = {}\n",
            render(relu.nu.as_ref().expect("relu"), &names, style),
            render(&relu.drift_offdiag, &names, style),
            render(&smooth.drift_offdiag, &names, style),
            render(&smooth.drift_diag, &names, style),
            render(&smooth.diffusion, &names, style),
        ));
    }
    insta::assert_snapshot!(out);
}
