//! Authorization codes (SHA-256 digests only, single use) and remembered consent.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, FromRow, Row};

use crate::types::SessionId;
use crate::types::TenantId;
use crate::types::Timestamp;
use crate::types::UserId;

/// An authorization code's grant: everything the token request is checked against.
#[derive(Debug, Clone)]
pub struct CodeRow {
    pub code_hash: String,
    pub tenant_id: TenantId,
    pub client_id: String,
    pub sso_session_id: SessionId,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    /// The S256 PKCE challenge, when the client sent one.
    pub code_challenge: Option<String>,
    pub issued_session_id: Option<SessionId>,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
}

fn session_id(row: &AnyRow, column: &str) -> sqlx::Result<Option<SessionId>> {
    row.try_get::<Option<String>, _>(column)?
        .map(|id| SessionId::parse(&id).map_err(|e| sqlx::Error::Decode(Box::new(e))))
        .transpose()
}

impl FromRow<'_, AnyRow> for CodeRow {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            code_hash: row.try_get("code_hash")?,
            tenant_id: super::get_id(row, "tenant_id", TenantId::parse)?,
            client_id: row.try_get("client_id")?,
            sso_session_id: super::get_id(row, "sso_session_id", SessionId::parse)?,
            redirect_uri: row.try_get("redirect_uri")?,
            scope: row.try_get("scope")?,
            nonce: row.try_get("nonce")?,
            code_challenge: row.try_get("code_challenge")?,
            issued_session_id: session_id(row, "issued_session_id")?,
            expires_at: Timestamp(row.try_get("expires_at")?),
            created_at: Timestamp(row.try_get("created_at")?),
        })
    }
}

const CODE_COLUMNS: &str = "code_hash, tenant_id, client_id, sso_session_id, redirect_uri, scope, nonce, \
                            code_challenge, issued_session_id, expires_at, created_at";

pub async fn insert_code<'e>(db: impl Executor<'e, Database = Any>, code: &CodeRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO authorization_codes (code_hash, tenant_id, client_id, sso_session_id, redirect_uri, scope, nonce, \
         code_challenge, issued_session_id, expires_at, consumed_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, NULL, $10, $10)",
    )
    .bind(&code.code_hash)
    .bind(code.tenant_id.to_string())
    .bind(&code.client_id)
    .bind(code.sso_session_id.to_string())
    .bind(&code.redirect_uri)
    .bind(&code.scope)
    .bind(code.nonce.as_deref())
    .bind(code.code_challenge.as_deref())
    .bind(code.expires_at.unix_seconds())
    .bind(code.created_at.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}

/// Marks an unexpired, unused code as used and returns it. Of concurrent exchanges exactly one
/// wins (the same conditional-update argument as refresh-token rotation).
pub async fn consume_code<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    code_hash: &str,
    now: Timestamp,
) -> sqlx::Result<Option<CodeRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE authorization_codes SET consumed_at = $3, updated_at = $3 \
         WHERE tenant_id = $1 AND code_hash = $2 AND consumed_at IS NULL AND expires_at > $3 RETURNING {CODE_COLUMNS}"
    )))
    .bind(tenant_id.to_string())
    .bind(code_hash)
    .bind(now.unix_seconds())
    .fetch_optional(db)
    .await
}

/// A code that was already used: what its exchange issued, to end it on a replay.
pub async fn find_used_code<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    code_hash: &str,
) -> sqlx::Result<Option<CodeRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CODE_COLUMNS} FROM authorization_codes \
         WHERE tenant_id = $1 AND code_hash = $2 AND consumed_at IS NOT NULL"
    )))
    .bind(tenant_id.to_string())
    .bind(code_hash)
    .fetch_optional(db)
    .await
}

pub async fn set_issued_session<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    code_hash: &str,
    session_id: SessionId,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE authorization_codes SET issued_session_id = $3 WHERE tenant_id = $1 AND code_hash = $2")
        .bind(tenant_id.to_string())
        .bind(code_hash)
        .bind(session_id.to_string())
        .execute(db)
        .await
        .map(|_| ())
}

/// The scopes the user has granted the client, space-separated.
pub async fn find_consent<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
    client_id: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT scope FROM consents WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3")
        .bind(tenant_id.to_string())
        .bind(user_id.to_string())
        .bind(client_id)
        .fetch_optional(db)
        .await
}

pub async fn save_consent<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
    client_id: &str,
    scope: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO consents (tenant_id, user_id, client_id, scope, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (tenant_id, user_id, client_id) DO UPDATE SET scope = excluded.scope, updated_at = excluded.updated_at",
    )
    .bind(tenant_id.to_string())
    .bind(user_id.to_string())
    .bind(client_id)
    .bind(scope)
    .bind(now.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}
