//! OAuth clients of a tenant, and the roles granted to them.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, FromRow, Row};

use super::get_bool;
use crate::types::TenantId;
use crate::types::Timestamp;

/// A client as stored. `id` is also its OAuth `client_id`; `secret_hash` is the hex SHA-256 of
/// a confidential client's secret.
#[derive(Debug, Clone)]
pub struct ClientRow {
    pub id: String,
    pub tenant_id: TenantId,
    pub name: String,
    pub client_type: String,
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub first_party: bool,
    pub access_token_ttl_seconds: Option<i64>,
    pub refresh_token_ttl_seconds: Option<i64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl ClientRow {
    pub fn is_confidential(&self) -> bool {
        self.client_type == "confidential"
    }

    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    pub fn allows_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Whether the client may obtain tokens for ovlt's own API on its users' behalf: it is
    /// first-party and lists the ovlt-API scope.
    pub fn allows_ovlt_api(&self) -> bool {
        self.first_party && self.allows_scope(crate::types::OVLT_API_SCOPE)
    }
}

fn json_list(row: &AnyRow, column: &str) -> sqlx::Result<Vec<String>> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

impl FromRow<'_, AnyRow> for ClientRow {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            tenant_id: super::get_id(row, "tenant_id", TenantId::parse)?,
            name: row.try_get("name")?,
            client_type: row.try_get("client_type")?,
            secret_hash: row.try_get("secret_hash")?,
            redirect_uris: json_list(row, "redirect_uris")?,
            post_logout_redirect_uris: json_list(row, "post_logout_redirect_uris")?,
            grant_types: json_list(row, "grant_types")?,
            scopes: json_list(row, "scopes")?,
            first_party: get_bool(row, "first_party")?,
            access_token_ttl_seconds: row.try_get("access_token_ttl_seconds")?,
            refresh_token_ttl_seconds: row.try_get("refresh_token_ttl_seconds")?,
            created_at: Timestamp(row.try_get("created_at")?),
            updated_at: Timestamp(row.try_get("updated_at")?),
        })
    }
}

const COLUMNS: &str = "id, tenant_id, name, client_type, secret_hash, redirect_uris, post_logout_redirect_uris, \
                       grant_types, scopes, first_party, access_token_ttl_seconds, refresh_token_ttl_seconds, \
                       created_at, updated_at";

pub async fn insert_client<'e>(db: impl Executor<'e, Database = Any>, c: &ClientRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO clients (id, tenant_id, name, client_type, secret_hash, redirect_uris, post_logout_redirect_uris, \
         grant_types, scopes, first_party, access_token_ttl_seconds, refresh_token_ttl_seconds, deleted_at, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, $13, $14)",
    )
    .bind(&c.id)
    .bind(c.tenant_id.to_string())
    .bind(&c.name)
    .bind(&c.client_type)
    .bind(c.secret_hash.as_deref())
    .bind(to_json(&c.redirect_uris))
    .bind(to_json(&c.post_logout_redirect_uris))
    .bind(to_json(&c.grant_types))
    .bind(to_json(&c.scopes))
    .bind(c.first_party)
    .bind(c.access_token_ttl_seconds)
    .bind(c.refresh_token_ttl_seconds)
    .bind(c.created_at.unix_seconds())
    .bind(c.updated_at.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}

/// Writes every field of a live client (the secret included); false when it is gone.
pub async fn update_client<'e>(db: impl Executor<'e, Database = Any>, c: &ClientRow) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE clients SET name = $3, client_type = $4, secret_hash = $5, redirect_uris = $6, \
         post_logout_redirect_uris = $7, grant_types = $8, scopes = $9, first_party = $10, \
         access_token_ttl_seconds = $11, refresh_token_ttl_seconds = $12, updated_at = $13 \
         WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
    )
    .bind(c.tenant_id.to_string())
    .bind(&c.id)
    .bind(&c.name)
    .bind(&c.client_type)
    .bind(c.secret_hash.as_deref())
    .bind(to_json(&c.redirect_uris))
    .bind(to_json(&c.post_logout_redirect_uris))
    .bind(to_json(&c.grant_types))
    .bind(to_json(&c.scopes))
    .bind(c.first_party)
    .bind(c.access_token_ttl_seconds)
    .bind(c.refresh_token_ttl_seconds)
    .bind(c.updated_at.unix_seconds())
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Locks a live client's row for the rest of the transaction (a no-op write: PostgreSQL takes
/// the row lock, SQLite's transaction already holds the writer lock), so a read-modify-write of
/// it cannot interleave with another — a PUT that read the row before a secret rotation would
/// otherwise write the old secret back. False when there is no such client.
pub async fn lock_client<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: &str,
) -> sqlx::Result<bool> {
    sqlx::query("UPDATE clients SET updated_at = updated_at WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL")
        .bind(tenant_id.to_string())
        .bind(id)
        .execute(db)
        .await
        .map(|done| done.rows_affected() == 1)
}

/// A live client of the tenant.
pub async fn find_client<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: &str,
) -> sqlx::Result<Option<ClientRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM clients WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
    )))
    .bind(tenant_id.to_string())
    .bind(id)
    .fetch_optional(db)
    .await
}

/// A live client by its OAuth `client_id`, whatever its tenant: OAuth requests name the client,
/// and the client names the tenant (callers then check the tenant is enabled). The same read
/// brings, when `with_context`, what the token endpoint needs next — the tenant's settings
/// (JSON, if any) and whether the client has roles — so a client_credentials token costs one
/// query; introspection and revocation need neither and skip the subqueries.
pub async fn find_client_by_client_id<'e>(
    db: impl Executor<'e, Database = Any>,
    client_id: &str,
    with_context: bool,
) -> sqlx::Result<Option<(ClientRow, Option<String>, bool)>> {
    let context = if with_context {
        "(SELECT s.settings FROM tenant_settings s WHERE s.tenant_id = clients.tenant_id) AS tenant_settings, \
         EXISTS (SELECT 1 FROM client_roles r WHERE r.tenant_id = clients.tenant_id AND r.client_id = clients.id) \
         AS has_roles"
    } else {
        "NULL AS tenant_settings, 1 = 0 AS has_roles"
    };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, {context} FROM clients WHERE id = $1 AND deleted_at IS NULL"
    )))
    .bind(client_id)
    .fetch_optional(db)
    .await?;
    row.map(|row| Ok((ClientRow::from_row(&row)?, row.try_get("tenant_settings")?, get_bool(&row, "has_roles")?)))
        .transpose()
}

pub async fn list_clients<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<ClientRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM clients WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY id LIMIT $2 OFFSET $3"
    )))
    .bind(tenant_id.to_string())
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

pub async fn count_clients<'e>(db: impl Executor<'e, Database = Any>, tenant_id: TenantId) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM clients WHERE tenant_id = $1 AND deleted_at IS NULL")
        .bind(tenant_id.to_string())
        .fetch_one(db)
        .await
}

/// Deactivates a client and ends every session issued to it; false when it was not live.
pub async fn deactivate_client(
    conn: &mut sqlx::AnyConnection,
    tenant_id: TenantId,
    id: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE clients SET deleted_at = $3, secret_hash = NULL, updated_at = $3 \
         WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
    )
    .bind(tenant_id.to_string())
    .bind(id)
    .bind(now.unix_seconds())
    .execute(&mut *conn)
    .await?;
    if result.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE sessions SET revoked_at = $3, revoked_reason = 'client_deleted', updated_at = $3 \
         WHERE tenant_id = $1 AND client_id = $2 AND revoked_at IS NULL",
    )
    .bind(tenant_id.to_string())
    .bind(id)
    .bind(now.unix_seconds())
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

pub async fn list_client_roles<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    client_id: &str,
) -> sqlx::Result<Vec<super::rbac::NamedEntry>> {
    sqlx::query_as(
        "SELECT r.id, r.name, r.description, r.built_in, r.created_at, r.updated_at FROM client_roles cr \
         JOIN roles r ON r.tenant_id = cr.tenant_id AND r.id = cr.role_id \
         WHERE cr.tenant_id = $1 AND cr.client_id = $2 ORDER BY r.name",
    )
    .bind(tenant_id.to_string())
    .bind(client_id)
    .fetch_all(db)
    .await
}

pub async fn assign_client_role<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    client_id: &str,
    role_id: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO client_roles (tenant_id, client_id, role_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (tenant_id, client_id, role_id) DO NOTHING",
    )
    .bind(tenant_id.to_string())
    .bind(client_id)
    .bind(role_id)
    .bind(now.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}

pub async fn unassign_client_role<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    client_id: &str,
    role_id: &str,
) -> sqlx::Result<bool> {
    let result = sqlx::query("DELETE FROM client_roles WHERE tenant_id = $1 AND client_id = $2 AND role_id = $3")
        .bind(tenant_id.to_string())
        .bind(client_id)
        .bind(role_id)
        .execute(db)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Names of the client's roles and of the permissions they grant (for client_credentials).
pub async fn client_grants<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    client_id: &str,
) -> sqlx::Result<(Vec<String>, Vec<String>)> {
    let rows = sqlx::query(
        "SELECT r.name AS role, p.name AS permission FROM client_roles cr \
         JOIN roles r ON r.tenant_id = cr.tenant_id AND r.id = cr.role_id \
         LEFT JOIN role_permissions rp ON rp.tenant_id = r.tenant_id AND rp.role_id = r.id \
         LEFT JOIN permissions p ON p.tenant_id = rp.tenant_id AND p.id = rp.permission_id \
         WHERE cr.tenant_id = $1 AND cr.client_id = $2",
    )
    .bind(tenant_id.to_string())
    .bind(client_id)
    .fetch_all(db)
    .await?;
    super::rbac::collect_grants(rows)
}
