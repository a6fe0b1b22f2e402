//! Audit events: who did what to which resource, from where.
//!
//! A use case records its event with [`record`] inside the same transaction as the change,
//! so a change and its audit row commit or roll back together. Details never hold secrets.

pub use crate::types::{Actor, AuditEvent, AuditId, RequestContext};

pub mod api;

use sqlx::{Any, Executor};

/// Writes the event (in the caller's transaction) and logs it for the operator.
pub async fn record<'e>(db: impl Executor<'e, Database = Any>, event: AuditEvent) -> sqlx::Result<()> {
    crate::store::audit::insert_audit_event(db, &event).await?;
    tracing::info!(
        audit.action = event.action,
        audit.actor = event.actor.kind(),
        audit.target = event.target_id.as_deref(),
        tenant.id = event.tenant_id.map(|t| t.to_string()),
        "audit"
    );
    Ok(())
}
