//! One-time codes of a user: email verification codes and password-reset tokens, stored only
//! as digests, with an attempt counter, an expiry and a consumed mark.

use sqlx::{Any, Executor, Row};

use super::get_id;
use crate::types::TenantId;
use crate::types::Timestamp;
use crate::types::UserId;

/// A live code as the verifier needs it.
#[derive(Debug, Clone)]
pub struct LiveCode {
    pub id: String,
    pub user_id: UserId,
    pub code_hash: String,
    pub attempts: i64,
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_code<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
    purpose: &str,
    code_hash: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO user_codes (id, tenant_id, user_id, purpose, code_hash, attempts, expires_at, consumed_at, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 0, $6, NULL, $7, $7)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(tenant_id.to_string())
    .bind(user_id.to_string())
    .bind(purpose)
    .bind(code_hash)
    .bind(expires_at.unix_seconds())
    .bind(now.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}

/// Ends every unconsumed code of this purpose for the user (a new one replaces them).
pub async fn consume_user_codes<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
    purpose: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE user_codes SET consumed_at = $4, updated_at = $4 \
         WHERE tenant_id = $1 AND user_id = $2 AND purpose = $3 AND consumed_at IS NULL",
    )
    .bind(tenant_id.to_string())
    .bind(user_id.to_string())
    .bind(purpose)
    .bind(now.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}

/// Ends every unconsumed code of this purpose of every user holding the role.
pub async fn consume_role_holders_codes<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    role_id: &str,
    purpose: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE user_codes SET consumed_at = $4, updated_at = $4 \
         WHERE tenant_id = $1 AND purpose = $3 AND consumed_at IS NULL \
           AND user_id IN (SELECT user_id FROM user_roles WHERE tenant_id = $1 AND role_id = $2)",
    )
    .bind(tenant_id.to_string())
    .bind(role_id)
    .bind(purpose)
    .bind(now.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}

/// The user's newest unconsumed, unexpired code of this purpose.
pub async fn find_live_code_for_user<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
    purpose: &str,
    now: Timestamp,
) -> sqlx::Result<Option<LiveCode>> {
    let row = sqlx::query(
        "SELECT id, user_id, code_hash, attempts FROM user_codes \
         WHERE tenant_id = $1 AND user_id = $2 AND purpose = $3 AND consumed_at IS NULL AND expires_at > $4 \
         ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(tenant_id.to_string())
    .bind(user_id.to_string())
    .bind(purpose)
    .bind(now.unix_seconds())
    .fetch_optional(db)
    .await?;
    row.map(|r| live_code(&r)).transpose()
}

/// The unconsumed, unexpired code with this digest (high-entropy tokens are looked up by digest).
pub async fn find_live_code_by_hash<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    purpose: &str,
    code_hash: &str,
    now: Timestamp,
) -> sqlx::Result<Option<LiveCode>> {
    let row = sqlx::query(
        "SELECT id, user_id, code_hash, attempts FROM user_codes \
         WHERE tenant_id = $1 AND purpose = $2 AND code_hash = $3 AND consumed_at IS NULL AND expires_at > $4",
    )
    .bind(tenant_id.to_string())
    .bind(purpose)
    .bind(code_hash)
    .bind(now.unix_seconds())
    .fetch_optional(db)
    .await?;
    row.map(|r| live_code(&r)).transpose()
}

fn live_code(row: &sqlx::any::AnyRow) -> sqlx::Result<LiveCode> {
    Ok(LiveCode {
        id: row.try_get("id")?,
        user_id: get_id(row, "user_id", UserId::parse)?,
        code_hash: row.try_get("code_hash")?,
        attempts: row.try_get("attempts")?,
    })
}

/// Spends one of the code's tries *before* it is compared; false when none are left (or the
/// code died meanwhile). Atomic, so parallel guesses cannot share one try.
pub async fn reserve_code_attempt<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: &str,
    max_attempts: i64,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE user_codes SET attempts = attempts + 1 \
         WHERE tenant_id = $1 AND id = $2 AND attempts < $3 AND consumed_at IS NULL AND expires_at > $4",
    )
    .bind(tenant_id.to_string())
    .bind(id)
    .bind(max_attempts)
    .bind(now.unix_seconds())
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Consumes the code; true for exactly one of several concurrent callers.
pub async fn consume_code<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE user_codes SET consumed_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND consumed_at IS NULL",
    )
    .bind(tenant_id.to_string())
    .bind(id)
    .bind(now.unix_seconds())
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}
