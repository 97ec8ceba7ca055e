use std::fmt;

/// A place in the template: byte offset plus 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub offset: usize,
    pub line: usize,
    pub column: usize,
}

impl Position {
    pub fn at(source: &str, offset: usize) -> Self {
        let offset = offset.min(source.len());
        let mut line = 1;
        let mut column = 1;
        for (i, c) in source.char_indices() {
            if i >= offset {
                break;
            }
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        Self {
            offset,
            line,
            column,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    Unterminated,
    UnterminatedString,
    Expected(String),
    UnknownNamespace(String),
    BareWord(String),
    UnknownFunction {
        name: String,
        suggestion: Option<&'static str>,
    },
    Arity {
        function: &'static str,
        expected: String,
        found: usize,
    },
    TooDeep,
    TooLarge,
    OutputTooLarge,
    UnknownSecret(String),
    DisabledSecret(String),
    UnknownVariable(String),
    SecretUnavailable {
        name: String,
        reason: String,
    },
    BadArgument {
        function: &'static str,
        reason: String,
    },
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Unterminated => {
                write!(f, "unterminated expression: `${{` has no closing `}}`")
            }
            ErrorKind::UnterminatedString => {
                write!(f, "unterminated string: the quote is never closed")
            }
            ErrorKind::Expected(what) => write!(f, "expected {what}"),
            ErrorKind::UnknownNamespace(ns) => {
                write!(
                    f,
                    "unknown reference `{ns}.…`: use `secret.NAME` or `env.NAME`"
                )
            }
            ErrorKind::BareWord(w) => write!(
                f,
                "`{w}` is not an expression: write `secret.{w}`, `env.{w}`, a call such as `{w}(...)`, or a quoted string"
            ),
            ErrorKind::UnknownFunction {
                name,
                suggestion: Some(s),
            } => {
                write!(f, "unknown function `{name}` (did you mean `{s}`?)")
            }
            ErrorKind::UnknownFunction {
                name,
                suggestion: None,
            } => write!(
                f,
                "unknown function `{name}`; available: {}",
                crate::func::Func::ALL
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ErrorKind::Arity {
                function,
                expected,
                found,
            } => {
                write!(f, "`{function}` takes {expected}, but {found} given")
            }
            ErrorKind::TooDeep => write!(
                f,
                "function calls are nested more than {} deep",
                crate::MAX_DEPTH
            ),
            ErrorKind::TooLarge => write!(
                f,
                "the template is larger than {} bytes",
                crate::MAX_TEMPLATE_BYTES
            ),
            ErrorKind::OutputTooLarge => write!(
                f,
                "the rendered text is larger than {} bytes",
                crate::MAX_OUTPUT_BYTES
            ),
            ErrorKind::UnknownSecret(n) => write!(f, "unknown secret `{n}`"),
            ErrorKind::DisabledSecret(n) => write!(f, "the secret `{n}` is disabled"),
            ErrorKind::UnknownVariable(n) => {
                write!(f, "the active environment has no variable `{n}`")
            }
            ErrorKind::SecretUnavailable { name, reason } => {
                write!(f, "cannot read the secret `{name}`: {reason}")
            }
            ErrorKind::BadArgument { function, reason } => write!(f, "`{function}`: {reason}"),
        }
    }
}

/// An error with the place it happened. Never contains a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template error at {position}: {kind}")]
pub struct TemplateError {
    pub kind: ErrorKind,
    pub position: Position,
}

impl TemplateError {
    pub(crate) fn new(kind: ErrorKind, source: &str, offset: usize) -> Self {
        Self {
            kind,
            position: Position::at(source, offset),
        }
    }
}
