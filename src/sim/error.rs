//! Why a program cannot be simulated at a given width.

use crate::ir::ValueId;

/// A reason the finite-width simulation refuses to run (or to continue).
///
/// These are input or resource problems: a numerical blow-up during execution is not an
/// error but a result, reported in [`Execution::blowup`](super::Execution::blowup).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// A width exponent still contains a symbolic parameter, so `n^e` has no numeric value.
    #[error(
        "`{name}` needs the width factor n^({exponent}), which has free symbols; a program \
         with symbolic parameters cannot be simulated: fix them with `--set NAME=VALUE`"
    )]
    SymbolicExponent {
        /// The instruction whose scale or expression holds the exponent.
        name: String,
        /// The exponent as printed.
        exponent: String,
    },
    /// A constant exponent too large to be represented as a floating-point number.
    #[error("`{name}` needs the width factor n^({exponent}), whose exponent is out of range")]
    ExponentOutOfRange {
        /// The instruction whose scale or expression holds the exponent.
        name: String,
        /// The exponent as printed.
        exponent: String,
    },
    /// The sample and the values would not fit in the memory allowed.
    #[error(
        "simulating at width {width} needs about {} but the limit is {}; use smaller widths",
        human_bytes(*needed_bytes),
        human_bytes(*limit_bytes)
    )]
    TooLarge {
        /// Estimated bytes for the matrices, sources and values.
        needed_bytes: u64,
        /// The limit in bytes.
        limit_bytes: u64,
        /// The width asked for.
        width: usize,
    },
    /// Several jobs at once would not fit, although one would.
    #[error(
        "running {threads} simulations at once needs about {} ({} each) but the limit is {}; \
         use `--threads {fitting}` or smaller widths",
        human_bytes(per_job_bytes.saturating_mul(*threads as u64)),
        human_bytes(*per_job_bytes),
        human_bytes(*limit_bytes)
    )]
    TooManyJobs {
        /// The number of threads asked for.
        threads: usize,
        /// Estimated bytes of one job at the largest width.
        per_job_bytes: u64,
        /// The limit in bytes.
        limit_bytes: u64,
        /// How many jobs would fit at once.
        fitting: usize,
    },
    /// A sweep was asked to run on zero threads.
    #[error("the number of threads must be at least 1")]
    ZeroThreads,
    /// The operating system refused to start the worker threads.
    #[error("cannot start worker threads: {detail}")]
    ThreadPool {
        /// The reason given.
        detail: String,
    },
    /// Width 0 has no coordinates to average over.
    #[error("the width must be at least 1")]
    ZeroWidth,
    /// A width listed twice.
    #[error("width {width} is listed twice (again as number {position} of --widths); list each width once")]
    RepeatedWidth {
        /// The repeated width.
        width: usize,
        /// Its second position in the list, from 1.
        position: usize,
    },
    /// An instruction reads a value that is not defined before it.
    #[error("`{name}` (#{}) reads value #{} which is not defined before it", value.0, refers_to.0)]
    ForwardReference {
        /// The reading instruction.
        name: String,
        /// Its id.
        value: ValueId,
        /// The id read.
        refers_to: ValueId,
    },
    /// An instruction refers to a matrix, source or activation the program does not have.
    #[error("`{name}` refers to {what}, which the program does not define")]
    UnknownObject {
        /// The instruction.
        name: String,
        /// What was referred to, e.g. `matrix #3`.
        what: String,
    },
    /// An activation derivative was used that was never computed by the elaborator.
    #[error(
        "`{name}` uses derivative {order} of activation `{activation}`, which was never made \
         available (the program has only {available})"
    )]
    MissingDerivative {
        /// The instruction.
        name: String,
        /// The activation's name.
        activation: String,
        /// The derivative order asked for.
        order: usize,
        /// How many derivatives (including φ itself) the activation has.
        available: usize,
    },
    /// A vector was used where a scalar is required, or the reverse.
    #[error("`{name}`: {detail}")]
    KindMismatch {
        /// The instruction.
        name: String,
        /// What is inconsistent.
        detail: String,
    },
    /// An expression is malformed in a way the evaluator cannot give a meaning to.
    #[error("`{name}`: {detail}")]
    BadExpression {
        /// The instruction.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// The sample was drawn for another program or has inconsistent shapes.
    #[error("the sample does not match the program: {detail}")]
    SampleMismatch {
        /// What differs.
        detail: String,
    },
}

/// `1.5 GiB`-style rendering for messages.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
