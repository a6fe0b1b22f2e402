//! `/auth/mfa/*` (seed "Auth" + DESIGN §4) and the admin reset `DELETE /users/{id}/mfa`.
//!
//! Enrolment is two steps: `setup` makes a pending authenticator, `confirm` proves the user's app
//! has it and turns MFA on. Both take a Bearer token, or — when the tenant requires MFA of a user
//! who has none — the `mfa_token` their login answered, and `confirm` then finishes that login.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::Schema;

use super::{AMR_WITH_SECOND_FACTOR, Factor, PURPOSE_ENROL, PURPOSE_VERIFY};
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::auth::{self, at_least_one_of, at_most_one_of, bearer, body_with_rules, described};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::{Json, OptionalJson, Path};
use crate::openapi::schema::{from_json, nonblank, nullable};
use crate::rbac::{Manage, UsersWrite};
use crate::settings;
use crate::store;
use crate::tenants::{CurrentTenant, Tenant, TenantHeaders};
use crate::tokens::TokenResponse;
use crate::types::Timestamp;
use crate::users::{self, User, UserId};

#[derive(Default, Deserialize)]
pub struct MfaRequest {
    totp_code: Option<String>,
    /// Alias of `totp_code`.
    otp: Option<String>,
    backup_code: Option<String>,
    mfa_token: Option<String>,
    /// At the challenge: may name the user, and must then be the `mfa_token`'s user.
    email: Option<String>,
    mode: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = MfaSetup)]
pub struct SetupAnswer {
    /// The TOTP secret, base32.
    secret: String,
    /// A PNG of otpauth_url as a data: URL.
    qr_code: String,
    /// otpauth://totp/… for authenticator apps.
    otpauth_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct BackupCodes {
    /// Ten single-use codes, shown once.
    backup_codes: Vec<String>,
}

/// A login's answer for a user with MFA and no inline code: the second step is the challenge.
#[derive(Serialize, ToSchema)]
pub struct MfaRequired {
    #[schema(schema_with = always_true)]
    pub mfa_required: bool,
    /// For POST /auth/mfa/challenge; lives five minutes and five wrong codes.
    pub mfa_token: String,
}

/// A login's answer when the tenant requires MFA of a user without it: they enrol first.
#[derive(Serialize, ToSchema)]
pub struct MfaSetupRequired {
    #[schema(schema_with = always_true)]
    pub mfa_setup_required: bool,
    /// For POST /auth/mfa/setup and /auth/mfa/confirm, which then finishes the sign-in.
    pub mfa_token: String,
}

/// `true`, the only value (utoipa's schema model has no `const`).
fn always_true() -> Schema {
    from_json(json!({ "type": "boolean", "enum": [true] }))
}

/// The token answer of a sign-in that MFA enrolment finished, with the new backup codes.
#[derive(Serialize, ToSchema)]
pub struct TokenResponseWithBackupCodes {
    #[serde(flatten)]
    tokens: TokenResponse,
    #[serde(flatten)]
    codes: BackupCodes,
}

impl TokenResponseWithBackupCodes {
    pub fn new(tokens: TokenResponse, backup_codes: Vec<String>) -> Self {
        Self { tokens, codes: BackupCodes { backup_codes } }
    }
}

// What `POST /auth/mfa/confirm` answers (a plain comment: a doc comment would describe the schema).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ConfirmAnswer {
    BackupCodes(BackupCodes),
    Tokens(TokenResponseWithBackupCodes),
}

// The documented bodies of the endpoints below, which all read [`MfaRequest`]: each lists the
// fields its endpoint uses. Plain comments: a doc comment would describe the schema.

// The body of `POST /auth/mfa/setup`.
#[derive(ToSchema)]
pub struct MfaSetupRequest {
    /// Without a bearer token.
    pub mfa_token: Option<String>,
}

// The fields of `POST /auth/mfa/confirm` (see `MfaConfirmBody`).
#[derive(ToSchema)]
pub struct MfaConfirmRequest {
    #[schema(schema_with = current_code)]
    pub totp_code: Option<String>,
    #[schema(schema_with = totp_alias)]
    pub otp: Option<String>,
    /// Without a bearer token.
    pub mfa_token: Option<String>,
    #[schema(schema_with = auth::optional_session_mode)]
    pub mode: Option<String>,
}

body_with_rules!(
    /// The body of `POST /auth/mfa/confirm`: [`MfaConfirmRequest`], with one TOTP code.
    MfaConfirmBody = MfaConfirmRequest,
    &[at_least_one_of(&["totp_code", "otp"]), at_most_one_of(&["totp_code", "otp"])]
);

// The fields of `POST /auth/mfa/challenge` (see `MfaChallengeBody`).
#[derive(ToSchema)]
pub struct MfaChallengeRequest {
    #[schema(required, schema_with = challenge_token)]
    pub mfa_token: Option<String>,
    #[schema(schema_with = challenge_code)]
    pub totp_code: Option<String>,
    #[schema(schema_with = totp_alias)]
    pub otp: Option<String>,
    #[schema(schema_with = challenge_backup_code)]
    pub backup_code: Option<String>,
    /// May name the user; must then be the mfa_token's user.
    pub email: Option<String>,
    #[schema(schema_with = auth::optional_session_mode)]
    pub mode: Option<String>,
}

body_with_rules!(
    /// The body of `POST /auth/mfa/challenge`: [`MfaChallengeRequest`], with one second factor.
    MfaChallengeBody = MfaChallengeRequest,
    &[
        at_least_one_of(&["totp_code", "otp", "backup_code"]),
        at_most_one_of(&["otp", "totp_code", "backup_code"])
    ]
);

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

fn optional_nonblank(description: &str) -> Schema {
    nullable(described(nonblank(), description))
}

fn current_code() -> Schema {
    optional_nonblank("The app's current code.")
}

fn totp_alias() -> Schema {
    optional_nonblank("Alias of totp_code.")
}

fn or_backup_code() -> Schema {
    optional_nonblank("Or a backup code.")
}

fn challenge_token() -> Schema {
    described(nonblank(), "From the login's MfaRequired answer.")
}

fn challenge_code() -> Schema {
    optional_nonblank("A TOTP code (or backup_code).")
}

fn challenge_backup_code() -> Schema {
    optional_nonblank("A backup code instead.")
}

/// The second factor a request presents: `otp`/`totp_code` (the same field under two names) or
/// `backup_code`, never both. Empty strings count as absent.
pub fn factor<'a>(
    fields: &mut FieldErrors,
    otp: Option<&'a str>,
    totp_code: Option<&'a str>,
    backup_code: Option<&'a str>,
) -> Option<Factor<'a>> {
    let present = |v: Option<&'a str>| v.filter(|v| !v.trim().is_empty());
    let totp = match (present(otp), present(totp_code)) {
        (Some(a), Some(b)) if a.trim() != b.trim() => {
            fields.insert("otp".into(), "otp and totp_code differ; send one".into());
            None
        }
        (a, b) => a.or(b),
    };
    match (totp, present(backup_code)) {
        (Some(_), Some(_)) => {
            fields.insert("backup_code".into(), "send either a TOTP code or a backup code".into());
            None
        }
        (Some(code), None) => Some(Factor::Totp(code)),
        (None, Some(code)) => Some(Factor::BackupCode(code)),
        (None, None) => None,
    }
}

/// `POST /auth/mfa/setup` (Bearer, or an enrolment `mfa_token`) → `{secret, qr_code,
/// otpauth_url}`: a pending authenticator, replacing any earlier pending one. 409 when MFA is
/// already on: a stolen access token must not be able to swap a working second factor.
#[utoipa::path(
    post,
    path = "/auth/mfa/setup",
    operation_id = "mfa_setup",
    tag = "mfa",
    summary = "Starts TOTP enrolment: a pending authenticator.",
    description = "With a bearer token, or the enrolment mfa_token a login answered (MfaSetupRequired). Replaces \
                   any earlier pending authenticator; 409 when MFA is already on. The body may be empty.",
    security(("bearer" = []), ()),
    params(TenantHeaders),
    request_body = Option<MfaSetupRequest>,
    responses(
        (status = 200, description = "The authenticator to add to an app.", body = SetupAnswer),
        (status = 401, description = "invalid_token"),
        (status = 403, description = "forbidden"),
        (status = 409, description = "conflict"),
    )
)]
pub async fn setup(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    context: RequestContext,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<MfaRequest>,
) -> ApiResult<Json<SetupAnswer>> {
    let body = body.unwrap_or_default();
    let user = enrolling_user(&state, &tenant, &headers, body.mfa_token.as_deref()).await?;
    let settings = settings::load(&state.store, tenant.id).await?;
    if settings.mfa_policy == "off" {
        return Err(ApiError::Forbidden("MFA is turned off for this tenant".into()));
    }
    if user.mfa_enabled {
        return Err(already_enabled());
    }
    let new = super::new_authenticator(&state, &tenant, &settings, &user).await?;
    let now = Timestamp::now();
    let mut tx = state.store.begin().await?;
    if !store::mfa::begin_totp_enrolment(&mut *tx, tenant.id, user.id, &new.sealed_secret, now).await? {
        return Err(already_enabled());
    }
    let event = AuditEvent::new(Actor::User(user.id), "mfa.setup_started", context)
        .in_tenant(tenant.id)
        .target("user", user.id);
    audit::record(&mut *tx, event).await?;
    tx.commit().await?;
    let view = new.view;
    Ok(Json(SetupAnswer { secret: view.secret_base32, qr_code: view.qr_code, otpauth_url: view.otpauth_url }))
}

/// `POST /auth/mfa/confirm {totp_code}` (Bearer, or an enrolment `mfa_token`) → `{backup_codes}`
/// (ten, shown once); with an `mfa_token`, the login it stood for goes through and the answer
/// carries the tokens too.
#[utoipa::path(
    post,
    path = "/auth/mfa/confirm",
    operation_id = "mfa_confirm",
    tag = "mfa",
    summary = "Confirms enrolment with a code; MFA is on.",
    description = "Answers ten backup codes (shown once); with an enrolment mfa_token the login it stood for goes \
                   through and the answer carries the tokens too.",
    security(("bearer" = []), ()),
    params(TenantHeaders),
    request_body = MfaConfirmBody,
    responses(
        (status = 200, description = "The backup codes, and the tokens when an mfa_token finished a sign-in.",
            body = inline(ConfirmAnswer)),
        (status = 400, description = "invalid_payload"),
        (status = 401, description = "invalid_otp, invalid_token"),
        (status = 403, description = "forbidden"),
        (status = 409, description = "conflict"),
    )
)]
pub async fn confirm(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    context: RequestContext,
    headers: HeaderMap,
    Json(body): Json<MfaRequest>,
) -> ApiResult<Response> {
    let mut fields = FieldErrors::new();
    let code = match factor(&mut fields, body.otp.as_deref(), body.totp_code.as_deref(), None) {
        Some(Factor::Totp(code)) => Some(code),
        _ => {
            fields.entry("totp_code".into()).or_insert_with(|| "is required".into());
            None
        }
    };
    let session_mode = auth::parse_mode(&mut fields, body.mode.as_deref());
    let (Some(code), true) = (code, fields.is_empty()) else { return Err(ApiError::validation(fields)) };
    let user = enrolling_user(&state, &tenant, &headers, body.mfa_token.as_deref()).await?;
    if user.mfa_enabled {
        return Err(already_enabled());
    }
    let pool = state.store.pool();
    if store::mfa::find_totp(pool, tenant.id, user.id).await?.is_none() {
        return Err(ApiError::invalid_payload("no MFA setup is pending: call /auth/mfa/setup first"));
    }
    let enrol_token = body.mfa_token.as_deref().filter(|_| !headers.contains_key(header::AUTHORIZATION));
    if let Some(token) = enrol_token {
        super::reserve_attempt(&state, tenant.id, token).await?;
    }
    let settings = settings::load(&state.store, tenant.id).await?;
    if settings.mfa_policy == "off" {
        return Err(ApiError::Forbidden("MFA is turned off for this tenant".into()));
    }
    let now = Timestamp::now();
    let Some(found) = super::totp_step(&state, tenant.id, user.id, code, false).await? else {
        let event = AuditEvent::new(Actor::User(user.id), "mfa.failed", context)
            .in_tenant(tenant.id)
            .target("user", user.id)
            .outcome("failure")
            .details(serde_json::json!({ "factor": "totp", "reason": "wrong_code", "stage": "confirm" }));
        audit::record(pool, event).await?;
        return Err(ApiError::InvalidOtp);
    };
    let mut tx = state.store.begin().await?;
    let enabled = super::enable_authenticator(&state, &mut tx, tenant.id, user.id, &found, context.clone()).await?;
    let Some(codes) = enabled else { return Err(ApiError::InvalidOtp) };
    let Some(token) = enrol_token else {
        tx.commit().await?;
        return Ok(Json(BackupCodes { backup_codes: codes }).into_response());
    };
    let digest = super::challenge_digest(token);
    if !store::mfa::consume_challenge(&mut *tx, tenant.id, &digest, now).await? {
        return Err(ApiError::InvalidToken);
    }
    let issued = auth::open_session(&state, &mut tx, &settings, &user, AMR_WITH_SECOND_FACTOR, context).await?;
    tx.commit().await?;
    Ok(auth::token_answer(&state, issued, session_mode, Some(codes)))
}

/// `POST /auth/mfa/challenge {mfa_token, totp_code | backup_code}` → the token answer of the
/// login that answered `mfa_required`. A wrong code leaves the token usable (it dies after five);
/// the first right one consumes it.
#[utoipa::path(
    post,
    path = "/auth/mfa/challenge",
    operation_id = "mfa_challenge",
    tag = "mfa",
    summary = "The second step of a login that answered MfaRequired.",
    description = "A wrong code leaves the mfa_token usable (it dies after five); the first right one consumes it.",
    params(TenantHeaders),
    request_body = MfaChallengeBody,
    responses(
        (status = 200, description = "Signed in.", body = TokenResponse,
            headers(("Set-Cookie" = String, description = "Session mode: the ovlt_refresh cookie."))),
        (status = 401, description = "invalid_token, invalid_otp"),
    )
)]
pub async fn challenge(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    context: RequestContext,
    Json(body): Json<MfaRequest>,
) -> ApiResult<Response> {
    let mut fields = FieldErrors::new();
    let factor = required_factor(&mut fields, &body, true);
    let token = auth::required(&mut fields, "mfa_token", body.mfa_token.as_deref());
    let session_mode = auth::parse_mode(&mut fields, body.mode.as_deref());
    let (Some(token), Some(factor), true) = (token, factor, fields.is_empty()) else {
        return Err(ApiError::validation(fields));
    };
    let user = super::challenge_user(&state, &tenant, token, PURPOSE_VERIFY).await?;
    let named_other =
        body.email.as_deref().is_some_and(|e| users::normalize_email(e) != users::normalize_email(&user.email));
    if named_other || !user.mfa_enabled {
        return Err(ApiError::InvalidToken);
    }
    let settings = settings::load(&state.store, tenant.id).await?;
    super::reserve_attempt(&state, tenant.id, token).await?;
    super::verify(&state, &tenant, &settings, &user, factor, &context).await?;
    let digest = super::challenge_digest(token);
    let mut tx = state.store.begin().await?;
    if !store::mfa::consume_challenge(&mut *tx, tenant.id, &digest, Timestamp::now()).await? {
        return Err(ApiError::InvalidToken);
    }
    let issued = auth::open_session(&state, &mut tx, &settings, &user, AMR_WITH_SECOND_FACTOR, context).await?;
    tx.commit().await?;
    Ok(auth::token_answer(&state, issued, session_mode, None))
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
    super::verify(&state, tenant, &settings, &user, factor, &context).await?;
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
    super::verify(&state, tenant, &settings, &user, factor, &context).await?;
    let (codes, digests) = super::new_backup_codes(&state, tenant.id, user.id);
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

/// Who is enrolling: the bearer's user, or the user of an enrolment `mfa_token`.
async fn enrolling_user(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    mfa_token: Option<&str>,
) -> ApiResult<User> {
    if headers.contains_key(header::AUTHORIZATION) {
        let current = bearer::authenticate(state, tenant, headers).await?;
        return current_user_row(state, &current).await;
    }
    match mfa_token.filter(|t| !t.is_empty()) {
        Some(token) => super::challenge_user(state, tenant, token, PURPOSE_ENROL).await,
        None => Err(ApiError::InvalidToken),
    }
}

async fn current_user_row(state: &AppState, current: &bearer::CurrentUser) -> ApiResult<User> {
    store::users::find_user_by_id(state.store.pool(), current.tenant.id, current.user_id)
        .await?
        .ok_or(ApiError::InvalidToken)
}

/// A TOTP code, or (when `backup_allowed`) a backup code; "is required" otherwise.
fn required_factor<'a>(fields: &mut FieldErrors, body: &'a MfaRequest, backup_allowed: bool) -> Option<Factor<'a>> {
    let backup = if backup_allowed { body.backup_code.as_deref() } else { None };
    let factor = factor(fields, body.otp.as_deref(), body.totp_code.as_deref(), backup);
    if factor.is_none() && fields.is_empty() {
        fields.insert("totp_code".into(), "is required".into());
    }
    factor
}

fn already_enabled() -> ApiError {
    ApiError::Conflict("MFA is already enabled; disable it before setting up a new authenticator".into())
}
