//! The audit log: append-only rows, written in the transaction of the change they record.

use sqlx::{Any, Executor};

use crate::audit::AuditEvent;

pub async fn insert_audit_event<'e>(db: impl Executor<'e, Database = Any>, event: &AuditEvent) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, tenant_id, actor_type, actor_id, action, target_type, target_id, \
         ip, request_id, details, user_agent, outcome, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
    )
    .bind(event.id.to_string())
    .bind(event.tenant_id.map(|t| t.to_string()))
    .bind(event.actor.kind())
    .bind(event.actor.id())
    .bind(event.action)
    .bind(event.target_type)
    .bind(event.target_id.as_deref())
    .bind(event.context.ip.as_deref())
    .bind(event.context.request_id.as_deref())
    .bind(event.details.as_ref().map(|d| d.to_string()))
    .bind(event.context.user_agent.as_deref())
    .bind(event.outcome)
    .bind(event.created_at.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}

/// An audit row as the administration API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEntry {
    pub id: String,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub outcome: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub details: Option<serde_json::Value>,
    pub created_at: crate::types::Timestamp,
}

impl sqlx::FromRow<'_, sqlx::any::AnyRow> for AuditEntry {
    fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        let details: Option<String> = row.try_get("details")?;
        Ok(Self {
            id: row.try_get("id")?,
            actor_type: row.try_get("actor_type")?,
            actor_id: row.try_get("actor_id")?,
            action: row.try_get("action")?,
            target_type: row.try_get("target_type")?,
            target_id: row.try_get("target_id")?,
            outcome: row.try_get("outcome")?,
            ip: row.try_get("ip")?,
            user_agent: row.try_get("user_agent")?,
            request_id: row.try_get("request_id")?,
            details: details.and_then(|d| serde_json::from_str(&d).ok()),
            created_at: crate::types::Timestamp(row.try_get("created_at")?),
        })
    }
}

/// Filters of `GET /audit-log`; None matches everything.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub target: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

const AUDIT_WHERE: &str = "tenant_id = $1 AND ($2 IS NULL OR action = $2) AND ($3 IS NULL OR actor_id = $3) \
     AND ($4 IS NULL OR target_id = $4) AND ($5 IS NULL OR created_at >= $5) AND ($6 IS NULL OR created_at <= $6)";

/// A page of the tenant's audit rows, newest first (on `audit_log_tenant_created_idx`).
pub async fn list_audit_entries<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: crate::tenants::TenantId,
    filter: &AuditFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<AuditEntry>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, actor_type, actor_id, action, target_type, target_id, outcome, ip, user_agent, request_id, \
         details, created_at FROM audit_log WHERE {AUDIT_WHERE} ORDER BY created_at DESC, id DESC LIMIT $7 OFFSET $8"
    )))
    .bind(tenant_id.to_string())
    .bind(filter.action.as_deref())
    .bind(filter.actor.as_deref())
    .bind(filter.target.as_deref())
    .bind(filter.since)
    .bind(filter.until)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

/// How many rows match; without filters it is the trigger-kept counter (one key read).
pub async fn count_audit_entries<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: crate::tenants::TenantId,
    filter: &AuditFilter,
) -> sqlx::Result<i64> {
    let unfiltered = filter.action.is_none()
        && filter.actor.is_none()
        && filter.target.is_none()
        && filter.since.is_none()
        && filter.until.is_none();
    if unfiltered {
        return sqlx::query_scalar("SELECT audit_rows FROM tenant_counters WHERE tenant_id = $1")
            .bind(tenant_id.to_string())
            .fetch_optional(db)
            .await
            .map(Option::unwrap_or_default);
    }
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM audit_log WHERE {AUDIT_WHERE}")))
        .bind(tenant_id.to_string())
        .bind(filter.action.as_deref())
        .bind(filter.actor.as_deref())
        .bind(filter.target.as_deref())
        .bind(filter.since)
        .bind(filter.until)
        .fetch_one(db)
        .await
}
