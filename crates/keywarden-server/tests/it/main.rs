//! The key server's integration tests: one binary, real HTTP on loopback.
//!
//! SQLite always; PostgreSQL too when `KEYWARDEN_TEST_POSTGRES_URL` is set
//! (`export KEYWARDEN_TEST_POSTGRES_URL=$(scripts/pg.sh start)`).

mod admin;
mod errors;
mod gateway;
mod harness;
mod lifecycle;
mod logs;
mod nginx;
mod replicas;
mod security;
mod storage;
mod timing;
mod verify;
