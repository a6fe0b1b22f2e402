//! Email verification and password reset (seed: /auth/verify-otp, /auth/forgot-password,
//! /auth/reset-password; 003: /auth/password/request and /auth/password/reset).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::Schema;

use super::email_codes::{self as codes, EMAIL_VERIFICATION, MAX_CODE_ATTEMPTS, PASSWORD_RESET};
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::config::CorsOrigins;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::Json;
use crate::mail::OutgoingEmail;
use crate::openapi::{self, schema::nullable};
use crate::settings;
use crate::store;
use crate::tenants::{CurrentTenant, Tenant, TenantHeaders};
use crate::types::Timestamp;
use crate::users::{self, User, UserResponse, UserStatus};

#[derive(Deserialize, ToSchema)]
pub struct VerifyOtpRequest {
    #[schema(required, schema_with = verify_email_schema)]
    email: Option<String>,
    #[schema(schema_with = verify_code_schema)]
    code: Option<String>,
    /// Alias of `code`.
    #[schema(schema_with = verify_otp_schema)]
    otp: Option<String>,
}

fn verify_email_schema() -> Schema {
    super::described(openapi::schema::nonblank(), "The user's email.")
}

fn verify_code_schema() -> Schema {
    nullable(super::described(openapi::schema::nonblank(), "The emailed code."))
}

fn verify_otp_schema() -> Schema {
    nullable(super::described(openapi::schema::nonblank(), "Alias of code."))
}

super::body_with_rules!(
    /// The body of `POST /auth/verify-otp`: [`VerifyOtpRequest`], with the code under either name.
    VerifyOtpBody = VerifyOtpRequest,
    &[super::at_least_one_of(&["code", "otp"])]
);

#[derive(Deserialize, ToSchema)]
pub struct PasswordRequest {
    #[schema(required, schema_with = openapi::schema::email)]
    email: Option<String>,
    #[schema(schema_with = reset_url_schema)]
    reset_url: Option<String>,
}

fn reset_url_schema() -> Schema {
    openapi::schema::from_json(json!({
        "type": ["string", "null"],
        "description": "Where the link points: an absolute URL on an origin the tenant or operator trusts \
                        (else 400 invalid_payload). Empty or null: the tenant's reset_url, else ovlt's page."
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    #[schema(required, schema_with = reset_token_schema)]
    token: Option<String>,
    #[schema(required, schema_with = openapi::schema::new_password)]
    password: Option<String>,
}

fn reset_token_schema() -> Schema {
    super::described(openapi::schema::nonempty(), "From the emailed link.")
}

/// A confirmation in words.
#[derive(Serialize, ToSchema)]
pub struct Message {
    #[schema(value_type = String)]
    message: &'static str,
}

/// Emails the user a fresh verification code (after registration, or on request).
pub async fn send_verification_code(state: &AppState, tenant: &Tenant, user: &User) -> ApiResult<()> {
    let mut tx = state.store.begin().await?;
    let (code, _) = codes::issue_verification_code(&mut tx, user, Timestamp::now()).await?;
    tx.commit().await?;
    state.mailer.send_in_background(OutgoingEmail {
        to: user.email.clone(),
        subject: format!("Your {} verification code", tenant.name),
        body: format!(
            "Your verification code is {code}.\n\nIt expires in {} minutes. If you did not create an account, ignore this email.\n",
            codes::VERIFICATION_CODE_TTL_SECONDS / 60
        ),
    });
    Ok(())
}

/// `POST /auth/verify-otp` `{email, code}` → 200 with the user, now verified. A wrong, used,
/// expired or exhausted (5 wrong tries) code, or an unknown email, → 400 `invalid_code`.
#[utoipa::path(
    post,
    path = "/auth/verify-otp",
    tag = "auth",
    summary = "Verifies the user's email with the emailed code.",
    params(TenantHeaders),
    request_body = VerifyOtpBody,
    responses(
        (status = 200, description = "The user, now verified.", body = UserResponse),
        (status = 400, description = "invalid_code"),
    )
)]
pub async fn verify_otp(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    context: RequestContext,
    Json(body): Json<VerifyOtpRequest>,
) -> ApiResult<Json<UserResponse>> {
    let mut fields = FieldErrors::new();
    let email = body.email.filter(|e| !e.trim().is_empty());
    let code = body.code.or(body.otp).filter(|c| !c.trim().is_empty());
    if email.is_none() {
        fields.insert("email".into(), "is required".into());
    }
    if code.is_none() {
        fields.insert("code".into(), "is required".into());
    }
    let (Some(email), Some(code)) = (email, code) else { return Err(ApiError::validation(fields)) };
    let now = Timestamp::now();
    let pool = state.store.pool();

    let user = store::users::find_user_by_email(pool, tenant.id, &email).await?.ok_or(ApiError::InvalidCode)?;
    let live = store::user_codes::find_live_code_for_user(pool, tenant.id, user.id, EMAIL_VERIFICATION, now)
        .await?
        .ok_or(ApiError::InvalidCode)?;
    if !store::user_codes::reserve_code_attempt(pool, tenant.id, &live.id, MAX_CODE_ATTEMPTS, now).await? {
        return Err(ApiError::InvalidCode);
    }
    if !codes::digests_match(&codes::verification_code_digest(&user, code.trim()), &live.code_hash) {
        return Err(ApiError::InvalidCode);
    }
    let mut tx = state.store.begin().await?;
    if !store::user_codes::consume_code(&mut *tx, tenant.id, &live.id, now).await? {
        return Err(ApiError::InvalidCode);
    }
    store::users::mark_email_verified(&mut *tx, tenant.id, user.id, now).await?;
    let event = AuditEvent::new(Actor::User(user.id), "email.verified", context)
        .in_tenant(tenant.id)
        .target("user", user.id)
        .outcome("success");
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    let user = store::users::find_user_by_id(pool, tenant.id, user.id).await?.ok_or(ApiError::InvalidCode)?;
    Ok(Json(UserResponse::from(&user)))
}

/// `POST /auth/forgot-password` `{email, reset_url?}` → 200 for every well-formed request.
#[utoipa::path(
    post,
    path = "/auth/forgot-password",
    operation_id = "auth_forgot_password",
    tag = "auth",
    summary = "Emails a password-reset link (answers 200).",
    description = "The same answer, at the same speed, whether or not the email is registered.",
    params(TenantHeaders),
    request_body = PasswordRequest,
    responses((status = 200, description = "Accepted.", body = Message))
)]
pub async fn forgot_password(
    state: State<AppState>,
    tenant: CurrentTenant,
    context: RequestContext,
    body: Json<PasswordRequest>,
) -> ApiResult<Json<Message>> {
    request_reset(state, tenant, context, body).await?;
    Ok(Json(Message { message: "if the address is registered, a reset link is on its way" }))
}

/// `POST /auth/password/request` `{email, reset_url?}` → 204 for every well-formed request.
#[utoipa::path(
    post,
    path = "/auth/password/request",
    tag = "auth",
    summary = "Emails a password-reset link (answers 204).",
    description = "The same answer, at the same speed, whether or not the email is registered.",
    params(TenantHeaders),
    request_body = PasswordRequest,
    responses((status = 204, description = "Accepted."))
)]
pub async fn password_request(
    state: State<AppState>,
    tenant: CurrentTenant,
    context: RequestContext,
    body: Json<PasswordRequest>,
) -> ApiResult<StatusCode> {
    request_reset(state, tenant, context, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Validates the request, then does the rest in the background: the answer and its timing are
/// the same whether or not the email is registered.
async fn request_reset(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    context: RequestContext,
    Json(body): Json<PasswordRequest>,
) -> ApiResult<()> {
    let mut fields = FieldErrors::new();
    let email = body.email.map(|e| e.trim().to_string()).filter(|e| !e.is_empty());
    match &email {
        None => _ = fields.insert("email".into(), "is required".into()),
        Some(email) => {
            if let Err(why) = users::validate_email(email) {
                fields.insert("email".into(), why.into());
            }
        }
    }
    let settings = settings::load(&state.store, tenant.id).await?;
    let base = match reset_link_base(&state, &tenant, &settings, body.reset_url.as_deref()) {
        Ok(base) => base,
        Err(why) => {
            fields.insert("reset_url".into(), why.into());
            String::new()
        }
    };
    let (Some(email), true) = (email, fields.is_empty()) else { return Err(ApiError::validation(fields)) };

    tokio::spawn(async move {
        if let Err(e) = send_reset_link(&state, &tenant, &email, &base, context).await {
            tracing::error!(error = %e, tenant.id = %tenant.id, "password reset request failed");
        }
    });
    Ok(())
}

pub(super) async fn send_reset_link(
    state: &AppState,
    tenant: &Tenant,
    email: &str,
    base: &str,
    context: RequestContext,
) -> ApiResult<()> {
    let Some(user) = store::users::find_user_by_email(state.store.pool(), tenant.id, email).await? else {
        return Ok(());
    };
    if user.status != UserStatus::Active {
        return Ok(());
    }
    let now = Timestamp::now();
    let mut tx = state.store.begin().await?;
    let (token, _) = codes::issue_reset_token(&mut tx, &user, now).await?;
    let event = AuditEvent::new(Actor::Anonymous, "password.reset_requested", context)
        .in_tenant(tenant.id)
        .target("user", user.id)
        .outcome("success");
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    let separator = if base.contains('?') { '&' } else { '?' };
    state.mailer.send_in_background(OutgoingEmail {
        to: user.email.clone(),
        subject: format!("Reset your {} password", tenant.name),
        body: format!(
            "Someone asked to reset the password of this account. To choose a new one, open:\n\n\
             {base}{separator}token={token}\n\nThe link works once, within {} minutes. \
             If it was not you, ignore this email.\n",
            codes::RESET_TOKEN_TTL_SECONDS / 60
        ),
    });
    Ok(())
}

/// Where reset links point: the request's `reset_url` when it is on an origin the tenant or the
/// operator trusts (otherwise anyone could have a victim's token mailed to their own site),
/// else the tenant's `reset_url`, else ovlt's own page.
fn reset_link_base(
    state: &AppState,
    tenant: &Tenant,
    settings: &settings::TenantSettings,
    requested: Option<&str>,
) -> Result<String, &'static str> {
    let default = settings.reset_url.clone().unwrap_or_else(|| hosted_reset_page(state, tenant));
    let Some(requested) = requested.map(str::trim).filter(|u| !u.is_empty()) else { return Ok(default) };
    let origin = origin_of(requested).ok_or("must be an absolute http(s) URL")?;
    let mut trusted: Vec<String> = settings.reset_url.iter().filter_map(|u| origin_of(u)).collect();
    trusted.push(origin_of(&state.config.issuer).unwrap_or_default());
    if let CorsOrigins::List(list) = &state.config.cors_origins {
        trusted.extend(list.iter().cloned());
    }
    if trusted.contains(&origin) { Ok(requested.to_string()) } else { Err("is not on a trusted origin") }
}

/// ovlt's own reset page for the tenant (`GET /oauth/reset-password`).
pub(super) fn hosted_reset_page(state: &AppState, tenant: &Tenant) -> String {
    let slug: String = form_urlencoded::byte_serialize(tenant.slug.as_bytes()).collect();
    format!("{}/oauth/reset-password?tenant={slug}", state.config.issuer)
}

/// `scheme://host[:port]` of an absolute http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().filter(|a| !a.is_empty() && !a.contains('@'))?;
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// `POST /auth/reset-password` `{token, password}` → 200; every session of the user ends.
#[utoipa::path(
    post,
    path = "/auth/reset-password",
    operation_id = "auth_reset_password",
    tag = "auth",
    summary = "Sets a new password with a reset token (answers 200).",
    description = "Every session of the user ends.",
    params(TenantHeaders),
    request_body = PasswordResetRequest,
    responses(
        (status = 200, description = "Changed.", body = Message),
        (status = 400, description = "invalid_token"),
    )
)]
pub async fn reset_password(
    state: State<AppState>,
    tenant: CurrentTenant,
    context: RequestContext,
    body: Json<PasswordResetRequest>,
) -> ApiResult<Json<Message>> {
    reset(state, tenant, context, body).await?;
    Ok(Json(Message { message: "password changed" }))
}

/// `POST /auth/password/reset` `{token, password}` → 204; every session of the user ends.
#[utoipa::path(
    post,
    path = "/auth/password/reset",
    tag = "auth",
    summary = "Sets a new password with a reset token (answers 204).",
    description = "Every session of the user ends.",
    params(TenantHeaders),
    request_body = PasswordResetRequest,
    responses((status = 204, description = "Changed."), (status = 400, description = "invalid_token"))
)]
pub async fn password_reset(
    state: State<AppState>,
    tenant: CurrentTenant,
    context: RequestContext,
    body: Json<PasswordResetRequest>,
) -> ApiResult<StatusCode> {
    reset(state, tenant, context, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reset(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    context: RequestContext,
    Json(body): Json<PasswordResetRequest>,
) -> ApiResult<()> {
    let mut fields = FieldErrors::new();
    let token = body.token.filter(|t| !t.is_empty());
    let password = body.password.filter(|p| !p.is_empty());
    if token.is_none() {
        fields.insert("token".into(), "is required".into());
    }
    if password.is_none() {
        fields.insert("password".into(), "is required".into());
    }
    let (Some(token), Some(password)) = (token, password) else { return Err(ApiError::validation(fields)) };
    apply_reset(&state, &tenant, &token, &password, context).await
}

/// Spends a reset token on a new password (the tenant's policy and history apply); every session
/// of the user ends. Shared by the API and the hosted reset page.
pub(super) async fn apply_reset(
    state: &AppState,
    tenant: &Tenant,
    token: &str,
    password: &str,
    context: RequestContext,
) -> ApiResult<()> {
    let now = Timestamp::now();
    let pool = state.store.pool();
    let live =
        store::user_codes::find_live_code_by_hash(pool, tenant.id, PASSWORD_RESET, &codes::hex_sha256(token), now)
            .await?
            .ok_or(ApiError::InvalidResetToken)?;
    let user =
        store::users::find_user_by_id(pool, tenant.id, live.user_id).await?.ok_or(ApiError::InvalidResetToken)?;
    let settings = settings::load(&state.store, tenant.id).await?;
    if let Err(why) = users::validate_password(password, &user.email, &settings) {
        return Err(ApiError::validation(FieldErrors::from([("password".into(), why)])));
    }
    if let Err(why) = users::check_password_history(state, &settings, &user, password).await? {
        return Err(ApiError::validation(FieldErrors::from([("password".into(), why)])));
    }
    let hash = state.passwords.hash(password).await?;

    let mut tx = state.store.begin().await?;
    if !store::user_codes::consume_code(&mut *tx, tenant.id, &live.id, now).await? {
        return Err(ApiError::InvalidResetToken);
    }
    store::users::archive_password(&mut tx, tenant.id, user.id, now).await?;
    store::users::update_password_hash(&mut *tx, tenant.id, user.id, &hash, now).await?;
    let ended =
        store::sessions::revoke_user_sessions(&mut *tx, tenant.id, user.id, None, "password_reset", now).await?;
    let event = AuditEvent::new(Actor::User(user.id), "password.reset", context)
        .in_tenant(tenant.id)
        .target("user", user.id)
        .outcome("success")
        .details(json!({ "sessions_ended": ended }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(())
}
