//! `/auth/*` for a tenant's users: register, login, refresh, logout, revoke (seed "Auth",
//! DESIGN §4–5). Every handler takes the tenant from its header.

pub mod bearer;
pub mod cookie;
pub mod email_codes;
pub mod recovery;
pub mod recovery_pages;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use self::bearer::CurrentUser;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::{Json, OptionalJson};
use crate::mfa;
use crate::settings::{self, TenantSettings};
use crate::store;
use crate::tenants::{CurrentTenant, Tenant};
use crate::tokens::refresh::Rotated;
use crate::tokens::{self, TokenLifetimes, refresh_token_digest};
use crate::types::Session;
use crate::types::Timestamp;
use crate::users::{self, User, UserResponse, UserStatus};

#[derive(Deserialize)]
pub struct RegisterRequest {
    email: Option<String>,
    password: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginRequest {
    email: Option<String>,
    password: Option<String>,
    /// `"session"`: the refresh token goes into an HttpOnly cookie instead of the body.
    mode: Option<String>,
    /// A TOTP code for a user with MFA, both steps at once (`totp_code` is an alias).
    otp: Option<String>,
    totp_code: Option<String>,
    /// Or one of the user's backup codes.
    backup_code: Option<String>,
}

#[derive(Default, Deserialize)]
pub struct RefreshRequest {
    refresh_token: Option<String>,
    mode: Option<String>,
}

#[derive(Default, Deserialize)]
pub struct LogoutRequest {
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
pub struct RevokeRequest {
    token: Option<String>,
}

/// `POST /auth/register` (anyone, when the tenant allows self-registration) → 201 with the user.
pub async fn register(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    context: RequestContext,
    Json(body): Json<RegisterRequest>,
) -> ApiResult<Response> {
    let settings = settings::load(&state.store, tenant.id).await?;
    if !settings.self_registration {
        return Err(ApiError::Forbidden("self-registration is disabled for this tenant".into()));
    }
    let mut fields = FieldErrors::new();
    let email = required(&mut fields, "email", body.email.as_deref());
    let password = required(&mut fields, "password", body.password.as_deref());
    if let Some(email) = email
        && let Err(why) = users::validate_email(email)
    {
        fields.insert("email".into(), why.into());
    }
    if let (Some(password), Some(email)) = (password, email)
        && let Err(why) = users::validate_password(password, email, &settings)
    {
        fields.insert("password".into(), why);
    }
    let name = body.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.chars().count() > 200 || n.chars().any(char::is_control)) {
        fields.insert("name".into(), "must be at most 200 characters, without control characters".into());
    }
    let (Some(email), Some(password), true) = (email, password, fields.is_empty()) else {
        return Err(ApiError::validation(fields));
    };

    let password_hash = state.passwords.hash(password).await?;
    let user = User::new(tenant.id, email, name, Some(password_hash), false);
    let mut tx = state.store.begin().await?;
    store::users::insert_user(&mut *tx, &user).await?;
    let event = AuditEvent::new(Actor::User(user.id), "user.registered", context)
        .in_tenant(tenant.id)
        .target("user", user.id)
        .outcome("success");
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    recovery::send_verification_code(&state, &tenant, &user).await?;
    Ok((StatusCode::CREATED, Json(UserResponse::from(&user))).into_response())
}

/// `POST /auth/login` (anyone) → `{access_token, refresh_token, token_type, expires_in}`; for a
/// user with MFA and no inline code `{mfa_required, mfa_token}`, and when the tenant requires MFA
/// of a user without it `{mfa_setup_required, mfa_token}` (see `mfa::api`).
///
/// An unknown email, a wrong password and a locked account answer the same 401
/// `invalid_credentials` after the same work (one Argon2id verify each).
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
    let amr = match mfa::after_password(&state, &tenant, &settings, &user, attempts, inline, &context).await? {
        mfa::NextStep::SignedIn { amr } => amr,
        mfa::NextStep::Challenge { mfa_token } => {
            return Ok(Json(serde_json::json!({ "mfa_required": true, "mfa_token": mfa_token })).into_response());
        }
        mfa::NextStep::Enrol { mfa_token } => {
            return Ok(Json(serde_json::json!({ "mfa_setup_required": true, "mfa_token": mfa_token })).into_response());
        }
    };
    let mut tx = state.store.begin().await?;
    let issued = open_session(&state, &mut tx, &settings, &user, amr, context).await?;
    tx.commit().await?;
    Ok(token_answer(&state, issued, session_mode, None))
}

/// Starts a session for a user who has just signed in (password, and second factor when they
/// have one) inside the caller's transaction, and issues its first tokens.
pub(crate) async fn open_session(
    state: &AppState,
    tx: &mut store::Tx,
    settings: &TenantSettings,
    user: &User,
    amr: &str,
    context: RequestContext,
) -> ApiResult<tokens::IssuedTokens> {
    let now = Timestamp::now();
    let session = Session::new(user, amr, settings, now);
    store::sessions::insert_session(&mut **tx, &session, context.ip.as_deref(), context.user_agent.as_deref(), None)
        .await?;
    store::users::record_login_success(&mut **tx, user.tenant_id, user.id, now).await?;
    let issued = tokens::issue_tokens(state, tx, &session, TokenLifetimes::of_tenant(settings), now).await?;
    let event = AuditEvent::new(Actor::User(user.id), "login.succeeded", context)
        .in_tenant(user.tenant_id)
        .target("session", session.id)
        .outcome("success")
        .details(serde_json::json!({ "amr": amr }));
    audit::record(&mut **tx, event).await?;
    Ok(issued)
}

/// A correct password: the user allowed to sign in, and the sign-in attempts counted in the
/// lockout window, this one included (a second factor sent with it is limited by them).
pub struct PasswordChecked {
    pub user: User,
    pub attempts: Option<i64>,
}

/// Checks an email and password for a sign-in (`/auth/login` and the hosted sign-in page) and
/// returns the user allowed to sign in. An unknown email, a wrong password and a locked account
/// answer the same `invalid_credentials` after the same work (one Argon2id verify each);
/// failures are audited. A password over the length any password may have is refused before
/// anything is counted or hashed.
pub async fn verify_password_login(
    state: &AppState,
    tenant: &Tenant,
    settings: &TenantSettings,
    email: &str,
    password: &str,
    context: &RequestContext,
) -> ApiResult<PasswordChecked> {
    crate::crypto::password::check_length(password)?;
    // A place for the hash first: a refusal for load must not count as a failed attempt.
    let slot = state.passwords.reserve()?;
    let now = Timestamp::now();
    let pool = state.store.pool();

    let user = store::users::find_user_by_email(pool, tenant.id, email).await?;
    // Count the attempt before the slow password check (see `count_login_attempt`). Unknown
    // emails run the same statement against an id that matches nothing: same work, same time.
    let attempt_id = user.as_ref().map_or_else(users::UserId::new, |u| u.id);
    let attempts =
        store::users::count_login_attempt(pool, tenant.id, attempt_id, settings.lockout_window_seconds, now).await?;
    let locked = users::over_lockout_threshold(attempts, settings);
    let stored_hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let password_ok = state.passwords.verify_in(slot, password, stored_hash).await?;
    let failure = |action: &'static str, user: Option<&User>| {
        let mut event =
            AuditEvent::new(Actor::Anonymous, action, context.clone()).in_tenant(tenant.id).outcome("failure");
        if let Some(user) = user {
            event = event.target("user", user.id);
        }
        event
    };
    let Some(user) = user else {
        audit::record(pool, failure("login.failed", None)).await?;
        return Err(ApiError::InvalidCredentials);
    };
    if locked {
        audit::record(pool, failure("login.locked", Some(&user))).await?;
        return Err(ApiError::InvalidCredentials);
    }
    if !password_ok {
        audit::record(pool, failure("login.failed", Some(&user))).await?;
        return Err(ApiError::InvalidCredentials);
    }
    // A correct password forgets the counted attempts: here for the refusals below, and in
    // `record_login_success` for a login that goes through (one write either way).
    let refuse_correct_password =
        user.status == UserStatus::Suspended || (settings.require_verified_email && !user.email_verified);
    if refuse_correct_password {
        store::users::clear_login_attempts(pool, tenant.id, user.id).await?;
    }
    if user.status == UserStatus::Suspended {
        audit::record(pool, failure("login.failed", Some(&user)).details(serde_json::json!({ "reason": "suspended" })))
            .await?;
        return Err(ApiError::UserSuspended);
    }
    if settings.require_verified_email && !user.email_verified {
        audit::record(
            pool,
            failure("login.failed", Some(&user)).details(serde_json::json!({ "reason": "unverified" })),
        )
        .await?;
        return Err(ApiError::EmailNotVerified);
    }
    Ok(PasswordChecked { user, attempts })
}

/// `POST /auth/refresh` (holder of a refresh token, in the body or the session cookie) → a new
/// pair; the presented token is dead from then on. Presenting a rotated token again ends the
/// whole session (RFC 9700 §4.14.2), unless it comes within the tenant's grace window.
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
    Ok(token_answer(&state, issued, mode_requested || from_cookie, None))
}

/// `POST /auth/logout` (Bearer; or the session cookie; or `{refresh_token}`) → 204: the
/// session ends, its refresh tokens die, its access tokens are refused from then on.
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

/// The token answer; in session mode the refresh token moves from the body into the cookie,
/// which lives exactly as long as the token. `backup_codes` ride along when MFA enrolment
/// finished a sign-in.
pub(crate) fn token_answer(
    state: &AppState,
    issued: tokens::IssuedTokens,
    session_mode: bool,
    backup_codes: Option<Vec<String>>,
) -> Response {
    #[derive(serde::Serialize)]
    struct Answer {
        #[serde(flatten)]
        tokens: tokens::TokenResponse,
        #[serde(skip_serializing_if = "Option::is_none")]
        backup_codes: Option<Vec<String>>,
    }
    let mut tokens = issued.response;
    let cookie = match (session_mode, issued.refresh_token) {
        (true, Some(refresh_token)) => {
            tokens.refresh_token = None;
            Some(cookie::set_refresh_cookie(&refresh_token, issued.refresh_max_age, state.config.is_production()))
        }
        (true, None) => {
            tokens.refresh_token = None;
            None
        }
        (false, _) => None,
    };
    let mut response = Json(Answer { tokens, backup_codes }).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// A required, non-empty string field; records "is required" otherwise.
pub(crate) fn required<'a>(fields: &mut FieldErrors, name: &str, value: Option<&'a str>) -> Option<&'a str> {
    match value {
        Some(v) if !v.trim().is_empty() => Some(v),
        _ => {
            fields.insert(name.into(), "is required".into());
            None
        }
    }
}

/// `mode`: absent, or `"session"` for the cookie mode.
pub(crate) fn parse_mode(fields: &mut FieldErrors, mode: Option<&str>) -> bool {
    match mode {
        None => false,
        Some("session") => true,
        Some(_) => {
            fields.insert("mode".into(), "must be \"session\" when given".into());
            false
        }
    }
}
