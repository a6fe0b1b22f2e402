//! Email verification and password reset (seed: /auth/verify-otp, /auth/forgot-password,
//! /auth/reset-password; 003: /auth/password/request and /auth/password/reset): the endpoints.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::Schema;

use super::{at_least_one_of, body_with_rules, described};
use crate::app::AppState;
use crate::audit::RequestContext;
use crate::auth::recovery::{self, apply_reset, reset_link_base, send_reset_link};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::Json;
use crate::openapi::{self, schema::nullable};
use crate::settings;
use crate::tenants::{CurrentTenant, TenantHeaders};
use crate::users::{self, UserResponse};

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
    described(openapi::schema::nonblank(), "The user's email.")
}

fn verify_code_schema() -> Schema {
    nullable(described(openapi::schema::nonblank(), "The emailed code."))
}

fn verify_otp_schema() -> Schema {
    nullable(described(openapi::schema::nonblank(), "Alias of code."))
}

body_with_rules!(
    /// The body of `POST /auth/verify-otp`: [`VerifyOtpRequest`], with the code under either name.
    VerifyOtpBody = VerifyOtpRequest,
    &[at_least_one_of(&["code", "otp"])]
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
    described(openapi::schema::nonempty(), "From the emailed link.")
}

/// A confirmation in words.
#[derive(Serialize, ToSchema)]
pub struct Message {
    #[schema(value_type = String)]
    message: &'static str,
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
    let user = recovery::verify_email(&state, &tenant, &email, &code, context).await?;
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
    apply_reset(&state, &tenant, &token, &password, context)
        .await?
        .map_err(|problem| ApiError::validation(FieldErrors::from([("password".into(), problem.to_string())])))
}
