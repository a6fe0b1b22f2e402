//! Token introspection (RFC 7662) and revocation (RFC 7009).

use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::client_auth::{self, AuthenticatedClient, Lookup};
use super::params::Form;
use super::{OAuthError, OAuthErrorBody, no_store_json};
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::crypto;
use crate::error::ApiError;
use crate::http::extract::ADMIN_KEY_HEADER;
use crate::openapi::schema::from_json;
use crate::settings;
use crate::store;
use crate::tenants::{self, Tenant, TenantHeaders, TenantId};
use crate::tokens::verify_access_token;
use crate::tokens::{self, DIRECT_CLIENT_ID, DIRECT_SCOPE, refresh_token_digest};
use crate::types::Timestamp;

/// A request about one token. Other parameters are ignored (RFC 6749 §3.1); none may be repeated.
// For the OpenAPI document: the handlers read the body as `Params`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct TokenOnlyRequest {
    /// An access token or a refresh token.
    #[schema(min_length = 1)]
    token: String,
    /// client_secret_post, or a public client.
    #[schema(nullable = false)]
    client_id: Option<String>,
    /// client_secret_post.
    #[schema(nullable = false)]
    client_secret: Option<String>,
    #[serde(flatten)]
    other: std::collections::HashMap<String, String>,
}

/// RFC 7662: `{"active": false}` for any token that is not live in the tenant; otherwise its claims.
#[derive(Serialize, ToSchema)]
pub struct Introspection {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = token_type_schema)]
    token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    sub: Option<String>,
    /// Access tokens only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    exp: Option<i64>,
    /// Access tokens only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    iat: Option<i64>,
    /// Access tokens only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = Uuid)]
    tid: Option<String>,
    /// Absent on client_credentials tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = Uuid)]
    sid: Option<String>,
    /// Access tokens only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    roles: Option<Vec<String>>,
    /// Access tokens only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    permissions: Option<Vec<String>>,
}

impl Introspection {
    /// `{"active": false}`.
    fn inactive() -> Self {
        Self {
            active: false,
            token_type: None,
            scope: None,
            client_id: None,
            sub: None,
            aud: None,
            iss: None,
            exp: None,
            iat: None,
            jti: None,
            tid: None,
            sid: None,
            roles: None,
            permissions: None,
        }
    }
}

fn token_type_schema() -> utoipa::openapi::Schema {
    from_json(json!({ "type": "string", "enum": ["Bearer", "refresh_token"] }))
}

/// `POST /oauth/introspect`: a confidential client of the tenant (its secret), or the operator
/// (`X-OVLT-Admin-Key` with a tenant header), asks about any token of that tenant. Expired,
/// revoked, malformed and other tenants' tokens are all just `{"active": false}`.
#[utoipa::path(
    post,
    path = "/oauth/introspect",
    tag = "oauth",
    summary = "Token introspection (RFC 7662).",
    description = "A confidential client asks about any token of its tenant; or the operator, with the admin key \
                   and a tenant header. Expired, revoked, malformed and other tenants' tokens are all \
                   `{\"active\": false}`. The tenant headers are read only with the admin key (their failures \
                   are then 400 invalid_request).",
    security(("clientBasic" = []), ("adminKey" = []), ()),
    params(TenantHeaders),
    request_body(content = TokenOnlyRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The token's state (Cache-Control: no-store).", body = Introspection),
        (status = 400, description = "invalid_request", body = OAuthErrorBody),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
    )
)]
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
    Ok(no_store_json(answer.unwrap_or_else(Introspection::inactive)))
}

async fn access_token_state(
    state: &AppState,
    tenant: &Tenant,
    token: &str,
) -> Result<Option<Introspection>, OAuthError> {
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
    Ok(Some(Introspection {
        active: true,
        token_type: Some("Bearer"),
        scope: Some(claims.scope),
        client_id: Some(claims.client_id),
        sub: Some(claims.sub),
        aud: Some(claims.aud),
        iss: Some(claims.iss),
        exp: Some(claims.exp),
        iat: Some(claims.iat),
        jti: Some(claims.jti),
        tid: Some(claims.tid),
        sid: claims.sid,
        roles: Some(claims.roles),
        permissions: Some(claims.permissions),
    }))
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

async fn refresh_token_state(
    state: &AppState,
    tenant: &Tenant,
    token: &str,
) -> Result<Option<Introspection>, OAuthError> {
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
    Ok(Some(Introspection {
        active: true,
        token_type: Some("refresh_token"),
        scope: Some(session.scope.as_deref().unwrap_or(DIRECT_SCOPE).to_string()),
        client_id: Some(session.client_id.as_deref().unwrap_or(DIRECT_CLIENT_ID).to_string()),
        sub: Some(session.user_id.to_string()),
        iss: Some(state.config.issuer.clone()),
        exp: Some(known.expires_at.0),
        sid: Some(session.id.to_string()),
        tid: Some(tenant.id.to_string()),
        ..Introspection::inactive()
    }))
}

/// `POST /oauth/revoke` (RFC 7009): the client's own refresh token ends its session; its own
/// access token is refused from then on (by jti, until it expires). 200 whatever the token —
/// unknown, expired, or another client's, which is left alone.
#[utoipa::path(
    post,
    path = "/oauth/revoke",
    operation_id = "oauth_revoke",
    tag = "oauth",
    summary = "Token revocation (RFC 7009).",
    description = "The client's own refresh token ends its session; its own access token is refused from then \
                   on. 200 whatever the token: unknown, expired or another client's tokens are left alone.",
    security(("clientBasic" = []), ()),
    request_body(content = TokenOnlyRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Done (or nothing to do); no body."),
        (status = 400, description = "invalid_request", body = OAuthErrorBody),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
    )
)]
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
