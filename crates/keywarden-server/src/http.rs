//! The HTTP edge: routing, extractors, JSON errors and OpenAPI. Handlers only
//! translate between HTTP and [`Service`]; every rule lives in the service.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use keywarden_keys::credential;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use utoipa::OpenApi;

use crate::error::Error;
use crate::index::address_allowed;
use crate::model::{AccessProfile, AuditEntry, Group, Key, Kind, Principal, Role};
use crate::service::{
    AuditPage, Caller, ChangePage, CreateGroup, CreateKey, CreatePrincipal, CreateProfile,
    CreateRole, IssuedKey, Login, Outcome, PatchGroup, PatchKey, PatchPrincipal, PatchProfile,
    PatchRole, RefreshKey, RotateKey, Service, Session, SessionList, SessionsEnded, SetPassword,
    VerifyRequest, VerifyResponse, parse_if_match,
};
use crate::store::AuditQuery;
use crate::verify::{Context, Source};

/// Largest request body accepted (64 KiB).
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub service: Arc<Service>,
}

/// The stable error body.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable machine-readable code (`invalid_field`, `malformed_json`, `not_found`…).
    pub code: String,
    pub message: String,
    /// The offending field or header, when there is one.
    pub field: Option<String>,
}

fn error_response(
    status: StatusCode,
    code: &str,
    message: String,
    field: Option<String>,
) -> Response {
    (
        status,
        Json(ErrorBody {
            code: code.to_owned(),
            message,
            field,
        }),
    )
        .into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let (status, code, field) = match &self {
            Error::Invalid {
                code: "body_too_large",
                field,
                ..
            } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                field.clone(),
            ),
            Error::Invalid { code, field, .. } => (StatusCode::BAD_REQUEST, *code, field.clone()),
            Error::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated", None),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", None),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", None),
            Error::Conflict(_) => (StatusCode::CONFLICT, "conflict", None),
            Error::PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                "stale_version",
                Some("If-Match".into()),
            ),
            Error::PreconditionRequired => (
                StatusCode::PRECONDITION_REQUIRED,
                "if_match_required",
                Some("If-Match".into()),
            ),
            Error::IdempotencyMismatch => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                Some("Idempotency-Key".into()),
            ),
            Error::IdempotencyInFlight => (
                StatusCode::CONFLICT,
                "idempotency_key_in_flight",
                Some("Idempotency-Key".into()),
            ),
            Error::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_requests", None)
            }
            Error::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", None)
            }
        };
        let mut response = error_response(status, code, message, field);
        if let Error::TooManyRequests { retry_after } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

// -------------------------------------------------------------------------------------------------
// Extractors that answer in the stable JSON shape
// -------------------------------------------------------------------------------------------------

/// The raw request body (bounded), parsed by the handler as JSON whatever its
/// Content-Type, so JSON errors keep our shape.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|_| Error::Invalid {
                code: "body_too_large",
                field: None,
                message: format!(
                    "the request body could not be read (the limit is {MAX_BODY} bytes)"
                ),
            })
    }
}

fn json_field(message: &str) -> Option<String> {
    let start = message.find('`')?;
    let rest = &message[start + 1..];
    let end = rest.find('`')?;
    Some(rest[..end].to_owned())
}

/// Parses a JSON body; an empty body reads as `{}` when `T` allows it.
fn parse<'a, T: Deserialize<'a>>(body: &'a Bytes) -> Result<T, Error> {
    let bytes: &'a [u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(bytes).map_err(|e| {
        let message = e.to_string();
        let code = if e.is_syntax() || e.is_eof() {
            "malformed_json"
        } else {
            "invalid_field"
        };
        let field = if code == "invalid_field" {
            json_field(&message)
        } else {
            None
        };
        // serde's text names the field and the expected type, never the value.
        Error::Invalid {
            code,
            field,
            message: format!("the JSON body is not valid: {message}"),
        }
    })
}

/// A path id, with our error shape.
pub struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| Error::bad_request("invalid_path", "the path parameter is not valid"))?;
        if id.is_empty() || id.len() > 64 {
            return Err(Error::NotFound("object"));
        }
        Ok(Id(id))
    }
}

/// Query parameters, with our error shape.
pub struct Q<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(v)| Q(v))
            .map_err(|e| {
                Error::bad_request(
                    "invalid_query",
                    format!("the query string is not valid: {}", e.body_text()),
                )
            })
    }
}

fn peer(parts_ext: &axum::http::Extensions) -> Option<IpAddr> {
    parts_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip())
}

/// Whether a peer is a configured trusted gateway. A request with no peer address only
/// happens in-process (the router called directly by the embedding program), which is trusted.
pub fn peer_trusted(service: &Service, peer: Option<IpAddr>) -> bool {
    peer.is_none_or(|p| address_allowed(&service.config.trusted_proxies, p))
}

/// The value of a header that must appear at most once: `Ok(None)` when absent,
/// `Err(())` when repeated or not text. Gateways set these headers exactly once; two
/// copies mean a client's copy survived next to the gateway's, and neither is believed.
fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ()> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    first.to_str().map(|v| Some(v.trim())).map_err(|_| ())
}

/// The client's address. It is the TCP peer, unless the peer is a trusted proxy that
/// names the client in the one configured header (`X-Real-IP` by default). No other
/// header is ever read for it, and nothing a non-proxy sends is believed.
///
/// `Err` when a trusted proxy sent that header more than once or not as one address:
/// the address is then unknown, and requests that need it are refused.
pub fn client_address(
    service: &Service,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> Result<Option<IpAddr>, Error> {
    let bad = || Error::Invalid {
        code: "invalid_header",
        field: Some(service.config.real_ip_header.clone()),
        message: "the gateway's client-address header must hold exactly one IP address".into(),
    };
    let Some(peer) = peer else {
        // In-process: only the embedding program can call, and it may say who the client is.
        return match single_header(headers, &service.config.real_ip_header) {
            Ok(Some(v)) => v.parse().map(Some).map_err(|_| bad()),
            Ok(None) => Ok(None),
            Err(()) => Err(bad()),
        };
    };
    if !address_allowed(&service.config.trusted_proxies, peer) {
        return Ok(Some(peer));
    }
    match single_header(headers, &service.config.real_ip_header) {
        Ok(Some(v)) => v.parse().map(Some).map_err(|_| bad()),
        Ok(None) => Ok(Some(peer)),
        Err(()) => Err(bad()),
    }
}

fn bearer(headers: &HeaderMap, service: &Service) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    credential::from_authorization(value, &service.config.basic_user).map(|c| c.to_owned())
}

/// An authenticated admin caller.
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let service = &state.service;
        let peer = peer(&parts.extensions);
        let client = match client_address(service, &parts.headers, peer) {
            Ok(client) => client,
            Err(e) => {
                service.verifier.throttle_failure(peer);
                return Err(e);
            }
        };
        let token = bearer(&parts.headers, service).map(zeroize::Zeroizing::new);
        let caller = service
            .authenticate(
                token.as_deref().map(String::as_str),
                parts.method.as_str(),
                parts.uri.path(),
                client,
            )
            .await?;
        Ok(Admin(caller))
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Error> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.to_owned()))
            .map_err(|_| Error::Invalid {
                code: "invalid_header",
                field: Some("Idempotency-Key".into()),
                message: "Idempotency-Key must be visible ASCII".into(),
            }),
    }
}

/// `If-Match` is required on updates and deletes.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, Error> {
    let value = headers
        .get(header::IF_MATCH)
        .ok_or(Error::PreconditionRequired)?;
    let text = value.to_str().map_err(|_| Error::PreconditionRequired)?;
    parse_if_match(text)
}

/// `If-Match` where it is optional (commands such as rotate and revoke).
fn optional_if_match(headers: &HeaderMap) -> Result<Option<i64>, Error> {
    match headers.get(header::IF_MATCH) {
        None => Ok(None),
        Some(_) => if_match(headers),
    }
}

fn request_fingerprint(method: &Method, uri: &Uri, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 64);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(uri.path().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

fn outcome_response(outcome: Outcome) -> Response {
    let status = StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::OK);
    let mut response = (status, Json(outcome.body)).into_response();
    if let Some(v) = outcome
        .etag
        .and_then(|v| HeaderValue::from_str(&format!("\"{v}\"")).ok())
    {
        response.headers_mut().insert(header::ETAG, v);
    }
    if outcome.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

fn with_etag<T: serde::Serialize>(value: T, version: i64) -> Response {
    let mut response = Json(value).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// Everything a mutating handler needs from the request.
struct Mutating {
    idem: Option<String>,
    fingerprint: Vec<u8>,
}

fn mutating(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Mutating, Error> {
    Ok(Mutating {
        idem: idempotency_key(headers)?,
        fingerprint: request_fingerprint(method, uri, body),
    })
}

type ApiResult = Result<Response, Error>;

// -------------------------------------------------------------------------------------------------
// Router
// -------------------------------------------------------------------------------------------------

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .route("/v1/verify", post(verify))
        .route("/v1/auth-request", any(auth_request))
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/logout", post(logout))
        .route(
            "/v1/auth/sessions",
            get(list_sessions).delete(end_my_sessions),
        )
        .route(
            "/v1/auth/sessions/{id}",
            axum::routing::delete(end_my_session),
        )
        .route(
            "/v1/principals/{id}/sessions",
            axum::routing::delete(end_principal_sessions),
        )
        .route(
            "/v1/principals",
            get(list_principals).post(create_principal),
        )
        .route(
            "/v1/principals/{id}",
            get(get_principal)
                .patch(patch_principal)
                .delete(delete_principal),
        )
        .route(
            "/v1/principals/{id}/password",
            axum::routing::put(set_password),
        )
        .route(
            "/v1/principals/{id}/keys",
            get(list_principal_keys).post(create_key),
        )
        .route("/v1/groups", get(list_groups).post(create_group))
        .route(
            "/v1/groups/{id}",
            get(get_group).patch(patch_group).delete(delete_group),
        )
        .route("/v1/roles", get(list_roles).post(create_role))
        .route(
            "/v1/roles/{id}",
            get(get_role).patch(patch_role).delete(delete_role),
        )
        .route("/v1/profiles", get(list_profiles).post(create_profile))
        .route(
            "/v1/profiles/{id}",
            get(get_profile).patch(patch_profile).delete(delete_profile),
        )
        .route("/v1/keys", get(list_keys))
        .route(
            "/v1/keys/{id}",
            get(get_key).patch(patch_key).delete(delete_key),
        )
        .route("/v1/keys/{id}/rotate", post(rotate_key))
        .route("/v1/keys/{id}/refresh", post(refresh_key))
        .route("/v1/keys/{id}/revoke", post(revoke_key))
        .route("/v1/changes", get(changes))
        .route("/v1/audit", get(audit))
        .route("/v1/verify/stats", get(verify_stats))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("a request handler panicked");
                error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the server could not complete the request".into(),
                    None,
                )
            },
        ))
        .with_state(state)
}

async fn not_found() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint".into(),
        None,
    )
}

async fn method_not_allowed() -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take this method".into(),
        None,
    )
}

#[utoipa::path(get, path = "/healthz", tag = "service", responses((status = 200, description = "The server is up and its index is loaded")))]
async fn healthz(State(state): State<AppState>) -> Response {
    let index = state
        .service
        .index
        .read()
        .unwrap_or_else(|p| p.into_inner());
    Json(json!({ "status": "ok", "backend": state.service.store.backend(), "keys": index.key_count(), "seq": index.seq }))
        .into_response()
}

#[utoipa::path(get, path = "/openapi.json", tag = "service", responses((status = 200, description = "This document")))]
async fn openapi() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

// -------------------------------------------------------------------------------------------------
// Verification
// -------------------------------------------------------------------------------------------------

#[utoipa::path(post, path = "/v1/verify", tag = "verify", request_body = VerifyRequest,
    responses((status = 200, body = VerifyResponse, description = "The decision (allowed or not)"),
              (status = 400, body = ErrorBody), (status = 429, body = ErrorBody, description = "Too many failures from this address")))]
async fn verify(State(state): State<AppState>, request: Request) -> ApiResult {
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

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
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
async fn auth_request(State(state): State<AppState>, request: Request) -> Response {
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
struct GatewayFacts<'a> {
    method: &'a str,
    uri: &'a str,
    client: Option<IpAddr>,
    environment: Option<&'a str>,
    scope: Option<&'a str>,
    operation: Option<&'a str>,
}

/// The gateway's facts, or `None` when the peer is not a trusted gateway, or a fact is
/// missing (`X-Original-Method`, `X-Original-URI`) or sent more than once.
fn gateway_facts<'a>(
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
fn refusal_response(reason: crate::verify::Reason) -> Response {
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

// -------------------------------------------------------------------------------------------------
// Sessions
// -------------------------------------------------------------------------------------------------

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = Login,
    responses((status = 200, body = Session), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ConnectInfoOpt(peer): ConnectInfoOpt,
    RawBody(body): RawBody,
) -> ApiResult {
    let req: Login = parse(&body)?;
    let client = client_address(&state.service, &headers, peer)?.or(peer);
    Ok(Json(state.service.login(req, client).await?).into_response())
}

#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", responses((status = 204, description = "The session token no longer works")), security(("bearer" = [])))]
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    if let Some(token) = bearer(&headers, &state.service).map(zeroize::Zeroizing::new) {
        state.service.logout(&token).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(get, path = "/v1/auth/sessions", tag = "auth", responses((status = 200, body = SessionList, description = "Your sessions")), security(("bearer" = [])))]
async fn list_sessions(State(state): State<AppState>, Admin(caller): Admin) -> ApiResult {
    Ok(Json(state.service.list_sessions(&caller).await?).into_response())
}

#[utoipa::path(delete, path = "/v1/auth/sessions", tag = "auth", responses((status = 200, body = SessionsEnded, description = "All your sessions ended, this one too")), security(("bearer" = [])))]
async fn end_my_sessions(State(state): State<AppState>, Admin(caller): Admin) -> ApiResult {
    let principal = caller.principal_id.clone();
    Ok(Json(
        state
            .service
            .end_sessions(&caller, &principal, None)
            .await?,
    )
    .into_response())
}

#[utoipa::path(delete, path = "/v1/auth/sessions/{id}", tag = "auth", params(("id" = String, Path, description = "A session id from GET /v1/auth/sessions")),
    responses((status = 200, body = SessionsEnded), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn end_my_session(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
) -> ApiResult {
    let principal = caller.principal_id.clone();
    Ok(Json(
        state
            .service
            .end_sessions(&caller, &principal, Some(&id))
            .await?,
    )
    .into_response())
}

#[utoipa::path(delete, path = "/v1/principals/{id}/sessions", tag = "principals", params(("id" = String, Path)),
    responses((status = 200, body = SessionsEnded, description = "Every session of the principal ended")), security(("bearer" = [])))]
async fn end_principal_sessions(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
) -> ApiResult {
    Ok(Json(state.service.end_sessions(&caller, &id, None).await?).into_response())
}

// -------------------------------------------------------------------------------------------------
// Principals
// -------------------------------------------------------------------------------------------------

#[utoipa::path(get, path = "/v1/principals", tag = "principals", responses((status = 200, body = Vec<Principal>)), security(("bearer" = [])))]
async fn list_principals(State(state): State<AppState>, Admin(caller): Admin) -> ApiResult {
    Ok(Json(state.service.list_principals(&caller)?).into_response())
}

#[utoipa::path(post, path = "/v1/principals", tag = "principals", request_body = CreatePrincipal,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses((status = 201, body = Principal), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn create_principal(
    State(state): State<AppState>,
    Admin(caller): Admin,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let m = mutating(&method, &uri, &headers, &body)?;
    let s = &state.service;
    let out = s
        .run(&caller, m.idem.as_deref(), &m.fingerprint, || {
            s.plan_create_principal(&caller, parse(&body)?)
        })
        .await?;
    Ok(outcome_response(out))
}

#[utoipa::path(get, path = "/v1/principals/{id}", tag = "principals", params(("id" = String, Path)),
    responses((status = 200, body = Principal, headers(("ETag" = String))), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_principal(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
) -> ApiResult {
    let p = state.service.get_principal(&caller, &id)?;
    let v = p.version;
    Ok(with_etag(p, v))
}

#[utoipa::path(patch, path = "/v1/principals/{id}", tag = "principals", request_body = PatchPrincipal,
    params(("id" = String, Path), ("If-Match" = String, Header, description = "The ETag you read"), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Principal), (status = 412, body = ErrorBody), (status = 428, body = ErrorBody)), security(("bearer" = [])))]
async fn patch_principal(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let m = mutating(&method, &uri, &headers, &body)?;
    let expected = if_match(&headers)?;
    let s = &state.service;
    let out = s
        .run(&caller, m.idem.as_deref(), &m.fingerprint, || {
            s.plan_patch_principal(&caller, &id, expected, parse(&body)?)
        })
        .await?;
    Ok(outcome_response(out))
}

#[utoipa::path(delete, path = "/v1/principals/{id}", tag = "principals", params(("id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, description = "Deleted; its keys are revoked"), (status = 412, body = ErrorBody), (status = 428, body = ErrorBody)), security(("bearer" = [])))]
async fn delete_principal(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult {
    let m = mutating(&method, &uri, &headers, &Bytes::new())?;
    let expected = if_match(&headers)?;
    let s = &state.service;
    let out = s
        .run(&caller, m.idem.as_deref(), &m.fingerprint, || {
            s.plan_delete_principal(&caller, &id, expected)
        })
        .await?;
    Ok(outcome_response(out))
}

#[utoipa::path(put, path = "/v1/principals/{id}/password", tag = "principals", request_body = SetPassword, params(("id" = String, Path)),
    responses((status = 200, description = "Password set (Argon2id); the user's sessions end, keys are not affected"),
              (status = 400, body = ErrorBody, description = "Your own password needs `current_password`"),
              (status = 403, body = ErrorBody, description = "Wrong current password, or the user holds privileges you lack")), security(("bearer" = [])))]
async fn set_password(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let m = mutating(&method, &uri, &headers, &body)?;
    let req: SetPassword = parse(&body)?;
    let out = state
        .service
        .set_password(&caller, &id, req, m.idem.as_deref(), &m.fingerprint)
        .await?;
    Ok(outcome_response(out))
}

// -------------------------------------------------------------------------------------------------
// Groups, roles, profiles
// -------------------------------------------------------------------------------------------------

#[utoipa::path(get, path = "/v1/groups", tag = "groups", responses((status = 200, body = Vec<Group>)), security(("bearer" = [])))]
async fn list_groups(State(state): State<AppState>, Admin(caller): Admin) -> ApiResult {
    Ok(Json(state.service.list_groups(&caller)?).into_response())
}

#[utoipa::path(post, path = "/v1/groups", tag = "groups", request_body = CreateGroup, params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Group), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn create_group(
    State(state): State<AppState>,
    Admin(caller): Admin,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let m = mutating(&method, &uri, &headers, &body)?;
    let s = &state.service;
    let out = s
        .run(&caller, m.idem.as_deref(), &m.fingerprint, || {
            s.plan_create_group(&caller, parse(&body)?)
        })
        .await?;
    Ok(outcome_response(out))
}

#[utoipa::path(get, path = "/v1/groups/{id}", tag = "groups", params(("id" = String, Path)), responses((status = 200, body = Group)), security(("bearer" = [])))]
async fn get_group(State(state): State<AppState>, Admin(caller): Admin, Id(id): Id) -> ApiResult {
    let g = state.service.get_group(&caller, &id)?;
    let v = g.version;
    Ok(with_etag(g, v))
}

#[utoipa::path(patch, path = "/v1/groups/{id}", tag = "groups", request_body = PatchGroup, params(("id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Group), (status = 412, body = ErrorBody), (status = 428, body = ErrorBody)), security(("bearer" = [])))]
async fn patch_group(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let m = mutating(&method, &uri, &headers, &body)?;
    let expected = if_match(&headers)?;
    let s = &state.service;
    let out = s
        .run(&caller, m.idem.as_deref(), &m.fingerprint, || {
            s.plan_patch_group(&caller, &id, expected, parse(&body)?)
        })
        .await?;
    Ok(outcome_response(out))
}

#[utoipa::path(delete, path = "/v1/groups/{id}", tag = "groups", params(("id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, description = "Deleted"), (status = 412, body = ErrorBody)), security(("bearer" = [])))]
async fn delete_group(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult {
    delete_kind(state, caller, Kind::Group, id, method, uri, headers).await
}

async fn delete_kind(
    state: AppState,
    caller: Caller,
    kind: Kind,
    id: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult {
    let m = mutating(&method, &uri, &headers, &Bytes::new())?;
    let expected = if_match(&headers)?;
    let s = &state.service;
    let out = s
        .run(&caller, m.idem.as_deref(), &m.fingerprint, || {
            s.plan_delete(&caller, kind, &id, expected)
        })
        .await?;
    Ok(outcome_response(out))
}

#[utoipa::path(get, path = "/v1/roles", tag = "roles", responses((status = 200, body = Vec<Role>)), security(("bearer" = [])))]
async fn list_roles(State(state): State<AppState>, Admin(caller): Admin) -> ApiResult {
    Ok(Json(state.service.list_roles(&caller)?).into_response())
}

#[utoipa::path(post, path = "/v1/roles", tag = "roles", request_body = CreateRole, params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Role)), security(("bearer" = [])))]
async fn create_role(
    State(state): State<AppState>,
    Admin(caller): Admin,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let m = mutating(&method, &uri, &headers, &body)?;
    let s = &state.service;
    let out = s
        .run(&caller, m.idem.as_deref(), &m.fingerprint, || {
            s.plan_create_role(&caller, parse(&body)?)
        })
        .await?;
    Ok(outcome_response(out))
}

#[utoipa::path(get, path = "/v1/roles/{id}", tag = "roles", params(("id" = String, Path)), responses((status = 200, body = Role)), security(("bearer" = [])))]
async fn get_role(State(state): State<AppState>, Admin(caller): Admin, Id(id): Id) -> ApiResult {
    let r = state.service.get_role(&caller, &id)?;
    let v = r.version;
    Ok(with_etag(r, v))
}

#[utoipa::path(patch, path = "/v1/roles/{id}", tag = "roles", request_body = PatchRole, params(("id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Role), (status = 412, body = ErrorBody), (status = 428, body = ErrorBody)), security(("bearer" = [])))]
async fn patch_role(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let m = mutating(&method, &uri, &headers, &body)?;
    let expected = if_match(&headers)?;
    let s = &state.service;
    let out = s
        .run(&caller, m.idem.as_deref(), &m.fingerprint, || {
            s.plan_patch_role(&caller, &id, expected, parse(&body)?)
        })
        .await?;
    Ok(outcome_response(out))
}

#[utoipa::path(delete, path = "/v1/roles/{id}", tag = "roles", params(("id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, description = "Deleted")), security(("bearer" = [])))]
async fn delete_role(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult {
    delete_kind(state, caller, Kind::Role, id, method, uri, headers).await
}

#[utoipa::path(get, path = "/v1/profiles", tag = "profiles", responses((status = 200, body = Vec<AccessProfile>)), security(("bearer" = [])))]
async fn list_profiles(State(state): State<AppState>, Admin(caller): Admin) -> ApiResult {
    Ok(Json(state.service.list_profiles(&caller)?).into_response())
}

#[utoipa::path(post, path = "/v1/profiles", tag = "profiles", request_body = CreateProfile, params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = AccessProfile)), security(("bearer" = [])))]
async fn create_profile(
    State(state): State<AppState>,
    Admin(caller): Admin,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let m = mutating(&method, &uri, &headers, &body)?;
    let s = &state.service;
    let out = s
        .run_sensitive(&caller, m.idem.as_deref(), &m.fingerprint, || {
            s.plan_create_profile(&caller, parse(&body)?)
        })
        .await?;
    Ok(outcome_response(out))
}

#[utoipa::path(get, path = "/v1/profiles/{id}", tag = "profiles", params(("id" = String, Path)), responses((status = 200, body = AccessProfile)), security(("bearer" = [])))]
async fn get_profile(State(state): State<AppState>, Admin(caller): Admin, Id(id): Id) -> ApiResult {
    let p = state.service.get_profile(&caller, &id)?;
    let v = p.version;
    Ok(with_etag(p, v))
}

#[utoipa::path(patch, path = "/v1/profiles/{id}", tag = "profiles", request_body = PatchProfile, params(("id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = AccessProfile), (status = 412, body = ErrorBody), (status = 428, body = ErrorBody)), security(("bearer" = [])))]
async fn patch_profile(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let m = mutating(&method, &uri, &headers, &body)?;
    let expected = if_match(&headers)?;
    let s = &state.service;
    let out = s
        .run_sensitive(&caller, m.idem.as_deref(), &m.fingerprint, || {
            s.plan_patch_profile(&caller, &id, expected, parse(&body)?)
        })
        .await?;
    Ok(outcome_response(out))
}

#[utoipa::path(delete, path = "/v1/profiles/{id}", tag = "profiles", params(("id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, description = "Deleted"), (status = 409, body = ErrorBody, description = "Still applied to keys")), security(("bearer" = [])))]
async fn delete_profile(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult {
    delete_kind(state, caller, Kind::Profile, id, method, uri, headers).await
}

// -------------------------------------------------------------------------------------------------
// Keys
// -------------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct KeyFilter {
    principal_id: Option<String>,
}

#[utoipa::path(get, path = "/v1/keys", tag = "keys", params(KeyFilter), responses((status = 200, body = Vec<Key>)), security(("bearer" = [])))]
async fn list_keys(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Q(filter): Q<KeyFilter>,
) -> ApiResult {
    Ok(Json(
        state
            .service
            .list_keys(&caller, filter.principal_id.as_deref())?,
    )
    .into_response())
}

#[utoipa::path(get, path = "/v1/principals/{id}/keys", tag = "keys", params(("id" = String, Path)), responses((status = 200, body = Vec<Key>)), security(("bearer" = [])))]
async fn list_principal_keys(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
) -> ApiResult {
    Ok(Json(state.service.list_keys(&caller, Some(&id))?).into_response())
}

#[utoipa::path(post, path = "/v1/principals/{id}/keys", tag = "keys", request_body = CreateKey,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = IssuedKey, description = "The key is in `key`, shown this once"), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn create_key(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let m = mutating(&method, &uri, &headers, &body)?;
    let s = &state.service;
    let out = s
        .run(&caller, m.idem.as_deref(), &m.fingerprint, || {
            s.plan_create_key(&caller, &id, parse(&body)?)
        })
        .await?;
    Ok(no_store(outcome_response(out)))
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[utoipa::path(get, path = "/v1/keys/{id}", tag = "keys", params(("id" = String, Path)), responses((status = 200, body = Key)), security(("bearer" = [])))]
async fn get_key(State(state): State<AppState>, Admin(caller): Admin, Id(id): Id) -> ApiResult {
    let k = state.service.get_key(&caller, &id)?;
    let v = k.version;
    Ok(with_etag(k, v))
}

#[utoipa::path(patch, path = "/v1/keys/{id}", tag = "keys", request_body = PatchKey, params(("id" = String, Path), ("If-Match" = String, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Key), (status = 412, body = ErrorBody), (status = 428, body = ErrorBody)), security(("bearer" = [])))]
async fn patch_key(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let m = mutating(&method, &uri, &headers, &body)?;
    let expected = if_match(&headers)?;
    let s = &state.service;
    let out = s
        .run(&caller, m.idem.as_deref(), &m.fingerprint, || {
            s.plan_patch_key(&caller, &id, expected, parse(&body)?)
        })
        .await?;
    Ok(outcome_response(out))
}

#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys", params(("id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, description = "Deleted"), (status = 412, body = ErrorBody), (status = 428, body = ErrorBody)), security(("bearer" = [])))]
async fn delete_key(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult {
    let m = mutating(&method, &uri, &headers, &Bytes::new())?;
    let expected = if_match(&headers)?;
    let s = &state.service;
    let out = s
        .run(&caller, m.idem.as_deref(), &m.fingerprint, || {
            s.plan_delete_key(&caller, &id, expected)
        })
        .await?;
    Ok(outcome_response(out))
}

#[utoipa::path(post, path = "/v1/keys/{id}/rotate", tag = "keys", request_body = RotateKey, params(("id" = String, Path), ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = IssuedKey, description = "The new key; the old one works until `grace_seconds` pass")), security(("bearer" = [])))]
async fn rotate_key(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let m = mutating(&method, &uri, &headers, &body)?;
    let expected = optional_if_match(&headers)?;
    let s = &state.service;
    let out = s
        .run(&caller, m.idem.as_deref(), &m.fingerprint, || {
            let req: RotateKey = parse(&body)?;
            s.plan_replace_key(
                &caller,
                &id,
                expected,
                Some(req.grace_seconds.unwrap_or(86_400)),
                (req.digest, req.display_prefix),
            )
        })
        .await?;
    Ok(no_store(outcome_response(out)))
}

#[utoipa::path(post, path = "/v1/keys/{id}/refresh", tag = "keys", request_body = Option<RefreshKey>, params(("id" = String, Path), ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = IssuedKey, description = "The old key is revoked and a new one issued")), security(("bearer" = [])))]
async fn refresh_key(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult {
    let m = mutating(&method, &uri, &headers, &body)?;
    let expected = optional_if_match(&headers)?;
    let s = &state.service;
    let out = s
        .run(&caller, m.idem.as_deref(), &m.fingerprint, || {
            let req: RefreshKey = parse(&body)?;
            s.plan_replace_key(
                &caller,
                &id,
                expected,
                None,
                (req.digest, req.display_prefix),
            )
        })
        .await?;
    Ok(no_store(outcome_response(out)))
}

#[utoipa::path(post, path = "/v1/keys/{id}/revoke", tag = "keys", params(("id" = String, Path), ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Key)), security(("bearer" = [])))]
async fn revoke_key(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult {
    let m = mutating(&method, &uri, &headers, &Bytes::new())?;
    let expected = optional_if_match(&headers)?;
    let s = &state.service;
    let out = s
        .run(&caller, m.idem.as_deref(), &m.fingerprint, || {
            s.plan_revoke_key(&caller, &id, expected)
        })
        .await?;
    Ok(outcome_response(out))
}

// -------------------------------------------------------------------------------------------------
// Feed, audit, statistics
// -------------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct FeedQuery {
    /// Return changes after this sequence number (0: from the start).
    #[serde(default)]
    since: i64,
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    100
}

#[utoipa::path(get, path = "/v1/changes", tag = "changes", params(FeedQuery), responses((status = 200, body = ChangePage)), security(("bearer" = [])))]
async fn changes(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Q(q): Q<FeedQuery>,
) -> ApiResult {
    Ok(Json(state.service.changes(&caller, q.since, q.limit).await?).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditParams {
    #[serde(default)]
    since: i64,
    #[serde(default = "default_limit")]
    limit: i64,
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
}

#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditParams), responses((status = 200, body = AuditPage)), security(("bearer" = [])))]
async fn audit(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Q(q): Q<AuditParams>,
) -> ApiResult {
    let query = AuditQuery {
        since: q.since,
        limit: q.limit,
        actor: q.actor,
        action: q.action,
        target: q.target,
    };
    Ok(Json(state.service.audit(&caller, query).await?).into_response())
}

#[utoipa::path(get, path = "/v1/verify/stats", tag = "verify", responses((status = 200, description = "Refusals by cause since start")), security(("bearer" = [])))]
async fn verify_stats(State(state): State<AppState>, Admin(caller): Admin) -> ApiResult {
    Ok(Json(state.service.verify_stats(&caller)?).into_response())
}

// -------------------------------------------------------------------------------------------------
// OpenAPI
// -------------------------------------------------------------------------------------------------

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An admin API key or a session token from /v1/auth/login",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Keywarden key server", description = "Issue, verify and govern API keys."),
    modifiers(&BearerAuth),
    paths(
        healthz, openapi, verify, auth_request, login, logout, list_sessions, end_my_sessions, end_my_session,
        end_principal_sessions,
        list_principals, create_principal, get_principal, patch_principal, delete_principal, set_password,
        list_groups, create_group, get_group, patch_group, delete_group,
        list_roles, create_role, get_role, patch_role, delete_role,
        list_profiles, create_profile, get_profile, patch_profile, delete_profile,
        list_keys, list_principal_keys, create_key, get_key, patch_key, delete_key, rotate_key, refresh_key, revoke_key,
        changes, audit, verify_stats,
    ),
    components(schemas(ErrorBody, AuditEntry, crate::service::ChangeView, crate::model::RatePolicy, crate::model::AccessMethod,
        crate::model::Slot, crate::model::PrincipalKind, crate::model::Kind, crate::verify::Reason, crate::verify::PrincipalSummary))
)]
pub struct ApiDoc;
