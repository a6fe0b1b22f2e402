//! Listing, counting and searching a tenant's users (`GET /users`), on indexes that keep a
//! million-user tenant fast on both backends.

use sqlx::{Any, AnyConnection, Executor};

use super::Backend;
use super::filter::{Filter, fetch_page};
use super::users::COLUMNS;
use crate::types::{TenantId, User, UserStatus};

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
