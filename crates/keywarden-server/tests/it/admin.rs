//! The admin API: authentication and privileges, Idempotency-Key, ETag/If-Match,
//! the change feed and the audit log, against both backends.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Backend, TestServer};

both_backends!(
    admin_routes_need_credentials_and_privileges,
    login_with_password_gives_a_short_lived_token_for_own_keys,
    idempotency_key_replays_refuses_mismatch_and_concurrent_duplicate,
    etag_and_if_match_guard_updates,
    change_feed_follows_a_cursor,
    audit_log_records_actions_without_secrets,
    crud_for_groups_and_roles,
);

async fn admin_routes_need_credentials_and_privileges(backend: Backend) {
    let s = TestServer::start(backend).await;
    let r = s
        .call(Method::GET, "/v1/principals", None, None, &[])
        .await
        .expect(401);
    assert_eq!(r.body["code"], "unauthenticated");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    s.call(
        Method::GET,
        "/v1/principals",
        Some("kw_live_nonsense"),
        None,
        &[],
    )
    .await
    .expect(401);
    let unknown = keywarden_keys::ApiKey::generate("kw", "admin").unwrap();
    s.call(
        Method::GET,
        "/v1/principals",
        Some(unknown.expose()),
        None,
        &[],
    )
    .await
    .expect(401);

    // A key whose principal may only use keys cannot administer.
    let svc = s
        .principal("service_user", "svc", &["key:use", "rest"])
        .await;
    let (plain, _) = s.key(&svc, json!({ "name": "k" })).await;
    let r = s
        .call(Method::GET, "/v1/principals", Some(&plain), None, &[])
        .await
        .expect(403);
    assert_eq!(r.body["code"], "forbidden");
    s.call(
        Method::POST,
        "/v1/groups",
        Some(&plain),
        Some(json!({ "name": "x" })),
        &[],
    )
    .await
    .expect(403);
    s.call(Method::GET, "/v1/audit", Some(&plain), None, &[])
        .await
        .expect(403);

    // A read-only admin: reads pass, writes are refused.
    let reader = s
        .principal("user", "auditor", &["key:use", "admin:read", "audit:read"])
        .await;
    let (rk, _) = s.key(&reader, json!({ "name": "reader" })).await;
    s.call(Method::GET, "/v1/principals", Some(&rk), None, &[])
        .await
        .expect(200);
    s.call(Method::GET, "/v1/audit", Some(&rk), None, &[])
        .await
        .expect(200);
    s.call(
        Method::POST,
        "/v1/groups",
        Some(&rk),
        Some(json!({ "name": "x" })),
        &[],
    )
    .await
    .expect(403);
    s.call(
        Method::POST,
        &format!("/v1/principals/{svc}/keys"),
        Some(&rk),
        Some(json!({ "name": "x" })),
        &[],
    )
    .await
    .expect(403);

    // An admin key restricted to read-only cannot write even with the privilege.
    let admin_id = s
        .get("/v1/principals")
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "admin")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (ro_admin, _) = s
        .key(&admin_id, json!({ "name": "ro admin", "read_only": true }))
        .await;
    s.call(Method::GET, "/v1/groups", Some(&ro_admin), None, &[])
        .await
        .expect(200);
    let r = s
        .call(
            Method::POST,
            "/v1/groups",
            Some(&ro_admin),
            Some(json!({ "name": "x" })),
            &[],
        )
        .await
        .expect(403);
    assert!(r.body["message"].as_str().unwrap().contains("read_only"));
}

async fn login_with_password_gives_a_short_lived_token_for_own_keys(backend: Backend) {
    let s = TestServer::start(backend).await;
    let alice = s
        .principal("user", "alice", &["key:use", "keys:self", "rest"])
        .await;
    let bob = s.principal("user", "bob", &["key:use", "keys:self"]).await;
    s.call(
        Method::PUT,
        &format!("/v1/principals/{alice}/password"),
        Some(&s.admin_key),
        Some(json!({ "password": "short" })),
        &[],
    )
    .await
    .expect(400);
    s.call(
        Method::PUT,
        &format!("/v1/principals/{alice}/password"),
        Some(&s.admin_key),
        Some(json!({ "password": "alice's long passphrase" })),
        &[],
    )
    .await
    .expect(200);
    let bad = s
        .call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({ "username": "alice", "password": "wrong password!!" })),
            &[],
        )
        .await
        .expect(401);
    let nobody = s
        .call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({ "username": "nobody", "password": "wrong password!!" })),
            &[],
        )
        .await
        .expect(401);
    assert_eq!(
        bad.text, nobody.text,
        "unknown user and wrong password look the same"
    );
    let r = s
        .call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({ "username": "alice", "password": "alice's long passphrase" })),
            &[],
        )
        .await
        .expect(200);
    let token = r.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("kwt_session_"));
    assert!(r.body["expires_at"].as_i64().unwrap() > keywarden_core::now());
    assert_eq!(r.body["principal_id"], json!(alice));

    // The seed-004 flow: create a permanent key for your own identity, with scopes and read-only.
    let r = s
        .call(Method::POST, &format!("/v1/principals/{alice}/keys"), Some(&token),
            Some(json!({ "name": "Portal Operator API Key", "description": "issued by alice", "scopes": ["rest"], "read_only": true })), &[])
        .await
        .expect(201);
    let own = r.body["key"].as_str().unwrap().to_owned();
    let v = s
        .verify(json!({ "key": own, "method": "GET" }))
        .await
        .expect(200);
    assert_eq!(v.body["valid"], true);
    assert_eq!(v.body["principal"]["name"], "alice");
    s.call(
        Method::GET,
        &format!("/v1/principals/{alice}/keys"),
        Some(&token),
        None,
        &[],
    )
    .await
    .expect(200);
    // Not someone else's.
    s.call(
        Method::POST,
        &format!("/v1/principals/{bob}/keys"),
        Some(&token),
        Some(json!({ "name": "x" })),
        &[],
    )
    .await
    .expect(403);
    s.call(
        Method::GET,
        &format!("/v1/principals/{bob}/keys"),
        Some(&token),
        None,
        &[],
    )
    .await
    .expect(403);
    s.call(Method::GET, "/v1/principals", Some(&token), None, &[])
        .await
        .expect(403);
    // Logging out ends the session; the key stays.
    s.call(Method::POST, "/v1/auth/logout", Some(&token), None, &[])
        .await
        .expect(204);
    s.call(
        Method::GET,
        &format!("/v1/principals/{alice}/keys"),
        Some(&token),
        None,
        &[],
    )
    .await
    .expect(401);
    assert_eq!(s.verify(json!({ "key": own })).await.body["valid"], true);
    // A disabled user cannot log in.
    s.patch(
        &format!("/v1/principals/{alice}"),
        json!({ "enabled": false }),
    )
    .await
    .expect(200);
    s.call(
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({ "username": "alice", "password": "alice's long passphrase" })),
        &[],
    )
    .await
    .expect(401);
}

async fn idempotency_key_replays_refuses_mismatch_and_concurrent_duplicate(backend: Backend) {
    let s = TestServer::start(backend).await;
    let body = json!({ "name": "ops" });
    let first = s
        .call(
            Method::POST,
            "/v1/groups",
            Some(&s.admin_key),
            Some(body.clone()),
            &[("idempotency-key", "k-1")],
        )
        .await
        .expect(201);
    let again = s
        .call(
            Method::POST,
            "/v1/groups",
            Some(&s.admin_key),
            Some(body.clone()),
            &[("idempotency-key", "k-1")],
        )
        .await
        .expect(201);
    assert_eq!(first.body, again.body, "a retry returns the first result");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let groups = s.get("/v1/groups").await.expect(200);
    assert_eq!(
        groups
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["name"] == "ops")
            .count(),
        1,
        "created once"
    );
    // Same key, different body: 422.
    let r = s
        .call(
            Method::POST,
            "/v1/groups",
            Some(&s.admin_key),
            Some(json!({ "name": "other" })),
            &[("idempotency-key", "k-1")],
        )
        .await
        .expect(422);
    assert_eq!(r.body["code"], "idempotency_key_reused");
    // Another request with this key still running (409) is proven by a real concurrent
    // request: see `a_concurrent_duplicate_is_refused_while_the_first_runs`.
    // A failed request does not burn its key: fix the body and retry with the same key.
    s.call(
        Method::POST,
        "/v1/groups",
        Some(&s.admin_key),
        Some(json!({ "name": "" })),
        &[("idempotency-key", "k-3")],
    )
    .await
    .expect(400);
    let r = s
        .call(
            Method::POST,
            "/v1/groups",
            Some(&s.admin_key),
            Some(json!({ "name": "fixed" })),
            &[("idempotency-key", "k-3")],
        )
        .await
        .expect(201);
    assert_eq!(r.header("idempotent-replayed"), None);
    // Keys are per caller: another admin may use the same key text for its own request.
    let other = s
        .principal(
            "user",
            "other-admin",
            &["admin:read", "admin:write", "key:use"],
        )
        .await;
    let (other_key, _) = s.key(&other, json!({ "name": "other" })).await;
    let r = s
        .call(
            Method::POST,
            "/v1/groups",
            Some(&other_key),
            Some(json!({ "name": "theirs" })),
            &[("idempotency-key", "k-1")],
        )
        .await
        .expect(201);
    assert_eq!(r.body["name"], "theirs");
    assert_eq!(r.header("idempotent-replayed"), None);
    // Key creation: the replay never contains the key itself.
    let svc = s.principal("service_user", "svc", &["key:use"]).await;
    let path = format!("/v1/principals/{svc}/keys");
    let r1 = s
        .call(
            Method::POST,
            &path,
            Some(&s.admin_key),
            Some(json!({ "name": "k" })),
            &[("idempotency-key", "key-1")],
        )
        .await
        .expect(201);
    let r2 = s
        .call(
            Method::POST,
            &path,
            Some(&s.admin_key),
            Some(json!({ "name": "k" })),
            &[("idempotency-key", "key-1")],
        )
        .await
        .expect(201);
    assert!(r1.body["key"].is_string());
    assert_eq!(r2.body["key"], Value::Null);
    assert_eq!(r1.body["object"]["id"], r2.body["object"]["id"]);
    assert_eq!(s.get(&path).await.body.as_array().unwrap().len(), 1);
}

async fn etag_and_if_match_guard_updates(backend: Backend) {
    let s = TestServer::start(backend).await;
    let p = s
        .post(
            "/v1/principals",
            json!({ "kind": "api_client", "name": "acme", "description": "first" }),
        )
        .await
        .expect(201);
    let id = p.body["id"].as_str().unwrap().to_owned();
    assert_eq!(p.header("etag"), Some("\"1\""));
    let path = format!("/v1/principals/{id}");
    let got = s.get(&path).await.expect(200);
    assert_eq!(got.header("etag"), Some("\"1\""));
    // Missing If-Match: 428.
    let r = s
        .call(
            Method::PATCH,
            &path,
            Some(&s.admin_key),
            Some(json!({ "description": "x" })),
            &[],
        )
        .await
        .expect(428);
    assert_eq!(r.body["code"], "if_match_required");
    s.call(Method::DELETE, &path, Some(&s.admin_key), None, &[])
        .await
        .expect(428);
    // Current version: 200 and a new ETag.
    let r = s
        .call(
            Method::PATCH,
            &path,
            Some(&s.admin_key),
            Some(json!({ "description": "second" })),
            &[("if-match", "\"1\"")],
        )
        .await
        .expect(200);
    assert_eq!(r.header("etag"), Some("\"2\""));
    assert_eq!(r.body["description"], "second");
    // Stale version: 412, nothing changed.
    let r = s
        .call(
            Method::PATCH,
            &path,
            Some(&s.admin_key),
            Some(json!({ "description": "third" })),
            &[("if-match", "\"1\"")],
        )
        .await
        .expect(412);
    assert_eq!(r.body["code"], "stale_version");
    assert_eq!(s.get(&path).await.body["description"], "second");
    s.call(
        Method::DELETE,
        &path,
        Some(&s.admin_key),
        None,
        &[("if-match", "\"1\"")],
    )
    .await
    .expect(412);
    s.call(
        Method::PATCH,
        &path,
        Some(&s.admin_key),
        Some(json!({})),
        &[("if-match", "garbage")],
    )
    .await
    .expect(400);
    s.call(
        Method::DELETE,
        &path,
        Some(&s.admin_key),
        None,
        &[("if-match", "W/\"2\"")],
    )
    .await
    .expect(200);
    s.get(&path).await.expect(404);
    // Unique names.
    s.post("/v1/principals", json!({ "kind": "user", "name": "dup" }))
        .await
        .expect(201);
    let r = s
        .post("/v1/principals", json!({ "kind": "user", "name": "dup" }))
        .await
        .expect(409);
    assert_eq!(r.body["code"], "conflict");
}

async fn change_feed_follows_a_cursor(backend: Backend) {
    let s = TestServer::start(backend).await;
    let start = s.get("/v1/changes?since=0&limit=1000").await.expect(200);
    let cursor = start.body["next"].as_i64().unwrap();
    assert!(cursor >= 4, "init wrote the first objects: {}", start.text);
    let g = s
        .post("/v1/groups", json!({ "name": "g1" }))
        .await
        .expect(201);
    let gid = g.body["id"].as_str().unwrap().to_owned();
    let svc = s.principal("service_user", "svc", &["key:use"]).await;
    let (key, key_id) = s.key(&svc, json!({ "name": "k" })).await;
    s.delete(&format!("/v1/groups/{gid}")).await.expect(200);
    let page = s
        .get(&format!("/v1/changes?since={cursor}"))
        .await
        .expect(200);
    let changes = page.body["changes"].as_array().unwrap();
    assert!(changes.iter().all(|c| c["seq"].as_i64().unwrap() > cursor));
    let seqs: Vec<i64> = changes.iter().map(|c| c["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order");
    assert_eq!(changes[0]["kind"], "group");
    assert_eq!(changes[0]["op"], "put");
    let key_change = changes.iter().find(|c| c["id"] == json!(key_id)).unwrap();
    assert!(
        key_change["object"].get("digest").is_none(),
        "no digests in the feed"
    );
    assert!(!page.text.contains(&key));
    let last = changes.last().unwrap();
    assert_eq!(last["op"], "delete");
    assert_eq!(last["id"], json!(gid));
    assert!(last.get("object").is_none());
    let next = page.body["next"].as_i64().unwrap();
    let empty = s
        .get(&format!("/v1/changes?since={next}"))
        .await
        .expect(200);
    assert_eq!(empty.body["changes"], json!([]));
    assert_eq!(empty.body["next"], json!(next));
    let paged = s
        .get(&format!("/v1/changes?since={cursor}&limit=2"))
        .await
        .expect(200);
    assert_eq!(paged.body["changes"].as_array().unwrap().len(), 2);
}

async fn audit_log_records_actions_without_secrets(backend: Backend) {
    let s = TestServer::start(backend).await;
    let svc = s.principal("service_user", "svc", &["key:use"]).await;
    let (key, key_id) = s.key(&svc, json!({ "name": "k" })).await;
    s.patch(&format!("/v1/keys/{key_id}"), json!({ "enabled": false }))
        .await
        .expect(200);
    s.post(&format!("/v1/keys/{key_id}/revoke"), json!({}))
        .await
        .expect(200);
    let all = s.get("/v1/audit?limit=1000").await.expect(200);
    assert!(!all.text.contains(&key), "the audit log never holds a key");
    let random = key.split('_').nth(2).unwrap();
    assert!(!all.text.contains(&random[4..]));
    let entries = all.body["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "group.create",
        "role.create",
        "principal.create",
        "key.create",
        "key.disable",
        "key.revoke",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    let target = format!("key:{key_id}");
    let for_key = s
        .get(&format!("/v1/audit?target={target}"))
        .await
        .expect(200);
    let rows = for_key.body["entries"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        assert!(
            row["detail"]["display_prefix"]
                .as_str()
                .unwrap()
                .starts_with("kw_live_")
        );
        assert!(row["actor"].as_str().unwrap().starts_with("key:"));
        assert!(row["at"].as_i64().unwrap() > 0);
    }
    let since = rows[0]["seq"].as_i64().unwrap();
    let later = s
        .get(&format!("/v1/audit?target={target}&since={since}"))
        .await
        .expect(200);
    assert_eq!(later.body["entries"].as_array().unwrap().len(), 2);
}

async fn crud_for_groups_and_roles(backend: Backend) {
    let s = TestServer::start(backend).await;
    let g = s
        .post(
            "/v1/groups",
            json!({ "name": "api-users", "description": "API callers" }),
        )
        .await
        .expect(201);
    let gid = g.body["id"].as_str().unwrap().to_owned();
    let r = s.post("/v1/roles", json!({ "name": "generate-token", "privileges": ["key:use", "run:actions"], "groups": [gid] })).await.expect(201);
    let rid = r.body["id"].as_str().unwrap().to_owned();
    s.post(
        "/v1/roles",
        json!({ "name": "bad", "groups": ["no-such-group"] }),
    )
    .await
    .expect(400);
    let p = s
        .post(
            "/v1/principals",
            json!({ "kind": "user", "name": "api-user", "groups": [gid] }),
        )
        .await
        .expect(201);
    let pid = p.body["id"].as_str().unwrap().to_owned();
    let (key, _) = s.key(&pid, json!({ "name": "k" })).await;
    let v = s.verify(json!({ "key": key })).await;
    assert_eq!(v.body["scopes"], json!(["key:use", "run:actions"]));
    // Taking a privilege from the role takes it from every key at once.
    s.patch(
        &format!("/v1/roles/{rid}"),
        json!({ "privileges": ["key:use"] }),
    )
    .await
    .expect(200);
    assert_eq!(
        s.verify(json!({ "key": key })).await.body["scopes"],
        json!(["key:use"])
    );
    s.patch(&format!("/v1/groups/{gid}"), json!({ "name": "renamed" }))
        .await
        .expect(200);
    assert_eq!(
        s.get(&format!("/v1/groups/{gid}")).await.body["name"],
        "renamed"
    );
    assert!(
        s.get("/v1/roles")
            .await
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == json!(rid))
    );
    // Deleting the group removes the privileges it conveyed.
    s.delete(&format!("/v1/groups/{gid}")).await.expect(200);
    assert_eq!(
        s.verify(json!({ "key": key })).await.body["reason"],
        "principal_not_permitted"
    );
    s.delete(&format!("/v1/roles/{rid}")).await.expect(200);
    s.get(&format!("/v1/roles/{rid}")).await.expect(404);
}

/// Two requests with one Idempotency-Key: while the first is still running (its commit is
/// held back by the write lock another session holds), the second is refused with 409;
/// once the first commits, a third is answered from its record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_duplicate_is_refused_while_the_first_runs() {
    let Some(_) = keywarden_testkit::postgres() else {
        return;
    };
    let s = std::sync::Arc::new(TestServer::start(Backend::Postgres).await);
    let (db, conn) = tokio_postgres::connect(&s.database, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    // The lock every write takes (`store/postgres.rs` WRITE_LOCK).
    db.execute("SELECT pg_advisory_lock($1)", &[&0x6b77_7772_i64])
        .await
        .unwrap();
    let first = {
        let s = std::sync::Arc::clone(&s);
        tokio::spawn(async move {
            s.call(
                Method::POST,
                "/v1/groups",
                Some(&s.admin_key),
                Some(json!({ "name": "pending" })),
                &[("idempotency-key", "k-2")],
            )
            .await
        })
    };
    // Wait until the first request holds the key (its record is pending).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let row = db
            .query_opt("SELECT state FROM idempotency WHERE key = 'k-2'", &[])
            .await
            .unwrap();
        if row.is_some_and(|r| r.get::<_, String>(0) == "pending") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first request never began"
        );
        tokio::task::yield_now().await;
    }
    let r = s
        .call(
            Method::POST,
            "/v1/groups",
            Some(&s.admin_key),
            Some(json!({ "name": "pending" })),
            &[("idempotency-key", "k-2")],
        )
        .await
        .expect(409);
    assert_eq!(r.body["code"], "idempotency_key_in_flight");
    assert!(
        !first.is_finished(),
        "the first request must still be running"
    );
    db.execute("SELECT pg_advisory_unlock($1)", &[&0x6b77_7772_i64])
        .await
        .unwrap();
    let first = first.await.unwrap().expect(201);
    let third = s
        .call(
            Method::POST,
            "/v1/groups",
            Some(&s.admin_key),
            Some(json!({ "name": "pending" })),
            &[("idempotency-key", "k-2")],
        )
        .await
        .expect(201);
    assert_eq!(third.header("idempotent-replayed"), Some("true"));
    assert_eq!(third.body["id"], first.body["id"]);
}
