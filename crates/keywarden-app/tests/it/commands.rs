use std::sync::{Arc, Mutex};

use keywarden_app::ipc::*;
use keywarden_app::{App, Clipboard};
use keywarden_vault::{MemoryStore, StoreError, Vault};

#[derive(Default)]
pub struct FakeClipboard(Mutex<Option<String>>);

impl Clipboard for FakeClipboard {
    fn set_text(&self, text: &str) -> Result<(), String> {
        *self.0.lock().unwrap() = Some(text.to_owned());
        Ok(())
    }
    fn get_text(&self) -> Option<String> {
        self.0.lock().unwrap().clone()
    }
    fn clear(&self) -> Result<(), String> {
        *self.0.lock().unwrap() = None;
        Ok(())
    }
}

fn app() -> (App, Arc<MemoryStore>, Arc<FakeClipboard>) {
    let store = Arc::new(MemoryStore::new());
    let conn = keywarden_vault::db::open_in_memory().unwrap();
    let vault = Vault::with_store(conn, store.clone(), std::env::temp_dir());
    let clipboard = Arc::new(FakeClipboard::default());
    (App::with_vault(vault, clipboard.clone()), store, clipboard)
}

fn create(name: &str, value: &str) -> CreateSecret {
    serde_json::from_value(serde_json::json!({ "name": name, "value": value })).unwrap()
}

#[test]
fn create_list_reveal_copy_rotate_delete() {
    let (app, _store, clipboard) = app();
    let created = app
        .create_secret(create("billing_api", "sk_live_canary"))
        .unwrap();
    assert!(created.enabled);
    assert_eq!(created.versions, 1);
    assert!(created.fingerprint.starts_with("kwfp:"));

    let listed = app
        .list_secrets(ListSecrets {
            search: Some("BILL".into()),
        })
        .unwrap();
    assert_eq!(listed, vec![created.clone()]);
    assert!(
        app.list_secrets(ListSecrets {
            search: Some("nothing".into())
        })
        .unwrap()
        .is_empty()
    );

    let revealed = app
        .reveal_secret(SecretRef {
            id: created.id.clone(),
        })
        .unwrap();
    assert_eq!(revealed.value, "sk_live_canary");
    assert!(revealed.hide_after_seconds > 0);

    let receipt = app
        .copy_secret(SecretRef {
            id: created.id.clone(),
        })
        .unwrap();
    assert_eq!(receipt.clears_after_seconds, 30);
    assert_eq!(clipboard.get_text().as_deref(), Some("sk_live_canary"));
    app.shutdown();
    assert_eq!(clipboard.get_text(), None);

    let rotated = app
        .replace_value(ReplaceValue {
            id: created.id.clone(),
            value: "sk_live_second".into(),
        })
        .unwrap();
    assert_eq!(rotated.versions, 2);
    assert_ne!(rotated.fingerprint, created.fingerprint);
    assert_eq!(rotated.created_at, created.created_at);
    let versions = app
        .secret_versions(SecretRef {
            id: created.id.clone(),
        })
        .unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1].fingerprint, created.fingerprint);
    assert!(versions[1].retired_at.is_some());

    app.delete_secret(SecretRef {
        id: created.id.clone(),
    })
    .unwrap();
    let err = app.reveal_secret(SecretRef { id: created.id }).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
}

#[test]
fn errors_name_the_field_and_never_the_value() {
    let (app, _, _) = app();
    let err = app
        .create_secret(create("bad name", "canary-value-123"))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert_eq!(err.field.as_deref(), Some("name"));
    assert!(!err.message.contains("canary"));

    let err = app.create_secret(create("ok", "")).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("value"));

    app.create_secret(create("dup", "x1")).unwrap();
    let err = app.create_secret(create("DUP", "x2")).unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict);
    assert_eq!(err.field.as_deref(), Some("name"));

    let mut bad_host = create("h", "v");
    bad_host.allowed_hosts = vec!["https://x.com/path".into()];
    assert_eq!(
        app.create_secret(bad_host).unwrap_err().field.as_deref(),
        Some("allowedHosts")
    );
}

#[test]
fn disabled_secrets_can_be_revealed_but_not_copied() {
    let (app, _, _) = app();
    let s = app.create_secret(create("x", "v")).unwrap();
    let s = app
        .set_enabled(SetEnabled {
            id: s.id,
            enabled: false,
        })
        .unwrap();
    assert!(!s.enabled);
    assert_eq!(
        app.copy_secret(SecretRef { id: s.id.clone() })
            .unwrap_err()
            .code,
        ErrorCode::Disabled
    );
    assert_eq!(
        app.reveal_secret(SecretRef { id: s.id }).unwrap().value,
        "v"
    );
}

#[test]
fn a_failing_store_is_reported_and_nothing_is_written() {
    let (app, store, _) = app();
    store.fail_with(Some(StoreError::Locked("collection is locked".into())));
    let err = app.create_secret(create("x", "v")).unwrap_err();
    assert_eq!(err.code, ErrorCode::KeychainLocked);
    assert!(app.list_secrets(ListSecrets::default()).unwrap().is_empty());
    let status = app.status();
    assert_eq!(status.health, Health::Locked);
    assert!(status.message.unwrap().contains("locked"));
    assert_eq!(status.secret_count, 0);

    store.fail_with(None);
    assert_eq!(app.self_test().health, Health::Ok);
    app.create_secret(create("x", "v")).unwrap();
}

#[test]
fn a_damaged_database_is_reported_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keywarden.db"), b"garbage garbage garbage").unwrap();
    let app = App::open(dir.path().to_path_buf(), Arc::new(FakeClipboard::default()));
    let status = app.status();
    assert_eq!(status.health, Health::Unavailable);
    assert!(status.message.unwrap().contains("damaged"));
    assert_eq!(
        app.list_secrets(ListSecrets::default()).unwrap_err().code,
        ErrorCode::Database
    );
    assert_eq!(
        std::fs::read(dir.path().join("keywarden.db")).unwrap(),
        b"garbage garbage garbage"
    );
}

#[test]
fn ipc_json_shape_is_camel_case() {
    let (app, _, _) = app();
    let s = app.create_secret(create("shape", "v")).unwrap();
    let json = serde_json::to_value(&s).unwrap();
    for key in ["createdAt", "lastUsedAt", "allowedHosts", "expiresAt"] {
        assert!(json.get(key).is_some(), "missing {key} in {json}");
    }
    assert_eq!(json["expiry"], "none");
    let err = serde_json::to_value(IpcError {
        code: ErrorCode::KeychainLocked,
        message: "m".into(),
        field: None,
    })
    .unwrap();
    assert_eq!(err["code"], "keychainLocked");
}

#[test]
fn a_key_shown_once_is_copied_by_rust_and_cleared() {
    let (app, _, clipboard) = app();
    let receipt = app
        .copy_text(CopyText {
            text: "kw_live_shown_once".into(),
        })
        .unwrap();
    assert_eq!(receipt.clears_after_seconds, 30);
    assert_eq!(clipboard.get_text().as_deref(), Some("kw_live_shown_once"));
    app.shutdown();
    assert_eq!(clipboard.get_text(), None);
    let err = app
        .copy_text(CopyText {
            text: String::new(),
        })
        .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("text"));
}
