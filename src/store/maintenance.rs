//! Clean-up of rows that can no longer matter. These statements deliberately span every tenant:
//! they are the system's housekeeping, keyed only on expiry, and never read data back.

use sqlx::{Any, Executor};

use crate::types::Timestamp;

/// How long an expired row is kept anyway (a late replay is still recognised meanwhile).
pub const KEEP_AFTER_EXPIRY_SECONDS: i64 = 86_400;

/// Deletes expired refresh tokens, revoked-token entries, one-time and authorization codes; returns how many.
pub async fn delete_expired_rows<'e, E>(db: E, now: Timestamp) -> sqlx::Result<u64>
where
    E: Executor<'e, Database = Any> + Copy,
{
    let cutoff = now.unix_seconds() - KEEP_AFTER_EXPIRY_SECONDS;
    let mut deleted = 0;
    for statement in [
        "DELETE FROM refresh_tokens WHERE expires_at < $1",
        "DELETE FROM user_codes WHERE expires_at < $1",
        "DELETE FROM revoked_access_tokens WHERE expires_at < $1",
        "DELETE FROM authorization_codes WHERE expires_at < $1",
        "DELETE FROM mfa_challenges WHERE expires_at < $1",
    ] {
        deleted += sqlx::query(statement).bind(cutoff).execute(db).await?.rows_affected();
    }
    Ok(deleted)
}
