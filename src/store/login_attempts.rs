//! Sign-in attempts per tenant and email address (migration 0015), for the lockout: counted for
//! any address, registered or not, so the answer for a locked address tells nothing about
//! whether an account uses it. The address is stored only as its key (`auth::attempt_key`, a
//! digest keyed by the master key).

use sqlx::{Any, Executor, Row};

use crate::types::TenantId;
use crate::types::Timestamp;

/// The attempts in the current window, this one included, and when the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts {
    pub count: i64,
    pub window_ends: Timestamp,
}

/// Counts an attempt *before* its password is checked. One atomic statement, so parallel
/// guesses each get their own number and cannot all slip under the threshold. The window
/// restarts when it has ended; a correct password clears it.
pub async fn count<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    key: &str,
    window_seconds: i64,
    now: Timestamp,
) -> sqlx::Result<Attempts> {
    let now = now.unix_seconds();
    let row = sqlx::query(
        "INSERT INTO login_attempts (tenant_id, email_key, attempts, window_start, expires_at) \
         VALUES ($1, $2, 1, $3, $4) \
         ON CONFLICT (tenant_id, email_key) DO UPDATE SET \
           attempts = CASE WHEN login_attempts.expires_at <= $3 THEN 1 ELSE login_attempts.attempts + 1 END, \
           window_start = CASE WHEN login_attempts.expires_at <= $3 THEN $3 ELSE login_attempts.window_start END, \
           expires_at = CASE WHEN login_attempts.expires_at <= $3 THEN $4 ELSE login_attempts.expires_at END \
         RETURNING attempts, expires_at",
    )
    .bind(tenant_id.to_string())
    .bind(key)
    .bind(now)
    .bind(now + window_seconds)
    .fetch_one(db)
    .await?;
    Ok(Attempts { count: row.try_get::<i64, _>("attempts")?, window_ends: Timestamp(row.try_get("expires_at")?) })
}

/// A correct password: the attempts counted so far are forgotten.
pub async fn clear<'e>(db: impl Executor<'e, Database = Any>, tenant_id: TenantId, key: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_attempts WHERE tenant_id = $1 AND email_key = $2")
        .bind(tenant_id.to_string())
        .bind(key)
        .execute(db)
        .await
        .map(|_| ())
}
