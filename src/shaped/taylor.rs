//! Exact Taylor data of an activation at 0: φ(0), φ'(0), φ''(0), φ'''(0) as [`Poly`]s.
//!
//! The neural covariance SDE of a smoothly shaped network depends on the activation only
//! through φ''(0) and φ'''(0) (after normalization), so those numbers must be exact: a
//! drift coefficient like 6/π for GELU is kept as 6·π⁻¹, never as 1.9098….
//!
//! Built-in activations are recognized by name (and an unchanged body) and read from
//! hand-derived tables. Any other activation is expanded by truncated power-series
//! arithmetic over [`Poly`] coefficients, walking its IR body: sums, products, quotients
//! by a series with an invertible value at 0, powers, elementary functions at the value
//! of their argument, and references to other activations. Float constants of a body
//! (`0.5`, `FRAC_1_SQRT_2`) are turned back into exact numbers when they are one of a few
//! recognizable forms, and refused otherwise.
//!
//! Two transcendental constants that no [`Atom`] names appear at points other than 0:
//! log q and e^q for a rational q (softplus has φ(0) = log 2). They are kept as opaque
//! symbols named `log(q)` and `exp(q)`: a program symbol is an identifier, so these names
//! cannot collide with one, and [`opaque_value`] gives their numeric value.

use super::poly::{Atom, Poly};
use crate::exponent::{format_rational, parse_rational, Rational};
use crate::ir::{Activation, Expr, Func};
use num_bigint::BigInt;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// The highest derivative computed: φ'''.
const ORDER: usize = 3;

/// The deepest chain of activations referring to one another that is followed.
const MAX_NESTING: usize = 16;

/// The largest denominator of a float constant recognized as a fraction.
const MAX_DENOMINATOR: i64 = 1_000_000;

/// Why an activation has no exact Taylor data at 0.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TaylorError {
    /// A non-smooth function is evaluated exactly at its kink or jump.
    #[error("`{function}` is evaluated at {at}, where it is not differentiable")]
    NotSmooth {
        /// The function.
        function: String,
        /// The point, as printed.
        at: String,
    },
    /// A value at the expansion point has no exact form in the algebra.
    #[error(
        "{what} has no exact value here (exact values are rationals, powers of pi and of \
         primes, log and exp of rationals); give the Taylor data directly with `taylor = \
         [phi(0), phi'(0), phi''(0), phi'''(0)]`"
    )]
    NotExact {
        /// What could not be written exactly.
        what: String,
    },
    /// A float constant of the formula is not a recognizable exact number.
    #[error(
        "the constant {value} of the formula is not recognized as an exact number (a \
         fraction with denominator at most 10^6, a square root of one, or either times \
         pi^(±1/2) or pi^(±1))"
    )]
    InexactConstant {
        /// The constant.
        value: f64,
    },
    /// A quotient by a series whose value at 0 is zero or a sum that cannot be inverted.
    #[error("the formula divides by an expression whose value at 0 is {value}, which is {why}")]
    NotInvertible {
        /// The value at 0, as printed.
        value: String,
        /// Why it cannot be inverted.
        why: &'static str,
    },
    /// Something an activation body should not contain.
    #[error(
        "the formula reads {what}, which has no Taylor expansion in the activation's argument"
    )]
    Unsupported {
        /// What was found.
        what: String,
    },
    /// Activations referring to each other too deeply (or in a cycle).
    #[error("activations refer to one another more than {MAX_NESTING} levels deep")]
    TooDeep,
}

/// φ(0), φ'(0), φ''(0), φ'''(0) of `act`, exactly. `acts` are the program's activations,
/// which `act`'s body may refer to.
pub fn taylor_at_zero(act: &Activation, acts: &[Activation]) -> Result<[Poly; 4], TaylorError> {
    if let Some(table) = builtin_table(act) {
        return Ok(table);
    }
    let s = series(act.body(), ORDER, acts, 0)?;
    let mut out: [Poly; 4] = Default::default();
    for (k, slot) in out.iter_mut().enumerate() {
        *slot = s.c[k].scale(&factorial(k));
    }
    Ok(out)
}

/// The exact Taylor data of a built-in activation, when `act` is one: its name is a
/// built-in's and its body is that built-in's (a user may call a formula `gelu`).
fn builtin_table(act: &Activation) -> Option<[Poly; 4]> {
    let name = act.name.as_str();
    if crate::elaborate::builtin_body(name).as_ref() != Some(act.body()) {
        return None;
    }
    builtin_derivatives(name)
}

/// φ(0), φ'(0), φ''(0), φ'''(0) of the built-in activation `name`, derived by hand.
pub fn builtin_derivatives(name: &str) -> Option<[Poly; 4]> {
    let q = Poly::frac;
    let inv_sqrt_pi = || Poly::atom_pow(Atom::Pi, Rational::new((-1).into(), 2.into()));
    Some(match name {
        // x.
        "identity" => [q(0, 1), q(1, 1), q(0, 1), q(0, 1)],
        // tanh x = x − x³/3 + O(x⁵): φ''' = 3!·(−1/3).
        "tanh" => [q(0, 1), q(1, 1), q(0, 1), q(-2, 1)],
        // atan x = x − x³/3 + O(x⁵), the same cubic as tanh.
        "atan" | "arctan" => [q(0, 1), q(1, 1), q(0, 1), q(-2, 1)],
        // sin x = x − x³/6 + O(x⁵).
        "sin" => [q(0, 1), q(1, 1), q(0, 1), q(-1, 1)],
        // cos x = 1 − x²/2 + O(x⁴).
        "cos" => [q(1, 1), q(0, 1), q(-1, 1), q(0, 1)],
        // Every derivative of eˣ is eˣ.
        "exp" => [q(1, 1), q(1, 1), q(1, 1), q(1, 1)],
        // erf x = (2/√π)(x − x³/3 + O(x⁵)): φ' = 2/√π, φ''' = 3!·(−1/3)·2/√π.
        "erf" => [
            q(0, 1),
            inv_sqrt_pi().scale(&rat(2)),
            q(0, 1),
            inv_sqrt_pi().scale(&rat(-4)),
        ],
        // σ(x) = ½ + ½ tanh(x/2) = ½ + x/4 − x³/48 + O(x⁵): φ''' = 3!·(−1/48).
        "sigmoid" => [q(1, 2), q(1, 4), q(0, 1), q(-1, 8)],
        // x Φ(x) with Φ(x) = ½ + x/√(2π) + O(x³): x/2 + x²/√(2π) + O(x⁴), so
        // φ'' = 2/√(2π) = √2·π^(−1/2) and φ''' = 0.
        "gelu" => [
            q(0, 1),
            q(1, 2),
            Poly::atom_pow(Atom::Prime(2), Rational::new(1.into(), 2.into())).mul(&inv_sqrt_pi()),
            q(0, 1),
        ],
        // x σ(x) = x/2 + x²/4 − x⁴/48 + O(x⁶): φ'' = 2·¼, φ''' = 0.
        "silu" => [q(0, 1), q(1, 2), q(1, 2), q(0, 1)],
        // log(1 + eˣ) = log 2 + x/2 + x²/8 − x⁴/192 + O(x⁶) (the integral of σ): φ'' = 2/8.
        "softplus" => [Poly::sym(&log_name(&rat(2))), q(1, 2), q(1, 4), q(0, 1)],
        _ => return None,
    })
}

/// The opaque symbol standing for log q.
fn log_name(q: &Rational) -> String {
    format!("log({})", format_rational(q))
}

/// The opaque symbol standing for e^q.
fn exp_name(q: &Rational) -> String {
    format!("exp({})", format_rational(q))
}

/// The value of an opaque constant `log(q)` or `exp(q)` (see the module notes), or None
/// for any other symbol (a program symbol has no value of its own).
pub fn opaque_value(name: &str) -> Option<f64> {
    let inner = |prefix: &str| {
        name.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(')'))
            .and_then(parse_rational)
            .and_then(|q| q.to_f64())
    };
    if let Some(q) = inner("log(") {
        return Some(q.ln());
    }
    inner("exp(").map(f64::exp)
}

/// Whether a symbol is one of the opaque constants rather than a program symbol.
pub fn is_opaque(name: &str) -> bool {
    opaque_value(name).is_some()
}

fn rat(k: i64) -> Rational {
    Rational::from_integer(BigInt::from(k))
}

/// A power series truncated after x^order: `c[k]` is the coefficient of x^k.
#[derive(Clone, Debug, PartialEq)]
struct Series {
    c: Vec<Poly>,
}

impl Series {
    fn constant(p: Poly, order: usize) -> Series {
        let mut c = vec![Poly::zero(); order + 1];
        c[0] = p;
        Series { c }
    }

    /// The argument x itself.
    fn x(order: usize) -> Series {
        let mut s = Series::constant(Poly::zero(), order);
        if order >= 1 {
            s.c[1] = Poly::int(1);
        }
        s
    }

    fn order(&self) -> usize {
        self.c.len() - 1
    }

    /// The value at 0.
    fn head(&self) -> &Poly {
        &self.c[0]
    }

    /// The series minus its value at 0.
    fn tail(&self) -> Series {
        let mut t = self.clone();
        t.c[0] = Poly::zero();
        t
    }

    fn add(&self, other: &Series) -> Series {
        Series {
            c: self.c.iter().zip(&other.c).map(|(a, b)| a.add(b)).collect(),
        }
    }

    fn neg(&self) -> Series {
        Series {
            c: self.c.iter().map(Poly::neg).collect(),
        }
    }

    fn scale(&self, p: &Poly) -> Series {
        Series {
            c: self.c.iter().map(|a| a.mul(p)).collect(),
        }
    }

    fn mul(&self, other: &Series) -> Series {
        let n = self.order();
        let mut c = vec![Poly::zero(); n + 1];
        for (i, a) in self.c.iter().enumerate() {
            if a.is_zero() {
                continue;
            }
            for (j, b) in other.c.iter().enumerate().take(n + 1 - i) {
                c[i + j] = c[i + j].add(&a.mul(b));
            }
        }
        Series { c }
    }

    /// Σ_k coeffs[k] u^k for a series u without constant term (Horner's scheme).
    fn compose(coeffs: &[Poly], u: &Series) -> Series {
        let n = u.order();
        let mut out = Series::constant(Poly::zero(), n);
        for k in (0..=n).rev() {
            out = out.mul(u);
            out.c[0] = out.c[0].add(coeffs.get(k).unwrap_or(&Poly::zero()));
        }
        out
    }

    /// 1/self, when the value at 0 is a single non-zero monomial (which [`Poly`] inverts).
    fn inverse(&self) -> Result<Series, TaylorError> {
        let head = self.head();
        let inv0 = match head.0.len() {
            0 => {
                return Err(TaylorError::NotInvertible {
                    value: "0".into(),
                    why: "zero",
                })
            }
            1 => head.inverse_series(0).ok_or(TaylorError::NotInvertible {
                value: head.to_string(),
                why: "not invertible",
            })?,
            _ => {
                return Err(TaylorError::NotInvertible {
                    value: head.to_string(),
                    why: "a sum of several terms (only a single term is inverted exactly)",
                })
            }
        };
        // 1/(h + u) = h⁻¹ · 1/(1 + v) with v = u/h, and 1/(1 + v) = Σ (−v)^k.
        let v = self.tail().scale(&inv0);
        let coeffs: Vec<Poly> = (0..=self.order())
            .map(|k| Poly::int(if k % 2 == 0 { 1 } else { -1 }))
            .collect();
        Ok(Series::compose(&coeffs, &v).scale(&inv0))
    }

    /// self^k for a whole k (a negative k needs an invertible value at 0).
    fn powi(&self, k: i64) -> Result<Series, TaylorError> {
        let base = if k < 0 { self.inverse()? } else { self.clone() };
        let mut out = Series::constant(Poly::int(1), self.order());
        for _ in 0..k.unsigned_abs() {
            out = out.mul(&base);
        }
        Ok(out)
    }

    /// self^q for a non-whole q: the value at 0 must be a positive single monomial, whose
    /// power is exact; then (h + u)^q = h^q (1 + u/h)^q by the binomial series.
    fn pow_rational(&self, q: &Rational) -> Result<Series, TaylorError> {
        let head = self.head();
        let what = || format!("({head})^({})", format_rational(q));
        if head.is_zero() {
            return Err(TaylorError::NotSmooth {
                function: format!("x^({})", format_rational(q)),
                at: "0".into(),
            });
        }
        let hq = monomial_power(head, q).ok_or_else(|| TaylorError::NotExact { what: what() })?;
        let inv0 = head
            .inverse_series(0)
            .ok_or_else(|| TaylorError::NotExact { what: what() })?;
        let v = self.tail().scale(&inv0);
        let mut coeffs = Vec::with_capacity(self.order() + 1);
        let mut binom = Rational::one();
        for k in 0..=self.order() {
            if k > 0 {
                binom = binom * (q - rat(k as i64 - 1)) / rat(k as i64);
            }
            coeffs.push(Poly::constant(binom.clone()));
        }
        Ok(Series::compose(&coeffs, &v).scale(&hq))
    }
}

/// The numeric value of a constant of the algebra (π, primes and the opaque constants
/// have one; program symbols do not occur in activation bodies).
fn numeric(p: &Poly) -> Option<f64> {
    p.eval(&|atom| match atom {
        Atom::Sym(s) => opaque_value(s),
        _ => None,
    })
}

/// p^q for p a single positive monomial, exactly (its rational coefficient is factored
/// into primes); None otherwise.
fn monomial_power(p: &Poly, q: &Rational) -> Option<Poly> {
    if p.0.len() != 1 {
        return None;
    }
    let (m, c) = p.0.iter().next()?;
    if !c.is_positive() {
        return None;
    }
    let mut out = rational_power(c, q)?;
    for (atom, e) in &m.0 {
        // A fractional power of a negative atom is not real.
        let positive = match atom {
            Atom::Pi | Atom::Prime(_) => true,
            Atom::Sym(s) => opaque_value(s).is_some_and(|v| v > 0.0),
            _ => false,
        };
        if !positive {
            return None;
        }
        out = out.mul(&Poly::atom_pow(atom.clone(), e * q));
    }
    Some(out)
}

/// c^q for a positive rational c, as a product of prime powers.
fn rational_power(c: &Rational, q: &Rational) -> Option<Poly> {
    let mut out = Poly::int(1);
    for (n, sign) in [(c.numer(), 1), (c.denom(), -1)] {
        for (p, k) in factor(n)? {
            out = out.mul(&Poly::atom_pow(Atom::Prime(p), q * rat(k * sign)));
        }
    }
    Some(out)
}

/// The prime factorization of a positive integer below 10^12 (trial division), or None.
fn factor(n: &BigInt) -> Option<Vec<(u32, i64)>> {
    let mut n = n.to_u64().filter(|n| *n >= 1 && *n < 1_000_000_000_000)?;
    let mut out = Vec::new();
    let mut p = 2u64;
    while p * p <= n {
        let mut k = 0;
        while n % p == 0 {
            n /= p;
            k += 1;
        }
        if k > 0 {
            out.push((u32::try_from(p).ok()?, k));
        }
        p += 1;
    }
    if n > 1 {
        out.push((u32::try_from(n).ok()?, 1));
    }
    Some(out)
}

/// k! as a rational.
fn factorial(k: usize) -> Rational {
    (1..=k).fold(Rational::one(), |acc, j| acc * rat(j as i64))
}

/// The Taylor coefficients at 0, up to x^n, of an analytic elementary function
/// (None for the ones that are not smooth at 0).
fn coefficients_at_zero(f: Func, n: usize) -> Option<Vec<Poly>> {
    let alternating_odd = |k: usize, denom: Rational| {
        if k % 2 == 1 {
            let sign = if (k / 2) % 2 == 0 { 1 } else { -1 };
            Poly::constant(rat(sign) / denom)
        } else {
            Poly::zero()
        }
    };
    Some(match f {
        // eˣ = Σ x^k/k!.
        Func::Exp => (0..=n)
            .map(|k| Poly::constant(factorial(k).recip()))
            .collect(),
        // sin x = Σ (−1)^j x^{2j+1}/(2j+1)!.
        Func::Sin => (0..=n).map(|k| alternating_odd(k, factorial(k))).collect(),
        // cos x = Σ (−1)^j x^{2j}/(2j)!.
        Func::Cos => (0..=n)
            .map(|k| {
                if k % 2 == 0 {
                    let sign = if (k / 2) % 2 == 0 { 1 } else { -1 };
                    Poly::constant(rat(sign) / factorial(k))
                } else {
                    Poly::zero()
                }
            })
            .collect(),
        // atan x = Σ (−1)^j x^{2j+1}/(2j+1).
        Func::Atan => (0..=n).map(|k| alternating_odd(k, rat(k as i64))).collect(),
        // erf x = (2/√π) Σ (−1)^j x^{2j+1}/(j! (2j+1)).
        Func::Erf => {
            let two_over_sqrt_pi =
                Poly::atom_pow(Atom::Pi, Rational::new((-1).into(), 2.into())).scale(&rat(2));
            (0..=n)
                .map(|k| {
                    alternating_odd(k, factorial(k / 2) * rat(k as i64)).mul(&two_over_sqrt_pi)
                })
                .collect()
        }
        // tanh = sinh/cosh, with sinh = Σ x^{2j+1}/(2j+1)! and cosh = Σ x^{2j}/(2j)!.
        Func::Tanh => {
            let part = |odd: bool| Series {
                c: (0..=n)
                    .map(|k| {
                        if (k % 2 == 1) == odd {
                            Poly::constant(factorial(k).recip())
                        } else {
                            Poly::zero()
                        }
                    })
                    .collect(),
            };
            // cosh(0) = 1 is invertible, so this cannot fail.
            let inv = part(false).inverse().ok()?;
            part(true).mul(&inv).c
        }
        Func::Log | Func::Sqrt | Func::Relu | Func::Step | Func::Abs | Func::Sign => return None,
    })
}

/// The series of `e` (an activation body in `Expr::Arg`) at 0, up to x^n.
fn series(e: &Expr, n: usize, acts: &[Activation], depth: usize) -> Result<Series, TaylorError> {
    Ok(match e {
        Expr::Const(x) => Series::constant(
            exact_constant(*x).ok_or(TaylorError::InexactConstant { value: *x })?,
            n,
        ),
        Expr::Arg => Series::x(n),
        Expr::Value(_) => {
            return Err(TaylorError::Unsupported {
                what: "a value of the program".into(),
            })
        }
        Expr::Width(_) => {
            return Err(TaylorError::Unsupported {
                what: "a power of the width".into(),
            })
        }
        Expr::Add(items) => {
            let mut out = Series::constant(Poly::zero(), n);
            for item in items {
                out = out.add(&series(item, n, acts, depth)?);
            }
            out
        }
        Expr::Mul(items) => {
            let mut out = Series::constant(Poly::int(1), n);
            for item in items {
                out = out.mul(&series(item, n, acts, depth)?);
            }
            out
        }
        Expr::Neg(a) => series(a, n, acts, depth)?.neg(),
        Expr::Div(a, b) => {
            let num = series(a, n, acts, depth)?;
            num.mul(&series(b, n, acts, depth)?.inverse()?)
        }
        Expr::Pow(a, q) => {
            let base = series(a, n, acts, depth)?;
            match q.is_integer().then(|| q.to_integer().to_i64()).flatten() {
                Some(k) if k.unsigned_abs() <= 64 => base.powi(k)?,
                _ => base.pow_rational(q)?,
            }
        }
        Expr::Call(f, a) => call(*f, &series(a, n, acts, depth)?)?,
        Expr::Act { act, order, arg } => {
            let inner = series(arg, n, acts, depth)?;
            if !inner.head().is_zero() {
                return Err(TaylorError::NotExact {
                    what: format!("an activation evaluated at {}", inner.head()),
                });
            }
            if depth >= MAX_NESTING {
                return Err(TaylorError::TooDeep);
            }
            let target = acts.get(act.0).ok_or(TaylorError::Unsupported {
                what: format!("an activation #{} that does not exist", act.0),
            })?;
            // φ^{(m)}(y) = Σ_j b_{j+m} (j+m)!/j! y^j from φ's coefficients b up to n + m.
            let total = n + order;
            let b = match builtin_table(target).filter(|_| total <= ORDER) {
                Some(table) => table
                    .iter()
                    .enumerate()
                    .map(|(k, d)| d.scale(&factorial(k).recip()))
                    .collect(),
                None => series(target.body(), total, acts, depth + 1)?.c,
            };
            let coeffs: Vec<Poly> = (0..=n)
                .map(|j| b[j + order].scale(&(factorial(j + order) / factorial(j))))
                .collect();
            Series::compose(&coeffs, &inner)
        }
    })
}

/// f applied to a series: f's Taylor series at the series' value at 0, composed with the
/// rest.
fn call(f: Func, a: &Series) -> Result<Series, TaylorError> {
    let c = a.head();
    let u = a.tail();
    let n = a.order();
    let at = c.to_string();
    match f {
        Func::Sqrt => return a.pow_rational(&Rational::new(1.into(), 2.into())),
        // e^{c+u} = e^c Σ u^k/k!: exact when c is rational (e^c is then an opaque constant).
        Func::Exp => {
            let base = match c.as_rational() {
                Some(q) if q.is_zero() => Poly::int(1),
                Some(q) => Poly::sym(&exp_name(&q)),
                None => {
                    return Err(TaylorError::NotExact {
                        what: format!("exp({at})"),
                    })
                }
            };
            let coeffs: Vec<Poly> = (0..=n).map(|k| base.scale(&factorial(k).recip())).collect();
            return Ok(Series::compose(&coeffs, &u));
        }
        // log(c+u) = log c + Σ_{k≥1} (−1)^{k+1} (u/c)^k / k, for a positive rational c.
        Func::Log => {
            let q = c.as_rational().filter(|q| q.is_positive()).ok_or_else(|| {
                if c.as_rational().is_some() {
                    TaylorError::NotSmooth {
                        function: "log".into(),
                        at: at.clone(),
                    }
                } else {
                    TaylorError::NotExact {
                        what: format!("log({at})"),
                    }
                }
            })?;
            let mut coeffs = vec![if q.is_one() {
                Poly::zero()
            } else {
                Poly::sym(&log_name(&q))
            }];
            for k in 1..=n {
                let sign = if k % 2 == 1 { 1 } else { -1 };
                let ck = num_traits::pow(q.clone(), k);
                coeffs.push(Poly::constant(rat(sign) / (rat(k as i64) * ck)));
            }
            return Ok(Series::compose(&coeffs, &u));
        }
        Func::Relu | Func::Step | Func::Abs | Func::Sign => {
            // Away from the kink these are locally x, 0, ±x or ±1.
            let sign = if c.is_zero() {
                0.0
            } else {
                numeric(c).unwrap_or(0.0).signum()
            };
            if sign == 0.0 {
                return Err(TaylorError::NotSmooth {
                    function: f.name().into(),
                    at,
                });
            }
            let positive = sign > 0.0;
            return Ok(match (f, positive) {
                (Func::Relu, true) | (Func::Abs, true) => a.clone(),
                (Func::Abs, false) => a.neg(),
                (Func::Relu, false) | (Func::Step, false) => Series::constant(Poly::zero(), n),
                (Func::Step, true) | (Func::Sign, true) => Series::constant(Poly::int(1), n),
                _ => Series::constant(Poly::int(-1), n),
            });
        }
        Func::Tanh | Func::Sin | Func::Cos | Func::Erf | Func::Atan => {}
    }
    if !c.is_zero() {
        return Err(TaylorError::NotExact {
            what: format!("{}({at}) and its derivatives", f.name()),
        });
    }
    let coeffs = coefficients_at_zero(f, n).ok_or_else(|| TaylorError::NotSmooth {
        function: f.name().into(),
        at: "0".into(),
    })?;
    Ok(Series::compose(&coeffs, &u))
}

/// The fraction p/q (q ≤ [`MAX_DENOMINATOR`]) that equals `x` to f64 precision, by
/// continued fractions.
fn as_fraction(x: f64) -> Option<Rational> {
    if !x.is_finite() || x.abs() > 1e12 {
        return None;
    }
    let target = x.abs();
    let tolerance = 8.0 * f64::EPSILON * target.max(f64::MIN_POSITIVE);
    let (mut p0, mut q0, mut p1, mut q1) = (0i64, 1i64, 1i64, 0i64);
    let mut rest = target;
    for _ in 0..64 {
        let a = rest.floor();
        let a_int = a as i64;
        let p2 = a_int.checked_mul(p1)?.checked_add(p0)?;
        let q2 = a_int.checked_mul(q1)?.checked_add(q0)?;
        if q2 > MAX_DENOMINATOR {
            return None;
        }
        if (p2 as f64 / q2 as f64 - target).abs() <= tolerance {
            let sign = if x < 0.0 { -1 } else { 1 };
            return Some(Rational::new(BigInt::from(sign * p2), BigInt::from(q2)));
        }
        (p0, q0, p1, q1) = (p1, q1, p2, q2);
        let frac = rest - a;
        if frac <= 0.0 {
            return None;
        }
        rest = 1.0 / frac;
    }
    None
}

/// The exact number a float constant stands for: a fraction with a small denominator, ±
/// the square root of one, or either times π^e for e ∈ {±1/2, ±1}. None when `x` is none
/// of these to f64 precision.
pub fn exact_constant(x: f64) -> Option<Poly> {
    if x == 0.0 {
        return Some(Poly::zero());
    }
    let half = Rational::new(1.into(), 2.into());
    for (num, den) in [(0, 1), (1, 1), (-1, 2), (1, 2), (-1, 1)] {
        let e = Rational::new(num.into(), den.into());
        let pi_e = std::f64::consts::PI.powf(f64::from(num) / f64::from(den));
        let y = x / pi_e;
        let pi_part = Poly::atom_pow(Atom::Pi, e);
        if let Some(q) = as_fraction(y) {
            return Some(Poly::constant(q).mul(&pi_part));
        }
        if let Some(q2) = as_fraction(y * y).filter(|q| q.is_positive()) {
            let root = rational_power(&q2, &half)?;
            let signed = if y < 0.0 { root.neg() } else { root };
            return Some(signed.mul(&pi_part));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::ActId;

    fn half_pow(atom: Atom, num: i64) -> Poly {
        Poly::atom_pow(atom, Rational::new(num.into(), 2.into()))
    }

    #[test]
    fn float_constants_become_exact() {
        assert_eq!(exact_constant(0.5), Some(Poly::frac(1, 2)));
        assert_eq!(exact_constant(-0.125), Some(Poly::frac(-1, 8)));
        assert_eq!(
            exact_constant(std::f64::consts::FRAC_1_SQRT_2),
            Some(half_pow(Atom::Prime(2), -1))
        );
        assert_eq!(
            exact_constant(std::f64::consts::FRAC_2_SQRT_PI),
            Some(half_pow(Atom::Pi, -1).scale(&rat(2)))
        );
        assert_eq!(
            exact_constant(std::f64::consts::PI),
            Some(Poly::atom(Atom::Pi))
        );
        // √6 = √2·√3.
        assert_eq!(
            exact_constant(6f64.sqrt()),
            Some(half_pow(Atom::Prime(2), 1).mul(&half_pow(Atom::Prime(3), 1)))
        );
        // e is none of the recognized forms.
        assert_eq!(exact_constant(std::f64::consts::E), None);
    }

    /// The walk over each built-in's float body agrees with its hand-derived table.
    #[test]
    fn walking_builtin_bodies_reproduces_the_tables() {
        for name in [
            "identity", "tanh", "atan", "sin", "cos", "exp", "erf", "sigmoid", "gelu", "silu",
            "softplus",
        ] {
            let body = crate::elaborate::builtin_body(name).expect("a built-in");
            let s = series(&body, ORDER, &[], 0).expect(name);
            let table = builtin_derivatives(name).expect(name);
            for (k, want) in table.iter().enumerate() {
                assert_eq!(&s.c[k].scale(&factorial(k)), want, "{name}, order {k}");
            }
        }
    }

    #[test]
    fn user_formulas_expand_exactly() {
        // 2 tanh(x/2): the normalized sigmoid.
        let body = Expr::mul(
            Expr::Const(2.0),
            Expr::call(Func::Tanh, Expr::div(Expr::Arg, Expr::Const(2.0))),
        );
        let t = taylor_at_zero(&Activation::new("phi", body), &[]).expect("exact");
        assert_eq!(
            t,
            [Poly::zero(), Poly::int(1), Poly::zero(), Poly::frac(-1, 2)]
        );
        // sqrt(1 + x) = 1 + x/2 − x²/8 + x³/16: φ'' = −1/4, φ''' = 3/8.
        let body = Expr::call(Func::Sqrt, Expr::add(Expr::Const(1.0), Expr::Arg));
        let t = taylor_at_zero(&Activation::new("phi", body), &[]).expect("exact");
        assert_eq!(
            t,
            [
                Poly::int(1),
                Poly::frac(1, 2),
                Poly::frac(-1, 4),
                Poly::frac(3, 8)
            ]
        );
        // relu(x + 1) is x + 1 near 0.
        let body = Expr::call(Func::Relu, Expr::add(Expr::Const(1.0), Expr::Arg));
        let t = taylor_at_zero(&Activation::new("phi", body), &[]).expect("exact");
        assert_eq!(t, [Poly::int(1), Poly::int(1), Poly::zero(), Poly::zero()]);
    }

    #[test]
    fn references_to_other_activations_and_their_derivatives() {
        // ψ = tanh'(x) = 1 − tanh² x = 1 − x² + (2/3) x⁴: ψ'' = −2, ψ''' = 0.
        let tanh = Activation::new("tanh", Expr::call(Func::Tanh, Expr::Arg));
        let psi = Activation::new("psi", Expr::act(ActId(0), 1, Expr::Arg));
        let t = taylor_at_zero(&psi, std::slice::from_ref(&tanh)).expect("exact");
        assert_eq!(t, [Poly::int(1), Poly::zero(), Poly::int(-2), Poly::zero()]);
    }

    #[test]
    fn failures_say_why() {
        let relu = Activation::new("phi", Expr::call(Func::Relu, Expr::Arg));
        assert!(matches!(
            taylor_at_zero(&relu, &[]),
            Err(TaylorError::NotSmooth { .. })
        ));
        let shifted = Activation::new(
            "phi",
            Expr::call(Func::Tanh, Expr::add(Expr::Const(1.0), Expr::Arg)),
        );
        assert!(matches!(
            taylor_at_zero(&shifted, &[]),
            Err(TaylorError::NotExact { .. })
        ));
        let odd = Activation::new(
            "phi",
            Expr::mul(Expr::Const(std::f64::consts::E), Expr::Arg),
        );
        assert!(matches!(
            taylor_at_zero(&odd, &[]),
            Err(TaylorError::InexactConstant { .. })
        ));
        let pole = Activation::new("phi", Expr::div(Expr::Const(1.0), Expr::Arg));
        assert!(matches!(
            taylor_at_zero(&pole, &[]),
            Err(TaylorError::NotInvertible { .. })
        ));
    }

    #[test]
    fn opaque_constants_have_values() {
        assert!((opaque_value("log(2)").expect("a constant") - 2f64.ln()).abs() < 1e-15);
        assert!((opaque_value("exp(-1/2)").expect("a constant") - (-0.5f64).exp()).abs() < 1e-15);
        assert_eq!(opaque_value("u"), None);
    }
}
