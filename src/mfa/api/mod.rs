//! `/auth/mfa/*` (seed "Auth" + DESIGN §4) and the admin reset `DELETE /users/{id}/mfa`.
//!
//! Enrolment is two steps: `setup` makes a pending authenticator, `confirm` proves the user's app
//! has it and turns MFA on. Both take a Bearer token, or — when the tenant requires MFA of a user
//! who has none — the `mfa_token` their login answered, and `confirm` then finishes that login.
//!
//! The handlers: enrolment in `enrol.rs`, the second step of a sign-in in `challenge.rs`, and
//! turning MFA off, new backup codes and the admin reset in `manage.rs`. Here: what they share.

mod challenge;
mod enrol;
mod manage;

pub use challenge::{__path_challenge, MfaChallengeBody, MfaChallengeRequest, challenge};
pub use enrol::{
    __path_confirm, __path_setup, ConfirmAnswer, MfaConfirmBody, MfaConfirmRequest, MfaSetupRequest, SetupAnswer,
    confirm, setup,
};
pub use manage::{
    __path_disable, __path_regenerate_backup_codes, __path_reset_user_mfa, MfaDisableBody, MfaDisableRequest,
    MfaTotpBody, MfaTotpRequest, disable, regenerate_backup_codes, reset_user_mfa,
};

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::Schema;

use super::Factor;
use crate::app::AppState;
use crate::auth::{bearer, described};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::openapi::schema::{from_json, nonblank, nullable};
use crate::store;
use crate::tokens::TokenResponse;
use crate::users::User;

// What every endpoint here reads; the documented bodies beside the handlers (`MfaSetupRequest`
// …) each list the fields their endpoint uses.
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
pub struct BackupCodes {
    /// Ten single-use codes, shown once.
    backup_codes: Vec<String>,
}

/// The second step a sign-in through the API still needs, as its answer (`mfa_required` or
/// `mfa_setup_required`), or the `amr` to open the session with when it needs none.
#[allow(clippy::result_large_err, reason = "the answer itself, built once per request")]
pub fn second_step(next: super::NextStep) -> Result<&'static str, axum::response::Response> {
    use axum::response::IntoResponse;
    match next {
        super::NextStep::SignedIn { amr } => Ok(amr),
        super::NextStep::Challenge { mfa_token } => {
            Err(crate::http::extract::Json(MfaRequired { mfa_required: true, mfa_token }).into_response())
        }
        super::NextStep::Enrol { mfa_token } => {
            Err(crate::http::extract::Json(MfaSetupRequired { mfa_setup_required: true, mfa_token }).into_response())
        }
    }
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

fn optional_nonblank(description: &str) -> Schema {
    nullable(described(nonblank(), description))
}

fn current_code() -> Schema {
    optional_nonblank("The app's current code.")
}

fn totp_alias() -> Schema {
    optional_nonblank("Alias of totp_code.")
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
