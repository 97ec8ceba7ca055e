use keywarden_core::now;
use keywarden_vault::{Expiry, Purpose, SecretFields, StoreError, VaultError};

use crate::{fields, memory_vault, value};

#[test]
fn listing_and_searching_ten_thousand_secrets_never_touches_the_store() {
    let (vault, store, _dir) = memory_vault();
    for i in 0..10_000 {
        let mut f = fields(&format!("secret_{i:05}"));
        f.tags = vec![keywarden_core::Tag::new(if i % 2 == 0 { "even" } else { "odd" }).unwrap()];
        vault.create(f, true, &value(&format!("v{i}"))).unwrap();
    }
    let calls = store.calls();
    assert_eq!(vault.list(None).unwrap().len(), 10_000);
    assert_eq!(vault.list(Some("secret_0999")).unwrap().len(), 10);
    assert_eq!(vault.list(Some("ODD")).unwrap().len(), 5_000);
    assert_eq!(
        vault.list(Some("%")).unwrap().len(),
        0,
        "LIKE wildcards are matched literally"
    );
    assert_eq!(
        vault.list(Some("_")).unwrap().len(),
        10_000,
        "'_' is literal, and every name has one"
    );
    vault.status().unwrap();
    vault.find("secret_00042").unwrap();
    assert_eq!(
        store.calls(),
        calls,
        "list, search, find and status made keychain calls"
    );
}

#[test]
fn names_are_unique_without_regard_to_case() {
    let (vault, _, _dir) = memory_vault();
    vault.create(fields("Billing"), true, &value("a")).unwrap();
    assert!(matches!(
        vault.create(fields("billing"), true, &value("b")),
        Err(VaultError::NameTaken(_))
    ));
    let other = vault.create(fields("other"), true, &value("c")).unwrap();
    assert!(matches!(
        vault.update(&other.id, fields("BILLING")),
        Err(VaultError::NameTaken(_))
    ));
    // Renaming to a different case of its own name is fine.
    vault.update(&other.id, fields("OTHER")).unwrap();
    assert_eq!(vault.find("other").unwrap().name.as_str(), "OTHER");
}

#[test]
fn expiry_states() {
    let (vault, _, _dir) = memory_vault();
    let at = now();
    let mut f = fields("soon");
    f.expires_at = Some(at + 2 * 86_400);
    let soon = vault.create(f, true, &value("a")).unwrap();
    assert_eq!(soon.expiry(at), Expiry::Soon);
    assert_eq!(soon.expiry(at + 3 * 86_400), Expiry::Expired);
    assert_eq!(soon.expiry(at - 30 * 86_400), Expiry::Ok);
    assert_eq!(
        vault
            .create(fields("never"), true, &value("b"))
            .unwrap()
            .expiry(at),
        Expiry::None
    );
}

#[test]
fn reading_updates_last_used_and_respects_enabled() {
    let (vault, _, _dir) = memory_vault();
    let s = vault.create(fields("k"), false, &value("v")).unwrap();
    assert!(s.last_used_at.is_none());
    assert!(matches!(
        vault.read("k", Purpose::Use),
        Err(VaultError::Disabled(_))
    ));
    let (meta, v) = vault.read("k", Purpose::Reveal).unwrap();
    assert_eq!(v.expose(), "v");
    assert!(!meta.enabled);
    assert!(vault.find("k").unwrap().last_used_at.is_some());
}

#[test]
fn a_failed_store_write_leaves_no_row() {
    let (vault, store, _dir) = memory_vault();
    vault.self_test().unwrap();
    store.fail_with(Some(StoreError::Failed("disk on fire".into())));
    assert!(vault.create(fields("k"), true, &value("v")).is_err());
    assert!(vault.list(None).unwrap().is_empty());
    assert_eq!(vault.status().unwrap().pending_repairs, 0);
}

#[test]
fn a_failed_rotation_or_delete_keeps_the_secret_as_it_was() {
    let (vault, store, _dir) = memory_vault();
    let s = vault.create(fields("k"), true, &value("v1")).unwrap();
    store.fail_with(Some(StoreError::Timeout(20)));
    assert!(vault.replace_value(&s.id, &value("v2")).is_err());
    assert!(vault.delete(&s.id).is_err());
    store.fail_with(None);
    let after = vault.find(&s.id).unwrap();
    assert_eq!(after.fingerprint, s.fingerprint);
    assert_eq!(vault.read(&s.id, Purpose::Use).unwrap().1.expose(), "v1");
    assert_eq!(vault.status().unwrap().pending_repairs, 0);
}

#[test]
fn field_validation_names_the_field() {
    let tags = vec!["ok".to_owned(), "not ok".to_owned()];
    let err = SecretFields::parse("n", "", &tags, None, None, &[]).unwrap_err();
    assert!(
        matches!(err, VaultError::Invalid { field: "tags", .. }),
        "{err}"
    );
    let err = SecretFields::parse("n", "", &[], Some("prod env"), None, &[]).unwrap_err();
    assert!(matches!(
        err,
        VaultError::Invalid {
            field: "environment",
            ..
        }
    ));
    let err = SecretFields::parse("n", &"x".repeat(1001), &[], None, None, &[]).unwrap_err();
    assert!(matches!(
        err,
        VaultError::Invalid {
            field: "description",
            ..
        }
    ));
    let err = SecretFields::parse("n", "", &[], None, Some(-5), &[]).unwrap_err();
    assert!(matches!(
        err,
        VaultError::Invalid {
            field: "expiresAt",
            ..
        }
    ));
    let ok = SecretFields::parse(
        " n ",
        " d ",
        &["a".into(), "a".into(), " ".into()],
        Some(""),
        None,
        &[],
    )
    .unwrap();
    assert_eq!(ok.name.as_str(), "n");
    assert_eq!(ok.tags.len(), 1);
    assert_eq!(ok.environment, None);
}

#[test]
fn too_large_values_are_refused_before_writing() {
    let (vault, store, _dir) = memory_vault();
    let big = value(&"x".repeat(keywarden_core::SecretValue::MAX_BYTES));
    vault.create(fields("big"), true, &big).unwrap();
    assert!(!store.is_empty());
    assert!(
        keywarden_core::SecretValue::new("x".repeat(keywarden_core::SecretValue::MAX_BYTES + 1))
            .is_err()
    );
}
