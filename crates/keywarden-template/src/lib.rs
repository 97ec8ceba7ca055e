//! Request templates.
//!
//! ```text
//! Authorization: Bearer ${secret.billing_api}
//! Authorization: ${basic("haplo", secret.haplo_key)}
//! X-Signature: ${hmac_sha256(secret.signing_key, env.tenant)}
//! literal: $${not an expression}
//! ```
//!
//! * `${secret.NAME}` is a secret from the vault, `${env.NAME}` a variable of the
//!   active environment; function calls nest; strings are quoted with `"` or `'`.
//! * `$${` writes a literal `${`.
//! * A template is parsed once ([`Template::parse`]) and rendered many times.
//!   Unknown functions and wrong arities are parse errors; unknown or disabled
//!   secrets are render errors. Every error names its line, column and reason.
//! * The output of a render that used a secret is a [`Rendered`] that redacts itself
//!   in `Debug` and `Display`; [`Rendered::preview`] shows where secrets go without
//!   showing them.

mod error;
mod func;
mod parse;
mod render;

pub use error::{ErrorKind, Position, TemplateError};
pub use func::Func;
pub use parse::{Expr, ExprKind, Part, Template};
pub use render::{MapResolver, Rendered, ResolveError, Resolver};

/// Largest template accepted (64 KiB).
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;
/// Deepest nesting of function calls.
pub const MAX_DEPTH: usize = 16;
/// Largest rendered output (1 MiB).
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;
