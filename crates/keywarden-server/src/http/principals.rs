//! Principals and their passwords.

use super::*;

#[utoipa::path(get, path = "/v1/principals", tag = "principals", responses((status = 200, body = Vec<Principal>)), security(("bearer" = [])))]
pub(super) async fn list_principals(
    State(state): State<AppState>,
    Admin(caller): Admin,
) -> ApiResult {
    Ok(Json(state.service.list_principals(&caller)?).into_response())
}

#[utoipa::path(post, path = "/v1/principals", tag = "principals", request_body = CreatePrincipal,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses((status = 201, body = Principal), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn create_principal(
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
pub(super) async fn get_principal(
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
pub(super) async fn patch_principal(
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
pub(super) async fn delete_principal(
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
pub(super) async fn set_password(
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
