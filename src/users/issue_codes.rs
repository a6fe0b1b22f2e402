//! Administrator shortcuts for testing without SMTP (seed "Users"; `users:write`): issue a fresh email
//! verification code or password-reset token for a user and return it. They replace any
//! earlier code or token, exactly as the emailed ones do.

use axum::extract::State;
use serde_json::{Value, json};

use super::UserId;
use crate::app::AppState;
use crate::audit::{self, AuditEvent, RequestContext};
use crate::auth::email_codes as codes;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::rbac::{Manage, UsersWrite};
use crate::store;
use crate::types::Timestamp;

/// `GET /users/{id}/verification-code` (admin key + tenant) → `{code, expires_at}`.
pub async fn issue_verification_code(
    State(state): State<AppState>,
    access: Manage<UsersWrite>,
    context: RequestContext,
    Path(id): Path<UserId>,
) -> ApiResult<Json<Value>> {
    issue(&state, access, context, id, Kind::VerificationCode).await
}

/// `GET /users/{id}/password-reset-token` (admin key + tenant) → `{token, expires_at}`.
pub async fn issue_password_reset_token(
    State(state): State<AppState>,
    access: Manage<UsersWrite>,
    context: RequestContext,
    Path(id): Path<UserId>,
) -> ApiResult<Json<Value>> {
    issue(&state, access, context, id, Kind::ResetToken).await
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
) -> ApiResult<Json<Value>> {
    let tenant = &access.tenant;
    let user =
        store::users::find_user_by_id(state.store.pool(), tenant.id, id).await?.ok_or(ApiError::NotFound("user"))?;
    access.may_act_on_user(state.store.pool(), user.id).await?;
    let now = Timestamp::now();
    let mut tx = state.store.begin().await?;
    let (field, action, (secret, expires_at)) = match kind {
        Kind::VerificationCode => {
            ("code", "email.verification_code_issued", codes::issue_verification_code(&mut tx, &user, now).await?)
        }
        Kind::ResetToken => {
            ("token", "password.reset_token_issued", codes::issue_reset_token(&mut tx, &user, now).await?)
        }
    };
    let event = AuditEvent::new(access.actor.clone(), action, context).in_tenant(tenant.id).target("user", user.id);
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(Json(json!({ field: secret, "expires_at": expires_at })))
}
