//! The documented maxima of what a program may ask for, in one place.
//!
//! Each bound is checked before the time or memory it protects is spent, and a program
//! beyond one is refused with a located diagnostic that names the bound and what to do
//! (exit status 2). The README's language section lists them; change them only here.
//! They are sized so that a program within all of them elaborates in seconds and in
//! well under a gigabyte; what each later command costs at the extremes is measured in
//! the README.

/// Characters of a name, after `{…}` interpolation. Reports align names in columns, and
/// generated names (`<x1_0,x1_1>`, `W2.x1_0`) concatenate two or three of them.
pub const MAX_NAME_CHARS: usize = 128;

/// Deepest bracket nesting (`(`, `[`, `{` together). The parser recurses once per level.
pub const MAX_NESTING: usize = 256;

/// Deepest expression tree: every later stage walks expressions recursively.
pub const MAX_EXPR_DEPTH: usize = 512;

/// Operands of one chain of `+`/`-` or of `*`/`/` (`a + b + … `): a chain of k operands is a
/// tree k levels deep, so this keeps any chain, even inside brackets, within
/// [`MAX_EXPR_DEPTH`]. Longer sums are split into named partial sums.
pub const MAX_CHAIN_OPERANDS: usize = 256;

/// Bits of the numerator or denominator of an exact power `q^k` computed while
/// elaborating (numbers are exact rationals; `1e400` needs 1329 bits). Nested powers
/// would otherwise square their size at every level.
pub const MAX_EXACT_BITS: u64 = 4096;

/// Iterations of one `for` loop (loops are unrolled).
pub const MAX_LOOP_ITERATIONS: u64 = 10_000;

/// Instructions of the elaborated program, counted as elaboration proceeds (nested
/// loops and long trainings multiply). At the maximum, elaboration takes about 2 s and
/// 200 MB; `tp scale` a few seconds more.
pub const MAX_INSTRUCTIONS: usize = 100_000;

/// Hidden layers of an `mlp`.
pub const MAX_DEPTH: usize = 200;

/// Unrolled SGD steps of `train sgd(steps = …)`.
pub const MAX_STEPS: usize = 100;

/// Order of a derivative written with primes, `act''(h)` being order 2.
pub const MAX_DERIVATIVE_ORDER: usize = 8;

/// Nodes of one derivative expression of an activation. Symbolic derivatives of products
/// and quotients grow geometrically with the order (silu^(7) has about 48000 nodes), and
/// every node is evaluated at every coordinate of every run.
pub const MAX_DERIVATIVE_NODES: usize = 20_000;

/// Columns of an `n x d` matrix (the dimension of finite inputs).
pub const MAX_DIMENSION: usize = 4096;

/// A fixed dimension `dim d = …` (the state of a Cont–Rossier–Xu ResNet). Its trend is a
/// d×d matrix of formulas, each evaluated at every layer of every simulated network, and
/// the limit equation is a d-dimensional SDE with a d×d Brownian matrix: d² grows fast.
pub const MAX_FIXED_DIM: usize = 256;

/// Widest column a text report pads to. Names are bounded by [`MAX_NAME_CHARS`], but
/// generated ones are longer, and Rust's formatter refuses widths above 65535: a longer
/// name is printed in full, only not padded.
pub const MAX_COLUMN_WIDTH: usize = 512;

/// Coordinates p of a mean-field particle w ∈ R^p (`meanfield …(dim = p)`). The unit and
/// its p partial derivatives are evaluated for every particle, every data point and every
/// step, and the limit's law lives in R^p: quadrature and kernel estimates in more than a
/// few dimensions are out of reach.
pub const MAX_MEANFIELD_DIM: usize = 8;

/// Coordinates d of a mean-field network's input x ∈ R^d (`x_dim = d`): expectations over
/// a teacher's inputs are integrals in R^d.
pub const MAX_MEANFIELD_X_DIM: usize = 8;

/// Points of a finite data set (`data = [[x1, …, xd, y], …]`), written in the file and
/// read at every step.
pub const MAX_DATA_POINTS: usize = 100_000;

/// The batch size M of a mean-field SGD step (`batch = M`): M data points per step, each
/// evaluated at every particle.
pub const MAX_BATCH: u64 = 1_000_000;

/// Bytes a mean-field simulation (`meanfield::simulate`) may plan to hold at once: the
/// particle systems running in parallel, their noise streams and every recorded cell.
/// Planned before anything is allocated; a larger request is refused with what to cut.
pub const MAX_MF_SIM_BYTES: u64 = 4 << 30;

/// SGD steps n_T = ⌊T / γ_{α,β}(N)⌋ of a mean-field program at one particle count: every
/// step moves all N particles, so a simulation costs n_T · N · M unit evaluations.
pub const MAX_MF_STEPS: u64 = 100_000_000;
