//! A tenant's upstream identity providers.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, FromRow, Row};

use super::get_bool;
use crate::types::TenantId;
use crate::types::Timestamp;

/// A provider as stored; `client_secret` is sealed (associated data `idp_secret:<id>`).
#[derive(Clone)]
pub struct ProviderRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub client_id: String,
    pub client_secret: Option<Vec<u8>>,
    pub issuer: Option<String>,
    pub scopes: Vec<String>,
    pub enabled: bool,
    /// Whether the provider's `email_verified` is believed.
    pub trust_email: bool,
    /// `auto`, `prompt` or `off`: an unknown identity whose address belongs to a user.
    pub link_existing: String,
    /// Whether the provider's own `amr` is believed (its `mfa` then counts as both factors).
    pub trust_amr: bool,
    /// The button's place on the sign-in page.
    pub position: i64,
    /// `google` and `github`: another base URL than the real one's (a test stand-in, an
    /// enterprise server).
    pub base_url: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl FromRow<'_, AnyRow> for ProviderRow {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        let scopes: String = row.try_get("scopes")?;
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            kind: row.try_get("kind")?,
            client_id: row.try_get("client_id")?,
            client_secret: row.try_get("client_secret")?,
            issuer: row.try_get("issuer")?,
            scopes: serde_json::from_str(&scopes).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            enabled: get_bool(row, "enabled")?,
            trust_email: get_bool(row, "trust_email")?,
            link_existing: row.try_get("link_existing")?,
            trust_amr: get_bool(row, "trust_amr")?,
            position: row.try_get("position")?,
            base_url: row.try_get("base_url")?,
            created_at: Timestamp(row.try_get("created_at")?),
            updated_at: Timestamp(row.try_get("updated_at")?),
        })
    }
}

const COLUMNS: &str = "id, name, kind, client_id, client_secret, issuer, scopes, enabled, trust_email, link_existing, \
                       trust_amr, position, base_url, created_at, updated_at";

pub async fn insert_provider<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    p: &ProviderRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO identity_providers (id, tenant_id, name, kind, client_id, client_secret, issuer, scopes, enabled, \
         trust_email, link_existing, trust_amr, position, base_url, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(&p.id)
    .bind(tenant_id.to_string())
    .bind(&p.name)
    .bind(&p.kind)
    .bind(&p.client_id)
    .bind(p.client_secret.as_deref())
    .bind(p.issuer.as_deref())
    .bind(serde_json::to_string(&p.scopes).unwrap_or_else(|_| "[]".into()))
    .bind(p.enabled)
    .bind(p.trust_email)
    .bind(&p.link_existing)
    .bind(p.trust_amr)
    .bind(p.position)
    .bind(p.base_url.as_deref())
    .bind(p.created_at.unix_seconds())
    .bind(p.updated_at.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}

/// Locks a provider's row for the rest of the transaction (a no-op write; see
/// `clients::lock_client`). False when there is no such provider.
pub async fn lock_provider<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: &str,
) -> sqlx::Result<bool> {
    sqlx::query("UPDATE identity_providers SET updated_at = updated_at WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id.to_string())
        .bind(id)
        .execute(db)
        .await
        .map(|done| done.rows_affected() == 1)
}

pub async fn update_provider<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    p: &ProviderRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE identity_providers SET name = $3, kind = $4, client_id = $5, client_secret = $6, issuer = $7, \
         scopes = $8, enabled = $9, trust_email = $10, link_existing = $11, trust_amr = $12, position = $13, \
         base_url = $14, updated_at = $15 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id.to_string())
    .bind(&p.id)
    .bind(&p.name)
    .bind(&p.kind)
    .bind(&p.client_id)
    .bind(p.client_secret.as_deref())
    .bind(p.issuer.as_deref())
    .bind(serde_json::to_string(&p.scopes).unwrap_or_else(|_| "[]".into()))
    .bind(p.enabled)
    .bind(p.trust_email)
    .bind(&p.link_existing)
    .bind(p.trust_amr)
    .bind(p.position)
    .bind(p.base_url.as_deref())
    .bind(p.updated_at.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}

pub async fn find_provider<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: &str,
) -> sqlx::Result<Option<ProviderRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM identity_providers WHERE tenant_id = $1 AND id = $2"
    )))
    .bind(tenant_id.to_string())
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn list_providers<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<ProviderRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM identity_providers WHERE tenant_id = $1 ORDER BY name, id LIMIT $2 OFFSET $3"
    )))
    .bind(tenant_id.to_string())
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

pub async fn count_providers<'e>(db: impl Executor<'e, Database = Any>, tenant_id: TenantId) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM identity_providers WHERE tenant_id = $1")
        .bind(tenant_id.to_string())
        .fetch_one(db)
        .await
}

pub async fn delete_provider<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: &str,
) -> sqlx::Result<bool> {
    let result = sqlx::query("DELETE FROM identity_providers WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id.to_string())
        .bind(id)
        .execute(db)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// The provider a sign-in URL names (`/auth/{name}`).
pub async fn find_provider_by_name<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    name: &str,
) -> sqlx::Result<Option<ProviderRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM identity_providers WHERE tenant_id = $1 AND name = $2"
    )))
    .bind(tenant_id.to_string())
    .bind(name)
    .fetch_optional(db)
    .await
}

/// The enabled providers, in the tenant's order: the sign-in page's buttons.
pub async fn list_enabled_providers<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
) -> sqlx::Result<Vec<ProviderRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM identity_providers WHERE tenant_id = $1 AND enabled = $2 ORDER BY position, name \
         LIMIT 20"
    )))
    .bind(tenant_id.to_string())
    .bind(true)
    .fetch_all(db)
    .await
}
