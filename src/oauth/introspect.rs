//! Token introspection (RFC 7662) and revocation (RFC 7009).

use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::client_auth::{self, AuthenticatedClient, Lookup};
use super::params::Form;
use super::{OAuthError, no_store_json};
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::crypto;
use crate::error::ApiError;
use crate::http::extract::ADMIN_KEY_HEADER;
use crate::settings;
use crate::store;
use crate::tenants::{self, Tenant, TenantId};
use crate::tokens::verify_access_token;
use crate::tokens::{self, DIRECT_CLIENT_ID, DIRECT_SCOPE, refresh_token_digest};
use crate::types::Timestamp;

/// `POST /oauth/introspect`: a confidential client of the tenant (its secret), or the operator
/// (`X-OVLT-Admin-Key` with a tenant header), asks about any token of that tenant. Expired,
/// revoked, malformed and other tenants' tokens are all just `{"active": false}`.
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form,
) -> Result<Response, OAuthError> {
    let tenant = if let Some(key) = headers.get(ADMIN_KEY_HEADER) {
        if !crypto::secrets_match(key.as_bytes(), &state.admin_key_digest) {
            return Err(OAuthError::invalid_client());
        }
        tenants::tenant_from_headers(&state, &headers).await.map_err(|e| match e {
            ApiError::Internal(_) => OAuthError::from(e),
            other => OAuthError::invalid_request(other.to_string()),
        })?
    } else {
        let client = client_auth::authenticate(&state, &headers, &params, Lookup::ClientOnly).await?;
        if !client.client.is_confidential() {
            return Err(OAuthError::invalid_client());
        }
        client.tenant
    };
    let token = params.get("token").ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let answer = match token.matches('.').count() {
        2 => access_token_state(&state, &tenant, token).await?,
        _ => refresh_token_state(&state, &tenant, token).await?,
    };
    Ok(no_store_json(answer.unwrap_or_else(|| json!({ "active": false }))))
}

async fn access_token_state(state: &AppState, tenant: &Tenant, token: &str) -> Result<Option<Value>, OAuthError> {
    let Some(claims) = verify_access_token(state, token).await else { return Ok(None) };
    if claims.tid != tenant.id.to_string() {
        return Ok(None);
    }
    let pool = state.store.pool();
    let live = match &claims.sid {
        Some(sid) => store::sessions::access_token_is_live(pool, tenant.id, sid, &claims.jti, Timestamp::now()).await?,
        None => client_token_is_live(state, tenant.id, &claims.client_id, &claims.jti).await?,
    };
    if !live {
        return Ok(None);
    }
    let mut answer = json!({
        "active": true,
        "token_type": "Bearer",
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "jti": claims.jti,
        "tid": claims.tid,
        "roles": claims.roles,
        "permissions": claims.permissions,
    });
    if let Some(sid) = claims.sid {
        answer["sid"] = json!(sid);
    }
    Ok(Some(answer))
}

/// A client's own token lives while the client does and until it is revoked; a token found
/// live is remembered (see [`crate::oauth::client_cache`]).
async fn client_token_is_live(state: &AppState, tenant: TenantId, client_id: &str, jti: &str) -> sqlx::Result<bool> {
    let now = Instant::now();
    if state.clients.token_is_live(tenant, jti, now) {
        return Ok(true);
    }
    let read_at = state.clients.generation();
    let live = store::sessions::client_token_is_live(state.store.pool(), tenant, client_id, jti).await?;
    if live {
        state.clients.insert_live_token(tenant, jti, read_at, now);
    }
    Ok(live)
}

async fn refresh_token_state(state: &AppState, tenant: &Tenant, token: &str) -> Result<Option<Value>, OAuthError> {
    let pool = state.store.pool();
    let now = Timestamp::now();
    let Some(known) = store::sessions::find_refresh_token(pool, tenant.id, &refresh_token_digest(token)).await? else {
        return Ok(None);
    };
    if known.rotated_at.is_some() || known.expires_at <= now {
        return Ok(None);
    }
    let Some(session) = store::sessions::find_session(pool, tenant.id, known.session_id).await? else {
        return Ok(None);
    };
    let settings = settings::load(&state.store, tenant.id).await?;
    // The empty jti is never revoked: this checks the session and its user.
    let user_active = store::sessions::access_token_is_live(pool, tenant.id, &session.id.to_string(), "", now).await?;
    if !session.is_live(&settings, now) || !user_active {
        return Ok(None);
    }
    Ok(Some(json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": session.scope.as_deref().unwrap_or(DIRECT_SCOPE),
        "client_id": session.client_id.as_deref().unwrap_or(DIRECT_CLIENT_ID),
        "sub": session.user_id.to_string(),
        "iss": state.config.issuer,
        "exp": known.expires_at.0,
        "sid": session.id.to_string(),
        "tid": tenant.id.to_string(),
    })))
}

/// `POST /oauth/revoke` (RFC 7009): the client's own refresh token ends its session; its own
/// access token is refused from then on (by jti, until it expires). 200 whatever the token —
/// unknown, expired, or another client's, which is left alone.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: RequestContext,
    Form(params): Form,
) -> Result<Response, OAuthError> {
    let client = client_auth::authenticate(&state, &headers, &params, Lookup::ClientOnly).await?;
    let token = params.get("token").ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    revoke_token(&state, &client, token, context).await?;
    Ok(StatusCode::OK.into_response())
}

async fn revoke_token(
    state: &AppState,
    client: &AuthenticatedClient,
    token: &str,
    context: RequestContext,
) -> Result<(), OAuthError> {
    let tenant_id = client.tenant.id;
    let now = Timestamp::now();
    let actor = Actor::Client(client.client.id.clone());
    if let Some(claims) = verify_access_token(state, token).await {
        if claims.tid == tenant_id.to_string() && claims.client_id == client.client.id {
            let pool = state.store.pool();
            tokens::revoke_access_token(state, tenant_id, &claims.jti, Timestamp(claims.exp), now).await?;
            let event = AuditEvent::new(actor, "token.revoked", context)
                .in_tenant(tenant_id)
                .target("access_token", &claims.jti);
            audit::record(pool, event).await?;
        }
        return Ok(());
    }
    let digest = refresh_token_digest(token);
    let Some(known) = store::sessions::find_refresh_token(state.store.pool(), tenant_id, &digest).await? else {
        return Ok(());
    };
    let mut tx = state.store.begin().await?;
    let session = store::sessions::find_session(&mut *tx, tenant_id, known.session_id).await?;
    if session.is_some_and(|s| s.client_id.as_deref() == Some(client.client.id.as_str()))
        && store::sessions::revoke_session(&mut *tx, tenant_id, known.session_id, "revoked", now).await?
    {
        let event =
            AuditEvent::new(actor, "token.revoked", context).in_tenant(tenant_id).target("session", known.session_id);
        audit::record(&mut *tx, event).await?;
    }
    tx.commit().await?;
    Ok(())
}
