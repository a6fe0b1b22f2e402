//! `Authorization: Bearer <access token>` as an extractor (RFC 6750).
//!
//! A request gets a [`CurrentUser`] only when the token's signature, issuer, type (`at+jwt`)
//! and expiry are right, it is meant for ovlt's own API (a direct `/auth` token, or one granted
//! the `ovlt:api` scope: [`AccessClaims::is_for_ovlt_api`]), its tenant is the tenant the
//! request addresses, and its session is still live and the token not revoked — read from the
//! database on every request, so a logout or revocation is seen by every instance at once.
//! Anything else is 401 `invalid_token` with a `WWW-Authenticate` header; a bad token is never
//! "anonymous". An access token issued to any other client is good for that client's own
//! purposes and for userinfo, never for managing the tenant.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::error::ApiError;
use crate::store;
use crate::tenants::{CurrentTenant, Tenant};
use crate::tokens::{AccessClaims, verify_access_token};
use crate::types::SessionId;
use crate::types::Timestamp;
use crate::users::UserId;

#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub tenant: Tenant,
    pub user_id: UserId,
    pub session_id: SessionId,
    pub claims: AccessClaims,
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let CurrentTenant(tenant) = CurrentTenant::from_request_parts(parts, state).await?;
        authenticate(state, &tenant, &parts.headers).await
    }
}

/// Authenticates the request's bearer token for `tenant` (see the module comment).
pub async fn authenticate(state: &AppState, tenant: &Tenant, headers: &HeaderMap) -> Result<CurrentUser, ApiError> {
    let token = bearer_token(headers).ok_or(ApiError::InvalidToken)?;
    let claims = verify_access_token(state, token).await.ok_or(ApiError::InvalidToken)?;
    if claims.tid != tenant.id.to_string() || !claims.is_for_ovlt_api(&state.config.issuer) {
        return Err(ApiError::InvalidToken);
    }
    // Every token meant for ovlt's API stands for a user's session.
    let sid = claims.sid.as_deref().ok_or(ApiError::InvalidToken)?;
    let live = store::sessions::access_token_is_live(state.store.pool(), tenant.id, sid, &claims.jti, Timestamp::now())
        .await?;
    if !live {
        return Err(ApiError::InvalidToken);
    }
    let user_id = UserId::parse(&claims.sub).map_err(|_| ApiError::InvalidToken)?;
    let session_id = SessionId::parse(sid).map_err(|_| ApiError::InvalidToken)?;
    tracing::Span::current().record("user.id", tracing::field::display(user_id));
    Ok(CurrentUser { tenant: tenant.clone(), user_id, session_id, claims })
}

/// The token of an `Authorization: Bearer …` header, if there is one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}
