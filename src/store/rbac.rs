//! Roles, permissions and their links to users, always within a tenant.

pub use super::rbac_catalog::{
    Catalog, NamedEntry, count_entries, delete_entry, find_entry, insert_entry, list_entries, update_entry,
};

use sqlx::{Any, AnyConnection, Executor};

use crate::types::TenantId;
use crate::types::Timestamp;
use crate::types::UserId;

/// Inserts the built-in role or permission named `name` unless the tenant has it; returns its id.
async fn ensure_named(
    conn: &mut AnyConnection,
    table: Named,
    tenant_id: TenantId,
    name: &str,
    description: &str,
    now: Timestamp,
) -> sqlx::Result<String> {
    let (insert, select) = match table {
        Named::Role => (
            "INSERT INTO roles (id, tenant_id, name, description, built_in, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (tenant_id, name) DO NOTHING",
            "SELECT id FROM roles WHERE tenant_id = $1 AND name = $2",
        ),
        Named::Permission => (
            "INSERT INTO permissions (id, tenant_id, name, description, built_in, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (tenant_id, name) DO NOTHING",
            "SELECT id FROM permissions WHERE tenant_id = $1 AND name = $2",
        ),
    };
    sqlx::query(insert)
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(tenant_id.to_string())
        .bind(name)
        .bind(description)
        .bind(true)
        .bind(now.unix_seconds())
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar(select).bind(tenant_id.to_string()).bind(name).fetch_one(&mut *conn).await
}

#[derive(Clone, Copy)]
enum Named {
    Role,
    Permission,
}

pub async fn ensure_role(
    conn: &mut AnyConnection,
    tenant_id: TenantId,
    name: &str,
    description: &str,
    now: Timestamp,
) -> sqlx::Result<String> {
    ensure_named(conn, Named::Role, tenant_id, name, description, now).await
}

pub async fn ensure_permission(
    conn: &mut AnyConnection,
    tenant_id: TenantId,
    name: &str,
    description: &str,
    now: Timestamp,
) -> sqlx::Result<String> {
    ensure_named(conn, Named::Permission, tenant_id, name, description, now).await
}

pub async fn link_role_permission<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    role_id: &str,
    permission_id: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO role_permissions (tenant_id, role_id, permission_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (role_id, permission_id) DO NOTHING",
    )
    .bind(tenant_id.to_string())
    .bind(role_id)
    .bind(permission_id)
    .bind(now.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}

pub async fn assign_user_role<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
    role_id: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO user_roles (tenant_id, user_id, role_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (user_id, role_id) DO NOTHING",
    )
    .bind(tenant_id.to_string())
    .bind(user_id.to_string())
    .bind(role_id)
    .bind(now.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}

/// Whether the user holds `permission` through any of their roles, in one indexed read.
pub async fn user_has_permission<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
    permission: &str,
) -> sqlx::Result<bool> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM user_roles ur \
         JOIN role_permissions rp ON rp.tenant_id = ur.tenant_id AND rp.role_id = ur.role_id \
         JOIN permissions p ON p.tenant_id = rp.tenant_id AND p.id = rp.permission_id \
         WHERE ur.tenant_id = $1 AND ur.user_id = $2 AND p.name = $3 LIMIT 1",
    )
    .bind(tenant_id.to_string())
    .bind(user_id.to_string())
    .bind(permission)
    .fetch_optional(db)
    .await?;
    Ok(found.is_some())
}

/// Whether the user holds the tenant's built-in role `role` (the `admin` role).
pub async fn user_has_built_in_role<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
    role: &str,
) -> sqlx::Result<bool> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM user_roles ur \
         JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id \
         WHERE ur.tenant_id = $1 AND ur.user_id = $2 AND r.name = $3 AND r.built_in = $4 LIMIT 1",
    )
    .bind(tenant_id.to_string())
    .bind(user_id.to_string())
    .bind(role)
    .bind(true)
    .fetch_optional(db)
    .await?;
    Ok(found.is_some())
}

/// Whether `target` holds any permission that `actor` does not (through their roles): what
/// makes acting on the target an escalation for the actor.
pub async fn holds_permission_beyond<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    target: UserId,
    actor: UserId,
) -> sqlx::Result<bool> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM user_roles ur \
         JOIN role_permissions rp ON rp.tenant_id = ur.tenant_id AND rp.role_id = ur.role_id \
         WHERE ur.tenant_id = $1 AND ur.user_id = $2 AND NOT EXISTS ( \
           SELECT 1 FROM user_roles aur \
           JOIN role_permissions arp ON arp.tenant_id = aur.tenant_id AND arp.role_id = aur.role_id \
           WHERE aur.tenant_id = $1 AND aur.user_id = $3 AND arp.permission_id = rp.permission_id) \
         LIMIT 1",
    )
    .bind(tenant_id.to_string())
    .bind(target.to_string())
    .bind(actor.to_string())
    .fetch_optional(db)
    .await?;
    Ok(found.is_some())
}

/// Tenants that have no built-in admin role yet (created before roles existed).
pub async fn tenants_without_admin_role<'e>(db: impl Executor<'e, Database = Any>) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT t.id FROM tenants t WHERE NOT EXISTS \
         (SELECT 1 FROM roles r WHERE r.tenant_id = t.id AND r.name = 'admin')",
    )
    .fetch_all(db)
    .await
}

/// The permissions a role holds.
pub async fn list_role_permissions<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    role_id: &str,
) -> sqlx::Result<Vec<NamedEntry>> {
    sqlx::query_as(
        "SELECT p.id, p.name, p.description, p.built_in, p.created_at, p.updated_at FROM role_permissions rp \
         JOIN permissions p ON p.tenant_id = rp.tenant_id AND p.id = rp.permission_id \
         WHERE rp.tenant_id = $1 AND rp.role_id = $2 ORDER BY p.name",
    )
    .bind(tenant_id.to_string())
    .bind(role_id)
    .fetch_all(db)
    .await
}

/// The roles a user holds.
pub async fn list_user_roles<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
) -> sqlx::Result<Vec<NamedEntry>> {
    sqlx::query_as(
        "SELECT r.id, r.name, r.description, r.built_in, r.created_at, r.updated_at FROM user_roles ur \
         JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id \
         WHERE ur.tenant_id = $1 AND ur.user_id = $2 ORDER BY r.name",
    )
    .bind(tenant_id.to_string())
    .bind(user_id.to_string())
    .fetch_all(db)
    .await
}

pub async fn unlink_role_permission<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    role_id: &str,
    permission_id: &str,
) -> sqlx::Result<bool> {
    let result =
        sqlx::query("DELETE FROM role_permissions WHERE tenant_id = $1 AND role_id = $2 AND permission_id = $3")
            .bind(tenant_id.to_string())
            .bind(role_id)
            .bind(permission_id)
            .execute(db)
            .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn unassign_user_role<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
    role_id: &str,
) -> sqlx::Result<bool> {
    let result = sqlx::query("DELETE FROM user_roles WHERE tenant_id = $1 AND user_id = $2 AND role_id = $3")
        .bind(tenant_id.to_string())
        .bind(user_id.to_string())
        .bind(role_id)
        .execute(db)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// The names of a user's roles and of the permissions they grant, for access-token claims.
pub async fn user_grants<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
) -> sqlx::Result<(Vec<String>, Vec<String>)> {
    let rows = sqlx::query(
        "SELECT r.name AS role, p.name AS permission FROM user_roles ur \
         JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id \
         LEFT JOIN role_permissions rp ON rp.tenant_id = ur.tenant_id AND rp.role_id = ur.role_id \
         LEFT JOIN permissions p ON p.tenant_id = rp.tenant_id AND p.id = rp.permission_id \
         WHERE ur.tenant_id = $1 AND ur.user_id = $2",
    )
    .bind(tenant_id.to_string())
    .bind(user_id.to_string())
    .fetch_all(db)
    .await?;
    collect_grants(rows)
}

/// Role and permission names from rows of `role` and (nullable) `permission`, sorted, unique.
pub fn collect_grants(rows: Vec<sqlx::any::AnyRow>) -> sqlx::Result<(Vec<String>, Vec<String>)> {
    use sqlx::Row;
    let mut roles = std::collections::BTreeSet::new();
    let mut permissions = std::collections::BTreeSet::new();
    for row in rows {
        roles.insert(row.try_get::<String, _>("role")?);
        if let Some(permission) = row.try_get::<Option<String>, _>("permission")? {
            permissions.insert(permission);
        }
    }
    Ok((roles.into_iter().collect(), permissions.into_iter().collect()))
}
