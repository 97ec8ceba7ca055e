//! The real binary's life: SIGTERM stops it gracefully after a last flush of what it
//! keeps in memory (last-used times, refusal counts), so nothing seen is lost.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_keywarden-server");

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_last_used_times_and_refusal_counts_before_exit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kw.db");
    let init = Command::new(BIN)
        .arg("init")
        .env("KEYWARDEN_DATABASE", &db)
        .output()
        .unwrap();
    assert!(init.status.success());
    let admin_key = String::from_utf8(init.stdout).unwrap().trim().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Usage is flushed every 10 s by default: the test ends long before the first flush,
    // so whatever is in the database afterwards was written by the shutdown.
    let child = Command::new(BIN)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("KEYWARDEN_DATABASE", &db)
        .env("KEYWARDEN_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let used_at = keywarden_core::now();
    let v: serde_json::Value = http
        .post(format!("{base}/v1/verify"))
        .json(&json!({ "key": admin_key }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["valid"], true);
    let key_id = v["key_id"].as_str().unwrap().to_owned();
    let unknown = keywarden_keys::ApiKey::generate("kw", "live").unwrap();
    let v: serde_json::Value = http
        .post(format!("{base}/v1/verify"))
        .json(&json!({ "key": unknown.expose() }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["reason"], "invalid_key");

    let pid = child.id().to_string();
    let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "the test must end before the first periodic flush"
    );
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {logs}", out.status);
    assert!(logs.contains("shutting down"), "{logs}");

    let conn = rusqlite::Connection::open(&db).unwrap();
    let last_used: i64 = conn
        .query_row(
            "SELECT last_used_at FROM key_usage WHERE key_id = ?1",
            [&key_id],
            |r| r.get(0),
        )
        .expect("the key's last use was written at shutdown");
    assert!(last_used >= used_at, "{last_used} < {used_at}");
    let refusals: String = conn
        .query_row(
            "SELECT detail FROM audit WHERE action = 'verify.refused'",
            [],
            |r| r.get(0),
        )
        .expect("the refusal counts were written at shutdown");
    assert!(refusals.contains("unknown"), "{refusals}");
}
