//! Several `keywarden-server` processes over one PostgreSQL database: what one replica
//! changes, the others enforce within one second, with notifications or by the poll alone;
//! replicas started at the same instant on an empty database migrate it once.

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
    replica_with(database, http, &["--poll-interval-ms", "100"]).await
}

fn spawn_replica(database: &str, args: &[&str]) -> Replica {
    let port = free_port();
    let child = Command::new(BIN)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .env("KEYWARDEN_DATABASE", database)
        .env("KEYWARDEN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start keywarden-server");
    Replica {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

async fn healthy(r: &Replica, http: &reqwest::Client) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(resp) = http.get(format!("{}/healthz", r.base)).send().await
            && resp.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "replica did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn replica_with(database: &str, http: &reqwest::Client, args: &[&str]) -> Replica {
    let r = spawn_replica(database, args);
    healthy(&r, http).await;
    r
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
        let answer = verify(http, r, key).await;
        if answer["reason"] == reason {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "replica never saw `{reason}`; it answers {answer}"
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

/// The safety net: with notifications off, the poll alone carries a disable to the other
/// replica within its interval (1 s here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_notifications_the_poll_enforces_a_disable_within_its_interval() {
    let Some(_) = keywarden_testkit::postgres() else {
        return;
    };
    let database = fresh_pg_database().await;
    let init = Command::new(BIN)
        .arg("init")
        .env("KEYWARDEN_DATABASE", &database)
        .output()
        .expect("init");
    assert!(init.status.success());
    let admin_key = String::from_utf8(init.stdout).unwrap().trim().to_owned();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    // Failure throttling off: polling B with a key it does not know yet counts as failures.
    let quiet = [
        "--change-notifications",
        "false",
        "--poll-interval-ms",
        "1000",
        "--max-failures",
        "0",
    ];
    let a = replica_with(&database, &http, &quiet).await;
    let b = replica_with(&database, &http, &quiet).await;
    // The admin key is used on both; disabling the administrator's key on A must reach B.
    let (keys, _) = admin(
        &http,
        &a,
        &admin_key,
        reqwest::Method::GET,
        "/v1/keys",
        Value::Null,
        None,
    )
    .await;
    let key_id = keys[0]["id"].as_str().unwrap().to_owned();
    // A second key to act with once the first is disabled.
    let admin_id = keys[0]["principal_id"].as_str().unwrap().to_owned();
    let (issued, _) = admin(
        &http,
        &a,
        &admin_key,
        reqwest::Method::POST,
        &format!("/v1/principals/{admin_id}/keys"),
        json!({ "name": "second", "environment": "admin" }),
        None,
    )
    .await;
    let second = issued["key"].as_str().unwrap().to_owned();
    until(&http, &b, &second, "ok").await;
    let mut lags = Vec::new();
    for round in 0..3 {
        let (_, etag) = admin(
            &http,
            &a,
            &second,
            reqwest::Method::GET,
            &format!("/v1/keys/{key_id}"),
            Value::Null,
            None,
        )
        .await;
        let enabled = round % 2 == 1;
        let started = Instant::now();
        admin(
            &http,
            &a,
            &second,
            reqwest::Method::PATCH,
            &format!("/v1/keys/{key_id}"),
            json!({ "enabled": enabled }),
            etag.as_deref(),
        )
        .await;
        until(
            &http,
            &b,
            &admin_key,
            if enabled { "ok" } else { "key_disabled" },
        )
        .await;
        lags.push(started.elapsed());
    }
    eprintln!("with the poll alone (1 s), replica B followed after {lags:?}");
    for lag in &lags {
        assert!(*lag < Duration::from_millis(1500), "B took {lag:?}");
    }
}

/// Replicas started at the same instant on an empty database: the migrations run once
/// (under an advisory lock), every replica serves, and the first `init` is seen by all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_started_together_on_an_empty_database_migrate_it_once() {
    let Some(_) = keywarden_testkit::postgres() else {
        return;
    };
    let database = fresh_pg_database().await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let replicas: Vec<Replica> = (0..4)
        .map(|_| spawn_replica(&database, &["--poll-interval-ms", "100"]))
        .collect();
    for r in &replicas {
        healthy(r, &http).await;
    }
    let (client, conn) = tokio_postgres::connect(&database, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let rows = client
        .query(
            "SELECT version, COUNT(*) FROM schema_migrations GROUP BY version ORDER BY version",
            &[],
        )
        .await
        .unwrap();
    let versions: Vec<(i64, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert!(!versions.is_empty());
    assert!(versions.iter().all(|(_, n)| *n == 1), "{versions:?}");
    assert_eq!(
        versions.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
        (1..=versions.len() as i64).collect::<Vec<_>>()
    );
    let init = Command::new(BIN)
        .arg("init")
        .env("KEYWARDEN_DATABASE", &database)
        .output()
        .expect("init");
    assert!(init.status.success());
    let admin_key = String::from_utf8(init.stdout).unwrap().trim().to_owned();
    for r in &replicas {
        let seen = until(&http, r, &admin_key, "ok").await;
        assert!(seen < Duration::from_secs(1), "{} took {seen:?}", r.base);
    }
}
