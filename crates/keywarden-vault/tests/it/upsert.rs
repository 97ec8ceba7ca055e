//! `Vault::upsert`: create-or-update with merged metadata as one operation, and what
//! repair makes of it when the process dies between marking the row and finishing.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use base64::Engine as _;
use keywarden_core::{EnvironmentName, FingerprintKey, SecretBytes, SecretName, SecretValue, Tag};
use keywarden_vault::{
    MemoryStore, Purpose, SecretPatch, SecretStore, StoreError, StoreInfo, Target, Upserted, Vault,
    VaultError,
};

use crate::{memory_vault, value};

fn name(n: &str) -> SecretName {
    SecretName::new(n).unwrap()
}

fn described(description: &str) -> SecretPatch {
    SecretPatch {
        description: Some(description.to_owned()),
        ..Default::default()
    }
}

#[test]
fn upsert_creates_then_replaces_with_merged_metadata() {
    let (vault, _, _dir) = memory_vault();
    let patch = SecretPatch {
        description: Some("billing".into()),
        tags: Some(vec![Tag::new("a").unwrap()]),
        environment: Some(Some(EnvironmentName::new("prod").unwrap())),
        ..Default::default()
    };
    let (created, done) = vault
        .upsert(Target::Named(name("api_key")), patch, Some(&value("v1")))
        .unwrap();
    assert_eq!(done, Upserted::Created);
    assert_eq!(created.version, 1);
    assert!(created.enabled);
    assert_eq!(created.description, "billing");

    // Another case of the name is the same secret; what the patch leaves out is kept.
    let patch = SecretPatch {
        tags: Some(vec![Tag::new("b").unwrap()]),
        enabled: Some(false),
        ..Default::default()
    };
    let (replaced, done) = vault
        .upsert(Target::Named(name("API_KEY")), patch, Some(&value("v2")))
        .unwrap();
    assert_eq!(done, Upserted::Replaced);
    assert_eq!(replaced.id, created.id);
    assert_eq!(replaced.name.as_str(), "api_key");
    assert_eq!(replaced.version, 2);
    assert_eq!(replaced.description, "billing");
    assert_eq!(replaced.tags, vec![Tag::new("b").unwrap()]);
    assert_eq!(replaced.environment.as_ref().unwrap().as_str(), "prod");
    assert!(!replaced.enabled);
    assert_eq!(
        vault.read("api_key", Purpose::Reveal).unwrap().1.expose(),
        "v2"
    );
    assert_eq!(vault.versions("api_key").unwrap().len(), 2);

    // Metadata only.
    let (updated, done) = vault
        .upsert(
            Target::Existing(created.id.clone()),
            SecretPatch {
                enabled: Some(true),
                ..described("billing, renewed")
            },
            None,
        )
        .unwrap();
    assert_eq!(done, Upserted::Updated);
    assert_eq!(updated.version, 2);
    assert!(updated.enabled);
    assert_eq!(updated.description, "billing, renewed");
    assert_eq!(vault.status().unwrap().pending_repairs, 0);
}

#[test]
fn upsert_refusals_change_nothing() {
    let (vault, _, _dir) = memory_vault();
    let (s, _) = vault
        .upsert(Target::Named(name("k")), described("d"), Some(&value("v")))
        .unwrap();
    let same = vault
        .upsert(
            Target::Named(name("k")),
            described("other"),
            Some(&value("v")),
        )
        .unwrap_err();
    assert!(
        matches!(same, VaultError::Invalid { field: "value", .. }),
        "{same}"
    );
    assert!(matches!(
        vault.upsert(Target::New(name("K")), described("x"), Some(&value("w"))),
        Err(VaultError::NameTaken(_))
    ));
    assert!(matches!(
        vault.upsert(Target::Existing("nope".into()), described("x"), None),
        Err(VaultError::NotFound(_))
    ));
    assert!(matches!(
        vault.upsert(Target::Named(name("fresh")), described("x"), None),
        Err(VaultError::Invalid { field: "value", .. })
    ));
    let rename_and_rotate = SecretPatch {
        name: Some(name("renamed")),
        ..Default::default()
    };
    assert!(matches!(
        vault.upsert(
            Target::Existing(s.id.clone()),
            rename_and_rotate,
            Some(&value("w"))
        ),
        Err(VaultError::Invalid { field: "name", .. })
    ));
    let after = vault.find("k").unwrap();
    assert_eq!(after, vault.find(&s.id).unwrap());
    assert_eq!(after.description, "d");
    assert_eq!(after.version, 1);
    assert_eq!(vault.list(None).unwrap().len(), 1);
}

/// A store whose writes of secret values (not the vault's own `_` keys) can make the
/// process "die": a panic, before or after the value reaches the store.
struct DyingStore {
    inner: MemoryStore,
    mode: AtomicU8,
}

const LIVE: u8 = 0;
const DIE_BEFORE_WRITE: u8 = 1;
const DIE_AFTER_WRITE: u8 = 2;

impl DyingStore {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: MemoryStore::new(),
            mode: AtomicU8::new(LIVE),
        })
    }
    fn die(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

impl SecretStore for DyingStore {
    fn info(&self) -> StoreInfo {
        self.inner.info()
    }
    fn get(&self, key: &str) -> Result<Option<SecretValue>, StoreError> {
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &SecretValue) -> Result<(), StoreError> {
        let mode = if key.starts_with('_') {
            LIVE
        } else {
            self.mode.swap(LIVE, Ordering::SeqCst)
        };
        if mode == DIE_BEFORE_WRITE {
            panic!("killed after marking the row, before the store write");
        }
        self.inner.set(key, value)?;
        if mode == DIE_AFTER_WRITE {
            panic!("killed after the store write, before finishing");
        }
        Ok(())
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key)
    }
}

fn open(dir: &std::path::Path, store: Arc<DyingStore>) -> Vault {
    let conn = keywarden_vault::db::open(&dir.join("keywarden.db")).unwrap();
    Vault::with_store(conn, store, dir.to_path_buf())
}

/// Runs `op` in a "process" that dies inside the store write; the vault is then dropped.
fn killed(vault: Vault, op: impl FnOnce(&Vault)) {
    let died = std::panic::catch_unwind(AssertUnwindSafe(|| op(&vault)));
    assert!(died.is_err(), "the operation was supposed to be killed");
    drop(vault);
}

/// Every listed secret has a value whose fingerprint is the one the database records.
fn assert_consistent(vault: &Vault, store: &DyingStore) {
    let key = store.get("_fingerprint_key").unwrap().unwrap();
    let key = FingerprintKey::from_bytes(SecretBytes::new(
        base64::engine::general_purpose::STANDARD
            .decode(key.expose())
            .unwrap(),
    ))
    .unwrap();
    assert_eq!(vault.status().unwrap().pending_repairs, 0);
    assert!(vault.missing_values().unwrap().is_empty());
    for meta in vault.list(None).unwrap() {
        let (_, v) = vault.read(&meta.id, Purpose::Reveal).unwrap();
        assert!(
            key.fingerprint(&v).ct_eq(&meta.fingerprint),
            "{}: the stored value is not the one the database describes",
            meta.name
        );
        let versions = vault.versions(&meta.id).unwrap();
        assert_eq!(versions.len() as u32, meta.version);
        assert!(versions[0].fingerprint.ct_eq(&meta.fingerprint));
        assert_eq!(
            versions.iter().filter(|v| v.retired_at.is_none()).count(),
            1
        );
    }
}

#[test]
fn killed_upsert_of_an_existing_secret_is_old_or_new_as_a_whole() {
    for (mode, finished) in [(DIE_BEFORE_WRITE, false), (DIE_AFTER_WRITE, true)] {
        let dir = tempfile::tempdir().unwrap();
        let store = DyingStore::new();
        let vault = open(dir.path(), store.clone());
        vault
            .upsert(
                Target::Named(name("k")),
                described("old"),
                Some(&value("v1")),
            )
            .unwrap();
        store.die(mode);
        killed(vault, |v| {
            let patch = SecretPatch {
                enabled: Some(false),
                ..described("new")
            };
            let _ = v.upsert(Target::Named(name("k")), patch, Some(&value("v2")));
        });

        let vault = open(dir.path(), store.clone());
        assert_eq!(vault.status().unwrap().pending_repairs, 1);
        let report = vault.repair().unwrap();
        let after = vault.find("k").unwrap();
        let (_, v) = vault.read("k", Purpose::Reveal).unwrap();
        if finished {
            assert_eq!(report.finished_rotations, 1, "{report:?}");
            assert_eq!(v.expose(), "v2");
            assert_eq!(after.version, 2);
            assert_eq!(after.description, "new");
            assert!(!after.enabled);
        } else {
            assert_eq!(report.rolled_back_rotations, 1, "{report:?}");
            assert_eq!(v.expose(), "v1");
            assert_eq!(after.version, 1);
            assert_eq!(after.description, "old");
            assert!(after.enabled);
        }
        assert_consistent(&vault, &store);
    }
}

#[test]
fn killed_upsert_of_a_new_secret_leaves_nothing() {
    for mode in [DIE_BEFORE_WRITE, DIE_AFTER_WRITE] {
        let dir = tempfile::tempdir().unwrap();
        let store = DyingStore::new();
        let vault = open(dir.path(), store.clone());
        vault.self_test().unwrap();
        store.die(mode);
        killed(vault, |v| {
            let _ = v.upsert(Target::Named(name("k")), described("d"), Some(&value("v")));
        });
        let vault = open(dir.path(), store.clone());
        assert!(vault.list(None).unwrap().is_empty());
        assert_eq!(vault.repair().unwrap().rolled_back_creates, 1);
        assert_eq!(store.inner.len(), 1, "only the fingerprint key is left");
        assert_consistent(&vault, &store);
    }
}

/// A long-lived session (the desktop) does not restart to repair: the next operation
/// on the same secret finishes the dead one's work first.
#[test]
fn the_next_upsert_repairs_what_a_killed_one_left() {
    let dir = tempfile::tempdir().unwrap();
    let store = DyingStore::new();
    let vault = open(dir.path(), store.clone());
    vault
        .upsert(
            Target::Named(name("k")),
            described("one"),
            Some(&value("v1")),
        )
        .unwrap();
    let other = open(dir.path(), store.clone());
    store.die(DIE_AFTER_WRITE);
    killed(other, |v| {
        let _ = v.upsert(
            Target::Named(name("k")),
            described("two"),
            Some(&value("v2")),
        );
    });
    // The marked row is not shown as half-done metadata meanwhile.
    assert_eq!(vault.find("k").unwrap().description, "one");
    let (after, done) = vault
        .upsert(
            Target::Named(name("k")),
            SecretPatch::default(),
            Some(&value("v3")),
        )
        .unwrap();
    assert_eq!(done, Upserted::Replaced);
    assert_eq!(after.version, 3, "v2 was recorded, then v3");
    assert_eq!(after.description, "two");
    assert_eq!(vault.read("k", Purpose::Reveal).unwrap().1.expose(), "v3");
    assert_consistent(&vault, &store);

    // And a dead create under a name does not block creating it again.
    store.die(DIE_BEFORE_WRITE);
    let third = open(dir.path(), store.clone());
    killed(third, |v| {
        let _ = v.upsert(
            Target::Named(name("fresh")),
            described("x"),
            Some(&value("f1")),
        );
    });
    let (fresh, done) = vault
        .upsert(
            Target::New(name("fresh")),
            described("y"),
            Some(&value("f2")),
        )
        .unwrap();
    assert_eq!(done, Upserted::Created);
    assert_eq!(fresh.description, "y");
    assert_consistent(&vault, &store);
}
