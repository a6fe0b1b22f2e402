//! `GET /sessions` and `DELETE /sessions/{id}`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit::{self, AuditEvent, RequestContext};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{Page, Pagination, RawPagination};
use crate::openapi;
use crate::rbac::{Manage, SessionsRead, SessionsWrite};
use crate::store::{self, sessions::SessionSummary};
use crate::tenants::TenantHeaders;
use crate::types::SessionId;
use crate::types::Timestamp;
use crate::users::UserId;

/// The schema of the `user_id` filter (doc-only: `IntoParams` drops a description beside `schema_with`).
enum UserIdFilter {}
crate::string_schema!(UserIdFilter, openapi::schema::or_empty(openapi::schema::uuid()));

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionFilter {
    /// Only this user's sessions.
    #[param(value_type = UserIdFilter, inline, required = false)]
    user_id: Option<String>,
}

/// A live session, as the administration API lists it.
// The store's `SessionSummary`, shown through this type so that the document describes it.
#[derive(Serialize, ToSchema)]
#[schema(as = Session)]
pub struct SessionResponse {
    #[schema(value_type = SessionId)]
    id: String,
    #[schema(value_type = UserId)]
    user_id: String,
    /// The OAuth client, for sessions issued to one.
    #[schema(required)]
    client_id: Option<String>,
    #[schema(required)]
    ip: Option<String>,
    #[schema(required)]
    user_agent: Option<String>,
    created_at: Timestamp,
    last_seen_at: Timestamp,
    expires_at: Timestamp,
}

impl From<SessionSummary> for SessionResponse {
    fn from(s: SessionSummary) -> Self {
        Self {
            id: s.id,
            user_id: s.user_id,
            client_id: s.client_id,
            ip: s.ip,
            user_agent: s.user_agent,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
        }
    }
}

/// `GET /sessions?user_id=&page=&per_page=`: live sessions, newest first.
#[utoipa::path(
    get,
    path = "/sessions",
    tag = "sessions",
    summary = "Live sessions, newest first.",
    security(("adminKey" = []), ("bearer" = ["sessions:read"])),
    params(TenantHeaders, RawPagination, SessionFilter),
    responses((status = 200, description = "A page of sessions.", body = Page<SessionResponse>))
)]
pub async fn list_sessions(
    State(state): State<AppState>,
    access: Manage<SessionsRead>,
    pagination: Pagination,
    Query(filter): Query<SessionFilter>,
) -> ApiResult<Json<Page<SessionResponse>>> {
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
    Ok(Json(Page::new(sessions.into_iter().map(SessionResponse::from).collect(), pagination, total)))
}

/// `DELETE /sessions/{id}` → 204; 404 for an unknown, ended or foreign session.
#[utoipa::path(
    delete,
    path = "/sessions/{id}",
    tag = "sessions",
    summary = "Ends a session on every instance.",
    security(("adminKey" = []), ("bearer" = ["sessions:write"])),
    params(TenantHeaders, ("id" = SessionId, Path, description = "The session's id.")),
    responses((status = 204, description = "Ended."), (status = 404, description = "not_found"))
)]
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
