//! The key server's admin API over HTTP (reqwest, rustls). It turns every answer
//! into an [`Outcome`] the outbox understands; it never logs a body or a credential.

use std::time::Duration;

use keywarden_core::SecretValue;
use keywarden_server::model::Kind;
use reqwest::StatusCode;
use serde_json::Value;

use crate::error::{AdminError, Result};
use crate::store::{IfMatch, Outcome, Sendable, contains_local_id};

/// What a failed exchange says about the connection as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    Ok,
    /// Nothing answered (refused, DNS, TLS, connect timeout).
    Unreachable,
    /// The credential was refused: stop until the person signs in again.
    Unauthenticated,
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: std::sync::Arc<SecretValue>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

pub fn http_client(ca_pem: Option<&str>, timeout: Duration) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(Duration::from_secs(3))
        .timeout(timeout)
        .pool_max_idle_per_host(64)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = ca_pem {
        let cert = reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| {
            AdminError::invalid("ca", format!("the CA certificate is not valid PEM: {e}"))
        })?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build()
        .map_err(|e| AdminError::Internal(format!("cannot build the HTTP client: {e}")))
}

/// Checks and normalizes a server URL (`https://…` or `http://` on loopback).
pub fn check_url(url: &str) -> Result<String> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| {
        AdminError::invalid(
            "url",
            format!("not a URL ({e}): use e.g. https://keys.example.com"),
        )
    })?;
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(AdminError::invalid(
                "url",
                "the key server must be reached over https (plain http only on this machine's loopback)",
            ));
        }
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

pub fn object_path(kind: Kind, id: &str) -> String {
    let coll = match kind {
        Kind::Principal => "principals",
        Kind::Group => "groups",
        Kind::Role => "roles",
        Kind::Profile => "profiles",
        Kind::Key => "keys",
    };
    format!("/v1/{coll}/{id}")
}

fn error_text(status: StatusCode, body: &Value) -> String {
    let code = body.get("code").and_then(Value::as_str).unwrap_or("error");
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no details");
    match body.get("field").and_then(Value::as_str) {
        Some(field) => format!("{} {code} ({field}): {message}", status.as_u16()),
        None => format!("{} {code}: {message}", status.as_u16()),
    }
}

impl Client {
    pub fn new(
        base: &str,
        ca_pem: Option<&str>,
        token: SecretValue,
        timeout: Duration,
    ) -> Result<Self> {
        Ok(Self {
            http: http_client(ca_pem, timeout)?,
            base: base.trim_end_matches('/').to_owned(),
            token: std::sync::Arc::new(token),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.expose())
    }

    /// Sends one outbox action. Every attempt carries the same Idempotency-Key.
    pub async fn send(&self, row: &Sendable) -> (Outcome, Net) {
        if contains_local_id(&row.path) || row.body.as_deref().is_some_and(contains_local_id) {
            return (
                Outcome::Failed(
                    "it refers to an object whose creation never reached the server (discarded?); discard this action"
                        .into(),
                ),
                Net::Ok,
            );
        }
        let method =
            reqwest::Method::from_bytes(row.method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let mut req = self
            .request(method, &row.path)
            .header("Idempotency-Key", &row.idem_key);
        match row.if_match {
            IfMatch::Omit => {}
            IfMatch::Any => req = req.header("If-Match", "*"),
            IfMatch::Version => req = req.header("If-Match", format!("\"{}\"", row.base_version)),
        }
        if let Some(body) = &row.body {
            req = req
                .header("Content-Type", "application/json")
                .body(body.clone());
        }
        let response = match req.send().await {
            Ok(r) => r,
            Err(e) => return transport_error(&e),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body: Value = match response.bytes().await {
            Ok(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
            // The server may have applied the action: the retry is answered from its
            // idempotency record.
            Err(e) => return transport_error(&e),
        };
        let outcome = match status.as_u16() {
            200..=299 => Outcome::Applied(body),
            404 => Outcome::Gone,
            412 => {
                let current = self.get(&object_path(row.kind, &row.object_id)).await.ok();
                Outcome::Conflict(current.and_then(|(v, _)| {
                    let version = v.get("version").and_then(Value::as_i64)?;
                    Some((v, version))
                }))
            }
            401 => {
                return (
                    Outcome::Retry {
                        reason: "the server did not accept the admin credential; sign in again"
                            .into(),
                        after_ms: Some(5_000),
                        counts: false,
                    },
                    Net::Unauthenticated,
                );
            }
            409 if body.get("code").and_then(Value::as_str)
                == Some("idempotency_key_in_flight") =>
            {
                // An earlier attempt holds the key (the server releases an abandoned one
                // after a minute): waiting is all there is to do, it is not a failure.
                Outcome::Retry {
                    reason: "the server is still working on an earlier attempt".into(),
                    after_ms: Some(3_000),
                    counts: false,
                }
            }
            429 => Outcome::Retry {
                reason: "the server asked to slow down".into(),
                after_ms: Some(retry_after.unwrap_or(1).saturating_mul(1000)),
                counts: false,
            },
            500..=599 => Outcome::Retry {
                reason: error_text(status, &body),
                after_ms: None,
                counts: true,
            },
            _ => Outcome::Failed(error_text(status, &body)),
        };
        (outcome, Net::Ok)
    }

    /// GET a JSON document.
    pub async fn get(&self, path: &str) -> Result<(Value, StatusCode)> {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .map_err(|e| unreachable(&self.base, &e))?;
        let status = response.status();
        let body: Value = response
            .json_bytes()
            .await
            .map_err(|e| unreachable(&self.base, &e))?;
        match status.as_u16() {
            200..=299 => Ok((body, status)),
            401 => Err(AdminError::Unauthenticated {
                connection: self.base.clone(),
            }),
            _ => Err(AdminError::Refused(error_text(status, &body))),
        }
    }

    /// POST outside the outbox (verification checks in tests and tools).
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| unreachable(&self.base, &e))?;
        let status = response.status();
        let body = response
            .json_bytes()
            .await
            .map_err(|e| unreachable(&self.base, &e))?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(AdminError::Refused(error_text(status, &body)))
        }
    }
}

trait JsonBytes {
    async fn json_bytes(self) -> reqwest::Result<Value>;
}

impl JsonBytes for reqwest::Response {
    async fn json_bytes(self) -> reqwest::Result<Value> {
        let bytes = self.bytes().await?;
        Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

fn unreachable(base: &str, e: &reqwest::Error) -> AdminError {
    AdminError::Unreachable {
        url: base.to_owned(),
        detail: describe(e),
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "nothing answers (connection refused or no route)".into()
    } else if e.is_timeout() {
        "no answer in time".into()
    } else {
        // reqwest's text carries no secret (it names the URL, which has none).
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }
}

fn transport_error(e: &reqwest::Error) -> (Outcome, Net) {
    if e.is_connect() {
        // Nothing was sent: does not count against the action.
        (
            Outcome::Retry {
                reason: format!("the key server is unreachable: {}", describe(e)),
                after_ms: Some(0),
                counts: false,
            },
            Net::Unreachable,
        )
    } else {
        // Sent, but the answer was lost (timeout, connection dropped): the server may have
        // applied it. The retry with the same Idempotency-Key finds out.
        (
            Outcome::Retry {
                reason: format!("the answer was lost: {}", describe(e)),
                after_ms: None,
                counts: true,
            },
            Net::Ok,
        )
    }
}

/// `POST /v1/auth/login`: user name + password for a short-lived session token.
pub async fn login(
    base: &str,
    ca_pem: Option<&str>,
    username: &str,
    password: &SecretValue,
) -> Result<(SecretValue, i64)> {
    let http = http_client(ca_pem, Duration::from_secs(30))?;
    let body = zeroize::Zeroizing::new(
        serde_json::json!({ "username": username, "password": password.expose() }).to_string(),
    );
    let response = http
        .post(format!("{base}/v1/auth/login"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| unreachable(base, &e))?;
    let status = response.status();
    let bytes = zeroize::Zeroizing::new(
        response
            .bytes()
            .await
            .map_err(|e| unreachable(base, &e))?
            .to_vec(),
    );
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status == StatusCode::UNAUTHORIZED {
        return Err(AdminError::Refused(
            "wrong user name or password (or the user is disabled)".into(),
        ));
    }
    if !status.is_success() {
        return Err(AdminError::Refused(error_text(status, &value)));
    }
    let token = value
        .get("token")
        .and_then(Value::as_str)
        .ok_or_else(|| AdminError::Refused("the server's login answer has no token".into()))?;
    let expires = value.get("expires_at").and_then(Value::as_i64).unwrap_or(0);
    let token = SecretValue::new(token.to_owned())
        .map_err(|e| AdminError::Internal(format!("the session token is unusable: {e}")))?;
    Ok((token, expires))
}
