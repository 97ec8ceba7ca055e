//! A real nginx (Debian package, with `auth_request`) running the configuration that
//! docs/server.md documents — read from that file at test time, with only the two
//! addresses substituted — so the manual and the tests cannot drift apart.
//!
//! Also the tools the gateway tests share: a raw HTTP/1.1 client (header names sent as
//! written, repeated headers, any request target: reqwest would normalize all three),
//! and an upstream that answers with everything it received.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use axum::http::HeaderMap;
use base64::Engine;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{Backend, TestServer};

pub const NGINX: &str = "/usr/sbin/nginx";
/// The addresses docs/server.md writes, replaced by the test's.
const DOC_KEYWARDEN: &str = "127.0.0.1:8420";
const DOC_UPSTREAM: &str = "127.0.0.1:8080";
const BEGIN: &str = "<!-- BEGIN nginx.conf";
const END: &str = "<!-- END nginx.conf -->";

/// Fails (never skips) when nginx is missing.
pub fn require_nginx() {
    // Counted as a use of the real nginx (keywarden-testkit); missing, it fails everywhere.
    assert!(
        keywarden_testkit::nginx().is_some() && Path::new(NGINX).exists(),
        "{NGINX} is missing. The gateway tests run the nginx configuration documented in \
         docs/server.md against a real nginx: install it with `apt-get install nginx-light` \
         (Debian/Ubuntu; it includes auth_request)"
    );
}

/// The nginx block of docs/server.md, exactly as written there.
pub fn documented_block() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/server.md");
    let doc = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let start = doc
        .find(BEGIN)
        .unwrap_or_else(|| panic!("docs/server.md lost its `{BEGIN}` marker"));
    let section = &doc[start..];
    let end = section
        .find(END)
        .unwrap_or_else(|| panic!("docs/server.md lost its `{END}` marker"));
    let section = &section[..end];
    let open = section
        .find("```nginx\n")
        .expect("a ```nginx block between the markers")
        + "```nginx\n".len();
    let close = section[open..]
        .find("\n```")
        .expect("the end of the ```nginx block")
        + open;
    section[open..=close].to_owned()
}

/// The documented block with Keywarden's and the upstream's addresses (`host:port`).
pub fn documented(keywarden: &str, upstream: &str) -> String {
    let block = documented_block();
    for placeholder in [DOC_KEYWARDEN, DOC_UPSTREAM] {
        assert!(
            block.contains(placeholder),
            "the documented nginx block no longer mentions {placeholder}; update the test's placeholders"
        );
    }
    block
        .replace(DOC_KEYWARDEN, keywarden)
        .replace(DOC_UPSTREAM, upstream)
}

/// `http://127.0.0.1:port` → `127.0.0.1:port`.
pub fn address(base: &str) -> &str {
    base.strip_prefix("http://").unwrap_or(base)
}

/// An nginx serving one `server` per body given to [`Nginx::start`].
pub struct Nginx {
    pub ports: Vec<u16>,
    dir: tempfile::TempDir,
    conf: PathBuf,
}

/// `count` distinct free loopback ports (held together while they are chosen).
fn free_ports(count: usize) -> Vec<u16> {
    let held: Vec<std::net::TcpListener> = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("address").port())
        .collect()
}

impl Nginx {
    /// Starts nginx with `count` servers; `servers` turns their ports into their bodies
    /// (each inside `server { listen 127.0.0.1:<port>; … }`). Returns once nginx listens
    /// on all of them: with `daemon on`, the nginx command exits only after it has opened
    /// its sockets, so no waiting or polling is needed.
    pub fn start(count: usize, servers: impl Fn(&[u16]) -> Vec<String>) -> Nginx {
        require_nginx();
        let dir = tempfile::tempdir().expect("temp dir");
        let conf = dir.path().join("nginx.conf");
        let d = dir.path().display();
        for attempt in 0.. {
            let ports = free_ports(count);
            let bodies = servers(&ports);
            assert_eq!(bodies.len(), count);
            let servers: String = ports
                .iter()
                .zip(&bodies)
                .map(|(port, body)| {
                    format!("    server {{\n        listen 127.0.0.1:{port};\n{body}\n    }}\n")
                })
                .collect();
            let text = format!(
                "daemon on;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
                 error_log {d}/error.log info;\nevents {{ worker_connections 512; }}\n\
                 http {{\n    access_log off;\n    default_type text/plain;\n\
                 client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n\
                 fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n\
                 scgi_temp_path {d}/scgi;\n{servers}}}\n"
            );
            std::fs::write(&conf, &text).expect("write nginx.conf");
            let out = Command::new(NGINX)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf)
                .output()
                .expect("run nginx");
            if out.status.success() {
                return Nginx { ports, dir, conf };
            }
            let err = String::from_utf8_lossy(&out.stderr);
            // Another test may take a chosen port before nginx binds it: choose again.
            if err.contains("Address already in use") && attempt < 5 {
                continue;
            }
            panic!("nginx did not start: {err}\n--- nginx.conf ---\n{text}");
        }
        unreachable!()
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let pid = self.dir.path().join("nginx.pid");
        if !pid.exists() {
            // The daemon writes its pid file before it serves: one answer proves it is there.
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.ports[0])) {
                use std::io::{Read, Write};
                let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
                let _ = s.read_to_end(&mut Vec::new());
            }
        }
        let _ = Command::new(NGINX)
            .arg("-p")
            .arg(self.dir.path())
            .arg("-c")
            .arg(&self.conf)
            .args(["-s", "stop"])
            .output();
    }
}

/// A response read off the wire.
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// What the recording upstream says it received.
    #[track_caller]
    pub fn seen(&self) -> Seen {
        assert_eq!(self.status, 200, "not an upstream answer: {self:?}");
        serde_json::from_str(&self.body).expect("the recording upstream's JSON")
    }
}

/// One request to `127.0.0.1:port` from `from` (a loopback address), written byte for
/// byte: the target as given, headers in the order, case and number given.
pub async fn raw_request_from(
    from: &str,
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> RawReply {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{from}:0").parse().expect("address"))
        .expect("bind the client address");
    let mut stream = socket
        .connect(([127, 0, 0, 1], port).into())
        .await
        .expect("connect");
    let mut head =
        format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut bytes))
        .await
        .expect("an answer within 30 s")
        .expect("read");
    parse_reply(&bytes)
}

pub async fn raw_request(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> RawReply {
    raw_request_from("127.0.0.1", port, method, target, headers).await
}

fn parse_reply(bytes: &[u8]) -> RawReply {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).expect("chunk size");
            if size == 0 {
                break;
            }
            out.push_str(&after[..size]);
            rest = &after[size + 2..];
        }
        out
    } else {
        body.to_owned()
    };
    RawReply {
        status,
        headers,
        body,
    }
}

/// What the recording upstream received.
#[derive(Debug, serde::Deserialize)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// An upstream that answers every request with its method, raw URI and every header
/// it received (names lower-cased by the HTTP library, repeated headers kept).
pub async fn recording_upstream() -> u16 {
    let app = axum::Router::new().fallback(
        |method: axum::http::Method, uri: axum::http::Uri, headers: HeaderMap| async move {
            let headers: Vec<(String, String)> = headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            axum::Json(
                json!({ "method": method.as_str(), "uri": uri.to_string(), "headers": headers }),
            )
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

/// nginx running the documented block, in front of this server and a recording upstream.
pub async fn documented_gateway(s: &TestServer) -> Nginx {
    let upstream = recording_upstream().await;
    let keywarden = address(&s.base).to_owned();
    Nginx::start(1, move |_| {
        vec![documented(&keywarden, &format!("127.0.0.1:{upstream}"))]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_enforces_keys() {
    require_nginx();
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

    let nginx = documented_gateway(&s).await;
    let port = nginx.ports[0];
    let send = |method: &'static str, path: String, headers: Vec<(&'static str, String)>| async move {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        raw_request(port, method, &path, &headers).await
    };
    let get = |path: &str, headers| send("GET", path.to_owned(), headers);
    let reason = |r: &RawReply| r.header("x-keywarden-reason").unwrap_or("").to_owned();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("haplo:{key}"));

    // Every credential style of the sources reaches the upstream as the principal, and
    // the credential itself stops at nginx.
    for (style, headers) in [
        ("Bearer", vec![("Authorization", format!("Bearer {key}"))]),
        ("Key=", vec![("Authorization", format!("Key={key}"))]),
        (
            "Basic haplo:<key>",
            vec![("Authorization", format!("Basic {basic}"))],
        ),
        ("X-API-Key", vec![("X-API-Key", key.clone())]),
    ] {
        let r = get("/api/items", headers).await;
        assert_eq!(r.status, 200, "{style}: {r:?}");
        let seen = r.seen();
        assert_eq!(seen.header("x-keywarden-principal"), Some("remote-system"));
        assert_eq!(seen.header("x-keywarden-principal-id"), Some(svc.as_str()));
        assert_eq!(seen.header("x-keywarden-key-id"), Some(key_id.as_str()));
        assert_eq!(seen.header("x-keywarden-scopes"), Some("key:use rest"));
        assert_eq!(seen.header("authorization"), None, "{style}");
        assert_eq!(seen.header("x-api-key"), None, "{style}");
        assert_eq!(reason(&r), "ok");
    }
    let r = get(&format!("/api/items?auth-key={query_key}"), vec![]).await;
    assert_eq!(
        r.seen().header("x-keywarden-principal"),
        Some("remote-system")
    );
    let r = get(&format!("/api/items?auth-key={key}"), vec![]).await;
    assert_eq!(
        (r.status, reason(&r).as_str()),
        (403, "query_param_not_allowed")
    );

    let bearer = |k: &str| vec![("Authorization", format!("Bearer {k}"))];
    // No key, unknown key, expired key: 401 with the challenge.
    let r = get("/api/items", vec![]).await;
    assert_eq!(
        (r.status, r.header("www-authenticate")),
        (401, Some("Bearer"))
    );
    let unknown = keywarden_keys::ApiKey::generate("kw", "live").unwrap();
    assert_eq!(
        get("/api/items", bearer(unknown.expose())).await.status,
        401
    );
    assert_eq!(get("/api/items", bearer(&expired)).await.status, 401);
    // Disabled: 403.
    let r = get("/api/items", bearer(&disabled)).await;
    assert_eq!((r.status, reason(&r).as_str()), (403, "key_disabled"));
    // Read-only key: GET passes, POST is refused (the auth subrequest itself is a GET:
    // only X-Original-Method tells Keywarden).
    assert_eq!(get("/api/items", bearer(&ro)).await.status, 200);
    let r = send("POST", "/api/items".into(), bearer(&ro)).await;
    assert_eq!((r.status, reason(&r).as_str()), (403, "read_only"));
    let r = send("POST", "/api/items".into(), bearer(&key)).await;
    assert_eq!(r.seen().method, "POST");
    // Wrong path.
    assert_eq!(get("/api/status", bearer(&narrow)).await.status, 200);
    let r = get("/api/status/all", bearer(&narrow)).await;
    assert_eq!((r.status, reason(&r).as_str()), (403, "path_not_allowed"));
    // Wrong address (nginx sees the client as 127.0.0.1).
    assert_eq!(get("/api/items", bearer(&here)).await.status, 200);
    let r = get("/api/items", bearer(&elsewhere)).await;
    assert_eq!(
        (r.status, reason(&r).as_str()),
        (403, "address_not_allowed")
    );
    // Rate limit: 429 with Retry-After (and the reason) through nginx.
    assert_eq!(get("/api/items", bearer(&limited)).await.status, 200);
    let r = get("/api/items", bearer(&limited)).await;
    assert_eq!((r.status, reason(&r).as_str()), (429, "rate_limited"));
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    // Disabling through the admin API takes effect on the next request.
    s.patch(&format!("/v1/keys/{key_id}"), json!({ "enabled": false }))
        .await
        .expect(200);
    assert_eq!(get("/api/items", bearer(&key)).await.status, 403);
    // The internal location is not reachable from outside.
    assert_eq!(get("/_keywarden", bearer(&ro)).await.status, 404);
    drop(nginx);
}

/// The documented block is what the tests run: it exists, between its markers, and names
/// the two addresses the tests substitute.
#[test]
fn the_documented_block_is_complete() {
    let block = documented("127.0.0.1:1", "127.0.0.1:2");
    for needle in [
        "location = /_keywarden",
        "location /api/",
        "location @keywarden_limited",
        "location = /v1/auth-request",
        "proxy_set_header X-Real-IP $remote_addr;",
    ] {
        assert!(block.contains(needle), "{needle}");
    }
    assert!(
        block.matches("127.0.0.1:1").count() >= 2,
        "the auth and admin locations name Keywarden"
    );
}
