//! The IPC layer through Tauri's mock runtime: the same handlers and argument names the
//! window uses, over an in-memory secret store and a fake clipboard.

use std::sync::{Arc, Mutex};

use keywarden_app::{App, Clipboard};
use keywarden_vault::{MemoryStore, Vault};
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{WebviewWindow, WebviewWindowBuilder};

#[derive(Default)]
struct FakeClipboard(Mutex<Option<String>>);

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

struct Harness {
    window: WebviewWindow<MockRuntime>,
    store: Arc<MemoryStore>,
    clipboard: Arc<FakeClipboard>,
    _app: tauri::App<MockRuntime>,
}

fn harness() -> Harness {
    let store = Arc::new(MemoryStore::new());
    let conn = keywarden_vault::db::open_in_memory().unwrap();
    let vault = Vault::with_store(conn, store.clone(), std::env::temp_dir());
    let clipboard = Arc::new(FakeClipboard::default());
    let app = App::with_vault(vault, clipboard.clone());
    let tauri_app = keywarden_desktop::with_vault(mock_builder(), Arc::new(app))
        .build(mock_context(noop_assets()))
        .expect("mock app builds");
    let window = WebviewWindowBuilder::new(&tauri_app, "main", Default::default())
        .build()
        .expect("mock window builds");
    Harness {
        window,
        store,
        clipboard,
        _app: tauri_app,
    }
}

/// Invokes `cmd` exactly as `@tauri-apps/api`'s `invoke(cmd, args)` does from the window.
fn invoke(h: &Harness, cmd: &str, args: Value) -> Result<Value, Value> {
    tauri::test::get_ipc_response(
        &h.window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().unwrap())
}

#[test]
fn the_window_drives_a_secret_through_every_command() {
    let h = harness();

    let status = invoke(&h, "vault_status", json!({})).unwrap();
    assert_eq!(status["secretCount"], 0);
    assert_eq!(status["backend"], "keychain");

    let created = invoke(
        &h,
        "create_secret",
        json!({ "req": {
            "name": "billing_api",
            "value": "sk_live_ipc_canary",
            "tags": ["billing"],
            "environment": "production",
            "allowedHosts": ["api.example.com"]
        }}),
    )
    .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "billing_api");
    assert_eq!(created["enabled"], true);
    assert!(
        !created.to_string().contains("sk_live_ipc_canary"),
        "a summary must never carry the value"
    );
    // The store holds the value (and the vault's own fingerprint key).
    let stored = h.store.len();
    assert!(stored >= 1);

    let listed = invoke(&h, "list_secrets", json!({ "req": { "search": "BILL" } })).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let none = invoke(&h, "list_secrets", json!({ "req": { "search": "nope" } })).unwrap();
    assert_eq!(none, json!([]));

    let revealed = invoke(&h, "reveal_secret", json!({ "req": { "id": id } })).unwrap();
    assert_eq!(revealed["value"], "sk_live_ipc_canary");
    assert!(revealed["hideAfterSeconds"].as_u64().unwrap() > 0);

    let receipt = invoke(&h, "copy_secret", json!({ "req": { "id": id } })).unwrap();
    assert_eq!(receipt["clearsAfterSeconds"], 30);
    assert_eq!(
        h.clipboard.get_text().as_deref(),
        Some("sk_live_ipc_canary"),
        "copy writes the clipboard from Rust"
    );

    let disabled = invoke(
        &h,
        "set_enabled",
        json!({ "req": { "id": id, "enabled": false } }),
    )
    .unwrap();
    assert_eq!(disabled["enabled"], false);

    let rotated = invoke(
        &h,
        "replace_value",
        json!({ "req": { "id": id, "value": "sk_live_ipc_canary_2" } }),
    )
    .unwrap();
    assert_eq!(rotated["versions"], 2);
    assert_ne!(rotated["fingerprint"], created["fingerprint"]);
    let versions = invoke(&h, "secret_versions", json!({ "req": { "id": id } })).unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 2);

    invoke(&h, "delete_secret", json!({ "req": { "id": id } })).unwrap();
    assert_eq!(
        h.store.len(),
        stored - 1,
        "delete removes the value from the store"
    );
    assert_eq!(
        invoke(&h, "list_secrets", json!({ "req": {} })).unwrap(),
        json!([])
    );
}

#[test]
fn errors_reach_the_window_in_the_stable_shape() {
    let h = harness();
    let err = invoke(
        &h,
        "create_secret",
        json!({ "req": { "name": "not a valid name!", "value": "x" } }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalidInput");
    assert_eq!(err["field"], "name");
    assert!(err["message"].as_str().unwrap().len() > 10);
    assert_eq!(h.store.len(), 0, "nothing reaches the store on bad input");

    let missing = invoke(
        &h,
        "reveal_secret",
        json!({ "req": { "id": "no-such-id" } }),
    )
    .unwrap_err();
    assert_eq!(missing["code"], "notFound");
}

#[test]
fn a_command_without_its_argument_is_refused() {
    let h = harness();
    let err = invoke(&h, "list_secrets", json!({})).unwrap_err();
    assert!(
        err.as_str().unwrap_or_default().contains("req"),
        "unexpected error: {err}"
    );
}

#[test]
fn the_requests_screen_reaches_every_request_command() {
    let h = harness();
    invoke(
        &h,
        "create_secret",
        json!({ "req": { "name": "billing_api", "value": "sk_ipc_req_canary", "allowedHosts": [] } }),
    )
    .unwrap();

    let profiles = invoke(
        &h,
        "save_profile",
        json!({ "req": {
            "name": "billing", "description": "", "secret": "billing_api",
            "style": { "kind": "bearer" }, "allowedHosts": ["api.example.com"], "httpsOnly": true
        }}),
    )
    .unwrap();
    assert_eq!(profiles[0]["name"], "billing");
    assert_eq!(invoke(&h, "list_profiles", json!({})).unwrap(), profiles);

    let envs = invoke(
        &h,
        "save_environment",
        json!({ "req": {
            "name": "Test", "variables": { "host": "api.example.com" },
            "queryParam": { "name": "_profile", "value": "Test" }, "production": false
        }}),
    )
    .unwrap();
    assert_eq!(envs[0]["queryParam"]["value"], "Test");
    assert_eq!(invoke(&h, "list_environments", json!({})).unwrap(), envs);

    let spec = json!({
        "method": "GET", "url": "https://${env.host}/v1/invoices", "query": [], "headers": [],
        "body": { "kind": "none" }, "profile": "billing", "environment": "Test"
    });
    let preview = invoke(&h, "preview_request", json!({ "req": spec })).unwrap();
    assert_eq!(
        preview["url"],
        "https://api.example.com/v1/invoices?_profile=Test"
    );
    assert_eq!(
        preview["headers"][0]["value"],
        "Bearer [secret.billing_api]"
    );
    assert!(!preview.to_string().contains("sk_ipc_req_canary"));

    let err = invoke(
        &h,
        "preview_request",
        json!({ "req": { "method": "GET", "url": "https://a.example/${secret.nope", "profile": null, "environment": null } }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "template");
    assert_eq!(err["field"], "URL");

    let copied = invoke(
        &h,
        "copy_as_curl",
        json!({ "req": { "spec": spec, "reveal": false } }),
    )
    .unwrap();
    assert!(copied["clearsAfterSeconds"].is_null());
    assert!(
        !h.clipboard
            .get_text()
            .unwrap()
            .contains("sk_ipc_req_canary")
    );
    let revealed = invoke(
        &h,
        "copy_as_curl",
        json!({ "req": { "spec": spec, "reveal": true } }),
    )
    .unwrap();
    assert_eq!(revealed["clearsAfterSeconds"], 30);
    assert!(!revealed.to_string().contains("sk_ipc_req_canary"));
    assert!(
        h.clipboard
            .get_text()
            .unwrap()
            .contains("Bearer sk_ipc_req_canary"),
        "the revealed command goes to the clipboard from Rust"
    );

    let saved = invoke(
        &h,
        "save_request",
        json!({ "req": { "collection": "Billing", "name": "List invoices", "spec": spec } }),
    )
    .unwrap();
    let listed = invoke(&h, "list_saved_requests", json!({})).unwrap();
    assert_eq!(listed[0]["id"], saved["id"]);
    invoke(
        &h,
        "delete_saved_request",
        json!({ "req": { "id": saved["id"] } }),
    )
    .unwrap();
    assert_eq!(
        invoke(&h, "list_saved_requests", json!({})).unwrap(),
        json!([])
    );

    assert_eq!(
        invoke(&h, "list_history", json!({ "req": { "limit": 10 } })).unwrap(),
        json!([])
    );
    invoke(&h, "clear_history", json!({})).unwrap();
    invoke(
        &h,
        "delete_profile",
        json!({ "req": { "name": "billing" } }),
    )
    .unwrap();
    invoke(
        &h,
        "delete_environment",
        json!({ "req": { "name": "Test" } }),
    )
    .unwrap();
    assert_eq!(invoke(&h, "list_profiles", json!({})).unwrap(), json!([]));
}
