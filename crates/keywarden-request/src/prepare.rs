use std::collections::HashMap;
use std::fmt;

use keywarden_core::{HostPattern, KeyPolicy, SecretValue, Timestamp};
use keywarden_template::{Rendered, ResolveError, Resolver, Template};
use keywarden_vault::{Expiry, Purpose, Vault, VaultError};
use zeroize::Zeroizing;

use crate::environment::Environment;
use crate::error::RequestError;
use crate::preflight::{self, Finding};
use crate::profile::{KeyProfile, Placement};
use crate::spec::{Body, RequestSpec};

/// What the composer knows about a secret that went into a request (never its value).
#[derive(Debug, Clone, PartialEq)]
pub struct UsedSecret {
    pub name: String,
    /// Short keyed fingerprint of the value sent, e.g. `kwfp:3f9a1c0b7d2e`.
    pub fingerprint: String,
    pub expires_at: Option<Timestamp>,
    pub expiry: Expiry,
    pub allowed_hosts: Vec<HostPattern>,
    pub environment: Option<String>,
    pub key_policy: Option<KeyPolicy>,
}

/// Resolves `${secret.NAME}` from the vault (one read per secret per request) and
/// `${env.NAME}` from the active environment.
pub struct VaultResolver<'a> {
    vault: &'a Vault,
    env: Option<&'a Environment>,
    cache: HashMap<String, SecretValue>,
    used: Vec<UsedSecret>,
    reads: usize,
}

impl<'a> VaultResolver<'a> {
    pub fn new(vault: &'a Vault, env: Option<&'a Environment>) -> Self {
        Self {
            vault,
            env,
            cache: HashMap::new(),
            used: Vec::new(),
            reads: 0,
        }
    }

    /// Number of secret-store reads made so far.
    pub fn reads(&self) -> usize {
        self.reads
    }

    /// The values read so far, by secret name: to recognise them in what a server sends back.
    pub fn values(&self) -> impl Iterator<Item = (&str, &SecretValue)> {
        self.cache
            .iter()
            .map(|(name, value)| (name.as_str(), value))
    }
}

impl Resolver for VaultResolver<'_> {
    fn secret(&mut self, name: &str) -> Result<SecretValue, ResolveError> {
        if let Some(v) = self.cache.get(name) {
            return Ok(v.clone());
        }
        self.reads += 1;
        let (meta, value) = self.vault.read(name, Purpose::Use).map_err(|e| match e {
            VaultError::NotFound(_) => ResolveError::UnknownSecret,
            VaultError::Disabled(_) => ResolveError::DisabledSecret,
            other => ResolveError::Unavailable(other.to_string()),
        })?;
        self.used.push(used_secret(&meta));
        self.cache.insert(name.to_owned(), value.clone());
        Ok(value)
    }

    fn env(&mut self, name: &str) -> Result<String, ResolveError> {
        self.env
            .and_then(|e| e.variables.get(name).cloned())
            .ok_or(ResolveError::UnknownVariable)
    }
}

/// Resolves secrets by metadata only, for live previews: nothing is read from the
/// secret store; every secret renders as a placeholder, and the pre-flight checks
/// and destination binding see the real metadata.
pub struct MetadataResolver<'a> {
    vault: &'a Vault,
    env: Option<&'a Environment>,
    used: Vec<UsedSecret>,
}

impl<'a> MetadataResolver<'a> {
    pub fn new(vault: &'a Vault, env: Option<&'a Environment>) -> Self {
        Self {
            vault,
            env,
            used: Vec::new(),
        }
    }
}

impl Resolver for MetadataResolver<'_> {
    fn secret(&mut self, name: &str) -> Result<SecretValue, ResolveError> {
        let meta = self
            .vault
            .find(name)
            .map_err(|_| ResolveError::UnknownSecret)?;
        if !meta.enabled {
            return Err(ResolveError::DisabledSecret);
        }
        if !self.used.iter().any(|u| u.name == meta.name.as_str()) {
            self.used.push(used_secret(&meta));
        }
        SecretValue::new("preview").map_err(|e| ResolveError::Unavailable(e.to_string()))
    }

    fn env(&mut self, name: &str) -> Result<String, ResolveError> {
        self.env
            .and_then(|e| e.variables.get(name).cloned())
            .ok_or(ResolveError::UnknownVariable)
    }
}

impl ResolverWithSecrets for MetadataResolver<'_> {
    fn as_resolver(&mut self) -> &mut dyn Resolver {
        self
    }
    fn used(&self) -> &[UsedSecret] {
        &self.used
    }
}

fn used_secret(meta: &keywarden_vault::SecretMeta) -> UsedSecret {
    UsedSecret {
        name: meta.name.to_string(),
        fingerprint: meta.fingerprint.to_string(),
        expires_at: meta.expires_at,
        expiry: meta.expiry(keywarden_core::now()),
        allowed_hosts: meta.allowed_hosts.clone(),
        environment: meta.environment.as_ref().map(|e| e.to_string()),
        key_policy: meta.key_policy.clone(),
    }
}

/// A header ready to send. `Debug` shows the preview only.
#[derive(Clone)]
pub struct PreparedHeader {
    pub name: String,
    value: Zeroizing<String>,
    pub preview: String,
    /// Produced by a template or a profile: dropped on a redirect to another origin.
    pub templated: bool,
    pub secret: bool,
}

impl PreparedHeader {
    pub fn expose(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for PreparedHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.preview)
    }
}

#[derive(Clone)]
pub struct PreparedBody {
    bytes: Zeroizing<Vec<u8>>,
    pub content_type: Option<String>,
    pub preview: String,
    pub secret: bool,
}

impl PreparedBody {
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for PreparedBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PreparedBody({} bytes, {:?})",
            self.bytes.len(),
            self.preview
        )
    }
}

/// A rendered request. `Debug` shows previews only.
#[derive(Clone)]
pub struct PreparedRequest {
    pub method: String,
    url: Zeroizing<String>,
    pub url_preview: String,
    pub headers: Vec<PreparedHeader>,
    pub body: Option<PreparedBody>,
    pub secrets: Vec<UsedSecret>,
    pub findings: Vec<Finding>,
    pub spec: RequestSpec,
    pub environment: Option<Environment>,
}

impl PreparedRequest {
    /// The full URL, which may carry a secret in its query.
    pub fn expose_url(&self) -> &str {
        &self.url
    }

    pub fn parsed_url(&self) -> Option<url::Url> {
        url::Url::parse(&self.url).ok()
    }
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("method", &self.method)
            .field("url", &self.url_preview)
            .field("headers", &self.headers)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

/// RFC 9110 token characters (method and header names).
pub(crate) fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

pub(crate) fn valid_header_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 256 && name.chars().all(is_tchar)
}

/// A header value: visible ASCII, spaces, tabs and non-ASCII text; no CR, LF or other controls.
fn check_header_value(name: &str, value: &str) -> Result<(), RequestError> {
    if let Some(c) = value.chars().find(|c| c.is_control() && *c != '\t') {
        let what = match c {
            '\r' => "a carriage return (CR)".to_owned(),
            '\n' => "a line feed (LF)".to_owned(),
            c => format!("the control character U+{:04X}", c as u32),
        };
        return Err(RequestError::invalid(
            format!("header {name}"),
            format!(
                "the value contains {what}, which would corrupt the request; check the template and the secret's value"
            ),
        ));
    }
    Ok(())
}

fn render(
    field: &str,
    template: &str,
    resolver: &mut dyn Resolver,
) -> Result<Rendered, RequestError> {
    let t = Template::parse(template).map_err(|source| RequestError::Template {
        field: field.to_owned(),
        source,
    })?;
    t.render(resolver).map_err(|source| RequestError::Template {
        field: field.to_owned(),
        source,
    })
}

fn is_literal(template: &str) -> bool {
    Template::parse(template)
        .map(|t| t.is_literal())
        .unwrap_or(false)
}

/// Renders a request: templates, profile, environment; then binds every secret to its
/// allowed destinations and runs the pre-flight checks.
pub fn prepare(
    spec: &RequestSpec,
    profile: Option<&KeyProfile>,
    env: Option<&Environment>,
    resolver: &mut dyn ResolverWithSecrets,
) -> Result<PreparedRequest, RequestError> {
    let method = spec.method.trim().to_ascii_uppercase();
    if method.is_empty() || !method.chars().all(is_tchar) {
        return Err(RequestError::invalid(
            "method",
            format!("{:?} is not an HTTP method", spec.method),
        ));
    }

    let url = render("URL", &spec.url, resolver.as_resolver())?;
    let mut parsed = url::Url::parse(url.expose().trim()).map_err(|e| {
        RequestError::invalid(
            "URL",
            format!("{:?} is not a valid URL: {e}", url.preview()),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(RequestError::invalid(
            "URL",
            "only http:// and https:// URLs with a host can be sent",
        ));
    }
    let mut url_secret = url.contains_secret();
    let mut url_preview = url.preview().trim().to_owned();
    let add_query = |name: &str, value: &Rendered, parsed: &mut url::Url, preview: &mut String| {
        parsed.query_pairs_mut().append_pair(name, value.expose());
        preview.push(if preview.contains('?') { '&' } else { '?' });
        preview.push_str(name);
        preview.push('=');
        preview.push_str(value.preview());
    };
    for q in spec.query.iter().filter(|q| q.enabled) {
        if q.name.is_empty() {
            return Err(RequestError::invalid(
                "query",
                "a query parameter has no name",
            ));
        }
        let v = render(
            &format!("query {}", q.name),
            &q.value,
            resolver.as_resolver(),
        )?;
        url_secret |= v.contains_secret();
        add_query(&q.name, &v, &mut parsed, &mut url_preview);
    }
    if let Some(p) = env.and_then(|e| e.query_param.as_ref()) {
        let v = render(
            &format!("environment query {}", p.name),
            &p.value,
            resolver.as_resolver(),
        )?;
        add_query(&p.name, &v, &mut parsed, &mut url_preview);
    }

    let mut headers: Vec<PreparedHeader> = Vec::new();
    let push_header = |name: &str,
                       rendered: Rendered,
                       templated: bool,
                       headers: &mut Vec<PreparedHeader>| {
        if !valid_header_name(name) {
            return Err(RequestError::invalid(
                "headers",
                format!("{name:?} is not a valid header name"),
            ));
        }
        check_header_value(name, rendered.expose())?;
        if headers.iter().any(|h| h.name.eq_ignore_ascii_case(name)) && templated {
            return Err(RequestError::invalid(
                format!("header {name}"),
                "the request and its key profile both set this header; remove it from the request",
            ));
        }
        headers.push(PreparedHeader {
            name: name.to_owned(),
            secret: rendered.contains_secret(),
            preview: rendered.preview().to_owned(),
            value: Zeroizing::new(rendered.expose().to_owned()),
            templated,
        });
        Ok(())
    };
    for h in spec.headers.iter().filter(|h| h.enabled) {
        let v = render(
            &format!("header {}", h.name),
            &h.value,
            resolver.as_resolver(),
        )?;
        push_header(&h.name, v, !is_literal(&h.value), &mut headers)?;
    }
    if let Some(profile) = profile {
        for (placement, template) in profile.placements() {
            match placement {
                Placement::Header(name) => {
                    let v = render(
                        &format!("profile {} header {name}", profile.name),
                        &template,
                        resolver.as_resolver(),
                    )?;
                    push_header(&name, v, true, &mut headers)?;
                }
                Placement::Query(name) => {
                    let v = render(
                        &format!("profile {} query {name}", profile.name),
                        &template,
                        resolver.as_resolver(),
                    )?;
                    url_secret |= v.contains_secret();
                    add_query(&name, &v, &mut parsed, &mut url_preview);
                }
            }
        }
    }

    let body = match &spec.body {
        Body::None => None,
        Body::Json { template } => {
            let v = render("body", template, resolver.as_resolver())?;
            Some(PreparedBody {
                secret: v.contains_secret(),
                preview: v.preview().to_owned(),
                bytes: Zeroizing::new(v.expose().as_bytes().to_vec()),
                content_type: Some("application/json".into()),
            })
        }
        Body::Raw {
            content_type,
            template,
        } => {
            let v = render("body", template, resolver.as_resolver())?;
            Some(PreparedBody {
                secret: v.contains_secret(),
                preview: v.preview().to_owned(),
                bytes: Zeroizing::new(v.expose().as_bytes().to_vec()),
                content_type: Some(content_type.clone()).filter(|c| !c.is_empty()),
            })
        }
        Body::Form { fields } => {
            let mut real = url::form_urlencoded::Serializer::new(String::new());
            let mut preview = Vec::new();
            let mut secret = false;
            for f in fields.iter().filter(|f| f.enabled) {
                let v = render(
                    &format!("form field {}", f.name),
                    &f.value,
                    resolver.as_resolver(),
                )?;
                real.append_pair(&f.name, v.expose());
                preview.push(format!("{}={}", f.name, v.preview()));
                secret |= v.contains_secret();
            }
            Some(PreparedBody {
                bytes: Zeroizing::new(real.finish().into_bytes()),
                content_type: Some("application/x-www-form-urlencoded".into()),
                preview: preview.join("&"),
                secret,
            })
        }
    };

    let secrets = resolver.used().to_vec();
    let host = parsed.host_str().unwrap_or_default().to_owned();
    let port = parsed.port_or_known_default();
    for s in &secrets {
        if !s.allowed_hosts.is_empty() && !s.allowed_hosts.iter().any(|h| h.matches(&host, port)) {
            return Err(RequestError::Destination(format!(
                "the secret `{}` may only be sent to {}; this request goes to {host}",
                s.name,
                s.allowed_hosts
                    .iter()
                    .map(|h| h.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    if let Some(profile) = profile {
        if !profile.allowed_hosts.is_empty()
            && !profile.allowed_hosts.iter().any(|h| h.matches(&host, port))
        {
            return Err(RequestError::Destination(format!(
                "the profile `{}` may only send its key to {}; this request goes to {host}",
                profile.name,
                profile
                    .allowed_hosts
                    .iter()
                    .map(|h| h.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if profile.https_only && parsed.scheme() != "https" {
            return Err(RequestError::Destination(format!(
                "the profile `{}` sends its key over HTTPS only; use https://",
                profile.name
            )));
        }
    }
    let mut prepared = PreparedRequest {
        method,
        url: Zeroizing::new(parsed.to_string()),
        url_preview,
        headers,
        body,
        secrets,
        findings: Vec::new(),
        spec: spec.clone(),
        environment: env.cloned(),
    };
    prepared.findings = preflight::check(&prepared, profile, env, url_secret);
    Ok(prepared)
}

/// A resolver that also reports which secrets it resolved.
pub trait ResolverWithSecrets {
    fn as_resolver(&mut self) -> &mut dyn Resolver;
    fn used(&self) -> &[UsedSecret];
}

impl ResolverWithSecrets for VaultResolver<'_> {
    fn as_resolver(&mut self) -> &mut dyn Resolver {
        self
    }
    fn used(&self) -> &[UsedSecret] {
        &self.used
    }
}
