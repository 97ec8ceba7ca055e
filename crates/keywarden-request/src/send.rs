use std::time::{Duration, Instant};

use crate::error::RequestError;
use crate::prepare::{PreparedBody, PreparedHeader, PreparedRequest};

/// How requests are sent.
#[derive(Debug, Clone)]
pub struct SendOptions {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_redirects: usize,
    /// An extra CA certificate (PEM) to trust, e.g. a company proxy's.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Response bodies are cut after this many bytes.
    pub max_body_bytes: usize,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_redirects: 10,
            extra_ca_pem: None,
            max_body_bytes: 16 * 1024 * 1024,
        }
    }
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body was longer than `max_body_bytes` and was cut.
    pub truncated: bool,
    pub duration: Duration,
    /// Each redirect followed: the status and the `Location` it pointed to.
    pub redirects: Vec<(u16, String)>,
    /// Headers dropped because a redirect led to another origin.
    pub dropped_headers: Vec<String>,
}

/// Sends prepared requests. Redirects are followed here, not by reqwest, so that
/// every templated header (not only the standard authorization headers) is dropped
/// when a redirect leads to another origin.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    options: SendOptions,
}

/// Headers that carry credentials even when typed literally.
fn is_credential_header(name: &str) -> bool {
    ["authorization", "proxy-authorization", "cookie"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

impl Sender {
    pub fn new(options: SendOptions) -> Result<Self, RequestError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .user_agent(concat!("Keywarden/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &options.extra_ca_pem {
            let cert = reqwest::Certificate::from_pem(pem).map_err(|e| {
                RequestError::invalid("caCertificate", format!("not a PEM certificate: {e}"))
            })?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder
            .build()
            .map_err(|e| RequestError::Send(e.to_string()))?;
        Ok(Self { client, options })
    }

    pub async fn send(&self, req: &PreparedRequest) -> Result<Response, RequestError> {
        let started = Instant::now();
        let mut url = url::Url::parse(req.expose_url())
            .map_err(|e| RequestError::invalid("URL", e.to_string()))?;
        let mut method = req.method.clone();
        let mut headers: Vec<PreparedHeader> = req.headers.clone();
        let mut body: Option<PreparedBody> = req.body.clone();
        let mut redirects = Vec::new();
        let mut dropped = Vec::new();
        loop {
            let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| {
                RequestError::invalid("method", format!("{method:?} is not an HTTP method"))
            })?;
            let mut rb = self.client.request(m, url.clone());
            for h in &headers {
                rb = rb.header(h.name.as_str(), h.expose());
            }
            if let Some(b) = &body {
                if let Some(ct) = &b.content_type
                    && !headers
                        .iter()
                        .any(|h| h.name.eq_ignore_ascii_case("content-type"))
                {
                    rb = rb.header("Content-Type", ct.as_str());
                }
                rb = rb.body(b.expose().to_vec());
            }
            let resp = rb.send().await.map_err(|e| self.send_error(e))?;
            let status = resp.status();
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .map(str::to_owned);
            if status.is_redirection()
                && status != reqwest::StatusCode::NOT_MODIFIED
                && let Some(location) = location
            {
                if redirects.len() >= self.options.max_redirects {
                    return Err(RequestError::Send(format!(
                        "more than {} redirects",
                        self.options.max_redirects
                    )));
                }
                let next = url.join(&location).map_err(|e| {
                    RequestError::Send(format!("the server redirected to an invalid URL: {e}"))
                })?;
                if next.origin() != url.origin() {
                    headers.retain(|h| {
                        let keep = !h.templated && !h.secret && !is_credential_header(&h.name);
                        if !keep && !dropped.contains(&h.name) {
                            dropped.push(h.name.clone());
                        }
                        keep
                    });
                    if body.as_ref().is_some_and(|b| b.secret) {
                        body = None;
                        method = "GET".into();
                    }
                }
                let code = status.as_u16();
                if code == 303 || ((code == 301 || code == 302) && method == "POST") {
                    method = if method == "HEAD" {
                        "HEAD".into()
                    } else {
                        "GET".into()
                    };
                    body = None;
                    headers.retain(|h| !h.name.eq_ignore_ascii_case("content-type"));
                }
                redirects.push((code, next.to_string()));
                url = next;
                continue;
            }
            let version = format!("{:?}", resp.version());
            let headers_out: Vec<(String, String)> = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let mut resp = resp;
            let mut bytes = Vec::new();
            let mut truncated = false;
            while let Some(chunk) = resp.chunk().await.map_err(|e| self.send_error(e))? {
                let room = self.options.max_body_bytes.saturating_sub(bytes.len());
                if chunk.len() > room {
                    bytes.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                bytes.extend_from_slice(&chunk);
            }
            return Ok(Response {
                status: status.as_u16(),
                reason: status.canonical_reason().unwrap_or("").to_owned(),
                version,
                headers: headers_out,
                body: bytes,
                truncated,
                duration: started.elapsed(),
                redirects,
                dropped_headers: dropped,
            });
        }
    }

    fn send_error(&self, e: reqwest::Error) -> RequestError {
        if e.is_timeout() {
            return RequestError::Timeout(self.options.timeout.as_secs());
        }
        // reqwest's messages name the URL; strip it, the URL may carry a secret.
        let e = e.without_url();
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        RequestError::Send(msg)
    }
}
