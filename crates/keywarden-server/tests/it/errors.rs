//! Bad input never gets a 5xx or a panic: every answer is a 4xx with the stable
//! JSON shape `{code, message, field}`.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::harness::{Backend, TestServer};

both_backends!(
    bad_input_gets_stable_json_errors,
    garbage_on_every_route_is_never_a_5xx
);

async fn bad_input_gets_stable_json_errors(backend: Backend) {
    let s = TestServer::start(backend).await;
    let k = Some(s.admin_key.as_str());
    let ct = [("content-type", "application/json")];
    let r = s
        .raw(Method::POST, "/v1/groups", k, b"{\"name\":", &ct)
        .await
        .expect(400);
    assert_eq!(r.body["code"], "malformed_json");
    assert!(r.body.get("field").is_some());
    let r = s
        .raw(Method::POST, "/v1/groups", k, b"{\"name\": 5}", &ct)
        .await
        .expect(400);
    assert_eq!(r.body["code"], "invalid_field");
    let r = s
        .raw(
            Method::POST,
            "/v1/groups",
            k,
            b"{\"name\": \"x\", \"colour\": 1}",
            &ct,
        )
        .await
        .expect(400);
    assert_eq!(r.body["field"], "colour");
    let r = s
        .raw(
            Method::POST,
            "/v1/principals",
            k,
            b"{\"kind\": \"robot\", \"name\": \"x\"}",
            &ct,
        )
        .await
        .expect(400);
    assert_eq!(r.body["code"], "invalid_field");
    let r = s
        .post("/v1/groups", json!({ "name": "  padded " }))
        .await
        .expect(400);
    assert_eq!(r.body["field"], "name");
    let r = s
        .post(
            "/v1/profiles",
            json!({ "name": "p", "ip_allowlist": ["10.0.0.0/33"] }),
        )
        .await
        .expect(400);
    assert_eq!(r.body["field"], "ip_allowlist");
    let r = s.post("/v1/profiles", json!({ "name": "p", "access_method": { "type": "jwt", "signing_method": "HS256", "secret": "short" } })).await.expect(400);
    assert_eq!(r.body["field"], "access_method.secret");
    let svc = s.principal("service_user", "svc", &["key:use"]).await;
    let keys = format!("/v1/principals/{svc}/keys");
    for (body, field) in [
        (
            json!({ "name": "k", "path_prefixes": ["api"] }),
            "path_prefixes",
        ),
        (
            json!({ "name": "k", "path_prefixes": ["/a/../b"] }),
            "path_prefixes",
        ),
        (json!({ "name": "k", "environment": "Live" }), "environment"),
        (json!({ "name": "k", "scopes": ["has space"] }), "scopes"),
        (
            json!({ "name": "k", "policy": { "requests": 0, "per_seconds": 1 } }),
            "policy",
        ),
        (
            json!({ "name": "k", "ip_allowlist": ["nope"] }),
            "ip_allowlist",
        ),
        (json!({ "name": "k", "digest": "00" }), "digest"),
    ] {
        let r = s.post(&keys, body).await.expect(400);
        assert_eq!(r.body["field"], field, "{}", r.text);
    }
    let r = s
        .verify(json!({ "key": "x", "client_address": "not-an-ip" }))
        .await
        .expect(400);
    assert_eq!(r.body["field"], "client_address");
    s.verify(json!({ "key": "x", "method": "get" }))
        .await
        .expect(400);
    let r = s
        .raw(Method::POST, "/v1/verify", None, b"[]", &ct)
        .await
        .expect(400);
    assert_eq!(r.body["code"], "invalid_field");
    let r = s.get("/v1/changes?since=abc").await.expect(400);
    assert_eq!(r.body["code"], "invalid_query");
    let r = s.get("/v1/no-such-thing").await.expect(404);
    assert_eq!(r.body["code"], "not_found");
    let r = s
        .call(Method::PUT, "/v1/groups", k, None, &[])
        .await
        .expect(405);
    assert_eq!(r.body["code"], "method_not_allowed");
    s.get("/v1/keys/does-not-exist").await.expect(404);
    s.get(&format!("/v1/keys/{}", "x".repeat(300)))
        .await
        .expect(404);
    let big = Box::leak(
        format!("{{\"name\":\"{}\"}}", "x".repeat(100_000))
            .into_bytes()
            .into_boxed_slice(),
    );
    let r = s
        .raw(Method::POST, "/v1/groups", k, big, &ct)
        .await
        .expect(413);
    assert_eq!(r.body["code"], "body_too_large");
    let r = s
        .call(
            Method::POST,
            "/v1/groups",
            k,
            Some(json!({ "name": "i" })),
            &[("idempotency-key", "")],
        )
        .await
        .expect(400);
    assert_eq!(r.body["field"], "Idempotency-Key");
}

/// Schema-driven fuzzing: every route and method that `/openapi.json` documents gets
/// malformed bodies, headers and ids. No answer may be a 5xx, and every 4xx is our JSON shape.
async fn garbage_on_every_route_is_never_a_5xx(backend: Backend) {
    let s = TestServer::start(backend).await;
    let svc = s.principal("service_user", "svc", &["key:use"]).await;
    let (_, key_id) = s.key(&svc, json!({ "name": "k" })).await;
    let doc = s.get("/openapi.json").await.expect(200);
    let paths = doc.body["paths"].as_object().unwrap().clone();
    let bodies: [&'static [u8]; 12] = [
        b"",
        b"null",
        b"{}",
        b"[]",
        b"\"str\"",
        b"{\"name\": null}",
        b"{\"name\": \"\\u0000\"}",
        b"{\"name\": \"x\", \"enabled\": \"yes\", \"kind\": 7}",
        b"{\"key\": \"kw_live_\", \"method\": \"\", \"path\": \"\"}",
        b"{\"name\":\"x\",\"policy\":{\"requests\":4294967296,\"per_seconds\":1}}",
        b"\xff\xfe\x00garbage",
        b"{\"grace_seconds\": -1, \"expires_at\": 1e400, \"username\": [], \"password\": {}}",
    ];
    let mut seen = 0;
    let mut routes = 0;
    for (template, item) in &paths {
        for method_name in item.as_object().unwrap().keys() {
            let Ok(method) = Method::from_bytes(method_name.to_ascii_uppercase().as_bytes()) else {
                continue;
            };
            routes += 1;
            let id = if template.starts_with("/v1/keys/") {
                key_id.as_str()
            } else {
                svc.as_str()
            };
            for path in [
                template.replace("{id}", id),
                template.replace("{id}", "%ff%00"),
                format!(
                    "{}?since=-1&limit=abc&principal_id=%ff",
                    template.replace("{id}", "x")
                ),
            ] {
                for body in bodies {
                    for headers in [
                        vec![("content-type", "application/json"), ("if-match", "\"1\"")],
                        vec![
                            ("content-type", "text/plain"),
                            ("if-match", "\"x\""),
                            ("idempotency-key", "has space"),
                            ("x-original-uri", "/../..?auth-key=%zz"),
                        ],
                    ] {
                        let r = s
                            .raw(method.clone(), &path, Some(&s.admin_key), body, &headers)
                            .await;
                        assert!(
                            r.status.as_u16() < 500,
                            "{method} {path} {:?} -> {} {}",
                            String::from_utf8_lossy(body),
                            r.status,
                            r.text
                        );
                        if r.status.is_client_error() {
                            assert!(r.body.get("code").is_some(), "{method} {path}: {}", r.text);
                        }
                        seen += 1;
                    }
                }
            }
        }
    }
    assert!(
        routes >= 38,
        "every documented route was exercised ({routes})"
    );
    assert_eq!(seen, routes * 3 * bodies.len() * 2);
    s.call(Method::GET, "/healthz", None, None, &[])
        .await
        .expect(200);
}
