//! Users, always within a tenant.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, FromRow, Row};

pub use super::user_list::{EmailSearch, count_users, email_search, list_users};
use super::{get_bool, get_id};
use crate::types::TenantId;
use crate::types::Timestamp;
use crate::types::{User, UserId, UserStatus};

pub(super) const COLUMNS: &str = "id, tenant_id, email, name, password_hash, email_verified, status, mfa_enabled, \
                       last_login_at, created_at, updated_at";

impl FromRow<'_, AnyRow> for User {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        let status: String = row.try_get("status")?;
        Ok(Self {
            id: get_id(row, "id", UserId::parse)?,
            tenant_id: get_id(row, "tenant_id", TenantId::parse)?,
            email: row.try_get("email")?,
            name: row.try_get("name")?,
            password_hash: row.try_get("password_hash")?,
            email_verified: get_bool(row, "email_verified")?,
            status: UserStatus::parse(&status).ok_or_else(|| sqlx::Error::ColumnDecode {
                index: "status".into(),
                source: format!("unknown user status {status:?}").into(),
            })?,
            mfa_enabled: get_bool(row, "mfa_enabled")?,
            last_login_at: row.try_get::<Option<i64>, _>("last_login_at")?.map(Timestamp),
            created_at: Timestamp(row.try_get("created_at")?),
            updated_at: Timestamp(row.try_get("updated_at")?),
        })
    }
}

pub async fn insert_user<'e>(db: impl Executor<'e, Database = Any>, user: &User) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO users (id, tenant_id, email, email_normalized, name, password_hash, email_verified, status, \
         mfa_enabled, last_login_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $11)",
    )
    .bind(user.id.to_string())
    .bind(user.tenant_id.to_string())
    .bind(&user.email)
    .bind(crate::types::normalize_email(&user.email))
    .bind(user.name.as_deref())
    .bind(user.password_hash.as_deref())
    .bind(user.email_verified)
    .bind(user.status.as_str())
    .bind(user.mfa_enabled)
    .bind(user.created_at.unix_seconds())
    .bind(user.updated_at.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}

pub async fn find_user_by_id<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: UserId,
) -> sqlx::Result<Option<User>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2")))
        .bind(tenant_id.to_string())
        .bind(id.to_string())
        .fetch_optional(db)
        .await
}

pub async fn find_user_by_email<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    email: &str,
) -> sqlx::Result<Option<User>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND email_normalized = $2"
    )))
    .bind(tenant_id.to_string())
    .bind(crate::types::normalize_email(email))
    .fetch_optional(db)
    .await
}

/// A successful login: last login stamped (the caller clears the counted attempts,
/// `login_attempts::clear`).
pub async fn record_login_success<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: UserId,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET last_login_at = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id.to_string())
        .bind(id.to_string())
        .bind(now.unix_seconds())
        .execute(db)
        .await
        .map(|_| ())
}

pub async fn update_password_hash<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: UserId,
    password_hash: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id.to_string())
        .bind(id.to_string())
        .bind(password_hash)
        .bind(now.unix_seconds())
        .execute(db)
        .await
        .map(|_| ())
}

pub async fn mark_email_verified<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: UserId,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET email_verified = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id.to_string())
        .bind(id.to_string())
        .bind(true)
        .bind(now.unix_seconds())
        .execute(db)
        .await
        .map(|_| ())
}

/// Writes the user's editable fields (email, name, status, verification, password hash).
pub async fn update_user<'e>(db: impl Executor<'e, Database = Any>, user: &User) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET email = $3, email_normalized = $4, name = $5, status = $6, email_verified = $7, \
         password_hash = $8, updated_at = $9 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(user.tenant_id.to_string())
    .bind(user.id.to_string())
    .bind(&user.email)
    .bind(crate::types::normalize_email(&user.email))
    .bind(user.name.as_deref())
    .bind(user.status.as_str())
    .bind(user.email_verified)
    .bind(user.password_hash.as_deref())
    .bind(user.updated_at.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}

/// Deletes the user; sessions, tokens, codes and role links go with it (audit rows stay).
pub async fn delete_user<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: UserId,
) -> sqlx::Result<bool> {
    let result = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id.to_string())
        .bind(id.to_string())
        .execute(db)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// How many earlier hashes are kept per user: the `password_history` setting's maximum (24)
/// minus the current password.
pub const PASSWORD_HISTORY_KEPT: i64 = 23;

/// Moves the user's current password hash (if any) into their history before it is replaced,
/// and forgets hashes beyond [`PASSWORD_HISTORY_KEPT`].
pub async fn archive_password(
    conn: &mut sqlx::AnyConnection,
    tenant_id: TenantId,
    user_id: UserId,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO password_history (id, tenant_id, user_id, password_hash, created_at) \
         SELECT $3, tenant_id, id, password_hash, $4 FROM users \
         WHERE tenant_id = $1 AND id = $2 AND password_hash IS NOT NULL",
    )
    .bind(tenant_id.to_string())
    .bind(user_id.to_string())
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(now.unix_seconds())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "DELETE FROM password_history WHERE tenant_id = $1 AND user_id = $2 AND id NOT IN \
           (SELECT id FROM password_history WHERE tenant_id = $1 AND user_id = $2 ORDER BY id DESC LIMIT $3)",
    )
    .bind(tenant_id.to_string())
    .bind(user_id.to_string())
    .bind(PASSWORD_HISTORY_KEPT)
    .execute(&mut *conn)
    .await
    .map(|_| ())
}

/// The user's `limit` most recent earlier password hashes, newest first.
pub async fn recent_password_hashes<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT password_hash FROM password_history WHERE tenant_id = $1 AND user_id = $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(tenant_id.to_string())
    .bind(user_id.to_string())
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Brings every stored `email_normalized` to today's normalisation (NFC, then lower case), once
/// per database: rows written before emails were NFC-normalised would otherwise never match a
/// lookup again. A row whose new form another user of its tenant already has (two accounts
/// that only looked alike) is left as it was and reported; an operator merges them.
pub async fn renormalize_emails(store: &super::Store) -> anyhow::Result<()> {
    let mut tx = store.begin().await?;
    if !super::system::claim_once(&mut *tx, "emails_nfc", Timestamp::now()).await? {
        return Ok(());
    }
    let mut after = String::new();
    loop {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT id, tenant_id, email_normalized FROM users WHERE id > $1 ORDER BY id LIMIT 1000")
                .bind(&after)
                .fetch_all(&mut *tx)
                .await?;
        let Some((last, _, _)) = rows.last() else { break };
        after = last.clone();
        for (id, tenant_id, stored) in rows {
            let normalized = crate::types::normalize_email(&stored);
            if normalized == stored {
                continue;
            }
            let taken: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM users WHERE tenant_id = $1 AND email_normalized = $2")
                    .bind(&tenant_id)
                    .bind(&normalized)
                    .fetch_optional(&mut *tx)
                    .await?;
            if taken.is_some() {
                tracing::warn!(tenant.id = %tenant_id, user.id = %id, "two users' emails differ only in Unicode form: left as they are");
                continue;
            }
            sqlx::query("UPDATE users SET email_normalized = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(&tenant_id)
                .bind(&id)
                .bind(&normalized)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Locks a user's row for the rest of the transaction (a no-op write): changes that must see
/// the user's other rows unchanged (their last way in) run one at a time.
pub async fn lock_user<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
) -> sqlx::Result<bool> {
    sqlx::query("UPDATE users SET updated_at = updated_at WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id.to_string())
        .bind(user_id.to_string())
        .execute(db)
        .await
        .map(|done| done.rows_affected() == 1)
}
