//! Signing keys (not tenant-owned: one issuer signs for every tenant, and tokens carry `tid`).

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, FromRow, Row};

use crate::types::Timestamp;

#[derive(Debug, Clone)]
pub struct SigningKeyRow {
    pub kid: String,
    pub algorithm: String,
    /// PKCS#8, sealed with the master key (associated data `signing_key:<kid>`).
    pub private_key: Vec<u8>,
    pub public_jwk: String,
    pub status: String,
    pub retired_at: Option<i64>,
    pub created_at: i64,
}

impl FromRow<'_, AnyRow> for SigningKeyRow {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            kid: row.try_get("kid")?,
            algorithm: row.try_get("algorithm")?,
            private_key: row.try_get("private_key")?,
            public_jwk: row.try_get("public_jwk")?,
            status: row.try_get("status")?,
            retired_at: row.try_get("retired_at")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// Inserts the new active key. Fails with a unique violation (`signing_keys_status_key`) when
/// another instance made one first.
pub async fn insert_active_key<'e>(db: impl Executor<'e, Database = Any>, key: &SigningKeyRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, algorithm, private_key, public_jwk, status, retired_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'active', NULL, $5, $5)",
    )
    .bind(&key.kid)
    .bind(&key.algorithm)
    .bind(&key.private_key)
    .bind(&key.public_jwk)
    .bind(key.created_at)
    .execute(db)
    .await
    .map(|_| ())
}

/// The active key first, then the keys retired after `retired_since`, newest first.
pub async fn list_usable_keys<'e>(
    db: impl Executor<'e, Database = Any>,
    retired_since: Timestamp,
) -> sqlx::Result<Vec<SigningKeyRow>> {
    sqlx::query_as(
        "SELECT kid, algorithm, private_key, public_jwk, status, retired_at, created_at FROM signing_keys \
         WHERE status = 'active' OR retired_at > $1 \
         ORDER BY CASE WHEN status = 'active' THEN 0 ELSE 1 END, created_at DESC, kid",
    )
    .bind(retired_since.unix_seconds())
    .fetch_all(db)
    .await
}

/// Retires the active key; true when there was one.
pub async fn retire_active_key<'e>(db: impl Executor<'e, Database = Any>, now: Timestamp) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE signing_keys SET status = 'retired', retired_at = $1, updated_at = $1 WHERE status = 'active'",
    )
    .bind(now.unix_seconds())
    .execute(db)
    .await?;
    Ok(result.rows_affected() > 0)
}
