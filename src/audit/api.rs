//! `GET /audit-log` (`audit:read`): the tenant's audit trail, newest first, filtered by
//! `action`, `actor` (actor id), `target` (target id), `since` and `until` (RFC 3339).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::openapi::Schema;
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::{Json, Query};
use crate::http::pagination::{Page, Pagination, RawPagination};
use crate::openapi::schema::{from_json, or_empty};
use crate::rbac::{AuditRead, Manage};
use crate::store::{self, audit::AuditEntry, audit::AuditFilter};
use crate::tenants::TenantHeaders;
use crate::types::{AuditId, Timestamp};

/// The schema of the `since` and `until` filters (doc-only: `IntoParams` drops a description
/// beside `schema_with`).
enum InstantFilter {}
crate::string_schema!(InstantFilter, or_empty(from_json(json!({ "type": "string", "format": "date-time" }))));

/// The filters; an empty value reads as absent.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this action, e.g. `login.failed`.
    #[param(value_type = String, required = false)]
    action: Option<String>,
    /// Only this actor id.
    #[param(value_type = String, required = false)]
    actor: Option<String>,
    /// Only this target id.
    #[param(value_type = String, required = false)]
    target: Option<String>,
    /// From this time (RFC 3339).
    #[param(value_type = InstantFilter, inline, required = false)]
    since: Option<String>,
    /// Until this time (RFC 3339).
    #[param(value_type = InstantFilter, inline, required = false)]
    until: Option<String>,
}

fn actor_type_schema() -> Schema {
    from_json(json!({ "type": "string", "enum": ["admin_key", "cli", "system", "user", "client", "anonymous"] }))
}

fn outcome_schema() -> Schema {
    from_json(json!({ "type": ["string", "null"], "enum": ["success", "failure", null] }))
}

fn details_schema() -> Schema {
    from_json(json!({ "type": ["object", "null"] }))
}

/// An audit row: who did what to which resource, from where.
// The store's `AuditEntry`, shown through this type so that the document describes it.
#[derive(Serialize, ToSchema)]
#[schema(as = AuditEvent)]
pub struct AuditEventResponse {
    #[schema(value_type = AuditId)]
    id: String,
    #[schema(schema_with = actor_type_schema)]
    actor_type: String,
    #[schema(required)]
    actor_id: Option<String>,
    /// e.g. `user.created`, `login.failed`.
    action: String,
    #[schema(required)]
    target_type: Option<String>,
    #[schema(required)]
    target_id: Option<String>,
    #[schema(required, schema_with = outcome_schema)]
    outcome: Option<String>,
    #[schema(required)]
    ip: Option<String>,
    #[schema(required)]
    user_agent: Option<String>,
    #[schema(required)]
    request_id: Option<String>,
    #[schema(required, schema_with = details_schema)]
    details: Option<serde_json::Value>,
    created_at: Timestamp,
}

impl From<AuditEntry> for AuditEventResponse {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            actor_type: e.actor_type,
            actor_id: e.actor_id,
            action: e.action,
            target_type: e.target_type,
            target_id: e.target_id,
            outcome: e.outcome,
            ip: e.ip,
            user_agent: e.user_agent,
            request_id: e.request_id,
            details: e.details,
            created_at: e.created_at,
        }
    }
}

/// `GET /audit-log?action=&actor=&target=&since=&until=&page=&per_page=`: newest first.
#[utoipa::path(
    get,
    path = "/audit-log",
    tag = "audit",
    summary = "The tenant's audit trail, newest first.",
    security(("adminKey" = []), ("bearer" = ["audit:read"])),
    params(TenantHeaders, RawPagination, AuditQuery),
    responses((status = 200, description = "A page of audit events.", body = Page<AuditEventResponse>))
)]
pub async fn list_audit_log(
    State(state): State<AppState>,
    access: Manage<AuditRead>,
    pagination: Pagination,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<Page<AuditEventResponse>>> {
    let mut fields = FieldErrors::new();
    let mut instant = |name: &str, value: Option<String>| {
        let value = value.filter(|v| !v.is_empty())?;
        match OffsetDateTime::parse(&value, &Rfc3339) {
            Ok(t) => Some(t.unix_timestamp()),
            Err(_) => {
                fields.insert(name.into(), "must be an RFC 3339 time, e.g. 2026-11-23T10:00:00Z".into());
                None
            }
        }
    };
    let since = instant("since", query.since);
    let until = instant("until", query.until);
    if !fields.is_empty() {
        return Err(ApiError::validation(fields));
    }
    let non_empty = |v: Option<String>| v.filter(|v| !v.is_empty());
    let filter = AuditFilter {
        action: non_empty(query.action),
        actor: non_empty(query.actor),
        target: non_empty(query.target),
        since,
        until,
    };
    let tenant_id = access.tenant.id;
    // One snapshot: the total decides where a page past the middle is read from.
    let mut snapshot = state.store.begin_read().await?;
    let total = store::audit::count_audit_entries(&mut *snapshot, tenant_id, &filter).await?;
    let (limit, offset) = (pagination.limit(), pagination.offset());
    let entries = store::audit::list_audit_entries(&mut snapshot, tenant_id, &filter, total, limit, offset).await?;
    snapshot.commit().await?;
    Ok(Json(Page::new(entries.into_iter().map(AuditEventResponse::from).collect(), pagination, total)))
}
