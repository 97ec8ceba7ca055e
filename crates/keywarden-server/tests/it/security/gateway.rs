//! Facts about a request come from the gateway, never from the client (docs/server.md,
//! "nginx"). Every attack goes through the real nginx running the documented block, or
//! straight at the server from a peer that is not a trusted proxy (127.0.0.2 and
//! 127.0.0.3: Linux routes all of 127/8 to the loopback interface).

use reqwest::Method;
use serde_json::json;

use crate::harness::{Backend, TestServer};
use crate::nginx::{
    Nginx, RawReply, address, documented, documented_gateway, raw_request, raw_request_from,
    recording_upstream,
};

/// Everything a client might send to pass for the gateway or for Keywarden, in several
/// spellings: repeated, in other letter cases, with underscores. Values that must never
/// reach Keywarden's decision or the upstream carry `192.0.2.` or `evil`.
const HOSTILE: &[(&str, &str)] = &[
    ("X-Real-IP", "192.0.2.10"),
    ("x-real-ip", "192.0.2.11"),
    ("X-REAL-IP", "192.0.2.12"),
    ("X_Real_IP", "192.0.2.13"),
    ("x_real_ip", "192.0.2.14"),
    ("X-Forwarded-For", "192.0.2.15"),
    ("X-Forwarded-For", "192.0.2.16, 127.0.0.1"),
    ("X-Original-Remote-Addr", "192.0.2.17"),
    ("Forwarded", "for=192.0.2.18"),
    ("X-Original-URI", "/api/public/evil"),
    ("x-original-uri", "/api/public/evil-2"),
    ("X_Original_URI", "/api/public/evil-3"),
    ("X-Original-Method", "GET"),
    ("X-ORIGINAL-METHOD", "GET"),
    ("X_Original_Method", "GET"),
    ("X-Keywarden-Environment", "test"),
    ("X-Keywarden-Scope", "ui"),
    ("x-keywarden-operation", "orders.read"),
    ("X-Keywarden-Operation", "orders.read"),
    ("X_Keywarden_Operation", "orders.read"),
    ("X-Keywarden-Principal", "evil-principal"),
    ("X-KEYWARDEN-PRINCIPAL", "evil-principal-2"),
    ("X_Keywarden_Principal", "evil-principal-3"),
    ("X-Keywarden-Principal-Id", "evil-principal-id"),
    ("X-Keywarden-Key-Id", "evil-key-id"),
    ("X-Keywarden-Scopes", "admin:write evil"),
    ("X-Keywarden-Reason", "evil-ok"),
    // A proxy that honours hop-by-hop lists would drop the headers it sets itself.
    (
        "Connection",
        "X-Real-IP, X-Original-URI, X-Original-Method, X-Keywarden-Principal",
    ),
    // Passes through untouched: proves the upstream does see client headers.
    ("X-Client-Note", "harmless"),
];

/// Headers the upstream may only ever receive from nginx, and the one value nginx sets.
fn assert_upstream_saw_only_the_gateway(r: &RawReply, principal: Option<(&str, &str)>) {
    let seen = r.seen();
    for (name, value) in &seen.headers {
        assert!(
            !value.contains("evil") && !value.contains("192.0.2."),
            "the upstream received a client's {name}: {value}"
        );
        assert!(!name.contains('_'), "the upstream received {name}");
    }
    assert_eq!(seen.all("x-client-note"), ["harmless"]);
    assert_eq!(seen.all("x-real-ip"), ["127.0.0.1"]);
    assert_eq!(seen.all("x-forwarded-for"), ["127.0.0.1"]);
    for cleared in [
        "authorization",
        "x-api-key",
        "x-original-uri",
        "x-original-method",
        "x-original-remote-addr",
        "forwarded",
        "x-keywarden-environment",
        "x-keywarden-scope",
        "x-keywarden-operation",
        "x-keywarden-reason",
    ] {
        assert_eq!(seen.all(cleared), Vec::<&str>::new(), "{cleared}");
    }
    match principal {
        Some((id, name)) => {
            assert_eq!(seen.all("x-keywarden-principal-id"), [id]);
            assert_eq!(seen.all("x-keywarden-principal"), [name]);
            assert_eq!(seen.all("x-keywarden-key-id").len(), 1);
            assert_eq!(seen.all("x-keywarden-scopes").len(), 1);
        }
        None => {
            for name in [
                "x-keywarden-principal-id",
                "x-keywarden-principal",
                "x-keywarden-key-id",
                "x-keywarden-scopes",
            ] {
                assert_eq!(seen.all(name), Vec::<&str>::new(), "{name}");
            }
        }
    }
}

fn with_hostile<'a>(credential: &'a [(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    credential.iter().chain(HOSTILE).copied().collect()
}

fn reason(r: &RawReply) -> &str {
    r.header("x-keywarden-reason").unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_client_headers_through_nginx_change_nothing() {
    let s = TestServer::start(Backend::Sqlite).await;
    let svc = s
        .principal("service_user", "billing", &["key:use", "rest", "ui"])
        .await;
    let (plain, plain_id) = s.key(&svc, json!({ "name": "plain" })).await;
    let (ip, _) = s
        .key(
            &svc,
            json!({ "name": "ip", "ip_allowlist": ["192.0.2.0/24"] }),
        )
        .await;
    let (ro, _) = s
        .key(&svc, json!({ "name": "ro", "read_only": true }))
        .await;
    let (public, _) = s
        .key(
            &svc,
            json!({ "name": "public", "path_prefixes": ["/api/public"] }),
        )
        .await;
    let (ops, _) = s
        .key(
            &svc,
            json!({ "name": "ops", "operations": ["orders.read"] }),
        )
        .await;
    let (rest_only, _) = s
        .key(&svc, json!({ "name": "rest-only", "scopes": ["rest"] }))
        .await;
    let nginx = documented_gateway(&s).await;
    let port = nginx.ports[0];
    let bearer = |k: &str| format!("Bearer {k}");

    // Control: with every hostile header, a plain key passes, as itself, and the upstream
    // receives nothing the client wrote about the gateway or Keywarden.
    for method in ["GET", "POST", "DELETE"] {
        let auth = bearer(&plain);
        let r = raw_request(
            port,
            method,
            "/api/items",
            &with_hostile(&[("Authorization", &auth)]),
        )
        .await;
        assert_eq!(r.status, 200, "{method}: {r:?}");
        assert_eq!(r.seen().method, method);
        assert_eq!(r.seen().uri, "/api/items");
        assert_upstream_saw_only_the_gateway(&r, Some((&svc, "billing")));
        assert_eq!(
            r.seen().header("x-keywarden-key-id"),
            Some(plain_id.as_str())
        );
        assert_eq!(
            r.seen().header("x-keywarden-scopes"),
            Some("key:use rest ui")
        );
    }
    // The key header (X-Api-Key, in any case) stops at nginx too.
    for name in ["X-Api-Key", "x-api-key", "X-API-KEY"] {
        let r = raw_request(port, "GET", "/api/items", &with_hostile(&[(name, &plain)])).await;
        assert_eq!(r.status, 200, "{name}");
        assert_upstream_saw_only_the_gateway(&r, Some((&svc, "billing")));
    }
    // No key: refused, whatever the client says about itself; nothing reaches upstream.
    let r = raw_request(port, "GET", "/api/items", HOSTILE).await;
    assert_eq!((r.status, reason(&r)), (401, "invalid_key"));

    // An IP allowlist (192.0.2.0/24) is not satisfied by any client header.
    let auth = bearer(&ip);
    let r = raw_request(
        port,
        "GET",
        "/api/items",
        &with_hostile(&[("Authorization", &auth)]),
    )
    .await;
    assert_eq!((r.status, reason(&r)), (403, "address_not_allowed"));
    for (name, value) in HOSTILE.iter().filter(|(_, v)| v.contains("192.0.2.")) {
        let r = raw_request(
            port,
            "GET",
            "/api/items",
            &[("Authorization", &auth), (name, value)],
        )
        .await;
        assert_eq!(
            (r.status, reason(&r)),
            (403, "address_not_allowed"),
            "{name}"
        );
    }

    // A read-only key cannot pass a write by naming GET as the original method.
    let auth = bearer(&ro);
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let r = raw_request(
            port,
            method,
            "/api/items",
            &with_hostile(&[("Authorization", &auth)]),
        )
        .await;
        assert_eq!((r.status, reason(&r)), (403, "read_only"), "{method}");
    }
    assert_eq!(
        raw_request(
            port,
            "GET",
            "/api/items",
            &with_hostile(&[("Authorization", &auth)])
        )
        .await
        .status,
        200
    );

    // A path-restricted key cannot pass by naming an allowed original URI.
    let auth = bearer(&public);
    for path in [
        "/api/private",
        "/api/public-internal",
        "/api/private?x=/api/public",
    ] {
        let r = raw_request(
            port,
            "GET",
            path,
            &with_hostile(&[("Authorization", &auth)]),
        )
        .await;
        assert_eq!((r.status, reason(&r)), (403, "path_not_allowed"), "{path}");
    }
    // An absolute-form target names the same path (nginx forwards only the path).
    for (target, status) in [
        ("http://evil.example/api/private", 403),
        ("http://evil.example/api/public/x", 200),
    ] {
        let r = raw_request(
            port,
            "GET",
            target,
            &with_hostile(&[("Authorization", &auth)]),
        )
        .await;
        assert_eq!(r.status, status, "{target}: {r:?}");
    }
    let r = raw_request(
        port,
        "GET",
        "/api/public/x",
        &with_hostile(&[("Authorization", &auth)]),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_upstream_saw_only_the_gateway(&r, Some((&svc, "billing")));

    // The client cannot supply the operation its key requires…
    let auth = bearer(&ops);
    let r = raw_request(
        port,
        "GET",
        "/api/orders",
        &with_hostile(&[("Authorization", &auth)]),
    )
    .await;
    assert_eq!((r.status, reason(&r)), (403, "operation_not_allowed"));
    // …nor a scope or environment: Keywarden never hears them (each would refuse here).
    let auth = bearer(&rest_only);
    let r = raw_request(
        port,
        "GET",
        "/api/items",
        &with_hostile(&[("Authorization", &auth)]),
    )
    .await;
    assert_eq!(
        r.status, 200,
        "X-Keywarden-Scope: ui reached Keywarden: {r:?}"
    );
    drop(nginx);
}

/// What an operator sets for an upstream (`set $kw_scope …` as the documented comments
/// show) cannot be replaced or removed by the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_requirements_cannot_be_replaced_by_the_client() {
    let s = TestServer::start(Backend::Sqlite).await;
    let svc = s
        .principal("service_user", "orders", &["key:use", "rest", "ui"])
        .await;
    let (good, _) = s
        .key(
            &svc,
            json!({ "name": "good", "scopes": ["rest"], "operations": ["orders.write"] }),
        )
        .await;
    let (ui_only, _) = s
        .key(
            &svc,
            json!({ "name": "ui", "scopes": ["ui"], "operations": ["orders.write"] }),
        )
        .await;
    let (reader, _) = s
        .key(
            &svc,
            json!({ "name": "reader", "operations": ["orders.read"] }),
        )
        .await;
    let (test_env, _) = s
        .key(
            &svc,
            json!({ "name": "t", "environment": "test", "operations": ["orders.write"] }),
        )
        .await;
    let upstream = recording_upstream().await;
    let keywarden = address(&s.base).to_owned();
    let nginx = Nginx::start(1, |_| {
        let block = documented(&keywarden, &format!("127.0.0.1:{upstream}"));
        let mut operator = block.clone();
        for (from, to) in [
            ("set $kw_environment \"\";", "set $kw_environment live;"),
            ("set $kw_scope \"\";", "set $kw_scope rest;"),
            ("set $kw_operation \"\";", "set $kw_operation orders.write;"),
        ] {
            assert_eq!(block.matches(from).count(), 1, "{from}");
            operator = operator.replace(from, to);
        }
        vec![operator]
    });
    let port = nginx.ports[0];
    let attack: &[(&str, &str)] = &[
        ("X-Keywarden-Scope", "ui"),
        ("x-keywarden-scope", ""),
        ("X-Keywarden-Operation", "orders.read"),
        ("X-KEYWARDEN-OPERATION", ""),
        ("X-Keywarden-Environment", "test"),
        ("X_Keywarden_Environment", "test"),
        ("X-Client-Note", "harmless"),
    ];
    let call = |key: String| async move {
        let auth = format!("Bearer {key}");
        let headers: Vec<(&str, &str)> = [("Authorization", auth.as_str())]
            .into_iter()
            .chain(attack.iter().copied())
            .collect();
        raw_request(port, "GET", "/api/orders", &headers).await
    };
    let r = call(good).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_upstream_saw_only_the_gateway(&r, Some((&svc, "orders")));
    let r = call(ui_only).await;
    assert_eq!((r.status, reason(&r)), (403, "scope_not_granted"));
    let r = call(reader).await;
    assert_eq!((r.status, reason(&r)), (403, "operation_not_allowed"));
    let r = call(test_env.clone()).await;
    assert_eq!((r.status, reason(&r)), (403, "environment_mismatch"));
    // `_profile=` names an environment only where the gateway names none.
    let r = raw_request(
        port,
        "GET",
        "/api/orders?_profile=test",
        &[("Authorization", &format!("Bearer {test_env}"))],
    )
    .await;
    assert_eq!((r.status, reason(&r)), (403, "environment_mismatch"));
    drop(nginx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_through_nginx_keeps_gateway_endpoints_and_addresses_out_of_reach() {
    let s = TestServer::start(Backend::Sqlite).await;
    let ops = s
        .principal("user", "operator", &["key:use", "admin:read"])
        .await;
    let (elsewhere, _) = s
        .key(
            &ops,
            json!({ "name": "elsewhere", "ip_allowlist": ["192.0.2.0/24"] }),
        )
        .await;
    let (here, _) = s
        .key(
            &ops,
            json!({ "name": "here", "ip_allowlist": ["127.0.0.1/32"] }),
        )
        .await;
    let (from_two, _) = s
        .key(
            &ops,
            json!({ "name": "two", "ip_allowlist": ["127.0.0.2/32"] }),
        )
        .await;
    let svc = s
        .principal("service_user", "svc", &["key:use", "rest"])
        .await;
    let (plain, _) = s.key(&svc, json!({ "name": "plain" })).await;
    // Three servers in one nginx: the documented block; the same with the admin
    // location's upstream replaced by a recorder (to see what Keywarden would receive);
    // and the same without the two `return 404` locations (the second line of defence).
    let recorder = recording_upstream().await;
    let keywarden = address(&s.base).to_owned();
    let nginx = Nginx::start(3, |_| {
        let block = documented(&keywarden, "127.0.0.1:9");
        let admin_pass = format!("proxy_pass http://{keywarden};");
        assert_eq!(block.matches(&admin_pass).count(), 1, "{admin_pass}");
        let recorded = block.replace(
            &admin_pass,
            &format!("proxy_pass http://127.0.0.1:{recorder};"),
        );
        let mut without_404 = block.clone();
        for line in [
            "location = /v1/auth-request { return 404; }",
            "location = /v1/verify { return 404; }",
        ] {
            assert_eq!(block.matches(line).count(), 1, "{line}");
            without_404 = without_404.replace(line, "");
        }
        vec![block, recorded, without_404]
    });
    let (port, recorded, without_404) = (nginx.ports[0], nginx.ports[1], nginx.ports[2]);

    // What the admin location passes to Keywarden: nginx's X-Real-IP, none of the
    // client's gateway facts, and the caller's credential (the admin API needs it).
    let auth = format!("Bearer {here}");
    let r = raw_request(
        recorded,
        "GET",
        "/v1/keys",
        &with_hostile(&[("Authorization", &auth)]),
    )
    .await;
    let seen = r.seen();
    assert_eq!(seen.uri, "/v1/keys");
    assert_eq!(seen.all("x-real-ip"), ["127.0.0.1"]);
    assert_eq!(seen.all("authorization"), [auth.as_str()]);
    for (name, value) in &seen.headers {
        assert!(
            !name.starts_with("x-original-")
                && !name.starts_with("x-keywarden-")
                && !name.contains('_'),
            "Keywarden would receive a client's {name}: {value}"
        );
        if name != "x-forwarded-for" && name != "forwarded" {
            assert!(!value.contains("192.0.2."), "{name}: {value}");
        }
    }
    // Even without the `return 404` locations, a client's gateway facts do not reach
    // Keywarden through the admin location: /v1/auth-request refuses it.
    let auth = format!("Bearer {plain}");
    let r = raw_request(
        without_404,
        "GET",
        "/v1/auth-request",
        &with_hostile(&[("Authorization", &auth)]),
    )
    .await;
    assert_eq!((r.status, reason(&r)), (403, "untrusted_gateway"), "{r:?}");

    // The admin API works through nginx, which names the client (127.0.0.1)…
    let auth = format!("Bearer {here}");
    let r = raw_request(
        port,
        "GET",
        "/v1/keys",
        &with_hostile(&[("Authorization", &auth)]),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    // …and a client naming itself in any header does not satisfy an allowlist.
    let auth = format!("Bearer {elsewhere}");
    let r = raw_request(
        port,
        "GET",
        "/v1/keys",
        &with_hostile(&[("Authorization", &auth)]),
    )
    .await;
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.body.contains("address_not_allowed"), "{}", r.body);
    // The same from an untrusted peer straight at the server: its X-Real-IP is ignored,
    // its own address is what counts.
    for (key, expected) in [(&elsewhere, 403), (&from_two, 200)] {
        let r = untrusted_client("127.0.0.2")
            .get(format!("{}/v1/keys", s.base))
            .bearer_auth(key)
            .header("x-real-ip", "192.0.2.10")
            .header("x-forwarded-for", "192.0.2.10")
            .header("x-original-remote-addr", "192.0.2.10")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), expected);
    }

    // Clients cannot reach the gateway endpoints through nginx, however they spell them.
    let auth = format!("Bearer {plain}");
    let facts = [
        ("Authorization", auth.as_str()),
        ("X-Original-Method", "GET"),
        ("X-Original-URI", "/api/items"),
        ("X-Real-IP", "192.0.2.10"),
    ];
    for target in [
        "/v1/auth-request",
        "/v1/auth-request?x=1",
        "/v1//auth-request",
        "/v1/./auth-request",
        "/v1/x/../auth-request",
        "/v1/%61uth-request",
        "/v1/auth%2Drequest",
        "//v1/auth-request",
        "/v1/auth-request/",
        "/v1/verify",
        "/v1//verify",
        "/v1/%76erify",
    ] {
        for method in ["GET", "POST"] {
            let r = raw_request(port, method, target, &facts).await;
            assert_eq!(r.status, 404, "{method} {target}: {r:?}");
            assert_eq!(r.header("x-keywarden-principal"), None);
            assert_eq!(r.header("x-keywarden-reason"), None);
        }
    }
    drop(nginx);
}

/// A reqwest client whose connections come from `local` (a loopback address that is not
/// a trusted proxy).
fn untrusted_client(local: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(local.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_from_an_untrusted_peer_are_ignored() {
    let s = TestServer::start(Backend::Sqlite).await;
    let svc = s
        .principal("service_user", "svc", &["key:use", "rest"])
        .await;
    let (plain, _) = s.key(&svc, json!({ "name": "plain" })).await;
    let (ip, _) = s
        .key(
            &svc,
            json!({ "name": "ip", "ip_allowlist": ["192.0.2.0/24"] }),
        )
        .await;
    let (ro, _) = s
        .key(&svc, json!({ "name": "ro", "read_only": true }))
        .await;
    let attacker = untrusted_client("127.0.0.2");
    let spoof = |req: reqwest::RequestBuilder| {
        req.header("x-real-ip", "192.0.2.10")
            .header("x-forwarded-for", "192.0.2.10")
            .header("x-original-remote-addr", "192.0.2.10")
            .header("x-original-method", "GET")
            .header("x-original-uri", "/api/items")
    };

    // /v1/auth-request answers trusted gateways only, even with a valid key and every fact.
    for key in [&plain, &ip, &ro] {
        for method in [Method::GET, Method::POST] {
            let r = spoof(attacker.request(method.clone(), format!("{}/v1/auth-request", s.base)))
                .bearer_auth(key)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 403, "{method}");
            assert_eq!(
                r.headers()["x-keywarden-reason"].to_str().unwrap(),
                "untrusted_gateway"
            );
            assert!(!r.headers().contains_key("x-keywarden-principal"));
        }
    }
    // Raw, with case variants and repeats: still untrusted.
    let auth = format!("Bearer {plain}");
    let r = raw_request_from(
        "127.0.0.2",
        port_of(&s.base),
        "GET",
        "/v1/auth-request",
        &[
            ("Authorization", &auth),
            ("X-ORIGINAL-METHOD", "GET"),
            ("X-Original-URI", "/api/items"),
            ("X-REAL-IP", "192.0.2.10"),
            ("x-real-ip", "192.0.2.10"),
        ],
    )
    .await;
    assert_eq!((r.status, reason(&r)), (403, "untrusted_gateway"));

    // /v1/verify: the address headers do not make the caller someone else.
    let r = spoof(attacker.post(format!("{}/v1/verify", s.base)))
        .json(&json!({ "key": ip, "method": "GET", "path": "/api/items" }))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["reason"], "address_not_allowed", "{body}");

    // The same requests from the trusted gateway (127.0.0.1) are believed: the refusals
    // above are about the peer, not the headers.
    let r = s
        .call(
            Method::GET,
            "/v1/auth-request",
            Some(&ip),
            None,
            &[
                ("x-real-ip", "192.0.2.10"),
                ("x-original-method", "GET"),
                ("x-original-uri", "/api/items"),
            ],
        )
        .await;
    r.expect(204);
}

fn port_of(base: &str) -> u16 {
    address(base)
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("a port")
}

/// Failed verifications count against the address that made them, so an untrusted peer
/// can neither lock out the address it names nor spread its guesses over invented ones;
/// behind nginx, the address is the one nginx saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_throttle_the_address_that_made_them() {
    let s = TestServer::start_with(Backend::Sqlite, |c| c.max_failures = 3).await;
    let svc = s
        .principal("service_user", "svc", &["key:use", "rest"])
        .await;
    let (good, _) = s.key(&svc, json!({ "name": "good" })).await;
    let victim = "198.51.100.7";
    let bad = keywarden_keys::ApiKey::generate("kw", "live").unwrap();
    let bad = bad.expose().to_owned();

    // Straight at the server from 127.0.0.2, claiming to be the victim every way it can.
    let attacker = untrusted_client("127.0.0.2");
    let guess = |key: String| {
        attacker
            .post(format!("{}/v1/verify", s.base))
            .header("x-real-ip", victim)
            .header("x-forwarded-for", victim)
            .header("x-original-remote-addr", victim)
            .json(&json!({ "key": key, "method": "GET", "path": "/", "client_address": victim }))
            .send()
    };
    for _ in 0..3 {
        let r = guess(bad.clone()).await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["reason"], "invalid_key");
    }
    // Now the attacker is throttled, even with a good key…
    let r = guess(good.clone()).await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().contains_key("retry-after"));
    // …and so are its gateway calls, which it had no right to make anyway.
    let r = attacker
        .get(format!("{}/v1/auth-request", s.base))
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // Behind nginx, from 127.0.0.3: the address nginx saw is throttled, not the claimed one.
    let nginx = documented_gateway(&s).await;
    let port = nginx.ports[0];
    let via_nginx = |key: String| async move {
        let auth = format!("Bearer {key}");
        raw_request_from(
            "127.0.0.3",
            port,
            "GET",
            "/api/items",
            &[
                ("Authorization", auth.as_str()),
                ("X-Real-IP", victim),
                ("X-Forwarded-For", victim),
            ],
        )
        .await
    };
    for _ in 0..3 {
        assert_eq!(via_nginx(bad.clone()).await.status, 401);
    }
    let r = via_nginx(good.clone()).await;
    assert_eq!((r.status, reason(&r)), (429, "too_many_failures"));

    // The victim is not locked out: the trusted gateway vouches for it, and it passes.
    s.call(
        Method::GET,
        "/v1/auth-request",
        Some(&good),
        None,
        &[
            ("x-real-ip", victim),
            ("x-original-method", "GET"),
            ("x-original-uri", "/api/items"),
        ],
    )
    .await
    .expect(204);
    let r = s
        .verify(json!({ "key": good, "method": "GET", "path": "/", "client_address": victim }))
        .await
        .expect(200);
    assert_eq!(r.body["valid"], true);
    // Nor are nginx's other clients (127.0.0.1 through nginx).
    let auth = format!("Bearer {good}");
    let r = raw_request(port, "GET", "/api/items", &[("Authorization", &auth)]).await;
    assert_eq!(r.status, 200, "{r:?}");
    drop(nginx);
}
