//! The real binary's logs (debug level, JSON) hold no key, password or database password.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_keywarden-server");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_hold_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kw.db");
    let log_path = dir.path().join("server.log");
    let password = "canary-password-7f3a9c";
    let mut init = Command::new(BIN)
        .args(["--log-format", "json", "init", "--password-stdin"])
        .env("KEYWARDEN_DATABASE", &db)
        .env("KEYWARDEN_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        init.stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
    }
    let out = init.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let admin_key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let mut logs = String::from_utf8(out.stderr).unwrap();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(BIN)
        .args([
            "--log-format",
            "json",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("KEYWARDEN_DATABASE", &db)
        .env("KEYWARDEN_TRUSTED_PROXIES", "127.0.0.1")
        .env("KEYWARDEN_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Log in (right and wrong password), issue a key, use it in every style, fail some.
    let login: Value = http
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({ "username": "admin", "password": password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    http.post(format!("{base}/v1/auth/login"))
        .json(&json!({ "username": "admin", "password": "canary-wrong-1234" }))
        .send()
        .await
        .unwrap();
    let principals: Value = http
        .get(format!("{base}/v1/principals"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin_id = principals[0]["id"].as_str().unwrap();
    // Through the session: a key may only make keys within its own restrictions, and the
    // admin key may not be sent in a URL.
    let issued: Value = http
        .post(format!("{base}/v1/principals/{admin_id}/keys"))
        .bearer_auth(&token)
        .json(&json!({ "name": "k", "allow_query_param": true }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = issued["key"].as_str().unwrap().to_owned();
    http.post(format!("{base}/v1/verify"))
        .json(&json!({ "key": key }))
        .send()
        .await
        .unwrap();
    http.get(format!("{base}/v1/auth-request"))
        .header("x-original-method", "GET")
        .header("x-original-uri", format!("/api?auth-key={key}"))
        .send()
        .await
        .unwrap();
    http.get(format!("{base}/v1/auth-request"))
        .header("x-original-method", "GET")
        .header("x-original-uri", "/api")
        .header("x-api-key", format!("{key}x"))
        .send()
        .await
        .unwrap();
    http.post(format!("{base}/v1/groups"))
        .bearer_auth(format!("{key}zz"))
        .json(&json!({ "name": "g" }))
        .send()
        .await
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    logs.push_str(&std::fs::read_to_string(&log_path).unwrap());

    assert!(
        logs.contains("admin action"),
        "the logs were captured: {logs}"
    );
    for secret in [
        admin_key.as_str(),
        key.as_str(),
        token.as_str(),
        password,
        "canary-wrong-1234",
    ] {
        let random = secret.split('_').nth(2).unwrap_or(secret);
        assert!(!logs.contains(random), "a secret reached the logs");
    }
    for line in logs
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("Created administrator"))
    {
        serde_json::from_str::<Value>(line)
            .unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
    }
}
