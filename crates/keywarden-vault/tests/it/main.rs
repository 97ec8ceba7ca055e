//! Integration tests of the vault (one binary for the crate).

mod keychain;
mod lock;
mod repair;
mod upsert;
mod vault;

use std::sync::Arc;

use keywarden_core::{SecretName, SecretValue};
use keywarden_vault::{MemoryStore, SecretFields, Vault};

pub fn memory_vault() -> (Vault, Arc<MemoryStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let conn = keywarden_vault::db::open(&dir.path().join("keywarden.db")).unwrap();
    let store = Arc::new(MemoryStore::new());
    let vault = Vault::with_store(conn, store.clone(), dir.path().to_path_buf());
    (vault, store, dir)
}

pub fn fields(name: &str) -> SecretFields {
    SecretFields::named(SecretName::new(name).unwrap())
}

pub fn value(v: &str) -> SecretValue {
    SecretValue::new(v).unwrap()
}
