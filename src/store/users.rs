//! Users, always within a tenant.

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor, FromRow, Row};

use super::Backend;
use super::filter::{Filter, fetch_page};
use super::{get_bool, get_id};
use crate::types::TenantId;
use crate::types::Timestamp;
use crate::types::{User, UserId, UserStatus};

const COLUMNS: &str = "id, tenant_id, email, name, password_hash, email_verified, status, mfa_enabled, \
                       failed_logins, failed_logins_since, last_login_at, created_at, updated_at";

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
            failed_logins: row.try_get("failed_logins")?,
            failed_logins_since: row.try_get::<Option<i64>, _>("failed_logins_since")?.map(Timestamp),
            last_login_at: row.try_get::<Option<i64>, _>("last_login_at")?.map(Timestamp),
            created_at: Timestamp(row.try_get("created_at")?),
            updated_at: Timestamp(row.try_get("updated_at")?),
        })
    }
}

pub async fn insert_user<'e>(db: impl Executor<'e, Database = Any>, user: &User) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO users (id, tenant_id, email, email_normalized, name, password_hash, email_verified, status, \
         mfa_enabled, failed_logins, failed_logins_since, last_login_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, NULL, NULL, $10, $11)",
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

/// Counts a login attempt *before* its password is checked and returns the attempts in the
/// current window, this one included (None for an id with no user). One atomic statement, so
/// parallel guesses each get their own number and cannot all slip under the threshold. The
/// window restarts when the previous attempts are older than it; a correct password clears it.
pub async fn count_login_attempt<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: UserId,
    window_seconds: i64,
    now: Timestamp,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "UPDATE users SET \
           failed_logins = CASE WHEN failed_logins_since IS NULL OR failed_logins_since <= $3 THEN 1 \
                                ELSE failed_logins + 1 END, \
           failed_logins_since = CASE WHEN failed_logins_since IS NULL OR failed_logins_since <= $3 THEN $4 \
                                      ELSE failed_logins_since END \
         WHERE tenant_id = $1 AND id = $2 RETURNING failed_logins",
    )
    .bind(tenant_id.to_string())
    .bind(id.to_string())
    .bind(now.unix_seconds() - window_seconds)
    .bind(now.unix_seconds())
    .fetch_optional(db)
    .await
}

/// A correct password: the attempts counted so far are forgotten.
pub async fn clear_login_attempts<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: UserId,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET failed_logins = 0, failed_logins_since = NULL WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id.to_string())
        .bind(id.to_string())
        .execute(db)
        .await
        .map(|_| ())
}

/// A successful login: failures forgotten, last login stamped.
pub async fn record_login_success<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: UserId,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET failed_logins = 0, failed_logins_since = NULL, last_login_at = $3 \
         WHERE tenant_id = $1 AND id = $2",
    )
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
    sqlx::query(
        "UPDATE users SET password_hash = $3, failed_logins = 0, failed_logins_since = NULL, updated_at = $4 \
         WHERE tenant_id = $1 AND id = $2",
    )
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

/// How an email substring is looked for: `email_normalized LIKE '%…%'` (PostgreSQL answers it
/// from its pg_trgm index; on SQLite it walks the tenant's own users), or on SQLite, in a big
/// tenant and for texts of three characters or more, a phrase query on the FTS5 trigram index of
/// migration sqlite/0010 (the trigrams of a text in a row are exactly the substring).
#[derive(Debug, Clone)]
pub struct EmailSearch {
    text: String,
    fts: bool,
}

/// The FTS5 index holds every tenant's emails, so a search on it visits other tenants' matches
/// too; below this many users, walking the tenant's own rows is cheaper.
const FTS_FROM_USERS: i64 = 10_000;

/// Decides how to search the tenant's users for `text` (one counter read on SQLite).
pub async fn email_search<'e>(
    db: impl Executor<'e, Database = Any>,
    backend: Backend,
    tenant_id: TenantId,
    text: &str,
) -> sqlx::Result<EmailSearch> {
    let text = crate::types::normalize_email(text);
    let fts = if backend == Backend::Sqlite && text.chars().count() >= 3 {
        let users: Option<i64> = sqlx::query_scalar("SELECT users FROM tenant_counters WHERE tenant_id = $1")
            .bind(tenant_id.to_string())
            .fetch_optional(db)
            .await?;
        users.unwrap_or_default() >= FTS_FROM_USERS
    } else {
        false
    };
    Ok(EmailSearch { text, fts })
}

impl EmailSearch {
    /// The same search as a walk: when most users match, finding a page's worth in date order
    /// is cheaper than collecting every match from the index and sorting them.
    fn walk(&self) -> Self {
        Self { fts: false, ..self.clone() }
    }

    fn add_to(&self, filter: &mut Filter) {
        if self.fts {
            filter.text(&format!("id IN ({TRIGRAM_IDS})"), format!("\"{}\"", self.text.replace('"', "\"\"")));
        } else {
            let escaped = self.text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            filter.text("email_normalized LIKE ? ESCAPE '\\'", format!("%{escaped}%"));
        }
    }
}

/// Past this many matches, a trigram search lists its page by walking instead.
const TRIGRAM_LIST_LIMIT: i64 = 5_000;

/// The ids of the tenant's users whose email contains the phrase (SQLite); `$1` is the tenant.
const TRIGRAM_IDS: &str = "SELECT k.user_id FROM users_email_search CROSS JOIN user_search_keys k \
                           WHERE users_email_search MATCH ? AND k.seq = users_email_search.rowid AND k.tenant_id = $1";

/// The filters of `GET /users`: email substring and status.
fn user_filter(tenant_id: TenantId, email: Option<&EmailSearch>, status: Option<UserStatus>) -> Filter {
    let mut filter = Filter::tenant(tenant_id);
    if let Some(email) = email {
        email.add_to(&mut filter);
    }
    match status {
        None => {}
        // Literals, not values: a partial index is used only when the statement names its predicate.
        Some(UserStatus::Active) => filter.literal("status = 'active'"),
        Some(UserStatus::Suspended) => filter.literal("status <> 'active'"),
    }
    filter
}

/// A page of the tenant's users, newest first, of the `total` that match (on the covering
/// `users_tenant_created_idx`, or a search's own index).
pub async fn list_users(
    db: &mut AnyConnection,
    tenant_id: TenantId,
    email: Option<&EmailSearch>,
    status: Option<UserStatus>,
    total: i64,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<User>> {
    let email = email.map(|search| if total > TRIGRAM_LIST_LIMIT { search.walk() } else { search.clone() });
    let filter = user_filter(tenant_id, email.as_ref(), status);
    fetch_page(db, "users", COLUMNS, &filter, (total, limit, offset)).await
}

/// How many users match. Unfiltered, it is the trigger-kept counter (one key read); active
/// users are that counter less the few others (on the partial `users_inactive_idx`), so neither
/// common question counts a million rows. An email search counts on its index.
pub async fn count_users<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    email: Option<&EmailSearch>,
    status: Option<UserStatus>,
) -> sqlx::Result<i64> {
    const ALL: &str = "SELECT COALESCE((SELECT users FROM tenant_counters WHERE tenant_id = $1), 0)";
    const INACTIVE: &str = "SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND status <> 'active'";
    let Some(email) = email else {
        let sql = match status {
            None => ALL.to_string(),
            Some(UserStatus::Active) => format!("SELECT ({ALL}) - ({INACTIVE})"),
            Some(UserStatus::Suspended) => INACTIVE.to_string(),
        };
        return sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id.to_string())
            .fetch_optional(db)
            .await
            .map(Option::unwrap_or_default);
    };
    let filter = user_filter(tenant_id, Some(email), status);
    let sql = match (email.fts, status) {
        // The index and its keys alone, without probing the users rows of every match.
        (true, None) => format!("SELECT COUNT(*) FROM ({})", TRIGRAM_IDS.replace('?', "$2")),
        _ => format!("SELECT COUNT(*) FROM users WHERE {}", filter.clause()),
    };
    sqlx::query_scalar_with(sqlx::AssertSqlSafe(sql), filter.arguments(&[])).persistent(false).fetch_one(db).await
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
