//! Instance-wide state that is not owned by a tenant.

use sqlx::{Any, Executor};

use crate::types::Timestamp;

/// Claims a one-time step by key. Exactly one caller, across all instances sharing the
/// database, gets `true`; every later call gets `false`.
pub async fn claim_once<'e>(db: impl Executor<'e, Database = Any>, key: &str, now: Timestamp) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "INSERT INTO system_state (key, value, created_at, updated_at) VALUES ($1, 'done', $2, $2) \
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(now.unix_seconds())
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The cache epoch (migration 0011): `state` moves whenever state that instances cache is
/// written, `revocations` whenever an access token is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct CacheEpoch {
    #[sqlx(rename = "generation")]
    pub state: i64,
    pub revocations: i64,
}

pub async fn cache_epoch<'e>(db: impl Executor<'e, Database = Any>) -> sqlx::Result<CacheEpoch> {
    sqlx::query_as("SELECT generation, revocations FROM cache_epoch WHERE id = 1").fetch_one(db).await
}
