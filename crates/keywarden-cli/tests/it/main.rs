//! Tests of the real `kw` binary, each in its own temporary `KEYWARDEN_HOME`.
//!
//! Tests marked "Secret Service" talk to the real keychain: run them under
//! `scripts/with-keyring.sh` (the test command does), which sets
//! `KEYWARDEN_TEST_SECRET_SERVICE=1`.

mod harness;

mod admin;
mod canary;
mod cli;
mod compose;
mod file_vault;
mod keychain;
mod masking;
