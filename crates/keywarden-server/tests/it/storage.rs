//! What is stored: only digests, never a key; migrations run once.

use serde_json::json;

use crate::harness::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_holds_no_raw_key() {
    let s = TestServer::start(Backend::Sqlite).await;
    let svc = s.principal("service_user", "svc", &["key:use"]).await;
    let mut keys = vec![s.admin_key.clone()];
    for i in 0..5 {
        let (key, id) = s.key(&svc, json!({ "name": format!("k{i}") })).await;
        assert_eq!(s.verify(json!({ "key": key })).await.body["valid"], true);
        if i == 0 {
            let r = s
                .post(
                    &format!("/v1/keys/{id}/rotate"),
                    json!({ "grace_seconds": 60 }),
                )
                .await
                .expect(201);
            keys.push(r.body["key"].as_str().unwrap().to_owned());
        }
        keys.push(key);
    }
    // Idempotent replays are stored too; they must not hold the key either.
    let r = s
        .call(
            reqwest::Method::POST,
            &format!("/v1/principals/{svc}/keys"),
            Some(&s.admin_key),
            Some(json!({ "name": "idem" })),
            &[("idempotency-key", "x")],
        )
        .await
        .expect(201);
    keys.push(r.body["key"].as_str().unwrap().to_owned());
    s.app.service.flush_usage(0).await.unwrap();
    s.app.service.flush_refusal_counts().await.unwrap();

    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        if let Ok(b) = std::fs::read(format!("{}{suffix}", s.database)) {
            bytes.extend(b);
        }
    }
    assert!(bytes.len() > 10_000, "read the database files");
    let haystack = String::from_utf8_lossy(&bytes);
    let mut digests_found = 0;
    for key in &keys {
        let random = key.split('_').nth(2).unwrap();
        assert!(
            !haystack.contains(key.as_str()),
            "a raw key is in the database"
        );
        assert!(
            !haystack.contains(&random[4..]),
            "the secret part of a key is in the database"
        );
        let digest = keywarden_keys::KeyDigest::of(key).to_hex();
        digests_found += usize::from(haystack.contains(&digest));
    }
    assert_eq!(
        digests_found,
        keys.len(),
        "every key is stored as its SHA-256 digest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_keeps_state_and_runs_no_migration_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kw.db").to_string_lossy().into_owned();
    let config = crate::harness::test_config(path.clone());
    let key = {
        let app = keywarden_server::App::open(config.clone()).await.unwrap();
        app.service.initialize("admin", None).await.unwrap()
    };
    let app = keywarden_server::App::open(config).await.unwrap();
    assert!(
        app.service.initialize("admin", None).await.is_err(),
        "init runs once"
    );
    let index = app.service.index.read().unwrap();
    assert!(
        index.key_by_digest(&key.digest()).is_some(),
        "the index is rebuilt from the store"
    );
    drop(index);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3, "each migration applied once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_openapi_describe_the_service() {
    let s = TestServer::start(Backend::Sqlite).await;
    let h = s
        .call(reqwest::Method::GET, "/healthz", None, None, &[])
        .await
        .expect(200);
    assert_eq!(h.body["status"], "ok");
    assert_eq!(h.body["backend"], "sqlite");
    let doc = s
        .call(reqwest::Method::GET, "/openapi.json", None, None, &[])
        .await
        .expect(200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc.body["paths"].as_object().unwrap();
    for p in [
        "/v1/verify",
        "/v1/auth-request",
        "/v1/principals/{id}/keys",
        "/v1/keys/{id}/rotate",
        "/v1/changes",
        "/v1/audit",
        "/healthz",
    ] {
        assert!(paths.contains_key(p), "{p} is documented");
    }
    assert!(doc.body["components"]["schemas"]["ErrorBody"].is_object());
    // Every path parameter appears in its path template; query parameters are not documented as path ones.
    for (template, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            for param in op["parameters"].as_array().into_iter().flatten() {
                if param["in"] == "path" {
                    let name = param["name"].as_str().unwrap();
                    assert!(
                        template.contains(&format!("{{{name}}}")),
                        "{method} {template}: path parameter {name}"
                    );
                }
            }
        }
    }
    let audit_params = doc.body["paths"]["/v1/audit"]["get"]["parameters"]
        .as_array()
        .unwrap();
    assert!(audit_params.iter().all(|p| p["in"] == "query"));
    assert!(doc.body["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tables_hold_no_raw_key() {
    if keywarden_testkit::postgres().is_none() {
        return;
    }
    let s = TestServer::start(Backend::Postgres).await;
    let svc = s.principal("service_user", "svc", &["key:use"]).await;
    let mut keys = vec![s.admin_key.clone()];
    let (key, id) = s.key(&svc, json!({ "name": "k" })).await;
    keys.push(key);
    let r = s
        .post(&format!("/v1/keys/{id}/rotate"), json!({}))
        .await
        .expect(201);
    keys.push(r.body["key"].as_str().unwrap().to_owned());
    let r = s
        .call(
            reqwest::Method::POST,
            &format!("/v1/principals/{svc}/keys"),
            Some(&s.admin_key),
            Some(json!({ "name": "idem" })),
            &[("idempotency-key", "x")],
        )
        .await
        .expect(201);
    keys.push(r.body["key"].as_str().unwrap().to_owned());
    for k in &keys {
        assert_eq!(s.verify(json!({ "key": k })).await.body["valid"], true);
    }
    s.app.service.flush_usage(0).await.unwrap();
    let (client, conn) = tokio_postgres::connect(&s.database, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut dump = String::new();
    for table in [
        "objects",
        "changes",
        "audit",
        "idempotency",
        "passwords",
        "sessions",
        "key_usage",
    ] {
        for row in client
            .query(&format!("SELECT t::text FROM {table} t"), &[])
            .await
            .unwrap()
        {
            dump.push_str(row.get::<_, &str>(0));
            dump.push('\n');
        }
    }
    assert!(dump.len() > 1000);
    for key in &keys {
        let random = key.split('_').nth(2).unwrap();
        assert!(
            !dump.contains(key.as_str()) && !dump.contains(&random[4..]),
            "a raw key is in PostgreSQL"
        );
        assert!(dump.contains(&keywarden_keys::KeyDigest::of(key).to_hex()));
    }
}

crate::both_backends!(old_idempotency_records_are_pruned);

async fn old_idempotency_records_are_pruned(backend: Backend) {
    use keywarden_server::store::IdemBegin;
    // A bare store, without a server whose background housekeeping would prune too.
    let dir = tempfile::tempdir().unwrap();
    let database = match backend {
        Backend::Sqlite => dir.path().join("kw.db").to_string_lossy().into_owned(),
        Backend::Postgres => crate::harness::fresh_pg_database().await,
    };
    let store = keywarden_server::store::open(&database, 2).await.unwrap();
    let now = keywarden_core::now();
    let day = keywarden_server::app::IDEMPOTENCY_RETENTION_SECS;
    assert_eq!(
        store
            .idempotency_begin("a", "old", "h1", now - day - 10, 0)
            .await
            .unwrap(),
        IdemBegin::Started
    );
    assert_eq!(
        store
            .idempotency_begin("a", "new", "h1", now, 0)
            .await
            .unwrap(),
        IdemBegin::Started
    );
    assert_eq!(
        store
            .idempotency_begin("a", "old", "h2", now, 0)
            .await
            .unwrap(),
        IdemBegin::Mismatch
    );
    store.prune(now - day, now).await.unwrap();
    // The old record is gone (a new request may use the key); the recent one stays.
    assert_eq!(
        store
            .idempotency_begin("a", "old", "h2", now, 0)
            .await
            .unwrap(),
        IdemBegin::Started
    );
    assert_eq!(
        store
            .idempotency_begin("a", "new", "h2", now, 0)
            .await
            .unwrap(),
        IdemBegin::Mismatch
    );
}
