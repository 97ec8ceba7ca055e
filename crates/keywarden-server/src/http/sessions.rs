//! Login, logout and sessions.

use super::*;

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = Login,
    responses((status = 200, body = Session), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(super) async fn login(
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
pub(super) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    if let Some(token) = bearer(&headers, &state.service).map(zeroize::Zeroizing::new) {
        state.service.logout(&token).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(get, path = "/v1/auth/sessions", tag = "auth", responses((status = 200, body = SessionList, description = "Your sessions")), security(("bearer" = [])))]
pub(super) async fn list_sessions(
    State(state): State<AppState>,
    Admin(caller): Admin,
) -> ApiResult {
    Ok(Json(state.service.list_sessions(&caller).await?).into_response())
}

#[utoipa::path(delete, path = "/v1/auth/sessions", tag = "auth", responses((status = 200, body = SessionsEnded, description = "All your sessions ended, this one too")), security(("bearer" = [])))]
pub(super) async fn end_my_sessions(
    State(state): State<AppState>,
    Admin(caller): Admin,
) -> ApiResult {
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
pub(super) async fn end_my_session(
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
pub(super) async fn end_principal_sessions(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Id(id): Id,
) -> ApiResult {
    Ok(Json(state.service.end_sessions(&caller, &id, None).await?).into_response())
}
