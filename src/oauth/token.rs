//! The token endpoint (RFC 6749 §3.2): `authorization_code` (+ PKCE, RFC 7636),
//! `client_credentials` and `refresh_token` (rotated, reuse detected, bound to the client).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::client_auth::{self, AuthenticatedClient, Lookup};
use super::params::{Form, Params};
use super::{OAuthError, OAuthErrorBody, has_scope, no_store_json, scope_tokens};
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::crypto;
use crate::openapi::schema::from_json;
use crate::store::{self, oauth::CodeRow};
use crate::tokens::refresh::{self, Rotated};
use crate::tokens::{self, AccessClaims, Subject, TokenLifetimes, TokenResponse, id_token};
use crate::types::{OVLT_API_SCOPE, Session, TenantSettings, Timestamp, UserStatus};

/// A token request (RFC 6749 §3.2). Other parameters are ignored (RFC 6749 §3.1); none may be repeated.
// For the OpenAPI document: the handler reads the body as `Params`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct TokenRequest {
    #[schema(schema_with = grant_type_schema)]
    grant_type: String,
    /// authorization_code: the code.
    #[schema(nullable = false)]
    code: Option<String>,
    /// authorization_code: the authorization request's redirect URI.
    #[schema(nullable = false)]
    redirect_uri: Option<String>,
    /// authorization_code with PKCE: 43 to 128 unreserved characters.
    #[schema(nullable = false)]
    code_verifier: Option<String>,
    /// refresh_token: the token to rotate.
    #[schema(nullable = false)]
    refresh_token: Option<String>,
    /// client_credentials: a subset of the client's scopes; refresh_token: may not widen the granted scope.
    #[schema(nullable = false)]
    scope: Option<String>,
    /// client_secret_post, or a public client.
    #[schema(nullable = false)]
    client_id: Option<String>,
    /// client_secret_post.
    #[schema(nullable = false)]
    client_secret: Option<String>,
    #[serde(flatten)]
    other: std::collections::HashMap<String, String>,
}

fn grant_type_schema() -> utoipa::openapi::Schema {
    from_json(json!({ "type": "string", "enum": ["authorization_code", "client_credentials", "refresh_token"] }))
}

/// The token endpoint's answer (RFC 6749 §5.1).
// For the OpenAPI document: the handler answers a `tokens::TokenResponse` with its scope set.
#[derive(ToSchema)]
#[schema(description = "The token endpoint's answer (RFC 6749 §5.1): always the scope; a refresh token only with \
                        offline_access; an ID token with openid.")]
#[allow(dead_code)]
pub struct OAuthTokenResponse {
    /// An RS256 JWT (RFC 9068, `typ: at+jwt`).
    access_token: String,
    /// Only with offline_access, for a client that may use the refresh_token grant.
    #[schema(nullable = false)]
    refresh_token: Option<String>,
    #[schema(schema_with = bearer_schema)]
    token_type: String,
    /// Seconds the access token lives.
    expires_in: i64,
    /// The granted scope.
    scope: String,
    /// When `openid` was granted.
    #[schema(nullable = false)]
    id_token: Option<String>,
}

fn bearer_schema() -> utoipa::openapi::Schema {
    from_json(json!({ "type": "string", "enum": ["Bearer"] }))
}

/// `POST /oauth/token`.
#[utoipa::path(
    post,
    path = "/oauth/token",
    tag = "oauth",
    summary = "The token endpoint (RFC 6749 §3.2).",
    description = "Grants: authorization_code (with PKCE), client_credentials (confidential clients) and \
                   refresh_token (rotated, bound to the client, reuse ends the session).",
    security(("clientBasic" = []), ()),
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The tokens (Cache-Control: no-store).", body = OAuthTokenResponse),
        (status = 400, description = "invalid_request, unsupported_grant_type, unauthorized_client, invalid_grant, \
                                      invalid_scope", body = OAuthErrorBody),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
    )
)]
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    context: RequestContext,
    Form(params): Form,
) -> Result<Response, OAuthError> {
    let grant_type = params.get("grant_type").ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    if !matches!(grant_type, "authorization_code" | "client_credentials" | "refresh_token") {
        return Err(OAuthError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code, client_credentials or refresh_token",
        ));
    }
    let client = client_auth::authenticate(&state, &headers, &params, Lookup::WithSettings).await?;
    if !client.client.allows_grant(grant_type) {
        return Err(OAuthError::unauthorized_client(format!("this client may not use the {grant_type} grant")));
    }
    let (grant, answer) = match grant_type {
        "authorization_code" => ("authorization_code", authorization_code(&state, &client, &params, context).await),
        "client_credentials" => ("client_credentials", client_credentials(&state, &client, &params).await),
        _ => ("refresh_token", refresh_token(&state, &client, &params, context).await),
    };
    if answer.is_ok() {
        metrics::counter!("ovlt_tokens_issued_total", "grant" => grant).increment(1);
    }
    answer
}

/// How long this client's tokens live: its own overrides, else the tenant's settings.
fn lifetimes(client: &AuthenticatedClient, settings: &TenantSettings, scope: &str) -> TokenLifetimes {
    let access = client.client.access_token_ttl_seconds.unwrap_or(settings.access_token_ttl_seconds);
    // A refresh token only when offline_access was granted and the client may refresh.
    let refresh = (has_scope(scope, "offline_access") && client.client.allows_grant("refresh_token"))
        .then(|| client.client.refresh_token_ttl_seconds.unwrap_or(settings.refresh_token_ttl_seconds));
    TokenLifetimes::within_idle_timeout(settings, access, refresh)
}

async fn authorization_code(
    state: &AppState,
    client: &AuthenticatedClient,
    params: &Params,
    context: RequestContext,
) -> Result<Response, OAuthError> {
    let code = params.get("code").ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let tenant = &client.tenant;
    let now = Timestamp::now();
    let code_hash = crypto::sha256_hex(code);
    let mut tx = state.store.begin().await.map_err(OAuthError::from)?;
    let Some(grant) = store::oauth::consume_code(&mut *tx, tenant.id, &code_hash, now).await? else {
        return Err(refused_code(tx, client, &code_hash, context, now).await);
    };
    // A refused exchange still uses the code up: commit that before answering.
    if let Err(refusal) = check_exchange(client, params, &grant) {
        tx.commit().await?;
        return Err(refusal);
    }
    let settings = client.settings()?.clone();
    let sso = store::sessions::find_session(&mut *tx, tenant.id, grant.sso_session_id).await?;
    let sso =
        sso.filter(|s| s.is_live(&settings, now)).ok_or_else(|| OAuthError::invalid_grant("the sign-in has ended"))?;
    let user = store::users::find_user_by_id(&mut *tx, tenant.id, sso.user_id).await?;
    let user = user
        .filter(|u| u.status == UserStatus::Active)
        .ok_or_else(|| OAuthError::invalid_grant("the user is not active"))?;

    let scope = without_lost_api_scope(client, &grant.scope);
    let session = Session {
        client_id: Some(client.client.id.clone()),
        scope: Some(scope.clone()),
        sso_session_id: Some(sso.id),
        amr: sso.amr.clone(),
        auth_time: sso.auth_time,
        ..Session::new(&user, &sso.amr, &settings, now)
    };
    store::sessions::insert_session(&mut *tx, &session, context.ip.as_deref(), context.user_agent.as_deref(), None)
        .await?;
    store::oauth::set_issued_session(&mut *tx, tenant.id, &code_hash, session.id).await?;
    let lifetimes = lifetimes(client, &settings, &scope);
    let issued = tokens::issue_tokens(state, &mut tx, &session, lifetimes, now).await?;
    let mut response = issued.response;
    response.scope = Some(scope.clone());
    if has_scope(&scope, "openid") {
        let token = id_token::issue(state, &session, &user, grant.nonce, &response.access_token, lifetimes.access, now)
            .map_err(|e| OAuthError::from(crate::error::ApiError::internal(e)))?;
        response.id_token = Some(token);
    }
    let event = AuditEvent::new(Actor::User(user.id), "oauth.code_exchanged", context)
        .in_tenant(tenant.id)
        .target("session", session.id)
        .outcome("success")
        .details(serde_json::json!({ "client_id": client.client.id, "scope": scope }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(no_store_json(response))
}

/// The token request must come from the code's client, name its redirect URI, and prove the
/// PKCE challenge (RFC 7636 §4.6); a verifier for a code without a challenge is refused too.
fn check_exchange(client: &AuthenticatedClient, params: &Params, grant: &CodeRow) -> Result<(), OAuthError> {
    if grant.client_id != client.client.id {
        return Err(OAuthError::invalid_grant("the code was issued to another client"));
    }
    let redirect_ok = match params.get("redirect_uri") {
        Some(uri) => uri == grant.redirect_uri,
        None => client.client.redirect_uris == [grant.redirect_uri.clone()],
    };
    if !redirect_ok {
        return Err(OAuthError::invalid_grant("redirect_uri does not match the authorization request"));
    }
    match (&grant.code_challenge, params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if is_verifier(verifier) => {
            if !pkce_matches(verifier, challenge) {
                return Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge"));
            }
        }
        (Some(_), _) => return Err(OAuthError::invalid_grant("a valid code_verifier is required")),
        (None, Some(_)) => return Err(OAuthError::invalid_grant("the authorization request had no code_challenge")),
        (None, None) => {}
    }
    Ok(())
}

/// A code that could not be used: unknown, expired, or used before. A code used before is a
/// replay (RFC 6749 §4.1.2): what its first exchange issued ends too.
async fn refused_code(
    mut tx: store::Tx,
    client: &AuthenticatedClient,
    code_hash: &str,
    context: RequestContext,
    now: Timestamp,
) -> OAuthError {
    let refusal = OAuthError::invalid_grant("the code is invalid, expired or already used");
    let tenant_id = client.tenant.id;
    let replayed = async {
        let Some(used) = store::oauth::find_used_code(&mut *tx, tenant_id, code_hash).await? else { return Ok(()) };
        let Some(issued) = used.issued_session_id else { return Ok(()) };
        if store::sessions::revoke_session(&mut *tx, tenant_id, issued, "code_reuse", now).await? {
            let event = AuditEvent::new(Actor::Client(client.client.id.clone()), "token.code_reuse_detected", context)
                .in_tenant(tenant_id)
                .target("session", issued)
                .outcome("failure");
            audit::record(&mut *tx, event).await?;
            tracing::warn!(tenant.id = %tenant_id, session.id = %issued, "authorization code replayed: session revoked");
        }
        tx.commit().await
    };
    if let Err(e) = replayed.await {
        return OAuthError::from(e);
    }
    refusal
}

async fn client_credentials(
    state: &AppState,
    client: &AuthenticatedClient,
    params: &Params,
) -> Result<Response, OAuthError> {
    let allowed: Vec<&str> = client
        .client
        .scopes
        .iter()
        .map(String::as_str)
        // Scopes about a user have no meaning without one; ovlt:api acts for a user too.
        .filter(|s| !matches!(*s, "openid" | "offline_access" | "profile" | "email" | OVLT_API_SCOPE))
        .collect();
    let scope = match params.get("scope") {
        None => allowed.join(" "),
        Some(requested) => {
            let requested = scope_tokens(requested);
            if let Some(unknown) = requested.iter().find(|s| !allowed.contains(s)) {
                return Err(OAuthError::invalid_scope(format!("the scope {unknown} is not allowed for this client")));
            }
            requested.join(" ")
        }
    };
    let tenant = &client.tenant;
    let ttl = client.client.access_token_ttl_seconds.unwrap_or(client.settings()?.access_token_ttl_seconds);
    let (roles, permissions) = match (&client.grants, client.has_roles) {
        (Some(grants), _) => grants.clone(),
        (None, true) => store::clients::client_grants(state.store.pool(), tenant.id, &client.client.id).await?,
        (None, false) => (Vec::new(), Vec::new()),
    };
    let now = Timestamp::now();
    // A client's own token is for its resource servers: its `aud` names the client.
    let subject = Subject::Client { id: client.client.id.clone() };
    let claims = AccessClaims::issued(state, tenant.id, subject, scope.clone(), (roles, permissions), ttl, now);
    let access_token = tokens::sign_access_token(state, &claims)?;
    Ok(no_store_json(TokenResponse {
        access_token,
        refresh_token: None,
        token_type: "Bearer",
        expires_in: ttl,
        scope: Some(scope),
        id_token: None,
    }))
}

async fn refresh_token(
    state: &AppState,
    client: &AuthenticatedClient,
    params: &Params,
    context: RequestContext,
) -> Result<Response, OAuthError> {
    let token = params.get("refresh_token").ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let settings = client.settings()?.clone();
    let refused = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    let rotated = refresh::rotate(state, &client.tenant, &settings, token, Some(&client.client.id), context).await?;
    let Some(Rotated { mut tx, session, user, now }) = rotated else { return Err(refused()) };
    let granted = without_lost_api_scope(client, session.scope.as_deref().unwrap_or_default());
    // RFC 6749 §6: a refresh may ask for less than was granted (never more); the access token
    // then carries only that, while the session, and so the next refresh, keeps the whole grant.
    let scope = match params.get("scope").map(scope_tokens).filter(|requested| !requested.is_empty()) {
        None => granted.clone(),
        Some(requested) if requested.iter().any(|s| !has_scope(&granted, s)) => {
            return Err(OAuthError::invalid_scope("a refresh cannot widen the granted scope"));
        }
        Some(requested) => requested.join(" "),
    };
    let lifetimes = lifetimes(client, &settings, &granted);
    let narrowed = Session { scope: Some(scope.clone()), ..session };
    let issued = tokens::issue_tokens(state, &mut tx, &narrowed, lifetimes, now).await?;
    let mut response = issued.response;
    response.scope = Some(scope.clone());
    if has_scope(&scope, "openid") {
        let token = id_token::issue(state, &narrowed, &user, None, &response.access_token, lifetimes.access, now)
            .map_err(|e| OAuthError::from(crate::error::ApiError::internal(e)))?;
        response.id_token = Some(token);
    }
    tx.commit().await?;
    Ok(no_store_json(response))
}

/// A granted scope, less the ovlt-API scope when the client may no longer hold it (no longer
/// first-party, or the scope taken from it): its session goes on without that power.
fn without_lost_api_scope(client: &AuthenticatedClient, granted: &str) -> String {
    let keep = |s: &&str| *s != OVLT_API_SCOPE || client.client.allows_ovlt_api();
    scope_tokens(granted).into_iter().filter(keep).collect::<Vec<_>>().join(" ")
}

/// A PKCE code verifier: 43–128 unreserved characters (RFC 7636 §4.1).
/// RFC 7636 §4.6: a well-formed verifier whose S256 is the challenge (compared in constant time).
pub(crate) fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(crypto::sha256(verifier.as_bytes()));
    is_verifier(verifier) && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

fn is_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}
