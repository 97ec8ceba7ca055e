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
//! * [`Composer`]: the send workflow every face calls (load, prepare, send, history,
//!   echo masking, [`Verdict`]); the window and `kw send` only translate its answers.
//! * [`mask`]: the one masker of secret values and their encodings, whole or streaming
//!   (`kw run`), used by every face.
//! * [`store`]: profiles, environments, saved requests and history in the local database.
//!   History keeps templates and fingerprints, never rendered values.

mod compose;
mod curl;
mod environment;
mod error;
pub mod mask;
mod preflight;
mod prepare;
mod profile;
mod send;
mod spec;
pub mod store;

pub use compose::{Composed, Composer, Loaded, Sent, ShownResponse, Verdict};
pub use curl::to_curl;
pub use environment::{EnvQueryParam, Environment};
pub use error::RequestError;
pub use mask::{MaskReport, MaskWriter, Masker, MaskerBuilder, StreamMasker};
pub use preflight::{Finding, Level, explain_refusal};
pub use prepare::{
    MetadataResolver, PreparedBody, PreparedHeader, PreparedRequest, ResolverWithSecrets,
    UsedSecret, VaultResolver, prepare,
};
pub use profile::{KeyProfile, Placement, Style};
pub use send::{Response, SendOptions, Sender};
pub use spec::{Body, KeyValue, RequestSpec};
