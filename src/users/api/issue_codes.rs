//! Administrator shortcuts for testing without SMTP (seed "Users"; `users:write`): issue a fresh email
//! verification code or password-reset token for a user and return it. They replace any
//! earlier code or token, exactly as the emailed ones do.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::audit::{self, AuditEvent, RequestContext};
use crate::auth::email_codes as codes;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::rbac::{Manage, UsersWrite};
use crate::store;
use crate::tenants::TenantHeaders;
use crate::types::Timestamp;
use crate::users::UserId;

/// A fresh email verification code.
#[derive(Serialize, ToSchema)]
pub struct IssuedVerificationCode {
    code: String,
    expires_at: Timestamp,
}

/// A fresh password-reset token.
#[derive(Serialize, ToSchema)]
pub struct IssuedResetToken {
    token: String,
    expires_at: Timestamp,
}

/// `GET /users/{id}/verification-code` (admin key + tenant) → `{code, expires_at}`.
#[utoipa::path(
    get,
    path = "/users/{id}/verification-code",
    tag = "users",
    summary = "Issues a fresh email verification code (testing without SMTP).",
    description = "Refused (403 forbidden) when the user holds a permission the caller lacks, unless the caller \
                   is the admin key or a tenant admin.\n\nReplaces any earlier code, exactly as the emailed one \
                   does. Audited.",
    security(("adminKey" = []), ("bearer" = ["users:write"])),
    params(TenantHeaders, ("id" = UserId, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "The code.", body = IssuedVerificationCode),
        (status = 404, description = "not_found"),
    )
)]
pub async fn issue_verification_code(
    State(state): State<AppState>,
    access: Manage<UsersWrite>,
    context: RequestContext,
    Path(id): Path<UserId>,
) -> ApiResult<Json<IssuedVerificationCode>> {
    let (code, expires_at) = issue(&state, access, context, id, Kind::VerificationCode).await?;
    Ok(Json(IssuedVerificationCode { code, expires_at }))
}

/// `GET /users/{id}/password-reset-token` (admin key + tenant) → `{token, expires_at}`.
#[utoipa::path(
    get,
    path = "/users/{id}/password-reset-token",
    tag = "users",
    summary = "Issues a fresh password-reset token (testing without SMTP).",
    description = "Refused (403 forbidden) when the user holds a permission the caller lacks, unless the caller \
                   is the admin key or a tenant admin.\n\nReplaces any earlier token, exactly as the emailed one \
                   does. Audited.",
    security(("adminKey" = []), ("bearer" = ["users:write"])),
    params(TenantHeaders, ("id" = UserId, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "The token.", body = IssuedResetToken),
        (status = 404, description = "not_found"),
    )
)]
pub async fn issue_password_reset_token(
    State(state): State<AppState>,
    access: Manage<UsersWrite>,
    context: RequestContext,
    Path(id): Path<UserId>,
) -> ApiResult<Json<IssuedResetToken>> {
    let (token, expires_at) = issue(&state, access, context, id, Kind::ResetToken).await?;
    Ok(Json(IssuedResetToken { token, expires_at }))
}

enum Kind {
    VerificationCode,
    ResetToken,
}

async fn issue(
    state: &AppState,
    access: Manage<UsersWrite>,
    context: RequestContext,
    id: UserId,
    kind: Kind,
) -> ApiResult<(String, Timestamp)> {
    let tenant = &access.tenant;
    let user =
        store::users::find_user_by_id(state.store.pool(), tenant.id, id).await?.ok_or(ApiError::NotFound("user"))?;
    access.may_act_on_user(state.store.pool(), user.id).await?;
    let now = Timestamp::now();
    let mut tx = state.store.begin().await?;
    let (action, issued) = match kind {
        Kind::VerificationCode => {
            ("email.verification_code_issued", codes::issue_verification_code(&mut tx, &user, now).await?)
        }
        Kind::ResetToken => ("password.reset_token_issued", codes::issue_reset_token(&mut tx, &user, now).await?),
    };
    let event = AuditEvent::new(access.actor.clone(), action, context).in_tenant(tenant.id).target("user", user.id);
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(issued)
}
