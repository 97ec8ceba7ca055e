use std::collections::HashMap;
use std::fmt;

use keywarden_core::SecretValue;
use zeroize::Zeroizing;

use crate::MAX_OUTPUT_BYTES;
use crate::error::{ErrorKind, TemplateError};
use crate::parse::{Expr, ExprKind, Part, Template};

/// Why a reference could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    UnknownSecret,
    DisabledSecret,
    UnknownVariable,
    /// The store could not be read (locked keychain, timeout...). Never contains a value.
    Unavailable(String),
}

/// Supplies secrets and environment variables to a render.
pub trait Resolver {
    fn secret(&mut self, name: &str) -> Result<SecretValue, ResolveError>;
    fn env(&mut self, name: &str) -> Result<String, ResolveError>;
}

/// A resolver over maps: tests, benchmarks, and callers that loaded their secrets already.
#[derive(Default, Clone)]
pub struct MapResolver {
    pub secrets: HashMap<String, SecretValue>,
    pub env: HashMap<String, String>,
}

impl MapResolver {
    pub fn secret(mut self, name: &str, value: &str) -> Self {
        if let Ok(v) = SecretValue::new(value) {
            self.secrets.insert(name.to_owned(), v);
        }
        self
    }

    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.env.insert(name.to_owned(), value.to_owned());
        self
    }
}

impl Resolver for MapResolver {
    fn secret(&mut self, name: &str) -> Result<SecretValue, ResolveError> {
        self.secrets
            .get(name)
            .cloned()
            .ok_or(ResolveError::UnknownSecret)
    }
    fn env(&mut self, name: &str) -> Result<String, ResolveError> {
        self.env
            .get(name)
            .cloned()
            .ok_or(ResolveError::UnknownVariable)
    }
}

/// The result of a render. When a secret went into it, `Debug` and `Display`
/// print the preview, never the text.
#[derive(Clone)]
pub struct Rendered {
    text: Zeroizing<String>,
    preview: String,
    secrets: Vec<String>,
}

impl Rendered {
    /// The rendered text. Every call site is a place where the result is used on purpose.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The text with every part that depends on a secret replaced by `[expression]`,
    /// e.g. `Bearer [secret.billing_api]`.
    pub fn preview(&self) -> &str {
        &self.preview
    }

    pub fn contains_secret(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// Names of the secrets that went into the text.
    pub fn secrets_used(&self) -> &[String] {
        &self.secrets
    }
}

impl fmt::Debug for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendered")
            .field("preview", &self.preview)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.preview)
    }
}

struct Val {
    text: Zeroizing<String>,
    secret: bool,
}

impl Template {
    /// Renders the template. Each secret is asked of the resolver once per render.
    pub fn render(&self, resolver: &mut dyn Resolver) -> Result<Rendered, TemplateError> {
        let mut out = Rendered {
            text: Zeroizing::new(String::new()),
            preview: String::new(),
            secrets: Vec::new(),
        };
        let mut cache: Vec<(&str, SecretValue)> = Vec::new();
        for part in self.parts() {
            match part {
                Part::Text(t) => {
                    out.text.push_str(t);
                    out.preview.push_str(t);
                }
                Part::Expr(e) => {
                    let v = self.eval(e, resolver, &mut cache, &mut out.secrets)?;
                    out.text.push_str(&v.text);
                    if v.secret {
                        out.preview.push('[');
                        out.preview.push_str(&self.source()[e.start..e.end]);
                        out.preview.push(']');
                    } else {
                        out.preview.push_str(&v.text);
                    }
                }
            }
            if out.text.len() > MAX_OUTPUT_BYTES {
                return Err(TemplateError::new(
                    ErrorKind::OutputTooLarge,
                    self.source(),
                    0,
                ));
            }
        }
        Ok(out)
    }

    /// The preview alone, without resolving any secret (environment variables are
    /// resolved; secrets and anything computed from them show as `[expression]`).
    pub fn preview(&self, resolver: &mut dyn Resolver) -> String {
        let mut out = String::new();
        for part in self.parts() {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Expr(e) if mentions_secret(e) => {
                    out.push('[');
                    out.push_str(&self.source()[e.start..e.end]);
                    out.push(']');
                }
                Part::Expr(e) => {
                    let mut cache = Vec::new();
                    let mut used = Vec::new();
                    match self.eval(e, resolver, &mut cache, &mut used) {
                        Ok(v) => out.push_str(&v.text),
                        Err(_) => {
                            out.push('[');
                            out.push_str(&self.source()[e.start..e.end]);
                            out.push(']');
                        }
                    }
                }
            }
        }
        out
    }

    fn eval<'t>(
        &'t self,
        e: &'t Expr,
        resolver: &mut dyn Resolver,
        cache: &mut Vec<(&'t str, SecretValue)>,
        used: &mut Vec<String>,
    ) -> Result<Val, TemplateError> {
        let err = |kind| TemplateError::new(kind, self.source(), e.start);
        Ok(match &e.kind {
            ExprKind::Str(s) => Val {
                text: Zeroizing::new(s.clone()),
                secret: false,
            },
            ExprKind::Int(n) => Val {
                text: Zeroizing::new(n.to_string()),
                secret: false,
            },
            ExprKind::Env(name) => match resolver.env(name) {
                Ok(v) => Val {
                    text: Zeroizing::new(v),
                    secret: false,
                },
                Err(_) => return Err(err(ErrorKind::UnknownVariable(name.clone()))),
            },
            ExprKind::Secret(name) => {
                let value = match cache.iter().find(|(n, _)| *n == name.as_str()) {
                    Some((_, v)) => v.clone(),
                    None => {
                        let v = resolver.secret(name).map_err(|r| {
                            err(match r {
                                ResolveError::UnknownSecret => {
                                    ErrorKind::UnknownSecret(name.clone())
                                }
                                ResolveError::DisabledSecret => {
                                    ErrorKind::DisabledSecret(name.clone())
                                }
                                ResolveError::UnknownVariable => {
                                    ErrorKind::UnknownSecret(name.clone())
                                }
                                ResolveError::Unavailable(reason) => ErrorKind::SecretUnavailable {
                                    name: name.clone(),
                                    reason,
                                },
                            })
                        })?;
                        cache.push((name, v.clone()));
                        if !used.contains(name) {
                            used.push(name.clone());
                        }
                        v
                    }
                };
                Val {
                    text: Zeroizing::new(value.expose().to_owned()),
                    secret: true,
                }
            }
            ExprKind::Call(func, args) => {
                let mut texts = Vec::with_capacity(args.len());
                let mut secret = false;
                for a in args {
                    let v = self.eval(a, resolver, cache, used)?;
                    secret |= v.secret;
                    texts.push(v.text);
                }
                let text = func.apply(&texts).map_err(err)?;
                if text.len() > MAX_OUTPUT_BYTES {
                    return Err(err(ErrorKind::OutputTooLarge));
                }
                Val { text, secret }
            }
        })
    }
}

fn mentions_secret(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Secret(_) => true,
        ExprKind::Call(_, args) => args.iter().any(mentions_secret),
        _ => false,
    }
}
