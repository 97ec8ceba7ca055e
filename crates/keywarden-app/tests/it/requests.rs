use std::io::{Read, Write};
use std::sync::Arc;

use keywarden_app::ipc::*;
use keywarden_app::{App, Clipboard};
use keywarden_vault::{MemoryStore, Vault};

use crate::commands::FakeClipboard;

fn app() -> (App, Arc<MemoryStore>, Arc<FakeClipboard>) {
    let store = Arc::new(MemoryStore::new());
    let vault = Vault::with_store(
        keywarden_vault::db::open_in_memory().unwrap(),
        store.clone(),
        std::env::temp_dir(),
    );
    let clipboard = Arc::new(FakeClipboard::default());
    (App::with_vault(vault, clipboard.clone()), store, clipboard)
}

fn one_shot_server(
    status: &'static str,
    body: &'static str,
) -> (u16, std::thread::JoinHandle<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 8192];
        let mut n = 0;
        while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
            n += s.read(&mut buf[n..]).unwrap();
        }
        write!(s, "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });
    (port, handle)
}

fn setup(app: &App) {
    let create: CreateSecret = serde_json::from_value(serde_json::json!({
        "name": "billing_api", "value": "sk_live_app_request", "allowedHosts": ["127.0.0.1"]
    }))
    .unwrap();
    app.create_secret(create).unwrap();
    let profile: KeyProfile = serde_json::from_value(serde_json::json!({
        "name": "billing", "secret": "billing_api", "style": { "kind": "bearer" }
    }))
    .unwrap();
    app.save_profile(profile).unwrap();
}

fn spec(url: &str) -> RequestSpec {
    serde_json::from_value(serde_json::json!({ "method": "GET", "url": url, "profile": "billing" }))
        .unwrap()
}

#[test]
fn preview_reads_no_secret_and_redacts() {
    let (app, store, _) = app();
    setup(&app);
    let before = store.calls();
    let preview = app
        .preview_request(spec("http://127.0.0.1:9/v1/items"))
        .unwrap();
    assert_eq!(
        store.calls(),
        before,
        "a preview must not read the secret store"
    );
    assert_eq!(
        preview.headers,
        vec![HeaderView {
            name: "Authorization".into(),
            value: "Bearer [secret.billing_api]".into()
        }]
    );
    assert_eq!(preview.secrets[0].name, "billing_api");
    assert!(preview.curl.contains("[secret.billing_api]"));
    let err = app
        .preview_request(spec("https://elsewhere.example/"))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Refused);
}

#[test]
fn send_records_history_and_explains_a_refusal() {
    let (app, store, _) = app();
    setup(&app);
    let (port, server) = one_shot_server("403 Forbidden", "{\"error\":\"nope\"}");
    let before = store.calls();
    let result = app
        .send_request(spec(&format!("http://127.0.0.1:{port}/v1/items")))
        .unwrap();
    assert_eq!(
        store.calls() - before,
        1,
        "one secret-store read per secret per send"
    );
    let raw = server.join().unwrap();
    assert!(
        raw.contains("authorization: Bearer sk_live_app_request\r\n"),
        "{raw}"
    );
    assert_eq!(result.status, 403);
    assert_eq!(result.body, "{\"error\":\"nope\"}");
    assert!(result.body_is_text);
    assert!(!result.explanation.is_empty());
    let history = app.list_history(HistoryQuery { limit: 10 }).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].id, result.history_id);
    assert_eq!(history[0].status, Some(403));
    assert_eq!(history[0].secrets[0].name, "billing_api");
    app.clear_history().unwrap();
    assert!(
        app.list_history(HistoryQuery { limit: 10 })
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_server_that_is_down_is_a_send_error_and_is_in_history() {
    let (app, _, _) = app();
    setup(&app);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = app
        .send_request(spec(&format!("http://127.0.0.1:{port}/")))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::SendFailed);
    assert!(!err.message.contains("sk_live"));
    let history = app.list_history(HistoryQuery { limit: 10 }).unwrap();
    assert!(history[0].error.is_some());
}

#[test]
fn curl_copies_redacted_or_revealed() {
    let (app, _, clipboard) = app();
    setup(&app);
    let copied = app
        .copy_as_curl(CopyCurl {
            spec: spec("http://127.0.0.1:9/x"),
            reveal: false,
        })
        .unwrap();
    assert!(copied.clears_after_seconds.is_none());
    assert_eq!(clipboard.get_text().unwrap(), copied.redacted);
    assert!(!copied.redacted.contains("sk_live"));
    let copied = app
        .copy_as_curl(CopyCurl {
            spec: spec("http://127.0.0.1:9/x"),
            reveal: true,
        })
        .unwrap();
    assert_eq!(copied.clears_after_seconds, Some(30));
    assert!(
        clipboard
            .get_text()
            .unwrap()
            .contains("Bearer sk_live_app_request")
    );
    assert!(!copied.redacted.contains("sk_live"));
    app.shutdown();
    assert_eq!(clipboard.get_text(), None);
}

#[test]
fn environments_profiles_and_saved_requests() {
    let (app, _, _) = app();
    setup(&app);
    let env: Environment = serde_json::from_value(serde_json::json!({
        "name": "Test", "variables": { "host": "127.0.0.1" }, "queryParam": { "name": "_profile", "value": "Test" }
    }))
    .unwrap();
    assert_eq!(app.save_environment(env).unwrap().len(), 1);
    let mut s = spec("http://${env.host}:9/x");
    s.environment = Some("Test".into());
    let preview = app.preview_request(s.clone()).unwrap();
    assert_eq!(preview.url, "http://127.0.0.1:9/x?_profile=Test");
    let saved = app
        .save_request(SaveRequest {
            collection: "Billing".into(),
            name: "items".into(),
            spec: s,
        })
        .unwrap();
    assert_eq!(app.list_saved_requests().unwrap(), vec![saved.clone()]);
    app.delete_saved_request(SecretRef { id: saved.id })
        .unwrap();
    assert!(app.list_saved_requests().unwrap().is_empty());
    let bad: KeyProfile = serde_json::from_value(serde_json::json!({
        "name": "x", "secret": "missing", "style": { "kind": "bearer" }
    }))
    .unwrap();
    assert_eq!(
        app.save_profile(bad).unwrap_err().field.as_deref(),
        Some("secret")
    );
    assert!(
        app.delete_profile(NameRef {
            name: "billing".into()
        })
        .unwrap()
        .is_empty()
    );
    assert_eq!(
        app.delete_environment(NameRef {
            name: "nope".into()
        })
        .unwrap_err()
        .code,
        ErrorCode::NotFound
    );
}

#[test]
fn a_response_that_echoes_the_secret_reaches_the_window_masked() {
    let (app, _, _) = app();
    setup(&app);
    let (port, server) = one_shot_server(
        "200 OK",
        "{\"headers\":{\"Authorization\":\"Bearer sk_live_app_request\"},\"token\":\"sk_live_app_request\"}",
    );
    let result = app
        .send_request(spec(&format!("http://127.0.0.1:{port}/anything")))
        .unwrap();
    server.join().unwrap();
    assert_eq!(
        result.body,
        "{\"headers\":{\"Authorization\":\"Bearer [secret.billing_api]\"},\"token\":\"[secret.billing_api]\"}"
    );
    assert!(!serde_json::to_string(&result).unwrap().contains("sk_live"));
    let echo = result
        .findings
        .iter()
        .find(|f| f.code == "response-echoes-secret")
        .expect("the echo is reported");
    assert!(echo.message.contains("`billing_api`"), "{}", echo.message);
    // The size is the real one: the mask changes what is shown, not what was received.
    assert_eq!(result.body_bytes, 88);
}

#[test]
fn an_encoded_echo_reaches_the_window_masked_too() {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let (app, _, _) = app();
    setup(&app);
    let key = "sk_live_app_request";
    let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
    let forms = [
        STANDARD.encode(key),
        STANDARD_NO_PAD.encode(key),
        URL_SAFE_NO_PAD.encode(key),
        hex.clone(),
        hex.to_uppercase(),
        // The whole header, and the key inside a Basic credential.
        STANDARD.encode(format!("Bearer {key}")),
        STANDARD.encode(format!("user:{key}")),
    ];
    let body: &'static str = Box::leak(
        format!(
            "{{{}}}",
            forms
                .iter()
                .enumerate()
                .map(|(i, f)| format!("\"f{i}\":\"{f}\""))
                .collect::<Vec<_>>()
                .join(",")
        )
        .into_boxed_str(),
    );
    let (port, server) = one_shot_server("200 OK", body);
    let result = app
        .send_request(spec(&format!("http://127.0.0.1:{port}/anything")))
        .unwrap();
    server.join().unwrap();
    let shown = serde_json::to_string(&result).unwrap();
    for f in forms.iter().map(String::as_str).chain([key]) {
        assert!(!shown.contains(f), "{f} reached the window: {shown}");
    }
    let body: serde_json::Value = serde_json::from_str(&result.body).unwrap();
    for i in 0..forms.len() {
        let v = body[format!("f{i}")].as_str().unwrap();
        assert!(v.contains("[secret.billing_api]"), "f{i}: {v}");
    }
    let echo = result
        .findings
        .iter()
        .find(|f| f.code == "response-echoes-secret")
        .expect("the echo is reported");
    assert!(echo.message.contains("`billing_api`"), "{}", echo.message);
}
