//! Enrolment: `POST /auth/mfa/setup` and `POST /auth/mfa/confirm`.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    BackupCodes, MfaRequest, TokenResponseWithBackupCodes, already_enabled, current_code, current_user_row, factor,
    totp_alias,
};
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext};
use crate::auth::{self, at_least_one_of, at_most_one_of, bearer, body_with_rules};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::{Json, OptionalJson};
use crate::mfa::{self, AMR_WITH_SECOND_FACTOR, Factor, PURPOSE_ENROL};
use crate::settings;
use crate::store;
use crate::tenants::{CurrentTenant, Tenant, TenantHeaders};
use crate::types::Timestamp;
use crate::users::User;

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

// What `POST /auth/mfa/confirm` answers (a plain comment: a doc comment would describe the schema).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ConfirmAnswer {
    BackupCodes(BackupCodes),
    Tokens(TokenResponseWithBackupCodes),
}

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
    let (user, _) = enrolling_user(&state, &tenant, &headers, body.mfa_token.as_deref()).await?;
    let settings = settings::load(&state.store, tenant.id).await?;
    if settings.mfa_policy == "off" {
        return Err(ApiError::Forbidden("MFA is turned off for this tenant".into()));
    }
    if user.mfa_enabled {
        return Err(already_enabled());
    }
    let new = mfa::new_authenticator(&state, &tenant, &settings, &user).await?;
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
    let (user, amr) = enrolling_user(&state, &tenant, &headers, body.mfa_token.as_deref()).await?;
    if user.mfa_enabled {
        return Err(already_enabled());
    }
    let pool = state.store.pool();
    if store::mfa::find_totp(pool, tenant.id, user.id).await?.is_none() {
        return Err(ApiError::invalid_payload("no MFA setup is pending: call /auth/mfa/setup first"));
    }
    let enrol_token = body.mfa_token.as_deref().filter(|_| !headers.contains_key(header::AUTHORIZATION));
    if let Some(token) = enrol_token {
        mfa::reserve_attempt(&state, tenant.id, token).await?;
    }
    let settings = settings::load(&state.store, tenant.id).await?;
    if settings.mfa_policy == "off" {
        return Err(ApiError::Forbidden("MFA is turned off for this tenant".into()));
    }
    let now = Timestamp::now();
    let Some(found) = mfa::totp_step(&state, tenant.id, user.id, code, false).await? else {
        let event = AuditEvent::new(Actor::User(user.id), "mfa.failed", context)
            .in_tenant(tenant.id)
            .target("user", user.id)
            .outcome("failure")
            .details(serde_json::json!({ "factor": "totp", "reason": "wrong_code", "stage": "confirm" }));
        audit::record(pool, event).await?;
        return Err(ApiError::InvalidOtp);
    };
    let mut tx = state.store.begin().await?;
    let enabled = mfa::enable_authenticator(&state, &mut tx, tenant.id, user.id, &found, context.clone()).await?;
    let Some(codes) = enabled else { return Err(ApiError::InvalidOtp) };
    let Some(token) = enrol_token else {
        tx.commit().await?;
        return Ok(Json(BackupCodes { backup_codes: codes }).into_response());
    };
    let digest = mfa::challenge_digest(token);
    if !store::mfa::consume_challenge(&mut *tx, tenant.id, &digest, now).await? {
        return Err(ApiError::InvalidToken);
    }
    let issued = auth::open_session(&state, &mut tx, &settings, &user, amr, context).await?;
    tx.commit().await?;
    metrics::counter!("ovlt_tokens_issued_total", "grant" => "password").increment(1);
    Ok(auth::token_answer(&state, issued, session_mode, Some(codes)))
}

/// Who is enrolling: the bearer's user, or the user of an enrolment `mfa_token` — with the
/// `amr` a sign-in finished by this enrolment has.
async fn enrolling_user(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    mfa_token: Option<&str>,
) -> ApiResult<(User, &'static str)> {
    if headers.contains_key(header::AUTHORIZATION) {
        let current = bearer::authenticate(state, tenant, headers).await?;
        return Ok((current_user_row(state, &current).await?, AMR_WITH_SECOND_FACTOR));
    }
    match mfa_token.filter(|t| !t.is_empty()) {
        Some(token) => {
            let challenged = mfa::challenge_user(state, tenant, token, PURPOSE_ENROL).await?;
            Ok((challenged.user, challenged.amr))
        }
        None => Err(ApiError::InvalidToken),
    }
}
