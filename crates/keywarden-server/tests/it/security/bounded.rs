//! Unauthenticated work is bounded (docs/security.md, "Authorization"): logins are throttled
//! and counted before the password hash, hashes run a few at a time, failures are audited in
//! aggregate, and slow or idle connections cannot hold the server.
//!
//! The test client connects from 127.0.0.1, which the harness trusts as a gateway, so
//! `X-Real-IP` plays the many addresses of an attacker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{Backend, Reply, TestServer};

const PASSWORD: &str = "alice's long passphrase";
/// Planted in every wrong login; it must appear in no audit row.
const CANARY: &str = "canary-wrong-password-51c0";

crate::both_backends!(
    concurrent_wrong_logins_hash_at_most_the_limit,
    address_throttle_is_charged_before_the_hash,
    user_name_throttle_holds_across_addresses,
    a_successful_login_is_not_charged,
    failed_logins_are_one_audit_row_per_flush,
);

async fn login(s: &TestServer, user: &str, password: &str, address: &str) -> Reply {
    s.call(
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({ "username": user, "password": password })),
        &[("x-real-ip", address)],
    )
    .await
}

/// Many logins at once; returns their statuses in order.
async fn logins(s: &Arc<TestServer>, attempts: Vec<(String, String, String)>) -> Vec<u16> {
    let tasks: Vec<_> = attempts
        .into_iter()
        .map(|(user, password, address)| {
            let s = Arc::clone(s);
            tokio::spawn(async move {
                let r = login(&s, &user, &password, &address).await;
                if r.status == 429 {
                    assert!(r.header("retry-after").is_some(), "429 without Retry-After");
                    assert_eq!(r.body["code"], "too_many_requests", "{}", r.text);
                }
                r.status.as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("login task"));
    }
    statuses
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|&&s| s == status).count()
}

fn hashes(s: &TestServer) -> u64 {
    s.app.service.login_limits.gate.hashes_started()
}

/// A user `alice` with a password.
async fn alice(s: &TestServer) {
    let r = s
        .post("/v1/principals", json!({ "kind": "user", "name": "alice" }))
        .await
        .expect(201);
    let id = r.body["id"].as_str().expect("id").to_owned();
    s.call(
        Method::PUT,
        &format!("/v1/principals/{id}/password"),
        Some(&s.admin_key),
        Some(json!({ "password": PASSWORD })),
        &[],
    )
    .await
    .expect(200);
}

/// 200 wrong logins at once from 200 addresses: never more hashes at once than
/// `login_concurrency`, the rest shed with 429; and `/healthz` never waits for hashing.
async fn concurrent_wrong_logins_hash_at_most_the_limit(backend: Backend) {
    let s = Arc::new(
        TestServer::start_with(backend, |c| {
            c.login_concurrency = 2;
            c.login_user_max_failures = 0;
        })
        .await,
    );
    let attempts = (0..200)
        .map(|i| {
            (
                format!("user{i}"),
                CANARY.to_owned(),
                format!("10.9.{}.{}", i / 250, i % 250 + 1),
            )
        })
        .collect();
    let statuses = logins(&s, attempts).await;

    let gate = &s.app.service.login_limits.gate;
    assert_eq!(
        count(&statuses, 401) + count(&statuses, 429),
        200,
        "{statuses:?}"
    );
    assert!(
        gate.hashes_in_flight_max() <= 2,
        "{} hashes at once",
        gate.hashes_in_flight_max()
    );
    assert_eq!(
        gate.hashes_in_flight_max(),
        2,
        "the flood saturated the limit"
    );
    assert_eq!(
        hashes(&s),
        count(&statuses, 401) as u64,
        "one hash per answered login, none for a refused one"
    );
    assert!(count(&statuses, 429) > 0, "the excess was shed");

    // Health does not wait for hashing: with every hashing thread held busy (a job that
    // blocks until the test lets it go) and logins queued behind them, `/healthz` answers.
    // (How fast under a flood, on an optimised build, is the benchmark's figure:
    // `keywarden-server-bench login-flood`, BENCHMARKS.md.)
    let gate = Arc::clone(&s.app.service.login_limits.gate);
    let (release, held) = std::sync::mpsc::channel::<()>();
    let held = Arc::new(std::sync::Mutex::new(held));
    let mut busy = Vec::new();
    for _ in 0..gate.limit() {
        let permit = gate.acquire().await.expect("a free hashing slot");
        let held = Arc::clone(&held);
        busy.push(tokio::spawn(permit.run(move |_memory| {
            let _ = held.lock().map(|rx| rx.recv());
        })));
    }
    let queued = {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            let attempts = (0..20)
                .map(|i| {
                    (
                        "late".to_owned(),
                        CANARY.to_owned(),
                        format!("10.8.0.{}", i + 1),
                    )
                })
                .collect();
            logins(&s, attempts).await
        })
    };
    let health = tokio::time::timeout(
        Duration::from_secs(60),
        s.call(Method::GET, "/healthz", None, None, &[]),
    )
    .await
    .expect("/healthz answered while every hashing thread was busy");
    assert_eq!(health.status.as_u16(), 200);
    for _ in 0..gate.limit() {
        release.send(()).expect("release a hashing thread");
    }
    for job in busy {
        job.await.expect("hashing job");
    }
    let late = queued.await.expect("queued logins");
    assert_eq!(late.len(), 20);
    assert!(late.iter().all(|s| *s == 401 || *s == 429), "{late:?}");
}

/// Past `max_failures`, an address is refused before any hash: concurrent attempts are
/// counted as they arrive, not after their hashes, and an IPv6 /64 is one address.
async fn address_throttle_is_charged_before_the_hash(backend: Backend) {
    let s = Arc::new(
        TestServer::start_with(backend, |c| {
            c.max_failures = 3;
            c.login_concurrency = 1;
            c.login_user_max_failures = 0;
        })
        .await,
    );
    let attempts = (0..10)
        .map(|i| (format!("user{i}"), CANARY.to_owned(), "10.1.0.1".to_owned()))
        .collect();
    let statuses = logins(&s, attempts).await;
    assert_eq!(count(&statuses, 401), 3, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 7, "{statuses:?}");
    assert_eq!(hashes(&s), 3);
    let r = login(&s, "someone", CANARY, "10.1.0.1").await.expect(429);
    assert!(r.header("retry-after").is_some());
    assert_eq!(hashes(&s), 3, "a refused login costs no hash");
    login(&s, "someone", CANARY, "10.1.0.2").await.expect(401);
    assert_eq!(hashes(&s), 4);

    // Three addresses of one /64 share one budget; the IPv4-mapped form is the IPv4 address.
    for a in ["2001:db8:5:6::1", "2001:db8:5:6::2", "2001:db8:5:6::3"] {
        login(&s, "someone", CANARY, a).await.expect(401);
    }
    login(&s, "someone", CANARY, "2001:db8:5:6:ffff::9")
        .await
        .expect(429);
    login(&s, "someone", CANARY, "2001:db8:5:7::1")
        .await
        .expect(401);
    login(&s, "someone", CANARY, "::ffff:10.1.0.1")
        .await
        .expect(429);
}

/// A password spray from many addresses at one user name stops at the name's threshold,
/// whether the name exists or not; the owner is locked out too (the documented trade-off).
async fn user_name_throttle_holds_across_addresses(backend: Backend) {
    let s = Arc::new(
        TestServer::start_with(backend, |c| {
            c.login_user_max_failures = 4;
            c.login_concurrency = 1;
        })
        .await,
    );
    alice(&s).await;
    // Setting alice's password hashed once too; count the logins' hashes only.
    let base = hashes(&s);
    let attempts = (0..10)
        .map(|i| {
            (
                "alice".to_owned(),
                CANARY.to_owned(),
                format!("10.2.0.{}", i + 1),
            )
        })
        .collect();
    let statuses = logins(&s, attempts).await;
    assert_eq!(count(&statuses, 401), 4, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 6, "{statuses:?}");
    assert_eq!((hashes(&s) - base), 4);
    // The right password, from a fresh address, is refused as well: the name is blocked.
    login(&s, "alice", PASSWORD, "10.2.1.1").await.expect(429);
    assert_eq!((hashes(&s) - base), 4, "refused before the hash");
    // Other names are not affected; unknown names are throttled alike (no oracle).
    login(&s, "bob", CANARY, "10.2.1.2").await.expect(401);
    for i in 0..3 {
        login(&s, "nobody", CANARY, &format!("10.2.2.{}", i + 1))
            .await
            .expect(401);
    }
    login(&s, "nobody", CANARY, "10.2.2.9").await.expect(401);
    login(&s, "nobody", CANARY, "10.2.2.10").await.expect(429);
    assert_eq!((hashes(&s) - base), 9);
}

/// Successful logins are not charged to the address, and forgive the user name.
async fn a_successful_login_is_not_charged(backend: Backend) {
    let s = TestServer::start_with(backend, |c| {
        c.max_failures = 3;
        c.login_user_max_failures = 3;
    })
    .await;
    alice(&s).await;
    // The name, from fresh addresses: two failures, a success, two more failures: the
    // success forgave the first two, so the name is still below three.
    for (i, password) in [CANARY, CANARY, PASSWORD, CANARY, CANARY]
        .into_iter()
        .enumerate()
    {
        let r = login(&s, "alice", password, &format!("10.4.0.{}", i + 1)).await;
        assert_eq!(
            r.status,
            if password == PASSWORD { 200 } else { 401 },
            "attempt {i}: {}",
            r.text
        );
    }
    login(&s, "alice", PASSWORD, "10.4.0.9").await.expect(200);

    // The address: with two failures on it, a charged success would block it at the third.
    let ip = "10.3.0.1";
    login(&s, "alice", CANARY, ip).await.expect(401);
    login(&s, "alice", CANARY, ip).await.expect(401);
    for _ in 0..5 {
        login(&s, "alice", PASSWORD, ip).await.expect(200);
    }
    let throttle = &s.app.service.verifier.throttle;
    assert_eq!(throttle.failures(ip.parse().unwrap()), 2);
    login(&s, "alice", CANARY, ip).await.expect(401);
    login(&s, "alice", PASSWORD, ip).await.expect(429);
}

async fn audit_rows(s: &TestServer, action: &str) -> Vec<Value> {
    let r = s
        .get(&format!("/v1/audit?action={action}&limit=1000"))
        .await
        .expect(200);
    r.body["entries"].as_array().expect("entries").clone()
}

/// Failed logins write no audit row each: one row per flush carries the counts, and
/// never a password or an unknown user name (which may be a mistyped password).
async fn failed_logins_are_one_audit_row_per_flush(backend: Backend) {
    let s = TestServer::start_with(backend, |c| {
        c.usage_flush_interval = Duration::from_secs(3600);
        c.max_failures = 3;
    })
    .await;
    alice(&s).await;
    let unknown = "nobody-5e1f0a";
    for (user, ip) in [
        ("alice", "10.5.0.1"),
        ("alice", "10.5.0.2"),
        ("alice", "10.5.0.2"),
        (unknown, "10.5.0.3"),
        (unknown, "10.5.0.3"),
        (unknown, "10.5.0.3"),
    ] {
        login(&s, user, CANARY, ip).await.expect(401);
    }
    login(&s, unknown, CANARY, "10.5.0.3").await.expect(429);
    login(&s, "alice", PASSWORD, "10.5.0.4").await.expect(200);
    assert!(
        audit_rows(&s, "auth.login_failed").await.is_empty(),
        "no row per failure"
    );
    s.app.service.flush_login_failures().await.expect("flush");
    let rows = audit_rows(&s, "auth.login_failed").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let detail = &rows[0]["detail"];
    assert_eq!(detail["failed"], 6, "{detail}");
    assert_eq!(detail["refused"]["address_throttled"], 1, "{detail}");
    assert_eq!(detail["distinct_addresses"], 3, "{detail}");
    assert_eq!(
        detail["top_addresses"][0],
        json!({ "address": "10.5.0.3", "attempts": 4 })
    );
    assert_eq!(
        detail["top_user_names"],
        json!([{ "name": "alice", "failed": 3 }])
    );
    assert_eq!(detail["unknown_user_names_failed"], 3);
    assert_eq!(rows[0]["actor"], "system");
    // Nothing new: no row.
    s.app.service.flush_login_failures().await.expect("flush");
    assert_eq!(audit_rows(&s, "auth.login_failed").await.len(), 1);
    let all = s.get("/v1/audit?limit=1000").await.expect(200);
    assert!(
        !all.text.contains(CANARY),
        "a password reached the audit log"
    );
    assert!(
        !all.text.contains(PASSWORD),
        "a password reached the audit log"
    );
    assert!(
        !all.text.contains(unknown),
        "an unknown user name reached the audit log"
    );
}

// ---------------------------------------------------------------------------------------------
// Connections (the accept loop does not depend on the backend)
// ---------------------------------------------------------------------------------------------

fn addr(s: &TestServer) -> String {
    s.base.trim_start_matches("http://").to_owned()
}

/// Reads until the peer closes the connection (or resets it); returns what was read and
/// how long it took. Fails after `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + limit).into(), stream.read(&mut buf)).await {
            Err(_) => panic!("the server kept the connection open for {limit:?}"),
            Ok(Ok(0) | Err(_)) => return (out, started.elapsed()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one response with a `Content-Length` body; `None` if none arrives within `limit`.
async fn read_response(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().expect("length"))
                })
                .unwrap_or(0);
            if out.len() >= end + 4 + length {
                return Some(text);
            }
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => panic!("connection closed mid-response: {text}"),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: kw\r\n\r\n";

/// Half a request line, then silence: the connection is closed after the header-read
/// timeout, while other clients are served. Idle connections go the same way, and a body
/// that never completes is answered 408 after the request timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_disconnected() {
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.header_read_timeout = Duration::from_secs(1);
        c.request_timeout = Duration::from_secs(2);
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(addr(&s)).await.expect("connect");
        stream
            .write_all(b"POST /v1/auth/login HT")
            .await
            .expect("write");
        slow.push(stream);
    }
    let mut idle = TcpStream::connect(addr(&s)).await.expect("connect");
    let started = Instant::now();
    // Others are served meanwhile, at once.
    s.get("/healthz").await.expect(200);
    assert!(started.elapsed() < Duration::from_millis(900));
    for stream in &mut slow {
        let (_, _) = read_until_closed(stream, Duration::from_secs(10)).await;
    }
    let (_, _) = read_until_closed(&mut idle, Duration::from_secs(10)).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "closed too early: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(5),
        "closed too late: {waited:?}"
    );

    // Headers on time, the body never: 408 in the JSON error shape, then the connection closes.
    let mut stream = TcpStream::connect(addr(&s)).await.expect("connect");
    stream
        .write_all(
            b"POST /v1/auth/login HTTP/1.1\r\nHost: kw\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user",
        )
        .await
        .expect("write");
    let (response, took) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    let body = response.split("\r\n\r\n").nth(1).expect("body");
    let body: Value = serde_json::from_str(body).expect("JSON body");
    assert_eq!(body["code"], "request_timeout");
    assert!(body.get("message").is_some() && body.get("field").is_some());
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    s.get("/healthz").await.expect(200);
}

/// Waits (bounded) until the server serves `n` connections. There is no event to await
/// for an accept seen from the client side, so this polls the server's gauge.
async fn until_open(s: &TestServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.app.connections().open() != n {
        assert!(
            Instant::now() < deadline,
            "{} connections open, not {n}",
            s.app.connections().open()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// `max_connections = 4`: never more than four connections are served. Keep-alive
/// connections that have had their turn make way for a newcomer; connections yet to send a
/// request keep their place, so a newcomer waits until one of them has been answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_holds() {
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.max_connections = 4;
        c.header_read_timeout = Duration::from_secs(60);
    })
    .await;
    let stats = s.app.connections();
    // Four idle keep-alive connections, each answered once.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(addr(&s)).await.expect("connect");
        stream.write_all(HEALTHZ).await.expect("write");
        let response = read_response(&mut stream, Duration::from_secs(10))
            .await
            .expect("a response");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        held.push(stream);
    }
    assert_eq!(stats.open(), 4);
    // A fifth is served: the idle ones are closed to make way for it.
    let mut fifth = TcpStream::connect(addr(&s)).await.expect("connect");
    fifth.write_all(HEALTHZ).await.expect("write");
    let response = read_response(&mut fifth, Duration::from_secs(10))
        .await
        .expect("the fifth connection is served");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    for stream in &mut held {
        let _ = read_until_closed(stream, Duration::from_secs(10)).await;
    }
    assert_eq!(stats.accepted(), 5);
    assert!(stats.peak() <= 4, "peak {}", stats.peak());
    drop(fifth);
    drop(held);
    until_open(&s, 0).await;

    // Four connections that have not sent a request yet hold their places.
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(TcpStream::connect(addr(&s)).await.expect("connect"));
    }
    until_open(&s, 4).await;
    let mut newcomer = TcpStream::connect(addr(&s)).await.expect("connect");
    newcomer.write_all(HEALTHZ).await.expect("write");
    // Proving an absence needs a bounded wait: nothing is answered within 300 ms.
    assert!(
        read_response(&mut newcomer, Duration::from_millis(300))
            .await
            .is_none(),
        "a fifth connection was served"
    );
    assert_eq!(stats.open(), 4);
    // One of them asks: it is answered, and closed since someone waits; the newcomer is next.
    silent[0].write_all(HEALTHZ).await.expect("write");
    let response = read_response(&mut silent[0], Duration::from_secs(10))
        .await
        .expect("a response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("connection: close"),
        "{response}"
    );
    let _ = read_until_closed(&mut silent[0], Duration::from_secs(10)).await;
    let response = read_response(&mut newcomer, Duration::from_secs(10))
        .await
        .expect("the newcomer is served");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(stats.peak() <= 4, "peak {}", stats.peak());
    assert_eq!(stats.peak(), 4);
}

/// Shutdown stops accepting, lets an in-flight request finish, and ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_requests() {
    let s = TestServer::start_with(Backend::Sqlite, |c| c.login_concurrency = 1).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(s.app.serve(listener, async {
        let _ = stopped.await;
    }));
    // Take the only hashing slot, so that a login stays in flight until it is given back.
    let limits = &s.app.service.login_limits;
    let slot = limits.gate.acquire().await.expect("the hashing slot");
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let body = format!(r#"{{"username":"probe","password":"{CANARY}"}}"#);
    let request = format!(
        "POST /v1/auth/login HTTP/1.1\r\nHost: kw\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    // The login is in flight once it is charged to the user name (before it waits for the
    // slot). There is no event to await for that, so poll it, bounded.
    let deadline = Instant::now() + Duration::from_secs(10);
    while limits.users.failures("probe") == 0 {
        assert!(Instant::now() < deadline, "the login never started");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    stop.send(()).expect("stop");
    drop(slot);
    let response = read_response(&mut stream, Duration::from_secs(10))
        .await
        .expect("the in-flight request is answered");
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve ends after shutdown")
        .expect("serve task")
        .expect("serve");
    assert!(
        TcpStream::connect(address).await.is_err(),
        "still accepting after shutdown"
    );
}
