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
