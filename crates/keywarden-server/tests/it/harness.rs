//! A real server on a loopback port, over SQLite (always) or PostgreSQL (when
//! `KEYWARDEN_TEST_POSTGRES_URL` is set; each test gets a database of its own).

use std::sync::Arc;
use std::time::Duration;

use keywarden_server::App;
use keywarden_server::config::Config;
use keywarden_server::store::Store;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const PG_ENV: &str = "KEYWARDEN_TEST_POSTGRES_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a scenario against both backends: `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::harness::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if keywarden_testkit::postgres().is_none() {
                        return;
                    }
                    super::$name($crate::harness::Backend::Postgres).await;
                }
            }
        )*
    };
}

pub fn pg_url() -> Option<String> {
    std::env::var(PG_ENV).ok().filter(|u| !u.is_empty())
}

/// Creates a fresh database on the test cluster and returns its URL.
pub async fn fresh_pg_database() -> String {
    let base = pg_url().expect("PostgreSQL URL");
    let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(conn);
    let name = format!("kwtest_{}", uuid::Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    let (prefix, _) = base.rsplit_once('/').expect("URL with a database name");
    let query = base
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{prefix}/{name}{query}")
}

pub struct TestServer {
    pub app: App,
    pub base: String,
    pub admin_key: String,
    pub http: reqwest::Client,
    pub database: String,
    _dir: tempfile::TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }
}

pub fn test_config(database: String) -> Config {
    Config {
        database,
        poll_interval: Duration::from_millis(100),
        max_failures: 1000,
        // The test client connects from 127.0.0.1 and plays the gateway; attacks from
        // untrusted peers connect from another loopback address (127.0.0.2).
        trusted_proxies: vec!["127.0.0.1/32".parse().expect("network")],
        ..Config::default()
    }
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = match backend {
            Backend::Sqlite => dir
                .path()
                .join("keywarden.db")
                .to_string_lossy()
                .into_owned(),
            Backend::Postgres => fresh_pg_database().await,
        };
        let mut config = test_config(database.clone());
        tweak(&mut config);
        let mut app = App::open(config).await.expect("open the store");
        let admin_key = app
            .service
            .initialize("admin", None)
            .await
            .expect("initialize")
            .expose()
            .to_owned();
        app.start_followers();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        // The server's own accept loop (connection cap, timeouts), as in production.
        tokio::spawn(app.serve(listener, std::future::pending()));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        TestServer {
            app,
            base,
            admin_key,
            http,
            database,
            _dir: dir,
        }
    }

    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.app.service.store)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: &'static [u8],
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    /// A request made with `token` (another caller than the administrator). PATCH and
    /// DELETE carry the If-Match of the object's current ETag, read by the administrator,
    /// so a refusal is about the caller, never a missing precondition.
    pub async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let etag = if matches!(method, Method::PATCH | Method::DELETE) {
            self.get(path).await.header("etag").map(str::to_owned)
        } else {
            None
        };
        let headers: Vec<(&str, &str)> = etag.iter().map(|e| ("if-match", e.as_str())).collect();
        self.call(method, path, Some(token), body, &headers).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, Some(&self.admin_key), None, &[])
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(&self.admin_key), Some(body), &[])
            .await
    }

    /// PATCH with the current ETag of the object at `path`.
    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        let current = self.get(path).await.expect(200);
        let etag = current.header("etag").expect("ETag").to_owned();
        self.call(
            Method::PATCH,
            path,
            Some(&self.admin_key),
            Some(body),
            &[("if-match", &etag)],
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        let current = self.get(path).await.expect(200);
        let etag = current.header("etag").expect("ETag").to_owned();
        self.call(
            Method::DELETE,
            path,
            Some(&self.admin_key),
            None,
            &[("if-match", &etag)],
        )
        .await
    }

    pub async fn verify(&self, body: Value) -> Reply {
        self.call(Method::POST, "/v1/verify", None, Some(body), &[])
            .await
    }

    /// Group + role with `privileges`, and a principal in it. Returns the principal id.
    pub async fn principal(&self, kind: &str, name: &str, privileges: &[&str]) -> String {
        let group = self
            .post("/v1/groups", json!({ "name": format!("{name}-group") }))
            .await
            .expect(201);
        let group_id = group.body["id"].as_str().expect("id").to_owned();
        self.post(
            "/v1/roles",
            json!({ "name": format!("{name}-role"), "privileges": privileges, "groups": [group_id] }),
        )
        .await
        .expect(201);
        let p = self
            .post(
                "/v1/principals",
                json!({ "kind": kind, "name": name, "groups": [group_id] }),
            )
            .await
            .expect(201);
        p.body["id"].as_str().expect("id").to_owned()
    }

    /// Creates a key for a principal; returns `(key text, key id)`.
    pub async fn key(&self, principal: &str, body: Value) -> (String, String) {
        let r = self
            .post(&format!("/v1/principals/{principal}/keys"), body)
            .await
            .expect(201);
        (
            r.body["key"].as_str().expect("key").to_owned(),
            r.body["object"]["id"].as_str().expect("id").to_owned(),
        )
    }
}
