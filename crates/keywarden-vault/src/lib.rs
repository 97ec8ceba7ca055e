//! Keywarden's local vault.
//!
//! * [`db`]: the SQLite database (metadata only), migrations and schema checks.
//! * [`store`]: the [`SecretStore`] trait that keeps values, with an in-memory
//!   store for tests and a timeout guard for slow keychains.
//! * [`keychain`]: the OS keychain store. [`filevault`]: the encrypted vault file.
//! * [`lockfile`]: advisory locks between processes (`flock`, bounded wait).
//! * [`vault`]: [`Vault`], the operations people perform on secrets.

pub mod db;
pub mod filevault;
pub mod keychain;
pub mod lockfile;
pub mod store;
pub mod vault;

pub use store::{MemoryStore, SecretStore, StoreError, StoreInfo, StoreKind};
pub use vault::{
    Backend, Expiry, Health, Purpose, RepairReport, SecretFields, SecretMeta, SecretPatch, Status,
    Target, Upserted, ValueVersion, Vault, VaultError, default_home,
};
