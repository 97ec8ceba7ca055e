//! A real nginx (Debian package) with `auth_request` in front of a tiny upstream,
//! asking this server about every request.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use base64::Engine;
use serde_json::json;

use crate::harness::{Backend, TestServer};

const NGINX: &str = "/usr/sbin/nginx";

struct Nginx {
    child: Child,
    port: u16,
}

impl Drop for Nginx {
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

/// The configuration documented in docs/server.md, with test paths and ports.
fn config(dir: &Path, port: u16, keywarden: &str, upstream: u16) -> String {
    let d = dir.display();
    format!(
        r#"
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;

    server {{
        listen 127.0.0.1:{port};

        location = /_keywarden {{
            internal;
            proxy_pass {keywarden}/v1/auth-request;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Real-IP $remote_addr;
        }}

        location /api/ {{
            auth_request /_keywarden;
            auth_request_set $kw_principal $upstream_http_x_keywarden_principal;
            auth_request_set $kw_scopes $upstream_http_x_keywarden_scopes;
            auth_request_set $kw_reason $upstream_http_x_keywarden_reason;
            auth_request_set $kw_retry $upstream_http_retry_after;
            add_header X-Keywarden-Reason $kw_reason always;
            error_page 500 = @keywarden_limited;
            proxy_set_header X-Keywarden-Principal $kw_principal;
            proxy_set_header X-Keywarden-Scopes $kw_scopes;
            proxy_set_header Authorization "";
            proxy_set_header X-Api-Key "";
            proxy_pass http://127.0.0.1:{upstream};
        }}

        # auth_request only understands 2xx/401/403; a 429 from Keywarden arrives
        # here as a 500 with Retry-After captured, and leaves as a 429.
        location @keywarden_limited {{
            if ($kw_retry) {{
                add_header Retry-After $kw_retry always;
                return 429;
            }}
            return 500;
        }}
    }}
}}
"#
    )
}

async fn upstream() -> u16 {
    let app = axum::Router::new().fallback(|headers: HeaderMap| async move {
        let who = headers
            .get("x-keywarden-principal")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        let leaked = headers.contains_key("authorization") || headers.contains_key("x-api-key");
        format!("upstream saw principal={who} credential_forwarded={leaked}")
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

async fn start_nginx(dir: &Path, keywarden: &str, upstream: u16) -> Nginx {
    let port = free_port();
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, config(dir, port, keywarden, upstream)).unwrap();
    let test = Command::new(NGINX)
        .args(["-t", "-q", "-p"])
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&test.stderr)
    );
    let child = Command::new(NGINX)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let nginx = Nginx { child, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nginx did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    nginx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_enforces_keys() {
    if keywarden_testkit::nginx().is_none() {
        return;
    }
    let s = TestServer::start_with(Backend::Sqlite, |c| c.basic_user = "haplo".into()).await;
    let svc = s
        .principal("service_user", "remote-system", &["key:use", "rest"])
        .await;
    let (key, key_id) = s
        .key(&svc, json!({ "name": "any", "path_prefixes": ["/api/"] }))
        .await;
    let (query_key, _) = s
        .key(&svc, json!({ "name": "q", "allow_query_param": true }))
        .await;
    let (ro, _) = s
        .key(&svc, json!({ "name": "ro", "read_only": true }))
        .await;
    let (narrow, _) = s
        .key(
            &svc,
            json!({ "name": "narrow", "path_prefixes": ["=/api/status"] }),
        )
        .await;
    let (here, _) = s
        .key(
            &svc,
            json!({ "name": "here", "ip_allowlist": ["127.0.0.1/32"] }),
        )
        .await;
    let (elsewhere, _) = s
        .key(
            &svc,
            json!({ "name": "elsewhere", "ip_allowlist": ["192.0.2.0/24"] }),
        )
        .await;
    let (expired, _) = s
        .key(
            &svc,
            json!({ "name": "expired", "expires_at": keywarden_core::now() - 1 }),
        )
        .await;
    let (limited, _) = s
        .key(
            &svc,
            json!({ "name": "limited", "policy": { "requests": 1, "per_seconds": 3600 } }),
        )
        .await;
    let (disabled, disabled_id) = s.key(&svc, json!({ "name": "disabled" })).await;
    s.patch(
        &format!("/v1/keys/{disabled_id}"),
        json!({ "enabled": false }),
    )
    .await
    .expect(200);

    let dir = tempfile::tempdir().unwrap();
    let up = upstream().await;
    let nginx = start_nginx(dir.path(), &s.base, up).await;
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{}", nginx.port);
    let send = |method: reqwest::Method, path: &str, headers: Vec<(&'static str, String)>| {
        let mut req = client.request(method, format!("{base}{path}"));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let reason = r
                .headers()
                .get("x-keywarden-reason")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let retry = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            (status, reason, retry, r.text().await.unwrap_or_default())
        }
    };
    let get = reqwest::Method::GET;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("haplo:{key}"));

    // Every credential style of the sources reaches the upstream as the principal.
    for (style, headers) in [
        ("Bearer", vec![("authorization", format!("Bearer {key}"))]),
        ("Key=", vec![("authorization", format!("Key={key}"))]),
        (
            "Basic haplo:<key>",
            vec![("authorization", format!("Basic {basic}"))],
        ),
        ("X-API-Key", vec![("x-api-key", key.clone())]),
    ] {
        let (status, _, _, body) = send(get.clone(), "/api/items", headers).await;
        assert_eq!(status, 200, "{style}: {body}");
        assert_eq!(
            body, "upstream saw principal=remote-system credential_forwarded=false",
            "{style}"
        );
    }
    let (status, _, _, body) = send(
        get.clone(),
        &format!("/api/items?auth-key={query_key}"),
        vec![],
    )
    .await;
    assert_eq!(
        (status, body.contains("principal=remote-system")),
        (200, true)
    );
    let (status, reason, _, _) =
        send(get.clone(), &format!("/api/items?auth-key={key}"), vec![]).await;
    assert_eq!((status, reason.as_str()), (403, "query_param_not_allowed"));

    let bearer = |k: &str| vec![("authorization", format!("Bearer {k}"))];
    // No key, unknown key, expired key: 401.
    assert_eq!(send(get.clone(), "/api/items", vec![]).await.0, 401);
    let unknown = keywarden_keys::ApiKey::generate("kw", "live").unwrap();
    assert_eq!(
        send(get.clone(), "/api/items", bearer(unknown.expose()))
            .await
            .0,
        401
    );
    assert_eq!(
        send(get.clone(), "/api/items", bearer(&expired)).await.0,
        401
    );
    // Disabled: 403.
    let (status, reason, _, _) = send(get.clone(), "/api/items", bearer(&disabled)).await;
    assert_eq!((status, reason.as_str()), (403, "key_disabled"));
    // Read-only key: GET passes, POST is refused.
    assert_eq!(send(get.clone(), "/api/items", bearer(&ro)).await.0, 200);
    let (status, reason, _, _) = send(reqwest::Method::POST, "/api/items", bearer(&ro)).await;
    assert_eq!((status, reason.as_str()), (403, "read_only"));
    // Wrong path.
    assert_eq!(
        send(get.clone(), "/api/status", bearer(&narrow)).await.0,
        200
    );
    let (status, reason, _, _) = send(get.clone(), "/api/status/all", bearer(&narrow)).await;
    assert_eq!((status, reason.as_str()), (403, "path_not_allowed"));
    // Wrong address (nginx sees the client as 127.0.0.1).
    assert_eq!(send(get.clone(), "/api/items", bearer(&here)).await.0, 200);
    let (status, reason, _, _) = send(get.clone(), "/api/items", bearer(&elsewhere)).await;
    assert_eq!((status, reason.as_str()), (403, "address_not_allowed"));
    // Rate limit: 429 with Retry-After through nginx.
    assert_eq!(
        send(get.clone(), "/api/items", bearer(&limited)).await.0,
        200
    );
    let (status, _, retry, _) = send(get.clone(), "/api/items", bearer(&limited)).await;
    assert_eq!(status, 429);
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);
    // Disabling through the admin API takes effect on the next request.
    s.patch(&format!("/v1/keys/{key_id}"), json!({ "enabled": false }))
        .await
        .expect(200);
    assert_eq!(send(get.clone(), "/api/items", bearer(&key)).await.0, 403);
    drop(nginx);
}
