//! Keywarden's key server: the system of record for principals and API keys, the
//! verifier that APIs and gateways call, and the audit trail.
//!
//! Code map: [`model`] (objects) · [`store`] (SQLite / PostgreSQL behind one trait) ·
//! [`index`] (in-memory index following the change feed) · [`verify`] (the decision) ·
//! [`limits`] (rate limits, failure throttling) · [`service`] (admin actions, idempotency,
//! audit) · [`http`] (axum edge, OpenAPI) · [`app`] (wiring) · [`config`].

pub mod app;
pub mod authz;
pub mod config;
pub mod error;
pub mod http;
pub mod index;
pub mod jwt;
pub mod limits;
pub mod model;
pub mod service;
pub mod store;
pub mod verify;

pub use app::App;
pub use config::Config;
