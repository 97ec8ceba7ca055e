//! Offline-first administration of Keywarden key servers.
//!
//! * [`store`] — the local admin database — connections, the local view, the durable
//!   outbox (one transaction per action, `synchronous=FULL`) and the local-id map.
//! * [`client`] — the server's admin API over reqwest (rustls); answers become [`store::Outcome`]s.
//! * [`sync`] — push (in order per object, concurrent across objects, full-jitter backoff)
//!   and pull (the change feed).
//! * [`clock`] — the clock retries are scheduled by (the system clock; tests move their own).
//! * [`embedded`] — `keywarden-server` in-process on a loopback port, for a fresh machine.
//! * [`Admin`] — what the Admin screen and `kw admin` call. Blocking; no Tauri.
//!
//! Keys are generated here ([`keywarden_keys::ApiKey`]); only their digest and display
//! prefix are queued. Admin credentials and generated keys live in the secret store
//! (through [`keywarden_vault::Vault`]), never in SQLite or logs.

pub mod admin;
pub mod client;
pub mod clock;
pub mod embedded;
pub mod error;
pub mod store;
pub mod sync;

pub use admin::{
    Admin, AuditQuery, Background, ConnectionStatus, CreatedKey, EMBEDDED, GroupInput, KeyInput,
    ListFilter, Placement, PrincipalInput, ProfileInput, RoleInput, SyncReport, SyncStatus,
    display_name,
};
pub use clock::{Clock, SystemClock};
pub use error::{AdminError, Result};
pub use keywarden_server::model::{
    AccessMethod, AuditEntry, Kind, PrincipalKind, RatePolicy, Slot,
};
pub use store::{LocalDb, OutboxEntry, ViewObject};
pub use sync::{PushOptions, PushReport, RetryPolicy};
