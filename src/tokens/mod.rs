//! The token core (DESIGN §4, §8): every token ovlt issues is built and signed here, for
//! `/auth`, `/oauth` and whatever comes next — user sessions' access and refresh tokens,
//! client tokens, ID tokens — and every access token it accepts is verified here.
//!
//! A session is one sign-in. Its refresh tokens are 256-bit random strings stored only as
//! SHA-256, rotated on every use ([`refresh`]); its access tokens are RS256 JWTs (RFC 9068)
//! naming it in `sid`, so ending the session ends both.

pub mod id_token;
pub mod refresh;

use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::crypto;
use crate::error::{ApiError, ApiResult};
use crate::store::{self, Tx};
pub use crate::types::{DIRECT_CLIENT_ID, DIRECT_SCOPE, OVLT_API_SCOPE};
use crate::types::{Session, SessionId, TenantId, TenantSettings, Timestamp};

/// The `aud` of a session's access tokens (RFC 9068 §3): ovlt's own API — named by the issuer —
/// for direct `/auth` tokens and for tokens granted [`OVLT_API_SCOPE`]; otherwise the client the
/// token was issued to, which is all it is good for (and userinfo, with `openid`).
pub fn access_audience(issuer: &str, client_id: Option<&str>, scope: &str) -> String {
    match client_id {
        Some(client_id) if !has_scope(scope, OVLT_API_SCOPE) => client_id.to_string(),
        _ => issuer.to_string(),
    }
}

/// Whom an access token stands for.
pub enum Subject {
    /// A user's session, opened by `/auth` directly (`client` None) or by an OAuth client.
    User { id: String, session: SessionId, client: Option<String> },
    /// An OAuth client acting for itself (client_credentials): no user, no session.
    Client { id: String },
}

impl AccessClaims {
    /// The claims of an access token issued now for `ttl` seconds: the one place they are
    /// built, so user and client tokens agree on issuer, audience, `jti` and `tid`.
    pub fn issued(
        state: &AppState,
        tenant_id: TenantId,
        subject: Subject,
        scope: String,
        (roles, permissions): (Vec<String>, Vec<String>),
        ttl: i64,
        now: Timestamp,
    ) -> Self {
        let issuer = state.config.issuer.clone();
        let (sub, sid, client) = match subject {
            Subject::User { id, session, client } => (id, Some(session.to_string()), client),
            Subject::Client { id } => (id.clone(), None, Some(id)),
        };
        Self {
            aud: access_audience(&issuer, client.as_deref(), &scope),
            iss: issuer,
            sub,
            exp: now.0 + ttl,
            iat: now.0,
            jti: uuid::Uuid::now_v7().to_string(),
            tid: tenant_id.to_string(),
            client_id: client.unwrap_or_else(|| DIRECT_CLIENT_ID.to_string()),
            scope,
            sid,
            roles,
            permissions,
        }
    }

    /// Whether ovlt's own API accepts this token: meant for it (`aud` is the issuer) and issued
    /// by `/auth` directly or with the ovlt-API scope. Other clients' tokens are refused there
    /// even when their user is an admin.
    pub fn is_for_ovlt_api(&self, issuer: &str) -> bool {
        self.aud == issuer && (self.client_id == DIRECT_CLIENT_ID || has_scope(&self.scope, OVLT_API_SCOPE))
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

/// What a successful sign-in or refresh answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// An RS256 JWT (RFC 9068, `typ: at+jwt`).
    pub access_token: String,
    /// Absent in session-cookie mode (it travels in the ovlt_refresh cookie) and when the grant gives none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    pub refresh_token: Option<String>,
    #[schema(schema_with = bearer_token_type)]
    pub token_type: &'static str,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// OAuth answers only: the granted scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    pub scope: Option<String>,
    /// OAuth answers only, when `openid` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    pub id_token: Option<String>,
}

fn bearer_token_type() -> utoipa::openapi::Schema {
    crate::openapi::schema::from_json(serde_json::json!({ "type": "string", "enum": ["Bearer"] }))
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
    let subject =
        Subject::User { id: session.user_id.to_string(), session: session.id, client: session.client_id.clone() };
    let claims = AccessClaims::issued(state, session.tenant_id, subject, scope, (roles, permissions), ttl, now);
    let access_token = sign_access_token(state, &claims)?;
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

/// Signs access-token claims (`typ: at+jwt`, RFC 9068 §2.1).
pub fn sign_access_token(state: &AppState, claims: &AccessClaims) -> ApiResult<String> {
    state.keys.sign("at+jwt", claims).map_err(ApiError::internal)
}

/// Verifies an access token's signature and claims (not its session): RS256, our issuer,
/// `typ: at+jwt`, unexpired, an `aud` present. Any audience: what the token may do is for the
/// caller to decide (ovlt's API: [`AccessClaims::is_for_ovlt_api`]; userinfo, introspection,
/// revocation: any of the tenant's tokens).
pub async fn verify_access_token(state: &AppState, token: &str) -> Option<AccessClaims> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[&state.config.issuer]);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    validation.leeway = 0;
    let data = state.keys.verify::<AccessClaims>(token, &validation).await.ok()?;
    data.header.typ.as_deref().is_some_and(|typ| typ.eq_ignore_ascii_case("at+jwt")).then_some(data.claims)
}

/// The distinct tokens of a space-separated scope string, in order (linear: a hash set finds
/// repeats, since the string may come from an unauthenticated request).
pub fn scope_tokens(scope: &str) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    scope.split(' ').filter(|t| !t.is_empty() && seen.insert(*t)).collect()
}

/// Whether a space-separated scope string contains `wanted`.
pub fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split(' ').any(|s| s == wanted)
}
