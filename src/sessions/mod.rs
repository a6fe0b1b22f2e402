//! Session administration (seed "Sessions"): list live sessions (`sessions:read`), revoke one
//! (`sessions:write`) — its refresh tokens and access tokens stop working on every instance.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use crate::app::AppState;
use crate::audit::{self, AuditEvent, RequestContext};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{Page, Pagination};
use crate::rbac::{Manage, SessionsRead, SessionsWrite};
use crate::store::{self, sessions::SessionSummary};
use crate::types::SessionId;
use crate::types::Timestamp;
use crate::users::UserId;

#[derive(Deserialize)]
pub struct SessionFilter {
    user_id: Option<String>,
}

/// `GET /sessions?user_id=&page=&per_page=`: live sessions, newest first.
pub async fn list_sessions(
    State(state): State<AppState>,
    access: Manage<SessionsRead>,
    pagination: Pagination,
    Query(filter): Query<SessionFilter>,
) -> ApiResult<Json<Page<SessionSummary>>> {
    let user_id = match filter.user_id.as_deref().filter(|u| !u.is_empty()) {
        None => None,
        Some(text) => Some(
            UserId::parse(text)
                .map_err(|_| ApiError::validation(FieldErrors::from([("user_id".into(), "must be a UUID".into())])))?,
        ),
    };
    let (pool, tenant_id, now) = (state.store.pool(), access.tenant.id, Timestamp::now());
    let sessions =
        store::sessions::list_live_sessions(pool, tenant_id, user_id, now, pagination.limit(), pagination.offset())
            .await?;
    let total = store::sessions::count_live_sessions(pool, tenant_id, user_id, now).await?;
    Ok(Json(Page::new(sessions, pagination, total)))
}

/// `DELETE /sessions/{id}` → 204; 404 for an unknown, ended or foreign session.
pub async fn revoke_session(
    State(state): State<AppState>,
    access: Manage<SessionsWrite>,
    context: RequestContext,
    Path(id): Path<SessionId>,
) -> ApiResult<StatusCode> {
    let tenant_id = access.tenant.id;
    let mut tx = state.store.begin().await?;
    if !store::sessions::revoke_session(&mut *tx, tenant_id, id, "revoked_by_admin", Timestamp::now()).await? {
        return Err(ApiError::NotFound("session"));
    }
    let event = AuditEvent::new(access.actor, "session.revoked", context).in_tenant(tenant_id).target("session", id);
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
