//! The typed syntax tree of a `.tp` file, exactly as written (before elaboration).
//!
//! Every node carries the byte [`Span`] it came from so that later stages can point
//! at the offending text in their diagnostics.

use crate::exponent::Rational;

/// A byte range `[start, end)` in the source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The span covering both `self` and `other`.
    pub fn join(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A parsed `.tp` file: its statements in order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct File {
    /// Top-level statements.
    pub items: Vec<Item>,
}

/// A possibly interpolated name: `h{l}_a` is `[Text("h"), Interp(l), Text("_a")]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Name {
    /// The pieces, concatenated after evaluating interpolations to integers.
    pub parts: Vec<NamePart>,
    /// Where the name was written.
    pub span: Span,
}

impl Name {
    /// The name as written when it has no interpolation.
    pub fn plain(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [NamePart::Text(t)] => Some(t),
            _ => None,
        }
    }
}

/// One piece of a [`Name`].
#[derive(Clone, Debug, PartialEq)]
pub enum NamePart {
    /// Literal characters.
    Text(String),
    /// `{expr}`: an integer-valued expression (a loop variable, `l-1`, `L`).
    Interp(Expr),
}

/// A surface expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What kind of expression.
    pub kind: ExprKind,
    /// Where it was written.
    pub span: Span,
}

/// Binary operators, in the usual precedence (`^` binds tightest, then `*` `/`, then `+` `-`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `^` (right-associative)
    Pow,
}

/// The shapes an expression can take.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A number, kept exact: `3`, `0.5` (= 1/2), `1e-3`.
    Number(Rational),
    /// A reference to a name: a parameter, value, input, activation, the width, a keyword
    /// value such as `none` or `mse`.
    Name(Name),
    /// `-e`
    Neg(Box<Expr>),
    /// `a op b`
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `f(a, b, …)`, `f'(a)` (with `primes` = 1), `mean(e)`, `W(x)`.
    Call {
        /// The function, activation, matrix or builtin called.
        callee: Name,
        /// Number of `'` after the name (derivative order).
        primes: usize,
        /// Positional arguments.
        args: Vec<Expr>,
    },
    /// `W x` or `W^T x`: a matrix applied to a vector by juxtaposition.
    MatMul {
        /// The matrix.
        matrix: Name,
        /// `^T` was written.
        transpose: bool,
        /// The vector.
        arg: Box<Expr>,
    },
    /// `[a, b, c..]`: a list; an element followed by `..` is repeated to fill.
    List(Vec<ListItem>),
}

/// One element of a list.
#[derive(Clone, Debug, PartialEq)]
pub struct ListItem {
    /// The element.
    pub value: Expr,
    /// `..` followed it: repeat it to fill the list up to the required length.
    pub repeat: bool,
}

/// `name = value` inside `(…)` after `mlp`, `resnet`, `shaped`, `train`, or a preset.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedArg {
    /// Argument name.
    pub name: String,
    /// Where the name was written.
    pub name_span: Span,
    /// Its value.
    pub value: Expr,
}

/// One `param` item: `L = 3`, or `a1` in `param a1, b1 symbolic`.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamItem {
    /// Parameter name.
    pub name: String,
    /// Where the name was written.
    pub span: Span,
    /// Its value; `None` for symbolic parameters.
    pub value: Option<Expr>,
}

/// A time selector on a parameterization entry: `c(t=0)` or `c(t>=1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeSel {
    /// Applies at every step.
    All,
    /// Applies at exactly this step.
    At(usize),
    /// Applies at this step and every later one.
    From(usize),
}

/// `key(t…) = value` inside a parameterization block.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamzEntry {
    /// `a`, `b`, `c`, `bias_a`, `bias_b`, `bias_c`, `std`, `bias_std`, …
    pub key: String,
    /// Where the key was written.
    pub key_span: Span,
    /// Which steps the entry covers.
    pub time: TimeSel,
    /// A single value (every layer) or a per-layer list.
    pub value: Expr,
}

/// Distribution on the right of `~`: `gaussian(var)` or `gaussian(var, mean = m)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dist {
    /// Distribution name (`gaussian`).
    pub name: String,
    /// Variance: an expression (for a matrix, usually a multiple of a power of n), or a
    /// covariance matrix as a list of lists for a joint declaration.
    pub variance: Expr,
    /// Optional mean.
    pub mean: Option<Expr>,
    /// Where the distribution was written.
    pub span: Span,
}

/// Dimensions of a matrix, `n x n` (default) or `n x 3`.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    /// Number of rows.
    pub rows: Expr,
    /// Number of columns.
    pub cols: Expr,
}

/// A statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// What the statement is.
    pub kind: ItemKind,
    /// The whole statement.
    pub span: Span,
}

/// The statements of the language.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    /// `program "title"`
    Program(String),
    /// `width n`
    Width(String),
    /// `param L = 3, eta = 0.5` or `param a1, b1 symbolic`
    Param {
        /// The parameters declared.
        items: Vec<ParamItem>,
        /// `symbolic` was written at the end.
        symbolic: bool,
    },
    /// `activation act = tanh`, `activation act = relu^2`, `activation phi(x) = x + x^2/2`
    Activation {
        /// The activation's name.
        name: String,
        /// Where the name was written.
        name_span: Span,
        /// The argument name for a user formula (`x`), `None` for an alias.
        param: Option<String>,
        /// The formula or the aliased activation.
        body: Expr,
    },
    /// `input xi0 = [1, 0.5, -0.5] target 1`
    Input {
        /// Input name.
        name: String,
        /// Where the name was written.
        name_span: Span,
        /// The vector (a list).
        value: Expr,
        /// Optional regression target.
        target: Option<Expr>,
    },
    /// `matrix W ~ gaussian(1/n)`, `matrix W1 : n x 3 ~ gaussian(2/3)`
    Matrix {
        /// Matrix name.
        name: Name,
        /// Optional shape; `n x n` when absent.
        shape: Option<Shape>,
        /// Entry distribution.
        dist: Dist,
    },
    /// `vector z ~ gaussian(1)`, `vector z1, z2 ~ gaussian([[1, .5], [.5, 1]])`,
    /// `scalar v ~ gaussian(1)`
    Sample {
        /// Vector or scalar samples.
        scalar: bool,
        /// The names declared together (jointly Gaussian).
        names: Vec<Name>,
        /// Their law.
        dist: Dist,
    },
    /// `vector h = W g`, `scalar q = mean(h * z)`
    Define {
        /// Scalar (`scalar`) or vector (`vector`) definition.
        scalar: bool,
        /// The defined name.
        name: Name,
        /// Its value.
        value: Expr,
    },
    /// `for l = 2 to L { … }` or `for l = L downto 1 { … }`
    For {
        /// Loop variable.
        var: String,
        /// First value.
        from: Expr,
        /// Last value (inclusive).
        to: Expr,
        /// `downto` was written.
        descending: bool,
        /// Body statements.
        body: Vec<Item>,
    },
    /// `mlp net(depth = L, act = act, bias = none)`
    Mlp {
        /// Network name.
        name: String,
        /// Options.
        args: Vec<NamedArg>,
    },
    /// `parameterization mup`, `parameterization sp(c = 1)`, `parameterization abc { … }`
    Parameterization {
        /// Preset or form name (`abc`, `ac`, `mup`, …).
        name: String,
        /// Where the name was written.
        name_span: Span,
        /// Preset arguments.
        args: Vec<NamedArg>,
        /// Block entries.
        entries: Vec<ParamzEntry>,
    },
    /// `train sgd(steps = 3, lr = eta, loss = mse, data = [xi0])`
    Train {
        /// Optimizer name (`sgd`).
        optimizer: String,
        /// Where the optimizer name was written.
        optimizer_span: Span,
        /// Options.
        args: Vec<NamedArg>,
    },
    /// `depth L`: the depth of a `resnet`, a size that grows (it has no value).
    Depth(String),
    /// `depth d = tau * n`: a depth tied to the width, d/n → τ (the proportional limit of
    /// a `shaped` network). A variant of its own rather than an option of [`ItemKind::Depth`]
    /// so that `depth L` keeps its one meaning for residual networks.
    TiedDepth {
        /// The depth's name.
        name: String,
        /// Where the name was written.
        name_span: Span,
        /// The right-hand side, τ times the width (checked by the elaborator).
        value: Expr,
    },
    /// `dim d = 4`: a fixed dimension, independent of every size.
    Dim {
        /// The dimension's name.
        name: String,
        /// Where the name was written.
        name_span: Span,
        /// Its value (a positive integer once evaluated).
        value: Expr,
    },
    /// `resnet net(kind = crx, depth = L, dim = d, act = tanh, input = x, alpha = 1, beta = 0)`
    Resnet {
        /// Network name.
        name: String,
        /// Where the name was written.
        name_span: Span,
        /// Options (which ones depend on `kind`).
        args: Vec<NamedArg>,
    },
    /// `shaped net(width = n, depth = d, act = tanh, input = x)`: a shaped MLP in the
    /// proportional limit (Li, Nica & Roy 2022).
    Shaped {
        /// Network name.
        name: String,
        /// Where the name was written.
        name_span: Span,
        /// Options (which ones depend on the activation).
        args: Vec<NamedArg>,
    },
    /// `particles N`: the particle count of a `meanfield` network, a size that grows.
    Particles {
        /// The size's name.
        name: String,
        /// Where the name was written.
        name_span: Span,
    },
    /// `meanfield net(particles = N, dim = 2, unit = tanh(w1 * x1 + w2), …)`: a mean-field
    /// two-layer network trained by SGD (De Bortoli, Durmus, Fontaine & Şimşekli 2020).
    MeanField {
        /// Network name.
        name: String,
        /// Where the name was written.
        name_span: Span,
        /// Options (checked by the elaborator).
        args: Vec<NamedArg>,
    },
}
