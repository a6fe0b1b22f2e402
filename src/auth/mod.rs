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
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa::openapi::{RefOr, Schema};

use self::bearer::CurrentUser;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::{Json, OptionalJson};
use crate::mfa::{self, api::MfaRequired, api::MfaSetupRequired, api::TokenResponseWithBackupCodes};
use crate::openapi::{self, schema::nullable};
use crate::settings::{self, TenantSettings};
use crate::store;
use crate::tenants::{CurrentTenant, Tenant, TenantHeaders};
use crate::tokens::refresh::Rotated;
use crate::tokens::{self, TokenLifetimes, TokenResponse, refresh_token_digest};
use crate::types::Session;
use crate::types::Timestamp;
use crate::users::{self, User, UserResponse, UserStatus};

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
    let amr = match mfa::after_password(&state, &tenant, &settings, &user, attempts, inline, &context).await? {
        mfa::NextStep::SignedIn { amr } => amr,
        mfa::NextStep::Challenge { mfa_token } => {
            return Ok(Json(MfaRequired { mfa_required: true, mfa_token }).into_response());
        }
        mfa::NextStep::Enrol { mfa_token } => {
            return Ok(Json(MfaSetupRequired { mfa_setup_required: true, mfa_token }).into_response());
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

/// The token answer; in session mode the refresh token moves from the body into the cookie,
/// which lives exactly as long as the token. `backup_codes` ride along when MFA enrolment
/// finished a sign-in.
pub(crate) fn token_answer(
    state: &AppState,
    issued: tokens::IssuedTokens,
    session_mode: bool,
    backup_codes: Option<Vec<String>>,
) -> Response {
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
    let mut response = match backup_codes {
        None => Json(tokens).into_response(),
        Some(backup_codes) => Json(TokenResponseWithBackupCodes::new(tokens, backup_codes)).into_response(),
    };
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

// ---- request bodies the derive cannot describe alone -------------------------------------

/// `"session"`, the only `mode` there is (utoipa's schema model has no `const`).
pub(crate) fn session_mode() -> Schema {
    openapi::schema::from_json(json!({ "type": "string", "enum": ["session"] }))
}

/// An optional `mode`.
pub(crate) fn optional_session_mode() -> Schema {
    nullable(session_mode())
}

/// `schema` with a description (`schema_with` leaves out the field's doc comment).
pub(crate) fn described(schema: Schema, description: &str) -> Schema {
    let mut schema = serde_json::to_value(schema).expect("a schema serialises");
    schema["description"] = json!(description);
    openapi::schema::from_json(schema)
}

/// A rule over an object's fields: at least one of `names` is there (and not `null`, which reads
/// as absent).
pub(crate) fn at_least_one_of(names: &[&str]) -> Value {
    let there =
        |name: &str| json!({ "type": "object", "required": [name], "properties": { name: { "type": "string" } } });
    json!({
        "description": format!("At least one of {}.", names.join(", ")),
        "anyOf": names.iter().map(|name| there(name)).collect::<Vec<_>>()
    })
}

/// A rule over an object's fields: at most one of `names` is there (absent or `null`: all the
/// others).
pub(crate) fn at_most_one_of(names: &[&str]) -> Value {
    let only = |kept: &str| {
        let absent: serde_json::Map<String, Value> = names
            .iter()
            .filter(|name| **name != kept)
            .map(|name| (name.to_string(), json!({ "type": "null" })))
            .collect();
        json!({ "type": "object", "properties": absent })
    };
    json!({
        "description": format!("At most one of {}.", names.join(", ")),
        "anyOf": names.iter().map(|name| only(name)).collect::<Vec<_>>()
    })
}

/// `fields` (an object schema) under `rules` over which of its fields come together, which the
/// derive cannot write: `allOf: [fields, rules…]`.
pub(crate) fn with_rules(fields: RefOr<Schema>, rules: &[Value]) -> RefOr<Schema> {
    let fields = serde_json::to_value(fields).expect("a schema serialises");
    let all: Vec<Value> = std::iter::once(fields).chain(rules.iter().cloned()).collect();
    RefOr::T(openapi::schema::from_json(json!({ "allOf": all })))
}

/// Documents a request body whose fields come under rules (see [`with_rules`]): `$body`, for
/// `request_body = $body`, is `$fields`'s derived schema with `$rules`, under `$fields`'s name.
macro_rules! body_with_rules {
    ($(#[$meta:meta])* $body:ident = $fields:ty, $rules:expr) => {
        $(#[$meta])*
        pub struct $body;

        impl utoipa::PartialSchema for $body {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
                $crate::auth::with_rules(<$fields as utoipa::PartialSchema>::schema(), $rules)
            }
        }

        impl utoipa::ToSchema for $body {
            fn name() -> std::borrow::Cow<'static, str> {
                <$fields as utoipa::ToSchema>::name()
            }
        }
    };
}
pub(crate) use body_with_rules;
