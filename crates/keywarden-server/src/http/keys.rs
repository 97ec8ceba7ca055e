//! Keys: issue, read, change, rotate, refresh, revoke, delete.

use super::*;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct KeyFilter {
    principal_id: Option<String>,
}

#[utoipa::path(get, path = "/v1/keys", tag = "keys", params(KeyFilter), responses((status = 200, body = Vec<Key>)), security(("bearer" = [])))]
pub(super) async fn list_keys(
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
pub(super) async fn list_principal_keys(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
) -> ApiResult {
    Ok(Json(state.service.list_keys(&caller, Some(&id))?).into_response())
}

#[utoipa::path(post, path = "/v1/principals/{id}/keys", tag = "keys", request_body = CreateKey,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = IssuedKey, description = "The key is in `key`, shown this once"), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn create_key(
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

pub(super) fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[utoipa::path(get, path = "/v1/keys/{id}", tag = "keys", params(("id" = String, Path)), responses((status = 200, body = Key)), security(("bearer" = [])))]
pub(super) async fn get_key(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
) -> ApiResult {
    let k = state.service.get_key(&caller, &id)?;
    let v = k.version;
    Ok(with_etag(k, v))
}

#[utoipa::path(patch, path = "/v1/keys/{id}", tag = "keys", request_body = PatchKey, params(("id" = String, Path), ("If-Match" = String, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Key), (status = 412, body = ErrorBody), (status = 428, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn patch_key(
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
pub(super) async fn delete_key(
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
pub(super) async fn rotate_key(
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
pub(super) async fn refresh_key(
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
pub(super) async fn revoke_key(
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
