//! `POST /auth/exchange`: an application's backend trades the one-time code its link came back
//! with for `/auth/login`'s answer (tokens never ride in a URL).

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::audit::RequestContext;
use crate::auth::api::session::LoginAnswer;
use crate::auth::{open_session, token_answer};
use crate::crypto::{self};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::Json;
use crate::mfa;
use crate::settings::{self};
use crate::store::{self};
use crate::tenants::{CurrentTenant, TenantHeaders};
use crate::types::Timestamp;

use super::sign_in::{AMR_FEDERATED, AMR_FEDERATED_MFA, Factors};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// The one-time code `redirect_to` was sent back with.
    #[schema(min_length = 1, max_length = 100)]
    code: Option<String>,
    /// The PKCE verifier, when the link sent a `code_challenge`.
    #[schema(min_length = 43, max_length = 128)]
    code_verifier: Option<String>,
}

/// The `amr` a code was stored with, as what it proves (an unknown one proves one factor).
fn known_amr(amr: &str) -> Factors {
    match amr {
        AMR_FEDERATED_MFA => Factors::Complete(AMR_FEDERATED_MFA),
        mfa::AMR_WITH_SECOND_FACTOR => Factors::Complete(mfa::AMR_WITH_SECOND_FACTOR),
        "pwd" => Factors::First("pwd"),
        _ => Factors::First(AMR_FEDERATED),
    }
}

/// `POST /auth/exchange`: the one-time code from an identity provider's sign-in, for the tokens.
#[utoipa::path(
    post,
    path = "/auth/exchange",
    operation_id = "federation_exchange",
    tag = "auth",
    summary = "Trades the code from a sign-in through an identity provider for tokens.",
    description = "The code is the one the callback sent the browser back to redirect_to with: single use, 60 \
                   seconds, this tenant's. The answer is /auth/login's: the tokens, or the second step a user with \
                   MFA (or a tenant requiring it) needs.",
    params(TenantHeaders),
    request_body = ExchangeRequest,
    responses(
        (status = 200, description = "Signed in, or the second step needed.", body = inline(LoginAnswer)),
        (status = 400, description = "invalid_request: the code is unknown, spent, expired or another tenant's"),
        (status = 403, description = "user_suspended"),
    )
)]
pub async fn exchange(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    context: RequestContext,
    Json(body): Json<ExchangeRequest>,
) -> ApiResult<Response> {
    let refused = ApiError::InvalidRequest("the code is unknown, spent or expired");
    let Some(code) = body.code.filter(|c| !c.is_empty() && c.len() <= 100) else { return Err(refused) };
    let pool = state.store.pool();
    let Some(spent) =
        store::federation::consume_code(pool, tenant.id, &crypto::sha256_hex(&code), Timestamp::now()).await?
    else {
        return Err(refused);
    };
    // A code of a flow bound to a PKCE challenge is good only with its verifier.
    if let Some(challenge) = &spent.code_challenge {
        let verifier = body.code_verifier.as_deref().unwrap_or_default();
        if !crate::oauth::token::pkce_matches(verifier, challenge) {
            return Err(ApiError::InvalidRequest("the code_verifier does not match the code_challenge"));
        }
    }
    let amr = spent.amr;
    let user = store::users::find_user_by_id(pool, tenant.id, spent.user_id).await?.ok_or(refused)?;
    if user.status == crate::users::UserStatus::Suspended {
        return Err(ApiError::UserSuspended);
    }
    let settings = settings::load(&state.store, tenant.id).await?;
    let amr = match known_amr(&amr) {
        Factors::Complete(amr) => amr,
        Factors::First(first) => {
            let next = mfa::after_password(&state, &tenant, &settings, &user, first, None, None, &context).await?;
            match mfa::api::second_step(next) {
                Ok(amr) => amr,
                Err(answer) => return Ok(answer),
            }
        }
    };
    let mut tx = state.store.begin().await?;
    let issued = open_session(&state, &mut tx, &settings, &user, amr, context).await?;
    tx.commit().await?;
    metrics::counter!("ovlt_tokens_issued_total", "grant" => "federation").increment(1);
    Ok(token_answer(&state, issued, false, None))
}
