//! Executing a program's instructions in order on one sample, stopping at a blow-up.

use super::error::SimError;
use super::eval::{Arr, Evaluator};
use super::product::{times, transpose_times};
use super::sample::{Sample, SourceSample};
use super::validate::{exponent_value, validate};
use crate::ir::{Kind, Op, Program, ValueId};
use ndarray::Array1;
use std::fmt;

/// The value of one instruction at finite width.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An n-vector.
    Vector(Array1<f64>),
    /// A scalar.
    Scalar(f64),
}

impl Value {
    /// Vector or scalar.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Vector(_) => Kind::Vector,
            Value::Scalar(_) => Kind::Scalar,
        }
    }

    /// The number, for a scalar.
    pub fn as_scalar(&self) -> Option<f64> {
        match self {
            Value::Scalar(s) => Some(*s),
            Value::Vector(_) => None,
        }
    }

    /// The coordinates, for a vector.
    pub fn as_vector(&self) -> Option<&Array1<f64>> {
        match self {
            Value::Vector(v) => Some(v),
            Value::Scalar(_) => None,
        }
    }

    /// The typical size: the root mean square of the coordinates for a vector (what
    /// coordinate checks plot against n), |x| for a scalar.
    pub fn rms(&self) -> f64 {
        match self {
            Value::Vector(v) if v.is_empty() => 0.0,
            Value::Vector(v) => (v.dot(v) / v.len() as f64).sqrt(),
            Value::Scalar(s) => s.abs(),
        }
    }
}

/// What was computed on one sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Execution {
    /// The width n.
    pub width: usize,
    /// `values[i]` is the value of `ValueId(i)`, for every instruction executed before the
    /// first blow-up (all of them when `blowup` is `None`). Every entry is finite: the
    /// value that blew up is not included.
    pub values: Vec<Value>,
    /// The first instruction whose value had a NaN or infinite entry, if any; execution
    /// stopped there because everything after it would be meaningless.
    pub blowup: Option<BlowUp>,
}

impl Execution {
    /// The value of `id`, when it was computed.
    pub fn value(&self, id: ValueId) -> Option<&Value> {
        self.values.get(id.0)
    }

    /// True when every instruction was executed without a blow-up.
    pub fn completed(&self) -> bool {
        self.blowup.is_none()
    }
}

/// The first non-finite value met during execution.
#[derive(Clone, Debug, PartialEq)]
pub struct BlowUp {
    /// The instruction whose value was not finite.
    pub value: ValueId,
    /// Its name.
    pub name: String,
    /// NaN (an invalid operation such as `log` of a negative number or ∞ − ∞) or an
    /// infinity (overflow).
    pub kind: BlowUpKind,
    /// The first offending coordinate of a vector (`None` for a scalar).
    pub coordinate: Option<usize>,
    /// How many coordinates were not finite (1 for a scalar).
    pub bad_entries: usize,
    /// The width at which it happened.
    pub width: usize,
}

/// What kind of non-finite number a blow-up produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlowUpKind {
    /// At least one entry is NaN.
    NaN,
    /// No NaN, but at least one entry is ±∞.
    Infinite,
}

impl fmt::Display for BlowUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            BlowUpKind::NaN => "NaN",
            BlowUpKind::Infinite => "an infinite value",
        };
        write!(f, "`{}` is {what} at width {}", self.name, self.width)?;
        if let Some(i) = self.coordinate {
            write!(
                f,
                " (coordinate {i}; {} non-finite coordinates)",
                self.bad_entries
            )?;
        }
        Ok(())
    }
}

/// Executes every instruction of `program` in order on `sample`, after checking that the
/// program is executable ([`validate`]) and that the sample was drawn for it.
///
/// Memory is not checked again here: [`draw`](super::draw) already refused a sample whose
/// program would not fit, and its estimate includes the values computed here.
pub fn execute(program: &Program, sample: &Sample) -> Result<Execution, SimError> {
    check_sample(program, sample)?;
    validate(program)?;
    let n = sample.width;
    let mut values: Vec<Value> = Vec::with_capacity(program.instrs.len());
    for (index, instr) in program.instrs.iter().enumerate() {
        let factor =
            instr.scale.coef * (n as f64).powf(exponent_value(&instr.scale.exponent, &instr.name)?);
        let evaluator = Evaluator {
            program,
            values: &values,
            width: n,
            name: &instr.name,
        };
        let mismatch = |detail: &str| SimError::KindMismatch {
            name: instr.name.clone(),
            detail: detail.to_string(),
        };
        let mut value = match &instr.op {
            Op::Init { terms, mean } => match instr.kind {
                Kind::Vector => {
                    let mut v = Array1::from_elem(n, *mean);
                    for (source, coef) in terms {
                        match sample.sources.get(source.0) {
                            Some(SourceSample::Vector(g)) => v.scaled_add(*coef, g),
                            _ => return Err(mismatch("initialized from a non-vector source")),
                        }
                    }
                    Value::Vector(v)
                }
                Kind::Scalar => {
                    let mut x = *mean;
                    for (source, coef) in terms {
                        match sample.sources.get(source.0) {
                            Some(SourceSample::Scalar(g)) => x += coef * g,
                            _ => return Err(mismatch("initialized from a non-scalar source")),
                        }
                    }
                    Value::Scalar(x)
                }
            },
            Op::MatMul {
                matrix,
                transpose,
                arg,
            } => {
                let w = sample
                    .matrices
                    .get(matrix.0)
                    .ok_or_else(|| mismatch("unknown matrix"))?;
                let x = values
                    .get(arg.0)
                    .and_then(Value::as_vector)
                    .ok_or_else(|| mismatch("a matrix can only multiply an earlier vector"))?;
                Value::Vector(if *transpose {
                    transpose_times(w, x)
                } else {
                    times(w, x)
                })
            }
            Op::Map { expr } => Value::Vector(match evaluator.eval(expr)? {
                Arr::Scalar(s) => Array1::from_elem(n, s),
                Arr::Borrowed(v) => v.clone(),
                Arr::Owned(v) => v,
            }),
            Op::Moment { expr } => Value::Scalar(match evaluator.eval(expr)? {
                Arr::Scalar(s) => s,
                Arr::Borrowed(v) => v.sum() / n as f64,
                Arr::Owned(v) => v.sum() / n as f64,
            }),
            Op::Scalar { expr } => match evaluator.eval(expr)? {
                Arr::Scalar(s) => Value::Scalar(s),
                _ => return Err(mismatch("a scalar expression evaluated to a vector")),
            },
        };
        if factor != 1.0 {
            match &mut value {
                Value::Vector(v) => v.mapv_inplace(|x| x * factor),
                Value::Scalar(s) => *s *= factor,
            }
        }
        if let Some(blowup) = find_blowup(&value, ValueId(index), &instr.name, n) {
            return Ok(Execution {
                width: n,
                values,
                blowup: Some(blowup),
            });
        }
        values.push(value);
    }
    Ok(Execution {
        width: n,
        values,
        blowup: None,
    })
}

/// Draws `program` at `width` from `seed` and executes it: one Monte Carlo sample.
pub fn simulate(program: &Program, width: usize, seed: u64) -> Result<Execution, SimError> {
    validate(program)?;
    let sample = super::draw(program, width, seed)?;
    execute(program, &sample)
}

/// Reports a value with a non-finite entry.
fn find_blowup(value: &Value, id: ValueId, name: &str, width: usize) -> Option<BlowUp> {
    let (kind, coordinate, bad_entries) = match value {
        Value::Scalar(s) if s.is_nan() => (BlowUpKind::NaN, None, 1),
        Value::Scalar(s) if s.is_infinite() => (BlowUpKind::Infinite, None, 1),
        Value::Scalar(_) => return None,
        Value::Vector(v) => {
            // One fast pass for the common all-finite case; details only on failure.
            let first = v.iter().position(|x| !x.is_finite())?;
            let kind = if v.iter().any(|x| x.is_nan()) {
                BlowUpKind::NaN
            } else {
                BlowUpKind::Infinite
            };
            let count = v.iter().filter(|x| !x.is_finite()).count();
            (kind, Some(first), count)
        }
    };
    Some(BlowUp {
        value: id,
        name: name.to_string(),
        kind,
        coordinate,
        bad_entries,
        width,
    })
}

/// Checks that `sample` was drawn for `program`: same objects, kinds and shapes.
fn check_sample(program: &Program, sample: &Sample) -> Result<(), SimError> {
    let n = sample.width;
    let fail = |detail: String| Err(SimError::SampleMismatch { detail });
    if n == 0 {
        return Err(SimError::ZeroWidth);
    }
    if sample.matrices.len() != program.matrices.len() {
        return fail(format!(
            "{} matrices drawn, the program has {}",
            sample.matrices.len(),
            program.matrices.len()
        ));
    }
    for (info, w) in program.matrices.iter().zip(&sample.matrices) {
        if w.dim() != (n, n) {
            return fail(format!(
                "matrix `{}` is {:?}, expected {n}×{n}",
                info.name,
                w.dim()
            ));
        }
    }
    if sample.sources.len() != program.sources.len() {
        return fail(format!(
            "{} sources drawn, the program has {}",
            sample.sources.len(),
            program.sources.len()
        ));
    }
    for (info, s) in program.sources.iter().zip(&sample.sources) {
        let ok = match (info.kind, s) {
            (Kind::Vector, SourceSample::Vector(v)) => v.len() == n,
            (Kind::Scalar, SourceSample::Scalar(_)) => true,
            _ => false,
        };
        if !ok {
            return fail(format!(
                "source `{}` has the wrong kind or length",
                info.name
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blowup_reports_first_bad_coordinate() {
        let v = Value::Vector(Array1::from_vec(vec![1.0, f64::INFINITY, f64::NAN, 2.0]));
        let b = find_blowup(&v, ValueId(3), "x", 4).expect("blow-up");
        assert_eq!(b.kind, BlowUpKind::NaN);
        assert_eq!(b.coordinate, Some(1));
        assert_eq!(b.bad_entries, 2);
        let s = Value::Scalar(f64::NEG_INFINITY);
        let b = find_blowup(&s, ValueId(0), "s", 4).expect("blow-up");
        assert_eq!(b.kind, BlowUpKind::Infinite);
        assert!(find_blowup(&Value::Scalar(1.0), ValueId(0), "s", 4).is_none());
    }
}
