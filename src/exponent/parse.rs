//! Reading exponent expressions from text, e.g. `max(-a1 - b1, 1/2 - a2 + min(0, 1 - 2*c))`.
//!
//! The grammar is the one [`Exp`]'s `Display` prints: sums and differences, products
//! where at most one factor is non-constant, division by non-zero constants, `max(..)`,
//! `min(..)` with at least one argument, `-inf`, `undefined`, decimal or `p/q` numbers
//! and identifiers `[A-Za-z_][A-Za-z0-9_]*`.

use super::affine::{parse_rational, Rational};
use super::expr::Exp;
use num_traits::Zero;
use std::fmt;
use std::str::FromStr;

/// Nesting deeper than this is rejected, so that recursive algorithms on the result
/// cannot overflow the stack.
const MAX_DEPTH: usize = 200;

/// Error from parsing an exponent expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseExpError {
    /// Byte offset in the input where the problem was found.
    pub position: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ParseExpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.position, self.message)
    }
}

impl std::error::Error for ParseExpError {}

impl FromStr for Exp {
    type Err = ParseExpError;

    /// Parses the text form printed by `Display`, building the expression with the smart
    /// constructors (so the result is folded).
    fn from_str(text: &str) -> Result<Exp, ParseExpError> {
        let mut parser = Parser {
            text,
            pos: 0,
            depth: 0,
        };
        let e = parser.expr()?;
        parser.skip_space();
        if parser.pos < text.len() {
            return Err(parser.error("unexpected trailing input"));
        }
        Ok(e)
    }
}

struct Parser<'t> {
    text: &'t str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> ParseExpError {
        ParseExpError {
            position: self.pos,
            message: message.to_string(),
        }
    }

    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Result<(), ParseExpError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("expression is nested too deeply"));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Exp, ParseExpError> {
        self.enter()?;
        let mut acc = self.term()?;
        loop {
            if self.eat('+') {
                let rhs = self.term()?;
                acc = Exp::add(acc, rhs);
            } else if self.eat('-') {
                let rhs = self.term()?;
                acc = Exp::sub(acc, rhs);
            } else {
                break;
            }
        }
        self.depth -= 1;
        Ok(acc)
    }

    fn term(&mut self) -> Result<Exp, ParseExpError> {
        let mut acc = self.factor()?;
        loop {
            if self.eat('*') {
                let start = self.pos;
                let rhs = self.factor()?;
                acc = match (constant_of(&acc), constant_of(&rhs)) {
                    (Some(q), _) => Exp::scale(q, rhs),
                    (None, Some(q)) => Exp::scale(q, acc),
                    (None, None) => {
                        return Err(ParseExpError {
                            position: start,
                            message: "a product needs a constant factor (exponents are affine)"
                                .into(),
                        })
                    }
                };
            } else if self.eat('/') {
                let start = self.pos;
                let rhs = self.factor()?;
                match constant_of(&rhs) {
                    Some(q) if !q.is_zero() => {
                        acc = Exp::scale(Rational::from_integer(1.into()) / q, acc)
                    }
                    _ => {
                        return Err(ParseExpError {
                            position: start,
                            message: "can only divide by a non-zero constant".into(),
                        })
                    }
                }
            } else {
                break;
            }
        }
        Ok(acc)
    }

    fn factor(&mut self) -> Result<Exp, ParseExpError> {
        self.enter()?;
        self.skip_space();
        let result = if self.eat('-') {
            self.skip_space();
            if self.text[self.pos..].starts_with("inf")
                && !self.text[self.pos + 3..]
                    .chars()
                    .next()
                    .is_some_and(is_ident_char)
            {
                self.pos += 3;
                Ok(Exp::NegInf)
            } else {
                self.factor().map(Exp::neg)
            }
        } else if self.eat('+') {
            self.factor()
        } else if self.eat('(') {
            let e = self.expr()?;
            if !self.eat(')') {
                return Err(self.error("expected `)`"));
            }
            Ok(e)
        } else {
            match self.peek() {
                Some(c) if c.is_ascii_digit() || c == '.' => self.number(),
                Some(c) if c.is_ascii_alphabetic() || c == '_' => self.word(),
                Some(_) => Err(self.error("expected a number, a symbol, `max`, `min` or `(`")),
                None => Err(self.error("unexpected end of input")),
            }
        };
        self.depth -= 1;
        result
    }

    fn number(&mut self) -> Result<Exp, ParseExpError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() || c == '.' {
                self.pos += 1;
            } else {
                break;
            }
        }
        parse_rational(&self.text[start..self.pos])
            .map(Exp::constant)
            .ok_or(ParseExpError {
                position: start,
                message: "malformed number".into(),
            })
    }

    fn word(&mut self) -> Result<Exp, ParseExpError> {
        let start = self.pos;
        while self.peek().is_some_and(is_ident_char) {
            self.pos += 1;
        }
        let word = &self.text[start..self.pos];
        match word {
            "max" | "min" => {
                if !self.eat('(') {
                    return Err(self.error("expected `(` after max/min"));
                }
                let mut args = vec![self.expr()?];
                while self.eat(',') {
                    args.push(self.expr()?);
                }
                if !self.eat(')') {
                    return Err(self.error("expected `,` or `)`"));
                }
                Ok(if word == "max" {
                    Exp::max_of(args)
                } else {
                    Exp::min_of(args)
                })
            }
            "inf" => Err(ParseExpError {
                position: start,
                message: "only `-inf` is an exponent (+inf is not)".into(),
            }),
            "undefined" => Ok(Exp::undefined()),
            _ => Ok(Exp::symbol(word)),
        }
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn constant_of(e: &Exp) -> Option<Rational> {
    match e {
        Exp::Affine(x) => x.as_constant().cloned(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_printed_forms() {
        for text in [
            "max(-a1 - b1, -a2 - b2 + 1/2 + min(0, -2*a3 - c + 1))",
            "-1/2",
            "-inf",
            "undefined",
            "min(a, b)",
            "2*a + c - 1/2",
        ] {
            let e: Exp = text.parse().expect("parses");
            assert_eq!(e.to_string(), text);
            assert_eq!(e.to_string().parse::<Exp>(), Ok(e));
        }
    }

    #[test]
    fn scalar_products_and_quotients() {
        let e: Exp = "-2*max(a, b)/4".parse().expect("parses");
        assert_eq!(e.to_string(), "min(-1/2*a, -1/2*b)");
        let e: Exp = "0.5*(a + 1)".parse().expect("parses");
        assert_eq!(e.to_string(), "1/2*a + 1/2");
    }

    #[test]
    fn rejects_bad_input_without_panicking() {
        for text in [
            "", "a*b", "max(a", "1/0", "a/b", "inf", "max()", "a +", "((", "1..2", "a $ b",
        ] {
            assert!(text.parse::<Exp>().is_err(), "{text:?} should not parse");
        }
        let deep = "(".repeat(10_000) + "a" + &")".repeat(10_000);
        assert!(deep.parse::<Exp>().is_err());
    }
}
