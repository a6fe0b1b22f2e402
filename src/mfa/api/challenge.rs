//! The second step of a sign-in: `POST /auth/mfa/challenge`.

use axum::extract::State;
use axum::response::Response;
use utoipa::ToSchema;
use utoipa::openapi::Schema;

use super::{MfaRequest, optional_nonblank, required_factor, totp_alias};
use crate::app::AppState;
use crate::audit::RequestContext;
use crate::auth::{self, at_least_one_of, at_most_one_of, body_with_rules, described};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::Json;
use crate::mfa::{self, PURPOSE_VERIFY};
use crate::openapi::schema::nonblank;
use crate::settings;
use crate::store;
use crate::tenants::{CurrentTenant, TenantHeaders};
use crate::tokens::TokenResponse;
use crate::types::Timestamp;
use crate::users;

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

fn challenge_token() -> Schema {
    described(nonblank(), "From the login's MfaRequired answer.")
}

fn challenge_code() -> Schema {
    optional_nonblank("A TOTP code (or backup_code).")
}

fn challenge_backup_code() -> Schema {
    optional_nonblank("A backup code instead.")
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
    let mfa::Challenged { user, amr } = mfa::challenge_user(&state, &tenant, token, PURPOSE_VERIFY).await?;
    let named_other =
        body.email.as_deref().is_some_and(|e| users::normalize_email(e) != users::normalize_email(&user.email));
    if named_other || !user.mfa_enabled {
        return Err(ApiError::InvalidToken);
    }
    let settings = settings::load(&state.store, tenant.id).await?;
    mfa::reserve_attempt(&state, tenant.id, token).await?;
    mfa::verify(&state, &tenant, &settings, &user, factor, &context).await?;
    let digest = mfa::challenge_digest(token);
    let mut tx = state.store.begin().await?;
    if !store::mfa::consume_challenge(&mut *tx, tenant.id, &digest, Timestamp::now()).await? {
        return Err(ApiError::InvalidToken);
    }
    let issued = auth::open_session(&state, &mut tx, &settings, &user, amr, context).await?;
    tx.commit().await?;
    metrics::counter!("ovlt_tokens_issued_total", "grant" => "password").increment(1);
    Ok(auth::token_answer(&state, issued, session_mode, None))
}
