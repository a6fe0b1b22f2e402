//! Sign-in through identity providers: the flows waiting for their callback, the external
//! identities linked to users, and the one-time codes an application trades for tokens. Only
//! digests of states, browser cookies and codes are stored; each is spent by one conditional
//! update, so of concurrent callbacks or exchanges exactly one wins.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, FromRow, Row};

use super::{get_bool, get_id};
use crate::types::{TenantId, Timestamp, UserId};

/// Where a flow leads once the person is signed in: the authorization it began at (its query),
/// or an application's `redirect_to`, with the application's `state` (returned with the code)
/// and PKCE challenge (S256, answered at the exchange).
#[derive(Debug, Clone, Default)]
pub struct Onward {
    pub authorize_query: Option<String>,
    pub redirect_to: Option<String>,
    pub app_state: Option<String>,
    pub code_challenge: Option<String>,
}

impl Onward {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            authorize_query: row.try_get("authorize_query")?,
            redirect_to: row.try_get("redirect_to")?,
            app_state: row.try_get("app_state")?,
            code_challenge: row.try_get("code_challenge")?,
        })
    }

    /// The authorization's `ui_locales`, for the pages on the way.
    pub fn ui_locales(&self) -> Option<String> {
        let query = self.authorize_query.as_deref()?;
        form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == "ui_locales").map(|(_, v)| v.into_owned())
    }
}

/// A browser flow between `GET /auth/{provider}` and its callback.
#[derive(Debug, Clone)]
pub struct FlowState {
    pub state_hash: String,
    pub tenant_id: TenantId,
    pub provider_id: String,
    pub browser_hash: String,
    pub nonce: String,
    /// Sealed with the master key (associated data `flow_state:<state_hash>`).
    pub pkce_verifier: Vec<u8>,
    pub onward: Onward,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl FromRow<'_, AnyRow> for FlowState {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            state_hash: row.try_get("state_hash")?,
            tenant_id: get_id(row, "tenant_id", TenantId::parse)?,
            provider_id: row.try_get("provider_id")?,
            browser_hash: row.try_get("browser_hash")?,
            nonce: row.try_get("nonce")?,
            pkce_verifier: row.try_get("pkce_verifier")?,
            onward: Onward::from_row(row)?,
            created_at: Timestamp(row.try_get("created_at")?),
            expires_at: Timestamp(row.try_get("expires_at")?),
        })
    }
}

const FLOW_COLUMNS: &str = "state_hash, tenant_id, provider_id, browser_hash, nonce, pkce_verifier, authorize_query, \
                            redirect_to, app_state, code_challenge, created_at, expires_at";

pub async fn insert_flow_state<'e>(db: impl Executor<'e, Database = Any>, flow: &FlowState) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO flow_states (state_hash, tenant_id, provider_id, browser_hash, nonce, pkce_verifier, \
         authorize_query, redirect_to, app_state, code_challenge, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&flow.state_hash)
    .bind(flow.tenant_id.to_string())
    .bind(&flow.provider_id)
    .bind(&flow.browser_hash)
    .bind(&flow.nonce)
    .bind(&flow.pkce_verifier)
    .bind(flow.onward.authorize_query.as_deref())
    .bind(flow.onward.redirect_to.as_deref())
    .bind(flow.onward.app_state.as_deref())
    .bind(flow.onward.code_challenge.as_deref())
    .bind(flow.created_at.unix_seconds())
    .bind(flow.expires_at.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}

/// Spends a live flow state and returns it; `None` when it is unknown, spent or expired.
pub async fn consume_flow_state<'e>(
    db: impl Executor<'e, Database = Any>,
    state_hash: &str,
    now: Timestamp,
) -> sqlx::Result<Option<FlowState>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE flow_states SET consumed_at = $2 WHERE state_hash = $1 AND consumed_at IS NULL AND expires_at > $2 \
         RETURNING {FLOW_COLUMNS}"
    )))
    .bind(state_hash)
    .bind(now.unix_seconds())
    .fetch_optional(db)
    .await
}

/// An upstream account linked to a user.
#[derive(Debug, Clone)]
pub struct ExternalIdentity {
    pub id: String,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub provider_id: String,
    /// The provider's name and kind (joined, for answers).
    pub provider_name: String,
    pub provider_kind: String,
    pub subject: String,
    pub email: Option<String>,
    /// Whether a trusted upstream vouched for the address when the link was made. Set once:
    /// what the upstream says later does not make an unvouched link vouched.
    pub email_verified: bool,
    pub created_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
}

impl FromRow<'_, AnyRow> for ExternalIdentity {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            tenant_id: get_id(row, "tenant_id", TenantId::parse)?,
            user_id: get_id(row, "user_id", UserId::parse)?,
            provider_id: row.try_get("provider_id")?,
            provider_name: row.try_get("provider_name")?,
            provider_kind: row.try_get("provider_kind")?,
            subject: row.try_get("subject")?,
            email: row.try_get("email")?,
            email_verified: get_bool(row, "email_verified")?,
            created_at: Timestamp(row.try_get("created_at")?),
            last_login_at: row.try_get::<Option<i64>, _>("last_login_at")?.map(Timestamp),
        })
    }
}

const IDENTITY_SELECT: &str = "SELECT e.id, e.tenant_id, e.user_id, e.provider_id, p.name AS provider_name, \
                               p.kind AS provider_kind, e.subject, e.email, e.email_verified, e.created_at, \
                               e.last_login_at FROM external_identities e JOIN identity_providers p \
                               ON p.tenant_id = e.tenant_id AND p.id = e.provider_id";

pub async fn find_identity<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    provider_id: &str,
    subject: &str,
) -> sqlx::Result<Option<ExternalIdentity>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{IDENTITY_SELECT} WHERE e.tenant_id = $1 AND e.provider_id = $2 AND e.subject = $3"
    )))
    .bind(tenant_id.to_string())
    .bind(provider_id)
    .bind(subject)
    .fetch_optional(db)
    .await
}

/// A user's identities, oldest first.
pub async fn list_identities<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
) -> sqlx::Result<Vec<ExternalIdentity>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{IDENTITY_SELECT} WHERE e.tenant_id = $1 AND e.user_id = $2 ORDER BY e.created_at, e.id"
    )))
    .bind(tenant_id.to_string())
    .bind(user_id.to_string())
    .fetch_all(db)
    .await
}

pub async fn insert_identity<'e>(
    db: impl Executor<'e, Database = Any>,
    identity: &ExternalIdentity,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO external_identities (id, tenant_id, user_id, provider_id, subject, email, email_verified, \
         created_at, last_login_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&identity.id)
    .bind(identity.tenant_id.to_string())
    .bind(identity.user_id.to_string())
    .bind(&identity.provider_id)
    .bind(&identity.subject)
    .bind(identity.email.as_deref())
    .bind(identity.email_verified)
    .bind(identity.created_at.unix_seconds())
    .bind(identity.last_login_at.map(|t| t.unix_seconds()))
    .execute(db)
    .await
    .map(|_| ())
}

/// A sign-in through the identity: the address the provider gives now, and when.
pub async fn record_identity_login<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    id: &str,
    email: Option<&str>,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE external_identities SET email = $3, last_login_at = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id.to_string())
        .bind(id)
        .bind(email)
        .bind(now.unix_seconds())
        .execute(db)
        .await
        .map(|_| ())
}

pub async fn delete_identity<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
    id: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM external_identities WHERE tenant_id = $1 AND user_id = $2 AND id = $3")
        .bind(tenant_id.to_string())
        .bind(user_id.to_string())
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A one-time code for `POST /auth/exchange`.
pub struct FederationCode {
    pub code_hash: String,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub provider_id: String,
    /// The sign-in's `amr`.
    pub amr: String,
    /// The application's PKCE challenge, when it sent one.
    pub code_challenge: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

pub async fn insert_code<'e>(db: impl Executor<'e, Database = Any>, code: &FederationCode) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO federation_codes (code_hash, tenant_id, user_id, provider_id, amr, code_challenge, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&code.code_hash)
    .bind(code.tenant_id.to_string())
    .bind(code.user_id.to_string())
    .bind(&code.provider_id)
    .bind(&code.amr)
    .bind(code.code_challenge.as_deref())
    .bind(code.created_at.unix_seconds())
    .bind(code.expires_at.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}

/// A spent code: whom it signs in, how, and the challenge its application must answer.
pub struct SpentCode {
    pub user_id: UserId,
    pub amr: String,
    pub code_challenge: Option<String>,
}

/// Spends a live code of the tenant.
pub async fn consume_code<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    code_hash: &str,
    now: Timestamp,
) -> sqlx::Result<Option<SpentCode>> {
    let row = sqlx::query(
        "UPDATE federation_codes SET consumed_at = $3 WHERE tenant_id = $1 AND code_hash = $2 \
         AND consumed_at IS NULL AND expires_at > $3 RETURNING user_id, amr, code_challenge",
    )
    .bind(tenant_id.to_string())
    .bind(code_hash)
    .bind(now.unix_seconds())
    .fetch_optional(db)
    .await?;
    row.map(|row| {
        Ok(SpentCode {
            user_id: get_id(&row, "user_id", UserId::parse)?,
            amr: row.try_get("amr")?,
            code_challenge: row.try_get("code_challenge")?,
        })
    })
    .transpose()
}

/// An upstream account waiting to be linked to the user who has its address, once that user
/// proves the account (`link_existing = prompt`).
#[derive(Debug, Clone)]
pub struct PendingLink {
    pub token_hash: String,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub provider_id: String,
    pub subject: String,
    pub email: String,
    pub browser_hash: String,
    pub onward: Onward,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl FromRow<'_, AnyRow> for PendingLink {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            token_hash: row.try_get("token_hash")?,
            tenant_id: get_id(row, "tenant_id", TenantId::parse)?,
            user_id: get_id(row, "user_id", UserId::parse)?,
            provider_id: row.try_get("provider_id")?,
            subject: row.try_get("subject")?,
            email: row.try_get("email")?,
            browser_hash: row.try_get("browser_hash")?,
            onward: Onward::from_row(row)?,
            created_at: Timestamp(row.try_get("created_at")?),
            expires_at: Timestamp(row.try_get("expires_at")?),
        })
    }
}

const LINK_COLUMNS: &str = "token_hash, tenant_id, user_id, provider_id, subject, email, browser_hash, \
                            authorize_query, redirect_to, app_state, code_challenge, created_at, expires_at";

pub async fn insert_pending_link<'e>(db: impl Executor<'e, Database = Any>, link: &PendingLink) -> sqlx::Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO pending_links ({LINK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    )))
    .bind(&link.token_hash)
    .bind(link.tenant_id.to_string())
    .bind(link.user_id.to_string())
    .bind(&link.provider_id)
    .bind(&link.subject)
    .bind(&link.email)
    .bind(&link.browser_hash)
    .bind(link.onward.authorize_query.as_deref())
    .bind(link.onward.redirect_to.as_deref())
    .bind(link.onward.app_state.as_deref())
    .bind(link.onward.code_challenge.as_deref())
    .bind(link.created_at.unix_seconds())
    .bind(link.expires_at.unix_seconds())
    .execute(db)
    .await
    .map(|_| ())
}

/// A pending link that can still be completed.
pub async fn find_pending_link<'e>(
    db: impl Executor<'e, Database = Any>,
    token_hash: &str,
    now: Timestamp,
) -> sqlx::Result<Option<PendingLink>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {LINK_COLUMNS} FROM pending_links WHERE token_hash = $1 AND consumed_at IS NULL AND expires_at > $2"
    )))
    .bind(token_hash)
    .bind(now.unix_seconds())
    .fetch_optional(db)
    .await
}

/// Spends a pending link: false when another request did first, or it died meanwhile.
pub async fn consume_pending_link<'e>(
    db: impl Executor<'e, Database = Any>,
    token_hash: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE pending_links SET consumed_at = $2 WHERE token_hash = $1 AND consumed_at IS NULL AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now.unix_seconds())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Unlinks the user's identities whose address no trusted upstream vouched for: when the mailbox
/// itself is proved (a verification code, a reset link), whoever linked such an identity — which
/// may have created the account before its owner came — loses the way in.
pub async fn delete_unverified_identities<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    user_id: UserId,
) -> sqlx::Result<u64> {
    let done =
        sqlx::query("DELETE FROM external_identities WHERE tenant_id = $1 AND user_id = $2 AND email_verified = $3")
            .bind(tenant_id.to_string())
            .bind(user_id.to_string())
            .bind(false)
            .execute(db)
            .await?;
    Ok(done.rows_affected())
}

/// Unlinks every identity of a provider: its issuer changed, so its subjects name other people.
pub async fn delete_provider_identities<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    provider_id: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM external_identities WHERE tenant_id = $1 AND provider_id = $2")
        .bind(tenant_id.to_string())
        .bind(provider_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// How many of the tenant's users have no password and no other identity than the provider's:
/// those the provider's removal would lock out.
pub async fn users_only_through<'e>(
    db: impl Executor<'e, Database = Any>,
    tenant_id: TenantId,
    provider_id: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM users u WHERE u.tenant_id = $1 AND u.password_hash IS NULL \
         AND EXISTS (SELECT 1 FROM external_identities e \
                     WHERE e.tenant_id = u.tenant_id AND e.user_id = u.id AND e.provider_id = $2) \
         AND NOT EXISTS (SELECT 1 FROM external_identities e \
                         WHERE e.tenant_id = u.tenant_id AND e.user_id = u.id AND e.provider_id <> $2)",
    )
    .bind(tenant_id.to_string())
    .bind(provider_id)
    .fetch_one(db)
    .await
}
