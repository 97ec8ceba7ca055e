//! The change feed, the audit log and refusal statistics.

use super::*;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct FeedQuery {
    /// Return changes after this sequence number (0: from the start).
    #[serde(default)]
    since: i64,
    #[serde(default = "default_limit")]
    limit: i64,
}

pub(super) fn default_limit() -> i64 {
    100
}

#[utoipa::path(get, path = "/v1/changes", tag = "changes", params(FeedQuery), responses((status = 200, body = ChangePage)), security(("bearer" = [])))]
pub(super) async fn changes(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Q(q): Q<FeedQuery>,
) -> ApiResult {
    Ok(Json(state.service.changes(&caller, q.since, q.limit).await?).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct AuditParams {
    #[serde(default)]
    since: i64,
    #[serde(default = "default_limit")]
    limit: i64,
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
}

#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditParams), responses((status = 200, body = AuditPage)), security(("bearer" = [])))]
pub(super) async fn audit(
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
pub(super) async fn verify_stats(State(state): State<AppState>, Admin(caller): Admin) -> ApiResult {
    Ok(Json(state.service.verify_stats(&caller)?).into_response())
}
