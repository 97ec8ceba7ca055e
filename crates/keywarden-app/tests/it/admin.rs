//! The Admin screen's commands against the key server embedded in the app.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keywarden_app::ipc::*;
use keywarden_app::{App, Clipboard};
use keywarden_vault::{MemoryStore, Vault};
use serde_json::json;

use crate::commands::FakeClipboard;

fn app() -> (App, tempfile::TempDir, Arc<FakeClipboard>) {
    let home = tempfile::tempdir().unwrap();
    let conn = keywarden_vault::db::open(&home.path().join("keywarden.db")).unwrap();
    let vault = Vault::with_store(
        conn,
        Arc::new(MemoryStore::new()),
        home.path().to_path_buf(),
    );
    let clipboard = Arc::new(FakeClipboard::default());
    (App::with_vault(vault, clipboard.clone()), home, clipboard)
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn admin_screen_flow_on_the_embedded_server() {
    let (app, home, clipboard) = app();
    assert_eq!(
        app.admin_list(AdminListQuery {
            connection: None,
            kind: AdminKind::Principal,
            search: None,
            principal_id: None,
            enabled: None,
            pending_only: false,
            include_inactive: false,
        })
        .unwrap_err()
        .code,
        ErrorCode::NotFound,
        "no connection yet"
    );
    let connected = app.admin_connect_embedded().unwrap();
    assert!(connected.verified);
    let status = app.admin_start_sync().unwrap();
    assert!(status.background);

    let group = app
        .admin_create(AdminCreate {
            connection: None,
            kind: AdminKind::Group,
            fields: json!({ "name": "api-users" }),
        })
        .unwrap();
    app.admin_create(AdminCreate {
        connection: None,
        kind: AdminKind::Role,
        fields: json!({ "name": "use", "privileges": ["key:use"], "groups": [group.id] }),
    })
    .unwrap();
    let client = app
        .admin_create(AdminCreate {
            connection: None,
            kind: AdminKind::Principal,
            fields: json!({ "kind": "api_client", "name": "billing", "description": "Billing API client",
                            "logo": "https://example.com/logo.png", "groups": [group.id] }),
        })
        .unwrap();
    assert_eq!(client.label, "billing");

    // Into the vault: the window never sees the key.
    let stored = app
        .admin_create_key(AdminCreateKey {
            connection: None,
            principal_id: client.id.clone(),
            fields: json!({ "name": "billing-live", "read_only": true }),
            placement: KeyPlacement::Vault {
                secret_name: "billing_api".into(),
                hosts: vec![],
            },
        })
        .unwrap();
    assert!(stored.shown_once.is_none());
    assert!(stored.key.pending >= 1 || stored.key.id.starts_with("local-"));
    // Clipboard: copied from Rust, never returned.
    let copied = app
        .admin_create_key(AdminCreateKey {
            connection: None,
            principal_id: client.id.clone(),
            fields: json!({ "name": "billing-ci" }),
            placement: KeyPlacement::Clipboard,
        })
        .unwrap();
    assert!(copied.shown_once.is_none());
    assert_eq!(copied.clipboard_clears_after_seconds, Some(30));
    let ci_key = clipboard.get_text().unwrap();
    assert!(ci_key.starts_with("kw_live_"));

    wait_until("the queue to drain", || {
        app.admin_status().unwrap().queued == 0
    });
    let status = app.admin_status().unwrap();
    assert_eq!(status.connections[0].online, Some(true));
    assert_eq!((status.failed, status.conflicts), (0, 0));

    let keys = app
        .admin_list(AdminListQuery {
            connection: None,
            kind: AdminKind::Key,
            search: Some("billing".into()),
            principal_id: Some(client.id.clone()),
            enabled: None,
            pending_only: false,
            include_inactive: false,
        })
        .unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(
        keys.iter()
            .all(|k| k.pending == 0 && !k.id.starts_with("local-"))
    );

    // The stored key works; the vault secret carries the key's policy.
    let secrets = app
        .list_secrets(ListSecrets {
            search: Some("billing_api".into()),
        })
        .unwrap();
    assert_eq!(secrets.len(), 1);
    assert_eq!(secrets[0].allowed_hosts, vec!["127.0.0.1".to_owned()]);

    // Disable from the screen: the server refuses the key within a second.
    let ci = keys
        .iter()
        .find(|k| k.body["name"] == json!("billing-ci"))
        .unwrap();
    let admin = app.admin().unwrap();
    let secret = keywarden_core::SecretValue::new(ci_key.clone()).unwrap();
    assert_eq!(
        admin.verify("embedded", &secret, "GET", "/").unwrap()["valid"],
        json!(true)
    );
    let clicked = Instant::now();
    app.admin_set_enabled(AdminSetEnabled {
        connection: None,
        kind: AdminKind::Key,
        id: ci.id.clone(),
        enabled: false,
    })
    .unwrap();
    wait_until("the server to refuse the key", || {
        admin.verify("embedded", &secret, "GET", "/").unwrap()["reason"] == json!("key_disabled")
    });
    assert!(
        clicked.elapsed() < Duration::from_secs(1),
        "{:?}",
        clicked.elapsed()
    );

    // Rotation of the stored key: the vault copy follows.
    let live = keys
        .iter()
        .find(|k| k.body["name"] == json!("billing-live"))
        .unwrap();
    let rotated = app
        .admin_rotate_key(AdminRotateKey {
            connection: None,
            id: live.id.clone(),
            grace_seconds: Some(600),
            placement: None,
        })
        .unwrap();
    assert!(
        rotated.shown_once.is_none(),
        "a vault copy is replaced, not shown"
    );
    wait_until("the rotation", || app.admin_status().unwrap().queued == 0);
    let old = app
        .admin_refresh(AdminRef {
            connection: None,
            kind: AdminKind::Key,
            id: live.id.clone(),
        })
        .unwrap();
    assert!(old.body["replaced_by"].is_string());
    let versions = app
        .secret_versions(SecretRef {
            id: stored.secret_id.clone().unwrap(),
        })
        .unwrap();
    assert_eq!(versions.len(), 2);

    // Outbox history and audit, readable.
    let done = app
        .admin_outbox(OutboxQuery {
            connection: None,
            states: vec!["done".into()],
            limit: 100,
        })
        .unwrap();
    assert!(done.iter().any(|a| a.action == "key.disable"));
    let audit = app
        .admin_audit(AdminAuditQuery {
            action: Some("key.rotate".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert!(audit[0].detail["display_prefix"].is_string());

    // Show once on a refresh of the clipboard key (no vault copy).
    let refreshed = app
        .admin_rotate_key(AdminRotateKey {
            connection: None,
            id: ci.id.clone(),
            grace_seconds: None,
            placement: None,
        })
        .unwrap();
    let shown = refreshed.shown_once.clone().unwrap();
    assert!(shown.starts_with("kw_live_"));
    app.admin_stop_sync();

    // Canary: no generated key, no admin credential in any file of the profile.
    let mut stack = vec![home.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            for k in [&ci_key, &shown] {
                let random = k.split('_').nth(2).unwrap();
                assert!(
                    !bytes.windows(random.len()).any(|w| w == random.as_bytes()),
                    "key in {}",
                    p.display()
                );
            }
        }
    }
}

#[test]
fn admin_errors_are_stable() {
    let (app, _home, _) = app();
    app.admin_connect_embedded().unwrap();
    let err = app
        .admin_create(AdminCreate {
            connection: None,
            kind: AdminKind::Key,
            fields: json!({}),
        })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    let err = app
        .admin_create(AdminCreate {
            connection: None,
            kind: AdminKind::Group,
            fields: json!({ "nam": "x" }),
        })
        .unwrap_err();
    assert_eq!(
        (err.code, err.field.as_deref()),
        (ErrorCode::InvalidInput, Some("fields"))
    );
    let err = app.admin_discard(ActionRef { seq: 424242 }).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    let err = app
        .admin_connect(ConnectServer {
            name: "bad name!".into(),
            url: "https://keys.example.com".into(),
            ca_pem: None,
            sign_in: AdminSignIn::AdminKey {
                key: "kw_live_x".into(),
            },
        })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    let err = app
        .admin_connect(ConnectServer {
            name: "plain".into(),
            url: "http://keys.example.com".into(),
            ca_pem: None,
            sign_in: AdminSignIn::AdminKey {
                key: "kw_live_x".into(),
            },
        })
        .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("url"), "{err:?}");
    assert!(
        format!(
            "{:?}",
            AdminSignIn::AdminKey {
                key: "kw_live_secret".into()
            }
        )
        .contains("***")
    );
}
