//! The request composer.
//!
//! * [`KeyProfile`]: how a secret is presented (Bearer, `Key=`, Basic, a custom header,
//!   an API-token header, a signed JWT, the `auth-key` query parameter) and where it may go.
//! * [`Environment`]: variables for `${env.NAME}` and an optional query parameter that
//!   names the environment (`_profile=Test`).
//! * [`RequestSpec`]: a request made of templates. [`prepare`] renders it (one secret-store
//!   read per secret), binds secrets to their destinations, validates header bytes and runs
//!   the pre-flight checks; [`Sender::send`] sends it with reqwest and follows redirects
//!   itself so that templated headers never cross to another origin.
//! * [`store`]: profiles, environments, saved requests and history in the local database.
//!   History keeps templates and fingerprints, never rendered values.

mod curl;
mod environment;
mod error;
mod preflight;
mod prepare;
mod profile;
mod send;
mod spec;
pub mod store;

pub use curl::to_curl;
pub use environment::{EnvQueryParam, Environment};
pub use error::RequestError;
pub use preflight::{Finding, Level, explain_refusal};
pub use prepare::{
    MetadataResolver, PreparedBody, PreparedHeader, PreparedRequest, ResolverWithSecrets,
    UsedSecret, VaultResolver, prepare,
};
pub use profile::{KeyProfile, Placement, Style};
pub use send::{Response, SendOptions, Sender};
pub use spec::{Body, KeyValue, RequestSpec};
