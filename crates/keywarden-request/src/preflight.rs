//! Pre-flight checks: what Keywarden knows about a key and a request, said before sending.

use keywarden_vault::Expiry;
use serde::{Deserialize, Serialize};

use crate::environment::Environment;
use crate::prepare::PreparedRequest;
use crate::profile::KeyProfile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum Level {
    Info,
    Warning,
    /// The request will almost certainly be refused, or leaks a secret.
    Danger,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub level: Level,
    /// Stable identifier, e.g. `read-only-key`.
    pub code: String,
    pub message: String,
}

fn finding(level: Level, code: &str, message: String) -> Finding {
    Finding {
        level,
        code: code.to_owned(),
        message,
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn is_production(env: &str) -> bool {
    matches!(
        env.to_ascii_lowercase().as_str(),
        "live" | "prod" | "production"
    )
}

pub(crate) fn check(
    req: &PreparedRequest,
    _profile: Option<&KeyProfile>,
    env: Option<&Environment>,
    url_secret: bool,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(url) = req.parsed_url() else {
        return out;
    };
    let host = url.host_str().unwrap_or_default().to_owned();
    let path = url.path().to_owned();

    if url_secret {
        out.push(finding(
            Level::Warning,
            "query-secret",
            "a secret travels in the URL query; URLs are written to proxy and server logs (RFC 6750 §2.3). Prefer a header where the API allows it".into(),
        ));
    }
    if !req.secrets.is_empty() && url.scheme() == "http" && !is_loopback(&host) {
        out.push(finding(
            Level::Danger,
            "plain-http",
            format!(
                "a secret is sent over plain HTTP to {host}; anyone on the network path can read it"
            ),
        ));
    }
    for s in &req.secrets {
        match s.expiry {
            Expiry::Expired => out.push(finding(
                Level::Danger,
                "secret-expired",
                format!("the secret `{}` has expired", s.name),
            )),
            Expiry::Soon => {
                let days = s
                    .expires_at
                    .map(|t| ((t - keywarden_core::now()).max(0) + 86_399) / 86_400)
                    .unwrap_or(0);
                out.push(finding(
                    Level::Warning,
                    "secret-expiring",
                    format!(
                        "the secret `{}` expires in {days} day{}",
                        s.name,
                        if days == 1 { "" } else { "s" }
                    ),
                ));
            }
            _ => {}
        }
        if let (Some(secret_env), Some(active)) = (&s.environment, env)
            && !secret_env.eq_ignore_ascii_case(&active.name)
        {
            out.push(finding(
                Level::Warning,
                "environment-mismatch",
                format!(
                    "the secret `{}` belongs to {secret_env}, but the active environment is {}",
                    s.name, active.name
                ),
            ));
        }
        let Some(policy) = &s.key_policy else {
            continue;
        };
        if !policy.allows_method(&req.method) {
            out.push(finding(
                Level::Danger,
                "read-only-key",
                format!(
                    "`{}` is a read-only key (GET, HEAD, OPTIONS), but the method is {}",
                    s.name, req.method
                ),
            ));
        }
        if !policy.allows_path(&path) {
            out.push(finding(
                Level::Danger,
                "path-outside-prefixes",
                format!(
                    "the path {path} is outside the key's allowed paths ({})",
                    policy.path_prefixes.join(", ")
                ),
            ));
        }
        if let Some(key_env) = &policy.environment {
            let to_production_host = policy
                .production_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&host))
                || env.is_some_and(|e| e.production);
            if !is_production(key_env) && to_production_host {
                out.push(finding(
                    Level::Danger,
                    "test-key-to-production",
                    format!(
                        "`{}` is a {key_env} key sent to a production host ({host})",
                        s.name
                    ),
                ));
            } else if let Some(active) = env
                && is_production(key_env) != (active.production || is_production(&active.name))
            {
                out.push(finding(
                    Level::Warning,
                    "environment-mismatch",
                    format!(
                        "`{}` is a {key_env} key, but the active environment is {}",
                        s.name, active.name
                    ),
                ));
            }
        }
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.level));
    out.dedup();
    out
}

/// After a 401 or 403: the rules that may explain the refusal, most likely first.
pub fn explain_refusal(req: &PreparedRequest, status: u16) -> Vec<String> {
    if status != 401 && status != 403 {
        return Vec::new();
    }
    let mut out: Vec<String> = req
        .findings
        .iter()
        .filter(|f| f.level >= Level::Warning && f.code != "query-secret")
        .map(|f| f.message.clone())
        .collect();
    if req.secrets.is_empty() {
        out.push("no secret was sent with this request: choose a key profile or reference `${secret.NAME}` in a header".into());
    }
    for s in &req.secrets {
        out.push(format!(
            "the key in `{}` ({}) may be disabled, revoked, expired or rotated on the server; compare its fingerprint with the key the server expects",
            s.name, s.fingerprint
        ));
        if s.key_policy.is_none() && status == 403 {
            out.push(format!(
                "the key in `{}` may lack the scope or permitted operation this endpoint needs, or the caller's address may be outside its IP allowlist",
                s.name
            ));
        }
    }
    out
}
