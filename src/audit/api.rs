//! `GET /audit-log` (`audit:read`): the tenant's audit trail, newest first, filtered by
//! `action`, `actor` (actor id), `target` (target id), `since` and `until` (RFC 3339).

use axum::extract::State;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::{Json, Query};
use crate::http::pagination::{Page, Pagination};
use crate::rbac::{AuditRead, Manage};
use crate::store::{self, audit::AuditEntry, audit::AuditFilter};

#[derive(Deserialize)]
pub struct AuditQuery {
    action: Option<String>,
    actor: Option<String>,
    target: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

pub async fn list_audit_log(
    State(state): State<AppState>,
    access: Manage<AuditRead>,
    pagination: Pagination,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<Page<AuditEntry>>> {
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
    Ok(Json(Page::new(entries, pagination, total)))
}
