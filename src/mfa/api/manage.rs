//! A second factor that is on: turning it off (`POST /auth/mfa/disable`), new backup codes
//! (`POST /auth/mfa/backup-codes`) and the admin reset (`DELETE /users/{id}/mfa`).

use axum::extract::State;
use axum::http::StatusCode;
use utoipa::ToSchema;
use utoipa::openapi::Schema;

use super::{BackupCodes, MfaRequest, current_code, current_user_row, optional_nonblank, required_factor, totp_alias};
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::auth::{at_least_one_of, at_most_one_of, bearer, body_with_rules};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::{Json, Path};
use crate::mfa;
use crate::rbac::{Manage, UsersWrite};
use crate::settings;
use crate::store;
use crate::tenants::TenantHeaders;
use crate::types::Timestamp;
use crate::users::UserId;

// The fields of `POST /auth/mfa/disable` (see `MfaDisableBody`).
#[derive(ToSchema)]
pub struct MfaDisableRequest {
    #[schema(schema_with = current_code)]
    pub totp_code: Option<String>,
    #[schema(schema_with = totp_alias)]
    pub otp: Option<String>,
    #[schema(schema_with = or_backup_code)]
    pub backup_code: Option<String>,
}

body_with_rules!(
    /// The body of `POST /auth/mfa/disable`: [`MfaDisableRequest`], with one second factor.
    MfaDisableBody = MfaDisableRequest,
    &[
        at_least_one_of(&["totp_code", "otp", "backup_code"]),
        at_most_one_of(&["otp", "totp_code", "backup_code"])
    ]
);

// The fields of `POST /auth/mfa/backup-codes` (see `MfaTotpBody`).
#[derive(ToSchema)]
pub struct MfaTotpRequest {
    #[schema(schema_with = current_code)]
    pub totp_code: Option<String>,
    #[schema(schema_with = totp_alias)]
    pub otp: Option<String>,
}

body_with_rules!(
    /// The body of `POST /auth/mfa/backup-codes`: [`MfaTotpRequest`], with one TOTP code.
    MfaTotpBody = MfaTotpRequest,
    &[at_least_one_of(&["totp_code", "otp"]), at_most_one_of(&["totp_code", "otp"])]
);

fn or_backup_code() -> Schema {
    optional_nonblank("Or a backup code.")
}

/// `POST /auth/mfa/disable {totp_code | backup_code}` (Bearer) → 204: the authenticator and
/// backup codes are gone, and every other session of the user ends.
#[utoipa::path(
    post,
    path = "/auth/mfa/disable",
    operation_id = "mfa_disable",
    tag = "mfa",
    summary = "Turns MFA off with a current code.",
    description = "The authenticator and backup codes are gone, and every other session of the user ends.",
    security(("bearer" = [])),
    params(TenantHeaders),
    request_body = MfaDisableBody,
    responses(
        (status = 204, description = "MFA is off."),
        (status = 401, description = "invalid_otp"),
        (status = 409, description = "conflict"),
    )
)]
pub async fn disable(
    State(state): State<AppState>,
    current: bearer::CurrentUser,
    context: RequestContext,
    Json(body): Json<MfaRequest>,
) -> ApiResult<StatusCode> {
    let mut fields = FieldErrors::new();
    let Some(factor) = required_factor(&mut fields, &body, true) else { return Err(ApiError::validation(fields)) };
    let tenant = &current.tenant;
    let user = current_user_row(&state, &current).await?;
    if !user.mfa_enabled {
        return Err(ApiError::Conflict("MFA is not enabled".into()));
    }
    let settings = settings::load(&state.store, tenant.id).await?;
    mfa::verify(&state, tenant, &settings, &user, factor, &context).await?;
    let now = Timestamp::now();
    let mut tx = state.store.begin().await?;
    store::mfa::delete_second_factors(&mut tx, tenant.id, user.id).await?;
    store::mfa::set_mfa_enabled(&mut *tx, tenant.id, user.id, false, now).await?;
    let ended = store::sessions::revoke_user_sessions(
        &mut *tx,
        tenant.id,
        user.id,
        Some(current.session_id),
        "mfa_disabled",
        now,
    )
    .await?;
    let event = AuditEvent::new(Actor::User(user.id), "mfa.disabled", context)
        .in_tenant(tenant.id)
        .target("user", user.id)
        .outcome("success")
        .details(serde_json::json!({ "sessions_ended": ended }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /auth/mfa/backup-codes {totp_code}` (Bearer) → `{backup_codes}`: ten new codes; the
/// old ones die.
#[utoipa::path(
    post,
    path = "/auth/mfa/backup-codes",
    tag = "mfa",
    summary = "Replaces the backup codes.",
    description = "Ten new codes; the old ones die. Needs a TOTP code (not a backup code).",
    security(("bearer" = [])),
    params(TenantHeaders),
    request_body = MfaTotpBody,
    responses(
        (status = 200, description = "The new codes, shown once.", body = BackupCodes),
        (status = 401, description = "invalid_otp"),
        (status = 409, description = "conflict"),
    )
)]
pub async fn regenerate_backup_codes(
    State(state): State<AppState>,
    current: bearer::CurrentUser,
    context: RequestContext,
    Json(body): Json<MfaRequest>,
) -> ApiResult<Json<BackupCodes>> {
    let mut fields = FieldErrors::new();
    let Some(factor) = required_factor(&mut fields, &body, false) else { return Err(ApiError::validation(fields)) };
    let tenant = &current.tenant;
    let user = current_user_row(&state, &current).await?;
    if !user.mfa_enabled {
        return Err(ApiError::Conflict("MFA is not enabled".into()));
    }
    let settings = settings::load(&state.store, tenant.id).await?;
    mfa::verify(&state, tenant, &settings, &user, factor, &context).await?;
    let (codes, digests) = mfa::new_backup_codes(&state, tenant.id, user.id);
    let mut tx = state.store.begin().await?;
    store::mfa::replace_backup_codes(&mut tx, tenant.id, user.id, &digests, Timestamp::now()).await?;
    let event = AuditEvent::new(Actor::User(user.id), "mfa.backup_codes_replaced", context)
        .in_tenant(tenant.id)
        .target("user", user.id)
        .outcome("success");
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(Json(BackupCodes { backup_codes: codes }))
}

/// `DELETE /users/{id}/mfa` (`users:write`) → 204: the user's second factor is removed (they
/// can sign in with their password and enrol again) and every session of theirs ends.
#[utoipa::path(
    delete,
    path = "/users/{id}/mfa",
    tag = "mfa",
    summary = "Removes a user's second factor.",
    description = "Refused (403 forbidden) when the user holds a permission the caller lacks, unless the caller \
                   is the admin key or a tenant admin.\n\nThey can sign in with their password and enrol again; \
                   every session of theirs ends.",
    security(("adminKey" = []), ("bearer" = ["users:write"])),
    params(TenantHeaders, ("id" = UserId, Path, description = "The user's id.")),
    responses((status = 204, description = "Removed."), (status = 404, description = "not_found"))
)]
pub async fn reset_user_mfa(
    State(state): State<AppState>,
    access: Manage<UsersWrite>,
    context: RequestContext,
    Path(id): Path<UserId>,
) -> ApiResult<StatusCode> {
    let tenant_id = access.tenant.id;
    let now = Timestamp::now();
    access.may_act_on_user(state.store.pool(), id).await?;
    let mut tx = state.store.begin().await?;
    // The factor rows first, then the user row: the order `confirm` locks them in.
    let had = store::mfa::delete_second_factors(&mut tx, tenant_id, id).await?;
    if !store::mfa::set_mfa_enabled(&mut *tx, tenant_id, id, false, now).await? {
        return Err(ApiError::NotFound("user"));
    }
    let ended = store::sessions::revoke_user_sessions(&mut *tx, tenant_id, id, None, "mfa_reset", now).await?;
    let event = AuditEvent::new(access.actor, "mfa.reset", context)
        .in_tenant(tenant_id)
        .target("user", id)
        .outcome("success")
        .details(serde_json::json!({ "had_authenticator": had, "sessions_ended": ended }));
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
