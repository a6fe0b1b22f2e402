//! The audit log: append-only rows, written in the transaction of the change they record.

use sqlx::{Any, Executor};

use super::filter::{Filter, fetch_page};
use crate::types::AuditEvent;

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

impl AuditFilter {
    fn to_filter(&self, tenant_id: crate::types::TenantId) -> Filter {
        let mut filter = Filter::tenant(tenant_id);
        if let Some(action) = &self.action {
            filter.text("action = ?", action);
        }
        if let Some(actor) = &self.actor {
            filter.text("actor_id = ?", actor);
        }
        if let Some(target) = &self.target {
            filter.text("target_id = ?", target);
        }
        if let Some(since) = self.since {
            filter.int("created_at >= ?", since);
        }
        if let Some(until) = self.until {
            filter.int("created_at <= ?", until);
        }
        filter
    }
}

/// A page of the tenant's audit rows, newest first, of the `total` that match (on
/// `audit_log_tenant_created_idx`, or the action/actor/target index a filter names).
pub async fn list_audit_entries(
    db: &mut sqlx::AnyConnection,
    tenant_id: crate::types::TenantId,
    filter: &AuditFilter,
    total: i64,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<AuditEntry>> {
    let filter = filter.to_filter(tenant_id);
    const COLUMNS: &str = "id, actor_type, actor_id, action, target_type, target_id, outcome, ip, user_agent, \
                           request_id, details, created_at";
    fetch_page(db, "audit_log", COLUMNS, &filter, (total, limit, offset)).await
}

/// How many rows match. Unfiltered or by action alone, it is read from the trigger-kept
/// per-action counters (a few key reads); other filters count their index range.
pub async fn count_audit_entries<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: crate::types::TenantId,
    filter: &AuditFilter,
) -> sqlx::Result<i64> {
    let only_action =
        filter.actor.is_none() && filter.target.is_none() && filter.since.is_none() && filter.until.is_none();
    if only_action {
        return sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(row_count), 0) AS BIGINT) FROM audit_action_counters \
             WHERE tenant_id = $1 AND ($2 IS NULL OR action = $2)",
        )
        .bind(tenant_id.to_string())
        .bind(filter.action.as_deref())
        .fetch_one(db)
        .await;
    }
    let filter = filter.to_filter(tenant_id);
    let sql = format!("SELECT COUNT(*) FROM audit_log WHERE {}", filter.clause());
    sqlx::query_scalar_with(sqlx::AssertSqlSafe(sql), filter.arguments(&[])).persistent(false).fetch_one(db).await
}
