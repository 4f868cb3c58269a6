//! Error messages that point at the source: `file:line:col`, the line, a caret, a hint.

use super::ast::Span;
use std::fmt;

/// Which stage rejected the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The text does not match the grammar.
    Syntax,
    /// The text parses but does not make sense (unknown name, wrong arity, …).
    Semantic,
}

/// A located error with a hint on what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Syntax or semantic.
    pub stage: Stage,
    /// File name as given on the command line (or `<input>`).
    pub file: String,
    /// 1-based line (u32 keeps the error type small: it travels in every `Result`).
    pub line: u32,
    /// 1-based column (in characters).
    pub col: u32,
    /// The full text of the offending line.
    pub line_text: String,
    /// Number of characters to underline (at least 1).
    pub width: u32,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// Builds a diagnostic for `span` of `source`.
    pub fn new(
        stage: Stage,
        file: &str,
        source: &str,
        span: Span,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Self {
        let start = floor_char_boundary(source, span.start.min(source.len()));
        let line_start = source[..start].rfind('\n').map_or(0, |p| p + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |p| start + p);
        let line = source[..start].matches('\n').count() + 1;
        let col = source[line_start..start].chars().count() + 1;
        let line_text = source[line_start..line_end]
            .trim_end_matches('\r')
            .to_string();
        let end = floor_char_boundary(source, span.end.clamp(start, line_end));
        let width = source[start..end].chars().count().max(1);
        let clamp = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        Diagnostic {
            stage,
            file: file.to_string(),
            line: clamp(line),
            col: clamp(col),
            line_text,
            width: clamp(width),
            message: message.into(),
            hint,
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.stage {
            Stage::Syntax => "syntax error",
            Stage::Semantic => "error",
        };
        writeln!(
            f,
            "{}:{}:{}: {what}: {}",
            self.file, self.line, self.col, self.message
        )?;
        let gutter = self.line.to_string().len();
        writeln!(f, "{:gutter$} |", "")?;
        writeln!(f, "{} | {}", self.line, self.line_text)?;
        let pad: String = self
            .line_text
            .chars()
            .take(self.col.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(
            f,
            "{:gutter$} | {pad}{}",
            "",
            "^".repeat(self.width as usize)
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n{:gutter$} = hint: {hint}", "")?;
        }
        Ok(())
    }
}
