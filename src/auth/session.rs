//! Sessions and the tokens issued for them (DESIGN §4).
//!
//! A session is one login. Its refresh tokens are 256-bit random strings stored only as
//! SHA-256, rotated on every use; its access tokens are RS256 JWTs (RFC 9068) naming it in
//! `sid`, so ending the session ends both.

use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::crypto;
use crate::error::ApiResult;
use crate::settings::TenantSettings;
use crate::store::{self, Tx};
use crate::tenants::TenantId;
use crate::types::{Timestamp, id_type};
use crate::users::{User, UserId};

id_type!(
    /// A session's id: the `sid` claim, and the id `GET /sessions` lists.
    SessionId
);

/// The `client_id` of tokens issued by `/auth/*` directly, with no OAuth client involved.
pub const DIRECT_CLIENT_ID: &str = "ovlt";
/// The scope of tokens issued by `/auth/*` directly.
pub const DIRECT_SCOPE: &str = "openid profile email";
/// The scope that makes an OAuth access token a credential for ovlt's own API (`/users`,
/// `/clients`, `/users/me`, …), as far as its user's roles allow. Only first-party clients may
/// list it, only a tenant admin may give it to them, and it is granted only when requested by
/// name. docs/decisions/0009.
pub const OVLT_API_SCOPE: &str = "ovlt:api";

/// The `aud` of a session's access tokens (RFC 9068 §3): ovlt's own API — named by the issuer —
/// for direct `/auth` tokens and for tokens granted [`OVLT_API_SCOPE`]; otherwise the client the
/// token was issued to, which is all it is good for (and userinfo, with `openid`).
pub fn access_audience(issuer: &str, client_id: Option<&str>, scope: &str) -> String {
    match client_id {
        Some(client_id) if !crate::oauth::has_scope(scope, OVLT_API_SCOPE) => client_id.to_string(),
        _ => issuer.to_string(),
    }
}

impl AccessClaims {
    /// Whether ovlt's own API accepts this token: meant for it (`aud` is the issuer) and issued
    /// by `/auth` directly or with the ovlt-API scope. Other clients' tokens are refused there
    /// even when their user is an admin.
    pub fn is_for_ovlt_api(&self, issuer: &str) -> bool {
        self.aud == issuer
            && (self.client_id == DIRECT_CLIENT_ID || crate::oauth::has_scope(&self.scope, OVLT_API_SCOPE))
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: SessionId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub client_id: Option<String>,
    /// The scope granted to a client session (None: the direct `/auth/*` scope).
    pub scope: Option<String>,
    /// For a client session: the browser (SSO) session it was signed in through.
    pub sso_session_id: Option<SessionId>,
    /// Authentication methods, space-separated (`pwd`, later `otp`).
    pub amr: String,
    pub auth_time: Timestamp,
    pub last_seen_at: Timestamp,
    /// The absolute end of the session.
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl Session {
    pub fn new(user: &User, amr: &str, settings: &TenantSettings, now: Timestamp) -> Self {
        Self {
            id: SessionId::new(),
            tenant_id: user.tenant_id,
            user_id: user.id,
            client_id: None,
            scope: None,
            sso_session_id: None,
            amr: amr.to_string(),
            auth_time: now,
            last_seen_at: now,
            expires_at: Timestamp(now.0 + settings.session_max_lifetime_seconds),
            revoked_at: None,
            created_at: now,
        }
    }

    /// Not revoked, not past its absolute lifetime, not idle for longer than allowed.
    pub fn is_live(&self, settings: &TenantSettings, now: Timestamp) -> bool {
        self.revoked_at.is_none()
            && self.expires_at > now
            && now.0 - self.last_seen_at.0 < settings.session_idle_timeout_seconds
    }
}

/// Access-token claims (RFC 9068 §2.2 plus `tid` and `sid`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub tid: String,
    pub client_id: String,
    pub scope: String,
    /// The session the token belongs to; absent on client_credentials tokens (no user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Names of the user's roles, when they have any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Names of the permissions those roles grant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
}

/// What a successful login or refresh answers (the seed's shape).
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Absent in session-cookie mode: the token then travels only in the HttpOnly cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub token_type: &'static str,
    pub expires_in: i64,
    /// OAuth answers only: the granted scope (RFC 6749 §5.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// OAuth answers only, when `openid` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// How long a session's tokens live: the tenant's settings, or a client's own overrides.
#[derive(Debug, Clone, Copy)]
pub struct TokenLifetimes {
    pub access: i64,
    /// None: this grant gets no refresh token.
    pub refresh: Option<i64>,
}

impl TokenLifetimes {
    pub fn of_tenant(settings: &TenantSettings) -> Self {
        Self::within_idle_timeout(settings, settings.access_token_ttl_seconds, Some(settings.refresh_token_ttl_seconds))
    }

    /// An access lifetime cut to the session's idle timeout: a session left idle ends then, and
    /// so must every access token it issued (docs/decisions/0009).
    pub fn within_idle_timeout(settings: &TenantSettings, access: i64, refresh: Option<i64>) -> Self {
        Self { access: access.min(settings.session_idle_timeout_seconds), refresh }
    }
}

/// A fresh pair: the answer, and the refresh token with its remaining lifetime for the cookie.
pub struct IssuedTokens {
    pub response: TokenResponse,
    pub refresh_token: Option<String>,
    pub refresh_max_age: i64,
}

/// Issues a new refresh token for the session (inside the caller's transaction, unless the
/// lifetimes say none) and a fresh access token. The refresh token never outlives the session.
pub async fn issue_tokens(
    state: &AppState,
    tx: &mut Tx,
    session: &Session,
    lifetimes: TokenLifetimes,
    now: Timestamp,
) -> ApiResult<IssuedTokens> {
    let mut refresh = None;
    let mut refresh_max_age = 0;
    if let Some(ttl) = lifetimes.refresh {
        let token = crypto::random_token();
        let expires = Timestamp((now.0 + ttl).min(session.expires_at.0));
        store::sessions::insert_refresh_token(
            &mut **tx,
            session.tenant_id,
            session.id,
            &refresh_token_digest(&token),
            expires,
            now,
        )
        .await?;
        refresh = Some(token);
        refresh_max_age = expires.0 - now.0;
    }
    // An access token never outlives its session: not its absolute end, and (through
    // `TokenLifetimes`) not the idle deadline that this issue, a use of the session, sets.
    let ttl = lifetimes.access.min(session.expires_at.0 - now.0).max(0);
    // Read at every issue, so a role change applies from the next token.
    let (roles, permissions) = store::rbac::user_grants(&mut **tx, session.tenant_id, session.user_id).await?;
    let scope = session.scope.clone().unwrap_or_else(|| DIRECT_SCOPE.to_string());
    let claims = AccessClaims {
        iss: state.config.issuer.clone(),
        sub: session.user_id.to_string(),
        aud: access_audience(&state.config.issuer, session.client_id.as_deref(), &scope),
        exp: now.0 + ttl,
        iat: now.0,
        jti: uuid::Uuid::now_v7().to_string(),
        tid: session.tenant_id.to_string(),
        client_id: session.client_id.clone().unwrap_or_else(|| DIRECT_CLIENT_ID.to_string()),
        scope,
        sid: Some(session.id.to_string()),
        roles,
        permissions,
    };
    let access_token = state.keys.sign("at+jwt", &claims).map_err(crate::error::ApiError::internal)?;
    let response = TokenResponse {
        access_token,
        refresh_token: refresh.clone(),
        token_type: "Bearer",
        expires_in: ttl,
        scope: None,
        id_token: None,
    };
    Ok(IssuedTokens { response, refresh_token: refresh, refresh_max_age })
}

/// How refresh tokens are stored and looked up: hex SHA-256.
pub fn refresh_token_digest(token: &str) -> String {
    crypto::sha256_hex(token)
}

/// Refuses the access token `jti` from now on (until it expires): recorded for every instance,
/// and this instance's cached answers about the tenant's tokens dropped at once (the others
/// drop theirs at their next cache-epoch poll). Revoking it again changes nothing and forgets
/// nothing.
pub async fn revoke_access_token(
    state: &AppState,
    tenant_id: TenantId,
    jti: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> sqlx::Result<()> {
    if store::sessions::revoke_access_token(state.store.pool(), tenant_id, jti, expires_at, now).await? {
        state.clients.forget_live_tokens(Some(tenant_id));
    }
    Ok(())
}
