//! Groups, roles and access profiles.

use super::*;

#[utoipa::path(get, path = "/v1/groups", tag = "groups", responses((status = 200, body = Vec<Group>)), security(("bearer" = [])))]
pub(super) async fn list_groups(State(state): State<AppState>, Admin(caller): Admin) -> ApiResult {
    Ok(Json(state.service.list_groups(&caller)?).into_response())
}

#[utoipa::path(post, path = "/v1/groups", tag = "groups", request_body = CreateGroup, params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Group), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn create_group(
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
pub(super) async fn get_group(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
) -> ApiResult {
    let g = state.service.get_group(&caller, &id)?;
    let v = g.version;
    Ok(with_etag(g, v))
}

#[utoipa::path(patch, path = "/v1/groups/{id}", tag = "groups", request_body = PatchGroup, params(("id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Group), (status = 412, body = ErrorBody), (status = 428, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn patch_group(
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
pub(super) async fn delete_group(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult {
    delete_kind(state, caller, Kind::Group, id, method, uri, headers).await
}

pub(super) async fn delete_kind(
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
pub(super) async fn list_roles(State(state): State<AppState>, Admin(caller): Admin) -> ApiResult {
    Ok(Json(state.service.list_roles(&caller)?).into_response())
}

#[utoipa::path(post, path = "/v1/roles", tag = "roles", request_body = CreateRole, params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Role)), security(("bearer" = [])))]
pub(super) async fn create_role(
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
pub(super) async fn get_role(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
) -> ApiResult {
    let r = state.service.get_role(&caller, &id)?;
    let v = r.version;
    Ok(with_etag(r, v))
}

#[utoipa::path(patch, path = "/v1/roles/{id}", tag = "roles", request_body = PatchRole, params(("id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = Role), (status = 412, body = ErrorBody), (status = 428, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn patch_role(
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
pub(super) async fn delete_role(
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
pub(super) async fn list_profiles(
    State(state): State<AppState>,
    Admin(caller): Admin,
) -> ApiResult {
    Ok(Json(state.service.list_profiles(&caller)?).into_response())
}

#[utoipa::path(post, path = "/v1/profiles", tag = "profiles", request_body = CreateProfile, params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = AccessProfile)), security(("bearer" = [])))]
pub(super) async fn create_profile(
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
pub(super) async fn get_profile(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
) -> ApiResult {
    let p = state.service.get_profile(&caller, &id)?;
    let v = p.version;
    Ok(with_etag(p, v))
}

#[utoipa::path(patch, path = "/v1/profiles/{id}", tag = "profiles", request_body = PatchProfile, params(("id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = AccessProfile), (status = 412, body = ErrorBody), (status = 428, body = ErrorBody)), security(("bearer" = [])))]
pub(super) async fn patch_profile(
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
pub(super) async fn delete_profile(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult {
    delete_kind(state, caller, Kind::Profile, id, method, uri, headers).await
}
