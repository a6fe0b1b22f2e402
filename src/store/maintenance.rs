//! Clean-up of rows that can no longer matter, and the lease that lets one instance at a time do
//! it. The purge statements deliberately span every tenant (but audit retention, which is the
//! tenant's own choice): they are the system's housekeeping, keyed only on when a row ended, and
//! never read data back. Each deletes at most one batch, found through an index (migration 0014).

use sqlx::{Any, Executor};

use crate::types::TenantId;
use crate::types::Timestamp;

/// How long an ended row is kept anyway (a late replay is still recognised meanwhile; no access
/// token outlives its session by more).
pub const KEEP_AFTER_EXPIRY_SECONDS: i64 = 86_400;

/// The tables purged by expiry, each with a statement deleting at most `$2` rows that ended
/// before `$1`. An ended session's refresh tokens (one per rotation, hundreds for a long one)
/// and codes go first, in batches of their own, so that the session's own batch cascades to
/// nothing large.
pub const EXPIRED: [(&str, &str); 12] = [
    (
        "refresh_tokens",
        "DELETE FROM refresh_tokens WHERE id IN \
         (SELECT r.id FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id \
          WHERE COALESCE(s.revoked_at, s.expires_at) < $1 LIMIT $2)",
    ),
    (
        "authorization_codes",
        "DELETE FROM authorization_codes WHERE code_hash IN \
         (SELECT c.code_hash FROM authorization_codes c JOIN sessions s ON s.id = c.sso_session_id \
          WHERE COALESCE(s.revoked_at, s.expires_at) < $1 LIMIT $2)",
    ),
    (
        "sessions",
        "DELETE FROM sessions WHERE id IN \
         (SELECT id FROM sessions WHERE COALESCE(revoked_at, expires_at) < $1 LIMIT $2)",
    ),
    (
        "refresh_tokens",
        "DELETE FROM refresh_tokens WHERE id IN (SELECT id FROM refresh_tokens WHERE expires_at < $1 LIMIT $2)",
    ),
    ("user_codes", "DELETE FROM user_codes WHERE id IN (SELECT id FROM user_codes WHERE expires_at < $1 LIMIT $2)"),
    (
        "revoked_access_tokens",
        "DELETE FROM revoked_access_tokens WHERE jti IN \
         (SELECT jti FROM revoked_access_tokens WHERE expires_at < $1 LIMIT $2)",
    ),
    (
        "authorization_codes",
        "DELETE FROM authorization_codes WHERE code_hash IN \
         (SELECT code_hash FROM authorization_codes WHERE expires_at < $1 LIMIT $2)",
    ),
    (
        "login_attempts",
        "DELETE FROM login_attempts WHERE (tenant_id, email_key) IN \
         (SELECT tenant_id, email_key FROM login_attempts WHERE expires_at < $1 LIMIT $2)",
    ),
    (
        "mfa_challenges",
        "DELETE FROM mfa_challenges WHERE token_hash IN \
         (SELECT token_hash FROM mfa_challenges WHERE expires_at < $1 LIMIT $2)",
    ),
    (
        "flow_states",
        "DELETE FROM flow_states WHERE state_hash IN \
         (SELECT state_hash FROM flow_states WHERE expires_at < $1 LIMIT $2)",
    ),
    (
        "federation_codes",
        "DELETE FROM federation_codes WHERE code_hash IN \
         (SELECT code_hash FROM federation_codes WHERE expires_at < $1 LIMIT $2)",
    ),
    (
        "pending_links",
        "DELETE FROM pending_links WHERE token_hash IN \
         (SELECT token_hash FROM pending_links WHERE expires_at < $1 LIMIT $2)",
    ),
];

/// Runs one statement of [`EXPIRED`]: rows that ended before `cutoff`, at most `limit`.
pub async fn delete_expired_batch<'e>(
    db: impl Executor<'e, Database = Any>,
    statement: &'static str,
    cutoff: i64,
    limit: i64,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(statement).bind(cutoff).bind(limit).execute(db).await?.rows_affected())
}

/// Deletes at most `limit` audit rows of `tenant` created before `cutoff` (the count triggers
/// keep the list totals right).
pub async fn delete_old_audit_batch<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant: TenantId,
    cutoff: i64,
    limit: i64,
) -> sqlx::Result<u64> {
    sqlx::query(
        "DELETE FROM audit_log WHERE id IN \
         (SELECT id FROM audit_log WHERE tenant_id = $1 AND created_at < $2 LIMIT $3)",
    )
    .bind(tenant.to_string())
    .bind(cutoff)
    .bind(limit)
    .execute(db)
    .await
    .map(|done| done.rows_affected())
}

/// The stored settings of tenants that may have an audit retention set (a cheap text filter;
/// the caller parses them).
pub async fn settings_with_audit_retention<'e>(
    db: impl Executor<'e, Database = Any>,
) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT tenant_id, settings FROM tenant_settings \
         WHERE settings LIKE '%\"audit_retention_days\":%' \
           AND settings NOT LIKE '%\"audit_retention_days\":null%'",
    )
    .fetch_all(db)
    .await
}

/// Sessions neither ended nor expired at `now` (through the index on their end).
pub async fn count_live_sessions<'e>(db: impl Executor<'e, Database = Any>, now: Timestamp) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE COALESCE(revoked_at, expires_at) > $1")
        .bind(now.unix_seconds())
        .fetch_one(db)
        .await
}

/// Takes (or extends) the lease `name` for `holder` until `until`, if it is free, lapsed at
/// `now`, or already this holder's. True when `holder` has it.
pub async fn take_lease<'e>(
    db: impl Executor<'e, Database = Any>,
    name: &str,
    holder: &str,
    now: Timestamp,
    until: Timestamp,
) -> sqlx::Result<bool> {
    let taken = sqlx::query(
        "INSERT INTO maintenance_leases (name, holder, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE maintenance_leases.expires_at <= $4 OR maintenance_leases.holder = excluded.holder",
    )
    .bind(name)
    .bind(holder)
    .bind(until.unix_seconds())
    .bind(now.unix_seconds())
    .execute(db)
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// Gives the lease up, if `holder` still has it.
pub async fn release_lease<'e>(db: impl Executor<'e, Database = Any>, name: &str, holder: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE maintenance_leases SET expires_at = 0 WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(db)
        .await?;
    Ok(())
}
