//! Tenants: the root of every tenant-owned row. Deleting one cascades to everything it owns.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, FromRow, Row};

use super::{get_bool, get_id};
use crate::types::Timestamp;
use crate::types::{Tenant, TenantId};

impl FromRow<'_, AnyRow> for Tenant {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: get_id(row, "id", TenantId::parse)?,
            slug: row.try_get("slug")?,
            name: row.try_get("name")?,
            active: get_bool(row, "active")?,
            created_at: Timestamp(row.try_get("created_at")?),
            updated_at: Timestamp(row.try_get("updated_at")?),
        })
    }
}

/// Inserts the tenant unless its slug is taken; true when it was inserted.
pub async fn insert_tenant_if_slug_free<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant: &Tenant,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "INSERT INTO tenants (id, slug, name, active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (slug) DO NOTHING",
    )
    .bind(tenant.id.to_string())
    .bind(&tenant.slug)
    .bind(&tenant.name)
    .bind(tenant.active)
    .bind(tenant.created_at.unix_seconds())
    .bind(tenant.updated_at.unix_seconds())
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn find_tenant_by_id<'e>(
    db: impl Executor<'e, Database = Any>,
    id: TenantId,
) -> sqlx::Result<Option<Tenant>> {
    sqlx::query_as("SELECT id, slug, name, active, created_at, updated_at FROM tenants WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(db)
        .await
}

pub async fn find_tenant_by_slug<'e>(
    db: impl Executor<'e, Database = Any>,
    slug: &str,
) -> sqlx::Result<Option<Tenant>> {
    sqlx::query_as("SELECT id, slug, name, active, created_at, updated_at FROM tenants WHERE slug = $1")
        .bind(slug)
        .fetch_optional(db)
        .await
}

/// A page of tenants, oldest first (ids are time-ordered, so `id` breaks ties stably).
pub async fn list_tenants<'e>(
    db: impl Executor<'e, Database = Any>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Tenant>> {
    sqlx::query_as(
        "SELECT id, slug, name, active, created_at, updated_at FROM tenants \
         ORDER BY created_at, id LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

pub async fn list_tenant_slugs<'e>(
    db: impl Executor<'e, Database = Any>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT slug FROM tenants ORDER BY slug LIMIT $1 OFFSET $2")
        .bind(limit)
        .bind(offset)
        .fetch_all(db)
        .await
}

pub async fn count_tenants<'e>(db: impl Executor<'e, Database = Any>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM tenants").fetch_one(db).await
}

/// Changes the given fields (None keeps the stored value); None when there is no such tenant.
pub async fn update_tenant<'e>(
    db: impl Executor<'e, Database = Any>,
    id: TenantId,
    name: Option<&str>,
    active: Option<bool>,
    now: Timestamp,
) -> sqlx::Result<Option<Tenant>> {
    sqlx::query_as(
        "UPDATE tenants SET name = COALESCE($2, name), active = COALESCE($3, active), updated_at = $4 \
         WHERE id = $1 RETURNING id, slug, name, active, created_at, updated_at",
    )
    .bind(id.to_string())
    .bind(name)
    .bind(active)
    .bind(now.unix_seconds())
    .fetch_optional(db)
    .await
}

/// Deletes the tenant and, by cascade, everything it owns; false when there was none.
pub async fn delete_tenant<'e>(db: impl Executor<'e, Database = Any>, id: TenantId) -> sqlx::Result<bool> {
    let result = sqlx::query("DELETE FROM tenants WHERE id = $1").bind(id.to_string()).execute(db).await?;
    Ok(result.rows_affected() == 1)
}
