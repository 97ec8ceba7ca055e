//! Every verification rule, through `POST /v1/verify`, against both backends.

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Backend, TestServer};

both_backends!(
    every_rule_allows_and_refuses,
    invalid_keys_are_indistinguishable,
    disable_and_revoke_take_effect_at_once,
    principal_lifecycle_governs_its_keys,
    rotation_keeps_old_key_for_grace_period_and_refresh_does_not,
    rate_limit_answers_429_with_retry_after,
    failures_from_one_address_are_throttled,
    access_profiles_narrow_keys,
    offline_generated_keys_verify_by_digest,
    jwt_access_profiles_verify_signed_tokens,
);

fn ok(r: &Value) -> bool {
    r["valid"] == json!(true)
}

async fn every_rule_allows_and_refuses(backend: Backend) {
    let s = TestServer::start(backend).await;
    let svc = s
        .principal("service_user", "billing-sync", &["key:use", "rest", "ui"])
        .await;

    // Plain key: allowed, with the principal and its effective scopes.
    let (plain, plain_id) = s
        .key(&svc, json!({ "name": "plain", "environment": "live" }))
        .await;
    let r = s
        .verify(json!({ "key": plain, "method": "POST", "path": "/anything" }))
        .await
        .expect(200);
    assert!(ok(&r.body), "{}", r.text);
    assert_eq!(r.body["status"], 200);
    assert_eq!(r.body["principal"]["id"], json!(svc));
    assert_eq!(r.body["principal"]["kind"], "service_user");
    assert_eq!(r.body["key_id"], json!(plain_id));
    assert_eq!(r.body["scopes"], json!(["key:use", "rest", "ui"]));

    // Key scopes are capped by the principal's privileges.
    let (scoped, _) = s
        .key(
            &svc,
            json!({ "name": "scoped", "scopes": ["rest", "integration"] }),
        )
        .await;
    let r = s
        .verify(json!({ "key": scoped, "scope": "rest" }))
        .await
        .expect(200);
    assert!(ok(&r.body));
    assert_eq!(r.body["scopes"], json!(["rest"]));
    let r = s
        .verify(json!({ "key": scoped, "scope": "integration" }))
        .await
        .expect(200);
    assert_eq!(r.body["reason"], "scope_not_granted");
    assert_eq!(r.body["status"], 403);
    assert!(r.body.get("principal").is_none());

    // Environment.
    let r = s
        .verify(json!({ "key": plain, "environment": "test" }))
        .await
        .expect(200);
    assert_eq!(r.body["reason"], "environment_mismatch");
    assert!(ok(&s
        .verify(json!({ "key": plain, "environment": "live" }))
        .await
        .body));

    // Read-only: GET, HEAD and OPTIONS only.
    let (ro, _) = s
        .key(&svc, json!({ "name": "ro", "read_only": true }))
        .await;
    for m in ["GET", "HEAD", "OPTIONS"] {
        assert!(
            ok(&s.verify(json!({ "key": ro, "method": m })).await.body),
            "{m}"
        );
    }
    for m in ["POST", "PUT", "PATCH", "DELETE"] {
        assert_eq!(
            s.verify(json!({ "key": ro, "method": m })).await.body["reason"],
            "read_only",
            "{m}"
        );
    }

    // Path prefixes: a prefix, and `=` for exactly one path.
    let (paths, _) = s
        .key(
            &svc,
            json!({ "name": "paths", "path_prefixes": ["/api/billing/", "=/api/status"] }),
        )
        .await;
    for p in ["/api/billing/invoices", "/api/billing/x?y=1", "/api/status"] {
        assert!(
            ok(&s.verify(json!({ "key": paths, "path": p })).await.body),
            "{p}"
        );
    }
    for p in [
        "/api/status/more",
        "/api/users",
        "/api/billing/../users",
        "/api/billing/%2e%2e/users",
        "/",
    ] {
        assert_eq!(
            s.verify(json!({ "key": paths, "path": p })).await.body["reason"],
            "path_not_allowed",
            "{p}"
        );
    }

    // Permitted operations.
    let (ops, _) = s
        .key(
            &svc,
            json!({ "name": "ops", "operations": ["sync-invoices"] }),
        )
        .await;
    assert!(ok(&s
        .verify(json!({ "key": ops, "operation": "sync-invoices" }))
        .await
        .body));
    assert_eq!(
        s.verify(json!({ "key": ops, "operation": "delete-all" }))
            .await
            .body["reason"],
        "operation_not_allowed"
    );
    assert_eq!(
        s.verify(json!({ "key": ops })).await.body["reason"],
        "operation_not_allowed"
    );

    // IP allowlist, IPv4 CIDR and IPv6.
    let (ips, _) = s
        .key(
            &svc,
            json!({ "name": "ips", "ip_allowlist": ["10.1.0.0/16", "2001:db8::/32", "192.0.2.7"] }),
        )
        .await;
    for a in ["10.1.200.3", "2001:db8::1", "192.0.2.7", "::ffff:10.1.0.1"] {
        assert!(
            ok(&s
                .verify(json!({ "key": ips, "client_address": a }))
                .await
                .body),
            "{a}"
        );
    }
    for a in ["10.2.0.1", "2001:db9::1", "192.0.2.8"] {
        assert_eq!(
            s.verify(json!({ "key": ips, "client_address": a }))
                .await
                .body["reason"],
            "address_not_allowed",
            "{a}"
        );
    }
    assert_eq!(
        s.verify(json!({ "key": ips })).await.body["reason"],
        "address_not_allowed"
    );

    // A principal without `key:use` cannot use keys at all.
    let noperm = s.principal("service_user", "no-key-use", &["rest"]).await;
    let (k, _) = s.key(&noperm, json!({ "name": "k" })).await;
    assert_eq!(
        s.verify(json!({ "key": k })).await.body["reason"],
        "principal_not_permitted"
    );

    // Expiry in the future still works.
    let (future, _) = s
        .key(
            &svc,
            json!({ "name": "future", "expires_at": keywarden_core::now() + 3600 }),
        )
        .await;
    assert!(ok(&s.verify(json!({ "key": future })).await.body));
}

async fn invalid_keys_are_indistinguishable(backend: Backend) {
    let s = TestServer::start(backend).await;
    let svc = s.principal("service_user", "svc", &["key:use"]).await;
    let (revoked, revoked_id) = s.key(&svc, json!({ "name": "revoked" })).await;
    s.post(&format!("/v1/keys/{revoked_id}/revoke"), json!({}))
        .await
        .expect(200);
    let (expired, _) = s
        .key(
            &svc,
            json!({ "name": "expired", "expires_at": keywarden_core::now() - 10 }),
        )
        .await;
    let (deleted, deleted_id) = s.key(&svc, json!({ "name": "deleted" })).await;
    s.delete(&format!("/v1/keys/{deleted_id}"))
        .await
        .expect(200);
    let unknown = keywarden_keys::ApiKey::generate("kw", "live")
        .unwrap()
        .expose()
        .to_owned();
    let mut typo = unknown.clone().into_bytes();
    typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();

    let mut bodies = Vec::new();
    for key in [
        &revoked,
        &expired,
        &deleted,
        &unknown,
        &typo,
        &"not a key".to_owned(),
        &String::new(),
    ] {
        let r = s
            .verify(json!({ "key": key, "client_address": "203.0.113.9" }))
            .await
            .expect(200);
        bodies.push(r.text);
    }
    for b in &bodies {
        assert_eq!(b, &bodies[0], "every invalid key must get the same answer");
    }
    let first: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(first["reason"], "invalid_key");
    assert_eq!(first["status"], 401);
    // The true causes are counted for the audit log.
    let stats = s.get("/v1/verify/stats").await.expect(200);
    for cause in ["revoked", "expired", "unknown", "malformed"] {
        assert!(
            stats.body["refused"][cause].as_u64().unwrap_or(0) >= 1,
            "{cause}: {}",
            stats.text
        );
    }
    s.app.service.flush_refusal_counts().await.unwrap();
    let audit = s.get("/v1/audit?action=verify.refused").await.expect(200);
    let entry = &audit.body["entries"][0];
    assert_eq!(entry["actor"], "system");
    assert!(entry["detail"]["unknown"].as_u64().unwrap() >= 1);
}

async fn disable_and_revoke_take_effect_at_once(backend: Backend) {
    let s = TestServer::start(backend).await;
    let svc = s.principal("service_user", "svc", &["key:use"]).await;
    let (key, id) = s.key(&svc, json!({ "name": "k" })).await;
    assert_eq!(
        s.get(&format!("/v1/keys/{id}")).await.body["last_used_at"],
        Value::Null
    );
    assert!(ok(&s.verify(json!({ "key": key })).await.body));
    let used = s.get(&format!("/v1/keys/{id}")).await.body["last_used_at"]
        .as_i64()
        .expect("last used time");
    assert!(used >= keywarden_core::now() - 5);
    s.patch(&format!("/v1/keys/{id}"), json!({ "enabled": false }))
        .await
        .expect(200);
    assert_eq!(
        s.verify(json!({ "key": key })).await.body["reason"],
        "key_disabled"
    );
    s.patch(&format!("/v1/keys/{id}"), json!({ "enabled": true }))
        .await
        .expect(200);
    assert!(ok(&s.verify(json!({ "key": key })).await.body));
    let r = s
        .post(&format!("/v1/keys/{id}/revoke"), json!({}))
        .await
        .expect(200);
    assert!(r.body["revoked_at"].is_i64());
    assert_eq!(
        s.verify(json!({ "key": key })).await.body["reason"],
        "invalid_key"
    );
    // Revoked is final.
    s.patch(&format!("/v1/keys/{id}"), json!({ "enabled": true }))
        .await
        .expect(409);
    assert_eq!(
        s.verify(json!({ "key": key })).await.body["reason"],
        "invalid_key"
    );
}

async fn principal_lifecycle_governs_its_keys(backend: Backend) {
    let s = TestServer::start(backend).await;
    let user = s
        .principal("user", "alice", &["key:use", "keys:self"])
        .await;
    let (key, key_id) = s.key(&user, json!({ "name": "k" })).await;
    // Changing the password does not touch keys.
    s.call(
        reqwest::Method::PUT,
        &format!("/v1/principals/{user}/password"),
        Some(&s.admin_key),
        Some(json!({ "password": "correct horse battery" })),
        &[],
    )
    .await
    .expect(200);
    assert!(ok(&s.verify(json!({ "key": key })).await.body));
    // Disabling the principal suspends its keys; enabling restores them.
    s.patch(
        &format!("/v1/principals/{user}"),
        json!({ "enabled": false }),
    )
    .await
    .expect(200);
    assert_eq!(
        s.verify(json!({ "key": key })).await.body["reason"],
        "principal_disabled"
    );
    s.patch(
        &format!("/v1/principals/{user}"),
        json!({ "enabled": true }),
    )
    .await
    .expect(200);
    assert!(ok(&s.verify(json!({ "key": key })).await.body));
    // Deleting it revokes them.
    s.delete(&format!("/v1/principals/{user}"))
        .await
        .expect(200);
    assert_eq!(
        s.verify(json!({ "key": key })).await.body["reason"],
        "invalid_key"
    );
    let k = s.get(&format!("/v1/keys/{key_id}")).await.expect(200);
    assert!(k.body["revoked_at"].is_i64(), "{}", k.text);
    s.get(&format!("/v1/principals/{user}")).await.expect(404);
}

async fn rotation_keeps_old_key_for_grace_period_and_refresh_does_not(backend: Backend) {
    let s = TestServer::start(backend).await;
    let svc = s
        .principal("api_client", "partner", &["key:use", "rest"])
        .await;
    let (old, old_id) = s
        .key(
            &svc,
            json!({ "name": "primary", "slot": "primary", "scopes": ["rest"], "read_only": true }),
        )
        .await;
    // A second primary key is refused; a secondary is fine.
    s.post(
        &format!("/v1/principals/{svc}/keys"),
        json!({ "name": "again", "slot": "primary" }),
    )
    .await
    .expect(409);
    s.key(&svc, json!({ "name": "secondary", "slot": "secondary" }))
        .await;

    let r = s
        .post(
            &format!("/v1/keys/{old_id}/rotate"),
            json!({ "grace_seconds": 3600 }),
        )
        .await
        .expect(201);
    let new = r.body["key"].as_str().unwrap().to_owned();
    let new_id = r.body["object"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.body["object"]["read_only"], true,
        "the successor keeps the settings"
    );
    assert_eq!(r.body["object"]["slot"], "primary");
    assert_eq!(r.body["replaced"]["replaced_by"], json!(new_id));
    assert!(
        ok(&s.verify(json!({ "key": old })).await.body),
        "old key works during the grace period"
    );
    assert!(ok(&s.verify(json!({ "key": new })).await.body));
    s.post(&format!("/v1/keys/{old_id}/rotate"), json!({}))
        .await
        .expect(409);

    // Rotation with no grace: the old key stops at once.
    let r = s
        .post(
            &format!("/v1/keys/{new_id}/rotate"),
            json!({ "grace_seconds": 0 }),
        )
        .await
        .expect(201);
    let newer = r.body["key"].as_str().unwrap().to_owned();
    let newer_id = r.body["object"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        s.verify(json!({ "key": new })).await.body["reason"],
        "invalid_key"
    );
    assert!(ok(&s.verify(json!({ "key": newer })).await.body));

    // Refresh: revoke and reissue.
    let r = s
        .post(&format!("/v1/keys/{newer_id}/refresh"), json!({}))
        .await
        .expect(201);
    let fresh = r.body["key"].as_str().unwrap().to_owned();
    assert_eq!(
        s.verify(json!({ "key": newer })).await.body["reason"],
        "invalid_key"
    );
    assert!(ok(&s.verify(json!({ "key": fresh })).await.body));
    assert!(r.body["replaced"]["revoked_at"].is_i64());
}

async fn rate_limit_answers_429_with_retry_after(backend: Backend) {
    let s = TestServer::start(backend).await;
    let svc = s.principal("service_user", "svc", &["key:use"]).await;
    let (key, _) = s
        .key(
            &svc,
            json!({ "name": "limited", "policy": { "requests": 2, "per_seconds": 60 } }),
        )
        .await;
    assert!(ok(&s.verify(json!({ "key": key })).await.body));
    assert!(ok(&s.verify(json!({ "key": key })).await.body));
    let r = s.verify(json!({ "key": key })).await.expect(200);
    assert_eq!(r.body["reason"], "rate_limited");
    assert_eq!(r.body["status"], 429);
    let retry = r.body["retry_after"].as_u64().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    // The gateway endpoint answers 429 with Retry-After.
    let r = s
        .call(
            reqwest::Method::GET,
            "/v1/auth-request",
            Some(&key),
            None,
            &[("x-original-method", "GET"), ("x-original-uri", "/")],
        )
        .await
        .expect(429);
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
}

async fn failures_from_one_address_are_throttled(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.max_failures = 3).await;
    let svc = s.principal("service_user", "svc", &["key:use"]).await;
    let (key, _) = s.key(&svc, json!({ "name": "k" })).await;
    for _ in 0..3 {
        let r = s
            .verify(json!({ "key": "kw_live_guess", "client_address": "198.51.100.1" }))
            .await
            .expect(200);
        assert_eq!(r.body["reason"], "invalid_key");
    }
    // Even a good key from that address is refused for a while.
    let r = s
        .verify(json!({ "key": key, "client_address": "198.51.100.1" }))
        .await
        .expect(429);
    assert!(r.header("retry-after").is_some());
    assert_eq!(r.body["code"], "too_many_requests");
    // Other addresses are not affected.
    assert!(ok(&s
        .verify(json!({ "key": key, "client_address": "198.51.100.2" }))
        .await
        .body));
    // Through the gateway endpoint, the forwarded client address is throttled the same way.
    let r = s
        .call(
            reqwest::Method::GET,
            "/v1/auth-request",
            Some(&key),
            None,
            &[
                ("x-real-ip", "198.51.100.1"),
                ("x-original-method", "GET"),
                ("x-original-uri", "/"),
            ],
        )
        .await
        .expect(429);
    assert!(r.header("retry-after").is_some());
}

async fn access_profiles_narrow_keys(backend: Backend) {
    let s = TestServer::start(backend).await;
    let secret = "0123456789abcdef0123456789abcdef-hmac";
    let profile = s
        .post(
            "/v1/profiles",
            json!({
                "name": "partners", "description": "External partners", "collections": ["billing"],
                "policy": { "requests": 100, "per_seconds": 60 },
                "access_method": { "type": "jwt", "signing_method": "HS256", "secret": secret },
                "ip_allowlist": ["10.0.0.0/8"]
            }),
        )
        .await
        .expect(201);
    assert!(
        !profile.text.contains(secret),
        "the JWT secret is never returned"
    );
    let profile_id = profile.body["id"].as_str().unwrap().to_owned();
    let got = s
        .get(&format!("/v1/profiles/{profile_id}"))
        .await
        .expect(200);
    assert!(!got.text.contains(secret));
    assert_eq!(got.body["access_method"]["secret"], "***");

    let client = s
        .principal("api_client", "acme", &["key:use", "billing", "reports"])
        .await;
    // Profiles must be attached to the client before keys use them.
    s.post(
        &format!("/v1/principals/{client}/keys"),
        json!({ "name": "k", "profile_id": profile_id }),
    )
    .await
    .expect(400);
    s.patch(
        &format!("/v1/principals/{client}"),
        json!({ "profiles": [profile_id], "logo": "https://acme.example/logo.png" }),
    )
    .await
    .expect(200);
    let (key, _) = s
        .key(&client, json!({ "name": "k", "profile_id": profile_id }))
        .await;
    let r = s
        .verify(json!({ "key": key, "client_address": "10.9.8.7" }))
        .await
        .expect(200);
    assert!(ok(&r.body), "{}", r.text);
    assert_eq!(
        r.body["scopes"],
        json!(["billing"]),
        "profile collections narrow the scopes"
    );
    assert_eq!(
        s.verify(json!({ "key": key, "client_address": "11.0.0.1" }))
            .await
            .body["reason"],
        "address_not_allowed"
    );
    // A profile in use cannot be deleted.
    let etag = got.header("etag").unwrap().to_owned();
    s.call(
        reqwest::Method::DELETE,
        &format!("/v1/profiles/{profile_id}"),
        Some(&s.admin_key),
        None,
        &[("if-match", &etag)],
    )
    .await
    .expect(409);
}

async fn offline_generated_keys_verify_by_digest(backend: Backend) {
    let s = TestServer::start(backend).await;
    let svc = s.principal("user", "dev", &["key:use"]).await;
    let offline = keywarden_keys::ApiKey::generate("kw", "test").unwrap();
    let r = s
        .post(
            &format!("/v1/principals/{svc}/keys"),
            json!({ "name": "from desktop", "environment": "test", "digest": offline.digest().to_hex(), "display_prefix": offline.display_prefix() }),
        )
        .await
        .expect(201);
    assert_eq!(r.body["key"], Value::Null, "the server never saw the key");
    assert_eq!(
        r.body["object"]["display_prefix"],
        json!(offline.display_prefix())
    );
    assert!(
        r.body["object"].get("digest").is_none(),
        "digests are not returned"
    );
    assert!(ok(&s
        .verify(json!({ "key": offline.expose(), "environment": "test" }))
        .await
        .body));
    // The same digest twice is a conflict; a bad digest is a 400 naming the field.
    s.post(
        &format!("/v1/principals/{svc}/keys"),
        json!({ "name": "again", "environment": "test", "digest": offline.digest().to_hex(), "display_prefix": offline.display_prefix() }),
    )
    .await
    .expect(409);
    let r = s
        .post(
            &format!("/v1/principals/{svc}/keys"),
            json!({ "name": "bad", "digest": "abc", "display_prefix": "kw_live_AbCd…" }),
        )
        .await
        .expect(400);
    assert_eq!(r.body["field"], "digest");
}

fn jwt(alg: &str, claims: Value, secret: &[u8]) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::Mac;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({ "alg": alg, "typ": "JWT" }).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

async fn jwt_access_profiles_verify_signed_tokens(backend: Backend) {
    let s = TestServer::start(backend).await;
    let secret = "a-shared-hmac-secret-of-32-bytes-or-more";
    let profile = s
        .post(
            "/v1/profiles",
            json!({ "name": "jwt", "collections": ["billing"], "ip_allowlist": ["10.0.0.0/8"],
                    "access_method": { "type": "jwt", "signing_method": "HS256", "secret": secret } }),
        )
        .await
        .expect(201);
    let profile_id = profile.body["id"].as_str().unwrap().to_owned();
    let client = s
        .principal(
            "api_client",
            "jwt-client",
            &["key:use", "billing", "reports"],
        )
        .await;
    let exp = keywarden_core::now() + 300;
    let token = jwt(
        "HS256",
        json!({ "sub": client, "exp": exp }),
        secret.as_bytes(),
    );
    // Not yet attached to the client: unknown.
    let r = s
        .verify(json!({ "key": token, "client_address": "10.1.1.1" }))
        .await
        .expect(200);
    assert_eq!(r.body["reason"], "invalid_key");
    s.patch(
        &format!("/v1/principals/{client}"),
        json!({ "profiles": [profile_id] }),
    )
    .await
    .expect(200);
    let r = s
        .verify(json!({ "key": token, "client_address": "10.1.1.1" }))
        .await
        .expect(200);
    assert_eq!(r.body["valid"], true, "{}", r.text);
    assert_eq!(r.body["principal"]["name"], "jwt-client");
    assert_eq!(r.body["scopes"], json!(["billing"]));
    assert_eq!(
        s.verify(json!({ "key": token, "client_address": "11.1.1.1" }))
            .await
            .body["reason"],
        "address_not_allowed"
    );
    // Through the gateway endpoint too.
    s.call(
        reqwest::Method::GET,
        "/v1/auth-request",
        Some(&token),
        None,
        &[
            ("x-real-ip", "10.2.2.2"),
            ("x-original-method", "GET"),
            ("x-original-uri", "/"),
        ],
    )
    .await
    .expect(204);
    // Wrong secret, expired, wrong subject, alg none: all the same 401.
    for bad in [
        jwt(
            "HS256",
            json!({ "sub": client, "exp": exp }),
            b"another-secret-of-sufficient-length!!",
        ),
        jwt(
            "HS256",
            json!({ "sub": client, "exp": keywarden_core::now() - 60 }),
            secret.as_bytes(),
        ),
        jwt(
            "HS256",
            json!({ "sub": "someone-else", "exp": exp }),
            secret.as_bytes(),
        ),
        format!(
            "{}.{}.",
            "eyJhbGciOiJub25lIn0",
            token.split('.').nth(1).unwrap()
        ),
    ] {
        let r = s
            .verify(json!({ "key": bad, "client_address": "10.1.1.1" }))
            .await
            .expect(200);
        assert_eq!(r.body["reason"], "invalid_key", "{bad}");
    }
    // Disabling the client suspends its tokens.
    s.patch(
        &format!("/v1/principals/{client}"),
        json!({ "enabled": false }),
    )
    .await
    .expect(200);
    assert_eq!(
        s.verify(json!({ "key": token, "client_address": "10.1.1.1" }))
            .await
            .body["reason"],
        "principal_disabled"
    );
}
