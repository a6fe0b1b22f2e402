//! Registering, and the session: `POST /auth/register`, `/auth/login`, `/auth/refresh`,
//! `/auth/logout` and `/auth/revoke`. Every handler takes the tenant from its header.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::Schema;

use super::{
    at_most_one_of, body_with_rules, described, optional_session_mode, parse_mode, required, session_mode, token_answer,
};
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::auth::bearer::{self, CurrentUser};
use crate::auth::{PasswordChecked, cookie, open_session, verify_password_login};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::{Json, OptionalJson};
use crate::mfa::{self, api::MfaRequired, api::MfaSetupRequired};
use crate::openapi::{self, schema::nullable};
use crate::settings;
use crate::store;
use crate::tenants::{CurrentTenant, TenantHeaders};
use crate::tokens::refresh::Rotated;
use crate::tokens::{self, TokenLifetimes, TokenResponse, refresh_token_digest};
use crate::types::Timestamp;
use crate::users::UserResponse;

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(required, schema_with = openapi::schema::email)]
    email: Option<String>,
    #[schema(required, schema_with = openapi::schema::new_password)]
    password: Option<String>,
    #[schema(schema_with = register_name_schema)]
    name: Option<String>,
}

fn register_name_schema() -> Schema {
    nullable(openapi::schema::from_json(json!({
        "type": "string",
        "maxLength": 200,
        "pattern": openapi::schema::NO_CONTROL
    })))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(required, schema_with = login_email_schema)]
    email: Option<String>,
    #[schema(required, schema_with = login_password_schema)]
    password: Option<String>,
    /// `"session"`: the refresh token goes into an HttpOnly cookie instead of the body.
    #[schema(schema_with = login_mode_schema)]
    mode: Option<String>,
    /// A TOTP code, for both steps at once.
    otp: Option<String>,
    /// Alias of otp.
    totp_code: Option<String>,
    /// Or one of the user's backup codes.
    backup_code: Option<String>,
}

fn login_email_schema() -> Schema {
    described(openapi::schema::nonblank(), "The user's email.")
}

fn login_password_schema() -> Schema {
    described(openapi::schema::nonblank(), "The user's password.")
}

fn login_mode_schema() -> Schema {
    nullable(described(session_mode(), "The refresh token in an HttpOnly cookie."))
}

body_with_rules!(
    /// The body of `POST /auth/login`: [`LoginRequest`], with at most one second factor.
    LoginBody = LoginRequest,
    &[at_most_one_of(&["otp", "totp_code", "backup_code"])]
);

#[derive(Default, Deserialize, ToSchema)]
pub struct RefreshRequest {
    #[schema(schema_with = refresh_token_schema)]
    refresh_token: Option<String>,
    #[schema(schema_with = optional_session_mode)]
    mode: Option<String>,
}

fn refresh_token_schema() -> Schema {
    nullable(described(openapi::schema::nonempty(), "Required unless the cookie carries it."))
}

#[derive(Default, Deserialize, ToSchema)]
#[schema(as = AuthLogoutRequest)]
pub struct LogoutRequest {
    refresh_token: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = AuthRevokeRequest)]
pub struct RevokeRequest {
    /// An access or refresh token.
    #[schema(required, value_type = String)]
    token: Option<String>,
}

// What `POST /auth/login` answers: the tokens, or the second step a sign-in needs (a plain
// comment: a doc comment would describe the schema).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    Tokens(TokenResponse),
    MfaRequired(MfaRequired),
    MfaSetupRequired(MfaSetupRequired),
}

/// `POST /auth/register` (anyone, when the tenant allows self-registration) → 201 with the user.
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "auth",
    summary = "Self-registration, when the tenant allows it.",
    description = "Emails a verification code.",
    params(TenantHeaders),
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The new user.", body = UserResponse),
        (status = 403, description = "forbidden"),
        (status = 409, description = "conflict"),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    context: RequestContext,
    Json(body): Json<RegisterRequest>,
) -> ApiResult<Response> {
    let settings = settings::load(&state.store, tenant.id).await?;
    let registration = crate::auth::Registration {
        email: body.email.as_deref(),
        password: body.password.as_deref(),
        name: body.name.as_deref(),
    };
    let user = crate::auth::register_user(&state, &tenant, &settings, registration, context).await?;
    Ok((StatusCode::CREATED, Json(UserResponse::from(&user))).into_response())
}

/// `POST /auth/login` (anyone) → `{access_token, refresh_token, token_type, expires_in}`; for a
/// user with MFA and no inline code `{mfa_required, mfa_token}`, and when the tenant requires MFA
/// of a user without it `{mfa_setup_required, mfa_token}` (see `mfa::api`).
///
/// An unknown email, a wrong password and a locked account answer the same 401
/// `invalid_credentials` after the same work (one Argon2id verify each).
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    summary = "Signs in with email and password.",
    description = "Answers the tokens; for a user with MFA and no inline code `MfaRequired`; when the tenant \
                   requires MFA of a user without it `MfaSetupRequired`. An unknown email, a wrong password and a \
                   locked account answer the same 401 invalid_credentials. In session mode the refresh token goes \
                   into the ovlt_refresh cookie instead of the body.",
    params(TenantHeaders),
    request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in, or the second step needed.", body = inline(LoginAnswer),
            headers(("Set-Cookie" = String, description = "Session mode: the ovlt_refresh cookie."))),
        (status = 401, description = "invalid_credentials, invalid_otp"),
        (status = 403, description = "user_suspended, email_not_verified"),
        (status = 429, description = "too_many_attempts"),
        (status = 503, description = "unavailable"),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    context: RequestContext,
    Json(body): Json<LoginRequest>,
) -> ApiResult<Response> {
    let mut fields = FieldErrors::new();
    let email = required(&mut fields, "email", body.email.as_deref());
    let password = required(&mut fields, "password", body.password.as_deref());
    let session_mode = parse_mode(&mut fields, body.mode.as_deref());
    let inline =
        mfa::api::factor(&mut fields, body.otp.as_deref(), body.totp_code.as_deref(), body.backup_code.as_deref());
    let (Some(email), Some(password), true) = (email, password, fields.is_empty()) else {
        return Err(ApiError::validation(fields));
    };
    let settings = settings::load(&state.store, tenant.id).await?;
    let PasswordChecked { user, attempts } =
        verify_password_login(&state, &tenant, &settings, email, password, &context).await?;
    let next = mfa::after_password(&state, &tenant, &settings, &user, "pwd", attempts, inline, &context).await?;
    let amr = match mfa::api::second_step(next) {
        Ok(amr) => amr,
        Err(answer) => return Ok(answer),
    };
    let mut tx = state.store.begin().await?;
    let issued = open_session(&state, &mut tx, &settings, &user, amr, context).await?;
    tx.commit().await?;
    metrics::counter!("ovlt_tokens_issued_total", "grant" => "password").increment(1);
    Ok(token_answer(&state, issued, session_mode, None))
}

/// `POST /auth/refresh` (holder of a refresh token, in the body or the session cookie) → a new
/// pair; the presented token is dead from then on. Presenting a rotated token again ends the
/// whole session (RFC 9700 §4.14.2), unless it comes within the tenant's grace window.
#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "auth",
    summary = "Rotates a refresh token for a new pair.",
    description = "The token comes from the body or the ovlt_refresh cookie; the presented token is dead from then \
                   on. Presenting a rotated token again ends the whole session (unless within the tenant's grace \
                   window). The body may be empty.",
    security(("refreshCookie" = []), ()),
    params(TenantHeaders),
    request_body = Option<RefreshRequest>,
    responses(
        (status = 200, description = "A new pair.", body = TokenResponse,
            headers(("Set-Cookie" = String, description = "Session mode: the ovlt_refresh cookie."))),
        (status = 401, description = "invalid_token"),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    context: RequestContext,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<RefreshRequest>,
) -> ApiResult<Response> {
    let body = body.unwrap_or_default();
    let mut fields = FieldErrors::new();
    let mode_requested = parse_mode(&mut fields, body.mode.as_deref());
    if !fields.is_empty() {
        return Err(ApiError::validation(fields));
    }
    let (token, from_cookie) = match body.refresh_token.filter(|t| !t.is_empty()) {
        Some(token) => (token, false),
        None => match cookie::refresh_cookie(&headers, state.config.is_production()) {
            Some(token) => (token, true),
            None => {
                return Err(ApiError::validation(FieldErrors::from([("refresh_token".into(), "is required".into())])));
            }
        },
    };
    let settings = settings::load(&state.store, tenant.id).await?;
    let rotated = tokens::refresh::rotate(&state, &tenant, &settings, &token, None, context).await?;
    let Some(Rotated { mut tx, session, now, .. }) = rotated else { return Err(ApiError::InvalidToken) };
    let issued = tokens::issue_tokens(&state, &mut tx, &session, TokenLifetimes::of_tenant(&settings), now).await?;
    tx.commit().await?;
    metrics::counter!("ovlt_tokens_issued_total", "grant" => "refresh_token").increment(1);
    Ok(token_answer(&state, issued, mode_requested || from_cookie, None))
}

/// `POST /auth/logout` (Bearer; or the session cookie; or `{refresh_token}`) → 204: the
/// session ends, its refresh tokens die, its access tokens are refused from then on.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    summary = "Ends the session of a bearer token, refresh cookie or refresh token.",
    description = "Its refresh tokens die and its access tokens are refused from then on. The body may be empty.",
    security(("bearer" = []), ("refreshCookie" = []), ()),
    params(TenantHeaders),
    request_body = Option<LogoutRequest>,
    responses(
        (status = 204, description = "Signed out; the ovlt_refresh cookie is cleared.",
            headers(("Set-Cookie" = String, description = "Clears the ovlt_refresh cookie."))),
        (status = 401, description = "invalid_token"),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    context: RequestContext,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<LogoutRequest>,
) -> ApiResult<Response> {
    let now = Timestamp::now();
    let session_id = if headers.contains_key(header::AUTHORIZATION) {
        let user = bearer::authenticate(&state, &tenant, &headers).await?;
        Some(user.session_id)
    } else {
        let token = body
            .and_then(|b| b.refresh_token)
            .or_else(|| cookie::refresh_cookie(&headers, state.config.is_production()));
        let Some(token) = token else { return Err(ApiError::InvalidToken) };
        let known =
            store::sessions::find_refresh_token(state.store.pool(), tenant.id, &refresh_token_digest(&token)).await?;
        known.map(|k| k.session_id)
    };
    if let Some(session_id) = session_id {
        let mut tx = state.store.begin().await?;
        let session = store::sessions::find_session(&mut *tx, tenant.id, session_id).await?;
        if let Some(session) = session
            && store::sessions::revoke_session(&mut *tx, tenant.id, session_id, "logout", now).await?
        {
            // Whoever presented the session's token (bearer, cookie or refresh token) acted for
            // its user: the row names them.
            let event = AuditEvent::new(Actor::User(session.user_id), "logout", context)
                .in_tenant(tenant.id)
                .target("session", session_id)
                .outcome("success");
            audit::record(&mut *tx, event).await?;
        }
        tx.commit().await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie::clear_refresh_cookie(state.config.is_production()));
    Ok(response)
}

/// `POST /auth/revoke` (Bearer) `{token}` → 200 in every case (RFC 7009 §2.2): the caller's
/// own refresh token ends its session, the caller's own access token is refused from then on;
/// anybody else's token, or an unknown one, is left alone.
#[utoipa::path(
    post,
    path = "/auth/revoke",
    operation_id = "auth_revoke",
    tag = "auth",
    summary = "Revokes one of the caller's own tokens (RFC 7009 style).",
    description = "The caller's own refresh token ends its session; the caller's own access token is refused from \
                   then on. Anybody else's token, or an unknown one, is left alone: 200 in every case.",
    security(("bearer" = [])),
    params(TenantHeaders),
    request_body = RevokeRequest,
    responses((status = 200, description = "Done (or nothing to do); no body."))
)]
pub async fn revoke(
    State(state): State<AppState>,
    user: CurrentUser,
    context: RequestContext,
    Json(body): Json<RevokeRequest>,
) -> ApiResult<StatusCode> {
    let Some(token) = body.token.filter(|t| !t.is_empty()) else {
        return Err(ApiError::validation(FieldErrors::from([("token".into(), "is required".into())])));
    };
    let tenant_id = user.tenant.id;
    let now = Timestamp::now();
    if let Some(claims) = crate::tokens::verify_access_token(&state, &token).await {
        if claims.tid == tenant_id.to_string() && claims.sub == user.user_id.to_string() {
            tokens::revoke_access_token(&state, tenant_id, &claims.jti, Timestamp(claims.exp), now).await?;
            let event = AuditEvent::new(Actor::User(user.user_id), "token.revoked", context)
                .in_tenant(tenant_id)
                .target("access_token", &claims.jti)
                .outcome("success");
            audit::record(state.store.pool(), event).await?;
        }
        return Ok(StatusCode::OK);
    }
    let digest = refresh_token_digest(&token);
    let Some(known) = store::sessions::find_refresh_token(state.store.pool(), tenant_id, &digest).await? else {
        return Ok(StatusCode::OK);
    };
    let mut tx = state.store.begin().await?;
    let session = store::sessions::find_session(&mut *tx, tenant_id, known.session_id).await?;
    if session.is_some_and(|s| s.user_id == user.user_id)
        && store::sessions::revoke_session(&mut *tx, tenant_id, known.session_id, "revoked", now).await?
    {
        let event = AuditEvent::new(Actor::User(user.user_id), "token.revoked", context)
            .in_tenant(tenant_id)
            .target("session", known.session_id)
            .outcome("success");
        audit::record(&mut *tx, event).await?;
    }
    tx.commit().await?;
    Ok(StatusCode::OK)
}
