//! `/users/me`: the signed-in user's own account.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::auth::bearer::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::Json;
use crate::settings;
use crate::store;
use crate::tenants::TenantHeaders;
use crate::types::Timestamp;
use crate::users::{UserResponse, validate_password};

/// `GET /users/me` (Bearer) → the user.
#[utoipa::path(
    get,
    path = "/users/me",
    tag = "users",
    summary = "The signed-in user.",
    security(("bearer" = [])),
    params(TenantHeaders),
    responses((status = 200, description = "The user.", body = UserResponse))
)]
pub async fn get_me(State(state): State<AppState>, me: CurrentUser) -> ApiResult<Json<UserResponse>> {
    let user = store::users::find_user_by_id(state.store.pool(), me.tenant.id, me.user_id).await?;
    // The session is live, so the user exists; a concurrent deletion reads as a dead token.
    user.map(|u| Json(UserResponse::from(&u))).ok_or(ApiError::InvalidToken)
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    #[schema(required, value_type = String)]
    current_password: Option<String>,
    /// Checked against the password policy and history.
    #[schema(required, value_type = String)]
    new_password: Option<String>,
}

/// `PUT /users/me/password` (Bearer) `{current_password, new_password}` → 204; every other
/// session of the user ends. A wrong current password counts as a failed login.
#[utoipa::path(
    put,
    path = "/users/me/password",
    tag = "users",
    summary = "Changes the signed-in user's password.",
    description = "Every other session of the user ends. A wrong current password counts as a failed login.",
    security(("bearer" = [])),
    params(TenantHeaders),
    request_body = ChangePasswordRequest,
    responses((status = 204, description = "Changed."))
)]
pub async fn change_my_password(
    State(state): State<AppState>,
    me: CurrentUser,
    context: RequestContext,
    Json(body): Json<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let tenant_id = me.tenant.id;
    let user = store::users::find_user_by_id(state.store.pool(), tenant_id, me.user_id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let settings = settings::load(&state.store, tenant_id).await?;
    let mut fields = FieldErrors::new();
    let current = body.current_password.filter(|p| !p.is_empty());
    let new = body.new_password.filter(|p| !p.is_empty());
    match &current {
        None => _ = fields.insert("current_password".into(), "is required".into()),
        // Refused before it counts as an attempt or costs a hash.
        Some(current) if let Err(too_long) = crate::crypto::password::check_length(current) => {
            fields.insert("current_password".into(), too_long.to_string());
        }
        Some(_) => {}
    }
    match &new {
        None => _ = fields.insert("new_password".into(), "is required".into()),
        Some(new) => {
            if let Err(why) = validate_password(new, &user.email, &settings) {
                fields.insert("new_password".into(), why.to_string());
            }
        }
    }
    let (Some(current), Some(new), true) = (current, new, fields.is_empty()) else {
        return Err(ApiError::validation(fields));
    };
    let now = Timestamp::now();
    let slot = state.passwords.reserve()?;
    // Same guard as login: a stolen access token must not become a password-guessing oracle.
    let window = settings.lockout_window_seconds;
    let key = crate::auth::attempt_key(&state, tenant_id, &user.email);
    let attempts = store::login_attempts::count(state.store.pool(), tenant_id, &key, window, now).await?;
    let correct = state.passwords.verify_in(slot, &current, user.password_hash.as_deref()).await?;
    if !correct || crate::users::over_lockout_threshold(Some(attempts.count), &settings) {
        return Err(ApiError::validation(FieldErrors::from([("current_password".into(), "is incorrect".into())])));
    }
    if let Err(why) = crate::users::check_password_history(&state, &settings, &user, &new).await? {
        return Err(ApiError::validation(FieldErrors::from([("new_password".into(), why.to_string())])));
    }
    let hash = state.passwords.hash(&new).await?;

    let mut tx = state.store.begin().await?;
    store::users::archive_password(&mut tx, tenant_id, user.id, now).await?;
    store::users::update_password_hash(&mut *tx, tenant_id, user.id, &hash, now).await?;
    // A new password ends the lockout of the address.
    store::login_attempts::clear(&mut *tx, tenant_id, &key).await?;
    let ended = store::sessions::revoke_user_sessions(
        &mut *tx,
        tenant_id,
        user.id,
        Some(me.session_id),
        "password_changed",
        now,
    )
    .await?;
    let event = AuditEvent::new(Actor::User(user.id), "password.changed", context)
        .in_tenant(tenant_id)
        .target("user", user.id)
        .outcome("success")
        .details(serde_json::json!({ "sessions_ended": ended }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
