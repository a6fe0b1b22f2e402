//! Roles, permissions and their links to users, always within a tenant.

use sqlx::{Any, AnyConnection, Executor};

use crate::tenants::TenantId;
use crate::types::Timestamp;
use crate::users::UserId;

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

/// Tenants that have no built-in admin role yet (created before roles existed).
pub async fn tenants_without_admin_role<'e>(db: impl Executor<'e, Database = Any>) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT t.id FROM tenants t WHERE NOT EXISTS \
         (SELECT 1 FROM roles r WHERE r.tenant_id = t.id AND r.name = 'admin')",
    )
    .fetch_all(db)
    .await
}
