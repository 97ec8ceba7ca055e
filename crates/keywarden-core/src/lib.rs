//! Keywarden's shared domain types.
//!
//! This crate does no I/O. It holds the types every other crate agrees on:
//! [`SecretValue`] (a secret that never prints itself and is wiped on drop),
//! [`SecretName`] and the other validated names, and [`Fingerprint`], a keyed
//! hash that identifies a value without revealing it.

mod fingerprint;
mod name;
pub mod path;
mod policy;
mod secret;
mod time;

pub use fingerprint::{Fingerprint, FingerprintKey};
pub use name::{EnvironmentName, HostPattern, NameError, SecretName, Tag};
pub use policy::KeyPolicy;
pub use secret::{SecretBytes, SecretValue, ValueError};
pub use time::{Timestamp, now};
