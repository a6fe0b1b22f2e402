//! Sessions, their refresh tokens (SHA-256 digests only), and revoked access-token ids.
//!
//! Lock order: a transaction that writes both a refresh token and its session writes the token
//! first. Revocations write only the session.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, FromRow, Row};

use super::get_id;
use crate::types::TenantId;
use crate::types::Timestamp;
use crate::types::UserId;
use crate::types::{Session, SessionId};

impl FromRow<'_, AnyRow> for Session {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: get_id(row, "id", SessionId::parse)?,
            tenant_id: get_id(row, "tenant_id", TenantId::parse)?,
            user_id: get_id(row, "user_id", UserId::parse)?,
            client_id: row.try_get("client_id")?,
            scope: row.try_get("scope")?,
            sso_session_id: row
                .try_get::<Option<String>, _>("sso_session_id")?
                .map(|id| SessionId::parse(&id).map_err(|e| sqlx::Error::Decode(Box::new(e))))
                .transpose()?,
            amr: row.try_get("amr")?,
            auth_time: Timestamp(row.try_get("auth_time")?),
            last_seen_at: Timestamp(row.try_get("last_seen_at")?),
            expires_at: Timestamp(row.try_get("expires_at")?),
            revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(Timestamp),
            created_at: Timestamp(row.try_get("created_at")?),
        })
    }
}

pub async fn insert_session<'e>(
    db: impl Executor<'e, Database = Any>,
    session: &Session,
    ip: Option<&str>,
    user_agent: Option<&str>,
    browser_token_hash: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, tenant_id, user_id, client_id, ip, user_agent, amr, auth_time, last_seen_at, \
         expires_at, revoked_at, revoked_reason, created_at, updated_at, scope, sso_session_id, browser_token_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL, $11, $11, $12, $13, $14)",
    )
    .bind(session.id.to_string())
    .bind(session.tenant_id.to_string())
    .bind(session.user_id.to_string())
    .bind(session.client_id.as_deref())
    .bind(ip)
    .bind(user_agent)
    .bind(&session.amr)
    .bind(session.auth_time.unix_seconds())
    .bind(session.last_seen_at.unix_seconds())
    .bind(session.expires_at.unix_seconds())
    .bind(session.created_at.unix_seconds())
    .bind(session.scope.as_deref())
    .bind(session.sso_session_id.map(|id| id.to_string()))
    .bind(browser_token_hash)
    .execute(db)
    .await
    .map(|_| ())
}

const SESSION_COLUMNS: &str = "id, tenant_id, user_id, client_id, scope, sso_session_id, amr, auth_time, \
                               last_seen_at, expires_at, revoked_at, created_at";

pub async fn find_session<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: SessionId,
) -> sqlx::Result<Option<Session>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant_id = $1 AND id = $2"
    )))
    .bind(tenant_id.to_string())
    .bind(id.to_string())
    .fetch_optional(db)
    .await
}

/// What a bearer check needs, in one indexed read: is the session live, its user active, and
/// this jti not revoked.
pub async fn access_token_is_live<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    session_id: &str,
    jti: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let row = sqlx::query(
        "SELECT s.revoked_at, s.expires_at, u.status, r.jti AS revoked_jti FROM sessions s \
         JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id \
         LEFT JOIN revoked_access_tokens r ON r.jti = $3 AND r.tenant_id = s.tenant_id \
         WHERE s.tenant_id = $1 AND s.id = $2",
    )
    .bind(tenant_id.to_string())
    .bind(session_id)
    .bind(jti)
    .fetch_optional(db)
    .await?;
    let Some(row) = row else { return Ok(false) };
    let revoked_at: Option<i64> = row.try_get("revoked_at")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    let status: String = row.try_get("status")?;
    let revoked_jti: Option<String> = row.try_get("revoked_jti")?;
    Ok(revoked_at.is_none() && expires_at > now.unix_seconds() && status == "active" && revoked_jti.is_none())
}

/// Ends a session; true when it was live. Its refresh tokens are not deleted: a refresh checks
/// the session and refuses them (and rolls back), and touching only the session row keeps every
/// path's lock order the same — a refresh locks its token, then the session — so concurrent
/// refreshes, replays and logouts cannot deadlock on PostgreSQL.
pub async fn revoke_session<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: SessionId,
    reason: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE sessions SET revoked_at = $3, revoked_reason = $4, updated_at = $3 \
         WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
    )
    .bind(tenant_id.to_string())
    .bind(id.to_string())
    .bind(now.unix_seconds())
    .bind(reason)
    .execute(db)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// The browser (SSO) session whose cookie has this digest, live or not.
pub async fn find_browser_session<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    browser_token_hash: &str,
) -> sqlx::Result<Option<Session>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant_id = $1 AND browser_token_hash = $2"
    )))
    .bind(tenant_id.to_string())
    .bind(browser_token_hash)
    .fetch_optional(db)
    .await
}

/// Ends a browser (SSO) session and every client session signed in through it (logout);
/// returns how many were live.
pub async fn revoke_browser_session<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: SessionId,
    reason: &str,
    now: Timestamp,
) -> sqlx::Result<u64> {
    let result = sqlx::query(
        "UPDATE sessions SET revoked_at = $3, revoked_reason = $4, updated_at = $3 \
         WHERE tenant_id = $1 AND (id = $2 OR sso_session_id = $2) AND revoked_at IS NULL",
    )
    .bind(tenant_id.to_string())
    .bind(id.to_string())
    .bind(now.unix_seconds())
    .bind(reason)
    .execute(db)
    .await?;
    Ok(result.rows_affected())
}

/// Ends every live session of a user except `keep` (None ends them all); returns how many.
pub async fn revoke_user_sessions<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
    keep: Option<SessionId>,
    reason: &str,
    now: Timestamp,
) -> sqlx::Result<u64> {
    let result = sqlx::query(
        "UPDATE sessions SET revoked_at = $4, revoked_reason = $5, updated_at = $4 \
         WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL AND id <> $3",
    )
    .bind(tenant_id.to_string())
    .bind(user_id.to_string())
    .bind(keep.map(|k| k.to_string()).unwrap_or_default())
    .bind(now.unix_seconds())
    .bind(reason)
    .execute(db)
    .await?;
    Ok(result.rows_affected())
}

pub async fn touch_session<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: SessionId,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE sessions SET last_seen_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id.to_string())
        .bind(id.to_string())
        .bind(now.unix_seconds())
        .execute(db)
        .await
        .map(|_| ())
}

pub async fn insert_refresh_token<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    session_id: SessionId,
    token_hash: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, tenant_id, session_id, token_hash, rotated_at, expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, NULL, $5, $6, $6)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(tenant_id.to_string())
    .bind(session_id.to_string())
    .bind(token_hash)
    .bind(expires_at.unix_seconds())
    .bind(now.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}

/// Marks an unexpired, unrotated refresh token as rotated and returns its session. Exactly one
/// of several concurrent callers gets the session: the row's WHERE clause is re-checked after
/// a concurrent update commits (PostgreSQL) or the write lock serialises them (SQLite).
pub async fn rotate_refresh_token<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    token_hash: &str,
    now: Timestamp,
) -> sqlx::Result<Option<SessionId>> {
    let session: Option<String> = sqlx::query_scalar(
        "UPDATE refresh_tokens SET rotated_at = $3, updated_at = $3 \
         WHERE tenant_id = $1 AND token_hash = $2 AND rotated_at IS NULL AND expires_at > $3 \
         RETURNING session_id",
    )
    .bind(tenant_id.to_string())
    .bind(token_hash)
    .bind(now.unix_seconds())
    .fetch_optional(db)
    .await?;
    session.map(|s| SessionId::parse(&s).map_err(|e| sqlx::Error::Decode(Box::new(e)))).transpose()
}

/// A refresh token's state, for telling a replay from an unknown or expired token.
#[derive(Debug, Clone)]
pub struct RefreshTokenState {
    pub session_id: SessionId,
    pub rotated_at: Option<Timestamp>,
    pub expires_at: Timestamp,
}

pub async fn find_refresh_token<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    token_hash: &str,
) -> sqlx::Result<Option<RefreshTokenState>> {
    let row = sqlx::query(
        "SELECT session_id, rotated_at, expires_at FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2",
    )
    .bind(tenant_id.to_string())
    .bind(token_hash)
    .fetch_optional(db)
    .await?;
    row.map(|row| {
        Ok(RefreshTokenState {
            session_id: get_id(&row, "session_id", SessionId::parse)?,
            rotated_at: row.try_get::<Option<i64>, _>("rotated_at")?.map(Timestamp),
            expires_at: Timestamp(row.try_get("expires_at")?),
        })
    })
    .transpose()
}

/// Records `jti` as revoked; false when it already was.
pub async fn revoke_access_token<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    jti: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> sqlx::Result<bool> {
    sqlx::query(
        "INSERT INTO revoked_access_tokens (jti, tenant_id, expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (jti) DO NOTHING",
    )
    .bind(jti)
    .bind(tenant_id.to_string())
    .bind(expires_at.unix_seconds())
    .bind(now.unix_seconds())
    .execute(db)
    .await
    .map(|done| done.rows_affected() == 1)
}

/// A session as the administration API lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionSummary {
    pub id: String,
    pub user_id: String,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
}

impl FromRow<'_, AnyRow> for SessionSummary {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            client_id: row.try_get("client_id")?,
            ip: row.try_get("ip")?,
            user_agent: row.try_get("user_agent")?,
            created_at: Timestamp(row.try_get("created_at")?),
            last_seen_at: Timestamp(row.try_get("last_seen_at")?),
            expires_at: Timestamp(row.try_get("expires_at")?),
        })
    }
}

/// Live sessions of the tenant (optionally of one user), newest first.
pub async fn list_live_sessions<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: Option<UserId>,
    now: Timestamp,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<SessionSummary>> {
    sqlx::query_as(
        "SELECT id, user_id, client_id, ip, user_agent, created_at, last_seen_at, expires_at FROM sessions \
         WHERE tenant_id = $1 AND ($2 IS NULL OR user_id = $2) AND revoked_at IS NULL AND expires_at > $3 \
         ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5",
    )
    .bind(tenant_id.to_string())
    .bind(user_id.map(|u| u.to_string()))
    .bind(now.unix_seconds())
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

pub async fn count_live_sessions<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: Option<UserId>,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM sessions \
         WHERE tenant_id = $1 AND ($2 IS NULL OR user_id = $2) AND revoked_at IS NULL AND expires_at > $3",
    )
    .bind(tenant_id.to_string())
    .bind(user_id.map(|u| u.to_string()))
    .bind(now.unix_seconds())
    .fetch_one(db)
    .await
}

/// Whether a client's own access token (no session) still counts: its client is not deleted and
/// its jti is not revoked. One statement, so introspecting such a token is one read after the
/// caller's own authentication.
pub async fn client_token_is_live<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    client_id: &str,
    jti: &str,
) -> sqlx::Result<bool> {
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM clients c WHERE c.tenant_id = $1 AND c.id = $2 AND c.deleted_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM revoked_access_tokens r WHERE r.tenant_id = $1 AND r.jti = $3)",
    )
    .bind(tenant_id.to_string())
    .bind(client_id)
    .bind(jti)
    .fetch_one(db)
    .await?;
    Ok(live > 0)
}
