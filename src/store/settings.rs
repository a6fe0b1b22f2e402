//! Tenant settings, one JSON row per tenant.

use sqlx::{Any, Executor};

use crate::types::TenantId;
use crate::types::Timestamp;

pub async fn find_settings<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT settings FROM tenant_settings WHERE tenant_id = $1")
        .bind(tenant_id.to_string())
        .fetch_optional(db)
        .await
}

pub async fn upsert_settings<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    settings_json: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO tenant_settings (tenant_id, settings, created_at, updated_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
    )
    .bind(tenant_id.to_string())
    .bind(settings_json)
    .bind(now.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}
