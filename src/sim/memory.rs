//! How much memory a simulation needs, and how much it may use.
//!
//! The n×n matrices dominate (8n² bytes each: 128 MiB at n = 4096), so a request such as
//! `--widths 65536` with a few matrices must be refused before anything is allocated
//! rather than aborting the process half-way.

use super::error::SimError;
use crate::ir::{Expr, Kind, Op, Program};
use std::sync::OnceLock;

/// Fallback limit when the physical memory cannot be read: 16 GiB.
const FALLBACK_LIMIT: u64 = 16 << 30;

/// Fixed bookkeeping per allocated object (array headers, `Vec` slots), a rough bound.
const PER_OBJECT: u128 = 128;

/// Bytes needed to draw `program` at width `width` and execute it: the matrices, the
/// vector sources, one array per vector value, and the temporaries of the largest
/// expression evaluation.
///
/// Saturates at `u64::MAX` for absurd widths instead of overflowing.
pub fn estimate_bytes(program: &Program, width: usize) -> u64 {
    // u128 with saturating steps: n² alone overflows u64 for widths beyond 2^32.
    let n = width as u128;
    let f64_bytes = std::mem::size_of::<f64>() as u128;
    let matrix_bytes = (program.matrices.len() as u128)
        .saturating_mul(n.saturating_mul(n))
        .saturating_mul(f64_bytes);
    let vector_sources = program
        .sources
        .iter()
        .filter(|s| s.kind == Kind::Vector)
        .count() as u128;
    let vector_values = program
        .instrs
        .iter()
        .filter(|i| i.kind == Kind::Vector)
        .count() as u128;
    let temporaries = max_expr_depth(program) as u128 + 2;
    let vector_bytes = (vector_sources + vector_values + temporaries)
        .saturating_mul(n)
        .saturating_mul(f64_bytes);
    let objects = (program.matrices.len() + program.sources.len() + program.instrs.len()) as u128;
    let total = matrix_bytes
        .saturating_add(vector_bytes)
        .saturating_add(objects * PER_OBJECT);
    u64::try_from(total).unwrap_or(u64::MAX)
}

/// The deepest instruction expression plus the deepest activation body: an upper bound
/// on how many arrays the evaluator holds at once (it keeps one partial result per level).
fn max_expr_depth(program: &Program) -> usize {
    let instr_depth = program
        .instrs
        .iter()
        .map(|i| match &i.op {
            Op::Map { expr } | Op::Moment { expr } | Op::Scalar { expr } => depth(expr),
            Op::Init { .. } | Op::MatMul { .. } => 1,
        })
        .max()
        .unwrap_or(0);
    let body_depth = program
        .activations
        .iter()
        .flat_map(|a| a.derivatives.iter())
        .map(depth)
        .max()
        .unwrap_or(0);
    instr_depth + body_depth
}

/// Depth of an expression tree, computed without recursion so that no input can
/// overflow the stack here.
fn depth(expr: &Expr) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(expr, 1usize)];
    while let Some((e, d)) = stack.pop() {
        deepest = deepest.max(d);
        match e {
            Expr::Add(items) | Expr::Mul(items) => stack.extend(items.iter().map(|i| (i, d + 1))),
            Expr::Neg(a) | Expr::Pow(a, _) | Expr::Call(_, a) => stack.push((a, d + 1)),
            Expr::Act { arg, .. } => stack.push((arg, d + 1)),
            Expr::Div(a, b) => {
                stack.push((a, d + 1));
                stack.push((b, d + 1));
            }
            Expr::Const(_) | Expr::Arg | Expr::Value(_) | Expr::Width(_) => {}
        }
    }
    deepest
}

/// The default memory limit: 75% of physical memory (from `/proc/meminfo`), or 16 GiB
/// where that cannot be read. Read once per process.
pub fn default_memory_limit() -> u64 {
    static LIMIT: OnceLock<u64> = OnceLock::new();
    *LIMIT.get_or_init(|| physical_memory().map_or(FALLBACK_LIMIT, |total| total / 4 * 3))
}

/// `MemTotal` from `/proc/meminfo`, in bytes.
fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_total(&text)
}

/// Extracts `MemTotal:  24683656 kB` as bytes.
fn parse_mem_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut fields = line["MemTotal:".len()..].split_whitespace();
    let amount: u64 = fields.next()?.parse().ok()?;
    let multiplier = match fields.next() {
        Some("kB") | Some("KB") | Some("kiB") => 1024,
        None => 1,
        Some(_) => return None,
    };
    amount.checked_mul(multiplier)
}

/// Refuses with [`SimError::TooLarge`] when `program` at `width` needs more than `limit`.
pub(crate) fn ensure_fits(program: &Program, width: usize, limit: u64) -> Result<(), SimError> {
    let needed = estimate_bytes(program, width);
    // A saturated estimate means the sizes do not even fit in an address space.
    if needed > limit || needed == u64::MAX {
        return Err(SimError::TooLarge {
            needed_bytes: needed,
            limit_bytes: limit,
            width,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exponent::Exponent;
    use crate::ir::{Instr, Meta, Scale};

    #[test]
    fn parses_meminfo() {
        let text = "MemTotal:       24683656 kB\nMemFree: 1 kB\n";
        assert_eq!(parse_mem_total(text), Some(24_683_656 * 1024));
        assert_eq!(parse_mem_total("MemFree: 3 kB"), None);
        assert_eq!(parse_mem_total("MemTotal: x kB"), None);
    }

    #[test]
    fn matrices_dominate_and_huge_widths_saturate() {
        let mut p = Program::new("n");
        p.add_matrix("W");
        p.add_matrix("V");
        let n = 4096usize;
        let bytes = estimate_bytes(&p, n);
        let matrices = 2 * 8 * (n as u64) * (n as u64);
        assert!(bytes >= matrices, "{bytes} < {matrices}");
        assert!(bytes < matrices + matrices / 10);
        assert_eq!(estimate_bytes(&p, usize::MAX), u64::MAX);
    }

    #[test]
    fn refuses_above_the_limit() {
        let mut p = Program::new("n");
        let w = p.add_matrix("W");
        let z = p.push(Instr {
            name: "z".into(),
            kind: Kind::Vector,
            scale: Scale::width(Exponent::zero()),
            op: Op::Init {
                terms: vec![],
                mean: 1.0,
            },
            meta: Meta::user(),
        });
        p.push(Instr {
            name: "Wz".into(),
            kind: Kind::Vector,
            scale: Scale::one(),
            op: Op::MatMul {
                matrix: w,
                transpose: false,
                arg: z,
            },
            meta: Meta::user(),
        });
        assert!(ensure_fits(&p, 100, 1 << 30).is_ok());
        match ensure_fits(&p, 1 << 20, 1 << 30) {
            Err(SimError::TooLarge {
                needed_bytes,
                limit_bytes,
                width,
            }) => {
                assert!(needed_bytes > limit_bytes);
                assert_eq!(width, 1 << 20);
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }
}
