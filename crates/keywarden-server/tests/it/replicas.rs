//! Two `keywarden-server` processes over one PostgreSQL database: what one
//! replica changes, the other enforces within one second.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::fresh_pg_database;

const BIN: &str = env!("CARGO_BIN_EXE_keywarden-server");

struct Replica {
    child: Child,
    base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn replica(database: &str, http: &reqwest::Client) -> Replica {
    let port = free_port();
    let child = Command::new(BIN)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--poll-interval-ms",
            "100",
        ])
        .env("KEYWARDEN_DATABASE", database)
        .env("KEYWARDEN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start keywarden-server");
    let r = Replica {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(resp) = http.get(format!("{}/healthz", r.base)).send().await
            && resp.status().is_success()
        {
            return r;
        }
        assert!(Instant::now() < deadline, "replica did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn verify(http: &reqwest::Client, r: &Replica, key: &str) -> Value {
    http.post(format!("{}/v1/verify", r.base))
        .json(&json!({ "key": key }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls `r` until `key`'s verification reason is `reason`; returns how long it took.
async fn until(http: &reqwest::Client, r: &Replica, key: &str, reason: &str) -> Duration {
    let start = Instant::now();
    loop {
        if verify(http, r, key).await["reason"] == reason {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "replica never saw `{reason}`"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn admin(
    http: &reqwest::Client,
    r: &Replica,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
    etag: Option<&str>,
) -> (Value, Option<String>) {
    let mut req = http
        .request(method, format!("{}{}", r.base, path))
        .bearer_auth(token)
        .json(&body);
    if let Some(e) = etag {
        req = req.header("if-match", e);
    }
    let resp = req.send().await.unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    let etag = resp
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (resp.json().await.unwrap(), etag)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disable_on_one_replica_is_enforced_by_the_other_within_one_second() {
    if keywarden_testkit::postgres().is_none() {
        return;
    }
    let database = fresh_pg_database().await;
    let init = Command::new(BIN)
        .arg("init")
        .env("KEYWARDEN_DATABASE", &database)
        .output()
        .expect("init");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let admin_key = String::from_utf8(init.stdout).unwrap().trim().to_owned();
    assert!(admin_key.starts_with("kw_admin_"));
    // `init` prints the key once: a second run refuses.
    let again = Command::new(BIN)
        .arg("init")
        .env("KEYWARDEN_DATABASE", &database)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(again.stdout.is_empty());

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let a = replica(&database, &http).await;
    let b = replica(&database, &http).await;
    let post = reqwest::Method::POST;

    let (group, _) = admin(
        &http,
        &a,
        &admin_key,
        post.clone(),
        "/v1/groups",
        json!({ "name": "callers" }),
        None,
    )
    .await;
    let gid = group["id"].as_str().unwrap();
    admin(
        &http,
        &a,
        &admin_key,
        post.clone(),
        "/v1/roles",
        json!({ "name": "use", "privileges": ["key:use"], "groups": [gid] }),
        None,
    )
    .await;
    let (p, _) = admin(
        &http,
        &a,
        &admin_key,
        post.clone(),
        "/v1/principals",
        json!({ "kind": "service_user", "name": "svc", "groups": [gid] }),
        None,
    )
    .await;
    let pid = p["id"].as_str().unwrap();
    let (issued, _) = admin(
        &http,
        &a,
        &admin_key,
        post.clone(),
        &format!("/v1/principals/{pid}/keys"),
        json!({ "name": "k" }),
        None,
    )
    .await;
    let key = issued["key"].as_str().unwrap().to_owned();
    let key_id = issued["object"]["id"].as_str().unwrap().to_owned();

    // A new key created on A works on A at once and on B within a second.
    assert_eq!(verify(&http, &a, &key).await["valid"], true);
    let seen = until(&http, &b, &key, "ok").await;
    assert!(
        seen < Duration::from_secs(1),
        "B saw the new key after {seen:?}"
    );

    // Disable on A: A refuses at once, B within one second.
    let (_, etag) = admin(
        &http,
        &a,
        &admin_key,
        reqwest::Method::GET,
        &format!("/v1/keys/{key_id}"),
        Value::Null,
        None,
    )
    .await;
    let started = Instant::now();
    admin(
        &http,
        &a,
        &admin_key,
        reqwest::Method::PATCH,
        &format!("/v1/keys/{key_id}"),
        json!({ "enabled": false }),
        etag.as_deref(),
    )
    .await;
    assert_eq!(verify(&http, &a, &key).await["reason"], "key_disabled");
    let lag = until(&http, &b, &key, "key_disabled").await;
    let total = started.elapsed();
    eprintln!(
        "replica B refused the disabled key {lag:?} after A answered ({total:?} after the request started)"
    );
    assert!(total < Duration::from_secs(1), "B took {total:?}");

    // Revoke on B: A follows within one second.
    let started = Instant::now();
    admin(
        &http,
        &b,
        &admin_key,
        post.clone(),
        &format!("/v1/keys/{key_id}/revoke"),
        json!({}),
        None,
    )
    .await;
    until(&http, &a, &key, "invalid_key").await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "A took {:?}",
        started.elapsed()
    );

    // A stale write on one replica after a write on the other is refused (412).
    let (_, etag) = admin(
        &http,
        &a,
        &admin_key,
        reqwest::Method::GET,
        &format!("/v1/principals/{pid}"),
        Value::Null,
        None,
    )
    .await;
    admin(
        &http,
        &b,
        &admin_key,
        reqwest::Method::PATCH,
        &format!("/v1/principals/{pid}"),
        json!({ "description": "from B" }),
        etag.as_deref(),
    )
    .await;
    let stale = http
        .patch(format!("{}/v1/principals/{pid}", a.base))
        .bearer_auth(&admin_key)
        .header("if-match", etag.unwrap())
        .json(&json!({ "description": "from A" }))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status().as_u16(), 412);
}
