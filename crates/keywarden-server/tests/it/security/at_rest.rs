//! Nothing quickly derived from a secret is stored: the idempotency record of a request
//! that carries a password or a signing secret holds no unkeyed hash of it, and the
//! database files are readable by their owner only.

use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::harness::{Backend, TestServer};

/// Every byte the server wrote next to its database, as text for searching.
fn database_bytes(path: &str) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
            all.extend_from_slice(&bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_fast_hash_of_a_password_or_signing_secret_is_stored() {
    let s = TestServer::start(Backend::Sqlite).await;
    let user = s.principal("user", "dev", &["key:use"]).await;
    let password = "canary-password-7d1f0c2e9b";
    let path = format!("/v1/principals/{user}/password");
    let body = json!({ "password": password }).to_string();
    let r = s
        .http
        .put(format!("{}{path}", s.base))
        .bearer_auth(&s.admin_key)
        .header("idempotency-key", "set-password-1")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // The retry is answered from the record (the fingerprint is kept, just keyed).
    let r = s
        .http
        .put(format!("{}{path}", s.base))
        .bearer_auth(&s.admin_key)
        .header("idempotency-key", "set-password-1")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    // ...and a different password under the same key is a different request.
    let r = s
        .call(
            Method::PUT,
            &path,
            Some(&s.admin_key),
            Some(json!({ "password": "another-password-123" })),
            &[("idempotency-key", "set-password-1")],
        )
        .await;
    assert_eq!(r.status.as_u16(), 422, "{}", r.text);

    let secret = "canary-signing-secret-5e0b7a41c3d29f86";
    let profile_body = json!({ "name": "jwt", "access_method": { "type": "jwt", "signing_method": "HS256", "secret": secret } }).to_string();
    let r = s
        .http
        .post(format!("{}/v1/profiles", s.base))
        .bearer_auth(&s.admin_key)
        .header("idempotency-key", "profile-1")
        .header("content-type", "application/json")
        .body(profile_body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);

    let bytes = database_bytes(&s.database);
    assert!(!bytes.is_empty());
    // What an unkeyed fingerprint would have been: SHA-256 of method, path and body.
    for (method, path, body) in [
        ("PUT", path.as_str(), body.as_str()),
        ("POST", "/v1/profiles", profile_body.as_str()),
    ] {
        let unkeyed = hex::encode(Sha256::digest(format!("{method} {path}\n{body}")));
        assert!(
            !contains(&bytes, &unkeyed),
            "unkeyed fingerprint of {path} stored"
        );
    }
    for fast in [
        password.to_owned(),
        hex::encode(Sha256::digest(password)),
        hex::encode(Sha256::digest(secret)),
    ] {
        assert!(!contains(&bytes, &fast), "{fast} is in the database");
    }
    // The fingerprints are there, keyed.
    let conn = rusqlite::Connection::open(&s.database).unwrap();
    let hashes: Vec<String> = conn
        .prepare("SELECT request_hash FROM idempotency ORDER BY key")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(hashes.len(), 2);
    assert!(hashes.iter().all(|h| h.starts_with("hmac:")), "{hashes:?}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let s = TestServer::start(Backend::Sqlite).await;
    // A write, so the WAL and shared-memory files exist.
    s.post("/v1/groups", json!({ "name": "g" }))
        .await
        .expect(201);
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", s.database);
        let mode = std::fs::metadata(&file)
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file} has mode {:o}", mode & 0o777);
    }
    // A file created with wider permissions is narrowed when the server opens it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.db");
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _store = keywarden_server::store::sqlite::SqliteStore::open(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}
