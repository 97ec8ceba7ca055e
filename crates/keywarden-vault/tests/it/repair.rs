//! Interruptions between the database and the store are repaired on next start.

use std::sync::Arc;

use keywarden_vault::{MemoryStore, Purpose, RepairReport, SecretStore, Vault};

use crate::{fields, value};

fn reopen(dir: &std::path::Path, store: Arc<MemoryStore>) -> Vault {
    let conn = keywarden_vault::db::open(&dir.join("keywarden.db")).unwrap();
    Vault::with_store(conn, store, dir.to_path_buf())
}

fn set_state(dir: &std::path::Path, id: &str, state: &str, pending: Option<&str>) {
    let conn = rusqlite::Connection::open(dir.join("keywarden.db")).unwrap();
    conn.execute(
        "UPDATE secrets SET state = ?2, pending_fingerprint = ?3 WHERE id = ?1",
        (id, state, pending),
    )
    .unwrap();
}

#[test]
fn interrupted_create_is_rolled_back_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new());
    let s = reopen(dir.path(), store.clone())
        .create(fields("k"), true, &value("v"))
        .unwrap();
    // As if the process died after writing the keychain but before marking the row active.
    set_state(dir.path(), &s.id, "creating", None);
    let vault = reopen(dir.path(), store.clone());
    assert!(
        vault.list(None).unwrap().is_empty(),
        "a half-created secret is not listed"
    );
    assert_eq!(vault.status().unwrap().pending_repairs, 1);
    let report = vault.repair().unwrap();
    assert_eq!(
        report,
        RepairReport {
            rolled_back_creates: 1,
            ..Default::default()
        }
    );
    assert_eq!(store.get(&s.id).unwrap(), None);
    assert_eq!(vault.status().unwrap().pending_repairs, 0);
}

#[test]
fn interrupted_delete_is_finished() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new());
    let s = reopen(dir.path(), store.clone())
        .create(fields("k"), true, &value("v"))
        .unwrap();
    set_state(dir.path(), &s.id, "deleting", None);
    let vault = reopen(dir.path(), store.clone());
    assert_eq!(vault.repair().unwrap().finished_deletes, 1);
    assert_eq!(store.get(&s.id).unwrap(), None);
    assert!(vault.find("k").is_err());
}

#[test]
fn interrupted_rotation_is_finished_or_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new());
    let vault = reopen(dir.path(), store.clone());
    let a = vault.create(fields("a"), true, &value("a1")).unwrap();
    let b = vault.create(fields("b"), true, &value("b1")).unwrap();
    // Learn the fingerprint "a2" will have by rotating a throwaway secret to it.
    let probe = vault.create(fields("probe"), true, &value("x")).unwrap();
    let a2_fp = vault
        .replace_value(&probe.id, &value("a2"))
        .unwrap()
        .fingerprint;
    drop(vault);

    // a: the store got the new value, the database did not record it yet -> finish.
    store.set(&a.id, &value("a2")).unwrap();
    set_state(dir.path(), &a.id, "replacing", Some(a2_fp.as_str()));
    // b: the process died before the store write -> roll back.
    set_state(dir.path(), &b.id, "replacing", Some(a2_fp.as_str()));

    let vault = reopen(dir.path(), store.clone());
    let report = vault.repair().unwrap();
    assert_eq!(report.finished_rotations, 1);
    assert_eq!(report.rolled_back_rotations, 1);
    let a_after = vault.find("a").unwrap();
    assert_eq!(a_after.version, 2);
    assert_eq!(a_after.fingerprint, a2_fp);
    assert_eq!(vault.versions("a").unwrap().len(), 2);
    let b_after = vault.find("b").unwrap();
    assert_eq!(b_after.fingerprint, b.fingerprint);
    assert_eq!(vault.read("b", Purpose::Use).unwrap().1.expose(), "b1");
}

#[test]
fn repair_with_a_failing_store_keeps_the_work_for_later() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new());
    let s = reopen(dir.path(), store.clone())
        .create(fields("k"), true, &value("v"))
        .unwrap();
    set_state(dir.path(), &s.id, "deleting", None);
    let vault = reopen(dir.path(), store.clone());
    store.fail_with(Some(keywarden_vault::StoreError::Locked("locked".into())));
    assert_eq!(vault.repair().unwrap().failed, 1);
    assert_eq!(vault.status().unwrap().pending_repairs, 1);
    store.fail_with(None);
    assert_eq!(vault.repair().unwrap().finished_deletes, 1);
}
