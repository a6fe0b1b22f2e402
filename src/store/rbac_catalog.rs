//! The role and permission catalogues of a tenant: creating, reading, listing, changing and
//! deleting entries (re-exported by `store::rbac`, where the links between them are).

use sqlx::{Any, Executor};

use crate::types::TenantId;
use crate::types::Timestamp;

/// Roles and permissions have the same shape; the table is chosen from this closed set, which
/// is what makes the formatted SQL below safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catalog {
    Roles,
    Permissions,
}

impl Catalog {
    fn table(self) -> &'static str {
        match self {
            Self::Roles => "roles",
            Self::Permissions => "permissions",
        }
    }
}

/// A role or a permission.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NamedEntry {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub built_in: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl sqlx::FromRow<'_, sqlx::any::AnyRow> for NamedEntry {
    fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            built_in: super::get_bool(row, "built_in")?,
            created_at: Timestamp(row.try_get("created_at")?),
            updated_at: Timestamp(row.try_get("updated_at")?),
        })
    }
}

const ENTRY_COLUMNS: &str = "id, name, description, built_in, created_at, updated_at";

pub async fn insert_entry<'e>(
    db: impl Executor<'e, Database = Any>,
    catalog: Catalog,
    tenant_id: TenantId,
    name: &str,
    description: Option<&str>,
    now: Timestamp,
) -> sqlx::Result<NamedEntry> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {} (id, tenant_id, name, description, built_in, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {ENTRY_COLUMNS}",
        catalog.table()
    )))
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(tenant_id.to_string())
    .bind(name)
    .bind(description)
    .bind(false)
    .bind(now.unix_seconds())
    .fetch_one(db)
    .await
}

pub async fn find_entry<'e>(
    db: impl Executor<'e, Database = Any>,
    catalog: Catalog,
    tenant_id: TenantId,
    id: &str,
) -> sqlx::Result<Option<NamedEntry>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ENTRY_COLUMNS} FROM {} WHERE tenant_id = $1 AND id = $2",
        catalog.table()
    )))
    .bind(tenant_id.to_string())
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn list_entries<'e>(
    db: impl Executor<'e, Database = Any>,
    catalog: Catalog,
    tenant_id: TenantId,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<NamedEntry>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ENTRY_COLUMNS} FROM {} WHERE tenant_id = $1 ORDER BY name, id LIMIT $2 OFFSET $3",
        catalog.table()
    )))
    .bind(tenant_id.to_string())
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

pub async fn count_entries<'e>(
    db: impl Executor<'e, Database = Any>,
    catalog: Catalog,
    tenant_id: TenantId,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {} WHERE tenant_id = $1", catalog.table())))
        .bind(tenant_id.to_string())
        .fetch_one(db)
        .await
}

pub async fn update_entry<'e>(
    db: impl Executor<'e, Database = Any>,
    catalog: Catalog,
    tenant_id: TenantId,
    id: &str,
    name: Option<&str>,
    description: Option<&str>,
    now: Timestamp,
) -> sqlx::Result<Option<NamedEntry>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE {} SET name = COALESCE($3, name), description = COALESCE($4, description), updated_at = $5 \
         WHERE tenant_id = $1 AND id = $2 RETURNING {ENTRY_COLUMNS}",
        catalog.table()
    )))
    .bind(tenant_id.to_string())
    .bind(id)
    .bind(name)
    .bind(description)
    .bind(now.unix_seconds())
    .fetch_optional(db)
    .await
}

pub async fn delete_entry<'e>(
    db: impl Executor<'e, Database = Any>,
    catalog: Catalog,
    tenant_id: TenantId,
    id: &str,
) -> sqlx::Result<bool> {
    let result =
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {} WHERE tenant_id = $1 AND id = $2", catalog.table())))
            .bind(tenant_id.to_string())
            .bind(id)
            .execute(db)
            .await?;
    Ok(result.rows_affected() == 1)
}
