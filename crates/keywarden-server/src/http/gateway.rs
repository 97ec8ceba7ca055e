//! Verification: `/v1/verify` and the gateway endpoint `/v1/auth-request`, with the facts only a trusted gateway may state.

use super::*;

#[utoipa::path(post, path = "/v1/verify", tag = "verify", request_body = VerifyRequest,
    responses((status = 200, body = VerifyResponse, description = "The decision (allowed or not)"),
              (status = 400, body = ErrorBody), (status = 429, body = ErrorBody, description = "Too many failures from this address")))]
pub(super) async fn verify(State(state): State<AppState>, request: Request) -> ApiResult {
    let (parts, body) = request.into_parts();
    let peer = peer(&parts.extensions);
    let headers = &parts.headers;
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| Error::Invalid {
            code: "body_too_large",
            field: None,
            message: format!("the request body could not be read (the limit is {MAX_BODY} bytes)"),
        })?;
    let service = &state.service;
    let req: VerifyRequest<'_> = parse(&body)?;
    let client = match &req.client_address {
        Some(text) => Some(
            text.trim()
                .parse::<IpAddr>()
                .map_err(|_| Error::invalid("client_address", "not an IP address"))?,
        ),
        None => None,
    };
    if req.method.is_empty()
        || req.method.len() > 16
        || !req.method.bytes().all(|b| b.is_ascii_uppercase())
    {
        return Err(Error::invalid(
            "method",
            "an HTTP method in capitals, such as GET",
        ));
    }
    let ctx = Context {
        method: &req.method,
        path: &req.path,
        client,
        environment: req.environment.as_deref(),
        scope: req.scope.as_deref(),
        operation: req.operation.as_deref(),
    };
    // Failures count against the client a trusted caller names, else against the caller itself,
    // so an untrusted caller can neither dodge throttling nor get someone else locked out.
    let caller = client_address(service, headers, peer)?;
    let throttle_at = if peer_trusted(service, peer) {
        client.or(caller)
    } else {
        caller
    };
    let decision = service.verifier.verify(
        Some(&req.key),
        Source::Header,
        &ctx,
        throttle_at,
        keywarden_core::now(),
    );
    if decision.reason == crate::verify::Reason::TooManyFailures {
        return Err(Error::TooManyRequests {
            retry_after: decision.retry_after.unwrap_or(1),
        });
    }
    Ok(Json(VerifyResponse::from(&decision)).into_response())
}

/// The peer address when the server runs with connection info (absent in in-process tests).
pub struct ConnectInfoOpt(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ConnectInfoOpt {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ConnectInfoOpt(peer(&parts.extensions)))
    }
}

pub(super) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// For nginx `auth_request`: reads the original request from `X-Original-Method`,
/// `X-Original-URI` and the client address, and the key from any supported style.
#[utoipa::path(get, path = "/v1/auth-request", tag = "verify",
    params(("X-Original-Method" = Option<String>, Header, description = "The original request's method"),
           ("X-Original-URI" = Option<String>, Header, description = "The original request's URI"),
           ("X-Keywarden-Environment" = Option<String>, Header, description = "Environment the upstream serves"),
           ("X-Keywarden-Scope" = Option<String>, Header, description = "Scope the upstream needs"),
           ("X-Keywarden-Operation" = Option<String>, Header, description = "Operation being invoked")),
    responses((status = 200, description = "Allowed; X-Keywarden-Principal-Id, X-Keywarden-Principal, X-Keywarden-Key-Id and X-Keywarden-Scopes describe the caller"),
              (status = 401, description = "No valid key"), (status = 403, description = "The key may not make this request (X-Keywarden-Reason says why)"),
              (status = 429, description = "Rate limited (Retry-After)")))]
pub(super) async fn auth_request(State(state): State<AppState>, request: Request) -> Response {
    // Read the parts in place: this handler is the gateway's hot path.
    let (parts, _body) = request.into_parts();
    let headers = &parts.headers;
    let peer = peer(&parts.extensions);
    let service = &state.service;
    let config = &service.config;
    // Every fact about the original request comes from the gateway, so only a trusted
    // gateway is answered, and each fact must be there exactly once.
    let Some(facts) = gateway_facts(service, headers, peer) else {
        service.verifier.refuse_untrusted_gateway();
        if peer.is_some_and(|p| !address_allowed(&config.trusted_proxies, p)) {
            service.verifier.throttle_failure(peer);
        }
        return refusal_response(crate::verify::Reason::UntrustedGateway);
    };
    let GatewayFacts {
        method: original_method,
        uri: original_uri,
        client,
        environment: gateway_environment,
        scope,
        operation,
    } = facts;
    let original_method: std::borrow::Cow<'_, str> =
        if original_method.bytes().any(|b| b.is_ascii_lowercase()) {
            original_method.to_ascii_uppercase().into()
        } else {
            original_method.into()
        };
    let query = original_uri
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or(q))
        .unwrap_or("");
    let mut source = Source::Header;
    let mut found = header_str(headers, "authorization")
        .and_then(|v| credential::from_authorization(v, &config.basic_user));
    if found.is_none() {
        found = header_str(headers, &config.key_header).and_then(credential::from_header_value);
    }
    if found.is_none() {
        found = credential::from_query(query, &config.query_param);
        source = Source::Query;
    }
    // The gateway's environment wins; without one, the caller may name a non-production
    // environment with `_profile=` (and then only keys of that environment pass).
    let profile_env = credential::from_query(query, "_profile").map(|e| e.to_ascii_lowercase());
    let environment = gateway_environment.map(str::to_owned).or(profile_env);
    let ctx = Context {
        method: &original_method,
        path: original_uri,
        client,
        environment: environment.as_deref(),
        scope,
        operation,
    };
    let decision = service.verifier.verify(
        found.as_deref(),
        source,
        &ctx,
        client,
        keywarden_core::now(),
    );
    let mut response = if decision.allowed() {
        let mut r = StatusCode::NO_CONTENT.into_response();
        r.headers_mut().insert(
            HeaderName::from_static("x-keywarden-reason"),
            HeaderValue::from_static(decision.reason.as_str()),
        );
        r
    } else {
        refusal_response(decision.reason)
    };
    let h = response.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    if let Some(p) = &decision.principal {
        set("x-keywarden-principal-id", &p.id);
        set("x-keywarden-principal", &p.name);
    }
    if let Some(k) = decision.key_id() {
        set("x-keywarden-key-id", k);
    }
    if decision.allowed() {
        let scopes: Vec<&str> = decision.scopes.iter().map(String::as_str).collect();
        set("x-keywarden-scopes", &scopes.join(" "));
    }
    if let Some(r) = decision.retry_after {
        set("retry-after", &r.to_string());
    }
    response
}

/// What a trusted gateway says about the original request.
pub(super) struct GatewayFacts<'a> {
    method: &'a str,
    uri: &'a str,
    client: Option<IpAddr>,
    environment: Option<&'a str>,
    scope: Option<&'a str>,
    operation: Option<&'a str>,
}

/// The gateway's facts, or `None` when the peer is not a trusted gateway, or a fact is
/// missing (`X-Original-Method`, `X-Original-URI`) or sent more than once.
pub(super) fn gateway_facts<'a>(
    service: &Service,
    headers: &'a HeaderMap,
    peer: Option<IpAddr>,
) -> Option<GatewayFacts<'a>> {
    if !peer_trusted(service, peer) {
        return None;
    }
    let optional = |name: &str| single_header(headers, name).map(|v| v.filter(|v| !v.is_empty()));
    let method = optional("x-original-method").ok()??;
    let uri = optional("x-original-uri").ok()??;
    if method.len() > 16 || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    Some(GatewayFacts {
        method,
        uri,
        client: client_address(service, headers, peer).ok()?,
        environment: optional("x-keywarden-environment").ok()?,
        scope: optional("x-keywarden-scope").ok()?,
        operation: optional("x-keywarden-operation").ok()?,
    })
}

/// A refusal as `auth_request` answers it. The body is the same for every request with
/// this reason: no JSON to build on the hot path.
pub(super) fn refusal_response(reason: crate::verify::Reason) -> Response {
    let status = match reason {
        crate::verify::Reason::InvalidKey => StatusCode::UNAUTHORIZED,
        crate::verify::Reason::RateLimited | crate::verify::Reason::TooManyFailures => {
            StatusCode::TOO_MANY_REQUESTS
        }
        _ => StatusCode::FORBIDDEN,
    };
    let message = if reason == crate::verify::Reason::UntrustedGateway {
        "this endpoint answers trusted gateways only, which send X-Original-Method and X-Original-URI once each"
    } else {
        "the key may not make this request"
    };
    let body = format!(
        "{{\"code\":\"{}\",\"message\":\"{message}\",\"field\":null}}",
        reason.as_str()
    );
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    let h = response.headers_mut();
    h.insert(
        HeaderName::from_static("x-keywarden-reason"),
        HeaderValue::from_static(reason.as_str()),
    );
    if status == StatusCode::UNAUTHORIZED {
        h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}
