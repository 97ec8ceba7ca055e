//! `/v1/auth-request` (what nginx calls), with every credential style of the sources.

use base64::Engine;
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::harness::{Backend, TestServer};

both_backends!(auth_request_reads_every_credential_style);

async fn auth_request_reads_every_credential_style(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.basic_user = "haplo".into()).await;
    let svc = s
        .principal("service_user", "gateway-client", &["key:use", "rest"])
        .await;
    let (key, key_id) = s
        .key(&svc, json!({ "name": "k", "path_prefixes": ["/api/"] }))
        .await;
    let (query_ok, _) = s
        .key(&svc, json!({ "name": "q", "allow_query_param": true }))
        .await;
    let ar = |headers: Vec<(&'static str, String)>| {
        let s = &s;
        async move {
            // A gateway always names the original method and URI; GET / unless the case says otherwise.
            let mut owned: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            for (name, default) in [("x-original-method", "GET"), ("x-original-uri", "/")] {
                if !owned.iter().any(|(k, _)| *k == name) {
                    owned.push((name, default));
                }
            }
            s.call(Method::GET, "/v1/auth-request", None, None, &owned)
                .await
        }
    };
    let uri = ("x-original-uri", "/api/items?page=2".to_owned());
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("haplo:{key}"));
    let wrong_user = base64::engine::general_purpose::STANDARD.encode(format!("other:{key}"));
    for style in [
        ("authorization", format!("Bearer {key}")),
        ("authorization", format!("Key={key}")),
        ("authorization", format!("Basic {basic}")),
        ("x-api-key", key.clone()),
    ] {
        let r = ar(vec![style.clone(), uri.clone()]).await.expect(204);
        assert_eq!(
            r.header("x-keywarden-principal-id"),
            Some(svc.as_str()),
            "{style:?}"
        );
        assert_eq!(r.header("x-keywarden-principal"), Some("gateway-client"));
        assert_eq!(r.header("x-keywarden-key-id"), Some(key_id.as_str()));
        assert_eq!(r.header("x-keywarden-scopes"), Some("key:use rest"));
    }
    // Basic with another user name is no credential at all.
    let r = ar(vec![
        ("authorization", format!("Basic {wrong_user}")),
        uri.clone(),
    ])
    .await
    .expect(401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert_eq!(r.body["code"], "invalid_key");
    ar(vec![uri.clone()]).await.expect(401);
    // The original path is checked.
    let r = ar(vec![
        ("authorization", format!("Bearer {key}")),
        ("x-original-uri", "/admin".into()),
    ])
    .await
    .expect(403);
    assert_eq!(r.header("x-keywarden-reason"), Some("path_not_allowed"));
    // The query parameter only where the key allows it.
    let r = ar(vec![("x-original-uri", format!("/api/x?auth-key={key}"))])
        .await
        .expect(403);
    assert_eq!(
        r.header("x-keywarden-reason"),
        Some("query_param_not_allowed")
    );
    ar(vec![(
        "x-original-uri",
        format!("/api/x?a=1&auth-key={query_ok}"),
    )])
    .await
    .expect(204);
    // The original method: read-only keys refuse POST.
    let (ro, _) = s
        .key(&svc, json!({ "name": "ro", "read_only": true }))
        .await;
    ar(vec![
        ("authorization", format!("Bearer {ro}")),
        ("x-original-method", "GET".into()),
    ])
    .await
    .expect(204);
    let r = ar(vec![
        ("authorization", format!("Bearer {ro}")),
        ("x-original-method", "POST".into()),
    ])
    .await
    .expect(403);
    assert_eq!(r.header("x-keywarden-reason"), Some("read_only"));
    // `_profile=Test` names the environment (seed 001); so does X-Keywarden-Environment.
    let (test_key, _) = s
        .key(&svc, json!({ "name": "t", "environment": "test" }))
        .await;
    ar(vec![
        ("authorization", format!("Bearer {test_key}")),
        ("x-original-uri", "/x?_profile=Test".into()),
    ])
    .await
    .expect(204);
    let r = ar(vec![
        ("authorization", format!("Bearer {key}")),
        ("x-original-uri", "/api/x?_profile=Test".into()),
    ])
    .await
    .expect(403);
    assert_eq!(r.header("x-keywarden-reason"), Some("environment_mismatch"));
    ar(vec![
        ("authorization", format!("Bearer {test_key}")),
        ("x-keywarden-environment", "live".into()),
    ])
    .await
    .expect(403);
    // Scopes and operations named by the gateway.
    ar(vec![
        ("authorization", format!("Bearer {query_ok}")),
        ("x-keywarden-scope", "rest".into()),
    ])
    .await
    .expect(204);
    ar(vec![
        ("authorization", format!("Bearer {query_ok}")),
        ("x-keywarden-scope", "ui".into()),
    ])
    .await
    .expect(403);
    // The client address comes from trusted proxies only.
    let (ip_key, _) = s
        .key(
            &svc,
            json!({ "name": "ip", "ip_allowlist": ["192.0.2.0/24"] }),
        )
        .await;
    ar(vec![
        ("authorization", format!("Bearer {ip_key}")),
        ("x-real-ip", "192.0.2.10".into()),
    ])
    .await
    .expect(204);
    ar(vec![
        ("authorization", format!("Bearer {ip_key}")),
        ("x-real-ip", "198.51.100.10".into()),
    ])
    .await
    .expect(403);
    ar(vec![("authorization", format!("Bearer {ip_key}"))])
        .await
        .expect(403);
}
