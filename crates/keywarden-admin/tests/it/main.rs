//! Integration tests of offline-first administration against a real key server.

mod harness;

mod sync;
