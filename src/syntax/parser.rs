//! The `.tp` parser: `grammar/tp.pest` → [`ast`](super::ast) nodes, or a [`Diagnostic`].
//!
//! Parsing happens in three steps:
//! 1. [`scan`] reads the raw text once, without pest. It bounds bracket nesting *before*
//!    pest runs (pest recurses once per bracket level, so 100000 `(` would overflow the
//!    stack), finds unterminated strings and unbalanced brackets (whose real cause is
//!    usually earlier than where pest gives up), and remembers where tokens are so error
//!    messages can point at the right place and say which statement they are about.
//! 2. pest matches the grammar.
//! 3. [`Builder`] walks the pest pairs and builds the AST: it applies associativity
//!    (the grammar uses flat repetitions), converts numbers exactly, bounds the depth of
//!    the tree, and checks the few rules the grammar leaves open.
//!
//! Nothing here panics on user input: every unexpected shape of the pair tree becomes an
//! "internal parser error" diagnostic instead of an `unwrap`.

// The signatures `Result<File, Diagnostic>` / `Result<Expr, Diagnostic>` are the
// contract of this module; a diagnostic is only built on the (cold) error path, so its size
// does not matter here.
#![allow(clippy::result_large_err)]

use super::ast::{
    BinOp, Dist, Expr, ExprKind, File, Item, ItemKind, ListItem, Name, NamePart, NamedArg,
    ParamItem, ParamzEntry, Shape, Span, TimeSel,
};
use super::diagnostic::{Diagnostic, Stage};
use crate::exponent::parse_rational;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::{Pair, Pairs};
use pest::Parser as _;
use pest_derive::Parser;

/// The pest parser generated from `grammar/tp.pest`.
#[derive(Parser)]
#[grammar = "../grammar/tp.pest"]
struct TpParser;

// Deepest bracket nesting accepted: each level costs pest a few dozen stack frames, and
// the parser thread's stack (below) holds `MAX_NESTING` levels in debug builds.
use crate::bounds::MAX_NESTING;

// Deepest expression tree accepted. Operator chains are flat in the grammar, so
// `a + a + … + a` with 100000 terms parses fine but would build a tree whose recursive
// `Drop` (and every later recursive pass) overflows the stack; chains are also bounded on
// their own (`MAX_CHAIN_OPERANDS`), so that a long flat sum gets a message about its length.
use crate::bounds::{MAX_CHAIN_OPERANDS, MAX_EXPR_DEPTH, MAX_NAME_CHARS};

/// Words that start a statement, in the order used in hints.
const STATEMENT_KEYWORDS: [&str; 18] = [
    "program",
    "width",
    "param",
    "activation",
    "input",
    "matrix",
    "vector",
    "scalar",
    "for",
    "mlp",
    "parameterization",
    "train",
    "depth",
    "dim",
    "resnet",
    "shaped",
    "particles",
    "meanfield",
];

/// Reserved words: statement keywords plus the words used inside statements.
const RESERVED: [&str; 22] = [
    "program",
    "width",
    "param",
    "activation",
    "input",
    "target",
    "matrix",
    "vector",
    "scalar",
    "for",
    "to",
    "downto",
    "mlp",
    "parameterization",
    "train",
    "symbolic",
    "depth",
    "dim",
    "resnet",
    "shaped",
    "particles",
    "meanfield",
];

/// Parses a whole `.tp` file. `file` is the name used in diagnostics.
pub fn parse(file: &str, source: &str) -> Result<File, Diagnostic> {
    on_parser_stack(file, source, || parse_file(file, source))
}

/// Parses one expression (used for command-line overrides such as `--set act=relu^2`).
pub fn parse_expr(file: &str, source: &str) -> Result<Expr, Diagnostic> {
    on_parser_stack(file, source, || parse_expression(file, source))
}

/// Stack for the parsing thread. Both pest and the AST builder recurse once per bracket
/// level, and unoptimized builds use several kilobytes per level, so the caller's stack
/// (2 MiB for test threads) is not enough for [`MAX_NESTING`] levels. The memory is only
/// reserved; pages are touched as deep as the input actually nests.
const PARSER_STACK: usize = 64 << 20;

/// Runs `work` on a thread with a [`PARSER_STACK`]-sized stack, so that every input
/// within the nesting limit parses whatever the caller's stack. If no thread can be
/// started, parses on the current thread instead (pest then still guards its own stack).
fn on_parser_stack<T: Send>(
    file: &str,
    source: &str,
    work: impl Fn() -> Result<T, Diagnostic> + Send + Sync,
) -> Result<T, Diagnostic> {
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("tp-parser".to_string())
            .stack_size(PARSER_STACK)
            .spawn_scoped(scope, &work);
        match spawned {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                let scan = Scan::default();
                let builder = Builder {
                    file,
                    src: source,
                    scan: &scan,
                };
                Err(builder.internal(Span::default(), "the parser thread stopped"))
            }),
            Err(_) => work(),
        }
    })
}

fn parse_file(file: &str, source: &str) -> Result<File, Diagnostic> {
    let scan = scan(file, source)?;
    let builder = Builder {
        file,
        src: source,
        scan: &scan,
    };
    match TpParser::parse(Rule::file, source) {
        Ok(mut pairs) => match pairs.next() {
            Some(pair) => builder.file(pair),
            None => Err(builder.internal(Span::default(), "no file pair")),
        },
        Err(err) => Err(syntax_error(file, source, &scan, &err, false)),
    }
}

fn parse_expression(file: &str, source: &str) -> Result<Expr, Diagnostic> {
    let scan = scan(file, source)?;
    let builder = Builder {
        file,
        src: source,
        scan: &scan,
    };
    match TpParser::parse(Rule::expr_only, source) {
        Ok(mut pairs) => {
            let top = pairs
                .next()
                .ok_or_else(|| builder.internal(Span::default(), "no expression pair"))?;
            let span = span_of(&top);
            let inner = top
                .into_inner()
                .find(|p| p.as_rule() == Rule::expr)
                .ok_or_else(|| builder.internal(span, "empty expression"))?;
            Ok(builder.expr(inner)?.0)
        }
        Err(err) => Err(syntax_error(file, source, &scan, &err, true)),
    }
}

fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    Span {
        start: s.start(),
        end: s.end(),
    }
}

// ======================================================================= raw-text scan

/// A bracket problem found by [`scan`]; reported instead of pest's error when it comes
/// first, because it is the cause and pest's complaint is only a consequence.
#[derive(Clone, Copy, Debug)]
enum Issue {
    /// A `"` with no closing `"` on its line.
    Unterminated(usize),
    /// A closing bracket with nothing open.
    Stray(usize, char),
    /// A closing bracket that does not match the innermost open one.
    Mismatch {
        at: usize,
        close: char,
        open_at: usize,
        open: char,
    },
}

impl Issue {
    fn position(self) -> usize {
        match self {
            Issue::Unterminated(at) | Issue::Stray(at, _) | Issue::Mismatch { at, .. } => at,
        }
    }
}

/// What [`scan`] learned about the text.
#[derive(Debug, Default)]
struct Scan {
    /// Byte offset of every character outside whitespace and comments, in order.
    significant: Vec<usize>,
    /// Statement keywords (outside comments and strings) with their byte offsets.
    statements: Vec<(usize, &'static str)>,
    /// Every opening bracket: offset, character, offset of its matching closer.
    brackets: Vec<(usize, char, Option<usize>)>,
    /// The first bracket or string problem.
    issue: Option<Issue>,
}

fn closer_of(open: char) -> char {
    match open {
        '(' => ')',
        '[' => ']',
        _ => '}',
    }
}

fn opener_of(close: char) -> char {
    match close {
        ')' => '(',
        ']' => '[',
        _ => '{',
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A character that cannot be seen in an editor but is not the grammar's whitespace: its
/// name, for the message (pest would report it as "unexpected ` `").
fn invisible(c: char) -> Option<&'static str> {
    Some(match c {
        ' ' | '\t' | '\n' | '\r' => return None,
        '\0' => "NUL",
        '\u{feff}' => "byte-order mark",
        '\u{a0}' | '\u{202f}' => "no-break space",
        '\u{ad}' => "soft hyphen",
        '\u{200b}'..='\u{200f}' | '\u{2060}' => "zero-width character",
        '\u{2028}' | '\u{2029}' => "Unicode line separator",
        c if c.is_control() => "control character",
        c if c.is_whitespace() => "Unicode space",
        _ => return None,
    })
}

fn invisible_hint(c: char) -> String {
    match c {
        '\0' => "delete it; NUL bytes usually mean the file is not plain UTF-8 text (e.g. it \
                  was saved as UTF-16)"
            .to_string(),
        '\u{feff}' => "delete it (a byte-order mark is only ignored at the very start of the \
                       file; it may come from joining files)"
            .to_string(),
        c if c.is_whitespace() => "replace it with an ordinary space".to_string(),
        _ => "delete it; programs are plain text".to_string(),
    }
}

/// One pass over the raw text: comments, strings, words and brackets. Fails when
/// brackets nest deeper than [`MAX_NESTING`] (at the bracket that crosses the limit), at
/// an invisible character outside comments and strings, and at a name longer than
/// [`MAX_NAME_CHARS`].
fn scan(file: &str, src: &str) -> Result<Scan, Diagnostic> {
    let mut out = Scan::default();
    // Indices into `out.brackets` of the currently open brackets.
    let mut open: Vec<usize> = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        // Exactly the grammar's WHITESPACE and COMMENT.
        if matches!(c, ' ' | '\t' | '\n' | '\r') {
            continue;
        }
        if c == '#' {
            while chars.next_if(|&(_, c)| c != '\n' && c != '\r').is_some() {}
            continue;
        }
        if let Some(what) = invisible(c) {
            return Err(Diagnostic::new(
                Stage::Syntax,
                file,
                src,
                Span {
                    start: i,
                    end: i + c.len_utf8(),
                },
                format!(
                    "invisible character U+{:04X} ({what}) in the program",
                    c as u32
                ),
                Some(invisible_hint(c)),
            ));
        }
        out.significant.push(i);
        match c {
            '"' => {
                let mut closed = false;
                while let Some((j, d)) = chars.next_if(|&(_, d)| d != '\n' && d != '\r') {
                    out.significant.push(j);
                    if d == '\\' {
                        if let Some((k, _)) = chars.next_if(|&(_, d)| d != '\n' && d != '\r') {
                            out.significant.push(k);
                        }
                    } else if d == '"' {
                        closed = true;
                        break;
                    }
                }
                if !closed && out.issue.is_none() {
                    out.issue = Some(Issue::Unterminated(i));
                }
            }
            '(' | '[' | '{' => {
                if open.len() >= MAX_NESTING {
                    return Err(Diagnostic::new(
                        Stage::Syntax,
                        file,
                        src,
                        Span {
                            start: i,
                            end: i + 1,
                        },
                        format!("brackets are nested more than {MAX_NESTING} levels deep"),
                        Some(
                            "split the expression into intermediate definitions \
                             (`vector h1 = …`, then use `h1`)"
                                .to_string(),
                        ),
                    ));
                }
                open.push(out.brackets.len());
                out.brackets.push((i, c, None));
            }
            ')' | ']' | '}' => match open.pop() {
                None => {
                    if out.issue.is_none() {
                        out.issue = Some(Issue::Stray(i, c));
                    }
                }
                Some(idx) => {
                    if let Some(entry) = out.brackets.get_mut(idx) {
                        entry.2 = Some(i);
                        if closer_of(entry.1) != c && out.issue.is_none() {
                            out.issue = Some(Issue::Mismatch {
                                at: i,
                                close: c,
                                open_at: entry.0,
                                open: entry.1,
                            });
                        }
                    }
                }
            },
            c if is_ident_start(c) => {
                let mut end = i + c.len_utf8();
                while let Some((j, d)) = chars.next_if(|&(_, d)| is_ident_char(d)) {
                    out.significant.push(j);
                    end = j + d.len_utf8();
                }
                let word = src.get(i..end).unwrap_or("");
                if word.len() > MAX_NAME_CHARS {
                    return Err(Diagnostic::new(
                        Stage::Syntax,
                        file,
                        src,
                        Span { start: i, end },
                        format!(
                            "a name of {} characters; names have at most {MAX_NAME_CHARS}",
                            word.len()
                        ),
                        Some("choose a shorter name".to_string()),
                    ));
                }
                // A statement never starts inside `(…)` or `[…]`: there a keyword is an
                // option key (`mlp net(depth = L)`, `resnet net(dim = d)`), and taking it
                // for a statement would give hints about the wrong statement.
                let in_args = open
                    .last()
                    .and_then(|&k| out.brackets.get(k))
                    .is_some_and(|&(_, c, _)| c != '{');
                if !in_args {
                    if let Some(kw) = STATEMENT_KEYWORDS.iter().find(|&&k| k == word) {
                        out.statements.push((i, kw));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

impl Scan {
    /// Offset of the last significant character strictly before `pos`.
    fn previous(&self, pos: usize) -> Option<usize> {
        let idx = self.significant.partition_point(|&p| p < pos);
        idx.checked_sub(1)
            .and_then(|i| self.significant.get(i).copied())
    }

    /// One past the last significant character before `pos`.
    fn end_before(&self, src: &str, pos: usize) -> usize {
        self.previous(pos).map_or(0, |p| {
            p + src
                .get(p..)
                .and_then(|s| s.chars().next())
                .map_or(1, char::len_utf8)
        })
    }

    /// The statement keyword that the text at `pos` belongs to.
    fn statement_at(&self, pos: usize) -> Option<&'static str> {
        let idx = self.statements.partition_point(|&(p, _)| p < pos);
        idx.checked_sub(1)
            .and_then(|i| self.statements.get(i))
            .map(|&(_, kw)| kw)
    }

    /// The innermost bracket still open at `pos`.
    fn open_at(&self, pos: usize) -> Option<(usize, char)> {
        self.brackets
            .iter()
            .filter(|&&(at, _, close)| at < pos && close.map_or(true, |c| c >= pos))
            .map(|&(at, c, _)| (at, c))
            .next_back()
    }
}

// ======================================================================= pest errors

/// What pest was looking for, in words. The order is the order in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Expect {
    Expression,
    Name,
    Argument,
    Entry,
    Title,
    Distribution,
    Eq,
    Ge,
    Tilde,
    Colon,
    To,
    DimX,
    Mean,
    TimeT,
    Step,
    TimeSel,
    Open(char),
    Comma,
    Close(char),
    Symbolic,
    Target,
    Repeat,
    Operator,
    Statement,
    End,
    /// Attempts that never help the reader (name continuations, call/product tails).
    Ignore,
}

impl Expect {
    fn of(rule: Rule) -> Expect {
        use Rule as R;
        match rule {
            R::expr
            | R::expr_only
            | R::term
            | R::unary
            | R::power
            | R::pow_rhs
            | R::paren
            | R::list
            | R::lbracket
            | R::list_item
            | R::number
            | R::bad_number
            | R::name_led
            | R::neg_op
            | R::shape
            | R::dim
            | R::dim_term
            | R::dim_unary
            | R::dim_power
            | R::dim_pow_rhs
            | R::name_call => Expect::Expression,
            R::name | R::plain_name | R::name_text_first | R::act_param => Expect::Name,
            R::named_arg | R::arg_name => Expect::Argument,
            R::paramz_entry | R::entry_key => Expect::Entry,
            R::string => Expect::Title,
            R::dist | R::dist_name => Expect::Distribution,
            R::eq | R::define_rhs => Expect::Eq,
            R::ge => Expect::Ge,
            R::tilde | R::sample_rhs => Expect::Tilde,
            R::colon => Expect::Colon,
            R::kw_to | R::kw_downto => Expect::To,
            R::kw_x => Expect::DimX,
            R::kw_mean => Expect::Mean,
            R::kw_t => Expect::TimeT,
            R::uint => Expect::Step,
            R::time_sel => Expect::TimeSel,
            R::lparen | R::named_args => Expect::Open('('),
            R::lbrace | R::block | R::paramz_block => Expect::Open('{'),
            R::comma => Expect::Comma,
            R::rparen => Expect::Close(')'),
            R::rbracket => Expect::Close(']'),
            R::rbrace => Expect::Close('}'),
            R::kw_symbolic => Expect::Symbolic,
            R::kw_target => Expect::Target,
            R::repeat => Expect::Repeat,
            R::add_op | R::mul_op | R::pow_op => Expect::Operator,
            R::file
            | R::statement
            | R::program_stmt
            | R::width_stmt
            | R::param_stmt
            | R::activation_stmt
            | R::input_stmt
            | R::matrix_stmt
            | R::vector_stmt
            | R::scalar_stmt
            | R::for_stmt
            | R::mlp_stmt
            | R::paramz_stmt
            | R::train_stmt
            | R::depth_stmt
            | R::dim_stmt
            | R::resnet_stmt
            | R::shaped_stmt
            | R::particles_stmt
            | R::meanfield_stmt
            | R::kw_particles
            | R::kw_meanfield
            | R::kw_depth
            | R::kw_dim
            | R::kw_resnet
            | R::kw_shaped
            | R::kw_program
            | R::kw_width
            | R::kw_param
            | R::kw_activation
            | R::kw_input
            | R::kw_matrix
            | R::kw_vector
            | R::kw_scalar
            | R::kw_for
            | R::kw_mlp
            | R::kw_parameterization
            | R::kw_train
            | R::semi => Expect::Statement,
            R::EOI => Expect::End,
            _ => Expect::Ignore,
        }
    }

    /// How strongly this expectation explains the error. Only the strongest tier is
    /// shown: after `param L 3`, pest would accept `=`, `,`, `symbolic` or a new
    /// statement, but "expected `=`" is what the writer needs to read.
    fn tier(self, closing: bool) -> u8 {
        match self {
            Expect::Comma if closing => 3,
            Expect::Comma | Expect::Symbolic | Expect::Target => 2,
            Expect::Colon | Expect::TimeSel => 2,
            Expect::Repeat | Expect::Operator => 1,
            Expect::Statement | Expect::End | Expect::Ignore => 0,
            _ => 3,
        }
    }

    fn words(self) -> String {
        match self {
            Expect::Expression => "an expression".into(),
            Expect::Name => "a name".into(),
            Expect::Argument => "an option such as `steps = 3`".into(),
            Expect::Entry => "an entry such as `b = 1/2`".into(),
            Expect::Title => "a title in double quotes".into(),
            Expect::Distribution => "a distribution such as `gaussian(1)`".into(),
            Expect::Eq => "`=`".into(),
            Expect::Ge => "`>=`".into(),
            Expect::Tilde => "`~`".into(),
            Expect::Colon => "`:`".into(),
            Expect::To => "`to` or `downto`".into(),
            Expect::DimX => "`x`".into(),
            Expect::Mean => "`mean`".into(),
            Expect::TimeT => "`t`".into(),
            Expect::Step => "a step number".into(),
            Expect::TimeSel => "a time selector such as `(t>=1)`".into(),
            Expect::Open(c) | Expect::Close(c) => format!("`{c}`"),
            Expect::Comma => "`,`".into(),
            Expect::Symbolic => "`symbolic`".into(),
            Expect::Target => "`target`".into(),
            Expect::Repeat => "`..`".into(),
            Expect::Operator => "an operator".into(),
            Expect::Statement => "a statement".into(),
            Expect::End => "the end of the input".into(),
            Expect::Ignore => "something else".into(),
        }
    }
}

/// "a", "a or b", "a, b or c".
fn join_words(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The token that starts at `pos`: a word, a number, or one character.
fn token_at(src: &str, pos: usize) -> &str {
    let rest = src.get(pos..).unwrap_or("");
    let Some(first) = rest.chars().next() else {
        return "";
    };
    let len = if is_ident_char(first) {
        rest.find(|c: char| !is_ident_char(c)).unwrap_or(rest.len())
    } else if first == '.'
        && rest
            .get(1..)
            .unwrap_or("")
            .starts_with(|c: char| c.is_ascii_digit())
    {
        rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len())
    } else {
        first.len_utf8()
    };
    rest.get(..len).unwrap_or("")
}

/// Line and column (1-based, in characters) of a byte offset, for hints.
fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(src.len());
    while pos > 0 && !src.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = src.get(..pos).unwrap_or("");
    let line_start = before.rfind('\n').map_or(0, |p| p + 1);
    let line = before.matches('\n').count() + 1;
    let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, col)
}

fn at(src: &str, pos: usize) -> String {
    let (line, col) = line_col(src, pos);
    format!("line {line}, column {col}")
}

/// Levenshtein distance, for "did you mean" on misspelled statement keywords.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row.first().copied().unwrap_or(0);
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, &cb) in b.iter().enumerate() {
            let above = row.get(j + 1).copied().unwrap_or(0);
            let left = row.get(j).copied().unwrap_or(0);
            let value = (diag + usize::from(ca != cb)).min(above + 1).min(left + 1);
            diag = above;
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = value;
            }
        }
    }
    row.last().copied().unwrap_or(0)
}

/// How each statement is written, for hints.
fn statement_example(kw: &str) -> Option<&'static str> {
    Some(match kw {
        "program" => "`program \"3-layer MLP\"`",
        "width" => "`width n`",
        "param" => "`param L = 3, eta = 0.5` (or `param a, b symbolic` for symbols)",
        "activation" => "`activation act = tanh` or `activation phi(x) = x + x^2/2`",
        "input" => "`input xi0 = [1.0, 0.5, -0.5] target 1.0`",
        "matrix" => "`matrix W ~ gaussian(1/n)` or `matrix W1 : n x 3 ~ gaussian(1/3)`",
        "vector" => "`vector h = W x` (a definition) or `vector z ~ gaussian(1)` (a sample)",
        "scalar" => {
            "`scalar q = mean(h * z)` (a definition) or `scalar v ~ gaussian(1)` (a sample)"
        }
        "for" => "`for l = 2 to L { … }` (or `downto` to count down)",
        "mlp" => "`mlp net(depth = L, act = act, bias = none)`",
        "parameterization" => {
            "`parameterization mup`, `parameterization sp(c = 1)` or \
             `parameterization abc { a = 0, b = 1/2, c = 0 }`"
        }
        "train" => "`train sgd(steps = 3, lr = eta, loss = mse, data = [xi0])`",
        "depth" => "`depth L` (a resnet), or `depth d = tau * n` (a shaped network)",
        "dim" => "`dim d = 4`",
        "resnet" => {
            "`resnet net(kind = crx, depth = L, dim = d, act = tanh, input = x, alpha = 1, \
             beta = 0)` or `resnet net(kind = hayou1, depth = L, width = n, act = relu, \
             input = x)`"
        }
        "shaped" => {
            "`shaped net(width = n, depth = d, act = tanh, input = x)` or `shaped \
             net(width = n, depth = d, act = relu, c_minus = -1, inputs = [xa, xb])`"
        }
        "particles" => "`particles N` (the particle count of a `meanfield` network)",
        "meanfield" => {
            "`meanfield net(particles = N, dim = 1, unit = w1 * x1, data = teacher, target = \
             x1 / 2, gamma = 1/10, alpha = 0, beta = 1, horizon = 6)`"
        }
        _ => return None,
    })
}

fn statement_list() -> String {
    STATEMENT_KEYWORDS
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Turns a bracket or string problem found by [`scan`] into a diagnostic.
fn issue_diagnostic(file: &str, src: &str, issue: Issue) -> Diagnostic {
    let one = |start: usize| Span {
        start,
        end: start + 1,
    };
    match issue {
        Issue::Unterminated(pos) => Diagnostic::new(
            Stage::Syntax,
            file,
            src,
            Span {
                start: pos,
                end: src.len(),
            },
            "unterminated string",
            Some("close the string with `\"` on the same line".to_string()),
        ),
        Issue::Stray(pos, close) => Diagnostic::new(
            Stage::Syntax,
            file,
            src,
            one(pos),
            format!("unmatched `{close}`"),
            Some(format!(
                "there is no `{}` before it to close; remove it",
                opener_of(close)
            )),
        ),
        Issue::Mismatch {
            at: pos,
            close,
            open_at,
            open,
        } => Diagnostic::new(
            Stage::Syntax,
            file,
            src,
            one(pos),
            format!("expected `{}` before `{close}`", closer_of(open)),
            Some(format!(
                "the `{open}` at {} is still open; close it with `{}` first",
                at(src, open_at),
                closer_of(open)
            )),
        ),
    }
}

/// Translates a pest error into a diagnostic: where, what was expected (in words), and a
/// hint that depends on the statement and on the token before the error.
fn syntax_error(
    file: &str,
    src: &str,
    scan: &Scan,
    err: &pest::error::Error<Rule>,
    expr_only: bool,
) -> Diagnostic {
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    if let Some(issue) = scan.issue {
        if issue.position() <= pos {
            return issue_diagnostic(file, src, issue);
        }
    }
    let found = token_at(src, pos);
    let at_end = found.is_empty();
    let previous = scan.previous(pos);
    let prev_char = previous
        .and_then(|p| src.get(p..))
        .and_then(|s| s.chars().next());
    let starts_line = previous
        .and_then(|p| src.get(p..pos))
        .map_or(true, |between| between.contains('\n'));
    let found_word = found.starts_with(is_ident_start);
    let found_reserved = found_word && RESERVED.contains(&found);

    let (positives, keyword_refused) = match &err.variant {
        ErrorVariant::ParsingError {
            positives,
            negatives,
        } => (positives.clone(), !negatives.is_empty()),
        ErrorVariant::CustomError { message } => (Vec::new(), message.is_empty()),
    };
    let mut expects: Vec<Expect> = positives.into_iter().map(Expect::of).collect();
    expects.sort();
    expects.dedup();
    let closing = expects.iter().any(|e| matches!(e, Expect::Close(_)));
    let best = expects.iter().map(|e| e.tier(closing)).max().unwrap_or(0);
    let top: Vec<Expect> = expects
        .iter()
        .copied()
        .filter(|e| e.tier(closing) == best)
        .collect();
    let has = |e: Expect| top.contains(&e);
    let can_start_statement = expects.contains(&Expect::Statement);

    // Where to point. At the end of the text, or when the unexpected token opens a new
    // line while the statement is unfinished, point just after the previous token: that
    // is where something is missing (`[1, 2` then `width n` on the next line).
    // A name was wanted but a reserved word is there (pest only records the refused
    // keyword, as a negative attempt).
    let keyword_instead_of_name =
        found_reserved && (keyword_refused || has(Expect::Name) || has(Expect::Expression));
    let after_previous = at_end
        || (previous.is_some() && starts_line && !can_start_statement && !keyword_instead_of_name);
    let span = if after_previous {
        let end = scan.end_before(src, pos);
        Span { start: end, end }
    } else {
        Span {
            start: pos,
            end: pos + found.len(),
        }
    };
    let diag = |message: String, hint: String| {
        Diagnostic::new(Stage::Syntax, file, src, span, message, Some(hint))
    };

    if let ErrorVariant::CustomError { message } = &err.variant {
        return diag(
            format!("the input is too complex to parse ({message})"),
            "split long or deeply nested expressions into intermediate definitions".to_string(),
        );
    }

    let example = match scan.statement_at(pos).and_then(statement_example) {
        Some(example) => format!("write it like {example}"),
        None if expr_only => "write an expression such as `relu^2`, `0.5` or `n^(-1/2)`".into(),
        None => format!("a statement starts with one of {}", statement_list()),
    };
    let trailing_comma = "remove the trailing `,`, or add another item after it";

    if keyword_instead_of_name {
        let hint = if prev_char == Some(',') {
            trailing_comma.to_string()
        } else {
            format!("`{found}` is reserved; choose another name")
        };
        return diag(
            format!("expected a name, found the keyword `{found}`"),
            hint,
        );
    }

    // A word at the start of a line where a statement may begin: a misspelled keyword.
    if can_start_statement && found_word && starts_line {
        let suggestion = STATEMENT_KEYWORDS
            .iter()
            .map(|k| (edit_distance(found, k), *k))
            .filter(|&(d, k)| d <= 2 && d < k.len())
            .min();
        let hint = match suggestion {
            Some((_, k)) => format!("did you mean `{k}`?"),
            None => format!("a statement starts with one of {}", statement_list()),
        };
        return diag(format!("unknown statement `{found}`"), hint);
    }

    // Nothing specific was expected: the statement was complete.
    if best <= 1 {
        let hint = if found_word && prev_char.is_some_and(|c| c.is_ascii_digit()) {
            "multiplication is written explicitly, e.g. `2 * n`".to_string()
        } else if can_start_statement {
            format!(
                "`{found}` does not continue the statement: join it with an operator such \
                 as `*`, or start a new statement with a keyword"
            )
        } else {
            example
        };
        let message = if at_end {
            "unexpected end of input".to_string()
        } else {
            format!("unexpected `{found}`")
        };
        return diag(message, hint);
    }

    let words: Vec<String> = top.iter().map(|e| e.words()).collect();
    let message = format!("expected {}", join_words(&words));
    let closer = top.iter().find_map(|e| match e {
        Expect::Close(c) => Some(*c),
        _ => None,
    });
    let operand = has(Expect::Expression) || has(Expect::Name);
    let hint = if operand && prev_char == Some(',') {
        trailing_comma.to_string()
    } else if operand && matches!(prev_char, Some('+' | '-' | '*' | '/')) {
        let op = prev_char.unwrap_or('+');
        format!("`{op}` needs an operand after it, e.g. `h {op} z`")
    } else if operand && prev_char == Some('^') {
        "`^` needs an exponent after it, e.g. `n^2` or `n^(-1/2)`".to_string()
    } else if has(Expect::TimeT) || has(Expect::Ge) || has(Expect::Step) {
        "a time selector is written `(t=0)` or `(t>=1)`".to_string()
    } else if has(Expect::Mean) {
        "the only option of a distribution is `mean`: `gaussian(1/n, mean = u/n)`".to_string()
    } else if has(Expect::Distribution) {
        "write a distribution such as `gaussian(1/n)` or `gaussian(1, mean = u/n)`".to_string()
    } else if has(Expect::Title) {
        "write the title in double quotes: `program \"my network\"`".to_string()
    } else if has(Expect::DimX) {
        "write the shape as `rows x cols`, e.g. `matrix W1 : n x 3 ~ gaussian(1/3)`".to_string()
    } else if let Some(close) = closer {
        match scan.open_at(pos) {
            Some((open_at, open)) if closer_of(open) == close => {
                let sep = if has(Expect::Comma) {
                    "separate items with `,`; "
                } else {
                    ""
                };
                format!(
                    "{sep}the `{open}` at {} is still open: close it with `{close}`",
                    at(src, open_at)
                )
            }
            _ => format!("add `{close}`"),
        }
    } else if operand && prev_char == Some('=') {
        match scan.statement_at(pos).and_then(statement_example) {
            Some(example) => format!("write a value after `=`, as in {example}"),
            None => "write a value after `=`".to_string(),
        }
    } else {
        example
    };
    diag(message, hint)
}

// ======================================================================= AST builder

/// An expression together with the depth of its tree (bounded by [`MAX_EXPR_DEPTH`]).
type Built = (Expr, usize);

/// Walks pest pairs and builds AST nodes.
struct Builder<'s> {
    file: &'s str,
    src: &'s str,
    /// Where the significant characters are, to trim statement spans.
    scan: &'s Scan,
}

impl<'s> Builder<'s> {
    fn error(&self, span: Span, message: impl Into<String>, hint: impl Into<String>) -> Diagnostic {
        Diagnostic::new(
            Stage::Syntax,
            self.file,
            self.src,
            span,
            message,
            Some(hint.into()),
        )
    }

    /// The pair tree did not have the shape the grammar guarantees. Reported rather than
    /// panicking so that a grammar/builder mismatch can never crash the tool.
    fn internal(&self, span: Span, what: &str) -> Diagnostic {
        self.error(
            span,
            format!("internal parser error: {what}"),
            "this is a bug in tp; please report it with this input",
        )
    }

    /// The next child with the given rule, skipping punctuation.
    fn take<'i>(
        &self,
        pairs: &mut Pairs<'i, Rule>,
        rule: Rule,
        span: Span,
    ) -> Result<Pair<'i, Rule>, Diagnostic> {
        pairs
            .find(|p| p.as_rule() == rule)
            .ok_or_else(|| self.internal(span, &format!("missing {rule:?}")))
    }

    fn node(&self, kind: ExprKind, span: Span, depth: usize) -> Result<Built, Diagnostic> {
        if depth > MAX_EXPR_DEPTH {
            return Err(self.error(
                span,
                format!("expression is nested more than {MAX_EXPR_DEPTH} levels deep"),
                "split it into intermediate definitions",
            ));
        }
        Ok((Expr { kind, span }, depth))
    }

    // ------------------------------------------------------------------ statements

    fn file(&self, pair: Pair<'_, Rule>) -> Result<File, Diagnostic> {
        Ok(File {
            items: self.items(pair.into_inner())?,
        })
    }

    fn items(&self, pairs: Pairs<'_, Rule>) -> Result<Vec<Item>, Diagnostic> {
        pairs
            .filter(|p| p.as_rule() == Rule::statement)
            .map(|p| self.item(p))
            .collect()
    }

    fn item(&self, pair: Pair<'_, Rule>) -> Result<Item, Diagnostic> {
        // pest includes the whitespace and comments after a statement that ends in an
        // optional part; the statement's span stops at its last token.
        let full = span_of(&pair);
        let span = Span {
            start: full.start,
            end: self.scan.end_before(self.src, full.end).max(full.start),
        };
        let stmt = pair
            .into_inner()
            .next()
            .ok_or_else(|| self.internal(span, "empty statement"))?;
        let rule = stmt.as_rule();
        let mut inner = stmt.into_inner();
        let kind = match rule {
            Rule::program_stmt => {
                let s = self.take(&mut inner, Rule::string, span)?;
                ItemKind::Program(unescape(s.as_str()))
            }
            Rule::width_stmt => ItemKind::Width(
                self.take(&mut inner, Rule::plain_name, span)?
                    .as_str()
                    .to_string(),
            ),
            Rule::param_stmt => self.param(inner)?,
            Rule::activation_stmt => {
                let name = self.take(&mut inner, Rule::plain_name, span)?;
                let mut param = None;
                let mut body = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::act_param => param = Some(p.as_str().trim().to_string()),
                        Rule::expr => body = Some(self.expr(p)?.0),
                        _ => {}
                    }
                }
                ItemKind::Activation {
                    name: name.as_str().to_string(),
                    name_span: span_of(&name),
                    param,
                    body: body.ok_or_else(|| self.internal(span, "activation without body"))?,
                }
            }
            Rule::input_stmt => {
                let name = self.take(&mut inner, Rule::plain_name, span)?;
                let value = self.expr(self.take(&mut inner, Rule::expr, span)?)?.0;
                let target = match inner.find(|p| p.as_rule() == Rule::expr) {
                    Some(p) => Some(self.expr(p)?.0),
                    None => None,
                };
                ItemKind::Input {
                    name: name.as_str().to_string(),
                    name_span: span_of(&name),
                    value,
                    target,
                }
            }
            Rule::matrix_stmt => {
                let name = self.name(self.take(&mut inner, Rule::name, span)?)?.0;
                let mut shape = None;
                let mut dist = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::shape => {
                            let shape_span = span_of(&p);
                            let mut dims = p.into_inner();
                            let rows = self.expr(self.take(&mut dims, Rule::dim, shape_span)?)?.0;
                            let cols = self.expr(self.take(&mut dims, Rule::dim, shape_span)?)?.0;
                            shape = Some(Shape { rows, cols });
                        }
                        Rule::dist => dist = Some(self.dist(p)?),
                        _ => {}
                    }
                }
                ItemKind::Matrix {
                    name,
                    shape,
                    dist: dist.ok_or_else(|| self.internal(span, "matrix without law"))?,
                }
            }
            Rule::vector_stmt => self.value_decl(inner, false, span)?,
            Rule::scalar_stmt => self.value_decl(inner, true, span)?,
            Rule::for_stmt => {
                let var = self
                    .take(&mut inner, Rule::plain_name, span)?
                    .as_str()
                    .to_string();
                let from = self.expr(self.take(&mut inner, Rule::expr, span)?)?.0;
                let mut descending = false;
                let mut to = None;
                let mut body = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::kw_downto => descending = true,
                        Rule::expr => to = Some(self.expr(p)?.0),
                        Rule::block => body = Some(self.items(p.into_inner())?),
                        _ => {}
                    }
                }
                ItemKind::For {
                    var,
                    from,
                    to: to.ok_or_else(|| self.internal(span, "loop without bound"))?,
                    descending,
                    body: body.ok_or_else(|| self.internal(span, "loop without body"))?,
                }
            }
            Rule::mlp_stmt => {
                let name = self
                    .take(&mut inner, Rule::plain_name, span)?
                    .as_str()
                    .to_string();
                let args = match inner.find(|p| p.as_rule() == Rule::named_args) {
                    Some(p) => self.named_args(p)?,
                    None => Vec::new(),
                };
                ItemKind::Mlp { name, args }
            }
            Rule::paramz_stmt => {
                let name = self.take(&mut inner, Rule::plain_name, span)?;
                let mut args = Vec::new();
                let mut entries = Vec::new();
                for p in inner {
                    match p.as_rule() {
                        Rule::named_args => args = self.named_args(p)?,
                        Rule::paramz_block => entries = self.paramz_block(p)?,
                        _ => {}
                    }
                }
                ItemKind::Parameterization {
                    name: name.as_str().to_string(),
                    name_span: span_of(&name),
                    args,
                    entries,
                }
            }
            Rule::train_stmt => {
                let name = self.take(&mut inner, Rule::plain_name, span)?;
                let args = self.named_args(self.take(&mut inner, Rule::named_args, span)?)?;
                ItemKind::Train {
                    optimizer: name.as_str().to_string(),
                    optimizer_span: span_of(&name),
                    args,
                }
            }
            Rule::depth_stmt => {
                let name = self.take(&mut inner, Rule::plain_name, span)?;
                match inner.find(|p| p.as_rule() == Rule::expr) {
                    Some(e) => ItemKind::TiedDepth {
                        name: name.as_str().to_string(),
                        name_span: span_of(&name),
                        value: self.expr(e)?.0,
                    },
                    None => ItemKind::Depth(name.as_str().to_string()),
                }
            }
            Rule::dim_stmt => {
                let name = self.take(&mut inner, Rule::plain_name, span)?;
                let value = self.expr(self.take(&mut inner, Rule::expr, span)?)?.0;
                ItemKind::Dim {
                    name: name.as_str().to_string(),
                    name_span: span_of(&name),
                    value,
                }
            }
            Rule::resnet_stmt => {
                let name = self.take(&mut inner, Rule::plain_name, span)?;
                let args = self.named_args(self.take(&mut inner, Rule::named_args, span)?)?;
                ItemKind::Resnet {
                    name: name.as_str().to_string(),
                    name_span: span_of(&name),
                    args,
                }
            }
            Rule::shaped_stmt => {
                let name = self.take(&mut inner, Rule::plain_name, span)?;
                let args = self.named_args(self.take(&mut inner, Rule::named_args, span)?)?;
                ItemKind::Shaped {
                    name: name.as_str().to_string(),
                    name_span: span_of(&name),
                    args,
                }
            }
            Rule::particles_stmt => {
                let name = self.take(&mut inner, Rule::plain_name, span)?;
                ItemKind::Particles {
                    name: name.as_str().to_string(),
                    name_span: span_of(&name),
                }
            }
            Rule::meanfield_stmt => {
                let name = self.take(&mut inner, Rule::plain_name, span)?;
                let args = self.named_args(self.take(&mut inner, Rule::named_args, span)?)?;
                ItemKind::MeanField {
                    name: name.as_str().to_string(),
                    name_span: span_of(&name),
                    args,
                }
            }
            other => return Err(self.internal(span, &format!("unexpected {other:?}"))),
        };
        Ok(Item { kind, span })
    }

    fn param(&self, inner: Pairs<'_, Rule>) -> Result<ItemKind, Diagnostic> {
        let mut items = Vec::new();
        let mut symbolic = false;
        for p in inner {
            match p.as_rule() {
                Rule::kw_symbolic => symbolic = true,
                Rule::param_item => {
                    let item_span = span_of(&p);
                    let mut parts = p.into_inner();
                    let name = self.take(&mut parts, Rule::plain_name, item_span)?;
                    let value = match parts.find(|q| q.as_rule() == Rule::expr) {
                        Some(e) => Some(self.expr(e)?.0),
                        None => None,
                    };
                    items.push(ParamItem {
                        name: name.as_str().to_string(),
                        span: span_of(&name),
                        value,
                    });
                }
                _ => {}
            }
        }
        if !symbolic {
            if let Some(bare) = items.iter().find(|i| i.value.is_none()) {
                return Err(self.error(
                    bare.span,
                    format!("parameter `{}` has no value", bare.name),
                    format!(
                        "write `param {} = 3`, or end the statement with `symbolic` to keep \
                         it as a symbol",
                        bare.name
                    ),
                ));
            }
        }
        Ok(ItemKind::Param { items, symbolic })
    }

    /// `vector …` / `scalar …`: a joint sample (`~`) or a single definition (`=`).
    fn value_decl(
        &self,
        inner: Pairs<'_, Rule>,
        scalar: bool,
        span: Span,
    ) -> Result<ItemKind, Diagnostic> {
        let mut names = Vec::new();
        for p in inner {
            match p.as_rule() {
                Rule::name => names.push(self.name(p)?.0),
                Rule::sample_rhs => {
                    let rhs_span = span_of(&p);
                    let dist =
                        self.dist(self.take(&mut p.into_inner(), Rule::dist, rhs_span)?)?;
                    return Ok(ItemKind::Sample {
                        scalar,
                        names,
                        dist,
                    });
                }
                Rule::define_rhs => {
                    let rhs_span = span_of(&p);
                    let value = self
                        .expr(self.take(&mut p.into_inner(), Rule::expr, rhs_span)?)?
                        .0;
                    let mut names = names.into_iter();
                    let name = names
                        .next()
                        .ok_or_else(|| self.internal(span, "definition without name"))?;
                    if let Some(extra) = names.next() {
                        let what = if scalar { "scalar" } else { "vector" };
                        return Err(self.error(
                            extra.span,
                            format!("only one {what} can be defined with `=`"),
                            format!(
                                "define each {what} in its own statement, or sample them \
                                 jointly with `~`"
                            ),
                        ));
                    }
                    return Ok(ItemKind::Define {
                        scalar,
                        name,
                        value,
                    });
                }
                _ => {}
            }
        }
        Err(self.internal(span, "declaration without `=` or `~`"))
    }

    fn dist(&self, pair: Pair<'_, Rule>) -> Result<Dist, Diagnostic> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let name = self
            .take(&mut inner, Rule::dist_name, span)?
            .as_str()
            .to_string();
        let variance = self.expr(self.take(&mut inner, Rule::expr, span)?)?.0;
        let mean = match inner.find(|p| p.as_rule() == Rule::expr) {
            Some(p) => Some(self.expr(p)?.0),
            None => None,
        };
        Ok(Dist {
            name,
            variance,
            mean,
            span,
        })
    }

    fn named_args(&self, pair: Pair<'_, Rule>) -> Result<Vec<NamedArg>, Diagnostic> {
        pair.into_inner()
            .filter(|p| p.as_rule() == Rule::named_arg)
            .map(|p| {
                let span = span_of(&p);
                let mut inner = p.into_inner();
                let name = self.take(&mut inner, Rule::arg_name, span)?;
                let value = self.expr(self.take(&mut inner, Rule::expr, span)?)?.0;
                Ok(NamedArg {
                    name: name.as_str().to_string(),
                    name_span: span_of(&name),
                    value,
                })
            })
            .collect()
    }

    fn paramz_block(&self, pair: Pair<'_, Rule>) -> Result<Vec<ParamzEntry>, Diagnostic> {
        let mut entries: Vec<ParamzEntry> = Vec::new();
        // Whether a `,` or `;` came since the previous entry.
        let mut separated = true;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::entry_sep => separated = true,
                Rule::paramz_entry => {
                    let entry = self.paramz_entry(p)?;
                    if let Some(previous) = entries.last() {
                        let between = self
                            .src
                            .get(previous.value.span.end..entry.key_span.start)
                            .unwrap_or("");
                        if !separated && !between.contains(['\n', '\r']) {
                            return Err(self.error(
                                entry.key_span,
                                "expected a line break, `,` or `;` before this entry",
                                "put each entry on its own line, or separate entries with \
                                 `,` or `;`",
                            ));
                        }
                    }
                    separated = false;
                    entries.push(entry);
                }
                _ => {}
            }
        }
        Ok(entries)
    }

    fn paramz_entry(&self, pair: Pair<'_, Rule>) -> Result<ParamzEntry, Diagnostic> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let key = self.take(&mut inner, Rule::entry_key, span)?;
        let mut time = TimeSel::All;
        let mut value = None;
        for p in inner {
            match p.as_rule() {
                Rule::time_sel => time = self.time_sel(p)?,
                Rule::expr => value = Some(self.expr(p)?.0),
                _ => {}
            }
        }
        Ok(ParamzEntry {
            key: key.as_str().to_string(),
            key_span: span_of(&key),
            time,
            value: value.ok_or_else(|| self.internal(span, "entry without value"))?,
        })
    }

    fn time_sel(&self, pair: Pair<'_, Rule>) -> Result<TimeSel, Diagnostic> {
        let span = span_of(&pair);
        let mut from = false;
        let mut step = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ge => from = true,
                Rule::uint => {
                    let n = p.as_str().parse::<usize>().map_err(|_| {
                        self.error(
                            span_of(&p),
                            "step number is too large",
                            "use a small step such as `0` or `1`",
                        )
                    })?;
                    step = Some(n);
                }
                _ => {}
            }
        }
        let step = step.ok_or_else(|| self.internal(span, "time selector without step"))?;
        Ok(if from {
            TimeSel::From(step)
        } else {
            TimeSel::At(step)
        })
    }

    // ------------------------------------------------------------------ expressions

    fn expr(&self, pair: Pair<'_, Rule>) -> Result<Built, Diagnostic> {
        let span = span_of(&pair);
        match pair.as_rule() {
            Rule::expr | Rule::dim | Rule::term | Rule::dim_term => self.left_assoc(pair),
            Rule::unary | Rule::dim_unary | Rule::pow_rhs | Rule::dim_pow_rhs => {
                let (negs, operand) = self.prefix(pair)?;
                self.negate(negs, operand)
            }
            Rule::power | Rule::dim_power => self.power(pair),
            Rule::name_led | Rule::name_call => self.name_led(pair),
            Rule::number => {
                let text = pair.as_str();
                match parse_rational(text) {
                    Some(value) => self.node(ExprKind::Number(value), span, 1),
                    None => Err(self.error(
                        span,
                        format!("number `{text}` cannot be stored exactly"),
                        "use an exponent between e-400 and e400",
                    )),
                }
            }
            Rule::bad_number => Err(self.error(
                span,
                format!("malformed number `{}`", pair.as_str()),
                "a number has at most one decimal point, e.g. `1.25`",
            )),
            Rule::paren => {
                let inner = self.take(&mut pair.into_inner(), Rule::expr, span)?;
                // The node keeps its own kind; its span grows to include the parentheses
                // so that later diagnostics underline what was written.
                let (mut expr, depth) = self.expr(inner)?;
                expr.span = span;
                Ok((expr, depth))
            }
            Rule::list => {
                let mut items = Vec::new();
                let mut depth = 0;
                for item in pair.into_inner().filter(|p| p.as_rule() == Rule::list_item) {
                    let item_span = span_of(&item);
                    let mut inner = item.into_inner();
                    let (value, d) = self.expr(self.take(&mut inner, Rule::expr, item_span)?)?;
                    depth = depth.max(d);
                    let repeat = inner.any(|p| p.as_rule() == Rule::repeat);
                    items.push(ListItem { value, repeat });
                }
                self.node(ExprKind::List(items), span, depth + 1)
            }
            other => Err(self.internal(span, &format!("unexpected {other:?} in expression"))),
        }
    }

    /// `a op b op c` → `((a op b) op c)`, built iteratively.
    fn left_assoc(&self, pair: Pair<'_, Rule>) -> Result<Built, Diagnostic> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let first = inner
            .next()
            .ok_or_else(|| self.internal(span, "empty operator chain"))?;
        let (mut acc, mut depth) = self.expr(first)?;
        let mut operands = 1;
        while let Some(op) = inner.next() {
            operands += 1;
            if operands > MAX_CHAIN_OPERANDS {
                let word = if matches!(op.as_str(), "+" | "-") {
                    "sum"
                } else {
                    "product"
                };
                let count = operands + inner.len() / 2;
                return Err(self.error(
                    span,
                    format!(
                        "a {word} of {count} operands; one chain of `+`/`-` or `*`/`/` has at \
                         most {MAX_CHAIN_OPERANDS}"
                    ),
                    format!(
                        "split it into partial {word}s with their own names \
                         (`scalar s1 = …`, then `s1 + …`)"
                    ),
                ));
            }
            let op = match op.as_str() {
                "+" => BinOp::Add,
                "-" => BinOp::Sub,
                "*" => BinOp::Mul,
                "/" => BinOp::Div,
                other => return Err(self.internal(span, &format!("unknown operator {other:?}"))),
            };
            let rhs = inner
                .next()
                .ok_or_else(|| self.internal(span, "operator without operand"))?;
            let (rhs, rhs_depth) = self.expr(rhs)?;
            let node_span = acc.span.join(rhs.span);
            (acc, depth) = self.node(
                ExprKind::Binary(op, Box::new(acc), Box::new(rhs)),
                node_span,
                depth.max(rhs_depth) + 1,
            )?;
        }
        Ok((acc, depth))
    }

    /// Splits `- - x` into the spans of the minus signs and the built operand.
    fn prefix(&self, pair: Pair<'_, Rule>) -> Result<(Vec<Span>, Built), Diagnostic> {
        let span = span_of(&pair);
        let mut negs = Vec::new();
        for p in pair.into_inner() {
            if p.as_rule() == Rule::neg_op {
                negs.push(span_of(&p));
            } else {
                return Ok((negs, self.expr(p)?));
            }
        }
        Err(self.internal(span, "prefix without operand"))
    }

    /// Applies the minus signs, innermost (rightmost) first.
    fn negate(&self, negs: Vec<Span>, operand: Built) -> Result<Built, Diagnostic> {
        let (mut acc, mut depth) = operand;
        for neg in negs.into_iter().rev() {
            let span = neg.join(acc.span);
            (acc, depth) = self.node(ExprKind::Neg(Box::new(acc)), span, depth + 1)?;
        }
        Ok((acc, depth))
    }

    /// `a ^ b ^ -c ^ d` → `a ^ (b ^ -(c ^ d))`: right associative, and a minus in an
    /// exponent covers the rest of the chain. Built iteratively from the right.
    fn power(&self, pair: Pair<'_, Rule>) -> Result<Built, Diagnostic> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner().filter(|p| p.as_rule() != Rule::pow_op);
        let base = inner
            .next()
            .ok_or_else(|| self.internal(span, "empty power"))?;
        let base = self.expr(base)?;
        let mut exponents = Vec::new();
        for rhs in inner {
            exponents.push(self.prefix(rhs)?);
        }
        let Some((negs, last)) = exponents.pop() else {
            return Ok(base);
        };
        let mut acc = self.negate(negs, last)?;
        while let Some((negs, operand)) = exponents.pop() {
            let pow = self.pow(operand, acc)?;
            acc = self.negate(negs, pow)?;
        }
        self.pow(base, acc)
    }

    fn pow(&self, base: Built, exponent: Built) -> Result<Built, Diagnostic> {
        let span = base.0.span.join(exponent.0.span);
        let depth = base.1.max(exponent.1) + 1;
        self.node(
            ExprKind::Binary(BinOp::Pow, Box::new(base.0), Box::new(exponent.0)),
            span,
            depth,
        )
    }

    /// A name, a call, or a matrix-product chain `W1 W2^T … x` (right associative).
    fn name_led(&self, pair: Pair<'_, Rule>) -> Result<Built, Diagnostic> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let head = self.take(&mut inner, Rule::name, span)?;
        let Some(tail) = inner.next() else {
            let (name, depth) = self.name(head)?;
            let name_span = name.span;
            return self.node(ExprKind::Name(name), name_span, depth + 1);
        };
        match tail.as_rule() {
            Rule::call_tail => self.call(head, tail),
            Rule::mm_tail => self.product(head, tail),
            other => Err(self.internal(span, &format!("unexpected {other:?} after a name"))),
        }
    }

    /// `W1 W2^T … x`: every operand but the last is a matrix; the product is right
    /// associative (`W1 (W2^T x)`) and built iteratively from the right.
    fn product(&self, head: Pair<'_, Rule>, tail: Pair<'_, Rule>) -> Result<Built, Diagnostic> {
        let tail_span = span_of(&tail);
        let (name, depth) = self.name(head)?;
        let mut matrices: Vec<(Name, bool, usize)> = vec![(name, false, depth)];
        let mut operand: Option<Pair<'_, Rule>> = None;
        for step in tail.into_inner() {
            let step_span = span_of(&step);
            let mut parts = step.into_inner();
            let mut part = parts
                .next()
                .ok_or_else(|| self.internal(step_span, "empty product step"))?;
            // The previous operand was not the last one, so it must be a plain matrix.
            if let Some(previous) = operand.take() {
                let previous_text = previous.as_str();
                let previous_span = span_of(&previous);
                let mut inner = previous.clone().into_inner();
                match (inner.next(), inner.next()) {
                    (Some(name), None) if name.as_rule() == Rule::name => {
                        let (name, depth) = self.name(name)?;
                        matrices.push((name, false, depth));
                    }
                    _ => {
                        return Err(self.error(
                            previous_span,
                            "only a matrix name can be applied by juxtaposition",
                            format!(
                                "`{previous_text}` is not a matrix name; use `*` for a \
                                 coordinatewise product"
                            ),
                        ))
                    }
                }
            }
            // `^T` after an operand transposes that operand (now the last matrix).
            if part.as_rule() == Rule::transpose {
                if let Some(last) = matrices.last_mut() {
                    last.1 = true;
                }
                part = parts
                    .next()
                    .ok_or_else(|| self.internal(step_span, "product step without operand"))?;
            }
            operand = Some(part);
        }
        let last = operand.ok_or_else(|| self.internal(tail_span, "product without operand"))?;
        let (mut acc, mut depth) = self.mm_item(last)?;
        while let Some((matrix, transpose, name_depth)) = matrices.pop() {
            let node_span = matrix.span.join(acc.span);
            (acc, depth) = self.node(
                ExprKind::MatMul {
                    matrix,
                    transpose,
                    arg: Box::new(acc),
                },
                node_span,
                depth.max(name_depth) + 1,
            )?;
        }
        Ok((acc, depth))
    }

    /// The operand at the end of a product chain: a name, a call or a parenthesis.
    fn mm_item(&self, pair: Pair<'_, Rule>) -> Result<Built, Diagnostic> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let first = inner
            .next()
            .ok_or_else(|| self.internal(span, "empty operand"))?;
        match (first.as_rule(), inner.next()) {
            (Rule::paren, _) => self.expr(first),
            (Rule::name, Some(tail)) => self.call(first, tail),
            (Rule::name, None) => {
                let (name, depth) = self.name(first)?;
                let name_span = name.span;
                self.node(ExprKind::Name(name), name_span, depth + 1)
            }
            (other, _) => Err(self.internal(span, &format!("unexpected {other:?} as operand"))),
        }
    }

    /// `f(a, b)`, `f'(x)`, `f''(x)`.
    fn call(&self, head: Pair<'_, Rule>, tail: Pair<'_, Rule>) -> Result<Built, Diagnostic> {
        let (callee, mut depth) = self.name(head)?;
        let span = callee.span.join(span_of(&tail));
        let mut primes = 0;
        let mut args = Vec::new();
        for p in tail.into_inner() {
            match p.as_rule() {
                Rule::call_open => primes = p.as_str().matches('\'').count(),
                Rule::expr => {
                    let (arg, d) = self.expr(p)?;
                    depth = depth.max(d);
                    args.push(arg);
                }
                _ => {}
            }
        }
        self.node(
            ExprKind::Call {
                callee,
                primes,
                args,
            },
            span,
            depth + 1,
        )
    }

    /// A possibly interpolated name, with the depth of its deepest interpolation.
    fn name(&self, pair: Pair<'_, Rule>) -> Result<(Name, usize), Diagnostic> {
        let span = span_of(&pair);
        let mut parts: Vec<NamePart> = Vec::new();
        let mut depth = 0;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::name_text_first | Rule::name_text | Rule::name_tag => {
                    match parts.last_mut() {
                        Some(NamePart::Text(text)) => text.push_str(p.as_str()),
                        _ => parts.push(NamePart::Text(p.as_str().to_string())),
                    }
                }
                Rule::interp => {
                    let interp_span = span_of(&p);
                    let (e, d) =
                        self.expr(self.take(&mut p.into_inner(), Rule::expr, interp_span)?)?;
                    depth = depth.max(d);
                    parts.push(NamePart::Interp(e));
                }
                _ => {}
            }
        }
        if parts.is_empty() {
            return Err(self.internal(span, "empty name"));
        }
        Ok((Name { parts, span }, depth))
    }
}

/// The text of a string literal without its quotes, with `\"` and `\\` resolved (any
/// other escaped character stands for itself).
fn unescape(literal: &str) -> String {
    let body = literal
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(literal);
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}
