use crate::error::{ErrorKind, TemplateError};
use crate::func::Func;
use crate::{MAX_DEPTH, MAX_TEMPLATE_BYTES};

/// A parsed template: literal text and expressions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Expr(Expr),
}

/// An expression with its place in the source (`start..end` byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    pub kind: ExprKind,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExprKind {
    Secret(String),
    Env(String),
    Str(String),
    Int(i64),
    Call(Func, Vec<Expr>),
}

impl Template {
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        if source.len() > MAX_TEMPLATE_BYTES {
            return Err(TemplateError::new(ErrorKind::TooLarge, source, 0));
        }
        let mut p = Parser {
            src: source,
            pos: 0,
        };
        let mut parts = Vec::new();
        let mut text = String::new();
        while p.pos < source.len() {
            let rest = &source[p.pos..];
            if rest.starts_with("$${") {
                text.push_str("${");
                p.pos += 3;
            } else if rest.starts_with("${") {
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                let open = p.pos;
                p.pos += 2;
                p.skip_ws();
                if p.peek().is_none() {
                    return Err(p.err_at(ErrorKind::Unterminated, open));
                }
                let expr = p.expr(0)?;
                p.skip_ws();
                match p.peek() {
                    Some('}') => p.pos += 1,
                    None => return Err(p.err_at(ErrorKind::Unterminated, open)),
                    Some(_) => {
                        return Err(
                            p.err(ErrorKind::Expected("`}` to close the expression".into()))
                        );
                    }
                }
                parts.push(Part::Expr(expr));
            } else {
                let next = rest
                    .find('$')
                    .map(|i| if i == 0 { 1 } else { i })
                    .unwrap_or(rest.len());
                text.push_str(&rest[..next]);
                p.pos += next;
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Self {
            source: source.to_owned(),
            parts,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Names of the secrets the template refers to, in order of first use.
    pub fn secret_names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (name, _) in self.secret_refs() {
            if !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }

    /// Every `${secret.NAME}` reference with the byte offset of its expression.
    pub fn secret_refs(&self) -> Vec<(&str, usize)> {
        fn walk<'a>(e: &'a Expr, out: &mut Vec<(&'a str, usize)>) {
            match &e.kind {
                ExprKind::Secret(n) => out.push((n, e.start)),
                ExprKind::Call(_, args) => args.iter().for_each(|a| walk(a, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for part in &self.parts {
            if let Part::Expr(e) = part {
                walk(e, &mut out);
            }
        }
        out
    }

    /// Whether the template contains any expression.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn err(&self, kind: ErrorKind) -> TemplateError {
        TemplateError::new(kind, self.src, self.pos)
    }

    fn err_at(&self, kind: ErrorKind, at: usize) -> TemplateError {
        TemplateError::new(kind, self.src, at)
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if f(c) {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
        &self.src[start..self.pos]
    }

    fn expr(&mut self, depth: usize) -> Result<Expr, TemplateError> {
        self.skip_ws();
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Err(self.err(ErrorKind::Unterminated));
        };
        let kind = if c == '"' || c == '\'' {
            ExprKind::Str(self.string(c)?)
        } else if c.is_ascii_digit()
            || (c == '-' && self.src[self.pos + 1..].starts_with(|d: char| d.is_ascii_digit()))
        {
            self.pos += 1;
            self.take_while(|d| d.is_ascii_digit());
            let n = self.src[start..self.pos].parse().map_err(|_| {
                self.err_at(
                    ErrorKind::Expected("a number that fits in 64 bits".into()),
                    start,
                )
            })?;
            ExprKind::Int(n)
        } else if is_ident_start(c) {
            let word = self.take_while(is_ident);
            match self.peek() {
                Some('.') => {
                    self.pos += 1;
                    let name_at = self.pos;
                    let name = self.take_while(|c| is_ident(c) || c == '-');
                    if name.is_empty() {
                        return Err(self.err_at(
                            ErrorKind::Expected(format!("a name after `{word}.`")),
                            name_at,
                        ));
                    }
                    match word {
                        "secret" => ExprKind::Secret(name.to_owned()),
                        "env" => ExprKind::Env(name.to_owned()),
                        _ => {
                            return Err(
                                self.err_at(ErrorKind::UnknownNamespace(word.to_owned()), start)
                            );
                        }
                    }
                }
                Some('(') => {
                    let func = Func::lookup(word).ok_or_else(|| {
                        self.err_at(
                            ErrorKind::UnknownFunction {
                                name: word.to_owned(),
                                suggestion: Func::suggest(word),
                            },
                            start,
                        )
                    })?;
                    if depth + 1 > MAX_DEPTH {
                        return Err(self.err_at(ErrorKind::TooDeep, start));
                    }
                    self.pos += 1;
                    let args = self.args(depth + 1)?;
                    let (min, max) = func.arity();
                    if args.len() < min || args.len() > max {
                        return Err(self.err_at(
                            ErrorKind::Arity {
                                function: func.name(),
                                expected: func.arity_text(),
                                found: args.len(),
                            },
                            start,
                        ));
                    }
                    ExprKind::Call(func, args)
                }
                _ => return Err(self.err_at(ErrorKind::BareWord(word.to_owned()), start)),
            }
        } else {
            return Err(self.err(ErrorKind::Expected(
                "`secret.NAME`, `env.NAME`, a function call, a quoted string or a number".into(),
            )));
        };
        Ok(Expr {
            kind,
            start,
            end: self.pos,
        })
    }

    fn args(&mut self, depth: usize) -> Result<Vec<Expr>, TemplateError> {
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
            return Ok(args);
        }
        loop {
            args.push(self.expr(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(')') => {
                    self.pos += 1;
                    return Ok(args);
                }
                None => {
                    return Err(
                        self.err(ErrorKind::Expected("`)` to close the argument list".into()))
                    );
                }
                Some(_) => {
                    return Err(
                        self.err(ErrorKind::Expected("`,` or `)` after an argument".into()))
                    );
                }
            }
        }
    }

    fn string(&mut self, quote: char) -> Result<String, TemplateError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err_at(ErrorKind::UnterminatedString, open));
            };
            self.pos += c.len_utf8();
            match c {
                c if c == quote => return Ok(out),
                '\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.err_at(ErrorKind::UnterminatedString, open));
                    };
                    self.pos += e.len_utf8();
                    out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '\\' | '"' | '\'' => e,
                        _ => {
                            return Err(self.err_at(
                                ErrorKind::Expected(
                                    "an escape: \\n, \\t, \\r, \\\\, \\\" or \\'".into(),
                                ),
                                self.pos - e.len_utf8() - 1,
                            ));
                        }
                    });
                }
                c => out.push(c),
            }
        }
    }
}
