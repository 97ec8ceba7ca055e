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

mod extract;
mod feed;
mod gateway;
mod groups;
mod keys;
mod principals;
mod sessions;

use extract::*;
pub use extract::{Id, Q, RawBody, client_address, peer_trusted};
use feed::*;
pub use gateway::ConnectInfoOpt;
use gateway::*;
use groups::*;
use keys::*;
use principals::*;
use sessions::*;

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
