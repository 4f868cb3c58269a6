//! Why a Gaussian expectation cannot be computed as asked.

/// A reason a computation in [`crate::gauss`] refuses to run.
///
/// All of these come from the inputs (a malformed covariance, an integrand that returns a
/// non-finite value, an unaffordable request); none is a bug-only panic path.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GaussError {
    /// The covariance (or a matrix given to a solver) is not square.
    #[error("the matrix is {rows}×{cols}; it must be square")]
    NotSquare {
        /// Number of rows.
        rows: usize,
        /// Number of columns.
        cols: usize,
    },
    /// An entry is NaN or infinite.
    #[error("matrix entry ({row}, {col}) is {value}, not a finite number")]
    NonFiniteEntry {
        /// Row of the entry.
        row: usize,
        /// Column of the entry.
        col: usize,
        /// The entry.
        value: f64,
    },
    /// A covariance differs from its transpose by more than rounding.
    #[error(
        "the covariance is not symmetric: entry ({row}, {col}) is {upper} but ({col}, {row}) \
         is {lower}"
    )]
    NotSymmetric {
        /// Row of the upper entry.
        row: usize,
        /// Column of the upper entry.
        col: usize,
        /// Entry (row, col).
        upper: f64,
        /// Entry (col, row).
        lower: f64,
    },
    /// A covariance has a negative direction beyond rounding (a negative Schur-complement
    /// pivot, or a residual off-diagonal entry that no PSD matrix could have).
    #[error(
        "the covariance is not positive semidefinite: at variable {index} the remaining \
         variance is {residual:e}, below the rounding tolerance {tolerance:e}"
    )]
    NotPositiveSemidefinite {
        /// The variable (row) where the violation was found.
        index: usize,
        /// The offending residual (a negative variance or an impossible covariance).
        residual: f64,
        /// The tolerance it was compared with.
        tolerance: f64,
    },
    /// A linear system has no unique solution (to working precision).
    #[error("the matrix is singular to working precision (pivot {pivot:e} at column {column})")]
    Singular {
        /// The column where elimination found no usable pivot.
        column: usize,
        /// The pivot found.
        pivot: f64,
    },
    /// Two sizes that must agree do not.
    #[error("size mismatch: {detail}")]
    DimensionMismatch {
        /// Which sizes differ.
        detail: String,
    },
    /// A Gauss–Hermite rule was asked with an unsupported number of nodes.
    #[error("Gauss–Hermite rules are available with 1 to {max} nodes, not {nodes}")]
    BadNodeCount {
        /// The number asked for.
        nodes: usize,
        /// The largest supported number ([`MAX_NODES`](super::MAX_NODES)).
        max: usize,
    },
    /// Tensor-product quadrature would need more integrand evaluations than allowed.
    #[error(
        "tensor-product quadrature with {nodes} nodes in {dim} dimensions needs more than \
         {limit} integrand evaluations; use Monte Carlo"
    )]
    TooManyEvaluations {
        /// Nodes per dimension.
        nodes: usize,
        /// Number of dimensions integrated over (the rank of the covariance).
        dim: usize,
        /// The evaluation limit.
        limit: u64,
    },
    /// Monte Carlo needs at least two independent draws to estimate its standard error.
    #[error(
        "Monte Carlo needs at least {min} samples to estimate a standard error, got {samples}"
    )]
    TooFewSamples {
        /// Samples asked for.
        samples: usize,
        /// The minimum.
        min: usize,
    },
    /// The integrand returned NaN or an infinity at a point that carries weight.
    #[error("the integrand returned {value} (output {output}) at the point {point:?}")]
    NonFiniteIntegrand {
        /// The value returned.
        value: f64,
        /// Which output of a vector-valued integrand (0 for a scalar one).
        output: usize,
        /// The Gaussian point G where it was evaluated.
        point: Vec<f64>,
    },
    /// A parameter outside its domain (a depth of 0, a negative or non-finite variance,
    /// a non-positive tolerance…).
    #[error("invalid parameter: {detail}")]
    BadParameter {
        /// What is wrong.
        detail: String,
    },
    /// Only deterministic tiers were allowed and the integral needs Monte Carlo.
    #[error(
        "the integral over {rank} Gaussian dimensions needs Monte Carlo, which was not allowed"
    )]
    NeedsMonteCarlo {
        /// The rank of the Gaussian integrated over.
        rank: usize,
    },
}
