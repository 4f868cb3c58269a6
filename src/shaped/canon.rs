//! Readable canonical forms of the derived polynomials, in text and LaTeX.
//!
//! A derived drift is a sum of monomials; printed raw it hides its structure. The
//! canonical form is found by exact algebra, never by guessing: when the polynomial is a
//! product P(constants) · Q(Gram entries) it is printed so, with P as the square of a
//! polynomial when it is one (ν's (c₊ − c₋)²); otherwise the terms are collected by their
//! constant part, and each group's rational content and common Gram monomial are pulled
//! out. Expanding the printed form gives back the polynomial (a test checks this through
//! [`Canonical::expand`]).

use super::poly::{Atom, Func, Monomial, Poly};
use crate::exponent::Rational;
use num_integer::Integer;
use num_traits::{One, Signed, Zero};
use std::collections::BTreeMap;

/// Which notation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Plain text (`Phi^ab`, `sqrt(1 - rho^2)`).
    Text,
    /// LaTeX (`\Phi^{\alpha\beta}`).
    Latex,
}

/// A factored form: Σ_groups outer_g · common_g · Σ inner_g.
#[derive(Clone, Debug, PartialEq)]
pub struct Canonical {
    /// The groups, each `(outer, root, common, inner)`: outer = rational × constants,
    /// `root` = Some(L) when the constant part is L² (then outer holds only the rational),
    /// common = a Gram monomial, inner = the remaining polynomial.
    pub groups: Vec<Group>,
}

/// One collected group of a [`Canonical`] form.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// A constant monomial factor (rational times constants to powers).
    pub factor: Poly,
    /// A constant polynomial factor (1 when there is none).
    pub outer: Poly,
    /// A polynomial whose square multiplies the group, if one was found.
    pub squared: Option<Poly>,
    /// The common structural monomial.
    pub common: Poly,
    /// What is left inside the parentheses.
    pub inner: Poly,
}

impl Canonical {
    /// The polynomial this form stands for.
    pub fn expand(&self) -> Poly {
        let mut total = Poly::zero();
        for g in &self.groups {
            let sq = g
                .squared
                .as_ref()
                .map(|s| s.mul(s))
                .unwrap_or_else(|| Poly::int(1));
            total = total.add(&g.factor.mul(&g.outer).mul(&sq).mul(&g.common).mul(&g.inner));
        }
        total
    }
}

/// Whether an atom is structural (a function of the Gram matrix) rather than a constant.
fn structural(atom: &Atom) -> bool {
    matches!(atom, Atom::Gram(..) | Atom::Corr(..) | Atom::Func(..))
}

/// Splits a monomial into its constant part and its structural part.
fn split(m: &Monomial) -> (Monomial, Monomial) {
    let mut constant = BTreeMap::new();
    let mut structure = BTreeMap::new();
    for (atom, e) in &m.0 {
        if structural(atom) {
            structure.insert(atom.clone(), e.clone());
        } else {
            constant.insert(atom.clone(), e.clone());
        }
    }
    (Monomial(constant), Monomial(structure))
}

/// Finds the canonical form of `p`.
pub fn canonical(p: &Poly) -> Canonical {
    if p.is_zero() {
        return Canonical { groups: vec![] };
    }
    // P(constants) · Q(structure)?
    let mut by_structure: BTreeMap<Monomial, Poly> = BTreeMap::new();
    for (m, c) in &p.0 {
        let (k, s) = split(m);
        let e = by_structure.entry(s).or_default();
        *e = e.add(&Poly::monomial(&k).scale(c));
    }
    if by_structure.len() > 1 {
        if let Some(g) = as_product(&by_structure) {
            return Canonical { groups: vec![g] };
        }
    }
    // Otherwise collect by constant part.
    let mut by_constant: BTreeMap<Monomial, Poly> = BTreeMap::new();
    for (m, c) in &p.0 {
        let (k, s) = split(m);
        let e = by_constant.entry(k).or_default();
        *e = e.add(&Poly::monomial(&s).scale(c));
    }
    let mut groups: Vec<Group> = by_constant
        .into_iter()
        .map(|(k, inner)| {
            let (content, common, rest) = pull_out(&inner);
            orient(Group {
                factor: Poly::monomial(&k).scale(&content),
                outer: Poly::int(1),
                squared: None,
                common,
                inner: rest,
            })
        })
        .collect();
    // Higher-degree constant parts first (u² before v), a stable order.
    groups.sort_by_key(|g| std::cmp::Reverse(degree(&g.factor)));
    Canonical { groups }
}

fn degree(p: &Poly) -> Rational {
    p.0.keys()
        .map(|m| {
            m.0.values()
                .filter(|e| e.is_positive())
                .fold(Rational::zero(), |a, e| a + e)
        })
        .max()
        .unwrap_or_else(Rational::zero)
}

/// When every structural monomial's constant polynomial is a rational multiple of one
/// polynomial P, the group P · Σ q_s s, with P's shared constant monomial and content
/// pulled out and P written as a square when it is one.
fn as_product(by_structure: &BTreeMap<Monomial, Poly>) -> Option<Group> {
    let (_, base) = by_structure.iter().next()?;
    let mut inner = Poly::zero();
    for (s, coef) in by_structure {
        let ratio = proportional(coef, base)?;
        inner = inner.add(&Poly::monomial(s).scale(&ratio));
    }
    let (inner_content, common, inner_rest) = pull_out(&inner);
    let outer = base.scale(&inner_content);
    let shared = common_monomial(&outer, true);
    let outer = outer.mul(&inverse_monomial(&shared));
    if let Some(q) = outer.as_rational() {
        return Some(orient(Group {
            factor: Poly::monomial(&shared).scale(&q),
            outer: Poly::int(1),
            squared: None,
            common,
            inner: inner_rest,
        }));
    }
    // A square needs a positive leading coefficient: try P and −P.
    let content = rational_content(&outer);
    let prim = outer.scale(&(Rational::one() / &content));
    let lead_negative = leading(&prim).is_some_and(|(_, c)| c.is_negative());
    let (sign, prim) = if lead_negative {
        (-Rational::one(), prim.neg())
    } else {
        (Rational::one(), prim)
    };
    let group = match sqrt_poly(&prim) {
        Some(root) => Group {
            factor: Poly::monomial(&shared).scale(&(content * sign)),
            outer: Poly::int(1),
            squared: Some(orient_root(root)),
            common,
            inner: inner_rest,
        },
        None => Group {
            factor: Poly::monomial(&shared),
            outer,
            squared: None,
            common,
            inner: inner_rest,
        },
    };
    Some(orient(group))
}

/// The same group with the signs of its factor and inner sum chosen so that the inner
/// sum's first printed term and the outer polynomial's leading term are positive.
fn orient(mut g: Group) -> Group {
    let minus = -Rational::one();
    if first_printed(&g.inner).is_some_and(|c| c.is_negative()) {
        g.inner = g.inner.scale(&minus);
        g.factor = g.factor.scale(&minus);
    }
    if first_printed(&g.outer).is_some_and(|c| c.is_negative()) {
        g.outer = g.outer.scale(&minus);
        g.factor = g.factor.scale(&minus);
    }
    g
}

/// A square root's sign, chosen so that the lexicographically last symbol is positive
/// (c₊ − c₋ rather than c₋ − c₊).
fn orient_root(root: Poly) -> Poly {
    let last = root
        .0
        .iter()
        .filter_map(|(m, c)| m.0.keys().next_back().map(|a| (a.clone(), c.clone())))
        .max_by(|a, b| a.0.cmp(&b.0));
    match last {
        Some((_, c)) if c.is_negative() => root.neg(),
        _ => root,
    }
}

/// The monomial of the exponents every term shares (same sign, smallest magnitude);
/// negative ones only when `negative`. Primes are left in the terms.
fn common_monomial(p: &Poly, negative: bool) -> Monomial {
    let mut common: Option<BTreeMap<Atom, Rational>> = None;
    for m in p.0.keys() {
        common = Some(match common {
            None => {
                m.0.iter()
                    .filter(|(a, e)| !matches!(a, Atom::Prime(_)) && (negative || e.is_positive()))
                    .map(|(a, e)| (a.clone(), e.clone()))
                    .collect()
            }
            Some(c) => c
                .into_iter()
                .filter_map(|(atom, e)| {
                    let other = m.exponent(&atom);
                    if other.is_zero() || other.is_positive() != e.is_positive() {
                        return None;
                    }
                    let low = if other.abs() < e.abs() { other } else { e };
                    Some((atom, low))
                })
                .collect(),
        });
    }
    Monomial(common.unwrap_or_default())
}

fn inverse_monomial(m: &Monomial) -> Poly {
    let mut inv = Poly::int(1);
    for (atom, e) in &m.0 {
        inv = inv.mul(&Poly::atom_pow(atom.clone(), -e.clone()));
    }
    inv
}

/// The coefficient of the term `render_sum` prints first.
fn first_printed(p: &Poly) -> Option<Rational> {
    print_order(p).first().map(|(_, c)| (*c).clone())
}

/// q with a = q·b for rational q.
fn proportional(a: &Poly, b: &Poly) -> Option<Rational> {
    let (m, cb) = b.0.iter().next()?;
    let ca = a.0.get(m)?;
    let q = ca / cb;
    (b.scale(&q) == *a).then_some(q)
}

/// Splits p = content · common monomial · rest, with content a positive rational (the
/// sign goes to the first term of rest... kept positive-leading) and common the
/// monomial of the lowest exponents shared by all terms.
fn pull_out(p: &Poly) -> (Rational, Poly, Poly) {
    let content = rational_content(p);
    let common = common_monomial(p, false);
    let rest = p
        .mul(&inverse_monomial(&common))
        .scale(&(Rational::one() / &content));
    (content, Poly::monomial(&common), rest)
}

/// gcd of numerators / lcm of denominators (positive).
fn rational_content(p: &Poly) -> Rational {
    let mut num = num_bigint::BigInt::zero();
    let mut den = num_bigint::BigInt::one();
    for c in p.0.values() {
        num = num.gcd(c.numer());
        den = den.lcm(c.denom());
    }
    if num.is_zero() {
        return Rational::one();
    }
    Rational::new(num, den)
}

/// Total degree of a monomial (sum of exponents).
fn total_degree(m: &Monomial) -> Rational {
    m.0.values().fold(Rational::zero(), |a, e| a + e)
}

/// The leading term under graded lexicographic order (a monomial order, so the leading
/// term of a product is the product of the leading terms).
fn leading(p: &Poly) -> Option<(Monomial, Rational)> {
    p.0.iter()
        .max_by(|(a, _), (b, _)| {
            total_degree(a)
                .cmp(&total_degree(b))
                .then_with(|| lex(a, b))
        })
        .map(|(m, c)| (m.clone(), c.clone()))
}

fn lex(a: &Monomial, b: &Monomial) -> std::cmp::Ordering {
    // Compare exponent vectors over the union of atoms in atom order.
    let mut atoms: Vec<&Atom> = a.0.keys().chain(b.0.keys()).collect();
    atoms.sort();
    atoms.dedup();
    for atom in atoms {
        let o = a.exponent(atom).cmp(&b.exponent(atom));
        if o != std::cmp::Ordering::Equal {
            return o;
        }
    }
    std::cmp::Ordering::Equal
}

/// The exact square root of a polynomial with positive-leading root, when it exists.
pub fn sqrt_poly(p: &Poly) -> Option<Poly> {
    let (m, c) = leading(p)?;
    let root_c = rational_sqrt(&c)?;
    let mut root_m = BTreeMap::new();
    for (atom, e) in &m.0 {
        root_m.insert(atom.clone(), e / Rational::from_integer(2.into()));
    }
    let lead = Poly::monomial(&Monomial(root_m.clone())).scale(&root_c);
    let mut root = lead.clone();
    let two_lead_inv = {
        let mut inv = BTreeMap::new();
        for (atom, e) in &root_m {
            inv.insert(atom.clone(), -e.clone());
        }
        Poly::monomial(&Monomial(inv))
            .scale(&(Rational::one() / (root_c * Rational::from_integer(2.into()))))
    };
    for _ in 0..p.0.len() + 1 {
        let rest = p.sub(&root.mul(&root));
        if rest.is_zero() {
            return Some(root);
        }
        let (rm, rc) = leading(&rest)?;
        let next = Poly::monomial(&rm).scale(&rc).mul(&two_lead_inv);
        if next.0.keys().any(|k| k.0.values().any(|e| e.is_negative())) {
            return None;
        }
        root = root.add(&next);
    }
    None
}

fn rational_sqrt(q: &Rational) -> Option<Rational> {
    if q.is_negative() {
        return None;
    }
    let n = q.numer().sqrt();
    let d = q.denom().sqrt();
    (&n * &n == *q.numer() && &d * &d == *q.denom()).then(|| Rational::new(n, d))
}

/// How atoms are named when printed.
#[derive(Clone, Debug)]
pub struct Names {
    /// Index names (α, β, γ, δ for indices 0–3).
    pub indices: Vec<(&'static str, &'static str)>,
}

impl Default for Names {
    fn default() -> Self {
        Names {
            indices: vec![
                ("a", "\\alpha"),
                ("b", "\\beta"),
                ("c", "\\gamma"),
                ("d", "\\delta"),
            ],
        }
    }
}

impl Names {
    fn index(&self, i: usize, style: Style) -> String {
        match self.indices.get(i) {
            Some((t, l)) => match style {
                Style::Text => (*t).to_string(),
                Style::Latex => (*l).to_string(),
            },
            None => format!("{}", i + 1),
        }
    }

    fn atom(&self, atom: &Atom, style: Style) -> String {
        let pair = |i: usize, j: usize| format!("{}{}", self.index(i, style), self.index(j, style));
        match (atom, style) {
            (Atom::Eps, Style::Text) => "eps".into(),
            (Atom::Eps, Style::Latex) => "\\varepsilon".into(),
            (Atom::Pi, Style::Text) => "pi".into(),
            (Atom::Pi, Style::Latex) => "\\pi".into(),
            (Atom::Prime(p), _) => p.to_string(),
            (Atom::Sym(s), _) => symbol_name(s, style),
            (Atom::Gram(i, j), Style::Text) => format!("Phi^{}", pair(*i, *j)),
            (Atom::Gram(i, j), Style::Latex) => format!("\\Phi^{{{}}}", pair(*i, *j)),
            (Atom::Corr(..), Style::Text) => "rho".into(),
            (Atom::Corr(..), Style::Latex) => "\\rho".into(),
            (Atom::Func(f, ..), Style::Text) => match f {
                Func::ArcCosKernel => "J1(rho)".into(),
                Func::SqrtOneMinusSq => "sqrt(1 - rho^2)".into(),
                Func::Arccos => "arccos(rho)".into(),
                Func::ArccosNeg => "arccos(-rho)".into(),
            },
            (Atom::Func(f, ..), Style::Latex) => match f {
                Func::ArcCosKernel => "\\bar J_1(\\rho)".into(),
                Func::SqrtOneMinusSq => "\\sqrt{1-\\rho^{2}}".into(),
                Func::Arccos => "\\arccos\\rho".into(),
                Func::ArccosNeg => "\\arccos(-\\rho)".into(),
            },
        }
    }
}

fn symbol_name(s: &str, style: Style) -> String {
    match style {
        Style::Text => s.to_string(),
        Style::Latex => match s {
            "c_plus" => "c_{+}".into(),
            "c_minus" => "c_{-}".into(),
            "log(2)" => "\\log 2".into(),
            other if other.len() > 1 => format!("\\mathrm{{{other}}}"),
            other => other.to_string(),
        },
    }
}

/// Whether printing `atom^e` as a power needs parentheses around the atom.
fn needs_parens(name: &str) -> bool {
    name.contains(' ') || name.contains('^')
}

fn power(name: &str, e: &Rational, style: Style) -> String {
    let half = Rational::new(1.into(), 2.into());
    if *e == half {
        return match style {
            Style::Text => format!("sqrt({name})"),
            Style::Latex => format!("\\sqrt{{{name}}}"),
        };
    }
    if e.is_one() {
        return name.to_string();
    }
    match style {
        Style::Text => {
            let base = if needs_parens(name) {
                format!("({name})")
            } else {
                name.to_string()
            };
            if e.is_integer() {
                format!("{base}^{e}")
            } else {
                format!("{base}^({e})")
            }
        }
        Style::Latex => {
            let base = if name.contains('^') {
                format!("\\left({name}\\right)")
            } else {
                name.to_string()
            };
            format!("{base}^{{{e}}}")
        }
    }
}

/// A monomial with a rational coefficient, as a fraction; `sign` is printed separately.
fn monomial_text(m: &Monomial, c: &Rational, names: &Names, style: Style) -> (bool, String) {
    let negative = c.is_negative();
    let c = c.abs();
    let mut num: Vec<String> = Vec::new();
    let mut den: Vec<String> = Vec::new();
    if !c.numer().is_one() {
        num.push(c.numer().to_string());
    }
    if !c.denom().is_one() {
        den.push(c.denom().to_string());
    }
    // Gram atoms in index order after the constants.
    let mut atoms: Vec<(&Atom, &Rational)> = m.0.iter().collect();
    atoms.sort_by_key(|(a, _)| structural(a));
    for (atom, e) in atoms {
        let name = names.atom(atom, style);
        if e.is_positive() {
            num.push(power(&name, e, style));
        } else {
            den.push(power(&name, &-e.clone(), style));
        }
    }
    let join = |parts: &[String]| match style {
        Style::Text => parts.join(" "),
        Style::Latex => parts.join(" "),
    };
    let top = if num.is_empty() {
        "1".to_string()
    } else {
        join(&num)
    };
    let text = if den.is_empty() {
        top
    } else {
        match style {
            Style::Text => {
                let bottom = join(&den);
                let bottom = if den.len() > 1 {
                    format!("({bottom})")
                } else {
                    bottom
                };
                format!("{top}/{bottom}")
            }
            Style::Latex => format!("\\frac{{{top}}}{{{}}}", join(&den)),
        }
    };
    (negative, text)
}

/// The order in which a sum's terms are printed: fewer correlation functions first
/// (√(1−ρ²) before ρ arccos ρ), then higher degree, positive before negative, then
/// lexicographically.
fn print_order(p: &Poly) -> Vec<(&Monomial, &Rational)> {
    let functions = |m: &Monomial| {
        m.0.keys()
            .filter(|a| matches!(a, Atom::Corr(..) | Atom::Func(..)))
            .count()
    };
    let mut terms: Vec<(&Monomial, &Rational)> = p.0.iter().collect();
    terms.sort_by(|(a, ca), (b, cb)| {
        functions(a)
            .cmp(&functions(b))
            .then_with(|| total_degree(b).cmp(&total_degree(a)))
            .then_with(|| ca.is_negative().cmp(&cb.is_negative()))
            .then_with(|| lex(b, a))
    });
    terms
}

/// A polynomial as a plain sum, in `print_order`.
pub fn render_sum(p: &Poly, names: &Names, style: Style) -> String {
    if p.is_zero() {
        return "0".into();
    }
    let terms = print_order(p);
    let mut out = String::new();
    for (k, (m, c)) in terms.into_iter().enumerate() {
        let (neg, text) = monomial_text(m, c, names, style);
        let text = if text == "1" && !m.0.is_empty() {
            String::new()
        } else {
            text
        };
        match (k, neg) {
            (0, false) => out.push_str(&text),
            (0, true) => out.push_str(&format!("-{text}")),
            (_, false) => out.push_str(&format!(" + {text}")),
            (_, true) => out.push_str(&format!(" - {text}")),
        }
    }
    out
}

fn paren(s: &str, style: Style) -> String {
    match style {
        Style::Text => format!("({s})"),
        Style::Latex => format!("\\left({s}\\right)"),
    }
}

/// The canonical form of `p`, printed.
pub fn render(p: &Poly, names: &Names, style: Style) -> String {
    let canon = canonical(p);
    if canon.groups.is_empty() {
        return "0".into();
    }
    let mut out = String::new();
    for (k, g) in canon.groups.iter().enumerate() {
        let mut factors: Vec<String> = Vec::new();
        let (m, c) = g
            .factor
            .0
            .iter()
            .next()
            .map(|(m, c)| (m.clone(), c.clone()))
            .unwrap_or_default();
        let (negative, text) = monomial_text(&m, &c, names, style);
        if text != "1" {
            factors.push(text);
        }
        if g.outer.0.len() > 1 || g.outer.as_rational().is_none() {
            factors.push(paren(&render_sum(&g.outer, names, style), style));
        }
        if let Some(root) = &g.squared {
            let r = paren(&render_sum(root, names, style), style);
            factors.push(match style {
                Style::Text => format!("{r}^2"),
                Style::Latex => format!("{r}^{{2}}"),
            });
        }
        if !g.common.as_rational().is_some_and(|q| q.is_one()) {
            factors.push(render_sum(&g.common, names, style));
        }
        let inner = render_sum(&g.inner, names, style);
        if g.inner.0.len() > 1 && !factors.is_empty() {
            factors.push(paren(&inner, style));
        } else if inner != "1" || factors.is_empty() {
            factors.push(inner);
        }
        if factors.is_empty() {
            factors.push("1".into());
        }
        let sep = match style {
            Style::Text => " * ",
            Style::Latex => " ",
        };
        let body = factors.join(sep);
        match (k, negative) {
            (0, false) => out.push_str(&body),
            (0, true) => out.push_str(&format!("-{body}")),
            (_, false) => out.push_str(&format!(" + {body}")),
            (_, true) => out.push_str(&format!(" - {body}")),
        }
    }
    out
}
