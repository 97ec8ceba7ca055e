//! A credential never yields a stronger one: a narrowed key cannot set a password and log
//! in with everything, cannot make or widen keys beyond itself, and sessions end when the
//! password changes or the principal is disabled or deleted — on every replica.

use std::sync::Arc;

use keywarden_server::App;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Backend, TestServer, test_config};

both_backends!(
    a_narrowed_key_cannot_set_a_password_and_log_in_with_everything,
    a_key_makes_keys_only_within_itself,
    own_keys_of_an_api_client_stay_under_its_access_profile,
    rotation_and_refresh_keep_enabled_and_every_restriction,
    sessions_end_on_password_change_disable_and_delete_on_every_replica,
);

const PASSWORD: &str = "correct horse battery staple";

async fn login(base: &str, http: &reqwest::Client, user: &str, password: &str) -> Option<String> {
    let r = http
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({ "username": user, "password": password }))
        .send()
        .await
        .expect("login request");
    if !r.status().is_success() {
        return None;
    }
    let body: Value = r.json().await.expect("login body");
    body["token"].as_str().map(str::to_owned)
}

async fn status_with(base: &str, http: &reqwest::Client, token: &str) -> u16 {
    http.get(format!("{base}/v1/auth/sessions"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

async fn a_narrowed_key_cannot_set_a_password_and_log_in_with_everything(backend: Backend) {
    let s = TestServer::start(backend).await;
    let dev = s
        .principal(
            "user",
            "dev",
            &["key:use", "keys:self", "admin:read", "admin:write"],
        )
        .await;
    // The administrator sets the first password (it holds more than dev).
    s.call(
        Method::PUT,
        &format!("/v1/principals/{dev}/password"),
        Some(&s.admin_key),
        Some(json!({ "password": PASSWORD })),
        &[],
    )
    .await
    .expect(200);
    let (narrow, _) = s
        .key(
            &dev,
            json!({ "name": "narrow", "scopes": ["key:use", "keys:self"] }),
        )
        .await;
    let path = format!("/v1/principals/{dev}/password");
    // No current password: refused, whatever the credential.
    let r = s
        .call_as(
            &narrow,
            Method::PUT,
            &path,
            Some(json!({ "password": "attacker chosen password" })),
        )
        .await
        .expect(400);
    assert_eq!(r.body["field"], "current_password");
    // A wrong one: refused, and the real password still works.
    s.call_as(
        &narrow,
        Method::PUT,
        &path,
        Some(
            json!({ "password": "attacker chosen password", "current_password": "a guess at it" }),
        ),
    )
    .await
    .expect(403);
    assert!(
        login(&s.base, &s.http, "dev", "attacker chosen password")
            .await
            .is_none()
    );
    let session = login(&s.base, &s.http, "dev", PASSWORD)
        .await
        .expect("login");
    // A narrowed key holding `admin:write`-less scopes cannot use the admin route either.
    let other = s.principal("user", "other", &["key:use"]).await;
    s.call_as(
        &narrow,
        Method::PUT,
        &format!("/v1/principals/{other}/password"),
        Some(json!({ "password": "attacker chosen password" })),
    )
    .await
    .expect(403);
    // With the current password the change works, and it ends every session.
    s.call_as(
        &narrow,
        Method::PUT,
        &path,
        Some(json!({ "password": "a new long passphrase", "current_password": PASSWORD })),
    )
    .await
    .expect(200);
    assert_eq!(status_with(&s.base, &s.http, &session).await, 401);
    assert!(login(&s.base, &s.http, "dev", PASSWORD).await.is_none());
    assert!(
        login(&s.base, &s.http, "dev", "a new long passphrase")
            .await
            .is_some()
    );
    // A user without a password cannot give itself one through a key.
    let nopass = s
        .principal("user", "nopass", &["key:use", "keys:self"])
        .await;
    let (k, _) = s.key(&nopass, json!({ "name": "k" })).await;
    s.call_as(
        &k,
        Method::PUT,
        &format!("/v1/principals/{nopass}/password"),
        Some(json!({ "password": "attacker chosen password", "current_password": "" })),
    )
    .await
    .expect(403);
    assert!(
        login(&s.base, &s.http, "nopass", "attacker chosen password")
            .await
            .is_none()
    );
}

async fn a_key_makes_keys_only_within_itself(backend: Backend) {
    let s = TestServer::start(backend).await;
    let dev = s
        .principal(
            "user",
            "dev",
            &["key:use", "keys:self", "admin:read", "rest"],
        )
        .await;
    let expires = keywarden_core::now() + 3600;
    // The test client is 127.0.0.1, so this key works from here only.
    let (narrow, narrow_id) = s
        .key(
            &dev,
            json!({
                "name": "narrow", "scopes": ["key:use", "keys:self"], "ip_allowlist": ["127.0.0.1/32"],
                "expires_at": expires, "path_prefixes": ["/v1/"], "environment": "live"
            }),
        )
        .await;
    let (_, strong_id) = s.key(&dev, json!({ "name": "strong" })).await;
    let keys = format!("/v1/principals/{dev}/keys");
    // A key asked for with nothing inherits every restriction.
    let r = s
        .call_as(
            &narrow,
            Method::POST,
            &keys,
            Some(json!({ "name": "child" })),
        )
        .await
        .expect(201);
    let child = &r.body["object"];
    assert_eq!(child["scopes"], json!(["key:use", "keys:self"]));
    assert_eq!(child["ip_allowlist"], json!(["127.0.0.1/32"]));
    assert_eq!(child["expires_at"], json!(expires));
    assert_eq!(child["path_prefixes"], json!(["/v1/"]));
    assert_eq!(child["environment"], "live");
    // It may narrow further.
    s.call_as(&narrow,
        Method::POST,
        &keys,
        Some(json!({ "name": "narrower", "scopes": ["key:use"], "read_only": true, "ip_allowlist": ["127.0.0.1"], "expires_at": expires - 60 })),
    )
    .await
    .expect(201);
    // Every widening is refused.
    for (what, body) in [
        ("scope it lacks", json!({ "name": "w", "scopes": ["rest"] })),
        (
            "privilege it lacks",
            json!({ "name": "w", "scopes": ["admin:read"] }),
        ),
        (
            "any address",
            json!({ "name": "w", "ip_allowlist": ["0.0.0.0/0"] }),
        ),
        (
            "a wider range",
            json!({ "name": "w", "ip_allowlist": ["127.0.0.0/8"] }),
        ),
        (
            "a later expiry",
            json!({ "name": "w", "expires_at": expires + 1 }),
        ),
        (
            "other paths",
            json!({ "name": "w", "path_prefixes": ["/"] }),
        ),
        (
            "another environment",
            json!({ "name": "w", "environment": "test" }),
        ),
        (
            "query use",
            json!({ "name": "w", "allow_query_param": true }),
        ),
    ] {
        let r = s.call_as(&narrow, Method::POST, &keys, Some(body)).await;
        assert_eq!(r.status.as_u16(), 403, "{what}: {}", r.text);
        assert!(
            r.text.contains("stronger than itself"),
            "{what}: {}",
            r.text
        );
    }
    // Patching itself can only narrow it.
    let me = format!("/v1/keys/{narrow_id}");
    for (what, body) in [
        ("drop the allowlist", json!({ "ip_allowlist": [] })),
        ("drop the expiry", json!({ "clear_expiry": true })),
        ("drop the scopes", json!({ "scopes": [] })),
        ("drop the paths", json!({ "path_prefixes": [] })),
    ] {
        let r = s.call_as(&narrow, Method::PATCH, &me, Some(body)).await;
        assert_eq!(r.status.as_u16(), 403, "{what}: {}", r.text);
        assert!(
            r.text.contains("stronger than itself"),
            "{what}: {}",
            r.text
        );
    }
    s.call_as(
        &narrow,
        Method::PATCH,
        &me,
        Some(json!({ "description": "mine" })),
    )
    .await
    .expect(200);
    // A stronger sibling key cannot be touched by the narrow one.
    for (method, path) in [
        (Method::POST, format!("/v1/keys/{strong_id}/revoke")),
        (Method::POST, format!("/v1/keys/{strong_id}/rotate")),
        (Method::DELETE, format!("/v1/keys/{strong_id}")),
    ] {
        let body = (method == Method::POST).then(|| json!({}));
        let r = s.call_as(&narrow, method.clone(), &path, body).await;
        assert_eq!(r.status.as_u16(), 403, "{method} {path}: {}", r.text);
        assert!(
            r.text.contains("stronger than itself"),
            "{method} {path}: {}",
            r.text
        );
    }
    let strong = s.get(&format!("/v1/keys/{strong_id}")).await.expect(200);
    assert!(strong.body["revoked_at"].is_null());
    // The key's allowlist holds for the admin API itself: from a header claiming another
    // address, nothing changes (the peer is a trusted proxy here, so the header counts).
    let r = s
        .call(
            Method::POST,
            &keys,
            Some(&narrow),
            Some(json!({ "name": "from afar" })),
            &[("x-real-ip", "192.0.2.7")],
        )
        .await
        .expect(403);
    assert!(r.text.contains("address_not_allowed"), "{}", r.text);
}

async fn own_keys_of_an_api_client_stay_under_its_access_profile(backend: Backend) {
    let s = TestServer::start(backend).await;
    let profile = s
        .post(
            "/v1/profiles",
            json!({ "name": "partners", "ip_allowlist": ["127.0.0.1/32"], "policy": { "requests": 10, "per_seconds": 60 } }),
        )
        .await
        .expect(201);
    let profile_id = profile.body["id"].as_str().unwrap().to_owned();
    let client = s
        .principal("api_client", "partner", &["key:use", "keys:self"])
        .await;
    s.patch(
        &format!("/v1/principals/{client}"),
        json!({ "profiles": [profile_id] }),
    )
    .await
    .expect(200);
    let keys = format!("/v1/principals/{client}/keys");
    // An administrator issued it a key without the profile; through `keys:self` that key
    // cannot issue one without it.
    let (bare, _) = s.key(&client, json!({ "name": "bare" })).await;
    let r = s
        .call_as(&bare, Method::POST, &keys, Some(json!({ "name": "free" })))
        .await
        .expect(400);
    assert_eq!(r.body["field"], "profile_id");
    s.call_as(
        &bare,
        Method::POST,
        &keys,
        Some(json!({ "name": "profiled", "profile_id": profile_id })),
    )
    .await
    .expect(201);
    // A key under the profile passes the profile on.
    let (under, _) = s
        .key(
            &client,
            json!({ "name": "under", "profile_id": profile_id }),
        )
        .await;
    let r = s
        .call_as(
            &under,
            Method::POST,
            &keys,
            Some(json!({ "name": "child" })),
        )
        .await
        .expect(201);
    assert_eq!(r.body["object"]["profile_id"], json!(profile_id));
}

async fn rotation_and_refresh_keep_enabled_and_every_restriction(backend: Backend) {
    let s = TestServer::start(backend).await;
    let svc = s.principal("service_user", "svc", &["key:use"]).await;
    for action in ["rotate", "refresh"] {
        let (_, id) = s
            .key(
                &svc,
                json!({ "name": format!("{action}d"), "read_only": true, "ip_allowlist": ["192.0.2.0/24"], "path_prefixes": ["/api/"] }),
            )
            .await;
        s.patch(&format!("/v1/keys/{id}"), json!({ "enabled": false }))
            .await
            .expect(200);
        let r = s
            .post(&format!("/v1/keys/{id}/{action}"), json!({}))
            .await
            .expect(201);
        let successor = &r.body["object"];
        assert_eq!(successor["enabled"], false, "{action}: {}", r.text);
        assert_eq!(successor["read_only"], true);
        assert_eq!(successor["ip_allowlist"], json!(["192.0.2.0/24"]));
        assert_eq!(successor["path_prefixes"], json!(["/api/"]));
        let key = r.body["key"].as_str().unwrap();
        let v = s
            .verify(json!({ "key": key, "client_address": "192.0.2.1", "path": "/api/x" }))
            .await
            .expect(200);
        assert_eq!(v.body["reason"], "key_disabled", "{action}");
    }
}

/// A second replica over the same database.
async fn second_replica(s: &TestServer) -> (Arc<App>, String) {
    let mut app = App::open(test_config(s.database.clone()))
        .await
        .expect("open the store again");
    app.start_followers();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let router = app.router();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    (Arc::new(app), base)
}

async fn sessions_end_on_password_change_disable_and_delete_on_every_replica(backend: Backend) {
    let s = TestServer::start(backend).await;
    let user = s.principal("user", "dev", &["key:use", "keys:self"]).await;
    s.call(
        Method::PUT,
        &format!("/v1/principals/{user}/password"),
        Some(&s.admin_key),
        Some(json!({ "password": PASSWORD })),
        &[],
    )
    .await
    .expect(200);
    // Started now, the second replica loads the user from the database.
    let (_replica, other) = second_replica(&s).await;
    let first = login(&s.base, &s.http, "dev", PASSWORD).await.unwrap();
    let second = login(&other, &s.http, "dev", PASSWORD).await.unwrap();
    // Both replicas know both sessions.
    for base in [&s.base, &other] {
        for token in [&first, &second] {
            assert_eq!(status_with(base, &s.http, token).await, 200);
        }
    }
    // Your sessions, listed: ids, never tokens; this one marked.
    let list: Value = s
        .http
        .get(format!("{}/v1/auth/sessions", s.base))
        .bearer_auth(&first)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{list}");
    assert!(!list.to_string().contains(&first) && !list.to_string().contains(&second));
    let current: Vec<&Value> = sessions.iter().filter(|x| x["current"] == true).collect();
    assert_eq!(current.len(), 1);
    let other_id = sessions
        .iter()
        .find(|x| x["current"] == false)
        .and_then(|x| x["id"].as_str())
        .unwrap()
        .to_owned();
    // End the other one from here: it stops on the other replica at once.
    let r = s
        .http
        .delete(format!("{}/v1/auth/sessions/{other_id}", s.base))
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(status_with(&other, &s.http, &second).await, 401);
    assert_eq!(status_with(&other, &s.http, &first).await, 200);
    // Disabling the user ends its sessions; enabling it again does not bring them back.
    s.patch(
        &format!("/v1/principals/{user}"),
        json!({ "enabled": false }),
    )
    .await
    .expect(200);
    s.patch(
        &format!("/v1/principals/{user}"),
        json!({ "enabled": true }),
    )
    .await
    .expect(200);
    assert_eq!(status_with(&other, &s.http, &first).await, 401);
    // Deleting it ends the sessions made since.
    let again = login(&s.base, &s.http, "dev", PASSWORD).await.unwrap();
    assert_eq!(status_with(&s.base, &s.http, &again).await, 200);
    s.delete(&format!("/v1/principals/{user}"))
        .await
        .expect(200);
    assert_eq!(status_with(&other, &s.http, &again).await, 401);
    assert_eq!(status_with(&s.base, &s.http, &again).await, 401);
    // The audit log tells who ended what.
    let audit = s
        .get("/v1/audit?action=auth.sessions_end")
        .await
        .expect(200);
    assert_eq!(audit.body["entries"].as_array().unwrap().len(), 1);
}
